/* mqtool: a program that uses POSIX queues the ordinary way, without the
 * mount, so tests can check what the mount shows against the kernel.
 *
 *   mqtool create NAME MAXMSG MSGSIZE [MODE]   mq_open(O_CREAT|O_EXCL)
 *   mqtool send NAME MESSAGE [PRIORITY]        mq_send, without blocking
 *   mqtool receive NAME                        mq_receive one message to stdout
 *   mqtool wait NAME                           mq_receive, blocking
 *   mqtool attr NAME                           prints "maxmsg msgsize curmsgs"
 *   mqtool unlink NAME                         mq_unlink
 *   mqtool clean PREFIX                        unlinks every queue named PREFIX*
 *
 * Exit status: 0, or 1 with the errno's name on stderr. */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

static int fail(const char *what)
{
	fprintf(stderr, "mqtool: %s: %s\n", what, strerrorname_np(errno));
	return 1;
}

static char *slashed(const char *name)
{
	static char path[512];
	snprintf(path, sizeof(path), "/%s", name);
	return path;
}

static int cmd_create(int argc, char **argv)
{
	struct mq_attr a = { .mq_maxmsg = atol(argv[3]), .mq_msgsize = atol(argv[4]) };
	mode_t mode = argc > 5 ? (mode_t)strtol(argv[5], NULL, 8) : 0600;
	mqd_t q = mq_open(slashed(argv[2]), O_CREAT | O_EXCL | O_RDWR, mode, &a);
	if (q == (mqd_t)-1)
		return fail("mq_open");
	mq_close(q);
	return 0;
}

static int cmd_send(int argc, char **argv)
{
	mqd_t q = mq_open(slashed(argv[2]), O_WRONLY | O_NONBLOCK);
	if (q == (mqd_t)-1)
		return fail("mq_open");
	unsigned prio = argc > 4 ? (unsigned)atoi(argv[4]) : 0;
	if (mq_send(q, argv[3], strlen(argv[3]), prio) < 0)
		return fail("mq_send");
	mq_close(q);
	return 0;
}

static int cmd_receive(int argc, char **argv, int blocking)
{
	mqd_t q = mq_open(slashed(argv[2]), O_RDONLY | (blocking ? 0 : O_NONBLOCK));
	if (q == (mqd_t)-1)
		return fail("mq_open");
	struct mq_attr a;
	mq_getattr(q, &a);
	char *buf = malloc(a.mq_msgsize);
	unsigned prio;
	ssize_t n = mq_receive(q, buf, a.mq_msgsize, &prio);
	if (n < 0) {
		free(buf);
		return fail("mq_receive");
	}
	fwrite(buf, 1, n, stdout);
	free(buf);
	mq_close(q);
	return 0;
}

static int cmd_attr(int argc, char **argv)
{
	mqd_t q = mq_open(slashed(argv[2]), O_RDONLY | O_NONBLOCK);
	if (q == (mqd_t)-1)
		return fail("mq_open");
	struct mq_attr a;
	if (mq_getattr(q, &a) < 0)
		return fail("mq_getattr");
	printf("%ld %ld %ld\n", a.mq_maxmsg, a.mq_msgsize, a.mq_curmsgs);
	return 0;
}

static int cmd_clean(const char *prefix)
{
	int fs = fsopen("mqueue", FSOPEN_CLOEXEC);
	if (fs < 0 || fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return fail("fsopen");
	int mnt = fsmount(fs, FSMOUNT_CLOEXEC, 0);
	if (mnt < 0)
		return fail("fsmount");
	DIR *d = fdopendir(openat(mnt, ".", O_RDONLY | O_DIRECTORY));
	if (!d)
		return fail("opendir");
	struct dirent *e;
	while ((e = readdir(d)))
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			mq_unlink(slashed(e->d_name));
	closedir(d);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: mqtool create|send|receive|wait|attr|unlink|clean NAME ...\n");
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "create") == 0 && argc >= 5)
		return cmd_create(argc, argv);
	if (strcmp(cmd, "send") == 0 && argc >= 4)
		return cmd_send(argc, argv);
	if (strcmp(cmd, "receive") == 0)
		return cmd_receive(argc, argv, 0);
	if (strcmp(cmd, "wait") == 0)
		return cmd_receive(argc, argv, 1);
	if (strcmp(cmd, "attr") == 0)
		return cmd_attr(argc, argv);
	if (strcmp(cmd, "unlink") == 0)
		return mq_unlink(slashed(argv[2])) < 0 ? fail("mq_unlink") : 0;
	if (strcmp(cmd, "clean") == 0)
		return cmd_clean(argv[2]);
	fprintf(stderr, "mqtool: bad command\n");
	return 2;
}
