/* ipc/dirfiles.h: kinds whose objects are the files of one directory
 * (queues in the mqueue file system, segments and semaphores in /dev/shm).
 * Their reference to an object is the same for all of them: an O_PATH
 * descriptor of its file, taken once by name, through which every later
 * operation reaches that very file, named or not. */
#pragma once

#include <sys/stat.h>

#include "kind.h"

struct ipc_dir {
	int fd;                     /* the directory */
	/* Whose rights the directory's files are reached with: those of root
	 * of its user namespace (ipc_space_as_root); NULL: the daemon's. */
	struct ipc_space *space;
	const char *prefix;         /* file name = prefix + object name */
	const char *foreign_prefix; /* files of another kind, or NULL */
	size_t name_max;
};

struct ipc_object {
	const struct ipc_dir *dir;
	int fd;        /* O_PATH, or opened for reading (find's flags, a create's) */
	bool readable; /* fd reads the file */
	dev_t dev;
	ino_t ino;
};

void ipc_attr_from_stat(const struct stat *st, struct ipc_attr *attr);
char *ipc_dir_file(const struct ipc_dir *d, const char *name);
int ipc_dir_check_name(const struct ipc_dir *d, const char *name);
int ipc_dir_list(const struct ipc_dir *d, GPtrArray *names);
/* fn(name, its stat, data) for each object of the directory. */
int ipc_dir_each(const struct ipc_dir *d,
		 void (*fn)(const char *name, const struct stat *st, void *data), void *data);
/* A reference to the regular file name holds now: an O_PATH descriptor,
 * or for flags other than O_PATH, one opened with them where the daemon
 * may (only where no file could be a device or FIFO: mqueue). */
int ipc_dir_find(const struct ipc_dir *d, const char *name, int flags, struct ipc_object **out);
/* A new file named name, owned by who, made ready by init(fd) (NULL: as
 * it is): made unnamed (O_TMPFILE), given to its owner through its
 * descriptor, then linked in, which fails with EEXIST if the name is
 * taken. Nobody sees it half made or with another owner, and nothing is
 * ever given away by name. */
int ipc_dir_create(const struct ipc_dir *d, const char *name, mode_t mode,
		   const struct ipc_caller *who, int (*init)(int fd), struct ipc_object **out);
/* A reference holding fd, the descriptor of a file made by name. */
int ipc_dir_adopt(const struct ipc_dir *d, int fd, bool readable, struct ipc_object **out);
/* A new descriptor of the object's file itself, opened with flags. */
int ipc_file_reopen(const struct ipc_object *o, int flags);
int ipc_file_fstat(const struct ipc_object *o, struct stat *st);

/* The operations of struct ipc_kind, the same for every such kind. */
void ipc_file_release(struct ipc_object *o);
int ipc_file_stat(struct ipc_object *o, struct ipc_attr *attr);
int ipc_file_unlink(struct ipc_object *o, const char *name);
int ipc_file_chmod(struct ipc_object *o, mode_t mode);
int ipc_file_chown(struct ipc_object *o, uid_t uid, gid_t gid);
int ipc_file_set_times(struct ipc_object *o, const struct timespec times[2]);
int ipc_file_id(struct ipc_object *o, struct ipc_file_id *id);
