/* System V shared memory segments: sysv/shm/KEY.
 *
 * An open attaches the segment, and the attachment lives with the open
 * file, as a process's lives with it: the segment counts it in nattch, and
 * lives on after IPC_RMID, stat'able and chmod'able by its id, until the
 * last close. Where the daemon may open the attachment's
 * /proc/self/map_files entry (as root), that gives a descriptor of the
 * segment's own file, which fs/ hands to the kernel as a passthrough
 * backing file, so read, write and mmap reach the segment without the
 * daemon. Reads and writes that do reach it are served from the
 * attachment. A segment's size is fixed: nothing reads or writes past it
 * here. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sysv.h"

#define MAP_FILES "/proc/self/map_files"

struct ipc_handle {
	int id;
	size_t size;
	int fd;     /* the segment's file, or -1 */
	char *addr; /* the daemon's attachment, while the file is open */
};

static long option_size;
static const struct ipc_option shm_options[] = {
	{ "sysv_shm_size", "bytes of a segment created through the mount (default 4096)",
	  &option_size, 1, G_MAXLONG },
	{ NULL },
};
/* As shmid_ds names them; the times in seconds since the epoch, 0 for
 * never (atime is also the file's atime, dtime its mtime, ctime its
 * ctime). */
static const char *const counter_names[] = { "segsz", "nattch", "cpid",  "lpid",
					     "atime", "dtime",  "ctime", NULL };
/* status: what lsipc's STATUS column says of the segment's mode (dest,
 * locked, hugetlb, noreserve), comma-separated. */
static const char *const text_names[] = { "status", NULL };

static void append_word(GString *value, const char *word)
{
	if (value->len)
		g_string_append_c(value, ',');
	g_string_append(value, word);
}

static int segment_text(const struct sysv_stat *st, const char *name, GString *value)
{
	g_string_truncate(value, 0);
	if (st->mode_flags & SHM_DEST)
		append_word(value, "dest");
	if (st->mode_flags & SHM_LOCKED)
		append_word(value, "locked");
	if (st->mode_flags & SHM_HUGETLB)
		append_word(value, "hugetlb");
	if (st->mode_flags & SHM_NORESERVE)
		append_word(value, "noreserve");
	return 0;
}

static int shm_get(key_t key, int flags, long size)
{
	int id = shmget(key, (size_t)size, flags);
	return id < 0 ? -errno : id;
}

static int shm_stat(int id_or_index, bool by_index, struct sysv_stat *st)
{
	struct shmid_ds ds;
	int r = shmctl(id_or_index, by_index ? SHM_STAT_ANY : IPC_STAT, &ds);
	if (r < 0)
		return -errno;
	int id = by_index ? r : id_or_index;
	*st = (struct sysv_stat){
		.id = id,
		.key = ds.shm_perm.__key,
		.attr = {
			.uid = ds.shm_perm.uid,
			.gid = ds.shm_perm.gid,
			.mode = ds.shm_perm.mode & 0777,
			.size = ds.shm_segsz,
			.atime = { ds.shm_atime, 0 },
			.mtime = { ds.shm_dtime, 0 },
			.ctime = { ds.shm_ctime, 0 },
			/* Removed, it lives on while attached, nameless. */
			.nlink = ds.shm_perm.mode & SHM_DEST ? 0 : 1,
			.id = (uint64_t)id,
		},
		.cuid = ds.shm_perm.cuid,
		.cgid = ds.shm_perm.cgid,
		.mode_flags = ds.shm_perm.mode & ~0777u,
		.counters = { ds.shm_segsz, ds.shm_nattch, ds.shm_cpid, ds.shm_lpid,
			      ds.shm_atime, ds.shm_dtime, ds.shm_ctime },
	};
	return 0;
}

static int shm_max_index(void)
{
	struct shm_info info;
	int r = shmctl(0, SHM_INFO, (struct shmid_ds *)&info);
	return r < 0 ? -errno : r;
}

static int shm_set_owner(int id, uid_t uid, gid_t gid, mode_t mode)
{
	struct shmid_ds ds;
	if (shmctl(id, IPC_STAT, &ds) < 0)
		return -errno;
	if (uid != (uid_t)-1)
		ds.shm_perm.uid = uid;
	if (gid != (gid_t)-1)
		ds.shm_perm.gid = gid;
	if (mode != (mode_t)-1)
		ds.shm_perm.mode = mode & 0777;
	return shmctl(id, IPC_SET, &ds) < 0 ? -errno : 0;
}

static int shm_remove(int id)
{
	return shmctl(id, IPC_RMID, NULL) < 0 ? -errno : 0;
}

static const struct sysv_kind shm_sysv = {
	.xattr_prefix = "user.shm.",
	.counter_names = counter_names,
	.text_names = text_names,
	.text_xattr = segment_text,
	.create_xattr = "user.shm.size",
	.create_size = &shm_options[0],
	.create_default = 4096,
	.get = shm_get,
	.stat = shm_stat,
	.max_index = shm_max_index,
	.set_owner = shm_set_owner,
	.remove = shm_remove,
};

SYSV_KIND_OPS(sysv_shm, shm_sysv)

/* Attaches read-write where the daemon may, so that one backing file can
 * serve every later open; each caller's own access mode is the kernel's
 * to enforce on the file it opened through the mount. */
static void *attach(int id, int flags)
{
	void *addr = shmat(id, NULL, 0);
	if (addr == (void *)-1 && errno == EACCES && (flags & O_ACCMODE) == O_RDONLY)
		addr = shmat(id, NULL, SHM_RDONLY);
	return addr;
}

/* The descriptor of the segment's file behind the attachment at addr,
 * from its /proc/self/map_files entry, or -1. The entry is named
 * START-END, and END follows the file's length, which a write past the
 * segment's end may have changed: it is found by its start. */
static int open_attached_file(void *addr, int flags)
{
	g_autofree char *prefix = g_strdup_printf("%lx-", (unsigned long)(uintptr_t)addr);
	GDir *dir = g_dir_open(MAP_FILES, 0, NULL);
	if (!dir)
		return -1;
	const char *entry;
	int fd = -1;
	while ((entry = g_dir_read_name(dir)) && !g_str_has_prefix(entry, prefix))
		;
	if (entry) {
		g_autofree char *path = g_build_filename(MAP_FILES, entry, NULL);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0 && errno == EACCES)
			fd = open(path, (flags & O_ACCMODE) | O_CLOEXEC);
	}
	g_dir_close(dir);
	return fd;
}

/* A passthrough write past the segment's end lengthens its file, which
 * later attachments would map; cut it back to the segment's size. */
static void keep_segment_size(const struct ipc_handle *h)
{
	struct stat st;
	if (h->fd >= 0 && fstat(h->fd, &st) == 0 && st.st_size > (off_t)h->size &&
	    ftruncate(h->fd, h->size) < 0)
		g_warning("sysv/shm: cannot cut segment %d back to %zu bytes: %s", h->id, h->size,
			  g_strerror(errno));
}

static int shm_open_handle(struct ipc_object *o, int flags, struct ipc_handle **out)
{
	struct sysv_stat st;
	if (!sysv_object_stat(o, &st))
		return -EIDRM;
	void *addr = attach(o->id, flags);
	if (addr == (void *)-1)
		return errno == EINVAL ? -EIDRM : -errno;
	struct ipc_handle *h = g_new0(struct ipc_handle, 1);
	h->id = o->id;
	h->size = st.attr.size;
	h->addr = addr;
	h->fd = open_attached_file(addr, flags);
	keep_segment_size(h);
	*out = h;
	return 0;
}

static void shm_close_handle(struct ipc_handle *h)
{
	keep_segment_size(h);
	if (h->fd >= 0)
		close(h->fd);
	shmdt(h->addr);
	g_free(h);
}

/* The part of [offset, offset + len) inside the segment. */
static size_t span(const struct ipc_handle *h, off_t offset, size_t len)
{
	return offset < 0 || (size_t)offset >= h->size ? 0 : MIN(len, h->size - offset);
}

static ssize_t shm_read(struct ipc_handle *h, void *buf, size_t len, off_t offset,
			struct ipc_progress *progress)
{
	size_t n = span(h, offset, len);
	if (n > 0)
		memcpy(buf, h->addr + offset, n);
	return n;
}

static ssize_t shm_write(struct ipc_handle *h, const void *buf, size_t len, off_t offset,
			 struct ipc_progress *progress)
{
	size_t n = span(h, offset, len);
	if (n == 0)
		return len == 0 ? 0 : -ENOSPC; /* a segment does not grow */
	memcpy(h->addr + offset, buf, n);
	return n;
}

static int segment_file_id(struct ipc_object *o, struct ipc_file_id *id)
{
	/* Called in the segment's namespace (IPC_CALL). */
	*id = (struct ipc_file_id){ IPC_FILE_SYSV_SHM, (ino_t)o->id,
				    ipc_space_ns(ipc_space_current()) };
	return 0;
}

static int shm_backing_fd(struct ipc_handle *h)
{
	return h->fd;
}

const struct ipc_kind ipc_kind_sysv_shm = {
	.dir = "sysv/shm",
	.description = "System V shared memory segments",
	.options = shm_options,
	SYSV_FIELDS(sysv_shm),
	.open = shm_open_handle,
	.read = shm_read,
	.write = shm_write,
	.close = shm_close_handle,
	.backing_fd = shm_backing_fd,
	.file_id = segment_file_id,
};
