/* ipcfs-floor: the FUSE floor the benchmark measures ipcfs against.
 *
 *   ipcfs-floor -f MOUNTPOINT [-o msgsize=N] [-o io_uring[,io_uring_q_depth=N]]
 *               [-o stall_flush]
 *
 * A file system of one file, /f, that does no work at all: a write is
 * answered with its count at once, a read with zeros at once, up to
 * msgsize bytes (64 unless told), so that one read returns one "message".
 * It is built from the same libfuse as ipcfs, takes requests the way
 * ipcfs does (through /dev/fuse on one thread, or with libfuse's -o
 * io_uring on one ring thread per CPU, where the kernel's enable_uring is
 * on), and opens its file the way ipcfs opens a queue file, so the kernel
 * treats both alike. What a queue round trip through ipcfs costs
 * beyond a round trip here is what the daemon's own work adds.
 *
 * For the tests, -o stall_flush makes it a hostile file system instead: a
 * close of its file (FLUSH) is not answered until it gets SIGUSR1, so a
 * process that execs with the file open close-on-exec is stuck in execve
 * meanwhile. */
#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 18)
#include <fuse_lowlevel.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ROOT_INO FUSE_ROOT_ID
#define FILE_INO 2
#define FILE_NAME "f"
/* The size ipcfs shows for a queue file: writes inside a file's size may
 * run side by side, so the kernel locks both the same way. */
#define FILE_SIZE (1 << 20)

struct floor_options {
	unsigned long msgsize;
	int stall_flush;
};

static char *zeros; /* what every read answers with */
static size_t msgsize;
static bool stall_flush;

/* FLUSHes held unanswered until SIGUSR1; guarded by stalled_lock. */
static pthread_mutex_t stalled_lock = PTHREAD_MUTEX_INITIALIZER;
static fuse_req_t stalled[64];
static size_t stalled_count;

static const struct fuse_opt floor_opts[] = {
	{ "msgsize=%lu", offsetof(struct floor_options, msgsize), 0 },
	{ "stall_flush", offsetof(struct floor_options, stall_flush), 1 },
	FUSE_OPT_END,
};

static void fill_attr(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (ino == ROOT_INO) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | 0666;
		st->st_nlink = 1;
		st->st_size = FILE_SIZE;
	}
}

static void floor_init(void *userdata, struct fuse_conn_info *conn)
{
	/* As ipcfs: requests travel through the plain read/write path. */
	fuse_unset_feature_flag(conn, FUSE_CAP_SPLICE_READ);
	fuse_unset_feature_flag(conn, FUSE_CAP_SPLICE_WRITE);
	fuse_unset_feature_flag(conn, FUSE_CAP_SPLICE_MOVE);
	conn->max_write = 1 << 20;
}

static void floor_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (parent != ROOT_INO || strcmp(name, FILE_NAME) != 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* Timeouts of 0, as ipcfs gives: nothing is cached. */
	struct fuse_entry_param e = { .ino = FILE_INO, .generation = 1 };
	fill_attr(FILE_INO, &e.attr);
	fuse_reply_entry(req, &e);
}

static void floor_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	if (ino != ROOT_INO && ino != FILE_INO) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_attr(ino, &st);
	fuse_reply_attr(req, &st, 0);
}

/* Opened as ipcfs opens a queue file: each read() and write() is one
 * request, with no page cache and no file position in between. */
static void floor_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino != FILE_INO) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	fi->direct_io = 1;
	fi->nonseekable = 1;
	fi->noflush = !stall_flush;
	fi->parallel_direct_writes = 1;
	fuse_reply_open(req, fi);
}

static void floor_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	fuse_reply_buf(req, zeros, size < msgsize ? size : msgsize);
}

static void floor_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
			off_t off, struct fuse_file_info *fi)
{
	fuse_reply_write(req, size);
}

static void floor_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	pthread_mutex_lock(&stalled_lock);
	if (stalled_count < sizeof(stalled) / sizeof(stalled[0]))
		stalled[stalled_count++] = req;
	else
		fuse_reply_err(req, 0);
	pthread_mutex_unlock(&stalled_lock);
}

/* Answers every FLUSH held, at each SIGUSR1. */
static void *release_stalled(void *arg)
{
	sigset_t *usr1 = arg;
	for (;;) {
		int sig;
		if (sigwait(usr1, &sig) != 0)
			return NULL;
		pthread_mutex_lock(&stalled_lock);
		for (size_t i = 0; i < stalled_count; i++)
			fuse_reply_err(stalled[i], 0);
		stalled_count = 0;
		pthread_mutex_unlock(&stalled_lock);
	}
}

static void floor_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void floor_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			  struct fuse_file_info *fi)
{
	static const char *const names[] = { ".", "..", FILE_NAME };
	static const fuse_ino_t inos[] = { ROOT_INO, ROOT_INO, FILE_INO };
	char buf[512];
	size_t used = 0;
	if (size > sizeof(buf))
		size = sizeof(buf);
	for (size_t i = off; i < 3; i++) {
		struct stat st;
		fill_attr(inos[i], &st);
		size_t len = fuse_add_direntry(req, buf + used, size - used, names[i], &st, i + 1);
		if (len > size - used)
			break;
		used += len;
	}
	fuse_reply_buf(req, buf, used);
}

static const struct fuse_lowlevel_ops floor_ops = {
	.init = floor_init,
	.lookup = floor_lookup,
	.getattr = floor_getattr,
	.open = floor_open,
	.read = floor_read,
	.write = floor_write,
	.flush = floor_flush,
	.release = floor_release,
	.readdir = floor_readdir,
};

static int serve(struct fuse_args *args, const struct fuse_cmdline_opts *opts)
{
	struct fuse_session *se = fuse_session_new(args, &floor_ops, sizeof(floor_ops), NULL);
	if (!se)
		return 1;
	int status = 1;
	if (fuse_set_signal_handlers(se) == 0) {
		if (fuse_session_mount(se, opts->mountpoint) == 0) {
			if (fuse_daemonize(opts->foreground) == 0)
				status = fuse_session_loop(se) == 0 ? 0 : 1;
			fuse_session_unmount(se);
		}
		fuse_remove_signal_handlers(se);
	}
	fuse_session_destroy(se);
	return status;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct floor_options fo = { .msgsize = 64 };
	struct fuse_cmdline_opts opts = { 0 };
	int status = 1;

	if (fuse_opt_parse(&args, &fo, floor_opts, NULL) < 0 || fuse_parse_cmdline(&args, &opts) != 0)
		goto out;
	if (!opts.mountpoint || fo.msgsize == 0 || fo.msgsize > (1 << 20)) {
		fprintf(stderr, "usage: %s -f MOUNTPOINT [-o msgsize=N (1 to 1048576)] "
			"[-o io_uring[,io_uring_q_depth=N]]\n", argv[0]);
		goto out;
	}
	msgsize = fo.msgsize;
	stall_flush = fo.stall_flush;
	static sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_t releaser;
	if (stall_flush && (pthread_sigmask(SIG_BLOCK, &usr1, NULL) != 0 ||
			    pthread_create(&releaser, NULL, release_stalled, &usr1) != 0))
		goto out;
	zeros = calloc(1, msgsize);
	if (zeros)
		status = serve(&args, &opts);
	free(zeros);
out:
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	return status;
}
