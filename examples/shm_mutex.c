/* Two processes share a mutex and a condition variable that live in a
 * shared memory file mapped through the mount.
 *
 *   shm-mutex MOUNT NAME N
 *
 * Creates MOUNT/shm/NAME, sizes it to hold one struct shared, maps it with
 * mmap(MAP_SHARED) and sets up a process-shared mutex and condition variable
 * in it, then forks. Parent and child each add 1 to a shared counter N
 * times under the mutex, then hand a turn back and forth ROUNDS times each
 * through the condition variable. Prints "counter=2N" and
 * "ping-pong=2*ROUNDS", then removes the file.
 *
 * Nothing here knows about FUSE: the mutex and condition variable work
 * because the mapping is the segment itself, so the futexes under them are
 * the same word in both processes. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 5
#define WAIT_SECONDS 10

enum turn { PARENT, CHILD };

struct shared {
	pthread_mutex_t lock;
	pthread_cond_t turn_changed;
	long counter;
	enum turn turn;
	int exchanges;
};

static void die(const char *what, int err)
{
	fprintf(stderr, "%s: %s\n", what, strerror(err));
	exit(1);
}

static void init_shared(struct shared *s)
{
	pthread_mutexattr_t ma;
	pthread_condattr_t ca;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_condattr_init(&ca);
	pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
	int r = pthread_mutex_init(&s->lock, &ma);
	if (r == 0)
		r = pthread_cond_init(&s->turn_changed, &ca);
	if (r != 0)
		die("pthread init", r);
	pthread_mutexattr_destroy(&ma);
	pthread_condattr_destroy(&ca);
	s->counter = 0;
	s->turn = PARENT;
	s->exchanges = 0;
}

/* Creates the file, sizes it and maps it; the file is left for the caller
 * to remove. */
static struct shared *create_shared(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		die(path, errno);
	if (ftruncate(fd, sizeof(struct shared)) < 0)
		die("ftruncate", errno);
	void *p = mmap(NULL, sizeof(struct shared), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("mmap", errno);
	close(fd);
	return p;
}

static void count(struct shared *s, long n)
{
	for (long i = 0; i < n; i++) {
		pthread_mutex_lock(&s->lock);
		s->counter++;
		pthread_mutex_unlock(&s->lock);
	}
}

/* Waits for our turn, with a deadline so that a condition variable that
 * never wakes us fails the run instead of hanging it. */
static int wait_for_turn(struct shared *s, enum turn me)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += WAIT_SECONDS;
	int r = 0;
	while (s->turn != me && r == 0)
		r = pthread_cond_timedwait(&s->turn_changed, &s->lock, &deadline);
	return s->turn == me ? 0 : r;
}

static int take_turns(struct shared *s, enum turn me, enum turn other)
{
	for (int i = 0; i < ROUNDS; i++) {
		pthread_mutex_lock(&s->lock);
		int r = wait_for_turn(s, me);
		if (r == 0) {
			s->exchanges++;
			s->turn = other;
			pthread_cond_signal(&s->turn_changed);
		}
		pthread_mutex_unlock(&s->lock);
		if (r != 0)
			return r;
	}
	return 0;
}

static void run_child(struct shared *s, long n)
{
	count(s, n);
	int r = take_turns(s, CHILD, PARENT);
	if (r != 0)
		die("child waiting for its turn", r);
	_exit(0);
}

static int wait_for_child(pid_t child)
{
	int status;
	if (waitpid(child, &status, 0) < 0)
		die("waitpid", errno);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s MOUNT NAME N\n", argv[0]);
		return 2;
	}
	char path[4096];
	snprintf(path, sizeof(path), "%s/shm/%s", argv[1], argv[2]);
	long n = atol(argv[3]);

	struct shared *s = create_shared(path);
	init_shared(s);
	pid_t child = fork();
	if (child < 0)
		die("fork", errno);
	if (child == 0)
		run_child(s, n);
	count(s, n);
	int r = take_turns(s, PARENT, CHILD);
	if (r != 0)
		fprintf(stderr, "parent waiting for its turn: %s\n", strerror(r));
	int child_status = wait_for_child(child);

	printf("counter=%ld\n", s->counter);
	printf("ping-pong=%d\n", s->exchanges);
	munmap(s, sizeof(*s));
	if (unlink(path) < 0)
		die("unlink", errno);
	return r == 0 && child_status == 0 ? 0 : 1;
}
