// A shared memory file used from Node.js with positional reads and writes.
//
//   node examples/shm_file.js MOUNT NAME
//
// Opens the existing MOUNT/shm/NAME, extends it to 4096 bytes if it is
// shorter, writes "hello from node" at offset 0 with fs.writeSync at a
// position, and prints the big-endian int that fs.readSync finds at offset
// 1024. Leaves the object in place. (ShmMap.java does the same through a
// mapping.)
//
// Why no mapping: Node has no mmap in its core, and a mapping would take a
// native addon. It needs none here: a read or write at a position of
// shm/NAME reaches the segment's own bytes, the very ones that processes
// which mapped it (through the mount or /dev/shm/NAME) see, at once and both
// ways; with FUSE passthrough the kernel serves them from the segment
// itself, without it the daemon does with pread/pwrite. What a file can't
// give is atomicity: a 4-byte write is not an atomic store, and there are no
// futexes, so use a semaphore file (sem/) or a queue to take turns.
'use strict';
const fs = require('fs');
const path = require('path');

const SIZE = 4096;
const INT_OFFSET = 1024;
const MESSAGE = Buffer.from('hello from node', 'ascii');

function main(mount, name) {
  const fd = fs.openSync(path.join(mount, 'shm', name), fs.constants.O_RDWR);
  if (fs.fstatSync(fd).size < SIZE)
    fs.ftruncateSync(fd, SIZE);
  fs.writeSync(fd, MESSAGE, 0, MESSAGE.length, 0);
  const int = Buffer.alloc(4);
  fs.readSync(fd, int, 0, int.length, INT_OFFSET);
  console.log(`int at ${INT_OFFSET}: ${int.readInt32BE(0)}`);
  fs.closeSync(fd);
}

const [mount, name] = process.argv.slice(2);
if (!name) {
  console.error('usage: node shm_file.js MOUNT NAME');
  process.exit(2);
}
try {
  main(mount, name);
} catch (err) {
  console.error(`shm_file.js: ${err.message}`);
  process.exit(1);
}
