#!/bin/bash
# Runs the System V examples in examples/ against a real mount: a C program
# on an ftok queue (msgsnd, msgrcv) talking with a shell script that only
# reads and writes the queue's file, and a Python mmap of a segment's file
# against a process attached with shmat.
. "$TESTS_DIR/lib.sh"
SCRATCH=$(mktemp -d)
BACKGROUND=()
FTOK_KEY=
stop_background() {
	local pid
	for pid in "${BACKGROUND[@]}"; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
}
# The ftok key is not in lib.sh's range: its queue is removed here.
remove_ftok_queue() {
	[ -n "$FTOK_KEY" ] && ipcrm -Q "$FTOK_KEY" 2>/dev/null
	return 0
}
# lib.sh's t_remove_sysv runs ipcrm while it reads /proc/sysvipc, which
# then skips every other object; this reads each table whole first.
remove_run_objects() {
	local kind rows row key id rest
	for kind in msg:-q sem:-s shm:-m; do
		mapfile -t rows < "/proc/sysvipc/${kind%:*}"
		for row in "${rows[@]:1}"; do
			read -r key id rest <<< "$row"
			[ $(( (key & 0xffffffff) & ~0xff )) -eq "$KEY_BASE" ] && ipcrm "${kind#*:}" "$id" 2>/dev/null
		done
	done
	return 0
}
trap 'stop_background; remove_ftok_queue; remove_run_objects; rm -rf "$SCRATCH"; t_cleanup' EXIT
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
C_QUEUE=$BUILD_DIR/examples/sysv-queue
SH_QUEUE=$EXAMPLES_DIR/sysv_queue.sh

# finished PID TICKS: true if PID ends within TICKS twentieths of a second.
finished() {
	local _
	for _ in $(seq "$2"); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
	done
	return 1
}

# running PID: PID has not ended.
running() {
	kill -0 "$1" 2>/dev/null
}

# t_true DESCRIPTION COMMAND...: the command succeeds.
t_true() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc" "failed: $*"; fi
}

# c_queue ARGS... / sh_queue ARGS...: the two ends, on the same ftok file.
FTOK_PATH=$SCRATCH/queue-file
PROJ=0x51 # not lib.sh's 0x5a: no other test's cleanup can take this queue
touch "$FTOK_PATH"
c_queue() { timeout 10 "$C_QUEUE" "$FTOK_PATH" "$PROJ" "$@"; }
sh_queue() { timeout 10 bash "$SH_QUEUE" "$MNT" "$FTOK_PATH" "$PROJ" "$@"; }

# The key: glibc's ftok in C, the shell's arithmetic in the script.
FTOK_KEY=$(c_queue key)
read -r dev ino < <(stat -c '%d %i' "$FTOK_PATH")
t_eq "sysv-queue key: ftok's key, made of PROJ, the device and the inode" \
	"$(printf '0x51%02x%04x' $((dev & 0xff)) $((ino & 0xffff)))" "$FTOK_KEY"
t_eq "sysv_queue.sh key: the same key" "$FTOK_KEY" "$(sh_queue key)"
if [ -z "$FTOK_KEY" ]; then
	echo "Bail out! sysv-queue key gave no key"
	exit 1
fi
if [ -e "$MNT/sysv/msg/$FTOK_KEY" ]; then
	FTOK_KEY= # someone else's: leave it alone
	echo "Bail out! a queue with key $(c_queue key) is there already"
	exit 1
fi

# C sends, the shell receives.
c_queue send "first" "second message" "third:  two spaces, tab	end"
t_eq "sysv-queue send made the queue (0600) that ipcs -q and ls show" "600 $FTOK_KEY" \
	"$(ipcs -q | awk -v k="$FTOK_KEY" '$1 == k { print $4 }') $(ls "$MNT/sysv/msg" | grep -x "$FTOK_KEY")"
t_eq "three messages sent by msgsnd are in the queue" "3" \
	"$(getfattr --absolute-names --only-values -n user.msg.qnum "$MNT/sysv/msg/$FTOK_KEY")"
t_eq "sysv_queue.sh receives the 3 messages sent by msgsnd, in order, exactly" \
	"$(printf 'first\nsecond message\nthird:  two spaces, tab\tend\nexit 0')" \
	"$(sh_queue receive 3; echo "exit $?")"
t_eq "... and the queue is empty" "0" \
	"$(getfattr --absolute-names --only-values -n user.msg.qnum "$MNT/sysv/msg/$FTOK_KEY")"

# The shell sends, C receives.
sh_queue send "from the shell" "second one"
t_eq "sysv-queue receives the 2 messages the shell wrote, in order, exactly" \
	"$(printf 'from the shell\nsecond one\nexit 0')" "$(c_queue receive 2; echo "exit $?")"
t_eq "... and the queue is empty" "0" \
	"$(getfattr --absolute-names --only-values -n user.msg.qnum "$MNT/sysv/msg/$FTOK_KEY")"

# Each waits for the other: C in msgrcv for what the shell writes, the
# shell in a read through the mount for what C sends with msgsnd.
c_queue receive 1 > "$SCRATCH/c.out" &
RECEIVER=$!
BACKGROUND+=("$RECEIVER")
sleep 0.3
t_true "sysv-queue waits in msgrcv on the empty queue" running "$RECEIVER"
sh_queue send "wake up"
t_true "... and ends once the shell sends" finished "$RECEIVER" 100
t_eq "... with the shell's message" "wake up" "$(cat "$SCRATCH/c.out")"

sh_queue receive 1 > "$SCRATCH/sh.out" &
RECEIVER=$!
BACKGROUND+=("$RECEIVER")
sleep 0.3
t_true "sysv_queue.sh waits in its read on the empty queue" running "$RECEIVER"
c_queue send "your turn"
t_true "... and ends once msgsnd sends" finished "$RECEIVER" 100
t_eq "... with that message" "your turn" "$(cat "$SCRATCH/sh.out")"

# Python maps a segment through the mount; a process attached with shmat
# (Python's ctypes, standing for any C program) writes at 2048 before the
# script runs and reads offset 0 after, through the same attachment.
SHM=$MNT/sysv/shm/${K}01
touch "$SHM"
shmat_peer() {
	"$PYTHON" - "$@" <<-'EOF'
	import ctypes, subprocess, sys
	libc = ctypes.CDLL(None, use_errno=True)
	libc.shmat.restype = ctypes.c_void_p
	libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
	key = ctypes.c_uint32(int(sys.argv[1], 16)).value
	shmid = libc.shmget(ctypes.c_int32(key).value, 0, 0)
	addr = libc.shmat(shmid, None, 0)
	if shmid < 0 or addr == ctypes.c_void_p(-1).value:
	    sys.exit("shmget/shmat: " + str(ctypes.get_errno()))
	ctypes.memmove(addr + 2048, b"hello from shmat\0", 17)
	script = subprocess.run(sys.argv[2:], stdin=subprocess.DEVNULL,
	                        capture_output=True, text=True, timeout=20)
	print("script:", script.returncode, script.stdout.strip(), script.stderr.strip())
	print("shmat:", ctypes.string_at(addr, 32).split(b"\0")[0].decode())
	EOF
}
t_eq "sysv_shm_map.py reads what shmat wrote; shmat reads what it stored through mmap" \
	"$(printf 'script: 0 hello from shmat \nshmat: hello from python')" \
	"$(shmat_peer "${K}01" "$PYTHON" "$EXAMPLES_DIR/sysv_shm_map.py" "$MNT" "${K}01")"
t_eq "... and a read through the mount sees it too" "hello from python" \
	"$(head -c 17 "$SHM" | tr -d '\0')"
t_eq "... and the segment keeps its size" "4096 4096" \
	"$(stat -c %s "$SHM") $(ipcs -m | awk -v k="${K}01" '$1 == k { print $5 }')"

t_done
