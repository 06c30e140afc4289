/* ipcfs-bench: the timing loops of the benchmark, one subcommand each.
 *
 *   ipcfs-bench SUBCOMMAND [--option VALUE ...]
 *
 * The loops are in C because the direct calls they are compared with
 * (mq_send, sem_post) take a microsecond or two, less than one call of an
 * interpreter costs. Each subcommand measures one side of a comparison
 * once; bench/bench.py runs the sides in turn, several times, and builds
 * the table. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

struct subcommand {
	const char *name;
	int (*run)(const struct bench_args *a);
	const char *usage;
};

static const struct subcommand subcommands[] = {
	{ "roundtrip", bench_roundtrip,
	  "(--file PATH | --mq /NAME | --sysv-msg ID) --size BYTES --count N" },
	{ "pairs", bench_pairs, "(--file PATH ... | --mq /NAME ...) --size BYTES --count N" },
	{ "send-latency", bench_send_latency, "--file PATH --mq /NAME --size BYTES --count N" },
	{ "stat-latency", bench_stat_latency, "--file PATH --count N" },
	{ "park", bench_park, "--file PATH ... --count N" },
	{ "mq-fill", bench_mq_fill,
	  "--prefix /NAME --count N --maxmsg N --msgsize N --first-uid UID --per-uid N" },
	{ "sem", bench_sem, "(--file PATH | --name /NAME) --count N" },
	{ "shm-seq", bench_shm_seq, "--file PATH --size BYTES --block BYTES" },
	{ "shm-rand", bench_shm_rand, "--file PATH --size BYTES --block BYTES --count N" },
	{ "shm-touch", bench_shm_touch, "--file PATH --size BYTES" },
};

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void print_result(const char *key, double value)
{
	printf("%s=%.3f\n", key, value);
	fflush(stdout);
}

static _Noreturn void say_and_exit(int err, const char *fmt, va_list ap)
{
	fputs("ipcfs-bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	if (err)
		fprintf(stderr, ": %s", strerror(err));
	fputc('\n', stderr);
	exit(1);
}

void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say_and_exit(0, fmt, ap);
}

void die_errno(const char *fmt, ...)
{
	int err = errno;
	va_list ap;
	va_start(ap, fmt);
	say_and_exit(err, fmt, ap);
}

long warmup_count(long count)
{
	return count / 10 > 10 ? count / 10 : 10;
}

static long parse_number(const char *option, const char *text)
{
	char *end;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (errno || *end || end == text || v < 0) {
		fprintf(stderr, "ipcfs-bench: --%s wants a number, not '%s'\n", option, text);
		exit(1);
	}
	return v;
}

static void add_target(const char **list, size_t *n, const char *value)
{
	if (*n == MAX_TARGETS) {
		fprintf(stderr, "ipcfs-bench: at most %d targets\n", MAX_TARGETS);
		exit(1);
	}
	list[(*n)++] = value;
}

static void parse_args(int argc, char *argv[], struct bench_args *a)
{
	enum { O_FILE = 256, O_MQ, O_SYSV_MSG, O_NAME, O_PREFIX, O_SIZE, O_BLOCK, O_COUNT,
	       O_MAXMSG, O_MSGSIZE, O_FIRST_UID, O_PER_UID };
	static const struct option options[] = {
		{ "file", required_argument, NULL, O_FILE },
		{ "mq", required_argument, NULL, O_MQ },
		{ "sysv-msg", required_argument, NULL, O_SYSV_MSG },
		{ "name", required_argument, NULL, O_NAME },
		{ "prefix", required_argument, NULL, O_PREFIX },
		{ "size", required_argument, NULL, O_SIZE },
		{ "block", required_argument, NULL, O_BLOCK },
		{ "count", required_argument, NULL, O_COUNT },
		{ "maxmsg", required_argument, NULL, O_MAXMSG },
		{ "msgsize", required_argument, NULL, O_MSGSIZE },
		{ "first-uid", required_argument, NULL, O_FIRST_UID },
		{ "per-uid", required_argument, NULL, O_PER_UID },
		{ NULL, 0, NULL, 0 },
	};
	int c, index;
	while ((c = getopt_long(argc, argv, "", options, &index)) != -1) {
		const char *name = c >= O_FILE ? options[index].name : "";
		switch (c) {
		case O_FILE: add_target(a->files, &a->n_files, optarg); break;
		case O_MQ: add_target(a->queues, &a->n_queues, optarg); break;
		case O_SYSV_MSG: a->sysv_msg = parse_number(name, optarg); break;
		case O_NAME: a->name = optarg; break;
		case O_PREFIX: a->prefix = optarg; break;
		case O_SIZE: a->size = parse_number(name, optarg); break;
		case O_BLOCK: a->block = parse_number(name, optarg); break;
		case O_COUNT: a->count = parse_number(name, optarg); break;
		case O_MAXMSG: a->maxmsg = parse_number(name, optarg); break;
		case O_MSGSIZE: a->msgsize = parse_number(name, optarg); break;
		case O_FIRST_UID: a->first_uid = parse_number(name, optarg); break;
		case O_PER_UID: a->per_uid = parse_number(name, optarg); break;
		default: exit(1);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ipcfs-bench: unexpected argument '%s'\n", argv[optind]);
		exit(1);
	}
}

static void print_usage(FILE *to)
{
	fprintf(to, "usage: ipcfs-bench SUBCOMMAND [options]\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(to, "  %-13s %s\n", subcommands[i].name, subcommands[i].usage);
}

int main(int argc, char *argv[])
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		print_usage(argc < 2 ? stderr : stdout);
		return argc < 2;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
		if (strcmp(argv[1], subcommands[i].name) != 0)
			continue;
		struct bench_args a = { .sysv_msg = -1 };
		parse_args(argc - 1, argv + 1, &a);
		return subcommands[i].run(&a);
	}
	fprintf(stderr, "ipcfs-bench: no subcommand '%s'\n", argv[1]);
	print_usage(stderr);
	return 1;
}
