/* FUSE passthrough: the kernel serves read, write and mmap of a file
 * straight from the object's own file, once the daemon registers that file
 * as a backing file and names its id in the open reply.
 *
 * One backing id per node, shared by its opens, and closed on the last of
 * their releases. The kernel takes one backing file per inode at a time,
 * and opens it again for each open that names it, with that open's own
 * flags and the daemon's credentials as they were at registration: the
 * access mode of the descriptor registered does not limit later opens
 * (seen here: registered from a read-only descriptor, an open for writing
 * writes). Whether the kernel lets this
 * daemon register backing files at all (it needs CAP_SYS_ADMIN in the
 * initial user namespace) is probed once, right after the mount. */
#include <errno.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fs.h"

/* From the kernel's uapi linux/fuse.h (6.9 and later), which Debian 12's
 * headers predate. */
struct backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};
#define BACKING_OPEN _IOW(229, 1, struct backing_map)
#define BACKING_CLOSE _IOW(229, 2, uint32_t)

static enum { MODE_OFF, MODE_PROBING, MODE_ON } mode = MODE_OFF;
static const char *mode_reason = "not probed yet";

static void passthrough_off(const char *why)
{
	mode = MODE_OFF;
	mode_reason = why;
	g_message("passthrough: off (%s): files of objects with a backing file are read and "
		  "written through the daemon, and mmap(MAP_SHARED) of them is refused with ENODEV",
		  why);
}

void backing_init(struct fuse_conn_info *conn, bool refused)
{
	if (refused)
		passthrough_off("-o no_passthrough");
	else if (!fuse_set_feature_flag(conn, FUSE_CAP_PASSTHROUGH))
		passthrough_off("the kernel offers no FUSE passthrough; it needs Linux 6.9");
	else
		mode = MODE_PROBING;
}

/* Registers and at once releases a backing file, to learn whether the
 * kernel lets this daemon do so. */
void backing_probe(int fuse_fd)
{
	if (mode != MODE_PROBING)
		return;
	int fd = memfd_create("ipcfs-probe", MFD_CLOEXEC);
	if (fd < 0) {
		passthrough_off(g_strerror(errno));
		return;
	}
	struct backing_map map = { .fd = fd };
	int id = ioctl(fuse_fd, BACKING_OPEN, &map);
	int err = errno;
	close(fd);
	if (id <= 0) {
		passthrough_off(err == EPERM ? "the daemon lacks CAP_SYS_ADMIN in the initial user namespace" :
					       g_strerror(err));
		return;
	}
	uint32_t closing = id;
	ioctl(fuse_fd, BACKING_CLOSE, &closing);
	mode = MODE_ON;
	mode_reason = "the kernel takes the daemon's backing files";
	g_message("passthrough: on: mmap of a file with a backing file maps that file itself");
}

int backing_get(fuse_req_t req, struct node *n, int fd)
{
	if (mode != MODE_ON)
		return 0;
	if (n->backing_id == 0) {
		int id = fuse_passthrough_open(req, fd);
		if (id <= 0)
			return 0;
		n->backing_id = id;
	}
	n->backing_refs++;
	return n->backing_id;
}

/* Closed with the last open that uses it: an id the kernel holds pins the
 * object's file where no lsof can see it. */
void backing_put(fuse_req_t req, struct node *n)
{
	if (n->backing_refs > 0 && --n->backing_refs == 0) {
		fuse_passthrough_close(req, n->backing_id);
		n->backing_id = 0;
	}
}

void backing_describe(GString *out)
{
	g_string_append_printf(out, "passthrough: %s (%s)\n",
			       mode == MODE_ON ? "on" : mode == MODE_PROBING ? "probing" : "off",
			       mode_reason);
}
