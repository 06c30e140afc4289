# tests/lib.sh: the mount fixture and TAP helpers for shell tests.
#
# Sourcing it mounts a fresh ipcfs (unless T_NO_MOUNT is set) (options from IPCFS_TEST_OPTS) at $MNT,
# run in the foreground as $IPCFS_PID, and arranges that on exit, passed or
# failed, the queues, shared memory objects and semaphores named $P* are
# removed and the mount is taken down.
# Every object a test makes is named "$P..." so cleanup finds it.
# Needs: IPCFS (the daemon), MQTOOL (tests/mqtool), from meson.

set -u
: "${IPCFS:?set by meson: path of build/ipcfs}"
: "${MQTOOL:?set by meson: path of tests/mqtool}"

if [ ! -c /dev/fuse ]; then
	echo "1..0 # SKIP no /dev/fuse"
	exit 77
fi

T_COUNT=0
T_FAILED=0
MNT=$(mktemp -d /tmp/ipcfs-test.XXXXXX)
LOG=$MNT.log
P="t$$-"
# System V keys: $K followed by two hex digits, e.g. "${K}01" is a name in
# sysv/*/; tests/ipcfs_test.py uses the same range (0x5a, pid, n).
K=$(printf '0x5a%04x' $(( $$ & 0xffff )))
KEY_BASE=$(( 0x5a000000 | (($$ & 0xffff) << 8) ))

# ipcrm of every System V object with a key of this run. The table is read
# whole first: removing entries while reading it skips the next ones.
t_remove_sysv() {
	local kind flag row key id rest rows
	for kind in msg:-q sem:-s shm:-m; do
		flag=${kind#*:}
		mapfile -t rows < /proc/sysvipc/${kind%:*}
		for row in "${rows[@]}"; do
			read -r key id rest <<< "$row"
			case $key in key|"") continue ;; esac
			[ $(( (key & 0xffffffff) & ~0xff )) -eq $KEY_BASE ] && ipcrm "$flag" "$id" 2>/dev/null
		done
	done
}

t_cleanup() {
	t_remove_sysv
	"$MQTOOL" clean "$P" 2>/dev/null
	rm -f /dev/shm/"$P"* /dev/shm/sem."$P"*
	if grep -q " $MNT " /proc/mounts; then
		umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
	fi
	if [ -n "${IPCFS_PID:-}" ]; then
		kill "$IPCFS_PID" 2>/dev/null
		wait "$IPCFS_PID" 2>/dev/null
	fi
	rmdir "$MNT" 2>/dev/null
	rm -f "$LOG"
}
trap t_cleanup EXIT
trap 'exit 1' INT TERM

# Mounts and waits until the kernel shows the mount.
t_mount() {
	# T_LAUNCHER: a command to start the daemon with (unshare --ipc ...).
	# --pdeathsig: the daemon gets SIGTERM, and unmounts, once this shell
	# is gone, however it ended.
	setpriv --pdeathsig TERM ${T_LAUNCHER:-} "$IPCFS" -f "$MNT" -o allow_other${IPCFS_TEST_OPTS:+,$IPCFS_TEST_OPTS} 2>"$LOG" &
	IPCFS_PID=$!
	for _ in $(seq 100); do
		grep -q " $MNT fuse.ipcfs " /proc/mounts && return 0
		kill -0 "$IPCFS_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "Bail out! ipcfs did not mount: $(cat "$LOG")"
	exit 1
}

ok() {
	T_COUNT=$((T_COUNT + 1))
	echo "ok $T_COUNT - $1"
}

not_ok() {
	T_COUNT=$((T_COUNT + 1))
	T_FAILED=$((T_FAILED + 1))
	echo "not ok $T_COUNT - $1"
	echo "not ok $T_COUNT - $1" >&2 # where CI's summary shows it
	shift
	for line in "$@"; do echo "#   $line"; echo "    $line" >&2; done
}

# t_eq DESCRIPTION EXPECTED ACTUAL
t_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "expected: $(printf %q "$2")" "got:      $(printf %q "$3")"; fi
}

# t_fails DESCRIPTION ERRNO-TEXT COMMAND...: the command fails, saying ERRNO-TEXT.
t_fails() {
	local desc=$1 want=$2 out
	shift 2
	if out=$("$@" 2>&1); then
		not_ok "$desc" "succeeded, expected failure with: $want"
	elif printf '%s' "$out" | grep -qF "$want"; then
		ok "$desc"
	else
		not_ok "$desc" "expected: $want" "got: $out"
	fi
}

t_done() {
	echo "1..$T_COUNT"
	[ "$T_FAILED" -eq 0 ]
}

[ -n "${T_NO_MOUNT:-}" ] || t_mount
