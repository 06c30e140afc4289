#!/usr/bin/env python3
"""A shared memory file mapped from Python with the mmap module.

    shm_mmap.py MOUNT NAME

Creates MOUNT/shm/NAME, sizes it to 4096 bytes, maps it MAP_SHARED, writes
b"hello from python" at offset 0 through the mapping (no write call), then
prints what os.pread of the file returns at offset 0. Leaves the object in
place, so that it can be looked at as /dev/shm/NAME and removed after."""
import mmap
import os
import sys

SIZE = 4096
MESSAGE = b"hello from python"

mount, name = sys.argv[1], sys.argv[2]
path = os.path.join(mount, "shm", name)

fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
os.ftruncate(fd, SIZE)
with mmap.mmap(fd, SIZE, flags=mmap.MAP_SHARED,
               prot=mmap.PROT_READ | mmap.PROT_WRITE) as segment:
    segment[0:len(MESSAGE)] = MESSAGE
print(os.pread(fd, len(MESSAGE), 0).decode())
os.close(fd)
