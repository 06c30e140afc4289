/* ipc/blocking.h: calls that wait in the kernel without a descriptor to
 * poll (System V msgrcv, msgsnd, semop), run on a bounded pool of threads.
 * A call is started, reported done through its eventfd, and stopped
 * (interrupted) when its request is given up. */
#pragma once

#include <glib.h>
#include <stdbool.h>

/* The call itself, blocking: a result >= 0, or a negative errno; -EINTR
 * when a signal stopped it. */
typedef long (*ipc_blocking_fn)(void *arg);
struct ipc_blocking;

#include "kind.h"

/* "-o sysv_threads=N": at most N threads; calls beyond wait for one. */
extern const struct ipc_option ipc_blocking_options[];
void ipc_blocking_setup(void);
void ipc_blocking_teardown(void);
int ipc_blocking_new(ipc_blocking_fn fn, void *arg, struct ipc_blocking **out);
/* Runs fn(arg) on a pool thread, now or once one is free. */
void ipc_blocking_start(struct ipc_blocking *c);
/* Starts fn(arg) for a request that waits, making *call if there is none
 * yet; the request then waits on its descriptor, with arg its state.
 * Returns -EAGAIN, or the error that kept it from starting. */
ssize_t ipc_blocking_wait(struct ipc_blocking **call, ipc_blocking_fn fn, void *arg,
			  struct ipc_progress *progress);
/* Runs fn(arg) on a pool thread, with nobody waiting for its result;
 * arg is g_free'd once it is done. */
int ipc_blocking_detach(ipc_blocking_fn fn, void *arg);
/* Readable once the call is done. */
int ipc_blocking_fd(const struct ipc_blocking *c);
/* Whether the call is done, and its result; it may then start again. */
bool ipc_blocking_done(struct ipc_blocking *c, long *result);
/* Stops the call if it still waits: its result, -EINTR if it had none. */
long ipc_blocking_stop(struct ipc_blocking *c);
void ipc_blocking_free(struct ipc_blocking *c);
