/* ns/: the host's other IPC namespaces, one directory each, named by the
 * namespace's inode number; ns/N/ holds the same kind directories as the
 * root, each an instance of its kind in N (ipc/space.h).
 *
 * N's tree is made at its first lookup and kept while N has a process.
 * The namespace is looked at once a second while any tree lives: once it
 * has no process left, its instances let go of every descriptor that
 * would keep it (its mqueue mount, its /dev/shm), everything below ns/N
 * answers ENOENT, and the tree is freed once the kernel has forgotten
 * ns/N. The listing of ns/ is made afresh from /proc at each opendir.
 *
 * Guarded by the daemon lock (fs/requests.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"

#define SWEEP_SECONDS 1
#define XATTR_PID "user.ns.pid"
#define XATTR_COMMAND "user.ns.command"

struct ns_entry {
	ino_t ns;
	struct ipc_space *space;
	struct ipc_instance *instances;
	size_t instance_count;
	struct node *top; /* ns/N */
	/* Object nodes below it that the kernel has not forgotten: a file
	 * below may be released after ns/N itself is forgotten. */
	unsigned object_nodes;
	bool gone;
	bool detached; /* a new namespace took its number: it is in dead */
};

/* ns inode (gint64) -> struct ns_entry, live or not yet forgotten. */
static GHashTable *entries;
/* Gone entries whose number a new namespace took, until the kernel forgets
 * them: struct ns_entry, freed when removed. */
static GHashTable *dead;
static guint sweep_source;
static bool stopping; /* the nodes are all freed already */

static void entry_free(struct ns_entry *e)
{
	if (!stopping)
		nodes_remove_subtree(e->top);
	ipc_instances_free(e->instances);
	ipc_space_unref(e->space);
	g_free(e);
}

/* Freed once gone and nothing of the kernel's refers to it. */
static void entry_free_if_unused(struct ns_entry *e)
{
	if (!e->gone || e->top->nlookup > 0 || e->object_nodes > 0)
		return;
	if (e->detached)
		g_hash_table_remove(dead, e);
	else
		g_hash_table_remove(entries, &(gint64){ (gint64)e->ns });
}

/* e is gone and a new namespace has its number: the name ns/N goes to the
 * new one's tree at once, while e's tree lives on, nameless, for the
 * kernel's references (a working directory, an open file) until they are
 * given back. */
static void entry_detach(struct ns_entry *e)
{
	g_hash_table_steal(entries, &(gint64){ (gint64)e->ns });
	e->detached = true;
	nodes_detach_subtree(e->top);
	g_hash_table_add(dead, e);
}

static void entry_gone(struct ns_entry *e)
{
	if (e->gone)
		return;
	g_debug("IPC namespace %lu has no process left: letting go of it", (unsigned long)e->ns);
	e->gone = true;
	ipc_space_forsake(e->space);
	ipc_instances_let_go(e->instances);
	/* What waits on its objects, a pool thread in it say, waits no more. */
	files_gone(e->instances, e->instance_count);
	entry_free_if_unused(e);
}

static bool has_no_process(struct ns_entry *e)
{
	/* Any other error (EMFILE on /proc, say) says nothing of it. */
	return ipc_space_process(e->space) == -ENOENT;
}

static gboolean sweep(gpointer data)
{
	g_autoptr(GList) all = g_hash_table_get_values(entries);
	for (GList *i = all; i; i = i->next) {
		struct ns_entry *e = i->data;
		if (!e->gone && has_no_process(e))
			entry_gone(e);
	}
	bool any_live = false;
	GHashTableIter it;
	gpointer value;
	g_hash_table_iter_init(&it, entries);
	while (g_hash_table_iter_next(&it, NULL, &value))
		any_live |= !((struct ns_entry *)value)->gone;
	if (any_live)
		return G_SOURCE_CONTINUE;
	sweep_source = 0;
	return G_SOURCE_REMOVE;
}

void ns_init(void)
{
	entries = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
					(GDestroyNotify)entry_free);
	dead = g_hash_table_new_full(g_direct_hash, g_direct_equal, (GDestroyNotify)entry_free,
				     NULL);
}

/* After nodes_free_tree: every node, and what it held, is gone. */
void ns_shutdown(void)
{
	stopping = true;
	g_clear_handle_id(&sweep_source, g_source_remove);
	g_clear_pointer(&entries, g_hash_table_destroy);
	g_clear_pointer(&dead, g_hash_table_destroy);
}

static bool parse_ns(const char *name, ino_t *ns)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(name, &end, 10);
	if (errno || *end || !g_ascii_isdigit(name[0]) || (name[0] == '0' && name[1]))
		return false;
	*ns = (ino_t)v;
	return true;
}

static int entry_new(struct node *ns_root, ino_t ns, struct ns_entry **out)
{
	g_autoptr(GArray) namespaces = g_array_new(FALSE, FALSE, sizeof(ino_t));
	g_autoptr(GArray) pids = g_array_new(FALSE, FALSE, sizeof(pid_t));
	int r = ipc_spaces_list(namespaces, pids);
	pid_t pid = 0;
	for (guint i = 0; r == 0 && i < namespaces->len; i++)
		if (g_array_index(namespaces, ino_t, i) == ns)
			pid = g_array_index(pids, pid_t, i);
	if (r < 0 || pid == 0)
		return r < 0 ? r : -ENOENT;
	struct ipc_space *space;
	if ((r = ipc_space_new(ns, pid, &space)) < 0)
		return r == -ESRCH ? -ENOENT : r;
	struct ipc_instance *instances;
	if ((r = ipc_instances_new(space, &instances)) < 0) {
		ipc_space_unref(space);
		return r;
	}
	struct ns_entry *e = g_new0(struct ns_entry, 1);
	e->ns = ns;
	e->space = space;
	e->instances = instances;
	while (instances[e->instance_count].kind)
		e->instance_count++;
	g_autofree char *name = g_strdup_printf("%lu", (unsigned long)ns);
	e->top = nodes_add_ns_tree(ns_root, name, instances, e);
	g_hash_table_insert(entries, g_memdup2(&(gint64){ (gint64)ns }, sizeof(gint64)), e);
	if (!sweep_source)
		sweep_source = g_timeout_add_seconds(SWEEP_SECONDS, sweep, NULL);
	*out = e;
	return 0;
}

int ns_lookup(struct node *ns_root, const char *name, struct node **out)
{
	ino_t ns;
	if (!parse_ns(name, &ns))
		return -ENOENT;
	struct ns_entry *e = g_hash_table_lookup(entries, &(gint64){ (gint64)ns });
	if (e && !e->gone && has_no_process(e)) {
		entry_gone(e); /* which frees it if the kernel holds no ns/N */
		e = g_hash_table_lookup(entries, &(gint64){ (gint64)ns });
	}
	if (e && e->gone) {
		entry_detach(e); /* should a new namespace have its number now */
		e = NULL;
	}
	int r = e ? 0 : entry_new(ns_root, ns, &e);
	if (r < 0)
		return r;
	e->top->nlookup++;
	*out = e->top;
	return 0;
}

int ns_list(GPtrArray *names)
{
	g_autoptr(GArray) namespaces = g_array_new(FALSE, FALSE, sizeof(ino_t));
	g_autoptr(GArray) pids = g_array_new(FALSE, FALSE, sizeof(pid_t));
	int r = ipc_spaces_list(namespaces, pids);
	for (guint i = 0; r == 0 && i < namespaces->len; i++)
		g_ptr_array_add(names, g_strdup_printf("%lu",
						       (unsigned long)g_array_index(namespaces, ino_t, i)));
	return r;
}

bool ns_gone(const struct ns_entry *e)
{
	return e->gone;
}

void ns_forgotten(struct ns_entry *e)
{
	entry_free_if_unused(e);
}

void ns_object_node_made(struct ns_entry *e)
{
	e->object_nodes++;
}

void ns_object_node_forgotten(struct ns_entry *e)
{
	e->object_nodes--;
	entry_free_if_unused(e);
}

int ns_listxattr(struct ns_entry *e, GPtrArray *names)
{
	g_ptr_array_add(names, g_strdup(XATTR_PID));
	g_ptr_array_add(names, g_strdup(XATTR_COMMAND));
	return 0;
}

/* A process in the namespace now, and its command. */
int ns_getxattr(struct ns_entry *e, const char *name, GString *value)
{
	bool want_pid = strcmp(name, XATTR_PID) == 0;
	if (!want_pid && strcmp(name, XATTR_COMMAND) != 0)
		return -ENODATA;
	pid_t pid = e->gone ? -ENOENT : ipc_space_process(e->space);
	if (pid < 0)
		return pid;
	if (want_pid) {
		g_string_printf(value, "%d", (int)pid);
		return 0;
	}
	g_autofree char *path = g_strdup_printf("/proc/%d/comm", (int)pid);
	g_autofree char *comm = NULL;
	if (!g_file_get_contents(path, &comm, NULL, NULL))
		return -ENOENT;
	g_strchomp(comm);
	for (char *c = comm; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	g_string_assign(value, comm);
	return 0;
}
