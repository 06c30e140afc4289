/* What the three System V kinds share. An object's name is its key, as
 * "0x" and eight lowercase hex digits, or "id.N" for one whose key is
 * IPC_PRIVATE, N its id; only that one spelling names it. Listing walks the
 * kernel's table by index with *_STAT_ANY, as /proc/sysvipc does, so it
 * shows every object of the daemon's IPC namespace whoever may read it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "blocking.h"
#include "sysv.h"

#define KEY_NAME_LEN 10 /* "0x" + 8 hex digits */
#define ID_PREFIX "id."


static bool is_key_name(const char *name, size_t len)
{
	if (len != KEY_NAME_LEN || name[0] != '0' || name[1] != 'x')
		return false;
	for (size_t i = 2; i < len; i++)
		if (!g_ascii_isdigit(name[i]) && !(name[i] >= 'a' && name[i] <= 'f'))
			return false;
	return true;
}

static bool is_id_name(const char *name, size_t len, int *id)
{
	size_t plen = strlen(ID_PREFIX);
	if (len <= plen || strncmp(name, ID_PREFIX, plen) != 0 || len - plen > 10)
		return false;
	const char *digits = name + plen;
	size_t n = len - plen;
	if (n > 1 && digits[0] == '0')
		return false; /* one spelling per id */
	gint64 v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!g_ascii_isdigit(digits[i]))
			return false;
		v = v * 10 + (digits[i] - '0');
	}
	if (v > G_MAXINT)
		return false;
	*id = (int)v;
	return true;
}

/* Splits name into the object's name and what follows '@', checked by
 * the kind; the key (or IPC_PRIVATE and the id). */
static int parse_name(const struct sysv_kind *k, const char *name, key_t *key, int *id)
{
	const char *at = k->check_suffix ? strchr(name, '@') : NULL;
	size_t len = at ? (size_t)(at - name) : strlen(name);
	if (at && k->check_suffix(at + 1) < 0)
		return -EINVAL;
	*id = -1;
	*key = IPC_PRIVATE;
	if (is_key_name(name, len)) {
		*key = (key_t)strtoul(name + 2, NULL, 16);
		return *key == IPC_PRIVATE ? -EINVAL : 0;
	}
	return is_id_name(name, len, id) ? 0 : -EINVAL;
}

static void object_name(const struct sysv_stat *st, char *out, size_t size)
{
	if (st->key == IPC_PRIVATE)
		snprintf(out, size, ID_PREFIX "%d", st->id);
	else
		snprintf(out, size, "0x%08x", (unsigned)st->key);
}

/* Times the object has not had yet (never sent to, never attached) show
 * as its last change rather than as 1970. */
static void fill_unset_times(struct sysv_stat *st)
{
	if (st->attr.atime.tv_sec == 0)
		st->attr.atime = st->attr.ctime;
	if (st->attr.mtime.tv_sec == 0)
		st->attr.mtime = st->attr.ctime;
}

static int stat_object(const struct sysv_kind *k, int id_or_index, bool by_index,
		       struct sysv_stat *st)
{
	int r = k->stat(id_or_index, by_index, st);
	if (r == 0)
		fill_unset_times(st);
	return r;
}

/* The id name stands for now, and what follows its '@'. */
static int resolve(const struct sysv_kind *k, const char *name, struct sysv_stat *st)
{
	key_t key;
	int id;
	if (parse_name(k, name, &key, &id) < 0)
		return -ENOENT;
	if (key != IPC_PRIVATE) {
		id = k->get(key, 0, 0);
		if (id < 0)
			return id;
	}
	int r = stat_object(k, id, false, st);
	if (r < 0)
		return r == -EINVAL || r == -EIDRM ? -ENOENT : r;
	/* An object with a key is named by its key only. */
	if (key == IPC_PRIVATE && st->key != IPC_PRIVATE)
		return -ENOENT;
	return 0;
}

static struct ipc_object *object_new(const struct sysv_kind *k, const char *name,
				     const struct sysv_stat *st)
{
	struct ipc_object *o = g_new0(struct ipc_object, 1);
	const char *at = k->check_suffix ? strchr(name, '@') : NULL;
	o->kind = k;
	o->id = st->id;
	o->suffix = at ? g_strdup(at + 1) : NULL;
	o->last = *st;
	return o;
}

int sysv_find(struct ipc_state *state, const char *name, struct ipc_object **out)
{
	const struct sysv_kind *k = state->kind;
	struct sysv_stat st;
	int r = resolve(k, name, &st);
	if (r == 0)
		*out = object_new(k, name, &st);
	return r;
}

int sysv_list(struct ipc_state *state, GPtrArray *names)
{
	const struct sysv_kind *k = state->kind;
	int max = k->max_index();
	if (max < 0)
		return max;
	for (int i = 0; i <= max; i++) {
		struct sysv_stat st;
		char name[32];
		if (stat_object(k, i, true, &st) < 0)
			continue; /* a free slot, or gone since */
		object_name(&st, name, sizeof(name));
		g_ptr_array_add(names, g_strdup(name));
	}
	return 0;
}

bool sysv_object_stat(struct ipc_object *o, struct sysv_stat *st)
{
	if (stat_object(o->kind, o->id, false, st) == 0) {
		o->last = *st;
		return true;
	}
	*st = o->last;
	st->attr.nlink = 0;
	return false;
}

int sysv_stat(struct ipc_object *o, struct ipc_attr *attr)
{
	struct sysv_stat st;
	sysv_object_stat(o, &st);
	*attr = st.attr;
	/* Nothing tells what a System V object takes: its size rounded up. */
	attr->blocks = (attr->size + 511) / 512;
	return 0;
}

void sysv_release(struct ipc_object *o)
{
	g_free(o->suffix);
	g_free(o);
}

static long create_size_for(struct ipc_state *state, const struct ipc_caller *who)
{
	const struct sysv_kind *k = state->kind;
	if (!k->create_size)
		return 0;
	g_autofree char *key = g_strdup_printf("%s:%u", k->create_xattr, who->uid);
	gpointer v = g_hash_table_lookup(state->settings, key);
	if (v)
		return GPOINTER_TO_SIZE(v);
	return *k->create_size->value ? *k->create_size->value : k->create_default;
}

int sysv_create(struct ipc_state *state, const char *name, mode_t mode,
		const struct ipc_caller *who, struct ipc_object **out)
{
	const struct sysv_kind *k = state->kind;
	key_t key;
	int id;
	int r = parse_name(k, name, &key, &id);
	if (r < 0)
		return r;
	if (key == IPC_PRIVATE) {
		/* An id is the kernel's to give: only an existing one opens. */
		struct sysv_stat st;
		return resolve(k, name, &st) == 0 ? -EEXIST : -EINVAL;
	}
	id = k->get(key, IPC_CREAT | IPC_EXCL | (mode & 0777), create_size_for(state, who));
	if (id < 0)
		return id;
	/* The daemon made it: the caller owns it. */
	r = k->set_owner(id, who->uid, who->gid, mode & 0777);
	struct sysv_stat st;
	if (r == 0)
		r = stat_object(k, id, false, &st);
	if (r < 0) {
		k->remove(id);
		return r;
	}
	*out = object_new(k, name, &st);
	return 0;
}

/* The id is the object's: removing by it never removes another. */
int sysv_unlink(struct ipc_object *o, const char *name)
{
	int r = o->kind->remove(o->id);
	return r == -EINVAL || r == -EIDRM ? -ENOENT : r;
}

long sysv_errno(const struct sysv_kind *k, int id, long r)
{
	struct sysv_stat st;
	return r == -EINVAL && k->stat(id, false, &st) < 0 ? -EIDRM : r;
}

int sysv_chmod(struct ipc_object *o, mode_t mode)
{
	if (mode & 07000)
		return -EINVAL; /* no set-id or sticky bits on IPC objects */
	return sysv_errno(o->kind, o->id, o->kind->set_owner(o->id, (uid_t)-1, (gid_t)-1, mode & 0777));
}

int sysv_chown(struct ipc_object *o, uid_t uid, gid_t gid)
{
	return sysv_errno(o->kind, o->id, o->kind->set_owner(o->id, uid, gid, (mode_t)-1));
}

/* A shell's ">" truncates to 0, dd to where it starts writing: accepted,
 * to 0 or to the object's size, and nothing is cut; sizes are fixed. */
int sysv_truncate(struct ipc_object *o, off_t size)
{
	struct sysv_stat st;
	sysv_object_stat(o, &st);
	return size == 0 || size == st.attr.size ? 0 : -EINVAL;
}

#define XATTR_ID "user.sysv.id"
#define XATTR_KEY "user.sysv.key"
#define XATTR_CUID "user.sysv.cuid"
#define XATTR_CGID "user.sysv.cgid"

int sysv_listxattr(struct ipc_object *o, GPtrArray *attrs)
{
	const struct sysv_kind *k = o->kind;
	static const char *const common[] = { XATTR_ID, XATTR_KEY, XATTR_CUID, XATTR_CGID };
	for (size_t i = 0; i < G_N_ELEMENTS(common); i++)
		g_ptr_array_add(attrs, g_strdup(common[i]));
	for (size_t i = 0; k->counter_names[i]; i++)
		g_ptr_array_add(attrs, g_strconcat(k->xattr_prefix, k->counter_names[i], NULL));
	for (size_t i = 0; k->text_names && k->text_names[i]; i++)
		g_ptr_array_add(attrs, g_strconcat(k->xattr_prefix, k->text_names[i], NULL));
	return 0;
}

/* The value of one of the kind's own xattrs, name after the prefix. */
static int kind_xattr(const struct sysv_kind *k, const struct sysv_stat *st, const char *name,
		      GString *value)
{
	for (size_t i = 0; k->counter_names[i] && i < SYSV_MAX_COUNTERS; i++) {
		if (strcmp(name, k->counter_names[i]) == 0) {
			g_string_printf(value, "%ld", st->counters[i]);
			return 0;
		}
	}
	for (size_t i = 0; k->text_names && k->text_names[i]; i++)
		if (strcmp(name, k->text_names[i]) == 0)
			return k->text_xattr(st, name, value);
	return -ENODATA;
}

int sysv_getxattr(struct ipc_object *o, const char *attr, GString *value)
{
	const struct sysv_kind *k = o->kind;
	struct sysv_stat st;
	sysv_object_stat(o, &st);
	if (strcmp(attr, XATTR_ID) == 0) {
		g_string_printf(value, "%d", st.id);
		return 0;
	}
	if (strcmp(attr, XATTR_KEY) == 0) {
		g_string_printf(value, "0x%08x", (unsigned)st.key);
		return 0;
	}
	if (strcmp(attr, XATTR_CUID) == 0 || strcmp(attr, XATTR_CGID) == 0) {
		g_string_printf(value, "%u", strcmp(attr, XATTR_CUID) == 0 ? (unsigned)st.cuid :
									    (unsigned)st.cgid);
		return 0;
	}
	if (!g_str_has_prefix(attr, k->xattr_prefix))
		return -ENODATA;
	return kind_xattr(k, &st, attr + strlen(k->xattr_prefix), value);
}

int sysv_dir_listxattr(struct ipc_state *state, const struct ipc_caller *who, GPtrArray *attrs)
{
	const struct sysv_kind *k = state->kind;
	if (k->create_xattr)
		g_ptr_array_add(attrs, g_strdup(k->create_xattr));
	return 0;
}

int sysv_dir_getxattr(struct ipc_state *state, const struct ipc_caller *who,
		      const char *attr, GString *value)
{
	const struct sysv_kind *k = state->kind;
	if (!k->create_xattr || strcmp(attr, k->create_xattr) != 0)
		return -ENODATA;
	g_string_printf(value, "%ld", create_size_for(state, who));
	return 0;
}

int sysv_dir_setxattr(struct ipc_state *state, const struct ipc_caller *who,
		      const char *attr, const char *value)
{
	const struct sysv_kind *k = state->kind;
	if (!k->create_xattr || strcmp(attr, k->create_xattr) != 0)
		return -ENOTSUP;
	const struct ipc_option *o = k->create_size;
	long v;
	if (ipc_parse_long(value, o->min, o->max, &v) < 0)
		return -EINVAL;
	g_hash_table_insert(state->settings, g_strdup_printf("%s:%u", attr, who->uid), GSIZE_TO_POINTER(v));
	return 0;
}

int sysv_dir_removexattr(struct ipc_state *state, const struct ipc_caller *who, const char *attr)
{
	const struct sysv_kind *k = state->kind;
	if (!k->create_xattr || strcmp(attr, k->create_xattr) != 0)
		return -ENODATA;
	g_autofree char *key = g_strdup_printf("%s:%u", attr, who->uid);
	g_hash_table_remove(state->settings, key);
	return 0;
}

long sysv_call_errno(const struct sysv_kind *k, int id)
{
	return sysv_errno(k, id, -errno);
}

int sysv_start(void)
{
	ipc_blocking_setup();
	return 0;
}

void sysv_stop(void)
{
	ipc_blocking_teardown();
}

int sysv_setup(const struct sysv_kind *k, struct ipc_state **out)
{
	struct ipc_state *st = g_new0(struct ipc_state, 1);
	st->kind = k;
	st->settings = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	*out = st;
	return 0;
}

void sysv_teardown(struct ipc_state *st)
{
	g_hash_table_destroy(st->settings);
	g_free(st);
}
