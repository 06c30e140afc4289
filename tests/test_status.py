"""The file "status" at the root of the mount: the version, the shm mode
and why, parked requests, and per kind the objects and the requests
served and refused, checked against what the test itself does."""
import errno
import os
import re
import subprocess
import threading
import time

from ipcfs_test import IPCFS, Mount, expect_errno, run, watched_mount


def status(m):
    with open(os.path.join(m.path, "status")) as f:
        return f.read()


def table(m):
    """{kind: (objects, served, refused)} from the status file."""
    return {kind: (objects, served, refused)
            for kind, (objects, held, served, refused) in full_table(m).items()}


def full_table(m):
    """{kind: (objects, held, served, refused)} from the status file."""
    rows = {}
    for line in status(m).splitlines():
        fields = line.split()
        if len(fields) == 5 and fields[3].isdigit():
            rows[fields[0]] = (fields[1], fields[2], int(fields[3]), int(fields[4]))
    return rows


def parked(m):
    return int(re.search(r"^parked requests: (\d+)$", status(m), re.M).group(1))


def wait_for(fn, want, seconds=5):
    deadline = time.time() + seconds
    while fn() != want and time.time() < deadline:
        time.sleep(0.05)
    return fn()


def test_lists_version_and_mode():
    version = subprocess.run([IPCFS, "--version"], capture_output=True, text=True).stdout
    number = re.search(r"\d+\.\d+\.\d+", version).group(0)
    with Mount() as m:
        lines = status(m).splitlines()
        assert lines[0] == "ipcfs " + number, lines[0]
        # which one, tests/test_transport.py checks
        assert lines[1].startswith("transport: io_uring, ") or lines[1].startswith(
            "transport: /dev/fuse ("), lines[1]
        assert lines[2] == "passthrough: on (the kernel takes the daemon's backing files)", lines[2]
        assert "status" in os.listdir(m.path)
        assert list(table(m)) == ["mq", "shm", "sem", "sysv/msg", "sysv/sem", "sysv/shm", "other"]
    with Mount("allow_other,no_passthrough") as m:
        assert status(m).splitlines()[2] == "passthrough: off (-o no_passthrough)"


def test_is_read_only():
    with Mount() as m:
        path = os.path.join(m.path, "status")
        st = os.stat(path)
        assert (oct(st.st_mode), st.st_uid, st.st_size) == ("0o100444", 0, 0)
        expect_errno(errno.EACCES, os.open, path, os.O_WRONLY)
        expect_errno(errno.EACCES, os.open, path, os.O_RDWR)
        expect_errno(errno.EPERM, os.unlink, path)
        expect_errno(errno.EPERM, os.chmod, path, 0o666)
        expect_errno(errno.EPERM, os.rename, path, path + "2")
        assert status(m).startswith("ipcfs ")  # still there


def test_counts_objects():
    with Mount() as m:
        before = table(m)
        for suffix in ("a", "b"):
            os.close(os.open(m.queue(suffix), os.O_CREAT | os.O_RDWR, 0o600))
        os.close(os.open(m.segment("c"), os.O_CREAT | os.O_RDWR, 0o600))
        after = table(m)
        assert int(after["mq"][0]) == int(before["mq"][0]) + 2, (before, after)
        assert int(after["shm"][0]) == int(before["shm"][0]) + 1, (before, after)


def test_counts_refused_and_served_requests():
    with Mount() as m:
        before = table(m)
        for i in range(5):
            expect_errno(errno.ENOENT, os.stat, m.queue("missing%d" % i))
        after = table(m)
        assert after["mq"][2] - before["mq"][2] == 5, (before, after)
        assert after["mq"][1] == before["mq"][1], (before, after)
        assert after["shm"] == before["shm"], (before, after)
        fd = os.open(m.segment("s"), os.O_CREAT | os.O_RDWR, 0o600)
        os.close(fd)
        later = table(m)
        # The kernel looks the name up first (refused: not there yet), then
        # creates it and releases it (served).
        assert later["shm"][1] - after["shm"][1] >= 2, (after, later)
        assert later["shm"][2] - after["shm"][2] == 1, (after, later)


def test_counts_parked_requests():
    with watched_mount() as m:
        path = m.queue("wait")
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        assert parked(m) == 0
        readers = [subprocess.Popen(["dd", "if=" + path, "bs=8192", "count=1", "status=none"],
                                    stdout=subprocess.PIPE) for _ in range(3)]
        try:
            assert wait_for(lambda: parked(m), 3) == 3
            with open(path, "wb", buffering=0) as f:
                f.write(b"one")
            assert wait_for(lambda: parked(m), 2) == 2
        finally:
            for r in readers:
                r.kill()
                r.wait()
        assert wait_for(lambda: parked(m), 0) == 0


run(globals())
