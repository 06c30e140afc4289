"""Who may do what through the mount: the daemon runs as root, but queues
made through it belong to their creator, and the kernel checks every access
against the real queue's owner and mode (default_permissions). mq/ is 01777
like /dev/mqueue, so only a queue's owner removes or changes it."""
import errno
import os
import stat

from ipcfs_test import (as_user, PosixQueue, create_queue, direct_owner_and_mode, expect_errno, opened,
                        run, watched_mount)

NOBODY = 65534
OTHER = 65533  # a second unprivileged user; setuid needs no passwd entry
ROOT_MESSAGE = b"root's message"
# Small queues: every queue counts against the bytes root may have in queues.
MOUNT_OPTIONS = "allow_other,mq_maxmsg=10,mq_msgsize=64"


def create_through_mount(path, mode):
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, mode))


def open_and_close(path, flags):
    os.close(os.open(path, flags))


def read_message(path):
    with opened(path, os.O_RDONLY | os.O_NONBLOCK) as fd:
        return os.read(fd, 64)


def write_message(path, data):
    with opened(path, os.O_WRONLY | os.O_NONBLOCK) as fd:
        os.write(fd, data)


def expect_owner_and_mode(m, suffix, uid, gid, mode):
    """The queue has this owner and mode, both through the mount and as the
    kernel has it."""
    st = os.stat(m.queue(suffix))
    mounted = (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))
    direct = direct_owner_and_mode(m.name(suffix))
    wanted = (uid, gid, mode)
    assert stat.S_ISREG(st.st_mode) and mounted == wanted and direct == wanted, \
        "uid, gid, mode: %r through the mount, %r in the kernel, expected %r" % (
            mounted, direct, wanted)


def root_queue_with_message(m, suffix, mode):
    """A queue created directly by root, holding ROOT_MESSAGE."""
    q = create_queue(m.name(suffix), mode)
    q.send(ROOT_MESSAGE)
    return q


def expect_curmsgs(q, count):
    curmsgs = q.attr().curmsgs
    assert curmsgs == count, "%d messages in the queue, expected %d" % (curmsgs, count)


def nobody_queue(m, suffix, mode=0o600):
    """A queue created through the mount by NOBODY; its path."""
    as_user(NOBODY, create_through_mount, m.queue(suffix), mode)
    return m.queue(suffix)


def test_creator_owns_queue_made_through_mount():
    with watched_mount(MOUNT_OPTIONS) as m:
        nobody_queue(m, "mine", 0o600)
        expect_owner_and_mode(m, "mine", NOBODY, NOBODY, 0o600)


def test_private_root_queue_closed_to_others():
    with watched_mount(MOUNT_OPTIONS) as m, root_queue_with_message(m, "private", 0o600) as q:
        path = m.queue("private")
        expect_errno(errno.EACCES, as_user, NOBODY, open_and_close, path, os.O_RDONLY)
        expect_errno(errno.EACCES, as_user, NOBODY, open_and_close, path, os.O_WRONLY)
        expect_errno(errno.EACCES, as_user, NOBODY, os.getxattr, path, "user.mq.curmsgs")
        # mq/ is sticky: others may not remove what is not theirs.
        expect_errno(errno.EPERM, as_user, NOBODY, os.unlink, path)
        expect_errno(errno.EPERM, as_user, NOBODY, os.chmod, path, 0o666)
        expect_errno(errno.EPERM, as_user, NOBODY, os.chown, path, NOBODY, NOBODY)
        expect_owner_and_mode(m, "private", 0, 0, 0o600)
        expect_curmsgs(q, 1)
        assert q.receive() == (ROOT_MESSAGE, 0)


def test_readable_root_queue_read_only_for_others():
    with watched_mount(MOUNT_OPTIONS) as m, root_queue_with_message(m, "readable", 0o644) as q:
        path = m.queue("readable")
        assert as_user(NOBODY, read_message, path) == ROOT_MESSAGE
        expect_curmsgs(q, 0)
        expect_errno(errno.EACCES, as_user, NOBODY, open_and_close, path, os.O_WRONLY)
        expect_curmsgs(q, 0)


def test_sticky_directory_protects_creator():
    with watched_mount(MOUNT_OPTIONS) as m:
        path = nobody_queue(m, "guarded")
        expect_errno(errno.EPERM, as_user, OTHER, os.unlink, path)
        expect_errno(errno.EPERM, as_user, OTHER, os.chmod, path, 0o666)
        expect_owner_and_mode(m, "guarded", NOBODY, NOBODY, 0o600)

        as_user(NOBODY, os.chmod, path, 0o666)
        expect_owner_and_mode(m, "guarded", NOBODY, NOBODY, 0o666)
        as_user(OTHER, write_message, path, b"from 65533")
        with PosixQueue(m.name("guarded"), os.O_RDONLY | os.O_NONBLOCK) as q:
            assert q.receive() == (b"from 65533", 0)


def test_root_gives_queue_away():
    with watched_mount(MOUNT_OPTIONS) as m:
        create_queue(m.name("given")).close()
        os.chown(m.queue("given"), NOBODY, NOBODY)
        expect_owner_and_mode(m, "given", NOBODY, NOBODY, 0o600)


def test_user_cannot_give_queue_away():
    with watched_mount(MOUNT_OPTIONS) as m:
        path = nobody_queue(m, "kept")
        expect_errno(errno.EPERM, as_user, NOBODY, os.chown, path, OTHER, -1)
        expect_owner_and_mode(m, "kept", NOBODY, NOBODY, 0o600)


if __name__ == "__main__":
    run(globals())
