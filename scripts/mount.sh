#!/bin/sh
# Builds ipcfs if needed and mounts it at MOUNTPOINT (default /mnt/ipc).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
mnt=${1:-/mnt/ipc}
sh "$top/scripts/setup.sh"
mkdir -p "$mnt"
# FUSE over io_uring, which ipcfs serves over where the kernel's switch is
# on: the daemon only reads the switch, so it is turned on here (and at
# boot by what meson install puts in place).
switch=/sys/module/fuse/parameters/enable_uring
if [ ! -e "$switch" ]; then
	echo "this kernel has no $switch: ipcfs serves through /dev/fuse"
elif grep -q '^[Y1]' "$switch"; then
	echo "FUSE over io_uring is on ($switch)"
elif echo 1 >"$switch"; then
	echo "turned FUSE over io_uring on: echo 1 > $switch"
else
	echo "could not turn FUSE over io_uring on ($switch): ipcfs serves through /dev/fuse"
fi
if grep -q " $mnt fuse.ipcfs " /proc/mounts; then
	echo "ipcfs is already mounted at $mnt"
else
	"$top/build/ipcfs" -o allow_other "$mnt"
	echo "ipcfs is mounted at $mnt"
fi
cat <<TRY

Try:
  touch $mnt/mq/hello                 # create a POSIX message queue
  echo 'hi there' > $mnt/mq/hello     # one write = one mq_send
  getfattr -d $mnt/mq/hello           # maxmsg, msgsize, curmsgs, priority
  cat $mnt/mq/hello                   # one read = one mq_receive; waits when empty (Ctrl-C)
  rm $mnt/mq/hello                    # mq_unlink
  ls -l $mnt/mq                       # every queue on the host
  dd if=/dev/zero of=$mnt/shm/seg bs=4k count=1   # a shared memory segment (/dev/shm/seg)
  touch $mnt/sem/slots; echo +3 > $mnt/sem/slots   # a named semaphore, value 3
  cat $mnt/sem/slots; echo wait > $mnt/sem/slots   # shows 3, then takes one
  rm $mnt/shm/seg $mnt/sem/slots

Unmount with: umount $mnt
TRY
