/* A SIGBUS raised while the daemon touches a mapping of a file that
 * someone else truncated ends that touch with an error, not the daemon.
 * Anyone who may write a semaphore's file can cut it short. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "kind.h"

static __thread sigjmp_buf *active_guard;

static void on_sigbus(int sig, siginfo_t *info, void *context)
{
	if (active_guard)
		siglongjmp(*active_guard, 1);
	/* Said before dying: no sanitizer reports a SIGBUS the daemon
	 * handles itself, and the death would otherwise leave no trace. */
	static const char why[] = "ipcfs: SIGBUS outside a guarded access\n";
	ssize_t ignored = write(STDERR_FILENO, why, sizeof(why) - 1);
	(void)ignored;
	signal(SIGBUS, SIG_DFL);
	raise(SIGBUS);
}

void ipc_guard_setup(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}

int ipc_guard_call(int (*fn)(void *), void *arg)
{
	sigjmp_buf here;
	sigjmp_buf *outer = active_guard;
	if (sigsetjmp(here, 1)) {
		active_guard = outer;
		return -EUCLEAN;
	}
	active_guard = &here;
	int r = fn(arg);
	active_guard = outer;
	return r;
}
