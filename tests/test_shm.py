"""shm/: POSIX shared memory through the mount, checked against /dev/shm
directly. Every case runs twice: with FUSE passthrough, where mmap maps
the segment itself, and with -o no_passthrough, the fallback, where read
and write go through the daemon and mmap(MAP_SHARED) is refused."""
import ctypes
import errno
import mmap
import os
import signal
import sys
import time

from ipcfs_test import Mount, expect_errno, run

DIRECT = "/dev/shm"
MODES = {"passthrough": "allow_other", "fallback": "allow_other,no_passthrough"}


def direct(m, suffix):
    return os.path.join(DIRECT, m.name(suffix))


def make_direct(m, suffix, data=b"", mode=0o600):
    fd = os.open(direct(m, suffix), os.O_RDWR | os.O_CREAT | os.O_EXCL, mode)
    os.write(fd, data)
    os.close(fd)


def read_direct(m, suffix, size, offset=0):
    with open(direct(m, suffix), "rb") as f:
        f.seek(offset)
        return f.read(size)


def in_child(fn):
    """Runs fn in a child process; returns its exit status or -signal."""
    pid = os.fork()
    if pid == 0:
        try:
            fn()
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def as_user(uid, fn):
    def drop_and_run():
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        fn()
    return in_child(drop_and_run)


def case_listing(m, mode):
    make_direct(m, "direct", b"x")
    make_direct(m, "other")
    open(os.path.join(DIRECT, "sem." + m.name("sem")), "wb").close()
    listed = sorted(n for n in os.listdir(os.path.join(m.path, "shm")) if n.startswith(m.prefix))
    assert listed == [m.name("direct"), m.name("other")], listed
    expect_errno(errno.ENOENT, os.stat, os.path.join(m.path, "shm", "sem." + m.name("sem")))


def case_create_and_attributes(m, mode):
    fd = os.open(m.segment("new"), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o640)
    os.close(fd)
    st = os.stat(direct(m, "new"))
    assert (oct(st.st_mode & 0o777), st.st_size, st.st_uid) == ("0o640", 0, 0)
    expect_errno(errno.EEXIST, os.open, m.segment("new"), os.O_RDWR | os.O_CREAT | os.O_EXCL)
    os.chmod(m.segment("new"), 0o604)
    os.chown(m.segment("new"), 65534, 65534)
    st = os.stat(direct(m, "new"))
    assert (oct(st.st_mode & 0o777), st.st_uid, st.st_gid) == ("0o604", 65534, 65534)
    mine = os.stat(m.segment("new"))
    assert (mine.st_mode & 0o777, mine.st_uid, mine.st_size) == (0o604, 65534, 0)


def case_created_by_user_is_theirs(m, mode):
    def create():
        os.close(os.open(m.segment("users"), os.O_RDWR | os.O_CREAT, 0o600))
    assert as_user(65534, create) == 0
    st = os.stat(direct(m, "users"))
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (65534, 65534, 0o600)


def case_truncate_resizes(m, mode):
    make_direct(m, "t")
    os.truncate(m.segment("t"), 8192)
    assert os.stat(direct(m, "t")).st_size == 8192
    fd = os.open(m.segment("t"), os.O_RDWR)
    os.ftruncate(fd, 100)
    os.close(fd)
    assert os.stat(direct(m, "t")).st_size == 100
    assert os.stat(m.segment("t")).st_size == 100


def case_blocks_are_the_segments_own(m, mode):
    """st_blocks is what the segment takes, as du reads it, not its size
    rounded up: a sparse segment takes less."""
    make_direct(m, "blk")
    path = m.segment("blk")
    os.truncate(path, 1)
    got, want = os.stat(path).st_blocks, os.stat(direct(m, "blk")).st_blocks
    assert (got, want) == (0, 0), (got, want)
    fd = os.open(path, os.O_RDWR)
    try:
        assert os.pwrite(fd, b"0123456789", 4864) == 10
    finally:
        os.close(fd)
    got, want = os.stat(path).st_blocks, os.stat(direct(m, "blk")).st_blocks
    assert (got, want) == (8, 8), (got, want)
    assert os.stat(path).st_size == 4874


def case_read_write_reach_the_bytes(m, mode):
    make_direct(m, "rw", b"0123456789")
    fd = os.open(m.segment("rw"), os.O_RDWR)
    assert os.read(fd, 4) == b"0123"
    assert os.pread(fd, 3, 7) == b"789"
    os.pwrite(fd, b"\x00\xffABC", 5000)
    os.close(fd)
    assert read_direct(m, "rw", 5, 5000) == b"\x00\xffABC"
    assert os.stat(direct(m, "rw")).st_size == 5005
    with open(m.segment("rw"), "r+b") as f:
        f.write(b"ab")
    assert read_direct(m, "rw", 4) == b"ab23"
    with open(m.segment("rw"), "wb") as f:  # O_TRUNC
        f.write(b"new")
    assert read_direct(m, "rw", 100) == b"new"


def case_rm_unlinks(m, mode):
    make_direct(m, "gone")
    os.unlink(m.segment("gone"))
    assert not os.path.exists(direct(m, "gone"))


def case_mmap_coherent_both_ways(m, mode):
    make_direct(m, "map", bytes(4096))
    fd = os.open(m.segment("map"), os.O_RDWR)
    if mode == "fallback":
        expect_errno(errno.ENODEV, mmap.mmap, fd, 4096)
        private = mmap.mmap(fd, 4096, flags=mmap.MAP_PRIVATE)
        os.pwrite(os.open(direct(m, "map"), os.O_RDWR), b"seen", 0)
        assert private[:4] == b"seen"
        private.close()
        os.close(fd)
        return
    through = mmap.mmap(fd, 4096)
    dfd = os.open(direct(m, "map"), os.O_RDWR)
    straight = mmap.mmap(dfd, 4096)
    through[0:5] = b"mount"
    assert straight[0:5] == b"mount"
    straight[100:106] = b"direct"
    assert through[100:106] == b"direct"
    assert os.pread(fd, 6, 100) == b"direct"

    # Two processes at once: a child counts up through its own mapping of
    # the file in the mount while the parent watches a direct mapping.
    def count_up():
        cfd = os.open(m.segment("map"), os.O_RDWR)
        cm = mmap.mmap(cfd, 4096)
        for i in range(1, 201):
            cm[2000] = i
            while straight_seen(cm) != i:
                pass
    def straight_seen(cm):
        return cm[2001]
    pid = os.fork()
    if pid == 0:
        try:
            count_up()
            os._exit(0)
        except BaseException:
            os._exit(1)
    seen = 0
    while seen < 200:
        v = straight[2000]
        if v != seen and v == seen + 1:
            seen = v
            straight[2001] = v  # echo back through the direct mapping
    _, status = os.waitpid(pid, 0)
    assert status == 0 and seen == 200
    for mp in (through, straight):
        mp.close()
    os.close(fd)
    os.close(dfd)


def shm_used_bytes():
    st = os.statvfs(DIRECT)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def case_unlinked_segment_is_freed(m, mode):
    size = 64 << 20
    before = shm_used_bytes()
    fd = os.open(m.segment("big"), os.O_RDWR | os.O_CREAT, 0o600)
    os.ftruncate(fd, size)
    if mode == "passthrough":
        mp = mmap.mmap(fd, size)
        mp[:] = b"\x01" * size
        mp.close()
    else:
        os.pwrite(fd, b"\x01" * size, 0)
    assert shm_used_bytes() - before >= size - (1 << 20)
    os.unlink(m.segment("big"))
    assert os.pread(fd, 3, size - 3) == b"\x01\x01\x01"  # still open: still there
    os.close(fd)
    # No backing file may pin the removed segment once its last open is
    # gone. The kernel sends the release after close() returns: wait for it.
    deadline = time.time() + 5
    while shm_used_bytes() - before >= (4 << 20) and time.time() < deadline:
        time.sleep(0.05)
    assert shm_used_bytes() - before < (4 << 20), shm_used_bytes() - before


def case_removed_elsewhere_while_open(m, mode):
    make_direct(m, "vanish", b"kept bytes")
    fd = os.open(m.segment("vanish"), os.O_RDWR)
    os.unlink(direct(m, "vanish"))
    assert os.pread(fd, 10, 0) == b"kept bytes"
    assert os.fstat(fd).st_size == 10
    assert m.name("vanish") not in os.listdir(os.path.join(m.path, "shm"))
    expect_errno(errno.ENOENT, os.stat, m.segment("vanish"))
    os.close(fd)


LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.mmap.restype = ctypes.c_void_p
LIBC.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]


def sigbus_through(path, map_size, touch_at, shrink_to=None):
    """Maps map_size bytes of path (past its end if it is shorter: Python's
    mmap module would refuse) and stores one byte at touch_at."""
    def touch():
        fd = os.open(path, os.O_RDWR)
        addr = LIBC.mmap(None, map_size, mmap.PROT_READ | mmap.PROT_WRITE,
                         mmap.MAP_SHARED, fd, 0)
        assert addr not in (None, ctypes.c_void_p(-1).value)
        if shrink_to is not None:
            os.ftruncate(fd, shrink_to)
        ctypes.memset(addr + touch_at, 1, 1)
    return in_child(touch)


def case_mmap_past_end_and_truncation(m, mode):
    if mode == "fallback":
        return  # no MAP_SHARED in the fallback
    for suffix in ("past", "shrunk"):
        make_direct(m, suffix, bytes(4096))
    for path in (m.segment("past"), direct(m, "past")):
        assert sigbus_through(path, 8192, 5000) == -signal.SIGBUS, path
    for path in (m.segment("shrunk"), direct(m, "shrunk")):
        os.truncate(path, 8192)
        assert sigbus_through(path, 8192, 6000, shrink_to=4096) == -signal.SIGBUS, path


def case_zero_length(m, mode):
    make_direct(m, "empty")
    assert os.stat(m.segment("empty")).st_size == 0
    fd = os.open(m.segment("empty"), os.O_RDWR)
    assert os.read(fd, 10) == b""
    outcomes = []
    for f in (fd, os.open(direct(m, "empty"), os.O_RDWR)):
        try:
            mmap.mmap(f, 0)
            outcomes.append("mapped")
        except (ValueError, OSError) as e:
            outcomes.append(type(e).__name__)
    assert outcomes[0] == outcomes[1] == "ValueError", outcomes


def case_bad_input(m, mode):
    shm = os.path.join(m.path, "shm")
    make_direct(m, "b")
    expect_errno(errno.EPERM, os.mkdir, os.path.join(shm, m.name("dir")))
    expect_errno(errno.EPERM, os.rename, m.segment("b"), m.segment("c"))
    expect_errno(errno.ENAMETOOLONG, os.open, os.path.join(shm, "x" * 256), os.O_CREAT | os.O_RDWR)
    expect_errno(errno.EINVAL, os.open, os.path.join(shm, "sem." + m.name("s")), os.O_CREAT | os.O_RDWR)
    assert not os.path.exists(os.path.join(DIRECT, "sem." + m.name("s")))
    assert os.listdir(shm) is not None and m.alive()


def case_non_root_refused(m, mode):
    make_direct(m, "private", b"secret", mode=0o600)
    make_direct(m, "readable", bytes(4096), mode=0o644)

    def try_private():
        expect_errno(errno.EACCES, os.open, m.segment("private"), os.O_RDONLY)
        expect_errno(errno.EACCES, os.truncate, m.segment("private"), 0)
        expect_errno(errno.EPERM, os.unlink, m.segment("private"))

    def try_readable():
        fd = os.open(m.segment("readable"), os.O_RDONLY)
        expect_errno(errno.EACCES, os.open, m.segment("readable"), os.O_RDWR)
        if mode == "passthrough":
            expect_errno(errno.EACCES, mmap.mmap, fd, 4096)  # MAP_SHARED, PROT_WRITE
            ro = mmap.mmap(fd, 4096, prot=mmap.PROT_READ)
            assert ro[:4] == bytes(4)
    assert as_user(65534, try_private) == 0
    assert as_user(65534, try_readable) == 0
    assert read_direct(m, "private", 6) == b"secret"


def case_stale_open_file_does_not_reach_a_new_object(m, mode):
    """A user keeps its own segment open, removes it, and root makes a new
    private one of that name: the old file goes on reaching its own
    segment, as on /dev/shm, and never changes root's."""
    def keep_and_try():
        fd = os.open(m.segment("stale"), os.O_RDWR | os.O_CREAT, 0o600)
        os.unlink(m.segment("stale"))
        os.write(w, b"go")
        os.read(r2, 2)  # root made its segment
        os.fchmod(fd, 0o666)
        os.ftruncate(fd, 2)
        os.pwrite(fd, b"mi", 0)
        again = os.open("/proc/self/fd/%d" % fd, os.O_RDWR)
        st = os.fstat(again)
        assert (st.st_mode & 0o777, st.st_size, st.st_nlink) == (0o666, 2, 0), st
        assert os.pread(again, 10, 0) == b"mi"
        os.close(again)
    r, w = os.pipe()
    r2, w2 = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            keep_and_try()
            os._exit(0)
        except BaseException:
            os._exit(1)
    os.read(r, 2)
    make_direct(m, "stale", b"root's", mode=0o600)
    os.write(w2, b"go")
    _, status = os.waitpid(pid, 0)
    st = os.stat(direct(m, "stale"))
    assert (status, st.st_mode & 0o777, st.st_size) == (0, 0o600, 6), (status, st)


def case_no_set_id_bits(m, mode):
    """README: chmod refuses set-id bits, and an object made elsewhere
    with them loses them when opened for writing through the mount, as the
    kernel would take them at its first write, which with passthrough the
    daemon never sees. Read-only opens keep them."""
    make_direct(m, "setid", b"data", mode=0o644)
    path = m.segment("setid")
    for bits in (0o4644, 0o2644, 0o6755):
        expect_errno(errno.EINVAL, os.chmod, path, bits)
    assert oct(os.stat(direct(m, "setid")).st_mode & 0o7777) == "0o644"
    os.chmod(direct(m, "setid"), 0o6755)
    os.close(os.open(path, os.O_RDONLY))
    assert oct(os.stat(direct(m, "setid")).st_mode & 0o7777) == "0o6755"
    fd = os.open(path, os.O_WRONLY)
    try:
        assert oct(os.stat(direct(m, "setid")).st_mode & 0o7777) == "0o755"
        assert os.write(fd, b"DA") == 2
    finally:
        os.close(fd)
    assert read_direct(m, "setid", 4) == b"DAta"
    assert oct(os.stat(path).st_mode & 0o7777) == "0o755"


def make_tests():
    tests = {}
    for name, fn in list(globals().items()):
        if not name.startswith("case_"):
            continue
        for mode, options in MODES.items():
            def test(fn=fn, mode=mode, options=options):
                with Mount(options) as m:
                    fn(m, mode)
            tests["test_%s_%s" % (name[5:], mode)] = test
    return tests


if __name__ == "__main__":
    run(make_tests())
