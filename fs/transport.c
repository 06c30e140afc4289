/* How requests reach the daemon: over FUSE io_uring where the kernel
 * allows it, else through /dev/fuse.
 *
 * Over io_uring, libfuse serves one ring queue per CPU from a thread
 * pinned to that CPU, and the kernel puts each request on the queue of the
 * CPU its caller runs on: a request is answered where it was made, with no
 * wake-up of another CPU. A request holds its queue's ring entry until it
 * is answered, parked ones included, and the kernel queues a CPU's further
 * requests behind a full queue. So a queue has room for `depth` requests,
 * and at most transport_wait_limit() of them may wait (fs/park.c ends the
 * oldest wait with EINTR to make room for a new one): the rest is kept for
 * requests that never wait, a stat or an ls, which are then always
 * answered.
 *
 * The kernel's switch, /sys/module/fuse/parameters/enable_uring, is only
 * read here.
 *
 * Guarded by the daemon lock (fs/requests.c). */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysinfo.h>

#include "fs.h"

#define DEFAULT_DEPTH 2048
#define MIN_DEPTH 4
#define ENABLE_URING "/sys/module/fuse/parameters/enable_uring"

static bool refused;       /* -o no_io_uring */
static unsigned depth;     /* ring entries per queue: -o io_uring_q_depth */
static const char *why_not; /* why requests come through /dev/fuse, once known */
static bool ring_seen;     /* a request came over io_uring */

int transport_option(const char *arg)
{
	if (strcmp(arg, "no_io_uring") == 0) {
		refused = true;
		return 0;
	}
	const char *value = g_str_has_prefix(arg, "io_uring_q_depth=") ? strchr(arg, '=') + 1 : NULL;
	if (!value)
		return 1;
	guint64 n;
	if (!g_ascii_string_to_unsigned(value, 10, MIN_DEPTH, 1 << 16, &n, NULL))
		return -EINVAL;
	depth = (unsigned)n;
	return 1; /* libfuse's too */
}

int transport_add_options(struct fuse_args *args)
{
	if (refused)
		return 0;
	if (fuse_opt_add_arg(args, "-oio_uring") < 0)
		return -ENOMEM;
	if (depth)
		return 0;
	depth = DEFAULT_DEPTH;
	g_autofree char *arg = g_strdup_printf("-oio_uring_q_depth=%u", depth);
	return fuse_opt_add_arg(args, arg) < 0 ? -ENOMEM : 0;
}

static bool kernel_switch_on(void)
{
	g_autofree char *text = NULL;
	return g_file_get_contents(ENABLE_URING, &text, NULL, NULL) &&
	       (text[0] == 'Y' || text[0] == '1');
}

void transport_init(struct fuse_conn_info *conn)
{
	if (refused)
		why_not = "-o no_io_uring";
	else if (!(conn->capable_ext & FUSE_CAP_OVER_IO_URING))
		why_not = kernel_switch_on() ? "the kernel does not offer it" : "enable_uring is off";
	else
		return; /* libfuse starts the ring once INIT is answered */
	g_message("transport: /dev/fuse (%s)", why_not);
}

void transport_request(fuse_req_t req)
{
	if (ring_seen || !fuse_req_is_uring(req))
		return;
	ring_seen = true;
	g_message("transport: io_uring, %u queues of depth %u", transport_queue_count(), depth);
}

int transport_queue(fuse_req_t req)
{
	/* A ring's thread is pinned to the CPU whose queue it serves. */
	return req && fuse_req_is_uring(req) ? sched_getcpu() : -1;
}

unsigned transport_queue_count(void)
{
	return (unsigned)get_nprocs_conf();
}

unsigned transport_wait_limit(void)
{
	return depth - MAX(depth / 8, MIN_DEPTH / 2);
}

void transport_describe(GString *out)
{
	if (ring_seen)
		g_string_append_printf(out, "transport: io_uring, %u queues of depth %u (at most %u "
				       "waiting requests each)\n", transport_queue_count(), depth,
				       transport_wait_limit());
	else
		g_string_append_printf(out, "transport: /dev/fuse (%s)\n",
				       why_not ? why_not : "io_uring did not start");
}
