// A queue file used from Node.js with nothing but the fs module: no native
// addon, no mq_* binding.
//
//   node examples/mq_queue.js MOUNT NAME send TEXT...
//   node examples/mq_queue.js MOUNT NAME receive N
//   node examples/mq_queue.js MOUNT NAME drain
//
// send: opens MOUNT/mq/NAME, creating the queue if it is not there (with the
// sizes the mount gives queues you create: setfattr -n user.mq.maxmsg and
// user.mq.msgsize on MOUNT/mq/), and sends each TEXT as one message, its
// UTF-8 bytes exactly, nothing added: one fs.writeSync of one Buffer is one
// write() and so one mq_send. A message longer than the queue's msgsize
// fails with EMSGSIZE and nothing is sent; on a full queue the write waits.
//
// receive: reads N messages, one fs.readSync each, waiting while the queue
// is empty. Writes each message's bytes to stdout as they came (binary
// included), followed by a newline.
//
// drain: the same without waiting: the file is opened O_NONBLOCK, so a read
// of an empty queue fails with EAGAIN, and drain stops there and exits 0.
//
// readSync on a queue file is a blocking read(): while the queue is empty
// it blocks Node's one JavaScript thread, so no timer, callback or other I/O
// of the process runs until a message comes. The async fs.read instead
// holds one of libuv's thread pool threads (4 unless UV_THREADPOOL_SIZE says
// otherwise) for as long as it waits, and with all of them waiting every
// other fs call of the process waits too. To serve other work while a queue
// is empty, read in a worker_thread, or poll with O_NONBLOCK as drain does.
'use strict';
const fs = require('fs');
const path = require('path');

// The largest read the mount hands over in one piece (1 MiB less a page),
// at least any queue's message size: one read takes one whole message.
const MAX_MESSAGE = 1044480;

function send(queue, texts) {
  const { O_WRONLY, O_CREAT } = fs.constants;
  const fd = fs.openSync(queue, O_WRONLY | O_CREAT, 0o600);
  for (const text of texts) {
    const message = Buffer.from(text, 'utf8');
    const sent = fs.writeSync(fd, message);
    if (sent !== message.length)
      throw new Error(`short write: ${sent} of ${message.length}`);
  }
  fs.closeSync(fd);
}

// Prints one message and a newline to stdout, bytes as they are.
function print(buffer, length) {
  fs.writeSync(1, buffer, 0, length);
  fs.writeSync(1, '\n');
}

function receive(queue, count) {
  const fd = fs.openSync(queue, fs.constants.O_RDONLY);
  const buffer = Buffer.alloc(MAX_MESSAGE);
  for (let i = 0; i < count; i++) {
    // Blocks this thread until a message is there. A queue file has no
    // end: 0 bytes is a message of length zero sent with mq_send directly.
    print(buffer, fs.readSync(fd, buffer, 0, buffer.length, null));
  }
  fs.closeSync(fd);
}

function drain(queue) {
  const { O_RDONLY, O_NONBLOCK } = fs.constants;
  const fd = fs.openSync(queue, O_RDONLY | O_NONBLOCK);
  const buffer = Buffer.alloc(MAX_MESSAGE);
  for (;;) {
    let length;
    try {
      length = fs.readSync(fd, buffer, 0, buffer.length, null);
    } catch (err) {
      if (err.code === 'EAGAIN')
        break;  // empty now
      throw err;
    }
    print(buffer, length);
  }
  fs.closeSync(fd);
}

function main(args) {
  const [mount, name, command, ...rest] = args;
  const queue = path.join(mount || '', 'mq', name || '');
  if (command === 'send' && name)
    send(queue, rest);
  else if (command === 'receive' && rest.length === 1)
    receive(queue, Number(rest[0]));
  else if (command === 'drain' && rest.length === 0)
    drain(queue);
  else {
    console.error('usage: node mq_queue.js MOUNT NAME send TEXT... | receive N | drain');
    process.exit(2);
  }
}

try {
  main(process.argv.slice(2));
} catch (err) {
  // "EMSGSIZE: message too long, write", "ENOENT: ..." (err.code: the errno)
  console.error(`mq_queue.js: ${err.message}`);
  process.exit(1);
}
