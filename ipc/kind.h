/* ipc/kind.h: what the file system side may ask of one kind of IPC object.
 *
 * Every function returns 0 or a count on success and a negative errno on
 * failure. None of them blocks: where the real call would wait, it returns
 * -EAGAIN and wait_fd() names the descriptor whose readiness is worth a
 * retry. Optional operations are NULL; the caller answers for them. */
#pragma once

#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "holders.h"
#include "space.h"

/* The process a request comes from, as the kernel reported it. */
struct ipc_caller {
	uid_t uid;
	gid_t gid;
	pid_t pid;
};

/* The facts about one object that a stat shows. */
struct ipc_attr {
	uid_t uid;
	gid_t gid;
	mode_t mode; /* permission bits only */
	off_t size;
	blkcnt_t blocks; /* 512-byte blocks the object takes, as du counts them */
	struct timespec atime, mtime, ctime;
	nlink_t nlink; /* 1 while a name holds the object, 0 once none does */
	uint64_t id;   /* the object's identity: the same id, the same object */
};

/* A number a kind takes as a mount option, "-o NAME=VALUE". */
struct ipc_option {
	const char *name;
	const char *help;
	long *value; /* 0 until given */
	long min, max;
};

/* A reference to one object, taken once by name (find, create) and given
 * to every later operation on it: it reaches the object it was taken on
 * whatever becomes of the name since, and holds that object (a descriptor,
 * a System V id with its sequence number) until released. Each kind
 * defines the struct for itself. */
struct ipc_object;

/* One open object; each kind defines the struct for itself. */
struct ipc_handle;

/* What a kind keeps for one IPC namespace (struct ipc_space): the
 * directory its objects are reached through, what callers set on it.
 * Each kind defines the struct for itself; nothing of a kind is kept
 * outside it but the mount's options. */
struct ipc_state;

/* What one read or write has done so far, for a kind whose operation
 * completes in steps (a wait for several tokens). Zero when the request
 * starts; the same one comes back with every retry of that request, and
 * to abandon() when the request is given up. */
struct ipc_progress {
	long done;
	bool waiting;  /* the request has been told to wait at least once */
	bool may_wait; /* set by the caller: false for O_NONBLOCK */
	/* Set by the caller: the request is a later piece of one call the
	 * kernel cut in pieces (a readv of more buffers than a request
	 * carries). A read of messages then returns only the rest of the
	 * message the call began, and 0 where that one is done: a call never
	 * returns parts of two messages. */
	bool continues;
	/* A descriptor of this request's own, readable when it is worth a
	 * retry, for a kind that waits per request rather than per object
	 * (wait_fd); set by the kind, -1 otherwise. */
	int own_fd;
	void *state; /* the kind's, for this request */
};

struct ipc_kind {
	const char *dir;         /* path below the mount root: "mq", "sysv/msg" */
	const char *description; /* one line for --help and logs */
	const struct ipc_option *options; /* ends with a NULL name; may be NULL */
	/* Messages: each read and write is one whole message, no offsets.
	 * Otherwise a file of bytes, read and written at offsets. */
	bool messages;
	/* A read or write may wait (for a message, for room, for a token). */
	bool waits;

	/* Once for the daemon, before any setup, and after every teardown. */
	int (*start)(void);
	void (*stop)(void);
	/* The kind in one namespace, set up with the calling thread in it.
	 * Objects, handles and what they reach hold on to their state: it is
	 * torn down only once none is left. */
	int (*setup)(struct ipc_space *space, struct ipc_state **out);
	void (*teardown)(struct ipc_state *st);
	/* The namespace has no process left: close what would keep it (a
	 * mount of it, a directory of its /dev/shm). Nothing but release,
	 * close and teardown is asked of the state after; NULL: nothing to
	 * close. */
	void (*let_go)(struct ipc_state *st);

	int (*list)(struct ipc_state *st, GPtrArray *names); /* appends g_strdup'd names */
	/* The object name holds now, as a new reference; -ENOENT if none. */
	int (*find)(struct ipc_state *st, const char *name, struct ipc_object **out);
	/* Makes the object, owned by who, and a reference to it; -EEXIST if
	 * the name is taken. */
	int (*create)(struct ipc_state *st, const char *name, mode_t mode,
		      const struct ipc_caller *who, struct ipc_object **out);
	void (*release)(struct ipc_object *o);

	/* What follows acts on the object of the reference, never on another
	 * that has its name now. */
	int (*stat)(struct ipc_object *o, struct ipc_attr *attr);
	/* Removes name if it still holds o; -ENOENT if it holds another. */
	int (*unlink)(struct ipc_object *o, const char *name);
	int (*chmod)(struct ipc_object *o, mode_t mode);
	int (*chown)(struct ipc_object *o, uid_t uid, gid_t gid); /* -1: unchanged */
	/* Also O_TRUNC, with size 0, once the open it belongs to succeeded. */
	int (*truncate)(struct ipc_object *o, off_t size);
	int (*set_times)(struct ipc_object *o, const struct timespec times[2]);
	/* Extended attributes, values as text. */
	int (*listxattr)(struct ipc_object *o, GPtrArray *attrs);
	int (*getxattr)(struct ipc_object *o, const char *attr, GString *value);
	int (*setxattr)(struct ipc_object *o, const char *attr, const char *value,
			const struct ipc_caller *who);
	/* The file the object is, as a holder's descriptors and mappings show
	 * it in /proc; NULL for a kind nobody holds open (System V queues
	 * and semaphore sets). */
	int (*file_id)(struct ipc_object *o, struct ipc_file_id *id);

	/* Opens the object (O_TRUNC is truncate's); the handle lives on its own,
	 * whatever becomes of the reference. */
	int (*open)(struct ipc_object *o, int flags, struct ipc_handle **out);
	ssize_t (*read)(struct ipc_handle *h, void *buf, size_t len, off_t offset,
			struct ipc_progress *progress);
	ssize_t (*write)(struct ipc_handle *h, const void *buf, size_t len, off_t offset,
			 struct ipc_progress *progress);
	/* Gives up a request that failed with err or is interrupted: undoes
	 * what it had done and returns err; or, where the kernel had already
	 * completed it, returns that result, which is answered instead. */
	ssize_t (*abandon)(struct ipc_handle *h, void *buf, size_t len,
			   struct ipc_progress *progress, ssize_t err);
	int (*poll)(struct ipc_handle *h, short *revents); /* POLLIN/POLLOUT now */
	/* The fd whose readiness for *events is worth a retry of a read (or a
	 * write) that returned -EAGAIN; <0 where there is none. */
	int (*wait_fd)(struct ipc_handle *h, bool for_write, short *events);
	/* For a kind without wait_fd: a descriptor, kept by the handle, that
	 * becomes readable when poll() is worth asking again; <0: none. */
	int (*poll_fd)(struct ipc_handle *h);
	void (*close)(struct ipc_handle *h);
	/* A descriptor of the object's own file, for the kernel to serve
	 * read, write and mmap from directly; <0 where there is none. */
	int (*backing_fd)(struct ipc_handle *h);

	/* Extended attributes of the kind's directory, per caller. */
	int (*dir_listxattr)(struct ipc_state *st, const struct ipc_caller *who, GPtrArray *attrs);
	int (*dir_getxattr)(struct ipc_state *st, const struct ipc_caller *who, const char *attr,
			    GString *value);
	int (*dir_setxattr)(struct ipc_state *st, const struct ipc_caller *who, const char *attr,
			    const char *value);
	int (*dir_removexattr)(struct ipc_state *st, const struct ipc_caller *who,
			       const char *attr);
};

/* One kind in one namespace: what one directory of the tree shows. */
struct ipc_instance {
	const struct ipc_kind *kind;
	struct ipc_space *space; /* NULL: the daemon's own */
	struct ipc_state *state;
	bool gone; /* its namespace is: every call but release and close is ENOENT */
};

/* Calls op of in's kind, with the arguments given, on a thread that is in
 * in's namespace for the call: every call that may reach the kernel's IPC
 * objects goes through here. A negative errno if the namespace has no
 * process left. */
#define IPC_CALL(in, op, ...)                                            \
	({                                                                \
		struct ipc_visit ipc_visit_ = { .before = ipc_space_current(),  \
						.before_entered = ipc_space_entered() }; \
		long ipc_r_ = (in)->gone ? -ENOENT :                      \
			      ipc_space_enter((in)->space, &ipc_visit_);  \
		if (ipc_r_ == 0)                                          \
			ipc_r_ = (in)->kind->op(__VA_ARGS__);             \
		ipc_space_leave(&ipc_visit_);                             \
		ipc_r_;                                                   \
	})
/* The same for release, close and abandon, which must be done however
 * the namespace is, gone or not: where the thread could not enter it,
 * they reach no IPC object of the kernel's (ipc_space_entered() says
 * so, and the pool of waiting calls refuses to start one). */
#define IPC_CALL_ALWAYS(in, op, ...)                                     \
	({                                                                \
		struct ipc_visit ipc_visit_;                              \
		ipc_space_enter((in)->space, &ipc_visit_);                \
		long ipc_r_ = (long)(in)->kind->op(__VA_ARGS__);          \
		ipc_space_leave(&ipc_visit_);                             \
		ipc_r_;                                                   \
	})
#define IPC_CALL_VOID(in, op, ...)                                       \
	do {                                                              \
		struct ipc_visit ipc_visit_;                              \
		ipc_space_enter((in)->space, &ipc_visit_);                \
		(in)->kind->op(__VA_ARGS__);                              \
		ipc_space_leave(&ipc_visit_);                             \
	} while (0)

/* ipc/kinds.c: the table of kinds. */
const struct ipc_kind *const *ipc_kinds(void);
int ipc_kinds_start(void);
void ipc_kinds_stop(void);
/* Every kind of the table set up in space, in the table's order: an
 * array of instances, as many as kinds. */
int ipc_instances_new(struct ipc_space *space, struct ipc_instance **out);
void ipc_instances_free(struct ipc_instance *all);
/* Their namespace has no process left: each lets go of it. */
void ipc_instances_let_go(struct ipc_instance *all);
/* Sets a kind's "-o NAME=VALUE" option; -ENOENT if no kind takes NAME. */
int ipc_kinds_set_option(const char *name, const char *value);
void ipc_kinds_print_options(FILE *out);

/* ipc/guard.c: calls fn(arg); -EUCLEAN if it touched a mapping whose
 * file was cut short (SIGBUS) instead of crashing. */
void ipc_guard_setup(void);
int ipc_guard_call(int (*fn)(void *), void *arg);

/* ipc/leftover.c: the unread rest of messages longer than a reader's
 * buffer, for the next reads of the same open file. Zero-initialized. */
struct ipc_leftover {
	GQueue pieces;
};
/* Keeps len bytes of data (g_malloc'd, now owned) from offset on. */
void ipc_leftover_push(struct ipc_leftover *l, void *data, size_t offset, size_t len);
bool ipc_leftover_any(const struct ipc_leftover *l);
/* Up to len bytes of the oldest message's rest. */
size_t ipc_leftover_take(struct ipc_leftover *l, void *buf, size_t len);
void ipc_leftover_clear(struct ipc_leftover *l);

/* ipc/names.c: checks and numbers shared by the kinds. */
int ipc_check_name(const char *name, size_t max_len);
int ipc_parse_long(const char *text, long min, long max, long *out);
