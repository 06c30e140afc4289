/* Objects that are files in one directory: queues in the mqueue file
 * system, segments and semaphores in /dev/shm. A reference is an O_PATH
 * descriptor of the file, taken once by name; stat, chmod, chown, times
 * and the kinds' reads go through it (or through /proc/self/fd/N, which
 * names that very file), so they reach the object that was found even
 * once its name is gone or holds another. Only unlink must go by name:
 * it checks first that the name still holds the reference's file. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirfiles.h"

/* /proc/self/fd/N: a path that resolves to fd's own file, whatever has
 * become of its name, and can't be swapped for another. */
#define FD_PATH_MAX 32
static const char *fd_path(int fd, char buf[FD_PATH_MAX])
{
	snprintf(buf, FD_PATH_MAX, "/proc/self/fd/%d", fd);
	return buf;
}

/* One system call on a directory's files, made with the rights of root of
 * the directory's user namespace (ipc_space_as_root): where that is not
 * the daemon's, a name in the container's /dev/shm that leads elsewhere
 * (a bind mount of a host directory, say) gets no more than the
 * container's root would. */
enum file_op { OP_OPENAT, OP_LINKAT, OP_UNLINKAT, OP_CHMOD, OP_FCHOWN, OP_UTIMENS };
struct file_call {
	enum file_op op;
	int dir, fd;
	const char *path, *path2;
	int flags;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	const struct timespec *times;
};

static int file_call_run(void *arg)
{
	const struct file_call *c = arg;
	int r;
	switch (c->op) {
	case OP_OPENAT:
		r = openat(c->dir, c->path, c->flags | O_CLOEXEC, c->mode);
		break;
	case OP_LINKAT:
		r = linkat(AT_FDCWD, c->path, c->dir, c->path2, AT_SYMLINK_FOLLOW);
		break;
	case OP_UNLINKAT:
		r = unlinkat(c->dir, c->path, 0);
		break;
	case OP_CHMOD:
		r = chmod(c->path, c->mode);
		break;
	case OP_FCHOWN:
		r = fchownat(c->fd, "", c->uid, c->gid, AT_EMPTY_PATH);
		break;
	case OP_UTIMENS:
		r = utimensat(AT_FDCWD, c->path, c->times, 0);
		break;
	default:
		r = -1;
		errno = EINVAL;
	}
	return r < 0 ? -errno : r;
}

static int file_call(const struct ipc_dir *d, struct file_call c)
{
	return ipc_space_as_root(d->space, file_call_run, &c);
}

void ipc_attr_from_stat(const struct stat *st, struct ipc_attr *attr)
{
	*attr = (struct ipc_attr){
		.uid = st->st_uid,
		.gid = st->st_gid,
		.mode = st->st_mode & 07777,
		.size = st->st_size,
		.blocks = st->st_blocks,
		.atime = st->st_atim,
		.mtime = st->st_mtim,
		.ctime = st->st_ctim,
		.nlink = st->st_nlink > 0 ? 1 : 0,
		.id = st->st_ino,
	};
}

char *ipc_dir_file(const struct ipc_dir *d, const char *name)
{
	return g_strconcat(d->prefix, name, NULL);
}

/* The name of the object a file of the directory holds, or NULL. */
static const char *object_name(const struct ipc_dir *d, const char *file)
{
	if (strcmp(file, ".") == 0 || strcmp(file, "..") == 0 || !g_str_has_prefix(file, d->prefix))
		return NULL;
	if (d->foreign_prefix && g_str_has_prefix(file, d->foreign_prefix))
		return NULL;
	return file + strlen(d->prefix);
}

int ipc_dir_check_name(const struct ipc_dir *d, const char *name)
{
	int r = ipc_check_name(name, d->name_max);
	if (r == 0 && d->foreign_prefix && g_str_has_prefix(name, d->foreign_prefix))
		r = -EINVAL; /* that name belongs to another kind */
	return r;
}

/* The file name holds, by name, regular files only. */
static int stat_by_name(const struct ipc_dir *d, const char *name, struct stat *st)
{
	int r = ipc_dir_check_name(d, name);
	if (r < 0)
		return r == -EINVAL ? -ENOENT : r;
	g_autofree char *file = ipc_dir_file(d, name);
	if (fstatat(d->fd, file, st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return S_ISREG(st->st_mode) ? 0 : -ENOENT;
}

int ipc_dir_each(const struct ipc_dir *d,
		 void (*fn)(const char *name, const struct stat *st, void *data), void *data)
{
	int fd = file_call(d, (struct file_call){ OP_OPENAT, d->fd, .path = ".",
						 .flags = O_RDONLY | O_DIRECTORY });
	if (fd < 0)
		return fd;
	DIR *dir = fdopendir(fd);
	if (!dir) {
		int err = errno;
		close(fd);
		return -err;
	}
	struct dirent *e;
	struct stat st;
	while ((e = readdir(dir)) != NULL) {
		const char *name = object_name(d, e->d_name);
		if (name && (e->d_type == DT_REG || e->d_type == DT_UNKNOWN) &&
		    stat_by_name(d, name, &st) == 0)
			fn(name, &st, data);
	}
	closedir(dir);
	return 0;
}

static void add_name(const char *name, const struct stat *st, void *names)
{
	g_ptr_array_add(names, g_strdup(name));
}

int ipc_dir_list(const struct ipc_dir *d, GPtrArray *names)
{
	return ipc_dir_each(d, add_name, names);
}

int ipc_dir_adopt(const struct ipc_dir *d, int fd, bool readable, struct ipc_object **out)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -ENOENT;
	}
	struct ipc_object *o = g_new0(struct ipc_object, 1);
	*o = (struct ipc_object){ d, fd, readable, st.st_dev, st.st_ino };
	*out = o;
	return 0;
}

int ipc_dir_find(const struct ipc_dir *d, const char *name, int flags, struct ipc_object **out)
{
	int r = ipc_dir_check_name(d, name);
	if (r < 0)
		return r == -EINVAL ? -ENOENT : r;
	g_autofree char *file = ipc_dir_file(d, name);
	int fd = flags == O_PATH ? -EACCES :
		 file_call(d, (struct file_call){ OP_OPENAT, d->fd, .path = file,
						   .flags = flags | O_NOFOLLOW });
	if (fd >= 0)
		return ipc_dir_adopt(d, fd, true, out);
	if (fd != -EACCES)
		return fd == -ELOOP ? -ENOENT : fd;
	/* O_NOFOLLOW with O_PATH takes a symlink itself: not a regular file. */
	fd = file_call(d, (struct file_call){ OP_OPENAT, d->fd, .path = file,
					      .flags = O_PATH | O_NOFOLLOW });
	if (fd < 0)
		return fd;
	return ipc_dir_adopt(d, fd, false, out);
}

int ipc_dir_create(const struct ipc_dir *d, const char *name, mode_t mode,
		   const struct ipc_caller *who, int (*init)(int fd), struct ipc_object **out)
{
	int r = ipc_dir_check_name(d, name);
	if (r < 0)
		return r;
	int fd = file_call(d, (struct file_call){ OP_OPENAT, d->fd, .path = ".",
						 .flags = O_TMPFILE | O_RDWR, .mode = mode & 0777 });
	if (fd < 0)
		return fd;
	r = init ? init(fd) : 0;
	if (r == 0 && !ipc_space_own_users(d->space))
		r = 0; /* made by the namespace's root, it stays its */
	else if (r == 0 && fchown(fd, who->uid, who->gid) < 0)
		r = -errno;
	char path[FD_PATH_MAX];
	g_autofree char *file = ipc_dir_file(d, name);
	if (r == 0)
		r = file_call(d, (struct file_call){ OP_LINKAT, d->fd, .path = fd_path(fd, path),
						     .path2 = file });
	if (r < 0) {
		close(fd);
		return r;
	}
	return ipc_dir_adopt(d, fd, true, out);
}

int ipc_file_reopen(const struct ipc_object *o, int flags)
{
	char path[FD_PATH_MAX];
	return file_call(o->dir, (struct file_call){ OP_OPENAT, AT_FDCWD,
						     .path = fd_path(o->fd, path), .flags = flags });
}

int ipc_file_fstat(const struct ipc_object *o, struct stat *st)
{
	return fstat(o->fd, st) < 0 ? -errno : 0;
}

void ipc_file_release(struct ipc_object *o)
{
	close(o->fd);
	g_free(o);
}

int ipc_file_stat(struct ipc_object *o, struct ipc_attr *attr)
{
	struct stat st;
	int r = ipc_file_fstat(o, &st);
	if (r == 0)
		ipc_attr_from_stat(&st, attr);
	return r;
}

/* There is no unlink by descriptor: the name is checked to hold this very
 * file right before it is removed. */
int ipc_file_unlink(struct ipc_object *o, const char *name)
{
	struct stat st;
	int r = stat_by_name(o->dir, name, &st);
	if (r == 0 && (st.st_dev != o->dev || st.st_ino != o->ino))
		r = -ENOENT;
	g_autofree char *file = ipc_dir_file(o->dir, name);
	if (r == 0)
		r = file_call(o->dir, (struct file_call){ OP_UNLINKAT, o->dir->fd, .path = file });
	return r;
}

int ipc_file_chmod(struct ipc_object *o, mode_t mode)
{
	/* No set-id bits: writes through passthrough never reach the daemon,
	 * which could then not clear them as the kernel does (see fs/ops.c). */
	if (mode & (S_ISUID | S_ISGID))
		return -EINVAL;
	char path[FD_PATH_MAX];
	return file_call(o->dir, (struct file_call){ OP_CHMOD, .path = fd_path(o->fd, path),
						     .mode = mode & 07777 });
}

/* Ids are the daemon's, which a namespace of its own would read as its
 * own: there, a chown is EPERM rather than a change to other ids. */
int ipc_file_chown(struct ipc_object *o, uid_t uid, gid_t gid)
{
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) && !ipc_space_own_users(o->dir->space))
		return -EPERM;
	return file_call(o->dir, (struct file_call){ OP_FCHOWN, .fd = o->fd, .uid = uid,
						     .gid = gid });
}

int ipc_file_set_times(struct ipc_object *o, const struct timespec times[2])
{
	char path[FD_PATH_MAX];
	return file_call(o->dir, (struct file_call){ OP_UTIMENS, .path = fd_path(o->fd, path),
						     .times = times });
}

int ipc_file_id(struct ipc_object *o, struct ipc_file_id *id)
{
	*id = (struct ipc_file_id){ o->dev, o->ino, 0 };
	return 0;
}
