/* Calls that wait in the kernel and have no descriptor to poll: System V
 * msgrcv, msgsnd and semop. Each one that must wait runs on a thread of
 * a bounded pool, blocked in the real call, so the kernel orders and wakes
 * it like any other waiter; an eventfd per call tells the main loop it is
 * done. A call is stopped by a signal to its thread (these calls are never
 * restarted after a signal handler), sent again until the thread has
 * answered, since it may arrive just before the thread enters the call.
 *
 * At most `limit` threads exist; a call started beyond that waits in line
 * for a thread to come free. Threads left idle for a while end. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "blocking.h"

#define THREAD_STACK (128 * 1024)
#define IDLE_SECONDS 30
#define STOP_RESEND_US 1000

enum call_state { CALL_IDLE, CALL_QUEUED, CALL_RUNNING, CALL_DONE };

struct ipc_blocking {
	struct ipc_space *space; /* the one it was made for: where it runs */
	ipc_blocking_fn fn;
	void *arg;
	int fd; /* readable while state is CALL_DONE */
	enum call_state state;
	long result;
	bool stopping;
	bool detached; /* nobody waits for it: it frees itself and arg */
	pthread_t thread;
};

static GMutex lock;
static GCond work, done;
static GQueue queued;
static unsigned threads, idle_threads;
static long limit;
static bool shutting_down;
static int wake_signal;

static void on_wake_signal(int sig)
{
	/* Only here to make the blocked call return EINTR. */
}

const struct ipc_option ipc_blocking_options[] = {
	{ "sysv_threads", "System V calls that wait at once, each on a thread (default 1024)",
	  &limit, 1, 1 << 20 },
	{ NULL },
};

void ipc_blocking_setup(void)
{
	if (limit == 0)
		limit = 1024;
	wake_signal = SIGRTMIN;
	struct sigaction sa = { .sa_handler = on_wake_signal }; /* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	sigaction(wake_signal, &sa, NULL);
	shutting_down = false;
}

static long run_call(struct ipc_blocking *c)
{
	for (;;) {
		g_mutex_lock(&lock);
		bool stop = c->stopping;
		g_mutex_unlock(&lock);
		if (stop)
			return -EINTR;
		long r = c->fn(c->arg);
		if (r != -EINTR)
			return r;
	}
}

static void finish_call(struct ipc_blocking *c, long result)
{
	c->result = result;
	c->state = CALL_DONE;
	eventfd_write(c->fd, 1);
	g_cond_broadcast(&done);
}

/* A worker: takes calls in line until none comes for a while. */
static void *worker(void *data)
{
	ipc_space_home();
	sigset_t only_wake;
	sigfillset(&only_wake);
	sigdelset(&only_wake, wake_signal);
	pthread_sigmask(SIG_SETMASK, &only_wake, NULL);

	g_mutex_lock(&lock);
	for (;;) {
		struct ipc_blocking *c = g_queue_pop_head(&queued);
		if (!c) {
			if (shutting_down)
				break;
			idle_threads++;
			gint64 until = g_get_monotonic_time() + IDLE_SECONDS * G_USEC_PER_SEC;
			bool woken = g_cond_wait_until(&work, &lock, until);
			idle_threads--;
			if (!woken && g_queue_is_empty(&queued))
				break;
			continue;
		}
		c->state = CALL_RUNNING;
		c->thread = pthread_self();
		g_mutex_unlock(&lock);
		/* In the call's namespace, or not at all: an id of another
		 * namespace means another object here. */
		struct ipc_visit visit;
		long r = ipc_space_enter(c->space, &visit);
		if (r == 0)
			r = run_call(c);
		else
			r = -EIDRM;
		ipc_space_leave(&visit);
		if (c->detached) {
			if (r < 0)
				g_warning("a call nobody waited for failed: %s", g_strerror((int)-r));
			close(c->fd);
			ipc_space_unref(c->space);
			g_free(c->arg);
			g_free(c);
			g_mutex_lock(&lock);
			continue;
		}
		g_mutex_lock(&lock);
		finish_call(c, r);
	}
	threads--;
	g_cond_broadcast(&done);
	g_mutex_unlock(&lock);
	return NULL;
}

/* Called with the lock held. */
static void ensure_worker(void)
{
	if (idle_threads >= g_queue_get_length(&queued) || threads >= (unsigned long)limit)
		return;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_t t;
	if (pthread_create(&t, &attr, worker, NULL) == 0)
		threads++;
	else if (threads == 0)
		g_warning("no thread for a waiting call; it waits for the next one");
	pthread_attr_destroy(&attr);
}

int ipc_blocking_new(ipc_blocking_fn fn, void *arg, struct ipc_blocking **out)
{
	/* Made for a namespace the caller could not enter, it would run
	 * nowhere it belongs. */
	if (!ipc_space_entered())
		return -ENOENT;
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct ipc_blocking *c = g_new0(struct ipc_blocking, 1);
	c->space = ipc_space_ref(ipc_space_current());
	c->fn = fn;
	c->arg = arg;
	c->fd = fd;
	*out = c;
	return 0;
}

int ipc_blocking_fd(const struct ipc_blocking *c)
{
	return c->fd;
}

void ipc_blocking_start(struct ipc_blocking *c)
{
	eventfd_t drained;
	eventfd_read(c->fd, &drained);
	g_mutex_lock(&lock);
	c->state = CALL_QUEUED;
	c->stopping = false;
	g_queue_push_tail(&queued, c);
	ensure_worker();
	g_cond_signal(&work);
	g_mutex_unlock(&lock);
}

int ipc_blocking_detach(ipc_blocking_fn fn, void *arg)
{
	struct ipc_blocking *c;
	int r = ipc_blocking_new(fn, arg, &c);
	if (r < 0)
		return r;
	c->detached = true;
	ipc_blocking_start(c);
	return 0;
}

bool ipc_blocking_done(struct ipc_blocking *c, long *result)
{
	g_mutex_lock(&lock);
	bool is_done = c->state == CALL_DONE;
	if (is_done) {
		*result = c->result;
		c->state = CALL_IDLE;
	}
	g_mutex_unlock(&lock);
	if (is_done) {
		eventfd_t drained;
		eventfd_read(c->fd, &drained);
	}
	return is_done;
}

/* Called with the lock held; returns with the call done. */
static void stop_running(struct ipc_blocking *c)
{
	c->stopping = true;
	if (c->state == CALL_QUEUED) {
		g_queue_remove(&queued, c);
		finish_call(c, -EINTR);
	}
	while (c->state == CALL_RUNNING) {
		pthread_kill(c->thread, wake_signal);
		g_cond_wait_until(&done, &lock, g_get_monotonic_time() + STOP_RESEND_US);
	}
}

long ipc_blocking_stop(struct ipc_blocking *c)
{
	long result = -EINTR;
	g_mutex_lock(&lock);
	if (c->state != CALL_IDLE) {
		stop_running(c);
		result = c->result;
		c->state = CALL_IDLE;
	}
	g_mutex_unlock(&lock);
	return result;
}

void ipc_blocking_free(struct ipc_blocking *c)
{
	if (!c)
		return;
	ipc_blocking_stop(c);
	close(c->fd);
	ipc_space_unref(c->space);
	g_free(c);
}

ssize_t ipc_blocking_wait(struct ipc_blocking **call, ipc_blocking_fn fn, void *arg,
			  struct ipc_progress *progress)
{
	if (!*call) {
		int r = ipc_blocking_new(fn, arg, call);
		if (r < 0)
			return r;
	}
	ipc_blocking_start(*call);
	progress->state = arg;
	progress->own_fd = (*call)->fd;
	progress->waiting = true;
	return -EAGAIN;
}

void ipc_blocking_teardown(void)
{
	g_mutex_lock(&lock);
	shutting_down = true;
	for (GList *i = queued.head; i; i = i->next)
		((struct ipc_blocking *)i->data)->stopping = true;
	g_cond_broadcast(&work);
	/* Every call was stopped with its request; don't hang on a stray one. */
	gint64 until = g_get_monotonic_time() + G_USEC_PER_SEC;
	while (threads > 0 && g_cond_wait_until(&done, &lock, until))
		;
	g_mutex_unlock(&lock);
}
