/* A queue file used from C with nothing but open, write, poll and read.
 *
 *   mq-c-example MOUNT NAME
 *
 * Creates MOUNT/mq/NAME, sends three messages (one write each), then waits
 * with poll until a message is there and reads them back (one read each),
 * printing each on its own line. Removes the queue at the end. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s MOUNT NAME\n", argv[0]);
		return 2;
	}
	char path[4096];
	snprintf(path, sizeof(path), "%s/mq/%s", argv[1], argv[2]);

	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	const char *messages[] = { "first", "second", "third" };
	for (int i = 0; i < 3; i++) {
		if (write(fd, messages[i], strlen(messages[i])) < 0) {
			perror("write");
			return 1;
		}
	}
	for (int i = 0; i < 3; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 5000) != 1) {
			fprintf(stderr, "poll: no message\n");
			return 1;
		}
		char buf[8192];
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			perror("read");
			return 1;
		}
		printf("%.*s\n", (int)n, buf);
	}
	close(fd);
	if (unlink(path) < 0) {
		perror("unlink");
		return 1;
	}
	return 0;
}
