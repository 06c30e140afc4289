/* ipc/holders.h: which processes hold which files, from /proc.
 *
 * A scan reads every process's fd/ and maps once, on a thread of the
 * scans' own (one, which serves them in turn):
 * reading another process's maps takes its memory map lock, which a
 * process waiting on the mount may hold up, so no request's thread, nor
 * the daemon lock, is kept while /proc is read. The daemon itself is left
 * out (what it holds, it holds for the mount's files), and so is any
 * process whose /proc entries it may not read. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

/* A file as /proc names it: the device and inode a holder's descriptor
 * or mapping shows. */
struct ipc_file_id {
	dev_t dev;
	ino_t ino;
	ino_t ns; /* for IPC_FILE_SYSV_SHM: the IPC namespace's inode; else 0 */
};
/* The device of a System V segment's id: the kernel gives each segment a
 * file whose inode number is its shmid, mapped as "/SYSV%08x" (its key);
 * the inode numbers of that internal mount are matched by that name, in
 * the holder's IPC namespace (shmids of two namespaces may be equal). */
#define IPC_FILE_SYSV_SHM ((dev_t)-1)

struct ipc_holders;

/* A scan for who holds any of the n files wanted (others are not kept). */
int ipc_holders_start(const struct ipc_file_id *wanted, size_t n, struct ipc_holders **out);
/* Readable once the scan is done. */
int ipc_holders_fd(const struct ipc_holders *s);
bool ipc_holders_done(const struct ipc_holders *s);
/* Once done: "PID COMMAND\n" for each process that holds any of the n
 * files ids, by pid; for a viewer other than root, only the processes
 * whose effective uid is the viewer's, those its own lsof would show. */
void ipc_holders_describe(const struct ipc_holders *s, const struct ipc_file_id *ids, size_t n,
			  uid_t viewer, GString *out);
/* Once done: whether any process holds id, one of those wanted. */
bool ipc_holders_held(const struct ipc_holders *s, const struct ipc_file_id *id);
/* May be called while the scan runs: it is then dropped once done. */
void ipc_holders_free(struct ipc_holders *s);
