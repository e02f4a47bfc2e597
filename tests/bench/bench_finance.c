/*
 * bench_finance.c - what an award payment costs through the broker and the
 * finance service, against pgbench running the statements finance sends
 * for it straight at the same PostgreSQL, at the same concurrency, in the
 * same run.
 *
 * A payment is PayAward of 1 fen on one of 64 awarded applications of one
 * fund: the application locked and paid, a journal entry of two postings
 * (committed to cash, under the fund's account row locks: every payment of
 * a fund takes its turn on those two rows, whatever the concurrency), its
 * read-back, the finance.EntryPosted event in the outbox, the audit record
 * and the idempotency record. For C clients (1, 4, 8, 32 by default; 4 is
 * as many as finance has connections, the pool pgbench is fairest against
 * at higher C):
 *
 *   broker   C client threads calling finance PayAward with client_call()
 *            in a loop: client -> chuang-broker (plain) -> ONE
 *            chuang-finance with CHUANG_WORKER_THREADS=4 (-t), as deployed.
 *   pgbench  pgbench -n -M prepared -c C -j min(C,2) -T seconds -f
 *            finance_pay_tx.sql: the same statements in one transaction, on
 *            C connections.
 *
 * Each side runs -n rounds (default 2) of -T seconds (default 3), taking
 * turns round by round, so that a disturbance of this shared machine does
 * not hit one side only; a broker round counts the calls that end in its
 * window after a 300 ms warm-up. The table gives payments a second of each
 * side, the broker side's p50 and p99 latency, pgbench's mean latency, and
 * the ratio broker / pgbench. The fixture (the fund, its programme, the
 * applications and their commitment) is made before the first round: the
 * fund and programme through the broker, the awarded applications in SQL
 * (the workflow that awards them is not what is measured).
 *
 *   bench_finance -d DB_URL -r REDIS_URL -b BROKER -F FINANCE -P PGBENCH
 *                 -s SQL_DIR -l LOG_DIR [-T SECONDS] [-n ROUNDS] [-c 1,4,8,32]
 *                 [-t THREADS]
 *
 * DB_URL (or CHUANG_BENCH_DB_URL) is finance's database as its own role
 * (tests/bench/run_finance.sh makes one in a private harness); REDIS_URL (or
 * CHUANG_BENCH_REDIS_URL) its Redis. pgbench gets the connection from PGHOST,
 * PGPORT, PGUSER, PGPASSWORD and PGDATABASE, never on a command line.
 * Children's output goes to LOG_DIR; every child is killed at the end, on
 * failure, on a signal and (PR_SET_PDEATHSIG) when this process dies.
 * Exits 0, or 1 when a payment failed or a side has no result, 2 on bad
 * arguments.
 */
#include "bench_util.h"
#include "client.h"
#include "config.h"
#include "finance.pb-c.h"
#include "logger.h"
#include "security.h"

#include <czmq.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define AGENCY       "bench-agency"
#define APPS         64
#define MAX_CLIENTS  64
#define MAX_LIST     8
#define MAX_CHILDREN 8
#define WARM_MS      300

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

static void s_kill_children(void)
{
    for (int i = 0; i < s_nchildren; i++)
        if (s_children[i] > 0) {
            kill(s_children[i], SIGTERM);
            int64_t end = zclock_mono() + 3000;
            while (waitpid(s_children[i], NULL, WNOHANG) == 0 && zclock_mono() < end)
                zclock_sleep(20);
            kill(s_children[i], SIGKILL);
            waitpid(s_children[i], NULL, 0);
            s_children[i] = 0;
        }
    s_nchildren = 0;
}

/* Starts argv[0] with extra "KEY=VALUE" settings over this environment,
 * output to LOG_DIR/<name>.log; kept among the children to kill unless
 * transient. Returns the pid or -1. */
static pid_t s_spawn(const char *name, char *const *argv, const char *const *extra, bool transient)
{
    if (!transient && s_nchildren >= MAX_CHILDREN)
        return -1;
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
        execve(argv[0], argv, env);
        _exit(127);
    }
    free(env);
    if (pid > 0 && !transient)
        s_children[s_nchildren++] = pid;
    return pid;
}

/* --- the broker side -------------------------------------------------------- */

static const char *s_endpoint;
static security_t *s_security;
static int64_t s_first; /* the first application's id */

typedef struct {
    int index;
    int64_t start_ns, end_ns; /* the window */
    long calls, failures;
    int *latencies_us; /* of the calls in the window */
    size_t n_latencies, room;
} worker_t;

static void *s_payer(void *args)
{
    worker_t *w = args;
    client_t *client = client_new(s_endpoint, s_security);
    client_set_identity(client, AGENCY, "bench-keeper", "finance-officer");
    Chuang__Finance__PaymentRequest request = CHUANG__FINANCE__PAYMENT_REQUEST__INIT;
    request.id = s_first + w->index % APPS;
    request.amount_fen = 1;
    request.memo = "bench";
    for (;;) {
        int64_t begin = bench_now_ns();
        if (begin >= w->end_ns)
            break;
        Chuang__Reply *reply = client_call(client, "finance", "PayAward", &request.base, NULL);
        int64_t end = bench_now_ns();
        bool ok = reply && reply->status == CHUANG__STATUS__OK;
        if (reply)
            chuang__reply__free_unpacked(reply, NULL);
        if (end < w->start_ns || end > w->end_ns)
            continue;
        if (!ok) {
            w->failures++;
            continue;
        }
        w->calls++;
        if (w->n_latencies == w->room) {
            w->room = w->room ? 2 * w->room : 4096;
            w->latencies_us = realloc(w->latencies_us, w->room * sizeof *w->latencies_us);
        }
        w->latencies_us[w->n_latencies++] = (int)((end - begin) / 1000);
    }
    client_destroy(&client);
    return NULL;
}

/* What PostgreSQL's backends of finance's role wait on while a side runs:
 * pg_stat_activity sampled every 10 ms by a thread, each active backend
 * counted under its wait ("CPU" when it waits on nothing). */
#define WAITS_MAX 16
typedef struct {
    char name[64];
    long samples;
} wait_t;

typedef struct {
    const char *db_url;
    volatile bool stop;
    wait_t waits[WAITS_MAX];
    size_t n_waits;
    long samples; /* of active backends, all waits */
    pthread_t thread;
} sampler_t;

static void *s_sample(void *args)
{
    sampler_t *sampler = args;
    PGconn *db = PQconnectdb(sampler->db_url);
    while (!sampler->stop && PQstatus(db) == CONNECTION_OK) {
        PGresult *res = PQexec(db, "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU')"
                                   " FROM pg_stat_activity WHERE state = 'active'"
                                   " AND usename = current_user AND pid <> pg_backend_pid()");
        for (int i = 0; PQresultStatus(res) == PGRES_TUPLES_OK && i < PQntuples(res); i++) {
            const char *name = PQgetvalue(res, i, 0);
            size_t w = 0;
            while (w < sampler->n_waits && !streq(sampler->waits[w].name, name))
                w++;
            if (w == sampler->n_waits && w < WAITS_MAX)
                snprintf(sampler->waits[sampler->n_waits++].name, sizeof sampler->waits[w].name,
                         "%s", name);
            if (w < sampler->n_waits)
                sampler->waits[w].samples++;
            sampler->samples++;
        }
        PQclear(res);
        zclock_sleep(10);
    }
    PQfinish(db);
    return NULL;
}

/* The three waits sampled most, with their share, into text. */
static void s_waits_text(const sampler_t *sampler, char *text, size_t size)
{
    wait_t sorted[WAITS_MAX];
    memcpy(sorted, sampler->waits, sizeof sorted);
    size_t n = sampler->n_waits;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (sorted[j].samples > sorted[i].samples) {
                wait_t t = sorted[i];
                sorted[i] = sorted[j];
                sorted[j] = t;
            }
    size_t used = 0;
    text[0] = '\0';
    for (size_t i = 0; i < n && i < 3 && used < size; i++)
        used +=
            (size_t)snprintf(text + used, size - used, "%s%s %.0f%%", i ? ", " : "", sorted[i].name,
                             100.0 * (double)sorted[i].samples / (double)sampler->samples);
}

typedef struct {
    double seconds;
    long calls, failures;
    int *latencies_us;
    size_t n_latencies;
    double pgbench_seconds;
    long pgbench_tx;
    double pgbench_latency_sum_ms; /* mean × transactions, summed over rounds */
    bool pgbench_failed;
    sampler_t broker_waits, pgbench_waits;
} row_t;

static const char *s_db_url;

static void s_sampler_start(sampler_t *sampler)
{
    sampler->db_url = s_db_url;
    sampler->stop = false;
    pthread_create(&sampler->thread, NULL, s_sample, sampler);
}

static void s_sampler_stop(sampler_t *sampler)
{
    sampler->stop = true;
    pthread_join(sampler->thread, NULL);
}

static void s_broker_round(int clients, int seconds, row_t *row)
{
    s_sampler_start(&row->broker_waits);
    worker_t workers[MAX_CLIENTS];
    pthread_t threads[MAX_CLIENTS];
    int64_t start = bench_now_ns() + (int64_t)WARM_MS * 1000000;
    for (int i = 0; i < clients; i++) {
        workers[i] = (worker_t){
            .index = i, .start_ns = start, .end_ns = start + (int64_t)seconds * 1000000000};
        pthread_create(&threads[i], NULL, s_payer, &workers[i]);
    }
    for (int i = 0; i < clients; i++) {
        pthread_join(threads[i], NULL);
        row->calls += workers[i].calls;
        row->failures += workers[i].failures;
        row->latencies_us =
            realloc(row->latencies_us,
                    (row->n_latencies + workers[i].n_latencies + 1) * sizeof *row->latencies_us);
        memcpy(row->latencies_us + row->n_latencies, workers[i].latencies_us,
               workers[i].n_latencies * sizeof *row->latencies_us);
        row->n_latencies += workers[i].n_latencies;
        free(workers[i].latencies_us);
    }
    s_sampler_stop(&row->broker_waits);
    row->seconds += seconds;
}

/* --- the pgbench side --------------------------------------------------------- */

static char s_pgbench[1024], s_sql_dir[1024];
static char *s_pg_env[8]; /* PGHOST=... for pgbench, NULL-terminated */

static void s_pgbench_round(int clients, int seconds, row_t *row)
{
    static int invocation;
    invocation++;
    char name[32], path[1100], c[16], j[16], t[16], apps[32], first[48], k[48];
    snprintf(name, sizeof name, "pgbench-%d", invocation);
    snprintf(path, sizeof path, "%s/finance_pay_tx.sql", s_sql_dir);
    snprintf(c, sizeof c, "%d", clients);
    snprintf(j, sizeof j, "%d", clients < 2 ? clients : 2);
    snprintf(t, sizeof t, "%d", seconds);
    snprintf(apps, sizeof apps, "apps=%d", APPS);
    snprintf(first, sizeof first, "first=%" PRId64, s_first);
    snprintf(k, sizeof k, "k=%d", invocation * 10000000);
    char *argv[] = {s_pgbench, "-n", "-M", "prepared", "-f", path,  "-c", c, "-j", j,
                    "-T",      t,    "-D", apps,       "-D", first, "-D", k, NULL};
    s_sampler_start(&row->pgbench_waits);
    pid_t pid = s_spawn(name, argv, (const char *const *)s_pg_env, true);
    int status = 0;
    bool waited = pid > 0 && waitpid(pid, &status, 0) == pid;
    s_sampler_stop(&row->pgbench_waits);
    if (!waited || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        row->pgbench_failed = true;
        return;
    }
    char out_path[1100], line[1024];
    snprintf(out_path, sizeof out_path, "%s/%s.log", s_log_dir, name);
    FILE *out = fopen(out_path, "r");
    double latency = 0;
    long processed = 0;
    while (out && fgets(line, sizeof line, out)) {
        sscanf(line, "number of transactions actually processed: %ld", &processed);
        sscanf(line, "latency average = %lf ms", &latency);
    }
    if (out)
        fclose(out);
    if (processed <= 0) {
        row->pgbench_failed = true;
        return;
    }
    row->pgbench_tx += processed;
    row->pgbench_seconds += seconds;
    row->pgbench_latency_sum_ms += latency * (double)processed;
}

/* --- the fixture -------------------------------------------------------------- */

static Chuang__Status s_call(client_t *client, const char *method, const ProtobufCMessage *input)
{
    Chuang__Reply *reply = client_call(client, "finance", method, input, NULL);
    Chuang__Status status = reply ? reply->status : CHUANG__STATUS__UNAVAILABLE;
    if (reply && status != CHUANG__STATUS__OK)
        fprintf(stderr, "bench: %s: %s %s\n", method, reply->message, reply->detail);
    if (reply)
        chuang__reply__free_unpacked(reply, NULL);
    return status;
}

/* The fund, its programme, APPS awarded applications and their commitment.
 * Returns 0 or -1. */
static int s_fixture(const char *db_url)
{
    client_t *client = client_new(s_endpoint, s_security);
    client_set_identity(client, AGENCY, "bench-keeper", "finance-officer");
    Chuang__Finance__CreateFundRequest fund = CHUANG__FINANCE__CREATE_FUND_REQUEST__INIT;
    fund.code = "bench";
    fund.name = "bench";
    fund.department = "finance";
    Chuang__Finance__AppropriateRequest money = CHUANG__FINANCE__APPROPRIATE_REQUEST__INIT;
    money.fund = "bench";
    money.amount_fen = INT64_C(1000000000000000);
    money.document = "bench";
    Chuang__Finance__ProgrammeVersion version = CHUANG__FINANCE__PROGRAMME_VERSION__INIT;
    version.effective_from = "2020-01-01";
    version.document = "bench";
    Chuang__Finance__DefineProgrammeRequest define =
        CHUANG__FINANCE__DEFINE_PROGRAMME_REQUEST__INIT;
    define.code = "bench-subsidy";
    define.name = "bench";
    define.kind = "special_fund";
    define.level = "district";
    define.fund = "bench";
    define.department = "finance";
    define.version = &version;
    int rc = s_call(client, "CreateFund", &fund.base) == CHUANG__STATUS__OK &&
                     s_call(client, "Appropriate", &money.base) == CHUANG__STATUS__OK &&
                     s_call(client, "DefineProgramme", &define.base) == CHUANG__STATUS__OK
                 ? 0
                 : -1;
    client_destroy(&client);
    if (rc != 0)
        return -1;
    PGconn *db = PQconnectdb(db_url);
    char sql[2048];
    snprintf(sql, sizeof sql,
             "SET search_path = finance;"
             " BEGIN;"
             " INSERT INTO applications (agency, programme, applicant, subject, amount_fen, status,"
             "   version, applied_on, created_by, awarded_fen)"
             " SELECT '" AGENCY "', 'bench-subsidy', '91330106MA2B0000X1', 'bench ' || n,"
             "   %" PRId64 ", 'awarded', 1, chuang_today('" AGENCY "'), 'bench', %" PRId64
             " FROM generate_series(1, %d) AS n;"
             " WITH e AS (INSERT INTO journal_entries (agency, booked_on, kind, cause, recorded_by)"
             "   VALUES ('" AGENCY "', chuang_today('" AGENCY "'), 'commitment', 'bench',"
             "   'bench') RETURNING id)"
             " INSERT INTO postings (entry_id, account_id, amount)"
             " SELECT e.id, a.id, CASE a.kind WHEN 'available' THEN %" PRId64 " ELSE -%" PRId64
             " END FROM e, accounts a WHERE a.agency = '" AGENCY "'"
             "   AND a.code IN ('bench:available', 'bench:committed');"
             " COMMIT;",
             INT64_C(1000000000000000) / APPS, INT64_C(1000000000000000) / APPS, APPS,
             INT64_C(1000000000000000) / APPS * APPS, INT64_C(1000000000000000) / APPS * APPS);
    PGresult *res = PQstatus(db) == CONNECTION_OK ? PQexec(db, sql) : NULL;
    rc = res && PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc != 0)
        fprintf(stderr, "bench: fixture: %s", PQerrorMessage(db));
    PQclear(res);
    res = rc == 0 ? PQexec(db, "SELECT min(id) FROM finance.applications WHERE programme ="
                               " 'bench-subsidy'")
                  : NULL;
    if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        s_first = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    else
        rc = -1;
    PQclear(res);
    PQfinish(db);
    return rc;
}

/* --- the run ------------------------------------------------------------------- */

static int s_compare(const void *a, const void *b)
{
    return bench_compare_int(a, b);
}

static double s_rank(const int *sorted, size_t n, double q)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(q * (double)n);
    return sorted[i < n ? i : n - 1] / 1000.0;
}

static void s_usage(void)
{
    fprintf(stderr, "usage: bench_finance -d DB_URL -r REDIS_URL -b BROKER -F FINANCE"
                    " -P PGBENCH -s SQL_DIR -l LOG_DIR [-T SECONDS] [-n ROUNDS] [-c 1,4,8,32]"
                    " [-t THREADS]\n");
}

int main(int argc, char **argv)
{
    const char *db_url = getenv("CHUANG_BENCH_DB_URL"),
               *redis_url = getenv("CHUANG_BENCH_REDIS_URL");
    const char *broker = NULL, *finance = NULL, *pgbench = NULL, *sql_dir = NULL;
    const char *clients_list = "1,4,8,32";
    int seconds = 3, rounds = 2, threads = 4, opt;
    while ((opt = getopt(argc, argv, "d:r:b:F:P:s:l:T:n:c:t:")) != -1) {
        switch (opt) {
        case 'd':
            db_url = optarg;
            break;
        case 'r':
            redis_url = optarg;
            break;
        case 'b':
            broker = optarg;
            break;
        case 'F':
            finance = optarg;
            break;
        case 'P':
            pgbench = optarg;
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
        case 'c':
            clients_list = optarg;
            break;
        case 't':
            threads = atoi(optarg);
            break;
        default:
            s_usage();
            return 2;
        }
    }
    int clients[MAX_LIST];
    int nclients = bench_parse_list(clients_list, clients, MAX_CLIENTS, MAX_LIST);
    if (!db_url || !redis_url || !broker || !finance || !pgbench || !sql_dir || !s_log_dir ||
        seconds < 1 || seconds > 60 || rounds < 1 || rounds > 10 || threads < 1 || threads > 64 ||
        nclients < 0) {
        s_usage();
        return 2;
    }
    snprintf(s_pgbench, sizeof s_pgbench, "%s", pgbench);
    snprintf(s_sql_dir, sizeof s_sql_dir, "%s", sql_dir);
    if (bench_pg_environment(db_url, "-c search_path=finance", s_pg_env) != 0)
        return 2;
    s_db_url = db_url;
    zsys_init();
    zsys_handler_set(NULL);
    logger_init("bench", LOGGER_ERROR);
    struct sigaction action = {.sa_handler = s_on_signal};
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGHUP, &action, NULL);
    atexit(s_kill_children);
    config_t *config = config_new(NULL);
    config_set(config, "security.plain", "yes");
    s_security = security_new(config);

    char endpoint[64], bind_env[96], brokers_env[96], threads_env[64];
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", bench_free_port());
    s_endpoint = endpoint;
    snprintf(bind_env, sizeof bind_env, "CHUANG_BROKER_ENDPOINT=%s", endpoint);
    snprintf(brokers_env, sizeof brokers_env, "CHUANG_BROKERS=%s", endpoint);
    snprintf(threads_env, sizeof threads_env, "CHUANG_WORKER_THREADS=%d", threads);
    char *db_env = zsys_sprintf("CHUANG_DB_URL=%s", db_url);
    char *redis_env = zsys_sprintf("CHUANG_REDIS_URL=%s", redis_url);
    const char *broker_env[] = {bind_env, "CHUANG_SECURITY_PLAIN=yes", "CHUANG_LOG_LEVEL=warn",
                                NULL};
    const char *finance_env[] = {brokers_env,
                                 db_env,
                                 redis_env,
                                 threads_env,
                                 "CHUANG_SECURITY_PLAIN=yes",
                                 "CHUANG_LOG_LEVEL=warn",
                                 "CHUANG_REDIS_PREFIX=bench:finance",
                                 "CHUANG_CONSUME_REGISTRY_ENABLED=no",
                                 NULL};
    char *broker_argv[] = {(char *)broker, NULL}, *finance_argv[] = {(char *)finance, NULL};
    int rc = 1;
    row_t rows[MAX_LIST] = {0};
    if (s_spawn("broker", broker_argv, broker_env, false) < 0 ||
        s_spawn("finance", finance_argv, finance_env, false) < 0)
        goto done;
    /* Wait until finance answers. */
    client_t *probe = client_new(s_endpoint, s_security);
    client_set_identity(probe, AGENCY, "bench-keeper", "finance-officer");
    Chuang__Finance__GetFundRequest get = CHUANG__FINANCE__GET_FUND_REQUEST__INIT;
    get.code = "none";
    bool up = false;
    for (int i = 0; i < 100 && !up; i++) {
        Chuang__Reply *reply = client_call(probe, "finance", "GetFund", &get.base, NULL);
        up = reply && reply->status == CHUANG__STATUS__NOT_FOUND;
        if (reply)
            chuang__reply__free_unpacked(reply, NULL);
        if (!up)
            zclock_sleep(200);
    }
    client_destroy(&probe);
    if (!up || s_fixture(db_url) != 0) {
        fprintf(stderr, "bench: finance did not come up or the fixture failed\n");
        goto done;
    }
    /* Warm both sides up (not reported). */
    row_t warm = {0};
    s_broker_round(2, 1, &warm);
    s_pgbench_round(2, 1, &warm);
    free(warm.latencies_us);
    for (int r = 0; r < nclients; r++)
        for (int round = 0; round < rounds; round++) {
            if (round % 2 == 0) {
                s_broker_round(clients[r], seconds, &rows[r]);
                s_pgbench_round(clients[r], seconds, &rows[r]);
            } else {
                s_pgbench_round(clients[r], seconds, &rows[r]);
                s_broker_round(clients[r], seconds, &rows[r]);
            }
        }
    printf("award payments (PayAward: journal entry + outbox) through the broker and finance"
           " (%d worker threads) against pgbench running the same statements\n",
           threads);
    printf("%8s %12s %9s %9s %12s %9s %8s\n", "clients", "broker/s", "p50 ms", "p99 ms",
           "pgbench/s", "mean ms", "ratio");
    rc = 0;
    for (int r = 0; r < nclients; r++) {
        row_t *row = &rows[r];
        qsort(row->latencies_us, row->n_latencies, sizeof *row->latencies_us, s_compare);
        double broker_rate = row->seconds > 0 ? (double)row->calls / row->seconds : 0;
        double pg_rate =
            row->pgbench_seconds > 0 ? (double)row->pgbench_tx / row->pgbench_seconds : 0;
        double pg_mean =
            row->pgbench_tx > 0 ? row->pgbench_latency_sum_ms / (double)row->pgbench_tx : 0;
        printf("%8d %12.0f %9.2f %9.2f %12.0f %9.2f %8.2f%s\n", clients[r], broker_rate,
               s_rank(row->latencies_us, row->n_latencies, 0.50),
               s_rank(row->latencies_us, row->n_latencies, 0.99), pg_rate, pg_mean,
               pg_rate > 0 ? broker_rate / pg_rate : 0,
               row->failures || row->pgbench_failed ? "  (failures)" : "");
        if (row->failures || row->pgbench_failed || row->calls == 0)
            rc = 1;
        free(row->latencies_us);
    }
    printf("what PostgreSQL's backends wait on (pg_stat_activity every 10 ms; CPU: nothing)\n");
    for (int r = 0; r < nclients; r++) {
        char broker_text[256], pgbench_text[256];
        s_waits_text(&rows[r].broker_waits, broker_text, sizeof broker_text);
        s_waits_text(&rows[r].pgbench_waits, pgbench_text, sizeof pgbench_text);
        printf("%8d  broker: %s\n%8s  pgbench: %s\n", clients[r], broker_text, "", pgbench_text);
    }
done:
    s_kill_children();
    for (int i = 0; s_pg_env[i]; i++)
        free(s_pg_env[i]);
    zstr_free(&db_env);
    zstr_free(&redis_env);
    security_destroy(&s_security);
    config_destroy(&config);
    return rc;
}
