"""sem/: POSIX named semaphores through the mount, checked against the
semaphore itself, as sem_open maps it from /dev/shm/sem.NAME.

Writers that must wait run in child processes, so a case that hangs can
be killed and fails alone; each case kills its children before the mount
is taken down. A child blocked in the daemon sleeps in the kernel's
request_wait_answer, which /proc/PID/wchan shows: that is how a case
knows a waiter is parked before it goes on."""
import ctypes
import errno
import os
import resource
import select
import signal
import subprocess
import threading
import time

from ipcfs_test import Mount, errno_name, expect_errno, run

DIRECT = "/dev/shm"
SEM_VALUE_MAX = 2147483647
SYS_WRITE = {"x86_64": 1, "aarch64": 64, "i686": 4, "armv7l": 4}.get(os.uname().machine, 1)
LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.sem_open.restype = ctypes.c_void_p
for _fn in ("sem_post", "sem_trywait", "sem_close"):
    getattr(LIBC, _fn).argtypes = [ctypes.c_void_p]
LIBC.sem_getvalue.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
LIBC.write.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]
LIBC.write.restype = ctypes.c_ssize_t


class NamedSem:
    """The semaphore NAME as any program sees it: sem_open through ctypes."""

    def __init__(self, name, create=False, mode=0o600, value=0):
        path = ("/" + name).encode()
        if create:
            flags = os.O_CREAT | os.O_EXCL
            self.sem = LIBC.sem_open(path, ctypes.c_int(flags), ctypes.c_uint(mode),
                                     ctypes.c_uint(value))
        else:
            self.sem = LIBC.sem_open(path, ctypes.c_int(0))
        if not self.sem:  # SEM_FAILED is ((sem_t *) 0)
            self._fail(name)

    def _fail(self, what=None):
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), what)

    def value(self):
        v = ctypes.c_int()
        if LIBC.sem_getvalue(self.sem, ctypes.byref(v)) < 0:
            self._fail()
        return v.value

    def post(self):
        if LIBC.sem_post(self.sem) < 0:
            self._fail()

    def trywait(self):
        if LIBC.sem_trywait(self.sem) < 0:
            self._fail()

    def close(self):
        LIBC.sem_close(self.sem)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def sem_path(m, suffix):
    return os.path.join(m.path, "sem", m.name(suffix))


def direct(m, suffix):
    return os.path.join(DIRECT, "sem." + m.name(suffix))


def make_sem(m, suffix, value=0, mode=0o600):
    """Makes a semaphore the way other programs do, without the mount."""
    NamedSem(m.name(suffix), create=True, mode=mode, value=value).close()
    os.chmod(direct(m, suffix), mode)  # sem_open's mode went through our umask


def value_of(m, suffix):
    with NamedSem(m.name(suffix)) as s:
        return s.value()


def post_directly(m, suffix):
    with NamedSem(m.name(suffix)) as s:
        s.post()


def cat(m, suffix):
    with open(sem_path(m, suffix), "rb") as f:
        return f.read()


def write(m, suffix, command, flags=0):
    """One write() of command through the mount; returns what write returned."""
    fd = os.open(sem_path(m, suffix), os.O_WRONLY | flags)
    try:
        return os.write(fd, command)
    finally:
        os.close(fd)


def shell(command, timeout=5):
    """Runs command in sh; returns (exit status, stderr, seconds taken)."""
    start = time.monotonic()
    p = subprocess.run(["sh", "-c", command], capture_output=True, timeout=timeout)
    return p.returncode, p.stderr.decode().strip(), time.monotonic() - start


def eventually(fn, want, timeout=5, interval=0.02):
    """Polls fn() until it returns want; returns the last value seen. The
    daemon gives back a waiter's tokens after the kernel tells it the
    waiter is gone, which is after the waiter's kill or signal returns."""
    deadline = time.monotonic() + timeout
    got = fn()
    while got != want and time.monotonic() < deadline:
        time.sleep(interval)
        got = fn()
    return got


# Children ---------------------------------------------------------------

def wchan(pid, tid=None):
    """Where in the kernel a process (or one of its threads) sleeps."""
    path = "/proc/%d/task/%d/wchan" % (pid, tid) if tid else "/proc/%d/wchan" % pid
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def in_write(pid, tid=None):
    """True if the process (or thread) is in write(2) and waits for the
    daemon's answer to it, not to its open or lookup."""
    path = "/proc/%d/task/%d/syscall" % (pid, tid) if tid else "/proc/%d/syscall" % pid
    try:
        with open(path) as f:
            number = f.read().split()[0]
    except (OSError, IndexError):
        return False
    return number == str(SYS_WRITE) and wchan(pid, tid) == "request_wait_answer"


def parked(pid, tid=None, timeout=5):
    """Waits until the process or thread waits in write(2) for the daemon.
    The daemon reads requests in order, so a lookup made after this sees
    the write parked and gets a new inode."""
    return eventually(lambda: in_write(pid, tid), True, timeout, interval=0.001)


CHILDREN = []


class Child:
    """fn(say) run in a forked process. Lines it passes to say() and, at
    the end, what it returned (or the errno or exception it failed with)
    come back through a pipe."""

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
                say("raised %s" % type(e).__name__)
            os._exit(0)
        os.close(w)
        self.pipe = r
        self.buffer = b""
        self.status = None
        CHILDREN.append(self)

    def line(self, timeout=5):
        """The next line the child says, or None if none comes in time."""
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
        """True if the child says nothing (is still waiting) for seconds."""
        return not self.buffer and not select.select([self.pipe], [], [], seconds)[0]

    def wait_parked(self, timeout=5):
        """Waits until the child's write waits for the daemon's answer."""
        if not parked(self.pid, timeout=timeout):
            raise AssertionError("child never waited in the daemon: wchan %r" % wchan(self.pid))

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
    """A child's job: one write() of command to path, answering "wrote N"."""
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


def in_mount(case):
    def test():
        with Mount() as m, children():
            case(m)
    return test


# Listing, creating, attributes ---------------------------------------------

def case_listing_shows_every_named_semaphore(m):
    make_sem(m, "direct", value=2)
    os.close(os.open(sem_path(m, "mine"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    open(os.path.join(DIRECT, m.name("plainshm")), "wb").close()  # not a semaphore
    listed = sorted(n for n in os.listdir(os.path.join(m.path, "sem")) if n.startswith(m.prefix))
    assert listed == [m.name("direct"), m.name("mine")], listed
    assert os.path.exists(direct(m, "mine"))
    assert cat(m, "direct") == b"2\n"
    expect_errno(errno.ENOENT, os.stat, sem_path(m, "plainshm"))


def case_touch_creates_with_value_zero(m):
    os.umask(0o022)
    rc, err, _ = shell("touch '%s'" % sem_path(m, "touched"))
    assert (rc, err) == (0, ""), err
    st = os.stat(direct(m, "touched"))
    assert (st.st_size, st.st_uid, st.st_gid, oct(st.st_mode & 0o7777)) == (32, 0, 0, "0o644")
    assert value_of(m, "touched") == 0
    assert cat(m, "touched") == b"0\n"


def case_o_creat_uses_callers_mode(m):
    os.umask(0o022)
    fd = os.open(sem_path(m, "made"), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o640)
    assert os.read(fd, 10) == b"0\n"
    os.close(fd)
    st = os.stat(direct(m, "made"))
    assert (oct(st.st_mode & 0o7777), st.st_size, st.st_uid) == ("0o640", 32, 0)
    mine = os.stat(sem_path(m, "made"))
    assert (oct(mine.st_mode & 0o7777), mine.st_uid, mine.st_gid) == ("0o640", 0, 0)
    expect_errno(errno.EEXIST, os.open, sem_path(m, "made"), os.O_RDWR | os.O_CREAT | os.O_EXCL)
    assert value_of(m, "made") == 0


def case_created_by_a_user_is_theirs(m):
    def create():
        os.close(os.open(sem_path(m, "users"), os.O_RDWR | os.O_CREAT, 0o600))
        return "made"
    assert as_user(65534, create) == "made"
    st = os.stat(direct(m, "users"))
    assert (st.st_uid, st.st_gid, oct(st.st_mode & 0o777)) == (65534, 65534, "0o600")
    mine = os.stat(sem_path(m, "users"))
    assert (mine.st_uid, mine.st_gid) == (65534, 65534)


def case_chmod_chown_change_the_file(m):
    make_sem(m, "attrs", mode=0o600)
    os.chmod(sem_path(m, "attrs"), 0o604)
    os.chown(sem_path(m, "attrs"), 65534, 65534)
    st = os.stat(direct(m, "attrs"))
    assert (oct(st.st_mode & 0o7777), st.st_uid, st.st_gid) == ("0o604", 65534, 65534)
    os.chown(direct(m, "attrs"), 0, 65534)
    os.chmod(direct(m, "attrs"), 0o660)
    mine = os.stat(sem_path(m, "attrs"))
    assert (oct(mine.st_mode & 0o7777), mine.st_uid, mine.st_gid) == ("0o660", 0, 65534)


def case_rm_unlinks(m):
    make_sem(m, "gone", value=1)
    os.unlink(sem_path(m, "gone"))
    assert not os.path.exists(direct(m, "gone"))
    assert m.name("gone") not in os.listdir(os.path.join(m.path, "sem"))
    expect_errno(errno.ENOENT, NamedSem, m.name("gone"))


def case_xattr_shows_the_value(m):
    make_sem(m, "x", value=7)
    assert os.getxattr(sem_path(m, "x"), "user.sem.value") == b"7"
    assert "user.sem.value" in os.listxattr(sem_path(m, "x"))
    out = subprocess.run(["getfattr", "--absolute-names", "--only-values",
                          "-n", "user.sem.value", sem_path(m, "x")], capture_output=True)
    assert (out.returncode, out.stdout) == (0, b"7"), out


# Reading and writing ---------------------------------------------------------

def case_cat_prints_the_value(m):
    make_sem(m, "slots", value=3)
    out = subprocess.run(["cat", sem_path(m, "slots")], capture_output=True)
    assert (out.returncode, out.stdout) == (0, b"3\n"), out
    fd = os.open(sem_path(m, "slots"), os.O_RDONLY)
    assert os.read(fd, 1) == b"3"
    assert os.read(fd, 10) == b"\n"
    assert os.read(fd, 10) == b""
    # A stream: no position to go back to; a new open reads afresh.
    expect_errno(errno.ESPIPE, os.pread, fd, 10, 0)
    os.close(fd)
    assert value_of(m, "slots") == 3  # reading takes nothing


def case_each_write_form(m):
    make_sem(m, "w")
    steps = [(b"post", 1), (b"+3", 4), (b"2", 6), (b"wait", 5), (b"-2", 3),
             (b"post\n", 4), (b"wait\n", 3), (b"1\n", 4), (b"-4\n", 0), (b"+10", 10)]
    for command, want in steps:
        assert write(m, "w", command) == len(command), command
        assert (command, value_of(m, "w"), cat(m, "w")) == (command, want, b"%d\n" % want)


def case_echo_from_a_shell(m):
    make_sem(m, "sh")
    rc, err, _ = shell("echo post > '{0}' && echo +2 > '{0}' && echo -1 > '{0}'".format(
        sem_path(m, "sh")))
    assert (rc, err) == (0, "")
    assert value_of(m, "sh") == 2


def case_bad_commands_are_einval(m):
    make_sem(m, "bad", value=2)
    for command in (b"bogus", b"+0", b"-0", b"0", b"-x", b"+", b"-", b"\n", b"   ",
                    b"post post", b"post\nwait", b"wait now", b"3x", b"+-1", b"1.5",
                    b"POST", b"po\0st", b"+2147483648", b"x" * 100,
                    # One spelling: at most one newline after the word or
                    # number, no other space, no leading zero.
                    b"post\r", b"post\r\n", b"post\n\n", b" post", b"post ", b"\twait\n",
                    b"+01", b"01", b"-01", b"+ 1", b"1 ", b"\n1"):
        expect_errno(errno.EINVAL, write, m, "bad", command)
        assert (command, value_of(m, "bad")) == (command, 2)
    assert m.alive()


def case_empty_write_changes_nothing(m):
    """A write of nothing never reaches the daemon: the kernel answers 0
    itself, so it can't be EINVAL. Whitespace alone is (bad_commands)."""
    make_sem(m, "empty", value=2)
    fd = os.open(sem_path(m, "empty"), os.O_WRONLY)
    try:
        assert os.write(fd, b"") == 0
    finally:
        os.close(fd)
    assert value_of(m, "empty") == 2


def case_post_past_sem_value_max_is_eoverflow(m):
    make_sem(m, "max", value=SEM_VALUE_MAX - 1)
    expect_errno(errno.EOVERFLOW, write, m, "max", b"+2")
    assert value_of(m, "max") == SEM_VALUE_MAX - 1  # not one of the two
    assert write(m, "max", b"post") == 4
    assert cat(m, "max") == b"2147483647\n"
    expect_errno(errno.EOVERFLOW, write, m, "max", b"post")
    expect_errno(errno.EOVERFLOW, write, m, "max", b"1")
    assert value_of(m, "max") == SEM_VALUE_MAX
    make_sem(m, "five", value=5)
    expect_errno(errno.EINVAL, write, m, "five", b"+%d" % (SEM_VALUE_MAX - 4))
    assert value_of(m, "five") == 5


def case_one_write_counts_at_most_65536(m):
    """Each token is one call on the daemon's thread: a larger count in one
    write would hold up the whole mount."""
    make_sem(m, "many")
    write(m, "many", b"+65536")
    assert value_of(m, "many") == 65536
    for command in (b"+65537", b"65537", b"-65537"):
        expect_errno(errno.EINVAL, write, m, "many", command)
    assert value_of(m, "many") == 65536


def case_nonblocking_wait_that_cannot_complete_is_eagain(m):
    make_sem(m, "nb")
    expect_errno(errno.EAGAIN, write, m, "nb", b"wait", os.O_NONBLOCK)
    assert value_of(m, "nb") == 0
    with NamedSem(m.name("nb")) as s:
        s.post()
        s.post()
    expect_errno(errno.EAGAIN, write, m, "nb", b"-3", os.O_NONBLOCK)
    assert value_of(m, "nb") == 2  # the two it could have taken are back
    assert write(m, "nb", b"-2", os.O_NONBLOCK) == 2
    assert value_of(m, "nb") == 0
    assert write(m, "nb", b"post", os.O_NONBLOCK) == 4
    assert value_of(m, "nb") == 1


# Waiting ----------------------------------------------------------------------

def wait_ends_on(m, suffix, post):
    """A "wait" parked in the daemon ends when post() posts, taking it."""
    make_sem(m, suffix)
    waiter = Child(writer(sem_path(m, suffix), b"wait"))
    waiter.wait_parked()
    assert waiter.quiet_for(0.3)
    post()
    assert waiter.line() == "wrote 4"
    assert value_of(m, suffix) == 0


def case_wait_ends_on_a_post_from_outside(m):
    wait_ends_on(m, "out", lambda: post_directly(m, "out"))


def case_wait_ends_on_echo_post_through_the_mount(m):
    def echo_post():
        # A new open of the name while a write waits on its inode.
        rc, err, took = shell("echo post > '%s'" % sem_path(m, "in"))
        assert (rc, err) == (0, ""), err
        assert took < 2, took
    wait_ends_on(m, "in", echo_post)


def case_wait_ends_on_a_post_with_o_trunc(m):
    make_sem(m, "tr")
    waiter = Child(writer(sem_path(m, "tr"), b"-2"))
    waiter.wait_parked()
    assert write(m, "tr", b"post", os.O_TRUNC) == 4
    assert waiter.quiet_for(0.3)  # one of two
    assert write(m, "tr", b"post", os.O_TRUNC) == 4
    assert waiter.line() == "wrote 2"
    assert value_of(m, "tr") == 0


def case_killed_waiter_gives_back_what_it_took(m):
    make_sem(m, "kill", value=1)
    waiter = Child(writer(sem_path(m, "kill"), b"-3"))
    waiter.wait_parked()
    assert eventually(lambda: value_of(m, "kill"), 0) == 0  # took the one there was
    assert waiter.quiet_for(0.2)
    status = waiter.reap(signal.SIGKILL)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert eventually(lambda: value_of(m, "kill"), 1) == 1
    # Nothing more comes back later, and the semaphore still works.
    time.sleep(0.3)
    assert value_of(m, "kill") == 1
    assert write(m, "kill", b"wait") == 4
    assert value_of(m, "kill") == 0


def interrupted_writer(path, command):
    """A child's job: write() through libc, so that an EINTR is seen as it
    is rather than retried by Python, while SIGUSR1 has a handler."""
    def job(say):
        caught = []
        signal.signal(signal.SIGUSR1, lambda *a: caught.append(1))
        fd = os.open(path, os.O_WRONLY)
        r = LIBC.write(fd, command, len(command))
        e = ctypes.get_errno()
        return "returned %d %s handler ran %d" % (r, errno_name(e) if r < 0 else "", len(caught))
    return job


def case_interrupted_waiter_fails_eintr_and_gives_back(m):
    make_sem(m, "intr", value=1)
    waiter = Child(interrupted_writer(sem_path(m, "intr"), b"-3"))
    waiter.wait_parked()
    assert eventually(lambda: value_of(m, "intr"), 0) == 0
    assert waiter.quiet_for(0.2)
    os.kill(waiter.pid, signal.SIGUSR1)
    assert waiter.line() == "returned -1 EINTR handler ran 1"
    assert eventually(lambda: value_of(m, "intr"), 1) == 1
    time.sleep(0.3)
    assert value_of(m, "intr") == 1


def case_python_handler_raising_interrupts_the_wait(m):
    class Interrupted(Exception):
        pass

    def job(say):
        def handler(*a):
            raise Interrupted()
        signal.signal(signal.SIGUSR1, handler)
        fd = os.open(sem_path(m, "py"), os.O_WRONLY)
        try:
            os.write(fd, b"-3")
        except Interrupted:
            return "handler's exception"
        except InterruptedError:
            return "InterruptedError"
        return "wrote"
    make_sem(m, "py", value=1)
    waiter = Child(job)
    waiter.wait_parked()
    assert eventually(lambda: value_of(m, "py"), 0) == 0
    os.kill(waiter.pid, signal.SIGUSR1)
    assert waiter.line() in ("handler's exception", "InterruptedError")
    assert eventually(lambda: value_of(m, "py"), 1) == 1


def case_post_on_an_earlier_open_while_a_wait_is_parked(m):
    """Two opens made before any write waits share one inode (as in a
    shell's "exec 3>sem/x 4>sem/x"), and the kernel would hold the inode's
    lock for as long as the wait is unanswered. The post through the second
    must still go through at once: it is what the waiter waits for."""
    make_sem(m, "two")
    path = sem_path(m, "two")
    fd_wait = os.open(path, os.O_WRONLY)
    fd_post = os.open(path, os.O_WRONLY)
    waiter = Child(lambda say: "wrote %d" % os.write(fd_wait, b"wait"))
    waiter.wait_parked()
    poster = Child(lambda say: "wrote %d" % os.write(fd_post, b"post"))
    answer = poster.line(timeout=2)
    where = wchan(poster.pid)
    if answer is None:
        write(m, "two", b"post")  # through a new inode: lets both finish
    assert waiter.line() == "wrote 4"
    os.close(fd_wait)
    os.close(fd_post)
    assert answer == "wrote 4", "the post waited (in %s) behind the wait" % where
    assert value_of(m, "two") == 0


def line_up(m, suffix, commands, gap=0.0):
    """A child per command writing it to a new semaphore, each parked in
    the daemon (and gap seconds more) before the next starts."""
    make_sem(m, suffix)
    waiters = []
    for command in commands:
        waiters.append(Child(writer(sem_path(m, suffix), command)))
        waiters[-1].wait_parked()
        time.sleep(gap)
    return waiters


def case_waiters_served_in_arrival_order(m):
    waiters = line_up(m, "fifo", [b"wait"] * 3, gap=0.3)
    posts = [lambda: post_directly(m, "fifo"),
             lambda: write(m, "fifo", b"post"),
             lambda: post_directly(m, "fifo")]
    finished = []
    for post in posts:
        post()
        ready = [i + 1 for i, w in enumerate(waiters) if w.status is None and not w.quiet_for(1)]
        assert len(ready) == 1, (finished, ready)
        w = waiters[ready[0] - 1]
        assert w.line() == "wrote 4"
        w.reap()
        finished.append(ready[0])
    assert finished == [1, 2, 3], finished
    assert value_of(m, "fifo") == 0


def case_a_later_waiter_does_not_pass_an_earlier_one(m):
    """A "-2" waiter arrived first: the one token a post brings goes to it,
    not to the "wait" behind it, which one token would satisfy."""
    first, second = line_up(m, "order", [b"-2", b"wait"])
    post_directly(m, "order")
    assert first.quiet_for(0.5) and second.quiet_for(0.1), "someone finished on 1 token"
    assert write(m, "order", b"post") == 4
    assert first.line() == "wrote 2"
    assert second.quiet_for(0.3)
    post_directly(m, "order")
    assert second.line() == "wrote 4"
    assert value_of(m, "order") == 0


def case_killed_waiter_leaves_the_line(m):
    waiters = line_up(m, "line", [b"wait"] * 3)
    waiters[1].reap(signal.SIGKILL)
    time.sleep(0.2)
    assert write(m, "line", b"post") == 4
    assert waiters[0].line() == "wrote 4"
    assert waiters[2].quiet_for(0.3)
    assert write(m, "line", b"post") == 4
    assert waiters[2].line() == "wrote 4"
    assert value_of(m, "line") == 0


def case_waiters_do_not_block_the_daemon(m):
    """1000 writes wait on one semaphore, each parked in the daemon (each
    thread opens after the one before it is parked, so each has an inode
    of its own and none waits on another's lock in the kernel)."""
    count = 1000
    make_sem(m, "many")
    make_sem(m, "other")
    path = sem_path(m, "many")

    def job(say):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, count + 100)), hard))
        threading.stack_size(256 << 10)
        done = []

        def wait_once():
            fd = os.open(path, os.O_WRONLY)
            done.append(os.write(fd, b"wait"))
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
        return "done %d" % sum(1 for n in done if n == 4)

    waiters = Child(job)
    said = waiters.line(timeout=120)
    assert said == "parked %d" % count, said
    for command in ("ls '{0}/sem'", "stat '{0}/sem/{1}many'", "echo post > '{0}/sem/{1}other'",
                    "cat '{0}/sem/{1}other'", "ls -l '{0}/sem'"):
        rc, err, took = shell(command.format(m.path, m.prefix), timeout=10)
        assert (command, rc, err) == (command, 0, ""), err
        assert took < 2, (command, took)
    assert value_of(m, "other") == 1
    assert value_of(m, "many") == 0
    assert waiters.quiet_for(0.2)
    rc, err, took = shell("echo %d > '%s'" % (count, path), timeout=10)
    assert (rc, err) == (0, ""), err
    assert took < 2, took
    assert waiters.line(timeout=60) == "done %d" % count
    assert waiters.reap() == 0
    assert value_of(m, "many") == 0


# Interop, permissions, broken files --------------------------------------------

def case_interop_with_sem_open(m):
    make_sem(m, "io", value=1)
    with NamedSem(m.name("io")) as s:
        s.post()
        s.post()
        assert cat(m, "io") == b"3\n"
        write(m, "io", b"+4")
        assert s.value() == 7
        s.trywait()
        assert cat(m, "io") == b"6\n"
        write(m, "io", b"-6")
        assert s.value() == 0
        expect_errno(errno.EAGAIN, s.trywait)


def case_non_root_refused(m):
    make_sem(m, "private", value=5, mode=0o600)
    make_sem(m, "readable", value=4, mode=0o644)

    def try_private():
        expect_errno(errno.EACCES, os.open, sem_path(m, "private"), os.O_RDONLY)
        expect_errno(errno.EACCES, os.open, sem_path(m, "private"), os.O_WRONLY)
        expect_errno(errno.EACCES, os.open, sem_path(m, "private"), os.O_RDWR)
        expect_errno(errno.EPERM, os.unlink, sem_path(m, "private"))
        expect_errno(errno.EPERM, os.chmod, sem_path(m, "private"), 0o666)
        return "refused"

    def try_readable():
        with open(sem_path(m, "readable"), "rb") as f:
            assert f.read() == b"4\n"
        expect_errno(errno.EACCES, os.open, sem_path(m, "readable"), os.O_WRONLY)
        return "read only"
    assert as_user(65534, try_private) == "refused"
    assert as_user(65534, try_readable) == "read only"
    assert (value_of(m, "private"), value_of(m, "readable")) == (5, 4)
    assert os.path.exists(direct(m, "private"))


def case_short_files_are_euclean(m):
    make_sem(m, "good", value=1)
    for suffix, size in (("broken", 0), ("ten", 10)):
        with open(direct(m, suffix), "wb") as f:
            f.write(bytes(size))
        assert m.name(suffix) in os.listdir(os.path.join(m.path, "sem")), suffix
        for flags in (os.O_RDONLY, os.O_WRONLY, os.O_RDWR):
            expect_errno(errno.EUCLEAN, os.open, sem_path(m, suffix), flags)
        out = subprocess.run(["cat", sem_path(m, suffix)], capture_output=True)
        assert out.returncode == 1 and b"Structure needs cleaning" in out.stderr, out
        assert m.alive()
        assert cat(m, "good") == b"1\n"
        assert os.path.getsize(direct(m, suffix)) == size  # left as it was
    assert sorted(n for n in os.listdir(os.path.join(m.path, "sem")) if n.startswith(m.prefix)) \
        == sorted(m.name(s) for s in ("good", "broken", "ten"))


def case_truncated_while_open_is_euclean(m):
    make_sem(m, "cut", value=2)
    fd = os.open(sem_path(m, "cut"), os.O_RDWR)
    os.truncate(direct(m, "cut"), 0)  # the daemon's mapping of it now ends at 0
    expect_errno(errno.EUCLEAN, os.read, fd, 10)
    for command in (b"post", b"wait", b"-2"):
        expect_errno(errno.EUCLEAN, os.write, fd, command)
    expect_errno(errno.EUCLEAN, os.getxattr, sem_path(m, "cut"), "user.sem.value")
    expect_errno(errno.EUCLEAN, os.open, sem_path(m, "cut"), os.O_RDONLY)
    assert m.alive()
    assert m.name("cut") in os.listdir(os.path.join(m.path, "sem"))
    os.truncate(direct(m, "cut"), 32)  # whole again: a semaphore of value 0
    assert os.write(fd, b"+2") == 2
    assert (os.read(fd, 10), value_of(m, "cut")) == (b"2\n", 2)
    os.close(fd)


def case_truncated_while_a_write_waits(m):
    """The file of a semaphore with a parked waiter is cut short: the
    waiter's write fails, and the daemon lives on."""
    make_sem(m, "cutw", value=2)
    make_sem(m, "fine", value=1)
    waiter = Child(writer(sem_path(m, "cutw"), b"-3"))
    waiter.wait_parked()
    assert eventually(lambda: value_of(m, "cutw"), 0) == 0
    time.sleep(0.3)
    os.truncate(direct(m, "cutw"), 0)
    answer = waiter.line(timeout=3)
    time.sleep(0.3)
    assert m.alive(), "the daemon died: exit status %s, waiter got %r" % (m.proc.poll(), answer)
    assert answer == "errno EUCLEAN", answer
    assert cat(m, "fine") == b"1\n"


def case_name_lengths(m):
    """sem.NAME must fit in NAME_MAX (255): NAME has at most 251 bytes."""
    longest = m.prefix + "n" * (251 - len(m.prefix))
    os.close(os.open(os.path.join(m.path, "sem", longest), os.O_CREAT | os.O_RDWR, 0o600))
    assert os.path.exists(os.path.join(DIRECT, "sem." + longest))
    assert longest in os.listdir(os.path.join(m.path, "sem"))
    expect_errno(errno.ENAMETOOLONG, os.open, os.path.join(m.path, "sem", longest + "n"),
                 os.O_CREAT | os.O_RDWR, 0o600)
    assert not os.path.exists(os.path.join(DIRECT, "sem." + longest + "n"))


def make_tests():
    return {"test_" + name[5:]: in_mount(fn)
            for name, fn in list(globals().items()) if name.startswith("case_")}


if __name__ == "__main__":
    run(make_tests())
