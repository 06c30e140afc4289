/* Requests that must wait: parked on a descriptor, answered when it is
 * ready or when the kernel interrupts them.
 *
 * One epoll set holds every descriptor anyone waits on, and the main loop
 * watches that one set, so a thousand parked readers cost the loop nothing
 * until one of their descriptors becomes ready. Waiters on one descriptor
 * are served in the order they arrived. */
#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <glib-unix.h>

#include "fs.h"


struct parked {
	fuse_req_t req; /* NULL for a poll notification */
	const void *owner; /* the open file it waits for */
	short events;
	park_retry_fn retry;
	park_cancel_fn cancel;
	void *data;
	bool interrupted;
};

/* Everyone waiting on one descriptor, oldest first. */
struct waiters {
	int fd;
	uint32_t registered; /* the epoll events asked for now */
	GQueue queue;
};

static int epoll_fd = -1;
static guint epoll_watch, interrupt_idle;
static GHashTable *by_fd; /* int fd -> struct waiters */
static size_t parked_total;

fuse_req_t parked_req(struct parked *p)
{
	return p->req;
}

size_t park_count(void)
{
	return parked_total;
}

static uint32_t epoll_events_of(short events)
{
	return (events & POLLIN ? EPOLLIN : 0) | (events & POLLOUT ? EPOLLOUT : 0);
}

static short poll_events_of(uint32_t events)
{
	short e = (events & EPOLLIN ? POLLIN : 0) | (events & EPOLLOUT ? POLLOUT : 0);
	/* An error or hang-up is news to everyone: let each retry find out. */
	return events & (EPOLLERR | EPOLLHUP) ? (POLLIN | POLLOUT) : e;
}

static void waiters_free(struct waiters *w)
{
	if (w->registered)
		epoll_ctl(epoll_fd, EPOLL_CTL_DEL, w->fd, NULL);
	g_free(w);
}

/* Asks epoll for what the remaining waiters want; forgets an empty set. */
static void waiters_update(struct waiters *w)
{
	uint32_t want = 0;
	for (GList *l = w->queue.head; l; l = l->next)
		want |= epoll_events_of(((struct parked *)l->data)->events);
	if (want == w->registered)
		return;
	if (want == 0) {
		g_hash_table_remove(by_fd, &w->fd);
		return;
	}
	struct epoll_event ev = { .events = want, .data.ptr = w };
	int op = w->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(epoll_fd, op, w->fd, &ev) < 0)
		g_warning("epoll_ctl fd %d: %s", w->fd, g_strerror(errno));
	else
		w->registered = want;
}

static void parked_finish(struct waiters *w, GList *link)
{
	g_free(link->data);
	g_queue_delete_link(&w->queue, link);
	parked_total--;
}

static bool is_interrupted(struct parked *p)
{
	if (!p->interrupted && p->req && fuse_req_interrupted(p->req))
		p->interrupted = true;
	return p->interrupted;
}

/* Serves the waiters that what became ready can help, oldest first, until
 * a retry finds the resource used up again. */
static void waiters_serve(struct waiters *w, short ready)
{
	GList *l = w->queue.head;
	while (l && ready) {
		GList *next = l->next;
		struct parked *p = l->data;
		if ((p->events & ready) && !is_interrupted(p)) {
			if (p->retry(p, p->data) == PARK_DONE)
				parked_finish(w, l);
			else
				ready &= ~p->events;
		}
		l = next;
	}
}

static gboolean on_epoll_ready(gint fd, GIOCondition condition, gpointer user_data)
{
	struct epoll_event events[64];
	int n = epoll_wait(epoll_fd, events, G_N_ELEMENTS(events), 0);
	for (int i = 0; i < n; i++) {
		struct waiters *w = events[i].data.ptr;
		waiters_serve(w, poll_events_of(events[i].events));
		waiters_update(w);
	}
	return G_SOURCE_CONTINUE;
}

/* Cancels the interrupted waiters, or those of one owner, or all (NULL). */
static void cancel_matching(struct waiters *w, bool only_interrupted, const void *owner, int err)
{
	GList *l = w->queue.head;
	while (l) {
		GList *next = l->next;
		struct parked *p = l->data;
		bool match = only_interrupted ? is_interrupted(p) : (!owner || p->owner == owner);
		if (match) {
			p->cancel(p, p->data, err);
			parked_finish(w, l);
		}
		l = next;
	}
}

/* Interrupted requests are answered from the loop, not from libfuse's
 * interrupt callback: libfuse still holds the request's lock there, and
 * an answer frees the request. */
static gboolean answer_interrupted(gpointer user_data)
{
	interrupt_idle = 0;
	GList *sets = g_hash_table_get_values(by_fd);
	for (GList *l = sets; l; l = l->next) {
		cancel_matching(l->data, true, NULL, EINTR);
		waiters_update(l->data);
	}
	g_list_free(sets);
	return G_SOURCE_REMOVE;
}

static void on_interrupt(fuse_req_t req, void *data)
{
	struct parked *p = data;
	p->interrupted = true;
	if (!interrupt_idle)
		interrupt_idle = g_idle_add_full(G_PRIORITY_HIGH, answer_interrupted, NULL, NULL);
}

int park_request(fuse_req_t req, const void *owner, int fd, short events, park_retry_fn retry,
		 park_cancel_fn cancel, void *data)
{
	if (fd < 0 || !(events & (POLLIN | POLLOUT)))
		return -EINVAL;
	struct waiters *w = g_hash_table_lookup(by_fd, &fd);
	if (!w) {
		w = g_new0(struct waiters, 1);
		w->fd = fd;
		g_queue_init(&w->queue);
		g_hash_table_insert(by_fd, &w->fd, w);
	}
	struct parked *p = g_new0(struct parked, 1);
	*p = (struct parked){ req, owner, events, retry, cancel, data, false };
	g_queue_push_tail(&w->queue, p);
	parked_total++;
	waiters_update(w);
	if (!(w->registered & epoll_events_of(events))) {
		parked_finish(w, w->queue.tail);
		waiters_update(w);
		return -EIO;
	}
	if (req)
		fuse_req_interrupt_func(req, on_interrupt, p);
	return 0;
}

void park_drop(int fd, const void *owner, int err)
{
	struct waiters *w = g_hash_table_lookup(by_fd, &fd);
	if (!w)
		return;
	cancel_matching(w, false, owner, err);
	waiters_update(w);
}

int park_init(void)
{
	epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (epoll_fd < 0)
		return -errno;
	by_fd = g_hash_table_new_full(g_int_hash, g_int_equal, NULL, (GDestroyNotify)waiters_free);
	epoll_watch = g_unix_fd_add(epoll_fd, G_IO_IN, on_epoll_ready, NULL);
	return 0;
}

void park_shutdown(void)
{
	if (!by_fd)
		return;
	GList *fds = g_hash_table_get_keys(by_fd);
	for (GList *l = fds; l; l = l->next)
		park_drop(*(int *)l->data, NULL, ENODEV);
	g_list_free(fds);
	g_clear_handle_id(&interrupt_idle, g_source_remove);
	g_clear_handle_id(&epoll_watch, g_source_remove);
	g_clear_pointer(&by_fd, g_hash_table_destroy);
	close(epoll_fd);
	epoll_fd = -1;
}
