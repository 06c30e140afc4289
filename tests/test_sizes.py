"""What ls -l shows as a file's size: a queue's bytes queued, a
semaphore's value; and, through a file open for writing, 1 MiB, so that a
write that waits never holds the inode's lock against another write to
the same inode (doc/mq.md: "ls -l shows a queue's bytes queued...")."""
import os
import threading
import time

from ipcfs_test import Mount, run, watched_mount


def small_queue_sizes(m):
    mq = os.path.join(m.path, "mq")
    os.setxattr(mq, "user.mq.maxmsg", b"4")
    os.setxattr(mq, "user.mq.msgsize", b"64")


def test_queue_size_is_its_bytes_queued():
    with Mount() as m:
        small_queue_sizes(m)
        path = m.queue("q")
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        assert os.stat(path).st_size == 0
        with open(path, "wb", buffering=0) as f:
            f.write(b"hello")
            f.write(b"ab")
            assert os.fstat(f.fileno()).st_size == 1 << 20  # open for writing
            assert os.stat(path).st_size == 7  # a new lookup: the queue's own
        assert os.stat(path).st_size == 7
        assert [e.stat().st_size for e in os.scandir(os.path.join(m.path, "mq"))
                if e.name == m.name("q")] == [7]
        fd = os.open(path, os.O_RDONLY)
        assert os.read(fd, 64) == b"hello"
        assert os.fstat(fd).st_size == 2  # open for reading only
        os.close(fd)


def test_semaphore_size_is_its_value():
    with Mount() as m:
        path = os.path.join(m.path, "sem", m.name("s"))
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        assert os.stat(path).st_size == 0
        with open(path, "w") as f:
            f.write("+3")
        assert os.stat(path).st_size == 3


def test_writers_of_one_inode_do_not_hold_each_other_up():
    """Two opens of the very same inode (the second through /proc/self/fd,
    which opens it again without a lookup): a wait parked through one,
    the post through the other must go through, not wait for the inode's
    lock behind the parked write."""
    with watched_mount(seconds=30) as m:
        path = os.path.join(m.path, "sem", m.name("s"))
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        waiter = os.open(path, os.O_WRONLY)
        poster = os.open("/proc/self/fd/%d" % waiter, os.O_WRONLY)
        try:
            done = []
            t = threading.Thread(target=lambda: done.append(os.write(waiter, b"wait")))
            t.start()
            time.sleep(0.3)
            assert done == []  # parked
            posted = []
            p = threading.Thread(target=lambda: posted.append(os.write(poster, b"post")))
            p.start()
            p.join(5)
            t.join(5)
            assert (posted, done) == ([4], [4]), (posted, done)
            # (checked last: an fstat asks the daemon for the size)
            assert os.fstat(waiter).st_ino == os.fstat(poster).st_ino
        finally:
            os.close(poster)
            os.close(waiter)


run(globals())
