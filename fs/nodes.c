/* Inode numbers <-> directories and named objects.
 *
 * Directories are fixed at start from the table of kinds. An object's node
 * lives from its first lookup until the kernel forgets it; its inode number
 * stays the same while the kernel holds it, whatever happens to the object. */
#include <errno.h>
#include <string.h>

#include "fs.h"

static GHashTable *by_ino; /* fuse_ino_t -> struct node */
static fuse_ino_t next_ino = FUSE_ROOT_ID;
static struct node *root;
static const struct ipc_instance *root_instances; /* the daemon's own namespace's */

/* The last ESTALE answered to each caller, for a while: caller (a
 * thread id) -> struct stale. Owned by the thread that serves requests. */
struct stale {
	fuse_ino_t parent;
	char *name;
	gint64 when;
};
static GHashTable *stale_answers;
#define STALE_RETRY_US (1 * G_USEC_PER_SEC)

static void stale_free(struct stale *s)
{
	g_free(s->name);
	g_free(s);
}

static struct node *node_new(struct node *parent, const char *name, bool is_dir)
{
	struct node *n = g_new0(struct node, 1);
	n->ino = next_ino++;
	n->parent = parent;
	n->name = g_strdup(name);
	n->is_dir = is_dir;
	if (is_dir)
		n->subdirs = g_hash_table_new(g_str_hash, g_str_equal);
	g_hash_table_insert(by_ino, &n->ino, n);
	return n;
}

static void node_free(struct node *n)
{
	if (n->object)
		IPC_CALL_VOID(n->inst, release, n->object);
	g_clear_pointer(&n->subdirs, g_hash_table_destroy);
	g_clear_pointer(&n->files, g_hash_table_destroy);
	g_clear_pointer(&n->objects, g_hash_table_destroy);
	g_free(n->name);
	g_free(n);
}

static struct node *subdir_make(struct node *dir, const char *name)
{
	struct node *n = g_hash_table_lookup(dir->subdirs, name);
	if (!n) {
		n = node_new(dir, name, true);
		g_hash_table_insert(dir->subdirs, n->name, n);
	}
	return n;
}

static void fixed_file_make(struct node *dir, const char *name, const struct ipc_instance *in)
{
	struct node *n = node_new(dir, name, false);
	n->inst = in;
	n->fixed = true;
	n->object_id = 1;
	if (!dir->files)
		dir->files = g_hash_table_new(g_str_hash, g_str_equal);
	g_hash_table_insert(dir->files, n->name, n);
}

struct node *node_fixed_file(struct node *dir, const char *name)
{
	return dir->files ? g_hash_table_lookup(dir->files, name) : NULL;
}

/* A directory for each kind of instances below top. */
static void build_kind_dirs(struct node *top, const struct ipc_instance *instances,
			    struct ns_entry *e)
{
	for (const struct ipc_instance *in = instances; in->kind; in++) {
		g_auto(GStrv) parts = g_strsplit(in->kind->dir, "/", -1);
		struct node *dir = top;
		for (size_t j = 0; parts[j]; j++) {
			dir = subdir_make(dir, parts[j]);
			dir->under_ns = top->under_ns;
			dir->ns = e;
		}
		dir->inst = in;
		dir->objects = g_hash_table_new(g_str_hash, g_str_equal);
	}
}

struct node *nodes_build_tree(const struct ipc_instance *instances)
{
	by_ino = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, (GDestroyNotify)node_free);
	root = node_new(NULL, "", true);
	root_instances = instances;
	build_kind_dirs(root, instances, NULL);
	struct node *ns = subdir_make(root, NS_NAME);
	ns->ns_root = ns->under_ns = true;
	fixed_file_make(root, STATUS_NAME, &status_instance);
	return root;
}

struct node *nodes_add_ns_tree(struct node *ns_root, const char *name,
			       const struct ipc_instance *instances, struct ns_entry *e)
{
	struct node *top = subdir_make(ns_root, name);
	top->under_ns = top->ns_top = true;
	top->ns = e;
	build_kind_dirs(top, instances, e);
	return top;
}

static void remove_node(struct node *n)
{
	if (n->subdirs) {
		g_autoptr(GList) dirs = g_hash_table_get_values(n->subdirs);
		for (GList *i = dirs; i; i = i->next)
			remove_node(i->data);
	}
	g_hash_table_remove(by_ino, &n->ino);
}

void nodes_detach_subtree(struct node *top)
{
	if (g_hash_table_lookup(top->parent->subdirs, top->name) == top)
		g_hash_table_remove(top->parent->subdirs, top->name);
}

void nodes_remove_subtree(struct node *top)
{
	nodes_detach_subtree(top);
	remove_node(top);
}

const struct ipc_instance *nodes_instances(void)
{
	return root_instances;
}

void nodes_free_tree(void)
{
	g_clear_pointer(&stale_answers, g_hash_table_destroy);
	g_clear_pointer(&by_ino, g_hash_table_destroy);
	root = NULL;
}

struct node *node_get(fuse_ino_t ino)
{
	return g_hash_table_lookup(by_ino, &ino);
}

void nodes_of_object(const struct ipc_instance *in, uint64_t object_id, GArray *inos)
{
	GHashTableIter it;
	gpointer value;
	g_hash_table_iter_init(&it, by_ino);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		struct node *n = value;
		if (!n->is_dir && n->inst == in && n->object_id == object_id)
			g_array_append_val(inos, n->ino);
	}
}

struct node *node_subdir(struct node *dir, const char *name)
{
	return dir->subdirs ? g_hash_table_lookup(dir->subdirs, name) : NULL;
}

double node_entry_seconds(const struct node *n)
{
	/* Below ns/, a namespace may go at any time. */
	return n->is_dir && !n->under_ns ? 24 * 3600.0 : n->is_dir ? 1.0 : 0;
}

double node_attr_seconds(const struct node *n)
{
	return n->is_dir ? 1.0 : 0;
}

bool node_in_ns(const struct node *n)
{
	return n->under_ns || n->ns;
}

bool node_is_kind_dir(const struct node *n)
{
	return n->is_dir && n->inst;
}

struct node *node_lookup_object(struct node *dir, const char *name, uint64_t object_id)
{
	struct node *n = g_hash_table_lookup(dir->objects, name);
	if (n && (n->object_id != object_id || n->open_writers > 0)) {
		/* The name was removed and made again, or the node is open for
		 * a write that may wait: the kernel holds an inode's lock for as
		 * long as a write to it is unanswered, so a new opener gets a new
		 * inode rather than stand in line behind that lock, where it
		 * could not even be killed. The old node lives on, nameless,
		 * while the kernel holds it. */
		g_hash_table_steal(dir->objects, name);
		n = NULL;
	}
	if (!n) {
		n = node_new(dir, name, false);
		n->inst = dir->inst;
		n->ns = dir->ns;
		if (n->ns)
			ns_object_node_made(n->ns);
		n->object_id = object_id;
		g_hash_table_insert(dir->objects, n->name, n);
	}
	n->nlookup++;
	return n;
}

static gboolean stale_expired(gpointer key, gpointer value, gpointer now)
{
	return *(gint64 *)now - ((struct stale *)value)->when >= STALE_RETRY_US;
}

int node_stale(const struct node *n, pid_t caller)
{
	gint64 now = g_get_monotonic_time();
	if (!stale_answers)
		stale_answers = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
						      (GDestroyNotify)stale_free);
	if (g_hash_table_size(stale_answers) > 64)
		g_hash_table_foreach_remove(stale_answers, stale_expired, &now);
	struct stale *last = g_hash_table_lookup(stale_answers, GINT_TO_POINTER(caller));
	if (last && last->parent == n->parent->ino && strcmp(last->name, n->name) == 0 &&
	    now - last->when < STALE_RETRY_US) {
		g_hash_table_remove(stale_answers, GINT_TO_POINTER(caller));
		return -ENOENT;
	}
	struct stale *s = g_new0(struct stale, 1);
	*s = (struct stale){ n->parent->ino, g_strdup(n->name), now };
	g_hash_table_replace(stale_answers, GINT_TO_POINTER(caller), s);
	return -ESTALE;
}

int object_find(const struct ipc_instance *in, const char *name, struct ipc_object **out,
		struct ipc_attr *attr)
{
	int r = IPC_CALL(in, find, in->state, name, out);
	if (r == 0 && (r = IPC_CALL(in, stat, *out, attr)) < 0)
		IPC_CALL_VOID(in, release, *out);
	return r;
}

int node_object(struct node *n, pid_t caller, enum node_use use, struct node_ref *ref)
{
	*ref = (struct node_ref){ .object = n->object };
	if (n->object)
		return 0;
	struct ipc_object *o;
	struct ipc_attr a;
	int r = object_find(n->inst, n->name, &o, &a);
	if (r == -ENOENT && use != NODE_AS_CHECKED)
		return r;
	if (r < 0)
		return r == -ENOENT ? node_stale(n, caller) : r;
	bool other = a.id != n->object_id;
	if (other && use == NODE_AS_CHECKED) {
		IPC_CALL_VOID(n->inst, release, o);
		return node_stale(n, caller);
	}
	if (other)
		n->object_id = a.id;
	*ref = (struct node_ref){ .object = o, .owned = true, .found = true, .attr = a };
	return 0;
}

void node_ref_done(struct node *n, struct node_ref *ref)
{
	if (ref->owned)
		IPC_CALL_VOID(n->inst, release, ref->object);
	*ref = (struct node_ref){ 0 };
}

void node_file_opened(struct node *n, struct node_ref *ref)
{
	if (!n->object && ref->owned) {
		n->object = ref->object;
		ref->owned = false;
	}
	n->open_files++;
}

void node_file_closed(struct node *n)
{
	if (--n->open_files == 0 && n->object) {
		IPC_CALL_VOID(n->inst, release, n->object);
		n->object = NULL;
	}
}

void node_forget(struct node *n, uint64_t count)
{
	if (n->ns_top) {
		n->nlookup = count >= n->nlookup ? 0 : n->nlookup - count;
		if (n->nlookup == 0)
			ns_forgotten(n->ns);
		return;
	}
	if (n->is_dir || n->fixed)
		return;
	n->nlookup = count >= n->nlookup ? 0 : n->nlookup - count;
	if (n->nlookup > 0)
		return;
	struct ns_entry *e = n->ns;
	if (g_hash_table_lookup(n->parent->objects, n->name) == n)
		g_hash_table_remove(n->parent->objects, n->name);
	g_hash_table_remove(by_ino, &n->ino);
	if (e)
		ns_object_node_forgotten(e); /* last: it may free the tree */
}

