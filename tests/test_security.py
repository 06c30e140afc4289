"""The security model on an allow_other mount, for every kind of object.

tests/test_permissions.py checks queues (mq/) one refusal at a time, and
each kind's own test has a case of a non-root user's refusals. Here every
kind (mq, shm, sem, sysv/msg, sysv/sem, sysv/shm) goes through one table
of operations, each with its exact errno:

- an object root made directly with mode 0600, and one 0640 in a group
  the user is not in: nothing reaches it through the mount (no open, so
  no read, write, mmap or poll; not even by reopening an O_PATH
  descriptor; its xattrs; truncate, times, chmod, chown, rm, rename,
  link), and it is unchanged after;
- a user in that group reads the 0640 object and nothing more;
- an object root made 0666: the user reads, writes, maps, polls and
  reads xattrs, and still can't remove, rename, chmod or chown it;
- what a user creates is theirs, by their uid and egid (not a
  supplementary group), without set-id bits, and can't be given away;
- an O_CREAT racing root's creates of the same name never opens root's
  object;
- names can't leave their directory: "..", ".", "/" and look-alikes,
  symlinks, FIFOs and directories planted in /dev/shm, checked against
  the kernel's own listings."""
import ctypes
import errno
import mmap
import os
import pickle
import re
import select
import stat
import subprocess
import tempfile
import time

from ipcfs_test import (HOLDERS_XATTR, KIND_XATTRS, as_user as as_any_user, PosixQueue, SysV,
                        direct_owner_and_mode, errno_name, expect_errno, run, watched_mount)

FULL = os.environ.get("IPCFS_TEST_SIZE") == "full"
RACE_SECONDS = 3 if FULL else 0.5   # per kind
NOBODY = 65534
OTHER = 65533
GROUP = 4242        # a group neither user is in, unless given it
OTHER_GROUP = 4243
MOUNT_OPTIONS = "allow_other,mq_maxmsg=4,mq_msgsize=64"
KINDS = ["mq", "shm", "sem", "sysv/msg", "sysv/sem", "sysv/shm"]
SECRET = b"secret"

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.sem_open.restype = ctypes.c_void_p
LIBC.sem_close.argtypes = [ctypes.c_void_p]
LIBC.sem_getvalue.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
LIBC.sem_unlink.argtypes = [ctypes.c_char_p]
LIBC.mmap.restype = ctypes.c_void_p
LIBC.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]

# What each kind's file holds as root made it, and what the mount says of it.
XATTRS = KIND_XATTRS
def read_every_xattr(path, kind):
    """The names of kind's xattrs, each read from path (which raises on
    the first refusal)."""
    return [n for n in XATTRS[kind] if os.getxattr(path, n) is not None]


# An xattr whose value a writer may set (mq), or one the daemon keeps read-only.
SETTABLE = {"mq": "user.mq.priority", "shm": "user.x", "sem": "user.sem.value",
            "sysv/msg": "user.msg.qbytes", "sysv/sem": "user.sem.nsems",
            "sysv/shm": "user.shm.segsz"}
READ = {"mq": SECRET, "shm": SECRET, "sem": b"3\n", "sysv/msg": SECRET,
        "sysv/sem": b"3\n0\n", "sysv/shm": SECRET}
WRITE = {"mq": b"from a user", "shm": b"from a user", "sem": b"post",
         "sysv/msg": b"from a user", "sysv/sem": b"1+1", "sysv/shm": b"from a user"}
MAPPABLE = {"shm", "sysv/shm"}
SEEKABLE = {"shm", "sysv/shm", "sem", "sysv/sem"}


def cmmap(length, prot, flags, fd):
    """mmap(2) itself: Python's mmap checks the file's size first."""
    addr = LIBC.mmap(None, length, prot, flags, fd, 0)
    if addr is None or addr == ctypes.c_void_p(-1).value:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return addr


def as_user(uid, fn, *args, **kwargs):
    """as_any_user with umask 022, as a login shell has."""
    return as_any_user(uid, fn, *args, umask=0o022, **kwargs)


def outcome(fn, *args):
    """"ok", what fn returned if it is data, or the errno's name."""
    try:
        value = fn(*args)
    except OSError as e:
        return errno_name(e.errno)
    return value if isinstance(value, (bytes, list, int)) and value is not True else "ok"


# ---- objects made by root directly, and what the kernel says of them ----

class Obj:
    def __init__(self, m, kind, n):
        self.m, self.kind, self.n = m, kind, n
        self.name = m.name("%s-%d" % (kind.replace("/", "-"), n))
        self.key = m.key(n)
        if kind.startswith("sysv/"):
            self.path = m.sysv(kind[5:], n)
        else:
            self.path = os.path.join(m.path, kind, self.name)

    def make(self, mode, gid=0):
        """Made directly (not through the mount) by root with egid gid and
        exactly this mode, holding SECRET or the value 3."""
        old_umask = os.umask(0)
        os.setegid(gid)
        try:
            self._make(mode)
        finally:
            os.setegid(0)
            os.umask(old_umask)
        return self

    def _make(self, mode):
        k = self.kind
        if k == "mq":
            with PosixQueue(self.name, os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_NONBLOCK,
                            mode, 4, 64) as q:
                q.send(SECRET)
        elif k == "shm":
            fd = os.open("/dev/shm/" + self.name, os.O_CREAT | os.O_EXCL | os.O_RDWR, mode)
            os.pwrite(fd, SECRET.ljust(4096, b"\0"), 0)
            os.close(fd)
        elif k == "sem":
            sem = LIBC.sem_open(("/" + self.name).encode(), os.O_CREAT | os.O_EXCL,
                                ctypes.c_uint(mode), ctypes.c_uint(3))
            if not sem:
                e = ctypes.get_errno()
                raise OSError(e, os.strerror(e))
            LIBC.sem_close(sem)
        elif k == "sysv/msg":
            SysV.msgsnd(SysV.msgget(self.key, SysV.IPC_CREAT | SysV.IPC_EXCL | mode), SECRET)
        elif k == "sysv/sem":
            ident = SysV.semget(self.key, 2, SysV.IPC_CREAT | SysV.IPC_EXCL | mode)
            SysV.semsetval(ident, 0, 3)
        else:
            ident = SysV.shmget(self.key, 4096, SysV.IPC_CREAT | SysV.IPC_EXCL | mode)
            addr = SysV.shmat(ident)
            ctypes.memmove(addr, SECRET, len(SECRET))
            SysV.shmdt(addr)

    def state(self):
        """(uid, gid, mode, content) as the kernel has them, not through the
        mount."""
        k = self.kind
        if k == "mq":
            uid, gid, mode = direct_owner_and_mode(self.name)
            with PosixQueue(self.name, os.O_RDONLY | os.O_NONBLOCK) as q:
                content = q.attr().curmsgs
            return uid, gid, mode, content
        if k in ("shm", "sem"):
            path = "/dev/shm/" + ("sem." if k == "sem" else "") + self.name
            st = os.stat(path)
            if k == "shm":
                with open(path, "rb") as f:
                    content = f.read(8)
            else:
                sem = LIBC.sem_open(("/" + self.name).encode(), 0)
                v = ctypes.c_int()
                LIBC.sem_getvalue(sem, ctypes.byref(v))
                LIBC.sem_close(sem)
                content = v.value
            return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), content
        row = sysv_row(k[5:], self.key)
        if row is None:
            return None
        if k == "sysv/msg":
            content = row["qnum"]
        elif k == "sysv/sem":
            content = SysV.semvalues(row["semid"], 2)
        else:
            addr = SysV.shmat(row["shmid"], 0o10000)  # SHM_RDONLY
            content = ctypes.string_at(addr, 8)
            SysV.shmdt(addr)
        return row["uid"], row["gid"], row["perms"], content

    def exists(self):
        return os.path.exists(self.path)


def sysv_row(kind, key):
    """The object's row of /proc/sysvipc/KIND as {column: int}, perms octal."""
    with open("/proc/sysvipc/" + kind) as f:
        header = next(f).split()
        for line in f:
            row = dict(zip(header, line.split()))
            if int(row["key"]) & 0xffffffff == key:
                return {k: int(v, 8) if k == "perms" else int(v) for k, v in row.items()}
    return None


# ---- what a user tries ----

def flags_of(kind, flags):
    """Queue and semaphore files are opened O_NONBLOCK: nothing may wait."""
    return flags | (os.O_NONBLOCK if kind in ("mq", "sem", "sysv/msg", "sysv/sem") else 0)


def try_everything(kind, path):
    """Every way to reach an object through the mount, by a user that may
    not: {operation: outcome}."""
    got = {}

    def open_(flags, mode=0o666):
        os.close(os.open(path, flags_of(kind, flags), mode))
    for label, flags in (("open r", os.O_RDONLY), ("open w", os.O_WRONLY),
                         ("open rw", os.O_RDWR), ("open w trunc", os.O_WRONLY | os.O_TRUNC),
                         ("open r creat", os.O_RDONLY | os.O_CREAT),
                         ("open rw creat", os.O_RDWR | os.O_CREAT),
                         ("open creat excl", os.O_RDWR | os.O_CREAT | os.O_EXCL)):
        got[label] = outcome(open_, flags)
    if kind == "sysv/msg":
        got["open r @1"] = outcome(lambda: os.close(os.open(path + "@1", os.O_RDONLY | os.O_NONBLOCK)))
    # An O_PATH descriptor opens without permission, and reaches nothing.
    fd = os.open(path, os.O_PATH)
    try:
        got["O_PATH read"] = outcome(os.read, fd, 100)
        got["O_PATH write"] = outcome(os.write, fd, b"x")
        got["O_PATH mmap"] = outcome(cmmap, 4096, mmap.PROT_READ, mmap.MAP_SHARED, fd)
        p = select.poll()
        p.register(fd, select.POLLIN | select.POLLOUT)
        got["O_PATH poll"] = p.poll(0)[0][1]
        got["O_PATH fgetxattr"] = outcome(os.getxattr, fd, (XATTRS[kind] or ["user.x"])[0])
        got["O_PATH fchmod"] = outcome(os.fchmod, fd, 0o666)
        for label, flags in (("reopen r", os.O_RDONLY), ("reopen rw", os.O_RDWR)):
            got[label] = outcome(lambda: os.close(os.open("/proc/self/fd/%d" % fd,
                                                          flags_of(kind, flags))))
    finally:
        os.close(fd)
    for name in XATTRS[kind] or ["user.x"]:
        got["getxattr " + name] = outcome(os.getxattr, path, name)
    got["setxattr " + SETTABLE[kind]] = outcome(os.setxattr, path, SETTABLE[kind], b"1")
    got["setxattr user.x"] = outcome(os.setxattr, path, "user.x", b"1")
    got["removexattr user.x"] = outcome(os.removexattr, path, "user.x")
    got["listxattr"] = outcome(os.listxattr, path)
    got["getxattr trusted.x"] = outcome(os.getxattr, path, "trusted.x")
    got["setxattr trusted.x"] = outcome(os.setxattr, path, "trusted.x", b"1")
    got["getxattr security.x"] = outcome(os.getxattr, path, "security.x")
    got["setxattr security.x"] = outcome(os.setxattr, path, "security.x", b"1")
    got["getxattr system.posix_acl_access"] = outcome(os.getxattr, path, "system.posix_acl_access")
    got["truncate"] = outcome(os.truncate, path, 0)
    got["utime now"] = outcome(os.utime, path, None)
    got["utime set"] = outcome(os.utime, path, (1, 1))
    got["chmod"] = outcome(os.chmod, path, 0o666)
    got["chown to self"] = outcome(os.chown, path, os.getuid(), os.getgid())
    got["chgrp to own group"] = outcome(os.chown, path, -1, os.getgid())
    got["unlink"] = outcome(os.unlink, path)
    got["rename"] = outcome(os.rename, path, path + "x" if not kind.startswith("sysv/")
                            else path[:-1] + ("0" if path[-1] != "0" else "1"))
    got["link"] = outcome(os.link, path, os.path.join(os.path.dirname(path), "link"))
    got["stat"] = outcome(lambda: stat.S_IMODE(os.stat(path).st_mode))
    return got


def refused(kind, mode):
    """What try_everything must find on a root object of this mode that the
    user may neither read nor write."""
    want = {
        "open r": "EACCES", "open w": "EACCES", "open rw": "EACCES", "open w trunc": "EACCES",
        # The kernel's lookup finds the object and checks the open as any.
        "open r creat": "EACCES", "open rw creat": "EACCES", "open creat excl": "EEXIST",
        "O_PATH read": "EBADF", "O_PATH write": "EBADF", "O_PATH mmap": "EBADF",
        "O_PATH poll": select.POLLNVAL, "O_PATH fgetxattr": "EBADF", "O_PATH fchmod": "EBADF",
        # Reopening through /proc is an open, checked against the mode.
        "reopen r": "EACCES", "reopen rw": "EACCES",
        # user.* xattrs: reading needs read permission, writing write
        # permission, checked by the kernel before the daemon is asked.
        "setxattr " + SETTABLE[kind]: "EACCES", "setxattr user.x": "EACCES",
        "removexattr user.x": "EACCES",
        # Listing needs no permission on any file system: the names only,
        # the same for every object of the kind.
        "listxattr": XATTRS[kind],
        # trusted.*: the kernel answers for an unprivileged caller.
        "getxattr trusted.x": "ENODATA", "setxattr trusted.x": "EPERM",
        # security.* and system.*: the kernel lets reads through to the
        # daemon, which has none; writes need CAP_SYS_ADMIN.
        "getxattr security.x": "ENODATA", "setxattr security.x": "EPERM",
        "getxattr system.posix_acl_access": "ENODATA",
        "truncate": "EACCES",
        # Times: setting them to now needs write permission, to a given
        # value ownership; chmod and chown ownership; only root chowns.
        "utime now": "EACCES", "utime set": "EPERM",
        "chmod": "EPERM", "chown to self": "EPERM", "chgrp to own group": "EPERM",
        # The directories are sticky as far as removing goes; nobody renames;
        # protected_hardlinks or the daemon refuse a link.
        "unlink": "EPERM", "rename": "EPERM", "link": "EPERM",
        "stat": mode,
    }
    for name in XATTRS[kind] or ["user.x"]:
        want["getxattr " + name] = "EACCES"
    if kind == "sysv/msg":
        want["open r @1"] = "EACCES"
    return want


def check_refused(m, kind, obj, mode, gid, uid=NOBODY, groups=()):
    before = obj.state()
    got = as_user(uid, try_everything, kind, obj.path, groups=groups)
    want = refused(kind, mode)
    diff = {k: (got.get(k), want.get(k)) for k in set(got) | set(want) if got.get(k) != want.get(k)}
    assert not diff, "%s %o: {operation: (got, expected)} %r" % (kind, mode, diff)
    after = obj.state()
    assert after == before == (0, gid, mode, before[3]), (before, after)


def test_private_objects_unreachable():
    """0600 objects of root's: every operation of every kind refused."""
    with watched_mount(MOUNT_OPTIONS, seconds=120) as m:
        for n, kind in enumerate(KINDS):
            obj = Obj(m, kind, n).make(0o600)
            check_refused(m, kind, obj, 0o600, 0)
            check_refused(m, kind, obj, 0o600, 0, uid=OTHER, groups=[0])  # root's group: no help


def test_group_objects_unreachable_outside_the_group():
    """0640 objects of root's in a group the user is not in: the same."""
    with watched_mount(MOUNT_OPTIONS, seconds=120) as m:
        for n, kind in enumerate(KINDS):
            obj = Obj(m, kind, n).make(0o640, gid=GROUP)
            check_refused(m, kind, obj, 0o640, GROUP, groups=[OTHER_GROUP])


def read_only_attempts(kind, path):
    got = {}
    fd = os.open(path, flags_of(kind, os.O_RDONLY))
    try:
        got["read"] = os.pread(fd, 6, 0) if kind in MAPPABLE else os.read(fd, 64)
        got["write to read-only fd"] = outcome(os.write, fd, WRITE[kind])
        if kind in MAPPABLE:
            got["mmap shared rw"] = outcome(lambda: mmap.mmap(fd, 4096).close())
            m = mmap.mmap(fd, 4096, prot=mmap.PROT_READ)
            got["mmap read"] = m[:6]
            m.close()
    finally:
        os.close(fd)
    for label, flags in (("open w", os.O_WRONLY), ("open rw", os.O_RDWR),
                         ("open r trunc", os.O_RDONLY | os.O_TRUNC)):
        got[label] = outcome(lambda: os.close(os.open(path, flags_of(kind, flags))))
    got["getxattr"] = outcome(read_every_xattr, path, kind)
    got["setxattr"] = outcome(os.setxattr, path, SETTABLE[kind], b"1")
    got["truncate"] = outcome(os.truncate, path, 0)
    got["unlink"] = outcome(os.unlink, path)
    return got


def test_group_member_reads_only():
    """A user in the object's group reads a 0640 object, and may do
    nothing that needs write permission or ownership."""
    with watched_mount(MOUNT_OPTIONS, seconds=120) as m:
        for n, kind in enumerate(KINDS):
            obj = Obj(m, kind, n).make(0o640, gid=GROUP)
            got = as_user(OTHER, read_only_attempts, kind, obj.path, groups=[GROUP])
            want = {"read": READ[kind] if kind not in MAPPABLE else SECRET,
                    "write to read-only fd": "EBADF", "open w": "EACCES", "open rw": "EACCES",
                    "open r trunc": "EACCES", "getxattr": XATTRS[kind],
                    "setxattr": "EACCES", "truncate": "EACCES", "unlink": "EPERM"}
            if kind in MAPPABLE:
                want.update({"mmap shared rw": "EACCES", "mmap read": SECRET})
            assert got == want, "%s: got %r, expected %r" % (kind, got, want)


def open_attempts(kind, path):
    """What a user may do with an object whose mode lets everyone read and
    write it: everything but what needs ownership."""
    got = {}
    fd = os.open(path, flags_of(kind, os.O_RDWR))
    try:
        if kind in MAPPABLE:
            got["read"] = os.pread(fd, 6, 0)
            got["write"] = os.pwrite(fd, WRITE[kind], 100)
            seg = mmap.mmap(fd, 4096)
            got["mmap"] = seg[:6]
            seg[200:204] = b"user"
            seg.close()
        else:
            got["read"] = os.read(fd, 64)
            got["write"] = os.write(fd, WRITE[kind])
            got["mmap"] = outcome(lambda: mmap.mmap(fd, 4096).close())
        p = select.poll()
        p.register(fd, select.POLLIN | select.POLLOUT)
        got["poll"] = sorted(p.poll(1000))[0][1] & (select.POLLIN | select.POLLOUT)
        got["fstat owner"] = os.fstat(fd).st_uid
    finally:
        os.close(fd)
    got["getxattr"] = outcome(read_every_xattr, path, kind)
    got["setxattr " + SETTABLE[kind]] = outcome(os.setxattr, path, SETTABLE[kind], b"3")
    got["removexattr user.x"] = outcome(os.removexattr, path, "user.x")
    got["truncate 0"] = outcome(os.truncate, path, 0) if kind != "shm" else "not tried"
    got["utime now"] = outcome(os.utime, path, None)
    got["utime set"] = outcome(os.utime, path, (1, 1))
    got["chmod"] = outcome(os.chmod, path, 0o600)
    got["chown to self"] = outcome(os.chown, path, os.getuid(), os.getgid())
    got["unlink"] = outcome(os.unlink, path)
    return got


def test_xattr_flags_and_read_only_attributes():
    """setxattr's XATTR_CREATE is EEXIST for an attribute the file shows
    and XATTR_REPLACE ENODATA for one it has not; an attribute it shows but
    that can't be set (the object's facts, user.ipc.holders) is EPERM on
    every kind, one it has not got ENOTSUP; nothing changes."""
    with watched_mount(MOUNT_OPTIONS, seconds=60) as m:
        for n, kind in enumerate(KINDS):
            obj = Obj(m, kind, n).make(0o600)
            before = {a: os.getxattr(obj.path, a) for a in KIND_XATTRS[kind]
                      if a != HOLDERS_XATTR}
            got = {}
            for a in KIND_XATTRS[kind]:
                got["create " + a] = outcome(os.setxattr, obj.path, a, b"1", os.XATTR_CREATE)
                if a != "user.mq.priority":
                    got["set " + a] = outcome(os.setxattr, obj.path, a, b"1")
                    got["remove " + a] = outcome(os.removexattr, obj.path, a)
            got["replace user.x"] = outcome(os.setxattr, obj.path, "user.x", b"1",
                                            os.XATTR_REPLACE)
            got["set user.x"] = outcome(os.setxattr, obj.path, "user.x", b"1")
            want = {"replace user.x": "ENODATA", "set user.x": "ENOTSUP"}
            for a in KIND_XATTRS[kind]:
                want["create " + a] = "EEXIST"
                if a != "user.mq.priority":
                    want["set " + a] = want["remove " + a] = "EPERM"
            assert got == want, "%s: {op: (got, expected)} %r" % (
                kind, {k: (got.get(k), want.get(k)) for k in want if got.get(k) != want.get(k)})
            after = {a: os.getxattr(obj.path, a) for a in before}
            assert after == before, (kind, before, after)
        path = os.path.join(m.path, "mq")
        expect_errno(errno.EEXIST, os.setxattr, path, "user.mq.maxmsg", b"5", os.XATTR_CREATE)
        expect_errno(errno.ENODATA, os.setxattr, path, "user.mq.x", b"5", os.XATTR_REPLACE)
        os.setxattr(path, "user.mq.maxmsg", b"5", os.XATTR_REPLACE)
        assert os.getxattr(path, "user.mq.maxmsg") == b"5"
        os.removexattr(path, "user.mq.maxmsg")


def test_xattr_numbers_have_one_spelling():
    """A number set as an xattr is digits alone: a sign, a space, a newline
    or a leading zero is EINVAL, and nothing changes."""
    with watched_mount(MOUNT_OPTIONS, seconds=60) as m:
        obj = Obj(m, "mq", 0).make(0o600)
        settable = [(obj.path, "user.mq.priority"),
                    (os.path.join(m.path, "mq"), "user.mq.maxmsg"),
                    (os.path.join(m.path, "sysv", "sem"), "user.sem.nsems"),
                    (os.path.join(m.path, "sysv", "shm"), "user.shm.size")]
        for path, name in settable:
            before = os.getxattr(path, name)
            for bad in (b"+5", b" 5", b"5 ", b"5\n", b"010", b"00", b"-0", b"5x", b"", b"0x10"):
                got = outcome(os.setxattr, path, name, bad)
                assert got == "EINVAL", (name, bad, got)
                assert os.getxattr(path, name) == before, (name, bad)
            os.setxattr(path, name, b"10")
            assert os.getxattr(path, name) == b"10", name
            if path != obj.path:
                os.removexattr(path, name)


def test_open_objects_usable_but_not_theirs():
    """0666 objects of root's: the user reads, writes, maps and polls them,
    reads their xattrs, and can't remove, chmod or chown them."""
    with watched_mount(MOUNT_OPTIONS, seconds=120) as m:
        for n, kind in enumerate(KINDS):
            obj = Obj(m, kind, n).make(0o666)
            got = as_user(NOBODY, open_attempts, kind, obj.path)
            both = select.POLLIN | select.POLLOUT
            want = {
                "read": READ[kind], "write": len(WRITE[kind]),
                "mmap": SECRET if kind in MAPPABLE else "ENODEV",
                # A queue holds the message just written; a System V queue
                # file is always writable; the others are always ready.
                "poll": both, "fstat owner": 0,
                "getxattr": XATTRS[kind],
                # The priority of writes through the mount: write permission
                # is enough. The others are the kernel's numbers, read-only
                # (EPERM); shm/ files have no user.x (ENOTSUP).
                "setxattr " + SETTABLE[kind]: {"mq": "ok", "sysv/msg": "EPERM",
                                               "sysv/sem": "EPERM", "sysv/shm": "EPERM",
                                               "shm": "ENOTSUP", "sem": "EPERM"}[kind],
                "removexattr user.x": "ENOTSUP",
                "truncate 0": "not tried" if kind == "shm" else "ok",
                "utime now": "ok", "utime set": "EPERM",
                "chmod": "EPERM", "chown to self": "EPERM", "unlink": "EPERM",
            }
            assert got == want, "%s: {op: (got, expected)} %r" % (
                kind, {k: (got.get(k), want.get(k)) for k in want if got.get(k) != want.get(k)})
            uid, gid, mode, content = obj.state()
            assert (uid, gid, mode) == (0, 0, 0o666), obj.state()
            if kind == "mq":
                assert os.getxattr(obj.path, "user.mq.priority") == b"3"
                with PosixQueue(obj.name, os.O_RDONLY | os.O_NONBLOCK) as q:
                    assert q.receive() == (WRITE[kind], 0)  # written before the priority was set
            elif kind == "sem":
                assert content == 4  # a read shows the value, takes nothing
            elif kind == "sysv/sem":
                assert content == [3, 1], content
            elif kind == "sysv/msg":
                assert content == 1
            else:
                with open(obj.path, "rb") as f:
                    data = f.read(204)
                assert data[100:111] == WRITE[kind] and data[200:204] == b"user", data


# ---- creating ----

def create_and_try(kind, path, other_uid):
    """Creates through the mount with set-id bits asked for, then tries to
    give the object away."""
    fd = os.open(path, flags_of(kind, os.O_RDWR | os.O_CREAT | os.O_EXCL), 0o6775)
    st = os.fstat(fd)
    os.close(fd)
    return {"mount": (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)),
            "chown to another user": outcome(os.chown, path, other_uid, -1),
            "chgrp to a group not mine": outcome(os.chown, path, -1, OTHER_GROUP),
            "chmod set-id": outcome(os.chmod, path, 0o4755),
            "chgrp to my supplementary group": outcome(os.chown, path, -1, GROUP)}


def test_creator_owns_what_it_creates():
    """Created by a user through the mount: the user's uid and egid (not a
    supplementary group), the mode after its umask and without set-id
    bits, through the mount and in the kernel; the user can't give it
    away, can move it to a group of theirs."""
    with watched_mount(MOUNT_OPTIONS, seconds=120) as m:
        for n, kind in enumerate(KINDS):
            obj = Obj(m, kind, n)
            got = as_user(NOBODY, create_and_try, kind, obj.path, OTHER, groups=[GROUP])
            want = {"mount": (NOBODY, NOBODY, 0o755), "chown to another user": "EPERM",
                    "chgrp to a group not mine": "EPERM",
                    "chmod set-id": "EINVAL", "chgrp to my supplementary group": "ok"}
            assert got == want, "%s: got %r, expected %r" % (kind, got, want)
            uid, gid, mode, _ = obj.state()
            assert (uid, gid, mode) == (NOBODY, GROUP, 0o755), (kind, obj.state())
            if kind.startswith("sysv/"):
                assert sysv_row(kind[5:], obj.key)["cuid"] == 0  # the daemon made it


def race_user(kind, path, seconds):
    """Opens path with O_CREAT again and again for `seconds`. Root's object
    holds SECRET (or the value 3) and is root's; one the user made is empty
    and theirs. An open that root's removal overtook before either could
    be seen counts as "opened, gone"."""
    counts = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            fd = os.open(path, flags_of(kind, os.O_RDWR | os.O_CREAT), 0o600)
        except OSError as e:
            counts[errno_name(e.errno)] = counts.get(errno_name(e.errno), 0) + 1
            continue
        try:
            owner = outcome(lambda: os.fstat(fd).st_uid)
            data = outcome(os.pread, fd, 6, 0) if kind in MAPPABLE else outcome(os.read, fd, 64)
        finally:
            os.close(fd)
        if owner == 0 or data in (SECRET, b"3\n", b"3\n0\n"):
            key = "opened root's (owner %s, read %r)" % (owner, data)
        elif owner == os.getuid():
            key = "opened own"
        else:
            key = "opened, gone"
        counts[key] = counts.get(key, 0) + 1
        try:
            os.unlink(path)
        except OSError:
            pass
    return counts


def daemon_refused_creates(m, start):
    """CREATE requests the daemon itself answered EACCES since byte `start`
    of its debug log: each an O_CREAT that found another's object made
    after the kernel's lookup, refused by the daemon's own check."""
    fd = m.log.fileno()
    log = os.pread(fd, os.fstat(fd).st_size - start, start).decode("utf-8", "replace")
    creates = set(re.findall(r"unique: (\d+), opcode: CREATE", log))
    return sum(1 for u in re.findall(r"unique: (\d+), error: -13 ", log) if u in creates)


def race_root(obj, seconds):
    """Makes root's 0600 object and removes whatever has the name, again and
    again for `seconds`, directly; returns how many it made."""
    made = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            obj.make(0o600)
            made += 1
        except OSError:
            pass  # the user's object is there
        remove_directly(obj)
    return made


def in_child(fn, *args):
    """Starts fn(*args) in a forked child; returns a function that waits for
    it and returns what it returned."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            value = fn(*args)
            with os.fdopen(w, "wb") as f:
                pickle.dump(value, f)
        finally:
            os._exit(0)
    os.close(w)

    def wait():
        with os.fdopen(r, "rb") as f:
            value = pickle.load(f)
        os.waitpid(pid, 0)
        return value
    return wait


def test_create_racing_another_users_create():
    """Two root processes make and remove a 0600 object of one name in a
    loop, directly, while two processes of a user open that name with
    O_CREAT through the mount. Where root's object appears between the
    kernel's lookup and the create, or replaces the user's new object
    before the daemon opens it, the daemon must not open root's object for
    the user, nor make it the user's. The daemon runs with -o debug, whose
    log shows that it did refuse creates itself (else the race never hit
    the window and proved nothing)."""
    failures = []
    with watched_mount(MOUNT_OPTIONS + ",debug", seconds=120 + 6 * RACE_SECONDS) as m:
        for n, kind in enumerate(KINDS):
            obj = Obj(m, kind, n)
            start = os.fstat(m.log.fileno()).st_size
            roots = [in_child(race_root, obj, RACE_SECONDS) for _ in range(2)]
            users = [in_child(as_user, NOBODY, race_user, kind, obj.path, RACE_SECONDS)
                     for _ in range(2)]
            counts = {}
            for wait in users:
                for k, v in wait().items():
                    counts[k] = counts.get(k, 0) + v
            made = sum(wait() for wait in roots)
            remove_directly(obj)
            refused_by_daemon = daemon_refused_creates(m, start)
            print("# %s: root made %d; the user's opens: %s; the daemon refused %d creates "
                  "itself" % (kind, made, ", ".join("%s %d" % kv for kv in sorted(counts.items())),
                              refused_by_daemon))
            wrong = {k: v for k, v in counts.items() if k.startswith("opened root's")}
            if wrong:
                failures.append("%s: %r" % (kind, wrong))
            # EINVAL, EIDRM: root removed the user's new System V object
            # before the daemon made it theirs (IPC_SET).
            odd = {k: v for k, v in counts.items() if not k.startswith("opened")
                   and k not in ("EACCES", "ENOENT", "EINVAL", "EIDRM")}
            if odd:
                failures.append("%s: opens failed with %r" % (kind, odd))
            elif not refused_by_daemon:
                failures.append("%s: the race never hit the window: %r" % (kind, counts))
    assert not failures, "\n".join(failures)


def remove_directly(obj):
    k = obj.kind
    if k == "mq":
        PosixQueue.unlink(obj.name)
    elif k == "shm":
        try:
            os.unlink("/dev/shm/" + obj.name)
        except FileNotFoundError:
            pass
    elif k == "sem":
        LIBC.sem_unlink(("/" + obj.name).encode())
    else:
        row = sysv_row(k[5:], obj.key)
        if row:
            remove = {"msg": SysV.msgrm, "sem": SysV.semrm, "shm": SysV.shmrm}[k[5:]]
            try:
                remove(row[{"msg": "msqid", "sem": "semid", "shm": "shmid"}[k[5:]]])
            except OSError:
                pass


# ---- names ----

def kernel_listing(m):
    """Every name the kernel has, where the mount could make one: its own
    mqueue file system, /dev/shm, /dev, the System V objects, the mount's
    parent and root."""
    seen = {}
    mqdir = tempfile.mkdtemp(prefix="ipcfs-security-mqueue.")
    try:
        subprocess.run(["mount", "-t", "mqueue", "mqueue", mqdir], check=True)
        try:
            seen["mqueue"] = set(os.listdir(mqdir))
        finally:
            subprocess.run(["umount", mqdir], check=True)
    finally:
        os.rmdir(mqdir)
    for where in ("/dev/shm", "/dev", os.path.dirname(m.path), m.path):
        seen[where] = set(os.listdir(where))
    for kind in ("msg", "sem", "shm"):
        with open("/proc/sysvipc/" + kind) as f:
            seen["sysv " + kind] = {line.split()[0] for line in f.read().splitlines()[1:]}
    return seen


def new_names(before, after):
    return sorted("%s: %r" % (w, n) for w in after for n in after[w] - before.get(w, set()))


def escape_paths(m, sem_name):
    """The paths escape_attempts tries, worked out in the test's own process
    (m.key depends on the pid)."""
    root = m.path
    return {
        "root": root, "dir": m.name("dir"), "link": m.name("link"), "l": m.name("l"),
        "x": m.name("x"), "obj/x": m.queue("obj") + "/x", "missing/x": m.queue("missing") + "/x",
        "key/x": m.sysv("msg", 1) + "/x", "sem.": os.path.join(root, "shm", "sem." + m.name("s")),
        "sem. of a semaphore": os.path.join(root, "shm", "sem." + sem_name),
        "key@1": m.sysv("msg", 2, "@1"),
        "upper": os.path.join(root, "sysv", "msg", "0x%08X" % m.key(3)),
        "id.1": os.path.join(root, "sysv", "msg", "id.1"),
        "long mq": os.path.join(root, "mq", m.prefix + "x" * (256 - len(m.prefix))),
        "long sem": os.path.join(root, "sem", m.prefix + "x" * (252 - len(m.prefix))),
    }


def escape_attempts(p):
    """{what: outcome} of each try to make something outside a directory."""
    root = p["root"]
    got = {}

    def create(path):
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK, 0o600))
    for d in KINDS:
        base = os.path.join(root, d)
        for name in ("..", ".", "../x", "../../x", "../status", "../mq"):
            if name == "../../x" and not d.startswith("sysv/"):
                continue  # outside the mount
            got["create %s/%s" % (d, name)] = outcome(create, base + "/" + name)
        got["mknod %s/../x" % d] = outcome(os.mknod, base + "/../x", stat.S_IFREG | 0o600)
        got["mkdir %s/x" % d] = outcome(os.mkdir, base + "/" + p["dir"])
        got["symlink %s/x" % d] = outcome(os.symlink, "/etc/passwd", base + "/" + p["link"])
        got["link status into %s" % d] = outcome(os.link, root + "/status", base + "/" + p["l"])
    got["create sysv/x"] = outcome(create, root + "/sysv/x")
    got["create x at the root"] = outcome(create, root + "/" + p["x"])
    # A name under an object: the object is no directory.
    got["create mq/OBJ/x"] = outcome(create, p["obj/x"])
    got["create mq/MISSING/x"] = outcome(create, p["missing/x"])
    got["create sysv/msg/KEY/x"] = outcome(create, p["key/x"])
    # Names the daemon must not map onto another kind's files.
    got["create shm/sem.NAME"] = outcome(create, p["sem."])
    got["stat shm/sem.NAME of a semaphore"] = outcome(os.stat, p["sem. of a semaphore"])
    got["create sysv/msg/KEY@1"] = outcome(create, p["key@1"])
    got["create sysv/msg/0xKEY upper case"] = outcome(create, p["upper"])
    got["create sysv/msg/id.1"] = outcome(create, p["id.1"])
    got["create mq/(256 bytes)"] = outcome(create, p["long mq"])
    got["create sem/(252 bytes)"] = outcome(create, p["long sem"])
    return got


ESCAPES = {
    # The kernel resolves "." and ".." itself: each is a directory of the mount.
    **{"create %s/%s" % (d, n): "EISDIR" for d in KINDS for n in ("..", ".")},
    # ../x is a name in the root or sysv/, where nothing can be made.
    **{"create %s/../x" % d: "EPERM" for d in KINDS},
    # (From mq/, ../../x would be outside the mount: not the daemon's.)
    **{"create %s/../../x" % d: "EPERM" for d in KINDS if d.startswith("sysv/")},
    **{"create %s/../status" % d: "EACCES" for d in KINDS if not d.startswith("sysv/")},
    **{"create %s/../status" % d: "EPERM" for d in KINDS if d.startswith("sysv/")},
    **{"create %s/../mq" % d: "EISDIR" for d in KINDS if not d.startswith("sysv/")},
    **{"create %s/../mq" % d: "EPERM" for d in KINDS if d.startswith("sysv/")},
    **{"mknod %s/../x" % d: "EPERM" for d in KINDS},
    **{"mkdir %s/x" % d: "EPERM" for d in KINDS},
    **{"symlink %s/x" % d: "EPERM" for d in KINDS},
    **{"link status into %s" % d: "EPERM" for d in KINDS},
    "create sysv/x": "EPERM", "create x at the root": "EPERM",
    "create mq/OBJ/x": "ENOTDIR", "create mq/MISSING/x": "ENOENT",
    "create sysv/msg/KEY/x": "ENOTDIR",
    "create shm/sem.NAME": "EINVAL", "stat shm/sem.NAME of a semaphore": "ENOENT",
    # KEY@N names the queue KEY: a create makes that queue, nothing else.
    "create sysv/msg/KEY@1": "ok", "create sysv/msg/0xKEY upper case": "EINVAL",
    "create sysv/msg/id.1": "EINVAL",
    "create mq/(256 bytes)": "ENAMETOOLONG", "create sem/(252 bytes)": "ENAMETOOLONG",
}
# A user may not create in the root or in sysv/ (0755, root's), which the
# kernel checks before the daemon is asked.
USER_ESCAPES = {
    **{"create %s/../x" % d: "EACCES" for d in KINDS},
    **{"mknod %s/../x" % d: "EACCES" for d in KINDS},
    **{"create %s/../%s" % (d, n): "EACCES" for d in KINDS if d.startswith("sysv/")
       for n in ("../x", "status", "mq")},
    "create sysv/x": "EACCES", "create x at the root": "EACCES",
    # Root made that queue (0600) a moment ago: no open for the user.
    "create sysv/msg/KEY@1": "EACCES",
}


def test_names_cannot_escape():
    """Tried as root (the kernel lets root through to the daemon), then as a
    user: nothing is made anywhere but where the name says, checked in the
    kernel's own listings."""
    with watched_mount(MOUNT_OPTIONS, seconds=120) as m:
        with PosixQueue(m.name("obj"), os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o666, 4, 64):
            pass
        SysV.msgget(m.key(1), SysV.IPC_CREAT | SysV.IPC_EXCL | 0o666)
        sem = Obj(m, "sem", 5).make(0o666)
        before = kernel_listing(m)
        paths = escape_paths(m, sem.name)
        got = escape_attempts(paths)
        diff = {k: (got.get(k), ESCAPES.get(k)) for k in set(got) | set(ESCAPES)
                if got.get(k) != ESCAPES.get(k)}
        assert not diff, "as root: {what: (got, expected)} %r" % diff
        made = sysv_row("msg", m.key(2))
        assert made and (made["uid"], made["perms"]) == (0, 0o600), made
        got = as_user(NOBODY, escape_attempts, paths)
        want = dict(ESCAPES, **USER_ESCAPES)
        diff = {k: (got.get(k), want.get(k)) for k in set(got) | set(want)
                if got.get(k) != want.get(k)}
        assert not diff, "as %d: {what: (got, expected)} %r" % (NOBODY, diff)
        # Only the queue KEY@1 made, named by its key.
        assert new_names(before, kernel_listing(m)) == ["sysv msg: %r" % str(
            ctypes.c_int32(m.key(2)).value)]


def plant(kind, path):
    if kind == "symlink":
        os.symlink(SECRET_FILE, path)
    elif kind == "fifo":
        os.mkfifo(path, 0o666)
    elif kind == "directory":
        os.mkdir(path, 0o777)


def planted_attempts(kind, path):
    """What the mount does with a name whose file in /dev/shm is no
    regular file."""
    got = {}
    got["stat"] = outcome(os.stat, path)
    got["open"] = outcome(lambda: os.close(os.open(path, os.O_RDWR | os.O_NONBLOCK)))
    got["open creat"] = outcome(lambda: os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK, 0o666)))
    got["open creat excl"] = outcome(
        lambda: os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NONBLOCK, 0o666)))
    got["truncate"] = outcome(os.truncate, path, 0)
    got["chmod"] = outcome(os.chmod, path, 0o666)
    got["chown"] = outcome(os.chown, path, os.getuid(), -1)
    got["getxattr"] = outcome(os.getxattr, path, "user.sem.value")
    got["listed"] = os.path.basename(path) in os.listdir(os.path.dirname(path))
    got["unlink"] = outcome(os.unlink, path)
    return got


SECRET_FILE = None


def test_planted_files_not_followed():
    """A user plants a symlink to a root-only file, a FIFO or a directory in
    /dev/shm (anyone may: it is 01777) under a name shm/ or sem/ shows.
    Through the mount the name is not found, by root or the user: nothing
    follows the link (the root-only file keeps its owner, mode and bytes),
    nothing opens the FIFO (which would hang the daemon), and the mount
    answers after."""
    global SECRET_FILE
    with watched_mount(MOUNT_OPTIONS, seconds=60) as m, \
            tempfile.NamedTemporaryFile(prefix="ipcfs-security-secret.") as secret:
        secret.write(b"root only")
        secret.flush()
        os.chmod(secret.name, 0o600)
        SECRET_FILE = secret.name
        planted = []
        try:
            for kind in ("symlink", "fifo", "directory"):
                for d, file_prefix in (("shm", ""), ("sem", "sem.")):
                    name = m.name("planted-%s" % kind)
                    file = "/dev/shm/" + file_prefix + name
                    as_user(NOBODY, plant, kind, file)
                    planted.append(file)
                    path = os.path.join(m.path, d, name)
                    want = {"stat": "ENOENT", "open": "ENOENT", "open creat": "ENOENT",
                            "open creat excl": "EEXIST", "truncate": "ENOENT", "chmod": "ENOENT",
                            "chown": "ENOENT", "getxattr": "ENOENT", "listed": False,
                            "unlink": "ENOENT"}
                    for who, got in (("root", planted_attempts(kind, path)),
                                     ("user", as_user(NOBODY, planted_attempts, kind, path))):
                        assert got == want, "%s %s in %s/: {op: (got, expected)} %r" % (
                            who, kind, d, {k: (got.get(k), want[k]) for k in want
                                           if got.get(k) != want[k]})
                    assert os.path.lexists(file), "%s was removed" % file
            st = os.stat(secret.name)
            assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, 0, 0o600), st
            with open(secret.name, "rb") as f:
                assert f.read() == b"root only"
            assert os.listdir(m.path) and m.alive()
        finally:
            for file in planted:
                if os.path.isdir(file) and not os.path.islink(file):
                    os.rmdir(file)
                elif os.path.lexists(file):
                    os.unlink(file)


if __name__ == "__main__":
    run(globals())
