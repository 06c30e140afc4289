"""A seeded differential test: each kind of file against its own object.

For each kind (shm/, mq/, sem/, sysv/shm/) a generator driven by
random.Random(seed) makes sequences of operations, each applied in
lockstep to two worlds, each with its own object (names "dfaN" and
"dfbN" after the mount's prefix; System V keys m.key(2N), m.key(2N+1)):

  mount   the object through the mount, with the plain file calls:
          shm/A, mq/A, sem/A, sysv/shm/KEY_A
  direct  its twin B reached the way other programs reach it:
          /dev/shm/B; mq_open("/B"), mq_send, mq_receive; sem_open("/B"),
          sem_post, sem_trywait, sem_getvalue; shmget(KEY_B), one shmat
          per open descriptor and that attachment's /proc/self/map_files
          entry (the segment's own file) for its bytes, shmctl for its
          attributes

Operations, each in each world's own terms: open with a random mix of
O_RDONLY/O_WRONLY/O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND (shm/),
O_NONBLOCK, up to SLOTS descriptors at once; close; a new open of an open
descriptor's object through its /proc/self/fd link ("reopen"); read and
write (random sizes and bytes, or semaphore commands); pread, pwrite and
lseek where the kind has offsets (lseek of a queue: ESPIPE); ftruncate; fstat (file type, mode & 07777, size, st_nlink,
st_uid); fchmod; fchown; poll (mq/); stat by name; whether the listing of
the directory shows the name; unlink while open; and, as another program
would do it, directly and by the world's own name in both worlds: unlink,
unlink and create again (name reuse), writes and truncation (shm/),
sends and receives (mq/), posts and takes (sem/); for shm/ and sysv/shm/
with passthrough, a store through a MAP_SHARED mapping of one descriptor
loaded through a mapping of the same world's other descriptor and by
pread, in a child, so that a SIGBUS is an outcome like any other. Queue
and semaphore files are always opened O_NONBLOCK, so nothing waits: an
empty or full queue and a semaphore at 0 give EAGAIN, compared with what
mq_send, mq_receive and sem_trywait give.

After every step the outcomes (the value returned or the errno, the bytes
read) must be the same. An operation on a slot that is not open is
skipped in both worlds, so that any subsequence is a sequence too. One
seed in three never removes or replaces the name, so that those
sequences go deep instead of ending at the first difference about a
removed object. A difference of fstat, stat, poll or the listing changes
no state, so a sequence goes on after one; after any other it ends
there. For each class of difference (an operation and the mount's answer)
the first seeds that showed it are printed, and their sequences shrunk by
delta debugging (drop halves, quarters ... single operations while the
same difference still shows, each try replayed against fresh objects);
the shortest one is printed step by step with both outcomes. Then the
TAP case fails. A case also fails if its replays leave a descriptor of
the test, an object, or a descriptor of the daemon behind.

Where the mount deliberately differs from the native call, the direct
world expects what the README says instead; each such mapping is a
comment marked MAPPING, quoting its README line:

  all     set-id bits in chmod: EINVAL, nothing changes (shm/, mq/, sem/);
          set-id or sticky bits: EINVAL (sysv/)
  mq/     O_TRUNC does nothing; ftruncate to 0 does nothing, to another
          size EINVAL; a 0-byte write sends nothing and returns 0; a read
          returns one message, cut to the buffer, the rest coming from
          the next reads of the same open file (mq_receive itself would
          want msgsize bytes); poll is readable while such a rest waits;
          lseek is ESPIPE; st_size is the bytes queued (QSIZE), or
          1,048,576 through a file open for writing
  sem/    a stream: the first read of an open file takes "VALUE\n"
          afresh, later ones go on to its end; lseek and pread are
          ESPIPE; writes are "post", "wait", "+N", "-N", "N" (N 1
          to 65,536, with or without echo's newline), anything else
          EINVAL; a wait that can't be done at once is EAGAIN and takes
          nothing; st_size is the value, or 1,048,576 through a file open
          for writing; O_TRUNC does nothing; the access mode is the
          file's (sem_open has none)
  mq/ and sem/: which inode a descriptor shares with a writer depends on
          the kernel's lookups, so a reader of an object also open for
          writing may see either size (OneOf)
  sysv/shm/  created with the caller's mode after its umask, of the size
          -o sysv_shm_size gives; O_TRUNC does nothing; ftruncate to 0 or
          to the size does nothing, to another size EINVAL; a write at or
          past the end is ENOSPC, one across it stops there (fallback);
          with passthrough, writes past the end are not made at all, a
          known limit; st_size is the segment's size, the owner and mode
          its ipc_perm's
  shm/ and sysv/shm/ without passthrough: no mmap operations (ENODEV
          by design)

Choices of this test where the README says nothing: a System V segment's
open descriptor holds the segment as an attachment would, so after
IPC_RMID (its key gone) its fstat, fchmod, fchown, ftruncate and reopen
still reach it, and st_nlink is 0; a semaphore reopened through
/proc/self/fd is its file mapped the way sem_open maps it; a queue
reopened so is a second mqd of the same queue.

Default: seeds 1-200 per case, 80 operations each, about 10 s for the
file. IPCFS_TEST_SIZE=full: seeds 1-2000 and one random seed (printed),
150 operations each, about 2 minutes. IPCFS_TEST_SEED=N adds seed N.
"""
import collections
import ctypes
import ctypes.util
import errno
import mmap
import os
import pickle
import random
import select
import signal
import stat
import time

from ipcfs_test import SysV, errno_name, run, watched_mount

FULL = os.environ.get("IPCFS_TEST_SIZE") == "full"
EXTRA_SEED = os.environ.get("IPCFS_TEST_SEED")
SEEDS = list(range(1, 2001 if FULL else 201))
if FULL:
    SEEDS.append(random.SystemRandom().randrange(1 << 31))
if EXTRA_SEED:
    SEEDS.append(int(EXTRA_SEED))
LENGTH = 150 if FULL else 80          # operations per sequence
SHRINK_REPLAYS = 400 if FULL else 150  # replays one shrink may take
SHRINK_SECONDS = 20 if FULL else 3    # time one shrink may take
SHRINK_CASE_SECONDS = 60 if FULL else 8  # and all of a case's shrinks
MAX_SHRUNK = 12 if FULL else 8         # classes of differences shrunk per case
SHRINK_TRIES = 3                       # seeds shrunk per class: the shortest result is shown

UMASK = 0o022
os.umask(UMASK)
PAGE = mmap.PAGESIZE
SLOTS = 3                 # descriptors open at once, per world
WRITE_ROOM = 1 << 20      # README: a queue or semaphore "open for writing shows 1,048,576"
MQ_MAXMSG, MQ_MSGSIZE = 4, 128
SYSV_SIZE = 10000         # not a multiple of the page size
SHM_DEST = 0o1000
SEM_T_SIZE = 32           # sizeof(sem_t), glibc on 64-bit Linux

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.mmap.restype = ctypes.c_void_p
LIBC.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]
LIBC.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
MAP_FAILED = ctypes.c_void_p(-1).value
LIBC.sem_open.restype = ctypes.c_void_p
LIBC.sem_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_uint, ctypes.c_uint]
for _f in ("sem_post", "sem_trywait", "sem_close"):
    getattr(LIBC, _f).argtypes = [ctypes.c_void_p]
LIBC.sem_getvalue.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
LIBC.sem_unlink.argtypes = [ctypes.c_char_p]

RT = ctypes.CDLL(ctypes.util.find_library("rt") or "librt.so.1", use_errno=True)


class MqAttr(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_long), ("maxmsg", ctypes.c_long),
                ("msgsize", ctypes.c_long), ("curmsgs", ctypes.c_long),
                ("pad", ctypes.c_long * 4)]


RT.mq_open.restype = ctypes.c_int
RT.mq_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(MqAttr)]
RT.mq_send.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint]
RT.mq_receive.restype = ctypes.c_ssize_t
RT.mq_receive.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t,
                          ctypes.POINTER(ctypes.c_uint)]
RT.mq_getattr.argtypes = [ctypes.c_int, ctypes.POINTER(MqAttr)]
RT.mq_close.argtypes = [ctypes.c_int]
RT.mq_unlink.argtypes = [ctypes.c_char_p]


class IpcPerm(ctypes.Structure):  # glibc's struct ipc_perm (bits/ipc-perm.h)
    _fields_ = [("key", ctypes.c_int), ("uid", ctypes.c_uint), ("gid", ctypes.c_uint),
                ("cuid", ctypes.c_uint), ("cgid", ctypes.c_uint), ("mode", ctypes.c_uint),
                ("seq", ctypes.c_ushort), ("pad2", ctypes.c_ushort),
                ("reserved1", ctypes.c_ulong), ("reserved2", ctypes.c_ulong)]


class ShmidDs(ctypes.Structure):
    _fields_ = [("perm", IpcPerm), ("segsz", ctypes.c_size_t), ("atime", ctypes.c_long),
                ("dtime", ctypes.c_long), ("ctime", ctypes.c_long), ("cpid", ctypes.c_int),
                ("lpid", ctypes.c_int), ("nattch", ctypes.c_ulong),
                ("reserved", ctypes.c_ulong * 2)]


LIBC.shmctl.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
IPC_SET = 1


def fail_errno():
    e = ctypes.get_errno()
    raise OSError(e, os.strerror(e))


def shm_stat_id(ident):
    ds = ShmidDs()
    if LIBC.shmctl(ident, SysV.IPC_STAT, ctypes.byref(ds)) < 0:
        fail_errno()
    return ds


def shm_set_id(ident, uid=None, mode=None):
    ds = shm_stat_id(ident)
    if uid is not None:
        ds.perm.uid = uid
    if mode is not None:
        ds.perm.mode = mode
    if LIBC.shmctl(ident, IPC_SET, ctypes.byref(ds)) < 0:
        fail_errno()


# Outcomes ------------------------------------------------------------------------------
#
# An outcome is ("ok", value), ("err", "ENOENT"), ("signal", "SIGBUS"),
# ("closed",) for an operation on a descriptor not open (in both worlds
# alike), or ("skip", why). The direct world may expect OneOf(...) where
# the mount may answer either of two things, each documented.

Stat = collections.namedtuple("Stat", "type mode size nlink uid")


class OneOf(tuple):
    def __repr__(self):
        return " or ".join(map(show_value, self))


def matches(actual, expected):
    if isinstance(expected, OneOf):
        return any(matches(actual, e) for e in expected)
    if isinstance(expected, tuple) and isinstance(actual, tuple):
        return len(actual) == len(expected) and all(map(matches, actual, expected))
    return type(actual) is type(expected) and actual == expected


def attempt(fn, *args):
    try:
        return ("ok", fn(*args))
    except OSError as e:
        return ("err", errno_name(e.errno))


def stat_of(st):
    return Stat(stat.S_IFMT(st.st_mode), st.st_mode & 0o7777, st.st_size, st.st_nlink, st.st_uid)


def show_value(v):
    if isinstance(v, bytes):
        if len(v) <= 16:
            return repr(v)
        return "<%d bytes %s..>" % (len(v), v[:6].hex())
    if isinstance(v, Stat):
        return "{%s mode=%s size=%s nlink=%s uid=%s}" % (
            "reg" if v.type == stat.S_IFREG else oct(v.type), oct(v.mode), show_value(v.size),
            show_value(v.nlink), v.uid)
    if isinstance(v, OneOf):
        return repr(v)
    if isinstance(v, tuple):
        return "(" + ", ".join(map(show_value, v)) + ")"
    return repr(v)


def show(outcome):
    if outcome[0] == "ok":
        return "ok" if outcome[1] is None else "ok " + show_value(outcome[1])
    if outcome[0] in ("err", "signal"):
        return outcome[1]
    if outcome[0] == "skip":
        return "skipped (%s)" % outcome[1]
    return "not open: skipped"


def signature(op, got, want):
    """What differed, without the random values: one per distinct difference."""
    if got[0] != want[0] or got[0] != "ok":
        return "%s: %s vs %s" % (op[0], got[1] if got[0] != "ok" else "ok",
                                 want[1] if want[0] != "ok" else "ok")
    a, b = got[1], want[1]
    if isinstance(a, Stat) and isinstance(b, Stat):
        parts = []
        for field in Stat._fields:
            x, y = getattr(a, field), getattr(b, field)
            if not matches(x, y):
                parts.append(field if field == "size" else
                             "%s %s vs %s" % (field, show_value(x), show_value(y)))
        return "%s: %s" % (op[0], ", ".join(parts))
    return "%s: different results" % op[0]


# Operations ----------------------------------------------------------------------------
#
# Each is a tuple, its name first. Ops on a descriptor name its slot
# (0..SLOTS-1) first.

SLOT_OPS = {"open", "reopen", "close", "read", "write", "pread", "pwrite", "lseek", "ftruncate",
            "fstat", "fchmod", "fchown", "poll", "mmap"}
OBSERVATIONS = {"fstat", "stat", "poll", "listed"}  # a difference here changes no state
NAME_CHANGES = {"unlink", "outside_unlink", "outside_reuse"}

FLAG_NAMES = [(os.O_CREAT, "O_CREAT"), (os.O_EXCL, "O_EXCL"), (os.O_TRUNC, "O_TRUNC"),
              (os.O_APPEND, "O_APPEND"), (os.O_NONBLOCK, "O_NONBLOCK")]


def flags_text(flags):
    acc = {os.O_RDONLY: "O_RDONLY", os.O_WRONLY: "O_WRONLY",
           os.O_RDWR: "O_RDWR"}[flags & os.O_ACCMODE]
    return "|".join([acc] + [n for f, n in FLAG_NAMES if flags & f])


def op_text(op, kind):
    name, args = op[0], op[1:]
    if name == "open":
        return "fd%d = open(NAME, %s, %s)" % (args[0], flags_text(args[1]), oct(args[2]))
    if name == "reopen":
        return "fd%d = open(\"/proc/self/fd/\" + fd%d, %s)" % (
            args[1], args[0], flags_text(args[2]))
    if name == "listed":
        return "NAME in listdir(its directory)"
    if name in ("close", "fstat", "poll"):
        return "%s(fd%d)" % (name, args[0])
    if name == "read":
        return "read(fd%d, %d)" % args
    if name == "write":
        return "write(fd%d, %s)" % (args[0], show_value(args[1]))
    if name == "pread":
        return "pread(fd%d, %d, offset %d)" % args
    if name == "pwrite":
        return "pwrite(fd%d, %s, offset %d)" % (args[0], show_value(args[1]), args[2])
    if name == "lseek":
        return "lseek(fd%d, %d, %s)" % (
            args[0], args[1], ["SEEK_SET", "SEEK_CUR", "SEEK_END"][args[2]])
    if name == "ftruncate":
        return "ftruncate(fd%d, %d)" % args
    if name == "fchmod":
        return "fchmod(fd%d, %s)" % (args[0], oct(args[1]))
    if name == "fchown":
        return "fchown(fd%d, %d, -1)" % args
    if name == "mmap":
        slot, other, length, off, data = args
        return ("mmap(fd%d, %d, PROT_READ|PROT_WRITE, MAP_SHARED), store %s at %d, then load "
                "there through a mapping of fd%d and pread(fd%d)" % (
                    slot, length, show_value(data), off, other, other))
    if name == "stat":
        return "stat(NAME)"
    if name == "unlink":
        return "unlink(NAME)"
    if name == "outside_unlink":
        return "elsewhere: NAME removed directly"
    if name == "outside_reuse":
        return "elsewhere: NAME removed and made again directly, mode %s, %s" % (
            oct(args[0]), ", ".join("%s %s" % (f, show_value(a))
                                    for f, a in zip(kind.reuse_fields, args[1:])))
    if name == "outside_write":
        return "elsewhere: NAME written directly at offset %d: %s" % (args[0], show_value(args[1]))
    if name == "outside_truncate":
        return "elsewhere: truncate(NAME, %d)" % args
    if name == "outside_send":
        return "elsewhere: mq_send(NAME, %s)" % show_value(args[0])
    if name == "outside_recv":
        return "elsewhere: mq_receive(NAME)"
    if name == "outside_post":
        return "elsewhere: sem_post(NAME)"
    if name == "outside_wait":
        return "elsewhere: sem_trywait(NAME)"
    return "%s%r" % (name, args)


def mmap_in_child(fd, other_fd, length, off, data):
    """Maps fd MAP_SHARED, stores data at off, and loads it back through a
    mapping of other_fd and through pread(other_fd), all in a child: a
    SIGBUS is an outcome of the step, reported as such."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.close(r)
            out = ("ok", None)
            addr = LIBC.mmap(None, length, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_SHARED, fd, 0)
            if addr in (None, MAP_FAILED):
                out = ("err", errno_name(ctypes.get_errno()))
            else:
                ctypes.memmove(addr + off, data, len(data))
                loads = []
                if other_fd is not None:
                    addr2 = LIBC.mmap(None, length, mmap.PROT_READ, mmap.MAP_SHARED, other_fd, 0)
                    if addr2 in (None, MAP_FAILED):
                        loads.append(("err", errno_name(ctypes.get_errno())))
                    else:
                        loads.append(("ok", ctypes.string_at(addr2 + off, len(data))))
                    loads.append(attempt(os.pread, other_fd, len(data), off))
                out = ("ok", tuple(loads) if loads else None)
            os.write(w, pickle.dumps(out))
            status = 0
        finally:
            os._exit(status)
    os.close(w)
    chunks = []
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return ("signal", signal.Signals(os.WTERMSIG(status)).name)
    if not chunks:
        raise RuntimeError("the mmap child failed (exit status %d)" % os.WEXITSTATUS(status))
    return pickle.loads(b"".join(chunks))


class Slot:
    def __init__(self, fd, flags, **extra):
        self.fd = fd
        self.flags = flags
        self.__dict__.update(extra)

    @property
    def readable(self):
        return self.flags & os.O_ACCMODE in (os.O_RDONLY, os.O_RDWR)

    @property
    def writable(self):
        return self.flags & os.O_ACCMODE in (os.O_WRONLY, os.O_RDWR)


class World:
    """One world's descriptors; apply(op) gives the op's outcome. outside
    is what other programs do to this world's object: its op_outside_X
    are the world's op_outside_X."""

    def __init__(self, outside):
        self.slots = {}
        self.outside = outside

    def __getattr__(self, name):
        if name.startswith("op_outside_"):
            return getattr(self.outside, name[3:])
        raise AttributeError(name)

    def prepare(self, op):
        """A reason to skip op in both worlds, decided by the direct world."""
        return None

    def apply(self, op):
        name = op[0]
        if name in SLOT_OPS and name != "open" and op[1] not in self.slots:
            return ("closed",)
        if name == "open" and op[1] in self.slots:
            self.op_close(op[1])
        if name == "reopen" and op[2] in self.slots:
            self.op_close(op[2])
        return getattr(self, "op_" + name)(*op[1:])

    def close_all(self):
        for slot in list(self.slots):
            try:
                self.op_close(slot)
            except OSError:
                pass


class FileWorld(World):
    """Descriptors of a file by a path, with the plain system calls: the
    mount's side of every kind, and the direct side of shm/."""

    def __init__(self, path, outside):
        super().__init__(outside)
        self.path = path

    def op_open(self, slot, flags, mode):
        r = attempt(os.open, self.path, flags, mode)
        if r[0] == "ok":
            self.slots[slot] = Slot(r[1], flags)
            return ("ok", None)
        return r

    def op_close(self, slot):
        return attempt(os.close, self.slots.pop(slot).fd)

    def op_read(self, slot, n):
        return attempt(os.read, self.slots[slot].fd, n)

    def op_write(self, slot, data):
        return attempt(os.write, self.slots[slot].fd, data)

    def op_pread(self, slot, n, off):
        return attempt(os.pread, self.slots[slot].fd, n, off)

    def op_pwrite(self, slot, data, off):
        return attempt(os.pwrite, self.slots[slot].fd, data, off)

    def op_lseek(self, slot, off, whence):
        return attempt(os.lseek, self.slots[slot].fd, off, whence)

    def op_ftruncate(self, slot, size):
        return attempt(os.ftruncate, self.slots[slot].fd, size)

    def op_fstat(self, slot):
        r = attempt(os.fstat, self.slots[slot].fd)
        return ("ok", stat_of(r[1])) if r[0] == "ok" else r

    def op_fchmod(self, slot, mode):
        return attempt(os.fchmod, self.slots[slot].fd, mode)

    def op_fchown(self, slot, uid):
        return attempt(os.fchown, self.slots[slot].fd, uid, -1)

    def op_poll(self, slot):
        p = select.poll()
        p.register(self.slots[slot].fd, select.POLLIN | select.POLLOUT)
        r = attempt(p.poll, 0)
        if r[0] != "ok":
            return r
        return ("ok", sum(ev for _, ev in r[1]) & (select.POLLIN | select.POLLOUT))

    def op_stat(self):
        r = attempt(os.stat, self.path)
        return ("ok", stat_of(r[1])) if r[0] == "ok" else r

    def op_unlink(self):
        return attempt(os.unlink, self.path)

    def op_listed(self):
        d, entry = os.path.split(self.path)
        return attempt(lambda: entry in os.listdir(d))

    def op_reopen(self, slot, new, flags):
        """A new open file of the object an open descriptor has, through
        its /proc/self/fd link, as after an exec or from another process."""
        r = attempt(os.open, "/proc/self/fd/%d" % self.slots[slot].fd, flags)
        if r[0] == "ok":
            self.slots[new] = Slot(r[1], flags)
            return ("ok", None)
        return r

    def op_mmap(self, slot, other, length, off, data):
        other_fd = self.slots[other].fd if other in self.slots and other != slot else None
        return mmap_in_child(self.slots[slot].fd, other_fd, length, off, data)


def set_id_bits(mode):
    return mode & (stat.S_ISUID | stat.S_ISGID)


# shm/ ----------------------------------------------------------------------------------

class ShmOutside:
    """Another program's calls on /dev/shm/NAME."""

    def __init__(self, path):
        self.path = path

    def outside_unlink(self):
        return attempt(os.unlink, self.path)

    def outside_reuse(self, mode, data):
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, mode)
        try:
            os.write(fd, data)
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
        return ("ok", None)

    def outside_write(self, off, data):
        try:
            fd = os.open(self.path, os.O_RDWR)
        except OSError as e:
            return ("err", errno_name(e.errno))
        try:
            return attempt(os.pwrite, fd, data, off)
        finally:
            os.close(fd)

    def outside_truncate(self, size):
        return attempt(os.truncate, self.path, size)


class ShmDirect(FileWorld):
    def __init__(self, path, outside, passthrough):
        super().__init__(path, outside)
        self.passthrough = passthrough

    def prepare(self, op):
        # MAPPING: doc/shm.md, "Known limit (fallback): an O_APPEND write()
        # after another program grew the segment lands at its end, but the
        # file position ... is the size the kernel knew plus the bytes
        # written": without passthrough, write() through an O_APPEND
        # descriptor is not made in either world (pwrite has no position).
        if self.passthrough or op[0] != "write" or op[1] not in self.slots:
            return None
        if self.slots[op[1]].flags & os.O_APPEND:
            return "without passthrough an O_APPEND write's position is the kernel's: known limit"
        return None

    def op_fchmod(self, slot, mode):
        # MAPPING: doc/shm.md table, "chmod, chown | change the real
        # segment; set-id bits: EINVAL".
        if set_id_bits(mode):
            return ("err", "EINVAL")
        return super().op_fchmod(slot, mode)


MODES_CREATE = [0o600, 0o600, 0o644, 0o640, 0o666, 0o400, 0o700, 0o604]
MODES_CHMOD = [0o600, 0o644, 0o640, 0o400, 0o000, 0o777, 0o1644, 0o4755, 0o2640]


def rand_open_flags(rng, allowed, always=0):
    acc = rng.choice([os.O_RDONLY, os.O_WRONLY, os.O_RDWR, os.O_RDWR])
    flags = acc | always
    chance = {os.O_CREAT: 0.5, os.O_EXCL: 0.15, os.O_TRUNC: 0.15, os.O_APPEND: 0.15,
              os.O_NONBLOCK: 0.2}
    for f in allowed:
        if rng.random() < chance[f]:
            flags |= f
    return flags


def rand_data(rng, sizes):
    n = rng.choice(sizes)
    if rng.random() < 0.5:
        return bytes(rng.choice(b"abcdefgh") for _ in range(n))
    return rng.randbytes(n)


class Kind:
    """What a kind's worlds are and which operations make sense for it."""
    mmap_ok = False

    def __init__(self, m):
        self.m = m
        self.counter = 0

    def leftovers(self):
        """Objects of this case's replays still there (there should be none)."""
        mine = self.m.prefix + "df"
        return [n for n in os.listdir("/dev/shm")
                if n.startswith(mine) or n.startswith("sem." + mine)]

    def fresh(self):
        self.counter += 1
        return self.counter

    def generate(self, rng, length):
        """A sequence of length operations. One seed in three keeps the name
        on its object for the whole sequence (no unlink, no name reuse), so
        that what an unlinked or replaced object gives does not end every
        sequence early."""
        ops = [self.random_open(rng, create=True)]
        weights = self.weights()
        if rng.random() < 1 / 3:
            weights = [(n, w) for n, w in weights if n not in NAME_CHANGES]
        names = [n for n, _ in weights]
        odds = [w for _, w in weights]
        while len(ops) < length:
            name = rng.choices(names, odds)[0]
            op = getattr(self, "gen_" + name)(rng) if hasattr(self, "gen_" + name) else (name,)
            if op is not None:
                ops.append(op)
        return ops

    def slot(self, rng):
        return rng.randrange(SLOTS)

    def random_open(self, rng, create=False):
        flags = rand_open_flags(rng, self.open_flags, self.always_flags)
        if create:
            flags |= os.O_CREAT
        return ("open", self.slot(rng), flags, rng.choice(MODES_CREATE))

    def gen_open(self, rng):
        return self.random_open(rng)

    def gen_close(self, rng):
        return ("close", self.slot(rng))

    def gen_fstat(self, rng):
        return ("fstat", self.slot(rng))

    def gen_fchmod(self, rng):
        return ("fchmod", self.slot(rng), rng.choice(MODES_CHMOD))

    def gen_fchown(self, rng):
        return ("fchown", self.slot(rng), rng.choice([0, 65534]))

    def gen_poll(self, rng):
        return ("poll", self.slot(rng))

    def gen_reopen(self, rng):
        slot = self.slot(rng)
        new = rng.choice([s for s in range(SLOTS) if s != slot])
        allowed = [f for f in self.open_flags if f not in (os.O_CREAT, os.O_EXCL)]
        flags = rand_open_flags(rng, allowed, self.always_flags)
        return ("reopen", slot, new, flags)


class ShmKind(Kind):
    label = "shm"
    reuse_fields = ("content",)
    open_flags = (os.O_CREAT, os.O_EXCL, os.O_TRUNC, os.O_APPEND, os.O_NONBLOCK)
    always_flags = 0
    SIZES = [0, 1, 100, PAGE - 1, PAGE, PAGE + 1, 2 * PAGE, 3 * PAGE - 7]

    def __init__(self, m, passthrough):
        super().__init__(m)
        self.mmap_ok = passthrough

    def worlds(self):
        n = self.fresh()
        a, b = self.m.name("dfa%d" % n), self.m.name("dfb%d" % n)
        pa, pb = os.path.join("/dev/shm", a), os.path.join("/dev/shm", b)
        mount = FileWorld(os.path.join(self.m.path, "shm", a), ShmOutside(pa))
        direct = ShmDirect(pb, ShmOutside(pb), self.mmap_ok)
        return mount, direct, lambda: remove_files(pa, pb)

    def weights(self):
        w = [("open", 10), ("close", 5), ("read", 6), ("write", 7), ("pread", 6),
             ("pwrite", 7), ("lseek", 3), ("ftruncate", 5), ("fstat", 8), ("fchmod", 3),
             ("fchown", 2), ("stat", 4), ("unlink", 3), ("outside_unlink", 1.5),
             ("outside_reuse", 2.5), ("outside_write", 3), ("outside_truncate", 1.5),
             ("reopen", 3), ("listed", 2)]
        if self.mmap_ok:
            w.append(("mmap", 4))
        return w

    def offset(self, rng):
        return rng.choice([0, 0, 1, PAGE - 3, PAGE, rng.randrange(3 * PAGE + 200)])

    def gen_read(self, rng):
        return ("read", self.slot(rng), rng.choice([1, 7, 100, PAGE, 3 * PAGE + 10]))

    def gen_write(self, rng):
        return ("write", self.slot(rng), rand_data(rng, [1, 5, 64, 300, PAGE + 1]))

    def gen_pread(self, rng):
        return ("pread", self.slot(rng), rng.choice([1, 16, 200, 2 * PAGE]), self.offset(rng))

    def gen_pwrite(self, rng):
        return ("pwrite", self.slot(rng), rand_data(rng, [1, 8, 100, 600]), self.offset(rng))

    def gen_lseek(self, rng):
        whence = rng.choice([os.SEEK_SET, os.SEEK_CUR, os.SEEK_END])
        off = rng.choice([0, 0, 10, PAGE, -1, -5])
        if whence == os.SEEK_SET:
            off = abs(off)
        return ("lseek", self.slot(rng), off, whence)

    def gen_ftruncate(self, rng):
        return ("ftruncate", self.slot(rng), rng.choice(self.SIZES))

    def gen_outside_reuse(self, rng):
        return ("outside_reuse", rng.choice(MODES_CREATE), rand_data(rng, [0, 3, 100, PAGE + 5]))

    def gen_outside_write(self, rng):
        return ("outside_write", self.offset(rng), rand_data(rng, [1, 4, 50]))

    def gen_outside_truncate(self, rng):
        return ("outside_truncate", rng.choice(self.SIZES))

    def gen_mmap(self, rng):
        slot = self.slot(rng)
        other = rng.choice([s for s in range(SLOTS) if s != slot])
        length = rng.choice([PAGE, 2 * PAGE, 3 * PAGE])
        data = rand_data(rng, [1, 8, 40])
        return ("mmap", slot, other, length, rng.randrange(length - len(data) + 1), data)


def remove_files(*paths):
    for p in paths:
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass


# mq/ -----------------------------------------------------------------------------------

def mq_path(name):
    return ("/" + name).encode()


def mq_open(name, flags, mode=0, maxmsg=MQ_MAXMSG, msgsize=MQ_MSGSIZE):
    attr = MqAttr(0, maxmsg, msgsize, 0) if flags & os.O_CREAT else None
    mqd = RT.mq_open(mq_path(name), flags, mode, ctypes.byref(attr) if attr else None)
    if mqd < 0:
        fail_errno()
    return mqd


def mq_attr(mqd):
    a = MqAttr()
    if RT.mq_getattr(mqd, ctypes.byref(a)) < 0:
        fail_errno()
    return a


def mq_send(mqd, data):
    if RT.mq_send(mqd, data, len(data), 0) < 0:
        fail_errno()


def mq_receive(mqd):
    size = mq_attr(mqd).msgsize
    buf = ctypes.create_string_buffer(size)
    n = RT.mq_receive(mqd, buf, size, None)
    if n < 0:
        fail_errno()
    return buf.raw[:n]


def mq_unlink(name):
    if RT.mq_unlink(mq_path(name)) < 0:
        fail_errno()


def mq_qsize(mqd):
    """QSIZE of the queue's status line, what reading its file gives."""
    text = os.pread(mqd, 200, 0).decode()
    return int(text.split("QSIZE:")[1].split()[0])


class MqOutside:
    """Another program's mq_* calls on the queue /NAME."""

    def __init__(self, name):
        self.name = name

    def _with(self, flags, fn):
        try:
            mqd = mq_open(self.name, flags | os.O_NONBLOCK)
        except OSError as e:
            return ("err", errno_name(e.errno))
        try:
            return attempt(fn, mqd)
        finally:
            RT.mq_close(mqd)

    def outside_send(self, data):
        return self._with(os.O_WRONLY, lambda q: mq_send(q, data))

    def outside_recv(self):
        return self._with(os.O_RDONLY, mq_receive)

    def outside_unlink(self):
        return attempt(mq_unlink, self.name)

    def outside_reuse(self, mode, maxmsg, msgsize, messages):
        try:
            mq_unlink(self.name)
        except FileNotFoundError:
            pass
        mqd = mq_open(self.name, os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_NONBLOCK, mode,
                      maxmsg, msgsize)
        try:
            os.fchmod(mqd, mode)
            for data in messages:
                mq_send(mqd, data)
        finally:
            RT.mq_close(mqd)
        return ("ok", None)


def other_writer(world, slot, ino):
    """Whether another descriptor open for writing holds the same object."""
    return any(s.writable and s.ino == ino for k, s in world.slots.items() if k != slot)


class MqDirect(World):
    """The queue /NAME through mq_open, mq_send, mq_receive."""

    def __init__(self, name):
        super().__init__(MqOutside(name))
        self.name = name

    def op_open(self, slot, flags, mode):
        # MAPPING: doc/mq.md table, "O_TRUNC (the shell's >), truncate -s 0
        # | accepted, does nothing": mq_open is not given O_TRUNC.
        try:
            mqd = mq_open(self.name, flags & ~os.O_TRUNC, mode)
        except OSError as e:
            return ("err", errno_name(e.errno))
        self.slots[slot] = Slot(mqd, flags, rest=b"", ino=os.fstat(mqd).st_ino)
        return ("ok", None)

    def op_close(self, slot):
        RT.mq_close(self.slots.pop(slot).fd)
        return ("ok", None)

    def op_reopen(self, slot, new, flags):
        # An mqd is a descriptor of the queue's inode: opening its
        # /proc/self/fd link gives another one, which mq_send and
        # mq_receive take, of the same queue, named or not. (O_TRUNC: not
        # given, as at open.)
        s = self.slots[slot]
        r = attempt(os.open, "/proc/self/fd/%d" % s.fd, flags & ~os.O_TRUNC)
        if r[0] != "ok":
            return r
        self.slots[new] = Slot(r[1], flags, rest=b"", ino=s.ino)
        return ("ok", None)

    def op_write(self, slot, data):
        s = self.slots[slot]
        # MAPPING: doc/mq.md "Empty messages: write() of 0 bytes never
        # reaches the daemon (the kernel answers it), so nothing is sent"
        # (and the kernel refuses it with EBADF on a file not open for
        # writing, as any write).
        if not data:
            return ("ok", 0) if s.writable else ("err", "EBADF")
        r = attempt(mq_send, s.fd, data)
        return ("ok", len(data)) if r[0] == "ok" else r

    def op_read(self, slot, n):
        s = self.slots[slot]
        # MAPPING: doc/mq.md table, "read with a buffer shorter than the
        # message | returns what fits; the rest comes from the next reads
        # of the same open file, nothing is lost" (mq_receive itself wants
        # a buffer of msgsize: EMSGSIZE).
        if s.rest:
            out, s.rest = s.rest[:n], s.rest[n:]
            return ("ok", out)
        r = attempt(mq_receive, s.fd)
        if r[0] != "ok":
            return r
        s.rest = r[1][n:]
        return ("ok", r[1][:n])

    def op_lseek(self, slot, off, whence):
        # MAPPING: doc/mq.md table, "lseek | ESPIPE".
        return ("err", "ESPIPE")

    def op_ftruncate(self, slot, size):
        # MAPPING: doc/mq.md table, "O_TRUNC, truncate -s 0 | accepted,
        # does nothing" and "truncate to another size | EINVAL"; a file not
        # open for writing: the kernel's EINVAL of ftruncate.
        s = self.slots[slot]
        if not s.writable or size != 0:
            return ("err", "EINVAL")
        return ("ok", None)

    def _stat(self, mqd, st, slot, writable):
        # MAPPING: doc/mq.md table, "stat | ... size: the bytes queued
        # (QSIZE), or 1,048,576 through a file open for writing", and "mq/
        # choices": "reports 1 MiB for it [the inode] while it stays open
        # for writing; a new lookup of the name meanwhile gets a fresh
        # inode". Which inode a descriptor shares with a writer depends on
        # when the kernel looked the name up (its dentry cache), so where
        # another descriptor holds the queue open for writing, a reader may
        # see either size.
        if writable:
            size = WRITE_ROOM
        else:
            size = mq_qsize(mqd)
            if other_writer(self, slot, st.st_ino):
                size = OneOf((size, WRITE_ROOM))
        return ("ok", stat_of(st)._replace(size=size))

    def op_fstat(self, slot):
        s = self.slots[slot]
        return self._stat(s.fd, os.fstat(s.fd), slot, s.writable)

    def op_stat(self):
        try:
            mqd = mq_open(self.name, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as e:
            return ("err", errno_name(e.errno))
        try:
            return self._stat(mqd, os.fstat(mqd), None, False)
        finally:
            RT.mq_close(mqd)

    def op_fchmod(self, slot, mode):
        # MAPPING: doc/mq.md table, "chmod, chown | change the real queue;
        # set-id bits: EINVAL".
        if set_id_bits(mode):
            return ("err", "EINVAL")
        return attempt(os.fchmod, self.slots[slot].fd, mode)

    def op_fchown(self, slot, uid):
        return attempt(os.fchown, self.slots[slot].fd, uid, -1)

    def op_poll(self, slot):
        s = self.slots[slot]
        p = select.poll()
        p.register(s.fd, select.POLLIN | select.POLLOUT)
        ev = sum(e for _, e in p.poll(0)) & (select.POLLIN | select.POLLOUT)
        # MAPPING: doc/mq.md table, "poll | readable while messages wait"
        # with "the rest comes from the next reads of the same open file":
        # a file holding the rest of a message is readable.
        if s.rest:
            ev |= select.POLLIN
        return ("ok", ev)

    def op_unlink(self):
        return attempt(mq_unlink, self.name)

    def op_listed(self):
        # Without an mqueue mount a queue's name is listed where mq_open finds it.
        try:
            RT.mq_close(mq_open(self.name, os.O_RDONLY | os.O_NONBLOCK))
            return ("ok", True)
        except FileNotFoundError:
            return ("ok", False)


class MqKind(Kind):
    label = "mq"
    reuse_fields = ("maxmsg", "msgsize", "messages")
    # doc/mq.md: "write to a full queue ... EAGAIN with O_NONBLOCK", "read
    # of an empty queue ... EAGAIN with O_NONBLOCK": always O_NONBLOCK here.
    open_flags = (os.O_CREAT, os.O_EXCL, os.O_TRUNC)
    always_flags = os.O_NONBLOCK

    def worlds(self):
        n = self.fresh()
        a, b = self.m.name("dfa%d" % n), self.m.name("dfb%d" % n)
        mount = FileWorld(os.path.join(self.m.path, "mq", a), MqOutside(a))
        direct = MqDirect(b)

        def cleanup():
            for q in (a, b):
                try:
                    mq_unlink(q)
                except FileNotFoundError:
                    pass
        return mount, direct, cleanup

    def leftovers(self):
        left = []
        for n in range(1, self.counter + 1):
            for q in (self.m.name("dfa%d" % n), self.m.name("dfb%d" % n)):
                try:
                    RT.mq_close(mq_open(q, os.O_RDONLY | os.O_NONBLOCK))
                    left.append(q)
                except FileNotFoundError:
                    pass
        return left

    def weights(self):
        return [("open", 10), ("close", 5), ("read", 10), ("write", 10), ("fstat", 8),
                ("fchmod", 2), ("fchown", 1.5), ("ftruncate", 2), ("lseek", 0.5), ("poll", 4),
                ("stat", 4), ("unlink", 3), ("outside_unlink", 1.5), ("outside_reuse", 2.5),
                ("outside_send", 4), ("outside_recv", 3), ("listed", 2), ("reopen", 3)]

    def message(self, rng, msgsize=MQ_MSGSIZE):
        return rand_data(rng, [0, 1, 1, 5, 30, msgsize - 1, msgsize, msgsize + 1, 200])

    def gen_read(self, rng):
        return ("read", self.slot(rng), rng.choice([1, 3, 30, MQ_MSGSIZE - 1, MQ_MSGSIZE, 8192]))

    def gen_write(self, rng):
        return ("write", self.slot(rng), self.message(rng))

    def gen_ftruncate(self, rng):
        return ("ftruncate", self.slot(rng), rng.choice([0, 0, 5]))

    def gen_lseek(self, rng):
        return ("lseek", self.slot(rng), 0, os.SEEK_SET)

    def gen_outside_send(self, rng):
        return ("outside_send", rand_data(rng, [1, 4, 40, MQ_MSGSIZE]))

    def gen_outside_reuse(self, rng):
        maxmsg, msgsize = rng.choice([(MQ_MAXMSG, MQ_MSGSIZE), (2, 64)])
        messages = tuple(rand_data(rng, [1, 10, msgsize]) for _ in range(rng.randrange(3)))
        return ("outside_reuse", rng.choice(MODES_CREATE), maxmsg, msgsize, messages)


# sem/ ----------------------------------------------------------------------------------

def sem_open(name, flags=0, mode=0, value=0):
    sem = LIBC.sem_open(mq_path(name), flags, mode, value)
    if not sem:  # SEM_FAILED is ((sem_t *) 0)
        fail_errno()
    return sem


def sem_value(sem):
    v = ctypes.c_int()
    if LIBC.sem_getvalue(sem, ctypes.byref(v)) < 0:
        fail_errno()
    return v.value


def sem_unlink(name):
    if LIBC.sem_unlink(mq_path(name)) < 0:
        fail_errno()


def sem_file(name):
    return os.path.join("/dev/shm", "sem." + name)


class SemOutside:
    """Another program's sem_* calls on the semaphore /NAME."""

    def __init__(self, name):
        self.name = name

    def _with(self, fn):
        try:
            sem = sem_open(self.name)
        except OSError as e:
            return ("err", errno_name(e.errno))
        try:
            return attempt(fn, sem)
        finally:
            LIBC.sem_close(sem)

    def outside_post(self):
        return self._with(lambda s: None if LIBC.sem_post(s) == 0 else fail_errno())

    def outside_wait(self):
        return self._with(lambda s: None if LIBC.sem_trywait(s) == 0 else fail_errno())

    def outside_unlink(self):
        return attempt(sem_unlink, self.name)

    def outside_reuse(self, mode, value):
        try:
            sem_unlink(self.name)
        except FileNotFoundError:
            pass
        LIBC.sem_close(sem_open(self.name, os.O_CREAT | os.O_EXCL, mode, value))
        os.chmod(sem_file(self.name), mode)
        return ("ok", None)


def parse_sem_command(data):
    """(is_wait, count) of a command, or None where the README says EINVAL.
    MAPPING: doc/sem.md table: "echo post > sem/s, echo +N, echo N | posts once,
    or N times (N from 1 to 65,536)", "echo wait > sem/s, echo -N | waits
    once, or N times", "anything else written, or N over 65,536 | EINVAL,
    nothing changes". The generator writes each command bare or with the
    one newline echo adds."""
    text = data[:-1] if data.endswith(b"\n") else data
    if text == b"post":
        return False, 1
    if text == b"wait":
        return True, 1
    is_wait = text[:1] == b"-"
    digits = text[1:] if text[:1] in (b"+", b"-") else text
    if not digits or not digits.isdigit():
        return None
    count = int(digits)
    return (is_wait, count) if 1 <= count <= 65536 else None


class SemDirect(World):
    """The semaphore /NAME through sem_open, sem_post, sem_trywait,
    sem_getvalue; its file /dev/shm/sem.NAME (opened beside each sem_open,
    the same object) for fstat, fchmod and fchown."""

    def __init__(self, name):
        super().__init__(SemOutside(name))
        self.name = name

    def op_open(self, slot, flags, mode):
        # MAPPING: sem_open has no access mode; the kernel checks a file's
        # (EBADF below). O_TRUNC: the README's own example, "echo post >
        # sem/s", opens with O_TRUNC, which changes nothing (the daemon's
        # sem_truncate: "a semaphore has nothing to cut").
        try:
            sem = sem_open(self.name, flags & (os.O_CREAT | os.O_EXCL), mode, 0)
        except OSError as e:
            return ("err", errno_name(e.errno))
        try:
            fd = os.open(sem_file(self.name), os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            LIBC.sem_close(sem)
            raise
        self.slots[slot] = Slot(fd, flags, sem=sem, mapped=False, pos=0, text=None,
                                ino=os.fstat(fd).st_ino)
        return ("ok", None)

    def op_close(self, slot):
        s = self.slots.pop(slot)
        if s.mapped:
            LIBC.munmap(s.sem, SEM_T_SIZE)
        else:
            LIBC.sem_close(s.sem)
        os.close(s.fd)
        return ("ok", None)

    def op_reopen(self, slot, new, flags):
        # sem_open opens by name only; what it does with the file, mapping
        # its sem_t MAP_SHARED, is done here with the file the open
        # descriptor's /proc/self/fd link opens: the same semaphore, named
        # or not.
        s = self.slots[slot]
        r = attempt(os.open, "/proc/self/fd/%d" % s.fd, os.O_RDWR)
        if r[0] != "ok":
            return r
        addr = LIBC.mmap(None, SEM_T_SIZE, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_SHARED,
                         r[1], 0)
        if addr in (None, MAP_FAILED):
            e = ctypes.get_errno()
            os.close(r[1])
            return ("err", errno_name(e))
        self.slots[new] = Slot(r[1], flags, sem=addr, mapped=True, pos=0, text=None, ino=s.ino)
        return ("ok", None)

    def _text(self, s, off):
        # MAPPING: doc/sem.md table, "cat sem/s | the value and a newline".
        # A semaphore file is a stream (doc/sem.md table, "lseek, pread,
        # pwrite | ESPIPE"): the first read of an open file takes the value
        # afresh, later reads continue that text and past its end read 0
        # bytes, as cat needs; writes move nothing.
        if off == 0 or s.text is None:
            s.text = b"%d\n" % sem_value(s.sem)
        return s.text[off:]

    def op_read(self, slot, n):
        s = self.slots[slot]
        if not s.readable:
            return ("err", "EBADF")
        out = self._text(s, s.pos)[:n]
        s.pos += len(out)
        return ("ok", out)

    def op_pread(self, slot, n, off):
        return ("err", "ESPIPE")

    def op_lseek(self, slot, off, whence):
        return ("err", "ESPIPE")

    def op_write(self, slot, data):
        s = self.slots[slot]
        if not s.writable:
            return ("err", "EBADF")
        if not data:
            return ("ok", 0)  # the kernel answers an empty write itself
        cmd = parse_sem_command(data)
        if cmd is None:
            return ("err", "EINVAL")
        is_wait, count = cmd
        if is_wait:
            # MAPPING: doc/sem.md table, "a wait with O_NONBLOCK that can't
            # be done at once | EAGAIN, takes nothing": -N takes N tokens or
            # none (sem_trywait N times only where the value allows).
            if sem_value(s.sem) < count:
                return ("err", "EAGAIN")
            for _ in range(count):
                if LIBC.sem_trywait(s.sem) < 0:
                    fail_errno()
        else:
            for _ in range(count):
                if LIBC.sem_post(s.sem) < 0:
                    fail_errno()
        return ("ok", len(data))

    def _size(self, sem, slot, ino, writable):
        # MAPPING: doc/sem.md table, "stat ... size: the value, or 1,048,576
        # through a file open for writing, as for queues" (and, as for
        # queues, a reader sharing an inode with a writer may see either).
        if writable:
            return WRITE_ROOM
        v = sem_value(sem)
        return OneOf((v, WRITE_ROOM)) if other_writer(self, slot, ino) else v

    def op_fstat(self, slot):
        s = self.slots[slot]
        st = os.fstat(s.fd)
        return ("ok", stat_of(st)._replace(size=self._size(s.sem, slot, st.st_ino, s.writable)))

    def op_stat(self):
        try:
            st = os.stat(sem_file(self.name))
            sem = sem_open(self.name)
        except OSError as e:
            return ("err", errno_name(e.errno))
        try:
            return ("ok", stat_of(st)._replace(size=self._size(sem, None, st.st_ino, False)))
        finally:
            LIBC.sem_close(sem)

    def op_fchmod(self, slot, mode):
        # MAPPING: doc/sem.md table, "chmod with set-id bits: EINVAL".
        if set_id_bits(mode):
            return ("err", "EINVAL")
        return attempt(os.fchmod, self.slots[slot].fd, mode)

    def op_fchown(self, slot, uid):
        return attempt(os.fchown, self.slots[slot].fd, uid, -1)

    def op_unlink(self):
        return attempt(sem_unlink, self.name)

    def op_listed(self):
        return ("ok", "sem." + self.name in os.listdir("/dev/shm"))


SEM_COMMANDS = [b"post", b"post\n", b"wait", b"wait\n", b"+1", b"+2\n", b"3", b"-1", b"-2\n",
                b"-3", b"1\n", b"0", b"+0", b"-0", b"65537", b"-65537", b"x", b"pos", b"",
                b"post post", b"wait wait\n", b"+-1", b"2x"]


class SemKind(Kind):
    label = "sem"
    reuse_fields = ("value",)
    # doc/sem.md: "a wait with O_NONBLOCK that can't be done at once |
    # EAGAIN": always O_NONBLOCK here.
    open_flags = (os.O_CREAT, os.O_EXCL, os.O_TRUNC)
    always_flags = os.O_NONBLOCK

    def worlds(self):
        n = self.fresh()
        a, b = self.m.name("dfa%d" % n), self.m.name("dfb%d" % n)
        mount = FileWorld(os.path.join(self.m.path, "sem", a), SemOutside(a))
        direct = SemDirect(b)
        return mount, direct, lambda: remove_files(sem_file(a), sem_file(b))

    def weights(self):
        return [("open", 10), ("close", 5), ("write", 12), ("pread", 8), ("read", 5),
                ("lseek", 2), ("fstat", 8), ("fchmod", 2), ("fchown", 1.5), ("stat", 4),
                ("unlink", 3), ("outside_unlink", 1.5), ("outside_reuse", 2.5),
                ("outside_post", 4), ("outside_wait", 3), ("listed", 2), ("reopen", 3)]

    def gen_write(self, rng):
        return ("write", self.slot(rng), rng.choice(SEM_COMMANDS))

    def gen_pread(self, rng):
        return ("pread", self.slot(rng), rng.choice([64, 64, 1]), rng.choice([0, 0, 0, 1]))

    def gen_read(self, rng):
        return ("read", self.slot(rng), rng.choice([1, 2, 64]))

    def gen_lseek(self, rng):
        return ("lseek", self.slot(rng), rng.choice([0, 0, 1]),
                rng.choice([os.SEEK_SET, os.SEEK_CUR]))

    def gen_outside_reuse(self, rng):
        return ("outside_reuse", rng.choice(MODES_CREATE), rng.choice([0, 1, 2, 5]))


# sysv/shm/ -----------------------------------------------------------------------------

def map_files_fd(addr, flags):
    prefix = "%x-" % addr
    for entry in os.listdir("/proc/self/map_files"):
        if entry.startswith(prefix):
            return os.open(os.path.join("/proc/self/map_files", entry), flags)
    raise OSError(errno.ENOENT, "no map_files entry at %x" % addr)


def shm_find(key):
    return SysV.shmget(key, 0, 0)


class SysvOutside:
    """Another program's shmget/shmat/shmctl on the segment of KEY."""

    def __init__(self, key):
        self.key = key

    def outside_write(self, off, data):
        try:
            ident = shm_find(self.key)
            size = shm_stat_id(ident).segsz
            addr = SysV.shmat(ident)
        except OSError as e:
            return ("err", errno_name(e.errno))
        try:
            part = data[:max(0, size - off)]
            ctypes.memmove(addr + off, part, len(part))
            return ("ok", len(part))
        finally:
            SysV.shmdt(addr)

    def outside_unlink(self):
        try:
            SysV.shmrm(shm_find(self.key))
            return ("ok", None)
        except OSError as e:
            return ("err", errno_name(e.errno))

    def outside_reuse(self, mode, size, data):
        try:
            SysV.shmrm(shm_find(self.key))
        except FileNotFoundError:
            pass
        ident = SysV.shmget(self.key, size, SysV.IPC_CREAT | SysV.IPC_EXCL | mode)
        addr = SysV.shmat(ident)
        ctypes.memmove(addr, data, len(data))
        SysV.shmdt(addr)
        return ("ok", None)


class SysvDirect(World):
    """The segment of KEY as a process that has it attached sees it: each
    open descriptor is one attachment (shmat, detached at close) and the
    attachment's /proc/self/map_files entry, the segment's own file, opened
    with the descriptor's access mode, for its bytes; shmctl IPC_STAT and
    IPC_SET on the id for its attributes."""

    def __init__(self, key, passthrough):
        super().__init__(SysvOutside(key))
        self.key = key
        self.passthrough = passthrough

    def op_open(self, slot, flags, mode):
        try:
            ident = shm_find(self.key)
        except FileNotFoundError:
            ident = None
        if ident is not None and flags & os.O_CREAT and flags & os.O_EXCL:
            return ("err", "EEXIST")
        if ident is None:
            if not flags & os.O_CREAT:
                return ("err", "ENOENT")
            # MAPPING: doc/sysv.md, "touch ..., open(O_CREAT) | ...
            # shmget(key, IPC_CREAT | IPC_EXCL | mode) with the caller's mode
            # (after its umask)", of the size "-o sysv_shm_size=N" says.
            ident = SysV.shmget(self.key, SYSV_SIZE, SysV.IPC_CREAT | SysV.IPC_EXCL |
                                (mode & ~UMASK & 0o777))
        addr = SysV.shmat(ident)
        try:
            # MAPPING: doc/sysv.md, "O_TRUNC (the shell's >), truncate -s 0 |
            # accepted, does nothing": not given to the segment's file.
            fd = map_files_fd(addr, flags & (os.O_ACCMODE | os.O_NONBLOCK))
        except OSError:
            SysV.shmdt(addr)
            raise
        self.slots[slot] = Slot(fd, flags, ident=ident, addr=addr,
                                size=shm_stat_id(ident).segsz)
        return ("ok", None)

    def op_close(self, slot):
        s = self.slots.pop(slot)
        os.close(s.fd)
        SysV.shmdt(s.addr)
        return ("ok", None)

    def _write_span(self, s, off, n):
        return 0 if off >= s.size else min(n, s.size - off)

    def prepare(self, op):
        # MAPPING: doc/sysv.mdshm/, "Known limit: with passthrough, a write at or
        # past the segment's end goes straight to the segment's file and
        # lengthens it; the daemon cuts the file back ... Stay inside the
        # segment.": with passthrough, such writes are not made in either
        # world.
        if not self.passthrough or op[0] not in ("write", "pwrite") or op[1] not in self.slots:
            return None
        s = self.slots[op[1]]
        if not s.writable or not op[2]:
            return None
        off = os.lseek(s.fd, 0, os.SEEK_CUR) if op[0] == "write" else op[3]
        if off + len(op[2]) > s.size:
            return "with passthrough a write past a segment's end lengthens its file: known limit"
        return None

    def op_write(self, slot, data):
        s = self.slots[slot]
        if not s.writable or not data:
            return attempt(os.write, s.fd, data)
        off = os.lseek(s.fd, 0, os.SEEK_CUR)
        # MAPPING: doc/sysv.mdshm/ table, "a write at or past the segment's
        # end | ENOSPC without passthrough", and the daemon cuts a write
        # that crosses the end at it ("a segment does not grow"): the
        # segment's own file would grow.
        n = self._write_span(s, off, len(data))
        if n == 0:
            return ("err", "ENOSPC")
        return attempt(os.write, s.fd, data[:n])

    def op_pwrite(self, slot, data, off):
        s = self.slots[slot]
        if not s.writable or not data:
            return attempt(os.pwrite, s.fd, data, off)
        n = self._write_span(s, off, len(data))  # MAPPING: as for write
        if n == 0:
            return ("err", "ENOSPC")
        return attempt(os.pwrite, s.fd, data[:n], off)

    def op_read(self, slot, n):
        return attempt(os.read, self.slots[slot].fd, n)

    def op_pread(self, slot, n, off):
        return attempt(os.pread, self.slots[slot].fd, n, off)

    def op_lseek(self, slot, off, whence):
        return attempt(os.lseek, self.slots[slot].fd, off, whence)

    def op_ftruncate(self, slot, size):
        # MAPPING: doc/sysv.mdshm/ table, "truncate to 0 or to the segment's
        # size | accepted, nothing changes; to another size EINVAL" (and the
        # kernel's EINVAL for a descriptor not open for writing).
        s = self.slots[slot]
        if not s.writable or size not in (0, s.size):
            return ("err", "EINVAL")
        return ("ok", None)

    def _stat(self, ident):
        ds = shm_stat_id(ident)
        # MAPPING: doc/sysv.md, "stat | owner, group and mode from the
        # object's ipc_perm", sysv/shm/ "stat | size: the segment's size".
        # A segment removed (IPC_RMID) while attached has lost its name
        # (its key: "listed as id.N, its key gone"): st_nlink 0, as for a
        # removed file.
        return Stat(stat.S_IFREG, ds.perm.mode & 0o777, ds.segsz,
                    0 if ds.perm.mode & SHM_DEST else 1, ds.perm.uid)

    def op_fstat(self, slot):
        return attempt(self._stat, self.slots[slot].ident)

    def op_stat(self):
        try:
            return attempt(self._stat, shm_find(self.key))
        except OSError as e:
            return ("err", errno_name(e.errno))

    def op_fchmod(self, slot, mode):
        # MAPPING: doc/sysv.md, "chmod, chown, chgrp | IPC_SET ...; set-id
        # or sticky bits: EINVAL".
        if mode & 0o7000:
            return ("err", "EINVAL")
        return attempt(shm_set_id, self.slots[slot].ident, None, mode)

    def op_fchown(self, slot, uid):
        return attempt(shm_set_id, self.slots[slot].ident, uid, None)

    def op_unlink(self):
        try:
            SysV.shmrm(shm_find(self.key))
            return ("ok", None)
        except OSError as e:
            return ("err", errno_name(e.errno))

    def op_mmap(self, slot, other, length, off, data):
        other_fd = self.slots[other].fd if other in self.slots and other != slot else None
        return mmap_in_child(self.slots[slot].fd, other_fd, length, off, data)

    def op_listed(self):
        with open("/proc/sysvipc/shm") as f:
            rows = f.read().splitlines()[1:]
        return ("ok", any(int(r.split()[0]) & 0xffffffff == self.key for r in rows))

    def op_reopen(self, slot, new, flags):
        # As another attachment of the same segment (its id), which Linux
        # allows after IPC_RMID too; O_TRUNC does nothing, as at open.
        s = self.slots[slot]
        r = attempt(SysV.shmat, s.ident)
        if r[0] != "ok":
            return r
        try:
            fd = map_files_fd(r[1], flags & (os.O_ACCMODE | os.O_NONBLOCK))
        except OSError as e:
            SysV.shmdt(r[1])
            return ("err", errno_name(e.errno))
        self.slots[new] = Slot(fd, flags, ident=s.ident, addr=r[1], size=s.size)
        return ("ok", None)


def remove_segments(*keys):
    for key in keys:
        while True:
            try:
                SysV.shmrm(shm_find(key))
            except OSError:
                break


class SysvKind(Kind):
    label = "sysv/shm"
    reuse_fields = ("size", "content")
    open_flags = (os.O_CREAT, os.O_EXCL, os.O_TRUNC, os.O_NONBLOCK)
    always_flags = 0

    def __init__(self, m, passthrough):
        super().__init__(m)
        self.passthrough = passthrough
        self.mmap_ok = passthrough

    def worlds(self):
        n = self.fresh()
        ka, kb = self.m.key((2 * n) % 256), self.m.key((2 * n + 1) % 256)
        remove_segments(ka, kb)
        mount = FileWorld(os.path.join(self.m.path, "sysv", "shm", "0x%08x" % ka),
                          SysvOutside(ka))
        direct = SysvDirect(kb, self.passthrough)
        return mount, direct, lambda: remove_segments(ka, kb)

    def weights(self):
        w = [("open", 10), ("close", 5), ("read", 6), ("write", 7), ("pread", 6),
             ("pwrite", 7), ("lseek", 3), ("ftruncate", 3), ("fstat", 8), ("fchmod", 3),
             ("fchown", 2), ("stat", 4), ("unlink", 3), ("outside_unlink", 1.5),
             ("outside_reuse", 2.5), ("outside_write", 3), ("reopen", 3), ("listed", 2)]
        if self.mmap_ok:
            w.append(("mmap", 4))
        return w

    def offset(self, rng):
        return rng.choice([0, 0, 1, PAGE, SYSV_SIZE - 10, SYSV_SIZE,
                           rng.randrange(SYSV_SIZE + 100)])

    def leftovers(self):
        base = self.m.key(0)
        with open("/proc/sysvipc/shm") as f:
            rows = f.read().splitlines()[1:]
        return ["0x%08x" % (int(r.split()[0]) & 0xffffffff) for r in rows
                if int(r.split()[0]) & 0xffffff00 == base]

    def gen_read(self, rng):
        return ("read", self.slot(rng), rng.choice([1, 7, 100, PAGE, 3 * PAGE]))

    def gen_write(self, rng):
        return ("write", self.slot(rng), rand_data(rng, [0, 1, 5, 64, 300, PAGE + 1]))

    def gen_pread(self, rng):
        return ("pread", self.slot(rng), rng.choice([1, 16, 200, 2 * PAGE]), self.offset(rng))

    def gen_pwrite(self, rng):
        return ("pwrite", self.slot(rng), rand_data(rng, [1, 8, 100, 600]), self.offset(rng))

    def gen_lseek(self, rng):
        whence = rng.choice([os.SEEK_SET, os.SEEK_CUR, os.SEEK_END])
        off = rng.choice([0, 0, 10, PAGE, SYSV_SIZE - 20, -1, -5])
        if whence == os.SEEK_SET:
            off = abs(off)
        return ("lseek", self.slot(rng), off, whence)

    def gen_ftruncate(self, rng):
        return ("ftruncate", self.slot(rng), rng.choice([0, 0, SYSV_SIZE, 5000, SYSV_SIZE + 1]))

    def gen_fchmod(self, rng):
        return ("fchmod", self.slot(rng), rng.choice(MODES_CHMOD))

    def gen_outside_reuse(self, rng):
        return ("outside_reuse", rng.choice(MODES_CREATE), rng.choice([SYSV_SIZE, SYSV_SIZE, 5000]),
                rand_data(rng, [0, 3, 100]))

    def gen_outside_write(self, rng):
        return ("outside_write", self.offset(rng), rand_data(rng, [1, 4, 50]))

    def gen_mmap(self, rng):
        slot = self.slot(rng)
        other = rng.choice([s for s in range(SLOTS) if s != slot])
        length = rng.choice([PAGE, 2 * PAGE, 3 * PAGE])
        data = rand_data(rng, [1, 8, 40])
        return ("mmap", slot, other, length, rng.randrange(length - len(data) + 1), data)


# Running, comparing, shrinking ---------------------------------------------------------

def replay(kind, ops):
    """Applies ops to fresh objects in both worlds. Returns the trace
    [(op, mount outcome, direct outcome)] and the differences [(step,
    signature)]; it stops after the first difference of an operation that
    changes state."""
    mount, direct, cleanup = kind.worlds()
    trace, diffs = [], []
    try:
        for i, op in enumerate(ops):
            why = direct.prepare(op)
            if why:
                got = want = ("skip", why)
            else:
                got = mount.apply(op)
                want = direct.apply(op)
            trace.append((op, got, want))
            if not matches(got, want):
                diffs.append((i, signature(op, got, want)))
                if op[0] not in OBSERVATIONS:
                    break
    finally:
        mount.close_all()
        direct.close_all()
        cleanup()
    return trace, diffs


def shrink(kind, ops, sig, deadline):
    """The shortest sequence found that still shows the difference sig, by
    delta debugging (ddmin over complements: drop halves, then quarters ...
    then single operations, keeping any drop after which it still shows),
    each try replayed against fresh objects; None if ops no longer shows it
    at all (then it was not deterministic)."""
    deadline = min(deadline, time.monotonic() + SHRINK_SECONDS)
    replays = [0]

    def fails(cand):
        replays[0] += 1
        _, diffs = replay(kind, cand)
        for i, s in diffs:
            if s == sig:
                return i
        return None

    def out_of_budget():
        return replays[0] >= SHRINK_REPLAYS or time.monotonic() >= deadline

    first = fails(ops)
    if first is None:
        return None, replays[0]
    ops = ops[:first + 1]
    n = 2
    while len(ops) >= 2 and not out_of_budget():
        chunk = -(-len(ops) // n)
        for start in range(0, len(ops), chunk):
            cand = ops[:start] + ops[start + chunk:]
            i = fails(cand)
            if i is not None:
                ops = cand[:i + 1]
                n = max(n - 1, 2)
                break
            if out_of_budget():
                break
        else:
            if n >= len(ops):
                break
            n = min(len(ops), 2 * n)
    return ops, replays[0]


def note(text=""):
    for line in text.splitlines() or [""]:
        print("# " + line, flush=True)


def report(kind, cases, deadline):
    """Shrinks each (seed, ops, sig) of one class of difference and prints
    the shortest sequence found, step by step."""
    best = None
    for seed, ops, sig in cases:
        note("%s: seed %d: difference within %d random operations: %s" % (
            kind.label, seed, len(ops), sig))
        if time.monotonic() >= deadline:
            continue
        shortest, replays = shrink(kind, ops, sig, deadline)
        if shortest is None:
            note("  (it did not show again on a fresh replay: not reproducible)")
        elif best is None or len(shortest) < len(best[1]):
            best = (seed, shortest, sig, replays)
    if best is None:
        return None
    seed, shortest, sig, replays = best
    trace, diffs = replay(kind, shortest)
    where = [i for i, s in diffs if s == sig]
    if not where:
        note("  (the shrunk sequence of seed %d did not show it again on a last replay)" % seed)
        return None
    note("  shortest sequence found (seed %d shrunk to %d operations in %d replays); NAME is each "
         "world's own %s:" % (seed, len(shortest), replays,
                              "key" if kind.label == "sysv/shm" else "name"))
    for i, (op, got, want) in enumerate(trace):
        mark = "  <-- differs" if i in where else ""
        note("   %2d. %s" % (i + 1, op_text(op, kind)))
        note("         mount: %s | direct: %s%s" % (show(got), show(want), mark))
    return sig


def difference_class(sig):
    """Differences of one operation where the mount gave the same answer
    ("fchmod: ENOENT vs ok", "fchmod: ENOENT vs EINVAL") are one finding:
    one of them is shrunk and printed."""
    op, _, rest = sig.partition(": ")
    if " vs " not in rest or op in ("fstat", "stat"):
        return sig
    return op + ": " + rest.split(" vs ")[0]


def run_kind(kind, seeds=None):
    """Every seed's sequence on fresh objects; one difference of each class
    shrunk and printed. Raises AssertionError if any difference was found,
    or if the replays left anything behind."""
    seeds = seeds or SEEDS
    start = time.monotonic()
    found = collections.OrderedDict()  # signature -> [(seed, ops)], its first seeds
    ran = 0
    m = kind.m
    my_fds = fd_count("self")
    daemon_fds = None
    for seed in seeds:
        ops = kind.generate(random.Random(seed), LENGTH)
        trace, diffs = replay(kind, ops)
        ran += len(trace)
        for _, sig in diffs:
            cases = found.setdefault(sig, [])
            if len(cases) < SHRINK_TRIES and seed not in (c[0] for c in cases):
                cases.append((seed, ops))
        if daemon_fds is None:  # after a first sequence: what the daemon keeps
            daemon_fds = settled_fd_count(m.proc.pid)
    assert m.alive(), "the daemon died"
    note("%s: %d seeds (%s), %d operations made, %.1f s; %d distinct difference(s)" % (
        kind.label, len(seeds), seed_list(seeds), ran, time.monotonic() - start, len(found)))
    classes = collections.OrderedDict()  # class -> [(seed, ops, signature)]
    for sig, cases in found.items():
        classes.setdefault(difference_class(sig), []).extend(
            (seed, ops, sig) for seed, ops in cases)
    deadline = time.monotonic() + SHRINK_CASE_SECONDS
    for n, cases in enumerate(classes.values()):
        cases.sort(key=lambda c: c[0])
        shown = None
        if n >= MAX_SHRUNK or time.monotonic() >= deadline:
            note("%s: seed %d: %s (not shrunk: over this case's budget)" % (
                kind.label, cases[0][0], cases[0][2]))
        else:
            shown = report(kind, cases[:SHRINK_TRIES], deadline)
        for sig in sorted({sig for _, _, sig in cases} - {shown or cases[0][2]}):
            note("%s:   the same with: %s (seed %d)" % (kind.label, sig, found[sig][0][0]))
    note("%s: %.1f s in all" % (kind.label, time.monotonic() - start))
    assert m.alive(), "the daemon died"
    # Every replay closes what it opened and removes what it made, and the
    # daemon keeps nothing once the files are closed.
    assert fd_count("self") == my_fds, "the test leaked descriptors"
    left = kind.leftovers()
    assert not left, "replays left objects behind: %s" % left
    after = settled_fd_count(m.proc.pid, daemon_fds)
    assert after <= daemon_fds, "the daemon holds %d descriptors, %d after the first sequence" % (
        after, daemon_fds)
    assert not found, "%s: %d difference(s) between the mount and the objects: %s" % (
        kind.label, len(found), "; ".join(found))


def fd_count(pid):
    return len(os.listdir("/proc/%s/fd" % pid))


def settled_fd_count(pid, at_most=None, seconds=5):
    """The daemon's descriptors once the releases of the files closed are
    in (the kernel sends a release after close returns): at most at_most,
    waiting up to seconds for it; without at_most, once two counts 0.1 s
    apart agree."""
    deadline = time.monotonic() + seconds
    n = fd_count(pid)
    while time.monotonic() < deadline:
        if at_most is not None and n <= at_most:
            break
        time.sleep(0.1)
        last, n = n, fd_count(pid)
        if at_most is None and n == last:
            break
    return n


def seed_list(seeds):
    """1-120, 9999: runs of consecutive seeds shortened."""
    out, i = [], 0
    while i < len(seeds):
        j = i
        while j + 1 < len(seeds) and seeds[j + 1] == seeds[j] + 1:
            j += 1
        out.append(str(seeds[i]) if i == j else "%d-%d" % (seeds[i], seeds[j]))
        i = j + 1
    return ", ".join(out)


MOUNT_SECONDS = 900 if FULL else 120


def passthrough(m):
    """Whether the mount's shm/ and sysv/shm/ files are passthrough ones,
    as its status file says once the daemon has probed (README status)."""
    deadline = time.monotonic() + 5
    while True:
        with open(os.path.join(m.path, "status")) as f:
            line = [x for x in f.read().splitlines() if x.startswith("passthrough:")][0]
        if not line.startswith("passthrough: probing") or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    return line.startswith("passthrough: on")


def test_shm():
    with watched_mount("allow_other", seconds=MOUNT_SECONDS) as m:
        on = passthrough(m)
        if not on:
            note("no passthrough here: shm/ runs as in the fallback")
        run_kind(ShmKind(m, passthrough=on))


def test_shm_no_passthrough():
    # MAPPING: doc/shm.md, "Fallback ... mmap(MAP_SHARED) is refused with
    # ENODEV rather than give a mapping of a page-cache copy": no mmap
    # operations in this case (ShmKind.mmap_ok).
    with watched_mount("allow_other,no_passthrough", seconds=MOUNT_SECONDS) as m:
        assert not passthrough(m)
        run_kind(ShmKind(m, passthrough=False))


def test_mq():
    with watched_mount("allow_other,mq_maxmsg=%d,mq_msgsize=%d" % (MQ_MAXMSG, MQ_MSGSIZE),
                       seconds=MOUNT_SECONDS) as m:
        run_kind(MqKind(m))


def test_sem():
    with watched_mount("allow_other", seconds=MOUNT_SECONDS) as m:
        run_kind(SemKind(m))


def test_sysv_shm():
    with watched_mount("allow_other,sysv_shm_size=%d" % SYSV_SIZE, seconds=MOUNT_SECONDS) as m:
        on = passthrough(m)
        if not on:
            note("no passthrough here: sysv/shm/ runs as in the fallback")
        run_kind(SysvKind(m, passthrough=on))


def test_sysv_shm_no_passthrough():
    # MAPPING: doc/sysv.mdshm/, "mmap(MAP_SHARED) | ... without: ENODEV":
    # no mmap operations; writes at or past the end are ENOSPC here.
    with watched_mount("allow_other,no_passthrough,sysv_shm_size=%d" % SYSV_SIZE,
                       seconds=MOUNT_SECONDS) as m:
        assert not passthrough(m)
        run_kind(SysvKind(m, passthrough=False))


if __name__ == "__main__":
    if FULL:
        note("random seed this run: %d" % SEEDS[-1 - bool(EXTRA_SEED)])
    run(globals())
