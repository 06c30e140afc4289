"""ns/: another IPC namespace's objects, from the host. Each test starts a
container with `unshare --ipc --mount --fork`, with a tmpfs of its own on
/dev/shm, in which a helper makes a POSIX queue, a System V queue and a
segment, and then answers commands on stdin with what it sees from the
inside. The host lists, reads, writes, creates, chmods and removes
through ns/N/ and checks each against the helper's view; a message goes
both ways on each queue; a user other than root is refused; once the
container exits, ns/N goes and the daemon holds nothing of it."""
import contextlib
import errno
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from ipcfs_test import (HOLDERS_XATTR, LineChild, Mount, as_user, expect_errno, outcomes, run,
                        wait_until)

NOBODY = 65534
NS_XATTRS = ["user.ns.pid", "user.ns.command"]

# Inside the container: argv[1] the System V key to make. Prints "NS
# SHM_DEV MQUEUE_DEV PID", then answers each command line with one line.
CONTAINER = r"""
import ctypes, os, subprocess, sys, tempfile
rt = ctypes.CDLL("librt.so.1", use_errno=True)
libc = ctypes.CDLL(None, use_errno=True)
subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/dev/shm"], check=True)
mq_dir = tempfile.mkdtemp()
subprocess.run(["mount", "-t", "mqueue", "mqueue", mq_dir], check=True)

class Attr(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_long), ("maxmsg", ctypes.c_long),
                ("msgsize", ctypes.c_long), ("curmsgs", ctypes.c_long),
                ("pad", ctypes.c_long * 4)]

q = rt.mq_open(b"/jobs", os.O_CREAT | os.O_RDWR | os.O_NONBLOCK, 0o600,
               ctypes.byref(Attr(0, 8, 64, 0)))
assert q >= 0, ctypes.get_errno()
with open("/dev/shm/seg", "wb") as f:
    f.write(b"container bytes")
msq = libc.msgget(int(sys.argv[1]), 0o1000 | 0o600)
assert msq >= 0, ctypes.get_errno()
print(os.stat("/proc/self/ns/ipc").st_ino, os.stat("/dev/shm").st_dev,
      os.stat(mq_dir).st_dev, os.getpid(), flush=True)

def receive():
    buf = ctypes.create_string_buffer(64)
    n = rt.mq_receive(q, buf, 64, None)
    return buf.raw[:n].decode() if n >= 0 else "errno %d" % ctypes.get_errno()

def msgrcv():
    buf = ctypes.create_string_buffer(8 + 64)
    libc.msgrcv.restype = ctypes.c_ssize_t
    n = libc.msgrcv(msq, buf, ctypes.c_size_t(64), ctypes.c_long(0), 0o4000)
    return buf.raw[8:8 + n].decode() if n >= 0 else "errno %d" % ctypes.get_errno()

def msgsnd(text):
    data = text.encode()
    buf = ctypes.create_string_buffer(8 + len(data))
    ctypes.c_long.from_buffer(buf).value = 1
    ctypes.memmove(ctypes.addressof(buf) + 8, data, len(data))
    return "sent" if libc.msgsnd(msq, buf, ctypes.c_size_t(len(data)), 0) == 0 else "failed"

def queue_exists(name):
    r = rt.mq_open(("/" + name).encode(), os.O_RDONLY)
    if r >= 0:
        os.close(r)
    return "yes" if r >= 0 else "no"

for line in sys.stdin:
    cmd, _, arg = line.strip().partition(" ")
    if cmd == "receive":
        out = receive()
    elif cmd == "send":
        out = "sent" if rt.mq_send(q, arg.encode(), len(arg), 0) == 0 else "failed"
    elif cmd == "msgrcv":
        out = msgrcv()
    elif cmd == "msgsnd":
        out = msgsnd(arg)
    elif cmd == "queue":
        out = queue_exists(arg)
    elif cmd == "file":
        out = "yes" if os.path.exists("/dev/shm/" + arg) else "no"
    print(out, flush=True)
"""


class Container(LineChild):
    def __init__(self, key):
        super().__init__(["unshare", "--ipc", "--mount", "--fork", "--propagation", "private",
                          sys.executable, "-c", CONTAINER, str(key)])
        fields = self.proc.stdout.readline().split()
        if len(fields) != 4:
            self.end()
            raise AssertionError("the container did not start: %r" % fields)
        self.ns, self.shm_dev, self.mq_dev, self.pid = (int(f) for f in fields)
        self.key = key


def top(m, c, *parts):
    return os.path.join(m.path, "ns", str(c.ns), *parts)


def test_lists_other_namespaces_only():
    with Mount() as m, Container(m.key(1)) as c:
        names = os.listdir(os.path.join(m.path, "ns"))
        assert str(c.ns) in names, names
        own = os.stat("/proc/%d/ns/ipc" % m.proc.pid).st_ino
        assert str(own) not in names
        assert sorted(os.listdir(top(m, c))) == ["mq", "sem", "shm", "sysv"]
        assert sorted(os.listdir(top(m, c, "sysv"))) == ["msg", "sem", "shm"]
        assert os.listxattr(top(m, c)) == NS_XATTRS
        pid = int(os.getxattr(top(m, c), "user.ns.pid"))
        assert os.stat("/proc/%d/ns/ipc" % pid).st_ino == c.ns
        command = os.getxattr(top(m, c), "user.ns.command").decode()
        with open("/proc/%d/comm" % pid) as f:
            assert command == f.read().strip()
        expect_errno(errno.ENOENT, os.stat, os.path.join(m.path, "ns", str(own)))
        expect_errno(errno.ENOENT, os.stat, os.path.join(m.path, "ns", "x1"))


def test_shows_the_containers_objects_and_only_them():
    with Mount() as m, Container(m.key(2)) as c:
        os.close(os.open(m.queue("host"), os.O_CREAT | os.O_RDWR, 0o600))
        assert os.listdir(top(m, c, "mq")) == ["jobs"]
        assert "jobs" not in os.listdir(os.path.join(m.path, "mq"))
        assert os.listdir(top(m, c, "shm")) == ["seg"]
        with open(top(m, c, "shm", "seg"), "rb") as f:
            assert f.read() == b"container bytes"
        assert os.listdir(top(m, c, "sysv", "msg")) == ["0x%08x" % c.key]
        assert os.getxattr(top(m, c, "mq", "jobs"), "user.mq.maxmsg") == b"8"
        assert os.getxattr(top(m, c, "mq", "jobs"), HOLDERS_XATTR) == b"%d python3\n" % c.pid


def test_messages_both_ways():
    with Mount() as m, Container(m.key(3)) as c:
        jobs = top(m, c, "mq", "jobs")
        fd = os.open(jobs, os.O_WRONLY)
        assert os.write(fd, b"to-container") == 12
        os.close(fd)
        assert c.ask("receive") == "to-container"
        assert c.ask("send to-host") == "sent"
        fd = os.open(jobs, os.O_RDONLY)
        assert os.read(fd, 64) == b"to-host"
        os.close(fd)
        msg = top(m, c, "sysv", "msg", "0x%08x" % c.key)
        fd = os.open(msg, os.O_WRONLY)
        assert os.write(fd, b"sysv-in") == 7
        os.close(fd)
        assert c.ask("msgrcv") == "sysv-in"
        assert c.ask("msgsnd sysv-out") == "sent"
        fd = os.open(msg, os.O_RDONLY)
        assert os.read(fd, 64) == b"sysv-out"
        os.close(fd)


def read_in_thread(path, size=64):
    """Starts a blocking read of path; once joined, the result holds what
    it read ("data") or its errno ("errno")."""
    result = {}

    def reader():
        fd = os.open(path, os.O_RDONLY)
        try:
            result["data"] = os.read(fd, size)
        except OSError as e:
            result["errno"] = e.errno
        finally:
            os.close(fd)
    t = threading.Thread(target=reader)
    t.start()
    return t, result


def test_reads_wait_for_the_container():
    """A read of an empty queue below ns/N waits, parked, until the
    container sends; a System V one waits on a pool thread that has joined
    N. poll says when a message is there."""
    with Mount() as m, Container(m.key(8)) as c:
        jobs = top(m, c, "mq", "jobs")
        t, got = read_in_thread(jobs)
        time.sleep(0.3)
        assert t.is_alive(), "a read of an empty queue did not wait"
        assert c.ask("send woken") == "sent"
        t.join(5)
        assert got.get("data") == b"woken", got
        msg = top(m, c, "sysv", "msg", "0x%08x" % c.key)
        t, got = read_in_thread(msg)
        time.sleep(0.3)
        assert t.is_alive(), "a read of an empty System V queue did not wait"
        assert c.ask("msgsnd sysv-woken") == "sent"
        t.join(5)
        assert got.get("data") == b"sysv-woken", got
        fd = os.open(jobs, os.O_RDONLY | os.O_NONBLOCK)
        try:
            p = select.poll()
            p.register(fd, select.POLLIN)
            assert p.poll(100) == []
            assert c.ask("send polled") == "sent"
            assert p.poll(5000) == [(fd, select.POLLIN)]
            assert os.read(fd, 64) == b"polled"
        finally:
            os.close(fd)


def test_create_chmod_and_remove_from_the_host():
    with Mount() as m, Container(m.key(4)) as c:
        made = top(m, c, "mq", "made")
        os.close(os.open(made, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
        assert c.ask("queue made") == "yes"
        assert not os.path.exists(m.queue("made"))
        os.chmod(made, 0o640)
        assert os.stat(made).st_mode & 0o777 == 0o640
        os.unlink(made)
        assert c.ask("queue made") == "no"
        seg = top(m, c, "shm", "made")
        with open(seg, "wb") as f:
            f.write(b"x")
        assert c.ask("file made") == "yes"
        assert not os.path.exists(os.path.join("/dev/shm", "made"))
        os.unlink(seg)
        assert c.ask("file made") == "no"
        key = top(m, c, "sysv", "msg", "0x%08x" % m.key(5))
        os.close(os.open(key, os.O_CREAT | os.O_RDWR, 0o600))
        assert "0x%08x" % m.key(5) in os.listdir(top(m, c, "sysv", "msg"))
        assert "0x%08x" % m.key(5) not in os.listdir(os.path.join(m.path, "sysv", "msg"))
        os.unlink(key)
        assert "0x%08x" % m.key(5) not in os.listdir(top(m, c, "sysv", "msg"))


def test_only_root_may_list_or_enter():
    with Mount() as m, Container(m.key(6)) as c:
        ns = os.path.join(m.path, "ns")
        assert os.stat(ns).st_mode & 0o777 == 0o700
        expect_errno(errno.EACCES, as_user, NOBODY, os.listdir, ns)
        expect_errno(errno.EACCES, as_user, NOBODY, os.stat, top(m, c, "mq"))
        expect_errno(errno.EACCES, as_user, NOBODY, os.open, top(m, c, "mq", "jobs"),
                     os.O_RDONLY)


def attempts_from_inside(fd):
    """As a user whose working directory is ns/N/ and who holds fd, a file
    of the container's queue that root opened: the errno of each try."""
    tries = {
        "create mq/x": lambda: os.close(os.open("mq/x", os.O_CREAT | os.O_RDWR, 0o666)),
        "list mq": lambda: os.listdir("mq"),
        "stat mq/jobs": lambda: os.stat("mq/jobs"),
        "getxattr .": lambda: os.getxattr(".", "user.ns.pid"),
        "read fd": lambda: os.read(fd, 64),
        "write fd": lambda: os.write(fd, b"x"),
        "fstat fd": lambda: os.fstat(fd),
        "fgetxattr fd": lambda: os.getxattr(fd, "user.mq.curmsgs"),
    }
    return outcomes(tries)


def test_no_request_below_ns_but_roots():
    """The modes of ns/ keep others from walking in; a process that got a
    working directory or a descriptor there from root is refused too, on
    every request, and can't make a queue in the container."""
    with Mount() as m, Container(m.key(7)) as c:
        fd = os.open(top(m, c, "mq", "jobs"), os.O_RDWR | os.O_NONBLOCK)
        here = os.getcwd()
        try:
            os.chdir(top(m, c))
            got = as_user(NOBODY, attempts_from_inside, fd)
        finally:
            os.chdir(here)
            os.close(fd)
        assert got == {what: "EACCES" for what in got}, got
        assert c.ask("queue x") == "no"
        assert "x" not in os.listdir(top(m, c, "mq"))
        # ns/ itself may be stat'ed by anyone, as any 0700 directory.
        assert as_user(NOBODY, lambda: os.stat(os.path.join(m.path, "ns")).st_mode & 0o777) == 0o700


def test_a_new_namespace_with_a_dead_ones_number_is_reachable():
    """A namespace gets the inode number of one just gone (the kernel
    reuses the lowest free one); its ns/N is reachable within the second
    the sweep and the kernel's cache of the name take, while a directory
    still open on the old ns/N answers ENOENT."""
    with Mount() as m:
        old = subprocess.Popen(["unshare", "--ipc", "sleep", "600"])
        try:
            wait_until(lambda: os.readlink("/proc/%d/ns/ipc" % old.pid) != os.readlink(
                "/proc/self/ns/ipc"), "the container's namespace")
            ns = str(os.stat("/proc/%d/ns/ipc" % old.pid).st_ino)
            wait_until(lambda: ns in os.listdir(os.path.join(m.path, "ns")), "ns/N listed")
            top = os.path.join(m.path, "ns", ns)
            held = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
        finally:
            old.kill()
            old.wait()
        try:
            wait_until(lambda: ns not in os.listdir(os.path.join(m.path, "ns")), "ns/N gone")
            wait_until(lambda: outcome_of(os.listdir, top) == "ENOENT", "ns/N ENOENT")
            new = None
            for _ in range(20):  # the number is the lowest free one once freed
                new = subprocess.Popen(["unshare", "--ipc", "sleep", "600"])
                wait_until(lambda: os.path.exists("/proc/%d/ns/ipc" % new.pid) and
                           os.readlink("/proc/%d/ns/ipc" % new.pid) != os.readlink(
                               "/proc/self/ns/ipc"), "the new namespace")
                if os.readlink("/proc/%d/ns/ipc" % new.pid) == "ipc:[%s]" % ns:
                    break
                new.kill()
                new.wait()
                new = None
                time.sleep(0.1)
            assert new, "the kernel gave no new namespace the number %s" % ns
            try:
                wait_until(lambda: outcome_of(os.listdir, top) == ["mq", "sem", "shm", "sysv"],
                           "the new ns/N reachable", limit=3)
                key = os.path.join(top, "sysv", "msg", "0x%08x" % m.key(9))
                os.close(os.open(key, os.O_CREAT | os.O_RDWR, 0o600))
                seen = subprocess.run(["nsenter", "--ipc", "-t", str(new.pid), "ipcs", "-q"],
                                      capture_output=True, text=True, check=True).stdout
                assert "0x%08x" % m.key(9) in seen, seen
                os.unlink(key)
                expect_errno(errno.ENOENT, os.listdir, held)
            finally:
                new.kill()
                new.wait()
        finally:
            os.close(held)


def outcome_of(fn, *args):
    try:
        return sorted(fn(*args))
    except OSError as e:
        return errno.errorcode[e.errno]


# A container of nobody's with a user namespace of its own (its root is
# nobody on the host), whose /dev/shm is argv[1]'s doing: "bind DIR" binds
# a host directory there, "link DIR" puts a tmpfs on /dev and a symlink
# /dev/shm -> DIR, "tmpfs" mounts its own. Prints its pid, then waits.
USER_CONTAINER = r"""
set -e
case "$1" in
bind) mount --bind "$2" /dev/shm ;;
link) mount -t tmpfs none /dev; ln -s "$2" /dev/shm ;;
tmpfs) mount -t tmpfs none /dev/shm; echo data > /dev/shm/seg ;;
esac
echo $$
exec sleep 600
"""


@contextlib.contextmanager
def user_container(how, target=""):
    # A session of its own, ended whole: unshare's forked child would
    # outlive unshare and keep the test's output open.
    proc = subprocess.Popen(["setpriv", "--reuid", str(NOBODY), "--regid", str(NOBODY),
                             "--clear-groups", "unshare", "--user", "--map-root-user", "--ipc",
                             "--mount", "--fork", "--kill-child", "sh", "-c", USER_CONTAINER,
                             "sh", how, target],
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        pid = int(proc.stdout.readline())
        yield str(os.stat("/proc/%d/ns/ipc" % pid).st_ino)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextlib.contextmanager
def host_directory():
    """A directory of root's with a 0600 file of root's and a set-uid one."""
    d = tempfile.mkdtemp(prefix="ipcfs-host.")
    os.chmod(d, 0o755)
    try:
        for name, mode in (("victim", 0o600), ("suidbin", 0o4755)):
            with open(os.path.join(d, name), "w") as f:
                f.write("host\n")
            os.chmod(os.path.join(d, name), mode)
        yield d
    finally:
        shutil.rmtree(d)


def tries_below(top):
    shm, sem = os.path.join(top, "shm"), os.path.join(top, "sem")
    tries = {
        "read": lambda: open(os.path.join(shm, "victim"), "rb").read(),
        "open for writing": lambda: os.close(os.open(os.path.join(shm, "suidbin"), os.O_WRONLY)),
        "chmod": lambda: os.chmod(os.path.join(shm, "victim"), 0o666),
        "rm": lambda: os.unlink(os.path.join(shm, "victim")),
        "create shm": lambda: os.close(os.open(os.path.join(shm, "new"), os.O_CREAT | os.O_RDWR)),
        "create sem": lambda: os.close(os.open(os.path.join(sem, "cs"), os.O_CREAT | os.O_RDWR)),
    }
    return outcomes(tries)


def test_below_ns_n_only_what_the_containers_root_may():
    """A container with its own user namespace that points its /dev/shm at
    a host directory gets nothing done there through ns/N that its own
    root could not do: root of the host, through the mount, can't read,
    change or remove the host's files, nor create files there."""
    with Mount() as m, host_directory() as host:
        for how in ("bind", "link"):
            with user_container(how, host) as ns:
                top = os.path.join(m.path, "ns", ns)
                wait_until(lambda: os.path.isdir(top), "ns/N")
                assert sorted(os.listdir(os.path.join(top, "shm"))) == ["suidbin", "victim"]
                got = tries_below(top)
                want = {"read": "EACCES", "open for writing": "EACCES", "chmod": "EPERM",
                        "rm": "EACCES", "create shm": "EACCES", "create sem": "EACCES"}
                assert got == want, (how, got)
                assert sorted(os.listdir(host)) == ["suidbin", "victim"], (how, os.listdir(host))
                assert os.stat(os.path.join(host, "suidbin")).st_mode & 0o7777 == 0o4755
                assert os.stat(os.path.join(host, "victim")).st_mode & 0o7777 == 0o600


def test_below_ns_n_the_containers_own_files_are_its_roots():
    """In a container with its own user namespace and its own /dev/shm,
    root through ns/N does what the container's root does: reads, writes,
    makes and removes segments and semaphores, which the container owns."""
    with Mount() as m, user_container("tmpfs") as ns:
        top = os.path.join(m.path, "ns", ns)
        wait_until(lambda: os.path.isdir(top), "ns/N")
        seg = os.path.join(top, "shm", "seg")
        with open(seg, "rb") as f:
            assert f.read() == b"data\n"
        with open(seg, "ab") as f:
            f.write(b"more\n")
        os.chmod(seg, 0o640)
        made = os.path.join(top, "shm", "made")
        os.close(os.open(made, os.O_CREAT | os.O_RDWR, 0o600))
        sem = os.path.join(top, "sem", "s1")
        with open(sem, "w") as f:
            f.write("post\n")
        with open(sem) as f:
            assert f.read() == "1\n"
        st = os.stat(made)
        assert (st.st_uid, st.st_gid) == (NOBODY, NOBODY), (st.st_uid, st.st_gid)
        expect_errno(errno.EPERM, os.chown, seg, 0, 0)
        os.unlink(made)
        os.unlink(sem)
        assert sorted(os.listdir(os.path.join(top, "shm"))) == ["seg"]
        with open(seg, "rb") as f:
            assert f.read() == b"data\nmore\n"
        assert os.stat(seg).st_mode & 0o777 == 0o640


def daemon_holds(pid, devs, ns):
    """The daemon's descriptors of a file on devs, or of namespace ns."""
    held = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        path = "/proc/%d/fd/%s" % (pid, fd)
        try:
            st = os.stat(path)
            link = os.readlink(path)
        except OSError:
            continue
        if st.st_dev in devs or link == "ipc:[%d]" % ns:
            held.append(link)
    return held


def threads_in(pid, ns):
    """The daemon's threads that are in namespace ns."""
    found = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            if os.stat("/proc/%d/task/%s/ns/ipc" % (pid, tid)).st_ino == ns:
                found.append(tid)
        except OSError:
            pass
    return found


def test_gone_once_the_container_exits():
    """Reads waiting on its queues (one on a pool thread that joined the
    namespace) end with ENOENT, and nothing of the namespace is left in the
    daemon: no descriptor of its /dev/shm or mqueue file system, none of
    the namespace itself, no thread in it."""
    with Mount() as m:
        c = Container(m.key(7))
        try:
            fd = os.open(top(m, c, "mq", "jobs"), os.O_RDONLY)
            os.close(fd)
            devs = {c.shm_dev, c.mq_dev}
            assert daemon_holds(m.proc.pid, devs, c.ns), "the daemon does not reach it at all"
            waiting = [read_in_thread(top(m, c, "mq", "jobs")),
                       read_in_thread(top(m, c, "sysv", "msg", "0x%08x" % c.key))]
            time.sleep(0.3)
            assert all(t.is_alive() for t, _ in waiting)
            assert threads_in(m.proc.pid, c.ns), "no pool thread waits in the namespace"
        finally:
            c.end()
        for t, result in waiting:
            t.join(10)
            assert not t.is_alive(), "a read under a gone namespace still waits"
            assert result == {"errno": errno.ENOENT}, result
        ns = os.path.join(m.path, "ns")
        assert str(c.ns) not in os.listdir(ns)
        wait_until(lambda: not os.path.exists(top(m, c)), "ns/N gone", limit=5)
        expect_errno(errno.ENOENT, os.listdir, top(m, c, "mq"))
        wait_until(lambda: not daemon_holds(m.proc.pid, devs, c.ns),
                   "nothing of the namespace held by the daemon", limit=5)
        wait_until(lambda: not threads_in(m.proc.pid, c.ns),
                   "no thread of the daemon's left in the namespace", limit=5)
        assert m.alive()
        assert os.listdir(os.path.join(m.path, "mq")) is not None


if __name__ == "__main__":
    run(globals())
