#!/bin/sh
# Builds ipcfs if needed and mounts it at MOUNTPOINT (default /mnt/ipc).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
mnt=${1:-/mnt/ipc}
sh "$top/scripts/setup.sh"
mkdir -p "$mnt"
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
