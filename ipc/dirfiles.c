/* Objects that are files in one directory: queues in the mqueue file
 * system, segments and semaphores in /dev/shm. Listing, stat, chmod, chown
 * and times work the same way for all of them; a kind says how its names
 * map to the directory's files. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kind.h"

void ipc_attr_from_stat(const struct stat *st, struct ipc_attr *attr)
{
	*attr = (struct ipc_attr){
		.uid = st->st_uid,
		.gid = st->st_gid,
		.mode = st->st_mode & 07777,
		.size = st->st_size,
		.atime = st->st_atim,
		.mtime = st->st_mtim,
		.ctime = st->st_ctim,
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

int ipc_dir_stat(const struct ipc_dir *d, const char *name, struct stat *st)
{
	int r = ipc_dir_check_name(d, name);
	if (r < 0)
		return r == -EINVAL ? -ENOENT : r;
	g_autofree char *file = ipc_dir_file(d, name);
	if (fstatat(d->fd, file, st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return S_ISREG(st->st_mode) ? 0 : -ENOENT;
}

int ipc_dir_list(const struct ipc_dir *d, GPtrArray *names)
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
		    ipc_dir_stat(d, name, &st) == 0)
			g_ptr_array_add(names, g_strdup(name));
	}
	closedir(dir);
	return 0;
}

int ipc_dir_attr(const struct ipc_dir *d, const char *name, struct ipc_attr *attr)
{
	struct stat st;
	int r = ipc_dir_stat(d, name, &st);
	if (r == 0)
		ipc_attr_from_stat(&st, attr);
	return r;
}

int ipc_dir_chmod(const struct ipc_dir *d, const char *name, mode_t mode)
{
	struct stat st;
	g_autofree char *file = ipc_dir_file(d, name);
	int r = ipc_dir_stat(d, name, &st);
	/* No set-id bits: writes through passthrough never reach the daemon,
	 * which could then not clear them as the kernel does (see ops.c). */
	if (r == 0 && (mode & (S_ISUID | S_ISGID)))
		r = -EINVAL;
	/* Never through a symlink swapped in since the check. */
	if (r == 0 && fchmodat(d->fd, file, mode & 07777, AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	return r;
}

int ipc_dir_chown(const struct ipc_dir *d, const char *name, uid_t uid, gid_t gid)
{
	struct stat st;
	g_autofree char *file = ipc_dir_file(d, name);
	int r = ipc_dir_stat(d, name, &st);
	if (r == 0 && fchownat(d->fd, file, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	return r;
}

int ipc_dir_set_times(const struct ipc_dir *d, const char *name, const struct timespec times[2])
{
	struct stat st;
	g_autofree char *file = ipc_dir_file(d, name);
	int r = ipc_dir_stat(d, name, &st);
	if (r == 0 && utimensat(d->fd, file, times, AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	return r;
}
