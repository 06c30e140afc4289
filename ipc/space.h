/* ipc/space.h: one IPC namespace, as the kinds reach it: the daemon's own,
 * or another one reached through a process in it. Its System V objects
 * and POSIX queues are those of the namespace; its /dev/shm is the one
 * that process sees (its mount namespace's).
 *
 * Nothing here keeps another namespace alive: no descriptor of it is held
 * between calls. Each visit finds a process in it afresh (the one seen
 * last, checked, or another), and fails with -ENOENT once none is left. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

struct ipc_space;

/* Once, on the thread that starts the daemon: its own namespace. */
int ipc_spaces_setup(void);
void ipc_spaces_teardown(void);

/* The daemon's own namespace; NULL stands for it everywhere too. */
struct ipc_space *ipc_space_own(void);
/* Namespace ns (its inode number), reached through pid, a process in it. */
int ipc_space_new(ino_t ns, pid_t pid, struct ipc_space **out);
struct ipc_space *ipc_space_ref(struct ipc_space *s);
void ipc_space_unref(struct ipc_space *s);
bool ipc_space_is_own(const struct ipc_space *s);
ino_t ipc_space_ns(const struct ipc_space *s);
/* A process in the namespace now, or -ENOENT if there is none. */
pid_t ipc_space_process(struct ipc_space *s);

/* The calling thread is in s's IPC namespace from enter until leave: the
 * calls that act on the caller's namespace (msgget, semop, shmat, fsopen
 * of mqueue...) then act on s's. Visits do not nest. */
struct ipc_visit {
	bool moved;
	struct ipc_space *before;
	bool before_entered;
};
/* Fails with -ENOENT where no process is left; leave is called either way. */
int ipc_space_enter(struct ipc_space *s, struct ipc_visit *v);
void ipc_space_leave(struct ipc_visit *v);
/* The space the calling thread acts for, between enter and leave (even
 * one it could not enter); NULL (the daemon's own) otherwise. */
struct ipc_space *ipc_space_current(void);
/* Whether the calling thread is in the space it acts for: false between
 * an enter that failed and its leave. Nothing that acts on the caller's
 * namespace may be called then. */
bool ipc_space_entered(void);
/* First thing in every thread the daemon starts: a thread starts in the
 * namespace of the thread that made it, which may be visiting another. */
void ipc_space_home(void);
/* s had no process left: it is never entered again, even should a new
 * namespace take its inode number. */
void ipc_space_forsake(struct ipc_space *s);

/* path, absolute, opened with flags as root of s sees it, from the root
 * of its mount namespace. */
int ipc_space_open(struct ipc_space *s, const char *path, int flags);
/* fn(arg) with the rights of root of s's user namespace, where that is
 * not the daemon's, so that below ns/N the daemon does nothing that N's
 * own root could not; else as the daemon. fn's return is returned; fn
 * makes system calls only (no allocation, no glibc call that keeps
 * state), since it may run in a child that shares the daemon's memory. */
int ipc_space_as_root(struct ipc_space *s, int (*fn)(void *arg), void *arg);
/* Whether s's user namespace is the daemon's: its uids and gids are the
 * daemon's. */
bool ipc_space_own_users(struct ipc_space *s);

/* The inode number of process pid's IPC namespace, or a negative errno. */
long ipc_ns_of(pid_t pid);

/* Every IPC namespace but the daemon's own that has a process: their
 * inode numbers (ino_t), ascending, and one process of each (pid_t). */
int ipc_spaces_list(GArray *namespaces, GArray *pids);
