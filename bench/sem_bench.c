/* Semaphore timings: a post and then a wait, which the post makes possible
 * at once, through a sem/ file or with sem_post/sem_wait. */
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

/* A command written to a semaphore file. Written at offset 0 where the
 * file can seek: a position that grew past the size the file shows
 * would make the kernel run each write alone. The floor's file can't
 * seek and takes plain writes. */
static void write_command(int fd, bool seekable, const char *command)
{
	size_t len = strlen(command);
	ssize_t n = seekable ? pwrite(fd, command, len, 0) : write(fd, command, len);
	if (n < 0)
		die_errno("write '%s'", command);
	if ((size_t)n != len)
		die("write '%s': %zd of %zu bytes", command, n, len);
}

static void file_pairs(int fd, bool seekable, long count)
{
	for (long i = 0; i < count; i++) {
		write_command(fd, seekable, "post");
		write_command(fd, seekable, "wait");
	}
}

static void sem_pairs(sem_t *sem, long count)
{
	for (long i = 0; i < count; i++) {
		if (sem_post(sem) < 0)
			die_errno("sem_post");
		while (sem_wait(sem) < 0)
			if (errno != EINTR)
				die_errno("sem_wait");
	}
}

static double time_file_pairs(const char *path, long count)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		die_errno("open %s", path);
	bool seekable = lseek(fd, 0, SEEK_CUR) >= 0;
	file_pairs(fd, seekable, warmup_count(count));
	uint64_t start = now_ns();
	file_pairs(fd, seekable, count);
	uint64_t spent = now_ns() - start;
	close(fd);
	return (double)spent / count;
}

static double time_sem_pairs(const char *name, long count)
{
	sem_t *sem = sem_open(name, 0);
	if (sem == SEM_FAILED)
		die_errno("sem_open %s", name);
	sem_pairs(sem, warmup_count(count));
	uint64_t start = now_ns();
	sem_pairs(sem, count);
	uint64_t spent = now_ns() - start;
	sem_close(sem);
	return (double)spent / count;
}

int bench_sem(const struct bench_args *a)
{
	if ((a->n_files == 1) == (a->name != NULL) || a->count <= 0)
		die("wants --file PATH or --name /NAME, and --count");
	double ns = a->name ? time_sem_pairs(a->name, a->count) : time_file_pairs(a->files[0], a->count);
	print_result("ns_per_op", ns);
	return 0;
}
