#!/usr/bin/env python3
"""A System V shared memory segment mapped from Python with mmap, through
its file in the mount: no shmget, no shmat.

    sysv_shm_map.py MOUNT KEY

Maps MOUNT/sysv/shm/KEY (KEY as ipcs prints it, e.g. 0x000004d2; the
segment must exist and be at least 4096 bytes long) MAP_SHARED, prints the
text that a program attached with shmat left at offset 2048 (up to its
first NUL byte), then stores b"hello from python" and a NUL at offset 0.
Both go through the mapping only, which is the segment's own memory: the
shmat users see the store at once, without a write or an msync."""
import mmap
import os
import sys

THEIRS = 2048  # where the other side writes
MESSAGE = b"hello from python\0"

mount, key = sys.argv[1], sys.argv[2]
path = os.path.join(mount, "sysv", "shm", key)

fd = os.open(path, os.O_RDWR)
size = os.fstat(fd).st_size  # the segment's size, as ipcs -m shows it
with mmap.mmap(fd, size, flags=mmap.MAP_SHARED,
               prot=mmap.PROT_READ | mmap.PROT_WRITE) as segment:
    print(segment[THEIRS:size].split(b"\0", 1)[0].decode())
    segment[0:len(MESSAGE)] = MESSAGE
os.close(fd)
