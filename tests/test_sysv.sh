#!/bin/bash
# sysv/ from the shell: the commands people type (touch, echo, dd, cat,
# getfattr, chmod, rm), checked against what ipcmk, ipcs and ipcrm, the
# util-linux tools that use msgget/semget/shmget directly, see and do.
. "$TESTS_DIR/lib.sh"
SCRATCH=$(mktemp -d)
BACKGROUND=()
# Objects this test makes outside lib.sh's key range (ipcmk's random keys,
# IPC_PRIVATE): "FLAG ID" for ipcrm, removed on exit whatever happened.
OWN_IDS=()
stop_background() {
	local pid
	for pid in "${BACKGROUND[@]}"; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
}
remove_own_ids() {
	local item
	for item in "${OWN_IDS[@]}"; do
		ipcrm ${item% *} "${item#* }" 2>/dev/null
	done
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
trap 'stop_background; remove_own_ids; remove_run_objects; rm -rf "$SCRATCH"; t_cleanup' EXIT
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
MSG=$MNT/sysv/msg
SEM=$MNT/sysv/sem
SHM=$MNT/sysv/shm
umask 022

as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

# ipcs_row FLAG KEY FIELD...: those fields of the row ipcs FLAG shows for
# KEY (1 key, 2 id, 3 owner, 4 perms, then the kind's counts), or nothing.
ipcs_row() {
	local flag=$1 key=$2
	shift 2
	ipcs "$flag" | awk -v k="$key" -v f="$*" '
		$1 == k { n = split(f, fs, " "); s = ""
			for (i = 1; i <= n; i++) s = s (i > 1 ? " " : "") $fs[i]; print s }'
}

# xattr FILE NAME: the value of one attribute.
xattr() {
	getfattr --absolute-names --only-values -n "$2" "$1"
}

# xattr_names FILE: what getfattr -d lists, the names only.
xattr_names() {
	getfattr --absolute-names -d "$1" | sed -n 's/^\(user\.[^=]*\)=.*/\1/p' | paste -sd' '
}

# read1 FILE [DD-FLAGS...]: one read of up to 64 KiB, one message.
read1() {
	local file=$1
	shift
	timeout 10 dd if="$file" bs=65536 count=1 status=none "$@"
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

# background COMMAND...: runs it (with a 20 s limit) in the background; $BG its pid.
background() {
	timeout 20 "$@" 2>>"$SCRATCH/background.err" &
	BG=$!
	BACKGROUND+=("$BG")
}

# waits PID: PID is still running after 0.3 s.
waits() {
	sleep 0.3
	if kill -0 "$1" 2>/dev/null; then ok "$2"; else not_ok "$2" "it ended: $(wait "$1"; echo "status $?")"; fi
}

# ends PID DESCRIPTION [STATUS]: PID ends within 5 s with STATUS (0).
ends() {
	local status
	if ! finished "$1" 100; then
		not_ok "$2" "still running after 5 s"
		return
	fi
	wait "$1"
	status=$?
	t_eq "$2" "${3:-0}" "$status"
}

# ---- ipcmk's objects, random keys: each shows in ls under its key ----
mk() {
	local flag=$1 out
	shift
	out=$(ipcmk "$@") || return 1
	IPCMK_ID=${out##*: }
	OWN_IDS+=("$flag $IPCMK_ID")
	IPCMK_KEY=$(ipcs "${flag,,}" | awk -v id="$IPCMK_ID" '$2 == id { print $1 }')
}
mk -q -Q
t_eq "ipcmk -Q: ls sysv/msg/ shows the key as ipcs -q prints it" "$IPCMK_KEY" \
	"$(ls "$MSG" | grep -xF "$IPCMK_KEY")"
t_eq "... and user.sysv.id is ipcmk's id" "$IPCMK_ID" "$(xattr "$MSG/$IPCMK_KEY" user.sysv.id)"
ipcrm -q "$IPCMK_ID"
t_eq "ipcrm -q ID: gone from ls" "" "$(ls "$MSG" | grep -xF "$IPCMK_KEY")"
t_fails "... and from stat" "No such file or directory" stat "$MSG/$IPCMK_KEY"
mk -s -S 3
t_eq "ipcmk -S 3: ls sysv/sem/ shows it, with 3 values" "$IPCMK_KEY|$(printf '0\n0\n0')" \
	"$(ls "$SEM" | grep -xF "$IPCMK_KEY")|$(cat "$SEM/$IPCMK_KEY")"
ipcrm -s "$IPCMK_ID"
t_eq "ipcrm -s ID: gone from ls" "" "$(ls "$SEM" | grep -xF "$IPCMK_KEY")"
mk -m -M 8192
t_eq "ipcmk -M 8192: ls sysv/shm/ shows it; stat says 8192 bytes" "$IPCMK_KEY 8192" \
	"$(ls "$SHM" | grep -xF "$IPCMK_KEY") $(stat -c %s "$SHM/$IPCMK_KEY")"
ipcrm -m "$IPCMK_ID"
t_eq "ipcrm -m ID: gone from ls" "" "$(ls "$SHM" | grep -xF "$IPCMK_KEY")"

# ---- touch, stat, chmod, chown, rm: the queue's ipc_perm ----
Q=$MSG/${K}01
touch "$Q"
t_eq "touch (umask 022): ipcs -q lists the key, owner root, perms 644, empty" "root 644 0 0" \
	"$(ipcs_row -q "${K}01" 3 4 5 6)"
t_eq "stat -c '%a %U %G' agrees" "644 root root" "$(stat -c '%a %U %G' "$Q")"
QID=$(ipcs_row -q "${K}01" 2)
touch "$Q"
t_eq "touch of an existing queue keeps it (same id)" "$QID" "$(ipcs_row -q "${K}01" 2)"
(umask 077 && touch "$MSG/${K}02")
t_eq "touch under umask 077: perms 600" "root 600" "$(ipcs_row -q "${K}02" 3 4)"
chmod 600 "$Q"
t_eq "chmod 600: ipcs -q shows 600" "600" "$(ipcs_row -q "${K}01" 4)"
chown nobody:nogroup "$Q"
t_eq "chown nobody:nogroup: ipcs -q shows owner nobody" "nobody" "$(ipcs_row -q "${K}01" 3)"
t_eq "... and stat shows it" "600 nobody nogroup" "$(stat -c '%a %U %G' "$Q")"
t_fails "chmod u+s: EINVAL" "Invalid argument" chmod 4600 "$Q"
t_fails "chmod +t: EINVAL" "Invalid argument" chmod 1600 "$Q"
t_eq "... and the mode is left alone" "600" "$(ipcs_row -q "${K}01" 4)"
t_eq "user.sysv.key is the name, user.sysv.id the id ipcs shows" "${K}01 $QID" \
	"$(xattr "$Q" user.sysv.key) $(xattr "$Q" user.sysv.id)"
t_fails "the same queue as id.N: not found (it has a key)" "No such file or directory" \
	stat "$MSG/id.$QID"
rm "$Q"
t_eq "rm: gone from ipcs -q" "" "$(ipcs_row -q "${K}01" 1)"
t_fails "... and from stat" "No such file or directory" stat "$Q"

# ---- messages: echo sends, dd receives one at a time ----
Q=$MSG/${K}03
touch "$Q"
echo hello > "$Q"
t_eq "echo hello: ipcs -q shows 6 bytes in 1 message" "6 1" "$(ipcs_row -q "${K}03" 5 6)"
t_eq "dd bs=100 count=1 reads it back, newline included" "$(printf 'hello\nX')" \
	"$(read1 "$Q"; echo X)"
t_eq "msg_lspid and msg_lrpid are the daemon's" "$IPCFS_PID $IPCFS_PID" \
	"$(xattr "$Q" user.msg.lspid) $(xattr "$Q" user.msg.lrpid)"
echo x > "$Q@5"
t_eq "echo x > KEY@5: getfattr -n user.msg.qnum" "user.msg.qnum=\"1\"" \
	"$(getfattr --absolute-names -n user.msg.qnum "$Q" | grep '^user')"
t_eq "getfattr -d lists exactly the documented names" \
	"user.ipc.holders user.msg.cbytes user.msg.ctime user.msg.lrpid user.msg.lspid user.msg.qbytes user.msg.qnum user.msg.rtime user.msg.stime user.sysv.cgid user.sysv.cuid user.sysv.id user.sysv.key" \
	"$(xattr_names "$Q" | tr ' ' '\n' | sort | paste -sd' ')"
t_eq "... with the values ipcs shows" "2 1 $(cat /proc/sys/kernel/msgmnb)" \
	"$(xattr "$Q" user.msg.cbytes) $(xattr "$Q" user.msg.qnum) $(xattr "$Q" user.msg.qbytes)"
t_eq "dd of KEY@5 reads the type-5 message" "x" "$(read1 "$Q@5")"
t_eq "stat: size is the bytes queued (cbytes)" "$(xattr "$Q" user.msg.cbytes)" "$(stat -c %s "$Q")"

echo t5 > "$Q@5"
echo t3 > "$Q@3"
echo t1 > "$Q"
t_eq "KEY@~1 reads the first message not of type 1" "t5" "$(read1 "$Q@~1")"
t_eq "KEY@-4 reads the lowest type up to 4" "t1" "$(read1 "$Q@-4")"
t_eq "KEY@3 reads type 3" "t3" "$(read1 "$Q@3")"
t_fails "echo > KEY@-1: EINVAL" "Invalid argument" bash -c 'echo x > "$1"' sh "$Q@-1"
t_fails "echo > KEY@~1: EINVAL" "Invalid argument" bash -c 'echo x > "$1"' sh "$Q@~1"
t_fails "ls KEY@0: ENOENT" "No such file or directory" ls "$Q@0"
t_fails "ls KEY@x: ENOENT" "No such file or directory" ls "$Q@x"
t_eq "the queue is empty again" "0" "$(xattr "$Q" user.msg.qnum)"

printf abcdef > "$Q"
t_eq "a read shorter than the message: the rest comes from the next read" "abc|def|0" \
	"$(timeout 10 dd if="$Q" bs=3 count=2 status=none | sed 's/^\(...\)/\1|/')|$(xattr "$Q" user.msg.qnum)"

MSGMAX=$(cat /proc/sys/kernel/msgmax)
t_fails "a write larger than msgmax: EMSGSIZE" "Message too long" \
	dd if=/dev/zero of="$Q" bs=$((MSGMAX + 1)) count=1 status=none
t_eq "... nothing sent" "0" "$(xattr "$Q" user.msg.qnum)"
t_fails "dd iflag=nonblock on an empty queue: EAGAIN" "Resource temporarily unavailable" \
	read1 "$Q" iflag=nonblock
truncate -s 0 "$Q"
t_eq "truncate -s 0 is accepted" "0" "$?"

# A read waits for a message.
background dd if="$Q" of="$SCRATCH/read" bs=65536 count=1 status=none
waits "$BG" "dd on an empty queue waits"
echo late > "$Q"
ends "$BG" "... and ends once echo sends"
t_eq "... with that message" "late" "$(cat "$SCRATCH/read")"

# A waiting read that is killed takes nothing: a later message stays.
background dd if="$Q" bs=65536 count=1 status=none
waits "$BG" "dd waits on the empty queue"
kill "$BG"
ends "$BG" "... and a kill ends it" 143
echo kept > "$Q"
sleep 0.2
t_eq "... and the next message stays in the queue" "1 kept" "$(xattr "$Q" user.msg.qnum) $(read1 "$Q")"

# Many readers wait at once, each on a thread of the daemon; the mount
# keeps answering, and each reader gets one message of its own.
READERS=()
for i in $(seq 20); do
	background dd if="$Q" of="$SCRATCH/reader.$i" bs=65536 count=1 status=none
	READERS+=("$BG")
done
sleep 0.3
t_eq "with 20 reads waiting, ls still answers" "${K}03" "$(timeout 5 ls "$MSG" | grep -x "${K}03")"
for i in $(seq 20); do printf "m%02d" "$i" > "$Q"; done
failed=0
for pid in "${READERS[@]}"; do
	finished "$pid" 100 && wait "$pid" || failed=$((failed + 1))
done
t_eq "20 messages: all 20 readers end, each with another message" "0 $(seq -f 'm%02g' 20 | paste -sd' ')" \
	"$failed $(cat "$SCRATCH"/reader.* | sed 's/m/ m/g' | tr ' ' '\n' | sort | paste -sd' ' | sed 's/^ //')"
t_eq "... and the queue is empty" "0" "$(xattr "$Q" user.msg.qnum)"

# A message of zero bytes (only msgsnd can send one) is a read of 0 bytes.
"$PYTHON" -c '
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
msg = (ctypes.c_long * 2)(1, 0)
sys.exit(libc.msgsnd(libc.msgget(ctypes.c_int32(int(sys.argv[1], 16)).value, 0), msg, 0, 0))
' "${K}03"
t_eq "a zero-byte message: 1 in the queue" "1" "$(xattr "$Q" user.msg.qnum)"
t_eq "... read as 0 bytes by dd, which ends" "0 bytes, 0" \
	"$(read1 "$Q" | wc -c) bytes, $(xattr "$Q" user.msg.qnum)"

# A full queue: a write waits for room.
QBYTES=$(xattr "$Q" user.msg.qbytes)
for _ in $(seq $((QBYTES / MSGMAX))); do
	dd if=/dev/zero of="$Q" bs="$MSGMAX" count=1 status=none
done
t_fails "a non-blocking write to a full queue: EAGAIN" "Resource temporarily unavailable" \
	dd if=/dev/zero of="$Q" bs="$MSGMAX" count=1 oflag=nonblock status=none
background bash -c 'echo waiting > "$1"' sh "$Q"
waits "$BG" "echo to a full queue waits"
read1 "$Q" > /dev/null
ends "$BG" "... and ends once a message is taken"
t_eq "... its message is last" "$((QBYTES / MSGMAX))" "$(xattr "$Q" user.msg.qnum)"
for _ in $(seq $((QBYTES / MSGMAX - 1))); do read1 "$Q" > /dev/null; done
t_eq "... and reads back" "waiting" "$(read1 "$Q")"

# Removed under a waiting read.
background dd if="$Q" bs=65536 count=1 status=none
waits "$BG" "dd waits on the empty queue"
ipcrm -Q "${K}03"
ends "$BG" "... and fails once ipcrm removes the queue" 1
t_fails "a read of a removed queue: EIDRM, through an open file" "Identifier removed" \
	bash -c 'touch "$1" && exec 3<"$1" && ipcrm -Q "$2" && dd bs=10 count=1 status=none <&3' \
	sh "$Q" "${K}03"

# ---- semaphore sets ----
setfattr -n user.sem.nsems -v 3 "$SEM/"
t_eq "setfattr user.sem.nsems on sysv/sem/: getfattr shows it" "3" "$(xattr "$SEM" user.sem.nsems)"
S=$SEM/${K}04
touch "$S"
t_eq "touch: ipcs -s shows nsems 3, owner root, perms 644" "root 644 3" "$(ipcs_row -s "${K}04" 3 4 5)"
t_eq "getfattr -d lists exactly the documented names" \
	"user.ipc.holders user.sem.ctime user.sem.nsems user.sem.otime user.sem.semncnt user.sem.sempid user.sem.semval user.sem.semzcnt user.sysv.cgid user.sysv.cuid user.sysv.id user.sysv.key" \
	"$(xattr_names "$S" | tr ' ' '\n' | sort | paste -sd' ')"
t_eq "cat: one value per line" "$(printf '0\n0\n0\nX')" "$(cat "$S"; echo X)"
echo "0+2 2+1" > "$S"
t_eq 'echo "0+2 2+1"; cat' "$(printf '2\n0\n1')" "$(cat "$S")"
for bad in "0=5" "-1" "0-0" "x" "0+" "+1" "1+1x" ""; do
	t_fails "echo \"$bad\": EINVAL" "Invalid argument" bash -c 'echo "$2" > "$1"' sh "$S" "$bad"
done
t_fails 'echo "3+1" (no semaphore 3): EFBIG' "File too large" bash -c 'echo "3+1" > "$1"' sh "$S"
t_fails 'echo "0+32767" (past SEMVMX): ERANGE' "Numerical result out of range" \
	bash -c 'echo "0+32767" > "$1"' sh "$S"
t_fails 'echo "0+1 3+1": EFBIG, and the valid part is not done' "File too large" \
	bash -c 'echo "0+1 3+1" > "$1"' sh "$S"
SEMOPM=$(awk '{ print $3 }' /proc/sys/kernel/sem)
t_fails "more operations than semopm: E2BIG" "Argument list too long" \
	bash -c 'printf "0+1 %.0s" $(seq "$2") > "$1"' sh "$S" $((SEMOPM + 1))
t_eq "after all those errors nothing changed" "$(printf '2\n0\n1')" "$(cat "$S")"

t_fails 'printf "0-1 1-1" | dd oflag=nonblock: EAGAIN, semaphore 1 being 0' \
	"Resource temporarily unavailable" \
	bash -c 'printf "0-1 1-1" | dd of="$1" oflag=nonblock conv=notrunc status=none' sh "$S"
background bash -c 'echo "0-1 1-1" > "$1"' sh "$S"
waits "$BG" 'echo "0-1 1-1" waits: semaphore 1 is 0'
t_eq "... and takes nothing meanwhile (all or nothing)" "$(printf '2\n0\n1')" "$(cat "$S")"
echo "1+1" > "$S"
ends "$BG" '... and ends once echo "1+1" gives one'
t_eq "... having taken both" "$(printf '1\n0\n1')" "$(cat "$S")"

background bash -c 'echo "2=0" > "$1"' sh "$S"
waits "$BG" 'echo "2=0" waits while semaphore 2 is 1'
echo "2-1" > "$S"
ends "$BG" "... and ends once it is 0"

background bash -c 'echo "0-5" > "$1"' sh "$S"
waits "$BG" 'echo "0-5" waits'
kill "$BG"
ends "$BG" "... and a kill ends it" 143
t_eq "... having taken nothing" "$(printf '1\n0\n0')" "$(cat "$S")"

echo "0+5" > "$S"
sleep 0.2
t_eq "... and a later +5 is all there: the killed wait took nothing after" "$(printf '6\n0\n0')" "$(cat "$S")"

# Ten writers wait on semaphore 1; "1+10" lets them all through.
WRITERS=()
for i in $(seq 10); do
	background bash -c 'echo "1-1" > "$1"' sh "$S"
	WRITERS+=("$BG")
done
sleep 0.3
failed=0
for pid in "${WRITERS[@]}"; do kill -0 "$pid" 2>/dev/null || failed=$((failed + 1)); done
t_eq "ten echo \"1-1\" wait on a 0" "0 waiting ended" "$failed waiting ended"
echo "1+10" > "$S"
failed=0
for pid in "${WRITERS[@]}"; do
	finished "$pid" 100 && wait "$pid" || failed=$((failed + 1))
done
t_eq "... and all end once \"1+10\" is written, leaving 0" "0 $(printf '6\n0\n0')" "$failed $(cat "$S")"

background bash -c 'echo "1-1" > "$1"' sh "$S"
waits "$BG" 'echo "1-1" waits'
ipcrm -S "${K}04"
ends "$BG" "... and fails once ipcrm removes the set" 1

setfattr -x user.sem.nsems "$SEM/"
touch "$SEM/${K}05"
t_eq "after setfattr -x, a set has 1 semaphore" "1 1" \
	"$(ipcs_row -s "${K}05" 5) $(xattr "$SEM" user.sem.nsems)"
as_nobody setfattr -n user.sem.nsems -v 2 "$SEM/"
as_nobody touch "$SEM/${K}0f"
t_eq "nobody's setfattr sizes nobody's sets" "nobody 2" "$(ipcs_row -s "${K}0f" 3 5)"
t_eq "... not root's" "1" "$(xattr "$SEM" user.sem.nsems)"
as_nobody setfattr -x user.sem.nsems "$SEM/"
t_fails "user.sem.nsems 0: EINVAL" "Invalid argument" setfattr -n user.sem.nsems -v 0 "$SEM/"

# ---- shared memory ----
setfattr -n user.shm.size -v 8192 "$SHM/"
M=$SHM/${K}06
touch "$M"
t_eq "setfattr user.shm.size 8192, touch: stat -c %s" "8192" "$(stat -c %s "$M")"
t_eq "ipcs -m shows bytes 8192, owner root, perms 644" "root 644 8192" "$(ipcs_row -m "${K}06" 3 4 5)"
t_eq "getfattr -d lists exactly the documented names" \
	"user.ipc.holders user.shm.atime user.shm.cpid user.shm.ctime user.shm.dtime user.shm.lpid user.shm.nattch user.shm.segsz user.shm.status user.sysv.cgid user.sysv.cuid user.sysv.id user.sysv.key" \
	"$(xattr_names "$M" | tr ' ' '\n' | sort | paste -sd' ')"
printf abc | dd of="$M" conv=notrunc status=none
t_eq "printf abc | dd conv=notrunc; head -c 3" "abc" "$(head -c 3 "$M")"
printf XYZ | dd of="$M" bs=1 seek=8189 conv=notrunc status=none
t_eq "dd seek= to the last 3 bytes" "XYZ" "$(tail -c 3 "$M")"
# shmat_read KEY COUNT: COUNT bytes of the segment as a shmat user sees them.
shmat_read() {
	"$PYTHON" -c '
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
shmid = libc.shmget(ctypes.c_int32(int(sys.argv[1], 16)).value, 0, 0)
addr = libc.shmat(shmid, None, 0o10000)  # SHM_RDONLY
if shmid < 0 or addr == ctypes.c_void_p(-1).value:
    sys.exit("shmget/shmat failed: errno %d" % ctypes.get_errno())
sys.stdout.write(ctypes.string_at(addr, int(sys.argv[2])).decode())
' "$@"
}
t_eq "a shmat user sees the bytes dd wrote" "abc" "$(shmat_read "${K}06" 3)"
echo new > "$M"
t_eq "echo > (O_TRUNC) keeps the size and writes at 0" "8192 new XYZ" \
	"$(stat -c %s "$M") $(shmat_read "${K}06" 3) $(tail -c 3 "$M")"
t_fails "truncate -s 100: EINVAL" "Invalid argument" truncate -s 100 "$M"
t_eq "stat still says 8192" "8192" "$(stat -c %s "$M")"

# rm while a shmat user holds it: IPC_RMID, the key goes, the segment stays
# until its last detach, as id.N.
"$PYTHON" -c '
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
addr = libc.shmat(libc.shmget(ctypes.c_int32(int(sys.argv[1], 16)).value, 0, 0), None, 0)
open(sys.argv[2] + ".attached", "w").close()
for _ in range(200):
    if os.path.exists(sys.argv[2] + ".go"):
        break
    time.sleep(0.05)
print(ctypes.string_at(addr, 4).decode())
' "${K}06" "$SCRATCH/attacher" > "$SCRATCH/attacher.out" &
ATTACHER=$!
BACKGROUND+=("$ATTACHER")
for _ in $(seq 100); do [ -e "$SCRATCH/attacher.attached" ] && break; sleep 0.05; done
SHMID=$(ipcs_row -m "${K}06" 2)
rm "$M"
t_eq "rm of an attached segment: its key is gone from ipcs -m" "" "$(ipcs_row -m "${K}06" 1)"
t_eq "... ls shows it as id.N" "id.$SHMID" "$(ls "$SHM" | grep -x "id\.$SHMID")"
t_eq "... with its bytes" "new" "$(head -c 3 "$SHM/id.$SHMID")"
printf 'seen' | dd of="$SHM/id.$SHMID" conv=notrunc status=none
touch "$SCRATCH/attacher.go"
finished "$ATTACHER" 100
t_eq "... a write through id.N reaches the attached process" "seen" "$(cat "$SCRATCH/attacher.out")"
t_eq "... and after its detach the segment is gone" "" "$(ls "$SHM" | grep -x "id\.$SHMID")"
setfattr -x user.shm.size "$SHM/"
touch "$SHM/${K}07"
t_eq "after setfattr -x, a segment is 4096 bytes" "4096" "$(ipcs_row -m "${K}07" 5)"

# ---- names ----
# Keys of this run spelt another way: 0X, or the hex digits in capitals.
CAPITAL_X=0X${K#0x}0e
CAPITAL_HEX=0x$(printf %s "${K#0x}0e" | tr a-f A-F)
for bad in foo 0x4d2 0x00000000 "$CAPITAL_X" "$CAPITAL_HEX" "${K}0e0" id.1x; do
	t_fails "touch sysv/msg/$bad: EINVAL" "Invalid argument" touch "$MSG/$bad"
done
touch "$MSG/${K}0e"
t_fails "ls $CAPITAL_X: not found" "No such file or directory" ls "$MSG/$CAPITAL_X"
t_fails "ls $CAPITAL_HEX: not found" "No such file or directory" ls "$MSG/$CAPITAL_HEX"
t_eq "ls sysv/msg/ shows the one spelling" "${K}0e" "$(ls "$MSG" | grep -ix "${K}0e")"

# IPC_PRIVATE: named id.N.
PRIV=$("$PYTHON" -c 'import ctypes; print(ctypes.CDLL(None).msgget(0, 0o1600))')
OWN_IDS+=("-q $PRIV")
t_eq "an IPC_PRIVATE queue shows as id.N" "id.$PRIV" "$(ls "$MSG" | grep -x "id\.$PRIV")"
echo private > "$MSG/id.$PRIV"
t_eq "... and carries messages" "private" "$(read1 "$MSG/id.$PRIV")"
t_fails "id.0$PRIV is not its name" "No such file or directory" stat "$MSG/id.0$PRIV"
touch "$MSG/id.$PRIV"
t_eq "touch of an existing id.N just opens it" "0" "$?"
rm "$MSG/id.$PRIV"
t_eq "rm id.N removes it" "" "$(ipcs -q | awk -v id="$PRIV" '$2 == id')"
t_fails "touch id.N of no object: EINVAL" "Invalid argument" touch "$MSG/id.$PRIV"

# ---- another user ----
Q=$MSG/${K}09
S=$SEM/${K}0a
(umask 077 && touch "$Q" "$S")
t_eq "root's queue and set, both 0600" "600 600" "$(ipcs_row -q "${K}09" 4) $(ipcs_row -s "${K}0a" 4)"
t_fails "nobody: cat of root's 0600 queue: EACCES" "Permission denied" as_nobody cat "$Q"
t_fails "nobody: echo to root's 0600 queue: EACCES" "Permission denied" \
	as_nobody bash -c 'echo x > "$1"' sh "$Q"
t_fails "nobody: cat of root's 0600 set: EACCES" "Permission denied" as_nobody cat "$S"
t_fails "nobody: rm of root's queue: EPERM" "Operation not permitted" as_nobody rm -f "$Q"
t_fails "nobody: rm of root's set: EPERM" "Operation not permitted" as_nobody rm -f "$S"
t_fails "nobody: chmod of root's queue: EPERM" "Operation not permitted" as_nobody chmod 666 "$Q"
t_eq "... all still there, unchanged" "600 600" "$(ipcs_row -q "${K}09" 4) $(ipcs_row -s "${K}0a" 4)"
chmod 644 "$Q"
t_eq "nobody may stat a 0644 queue" "644 root" "$(as_nobody stat -c '%a %U' "$Q")"
t_fails "... but not write to it" "Permission denied" as_nobody bash -c 'echo x > "$1"' sh "$Q"
touch "$SHM/${K}10"
printf 'for all' | dd of="$SHM/${K}10" conv=notrunc status=none
t_eq "nobody may read a 0644 segment" "for all" "$(as_nobody head -c 7 "$SHM/${K}10")"
t_fails "... but not write to it" "Permission denied" \
	as_nobody dd if=/dev/zero of="$SHM/${K}10" bs=1 count=1 conv=notrunc status=none
chmod 600 "$SHM/${K}10"
t_fails "... nor read it once it is 0600" "Permission denied" as_nobody head -c 7 "$SHM/${K}10"
as_nobody touch "$MSG/${K}0b"
t_eq "nobody's touch: a queue nobody owns" "nobody 644" "$(ipcs_row -q "${K}0b" 3 4)"
as_nobody bash -c 'echo mine > "$1"' sh "$MSG/${K}0b"
t_eq "... that nobody may use" "mine" "$(as_nobody timeout 10 dd if="$MSG/${K}0b" bs=100 count=1 status=none)"
as_nobody rm "$MSG/${K}0b"
t_eq "... and remove" "" "$(ipcs_row -q "${K}0b" 1)"

# ---- what a directory of objects refuses ----
t_fails "mkdir sysv/msg/x: EPERM" "Operation not permitted" mkdir "$MSG/x"
t_fails "mkdir sysv/sem/x: EPERM" "Operation not permitted" mkdir "$SEM/x"
t_fails "ln of a queue: EPERM" "Operation not permitted" ln "$MSG/${K}0e" "$MSG/${K}0c"
t_fails "mv of a queue: EPERM" "Operation not permitted" mv -T "$MSG/${K}0e" "$MSG/${K}0c"
t_fails "rm of a queue that is not there: ENOENT" "No such file or directory" rm "$MSG/${K}0d"
t_eq "the daemon still answers" "${K}0e" "$(ls "$MSG" | grep -x "${K}0e")"

t_done
