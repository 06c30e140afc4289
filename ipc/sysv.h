/* ipc/sysv.h: what System V message queues, semaphore sets and shared
 * memory segments share: names made of keys, listing, stat, create,
 * remove, owner and mode, xattrs. Each kind says what differs in a
 * struct sysv_kind, as the kernel's ipc/util.c does with its ipc_ops. */
#pragma once

#include <sys/ipc.h>

#include "kind.h"

#define SYSV_MAX_COUNTERS 6

/* One object, as IPC_STAT shows it. */
struct sysv_stat {
	int id;
	key_t key;
	struct ipc_attr attr; /* owner, mode, size, times; attr.id is the id */
	long counters[SYSV_MAX_COUNTERS]; /* named by the kind's counter_names */
};

struct sysv_kind {
	const char *xattr_prefix;           /* "user.msg." */
	const char *const *counter_names;   /* xattr names after the prefix; NULL-ended */
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

/* The object name stands for: "0x" and eight hex digits, its key, or
 * "id.N" for an IPC_PRIVATE object. */
int sysv_find(const struct sysv_kind *k, const char *name, struct sysv_stat *st);
int sysv_list(const struct sysv_kind *k, GPtrArray *names);
int sysv_stat(const struct sysv_kind *k, const char *name, struct ipc_attr *attr);
int sysv_stat_id(const struct sysv_kind *k, int id, struct ipc_attr *attr);
int sysv_create(const struct sysv_kind *k, const char *name, mode_t mode,
		const struct ipc_caller *who);
int sysv_remove(const struct sysv_kind *k, const char *name);
int sysv_chmod(const struct sysv_kind *k, const char *name, mode_t mode);
int sysv_chown(const struct sysv_kind *k, const char *name, uid_t uid, gid_t gid);
int sysv_truncate(const struct sysv_kind *k, const char *name, off_t size);
int sysv_listxattr(const struct sysv_kind *k, const char *name, GPtrArray *attrs);
int sysv_getxattr(const struct sysv_kind *k, const char *name, const char *attr, GString *value);
int sysv_dir_listxattr(const struct sysv_kind *k, const struct ipc_caller *who, GPtrArray *attrs);
int sysv_dir_getxattr(const struct sysv_kind *k, const struct ipc_caller *who,
		      const char *attr, GString *value);
int sysv_dir_setxattr(const struct sysv_kind *k, const struct ipc_caller *who,
		      const char *attr, const char *value);
int sysv_dir_removexattr(const struct sysv_kind *k, const struct ipc_caller *who, const char *attr);
/* -errno of a failed System V call on an id, where EINVAL can only mean
 * the id no longer names an object: EIDRM, "identifier removed". */
long sysv_call_errno(void);

/* Each kind's setup and teardown: the pool of waiting calls, the
 * callers' settings. Run more than once, they do nothing more. */
int sysv_setup(void);
void sysv_teardown(void);

/* The struct ipc_kind functions that only pass the name on, for a kind
 * whose struct sysv_kind is SK; SYSV_NAMED_FIELDS(P) fills them in. */
#define SYSV_NAMED_OPS(P, SK)                                                              \
	static int P##_list(GPtrArray *names) { return sysv_list(&SK, names); }              \
	static int P##_stat(const char *name, struct ipc_attr *attr)                        \
	{ return sysv_stat(&SK, name, attr); }                                               \
	static int P##_create(const char *name, mode_t mode, const struct ipc_caller *who)  \
	{ return sysv_create(&SK, name, mode, who); }                                        \
	static int P##_remove(const char *name) { return sysv_remove(&SK, name); }           \
	static int P##_chmod(const char *name, mode_t mode) { return sysv_chmod(&SK, name, mode); } \
	static int P##_chown(const char *name, uid_t uid, gid_t gid)                        \
	{ return sysv_chown(&SK, name, uid, gid); }                                          \
	static int P##_truncate(const char *name, off_t size)                               \
	{ return sysv_truncate(&SK, name, size); }                                           \
	static int P##_listxattr(const char *name, GPtrArray *attrs)                        \
	{ return sysv_listxattr(&SK, name, attrs); }                                         \
	static int P##_getxattr(const char *name, const char *attr, GString *value)         \
	{ return sysv_getxattr(&SK, name, attr, value); }                                    \
	static int P##_dir_listxattr(const struct ipc_caller *who, GPtrArray *attrs)        \
	{ return sysv_dir_listxattr(&SK, who, attrs); }                                      \
	static int P##_dir_getxattr(const struct ipc_caller *who, const char *attr, GString *value) \
	{ return sysv_dir_getxattr(&SK, who, attr, value); }                                 \
	static int P##_dir_setxattr(const struct ipc_caller *who, const char *attr, const char *value) \
	{ return sysv_dir_setxattr(&SK, who, attr, value); }                                 \
	static int P##_dir_removexattr(const struct ipc_caller *who, const char *attr)      \
	{ return sysv_dir_removexattr(&SK, who, attr); }

#define SYSV_NAMED_FIELDS(P)                                                               \
	.list = P##_list, .stat = P##_stat, .create = P##_create, .unlink = P##_remove,     \
	.chmod = P##_chmod, .chown = P##_chown, .truncate = P##_truncate,                   \
	.listxattr = P##_listxattr, .getxattr = P##_getxattr,                                \
	.dir_listxattr = P##_dir_listxattr, .dir_getxattr = P##_dir_getxattr,                \
	.dir_setxattr = P##_dir_setxattr, .dir_removexattr = P##_dir_removexattr
