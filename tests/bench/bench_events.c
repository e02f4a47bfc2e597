/*
 * bench_events.c - what the event pipeline (outbox -> relay -> Redis Stream
 * -> consumer group with inbox) costs, measured against Redis and
 * PostgreSQL doing the bare operations it is made of, in the same run.
 *
 * Everything runs against the private PostgreSQL and Redis of a harness
 * (tests/bench/run_events.sh starts one), over 127.0.0.1 or unix sockets:
 * the producing service's schema "tally" and the consuming service's schema
 * "watcher" in one database, both migrated here with common/sql, and the
 * stream "bench:events" ("<redis.prefix>:events" with prefix "bench").
 *
 * The relay is the real one (common/relay.c) run in a thread of this process
 * the way chuang-tally's relay thread runs it (relay_step(relay, 300) in a
 * loop); the consumer is the real one (common/consumer.c) in another thread
 * (consumer_step(consumer, 100) in a loop, as the tests and federation run
 * it), with a handler that only notes the time: each event costs exactly the
 * consumer's own work, the inbox transaction included. No broker and no
 * service process are involved: events are written by writer threads that
 * each do BEGIN; outbox_write(); COMMIT on their own connection, then wake
 * the relay (event_stream_wake), which is what a tally Add does around its
 * UPDATE, minus the broker hop.
 *
 * 1. Commit-to-consumer latency. W writers (default 4) share a schedule of
 *    events at a fixed rate (open loop: event k is due at start + k / rate;
 *    the next free writer takes it, late if all were busy) in windows of a
 *    warm-up (not counted) and a measured part; the rates (default 200 and
 *    1000/s) take turns window by window, in a rotating order, over the
 *    rounds, and a window starts only once the consumer has applied every
 *    event of the one before (the wait is reported: it shows a rate the
 *    consumer cannot keep up with). The payload is a chuang.tally.AddReply
 *    whose total is the event's index; the writer records the monotonic
 *    time when COMMIT returned under that index (the time after COMMIT
 *    cannot be inside the committed row). A tap thread reading the stream
 *    with plain XREAD BLOCK notes when each event reached the stream; the
 *    consumer's handler notes when it got it (inside the consumer's
 *    transaction, after its inbox INSERT). Reported per rate:
 *    p50/p99 of the write (BEGIN .. COMMIT returned), commit -> stream and
 *    commit -> handler, in ms, and the CPU this process, PostgreSQL (all
 *    its processes) and Redis used in the measured parts.
 *
 * 2. Backlog. N events (default 30,000) are inserted into the outbox in
 *    statements of 1,000 rows (INSERT ... SELECT generate_series, autocommit)
 *    while the relay runs; the time until the stream holds them all is the
 *    relay's live numbering + publishing rate. Then, in rounds with a
 *    rotating order, each over the whole stream (the latency events and the
 *    backlog, T entries):
 *      raw XRANGE      hiredis XRANGE pages of COUNT 100 over the stream
 *                      (whole passes, at least 1 s)
 *      consumer replay a fresh consumer group read and applied by a fresh
 *                      consumer_t from the start, the inbox emptied before:
 *                      a transaction for each batch the consumer reads
 *      pg inbox tx     BEGIN; the consumer's inbox INSERT; COMMIT, in a loop
 *                      on one connection (a copy of chuang_inbox) over the
 *                      stream's events, for 3 s:
 *                      the PostgreSQL part of a consumer's cost per event
 *                      when it took one event a transaction
 *      pg inbox batch  BEGIN; one prepared INSERT from arrays of the
 *                      inbox rows of CONSUMER_BATCH entries; COMMIT, over
 *                      the whole stream: what PostgreSQL needs for the
 *                      rows the consumer writes, in batches of its size
 *      redis-benchmark redis-benchmark -c 1 -P 1 -n N XADD bench:xadd * event
 *                      <as many bytes as a backlog entry's event field>; its
 *                      own requests/s figure
 *      hiredis XADD    the relay's way of appending without the database:
 *                      N synchronous redisCommand XADDs with explicit ids
 *                      and a value of that size
 *      pipelined XADD  the same XADDs sent 500 at a time (the relay's
 *                      batch) before reading the replies
 *      relay rebuild   DEL of the stream, then a fresh relay's first step,
 *                      which finds the stream short of the outbox and
 *                      refills it (until XLEN is T again)
 *    The ratios consumer replay / raw XRANGE and relay rebuild /
 *    redis-benchmark XADD (and the two against the bare PostgreSQL
 *    transaction and the bare hiredis XADD loop) are the figures to read;
 *    absolute rates depend on this (shared, noisy) machine. The default
 *    backlog keeps the whole run under three minutes on 2 cores, where the
 *    consumer applies about a thousand events per second; -n 50000 takes
 *    about a minute longer.
 *
 *   bench_events [-d DB_URL] [-c CONSUMER_DB_URL] [-s REDIS_URL]
 *                [-B REDIS_BENCHMARK] [-R 200,1000] [-T MS] [-w MS] [-r ROUNDS]
 *                [-W WRITERS] [-n BACKLOG] [-P POSTMASTER_PID] [-S REDIS_PID] [-I]
 *
 * DB_URL (or CHUANG_BENCH_DB_URL) is the tally role's database URL,
 * CONSUMER_DB_URL (or CHUANG_BENCH_CONSUMER_DB_URL) the watcher role's,
 * REDIS_URL (or CHUANG_BENCH_REDIS_URL) the harness's Redis. -T is the
 * measured time per rate, split over the rounds (default 4000 ms, 2
 * rounds), -w the warm-up of each window (default 250 ms). -P and -S name the
 * servers' processes for the CPU columns (left out: no CPU figures for them).
 * -I holds a transaction open, idle, on another connection (the consumer's
 * role, another schema: BEGIN; SELECT pg_current_xact_id()) for the whole
 * latency phase, the way a forgotten psql session would; the commit ->
 * stream figures then say whether anything outside the outbox holds its
 * events back (-R 200 -T 30000 -I: 200 events/s with it open 30 s).
 * The tables go to stdout, progress to stderr. A redis-benchmark child is
 * killed on SIGINT/SIGTERM/SIGHUP and when this process dies. Exits 0, 1
 * when a step failed or an event was lost, 2 on bad arguments.
 */
#include "bench_util.h"
#include "chuang.pb-c.h"
#include "consumer.h"
#include "db.h"
#include "db_array.h"
#include "event_stream.h"
#include "logger.h"
#include "outbox.h"
#include "redis_link.h"
#include "relay.h"
#include "tally.pb-c.h"

#include <czmq.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CHUANG_COMMON_SQL_DIR
#error "CHUANG_COMMON_SQL_DIR must name common/sql"
#endif

#define STREAM        "bench:events"
#define XADD_KEY      "bench:xadd"
#define PRODUCER      "tally"
#define CONSUMER      "watcher"
#define RELAY_WAIT_MS 300 /* as common/service.c runs the relay */
#define CONSUMER_WAIT 100 /* as the tests and the federation run consumers */
#define MAX_RATES     8
#define MAX_ROUNDS    16
#define CHUNK         1000
#define PGTX_MS       3000
#define XRANGE_MIN_MS 1000
#define DRAIN_MS      15000  /* for the latency events to be applied */
#define BACKLOG_MS    180000 /* for the relay to publish or rebuild the backlog */
#define EVENT_AGENCY  "330106"
#define LATENCY_TAG   "latency"
#define BACKLOG_TAG   "backlog"
#define PAYLOAD_TYPE  "chuang.tally.AddReply"
#define NS_PER_MS     1000000LL
#define NS_PER_S      1000000000LL

static struct {
    const char *db_url, *consumer_url, *redis_url;
    char redis_host[256], redis_port[16], redis_password[256];
    pid_t pg_pid, redis_pid;
} s_cfg;

static volatile pid_t s_child; /* redis-benchmark while it runs */

static void s_on_signal(int sig)
{
    if (s_child > 0)
        kill(s_child, SIGKILL);
    _exit(128 + sig);
}

/* --- CPU time of this process and of the servers ----------------------------- */

typedef struct {
    int64_t me, pg, redis; /* microseconds */
} cpu_t;

static void s_cpu_sample(cpu_t *cpu)
{
    cpu->me = bench_self_cpu_us();
    cpu->redis = s_cfg.redis_pid > 0 ? bench_proc_cpu_us(s_cfg.redis_pid, NULL) : 0;
    /* The postmaster and its children: backends, walwriter, checkpointer... */
    cpu->pg = bench_tree_cpu_us(s_cfg.pg_pid);
}

/* Adds the CPU used between from and to (a process gone meanwhile makes a
 * share negative: counted as 0). */
static void s_cpu_add(cpu_t *into, const cpu_t *from, const cpu_t *to)
{
    into->me += to->me - from->me;
    into->pg += to->pg > from->pg ? to->pg - from->pg : 0;
    into->redis += to->redis > from->redis ? to->redis - from->redis : 0;
}

static void s_cpu_format(char *out, size_t size, const cpu_t *cpu, int64_t window_ns)
{
    double window_us = (double)window_ns / 1000.0;
    if (window_us <= 0) {
        snprintf(out, size, "%5s %5s %5s", "-", "-", "-");
        return;
    }
    char pg[16] = "-", redis[16] = "-";
    if (s_cfg.pg_pid > 0)
        snprintf(pg, sizeof pg, "%.0f", 100.0 * (double)cpu->pg / window_us);
    if (s_cfg.redis_pid > 0)
        snprintf(redis, sizeof redis, "%.0f", 100.0 * (double)cpu->redis / window_us);
    snprintf(out, size, "%5.0f %5s %5s", 100.0 * (double)cpu->me / window_us, pg, redis);
}

/* --- helpers ------------------------------------------------------------------- */

static int s_compare_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The nearest-rank percentile of sorted values. */
static int64_t s_percentile(const int64_t *sorted, size_t count, double p)
{
    if (count == 0)
        return 0;
    size_t rank = (size_t)(p / 100.0 * (double)count + 0.999999);
    if (rank < 1)
        rank = 1;
    return sorted[rank > count ? count - 1 : rank - 1];
}

static double s_ms(int64_t ns)
{
    return (double)ns / (double)NS_PER_MS;
}

static long long s_redis_int(redisContext *redis, const char *command, const char *key)
{
    redisReply *reply = redisCommand(redis, command, key);
    long long value = reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
    freeReplyObject(reply);
    return value;
}

static long long s_sql_int(PGconn *db, const char *sql)
{
    PGresult *res = PQexec(db, sql);
    long long value = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
                          ? strtoll(PQgetvalue(res, 0, 0), NULL, 10)
                          : -1;
    PQclear(res);
    return value;
}

/* Parses redis://[:password@]host[:port][/db] for redis-benchmark. */
static int s_parse_redis_url(const char *url)
{
    if (strncmp(url, "redis://", 8) != 0)
        return -1;
    const char *rest = url + 8;
    const char *at = strchr(rest, '@');
    if (at) {
        const char *colon = memchr(rest, ':', (size_t)(at - rest));
        if (colon)
            snprintf(s_cfg.redis_password, sizeof s_cfg.redis_password, "%.*s",
                     (int)(at - colon - 1), colon + 1);
        rest = at + 1;
    }
    size_t host = strcspn(rest, ":/");
    snprintf(s_cfg.redis_host, sizeof s_cfg.redis_host, "%.*s", (int)host, rest);
    snprintf(s_cfg.redis_port, sizeof s_cfg.redis_port, "6379");
    if (rest[host] == ':')
        snprintf(s_cfg.redis_port, sizeof s_cfg.redis_port, "%.*s",
                 (int)strspn(rest + host + 1, "0123456789"), rest + host + 1);
    return s_cfg.redis_host[0] ? 0 : -1;
}

/* The event's index when it is one of the latency events, else -1. */
static int64_t s_latency_index(const Chuang__Event *event)
{
    if (!event->payload_type || strcmp(event->payload_type, PAYLOAD_TYPE) != 0)
        return -1;
    Chuang__Tally__AddReply *reply =
        chuang__tally__add_reply__unpack(NULL, event->payload.len, event->payload.data);
    int64_t index = -1;
    if (reply && reply->counter && strcmp(reply->counter, LATENCY_TAG) == 0)
        index = reply->total;
    chuang__tally__add_reply__free_unpacked(reply, NULL);
    return index;
}

/* --- the relay and the consumer in threads ---------------------------------------- */

typedef struct {
    pthread_t thread;
    atomic_bool stop;
    atomic_bool active;
} relay_runner_t;

static void *s_relay_run(void *args)
{
    relay_runner_t *runner = args;
    relay_settings_t settings = {.db_url = s_cfg.db_url,
                                 .schema = PRODUCER,
                                 .redis_url = s_cfg.redis_url,
                                 .stream = STREAM,
                                 .service_name = PRODUCER};
    relay_t *relay = relay_new(&settings);
    while (!atomic_load(&runner->stop)) {
        relay_step(relay, RELAY_WAIT_MS);
        if (relay_active(relay))
            atomic_store(&runner->active, true);
    }
    relay_destroy(&relay);
    return NULL;
}

/* A window of the latency phase: one rate, a warm-up and a measured part. */
typedef struct {
    int rate;     /* events/s */
    int rate_idx; /* into the rates */
    int64_t start_ns, warm_end_ns, end_ns;
} window_t;

/* What the latency phase schedules and records, by event index. */
typedef struct {
    size_t count;       /* events scheduled */
    size_t limit;       /* the end of the window being written */
    atomic_size_t next; /* the next one a writer takes */
    atomic_size_t written;
    const window_t *windows;
    int64_t *due_ns;     /* when the schedule wants it */
    int16_t *window;     /* its window */
    int64_t *begin_ns;   /* BEGIN sent */
    int64_t *commit_ns;  /* COMMIT returned (0: the write failed) */
    int64_t *stream_ns;  /* the tap saw it on the stream */
    int64_t *applied_ns; /* the consumer's handler got it */
    atomic_size_t applied, tapped;
    atomic_int write_errors;
} latency_t;

static int s_latency_handler(PGconn *db, const Chuang__Event *event, void *arg, char *error)
{
    (void)db;
    (void)error;
    int64_t now = bench_now_ns();
    latency_t *lat = arg;
    int64_t index = s_latency_index(event);
    if (index >= 0 && (size_t)index < lat->count && lat->applied_ns[index] == 0) {
        lat->applied_ns[index] = now;
        atomic_fetch_add(&lat->applied, 1);
    }
    return 0;
}

typedef struct {
    pthread_t thread;
    atomic_bool stop;
    atomic_bool ready; /* its group exists */
    const char *group;
    consumer_handler_fn *handler;
    void *arg;
} consumer_runner_t;

static void *s_consumer_run(void *args)
{
    consumer_runner_t *runner = args;
    consumer_settings_t settings = {.db_url = s_cfg.consumer_url,
                                    .schema = CONSUMER,
                                    .redis_url = s_cfg.redis_url,
                                    .stream = STREAM,
                                    .group = runner->group,
                                    .consumer = "bench-1",
                                    .claim_idle_ms = 5000,
                                    .max_deliveries = 5,
                                    .handler = runner->handler,
                                    .arg = runner->arg};
    consumer_t *consumer = consumer_new(&settings);
    while (!atomic_load(&runner->stop)) {
        int rc = consumer_step(consumer, CONSUMER_WAIT);
        if (rc >= 0)
            atomic_store(&runner->ready, true);
    }
    consumer_destroy(&consumer);
    return NULL;
}

/* The tap: plain XREAD of the stream, noting when each latency event came. */
typedef struct {
    pthread_t thread;
    atomic_bool stop;
    latency_t *lat;
} tap_t;

static void *s_tap_run(void *args)
{
    tap_t *tap = args;
    redisContext *redis = redis_link_connect(s_cfg.redis_url, 3);
    char last[64] = "0";
    while (redis && !atomic_load(&tap->stop)) {
        redisReply *reply =
            redisCommand(redis, "XREAD COUNT 1000 BLOCK 100 STREAMS %s %s", STREAM, last);
        int64_t now = bench_now_ns();
        if (!reply || reply->type == REDIS_REPLY_ERROR) {
            freeReplyObject(reply);
            break;
        }
        if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1) {
            redisReply *entries = reply->element[0]->element[1];
            for (size_t i = 0; i < entries->elements; i++) {
                redisReply *entry = entries->element[i];
                snprintf(last, sizeof last, "%s", entry->element[0]->str);
                redisReply *fields = entry->element[1];
                if (fields->elements < 2)
                    continue;
                Chuang__Event *event = chuang__event__unpack(NULL, fields->element[1]->len,
                                                             (uint8_t *)fields->element[1]->str);
                int64_t index = event ? s_latency_index(event) : -1;
                chuang__event__free_unpacked(event, NULL);
                if (index >= 0 && (size_t)index < tap->lat->count &&
                    tap->lat->stream_ns[index] == 0) {
                    tap->lat->stream_ns[index] = now;
                    atomic_fetch_add(&tap->lat->tapped, 1);
                }
            }
        }
        freeReplyObject(reply);
    }
    redisFree(redis);
    return NULL;
}

/* --- 1. latency at a steady rate ------------------------------------------------- */

static int s_write_event(PGconn *db, int64_t index)
{
    Chuang__Tally__AddReply payload = CHUANG__TALLY__ADD_REPLY__INIT;
    payload.counter = LATENCY_TAG;
    payload.total = index;
    outbox_event_t event = {.agency = EVENT_AGENCY,
                            .type = "tally.Added",
                            .aggregate_id = LATENCY_TAG,
                            .visibility = CHUANG__VISIBILITY__VISIBILITY_DEPARTMENTS,
                            .payload = &payload.base};
    if (db_exec(db, "begin", "BEGIN") != 0)
        return -1;
    if (outbox_write(db, &event) != 0) {
        PQclear(PQexec(db, "ROLLBACK"));
        return -1;
    }
    return db_exec(db, "commit", "COMMIT");
}

/* A writer: takes the next event of the schedule, waits until it is due,
 * writes it in its own transaction; several writers share the schedule, so
 * that one slow commit does not hold the next event back. */
static void *s_writer_run(void *args)
{
    latency_t *lat = args;
    PGconn *db = db_connect(s_cfg.db_url, PRODUCER, 3);
    redisContext *redis = NULL;
    if (!db || redis_link_reset(&redis, s_cfg.redis_url, 3) != 0)
        atomic_fetch_add(&lat->write_errors, 1);
    while (db && redis) {
        size_t i = atomic_fetch_add(&lat->next, 1);
        if (i >= lat->limit)
            break;
        bench_sleep_until_ns(lat->due_ns[i]);
        lat->begin_ns[i] = bench_now_ns();
        if (s_write_event(db, (int64_t)i) == 0) {
            lat->commit_ns[i] = bench_now_ns();
            /* As the service's worker does after a commit with events. */
            event_stream_wake(redis, STREAM);
        } else {
            atomic_fetch_add(&lat->write_errors, 1);
        }
        atomic_fetch_add(&lat->written, 1);
        if (db_lost(db))
            db_reset(db, PRODUCER, 3);
        if (redis->err)
            redis_link_reset(&redis, s_cfg.redis_url, 3);
    }
    redisFree(redis);
    PQfinish(db);
    return NULL;
}

typedef struct {
    int rate;
    int64_t measured_ns; /* the measured parts' nominal length */
    int64_t span_ns;     /* the same, stretched when the last write committed later */
    int64_t late_ns;     /* the writers' worst lateness against the schedule */
    int64_t drain_ns;    /* the longest wait, after a window, until all was applied */
    size_t over_10ms, over_10ms_stream;
    cpu_t cpu;
} rate_stats_t;

static int s_latency_report(latency_t *lat, const int *rates, int nrates, int nwindows,
                            rate_stats_t *stats, int rounds, int warm_ms, int ms_per_rate,
                            int writers)
{
    size_t count = lat->count;
    int64_t *write = calloc(count + 1, sizeof *write);
    int64_t *to_stream = calloc(count + 1, sizeof *to_stream);
    int64_t *to_handler = calloc(count + 1, sizeof *to_handler);
    int64_t *last_commit = calloc((size_t)nwindows, sizeof *last_commit);
    int lost_total = 0;
    for (size_t i = 0; i < count; i++)
        if (lat->window[i] >= 0 && lat->commit_ns[i] > last_commit[lat->window[i]])
            last_commit[lat->window[i]] = lat->commit_ns[i];
    for (int w = 0; w < nwindows; w++) {
        const window_t *window = &lat->windows[w];
        int64_t end = last_commit[w] > window->end_ns ? last_commit[w] : window->end_ns;
        stats[window->rate_idx].span_ns += end - window->warm_end_ns;
    }
    printf("1. commit-to-consumer latency, ms: %d rounds, each rate %d windows of %d ms warm-up "
           "(not counted) + %d ms,\n"
           "   the rates taking turns in a rotating order; %d writer connections share the "
           "schedule (open loop)\n",
           rounds, rounds, warm_ms, ms_per_rate / rounds, writers);
    printf("   write = BEGIN..COMMIT returned; ->stream = COMMIT returned .. seen by XREAD BLOCK; "
           "->handler = COMMIT returned .. in the consumer's handler\n");
    printf("   cpu in %% of one core during the measured parts: me = this process (writers, relay, "
           "tap, consumer), pg = all PostgreSQL processes, redis\n");
    printf("%6s %8s %6s | %6s %6s | %8s %8s | %8s %8s %8s | %4s | %5s %5s %5s\n", "rate/s",
           "achieved", "events", "write", "p99", "->stream", "p99", "->handler", "p99", "max",
           "lost", "me", "pg", "redis");
    for (int r = 0; r < nrates; r++) {
        size_t n = 0, nstream = 0;
        int lost = 0;
        for (size_t i = 0; i < count; i++) {
            if (lat->window[i] < 0 || lat->windows[lat->window[i]].rate_idx != r)
                continue;
            if (lat->commit_ns[i] == 0)
                continue; /* a failed write: counted in write errors */
            int64_t late = lat->begin_ns[i] - lat->due_ns[i];
            if (late > stats[r].late_ns)
                stats[r].late_ns = late;
            if (lat->applied_ns[i] == 0) {
                lost++;
                continue;
            }
            write[n] = lat->commit_ns[i] - lat->begin_ns[i];
            to_handler[n] = lat->applied_ns[i] - lat->commit_ns[i];
            n++;
            if (lat->stream_ns[i])
                to_stream[nstream++] = lat->stream_ns[i] - lat->commit_ns[i];
            if (lat->applied_ns[i] - lat->commit_ns[i] > 10 * NS_PER_MS) {
                stats[r].over_10ms++;
                if (lat->stream_ns[i] && lat->stream_ns[i] - lat->commit_ns[i] > 10 * NS_PER_MS)
                    stats[r].over_10ms_stream++;
            }
        }
        lost_total += lost;
        qsort(write, n, sizeof *write, s_compare_i64);
        qsort(to_stream, nstream, sizeof *to_stream, s_compare_i64);
        qsort(to_handler, n, sizeof *to_handler, s_compare_i64);
        /* Events written in the measured parts over the time their writing took. */
        double achieved = stats[r].span_ns > 0
                              ? (double)(n + (size_t)lost) * NS_PER_S / (double)stats[r].span_ns
                              : 0;
        char cpu[32];
        s_cpu_format(cpu, sizeof cpu, &stats[r].cpu, stats[r].measured_ns);
        printf("%6d %8.0f %6zu | %6.2f %6.2f | %8.2f %8.2f | %8.2f %8.2f %8.2f | %4d | %s\n",
               rates[r], achieved, n, s_ms(s_percentile(write, n, 50)),
               s_ms(s_percentile(write, n, 99)), s_ms(s_percentile(to_stream, nstream, 50)),
               s_ms(s_percentile(to_stream, nstream, 99)), s_ms(s_percentile(to_handler, n, 50)),
               s_ms(s_percentile(to_handler, n, 99)), n ? s_ms(to_handler[n - 1]) : 0.0, lost, cpu);
    }
    for (int r = 0; r < nrates; r++) {
        printf("   at %d/s: %zu events over 10 ms to the handler, %zu of them already over 10 ms "
               "to the stream",
               stats[r].rate, stats[r].over_10ms, stats[r].over_10ms_stream);
        printf("; all applied %.0f ms after the window's end at the latest",
               s_ms(stats[r].drain_ns));
        if (stats[r].late_ns > 2 * NS_PER_MS)
            printf("; the writers fell up to %.1f ms behind the schedule", s_ms(stats[r].late_ns));
        printf("\n");
    }
    if (atomic_load(&lat->write_errors))
        printf("   write errors: %d\n", atomic_load(&lat->write_errors));
    fflush(stdout);
    free(write);
    free(to_stream);
    free(to_handler);
    free(last_commit);
    return lost_total == 0 && atomic_load(&lat->write_errors) == 0 ? 0 : -1;
}

/* --- 2. the backlog ------------------------------------------------------------------ */

typedef enum {
    M_XRANGE,
    M_REPLAY,
    M_PGTX,
    M_PGBATCH,
    M_XADD,
    M_HXADD,
    M_PXADD,
    M_REBUILD,
    M_COUNT
} measure_t;

static const char *const s_measure_names[M_COUNT] = {"raw XRANGE COUNT 100",
                                                     "consumer replay (fresh group)",
                                                     "pg inbox tx (BEGIN/INSERT/COMMIT)",
                                                     "pg inbox rows, a batch a tx",
                                                     "redis-benchmark XADD -c 1 -P 1",
                                                     "hiredis XADD loop (explicit ids)",
                                                     "hiredis XADD pipelined, 500 a batch",
                                                     "relay rebuild after DEL"};

typedef struct {
    double events;
    int64_t ns;     /* the time the events took */
    int64_t cpu_ns; /* the wall time the CPU figures cover */
    cpu_t cpu;
    double rate[MAX_ROUNDS];
    int failures;
} acc_t;

typedef struct {
    redisContext *redis;
    long long total; /* entries the stream holds */
    size_t event_size;
    long backlog;
    const char *redis_benchmark;
    int round;
    char **ids;       /* the event id of each entry of the stream, in order */
    char **positions; /* and its position */
    long long rows;
} backlog_t;

/* Reads the event id and position of every entry of the stream into b: the
 * inbox rows the consumer writes, for the pg rows to write the same. */
static int s_load_rows(backlog_t *b)
{
    b->ids = calloc((size_t)b->total, sizeof *b->ids);
    b->positions = calloc((size_t)b->total, sizeof *b->positions);
    if (!b->ids || !b->positions)
        return -1;
    char start[64] = "-";
    while (b->rows < b->total) {
        redisReply *reply = redisCommand(b->redis, "XRANGE %s %s + COUNT 1000", STREAM, start);
        if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
            freeReplyObject(reply);
            return -1;
        }
        for (size_t i = 0; i < reply->elements && b->rows < b->total; i++) {
            redisReply *value = reply->element[i]->element[1]->element[1];
            Chuang__Event *event =
                chuang__event__unpack(NULL, value->len, (const uint8_t *)value->str);
            if (!event) {
                freeReplyObject(reply);
                return -1;
            }
            b->ids[b->rows] = strdup(event->id);
            b->positions[b->rows] = zsys_sprintf("%" PRId64, event->sequence);
            b->rows++;
            chuang__event__free_unpacked(event, NULL);
        }
        snprintf(start, sizeof start, "(%s", reply->element[reply->elements - 1]->element[0]->str);
        freeReplyObject(reply);
    }
    return 0;
}

static void s_free_rows(backlog_t *b)
{
    for (long long i = 0; i < b->rows; i++) {
        free(b->ids[i]);
        zstr_free(&b->positions[i]);
    }
    free(b->ids);
    free(b->positions);
}

static void s_acc_add(acc_t *acc, int round, double events, int64_t ns, int64_t wall_ns,
                      const cpu_t *from, const cpu_t *to)
{
    acc->events += events;
    acc->ns += ns;
    acc->cpu_ns += wall_ns;
    s_cpu_add(&acc->cpu, from, to);
    acc->rate[round] = ns > 0 ? events * NS_PER_S / (double)ns : 0;
}

/* Whole passes over the stream in pages of 100 for at least XRANGE_MIN_MS. */
static int s_measure_xrange(backlog_t *b, acc_t *acc)
{
    cpu_t c0, c1;
    s_cpu_sample(&c0);
    int64_t t0 = bench_now_ns();
    double events = 0;
    do {
        char start[64] = "-";
        while (true) {
            redisReply *reply = redisCommand(b->redis, "XRANGE %s %s + COUNT 100", STREAM, start);
            if (!reply || reply->type != REDIS_REPLY_ARRAY) {
                freeReplyObject(reply);
                return -1;
            }
            size_t n = reply->elements;
            if (n > 0)
                snprintf(start, sizeof start, "(%s", reply->element[n - 1]->element[0]->str);
            freeReplyObject(reply);
            events += (double)n;
            if (n < 100)
                break;
        }
    } while (bench_now_ns() - t0 < XRANGE_MIN_MS * NS_PER_MS);
    int64_t ns = bench_now_ns() - t0;
    s_cpu_sample(&c1);
    s_acc_add(acc, b->round, events, ns, ns, &c0, &c1);
    return 0;
}

static int s_count_handler(PGconn *db, const Chuang__Event *event, void *arg, char *error)
{
    (void)db;
    (void)event;
    (void)error;
    (*(long *)arg)++;
    return 0;
}

/* A fresh group read from the start by a fresh consumer, the inbox empty. */
static int s_measure_replay(backlog_t *b, PGconn *watcher, acc_t *acc)
{
    if (db_exec(watcher, "empty the inbox", "TRUNCATE chuang_inbox") != 0)
        return -1;
    char group[32];
    snprintf(group, sizeof group, "replay-%d", b->round);
    long handled = 0;
    consumer_settings_t settings = {.db_url = s_cfg.consumer_url,
                                    .schema = CONSUMER,
                                    .redis_url = s_cfg.redis_url,
                                    .stream = STREAM,
                                    .group = group,
                                    .consumer = "replayer",
                                    .claim_idle_ms = 5000,
                                    .max_deliveries = 5,
                                    .handler = s_count_handler,
                                    .arg = &handled};
    cpu_t c0, c1;
    s_cpu_sample(&c0);
    int64_t t0 = bench_now_ns();
    consumer_t *consumer = consumer_new(&settings);
    long long applied = 0;
    while (applied < b->total && bench_now_ns() - t0 < BACKLOG_MS * NS_PER_MS) {
        int rc = consumer_step(consumer, CONSUMER_WAIT);
        if (rc > 0)
            applied += rc;
    }
    int64_t ns = bench_now_ns() - t0;
    s_cpu_sample(&c1);
    consumer_destroy(&consumer);
    freeReplyObject(redisCommand(b->redis, "XGROUP DESTROY %s %s", STREAM, group));
    s_acc_add(acc, b->round, (double)applied, ns, ns, &c0, &c1);
    if (applied != b->total || handled != applied) {
        fprintf(stderr, "bench: replay applied %lld of %lld entries (handler saw %ld)\n", applied,
                b->total, handled);
        return -1;
    }
    return 0;
}

/* The consumer's transaction without Redis, for one event: BEGIN, its
 * inbox INSERT (into a copy of chuang_inbox), COMMIT, with the stream's
 * events in order, for PGTX_MS. */
static int s_measure_pgtx(backlog_t *b, PGconn *watcher, acc_t *acc)
{
    if (db_exec(watcher, "empty the inbox copy", "TRUNCATE bench_inbox") != 0)
        return -1;
    cpu_t c0, c1;
    s_cpu_sample(&c0);
    int64_t t0 = bench_now_ns(), end = t0 + PGTX_MS * NS_PER_MS;
    long n = 0;
    int rc = 0;
    while (bench_now_ns() < end && n < b->rows) {
        const char *values[3] = {b->ids[n], STREAM, b->positions[n]};
        if (db_exec(watcher, "begin", "BEGIN") != 0) {
            rc = -1;
            break;
        }
        PGresult *res = PQexecParams(watcher,
                                     "INSERT INTO bench_inbox (event_id, stream, position)"
                                     " VALUES ($1::uuid, $2, $3::bigint)"
                                     " ON CONFLICT (event_id) DO NOTHING RETURNING 1",
                                     3, NULL, values, NULL, NULL, 0);
        bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
        PQclear(res);
        if (!ok || db_exec(watcher, "commit", "COMMIT") != 0) {
            PQclear(PQexec(watcher, "ROLLBACK"));
            rc = -1;
            break;
        }
        n++;
    }
    int64_t ns = bench_now_ns() - t0;
    s_cpu_sample(&c1);
    s_acc_add(acc, b->round, (double)n, ns, ns, &c0, &c1);
    return rc;
}

/* The consumer's batches without Redis and without deciding what is held:
 * BEGIN, one prepared INSERT from arrays of CONSUMER_BATCH inbox rows
 * (into a copy of chuang_inbox), COMMIT, over the whole stream's events in
 * order; the arrays are built as text for each batch, as the consumer
 * builds them. */
static int s_measure_pgbatch(backlog_t *b, PGconn *watcher, acc_t *acc)
{
    if (db_exec(watcher, "empty the inbox copy", "TRUNCATE bench_inbox") != 0)
        return -1;
    char name[32];
    snprintf(name, sizeof name, "bench_batch_%d", b->round);
    PGresult *res = PQprepare(watcher, name,
                              "INSERT INTO bench_inbox (event_id, stream, position)"
                              " SELECT e::uuid, $1, p FROM unnest($2::text[], $3::bigint[])"
                              " AS u (e, p) ON CONFLICT (event_id) DO NOTHING",
                              0, NULL);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok)
        return -1;
    cpu_t c0, c1;
    s_cpu_sample(&c0);
    int64_t t0 = bench_now_ns();
    long long n = 0;
    int rc = 0;
    while (n < b->rows && rc == 0) {
        long long count = b->rows - n < CONSUMER_BATCH ? b->rows - n : CONSUMER_BATCH;
        char *id_array = db_text_array(b->ids + n, (size_t)count);
        char *position_array = db_text_array(b->positions + n, (size_t)count);
        const char *values[3] = {STREAM, id_array, position_array};
        rc = db_exec(watcher, "begin", "BEGIN");
        res = rc == 0 ? PQexecPrepared(watcher, name, 3, values, NULL, NULL, 0) : NULL;
        ok = PQresultStatus(res) == PGRES_COMMAND_OK && atoll(PQcmdTuples(res)) == count;
        PQclear(res);
        free(id_array);
        free(position_array);
        if (rc == 0 && (!ok || db_exec(watcher, "commit", "COMMIT") != 0)) {
            PQclear(PQexec(watcher, "ROLLBACK"));
            rc = -1;
        }
        if (rc == 0)
            n += count;
    }
    int64_t ns = bench_now_ns() - t0;
    s_cpu_sample(&c1);
    s_acc_add(acc, b->round, (double)n, ns, ns, &c0, &c1);
    return rc;
}

/* redis-benchmark -c 1 -P 1 XADD of a value the size of a stream entry's
 * event field; its own figure of requests per second. The CPU columns give
 * redis-benchmark itself as "me". */
static int s_measure_xadd(backlog_t *b, acc_t *acc)
{
    char *value = malloc(b->event_size + 1);
    memset(value, 'x', b->event_size);
    value[b->event_size] = '\0';
    char count[24];
    snprintf(count, sizeof count, "%ld", b->backlog);
    const char *argv[32];
    int argc = 0;
    argv[argc++] = b->redis_benchmark;
    argv[argc++] = "-h";
    argv[argc++] = s_cfg.redis_host;
    argv[argc++] = "-p";
    argv[argc++] = s_cfg.redis_port;
    if (s_cfg.redis_password[0]) {
        argv[argc++] = "-a";
        argv[argc++] = s_cfg.redis_password;
        argv[argc++] = "--no-auth-warning";
    }
    const char *rest[] = {"-c",   "1",      "-P", "1",     "-n",  count, "--csv",
                          "XADD", XADD_KEY, "*",  "event", value, NULL};
    for (int i = 0; rest[i]; i++)
        argv[argc++] = rest[i];
    argv[argc] = NULL;

    int fds[2];
    if (pipe(fds) != 0) {
        free(value);
        return -1;
    }
    freeReplyObject(redisCommand(b->redis, "DEL %s", XADD_KEY));
    cpu_t c0, c1;
    s_cpu_sample(&c0);
    int64_t t0 = bench_now_ns();
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    s_child = pid;
    close(fds[1]);
    free(value);
    char *output = NULL;
    size_t size = 0, cap = 0;
    while (pid > 0) {
        if (size + 4096 > cap) {
            cap = cap ? cap * 2 : 65536;
            output = realloc(output, cap);
        }
        ssize_t got = read(fds[0], output + size, cap - size - 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        size += (size_t)got;
    }
    close(fds[0]);
    int status = -1;
    struct rusage usage = {0};
    if (pid > 0)
        wait4(pid, &status, 0, &usage);
    s_child = 0;
    int64_t ns = bench_now_ns() - t0;
    s_cpu_sample(&c1);
    /* "me" is redis-benchmark here. */
    c1.me = c0.me + (int64_t)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000 +
            usage.ru_utime.tv_usec + usage.ru_stime.tv_usec;
    if (output)
        output[size] = '\0';
    /* CSV: "test","rps",...; then "XADD bench:xadd * event xxx...","12345.67",... */
    double rps = 0;
    char *line = output ? strstr(output, "\"XADD") : NULL;
    char *field = line ? strstr(line, "\",\"") : NULL;
    if (field)
        rps = strtod(field + 3, NULL);
    long long length = s_redis_int(b->redis, "XLEN %s", XADD_KEY);
    freeReplyObject(redisCommand(b->redis, "DEL %s", XADD_KEY));
    if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || rps <= 0 ||
        length != b->backlog) {
        fprintf(stderr, "bench: redis-benchmark failed (status %d, %lld entries): %.500s\n", status,
                length, output ? output : "");
        free(output);
        acc->failures++;
        return -1;
    }
    free(output);
    /* Its own figure: requests over its own timing (not counting start-up). */
    int64_t own_ns = (int64_t)((double)b->backlog / rps * NS_PER_S);
    s_acc_add(acc, b->round, (double)b->backlog, own_ns, ns, &c0, &c1);
    return 0;
}

/* The relay's own way of appending, without the database: redisCommand
 * XADD with explicit ids 1-0, 2-0, ... and a value of the entries' size, one
 * at a time, to another key. */
static int s_measure_hxadd(backlog_t *b, acc_t *acc)
{
    char *value = malloc(b->event_size + 1);
    memset(value, 'x', b->event_size);
    freeReplyObject(redisCommand(b->redis, "DEL %s", XADD_KEY));
    cpu_t c0, c1;
    s_cpu_sample(&c0);
    int64_t t0 = bench_now_ns();
    long n = 0;
    for (; n < b->backlog; n++) {
        char id[32];
        snprintf(id, sizeof id, "%ld-0", n + 1);
        redisReply *reply =
            redisCommand(b->redis, "XADD %s %s event %b", XADD_KEY, id, value, b->event_size);
        bool ok = reply && reply->type == REDIS_REPLY_STRING;
        freeReplyObject(reply);
        if (!ok)
            break;
    }
    int64_t ns = bench_now_ns() - t0;
    s_cpu_sample(&c1);
    free(value);
    freeReplyObject(redisCommand(b->redis, "DEL %s", XADD_KEY));
    s_acc_add(acc, b->round, (double)n, ns, ns, &c0, &c1);
    return n == b->backlog ? 0 : -1;
}

/* The same XADDs pipelined in batches of 500 (the relay's batch): what the
 * appends would cost without a round trip each. */
static int s_measure_pxadd(backlog_t *b, acc_t *acc)
{
    char *value = malloc(b->event_size + 1);
    memset(value, 'x', b->event_size);
    freeReplyObject(redisCommand(b->redis, "DEL %s", XADD_KEY));
    cpu_t c0, c1;
    s_cpu_sample(&c0);
    int64_t t0 = bench_now_ns();
    long n = 0;
    bool ok = true;
    while (ok && n < b->backlog) {
        long batch = b->backlog - n < 500 ? b->backlog - n : 500;
        for (long i = 0; i < batch; i++) {
            char id[32];
            snprintf(id, sizeof id, "%ld-0", n + i + 1);
            redisAppendCommand(b->redis, "XADD %s %s event %b", XADD_KEY, id, value, b->event_size);
        }
        for (long i = 0; i < batch; i++) {
            redisReply *reply = NULL;
            if (redisGetReply(b->redis, (void **)&reply) != REDIS_OK) {
                ok = false; /* the connection broke */
                break;
            }
            if (!reply || reply->type != REDIS_REPLY_STRING)
                ok = false; /* the other replies are still read */
            freeReplyObject(reply);
        }
        if (ok)
            n += batch;
    }
    int64_t ns = bench_now_ns() - t0;
    s_cpu_sample(&c1);
    free(value);
    freeReplyObject(redisCommand(b->redis, "DEL %s", XADD_KEY));
    s_acc_add(acc, b->round, (double)n, ns, ns, &c0, &c1);
    return n == b->backlog ? 0 : -1;
}

/* DEL of the stream, then a fresh relay refills it from the outbox. */
static int s_measure_rebuild(backlog_t *b, acc_t *acc)
{
    freeReplyObject(redisCommand(b->redis, "DEL %s", STREAM));
    relay_settings_t settings = {.db_url = s_cfg.db_url,
                                 .schema = PRODUCER,
                                 .redis_url = s_cfg.redis_url,
                                 .stream = STREAM,
                                 .service_name = PRODUCER};
    cpu_t c0, c1;
    s_cpu_sample(&c0);
    int64_t t0 = bench_now_ns();
    relay_t *relay = relay_new(&settings);
    long long length = 0;
    while (bench_now_ns() - t0 < BACKLOG_MS * NS_PER_MS) {
        relay_step(relay, 10);
        length = s_redis_int(b->redis, "XLEN %s", STREAM);
        if (length >= b->total)
            break;
    }
    int64_t ns = bench_now_ns() - t0;
    s_cpu_sample(&c1);
    relay_destroy(&relay);
    s_acc_add(acc, b->round, (double)length, ns, ns, &c0, &c1);
    if (length != b->total) {
        fprintf(stderr, "bench: rebuild left %lld of %lld entries\n", length, b->total);
        return -1;
    }
    return 0;
}

/* The size of the event field of the stream's first or last entry. */
static size_t s_entry_size(redisContext *redis, const char *command)
{
    redisReply *reply = redisCommand(redis, command, STREAM);
    size_t size = 0;
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 1 &&
        reply->element[0]->elements == 2 && reply->element[0]->element[1]->elements >= 2)
        size = reply->element[0]->element[1]->element[1]->len;
    freeReplyObject(reply);
    return size;
}

/* Inserts the backlog in statements of CHUNK rows. Returns 0 or -1. */
static int s_insert_backlog(PGconn *db, long backlog)
{
    Chuang__Tally__AddReply payload = CHUANG__TALLY__ADD_REPLY__INIT;
    payload.counter = BACKLOG_TAG;
    payload.total = 1234567890123LL; /* about the size of a latency event's index */
    uint8_t packed[64];
    size_t packed_size = chuang__tally__add_reply__pack(&payload, packed);
    for (long done = 0; done < backlog; done += CHUNK) {
        char rows[24];
        snprintf(rows, sizeof rows, "%ld", backlog - done < CHUNK ? backlog - done : CHUNK);
        const char *values[2] = {(const char *)packed, rows};
        int lengths[2] = {(int)packed_size, 0};
        int formats[2] = {1, 0};
        PGresult *res = PQexecParams(
            db,
            "INSERT INTO chuang_outbox (id, agency, type, aggregate_id, visibility,"
            " payload_type, payload)"
            " SELECT gen_random_uuid(), '" EVENT_AGENCY "', 'tally.Added', '" BACKLOG_TAG "', 1,"
            " '" PAYLOAD_TYPE "', $1::bytea FROM generate_series(1, $2::int)",
            2, NULL, values, lengths, formats, 0);
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!ok)
            fprintf(stderr, "bench: backlog insert failed: %s", PQerrorMessage(db));
        PQclear(res);
        if (!ok)
            return -1;
    }
    return 0;
}

/* Both schemas migrated (common/sql), the tables and keys of an earlier run
 * emptied. */
static int s_prepare(PGconn *producer, PGconn *watcher, redisContext *redis)
{
    const char *dirs[] = {CHUANG_COMMON_SQL_DIR, NULL};
    if (db_migrate(producer, PRODUCER, dirs) < 0 || db_migrate(watcher, CONSUMER, dirs) < 0)
        return -1;
    if (db_exec(producer, "empty the outbox", "TRUNCATE chuang_outbox") != 0 ||
        db_exec(watcher, "inbox copy",
                "CREATE TABLE IF NOT EXISTS bench_inbox (LIKE chuang_inbox INCLUDING ALL);"
                " TRUNCATE chuang_inbox, bench_inbox") != 0)
        return -1;
    redisReply *reply = redisCommand(redis, "DEL %s %s %s:dead:latency", STREAM, XADD_KEY, STREAM);
    bool ok = reply && reply->type == REDIS_REPLY_INTEGER;
    freeReplyObject(reply);
    return ok ? 0 : -1;
}

static void s_usage(void)
{
    fprintf(stderr, "usage: bench_events [-d DB_URL] [-c CONSUMER_DB_URL] [-s REDIS_URL] "
                    "[-B REDIS_BENCHMARK] [-R 200,1000] [-T MS] [-w MS] [-r ROUNDS] [-W WRITERS] "
                    "[-n BACKLOG] "
                    "[-P POSTMASTER_PID] [-S REDIS_PID] [-I]\n");
}

static int s_phase_latency(const int *rates, int nrates, int rounds, int warm_ms, int ms_per_rate,
                           int writers)
{
    int window_ms = ms_per_rate / rounds;
    int nwindows = nrates * rounds;
    window_t *windows = calloc((size_t)nwindows, sizeof *windows);
    latency_t lat = {.windows = windows};
    size_t cap = 16;
    for (int r = 0; r < nrates; r++)
        cap += (size_t)((int64_t)rates[r] * (warm_ms + window_ms) / 1000 + 2) * (size_t)rounds;
    lat.due_ns = calloc(cap, sizeof *lat.due_ns);
    lat.window = calloc(cap, sizeof *lat.window);
    lat.begin_ns = calloc(cap, sizeof *lat.begin_ns);
    lat.commit_ns = calloc(cap, sizeof *lat.commit_ns);
    lat.stream_ns = calloc(cap, sizeof *lat.stream_ns);
    lat.applied_ns = calloc(cap, sizeof *lat.applied_ns);

    relay_runner_t relay = {0};
    consumer_runner_t consumer = {.group = "latency", .handler = s_latency_handler, .arg = &lat};
    tap_t tap = {.lat = &lat};
    pthread_t *threads = calloc((size_t)writers, sizeof *threads);
    int started = 0;
    pthread_create(&relay.thread, NULL, s_relay_run, &relay);
    pthread_create(&consumer.thread, NULL, s_consumer_run, &consumer);
    pthread_create(&tap.thread, NULL, s_tap_run, &tap);
    int rc = -1;
    int64_t ready_by = bench_now_ns() + 30 * NS_PER_S;
    while ((!atomic_load(&relay.active) || !atomic_load(&consumer.ready)) &&
           bench_now_ns() < ready_by)
        zclock_sleep(20);
    if (!atomic_load(&relay.active) || !atomic_load(&consumer.ready)) {
        fprintf(stderr, "bench: the relay or the consumer did not start\n");
        goto stop;
    }

    /* The windows, round by round, the rates in a rotating order. Each
     * window starts when the one before has been applied to the last event,
     * so that none inherits another's queue. */
    rate_stats_t stats[MAX_RATES] = {0};
    for (int r = 0; r < nrates; r++)
        stats[r].rate = rates[r];
    fprintf(stderr, "bench: latency: %d windows of %d + %d ms\n", nwindows, warm_ms, window_ms);
    for (int round = 0, w = 0; round < rounds; round++) {
        for (int i = 0; i < nrates; i++, w++) {
            int r = (round + i) % nrates;
            int64_t t = bench_now_ns() + 100 * NS_PER_MS; /* for the writers to connect */
            windows[w] = (window_t){.rate = rates[r],
                                    .rate_idx = r,
                                    .start_ns = t,
                                    .warm_end_ns = t + warm_ms * NS_PER_MS,
                                    .end_ns = t + (int64_t)(warm_ms + window_ms) * NS_PER_MS};
            size_t first = lat.count;
            int64_t period = NS_PER_S / rates[r];
            for (int64_t due = windows[w].start_ns; due < windows[w].end_ns && lat.count < cap;
                 due += period) {
                lat.due_ns[lat.count] = due;
                lat.window[lat.count] = (int16_t)(due >= windows[w].warm_end_ns ? w : -1);
                lat.count++;
            }
            lat.limit = lat.count;
            atomic_store(&lat.next, first);
            for (; started < writers; started++)
                pthread_create(&threads[started], NULL, s_writer_run, &lat);
            cpu_t c0, c1;
            bench_sleep_until_ns(windows[w].warm_end_ns);
            s_cpu_sample(&c0);
            bench_sleep_until_ns(windows[w].end_ns);
            s_cpu_sample(&c1);
            s_cpu_add(&stats[r].cpu, &c0, &c1);
            stats[r].measured_ns += windows[w].end_ns - windows[w].warm_end_ns;
            for (int j = 0; j < started; j++)
                pthread_join(threads[j], NULL);
            started = 0;
            /* Until the consumer has caught up (failed writes never come). */
            size_t written = atomic_load(&lat.written);
            size_t failed = (size_t)atomic_load(&lat.write_errors);
            int64_t drain_by = bench_now_ns() + DRAIN_MS * NS_PER_MS;
            while (atomic_load(&lat.applied) + failed < written && bench_now_ns() < drain_by)
                zclock_sleep(5);
            int64_t drained = bench_now_ns() - windows[w].end_ns;
            if (drained > stats[r].drain_ns)
                stats[r].drain_ns = drained;
        }
    }
    rc = s_latency_report(&lat, rates, nrates, nwindows, stats, rounds, warm_ms, ms_per_rate,
                          writers);

stop:
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    atomic_store(&tap.stop, true);
    atomic_store(&consumer.stop, true);
    atomic_store(&relay.stop, true);
    pthread_join(tap.thread, NULL);
    pthread_join(consumer.thread, NULL);
    pthread_join(relay.thread, NULL);
    free(threads);
    free(windows);
    free(lat.due_ns);
    free(lat.window);
    free(lat.begin_ns);
    free(lat.commit_ns);
    free(lat.stream_ns);
    free(lat.applied_ns);
    return rc;
}

static double s_rate(const acc_t *acc)
{
    return acc->ns > 0 ? acc->events * NS_PER_S / (double)acc->ns : 0;
}

static void s_print_ratio(const char *name, const acc_t *acc, measure_t a, measure_t b, int rounds)
{
    double over = s_rate(&acc[b]);
    printf("   %-40s %7.4f  (%.0f vs %.0f events/s) |", name, over > 0 ? s_rate(&acc[a]) / over : 0,
           s_rate(&acc[a]), over);
    for (int round = 0; round < rounds; round++)
        printf(" %7.4f", acc[b].rate[round] > 0 ? acc[a].rate[round] / acc[b].rate[round] : 0);
    printf("\n");
}

static int s_phase_backlog(PGconn *producer, PGconn *watcher, redisContext *redis, long backlog,
                           int rounds, const char *redis_benchmark)
{
    /* The latency phase's group is not needed any more. */
    freeReplyObject(redisCommand(redis, "XGROUP DESTROY %s latency", STREAM));

    /* The backlog, published by the relay (in a thread, as in phase 1) as it
     * is written. */
    relay_runner_t relay = {0};
    pthread_create(&relay.thread, NULL, s_relay_run, &relay);
    int64_t ready_by = bench_now_ns() + 30 * NS_PER_S;
    while (!atomic_load(&relay.active) && bench_now_ns() < ready_by)
        zclock_sleep(20);
    long long before = s_redis_int(redis, "XLEN %s", STREAM);
    fprintf(stderr, "bench: inserting a backlog of %ld events\n", backlog);
    cpu_t c0, c1;
    s_cpu_sample(&c0);
    int64_t t0 = bench_now_ns();
    int rc = s_insert_backlog(producer, backlog);
    int64_t inserted = bench_now_ns();
    long long total = s_sql_int(producer, "SELECT count(*) FROM chuang_outbox");
    long long length = 0;
    while (rc == 0 && bench_now_ns() - t0 < BACKLOG_MS * NS_PER_MS) {
        length = s_redis_int(redis, "XLEN %s", STREAM);
        if (length >= total)
            break;
        zclock_sleep(5);
    }
    int64_t published = bench_now_ns();
    s_cpu_sample(&c1);
    atomic_store(&relay.stop, true);
    pthread_join(relay.thread, NULL);
    if (rc != 0 || length != total || total != before + backlog) {
        fprintf(stderr, "bench: the stream holds %lld entries, the outbox %lld (%lld before)\n",
                length, total, before);
        return -1;
    }
    cpu_t publish_cpu = {0};
    s_cpu_add(&publish_cpu, &c0, &c1);
    char cpu[32];
    s_cpu_format(cpu, sizeof cpu, &publish_cpu, published - t0);

    backlog_t b = {.redis = redis,
                   .total = total,
                   .backlog = backlog,
                   .redis_benchmark = redis_benchmark,
                   .event_size = s_entry_size(redis, "XREVRANGE %s + - COUNT 1")};
    size_t first_size = s_entry_size(redis, "XRANGE %s - + COUNT 1");
    if (s_load_rows(&b) != 0) {
        fprintf(stderr, "bench: cannot read the stream's events\n");
        s_free_rows(&b);
        return -1;
    }
    printf("\n2. backlog of %ld events (written in statements of %d rows: %.1f s, %.0f rows/s)\n",
           backlog, CHUNK, s_ms(inserted - t0) / 1000.0,
           (double)backlog * NS_PER_S / (double)(inserted - t0));
    printf("   the running relay numbered and published them as they came: %.1f s from the "
           "first insert to the last entry, %.0f events/s (cpu me/pg/redis %s)\n",
           s_ms(published - t0) / 1000.0, (double)backlog * NS_PER_S / (double)(published - t0),
           cpu);
    printf("   the stream holds %lld entries (%lld latency events + the backlog); event field "
           "%zu B (backlog), %zu B (latency)\n",
           total, total - backlog, b.event_size, first_size);
    fflush(stdout);

    acc_t acc[M_COUNT] = {0};
    for (int round = 0; round < rounds && rc == 0; round++) {
        b.round = round;
        for (int i = 0; i < M_COUNT && rc == 0; i++) {
            measure_t m = (measure_t)((round + i) % M_COUNT);
            fprintf(stderr, "bench: round %d: %s\n", round + 1, s_measure_names[m]);
            switch (m) {
            case M_XRANGE:
                rc = s_measure_xrange(&b, &acc[m]);
                break;
            case M_REPLAY:
                rc = s_measure_replay(&b, watcher, &acc[m]);
                break;
            case M_PGTX:
                rc = s_measure_pgtx(&b, watcher, &acc[m]);
                break;
            case M_PGBATCH:
                rc = s_measure_pgbatch(&b, watcher, &acc[m]);
                break;
            case M_XADD:
                rc = s_measure_xadd(&b, &acc[m]);
                break;
            case M_HXADD:
                rc = s_measure_hxadd(&b, &acc[m]);
                break;
            case M_PXADD:
                rc = s_measure_pxadd(&b, &acc[m]);
                break;
            default:
                rc = s_measure_rebuild(&b, &acc[m]);
                break;
            }
            if (rc != 0)
                fprintf(stderr, "bench: %s failed\n", s_measure_names[m]);
        }
    }
    s_free_rows(&b);
    if (rc != 0)
        return -1;

    /* What a fresh relay's first step costs over an intact stream (connect,
     * lock, stream check): the fixed part of a rebuild's time. */
    relay_settings_t settings = {.db_url = s_cfg.db_url,
                                 .schema = PRODUCER,
                                 .redis_url = s_cfg.redis_url,
                                 .stream = STREAM,
                                 .service_name = PRODUCER};
    int64_t f0 = bench_now_ns();
    relay_t *fresh = relay_new(&settings);
    relay_step(fresh, 0);
    int64_t fixed = bench_now_ns() - f0;
    relay_destroy(&fresh);

    printf("\n   %d rounds, the measurements taking turns in a rotating order; each over the whole "
           "stream (%lld entries)\n"
           "   except pg inbox tx (%d ms) and the XADD rows (%ld XADDs of %zu B to %s); "
           "cpu "
           "in %% of one core\n",
           rounds, total, PGTX_MS, backlog, b.event_size, XADD_KEY);
    printf("%-36s %10s |", "measurement", "events/s");
    for (int round = 0; round < rounds; round++) {
        char name[24];
        snprintf(name, sizeof name, "round %d", round + 1);
        printf(" %11s", name);
    }
    printf(" | %5s %5s %5s\n", "me", "pg", "redis");
    for (int m = 0; m < M_COUNT; m++) {
        double rate = acc[m].ns > 0 ? acc[m].events * NS_PER_S / (double)acc[m].ns : 0;
        s_cpu_format(cpu, sizeof cpu, &acc[m].cpu, acc[m].cpu_ns);
        printf("%-36s %10.0f |", s_measure_names[m], rate);
        for (int round = 0; round < rounds; round++)
            printf(" %11.0f", acc[m].rate[round]);
        printf(" | %s\n", cpu);
    }
    printf("   (redis-benchmark: its own requests/s; me = redis-benchmark's CPU. relay rebuild "
           "includes connecting: a fresh relay's first step over the intact stream took %.1f ms)\n",
           s_ms(fixed));
    printf("\nratios (measured side by side; overall, then round by round):\n");
    s_print_ratio("consumer replay / raw XRANGE read", acc, M_REPLAY, M_XRANGE, rounds);
    s_print_ratio("relay rebuild / redis-benchmark XADD", acc, M_REBUILD, M_XADD, rounds);
    s_print_ratio("relay rebuild / hiredis XADD loop", acc, M_REBUILD, M_HXADD, rounds);
    s_print_ratio("relay rebuild / hiredis XADD pipelined", acc, M_REBUILD, M_PXADD, rounds);
    s_print_ratio("consumer replay / pg inbox tx alone", acc, M_REPLAY, M_PGTX, rounds);
    s_print_ratio("consumer replay / pg inbox batch tx", acc, M_REPLAY, M_PGBATCH, rounds);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    s_cfg.db_url = getenv("CHUANG_BENCH_DB_URL");
    s_cfg.consumer_url = getenv("CHUANG_BENCH_CONSUMER_DB_URL");
    s_cfg.redis_url = getenv("CHUANG_BENCH_REDIS_URL");
    const char *redis_benchmark = "redis-benchmark", *rates_list = "200,1000";
    int ms_per_rate = 4000, warm_ms = 250, rounds = 2, writers = 4;
    long backlog = 30000;
    bool idle = false;
    int opt;
    while ((opt = getopt(argc, argv, "d:c:s:B:R:T:w:r:n:W:P:S:Ih")) != -1) {
        switch (opt) {
        case 'I':
            idle = true;
            break;
        case 'd':
            s_cfg.db_url = optarg;
            break;
        case 'c':
            s_cfg.consumer_url = optarg;
            break;
        case 's':
            s_cfg.redis_url = optarg;
            break;
        case 'B':
            redis_benchmark = optarg;
            break;
        case 'R':
            rates_list = optarg;
            break;
        case 'T':
            ms_per_rate = atoi(optarg);
            break;
        case 'w':
            warm_ms = atoi(optarg);
            break;
        case 'r':
            rounds = atoi(optarg);
            break;
        case 'n':
            backlog = atol(optarg);
            break;
        case 'W':
            writers = atoi(optarg);
            break;
        case 'P':
            s_cfg.pg_pid = (pid_t)atoi(optarg);
            break;
        case 'S':
            s_cfg.redis_pid = (pid_t)atoi(optarg);
            break;
        default:
            s_usage();
            return 2;
        }
    }
    int rates[MAX_RATES];
    int nrates = bench_parse_list(rates_list, rates, 20000, MAX_RATES);
    if (!s_cfg.db_url || !*s_cfg.db_url || !s_cfg.consumer_url || !*s_cfg.consumer_url ||
        !s_cfg.redis_url || s_parse_redis_url(s_cfg.redis_url) != 0 || nrates < 0 || rounds < 1 ||
        rounds > MAX_ROUNDS || writers < 1 || writers > 64 || ms_per_rate < 100 * rounds ||
        warm_ms < 0 || backlog < 1 || backlog > 10000000) {
        s_usage();
        return 2;
    }

    zsys_handler_set(NULL);
    logger_init("bench", LOGGER_ERROR);
    struct sigaction action = {.sa_handler = s_on_signal};
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGHUP, &action, NULL);

    PGconn *producer = db_connect(s_cfg.db_url, PRODUCER, 10);
    PGconn *watcher = db_connect(s_cfg.consumer_url, CONSUMER, 10);
    redisContext *redis = redis_link_connect(s_cfg.redis_url, 10);
    int rc = 1;
    if (!producer || !watcher || !redis || s_prepare(producer, watcher, redis) != 0) {
        fprintf(stderr, "bench: cannot prepare the schemas and the stream\n");
        goto done;
    }
    redisReply *version = redisCommand(redis, "INFO server");
    char redis_version[32] = "?";
    const char *found = version && version->type == REDIS_REPLY_STRING ? version->str : NULL;
    if (found && (found = strstr(found, "redis_version:")))
        snprintf(redis_version, sizeof redis_version, "%.*s", (int)strcspn(found + 14, "\r\n"),
                 found + 14);
    freeReplyObject(version);

    printf("chuang event pipeline benchmark\n");
    printf("  servers    PostgreSQL %d (synchronous_commit on, fsync on), Redis %s (AOF everysec), "
           "%ld cores\n",
           PQserverVersion(producer) / 10000, redis_version, sysconf(_SC_NPROCESSORS_ONLN));
    printf("  stream     %s; producer schema %s, consumer schema %s, one database\n", STREAM,
           PRODUCER, CONSUMER);
    printf(
        "  writers    %d threads, a connection each: BEGIN; outbox_write (chuang.tally.AddReply, "
        "total = event index); COMMIT\n",
        writers);
    printf("  relay      common/relay.c in a thread of this process, relay_step(relay, %d) in a "
           "loop as chuang-tally runs it\n",
           RELAY_WAIT_MS);
    printf("  consumer   common/consumer.c in a thread, consumer_step(consumer, %d) in a loop; the "
           "handler only notes the time\n\n",
           CONSUMER_WAIT);
    fflush(stdout);

    PGconn *idle_session = NULL;
    if (idle) {
        idle_session = db_connect(s_cfg.consumer_url, CONSUMER, 3);
        if (!idle_session ||
            db_exec(idle_session, "idle transaction", "BEGIN; SELECT pg_current_xact_id()") != 0) {
            fprintf(stderr, "bench: cannot open the idle transaction\n");
            PQfinish(idle_session);
            goto done;
        }
        printf("  idle       a transaction open and idle on the consumer's connection (another "
               "schema) for the whole latency phase\n\n");
        fflush(stdout);
    }
    int latency = s_phase_latency(rates, nrates, rounds, warm_ms, ms_per_rate, writers);
    PQfinish(idle_session);
    if (latency != 0) {
        fprintf(stderr, "bench: the latency phase lost events or failed\n");
        goto done;
    }
    if (s_phase_backlog(producer, watcher, redis, backlog, rounds, redis_benchmark) != 0) {
        fprintf(stderr, "bench: the backlog phase failed\n");
        goto done;
    }
    rc = 0;
done:
    PQfinish(producer);
    PQfinish(watcher);
    redisFree(redis);
    return rc;
}
