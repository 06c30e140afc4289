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

/* A number between min and max (min >= 0) in its one decimal spelling:
 * digits only, no sign, no space or newline, no leading zero. A value
 * written any other way is EINVAL, so that what is accepted is exactly what
 * the documentation says. */
int ipc_parse_long(const char *text, long min, long max, long *out)
{
	size_t digits = strspn(text, "0123456789");
	if (digits == 0 || text[digits] != '\0' || (text[0] == '0' && digits > 1))
		return -EINVAL;
	errno = 0;
	long v = strtol(text, NULL, 10);
	if (errno != 0 || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}
