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
	int fd = openat(d->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
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
	int fd = flags == O_PATH ? -1 : openat(d->fd, file, flags | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0)
		return ipc_dir_adopt(d, fd, true, out);
	if (flags != O_PATH && errno != EACCES)
		return errno == ELOOP ? -ENOENT : -errno;
	/* O_NOFOLLOW with O_PATH takes a symlink itself: not a regular file. */
	fd = openat(d->fd, file, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return ipc_dir_adopt(d, fd, false, out);
}

int ipc_dir_create(const struct ipc_dir *d, const char *name, mode_t mode,
		   const struct ipc_caller *who, int (*init)(int fd), struct ipc_object **out)
{
	int r = ipc_dir_check_name(d, name);
	if (r < 0)
		return r;
	int fd = openat(d->fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, mode & 0777);
	if (fd < 0)
		return -errno;
	r = init ? init(fd) : 0;
	if (r == 0 && fchown(fd, who->uid, who->gid) < 0)
		r = -errno;
	char path[FD_PATH_MAX];
	g_autofree char *file = ipc_dir_file(d, name);
	if (r == 0 && linkat(AT_FDCWD, fd_path(fd, path), d->fd, file, AT_SYMLINK_FOLLOW) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		return r;
	}
	return ipc_dir_adopt(d, fd, true, out);
}

int ipc_file_reopen(const struct ipc_object *o, int flags)
{
	char path[FD_PATH_MAX];
	int fd = open(fd_path(o->fd, path), flags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
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
	if (r == 0 && unlinkat(o->dir->fd, file, 0) < 0)
		r = -errno;
	return r;
}

int ipc_file_chmod(struct ipc_object *o, mode_t mode)
{
	/* No set-id bits: writes through passthrough never reach the daemon,
	 * which could then not clear them as the kernel does (see fs/ops.c). */
	if (mode & (S_ISUID | S_ISGID))
		return -EINVAL;
	char path[FD_PATH_MAX];
	return chmod(fd_path(o->fd, path), mode & 07777) < 0 ? -errno : 0;
}

int ipc_file_chown(struct ipc_object *o, uid_t uid, gid_t gid)
{
	return fchownat(o->fd, "", uid, gid, AT_EMPTY_PATH) < 0 ? -errno : 0;
}

int ipc_file_set_times(struct ipc_object *o, const struct timespec times[2])
{
	char path[FD_PATH_MAX];
	return utimensat(AT_FDCWD, fd_path(o->fd, path), times, 0) < 0 ? -errno : 0;
}

int ipc_file_id(struct ipc_object *o, struct ipc_file_id *id)
{
	*id = (struct ipc_file_id){ o->dev, o->ino, 0 };
	return 0;
}
