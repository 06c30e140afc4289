/* Message queue timings: one side of each comparison per run, either
 * through files (a queue file of ipcfs, or the floor's file) with
 * write()/read(), or straight to a queue with mq_send()/mq_receive() or
 * msgsnd()/msgrcv(). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <mqueue.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

/* Where messages go: a file, a POSIX queue by its descriptor, or a
 * System V queue by its id. */
struct endpoint {
	enum { TO_FILE, TO_MQ, TO_SYSV_MSG } kind;
	int fd; /* a file's descriptor, an mqd_t (which is one on Linux) or an id */
	const char *what;
	struct msgbuf *sysv; /* msgsnd's and msgrcv's buffer: the type, then the text */
};

static struct endpoint endpoint_of_file(const char *file, int flags)
{
	struct endpoint e = { .kind = TO_FILE, .fd = open(file, flags), .what = file };
	if (e.fd < 0)
		die_errno("open %s", file);
	return e;
}

static struct endpoint endpoint_of_mq(const char *queue, int flags)
{
	struct endpoint e = { .kind = TO_MQ, .fd = (int)mq_open(queue, flags), .what = queue };
	if (e.fd < 0)
		die_errno("mq_open %s", queue);
	return e;
}

static struct endpoint endpoint_open(const char *file, const char *queue, int flags)
{
	return queue ? endpoint_of_mq(queue, flags) : endpoint_of_file(file, flags);
}

static struct endpoint endpoint_of_sysv_msg(long id, size_t size)
{
	struct endpoint e = { .kind = TO_SYSV_MSG, .fd = (int)id, .what = "the System V queue" };
	e.sysv = calloc(1, sizeof(long) + size);
	if (!e.sysv)
		die_errno("calloc");
	return e;
}

static void endpoint_close(struct endpoint *e)
{
	if (e->kind == TO_MQ)
		mq_close((mqd_t)e->fd);
	else if (e->kind == TO_FILE)
		close(e->fd);
	free(e->sysv);
}

static ssize_t endpoint_write(const struct endpoint *e, const char *buf, size_t len)
{
	switch (e->kind) {
	case TO_MQ:
		return mq_send((mqd_t)e->fd, buf, len, 0) < 0 ? -1 : (ssize_t)len;
	case TO_SYSV_MSG:
		e->sysv->mtype = 1;
		memcpy(e->sysv->mtext, buf, len);
		return msgsnd(e->fd, e->sysv, len, 0) < 0 ? -1 : (ssize_t)len;
	default:
		return write(e->fd, buf, len);
	}
}

static ssize_t endpoint_read(const struct endpoint *e, char *buf, size_t len)
{
	ssize_t n;
	switch (e->kind) {
	case TO_MQ:
		return mq_receive((mqd_t)e->fd, buf, len, NULL);
	case TO_SYSV_MSG:
		n = msgrcv(e->fd, e->sysv, len, 0, 0);
		if (n > 0)
			memcpy(buf, e->sysv->mtext, n);
		return n;
	default:
		return read(e->fd, buf, len);
	}
}

static void endpoint_send(const struct endpoint *e, const char *buf, size_t len)
{
	ssize_t n = endpoint_write(e, buf, len);
	if (n < 0)
		die_errno("send to %s", e->what);
	if ((size_t)n != len)
		die("send to %s: %zd of %zu bytes", e->what, n, len);
}

/* The buffer is exactly one message long: the queues are made with that
 * msgsize, so neither side takes a path for short buffers. */
static void endpoint_receive(const struct endpoint *e, char *buf, size_t len)
{
	ssize_t n = endpoint_read(e, buf, len);
	if (n < 0)
		die_errno("receive from %s", e->what);
	if ((size_t)n != len)
		die("receive from %s: %zd of %zu bytes", e->what, n, len);
}

/* Exactly one of --file, --mq or --sysv-msg, and a message size. */
static void check_one_target(const struct bench_args *a)
{
	if (a->n_files + a->n_queues + (a->sysv_msg >= 0) != 1 || a->size <= 0 || a->count <= 0)
		die("wants one --file, --mq or --sysv-msg, --size and --count");
}

static void roundtrips(const struct endpoint *e, char *buf, size_t size, long count)
{
	for (long i = 0; i < count; i++) {
		endpoint_send(e, buf, size);
		endpoint_receive(e, buf, size);
	}
}

/* One thread sends a message and receives it back, count times. */
int bench_roundtrip(const struct bench_args *a)
{
	check_one_target(a);
	struct endpoint e = a->sysv_msg >= 0 ? endpoint_of_sysv_msg(a->sysv_msg, a->size) :
			    a->n_queues ? endpoint_of_mq(a->queues[0], O_RDWR) :
					  endpoint_of_file(a->files[0], O_RDWR);
	char *buf = calloc(1, a->size);
	if (!buf)
		die_errno("calloc");
	roundtrips(&e, buf, a->size, warmup_count(a->count));
	uint64_t start = now_ns();
	roundtrips(&e, buf, a->size, a->count);
	print_result("ns_per_op", (double)(now_ns() - start) / a->count);
	endpoint_close(&e);
	free(buf);
	return 0;
}

struct pair_side {
	const char *file, *queue;
	bool sends;
	size_t size;
	long count;
	pthread_barrier_t *start;
};

/* One producer or consumer: opens its own end, then moves count messages. */
static void *pair_side_run(void *data)
{
	struct pair_side *s = data;
	struct endpoint e = endpoint_open(s->file, s->queue, s->sends ? O_WRONLY : O_RDONLY);
	char *buf = calloc(1, s->size);
	if (!buf)
		die_errno("calloc");
	pthread_barrier_wait(s->start);
	for (long i = 0; i < s->count; i++) {
		if (s->sends)
			endpoint_send(&e, buf, s->size);
		else
			endpoint_receive(&e, buf, s->size);
	}
	endpoint_close(&e);
	free(buf);
	return NULL;
}

/* P producer/consumer pairs, each on its own target (the floor's one
 * file may be given P times); reports wall time per message moved. */
int bench_pairs(const struct bench_args *a)
{
	size_t pairs = a->n_files + a->n_queues;
	if (pairs == 0 || (a->n_files && a->n_queues) || a->size <= 0 || a->count <= 0)
		die("wants --file ... or --mq ..., --size and --count");
	struct pair_side *sides = calloc(2 * pairs, sizeof(*sides));
	pthread_t *threads = calloc(2 * pairs, sizeof(*threads));
	pthread_barrier_t start;
	if (!sides || !threads)
		die_errno("calloc");
	pthread_barrier_init(&start, NULL, 2 * pairs + 1);
	for (size_t i = 0; i < 2 * pairs; i++) {
		size_t p = i / 2;
		sides[i] = (struct pair_side){
			.file = a->n_files ? a->files[p] : NULL,
			.queue = a->n_queues ? a->queues[p] : NULL,
			.sends = i % 2 == 0,
			.size = a->size,
			.count = a->count,
			.start = &start,
		};
		errno = pthread_create(&threads[i], NULL, pair_side_run, &sides[i]);
		if (errno)
			die_errno("pthread_create");
	}
	pthread_barrier_wait(&start);
	uint64_t t0 = now_ns();
	for (size_t i = 0; i < 2 * pairs; i++)
		pthread_join(threads[i], NULL);
	print_result("ns_per_op", (double)(now_ns() - t0) / ((double)a->count * pairs));
	pthread_barrier_destroy(&start);
	free(threads);
	free(sides);
	return 0;
}

/* The time of write() alone to an idle queue file; the message is taken
 * out again directly, untimed, so the queue never fills. */
int bench_send_latency(const struct bench_args *a)
{
	if (a->n_files != 1 || a->n_queues != 1 || a->size <= 0 || a->count <= 0)
		die("wants --file PATH (the queue through the mount), --mq /NAME (the same queue), "
		    "--size and --count");
	struct endpoint file = endpoint_of_file(a->files[0], O_WRONLY);
	struct endpoint queue = endpoint_of_mq(a->queues[0], O_RDONLY);
	char *buf = calloc(1, a->size);
	if (!buf)
		die_errno("calloc");
	long warmup = warmup_count(a->count);
	uint64_t spent = 0;
	for (long i = 0; i < warmup + a->count; i++) {
		uint64_t t0 = now_ns();
		endpoint_send(&file, buf, a->size);
		if (i >= warmup)
			spent += now_ns() - t0;
		endpoint_receive(&queue, buf, a->size);
	}
	print_result("ns_per_op", (double)spent / a->count);
	endpoint_close(&file);
	endpoint_close(&queue);
	free(buf);
	return 0;
}

/* Makes queues first..last-1 as uid; exits the child's status. */
static _Noreturn void fill_as(uid_t uid, const struct bench_args *a, long first, long last)
{
	/* RLIMIT_MSGQUEUE is charged to the user who calls mq_open, and its
	 * hard limit can't be raised without CAP_SYS_RESOURCE: so many queues
	 * are made by several users, each within its own budget. */
	if (setgroups(0, NULL) < 0 || setgid(uid) < 0 || setuid(uid) < 0)
		die_errno("setuid %u", (unsigned)uid);
	struct mq_attr attr = { .mq_maxmsg = a->maxmsg, .mq_msgsize = a->msgsize };
	for (long i = first; i < last; i++) {
		char name[256];
		snprintf(name, sizeof(name), "%s%ld", a->prefix, i);
		mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDONLY, 0666, &attr);
		if (q == (mqd_t)-1)
			die_errno("mq_open %s as uid %u", name, (unsigned)uid);
		/* Readable and writable by all, whatever the umask. */
		if (fchmod((int)q, 0666) < 0)
			die_errno("fchmod %s", name);
		mq_close(q);
	}
	exit(0);
}

/* Queues PREFIX0 .. PREFIX(count-1), per_uid of them made by each of the
 * uids from first_uid on. */
int bench_mq_fill(const struct bench_args *a)
{
	if (!a->prefix || a->count <= 0 || a->maxmsg <= 0 || a->msgsize <= 0 ||
	    a->first_uid <= 0 || a->per_uid <= 0)
		die("wants --prefix, --count, --maxmsg, --msgsize, --first-uid and --per-uid");
	long children = (a->count + a->per_uid - 1) / a->per_uid;
	for (long c = 0; c < children; c++) {
		pid_t pid = fork();
		if (pid < 0)
			die_errno("fork");
		if (pid == 0) {
			long first = c * a->per_uid;
			long last = first + a->per_uid < a->count ? first + a->per_uid : a->count;
			fill_as(a->first_uid + c, a, first, last);
		}
	}
	int status, failed = 0;
	while (wait(&status) > 0)
		failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	return failed;
}
