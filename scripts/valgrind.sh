#!/bin/sh
# Runs the mq, sem and shm tests with the daemon under valgrind's memcheck
# and fails on any error or definite leak it reports.
#   sh scripts/valgrind.sh [TEST...]     default: the mq, sem and shm tests
# valgrind 3.19 (Debian 12) does not know fsopen, so the daemon cannot make
# its private view of the queues; /dev/mqueue is mounted for the run (and
# unmounted after, if this script mounted it).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
sh "$top/scripts/setup.sh" || exit 1
command -v valgrind >/dev/null || {
	apt-get update -q >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q valgrind >/dev/null
} || exit 1
[ $# -gt 0 ] || set -- test_mq.sh test_mq_waiting.py test_sem.py test_shm.py

work=$(mktemp -d /tmp/ipcfs-valgrind.XXXXXX)
mounted_mqueue=
cleanup() {
	[ -n "$mounted_mqueue" ] && umount /dev/mqueue
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
if ! grep -q " /dev/mqueue mqueue " /proc/mounts; then
	mkdir -p /dev/mqueue && mount -t mqueue none /dev/mqueue && mounted_mqueue=1
fi

cat > "$work/ipcfs" <<WRAP
#!/bin/sh
exec valgrind --quiet --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \\
	--log-file="$work/log.%p" "$top/build/ipcfs" "\$@"
WRAP
chmod +x "$work/ipcfs"

status=0
for t in "$@"; do
	case $t in
	*.py) run="/usr/bin/python3 $top/tests/$t" ;;
	*.sh) run="bash $top/tests/$t" ;;
	esac
	echo "== $t"
	IPCFS="$work/ipcfs" MQTOOL="$top/build/tests/mqtool" PYTHONPATH="$top/tests" \
	TESTS_DIR="$top/tests" EXAMPLES_DIR="$top/examples" BUILD_DIR="$top/build" \
		$run | grep -v "^ok " || status=1
done
# --quiet leaves in a log only what valgrind found (lines "==PID== ...")
# and its warnings ("--PID-- ..."), such as the unknown fsopen.
for log in "$work"/log.*; do
	grep -q "^==[0-9]*== " "$log" || continue
	echo "== valgrind: $log"
	cat "$log"
	status=1
done
[ "$status" -eq 0 ] && echo "valgrind: no errors, no definite leaks"
exit "$status"
