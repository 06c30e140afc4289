#!/bin/bash
# Runs each program in examples/ against a real mount and checks its output.
. "$TESTS_DIR/lib.sh"
Q=$MNT/mq

t_eq "C example: three messages back in order" "$(printf 'first\nsecond\nthird')" \
	"$("$BUILD_DIR/examples/mq-c-example" "$MNT" "${P}c")"
t_fails "C example removed its queue" "ENOENT" "$MQTOOL" attr "${P}c"

t_eq "Python example: messages back in order" "$(printf 'waiting: 3\nalpha\nbeta\ngamma')" \
	"$(/usr/bin/python3 "$EXAMPLES_DIR/mq_example.py" "$MNT" "${P}py")"
t_fails "Python example removed its queue" "ENOENT" "$MQTOOL" attr "${P}py"

# Producer and consumer at once, over a queue that holds only two messages,
# so each of them has to wait for the other.
setfattr -n user.mq.maxmsg -v 2 "$Q"
touch "$Q/${P}jobs"
setfattr -x user.mq.maxmsg "$Q"
out=$(mktemp)
bash "$EXAMPLES_DIR/consumer.sh" "$Q/${P}jobs" > "$out" &
consumer=$!
sh "$EXAMPLES_DIR/producer.sh" "$Q/${P}jobs" 20
wait "$consumer"
t_eq "consumer took all 20 jobs in order, then stopped at done" \
	"$(seq 1 20 | sed 's/^/took: job /')" "$(cat "$out")"
rm -f "$out"
t_eq "the queue is empty afterwards" "2 8192 0" "$("$MQTOOL" attr "${P}jobs")"

for i in 1 2; do "$MQTOOL" send "${P}jobs" "left $i"; done
t_eq "drain.sh empties a queue and exits 0" "$(printf 'left 1left 2|0')" \
	"$(sh "$EXAMPLES_DIR/drain.sh" "$Q/${P}jobs")|$?"

# Java and Node.js, on small queues (10 messages of 256 bytes: root's
# RLIMIT_MSGQUEUE is shared by all its queues). The examples send and the
# kernel's mq_receive (mqtool) or dd through the mount take; producer.sh and
# dd send and the examples receive, each message followed by a newline.
setfattr -n user.mq.maxmsg -v 10 "$Q"
setfattr -n user.mq.msgsize -v 256 "$Q"
out=$(mktemp)
receiver=
trap '[ -z "$receiver" ] || kill "$receiver" 2>/dev/null; rm -f "$out"; t_cleanup' EXIT

# hexdump: stdin as hex digits, to compare bytes exactly (NULs included).
hexdump() {
	od -An -v -tx1 | tr -d ' \n'
}

# take NAME COUNT: COUNT messages of the queue NAME, one dd (one read) each
# through the mount, each followed by "|".
take() {
	local _
	for _ in $(seq "$2"); do
		dd if="$Q/$1" bs=1M count=1 iflag=nonblock status=none
		printf '|'
	done
}

# parked N: waits up to 5 s until the status file shows N parked requests.
parked() {
	local _
	for _ in $(seq 100); do
		grep -qx "parked requests: $1" "$MNT/status" && return 0
		sleep 0.05
	done
	return 1
}

# receives_fed WHO NAME COMMAND...: COMMAND (an example's receive, for 5
# messages) waits, parked, on the empty queue NAME, then gets producer.sh's
# 3 jobs and "done" and a binary message, and prints exactly those.
receives_fed() {
	local who=$1 name=$2 rc
	shift 2
	"$@" receive 5 > "$out" &
	receiver=$!
	if parked 1; then ok "$who example: receive waits, parked, on the empty queue"
	else not_ok "$who example: receive waits, parked, on the empty queue" "$(cat "$MNT/status")"; fi
	sh "$EXAMPLES_DIR/producer.sh" "$Q/$name" 3
	printf 'a\0b\377' | dd of="$Q/$name" bs=64 status=none
	wait "$receiver"
	rc=$?
	receiver=
	t_eq "$who example: receives what producer.sh and dd sent, bytes exact, one message a line" \
		"$(printf 'job 1\n\njob 2\n\njob 3\n\ndone\n\na\0b\377\n' | hexdump)|0" "$(hexdump < "$out")|$rc"
}

# refuses_long WHO NAME ERROR COMMAND...: COMMAND (an example's send) of a
# message one byte longer than msgsize fails with ERROR and sends nothing.
refuses_long() {
	local who=$1 name=$2 error=$3
	shift 3
	t_fails "$who example: a message longer than msgsize is refused" "$error" \
		"$@" send "$(printf '%0257d' 0)"
	t_eq "... and nothing is sent" "10 256 0" "$("$MQTOOL" attr "$name")"
}

if command -v java >/dev/null; then
	JAVA=(timeout 60 java "$EXAMPLES_DIR/MqQueue.java" "$MNT" "${P}java")
	"${JAVA[@]}" send one "two words" three
	t_eq "Java example: send made the queue with the sizes set on mq/, and sent 3 messages" \
		"10 256 3" "$("$MQTOOL" attr "${P}java")"
	t_eq "Java example: mq_receive takes exactly its 3 messages, in order" "one|two words|three|" \
		"$(for _ in 1 2 3; do "$MQTOOL" receive "${P}java"; printf '|'; done)"
	t_fails "... and nothing more" "EAGAIN" "$MQTOOL" receive "${P}java"
	receives_fed Java "${P}java" "${JAVA[@]}"
	refuses_long Java "${P}java" "Message too long" "${JAVA[@]}"
	rm "$Q/${P}java"
else
	ok "# SKIP no java"
fi

if command -v node >/dev/null; then
	NODE=(timeout 30 node "$EXAMPLES_DIR/mq_queue.js" "$MNT" "${P}node")
	"${NODE[@]}" send one "héllo ✓" "$(printf 'tab\tand\nnewline')"
	t_eq "Node example: send made the queue with the sizes set on mq/, and sent 3 messages" \
		"10 256 3" "$("$MQTOOL" attr "${P}node")"
	t_eq "Node example: dd through the mount takes its 3 messages, one read each, bytes exact" \
		"$(printf 'one|héllo ✓|tab\tand\nnewline|' | hexdump)" "$(take "${P}node" 3 | hexdump)"
	t_fails "... and nothing more" "EAGAIN" "$MQTOOL" receive "${P}node"
	receives_fed Node "${P}node" "${NODE[@]}"
	for i in 1 2; do "$MQTOOL" send "${P}node" "left $i"; done
	t_eq "Node example: drain (O_NONBLOCK) prints what waits, stops at EAGAIN, exits 0" \
		"$(printf 'left 1\nleft 2\n|0')" "$("${NODE[@]}" drain; echo "|$?")"
	t_eq "Node example: drain of an empty queue returns at once" "|0" "$("${NODE[@]}" drain; echo "|$?")"
	refuses_long Node "${P}node" "EMSGSIZE" "${NODE[@]}"
	rm "$Q/${P}node"
else
	ok "# SKIP no node"
fi
setfattr -x user.mq.maxmsg "$Q"
setfattr -x user.mq.msgsize "$Q"

t_done
