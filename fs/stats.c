/* Requests served and refused, per kind. Every request is noted as its
 * handler is called (fs/requests.c), by the kind of the node it names, and
 * every answer leaves through the reply_ functions here, which count it by
 * its error before handing it to libfuse. This holds for both transports:
 * an answer over io_uring never passes through the FUSE device. A request
 * on the root, sysv/ or status counts as "other".
 *
 * Guarded by the daemon lock (fs/requests.c), as all of fs/ is. */
#include <errno.h>

#include "fs.h"

struct counts {
	guint64 served, refused;
};

static GHashTable *pending;   /* fuse_req_t -> slot + 1, of requests not answered yet */
static struct counts *counts; /* one per kind, then "other" */
static size_t kind_count;

static size_t slot_of(const struct ipc_kind *k)
{
	const struct ipc_kind *const *kinds = ipc_kinds();
	for (size_t i = 0; i < kind_count; i++)
		if (kinds[i] == k)
			return i;
	return kind_count;
}

void stats_init(void)
{
	const struct ipc_kind *const *kinds = ipc_kinds();
	for (kind_count = 0; kinds[kind_count]; kind_count++)
		;
	counts = g_new0(struct counts, kind_count + 1);
	pending = g_hash_table_new(g_direct_hash, g_direct_equal);
}

void stats_shutdown(void)
{
	g_clear_pointer(&pending, g_hash_table_destroy);
	g_clear_pointer(&counts, g_free);
}

void stats_request(fuse_req_t req, fuse_ino_t ino)
{
	struct node *n = node_get(ino);
	size_t slot = slot_of(n && n->inst ? n->inst->kind : NULL);
	g_hash_table_insert(pending, req, GSIZE_TO_POINTER(slot + 1));
}

/* Counts req's answer, which err (0 or an errno) says; returns err. */
static int count_answer(fuse_req_t req, int err)
{
	gpointer slot;
	if (!pending || !g_hash_table_steal_extended(pending, req, NULL, &slot))
		return err; /* a request that came before counting began */
	struct counts *c = &counts[GPOINTER_TO_SIZE(slot) - 1];
	if (err == 0)
		c->served++;
	else
		c->refused++;
	return err;
}

int reply_err(fuse_req_t req, int err)
{
	return fuse_reply_err(req, count_answer(req, err));
}

void reply_none(fuse_req_t req)
{
	fuse_reply_none(req);
}

int reply_entry(fuse_req_t req, const struct fuse_entry_param *e)
{
	count_answer(req, 0);
	return fuse_reply_entry(req, e);
}

int reply_create(fuse_req_t req, const struct fuse_entry_param *e, const struct fuse_file_info *fi)
{
	count_answer(req, 0);
	return fuse_reply_create(req, e, fi);
}

int reply_attr(fuse_req_t req, const struct stat *attr, double attr_timeout)
{
	count_answer(req, 0);
	return fuse_reply_attr(req, attr, attr_timeout);
}

int reply_open(fuse_req_t req, const struct fuse_file_info *fi)
{
	count_answer(req, 0);
	return fuse_reply_open(req, fi);
}

int reply_write(fuse_req_t req, size_t count)
{
	count_answer(req, 0);
	return fuse_reply_write(req, count);
}

int reply_buf(fuse_req_t req, const char *buf, size_t size)
{
	count_answer(req, 0);
	return fuse_reply_buf(req, buf, size);
}

int reply_statfs(fuse_req_t req, const struct statvfs *stbuf)
{
	count_answer(req, 0);
	return fuse_reply_statfs(req, stbuf);
}

int reply_xattr(fuse_req_t req, size_t count)
{
	count_answer(req, 0);
	return fuse_reply_xattr(req, count);
}

int reply_poll(fuse_req_t req, unsigned revents)
{
	count_answer(req, 0);
	return fuse_reply_poll(req, revents);
}

int reply_lseek(fuse_req_t req, off_t off)
{
	count_answer(req, 0);
	return fuse_reply_lseek(req, off);
}

static char *count_or_error(int r)
{
	return r < 0 ? g_strdup(g_strerror(-r)) : g_strdup_printf("%d", r);
}

static int object_count(const struct ipc_instance *in)
{
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	int r = IPC_CALL(in, list, in->state, names);
	return r < 0 ? r : (int)names->len;
}

void stats_describe(GString *out, const struct ipc_holders *scan)
{
	const struct ipc_instance *own = nodes_instances();
	g_string_append_printf(out, "%-10s %10s %10s %10s %10s\n", "kind", "objects", "held",
			       "served", "refused");
	for (size_t i = 0; i <= kind_count; i++) {
		g_autofree char *objects = NULL, *held = NULL;
		if (i < kind_count) {
			objects = count_or_error(object_count(&own[i]));
			held = scan ? count_or_error(holders_count(scan, &own[i])) : g_strdup("?");
		}
		g_string_append_printf(out, "%-10s %10s %10s %10" G_GUINT64_FORMAT " %10" G_GUINT64_FORMAT "\n",
				       i < kind_count ? own[i].kind->dir : "other", objects ? objects : "-",
				       held ? held : "-", counts[i].served, counts[i].refused);
	}
}

void reply_xattr_bytes(fuse_req_t req, size_t size, const char *bytes, size_t len)
{
	if (size == 0)
		reply_xattr(req, len);
	else if (size < len)
		reply_err(req, ERANGE);
	else
		reply_buf(req, bytes, len);
}
