"""The mount fixture and a small TAP runner for Python tests.

Mount() starts a fresh ipcfs in the foreground at a temporary directory
and, on leaving, removes the queues named with its prefix and unmounts,
whether the test passed or not. run(globals()) runs every test_* function
in order and prints TAP. Needs IPCFS and MQTOOL from meson.
"""
import contextlib
import ctypes
import ctypes.util
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

IPCFS = os.environ.get("IPCFS", "")
MQTOOL = os.environ.get("MQTOOL", "")

PR_SET_PDEATHSIG = 1


def _die_with_the_test():
    """In a daemon's child, before exec: SIGTERM (on which ipcfs unmounts)
    once the test that started it is gone, however it ended, SIGKILL too."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def start_daemon(args, launcher=(), **popen_kwargs):
    """subprocess.Popen(launcher + [IPCFS] + args): a daemon that ends with
    the test."""
    return subprocess.Popen(list(launcher) + [IPCFS] + list(args), preexec_fn=_die_with_the_test,
                            **popen_kwargs)


def _exit_on_sigterm(signum, frame):
    # meson stops a test that runs too long with SIGTERM: raised as an
    # exception, it leaves every `with Mount()` through its cleanup.
    sys.exit(128 + signum)


signal.signal(signal.SIGTERM, _exit_on_sigterm)


class Mount:
    def __init__(self, options="allow_other"):
        self.options = options
        self.prefix = "t%d-" % os.getpid()
        self.path = None
        self.proc = None

    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="ipcfs-test.")
        self.mq = os.path.join(self.path, "mq")
        self.log = tempfile.TemporaryFile()
        self.proc = start_daemon(["-f", self.path, "-o", self.options], stderr=self.log)
        deadline = time.time() + 5
        while time.time() < deadline:
            if self.mounted():
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.__exit__(None, None, None)
        raise RuntimeError("ipcfs did not mount")

    def mounted(self):
        with open("/proc/mounts") as f:
            return any(line.split()[1] == self.path and line.split()[2] == "fuse.ipcfs"
                       for line in f)

    def name(self, suffix):
        """A queue name this mount's cleanup will remove."""
        return self.prefix + suffix

    def queue(self, suffix):
        return os.path.join(self.mq, self.name(suffix))

    def segment(self, suffix):
        return os.path.join(self.path, "shm", self.name(suffix))

    def key(self, n):
        """The System V key number n of this test run (0 <= n < 256); the
        mount's cleanup removes every object with such a key."""
        return sysv_key_base(os.getpid()) + n

    def sysv(self, kind, n, suffix=""):
        """The path of sysv/KIND/ for key number n, as "0x%08x" + suffix."""
        return os.path.join(self.path, "sysv", kind, "0x%08x%s" % (self.key(n), suffix))

    def __exit__(self, *exc):
        remove_sysv_objects(sysv_key_base(os.getpid()))
        subprocess.run([MQTOOL, "clean", self.prefix], stderr=subprocess.DEVNULL)
        for entry in os.listdir("/dev/shm"):
            if entry.startswith(self.prefix) or entry.startswith("sem." + self.prefix):
                os.unlink(os.path.join("/dev/shm", entry))
        if self.mounted():
            if subprocess.run(["umount", self.path], stderr=subprocess.DEVNULL).returncode:
                subprocess.run(["umount", "-l", self.path], stderr=subprocess.DEVNULL)
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        os.rmdir(self.path)
        return False

    def alive(self):
        return self.proc.poll() is None


# What each kind's file lists as its xattrs, in this order (the README's
# tables say what each holds).
SYSV_COMMON_XATTRS = ["user.sysv.id", "user.sysv.key", "user.sysv.cuid", "user.sysv.cgid"]
KIND_XATTRS = {
    "mq": ["user.mq.maxmsg", "user.mq.msgsize", "user.mq.curmsgs", "user.mq.priority",
           "user.mq.qsize", "user.mq.notify", "user.mq.signo", "user.mq.notify_pid"],
    "sem": ["user.sem.value"],
    "shm": [],
    "sysv/msg": SYSV_COMMON_XATTRS + [
        "user.msg.qnum", "user.msg.cbytes", "user.msg.qbytes", "user.msg.lspid",
        "user.msg.lrpid", "user.msg.stime", "user.msg.rtime", "user.msg.ctime"],
    "sysv/sem": SYSV_COMMON_XATTRS + [
        "user.sem.nsems", "user.sem.otime", "user.sem.ctime", "user.sem.semval",
        "user.sem.semncnt", "user.sem.semzcnt", "user.sem.sempid"],
    "sysv/shm": SYSV_COMMON_XATTRS + [
        "user.shm.segsz", "user.shm.nattch", "user.shm.cpid", "user.shm.lpid",
        "user.shm.atime", "user.shm.dtime", "user.shm.ctime", "user.shm.status"],
}
# ... and then, on every object, the processes that hold it.
HOLDERS_XATTR = "user.ipc.holders"
for _names in KIND_XATTRS.values():
    _names.append(HOLDERS_XATTR)


def sysv_key_base(pid):
    """Keys 0x5aPPPP00 to 0x5aPPPPff belong to the test run with pid PPPP
    (its low 16 bits); tests/lib.sh uses the same."""
    return 0x5a000000 | ((pid & 0xffff) << 8)


def remove_sysv_objects(base):
    """ipcrm of every System V object whose key is base to base + 255."""
    for kind, flag in (("msg", "-q"), ("sem", "-s"), ("shm", "-m")):
        # Read whole first: removing while reading skips entries.
        with open("/proc/sysvipc/" + kind) as f:
            rows = f.read().splitlines()[1:]
        for line in rows:
            key, ident = int(line.split()[0]), line.split()[1]
            if key & 0xffffffff & ~0xff == base:
                subprocess.run(["ipcrm", flag, ident], stderr=subprocess.DEVNULL)


class SysV:
    """The System V calls through ctypes, for interop checks. Each raises
    OSError on failure."""
    libc = ctypes.CDLL(None, use_errno=True)
    IPC_CREAT, IPC_EXCL, IPC_NOWAIT, IPC_RMID, IPC_STAT = 0o1000, 0o2000, 0o4000, 0, 2
    MSG_NOERROR, MSG_EXCEPT = 0o10000, 0o20000
    GETVAL, GETALL, SETVAL, SETALL = 12, 13, 16, 17

    class SemBuf(ctypes.Structure):
        _fields_ = [("num", ctypes.c_ushort), ("op", ctypes.c_short), ("flg", ctypes.c_short)]

    @classmethod
    def _check(cls, r):
        if r == -1 or r == ctypes.c_void_p(-1).value:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
        return r

    @classmethod
    def msgget(cls, key, flags=0):
        return cls._check(cls.libc.msgget(ctypes.c_int(key), flags))

    @classmethod
    def msgsnd(cls, ident, data, mtype=1, flags=0):
        buf = ctypes.create_string_buffer(8 + len(data))
        ctypes.c_long.from_buffer(buf).value = mtype
        ctypes.memmove(ctypes.addressof(buf) + 8, data, len(data))
        cls._check(cls.libc.msgsnd(ident, buf, ctypes.c_size_t(len(data)), flags))

    @classmethod
    def msgrcv(cls, ident, size=65536, mtype=0, flags=0):
        """(type, bytes) of the message received."""
        buf = ctypes.create_string_buffer(8 + size)
        cls.libc.msgrcv.restype = ctypes.c_ssize_t
        n = cls._check(cls.libc.msgrcv(ident, buf, ctypes.c_size_t(size),
                                       ctypes.c_long(mtype), flags))
        return ctypes.c_long.from_buffer(buf).value, buf.raw[8:8 + n]

    @classmethod
    def msgrm(cls, ident):
        cls._check(cls.libc.msgctl(ident, cls.IPC_RMID, None))

    @classmethod
    def semget(cls, key, nsems=0, flags=0):
        return cls._check(cls.libc.semget(ctypes.c_int(key), nsems, flags))

    @classmethod
    def semop(cls, ident, ops, flags=0):
        """ops: [(num, op), ...], each with flags."""
        arr = (cls.SemBuf * len(ops))(*[cls.SemBuf(n, o, flags) for n, o in ops])
        cls._check(cls.libc.semop(ident, arr, ctypes.c_size_t(len(ops))))

    @classmethod
    def semvalues(cls, ident, nsems):
        arr = (ctypes.c_ushort * nsems)()
        cls._check(cls.libc.semctl(ident, 0, cls.GETALL, arr))
        return list(arr)

    @classmethod
    def semsetval(cls, ident, num, value):
        cls._check(cls.libc.semctl(ident, num, cls.SETVAL, ctypes.c_int(value)))

    @classmethod
    def semrm(cls, ident):
        cls._check(cls.libc.semctl(ident, 0, cls.IPC_RMID))

    @classmethod
    def shmget(cls, key, size=0, flags=0):
        return cls._check(cls.libc.shmget(ctypes.c_int(key), ctypes.c_size_t(size), flags))

    @classmethod
    def shmat(cls, ident, flags=0):
        """The address of a new attachment (an int); read and write it with
        ctypes.string_at / ctypes.memmove."""
        cls.libc.shmat.restype = ctypes.c_void_p
        return cls._check(cls.libc.shmat(ident, None, flags))

    @classmethod
    def shmdt(cls, addr):
        cls._check(cls.libc.shmdt(ctypes.c_void_p(addr)))

    @classmethod
    def shmrm(cls, ident):
        cls._check(cls.libc.shmctl(ident, cls.IPC_RMID, None))


class Attached:
    """A direct attachment of a segment (shmat), detached on leaving."""

    def __init__(self, ident):
        self.addr = SysV.shmat(ident)

    def read(self, offset, size):
        return ctypes.string_at(self.addr + offset, size)

    def write(self, offset, data):
        ctypes.memmove(self.addr + offset, data, len(data))

    def detach(self):
        if self.addr is not None:
            SysV.shmdt(self.addr)
            self.addr = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.detach()


@contextlib.contextmanager
def watched_mount(options="allow_other", seconds=30):
    """Mount(options), whose daemon is killed if the test and the unmount
    are not over after `seconds`: what waits on it then fails (ENOTCONN)
    instead of hanging the test run, and the failure says why."""
    mount = Mount(options)
    killed = threading.Event()

    def kill():
        killed.set()
        if mount.proc:
            mount.proc.kill()

    timer = threading.Timer(seconds, kill)
    timer.daemon = True
    timer.start()
    try:
        with mount as m:
            yield m
    finally:
        timer.cancel()
        if killed.is_set():
            raise AssertionError("ipcfs stopped answering: killed after %g s" % seconds)


class LineChild:
    """A helper process driven a line at a time on its stdin, each answered
    with one line; ended (stdin closed, killed after 5 s) on leaving."""

    def __init__(self, argv, **popen_kwargs):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, **popen_kwargs)

    def ask(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def end(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.end()


class PosixQueue:
    """mq_open and friends through ctypes, for interop checks."""
    _rt = ctypes.CDLL(ctypes.util.find_library("rt") or "librt.so.1", use_errno=True)

    class Attr(ctypes.Structure):
        _fields_ = [("flags", ctypes.c_long), ("maxmsg", ctypes.c_long),
                    ("msgsize", ctypes.c_long), ("curmsgs", ctypes.c_long),
                    ("pad", ctypes.c_long * 4)]

    def __init__(self, name, flags=os.O_RDWR, mode=0o600, maxmsg=0, msgsize=0):
        rt = self._rt
        rt.mq_open.restype = ctypes.c_int
        path = ("/" + name).encode()
        if flags & os.O_CREAT and maxmsg:
            attr = self.Attr(0, maxmsg, msgsize, 0)
            self.mqd = rt.mq_open(path, flags, mode, ctypes.byref(attr))
        elif flags & os.O_CREAT:
            self.mqd = rt.mq_open(path, flags, mode, None)
        else:
            self.mqd = rt.mq_open(path, flags)
        if self.mqd < 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e), name)

    def attr(self):
        a = self.Attr()
        self._check(self._rt.mq_getattr(self.mqd, ctypes.byref(a)))
        return a

    def send(self, data, prio=0):
        self._check(self._rt.mq_send(self.mqd, data, len(data), prio))

    def receive(self):
        size = self.attr().msgsize
        buf = ctypes.create_string_buffer(size)
        prio = ctypes.c_uint()
        self._rt.mq_receive.restype = ctypes.c_ssize_t
        n = self._rt.mq_receive(self.mqd, buf, size, ctypes.byref(prio))
        self._check(n)
        return buf.raw[:n], prio.value

    def close(self):
        self._rt.mq_close(self.mqd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @staticmethod
    def unlink(name):
        return PosixQueue._rt.mq_unlink(("/" + name).encode())

    @staticmethod
    def _check(r):
        if r < 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))


def create_queue(name, mode=0o600, maxmsg=10, msgsize=64):
    """Creates a queue directly with exactly this mode, whatever the umask.
    Returns it open O_RDWR | O_NONBLOCK: a send to a full queue or a receive
    from an empty one fails with EAGAIN instead of hanging the test."""
    q = PosixQueue(name, os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_NONBLOCK,
                   mode, maxmsg, msgsize)
    os.fchmod(q.mqd, mode)
    return q


def direct_owner_and_mode(name):
    """(uid, gid, permission bits) of a queue as the kernel has them, from an
    fstat of an mq_open'd descriptor, bypassing the mount."""
    q = PosixQueue(name, os.O_RDONLY | os.O_NONBLOCK)
    try:
        st = os.fstat(q.mqd)
    finally:
        q.close()
    return st.st_uid, st.st_gid, st.st_mode & 0o7777


@contextlib.contextmanager
def opened(path, flags):
    """A descriptor of os.open(path, flags), closed on leaving."""
    fd = os.open(path, flags)
    try:
        yield fd
    finally:
        os.close(fd)


def as_user(uid, fn, *args, gid=None, groups=(), umask=None):
    """fn(*args) run in a forked child as uid, gid (default: uid) and these
    supplementary groups (default: none), with umask if given. Returns
    what it returned; raises what it raised."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            try:
                os.setgroups(list(groups))
                os.setgid(uid if gid is None else gid)
                os.setuid(uid)
                if umask is not None:
                    os.umask(umask)
                outcome = (True, fn(*args))
            except BaseException as e:
                outcome = (False, e)
            with os.fdopen(w, "wb") as f:
                pickle.dump(outcome, f)
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        succeeded, value = pickle.load(f)
    os.waitpid(pid, 0)
    if not succeeded:
        raise value
    return value


class KernelSetting:
    """A kernel setting (a /proc/sys or /sys file) set to value for a
    block, and put back as it was after, however the block ends."""

    def __init__(self, path, value):
        self.path = path
        self.value = value

    def __enter__(self):
        with open(self.path) as f:
            self.old = f.read().strip()
        with open(self.path, "w") as f:
            f.write(str(self.value))
        return self

    def __exit__(self, *exc):
        with open(self.path, "w") as f:
            f.write(self.old)
        return False


def within(seconds, what, fn, *args):
    """fn(*args) run in a daemon thread; fails if it does not answer within
    seconds (a stuck call is left for the mount's cleanup to end)."""
    outcome = {}

    def call():
        try:
            outcome["result"] = fn(*args)
        except BaseException as e:
            outcome["error"] = e

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "%s did not answer within %g s" % (what, seconds)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def outcomes(tries):
    """{what: "ok" or the errno's name} of each call of the dict tries."""
    got = {}
    for what, fn in tries.items():
        try:
            fn()
            got[what] = "ok"
        except OSError as e:
            got[what] = errno_name(e.errno)
    return got


def wait_until(condition, what, limit=10):
    """Waits until condition() holds; fails, naming what, after limit s."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for: " + what
        time.sleep(0.01)


def expect_errno(err, fn, *args, **kwargs):
    """Calls fn and asserts that it fails with OSError err."""
    try:
        fn(*args, **kwargs)
    except OSError as e:
        assert e.errno == err, "expected %s, got %s" % (
            errno_name(err), errno_name(e.errno))
        return
    raise AssertionError("expected %s, but it succeeded" % errno_name(err))


def errno_name(e):
    import errno
    return errno.errorcode.get(e, str(e))


def run(namespace):
    if not os.path.exists("/dev/fuse"):
        print("1..0 # SKIP no /dev/fuse")
        sys.exit(77)
    # IPCFS_TEST_ONLY=WORD runs only the tests whose name holds WORD.
    only = os.environ.get("IPCFS_TEST_ONLY", "")
    tests = [(n, f) for n, f in namespace.items()
             if n.startswith("test_") and callable(f) and only in n]
    failed = 0
    for i, (name, fn) in enumerate(tests, 1):
        try:
            fn()
            print("ok %d - %s" % (i, name), flush=True)
        except Exception:
            failed += 1
            print("not ok %d - %s" % (i, name), flush=True)
            for line in traceback.format_exc().splitlines():
                print("#   " + line, flush=True)
            # Also where meson's --print-errorlogs shows it, which for a
            # TAP test is stderr alone: CI's summary then says why.
            print("%s failed:\n%s" % (name, traceback.format_exc()[-6000:]), file=sys.stderr,
                  flush=True)
    print("1..%d" % len(tests))
    sys.exit(1 if failed else 0)
