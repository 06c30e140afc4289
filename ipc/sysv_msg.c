/* System V message queues: sysv/msg/KEY.
 *
 * One write() is one msgsnd, one read() one msgrcv. Messages are sent with
 * type 1 and any type is received, unless the file is opened by a name
 * with a suffix: KEY@N sends type N and receives only type N, KEY@-N
 * receives the lowest type up to N, KEY@~N any type but N. A read or
 * write that must wait runs blocked in the real call on a thread of the
 * pool in blocking.c, where the kernel orders it among every other
 * waiter; giving it up stops that call before it took or sent anything. */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/msg.h>

#include "blocking.h"
#include "sysv.h"

/* Where msgmax and a queue's size give no bound (both were lowered after
 * a message was sent), the receive buffer doubles up to this. */
#define RECEIVE_MAX (64 << 20)

struct message {
	long type;
	char text[];
};

struct ipc_handle {
	int id;
	long send_type;   /* 0: may not send (a receive-only suffix) */
	long receive_type;
	int receive_flags;
	size_t size;      /* the receive buffer's text size */
	struct ipc_leftover rest;
	/* For poll: a thread blocked in a msgrcv with no room, which returns
	 * E2BIG without taking anything once a message this file would read
	 * is there. A zero-byte message fits, and is taken: it is then the
	 * file's next read, or sent back if the file is closed unread. */
	struct msg_wait *watch;
	bool watching;
	bool empty_taken;
	long empty_type;
};

/* One read or write that waits, carried by a pool thread. */
struct msg_wait {
	int id;
	bool is_write;
	long type;
	int flags;
	size_t size;
	struct message *msg;
	struct ipc_blocking *call;
};

/* As msqid_ds names them; the times in seconds since the epoch, 0 for
 * never (stime is also the file's mtime, rtime its atime, ctime its
 * ctime). */
static const char *const counter_names[] = { "qnum",  "cbytes", "qbytes", "lspid", "lrpid",
					     "stime", "rtime",  "ctime",  NULL };

static long read_msgmax(void)
{
	g_autofree char *text = NULL;
	if (!g_file_get_contents("/proc/sys/kernel/msgmax", &text, NULL, NULL))
		return 8192;
	return MAX(g_ascii_strtoll(text, NULL, 10), 1);
}

static int msg_get(key_t key, int flags, long size)
{
	int id = msgget(key, flags);
	return id < 0 ? -errno : id;
}

static void stat_from_ds(const struct msqid_ds *ds, int id, struct sysv_stat *st)
{
	*st = (struct sysv_stat){
		.id = id,
		.key = ds->msg_perm.__key,
		.attr = {
			.uid = ds->msg_perm.uid,
			.gid = ds->msg_perm.gid,
			.mode = ds->msg_perm.mode & 0777,
			.size = ds->__msg_cbytes,
			.atime = { ds->msg_rtime, 0 },
			.mtime = { ds->msg_stime, 0 },
			.ctime = { ds->msg_ctime, 0 },
			.nlink = 1,
			.id = (uint64_t)id,
		},
		.cuid = ds->msg_perm.cuid,
		.cgid = ds->msg_perm.cgid,
		.mode_flags = ds->msg_perm.mode & ~0777u,
		.counters = { ds->msg_qnum, ds->__msg_cbytes, ds->msg_qbytes, ds->msg_lspid,
			      ds->msg_lrpid, ds->msg_stime, ds->msg_rtime, ds->msg_ctime },
	};
}

static int msg_stat(int id_or_index, bool by_index, struct sysv_stat *st)
{
	struct msqid_ds ds;
	int r = msgctl(id_or_index, by_index ? MSG_STAT_ANY : IPC_STAT, &ds);
	if (r < 0)
		return -errno;
	stat_from_ds(&ds, by_index ? r : id_or_index, st);
	return 0;
}

static int msg_max_index(void)
{
	struct msginfo info;
	int r = msgctl(0, MSG_INFO, (struct msqid_ds *)&info);
	return r < 0 ? -errno : r;
}

static int msg_set_owner(int id, uid_t uid, gid_t gid, mode_t mode)
{
	struct msqid_ds ds;
	if (msgctl(id, IPC_STAT, &ds) < 0)
		return -errno;
	if (uid != (uid_t)-1)
		ds.msg_perm.uid = uid;
	if (gid != (gid_t)-1)
		ds.msg_perm.gid = gid;
	if (mode != (mode_t)-1)
		ds.msg_perm.mode = mode & 0777;
	return msgctl(id, IPC_SET, &ds) < 0 ? -errno : 0;
}

static int msg_remove(int id)
{
	return msgctl(id, IPC_RMID, NULL) < 0 ? -errno : 0;
}

/* What follows '@': N, -N or ~N, N a positive long. */
static int parse_type(const char *suffix, long *type, int *flags, bool *may_send)
{
	const char *number = suffix;
	*flags = 0;
	*may_send = true;
	if (suffix[0] == '-' || suffix[0] == '~') {
		*flags = suffix[0] == '~' ? MSG_EXCEPT : 0;
		*may_send = false;
		number++;
	}
	int r = ipc_parse_long(number, 1, G_MAXLONG, type);
	if (r == 0 && suffix[0] == '-')
		*type = -*type;
	return r;
}

static int check_type_suffix(const char *suffix)
{
	long type;
	int flags;
	bool may_send;
	return parse_type(suffix, &type, &flags, &may_send);
}

static const struct sysv_kind msg_sysv = {
	.xattr_prefix = "user.msg.",
	.counter_names = counter_names,
	.check_suffix = check_type_suffix,
	.get = msg_get,
	.stat = msg_stat,
	.max_index = msg_max_index,
	.set_owner = msg_set_owner,
	.remove = msg_remove,
};

SYSV_KIND_OPS(sysv_msg, msg_sysv)

static int msg_open(struct ipc_object *o, int flags, struct ipc_handle **out)
{
	struct sysv_stat st;
	if (!sysv_object_stat(o, &st))
		return -EIDRM;
	struct ipc_handle *h = g_new0(struct ipc_handle, 1);
	h->id = o->id;
	h->send_type = 1;
	if (o->suffix) {
		bool may_send;
		parse_type(o->suffix, &h->receive_type, &h->receive_flags, &may_send);
		h->send_type = may_send ? h->receive_type : 0;
	}
	h->size = MAX((size_t)read_msgmax(), (size_t)st.counters[2]);
	*out = h;
	return 0;
}

static long run_wait(void *data)
{
	struct msg_wait *w = data;
	if (w->is_write)
		return msgsnd(w->id, w->msg, w->size, w->flags) < 0 ? sysv_call_errno(&msg_sysv, w->id) :
								      (long)w->size;
	ssize_t n = msgrcv(w->id, w->msg, w->size, w->type, w->flags);
	return n < 0 ? sysv_call_errno(&msg_sysv, w->id) : n;
}

static void wait_free(struct msg_wait *w)
{
	if (!w)
		return;
	ipc_blocking_free(w->call);
	g_free(w->msg);
	g_free(w);
}

static struct msg_wait *wait_new(int id, bool is_write, size_t size)
{
	struct msg_wait *w = g_new0(struct msg_wait, 1);
	w->id = id;
	w->is_write = is_write;
	w->size = size;
	w->msg = g_malloc(sizeof(struct message) + MAX(size, 1));
	return w;
}

/* A received message of n bytes becomes the reader's: what fits now, the
 * rest for the next reads of the file. Several reads of one file may
 * finish waiting together; each message's rest then waits its turn. */
static ssize_t deliver(struct ipc_handle *h, struct msg_wait *w, long n, void *buf, size_t len)
{
	if (n == 0)
		return 0;
	ipc_leftover_push(&h->rest, g_steal_pointer(&w->msg), offsetof(struct message, text), n);
	return ipc_leftover_take(&h->rest, buf, len);
}

/* A message larger than the queue holds would wait for ever. */
static bool never_fits(const struct msg_wait *w)
{
	struct msqid_ds ds;
	return msgctl(w->id, IPC_STAT, &ds) == 0 && w->size > ds.msg_qbytes;
}

/* Tries at once; on ENOMSG or EAGAIN hands the call to a thread, where
 * the caller may wait. */
static ssize_t try_or_wait(struct msg_wait *w, struct ipc_progress *progress)
{
	w->flags |= IPC_NOWAIT;
	long n = run_wait(w);
	if (n == -ENOMSG)
		n = -EAGAIN;
	/* msgsnd's EINVAL on a queue that is there: longer than msgmax. */
	if (n == -EINVAL && w->is_write)
		return -EMSGSIZE;
	if (n == -EAGAIN && w->is_write && never_fits(w))
		return -EMSGSIZE;
	if (n == -EAGAIN && progress->may_wait) {
		w->flags &= ~IPC_NOWAIT;
		return ipc_blocking_wait(&w->call, run_wait, w, progress);
	}
	return n;
}

/* A message longer than msgmax and the queue's size allow now: they were
 * lowered after it was sent. Doubles the buffer, up to RECEIVE_MAX. */
static bool grow_receive_buffer(struct msg_wait *w)
{
	if (w->size >= RECEIVE_MAX)
		return false;
	w->size = MIN(w->size * 2, RECEIVE_MAX);
	w->msg = g_realloc(w->msg, sizeof(struct message) + w->size);
	return true;
}

static ssize_t receive(struct ipc_handle *h, void *buf, size_t len, struct ipc_progress *progress)
{
	struct msg_wait *w = wait_new(h->id, false, h->size);
	w->type = h->receive_type;
	w->flags = h->receive_flags;
	ssize_t n;
	while ((n = try_or_wait(w, progress)) == -E2BIG && grow_receive_buffer(w))
		;
	if (n == -EAGAIN && progress->state)
		return n;
	n = n < 0 ? n : deliver(h, w, n, buf, len);
	wait_free(w);
	return n;
}

/* The retry of a waiting read or write, once its thread is done. */
static ssize_t finish_wait(struct ipc_handle *h, void *buf, size_t len,
			   struct ipc_progress *progress)
{
	struct msg_wait *w = progress->state;
	long n;
	if (!ipc_blocking_done(w->call, &n))
		return -EAGAIN;
	if (n == -E2BIG && !w->is_write && grow_receive_buffer(w)) {
		ipc_blocking_start(w->call);
		return -EAGAIN;
	}
	progress->state = NULL;
	progress->waiting = false;
	if (n >= 0 && !w->is_write)
		n = deliver(h, w, n, buf, len);
	wait_free(w);
	return n;
}

static bool readable_after(struct ipc_handle *h, long r, const struct message *m);

/* A read stops a poll's waiting msgrcv, which would otherwise take a
 * zero-byte message before the read could; the next poll starts it again. */
static void stop_watching(struct ipc_handle *h)
{
	if (!h->watching)
		return;
	h->watching = false;
	if (ipc_blocking_stop(h->watch->call) == 0)
		readable_after(h, 0, h->watch->msg);
}

static ssize_t msg_read(struct ipc_handle *h, void *buf, size_t len, off_t offset,
			struct ipc_progress *progress)
{
	if (progress->state)
		return finish_wait(h, buf, len, progress);
	if (ipc_leftover_any(&h->rest))
		return ipc_leftover_take(&h->rest, buf, len);
	if (progress->continues)
		return 0;
	stop_watching(h);
	if (h->empty_taken) {
		h->empty_taken = false;
		return 0;
	}
	return receive(h, buf, len, progress);
}

static ssize_t msg_write(struct ipc_handle *h, const void *buf, size_t len, off_t offset,
			 struct ipc_progress *progress)
{
	if (progress->state)
		return finish_wait(h, NULL, 0, progress);
	if (h->send_type == 0)
		return -EINVAL; /* a name that only chooses what to receive */
	struct msg_wait *w = wait_new(h->id, true, len);
	w->msg->type = h->send_type;
	memcpy(w->msg->text, buf, len);
	ssize_t n = try_or_wait(w, progress);
	if (n == -EAGAIN && progress->state)
		return n;
	wait_free(w);
	return n;
}

/* A waiting call that completed before it could be stopped stands: its
 * message was taken or sent, and is answered. */
static ssize_t msg_abandon(struct ipc_handle *h, void *buf, size_t len,
			   struct ipc_progress *progress, ssize_t err)
{
	struct msg_wait *w = progress->state;
	if (!w)
		return err;
	progress->state = NULL;
	long n = ipc_blocking_stop(w->call);
	if (n >= 0 && !w->is_write)
		n = deliver(h, w, n, buf, len);
	wait_free(w);
	return n >= 0 ? n : err;
}

/* Whether a read would find something, after a msgrcv with no room of
 * result r: E2BIG (a message is there), 0 (a zero-byte one, now taken),
 * or an error a read would report. */
static bool readable_after(struct ipc_handle *h, long r, const struct message *m)
{
	if (r == 0) {
		h->empty_taken = true;
		h->empty_type = m->type;
	}
	return r != -ENOMSG;
}

/* Readable: a message this file would read is there. Writable always:
 * nothing tells of room, and a write then waits for it. */
static int msg_poll(struct ipc_handle *h, short *revents)
{
	*revents = POLLOUT;
	long r;
	bool readable;
	if (ipc_leftover_any(&h->rest) || h->empty_taken) {
		readable = true;
	} else if (h->watching && ipc_blocking_done(h->watch->call, &r)) {
		h->watching = false;
		readable = readable_after(h, r, h->watch->msg);
	} else {
		/* Also while the thread waits: it may not have woken yet. */
		struct message m;
		ssize_t n = msgrcv(h->id, &m, 0, h->receive_type, h->receive_flags | IPC_NOWAIT);
		readable = readable_after(h, n < 0 ? sysv_call_errno(&msg_sysv, h->id) : n, &m);
	}
	if (readable)
		*revents |= POLLIN;
	return 0;
}

static int msg_poll_fd(struct ipc_handle *h)
{
	if (!h->watch) {
		h->watch = wait_new(h->id, false, 0);
		h->watch->type = h->receive_type;
		h->watch->flags = h->receive_flags;
		if (ipc_blocking_new(run_wait, h->watch, &h->watch->call) < 0) {
			g_clear_pointer(&h->watch, wait_free);
			return -1;
		}
	}
	if (!h->watching && !h->empty_taken)
		ipc_blocking_start(h->watch->call);
	h->watching = !h->empty_taken;
	return ipc_blocking_fd(h->watch->call);
}

/* A zero-byte message a poll took, going back to its queue. */
struct putback {
	int id;
	long type;
};

static long send_back(void *data)
{
	struct putback *p = data;
	struct message m = { .type = p->type };
	return msgsnd(p->id, &m, 0, 0) < 0 ? sysv_call_errno(&msg_sysv, p->id) : 0;
}

/* Taken for a poll, never read: back, at the end of the queue, waiting
 * for room on a pool thread if the queue is full, rather than lost. */
static void put_back_empty(struct ipc_handle *h)
{
	if (!ipc_space_entered())
		return; /* its namespace is gone, and the queue with it */
	struct message m = { .type = h->empty_type };
	if (msgsnd(h->id, &m, 0, IPC_NOWAIT) == 0 || errno != EAGAIN)
		return;
	struct putback *p = g_new0(struct putback, 1);
	*p = (struct putback){ h->id, h->empty_type };
	if (ipc_blocking_detach(send_back, p) < 0) {
		g_warning("sysv/msg: a zero-byte message taken for a poll could not go back");
		g_free(p);
	}
}

static void msg_close(struct ipc_handle *h)
{
	stop_watching(h);
	if (h->empty_taken)
		put_back_empty(h);
	wait_free(h->watch);
	ipc_leftover_clear(&h->rest);
	g_free(h);
}

const struct ipc_kind ipc_kind_sysv_msg = {
	.dir = "sysv/msg",
	.description = "System V message queues",
	.options = ipc_blocking_options,
	.messages = true,
	.waits = true,
	SYSV_FIELDS(sysv_msg),
	.open = msg_open,
	.read = msg_read,
	.write = msg_write,
	.abandon = msg_abandon,
	.poll = msg_poll,
	.poll_fd = msg_poll_fd,
	.close = msg_close,
};
