/* fs/fs.h: the pieces of the FUSE side and what they share. */
#pragma once

#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 18)
#include <fuse_lowlevel.h>
#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "kind.h"

/* fs/nodes.c: inode numbers <-> directories and named objects. */
struct node {
	fuse_ino_t ino;
	struct node *parent;
	char *name;
	/* The kind and namespace of an object, or of a kind directory's
	 * objects; every call of the kind goes through IPC_CALL with it. */
	const struct ipc_instance *inst;
	bool is_dir;
	GHashTable *subdirs;  /* directories: name -> struct node, fixed at start */
	GHashTable *objects;  /* a kind's directory: name -> struct node, looked up */
	GHashTable *files;    /* directories: name -> struct node, fixed files */
	bool fixed;           /* a fixed file: never forgotten */
	bool ns_root;         /* ns/ */
	bool under_ns;        /* ns/ and every directory below it: root's, short-lived */
	bool ns_top;          /* ns/N: counts its lookups, freed once forgotten and gone */
	struct ns_entry *ns;  /* below ns/: the namespace's tree it belongs to, objects too */
	uint64_t nlookup;
	uint64_t object_id;   /* the identity of the object the node stands for */
	/* Its attributes as last told to the kernel: what a getattr of a node
	 * whose object lost its name gets (with nlink 0), as an fstat of an
	 * O_PATH descriptor of a removed file gets from the kernel. */
	struct ipc_attr last_attr;
	/* The reference to that object while files are open on it: theirs,
	 * whatever becomes of the name. A node the kernel merely caches holds
	 * none, so that it never keeps a removed object (and its memory)
	 * alive; each request on it takes a reference of its own. */
	struct ipc_object *object;
	unsigned open_files;
	unsigned open_writers; /* opens for writing, of a kind whose writes wait */
	int backing_id;       /* passthrough backing file, 0: none */
	unsigned backing_refs;
};

/* A reference to a node's object for one request: the node's own while
 * files are open on it, else one taken for the request (owned). */
struct node_ref {
	struct ipc_object *object;
	bool owned;
	bool found;   /* taken by name just now: attr is its stat */
	struct ipc_attr attr;
};
/* What a request on a node does where the node's name holds another
 * object now, or none. A node with no open file stands for nothing but its
 * name: a request that only looks (stat) or makes its own checks (open)
 * takes the new object as the node's; one the kernel checked against the
 * node's object (setattr, xattrs) must act on that one, or get ESTALE, on
 * which the kernel looks the name up again and retries. Where the name is
 * gone, a stat or an open gets -ENOENT (to show the attributes last seen;
 * to create, if the caller asked to), the others what node_stale says. */
enum node_use { NODE_AS_CHECKED, NODE_TO_OPEN, NODE_TO_STAT };

/* The tree of the kinds of instances (an array, as ipc_instances_new
 * makes it). */
struct node *nodes_build_tree(const struct ipc_instance *instances);
/* The instances the tree was built of. */
const struct ipc_instance *nodes_instances(void);
/* ns/NAME, with the kind directories of instances below it, for e. */
struct node *nodes_add_ns_tree(struct node *ns_root, const char *name,
			       const struct ipc_instance *instances, struct ns_entry *e);
/* Frees top's name for another node; top lives on for whoever has its
 * inode number. */
void nodes_detach_subtree(struct node *top);
/* Forgets top and every node below it. */
void nodes_remove_subtree(struct node *top);
void nodes_free_tree(void);
struct node *node_get(fuse_ino_t ino);
struct node *node_subdir(struct node *dir, const char *name);
/* A file fixed in the tree (the root's "status"), or NULL. */
struct node *node_fixed_file(struct node *dir, const char *name);
bool node_is_kind_dir(const struct node *n);
/* ns/ or anything below it: root's alone. */
bool node_in_ns(const struct node *n);
/* How long the kernel may keep a node's name (entry) and attributes:
 * objects not at all, so what other programs do shows at once. The
 * directories, fixed from start to unmount, keep their names for a day,
 * which spares every path walk a lookup per directory, and their
 * attributes for a second: a stat of the mount point then still finds
 * out within a second that the daemon has died (ENOTCONN). */
double node_entry_seconds(const struct node *n);
double node_attr_seconds(const struct node *n);
/* The object node for name below dir, made if new, if the name now holds
 * another object than its node knew, or if the node is open for a write
 * that may wait; one more lookup counted. */
struct node *node_lookup_object(struct node *dir, const char *name, uint64_t object_id);
/* The object n stands for, or an error as enum node_use says. The kernel
 * retries an ESTALE once: a second one in a row for one caller (the
 * thread, as the request names it) and name is answered ENOENT, what a
 * name gone gives, since the kernel would pass ESTALE on to the caller. */
int node_object(struct node *n, pid_t caller, enum node_use use, struct node_ref *ref);
/* ESTALE for a request on n whose object is gone or not the one checked,
 * or ENOENT where the same caller got ESTALE for that name just before. */
int node_stale(const struct node *n, pid_t caller);
/* The object name holds now in instance in, and its attributes. */
int object_find(const struct ipc_instance *in, const char *name, struct ipc_object **out,
		struct ipc_attr *attr);
void node_ref_done(struct node *n, struct node_ref *ref);
/* A file opened on ref's object: the node holds it while any is open. */
void node_file_opened(struct node *n, struct node_ref *ref);
void node_file_closed(struct node *n);
void node_forget(struct node *node, uint64_t count);
/* Appends the inode number of each node of instance in that stands for
 * object_id. */
void nodes_of_object(const struct ipc_instance *in, uint64_t object_id, GArray *inos);

/* fs/caller.c: whether the caller's thread tid is blocked in an open with
 * O_CREAT, which FUSE takes out of an OPEN's flags; the mode it gives,
 * after its umask. */
bool caller_open_creates(pid_t tid, mode_t *mode);
/* Whether a signal that tid does not block is pending for it or for its
 * process. */
bool caller_signalled(pid_t tid);

/* fs/park.c: requests that must wait for a descriptor to become ready. */
enum park_result {
	PARK_DONE,  /* the request was answered */
	PARK_AGAIN, /* still not possible; keep waiting */
};
struct parked;
typedef enum park_result (*park_retry_fn)(struct parked *p, void *data);
typedef void (*park_cancel_fn)(struct parked *p, void *data, int err);

int park_init(void);
void park_shutdown(void);
/* Waits for fd to report events, then calls retry; cancel answers it with
 * err when interrupted (EINTR) or when the daemon stops (ENODEV). A NULL
 * req parks no request: a poll notification waits the same way. key names
 * the object: its waiters are retried in arrival order, whichever of its
 * descriptors they wait on. Several open files may wait on one fd; owner
 * tells whose a waiter is. */
int park_request(fuse_req_t req, const void *owner, const char *key, int fd, short events,
		 park_retry_fn retry, park_cancel_fn cancel, void *data);
/* Cancels with err the waiters on fd that owner parked (every one for a
 * NULL owner): an open file's, before it closes. */
void park_drop(int fd, const void *owner, int err);
/* Cancels with err every waiter owner parked, on any descriptor. */
void park_drop_owner(const void *owner, int err);
/* Retries key's waiters now, on this thread: a read or write through the
 * mount changed the object. */
void park_wake(const char *key);
void park_describe(GString *out); /* "parked requests: N" ... */

/* fs/files.c: open files and their I/O. */
void files_init(struct fuse_conn_info *conn);
void files_shutdown(void); /* closes what is still open, as the daemon stops */
/* The namespace of the count instances from instances is gone: what
 * their open files wait for is answered ENOENT. */
void files_gone(const struct ipc_instance *instances, size_t count);
/* Opens ref's object, the one n stands for. */
int file_open(fuse_req_t req, struct node *n, struct node_ref *ref, struct fuse_file_info *fi);
void file_discard(fuse_req_t req, struct fuse_file_info *fi);
void files_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void files_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		 struct fuse_file_info *fi);
void files_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph);
void files_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi);
void files_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void files_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void files_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);

/* fs/dirs.c: directory listings. */
void dirs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void dirs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void dirs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi);
void dirs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);

/* fs/backing.c: FUSE passthrough of objects' own files. */
void backing_init(struct fuse_conn_info *conn, bool refused);
void backing_probe(int fuse_fd);
/* The backing id for an open of n whose descriptor is fd, shared by n's
 * opens; 0: none, and the open goes through the daemon. */
int backing_get(fuse_req_t req, struct node *n, int fd);
void backing_put(fuse_req_t req, struct node *n);
void backing_describe(GString *out); /* "passthrough: on (why)" */

/* fs/stats.c: requests served and refused, per kind. Every answer of fs/
 * goes through one of the reply_ functions, which count it; they are
 * libfuse's fuse_reply_ functions otherwise. */
void stats_init(void);
void stats_shutdown(void);
void stats_request(fuse_req_t req, fuse_ino_t ino); /* each request, as it starts */
/* The table of kinds: objects, those held (by scan, which is done; NULL:
 * unknown), requests served and refused. */
void stats_describe(GString *out, const struct ipc_holders *scan);
int reply_err(fuse_req_t req, int err);
void reply_none(fuse_req_t req);
int reply_entry(fuse_req_t req, const struct fuse_entry_param *e);
int reply_create(fuse_req_t req, const struct fuse_entry_param *e, const struct fuse_file_info *fi);
int reply_attr(fuse_req_t req, const struct stat *attr, double attr_timeout);
int reply_open(fuse_req_t req, const struct fuse_file_info *fi);
int reply_write(fuse_req_t req, size_t count);
int reply_buf(fuse_req_t req, const char *buf, size_t size);
int reply_statfs(fuse_req_t req, const struct statvfs *stbuf);
int reply_xattr(fuse_req_t req, size_t count);
int reply_poll(fuse_req_t req, unsigned revents);
int reply_lseek(fuse_req_t req, off_t off);
/* An xattr's value or a list of names, answered as the size asked allows. */
void reply_xattr_bytes(fuse_req_t req, size_t size, const char *bytes, size_t len);

/* fs/holders.c: who holds an object: user.ipc.holders, and the count of
 * held objects in status. */
#define HOLDERS_XATTR "user.ipc.holders"
void holders_init(dev_t mount_device); /* 0: the mount's device is unknown */
/* Answers a getxattr of HOLDERS_XATTR on object node n, once a scan of
 * /proc is done; the request waits parked for it. */
void holders_getxattr(fuse_req_t req, struct node *n, size_t size);
/* A scan for the holders of every object of the instances (an array
 * ending with a NULL kind), as they are now. */
int holders_scan_all(const struct ipc_instance *instances, struct ipc_holders **out);
/* How many objects of in a scan that is done found held (an object made
 * after the scan began counts as not held); or an error. */
int holders_count(const struct ipc_holders *scan, const struct ipc_instance *in);

/* fs/ns.c: ns/, the other IPC namespaces of the host. */
struct ns_entry;
void ns_init(void);
void ns_shutdown(void);
/* ns/name, one more lookup counted; -ENOENT if no such namespace lives. */
int ns_lookup(struct node *ns_root, const char *name, struct node **out);
int ns_list(GPtrArray *names); /* the names of ns/ now */
bool ns_gone(const struct ns_entry *e);
void ns_forgotten(struct ns_entry *e); /* the kernel forgot ns/N */
/* An object node below ns/N made, and forgotten by the kernel. */
void ns_object_node_made(struct ns_entry *e);
void ns_object_node_forgotten(struct ns_entry *e);
int ns_listxattr(struct ns_entry *e, GPtrArray *names);
int ns_getxattr(struct ns_entry *e, const char *name, GString *value);

/* fs/transport.c: FUSE over io_uring, or /dev/fuse. */
/* An option: 0 taken, 1 not ours (or libfuse's too), -EINVAL bad. */
int transport_option(const char *arg);
int transport_add_options(struct fuse_args *args); /* what libfuse is to be told */
void transport_init(struct fuse_conn_info *conn);
void transport_request(fuse_req_t req); /* each request, as it starts */
int transport_queue(fuse_req_t req);    /* the ring queue req came on, or -1 */
unsigned transport_queue_count(void);
unsigned transport_wait_limit(void);    /* parked requests one ring queue may hold */
void transport_describe(GString *out);

/* fs/requests.c: the daemon lock (the locking rule is written there) and
 * the request table that takes it. */
extern const struct fuse_lowlevel_ops ipcfs_ops;
/* The main thread holds the lock but while its loop polls. */
void requests_lock_main_loop(GMainContext *context);
void requests_unlock_main_loop(GMainContext *context);
void requests_stop(void); /* from now on, requests are answered ENODEV */

/* fs/status.c: the read-only file "status" at the root of the mount. */
#define STATUS_NAME "status"
#define NS_NAME "ns"
extern const struct ipc_instance status_instance;

/* fs/ops.c: the request table. */
struct fs_config {
	bool no_passthrough;
	int fuse_fd; /* set once mounted */
	struct fuse_session *se;
};
/* The kernel lets writes to one inode run side by side only inside its
 * size; otherwise each holds the inode's lock for as long as it is
 * unanswered, and a write that waits (for room in a queue, for a
 * semaphore's token) would hold up every other write to that inode, even
 * the post it waits for. While a file of a kind whose writes wait is open
 * for writing, its inode's size is at least this: more than one write
 * can carry. */
#define WAITING_WRITE_ROOM (1 << 20)
/* The handlers, each called holding the daemon lock. */
extern const struct fuse_lowlevel_ops ipcfs_handlers;
void ipcfs_init(void *userdata, struct fuse_conn_info *conn);
/* The node and attributes of name in dir; for an object, one more lookup
 * counted, as a reply_entry needs. */
int ops_lookup(struct node *dir, const char *name, struct node **out, struct stat *st);
void ops_start(void); /* once, at mount: the directories' times */
