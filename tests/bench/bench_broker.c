/*
 * bench_broker.c - what a call through the Majordomo broker costs, measured
 * against raw ZeroMQ request/reply carrying the same bytes.
 *
 * For C client threads (C in 1, 4, 16), each doing synchronous request ->
 * reply in a loop, three setups are measured, all over tcp on 127.0.0.1:
 *
 *   raw-direct  libzmq DEALER clients -> one ROUTER thread echoing every
 *               message back (one hop; the floor).
 *   raw-proxy   libzmq DEALER clients -> ROUTER/DEALER zmq_proxy thread ->
 *               W DEALER echo threads (two tcp hops, the broker's topology
 *               without its protocol; W in 1, 2, 4).
 *   broker      client_call() (common/client.h) of tally Echo -> the real
 *               chuang-broker (plain) -> W chuang-tally processes with one
 *               worker thread each ("1 to 4 worker processes").
 *
 * Timing: a row is measured in rounds (default 4) of a warm-up (default
 * 100 ms, not counted) and a window (default 2000 ms / 4 = 500 ms); the three
 * setups of the same C and W take turns round by round, in a rotating order,
 * so that a burst of load on this shared machine hits all three alike. Every
 * call that starts and ends within a window has its latency recorded in
 * microseconds. A row gives requests/s (calls in the windows / the windows'
 * length), p50, p99 and the maximum (nearest rank over every recorded call),
 * and the CPU time this process, the broker and the workers used in the
 * windows, in percent of one core.
 *
 * Same payload: Echo's data is 64 bytes (-p); the client library wraps it in
 * the chuang envelope (request id, idempotency key and trace id of 32 hex
 * characters each, agency, actor, one role, deadline, method), and the raw
 * clients send the very frames an MDP client sends: "", "MDPC01", "tally" and
 * a body of the packed envelope's size; the echo returns them unchanged. The
 * sizes are printed.
 *
 * Then new clients, the way short-lived processes (chuangctl, a cron job)
 * call: -F times (default 200), a fresh client makes one call and is
 * destroyed, taking turns between a client that lists only the live
 * broker and one that lists a dead broker (a port nothing listens on, as
 * after kill -9) first. Their p50 and p99 and the ratio dead-first / live
 * say what a dead broker costs each new client.
 *
 * Then a flood (-N rounds, default 4): the largest C's clients call through
 * the broker in rounds taking turns unloaded and while another client sends
 * it mmi.service requests (-R a second, default 10000, five times what the
 * broker lets a service key send; 0: as fast as the broker takes them) and
 * never reads a reply (receive buffer of one). The ratio flooded / unloaded of their p99 says
 * what a peer that never reads costs everyone else.
 *
 * The ratios (broker / raw) are the figures to read: absolute times depend
 * on the (shared, noisy) machine. Nothing is asserted on times.
 *
 *   bench_broker -d DB_URL [-b BROKER] [-t TALLY] [-l LOG_DIR] [-T MS] [-w MS]
 *                [-r ROUNDS] [-p BYTES] [-c 1,4,16] [-W 1,2,4] [-F FRESH] [-N FLOOD]
 *                [-R FLOOD_RATE]
 *
 * DB_URL (or CHUANG_BENCH_DB_URL) is the tally service's PostgreSQL database,
 * needed for its migrations at start-up (tests/bench/run.sh makes one in a
 * private harness). The workers are started once per W, added to those
 * already running, and the benchmark waits until the broker knows the
 * service (mmi.service) and W slow Echo calls are served at the same time.
 * Children's stderr goes to LOG_DIR/<name>.log. Every child is killed at the
 * end, on failure, on SIGINT/SIGTERM/SIGHUP, and (PR_SET_PDEATHSIG) when
 * this process dies. Exits 0, or 1 when a call failed or a child did not
 * start, 2 on bad arguments.
 */
#include "bench_util.h"
#include "client.h"
#include "config.h"
#include "logger.h"
#include "security.h"
#include "tally.pb-c.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CHUANG_BUILD_DIR
#error "CHUANG_BUILD_DIR must name the build tree"
#endif

#define MAX_CHILDREN  40
#define MAX_LIST      8
#define MAX_CLIENTS   256
#define MAX_WORKERS   32
#define CALL_MS       5000 /* a call that takes longer is counted as an error */
#define PROBE_WORK_MS 300
#define START_MS      60000 /* for the first worker: migrations included */
#define ROW_MAX       (MAX_LIST * MAX_LIST * 3)

extern char **environ;

/* --- child processes ------------------------------------------------------ */

static pid_t s_children[MAX_CHILDREN];
static volatile sig_atomic_t s_nchildren;
static const char *s_log_dir;

static void s_on_signal(int sig)
{
    for (int i = 0; i < s_nchildren; i++)
        if (s_children[i] > 0)
            kill(s_children[i], SIGKILL);
    _exit(128 + sig);
}

/* SIGTERM to every child, then SIGKILL to those still there after 3 s. */
static void s_kill_children(void)
{
    for (int i = 0; i < s_nchildren; i++)
        if (s_children[i] > 0)
            kill(s_children[i], SIGTERM);
    int64_t end = zclock_mono() + 3000;
    for (int i = 0; i < s_nchildren; i++) {
        while (s_children[i] > 0) {
            if (waitpid(s_children[i], NULL, WNOHANG) != 0) {
                s_children[i] = 0;
            } else if (zclock_mono() >= end) {
                kill(s_children[i], SIGKILL);
                waitpid(s_children[i], NULL, 0);
                s_children[i] = 0;
            } else {
                zclock_sleep(20);
            }
        }
    }
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
    snprintf(log_path, sizeof log_path, "%s/%s.log", s_log_dir, name);
    char *const argv[] = {(char *)program, NULL};
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
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

/* Whether a child has exited (and then reaps it, and forgets its pid). */
static bool s_child_exited(pid_t pid)
{
    if (waitpid(pid, NULL, WNOHANG) != pid)
        return false;
    for (int i = 0; i < s_nchildren; i++)
        if (s_children[i] == pid)
            s_children[i] = 0;
    return true;
}

/* CPU time (user + system) of a process so far, in microseconds. */
static int64_t s_cpu_us(pid_t pid)
{
    int64_t us = bench_proc_cpu_us(pid, NULL);
    return us < 0 ? 0 : us;
}
/* --- the traffic ------------------------------------------------------------ */

typedef enum { SETUP_DIRECT, SETUP_PROXY, SETUP_BROKER } setup_t;

static const char *const s_setup_names[] = {"raw-direct", "raw-proxy", "broker"};

/* What every row sends. */
static struct {
    uint8_t *data; /* Echo's data */
    size_t size;
    uint8_t *body; /* a packed chuang.Request of the size the client sends */
    size_t body_size;
    size_t reply_size; /* a packed chuang.Reply of the Echo answer */
    security_t *security;
} s_load;

typedef struct {
    double rps;
    uint32_t p50, p99, max;
    size_t calls, errors;
    double cpu_self, cpu_broker, cpu_workers; /* percent of one core */
} result_t;

/* What the rounds of one row gathered. */
typedef struct {
    uint32_t *us; /* latency of every call counted */
    size_t count, cap;
    size_t errors;
    int64_t measured_ms;                       /* the rounds' windows, nominal */
    int64_t window_us;                         /* the same, as the main thread slept */
    int64_t cpu_self, cpu_broker, cpu_workers; /* microseconds in the windows */
} samples_t;

typedef struct row_s row_t;

typedef struct {
    row_t *row;
    samples_t samples; /* this client's */
} runner_t;

struct row_s {
    setup_t setup;
    const char *endpoint;
    void *zmq_ctx; /* raw clients' context */
    int clients;
    pthread_barrier_t barrier;
    int64_t warm_end, end; /* s_now_us */
};

static int64_t s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void s_record(samples_t *samples, int64_t us)
{
    if (samples->count == samples->cap) {
        samples->cap = samples->cap ? samples->cap * 2 : 4096;
        samples->us = realloc(samples->us, samples->cap * sizeof *samples->us);
        assert(samples->us);
    }
    samples->us[samples->count++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* One raw request -> reply; 0 when the echo came back whole. */
static int s_raw_call(void *socket)
{
    if (zmq_send(socket, "", 0, ZMQ_SNDMORE) < 0 ||
        zmq_send(socket, "MDPC01", 6, ZMQ_SNDMORE) < 0 ||
        zmq_send(socket, "tally", 5, ZMQ_SNDMORE) < 0 ||
        zmq_send(socket, s_load.body, s_load.body_size, 0) < 0)
        return -1;
    zmq_pollitem_t item = {socket, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, CALL_MS) <= 0)
        return -1;
    size_t frames = 0, last = 0;
    bool more = true;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, socket, 0) < 0) {
            zmq_msg_close(&part);
            return -1;
        }
        frames++;
        last = zmq_msg_size(&part);
        more = zmq_msg_more(&part);
        zmq_msg_close(&part);
    }
    return frames == 4 && last == s_load.body_size ? 0 : -1;
}

/* One call of tally Echo through the broker; 0 when it echoed the data. */
static int s_broker_call(client_t *client, int work_ms)
{
    Chuang__Tally__EchoRequest request = CHUANG__TALLY__ECHO_REQUEST__INIT;
    request.data.data = s_load.data;
    request.data.len = s_load.size;
    request.work_ms = work_ms;
    Chuang__Reply *reply = client_call(client, "tally", "Echo", &request.base, NULL);
    int rc = -1;
    if (reply && reply->status == CHUANG__STATUS__OK) {
        Chuang__Tally__EchoReply *echo =
            chuang__tally__echo_reply__unpack(NULL, reply->payload.len, reply->payload.data);
        if (echo && echo->data.len == s_load.size &&
            memcmp(echo->data.data, s_load.data, s_load.size) == 0)
            rc = 0;
        chuang__tally__echo_reply__free_unpacked(echo, NULL);
    }
    chuang__reply__free_unpacked(reply, NULL);
    return rc;
}

static client_t *s_client(const char *endpoint)
{
    client_t *client = client_new(endpoint, s_load.security);
    client_set_identity(client, "330106", "bench", "officer");
    client_set_timeouts(client, CALL_MS, CALL_MS);
    return client;
}

static void *s_runner(void *args)
{
    runner_t *runner = args;
    row_t *row = runner->row;
    void *socket = NULL;
    client_t *client = NULL;
    if (row->setup == SETUP_BROKER) {
        client = s_client(row->endpoint);
    } else {
        socket = zmq_socket(row->zmq_ctx, ZMQ_DEALER);
        int zero = 0;
        zmq_setsockopt(socket, ZMQ_LINGER, &zero, sizeof zero);
        zmq_connect(socket, row->endpoint);
    }
    pthread_barrier_wait(&row->barrier); /* all ready */
    pthread_barrier_wait(&row->barrier); /* the main thread has set the times */
    while (true) {
        int64_t start = s_now_us();
        if (start >= row->end)
            break;
        int rc = client ? s_broker_call(client, 0) : s_raw_call(socket);
        int64_t end = s_now_us();
        if (start < row->warm_end)
            continue;
        if (rc != 0)
            runner->samples.errors++;
        else if (end <= row->end)
            s_record(&runner->samples, end - start);
        if (rc != 0 && socket)
            break; /* a late echo would be taken for the next one's */
    }
    client_destroy(&client);
    if (socket)
        zmq_close(socket);
    return NULL;
}

static int s_compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The nearest-rank percentile of sorted values. */
static uint32_t s_percentile(const uint32_t *sorted, size_t count, double p)
{
    if (count == 0)
        return 0;
    size_t rank = (size_t)(p / 100.0 * (double)count + 0.999999);
    if (rank < 1)
        rank = 1;
    return sorted[rank > count ? count - 1 : rank - 1];
}

/* Runs one round of a row's clients and adds what they measured to into;
 * the broker and workers are sampled for CPU time. */
static void s_run_round(setup_t setup, const char *endpoint, int clients, int warmup_ms,
                        int duration_ms, pid_t broker, const pid_t *workers, int nworkers,
                        samples_t *into)
{
    row_t row = {.setup = setup, .endpoint = endpoint, .clients = clients};
    if (setup != SETUP_BROKER)
        row.zmq_ctx = zmq_ctx_new();
    pthread_barrier_init(&row.barrier, NULL, (unsigned)clients + 1);
    runner_t *runners = calloc((size_t)clients, sizeof *runners);
    pthread_t *threads = calloc((size_t)clients, sizeof *threads);
    for (int i = 0; i < clients; i++) {
        runners[i].row = &row;
        pthread_create(&threads[i], NULL, s_runner, &runners[i]);
    }
    pthread_barrier_wait(&row.barrier);
    int64_t now = s_now_us();
    row.warm_end = now + (int64_t)warmup_ms * 1000;
    row.end = row.warm_end + (int64_t)duration_ms * 1000;
    pthread_barrier_wait(&row.barrier);

    zclock_sleep(warmup_ms);
    int64_t self0 = bench_self_cpu_us(), broker0 = broker > 0 ? s_cpu_us(broker) : 0, workers0 = 0;
    for (int i = 0; i < nworkers; i++)
        workers0 += s_cpu_us(workers[i]);
    int64_t window0 = s_now_us();
    int64_t left = row.end - window0;
    if (left > 0)
        zclock_sleep((int)(left / 1000));
    into->window_us += s_now_us() - window0;
    into->cpu_self += bench_self_cpu_us() - self0;
    into->cpu_broker += broker > 0 ? s_cpu_us(broker) - broker0 : 0;
    for (int i = 0; i < nworkers; i++)
        into->cpu_workers += s_cpu_us(workers[i]);
    into->cpu_workers -= workers0;
    into->measured_ms += duration_ms;

    for (int i = 0; i < clients; i++) {
        pthread_join(threads[i], NULL);
        samples_t *mine = &runners[i].samples;
        for (size_t j = 0; j < mine->count; j++)
            s_record(into, mine->us[j]);
        into->errors += mine->errors;
        free(mine->us);
    }
    free(runners);
    free(threads);
    pthread_barrier_destroy(&row.barrier);
    if (row.zmq_ctx)
        zmq_ctx_term(row.zmq_ctx);
}

/* The figures of a row's samples, which it frees. */
static result_t s_result(samples_t *samples)
{
    result_t result = {.calls = samples->count, .errors = samples->errors};
    qsort(samples->us, samples->count, sizeof *samples->us, s_compare_u32);
    if (samples->measured_ms > 0)
        result.rps = (double)samples->count * 1000.0 / (double)samples->measured_ms;
    result.p50 = s_percentile(samples->us, samples->count, 50);
    result.p99 = s_percentile(samples->us, samples->count, 99);
    result.max = samples->count ? samples->us[samples->count - 1] : 0;
    if (samples->window_us > 0) {
        result.cpu_self = 100.0 * (double)samples->cpu_self / (double)samples->window_us;
        result.cpu_broker = 100.0 * (double)samples->cpu_broker / (double)samples->window_us;
        result.cpu_workers = 100.0 * (double)samples->cpu_workers / (double)samples->window_us;
    }
    free(samples->us);
    memset(samples, 0, sizeof *samples);
    return result;
}

/* --- raw echo servers ------------------------------------------------------ */

/* Sends every message back as it came, frame by frame, until the context
 * is shut down. */
static void *s_echo(void *socket)
{
    while (true) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, socket, 0) < 0) {
            zmq_msg_close(&part);
            if (zmq_errno() == EINTR)
                continue;
            break;
        }
        int more = zmq_msg_more(&part);
        if (zmq_msg_send(&part, socket, more ? ZMQ_SNDMORE : 0) < 0)
            zmq_msg_close(&part);
    }
    zmq_close(socket);
    return NULL;
}

typedef struct {
    void *frontend, *backend;
} proxy_t;

static void *s_proxy(void *args)
{
    proxy_t *proxy = args;
    zmq_proxy(proxy->frontend, proxy->backend, NULL);
    zmq_close(proxy->frontend);
    zmq_close(proxy->backend);
    return NULL;
}

typedef struct {
    void *ctx;
    pthread_t threads[MAX_WORKERS + 1];
    int nthreads;
    proxy_t proxy;
    char endpoint[64];
} raw_server_t;

static void *s_raw_socket(void *ctx, int type)
{
    void *socket = zmq_socket(ctx, type);
    int zero = 0;
    zmq_setsockopt(socket, ZMQ_LINGER, &zero, sizeof zero);
    return socket;
}

/* Binds a ROUTER to a free port of 127.0.0.1 and writes its endpoint. */
static void *s_raw_bind(void *ctx, int type, char *endpoint, size_t size)
{
    void *socket = s_raw_socket(ctx, type);
    if (zmq_bind(socket, "tcp://127.0.0.1:*") != 0) {
        zmq_close(socket);
        return NULL;
    }
    zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, endpoint, &size);
    return socket;
}

/* raw-direct when workers is 0, else raw-proxy with that many echo threads. */
static int s_raw_start(raw_server_t *self, int workers)
{
    memset(self, 0, sizeof *self);
    self->ctx = zmq_ctx_new();
    void *router = s_raw_bind(self->ctx, ZMQ_ROUTER, self->endpoint, sizeof self->endpoint);
    if (!router)
        return -1;
    if (workers == 0) {
        pthread_create(&self->threads[self->nthreads++], NULL, s_echo, router);
        return 0;
    }
    char backend[64];
    self->proxy.frontend = router;
    self->proxy.backend = s_raw_bind(self->ctx, ZMQ_DEALER, backend, sizeof backend);
    if (!self->proxy.backend) {
        zmq_close(router);
        return -1;
    }
    pthread_create(&self->threads[self->nthreads++], NULL, s_proxy, &self->proxy);
    for (int i = 0; i < workers; i++) {
        void *worker = s_raw_socket(self->ctx, ZMQ_DEALER);
        zmq_connect(worker, backend);
        pthread_create(&self->threads[self->nthreads++], NULL, s_echo, worker);
    }
    return 0;
}

static void s_raw_stop(raw_server_t *self)
{
    zmq_ctx_shutdown(self->ctx); /* every blocking call returns ETERM */
    for (int i = 0; i < self->nthreads; i++)
        pthread_join(self->threads[i], NULL);
    zmq_ctx_term(self->ctx);
}

/* One round against a raw echo server started for it: raw-direct when
 * workers is 0, else raw-proxy. */
static void s_run_raw(int workers, int clients, int warmup_ms, int duration_ms, samples_t *into)
{
    raw_server_t server;
    if (s_raw_start(&server, workers) == 0) {
        s_run_round(workers ? SETUP_PROXY : SETUP_DIRECT, server.endpoint, clients, warmup_ms,
                    duration_ms, 0, NULL, 0, into);
    } else {
        fprintf(stderr, "bench: cannot bind a raw echo server: %s\n", zmq_strerror(zmq_errno()));
        into->errors++;
    }
    s_raw_stop(&server);
}

/* --- broker and workers ---------------------------------------------------- */

typedef struct {
    const char *endpoint;
    int ok;
} probe_t;

static void *s_probe(void *args)
{
    probe_t *probe = args;
    client_t *client = s_client(probe->endpoint);
    probe->ok = s_broker_call(client, PROBE_WORK_MS) == 0;
    client_destroy(&client);
    return NULL;
}

/* Waits until workers tally workers serve at once: first until the broker
 * knows the service (mmi.service), then until as many Echo calls that each
 * take PROBE_WORK_MS end in well under twice that. Returns 0, or -1 when a
 * child exited or time ran out. */
static int s_wait_workers(const char *endpoint, int workers, pid_t broker, const pid_t *tallies,
                          int ntallies)
{
    client_t *client = s_client(endpoint);
    client_set_timeouts(client, 500, 500);
    int64_t end = zclock_mono() + START_MS;
    int rc = -1;
    bool known = false;
    while (zclock_mono() < end) {
        if (s_child_exited(broker))
            break;
        bool exited = false;
        for (int i = 0; i < ntallies; i++)
            exited = exited || s_child_exited(tallies[i]);
        if (exited)
            break;
        if (!known) {
            known = client_service_exists(client, "tally") == 1;
            if (!known)
                zclock_sleep(100);
            continue;
        }
        probe_t probes[MAX_WORKERS];
        pthread_t threads[MAX_WORKERS];
        int64_t started = zclock_mono();
        for (int i = 0; i < workers; i++) {
            probes[i] = (probe_t){.endpoint = endpoint};
            pthread_create(&threads[i], NULL, s_probe, &probes[i]);
        }
        bool ok = true;
        for (int i = 0; i < workers; i++) {
            pthread_join(threads[i], NULL);
            ok = ok && probes[i].ok;
        }
        if (ok && zclock_mono() - started < PROBE_WORK_MS * 2 - 50) {
            rc = 0;
            break;
        }
        zclock_sleep(100);
    }
    client_destroy(&client);
    return rc;
}

/* Packs the envelope client_call sends for Echo of the payload, with ids of
 * the same length, and the reply the worker sends back. */
static void s_make_load(size_t payload)
{
    s_load.size = payload;
    s_load.data = malloc(payload ? payload : 1);
    for (size_t i = 0; i < payload; i++)
        s_load.data[i] = (uint8_t)('a' + i % 26);
    Chuang__Tally__EchoRequest echo = CHUANG__TALLY__ECHO_REQUEST__INIT;
    echo.data.data = s_load.data;
    echo.data.len = payload;
    uint8_t input[65536];
    size_t input_size = chuang__tally__echo_request__pack(&echo, input);

    const char *id = "0123456789abcdef0123456789abcdef"; /* zuuid_str: 32 hex */
    char *roles[] = {"officer"};
    Chuang__RequestHeader header = CHUANG__REQUEST_HEADER__INIT;
    header.request_id = (char *)id;
    header.idempotency_key = (char *)id;
    header.agency = "330106";
    header.actor_id = "bench";
    header.n_roles = 1;
    header.roles = roles;
    header.deadline_ms = zclock_time() + CALL_MS;
    header.trace_id = (char *)id;
    header.method = "Echo";
    Chuang__Request request = CHUANG__REQUEST__INIT;
    request.header = &header;
    request.payload.data = input;
    request.payload.len = input_size;
    s_load.body_size = chuang__request__get_packed_size(&request);
    s_load.body = malloc(s_load.body_size);
    chuang__request__pack(&request, s_load.body);

    Chuang__Tally__EchoReply answer = CHUANG__TALLY__ECHO_REPLY__INIT;
    answer.data = echo.data;
    Chuang__Reply reply = CHUANG__REPLY__INIT;
    reply.request_id = (char *)id;
    reply.payload.len = chuang__tally__echo_reply__get_packed_size(&answer);
    reply.payload.data = input;
    chuang__tally__echo_reply__pack(&answer, input);
    s_load.reply_size = chuang__reply__get_packed_size(&reply);
}

typedef struct {
    setup_t setup;
    int clients, workers;
    result_t result;
} measured_t;

static void s_print_result(FILE *out, const measured_t *m)
{
    char workers[16] = "-";
    if (m->setup != SETUP_DIRECT)
        snprintf(workers, sizeof workers, "%d", m->workers);
    char broker_cpu[16] = "-", workers_cpu[16] = "-";
    if (m->setup == SETUP_BROKER) {
        snprintf(broker_cpu, sizeof broker_cpu, "%.0f", m->result.cpu_broker);
        snprintf(workers_cpu, sizeof workers_cpu, "%.0f", m->result.cpu_workers);
    }
    fprintf(out, "%-10s %7d %7s %9.0f %8u %8u %8u %8zu %6zu %6.0f %6s %7s\n",
            s_setup_names[m->setup], m->clients, workers, m->result.rps, m->result.p50,
            m->result.p99, m->result.max, m->result.calls, m->result.errors, m->result.cpu_self,
            broker_cpu, workers_cpu);
}

static double s_ratio(double a, double b)
{
    return b > 0 ? a / b : 0;
}

/* Latencies of count fresh clients, each making one call and destroyed,
 * turn about with brokers live (into[0]) and dead_first (into[1]). */
static void s_fresh_clients(const char *live, const char *dead_first, int count, samples_t *into)
{
    for (int i = 0; i < 2 * count; i++) {
        int64_t start = s_now_us();
        client_t *client = s_client(i % 2 ? dead_first : live);
        int rc = s_broker_call(client, 0);
        client_destroy(&client);
        if (rc != 0)
            into[i % 2].errors++;
        else
            s_record(&into[i % 2], s_now_us() - start);
    }
}

/* A client that never reads: it sends mmi.service requests (answered by the
 * broker itself, so no worker is kept busy) as fast as the broker takes
 * them, with a receive buffer of one message. */
typedef struct {
    const char *endpoint;
    long rate; /* requests a second; 0: as fast as the broker takes them */
    atomic_bool stop;
    long sent;
} flooder_t;

static void *s_flooder(void *args)
{
    flooder_t *flooder = args;
    zsock_t *socket = zsock_new(ZMQ_DEALER);
    zsock_set_rcvhwm(socket, 1);
    zsock_set_sndtimeo(socket, 100);
    zsock_set_linger(socket, 0);
    zsock_connect(socket, "%s", flooder->endpoint);
    int64_t start = s_now_us();
    while (!atomic_load(&flooder->stop)) {
        /* At a rate: what is due by now, then a pause of a millisecond. */
        if (flooder->rate > 0 && flooder->sent >= (s_now_us() - start) * flooder->rate / 1000000) {
            zclock_sleep(1);
            continue;
        }
        zmsg_t *msg = zmsg_new();
        zmsg_addstr(msg, "");
        zmsg_addstr(msg, "MDPC01");
        zmsg_addstr(msg, "mmi.service");
        zmsg_addstr(msg, "tally");
        if (zmsg_send(&msg, socket) == 0)
            flooder->sent++;
        zmsg_destroy(&msg);
    }
    zsock_destroy(&socket);
    return NULL;
}

/* Rounds of clients' calls taking turns unloaded (into[0]) and while a
 * flooder that never reads sends all it can (into[1]). Returns how many
 * requests the flooder sent. */
static long s_flood_rounds(const char *endpoint, long rate, int clients, int warmup_ms, int ms,
                           int rounds, pid_t broker, const pid_t *tallies, int ntallies,
                           samples_t *into)
{
    long sent = 0;
    for (int round = 0; round < 2 * rounds; round++) {
        bool flooded = (round + round / 2) % 2 == 1; /* off on, on off, off on ... */
        flooder_t flooder = {.endpoint = endpoint, .rate = rate};
        pthread_t thread;
        if (flooded) {
            pthread_create(&thread, NULL, s_flooder, &flooder);
            zclock_sleep(200); /* its pipe is full before the round starts */
        }
        s_run_round(SETUP_BROKER, endpoint, clients, warmup_ms, ms, broker, tallies, ntallies,
                    &into[flooded]);
        if (flooded) {
            atomic_store(&flooder.stop, true);
            pthread_join(thread, NULL);
            sent += flooder.sent;
        }
    }
    return sent;
}

static void s_usage(void)
{
    fprintf(stderr, "usage: bench_broker -d DB_URL [-b BROKER] [-t TALLY] [-l LOG_DIR] [-T MS] "
                    "[-w MS] [-r ROUNDS] [-p BYTES] [-c 1,4,16] [-W 1,2,4] [-F FRESH] "
                    "[-N FLOOD_ROUNDS] [-R FLOOD_RATE]\n");
}

int main(int argc, char **argv)
{
    const char *db_url = getenv("CHUANG_BENCH_DB_URL");
    const char *broker_bin = CHUANG_BUILD_DIR "/services/broker/chuang-broker";
    const char *tally_bin = CHUANG_BUILD_DIR "/tests/fixtures/tally/chuang-tally";
    const char *clients_list = "1,4,16", *workers_list = "1,2,4";
    int duration_ms = 2000, warmup_ms = 100, rounds = 4, fresh = 200, flood = 4;
    long flood_rate = 10000;
    long payload = 64;
    int opt;
    while ((opt = getopt(argc, argv, "d:b:t:l:T:w:r:p:c:W:F:N:R:h")) != -1) {
        switch (opt) {
        case 'd':
            db_url = optarg;
            break;
        case 'b':
            broker_bin = optarg;
            break;
        case 't':
            tally_bin = optarg;
            break;
        case 'l':
            s_log_dir = optarg;
            break;
        case 'T':
            duration_ms = atoi(optarg);
            break;
        case 'w':
            warmup_ms = atoi(optarg);
            break;
        case 'r':
            rounds = atoi(optarg);
            break;
        case 'p':
            payload = atol(optarg);
            break;
        case 'c':
            clients_list = optarg;
            break;
        case 'W':
            workers_list = optarg;
            break;
        case 'F':
            fresh = atoi(optarg);
            break;
        case 'N':
            flood = atoi(optarg);
            break;
        case 'R':
            flood_rate = atol(optarg);
            break;
        default:
            s_usage();
            return 2;
        }
    }
    int clients[MAX_LIST], workers[MAX_LIST];
    int nclients = bench_parse_list(clients_list, clients, MAX_CLIENTS, MAX_LIST);
    int nworkers = bench_parse_list(workers_list, workers, MAX_WORKERS, MAX_LIST);
    if (!db_url || !*db_url || rounds < 1 || rounds > 100 || duration_ms < 50 * rounds ||
        warmup_ms < 0 || payload < 0 || payload > 60000 || nclients < 0 || nworkers < 0 ||
        fresh < 0 || flood < 0 || flood_rate < 0) {
        s_usage();
        return 2;
    }
    char log_dir[] = "/tmp/chuang-bench.XXXXXX";
    if (!s_log_dir && !(s_log_dir = mkdtemp(log_dir))) {
        perror("bench: mkdtemp");
        return 1;
    }

    zsys_init();
    zsys_handler_set(NULL);
    logger_init("bench", LOGGER_ERROR); /* not the plain-mode warning on every run */
    struct sigaction action = {.sa_handler = s_on_signal};
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGHUP, &action, NULL);
    atexit(s_kill_children);

    config_t *config = config_new(NULL);
    config_set(config, "security.plain", "yes");
    s_load.security = security_new(config);
    s_make_load((size_t)payload);

    printf("chuang broker benchmark\n");
    printf("  payload    tally Echo data of %ld B; request body (packed chuang.Request) %zu B, "
           "reply body (chuang.Reply) %zu B\n",
           payload, s_load.body_size, s_load.reply_size);
    printf("  raw frames \"\" \"MDPC01\" \"tally\" + %zu B body, echoed unchanged\n",
           s_load.body_size);
    printf("  each row   %d rounds of %d ms warm-up + %d ms measured (%d ms measured in all), "
           "taking turns with\n"
           "             the other two setups of the same clients and workers; each client a "
           "thread doing\n"
           "             synchronous request->reply\n",
           rounds, warmup_ms, duration_ms / rounds, duration_ms / rounds * rounds);
    printf("  raw-direct DEALER clients -> one ROUTER thread echoing (tcp 127.0.0.1)\n");
    printf("  raw-proxy  DEALER clients -> ROUTER/DEALER zmq_proxy thread -> W DEALER echo "
           "threads (tcp both hops)\n");
    printf("  broker     client_call -> chuang-broker (plain) -> W chuang-tally processes, "
           "1 worker thread each\n");
    printf("  logs       %s\n\n", s_log_dir);
    fflush(stdout);

    int port = bench_free_port();
    char endpoint[64], bind_env[96], brokers_env[96], db_env[1024];
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    snprintf(bind_env, sizeof bind_env, "CHUANG_BROKER_ENDPOINT=%s", endpoint);
    snprintf(brokers_env, sizeof brokers_env, "CHUANG_BROKERS=%s", endpoint);
    snprintf(db_env, sizeof db_env, "CHUANG_DB_URL=%s", db_url);
    const char *broker_env[] = {bind_env, "CHUANG_SECURITY_PLAIN=yes", "CHUANG_LOG_LEVEL=warn",
                                NULL};
    const char *tally_env[] = {brokers_env,
                               db_env,
                               "CHUANG_SECURITY_PLAIN=yes",
                               "CHUANG_WORKER_THREADS=1",
                               "CHUANG_LOG_LEVEL=warn",
                               NULL};

    int rc = 1;
    measured_t rows[ROW_MAX];
    int nrows = 0;
    pid_t tallies[MAX_WORKERS];
    int ntallies = 0;
    pid_t broker = s_spawn("broker", broker_bin, broker_env);
    if (broker < 0) {
        fprintf(stderr, "bench: cannot start %s\n", broker_bin);
        goto done;
    }
    for (int w = 0; w < nworkers; w++) {
        while (ntallies < workers[w]) {
            char name[32];
            snprintf(name, sizeof name, "tally-%d", ntallies + 1);
            pid_t pid = s_spawn(name, tally_bin, tally_env);
            if (pid < 0) {
                fprintf(stderr, "bench: cannot start %s\n", tally_bin);
                goto done;
            }
            tallies[ntallies++] = pid;
        }
        fprintf(stderr, "bench: waiting for %d tally worker(s)\n", workers[w]);
        if (s_wait_workers(endpoint, workers[w], broker, tallies, ntallies) != 0) {
            fprintf(stderr, "bench: %d tally worker(s) did not serve in time; see %s/*.log\n",
                    workers[w], s_log_dir);
            goto done;
        }
        for (int c = 0; c < nclients; c++) {
            /* The three setups take turns, round by round, in a rotating order. */
            samples_t samples[3] = {0};
            for (int round = 0; round < rounds; round++) {
                for (int i = 0; i < 3; i++) {
                    setup_t setup = (setup_t)((round + i) % 3);
                    int ms = duration_ms / rounds;
                    if (setup == SETUP_BROKER)
                        s_run_round(SETUP_BROKER, endpoint, clients[c], warmup_ms, ms, broker,
                                    tallies, ntallies, &samples[setup]);
                    else
                        s_run_raw(setup == SETUP_DIRECT ? 0 : workers[w], clients[c], warmup_ms, ms,
                                  &samples[setup]);
                }
            }
            for (int i = 0; i < 3; i++) {
                measured_t *m = &rows[nrows++];
                *m = (measured_t){.setup = (setup_t)i,
                                  .clients = clients[c],
                                  .workers = workers[w],
                                  .result = s_result(&samples[i])};
                s_print_result(stderr, m);
            }
        }
    }
    rc = 0;
    for (int i = 0; i < nrows; i++)
        if (rows[i].result.errors > 0 || rows[i].result.calls == 0)
            rc = 1;
    result_t fresh_results[2] = {0};
    if (fresh > 0) {
        char dead_first[160];
        snprintf(dead_first, sizeof dead_first, "tcp://127.0.0.1:%d,%s", bench_free_port(),
                 endpoint);
        samples_t samples[2] = {0};
        s_fresh_clients(endpoint, dead_first, fresh, samples);
        for (int i = 0; i < 2; i++) {
            fresh_results[i] = s_result(&samples[i]);
            if (fresh_results[i].errors > 0 || fresh_results[i].calls == 0)
                rc = 1;
        }
    }

    result_t flood_results[2] = {0};
    long flood_sent = 0;
    int flood_clients = nclients > 0 ? clients[nclients - 1] : 4;
    if (flood > 0) {
        samples_t samples[2] = {0};
        flood_sent =
            s_flood_rounds(endpoint, flood_rate, flood_clients, warmup_ms, duration_ms / rounds,
                           flood, broker, tallies, ntallies, samples);
        for (int i = 0; i < 2; i++) {
            flood_results[i] = s_result(&samples[i]);
            if (flood_results[i].errors > 0 || flood_results[i].calls == 0)
                rc = 1;
        }
    }

    printf("measurements: latency in microseconds; cpu in %% of one core during the measured "
           "windows,\n"
           "cpu:me = this process (the clients, and in raw rows the echo and proxy threads)\n");
    printf("%-10s %7s %7s %9s %8s %8s %8s %8s %6s %6s %6s %7s\n", "setup", "clients", "workers",
           "req/s", "p50", "p99", "max", "calls", "errors", "cpu:me", "broker", "workers");
    for (int i = 0; i < nrows; i++)
        s_print_result(stdout, &rows[i]);

    printf("\nratios, broker / raw at the same clients (and workers for raw-proxy), measured "
           "side by side:\n"
           "req/s below 1 is throughput lost; p50 and p99 above 1 are latency added\n");
    printf("%7s %7s | %-22s | %-22s\n", "clients", "workers", "vs raw-direct", "vs raw-proxy");
    printf("%7s %7s | %6s %7s %7s | %6s %7s %7s\n", "", "", "req/s", "p50", "p99", "req/s", "p50",
           "p99");
    for (int i = 0; i + 2 < nrows; i += 3) {
        const result_t *d = &rows[i].result, *p = &rows[i + 1].result, *b = &rows[i + 2].result;
        printf("%7d %7d | %6.2f %7.2f %7.2f | %6.2f %7.2f %7.2f\n", rows[i + 2].clients,
               rows[i + 2].workers, s_ratio(b->rps, d->rps), s_ratio(b->p50, d->p50),
               s_ratio(b->p99, d->p99), s_ratio(b->rps, p->rps), s_ratio(b->p50, p->p50),
               s_ratio(b->p99, p->p99));
    }
    if (fresh > 0) {
        printf("\nnew clients, one call each (%d of each, taking turns), latency in microseconds "
               "from client_new to the reply:\n",
               fresh);
        printf("%-22s %8s %8s %8s %6s\n", "brokers listed", "p50", "p99", "max", "errors");
        const char *names[] = {"live broker only", "dead broker first"};
        for (int i = 0; i < 2; i++)
            printf("%-22s %8u %8u %8u %6zu\n", names[i], fresh_results[i].p50, fresh_results[i].p99,
                   fresh_results[i].max, fresh_results[i].errors);
        printf("ratio dead-first / live: p50 %.2f, p99 %.2f\n",
               s_ratio(fresh_results[1].p50, fresh_results[0].p50),
               s_ratio(fresh_results[1].p99, fresh_results[0].p99));
    }
    if (flood > 0) {
        char rate[32] = "as fast as it takes them";
        if (flood_rate > 0)
            snprintf(rate, sizeof rate, "%ld a second", flood_rate);
        printf("\n%d clients calling through the broker, %d rounds each unloaded and while a "
               "client that never reads\nfloods it with mmi.service requests, %s (%ld sent, "
               "their replies dropped):\n",
               flood_clients, flood, rate, flood_sent);
        printf("%-22s %9s %8s %8s %8s %6s %6s\n", "", "req/s", "p50", "p99", "max", "errors",
               "broker");
        const char *names[] = {"unloaded", "while flooded"};
        for (int i = 0; i < 2; i++)
            printf("%-22s %9.0f %8u %8u %8u %6zu %6.0f\n", names[i], flood_results[i].rps,
                   flood_results[i].p50, flood_results[i].p99, flood_results[i].max,
                   flood_results[i].errors, flood_results[i].cpu_broker);
        printf("ratio flooded / unloaded: req/s %.2f, p50 %.2f, p99 %.2f\n",
               s_ratio(flood_results[1].rps, flood_results[0].rps),
               s_ratio(flood_results[1].p50, flood_results[0].p50),
               s_ratio(flood_results[1].p99, flood_results[0].p99));
    }
    if (rc != 0)
        printf("\nsome row had errors or no calls: see the errors column and %s/*.log\n",
               s_log_dir);
    fflush(stdout);

done:
    s_kill_children();
    security_destroy(&s_load.security);
    config_destroy(&config);
    free(s_load.data);
    free(s_load.body);
    return rc;
}
