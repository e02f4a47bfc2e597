/*
 * bench_registry.c - what a registration costs through the broker and the
 * registry service, measured against pgbench running the registration's SQL
 * straight at the same PostgreSQL, at the same concurrency, in the same run.
 *
 * For C concurrent clients (C in 1, 8, 32 by default), one after the other,
 * three sides:
 *
 *   broker    C client threads, each calling registry RegisterEntity with
 *             client_call() (common/client.h) in a loop: client -> the real
 *             chuang-broker (plain) -> ONE chuang-registry process with
 *             CHUANG_WORKER_THREADS=4 (-t), i.e. at most 4 registrations in
 *             PostgreSQL at once whatever C is: a fixed pool, as deployed
 *             (more threads than the 2 cores this was written on only queue
 *             more transactions in PostgreSQL). Every call consumes a name
 *             reserved beforehand with ReserveName (not timed) and registers
 *             a limited company with 2 founders, a domicile and 1 business
 *             address (each address new), as tests/integration/
 *             test_registry.c does.
 *   writes    pgbench -n -M prepared -c C -j min(C,2) -T 3 -f registry_tx.sql:
 *             the rows the registration writes (store_entity_add, with
 *             store_history_start, + outbox_write), in one transaction, on
 *             C connections. -M prepared: each statement parsed and
 *             planned once per connection, as the registry's db_query.
 *   full      the same with registry_tx_full.sql: every statement the
 *             registry sends for one registration, as it sends them
 *             (the idempotency claim and record, the reservation taken,
 *             the organisation number, the writes, the entity read back
 *             in one statement, the audit record): 14 statements.
 * pgbench's reservations are made by registry_tx_setup.sql before each row
 * (not timed); its payloads have the bytes the registry really writes (taken
 * from a registration made at start-up).
 *
 * Two more rows: pgbench alone at as many clients as the registry has
 * connections (unless a C is that), what PostgreSQL gives such a pool; and
 * (-x C2, default 32; 0 for none) the broker with C2 clients against TWO
 * registry processes of 4 threads each (8 connections).
 *
 * Timing: each side of a row is measured in rounds (-n, default 2) of -T
 * seconds (default 3), the three sides taking turns round by round in a
 * rotating order, so that a disturbance of this shared machine (the
 * hypervisor's steal, a slow disk flush) does not hit one side only. Before
 * each round the tables are vacuumed and analysed (not timed), so that an
 * autovacuum run set off by the previous inserts does not land in one
 * side's window. A broker round is a warm-up (-w, default 300 ms) and a
 * window: every call that ends in the window counts and has its latency
 * recorded. A pgbench round is one pgbench -T run: its transactions over
 * its time without connections (what its tps is), latencies from its
 * per-transaction log (--log). Rates are transactions over the rounds'
 * time; p50 and p99 nearest rank over every transaction. CPU time of each
 * process (the benchmark's client threads, the broker, the registry,
 * pgbench, and PostgreSQL: the postmaster and all its children) is sampled
 * over the windows and shown in % of one core and in CPU microseconds per
 * registration, with the rest of the machine's busy CPU and the
 * hypervisor's steal. Before the first row, 1 s of each side warms up (not
 * reported). At one client both sides wait on round trips: on a virtual
 * machine, where waking an idle CPU can cost a tenth of a millisecond, that
 * row says more about the machine than about the code.
 *
 *   bench_registry -d DB_URL -r REDIS_URL [-b BROKER] [-R REGISTRY] [-P PGBENCH]
 *                  [-s SQL_DIR] [-l LOG_DIR] [-T SECONDS] [-n ROUNDS] [-w MS]
 *                  [-c 1,8,32] [-t THREADS] [-x CLIENTS]
 *
 * DB_URL (or CHUANG_BENCH_DB_URL) is the registry's database as its own role
 * (tests/bench/run_registry.sh makes one in a private harness); REDIS_URL (or
 * CHUANG_BENCH_REDIS_URL) its Redis. pgbench and psql (the same folder as
 * PGBENCH) get the connection from PGHOST, PGPORT, PGUSER, PGPASSWORD and
 * PGDATABASE, never on a command line, and search_path registry through
 * PGOPTIONS. Children's output goes to LOG_DIR. Every child is killed at the
 * end, on failure, on SIGINT/SIGTERM/SIGHUP and (PR_SET_PDEATHSIG) when this
 * process dies. Exits 0, or 1 when a call failed, a row has no result or a
 * child did not start, 2 on bad arguments.
 */
#include "bench_util.h"
#include "client.h"
#include "config.h"
#include "logger.h"
#include "registry.pb-c.h"
#include "security.h"
#include "trade_name.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
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
#ifndef CHUANG_BENCH_SQL_DIR
#error "CHUANG_BENCH_SQL_DIR must name the folder of the pgbench scripts"
#endif

#define AGENCY         "330106"
#define MAX_CHILDREN   32
#define MAX_LIST       8
#define MAX_CLIENTS    256
#define CALL_MS        10000 /* a call that takes longer is an error */
#define START_MS       60000
#define POOL_MAX       400000
#define RESERVE_MAX_MS 30000
#define ROW_MAX        (MAX_LIST + 2)

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

static void s_forget(pid_t pid)
{
    for (int i = 0; i < s_nchildren; i++)
        if (s_children[i] == pid)
            s_children[i] = 0;
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

/* Starts argv[0] with extra "KEY=VALUE" settings over this environment,
 * stdout and stderr to LOG_DIR/<name>.log. Returns the pid or -1. */
static pid_t s_spawn(const char *name, char *const *argv, const char *const *extra)
{
    if (s_nchildren >= MAX_CHILDREN) {
        /* Reuse the slots of children already reaped. */
        int n = 0;
        for (int i = 0; i < s_nchildren; i++)
            if (s_children[i] > 0)
                s_children[n++] = s_children[i];
        s_nchildren = n;
        if (n >= MAX_CHILDREN)
            return -1;
    }
    /* Built before fork: the child only makes system calls. */
    char **env = bench_child_env(name, extra);
    if (!env)
        return -1;
    char log_path[1024];
    snprintf(log_path, sizeof log_path, "%s/%s.log", s_log_dir, name);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        if (chdir(s_log_dir) != 0)
            _exit(127);
        execve(argv[0], argv, env);
        _exit(127);
    }
    free(env);
    if (pid > 0)
        s_children[s_nchildren++] = pid;
    return pid;
}

/* Whether a child has exited (and then reaps it, and forgets its pid). */
static bool s_child_exited(pid_t pid, int *status)
{
    int got = 0;
    if (waitpid(pid, &got, WNOHANG) != pid)
        return false;
    s_forget(pid);
    if (status)
        *status = got;
    return true;
}

/* Waits up to ms for a child; kills it after that. Returns its exit code,
 * or -1 when it was killed or did not exit normally. */
static int s_child_wait(pid_t pid, int ms)
{
    int64_t end = zclock_mono() + ms;
    int status = 0;
    while (!s_child_exited(pid, &status)) {
        if (zclock_mono() >= end) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            s_forget(pid);
            return -1;
        }
        zclock_sleep(10);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* --- CPU time ----------------------------------------------------------------- */

/* CPU time (user + system) of a process so far, in microseconds, and its
 * parent's pid. */
static int64_t s_cpu_us_ppid(pid_t pid, pid_t *ppid)
{
    int64_t us = bench_proc_cpu_us(pid, ppid);
    return us < 0 ? 0 : us;
}
static int64_t s_cpu_us(pid_t pid)
{
    return pid > 0 ? s_cpu_us_ppid(pid, NULL) : 0;
}

static pid_t s_postmaster;

/* CPU time of PostgreSQL: the postmaster and all its children (backends,
 * WAL writer, checkpointer, ...) alive now. */
static int64_t s_pg_cpu_us(void)
{
    return bench_tree_cpu_us(s_postmaster);
}

/* What the CPU sampler reads: the processes of a row. */
typedef struct {
    pid_t broker;
    pid_t registries[2];
    int nregistries;
    pid_t pgbench;
} procs_t;

typedef struct {
    int64_t at, self, broker, registry, pgbench, pg;
    int64_t busy, steal; /* the whole machine (/proc/stat), microseconds */
} cpu_sample_t;

/* The whole machine's CPU time so far: busy (all but idle and iowait) and
 * stolen by the hypervisor, in microseconds. */
static void s_machine_cpu_us(int64_t *busy, int64_t *steal)
{
    *busy = *steal = 0;
    FILE *file = fopen("/proc/stat", "r");
    if (!file)
        return;
    unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
                       stolen = 0;
    if (fscanf(file, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &system, &idle,
               &iowait, &irq, &softirq, &stolen) == 8) {
        long hz = sysconf(_SC_CLK_TCK);
        *busy = (int64_t)(user + nice + system + irq + softirq) * 1000000 / hz;
        *steal = (int64_t)stolen * 1000000 / hz;
    }
    fclose(file);
}

static cpu_sample_t s_cpu_sample(const procs_t *procs)
{
    cpu_sample_t sample = {.at = zclock_usecs(),
                           .self = bench_self_cpu_us(),
                           .broker = s_cpu_us(procs->broker),
                           .pgbench = s_cpu_us(procs->pgbench),
                           .pg = s_pg_cpu_us()};
    s_machine_cpu_us(&sample.busy, &sample.steal);
    for (int i = 0; i < procs->nregistries; i++)
        sample.registry += s_cpu_us(procs->registries[i]);
    return sample;
}

/* --- measurements ------------------------------------------------------------- */

typedef struct {
    uint32_t *us;
    size_t count, cap;
} latencies_t;

static void s_record(latencies_t *lat, int64_t us)
{
    if (lat->count == lat->cap) {
        lat->cap = lat->cap ? lat->cap * 2 : 4096;
        lat->us = realloc(lat->us, lat->cap * sizeof *lat->us);
        assert(lat->us);
    }
    lat->us[lat->count++] = us < 0 ? 0 : us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int s_compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static uint32_t s_percentile(const uint32_t *sorted, size_t count, double p)
{
    if (count == 0)
        return 0;
    size_t rank = (size_t)(p / 100.0 * (double)count + 0.999999);
    if (rank < 1)
        rank = 1;
    return sorted[rank > count ? count - 1 : rank - 1];
}

/* One row's figures: rate, latency and CPU (percent of one core). */
typedef struct {
    bool done;
    double rate;
    uint32_t p50, p99, max;
    size_t count, errors;
    bool ran_out; /* broker: the reservations ran out */
    double cpu_self, cpu_broker, cpu_registry, cpu_pgbench, cpu_pg;
    double cpu_other, cpu_steal; /* the rest of the machine; the hypervisor's */
    char note[160];
} result_t;

/* Fills the latency figures of result from lat (sorted here) and frees lat. */
static void s_latency_figures(result_t *result, latencies_t *lat)
{
    qsort(lat->us, lat->count, sizeof *lat->us, s_compare_u32);
    result->p50 = s_percentile(lat->us, lat->count, 50);
    result->p99 = s_percentile(lat->us, lat->count, 99);
    result->max = lat->count ? lat->us[lat->count - 1] : 0;
    free(lat->us);
    memset(lat, 0, sizeof *lat);
}

static void s_cpu_figures(result_t *result, const cpu_sample_t *a, const cpu_sample_t *b)
{
    double window = (double)(b->at - a->at);
    if (window <= 0)
        return;
    result->cpu_self = 100.0 * (double)(b->self - a->self) / window;
    result->cpu_broker = 100.0 * (double)(b->broker - a->broker) / window;
    result->cpu_registry = 100.0 * (double)(b->registry - a->registry) / window;
    result->cpu_pgbench = 100.0 * (double)(b->pgbench - a->pgbench) / window;
    result->cpu_pg = 100.0 * (double)(b->pg - a->pg) / window;
    double ours = result->cpu_self + result->cpu_broker + result->cpu_registry +
                  result->cpu_pgbench + result->cpu_pg;
    result->cpu_other = 100.0 * (double)(b->busy - a->busy) / window - ours;
    if (result->cpu_other < 0)
        result->cpu_other = 0; /* sampling jitter */
    result->cpu_steal = 100.0 * (double)(b->steal - a->steal) / window;
}

/* What the rounds of one side of a row gathered. */
typedef struct {
    bool done;
    latencies_t lat;
    size_t count, errors; /* count: transactions completed in the windows */
    double seconds;       /* the windows' length */
    cpu_sample_t cpu;     /* the CPU the windows used; .at: how long they were sampled */
    bool ran_out;
    char note[160];
} acc_t;

static void s_cpu_add(acc_t *acc, const cpu_sample_t *a, const cpu_sample_t *b)
{
    acc->cpu.at += b->at - a->at;
    acc->cpu.self += b->self - a->self;
    acc->cpu.broker += b->broker - a->broker;
    acc->cpu.registry += b->registry - a->registry;
    acc->cpu.pgbench += b->pgbench - a->pgbench;
    acc->cpu.pg += b->pg - a->pg;
    acc->cpu.busy += b->busy - a->busy;
    acc->cpu.steal += b->steal - a->steal;
}

/* The figures of a side's rounds; frees what acc holds. */
static void s_finish(acc_t *acc, result_t *result)
{
    *result = (result_t){
        .done = acc->done, .count = acc->count, .errors = acc->errors, .ran_out = acc->ran_out};
    snprintf(result->note, sizeof result->note, "%s", acc->note);
    if (acc->seconds > 0)
        result->rate = (double)acc->count / acc->seconds;
    s_latency_figures(result, &acc->lat);
    const cpu_sample_t zero = {0};
    s_cpu_figures(result, &zero, &acc->cpu);
    memset(acc, 0, sizeof *acc);
}

/* --- the registry's traffic --------------------------------------------------- */

static security_t *s_security;
static const char *s_endpoint;

static client_t *s_client(void)
{
    client_t *client = client_new(s_endpoint, s_security);
    client_set_identity(client, AGENCY, "bench", "officer");
    client_set_timeouts(client, CALL_MS, CALL_MS);
    return client;
}

/* The pool of reserved names: filled before a row, consumed by its clients. */
static struct {
    char (*ids)[40];
    long *index; /* the trade name's index, which also makes the addresses unique */
    atomic_long count;
    atomic_long next;   /* the next one a client takes */
    atomic_long naming; /* the next trade-name index */
    pthread_mutex_t lock;
} s_pool = {.lock = PTHREAD_MUTEX_INITIALIZER};

static long s_pool_unused(void)
{
    long unused = atomic_load(&s_pool.count) - atomic_load(&s_pool.next);
    return unused > 0 ? unused : 0;
}

typedef struct {
    atomic_long reserved; /* in this top-up */
    atomic_long errors;
    int64_t started; /* zclock_usecs */
    double window_s; /* the row's warm-up and window */
    atomic_bool stop;
} topup_t;

/* Reserves one name; 0 when it went into the pool. */
static int s_reserve_one(client_t *client)
{
    long index = atomic_fetch_add(&s_pool.naming, 1);
    char name[64];
    trade_name(index % TRADE_NAME_COUNT, name, sizeof name);
    Chuang__Registry__ReserveNameRequest request = CHUANG__REGISTRY__RESERVE_NAME_REQUEST__INIT;
    request.region = "杭州";
    request.trade_name = name;
    request.industry = "网络科技";
    request.organisational_form = "有限公司";
    request.applicant_name = "张三";
    request.applicant_id_number = "11010519491231002X";
    Chuang__Reply *reply = client_call(client, "registry", "ReserveName", &request.base, NULL);
    int rc = -1;
    if (reply && reply->status == CHUANG__STATUS__OK) {
        Chuang__Registry__NameReservation *reservation = chuang__registry__name_reservation__unpack(
            NULL, reply->payload.len, reply->payload.data);
        if (reservation) {
            pthread_mutex_lock(&s_pool.lock);
            long slot = atomic_load(&s_pool.count);
            if (slot < POOL_MAX) {
                snprintf(s_pool.ids[slot], sizeof s_pool.ids[slot], "%s",
                         reservation->reservation_id);
                s_pool.index[slot] = index;
                atomic_store(&s_pool.count, slot + 1);
                rc = 0;
            }
            pthread_mutex_unlock(&s_pool.lock);
            chuang__registry__name_reservation__free_unpacked(reservation, NULL);
        }
    } else {
        static atomic_int told;
        if (atomic_fetch_add(&told, 1) < 3)
            fprintf(stderr, "bench: ReserveName %s failed: status %d %s\n", name,
                    reply ? (int)reply->status : -1, reply ? reply->message : "no memory");
    }
    chuang__reply__free_unpacked(reply, NULL);
    return rc;
}

static void *s_topup_runner(void *args)
{
    topup_t *topup = args;
    client_t *client = s_client();
    while (!atomic_load(&topup->stop)) {
        double elapsed = (double)(zclock_usecs() - topup->started) / 1e6;
        long reserved = atomic_load(&topup->reserved);
        /* Enough when the pool holds what this top-up's own rate would
         * register in the row's time, plus a fifth. */
        if (elapsed > 0.5 && s_pool_unused() >= 200 &&
            (double)s_pool_unused() >= (double)reserved / elapsed * topup->window_s * 1.2)
            break;
        if (elapsed * 1000 > RESERVE_MAX_MS || atomic_load(&s_pool.count) >= POOL_MAX)
            break;
        if (s_reserve_one(client) == 0)
            atomic_fetch_add(&topup->reserved, 1);
        else if (atomic_fetch_add(&topup->errors, 1) > 20)
            break;
    }
    atomic_store(&topup->stop, true);
    client_destroy(&client);
    return NULL;
}

/* Reserves names with threads clients until the pool holds enough for a
 * row of window_s seconds (see s_topup_runner). The reservations go through
 * the same broker and workers as the registrations and are cheaper, so the
 * rate they reach bounds the rate of registrations. Returns how many were
 * reserved, -1 on errors. */
static long s_topup(int threads, double window_s, double *seconds)
{
    topup_t topup = {.started = zclock_usecs(), .window_s = window_s};
    pthread_t ids[64];
    for (int i = 0; i < threads; i++)
        pthread_create(&ids[i], NULL, s_topup_runner, &topup);
    for (int i = 0; i < threads; i++)
        pthread_join(ids[i], NULL);
    *seconds = (double)(zclock_usecs() - topup.started) / 1e6;
    return atomic_load(&topup.errors) > 20 ? -1 : atomic_load(&topup.reserved);
}

/* A registration as test_registry.c makes it, with addresses of its own. */
typedef struct {
    Chuang__Registry__RegisterRequest request;
    Chuang__Registry__Person representative;
    Chuang__Registry__Person founder_person[2];
    Chuang__Registry__Founder founder[2];
    Chuang__Registry__Founder *founders[2];
    Chuang__Registry__FounderCategory categories[2];
    Chuang__Registry__Address domicile;
    Chuang__Registry__Address shop;
    Chuang__Registry__Address *business[1];
    char reservation_id[40];
    char domicile_detail[96];
    char shop_detail[96];
} registration_t;

static void s_registration(registration_t *r, const char *reservation_id, long index)
{
    memset(r, 0, sizeof *r);
    snprintf(r->reservation_id, sizeof r->reservation_id, "%s", reservation_id);
    snprintf(r->domicile_detail, sizeof r->domicile_detail, "文三路 %07ld 号 1 幢 501 室", index);
    snprintf(r->shop_detail, sizeof r->shop_detail, "西溪路 %07ld 号", index);
    chuang__registry__register_request__init(&r->request);
    chuang__registry__person__init(&r->representative);
    r->representative.name = "李四";
    r->representative.id_number = "330106199003071236";
    r->representative.phone = "13812345678";
    r->categories[0] = CHUANG__REGISTRY__FOUNDER_CATEGORY__GRADUATE;
    r->categories[1] = CHUANG__REGISTRY__FOUNDER_CATEGORY__RETURNEE;
    static const char *const names[2] = {"李四", "王五"};
    static const char *const ids[2] = {"330106199003071236", "330106200001014567"};
    for (int i = 0; i < 2; i++) {
        chuang__registry__person__init(&r->founder_person[i]);
        r->founder_person[i].name = (char *)names[i];
        r->founder_person[i].id_number = (char *)ids[i];
        r->founder_person[i].phone = "13900001111";
        chuang__registry__founder__init(&r->founder[i]);
        r->founder[i].person = &r->founder_person[i];
        r->founder[i].n_categories = 2;
        r->founder[i].categories = r->categories;
        r->founder[i].subscribed_capital_fen = 50000000;
        r->founders[i] = &r->founder[i];
    }
    chuang__registry__address__init(&r->domicile);
    r->domicile.division_code = AGENCY;
    r->domicile.detail = r->domicile_detail;
    chuang__registry__address__init(&r->shop);
    r->shop.division_code = AGENCY;
    r->shop.detail = r->shop_detail;
    r->business[0] = &r->shop;

    r->request.reservation_id = r->reservation_id;
    r->request.entity_type = CHUANG__REGISTRY__ENTITY_TYPE__LIMITED_COMPANY;
    r->request.legal_representative = &r->representative;
    r->request.registered_capital_fen = 100000000;
    r->request.business_scope = "网络技术开发、技术服务";
    r->request.industry_code = "I6513";
    r->request.n_founders = 2;
    r->request.founders = r->founders;
    r->request.domicile = &r->domicile;
    r->request.n_business_addresses = 1;
    r->request.business_addresses = r->business;
}

static atomic_long s_registered; /* every registration answered OK, warm-ups included */

/* Registers the next name of the pool. Returns 0 on OK, 1 when the pool is
 * empty, -1 on an error reply; *reply_out (when not NULL) gets the reply. */
static int s_register_next(client_t *client, Chuang__Reply **reply_out)
{
    long slot = atomic_fetch_add(&s_pool.next, 1);
    if (slot >= atomic_load(&s_pool.count))
        return 1;
    registration_t registration;
    s_registration(&registration, s_pool.ids[slot], s_pool.index[slot]);
    Chuang__Reply *reply =
        client_call(client, "registry", "RegisterEntity", &registration.request.base, NULL);
    int rc = reply && reply->status == CHUANG__STATUS__OK ? 0 : -1;
    if (rc == 0) {
        atomic_fetch_add(&s_registered, 1);
    } else {
        static atomic_int told;
        if (atomic_fetch_add(&told, 1) < 3)
            fprintf(stderr, "bench: RegisterEntity failed: status %d %s%s%s\n",
                    reply ? (int)reply->status : -1, reply ? reply->message : "no memory",
                    reply && reply->n_violations ? ": " : "",
                    reply && reply->n_violations ? reply->violations[0]->description : "");
    }
    if (reply_out)
        *reply_out = reply;
    else
        chuang__reply__free_unpacked(reply, NULL);
    return rc;
}

typedef struct {
    int64_t warm_end, end; /* zclock_usecs */
    pthread_barrier_t barrier;
} broker_row_t;

typedef struct {
    broker_row_t *row;
    latencies_t lat;
    size_t errors;
    bool ran_out;
} runner_t;

static void *s_register_runner(void *args)
{
    runner_t *runner = args;
    broker_row_t *row = runner->row;
    client_t *client = s_client();
    pthread_barrier_wait(&row->barrier); /* all connected */
    pthread_barrier_wait(&row->barrier); /* the times are set */
    while (true) {
        int64_t start = zclock_usecs();
        if (start >= row->end)
            break;
        int rc = s_register_next(client, NULL);
        int64_t end = zclock_usecs();
        if (rc == 1) {
            runner->ran_out = true;
            break;
        }
        /* A call counts when it ends in the window (throughput: completions
         * per second); its latency is recorded. */
        if (end < row->warm_end || end > row->end)
            continue;
        if (rc != 0)
            runner->errors++;
        else
            s_record(&runner->lat, end - start);
    }
    client_destroy(&client);
    return NULL;
}

/* C clients registering for warm_ms + window_ms; what the window saw goes
 * into acc. */
static void s_broker_round(int clients, int warm_ms, int window_ms, const procs_t *procs,
                           acc_t *acc)
{
    broker_row_t row;
    pthread_barrier_init(&row.barrier, NULL, (unsigned)clients + 1);
    runner_t *runners = calloc((size_t)clients, sizeof *runners);
    pthread_t *threads = calloc((size_t)clients, sizeof *threads);
    for (int i = 0; i < clients; i++) {
        runners[i].row = &row;
        pthread_create(&threads[i], NULL, s_register_runner, &runners[i]);
    }
    pthread_barrier_wait(&row.barrier);
    int64_t now = zclock_usecs();
    row.warm_end = now + (int64_t)warm_ms * 1000;
    row.end = row.warm_end + (int64_t)window_ms * 1000;
    pthread_barrier_wait(&row.barrier);
    zclock_sleep(warm_ms);
    cpu_sample_t a = s_cpu_sample(procs);
    int64_t left = row.end - zclock_usecs();
    if (left > 0)
        zclock_sleep((int)(left / 1000));
    cpu_sample_t b = s_cpu_sample(procs);

    acc->done = true;
    for (int i = 0; i < clients; i++) {
        pthread_join(threads[i], NULL);
        for (size_t j = 0; j < runners[i].lat.count; j++)
            s_record(&acc->lat, runners[i].lat.us[j]);
        acc->count += runners[i].lat.count;
        free(runners[i].lat.us);
        acc->errors += runners[i].errors;
        acc->ran_out = acc->ran_out || runners[i].ran_out;
    }
    if (acc->ran_out)
        snprintf(acc->note, sizeof acc->note, "the reserved names ran out");
    acc->seconds += window_ms / 1000.0;
    s_cpu_add(acc, &a, &b);
    free(runners);
    free(threads);
    pthread_barrier_destroy(&row.barrier);
}

/* --- pgbench ------------------------------------------------------------------ */

static char s_pgbench[1024], s_psql[1024], s_sql_dir[1024];
static char *s_pg_env[8]; /* PGHOST=... for pgbench and psql, NULL-terminated */
static char *s_payload_hex, *s_input_hex, *s_reply_hex; /* "\x..." */
static size_t s_payload_size, s_input_size, s_reply_size;
static int s_run; /* pgbench runs so far: each has its own reservations */

static char *s_hex(const uint8_t *data, size_t size)
{
    char *text = malloc(2 * size + 3);
    strcpy(text, "\\x");
    for (size_t i = 0; i < size; i++)
        sprintf(text + 2 + 2 * i, "%02x", data[i]);
    return text;
}

/* Makes the reservations of pgbench run `run`: per_client for each client. */
static int s_pgbench_setup(int run, int clients, int per_client)
{
    char name[32], path[1100], v_run[32], v_clients[32], v_per[48];
    snprintf(name, sizeof name, "psql-setup-%d", run);
    snprintf(path, sizeof path, "%s/registry_tx_setup.sql", s_sql_dir);
    snprintf(v_run, sizeof v_run, "run=%d", run);
    snprintf(v_clients, sizeof v_clients, "clients=%d", clients);
    snprintf(v_per, sizeof v_per, "per_client=%d", per_client);
    char *argv[] = {s_psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", v_run, "-v", v_clients, "-v",
                    v_per,  "-f", path, NULL};
    pid_t pid = s_spawn(name, argv, (const char *const *)s_pg_env);
    if (pid < 0 || s_child_wait(pid, 60000) != 0) {
        fprintf(stderr, "bench: making pgbench's reservations failed; see %s/%s.log\n", s_log_dir,
                name);
        return -1;
    }
    return 0;
}

/* Reads every latency of pgbench's per-transaction logs <prefix>.* into lat
 * (field 3: the transaction's time in microseconds), and removes them. */
static void s_pgbench_latencies(const char *prefix, latencies_t *lat)
{
    DIR *dir = opendir(s_log_dir);
    if (!dir)
        return;
    size_t length = strlen(prefix);
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        if (strncmp(entry->d_name, prefix, length) != 0 || entry->d_name[length] != '.')
            continue;
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", s_log_dir, entry->d_name);
        FILE *file = fopen(path, "r");
        if (!file)
            continue;
        char line[256];
        while (fgets(line, sizeof line, file)) {
            long client, number, us;
            if (sscanf(line, "%ld %ld %ld", &client, &number, &us) == 3)
                s_record(lat, us);
        }
        fclose(file);
        unlink(path);
    }
    closedir(dir);
}

/* Reservations a pgbench client may consume in one round of seconds:
 * generous (pgbench reaches a few hundred to a thousand transactions a
 * second here, not always spread evenly over its clients). */
static int s_per_round(int clients, int seconds)
{
    return 3000 * seconds / clients + 300;
}

/* The per-statement report (-r) of the last full run at one client. */
static char s_statements[8192];

/* One pgbench run of script (registry_tx.sql or registry_tx_full.sql)
 * for seconds, consuming the reservations of run from k = k0 + 1 on; what
 * it did goes into acc. */
static void s_pgbench_round(const char *script, int clients, int seconds, int run, int k0,
                            acc_t *acc, bool keep_statements)
{
    acc->done = true;
    static int invocation;
    char name[48], path[1100], prefix[48], log_prefix[80], c[16], j[16], t[16], d_run[32], d_k[32];
    invocation++;
    snprintf(name, sizeof name, "pgbench-%d", invocation);
    snprintf(prefix, sizeof prefix, "pgbench-%d-tx", invocation);
    snprintf(log_prefix, sizeof log_prefix, "--log-prefix=%s", prefix);
    snprintf(path, sizeof path, "%s/%s", s_sql_dir, script);
    snprintf(c, sizeof c, "%d", clients);
    snprintf(j, sizeof j, "%d", clients < 2 ? clients : 2);
    snprintf(t, sizeof t, "%d", seconds);
    snprintf(d_run, sizeof d_run, "run=%d", run);
    snprintf(d_k, sizeof d_k, "k=%d", k0);
    char *d_payload = zsys_sprintf("payload=%s", s_payload_hex);
    char *d_input = zsys_sprintf("input=%s", s_input_hex);
    char *d_reply = zsys_sprintf("reply=%s", s_reply_hex);
    char *argv[] = {s_pgbench, "-n", "-M",      "prepared", "-r",    "-l", log_prefix, "-f",  path,
                    "-c",      c,    "-j",      j,          "-T",    t,    "-D",       d_run, "-D",
                    d_k,       "-D", d_payload, "-D",       d_input, "-D", d_reply,    NULL};
    procs_t procs = {0};
    procs.pgbench = s_spawn(name, argv, (const char *const *)s_pg_env);
    zstr_free(&d_payload);
    zstr_free(&d_input);
    zstr_free(&d_reply);
    if (procs.pgbench < 0) {
        acc->errors++;
        snprintf(acc->note, sizeof acc->note, "cannot start pgbench");
        return;
    }
    /* CPU over the middle of the run, while its connections are open. */
    zclock_sleep(700);
    cpu_sample_t a = s_cpu_sample(&procs);
    zclock_sleep(seconds * 1000 - 900);
    cpu_sample_t b = s_cpu_sample(&procs);
    int rc = s_child_wait(procs.pgbench, seconds * 1000 + 30000);
    s_cpu_add(acc, &a, &b);

    char out_path[1100];
    snprintf(out_path, sizeof out_path, "%s/%s.log", s_log_dir, name);
    FILE *out = fopen(out_path, "r");
    char line[1024];
    bool in_statements = false;
    size_t used = 0;
    if (keep_statements)
        s_statements[0] = '\0';
    double tps = 0;
    long processed = 0;
    while (out && fgets(line, sizeof line, out)) {
        long failed;
        if (sscanf(line, "tps = %lf", &tps) == 1)
            continue;
        else if (sscanf(line, "number of transactions actually processed: %ld", &processed) == 1)
            continue;
        else if (sscanf(line, "number of failed transactions: %ld", &failed) == 1)
            acc->errors += (size_t)failed;
        else if (strstr(line, "error") || strstr(line, "aborted"))
            snprintf(acc->note, sizeof acc->note, "%.*s", (int)strcspn(line, "\n"), line);
        if (strncmp(line, "statement latencies", 19) == 0) {
            in_statements = true;
        } else if (in_statements && keep_statements && used < sizeof s_statements - 200) {
            /* "   0.212   0  INSERT INTO ...": the latency and the statement. */
            double ms;
            long fails;
            int consumed = 0;
            if (sscanf(line, " %lf %ld %n", &ms, &fails, &consumed) == 2 && consumed > 0 &&
                line[consumed] != '\\') {
                char *text = line + consumed;
                size_t length = strcspn(text, "\r\n");
                if (length > 84) { /* cut before a UTF-8 continuation byte */
                    length = 84;
                    while (length > 0 && ((unsigned char)text[length] & 0xC0) == 0x80)
                        length--;
                }
                used += (size_t)snprintf(s_statements + used, sizeof s_statements - used,
                                         "  %7.3f  %.*s%s\n", ms, (int)length, text,
                                         text[length] && text[length] != '\n' ? " ..." : "");
            }
        }
    }
    if (out)
        fclose(out);
    if (rc != 0 && !*acc->note)
        snprintf(acc->note, sizeof acc->note, "pgbench exited %d", rc);
    if (rc != 0 || tps <= 0 || processed <= 0) {
        acc->errors++;
    } else {
        /* tps is processed / the run's time without its connection time. */
        acc->count += (size_t)processed;
        acc->seconds += (double)processed / tps;
    }
    s_pgbench_latencies(prefix, &acc->lat);
}

/* --- the database, directly ----------------------------------------------------- */

static PGconn *s_db; /* the benchmark's own connection: checks and CPU, never timed */
static int64_t s_quiesce_ms;

static long s_db_long(const char *sql)
{
    PGresult *res = PQexec(s_db, sql);
    long value = -1;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
        value = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    return value;
}

/* Before each counted row: VACUUM ANALYZE of the tables a registration
 * touches, so that no autovacuum run left over from the previous row's rows
 * lands in this one's window (it would, at random, on either side). */
static void s_quiesce(void)
{
    int64_t started = zclock_mono();
    /* One statement: VACUUM cannot run in the implicit transaction of a
     * multi-statement string. */
    PGresult *res = PQexec(s_db, "VACUUM (ANALYZE) entities, founders, addresses,"
                                 " entity_addresses, entity_history, name_reservations,"
                                 " chuang_outbox, chuang_idempotency");
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        fprintf(stderr, "bench: vacuum failed: %s", PQerrorMessage(s_db));
    PQclear(res);
    s_quiesce_ms += zclock_mono() - started;
}

/* Waits until the registry processes have their connections open (a main
 * one and one per worker thread each) and then a little for their workers'
 * READY to reach the broker. */
static int s_wait_connections(int expected)
{
    int64_t end = zclock_mono() + START_MS;
    while (zclock_mono() < end) {
        long open = s_db_long("SELECT count(*) FROM pg_stat_activity"
                              " WHERE usename = current_user AND pid <> pg_backend_pid()");
        if (open >= expected) {
            zclock_sleep(500);
            return 0;
        }
        zclock_sleep(100);
    }
    return -1;
}

static double s_ratio(double a, double b)
{
    return b > 0 ? a / b : 0;
}

/* "12345" or "-" for a row not run. */
static const char *s_num(char *buffer, size_t size, bool done, double value, const char *format)
{
    if (!done)
        snprintf(buffer, size, "-");
    else
        snprintf(buffer, size, format, value);
    return buffer;
}

typedef struct {
    int clients;
    int registries;
    const char *tag; /* after the clients count in the label, or NULL */
    result_t broker, writes, full;
    bool pgbench_shared; /* the pgbench figures are another row's */
} row_t;

static void s_print_row(FILE *out, const row_t *r)
{
    char label[32], a[3][16], b[3][16], c[3][16], ra[2][16];
    snprintf(label, sizeof label, "%d%s", r->clients, r->tag ? r->tag : "");
    const result_t *x = &r->broker, *w = &r->writes, *f = &r->full;
    fprintf(out, "%-12s| %7s %7s %7s | %7s %7s %7s %6s | %7s %7s %7s %6s\n", label,
            s_num(a[0], 16, x->done, x->rate, "%.0f"),
            s_num(a[1], 16, x->done, x->p50 / 1000.0, "%.2f"),
            s_num(a[2], 16, x->done, x->p99 / 1000.0, "%.2f"),
            s_num(b[0], 16, w->done, w->rate, "%.0f"),
            s_num(b[1], 16, w->done, w->p50 / 1000.0, "%.2f"),
            s_num(b[2], 16, w->done, w->p99 / 1000.0, "%.2f"),
            s_num(ra[0], 16, x->done && w->done, s_ratio(x->rate, w->rate), "%.2f"),
            s_num(c[0], 16, f->done, f->rate, "%.0f"),
            s_num(c[1], 16, f->done, f->p50 / 1000.0, "%.2f"),
            s_num(c[2], 16, f->done, f->p99 / 1000.0, "%.2f"),
            s_num(ra[1], 16, x->done && f->done, s_ratio(x->rate, f->rate), "%.2f"));
}

/* CPU per registration, in microseconds, of a component at cpu % and rate/s. */
static double s_us_per(double cpu, double rate)
{
    return rate > 0 ? cpu / 100.0 * 1e6 / rate : 0;
}

static void s_print_cpu(const char *setup, const row_t *row, const result_t *r)
{
    if (!r->done)
        return;
    char label[32];
    snprintf(label, sizeof label, "%d%s", row->clients, row->tag ? row->tag : "");
    bool broker = streq(setup, "broker");
    double client = broker ? r->cpu_self : r->cpu_pgbench;
    double total = client + r->cpu_broker + r->cpu_registry + r->cpu_pg;
    printf("%-6s %-12s| %6.0f %6.0f %6.0f %6.0f %6.0f | %6.0f %6.0f %6.0f %6.0f %6.0f | %5.0f "
           "%5.0f | %6zu %6zu%s%s\n",
           setup, label, client, r->cpu_broker, r->cpu_registry, r->cpu_pg, total,
           s_us_per(client, r->rate), s_us_per(r->cpu_broker, r->rate),
           s_us_per(r->cpu_registry, r->rate), s_us_per(r->cpu_pg, r->rate),
           s_us_per(total, r->rate), r->cpu_other, r->cpu_steal, r->count, r->errors,
           *r->note ? "  " : "", r->note);
}

static void s_usage(void)
{
    fprintf(stderr, "usage: bench_registry -d DB_URL -r REDIS_URL [-b BROKER] [-R REGISTRY] "
                    "[-P PGBENCH] [-s SQL_DIR] [-l LOG_DIR] [-T SECONDS] [-n ROUNDS] [-w MS] "
                    "[-c 1,8,32] [-t THREADS] [-x CLIENTS]\n");
}

/* Registers one name and keeps the byte sizes pgbench must write. */
static int s_capture_payloads(void)
{
    client_t *client = s_client();
    double seconds;
    int rc = -1;
    if (s_topup(1, 0.01, &seconds) > 0) {
        long slot = atomic_load(&s_pool.next);
        registration_t registration;
        s_registration(&registration, s_pool.ids[slot], s_pool.index[slot]);
        s_input_size = chuang__registry__register_request__get_packed_size(&registration.request);
        uint8_t *input = malloc(s_input_size);
        chuang__registry__register_request__pack(&registration.request, input);
        s_input_hex = s_hex(input, s_input_size);
        free(input);
        Chuang__Reply *reply = NULL;
        if (s_register_next(client, &reply) == 0) {
            s_payload_size = reply->payload.len;
            s_payload_hex = s_hex(reply->payload.data, reply->payload.len);
            s_reply_size = chuang__reply__get_packed_size(reply);
            uint8_t *packed = malloc(s_reply_size);
            chuang__reply__pack(reply, packed);
            s_reply_hex = s_hex(packed, s_reply_size);
            free(packed);
            rc = 0;
        }
        chuang__reply__free_unpacked(reply, NULL);
    }
    client_destroy(&client);
    return rc;
}

int main(int argc, char **argv)
{
    const char *db_url = getenv("CHUANG_BENCH_DB_URL");
    const char *redis_url = getenv("CHUANG_BENCH_REDIS_URL");
    const char *broker_bin = CHUANG_BUILD_DIR "/services/broker/chuang-broker";
    const char *registry_bin = CHUANG_BUILD_DIR "/services/registry/chuang-registry";
    const char *pgbench_bin = "/usr/lib/postgresql/15/bin/pgbench";
    const char *sql_dir = CHUANG_BENCH_SQL_DIR;
    const char *clients_list = "1,8,32";
    int seconds = 3, rounds = 2, warm_ms = 300, threads = 4, extra_clients = 32;
    int opt;
    while ((opt = getopt(argc, argv, "d:r:b:R:P:s:l:T:n:w:c:t:x:h")) != -1) {
        switch (opt) {
        case 'd':
            db_url = optarg;
            break;
        case 'r':
            redis_url = optarg;
            break;
        case 'b':
            broker_bin = optarg;
            break;
        case 'R':
            registry_bin = optarg;
            break;
        case 'P':
            pgbench_bin = optarg;
            break;
        case 's':
            sql_dir = optarg;
            break;
        case 'l':
            s_log_dir = optarg;
            break;
        case 'T':
            seconds = atoi(optarg);
            break;
        case 'n':
            rounds = atoi(optarg);
            break;
        case 'w':
            warm_ms = atoi(optarg);
            break;
        case 'c':
            clients_list = optarg;
            break;
        case 't':
            threads = atoi(optarg);
            break;
        case 'x':
            extra_clients = atoi(optarg);
            break;
        default:
            s_usage();
            return 2;
        }
    }
    int clients[MAX_LIST];
    int nclients = bench_parse_list(clients_list, clients, MAX_CLIENTS, MAX_LIST);
    if (!db_url || !*db_url || !redis_url || !*redis_url || seconds < 1 || seconds > 60 ||
        rounds < 1 || rounds > 10 || warm_ms < 0 || warm_ms > 10000 || threads < 1 ||
        threads > 64 || extra_clients < 0 || extra_clients > MAX_CLIENTS || nclients < 0) {
        s_usage();
        return 2;
    }
    char log_dir[] = "/tmp/chuang-bench-registry.XXXXXX";
    if (!s_log_dir && !(s_log_dir = mkdtemp(log_dir))) {
        perror("bench: mkdtemp");
        return 1;
    }
    snprintf(s_pgbench, sizeof s_pgbench, "%s", pgbench_bin);
    /* psql from pgbench's folder. */
    snprintf(s_psql, sizeof s_psql, "%s", pgbench_bin);
    char *slash = strrchr(s_psql, '/');
    snprintf(slash ? slash + 1 : s_psql, sizeof s_psql - (size_t)(slash ? slash + 1 - s_psql : 0),
             "psql");
    snprintf(s_sql_dir, sizeof s_sql_dir, "%s", sql_dir);
    if (access(s_pgbench, X_OK) != 0 || access(s_psql, X_OK) != 0) {
        fprintf(stderr, "bench: need %s and %s\n", s_pgbench, s_psql);
        return 2;
    }
    if (bench_pg_environment(db_url, "-c search_path=registry -c TimeZone=UTC", s_pg_env) != 0)
        return 2;

    zsys_init();
    zsys_handler_set(NULL);
    logger_init("bench", LOGGER_ERROR);
    struct sigaction action = {.sa_handler = s_on_signal};
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGHUP, &action, NULL);
    atexit(s_kill_children);

    s_pool.ids = calloc(POOL_MAX, sizeof *s_pool.ids);
    s_pool.index = calloc(POOL_MAX, sizeof *s_pool.index);
    config_t *config = config_new(NULL);
    config_set(config, "security.plain", "yes");
    s_security = security_new(config);

    int port = bench_free_port();
    char endpoint[64], bind_env[96], brokers_env[96], threads_env[64];
    char *db_env = zsys_sprintf("CHUANG_DB_URL=%s", db_url);
    char *redis_env = zsys_sprintf("CHUANG_REDIS_URL=%s", redis_url);
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    s_endpoint = endpoint;
    snprintf(bind_env, sizeof bind_env, "CHUANG_BROKER_ENDPOINT=%s", endpoint);
    snprintf(brokers_env, sizeof brokers_env, "CHUANG_BROKERS=%s", endpoint);
    snprintf(threads_env, sizeof threads_env, "CHUANG_WORKER_THREADS=%d", threads);
    const char *broker_env[] = {bind_env, "CHUANG_SECURITY_PLAIN=yes", "CHUANG_LOG_LEVEL=warn",
                                NULL};
    const char *registry_env[] = {brokers_env,
                                  db_env,
                                  redis_env,
                                  "CHUANG_SECURITY_PLAIN=yes",
                                  threads_env,
                                  "CHUANG_LOG_LEVEL=warn",
                                  "CHUANG_REDIS_PREFIX=bench:registry",
                                  NULL};

    int rc = 1;
    row_t rows[ROW_MAX];
    int nrows = 0;
    procs_t procs = {0};
    client_t *probe = NULL;

    s_db = PQconnectdb(db_url);
    if (PQstatus(s_db) != CONNECTION_OK) {
        fprintf(stderr, "bench: cannot connect to the database: %s", PQerrorMessage(s_db));
        goto done;
    }
    s_postmaster = 0;
    {
        pid_t parent = 0;
        s_cpu_us_ppid((pid_t)PQbackendPID(s_db), &parent);
        s_postmaster = parent;
    }

    char *const broker_argv[] = {(char *)broker_bin, NULL};
    char *const registry_argv[] = {(char *)registry_bin, NULL};
    procs.broker = s_spawn("broker", broker_argv, broker_env);
    procs.registries[0] = s_spawn("registry-1", registry_argv, registry_env);
    procs.nregistries = 1;
    if (procs.broker < 0 || procs.registries[0] < 0) {
        fprintf(stderr, "bench: cannot start %s or %s\n", broker_bin, registry_bin);
        goto done;
    }
    probe = s_client();
    client_set_timeouts(probe, 500, 500);
    int64_t end = zclock_mono() + START_MS;
    while (zclock_mono() < end && client_service_exists(probe, "registry") != 1) {
        if (s_child_exited(procs.broker, NULL) || s_child_exited(procs.registries[0], NULL))
            break;
        zclock_sleep(100);
    }
    if (s_wait_connections(1 + threads) != 0 || s_capture_payloads() != 0) {
        fprintf(stderr, "bench: the registry did not serve in time; see %s/*.log\n", s_log_dir);
        goto done;
    }

    printf("chuang registry benchmark: RegisterEntity through the broker vs pgbench running "
           "the same SQL, same PostgreSQL\n");
    printf("  broker   C client threads, each client_call(RegisterEntity) in a loop -> "
           "chuang-broker (plain, tcp 127.0.0.1)\n"
           "           -> 1 chuang-registry process, %d worker threads = %d PostgreSQL "
           "connections whatever C is;\n"
           "           each call registers a name reserved beforehand (ReserveName, not "
           "timed): a limited company,\n"
           "           2 founders, a new domicile and 1 new business address; request %zu B, "
           "reply payload (Entity) %zu B\n",
           threads, threads, s_input_size, s_payload_size);
    printf("  writes   pgbench -n -M prepared -c C -j min(C,2) -T %d -f registry_tx.sql: what "
           "store_entity_add and\n"
           "           outbox_write write: BEGIN; INSERT entity; 2 INSERT founders; 2 address "
           "upserts + links;\n"
           "           UPDATE reservation used; INSERT 8 entity_history rows; INSERT "
           "chuang_outbox (%zu B payload); COMMIT\n",
           seconds, s_payload_size);
    printf("  full     the same with registry_tx_full.sql: every statement the registry sends "
           "for one registration,\n"
           "           the writes + idempotency claim (INSERT ... ON CONFLICT) and record "
           "(UPDATE, %zu B reply),\n"
           "           reservation taken (UPDATE ... RETURNING), nextval, founders and "
           "addresses one statement each,\n"
           "           entity read back (1 SELECT), audit record: 14 statements\n",
           s_reply_size);
    printf("  timing   each side of a row: %d round(s) of %d s (broker: + %d ms warm-up "
           "each; pgbench: -T %d each),\n"
           "           the three sides taking turns round by round in a rotating order; "
           "before each round\n"
           "           VACUUM (ANALYZE) of the tables (not timed). rate = transactions "
           "completed / time counted;\n"
           "           p50/p99 in ms, nearest rank over every transaction; ratio = broker "
           "reg/s / pgbench tps\n",
           rounds, seconds, warm_ms, seconds);
    bool threads_row = false;
    for (int i = 0; i < nclients; i++)
        threads_row = threads_row || clients[i] == threads;
    printf("  rows     C = %s\n", clients_list);
    if (!threads_row)
        printf("           \"%d (pg only)\": pgbench alone at the registry's %d connections\n",
               threads, threads);
    if (extra_clients > 0)
        printf("           \"%d (2 reg)\": broker with 2 registry processes x %d threads (its "
               "pgbench columns are the %d row's)\n",
               extra_clients, threads, extra_clients);
    printf("  logs     %s\n", s_log_dir);
    fflush(stdout);

    /* Warm-up, not reported: caches, WAL segments, the broker's sockets. */
    {
        double spent;
        fprintf(stderr, "bench: warming up\n");
        if (s_topup(8, 1.0, &spent) < 0)
            goto done;
        acc_t ignored = {0};
        result_t unused;
        s_broker_round(8, 0, 1000, &procs, &ignored);
        s_finish(&ignored, &unused);
        int run = ++s_run;
        if (s_pgbench_setup(run, 8, s_per_round(8, 1)) != 0)
            goto done;
        s_pgbench_round("registry_tx.sql", 8, 1, run, 0, &ignored, false);
        s_finish(&ignored, &unused);
        run = ++s_run;
        if (s_pgbench_setup(run, 8, s_per_round(8, 1)) != 0)
            goto done;
        s_pgbench_round("registry_tx_full.sql", 8, 1, run, 0, &ignored, false);
        s_finish(&ignored, &unused);
    }

    /* The rows: for each C, the sides take turns round by round. */
    for (int i = 0; i < nclients + 2; i++) {
        int c;
        row_t *row = &rows[nrows];
        bool broker = true, pgbench = true;
        if (i < nclients) {
            c = clients[i];
            *row = (row_t){.clients = c, .registries = 1};
        } else if (i == nclients) {
            /* pgbench with as many connections as the registry has, unless
             * a row had that many clients: what PostgreSQL gives its pool. */
            bool had = false;
            for (int k = 0; k < nclients; k++)
                had = had || clients[k] == threads;
            if (had)
                continue;
            c = threads;
            *row = (row_t){.clients = c, .registries = 1, .tag = " (pg only)"};
            broker = false;
        } else {
            if (extra_clients == 0)
                continue;
            c = extra_clients;
            procs.registries[1] = s_spawn("registry-2", registry_argv, registry_env);
            procs.nregistries = 2;
            if (procs.registries[1] < 0 || s_wait_connections(2 * (1 + threads)) != 0) {
                fprintf(stderr, "bench: the second registry did not start; see %s/*.log\n",
                        s_log_dir);
                goto done;
            }
            *row = (row_t){.clients = c, .registries = 2, .tag = " (2 reg)"};
            pgbench = false;
        }
        nrows++;

        int runs[2] = {0, 0}, per_round = s_per_round(c, seconds);
        if (per_round > 99999 / rounds) /* k must stay below 100000 (registry_tx.sql's n) */
            per_round = 99999 / rounds;
        for (int k = 0; pgbench && k < 2; k++) {
            runs[k] = ++s_run;
            if (s_pgbench_setup(runs[k], c, rounds * per_round) != 0)
                goto done;
        }
        if (broker) {
            double spent;
            int reserve_threads = c < 8 ? 8 : c > 16 ? 16 : c;
            if (row->registries > 1 && reserve_threads < 16)
                reserve_threads = 16;
            long reserved = s_topup(reserve_threads, rounds * (seconds + warm_ms / 1000.0), &spent);
            fprintf(stderr, "bench: %d clients%s: %ld names reserved in %.1f s (%ld in the pool)\n",
                    c, row->tag ? row->tag : "", reserved, spent, s_pool_unused());
            if (reserved < 0)
                goto done;
        }
        acc_t acc[3] = {{0}};
        for (int round = 0; round < rounds; round++) {
            s_quiesce();
            for (int k = 0; k < 3; k++) {
                int side = (round + k) % 3; /* 0 broker, 1 writes, 2 full */
                if (side == 0 && broker)
                    s_broker_round(c, warm_ms, seconds * 1000, &procs, &acc[0]);
                else if (side > 0 && pgbench)
                    s_pgbench_round(side == 1 ? "registry_tx.sql" : "registry_tx_full.sql", c,
                                    seconds, runs[side - 1], round * per_round, &acc[side],
                                    side == 2 && c == 1);
            }
        }
        s_finish(&acc[0], &row->broker);
        s_finish(&acc[1], &row->writes);
        s_finish(&acc[2], &row->full);
        if (!pgbench) {
            /* The pgbench figures of the same C, when that row was run. */
            for (int k = 0; k < nrows - 1; k++)
                if (rows[k].clients == c && rows[k].writes.done) {
                    row->writes = rows[k].writes;
                    row->full = rows[k].full;
                    row->pgbench_shared = true;
                }
        }
        s_print_row(stderr, row);
    }

    rc = 0;
    for (int i = 0; i < nrows; i++) {
        const result_t *all[3] = {&rows[i].broker, &rows[i].writes, &rows[i].full};
        for (int k = 0; k < 3; k++)
            if (all[k]->done && (all[k]->errors > 0 || all[k]->count == 0 || all[k]->ran_out))
                rc = 1;
    }

    char broker_title[40];
    snprintf(broker_title, sizeof broker_title, "broker (registry, %d thr)", threads);
    printf("\n%-12s| %-23s | %-30s | %-30s\n", "", broker_title, "pgbench writes (registry_tx)",
           "pgbench full (registry_tx_full)");
    printf("%-12s| %7s %7s %7s | %7s %7s %7s %6s | %7s %7s %7s %6s\n", "clients", "reg/s", "p50",
           "p99", "tps", "p50", "p99", "ratio", "tps", "p50", "p99", "ratio");
    for (int i = 0; i < nrows; i++)
        s_print_row(stdout, &rows[i]);
    for (int i = 0; i < nrows; i++)
        if (rows[i].pgbench_shared)
            printf("(\"%d (2 reg)\": 2 registry processes x %d threads = %d connections; its "
                   "pgbench columns are those of the %d row)\n",
                   rows[i].clients, threads, 2 * threads, rows[i].clients);

    printf("\nCPU during the counted window: %% of one core (this machine has %ld), and CPU "
           "microseconds per registration\n",
           sysconf(_SC_NPROCESSORS_ONLN));
    printf("%-19s| %-34s | %-34s | %-11s |\n", "", "% of one core", "us CPU per registration",
           "% machine");
    printf("%-6s %-12s| %6s %6s %6s %6s %6s | %6s %6s %6s %6s %6s | %5s %5s | %6s %6s\n", "setup",
           "clients", "client", "broker", "regist", "pg", "total", "client", "broker", "regist",
           "pg", "total", "other", "steal", "txns", "errors");
    for (int i = 0; i < nrows; i++) {
        s_print_cpu("broker", &rows[i], &rows[i].broker);
        if (!rows[i].pgbench_shared) {
            s_print_cpu("writes", &rows[i], &rows[i].writes);
            s_print_cpu("full", &rows[i], &rows[i].full);
        }
    }
    printf("(client = the benchmark's client threads for broker rows, pgbench for pgbench rows; "
           "pg = the postmaster and all\n its children; other = the machine's busy CPU besides "
           "these, steal = taken by the hypervisor: high\n values there mean the row was "
           "disturbed)\n");

    if (*s_statements) {
        printf("\npgbench full at 1 client, per statement (pgbench -r, ms):\n%s", s_statements);
    }

    /* What the database says was done, to check both sides did real work. */
    long broker_entities = s_db_long("SELECT count(*) FROM entities WHERE credit_code LIKE '9%'");
    long pgbench_entities = s_db_long("SELECT count(*) FROM entities WHERE credit_code LIKE 'P%'");
    long events = s_db_long("SELECT count(*) FROM chuang_outbox WHERE type = "
                            "'registry.EntityRegistered'");
    long keys = s_db_long("SELECT count(*) FROM chuang_idempotency WHERE method = "
                          "'RegisterEntity'");
    long broker_payload = s_db_long("SELECT round(avg(length(payload))) FROM chuang_outbox"
                                    " WHERE type = 'registry.EntityRegistered'"
                                    " AND aggregate_id LIKE '9%'");
    long pgbench_payload = s_db_long("SELECT round(avg(length(payload))) FROM chuang_outbox"
                                     " WHERE type = 'registry.EntityRegistered'"
                                     " AND aggregate_id LIKE 'P%'");
    printf("\nchecks: %ld registrations answered OK through the broker (warm-ups included), "
           "%ld entities with registry credit codes;\n"
           "        %ld pgbench entities; %ld EntityRegistered events (%ld B payload from the "
           "registry, %ld B from pgbench);\n"
           "        %ld RegisterEntity idempotency keys\n",
           atomic_load(&s_registered), broker_entities, pgbench_entities, events, broker_payload,
           pgbench_payload, keys);
    fprintf(stderr, "bench: VACUUM (ANALYZE) between rows took %.1f s in all\n",
            (double)s_quiesce_ms / 1000.0);
    if (broker_entities != atomic_load(&s_registered))
        rc = 1;
    if (rc != 0)
        printf("\nsome row had errors, no transactions or ran out of names: see the errors "
               "column and %s/*.log\n",
               s_log_dir);
    fflush(stdout);

done:
    client_destroy(&probe);
    s_kill_children();
    PQfinish(s_db);
    security_destroy(&s_security);
    config_destroy(&config);
    zstr_free(&db_env);
    zstr_free(&redis_env);
    free(s_pool.ids);
    free(s_pool.index);
    free(s_payload_hex);
    free(s_input_hex);
    free(s_reply_hex);
    for (int i = 0; s_pg_env[i]; i++)
        free(s_pg_env[i]);
    return rc;
}
