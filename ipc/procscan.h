/* ipc/procscan.h: reading what every process's /proc entries say, where
 * any process may be stuck.
 *
 * Most of a process's /proc entries (fd/ links, maps, syscall, ns/, root)
 * wait while the process is in execve, and one can stay there as long as
 * it likes: closing its close-on-exec files, one of which is on a FUSE
 * file system that does not answer. Such a read can't be interrupted but
 * by killing the reader. So a scan reads processes on reader threads of
 * its own and gives each PROCSCAN_DEADLINE_MS: a process not read by then
 * is left out of the scan, its reader left to finish whenever the process
 * lets it, and the process is left out of every later scan until then.
 * Whoever waits for a scan is held up once, by at most that, per process
 * that gets stuck; no scan waits for a process that is stuck already.
 *
 * Runs on the calling thread (never one that answers requests, nor one
 * holding the daemon lock) and on threads of its own. */
#pragma once

#include <glib.h>
#include <sys/types.h>

#define PROCSCAN_DEADLINE_MS 100
/* Readers left waiting on stuck processes at most: past that, a scan
 * skips what it could not give a reader. */
#define PROCSCAN_STUCK_MAX 32

/* Reads process pid, whose /proc directory is pid_dir, on a reader
 * thread; returns what it found (NULL: nothing), which the scan keeps. */
typedef gpointer (*ipc_procscan_read_fn)(int pid_dir, pid_t pid, gpointer arg);

struct ipc_procscan_result {
	pid_t pid;
	gpointer found; /* read's, now the caller's */
};

/* Reads every process but the daemon with read(pid_dir, pid, arg), which
 * must be safe to call from several threads at once; found_free frees what
 * it returned. arg is the scan's from now on, freed with arg_free once no
 * reader needs it, which may be long after the scan returns. Appends a
 * struct ipc_procscan_result to results for each process read in time
 * with something found, in pid order. */
int ipc_procscan(ipc_procscan_read_fn read, GDestroyNotify found_free, gpointer arg,
		 GDestroyNotify arg_free, GArray *results);
