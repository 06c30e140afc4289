/* The file "status" at the root of the mount: read-only text about the
 * daemon, made afresh at each open. It is served like an object, through
 * a kind of its own that fs/ keeps (it knows fs/ matters, not IPC). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "config.h"
#include "fs.h"

/* The text is made once a scan of who holds what, started at open, is
 * done: a read waits for it, parked. */
struct ipc_handle {
	struct ipc_holders *scan; /* NULL where none could start */
	GString *text;            /* NULL until then */
};

/* The one status file: every reference is this. */
struct ipc_object {
	int unused;
};
static struct ipc_object the_status;

static struct timespec started;

static int status_find(struct ipc_state *st, const char *name, struct ipc_object **out)
{
	*out = &the_status;
	return 0;
}

static void status_release(struct ipc_object *o)
{
}

static int status_stat(struct ipc_object *o, struct ipc_attr *attr)
{
	if (started.tv_sec == 0)
		clock_gettime(CLOCK_REALTIME, &started);
	*attr = (struct ipc_attr){
		.mode = 0444,
		.atime = started,
		.mtime = started,
		.ctime = started,
		.nlink = 1,
		.id = 1,
	};
	return 0;
}

static GString *status_text(const struct ipc_holders *scan)
{
	GString *out = g_string_new("ipcfs " IPCFS_VERSION "\n");
	transport_describe(out);
	backing_describe(out);
	park_describe(out);
	stats_describe(out, scan);
	return out;
}

static int status_open(struct ipc_object *o, int flags, struct ipc_handle **out)
{
	if ((flags & O_ACCMODE) != O_RDONLY)
		return -EACCES; /* even for root */
	struct ipc_handle *h = g_new0(struct ipc_handle, 1);
	if (holders_scan_all(nodes_instances(), &h->scan) < 0)
		h->text = status_text(NULL);
	*out = h;
	return 0;
}

static ssize_t status_read(struct ipc_handle *h, void *buf, size_t len, off_t offset,
			   struct ipc_progress *progress)
{
	if (!h->text) {
		if (!ipc_holders_done(h->scan)) {
			progress->own_fd = ipc_holders_fd(h->scan);
			return -EAGAIN;
		}
		h->text = status_text(h->scan);
	}
	if (offset >= (off_t)h->text->len)
		return 0;
	size_t n = MIN(len, h->text->len - offset);
	memcpy(buf, h->text->str + offset, n);
	return n;
}

static void status_close(struct ipc_handle *h)
{
	if (h->text)
		g_string_free(h->text, TRUE);
	ipc_holders_free(h->scan);
	g_free(h);
}

static const struct ipc_kind status_kind = {
	.dir = "",
	.description = "the mount's status",
	.find = status_find,
	.release = status_release,
	.stat = status_stat,
	.open = status_open,
	.read = status_read,
	.close = status_close,
};

/* In the daemon's own namespace, with no state. */
const struct ipc_instance status_instance = { .kind = &status_kind };
