#!/bin/sh
# Builds ipcfs if needed and runs the whole test suite three times: as
# built over FUSE io_uring, built with AddressSanitizer and
# UndefinedBehaviorSanitizer over io_uring, where any report fails the
# run, and as built over /dev/fuse. The last line reads "N passed, N
# failed", counting each test case of every run and each sanitizer report.
#   IPCFS_SANITIZE=0 sh scripts/test.sh    without the sanitized run
#   IPCFS_TRANSPORTS=io_uring sh scripts/test.sh    without the /dev/fuse run
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
# The transport is the kernel's switch, which the daemon only reads: on
# for the io_uring runs, off for the /dev/fuse one, and put back as it was
# afterwards. Where the kernel has no such switch, every run is over
# /dev/fuse, and this says so.
URING_SWITCH=/sys/module/fuse/parameters/enable_uring
uring_saved=$(cat "$URING_SWITCH" 2>/dev/null || true)
restore_uring() {
	case "$uring_saved" in
	Y | 1) echo 1 >"$URING_SWITCH" ;;
	N | 0) echo 0 >"$URING_SWITCH" ;;
	esac
}
trap restore_uring EXIT
use_transport() {
	if [ -z "$uring_saved" ]; then
		echo "the kernel has no $URING_SWITCH: this run is over /dev/fuse"
		return
	fi
	case "$1" in
	io_uring) echo 1 >"$URING_SWITCH" ;;
	*) echo 0 >"$URING_SWITCH" ;;
	esac
	echo "== the suite over $1 =="
}
transports=${IPCFS_TRANSPORTS:-io_uring dev_fuse}

# One test at a time: the tests share the daemon user's queue budget
# (RLIMIT_MSGQUEUE), which parallel runs could spend between them.
status=0
logs=
# run_suite BUILD_DIR TRANSPORT LOGBASE [meson test arguments]
run_suite() {
	dir=$1 transport=$2 logbase=$3
	shift 3
	use_transport "$transport"
	meson test -C "$dir" --num-processes 1 --print-errorlogs --logbase "$logbase" "$@" ||
		status=1
	sweep_mounts
	logs="$logs $dir/meson-logs/$logbase.json"
}

first=${transports%% *}
run_suite "$top/build" "$first" "testlog-$first" "$@"

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
	# handle_abort, handle_sigtrap, handle_sigill: an abort() (libfuse's
	# own checks), a g_error() (SIGTRAP) or a trap is a report with its
	# stack too, not a death that leaves nothing behind, as the sanitizers'
	# defaults would have it.
	ASAN_OPTIONS="log_path=$reports/report:handle_sigbus=0:detect_leaks=1:handle_abort=1:handle_sigtrap=1:handle_sigill=1" \
	UBSAN_OPTIONS="log_path=$reports/report:print_stacktrace=1:halt_on_error=1" \
		run_suite "$san" "$first" "testlog-$first" "$@"
fi

for transport in ${transports#"$first"}; do
	run_suite "$top/build" "$transport" "testlog-$transport" "$@"
done

python3 "$top/scripts/count-tests.py" $logs ${reports:+--reports "$reports"} \
	--leftovers "$leftovers"
counted=$?
[ -n "${reports:-}" ] && rm -rf "$reports"
rm -f "$leftovers"
[ "$status" -eq 0 ] && [ "$counted" -eq 0 ]
