#!/usr/bin/env python3
"""A queue file used from Python with nothing but os.open, os.write,
select.poll and os.read.

    mq_example.py MOUNT NAME

Creates MOUNT/mq/NAME, sends three messages (one os.write each), shows
how many wait, reads them back (one os.read each) while poll says one is
waiting, then removes the queue."""
import os
import select
import sys

mount, name = sys.argv[1], sys.argv[2]
path = os.path.join(mount, "mq", name)

fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
for message in (b"alpha", b"beta", b"gamma"):
    os.write(fd, message)
print("waiting:", os.getxattr(path, "user.mq.curmsgs").decode())

poller = select.poll()
poller.register(fd, select.POLLIN)
os.set_blocking(fd, False)
while poller.poll(0):
    print(os.read(fd, 8192).decode())
os.close(fd)
os.unlink(path)
