"""What the daemon says, and where: GLib logging with the domain "ipcfs",
debug output with G_MESSAGES_DEBUG or -d, every FUSE request and answer
with -d, stderr in the foreground and syslog once daemonized."""
import os
import socket
import subprocess
import tempfile
import time

from ipcfs_test import IPCFS, run, start_daemon


class Daemon:
    """ipcfs ARGS... at a fresh directory; stops it and unmounts on leaving."""

    def __init__(self, *args, env=None, foreground=True):
        self.args = list(args)
        self.env = dict(os.environ, **(env or {}))
        self.foreground = foreground

    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="ipcfs-log.")
        self.err = tempfile.TemporaryFile()
        self.out = tempfile.TemporaryFile()
        args = (["-f"] if self.foreground else []) + self.args + [self.path]
        self.proc = start_daemon(args, stdout=self.out, stderr=self.err, env=self.env)
        deadline = time.time() + 5
        while time.time() < deadline and not self.mounted():
            time.sleep(0.05)
        assert self.mounted(), "ipcfs did not mount"
        return self

    def mounted(self):
        with open("/proc/mounts") as f:
            return any(line.split()[1] == self.path for line in f)

    def stdout(self):
        self.out.seek(0)
        return self.out.read().decode(errors="replace")

    def stderr(self):
        self.err.seek(0)
        return self.err.read().decode(errors="replace")

    def __exit__(self, *exc):
        if self.mounted():
            subprocess.run(["umount", self.path], stderr=subprocess.DEVNULL)
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(5)
        os.rmdir(self.path)
        return False


def settle_and_read(d):
    time.sleep(0.2)
    return d.stderr()


def test_messages_carry_the_domain():
    with Daemon() as d:
        err = settle_and_read(d)
    assert "ipcfs-Message" in err and "passthrough: on" in err, err
    assert "DEBUG" not in err, err


def test_g_messages_debug_turns_on_debug_output():
    with Daemon(env={"G_MESSAGES_DEBUG": "ipcfs"}) as d:
        err = settle_and_read(d)
    assert d.stdout() == "", d.stdout()  # stdout may be anyone's: nothing there
    assert "ipcfs-DEBUG" in err and "one read or write of a message carries at most" in err, err


def test_d_shows_each_request_and_its_answer():
    with Daemon("-d") as d:
        try:
            os.stat(os.path.join(d.path, "mq", "no-such-queue"))
        except FileNotFoundError:
            pass
        os.listdir(os.path.join(d.path, "mq"))
        err = settle_and_read(d)
    assert "opcode: LOOKUP" in err and "opcode: READDIR" in err, err[-2000:]
    assert "error: -2 (No such file or directory)" in err, err[-2000:]
    assert "ipcfs-DEBUG" in err, err[-2000:]  # -d turns on the daemon's debug log too


def test_daemonized_logs_go_to_syslog():
    if os.path.exists("/dev/log"):
        print("# /dev/log exists (a syslog daemon): not replacing it")
        return
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind("/dev/log")
    try:
        listener.settimeout(5)
        with Daemon(foreground=False) as d:
            got = []
            deadline = time.time() + 5
            while time.time() < deadline and not any("passthrough" in g for g in got):
                try:
                    got.append(listener.recv(4096).decode(errors="replace"))
                except socket.timeout:
                    break
            # Said before it detached (setup) may be on stderr; nothing after.
            assert "passthrough" not in d.stderr(), d.stderr()
        assert any("ipcfs[" in g and "passthrough: on" in g for g in got), got
        # facility daemon (3), priority notice (5): <29>
        assert any(g.startswith("<29>") for g in got), got
    finally:
        listener.close()
        os.unlink("/dev/log")


run(globals())
