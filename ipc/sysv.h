/* ipc/sysv.h: what System V message queues, semaphore sets and shared
 * memory segments share: names made of keys, listing, stat, create,
 * remove, owner and mode, xattrs. Each kind says what differs in a
 * struct sysv_kind, as the kernel's ipc/util.c does with its ipc_ops. */
#pragma once

#include <sys/ipc.h>

#include "kind.h"

#define SYSV_MAX_COUNTERS 12

/* One object, as IPC_STAT shows it. */
struct sysv_stat {
	int id;
	key_t key;
	struct ipc_attr attr; /* owner, mode, size, times; attr.id is the id */
	uid_t cuid;           /* its creator's */
	gid_t cgid;
	unsigned long mode_flags; /* the perm mode above the permission bits (SHM_DEST ...) */
	long counters[SYSV_MAX_COUNTERS]; /* named by the kind's counter_names */
};

struct sysv_kind {
	const char *xattr_prefix;           /* "user.msg." */
	const char *const *counter_names;   /* xattr names after the prefix; NULL-ended */
	/* More xattrs, after the prefix, whose values are text the kind
	 * makes from the object as last seen (text_xattr); may be NULL. */
	const char *const *text_names;
	int (*text_xattr)(const struct sysv_stat *st, const char *name, GString *value);
	/* The number a create takes (a set's semaphores, a segment's size):
	 * per caller from the directory's xattr create_xattr, else the mount
	 * option create_size, else create_default. NULL where there is none. */
	const char *create_xattr;
	const struct ipc_option *create_size;
	long create_default;
	/* Checks what follows '@' in a name, for a kind whose names may have
	 * it (the type of a queue's messages); NULL: no '@' in names. */
	int (*check_suffix)(const char *suffix);
	/* msgget/semget/shmget(key, flags) with size for a create. */
	int (*get)(key_t key, int flags, long size);
	/* IPC_STAT of an id, or *_STAT_ANY of an index (by_index); the id. */
	int (*stat)(int id_or_index, bool by_index, struct sysv_stat *st);
	int (*max_index)(void); /* the highest index in use, from *_INFO */
	/* IPC_SET: (uid_t)-1, (gid_t)-1 and (mode_t)-1 leave those as they are. */
	int (*set_owner)(int id, uid_t uid, gid_t gid, mode_t mode);
	int (*remove)(int id);
};

/* One kind in one IPC namespace. */
struct ipc_state {
	const struct sysv_kind *kind;
	GHashTable *settings; /* "xattr:uid" -> long, what callers set for creates */
};

/* A reference to one object: its id, which carries the kernel's sequence
 * number, so an id reused for another object is another id. */
struct ipc_object {
	const struct sysv_kind *kind;
	int id;
	char *suffix;          /* what followed '@' in the name it was found by, or NULL */
	struct sysv_stat last; /* as last seen: what a stat shows once it is gone */
};

int sysv_list(struct ipc_state *st, GPtrArray *names);
/* The object name stands for: "0x" and eight hex digits, its key, or
 * "id.N" for an IPC_PRIVATE object. */
int sysv_find(struct ipc_state *st, const char *name, struct ipc_object **out);
int sysv_create(struct ipc_state *st, const char *name, mode_t mode,
		const struct ipc_caller *who, struct ipc_object **out);
/* The object as it is now; false, and as it was last seen, once it is
 * gone (nlink 0). */
bool sysv_object_stat(struct ipc_object *o, struct sysv_stat *st);
int sysv_dir_listxattr(struct ipc_state *st, const struct ipc_caller *who, GPtrArray *attrs);
int sysv_dir_getxattr(struct ipc_state *st, const struct ipc_caller *who,
		      const char *attr, GString *value);
int sysv_dir_setxattr(struct ipc_state *st, const struct ipc_caller *who,
		      const char *attr, const char *value);
int sysv_dir_removexattr(struct ipc_state *st, const struct ipc_caller *who, const char *attr);

/* The operations of struct ipc_kind, the same for the three kinds. */
void sysv_release(struct ipc_object *o);
int sysv_stat(struct ipc_object *o, struct ipc_attr *attr);
int sysv_unlink(struct ipc_object *o, const char *name);
int sysv_chmod(struct ipc_object *o, mode_t mode);
int sysv_chown(struct ipc_object *o, uid_t uid, gid_t gid);
int sysv_truncate(struct ipc_object *o, off_t size);
int sysv_listxattr(struct ipc_object *o, GPtrArray *attrs);
int sysv_getxattr(struct ipc_object *o, const char *attr, GString *value);

/* The error r of a System V call on id: -EINVAL, where the kernel gives
 * it because id names no object any more, as -EIDRM, "identifier
 * removed"; every other error, EINVAL for a bad argument too, as it is. */
long sysv_errno(const struct sysv_kind *k, int id, long r);
/* The same, for the errno of a call that just failed. */
long sysv_call_errno(const struct sysv_kind *k, int id);

/* Once for the daemon: the pool of waiting calls. */
int sysv_start(void);
void sysv_stop(void);
/* A kind k in one namespace: the callers' settings. */
int sysv_setup(const struct sysv_kind *k, struct ipc_state **out);
void sysv_teardown(struct ipc_state *st);

/* The setup of a kind whose struct sysv_kind is SK; SYSV_FIELDS(P) fills
 * in every struct ipc_kind field the three kinds share. */
#define SYSV_KIND_OPS(P, SK)                                                    \
	static int P##_setup(struct ipc_space *space, struct ipc_state **out)     \
	{                                                                         \
		return sysv_setup(&SK, out);                                      \
	}

#define SYSV_FIELDS(P)                                                                     \
	.start = sysv_start, .stop = sysv_stop, .setup = P##_setup,                           \
	.teardown = sysv_teardown, .list = sysv_list, .find = sysv_find,                      \
	.create = sysv_create, .release = sysv_release, .stat = sysv_stat,                    \
	.unlink = sysv_unlink, .chmod = sysv_chmod, .chown = sysv_chown,                      \
	.truncate = sysv_truncate, .listxattr = sysv_listxattr, .getxattr = sysv_getxattr,    \
	.dir_listxattr = sysv_dir_listxattr, .dir_getxattr = sysv_dir_getxattr,               \
	.dir_setxattr = sysv_dir_setxattr, .dir_removexattr = sysv_dir_removexattr
