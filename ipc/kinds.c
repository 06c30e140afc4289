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

int ipc_kinds_start(void)
{
	/* Objects are made for callers whose umask the kernel has already
	 * applied to the mode it sends; the daemon's own must not apply again. */
	umask(0);
	int r = ipc_spaces_setup();
	if (r < 0) {
		g_warning("the daemon's IPC namespace: %s", g_strerror(-r));
		return r;
	}
	for (size_t i = 0; kinds[i]; i++) {
		if (kinds[i]->start && (r = kinds[i]->start()) < 0) {
			g_warning("%s: %s", kinds[i]->dir, g_strerror(-r));
			while (i-- > 0)
				if (kinds[i]->stop)
					kinds[i]->stop();
			return r;
		}
	}
	return 0;
}

void ipc_kinds_stop(void)
{
	for (size_t i = 0; kinds[i]; i++)
		if (kinds[i]->stop)
			kinds[i]->stop();
	ipc_spaces_teardown();
}

static void instance_teardown(struct ipc_instance *in)
{
	if (in->state && in->kind->teardown)
		in->kind->teardown(in->state);
	in->state = NULL;
}

int ipc_instances_new(struct ipc_space *space, struct ipc_instance **out)
{
	size_t n = 0;
	while (kinds[n])
		n++;
	struct ipc_instance *all = g_new0(struct ipc_instance, n + 1);
	for (size_t i = 0; i < n; i++) {
		struct ipc_instance *in = &all[i];
		*in = (struct ipc_instance){ .kind = kinds[i], .space = ipc_space_ref(space) };
		int r = in->kind->setup ? IPC_CALL(in, setup, space, &in->state) : 0;
		if (r < 0) {
			g_warning("%s: setup failed: %s", in->kind->dir, g_strerror(-r));
			ipc_instances_free(all);
			return r;
		}
	}
	*out = all;
	return 0;
}

void ipc_instances_let_go(struct ipc_instance *all)
{
	for (struct ipc_instance *in = all; in->kind; in++) {
		if (!in->gone && in->state && in->kind->let_go)
			in->kind->let_go(in->state);
		in->gone = true;
	}
}

void ipc_instances_free(struct ipc_instance *all)
{
	if (!all)
		return;
	for (struct ipc_instance *in = all; in->kind; in++) {
		instance_teardown(in);
		ipc_space_unref(in->space);
	}
	g_free(all);
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
