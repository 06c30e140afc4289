#!/bin/sh
# Builds ipcfs if needed and runs the whole test suite twice: as built,
# then built with AddressSanitizer and UndefinedBehaviorSanitizer, where
# any report fails the run. The last line reads "N passed, N failed",
# counting each test case of both runs and each sanitizer report.
#   IPCFS_SANITIZE=0 sh scripts/test.sh    the first run only
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
sh "$top/scripts/setup.sh" || exit 1
leftovers=$(mktemp /tmp/ipcfs-leftovers.XXXXXX)

# A test must unmount what it mounted, however it ended. Any ipcfs mount
# still up in /tmp after a pass is one more failed case, named, and is
# unmounted here so that the next pass starts clean.
sweep_mounts() {
	awk '$3 == "fuse.ipcfs" && $2 ~ "^/tmp/" { print $2 }' /proc/mounts |
	while read -r mnt; do
		echo "a test left a mount: $mnt" >>"$leftovers"
		umount "$mnt" 2>/dev/null || umount -l "$mnt"
	done
}
# The transport: FUSE over io_uring is used wherever the kernel's switch
# is on. Until its lost-interrupt race is handled (README, Transport), the
# suite runs over /dev/fuse, and tests/test_transport.py turns the switch
# on for its own mounts; the switch is put back as it was afterwards.
URING_SWITCH=/sys/module/fuse/parameters/enable_uring
uring_saved=$(cat "$URING_SWITCH" 2>/dev/null || true)
restore_uring() {
	case "$uring_saved" in
	Y | 1) echo 1 >"$URING_SWITCH" ;;
	N | 0) echo 0 >"$URING_SWITCH" ;;
	esac
}
trap restore_uring EXIT
[ -n "$uring_saved" ] && echo 0 >"$URING_SWITCH"

# One test at a time: the tests share the daemon user's queue budget
# (RLIMIT_MSGQUEUE), which parallel runs could spend between them.
meson test -C "$top/build" --num-processes 1 --print-errorlogs "$@"
status=$?
sweep_mounts
logs="$top/build/meson-logs/testlog.json"

if [ "${IPCFS_SANITIZE:-1}" != 0 ]; then
	san="$top/build-sanitize"
	if [ ! -f "$san/build.ninja" ]; then
		(cd "$top" && meson setup "$san" -Db_sanitize=address,undefined -Db_lundef=false \
			>/dev/null) || exit 1
	fi
	ninja -C "$san" >/dev/null || exit 1
	reports=$(mktemp -d /tmp/ipcfs-sanitizer.XXXXXX)
	# Every report, leaks at exit included, lands in a file of its own.
	# handle_sigbus=0: the daemon catches SIGBUS itself (ipc/guard.c).
	ASAN_OPTIONS="log_path=$reports/report:handle_sigbus=0:detect_leaks=1" \
	UBSAN_OPTIONS="log_path=$reports/report:print_stacktrace=1:halt_on_error=1" \
		meson test -C "$san" --num-processes 1 --print-errorlogs "$@" || status=1
	sweep_mounts
	logs="$logs $san/meson-logs/testlog.json --reports $reports"
fi

python3 "$top/scripts/count-tests.py" $logs --leftovers "$leftovers"
counted=$?
[ -n "${reports:-}" ] && rm -rf "$reports"
rm -f "$leftovers"
[ "$status" -eq 0 ] && [ "$counted" -eq 0 ]
