#!/bin/bash
# The daemon as a program: options, errors, mounting and unmounting.
T_NO_MOUNT=1
. "$TESTS_DIR/lib.sh"

mounted() { grep -q " $1 fuse.ipcfs " /proc/mounts; }

# Waits up to 5 s for the mount at $1 to go away.
wait_unmounted() {
	for _ in $(seq 100); do
		mounted "$1" || return 0
		sleep 0.05
	done
	return 1
}

t_eq "--version names the version" "ipcfs version 0.1.0" "$("$IPCFS" --version | head -n 1)"
t_eq "--help shows usage and exits 0" "usage: $IPCFS [options] MOUNTPOINT|0" \
	"$("$IPCFS" --help | head -n 1)|$?"
t_eq "--help lists the mq options" "1" "$("$IPCFS" --help | grep -c -- '-o mq_maxmsg=N')"

# Bad input: one line on stderr and a non-zero status.
check_refused() {
	local desc=$1 want=$2 err status
	shift 2
	err=$("$IPCFS" "$@" 2>&1 >/dev/null)
	status=$?
	if [ "$status" -ne 0 ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] &&
		printf '%s' "$err" | grep -qF "$want"; then
		ok "$desc"
	else
		not_ok "$desc" "status $status, stderr: $err"
	fi
}
check_refused "no mount point: one line, non-zero" "no mount point" -f
check_refused "a mount point that does not exist" "bad mount point" -f /nonexistent/ipcfs
check_refused "an unknown option" "unknown option" -f -o no_such_option "$MNT"
check_refused "a bad mq_maxmsg value" "bad value in option 'mq_maxmsg=abc'" -f -o mq_maxmsg=abc "$MNT"
check_refused "three plain arguments" "too many arguments" a b "$MNT"
t_eq "nothing was mounted by the refusals" "" "$(grep " $MNT " /proc/mounts)"

# Without -f the command returns once the mount is ready.
"$IPCFS" -o mq_maxmsg=4,mq_msgsize=128 "$MNT"
t_eq "ipcfs returns with the mount ready" "0:yes" "$?:$(mounted "$MNT" && echo yes)"
touch "$MNT/mq/${P}opt"
t_eq "-o mq_maxmsg,mq_msgsize size new queues" "4 128 0" "$("$MQTOOL" attr "${P}opt")"
rm "$MNT/mq/${P}opt"
daemon=$(pgrep -f "^$IPCFS -o mq_maxmsg=4,mq_msgsize=128 $MNT\$")
kill -TERM "$daemon"
wait_unmounted "$MNT"
for _ in $(seq 100); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.05; done
t_eq "SIGTERM unmounts and the daemon exits" "1:gone" \
	"$(echo "$daemon" | wc -w):$(mounted "$MNT" || kill -0 "$daemon" 2>/dev/null || echo gone)"

"$IPCFS" -f "$MNT" &
IPCFS_PID=$!
for _ in $(seq 100); do mounted "$MNT" && break; sleep 0.05; done
kill -INT "$IPCFS_PID"
wait "$IPCFS_PID"
status=$?
t_eq "SIGINT in the foreground: unmounted, exit 0" "0:" "$status:$(grep " $MNT " /proc/mounts)"
IPCFS_PID=

# The way mount.fuse3 (and so fstab and mount -t fuse.ipcfs) calls it.
PATH=$(dirname "$IPCFS"):$PATH mount.fuse3 ipcfs "$MNT" -t fuse.ipcfs -o allow_other,mq_maxmsg=6
t_eq "mount.fuse3 mounts it with the source as fsname" "ipcfs $MNT fuse.ipcfs" \
	"$(grep " $MNT " /proc/mounts | cut -d' ' -f1-3)"
touch "$MNT/mq/${P}viafuse3"
t_eq "options pass through mount.fuse3" "6 8192 0" "$("$MQTOOL" attr "${P}viafuse3")"
umount "$MNT"
t_eq "umount takes it down" "" "$(grep " $MNT " /proc/mounts)"

# mount -t fuse.ipcfs and an fstab line need ipcfs on mount's own PATH;
# link the build there for the test if nothing else is installed. From /,
# so that mount does not take the source "ipcfs" for the build's file.
cd /
linked=
if [ ! -e /usr/local/bin/ipcfs ]; then
	ln -s "$IPCFS" /usr/local/bin/ipcfs && linked=1
fi
if command -v ipcfs >/dev/null 2>&1 || [ -n "$linked" ]; then
	mount -t fuse.ipcfs ipcfs "$MNT" -o allow_other
	t_eq "mount -t fuse.ipcfs" "ipcfs $MNT fuse.ipcfs" "$(grep " $MNT " /proc/mounts | cut -d' ' -f1-3)"
	umount "$MNT" 2>/dev/null
	fstab=$(mktemp)
	echo "ipcfs $MNT fuse.ipcfs allow_other,mq_msgsize=256 0 0" > "$fstab"
	mount --fstab "$fstab" "$MNT"
	touch "$MNT/mq/${P}fstab"
	t_eq "an fstab line mounts it, with its options" "10 256 0" "$("$MQTOOL" attr "${P}fstab")"
	umount "$MNT" 2>/dev/null
	rm -f "$fstab"
else
	ok "mount -t fuse.ipcfs # SKIP another ipcfs is installed in /usr/local/bin"
	ok "fstab # SKIP another ipcfs is installed in /usr/local/bin"
fi
[ -n "$linked" ] && rm -f /usr/local/bin/ipcfs

t_done
