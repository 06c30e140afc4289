/* A semaphore shared by a C program, which uses sem_open and nothing of
 * the mount, and a shell, which uses the file MOUNT/sem/NAME.
 *
 *   sem-example take NAME COUNT   sem_wait COUNT times, then print "took COUNT"
 *   sem-example give NAME COUNT   sem_post COUNT times, then print "gave COUNT"
 *
 * The semaphore must exist already, e.g. made by "touch MOUNT/sem/NAME". */
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(const char *self)
{
	fprintf(stderr, "usage: %s take|give NAME COUNT\n", self);
	return 2;
}

static int take(sem_t *sem, long count)
{
	for (long i = 0; i < count; i++) {
		while (sem_wait(sem) < 0) {
			if (errno != EINTR) {
				perror("sem_wait");
				return 1;
			}
		}
	}
	printf("took %ld\n", count);
	return 0;
}

static int give(sem_t *sem, long count)
{
	for (long i = 0; i < count; i++) {
		if (sem_post(sem) < 0) {
			perror("sem_post");
			return 1;
		}
	}
	printf("gave %ld\n", count);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 4)
		return usage(argv[0]);
	char *end;
	long count = strtol(argv[3], &end, 10);
	if (*end != '\0' || count < 0)
		return usage(argv[0]);
	char name[256];
	snprintf(name, sizeof(name), "/%s", argv[2]);
	sem_t *sem = sem_open(name, 0);
	if (sem == SEM_FAILED) {
		fprintf(stderr, "sem_open %s: %s\n", name, strerror(errno));
		return 1;
	}
	int r;
	if (strcmp(argv[1], "take") == 0)
		r = take(sem, count);
	else if (strcmp(argv[1], "give") == 0)
		r = give(sem, count);
	else
		r = usage(argv[0]);
	sem_close(sem);
	return r;
}
