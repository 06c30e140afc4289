"""sysv/shm/: System V shared memory segments through the mount, checked
against the segments themselves, attached here with shmat through ctypes.
Every case runs twice: with FUSE passthrough, where the daemon hands the
kernel the segment's own file and mmap maps the segment, and with -o
no_passthrough, where read and write go through the daemon and
mmap(MAP_SHARED) is refused. Each mount is watched: a daemon that stops
answering is killed and the case fails."""
import ctypes
import errno
import mmap
import os
import re
import subprocess
import time

from ipcfs_test import Attached, SysV, errno_name, expect_errno, run, wait_until, watched_mount

MODES = {"passthrough": "allow_other", "fallback": "allow_other,no_passthrough"}
LOG_SAYS = {"passthrough": b"passthrough: on", "fallback": b"passthrough: off (-o no_passthrough)"}


def shm_dir(m):
    return os.path.join(m.path, "sysv", "shm")


def make_segment(m, n, size, mode=0o600, data=b""):
    """A segment of size bytes with key number n, made directly (not
    through the mount), starting with data; its id."""
    ident = SysV.shmget(m.key(n), size, SysV.IPC_CREAT | SysV.IPC_EXCL | mode)
    if data:
        addr = SysV.shmat(ident)
        ctypes.memmove(addr, data, len(data))
        SysV.shmdt(addr)
    return ident


def ipcs_info(ident):
    """`ipcs -m -i ID`: (bytes, nattch, mode) as util-linux reads them."""
    out = subprocess.run(["ipcs", "-m", "-i", str(ident)], capture_output=True, text=True,
                         check=True).stdout
    return (int(re.search(r"bytes=(\d+)", out).group(1)),
            int(re.search(r"nattch=(\d+)", out).group(1)),
            int(re.search(r"mode=(\d+)", out).group(1), 8))


def create(path, mode=0o600):
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, mode))
    return int(os.getxattr(path, "user.sysv.id"))


def xattrs(path):
    return [(a, os.getxattr(path, a)) for a in os.listxattr(path)]


def in_child(fn):
    """fn() in a forked child; its exit status (0: fn returned), or -signal."""
    pid = os.fork()
    if pid == 0:
        try:
            fn()
            os._exit(0)
        except BaseException:
            import traceback
            traceback.print_exc()
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


def proc_sysvipc_key(kind, ident):
    with open("/proc/sysvipc/" + kind) as f:
        next(f)
        for line in f:
            fields = line.split()
            if int(fields[1]) == ident:
                return int(fields[0]) & 0xffffffff
    return None


# Creating ------------------------------------------------------------------------------

def case_mount_says_its_mode(m, mode):
    """The daemon logs passthrough on or off once the kernel's init is
    answered, which a first request waits for."""
    os.listdir(shm_dir(m))
    deadline = time.monotonic() + 3
    while True:
        m.log.seek(0)
        log = m.log.read()
        if LOG_SAYS[mode] in log or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert LOG_SAYS[mode] in log, log


def case_create_takes_size_from_the_directory_xattr(m, mode):
    d = shm_dir(m)
    assert os.listxattr(d) == ["user.shm.size"]
    assert os.getxattr(d, "user.shm.size") == b"4096"
    ident = create(m.sysv("shm", 1))
    assert (os.stat(m.sysv("shm", 1)).st_size, ipcs_info(ident)) == (4096, (4096, 0, 0o600))
    os.setxattr(d, "user.shm.size", b"65536")
    assert os.getxattr(d, "user.shm.size") == b"65536"
    path = m.sysv("shm", 2)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o640)
    try:
        assert os.fstat(fd).st_size == 65536
        assert os.pread(fd, 70000, 0) == bytes(65536)
    finally:
        os.close(fd)
    ident = int(os.getxattr(path, "user.sysv.id"))
    assert SysV.shmget(m.key(2)) == ident
    assert ipcs_info(ident) == (65536, 0, 0o640)
    st = os.stat(path)
    assert (st.st_size, oct(st.st_mode), st.st_uid, st.st_gid) == (65536, "0o100640", 0, 0)
    assert os.getxattr(path, "user.shm.segsz") == b"65536"
    expect_errno(errno.EEXIST, os.open, path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    os.removexattr(d, "user.shm.size")
    assert os.getxattr(d, "user.shm.size") == b"4096"
    assert ipcs_info(create(m.sysv("shm", 3)))[0] == 4096
    for value in (b"0", b"x", b"-1", b"", b"4k", b"99999999999999999999999"):
        expect_errno(errno.EINVAL, os.setxattr, d, "user.shm.size", value)
    assert os.getxattr(d, "user.shm.size") == b"4096"


def case_size_setting_is_per_user(m, mode):
    d = shm_dir(m)
    os.setxattr(d, "user.shm.size", b"65536")
    path = m.sysv("shm", 1)  # this process's key

    def nobody():
        assert os.getxattr(d, "user.shm.size") == b"4096"
        os.setxattr(d, "user.shm.size", b"12288")
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
    assert as_user(65534, nobody) == 0
    assert os.getxattr(d, "user.shm.size") == b"65536"
    st = os.stat(path)
    assert (st.st_size, st.st_uid, st.st_gid, st.st_mode & 0o777) == (12288, 65534, 65534, 0o600)


def case_mount_option_sets_the_default(m, mode):
    d = shm_dir(m)
    assert os.getxattr(d, "user.shm.size") == b"8192"
    ident = create(m.sysv("shm", 1))
    assert ipcs_info(ident)[0] == 8192
    assert os.stat(m.sysv("shm", 1)).st_size == 8192
    os.setxattr(d, "user.shm.size", b"4096")
    assert ipcs_info(create(m.sysv("shm", 2)))[0] == 4096
    os.removexattr(d, "user.shm.size")
    assert os.getxattr(d, "user.shm.size") == b"8192"


# Bytes ---------------------------------------------------------------------------------------

def case_read_write_reach_the_segment(m, mode):
    ident = make_segment(m, 1, 8192, data=b"0123456789")
    path = m.sysv("shm", 1)
    with Attached(ident) as seg:
        fd = os.open(path, os.O_RDWR)
        try:
            assert os.read(fd, 4) == b"0123"
            assert os.read(fd, 3) == b"456"
            assert os.pread(fd, 3, 7) == b"789"
            assert os.pwrite(fd, b"\x00\xffhello", 5000) == 7
            assert seg.read(5000, 7) == b"\x00\xffhello"
            seg.write(6000, b"direct")
            assert os.pread(fd, 6, 6000) == b"direct"
            seg.write(8188, b"tail")
            assert os.pread(fd, 100, 8188) == b"tail"  # cut at the end
            assert os.pread(fd, 100, 8192) == b""
            assert os.pread(fd, 100, 100000) == b""
            assert os.pwrite(fd, b"endw", 8188) == 4  # up to the end exactly
            assert seg.read(8188, 4) == b"endw"
            whole = os.pread(fd, 1 << 20, 0)
            assert len(whole) == 8192 and whole[:10] == b"0123456789"
        finally:
            os.close(fd)
        out = subprocess.run(["cat", path], capture_output=True)
        assert (out.returncode, len(out.stdout), out.stdout[5000:5007]) == (0, 8192, b"\x00\xffhello")
        with open(path, "r+b") as f:
            f.write(b"ab")
        assert seg.read(0, 4) == b"ab23"
    assert os.stat(path).st_size == 8192
    assert ipcs_info(ident)[0] == 8192


def case_large_segment_through_the_mount(m, mode):
    size = 3 << 20
    ident = make_segment(m, 1, size)
    pattern = bytes(range(256)) * (size // 256)
    fd = os.open(m.sysv("shm", 1), os.O_RDWR)
    try:
        assert os.pwrite(fd, pattern, 0) == size
        with Attached(ident) as seg:
            assert seg.read(0, size) == pattern
            seg.write(size - 5, b"LAST!")
        assert os.pread(fd, size + 100, 0) == pattern[:-5] + b"LAST!"
    finally:
        os.close(fd)


def case_size_not_a_multiple_of_pages(m, mode):
    ident = make_segment(m, 1, 5000, data=b"odd")
    path = m.sysv("shm", 1)
    assert os.stat(path).st_size == 5000
    fd = os.open(path, os.O_RDWR)
    try:
        with Attached(ident) as seg:
            seg.write(4990, b"0123456789")
            assert os.pread(fd, 100, 4990) == b"0123456789"
            assert os.pread(fd, 100, 5000) == b""
            assert os.pwrite(fd, b"abc", 4997) == 3
            assert seg.read(4997, 3) == b"abc"
            assert len(os.pread(fd, 8192, 0)) == 5000
            if mode == "passthrough":
                mp = mmap.mmap(fd, 5000)
                assert mp[:3] == b"odd"
                mp[4999] = 0x21
                assert seg.read(4999, 1) == b"!"
                mp.close()
            else:
                expect_errno(errno.ENOSPC, os.pwrite, fd, b"x", 5000)
    finally:
        os.close(fd)


def case_write_at_the_end_is_enospc(m, mode):
    if mode == "passthrough":
        # The kernel writes to the segment's file and lengthens it
        # (README: stay inside the segment). Not checked here.
        return
    ident = make_segment(m, 1, 4096, data=b"kept")
    fd = os.open(m.sysv("shm", 1), os.O_RDWR)
    try:
        for offset in (4096, 4097, 1 << 20):
            expect_errno(errno.ENOSPC, os.pwrite, fd, b"x", offset)
        assert os.pwrite(fd, b"", 4096) == 0
        assert os.pwrite(fd, b"abcdef", 4093) == 3  # cut at the end
        os.lseek(fd, 4096, os.SEEK_SET)
        expect_errno(errno.ENOSPC, os.write, fd, b"more")
    finally:
        os.close(fd)
    with Attached(ident) as seg:
        assert (seg.read(0, 4), seg.read(4093, 3)) == (b"kept", b"abc")
    assert (os.stat(m.sysv("shm", 1)).st_size, ipcs_info(ident)[0]) == (4096, 4096)


def case_write_past_the_end_is_cut_back(m, mode):
    """README: with passthrough a write past the end lengthens the
    segment's file; the daemon cuts it back to the segment's size at the
    next open and at the last close, and later opens still map it."""
    if mode != "passthrough":
        return
    ident = make_segment(m, 1, 8192, data=b"kept")
    path = m.sysv("shm", 1)
    fd = os.open(path, os.O_RDWR)
    try:
        assert os.pwrite(fd, b"xy", 9000) == 2
        other = os.open(path, os.O_RDONLY)  # found by its start, cut back
        try:
            assert os.pread(other, 4, 0) == b"kept"
            assert os.fstat(other).st_size == 8192
        finally:
            os.close(other)
    finally:
        os.close(fd)
    with Attached(ident) as seg:
        assert seg.read(0, 4) == b"kept"
    fd = os.open(path, os.O_RDWR)
    try:
        with mmap.mmap(fd, 8192) as mapped:
            mapped[0:4] = b"MAPD"
    finally:
        os.close(fd)
    with Attached(ident) as seg:
        assert seg.read(0, 4) == b"MAPD"
    assert (os.stat(path).st_size, ipcs_info(ident)[0]) == (8192, 8192)


def case_mmap_shared(m, mode):
    ident = make_segment(m, 1, 8192, data=b"before")
    fd = os.open(m.sysv("shm", 1), os.O_RDWR)
    try:
        if mode == "fallback":
            expect_errno(errno.ENODEV, mmap.mmap, fd, 8192)
            private = mmap.mmap(fd, 8192, flags=mmap.MAP_PRIVATE)
            assert private[:6] == b"before"
            private.close()
            return
        through = mmap.mmap(fd, 8192)
        with Attached(ident) as seg:
            assert through[:6] == b"before"
            through[0:5] = b"mount"
            assert seg.read(0, 5) == b"mount"  # at once, no msync
            seg.write(4100, b"direct")
            assert through[4100:4106] == b"direct"
            through[8191] = 0x7a
            assert seg.read(8191, 1) == b"z"
            assert os.pread(fd, 6, 4100) == b"direct"
        through.close()
    finally:
        os.close(fd)


def case_mmap_in_a_child_after_fork(m, mode):
    ident = make_segment(m, 1, 4096)
    fd = os.open(m.sysv("shm", 1), os.O_RDWR)
    try:
        with Attached(ident) as seg:
            def child():
                if mode == "fallback":
                    expect_errno(errno.ENODEV, mmap.mmap, fd, 4096)
                    os.pwrite(fd, b"child", 10)
                    return
                mp = mmap.mmap(fd, 4096)
                mp[10:15] = b"child"
                mp.close()
            assert in_child(child) == 0
            assert seg.read(10, 5) == b"child"
            if mode == "passthrough":
                # A mapping made before the fork is the child's too.
                mp = mmap.mmap(fd, 4096)

                def inherited():
                    mp[20:28] = b"inherits"
                assert in_child(inherited) == 0
                assert seg.read(20, 8) == b"inherits"
                mp.close()
    finally:
        os.close(fd)


# Size, attributes ----------------------------------------------------------------------

def case_truncate_keeps_the_segment(m, mode):
    ident = make_segment(m, 1, 8192, data=b"kept bytes")
    path = m.sysv("shm", 1)
    with Attached(ident) as seg:
        seg.write(8000, b"end")
        os.truncate(path, 0)
        os.truncate(path, 8192)
        for size in (1, 4096, 8191, 8193, 1 << 20):
            expect_errno(errno.EINVAL, os.truncate, path, size)
        fd = os.open(path, os.O_RDWR)
        try:
            os.ftruncate(fd, 0)
            os.ftruncate(fd, 8192)
            expect_errno(errno.EINVAL, os.ftruncate, fd, 100)
            assert os.pread(fd, 10, 0) == b"kept bytes"
        finally:
            os.close(fd)
        fd = os.open(path, os.O_RDWR | os.O_TRUNC)
        try:
            assert os.fstat(fd).st_size == 8192
            assert os.pread(fd, 10, 0) == b"kept bytes"
        finally:
            os.close(fd)
        out = subprocess.run(["sh", "-c", "printf new > '%s'" % path], capture_output=True)
        assert (out.returncode, out.stderr) == (0, b"")
        assert (seg.read(0, 10), seg.read(8000, 3)) == (b"newt bytes", b"end")
    assert (os.stat(path).st_size, ipcs_info(ident)[0]) == (8192, 8192)


def case_xattrs(m, mode):
    ident = make_segment(m, 1, 12288, mode=0o640)
    path = m.sysv("shm", 1)
    me = str(os.getpid()).encode()
    ctime = b"%d" % os.stat(path).st_ctime
    assert xattrs(path) == [("user.sysv.id", str(ident).encode()),
                            ("user.sysv.key", b"0x%08x" % m.key(1)),
                            ("user.sysv.cuid", b"0"), ("user.sysv.cgid", b"0"),
                            ("user.shm.segsz", b"12288"), ("user.shm.nattch", b"0"),
                            ("user.shm.cpid", me), ("user.shm.lpid", b"0"),
                            ("user.shm.atime", b"0"), ("user.shm.dtime", b"0"),
                            ("user.shm.ctime", ctime), ("user.shm.status", b""),
                            ("user.ipc.holders", b"")]
    with Attached(ident):
        assert os.getxattr(path, "user.shm.nattch") == b"1"
        assert os.getxattr(path, "user.shm.lpid") == me
        with Attached(ident):
            assert os.getxattr(path, "user.shm.nattch") == b"2"
        assert os.getxattr(path, "user.shm.nattch") == b"1"
    assert os.getxattr(path, "user.shm.nattch") == b"0"
    # An open through the mount attaches in the daemon.
    os.close(os.open(path, os.O_RDONLY))
    assert os.getxattr(path, "user.shm.lpid") == str(m.proc.pid).encode()
    assert os.getxattr(path, "user.shm.nattch") == b"0"
    assert os.getxattr(path, "user.shm.cpid") == me
    expect_errno(errno.ENODATA, os.getxattr, path, "user.shm.other")
    expect_errno(errno.ENODATA, os.getxattr, path, "user.sem.nsems")
    # Made through the mount: the daemon made it.
    create(m.sysv("shm", 2))
    assert os.getxattr(m.sysv("shm", 2), "user.shm.cpid") == str(m.proc.pid).encode()


def case_open_file_holds_an_attachment(m, mode):
    """README: each open file through the mount holds an attachment in the
    daemon, in either mode, as a process that shmat'ed it would: nattch
    counts it, and the segment outlives IPC_RMID until the last close."""
    ident = make_segment(m, 1, 4096)
    fd = os.open(m.sysv("shm", 1), os.O_RDWR)
    try:
        got = os.getxattr(m.sysv("shm", 1), "user.shm.nattch")
        assert got == b"1", "nattch %s while open, want 1" % got
        assert ipcs_info(ident)[1] == 1
        fd2 = os.open(m.sysv("shm", 1), os.O_RDONLY)
        assert ipcs_info(ident)[1] == 2
        os.close(fd2)
        # The kernel sends a file's release after close() has returned.
        wait_until(lambda: ipcs_info(ident)[1] == 1, "nattch 1 after a close")
        SysV.shmrm(ident)
        # Removed, it lives on, nameless, while the file is open.
        assert ipcs_info(ident)[1] == 1
        assert os.fstat(fd).st_nlink == 0
        os.fchmod(fd, 0o640)
        assert ipcs_info(ident)[2] & 0o777 == 0o640
    finally:
        os.close(fd)
    wait_until(lambda: not segment_exists(ident), "the segment gone after its last close")


def segment_exists(ident):
    try:
        SysV.shmdt(SysV.shmat(ident))
        return True
    except OSError as e:
        # EIDRM: caught while the kernel destroys it after its last detach.
        assert e.errno in (errno.EINVAL, errno.EIDRM), e
        return False


def case_stat_times(m, mode):
    ident = make_segment(m, 1, 4096)
    path = m.sysv("shm", 1)
    st = os.stat(path)
    assert st.st_atime == st.st_mtime == st.st_ctime  # never attached: its ctime
    time.sleep(1.1)
    seg = Attached(ident)
    attached = os.stat(path)
    assert attached.st_atime > st.st_atime and attached.st_mtime == st.st_mtime
    time.sleep(1.1)
    seg.detach()
    detached = os.stat(path)
    assert detached.st_mtime > attached.st_mtime and detached.st_atime == attached.st_atime


# Removing ------------------------------------------------------------------------------

def case_rm_while_attached_leaves_id_n(m, mode):
    ident = make_segment(m, 1, 4096, data=b"still here")
    path = m.sysv("shm", 1)
    name, id_name = "0x%08x" % m.key(1), "id.%d" % ident
    seg = Attached(ident)
    try:
        os.unlink(path)
        listed = os.listdir(shm_dir(m))
        assert name not in listed and id_name in listed, listed
        expect_errno(errno.ENOENT, os.stat, path)
        expect_errno(errno.ENOENT, SysV.shmget, m.key(1))
        by_id = os.path.join(shm_dir(m), id_name)
        assert os.stat(by_id).st_size == 4096
        assert os.getxattr(by_id, "user.sysv.key") == b"0x00000000"
        assert os.getxattr(by_id, "user.shm.nattch") == b"1"
        assert seg.read(0, 10) == b"still here"
        # Still open by its id while it lives (Linux lets shmat reach it).
        with open(by_id, "r+b") as f:
            assert f.read(10) == b"still here"
            f.seek(0)
            f.write(b"STILL")
        assert seg.read(0, 10) == b"STILL here"
    finally:
        seg.detach()
    assert id_name not in os.listdir(shm_dir(m))
    expect_errno(errno.ENOENT, os.stat, os.path.join(shm_dir(m), id_name))
    expect_errno(errno.EINVAL, SysV.shmat, ident)


def case_rm_without_attachments(m, mode):
    ident = make_segment(m, 1, 4096)
    os.unlink(m.sysv("shm", 1))
    listed = os.listdir(shm_dir(m))
    assert "0x%08x" % m.key(1) not in listed and "id.%d" % ident not in listed
    expect_errno(errno.EINVAL, SysV.shmat, ident)
    expect_errno(errno.ENOENT, os.unlink, m.sysv("shm", 1))


def case_removed_and_made_again_while_open(m, mode):
    """An open file keeps reaching its own segment: not a new one that
    took the key since."""
    make_segment(m, 1, 4096, data=b"old one")
    path = m.sysv("shm", 1)
    fd = os.open(path, os.O_RDWR)
    try:
        os.unlink(path)
        ident = make_segment(m, 1, 4096, data=b"new one")
        assert os.pread(fd, 7, 0) == b"old one"
        os.pwrite(fd, b"OLD", 0)
        with open(path, "rb") as f:
            assert f.read(7) == b"new one"
        with Attached(ident) as seg:
            assert seg.read(0, 7) == b"new one"
        assert os.pread(fd, 7, 0) == b"OLD one"
    finally:
        os.close(fd)


def case_chmod_chown_change_the_segment(m, mode):
    ident = make_segment(m, 1, 4096)
    path = m.sysv("shm", 1)
    os.chmod(path, 0o640)
    assert ipcs_info(ident)[2] == 0o640
    os.chown(path, 65534, 65534)
    st = os.stat(path)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (65534, 65534, 0o640)
    expect_errno(errno.EINVAL, os.chmod, path, 0o4640)
    assert ipcs_info(ident)[2] == 0o640


# Interop, permissions --------------------------------------------------------------------

def case_interop_with_ipcmk_and_ipcrm(m, mode):
    out = subprocess.run(["ipcmk", "-M", "8192"], capture_output=True, text=True)
    found = re.match(r"Shared memory id: (\d+)$", out.stdout.strip())
    assert out.returncode == 0 and found, out
    ident = int(found.group(1))
    try:
        key = proc_sysvipc_key("shm", ident)
        name = "0x%08x" % key if key else "id.%d" % ident
        path = os.path.join(shm_dir(m), name)
        assert name in os.listdir(shm_dir(m))
        st = os.stat(path)
        assert (st.st_size, st.st_mode & 0o777, st.st_uid) == (8192, 0o644, 0)
        with open(path, "r+b") as f:
            f.write(b"from the mount")
        with Attached(ident) as seg:
            assert seg.read(0, 14) == b"from the mount"
            seg.write(100, b"from ipcmk's")
            with open(path, "rb") as f:
                f.seek(100)
                assert f.read(12) == b"from ipcmk's"
        rm = subprocess.run(["ipcrm", "-m", str(ident)], capture_output=True)
        assert rm.returncode == 0, rm
        assert name not in os.listdir(shm_dir(m))
        expect_errno(errno.ENOENT, os.stat, path)
    finally:
        subprocess.run(["ipcrm", "-m", str(ident)], stderr=subprocess.DEVNULL)


def case_shell_tools(m, mode):
    ident = make_segment(m, 1, 8192, data=b"original")
    path = m.sysv("shm", 1)
    src = os.path.join(m.path, "..", os.path.basename(m.path) + ".src")
    with open(src, "wb") as f:
        f.write(b"copied!")
    try:
        for command in ("printf hello | dd of='{0}' bs=1 seek=100 conv=notrunc status=none",
                        "printf world | dd of='{0}' status=none",
                        "cp '{1}' '{0}'",
                        "test $(wc -c < '{0}') = 8192",
                        "dd if='{0}' bs=1 skip=100 count=5 status=none | grep -qx hello"):
            out = subprocess.run(["sh", "-c", command.format(path, src)], capture_output=True)
            assert (command, out.returncode, out.stderr) == (command, 0, b""), out
    finally:
        os.unlink(src)
    with Attached(ident) as seg:
        assert (seg.read(0, 10), seg.read(100, 5)) == (b"copied!l\0\0", b"hello")


def case_private_segment_is_id_n(m, mode):
    ident = SysV.shmget(0, 4096, SysV.IPC_CREAT | 0o600)  # IPC_PRIVATE
    try:
        name = "id.%d" % ident
        path = os.path.join(shm_dir(m), name)
        assert name in os.listdir(shm_dir(m))
        assert os.getxattr(path, "user.sysv.key") == b"0x00000000"
        assert os.stat(path).st_size == 4096
        fd = os.open(path, os.O_RDWR)
        try:
            assert os.pwrite(fd, b"private", 1000) == 7
            with Attached(ident) as seg:
                assert seg.read(1000, 7) == b"private"
                seg.write(0, b"both ways")
            assert os.pread(fd, 9, 0) == b"both ways"
        finally:
            os.close(fd)
        # An id.N that exists just opens; one that doesn't can't be made.
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        expect_errno(errno.EEXIST, os.open, path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        expect_errno(errno.ENOENT, os.stat, os.path.join(shm_dir(m), "id.0%d" % ident))
    finally:
        SysV.shmrm(ident)
    assert "id.%d" % ident not in os.listdir(shm_dir(m))


def case_non_root_refused(m, mode):
    make_segment(m, 1, 4096, mode=0o600, data=b"secret")
    make_segment(m, 2, 4096, mode=0o644, data=b"readable")
    private, readable = m.sysv("shm", 1), m.sysv("shm", 2)  # this process's keys

    def try_private():
        for flags in (os.O_RDONLY, os.O_WRONLY, os.O_RDWR):
            expect_errno(errno.EACCES, os.open, private, flags)
        expect_errno(errno.EACCES, os.truncate, private, 0)
        expect_errno(errno.EPERM, os.unlink, private)

    def try_readable():
        fd = os.open(readable, os.O_RDONLY)
        assert os.pread(fd, 8, 0) == b"readable"
        expect_errno(errno.EBADF, os.pwrite, fd, b"x", 0)
        for flags in (os.O_WRONLY, os.O_RDWR):
            expect_errno(errno.EACCES, os.open, readable, flags)
        if mode == "passthrough":
            expect_errno(errno.EACCES, mmap.mmap, fd, 4096)  # MAP_SHARED, PROT_WRITE
            ro = mmap.mmap(fd, 4096, prot=mmap.PROT_READ)
            assert ro[:8] == b"readable"
            ro.close()
    assert as_user(65534, try_private) == 0
    assert as_user(65534, try_readable) == 0
    with Attached(SysV.shmget(m.key(1))) as seg:
        assert seg.read(0, 6) == b"secret"
    with Attached(SysV.shmget(m.key(2))) as seg:
        assert seg.read(0, 9) == b"readable\0"


def case_daemon_alive_after_bad_input(m, mode):
    d = shm_dir(m)
    make_segment(m, 1, 4096, data=b"ok")
    for bad in ("foo", "0x00000000", "0x4d2", "0X%08x" % m.key(2), "id.999999999"):
        expect_errno(errno.EINVAL, os.open, os.path.join(d, bad), os.O_CREAT | os.O_RDWR, 0o600)
    expect_errno(errno.EPERM, os.mkdir, os.path.join(d, "0x%08x" % m.key(2)))
    expect_errno(errno.EPERM, os.rename, m.sysv("shm", 1), m.sysv("shm", 3))
    expect_errno(errno.EPERM, os.link, m.sysv("shm", 1), m.sysv("shm", 3))
    expect_errno(errno.EINVAL, os.chmod, m.sysv("shm", 1), 0o1600)
    for value in (b"\0", b"1\0", b"9" * 1000):
        expect_errno(errno.EINVAL, os.setxattr, d, "user.shm.size", value)
    expect_errno(errno.ENOTSUP, os.setxattr, d, "user.shm.other", b"1")
    # A size the kernel refuses (over shmmax or the memory there is).
    os.setxattr(d, "user.shm.size", b"%d" % (1 << 62))
    try:
        os.close(os.open(m.sysv("shm", 4), os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
        made = "made"
    except OSError as e:
        made = errno_name(e.errno)
    assert made in ("EINVAL", "ENOMEM", "ENOSPC"), made
    assert m.alive()
    with open(m.sysv("shm", 1), "rb") as f:
        assert f.read(2) == b"ok"


def make_tests():
    extra = {"mount_option_sets_the_default": ",sysv_shm_size=8192"}
    tests = {}
    for name, fn in list(globals().items()):
        if not name.startswith("case_"):
            continue
        for mode, options in MODES.items():
            def test(fn=fn, mode=mode, options=options + extra.get(name[5:], "")):
                with watched_mount(options, seconds=40) as m:
                    os.umask(0o022)
                    fn(m, mode)
            tests["test_%s_%s" % (name[5:], mode)] = test
    return tests


if __name__ == "__main__":
    run(make_tests())
