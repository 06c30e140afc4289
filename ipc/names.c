/* Checks shared by the kinds: object names and numbers given as text. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kind.h"

/* A name the kernel would take as one object name: no slash, not . or .. */
int ipc_check_name(const char *name, size_t max_len)
{
	size_t len = strlen(name);

	if (len == 0 || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -EINVAL;
	if (len > max_len)
		return -ENAMETOOLONG;
	return 0;
}

/* A decimal number between min and max, with surrounding white space. */
int ipc_parse_long(const char *text, long min, long max, long *out)
{
	g_autofree char *copy = g_strstrip(g_strdup(text));
	char *end = NULL;

	if (copy[0] == '\0')
		return -EINVAL;
	errno = 0;
	long v = strtol(copy, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}
