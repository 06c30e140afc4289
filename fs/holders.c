/* Who holds an object: the processes with a descriptor on it or a mapping
 * of it, through its own file (ipc/holders.h) or through its file in this
 * mount, found by a scan of /proc made when asked. The scan runs on a
 * thread of its own; the request waits parked for it, holding neither a
 * thread nor the daemon lock.
 *
 * Guarded by the daemon lock (fs/requests.c). */
#include <errno.h>
#include <poll.h>

#include "fs.h"

static dev_t mount_dev; /* set once, before the first request */

void holders_init(dev_t mount_device)
{
	mount_dev = mount_device;
}

/* The files a process may hold object_id of in by: the object's own
 * (o's, where o is given), and each of its files in this mount. */
static void object_files(const struct ipc_instance *in, struct ipc_object *o,
			 uint64_t object_id, GArray *ids)
{
	struct ipc_file_id id;
	if (o && in->kind->file_id && IPC_CALL(in, file_id, o, &id) == 0)
		g_array_append_val(ids, id);
	if (!mount_dev)
		return;
	g_autoptr(GArray) inos = g_array_new(FALSE, FALSE, sizeof(fuse_ino_t));
	nodes_of_object(in, object_id, inos);
	for (guint i = 0; i < inos->len; i++) {
		id = (struct ipc_file_id){ mount_dev, g_array_index(inos, fuse_ino_t, i), 0 };
		g_array_append_val(ids, id);
	}
}

struct holders_request {
	fuse_req_t req;
	size_t size;
	uid_t viewer; /* the caller */
	GArray *ids; /* struct ipc_file_id */
	struct ipc_holders *scan;
};

/* Only once the park is done with the scan's descriptor. */
static gboolean request_free(gpointer data)
{
	struct holders_request *h = data;
	ipc_holders_free(h->scan);
	g_array_unref(h->ids);
	g_free(h);
	return G_SOURCE_REMOVE;
}

static enum park_result holders_ready(struct parked *p, void *data)
{
	struct holders_request *h = data;
	if (!ipc_holders_done(h->scan))
		return PARK_AGAIN;
	g_autoptr(GString) value = g_string_new(NULL);
	ipc_holders_describe(h->scan, (struct ipc_file_id *)h->ids->data, h->ids->len,
			     h->viewer, value);
	reply_xattr_bytes(h->req, h->size, value->str, value->len);
	g_idle_add(request_free, h);
	return PARK_DONE;
}

static void holders_cancel(struct parked *p, void *data, int err)
{
	struct holders_request *h = data;
	reply_err(h->req, err);
	g_idle_add(request_free, h);
}

void holders_getxattr(fuse_req_t req, struct node *n, size_t size)
{
	struct node_ref ref;
	int r = node_object(n, fuse_req_ctx(req)->pid, NODE_AS_CHECKED, &ref);
	if (r < 0) {
		reply_err(req, -r);
		return;
	}
	struct holders_request *h = g_new0(struct holders_request, 1);
	*h = (struct holders_request){ .req = req, .size = size, .viewer = fuse_req_ctx(req)->uid,
				       .ids = g_array_new(FALSE, FALSE, sizeof(struct ipc_file_id)) };
	object_files(n->inst, ref.object, n->object_id, h->ids);
	node_ref_done(n, &ref);
	r = ipc_holders_start((struct ipc_file_id *)h->ids->data, h->ids->len, &h->scan);
	if (r == 0) {
		int fd = ipc_holders_fd(h->scan);
		g_autofree char *key = g_strdup_printf("holders#%d", fd);
		r = park_request(req, NULL, key, fd, POLLIN, holders_ready, holders_cancel, h);
	}
	if (r < 0) {
		reply_err(req, -r);
		request_free(h);
	}
}

/* Calls fn(ids, data) with the files of each object of in; an error if
 * in can't be listed. */
static int each_object_files(const struct ipc_instance *in, void (*fn)(GArray *ids, void *data),
			     void *data)
{
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	int r = IPC_CALL(in, list, in->state, names);
	for (guint i = 0; r == 0 && i < names->len; i++) {
		struct ipc_object *o;
		struct ipc_attr a;
		if (object_find(in, names->pdata[i], &o, &a) < 0)
			continue; /* gone since */
		g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(struct ipc_file_id));
		object_files(in, o, a.id, ids);
		IPC_CALL_VOID(in, release, o);
		fn(ids, data);
	}
	return r;
}

static void add_files(GArray *ids, void *all)
{
	g_array_append_vals(all, ids->data, ids->len);
}

int holders_scan_all(const struct ipc_instance *instances, struct ipc_holders **out)
{
	g_autoptr(GArray) all = g_array_new(FALSE, FALSE, sizeof(struct ipc_file_id));
	for (const struct ipc_instance *in = instances; in->kind; in++)
		each_object_files(in, add_files, all);
	return ipc_holders_start((struct ipc_file_id *)all->data, all->len, out);
}

struct count {
	const struct ipc_holders *scan;
	int held;
};

static void count_if_held(GArray *ids, void *data)
{
	struct count *c = data;
	for (guint j = 0; j < ids->len; j++)
		if (ipc_holders_held(c->scan, &g_array_index(ids, struct ipc_file_id, j))) {
			c->held++;
			return;
		}
}

int holders_count(const struct ipc_holders *scan, const struct ipc_instance *in)
{
	struct count c = { scan, 0 };
	int r = each_object_files(in, count_if_held, &c);
	return r < 0 ? r : c.held;
}
