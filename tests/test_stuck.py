"""A process stuck in execve holds up nobody else.

A process that execs while it has a close-on-exec file of a FUSE file
system that does not answer FLUSH stays in execve, and meanwhile most of
its /proc entries (ns/ipc, root, fd/ links, maps) make their reader wait.
Any user can arrange that with a FUSE file system of their own. Here the
stalling file system is ipcfs-floor -o stall_flush (bench/floor.c), which
answers the FLUSHes it holds at SIGUSR1.

Checked while such a process is stuck, as a process of the host and as the
only process of a container's IPC namespace: every request of other users
answers, root lists ns/ and reaches ns/N, user.ipc.holders and status
answer, and a holder that is not stuck is still named. Once the stall ends,
the process that was stuck is seen again.
"""
import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import tempfile
import time

from ipcfs_test import Mount, _die_with_the_test, as_user, run, wait_until, within

FLOOR = os.path.join(os.environ.get("BUILD_DIR", ""), "bench", "ipcfs-floor")
NOBODY = 65534
ANSWER_WITHIN = 2.0  # seconds any request may take while a process is stuck

# argv: the stalling file system's file, then what to exec. Opens the file
# close-on-exec, says its pid, then execs: the exec waits on the FLUSH.
STUCK = r"""
import os, sys
os.open(sys.argv[1], os.O_RDONLY | os.O_CLOEXEC)
print(os.getpid(), flush=True)
os.execv(sys.argv[2], sys.argv[2:])
"""


@contextlib.contextmanager
def stalling_fs():
    """A mount of ipcfs-floor -o stall_flush: yields (its file, a function
    that answers every FLUSH held). Everything held is answered and the
    mount ended on leaving."""
    path = tempfile.mkdtemp(prefix="ipcfs-stall.")
    proc = subprocess.Popen([FLOOR, "-f", path, "-o", "stall_flush,allow_other"],
                            stderr=subprocess.DEVNULL, preexec_fn=_die_with_the_test)
    try:
        wait_until(lambda: os.path.exists(os.path.join(path, "f")), "the stalling mount")

        def release():
            proc.send_signal(signal.SIGUSR1)

        yield os.path.join(path, "f"), release
    finally:
        proc.send_signal(signal.SIGUSR1)
        subprocess.run(["umount", "-l", path], stderr=subprocess.DEVNULL)
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        os.rmdir(path)


@contextlib.contextmanager
def stuck_process(stall_file, release, launcher=(), holding=None):
    """A process of nobody's stuck in execve (of sleep) on stall_file;
    holding: a path it keeps open across the exec. Yields its pid. A stuck
    process can't even be killed (a FLUSH is waited out), so the stall is
    ended (release) before it is."""
    fd = os.open(holding, os.O_RDONLY | os.O_NONBLOCK) if holding else None
    try:
        proc = subprocess.Popen(list(launcher) + [
            "setpriv", "--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups",
            sys.executable, "-c", STUCK, stall_file, "/bin/sleep", "600"],
            stdout=subprocess.PIPE, pass_fds=(fd,) if fd is not None else ())
    finally:
        if fd is not None:
            os.close(fd)
    pid = None
    try:
        pid = int(proc.stdout.readline())
        yield pid
    finally:
        release()
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.kill()
        proc.wait()


def in_time(what, fn, *args):
    """fn(*args), which must answer within ANSWER_WITHIN s (a call that
    does not is left to the cleanup, which ends the stall), and how long
    it took."""
    start = time.monotonic()
    value = within(ANSWER_WITHIN, what, fn, *args)
    return value, time.monotonic() - start


def ipc_namespace_of(pid):
    """The inode of pid's IPC namespace, asked of a pidfd: its
    /proc/PID/ns/ipc would wait while it is stuck."""
    PIDFD_GET_IPC_NAMESPACE = 0xFF << 8 | 2  # _IO(0xFF, 2)
    pidfd = os.pidfd_open(pid)
    try:
        ns = fcntl.ioctl(pidfd, PIDFD_GET_IPC_NAMESPACE)
        try:
            return os.fstat(ns).st_ino
        finally:
            os.close(ns)
    finally:
        os.close(pidfd)


def as_nobody(fn, *args):
    return as_user(NOBODY, fn, *args)


def holders(path):
    return os.getxattr(path, "user.ipc.holders").decode()


def check_everyone_answered(m, queue):
    in_time("stat of mq/ by nobody", as_nobody, os.stat, m.mq)
    in_time("ls mq/", os.listdir, m.mq)
    in_time("ls ns/", os.listdir, os.path.join(m.path, "ns"))
    with open(os.path.join(m.path, "status")) as f:
        text, _ = in_time("a read of status", f.read)
    assert "held" in text, text
    got, _ = in_time("user.ipc.holders", holders, queue)
    return got


def test_a_process_stuck_in_exec_holds_up_nobody():
    with Mount() as m, stalling_fs() as (stall, release):
        queue = m.queue("held")
        os.close(os.open(queue, os.O_CREAT | os.O_RDWR, 0o666))
        fd = os.open(queue, os.O_RDONLY | os.O_NONBLOCK)
        try:
            keeper = subprocess.Popen(["sleep", "600"], pass_fds=(fd,))
        finally:
            os.close(fd)
        try:
            with stuck_process(stall, release, holding=queue) as stuck:
                got = check_everyone_answered(m, queue)
                # The holder that is not stuck is named; the stuck one can't
                # be looked at.
                assert got == "%d sleep\n" % keeper.pid, got
                # The next asks don't wait for it again.
                _, seconds = in_time("user.ipc.holders again", holders, queue)
                assert seconds < 0.5, seconds
                release()
                want = "".join("%d sleep\n" % p for p in sorted((keeper.pid, stuck)))
                wait_until(lambda: holders(queue) == want,
                           "the process no longer stuck is seen again", limit=5)
        finally:
            keeper.kill()
            keeper.wait()


def test_a_container_whose_only_process_is_stuck_stays_reachable():
    with Mount() as m, stalling_fs() as (stall, release):
        launcher = ["unshare", "--ipc"]  # execs: the only process of N
        with stuck_process(stall, release, launcher=launcher) as stuck:
            ns = str(ipc_namespace_of(stuck))
            listed, _ = in_time("ls ns/", os.listdir, os.path.join(m.path, "ns"))
            assert ns in listed, (ns, listed)
            top = os.path.join(m.path, "ns", ns)
            listed, _ = in_time("ls ns/N", os.listdir, top)
            assert sorted(listed) == ["mq", "sem", "shm", "sysv"], listed
            in_time("ls ns/N/sysv/msg", os.listdir, os.path.join(top, "sysv", "msg"))
            pid, _ = in_time("user.ns.pid", os.getxattr, top, "user.ns.pid")
            assert int(pid) == stuck, (pid, stuck)
            queue = os.path.join(top, "mq", "q")
            in_time("a queue made in ns/N/mq", lambda: os.close(os.open(queue, os.O_CREAT | os.O_RDWR, 0o600)))
            assert check_everyone_answered(m, queue) == ""
            in_time("rm of it", os.unlink, queue)


if __name__ == "__main__":
    run(globals())
