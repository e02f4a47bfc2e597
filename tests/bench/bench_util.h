/*
 * bench_util.h - small helpers the benchmarks in tests/bench share: the
 * monotonic clock, CPU time of processes from /proc and getrusage, a free
 * tcp port on 127.0.0.1, the environment of a spawned child and the parsing
 * of "-c 1,4,16" style lists.
 *
 * Only what was the same, line for line, in several benchmarks lives here;
 * each benchmark keeps its own child table, signal handler, fork/exec and
 * report, since those differ in detail (log file mode, working folder,
 * stop timeouts). Nothing here keeps state; every function is safe to call
 * from any thread except where said otherwise.
 */
#ifndef CHUANG_BENCH_UTIL_H
#define CHUANG_BENCH_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* CLOCK_MONOTONIC now, in nanoseconds. */
int64_t bench_now_ns(void);

/* Sleeps until CLOCK_MONOTONIC reaches ns (nanoseconds), resuming after
 * signals; returns at once when ns has passed. */
void bench_sleep_until_ns(int64_t ns);

/* CPU time (user + system) pid has used so far, in microseconds, read from
 * /proc/<pid>/stat, and its parent's pid in *ppid when ppid is not NULL.
 * Returns -1 (and leaves *ppid alone) when the process is gone or the file
 * cannot be read. */
int64_t bench_proc_cpu_us(pid_t pid, pid_t *ppid);

/* CPU time of root, of its direct children alive now and of those it has
 * waited for (for PostgreSQL: the postmaster and its backends, WAL writer,
 * checkpointer, ..., and the backends that have exited), in microseconds,
 * by a scan of /proc, so that a child's exit does not take its time away.
 * Processes that cannot be read count 0; returns 0 when root <= 0. */
int64_t bench_tree_cpu_us(pid_t root);

/* CPU time (user + system) of this process so far, all threads, in
 * microseconds (getrusage RUSAGE_SELF). */
int64_t bench_self_cpu_us(void);

/* A tcp port on 127.0.0.1 that was free a moment ago (bound to port 0 and
 * closed again), or -1. */
int bench_free_port(void);

/* The environment of a child called name: "CHUANG_LOG_NAME=<name>", then
 * every "KEY=VALUE" of the NULL-terminated extra, then this process's
 * environ without the keys extra sets and without CHUANG_LOG_NAME.
 * Returns a NULL-terminated array for execve, or NULL when out of memory.
 * The caller owns the array and frees it with one free(); the
 * CHUANG_LOG_NAME string lives in the same block, the other strings are
 * extra's and environ's and must outlive the array. Build it before fork:
 * it allocates. */
char **bench_child_env(const char *name, const char *const *extra);

/* qsort comparison of two ints, ascending. */
int bench_compare_int(const void *a, const void *b);

/* Parses a comma-separated list such as "1,4,16" into values, sorted
 * ascending. Every item must be a whole number in 1..max and there may be
 * at most max_count of them (the size of values). Returns the count, or -1
 * when the list is empty or an item is wrong. Duplicates are kept. */
int bench_parse_list(const char *text, int *values, int max, int max_count);

/* The libpq environment of a pgbench or psql child for the database at url:
 * "PGHOST=...", "PGPORT=...", "PGUSER=...", "PGPASSWORD=...",
 * "PGDATABASE=..." (what the URL gives), then "PGOPTIONS=<options>", into
 * env (room for 7 and the NULL that ends it), so that no password is on a
 * command line. The strings are malloc'd; the caller frees each. Returns 0,
 * or -1 (after saying why on stderr) when the URL does not parse. */
int bench_pg_environment(const char *url, const char *options, char **env);

#endif
