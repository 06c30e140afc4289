/* Parked readers, and the latency of a stat.
 *
 * park starts N threads, each blocked in read() on its own open of an
 * empty queue file, spread evenly over the CPUs this process may run on
 * (over FUSE io_uring a request waits in the ring queue of its CPU), says "parked=N" once the kernel shows every one of
 * them inside read(), and holds them until its stdin is closed. Exiting
 * then kills the readers, and the kernel interrupts their requests. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

#define READER_STACK (64 * 1024)
#define PARK_TIMEOUT_NS (120 * 1000000000ull)

struct reader {
	const char *path;
	int cpu;   /* where it reads */
	pid_t tid; /* set once its file is open; read() comes next */
	int err;   /* errno of a failed open or read */
};

static void *reader_run(void *data)
{
	struct reader *r = data;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(r->cpu, &set);
	errno = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (errno) {
		__atomic_store_n(&r->err, errno, __ATOMIC_RELEASE);
		return NULL;
	}
	int fd = open(r->path, O_RDONLY);
	if (fd < 0) {
		__atomic_store_n(&r->err, errno, __ATOMIC_RELEASE);
		return NULL;
	}
	__atomic_store_n(&r->tid, gettid(), __ATOMIC_RELEASE);
	char buf[64];
	if (read(fd, buf, sizeof(buf)) < 0)
		__atomic_store_n(&r->err, errno, __ATOMIC_RELEASE);
	close(fd);
	return NULL;
}

/* Whether the thread sleeps in read(): the first field of its
 * /proc/.../syscall is the number of the call it is in. */
static bool blocked_in_read(pid_t tid)
{
	char path[64], text[128] = "";
	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	bool in_read = fgets(text, sizeof(text), f) && atol(text) == SYS_read &&
		       text[0] >= '0' && text[0] <= '9';
	fclose(f);
	return in_read;
}

static void start_readers(struct reader *readers, long count)
{
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, READER_STACK);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (long i = 0; i < count; i++) {
		pthread_t t;
		errno = pthread_create(&t, &attr, reader_run, &readers[i]);
		if (errno)
			die_errno("pthread_create (reader %ld)", i);
	}
	pthread_attr_destroy(&attr);
}

/* Waits until every reader is inside read(). */
static void wait_until_parked(struct reader *readers, long count)
{
	uint64_t deadline = now_ns() + PARK_TIMEOUT_NS;
	long i = 0;
	while (i < count) {
		int err = __atomic_load_n(&readers[i].err, __ATOMIC_ACQUIRE);
		pid_t tid = __atomic_load_n(&readers[i].tid, __ATOMIC_ACQUIRE);
		if (err) {
			errno = err;
			die_errno("reader of %s", readers[i].path);
		}
		if (tid && blocked_in_read(tid)) {
			i++;
			continue;
		}
		if (now_ns() > deadline)
			die("reader %ld of %s is not blocked in read()", i, readers[i].path);
		usleep(1000);
	}
}

int bench_park(const struct bench_args *a)
{
	if (a->n_files == 0 || a->count <= 0)
		die("wants --file PATH ... and --count N");
	struct reader *readers = calloc(a->count, sizeof(*readers));
	if (!readers)
		die_errno("calloc");
	cpu_set_t allowed;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
		die_errno("sched_getaffinity");
	int cpus[CPU_SETSIZE], n_cpus = 0;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &allowed))
			cpus[n_cpus++] = c;
	for (long i = 0; i < a->count; i++) {
		readers[i].path = a->files[i % a->n_files];
		readers[i].cpu = cpus[i % n_cpus];
	}
	start_readers(readers, a->count);
	wait_until_parked(readers, a->count);
	print_result("parked", a->count);
	char line[64];
	while (fgets(line, sizeof(line), stdin))
		;
	/* The readers are still blocked: exit, don't join. */
	_exit(0);
}

static void stat_loop(const char *path, long count)
{
	struct stat st;
	for (long i = 0; i < count; i++)
		if (stat(path, &st) < 0)
			die_errno("stat %s", path);
}

int bench_stat_latency(const struct bench_args *a)
{
	if (a->n_files != 1 || a->count <= 0)
		die("wants --file PATH and --count N");
	stat_loop(a->files[0], warmup_count(a->count));
	uint64_t start = now_ns();
	stat_loop(a->files[0], a->count);
	print_result("ns_per_op", (double)(now_ns() - start) / a->count);
	return 0;
}
