/* System V semaphore sets: sysv/sem/KEY.
 *
 * Reading shows each semaphore's value, one per line. A write is one
 * semop over the set, all of it or nothing, written as operations
 * separated by spaces: "0-1 2+1" takes one from semaphore 0 and gives one
 * to semaphore 2, "1=0" waits until semaphore 1 is zero. A semop that must
 * wait runs blocked on a thread of the pool in blocking.c; giving it up
 * stops it before it did anything, since semop is atomic. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/sem.h>

#include "blocking.h"
#include "sysv.h"

#define SEM_AMOUNT_MAX SHRT_MAX /* sem_op is a short */
#define WRITE_MAX (1 << 20)    /* the longest list of operations */

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
	struct seminfo *info;
};

struct ipc_handle {
	int id;
	GString *text; /* the values as read at offset 0 */
};

/* One semop that waits, carried by a pool thread. */
struct sem_wait {
	int id;
	struct sembuf *ops;
	size_t count;
	struct ipc_blocking *call;
};

static long option_nsems;
static const struct ipc_option sem_options[] = {
	{ "sysv_sem_nsems", "semaphores in a set created through the mount (default 1)",
	  &option_nsems, 1, 65535 },
	{ NULL },
};
/* As semid_ds names them; otime and ctime in seconds since the epoch, 0
 * for never (otime is also the file's atime and mtime, ctime its ctime). */
static const char *const counter_names[] = { "nsems", "otime", "ctime", NULL };
/* Per semaphore of the set, one line each in order, as ipcs -s -i shows
 * them: semctl's GETVAL, GETNCNT, GETZCNT and GETPID. */
static const char *const text_names[] = { "semval", "semncnt", "semzcnt", "sempid", NULL };

static int semaphore_values(const struct sysv_stat *st, const char *name, GString *value)
{
	static const struct {
		const char *name;
		int cmd;
	} cmds[] = { { "semval", GETVAL }, { "semncnt", GETNCNT }, { "semzcnt", GETZCNT },
		     { "sempid", GETPID } };
	int cmd = -1;
	for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++)
		if (strcmp(name, cmds[i].name) == 0)
			cmd = cmds[i].cmd;
	if (cmd < 0)
		return -ENODATA;
	g_string_truncate(value, 0);
	for (long n = 0; n < st->counters[0]; n++) {
		int v = semctl(st->id, (int)n, cmd);
		if (v < 0)
			return errno == EINVAL ? -EIDRM : -errno; /* gone: as a read */
		g_string_append_printf(value, "%d\n", v);
	}
	return 0;
}

static int sem_get(key_t key, int flags, long nsems)
{
	int id = semget(key, (int)nsems, flags);
	return id < 0 ? -errno : id;
}

static int sem_stat(int id_or_index, bool by_index, struct sysv_stat *st)
{
	struct semid_ds ds;
	int r = semctl(id_or_index, 0, by_index ? SEM_STAT_ANY : IPC_STAT, (union semun){ .buf = &ds });
	if (r < 0)
		return -errno;
	int id = by_index ? r : id_or_index;
	*st = (struct sysv_stat){
		.id = id,
		.key = ds.sem_perm.__key,
		.attr = {
			.uid = ds.sem_perm.uid,
			.gid = ds.sem_perm.gid,
			.mode = ds.sem_perm.mode & 0777,
			.size = ds.sem_nsems, /* ls -l shows how many semaphores */
			.atime = { ds.sem_otime, 0 },
			.mtime = { ds.sem_otime, 0 },
			.ctime = { ds.sem_ctime, 0 },
			.nlink = 1,
			.id = (uint64_t)id,
		},
		.cuid = ds.sem_perm.cuid,
		.cgid = ds.sem_perm.cgid,
		.mode_flags = ds.sem_perm.mode & ~0777u,
		.counters = { ds.sem_nsems, ds.sem_otime, ds.sem_ctime },
	};
	return 0;
}

static int sem_max_index(void)
{
	struct seminfo info;
	int r = semctl(0, 0, SEM_INFO, (union semun){ .info = &info });
	return r < 0 ? -errno : r;
}

static int sem_set_owner(int id, uid_t uid, gid_t gid, mode_t mode)
{
	struct semid_ds ds;
	if (semctl(id, 0, IPC_STAT, (union semun){ .buf = &ds }) < 0)
		return -errno;
	if (uid != (uid_t)-1)
		ds.sem_perm.uid = uid;
	if (gid != (gid_t)-1)
		ds.sem_perm.gid = gid;
	if (mode != (mode_t)-1)
		ds.sem_perm.mode = mode & 0777;
	return semctl(id, 0, IPC_SET, (union semun){ .buf = &ds }) < 0 ? -errno : 0;
}

static int sem_remove(int id)
{
	return semctl(id, 0, IPC_RMID) < 0 ? -errno : 0;
}

static const struct sysv_kind sem_sysv = {
	.xattr_prefix = "user.sem.",
	.counter_names = counter_names,
	.text_names = text_names,
	.text_xattr = semaphore_values,
	.create_xattr = "user.sem.nsems",
	.create_size = &sem_options[0],
	.create_default = 1,
	.get = sem_get,
	.stat = sem_stat,
	.max_index = sem_max_index,
	.set_owner = sem_set_owner,
	.remove = sem_remove,
};

SYSV_KIND_OPS(sysv_sem, sem_sysv)

static int sem_open_handle(struct ipc_object *o, int flags, struct ipc_handle **out)
{
	struct sysv_stat st;
	if (!sysv_object_stat(o, &st))
		return -EIDRM;
	struct ipc_handle *h = g_new0(struct ipc_handle, 1);
	h->id = o->id;
	h->text = g_string_new(NULL);
	*out = h;
	return 0;
}

static void sem_close_handle(struct ipc_handle *h)
{
	g_string_free(h->text, TRUE);
	g_free(h);
}

static int read_values(struct ipc_handle *h)
{
	struct semid_ds ds;
	if (semctl(h->id, 0, IPC_STAT, (union semun){ .buf = &ds }) < 0)
		return sysv_call_errno(&sem_sysv, h->id);
	g_autofree unsigned short *values = g_new0(unsigned short, MAX(ds.sem_nsems, 1));
	if (semctl(h->id, 0, GETALL, (union semun){ .array = values }) < 0)
		return sysv_call_errno(&sem_sysv, h->id);
	g_string_truncate(h->text, 0);
	for (unsigned long i = 0; i < ds.sem_nsems; i++)
		g_string_append_printf(h->text, "%u\n", values[i]);
	return 0;
}

/* The values, one per line; a read from offset 0 takes them afresh, later
 * offsets of the same open continue that text. */
static ssize_t sem_read(struct ipc_handle *h, void *buf, size_t len, off_t offset,
			struct ipc_progress *progress)
{
	if (offset == 0 || h->text->len == 0) {
		int r = read_values(h);
		if (r < 0)
			return r;
	}
	if (offset >= (off_t)h->text->len)
		return 0;
	size_t n = MIN(len, h->text->len - offset);
	memcpy(buf, h->text->str + offset, n);
	return n;
}

/* One operation: NUM+AMOUNT, NUM-AMOUNT or NUM=0. */
static int parse_op(const char *word, struct sembuf *op)
{
	const char *sign = word;
	while (g_ascii_isdigit(*sign))
		sign++;
	if (sign == word || (*sign != '+' && *sign != '-' && *sign != '='))
		return -EINVAL;
	g_autofree char *num = g_strndup(word, sign - word);
	long semnum, amount;
	long min = *sign == '=' ? 0 : 1, max = *sign == '=' ? 0 : SEM_AMOUNT_MAX;
	if (ipc_parse_long(num, 0, USHRT_MAX, &semnum) < 0 ||
	    ipc_parse_long(sign + 1, min, max, &amount) < 0)
		return -EINVAL;
	op->sem_num = (unsigned short)semnum;
	op->sem_op = (short)(*sign == '-' ? -amount : amount);
	op->sem_flg = 0;
	return 0;
}

static int parse_ops(const char *buf, size_t len, GArray *ops)
{
	if (len > WRITE_MAX || memchr(buf, '\0', len))
		return -EINVAL;
	g_autofree char *text = g_strndup(buf, len);
	g_auto(GStrv) words = g_strsplit_set(text, " \t\n", -1);
	for (size_t i = 0; words[i]; i++) {
		struct sembuf op;
		if (words[i][0] == '\0')
			continue;
		int r = parse_op(words[i], &op);
		if (r < 0)
			return r;
		g_array_append_val(ops, op);
	}
	return ops->len > 0 ? 0 : -EINVAL;
}

static long run_semop(void *data)
{
	struct sem_wait *w = data;
	return semop(w->id, w->ops, w->count) < 0 ? sysv_call_errno(&sem_sysv, w->id) : 0;
}

static void set_nowait(struct sem_wait *w, bool nowait)
{
	for (size_t i = 0; i < w->count; i++)
		w->ops[i].sem_flg = nowait ? IPC_NOWAIT : 0;
}

static void wait_free(struct sem_wait *w)
{
	if (!w)
		return;
	ipc_blocking_free(w->call);
	g_free(w->ops);
	g_free(w);
}

/* Tries at once; where the semop must wait, hands it to a pool thread. */
static ssize_t semop_or_wait(struct sem_wait *w, struct ipc_progress *progress)
{
	set_nowait(w, true);
	long r = run_semop(w);
	if (r != -EAGAIN || !progress->may_wait)
		return r;
	set_nowait(w, false);
	return ipc_blocking_wait(&w->call, run_semop, w, progress);
}

static ssize_t finish_wait(struct ipc_progress *progress, size_t len)
{
	struct sem_wait *w = progress->state;
	long r;
	if (!ipc_blocking_done(w->call, &r))
		return -EAGAIN;
	progress->state = NULL;
	progress->waiting = false;
	wait_free(w);
	return r < 0 ? r : (ssize_t)len;
}

static ssize_t sem_write(struct ipc_handle *h, const void *buf, size_t len, off_t offset,
			 struct ipc_progress *progress)
{
	if (progress->state)
		return finish_wait(progress, len);
	g_autoptr(GArray) ops = g_array_new(FALSE, FALSE, sizeof(struct sembuf));
	int r = parse_ops(buf, len, ops);
	if (r < 0)
		return r;
	struct sem_wait *w = g_new0(struct sem_wait, 1);
	w->id = h->id;
	w->count = ops->len;
	w->ops = (struct sembuf *)g_array_free(g_steal_pointer(&ops), FALSE);
	ssize_t n = semop_or_wait(w, progress);
	if (n == -EAGAIN && progress->state)
		return n;
	wait_free(w);
	return n < 0 ? n : (ssize_t)len;
}

/* A semop that completed before it could be stopped stands. */
static ssize_t sem_abandon(struct ipc_handle *h, void *buf, size_t len,
			   struct ipc_progress *progress, ssize_t err)
{
	struct sem_wait *w = progress->state;
	if (!w)
		return err;
	progress->state = NULL;
	long r = ipc_blocking_stop(w->call);
	wait_free(w);
	return r == 0 ? (ssize_t)len : err;
}

const struct ipc_kind ipc_kind_sysv_sem = {
	.dir = "sysv/sem",
	.description = "System V semaphore sets",
	.options = sem_options,
	.waits = true,
	SYSV_FIELDS(sysv_sem),
	.open = sem_open_handle,
	.read = sem_read,
	.write = sem_write,
	.abandon = sem_abandon,
	.close = sem_close_handle,
};
