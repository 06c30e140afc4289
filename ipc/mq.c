/* POSIX message queues.
 *
 * The kernel's mqueue file system is the truth: names, owners, modes and
 * times come from it, read through a private mount of the daemon's IPC
 * namespace (fsopen/fsmount, as root) or from /dev/mqueue where that is
 * mounted. Messages move with mq_send/mq_receive on descriptors opened
 * O_NONBLOCK, which are also what a waiting request polls on. The daemon
 * never calls mq_notify: only one process may register, and it would steal
 * other programs' notifications. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "dirfiles.h"

#define MQUEUE_MAGIC 0x19800202
#define XATTR_MAXMSG "user.mq.maxmsg"
#define XATTR_MSGSIZE "user.mq.msgsize"
#define XATTR_CURMSGS "user.mq.curmsgs"
#define XATTR_PRIORITY "user.mq.priority"
/* From the queue's status line in the mqueue file system: the bytes
 * queued, and who asked mq_notify for what (NOTIFY: 0 a signal, 1 none,
 * 2 a thread; SIGNO; NOTIFY_PID, 0 when nobody did). */
#define XATTR_QSIZE "user.mq.qsize"
#define XATTR_NOTIFY "user.mq.notify"
#define XATTR_SIGNO "user.mq.signo"
#define XATTR_NOTIFY_PID "user.mq.notify_pid"

/* What belongs to a queue itself rather than to its name: its send
 * priority. Kept while the queue has a name and a priority, and while any
 * file is open on it, named or not: an unlinked queue keeps its priority
 * for the files that still have it open, and its inode number can't be
 * taken by a new queue until the last of them is closed. Guarded by the
 * daemon lock, as every kind's state (fs/requests.c). */
struct queue_record {
	gint64 ino; /* the key in its state's table */
	unsigned int priority;
	unsigned int open_files; /* handles that point at it */
	bool unnamed;            /* unlinked: dropped with its last handle */
};

struct ipc_handle {
	mqd_t mqd;
	struct ipc_state *st;
	struct queue_record *queue; /* the queue's, for its priority */
	long msgsize;
	struct ipc_leftover rest;
};

/* Sizes for queues created through the mount: per caller where set on the
 * mq/ directory, else the mount options, else the system's defaults. */
struct create_sizes {
	long maxmsg, msgsize;
};

static long option_maxmsg, option_msgsize;

/* The queues of one IPC namespace. */
struct ipc_state {
	struct ipc_dir queues; /* first: an object's dir is its state */
	/* The records of the queues that have a priority or an open file,
	 * by queue inode. Those of queues removed elsewhere (mq_unlink by
	 * another program), with no file open, are pruned against a listing
	 * once the table has doubled since the last prune. */
	GHashTable *records;   /* ino (gint64) -> struct queue_record */
	guint records_kept;    /* the table's size after the last prune */
	GHashTable *caller_sizes;  /* uid -> struct create_sizes */
};

static struct ipc_state *state_of(const struct ipc_object *o)
{
	return (struct ipc_state *)o->dir;
}

static const struct ipc_option mq_options[] = {
	{ "mq_maxmsg", "messages a queue created through the mount holds",
	  &option_maxmsg, 1, 65536 },
	{ "mq_msgsize", "bytes a message of such a queue may have",
	  &option_msgsize, 1, 16 << 20 },
	{ NULL },
};

static int open_private_view(void)
{
	int fs = fsopen("mqueue", FSOPEN_CLOEXEC);
	if (fs < 0)
		return -errno;
	int mnt = -1;
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
		mnt = fsmount(fs, FSMOUNT_CLOEXEC, 0);
	int err = errno;
	close(fs);
	return mnt >= 0 ? mnt : -err;
}

static int open_dev_mqueue(void)
{
	int fd = open("/dev/mqueue", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct statfs sfs;
	if (fstatfs(fd, &sfs) < 0 || sfs.f_type != MQUEUE_MAGIC) {
		close(fd);
		return -ENODEV;
	}
	return fd;
}

/* Queues created through the mount are charged to the daemon's user
 * (RLIMIT_MSGQUEUE counts against the process that calls mq_open). The
 * soft limit goes up to the hard one, which stays the administrator's. */
static void raise_queue_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_MSGQUEUE, &rl) < 0)
		return;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_MSGQUEUE, &rl);
	if (rl.rlim_max != RLIM_INFINITY)
		g_message("mq: RLIMIT_MSGQUEUE is %llu bytes: queues created through the mount "
			  "share that budget with the daemon user's other queues; mq_open then "
			  "fails with EMFILE",
			  (unsigned long long)rl.rlim_max);
}

static int mq_start(void)
{
	raise_queue_limit();
	return 0;
}

/* Runs in the namespace: the mqueue file system mounted here (privately,
 * never attached anywhere) is that namespace's. /dev/mqueue is the
 * daemon's own namespace's at best. */
static int mq_setup(struct ipc_space *space, struct ipc_state **out)
{
	int fd = open_private_view();
	if (fd < 0 && ipc_space_is_own(space)) {
		int err = fd;
		fd = open_dev_mqueue();
		if (fd < 0)
			g_warning("no view of the message queues: fsmount: %s; /dev/mqueue: %s",
				  g_strerror(-err), g_strerror(-fd));
		else
			g_info("listing queues through /dev/mqueue (fsmount: %s)", g_strerror(-err));
	}
	if (fd < 0)
		return fd;
	struct ipc_state *st = g_new0(struct ipc_state, 1);
	st->queues = (struct ipc_dir){ .fd = fd, .prefix = "", .name_max = NAME_MAX };
	st->records = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
	st->caller_sizes = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
	*out = st;
	return 0;
}

/* The mount or directory, which would keep the namespace's objects. */
static void mq_let_go(struct ipc_state *st)
{
	close(st->queues.fd);
	st->queues.fd = -1;
}

static void mq_teardown(struct ipc_state *st)
{
	if (st->queues.fd >= 0)
		close(st->queues.fd);
	g_hash_table_destroy(st->records);
	g_hash_table_destroy(st->caller_sizes);
	g_free(st);
}

/* mq_open wants the name with one leading slash. */
static char *queue_path(const char *name)
{
	return g_strconcat("/", name, NULL);
}

static int mq_list(struct ipc_state *st, GPtrArray *names)
{
	return ipc_dir_list(&st->queues, names);
}

static int mq_find(struct ipc_state *st, const char *name, struct ipc_object **out)
{
	/* Readable at once: a stat reads the queue's status line through it.
	 * The mqueue file system holds nothing else an open could touch. */
	return ipc_dir_find(&st->queues, name, O_RDONLY | O_NONBLOCK, out);
}

/* The status line that reading a queue's file in the mqueue file system
 * gives: "QSIZE:%lu NOTIFY:%d SIGNO:%d NOTIFY_PID:%d". */
struct queue_status {
	long qsize;
	int notify, signo, notify_pid;
};

static int read_queue_status(int fd, struct queue_status *st)
{
	char text[128];
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
	*st = (struct queue_status){ 0 };
	if (n < 0)
		return -errno;
	text[n] = '\0';
	if (sscanf(text, "QSIZE:%ld NOTIFY:%d SIGNO:%d NOTIFY_PID:%d", &st->qsize, &st->notify,
		   &st->signo, &st->notify_pid) != 4)
		return -EIO;
	return 0;
}

/* The bytes a queue holds, QSIZE. */
static off_t queued_bytes(int fd)
{
	struct queue_status st;
	return read_queue_status(fd, &st) == 0 ? st.qsize : 0;
}

/* A descriptor of the queue itself, for mq_getattr and its status line:
 * the reference's, or, where that is O_PATH, one of any access mode, to
 * close with done_with_queue. */
static int open_queue(struct ipc_object *o)
{
	if (o->readable)
		return o->fd;
	int fd = ipc_file_reopen(o, O_RDONLY | O_NONBLOCK);
	return fd == -EACCES ? ipc_file_reopen(o, O_WRONLY | O_NONBLOCK) : fd;
}

static void done_with_queue(struct ipc_object *o, int fd)
{
	if (fd >= 0 && fd != o->fd)
		close(fd);
}

/* A queue's size is the bytes it holds. */
static int mq_stat(struct ipc_object *o, struct ipc_attr *attr)
{
	int r = ipc_file_stat(o, attr);
	if (r < 0)
		return r;
	int fd = open_queue(o);
	attr->size = fd >= 0 ? queued_bytes(fd) : 0;
	done_with_queue(o, fd);
	return 0;
}

static long read_proc_long(const char *path, long fallback)
{
	g_autofree char *text = NULL;
	long v;
	if (!g_file_get_contents(path, &text, NULL, NULL) ||
	    ipc_parse_long(g_strchomp(text), 1, LONG_MAX, &v) < 0)
		return fallback;
	return v;
}

/* The sizes a create by this caller gets; false for the system's defaults. */
static bool sizes_for(struct ipc_state *st, const struct ipc_caller *who, struct mq_attr *attr)
{
	struct create_sizes s = { option_maxmsg, option_msgsize };
	const struct create_sizes *mine = g_hash_table_lookup(st->caller_sizes,
							       GUINT_TO_POINTER(who->uid));
	if (mine) {
		if (mine->maxmsg)
			s.maxmsg = mine->maxmsg;
		if (mine->msgsize)
			s.msgsize = mine->msgsize;
	}
	if (!s.maxmsg && !s.msgsize)
		return false;
	*attr = (struct mq_attr){
		.mq_maxmsg = s.maxmsg ? s.maxmsg : read_proc_long("/proc/sys/fs/mqueue/msg_default", 10),
		.mq_msgsize = s.msgsize ? s.msgsize : read_proc_long("/proc/sys/fs/mqueue/msgsize_default", 8192),
	};
	return true;
}

/* The daemon may be exempt from the system's queue limits (root with
 * CAP_SYS_RESOURCE); the people it creates for are not, unless root. */
static int check_system_limits(struct ipc_state *st, const struct ipc_caller *who, bool sized,
			       const struct mq_attr *attr)
{
	if (who->uid == 0)
		return 0;
	if (sized && (attr->mq_maxmsg > read_proc_long("/proc/sys/fs/mqueue/msg_max", 10) ||
		      attr->mq_msgsize > read_proc_long("/proc/sys/fs/mqueue/msgsize_max", 8192)))
		return -EINVAL;
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	int r = mq_list(st, names);
	if (r == 0 && (long)names->len >= read_proc_long("/proc/sys/fs/mqueue/queues_max", 256))
		r = -ENOSPC;
	return r;
}

static int mq_create(struct ipc_state *st, const char *name, mode_t mode,
		     const struct ipc_caller *who, struct ipc_object **out)
{
	int r = ipc_dir_check_name(&st->queues, name);
	if (r < 0)
		return r;
	g_autofree char *path = queue_path(name);
	struct mq_attr attr;
	bool sized = sizes_for(st, who, &attr);
	r = check_system_limits(st, who, sized, &attr);
	if (r < 0)
		return r;
	mqd_t mqd = mq_open(path, O_CREAT | O_EXCL | O_RDONLY | O_NONBLOCK | O_CLOEXEC,
			    mode & 0777, sized ? &attr : NULL);
	if (mqd == (mqd_t)-1)
		return -errno;
	/* The descriptor is the reference: what is given away and, should
	 * that fail, removed, is the queue just made. */
	struct ipc_object *o;
	r = ipc_dir_adopt(&st->queues, mqd, true, &o);
	if (r < 0)
		return r;
	r = ipc_file_chown(o, who->uid, who->gid);
	if (r < 0) {
		ipc_file_unlink(o, name);
		ipc_file_release(o);
		return r;
	}
	*out = o;
	return 0;
}

static struct queue_record *record_of(struct ipc_state *st, ino_t ino)
{
	return g_hash_table_lookup(st->records, &(gint64){ (gint64)ino });
}

static void record_drop(struct ipc_state *st, struct queue_record *q)
{
	g_hash_table_remove(st->records, &q->ino);
}

/* A record that nothing needs any more: no priority to keep for a name,
 * no open file. */
static void record_drop_if_unused(struct ipc_state *st, struct queue_record *q)
{
	if (q->open_files == 0 && (q->unnamed || q->priority == 0))
		record_drop(st, q);
}

static gboolean record_is_gone(gpointer key, gpointer value, gpointer live)
{
	struct queue_record *q = value;
	if (g_hash_table_contains(live, key))
		return FALSE;
	q->unnamed = true;
	return q->open_files == 0;
}

static void add_inode(const char *name, const struct stat *st, void *live)
{
	g_hash_table_add(live, g_memdup2(&(gint64){ st->st_ino }, sizeof(gint64)));
}

/* Drops the records of queues that no longer exist and that no file has
 * open. */
static void prune_records(struct ipc_state *st)
{
	g_autoptr(GHashTable) live = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	if (ipc_dir_each(&st->queues, add_inode, live) < 0)
		return;
	g_hash_table_foreach_remove(st->records, record_is_gone, live);
	st->records_kept = g_hash_table_size(st->records);
}

/* The queue's record, made if it has none. */
static struct queue_record *record_take(struct ipc_state *st, ino_t ino)
{
	struct queue_record *q = record_of(st, ino);
	if (q)
		return q;
	if (g_hash_table_size(st->records) >= 2 * st->records_kept + 64)
		prune_records(st);
	q = g_new0(struct queue_record, 1);
	q->ino = ino;
	g_hash_table_insert(st->records, &q->ino, q);
	return q;
}

static unsigned int priority_of(struct ipc_state *st, ino_t ino)
{
	struct queue_record *q = record_of(st, ino);
	return q ? q->priority : 0;
}

static void set_priority(struct ipc_state *st, ino_t ino, unsigned int priority)
{
	struct queue_record *q = record_take(st, ino);
	q->priority = priority;
	record_drop_if_unused(st, q);
}

/* The name is gone, the queue lives on while files have it open. */
static int mq_remove(struct ipc_object *o, const char *name)
{
	int r = ipc_file_unlink(o, name);
	struct queue_record *q = r == 0 ? record_of(state_of(o), o->ino) : NULL;
	if (q) {
		q->unnamed = true;
		record_drop_if_unused(state_of(o), q);
	}
	return r;
}

/* A shell's ">" truncates: accepted, and a queue has nothing to cut. */
static int mq_truncate(struct ipc_object *o, off_t size)
{
	return size == 0 ? 0 : -EINVAL;
}

static int mq_open_handle(struct ipc_object *o, int flags, struct ipc_handle **out)
{
	/* The queue's own file opened again is a queue descriptor of it,
	 * mq_send and mq_receive take it, even once the name is gone. */
	int mqd = ipc_file_reopen(o, (flags & O_ACCMODE) | O_NONBLOCK);
	if (mqd < 0)
		return mqd;
	struct mq_attr attr;
	if (mq_getattr(mqd, &attr) < 0) {
		int r = -errno;
		close(mqd);
		return r;
	}
	struct ipc_handle *h = g_new0(struct ipc_handle, 1);
	h->mqd = mqd;
	h->st = state_of(o);
	h->queue = record_take(h->st, o->ino);
	h->queue->open_files++;
	h->msgsize = attr.mq_msgsize;
	*out = h;
	return 0;
}

/* One read is one message. A reader with a short buffer gets the rest of
 * the message from its next reads of the same open file. */
static ssize_t mq_read(struct ipc_handle *h, void *buf, size_t len, off_t offset,
			 struct ipc_progress *progress)
{
	if (ipc_leftover_any(&h->rest))
		return ipc_leftover_take(&h->rest, buf, len);
	if (progress->continues)
		return 0;
	if (len >= (size_t)h->msgsize) {
		ssize_t n = mq_receive(h->mqd, buf, h->msgsize, NULL);
		return n < 0 ? -errno : n;
	}
	char *message = g_malloc(h->msgsize);
	ssize_t n = mq_receive(h->mqd, message, h->msgsize, NULL);
	if (n < 0) {
		g_free(message);
		return -errno;
	}
	ipc_leftover_push(&h->rest, message, 0, n);
	return ipc_leftover_take(&h->rest, buf, len);
}

static ssize_t mq_write(struct ipc_handle *h, const void *buf, size_t len, off_t offset,
			 struct ipc_progress *progress)
{
	if (mq_send(h->mqd, buf, len, h->queue->priority) < 0)
		return -errno;
	return len;
}

static int mq_poll(struct ipc_handle *h, short *revents)
{
	struct pollfd p = { .fd = h->mqd, .events = POLLIN | POLLOUT };
	if (poll(&p, 1, 0) < 0)
		return -errno;
	*revents = p.revents & (POLLIN | POLLOUT);
	if (ipc_leftover_any(&h->rest))
		*revents |= POLLIN;
	return 0;
}

static int mq_wait_fd(struct ipc_handle *h, bool for_write, short *events)
{
	*events = for_write ? POLLOUT : POLLIN;
	return h->mqd;
}

static void mq_close_handle(struct ipc_handle *h)
{
	h->queue->open_files--;
	record_drop_if_unused(h->st, h->queue);
	close(h->mqd);
	ipc_leftover_clear(&h->rest);
	g_free(h);
}

static const char *const queue_xattrs[] = {
	XATTR_MAXMSG, XATTR_MSGSIZE, XATTR_CURMSGS, XATTR_PRIORITY,
	XATTR_QSIZE,  XATTR_NOTIFY,  XATTR_SIGNO,   XATTR_NOTIFY_PID, NULL,
};

/* One of the status line's values, by its xattr. */
static long queue_status_value(const struct queue_status *st, const char *attr)
{
	return strcmp(attr, XATTR_QSIZE) == 0  ? st->qsize :
	       strcmp(attr, XATTR_NOTIFY) == 0 ? st->notify :
	       strcmp(attr, XATTR_SIGNO) == 0  ? st->signo : st->notify_pid;
}

static int mq_listxattr(struct ipc_object *o, GPtrArray *attrs)
{
	for (size_t i = 0; queue_xattrs[i]; i++)
		g_ptr_array_add(attrs, g_strdup(queue_xattrs[i]));
	return 0;
}

static int mq_getxattr(struct ipc_object *o, const char *attr, GString *value)
{
	if (strcmp(attr, XATTR_PRIORITY) == 0) {
		g_string_printf(value, "%u", priority_of(state_of(o), o->ino));
		return 0;
	}
	if (!g_strv_contains((const char *const *)queue_xattrs, attr))
		return -ENODATA;
	int fd = open_queue(o);
	if (fd < 0)
		return fd;
	struct mq_attr a;
	struct queue_status st;
	bool from_status = strcmp(attr, XATTR_MAXMSG) != 0 && strcmp(attr, XATTR_MSGSIZE) != 0 &&
			   strcmp(attr, XATTR_CURMSGS) != 0;
	int r = from_status ? read_queue_status(fd, &st) : mq_getattr(fd, &a) < 0 ? -errno : 0;
	done_with_queue(o, fd);
	if (r < 0)
		return r;
	long v = from_status ? queue_status_value(&st, attr) :
		 strcmp(attr, XATTR_MAXMSG) == 0 ? a.mq_maxmsg :
		 strcmp(attr, XATTR_MSGSIZE) == 0 ? a.mq_msgsize : a.mq_curmsgs;
	g_string_printf(value, "%ld", v);
	return 0;
}

static int mq_setxattr(struct ipc_object *o, const char *attr, const char *value,
		       const struct ipc_caller *who)
{
	if (strcmp(attr, XATTR_PRIORITY) != 0)
		return -ENOTSUP; /* the others are the queue's facts: fs/ says EPERM */
	long prio;
	if (ipc_parse_long(value, 0, sysconf(_SC_MQ_PRIO_MAX) - 1, &prio) < 0)
		return -EINVAL;
	set_priority(state_of(o), o->ino, prio);
	return 0;
}

static const char *const dir_xattrs[] = { XATTR_MAXMSG, XATTR_MSGSIZE, NULL };

static int mq_dir_listxattr(struct ipc_state *st, const struct ipc_caller *who, GPtrArray *attrs)
{
	for (size_t i = 0; dir_xattrs[i]; i++)
		g_ptr_array_add(attrs, g_strdup(dir_xattrs[i]));
	return 0;
}

static int mq_dir_getxattr(struct ipc_state *st, const struct ipc_caller *who, const char *attr,
			   GString *value)
{
	if (!g_strv_contains((const char *const *)dir_xattrs, attr))
		return -ENODATA;
	struct mq_attr a;
	if (!sizes_for(st, who, &a)) {
		a.mq_maxmsg = read_proc_long("/proc/sys/fs/mqueue/msg_default", 10);
		a.mq_msgsize = read_proc_long("/proc/sys/fs/mqueue/msgsize_default", 8192);
	}
	g_string_printf(value, "%ld", strcmp(attr, XATTR_MAXMSG) == 0 ? a.mq_maxmsg : a.mq_msgsize);
	return 0;
}

static struct create_sizes *sizes_of_caller(struct ipc_state *st, const struct ipc_caller *who)
{
	struct create_sizes *s = g_hash_table_lookup(st->caller_sizes, GUINT_TO_POINTER(who->uid));
	if (!s) {
		s = g_new0(struct create_sizes, 1);
		g_hash_table_insert(st->caller_sizes, GUINT_TO_POINTER(who->uid), s);
	}
	return s;
}

static int mq_dir_setxattr(struct ipc_state *st, const struct ipc_caller *who, const char *attr,
			   const char *value)
{
	const struct ipc_option *o = strcmp(attr, XATTR_MAXMSG) == 0 ? &mq_options[0] :
				     strcmp(attr, XATTR_MSGSIZE) == 0 ? &mq_options[1] : NULL;
	if (!o)
		return -ENOTSUP;
	long v;
	if (ipc_parse_long(value, o->min, o->max, &v) < 0)
		return -EINVAL;
	struct create_sizes *s = sizes_of_caller(st, who);
	*(o == &mq_options[0] ? &s->maxmsg : &s->msgsize) = v;
	return 0;
}

static int mq_dir_removexattr(struct ipc_state *st, const struct ipc_caller *who, const char *attr)
{
	if (!g_strv_contains((const char *const *)dir_xattrs, attr))
		return -ENODATA;
	struct create_sizes *s = sizes_of_caller(st, who);
	*(strcmp(attr, XATTR_MAXMSG) == 0 ? &s->maxmsg : &s->msgsize) = 0;
	return 0;
}

const struct ipc_kind ipc_kind_mq = {
	.dir = "mq",
	.description = "POSIX message queues",
	.options = mq_options,
	.messages = true,
	.waits = true,
	.start = mq_start,
	.setup = mq_setup,
	.teardown = mq_teardown,
	.let_go = mq_let_go,
	.list = mq_list,
	.find = mq_find,
	.create = mq_create,
	.release = ipc_file_release,
	.file_id = ipc_file_id,
	.stat = mq_stat,
	.unlink = mq_remove,
	.chmod = ipc_file_chmod,
	.chown = ipc_file_chown,
	.truncate = mq_truncate,
	.set_times = ipc_file_set_times,
	.listxattr = mq_listxattr,
	.getxattr = mq_getxattr,
	.setxattr = mq_setxattr,
	.open = mq_open_handle,
	.read = mq_read,
	.write = mq_write,
	.poll = mq_poll,
	.wait_fd = mq_wait_fd,
	.close = mq_close_handle,
	.dir_listxattr = mq_dir_listxattr,
	.dir_getxattr = mq_dir_getxattr,
	.dir_setxattr = mq_dir_setxattr,
	.dir_removexattr = mq_dir_removexattr,
};
