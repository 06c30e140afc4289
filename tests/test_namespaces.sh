#!/bin/bash
# The mount shows the IPC namespace of its daemon: a daemon started in a new
# one (unshare --ipc) sees none of the host's queues, sets or segments, and
# what is made through it stays there. /dev/shm is a file system, not part
# of the IPC namespace: shm/ and sem/ stay the host's.
T_NO_MOUNT=1
. "$TESTS_DIR/lib.sh"
if ! unshare --ipc true 2>/dev/null; then
	echo "1..0 # SKIP unshare --ipc is not allowed here"
	exit 77
fi

sysv_get() { # KEY [FLAGS]: msgget's id, or -1
	/usr/bin/python3 -c "import ctypes,sys; print(ctypes.CDLL(None).msgget(int(sys.argv[1], 16), int(sys.argv[2], 8)))" "$1" "${2:-0}"
}

# On the host, before the daemon starts.
"$MQTOOL" create "${P}host" 2 16 0600
t_eq "host: a System V queue made" "yes" "$([ "$(sysv_get "${K}01" 1600)" -ge 0 ] && echo yes)"
: > "/dev/shm/${P}host"

T_LAUNCHER="unshare --ipc" t_mount

t_eq "the daemon's IPC namespace is not the host's" "different" \
	"$([ "$(readlink /proc/$IPCFS_PID/ns/ipc)" != "$(readlink /proc/self/ns/ipc)" ] && echo different)"
t_eq "mq/ shows none of the host's queues" "" "$(ls "$MNT/mq" | grep -F "${P}host")"
t_eq "sysv/msg/ shows none of the host's queues" "" "$(ls "$MNT/sysv/msg" | grep -F "${K}01")"
t_eq "shm/ is /dev/shm, the host's" "${P}host" "$(ls "$MNT/shm" | grep -F "${P}host")"

touch "$MNT/sysv/msg/${K}02" "$MNT/mq/${P}inside"
echo hello > "$MNT/sysv/msg/${K}02"
t_eq "made through the mount: listed there" "${K}02" "$(ls "$MNT/sysv/msg" | grep -F "${K}02")"
t_eq "made through the mount: in the daemon's namespace" "${K}02" \
	"$(nsenter --ipc --target "$IPCFS_PID" ipcs -q | awk '{print $1}' | grep -F "${K}02")"
t_eq "made through the mount: not on the host (msgget)" "-1" "$(sysv_get "${K}02")"
t_eq "made through the mount: not on the host (ipcs)" "" "$(ipcs -q | grep -F "${K}02")"
t_fails "made through the mount: no such POSIX queue on the host" "ENOENT" \
	"$MQTOOL" attr "${P}inside"
t_eq "the message is there, in the namespace" "hello" \
	"$(dd if="$MNT/sysv/msg/${K}02" bs=64 count=1 status=none)"
t_eq "status counts the namespace's queues only" "1" \
	"$(awk '$1 == "sysv/msg" { print $2 }' "$MNT/status")"

# The namespace, and what is in it, ends with the daemon.
umount "$MNT"
wait "$IPCFS_PID" 2>/dev/null
IPCFS_PID=
t_eq "the host's queues are untouched" "yes" "$([ "$(sysv_get "${K}01")" -ge 0 ] && echo yes)"
t_eq "the host's POSIX queue is untouched" "2 16 0" "$("$MQTOOL" attr "${P}host")"
t_done
