#!/bin/sh
# Builds ipcfs and the benchmark if needed, then measures at full size and
# prints the table that README.md's "Benchmark" section keeps. As root.
# Options go to bench.py (--tiny, --only SECTION,..., --verbose).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
sh "$top/scripts/setup.sh"
exec /usr/bin/python3 "$top/bench/bench.py" "$@"
