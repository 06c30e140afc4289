#!/bin/sh
# Builds ipcfs if needed and runs the whole test suite. The last line
# reads "N passed, N failed", counting each test case.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
sh "$top/scripts/setup.sh" || exit 1
# One test at a time: the tests share the daemon user's queue budget
# (RLIMIT_MSGQUEUE), which parallel runs could spend between them.
meson test -C "$top/build" --num-processes 1 --print-errorlogs "$@"
status=$?
python3 "$top/scripts/count-tests.py" "$top/build/meson-logs/testlog.json"
counted=$?
[ "$status" -eq 0 ] && [ "$counted" -eq 0 ]
