/* tests/fixture.h: the mount fixture for C tests, like lib.sh and
 * ipcfs_test.py.
 *
 * fixture_mount() starts a fresh ipcfs in the foreground at a temporary
 * directory; fixture_unmount() (also run at exit, on SIGINT, SIGTERM,
 * SIGHUP, and on SIGABRT from a failed assertion outside a case)
 * removes the queues named with this process's prefix, unmounts and stops
 * the daemon, whether the tests passed or not. Every case added with
 * fixture_add_case() runs in a child process of its own, with a time
 * limit, so a failed assertion or a hang fails that case only and never
 * leaves the mount behind. Needs IPCFS and MQTOOL from meson. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

/* One object's names: what a test makes must be named with the prefix so
 * that cleanup finds it. */
typedef struct {
	char *name;    /* "c<pid>-suffix": the bare name */
	char *slashed; /* "/c<pid>-suffix": as mq_open and shm_open want it */
	char *path;    /* "MNT/mq/c<pid>-suffix": the file in the mount */
} FixtureQueue;

/* g_test_init, set to go on after a failed case. */
void fixture_test_init(int *argc, char ***argv);
void fixture_mount(void);
/* Returns 0, or 1 when the daemon did not end cleanly. */
int fixture_unmount(void);
const char *fixture_mount_dir(void);
/* Path below the mount: fixture_path("mq") is "MNT/mq". Free it. */
char *fixture_path(const char *relative);

FixtureQueue *fixture_queue_new(const char *suffix);
/* Frees the names and removes the queue, if there is one. */
void fixture_queue_free(FixtureQueue *q);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FixtureQueue, fixture_queue_free)

/* Asserts that the daemon still answers: a stat of the mount root. */
void fixture_assert_serving(void);

/* Adds a case that runs in a child process, failed if it does not exit 0
 * within the time limit. */
void fixture_add_case(const char *test_path, void (*run)(void));

/* Runs fn(data) in a child process that exits with what fn returns. */
pid_t fixture_fork(int (*fn)(gconstpointer data), gconstpointer data);
/* Waits up to timeout_ms for pid to end; false if it has not. */
bool fixture_wait_pid(pid_t pid, int timeout_ms, int *status);
/* Waits (at most 5 s) until thread tid of process pid sleeps in the
 * system call numbered syscall_nr, as a blocked read or write does. */
bool fixture_wait_blocked(pid_t pid, pid_t tid, long syscall_nr);
