/* The fuse_lowlevel_ops table: one handler per request, each ending in one
 * reply, given at once or, for a request that must wait, when it is parked
 * and later retried or interrupted. This file holds the tree's names and
 * attributes; files.c the open files, dirs.c the listings. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs.h"


static time_t mount_time;

void ops_start(void)
{
	mount_time = time(NULL);
}

static struct ipc_caller caller_of(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	return (struct ipc_caller){ ctx->uid, ctx->gid, ctx->pid };
}

/* ns/ is root's alone: the kernel then lets nobody else list it or
 * reach anything below it, even on an allow_other mount. */
static mode_t dir_mode(const struct node *n)
{
	return n->ns_root ? 0700 : node_is_kind_dir(n) ? 0777 : n->under_ns ? 0555 : 0755;
}

static void dir_attr(const struct node *n, struct stat *st)
{
	*st = (struct stat){
		.st_ino = n->ino,
		/* Anyone may create, like in /dev/mqueue and /dev/shm. Their
		 * sticky bit is kept by ipcfs_unlink rather than shown: the kernel
		 * lets only a sticky directory's owner set its user.* xattrs,
		 * which are how each user picks the sizes of new objects. */
		.st_mode = S_IFDIR | dir_mode(n),
		.st_nlink = 2 + (n->subdirs ? g_hash_table_size(n->subdirs) : 0),
		.st_blksize = 4096,
	};
	st->st_atim.tv_sec = st->st_mtim.tv_sec = st->st_ctim.tv_sec = mount_time;
}

/* The object's own size, unless the node is open for writes that may
 * wait: see WAITING_WRITE_ROOM. */
static off_t size_to_show(const struct node *n, const struct ipc_attr *a)
{
	return n->inst->kind->waits && n->open_writers > 0 ? MAX(a->size, WAITING_WRITE_ROOM) : a->size;
}

static void attr_to_stat(const struct node *n, const struct ipc_attr *a, struct stat *st)
{
	*st = (struct stat){
		.st_ino = n->ino,
		.st_mode = S_IFREG | (a->mode & 07777),
		.st_nlink = a->nlink,
		.st_uid = a->uid,
		.st_gid = a->gid,
		.st_size = size_to_show(n, a),
		.st_blksize = 4096,
		.st_blocks = a->blocks,
		.st_atim = a->atime,
		.st_mtim = a->mtime,
		.st_ctim = a->ctime,
	};
}

/* The attributes of the object of ref, which n stands for. */
static int object_attr(struct node *n, struct node_ref *ref, struct stat *st)
{
	struct ipc_attr a;
	int r = IPC_CALL(n->inst, stat, ref->object, &a);
	if (r == 0) {
		n->last_attr = a;
		attr_to_stat(n, &a, st);
	}
	return r;
}

static int node_attr(struct node *n, pid_t caller, struct stat *st)
{
	if (n->is_dir) {
		if (n->ns && ns_gone(n->ns))
			return -ENOENT;
		dir_attr(n, st);
		return 0;
	}
	struct node_ref ref;
	int r = node_object(n, caller, NODE_TO_STAT, &ref);
	if (r == 0 && ref.found) {
		n->last_attr = ref.attr; /* a stat just now: no need of another */
		attr_to_stat(n, &ref.attr, st);
	} else if (r == 0) {
		r = object_attr(n, &ref, st);
	} else if (r == -ENOENT) {
		/* Its name is gone, and nothing through the mount holds it. */
		struct ipc_attr a = n->last_attr;
		a.nlink = 0;
		attr_to_stat(n, &a, st);
		r = 0;
	}
	node_ref_done(n, &ref);
	return r;
}

static int reply_entry_for(fuse_req_t req, struct node *n, const struct stat *st)
{
	struct fuse_entry_param e = {
		.ino = n->ino,
		.generation = 1,
		.attr = *st,
		.attr_timeout = node_attr_seconds(n),
		.entry_timeout = node_entry_seconds(n),
	};
	return reply_entry(req, &e);
}

static gboolean probe_passthrough(gpointer data)
{
	const struct fs_config *config = data;
	backing_probe(config->fuse_fd);
	return G_SOURCE_REMOVE;
}

void ipcfs_init(void *userdata, struct fuse_conn_info *conn)
{
	const struct fs_config *config = userdata;
	/* O_TRUNC arrives with the open instead of as a separate setattr. */
	fuse_set_feature_flag(conn, FUSE_CAP_ATOMIC_O_TRUNC);
	/* Clearing set-id bits on a write is the daemon's: otherwise the
	 * kernel asks for security.capability before every write, even one
	 * that passthrough serves without the daemon. No object here keeps
	 * set-id bits (chmod refuses them, an open for writing drops them). */
	fuse_set_feature_flag(conn, FUSE_CAP_HANDLE_KILLPRIV_V2);
	fuse_unset_feature_flag(conn, FUSE_CAP_SPLICE_READ);
	fuse_unset_feature_flag(conn, FUSE_CAP_SPLICE_WRITE);
	fuse_unset_feature_flag(conn, FUSE_CAP_SPLICE_MOVE);
	files_init(conn);
	backing_init(conn, config->no_passthrough);
	transport_init(conn);
	/* The kernel takes backing files only once it has the init reply. */
	g_idle_add_full(G_PRIORITY_HIGH, probe_passthrough, userdata, NULL);
}

int ops_lookup(struct node *dir, const char *name, struct node **out, struct stat *st)
{
	struct node *n = NULL;
	int r = -ENOENT;

	if (!dir->is_dir) {
		r = -ENOTDIR;
	} else if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		n = strcmp(name, ".") == 0 || !dir->parent ? dir : dir->parent;
		dir_attr(n, st);
		r = 0;
	} else if (dir->ns_root) {
		if ((r = ns_lookup(dir, name, &n)) == 0)
			dir_attr(n, st);
	} else if ((n = node_subdir(dir, name))) {
		r = n->ns && ns_gone(n->ns) ? -ENOENT : 0;
		if (r == 0)
			dir_attr(n, st);
	} else if ((n = node_fixed_file(dir, name))) {
		r = node_attr(n, 0, st); /* a fixed file is never stale */
	} else if (node_is_kind_dir(dir)) {
		struct ipc_object *o;
		struct ipc_attr a;
		r = object_find(dir->inst, name, &o, &a);
		if (r == 0) {
			IPC_CALL_VOID(dir->inst, release, o);
			n = node_lookup_object(dir, name, a.id);
			n->last_attr = a;
			attr_to_stat(n, &a, st);
		}
	}
	*out = n;
	return r;
}

static void ipcfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct node *dir = node_get(parent);
	struct node *n = NULL;
	struct stat st;
	int r = dir ? ops_lookup(dir, name, &n, &st) : -ENOENT;
	if (r < 0)
		reply_err(req, -r);
	else if (reply_entry_for(req, n, &st) == -ENOENT)
		node_forget(n, 1); /* the caller went away: the kernel holds nothing */
}

static void ipcfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct node *n = node_get(ino);
	if (n)
		node_forget(n, nlookup);
	reply_none(req);
}

static void ipcfs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++) {
		struct node *n = node_get(forgets[i].ino);
		if (n)
			node_forget(n, forgets[i].nlookup);
	}
	reply_none(req);
}

static void ipcfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	/* An open file's node holds the file's object: fi would name the same. */
	struct node *n = node_get(ino);
	struct stat st;
	int r = n ? node_attr(n, fuse_req_ctx(req)->pid, &st) : -ENOENT;
	if (r < 0)
		reply_err(req, -r);
	else
		reply_attr(req, &st, node_attr_seconds(n));
}

static struct timespec time_to_set(const struct timespec *given, int to_set, int set_bit, int now_bit)
{
	if (to_set & now_bit)
		return (struct timespec){ .tv_nsec = UTIME_NOW };
	if (to_set & set_bit)
		return *given;
	return (struct timespec){ .tv_nsec = UTIME_OMIT };
}

static int apply_setattr(const struct node *n, struct ipc_object *o, const struct stat *attr,
			 int to_set)
{
	const struct ipc_instance *in = n->inst;
	const struct ipc_kind *k = in->kind;
	int r = 0;

	if (to_set & FUSE_SET_ATTR_MODE)
		r = k->chmod ? IPC_CALL(in, chmod, o, attr->st_mode) : -EPERM;
	if (r == 0 && (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)))
		r = k->chown ? IPC_CALL(in, chown, o,
					to_set & FUSE_SET_ATTR_UID ? attr->st_uid : (uid_t)-1,
					to_set & FUSE_SET_ATTR_GID ? attr->st_gid : (gid_t)-1) :
			       -EPERM;
	if (r == 0 && (to_set & FUSE_SET_ATTR_SIZE))
		r = k->truncate ? IPC_CALL(in, truncate, o, attr->st_size) : -EINVAL;
	if (r == 0 && (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
				 FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW)) && k->set_times) {
		struct timespec times[2] = {
			time_to_set(&attr->st_atim, to_set, FUSE_SET_ATTR_ATIME, FUSE_SET_ATTR_ATIME_NOW),
			time_to_set(&attr->st_mtim, to_set, FUSE_SET_ATTR_MTIME, FUSE_SET_ATTR_MTIME_NOW),
		};
		r = IPC_CALL(in, set_times, o, times);
	}
	return r;
}

/* The change, then the attributes after it, of the very object the kernel
 * checked the caller against. */
static int set_attr(fuse_req_t req, struct node *n, const struct stat *attr, int to_set,
		    struct stat *st)
{
	if (n->is_dir)
		return -EPERM;
	struct node_ref ref;
	int r = node_object(n, fuse_req_ctx(req)->pid, NODE_AS_CHECKED, &ref);
	/* chmod and chown are the owner's (or root's), as the kernel checked
	 * on the attributes it had: checked again on the object's own, which
	 * may be another's where a System V id came back (see open_node). */
	uid_t uid = fuse_req_ctx(req)->uid;
	if (r == 0 && uid != 0 && (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
					     FUSE_SET_ATTR_GID))) {
		if (!ref.found)
			r = IPC_CALL(n->inst, stat, ref.object, &ref.attr);
		if (r == 0 && ref.attr.uid != uid)
			r = -EPERM;
	}
	if (r == 0)
		r = apply_setattr(n, ref.object, attr, to_set);
	if (r == 0)
		r = object_attr(n, &ref, st);
	node_ref_done(n, &ref);
	return r;
}

static void ipcfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			  struct fuse_file_info *fi)
{
	struct node *n = node_get(ino);
	struct stat st;
	int r = n ? set_attr(req, n, attr, to_set, &st) : -ENOENT;
	if (r < 0)
		reply_err(req, -r);
	else
		reply_attr(req, &st, node_attr_seconds(n));
}

static bool caller_in_group(fuse_req_t req, gid_t gid)
{
	if (fuse_req_ctx(req)->gid == gid)
		return true;
	gid_t groups[256];
	int n = fuse_req_getgroups(req, G_N_ELEMENTS(groups), groups);
	for (int i = 0; i < MIN(n, (int)G_N_ELEMENTS(groups)); i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* The check the kernel makes on open, for an open it did not check: an
 * O_CREAT that found the object made by someone else after its lookup. */
static int may_open(fuse_req_t req, const struct ipc_attr *a, int flags)
{
	uid_t uid = fuse_req_ctx(req)->uid;
	if (uid == 0)
		return 0;
	mode_t bits = uid == a->uid ? (a->mode >> 6) : caller_in_group(req, a->gid) ? (a->mode >> 3) : a->mode;
	int acc = flags & O_ACCMODE;
	bool wants_read = acc == O_RDONLY || acc == O_RDWR;
	bool wants_write = acc == O_WRONLY || acc == O_RDWR || (flags & O_TRUNC);
	if ((wants_read && !(bits & 4)) || (wants_write && !(bits & 2)))
		return -EACCES;
	return 0;
}

/* How often a create that found the name taken, but by nothing an open
 * could take (gone again, or a file that is no object), tries again: a
 * name held by something else for that long is ENOENT, as before. */
#define CREATE_TRIES 100
#define CREATE_PAUSE_MAX_US 20

/* A new object named name, or, for an open without O_EXCL, the one that
 * took the name since the kernel's lookup; *made says which. Another
 * program may remove and make the name again meanwhile, any number of
 * times: the create is tried again rather than fail. */
static int make_or_find(fuse_req_t req, struct node *dir, const char *name, mode_t mode,
			const struct fuse_file_info *fi, struct ipc_object **out, bool *made)
{
	const struct ipc_instance *in = dir->inst;
	const struct ipc_kind *k = in->kind;
	struct ipc_caller who = caller_of(req);
	for (int i = 0; i < CREATE_TRIES; i++) {
		int r = k->create ? IPC_CALL(in, create, in->state, name, mode, &who, out) : -EPERM;
		*made = r == 0;
		if (r != -EEXIST || !fi || (fi->flags & O_EXCL))
			return r;
		r = IPC_CALL(in, find, in->state, name, out);
		if (r != -ENOENT)
			return r;
		/* A remover in a loop can fall into step with these tries, and
		 * make the name exactly while each create runs and remove it
		 * while each find does: a pause of a few microseconds, of a
		 * random length, breaks that step. */
		if (i >= CREATE_TRIES / 10)
			g_usleep(g_random_int_range(1, CREATE_PAUSE_MAX_US));
	}
	g_debug("create of %s/%s: taken, by nothing an open can take, %d times", k->dir, name,
		CREATE_TRIES);
	return -ENOENT;
}

/* The name of n is gone since the kernel found it. An open with O_CREAT
 * would have made the object had the kernel known (FUSE takes O_CREAT
 * out of an OPEN): it is made now, or the one someone else made since is
 * taken, as the node's. Any other open is stale. */
static int create_for_open(fuse_req_t req, struct node *n, struct fuse_file_info *fi,
			   struct node_ref *ref, bool *made)
{
	pid_t caller = fuse_req_ctx(req)->pid;
	mode_t mode;
	if (!caller_open_creates(caller, &mode)) {
		g_debug("open of %s/%s: the name is gone, and the caller asked for no O_CREAT",
			n->inst->kind->dir, n->name);
		return node_stale(n, caller);
	}
	struct ipc_object *o;
	struct ipc_attr a;
	int r = make_or_find(req, n->parent, n->name, mode, fi, &o, made);
	if (r == 0 && (r = IPC_CALL(n->inst, stat, o, &a)) < 0)
		IPC_CALL_VOID(n->inst, release, o);
	if (r < 0)
		return r;
	n->object_id = a.id;
	*ref = (struct node_ref){ .object = o, .owned = true, .found = true, .attr = a };
	return 0;
}

static int open_node(fuse_req_t req, struct node *n, struct fuse_file_info *fi)
{
	if (n->is_dir)
		return -EISDIR;
	struct node_ref ref;
	bool made = false;
	int r = node_object(n, fuse_req_ctx(req)->pid, NODE_TO_OPEN, &ref);
	if (r == -ENOENT)
		r = create_for_open(req, n, fi, &ref, &made);
	/* The kernel checked the attributes it had of the node, which may be
	 * another object's by now, even where the node's id did not change: a
	 * System V id comes back, for another object, after 65,536 creates
	 * of its kind. So the object's own are checked, but for one this very
	 * open made, which its maker may open whatever its mode. */
	if (r == 0 && !made && !ref.found)
		r = IPC_CALL(n->inst, stat, ref.object, &ref.attr);
	if (r == 0 && !made)
		r = may_open(req, &ref.attr, fi->flags);
	if (r == 0)
		r = file_open(req, n, &ref, fi);
	node_ref_done(n, &ref);
	return r;
}

static void ipcfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct node *n = node_get(ino);
	int r = n ? open_node(req, n, fi) : -ENOENT;
	if (r < 0)
		reply_err(req, -r);
	else if (reply_open(req, fi) == -ENOENT)
		file_discard(req, fi);
}

static int create_object(fuse_req_t req, struct node *dir, const char *name, mode_t mode,
			 struct fuse_file_info *fi, struct node **out, struct stat *st)
{
	if (!node_is_kind_dir(dir))
		return -EPERM;
	const struct ipc_instance *in = dir->inst;
	struct node_ref ref = { .owned = true };
	bool made;
	struct ipc_attr a;
	int r = make_or_find(req, dir, name, mode, fi, &ref.object, &made);
	if (r < 0)
		return r;
	r = IPC_CALL(in, stat, ref.object, &a);
	/* The kernel checked nothing for an object that was there already. */
	if (r == 0 && !made)
		r = may_open(req, &a, fi->flags);
	struct node *n = r == 0 ? node_lookup_object(dir, name, a.id) : NULL;
	if (n && fi)
		r = file_open(req, n, &ref, fi);
	/* After the open, the size depends on it; the open stands either way. */
	if (r == 0 && (!fi || object_attr(n, &ref, st) < 0)) {
		n->last_attr = a;
		attr_to_stat(n, &a, st);
	}
	if (r < 0 && n)
		node_forget(n, 1);
	if (ref.owned)
		IPC_CALL_VOID(in, release, ref.object);
	*out = n;
	return r;
}

static void ipcfs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			 struct fuse_file_info *fi)
{
	struct node *dir = node_get(parent);
	struct node *n = NULL;
	struct stat st;
	int r = dir ? create_object(req, dir, name, mode, fi, &n, &st) : -ENOENT;
	if (r < 0) {
		reply_err(req, -r);
		return;
	}
	struct fuse_entry_param e = { .ino = n->ino, .generation = 1, .attr = st };
	if (reply_create(req, &e, fi) == -ENOENT) {
		file_discard(req, fi);
		node_forget(n, 1);
	}
}

static void ipcfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	struct node *dir = node_get(parent);
	struct node *n = NULL;
	struct stat st;
	int r = !dir ? -ENOENT : !S_ISREG(mode) ? -EPERM : create_object(req, dir, name, mode, NULL, &n, &st);
	if (r < 0)
		reply_err(req, -r);
	else if (reply_entry_for(req, n, &st) == -ENOENT)
		node_forget(n, 1); /* the caller went away: the kernel holds nothing */
}

/* What a sticky directory allows: only root and the object's owner may
 * remove it. The object checked is the object removed: the name is
 * removed only if it still holds it. */
static int remove_object(fuse_req_t req, struct node *dir, const char *name)
{
	const struct ipc_instance *in = dir->inst;
	const struct ipc_kind *k = in->kind;
	struct ipc_object *o;
	struct ipc_attr a;
	int r = object_find(in, name, &o, &a);
	if (r < 0)
		return r;
	/* The kernel's entry for the name stands for another object: stale. */
	struct node *n = g_hash_table_lookup(dir->objects, name);
	if (n && n->object_id != a.id)
		r = -ESTALE;
	uid_t caller = fuse_req_ctx(req)->uid;
	if (r == 0 && caller != 0 && caller != a.uid)
		r = -EPERM;
	if (r == 0)
		r = k->unlink ? IPC_CALL(in, unlink, o, name) : -EPERM;
	IPC_CALL_VOID(in, release, o);
	return r;
}

static void ipcfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct node *dir = node_get(parent);
	int r;
	if (!dir)
		r = -ENOENT;
	else if (node_subdir(dir, name))
		r = -EISDIR;
	else if (node_fixed_file(dir, name))
		r = -EPERM;
	else if (!node_is_kind_dir(dir))
		r = -ENOENT;
	else
		r = remove_object(req, dir, name);
	reply_err(req, -r);
}

/* The tree's shape is fixed and objects have one name each. */
static void ipcfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	reply_err(req, EPERM);
}

static void ipcfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct node *dir = node_get(parent);
	reply_err(req, dir && node_subdir(dir, name) ? EPERM : ENOTDIR);
}

static void ipcfs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	reply_err(req, EPERM);
}

static void ipcfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			 fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	reply_err(req, EPERM);
}

static void ipcfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	reply_err(req, EPERM);
}

static void ipcfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv = { .f_bsize = 4096, .f_frsize = 4096, .f_namemax = 255 };
	reply_statfs(req, &sv);
}

static int get_xattr(fuse_req_t req, struct node *n, const char *name, GString *value)
{
	struct ipc_caller who = caller_of(req);
	if (n->ns_top)
		return ns_getxattr(n->ns, name, value);
	if (node_is_kind_dir(n))
		return n->inst->kind->dir_getxattr ?
			       IPC_CALL(n->inst, dir_getxattr, n->inst->state, &who, name, value) :
			       -ENODATA;
	if (n->is_dir || !n->inst->kind->getxattr)
		return -ENODATA;
	struct node_ref ref;
	int r = node_object(n, fuse_req_ctx(req)->pid, NODE_AS_CHECKED, &ref);
	if (r == 0)
		r = IPC_CALL(n->inst, getxattr, ref.object, name, value);
	node_ref_done(n, &ref);
	return r;
}

static bool is_object(const struct node *n)
{
	return !n->is_dir && !n->fixed;
}

static void ipcfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct node *n = node_get(ino);
	if (n && is_object(n) && strcmp(name, HOLDERS_XATTR) == 0) {
		holders_getxattr(req, n, size);
		return;
	}
	g_autoptr(GString) value = g_string_new(NULL);
	int r = n ? get_xattr(req, n, name, value) : -ENOENT;
	if (r < 0)
		reply_err(req, -r);
	else
		reply_xattr_bytes(req, size, value->str, value->len);
}

static int list_xattrs(fuse_req_t req, struct node *n, GString *out)
{
	struct ipc_caller who = caller_of(req);
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	int r = 0;
	if (n->ns_top) {
		r = ns_listxattr(n->ns, names);
	} else if (node_is_kind_dir(n) && n->inst->kind->dir_listxattr) {
		r = IPC_CALL(n->inst, dir_listxattr, n->inst->state, &who, names);
	} else if (!n->is_dir && n->inst->kind->listxattr) {
		struct node_ref ref;
		r = node_object(n, fuse_req_ctx(req)->pid, NODE_AS_CHECKED, &ref);
		if (r == 0)
			r = IPC_CALL(n->inst, listxattr, ref.object, names);
		node_ref_done(n, &ref);
	}
	if (is_object(n))
		g_ptr_array_add(names, g_strdup(HOLDERS_XATTR));
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
		reply_err(req, -r);
	else
		reply_xattr_bytes(req, size, names->str, names->len);
}

static int set_xattr(fuse_req_t req, struct node *n, const char *name, const char *value)
{
	struct ipc_caller who = caller_of(req);
	if (node_is_kind_dir(n))
		return n->inst->kind->dir_setxattr ? IPC_CALL(n->inst, dir_setxattr, n->inst->state, &who, name, value) : -ENOTSUP;
	if (n->is_dir || !n->inst->kind->setxattr)
		return -ENOTSUP;
	struct node_ref ref;
	int r = node_object(n, fuse_req_ctx(req)->pid, NODE_AS_CHECKED, &ref);
	if (r == 0)
		r = IPC_CALL(n->inst, setxattr, ref.object, name, value, &who);
	node_ref_done(n, &ref);
	return r;
}

/* 1 if n shows the attribute name (listxattr), 0 if not. */
static int has_xattr(fuse_req_t req, struct node *n, const char *name)
{
	g_autoptr(GString) names = g_string_new(NULL);
	int r = list_xattrs(req, n, names);
	if (r < 0)
		return r;
	for (const char *p = names->str; p < names->str + names->len; p += strlen(p) + 1)
		if (strcmp(p, name) == 0)
			return 1;
	return 0;
}

/* What a file does not let change: EPERM for an attribute it shows (its
 * facts are read-only), ENOTSUP for one it has not got. */
static int refusal(int r, int shown)
{
	return r == -ENOTSUP && shown > 0 ? -EPERM : r;
}

static void ipcfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			   size_t size, int flags)
{
	struct node *n = node_get(ino);
	/* Values are text; a NUL inside one is not. */
	g_autofree char *text = g_strndup(value, size);
	int shown = n ? has_xattr(req, n, name) : -ENOENT;
	int r = shown < 0 ? shown :
		strlen(text) != size ? -EINVAL :
		(flags & XATTR_CREATE) && shown ? -EEXIST :
		(flags & XATTR_REPLACE) && !shown ? -ENODATA :
		refusal(set_xattr(req, n, name, text), shown);
	reply_err(req, -r);
}

static void ipcfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct node *n = node_get(ino);
	struct ipc_caller who = caller_of(req);
	int r = !n ? -ENOENT :
		node_is_kind_dir(n) && n->inst->kind->dir_removexattr ? IPC_CALL(n->inst, dir_removexattr, n->inst->state, &who, name) :
							      -ENOTSUP;
	if (n && r == -ENOTSUP)
		r = refusal(r, has_xattr(req, n, name));
	reply_err(req, -r);
}

const struct fuse_lowlevel_ops ipcfs_handlers = {
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
	.read = files_read,
	.write = files_write,
	.flush = files_flush,
	.release = files_release,
	.fsync = files_fsync,
	.opendir = dirs_opendir,
	.readdir = dirs_readdir,
	.readdirplus = dirs_readdirplus,
	.releasedir = dirs_releasedir,
	.statfs = ipcfs_statfs,
	.setxattr = ipcfs_setxattr,
	.getxattr = ipcfs_getxattr,
	.listxattr = ipcfs_listxattr,
	.removexattr = ipcfs_removexattr,
	.create = ipcfs_create,
	.poll = files_poll,
	.lseek = files_lseek,
};
