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

t_done
