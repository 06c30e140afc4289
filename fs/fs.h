/* fs/fs.h: the pieces of the FUSE side and what they share. */
#pragma once

#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 17)
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
	const struct ipc_kind *kind; /* the kind of an object, or of a directory's objects */
	bool is_dir;
	GHashTable *subdirs;  /* directories: name -> struct node, fixed at start */
	GHashTable *objects;  /* a kind's directory: name -> struct node, looked up */
	uint64_t nlookup;
};

struct node *nodes_build_tree(const struct ipc_kind *const *kinds);
void nodes_free_tree(void);
struct node *node_get(fuse_ino_t ino);
struct node *node_subdir(struct node *dir, const char *name);
/* The object node for name below dir, made if new; one more lookup counted. */
struct node *node_lookup_object(struct node *dir, const char *name);
void node_forget(struct node *node, uint64_t count);
size_t nodes_count_objects(void);

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
 * req parks no request: a poll notification waits the same way. */
int park_request(fuse_req_t req, int fd, short events, park_retry_fn retry,
		 park_cancel_fn cancel, void *data);
/* Drops every waiter on fd, cancelling each with err, before fd closes. */
void park_drop_fd(int fd, int err);
fuse_req_t parked_req(struct parked *p);
size_t park_count(void);

/* fs/ops.c */
extern const struct fuse_lowlevel_ops ipcfs_ops;
void ops_set_session(struct fuse_session *se);
