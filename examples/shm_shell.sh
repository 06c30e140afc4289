#!/bin/sh
# Shared memory from a shell, which has no mmap: dd writes bytes at an
# offset of a shm file, od reads them back. Both reach the segment's own
# bytes, the ones every process that mapped it sees.
#
#   shm_shell.sh /mnt/ipc/shm/NAME OFFSET TEXT
#
# Creates the segment with 4096 bytes if it is not there, writes TEXT at
# OFFSET leaving every other byte alone, and prints the bytes at OFFSET
# back, in hex. conv=notrunc matters: without it dd would cut the segment
# right after what it wrote.
set -eu
segment=$1
offset=$2
text=$3
if [ ! -e "$segment" ]; then
	touch "$segment"
	truncate -s 4096 "$segment"
fi
printf '%s' "$text" | dd of="$segment" bs=1 seek="$offset" conv=notrunc status=none
od -An -v -tx1 -j "$offset" -N "$(printf '%s' "$text" | wc -c)" "$segment"
