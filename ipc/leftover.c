/* The unread rest of messages longer than the reader's buffer: kept per
 * open file, in the order the messages were received, and handed out by
 * the next reads of that file, at most one message's rest per read. */
#include <string.h>

#include "kind.h"

struct piece {
	char *data;
	size_t offset, end;
};

void ipc_leftover_push(struct ipc_leftover *l, void *data, size_t offset, size_t len)
{
	if (len == 0) {
		g_free(data);
		return;
	}
	struct piece *p = g_new(struct piece, 1);
	*p = (struct piece){ data, offset, offset + len };
	g_queue_push_tail(&l->pieces, p);
}

bool ipc_leftover_any(const struct ipc_leftover *l)
{
	return l->pieces.length > 0;
}

size_t ipc_leftover_take(struct ipc_leftover *l, void *buf, size_t len)
{
	struct piece *p = g_queue_peek_head(&l->pieces);
	if (!p)
		return 0;
	size_t n = MIN(len, p->end - p->offset);
	memcpy(buf, p->data + p->offset, n);
	p->offset += n;
	if (p->offset == p->end) {
		g_queue_pop_head(&l->pieces);
		g_free(p->data);
		g_free(p);
	}
	return n;
}

void ipc_leftover_clear(struct ipc_leftover *l)
{
	struct piece *p;
	while ((p = g_queue_pop_head(&l->pieces))) {
		g_free(p->data);
		g_free(p);
	}
}
