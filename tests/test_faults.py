"""Faults: clients killed with SIGKILL at random moments, and the daemon
itself killed.

Clients: processes blocked in a read of an empty queue (mq/, sysv/msg/),
in a write to a full one, or in a semaphore wait, are killed while the
test sends, receives or posts directly at random moments; each pool of
clients is topped up as they die. Each client logs, after each call that
returned, what it read, wrote or took, to a file opened O_APPEND. At the
end everything left is drained directly and counted:

- nothing is ever duplicated;
- what a killed client loses is only the README's known limit ("a reader
  killed at the very moment a message arrives for it can lose that
  message"): a kill lands right as the daemon answers the call, which the
  client can't log before it dies. The case fails if more than
  LOSS_SHARE of the kills lose one (a daemon that lost, or sent, on
  every kill would lose on each); a killed writer may have sent only
  its next message; the count is printed;
- the daemon is alive, and answers: no parked request is left, another
  queue works.

A long message half read by a killed reader: its rest is dropped with
the file (the README's table "What each kind of file is ...": `_exit`
drops the unread rest of a message), and the queue holds exactly the
messages it had not begun.

The daemon killed with SIGKILL: callers that waited in it get an error
at once, not a hang, and what needs the daemon (a listing, an object's
stat) fails with ENOTCONN; `umount` then a new ipcfs on the same point
(README "If the daemon dies") serve every queue, semaphore and segment
as it was. A stat of the mount point itself must fail too, within 5 s,
rather than be answered from the kernel's attribute cache.

IPCFS_TEST_SIZE=full (CI) kills for longer (RUN_SECONDS)."""
import errno
import os
import platform
import random
import re
import signal
import subprocess
import sys
import tempfile
import time

from ipcfs_test import SysV, create_queue, errno_name, run, start_daemon, wait_until, watched_mount

FULL = os.environ.get("IPCFS_TEST_SIZE") == "full"
RUN_SECONDS = 12.0 if FULL else 2.5   # of random kills per case
KILL_GAP = 0.03       # a kill comes within this many seconds of the last
ACTION_GAP = 0.015    # a direct send, receive or post within this of the last
READERS = WRITERS = WAITERS = 4
WAIT_LIMIT = 10.0     # seconds for what must happen (a killed client's exit ...)
LOSS_SHARE = 0.15     # the largest share of kills that may lose a call (seen: 0 to 8%)
MOUNT_LIMIT = 120     # seconds before the watchdog kills a daemon that hangs
SEED = int(os.environ.get("IPCFS_TEST_SEED", random.randrange(1 << 30)))

SYSCALLS = {"x86_64": {"read": 0, "write": 1},
            "aarch64": {"read": 63, "write": 64}}[platform.machine()]

# Clients. argv: path, log file, client number. Each logs a line after
# each call that returned.
READER = r"""
import os, sys
path, log = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDONLY)
out = os.open(log, os.O_WRONLY | os.O_APPEND)
while True:
    m = os.read(fd, 128)
    os.write(out, m + b"\n")
"""

WRITER = r"""
import os, sys
path, log, who = sys.argv[1], sys.argv[2], int(sys.argv[3])
fd = os.open(path, os.O_WRONLY)
out = os.open(log, os.O_WRONLY | os.O_APPEND)
n = 0
while True:
    os.write(fd, b"%d:%d" % (who, n))
    os.write(out, b"%d:%d\n" % (who, n))
    n += 1
"""

# Odd clients take two tokens in one write ("-2"), which may take one,
# wait for the next, and be killed holding one.
WAITER = r"""
import os, sys
path, log, who = sys.argv[1], sys.argv[2], int(sys.argv[3])
take = 2 if who % 2 else 1
command = b"-2" if take == 2 else b"wait"
fd = os.open(path, os.O_WRONLY)
out = os.open(log, os.O_WRONLY | os.O_APPEND)
while True:
    os.write(fd, command)
    os.write(out, b"%d:%d\n" % (who, take))
"""

# Reads a queue 10 bytes at a time, logging each piece, with pauses.
PIECEWISE = r"""
import os, random, sys, time
path, log = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDONLY)
out = os.open(log, os.O_WRONLY | os.O_APPEND)
while True:
    os.write(out, os.read(fd, 10) + b"\n")
    time.sleep(random.uniform(0.005, 0.015))
"""

# Blocks in one read (or semaphore write if argv[2] is given) and prints
# the errno's name it fails with.
BLOCKED = r"""
import errno, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
print("ready", flush=True)
try:
    if len(sys.argv) > 2:
        os.write(fd, sys.argv[2].encode())
    else:
        os.read(fd, 8192)
    print("returned")
except OSError as e:
    print(errno.errorcode[e.errno])
"""


def comment(text):
    print("# " + text, flush=True)



def blocked_in(pid, call):
    """Whether the process sleeps in read or write waiting for the daemon."""
    try:
        with open("/proc/%d/syscall" % pid) as f:
            number = f.read().split()[0]
        with open("/proc/%d/wchan" % pid) as f:
            where = f.read().strip()
    except (OSError, IndexError):
        return False
    return number == str(SYSCALLS[call]) and where == "request_wait_answer"


def parked_requests(m):
    with open(os.path.join(m.path, "status")) as f:
        return int(re.search(r"^parked requests: (\d+)$", f.read(), re.M).group(1))


def check_daemon_serves(m, path, read_path=None):
    """The daemon lives, has no request parked, and moves a message
    through the queue file path (read back from read_path), or a token
    through the semaphore file path."""
    assert m.alive(), "the daemon died"
    wait_until(lambda: parked_requests(m) == 0, "no parked request left")
    is_sem = os.path.dirname(path) == os.path.join(m.path, "sem")
    sent = [b"post", b"wait"] if is_sem else [b"still serving"]
    fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    try:
        for command in sent:
            assert os.write(fd, command) == len(command)
    finally:
        os.close(fd)
    if not is_sem:
        fd = os.open(read_path or path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            assert os.read(fd, 8192) == b"still serving"
        finally:
            os.close(fd)


class Pool:
    """Clients running CODE (path, log, number), each killed by pid when
    the test is done with it (or fails), topped up to `size` as they die."""

    def __init__(self, m, rng, code, path, size, call):
        self.m, self.rng, self.code, self.path, self.call = m, rng, code, path, call
        self.dir = tempfile.TemporaryDirectory(prefix="ipcfs-faults.")
        self.log = os.path.join(self.dir.name, "log")
        open(self.log, "wb").close()
        self.live = {}     # number -> Popen
        self.killed = []   # numbers of the clients killed
        self.next = 0
        for _ in range(size):
            self.start_one()

    def __enter__(self):
        return self

    def start_one(self):
        p = subprocess.Popen([sys.executable, "-c", self.code, self.path, self.log,
                              str(self.next)])
        self.live[self.next] = p
        self.next += 1

    def kill(self, number):
        p = self.live.pop(number)
        os.kill(p.pid, signal.SIGKILL)
        try:
            p.wait(WAIT_LIMIT)
        except subprocess.TimeoutExpired:
            self.live[number] = p  # for __exit__
            raise AssertionError("client %d, killed while blocked in %s, still waits "
                                 "for the daemon's answer after %g s" % (
                                     number, self.call, WAIT_LIMIT)) from None
        assert p.returncode == -signal.SIGKILL, "client %d exited %d before its kill" % (
            number, p.returncode)
        self.killed.append(number)

    def kill_one_blocked(self):
        """Kills a client that waits in its read or write, if one does, and
        starts another. True if one was killed."""
        blocked = [n for n, p in self.live.items() if blocked_in(p.pid, self.call)]
        if not blocked:
            return False
        self.kill(self.rng.choice(blocked))
        self.start_one()
        return True

    def kill_all(self):
        for number in sorted(self.live):
            self.kill(number)

    def lines(self):
        with open(self.log, "rb") as f:
            return f.read().splitlines()

    def __exit__(self, *exc):
        for p in self.live.values():
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
        for p in self.live.values():
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                self.m.proc.kill()  # only the connection's end frees it
                p.wait()
        self.dir.cleanup()
        return False


def kill_at_random(pool, rng, act):
    """For RUN_SECONDS: act() every 0 to ACTION_GAP s, and a kill of a
    blocked client every 0 to KILL_GAP s, on two schedules of their own,
    so that kills fall at random moments of what act() set going.
    Returns the number of kills."""
    now = time.monotonic()
    end = now + RUN_SECONDS
    next_act = now + rng.uniform(0, ACTION_GAP)
    next_kill = now + rng.uniform(0, KILL_GAP)
    kills = 0
    while now < end:
        time.sleep(max(0.0, min(next_act, next_kill) - now))
        now = time.monotonic()
        if now >= next_act:
            act()
            next_act = time.monotonic() + rng.uniform(0, ACTION_GAP)
        elif now >= next_kill:
            kills += pool.kill_one_blocked()
            next_kill = time.monotonic() + rng.uniform(0, KILL_GAP)
        now = time.monotonic()
    return kills


def check_losses(kind, lost, kills, what):
    comment("%s: %d clients killed at random, %d %s" % (kind, kills, lost, what))
    limit = max(1, int(kills * LOSS_SHARE))
    assert lost <= limit, "%s: %d %s, more than %d for %d kills" % (
        kind, lost, what, limit, kills)


# Queues, sent to and received from directly --------------------------------

class PosixBackend:
    kind = "mq/"

    def __init__(self, m, suffix, maxmsg):
        self.q = create_queue(m.name(suffix), 0o600, maxmsg=maxmsg, msgsize=128)
        self.path = self.read_path = m.queue(suffix)

    def send(self, data):
        """True if sent, False if the queue is full."""
        try:
            self.q.send(data)
            return True
        except BlockingIOError:
            return False

    def receive(self):
        """A message, or None if there is none."""
        try:
            return self.q.receive()[0]
        except BlockingIOError:
            return None

    def count(self):
        return self.q.attr().curmsgs

    def close(self):
        self.q.close()


class SysvBackend:
    """A System V queue. With room, filler messages of type 2 leave that
    many bytes for the messages of type 1, which are the test's."""
    kind = "sysv/msg/"

    def __init__(self, m, n, room=None):
        self.id = SysV.msgget(m.key(n), SysV.IPC_CREAT | SysV.IPC_EXCL | 0o600)
        self.path = m.sysv("msg", n)
        self.read_path = self.path + "@1"
        self.fillers = 0
        if room is not None:
            qbytes = int(os.getxattr(self.path, "user.msg.qbytes"))
            with open("/proc/sys/kernel/msgmax") as f:
                msgmax = int(f.read())
            left = qbytes - room
            while left > 0:
                SysV.msgsnd(self.id, b"f" * min(left, msgmax), mtype=2, flags=SysV.IPC_NOWAIT)
                left -= min(left, msgmax)
                self.fillers += 1

    def send(self, data):
        try:
            SysV.msgsnd(self.id, data, mtype=1, flags=SysV.IPC_NOWAIT)
            return True
        except BlockingIOError:
            return False

    def receive(self):
        try:
            return SysV.msgrcv(self.id, 128, mtype=1, flags=SysV.IPC_NOWAIT)[1]
        except OSError as e:
            if e.errno == errno.ENOMSG:
                return None
            raise

    def count(self):
        return int(os.getxattr(self.path, "user.msg.qnum")) - self.fillers

    def close(self):
        pass


def drain(queue):
    got = []
    while True:
        message = queue.receive()
        if message is None:
            return got
        got.append(message)


def readers_killed(m, queue, rng):
    """Readers blocked on an empty queue killed while messages are sent."""
    sent = []
    with Pool(m, rng, READER, queue.read_path, READERS, "read") as pool:
        def send():
            data = b"%d" % len(sent)
            if queue.send(data):
                sent.append(data)
        kills = kill_at_random(pool, rng, send)
        wait_until(lambda: queue.count() == 0, "the readers took every message")
        pool.kill_all()  # each blocked on the empty queue
        kills += READERS
        logged = pool.lines()
    time.sleep(0.2)  # a read still parked would take this
    queue.send(b"left")
    time.sleep(0.2)
    left = drain(queue)
    assert left == [b"left"], "after every reader died, the queue held %r" % left
    received = logged
    duplicates = len(received) - len(set(received))
    assert duplicates == 0, "%s: %d messages received twice" % (queue.kind, duplicates)
    assert set(received) <= set(sent), "received what nobody sent"
    check_losses(queue.kind + " readers", len(sent) - len(received), kills,
                 "of %d messages lost to the documented race" % len(sent))
    assert len(sent) >= 50, "too few messages sent (%d) to mean anything" % len(sent)
    check_daemon_serves(m, queue.path, queue.read_path)


def writers_killed(m, queue, rng):
    """Writers blocked on a full queue killed while messages are taken.
    A killed writer sends nothing, unless its write was answered as it
    died: then its next message, after the last it logged, is there."""
    received = []
    with Pool(m, rng, WRITER, queue.path, WRITERS, "write") as pool:
        def receive():
            message = queue.receive()
            if message is not None:
                received.append(message)
        kills = kill_at_random(pool, rng, receive)
        pool.kill_all()
        kills += WRITERS
        logged = pool.lines()
        killed = pool.killed
    received += drain(queue)
    time.sleep(0.2)  # a write still parked for a dead writer would send now
    assert queue.count() == 0, "a killed writer's message came after the drain"

    duplicates = len(received) - len(set(received))
    assert duplicates == 0, "%s: %d messages received twice" % (queue.kind, duplicates)
    lost = set(logged) - set(received)
    assert not lost, "%s: %d messages whose write returned were lost: %r" % (
        queue.kind, len(lost), sorted(lost)[:5])
    last = {}
    for line in logged:
        who, n = (int(x) for x in line.split(b":"))
        last[who] = max(last.get(who, -1), n)
    order = {}
    for message in received:
        who, n = (int(x) for x in message.split(b":"))
        assert n > order.get(who, -1), "writer %d's messages out of order" % who
        order[who] = n
    unlogged = set(received) - set(logged)
    for message in unlogged:
        who, n = (int(x) for x in message.split(b":"))
        assert who in killed and n == last.get(who, -1) + 1, \
            "%s: %r was sent but its writer never wrote it" % (queue.kind, message)
    check_losses(queue.kind + " writers", len(unlogged), kills,
                 "writes answered as their writer died (sent, not logged), of %d sent"
                 % len(received))
    check_daemon_serves(m, queue.path, queue.read_path)


def seeded(case):
    def test():
        rng = random.Random(SEED)
        case(rng)
    test.__name__ = case.__name__
    return test


@seeded
def test_mq_readers_killed(rng):
    with watched_mount(seconds=MOUNT_LIMIT) as m:
        queue = PosixBackend(m, "readers", maxmsg=10)
        try:
            readers_killed(m, queue, rng)
        finally:
            queue.close()


@seeded
def test_mq_writers_killed(rng):
    with watched_mount(seconds=MOUNT_LIMIT) as m:
        queue = PosixBackend(m, "writers", maxmsg=4)
        try:
            writers_killed(m, queue, rng)
        finally:
            queue.close()


@seeded
def test_sysv_readers_killed(rng):
    with watched_mount(seconds=MOUNT_LIMIT) as m:
        readers_killed(m, SysvBackend(m, 1), rng)


@seeded
def test_sysv_writers_killed(rng):
    with watched_mount(seconds=MOUNT_LIMIT) as m:
        writers_killed(m, SysvBackend(m, 2, room=48), rng)


# Semaphores -----------------------------------------------------------------

LIBC = None


def direct_post(name):
    """sem_post of /NAME, without the mount."""
    import ctypes
    global LIBC
    if LIBC is None:
        LIBC = ctypes.CDLL(None, use_errno=True)
        LIBC.sem_open.restype = ctypes.c_void_p
        LIBC.sem_post.argtypes = LIBC.sem_close.argtypes = [ctypes.c_void_p]
    sem = LIBC.sem_open(("/" + name).encode(), 0)
    assert sem, "sem_open: %s" % errno_name(ctypes.get_errno())
    assert LIBC.sem_post(sem) == 0
    LIBC.sem_close(sem)


def sem_value(path):
    with open(path, "rb") as f:
        return int(f.read())


@seeded
def test_sem_waiters_killed(rng):
    """Waiters killed while tokens are posted, through the mount and
    directly: every token posted is taken by a wait that returned or is
    still there, but for waits answered as their waiter died."""
    with watched_mount(seconds=MOUNT_LIMIT) as m:
        name = m.name("tokens")
        path = os.path.join(m.path, "sem", name)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        posted = [0]
        poster = os.open(path, os.O_WRONLY)
        try:
            with Pool(m, rng, WAITER, path, WAITERS, "write") as pool:
                def post():
                    if rng.random() < 0.5:
                        os.write(poster, b"post")
                    else:
                        direct_post(name)
                    posted[0] += 1
                kills = kill_at_random(pool, rng, post)
                pool.kill_all()
                kills += WAITERS
                taken = sum(int(line.split(b":")[1]) for line in pool.lines())
        finally:
            os.close(poster)
        wait_until(lambda: parked_requests(m) == 0, "no parked wait left")
        # The daemon's thread posts back a token it holds once its last
        # waiter is gone: wait until the value holds still.
        value = sem_value(path)
        steady = time.monotonic()
        while time.monotonic() - steady < 0.3:
            time.sleep(0.05)
            now = sem_value(path)
            if now != value:
                value, steady = now, time.monotonic()
        lost = posted[0] - taken - value
        assert lost >= 0, "%d tokens more than were posted: value %d, posted %d, taken %d" % (
            -lost, value, posted[0], taken)
        check_losses("sem/ waiters", lost, kills,
                     "tokens taken by waits answered as their waiter died, of %d posted"
                     % posted[0])
        check_daemon_serves(m, path)
        os.unlink(path)


# A long message half read ---------------------------------------------------

def half_read(m, queue, rng):
    """MESSAGES messages of 100 bytes, read 10 bytes at a time by a reader
    killed at a random moment. Its unread rest is dropped with its file;
    the queue then holds exactly the messages it had not begun."""
    count = 6
    messages = [(b"%02d" % i) * 50 for i in range(count)]
    for message in messages:
        assert queue.send(message)
    with Pool(m, rng, PIECEWISE, queue.read_path, 1, "read") as pool:
        wait_until(lambda: len(pool.lines()) >= 1, "the first piece read")
        time.sleep(rng.uniform(0, 0.2))
        pool.kill_all()
        pieces = pool.lines()
    # Each piece is 10 bytes of one message, in order, none skipped
    # within a message.
    started = []
    for piece in pieces:
        assert len(piece) == 10 and piece == piece[:2] * 5, "a piece %r" % piece
        i = int(piece[:2])
        if not started or started[-1][0] != i:
            assert not started or i == started[-1][0] + 1, "message %d skipped" % (i - 1)
            started.append([i, 0])
        started[-1][1] += 1
    assert all(n == 10 for _, n in started[:-1])
    last, pieces_of_last = started[-1]
    left = drain(queue)
    # The reader may also have begun the next message and died before
    # logging its first piece; never did it put a rest back.
    expected = [messages[last + 1:]]
    if pieces_of_last == 10:
        expected.append(messages[last + 2:])
    assert left in expected, "%s: after a reader died at message %d piece %d, the queue " \
        "held %r" % (queue.kind, last, pieces_of_last, [x[:2] for x in left])
    comment("%s: reader killed after %d pieces of message %d; %d messages left whole" % (
        queue.kind, pieces_of_last, last, len(left)))
    # A new reader gets a whole message, not a rest.
    assert queue.send(messages[0])
    fd = os.open(queue.read_path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert os.read(fd, 200) == messages[0]
    finally:
        os.close(fd)
    check_daemon_serves(m, queue.path, queue.read_path)


@seeded
def test_mq_half_read_message_dropped(rng):
    with watched_mount(seconds=MOUNT_LIMIT) as m:
        queue = PosixBackend(m, "long", maxmsg=10)
        try:
            half_read(m, queue, rng)
        finally:
            queue.close()


@seeded
def test_sysv_half_read_message_dropped(rng):
    with watched_mount(seconds=MOUNT_LIMIT) as m:
        half_read(m, SysvBackend(m, 3), rng)


# The daemon killed -------------------------------------------------------------

def errno_of_child(code, *args):
    """What a child running code prints, or fails if it does not end in
    WAIT_LIMIT (it is then killed by pid)."""
    try:
        r = subprocess.run([sys.executable, "-c", code] + list(args), capture_output=True,
                           text=True, timeout=WAIT_LIMIT)
    except subprocess.TimeoutExpired:
        raise AssertionError("%s hangs" % " of ".join(args)) from None
    return r.stdout.strip()


# argv: "stat" or "listdir", path. Prints "ok" or the errno's name.
ACCESS = r"""
import errno, os, sys
try:
    getattr(os, sys.argv[1])(sys.argv[2])
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])
"""
DEAD = ("ENOTCONN", "ENXIO")


def kill_daemon(m):
    os.kill(m.proc.pid, signal.SIGKILL)
    m.proc.wait(WAIT_LIMIT)


def test_daemon_killed_and_mounted_again():
    with watched_mount(seconds=MOUNT_LIMIT) as m:
        sem_dir = os.path.join(m.path, "sem")
        # What the kernel keeps, made and filled through the mount.
        os.setxattr(m.mq, "user.mq.maxmsg", b"10")
        os.setxattr(m.mq, "user.mq.msgsize", b"64")
        try:
            for q in ("kept", "idle"):
                os.close(os.open(m.queue(q), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        finally:
            os.removexattr(m.mq, "user.mq.maxmsg")
            os.removexattr(m.mq, "user.mq.msgsize")
        fd = os.open(m.queue("kept"), os.O_WRONLY)
        for i in range(3):
            os.write(fd, b"mq %d" % i)
        os.close(fd)
        for n in (1, 2):
            os.close(os.open(m.sysv("msg", n), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        fd = os.open(m.sysv("msg", 1), os.O_WRONLY)
        for i in range(2):
            os.write(fd, b"sysv %d" % i)
        os.close(fd)
        for s, value in (("kept", b"+5"), ("idle", None)):
            fd = os.open(os.path.join(sem_dir, m.name(s)), os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                         0o600)
            if value:
                os.write(fd, value)
            os.close(fd)
        fd = os.open(m.segment("kept"), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.ftruncate(fd, 8192)
        os.pwrite(fd, b"segment bytes", 4000)
        os.close(fd)

        # Callers waiting in the daemon when it dies: a read of an empty
        # POSIX queue, of an empty System V queue, a semaphore wait.
        waiting = [(what, subprocess.Popen([sys.executable, "-c", BLOCKED] + args,
                                           stdout=subprocess.PIPE, text=True))
                   for what, args in (("mq read", [m.queue("idle")]),
                                      ("sysv read", [m.sysv("msg", 2)]),
                                      ("sem wait", [os.path.join(sem_dir, m.name("idle")),
                                                    "wait"]))]
        try:
            for what, p in waiting:
                assert p.stdout.readline() == "ready\n", what
                wait_until(lambda: blocked_in(p.pid, "read" if "read" in what else "write"),
                           what + " waiting")
            wait_until(lambda: parked_requests(m) == 3, "three parked requests")

            kill_daemon(m)
            got = []
            for what, p in waiting:
                try:
                    said = p.communicate(timeout=WAIT_LIMIT)[0].strip()
                except subprocess.TimeoutExpired:
                    raise AssertionError("the %s still waits after the daemon died" % what)
                assert said in ("ECONNABORTED", "ENOTCONN"), "%s: %s" % (what, said)
                got.append("%s: %s" % (what, said))
            comment("waiting when the daemon died: " + ", ".join(got))
        finally:
            for _, p in waiting:
                if p.poll() is None:
                    os.kill(p.pid, signal.SIGKILL)
                    p.wait()

        assert m.mounted(), "the dead mount is gone by itself"
        for op, path in (("listdir", m.path), ("listdir", m.mq), ("stat", m.queue("kept")),
                         ("stat", m.sysv("msg", 1))):
            said = errno_of_child(ACCESS, op, path)
            assert said in DEAD, "%s of %s on the dead mount: %s" % (op, path, said)

        # README "If the daemon dies": umount, then mount again.
        r = subprocess.run(["umount", m.path], capture_output=True, text=True,
                           timeout=WAIT_LIMIT)
        assert r.returncode == 0, "umount of the dead mount: %s" % r.stderr
        assert not m.mounted()
        m.proc = start_daemon(["-f", m.path, "-o", m.options], stderr=m.log)
        wait_until(lambda: m.mounted() or m.proc.poll() is not None, "the new mount")
        assert m.alive(), "ipcfs did not mount again"
        wait_until(lambda: errno_of_child(ACCESS, "listdir", m.path) == "ok",
                   "the new mount answering")

        fd = os.open(m.queue("kept"), os.O_RDONLY | os.O_NONBLOCK)
        try:
            got = [os.read(fd, 64) for _ in range(3)]
            assert got == [b"mq 0", b"mq 1", b"mq 2"], got
            assert os.getxattr(m.queue("kept"), "user.mq.curmsgs") == b"0"
        finally:
            os.close(fd)
        assert os.getxattr(m.queue("idle"), "user.mq.curmsgs") == b"0"
        fd = os.open(m.sysv("msg", 1), os.O_RDONLY | os.O_NONBLOCK)
        try:
            got = [os.read(fd, 64) for _ in range(2)]
            assert got == [b"sysv 0", b"sysv 1"], got
        finally:
            os.close(fd)
        assert os.getxattr(m.sysv("msg", 1), "user.msg.qnum") == b"0"
        assert os.getxattr(m.sysv("msg", 2), "user.msg.qnum") == b"0"
        for s, value in (("kept", 5), ("idle", 0)):
            path = os.path.join(sem_dir, m.name(s))
            assert sem_value(path) == value, "sem %s: %d" % (s, sem_value(path))
            os.unlink(path)
        fd = os.open(m.segment("kept"), os.O_RDONLY)
        try:
            assert os.fstat(fd).st_size == 8192
            assert os.pread(fd, 13, 4000) == b"segment bytes"
        finally:
            os.close(fd)
        check_daemon_serves(m, m.queue("kept"))


def test_dead_mount_point_stat_fails():
    """A stat of the mount point, once the daemon is dead, fails (within
    5 s, for an attribute cache of a few seconds) instead of answering
    from the kernel's cache as if all were well."""
    with watched_mount(seconds=MOUNT_LIMIT) as m:
        assert errno_of_child(ACCESS, "stat", m.path) == "ok"
        os.stat(m.mq)
        kill_daemon(m)
        deadline = time.monotonic() + 5
        said = errno_of_child(ACCESS, "stat", m.path)
        while said == "ok" and time.monotonic() < deadline:
            time.sleep(0.2)
            said = errno_of_child(ACCESS, "stat", m.path)
        assert said in DEAD, "a stat of the dead mount point 5 s after the daemon died: " \
            "%s (answered from the kernel's attribute cache)" % said


if __name__ == "__main__":
    comment("seed %d (IPCFS_TEST_SEED=%d repeats it)" % (SEED, SEED))
    run(globals())
