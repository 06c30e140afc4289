"""sysv/msg/: System V message queues through the mount, checked against
the queues themselves: msgget, msgsnd, msgrcv and msgctl through ctypes,
and /proc/sysvipc/msg.

Every queue has a key of this run (m.key(n)), which the mount's cleanup
removes; an IPC_PRIVATE queue a case makes is removed by the case. A
read or write that must wait runs in a thread or a child process of its
own, so a case that hangs fails alone (watched_mount kills the daemon
then), and every child is killed before its mount is taken down."""
import contextlib
import ctypes
import errno
import mmap
import os
import resource
import select
import signal
import subprocess
import sys
import threading
import time

from ipcfs_test import (KIND_XATTRS, Mount, as_user, SysV, errno_name, expect_errno, run,
                        wait_until, watched_mount, within)

NOBODY = 65534
SETTLE = 0.3         # seconds for the daemon to act on a message, if it would
ANSWER_WITHIN = 1.0  # seconds an unrelated request may take while others wait
WAIT_LIMIT = 10.0    # seconds to wait for something that must happen
IPC_SET = 1
SYSCALL_NUMBERS = {
    "x86_64": {"read": 0, "write": 1},
    "aarch64": {"read": 63, "write": 64},
}[os.uname().machine]


def sysctl(name):
    with open("/proc/sys/kernel/" + name) as f:
        return int(f.read())


MSGMAX = sysctl("msgmax")
MSGMNB = sysctl("msgmnb")


# The queue itself ---------------------------------------------------------------

class IpcPerm(ctypes.Structure):
    _fields_ = [("key", ctypes.c_int), ("uid", ctypes.c_uint), ("gid", ctypes.c_uint),
                ("cuid", ctypes.c_uint), ("cgid", ctypes.c_uint), ("mode", ctypes.c_ushort),
                ("pad1", ctypes.c_ushort), ("seq", ctypes.c_ushort), ("pad2", ctypes.c_ushort),
                ("reserved1", ctypes.c_ulong), ("reserved2", ctypes.c_ulong)]


class MsqidDs(ctypes.Structure):
    """struct msqid_ds of glibc on a 64-bit Linux."""
    _fields_ = [("perm", IpcPerm), ("stime", ctypes.c_long), ("rtime", ctypes.c_long),
                ("ctime", ctypes.c_long), ("cbytes", ctypes.c_ulong), ("qnum", ctypes.c_ulong),
                ("qbytes", ctypes.c_ulong), ("lspid", ctypes.c_int), ("lrpid", ctypes.c_int),
                ("reserved4", ctypes.c_ulong), ("reserved5", ctypes.c_ulong)]


def queue_ds(ident):
    ds = MsqidDs()
    SysV._check(SysV.libc.msgctl(ident, SysV.IPC_STAT, ctypes.byref(ds)))
    return ds


def set_qbytes(ident, qbytes):
    ds = queue_ds(ident)
    ds.qbytes = qbytes
    SysV._check(SysV.libc.msgctl(ident, IPC_SET, ctypes.byref(ds)))
    assert queue_ds(ident).qbytes == qbytes


def qnum(ident):
    return queue_ds(ident).qnum


def proc_row(ident):
    """The queue's line of /proc/sysvipc/msg, as {column: int}; perms octal."""
    with open("/proc/sysvipc/msg") as f:
        header = next(f).split()
        for line in f:
            row = dict(zip(header, line.split()))
            if int(row["msqid"]) == ident:
                return {k: int(v, 8) if k == "perms" else int(v) for k, v in row.items()}
    return None


def make_queue(m, n, mode=0o600):
    """A queue made directly, with key number n and exactly this mode."""
    return SysV.msgget(m.key(n), SysV.IPC_CREAT | SysV.IPC_EXCL | mode)


def drain(ident):
    """Every message left in the queue, (type, bytes), taken without waiting."""
    got = []
    while True:
        try:
            got.append(SysV.msgrcv(ident, flags=SysV.IPC_NOWAIT))
        except OSError as e:
            assert e.errno == errno.ENOMSG, errno_name(e.errno)
            return got


@contextlib.contextmanager
def private_queue(mode=0o600):
    """An IPC_PRIVATE queue, removed on leaving (no key the fixture knows)."""
    ident = SysV.msgget(0, SysV.IPC_CREAT | mode)
    try:
        yield ident
    finally:
        try:
            SysV.msgrm(ident)
        except OSError:
            pass


# Through the mount ---------------------------------------------------------------

def msg_dir(m):
    return os.path.join(m.path, "sysv", "msg")


@contextlib.contextmanager
def opened(path, flags):
    fd = os.open(path, flags)
    try:
        yield fd
    finally:
        os.close(fd)


def read_once(path, size=65536, flags=0):
    """One read() of a new open of path."""
    with opened(path, os.O_RDONLY | flags) as fd:
        return os.read(fd, size)


def write_once(path, data, flags=0):
    """One write() of a new open of path; what it returned."""
    with opened(path, os.O_WRONLY | flags) as fd:
        return os.write(fd, data)


def outcome_of(fn, *args):
    """"ok" or the errno name fn(*args) fails with."""
    try:
        fn(*args)
        return "ok"
    except OSError as e:
        return errno_name(e.errno)


# Waiting --------------------------------------------------------------------------


def blocked_in(task, call, fd=None):
    """Whether /proc/TASK (a pid, or "self/task/TID") waits in the read or
    write system call for the daemon's answer, on descriptor fd if given."""
    try:
        with open("/proc/%s/syscall" % task) as f:
            fields = f.read().split()
        with open("/proc/%s/wchan" % task) as f:
            wchan = f.read().strip()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return (len(fields) > 1 and fields[0] == str(SYSCALL_NUMBERS[call])
            and (fd is None or int(fields[1], 16) == fd)
            and wchan == "request_wait_answer")


def daemon_caught_up(m):
    """Returns once every request sent before this stat has been handled:
    the daemon takes requests one at a time, in order, so a read or write
    sleeping in the kernel before it is now waiting in the daemon."""
    within(ANSWER_WITHIN, "a stat after waiting requests", os.stat, msg_dir(m))


class Waiter(threading.Thread):
    """A thread with its own open file, blocking in one read (data None)
    or one write of data."""

    def __init__(self, path, data=None):
        super().__init__(daemon=True)
        self.data = data
        self.fd = os.open(path, os.O_RDONLY if data is None else os.O_WRONLY)
        self.got = None
        self.error = None

    def run(self):
        try:
            if self.data is None:
                self.got = os.read(self.fd, 65536)
            else:
                self.got = os.write(self.fd, self.data)
        except OSError as e:
            self.error = e

    def blocked(self):
        return blocked_in("self/task/%d" % self.native_id,
                          "read" if self.data is None else "write", self.fd)

    def begin(self, m):
        """Starts it and returns once its call waits in the daemon."""
        self.start()
        wait_until(lambda: self.blocked() or not self.is_alive(), "a thread blocked")
        assert self.is_alive(), "did not wait: got %r, error %r" % (self.got, self.error)
        daemon_caught_up(m)
        return self

    def finish(self, limit=WAIT_LIMIT):
        self.join(limit)
        assert not self.is_alive(), "still waiting after %g s" % limit
        return self.got if self.error is None else errno_name(self.error.errno)


@contextlib.contextmanager
def waiters():
    """A list to put Waiters in; their descriptors are closed on leaving
    (one still blocked ends with the mount)."""
    started = []
    try:
        yield started
    finally:
        for w in started:
            os.close(w.fd)


# A child that opens a file, says "ready", then makes one read or write
# (of argv[3]) through libc, so an EINTR is seen rather than retried by
# Python. SIGALRM has a handler (installed without SA_RESTART). It prints
# "errno NAME" or "N HEX" and keeps its file open until stdin closes.
CHILD = r"""
import ctypes, errno, os, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.read.restype = libc.write.restype = ctypes.c_ssize_t
signal.signal(signal.SIGALRM, lambda *a: None)
op, path = sys.argv[1:3]
fd = os.open(path, os.O_RDONLY if op == "read" else os.O_WRONLY)
print("ready", flush=True)
if op == "read":
    buf = ctypes.create_string_buffer(65536)
    n = libc.read(fd, buf, ctypes.c_size_t(len(buf)))
    data = buf.raw[:max(n, 0)]
else:
    data = sys.argv[3].encode()
    n = libc.write(fd, data, ctypes.c_size_t(len(data)))
e = ctypes.get_errno()
print("errno " + errno.errorcode[e] if n < 0 else "%d %s" % (n, data.hex()), flush=True)
sys.stdin.read()
"""


class Child:
    """A process blocked in one read or write through the mount, waiting
    in the daemon by the time the constructor returns; killed on leaving."""

    def __init__(self, m, op, path, *args):
        self.proc = subprocess.Popen([sys.executable, "-c", CHILD, op, path, *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            assert self.line() == "ready", "the child did not start"
            wait_until(lambda: blocked_in(self.proc.pid, op) or self.proc.poll() is not None,
                       "the child blocked in " + op)
            assert self.proc.poll() is None, "the child ended"
            daemon_caught_up(m)
        except BaseException:
            self.__exit__()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.communicate(timeout=WAIT_LIMIT)
        except (subprocess.TimeoutExpired, ValueError):
            pass  # its request was never answered: the unmount ends it

    def line(self, limit=WAIT_LIMIT):
        ready = select.select([self.proc.stdout], [], [], limit)[0]
        assert ready, "the child said nothing in %g s" % limit
        return self.proc.stdout.readline().decode().strip()

    def quiet_for(self, seconds):
        return not select.select([self.proc.stdout], [], [], seconds)[0]

    def kill(self):
        self.proc.kill()
        try:
            self.proc.wait(WAIT_LIMIT)
        except subprocess.TimeoutExpired:
            raise AssertionError("SIGKILL: the child's request was not answered") from None


def expect_left(ident, messages):
    """Once the daemon has had time to act, the queue holds exactly these
    (type, bytes), which this takes."""
    time.sleep(SETTLE)
    assert queue_ds(ident).qnum == len(messages)
    got = drain(ident)
    assert got == messages, got


# Listing and names ------------------------------------------------------------------

def test_listing_shows_a_keyed_queue_with_its_owner_and_mode():
    with Mount() as m:
        mine = make_queue(m, 1, 0o640)
        # The key is worked out here: m.key depends on the pid.
        theirs = as_user(NOBODY, SysV.msgget, m.key(2), SysV.IPC_CREAT | SysV.IPC_EXCL | 0o604)
        listed = os.listdir(msg_dir(m))
        ours = sorted(n for n in listed if n.startswith("0x%06x" % (m.key(0) >> 8)))
        assert ours == ["0x%08x" % m.key(1), "0x%08x" % m.key(2)], ours
        for ident, n, want in ((mine, 1, (0o100640, 0, 0)), (theirs, 2, (0o100604, NOBODY, NOBODY))):
            st = os.stat(m.sysv("msg", n))
            assert (st.st_mode, st.st_uid, st.st_gid) == want, (oct(st.st_mode), st.st_uid)
            row = proc_row(ident)
            assert (row["perms"], row["uid"], row["gid"]) == (want[0] & 0o777,) + want[1:]
            ds = queue_ds(ident)
            assert (ds.perm.key, ds.perm.mode & 0o777, ds.perm.uid) == \
                (m.key(n), want[0] & 0o777, want[1])
        # Every listed name is one of the two spellings and stats.
        for name in listed:
            assert name.startswith("id.") or (len(name) == 10 and name.startswith("0x")), name
        assert not any("@" in name for name in listed)


def test_private_queue_is_id_n():
    with Mount() as m, private_queue(0o620) as ident:
        keyed = make_queue(m, 1)
        listed = os.listdir(msg_dir(m))
        assert "id.%d" % ident in listed, listed
        st = os.stat(os.path.join(msg_dir(m), "id.%d" % ident))
        assert (st.st_mode, st.st_uid, st.st_gid) == (0o100620, 0, 0)
        assert os.getxattr(os.path.join(msg_dir(m), "id.%d" % ident), "user.sysv.key") \
            == b"0x00000000"
        # A keyed queue is named by its key only.
        assert "id.%d" % keyed not in listed
        expect_errno(errno.ENOENT, os.stat, os.path.join(msg_dir(m), "id.%d" % keyed))
        expect_errno(errno.ENOENT, os.stat, os.path.join(msg_dir(m), "id.0%d" % ident))
        expect_errno(errno.ENOENT, os.stat, os.path.join(msg_dir(m), "id.%d " % ident))
        # Messages go through it like through any other.
        assert write_once(os.path.join(msg_dir(m), "id.%d" % ident), b"private") == 7
        assert SysV.msgrcv(ident, flags=SysV.IPC_NOWAIT) == (1, b"private")
        SysV.msgrm(ident)
        expect_errno(errno.ENOENT, os.stat, os.path.join(msg_dir(m), "id.%d" % ident))
        assert "id.%d" % ident not in os.listdir(msg_dir(m))


def test_only_one_spelling_names_a_queue():
    with Mount() as m:
        make_queue(m, 1)
        key = m.key(1)
        assert os.path.exists(m.sysv("msg", 1))
        for name in ("0x%08X" % key, "0X%08x" % key, "0x0%08x" % key, "%08x" % key, "%d" % key,
                     "0x%08x " % key, " 0x%08x" % key, "0x%08x\n" % key, "0x%07x" % (key >> 4),
                     "0x4d2", "0x000004D2", "0x00000000", "id.", "id.-1", "foo"):
            expect_errno(errno.ENOENT, os.stat, os.path.join(msg_dir(m), name))


# Create, remove, owner and mode -------------------------------------------------------

def test_create_through_the_mount():
    with Mount() as m:
        old = os.umask(0)
        try:
            fd = os.open(m.sysv("msg", 1), os.O_CREAT | os.O_WRONLY, 0o640)
        finally:
            os.umask(old)
        try:
            assert os.write(fd, b"first") == 5
        finally:
            os.close(fd)
        ident = SysV.msgget(m.key(1))
        row = proc_row(ident)
        assert (row["perms"], row["uid"], row["gid"], row["key"]) == (0o640, 0, 0, m.key(1)), row
        st = os.stat(m.sysv("msg", 1))
        assert (st.st_mode, st.st_uid, st.st_gid) == (0o100640, 0, 0)
        assert SysV.msgrcv(ident, flags=SysV.IPC_NOWAIT) == (1, b"first")
        # The caller's umask applies, as for any file.
        old = os.umask(0o027)
        try:
            os.close(os.open(m.sysv("msg", 2), os.O_CREAT | os.O_RDWR | os.O_EXCL, 0o666))
        finally:
            os.umask(old)
        assert proc_row(SysV.msgget(m.key(2)))["perms"] == 0o640
        assert "0x%08x" % m.key(2) in os.listdir(msg_dir(m))


def test_create_by_a_user_is_theirs():
    with Mount() as m:
        def create(path):
            os.umask(0)
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            return os.stat(path)
        st = as_user(NOBODY, create, m.sysv("msg", 1))
        assert (st.st_mode, st.st_uid, st.st_gid) == (0o100600, NOBODY, NOBODY)
        row = proc_row(SysV.msgget(m.key(1)))
        assert (row["perms"], row["uid"], row["gid"]) == (0o600, NOBODY, NOBODY), row


def test_create_with_a_malformed_name_is_einval():
    with Mount() as m:
        before = open("/proc/sysvipc/msg").read().count("\n")
        for name in ("foo", "0x4d2", "0x00000000", "id.999999", "0x%08X" % m.key(1),
                     "0x%08x0" % m.key(1), "id.0"):
            path = os.path.join(msg_dir(m), name)
            for flags in (os.O_CREAT | os.O_WRONLY, os.O_CREAT | os.O_EXCL | os.O_RDWR):
                assert (name, outcome_of(os.open, path, flags, 0o600)) == (name, "EINVAL")
            expect_errno(errno.ENOENT, os.stat, path)
        assert open("/proc/sysvipc/msg").read().count("\n") == before


def test_create_excl_of_an_existing_queue_is_eexist():
    with Mount() as m:
        ident = make_queue(m, 1, 0o600)
        SysV.msgsnd(ident, b"kept")
        expect_errno(errno.EEXIST, os.open, m.sysv("msg", 1), os.O_CREAT | os.O_EXCL | os.O_RDWR,
                     0o644)
        # Without O_EXCL it just opens the queue there is.
        assert read_once(m.sysv("msg", 1), flags=os.O_CREAT) == b"kept"
        assert SysV.msgget(m.key(1)) == ident
        assert proc_row(ident)["perms"] == 0o600
        with private_queue() as private:
            expect_errno(errno.EEXIST, os.open, os.path.join(msg_dir(m), "id.%d" % private),
                         os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
            os.close(os.open(os.path.join(msg_dir(m), "id.%d" % private),
                             os.O_CREAT | os.O_RDWR, 0o600))


def test_rm_removes_the_queue():
    with Mount() as m:
        ident = make_queue(m, 1)
        SysV.msgsnd(ident, b"dropped")
        os.unlink(m.sysv("msg", 1))
        expect_errno(errno.ENOENT, SysV.msgget, m.key(1))
        expect_errno(errno.EINVAL, qnum, ident)
        assert proc_row(ident) is None
        assert "0x%08x" % m.key(1) not in os.listdir(msg_dir(m))
        expect_errno(errno.ENOENT, os.stat, m.sysv("msg", 1))
        expect_errno(errno.ENOENT, os.unlink, m.sysv("msg", 1))


def test_chmod_and_chown():
    with Mount() as m:
        ident = make_queue(m, 1, 0o600)
        os.chmod(m.sysv("msg", 1), 0o664)
        assert queue_ds(ident).perm.mode & 0o777 == 0o664
        assert proc_row(ident)["perms"] == 0o664
        os.chown(m.sysv("msg", 1), NOBODY, NOBODY)
        row = proc_row(ident)
        assert (row["uid"], row["gid"], row["cuid"], row["perms"]) == (NOBODY, NOBODY, 0, 0o664)
        os.chown(m.sysv("msg", 1), -1, 0)
        row = proc_row(ident)
        assert (row["uid"], row["gid"]) == (NOBODY, 0)
        st = os.stat(m.sysv("msg", 1))
        assert (st.st_mode, st.st_uid, st.st_gid) == (0o100664, NOBODY, 0)
        # What others change shows at once.
        ds = queue_ds(ident)
        ds.perm.mode, ds.perm.uid = 0o640, 0
        SysV._check(SysV.libc.msgctl(ident, IPC_SET, ctypes.byref(ds)))
        st = os.stat(m.sysv("msg", 1))
        assert (st.st_mode, st.st_uid, st.st_gid) == (0o100640, 0, 0)


def test_chmod_with_set_id_or_sticky_bits_is_einval():
    with Mount() as m:
        ident = make_queue(m, 1, 0o640)
        for mode in (0o4640, 0o2640, 0o1640, 0o7777):
            assert (oct(mode), outcome_of(os.chmod, m.sysv("msg", 1), mode)) == \
                (oct(mode), "EINVAL")
        assert proc_row(ident)["perms"] == 0o640
        assert os.stat(m.sysv("msg", 1)).st_mode == 0o100640


def test_xattrs_show_the_counters():
    with Mount() as m:
        ident = make_queue(m, 1)
        path = m.sysv("msg", 1)
        assert os.listxattr(path) == KIND_XATTRS["sysv/msg"]
        assert os.getxattr(path, "user.msg.stime") == b"0"  # never
        SysV.msgsnd(ident, b"abc")
        SysV.msgsnd(ident, b"defgh", mtype=4)

        def values():
            return {a: os.getxattr(path, a) for a in os.listxattr(path)}
        st = os.stat(path)
        assert values() == {
            "user.sysv.id": b"%d" % ident, "user.sysv.key": b"0x%08x" % m.key(1),
            "user.sysv.cuid": b"0", "user.sysv.cgid": b"0",
            "user.msg.qnum": b"2", "user.msg.cbytes": b"8", "user.msg.qbytes": b"%d" % MSGMNB,
            "user.msg.lspid": b"%d" % os.getpid(), "user.msg.lrpid": b"0",
            # The times, as the file's: mtime the last send, atime the last
            # receive, ctime the last change.
            "user.msg.stime": b"%d" % st.st_mtime, "user.msg.rtime": b"0",
            "user.msg.ctime": b"%d" % st.st_ctime, "user.ipc.holders": b""}
        assert st.st_mtime > 0
        # Sent and received by the daemon: its pid.
        assert read_once(path) == b"abc"
        assert write_once(path, b"through the mount") == 17
        daemon = b"%d" % m.proc.pid
        got = values()
        assert (got["user.msg.qnum"], got["user.msg.cbytes"], got["user.msg.lspid"],
                got["user.msg.lrpid"]) == (b"2", b"22", daemon, daemon), got
        set_qbytes(ident, 1000)
        assert os.getxattr(path, "user.msg.qbytes") == b"1000"
        expect_errno(errno.ENODATA, os.getxattr, path, "user.msg.nothing")
        expect_errno(errno.ENODATA, os.getxattr, path, "user.sem.nsems")
        out = subprocess.run(["getfattr", "--absolute-names", "--only-values", "-n",
                              "user.msg.qnum", path], capture_output=True)
        assert (out.returncode, out.stdout) == (0, b"2"), out


def test_stat_size_and_times():
    with Mount() as m:
        ident = make_queue(m, 1)
        path = m.sysv("msg", 1)
        st = os.stat(path)
        row = proc_row(ident)
        assert st.st_size == 0  # the bytes queued
        # Never sent to nor received from: both times are the last change.
        assert (st.st_mtime_ns, st.st_atime_ns, st.st_ctime_ns) == (row["ctime"] * 10**9,) * 3
        SysV.msgsnd(ident, b"x" * 100)
        SysV.msgrcv(ident)
        SysV.msgsnd(ident, b"y" * 10)
        row = proc_row(ident)
        st = os.stat(path)
        assert (st.st_mtime_ns, st.st_atime_ns, st.st_ctime_ns, st.st_size) == \
            (row["stime"] * 10**9, row["rtime"] * 10**9, row["ctime"] * 10**9, 10)
        # Open for writing, the file shows 1 MiB (README: writes that wait).
        fd = os.open(path, os.O_WRONLY)
        try:
            assert os.fstat(fd).st_size == 1 << 20
            assert os.stat(path).st_size == 10  # a new lookup: the object's own
        finally:
            os.close(fd)
        assert os.stat(path).st_size == 10


# Reading and writing ------------------------------------------------------------------

def test_write_is_one_msgsnd_of_type_1():
    with Mount() as m:
        ident = make_queue(m, 1)
        with opened(m.sysv("msg", 1), os.O_WRONLY) as fd:
            assert os.write(fd, b"hello") == 5
            assert os.write(fd, b"world!") == 6
        assert qnum(ident) == 2
        assert drain(ident) == [(1, b"hello"), (1, b"world!")]


def test_binary_message_with_nul_bytes():
    with Mount() as m:
        ident = make_queue(m, 1)
        data = bytes(range(256)) + b"\0\0\0"
        assert write_once(m.sysv("msg", 1), data) == len(data)
        assert drain(ident) == [(1, data)]
        SysV.msgsnd(ident, b"\0\xff\0", mtype=9)
        assert read_once(m.sysv("msg", 1)) == b"\0\xff\0"
        assert qnum(ident) == 0


def test_read_is_one_msgrcv_of_any_type():
    with Mount() as m:
        ident = make_queue(m, 1)
        SysV.msgsnd(ident, b"type 42", mtype=42)
        SysV.msgsnd(ident, b"type 1")
        SysV.msgsnd(ident, b"type 3", mtype=3)
        with opened(m.sysv("msg", 1), os.O_RDONLY) as fd:
            assert os.read(fd, 65536) == b"type 42"
            assert qnum(ident) == 2
            assert os.read(fd, 65536) == b"type 1"
        assert read_once(m.sysv("msg", 1)) == b"type 3"
        assert qnum(ident) == 0
        # The largest message there can be.
        big = os.urandom(MSGMAX)
        SysV.msgsnd(ident, big, mtype=2)
        assert read_once(m.sysv("msg", 1), MSGMAX + 100) == big


def test_write_to_key_at_n_sends_type_n():
    with Mount() as m:
        ident = make_queue(m, 1)
        assert write_once(m.sysv("msg", 1, "@7"), b"seven") == 5
        assert write_once(m.sysv("msg", 1, "@%d" % (2**63 - 1)), b"max") == 3
        assert drain(ident) == [(7, b"seven"), (2**63 - 1, b"max")]


def test_read_of_key_at_n_takes_only_type_n():
    with Mount() as m:
        ident = make_queue(m, 1)
        for mtype, data in ((1, b"one"), (7, b"seven"), (2, b"two"), (7, b"seven again")):
            SysV.msgsnd(ident, data, mtype)
        path = m.sysv("msg", 1, "@7")
        assert read_once(path) == b"seven"
        assert read_once(path) == b"seven again"
        expect_errno(errno.EAGAIN, read_once, path, flags=os.O_NONBLOCK)
        assert drain(ident) == [(1, b"one"), (2, b"two")]


def test_read_of_key_at_minus_n_takes_the_lowest_type_up_to_n():
    with Mount() as m:
        ident = make_queue(m, 1)
        for mtype, data in ((4, b"four"), (3, b"three"), (2, b"two-a"), (5, b"five"),
                            (2, b"two-b")):
            SysV.msgsnd(ident, data, mtype)
        path = m.sysv("msg", 1, "@-3")
        assert [read_once(path) for _ in range(3)] == [b"two-a", b"two-b", b"three"]
        expect_errno(errno.EAGAIN, read_once, path, flags=os.O_NONBLOCK)
        assert drain(ident) == [(4, b"four"), (5, b"five")]


def test_read_of_key_at_tilde_n_takes_any_type_but_n():
    with Mount() as m:
        ident = make_queue(m, 1)
        for mtype, data in ((1, b"a"), (1, b"b"), (3, b"c"), (1, b"d"), (2, b"e")):
            SysV.msgsnd(ident, data, mtype)
        path = m.sysv("msg", 1, "@~1")
        assert [read_once(path) for _ in range(2)] == [b"c", b"e"]
        expect_errno(errno.EAGAIN, read_once, path, flags=os.O_NONBLOCK)
        assert drain(ident) == [(1, b"a"), (1, b"b"), (1, b"d")]


def test_write_to_a_receive_only_name_is_einval():
    with Mount() as m:
        ident = make_queue(m, 1)
        for suffix in ("@-3", "@~1", "@-1", "@~5"):
            with opened(m.sysv("msg", 1, suffix), os.O_WRONLY) as fd:
                expect_errno(errno.EINVAL, os.write, fd, b"nope")
            expect_errno(errno.EINVAL, write_once, m.sysv("msg", 1, suffix), b"x",
                         os.O_NONBLOCK)
        assert qnum(ident) == 0


def test_malformed_suffix_is_not_found():
    """Only N, -N and ~N, N a positive number in its one spelling, follow
    the '@' (parse_type refuses "07" for that reason). Whitespace around
    the number is no other spelling either."""
    with Mount() as m:
        make_queue(m, 1)
        for suffix in ("@7", "@-3", "@~1", "@1"):
            assert os.path.exists(m.sysv("msg", 1, suffix)), suffix
        for suffix in ("@0", "@x", "@", "@-", "@~", "@-0", "@~0", "@07", "@+7", "@7x", "@7@8",
                       "@-x", "@~~1", "@--1", "@9223372036854775808", "@1.5", "@ 7", "@0x7"):
            assert (suffix, outcome_of(os.stat, m.sysv("msg", 1, suffix))) == (suffix, "ENOENT")
        found = [suffix for suffix in ("@7 ", "@7\n", "@7\t", "@-3 ", "@~1\n")
                 if outcome_of(os.stat, m.sysv("msg", 1, suffix)) != "ENOENT"]
        assert found == [], "names with whitespace after the type are found: %r" % found


def test_short_buffer_gets_the_rest_on_the_next_reads():
    with Mount() as m:
        ident = make_queue(m, 1)
        SysV.msgsnd(ident, b"0123456789")
        with opened(m.sysv("msg", 1), os.O_RDONLY | os.O_NONBLOCK) as fd:
            assert os.read(fd, 4) == b"0123"
            assert qnum(ident) == 0  # the whole message was taken
            assert os.read(fd, 4) == b"4567"
            assert os.read(fd, 4) == b"89"
            expect_errno(errno.EAGAIN, os.read, fd, 4)
            SysV.msgsnd(ident, b"abcdef")
            assert os.read(fd, 5) == b"abcde"
            SysV.msgsnd(ident, b"next")
            assert os.read(fd, 100) == b"f"  # the rest only, not more
            assert os.read(fd, 100) == b"next"
        assert qnum(ident) == 0


def test_rest_of_a_message_belongs_to_its_open_file():
    with Mount() as m:
        ident = make_queue(m, 1)
        SysV.msgsnd(ident, b"0123456789")
        SysV.msgsnd(ident, b"second")
        SysV.msgsnd(ident, b"third")
        with opened(m.sysv("msg", 1), os.O_RDONLY) as one, \
                opened(m.sysv("msg", 1), os.O_RDONLY) as two:
            assert os.read(one, 3) == b"012"
            assert os.read(two, 100) == b"second"
            assert os.read(one, 100) == b"3456789"
        # Closed with the rest unread: the rest is gone, not put back.
        with opened(m.sysv("msg", 1), os.O_RDONLY) as fd:
            assert os.read(fd, 2) == b"th"
        assert qnum(ident) == 0


def test_zero_byte_message_reads_as_zero_bytes():
    with Mount() as m:
        ident = make_queue(m, 1)
        SysV.msgsnd(ident, b"")
        SysV.msgsnd(ident, b"after", mtype=2)
        with opened(m.sysv("msg", 1), os.O_RDONLY | os.O_NONBLOCK) as fd:
            assert os.read(fd, 100) == b""
            assert qnum(ident) == 1
            assert os.read(fd, 100) == b"after"


def test_write_larger_than_msgmax_is_emsgsize():
    with watched_mount() as m:
        ident = make_queue(m, 1)
        for flags in (0, os.O_NONBLOCK):
            expect_errno(errno.EMSGSIZE, write_once, m.sysv("msg", 1), b"x" * (MSGMAX + 1), flags)
            expect_errno(errno.EMSGSIZE, write_once, m.sysv("msg", 1, "@3"),
                         b"x" * (MSGMAX + 100), flags)
        assert qnum(ident) == 0
        assert write_once(m.sysv("msg", 1), b"y" * MSGMAX) == MSGMAX
        assert drain(ident) == [(1, b"y" * MSGMAX)]


def test_write_larger_than_the_queue_is_emsgsize():
    with watched_mount() as m:
        ident = make_queue(m, 1)
        set_qbytes(ident, 100)
        for flags in (0, os.O_NONBLOCK):
            expect_errno(errno.EMSGSIZE, write_once, m.sysv("msg", 1), b"x" * 101, flags)
        SysV.msgsnd(ident, b"z" * 60)
        expect_errno(errno.EMSGSIZE, write_once, m.sysv("msg", 1), b"x" * 101)
        assert drain(ident) == [(1, b"z" * 60)]
        assert write_once(m.sysv("msg", 1), b"x" * 100) == 100
        assert drain(ident) == [(1, b"x" * 100)]


def test_nonblocking_read_of_an_empty_queue_is_eagain():
    with Mount() as m:
        ident = make_queue(m, 1)
        expect_errno(errno.EAGAIN, read_once, m.sysv("msg", 1), flags=os.O_NONBLOCK)
        SysV.msgsnd(ident, b"one")
        expect_errno(errno.EAGAIN, read_once, m.sysv("msg", 1, "@2"), flags=os.O_NONBLOCK)
        assert drain(ident) == [(1, b"one")]


def test_nonblocking_write_to_a_full_queue_is_eagain():
    with Mount() as m:
        small = make_queue(m, 1)
        set_qbytes(small, 16)
        SysV.msgsnd(small, b"0123456789")
        expect_errno(errno.EAGAIN, write_once, m.sysv("msg", 1), b"1234567", os.O_NONBLOCK)
        assert write_once(m.sysv("msg", 1), b"123456", os.O_NONBLOCK) == 6
        expect_errno(errno.EAGAIN, write_once, m.sysv("msg", 1), b"1", os.O_NONBLOCK)
        assert drain(small) == [(1, b"0123456789"), (1, b"123456")]
        # A queue of the default size, filled.
        full = make_queue(m, 2)
        half = MSGMNB // 2
        with opened(m.sysv("msg", 2), os.O_WRONLY | os.O_NONBLOCK) as fd:
            assert os.write(fd, b"a" * half) == half
            assert os.write(fd, b"b" * (MSGMNB - half)) == MSGMNB - half
            expect_errno(errno.EAGAIN, os.write, fd, b"c")
        row = proc_row(full)
        assert (row["qnum"], row["cbytes"]) == (2, MSGMNB)


# Waiting ----------------------------------------------------------------------------

def test_blocking_read_woken_by_a_direct_send():
    with watched_mount() as m:
        ident = make_queue(m, 1)
        sender = threading.Timer(SETTLE, SysV.msgsnd, [ident, b"wake up", 3])
        with opened(m.sysv("msg", 1), os.O_RDONLY) as fd:
            start = time.monotonic()
            sender.start()
            try:
                got = os.read(fd, 100)
            finally:
                sender.join()
            took = time.monotonic() - start
        assert got == b"wake up"
        assert SETTLE * 0.8 < took < SETTLE + 3, took
        assert qnum(ident) == 0


def test_blocking_write_completes_when_room_is_made():
    with watched_mount() as m:
        ident = make_queue(m, 1)
        set_qbytes(ident, 16)
        SysV.msgsnd(ident, b"0123456789")
        taken = []
        receiver = threading.Timer(SETTLE, lambda: taken.append(SysV.msgrcv(ident)))
        with opened(m.sysv("msg", 1, "@4"), os.O_WRONLY) as fd:
            start = time.monotonic()
            receiver.start()
            try:
                wrote = os.write(fd, b"waited")
            finally:
                receiver.join()
            took = time.monotonic() - start
        assert wrote == 6
        assert SETTLE * 0.8 < took < SETTLE + 3, took
        assert taken == [(1, b"0123456789")]
        assert drain(ident) == [(4, b"waited")]


def test_typed_blocking_read_waits_for_its_type():
    with watched_mount() as m, waiters() as started:
        ident = make_queue(m, 1)
        reader = Waiter(m.sysv("msg", 1, "@5"))
        started.append(reader)
        reader.begin(m)
        SysV.msgsnd(ident, b"type one")
        SysV.msgsnd(ident, b"type six", mtype=6)
        time.sleep(SETTLE)
        assert reader.is_alive(), "woken by %r" % reader.got
        assert qnum(ident) == 2
        SysV.msgsnd(ident, b"type five", mtype=5)
        assert reader.finish() == b"type five"
        assert drain(ident) == [(1, b"type one"), (6, b"type six")]


def test_killed_reader_takes_nothing():
    with watched_mount() as m:
        ident = make_queue(m, 1)
        with Child(m, "read", m.sysv("msg", 1)) as child:
            child.kill()
        SysV.msgsnd(ident, b"for the next reader")
        expect_left(ident, [(1, b"for the next reader")])


def test_interrupted_reader_gets_eintr_and_takes_nothing():
    with watched_mount() as m:
        ident = make_queue(m, 1)
        with Child(m, "read", m.sysv("msg", 1)) as child:
            child.proc.send_signal(signal.SIGALRM)
            assert child.line() == "errno EINTR"
            # Its file is still open.
            SysV.msgsnd(ident, b"for the next reader")
            expect_left(ident, [(1, b"for the next reader")])
            assert child.proc.poll() is None


def test_interrupted_writer_gets_eintr_and_sends_nothing():
    with watched_mount() as m:
        ident = make_queue(m, 1)
        set_qbytes(ident, 16)
        SysV.msgsnd(ident, b"0123456789")
        with Child(m, "write", m.sysv("msg", 1), "from child") as child:
            child.proc.send_signal(signal.SIGALRM)
            assert child.line() == "errno EINTR"
            assert SysV.msgrcv(ident) == (1, b"0123456789")
            expect_left(ident, [])  # room now: a write still going on would send


def test_killed_writer_sends_nothing():
    with watched_mount() as m:
        ident = make_queue(m, 1)
        set_qbytes(ident, 16)
        SysV.msgsnd(ident, b"0123456789")
        with Child(m, "write", m.sysv("msg", 1), "from child") as child:
            child.kill()
        assert SysV.msgrcv(ident) == (1, b"0123456789")
        expect_left(ident, [])


def test_queue_removed_while_a_read_or_write_waits_is_eidrm():
    with watched_mount() as m, waiters() as started:
        empty = make_queue(m, 1)
        full = make_queue(m, 2)
        set_qbytes(full, 4)
        SysV.msgsnd(full, b"full")
        reader = Waiter(m.sysv("msg", 1))
        writer = Waiter(m.sysv("msg", 2), b"more")
        started += [reader, writer]
        reader.begin(m)
        writer.begin(m)
        SysV.msgrm(empty)
        SysV.msgrm(full)
        assert (reader.finish(), writer.finish()) == ("EIDRM", "EIDRM")
        assert m.alive()


def test_queue_removed_under_an_open_file_is_eidrm():
    with watched_mount() as m:
        ident = make_queue(m, 1)
        SysV.msgsnd(ident, b"left behind")
        with opened(m.sysv("msg", 1), os.O_RDWR) as fd, \
                opened(m.sysv("msg", 1), os.O_RDWR | os.O_NONBLOCK) as nb:
            SysV.msgrm(ident)
            for f in (fd, nb):
                expect_errno(errno.EIDRM, os.read, f, 100)
                expect_errno(errno.EIDRM, os.write, f, b"x")
            expect_errno(errno.ENOENT, os.stat, m.sysv("msg", 1))
            # A new queue under the same key is not reached by the old file.
            new = make_queue(m, 1)
            SysV.msgsnd(new, b"new queue")
            expect_errno(errno.EIDRM, os.read, fd, 100)
            assert qnum(new) == 1
            assert read_once(m.sysv("msg", 1)) == b"new queue"


def test_300_waiting_readers_hold_nothing_up():
    count = 300
    with watched_mount(seconds=60) as m, waiters() as started:
        many = make_queue(m, 1)
        other = make_queue(m, 2)
        SysV.msgsnd(other, b"for someone else")
        for _ in range(count):
            started.append(Waiter(m.sysv("msg", 1)))
            started[-1].start()
        wait_until(lambda: all(r.blocked() for r in started), "%d readers blocked" % count)
        daemon_caught_up(m)
        assert all(r.is_alive() for r in started)
        within(ANSWER_WITHIN, "a stat", os.stat, m.sysv("msg", 1))
        listed = within(ANSWER_WITHIN, "a listing", os.listdir, msg_dir(m))
        assert {"0x%08x" % m.key(1), "0x%08x" % m.key(2)} <= set(listed)
        got = within(ANSWER_WITHIN, "a read of another queue", read_once, m.sysv("msg", 2))
        assert got == b"for someone else"
        assert os.getxattr(m.sysv("msg", 1), "user.msg.qnum") == b"0"
        sent = [b"message %03d" % i for i in range(count)]
        for message in sent:
            SysV.msgsnd(many, message)
        deadline = time.monotonic() + WAIT_LIMIT
        for r in started:
            r.join(max(0, deadline - time.monotonic()))
        assert sum(r.is_alive() for r in started) == 0, "readers still waiting"
        assert [r.error for r in started if r.error] == []
        assert sorted(r.got for r in started) == sent
        assert qnum(many) == 0 and qnum(other) == 0


def test_waits_beyond_sysv_threads_wait_in_line():
    with watched_mount("allow_other,sysv_threads=2") as m, waiters() as started:
        idents = [make_queue(m, n) for n in range(5)]
        for n in range(5):
            started.append(Waiter(m.sysv("msg", n)).begin(m))
        within(ANSWER_WITHIN, "a stat", os.stat, m.sysv("msg", 4))
        # Last queue first: readers 2 to 4 wait for a thread, not in msgrcv.
        for n in (4, 3, 2):
            SysV.msgsnd(idents[n], b"for reader %d" % n)
        time.sleep(SETTLE)
        assert [qnum(i) for i in idents] == [0, 0, 1, 1, 1]
        assert [r.is_alive() for r in started] == [True] * 5
        SysV.msgsnd(idents[1], b"for reader 1")
        for n in (1, 2, 3, 4):
            assert started[n].finish(5) == b"for reader %d" % n
        assert started[0].is_alive()
        SysV.msgsnd(idents[0], b"for reader 0")
        assert started[0].finish(5) == b"for reader 0"
        assert [qnum(i) for i in idents] == [0] * 5


def test_interrupted_while_waiting_in_line():
    with watched_mount("allow_other,sysv_threads=1") as m, waiters() as started:
        first = make_queue(m, 1)
        second = make_queue(m, 2)
        started.append(Waiter(m.sysv("msg", 1)).begin(m))
        with Child(m, "read", m.sysv("msg", 2)) as child:
            child.proc.send_signal(signal.SIGALRM)
            assert child.line() == "errno EINTR"
        SysV.msgsnd(second, b"stays")
        SysV.msgsnd(first, b"for the thread")
        assert started[0].finish(5) == b"for the thread"
        expect_left(second, [(1, b"stays")])


# poll, select, epoll ------------------------------------------------------------------

def polled(fd, events, seconds):
    p = select.poll()
    p.register(fd, events)
    return p.poll(seconds * 1000)


def test_poll_readable_only_while_a_message_is_there():
    with watched_mount() as m:
        ident = make_queue(m, 1)
        with opened(m.sysv("msg", 1), os.O_RDWR | os.O_NONBLOCK) as fd:
            both = select.POLLIN | select.POLLOUT
            assert polled(fd, both, 0.1) == [(fd, select.POLLOUT)]
            assert polled(fd, select.POLLIN, 0.2) == []
            assert select.select([fd], [fd], [], 0.1) == ([], [fd], [])
            sender = threading.Timer(SETTLE, SysV.msgsnd, [ident, b"wake up", 2])
            start = time.monotonic()
            sender.start()
            try:
                ready = polled(fd, select.POLLIN, WAIT_LIMIT)
            finally:
                sender.join()
            took = time.monotonic() - start
            assert ready == [(fd, select.POLLIN)], ready
            assert SETTLE * 0.8 < took < SETTLE + 3, took
            assert qnum(ident) == 1  # the poll took nothing
            assert polled(fd, both, 0) == [(fd, both)]
            assert select.select([fd], [fd], [], 0) == ([fd], [fd], [])
            assert os.read(fd, 100) == b"wake up"
            assert polled(fd, both, 0.1) == [(fd, select.POLLOUT)]


def test_poll_of_a_typed_file_waits_for_its_type():
    with watched_mount() as m:
        ident = make_queue(m, 1)
        SysV.msgsnd(ident, b"type one")
        with opened(m.sysv("msg", 1, "@5"), os.O_RDONLY | os.O_NONBLOCK) as fd, \
                opened(m.sysv("msg", 1, "@~1"), os.O_RDONLY | os.O_NONBLOCK) as other:
            assert polled(fd, select.POLLIN, 0.2) == []
            assert polled(other, select.POLLIN, 0.2) == []
            sender = threading.Timer(SETTLE, SysV.msgsnd, [ident, b"type five", 5])
            sender.start()
            try:
                ready = polled(fd, select.POLLIN, WAIT_LIMIT)
            finally:
                sender.join()
            assert ready == [(fd, select.POLLIN)], ready
            assert polled(other, select.POLLIN, 0) == [(other, select.POLLIN)]
            assert os.read(fd, 100) == b"type five"
            assert polled(fd, select.POLLIN, 0.1) == []
        assert drain(ident) == [(1, b"type one")]


def test_epoll_woken_by_a_direct_send():
    with watched_mount() as m:
        ident = make_queue(m, 1)
        with opened(m.sysv("msg", 1), os.O_RDONLY | os.O_NONBLOCK) as fd, \
                select.epoll() as ep:
            ep.register(fd, select.EPOLLIN)
            assert ep.poll(0.2) == []
            sender = threading.Timer(SETTLE, SysV.msgsnd, [ident, b"epolled"])
            sender.start()
            try:
                ready = ep.poll(WAIT_LIMIT)
            finally:
                sender.join()
            assert ready == [(fd, select.EPOLLIN)], ready
            assert os.read(fd, 100) == b"epolled"
        assert qnum(ident) == 0


def test_zero_byte_message_taken_by_a_waiting_poll():
    """The waiting poll's msgrcv has no room, which a zero-byte message
    fits: the file's next read returns it; closed unread, it is sent back,
    to the end of the queue."""
    with watched_mount() as m:
        ident = make_queue(m, 1)
        for read_it in (True, False):
            with opened(m.sysv("msg", 1), os.O_RDONLY | os.O_NONBLOCK) as fd:
                sender = threading.Timer(SETTLE, SysV.msgsnd, [ident, b"", 3])
                sender.start()
                try:
                    ready = polled(fd, select.POLLIN, WAIT_LIMIT)
                finally:
                    sender.join()
                assert ready == [(fd, select.POLLIN)], ready
                assert qnum(ident) == 0
                SysV.msgsnd(ident, b"later")
                if read_it:
                    assert os.read(fd, 100) == b""
                    assert os.read(fd, 100) == b"later"
                    expect_errno(errno.EAGAIN, os.read, fd, 100)
            expect_left(ident, [] if read_it else [(1, b"later"), (3, b"")])


def test_zero_byte_message_after_a_poll_timed_out():
    """A poll that found nothing and gave up waits no more: a zero-byte
    message sent after it is the next one a read of that file gets, in its
    place in the queue."""
    with watched_mount() as m:
        ident = make_queue(m, 1)
        with opened(m.sysv("msg", 1), os.O_RDONLY | os.O_NONBLOCK) as fd:
            assert polled(fd, select.POLLIN, 0.2) == []
            SysV.msgsnd(ident, b"", 3)
            SysV.msgsnd(ident, b"next")
            time.sleep(SETTLE)
            left = qnum(ident)
            got = []
            for _ in range(2):
                try:
                    got.append(os.read(fd, 100))
                except OSError as e:
                    got.append(errno_name(e.errno))
            assert got == [b"", b"next"], \
                "reads after the poll: %r (qnum was %d after the sends)" % (got, left)


def test_closing_a_polled_file_frees_its_thread():
    """A poll that finds nothing holds a thread until the file closes."""
    with watched_mount("allow_other,sysv_threads=1") as m, waiters() as started:
        polled_queue = make_queue(m, 1)
        other = make_queue(m, 2)
        with opened(m.sysv("msg", 1), os.O_RDONLY | os.O_NONBLOCK) as fd:
            assert polled(fd, select.POLLIN, 0.2) == []
        started.append(Waiter(m.sysv("msg", 2)).begin(m))
        SysV.msgsnd(other, b"thread free")
        assert started[0].finish(5) == b"thread free"
        SysV.msgsnd(polled_queue, b"")
        expect_left(polled_queue, [(1, b"")])  # the closed file's poll took nothing


# Permissions, shells, the rest ------------------------------------------------------------

def test_non_root_refused():
    with Mount() as m:
        private = make_queue(m, 1, 0o600)
        readable = make_queue(m, 2, 0o644)
        writable = make_queue(m, 3, 0o622)
        SysV.msgsnd(private, b"root's")
        SysV.msgsnd(readable, b"for anyone")

        def attempts(p, p_at_1, r, w):
            return ([outcome_of(os.open, p, flags)
                     for flags in (os.O_RDONLY, os.O_WRONLY, os.O_RDWR,
                                   os.O_RDONLY | os.O_NONBLOCK)],
                    [outcome_of(os.open, p_at_1, os.O_RDONLY), outcome_of(os.open, r, os.O_WRONLY),
                     outcome_of(os.open, w, os.O_RDONLY)],
                    [outcome_of(os.unlink, p), outcome_of(os.chmod, p, 0o666),
                     outcome_of(os.chown, p, NOBODY, NOBODY)],
                    read_once(r, flags=os.O_NONBLOCK),
                    write_once(w, b"from nobody"))
        # The paths are worked out here: m.key depends on the pid.
        opens, others, changes, got, wrote = as_user(
            NOBODY, attempts, m.sysv("msg", 1), m.sysv("msg", 1, "@1"), m.sysv("msg", 2),
            m.sysv("msg", 3))
        assert opens == ["EACCES"] * 4, opens
        assert others == ["EACCES"] * 3, others
        assert changes[0] in ("EPERM", "EACCES") and changes[1] in ("EPERM", "EACCES") \
            and changes[2] == "EPERM", changes
        assert (got, wrote) == (b"for anyone", 11)
        row = proc_row(private)
        assert (row["perms"], row["uid"], row["qnum"]) == (0o600, 0, 1)
        assert drain(private) == [(1, b"root's")]
        assert drain(writable) == [(1, b"from nobody")]
        assert proc_row(writable)["lspid"] == m.proc.pid


def test_owner_changes_and_removes_their_queue():
    with Mount() as m:
        def as_owner(path):
            os.umask(0)
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            return (outcome_of(os.chmod, path, 0o640), outcome_of(os.chown, path, 0, 0),
                    outcome_of(os.chmod, path, 0o4640), oct(os.stat(path).st_mode),
                    outcome_of(os.unlink, path), outcome_of(os.stat, path))
        got = as_user(NOBODY, as_owner, m.sysv("msg", 1))
        assert got == ("ok", "EPERM", "EINVAL", "0o100640", "ok", "ENOENT"), got
        expect_errno(errno.ENOENT, SysV.msgget, m.key(1))


def test_shell_echo_cat_and_o_trunc():
    with Mount() as m:
        ident = make_queue(m, 1, 0o666)
        path = m.sysv("msg", 1)
        out = subprocess.run(["sh", "-c", "echo hello > '%s' && printf typed > '%s@3'"
                              % (path, path)], capture_output=True, timeout=10)
        assert (out.returncode, out.stderr) == (0, b""), out
        # O_TRUNC and truncate to 0 are accepted and cut nothing.
        os.close(os.open(path, os.O_WRONLY | os.O_TRUNC))
        os.truncate(path, 0)
        assert qnum(ident) == 2
        expect_errno(errno.EINVAL, os.truncate, path, 10)
        out = subprocess.run(["dd", "if=" + path, "bs=100", "count=1", "status=none"],
                             capture_output=True, timeout=10)
        assert (out.returncode, out.stdout) == (0, b"hello\n"), out
        assert drain(ident) == [(3, b"typed")]


def test_mmap_and_lseek():
    with Mount() as m:
        ident = make_queue(m, 1)
        SysV.msgsnd(ident, b"stays")
        with opened(m.sysv("msg", 1), os.O_RDWR) as fd:
            expect_errno(errno.ENODEV, mmap.mmap, fd, 4096)
            expect_errno(errno.ESPIPE, os.lseek, fd, 0, os.SEEK_SET)
            expect_errno(errno.ESPIPE, os.pread, fd, 10, 0)
        assert drain(ident) == [(1, b"stays")]


def test_mkdir_ln_mv_are_eperm():
    with Mount() as m:
        make_queue(m, 1)
        path, other = m.sysv("msg", 1), m.sysv("msg", 2)
        expect_errno(errno.EPERM, os.mkdir, other)
        expect_errno(errno.EPERM, os.link, path, other)
        expect_errno(errno.EPERM, os.rename, path, other)
        expect_errno(errno.EPERM, os.symlink, path, other)
        assert os.path.exists(path) and not os.path.exists(other)
        expect_errno(errno.ENOENT, SysV.msgget, m.key(2))


def test_daemon_survives_bad_input():
    with watched_mount() as m:
        ident = make_queue(m, 1)
        for suffix in ("@~1", "@-3"):
            with opened(m.sysv("msg", 1, suffix), os.O_RDWR | os.O_NONBLOCK) as fd:
                for size in (1, 100, 4096, MSGMAX, MSGMAX + 1):
                    expect_errno(errno.EINVAL, os.write, fd, os.urandom(size))
        assert qnum(ident) == 0
        junk = os.urandom(3000)
        assert write_once(m.sysv("msg", 1), junk) == len(junk)
        key = "0x%08x" % m.key(1)
        for name in ("0x\x01\x02\x03\x04\x05\x06\x07\x08", "0x5a\n00001", key + "\x7f",
                     key + "@\x01", key + "@7\x1b", "id.\x1b[0m", "\x01" * 200,
                     "0x" + "f" * 200, "\t", key[:-1] + "\x7f", "id.\n1"):
            path = os.path.join(msg_dir(m), name)
            expect_errno(errno.ENOENT, os.stat, path)
            expect_errno(errno.EINVAL, os.open, path, os.O_CREAT | os.O_WRONLY, 0o600)
            expect_errno(errno.ENOENT, os.unlink, path)
            assert m.alive()
        for attr in ("user.\x01", "user." + "x" * 200, "trusted.x", "user.msg."):
            expect_errno(errno.ENODATA, os.getxattr, m.sysv("msg", 1), attr)
        assert m.alive()
        assert read_once(m.sysv("msg", 1)) == junk
        assert write_once(m.sysv("msg", 1), b"still here") == 10
        assert drain(ident) == [(1, b"still here")]


if __name__ == "__main__":
    for limit in (resource.RLIMIT_NOFILE,):
        hard = resource.getrlimit(limit)[1]
        resource.setrlimit(limit, (hard, hard))
    threading.stack_size(256 << 10)
    run(globals())
