#!/bin/bash
# A consumer: takes messages from a queue file, one read each, waiting while
# it is empty, until it reads "done". Prints what it took.
#
#   consumer.sh /mnt/ipc/mq/jobs
set -eu
queue=$1
exec 3< "$queue"
# read -r takes one line; each message here is one line, so one read()
# of the file hands over one whole message.
while IFS= read -r -u 3 message; do
	[ "$message" = done ] && break
	echo "took: $message"
done
exec 3<&-
