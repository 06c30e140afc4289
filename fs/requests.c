/* The daemon lock, and the request table that takes it.
 *
 * The locking rule: one lock, the daemon lock, guards all of the daemon's
 * state, fs/'s (nodes, open files, parked requests, counts) and ipc/'s
 * (the kinds' tables). Whoever runs ipcfs code holds it:
 * - the main thread, always, except while its loop polls: every callback
 *   of the main loop (the FUSE device, parked requests' descriptors,
 *   timeouts, signals) runs holding it;
 * - any other thread that libfuse calls a handler on (over io_uring, one
 *   thread per CPU), for the time of that one handler: the table here
 *   wraps every handler in request_enter() and request_leave().
 * It is recursive, since the main thread takes it again for the handlers
 * it calls. No code holding it waits: handlers never block, and what
 * waits is parked (fs/park.c). The threads of ipc/ (the System V pool of
 * ipc/blocking.c, the semaphore token takers of ipc/sem.c) keep their
 * state behind locks of their own and never take this one.
 *
 * On a few CPUs one lock costs little: a request holds it for a few
 * microseconds. The benchmark's rows with several producer/consumer
 * pairs are where contention would show. */
#include <errno.h>
#include <pthread.h>

#include "fs.h"

static GRecMutex daemon_lock;
static bool stopped; /* the daemon is stopping: answer without touching state */

static gint poll_unlocked(GPollFD *fds, guint nfds, gint timeout)
{
	g_rec_mutex_unlock(&daemon_lock);
	gint r = g_poll(fds, nfds, timeout);
	g_rec_mutex_lock(&daemon_lock);
	return r;
}

void requests_lock_main_loop(GMainContext *context)
{
	g_rec_mutex_lock(&daemon_lock);
	g_main_context_set_poll_func(context, poll_unlocked);
}

void requests_unlock_main_loop(GMainContext *context)
{
	g_main_context_set_poll_func(context, NULL);
	g_rec_mutex_unlock(&daemon_lock);
}

void requests_stop(void)
{
	g_rec_mutex_lock(&daemon_lock);
	stopped = true;
	g_rec_mutex_unlock(&daemon_lock);
}

/* What a request is, for the checks made before its handler. */
enum request_kind {
	REQUEST_FORGET,  /* no answer, never refused */
	REQUEST_RELEASE, /* gives back what was taken: never refused but at stop */
	REQUEST_STAT,    /* getattr: anyone may stat ns/ itself, as any 0700 directory */
	REQUEST_ACCESS,  /* everything else: the caller is checked */
};

/* In ns/ and below every request comes from root: the modes of ns/ and
 * ns/N keep others from walking in, but not a process that was given a
 * descriptor or a working directory there, so each request is checked
 * too. */
static int caller_check(fuse_req_t req, fuse_ino_t ino, enum request_kind kind)
{
	const struct node *n = node_get(ino);
	if (!n || !node_in_ns(n) || fuse_req_ctx(req)->uid == 0)
		return 0;
	return kind == REQUEST_STAT && n->ns_root ? 0 : EACCES;
}

/* Takes the lock for one handler; 0, or the errno to answer instead of
 * calling it, or -1 once the daemon stops (no state is touched then, the
 * answer not counted). libfuse stops its ring threads with pthread_cancel, which
 * must not end one inside a handler, holding the lock: cancellation
 * waits until the handler is done. */
static int request_enter(fuse_req_t req, fuse_ino_t ino, enum request_kind kind,
			 int *cancel_state)
{
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, cancel_state);
	g_rec_mutex_lock(&daemon_lock);
	if (stopped)
		return -1;
	transport_request(req);
	if (kind != REQUEST_FORGET)
		stats_request(req, ino);
	return kind >= REQUEST_STAT ? caller_check(req, ino, kind) : 0;
}

static void request_leave(int cancel_state)
{
	g_rec_mutex_unlock(&daemon_lock);
	pthread_setcancelstate(cancel_state, NULL);
}

/* A handler, called holding the lock; where request_enter refuses it
 * (the daemon stops, the caller may not), answered with refusal instead,
 * which may use err. */
#define LOCKED_OR(op, ino, kind, refusal, params, args)                  \
	static void locked_##op params                                    \
	{                                                                 \
		int cancel_state;                                         \
		int err = request_enter(req, ino, kind, &cancel_state);   \
		if (err == 0)                                             \
			ipcfs_handlers.op args;                           \
		else                                                      \
			refusal;                                          \
		request_leave(cancel_state);                              \
	}
#define LOCKED_AS(op, ino, kind, params, args) \
	LOCKED_OR(op, ino, kind, err < 0 ? fuse_reply_err(req, ENODEV) : reply_err(req, err), params, args)
#define LOCKED(op, ino, params, args) LOCKED_AS(op, ino, REQUEST_ACCESS, params, args)

LOCKED(lookup, parent, (fuse_req_t req, fuse_ino_t parent, const char *name), (req, parent, name))
LOCKED_AS(getattr, ino, REQUEST_STAT,
	  (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi), (req, ino, fi))
LOCKED(setattr, ino,
       (fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi),
       (req, ino, attr, to_set, fi))
LOCKED(mknod, parent, (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev),
       (req, parent, name, mode, rdev))
LOCKED(mkdir, parent, (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode),
       (req, parent, name, mode))
LOCKED(unlink, parent, (fuse_req_t req, fuse_ino_t parent, const char *name), (req, parent, name))
LOCKED(rmdir, parent, (fuse_req_t req, fuse_ino_t parent, const char *name), (req, parent, name))
LOCKED(symlink, parent, (fuse_req_t req, const char *link, fuse_ino_t parent, const char *name),
       (req, link, parent, name))
LOCKED(rename, parent,
       (fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
	const char *newname, unsigned int flags),
       (req, parent, name, newparent, newname, flags))
LOCKED(link, ino, (fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname),
       (req, ino, newparent, newname))
LOCKED(open, ino, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi), (req, ino, fi))
LOCKED(read, ino, (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi),
       (req, ino, size, off, fi))
LOCKED(write, ino,
       (fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
	struct fuse_file_info *fi),
       (req, ino, buf, size, off, fi))
LOCKED_AS(flush, ino, REQUEST_RELEASE, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
	  (req, ino, fi))
LOCKED_AS(release, ino, REQUEST_RELEASE, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
	  (req, ino, fi))
LOCKED(fsync, ino, (fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi),
       (req, ino, datasync, fi))
LOCKED(opendir, ino, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi), (req, ino, fi))
LOCKED(readdir, ino,
       (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi),
       (req, ino, size, off, fi))
LOCKED(readdirplus, ino,
       (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi),
       (req, ino, size, off, fi))
LOCKED_AS(releasedir, ino, REQUEST_RELEASE,
	  (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi), (req, ino, fi))
LOCKED(statfs, ino, (fuse_req_t req, fuse_ino_t ino), (req, ino))
LOCKED(setxattr, ino,
       (fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags),
       (req, ino, name, value, size, flags))
LOCKED(getxattr, ino, (fuse_req_t req, fuse_ino_t ino, const char *name, size_t size),
       (req, ino, name, size))
LOCKED(listxattr, ino, (fuse_req_t req, fuse_ino_t ino, size_t size), (req, ino, size))
LOCKED(removexattr, ino, (fuse_req_t req, fuse_ino_t ino, const char *name), (req, ino, name))
LOCKED(create, parent,
       (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi),
       (req, parent, name, mode, fi))
LOCKED(poll, ino,
       (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph),
       (req, ino, fi, ph))
LOCKED(lseek, ino, (fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi),
       (req, ino, off, whence, fi))

/* Forgets have no answer, and are not counted; once stopping, there is
 * nothing to forget. */
#define LOCKED_FORGET(op, params, args) \
	LOCKED_OR(op, FUSE_ROOT_ID, REQUEST_FORGET, fuse_reply_none(req), params, args)

LOCKED_FORGET(forget, (fuse_req_t req, fuse_ino_t ino, uint64_t nlookup), (req, ino, nlookup))
LOCKED_FORGET(forget_multi, (fuse_req_t req, size_t count, struct fuse_forget_data *forgets),
	      (req, count, forgets))

/* libfuse calls init on the thread that reads the FUSE device, the main
 * thread, which holds the lock already. */
const struct fuse_lowlevel_ops ipcfs_ops = {
	.init = ipcfs_init,
	.lookup = locked_lookup,
	.forget = locked_forget,
	.forget_multi = locked_forget_multi,
	.getattr = locked_getattr,
	.setattr = locked_setattr,
	.mknod = locked_mknod,
	.mkdir = locked_mkdir,
	.unlink = locked_unlink,
	.rmdir = locked_rmdir,
	.symlink = locked_symlink,
	.rename = locked_rename,
	.link = locked_link,
	.open = locked_open,
	.read = locked_read,
	.write = locked_write,
	.flush = locked_flush,
	.release = locked_release,
	.fsync = locked_fsync,
	.opendir = locked_opendir,
	.readdir = locked_readdir,
	.readdirplus = locked_readdirplus,
	.releasedir = locked_releasedir,
	.statfs = locked_statfs,
	.setxattr = locked_setxattr,
	.getxattr = locked_getxattr,
	.listxattr = locked_listxattr,
	.removexattr = locked_removexattr,
	.create = locked_create,
	.poll = locked_poll,
	.lseek = locked_lseek,
};
