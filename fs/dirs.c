/* Directories: a listing is a snapshot taken at opendir, so offsets stay
 * stable while a reader walks it. */
#include <errno.h>
#include <sys/stat.h>

#include "fs.h"

struct dir_listing {
	GPtrArray *names;
	GArray *inos;
	GArray *types;
};

static void listing_add(struct dir_listing *l, const char *name, fuse_ino_t ino, mode_t type)
{
	g_ptr_array_add(l->names, g_strdup(name));
	g_array_append_val(l->inos, ino);
	g_array_append_val(l->types, type);
}

/* The namespaces there are now, whatever trees were made before. */
static int list_namespaces(struct node *dir, struct dir_listing *l)
{
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	int r = ns_list(names);
	for (guint i = 0; r == 0 && i < names->len; i++) {
		struct node *n = node_subdir(dir, names->pdata[i]);
		listing_add(l, names->pdata[i], n && !ns_gone(n->ns) ? n->ino : 0xffffffffu, S_IFDIR);
	}
	return r;
}

static int list_dir(struct node *dir, struct dir_listing *l)
{
	listing_add(l, ".", dir->ino, S_IFDIR);
	listing_add(l, "..", dir->parent ? dir->parent->ino : dir->ino, S_IFDIR);
	if (dir->ns && ns_gone(dir->ns))
		return -ENOENT;
	if (dir->ns_root)
		return list_namespaces(dir, l);
	GHashTableIter it;
	gpointer key, value;
	g_hash_table_iter_init(&it, dir->subdirs);
	while (g_hash_table_iter_next(&it, &key, &value))
		listing_add(l, key, ((struct node *)value)->ino, S_IFDIR);
	if (dir->files) {
		g_hash_table_iter_init(&it, dir->files);
		while (g_hash_table_iter_next(&it, &key, &value))
			listing_add(l, key, ((struct node *)value)->ino, S_IFREG);
	}
	if (!node_is_kind_dir(dir))
		return 0;
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	int r = IPC_CALL(dir->inst, list, dir->inst->state, names);
	if (r < 0)
		return r;
	for (guint i = 0; i < names->len; i++) {
		struct node *n = g_hash_table_lookup(dir->objects, names->pdata[i]);
		/* An object not looked up yet has no inode: say so. */
		listing_add(l, names->pdata[i], n ? n->ino : 0xffffffffu, S_IFREG);
	}
	return 0;
}

static void listing_free(struct dir_listing *l)
{
	g_ptr_array_unref(l->names);
	g_array_unref(l->inos);
	g_array_unref(l->types);
	g_free(l);
}

void dirs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct node *dir = node_get(ino);
	if (!dir || !dir->is_dir) {
		reply_err(req, dir ? ENOTDIR : ENOENT);
		return;
	}
	struct dir_listing *l = g_new0(struct dir_listing, 1);
	l->names = g_ptr_array_new_with_free_func(g_free);
	l->inos = g_array_new(FALSE, FALSE, sizeof(fuse_ino_t));
	l->types = g_array_new(FALSE, FALSE, sizeof(mode_t));
	int r = list_dir(dir, l);
	if (r < 0) {
		listing_free(l);
		reply_err(req, -r);
		return;
	}
	fi->fh = (uintptr_t)l;
	if (reply_open(req, fi) == -ENOENT)
		listing_free(l);
}

void dirs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			  struct fuse_file_info *fi)
{
	struct dir_listing *l = (struct dir_listing *)(uintptr_t)fi->fh;
	g_autofree char *buf = g_malloc(size);
	size_t used = 0;
	for (size_t i = off; i < l->names->len; i++) {
		struct stat st = {
			.st_ino = g_array_index(l->inos, fuse_ino_t, i),
			.st_mode = g_array_index(l->types, mode_t, i),
		};
		size_t len = fuse_add_direntry(req, buf + used, size - used, l->names->pdata[i], &st, i + 1);
		if (len > size - used)
			break;
		used += len;
	}
	reply_buf(req, buf, used);
}

/* Each entry with its attributes, taken afresh, so "ls -l" needs no lookup
 * per name; every entry but . and .. counts as a lookup. An object gone
 * since the listing was taken is left out. */
void dirs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	struct dir_listing *l = (struct dir_listing *)(uintptr_t)fi->fh;
	struct node *dir = node_get(ino);
	g_autofree char *buf = g_malloc(size);
	size_t used = 0;
	for (size_t i = off; dir && i < l->names->len; i++) {
		const char *name = l->names->pdata[i];
		struct fuse_entry_param e = { .generation = 1 };
		struct node *n;
		if (ops_lookup(dir, name, &n, &e.attr) < 0)
			continue;
		e.ino = n->ino;
		e.attr_timeout = node_attr_seconds(n);
		e.entry_timeout = node_entry_seconds(n);
		size_t len = fuse_add_direntry_plus(req, buf + used, size - used, name, &e, i + 1);
		if (len > size - used) {
			node_forget(n, 1); /* not sent: not counted */
			break;
		}
		used += len;
	}
	reply_buf(req, buf, used);
}

void dirs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	listing_free((struct dir_listing *)(uintptr_t)fi->fh);
	reply_err(req, 0);
}
