#!/bin/bash
# Runs each shared memory example in examples/ against a real mount, and dd
# from the shell, and checks what they did in the segment itself, as
# /dev/shm shows it without the mount.
. "$TESTS_DIR/lib.sh"
S=$MNT/shm
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"; t_cleanup' EXIT

# t_same DESCRIPTION FILE1 FILE2: the two files hold the same bytes.
t_same() {
	local out
	if out=$(cmp "$2" "$3" 2>&1); then ok "$1"; else not_ok "$1" "$out"; fi
}

# text FILE COUNT: the first COUNT bytes of FILE, a NUL shown as "."
text() {
	head -c "$2" "$1" | tr '\0' .
}

# hex FILE OFFSET COUNT: COUNT bytes of FILE from OFFSET, as hex digits.
hex() {
	od -An -tx1 -j "$2" -N "$3" "$1" | tr -d ' \n'
}

# C: a process-shared mutex and condition variable in a mapped shm file.
# Were the mapping not the segment itself, the counter would stop at 100000
# and the turns would time out.
t_eq "C example: 2 x 100000 increments under one mutex, 10 turns through one condvar" \
	"$(printf 'counter=200000\nping-pong=10')" \
	"$(timeout 60 "$BUILD_DIR/examples/shm-mutex" "$MNT" "${P}mutex" 100000)"
t_fails "C example removed its object" "No such file" stat "/dev/shm/${P}mutex"

# Python: a store through mmap, read back with pread and from /dev/shm.
t_eq "Python example: os.pread through the mount sees the store through the mapping" \
	"hello from python" "$(/usr/bin/python3 "$EXAMPLES_DIR/shm_mmap.py" "$MNT" "${P}py")"
t_eq "Python example: the store is in /dev/shm" "hello from python" "$(text "/dev/shm/${P}py" 17)"
t_eq "Python example: ftruncate sized the segment" "4096" "$(stat -c %s "/dev/shm/${P}py")"
rm "$S/${P}py"
t_fails "rm through the mount removes the segment" "No such file" stat "/dev/shm/${P}py"

# Java: the test writes an int through the mount for Java to read through
# its mapping, and Java stores a string for the test to find in /dev/shm.
# The file is 1028 bytes long until FileChannel.map extends it.
if command -v java >/dev/null; then
	touch "$S/${P}java"
	printf '\x12\x34\x56\x78' | dd of="$S/${P}java" bs=1 seek=1024 conv=notrunc status=none
	t_eq "Java example: reads through its mapping the int written through the mount" \
		"int at 1024: 305419896" "$(java "$EXAMPLES_DIR/ShmMap.java" "$MNT" "${P}java")"
	t_eq "Java example: its store through the mapping is in /dev/shm" \
		"hello from java" "$(text "/dev/shm/${P}java" 15)"
	t_eq "Java example: FileChannel.map extended the file to 4096 bytes" \
		"4096" "$(stat -c %s "/dev/shm/${P}java")"
	t_eq "Java example: the int is left as it was" "12345678" "$(hex "/dev/shm/${P}java" 1024 4)"
	rm "$S/${P}java"
else
	ok "# SKIP no java"
fi

# Node.js has no mmap in its core: fs.readSync and fs.writeSync at a
# position. The test writes an int straight into /dev/shm for it to read,
# and finds its greeting there; then a Python process holding a mapping of
# /dev/shm stores an int and sees the greeting land in its mapping.
if command -v node >/dev/null; then
	NODE=(timeout 30 node "$EXAMPLES_DIR/shm_file.js" "$MNT" "${P}node")
	touch "$S/${P}node"
	printf '\x12\x34\x56\x78' | dd of="/dev/shm/${P}node" bs=1 seek=1024 conv=notrunc status=none
	t_eq "Node example: reads at 1024 through the mount the int written to /dev/shm" \
		"int at 1024: 305419896" "$("${NODE[@]}")"
	t_eq "Node example: its write at 0 through the mount is in /dev/shm" \
		"hello from node" "$(text "/dev/shm/${P}node" 15)"
	t_eq "Node example: ftruncate extended the file to 4096 bytes" \
		"4096" "$(stat -c %s "/dev/shm/${P}node")"
	t_eq "Node example: the int is left as it was" "12345678" "$(hex "/dev/shm/${P}node" 1024 4)"
	t_eq "Node example: a mapping of /dev/shm held across its run sees its bytes both ways" \
		"$(printf 'int at 1024: -2023406815\nhello from node')" \
		"$(/usr/bin/python3 - "/dev/shm/${P}node" "${NODE[@]}" <<'EOF'
import mmap, subprocess, sys
with open(sys.argv[1], "r+b") as f, mmap.mmap(f.fileno(), 4096) as segment:
    segment[0:15] = bytes(15)
    segment[1024:1028] = bytes.fromhex("87654321")
    print(subprocess.run(sys.argv[2:], stdout=subprocess.PIPE, text=True).stdout, end="")
    print(segment[0:15].decode())
EOF
)"
	rm "$S/${P}node"
else
	ok "# SKIP no node"
fi

# The shell has no mmap either: dd at an offset, od back (shm_shell.sh).
SH=$S/${P}sh
t_eq "shell example: creates the segment, writes at 100, prints the bytes there" \
	"$(printf 'hello from sh' | od -An -v -tx1)" "$(sh "$EXAMPLES_DIR/shm_shell.sh" "$SH" 100 'hello from sh')"
t_eq "shell example: the bytes are in /dev/shm at 100" "68656c6c6f2066726f6d207368" \
	"$(hex "/dev/shm/${P}sh" 100 13)"
t_eq "shell example: the bytes around them are zeros" "0000" \
	"$(hex "/dev/shm/${P}sh" 99 1)$(hex "/dev/shm/${P}sh" 113 1)"
t_eq "shell example: the segment is 4096 bytes" "4096" "$(stat -c %s "/dev/shm/${P}sh")"
t_eq "shell example: on the existing segment writes at 0, leaving the rest" \
	"$(printf 'HI' | od -An -v -tx1)|484968656c6c" \
	"$(sh "$EXAMPLES_DIR/shm_shell.sh" "$SH" 0 'HI')|$(hex "/dev/shm/${P}sh" 0 2)$(hex "/dev/shm/${P}sh" 100 4)"
t_eq "... and the size alone" "4096" "$(stat -c %s "/dev/shm/${P}sh")"
rm "$SH"

# dd: whole files, then blocks in the middle, each way.
DD=$S/${P}dd
dd if=/dev/urandom of="$DD" bs=64k count=16 status=none
t_same "dd of=MOUNT: 1 MiB written through the mount is the segment's" "$DD" "/dev/shm/${P}dd"
t_eq "dd of=MOUNT: the segment is 1 MiB" "1048576" "$(stat -c %s "/dev/shm/${P}dd")"

cp "/dev/shm/${P}dd" "$SCRATCH/expected"
dd if=/dev/urandom of="$SCRATCH/block" bs=4k count=1 status=none
for f in "$DD" "$SCRATCH/expected"; do
	dd if="$SCRATCH/block" of="$f" bs=4k seek=100 conv=notrunc status=none
done
t_same "dd seek= conv=notrunc through the mount changes that block only" \
	"$SCRATCH/expected" "/dev/shm/${P}dd"
dd if="$DD" of="$SCRATCH/read" bs=4k skip=100 count=1 status=none
t_same "dd skip= through the mount reads that block back" "$SCRATCH/block" "$SCRATCH/read"

dd if=/dev/urandom of="$SCRATCH/block" bs=4k count=1 status=none
dd if="$SCRATCH/block" of="/dev/shm/${P}dd" bs=4k seek=200 conv=notrunc status=none
dd if="$DD" of="$SCRATCH/read" bs=4k skip=200 count=1 status=none
t_same "dd skip= through the mount reads a block written to /dev/shm" "$SCRATCH/block" "$SCRATCH/read"

printf 'ABCD' | dd of="$DD" bs=1 seek=70001 conv=notrunc status=none
t_eq "dd of 4 bytes at an odd offset lands there" "41424344" "$(hex "/dev/shm/${P}dd" 70001 4)"
t_eq "... next to the bytes it left alone" "$(hex "$SCRATCH/expected" 70000 1)$(hex "$SCRATCH/expected" 70005 1)" \
	"$(hex "/dev/shm/${P}dd" 70000 1)$(hex "/dev/shm/${P}dd" 70005 1)"
t_eq "... and leaves the size alone" "1048576" "$(stat -c %s "/dev/shm/${P}dd")"

dd if=/dev/zero of="$DD" bs=4k seek=10 count=1 status=none
t_eq "dd seek= without conv=notrunc cuts the segment after its block" \
	"45056" "$(stat -c %s "/dev/shm/${P}dd")"
rm "$DD"
t_fails "rm through the mount removes it" "No such file" stat "/dev/shm/${P}dd"

t_done
