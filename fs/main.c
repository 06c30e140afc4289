/* ipcfs: options, the mount, the main loop and signals.
 *
 *   ipcfs [options] MOUNTPOINT
 *   ipcfs SOURCE MOUNTPOINT -o opts      (as mount.fuse3 and fstab call it)
 *
 * One GLib main loop serves the FUSE device, and one epoll set of the
 * descriptors that parked requests wait on. Over io_uring, libfuse's ring
 * threads, one per CPU, serve requests too, under the daemon lock
 * (fs/requests.c). No request holds a thread while it waits. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/sysmacros.h>
#include <syslog.h>
#include <unistd.h>

#include <glib-unix.h>

#include "config.h"
#include "fs.h"


struct loop {
	struct fuse_session *se;
	struct fuse_buf buf;
	GMainLoop *main_loop;
	guint fuse_watch;
};

struct cmdline {
	GPtrArray *plain_args; /* arguments that are not options */
	bool bad_option;
	struct fs_config config;
};

static int take_option(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct cmdline *c = data;
	if (key == FUSE_OPT_KEY_NONOPT) {
		g_ptr_array_add(c->plain_args, g_strdup(arg));
		return 0;
	}
	if (key != FUSE_OPT_KEY_OPT)
		return 1;
	if (strcmp(arg, "no_passthrough") == 0) {
		c->config.no_passthrough = true;
		return 0;
	}
	int t = transport_option(arg);
	if (t <= 0) {
		if (t < 0) {
			fprintf(stderr, "ipcfs: bad value in option '%s'\n", arg);
			c->bad_option = true;
		}
		return 0;
	}
	const char *eq = strchr(arg, '=');
	if (!eq)
		return 1;
	g_autofree char *name = g_strndup(arg, eq - arg);
	int r = ipc_kinds_set_option(name, eq + 1);
	if (r == -ENOENT)
		return 1; /* not ours: libfuse's or the kernel's */
	if (r < 0) {
		fprintf(stderr, "ipcfs: bad value in option '%s'\n", arg);
		c->bad_option = true;
	}
	return 0;
}

static void print_usage(const char *prog)
{
	printf("usage: %s [options] MOUNTPOINT\n\n"
	       "Mounts the host's IPC objects as files:\n", prog);
	for (const struct ipc_kind *const *k = ipc_kinds(); *k; k++)
		printf("    %-12s %s\n", (*k)->dir, (*k)->description);
	printf("\nipcfs options:\n");
	printf("    -o no_passthrough           serve shm files through the daemon, without FUSE passthrough\n");
	printf("    -o no_io_uring              serve requests through /dev/fuse, even where FUSE over io_uring works\n");
	printf("    -o io_uring_q_depth=N       requests each CPU's ring queue holds, waiting ones included (default 2048)\n");
	ipc_kinds_print_options(stdout);
	printf("\nFUSE options:\n");
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

/* Every open file through the mount holds a descriptor here. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* The signals that unmount. They are blocked from before the mount until
 * the loop watches them, so one sent as soon as the mount shows is kept
 * pending rather than lost or fatal. */
static void block_stop_signals(int how)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(how, &set, NULL);
}

/* Once daemonized, stderr is gone: what the daemon says goes to syslog. */
static GLogWriterOutput write_to_syslog(GLogLevelFlags level, const GLogField *fields,
					 gsize n_fields, gpointer data)
{
	if (!g_log_writer_default_would_drop(level, G_LOG_DOMAIN)) {
		int priority = level & G_LOG_LEVEL_ERROR ? LOG_ERR :
			       level & G_LOG_LEVEL_CRITICAL ? LOG_CRIT :
			       level & G_LOG_LEVEL_WARNING ? LOG_WARNING :
			       level & G_LOG_LEVEL_DEBUG ? LOG_DEBUG : LOG_NOTICE;
		for (gsize i = 0; i < n_fields; i++)
			if (strcmp(fields[i].key, "MESSAGE") == 0)
				syslog(priority, "%s", (const char *)fields[i].value);
	}
	return G_LOG_WRITER_HANDLED;
}

static gboolean on_fuse_request(gint fd, GIOCondition condition, gpointer data)
{
	struct loop *l = data;
	int r = fuse_session_receive_buf(l->se, &l->buf);
	if (r == -EINTR || r == -EAGAIN)
		return G_SOURCE_CONTINUE;
	if (r > 0)
		fuse_session_process_buf(l->se, &l->buf);
	if (r <= 0 || fuse_session_exited(l->se)) {
		/* Each way out said, at a level shown by default: a daemon that
		 * stopped with status 0 is otherwise one that said nothing. */
		if (r < 0)
			g_warning("reading the FUSE device: %s", g_strerror(-r));
		else if (r == 0)
			g_message("the mount was taken down or its connection aborted: stopping");
		else
			g_message("libfuse ended the session: stopping");
		g_main_loop_quit(l->main_loop);
		l->fuse_watch = 0;
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

static gboolean on_signal(gpointer data)
{
	struct loop *l = data;
	g_message("signal received, unmounting");
	fuse_session_exit(l->se);
	g_main_loop_quit(l->main_loop);
	return G_SOURCE_CONTINUE;
}

/* The FUSE device as a source of the loop. It may recurse: GLib would
 * otherwise take the descriptor out of its poll set around each dispatch
 * and put it back, three system calls on its wake-up eventfd for every
 * request. Nothing here runs a loop inside a dispatch. */
static guint watch_fuse_device(int fd, struct loop *l)
{
	GSource *source = g_unix_fd_source_new(fd, G_IO_IN | G_IO_ERR | G_IO_HUP);
	g_source_set_priority(source, G_PRIORITY_HIGH);
	g_source_set_can_recurse(source, TRUE);
	g_source_set_callback(source, G_SOURCE_FUNC(on_fuse_request), l, NULL);
	guint id = g_source_attach(source, NULL);
	g_source_unref(source);
	return id;
}

static int serve(struct fuse_session *se)
{
	struct loop l = { .se = se, .main_loop = g_main_loop_new(NULL, FALSE) };
	requests_lock_main_loop(NULL);
	int r = park_init();
	if (r < 0) {
		g_warning("cannot wait on descriptors: %s", g_strerror(-r));
		requests_unlock_main_loop(NULL);
		g_main_loop_unref(l.main_loop);
		return 1;
	}
	int fd = fuse_session_fd(se);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	/* Requests first, so an interrupt is seen before its parked request is
	 * woken by a descriptor that became ready at the same time. */
	l.fuse_watch = watch_fuse_device(fd, &l);
	guint signals[] = {
		g_unix_signal_add(SIGINT, on_signal, &l),
		g_unix_signal_add(SIGTERM, on_signal, &l),
		g_unix_signal_add(SIGHUP, on_signal, &l),
	};
	block_stop_signals(SIG_UNBLOCK);
	g_main_loop_run(l.main_loop);
	for (size_t i = 0; i < G_N_ELEMENTS(signals); i++)
		g_source_remove(signals[i]);
	g_clear_handle_id(&l.fuse_watch, g_source_remove);
	/* The ring threads may still be handed requests until the session
	 * is destroyed: they find the daemon stopped. */
	requests_stop();
	park_shutdown();
	files_shutdown();
	requests_unlock_main_loop(NULL);
	free(l.buf.mem);
	g_main_loop_unref(l.main_loop);
	return 0;
}

/* The device the mount's files show in a stat: that of the top
 * fuse.ipcfs mount at path in /proc/self/mountinfo (the daemon may not
 * stat its own mount before it serves it); 0 where none is found. */
static dev_t mount_device(const char *path)
{
	g_autofree char *info = NULL;
	if (!g_file_get_contents("/proc/self/mountinfo", &info, NULL, NULL))
		return 0;
	dev_t found = 0;
	g_auto(GStrv) lines = g_strsplit(info, "\n", -1);
	for (size_t i = 0; lines[i]; i++) {
		/* ID PARENT MAJOR:MINOR ROOT MOUNTPOINT OPTIONS... - TYPE SOURCE ... */
		g_auto(GStrv) f = g_strsplit(lines[i], " ", -1);
		if (g_strv_length(f) < 5)
			continue;
		const char *type = NULL;
		for (size_t j = 5; f[j]; j++)
			if (strcmp(f[j], "-") == 0) {
				type = f[j + 1];
				break;
			}
		unsigned major, minor;
		g_autofree char *point = g_strcompress(f[4]); /* octal escapes */
		if (type && strcmp(type, "fuse.ipcfs") == 0 && strcmp(point, path) == 0 &&
		    sscanf(f[2], "%u:%u", &major, &minor) == 2)
			found = makedev(major, minor);
	}
	return found;
}

static int mount_and_serve(struct fuse_args *args, const struct fuse_cmdline_opts *opts,
			   struct fs_config *config)
{
	/* The session first: it refuses bad options before anything is said. */
	struct fuse_session *se = fuse_session_new(args, &ipcfs_ops, sizeof(ipcfs_ops), config);
	if (!se)
		return 1;
	config->se = se;
	struct ipc_instance *own = NULL;
	if (ipc_kinds_start() < 0) {
		fuse_session_destroy(se);
		return 1;
	}
	if (ipc_instances_new(ipc_space_own(), &own) < 0) {
		ipc_kinds_stop();
		fuse_session_destroy(se);
		return 1;
	}
	ns_init();
	nodes_build_tree(own);
	ops_start();
	int status = 1;
	if (fuse_session_mount(se, opts->mountpoint) == 0) {
		config->fuse_fd = fuse_session_fd(se);
		holders_init(mount_device(opts->mountpoint));
		stats_init();
		if (!opts->foreground) {
			openlog("ipcfs", LOG_PID, LOG_DAEMON);
			g_log_set_writer_func(write_to_syslog, NULL, NULL);
		}
		if (fuse_daemonize(opts->foreground) == 0)
			status = serve(se);
		fuse_session_unmount(se);
	}
	fuse_session_destroy(se); /* stops the ring threads first */
	stats_shutdown();
	nodes_free_tree();
	ns_shutdown();
	ipc_instances_free(own);
	ipc_kinds_stop();
	return status;
}

/* Access is the kernel's to check, against the real objects' owners and
 * modes that every stat reports. The source names the mount; a comma in
 * it is escaped, or it would add options of its own. */
static int add_forced_options(struct fuse_args *args, const char *source)
{
	char *opts = strdup("default_permissions,subtype=ipcfs");
	g_autofree char *fsname = g_strconcat("fsname=", source, NULL);
	int r = opts ? fuse_opt_add_opt_escaped(&opts, fsname) : -1;
	g_autofree char *arg = r == 0 ? g_strconcat("-o", opts, NULL) : NULL;
	if (arg)
		r = fuse_opt_add_arg(args, arg);
	free(opts);
	return r;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts = { 0 };
	struct cmdline c = { .plain_args = g_ptr_array_new_with_free_func(g_free) };
	int status = 1;

	/* One malloc arena: handlers run one at a time, under the daemon lock
	 * (fs/requests.c), so an arena per io_uring thread would buy nothing
	 * but a resident size that grows with each of them. */
	mallopt(M_ARENA_MAX, 1);
	if (fuse_opt_parse(&args, &c, NULL, take_option) < 0 || c.bad_option)
		goto out;
	/* mount.fuse3 and fstab pass "SOURCE MOUNTPOINT": the source names the mount. */
	if (c.plain_args->len > 2) {
		fprintf(stderr, "ipcfs: too many arguments (try --help)\n");
		goto out;
	}
	const char *source = c.plain_args->len == 2 ? c.plain_args->pdata[0] : "ipcfs";
	if (c.plain_args->len > 0)
		fuse_opt_add_arg(&args, c.plain_args->pdata[c.plain_args->len - 1]);
	if (fuse_parse_cmdline(&args, &opts) != 0)
		goto out;
	if (opts.show_help) {
		print_usage(argv[0]);
		status = 0;
		goto out;
	}
	if (opts.show_version) {
		printf("ipcfs version %s\n", IPCFS_VERSION);
		fflush(stdout);
		fuse_lowlevel_version();
		status = 0;
		goto out;
	}
	if (!opts.mountpoint) {
		fprintf(stderr, "ipcfs: no mount point given (try --help)\n");
		goto out;
	}
	/* Debug and info lines too go to stderr: stdout may be anyone's. */
	g_log_writer_default_set_use_stderr(TRUE);
	if (opts.debug)
		g_log_set_debug_enabled(TRUE);
	if (add_forced_options(&args, source) < 0 || transport_add_options(&args) < 0)
		goto out;
	raise_fd_limit();
	block_stop_signals(SIG_BLOCK);
	status = mount_and_serve(&args, &opts, &c.config);
out:
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	g_ptr_array_unref(c.plain_args);
	return status;
}
