/* IPC namespaces as the kinds reach them (see space.h).
 *
 * Another namespace is reached through a pidfd of a process in it, never
 * through that process's /proc entries: reading /proc/PID/ns/ipc, root or
 * any file ptrace rules guard waits for a process that is in execve, and
 * one stuck there (closing a file of a FUSE file system that does not
 * answer) would stop whoever reads. A pidfd's namespace ioctls
 * (PIDFD_GET_IPC_NAMESPACE..., Linux 6.11) take no such lock. A pidfd
 * keeps the process's struct pid, not its namespaces: holding one keeps no
 * namespace alive. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/openat2.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <glib.h>

#include "space.h"

#ifndef PIDFS_IOCTL_MAGIC
#define PIDFS_IOCTL_MAGIC 0xFF
#endif
#ifndef PIDFD_GET_IPC_NAMESPACE
#define PIDFD_GET_IPC_NAMESPACE _IO(PIDFS_IOCTL_MAGIC, 2)
#define PIDFD_GET_MNT_NAMESPACE _IO(PIDFS_IOCTL_MAGIC, 3)
#define PIDFD_GET_USER_NAMESPACE _IO(PIDFS_IOCTL_MAGIC, 9)
#endif
#define AS_ROOT_STACK (64 << 10)

struct ipc_space {
	gint refs;
	bool own;
	ino_t ns;
	/* A process seen in it last: its pidfd, or -1, and its pid. Read and
	 * replaced by any thread that visits (handlers and pool threads). */
	GMutex process_lock;
	int pidfd;   /* guarded by process_lock */
	pid_t pid;   /* guarded by process_lock */
	gint forsaken; /* set once it had no process: never entered again */
};

/* Set once by ipc_spaces_setup, read only after. */
static struct ipc_space own_space = { .refs = 1, .own = true, .pidfd = -1 };
static int own_fd = -1;     /* the daemon's IPC namespace, to come back to */
static int own_mnt_fd = -1; /* its mount namespace, likewise */
static int own_cwd_fd = -1; /* its working directory */
static long own_user_ns;    /* the inode of its user namespace */

static int pidfd_of(pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	return fd < 0 ? -errno : fd;
}

/* A descriptor of the namespace (cmd: PIDFD_GET_*_NAMESPACE) that the
 * process of pidfd is in now; -ESRCH once it has exited. */
static int namespace_of(int pidfd, unsigned long cmd)
{
	int fd = ioctl(pidfd, cmd, 0);
	return fd < 0 ? -errno : fd;
}

static long inode_of(int fd)
{
	struct stat st;
	return fstat(fd, &st) < 0 ? -errno : (long)st.st_ino;
}

/* The inode number of the IPC namespace pidfd's process is in now. */
static long ipc_ns_of_pidfd(int pidfd)
{
	int fd = namespace_of(pidfd, PIDFD_GET_IPC_NAMESPACE);
	if (fd < 0)
		return fd;
	long ino = inode_of(fd);
	close(fd);
	return ino;
}

long ipc_ns_of(pid_t pid)
{
	int pidfd = pidfd_of(pid);
	if (pidfd < 0)
		return pidfd;
	long ino = ipc_ns_of_pidfd(pidfd);
	close(pidfd);
	return ino;
}

int ipc_spaces_setup(void)
{
	own_fd = open("/proc/thread-self/ns/ipc", O_RDONLY | O_CLOEXEC);
	own_mnt_fd = open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC);
	own_cwd_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	if (own_fd < 0 || own_mnt_fd < 0 || own_cwd_fd < 0 || fstat(own_fd, &st) < 0)
		return -errno;
	own_space.ns = st.st_ino;
	if (stat("/proc/self/ns/user", &st) < 0)
		return -errno;
	own_user_ns = (long)st.st_ino;
	/* The pidfd namespace ioctls are how other namespaces are reached. */
	int pidfd = pidfd_of(getpid());
	long ns = pidfd < 0 ? pidfd : ipc_ns_of_pidfd(pidfd);
	if (pidfd >= 0)
		close(pidfd);
	if (ns != (long)own_space.ns)
		g_message("ns/ is empty: the kernel has no pidfd namespace ioctls (Linux 6.11): %s",
			  g_strerror(ns < 0 ? (int)-ns : EINVAL));
	return 0;
}

void ipc_spaces_teardown(void)
{
	int *fds[] = { &own_fd, &own_mnt_fd, &own_cwd_fd };
	for (size_t i = 0; i < G_N_ELEMENTS(fds); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

struct ipc_space *ipc_space_own(void)
{
	return &own_space;
}

int ipc_space_new(ino_t ns, pid_t pid, struct ipc_space **out)
{
	int pidfd = pidfd_of(pid);
	if (pidfd < 0)
		return pidfd;
	if (ipc_ns_of_pidfd(pidfd) != (long)ns) {
		close(pidfd);
		return -ESRCH;
	}
	struct ipc_space *s = g_new0(struct ipc_space, 1);
	s->refs = 1;
	s->ns = ns;
	g_mutex_init(&s->process_lock);
	s->pidfd = pidfd;
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
	if (!s || s->own || !g_atomic_int_dec_and_test(&s->refs))
		return;
	if (s->pidfd >= 0)
		close(s->pidfd);
	g_mutex_clear(&s->process_lock);
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

/* Calls found(pid, its IPC namespace, data) for each process, until it
 * returns false. Only /proc's directory is read, never a process's own
 * entries. */
static int each_process(bool (*found)(pid_t pid, long ns, void *data), void *data)
{
	DIR *d = opendir("/proc");
	if (!d)
		return -errno;
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end != '\0' || pid <= 0)
			continue;
		long ns = ipc_ns_of((pid_t)pid);
		if (ns >= 0 && !found((pid_t)pid, ns, data))
			break;
	}
	closedir(d);
	return 0;
}

struct listing {
	GHashTable *seen;
	GArray *found;
};

static bool list_one(pid_t pid, long ns, void *data)
{
	struct listing *l = data;
	struct ns_pid p = { ns, pid };
	if ((ino_t)ns != own_space.ns && !g_hash_table_contains(l->seen, &p.ns)) {
		g_array_append_val(l->found, p);
		g_hash_table_add(l->seen, g_memdup2(&p.ns, sizeof p.ns));
	}
	return true;
}

int ipc_spaces_list(GArray *namespaces, GArray *pids)
{
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	g_autoptr(GArray) found = g_array_new(FALSE, FALSE, sizeof(struct ns_pid));
	struct listing l = { seen, found };
	int r = each_process(list_one, &l);
	if (r < 0)
		return r;
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

struct search {
	ino_t ns;
	pid_t pid;
};

static bool is_in(pid_t pid, long ns, void *data)
{
	struct search *s = data;
	if ((ino_t)ns != s->ns)
		return true;
	s->pid = pid;
	return false;
}

/* A process in s now, held in s->pidfd; -ENOENT if none is left. Called
 * holding s->process_lock. */
static int find_process(struct ipc_space *s)
{
	if (s->pidfd >= 0 && ipc_ns_of_pidfd(s->pidfd) == (long)s->ns)
		return 0;
	if (s->pidfd >= 0)
		close(s->pidfd);
	s->pidfd = -1;
	s->pid = 0;
	for (;;) {
		struct search found = { s->ns, 0 };
		int r = each_process(is_in, &found);
		if (r < 0)
			return r;
		if (found.pid == 0)
			return -ENOENT;
		int pidfd = pidfd_of(found.pid);
		/* The pid may have exited, or left, since it was seen. */
		if (pidfd >= 0 && ipc_ns_of_pidfd(pidfd) == (long)s->ns) {
			s->pidfd = pidfd;
			s->pid = found.pid;
			return 0;
		}
		if (pidfd >= 0)
			close(pidfd);
	}
}

/* -ENOENT once no process is left in it: the namespace is gone. */
pid_t ipc_space_process(struct ipc_space *s)
{
	if (ipc_space_is_own(s))
		return getpid();
	if (g_atomic_int_get(&s->forsaken))
		return -ENOENT;
	g_mutex_lock(&s->process_lock);
	int r = find_process(s);
	pid_t pid = r < 0 ? r : s->pid;
	g_mutex_unlock(&s->process_lock);
	return pid;
}

/* A descriptor of s's own IPC namespace, or of the other namespace (cmd)
 * of a process that is in s. */
static int space_namespace(struct ipc_space *s, unsigned long cmd)
{
	if (g_atomic_int_get(&s->forsaken))
		return -ENOENT;
	g_mutex_lock(&s->process_lock);
	int r = find_process(s);
	int fd = r < 0 ? r : namespace_of(s->pidfd, cmd);
	g_mutex_unlock(&s->process_lock);
	if (fd >= 0 && cmd == PIDFD_GET_IPC_NAMESPACE && inode_of(fd) != (long)s->ns) {
		close(fd); /* it moved to another namespace just now */
		return -ENOENT;
	}
	return fd == -ESRCH ? -ENOENT : fd;
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
	int fd = space_namespace(s, PIDFD_GET_IPC_NAMESPACE);
	if (fd < 0)
		return fd;
	int err = setns(fd, CLONE_NEWIPC) < 0 ? errno : 0;
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

/* path below root (a descriptor of a namespace's root directory), resolved
 * as a process there would: a symlink in its tree, "/dev/shm -> /etc" say,
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

struct open_in_root_call {
	int root;
	const char *path;
	int flags;
};

static int open_in_root_of(void *arg)
{
	struct open_in_root_call *c = arg;
	return open_in_root(c->root, c->path, c->flags);
}

/* The root directory of mount namespace mnt: the calling thread steps in
 * and back out. Its file system information is made its own first, once,
 * since setns(CLONE_NEWNS) moves only a thread that shares it with no
 * other; the daemon keeps no relative path in it. */
static int root_of_mount_namespace(int mnt)
{
	static __thread bool own_fs;
	if (!own_fs && unshare(CLONE_FS) < 0)
		return -errno;
	own_fs = true;
	if (setns(mnt, CLONE_NEWNS) < 0)
		return -errno;
	int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	int err = errno;
	if (setns(own_mnt_fd, CLONE_NEWNS) < 0 || fchdir(own_cwd_fd) < 0)
		g_error("cannot return to the daemon's mount namespace: %s", g_strerror(errno));
	return root >= 0 ? root : -err;
}

int ipc_space_open(struct ipc_space *s, const char *path, int flags)
{
	if (ipc_space_is_own(s)) {
		int fd = open(path, flags | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	int mnt = space_namespace(s, PIDFD_GET_MNT_NAMESPACE);
	if (mnt < 0)
		return mnt;
	int root = root_of_mount_namespace(mnt);
	close(mnt);
	if (root < 0)
		return root;
	struct open_in_root_call c = { root, path, flags };
	int fd = ipc_space_as_root(s, open_in_root_of, &c);
	close(root);
	return fd;
}

/* What runs as root of another user namespace: in a child that shares the
 * caller's memory and descriptors and stops it until done (CLONE_VM,
 * CLONE_FILES, CLONE_VFORK), since a thread of a process with several
 * can't join another user namespace. The child makes system calls only:
 * credentials are set with the raw calls, as glibc's wrappers would change
 * every thread of the daemon. */
struct as_root {
	int user_ns;
	int (*fn)(void *arg);
	void *arg;
	int result;
};

static int as_root_child(void *data)
{
	struct as_root *a = data;
	/* No group of the daemon's comes along; then root of the namespace,
	 * which is the container's root on the host and has capabilities
	 * only over what the namespace maps. */
	if (syscall(SYS_setgroups, 0, NULL) < 0 || setns(a->user_ns, CLONE_NEWUSER) < 0 ||
	    syscall(SYS_setresgid, 0, 0, 0) < 0 || syscall(SYS_setresuid, 0, 0, 0) < 0)
		a->result = errno == EINVAL ? -EPERM : -errno;
	else
		a->result = a->fn(a->arg);
	_exit(0);
}

static int run_as_root_of(int user_ns, int (*fn)(void *arg), void *arg)
{
	void *stack = mmap(NULL, AS_ROOT_STACK, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		return -errno;
	struct as_root a = { user_ns, fn, arg, -EIO };
	pid_t child = clone(as_root_child, (char *)stack + AS_ROOT_STACK,
			    CLONE_VM | CLONE_FILES | CLONE_VFORK | SIGCHLD, &a);
	int r = child < 0 ? -errno : 0;
	while (child > 0 && waitpid(child, NULL, __WALL) < 0 && errno == EINTR)
		;
	munmap(stack, AS_ROOT_STACK);
	return r < 0 ? r : a.result;
}

bool ipc_space_own_users(struct ipc_space *s)
{
	if (ipc_space_is_own(s))
		return true;
	int user_ns = space_namespace(s, PIDFD_GET_USER_NAMESPACE);
	bool own = user_ns >= 0 && inode_of(user_ns) == own_user_ns;
	if (user_ns >= 0)
		close(user_ns);
	return own;
}

int ipc_space_as_root(struct ipc_space *s, int (*fn)(void *arg), void *arg)
{
	if (ipc_space_is_own(s))
		return fn(arg);
	int user_ns = space_namespace(s, PIDFD_GET_USER_NAMESPACE);
	if (user_ns < 0)
		return user_ns;
	int r = inode_of(user_ns) == own_user_ns ? fn(arg) : run_as_root_of(user_ns, fn, arg);
	close(user_ns);
	return r;
}
