/* Open files: open, read, write, poll, lseek, release.
 *
 * A file that waits (a kind with .waits: queues, semaphores) is opened
 * direct_io and as a stream, so one read() or write() of a caller is one
 * request here, the page cache never stands between a caller and the
 * object, and the kernel keeps no file position: it would otherwise hold
 * the position's lock of an open file shared by threads or after fork for
 * as long as a read or write through it waits, and the write or post that
 * would end the wait would wait behind it, unkillable. Such a file's text
 * (a semaphore's value) is read at a position kept here. A file of bytes
 * is handed to the kernel as a passthrough of the object's own
 * file where the kernel allows it (read, write and mmap then never reach
 * the daemon), and otherwise opened direct_io and served at offsets. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"

/* The most one request may carry so that the kernel never splits one
 * read() or write() of a message over two requests; set at init. */
static size_t io_limit = 4096;

struct open_file {
	struct node *node;
	struct ipc_handle *handle;
	int wait_fd;       /* <0: the kind has nothing to wait on */
	int poll_fd;       /* the kind's descriptor for polls of this file, or -1 */
	char *wait_key;    /* the object, for arrival order among its waiters */
	short read_events, write_events; /* what a waiting read or write waits for */
	bool counted_writer; /* in node->open_writers */
	short poll_parked; /* events a poll notification waits for */
	bool passthrough;  /* uses the node's backing file */
	bool stream;       /* no kernel file position: reads go on from position */
	off_t position;    /* of a stream, what its reads have returned so far */
};

/* One read or write, from its request to its one reply. */
struct io {
	fuse_req_t req;
	struct open_file *file;
	bool is_write;
	size_t size;
	off_t offset;
	char *buf;
	struct ipc_progress progress;
};

struct poll_wait {
	struct open_file *file;
	struct fuse_pollhandle *ph;
	short events;
};

static struct open_file *file_of(struct fuse_file_info *fi)
{
	return (struct open_file *)(uintptr_t)fi->fh;
}

/* Every open file, for the ones still open when the daemon stops. */
static GHashTable *open_files;

void files_init(struct fuse_conn_info *conn)
{
	if (!open_files)
		open_files = g_hash_table_new(g_direct_hash, g_direct_equal);
	/* The kernel cuts a direct read or write into pieces of at most
	 * max_pages pages, and each buffer of a readv or writev takes a page
	 * at least. So take every page the kernel allows
	 * (fs.fuse.max_pages_limit, up to 65535): one call is then one
	 * request up to that many buffers' pages. libfuse asks for the
	 * max_pages that max_write needs. A piece at least a page short of
	 * the limit is always a whole call of one buffer. */
	long page = sysconf(_SC_PAGESIZE);
	long pages_limit = 256;
	g_autofree char *text = NULL;
	if (g_file_get_contents("/proc/sys/fs/fuse/max_pages_limit", &text, NULL, NULL))
		pages_limit = CLAMP(g_ascii_strtoll(text, NULL, 10), 2, 65535);
	conn->max_write = (unsigned)(pages_limit * page);
	conn->max_read = 0;
	io_limit = (size_t)(pages_limit - 1) * page;
	g_debug("max_pages %ld: one read or write of a message carries at most %zu bytes",
		pages_limit, io_limit);
}

/* req is NULL when the daemon stops: the kernel's side is gone already. */
static void file_close(struct open_file *f, fuse_req_t req)
{
	g_hash_table_remove(open_files, f);
	if (f->wait_fd >= 0)
		park_drop(f->wait_fd, f, EBADF);
	if (f->poll_fd >= 0)
		park_drop(f->poll_fd, f, EBADF);
	if (f->passthrough && req)
		backing_put(req, f->node);
	if (f->counted_writer)
		f->node->open_writers--;
	IPC_CALL_VOID(f->node->inst, close, f->handle);
	node_file_closed(f->node);
	g_free(f->wait_key);
	g_free(f);
}

void files_shutdown(void)
{
	GHashTableIter it;
	gpointer f;
	if (!open_files)
		return;
	g_hash_table_iter_init(&it, open_files);
	while (g_hash_table_iter_next(&it, &f, NULL)) {
		g_hash_table_iter_steal(&it);
		file_close(f, NULL);
	}
	g_clear_pointer(&open_files, g_hash_table_destroy);
}

void files_gone(const struct ipc_instance *instances, size_t count)
{
	if (!open_files)
		return;
	GHashTableIter it;
	gpointer key;
	g_hash_table_iter_init(&it, open_files);
	while (g_hash_table_iter_next(&it, &key, NULL)) {
		struct open_file *f = key;
		const struct ipc_instance *in = f->node->inst;
		if (in >= instances && in < instances + count)
			park_drop_owner(f, ENOENT);
	}
}

/* The backing id for a file of bytes whose handle has a backing file, 0
 * where it goes through the daemon. */
static int backing_for(fuse_req_t req, struct node *n, struct ipc_handle *h)
{
	const struct ipc_instance *in = n->inst;
	const struct ipc_kind *k = in->kind;
	if (k->messages || k->waits || !k->backing_fd)
		return 0;
	int fd = IPC_CALL(in, backing_fd, h);
	return fd >= 0 ? backing_get(req, n, fd) : 0;
}

/* Grows the size the kernel knows for the inode to WAITING_WRITE_ROOM,
 * before the open is answered, so that the writes through this file run
 * side by side with others from the first. Lookups and getattrs then say
 * the same while the node is open for writing (size_to_show). */
static void announce_write_room(fuse_req_t req, struct node *n)
{
	const struct fs_config *config = fuse_req_userdata(req);
	char zero = 0;
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(1);
	buf.buf[0].mem = &zero;
	int r = fuse_lowlevel_notify_store(config->se, n->ino, WAITING_WRITE_ROOM - 1, &buf, 0);
	if (r < 0)
		g_debug("inode %" G_GUINT64_FORMAT ": size not grown: %s", (guint64)n->ino,
			g_strerror(-r));
}

int file_open(fuse_req_t req, struct node *n, struct node_ref *ref, struct fuse_file_info *fi)
{
	const struct ipc_instance *in = n->inst;
	const struct ipc_kind *k = in->kind;
	struct ipc_handle *h = NULL;
	int r = IPC_CALL(in, open, ref->object, fi->flags & ~O_TRUNC, &h);
	if (r < 0)
		return r;
	/* Only now: never cut an object the caller was not allowed to open. */
	if ((fi->flags & O_TRUNC) && k->truncate && (r = IPC_CALL(in, truncate, ref->object, 0)) < 0) {
		IPC_CALL_VOID(in, close, h);
		return r;
	}
	int backing = backing_for(req, n, h);
	node_file_opened(n, ref);
	struct open_file *f = g_new0(struct open_file, 1);
	f->node = n;
	f->handle = h;
	f->wait_fd = -1;
	f->poll_fd = -1;
	f->wait_key = g_strdup_printf("%s/%" G_GUINT64_FORMAT, k->dir, n->object_id);
	if (k->wait_fd) {
		f->wait_fd = IPC_CALL(in, wait_fd, h, false, &f->read_events);
		IPC_CALL(in, wait_fd, h, true, &f->write_events);
	}
	if (k->waits && (fi->flags & O_ACCMODE) != O_RDONLY) {
		f->counted_writer = true;
		if (n->open_writers++ == 0)
			announce_write_room(req, n);
	}
	fi->fh = (uintptr_t)f;
	g_hash_table_add(open_files, f);
	fi->noflush = 1;
	f->stream = k->waits;
	fi->stream = f->stream;
	if (k->messages)
		fi->nonseekable = 1;
	if (backing > 0) {
		fi->backing_id = backing;
		f->passthrough = true;
	} else {
		fi->direct_io = 1;
	}
	/* Writes that wait must not hold up each other: see size_to_show. */
	fi->parallel_direct_writes = k->waits;
	return 0;
}

/* For an open whose answer could not be delivered: nobody will release it. */
void file_discard(fuse_req_t req, struct fuse_file_info *fi)
{
	file_close(file_of(fi), req);
}

void files_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	file_close(file_of(fi), req);
	reply_err(req, 0);
}

void files_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	reply_err(req, 0);
}

void files_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	reply_err(req, 0);
}

/* A request that fails, is interrupted, or would wait but may not, leaves
 * the object as it found it, unless the kind says it was done already. */
static void io_finish(struct io *io, ssize_t r)
{
	const struct ipc_instance *in = io->file->node->inst;
	const struct ipc_kind *k = in->kind;
	if (r < 0 && k->abandon)
		r = IPC_CALL_ALWAYS(in, abandon, io->file->handle, io->buf, io->size,
				    &io->progress, r);
	if (r < 0)
		reply_err(io->req, (int)-r);
	else if (io->is_write)
		reply_write(io->req, r);
	else {
		if (io->file->stream)
			io->file->position += r;
		reply_buf(io->req, io->buf, r);
	}
	g_free(io->buf);
	g_free(io);
}

static ssize_t io_try(struct io *io)
{
	const struct ipc_instance *in = io->file->node->inst;
	const struct ipc_kind *k = in->kind;
	struct ipc_handle *h = io->file->handle;
	if (io->is_write)
		return k->write ? IPC_CALL(in, write, h, io->buf, io->size, io->offset, &io->progress) : -EBADF;
	return k->read ? IPC_CALL(in, read, h, io->buf, io->size, io->offset, &io->progress) : -EBADF;
}

static enum park_result io_retry(struct parked *p, void *data)
{
	struct io *io = data;
	ssize_t r = io_try(io);
	if (r == -EAGAIN)
		return PARK_AGAIN;
	io_finish(io, r);
	return PARK_DONE;
}

static void io_cancel(struct parked *p, void *data, int err)
{
	io_finish(data, -err);
}

/* Parks a request on what its kind said to wait for: a descriptor of the
 * request's own, or the open file's, shared in arrival order with the
 * other waiters on the object. */
static int io_park(struct io *io)
{
	struct open_file *f = io->file;
	int own = io->progress.own_fd;
	if (own >= 0) {
		g_autofree char *key = g_strdup_printf("%s#%d", f->wait_key, own);
		return park_request(io->req, f, key, own, POLLIN, io_retry, io_cancel, io);
	}
	short events = io->is_write ? f->write_events : f->read_events;
	return park_request(io->req, f, f->wait_key, f->wait_fd, events, io_retry, io_cancel, io);
}

/* Tries at once; a request that would wait is parked unless the caller
 * asked not to wait. */
static void io_start(struct io *io, int flags)
{
	io->progress.may_wait = !(flags & O_NONBLOCK);
	io->progress.own_fd = -1;
	ssize_t r = io_try(io);
	if (r == -EAGAIN && !(flags & O_NONBLOCK)) {
		int pr = io_park(io);
		if (pr == 0)
			return;
		g_warning("%s: cannot wait: %s", io->file->node->inst->kind->dir, g_strerror(-pr));
	}
	struct open_file *f = io->file;
	io_finish(io, r);
	/* What this read or write changed may let a waiter on the object
	 * go on: serve it here, rather than on the main loop's thread once
	 * the object's descriptor tells it, a wake-up of another CPU. */
	if (r >= 0 && f->wait_fd >= 0)
		park_wake(f->wait_key);
}

static struct io *io_new(fuse_req_t req, struct fuse_file_info *fi, size_t size, off_t off)
{
	struct io *io = g_new0(struct io, 1);
	io->req = req;
	io->file = file_of(fi);
	io->size = size;
	io->offset = io->file->stream ? io->file->position : off;
	return io;
}

void files_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	if (file_of(fi)->stream && fi->lock_owner == 0) {
		/* Only the page cache reads without a lock owner: a fault in a
		 * MAP_PRIVATE mapping (SIGBUS, whatever the answer), or
		 * sendfile() and splice(), which the kernel serves from the
		 * page cache whatever the open said. Neither may take a
		 * message or move a stream's position; EINVAL is what those
		 * calls say for a file that can't splice. */
		reply_err(req, EINVAL);
		return;
	}
	if (file_of(fi)->node->inst->kind->messages)
		size = MIN(size, io_limit);
	struct io *io = io_new(req, fi, size, off);
	/* The kernel keeps no position of a stream: each call's first piece
	 * comes at offset 0, and the next ones at what the call has read. */
	io->progress.continues = io->file->stream && off > 0;
	io->buf = g_malloc(size ? size : 1);
	io_start(io, fi->flags);
}

void files_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		 struct fuse_file_info *fi)
{
	const struct ipc_instance *in = file_of(fi)->node->inst;
	const struct ipc_kind *k = in->kind;
	if ((k->messages || k->waits) && size > io_limit) {
		/* Maybe one piece of a larger write(): refuse the whole call
		 * rather than send a message, or do a command, cut in two. */
		reply_err(req, EMSGSIZE);
		return;
	}
	struct io *io = io_new(req, fi, size, off);
	io->is_write = true;
	io->buf = g_memdup2(buf, size);
	io_start(io, fi->flags);
}

static enum park_result poll_notify(struct parked *p, void *data)
{
	struct poll_wait *pw = data;
	fuse_lowlevel_notify_poll(pw->ph);
	fuse_pollhandle_destroy(pw->ph);
	pw->file->poll_parked &= ~pw->events;
	g_free(pw);
	return PARK_DONE;
}

static void poll_cancel(struct parked *p, void *data, int err)
{
	struct poll_wait *pw = data;
	fuse_pollhandle_destroy(pw->ph);
	g_free(pw);
}

/* The kernel asks again after each notification, so one notification
 * waiting per file and event is enough. */
static void poll_wait_for(struct open_file *f, struct fuse_pollhandle *ph, short events)
{
	const struct ipc_instance *in = f->node->inst;
	const struct ipc_kind *k = in->kind;
	if ((f->poll_parked & events) == events) {
		fuse_pollhandle_destroy(ph);
		return;
	}
	/* The file's wait descriptor, or one the kind keeps for its polls. */
	int fd = f->wait_fd;
	short fd_events = events;
	g_autofree char *own_key = NULL;
	if (fd < 0 && k->poll_fd && (fd = IPC_CALL(in, poll_fd, f->handle)) >= 0) {
		f->poll_fd = fd;
		fd_events = POLLIN;
		own_key = g_strdup_printf("%s#poll%d", f->wait_key, fd);
	}
	if (fd < 0) {
		fuse_pollhandle_destroy(ph);
		return;
	}
	struct poll_wait *pw = g_new0(struct poll_wait, 1);
	*pw = (struct poll_wait){ f, ph, events };
	if (park_request(NULL, f, own_key ? own_key : f->wait_key, fd, fd_events, poll_notify,
			 poll_cancel, pw) < 0) {
		poll_cancel(NULL, pw, EIO);
		return;
	}
	f->poll_parked |= events;
}

void files_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
	struct open_file *f = file_of(fi);
	const struct ipc_instance *in = f->node->inst;
	const struct ipc_kind *k = in->kind;
	short wanted = fi->poll_events ? (fi->poll_events & (POLLIN | POLLOUT)) : (POLLIN | POLLOUT);
	/* A kind that can't tell is always ready; ENOSYS would turn poll off
	 * for the whole mount. */
	short revents = POLLIN | POLLOUT;
	int r = k->poll ? IPC_CALL(in, poll, f->handle, &revents) : 0;
	if (r < 0) {
		if (ph)
			fuse_pollhandle_destroy(ph);
		reply_err(req, -r);
		return;
	}
	if (ph && (revents & wanted))
		fuse_pollhandle_destroy(ph);
	else if (ph)
		poll_wait_for(f, ph, wanted ? wanted : (POLLIN | POLLOUT));
	reply_poll(req, revents);
}

/* Where the data or the next hole is, from the object's own file (a
 * segment's holes are its own), else as for a file without holes. The
 * kernel answers SEEK_SET, SEEK_CUR and SEEK_END itself. */
static off_t seek_data_or_hole(struct open_file *f, off_t off, int whence)
{
	const struct ipc_instance *in = f->node->inst;
	const struct ipc_kind *k = in->kind;
	int fd = k->backing_fd ? IPC_CALL(in, backing_fd, f->handle) : -1;
	if (fd >= 0) {
		off_t r = lseek(fd, off, whence);
		return r < 0 ? -errno : r;
	}
	struct ipc_attr attr;
	int r = IPC_CALL(in, stat, f->node->object, &attr);
	if (r < 0)
		return r;
	if (off < 0 || off >= attr.size)
		return -ENXIO;
	return whence == SEEK_DATA ? off : attr.size;
}

void files_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi)
{
	off_t r = (whence == SEEK_DATA || whence == SEEK_HOLE) ?
		seek_data_or_hole(file_of(fi), off, whence) : -EINVAL;
	if (r < 0)
		reply_err(req, (int)-r);
	else
		reply_lseek(req, r);
}
