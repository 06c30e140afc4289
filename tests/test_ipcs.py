"""Everything ipcs shows of an object is an xattr of its file: each System
V object, after sends, receives, semops, waits, attaches, detaches, a
lock and a removal while attached, has every fact that `ipcs -q|-s|-m -i
ID` prints read from its file's xattrs and compared with ipcs's own
output (times through ctime(3), as ipcs prints them; "Not set" is 0), and
the status lsipc prints for a segment. A POSIX queue's status line in the
kernel's mqueue file system (bytes queued, and mq_notify's method, signal
and pid) is compared the same way."""
import ctypes
import os
import re
import signal
import subprocess
import tempfile
import threading
import time

from ipcfs_test import KIND_XATTRS, Attached, Mount, PosixQueue, SysV, run, wait_until

SHM_LOCK, IPC_RMID = 11, 0


def ipcs(flag, ident):
    return subprocess.run(["ipcs", flag, "-i", str(ident)], capture_output=True, text=True,
                          check=True, env=dict(os.environ, LC_ALL="C")).stdout


def field(text, name):
    """The value of "name=value" or "name = value" in ipcs's output."""
    m = re.search(r"(?:^|\s)%s\s*=\s*(.*?)(?:\t|$|,)" % re.escape(name), text, re.M)
    assert m, "ipcs printed no %s:\n%s" % (name, text)
    return m.group(1).strip()


def when(seconds):
    """An xattr's time as ipcs prints it."""
    return "Not set" if int(seconds) == 0 else time.ctime(int(seconds))


def xattr(path, name):
    return os.getxattr(path, name).decode()


def check_common(path, out):
    """The owner, creator and mode, as ipcs says."""
    st = os.stat(path)
    assert (field(out, "uid"), field(out, "gid")) == (str(st.st_uid), str(st.st_gid)), out
    assert (field(out, "cuid"), field(out, "cgid")) == (
        xattr(path, "user.sysv.cuid"), xattr(path, "user.sysv.cgid")), out
    assert int(field(out, "mode"), 8) & 0o777 == st.st_mode & 0o777, out


def test_sysv_msg_matches_ipcs():
    with Mount() as m:
        path = m.sysv("msg", 1)
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o640))
        ident = int(xattr(path, "user.sysv.id"))
        os.chown(path, 65534, 65534)
        out = ipcs("-q", ident)
        assert field(out, "send_time") == "Not set" and xattr(path, "user.msg.stime") == "0"
        SysV.msgsnd(ident, b"first")
        time.sleep(1.1)  # the times in whole seconds: each its own
        SysV.msgsnd(ident, b"second!")
        SysV.msgrcv(ident)
        out = ipcs("-q", ident)
        check_common(path, out)
        assert (xattr(path, "user.sysv.cuid"), xattr(path, "user.sysv.cgid")) == ("0", "0")
        for name in ("cbytes", "qbytes", "qnum", "lspid", "lrpid"):
            assert xattr(path, "user.msg." + name) == field(out, name), (name, out)
        assert xattr(path, "user.msg.qnum") == "1" and xattr(path, "user.msg.cbytes") == "7"
        for name, label in (("stime", "send_time"), ("rtime", "rcv_time"),
                            ("ctime", "change_time")):
            assert when(xattr(path, "user.msg." + name)) == field(out, label), (name, out)
        st = os.stat(path)
        assert (int(st.st_mtime), int(st.st_atime), int(st.st_ctime)) == (
            int(xattr(path, "user.msg.stime")), int(xattr(path, "user.msg.rtime")),
            int(xattr(path, "user.msg.ctime")))


def semop_in_thread(ident, ops):
    """A semop that waits, on a thread: the thread, and a box for its error.

    The thread blocks every signal first. A semop stopped by any signal
    fails with EINTR, even one whose action is to ignore it, and is never
    restarted: the waiter has then left the set. This test's own ipcs is
    such a signal's source: CPython's subprocess blocks every signal in the
    thread that starts a child until that thread runs again after vfork,
    and a quick child (ipcs) that exits before then finds SIGCHLD blocked
    there, so the kernel keeps it instead of discarding it and hands it to
    a thread that does not block it, a waiter. On a busy machine that was
    one ipcs in five: semncnt, read after ipcs, had one waiter less."""
    box = {}

    def body():
        signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
        try:
            SysV.semop(ident, ops)
        except OSError as e:
            box["errno"] = e.errno
    t = threading.Thread(target=body, daemon=True)
    t.start()
    return t, box


SEM_COLUMNS = ("semval", "semncnt", "semzcnt", "sempid")


def test_sysv_sem_matches_ipcs():
    with Mount() as m:
        d = os.path.join(m.path, "sysv", "sem")
        os.setxattr(d, "user.sem.nsems", b"3")
        path = m.sysv("sem", 1)
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        ident = int(xattr(path, "user.sysv.id"))
        assert field(ipcs("-s", ident), "otime") == "Not set"
        SysV.semop(ident, [(0, 1), (2, 5)])
        # One waits for semaphore 1 to go up, one for semaphore 0 to be zero.
        waiters = [semop_in_thread(ident, [(1, -1)]), semop_in_thread(ident, [(0, 0)])]
        wait_until(lambda: xattr(path, "user.sem.semncnt") == "0\n1\n0\n" and
                   xattr(path, "user.sem.semzcnt") == "1\n0\n0\n", "the two waiters")
        # Many times: each ipcs is a child whose exit once took a waiter
        # away (semop_in_thread says how); nothing else changes the set.
        for _ in range(50):
            out = ipcs("-s", ident)
            values = {n: xattr(path, "user.sem." + n) for n in SEM_COLUMNS}
            assert not any(box for t, box in waiters), "a waiter left: %r" % waiters
            rows = re.findall(r"^(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$", out, re.M)
            assert len(rows) == 3, out
            for column, name in ((1, "semval"), (2, "semncnt"), (3, "semzcnt"), (4, "sempid")):
                assert values[name] == "".join(r[column] + "\n" for r in rows), (
                    name, values[name], out)
        check_common(path, out)
        assert xattr(path, "user.sem.nsems") == field(out, "nsems") == "3"
        assert when(xattr(path, "user.sem.otime")) == field(out, "otime"), out
        assert when(xattr(path, "user.sem.ctime")) == field(out, "ctime"), out
        assert xattr(path, "user.sem.semval") == "1\n0\n5\n"
        assert xattr(path, "user.sem.sempid") == "%d\n0\n%d\n" % (os.getpid(), os.getpid())
        os.unlink(path)  # wakes the waiters with EIDRM
        for t, box in waiters:
            t.join(5)
            assert box.get("errno") == 43, box  # EIDRM


def lsipc_status(ident):
    out = subprocess.run(["lsipc", "-m", "-i", str(ident), "-o", "STATUS", "--raw",
                          "--noheadings"], capture_output=True, text=True, check=True).stdout
    return out.strip().replace(" ", ",")


def test_sysv_shm_matches_ipcs_and_lsipc():
    with Mount() as m:
        path = m.sysv("shm", 1)
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        ident = int(xattr(path, "user.sysv.id"))
        assert xattr(path, "user.shm.status") == "" == lsipc_status(ident)
        with Attached(ident):
            time.sleep(1.1)
            with Attached(ident) as second:
                second.detach()
            out = ipcs("-m", ident)
            check_common(path, out)
            for name, label in (("segsz", "bytes"), ("lpid", "lpid"), ("cpid", "cpid"),
                                ("nattch", "nattch")):
                assert xattr(path, "user.shm." + name) == field(out, label), (name, out)
            assert xattr(path, "user.shm.nattch") == "1"
            for name, label in (("atime", "att_time"), ("dtime", "det_time"),
                                ("ctime", "change_time")):
                assert when(xattr(path, "user.shm." + name)) == field(out, label), (name, out)
            assert SysV.libc.shmctl(ident, SHM_LOCK, None) == 0
            assert xattr(path, "user.shm.status") == "locked" == lsipc_status(ident)
            # Removed while attached: it lives on, marked for destruction,
            # by the name id.N (its key is gone).
            SysV.shmrm(ident)
            by_id = os.path.join(m.path, "sysv", "shm", "id.%d" % ident)
            assert xattr(by_id, "user.shm.status") == "dest,locked" == lsipc_status(ident)


class SigEvent(ctypes.Structure):
    _fields_ = [("value", ctypes.c_void_p), ("signo", ctypes.c_int), ("notify", ctypes.c_int),
                ("pad", ctypes.c_byte * 48)]


def test_mq_status_line_as_xattrs():
    """mq_notify made by a child process that then waits; the kernel's own
    status line of the queue, through an mqueue mount, against the xattrs."""
    with Mount() as m, tempfile.TemporaryDirectory(prefix="ipcfs-test-mqueue.") as mqdir:
        subprocess.run(["mount", "-t", "mqueue", "none", mqdir], check=True)
        try:
            name = m.name("notify")
            path = m.queue("notify")
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
            with open(path, "wb", buffering=0) as f:
                f.write(b"twelve bytes")
            r, w = os.pipe()
            child = os.fork()
            if child == 0:
                q = PosixQueue(name)
                sev = SigEvent(None, signal.SIGUSR1, 0)  # SIGEV_SIGNAL
                rc = PosixQueue._rt.mq_notify(q.mqd, ctypes.byref(sev))
                os.write(w, b"%d" % rc)
                time.sleep(30)
                os._exit(0)
            try:
                assert os.read(r, 16) == b"0"
                with open(os.path.join(mqdir, name)) as f:
                    line = f.read()
                values = dict(kv.split(":") for kv in line.split())
                assert values == {"QSIZE": "12", "NOTIFY": "0", "SIGNO": str(int(signal.SIGUSR1)),
                                  "NOTIFY_PID": str(child)}, line
                for key in ("QSIZE", "NOTIFY", "SIGNO", "NOTIFY_PID"):
                    assert xattr(path, "user.mq." + key.lower()) == values[key], key
            finally:
                os.kill(child, signal.SIGKILL)
                os.waitpid(child, 0)
                os.close(r)
                os.close(w)
            # Nobody asks now.
            assert xattr(path, "user.mq.notify_pid") == "0"
        finally:
            subprocess.run(["umount", mqdir], check=True)


def test_every_xattr_listed_is_read():
    """What listxattr names is what KIND_XATTRS says, and each reads."""
    with Mount() as m:
        paths = {"sysv/msg": m.sysv("msg", 1), "sysv/sem": m.sysv("sem", 1),
                 "sysv/shm": m.sysv("shm", 1), "mq": m.queue("x")}
        for kind, path in paths.items():
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            assert os.listxattr(path) == KIND_XATTRS[kind], kind
            for name in KIND_XATTRS[kind]:
                os.getxattr(path, name)


run(globals())
