"""user.ipc.holders: the processes that hold an object, "PID COMMAND" a
line, by pid. Helper processes, each named by prctl so its line is
exactly known, hold objects every way there is: mq_open, sem_open,
shm_open and a mapping of it, shmat, and an open or a mapping of the
object's file in the mount; the xattr is read while they hold it and after
they let go or exit. The daemon never lists itself. A user other than root
sees only its own processes, as its own lsof would. status counts held
objects per kind."""
import errno
import os
import sys

from ipcfs_test import HOLDERS_XATTR, LineChild, Mount, SysV, as_user, create_queue, run

NOBODY = 65534

# A process that names itself argv[1], holds argv[3] the way argv[2] says,
# prints "ready" and holds on until its stdin closes; "release" on stdin
# lets go first (closes, unmaps, detaches) and answers "released".
HOLDER = r"""
import ctypes, mmap, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(15, sys.argv[1].encode(), 0, 0, 0)
how, target = sys.argv[2], sys.argv[3]
rt = ctypes.CDLL("librt.so.1", use_errno=True)
def check(r, what):
    if r is None or r == -1 or r == ctypes.c_void_p(-1).value:
        raise OSError(ctypes.get_errno(), what)
    return r
release = None
if how == "open":
    fd = os.open(target, os.O_RDWR)
    release = lambda: os.close(fd)
elif how == "map":
    fd = os.open(target, os.O_RDWR)
    m = mmap.mmap(fd, 4096)
    os.close(fd)
    release = m.close
elif how == "mq_open":
    q = check(rt.mq_open(("/" + target).encode(), os.O_RDWR), "mq_open")
    release = lambda: rt.mq_close(q)
elif how == "sem_open":
    rt.sem_open.restype = ctypes.c_void_p
    s = check(rt.sem_open(("/" + target).encode(), 0), "sem_open")
    release = lambda: rt.sem_close(ctypes.c_void_p(s))
elif how == "shmat":
    libc.shmat.restype = ctypes.c_void_p
    a = check(libc.shmat(int(target), None, 0), "shmat")
    release = lambda: libc.shmdt(ctypes.c_void_p(a))
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "release":
        release()
        print("released", flush=True)
"""


class Holder(LineChild):
    """A process named name, holding target the way how says."""

    def __init__(self, name, how, target, user=None):
        self.name = name
        kwargs = dict(user=user, group=user, extra_groups=[]) if user is not None else {}
        super().__init__([sys.executable, "-c", HOLDER, name, how, str(target)], **kwargs)
        if self.proc.stdout.readline().strip() != "ready":
            self.end()
            raise AssertionError("holder %s (%s %s) did not start" % (name, how, target))
        self.pid = self.proc.pid

    @property
    def line(self):
        return "%d %s\n" % (self.pid, self.name)

    def release(self):
        assert self.ask("release") == "released"


def holders(path):
    return os.getxattr(path, HOLDERS_XATTR).decode()


def lines(*hs):
    return "".join(h.line for h in sorted(hs, key=lambda h: h.pid))


def test_nobody_holds_a_new_object():
    with Mount() as m:
        paths = [m.queue("q"), m.segment("s"), os.path.join(m.path, "sem", m.name("m"))]
        for p in paths:
            os.close(os.open(p, os.O_CREAT | os.O_RDWR, 0o600))
        for kind in ("msg", "sem", "shm"):
            os.close(os.open(m.sysv(kind, 1), os.O_CREAT | os.O_RDWR, 0o600))
            paths.append(m.sysv(kind, 1))
        for p in paths:
            assert holders(p) == "", p
            assert HOLDERS_XATTR in os.listxattr(p), p
        expect = errno.EPERM, errno.ENOTSUP, errno.EACCES
        for p in paths:
            try:
                os.setxattr(p, HOLDERS_XATTR, b"1 x\n")
                raise AssertionError("setxattr of %s succeeded" % p)
            except OSError as e:
                assert e.errno in expect, (p, e)
            assert holders(p) == "", p


def test_queue_held_by_mq_open_and_through_the_mount():
    with Mount() as m:
        create_queue(m.name("q")).close()
        path = m.queue("q")
        with Holder("hold-mqopen", "mq_open", m.name("q")) as a, \
             Holder("hold-mqmount", "open", path) as b:
            assert holders(path) == lines(a, b)
            b.release()
            assert holders(path) == lines(a)
            a.release()
            assert holders(path) == ""
            b2 = Holder("hold-mqmount2", "open", path)
            with b2:
                assert holders(path) == lines(b2)
            assert holders(path) == "", "an exited holder is still listed"


def test_segment_held_by_descriptor_and_mapping():
    with Mount() as m:
        path = m.segment("s")
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        os.ftruncate(fd, 4096)
        os.close(fd)
        direct = "/dev/shm/" + m.name("s")
        with Holder("hold-shmfd", "open", direct) as a, \
             Holder("hold-shmmap", "map", direct) as b, \
             Holder("hold-mntfd", "open", path) as c, \
             Holder("hold-mntmap", "map", path) as d:
            assert holders(path) == lines(a, b, c, d)
            for h in (a, b, c, d):
                h.release()
            assert holders(path) == ""


def test_semaphore_held_by_sem_open_and_through_the_mount():
    with Mount() as m:
        path = os.path.join(m.path, "sem", m.name("m"))
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        with Holder("hold-semopen", "sem_open", m.name("m")) as a, \
             Holder("hold-semmount", "open", path) as b:
            assert holders(path) == lines(a, b)
            a.release()
            assert holders(path) == lines(b)


def test_system_v_segment_held_by_attach_and_through_the_mount():
    with Mount() as m:
        ident = SysV.shmget(m.key(2), 4096, SysV.IPC_CREAT | 0o600)
        path = m.sysv("shm", 2)
        with Holder("hold-shmat", "shmat", ident) as a, \
             Holder("hold-sysvmount", "open", path) as b:
            assert holders(path) == lines(a, b)
            a.release()
            assert holders(path) == lines(b)
            b.release()
            assert holders(path) == ""
        # Another segment's attachment is not this one's.
        other = SysV.shmget(m.key(3), 4096, SysV.IPC_CREAT | 0o600)
        with Holder("hold-other", "shmat", other) as c:
            assert holders(path) == ""
            assert holders(m.sysv("shm", 3)) == lines(c)


def test_system_v_queue_and_set_held_only_through_the_mount():
    with Mount() as m:
        q = SysV.msgget(m.key(4), SysV.IPC_CREAT | 0o600)
        SysV.msgsnd(q, b"x")
        SysV.semget(m.key(5), 1, SysV.IPC_CREAT | 0o600)
        for kind, n in (("msg", 4), ("sem", 5)):
            path = m.sysv(kind, n)
            assert holders(path) == "", kind
            with Holder("hold-" + kind, "open", path) as h:
                assert holders(path) == lines(h), kind


def test_command_is_one_line():
    with Mount() as m:
        create_queue(m.name("q")).close()
        with Holder("two\nlines", "mq_open", m.name("q")) as h:
            assert holders(m.queue("q")) == "%d two?lines\n" % h.pid


def test_a_user_sees_only_its_own_processes():
    with Mount() as m:
        path = m.queue("q")
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o666)
        os.close(fd)
        os.chmod(path, 0o666)
        with Holder("hold-root", "open", path) as a, \
             Holder("hold-nobody", "open", path, user=NOBODY) as b:
            assert holders(path) == lines(a, b)
            assert as_user(NOBODY, holders, path) == lines(b)
        os.chmod(path, 0o600)
        try:
            as_user(NOBODY, holders, path)
            raise AssertionError("nobody read the holders of a 0600 queue")
        except OSError as e:
            assert e.errno == errno.EACCES, e


def status_held(m):
    rows = {}
    with open(os.path.join(m.path, "status")) as f:
        for line in f:
            fields = line.split()
            if len(fields) == 5 and fields[3].isdigit():
                rows[fields[0]] = fields[2]
    return rows


def test_status_counts_held_objects():
    with Mount() as m:
        create_queue(m.name("q")).close()
        path = m.segment("s")
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        os.ftruncate(fd, 4096)
        os.close(fd)
        ident = SysV.shmget(m.key(6), 4096, SysV.IPC_CREAT | 0o600)
        before = status_held(m)
        assert before["other"] == "-", before
        with Holder("hold-a", "mq_open", m.name("q")), Holder("hold-b", "open", m.queue("q")), \
             Holder("hold-c", "map", path), Holder("hold-d", "shmat", ident):
            during = status_held(m)
        after = status_held(m)
        assert {k: int(during[k]) - int(before[k]) for k in before if k != "other"} == \
            {"mq": 1, "shm": 1, "sem": 0, "sysv/msg": 0, "sysv/sem": 0, "sysv/shm": 1}, \
            (before, during)
        assert after == before, (before, after)


if __name__ == "__main__":
    run(globals())
