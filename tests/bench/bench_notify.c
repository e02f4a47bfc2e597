/*
 * bench_notify.c - webhook deliveries per second through chuang-notify's
 * delivery worker (services/notify/sender.c), measured against the bare
 * sending cost in the same run, to the same local receiver: one webhook at a
 * time on a new connection each (channel_webhook_send) and many in flight
 * over connections kept open (a channel_pool, what the sender drives).
 *
 * Everything stays on 127.0.0.1, against the private PostgreSQL and Redis
 * of a harness (tests/bench/run_notify.sh starts one): the notify role's
 * schema "notify" (migrated by chuang-notify itself at start-up) and the
 * Redis prefix "bench:notify".
 *
 * The receiver is a small HTTP/1.1 server with keep-alive in this process,
 * on one listening socket of 127.0.0.1: R threads (default 4, -R) wait in
 * accept(), and whenever none is left waiting one more is started (up to
 * MAX_RECEIVERS, 256), so every open connection has a thread blocking on it
 * (libcurl's pool keeps up to 8 connections to one host per process, and
 * several processes and client threads run at once). A thread serves its
 * connection until the client closes it: it reads a whole request (headers,
 * then Content-Length bytes of body), checks the X-Chuang-Signature over the
 * body with channel_signature() and the secret, answers "HTTP/1.1 200 OK"
 * with Content-Length: 0 (TCP_NODELAY, as libcurl sets it) and reads the
 * next request on the same connection. Only a request that asks for it
 * (Connection: close, or HTTP/1.0) is answered with Connection: close and
 * the connection closed; one that is not a POST, or malformed, gets a 400
 * and the connection closed. It counts every request, the bad ones
 * (malformed, cut short, or a wrong signature), the body bytes, the
 * connections accepted, the first and last arrival, and the
 * X-Chuang-Delivery ids of the deliveries chuang-notify sent (every id not
 * starting with "bench-").
 *
 * For each concurrency C (default 1, 2 and 4) six measurements take turns,
 * round by round (default 2 rounds) in a rotating order, so that a burst of
 * load on this shared machine hits them alike:
 *
 *   raw new      C threads of this process: socket, connect, write one
 *                prebuilt signed POST of the same JSON, read the answer,
 *                close (the client closes, as libcurl does when a handle
 *                ends): a new connection per POST. The receiver's (and
 *                loopback TCP's) ceiling for a connection per send.
 *   raw keep     the same POST from C threads, each on one connection kept
 *                open, one request after another: the ceiling with
 *                keep-alive, one request in flight per thread.
 *   webhook      C threads calling channel_webhook_send() in a tight loop
 *                with the JSON chuang-notify would send (the same fields,
 *                the same sizes): libcurl and the HMAC, and a new curl
 *                handle, so a new connection, per call, as that function
 *                makes. The baseline of the notify / webhook target.
 *   pool         C threads, each driving its own channel_pool
 *                (channel_pool.h) as sender.c does: the same JSON, IN_FLIGHT
 *                (32, notify.in_flight's default) sends in flight, a new one
 *                started as soon as one ended, over the pool's connections
 *                kept open (at most 8 to the receiver). The pure sending
 *                cost of what one chuang-notify process now does, without
 *                the database: at 1 thread, the baseline of the one-process
 *                target.
 *   sender sql   C threads running sender.c's statements for a batch of
 *                IN_FLIGHT without the HTTP, on a copy of the deliveries
 *                table (bench_deliveries, LIKE deliveries) and its own Redis
 *                queue: schedule_claim_due of 32; the batch claim (sender.c
 *                s_claim_sql: one UPDATE .. RETURNING joined with
 *                recipients; the recipient has no rate limit and
 *                notify.rate_per_minute is 0, so no rate query); the JSON of
 *                each (s_webhook_json); the batch outcome (s_record: one
 *                UPDATE .. FROM unnest() of the 32 outcomes, all 'sent');
 *                one schedule_done_many. A copy of sender.c's statements,
 *                run through db_query as sender.c runs them (prepared once per
 *                connection): keep it in step with sender.c. Full batches
 *                are its best case; the notify rows show the batches the
 *                sender really recorded. Its set-up fills that queue the way
 *                sender.c's s_rebuild does (SELECT of the pending rows, one
 *                ZADD NX round trip each), which is timed too.
 *   notify       C chuang-notify processes, already running and idle;
 *                concurrency = processes, and each process keeps up to
 *                notify.in_flight (32) sends in flight on its pool. They run
 *                with their default settings (-k sets
 *                CHUANG_SERVICE_TICK_MS for them; the sender's tick asks to
 *                be called again at once, so it does not pace the sends). N
 *                (default 2000, -n) pending webhook deliveries to one
 *                recipient whose webhook_url is the receiver are inserted in
 *                one statement (next_attempt_at now()); the processes find
 *                them at their next look at the table (every 200 ms) and
 *                send them. Timed from the INSERT's return to the moment the
 *                table holds N 'sent' rows for the round (polled every 2 ms
 *                once the receiver got N POSTs), and from the first POST the
 *                receiver got to that moment: the first is end to end, the
 *                second the sending rate without the wait for the look (the
 *                "pickup"). The round's distinct sent_at values count the
 *                outcome UPDATEs (s_record sets now(), one value per
 *                statement), hence the mean batch recorded; the commands
 *                Redis ran meanwhile (INFO commandstats, those its scripts
 *                ran included; this process sends none then) are shown per
 *                delivery: ZADD (the claim script's ZADD XX, one a job, and
 *                the looks' ZADD NX, schedule_add_missing, one round trip
 *                each) and EVALSHA (a claim or a done, one round trip).
 *
 * Last (-D, default 2000; 0 skips it), the processes are stopped and ONE
 * chuang-notify process is started as deployed, with default settings (no
 * CHUANG_SERVICE_TICK_MS, no notify.in_flight, no rate setting: only what
 * the benchmark needs to reach its receiver, broker, database and Redis);
 * round by round it sends D deliveries as above, taking turns with the pool
 * baseline at 1 thread, and its rate (first POST -> all sent) is shown
 * against that pool baseline and the 1,000/s target.
 *
 * Every measured delivery is checked to have been sent exactly once: the
 * receiver got N POSTs with valid signatures for the round whose ids are
 * exactly the ids the table holds as 'sent' for it, with one attempt each,
 * and over the whole run the receiver got as many POSTs from chuang-notify
 * as deliveries were inserted (so none came twice later), and no bad
 * request.
 *
 * The baselines' rates count the calls that completed in a window of
 * T / rounds (default 2400 ms / 2) after a warm-up (default 200 ms) per
 * round. The CPU columns are in % of one core over the measured time: me =
 * this process (the receiver, and the clients in the baseline rows),
 * notify = the chuang-notify processes, pg = all PostgreSQL processes (the
 * postmaster, its children alive, and the CPU time of those it reaped, so
 * a backend that exits does not take its time with it), redis. The ratios
 * are the figures to read; the project's targets (issue 10) are notify /
 * webhook >= 0.5 at the same concurrency and >= 1,000 deliveries/s from
 * one process with default settings, shown beside the pool baseline.
 * Absolute rates depend on this (shared, noisy) machine; nothing is
 * asserted on times. A per-delivery breakdown models one process's time
 * per delivery as pool + sender sql (its one thread does both, the sends
 * progressing only while it waits in the pool) against the measured time,
 * with the CPU each row used per delivery.
 *
 *   bench_notify [-d DB_URL] [-s REDIS_URL] [-b BROKER] [-N NOTIFY] [-l LOG_DIR]
 *                [-c 1,2,4] [-n DELIVERIES] [-r ROUNDS] [-T MS] [-w MS] [-k TICK_MS]
 *                [-D DELIVERIES] [-R RECEIVER_THREADS] [-P POSTMASTER_PID] [-S REDIS_PID]
 *
 * DB_URL (or CHUANG_BENCH_DB_URL) is the notify role's database URL, REDIS_URL
 * (or CHUANG_BENCH_REDIS_URL) the harness's Redis. The broker (plain, needed
 * for the notify processes to start their workers) and the notify processes
 * are started here, their stderr in LOG_DIR/<name>.log (default a new
 * /tmp/chuang-bench-notify.XXXXXX). no_proxy is set to 127.0.0.1 for this
 * process and its children, so no proxy variable can take the traffic off
 * the loopback; CHUANG_SERVICE_TICK_MS, CHUANG_NOTIFY_IN_FLIGHT and
 * CHUANG_NOTIFY_RATE_PER_MINUTE are removed from the environment the
 * children inherit, so only -k changes a setting. Every child is stopped at
 * the end, on failure, on SIGINT/SIGTERM/SIGHUP and (PR_SET_PDEATHSIG) when
 * this process dies. The tables go to stdout, progress to stderr. Exits 0;
 * 1 when a step failed, a delivery was lost or sent twice, a request was
 * bad, or a child did not start; 2 on bad arguments.
 */
#include "bench_util.h"
#include "channel.h"
#include "channel_pool.h"
#include "db.h"
#include "db_array.h"
#include "logger.h"
#include "redis_link.h"
#include "schedule.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CHUANG_BUILD_DIR
#error "CHUANG_BUILD_DIR must name the build tree"
#endif

#define SCHEMA        "notify"
#define PREFIX        "bench:notify"
#define SQL_QUEUE     "bench:notify-sql:deliveries"
#define SECRET        "a-webhook-secret-of-length" /* 26 characters */
#define RECIPIENT     "11010519491231002X"
#define EVENT_TYPE    "bench.NameReserved.%02d" /* the round's tag, always 21 characters */
#define BENCH_ID      "bench-"                  /* the baselines' delivery ids start so */
#define IN_FLIGHT     32                        /* sender.c's notify.in_flight default */
#define LEASE_MS      60000                     /* sender.c's notify.lease_ms default */
#define LOOK_MS       200                       /* as sender.c */
#define SEND_MS       5000                      /* the baselines' send timeout */
#define MAX_LIST      8
#define MAX_ROUNDS    16
#define MAX_PROCS     16
#define MAX_CHILDREN  (MAX_PROCS + 4)
#define MAX_RECEIVERS 256
#define REQUEST_MAX   65536
#define START_MS      60000 /* for a child to be ready (migrations included) */
#define ROUND_MS      120000
#define SETTLE_MS     10000 /* from the receiver's last POST to the table's last 'sent' */
#define NS_PER_MS     1000000LL
#define NS_PER_S      1000000000LL

extern char **environ;

static struct {
    const char *db_url, *redis_url, *log_dir;
    pid_t pg_pid, redis_pid;
} s_cfg;

static double s_ms(int64_t ns)
{
    return (double)ns / (double)NS_PER_MS;
}
/* --- child processes ---------------------------------------------------------- */

static pid_t s_children[MAX_CHILDREN];
static volatile sig_atomic_t s_nchildren;

static void s_on_signal(int sig)
{
    for (int i = 0; i < s_nchildren; i++)
        if (s_children[i] > 0)
            kill(s_children[i], SIGKILL);
    _exit(128 + sig);
}

/* SIGTERM to pid, then SIGKILL when it is still there after 5 s; reaps it and
 * forgets it. */
static void s_stop_child(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    int64_t end = bench_now_ns() + 5000 * NS_PER_MS;
    while (waitpid(pid, NULL, WNOHANG) == 0) {
        if (bench_now_ns() >= end) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            break;
        }
        zclock_sleep(20);
    }
    for (int i = 0; i < s_nchildren; i++)
        if (s_children[i] == pid)
            s_children[i] = 0;
}

static void s_stop_children(void)
{
    for (int i = s_nchildren - 1; i >= 0; i--)
        s_stop_child(s_children[i]);
    s_nchildren = 0;
}

/* Starts program with extra "KEY=VALUE" settings over this environment,
 * stderr to <log dir>/<name>.log. Returns the pid or -1. */
static pid_t s_spawn(const char *name, const char *program, const char *const *extra)
{
    if (s_nchildren >= MAX_CHILDREN)
        return -1;
    /* Built before fork: the child only makes system calls. */
    char **env = bench_child_env(name, extra);
    if (!env)
        return -1;
    char log_path[1024];
    snprintf(log_path, sizeof log_path, "%s/%s.log", s_cfg.log_dir, name);
    char *const argv[] = {(char *)program, NULL};
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        signal(SIGPIPE, SIG_DFL); /* ignored here; the services set their own */
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        execve(program, argv, env);
        _exit(127);
    }
    free(env);
    if (pid > 0)
        s_children[s_nchildren++] = pid;
    return pid;
}

/* Waits until <log dir>/<name>.log says "service ready". Returns 0, or -1
 * when the child exited or START_MS passed. */
static int s_wait_ready(const char *name, pid_t pid)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.log", s_cfg.log_dir, name);
    int64_t end = bench_now_ns() + START_MS * NS_PER_MS;
    while (bench_now_ns() < end) {
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            for (int i = 0; i < s_nchildren; i++)
                if (s_children[i] == pid)
                    s_children[i] = 0;
            return -1;
        }
        FILE *file = fopen(path, "r");
        char line[2048];
        bool ready = false;
        while (file && !ready && fgets(line, sizeof line, file))
            ready = strstr(line, "msg=\"service ready\"") != NULL;
        if (file)
            fclose(file);
        if (ready)
            return 0;
        zclock_sleep(50);
    }
    return -1;
}

static bool s_alive(const pid_t *pids, int count)
{
    for (int i = 0; i < count; i++)
        if (pids[i] <= 0 || waitpid(pids[i], NULL, WNOHANG) != 0)
            return false;
    return true;
}

/* --- CPU time of this process, the notify processes and the servers ---------- */

typedef struct {
    int64_t me, notify, pg, redis; /* microseconds */
} cpu_t;

static pid_t s_notify_pids[MAX_PROCS];
static int s_nnotify;

/* The CPU time of pid's children that it waited for (cutime + cstime), in
 * microseconds, or 0. */
static int64_t s_reaped_cpu_us(pid_t pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *file = fopen(path, "r");
    if (!file)
        return 0;
    size_t got = fread(line, 1, sizeof line - 1, file);
    fclose(file);
    line[got] = '\0';
    /* After the parenthesised command name: state (3) ... cutime (16), cstime (17). */
    char *p = strrchr(line, ')');
    long cutime = 0, cstime = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %ld %ld", &cutime,
                     &cstime) != 2)
        return 0;
    return (int64_t)(cutime + cstime) * 1000000 / sysconf(_SC_CLK_TCK);
}

static void s_cpu_sample(cpu_t *cpu)
{
    cpu->me = bench_self_cpu_us();
    cpu->notify = 0;
    for (int i = 0; i < s_nnotify; i++) {
        int64_t us = bench_proc_cpu_us(s_notify_pids[i], NULL);
        cpu->notify += us > 0 ? us : 0;
    }
    cpu->redis = s_cfg.redis_pid > 0 ? bench_proc_cpu_us(s_cfg.redis_pid, NULL) : 0;
    /* The postmaster and its children: backends, walwriter, checkpointer...,
     * and those that exited (the postmaster reaps them). */
    cpu->pg =
        s_cfg.pg_pid > 0 ? bench_tree_cpu_us(s_cfg.pg_pid) + s_reaped_cpu_us(s_cfg.pg_pid) : 0;
}

/* Adds the CPU used between from and to (a process gone meanwhile makes a
 * share negative: counted as 0). */
static void s_cpu_add(cpu_t *into, const cpu_t *from, const cpu_t *to)
{
    into->me += to->me - from->me;
    into->notify += to->notify > from->notify ? to->notify - from->notify : 0;
    into->pg += to->pg > from->pg ? to->pg - from->pg : 0;
    into->redis += to->redis > from->redis ? to->redis - from->redis : 0;
}

static void s_cpu_format(char *out, size_t size, const cpu_t *cpu, int64_t window_ns)
{
    double window_us = (double)window_ns / 1000.0;
    if (window_us <= 0) {
        snprintf(out, size, "%5s %6s %5s %5s", "-", "-", "-", "-");
        return;
    }
    char pg[16] = "-", redis[16] = "-";
    if (s_cfg.pg_pid > 0)
        snprintf(pg, sizeof pg, "%.0f", 100.0 * (double)cpu->pg / window_us);
    if (s_cfg.redis_pid > 0)
        snprintf(redis, sizeof redis, "%.0f", 100.0 * (double)cpu->redis / window_us);
    snprintf(out, size, "%5.0f %6.0f %5s %5s", 100.0 * (double)cpu->me / window_us,
             100.0 * (double)cpu->notify / window_us, pg, redis);
}

/* --- the payload ---------------------------------------------------------------- */

static const char s_subject[] = "名称已预留：杭州飞来网络科技有限公司";
static const char s_body[] =
    "您申请的企业名称“杭州飞来网络科技有限公司”已预留，请在 2026-12-21 前办理登记。";
static const char s_event_json[] =
    "{\"reservationId\":\"RN-330106-20261121-000123\",\"agency\":\"330106\",\"name\":"
    "\"杭州飞来网络科技有限公司\",\"applicantIdNumber\":\"11010519491231002X\","
    "\"expiresOn\":\"2026-12-21\",\"reservedAt\":\"2026-11-21T10:00:00.123Z\"}";

static struct {
    char url[64];
    char *json; /* what the sender would send for a delivery (a bench id) */
    char *request;
    size_t request_size;
} s_load;

/* The sender's webhook JSON (sender.c s_webhook_json, same fields in the
 * same order) for a delivery id. Caller frees. */
static char *s_make_json(const char *delivery_id, const char *event_id, const char *event_type,
                         const char *recipient, const char *subject, const char *body,
                         const char *event_json)
{
    json_t *json = json_object();
    json_object_set_new(json, "deliveryId", json_string(delivery_id));
    json_object_set_new(json, "eventId", json_string(event_id));
    json_object_set_new(json, "eventType", json_string(event_type));
    json_object_set_new(json, "recipient", json_string(recipient));
    json_object_set_new(json, "subject", json_string(subject));
    json_object_set_new(json, "body", json_string(body));
    json_t *event = json_loads(event_json, 0, NULL);
    json_object_set_new(json, "event", event ? event : json_object());
    char *text = json_dumps(json, JSON_COMPACT);
    json_decref(json);
    return text;
}

/* A bench delivery id as long as a uuid: "bench-" and 30 digits. */
static void s_bench_id(char *out, size_t size, int thread, long n)
{
    snprintf(out, size, BENCH_ID "%02d%028ld", thread % 100, n);
}

static void s_make_load(int port)
{
    snprintf(s_load.url, sizeof s_load.url, "http://127.0.0.1:%d/hooks/chuang", port);
    char id[64], type[32];
    s_bench_id(id, sizeof id, 0, 0);
    snprintf(type, sizeof type, EVENT_TYPE, 0);
    s_load.json = s_make_json(id, "00000000-0000-4000-8000-000000000000", type, RECIPIENT,
                              s_subject, s_body, s_event_json);
    /* The raw client's request: the headers libcurl sends, signed. */
    char timestamp[24], signature[CHANNEL_SIGNATURE_SIZE];
    snprintf(timestamp, sizeof timestamp, "%lld", (long long)time(NULL));
    channel_signature(SECRET, timestamp, s_load.json, signature, sizeof signature);
    s_load.request = zsys_sprintf("POST /hooks/chuang HTTP/1.1\r\n"
                                  "Host: 127.0.0.1:%d\r\n"
                                  "User-Agent: chuang-notify/1\r\n"
                                  "Accept: */*\r\n"
                                  "Content-Type: application/json; charset=utf-8\r\n"
                                  "X-Chuang-Delivery: %s\r\n"
                                  "X-Chuang-Timestamp: %s\r\n"
                                  "X-Chuang-Signature: %s\r\n"
                                  "Content-Length: %zu\r\n"
                                  "\r\n%s",
                                  port, id, timestamp, signature, strlen(s_load.json), s_load.json);
    s_load.request_size = strlen(s_load.request);
}

/* --- the receiver --------------------------------------------------------------- */

static struct {
    int fd, port;
    atomic_bool stop;
    pthread_mutex_t lock;
    /* the threads (under lock): started, not serving a connection, the
     * connection each serves (-1: none) */
    pthread_t threads[MAX_RECEIVERS];
    int conn_fd[MAX_RECEIVERS];
    int nthreads, idle;
    bool capped; /* all MAX_RECEIVERS were busy once */
    /* since the last s_recv_reset */
    long posts, bad, notify_posts, connections;
    long long body_bytes;
    int64_t first_ns, last_ns;
    bool collect; /* keep chuang-notify's delivery ids */
    char **ids;
    size_t nids, cap;
    /* since the start */
    long notify_total, bad_total;
} s_recv = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void s_recv_reset(bool collect)
{
    pthread_mutex_lock(&s_recv.lock);
    s_recv.posts = s_recv.bad = s_recv.notify_posts = s_recv.connections = 0;
    s_recv.body_bytes = 0;
    s_recv.first_ns = s_recv.last_ns = 0;
    for (size_t i = 0; i < s_recv.nids; i++)
        free(s_recv.ids[i]);
    s_recv.nids = 0;
    s_recv.collect = collect;
    pthread_mutex_unlock(&s_recv.lock);
}

/* Copies the value of header name (given with its colon, after "\r\n") from
 * headers, or "" when it is missing. */
static void s_header_value(const char *headers, const char *name, char *out, size_t size)
{
    out[0] = '\0';
    const char *at = strcasestr(headers, name);
    if (!at)
        return;
    at += strlen(name);
    at += strspn(at, " \t");
    size_t length = strcspn(at, "\r\n");
    if (length >= size)
        return;
    memcpy(out, at, length);
    out[length] = '\0';
}

static void s_write_all(int fd, const char *data, size_t size)
{
    for (size_t sent = 0; sent < size;) {
        ssize_t n = write(fd, data + sent, size - sent);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        sent += (size_t)n;
    }
}

/* Counts one request: a POST or not, valid (signed right) or not, its body
 * length and delivery id. */
static void s_count(bool post, bool valid, long length, const char *id)
{
    int64_t now = bench_now_ns();
    bool from_notify = post && strncmp(id, BENCH_ID, strlen(BENCH_ID)) != 0;
    pthread_mutex_lock(&s_recv.lock);
    s_recv.posts++;
    if (!valid) {
        s_recv.bad++;
        s_recv.bad_total++;
    }
    s_recv.body_bytes += length;
    if (!s_recv.first_ns)
        s_recv.first_ns = now;
    s_recv.last_ns = now;
    if (from_notify) {
        s_recv.notify_posts++;
        s_recv.notify_total++;
        if (s_recv.collect) {
            if (s_recv.nids == s_recv.cap) {
                s_recv.cap = s_recv.cap ? s_recv.cap * 2 : 4096;
                s_recv.ids = realloc(s_recv.ids, s_recv.cap * sizeof *s_recv.ids);
            }
            if (s_recv.ids)
                s_recv.ids[s_recv.nids++] = strdup(id);
        }
    }
    pthread_mutex_unlock(&s_recv.lock);
}

/* Serves one connection (buffer: REQUEST_MAX + 1 bytes) until the client
 * closes it, asks to, or sends a bad request: reads a whole request,
 * answers, counts, and reads the next one (bytes after a request are kept
 * for the next). */
static void s_serve(int fd, char *buffer)
{
    /* Reads wake once a second to see the stop; a request stuck 5 s ends
     * the connection. */
    struct timeval timeout = {.tv_sec = 1};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    static const char ok_close[] =
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    static const char bad[] =
        "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    size_t got = 0;
    for (;;) {
        size_t head = 0, need = 0;
        long length = 0;
        bool whole = false, broken = false;
        int waits = 0;
        for (;;) {
            if (!head) {
                char *end = got ? memmem(buffer, got, "\r\n\r\n", 4) : NULL;
                if (end) {
                    head = (size_t)(end - buffer) + 4;
                    *end = '\0'; /* the headers, as a string */
                    char value[32];
                    s_header_value(buffer, "\r\nContent-Length:", value, sizeof value);
                    length = strtol(value, NULL, 10);
                    if (length < 0 || head + (size_t)length >= REQUEST_MAX) {
                        broken = true;
                        break;
                    }
                    need = head + (size_t)length;
                } else if (got >= REQUEST_MAX - 1) {
                    broken = true;
                    break;
                }
            }
            if (head && got >= need) {
                whole = true;
                break;
            }
            ssize_t n = read(fd, buffer + got, REQUEST_MAX - 1 - got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !atomic_load(&s_recv.stop) &&
                (got == 0 || ++waits < 5))
                continue; /* an idle connection stays open */
            if (n <= 0)
                break; /* closed, failed, stopping, or a request stuck 5 s */
            got += (size_t)n;
            waits = 0;
        }
        if (!whole) {
            /* Bytes of a request that never came whole: a bad request. */
            if (broken)
                s_write_all(fd, bad, sizeof bad - 1);
            if (got > 0 && !atomic_load(&s_recv.stop))
                s_count(false, false, length, "");
            return;
        }
        bool post = strncmp(buffer, "POST ", 5) == 0;
        size_t line = strcspn(buffer, "\r\n");
        char connection[64];
        s_header_value(buffer, "\r\nConnection:", connection, sizeof connection);
        bool closes = strcasestr(connection, "close") != NULL ||
                      (line >= 8 && strncmp(buffer + line - 8, "HTTP/1.0", 8) == 0);
        char id[160] = "", timestamp[32] = "", signature[CHANNEL_SIGNATURE_SIZE + 8] = "";
        bool valid = false;
        if (post) {
            char next = buffer[need]; /* the next request's first byte, if any */
            buffer[need] = '\0';
            const char *body = buffer + head;
            s_header_value(buffer, "\r\nX-Chuang-Delivery:", id, sizeof id);
            s_header_value(buffer, "\r\nX-Chuang-Timestamp:", timestamp, sizeof timestamp);
            s_header_value(buffer, "\r\nX-Chuang-Signature:", signature, sizeof signature);
            char expected[CHANNEL_SIGNATURE_SIZE];
            channel_signature(SECRET, timestamp, body, expected, sizeof expected);
            valid = id[0] && timestamp[0] && strlen(body) == (size_t)length &&
                    strcmp(expected, signature) == 0;
            buffer[need] = next;
        }
        /* Every POST is answered 200; a bad one is counted (and fails the
         * run). Anything else is answered 400 and the connection closed. */
        if (!post)
            s_write_all(fd, bad, sizeof bad - 1);
        else if (closes)
            s_write_all(fd, ok_close, sizeof ok_close - 1);
        else
            s_write_all(fd, ok, sizeof ok - 1);
        s_count(post, valid, length, id);
        if (!post || closes)
            return;
        memmove(buffer, buffer + need, got - need);
        got -= need;
    }
}

static void *s_recv_run(void *args);

/* Starts one more receiver thread; under s_recv.lock. */
static void s_recv_spawn(void)
{
    if (s_recv.nthreads >= MAX_RECEIVERS) {
        s_recv.capped = true;
        return;
    }
    int slot = s_recv.nthreads;
    s_recv.conn_fd[slot] = -1;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    if (pthread_create(&s_recv.threads[slot], &attr, s_recv_run, (void *)(intptr_t)slot) == 0) {
        s_recv.nthreads++;
        s_recv.idle++;
    }
    pthread_attr_destroy(&attr);
}

static void *s_recv_run(void *args)
{
    int slot = (int)(intptr_t)args;
    char *buffer = malloc(REQUEST_MAX + 1);
    while (buffer && !atomic_load(&s_recv.stop)) {
        int fd = accept(s_recv.fd, NULL, NULL);
        if (fd < 0) {
            if (atomic_load(&s_recv.stop))
                break;
            if (errno != EINTR && errno != ECONNABORTED)
                zclock_sleep(1); /* EMFILE and the like: wait for a close */
            continue;
        }
        pthread_mutex_lock(&s_recv.lock);
        s_recv.connections++;
        s_recv.conn_fd[slot] = fd;
        /* None left in accept(): one more, for the next connection. */
        if (--s_recv.idle == 0 && !atomic_load(&s_recv.stop))
            s_recv_spawn();
        pthread_mutex_unlock(&s_recv.lock);
        s_serve(fd, buffer);
        pthread_mutex_lock(&s_recv.lock);
        s_recv.conn_fd[slot] = -1;
        s_recv.idle++;
        pthread_mutex_unlock(&s_recv.lock);
        close(fd);
    }
    free(buffer);
    return NULL;
}

static int s_recv_start(int threads)
{
    s_recv.fd = socket(AF_INET, SOCK_STREAM, 0);
    int on = 1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    if (s_recv.fd < 0 || setsockopt(s_recv.fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
        bind(s_recv.fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(s_recv.fd, 1024) != 0 || getsockname(s_recv.fd, (struct sockaddr *)&addr, &len) != 0)
        return -1;
    s_recv.port = ntohs(addr.sin_port);
    pthread_mutex_lock(&s_recv.lock);
    while (s_recv.nthreads < threads && !s_recv.capped)
        s_recv_spawn();
    pthread_mutex_unlock(&s_recv.lock);
    return 0;
}

static void s_recv_stop(void)
{
    atomic_store(&s_recv.stop, true);
    pthread_mutex_lock(&s_recv.lock);
    if (s_recv.fd >= 0)
        shutdown(s_recv.fd, SHUT_RDWR); /* wakes the threads blocked in accept() */
    for (int i = 0; i < s_recv.nthreads; i++)
        if (s_recv.conn_fd[i] >= 0)
            shutdown(s_recv.conn_fd[i], SHUT_RDWR); /* and those reading a connection */
    int nthreads = s_recv.nthreads;                 /* no more start: stop is set */
    pthread_mutex_unlock(&s_recv.lock);
    for (int i = 0; i < nthreads; i++)
        pthread_join(s_recv.threads[i], NULL);
    if (s_recv.fd >= 0)
        close(s_recv.fd);
    s_recv_reset(false);
    free(s_recv.ids);
}

/* --- the baselines ---------------------------------------------------------------- */

typedef enum { M_RAW, M_KEEP, M_HOOK, M_POOL, M_SQL, M_NOTIFY, M_COUNT } measure_t;

static const char *const s_measure_names[M_COUNT] = {
    "raw POST, new connection each",    "raw POST, keep-alive connection",
    "channel_webhook_send, new conn",   "channel_pool, 32 in flight",
    "sender batch SQL, no HTTP (copy)", "chuang-notify, first POST->all sent"};

typedef struct {
    pthread_t thread;
    measure_t kind;
    int index;
    int64_t start_ns, warm_end_ns, end_ns;
    long calls, errors; /* completed in the window */
    bool exhausted;     /* sender sql: the queue ran dry before the end */
    char error[256];
} load_t;

/* A connection to the receiver (SEND_MS timeouts, TCP_NODELAY as libcurl
 * sets it), or -1. */
static int s_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct timeval timeout = {.tv_sec = SEND_MS / 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)s_recv.port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Writes the prebuilt request on fd and reads the answer's head (the
 * receiver's answers have no body). Returns 0 on a 200 the connection
 * survives, 1 on a 200 with Connection: close, -1 on anything else. */
static int s_raw_exchange(int fd)
{
    for (size_t sent = 0; sent < s_load.request_size;) {
        ssize_t n = write(fd, s_load.request + sent, s_load.request_size - sent);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        sent += (size_t)n;
    }
    char answer[512];
    size_t got = 0;
    while (!memmem(answer, got, "\r\n\r\n", 4)) {
        if (got == sizeof answer - 1)
            return -1;
        ssize_t n = read(fd, answer + got, sizeof answer - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    answer[got] = '\0';
    if (got < 12 || strncmp(answer, "HTTP/1.1 200", 12) != 0)
        return -1;
    return strcasestr(answer, "\r\nConnection: close") ? 1 : 0;
}

/* --- the sender's batch statements without the HTTP (a copy of sender.c) -------- */

/* sender.c's s_claim_sql, on bench_deliveries: keep it in step. */
static const char *const s_claim_sql =
    "WITH wanted AS (SELECT d.id FROM bench_deliveries d LEFT JOIN recipients r"
    "   ON r.id = d.recipient"
    "   WHERE d.id = ANY ($1::uuid[]) AND ($4::bool OR CASE WHEN coalesce(r.rate_per_minute, 0)"
    "     > 0 THEN r.rate_per_minute ELSE $3::int END <= 0)),"
    " claimed AS (UPDATE bench_deliveries SET attempts = attempts + 1,"
    "   claimed_until = now() + $2::int * interval '1 millisecond'"
    "   WHERE id IN (SELECT id FROM wanted) AND status = 'pending'"
    "     AND (claimed_until IS NULL OR claimed_until <= now()) RETURNING *)"
    " SELECT c.id::text, c.channel, c.recipient, c.subject, c.body, c.event_json,"
    "       c.event_id::text, c.event_type, c.attempts, coalesce(r.email, ''),"
    "       coalesce(r.webhook_url, ''), coalesce(r.webhook_secret, '')"
    " FROM claimed c LEFT JOIN recipients r ON r.id = c.recipient";

/* sender.c's s_record statement, on bench_deliveries: keep it in step. */
static const char *const s_record_sql =
    "UPDATE bench_deliveries d SET status = u.status, attempts = u.attempts,"
    " last_error = u.error, sent_at = CASE WHEN u.status = 'sent' THEN now() END,"
    " next_attempt_at = CASE WHEN u.due > 0"
    "   THEN to_timestamp(u.due / 1000.0) ELSE d.next_attempt_at END,"
    " claimed_until = NULL"
    " FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::bigint[])"
    "   AS u (id, status, attempts, error, due)"
    " WHERE d.id = u.id AND d.status = 'pending'";

/* One batch as sender.c's tick makes it, all sent: up to IN_FLIGHT due ids
 * from the queue, the batch claim, the JSON of each, the batch outcome,
 * one schedule_done_many. Returns the deliveries recorded (0: the queue is
 * empty) or -1 with the error in error. */
static int s_sender_batch(PGconn *db, redisContext *redis, char *error, size_t size)
{
    schedule_job_t *jobs = NULL;
    int taken = schedule_claim_due(redis, SQL_QUEUE, zclock_time(), LEASE_MS, IN_FLIGHT, &jobs);
    if (taken <= 0) {
        if (taken < 0)
            snprintf(error, size, "schedule_claim_due failed");
        schedule_jobs_free(jobs);
        return taken;
    }
    char *ids[IN_FLIGHT], *statuses[IN_FLIGHT], *attempts[IN_FLIGHT], *errors[IN_FLIGHT],
        *dues[IN_FLIGHT];
    for (int i = 0; i < taken; i++)
        ids[i] = jobs[i].job;
    int rc = -1;
    char *claim_array = db_text_array(ids, (size_t)taken), lease[16];
    snprintf(lease, sizeof lease, "%d", LEASE_MS);
    /* The lease, notify.rate_per_minute 0, the limits not checked yet. */
    const char *claim_values[4] = {claim_array, lease, "0", "false"};
    PGresult *rows = claim_array ? db_query(db, s_claim_sql, 4, claim_values, NULL, NULL, 0) : NULL;
    free(claim_array);
    int claimed = PQresultStatus(rows) == PGRES_TUPLES_OK ? PQntuples(rows) : -1;
    if (claimed != taken) {
        snprintf(error, size, "the claim took %d of %d: %s", claimed, taken, PQerrorMessage(db));
        goto done;
    }
    for (int i = 0; i < claimed; i++) {
        /* s_start: the webhook's JSON (sender.c s_webhook_json). */
        char *json =
            s_make_json(PQgetvalue(rows, i, 0), PQgetvalue(rows, i, 6), PQgetvalue(rows, i, 7),
                        PQgetvalue(rows, i, 2), PQgetvalue(rows, i, 3), PQgetvalue(rows, i, 4),
                        PQgetvalue(rows, i, 5));
        free(json);
        /* s_record: the outcome, sent. */
        ids[i] = PQgetvalue(rows, i, 0);
        statuses[i] = "sent";
        attempts[i] = PQgetvalue(rows, i, 8);
        errors[i] = "";
        dues[i] = "0";
    }
    char *arrays[5] = {
        db_text_array(ids, (size_t)claimed), db_text_array(statuses, (size_t)claimed),
        db_text_array(attempts, (size_t)claimed), db_text_array(errors, (size_t)claimed),
        db_text_array(dues, (size_t)claimed)};
    PGresult *res = arrays[0] && arrays[1] && arrays[2] && arrays[3] && arrays[4]
                        ? db_query(db, s_record_sql, 5, (const char *const *)arrays, NULL, NULL, 0)
                        : NULL;
    for (int i = 0; i < 5; i++)
        free(arrays[i]);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK && atoi(PQcmdTuples(res)) == claimed;
    if (!ok)
        snprintf(error, size, "the outcome UPDATE: %s", PQerrorMessage(db));
    PQclear(res);
    const char *ended[IN_FLIGHT];
    int64_t leases[IN_FLIGHT], next[IN_FLIGHT];
    for (int i = 0; i < taken; i++) {
        ended[i] = jobs[i].job;
        leases[i] = jobs[i].lease;
        next[i] = 0;
    }
    if (ok && schedule_done_many(redis, SQL_QUEUE, ended, leases, next, (size_t)taken) < 0) {
        snprintf(error, size, "schedule_done_many failed");
        ok = false;
    }
    rc = ok ? claimed : -1;
done:
    PQclear(rows);
    schedule_jobs_free(jobs);
    return rc;
}

static void s_tally(load_t *load, int rc, long count)
{
    int64_t done = bench_now_ns();
    if (done >= load->warm_end_ns && done <= load->end_ns) {
        if (rc == 0)
            load->calls += count;
        else
            load->errors++;
    }
}

/* The pool baseline: IN_FLIGHT sends in flight on one channel_pool until
 * the end, then the last ones finished (not counted). */
static void s_pool_run(load_t *load)
{
    channel_pool_t *pool = channel_pool_new();
    if (!pool) {
        snprintf(load->error, sizeof load->error, "channel_pool_new failed");
        load->errors++;
        return;
    }
    bench_sleep_until_ns(load->start_ns);
    long n = 0;
    for (;;) {
        bool more = bench_now_ns() < load->end_ns;
        while (more && channel_pool_size(pool) < IN_FLIGHT) {
            char id[64], error[256];
            channel_outcome_t outcome;
            s_bench_id(id, sizeof id, load->index, n++);
            if (channel_pool_webhook(pool, s_load.url, SECRET, id, s_load.json, SEND_MS, NULL,
                                     &outcome, error, sizeof error) != 0) {
                snprintf(load->error, sizeof load->error, "%s", error);
                s_tally(load, -1, 1);
                break;
            }
        }
        if (channel_pool_size(pool) == 0)
            break;
        if (channel_pool_run(pool, 50) != 0) {
            snprintf(load->error, sizeof load->error, "channel_pool_run failed");
            load->errors++;
            break;
        }
        void *tag;
        channel_outcome_t outcome;
        char error[256];
        while (channel_pool_next(pool, &tag, &outcome, error, sizeof error)) {
            if (outcome != CHANNEL_SENT)
                snprintf(load->error, sizeof load->error, "%s", error);
            s_tally(load, outcome == CHANNEL_SENT ? 0 : -1, 1);
        }
    }
    channel_pool_destroy(&pool);
}

static void *s_load_run(void *args)
{
    load_t *load = args;
    if (load->kind == M_POOL) {
        s_pool_run(load);
        return NULL;
    }
    PGconn *db = NULL;
    redisContext *redis = NULL;
    if (load->kind == M_SQL) {
        db = db_connect(s_cfg.db_url, SCHEMA, 3);
        redis = redis_link_connect(s_cfg.redis_url, 3);
        if (!db || !redis) {
            snprintf(load->error, sizeof load->error, "cannot connect");
            load->errors++;
            PQfinish(db);
            redisFree(redis);
            return NULL;
        }
    }
    bench_sleep_until_ns(load->start_ns);
    int fd = -1; /* raw keep-alive: the connection */
    long n = 0;
    while (bench_now_ns() < load->end_ns) {
        if (load->kind == M_SQL) {
            int got = s_sender_batch(db, redis, load->error, sizeof load->error);
            if (got == 0) {
                load->exhausted = true;
                break;
            }
            s_tally(load, got > 0 ? 0 : -1, got);
            if (got < 0)
                break;
            continue;
        }
        int rc;
        if (load->kind == M_RAW) {
            /* Closed by the client after the answer, as libcurl closes. */
            int one = s_connect();
            rc = one >= 0 && s_raw_exchange(one) >= 0 ? 0 : -1;
            if (one >= 0)
                close(one);
            if (rc != 0)
                snprintf(load->error, sizeof load->error, "raw POST failed");
        } else if (load->kind == M_KEEP) {
            if (fd < 0)
                fd = s_connect();
            int answer = fd >= 0 ? s_raw_exchange(fd) : -1;
            rc = answer >= 0 ? 0 : -1;
            if (answer != 0 && fd >= 0) {
                close(fd); /* the next one on a new connection */
                fd = -1;
            }
            if (rc != 0)
                snprintf(load->error, sizeof load->error, "keep-alive POST failed");
        } else {
            char id[64], error[256];
            s_bench_id(id, sizeof id, load->index, n++);
            rc = channel_webhook_send(s_load.url, SECRET, id, s_load.json, SEND_MS, error,
                                      sizeof error) == CHANNEL_SENT
                     ? 0
                     : -1;
            if (rc != 0)
                snprintf(load->error, sizeof load->error, "%s", error);
        }
        s_tally(load, rc, 1);
    }
    if (fd >= 0)
        close(fd);
    PQfinish(db);
    redisFree(redis);
    return NULL;
}

/* What the rounds of one measurement at one concurrency gathered. */
typedef struct {
    double events;
    int64_t ns;     /* the time the events took */
    int64_t cpu_ns; /* the wall time the CPU figures cover */
    cpu_t cpu;
    double cpu_events; /* the events the CPU figures cover */
    double rate[MAX_ROUNDS];
    long errors, posts, connections;
    long long body_bytes;
    bool exhausted;
    /* chuang-notify only */
    double e2e_events;
    int64_t e2e_ns, pickup_ns, pickup_max_ns;
    long records;                                  /* outcome UPDATEs (distinct sent_at) */
    long long redis_calls, redis_zadd, redis_eval; /* Redis commands run (commandstats) */
    int runs;
    /* sender sql only: the rebuild-style queue fill */
    long rebuilt_rows;
    int64_t rebuild_ns;
} acc_t;

static long long s_sql_int(PGconn *db, const char *sql)
{
    PGresult *res = PQexec(db, sql);
    long long value = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
                          ? strtoll(PQgetvalue(res, 0, 0), NULL, 10)
                          : -1;
    PQclear(res);
    return value;
}

/* The sender sql measurement's rows: rows pending deliveries in
 * bench_deliveries, queued as sender.c's s_rebuild queues them (timed into
 * acc). Returns 0 or -1. */
static int s_sql_prepare(PGconn *db, redisContext *redis, long rows, acc_t *acc)
{
    freeReplyObject(redisCommand(redis, "DEL %s", SQL_QUEUE));
    if (db_exec(db, "empty bench_deliveries", "TRUNCATE bench_deliveries") != 0)
        return -1;
    char count[24];
    snprintf(count, sizeof count, "%ld", rows);
    const char *values[5] = {RECIPIENT, s_subject, s_body, s_event_json, count};
    PGresult *res = PQexecParams(
        db,
        "INSERT INTO bench_deliveries (event_id, event_type, recipient, channel, subject, body,"
        " event_json, next_attempt_at)"
        " SELECT gen_random_uuid(), 'bench.NameReserved.99', $1, 'webhook', $2, $3, $4, now()"
        " FROM generate_series(1, $5::int)",
        5, NULL, values, NULL, NULL, 0);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "bench: insert into bench_deliveries: %s", PQerrorMessage(db));
    PQclear(res);
    if (!ok)
        return -1;
    /* sender.c's s_rebuild (a full one), but for the table and the queue. */
    int64_t t0 = bench_now_ns();
    res = PQexec(db, "SELECT id::text, (extract(epoch FROM next_attempt_at) * 1000)::bigint,"
                     " channel FROM bench_deliveries WHERE status = 'pending'");
    long added = 0;
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        for (int i = 0; i < PQntuples(res); i++)
            added += schedule_add_missing(redis, SQL_QUEUE, PQgetvalue(res, i, 0),
                                          strtoll(PQgetvalue(res, i, 1), NULL, 10)) == 1;
    PQclear(res);
    acc->rebuild_ns += bench_now_ns() - t0;
    acc->rebuilt_rows += added;
    if (added != rows) {
        fprintf(stderr, "bench: queued %ld of %ld sender sql rows\n", added, rows);
        return -1;
    }
    return 0;
}

/* One round of a baseline at concurrency conc. Returns 0 or -1. */
static int s_measure_load(measure_t kind, int conc, int warm_ms, int window_ms, int round,
                          acc_t *acc)
{
    load_t loads[MAX_PROCS] = {0};
    int64_t start = bench_now_ns() + 50 * NS_PER_MS; /* for the threads (and connections) */
    for (int i = 0; i < conc; i++) {
        loads[i] = (load_t){.kind = kind,
                            .index = i + 1,
                            .start_ns = start,
                            .warm_end_ns = start + warm_ms * NS_PER_MS,
                            .end_ns = start + (int64_t)(warm_ms + window_ms) * NS_PER_MS};
        pthread_create(&loads[i].thread, NULL, s_load_run, &loads[i]);
    }
    s_recv_reset(false);
    cpu_t c0, c1;
    bench_sleep_until_ns(loads[0].warm_end_ns);
    s_cpu_sample(&c0);
    pthread_mutex_lock(&s_recv.lock);
    long posts0 = s_recv.posts, conns0 = s_recv.connections;
    long long bytes0 = s_recv.body_bytes;
    pthread_mutex_unlock(&s_recv.lock);
    bench_sleep_until_ns(loads[0].end_ns);
    s_cpu_sample(&c1);
    pthread_mutex_lock(&s_recv.lock);
    long posts = s_recv.posts - posts0, conns = s_recv.connections - conns0;
    long long bytes = s_recv.body_bytes - bytes0;
    pthread_mutex_unlock(&s_recv.lock);
    long calls = 0, errors = 0;
    for (int i = 0; i < conc; i++) {
        pthread_join(loads[i].thread, NULL);
        calls += loads[i].calls;
        errors += loads[i].errors;
        if (loads[i].errors)
            fprintf(stderr, "bench: %s thread %d: %ld errors, the last: %s\n",
                    s_measure_names[kind], i + 1, loads[i].errors, loads[i].error);
        if (loads[i].exhausted)
            acc->exhausted = true;
    }
    int64_t ns = (int64_t)window_ms * NS_PER_MS;
    acc->events += (double)calls;
    acc->ns += ns;
    acc->cpu_ns += ns;
    acc->cpu_events += (double)calls;
    s_cpu_add(&acc->cpu, &c0, &c1);
    acc->rate[round] = (double)calls * NS_PER_S / (double)ns;
    acc->errors += errors;
    acc->posts += posts;
    acc->connections += conns;
    acc->body_bytes += bytes;
    return errors == 0 && calls > 0 ? 0 : -1;
}

/* --- chuang-notify --------------------------------------------------------------- */

static int s_compare_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The calls Redis ran so far (INFO commandstats, the commands scripts run
 * included): all commands into *all, ZADD into *zadd, EVALSHA and EVAL (a
 * script run, one round trip) into *eval. Returns 0 or -1. */
static int s_redis_calls(redisContext *redis, long long *all, long long *zadd, long long *eval)
{
    *all = *zadd = *eval = 0;
    redisReply *reply = redisCommand(redis, "INFO commandstats");
    int rc = reply && reply->type == REDIS_REPLY_STRING ? 0 : -1;
    for (const char *at = rc == 0 ? reply->str : NULL; at && (at = strstr(at, "cmdstat_"));) {
        at += 8;
        const char *calls = strstr(at, ":calls=");
        if (!calls)
            break;
        long long count = strtoll(calls + 7, NULL, 10);
        *all += count;
        if (strncmp(at, "zadd:", 5) == 0)
            *zadd += count;
        if (strncmp(at, "evalsha:", 8) == 0 || strncmp(at, "eval:", 5) == 0)
            *eval += count;
    }
    freeReplyObject(reply);
    return rc;
}

static long s_inserted_total; /* deliveries inserted for chuang-notify so far */

/* Inserts n pending webhook deliveries tagged tag and times them until all
 * are 'sent'; checks each was sent once. Returns 0 or -1. */
static int s_measure_notify(PGconn *db, redisContext *redis, const char *tag, long n, int round,
                            acc_t *acc)
{
    long long calls0, zadd0, eval0, calls1, zadd1, eval1;
    if (s_redis_calls(redis, &calls0, &zadd0, &eval0) != 0)
        return -1;
    char count[24];
    snprintf(count, sizeof count, "%ld", n);
    const char *values[6] = {tag, RECIPIENT, s_subject, s_body, s_event_json, count};
    s_recv_reset(true);
    cpu_t c0, c1;
    s_cpu_sample(&c0);
    int64_t t0 = bench_now_ns();
    PGresult *res = PQexecParams(
        db,
        "INSERT INTO deliveries (event_id, event_type, recipient, channel, subject, body,"
        " event_json, next_attempt_at)"
        " SELECT gen_random_uuid(), $1, $2, 'webhook', $3, $4, $5, now()"
        " FROM generate_series(1, $6::int)",
        6, NULL, values, NULL, NULL, 0);
    int64_t inserted = bench_now_ns();
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "bench: insert into deliveries: %s", PQerrorMessage(db));
    PQclear(res);
    if (!ok)
        return -1;
    s_inserted_total += n;
    /* Until the receiver has them all (cheap to watch), then the table. */
    long posts = 0;
    while (bench_now_ns() - t0 < ROUND_MS * NS_PER_MS) {
        pthread_mutex_lock(&s_recv.lock);
        posts = s_recv.notify_posts;
        pthread_mutex_unlock(&s_recv.lock);
        if (posts >= n || !s_alive(s_notify_pids, s_nnotify))
            break;
        zclock_sleep(1);
    }
    const char *tags[1] = {tag};
    long long sent = 0, other = 0, attempts = 0, records = 0;
    int64_t settle_by = bench_now_ns() + SETTLE_MS * NS_PER_MS;
    do {
        res = PQexecParams(db,
                           "SELECT count(*) FILTER (WHERE status = 'sent'),"
                           " count(*) FILTER (WHERE status <> 'sent'), coalesce(sum(attempts), 0),"
                           " count(DISTINCT sent_at)"
                           " FROM deliveries WHERE event_type = $1",
                           1, NULL, tags, NULL, NULL, 0);
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
            sent = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
            other = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
            attempts = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
            records = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
        }
        PQclear(res);
        if (sent >= n || posts < n)
            break;
        zclock_sleep(2);
    } while (bench_now_ns() < settle_by);
    int64_t done = bench_now_ns();
    s_cpu_sample(&c1);
    if (s_redis_calls(redis, &calls1, &zadd1, &eval1) != 0)
        return -1;

    pthread_mutex_lock(&s_recv.lock);
    s_recv.collect = false;
    long got = s_recv.notify_posts, bad = s_recv.bad, conns = s_recv.connections;
    int64_t first = s_recv.first_ns;
    long long bytes = s_recv.body_bytes;
    size_t nids = s_recv.nids;
    char **ids = s_recv.ids;
    qsort(ids, nids, sizeof *ids, s_compare_str);
    pthread_mutex_unlock(&s_recv.lock);
    /* collect is off: the receiver no longer touches ids until the next reset. */
    res = PQexecParams(db,
                       "SELECT id::text FROM deliveries WHERE event_type = $1 AND status = 'sent'"
                       " ORDER BY 1",
                       1, NULL, tags, NULL, NULL, 0);
    bool same = PQresultStatus(res) == PGRES_TUPLES_OK && (size_t)PQntuples(res) == nids;
    for (size_t i = 0; same && i < nids; i++)
        same = strcmp(ids[i], PQgetvalue(res, (int)i, 0)) == 0;
    PQclear(res);
    if (sent != n || other != 0 || attempts != n || got != n || bad != 0 || !same) {
        fprintf(stderr,
                "bench: %s: %lld of %ld sent (%lld not sent, %lld attempts); the receiver got "
                "%ld POSTs from chuang-notify (%ld bad), ids %s the table's\n",
                tag, sent, n, other, attempts, got, bad, same ? "match" : "do not match");
        return -1;
    }
    if (first <= 0 || first < inserted)
        first = inserted;
    acc->events += (double)n;
    acc->ns += done - first;
    acc->rate[round] = (double)n * NS_PER_S / (double)(done - first);
    acc->e2e_events += (double)n;
    acc->e2e_ns += done - inserted;
    acc->pickup_ns += first - inserted;
    if (first - inserted > acc->pickup_max_ns)
        acc->pickup_max_ns = first - inserted;
    acc->runs++;
    acc->records += (long)records;
    acc->redis_calls += calls1 - calls0 - 1; /* not the INFO of calls0 */
    acc->redis_zadd += zadd1 - zadd0;
    acc->redis_eval += eval1 - eval0;
    acc->cpu_ns += done - t0;
    acc->cpu_events += (double)n;
    s_cpu_add(&acc->cpu, &c0, &c1);
    acc->connections += conns;
    acc->posts += got;
    acc->body_bytes += bytes;
    return 0;
}

/* Starts chuang-notify processes until there are count; waits until each is
 * ready. Returns 0 or -1. */
static int s_start_notify(const char *program, const char *const *env, const char *name_prefix,
                          int count)
{
    while (s_nnotify < count) {
        char name[64];
        snprintf(name, sizeof name, "%s-%d", name_prefix, s_nnotify + 1);
        pid_t pid = s_spawn(name, program, env);
        if (pid < 0 || s_wait_ready(name, pid) != 0) {
            fprintf(stderr, "bench: %s did not start; see %s/%s.log\n", name, s_cfg.log_dir, name);
            return -1;
        }
        s_notify_pids[s_nnotify++] = pid;
    }
    return 0;
}

static void s_stop_notify(void)
{
    for (int i = 0; i < s_nnotify; i++)
        s_stop_child(s_notify_pids[i]);
    s_nnotify = 0;
}

/* --- report ------------------------------------------------------------------------- */

static double s_rate(const acc_t *acc)
{
    return acc->ns > 0 ? acc->events * NS_PER_S / (double)acc->ns : 0;
}

static double s_div(double a, double b)
{
    return b > 0 ? a / b : 0;
}

static int s_parse_list(const char *text, int *values, int max)
{
    int n = bench_parse_list(text, values, max, MAX_LIST);
    for (int i = 1; i < n; i++)
        if (values[i] == values[i - 1])
            return -1;
    return n;
}

static void s_usage(void)
{
    fprintf(stderr,
            "usage: bench_notify [-d DB_URL] [-s REDIS_URL] [-b BROKER] [-N NOTIFY] [-l LOG_DIR]\n"
            "                    [-c 1,2,4] [-n DELIVERIES] [-r ROUNDS] [-T MS] [-w MS] "
            "[-k TICK_MS]\n"
            "                    [-D DELIVERIES] [-R RECEIVER_THREADS] [-P POSTMASTER_PID] "
            "[-S REDIS_PID]\n");
}

static void s_print_row(const char *conc, const char *name, const acc_t *acc, int rounds)
{
    char cpu[48];
    s_cpu_format(cpu, sizeof cpu, &acc->cpu, acc->cpu_ns);
    printf("%4s  %-36s %8.0f%s|", conc, name, s_rate(acc), acc->exhausted ? "*" : " ");
    for (int round = 0; round < rounds; round++)
        printf(" %8.0f", acc->rate[round]);
    char body[16] = "-"; /* sender sql makes no POST */
    if (acc->posts > 0)
        snprintf(body, sizeof body, "%.0f", (double)acc->body_bytes / (double)acc->posts);
    char conns[16] = "-";
    if (acc->posts > 0)
        snprintf(conns, sizeof conns, "%.0f", (double)acc->connections / rounds);
    printf(" | %6.0f %6s %7s | %s\n", acc->events, body, conns, cpu);
}

/* The CPU a measurement used per event, in us: me, notify, pg, redis. */
static void s_print_cpu_per(const char *conc, const char *name, const acc_t *acc)
{
    double n = acc->cpu_events;
    printf("%4s  %-36s | %8.1f %8.1f %8.1f %8.1f | %8.1f\n", conc, name,
           s_div((double)acc->cpu.me, n), s_div((double)acc->cpu.notify, n),
           s_div((double)acc->cpu.pg, n), s_div((double)acc->cpu.redis, n),
           s_div((double)(acc->cpu.me + acc->cpu.notify + acc->cpu.pg + acc->cpu.redis), n));
}

int main(int argc, char **argv)
{
    channel_webhook_policy(true, "127.0.0.1"); /* the local receiver */
    char key_path[64] = "";                    /* notify's recipient key, removed at the end */
    s_cfg.db_url = getenv("CHUANG_BENCH_DB_URL");
    s_cfg.redis_url = getenv("CHUANG_BENCH_REDIS_URL");
    const char *broker_bin = CHUANG_BUILD_DIR "/services/broker/chuang-broker";
    const char *notify_bin = CHUANG_BUILD_DIR "/services/notify/chuang-notify";
    const char *conc_list = "1,2,4";
    long per_round = 2000, deployed = 2000;
    int rounds = 2, measured_ms = 2400, warm_ms = 200, tick_ms = 0, receivers = 4;
    int opt;
    while ((opt = getopt(argc, argv, "d:s:b:N:l:c:n:r:T:w:k:D:R:P:S:h")) != -1) {
        switch (opt) {
        case 'd':
            s_cfg.db_url = optarg;
            break;
        case 's':
            s_cfg.redis_url = optarg;
            break;
        case 'b':
            broker_bin = optarg;
            break;
        case 'N':
            notify_bin = optarg;
            break;
        case 'l':
            s_cfg.log_dir = optarg;
            break;
        case 'c':
            conc_list = optarg;
            break;
        case 'n':
            per_round = atol(optarg);
            break;
        case 'r':
            rounds = atoi(optarg);
            break;
        case 'T':
            measured_ms = atoi(optarg);
            break;
        case 'w':
            warm_ms = atoi(optarg);
            break;
        case 'k':
            tick_ms = atoi(optarg);
            if (tick_ms < 1)
                tick_ms = -1;
            break;
        case 'D':
            deployed = atol(optarg);
            break;
        case 'R':
            receivers = atoi(optarg);
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
    int concs[MAX_LIST];
    int nconcs = s_parse_list(conc_list, concs, MAX_PROCS);
    if (!s_cfg.db_url || !*s_cfg.db_url || !s_cfg.redis_url || !*s_cfg.redis_url || nconcs < 0 ||
        per_round < 1 || per_round > 1000000 || rounds < 1 || rounds > MAX_ROUNDS ||
        measured_ms < 100 * rounds || warm_ms < 0 || tick_ms < 0 || tick_ms > 60000 ||
        deployed < 0 || deployed > 1000000 || receivers < 1 || receivers > MAX_RECEIVERS ||
        nconcs * rounds + rounds > 99) {
        s_usage();
        return 2;
    }
    char log_dir[] = "/tmp/chuang-bench-notify.XXXXXX";
    if (!s_cfg.log_dir && !(s_cfg.log_dir = mkdtemp(log_dir))) {
        perror("bench: mkdtemp");
        return 1;
    }
    /* Loopback only, whatever proxy the environment names (libcurl honours
     * them); the children inherit it. The settings measured come from the
     * options alone. */
    setenv("no_proxy", "127.0.0.1,localhost", 1);
    setenv("NO_PROXY", "127.0.0.1,localhost", 1);
    unsetenv("CHUANG_SERVICE_TICK_MS");
    unsetenv("CHUANG_NOTIFY_IN_FLIGHT");
    unsetenv("CHUANG_NOTIFY_RATE_PER_MINUTE");

    zsys_handler_set(NULL);
    logger_init("bench", LOGGER_ERROR);
    struct sigaction action = {.sa_handler = s_on_signal};
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGHUP, &action, NULL);
    signal(SIGPIPE, SIG_IGN);
    atexit(s_stop_children);

    int rc = 1;
    PGconn *db = db_connect(s_cfg.db_url, SCHEMA, 10);
    redisContext *redis = redis_link_connect(s_cfg.redis_url, 10);
    char *broker_env[4] = {0}, *notify_env[12] = {0}, *deployed_env[12] = {0};
    static acc_t acc[MAX_LIST][M_COUNT];
    acc_t deployed_acc = {0}, deployed_pool = {0};
    if (!db || !redis) {
        fprintf(stderr, "bench: cannot connect to PostgreSQL or Redis\n");
        goto done;
    }
    if (s_recv_start(receivers) != 0) {
        perror("bench: receiver");
        goto done;
    }
    s_make_load(s_recv.port);

    /* notify names people by a keyed reference; any key will do here. */
    snprintf(key_path, sizeof key_path, "/tmp/chuang-bench-recipient-key-XXXXXX");
    int key_fd = mkstemp(key_path);
    bool key_written =
        key_fd >= 0 &&
        write(key_fd, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", 65) ==
            65;
    if (key_fd >= 0)
        close(key_fd);
    if (!key_written) {
        fprintf(stderr, "bench: cannot write the recipient key\n");
        goto done;
    }
    setenv("CHUANG_NOTIFY_RECIPIENT_KEY", key_path, 1);

    /* The broker, then the first notify process (which migrates the schema).
     * The notify processes get only what they need to reach the broker, the
     * database, Redis and the local receiver; the rows' processes also
     * CHUANG_SERVICE_TICK_MS when -k is given. */
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", bench_free_port());
    broker_env[0] = zsys_sprintf("CHUANG_BROKER_ENDPOINT=%s", endpoint);
    broker_env[1] = strdup("CHUANG_SECURITY_PLAIN=yes");
    broker_env[2] = strdup("CHUANG_LOG_LEVEL=warn");
    int nenv = 0;
    notify_env[nenv++] = zsys_sprintf("CHUANG_BROKERS=%s", endpoint);
    notify_env[nenv++] = zsys_sprintf("CHUANG_DB_URL=%s", s_cfg.db_url);
    notify_env[nenv++] = zsys_sprintf("CHUANG_REDIS_URL=%s", s_cfg.redis_url);
    notify_env[nenv++] = strdup("CHUANG_REDIS_PREFIX=" PREFIX);
    notify_env[nenv++] = strdup("CHUANG_SECURITY_PLAIN=yes");
    notify_env[nenv++] = strdup("CHUANG_CONSUME_REGISTRY_STREAM=" PREFIX ":no-events");
    notify_env[nenv++] = strdup("CHUANG_NOTIFY_WEBHOOK_ALLOW_HTTP=yes"); /* the local receiver */
    notify_env[nenv++] = strdup("CHUANG_NOTIFY_WEBHOOK_ALLOW_HOSTS=127.0.0.1");
    for (int i = 0; i < nenv; i++)
        deployed_env[i] = notify_env[i]; /* the same strings, freed once */
    if (tick_ms > 0)
        notify_env[nenv] = zsys_sprintf("CHUANG_SERVICE_TICK_MS=%d", tick_ms);
    pid_t broker = s_spawn("broker", broker_bin, (const char *const *)broker_env);
    if (broker < 0) {
        fprintf(stderr, "bench: cannot start %s\n", broker_bin);
        goto done;
    }
    fprintf(stderr, "bench: starting %d chuang-notify process(es)\n", concs[0]);
    if (s_start_notify(notify_bin, (const char *const *)notify_env, "notify", concs[0]) != 0)
        goto done;
    const char *recipient_values[2] = {RECIPIENT, s_load.url};
    PGresult *res = PQexecParams(db,
                                 "INSERT INTO recipients (id, webhook_url, webhook_secret)"
                                 " VALUES ($1, $2, '" SECRET "') ON CONFLICT (id) DO UPDATE"
                                 " SET webhook_url = $2, webhook_secret = '" SECRET "'",
                                 2, NULL, recipient_values, NULL, NULL, 0);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok || db_exec(db, "copy deliveries",
                       "DROP TABLE IF EXISTS bench_deliveries;"
                       " CREATE TABLE bench_deliveries (LIKE deliveries INCLUDING ALL)") != 0) {
        fprintf(stderr, "bench: cannot prepare the notify schema\n");
        goto done;
    }
    long pending = s_sql_int(db, "SELECT count(*) FROM deliveries WHERE status = 'pending'");

    redisReply *version = redisCommand(redis, "INFO server");
    char redis_version[32] = "?";
    const char *found = version && version->type == REDIS_REPLY_STRING ? version->str : NULL;
    if (found && (found = strstr(found, "redis_version:")))
        snprintf(redis_version, sizeof redis_version, "%.*s", (int)strcspn(found + 14, "\r\n"),
                 found + 14);
    freeReplyObject(version);
    char settings[64] = "default settings";
    if (tick_ms > 0)
        snprintf(settings, sizeof settings, "default settings but CHUANG_SERVICE_TICK_MS=%d",
                 tick_ms);
    printf("chuang notify webhook delivery benchmark\n");
    printf("  servers     PostgreSQL %d (synchronous_commit on, fsync on), Redis %s, %ld cores; "
           "all on 127.0.0.1\n",
           PQserverVersion(db) / 10000, redis_version, sysconf(_SC_NPROCESSORS_ONLN));
    printf("  receiver    this process, HTTP/1.1 with keep-alive on %s: a thread per open "
           "connection\n"
           "              (%d waiting in accept() at start, one more whenever none is left), "
           "each reads a whole request,\n"
           "              checks the signature, answers 200 (Content-Length: 0) and reads the "
           "next on the same connection\n",
           s_load.url, receivers);
    printf("  payload     the sender's JSON (deliveryId, eventId, eventType, recipient, subject, "
           "body, event) of %zu B,\n"
           "              Chinese subject and body, HMAC-SHA256 with a %zu-character secret\n",
           strlen(s_load.json), strlen(SECRET));
    printf("  raw new     C threads: connect, write one prebuilt signed POST, read the answer, "
           "close (a new connection per POST)\n");
    printf("  raw keep    C threads: the same POST, one after another on a connection kept open "
           "per thread\n");
    printf("  webhook     C threads calling channel_webhook_send() in a loop (a curl handle, a new "
           "connection and an HMAC per call)\n");
    printf("  pool        C threads, each driving a channel_pool with %d sends in flight "
           "(notify.in_flight's default) over\n"
           "              its connections kept open (at most %d to one host): the sending of one "
           "chuang-notify process, no database\n",
           IN_FLIGHT, CHANNEL_POOL_HOST_CONNECTIONS);
    printf("  sender sql  C threads: sender.c's statements for a batch of %d, without the HTTP "
           "(schedule_claim_due, the claim\n"
           "              UPDATE, the JSON, the outcome UPDATE from unnest(), schedule_done_many), "
           "on a copy of the deliveries table\n",
           IN_FLIGHT);
    printf("  notify      C chuang-notify processes, %s; up to %d sends in flight each on its pool "
           "(the tick\n"
           "              is called again at once), concurrency = processes; %ld deliveries per "
           "round\n",
           settings, IN_FLIGHT, per_round);
    if (deployed > 0)
        printf("  as deployed 1 chuang-notify process with default settings, %ld deliveries a "
               "round, taking turns with the pool at 1 thread\n",
               deployed);
    printf("  rounds      %d; the six measurements take turns in a rotating order; baselines "
           "%d ms warm-up + %d ms each\n",
           rounds, warm_ms, measured_ms / rounds);
    printf("  logs        %s\n\n", s_cfg.log_dir);
    fflush(stdout);
    if (pending != 0) {
        fprintf(stderr, "bench: the deliveries table already holds %ld pending rows\n", pending);
        goto done;
    }

    double sql_guess = 5000; /* rows/s, for sizing the sender sql rows */
    int tag_number = 0;
    for (int c = 0; c < nconcs; c++) {
        int conc = concs[c];
        fprintf(stderr, "bench: %d chuang-notify process(es)\n", conc);
        if (s_start_notify(notify_bin, (const char *const *)notify_env, "notify", conc) != 0)
            goto done;
        zclock_sleep(3 * LOOK_MS + 300); /* their first looks at the table */
        for (int round = 0; round < rounds; round++) {
            for (int i = 0; i < M_COUNT; i++) {
                measure_t m = (measure_t)((round + i) % M_COUNT);
                acc_t *a = &acc[c][m];
                fprintf(stderr, "bench: conc %d round %d: %s\n", conc, round + 1,
                        s_measure_names[m]);
                int step = 0;
                if (m == M_NOTIFY) {
                    char tag[32];
                    snprintf(tag, sizeof tag, EVENT_TYPE, ++tag_number);
                    step = s_measure_notify(db, redis, tag, per_round, round, a);
                } else if (m == M_SQL) {
                    double best = sql_guess;
                    for (int k = 0; k < nconcs; k++)
                        if (s_rate(&acc[k][M_SQL]) > best)
                            best = s_rate(&acc[k][M_SQL]);
                    long rows =
                        (long)(2.0 * best * (warm_ms + measured_ms / rounds) / 1000.0) + 1000;
                    step = s_sql_prepare(db, redis, rows, a);
                    if (step == 0)
                        step = s_measure_load(m, conc, warm_ms, measured_ms / rounds, round, a);
                } else {
                    step = s_measure_load(m, conc, warm_ms, measured_ms / rounds, round, a);
                }
                if (step != 0) {
                    fprintf(stderr, "bench: %s at %d failed\n", s_measure_names[m], conc);
                    goto done;
                }
            }
        }
        for (int m = 0; m < M_COUNT; m++)
            fprintf(stderr, "bench: conc %d: %-36s %8.0f/s\n", conc, s_measure_names[m],
                    s_rate(&acc[c][m]));
    }

    /* As deployed: one process with default settings, taking turns with the
     * pool at 1 thread. */
    if (deployed > 0) {
        s_stop_notify();
        fprintf(stderr, "bench: one chuang-notify process with default settings\n");
        if (s_start_notify(notify_bin, (const char *const *)deployed_env, "notify-default", 1) != 0)
            goto done;
        zclock_sleep(3 * LOOK_MS + 300);
        for (int round = 0; round < rounds; round++) {
            for (int i = 0; i < 2; i++) {
                int step;
                if ((round + i) % 2 == 0) {
                    fprintf(stderr, "bench: as deployed round %d: %s\n", round + 1,
                            s_measure_names[M_POOL]);
                    step = s_measure_load(M_POOL, 1, warm_ms, measured_ms / rounds, round,
                                          &deployed_pool);
                } else {
                    fprintf(stderr, "bench: as deployed round %d: chuang-notify\n", round + 1);
                    char tag[32];
                    snprintf(tag, sizeof tag, EVENT_TYPE, ++tag_number);
                    step = s_measure_notify(db, redis, tag, deployed, round, &deployed_acc);
                }
                if (step != 0) {
                    fprintf(stderr, "bench: the default-settings round failed\n");
                    goto done;
                }
            }
        }
    }
    /* Late duplicates: the receiver's count of chuang-notify's POSTs over the
     * whole run. */
    zclock_sleep(300);
    pthread_mutex_lock(&s_recv.lock);
    long notify_total = s_recv.notify_total, bad_total = s_recv.bad_total;
    int receiver_threads = s_recv.nthreads;
    bool capped = s_recv.capped;
    pthread_mutex_unlock(&s_recv.lock);
    long long sent_total = s_sql_int(db, "SELECT count(*) FROM deliveries WHERE status = 'sent'");

    /* --- the tables --- */
    printf("measurements: rate/s over all rounds, then round by round; count = calls or "
           "deliveries measured;\n"
           "body = mean JSON bytes per POST at the receiver; conns = connections the receiver "
           "accepted per round\n"
           "(in the measured window; for notify, in the round); cpu in %% of one core over the "
           "measured time\n"
           "(me = this process: receiver + client threads; notify = the chuang-notify "
           "processes)\n");
    printf("%4s  %-36s %9s|", "conc", "measurement", "rate/s");
    for (int round = 0; round < rounds; round++) {
        char name[24];
        snprintf(name, sizeof name, "round %d", round + 1);
        printf(" %8s", name);
    }
    printf(" | %6s %6s %7s | %5s %6s %5s %5s\n", "count", "body", "conns", "me", "notify", "pg",
           "redis");
    bool exhausted = false;
    for (int c = 0; c < nconcs; c++) {
        char conc[16];
        snprintf(conc, sizeof conc, "%d", concs[c]);
        for (int m = 0; m < M_COUNT; m++) {
            s_print_row(conc, s_measure_names[m], &acc[c][m], rounds);
            exhausted |= acc[c][m].exhausted;
        }
        const acc_t *n = &acc[c][M_NOTIFY];
        printf("%4s  %-36s %8.0f   (insert -> all sent; pickup, insert -> first POST: mean %.0f "
               "ms, max %.0f ms;\n"
               "%48s outcomes recorded by %ld UPDATEs, %.1f deliveries each; Redis commands "
               "per delivery %.1f, ZADD %.1f, EVALSHA %.1f)\n",
               "", "chuang-notify, end to end", s_div(n->e2e_events * NS_PER_S, (double)n->e2e_ns),
               s_div(s_ms(n->pickup_ns), n->runs), s_ms(n->pickup_max_ns), "", n->records,
               s_div(n->events, (double)n->records), s_div((double)n->redis_calls, n->events),
               s_div((double)n->redis_zadd, n->events), s_div((double)n->redis_eval, n->events));
    }
    if (exhausted)
        printf("   * the sender sql rows ran out before the window ended: a lower bound\n");

    printf("\nratios at the same concurrency (processes for chuang-notify, threads for the "
           "others), measured side by side;\n"
           "the target is notify/webhook >= 0.5; overall, then round by round for notify / "
           "webhook:\n");
    printf("%4s | %14s %11s %11s | %11s %13s | %11s |", "conc", "notify/webhook", "notify/pool",
           "notify/sql", "webhook/raw", "pool/raw keep", "e2e/webhook");
    for (int round = 0; round < rounds; round++)
        printf(" %7s%d", "round ", round + 1);
    printf("\n");
    for (int c = 0; c < nconcs; c++) {
        const acc_t *a = acc[c];
        double notify = s_rate(&a[M_NOTIFY]), hook = s_rate(&a[M_HOOK]);
        printf("%4d | %14.3f %11.3f %11.3f | %11.3f %13.3f | %11.3f |", concs[c],
               s_div(notify, hook), s_div(notify, s_rate(&a[M_POOL])),
               s_div(notify, s_rate(&a[M_SQL])), s_div(hook, s_rate(&a[M_RAW])),
               s_div(s_rate(&a[M_POOL]), s_rate(&a[M_KEEP])),
               s_div(s_div(a[M_NOTIFY].e2e_events * NS_PER_S, (double)a[M_NOTIFY].e2e_ns), hook));
        for (int round = 0; round < rounds; round++)
            printf(" %8.3f", s_div(a[M_NOTIFY].rate[round], a[M_HOOK].rate[round]));
        printf("\n");
    }

    printf("\nwhere one process's time per delivery goes, in ms (= concurrency / rate at that "
           "concurrency): a model of\n"
           "pool + sender sql (one thread does both: the sends progress only while it waits in "
           "the pool), against the\n"
           "measured time, and the outcomes the sender recorded per UPDATE (the sender sql row "
           "records %d a time)\n",
           IN_FLIGHT);
    printf("%4s | %8s %10s | %8s %9s | %8s %9s | %11s | %9s\n", "conc", "pool", "sender sql",
           "model", "model/s", "measured", "notify/s", "unexplained", "per UPDATE");
    for (int c = 0; c < nconcs; c++) {
        const acc_t *a = acc[c];
        double k = concs[c] * 1000.0;
        double pool = s_div(k, s_rate(&a[M_POOL])), sql = s_div(k, s_rate(&a[M_SQL]));
        double model = pool + sql, measured = s_div(k, s_rate(&a[M_NOTIFY]));
        printf("%4d | %8.3f %10.3f | %8.3f %9.0f | %8.3f %9.0f | %11.3f | %9.1f\n", concs[c], pool,
               sql, model, s_div(k, model), measured, s_rate(&a[M_NOTIFY]), measured - model,
               s_div(a[M_NOTIFY].events, (double)a[M_NOTIFY].records));
    }

    printf("\nCPU per call or delivery, in us, over the measured time (notify: from the INSERT to "
           "all sent)\n");
    printf("%4s  %-36s | %8s %8s %8s %8s | %8s\n", "conc", "measurement", "me", "notify", "pg",
           "redis", "all");
    for (int c = 0; c < nconcs; c++) {
        char conc[16];
        snprintf(conc, sizeof conc, "%d", concs[c]);
        for (int m = M_HOOK; m < M_COUNT; m++)
            s_print_cpu_per(conc, s_measure_names[m], &acc[c][m]);
    }
    if (deployed > 0) {
        s_print_cpu_per("1", "channel_pool (as deployed's turns)", &deployed_pool);
        s_print_cpu_per("1", "chuang-notify as deployed", &deployed_acc);
    }

    long rebuilt = 0;
    int64_t rebuild_ns = 0;
    for (int c = 0; c < nconcs; c++) {
        rebuilt += acc[c][M_SQL].rebuilt_rows;
        rebuild_ns += acc[c][M_SQL].rebuild_ns;
    }
    printf(
        "\nqueue fill the way sender.c's s_rebuild does it (SELECT of the pending rows, then one "
        "ZADD NX round trip per\n"
        "row): %.1f us per pending row (%ld rows timed); every process does it on each look "
        "(every %d ms) for the\n"
        "pending rows created or rescheduled since a second before the last look, and every "
        "10 s for all pending rows\n",
        s_div(s_ms(rebuild_ns) * 1000.0, (double)rebuilt), rebuilt, LOOK_MS);

    if (deployed > 0) {
        const acc_t *d = &deployed_acc, *p = &deployed_pool;
        char cpu[48];
        s_cpu_format(cpu, sizeof cpu, &d->cpu, d->cpu_ns);
        double rate = s_rate(d), pool = s_rate(p);
        printf("\nas deployed: 1 chuang-notify process with default settings (service.tick_ms "
               "1000, notify.in_flight %d),\n"
               "%ld deliveries a round, taking turns with the pool baseline at 1 thread:\n",
               IN_FLIGHT, deployed);
        printf("   first POST -> all sent %.0f/s (round by round:", rate);
        for (int round = 0; round < rounds; round++)
            printf(" %.0f", d->rate[round]);
        printf("); insert -> all sent %.0f/s (pickup mean %.0f ms)\n",
               s_div(d->e2e_events * NS_PER_S, (double)d->e2e_ns),
               s_div(s_ms(d->pickup_ns), d->runs));
        printf("   pool baseline, 1 thread, %d in flight: %.0f/s (round by round:", IN_FLIGHT,
               pool);
        for (int round = 0; round < rounds; round++)
            printf(" %.0f", p->rate[round]);
        printf(")\n   one process / pool = %.3f (round by round:", s_div(rate, pool));
        for (int round = 0; round < rounds; round++)
            printf(" %.3f", s_div(d->rate[round], p->rate[round]));
        printf("); one process / webhook at 1 thread = %.3f\n",
               s_div(rate, s_rate(&acc[0][M_HOOK])));
        printf("   target >= 1,000 deliveries/s from one process: %s; outcomes recorded by %ld "
               "UPDATEs, %.1f deliveries each;\n"
               "   Redis commands per delivery %.1f (ZADD %.1f, EVALSHA %.1f); cpu "
               "me/notify/pg/redis %s\n",
               rate >= 1000 ? "met" : "NOT met", d->records, s_div(d->events, (double)d->records),
               s_div((double)d->redis_calls, d->events), s_div((double)d->redis_zadd, d->events),
               s_div((double)d->redis_eval, d->events), cpu);
    }
    long inserted_total = s_inserted_total;
    bool once = notify_total == inserted_total && sent_total == inserted_total && bad_total == 0;
    printf("\nreceiver: %d threads started (%d at most)%s\n", receiver_threads, MAX_RECEIVERS,
           capped ? "; all were busy at a time: connections waited" : "");
    printf("exactly once: %ld deliveries inserted, %lld 'sent' in the table, %ld POSTs from "
           "chuang-notify at the receiver,\n"
           "each round's ids equal to the table's, one attempt each, %ld bad requests: %s\n",
           inserted_total, sent_total, notify_total, bad_total, once ? "yes" : "NO");
    fflush(stdout);
    rc = once ? 0 : 1;

done:
    s_stop_children();
    if (*key_path)
        unlink(key_path);
    s_recv_stop();
    for (int i = 0; i < 4; i++)
        free(broker_env[i]);
    for (int i = 0; i < 12; i++)
        free(notify_env[i]);
    free(s_load.json);
    free(s_load.request);
    PQfinish(db);
    redisFree(redis);
    return rc;
}
