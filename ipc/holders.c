/* Which processes hold which files: one pass over /proc, on a thread of
 * its own (see holders.h for why). For each process: the device and
 * inode of every descriptor (fd/) and of every file mapping (maps). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "holders.h"
#include "procscan.h"
#include "space.h"

struct ipc_holders {
	gint refs;  /* the scanning thread's and the owner's */
	int fd;     /* an eventfd, written once the scan is done */
	gint done;  /* set by the scanning thread when it is */
	GHashTable *wanted; /* struct ipc_file_id: the files asked about; read only */
	/* Written by the scanning thread alone until done, read only after. */
	GHashTable *held;     /* struct ipc_file_id -> GArray of pid_t, of wanted files */
	GHashTable *processes; /* pid -> struct process, for the pids in held */
};

static guint file_id_hash(gconstpointer p)
{
	const struct ipc_file_id *id = p;
	return g_direct_hash(GSIZE_TO_POINTER(id->ino ^ (id->dev * 2654435761u) ^ (id->ns << 7)));
}

static gboolean file_id_equal(gconstpointer a, gconstpointer b)
{
	const struct ipc_file_id *x = a, *y = b;
	return x->dev == y->dev && x->ino == y->ino && x->ns == y->ns;
}

static void pids_free(gpointer p)
{
	g_array_unref(p);
}

/* What one process holds of the files wanted: read on a reader thread of
 * ipc_procscan, kept if it holds any. */
struct process {
	uid_t uid; /* the owner of its /proc entry: its effective uid */
	char *command;
	GArray *files; /* struct ipc_file_id, each once */
};

static void process_free(gpointer p)
{
	struct process *proc = p;
	g_free(proc->command);
	if (proc->files)
		g_array_unref(proc->files);
	g_free(proc);
}

/* Once per file, however many descriptors or mappings. */
static void note_held(GHashTable *wanted, GArray *files, dev_t dev, ino_t ino, ino_t ns)
{
	struct ipc_file_id id = { dev, ino, ns };
	if (!g_hash_table_contains(wanted, &id))
		return; /* kept small: only the files asked about */
	for (guint i = 0; i < files->len; i++)
		if (file_id_equal(&g_array_index(files, struct ipc_file_id, i), &id))
			return;
	g_array_append_val(files, id);
}

static GString *read_proc_file(int dir, const char *name)
{
	int fd = openat(dir, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	GString *text = g_string_sized_new(4096);
	ssize_t n;
	for (;;) {
		g_string_set_size(text, text->len + 4096);
		n = read(fd, text->str + text->len - 4096, 4096);
		g_string_set_size(text, text->len - 4096 + MAX(n, 0));
		if (n <= 0)
			break;
	}
	close(fd);
	if (n < 0) {
		g_string_free(text, TRUE);
		return NULL;
	}
	return text;
}

static void scan_descriptors(GHashTable *wanted, GArray *files, int pid_dir)
{
	int fd = openat(pid_dir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		/* From the inode the kernel has, without asking its file
		 * system: the descriptor may be of a FUSE mount, this one. */
		struct statx stx;
		if (statx(dirfd(d), e->d_name, AT_STATX_DONT_SYNC, STATX_INO, &stx) == 0)
			note_held(wanted, files, makedev(stx.stx_dev_major, stx.stx_dev_minor),
				  stx.stx_ino, 0);
	}
	closedir(d);
}

/* Lines "start-end perms offset major:minor inode path". */
static void scan_maps(GHashTable *wanted, GArray *files, int pid_dir)
{
	g_autoptr(GString) maps = read_proc_file(pid_dir, "maps");
	if (!maps)
		return;
	ino_t ns = 0; /* the process's IPC namespace, once a segment is seen */
	for (char *line = maps->str, *next; *line; line = next) {
		char *end = strchr(line, '\n');
		next = end ? end + 1 : line + strlen(line);
		if (end)
			*end = '\0';
		unsigned major, minor;
		unsigned long ino;
		int path = 0;
		if (sscanf(line, "%*x-%*x %*s %*x %x:%x %lu %n", &major, &minor, &ino, &path) < 3 ||
		    ino == 0)
			continue;
		struct stat st;
		if (path && g_str_has_prefix(line + path, "/SYSV")) {
			if (ns == 0 && fstatat(pid_dir, "ns/ipc", &st, 0) == 0)
				ns = st.st_ino;
			note_held(wanted, files, IPC_FILE_SYSV_SHM, ino, ns);
		} else {
			note_held(wanted, files, makedev(major, minor), ino, 0);
		}
	}
}

/* A command as one line of plain text, whatever bytes it was given. */
static char *command_of(int pid_dir)
{
	g_autoptr(GString) comm = read_proc_file(pid_dir, "comm");
	if (!comm)
		return g_strdup("?");
	if (comm->len && comm->str[comm->len - 1] == '\n')
		g_string_truncate(comm, comm->len - 1);
	for (gsize i = 0; i < comm->len; i++)
		if ((unsigned char)comm->str[i] < 0x20 || comm->str[i] == 0x7f)
			comm->str[i] = '?';
	return g_strdup(comm->str);
}

/* On a reader thread: the files wanted that process pid holds. */
static gpointer scan_process(int pid_dir, pid_t pid, gpointer wanted)
{
	g_autoptr(GArray) files = g_array_new(FALSE, FALSE, sizeof(struct ipc_file_id));
	scan_descriptors(wanted, files, pid_dir);
	scan_maps(wanted, files, pid_dir);
	if (files->len == 0)
		return NULL;
	struct process *p = g_new0(struct process, 1);
	struct stat st;
	p->uid = fstat(pid_dir, &st) == 0 ? st.st_uid : 0;
	p->command = command_of(pid_dir);
	p->files = g_steal_pointer(&files);
	return p;
}

/* What the readers found, by file and by pid. */
static void keep_found(struct ipc_holders *s, GArray *found)
{
	for (guint i = 0; i < found->len; i++) {
		struct ipc_procscan_result *r = &g_array_index(found, struct ipc_procscan_result, i);
		struct process *p = r->found;
		for (guint j = 0; j < p->files->len; j++) {
			const struct ipc_file_id *id = &g_array_index(p->files, struct ipc_file_id, j);
			GArray *pids = g_hash_table_lookup(s->held, id);
			if (!pids) {
				pids = g_array_new(FALSE, FALSE, sizeof(pid_t));
				g_hash_table_insert(s->held, g_memdup2(id, sizeof *id), pids);
			}
			g_array_append_val(pids, r->pid);
		}
		g_clear_pointer(&p->files, g_array_unref);
		g_hash_table_insert(s->processes, GINT_TO_POINTER(r->pid), p);
	}
}

static void holders_unref(struct ipc_holders *s)
{
	if (!g_atomic_int_dec_and_test(&s->refs))
		return;
	close(s->fd);
	g_hash_table_destroy(s->wanted);
	g_hash_table_destroy(s->held);
	g_hash_table_destroy(s->processes);
	g_free(s);
	/* A scan's many small blocks, freed among the daemon's own, would
	 * otherwise stay resident: asked for often (status reads), they
	 * grew the daemon by megabytes. */
	malloc_trim(0);
}

/* On the one thread of the pool: scans run one after the other, so that
 * many asked at once cost one scan at a time, not one each. */
static void scan(gpointer data, gpointer unused)
{
	struct ipc_holders *s = data;
	ipc_space_home();
	g_autoptr(GArray) found = g_array_new(FALSE, FALSE, sizeof(struct ipc_procscan_result));
	ipc_procscan(scan_process, process_free, g_hash_table_ref(s->wanted),
		     (GDestroyNotify)g_hash_table_unref, found);
	keep_found(s, found);
	g_atomic_int_set(&s->done, 1);
	eventfd_write(s->fd, 1);
	holders_unref(s);
}

static gpointer make_pool(gpointer unused)
{
	return g_thread_pool_new(scan, NULL, 1, FALSE, NULL);
}

int ipc_holders_start(const struct ipc_file_id *wanted, size_t n, struct ipc_holders **out)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct ipc_holders *s = g_new0(struct ipc_holders, 1);
	s->refs = 2;
	s->fd = fd;
	s->wanted = g_hash_table_new_full(file_id_hash, file_id_equal, g_free, NULL);
	for (size_t i = 0; i < n; i++)
		g_hash_table_add(s->wanted, g_memdup2(&wanted[i], sizeof wanted[i]));
	s->held = g_hash_table_new_full(file_id_hash, file_id_equal, g_free, pids_free);
	s->processes = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, process_free);
	static GOnce pool_once = G_ONCE_INIT;
	GThreadPool *pool = g_once(&pool_once, make_pool, NULL);
	if (!g_thread_pool_push(pool, s, NULL)) {
		s->refs = 1;
		holders_unref(s);
		return -EAGAIN;
	}
	*out = s;
	return 0;
}

int ipc_holders_fd(const struct ipc_holders *s)
{
	return s->fd;
}

bool ipc_holders_done(const struct ipc_holders *s)
{
	return g_atomic_int_get((gint *)&s->done);
}

static gint compare_pids(gconstpointer a, gconstpointer b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return (x > y) - (x < y);
}

void ipc_holders_describe(const struct ipc_holders *s, const struct ipc_file_id *ids, size_t n,
			  uid_t viewer, GString *out)
{
	g_autoptr(GArray) pids = g_array_new(FALSE, FALSE, sizeof(pid_t));
	for (size_t i = 0; i < n; i++) {
		GArray *held = g_hash_table_lookup(s->held, &ids[i]);
		if (held)
			g_array_append_vals(pids, held->data, held->len);
	}
	g_array_sort(pids, compare_pids);
	for (guint i = 0; i < pids->len; i++) {
		pid_t pid = g_array_index(pids, pid_t, i);
		if (i > 0 && pid == g_array_index(pids, pid_t, i - 1))
			continue;
		const struct process *p = g_hash_table_lookup(s->processes, GINT_TO_POINTER(pid));
		if (viewer == 0 || p->uid == viewer)
			g_string_append_printf(out, "%d %s\n", (int)pid, p->command);
	}
}

bool ipc_holders_held(const struct ipc_holders *s, const struct ipc_file_id *id)
{
	return g_hash_table_contains(s->held, id);
}

void ipc_holders_free(struct ipc_holders *s)
{
	if (s)
		holders_unref(s);
}
