/* Requests that must wait: parked until a descriptor is ready, then
 * retried, or answered when the kernel interrupts them.
 *
 * Waiters are kept per object, in arrival order, whichever of the object's
 * descriptors they wait on (each open of a queue has its own): when any of
 * them is ready, the object's waiters are retried oldest first. One epoll
 * set holds every descriptor anyone waits on, and the main loop watches
 * that one set, so a thousand parked readers cost the loop nothing until
 * one of their descriptors becomes ready. A read or write through the
 * mount that changes an object serves its waiters at once, on the thread
 * that made the change (park_wake), without waiting for the loop.
 *
 * Over io_uring a parked request holds an entry of its CPU's ring queue:
 * at most transport_wait_limit() requests wait per queue, and a new one
 * beyond that ends the oldest wait of its queue with EINTR, as the
 * kernel's request timeout does (fs/transport.c).
 *
 * Over io_uring the kernel (6.18) can lose an interrupt: a signal that
 * comes while the request passes to the ring marks it interrupted, but
 * the ring takes it without the check /dev/fuse makes, no FUSE_INTERRUPT
 * is sent, and the caller, even SIGKILLed, waits on for an answer. Such a
 * caller still has the signal pending, as nothing returned it to user
 * space: so each ring request that has waited LOST_INTERRUPT_AGE is looked
 * at once, and one whose caller has a signal pending on two sweeps in a
 * row is answered EINTR, as the interrupt would have. Any later signal
 * comes as a FUSE_INTERRUPT, as the request was sent long before.
 *
 * Guarded by the daemon lock (fs/requests.c). */
#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <glib-unix.h>

#include "fs.h"

struct parked {
	struct waitlist *list;
	GList *link;       /* in list->queue */
	guint expiry;      /* the source that answers it before the kernel's timeout */
	fuse_req_t req;    /* NULL for a poll notification */
	const void *owner; /* the open file it waits for */
	int fd;
	short events;
	park_retry_fn retry;
	park_cancel_fn cancel;
	void *data;
	bool interrupted;
	int queue;          /* the ring queue whose entry it holds, or -1 */
	GList *queue_link;  /* in ring_waiters[queue] */
	gint64 since;       /* g_get_monotonic_time() when parked */
	enum { SIGNAL_UNSEEN, SIGNAL_SEEN_ONCE, SIGNAL_CHECKED } lost_interrupt;
};

#define LOST_INTERRUPT_AGE (G_USEC_PER_SEC)
#define LOST_INTERRUPT_SWEEP_MS 500

/* Everyone waiting on one object, oldest first. */
struct waitlist {
	char *key;
	GQueue queue;
	GPtrArray *watch_list; /* its struct watch, one per descriptor */
	unsigned holds;        /* callers that need it kept while they work */
};

/* One descriptor in the epoll set. */
struct watch {
	int fd;
	uint32_t registered; /* the epoll events asked for now */
	struct waitlist *list;
};

static int epoll_fd = -1;
/* How long a request may wait here: a little less than the kernel's FUSE
 * request timeout, past which it would abort the whole connection; 0 for
 * no limit. */
static guint wait_limit_ms;
static unsigned parked_requests; /* requests, not poll notifications */
static guint epoll_source, interrupt_idle;
static GHashTable *lists;   /* key -> struct waitlist */
static GHashTable *watches; /* int fd -> struct watch */
static GQueue *ring_waiters;  /* per ring queue: its parked requests, oldest first */
static unsigned ring_queues;
static struct parked *retrying; /* the waiter whose retry runs now, if any */
static guint64 waits_cut;     /* waits ended to make room in a ring queue */
static guint lost_interrupt_sweep; /* the source of sweep_lost_interrupts, while any waits */

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

static void waitlist_release(struct waitlist *l)
{
	if (l->holds == 0 && l->watch_list->len == 0 && g_queue_is_empty(&l->queue))
		g_hash_table_remove(lists, l->key);
}

/* Asks epoll for what the waiters on w's descriptor want; forgets it when
 * nobody waits there any more. */
static void watch_update(struct watch *w)
{
	uint32_t want = 0;
	for (GList *i = w->list->queue.head; i; i = i->next) {
		struct parked *p = i->data;
		if (p->fd == w->fd)
			want |= epoll_events_of(p->events);
	}
	if (want == 0) {
		struct waitlist *l = w->list;
		if (w->registered)
			epoll_ctl(epoll_fd, EPOLL_CTL_DEL, w->fd, NULL);
		w->registered = 0;
		g_ptr_array_remove(l->watch_list, w);
		g_hash_table_remove(watches, &w->fd);
		waitlist_release(l);
		return;
	}
	if (want == w->registered)
		return;
	struct epoll_event ev = { .events = want, .data.ptr = w };
	int op = w->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(epoll_fd, op, w->fd, &ev) < 0)
		g_warning("epoll_ctl fd %d: %s", w->fd, g_strerror(errno));
	else
		w->registered = want;
}

/* Every descriptor of the list, after its waiters changed. */
static void waitlist_update(struct waitlist *l)
{
	l->holds++;
	for (guint i = l->watch_list->len; i-- > 0;)
		watch_update(l->watch_list->pdata[i]);
	l->holds--;
	waitlist_release(l);
}

static void parked_finish(struct waitlist *l, GList *link)
{
	struct parked *p = link->data;
	if (p->req)
		parked_requests--;
	if (p->queue_link)
		g_queue_delete_link(&ring_waiters[p->queue], p->queue_link);
	g_clear_handle_id(&p->expiry, g_source_remove);
	g_free(p);
	g_queue_delete_link(&l->queue, link);
}

static bool is_interrupted(struct parked *p)
{
	if (!p->interrupted && p->req && fuse_req_interrupted(p->req))
		p->interrupted = true;
	return p->interrupted;
}

/* Retries the waiters that what became ready can help, oldest first,
 * until a retry finds the object has nothing more for them. */
static void waitlist_serve(struct waitlist *l, short ready)
{
	GList *i = l->queue.head;
	while (i && ready) {
		GList *next = i->next;
		struct parked *p = i->data;
		if ((p->events & ready) && !is_interrupted(p)) {
			retrying = p;
			enum park_result done = p->retry(p, p->data);
			retrying = NULL;
			if (done == PARK_DONE)
				parked_finish(l, i);
			else
				ready &= ~p->events;
		}
		i = next;
	}
}

static gboolean on_epoll_ready(gint fd, GIOCondition condition, gpointer user_data)
{
	struct epoll_event events[64];
	int n = epoll_wait(epoll_fd, events, G_N_ELEMENTS(events), 0);
	GPtrArray *served = g_ptr_array_new();
	for (int i = 0; i < n; i++) {
		struct watch *w = events[i].data.ptr;
		if (g_ptr_array_find(served, w->list, NULL))
			continue;
		g_ptr_array_add(served, w->list);
		w->list->holds++;
		waitlist_serve(w->list, poll_events_of(events[i].events));
	}
	for (guint i = 0; i < served->len; i++) {
		struct waitlist *l = served->pdata[i];
		l->holds--;
		waitlist_update(l);
	}
	g_ptr_array_unref(served);
	return G_SOURCE_CONTINUE;
}

/* Cancels the interrupted waiters, or those on fd of one owner (of any
 * owner for NULL). */
static void cancel_matching(struct waitlist *l, bool only_interrupted, int fd,
			    const void *owner, int err)
{
	GList *i = l->queue.head;
	while (i) {
		GList *next = i->next;
		struct parked *p = i->data;
		bool match = only_interrupted ? is_interrupted(p) :
						(fd < 0 || p->fd == fd) &&
							(!owner || p->owner == owner);
		if (match) {
			p->cancel(p, p->data, err);
			parked_finish(l, i);
		}
		i = next;
	}
}

/* Interrupted requests are answered from the loop, not from libfuse's
 * interrupt callback: libfuse still holds the request's lock there, and
 * an answer frees the request. */
static gboolean answer_interrupted(gpointer user_data)
{
	interrupt_idle = 0;
	GList *all = g_hash_table_get_values(lists);
	for (GList *i = all; i; i = i->next)
		((struct waitlist *)i->data)->holds++;
	for (GList *i = all; i; i = i->next) {
		struct waitlist *l = i->data;
		cancel_matching(l, true, -1, NULL, EINTR);
		l->holds--;
		waitlist_update(l);
	}
	g_list_free(all);
	return G_SOURCE_REMOVE;
}

static void on_interrupt(fuse_req_t req, void *data)
{
	struct parked *p = data;
	p->interrupted = true;
	if (!interrupt_idle)
		interrupt_idle = g_idle_add_full(G_PRIORITY_HIGH, answer_interrupted, NULL, NULL);
}

/* Looks once at the caller of each ring request that has waited long
 * enough: a signal pending on two sweeps in a row is an interrupt the
 * kernel lost (see the top of this file). */
static gboolean sweep_lost_interrupts(gpointer user_data)
{
	gint64 now = g_get_monotonic_time();
	bool any = false;
	for (unsigned q = 0; q < ring_queues; q++) {
		for (GList *i = ring_waiters[q].head; i; i = i->next) {
			struct parked *p = i->data;
			any = true;
			if (now - p->since < LOST_INTERRUPT_AGE)
				break; /* and so are the rest of the queue, parked later */
			if (p->lost_interrupt == SIGNAL_CHECKED || p->interrupted)
				continue;
			if (!caller_signalled(fuse_req_ctx(p->req)->pid))
				p->lost_interrupt = SIGNAL_CHECKED;
			else if (p->lost_interrupt == SIGNAL_UNSEEN)
				p->lost_interrupt = SIGNAL_SEEN_ONCE;
			else {
				g_debug("the caller of a waiting request, thread %d, has a signal "
					"pending but no interrupt came: EINTR",
					(int)fuse_req_ctx(p->req)->pid);
				on_interrupt(p->req, p);
			}
		}
	}
	if (any)
		return G_SOURCE_CONTINUE;
	lost_interrupt_sweep = 0;
	return G_SOURCE_REMOVE;
}

static struct waitlist *waitlist_for(const char *key)
{
	struct waitlist *l = g_hash_table_lookup(lists, key);
	if (!l) {
		l = g_new0(struct waitlist, 1);
		l->key = g_strdup(key);
		l->watch_list = g_ptr_array_new();
		g_queue_init(&l->queue);
		g_hash_table_insert(lists, l->key, l);
	}
	return l;
}

static struct watch *watch_for(int fd, struct waitlist *l)
{
	struct watch *w = g_hash_table_lookup(watches, &fd);
	if (!w) {
		w = g_new0(struct watch, 1);
		w->fd = fd;
		w->list = l;
		g_ptr_array_add(l->watch_list, w);
		g_hash_table_insert(watches, &w->fd, w);
	}
	return w;
}

/* Answers one waiter with err, and forgets it. */
static void parked_cancel(struct parked *p, int err)
{
	struct waitlist *l = p->list;
	l->holds++;
	p->cancel(p, p->data, err);
	parked_finish(l, p->link);
	l->holds--;
	waitlist_update(l);
}

/* A request about to outlive the kernel's request timeout is answered
 * EINTR, as if interrupted: it has done nothing, and the caller may try
 * again; the connection, and every other waiter, lives on. */
static gboolean on_wait_limit(gpointer data)
{
	struct parked *p = data;
	p->expiry = 0;
	g_debug("a request waited %u ms, near the kernel's FUSE request timeout: EINTR",
		wait_limit_ms);
	parked_cancel(p, EINTR);
	return G_SOURCE_REMOVE;
}

/* Room for one more waiter in ring queue q: a queue whose entries all
 * held waiters would answer nothing else on its CPU. The oldest wait ends
 * as at the request timeout. */
static void make_room_in_queue(int q)
{
	if (q < 0 || ring_waiters[q].length < transport_wait_limit())
		return;
	waits_cut++;
	g_debug("ring queue %d holds %u waiting requests: the oldest is answered EINTR", q,
		ring_waiters[q].length);
	parked_cancel(g_queue_peek_head(&ring_waiters[q]), EINTR);
}

int park_request(fuse_req_t req, const void *owner, const char *key, int fd, short events,
		 park_retry_fn retry, park_cancel_fn cancel, void *data)
{
	if (fd < 0 || !(events & (POLLIN | POLLOUT)))
		return -EINVAL;
	int queue = transport_queue(req) % (int)ring_queues;
	make_room_in_queue(queue); /* first: it may free the list below */
	struct waitlist *l = waitlist_for(key);
	struct watch *w = watch_for(fd, l);
	if (w->list != l) {
		waitlist_release(l); /* made just now, it would be kept for nothing */
		return -EINVAL; /* one descriptor belongs to one object */
	}
	struct parked *p = g_new0(struct parked, 1);
	*p = (struct parked){ .list = l, .req = req, .owner = owner, .fd = fd, .events = events,
			      .retry = retry, .cancel = cancel, .data = data, .queue = -1 };
	g_queue_push_tail(&l->queue, p);
	p->link = l->queue.tail;
	watch_update(w);
	if (!(w->registered & epoll_events_of(events))) {
		parked_finish(l, l->queue.tail);
		watch_update(w);
		return -EIO;
	}
	if (req) {
		parked_requests++;
		if (queue >= 0) {
			p->queue = queue;
			g_queue_push_tail(&ring_waiters[queue], p);
			p->queue_link = ring_waiters[queue].tail;
			p->since = g_get_monotonic_time();
			if (!lost_interrupt_sweep)
				lost_interrupt_sweep = g_timeout_add(LOST_INTERRUPT_SWEEP_MS,
								     sweep_lost_interrupts, NULL);
		}
		if (wait_limit_ms)
			p->expiry = g_timeout_add(wait_limit_ms, on_wait_limit, p);
		fuse_req_interrupt_func(req, on_interrupt, p);
	}
	return 0;
}

void park_drop(int fd, const void *owner, int err)
{
	struct watch *w = watches ? g_hash_table_lookup(watches, &fd) : NULL;
	if (!w)
		return;
	struct waitlist *l = w->list;
	l->holds++;
	cancel_matching(l, false, fd, owner, err);
	l->holds--;
	waitlist_update(l);
}

void park_drop_owner(const void *owner, int err)
{
	if (!lists)
		return;
	GList *all = g_hash_table_get_values(lists);
	for (GList *i = all; i; i = i->next)
		((struct waitlist *)i->data)->holds++;
	for (GList *i = all; i; i = i->next) {
		struct waitlist *l = i->data;
		cancel_matching(l, false, -1, owner, err);
		l->holds--;
		waitlist_update(l);
	}
	g_list_free(all);
}

static void watch_free(struct watch *w)
{
	if (w->registered)
		epoll_ctl(epoll_fd, EPOLL_CTL_DEL, w->fd, NULL);
	g_free(w);
}

static void waitlist_free(struct waitlist *l)
{
	g_ptr_array_unref(l->watch_list);
	g_free(l->key);
	g_free(l);
}

static long read_seconds(const char *path)
{
	g_autofree char *text = NULL;
	if (!g_file_get_contents(path, &text, NULL, NULL))
		return 0;
	return MAX(g_ascii_strtoll(text, NULL, 10), 0);
}

/* The kernel aborts a connection whose requests go unanswered longer than
 * default_request_timeout (capped by max_request_timeout), read at mount. */
static void read_request_timeout(void)
{
	long dflt = read_seconds("/proc/sys/fs/fuse/default_request_timeout");
	long max = read_seconds("/proc/sys/fs/fuse/max_request_timeout");
	long timeout = dflt && max ? MIN(dflt, max) : dflt ? dflt : max;
	wait_limit_ms = timeout ? (guint)(timeout * 1000 * 4 / 5) : 0;
	if (timeout)
		g_message("the kernel aborts FUSE requests unanswered after %ld s: reads and writes "
			  "that wait are answered EINTR after %u ms", timeout, wait_limit_ms);
}

int park_init(void)
{
	read_request_timeout();
	epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (epoll_fd < 0)
		return -errno;
	lists = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)waitlist_free);
	watches = g_hash_table_new_full(g_int_hash, g_int_equal, NULL, (GDestroyNotify)watch_free);
	epoll_source = g_unix_fd_add(epoll_fd, G_IO_IN, on_epoll_ready, NULL);
	ring_queues = transport_queue_count();
	ring_waiters = g_new0(GQueue, ring_queues);
	return 0;
}

void park_shutdown(void)
{
	if (!lists)
		return;
	GList *all = g_hash_table_get_values(lists);
	for (GList *i = all; i; i = i->next) {
		struct waitlist *l = i->data;
		GList *link;
		while ((link = l->queue.head)) {
			struct parked *p = link->data;
			p->cancel(p, p->data, ENODEV);
			parked_finish(l, link);
		}
	}
	g_list_free(all);
	g_clear_handle_id(&interrupt_idle, g_source_remove);
	g_clear_handle_id(&lost_interrupt_sweep, g_source_remove);
	g_clear_handle_id(&epoll_source, g_source_remove);
	g_clear_pointer(&watches, g_hash_table_destroy);
	g_clear_pointer(&lists, g_hash_table_destroy);
	g_clear_pointer(&ring_waiters, g_free);
	close(epoll_fd);
	epoll_fd = -1;
}

void park_wake(const char *key)
{
	struct waitlist *l = lists ? g_hash_table_lookup(lists, key) : NULL;
	if (!l || g_queue_is_empty(&l->queue))
		return;
	l->holds++;
	waitlist_serve(l, POLLIN | POLLOUT);
	l->holds--;
	waitlist_update(l);
}

void park_describe(GString *out)
{
	/* Not the one being answered (a read of status waits for its scan). */
	unsigned others = parked_requests - (retrying && retrying->req ? 1 : 0);
	g_string_append_printf(out, "parked requests: %u\n", others);
	g_string_append_printf(out, "waits ended to make room in a ring queue: %" G_GUINT64_FORMAT
			       "\n", waits_cut);
}
