"""Requests that wait: reads of empty queues and writes to full ones are
parked in the daemon without holding it up, woken by messages sent by other
programs, served in arrival order, and take or send nothing once their
caller is killed or interrupted. Also poll and epoll on a queue file."""
import contextlib
import os
import platform
import resource
import select
import signal
import subprocess
import sys
import threading
import time

from ipcfs_test import create_queue, opened, run, wait_until, watched_mount, within

ANSWER_WITHIN = 2.0  # seconds an unrelated request may take while others wait
WAIT_LIMIT = 10.0    # seconds to wait for something that must happen
SETTLE = 0.3         # seconds for the daemon to act on a message, if it would
QUEUES = 100
READERS_PER_QUEUE = 10

SYSCALL_NUMBERS = {
    "x86_64": {"read": 0, "write": 1},
    "aarch64": {"read": 63, "write": 64},
}[platform.machine()]

# A child that opens a queue file through the mount, prints "ready", then
# blocks in one read (printing the message) or one write of argv[3]. SIGUSR1
# interrupts it: the handler raises, so Python does not retry the EINTR, and
# the child says so and keeps its file open until its stdin is closed.
CHILD = r"""
import os, signal, sys

class Interrupted(Exception):
    pass

def interrupted(signum, frame):
    raise Interrupted

signal.signal(signal.SIGUSR1, interrupted)
signal.siginterrupt(signal.SIGUSR1, True)
op, path = sys.argv[1:3]
fd = os.open(path, os.O_RDONLY if op in ("read", "rawread") else os.O_WRONLY)
print("ready", flush=True)
try:
    if op == "read":
        sys.stdout.buffer.write(os.read(fd, 64))
    elif op == "rawread":
        # read(2) itself, which Python would retry on EINTR.
        import ctypes, errno
        libc = ctypes.CDLL(None, use_errno=True)
        buf = ctypes.create_string_buffer(64)
        n = libc.read(fd, buf, 64)
        print(buf.raw[:n].decode() if n >= 0 else errno.errorcode[ctypes.get_errno()],
              flush=True)
        sys.stdin.read()
    else:
        os.write(fd, sys.argv[3].encode())
except Interrupted:
    print("interrupted", flush=True)
    sys.stdin.read()
"""


def raise_limits():
    """Room for a thousand open files, and as much as allowed for queues:
    the byte limit counts the queues of every process of the user."""
    for limit in (resource.RLIMIT_NOFILE, resource.RLIMIT_MSGQUEUE):
        hard = resource.getrlimit(limit)[1]
        resource.setrlimit(limit, (hard, hard))



def blocked_in(task, call, fd=None):
    """Whether /proc/TASK (a pid, or "self/task/TID") sleeps in the read or
    write system call, on descriptor fd if given."""
    try:
        with open("/proc/%s/syscall" % task) as f:
            fields = f.read().split()
    except FileNotFoundError:
        return False
    return (len(fields) > 1 and fields[0] == str(SYSCALL_NUMBERS[call])
            and (fd is None or int(fields[1], 16) == fd))


def daemon_caught_up(path):
    """Returns once every request sent before this stat has reached the
    daemon: the kernel queues requests in order and the daemon takes them
    one at a time, so a request sleeping in the kernel is now parked."""
    within(ANSWER_WITHIN, "a stat after parked requests", os.stat, path)


def read_now(path):
    """One message read through the mount without waiting (EAGAIN if none)."""
    with opened(path, os.O_RDONLY | os.O_NONBLOCK) as fd:
        return os.read(fd, 64)


def round_trip(path):
    with opened(path, os.O_RDWR) as fd:
        os.write(fd, b"round trip")
        return os.read(fd, 64)


def send_when_room(q, message, deadline):
    """Sends to a queue opened O_NONBLOCK once a reader has made room."""
    while True:
        try:
            return q.send(message)
        except BlockingIOError:
            assert time.monotonic() < deadline, "no reader took the last message"
            time.sleep(0.001)


def expect_curmsgs(q, count):
    curmsgs = q.attr().curmsgs
    assert curmsgs == count, "%d messages in the queue, expected %d" % (curmsgs, count)


def expect_nothing_taken(m, q, suffix):
    """A message sent now stays in the queue, for the next reader."""
    q.send(b"for the next reader")
    time.sleep(SETTLE)
    expect_curmsgs(q, 1)
    assert read_now(m.queue(suffix)) == b"for the next reader"


class Reader(threading.Thread):
    """A thread with its own open file of a queue, blocking in one read."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.fd = os.open(path, os.O_RDONLY)
        self.got = None
        self.error = None

    def run(self):
        try:
            self.got = os.read(self.fd, 64)
        except OSError as e:
            self.error = e

    def blocked(self):
        return blocked_in("self/task/%d" % self.native_id, "read", self.fd)


class Child:
    """A process blocked in one read or write of a queue file, parked in the
    daemon by the time the constructor returns; killed on leaving."""

    def __init__(self, op, path, *args):
        self.proc = subprocess.Popen([sys.executable, "-c", CHILD, op, path, *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            assert self.next_line() == b"ready\n", "the child did not start"
            call = "read" if op == "rawread" else op
            wait_until(lambda: blocked_in(self.proc.pid, call), "child blocked in " + call)
            daemon_caught_up(path)
        except BaseException:
            self.__exit__()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.communicate(timeout=WAIT_LIMIT)
        except subprocess.TimeoutExpired:
            pass  # its request was never answered: the unmount ends it

    def next_line(self):
        return self.proc.stdout.readline()

    def output(self):
        """The rest of what it prints, once it has ended."""
        return self.proc.communicate(timeout=WAIT_LIMIT)[0]

    def kill(self):
        self.proc.kill()
        try:
            self.proc.wait(WAIT_LIMIT)
        except subprocess.TimeoutExpired:
            raise AssertionError("SIGKILL: the child's request was not answered") from None


def test_thousand_parked_readers_hold_nothing_up():
    names = ["many%d" % i for i in range(QUEUES)]
    with watched_mount() as m, contextlib.ExitStack() as cleanup:
        # One message each: 100 queues of 10 would take much of the bytes
        # root may have in queues, shared with the tests running alongside.
        queues = [cleanup.enter_context(create_queue(m.name(n), maxmsg=1, msgsize=32))
                  for n in names]
        create_queue(m.name("other")).close()
        readers = [[Reader(m.queue(n)) for _ in range(READERS_PER_QUEUE)] for n in names]
        everyone = [r for per_queue in readers for r in per_queue]
        for r in everyone:
            # A reader still blocked after a failure ends when the mount goes.
            cleanup.callback(os.close, r.fd)
            r.start()
        wait_until(lambda: all(r.blocked() for r in everyone), "1000 readers blocked")
        daemon_caught_up(m.queue("many0"))

        listed = within(ANSWER_WITHIN, "listing mq/", os.listdir, m.mq)
        assert {m.name(n) for n in names} <= set(listed), "mq/ does not list every queue"
        within(ANSWER_WITHIN, "stat of a queue", os.stat, m.queue("many0"))
        got = within(ANSWER_WITHIN, "write and read of another queue", round_trip,
                     m.queue("other"))
        assert got == b"round trip", got

        sent = [[b"queue %d message %d" % (i, j) for j in range(READERS_PER_QUEUE)]
                for i in range(QUEUES)]
        deadline = time.monotonic() + WAIT_LIMIT
        for j in range(READERS_PER_QUEUE):
            for q, messages in zip(queues, sent):
                send_when_room(q, messages[j], deadline)
        for r in everyone:
            r.join(max(0, deadline - time.monotonic()))
        assert sum(r.is_alive() for r in everyone) == 0, "readers still waiting"
        assert [r.error for r in everyone if r.error] == []
        for i, per_queue in enumerate(readers):
            assert sorted(r.got for r in per_queue) == sorted(sent[i]), \
                "queue %d: readers got %r" % (i, [r.got for r in per_queue])
        received = [r.got for r in everyone]
        assert len(received) == 1000 and len(set(received)) == 1000
        assert [q.attr().curmsgs for q in queues] == [0] * QUEUES


def test_killed_reader_takes_nothing():
    with watched_mount() as m, create_queue(m.name("q")) as q:
        with Child("read", m.queue("q")) as child:
            child.kill()
        expect_nothing_taken(m, q, "q")


def test_interrupted_reader_takes_nothing():
    with watched_mount() as m, create_queue(m.name("q")) as q:
        with Child("read", m.queue("q")) as child:
            child.proc.send_signal(signal.SIGUSR1)
            said = within(WAIT_LIMIT, "the interrupted read", child.next_line)
            assert said == b"interrupted\n", said
            # Its file is still open, so nothing has dropped its request.
            expect_nothing_taken(m, q, "q")
            assert child.output() == b""


def process_state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def test_stopped_and_continued_reader_gets_eintr():
    """SIGSTOP interrupts a waiting read as any signal does, and FUSE can't
    ask the kernel to restart it as a direct mq_receive would be: read(2)
    returns EINTR once continued (doc/design.md), having taken nothing."""
    with watched_mount() as m, create_queue(m.name("q")) as q:
        with Child("rawread", m.queue("q")) as child:
            child.proc.send_signal(signal.SIGSTOP)
            wait_until(lambda: process_state(child.proc.pid) == "T", "the child stopped")
            child.proc.send_signal(signal.SIGCONT)
            said = within(WAIT_LIMIT, "the continued read", child.next_line)
            assert said == b"EINTR\n", said
            expect_nothing_taken(m, q, "q")


def test_killed_writer_sends_nothing():
    with watched_mount() as m, create_queue(m.name("full"), 0o666, maxmsg=1) as q:
        q.send(b"original")
        with Child("write", m.queue("full"), "from the killed writer") as child:
            child.kill()
        expect_curmsgs(q, 1)
        assert q.receive() == (b"original", 0)
        time.sleep(SETTLE)  # room now: a writer still parked would send
        expect_curmsgs(q, 0)


def test_readers_served_in_arrival_order():
    with watched_mount() as m, create_queue(m.name("fifo")) as q, contextlib.ExitStack() as stack:
        children = []
        for _ in range(3):
            children.append(stack.enter_context(Child("read", m.queue("fifo"))))
            time.sleep(0.3)
        for message in (b"a", b"b", b"c"):
            q.send(message)
        got = [c.output() for c in children]
        assert got == [b"a", b"b", b"c"], "readers in arrival order got %r" % got


@contextlib.contextmanager
def poll_for_input(fd):
    p = select.poll()
    p.register(fd, select.POLLIN)
    yield lambda seconds: p.poll(seconds * 1000)


@contextlib.contextmanager
def epoll_for_input(fd):
    with select.epoll() as ep:
        ep.register(fd, select.EPOLLIN)
        yield ep.poll


def check_woken_by_send(waiting_for_input):
    with watched_mount() as m, create_queue(m.name("polled")) as q, \
            opened(m.queue("polled"), os.O_RDONLY) as fd, waiting_for_input(fd) as wait:
        assert wait(0.3) == [], "ready while the queue is empty"
        sender = threading.Timer(0.3, q.send, [b"wake up"])
        sender.start()
        try:
            events = wait(WAIT_LIMIT)
        finally:
            sender.join()
        assert events == [(fd, select.POLLIN)]
        assert os.read(fd, 64) == b"wake up"


def test_poll_woken_by_direct_send():
    check_woken_by_send(poll_for_input)


def test_epoll_woken_by_direct_send():
    check_woken_by_send(epoll_for_input)


if __name__ == "__main__":
    raise_limits()
    threading.stack_size(256 << 10)
    run(globals())
