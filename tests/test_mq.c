/* POSIX message queues through the mount, checked against the kernel's
 * own mq_* calls: bytes, boundaries, priorities, waiting, polling, errors.
 *
 * Each case runs in a child process of its own (see fixture.h), so a case
 * may change its signal handlers, umask or credentials freely. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <mqueue.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"

/* How long a waiting call is given before the test says it hangs. */
#define WAKE_TIMEOUT_MS 5000
/* How long something that must not happen is given to happen anyway. */
#define QUIET_MS 200
/* How long a helper process waits before acting. */
#define HELPER_DELAY_MS 200

/* Asserts that call failed with err; compares names so a failure says
 * "EPERM" == "EINVAL" rather than two numbers. */
#define assert_errno(call, err)                                                  \
	G_STMT_START {                                                           \
		errno = 0;                                                       \
		long result_ = (long)(call);                                     \
		const char *got_ = strerrorname_np(errno);                       \
		g_assert_cmpint(result_, ==, -1);                                \
		g_assert_cmpstr(got_ ? got_ : "(none)", ==, strerrorname_np(err)); \
	} G_STMT_END

static const char binary_message[] = { '\0', 'a', '\xff', '\0', '\xff', '\xfe', '\0' };

/* --- The queue as other programs use it, without the mount. --- */

static mqd_t direct_open(const FixtureQueue *q, int flags)
{
	mqd_t mqd;
	g_assert_no_errno(mqd = mq_open(q->slashed, flags | O_CLOEXEC));
	return mqd;
}

static void direct_create(const FixtureQueue *q, long maxmsg, long msgsize)
{
	struct mq_attr attr = { .mq_maxmsg = maxmsg, .mq_msgsize = msgsize };
	mqd_t mqd;
	g_assert_no_errno(mqd = mq_open(q->slashed, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0666, &attr));
	mq_close(mqd);
}

static struct mq_attr direct_attr(const FixtureQueue *q)
{
	struct mq_attr attr;
	mqd_t mqd = direct_open(q, O_RDONLY | O_NONBLOCK);
	g_assert_no_errno(mq_getattr(mqd, &attr));
	mq_close(mqd);
	return attr;
}

static long direct_curmsgs(const FixtureQueue *q)
{
	return direct_attr(q).mq_curmsgs;
}

static void direct_send(const FixtureQueue *q, const void *bytes, size_t len, unsigned prio)
{
	mqd_t mqd = direct_open(q, O_WRONLY | O_NONBLOCK);
	g_assert_no_errno(mq_send(mqd, bytes, len, prio));
	mq_close(mqd);
}

static void direct_send_text(const FixtureQueue *q, const char *text)
{
	direct_send(q, text, strlen(text), 0);
}

static void assert_direct_receives(const FixtureQueue *q, const void *bytes, size_t len,
				   unsigned prio)
{
	mqd_t mqd = direct_open(q, O_RDONLY | O_NONBLOCK);
	struct mq_attr attr;
	g_assert_no_errno(mq_getattr(mqd, &attr));
	g_autofree char *buf = g_malloc(attr.mq_msgsize);
	unsigned got_prio = G_MAXUINT;
	ssize_t n;
	g_assert_no_errno(n = mq_receive(mqd, buf, attr.mq_msgsize, &got_prio));
	g_assert_cmpmem(buf, n, bytes, len);
	g_assert_cmpuint(got_prio, ==, prio);
	mq_close(mqd);
}

static void assert_direct_receives_text(const FixtureQueue *q, const char *text)
{
	assert_direct_receives(q, text, strlen(text), 0);
}

/* --- The queue as a file in the mount. --- */

static int file_open(const FixtureQueue *q, int flags)
{
	int fd;
	g_assert_no_errno(fd = open(q->path, flags | O_CLOEXEC));
	return fd;
}

/* A queue made through the mount, with the system's default sizes. */
static int file_create(const FixtureQueue *q, int flags)
{
	return file_open(q, flags | O_CREAT | O_EXCL);
}

static void file_write(int fd, const void *bytes, size_t len)
{
	ssize_t n;
	g_assert_no_errno(n = write(fd, bytes, len));
	g_assert_cmpint(n, ==, len);
}

static void file_write_text(int fd, const char *text)
{
	file_write(fd, text, strlen(text));
}

/* One read() with a buffer of bufsize bytes returns exactly these bytes. */
static void assert_file_reads(int fd, size_t bufsize, const void *bytes, size_t len)
{
	g_autofree char *buf = g_malloc(bufsize);
	ssize_t n;
	g_assert_no_errno(n = read(fd, buf, bufsize));
	g_assert_cmpmem(buf, n, bytes, len);
}

static void assert_file_reads_text(int fd, const char *text)
{
	assert_file_reads(fd, 8192, text, strlen(text));
}

static void set_nonblocking(int fd)
{
	int flags;
	g_assert_no_errno(flags = fcntl(fd, F_GETFL));
	g_assert_no_errno(fcntl(fd, F_SETFL, flags | O_NONBLOCK));
}

/* A queue made directly, holding maxmsg 2 messages of 64 bytes, full. */
static void create_full_queue(const FixtureQueue *q)
{
	direct_create(q, 2, 64);
	direct_send_text(q, "first");
	direct_send_text(q, "second");
	g_assert_cmpint(direct_curmsgs(q), ==, 2);
}

/* --- Helper processes: each exits with 0, or the errno that stopped it. --- */

static int send_later(gconstpointer data)
{
	const FixtureQueue *q = data;
	g_usleep(HELPER_DELAY_MS * 1000);
	mqd_t mqd = mq_open(q->slashed, O_WRONLY | O_NONBLOCK);
	return mqd != (mqd_t)-1 && mq_send(mqd, "wake", 4, 0) == 0 ? 0 : errno;
}

static int receive_later(gconstpointer data)
{
	const FixtureQueue *q = data;
	char buf[64];
	g_usleep(HELPER_DELAY_MS * 1000);
	mqd_t mqd = mq_open(q->slashed, O_RDONLY | O_NONBLOCK);
	return mqd != (mqd_t)-1 && mq_receive(mqd, buf, sizeof(buf), NULL) >= 0 ? 0 : errno;
}

static int write_through_file(gconstpointer data)
{
	const FixtureQueue *q = data;
	int fd = open(q->path, O_WRONLY);
	return fd >= 0 && write(fd, "third", 5) == 5 ? 0 : errno;
}

static int read_inherited_fd(gconstpointer data)
{
	char buf[8192];
	return read(*(const int *)data, buf, sizeof(buf)) >= 0 ? 0 : errno;
}

static void assert_exits_cleanly(pid_t pid)
{
	int status = -1;
	g_assert_true(fixture_wait_pid(pid, WAKE_TIMEOUT_MS, &status));
	g_assert_true(WIFEXITED(status));
	g_assert_cmpstr(strerrorname_np(WEXITSTATUS(status)), ==, strerrorname_np(0));
}

/* --- Cases. --- */

static void test_interop(void)
{
	g_autoptr(FixtureQueue) q = fixture_queue_new("interop");
	int fd = file_create(q, O_RDWR);

	file_write_text(fd, "to the kernel");
	assert_direct_receives_text(q, "to the kernel");
	direct_send_text(q, "from the kernel");
	assert_file_reads_text(fd, "from the kernel");

	file_write(fd, binary_message, sizeof(binary_message));
	assert_direct_receives(q, binary_message, sizeof(binary_message), 0);
	direct_send(q, binary_message, sizeof(binary_message), 0);
	assert_file_reads(fd, 8192, binary_message, sizeof(binary_message));
	g_assert_cmpint(direct_curmsgs(q), ==, 0);
	close(fd);
}

static void test_boundaries(void)
{
	g_autoptr(FixtureQueue) q = fixture_queue_new("boundaries");
	const char *messages[] = { "one", "two two", "three three three" };
	int fd = file_create(q, O_RDWR);

	for (size_t i = 0; i < G_N_ELEMENTS(messages); i++)
		file_write_text(fd, messages[i]);
	g_assert_cmpint(direct_curmsgs(q), ==, 3);
	for (size_t i = 0; i < G_N_ELEMENTS(messages); i++)
		assert_file_reads_text(fd, messages[i]);
	g_assert_cmpint(direct_curmsgs(q), ==, 0);
	close(fd);
}

static void test_priority_order(void)
{
	g_autoptr(FixtureQueue) q = fixture_queue_new("priority");
	int fd = file_create(q, O_RDONLY);

	direct_send(q, "p1", 2, 1);
	direct_send(q, "p5", 2, 5);
	direct_send(q, "p3", 2, 3);
	assert_file_reads_text(fd, "p5");
	assert_file_reads_text(fd, "p3");
	assert_file_reads_text(fd, "p1");
	close(fd);
}

static void test_short_read_buffer(void)
{
	g_autoptr(FixtureQueue) q = fixture_queue_new("short-buffer");
	char message[100];
	for (size_t i = 0; i < sizeof(message); i++)
		message[i] = (char)('A' + i % 26);
	int fd = file_create(q, O_RDWR);

	file_write(fd, message, sizeof(message));
	file_write_text(fd, "next one");
	assert_file_reads(fd, 30, message, 30);
	assert_file_reads(fd, 30, message + 30, 30);
	assert_file_reads(fd, 30, message + 60, 30);
	assert_file_reads(fd, 30, message + 90, 10);
	assert_file_reads(fd, 30, "next one", 8);
	g_assert_cmpint(direct_curmsgs(q), ==, 0);
	close(fd);
}

static void test_too_large(void)
{
	g_autoptr(FixtureQueue) q = fixture_queue_new("too-large");
	int fd = file_create(q, O_WRONLY);
	long msgsize = direct_attr(q).mq_msgsize;
	size_t huge = 2 << 20;
	g_autofree char *bytes = g_malloc0(huge);

	assert_errno(write(fd, bytes, msgsize + 1), EMSGSIZE);
	assert_errno(write(fd, bytes, huge), EMSGSIZE);
	g_assert_cmpint(direct_curmsgs(q), ==, 0);
	file_write(fd, bytes, msgsize);
	g_assert_cmpint(direct_curmsgs(q), ==, 1);
	close(fd);
}

/* On a full queue a write would wait, and on the emptied queue a read. */
static void assert_never_waits(const FixtureQueue *q, int writer, int reader)
{
	char buf[64];
	assert_errno(write(writer, "x", 1), EAGAIN);
	g_assert_cmpint(direct_curmsgs(q), ==, 2);
	assert_direct_receives_text(q, "first");
	assert_direct_receives_text(q, "second");
	assert_errno(read(reader, buf, sizeof(buf)), EAGAIN);
}

static void test_nonblocking_open(void)
{
	g_autoptr(FixtureQueue) q = fixture_queue_new("nonblock");
	create_full_queue(q);
	int writer = file_open(q, O_WRONLY | O_NONBLOCK);
	int reader = file_open(q, O_RDONLY | O_NONBLOCK);

	assert_never_waits(q, writer, reader);
	close(writer);
	close(reader);
}

static void test_nonblocking_fcntl(void)
{
	g_autoptr(FixtureQueue) q = fixture_queue_new("fcntl");
	create_full_queue(q);
	int fd = file_open(q, O_RDWR);

	set_nonblocking(fd);
	assert_never_waits(q, fd, fd);
	close(fd);
}

static void test_blocked_writer(void)
{
	g_autoptr(FixtureQueue) q = fixture_queue_new("blocked-writer");
	create_full_queue(q);
	pid_t writer = fixture_fork(write_through_file, q);

	g_assert_true(fixture_wait_blocked(writer, writer, SYS_write));
	g_assert_false(fixture_wait_pid(writer, QUIET_MS, NULL));
	assert_direct_receives_text(q, "first");
	assert_exits_cleanly(writer);
	assert_direct_receives_text(q, "second");
	assert_direct_receives_text(q, "third");
	g_assert_cmpint(direct_curmsgs(q), ==, 0);
}

/* A read or write made in a thread of its own, so that this thread can
 * see it block and signal it. */
struct blocked_call {
	int fd;
	bool is_write;
	gint tid;
	ssize_t result;
	int error;
};

static void *call_in_thread(void *data)
{
	struct blocked_call *b = data;
	char buf[8192] = "interrupted";
	g_atomic_int_set(&b->tid, gettid());
	b->result = b->is_write ? write(b->fd, buf, strlen(buf)) : read(b->fd, buf, sizeof(buf));
	b->error = errno;
	return NULL;
}

static void on_signal_noop(int sig)
{
}

/* Without SA_RESTART, a signal ends a blocked call with EINTR. */
static void catch_sigusr1_without_restart(void)
{
	struct sigaction sa = { .sa_handler = on_signal_noop, .sa_flags = 0 };
	sigemptyset(&sa.sa_mask);
	g_assert_no_errno(sigaction(SIGUSR1, &sa, NULL));
}

static void assert_interrupted_by_signal(struct blocked_call *b)
{
	pthread_t thread;
	catch_sigusr1_without_restart();
	g_assert_cmpint(pthread_create(&thread, NULL, call_in_thread, b), ==, 0);
	while (!g_atomic_int_get(&b->tid))
		g_usleep(1000);
	g_assert_true(fixture_wait_blocked(getpid(), b->tid, b->is_write ? SYS_write : SYS_read));
	g_assert_cmpint(pthread_kill(thread, SIGUSR1), ==, 0);
	g_assert_cmpint(pthread_join(thread, NULL), ==, 0);
	g_assert_cmpint(b->result, ==, -1);
	g_assert_cmpstr(strerrorname_np(b->error), ==, "EINTR");
}

/* A message sent now must stay in the queue: nobody waits for it any more. */
static void assert_message_not_taken(const FixtureQueue *q)
{
	direct_send_text(q, "after");
	g_usleep(QUIET_MS * 1000);
	g_assert_cmpint(direct_curmsgs(q), ==, 1);
}

static void test_read_interrupted(void)
{
	g_autoptr(FixtureQueue) q = fixture_queue_new("read-interrupted");
	struct blocked_call b = { .fd = file_create(q, O_RDONLY) };

	assert_interrupted_by_signal(&b);
	assert_message_not_taken(q);
	set_nonblocking(b.fd);
	assert_file_reads_text(b.fd, "after");
	close(b.fd);
}

/* The interrupted write must not be sent later, when there is room. */
static void test_write_interrupted(void)
{
	g_autoptr(FixtureQueue) q = fixture_queue_new("write-interrupted");
	create_full_queue(q);
	struct blocked_call b = { .fd = file_open(q, O_WRONLY), .is_write = true };

	assert_interrupted_by_signal(&b);
	assert_direct_receives_text(q, "first");
	g_usleep(QUIET_MS * 1000);
	g_assert_cmpint(direct_curmsgs(q), ==, 1);
	assert_direct_receives_text(q, "second");
	close(b.fd);
}

static void test_reader_killed(void)
{
	g_autoptr(FixtureQueue) q = fixture_queue_new("killed");
	/* The reader shares this open file, so closing it does not end the
	 * wait: only the interrupt may. */
	int fd = file_create(q, O_RDONLY);
	pid_t reader = fixture_fork(read_inherited_fd, &fd);
	int status = 0;

	g_assert_true(fixture_wait_blocked(reader, reader, SYS_read));
	g_assert_no_errno(kill(reader, SIGKILL));
	g_assert_true(fixture_wait_pid(reader, WAKE_TIMEOUT_MS, &status));
	g_assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	assert_message_not_taken(q);
	fixture_assert_serving();
	assert_direct_receives_text(q, "after");
	close(fd);
}

/* poll() on one descriptor: its result, and what it reported. */
static int poll_one(int fd, short events, int timeout_ms, short *revents)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n;
	g_assert_no_errno(n = poll(&p, 1, timeout_ms));
	*revents = p.revents;
	return n;
}

static void test_poll_in(void)
{
	g_autoptr(FixtureQueue) q = fixture_queue_new("poll-in");
	int fd = file_create(q, O_RDONLY);
	short revents = 0;

	g_assert_cmpint(poll_one(fd, POLLIN, QUIET_MS, &revents), ==, 0);
	pid_t sender = fixture_fork(send_later, q);
	g_assert_cmpint(poll_one(fd, POLLIN, WAKE_TIMEOUT_MS, &revents), ==, 1);
	g_assert_cmpint(revents, ==, POLLIN);
	assert_exits_cleanly(sender);
	assert_file_reads_text(fd, "wake");
	close(fd);
}

static void test_poll_out(void)
{
	g_autoptr(FixtureQueue) q = fixture_queue_new("poll-out");
	direct_create(q, 2, 64);
	int fd = file_open(q, O_WRONLY);
	short revents = 0;

	g_assert_cmpint(poll_one(fd, POLLOUT, 0, &revents), ==, 1);
	g_assert_cmpint(revents, ==, POLLOUT);
	file_write_text(fd, "first");
	file_write_text(fd, "second");
	g_assert_cmpint(poll_one(fd, POLLOUT, QUIET_MS, &revents), ==, 0);
	pid_t receiver = fixture_fork(receive_later, q);
	g_assert_cmpint(poll_one(fd, POLLOUT, WAKE_TIMEOUT_MS, &revents), ==, 1);
	g_assert_cmpint(revents, ==, POLLOUT);
	assert_exits_cleanly(receiver);
	g_assert_cmpint(direct_curmsgs(q), ==, 1);
	close(fd);
}

static void test_epoll_in(void)
{
	g_autoptr(FixtureQueue) q = fixture_queue_new("epoll");
	int fd = file_create(q, O_RDONLY);
	int epfd;
	struct epoll_event ev = { .events = EPOLLIN };
	g_assert_no_errno(epfd = epoll_create1(EPOLL_CLOEXEC));
	g_assert_no_errno(epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev));

	g_assert_cmpint(epoll_wait(epfd, &ev, 1, QUIET_MS), ==, 0);
	pid_t sender = fixture_fork(send_later, q);
	g_assert_cmpint(epoll_wait(epfd, &ev, 1, WAKE_TIMEOUT_MS), ==, 1);
	g_assert_cmpuint(ev.events, ==, EPOLLIN);
	assert_exits_cleanly(sender);
	assert_file_reads_text(fd, "wake");
	close(epfd);
	close(fd);
}

static void test_refused_shapes(void)
{
	g_autoptr(FixtureQueue) q = fixture_queue_new("shapes");
	g_autoptr(FixtureQueue) other = fixture_queue_new("shapes-other");
	g_autofree char *at_root = fixture_path("plain-file");
	close(file_create(q, O_RDWR));

	assert_errno(mkdir(other->path, 0755), EPERM);
	assert_errno(rename(q->path, other->path), EPERM);
	assert_errno(link(q->path, other->path), EPERM);
	assert_errno(symlink(q->path, other->path), EPERM);
	assert_errno(mkfifo(other->path, 0600), EPERM);
	assert_errno(open(at_root, O_CREAT | O_WRONLY, 0600), EPERM);
	assert_errno(mq_open(other->slashed, O_RDONLY), ENOENT);
	fixture_assert_serving();
}

static void test_truncate(void)
{
	g_autoptr(FixtureQueue) q = fixture_queue_new("truncate");
	int fd = file_create(q, O_RDWR);
	file_write_text(fd, "kept");

	assert_errno(truncate(q->path, 10), EINVAL);
	g_assert_no_errno(truncate(q->path, 0));
	g_assert_cmpint(direct_curmsgs(q), ==, 1);
	close(file_open(q, O_WRONLY | O_TRUNC));
	g_assert_cmpint(direct_curmsgs(q), ==, 1);
	fixture_assert_serving();
	assert_file_reads_text(fd, "kept");
	close(fd);
}

static void test_no_mmap_no_seek(void)
{
	g_autoptr(FixtureQueue) q = fixture_queue_new("mmap");
	int fd = file_create(q, O_RDWR);
	file_write_text(fd, "kept");

	assert_errno(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), ENODEV);
	assert_errno(lseek(fd, 0, SEEK_SET), ESPIPE);
	g_assert_cmpint(direct_curmsgs(q), ==, 1);
	fixture_assert_serving();
	assert_file_reads_text(fd, "kept");
	close(fd);
}

static void test_name_too_long(void)
{
	g_autofree char *suffix = g_strnfill(256, 'n');
	g_autoptr(FixtureQueue) q = fixture_queue_new(suffix);

	assert_errno(open(q->path, O_CREAT | O_RDWR, 0600), ENAMETOOLONG);
	fixture_assert_serving();
}

static bool listed_in_mq(const char *name)
{
	g_autofree char *dir_path = fixture_path("mq");
	g_autoptr(GDir) dir = g_dir_open(dir_path, 0, NULL);
	g_assert_nonnull(dir);
	const char *entry;
	while ((entry = g_dir_read_name(dir)))
		if (strcmp(entry, name) == 0)
			return true;
	return false;
}

static void test_unlink_through_file(void)
{
	g_autoptr(FixtureQueue) q = fixture_queue_new("rm");
	struct stat st;
	close(file_create(q, O_RDWR));

	g_assert_no_errno(unlink(q->path));
	assert_errno(mq_open(q->slashed, O_RDONLY), ENOENT);
	assert_errno(stat(q->path, &st), ENOENT);
	g_assert_false(listed_in_mq(q->name));
}

static void test_outside_changes_show_at_once(void)
{
	g_autoptr(FixtureQueue) q = fixture_queue_new("outside");
	struct stat st;

	g_assert_false(listed_in_mq(q->name));
	direct_create(q, 2, 64);
	g_assert_true(listed_in_mq(q->name));
	g_assert_no_errno(stat(q->path, &st));
	g_assert_no_errno(mq_unlink(q->slashed));
	g_assert_false(listed_in_mq(q->name));
	assert_errno(stat(q->path, &st), ENOENT);
}

static void test_create_mode(void)
{
	g_autoptr(FixtureQueue) q = fixture_queue_new("create");
	struct stat st;
	umask(022);

	int fd;
	g_assert_no_errno(fd = open(q->path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0640));
	g_assert_no_errno(stat(q->path, &st));
	g_assert_cmpuint(st.st_mode, ==, S_IFREG | 0640);
	g_assert_cmpuint(st.st_uid, ==, getuid());
	g_assert_cmpuint(st.st_gid, ==, getgid());
	mqd_t mqd = direct_open(q, O_RDONLY);
	g_assert_no_errno(fstat(mqd, &st));
	g_assert_cmpuint(st.st_mode & 07777, ==, 0640);
	mq_close(mqd);
	assert_errno(open(q->path, O_CREAT | O_EXCL | O_RDWR, 0640), EEXIST);
	close(fd);
}

static int create_as_nobody(gconstpointer data)
{
	const FixtureQueue *q = data;
	if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
	    setresuid(65534, 65534, 65534) < 0)
		return errno;
	int fd = open(q->path, O_CREAT | O_EXCL | O_WRONLY, 0600);
	return fd >= 0 ? 0 : errno;
}

static void test_create_owner(void)
{
	g_autoptr(FixtureQueue) q = fixture_queue_new("owner");
	struct stat st;

	assert_exits_cleanly(fixture_fork(create_as_nobody, q));
	g_assert_no_errno(stat(q->path, &st));
	g_assert_cmpuint(st.st_uid, ==, 65534);
	g_assert_cmpuint(st.st_gid, ==, 65534);
	g_assert_cmpuint(st.st_mode, ==, S_IFREG | 0600);
}

int main(int argc, char **argv)
{
	fixture_test_init(&argc, &argv);
	fixture_mount();

	fixture_add_case("/mq/interop", test_interop);
	fixture_add_case("/mq/boundaries", test_boundaries);
	fixture_add_case("/mq/priority-order", test_priority_order);
	fixture_add_case("/mq/short-read-buffer", test_short_read_buffer);
	fixture_add_case("/mq/too-large", test_too_large);
	fixture_add_case("/mq/nonblocking-open", test_nonblocking_open);
	fixture_add_case("/mq/nonblocking-fcntl", test_nonblocking_fcntl);
	fixture_add_case("/mq/blocked-writer", test_blocked_writer);
	fixture_add_case("/mq/read-interrupted", test_read_interrupted);
	fixture_add_case("/mq/write-interrupted", test_write_interrupted);
	fixture_add_case("/mq/reader-killed", test_reader_killed);
	fixture_add_case("/mq/poll-in", test_poll_in);
	fixture_add_case("/mq/poll-out", test_poll_out);
	fixture_add_case("/mq/epoll-in", test_epoll_in);
	fixture_add_case("/mq/refused-shapes", test_refused_shapes);
	fixture_add_case("/mq/truncate", test_truncate);
	fixture_add_case("/mq/no-mmap-no-seek", test_no_mmap_no_seek);
	fixture_add_case("/mq/name-too-long", test_name_too_long);
	fixture_add_case("/mq/unlink-through-file", test_unlink_through_file);
	fixture_add_case("/mq/outside-changes-show-at-once", test_outside_changes_show_at_once);
	fixture_add_case("/mq/create-mode", test_create_mode);
	fixture_add_case("/mq/create-owner", test_create_owner);

	int status = g_test_run();
	return fixture_unmount() || status;
}
