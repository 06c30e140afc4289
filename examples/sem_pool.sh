#!/bin/bash
# A pool of jobs that run at most N at a time, with a semaphore file as
# the pool's N slots: a job takes a slot with "echo wait", which returns
# once there is one, and gives it back with "echo post".
#
#   sem_pool.sh MOUNT NAME N JOBS
#
# Makes MOUNT/sem/NAME (it must not exist yet), posts N, runs JOBS jobs in
# the background and waits for them all, then removes the semaphore. Each
# job prints "start I" when it has a slot and "end I" just before it gives
# the slot back, so the output shows how many ran at once.
set -eu
if [ $# -ne 4 ]; then
	echo "usage: $0 MOUNT NAME N JOBS" >&2
	exit 2
fi
sem=$1/sem/$2
slots=$3
jobs=$4

(set -C; : > "$sem") # made with O_EXCL: someone else's pool is left alone
trap 'rm -f "$sem"' EXIT
echo "+$slots" > "$sem"

job() {
	echo wait > "$sem"
	echo "start $1"
	sleep 0.2 # the work
	echo "end $1"
	echo post > "$sem"
}

pids=()
for i in $(seq "$jobs"); do
	job "$i" &
	pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do
	wait "$pid" || failed=$((failed + 1))
done
if [ "$failed" -gt 0 ]; then
	echo "$failed jobs failed" >&2
	exit 1
fi
