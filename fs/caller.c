/* What the process behind a request asked for, where FUSE does not say.
 *
 * The kernel sends an open of a name it found as OPEN of that inode, with
 * O_CREAT taken out of the flags. Where the name is gone by then (another
 * program removed it), the daemon must know whether the caller asked to
 * create, as the kernel would have made the object for it: the caller's
 * thread is blocked in that very call, and /proc/TID/syscall shows it.
 *
 * Whether a caller has a signal waiting for it, from /proc/TID/status:
 * fs/park.c asks where the kernel may have lost the caller's interrupt. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs.h"

/* struct open_how of openat2, from the kernel's uapi linux/openat2.h. */
struct open_how_bytes {
	guint64 flags, mode, resolve;
};

/* The number and first four arguments of the call tid is blocked in. */
static bool blocked_call(pid_t tid, long *nr, unsigned long args[4])
{
	g_autofree char *path = g_strdup_printf("/proc/%d/syscall", (int)tid);
	g_autofree char *text = NULL;
	if (!g_file_get_contents(path, &text, NULL, NULL))
		return false;
	return sscanf(text, "%ld %lx %lx %lx %lx", nr, &args[0], &args[1], &args[2], &args[3]) == 5;
}

static bool read_open_how(pid_t tid, unsigned long address, struct open_how_bytes *how)
{
	g_autofree char *path = g_strdup_printf("/proc/%d/mem", (int)tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = pread(fd, how, sizeof(*how), (off_t)address);
	close(fd);
	return n == (ssize_t)sizeof(*how);
}

static char *status_of(pid_t tid)
{
	g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)tid);
	char *text = NULL;
	return g_file_get_contents(path, &text, NULL, NULL) ? text : NULL;
}

/* The hexadecimal value of the line "\nNAME:\t..." of a status text. */
static bool status_hex(const char *text, const char *name, guint64 *value)
{
	g_autofree char *label = g_strdup_printf("\n%s:", name);
	const char *line = strstr(text, label);
	return line && sscanf(line + strlen(label), " %" G_GINT64_MODIFIER "x", value) == 1;
}

static mode_t umask_of(pid_t tid)
{
	g_autofree char *text = status_of(tid);
	unsigned int mask = 022;
	const char *line;
	if (text && (line = strstr(text, "\nUmask:")))
		sscanf(line, "\nUmask: %o", &mask);
	return mask & 0777;
}

/* The flags and mode of the open tid is blocked in; false if it is in none. */
static bool open_in_progress(pid_t tid, int *flags, mode_t *mode)
{
	long nr;
	unsigned long a[4];
	struct open_how_bytes how;
	if (!blocked_call(tid, &nr, a))
		return false;
	if (nr == SYS_openat) {
		*flags = (int)a[2];
		*mode = (mode_t)a[3];
#ifdef SYS_open
	} else if (nr == SYS_open) {
		*flags = (int)a[1];
		*mode = (mode_t)a[2];
#endif
#ifdef SYS_creat
	} else if (nr == SYS_creat) {
		*flags = O_CREAT | O_WRONLY | O_TRUNC;
		*mode = (mode_t)a[1];
#endif
#ifdef SYS_openat2
	} else if (nr == SYS_openat2 && read_open_how(tid, a[2], &how)) {
		*flags = (int)how.flags;
		*mode = (mode_t)how.mode;
#endif
	} else {
		return false;
	}
	return true;
}

bool caller_open_creates(pid_t tid, mode_t *mode)
{
	int flags;
	mode_t asked;
	if (tid <= 0 || !open_in_progress(tid, &flags, &asked) || !(flags & O_CREAT))
		return false;
	*mode = (asked & 07777) & ~umask_of(tid);
	return true;
}

bool caller_signalled(pid_t tid)
{
	g_autofree char *text = tid > 0 ? status_of(tid) : NULL;
	guint64 own, shared, blocked;
	if (!text || !status_hex(text, "SigPnd", &own) || !status_hex(text, "ShdPnd", &shared) ||
	    !status_hex(text, "SigBlk", &blocked))
		return false;
	return ((own | shared) & ~blocked) != 0;
}
