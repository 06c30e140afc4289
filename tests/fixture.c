/* The mount fixture for C tests: see fixture.h. */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"

#define MOUNT_TIMEOUT_MS 5000
#define CASE_TIMEOUT_MS 30000
#define POLL_INTERVAL_US 10000

struct fixture_case {
	char *test_path;
	void (*run)(void);
};

static struct {
	pid_t owner; /* the process that mounted; only it cleans up */
	char *dir;
	char *log;
	char *prefix;
	const char *ipcfs;
	const char *mqtool;
	pid_t daemon;
	pid_t running_case; /* process group of the case now running */
} fixture;

static const char *required_env(const char *name)
{
	const char *value = g_getenv(name);
	if (!value || !*value) {
		printf("Bail out! %s is not set (meson sets it)\n", name);
		exit(1);
	}
	return value;
}

static bool is_mounted(void)
{
	g_autofree char *mounts = NULL;
	if (!g_file_get_contents("/proc/mounts", &mounts, NULL, NULL))
		return false;
	g_auto(GStrv) lines = g_strsplit(mounts, "\n", -1);
	for (char **line = lines; *line; line++) {
		g_auto(GStrv) fields = g_strsplit(*line, " ", 4);
		if (g_strv_length(fields) >= 3 && strcmp(fields[1], fixture.dir) == 0 &&
		    strcmp(fields[2], "fuse.ipcfs") == 0)
			return true;
	}
	return false;
}

/* Runs a command to its end, its output discarded; true if it exits 0. */
static bool run_quietly(const char *const *argv)
{
	int status;
	if (!g_spawn_sync(NULL, (char **)argv, NULL,
			  G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
			  NULL, NULL, NULL, NULL, &status, NULL))
		return false;
	return g_spawn_check_wait_status(status, NULL);
}

static char *mount_options(void)
{
	const char *extra = g_getenv("IPCFS_TEST_OPTS");
	return g_strconcat("allow_other", extra && *extra ? "," : "", extra ? extra : "", NULL);
}

static pid_t start_daemon(void)
{
	g_autofree char *options = mount_options();
	int log = open(fixture.log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		/* SIGTERM, on which ipcfs unmounts, once the test is gone however
		 * it ended; also if it went before this line. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		if (log >= 0)
			dup2(log, STDERR_FILENO);
		execl(fixture.ipcfs, fixture.ipcfs, "-f", fixture.dir, "-o", options, (char *)NULL);
		_exit(127);
	}
	if (log >= 0)
		close(log);
	return pid;
}

static bool wait_for_mount(void)
{
	for (int waited = 0; waited < MOUNT_TIMEOUT_MS * 1000; waited += POLL_INTERVAL_US) {
		if (is_mounted())
			return true;
		if (waitpid(fixture.daemon, NULL, WNOHANG) == fixture.daemon) {
			fixture.daemon = 0;
			return false;
		}
		g_usleep(POLL_INTERVAL_US);
	}
	return false;
}

/* The daemon's own words, shown with the test's diagnostics. */
static void show_daemon_log(void)
{
	g_autofree char *text = NULL;
	if (!g_file_get_contents(fixture.log, &text, NULL, NULL) || !*text)
		return;
	g_auto(GStrv) lines = g_strsplit(g_strchomp(text), "\n", -1);
	for (char **line = lines; *line; line++)
		fprintf(stderr, "# ipcfs: %s\n", *line);
}

/* Cleans up, then dies of the signal as it would have. Not async-signal
 * safe, but the process is ending anyway and a mount left behind is worse.
 * In a case's child it only dies: the mount is the parent's. */
static void on_fatal_signal(int sig)
{
	fixture_unmount();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void clean_up_on_signals(void)
{
	struct sigaction sa = { .sa_handler = on_fatal_signal };
	sigemptyset(&sa.sa_mask);
	const int signals[] = { SIGINT, SIGTERM, SIGHUP, SIGABRT };
	for (size_t i = 0; i < G_N_ELEMENTS(signals); i++)
		sigaction(signals[i], &sa, NULL);
}

static void unmount_at_exit(void)
{
	fixture_unmount();
}

void fixture_test_init(int *argc, char ***argv)
{
	/* Keep going after a failed case: its failure is reported, and the
	 * cases after it still run. */
	char **args = g_new0(char *, *argc + 2);
	memcpy(args, *argv, *argc * sizeof(char *));
	args[(*argc)++] = "--keep-going";
	*argv = args;
	g_test_init(argc, argv, NULL);
}

void fixture_mount(void)
{
	if (access("/dev/fuse", F_OK) != 0) {
		printf("1..0 # SKIP no /dev/fuse\n");
		exit(77);
	}
	fixture.ipcfs = required_env("IPCFS");
	fixture.mqtool = required_env("MQTOOL");
	fixture.owner = getpid();
	fixture.prefix = g_strdup_printf("c%d-", (int)getpid());
	fixture.dir = g_mkdtemp(g_strdup("/tmp/ipcfs-test.XXXXXX"));
	if (!fixture.dir) {
		printf("Bail out! mkdtemp: %s\n", g_strerror(errno));
		exit(1);
	}
	fixture.log = g_strconcat(fixture.dir, ".log", NULL);
	atexit(unmount_at_exit);
	clean_up_on_signals();
	fixture.daemon = start_daemon();
	if (!wait_for_mount()) {
		show_daemon_log();
		printf("Bail out! ipcfs did not mount at %s\n", fixture.dir);
		exit(1);
	}
}

/* SIGTERM, then SIGKILL if it has not gone after 5 s; true if it ended
 * by itself or by the SIGTERM. */
static bool stop_daemon(void)
{
	int status = 0;
	if (fixture.daemon <= 0)
		return true;
	kill(fixture.daemon, SIGTERM);
	if (!fixture_wait_pid(fixture.daemon, 5000, &status)) {
		fprintf(stderr, "# ipcfs did not stop on SIGTERM; killed\n");
		kill(fixture.daemon, SIGKILL);
		waitpid(fixture.daemon, &status, 0);
		fixture.daemon = 0;
		return false;
	}
	fixture.daemon = 0;
	if (WIFSIGNALED(status) && WTERMSIG(status) != SIGTERM) {
		fprintf(stderr, "# ipcfs died of signal %s\n", strsignal(WTERMSIG(status)));
		return false;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
		fprintf(stderr, "# ipcfs exited with status %d\n", WEXITSTATUS(status));
		return false;
	}
	return true;
}

int fixture_unmount(void)
{
	if (!fixture.dir || getpid() != fixture.owner)
		return 0;
	if (fixture.running_case > 0)
		kill(-fixture.running_case, SIGKILL);
	run_quietly((const char *const[]){ fixture.mqtool, "clean", fixture.prefix, NULL });
	if (is_mounted() && !run_quietly((const char *const[]){ "umount", fixture.dir, NULL }))
		run_quietly((const char *const[]){ "umount", "-l", fixture.dir, NULL });
	bool clean = stop_daemon();
	show_daemon_log();
	unlink(fixture.log);
	rmdir(fixture.dir);
	g_clear_pointer(&fixture.dir, g_free);
	g_clear_pointer(&fixture.log, g_free);
	g_clear_pointer(&fixture.prefix, g_free);
	return clean ? 0 : 1;
}

const char *fixture_mount_dir(void)
{
	return fixture.dir;
}

char *fixture_path(const char *relative)
{
	return g_build_filename(fixture.dir, relative, NULL);
}

FixtureQueue *fixture_queue_new(const char *suffix)
{
	FixtureQueue *q = g_new0(FixtureQueue, 1);
	q->name = g_strconcat(fixture.prefix, suffix, NULL);
	q->slashed = g_strconcat("/", q->name, NULL);
	q->path = g_build_filename(fixture.dir, "mq", q->name, NULL);
	return q;
}

/* Queues are charged to their user against RLIMIT_MSGQUEUE, which other
 * tests running as the same user share: each goes as soon as its case
 * ends. What a failed case leaves, fixture_unmount removes. */
void fixture_queue_free(FixtureQueue *q)
{
	mq_unlink(q->slashed);
	g_free(q->name);
	g_free(q->slashed);
	g_free(q->path);
	g_free(q);
}

void fixture_assert_serving(void)
{
	struct stat st;
	g_assert_no_errno(stat(fixture.dir, &st));
	g_assert_true(S_ISDIR(st.st_mode));
}

pid_t fixture_fork(int (*fn)(gconstpointer data), gconstpointer data)
{
	fflush(NULL);
	pid_t pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0)
		_exit(fn(data));
	return pid;
}

bool fixture_wait_pid(pid_t pid, int timeout_ms, int *status)
{
	for (int waited = 0;; waited += POLL_INTERVAL_US) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return true;
		if (r < 0 || waited >= timeout_ms * 1000)
			return false;
		g_usleep(POLL_INTERVAL_US);
	}
}

/* The first field of /proc/PID/task/TID/syscall is the number of the
 * call a sleeping thread is in, or "running". */
static long sleeping_in_syscall(pid_t pid, pid_t tid)
{
	g_autofree char *file = g_strdup_printf("/proc/%d/task/%d/syscall", (int)pid, (int)tid);
	g_autofree char *text = NULL;
	if (!g_file_get_contents(file, &text, NULL, NULL) || !g_ascii_isdigit(text[0]))
		return -1;
	return g_ascii_strtoll(text, NULL, 10);
}

bool fixture_wait_blocked(pid_t pid, pid_t tid, long syscall_nr)
{
	for (int waited = 0; waited < 5000 * 1000; waited += POLL_INTERVAL_US) {
		if (sleeping_in_syscall(pid, tid) == syscall_nr)
			return true;
		g_usleep(POLL_INTERVAL_US);
	}
	return false;
}

/* In the child: a failed assertion prints "Bail out!", which would end the
 * whole TAP stream; it goes to stderr instead, and the parent reports the
 * case as failed. No core files from deliberate aborts. */
static void enter_case_child(void)
{
	setpgid(0, 0);
	dup2(STDERR_FILENO, STDOUT_FILENO);
	struct rlimit no_core = { 0, 0 };
	setrlimit(RLIMIT_CORE, &no_core);
}

static void report_case_end(bool ended, int status)
{
	if (!ended)
		g_test_message("timed out after %d s", CASE_TIMEOUT_MS / 1000);
	else if (WIFSIGNALED(status))
		g_test_message("case died of signal %s", strsignal(WTERMSIG(status)));
	else if (WEXITSTATUS(status) != 0)
		g_test_message("case exited with status %d", WEXITSTATUS(status));
	else
		return;
	g_test_fail();
}

static void run_case_forked(gconstpointer data)
{
	const struct fixture_case *c = data;
	fflush(NULL);
	pid_t pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		enter_case_child();
		c->run();
		fflush(NULL);
		_exit(0);
	}
	setpgid(pid, pid);
	fixture.running_case = pid;
	int status = 0;
	bool ended = fixture_wait_pid(pid, CASE_TIMEOUT_MS, &status);
	/* Helpers the case left behind, or the case itself if it hangs. */
	kill(-pid, SIGKILL);
	if (!ended)
		fixture_wait_pid(pid, 5000, &status);
	fixture.running_case = 0;
	report_case_end(ended, status);
}

void fixture_add_case(const char *test_path, void (*run)(void))
{
	struct fixture_case *c = g_new0(struct fixture_case, 1);
	c->test_path = g_strdup(test_path);
	c->run = run;
	g_test_add_data_func_full(c->test_path, c, run_case_forked, NULL);
}
