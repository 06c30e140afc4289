#!/bin/bash
# The shell end of examples/sysv_queue.c's System V queue, through the
# mount and nothing else: no ipcs, no C. It works out the key that ftok
# gives for PATH and PROJ, then reads and writes MOUNT/sysv/msg/KEY.
#
#   sysv_queue.sh MOUNT PATH PROJ key            prints the key, as 0x%08x
#   sysv_queue.sh MOUNT PATH PROJ send TEXT...   sends each TEXT as one message
#   sysv_queue.sh MOUNT PATH PROJ receive N      receives N messages (waiting
#                                                for them), each on a line
#
# send and receive create the queue (mode 0600) if there is none yet.
set -eu
if [ $# -lt 4 ]; then
	echo "usage: $0 MOUNT PATH PROJ key | send TEXT... | receive N" >&2
	exit 2
fi
mount=$1 path=$2 proj=$3 command=$4
shift 4

# glibc's ftok: the project's low 8 bits, then the low 8 bits of the
# file's device number, then the low 16 bits of its inode number.
read -r dev ino < <(stat -L -c '%d %i' "$path")
key=$(printf '0x%08x' $(( (proj & 0xff) << 24 | (dev & 0xff) << 16 | (ino & 0xffff) )))
if [ "$command" = key ]; then
	echo "$key"
	exit 0
fi

# The file's name is the key as ipcs prints it; touch makes the queue.
queue=$mount/sysv/msg/$key
[ -e "$queue" ] || (umask 077 && touch "$queue")

case $command in
send)
	for text in "$@"; do
		printf '%s' "$text" > "$queue" # one write, one message (type 1)
	done
	;;
receive)
	for _ in $(seq "$1"); do
		# One read is one message; cat would go on reading (and waiting)
		# until a read returned nothing.
		dd if="$queue" bs=65536 count=1 status=none
		echo
	done
	;;
*)
	echo "$0: unknown command: $command" >&2
	exit 2
	;;
esac
