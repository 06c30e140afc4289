/* Shared memory timings on one file: the same code runs on a segment's
 * file through the mount and on the same segment in /dev/shm. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

#define MIB (1024.0 * 1024.0)

static int open_segment(const char *path)
{
	int fd = open(path, O_RDWR);
	if (fd < 0)
		die_errno("open %s", path);
	return fd;
}

static char *block_buffer(long block)
{
	char *buf = malloc(block);
	if (!buf)
		die_errno("malloc");
	memset(buf, 0x5a, block);
	return buf;
}

/* One whole block at offset, or the run is void. */
static void transfer(int fd, char *buf, long block, off_t offset, bool write_it)
{
	ssize_t n = write_it ? pwrite(fd, buf, block, offset) : pread(fd, buf, block, offset);
	if (n < 0)
		die_errno(write_it ? "pwrite" : "pread");
	if (n != block)
		die("%s at %lld: %zd of %ld bytes", write_it ? "pwrite" : "pread",
		    (long long)offset, n, block);
}

static double mib_per_s(double bytes, uint64_t ns)
{
	return bytes / MIB / ((double)ns / 1e9);
}

static void check_sizes(const struct bench_args *a)
{
	if (a->n_files != 1 || a->size <= 0 || a->block <= 0 || a->size % a->block)
		die("wants --file PATH, --size and --block (a divisor of the size)");
}

/* Writes the whole segment block by block, then reads it back. */
int bench_shm_seq(const struct bench_args *a)
{
	check_sizes(a);
	int fd = open_segment(a->files[0]);
	char *buf = block_buffer(a->block);
	for (int write_it = 1; write_it >= 0; write_it--) {
		uint64_t start = now_ns();
		for (off_t off = 0; off < a->size; off += a->block)
			transfer(fd, buf, a->block, off, write_it);
		print_result(write_it ? "write_mib_s" : "read_mib_s", mib_per_s(a->size, now_ns() - start));
	}
	free(buf);
	close(fd);
	return 0;
}

/* A fixed sequence, the same on both sides of a comparison. */
static uint64_t next_random(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* count blocks at random block-aligned offsets: written, then read. */
int bench_shm_rand(const struct bench_args *a)
{
	check_sizes(a);
	if (a->count <= 0)
		die("wants --count");
	int fd = open_segment(a->files[0]);
	char *buf = block_buffer(a->block);
	long blocks = a->size / a->block;
	for (int write_it = 1; write_it >= 0; write_it--) {
		uint64_t state = 0x9e3779b97f4a7c15ull;
		uint64_t start = now_ns();
		for (long i = 0; i < a->count; i++)
			transfer(fd, buf, a->block, (off_t)(next_random(&state) % blocks) * a->block,
				 write_it);
		print_result(write_it ? "write_mib_s" : "read_mib_s",
			     mib_per_s((double)a->count * a->block, now_ns() - start));
	}
	free(buf);
	close(fd);
	return 0;
}

/* Maps the segment shared and stores one byte in every page. A refused
 * mapping (ENODEV without passthrough) is a result, said as "error=". */
int bench_shm_touch(const struct bench_args *a)
{
	if (a->n_files != 1 || a->size <= 0)
		die("wants --file PATH and --size");
	int fd = open_segment(a->files[0]);
	long page = sysconf(_SC_PAGESIZE);
	uint64_t start = now_ns();
	volatile char *map = mmap(NULL, a->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		printf("error=%s\n", strerrorname_np(errno));
		close(fd);
		return 0;
	}
	for (long off = 0; off < a->size; off += page)
		map[off] = (char)off;
	print_result("ns_total", (double)(now_ns() - start));
	munmap((void *)map, a->size);
	close(fd);
	return 0;
}
