/* Reading every process's /proc entries, leaving out the ones that are
 * stuck (see procscan.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "procscan.h"
#include "space.h"

enum slot_state {
	SLOT_WAITING,   /* no reader has taken it yet */
	SLOT_READING,   /* a reader reads it since since */
	SLOT_READ,      /* found holds what was found */
	SLOT_LEFT_OUT,  /* not read in time, or never given a reader */
};

struct slot {
	pid_t pid;
	enum slot_state state;
	gint64 since;
	gpointer found;
};

/* One scan: held by the scanning thread until it is done and by each of
 * its readers until it ends, which for one left waiting on a stuck
 * process may be much later. */
struct scan {
	gint refs;
	int proc; /* /proc */
	ipc_procscan_read_fn read;
	GDestroyNotify found_free;
	gpointer arg;
	GDestroyNotify arg_free;
	GMutex lock;
	GCond changed;
	/* Guarded by lock. */
	struct slot *slots;
	guint count;
	guint next;     /* the first slot no reader has taken */
	guint finished; /* slots read or left out */
	guint readers;  /* readers not waiting on a process past its deadline */
};

/* Processes a reader waits on past their deadline, until it is done with
 * them: pid -> its count of such readers. Guarded by stuck_lock. */
static GMutex stuck_lock;
static GHashTable *stuck;

static void stuck_add(pid_t pid)
{
	g_mutex_lock(&stuck_lock);
	if (!stuck)
		stuck = g_hash_table_new(g_direct_hash, g_direct_equal);
	gpointer key = GINT_TO_POINTER(pid);
	g_hash_table_insert(stuck, key,
			    GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(stuck, key)) + 1));
	g_mutex_unlock(&stuck_lock);
}

static void stuck_remove(pid_t pid)
{
	g_mutex_lock(&stuck_lock);
	gpointer key = GINT_TO_POINTER(pid);
	guint readers = GPOINTER_TO_UINT(g_hash_table_lookup(stuck, key));
	if (readers > 1)
		g_hash_table_insert(stuck, key, GUINT_TO_POINTER(readers - 1));
	else
		g_hash_table_remove(stuck, key);
	g_mutex_unlock(&stuck_lock);
}

/* The stuck pids now, and how many readers wait on them. */
static GHashTable *stuck_now(guint *waiting)
{
	GHashTable *now = g_hash_table_new(g_direct_hash, g_direct_equal);
	*waiting = 0;
	g_mutex_lock(&stuck_lock);
	if (stuck) {
		GHashTableIter it;
		gpointer key, value;
		g_hash_table_iter_init(&it, stuck);
		while (g_hash_table_iter_next(&it, &key, &value)) {
			g_hash_table_add(now, key);
			*waiting += GPOINTER_TO_UINT(value);
		}
	}
	g_mutex_unlock(&stuck_lock);
	return now;
}

static void scan_unref(struct scan *sc)
{
	if (!g_atomic_int_dec_and_test(&sc->refs))
		return;
	for (guint i = 0; i < sc->count; i++)
		if (sc->slots[i].found)
			sc->found_free(sc->slots[i].found);
	g_free(sc->slots);
	sc->arg_free(sc->arg);
	close(sc->proc);
	g_mutex_clear(&sc->lock);
	g_cond_clear(&sc->changed);
	g_free(sc);
}

static gpointer read_process(struct scan *sc, pid_t pid)
{
	char name[16];
	g_snprintf(name, sizeof name, "%d", (int)pid);
	int dir = openat(sc->proc, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return NULL; /* gone, or not ours to see */
	gpointer found = sc->read(dir, pid, sc->arg);
	close(dir);
	return found;
}

/* Takes slots in turn until none is left. One that comes back from a
 * process after its deadline drops what it found, and helps on. */
static gpointer reader(gpointer data)
{
	struct scan *sc = data;
	ipc_space_home(); /* /proc is read from anywhere, but no namespace is kept */
	g_mutex_lock(&sc->lock);
	while (sc->next < sc->count) {
		struct slot *sl = &sc->slots[sc->next++];
		sl->state = SLOT_READING;
		sl->since = g_get_monotonic_time();
		g_mutex_unlock(&sc->lock);
		gpointer found = read_process(sc, sl->pid);
		g_mutex_lock(&sc->lock);
		if (sl->state == SLOT_READING) {
			sl->state = SLOT_READ;
			sl->found = found;
			sc->finished++;
		} else {
			if (found)
				sc->found_free(found);
			stuck_remove(sl->pid);
			sc->readers++;
		}
	}
	sc->readers--;
	g_cond_broadcast(&sc->changed);
	g_mutex_unlock(&sc->lock);
	scan_unref(sc);
	return NULL;
}

/* Called holding sc->lock. */
static bool start_reader(struct scan *sc)
{
	g_atomic_int_inc(&sc->refs);
	GThread *t = g_thread_try_new("ipcfs-proc", reader, sc, NULL);
	if (!t) {
		g_atomic_int_dec_and_test(&sc->refs); /* the scanner's keeps it */
		return false;
	}
	g_thread_unref(t);
	sc->readers++;
	return true;
}

/* Called holding sc->lock: slots read past the deadline are left out,
 * their readers left to the process. */
static void leave_out_late(struct scan *sc, gint64 now)
{
	for (guint i = 0; i < sc->next; i++) {
		struct slot *sl = &sc->slots[i];
		if (sl->state != SLOT_READING || now - sl->since < PROCSCAN_DEADLINE_MS * 1000)
			continue;
		g_info("process %d did not let its /proc entries be read within %d ms: left out",
		       (int)sl->pid, PROCSCAN_DEADLINE_MS);
		sl->state = SLOT_LEFT_OUT;
		stuck_add(sl->pid);
		sc->finished++;
		sc->readers--;
	}
}

/* Called holding sc->lock, with no reader left to take the next slots. */
static void find_a_reader(struct scan *sc)
{
	guint waiting;
	g_autoptr(GHashTable) unused = stuck_now(&waiting);
	if (waiting < PROCSCAN_STUCK_MAX && start_reader(sc))
		return;
	for (; sc->next < sc->count; sc->next++) {
		sc->slots[sc->next].state = SLOT_LEFT_OUT;
		sc->finished++;
	}
}

static void wait_for_readers(struct scan *sc)
{
	g_mutex_lock(&sc->lock);
	while (sc->finished < sc->count) {
		leave_out_late(sc, g_get_monotonic_time());
		if (sc->readers == 0 && sc->next < sc->count)
			find_a_reader(sc);
		if (sc->finished < sc->count)
			g_cond_wait_until(&sc->changed, &sc->lock,
					  g_get_monotonic_time() + PROCSCAN_DEADLINE_MS * 1000 / 2);
	}
	g_mutex_unlock(&sc->lock);
}

/* Every process in /proc but the daemon and those stuck now. */
static int list_processes(struct scan *sc)
{
	int fd = dup(sc->proc);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		int err = errno;
		if (fd >= 0)
			close(fd);
		return -err;
	}
	guint waiting;
	g_autoptr(GHashTable) skip = stuck_now(&waiting);
	g_hash_table_add(skip, GINT_TO_POINTER(getpid()));
	g_autoptr(GArray) slots = g_array_new(FALSE, TRUE, sizeof(struct slot));
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end != '\0' || pid <= 0 || g_hash_table_contains(skip, GINT_TO_POINTER(pid)))
			continue;
		struct slot sl = { .pid = (pid_t)pid };
		g_array_append_val(slots, sl);
	}
	closedir(d);
	sc->count = slots->len;
	sc->slots = (struct slot *)g_array_free(g_steal_pointer(&slots), FALSE);
	return 0;
}

static gint compare_results(gconstpointer a, gconstpointer b)
{
	pid_t x = ((const struct ipc_procscan_result *)a)->pid;
	pid_t y = ((const struct ipc_procscan_result *)b)->pid;
	return (x > y) - (x < y);
}

int ipc_procscan(ipc_procscan_read_fn read, GDestroyNotify found_free, gpointer arg,
		 GDestroyNotify arg_free, GArray *results)
{
	int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (proc < 0) {
		int err = errno;
		arg_free(arg);
		return -err;
	}
	struct scan *sc = g_new0(struct scan, 1);
	*sc = (struct scan){ .refs = 1, .proc = proc, .read = read, .found_free = found_free,
			     .arg = arg, .arg_free = arg_free };
	g_mutex_init(&sc->lock);
	g_cond_init(&sc->changed);
	int r = list_processes(sc);
	if (r == 0)
		wait_for_readers(sc);
	g_mutex_lock(&sc->lock);
	for (guint i = 0; i < sc->count; i++) {
		struct slot *sl = &sc->slots[i];
		if (sl->state != SLOT_READ || !sl->found)
			continue;
		struct ipc_procscan_result res = { sl->pid, g_steal_pointer(&sl->found) };
		g_array_append_val(results, res);
	}
	g_mutex_unlock(&sc->lock);
	g_array_sort(results, compare_results);
	scan_unref(sc);
	return r;
}
