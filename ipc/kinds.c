/* The table of kinds: one line per kind of IPC object. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "kind.h"

extern const struct ipc_kind ipc_kind_mq;
extern const struct ipc_kind ipc_kind_shm;
extern const struct ipc_kind ipc_kind_sem;
extern const struct ipc_kind ipc_kind_sysv_msg;
extern const struct ipc_kind ipc_kind_sysv_sem;
extern const struct ipc_kind ipc_kind_sysv_shm;

static const struct ipc_kind *const kinds[] = {
	&ipc_kind_mq,
	&ipc_kind_shm,
	&ipc_kind_sem,
	&ipc_kind_sysv_msg,
	&ipc_kind_sysv_sem,
	&ipc_kind_sysv_shm,
	NULL,
};

const struct ipc_kind *const *ipc_kinds(void)
{
	return kinds;
}

int ipc_kinds_setup(void)
{
	/* Objects are made for callers whose umask the kernel has already
	 * applied to the mode it sends; the daemon's own must not apply again. */
	umask(0);
	for (size_t i = 0; kinds[i]; i++) {
		if (!kinds[i]->setup)
			continue;
		int r = kinds[i]->setup();
		if (r < 0) {
			g_warning("%s: setup failed: %s", kinds[i]->dir, g_strerror(-r));
			return r;
		}
	}
	return 0;
}

void ipc_kinds_teardown(void)
{
	for (size_t i = 0; kinds[i]; i++)
		if (kinds[i]->teardown)
			kinds[i]->teardown();
}

int ipc_kinds_set_option(const char *name, const char *value)
{
	for (size_t i = 0; kinds[i]; i++) {
		for (const struct ipc_option *o = kinds[i]->options; o && o->name; o++) {
			if (strcmp(o->name, name) != 0)
				continue;
			return ipc_parse_long(value, o->min, o->max, o->value);
		}
	}
	return -ENOENT;
}

void ipc_kinds_print_options(FILE *out)
{
	for (size_t i = 0; kinds[i]; i++)
		for (const struct ipc_option *o = kinds[i]->options; o && o->name; o++)
			fprintf(out, "    -o %s=N%*s%s\n", o->name,
				(int)(24 - strlen(o->name)), "", o->help);
}
