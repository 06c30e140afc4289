/* Requests served and refused, per kind. Every request is noted as it is
 * read, by the kind of the node it names; every answer leaves through one
 * writev to the FUSE device, which libfuse lets the daemon supply (a
 * custom io), so the count is taken there, by the answer's error, without
 * touching the handlers. A request on the root, sysv/ or status counts
 * as "other". */
#include <linux/fuse.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fs.h"

struct counts {
	guint64 served, refused;
};

static GHashTable *pending;   /* unique -> slot + 1, of requests not answered yet */
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

void stats_request(const void *buf, size_t len)
{
	const struct fuse_in_header *in = buf;
	if (len < sizeof(*in) || in->opcode == FUSE_FORGET || in->opcode == FUSE_BATCH_FORGET ||
	    in->opcode == FUSE_INTERRUPT)
		return; /* no answer will come */
	struct node *n = node_get(in->nodeid);
	size_t slot = slot_of(n ? n->kind : NULL);
	g_hash_table_insert(pending, GSIZE_TO_POINTER(in->unique), GSIZE_TO_POINTER(slot + 1));
}

static void count_answer(const struct fuse_out_header *out)
{
	gpointer slot;
	if (out->unique == 0 ||
	    !g_hash_table_steal_extended(pending, GSIZE_TO_POINTER(out->unique), NULL, &slot))
		return; /* a notification, or a request read before counting began */
	struct counts *c = &counts[GPOINTER_TO_SIZE(slot) - 1];
	if (out->error == 0)
		c->served++;
	else
		c->refused++;
}

static ssize_t counting_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	if (count > 0 && iov[0].iov_len >= sizeof(struct fuse_out_header))
		count_answer(iov[0].iov_base);
	return writev(fd, iov, count);
}

static ssize_t plain_read(int fd, void *buf, size_t len, void *userdata)
{
	return read(fd, buf, len);
}

int stats_init(struct fuse_session *se)
{
	const struct ipc_kind *const *kinds = ipc_kinds();
	for (kind_count = 0; kinds[kind_count]; kind_count++)
		;
	counts = g_new0(struct counts, kind_count + 1);
	pending = g_hash_table_new(g_direct_hash, g_direct_equal);
	const struct fuse_custom_io io = { .writev = counting_writev, .read = plain_read };
	return fuse_session_custom_io(se, &io, sizeof(io), fuse_session_fd(se));
}

void stats_describe(GString *out)
{
	const struct ipc_kind *const *kinds = ipc_kinds();
	g_string_append_printf(out, "%-10s %10s %10s %10s\n", "kind", "objects", "served", "refused");
	for (size_t i = 0; i <= kind_count; i++) {
		g_autofree char *objects = g_strdup("-");
		if (i < kind_count) {
			g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
			int r = kinds[i]->list(names);
			g_free(objects);
			objects = r < 0 ? g_strdup(g_strerror(-r)) : g_strdup_printf("%u", names->len);
		}
		g_string_append_printf(out, "%-10s %10s %10" G_GUINT64_FORMAT " %10" G_GUINT64_FORMAT "\n",
				       i < kind_count ? kinds[i]->dir : "other", objects,
				       counts[i].served, counts[i].refused);
	}
}
