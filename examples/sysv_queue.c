/* A System V message queue found the classic way, with ftok, and used with
 * msgsnd and msgrcv: no mount involved. examples/sysv_queue.sh holds the
 * other end of the same conversation through the mount.
 *
 *   sysv-queue PATH PROJ key             prints the queue's key, 0x%08x
 *   sysv-queue PATH PROJ send TEXT...    sends each TEXT as one message, type 1
 *   sysv-queue PATH PROJ receive N       receives N messages (of any type, in
 *                                        order, waiting for them), each on a line
 *
 * PATH is any existing file and PROJ a number from 1 to 255: ftok makes the
 * key of them, and so does anyone else who calls ftok with the same two.
 * send and receive create the queue (mode 0600) if there is none yet. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>

#define TEXT_MAX 65536

struct message {
	long type;
	char text[TEXT_MAX];
};

static int usage(const char *prog)
{
	fprintf(stderr, "usage: %s PATH PROJ key | send TEXT... | receive N\n", prog);
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 4)
		return usage(argv[0]);
	char *end;
	long proj = strtol(argv[2], &end, 0);
	if (*end || proj < 1 || proj > 255)
		return usage(argv[0]);
	key_t key = ftok(argv[1], (int)proj);
	if (key == -1) {
		perror(argv[1]);
		return 1;
	}
	const char *command = argv[3];
	if (strcmp(command, "key") == 0) {
		printf("0x%08x\n", (unsigned)key);
		return 0;
	}

	int id = msgget(key, IPC_CREAT | 0600);
	if (id < 0) {
		perror("msgget");
		return 1;
	}
	static struct message m;
	if (strcmp(command, "send") == 0) {
		for (int i = 4; i < argc; i++) {
			size_t len = strlen(argv[i]);
			if (len > TEXT_MAX) {
				fprintf(stderr, "message %d too long\n", i - 3);
				return 1;
			}
			m.type = 1;
			memcpy(m.text, argv[i], len);
			if (msgsnd(id, &m, len, 0) < 0) {
				perror("msgsnd");
				return 1;
			}
		}
		return 0;
	}
	if (strcmp(command, "receive") == 0 && argc == 5) {
		long n = strtol(argv[4], &end, 10);
		if (*end || n < 0)
			return usage(argv[0]);
		for (long i = 0; i < n; i++) {
			/* msgtyp 0: the first message, whatever its type. */
			ssize_t len = msgrcv(id, &m, TEXT_MAX, 0, 0);
			if (len < 0) {
				perror("msgrcv");
				return 1;
			}
			printf("%.*s\n", (int)len, m.text);
			fflush(stdout);
		}
		return 0;
	}
	return usage(argv[0]);
}
