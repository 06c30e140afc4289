"""An open file is bound to the object it opened, and a path to the object
its name holds now.

For every kind: an object that loses its name while a file through the
mount is open on it (removed through the mount or by another program)
keeps working through that file, and fstat says st_nlink 0; fchmod,
fchown, futimens and the xattr calls on the file act on that object;
after another program gave the name to a new object, the old file still
reaches the old one and leaves the new one alone, while paths reach the
new one. Each is checked against a native handle of the same object taken
before the removal (an fd of /dev/shm/NAME, an mq descriptor, a shmat
address, a System V id). System V queues and semaphore sets, which die
with IPC_RMID, answer EIDRM through such a file but still fstat as they
were. Then: O_CREAT opens racing a program that removes and makes the
name again never fail, as root and as a user, and creating and removing
one queue many times costs the daemon no memory.

Cases that check many things run each check on its own and report every
one that failed. IPCFS_TEST_SIZE=full runs the loops longer."""
import collections
import contextlib
import ctypes
import errno
import functools
import mmap
import os
import signal
import struct
import time

from ipcfs_test import (KIND_XATTRS, Attached, Mount, PosixQueue, SysV, as_user, create_queue,
                        errno_name, expect_errno, run, start_daemon, wait_until, watched_mount)

FULL = os.environ.get("IPCFS_TEST_SIZE") == "full"
RACE_OPENS = 20000 if FULL else 2000
MEMORY_CYCLES = 60000 if FULL else 20000
MEMORY_LIMIT_KB = 512  # the name-keyed table of before: about 55 bytes a cycle
NOBODY = 65534
DIRECT = "/dev/shm"
MODES = {"passthrough": "allow_other", "fallback": "allow_other,no_passthrough"}
PROBE = "user.ipcfs-test"  # an xattr no object has
# Times set through open files: exact to the nanosecond where the object
# keeps them so (tmpfs), whole seconds for queues (mqueue keeps seconds,
# and every read of a queue's status, as each stat is, touches its atime).
TIMES_NS = (1600000000123456789, 1600000001987654321)
TIMES_S = (1500000000 * 10**9, 1500000001 * 10**9)
MQ_XATTRS = sorted(KIND_XATTRS["mq"])


# Checking ---------------------------------------------------------------------------------

class Checks:
    """Runs each check on its own, so that one failure does not hide the
    others; done() fails with the list of every check that failed."""

    def __init__(self, what):
        self.what = what
        self.failed = []
        self.count = 0

    def __call__(self, label, fn, *args):
        self.count += 1
        try:
            fn(*args)
        except OSError as e:
            self.failed.append("%s: %s (%s)" % (label, errno_name(e.errno), e.strerror))
        except Exception as e:
            self.failed.append("%s: %s" % (label, str(e) or type(e).__name__))

    def add(self, failures):
        """Failures a child process reported (Checks.failed there)."""
        self.failed.extend(failures)

    def done(self):
        if self.failed:
            raise AssertionError("%s: %d check(s) failed:\n%s" % (
                self.what, len(self.failed), "\n".join("  - " + f for f in self.failed)))


def same(got, want, what="got"):
    if isinstance(got, Mode) and isinstance(want, int):
        want = Mode(want)
    if got != want:
        raise AssertionError("%s %r, want %r" % (what, got, want))


def outcome(fn, *args):
    """What fn(*args) answered: its value, or its errno's name."""
    try:
        return fn(*args)
    except OSError as e:
        return errno_name(e.errno)


class Mode(int):
    """Permission bits that print in octal."""

    def __repr__(self):
        return oct(self)


def owner_mode(st):
    return (st.st_uid, st.st_gid, Mode(st.st_mode & 0o7777))


def step(label, fn, *args):
    """fn(*args); a failure says which step failed and how."""
    try:
        return fn(*args)
    except OSError as e:
        raise AssertionError("%s: %s (%s)" % (label, errno_name(e.errno), e.strerror)) from None


def check_nlink(c, fd, want):
    c("fstat(fd).st_nlink", lambda: same(os.fstat(fd).st_nlink, want, "st_nlink"))


def check_fstat_like(c, fd, native_fstat, size=None):
    """fstat through the mount works and shows the object's owner and mode
    (and size), as a native fstat of it does."""
    def check():
        st, want = os.fstat(fd), native_fstat()
        same(owner_mode(st), owner_mode(want), "(uid, gid, mode)")
        if size is not None:
            same(st.st_size, size, "st_size")
    c("fstat(fd) shows the object", check)


def check_metadata_ops(c, fd, native_fstat, times=TIMES_NS, atime_too=True, other=None):
    """fchmod, fchown and futimens on fd change the object native_fstat()
    looks at (and, if given, not the one other() looks at)."""
    other_before = other() if other else None

    def chmod():
        os.fchmod(fd, 0o640)
        same(Mode(native_fstat().st_mode & 0o7777), 0o640, "the object's mode")
        same(Mode(os.fstat(fd).st_mode & 0o7777), 0o640, "fstat(fd)'s mode")

    def chown():
        os.fchown(fd, NOBODY, NOBODY)
        same(native_fstat().st_uid, NOBODY, "the object's uid")
        same(native_fstat().st_gid, NOBODY, "the object's gid")
        same(os.fstat(fd).st_uid, NOBODY, "fstat(fd)'s uid")

    def utime():
        os.utime(fd, ns=times)
        st = native_fstat()
        got = (st.st_atime_ns, st.st_mtime_ns) if atime_too else (times[0], st.st_mtime_ns)
        same(got, times, "the object's (atime, mtime)")

    c("fchmod(fd, 0o640)", chmod)
    c("fchown(fd, 65534, 65534)", chown)
    c("os.utime(fd, ns=%r)" % (times,), utime)
    if other:
        c("the name's new object untouched by fchmod/fchown/utime of the old file",
          lambda: same(other(), other_before, "the new object's (uid, gid, mode, mtime)"))


def metadata(st):
    return owner_mode(st) + (st.st_mtime_ns,)


def xattr_answers(fd):
    """What listxattr, getxattr of each name listed and of PROBE, and
    setxattr of PROBE answer on fd."""
    names = outcome(os.listxattr, fd)
    answers = {"listxattr": sorted(names) if isinstance(names, list) else names}
    for name in (names if isinstance(names, list) else []) + [PROBE]:
        answers["getxattr " + name] = outcome(os.getxattr, fd, name)
    answers["setxattr " + PROBE] = outcome(os.setxattr, fd, PROBE, b"1")
    return answers


@contextlib.contextmanager
def opened_fd(path, flags, mode=0o600):
    """A descriptor of os.open(path, flags, mode), closed on leaving."""
    fd = os.open(path, flags, mode)
    try:
        yield fd
    finally:
        os.close(fd)


class TimedOut(Exception):
    pass


def within(seconds, fn, *args):
    """fn(*args), given up after seconds (a read or write through the
    mount is interrupted, which it answers EINTR) with TimedOut."""
    def on_alarm(signum, frame):
        raise TimedOut("%s did not return within %g s" % (getattr(fn, "__name__", fn), seconds))
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)



# The objects, natively -------------------------------------------------------------------

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.sem_open.restype = ctypes.c_void_p
for _fn in ("sem_post", "sem_close"):
    getattr(LIBC, _fn).argtypes = [ctypes.c_void_p]
LIBC.sem_getvalue.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]


class NamedSem:
    """The semaphore NAME as any program sees it: sem_open through ctypes."""

    def __init__(self, name, create=False, mode=0o600, value=0):
        path = ("/" + name).encode()
        if create:
            self.sem = LIBC.sem_open(path, ctypes.c_int(os.O_CREAT | os.O_EXCL),
                                     ctypes.c_uint(mode), ctypes.c_uint(value))
        else:
            self.sem = LIBC.sem_open(path, ctypes.c_int(0))
        if not self.sem:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e), name)

    def value(self):
        v = ctypes.c_int()
        if LIBC.sem_getvalue(self.sem, ctypes.byref(v)) < 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
        return v.value

    def post(self):
        if LIBC.sem_post(self.sem) < 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))

    def close(self):
        if self.sem:
            LIBC.sem_close(self.sem)
            self.sem = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def shm_file(m, suffix):
    return os.path.join(DIRECT, m.name(suffix))


def sem_file(m, suffix):
    return os.path.join(DIRECT, "sem." + m.name(suffix))


def sem_path(m, suffix):
    return os.path.join(m.path, "sem", m.name(suffix))


def make_segment_file(m, suffix, data, mode=0o600):
    """/dev/shm/NAME made natively, exactly this mode; its descriptor."""
    fd = os.open(shm_file(m, suffix), os.O_RDWR | os.O_CREAT | os.O_EXCL, mode)
    os.fchmod(fd, mode)
    os.pwrite(fd, data, 0)
    return fd


def mq_unlink(name):
    if PosixQueue.unlink(name) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), "mq_unlink " + name)


def drain(q):
    """Every message left in q (opened O_NONBLOCK), as (bytes, priority)."""
    got = []
    while True:
        try:
            got.append(q.receive())
        except OSError as e:
            if e.errno == errno.EAGAIN:
                return got
            raise


def sysv_get(kind, key, mode, size):
    """A new System V object made natively: size is a segment's bytes or a
    set's semaphores; its id."""
    flags = SysV.IPC_CREAT | SysV.IPC_EXCL | mode
    if kind == "msg":
        return SysV.msgget(key, flags)
    if kind == "sem":
        return SysV.semget(key, size, flags)
    return SysV.shmget(key, size, flags)


def sysv_rm(kind, ident):
    {"msg": SysV.msgrm, "sem": SysV.semrm, "shm": SysV.shmrm}[kind](ident)


def sysv_row(kind, ident):
    """The object's line of /proc/sysvipc/KIND as {column: text}, or None."""
    with open("/proc/sysvipc/" + kind) as f:
        lines = f.read().splitlines()
    columns = lines[0].split()
    for line in lines[1:]:
        row = dict(zip(columns, line.split()))
        if int(row[{"msg": "msqid", "sem": "semid", "shm": "shmid"}[kind]]) == ident:
            return row
    return None


def sysv_perms(kind, ident):
    row = sysv_row(kind, ident)
    # Without SHM_DEST (01000), which a removed segment still attached shows.
    return None if row is None else Mode(int(row["perms"], 8) & 0o777)


def vm_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


def register(name, fn, *args):
    """A test_NAME running fn(*args), for run(globals())."""
    test = functools.partial(fn, *args)
    test.__name__ = name
    globals()[name] = test


# 1. Removed while open: shm/ --------------------------------------------------------------

def shm_removed_while_open(how):
    with watched_mount() as m:
        path, direct = m.segment("seg"), shm_file(m, "seg")
        native = make_segment_file(m, "seg", b"0123456789")
        fd = None
        try:
            fd = os.open(path, os.O_RDWR)
            assert os.fstat(fd).st_nlink == 1, "st_nlink %d while named" % os.fstat(fd).st_nlink
            before = xattr_answers(fd)
            os.unlink(path if how == "through_the_mount" else direct)
            assert not os.path.exists(direct)
            expect_errno(errno.ENOENT, os.stat, path)

            c = Checks("shm/ segment removed %s while open" % how.replace("_", " "))
            check_nlink(c, fd, 0)
            check_fstat_like(c, fd, lambda: os.fstat(native), size=10)

            def read_write():
                os.lseek(fd, 0, os.SEEK_SET)
                same(os.read(fd, 4), b"0123", "read()")
                same(os.write(fd, b"AB"), 2, "write()")
                same(os.pread(native, 6, 0), b"0123AB", "the segment's bytes after write()")

            def pwrite():
                os.pwrite(fd, b"through", 100)
                same(os.pread(native, 7, 100), b"through", "the segment's bytes")

            def pread():
                os.pwrite(native, b"native", 200)
                same(os.pread(fd, 6, 200), b"native", "pread()")

            c("read()/write()", read_write)
            c("pwrite(fd) reaches the segment", pwrite)
            c("pread(fd) sees the segment", pread)
            c("xattr calls on fd answer as while named",
              lambda: same(xattr_answers(fd), before, "answers"))
            check_metadata_ops(c, fd, lambda: os.fstat(native))
            c.done()
        finally:
            if fd is not None:
                os.close(fd)
            os.close(native)


# 1. Removed while open: mq/ ----------------------------------------------------------------

def mq_removed_while_open(how):
    with watched_mount() as m:
        name, path = m.name("q"), m.queue("q")
        with create_queue(name, 0o600, maxmsg=10, msgsize=64) as q:
            q.send(b"first")
            q.send(b"second")
            fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
            try:
                assert os.fstat(fd).st_nlink == 1, "st_nlink %d while named" % os.fstat(fd).st_nlink
                assert sorted(os.listxattr(fd)) == MQ_XATTRS
                if how == "through_the_mount":
                    os.unlink(path)
                else:
                    mq_unlink(name)
                expect_errno(errno.ENOENT, PosixQueue, name, os.O_RDONLY)
                expect_errno(errno.ENOENT, os.stat, path)

                c = Checks("mq/ queue removed %s while open" % how.replace("_", " "))
                check_nlink(c, fd, 0)
                check_fstat_like(c, fd, lambda: os.fstat(q.mqd))
                c("getxattr(fd, user.mq.curmsgs)",
                  lambda: same(os.getxattr(fd, "user.mq.curmsgs"), b"2"))
                c("getxattr(fd) of maxmsg, msgsize, priority",
                  lambda: same([os.getxattr(fd, "user.mq." + a) for a in ("maxmsg", "msgsize", "priority")],
                               [b"10", b"64", b"0"]))
                c("listxattr(fd)", lambda: same(sorted(os.listxattr(fd)), MQ_XATTRS))
                c("read(fd) takes the queue's oldest message", lambda: same(os.read(fd, 64), b"first"))

                def write():
                    same(os.write(fd, b"via mount"), 9, "write()")
                    same(drain(q)[-1:], [(b"via mount", 0)], "the last message received natively")

                def read():
                    q.send(b"native")
                    same(within(5, os.read, fd, 64), b"native", "read()")

                def priority():
                    os.setxattr(fd, "user.mq.priority", b"7")
                    same(os.getxattr(fd, "user.mq.priority"), b"7", "getxattr(fd, priority)")
                    os.write(fd, b"urgent")
                    same(drain(q), [(b"urgent", 7)], "received natively")

                c("write(fd) reaches the queue", write)
                c("read(fd) takes what is sent natively", read)
                c("setxattr(fd, user.mq.priority) sets this queue's", priority)
                drain(q)
                check_metadata_ops(c, fd, lambda: os.fstat(q.mqd), times=TIMES_S, atime_too=False)
                c.done()
            finally:
                os.close(fd)


# 1. Removed while open: sem/ ---------------------------------------------------------------

def sem_removed_while_open(how):
    with watched_mount() as m:
        name, path, direct = m.name("s"), sem_path(m, "s"), sem_file(m, "s")
        with NamedSem(name, create=True, mode=0o600, value=2) as sem:
            os.chmod(direct, 0o600)
            native = os.open(direct, os.O_RDWR)
            fd = None
            try:
                fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
                assert os.fstat(fd).st_nlink == 1, "st_nlink %d while named" % os.fstat(fd).st_nlink
                setxattr_before = outcome(os.setxattr, fd, PROBE, b"1")
                os.unlink(path if how == "through_the_mount" else direct)
                assert not os.path.exists(direct)
                expect_errno(errno.ENOENT, os.stat, path)

                c = Checks("sem/ semaphore removed %s while open" % how.replace("_", " "))
                check_nlink(c, fd, 0)
                check_fstat_like(c, fd, lambda: os.fstat(native))
                # A stream reads its value once per open; the xattr again.
                c("read(fd, 64)", lambda: same(os.read(fd, 64), b"2\n"))

                def post():
                    same(os.write(fd, b"post"), 4, "write()")
                    same(sem.value(), 3, "the semaphore's value")

                def read():
                    sem.post()
                    same(os.getxattr(fd, "user.sem.value"), b"4", "fgetxattr()")

                def wait():
                    same(os.write(fd, b"wait"), 4, "write()")
                    same(sem.value(), 3, "the semaphore's value")

                c("write(fd, post) posts it", post)
                c("fgetxattr(fd) sees a native post", read)
                c("write(fd, wait) takes from it", wait)
                c("getxattr(fd, user.sem.value)", lambda: same(os.getxattr(fd, "user.sem.value"), b"3"))
                c("listxattr(fd)", lambda: same(os.listxattr(fd), KIND_XATTRS["sem"]))
                c("setxattr(fd) answers as while named",
                  lambda: same(outcome(os.setxattr, fd, PROBE, b"1"), setxattr_before))
                check_metadata_ops(c, fd, lambda: os.fstat(native))
                c.done()
            finally:
                if fd is not None:
                    os.close(fd)
                os.close(native)


for _how in ("through_the_mount", "natively"):
    register("test_shm_removed_%s_while_open" % _how, shm_removed_while_open, _how)
    register("test_mq_removed_%s_while_open" % _how, mq_removed_while_open, _how)
    register("test_sem_removed_%s_while_open" % _how, sem_removed_while_open, _how)


# 1, as the owner: the same through an unprivileged user's own files -------------------------

def shm_removed_while_open_by_its_owner():
    with watched_mount() as m:
        path = m.segment("own")
        native = make_segment_file(m, "own", b"data of nobody")
        os.fchown(native, NOBODY, NOBODY)

        def as_owner():
            c = Checks("as uid 65534")
            fd = os.open(path, os.O_RDWR)
            try:
                assert os.fstat(fd).st_nlink == 1
                os.unlink(path)
                check_nlink(c, fd, 0)
                check_fstat_like(c, fd, lambda: os.fstat(native), size=14)
                c("pwrite(fd)", lambda: same(os.pwrite(fd, b"DATA", 0), 4))
                c("pread(fd)", lambda: same(os.pread(fd, 14, 0), b"DATA of nobody"))
                c("fchmod(fd, 0o640)", os.fchmod, fd, 0o640)
                c("os.utime(fd, ns=...)", lambda: os.utime(fd, ns=TIMES_NS))
            finally:
                os.close(fd)
            return c.failed

        try:
            c = Checks("shm/ segment of uid 65534 removed through the mount while it has it open")
            c.add(as_user(NOBODY, as_owner))
            # Before any read of it: a read sets an atime older than the mtime.
            c("the segment's times", lambda: same(
                (os.fstat(native).st_atime_ns, os.fstat(native).st_mtime_ns), TIMES_NS))
            c("the segment's bytes", lambda: same(os.pread(native, 14, 0), b"DATA of nobody"))
            c("the segment's mode", lambda: same(Mode(os.fstat(native).st_mode & 0o777), 0o640))
            c.done()
        finally:
            os.close(native)


def mq_removed_while_open_by_its_owner():
    with watched_mount() as m:
        name, path = m.name("own"), m.queue("own")
        with create_queue(name, 0o600, maxmsg=10, msgsize=64) as q:
            os.fchown(q.mqd, NOBODY, NOBODY)
            q.send(b"queued")

            def as_owner():
                c = Checks("as uid 65534")
                fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
                try:
                    assert os.fstat(fd).st_nlink == 1
                    os.unlink(path)
                    check_nlink(c, fd, 0)
                    check_fstat_like(c, fd, lambda: os.fstat(q.mqd))
                    c("getxattr(fd, user.mq.curmsgs)",
                      lambda: same(os.getxattr(fd, "user.mq.curmsgs"), b"1"))
                    c("read(fd)", lambda: same(os.read(fd, 64), b"queued"))
                    c("setxattr(fd, user.mq.priority, 4)", os.setxattr, fd, "user.mq.priority", b"4")
                    c("write(fd)", lambda: same(os.write(fd, b"mine"), 4))
                    c("fchmod(fd, 0o640)", os.fchmod, fd, 0o640)
                    c("os.utime(fd, ns=...)", lambda: os.utime(fd, ns=TIMES_S))
                finally:
                    os.close(fd)
                return c.failed

            c = Checks("mq/ queue of uid 65534 removed through the mount while it has it open")
            c.add(as_user(NOBODY, as_owner))
            # Before receiving: a receive sets the queue's mtime.
            c("the queue's mtime", lambda: same(os.fstat(q.mqd).st_mtime_ns, TIMES_S[1]))
            c("the queue's mode", lambda: same(Mode(os.fstat(q.mqd).st_mode & 0o777), 0o640))
            c("what the queue holds", lambda: same(drain(q), [(b"mine", 4)]))
            c.done()


def made_by_nobody(path):
    """The object path names, created through the mount by uid 65534."""
    as_user(NOBODY, lambda: os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)))


def sem_removed_while_open_by_its_owner():
    with watched_mount() as m:
        path = os.path.join(m.path, "sem", m.name("own"))
        made_by_nobody(path)
        native = os.open(os.path.join("/dev/shm", "sem." + m.name("own")), os.O_RDONLY)

        def as_owner():
            c = Checks("as uid 65534")
            fd = os.open(path, os.O_RDWR)
            try:
                os.write(fd, b"post")
                os.unlink(path)
                check_nlink(c, fd, 0)
                c("read(fd)", lambda: same(os.read(fd, 16), b"1\n"))
                c("write(fd, post)", lambda: same(os.write(fd, b"post"), 4))
                c("fgetxattr(fd) after the post", lambda: same(os.getxattr(fd, "user.sem.value"), b"2"))
                c("fchmod(fd, 0o640)", os.fchmod, fd, 0o640)
            finally:
                os.close(fd)
            return c.failed

        try:
            c = Checks("sem/ semaphore of uid 65534 removed through the mount while it has it open")
            c.add(as_user(NOBODY, as_owner))
            st = os.fstat(native)
            c("the semaphore's owner and mode",
              lambda: same((st.st_uid, Mode(st.st_mode & 0o777)), (NOBODY, Mode(0o640))))
            c.done()
        finally:
            os.close(native)


def sysv_removed_while_open_by_its_owner(kind):
    """sysv/msg or sysv/sem of uid 65534, removed through the mount by it
    while it has the file open: reads and writes EIDRM, fstat as last seen."""
    with watched_mount() as m:
        path = m.sysv(kind, 30)
        made_by_nobody(path)

        def as_owner():
            c = Checks("as uid 65534")
            fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
            try:
                os.unlink(path)
                check_nlink(c, fd, 0)
                c("fstat(fd): owner and mode as last seen",
                  lambda: same(owner_mode(os.fstat(fd)), (NOBODY, NOBODY, Mode(0o600))))
                c("read(fd)", lambda: expect_errno(errno.EIDRM, os.read, fd, 64))
                c("write(fd)", lambda: expect_errno(errno.EIDRM, os.write, fd,
                                                    b"x" if kind == "msg" else b"0+1"))
            finally:
                os.close(fd)
            return c.failed

        c = Checks("sysv/%s object of uid 65534 removed through the mount while it has it open" % kind)
        c.add(as_user(NOBODY, as_owner))
        c.done()


def sysv_shm_removed_while_open_by_its_owner():
    with watched_mount() as m:
        path = m.sysv("shm", 31)
        made_by_nobody(path)
        ident = int(os.getxattr(path, "user.sysv.id"))
        native = Attached(ident)

        def as_owner():
            c = Checks("as uid 65534")
            fd = os.open(path, os.O_RDWR)
            try:
                os.unlink(path)
                check_nlink(c, fd, 0)
                c("pwrite(fd)", lambda: same(os.pwrite(fd, b"DATA", 0), 4))
                c("fchmod(fd, 0o640)", os.fchmod, fd, 0o640)
                c("fstat(fd) after fchmod",
                  lambda: same(owner_mode(os.fstat(fd)), (NOBODY, NOBODY, Mode(0o640))))
            finally:
                os.close(fd)
            return c.failed

        try:
            c = Checks("sysv/shm segment of uid 65534 removed through the mount while it has it open")
            c.add(as_user(NOBODY, as_owner))
            c("the segment's bytes", lambda: same(native.read(0, 4), b"DATA"))
            c.done()
        finally:
            native.detach()


register("test_shm_removed_while_open_by_its_owner", shm_removed_while_open_by_its_owner)
register("test_mq_removed_while_open_by_its_owner", mq_removed_while_open_by_its_owner)
register("test_sem_removed_while_open_by_its_owner", sem_removed_while_open_by_its_owner)
for _kind in ("msg", "sem"):
    register("test_sysv_%s_removed_while_open_by_its_owner" % _kind,
             sysv_removed_while_open_by_its_owner, _kind)
register("test_sysv_shm_removed_while_open_by_its_owner", sysv_shm_removed_while_open_by_its_owner)


# 2. The name given to a new object while the old one is open -----------------------------

def test_shm_name_reused_while_open():
    with watched_mount() as m:
        path, direct = m.segment("re"), shm_file(m, "re")
        old = make_segment_file(m, "re", b"old bytes")
        fd = new = None
        try:
            fd = os.open(path, os.O_RDWR)
            before = xattr_answers(fd)
            os.unlink(direct)
            new = make_segment_file(m, "re", b"new bytes!")
            new_before = metadata(os.fstat(new))

            c = Checks("shm/: name made again natively while the old segment is open")
            check_nlink(c, fd, 0)
            check_fstat_like(c, fd, lambda: os.fstat(old), size=9)
            c("pread(fd) reads the old segment", lambda: same(os.pread(fd, 10, 0), b"old bytes"))

            def pwrite():
                os.pwrite(fd, b"OLD", 0)
                same(os.pread(old, 9, 0), b"OLD bytes", "the old segment")
                same(os.pread(new, 10, 0), b"new bytes!", "the new segment")

            c("pwrite(fd) reaches the old segment only", pwrite)
            c("xattr calls on fd answer as while named",
              lambda: same(xattr_answers(fd), before, "answers"))
            check_metadata_ops(c, fd, lambda: os.fstat(old), other=lambda: metadata(os.fstat(new)))
            c("the new segment's bytes, mode, owner and times",
              lambda: same((os.pread(new, 11, 0), metadata(os.fstat(new))),
                           (b"new bytes!", new_before)))

            def fresh():
                with opened_fd(path, os.O_RDWR) as f:
                    same(os.fstat(f).st_nlink, 1, "a fresh open's st_nlink")
                    same(os.pread(f, 10, 0), b"new bytes!", "a fresh open reads")
                    os.pwrite(f, b"NEW", 0)
                same(os.pread(new, 10, 0), b"NEW bytes!", "the new segment")
                same(os.pread(old, 9, 0), b"OLD bytes", "the old segment")

            c("a fresh open by name reaches the new segment", fresh)
            c.done()
        finally:
            for f in (fd, old, new):
                if f is not None:
                    os.close(f)


def test_mq_name_reused_while_open():
    with watched_mount() as m:
        name, path = m.name("re"), m.queue("re")
        with create_queue(name, 0o600, maxmsg=10, msgsize=64) as old:
            old.send(b"old one")
            fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
            try:
                mq_unlink(name)
                with create_queue(name, 0o600, maxmsg=10, msgsize=64) as new:
                    c = Checks("mq/: name made again natively while the old queue is open")
                    check_nlink(c, fd, 0)
                    check_fstat_like(c, fd, lambda: os.fstat(old.mqd))
                    c("getxattr(fd, user.mq.curmsgs)",
                      lambda: same(os.getxattr(fd, "user.mq.curmsgs"), b"1"))

                    def write():
                        os.write(fd, b"to old")
                        same(drain(old), [(b"old one", 0), (b"to old", 0)], "the old queue holds")
                        same(new.attr().curmsgs, 0, "messages in the new queue")

                    def read():
                        old.send(b"from old")
                        same(within(5, os.read, fd, 64), b"from old", "read()")

                    def priority():
                        os.setxattr(fd, "user.mq.priority", b"6")
                        same(os.getxattr(path, "user.mq.priority"), b"0", "the new queue's priority")
                        os.write(fd, b"six")
                        same(drain(old), [(b"six", 6)], "the old queue holds")

                    c("write(fd) reaches the old queue only", write)
                    c("read(fd) takes from the old queue", read)
                    c("setxattr(fd, user.mq.priority) is the old queue's", priority)
                    drain(old)
                    check_metadata_ops(c, fd, lambda: os.fstat(old.mqd), times=TIMES_S,
                                       atime_too=False, other=lambda: metadata(os.fstat(new.mqd)))

                    def fresh():
                        with opened_fd(path, os.O_WRONLY | os.O_NONBLOCK) as f:
                            same(os.fstat(f).st_nlink, 1, "a fresh open's st_nlink")
                            os.write(f, b"to new")
                        same(drain(new), [(b"to new", 0)], "the new queue holds")
                        same(drain(old), [], "the old queue holds")

                    c("a fresh open by name reaches the new queue", fresh)
                    c.done()
            finally:
                os.close(fd)


def test_sysv_shm_key_reused_while_open():
    with watched_mount() as m:
        path = m.sysv("shm", 1)
        old_id = sysv_get("shm", m.key(1), 0o600, 8192)
        old = Attached(old_id)
        new = None
        try:
            old.write(0, b"old segment")
            fd = os.open(path, os.O_RDWR)
            try:
                SysV.shmrm(old_id)
                new_id = sysv_get("shm", m.key(1), 0o600, 4096)
                new = Attached(new_id)
                new.write(0, b"new segment")

                c = Checks("sysv/shm/: key made again natively while the old segment is open")
                check_nlink(c, fd, 0)
                c("fstat(fd).st_size", lambda: same(os.fstat(fd).st_size, 8192))
                c("pread(fd) reads the old segment", lambda: same(os.pread(fd, 11, 0), b"old segment"))

                def pwrite():
                    os.pwrite(fd, b"OLD", 0)
                    same(old.read(0, 11), b"OLD segment", "the old segment")
                    same(new.read(0, 11), b"new segment", "the new segment")

                def fresh():
                    with opened_fd(path, os.O_RDWR) as f:
                        same(os.fstat(f).st_size, 4096, "a fresh open's st_size")
                        same(os.pread(f, 11, 0), b"new segment", "a fresh open reads")

                c("pwrite(fd) reaches the old segment only", pwrite)
                c("a fresh open by name reaches the new segment", fresh)
                c.done()
            finally:
                os.close(fd)
        finally:
            old.detach()
            if new:
                new.detach()


# 3. shm/: a segment grown and mapped after its removal ------------------------------------

def shm_grown_after_removal(mode):
    with watched_mount(MODES[mode]) as m:
        path = m.segment("grow")
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        native = None
        try:
            os.ftruncate(fd, 4096)
            native = os.open(shm_file(m, "grow"), os.O_RDWR)
            os.unlink(path)
            assert not os.path.exists(shm_file(m, "grow"))
            step("ftruncate(fd, 8192) after the unlink", os.ftruncate, fd, 8192)
            st = step("fstat(fd)", os.fstat, fd)
            assert (st.st_size, st.st_nlink) == (8192, 0), \
                "fstat: st_size %d, st_nlink %d; want 8192, 0" % (st.st_size, st.st_nlink)
            assert os.fstat(native).st_size == 8192
            if mode == "passthrough":
                mp = step("mmap(fd, 8192)", mmap.mmap, fd, 8192)
                try:
                    mp[5000:5005] = b"store"
                    assert os.pread(fd, 5, 5000) == b"store"
                finally:
                    mp.close()
            else:
                expect_errno(errno.ENODEV, mmap.mmap, fd, 8192)
                assert os.pwrite(fd, b"store", 5000) == 5
                assert os.pread(fd, 5, 5000) == b"store"
            assert os.pread(native, 5, 5000) == b"store"
            os.pwrite(native, b"back", 8000)
            assert os.pread(fd, 4, 8000) == b"back"
        finally:
            os.close(fd)
            if native is not None:
                os.close(native)


for _mode in MODES:
    register("test_shm_grown_and_mapped_after_removal_%s" % _mode, shm_grown_after_removal, _mode)


# 4. mq/: what belongs to a queue, not to its name -----------------------------------------

def test_mq_unlinked_queue_counts_and_takes_writes():
    with watched_mount() as m:
        name, path = m.name("n"), m.queue("n")
        with create_queue(name, 0o600, maxmsg=10, msgsize=64) as q:
            for message in (b"one", b"two", b"three"):
                q.send(message)
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            try:
                assert os.fstat(fd).st_nlink == 1
                mq_unlink(name)
                st = step("fstat(fd) after mq_unlink", os.fstat, fd)
                assert st.st_nlink == 0, "st_nlink %d after mq_unlink" % st.st_nlink
                got = step("getxattr(fd, user.mq.curmsgs)", os.getxattr, fd, "user.mq.curmsgs")
                assert got == b"3", got
                assert os.write(fd, b"four") == 4
                assert os.getxattr(fd, "user.mq.curmsgs") == b"4"
                assert q.attr().curmsgs == 4
                assert drain(q) == [(b"one", 0), (b"two", 0), (b"three", 0), (b"four", 0)]
                assert os.getxattr(fd, "user.mq.curmsgs") == b"0"
            finally:
                os.close(fd)


def test_mq_priority_belongs_to_the_queue_not_the_name():
    with watched_mount() as m:
        name, path = m.name("prio"), m.queue("prio")
        create_queue(name, 0o600, maxmsg=10, msgsize=64).close()
        os.setxattr(path, "user.mq.priority", b"5")
        assert os.getxattr(path, "user.mq.priority") == b"5"
        mq_unlink(name)
        with create_queue(name, 0o600, maxmsg=10, msgsize=64) as new:
            got = os.getxattr(path, "user.mq.priority")
            assert got == b"0", "a new queue of the name has priority %r, want b'0'" % got
            with opened_fd(path, os.O_WRONLY | os.O_NONBLOCK) as fd:
                os.write(fd, b"plain")
            assert drain(new) == [(b"plain", 0)]


def test_mq_priority_stays_with_the_old_queue_open_after_the_name_moved():
    with watched_mount() as m:
        name, path = m.name("prio"), m.queue("prio")
        with create_queue(name, 0o600, maxmsg=10, msgsize=64) as old:
            os.setxattr(path, "user.mq.priority", b"5")
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            try:
                mq_unlink(name)
                with create_queue(name, 0o600, maxmsg=10, msgsize=64) as new:
                    c = Checks("mq/: priority 5 set by path, the name made again natively")
                    c("getxattr(path, user.mq.priority): the new queue's",
                      lambda: same(os.getxattr(path, "user.mq.priority"), b"0"))
                    c("getxattr(fd, user.mq.priority): the old queue's",
                      lambda: same(os.getxattr(fd, "user.mq.priority"), b"5"))

                    def old_file():
                        os.write(fd, b"to old")
                        same(drain(old), [(b"to old", 5)], "the old queue holds")

                    def new_file():
                        with opened_fd(path, os.O_WRONLY | os.O_NONBLOCK) as f:
                            os.write(f, b"to new")
                        same(drain(new), [(b"to new", 0)], "the new queue holds")

                    c("a write through the old file goes at the old queue's priority", old_file)
                    c("a write through a fresh open goes at the new queue's", new_file)
                    c.done()
            finally:
                os.close(fd)


def test_mq_setxattr_on_the_fd_of_an_unlinked_queue():
    with watched_mount() as m:
        name, path = m.name("fdprio"), m.queue("fdprio")
        with create_queue(name, 0o600, maxmsg=10, msgsize=64) as q:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            try:
                mq_unlink(name)
                step("setxattr(fd, user.mq.priority, 9) after mq_unlink",
                     os.setxattr, fd, "user.mq.priority", b"9")
                assert os.getxattr(fd, "user.mq.priority") == b"9"
                os.write(fd, b"nine")
                got = drain(q)
                assert got == [(b"nine", 9)], got
            finally:
                os.close(fd)


def test_mq_priority_outlives_an_unlink_through_the_mount():
    """The priority is the queue's for as long as a file has it open, also
    once rm through the mount took its name."""
    with watched_mount() as m:
        name, path = m.name("rmprio"), m.queue("rmprio")
        with create_queue(name, 0o600, maxmsg=10, msgsize=64) as q:
            fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
            try:
                os.write(fd, b"first")
                os.setxattr(path, "user.mq.priority", b"5")
                step("unlink(path) while open", os.unlink, path)
                got = os.getxattr(fd, "user.mq.priority")
                assert got == b"5", "getxattr(fd) after rm: %r, want b'5'" % got
                os.write(fd, b"second")
                got = os.read(fd, 64)
                assert got == b"second", "first read after rm: %r, want b'second'" % got
                os.write(fd, b"third")
                assert drain(q) == [(b"third", 5), (b"first", 0)]
            finally:
                os.close(fd)
            with create_queue(name, 0o600, maxmsg=10, msgsize=64) as new:
                got = os.getxattr(path, "user.mq.priority")
                assert got == b"0", "a new queue of the name has priority %r" % got
                mq_unlink(name)


# 5. sem/: the old open file keeps its semaphore -------------------------------------------

def test_sem_old_file_keeps_its_semaphore_made_again_natively():
    with watched_mount() as m:
        name, path, direct = m.name("s"), sem_path(m, "s"), sem_file(m, "s")
        with NamedSem(name, create=True, mode=0o600, value=2) as old:
            fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
            try:
                os.unlink(direct)  # sem_unlink
                with NamedSem(name, create=True, mode=0o600, value=5) as new:
                    assert os.read(fd, 64) == b"2\n"
                    assert os.write(fd, b"post") == 4
                    got = (os.getxattr(fd, "user.sem.value"), old.value(), new.value())
                    assert got == (b"3", 3, 5), got
                    with opened_fd(path, os.O_RDONLY) as fresh:
                        assert os.read(fresh, 64) == b"5\n"
                    assert os.getxattr(path, "user.sem.value") == b"5"
            finally:
                os.close(fd)


def test_sem_old_file_keeps_its_semaphore_made_again_through_the_mount():
    with watched_mount() as m:
        name, path, direct = m.name("s"), sem_path(m, "s"), sem_file(m, "s")
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_NONBLOCK, 0o600)
        try:
            os.write(fd, b"+2")
            assert os.read(fd, 64) == b"2\n"
            with NamedSem(name) as old:
                os.unlink(direct)
                with opened_fd(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600) as made:
                    for _ in range(5):
                        os.write(made, b"post")
                with NamedSem(name) as new:
                    assert new.value() == 5
                    assert os.getxattr(fd, "user.sem.value") == b"2"
                    assert os.write(fd, b"post") == 4
                    got = (os.getxattr(fd, "user.sem.value"), old.value(), new.value())
                    assert got == (b"3", 3, 5), got
                    with opened_fd(path, os.O_RDONLY) as fresh:
                        assert os.read(fresh, 64) == b"5\n"
        finally:
            os.close(fd)


# 6. sysv/shm/: removed while open ---------------------------------------------------------

def sysv_shm_removed_while_open(mode, how):
    with watched_mount(MODES[mode]) as m:
        path = m.sysv("shm", 1)
        ident = sysv_get("shm", m.key(1), 0o600, 8192)
        seg = Attached(ident)
        try:
            seg.write(0, b"segment")
            fd = os.open(path, os.O_RDWR)
            try:
                st = os.fstat(fd)
                assert (st.st_nlink, st.st_size) == (1, 8192), (st.st_nlink, st.st_size)
                named = owner_mode(st)
                if how == "through_the_mount":
                    os.unlink(path)
                else:
                    SysV.shmrm(ident)
                expect_errno(errno.ENOENT, os.stat, path)

                c = Checks("sysv/shm/ segment removed %s while open (%s)" % (how.replace("_", " "), mode))
                check_nlink(c, fd, 0)
                c("fstat(fd) size, owner and mode",
                  lambda: same((os.fstat(fd).st_size,) + owner_mode(os.fstat(fd)), (8192,) + named))
                c("pread(fd)", lambda: same(os.pread(fd, 7, 0), b"segment"))

                def pwrite():
                    os.pwrite(fd, b"mount", 100)
                    same(seg.read(100, 5), b"mount", "the segment's bytes")

                def pread():
                    seg.write(200, b"native")
                    same(os.pread(fd, 6, 200), b"native", "pread()")

                def mapped():
                    if mode == "fallback":
                        expect_errno(errno.ENODEV, mmap.mmap, fd, 8192)
                        return
                    mp = mmap.mmap(fd, 8192)
                    try:
                        mp[300:306] = b"mapped"
                        same(seg.read(300, 6), b"mapped", "the segment's bytes")
                        seg.write(400, b"direct")
                        same(mp[400:406], b"direct", "the mapping's bytes")
                    finally:
                        mp.close()

                c("pwrite(fd) reaches the segment", pwrite)
                c("pread(fd) sees the segment", pread)
                c("mmap(fd)" if mode == "passthrough" else "mmap(fd) is ENODEV", mapped)
                c.done()
            finally:
                os.close(fd)
        finally:
            seg.detach()


for _mode in MODES:
    for _how in ("through_the_mount", "natively"):
        register("test_sysv_shm_removed_%s_while_open_%s" % (_how, _mode),
                 sysv_shm_removed_while_open, _mode, _how)


# 7. sysv/msg/ and sysv/sem/: removed while open -------------------------------------------

def sysv_removed_while_open(kind, how):
    def read(fd):
        return os.read(fd, 65536) if kind == "msg" else os.read(fd, 64)

    def write(fd):
        return os.write(fd, b"message" if kind == "msg" else b"0+1")

    with watched_mount() as m:
        path = m.sysv(kind, 1)
        ident = sysv_get(kind, m.key(1), 0o640, 1)
        os.chown(path, NOBODY, NOBODY)
        was = owner_mode(os.stat(path))
        assert was == (NOBODY, NOBODY, 0o640), was
        fd = os.open(path, os.O_RDWR)
        try:
            assert os.fstat(fd).st_nlink == 1
            if how == "through_the_mount":
                os.unlink(path)
            else:
                sysv_rm(kind, ident)
            assert sysv_row(kind, ident) is None
            expect_errno(errno.ENOENT, os.stat, path)

            c = Checks("sysv/%s/ object removed %s while open" % (kind, how.replace("_", " ")))
            check_nlink(c, fd, 0)
            c("fstat(fd) owner and mode", lambda: same(owner_mode(os.fstat(fd)), was))
            c("read(fd) is EIDRM", lambda: expect_errno(errno.EIDRM, within, 5, read, fd))
            c("write(fd) is EIDRM", lambda: expect_errno(errno.EIDRM, within, 5, write, fd))

            new = sysv_get(kind, m.key(1), 0o600, 1)
            c("after a new object took the key: read(fd) is EIDRM",
              lambda: expect_errno(errno.EIDRM, within, 5, read, fd))
            c("after a new object took the key: write(fd) is EIDRM",
              lambda: expect_errno(errno.EIDRM, within, 5, write, fd))
            if kind == "msg":
                c("the new queue untouched",
                  lambda: expect_errno(errno.ENOMSG, SysV.msgrcv, new, flags=SysV.IPC_NOWAIT))
            else:
                c("the new set untouched", lambda: same(SysV.semvalues(new, 1), [0]))
            c("fstat(fd) still the old object's",
              lambda: same((os.fstat(fd).st_nlink,) + owner_mode(os.fstat(fd)), (0,) + was))

            def fresh():
                with opened_fd(path, os.O_RDWR) as f:
                    same(owner_mode(os.fstat(f)), (0, 0, 0o600), "a fresh open's owner and mode")
                    within(5, write, f)
                if kind == "msg":
                    same(SysV.msgrcv(new, flags=SysV.IPC_NOWAIT), (1, b"message"), "the new queue's")
                else:
                    same(SysV.semvalues(new, 1), [1], "the new set's values")

            c("a fresh open by name reaches the new object", fresh)
            c.done()
        finally:
            os.close(fd)


for _kind in ("msg", "sem"):
    for _how in ("through_the_mount", "natively"):
        register("test_sysv_%s_removed_%s_while_open" % (_kind, _how),
                 sysv_removed_while_open, _kind, _how)


# 8. Paths reach the object the name holds now ---------------------------------------------

def shm_paths_after_remake(held):
    with watched_mount() as m:
        path, direct = m.segment("p"), shm_file(m, "p")
        old = make_segment_file(m, "p", b"old")
        mfd = new = None
        try:
            os.stat(path)
            if held == "through_the_mount":
                mfd = os.open(path, os.O_RDWR)
            os.unlink(direct)
            new = make_segment_file(m, "p", b"newer", mode=0o644)

            c = Checks("shm/: paths after the name was made again natively (old one held %s)"
                       % held.replace("_", " "))

            def stat():
                st, want = os.stat(path), os.fstat(new)
                same((st.st_nlink, st.st_size) + metadata(st),
                     (1, want.st_size) + metadata(want), "(nlink, size, uid, gid, mode, mtime)")

            def chmod():
                os.chmod(path, 0o604)
                same(Mode(os.fstat(new).st_mode & 0o777), 0o604, "the new segment's mode")
                same(Mode(os.fstat(old).st_mode & 0o777), 0o600, "the old segment's mode")

            def unlink():
                os.unlink(path)
                same(os.path.exists(direct), False, "/dev/shm/NAME exists")
                same((os.fstat(new).st_nlink, os.fstat(old).st_nlink), (0, 0),
                     "(new, old) st_nlink")
                same(os.pread(old, 3, 0), b"old", "the old segment's bytes")

            c("os.stat(path)", stat)
            c("os.chmod(path)", chmod)
            c("os.getxattr(path) is ENODATA",
              lambda: expect_errno(errno.ENODATA, os.getxattr, path, PROBE))
            if mfd is not None:
                c("the old file still reads the old segment", lambda: same(os.pread(mfd, 5, 0), b"old"))
            c("os.unlink(path)", unlink)
            c.done()
        finally:
            for f in (mfd, old, new):
                if f is not None:
                    os.close(f)


def mq_paths_after_remake(held):
    with watched_mount() as m:
        name, path = m.name("p"), m.queue("p")
        with create_queue(name, 0o600, maxmsg=10, msgsize=64) as old:
            old.send(b"a")
            old.send(b"b")
            os.stat(path)
            mfd = os.open(path, os.O_RDONLY | os.O_NONBLOCK) if held == "through_the_mount" else None
            try:
                mq_unlink(name)
                with create_queue(name, 0o644, maxmsg=5, msgsize=32) as new:
                    c = Checks("mq/: paths after the name was made again natively (old one held %s)"
                               % held.replace("_", " "))

                    def stat():
                        st = os.stat(path)
                        same((st.st_nlink, st.st_size) + metadata(st),
                             (1, 0) + metadata(os.fstat(new.mqd)),
                             "(nlink, size, uid, gid, mode, mtime)")

                    def chmod():
                        os.chmod(path, 0o604)
                        same(Mode(os.fstat(new.mqd).st_mode & 0o777), 0o604, "the new queue's mode")
                        same(Mode(os.fstat(old.mqd).st_mode & 0o777), 0o600, "the old queue's mode")

                    def getxattr():
                        want = {"user.mq.curmsgs": b"0", "user.mq.maxmsg": b"5",
                                "user.mq.msgsize": b"32", "user.mq.priority": b"0",
                                "user.mq.qsize": b"0", "user.mq.notify_pid": b"0"}
                        same({a: os.getxattr(path, a) for a in want}, want,
                             "the new queue's xattrs")

                    def unlink():
                        os.unlink(path)
                        expect_errno(errno.ENOENT, PosixQueue, name, os.O_RDONLY)
                        same(drain(old)[-1:], [(b"b", 0)], "the old queue's last message")

                    c("os.stat(path)", stat)
                    c("os.chmod(path)", chmod)
                    c("os.getxattr(path)", getxattr)
                    if mfd is not None:
                        c("the old file still reads the old queue",
                          lambda: same(within(5, os.read, mfd, 64), b"a"))
                    c("os.unlink(path)", unlink)
                    c.done()
            finally:
                if mfd is not None:
                    os.close(mfd)


def sem_paths_after_remake(held):
    with watched_mount() as m:
        name, path, direct = m.name("p"), sem_path(m, "p"), sem_file(m, "p")
        with NamedSem(name, create=True, mode=0o600, value=2) as old:
            os.chmod(direct, 0o600)
            old_fd = os.open(direct, os.O_RDWR)
            mfd = new_fd = None
            try:
                os.stat(path)
                if held == "through_the_mount":
                    mfd = os.open(path, os.O_RDONLY)
                os.unlink(direct)
                with NamedSem(name, create=True, mode=0o644, value=5) as new:
                    new_fd = os.open(direct, os.O_RDWR)
                    os.fchmod(new_fd, 0o644)
                    c = Checks("sem/: paths after the name was made again natively (old one held %s)"
                               % held.replace("_", " "))

                    def stat():
                        st = os.stat(path)
                        same((st.st_nlink, st.st_size) + metadata(st),
                             (1, 5) + metadata(os.fstat(new_fd)),
                             "(nlink, size: value, uid, gid, mode, mtime)")

                    def chmod():
                        os.chmod(path, 0o604)
                        same(Mode(os.fstat(new_fd).st_mode & 0o777), 0o604, "the new semaphore's mode")
                        same(Mode(os.fstat(old_fd).st_mode & 0o777), 0o600, "the old semaphore's mode")

                    def unlink():
                        os.unlink(path)
                        same(os.path.exists(direct), False, "/dev/shm/sem.NAME exists")
                        same((old.value(), new.value()), (2, 5), "(old, new) values")

                    c("os.stat(path)", stat)
                    c("os.chmod(path)", chmod)
                    c("os.getxattr(path, user.sem.value)",
                      lambda: same(os.getxattr(path, "user.sem.value"), b"5"))
                    if mfd is not None:
                        c("the old file still reads the old semaphore",
                          lambda: same(os.getxattr(mfd, "user.sem.value"), b"2"))
                    c("os.unlink(path)", unlink)
                    c.done()
            finally:
                for f in (mfd, old_fd, new_fd):
                    if f is not None:
                        os.close(f)


def sysv_paths_after_remake(kind, held):
    sizes = {"msg": (0, 0), "sem": (1, 2), "shm": (4096, 8192)}[kind]  # (old, new)
    with watched_mount() as m:
        path = m.sysv(kind, 1)
        old_id = sysv_get(kind, m.key(1), 0o600, sizes[0])
        seg = Attached(old_id) if kind == "shm" else None  # keeps the old segment alive
        mfd = None
        try:
            os.stat(path)
            if held == "through_the_mount":
                mfd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            sysv_rm(kind, old_id)
            new_id = sysv_get(kind, m.key(1), 0o644, sizes[1])
            c = Checks("sysv/%s/: paths after the key was made again natively (old one held %s)"
                       % (kind, held.replace("_", " ")))

            def stat():
                st = os.stat(path)
                same((st.st_nlink, st.st_size) + owner_mode(st), (1, sizes[1], 0, 0, 0o644),
                     "(nlink, size, uid, gid, mode)")

            def chmod():
                os.chmod(path, 0o604)
                same(sysv_perms(kind, new_id), 0o604, "the new object's mode")
                if kind == "shm":
                    same(sysv_perms(kind, old_id), 0o600, "the old segment's mode")

            def unlink():
                os.unlink(path)
                same(sysv_row(kind, new_id), None, "the new object's line in /proc/sysvipc")
                if kind == "shm":
                    same(sysv_row(kind, old_id) is not None, True, "the old segment is there")

            c("os.stat(path)", stat)
            c("os.chmod(path)", chmod)
            c("os.getxattr(path, user.sysv.id)",
              lambda: same(os.getxattr(path, "user.sysv.id"), str(new_id).encode()))
            c("os.unlink(path)", unlink)
            c.done()
        finally:
            if mfd is not None:
                os.close(mfd)
            if seg:
                seg.detach()


for _held in ("natively", "through_the_mount"):
    register("test_shm_paths_reach_the_new_object_old_held_%s" % _held, shm_paths_after_remake, _held)
    register("test_mq_paths_reach_the_new_object_old_held_%s" % _held, mq_paths_after_remake, _held)
    register("test_sem_paths_reach_the_new_object_old_held_%s" % _held, sem_paths_after_remake, _held)
    for _kind in ("msg", "sem", "shm"):
        register("test_sysv_%s_paths_reach_the_new_object_old_held_%s" % (_kind, _held),
                 sysv_paths_after_remake, _kind, _held)


# 9. open(O_CREAT) racing a remover ---------------------------------------------------------

def remover(kind, name, for_nobody, shared):
    """Removes and makes name natively, again and again, counting rounds
    in shared[0:8]; an unexpected errno ends it, written to shared[8:16].
    For nobody: mode 0666 from the start (umask 0), then owned by 65534."""
    os.umask(0)
    mode = 0o666 if for_nobody else 0o600
    direct = os.path.join(DIRECT, name)
    rounds = 0
    try:
        while True:
            if kind == "shm":
                try:
                    os.unlink(direct)
                except FileNotFoundError:
                    pass
                try:
                    fd = os.open(direct, os.O_RDWR | os.O_CREAT | os.O_EXCL, mode)
                except FileExistsError:
                    continue
                if for_nobody:
                    os.fchown(fd, NOBODY, NOBODY)
                os.close(fd)
            else:
                PosixQueue.unlink(name)
                try:
                    q = PosixQueue(name, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NONBLOCK,
                                   mode, maxmsg=1, msgsize=64)
                except FileExistsError:
                    continue
                if for_nobody:
                    os.fchown(q.mqd, NOBODY, NOBODY)
                q.close()
            rounds += 1
            struct.pack_into("Q", shared, 0, rounds)
    except OSError as e:
        struct.pack_into("Q", shared, 8, e.errno or 1)


def open_many(path, count):
    """count opens with O_CREAT, each closed; the failures by errno."""
    failures = collections.Counter()
    for _ in range(count):
        try:
            os.close(os.open(path, os.O_CREAT | os.O_RDWR | os.O_NONBLOCK, 0o600))
        except OSError as e:
            failures[errno_name(e.errno)] += 1
    return dict(failures)


def open_racing_a_remover(kind, as_nobody):
    with watched_mount(seconds=600) as m:
        name = m.name("race")
        path = m.segment("race") if kind == "shm" else m.queue("race")
        shared = mmap.mmap(-1, 16)
        pid = os.fork()
        if pid == 0:
            try:
                remover(kind, name, as_nobody, shared)
            finally:
                os._exit(0)
        reaped = False
        try:
            rounds = lambda: struct.unpack_from("Q", shared, 0)[0]
            wait_until(lambda: rounds() >= 10, "the remover's first rounds")
            start = rounds()
            if as_nobody:
                failures = as_user(NOBODY, open_many, path, RACE_OPENS)
            else:
                failures = open_many(path, RACE_OPENS)
            done = rounds() - start
            died = struct.unpack_from("Q", shared, 8)[0]
            reaped = os.waitpid(pid, os.WNOHANG) != (0, 0)
        finally:
            if not reaped:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        assert not reaped and not died, "the remover stopped: %s" % errno_name(died)
        assert done >= 100, "the remover went round only %d times" % done
        failed = sum(failures.values())
        assert failed == 0, "%d of %d opens with O_CREAT failed, while the remover went round %d " \
            "times: %s" % (failed, RACE_OPENS, done, failures)


for _kind in ("shm", "mq"):
    register("test_%s_open_creat_racing_a_remover" % _kind, open_racing_a_remover, _kind, False)
    register("test_%s_open_creat_racing_a_remover_as_a_user" % _kind, open_racing_a_remover, _kind,
             True)


# 10. Memory ----------------------------------------------------------------------------------

@contextlib.contextmanager
def daemon_without_quarantine():
    """Under AddressSanitizer, a daemon started inside keeps no freed memory
    in quarantine (256 MiB by default), so that its VmRSS tells of what it
    really keeps; elsewhere the option does nothing."""
    saved = os.environ.get("ASAN_OPTIONS")
    os.environ["ASAN_OPTIONS"] = (saved + ":" if saved else "") + \
        "quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
    try:
        yield
    finally:
        if saved is None:
            del os.environ["ASAN_OPTIONS"]
        else:
            os.environ["ASAN_OPTIONS"] = saved


def forget_cached_entries():
    """The kernel keeps a FUSE entry, and the daemon its node, until memory
    runs short; dropping the dentry cache makes it forget them now."""
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("2")


def test_mq_create_and_native_unlink_cost_no_memory():
    """Each cycle: a queue of a new name made through the mount, its
    priority set, and the queue removed by another program. Nothing of it
    may stay in the daemon once the kernel has forgotten the names: a
    second round of as many cycles, after a first that warmed the
    allocator up, leaves the daemon's VmRSS where it was."""
    with daemon_without_quarantine(), watched_mount(seconds=600) as m:
        def cycles(round_, count):
            for i in range(count):
                name = m.name("mem%d-%d" % (round_, i))
                path = os.path.join(m.mq, name)
                fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_NONBLOCK, 0o600)
                try:
                    # On the open file and by path, in turn.
                    os.setxattr(fd if i % 2 == 0 else path, "user.mq.priority", b"3")
                finally:
                    os.close(fd)
                mq_unlink(name)
            forget_cached_entries()

        cycles(0, MEMORY_CYCLES)
        before = vm_rss_kb(m.proc.pid)
        cycles(1, MEMORY_CYCLES)
        after = vm_rss_kb(m.proc.pid)
        assert m.alive()
        assert after - before < MEMORY_LIMIT_KB, \
            "the daemon's VmRSS grew by %d kB (%d kB to %d kB) over %d cycles" % (
                after - before, before, after, MEMORY_CYCLES)


# 11. Also fixed with issue 13 ------------------------------------------------------------------

def test_source_with_a_comma_adds_no_option():
    """mount.fuse3 runs `ipcfs SOURCE MOUNTPOINT`: a comma in SOURCE must not
    add options (here "ro"); it names the mount as given."""
    import subprocess
    import tempfile
    path = tempfile.mkdtemp(prefix="ipcfs-test.")
    proc = start_daemon(["-f", "src,ro", path], stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 5
        row = None
        while time.time() < deadline and not row:
            with open("/proc/mounts") as f:
                row = [l.split() for l in f if l.split()[1] == path]
            time.sleep(0.05)
        assert row, "not mounted"
        source, options = row[0][0], row[0][3].split(",")
        assert (source, options[0]) == ("src,ro", "rw"), row
        assert os.statvfs(path).f_flag & os.ST_RDONLY == 0
    finally:
        subprocess.run(["umount", path], stderr=subprocess.DEVNULL)
        proc.terminate()
        proc.wait(5)
        os.rmdir(path)


def test_sysv_msg_empty_message_a_poll_took_survives_a_full_queue():
    """A poll takes a zero-byte message for its file; closed unread, the
    file sends it back. On a full queue that send waits for room rather
    than lose the message."""
    import select
    with Mount() as m:
        ident = SysV.msgget(m.key(40), SysV.IPC_CREAT | SysV.IPC_EXCL | 0o600)
        SysV.msgsnd(ident, b"", mtype=1)
        fd = os.open(m.sysv("msg", 40), os.O_RDONLY | os.O_NONBLOCK)
        try:
            p = select.poll()
            p.register(fd, select.POLLIN)
            assert p.poll(2000) == [(fd, select.POLLIN)]
            expect_errno(errno.ENOMSG, SysV.msgrcv, ident, 0, 1, SysV.IPC_NOWAIT)
            # Full: as many zero-byte messages as msg_qbytes allows.
            filled = 0
            while True:
                try:
                    SysV.msgsnd(ident, b"", mtype=2, flags=SysV.IPC_NOWAIT)
                    filled += 1
                except OSError as e:
                    assert e.errno == errno.EAGAIN, e
                    break
        finally:
            os.close(fd)
        time.sleep(0.2)
        for _ in range(filled):
            SysV.msgrcv(ident, 0, 2, SysV.IPC_NOWAIT)
        deadline = time.time() + 5
        got = None
        while time.time() < deadline and got is None:
            try:
                got = SysV.msgrcv(ident, 0, 1, SysV.IPC_NOWAIT)
            except OSError as e:
                assert e.errno == errno.ENOMSG, e
                time.sleep(0.05)
        assert got == (1, b""), "the zero-byte message was lost (queue was filled with %d)" % filled


def test_sem_value_past_the_maximum_refuses_a_post():
    """A writer of /dev/shm/sem.NAME can leave a value past SEM_VALUE_MAX
    (it reads as negative): a post is EOVERFLOW, computed without
    overflow (the sanitizer run catches one), and nothing changes."""
    with Mount() as m:
        path = os.path.join(m.path, "sem", m.name("garbage"))
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        raw = os.path.join("/dev/shm", "sem." + m.name("garbage"))
        with open(raw, "r+b") as f:
            f.write(struct.pack("<I", 0xfffffff0))
        fd = os.open(path, os.O_RDWR)
        try:
            expect_errno(errno.EOVERFLOW, os.write, fd, b"post")
            assert os.read(fd, 64) == b"-16\n"
        finally:
            os.close(fd)
        with open(raw, "rb") as f:
            assert struct.unpack("<I", f.read(4))[0] == 0xfffffff0


def test_shm_backing_from_a_read_only_descriptor_serves_a_write():
    """A daemon without CAP_DAC_OVERRIDE opens a 0444 segment of another
    user read-only, and that descriptor becomes the inode's backing file.
    Made 0666 meanwhile, a second open for writing shares the backing id:
    the kernel opens the backing file again per open, with that open's
    flags, so the write and a shared mapping reach the segment (a second
    backing file for the inode would have failed that open with EIO)."""
    import subprocess
    import tempfile
    path = tempfile.mkdtemp(prefix="ipcfs-test.")
    drop = ("setpriv", "--bounding-set", "-dac_override,-dac_read_search")
    proc = start_daemon(["-f", path, "-o", "allow_other"], launcher=drop, stderr=subprocess.PIPE)
    direct = os.path.join("/dev/shm", "t%d-ro-backing" % os.getpid())
    try:
        deadline = time.time() + 5
        while time.time() < deadline and not os.path.ismount(path):
            time.sleep(0.05)
        assert os.path.ismount(path), "not mounted"
        fd = os.open(direct, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o444)
        os.write(fd, b"hello")
        os.fchown(fd, NOBODY, NOBODY)
        os.fchmod(fd, 0o444)
        os.close(fd)
        through = os.path.join(path, "shm", os.path.basename(direct))
        ro = os.open(through, os.O_RDONLY)
        try:
            os.chmod(through, 0o666)
            rw = os.open(through, os.O_RDWR)
            try:
                assert os.pwrite(rw, b"HE", 0) == 2
                with mmap.mmap(rw, 5) as mm:
                    mm[4:5] = b"O"
                assert os.pread(ro, 5, 0) == b"HEllO"
            finally:
                os.close(rw)
        finally:
            os.close(ro)
        with open(direct, "rb") as f:
            assert f.read() == b"HEllO"
    finally:
        if os.path.exists(direct):
            os.unlink(direct)
        subprocess.run(["umount", path], stderr=subprocess.DEVNULL)
        proc.terminate()
        err = proc.communicate(timeout=5)[1]
        os.rmdir(path)
        assert b"passthrough: on" in err, err


if __name__ == "__main__":
    run(globals())
