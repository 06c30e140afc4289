/* POSIX shared memory objects: the regular files of /dev/shm, where
 * glibc's shm_open keeps them, less the "sem.NAME" files that glibc's
 * sem_open keeps there, which belong to sem/.
 *
 * Each open holds a descriptor of the segment's own file. fs/ hands it to
 * the kernel as a passthrough backing file where it can, so that read,
 * write and mmap reach the segment without the daemon; read and write
 * here serve the opens where it can't. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirfiles.h"

#define SHM_DIR "/dev/shm"
#define SEM_PREFIX "sem."

struct ipc_handle {
	int fd;
	bool append;
};

/* The segments of one /dev/shm. */
struct ipc_state {
	struct ipc_dir segments;
};

static int shm_setup(struct ipc_space *space, struct ipc_state **out)
{
	int fd = ipc_space_open(space, SHM_DIR, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		g_warning("%s: %s", SHM_DIR, g_strerror(-fd));
		return fd;
	}
	struct ipc_state *st = g_new0(struct ipc_state, 1);
	st->segments = (struct ipc_dir){
		.fd = fd,
		.space = ipc_space_ref(space),
		.prefix = "",
		.foreign_prefix = SEM_PREFIX, /* semaphores: sem/ shows them */
		.name_max = NAME_MAX,
	};
	*out = st;
	return 0;
}

/* The mount or directory, which would keep the namespace's objects. */
static void shm_let_go(struct ipc_state *st)
{
	close(st->segments.fd);
	st->segments.fd = -1;
}

static void shm_teardown(struct ipc_state *st)
{
	if (st->segments.fd >= 0)
		close(st->segments.fd);
	ipc_space_unref(st->segments.space);
	g_free(st);
}

static int shm_list(struct ipc_state *st, GPtrArray *names)
{
	return ipc_dir_list(&st->segments, names);
}

static int shm_find(struct ipc_state *st, const char *name, struct ipc_object **out)
{
	return ipc_dir_find(&st->segments, name, O_PATH, out);
}

static int shm_create(struct ipc_state *st, const char *name, mode_t mode,
		      const struct ipc_caller *who, struct ipc_object **out)
{
	return ipc_dir_create(&st->segments, name, mode, who, NULL, out);
}

/* The segment's file, read-write where the daemon may, so that one backing
 * file can serve every later open; each caller's own access mode is the
 * kernel's to enforce on the file it opened through the mount. */
static int open_segment_file(struct ipc_object *o, int flags)
{
	int fd = ipc_file_reopen(o, O_RDWR | O_NONBLOCK);
	if (fd == -EACCES)
		fd = ipc_file_reopen(o, (flags & O_ACCMODE) | O_NONBLOCK);
	if (fd < 0)
		return fd;
	/* Set-id bits made elsewhere go when the file is opened for writing,
	 * as the kernel would take them at the first write, which with
	 * passthrough the daemon never sees. */
	struct stat st;
	if ((flags & O_ACCMODE) != O_RDONLY && fstat(fd, &st) == 0 &&
	    (st.st_mode & (S_ISUID | S_ISGID)))
		fchmod(fd, st.st_mode & 01777);
	return fd;
}

static int shm_truncate(struct ipc_object *o, off_t size)
{
	int fd = ipc_file_reopen(o, O_WRONLY | O_NONBLOCK);
	if (fd < 0)
		return fd;
	int r = ftruncate(fd, size) < 0 ? -errno : 0;
	close(fd);
	return r;
}

static int shm_open_handle(struct ipc_object *o, int flags, struct ipc_handle **out)
{
	int fd = open_segment_file(o, flags);
	if (fd < 0)
		return fd;
	struct ipc_handle *h = g_new0(struct ipc_handle, 1);
	h->fd = fd;
	h->append = flags & O_APPEND;
	*out = h;
	return 0;
}

static ssize_t shm_read(struct ipc_handle *h, void *buf, size_t len, off_t offset,
			 struct ipc_progress *progress)
{
	ssize_t n = pread(h->fd, buf, len, offset);
	return n < 0 ? -errno : n;
}

static ssize_t shm_write(struct ipc_handle *h, const void *buf, size_t len, off_t offset,
			 struct ipc_progress *progress)
{
	struct stat st;
	if (h->append) {
		if (fstat(h->fd, &st) < 0)
			return -errno;
		offset = st.st_size;
	}
	ssize_t n = pwrite(h->fd, buf, len, offset);
	return n < 0 ? -errno : n;
}

static int shm_backing_fd(struct ipc_handle *h)
{
	return h->fd;
}

static void shm_close_handle(struct ipc_handle *h)
{
	close(h->fd);
	g_free(h);
}

const struct ipc_kind ipc_kind_shm = {
	.dir = "shm",
	.description = "POSIX shared memory objects",
	.setup = shm_setup,
	.teardown = shm_teardown,
	.let_go = shm_let_go,
	.list = shm_list,
	.find = shm_find,
	.create = shm_create,
	.release = ipc_file_release,
	.file_id = ipc_file_id,
	.stat = ipc_file_stat,
	.unlink = ipc_file_unlink,
	.chmod = ipc_file_chmod,
	.chown = ipc_file_chown,
	.truncate = shm_truncate,
	.set_times = ipc_file_set_times,
	.open = shm_open_handle,
	.read = shm_read,
	.write = shm_write,
	.close = shm_close_handle,
	.backing_fd = shm_backing_fd,
};
