"""I/O at the edges, as programs in the wild use files.

- One open file shared by a waiting reader (or a waiting semaphore wait)
  and the writer (or post) that ends its wait, through a shell's `exec
  3<>`, across fork, and between two threads: the wait ends, for every
  kind that waits. (Before files that wait were opened as streams, the
  second call sat unkillable on the file position's lock.)
- readv and writev of many small buffers: one call, one message or one
  semop, with fs.fuse.max_pages_limit raised for the test; at the kernel's
  default of 256, a call over more pages than that arrives in pieces, as
  the README says.
- sendfile and splice from a queue or semaphore file: EINVAL, and nothing
  taken.
- SEEK_DATA and SEEK_HOLE on shm/ and sysv/shm/, in both modes, answered
  from the segment's own file, compared with /dev/shm.

The max_pages_limit cases change a kernel setting for the whole machine:
this test runs alone (tests/meson.build) and puts it back."""
import errno
import os
import subprocess
import threading
import time

from ipcfs_test import KernelSetting, Mount, SysV, expect_errno, run, wait_until

MAX_PAGES = "/proc/sys/fs/fuse/max_pages_limit"
MODES = {"passthrough": "allow_other", "fallback": "allow_other,no_passthrough"}
STUCK_SECONDS = 10


def parked(m):
    with open(os.path.join(m.path, "status")) as f:
        for line in f:
            if line.startswith("parked requests:"):
                return int(line.split(":")[1])
    raise AssertionError("status has no parked requests line")


# Kinds that wait: (name, path of a fresh object, the call that waits and
# what it returns, the call through the same file that ends that wait).
def waiting_kinds(m):
    return [
        ("mq", m.queue("shared"), (b"", 64, b"hi\n"), b"hi\n"),
        ("sysv/msg", m.sysv("msg", 1), (b"", 64, b"hi\n"), b"hi\n"),
        ("sem", os.path.join(m.path, "sem", m.name("shared")), (b"wait", 0, 4), b"post"),
        ("sysv/sem", m.sysv("sem", 2), (b"0-1", 0, 3), b"0+1"),
    ]


def waiting_call(fd, waits):
    """The waiting half: a read of up to n bytes, or a write of command."""
    command, n, _ = waits
    return os.write(fd, command) if command else os.read(fd, n)


def make(path):
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))


def end_shared_wait_forked(m, path, waits, ender, threads):
    """The waiter and the ender share one open file: two threads of one
    child, or a child and a grandchild. Returns what the waiter got; fails
    if the ender did not get through (the waiter is then killed, which
    frees the ender)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            fd = os.open(path, os.O_RDWR)
            got = {}

            def waiter():
                got["value"] = waiting_call(fd, waits)

            if threads:
                t = threading.Thread(target=waiter)
                t.start()
            else:
                waiter_pid = os.fork()
                if waiter_pid == 0:
                    waiter()
                    os.write(w, repr(got["value"]).encode() + b"\n")
                    os._exit(0)
            wait_until(lambda: parked(m) == 1, "the waiter parked")
            os.write(fd, ender)
            if threads:
                t.join()
                os.write(w, repr(got["value"]).encode() + b"\n")
            else:
                os.waitpid(waiter_pid, 0)
            os._exit(0)
        except BaseException as e:
            os.write(w, b"raised %r\n" % e)
            os._exit(1)
    os.close(w)
    deadline = time.monotonic() + STUCK_SECONDS
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            subprocess.run(["pkill", "-9", "-P", str(pid)])  # the waiter, which frees the ender
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            os.close(r)
            raise AssertionError("the call that ends the wait got stuck behind it")
        time.sleep(0.02)
    answer = os.read(r, 4096).decode().strip()
    os.close(r)
    return answer


def end_shared_wait_in_shell(m, path, waits, ender):
    command, n, _ = waits
    waiter = ("echo %s >&3" % command.decode()) if command else "dd bs=%d count=1 status=none <&3" % n
    script = """exec 3<>"$1"
(%s; echo " waiter done") &
until grep -q '^parked requests: 1$' "$2"; do sleep 0.01; done
echo %s >&3
wait
""" % (waiter, ender.decode().strip())
    p = subprocess.Popen(["bash", "-c", script, "sh", path, os.path.join(m.path, "status")],
                         stdout=subprocess.PIPE, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=STUCK_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, 9)
        p.wait()
        raise AssertionError("the shell's write through fd 3 got stuck behind the waiter")
    return out


def test_a_shared_open_file_never_deadlocks():
    with Mount() as m:
        for name, path, waits, ender in waiting_kinds(m):
            for how in ("shell", "fork", "threads"):
                make(path)
                if how == "shell":
                    out = end_shared_wait_in_shell(m, path, waits, ender)
                    expected = (waits[2] if not waits[0] else b"") + b" waiter done\n"
                    assert out == expected, (name, how, out)
                else:
                    got = end_shared_wait_forked(m, path, waits, ender, how == "threads")
                    assert got == repr(waits[2]), (name, how, got)
                assert parked(m) == 0, (name, how)
                os.unlink(path)
        assert m.alive()


def test_waiting_files_are_streams():
    """No file position: lseek, pread and pwrite say ESPIPE; a semaphore's
    value reads once per open, to its end."""
    with Mount() as m:
        for name, path, _, _ in waiting_kinds(m):
            make(path)
            fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
            expect_errno(errno.ESPIPE, os.lseek, fd, 0, os.SEEK_SET)
            expect_errno(errno.ESPIPE, os.pread, fd, 10, 0)
            expect_errno(errno.ESPIPE, os.pwrite, fd, b"0+1" if "sysv" in name else b"post", 0)
            if "sem" in name:
                assert os.read(fd, 1) == b"0", name
                assert os.read(fd, 10) == b"\n", name
                assert os.read(fd, 10) == b"", name
            os.close(fd)
            os.unlink(path)


def PagesLimit(value):
    """fs.fuse.max_pages_limit set for a block, put back after."""
    return KernelSetting(MAX_PAGES, value)


def bytes_buffers(n):
    return [bytearray(1) for _ in range(n)]


def check_vectors_in_one_call(m, path):
    fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_NONBLOCK, 0o600)
    try:
        assert os.writev(fd, [b"a"] * 300) == 300
        assert os.writev(fd, [b"b"] * 600) == 600
        assert os.writev(fd, [b"c"] * 1024) == 1024  # IOV_MAX
        for letter, n in ((b"a", 300), (b"b", 600), (b"c", 1024)):
            assert os.read(fd, 2000) == letter * n, (path, letter)
        os.write(fd, b"x" * 256)
        os.write(fd, b"y" * 100)
        bufs = bytes_buffers(300)
        assert os.readv(fd, bufs) == 256
        assert bytes(b"".join(bufs[:256])) == b"x" * 256
        assert os.read(fd, 2000) == b"y" * 100
        expect_errno(errno.EAGAIN, os.read, fd, 2000)
    finally:
        os.close(fd)
        os.unlink(path)


def test_one_call_is_one_message_with_the_limit_raised():
    with PagesLimit(4096), Mount("allow_other,mq_msgsize=4096") as m:
        check_vectors_in_one_call(m, m.queue("vectors"))
        check_vectors_in_one_call(m, m.sysv("msg", 3))
        # A semop written in 300 pieces is one semop: all or nothing.
        path = m.sysv("sem", 4)
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        ident = SysV.semget(m.key(4))
        fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
        ops = (b"0+1 " * 150).strip() + b" 0-151"  # 150 posts, then one take too many
        pieces = [bytes([c]) for c in ops]
        assert len(pieces) > 256
        expect_errno(errno.EAGAIN, os.writev, fd, pieces)
        assert SysV.semvalues(ident, 1) == [0]
        pieces = [bytes([c]) for c in (b"0+1 " * 150).strip()]
        assert os.writev(fd, pieces) == len(pieces)
        assert SysV.semvalues(ident, 1) == [150]
        os.close(fd)
        os.unlink(path)


def test_beyond_the_limit_a_call_arrives_in_pieces():
    """As the README says: at 256 pages a writev of 300 one-byte buffers is
    two messages, 256 and 44 bytes."""
    with PagesLimit(256), Mount() as m:
        path = m.queue("pieces")
        fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_NONBLOCK, 0o600)
        assert os.writev(fd, [b"a"] * 300) == 300
        assert [len(os.read(fd, 2000)), len(os.read(fd, 2000))] == [256, 44]
        os.close(fd)
        os.unlink(path)


def check_readv_in_pieces_ends_with_its_message(path, first):
    """A readv of 300 one-byte buffers, which arrives as pieces of 256 and
    44, returns the first message whole and nothing of the next one."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_NONBLOCK, 0o600)
    try:
        os.write(fd, b"x" * first)
        os.write(fd, b"y" * 100)
        bufs = bytes_buffers(300)
        got = os.readv(fd, bufs)
        assert got == min(first, 300), (path, first, got)
        assert b"".join(bufs[:got]) == b"x" * got, (path, first)
        if first > 300:
            assert os.read(fd, 2000) == b"x" * (first - 300), (path, first)
        got = os.read(fd, 2000)
        assert got == b"y" * 100, (path, first, got[:8], len(got))
        expect_errno(errno.EAGAIN, os.read, fd, 2000)
    finally:
        os.close(fd)
        os.unlink(path)


def test_a_readv_in_pieces_never_takes_part_of_the_next_message():
    with PagesLimit(256), Mount() as m:
        for first in (100, 255, 256, 257, 300, 400):
            check_readv_in_pieces_ends_with_its_message(m.queue("rv%d" % first), first)
            check_readv_in_pieces_ends_with_its_message(m.sysv("msg", 40 + first), first)


def test_sendfile_and_splice_from_waiting_files_say_einval():
    with Mount() as m:
        sink = os.open("/dev/null", os.O_WRONLY)
        r, w = os.pipe()
        for name, path, _, _ in waiting_kinds(m):
            make(path)
            fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
            if name in ("mq", "sysv/msg"):
                os.write(fd, b"message")
            else:
                os.write(fd, b"post" if name == "sem" else b"0+1")
            expect_errno(errno.EINVAL, os.sendfile, sink, fd, None, 100)
            expect_errno(errno.EINVAL, os.splice, fd, w, 100)
            if name in ("mq", "sysv/msg"):
                assert os.read(fd, 100) == b"message", name  # nothing taken
            else:
                assert os.read(fd, 100) == b"1\n", name
            os.close(fd)
            os.unlink(path)
        os.close(sink)
        os.close(r)
        os.close(w)
        assert m.alive()


def data_and_holes(fd, size):
    """Every SEEK_DATA and SEEK_HOLE answer from each page boundary."""
    out = []
    for off in range(0, size + 4096, 4096):
        for whence in (os.SEEK_DATA, os.SEEK_HOLE):
            try:
                out.append(os.lseek(fd, off, whence))
            except OSError as e:
                out.append(errno.errorcode[e.errno])
    return out


def test_seek_data_and_hole_on_shm():
    for mode, options in MODES.items():
        with Mount(options) as m:
            direct = os.path.join("/dev/shm", m.name("holes"))
            fd = os.open(m.segment("holes"), os.O_CREAT | os.O_RDWR, 0o600)
            os.ftruncate(fd, 8192)
            native = os.open(direct, os.O_RDONLY)
            # All hole: SEEK_DATA is ENXIO.
            assert data_and_holes(fd, 8192) == data_and_holes(native, 8192) == \
                ["ENXIO", 0, "ENXIO", 4096, "ENXIO", "ENXIO"], mode
            os.pwrite(fd, b"x", 4096)  # data only in the second page
            assert data_and_holes(fd, 8192) == data_and_holes(native, 8192) == \
                [4096, 0, 4096, 8192, "ENXIO", "ENXIO"], mode
            os.close(native)
            os.close(fd)
            os.unlink(m.segment("holes"))


def test_seek_data_and_hole_on_sysv_shm():
    for mode, options in MODES.items():
        with Mount(options + ",sysv_shm_size=8192") as m:
            path = m.sysv("shm", 5)
            fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
            assert data_and_holes(fd, 8192) == ["ENXIO", 0, "ENXIO", 4096, "ENXIO", "ENXIO"], mode
            os.pwrite(fd, b"x", 4096)
            assert data_and_holes(fd, 8192) == [4096, 0, 4096, 8192, "ENXIO", "ENXIO"], mode
            os.close(fd)
            os.unlink(path)


run(globals())
