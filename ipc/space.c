/* IPC namespaces as the kinds reach them (see space.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <glib.h>

#include "space.h"

#define FIND_TRIES 3

struct ipc_space {
	gint refs;
	bool own;
	ino_t ns;
	/* The process seen in it last, or 0: read and replaced by any thread
	 * that visits (handlers and pool threads), atomically. */
	gint pid;
	gint forsaken; /* set once it had no process: never entered again */
};

/* Set once by ipc_spaces_setup, read only after. */
static struct ipc_space own_space = { .refs = 1, .own = true };
static int own_fd = -1; /* the daemon's namespace, to come back to */

long ipc_ns_of(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/ns/ipc", (int)pid);
	struct stat st;
	return stat(path, &st) < 0 ? -errno : (long)st.st_ino;
}

int ipc_spaces_setup(void)
{
	own_fd = open("/proc/thread-self/ns/ipc", O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (own_fd < 0 || fstat(own_fd, &st) < 0)
		return -errno;
	own_space.ns = st.st_ino;
	return 0;
}

void ipc_spaces_teardown(void)
{
	if (own_fd >= 0)
		close(own_fd);
	own_fd = -1;
}

struct ipc_space *ipc_space_own(void)
{
	return &own_space;
}

int ipc_space_new(ino_t ns, pid_t pid, struct ipc_space **out)
{
	if (ipc_ns_of(pid) != (long)ns)
		return -ESRCH;
	struct ipc_space *s = g_new0(struct ipc_space, 1);
	s->refs = 1;
	s->ns = ns;
	s->pid = pid;
	*out = s;
	return 0;
}

struct ipc_space *ipc_space_ref(struct ipc_space *s)
{
	if (s && !s->own)
		g_atomic_int_inc(&s->refs);
	return s;
}

void ipc_space_unref(struct ipc_space *s)
{
	if (s && !s->own && g_atomic_int_dec_and_test(&s->refs))
		g_free(s);
}

bool ipc_space_is_own(const struct ipc_space *s)
{
	return !s || s->own;
}

ino_t ipc_space_ns(const struct ipc_space *s)
{
	return s ? s->ns : own_space.ns;
}

struct ns_pid {
	gint64 ns, pid;
};

static gint compare_ns(gconstpointer a, gconstpointer b)
{
	gint64 x = ((const struct ns_pid *)a)->ns, y = ((const struct ns_pid *)b)->ns;
	return (x > y) - (x < y);
}

int ipc_spaces_list(GArray *namespaces, GArray *pids)
{
	DIR *d = opendir("/proc");
	if (!d)
		return -errno;
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	g_autoptr(GArray) found = g_array_new(FALSE, FALSE, sizeof(struct ns_pid));
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end != '\0' || pid <= 0)
			continue;
		struct ns_pid p = { ipc_ns_of((pid_t)pid), pid };
		if (p.ns < 0 || (ino_t)p.ns == own_space.ns || g_hash_table_contains(seen, &p.ns))
			continue;
		g_array_append_val(found, p);
		g_hash_table_add(seen, g_memdup2(&p.ns, sizeof p.ns));
	}
	closedir(d);
	g_array_sort(found, compare_ns);
	for (guint i = 0; i < found->len; i++) {
		const struct ns_pid *p = &g_array_index(found, struct ns_pid, i);
		ino_t ns = (ino_t)p->ns;
		pid_t pid = (pid_t)p->pid;
		g_array_append_val(namespaces, ns);
		g_array_append_val(pids, pid);
	}
	return 0;
}

static pid_t find_process(ino_t ns)
{
	DIR *d = opendir("/proc");
	if (!d)
		return -errno;
	pid_t found = -ESRCH;
	struct dirent *e;
	while (found < 0 && (e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end == '\0' && pid > 0 && ipc_ns_of((pid_t)pid) == (long)ns)
			found = (pid_t)pid;
	}
	closedir(d);
	return found;
}

/* -ENOENT once no process is left in it: the namespace is gone. */
pid_t ipc_space_process(struct ipc_space *s)
{
	if (ipc_space_is_own(s))
		return getpid();
	if (g_atomic_int_get(&s->forsaken))
		return -ENOENT;
	pid_t pid = g_atomic_int_get(&s->pid);
	if (pid > 0 && ipc_ns_of(pid) == (long)s->ns)
		return pid;
	pid = find_process(s->ns);
	g_atomic_int_set(&s->pid, pid > 0 ? pid : 0);
	return pid == -ESRCH ? -ENOENT : pid;
}

/* A descriptor of what path names under process pid's /proc entry, made
 * only while pid is still in s: a pid reused by a process of another
 * namespace meanwhile is caught by the check after the open. */
static int open_in_process(struct ipc_space *s, const char *path, int flags)
{
	for (int i = 0; i < FIND_TRIES; i++) {
		pid_t pid = ipc_space_process(s);
		if (pid < 0)
			return pid;
		g_autofree char *full = g_strdup_printf("/proc/%d/%s", (int)pid, path);
		int fd = open(full, flags | O_CLOEXEC);
		int err = errno;
		if (ipc_ns_of(pid) == (long)s->ns)
			return fd >= 0 ? fd : -err;
		if (fd >= 0)
			close(fd);
		g_atomic_int_compare_and_exchange(&s->pid, pid, 0);
	}
	return -ENOENT;
}

/* Each thread's: the space it acts for now, and whether it is in it. */
static __thread struct ipc_space *visiting;
static __thread bool visiting_entered = true;

bool ipc_space_entered(void)
{
	return visiting_entered;
}

void ipc_space_forsake(struct ipc_space *s)
{
	if (!ipc_space_is_own(s))
		g_atomic_int_set(&s->forsaken, 1);
}

void ipc_space_home(void)
{
	if (setns(own_fd, CLONE_NEWIPC) < 0)
		g_error("cannot join the daemon's IPC namespace: %s", g_strerror(errno));
	visiting = NULL;
	visiting_entered = true;
}

struct ipc_space *ipc_space_current(void)
{
	return visiting;
}

int ipc_space_enter(struct ipc_space *s, struct ipc_visit *v)
{
	v->moved = false;
	v->before = visiting;
	v->before_entered = visiting_entered;
	visiting = s;
	visiting_entered = false;
	if (ipc_space_is_own(s)) {
		visiting_entered = true;
		return 0;
	}
	int fd = open_in_process(s, "ns/ipc", O_RDONLY);
	if (fd < 0)
		return fd;
	struct stat st;
	int err = fstat(fd, &st) < 0 ? errno : st.st_ino != s->ns ? ENOENT : 0;
	if (err == 0 && setns(fd, CLONE_NEWIPC) < 0)
		err = errno;
	close(fd);
	if (err)
		return -err;
	v->moved = visiting_entered = true;
	return 0;
}

void ipc_space_leave(struct ipc_visit *v)
{
	if (v->moved && setns(own_fd, CLONE_NEWIPC) < 0)
		g_error("cannot return to the daemon's IPC namespace: %s", g_strerror(errno));
	v->moved = false;
	visiting = v->before;
	visiting_entered = v->before_entered;
}

/* path below root (a descriptor of a process's root directory), resolved
 * as that process would: a symlink in its tree, "/dev/shm -> /etc" say,
 * stays inside it rather than reaching the daemon's own files. */
static int open_in_root(int root, const char *path, int flags)
{
	struct open_how how = {
		.flags = (unsigned)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, root, path, &how, sizeof how);
	return fd < 0 ? -errno : fd;
}

int ipc_space_open(struct ipc_space *s, const char *path, int flags)
{
	if (ipc_space_is_own(s)) {
		int fd = open(path, flags | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	int root = open_in_process(s, "root", O_PATH | O_DIRECTORY);
	if (root < 0)
		return root;
	int fd = open_in_root(root, path, flags);
	close(root);
	return fd;
}
