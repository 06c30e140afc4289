"""Where the administrator sets a FUSE request timeout, the kernel aborts
the whole connection when any request goes unanswered that long, parked
reads included. The daemon reads the limit at start and answers a waiting
read or write EINTR before it (README: "FUSE request timeouts")."""
import errno
import os
import subprocess
import time

from ipcfs_test import Mount, SysV, run, watched_mount

SYSCTL = "/proc/sys/fs/fuse/default_request_timeout"
MAX_SYSCTL = "/proc/sys/fs/fuse/max_request_timeout"


def read_sysctl(path):
    with open(path) as f:
        return f.read().strip()


def write_sysctl(path, value):
    with open(path, "w") as f:
        f.write(str(value))


class request_timeout:
    """The kernel's default FUSE request timeout set for new mounts, put
    back on leaving."""

    def __init__(self, seconds):
        self.seconds = seconds

    def __enter__(self):
        self.saved = read_sysctl(SYSCTL)
        write_sysctl(SYSCTL, self.seconds)

    def __exit__(self, *exc):
        write_sysctl(SYSCTL, self.saved)
        return False


def timed_libc_read(path, size=8192):
    """(outcome, seconds) of one read(2) in a child, as a program that does
    not retry on EINTR sees it: the bytes, or the errno's name."""
    code = ("import ctypes, errno, os, sys, time\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
            "buf = ctypes.create_string_buffer(%d)\n"
            "start = time.time()\n"
            "n = libc.read(fd, buf, %d)\n"
            "took = time.time() - start\n"
            "out = buf.raw[:n].decode() if n >= 0 else errno.errorcode[ctypes.get_errno()]\n"
            "print(out, took)\n" % (size, size))
    r = subprocess.run(["/usr/bin/python3", "-c", code, path], capture_output=True, text=True,
                       timeout=30)
    outcome, took = r.stdout.split()
    return outcome, float(took)


def test_waiting_read_answered_before_the_timeout():
    if not os.path.exists(SYSCTL):
        print("# SKIP: this kernel has no FUSE request timeouts")
        return
    assert read_sysctl(MAX_SYSCTL) == "0", "a max_request_timeout is set here"
    with request_timeout(2), watched_mount(seconds=60) as m:
        path = m.queue("q")
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        outcome, took = timed_libc_read(path)
        assert outcome == "EINTR", outcome
        assert 1.2 < took < 2.0, took  # 80% of the kernel's 2 s
        # Tools that retry on EINTR (coreutils, Python's os.read) just
        # keep waiting, well past the kernel's limit, on a live mount.
        reader = subprocess.Popen(["dd", "if=" + path, "bs=8192", "count=1", "status=none"],
                                  stdout=subprocess.PIPE)
        try:
            time.sleep(5)
            assert reader.poll() is None and m.alive() and m.mounted()
            with open(path, "wb", buffering=0) as f:
                f.write(b"after")
            assert reader.communicate(timeout=5)[0] == b"after"
        finally:
            if reader.poll() is None:
                reader.kill()
                reader.wait()


def test_sysv_wait_answered_before_the_timeout():
    """The same for a wait carried by a pool thread (System V), which
    takes nothing when it is answered so."""
    if not os.path.exists(SYSCTL):
        print("# SKIP: this kernel has no FUSE request timeouts")
        return
    with request_timeout(2), watched_mount(seconds=60) as m:
        path = m.sysv("msg", 1)
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        outcome, took = timed_libc_read(path)
        assert outcome == "EINTR", outcome
        assert 1.2 < took < 2.0, took
        ident = SysV.msgget(m.key(1))
        SysV.msgsnd(ident, b"kept")
        assert SysV.msgrcv(ident, flags=SysV.IPC_NOWAIT) == (1, b"kept")


def test_no_timeout_no_limit():
    """With no timeout set, a read waits as long as it must."""
    if not os.path.exists(SYSCTL) or read_sysctl(SYSCTL) != "0":
        return
    with watched_mount(seconds=60) as m:
        path = m.queue("q")
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        reader = subprocess.Popen(["dd", "if=" + path, "bs=8192", "count=1", "status=none"],
                                  stdout=subprocess.PIPE)
        try:
            time.sleep(2.5)
            assert reader.poll() is None  # still waiting
            with open(path, "wb", buffering=0) as f:
                f.write(b"late")
            assert reader.communicate(timeout=5)[0] == b"late"
        finally:
            if reader.poll() is None:
                reader.kill()
                reader.wait()


run(globals())
