/*
 * bench_feed.c - what a subscriber that never reads costs the feed's other
 * subscribers, measured against reading the stream from Redis directly.
 *
 * Against the Redis of a private harness (tests/bench/run_feed.sh starts
 * one), a real chuang-feed serves the stream "bench:events:events" (feed
 * stream "events") over CURVE. The stream first gets a backlog (-n events of
 * -P bytes each, default 5,000 of 8 KiB: 40 MB, far more than pipes and TCP
 * buffers hold); then a writer thread appends live events at a fixed rate
 * (-R a second, default 500, open loop), each stamped with the monotonic
 * time it was appended. Two readers note when each live event reached them:
 *
 *   raw XREAD   a thread reading the stream with plain XREAD BLOCK (the
 *               floor: what Redis itself costs),
 *   feed        a department following the feed with feed_client (credit,
 *               CURVE, the feed's own reading and sending),
 *
 * in rounds (-r, default 4, each way) that take turns unloaded and flooded:
 * in a flooded round a subscriber with a receive buffer of one message
 * subscribes from the start of the stream with a large credit and never
 * reads, so the feed has the whole backlog to push at a peer that takes
 * nothing (a new one each round, since the feed drops a subscriber that has
 * not read for 10 s). A round is -T / 2r ms (default 8000 ms in all) after
 * a warm-up of 200 ms whose events are not counted.
 *
 * Reported per condition: events, p50, p99 and max latency from append to
 * each reader, in ms; the ratios feed / raw and flooded / unloaded of the
 * feed's p99 are the figures to read. Nothing is asserted on times.
 *
 *   bench_feed -s REDIS_URL [-f FEED] [-l LOG_DIR] [-R RATE] [-T MS]
 *              [-r ROUNDS] [-n BACKLOG] [-P BYTES]
 *
 * The feed's stderr goes to LOG_DIR/feed.log (default a fresh folder under
 * /tmp). The feed is killed at the end, on failure, on SIGINT/SIGTERM and
 * (PR_SET_PDEATHSIG) when this process dies. Exits 0, 1 when a step failed
 * or a live event did not reach a reader, 2 on bad arguments.
 */
#include "bench_util.h"
#include "chuang.pb-c.h"
#include "config.h"
#include "feed.pb-c.h"
#include "feed_client.h"
#include "logger.h"
#include "redis_link.h"
#include "registry.pb-c.h"
#include "security.h"

#include <czmq.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CHUANG_BUILD_DIR
#error "CHUANG_BUILD_DIR must name the build tree"
#endif

#define STREAM_KEY "bench:events:events"
#define WARM_MS    200

static volatile pid_t s_feed_pid;

static void s_kill_feed(void)
{
    if (s_feed_pid > 0) {
        kill(s_feed_pid, SIGKILL);
        waitpid(s_feed_pid, NULL, 0);
        s_feed_pid = 0;
    }
}

static void s_on_signal(int sig)
{
    if (s_feed_pid > 0)
        kill(s_feed_pid, SIGKILL);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Starts the feed with env, stderr to log; returns its pid or -1. */
static pid_t s_spawn_feed(const char *program, const char *const *env, const char *log)
{
    char **child_env = bench_child_env("feed", env);
    if (!child_env)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        execve(program, (char *const[]){(char *)program, NULL}, child_env);
        _exit(127);
    }
    free(child_env);
    return pid;
}

/* --- the stream ---------------------------------------------------------------- */

static struct {
    const char *redis_url;
    int64_t backlog;       /* positions 1..backlog: the backlog */
    atomic_llong appended; /* the last position appended */
    int64_t *written_ns;   /* per live event (position - backlog - 1) */
    int64_t *raw_ns;       /* when the raw reader got it */
    int64_t *feed_ns;      /* when the feed's subscriber got it */
    int64_t capacity;      /* live events the arrays hold */
    atomic_bool stop;      /* the writer stops */
    atomic_bool readers_stop;
} s_run;

/* The packed event at position with a payload of name_size bytes and the
 * append time in its trace id (caller frees). */
static uint8_t *s_event(int64_t position, size_t name_size, int64_t stamp_ns, size_t *size)
{
    char *name = malloc(name_size + 1);
    memset(name, 'x', name_size);
    name[name_size] = '\0';
    Chuang__Registry__Entity entity = CHUANG__REGISTRY__ENTITY__INIT;
    entity.name = name;
    uint8_t *payload = malloc(chuang__registry__entity__get_packed_size(&entity));
    size_t payload_size = chuang__registry__entity__pack(&entity, payload);
    char id[32], trace[32];
    snprintf(id, sizeof id, "bench-%lld", (long long)position);
    snprintf(trace, sizeof trace, "%lld", (long long)stamp_ns);
    Chuang__Event event = CHUANG__EVENT__INIT;
    event.id = id;
    event.sequence = position;
    event.service = "events";
    event.type = "bench.Tick";
    event.visibility = CHUANG__VISIBILITY__VISIBILITY_PUBLIC;
    event.payload_type = "chuang.registry.Entity";
    event.payload.data = payload;
    event.payload.len = payload_size;
    event.trace_id = trace;
    uint8_t *packed = malloc(chuang__event__get_packed_size(&event));
    *size = chuang__event__pack(&event, packed);
    free(payload);
    free(name);
    return packed;
}

static int s_fill_backlog(redisContext *redis, int64_t count, size_t name_size)
{
    freeReplyObject(redisCommand(redis, "DEL %s", STREAM_KEY));
    for (int64_t i = 1; i <= count; i++) {
        size_t size;
        uint8_t *packed = s_event(i, name_size, 0, &size);
        redisAppendCommand(redis, "XADD %s %lld-0 event %b", STREAM_KEY, (long long)i, packed,
                           size);
        free(packed);
    }
    int rc = 0;
    for (int64_t i = 1; i <= count; i++) {
        redisReply *reply = NULL;
        if (redisGetReply(redis, (void **)&reply) != REDIS_OK || reply->type != REDIS_REPLY_STRING)
            rc = -1;
        freeReplyObject(reply);
    }
    atomic_store(&s_run.appended, count);
    return rc;
}

typedef struct {
    int rate;
} writer_t;

/* Appends live events at the rate until stopped (open loop). */
static void *s_writer(void *args)
{
    writer_t *writer = args;
    redisContext *redis = redis_link_connect(s_run.redis_url, 3);
    int64_t start = bench_now_ns();
    for (int64_t k = 0; redis && !atomic_load(&s_run.stop) && k < s_run.capacity; k++) {
        bench_sleep_until_ns(start + k * 1000000000LL / writer->rate);
        int64_t position = s_run.backlog + 1 + k;
        int64_t now = bench_now_ns();
        size_t size;
        uint8_t *packed = s_event(position, 64, now, &size);
        s_run.written_ns[k] = now;
        redisReply *reply = redisCommand(redis, "XADD %s %lld-0 event %b", STREAM_KEY,
                                         (long long)position, packed, size);
        free(packed);
        bool ok = reply && reply->type == REDIS_REPLY_STRING;
        freeReplyObject(reply);
        if (!ok)
            break;
        atomic_store(&s_run.appended, position);
    }
    redisFree(redis);
    return NULL;
}

/* The live index of an event's position, or -1. */
static int64_t s_live(int64_t position)
{
    int64_t k = position - s_run.backlog - 1;
    return k >= 0 && k < s_run.capacity ? k : -1;
}

/* The raw reader: XREAD BLOCK from the end of the backlog. */
static void *s_raw_reader(void *args)
{
    (void)args;
    redisContext *redis = redis_link_connect(s_run.redis_url, 3);
    char after[32];
    snprintf(after, sizeof after, "%lld-0", (long long)s_run.backlog);
    while (redis && !atomic_load(&s_run.readers_stop)) {
        redisReply *reply =
            redisCommand(redis, "XREAD COUNT 100 BLOCK 100 STREAMS %s %s", STREAM_KEY, after);
        int64_t now = bench_now_ns();
        if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 1) {
            redisReply *entries = reply->element[0]->element[1];
            for (size_t i = 0; i < entries->elements; i++) {
                const char *id = entries->element[i]->element[0]->str;
                int64_t k = s_live(strtoll(id, NULL, 10));
                if (k >= 0)
                    s_run.raw_ns[k] = now;
                snprintf(after, sizeof after, "%s", id);
            }
        }
        freeReplyObject(reply);
    }
    redisFree(redis);
    return NULL;
}

typedef struct {
    const char *endpoint;
    const char *server_public;
    security_t *security;
} feed_peer_t;

/* The department: follows the feed from the end of the backlog. */
static void *s_feed_reader(void *args)
{
    feed_peer_t *peer = args;
    feed_client_t *feed = feed_client_new(peer->endpoint, peer->security, peer->server_public,
                                          "events", s_run.backlog, "");
    while (feed && !atomic_load(&s_run.readers_stop)) {
        Chuang__Reply *refusal = NULL;
        Chuang__Event *event = feed_client_next(feed, 100, &refusal);
        int64_t now = bench_now_ns();
        if (refusal) {
            fprintf(stderr, "bench: the feed refused the reader: %s\n", refusal->message);
            chuang__reply__free_unpacked(refusal, NULL);
            break;
        }
        if (!event)
            continue;
        int64_t k = s_live(event->sequence);
        if (k >= 0)
            s_run.feed_ns[k] = now;
        chuang__event__free_unpacked(event, NULL);
    }
    feed_client_destroy(&feed);
    return NULL;
}

/* A subscriber that asks for everything from the start and never reads. */
static zsock_t *s_flooder_new(const feed_peer_t *peer)
{
    zsock_t *socket = zsock_new(ZMQ_DEALER);
    zsock_set_rcvhwm(socket, 1);
    zsock_set_rcvbuf(socket, 4096);
    zsock_set_linger(socket, 0);
    security_client_to(peer->security, socket, peer->server_public);
    if (zsock_connect(socket, "%s", peer->endpoint) != 0) {
        zsock_destroy(&socket);
        return NULL;
    }
    Chuang__Feed__Subscribe subscribe = CHUANG__FEED__SUBSCRIBE__INIT;
    subscribe.stream = "events";
    subscribe.credit = 1000000;
    uint8_t body[64];
    size_t size = chuang__feed__subscribe__pack(&subscribe, body);
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "SUBSCRIBE");
    zmsg_addmem(msg, body, size);
    zmsg_send(&msg, socket);
    return socket;
}

/* --- figures -------------------------------------------------------------------- */

static int s_compare_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    size_t count, missing;
    double p50, p99, max; /* ms */
} figures_t;

/* Latencies (ms) of the live events appended within the windows of kind,
 * from written to got. */
static figures_t s_figures(const int64_t *got, const int64_t (*windows)[3], int nwindows, int kind)
{
    int64_t *values = calloc((size_t)s_run.capacity + 1, sizeof *values);
    figures_t f = {0};
    for (int64_t k = 0; k < s_run.capacity && s_run.written_ns[k]; k++) {
        bool in = false;
        for (int w = 0; w < nwindows && !in; w++)
            in = windows[w][2] == kind && s_run.written_ns[k] >= windows[w][0] &&
                 s_run.written_ns[k] < windows[w][1];
        if (!in)
            continue;
        if (!got[k])
            f.missing++;
        else
            values[f.count++] = got[k] - s_run.written_ns[k];
    }
    qsort(values, f.count, sizeof *values, s_compare_i64);
    if (f.count) {
        f.p50 = (double)values[(f.count - 1) / 2] / 1e6;
        f.p99 = (double)values[(size_t)((double)(f.count - 1) * 0.99)] / 1e6;
        f.max = (double)values[f.count - 1] / 1e6;
    }
    free(values);
    return f;
}

static double s_ratio(double a, double b)
{
    return b > 0 ? a / b : 0;
}

static void s_usage(void)
{
    fprintf(stderr, "usage: bench_feed -s REDIS_URL [-f FEED] [-l LOG_DIR] [-R RATE] [-T MS] "
                    "[-r ROUNDS] [-n BACKLOG] [-P BYTES]\n");
}

int main(int argc, char **argv)
{
    const char *feed_bin = CHUANG_BUILD_DIR "/services/feed/chuang-feed";
    const char *log_dir = NULL;
    int rate = 500, total_ms = 8000, rounds = 4;
    long backlog = 5000, backlog_bytes = 8192;
    s_run.redis_url = getenv("CHUANG_BENCH_REDIS_URL");
    int opt;
    while ((opt = getopt(argc, argv, "s:f:l:R:T:r:n:P:h")) != -1) {
        switch (opt) {
        case 's':
            s_run.redis_url = optarg;
            break;
        case 'f':
            feed_bin = optarg;
            break;
        case 'l':
            log_dir = optarg;
            break;
        case 'R':
            rate = atoi(optarg);
            break;
        case 'T':
            total_ms = atoi(optarg);
            break;
        case 'r':
            rounds = atoi(optarg);
            break;
        case 'n':
            backlog = atol(optarg);
            break;
        case 'P':
            backlog_bytes = atol(optarg);
            break;
        default:
            s_usage();
            return 2;
        }
    }
    int round_ms = rounds > 0 ? total_ms / (2 * rounds) : 0;
    if (!s_run.redis_url || rate < 1 || rate > 100000 || rounds < 1 || rounds > 50 ||
        round_ms < 100 || backlog < 0 || backlog_bytes < 1 || backlog_bytes > 1 << 20) {
        s_usage();
        return 2;
    }
    char dir_template[] = "/tmp/chuang-bench-feed.XXXXXX";
    if (!log_dir && !(log_dir = mkdtemp(dir_template))) {
        perror("bench: mkdtemp");
        return 1;
    }
    zsys_init();
    zsys_handler_set(NULL);
    logger_init("bench", LOGGER_ERROR);
    signal(SIGINT, s_on_signal);
    signal(SIGTERM, s_on_signal);
    atexit(s_kill_feed);

    /* Keys: the feed's, and the department's, which the access list lets
     * see every event with its personal data. */
    char path[600], feed_public[64] = "";
    snprintf(path, sizeof path, "%s/allow", log_dir);
    mkdir(path, 0700);
    const char *names[] = {"feed", "dept"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", log_dir, names[i]);
        if (security_keygen(path, names[i]) != 0) {
            fprintf(stderr, "bench: cannot write keys in %s\n", log_dir);
            return 1;
        }
    }
    snprintf(path, sizeof path, "%s/feed", log_dir);
    zcert_t *cert = zcert_load(path);
    snprintf(feed_public, sizeof feed_public, "%s", cert ? zcert_public_txt(cert) : "");
    zcert_destroy(&cert);
    snprintf(path, sizeof path, "%s/dept", log_dir);
    cert = zcert_load(path);
    if (!cert)
        return 1;
    snprintf(path, sizeof path, "%s/allow/dept", log_dir);
    zcert_save_public(cert, path);
    snprintf(path, sizeof path, "%s/feed.acl", log_dir);
    FILE *acl = fopen(path, "w");
    if (!acl)
        return 1;
    fprintf(acl, "%s dept department yes *\n", zcert_public_txt(cert));
    fclose(acl);
    zcert_destroy(&cert);

    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", bench_free_port());
    char *env[] = {zsys_sprintf("CHUANG_FEED_ENDPOINT=%s", endpoint),
                   zsys_sprintf("CHUANG_FEED_ACL=%s/feed.acl", log_dir),
                   zsys_sprintf("CHUANG_SECURITY_CERT=%s/feed_secret", log_dir),
                   zsys_sprintf("CHUANG_SECURITY_ALLOW_DIR=%s/allow", log_dir),
                   zsys_sprintf("CHUANG_REDIS_URL=%s", s_run.redis_url),
                   strdup("CHUANG_FEED_STREAM_KEY=bench:%s:events"),
                   strdup("CHUANG_LOG_LEVEL=warn"),
                   NULL};
    config_t *config = config_new(NULL);
    snprintf(path, sizeof path, "%s/dept_secret", log_dir);
    config_set(config, "security.cert", path);
    snprintf(path, sizeof path, "%s/feed", log_dir);
    config_set(config, "security.server_cert", path);
    security_t *security = security_new(config);
    feed_peer_t peer = {.endpoint = endpoint, .server_public = feed_public, .security = security};

    int rc = 1;
    redisContext *redis = redis_link_connect(s_run.redis_url, 3);
    s_run.backlog = backlog;
    s_run.capacity = (int64_t)rate * (total_ms + 2 * rounds * WARM_MS + 10000) / 1000;
    s_run.written_ns = calloc((size_t)s_run.capacity, sizeof(int64_t));
    s_run.raw_ns = calloc((size_t)s_run.capacity, sizeof(int64_t));
    s_run.feed_ns = calloc((size_t)s_run.capacity, sizeof(int64_t));
    int64_t(*windows)[3] = calloc((size_t)2 * rounds, sizeof *windows);
    pthread_t writer_thread, raw_thread, feed_thread;
    writer_t writer = {.rate = rate};
    bool started = false;
    if (!redis || !security || !s_run.written_ns || !s_run.raw_ns || !s_run.feed_ns || !windows)
        goto done;
    fprintf(stderr, "bench: writing a backlog of %ld events of %ld B\n", backlog, backlog_bytes);
    if (s_fill_backlog(redis, backlog, (size_t)backlog_bytes) != 0) {
        fprintf(stderr, "bench: cannot write the backlog: %s\n", redis->errstr);
        goto done;
    }
    char log_path[700];
    snprintf(log_path, sizeof log_path, "%s/feed.log", log_dir);
    s_feed_pid = s_spawn_feed(feed_bin, (const char *const *)env, log_path);
    if (s_feed_pid < 0)
        goto done;
    zclock_sleep(500);
    pthread_create(&raw_thread, NULL, s_raw_reader, NULL);
    pthread_create(&feed_thread, NULL, s_feed_reader, &peer);
    pthread_create(&writer_thread, NULL, s_writer, &writer);
    started = true;

    for (int round = 0; round < 2 * rounds; round++) {
        int flooded = (round + round / 2) % 2; /* off on, on off, off on ... */
        zsock_t *flooder = flooded ? s_flooder_new(&peer) : NULL;
        zclock_sleep(WARM_MS);
        windows[round][0] = bench_now_ns();
        zclock_sleep(round_ms);
        windows[round][1] = bench_now_ns();
        windows[round][2] = flooded;
        zsock_destroy(&flooder);
    }
    atomic_store(&s_run.stop, true);
    rc = 0;

done:
    if (started) {
        atomic_store(&s_run.stop, true);
        pthread_join(writer_thread, NULL);
        /* The readers get a little longer for the last events. */
        int64_t last = atomic_load(&s_run.appended);
        for (int i = 0; i < 100; i++) {
            int64_t k = s_live(last);
            if (k < 0 || (s_run.raw_ns[k] && s_run.feed_ns[k]))
                break;
            zclock_sleep(50);
        }
        atomic_store(&s_run.readers_stop, true);
        pthread_join(raw_thread, NULL);
        pthread_join(feed_thread, NULL);
    }
    if (rc == 0) {
        figures_t raw[2], feed[2];
        for (int kind = 0; kind < 2; kind++) {
            raw[kind] = s_figures(s_run.raw_ns, (const int64_t(*)[3])windows, 2 * rounds, kind);
            feed[kind] = s_figures(s_run.feed_ns, (const int64_t(*)[3])windows, 2 * rounds, kind);
            if (raw[kind].missing || feed[kind].missing || !feed[kind].count)
                rc = 1;
        }
        printf("chuang feed benchmark\n");
        printf("  backlog    %ld events of %ld B on the stream before the run\n", backlog,
               backlog_bytes);
        printf("  live       %d events a second appended; %d rounds of %d ms each way, taking "
               "turns, after %d ms warm-up\n",
               rate, rounds, round_ms, WARM_MS);
        printf("  flooded    a subscriber from the start of the stream, credit 1,000,000, "
               "receive buffer 1, never reads\n");
        printf("  logs       %s\n\n", log_dir);
        printf("latency from append to the reader, ms:\n");
        printf("%-10s %-10s %8s %8s %8s %8s %8s\n", "condition", "reader", "events", "missing",
               "p50", "p99", "max");
        const char *conditions[] = {"unloaded", "flooded"};
        for (int kind = 0; kind < 2; kind++) {
            printf("%-10s %-10s %8zu %8zu %8.2f %8.2f %8.2f\n", conditions[kind], "raw XREAD",
                   raw[kind].count, raw[kind].missing, raw[kind].p50, raw[kind].p99, raw[kind].max);
            printf("%-10s %-10s %8zu %8zu %8.2f %8.2f %8.2f\n", conditions[kind], "feed",
                   feed[kind].count, feed[kind].missing, feed[kind].p50, feed[kind].p99,
                   feed[kind].max);
        }
        printf("\nratios: feed / raw p99 unloaded %.2f, flooded %.2f; feed flooded / unloaded "
               "p50 %.2f, p99 %.2f\n",
               s_ratio(feed[0].p99, raw[0].p99), s_ratio(feed[1].p99, raw[1].p99),
               s_ratio(feed[1].p50, feed[0].p50), s_ratio(feed[1].p99, feed[0].p99));
        if (rc != 0)
            printf("\nsome live event did not reach a reader: see %s/feed.log\n", log_dir);
    }
    s_kill_feed();
    for (int i = 0; env[i]; i++)
        free(env[i]);
    redisFree(redis);
    security_destroy(&security);
    config_destroy(&config);
    free(s_run.written_ns);
    free(s_run.raw_ns);
    free(s_run.feed_ns);
    free(windows);
    return rc;
}
