"""sysv/sem/: System V semaphore sets through the mount, checked against
the sets themselves with semget, semop and semctl through ctypes.

Writers that must wait run in child processes (or threads of one), so a
case that hangs can be killed and fails alone; each case kills its
children before the mount is taken down, and every mount is watched: a
daemon that stops answering is killed and the case fails. A write that
waits shows twice: its process sleeps in the kernel's
request_wait_answer (/proc/PID/wchan), and the daemon's thread that makes
the real semop is counted in the set's semncnt or semzcnt."""
import ctypes
import errno
import fcntl
import os
import re
import resource
import select
import signal
import subprocess
import threading
import time

from ipcfs_test import KIND_XATTRS, SysV, errno_name, expect_errno, run, watched_mount

SYS_WRITE = {"x86_64": 1, "aarch64": 64, "i686": 4, "armv7l": 4}.get(os.uname().machine, 1)
LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.write.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]
LIBC.write.restype = ctypes.c_ssize_t
GETNCNT, GETZCNT = 14, 15
SEMVMX = 32767


# The sets themselves ------------------------------------------------------------

def make_set(m, n, values, mode=0o600):
    """A set of len(values) semaphores with key number n, made directly
    (not through the mount), each set to its value; its id."""
    ident = SysV.semget(m.key(n), len(values), SysV.IPC_CREAT | SysV.IPC_EXCL | mode)
    for i, v in enumerate(values):
        if v:
            SysV.semsetval(ident, i, v)
    return ident


def values(ident, nsems):
    return SysV.semvalues(ident, nsems)


def ncount(ident, num=0):
    """How many wait for semaphore num to grow (semncnt)."""
    return SysV._check(SysV.libc.semctl(ident, num, GETNCNT))


def zcount(ident, num=0):
    """How many wait for semaphore num to be zero (semzcnt)."""
    return SysV._check(SysV.libc.semctl(ident, num, GETZCNT))


def ipcs_info(ident):
    """`ipcs -s -i ID`: (nsems, mode) as util-linux reads them."""
    out = subprocess.run(["ipcs", "-s", "-i", str(ident)], capture_output=True, text=True,
                         check=True).stdout
    nsems = int(re.search(r"nsems = (\d+)", out).group(1))
    mode = int(re.search(r"mode=(\d+)", out).group(1), 8)
    return nsems, mode


def semopm():
    with open("/proc/sys/kernel/sem") as f:
        return int(f.read().split()[2])


# Through the mount --------------------------------------------------------------

def sem_dir(m):
    return os.path.join(m.path, "sysv", "sem")


def cat(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, command, flags=0):
    """One write() of command through the mount; what write returned."""
    fd = os.open(path, os.O_WRONLY | flags)
    try:
        return os.write(fd, command)
    finally:
        os.close(fd)


def create(path, mode=0o600):
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode))
    return int(os.getxattr(path, "user.sysv.id"))


def eventually(fn, want, timeout=5, interval=0.01):
    """Polls fn() until it returns want; returns the last value seen."""
    deadline = time.monotonic() + timeout
    got = fn()
    while got != want and time.monotonic() < deadline:
        time.sleep(interval)
        got = fn()
    return got


def stays(fn, want, seconds, interval=0.02):
    """True if fn() returns want all through the next seconds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if fn() != want:
            return False
        time.sleep(interval)
    return fn() == want


# Children -----------------------------------------------------------------------

def wchan(pid, tid=None):
    path = "/proc/%d/task/%d/wchan" % (pid, tid) if tid else "/proc/%d/wchan" % pid
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def in_write(pid, tid=None):
    """True if the process (or thread) waits in write(2) for the daemon."""
    path = "/proc/%d/task/%d/syscall" % (pid, tid) if tid else "/proc/%d/syscall" % pid
    try:
        with open(path) as f:
            number = f.read().split()[0]
    except (OSError, IndexError):
        return False
    return number == str(SYS_WRITE) and wchan(pid, tid) == "request_wait_answer"


def parked(pid, tid=None, timeout=5):
    return eventually(lambda: in_write(pid, tid), True, timeout, interval=0.001)


CHILDREN = []


class Child:
    """fn(say) in a forked process; what it says and, at the end, what it
    returned (or the errno it failed with) come back through a pipe."""

    def __init__(self, fn):
        r, w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(r)

            def say(text):
                os.write(w, (str(text) + "\n").encode())
            try:
                say(fn(say))
            except OSError as e:
                say("errno " + errno_name(e.errno))
            except BaseException as e:
                say("raised %s: %s" % (type(e).__name__, e))
            os._exit(0)
        os.close(w)
        self.pipe = r
        self.buffer = b""
        self.status = None
        CHILDREN.append(self)

    def line(self, timeout=5):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.pipe], [], [], left)[0]:
                return None
            chunk = os.read(self.pipe, 65536)
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode()

    def quiet_for(self, seconds):
        return not self.buffer and not select.select([self.pipe], [], [], seconds)[0]

    def wait_parked(self, timeout=5):
        if not parked(self.pid, timeout=timeout):
            raise AssertionError("child never waited in the daemon: wchan %r, said %r"
                                 % (wchan(self.pid), self.line(0.1)))

    def reap(self, sig=None):
        if self.status is None:
            if sig:
                os.kill(self.pid, sig)
            _, self.status = os.waitpid(self.pid, 0)
            os.close(self.pipe)
        return self.status


class children:
    """Kills and reaps, on leaving, every child started inside."""

    def __enter__(self):
        self.first = len(CHILDREN)

    def __exit__(self, *exc):
        for c in CHILDREN[self.first:]:
            c.reap(signal.SIGKILL if c.status is None else None)
        del CHILDREN[self.first:]


def writer(path, command, flags=0):
    def job(say):
        fd = os.open(path, os.O_WRONLY | flags)
        return "wrote %d" % os.write(fd, command)
    return job


def as_user(uid, fn):
    """fn() in a child that has become uid (and gid uid); its answer."""
    def job(say):
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        return fn()
    c = Child(job)
    answer = c.line()
    c.reap()
    return answer


def in_mount(case, options="allow_other"):
    def test():
        with watched_mount(options, seconds=40) as m, children():
            os.umask(0o022)
            case(m)
    return test


# Creating ---------------------------------------------------------------------------

def case_create_takes_nsems_from_the_directory_xattr(m):
    d = sem_dir(m)
    assert os.listxattr(d) == ["user.sem.nsems"]
    assert os.getxattr(d, "user.sem.nsems") == b"1"
    os.setxattr(d, "user.sem.nsems", b"3")
    assert os.getxattr(d, "user.sem.nsems") == b"3"
    path = m.sysv("sem", 1)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    ident = int(os.getxattr(path, "user.sysv.id"))
    assert SysV.semget(m.key(1)) == ident
    assert ipcs_info(ident) == (3, 0o600)
    assert values(ident, 3) == [0, 0, 0]
    assert os.getxattr(path, "user.sem.nsems") == b"3"
    assert os.getxattr(path, "user.sysv.key") == b"0x%08x" % m.key(1)
    assert os.listxattr(path) == KIND_XATTRS["sysv/sem"]
    assert os.getxattr(path, "user.sem.semval") == b"0\n0\n0\n"  # one line per semaphore
    st = os.stat(path)
    assert (oct(st.st_mode), st.st_uid, st.st_gid, st.st_size) == ("0o100600", 0, 0, 3)  # nsems
    expect_errno(errno.EEXIST, os.open, path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    # The setting stays for later creates, until it is removed.
    assert ipcs_info(create(m.sysv("sem", 2)))[0] == 3
    os.removexattr(d, "user.sem.nsems")
    assert os.getxattr(d, "user.sem.nsems") == b"1"
    assert ipcs_info(create(m.sysv("sem", 3)))[0] == 1


def case_nsems_setting_is_per_user(m):
    d = sem_dir(m)
    os.setxattr(d, "user.sem.nsems", b"3")
    first, second = m.sysv("sem", 4), m.sysv("sem", 5)  # keys of this process

    def nobody():
        before = os.getxattr(d, "user.sem.nsems")
        os.close(os.open(first, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        os.setxattr(d, "user.sem.nsems", b"2")
        after = os.getxattr(d, "user.sem.nsems")
        os.close(os.open(second, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        return "%s %s" % (before.decode(), after.decode())
    assert as_user(65534, nobody) == "1 2"
    assert os.getxattr(d, "user.sem.nsems") == b"3"
    assert (ipcs_info(SysV.semget(m.key(4))), ipcs_info(SysV.semget(m.key(5)))) == \
        ((1, 0o600), (2, 0o600))
    st = os.stat(first)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (65534, 65534, 0o600)


def case_bad_nsems_values_are_einval(m):
    d = sem_dir(m)
    os.setxattr(d, "user.sem.nsems", b"2")
    for value in (b"0", b"x", b"70000", b"65536", b"-1", b"", b"2x", b"2 2", b"0x3"):
        expect_errno(errno.EINVAL, os.setxattr, d, "user.sem.nsems", value)
        assert (value, os.getxattr(d, "user.sem.nsems")) == (value, b"2")
    expect_errno(errno.ENOTSUP, os.setxattr, d, "user.sem.other", b"2")
    expect_errno(errno.ENODATA, os.getxattr, d, "user.sem.other")
    assert m.alive()


def case_mount_option_sets_the_default(m):
    d = sem_dir(m)
    assert os.getxattr(d, "user.sem.nsems") == b"5"
    ident = create(m.sysv("sem", 1))
    assert ipcs_info(ident)[0] == 5
    assert cat(m.sysv("sem", 1)) == b"0\n" * 5
    os.setxattr(d, "user.sem.nsems", b"2")
    assert ipcs_info(create(m.sysv("sem", 2)))[0] == 2
    os.removexattr(d, "user.sem.nsems")
    assert os.getxattr(d, "user.sem.nsems") == b"5"


def case_names_have_one_spelling(m):
    ident = make_set(m, 1, [4])
    name = "0x%08x" % m.key(1)
    assert name in os.listdir(sem_dir(m))
    assert cat(m.sysv("sem", 1)) == b"4\n"
    for other in (name.upper().replace("0X", "0x"), "0x0" + name[2:], "%#x" % m.key(1) + " ",
                  "id.%d" % ident, str(m.key(1))):
        expect_errno(errno.ENOENT, os.stat, os.path.join(sem_dir(m), other))
    for bad in ("foo", "0x00000000", "0x4d2"):
        expect_errno(errno.EINVAL, os.open, os.path.join(sem_dir(m), bad),
                     os.O_CREAT | os.O_WRONLY, 0o600)
    assert values(ident, 1) == [4]


# Reading ------------------------------------------------------------------------------

def case_read_shows_values_one_per_line(m):
    ident = make_set(m, 1, [2, 0, 7])
    path = m.sysv("sem", 1)
    assert cat(path) == b"2\n0\n7\n"
    out = subprocess.run(["cat", path], capture_output=True)
    assert (out.returncode, out.stdout) == (0, b"2\n0\n7\n")
    fd = os.open(path, os.O_RDONLY)
    try:
        assert os.read(fd, 3) == b"2\n0"
        SysV.semsetval(ident, 1, 9)
        # Later offsets of the same open continue the text read at 0.
        assert os.read(fd, 100) == b"\n7\n"
        assert os.read(fd, 100) == b""
        # A stream: no position to go back to; a new open reads afresh.
        expect_errno(errno.ESPIPE, os.pread, fd, 100, 0)
        assert cat(m.sysv("sem", 1)) == b"2\n9\n7\n"
    finally:
        os.close(fd)
    assert values(ident, 3) == [2, 9, 7]  # reading takes nothing


def case_stat_shows_the_last_semop(m):
    make_set(m, 1, [0, 0])
    path = m.sysv("sem", 1)
    st = os.stat(path)
    assert (st.st_size, st.st_uid, st.st_gid, oct(st.st_mode)) == (2, 0, 0, "0o100600")
    assert st.st_atime == st.st_mtime == st.st_ctime  # no semop yet: its ctime
    time.sleep(1.1)
    assert write(path, b"1+1") == 3
    after = os.stat(path)
    assert after.st_mtime > st.st_mtime and after.st_atime == after.st_mtime
    assert after.st_ctime == st.st_ctime
    time.sleep(1.1)
    cat(path)  # reading is no semop
    assert os.stat(path).st_mtime == after.st_mtime


def case_chmod_chown_change_the_set(m):
    ident = make_set(m, 1, [1])
    path = m.sysv("sem", 1)
    os.chmod(path, 0o640)
    assert ipcs_info(ident) == (1, 0o640)
    os.chown(path, 65534, 65534)
    st = os.stat(path)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (65534, 65534, 0o640)
    expect_errno(errno.EINVAL, os.chmod, path, 0o2640)
    assert ipcs_info(ident) == (1, 0o640)


# Writing ----------------------------------------------------------------------------

def case_write_is_one_atomic_semop(m):
    ident = make_set(m, 1, [2, 0, 7])
    path = m.sysv("sem", 1)
    assert write(path, b"0-1 2+1") == 7
    assert values(ident, 3) == [1, 0, 8]
    assert write(path, b"1=0", os.O_NONBLOCK) == 3  # at once: it is zero
    assert write(path, b"1=0") == 3
    assert values(ident, 3) == [1, 0, 8]
    assert write(path, b"0+1\t1+2\n2-8\n") == 12
    assert values(ident, 3) == [2, 2, 0]
    command = b"  0-2 \t\n 1-1  1-1 2=0\n"
    assert write(path, command) == len(command)
    assert values(ident, 3) == [0, 0, 0]
    assert write(path, b"1+32767") == 7
    assert values(ident, 3) == [0, SEMVMX, 0]
    assert cat(path) == b"0\n32767\n0\n"
    out = subprocess.run(["sh", "-c", "echo '0+3 2+1' > '%s'" % path], capture_output=True)
    assert (out.returncode, out.stderr) == (0, b"")
    assert values(ident, 3) == [3, SEMVMX, 1]


def case_passing_semvmx_is_erange(m):
    ident = make_set(m, 1, [1, 5])
    path = m.sysv("sem", 1)
    for command in (b"0+32767", b"1+1 0+32767", b"0+32766 0+1"):
        expect_errno(errno.ERANGE, write, path, command)
        assert (command, values(ident, 2)) == (command, [1, 5])
    assert write(path, b"0+32766") == 7
    assert values(ident, 2) == [SEMVMX, 5]


def case_semaphore_out_of_range_is_efbig(m):
    ident = make_set(m, 1, [1, 1, 1])
    path = m.sysv("sem", 1)
    for command in (b"3+1", b"0-1 3+1", b"3=0", b"65535+1"):
        expect_errno(errno.EFBIG, write, path, command)
        assert (command, values(ident, 3)) == (command, [1, 1, 1])
    expect_errno(errno.EINVAL, write, path, b"65536+1")  # not a semaphore number
    assert values(ident, 3) == [1, 1, 1]


def case_malformed_writes_are_einval(m):
    ident = make_set(m, 1, [2, 3])
    path = m.sysv("sem", 1)
    for command in (b"x", b"0=5", b"-1", b"+1", b"0-0", b"0+0", b"0+", b"0-", b"0=",
                    b"0+1 x", b"x 0+1", b"0 +1", b"0+ 1", b"0+-1", b"0-+1", b"0+1x",
                    b"0+32768", b"0-32768", b"0=00x", b"0x+1", b"a+1", b"0+1;1+1",
                    b"0+1,1+1", b" ", b"\n", b"\t \n", b"0+1\0", b"\r0+1", b"\xff"):
        expect_errno(errno.EINVAL, write, path, command)
        assert (command, values(ident, 2)) == (command, [2, 3])
    # A write of nothing never reaches the daemon: the kernel answers 0.
    assert write(path, b"") == 0
    assert values(ident, 2) == [2, 3]
    assert m.alive()


def case_more_ops_than_semopm_is_e2big(m):
    limit = semopm()
    ident = make_set(m, 1, [0])
    path = m.sysv("sem", 1)
    too_many = b" ".join([b"0+1"] * (limit + 1))
    expect_errno(errno.E2BIG, write, path, too_many)
    assert values(ident, 1) == [0]
    just_enough = b" ".join([b"0+1"] * limit)
    assert write(path, just_enough) == len(just_enough)
    assert values(ident, 1) == [limit]


def long_write(path, command, flags=0):
    try:
        return "wrote %d of %d" % (write(path, command, flags), len(command))
    except OSError as e:
        return errno_name(e.errno)


def case_long_write_that_cannot_be_done_takes_nothing(m):
    """A write longer than one FUSE request (1,044,480 bytes here) would
    reach the daemon in pieces; it is refused whole, EMSGSIZE, so a semop
    is never cut in two."""
    ident = make_set(m, 1, [1, 0])
    command = b"0-1" + b" " * (1 << 20) + b"1-1"
    got = long_write(m.sysv("sem", 1), command, os.O_NONBLOCK)
    assert (got, values(ident, 2)) == ("EMSGSIZE", [1, 0]), (got, values(ident, 2))


def case_long_malformed_write_changes_nothing(m):
    ident = make_set(m, 1, [1, 0])
    command = b"1+1" + b" " * (1 << 20) + b"x"
    got = long_write(m.sysv("sem", 1), command)
    assert (got, values(ident, 2)) == ("EMSGSIZE", [1, 0]), (got, values(ident, 2))


def case_carriage_return_is_not_a_separator(m):
    """Operations are separated by spaces, tabs or newlines; anything else
    written is EINVAL and changes nothing."""
    ident = make_set(m, 1, [1, 0])
    path = m.sysv("sem", 1)
    got = []
    for command in (b"0+1\r", b"0+1\r\n", b"1+1\f", b"0+1\v", b"0+1\r 1+1"):
        try:
            got.append((command, "wrote %d" % write(path, command), values(ident, 2)))
        except OSError as e:
            got.append((command, errno_name(e.errno), values(ident, 2)))
    assert all(g[1:] == ("EINVAL", [1, 0]) for g in got), got


# Waiting ---------------------------------------------------------------------------------

def case_take_waits_for_a_post(m):
    ident = make_set(m, 1, [0])
    path = m.sysv("sem", 1)
    waiter = Child(writer(path, b"0-2"))
    waiter.wait_parked()
    assert eventually(lambda: ncount(ident), 1) == 1  # the daemon's semop waits
    assert waiter.quiet_for(0.3)
    SysV.semop(ident, [(0, 1)])
    assert waiter.quiet_for(0.3)  # one of two
    assert values(ident, 1) == [1]
    SysV.semop(ident, [(0, 1)])
    assert waiter.line() == "wrote 3"
    assert values(ident, 1) == [0]
    assert eventually(lambda: ncount(ident), 0) == 0


def case_zero_waits_for_zero(m):
    ident = make_set(m, 1, [0, 2])
    path = m.sysv("sem", 1)
    waiter = Child(writer(path, b"1=0"))
    waiter.wait_parked()
    assert eventually(lambda: zcount(ident, 1), 1) == 1
    assert waiter.quiet_for(0.3)
    SysV.semop(ident, [(1, -1)])
    assert waiter.quiet_for(0.3)
    SysV.semop(ident, [(1, -1)])
    assert waiter.line() == "wrote 3"
    assert values(ident, 2) == [0, 0]


def case_waiting_write_takes_nothing_meanwhile(m):
    ident = make_set(m, 1, [1, 0])
    path = m.sysv("sem", 1)
    waiter = Child(writer(path, b"0-1 1-1"))
    waiter.wait_parked()
    assert eventually(lambda: ncount(ident, 0) + ncount(ident, 1), 1) == 1
    assert stays(lambda: values(ident, 2), [1, 0], 0.3)
    # Semaphore 0 is there for anyone else to take while the write waits.
    SysV.semop(ident, [(0, -1)], SysV.IPC_NOWAIT)
    SysV.semop(ident, [(1, 1)])
    assert waiter.quiet_for(0.3)
    assert values(ident, 2) == [0, 1]
    SysV.semop(ident, [(0, 1)])
    assert waiter.line() == "wrote 7"
    assert values(ident, 2) == [0, 0]


def case_nonblocking_write_is_eagain(m):
    ident = make_set(m, 1, [1, 0])
    path = m.sysv("sem", 1)
    for command in (b"0-1 1-1", b"0-2", b"0=0", b"1+1 0=0"):
        expect_errno(errno.EAGAIN, write, path, command, os.O_NONBLOCK)
        assert (command, values(ident, 2)) == (command, [1, 0])
    assert (ncount(ident, 0), ncount(ident, 1), zcount(ident, 0)) == (0, 0, 0)
    # O_NONBLOCK set after the open counts as well.
    fd = os.open(path, os.O_WRONLY)
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
        expect_errno(errno.EAGAIN, os.write, fd, b"0-2")
    finally:
        os.close(fd)
    assert write(path, b"0-1 1=0", os.O_NONBLOCK) == 7
    assert values(ident, 2) == [0, 0]


def interrupted_writer(path, command, after=0.3):
    """A child's job: write() through libc while SIGALRM, with a handler,
    comes after `after` seconds; what it returned, as is."""
    def job(say):
        caught = []
        signal.signal(signal.SIGALRM, lambda *a: caught.append(1))
        fd = os.open(path, os.O_WRONLY)
        signal.setitimer(signal.ITIMER_REAL, after)
        start = time.monotonic()
        r = LIBC.write(fd, command, len(command))
        e = ctypes.get_errno()
        took = time.monotonic() - start
        return "returned %d %s handler ran %d %s" % (
            r, errno_name(e) if r < 0 else "", len(caught), "late" if took > 3 else "")
    return job


def case_interrupted_write_is_eintr_and_takes_nothing(m):
    ident = make_set(m, 1, [1, 0])
    path = m.sysv("sem", 1)
    waiter = Child(interrupted_writer(path, b"0-1 1-1"))
    assert waiter.line() == "returned -1 EINTR handler ran 1 "
    assert values(ident, 2) == [1, 0]
    assert eventually(lambda: ncount(ident, 0) + ncount(ident, 1), 0) == 0
    # The stopped semop is gone: a later post stays where it was put.
    SysV.semop(ident, [(1, 1)])
    assert stays(lambda: values(ident, 2), [1, 1], 0.3)
    assert write(path, b"0-1 1-1", os.O_NONBLOCK) == 7
    assert values(ident, 2) == [0, 0]


def case_interrupted_write_in_this_process(m):
    """The same, with the signal caught here: CPython installs its handler
    without SA_RESTART, and libc's write shows the EINTR."""
    ident = make_set(m, 1, [0])
    path = m.sysv("sem", 1)
    caught = []
    old = signal.signal(signal.SIGALRM, lambda *a: caught.append(1))
    fd = os.open(path, os.O_WRONLY)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        r = LIBC.write(fd, b"0-1", 3)
        e = ctypes.get_errno()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        os.close(fd)
    assert (r, errno_name(e), len(caught)) == (-1, "EINTR", 1)
    assert eventually(lambda: ncount(ident), 0) == 0
    SysV.semop(ident, [(0, 1)])
    assert stays(lambda: values(ident, 1), [1], 0.3)


def case_killed_writer_takes_nothing(m):
    ident = make_set(m, 1, [0, 1])
    path = m.sysv("sem", 1)
    waiter = Child(writer(path, b"1-1 0-1"))
    waiter.wait_parked()
    assert eventually(lambda: ncount(ident, 0) + ncount(ident, 1), 1) == 1
    status = waiter.reap(signal.SIGKILL)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert eventually(lambda: ncount(ident, 0) + ncount(ident, 1), 0) == 0
    assert values(ident, 2) == [0, 1]
    SysV.semop(ident, [(0, 1)])
    assert stays(lambda: values(ident, 2), [1, 1], 0.3)


def case_removed_while_a_write_waits_is_eidrm(m):
    ident = make_set(m, 1, [0])
    path = m.sysv("sem", 1)
    reader = os.open(path, os.O_RDWR)
    try:
        assert os.read(os.open(path, os.O_RDONLY), 100) == b"0\n"
        waiter = Child(writer(path, b"0-1"))
        waiter.wait_parked()
        assert eventually(lambda: ncount(ident), 1) == 1
        SysV.semrm(ident)
        assert waiter.line() == "errno EIDRM"
        expect_errno(errno.EIDRM, os.read, reader, 100)
        expect_errno(errno.EIDRM, os.write, reader, b"0+1")
        expect_errno(errno.ENOENT, os.stat, path)
        assert "0x%08x" % m.key(1) not in os.listdir(sem_dir(m))
        # A new set under the name is not the old file's.
        again = make_set(m, 1, [9])
        expect_errno(errno.EIDRM, os.read, reader, 100)
        expect_errno(errno.EIDRM, os.write, reader, b"0-1")
        assert cat(path) == b"9\n"
        assert values(again, 1) == [9]
    finally:
        os.close(reader)
    assert m.alive()


def case_rm_through_the_mount_while_a_write_waits(m):
    ident = make_set(m, 1, [0])
    path = m.sysv("sem", 1)
    waiter = Child(writer(path, b"0=0 0-1"))
    waiter.wait_parked()
    assert eventually(lambda: ncount(ident), 1) == 1
    os.unlink(path)
    assert waiter.line() == "errno EIDRM"
    expect_errno(errno.EINVAL, SysV.semvalues, ident, 1)
    expect_errno(errno.ENOENT, SysV.semget, m.key(1))


def case_many_waiters_do_not_hold_up_the_mount(m):
    count = 200
    ident = make_set(m, 1, [0])
    other = make_set(m, 2, [3])
    path = m.sysv("sem", 1)

    def job(say):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, count + 100)), hard))
        threading.stack_size(256 << 10)
        done = []

        def wait_once():
            fd = os.open(path, os.O_WRONLY)
            done.append(os.write(fd, b"0-1"))
            os.close(fd)
        threads = []
        for i in range(count):
            t = threading.Thread(target=wait_once)
            t.start()
            threads.append(t)
            if not parked(os.getpid(), t.native_id, timeout=10):
                return "thread %d not parked: %r" % (i, wchan(os.getpid(), t.native_id))
        say("parked %d" % len(threads))
        for t in threads:
            t.join()
        return "done %d" % sum(1 for n in done if n == 3)

    waiters = Child(job)
    said = waiters.line(timeout=30)
    assert said == "parked %d" % count, said
    assert eventually(lambda: ncount(ident), count) == count
    for fn in (lambda: os.stat(m.sysv("sem", 2)), lambda: cat(m.sysv("sem", 2)),
               lambda: os.listdir(sem_dir(m)), lambda: write(m.sysv("sem", 2), b"0-1"),
               lambda: os.stat(path)):
        start = time.monotonic()
        fn()
        took = time.monotonic() - start
        assert took < 1, took
    assert values(other, 1) == [2]
    assert values(ident, 1) == [0]
    assert waiters.quiet_for(0.2)
    SysV.semop(ident, [(0, count)])
    assert waiters.line(timeout=20) == "done %d" % count
    assert waiters.reap() == 0
    assert values(ident, 1) == [0]
    assert ncount(ident) == 0


def post_through_an_earlier_open(m, flags):
    """Two opens made before any write waits share one inode (a shell's
    "exec 3>sem 4>sem"): a post through the second goes through at once
    while a write through the first waits, rather than stand in line
    behind the kernel's lock on the inode."""
    ident = make_set(m, 1, [0])
    path = m.sysv("sem", 1)
    fd_wait = os.open(path, os.O_WRONLY | flags)
    fd_post = os.open(path, os.O_WRONLY | flags)
    try:
        waiter = Child(lambda say: "wrote %d" % os.write(fd_wait, b"0-1"))
        waiter.wait_parked()
        poster = Child(lambda say: "wrote %d" % os.write(fd_post, b"0+1"))
        answer = poster.line(timeout=2)
        where = wchan(poster.pid)
        if answer is None:
            SysV.semop(ident, [(0, 1)])  # lets both finish
        assert waiter.line() == "wrote 3"
        assert answer == "wrote 3", "the post waited (in %s) behind the wait" % where
        assert values(ident, 1) == [0]
    finally:
        os.close(fd_wait)
        os.close(fd_post)


def case_post_through_an_earlier_open_while_a_write_waits(m):
    post_through_an_earlier_open(m, 0)


def case_post_through_an_earlier_append_open_while_a_write_waits(m):
    post_through_an_earlier_open(m, os.O_APPEND)


def state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "?"


def case_waits_beyond_the_thread_limit_wait_in_line(m):
    """With -o sysv_threads=2 two semops wait in the kernel; the others
    wait in line for a thread, and can still be interrupted there."""
    ident = make_set(m, 1, [0])
    path = m.sysv("sem", 1)
    waiters = []
    for _ in range(4):
        waiters.append(Child(writer(path, b"0-1")))
        waiters[-1].wait_parked()
    assert stays(lambda: ncount(ident), 2, 0.3)
    interrupted = Child(interrupted_writer(path, b"0-1"))
    assert interrupted.line() == "returned -1 EINTR handler ran 1 "
    assert ncount(ident) == 2
    SysV.semop(ident, [(0, 4)])
    assert [w.line() for w in waiters] == ["wrote 3"] * 4
    assert values(ident, 1) == [0]
    SysV.semop(ident, [(0, 1)])
    assert stays(lambda: values(ident, 1), [1], 0.3)


# Interop, permissions ------------------------------------------------------------------

def proc_sysvipc_key(kind, ident):
    with open("/proc/sysvipc/" + kind) as f:
        next(f)
        for line in f:
            fields = line.split()
            if int(fields[1]) == ident:
                return int(fields[0]) & 0xffffffff
    return None


def case_interop_with_ipcmk_and_ipcrm(m):
    out = subprocess.run(["ipcmk", "-S", "2", "-p", "0644"], capture_output=True, text=True)
    found = re.match(r"Semaphore id: (\d+)$", out.stdout.strip())
    assert out.returncode == 0 and found, out
    ident = int(found.group(1))
    try:
        key = proc_sysvipc_key("sem", ident)
        name = "0x%08x" % key if key else "id.%d" % ident
        path = os.path.join(sem_dir(m), name)
        assert name in os.listdir(sem_dir(m))
        st = os.stat(path)
        assert (st.st_mode & 0o777, st.st_uid) == (0o644, 0)
        assert os.getxattr(path, "user.sysv.id") == str(ident).encode()
        assert os.getxattr(path, "user.sem.nsems") == b"2"
        assert cat(path) == b"0\n0\n"
        assert write(path, b"1+3") == 3
        assert values(ident, 2) == [0, 3]
        rm = subprocess.run(["ipcrm", "-s", str(ident)], capture_output=True)
        assert rm.returncode == 0, rm
        assert name not in os.listdir(sem_dir(m))
        expect_errno(errno.ENOENT, os.stat, path)
    finally:
        subprocess.run(["ipcrm", "-s", str(ident)], stderr=subprocess.DEVNULL)


def case_created_through_the_mount_shows_in_ipcs(m):
    os.setxattr(sem_dir(m), "user.sem.nsems", b"4")
    ident = create(m.sysv("sem", 1), 0o640)
    out = subprocess.run(["ipcs", "-s"], capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in out.splitlines()
            if line.startswith("0x%08x " % m.key(1))]
    assert rows == [["0x%08x" % m.key(1), str(ident), "root", "640", "4"]], rows


def case_non_root_refused(m):
    private = make_set(m, 1, [5], mode=0o600)
    make_set(m, 2, [4, 1], mode=0o644)
    private_path, readable_path = m.sysv("sem", 1), m.sysv("sem", 2)

    def try_private():
        for flags in (os.O_RDONLY, os.O_WRONLY, os.O_RDWR):
            expect_errno(errno.EACCES, os.open, private_path, flags)
        expect_errno(errno.EPERM, os.unlink, private_path)
        expect_errno(errno.EPERM, os.chmod, private_path, 0o666)
        return "refused"

    def try_readable():
        got = cat(readable_path)
        expect_errno(errno.EACCES, os.open, readable_path, os.O_WRONLY)
        expect_errno(errno.EACCES, os.open, readable_path, os.O_RDWR)
        return got.decode().replace("\n", ",")
    assert as_user(65534, try_private) == "refused"
    assert as_user(65534, try_readable) == "4,1,"
    assert values(private, 1) == [5]
    assert ipcs_info(private)[1] == 0o600


def case_daemon_alive_after_bad_input(m):
    ident = make_set(m, 1, [1])
    path = m.sysv("sem", 1)
    d = sem_dir(m)
    for command in (b"\0", b"x" * 100000, b"1" * 5000 + b"+1", b"0+" + b"9" * 5000,
                    b"=" * 1000, b"\n" * 70000, bytes(range(256))):
        try:
            write(path, command)
        except OSError as e:
            assert e.errno in (errno.EINVAL, errno.E2BIG), errno_name(e.errno)
    for value in (b"\0", b"9" * 1000, b"1\0"):
        expect_errno(errno.EINVAL, os.setxattr, d, "user.sem.nsems", value)
    expect_errno(errno.EPERM, os.mkdir, os.path.join(d, "0x%08x" % m.key(2)))
    expect_errno(errno.EPERM, os.rename, path, m.sysv("sem", 3))
    expect_errno(errno.EINVAL, os.chmod, path, 0o4600)
    expect_errno(errno.EINVAL, os.truncate, path, 5)
    os.truncate(path, 0)
    assert m.alive()
    assert values(ident, 1) == [1]
    assert cat(path) == b"1\n"


def make_tests():
    options = {"mount_option_sets_the_default": "allow_other,sysv_sem_nsems=5",
               "waits_beyond_the_thread_limit_wait_in_line": "allow_other,sysv_threads=2"}
    return {"test_" + name[5:]: in_mount(fn, options.get(name[5:], "allow_other"))
            for name, fn in list(globals().items()) if name.startswith("case_")}


if __name__ == "__main__":
    run(make_tests())
