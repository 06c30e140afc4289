/* The fuse_lowlevel_ops table: one handler per request, each ending in one
 * reply, given at once or, for a request that must wait, when it is parked
 * and later retried or interrupted.
 *
 * Every file is opened direct_io and non-seekable, so one read() or
 * write() of a caller is one request here, and the kernel's page cache
 * never stands between a caller and the object. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"


static struct fuse_session *session;
static time_t mount_time;
/* The most one request may carry so that the kernel never splits one
 * read() or write() over two requests; set at init. */
static size_t io_limit = 4096;

struct open_file {
	const struct ipc_kind *kind;
	struct ipc_handle *handle;
	int wait_fd; /* <0: the kind has nothing to wait on */
	short poll_parked; /* events a poll notification waits for */
};

/* One read or write, from its request to its one reply. */
struct io {
	fuse_req_t req;
	struct open_file *file;
	bool is_write;
	size_t size;
	char *buf;
};

struct poll_wait {
	struct open_file *file;
	struct fuse_pollhandle *ph;
	short events;
};

struct dir_listing {
	GPtrArray *names;
	GArray *inos;
	GArray *types;
};

void ops_set_session(struct fuse_session *se)
{
	session = se;
	mount_time = time(NULL);
}

static struct ipc_caller caller_of(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	return (struct ipc_caller){ ctx->uid, ctx->gid, ctx->pid };
}

static struct open_file *file_of(struct fuse_file_info *fi)
{
	return (struct open_file *)(uintptr_t)fi->fh;
}

static bool is_kind_dir(const struct node *n)
{
	return n->is_dir && n->kind;
}

static void dir_attr(const struct node *n, struct stat *st)
{
	*st = (struct stat){
		.st_ino = n->ino,
		/* Like /dev/mqueue and /dev/shm: anyone may create, the sticky bit
		 * keeps people from removing each other's objects. */
		.st_mode = S_IFDIR | (is_kind_dir(n) ? 01777 : 0755),
		.st_nlink = 2 + (n->subdirs ? g_hash_table_size(n->subdirs) : 0),
		.st_blksize = 4096,
	};
	st->st_atim.tv_sec = st->st_mtim.tv_sec = st->st_ctim.tv_sec = mount_time;
}

static int object_attr(const struct node *n, struct stat *st)
{
	struct ipc_attr a;
	int r = n->kind->stat(n->name, &a);
	if (r < 0)
		return r;
	*st = (struct stat){
		.st_ino = n->ino,
		.st_mode = S_IFREG | (a.mode & 07777),
		.st_nlink = 1,
		.st_uid = a.uid,
		.st_gid = a.gid,
		.st_size = a.size,
		.st_blksize = 4096,
		.st_blocks = (a.size + 511) / 512,
		.st_atim = a.atime,
		.st_mtim = a.mtime,
		.st_ctim = a.ctime,
	};
	return 0;
}

static int node_attr(const struct node *n, struct stat *st)
{
	if (n->is_dir) {
		dir_attr(n, st);
		return 0;
	}
	return object_attr(n, st);
}

/* Nothing is cached: what other programs do shows at once. */
static void reply_entry_for(fuse_req_t req, struct node *n, const struct stat *st)
{
	struct fuse_entry_param e = {
		.ino = n->ino,
		.generation = 1,
		.attr = *st,
	};
	fuse_reply_entry(req, &e);
}

static void ipcfs_init(void *userdata, struct fuse_conn_info *conn)
{
	/* O_TRUNC arrives with the open instead of as a separate setattr. */
	fuse_set_feature_flag(conn, FUSE_CAP_ATOMIC_O_TRUNC);
	fuse_unset_feature_flag(conn, FUSE_CAP_SPLICE_READ);
	fuse_unset_feature_flag(conn, FUSE_CAP_SPLICE_WRITE);
	fuse_unset_feature_flag(conn, FUSE_CAP_SPLICE_MOVE);
	conn->max_write = 1 << 20;
	conn->max_read = 0;

	/* The kernel cuts a direct read or write into pieces of at most
	 * max_pages pages, fewer when the caller's buffer is not page
	 * aligned. A piece at most a page short of that limit is always a
	 * whole call. */
	long page = sysconf(_SC_PAGESIZE);
	long pages_limit = 256;
	g_autofree char *text = NULL;
	if (g_file_get_contents("/proc/sys/fs/fuse/max_pages_limit", &text, NULL, NULL))
		pages_limit = CLAMP(g_ascii_strtoll(text, NULL, 10), 1, 256);
	io_limit = MIN((size_t)conn->max_write, (size_t)(pages_limit * page)) - page;
	g_debug("one read or write carries at most %zu bytes", io_limit);
}

static void ipcfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct node *dir = node_get(parent);
	struct node *n = NULL;
	struct stat st;
	int r = -ENOENT;

	if (!dir || !dir->is_dir) {
		r = -ENOTDIR;
	} else if ((n = node_subdir(dir, name))) {
		dir_attr(n, &st);
		r = 0;
	} else if (is_kind_dir(dir)) {
		struct ipc_attr a;
		r = dir->kind->stat(name, &a);
		if (r == 0) {
			n = node_lookup_object(dir, name);
			r = object_attr(n, &st);
			if (r < 0)
				node_forget(n, 1);
		}
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		reply_entry_for(req, n, &st);
}

static void ipcfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct node *n = node_get(ino);
	if (n)
		node_forget(n, nlookup);
	fuse_reply_none(req);
}

static void ipcfs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++) {
		struct node *n = node_get(forgets[i].ino);
		if (n)
			node_forget(n, forgets[i].nlookup);
	}
	fuse_reply_none(req);
}

static void ipcfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct node *n = node_get(ino);
	struct stat st;
	int r = n ? node_attr(n, &st) : -ENOENT;
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, 0);
}

static struct timespec time_to_set(const struct timespec *given, int to_set, int set_bit, int now_bit)
{
	if (to_set & now_bit)
		return (struct timespec){ .tv_nsec = UTIME_NOW };
	if (to_set & set_bit)
		return *given;
	return (struct timespec){ .tv_nsec = UTIME_OMIT };
}

static int apply_setattr(const struct node *n, const struct stat *attr, int to_set)
{
	const struct ipc_kind *k = n->kind;
	int r = 0;

	if (n->is_dir)
		return -EPERM;
	if (to_set & FUSE_SET_ATTR_MODE)
		r = k->chmod ? k->chmod(n->name, attr->st_mode) : -EPERM;
	if (r == 0 && (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)))
		r = k->chown ? k->chown(n->name,
					to_set & FUSE_SET_ATTR_UID ? attr->st_uid : (uid_t)-1,
					to_set & FUSE_SET_ATTR_GID ? attr->st_gid : (gid_t)-1) :
			       -EPERM;
	if (r == 0 && (to_set & FUSE_SET_ATTR_SIZE))
		r = k->truncate ? k->truncate(n->name, attr->st_size) : -EINVAL;
	if (r == 0 && (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
				 FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW)) && k->set_times) {
		struct timespec times[2] = {
			time_to_set(&attr->st_atim, to_set, FUSE_SET_ATTR_ATIME, FUSE_SET_ATTR_ATIME_NOW),
			time_to_set(&attr->st_mtim, to_set, FUSE_SET_ATTR_MTIME, FUSE_SET_ATTR_MTIME_NOW),
		};
		r = k->set_times(n->name, times);
	}
	return r;
}

static void ipcfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			  struct fuse_file_info *fi)
{
	struct node *n = node_get(ino);
	struct stat st;
	int r = n ? apply_setattr(n, attr, to_set) : -ENOENT;
	if (r == 0)
		r = node_attr(n, &st);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, 0);
}

static int open_object(const struct node *n, struct fuse_file_info *fi)
{
	struct ipc_handle *h = NULL;
	int r = n->kind->open(n->name, fi->flags, &h);
	if (r < 0)
		return r;
	struct open_file *f = g_new0(struct open_file, 1);
	f->kind = n->kind;
	f->handle = h;
	f->wait_fd = n->kind->wait_fd ? n->kind->wait_fd(h) : -1;
	fi->fh = (uintptr_t)f;
	fi->direct_io = 1;
	fi->nonseekable = 1;
	fi->noflush = 1;
	return 0;
}

static void ipcfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct node *n = node_get(ino);
	int r = !n ? -ENOENT : n->is_dir ? -EISDIR : open_object(n, fi);
	if (r < 0)
		fuse_reply_err(req, -r);
	else if (fuse_reply_open(req, fi) == -ENOENT)
		/* The caller went away before the answer: nobody will release it. */
		file_of(fi)->kind->close(file_of(fi)->handle), g_free(file_of(fi));
}

static int create_object(fuse_req_t req, struct node *dir, const char *name, mode_t mode,
			 struct fuse_file_info *fi, struct node **out, struct stat *st)
{
	if (!is_kind_dir(dir))
		return -EPERM;
	struct ipc_caller who = caller_of(req);
	int r = dir->kind->create(name, mode, &who);
	if (r == -EEXIST && fi && !(fi->flags & O_EXCL))
		r = 0; /* made by someone else since the lookup: open it */
	if (r < 0)
		return r;
	struct node *n = node_lookup_object(dir, name);
	r = object_attr(n, st);
	if (r == 0 && fi)
		r = open_object(n, fi);
	if (r < 0) {
		node_forget(n, 1);
		return r;
	}
	*out = n;
	return 0;
}

static void ipcfs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			 struct fuse_file_info *fi)
{
	struct node *dir = node_get(parent);
	struct node *n = NULL;
	struct stat st;
	int r = dir ? create_object(req, dir, name, mode, fi, &n, &st) : -ENOENT;
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	struct fuse_entry_param e = { .ino = n->ino, .generation = 1, .attr = st };
	if (fuse_reply_create(req, &e, fi) == -ENOENT)
		file_of(fi)->kind->close(file_of(fi)->handle), g_free(file_of(fi));
}

static void ipcfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	struct node *dir = node_get(parent);
	struct node *n = NULL;
	struct stat st;
	int r = !dir ? -ENOENT : !S_ISREG(mode) ? -EPERM : create_object(req, dir, name, mode, NULL, &n, &st);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		reply_entry_for(req, n, &st);
}

static void ipcfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct node *dir = node_get(parent);
	int r;
	if (!dir)
		r = -ENOENT;
	else if (node_subdir(dir, name))
		r = -EISDIR;
	else if (!is_kind_dir(dir))
		r = -ENOENT;
	else
		r = dir->kind->unlink ? dir->kind->unlink(name) : -EPERM;
	fuse_reply_err(req, -r);
}

/* The tree's shape is fixed and objects have one name each. */
static void ipcfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	fuse_reply_err(req, EPERM);
}

static void ipcfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct node *dir = node_get(parent);
	fuse_reply_err(req, dir && node_subdir(dir, name) ? EPERM : ENOTDIR);
}

static void ipcfs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EPERM);
}

static void ipcfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			 fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	fuse_reply_err(req, EPERM);
}

static void ipcfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	fuse_reply_err(req, EPERM);
}

static void io_finish(struct io *io, ssize_t r)
{
	if (r < 0)
		fuse_reply_err(io->req, (int)-r);
	else if (io->is_write)
		fuse_reply_write(io->req, r);
	else
		fuse_reply_buf(io->req, io->buf, r);
	g_free(io->buf);
	g_free(io);
}

static ssize_t io_try(struct io *io)
{
	const struct ipc_kind *k = io->file->kind;
	if (io->is_write)
		return k->write ? k->write(io->file->handle, io->buf, io->size) : -EBADF;
	return k->read ? k->read(io->file->handle, io->buf, io->size) : -EBADF;
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

/* Tries at once; a request that would wait is parked unless the caller
 * asked not to wait. */
static void io_start(struct io *io, int flags)
{
	ssize_t r = io_try(io);
	if (r == -EAGAIN && !(flags & O_NONBLOCK)) {
		short events = io->is_write ? POLLOUT : POLLIN;
		int pr = park_request(io->req, io->file->wait_fd, events, io_retry, io_cancel, io);
		if (pr == 0)
			return;
		g_warning("%s: cannot wait: %s", io->file->kind->dir, g_strerror(-pr));
	}
	io_finish(io, r);
}

static void ipcfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct io *io = g_new0(struct io, 1);
	io->req = req;
	io->file = file_of(fi);
	io->size = MIN(size, io_limit);
	io->buf = g_malloc(io->size ? io->size : 1);
	io_start(io, fi->flags);
}

static void ipcfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	if (size > io_limit) {
		/* Maybe one piece of a larger write(): refuse the whole call
		 * rather than send a message cut in two. */
		fuse_reply_err(req, EMSGSIZE);
		return;
	}
	struct io *io = g_new0(struct io, 1);
	io->req = req;
	io->file = file_of(fi);
	io->is_write = true;
	io->size = size;
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
	if ((f->poll_parked & events) == events || f->wait_fd < 0) {
		fuse_pollhandle_destroy(ph);
		return;
	}
	struct poll_wait *pw = g_new0(struct poll_wait, 1);
	*pw = (struct poll_wait){ f, ph, events };
	if (park_request(NULL, f->wait_fd, events, poll_notify, poll_cancel, pw) < 0) {
		poll_cancel(NULL, pw, EIO);
		return;
	}
	f->poll_parked |= events;
}

static void ipcfs_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		       struct fuse_pollhandle *ph)
{
	struct open_file *f = file_of(fi);
	short wanted = fi->poll_events ? (fi->poll_events & (POLLIN | POLLOUT)) : (POLLIN | POLLOUT);
	/* A kind that can't tell is always ready; ENOSYS would turn poll off
	 * for the whole mount. */
	short revents = POLLIN | POLLOUT;
	int r = f->kind->poll ? f->kind->poll(f->handle, &revents) : 0;
	if (r < 0) {
		if (ph)
			fuse_pollhandle_destroy(ph);
		fuse_reply_err(req, -r);
		return;
	}
	if (ph && (revents & wanted))
		fuse_pollhandle_destroy(ph);
	else if (ph)
		poll_wait_for(f, ph, wanted ? wanted : (POLLIN | POLLOUT));
	fuse_reply_poll(req, revents);
}

static void ipcfs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct open_file *f = file_of(fi);
	if (f->wait_fd >= 0)
		park_drop_fd(f->wait_fd, EBADF);
	f->kind->close(f->handle);
	g_free(f);
	fuse_reply_err(req, 0);
}

static void ipcfs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void ipcfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void listing_add(struct dir_listing *l, const char *name, fuse_ino_t ino, mode_t type)
{
	g_ptr_array_add(l->names, g_strdup(name));
	g_array_append_val(l->inos, ino);
	g_array_append_val(l->types, type);
}

static int list_dir(struct node *dir, struct dir_listing *l)
{
	listing_add(l, ".", dir->ino, S_IFDIR);
	listing_add(l, "..", dir->parent ? dir->parent->ino : dir->ino, S_IFDIR);
	GHashTableIter it;
	gpointer key, value;
	g_hash_table_iter_init(&it, dir->subdirs);
	while (g_hash_table_iter_next(&it, &key, &value))
		listing_add(l, key, ((struct node *)value)->ino, S_IFDIR);
	if (!is_kind_dir(dir))
		return 0;
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	int r = dir->kind->list(names);
	if (r < 0)
		return r;
	for (guint i = 0; i < names->len; i++) {
		struct node *n = g_hash_table_lookup(dir->objects, names->pdata[i]);
		/* An object not looked up yet has no inode: say so. */
		listing_add(l, names->pdata[i], n ? n->ino : 0xffffffffu, S_IFREG);
	}
	return 0;
}

static void listing_free(struct dir_listing *l)
{
	g_ptr_array_unref(l->names);
	g_array_unref(l->inos);
	g_array_unref(l->types);
	g_free(l);
}

static void ipcfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct node *dir = node_get(ino);
	if (!dir || !dir->is_dir) {
		fuse_reply_err(req, dir ? ENOTDIR : ENOENT);
		return;
	}
	/* A snapshot taken at opendir, so offsets stay stable while reading. */
	struct dir_listing *l = g_new0(struct dir_listing, 1);
	l->names = g_ptr_array_new_with_free_func(g_free);
	l->inos = g_array_new(FALSE, FALSE, sizeof(fuse_ino_t));
	l->types = g_array_new(FALSE, FALSE, sizeof(mode_t));
	int r = list_dir(dir, l);
	if (r < 0) {
		listing_free(l);
		fuse_reply_err(req, -r);
		return;
	}
	fi->fh = (uintptr_t)l;
	if (fuse_reply_open(req, fi) == -ENOENT)
		listing_free(l);
}

static void ipcfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			  struct fuse_file_info *fi)
{
	struct dir_listing *l = (struct dir_listing *)(uintptr_t)fi->fh;
	g_autofree char *buf = g_malloc(size);
	size_t used = 0;
	for (size_t i = off; i < l->names->len; i++) {
		struct stat st = {
			.st_ino = g_array_index(l->inos, fuse_ino_t, i),
			.st_mode = g_array_index(l->types, mode_t, i),
		};
		size_t len = fuse_add_direntry(req, buf + used, size - used, l->names->pdata[i], &st, i + 1);
		if (len > size - used)
			break;
		used += len;
	}
	fuse_reply_buf(req, buf, used);
}

static void ipcfs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	listing_free((struct dir_listing *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void ipcfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv = { .f_bsize = 4096, .f_frsize = 4096, .f_namemax = 255 };
	fuse_reply_statfs(req, &sv);
}

/* An xattr's value or a list of names, answered as the size asked allows. */
static void reply_xattr_bytes(fuse_req_t req, size_t size, const char *bytes, size_t len)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, bytes, len);
}

static int get_xattr(fuse_req_t req, const struct node *n, const char *name, GString *value)
{
	struct ipc_caller who = caller_of(req);
	if (is_kind_dir(n))
		return n->kind->dir_getxattr ? n->kind->dir_getxattr(&who, name, value) : -ENODATA;
	if (n->is_dir)
		return -ENODATA;
	return n->kind->getxattr ? n->kind->getxattr(n->name, name, value) : -ENODATA;
}

static void ipcfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct node *n = node_get(ino);
	g_autoptr(GString) value = g_string_new(NULL);
	int r = n ? get_xattr(req, n, name, value) : -ENOENT;
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		reply_xattr_bytes(req, size, value->str, value->len);
}

static int list_xattrs(fuse_req_t req, const struct node *n, GString *out)
{
	struct ipc_caller who = caller_of(req);
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	int r = 0;
	if (is_kind_dir(n) && n->kind->dir_listxattr)
		r = n->kind->dir_listxattr(&who, names);
	else if (!n->is_dir && n->kind->listxattr)
		r = n->kind->listxattr(n->name, names);
	for (guint i = 0; r == 0 && i < names->len; i++)
		g_string_append_len(out, names->pdata[i], strlen(names->pdata[i]) + 1);
	return r;
}

static void ipcfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct node *n = node_get(ino);
	g_autoptr(GString) names = g_string_new(NULL);
	int r = n ? list_xattrs(req, n, names) : -ENOENT;
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		reply_xattr_bytes(req, size, names->str, names->len);
}

static int set_xattr(fuse_req_t req, const struct node *n, const char *name, const char *value)
{
	struct ipc_caller who = caller_of(req);
	if (is_kind_dir(n))
		return n->kind->dir_setxattr ? n->kind->dir_setxattr(&who, name, value) : -ENOTSUP;
	if (n->is_dir)
		return -ENOTSUP;
	return n->kind->setxattr ? n->kind->setxattr(n->name, name, value, &who) : -ENOTSUP;
}

static void ipcfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			   size_t size, int flags)
{
	struct node *n = node_get(ino);
	/* Values are text; a NUL inside one is not. */
	g_autofree char *text = g_strndup(value, size);
	int r = !n ? -ENOENT : strlen(text) != size ? -EINVAL : set_xattr(req, n, name, text);
	fuse_reply_err(req, -r);
}

static void ipcfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct node *n = node_get(ino);
	struct ipc_caller who = caller_of(req);
	int r = !n ? -ENOENT :
		is_kind_dir(n) && n->kind->dir_removexattr ? n->kind->dir_removexattr(&who, name) :
							      -ENOTSUP;
	fuse_reply_err(req, -r);
}

const struct fuse_lowlevel_ops ipcfs_ops = {
	.init = ipcfs_init,
	.lookup = ipcfs_lookup,
	.forget = ipcfs_forget,
	.forget_multi = ipcfs_forget_multi,
	.getattr = ipcfs_getattr,
	.setattr = ipcfs_setattr,
	.mknod = ipcfs_mknod,
	.mkdir = ipcfs_mkdir,
	.unlink = ipcfs_unlink,
	.rmdir = ipcfs_rmdir,
	.symlink = ipcfs_symlink,
	.rename = ipcfs_rename,
	.link = ipcfs_link,
	.open = ipcfs_open,
	.read = ipcfs_read,
	.write = ipcfs_write,
	.flush = ipcfs_flush,
	.release = ipcfs_release,
	.fsync = ipcfs_fsync,
	.opendir = ipcfs_opendir,
	.readdir = ipcfs_readdir,
	.releasedir = ipcfs_releasedir,
	.statfs = ipcfs_statfs,
	.setxattr = ipcfs_setxattr,
	.getxattr = ipcfs_getxattr,
	.listxattr = ipcfs_listxattr,
	.removexattr = ipcfs_removexattr,
	.create = ipcfs_create,
	.poll = ipcfs_poll,
};
