/* POSIX named semaphores: glibc keeps NAME in /dev/shm/sem.NAME, a file
 * holding one sem_t that sem_open maps. The daemon maps it the same way,
 * after checking that the file is long enough to hold one: sem_open would
 * map a short file too, and the daemon would die of SIGBUS on touching it.
 *
 * Reading shows the value. A write posts or waits. A wait that can't be
 * done at once is parked by fs/ like a blocked queue read: for each
 * semaphore with waiters one thread takes tokens with sem_trywait, one
 * at a time, and hands each to the oldest waiter through an eventfd that
 * the main loop watches. A waiter that is given up gives back what it took. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirfiles.h"

#define SEM_PREFIX "sem."
#define XATTR_VALUE "user.sem.value"
/* The most one write may post or wait for: each token is one call on the
 * daemon's only thread, and a larger count would hold up the mount. */
#define SEM_MAX_COUNT 65536
/* The token thread tries for a token, and between tries sleeps from 1 ms
 * doubling to 16 ms. It does not sleep in sem_timedwait: a SIGBUS there
 * (the file cut short under it) could only be escaped by a longjmp out of
 * glibc's cancellation handlers, which leaves the thread corrupt. */
#define TAKE_PAUSE_MIN_US 1000
#define TAKE_PAUSE_MAX_US 16000

/* One semaphore file's mapping and token thread, shared by every open of
 * it, by inode. */
struct sem_mapping {
	ino_t ino;
	GHashTable *mappings; /* its state's, which holds it */
	sem_t *sem;
	unsigned refs;
	int notify_fd; /* readable while held > 0 */
	GMutex lock;
	GCond taken;
	int held;    /* tokens the thread took, not yet handed to a waiter */
	int pending; /* requests told to wait and not yet done or given up */
	int broken;  /* the error the semaphore gave the thread, or 0 */
	GThread *thread;
	bool thread_running, stopping;
};

struct ipc_handle {
	struct sem_mapping *map;
	char text[16]; /* the value as read at offset 0 */
	size_t text_len;
};

/* The semaphores of one /dev/shm. */
struct ipc_state {
	struct ipc_dir semaphores; /* first: an object's dir is its state */
	GHashTable *mappings;      /* ino -> struct sem_mapping, while open */
};

static struct ipc_state *state_of(const struct ipc_object *o)
{
	return (struct ipc_state *)o->dir;
}

static int sem_start(void)
{
	ipc_guard_setup();
	return 0;
}

static int sem_setup(struct ipc_space *space, struct ipc_state **out)
{
	int fd = ipc_space_open(space, "/dev/shm", O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return fd;
	struct ipc_state *st = g_new0(struct ipc_state, 1);
	st->semaphores = (struct ipc_dir){
		.fd = fd,
		.space = ipc_space_ref(space),
		.prefix = SEM_PREFIX,
		.name_max = NAME_MAX - (sizeof(SEM_PREFIX) - 1),
	};
	st->mappings = g_hash_table_new(g_int64_hash, g_int64_equal);
	*out = st;
	return 0;
}

/* At exit, no token thread may keep a token another program waits for. */
static void stop_token_thread(gpointer key, gpointer value, gpointer data)
{
	struct sem_mapping *o = value;
	g_mutex_lock(&o->lock);
	o->stopping = true;
	g_cond_signal(&o->taken);
	g_mutex_unlock(&o->lock);
	if (o->thread)
		g_thread_join(g_steal_pointer(&o->thread));
}

/* The mount or directory, which would keep the namespace's objects. */
static void sem_let_go(struct ipc_state *st)
{
	close(st->semaphores.fd);
	st->semaphores.fd = -1;
}

static void sem_teardown(struct ipc_state *st)
{
	g_hash_table_foreach(st->mappings, stop_token_thread, NULL);
	if (st->semaphores.fd >= 0)
		close(st->semaphores.fd);
	ipc_space_unref(st->semaphores.space);
	g_hash_table_destroy(st->mappings);
	g_free(st);
}

static int sem_list(struct ipc_state *st, GPtrArray *names)
{
	return ipc_dir_list(&st->semaphores, names);
}

static int sem_find(struct ipc_state *st, const char *name, struct ipc_object **out)
{
	return ipc_dir_find(&st->semaphores, name, O_PATH, out);
}

/* A new semaphore file holds one sem_t of value 0, as glibc's sem_open
 * makes it. */
static int init_semaphore(int fd)
{
	if (ftruncate(fd, sizeof(sem_t)) < 0)
		return -errno;
	sem_t *sem = mmap(NULL, sizeof(sem_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (sem == MAP_FAILED)
		return -errno;
	sem_init(sem, 1, 0);
	munmap(sem, sizeof(sem_t));
	return 0;
}

static int sem_create(struct ipc_state *st, const char *name, mode_t mode,
		      const struct ipc_caller *who, struct ipc_object **out)
{
	return ipc_dir_create(&st->semaphores, name, mode, who, init_semaphore, out);
}

/* A shell's ">" truncates: accepted, and a semaphore has nothing to cut. */
static int sem_truncate(struct ipc_object *o, off_t size)
{
	return size == 0 ? 0 : -EINVAL;
}

/* The semaphore calls, each run under the SIGBUS guard. */
enum sem_op { OP_VALUE, OP_POST, OP_TRYWAIT };
struct sem_call {
	sem_t *sem;
	enum sem_op op;
	int value;
};

static int sem_call_unguarded(void *data)
{
	struct sem_call *c = data;
	switch (c->op) {
	case OP_VALUE:
		return sem_getvalue(c->sem, &c->value) < 0 ? -errno : 0;
	case OP_POST:
		return sem_post(c->sem) < 0 ? -errno : 0;
	case OP_TRYWAIT:
		return sem_trywait(c->sem) < 0 ? -errno : 0;
	}
	return -EINVAL;
}

static int sem_do(sem_t *sem, enum sem_op op, int *value)
{
	struct sem_call c = { sem, op, 0 };
	int r = ipc_guard_call(sem_call_unguarded, &c);
	if (value)
		*value = c.value;
	return r;
}

/* A semaphore's value, read through a mapping of fd; 0 where the file
 * can't hold a semaphore. */
static off_t value_of_file(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size < (off_t)sizeof(sem_t))
		return 0;
	sem_t *sem = mmap(NULL, sizeof(sem_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (sem == MAP_FAILED)
		return 0;
	int value = 0;
	struct sem_call c = { sem, OP_VALUE, 0 };
	if (ipc_guard_call(sem_call_unguarded, &c) == 0)
		value = c.value;
	munmap(sem, sizeof(sem_t));
	return MAX(value, 0); /* garbage past SEM_VALUE_MAX reads negative: no size */
}

/* The file, to map: without touching its atime, which the daemon's own
 * reads of the value must not change (O_NOATIME needs the owner or root). */
static int open_sem_file(struct ipc_object *obj)
{
	int fd = ipc_file_reopen(obj, O_RDWR | O_NONBLOCK | O_NOATIME);
	return fd == -EPERM ? ipc_file_reopen(obj, O_RDWR | O_NONBLOCK) : fd;
}

/* A semaphore's size is its value, as ls -l shows it. */
static int sem_stat(struct ipc_object *o, struct ipc_attr *attr)
{
	int r = ipc_file_stat(o, attr);
	if (r < 0)
		return r;
	int fd = open_sem_file(o);
	attr->size = fd >= 0 ? value_of_file(fd) : 0;
	if (fd >= 0)
		close(fd);
	return 0;
}

/* Keeps the eventfd readable exactly while the thread holds tokens, so
 * the main loop is woken for a token and never spins without one. */
static void set_held(struct sem_mapping *o, int held)
{
	eventfd_t drained;
	if (held > 0 && o->held == 0)
		eventfd_write(o->notify_fd, 1);
	else if (held == 0 && o->held > 0)
		eventfd_read(o->notify_fd, &drained);
	o->held = held;
}

/* One waiter fewer; with none left the thread may give back and stop. */
static void waiter_gone(struct sem_mapping *o)
{
	if (--o->pending == 0)
		g_cond_signal(&o->taken);
}

/* The token thread: while requests wait, take one token at a time and
 * leave it for the main loop to hand to the oldest waiter. */
static gpointer take_tokens(gpointer data)
{
	ipc_space_home(); /* a mapping needs no namespace, nor keeps one */
	struct sem_mapping *o = data;
	gint64 pause = TAKE_PAUSE_MIN_US;
	g_mutex_lock(&o->lock);
	while (!o->stopping && o->pending > 0 && !o->broken) {
		if (o->held > 0) {
			g_cond_wait(&o->taken, &o->lock);
			continue;
		}
		int r = sem_do(o->sem, OP_TRYWAIT, NULL);
		if (r == 0) {
			set_held(o, o->held + 1);
			pause = TAKE_PAUSE_MIN_US;
		} else if (r == -EAGAIN || r == -EINTR) {
			g_cond_wait_until(&o->taken, &o->lock, g_get_monotonic_time() + pause);
			pause = MIN(pause * 2, TAKE_PAUSE_MAX_US);
		} else {
			/* A broken semaphore: the waiters find out from the loop. */
			o->broken = r;
			eventfd_write(o->notify_fd, 1);
		}
	}
	for (; o->held > 0; set_held(o, o->held - 1))
		sem_do(o->sem, OP_POST, NULL);
	o->thread_running = false;
	g_mutex_unlock(&o->lock);
	return NULL;
}

static int ensure_token_thread(struct sem_mapping *o)
{
	if (o->thread_running)
		return 0;
	if (o->thread)
		g_thread_join(o->thread); /* finished: it left nothing held */
	o->thread = g_thread_try_new("sem-tokens", take_tokens, o, NULL);
	o->thread_running = o->thread != NULL;
	return o->thread ? 0 : -EAGAIN;
}

/* A token the thread took for the waiters; called with the lock held. */
static bool take_held(struct sem_mapping *o)
{
	if (o->held == 0)
		return false;
	set_held(o, o->held - 1);
	g_cond_signal(&o->taken);
	return true;
}

static int new_sem_mapping(GHashTable *mappings, int fd, const struct stat *st,
			   struct sem_mapping **out)
{
	void *map = mmap(NULL, sizeof(sem_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	struct sem_mapping *o = g_new0(struct sem_mapping, 1);
	o->ino = st->st_ino;
	o->mappings = mappings;
	o->sem = map;
	o->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (o->notify_fd < 0) {
		int err = errno;
		munmap(map, sizeof(sem_t));
		g_free(o);
		return -err;
	}
	g_mutex_init(&o->lock);
	g_cond_init(&o->taken);
	g_hash_table_insert(mappings, &o->ino, o);
	*out = o;
	return 0;
}

static int map_sem_file(struct ipc_object *obj, struct sem_mapping **out)
{
	int fd = open_sem_file(obj);
	if (fd < 0)
		return fd;
	struct stat st;
	int r = fstat(fd, &st) < 0 ? -errno : 0;
	if (r == 0 && (!S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(sem_t)))
		r = -EUCLEAN; /* too short to hold a semaphore: unusable */
	GHashTable *mappings = state_of(obj)->mappings;
	struct sem_mapping *o = r == 0 ? g_hash_table_lookup(mappings, &st.st_ino) : NULL;
	if (r == 0 && !o)
		r = new_sem_mapping(mappings, fd, &st, &o);
	close(fd);
	if (r == 0) {
		o->refs++;
		*out = o;
	}
	return r;
}

static void unmap_sem(struct sem_mapping *o)
{
	if (--o->refs > 0)
		return;
	g_mutex_lock(&o->lock);
	o->stopping = true;
	g_cond_signal(&o->taken);
	g_mutex_unlock(&o->lock);
	if (o->thread)
		g_thread_join(o->thread);
	g_hash_table_remove(o->mappings, &o->ino);
	munmap(o->sem, sizeof(sem_t));
	close(o->notify_fd);
	g_mutex_clear(&o->lock);
	g_cond_clear(&o->taken);
	g_free(o);
}

static int sem_open_handle(struct ipc_object *obj, int flags, struct ipc_handle **out)
{
	struct sem_mapping *o = NULL;
	int r = map_sem_file(obj, &o);
	if (r < 0)
		return r;
	struct ipc_handle *h = g_new0(struct ipc_handle, 1);
	h->map = o;
	*out = h;
	return 0;
}

static void sem_close_handle(struct ipc_handle *h)
{
	unmap_sem(h->map);
	g_free(h);
}

/* The value, as text; a read from offset 0 takes it afresh, later offsets
 * of the same open continue that text. */
static ssize_t sem_read(struct ipc_handle *h, void *buf, size_t len, off_t offset,
			struct ipc_progress *progress)
{
	if (offset == 0 || h->text_len == 0) {
		int value;
		int r = sem_do(h->map->sem, OP_VALUE, &value);
		if (r < 0)
			return r;
		h->text_len = snprintf(h->text, sizeof(h->text), "%d\n", value);
	}
	if (offset >= (off_t)h->text_len)
		return 0;
	size_t n = MIN(len, h->text_len - offset);
	memcpy(buf, h->text + offset, n);
	return n;
}

/* "post", "+N" or "N" posts N times; "wait" or "-N" waits N times; each
 * followed by at most one newline, which echo adds, and nothing else. */
static int parse_command(const char *buf, size_t len, bool *is_wait, long *count)
{
	if (len > 32 || memchr(buf, '\0', len))
		return -EINVAL;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	g_autofree char *text = g_strndup(buf, len);
	*is_wait = false;
	*count = 1;
	if (strcmp(text, "post") == 0)
		return 0;
	if (strcmp(text, "wait") == 0) {
		*is_wait = true;
		return 0;
	}
	const char *number = text;
	if (text[0] == '+' || text[0] == '-') {
		*is_wait = text[0] == '-';
		number++;
	}
	return ipc_parse_long(number, 1, SEM_MAX_COUNT, count);
}

static ssize_t post_tokens(struct sem_mapping *o, long count)
{
	int value;
	int r = sem_do(o->sem, OP_VALUE, &value);
	/* A value past SEM_VALUE_MAX (garbage a writer of the file put there)
	 * reads as negative: counted as the unsigned it is, it is too high. */
	if (r == 0 && (guint64)(unsigned int)value + (guint64)count > SEM_VALUE_MAX)
		r = -EOVERFLOW;
	for (long i = 0; r == 0 && i < count; i++)
		r = sem_do(o->sem, OP_POST, NULL);
	/* The token thread, if waiters have one, need not wait out its pause. */
	g_mutex_lock(&o->lock);
	g_cond_signal(&o->taken);
	g_mutex_unlock(&o->lock);
	return r;
}

/* Takes tokens for one request, in arrival order: a request that has not
 * waited yet goes behind those that do. */
static ssize_t take_tokens_for(struct sem_mapping *o, long count, struct ipc_progress *progress)
{
	g_mutex_lock(&o->lock);
	bool may_take = progress->waiting || o->pending == 0;
	int r = o->broken;
	if (r < 0)
		may_take = false;
	while (may_take && progress->done < count) {
		if (take_held(o)) {
			progress->done++;
			continue;
		}
		r = sem_do(o->sem, OP_TRYWAIT, NULL);
		if (r < 0)
			break;
		progress->done++;
	}
	if (progress->done == count) {
		if (progress->waiting)
			waiter_gone(o);
		progress->waiting = false;
		r = 1;
	} else if ((r == 0 || r == -EAGAIN) && !progress->may_wait) {
		r = -EAGAIN; /* given back by abandon: takes nothing */
	} else if (r == 0 || r == -EAGAIN) {
		if (!progress->waiting)
			o->pending++;
		progress->waiting = true;
		r = ensure_token_thread(o);
		if (r == 0)
			r = -EAGAIN;
	}
	g_mutex_unlock(&o->lock);
	return r;
}

static ssize_t sem_write(struct ipc_handle *h, const void *buf, size_t len, off_t offset,
			 struct ipc_progress *progress)
{
	bool is_wait;
	long count;
	ssize_t r = parse_command(buf, len, &is_wait, &count);
	if (r == 0)
		r = is_wait ? take_tokens_for(h->map, count, progress) : post_tokens(h->map, count);
	return r < 0 ? r : (ssize_t)len;
}

static ssize_t sem_abandon(struct ipc_handle *h, void *buf, size_t len,
			   struct ipc_progress *progress, ssize_t err)
{
	struct sem_mapping *o = h->map;
	g_mutex_lock(&o->lock);
	for (; progress->done > 0; progress->done--)
		sem_do(o->sem, OP_POST, NULL);
	if (progress->waiting)
		waiter_gone(o);
	progress->waiting = false;
	g_mutex_unlock(&o->lock);
	return err;
}

/* A waiting write waits for a token, which the eventfd announces. */
static int sem_wait_fd(struct ipc_handle *h, bool for_write, short *events)
{
	*events = POLLIN;
	return h->map->notify_fd;
}

static int sem_listxattr(struct ipc_object *o, GPtrArray *attrs)
{
	g_ptr_array_add(attrs, g_strdup(XATTR_VALUE));
	return 0;
}

static int sem_getxattr(struct ipc_object *o, const char *attr, GString *value)
{
	if (strcmp(attr, XATTR_VALUE) != 0)
		return -ENODATA;
	struct ipc_handle *h;
	int r = sem_open_handle(o, O_RDONLY, &h);
	if (r < 0)
		return r;
	int v;
	r = sem_do(h->map->sem, OP_VALUE, &v);
	if (r == 0)
		g_string_printf(value, "%d", v);
	sem_close_handle(h);
	return r;
}

const struct ipc_kind ipc_kind_sem = {
	.dir = "sem",
	.description = "POSIX named semaphores",
	.waits = true,
	.start = sem_start,
	.setup = sem_setup,
	.teardown = sem_teardown,
	.let_go = sem_let_go,
	.list = sem_list,
	.find = sem_find,
	.create = sem_create,
	.release = ipc_file_release,
	.file_id = ipc_file_id,
	.stat = sem_stat,
	.unlink = ipc_file_unlink,
	.chmod = ipc_file_chmod,
	.chown = ipc_file_chown,
	.truncate = sem_truncate,
	.set_times = ipc_file_set_times,
	.listxattr = sem_listxattr,
	.getxattr = sem_getxattr,
	.open = sem_open_handle,
	.read = sem_read,
	.write = sem_write,
	.abandon = sem_abandon,
	.wait_fd = sem_wait_fd,
	.close = sem_close_handle,
};
