"""Load, with every count checked end to end.

- mq/: 8 producers and 8 consumers, each a process with its own open file
  of one queue of 10 messages. Every message is numbered "P:N"; each must
  arrive exactly once, and each consumer must see every producer's
  messages in the order sent (one priority, FIFO).
- sysv/msg/: the same through a System V queue, kept nearly full by
  filler messages of another type, so writers wait for room too.
- sem/ and shm/: 16 processes each take a semaphore file's token, add one
  to an 8-byte counter in a segment mapped through the mount, and give the
  token back; the counter must come out exact.

IPCFS_TEST_SIZE=full (CI) runs 100,000 messages and 10,000 takes per
process; otherwise 10,000 and 1,000. Throughput is printed as a TAP
comment; no time is checked. Every child has a deadline: past it, it is
killed by pid (then the daemon, if a child can't die because its request
is never answered) and the case fails."""
import os
import signal
import subprocess
import sys
import tempfile
import time

from ipcfs_test import SysV, run, watched_mount

FULL = os.environ.get("IPCFS_TEST_SIZE") == "full"
MESSAGES = 100_000 if FULL else 10_000
TAKES = 10_000 if FULL else 1_000
PRODUCERS = CONSUMERS = 8
SEM_PROCESSES = 16
CHILD_LIMIT = 120 if FULL else 60    # seconds the children of one case may take
MOUNT_LIMIT = CHILD_LIMIT + 30       # then the watchdog kills the daemon
MSGSIZE = 64
SYSV_ROOM = 64                       # bytes of type-1 messages the System V queue takes

# argv: path, producer number, how many messages it sends (numbered from 0).
PRODUCER = r"""
import os, sys
path, who, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fd = os.open(path, os.O_WRONLY)
for n in range(count):
    os.write(fd, b"%d:%d" % (who, n))
"""

# argv: path, output file. Reads one message at a time until "stop", then
# writes what it got, one message a line.
CONSUMER = r"""
import os, sys
path, out = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDONLY)
got = []
while True:
    m = os.read(fd, %d)
    if m == b"stop":
        break
    got.append(m)
with open(out, "wb") as f:
    f.write(b"\n".join(got))
""" % MSGSIZE

# argv: semaphore path, segment path, count.
SEM_WORKER = r"""
import mmap, os, sys
sem, seg, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
fd = os.open(sem, os.O_WRONLY)
s = os.open(seg, os.O_RDWR)
try:
    mm = mmap.mmap(s, 8, mmap.MAP_SHARED)
    get = lambda: int.from_bytes(mm[0:8], "little")
    def put(v): mm[0:8] = v.to_bytes(8, "little")
except OSError:  # fallback mode (no passthrough): reads and writes at offset 0
    get = lambda: int.from_bytes(os.pread(s, 8, 0), "little")
    put = lambda v: os.pwrite(s, v.to_bytes(8, "little"), 0)
for _ in range(count):
    os.write(fd, b"wait")
    put(get() + 1)
    os.write(fd, b"post")
"""


class Children:
    """Processes running python3 -c CODE; on leaving, any still running is
    killed by pid and reaped (the daemon too, if one can't die)."""

    def __init__(self, mount):
        self.mount = mount
        self.procs = []

    def __enter__(self):
        return self

    def start(self, code, *args):
        p = subprocess.Popen([sys.executable, "-c", code] + [str(a) for a in args])
        self.procs.append(p)
        return p

    def wait(self, procs, deadline, what):
        """Waits for procs until deadline; each must exit 0."""
        for p in procs:
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.kill_all()
                raise AssertionError("%s not done within %d s: killed" % (what, CHILD_LIMIT))
            assert p.returncode == 0, "%s: pid %d exited %d" % (what, p.pid, p.returncode)

    def kill_all(self):
        for p in self.procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                # Killed while its request waits for an answer that never
                # comes: only the end of the connection frees it.
                self.mount.proc.kill()
                p.wait()

    def __exit__(self, *exc):
        self.kill_all()
        return False


def comment(text):
    print("# " + text, flush=True)


def move_messages(m, write_path, read_path, kind):
    """Runs the producers and consumers over one queue; checks every
    message once and each producer's order within each consumer."""
    per_producer = MESSAGES // PRODUCERS
    with tempfile.TemporaryDirectory(prefix="ipcfs-load.") as out, Children(m) as kids:
        outputs = [os.path.join(out, "consumer%d" % i) for i in range(CONSUMERS)]
        deadline = time.monotonic() + CHILD_LIMIT
        start = time.monotonic()
        consumers = [kids.start(CONSUMER, read_path, o) for o in outputs]
        producers = [kids.start(PRODUCER, write_path, i, per_producer) for i in range(PRODUCERS)]
        kids.wait(producers, deadline, kind + " producers")
        # Every data message is in the queue or taken: the stops come after
        # them all (FIFO), one for each consumer.
        fd = os.open(write_path, os.O_WRONLY)
        try:
            for _ in consumers:
                os.write(fd, b"stop")
        finally:
            os.close(fd)
        kids.wait(consumers, deadline, kind + " consumers")
        seconds = time.monotonic() - start
        received = []
        for i, o in enumerate(outputs):
            with open(o, "rb") as f:
                data = f.read()
            received.append(data.split(b"\n") if data else [])
    total = sum(len(r) for r in received)
    comment("%s: %d messages, %d producers, %d consumers, %.1f s, %.0f messages/s "
            "(per consumer: %s)" % (kind, total, PRODUCERS, CONSUMERS, seconds,
                                   total / seconds, " ".join(str(len(r)) for r in received)))

    seen = {}
    for c, messages in enumerate(received):
        last = [-1] * PRODUCERS
        for message in messages:
            who, n = (int(x) for x in message.split(b":"))
            assert n > last[who], "%s: consumer %d got %d:%d after %d:%d" % (
                kind, c, who, n, who, last[who])
            last[who] = n
            assert (who, n) not in seen, "%s: %d:%d received twice (consumers %d and %d)" % (
                kind, who, n, seen[(who, n)], c)
            seen[(who, n)] = c
    missing = [(p, n) for p in range(PRODUCERS) for n in range(per_producer)
               if (p, n) not in seen]
    assert not missing, "%s: %d messages never received, first %r" % (
        kind, len(missing), missing[:5])
    assert total == PRODUCERS * per_producer


def test_mq_producers_and_consumers():
    with watched_mount(seconds=MOUNT_LIMIT) as m:
        # A queue of 10 messages of 64 bytes, made through the mount: the
        # sizes are the mq/ directory's xattrs for our creates, removed
        # right after.
        os.setxattr(m.mq, "user.mq.maxmsg", b"10")
        os.setxattr(m.mq, "user.mq.msgsize", b"%d" % MSGSIZE)
        try:
            os.close(os.open(m.queue("load"), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        finally:
            os.removexattr(m.mq, "user.mq.maxmsg")
            os.removexattr(m.mq, "user.mq.msgsize")
        assert os.getxattr(m.queue("load"), "user.mq.maxmsg") == b"10"
        move_messages(m, m.queue("load"), m.queue("load"), "mq/")
        assert os.getxattr(m.queue("load"), "user.mq.curmsgs") == b"0"
        assert m.alive()


def test_sysv_producers_and_consumers():
    with watched_mount(seconds=MOUNT_LIMIT) as m:
        path = m.sysv("msg", 1)
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        # Fillers of type 2 leave room for SYSV_ROOM bytes: writers (type 1)
        # wait for room often; readers of type 1 (KEY@1) pass over them.
        ident = SysV.msgget(m.key(1))
        qbytes = int(os.getxattr(path, "user.msg.qbytes"))
        with open("/proc/sys/kernel/msgmax") as f:
            msgmax = int(f.read())
        left = qbytes - SYSV_ROOM
        while left > 0:
            n = min(left, msgmax)
            SysV.msgsnd(ident, b"f" * n, mtype=2, flags=SysV.IPC_NOWAIT)
            left -= n
        fillers = int(os.getxattr(path, "user.msg.qnum"))
        move_messages(m, path, path + "@1", "sysv/msg/")
        assert int(os.getxattr(path, "user.msg.qnum")) == fillers, "messages left over"
        assert m.alive()


def test_semaphore_guards_a_counter_in_shm():
    with watched_mount(seconds=MOUNT_LIMIT) as m:
        sem = os.path.join(m.path, "sem", m.name("lock"))
        seg = m.segment("counter")
        fd = os.open(sem, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"post")  # one token: a mutex
        finally:
            os.close(fd)
        fd = os.open(seg, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.ftruncate(fd, 4096)
            with Children(m) as kids:
                start = time.monotonic()
                workers = [kids.start(SEM_WORKER, sem, seg, TAKES)
                           for _ in range(SEM_PROCESSES)]
                kids.wait(workers, start + CHILD_LIMIT, "semaphore workers")
                seconds = time.monotonic() - start
            counter = int.from_bytes(os.pread(fd, 8, 0), "little")
        finally:
            os.close(fd)
        takes = SEM_PROCESSES * TAKES
        comment("sem/: %d processes x %d takes, %.1f s, %.0f takes/s" % (
            SEM_PROCESSES, TAKES, seconds, takes / seconds))
        assert counter == takes, "counter %d, expected %d" % (counter, takes)
        with open(sem, "rb") as f:
            assert f.read() == b"1\n", "the token is not back"
        os.unlink(sem)
        assert m.alive()


if __name__ == "__main__":
    run(globals())
