#!/bin/bash
# mq/ from the shell: the commands people type, checked against the kernel
# through mqtool, which uses mq_open/mq_send/mq_receive directly.
. "$TESTS_DIR/lib.sh"
Q=$MNT/mq

# touch creates a queue the kernel sees; ls shows it.
touch "$Q/${P}jobs"
t_eq "touch creates a real queue (mqtool attr: maxmsg msgsize curmsgs)" "10 8192 0" "$("$MQTOOL" attr "${P}jobs")"
t_eq "ls mq/ lists it" "${P}jobs" "$(ls "$Q" | grep "^$P")"
t_eq "touch of an existing queue succeeds and keeps it" "0" "$(touch "$Q/${P}jobs"; echo $?)"
t_eq "ls -i shows the inode that stat shows" "$(stat -c %i "$Q/${P}jobs")" \
	"$(ls -i "$Q" | awk -v n="${P}jobs" '$2 == n { print $1 }')"

# echo sends one message per write; the shell's O_TRUNC does nothing.
echo hello > "$Q/${P}jobs"
printf 'two words' > "$Q/${P}jobs"
t_eq "each echo is one message" "10 8192 2" "$("$MQTOOL" attr "${P}jobs")"
t_eq "the first message, exact bytes, newline included" "$(printf 'hello\nX')" "$("$MQTOOL" receive "${P}jobs"; echo X)"
t_eq "the second message read through the mount with dd" "two words" \
	"$(dd if="$Q/${P}jobs" bs=8192 count=1 status=none)"

# Messages sent by other programs come out of cat, one read each.
"$MQTOOL" send "${P}jobs" "from outside"
t_eq "a message sent with mq_send is read by dd" "from outside" \
	"$(dd if="$Q/${P}jobs" bs=8192 count=1 status=none)"

# Empty queue: a non-blocking read says EAGAIN.
t_fails "dd iflag=nonblock on an empty queue: EAGAIN" "Resource temporarily unavailable" \
	dd if="$Q/${P}jobs" bs=8192 count=1 iflag=nonblock status=none

# Too large: EMSGSIZE, and nothing is sent.
t_fails "a message larger than msgsize: EMSGSIZE" "Message too long" \
	dd if=/dev/zero of="$Q/${P}jobs" bs=8193 count=1 status=none
t_eq "nothing was sent" "10 8192 0" "$("$MQTOOL" attr "${P}jobs")"

# getfattr shows the queue's attributes.
echo one > "$Q/${P}jobs"
t_eq "getfattr shows holders, maxmsg, msgsize, curmsgs, priority and the status line's values" \
	"user.ipc.holders=\"\"|user.mq.curmsgs=\"1\"|user.mq.maxmsg=\"10\"|user.mq.msgsize=\"8192\"|user.mq.notify=\"0\"|user.mq.notify_pid=\"0\"|user.mq.priority=\"0\"|user.mq.qsize=\"4\"|user.mq.signo=\"0\"" \
	"$(getfattr -d --absolute-names "$Q/${P}jobs" | grep '^user' | sort | paste -sd'|')"

# Priority: set with setfattr, used by later writes through the mount.
setfattr -n user.mq.priority -v 7 "$Q/${P}jobs"
echo urgent > "$Q/${P}jobs"
setfattr -n user.mq.priority -v 0 "$Q/${P}jobs"
t_eq "a message written at priority 7 is read before an older one" "urgent" \
	"$(head -c 7 < "$Q/${P}jobs" | tr -d '\n')"
t_fails "a priority out of range: EINVAL" "Invalid argument" \
	setfattr -n user.mq.priority -v 40000 "$Q/${P}jobs"
t_fails "curmsgs is read-only: EPERM" "Operation not permitted" \
	setfattr -n user.mq.curmsgs -v 3 "$Q/${P}jobs"
cat "$Q/${P}jobs" >/dev/null &
reader=$!
sleep 0.3
kill "$reader" 2>/dev/null; wait "$reader" 2>/dev/null

# Sizes for new queues: per user, from the directory's attributes.
setfattr -n user.mq.maxmsg -v 3 "$Q"
setfattr -n user.mq.msgsize -v 64 "$Q"
touch "$Q/${P}small"
t_eq "a queue created after setfattr on mq/ has those sizes" "3 64 0" "$("$MQTOOL" attr "${P}small")"
t_eq "getfattr on mq/ shows the sizes a create would use" "3 64" \
	"$(getfattr --only-values -n user.mq.maxmsg "$Q"; echo -n ' '; getfattr --only-values -n user.mq.msgsize "$Q")"
setfattr -x user.mq.maxmsg "$Q"
setfattr -x user.mq.msgsize "$Q"
touch "$Q/${P}default"
t_eq "after setfattr -x, creates get the system's default sizes" "10 8192 0" "$("$MQTOOL" attr "${P}default")"

# Another user picks sizes too, for their own creates only, and can't
# remove someone else's queue (the sticky rule, kept by the daemon).
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
as_nobody setfattr -n user.mq.maxmsg -v 2 "$Q"
as_nobody touch "$Q/${P}nobodys"
t_eq "a non-root user's sizes apply to its creates" "2 8192 0 65534" \
	"$("$MQTOOL" attr "${P}nobodys" | tr '\n' ' ')$(stat -c %u "$Q/${P}nobodys")"
t_eq "and not to root's" "10" "$(getfattr --only-values -n user.mq.maxmsg "$Q")"
t_fails "a non-root user can't remove root's queue: EPERM" "Operation not permitted" \
	as_nobody rm "$Q/${P}small"
as_nobody setfattr -n user.mq.maxmsg -v "$(($(cat /proc/sys/fs/mqueue/msg_max) + 1))" "$Q"
t_fails "past /proc/sys/fs/mqueue/msg_max a non-root create is refused: EINVAL" "Invalid argument" \
	as_nobody touch "$Q/${P}toobig"
as_nobody setfattr -x user.mq.maxmsg "$Q"

# A full queue: a non-blocking write says EAGAIN, a blocking one waits.
for i in 1 2 3; do echo "m$i" > "$Q/${P}small"; done
t_fails "a non-blocking write to a full queue: EAGAIN" "Resource temporarily unavailable" \
	dd if=/dev/zero of="$Q/${P}small" bs=4 count=1 oflag=nonblock status=none
echo m4 > "$Q/${P}small" &
writer=$!
sleep 0.3
t_eq "a blocking writer waits while the queue is full" "running" "$(kill -0 $writer 2>/dev/null && echo running)"
"$MQTOOL" receive "${P}small" >/dev/null
wait "$writer"
t_eq "and finishes once a message is taken" "3 64 3" "$("$MQTOOL" attr "${P}small")"

# Drain: read until empty and exit 0, the way examples/drain.sh does.
t_eq "drain.sh prints every message and exits 0" "$(printf 'm2\nm3\nm4\nexit 0')" \
	"$(sh "$EXAMPLES_DIR/drain.sh" "$Q/${P}small"; echo "exit $?")"
t_eq "the queue is empty after the drain" "3 64 0" "$("$MQTOOL" attr "${P}small")"

# chmod and chown change the real queue.
chmod 0640 "$Q/${P}jobs"
t_eq "chmod changes the mode stat shows" "640" "$(stat -c %a "$Q/${P}jobs")"
chown 65534:65534 "$Q/${P}jobs"
t_eq "chown changes the owner stat shows" "65534:65534" "$(stat -c %u:%g "$Q/${P}jobs")"

# Bad input: a clear errno, and the daemon keeps serving.
t_fails "mkdir in mq/: EPERM" "Operation not permitted" mkdir "$Q/${P}dir"
t_fails "mv of a queue: EPERM" "Operation not permitted" mv -T "$Q/${P}jobs" "$Q/${P}moved"
t_fails "ln of a queue: EPERM" "Operation not permitted" ln "$Q/${P}jobs" "$Q/${P}link"
t_fails "truncate to a non-zero size: EINVAL" "Invalid argument" truncate -s 10 "$Q/${P}jobs"
t_fails "a 256-byte name: ENAMETOOLONG" "File name too long" touch "$Q/${P}$(printf 'x%.0s' $(seq 256))"
t_fails "a file at the root: EPERM" "Operation not permitted" touch "$MNT/${P}file"
t_fails "rm of a queue that does not exist: ENOENT" "No such file or directory" rm "$Q/${P}nothing"
t_eq "the daemon still answers" "${P}jobs" "$(ls "$Q" | grep "^${P}jobs$")"

# rm unlinks the real queue; queues removed elsewhere vanish at once.
rm "$Q/${P}jobs"
t_fails "rm calls mq_unlink" "ENOENT" "$MQTOOL" attr "${P}jobs"
"$MQTOOL" unlink "${P}default"
t_fails "a queue unlinked elsewhere is gone from the mount at once" "No such file or directory" \
	stat "$Q/${P}default"
"$MQTOOL" create "${P}made" 5 100 0644
t_eq "a queue made elsewhere shows at once, with its mode" "644 5" \
	"$(stat -c %a "$Q/${P}made") $(getfattr --only-values -n user.mq.maxmsg "$Q/${P}made")"

t_done
