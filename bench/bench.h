/* bench/bench.h: what the subcommands of ipcfs-bench share.
 *
 * Each subcommand times one thing and prints its results as "key=value"
 * lines on stdout, for bench/bench.py to read; failures go to stderr with
 * exit status 1. Times are CLOCK_MONOTONIC nanoseconds. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_TARGETS 1024

/* Every option any subcommand takes; each reads what it needs. */
struct bench_args {
	const char *files[MAX_TARGETS]; /* --file, repeatable */
	size_t n_files;
	const char *queues[MAX_TARGETS]; /* --mq /NAME, repeatable */
	size_t n_queues;
	long sysv_msg;      /* --sysv-msg ID: a System V queue's id, or -1 */
	const char *name;   /* --name /NAME: a semaphore */
	const char *prefix; /* --prefix /NAME: queues to make */
	long size;          /* --size: bytes of a message, or of a segment */
	long block;         /* --block: bytes of one read or write */
	long count;         /* --count: operations, queues, or readers */
	long maxmsg, msgsize;
	long first_uid, per_uid;
};

/* Subcommands: each returns the process's exit status. */
int bench_roundtrip(const struct bench_args *a);
int bench_pairs(const struct bench_args *a);
int bench_send_latency(const struct bench_args *a);
int bench_mq_fill(const struct bench_args *a);
int bench_park(const struct bench_args *a);
int bench_stat_latency(const struct bench_args *a);
int bench_sem(const struct bench_args *a);
int bench_shm_seq(const struct bench_args *a);
int bench_shm_rand(const struct bench_args *a);
int bench_shm_touch(const struct bench_args *a);

uint64_t now_ns(void);
/* Prints "key=value" for bench.py. */
void print_result(const char *key, double value);
/* Says what failed and exits 1; die_errno adds errno's text. */
_Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void die_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The untimed calls before a timed loop: caches and the daemon's
 * allocations warm, a tenth of the count, at least 10. */
long warmup_count(long count);
