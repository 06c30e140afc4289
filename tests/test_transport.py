"""How requests reach the daemon: FUSE over io_uring, or /dev/fuse.

- status and the log name the transport, and why it fell back: the
  kernel's switch off, or -o no_io_uring.
- Over io_uring, requests are served on every CPU at once: readers and
  writers pinned to different CPUs pass messages through one queue and
  through queues of their own, each message exactly once, and a write on
  one CPU answers a read parked on the other.
- scripts/mount.sh turns the switch on, says so, and its mount is then
  served over io_uring.
- The ring's limit: with io_uring_q_depth=16, more readers than a queue
  may hold wait on each CPU in turn, while a stat from that same CPU is
  answered; the oldest waits are answered EINTR (which Python retries),
  status counts them, and when the messages come every reader gets
  exactly one.

The kernel's switch (/sys/module/fuse/parameters/enable_uring) is set
for each case and put back: this test runs alone (tests/meson.build)."""
import os
import threading
import time

from ipcfs_test import KernelSetting, Mount, expect_errno, run, wait_until

ENABLE_URING = "/sys/module/fuse/parameters/enable_uring"
CPUS = sorted(os.sched_getaffinity(0))


def UringSwitch(on):
    """The kernel's switch set for what is mounted inside, put back after."""
    return KernelSetting(ENABLE_URING, "Y" if on else "N")


def status(m):
    with open(os.path.join(m.path, "status")) as f:
        return f.read()


def status_value(m, label):
    for line in status(m).splitlines():
        if line.startswith(label + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("status has no line " + label)


def make(path):
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))


def on_cpu(cpu, fn, *args):
    """fn(*args) on a thread pinned to cpu; returns the thread and a box
    for its result (or exception)."""
    box = {}

    def body():
        os.sched_setaffinity(0, {cpu})
        try:
            box["result"] = fn(*args)
        except Exception as e:  # reported by the caller
            box["error"] = e

    t = threading.Thread(target=body, daemon=True)
    t.start()
    return t, box


def read_one(path, size=64):
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, size)
    finally:
        os.close(fd)


def test_status_names_io_uring_and_its_queues():
    with UringSwitch(True), Mount() as m:
        assert status_value(m, "transport") == (
            "io_uring, %d queues of depth 2048 (at most 1792 waiting requests each)"
            % os.sysconf("SC_NPROCESSORS_CONF")), status(m)
        m.log.seek(0)
        log = m.log.read().decode()
        assert "transport: io_uring, %d queues of depth 2048" % os.sysconf(
            "SC_NPROCESSORS_CONF") in log, log


def test_falls_back_to_dev_fuse_when_the_switch_is_off():
    with UringSwitch(False), Mount() as m:
        assert status_value(m, "transport") == "/dev/fuse (enable_uring is off)", status(m)
        m.log.seek(0)
        assert "transport: /dev/fuse (enable_uring is off)" in m.log.read().decode()


def test_no_io_uring_forces_dev_fuse():
    with UringSwitch(True), Mount("allow_other,no_io_uring") as m:
        assert status_value(m, "transport") == "/dev/fuse (-o no_io_uring)", status(m)
        # and it still serves
        q = m.queue("plain")
        make(q)
        with open(q, "wb", buffering=0) as w:
            w.write(b"over the device")
        assert read_one(q) == b"over the device"


def test_mount_script_turns_io_uring_on():
    import subprocess
    import tempfile
    script = os.path.join(os.environ["TESTS_DIR"], "..", "scripts", "mount.sh")
    with UringSwitch(False), tempfile.TemporaryDirectory(prefix="ipcfs-mountsh.") as mnt:
        r = subprocess.run(["sh", script, mnt], capture_output=True, text=True)
        try:
            assert r.returncode == 0, r
            said = r.stdout.splitlines()[:2]
            assert said == ["turned FUSE over io_uring on: echo 1 > " + ENABLE_URING,
                            "ipcfs is mounted at " + mnt], r.stdout
            with open(ENABLE_URING) as f:
                assert f.read() == "Y\n"
            with open(os.path.join(mnt, "status")) as f:
                assert "\ntransport: io_uring, " in f.read()
        finally:
            mounted = any(line.split()[1] == mnt for line in open("/proc/mounts"))
            if mounted:
                subprocess.run(["umount", mnt], check=True)
                # the daemon exits on umount; the directory goes after it
                wait_until(lambda: subprocess.run(["pgrep", "-f", "ipcfs .*" + mnt],
                                                  capture_output=True).returncode == 1,
                           "the daemon of " + mnt + " to exit")
        assert r.stdout.count("FUSE over io_uring") == 1, r.stdout


def test_bad_queue_depth_is_refused():
    import subprocess
    from ipcfs_test import IPCFS
    r = subprocess.run([IPCFS, "-f", "/nonexistent", "-o", "io_uring_q_depth=2"],
                       capture_output=True, text=True)
    assert r.returncode == 1, r
    assert r.stderr == "ipcfs: bad value in option 'io_uring_q_depth=2'\n", r.stderr


def test_messages_cross_cpus_each_exactly_once():
    """Every CPU writes to every other CPU's queue while reading its own:
    answers cross ring queues both ways at once."""
    per_pair = 300
    with UringSwitch(True), Mount() as m:
        queues = {c: m.queue("cpu%d" % c) for c in CPUS}
        for q in queues.values():
            make(q)

        def reader(q, n):
            fd = os.open(q, os.O_RDONLY)
            got = []
            try:
                for _ in range(n):
                    got.append(os.read(fd, 64))
            finally:
                os.close(fd)
            return got

        def writer(src, dst_queue):
            fd = os.open(dst_queue, os.O_WRONLY)
            try:
                for i in range(per_pair):
                    os.write(fd, b"%d:%d" % (src, i))
            finally:
                os.close(fd)

        senders = len(CPUS)
        readers = [on_cpu(c, reader, queues[c], per_pair * senders) for c in CPUS]
        time.sleep(0.2)  # readers parked first
        writers = [on_cpu(src, writer, src, queues[dst]) for src in CPUS for dst in CPUS]
        for t, box in writers + readers:
            t.join(60)
            assert not t.is_alive(), "a reader or writer is stuck"
            assert "error" not in box, box["error"]
        for c, (t, box) in zip(CPUS, readers):
            got = box["result"]
            for src in CPUS:
                mine = [g for g in got if g.startswith(b"%d:" % src)]
                # one writer's messages arrive whole, once each, in order
                assert mine == [b"%d:%d" % (src, i) for i in range(per_pair)], (c, src, mine[:5])
        assert status_value(m, "parked requests") == "0"


def test_waiters_beyond_the_ring_limit_leave_each_cpu_answering():
    depth, limit = 16, 14  # 16 - max(16 / 8, 2)
    readers_per_cpu = limit + 6
    with UringSwitch(True), Mount("allow_other,io_uring_q_depth=%d" % depth) as m:
        assert status_value(m, "transport").endswith(
            "of depth %d (at most %d waiting requests each)" % (depth, limit)), status(m)
        q = m.queue("crowded")
        make(q)
        for cpu in CPUS:
            readers = [on_cpu(cpu, read_one, q) for _ in range(readers_per_cpu)]
            wait_until(lambda: int(status_value(m, "waits ended to make room in a ring queue")) > 0,
                       "waits on CPU %d to pass the limit" % cpu)
            stat_thread, stat_box = on_cpu(cpu, os.stat, q)
            stat_thread.join(10)
            assert not stat_thread.is_alive(), "a stat on CPU %d was not answered" % cpu
            assert "error" not in stat_box, stat_box["error"]
            # every reader gets one message, and none is lost or doubled
            with open(q, "wb", buffering=0) as w:
                for i in range(readers_per_cpu):
                    w.write(b"m%d" % i)
            got = []
            for t, box in readers:
                t.join(20)
                assert not t.is_alive(), "a reader on CPU %d still waits" % cpu
                assert "error" not in box, box["error"]
                got.append(box["result"])
            assert sorted(got) == sorted(b"m%d" % i for i in range(readers_per_cpu)), got
            fd = os.open(q, os.O_RDONLY | os.O_NONBLOCK)
            try:
                expect_errno(11, os.read, fd, 64)  # EAGAIN: nothing left over
            finally:
                os.close(fd)
        assert status_value(m, "parked requests") == "0"


run(globals())
