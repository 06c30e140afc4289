#!/bin/bash
# Runs each semaphore example in examples/ against a real mount: a pool of
# shell jobs limited by a semaphore file, and a C program sharing a
# semaphore with the shell through sem_open.
. "$TESTS_DIR/lib.sh"
SCRATCH=$(mktemp -d)
BACKGROUND=()
stop_background() {
	local pid
	for pid in "${BACKGROUND[@]}"; do
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
}
trap 'stop_background; rm -rf "$SCRATCH"; t_cleanup' EXIT
EXAMPLE=$BUILD_DIR/examples/sem-example

# max_running LOG: the most jobs between their "start" and their "end" at once.
max_running() {
	awk '$1 == "start" { n++; if (n > max) max = n } $1 == "end" { n-- } END { print max + 0 }' "$1"
}

# finished PID TICKS: true if PID ends within TICKS twentieths of a second.
finished() {
	local _
	for _ in $(seq "$2"); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
	done
	return 1
}

# t_true DESCRIPTION COMMAND...: the command succeeds.
t_true() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc" "failed: $*"; fi
}

# still_running PID: PID has not ended within 0.3 s.
still_running() {
	! finished "$1" 6
}

# ends_well PID: PID ends within 5 s, with status 0.
ends_well() {
	finished "$1" 100 && wait "$1"
}

# The pool: 10 jobs of 0.2 s each through 3 slots.
POOL_LOG=$SCRATCH/pool.log
timeout 60 bash "$EXAMPLES_DIR/sem_pool.sh" "$MNT" "${P}pool" 3 10 > "$POOL_LOG" 2>"$SCRATCH/pool.err"
t_eq "sem_pool.sh: exits 0 and says nothing on stderr" "0:" "$?:$(cat "$SCRATCH/pool.err")"
t_eq "sem_pool.sh: every job started and ended once" \
	"$(seq 10 | sed 's/^/end /'; seq 10 | sed 's/^/start /')" "$(sort -k1,1 -k2n "$POOL_LOG")"
t_eq "sem_pool.sh: never more than 3 jobs at once, and 3 at times" "3" "$(max_running "$POOL_LOG")"
t_fails "sem_pool.sh removed its semaphore" "No such file" stat "/dev/shm/sem.${P}pool"

touch "$MNT/sem/${P}taken"
t_fails "sem_pool.sh refuses a semaphore that is there already" "${P}taken" \
	bash "$EXAMPLES_DIR/sem_pool.sh" "$MNT" "${P}taken" 1 1
t_eq "... and leaves it alone" "0" "$(cat "$MNT/sem/${P}taken")"

# The C program and the shell, one semaphore.
S=$MNT/sem/${P}c
touch "$S"
echo +3 > "$S"
t_eq "C example takes the 3 the shell posted" "took 3" "$(timeout 10 "$EXAMPLE" take "${P}c" 3)"
t_eq "... and cat shows 0 left" "0" "$(cat "$S")"
t_eq "C example posts 2" "gave 2" "$(timeout 10 "$EXAMPLE" give "${P}c" 2)"
t_eq "... and cat shows them" "2" "$(cat "$S")"
t_eq "... and so does the xattr" "2" \
	"$(getfattr --absolute-names --only-values -n user.sem.value "$S")"

# The C program waits in sem_wait for what the shell posts.
timeout 20 "$EXAMPLE" take "${P}c" 4 > "$SCRATCH/c.out" &
C=$!
BACKGROUND+=("$C")
sleep 0.3
t_eq "C example waiting for 4 took the 2 there were" "0" "$(cat "$S")"
echo post > "$S"
t_true "C example still waits after 3 of 4" still_running "$C"
echo post > "$S"
t_true "C example ends when the shell posts the 4th" ends_well "$C"
t_eq "... saying so" "took 4" "$(cat "$SCRATCH/c.out")"
t_eq "... leaving 0" "0" "$(cat "$S")"

# The shell waits in "echo wait" for what the C program posts.
timeout 20 bash -c 'echo -2 > "$1"' sh "$S" &
W=$!
BACKGROUND+=("$W")
sleep 0.3
"$EXAMPLE" give "${P}c" 1 > /dev/null
t_true "echo -2 still waits after 1 of 2" still_running "$W"
"$EXAMPLE" give "${P}c" 1 > /dev/null
t_true "echo -2 ends when the C example posts the 2nd" ends_well "$W"
t_eq "... leaving 0" "0" "$(cat "$S")"

rm "$S"
t_fails "C example: a semaphore that is not there" "No such file or directory" \
	"$EXAMPLE" take "${P}c" 1

t_done
