#!/bin/sh
# A producer: sends "job 1" .. "job N" and then "done" to a queue file, one
# echo per message. It waits whenever the queue is full.
#
#   producer.sh /mnt/ipc/mq/jobs 5
set -eu
queue=$1
count=$2
i=1
while [ "$i" -le "$count" ]; do
	echo "job $i" > "$queue"
	i=$((i + 1))
done
echo done > "$queue"
