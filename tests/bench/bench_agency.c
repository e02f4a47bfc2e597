/*
 * bench_agency.c - a whole agency under a mixed open-loop load: how many
 * registrations a second it sustains with every event consumer keeping up.
 *
 * The agency runs as deployed (tests/bench/run_agency.sh starts it with
 * deploy/local/chuang: two brokers with CURVE and the principal table,
 * every service, the feed, and a second registry replica); this program
 * only calls it, as the operator's key, and watches it:
 *
 *   load        steps of -s seconds (default 15) at offered registration
 *               rates R (-R, default 100,200,400,600,800,1000,1200), each
 *               registration (ReserveName, then RegisterEntity under it)
 *               joined by -L public lookups (Lookup by credit code of an
 *               entity registered earlier; default 2) and -N name searches
 *               (SearchNames; default 1). Open loop: the calls are due at
 *               fixed times whatever the answers, taken by -t threads
 *               (default 64) with a client each, and a call's latency runs
 *               from when it was due, so that a slow agency shows as queueing
 *               (no coordinated omission).
 *   feed        one department following the registry's events through the
 *               feed (the operator's key is on the feed's access list): its
 *               lag is the time from an event's commit (occurred_ms) to its
 *               arrival.
 *   consumers   every consumer group of the registry's event stream (notify
 *               today), sampled every 100 ms: its lag is the age, from its
 *               commit, of the oldest event it has not applied yet (its
 *               oldest pending entry, else the first after the last it was
 *               given), 0 when it is caught up.
 *   processes   -p name=pid,...: CPU of each in % of one core over the step
 *               and its resident memory at the step's end (/proc); before
 *               the load, their resident memory at rest, summed as the idle
 *               RSS of the agency. "postgres" (the postmaster: its CPU is
 *               its and its backends') and "redis" are shown, not summed.
 *
 * A step sustains its rate when at least 95% of the offered registrations
 * were answered OK within the step and the feed's and every consumer's lag
 * p99 stayed under 1 s; the sustained rate is the highest such step's.
 * After the first step that does not, one more is tried, then the run
 * stops. Nothing is asserted on times: the figures are printed.
 *
 *   register    -E N: before the load, N entities are copied into the
 *               registry's tables from the first one registered (each with
 *               its reservation, founder, address and history, and a valid
 *               credit code of its own), in batches of one statement, then
 *               vacuumed and analysed; the lookups ask for them too. The
 *               database is CHUANG_BENCH_DB_URL (the registry's role), or as
 *               the superuser CHUANG_BENCH_ADMIN_URL (foreign-key triggers
 *               skipped for the copies, and a checkpoint after them).
 *
 *   bench_agency -C CTL_CONF -r REDIS_URL [-p name=pid,...] [-s SECONDS]
 *                [-R RATES] [-L LOOKUPS] [-N SEARCHES] [-t THREADS] [-w SECONDS]
 *                [-E ENTITIES]
 *
 * CTL_CONF is the chuangctl settings file deploy/local/chuang writes
 * (brokers, the operator's certificate, the brokers' and the feed's
 * public certificates, the feed's endpoint). -w: seconds of warm-up load
 * at the first rate before the first step (default 5, not reported). Exits
 * 0, or 1 when the agency cannot be reached or a call was answered with a
 * refusal other than a busy agency's, 2 on bad arguments.
 */
#include "bench_util.h"
#include "client.h"
#include "config.h"
#include "event_stream.h"
#include "identifiers.h"
#include "feed_client.h"
#include "logger.h"
#include "redis_link.h"
#include "registry.pb-c.h"
#include "registry_fixture.h"
#include "security.h"
#include "trade_name.h"

#include <czmq.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#define AGENCY         "330106"
#define STREAM         "chuang:registry:events"
#define MAX_RATES      16
#define MAX_THREADS    512
#define MAX_PROCS      16
#define MAX_GROUPS     8
#define CODES_MAX      (1 << 22) /* credit codes kept for lookups */
#define PRELOAD_BATCH  20000
#define SAMPLE_MS      100
#define SUSTAIN_LAG_MS 1000

/* --- latencies ---------------------------------------------------------- */

typedef struct {
    uint32_t *values; /* microseconds (or milliseconds for lags) */
    size_t count, size;
} series_t;

static void s_series_add(series_t *self, uint32_t value)
{
    if (self->count == self->size) {
        size_t size = self->size ? 2 * self->size : 1024;
        uint32_t *values = realloc(self->values, size * sizeof *values);
        if (!values)
            return;
        self->values = values;
        self->size = size;
    }
    self->values[self->count++] = value;
}

static void s_series_merge(series_t *self, series_t *other)
{
    for (size_t i = 0; i < other->count; i++)
        s_series_add(self, other->values[i]);
    other->count = 0;
}

static int s_compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile p (0..100) of the series, sorted here; 0 when
 * empty. */
static uint32_t s_percentile(series_t *self, double p)
{
    if (self->count == 0)
        return 0;
    qsort(self->values, self->count, sizeof *self->values, s_compare_u32);
    size_t rank = (size_t)(p / 100.0 * (double)self->count + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > self->count)
        rank = self->count;
    return self->values[rank - 1];
}

/* --- settings and shared state -------------------------------------------- */

enum { OP_REGISTER, OP_LOOKUP, OP_SEARCH, OPS };
static const char *const s_op_names[OPS] = {"register", "lookup", "search"};

static config_t *s_config;
static security_t *s_security;
static const char *s_brokers;
static const char *s_redis_url;
static int s_lookups = 2, s_searches = 1;

typedef struct {
    char name[32];
    pid_t pid;
    bool server; /* PostgreSQL or Redis: shown, not counted in the idle RSS */
    int64_t cpu_us;
} proc_t;
static proc_t s_procs[MAX_PROCS];
static int s_nprocs;

/* The step under way: its schedule, and where its figures go. */
typedef struct {
    pthread_mutex_t lock; /* over the schedule: start_ns to taking */
    int64_t start_ns;
    int64_t interval_ns; /* between two calls due */
    long total;          /* calls due in the step */
    long next;           /* the next call to take */
    long taking;         /* calls taken and not answered yet */
    atomic_long ok[OPS], failed[OPS], busy[OPS];
} step_t;
static step_t s_step = {.lock = PTHREAD_MUTEX_INITIALIZER};
static atomic_int s_step_index = -1; /* -1: warm-up, not recorded */
static atomic_bool s_stop;
static atomic_long s_names;   /* trade names used so far */
static atomic_long s_refused; /* answers no busy agency gives */

static char (*s_codes)[19];
static atomic_long s_ncodes;

/* Per thread, merged by the main thread between steps. */
typedef struct {
    pthread_t thread;
    client_t *client;
    series_t latency[OPS];
    pthread_mutex_t lock;
} worker_t;
static worker_t s_workers[MAX_THREADS];
static int s_nworkers = 64;

static pthread_mutex_t s_lag_lock = PTHREAD_MUTEX_INITIALIZER;
static series_t s_feed_lag;
static char s_groups[MAX_GROUPS][64];
static int s_ngroups;
static series_t s_group_lag[MAX_GROUPS];

/* --- the calls ------------------------------------------------------------ */

static bool s_busy(Chuang__Status status)
{
    return status == CHUANG__STATUS__UNAVAILABLE || status == CHUANG__STATUS__DEADLINE_EXCEEDED ||
           status == CHUANG__STATUS__RESOURCE_EXHAUSTED;
}

/* Counts the answer of one call of op; a refusal a busy agency does not
 * give is also logged, once in a while. Returns true when OK. */
static bool s_count(int op, Chuang__Reply *reply)
{
    if (reply && reply->status == CHUANG__STATUS__OK) {
        s_step.ok[op]++;
        return true;
    }
    if (!reply || s_busy(reply->status))
        s_step.busy[op]++;
    else {
        s_step.failed[op]++;
        if (atomic_fetch_add(&s_refused, 1) < 5)
            fprintf(stderr, "bench_agency: %s refused: %s (%s)\n", s_op_names[op], reply->message,
                    reply->detail);
    }
    return false;
}

static void s_register(client_t *client)
{
    char name[16];
    trade_name(atomic_fetch_add(&s_names, 1) % TRADE_NAME_COUNT, name, sizeof name);
    Chuang__Registry__ReserveNameRequest reserve;
    registry_fixture_reservation(&reserve, name, "11010519491231002X");
    Chuang__Reply *reply = client_call(client, "registry", "ReserveName", &reserve.base, NULL);
    if (!reply || reply->status != CHUANG__STATUS__OK) {
        s_count(OP_REGISTER, reply);
        if (reply)
            chuang__reply__free_unpacked(reply, NULL);
        return;
    }
    Chuang__Registry__NameReservation *reservation =
        chuang__registry__name_reservation__unpack(NULL, reply->payload.len, reply->payload.data);
    chuang__reply__free_unpacked(reply, NULL);
    if (!reservation) {
        s_step.failed[OP_REGISTER]++;
        return;
    }
    registry_fixture_registration_t registration;
    registry_fixture_registration(&registration, reservation->reservation_id, "文三路 1 号");
    reply = client_call(client, "registry", "RegisterEntity", &registration.request.base, NULL);
    chuang__registry__name_reservation__free_unpacked(reservation, NULL);
    if (s_count(OP_REGISTER, reply)) {
        Chuang__Registry__Entity *entity =
            chuang__registry__entity__unpack(NULL, reply->payload.len, reply->payload.data);
        long at = atomic_fetch_add(&s_ncodes, 1);
        if (entity && at < CODES_MAX)
            snprintf(s_codes[at], sizeof s_codes[at], "%s", entity->credit_code);
        chuang__registry__entity__free_unpacked(entity, NULL);
    }
    if (reply)
        chuang__reply__free_unpacked(reply, NULL);
}

static void s_lookup(client_t *client, long i)
{
    long codes = atomic_load(&s_ncodes);
    if (codes > CODES_MAX)
        codes = CODES_MAX;
    if (codes == 0)
        return;
    Chuang__Registry__LookupRequest request = CHUANG__REGISTRY__LOOKUP_REQUEST__INIT;
    request.credit_code = s_codes[(i * 7919) % codes];
    Chuang__Reply *reply = client_call(client, "registry", "Lookup", &request.base, NULL);
    s_count(OP_LOOKUP, reply);
    if (reply)
        chuang__reply__free_unpacked(reply, NULL);
}

static void s_search(client_t *client, long i)
{
    char name[16];
    trade_name(i % (atomic_load(&s_names) + 1), name, sizeof name);
    name[6] = '\0'; /* two characters: a part of many names */
    Chuang__Registry__SearchNamesRequest request = CHUANG__REGISTRY__SEARCH_NAMES_REQUEST__INIT;
    request.query = name;
    request.limit = 20;
    Chuang__Reply *reply = client_call(client, "registry", "SearchNames", &request.base, NULL);
    s_count(OP_SEARCH, reply);
    if (reply)
        chuang__reply__free_unpacked(reply, NULL);
}

/* Takes the next call of the step under way: true with its index and when
 * it is due, false when every call of the step has been taken. */
static bool s_take(long *i, int64_t *due)
{
    pthread_mutex_lock(&s_step.lock);
    bool taken = s_step.next < s_step.total;
    if (taken) {
        *i = s_step.next++;
        *due = s_step.start_ns + *i * s_step.interval_ns;
        s_step.taking++;
    }
    pthread_mutex_unlock(&s_step.lock);
    return taken;
}

static void s_answered(void)
{
    pthread_mutex_lock(&s_step.lock);
    s_step.taking--;
    pthread_mutex_unlock(&s_step.lock);
}

/* Takes the calls of the step under way as they fall due. */
static void *s_worker_run(void *arg)
{
    worker_t *self = arg;
    int mix = 1 + s_lookups + s_searches;
    while (!atomic_load(&s_stop)) {
        long i;
        int64_t due;
        if (!s_take(&i, &due)) {
            usleep(1000);
            continue;
        }
        bench_sleep_until_ns(due);
        int op = i % mix == 0 ? OP_REGISTER : i % mix <= s_lookups ? OP_LOOKUP : OP_SEARCH;
        if (op == OP_REGISTER)
            s_register(self->client);
        else if (op == OP_LOOKUP)
            s_lookup(self->client, i);
        else
            s_search(self->client, i);
        if (atomic_load(&s_step_index) >= 0) {
            pthread_mutex_lock(&self->lock);
            s_series_add(&self->latency[op], (uint32_t)((bench_now_ns() - due) / 1000));
            pthread_mutex_unlock(&self->lock);
        }
        s_answered();
    }
    return NULL;
}

/* --- watching ------------------------------------------------------------- */

static void *s_feed_run(void *arg)
{
    (void)arg;
    char *server_public = NULL;
    zcert_t *cert = zcert_load(config_str(s_config, "feed.server_cert", ""));
    if (cert) {
        server_public = strdup(zcert_public_txt(cert));
        zcert_destroy(&cert);
    }
    feed_client_t *feed = feed_client_new(config_str(s_config, "feed.endpoint", ""), s_security,
                                          server_public, "registry", 0, "");
    free(server_public);
    if (!feed) {
        fprintf(stderr, "bench_agency: cannot follow the feed\n");
        return NULL;
    }
    while (!atomic_load(&s_stop)) {
        Chuang__Reply *refusal = NULL;
        Chuang__Event *event = feed_client_next(feed, 200, &refusal);
        if (refusal) {
            fprintf(stderr, "bench_agency: the feed refused: %s\n", refusal->message);
            chuang__reply__free_unpacked(refusal, NULL);
            break;
        }
        if (!event)
            continue;
        int64_t lag = zclock_time() - event->occurred_ms;
        if (atomic_load(&s_step_index) >= 0) {
            pthread_mutex_lock(&s_lag_lock);
            s_series_add(&s_feed_lag, (uint32_t)(lag > 0 ? lag : 0));
            pthread_mutex_unlock(&s_lag_lock);
        }
        chuang__event__free_unpacked(event, NULL);
    }
    feed_client_destroy(&feed);
    return NULL;
}

/* The age in ms of the oldest event group has not applied (by its commit
 * time), 0 when none: its oldest pending entry, else the first after the
 * last it was given. An entry's id is its event's position ("<n>-0"). */
static int64_t s_group_lag_ms(redisContext *redis, const char *group, const char *delivered)
{
    int64_t position = 0;
    redisReply *reply = redisCommand(redis, "XPENDING %s %s", STREAM, group);
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2 &&
        reply->element[0]->integer > 0 && reply->element[1]->type == REDIS_REPLY_STRING)
        position = strtoll(reply->element[1]->str, NULL, 10);
    freeReplyObject(reply);
    if (!position) {
        reply = redisCommand(redis, "XRANGE %s (%s + COUNT 1", STREAM, delivered);
        if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 1)
            position = strtoll(reply->element[0]->element[0]->str, NULL, 10);
        freeReplyObject(reply);
    }
    Chuang__Event *event = NULL;
    if (!position || event_stream_get(redis, STREAM, position, &event) != 1 || !event)
        return 0;
    int64_t lag = zclock_time() - event->occurred_ms;
    chuang__event__free_unpacked(event, NULL);
    return lag;
}

static void *s_groups_run(void *arg)
{
    (void)arg;
    redisContext *redis = redis_link_connect(s_redis_url, 5);
    if (!redis)
        return NULL;
    while (!atomic_load(&s_stop)) {
        redisReply *groups = redisCommand(redis, "XINFO GROUPS %s", STREAM);
        for (size_t g = 0; groups && groups->type == REDIS_REPLY_ARRAY && g < groups->elements;
             g++) {
            const char *name = NULL, *delivered = NULL;
            redisReply *info = groups->element[g];
            for (size_t k = 0; k + 1 < info->elements; k += 2) {
                if (streq(info->element[k]->str, "name"))
                    name = info->element[k + 1]->str;
                else if (streq(info->element[k]->str, "last-delivered-id"))
                    delivered = info->element[k + 1]->str;
            }
            if (!name || !delivered)
                continue;
            int index = 0;
            while (index < s_ngroups && !streq(s_groups[index], name))
                index++;
            if (index == s_ngroups && s_ngroups < MAX_GROUPS)
                snprintf(s_groups[s_ngroups++], sizeof s_groups[0], "%s", name);
            if (index >= MAX_GROUPS)
                continue;
            int64_t lag = s_group_lag_ms(redis, name, delivered);
            if (atomic_load(&s_step_index) >= 0) {
                pthread_mutex_lock(&s_lag_lock);
                s_series_add(&s_group_lag[index], (uint32_t)(lag > 0 ? lag : 0));
                pthread_mutex_unlock(&s_lag_lock);
            }
        }
        freeReplyObject(groups);
        usleep(SAMPLE_MS * 1000);
    }
    redisFree(redis);
    return NULL;
}

/* CPU time of p so far in microseconds: PostgreSQL's with its backends. */
static int64_t s_cpu_us(const proc_t *p)
{
    return streq(p->name, "postgres") ? bench_tree_cpu_us(p->pid) : bench_proc_cpu_us(p->pid, NULL);
}

/* Resident memory of pid in KiB, from /proc; -1 when gone. */
static long s_rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *file = fopen(path, "r");
    if (!file)
        return -1;
    long kib = -1;
    while (fgets(line, sizeof line, file))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(file);
    return kib;
}

static int s_parse_procs(char *text)
{
    for (char *item = strtok(text, ","); item; item = strtok(NULL, ",")) {
        char *equals = strchr(item, '=');
        if (!equals || s_nprocs == MAX_PROCS)
            return -1;
        *equals = '\0';
        snprintf(s_procs[s_nprocs].name, sizeof s_procs[0].name, "%s", item);
        s_procs[s_nprocs].server = streq(item, "postgres") || streq(item, "redis");
        s_procs[s_nprocs++].pid = (pid_t)atoi(equals + 1);
    }
    return 0;
}

/* --- the register, filled beforehand ---------------------------------------- */

/* Copies the entity registered as $1 (with its reservation, founders,
 * addresses and history) once for every code in $2, under the trade name of
 * the same index in $3: one statement for the whole batch. The columns are
 * the registry's (services/registry/sql); a column added there without a
 * default makes this fail, loudly. */
static const char *const s_copy_sql =
    "WITH v AS (SELECT * FROM unnest($2::text[], $3::text[]) AS v (code, trade)),"
    " src AS (SELECT * FROM entities WHERE credit_code = $1),"
    " res AS (SELECT n.* FROM name_reservations n JOIN src ON n.id = src.reservation_id),"
    " new_res AS (INSERT INTO name_reservations (agency, name, region, trade_name, industry,"
    "   form, applicant_name, applicant_id_number, reserved_on, expires_on, status)"
    "   SELECT agency, replace(name, trade_name, v.trade), region, v.trade, industry, form,"
    "   applicant_name, applicant_id_number, reserved_on, expires_on, status FROM res, v"
    "   RETURNING id, trade_name, name),"
    " new_ent AS (INSERT INTO entities (credit_code, agency, name, trade_name, industry,"
    "   entity_type, legal_rep_name, legal_rep_id_number, legal_rep_phone,"
    "   registered_capital_fen, business_scope, industry_code, reservation_id, registered_on,"
    "   status)"
    "   SELECT v.code, agency, r.name, v.trade, industry, entity_type, legal_rep_name,"
    "   legal_rep_id_number, legal_rep_phone, registered_capital_fen, business_scope,"
    "   industry_code, r.id, registered_on, status"
    "   FROM src, v JOIN new_res r ON r.trade_name = v.trade RETURNING credit_code, name),"
    " f AS (INSERT INTO founders (credit_code, position, name, id_number, phone, categories,"
    "   subscribed_capital_fen) SELECT e.credit_code, position, f.name, id_number, phone,"
    "   categories, subscribed_capital_fen FROM founders f, new_ent e WHERE f.credit_code = $1),"
    " a AS (INSERT INTO entity_addresses (credit_code, address_id, kind, position)"
    "   SELECT e.credit_code, address_id, kind, position FROM entity_addresses a, new_ent e"
    "   WHERE a.credit_code = $1),"
    " h AS (INSERT INTO entity_history (credit_code, field, value, valid_from, valid_to)"
    "   SELECT e.credit_code, field, CASE WHEN field = 'name' THEN e.name ELSE value END,"
    "   valid_from, valid_to FROM entity_history h, new_ent e WHERE h.credit_code = $1)"
    " SELECT count(*) FROM new_ent";

/* The n-th preloaded entity's credit code: organisation codes of two
 * letters and six digits, which the registry's own numbering never makes. */
static void s_preload_code(long n, char code[19])
{
    char body[16];
    snprintf(body, sizeof body, "P%c%06d", "LMNQRTUW"[(n / 1000000) % 8], (int)(n % 1000000));
    identifiers_uscc_make('9', '1', AGENCY, body, code);
}

/* Fills the register at url with count entities copied from the first one
 * registered, each with its own credit code and a trade name from the top
 * of trade_name()'s range (the load takes them from the bottom); their
 * codes join those the lookups use. Returns 0 or -1. */
static int s_preload(const char *url, long count)
{
    PGconn *db = PQconnectdb(url);
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "bench_agency: cannot connect for the preload: %s", PQerrorMessage(db));
        PQfinish(db);
        return -1;
    }
    /* As the superuser, the copies skip the foreign-key triggers: they are
     * copies of a row that passed them, and the checks would take most of the
     * time. */
    const char *admin = getenv("CHUANG_BENCH_ADMIN_URL");
    if (admin) {
        PQfinish(db);
        db = PQconnectdb(admin);
        PQclear(PQexec(db, "SET session_replication_role = replica"));
        PQclear(PQexec(db, "SET search_path = registry"));
    }
    char template[19];
    snprintf(template, sizeof template, "%s", s_codes[0]);
    char *codes = malloc(PRELOAD_BATCH * 20 + 3), *trades = malloc(PRELOAD_BATCH * 16 + 3);
    int64_t start = bench_now_ns();
    int rc = 0;
    for (long done = 0; done < count && rc == 0;) {
        long batch = count - done < PRELOAD_BATCH ? count - done : PRELOAD_BATCH;
        char *c = codes, *t = trades;
        *c++ = '{';
        *t++ = '{';
        for (long i = 0; i < batch; i++) {
            char code[19], trade[16];
            s_preload_code(done + i, code);
            trade_name(TRADE_NAME_COUNT - 1 - (done + i), trade, sizeof trade);
            c += sprintf(c, "%s%s", i ? "," : "", code);
            t += sprintf(t, "%s%s", i ? "," : "", trade);
            long at = atomic_fetch_add(&s_ncodes, 1);
            if (at < CODES_MAX)
                snprintf(s_codes[at], sizeof s_codes[at], "%s", code);
        }
        *c++ = '}';
        *c = '\0';
        *t++ = '}';
        *t = '\0';
        const char *values[] = {template, codes, trades};
        PGresult *res = PQexecParams(db, s_copy_sql, 3, NULL, values, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK || atol(PQgetvalue(res, 0, 0)) != batch) {
            fprintf(stderr, "bench_agency: preload failed: %s", PQerrorMessage(db));
            rc = -1;
        }
        PQclear(res);
        done += batch;
    }
    const char *tables[] = {"name_reservations", "entities", "founders", "entity_addresses",
                            "entity_history"};
    for (size_t i = 0; rc == 0 && i < sizeof tables / sizeof *tables; i++) {
        char sql[64];
        snprintf(sql, sizeof sql, "VACUUM ANALYZE %s", tables[i]);
        PQclear(PQexec(db, sql));
    }
    /* The preload's WAL flushed now, not by a checkpoint during a step. */
    if (rc == 0 && admin)
        PQclear(PQexec(db, "CHECKPOINT"));
    if (rc == 0)
        printf("  register   %ld entities copied in beforehand in %.0f s (each with its "
               "reservation, founder, address and history)\n",
               count, (double)(bench_now_ns() - start) / 1e9);
    free(codes);
    free(trades);
    PQfinish(db);
    return rc;
}

/* --- steps ---------------------------------------------------------------- */

typedef struct {
    int rate;
    double achieved;
    long busy, failed;
    uint32_t p50[OPS], p99[OPS];
    uint32_t feed_p50, feed_p99;
    uint32_t group_p50[MAX_GROUPS], group_p99[MAX_GROUPS];
    double cpu[MAX_PROCS];
    long rss[MAX_PROCS];
    bool sustained;
} row_t;

/* Runs rate registrations a second (with their lookups and searches) for
 * seconds; fills row when it is given. */
static void s_run_step(int rate, double seconds, row_t *row)
{
    int mix = 1 + s_lookups + s_searches;
    for (int op = 0; op < OPS; op++)
        s_step.ok[op] = s_step.failed[op] = s_step.busy[op] = 0;
    for (int p = 0; p < s_nprocs; p++)
        s_procs[p].cpu_us = s_cpu_us(&s_procs[p]);
    atomic_store(&s_step_index, row ? 1 : -1);
    pthread_mutex_lock(&s_step.lock);
    s_step.interval_ns = (int64_t)(1e9 / ((double)rate * mix));
    s_step.start_ns = bench_now_ns() + 20 * 1000000L;
    s_step.next = 0;
    s_step.total = (long)(seconds * rate * mix);
    int64_t start_ns = s_step.start_ns;
    pthread_mutex_unlock(&s_step.lock);

    bench_sleep_until_ns(start_ns + (int64_t)(seconds * 1e9));
    long registered = s_step.ok[OP_REGISTER];
    double elapsed = (double)(bench_now_ns() - start_ns) / 1e9;
    /* Calls not taken by the step's end are not made; those under way are
     * waited for (their latencies count: they were due in the step). */
    pthread_mutex_lock(&s_step.lock);
    s_step.total = s_step.next;
    pthread_mutex_unlock(&s_step.lock);
    for (bool waiting = true; waiting; usleep(1000)) {
        pthread_mutex_lock(&s_step.lock);
        waiting = s_step.taking > 0;
        pthread_mutex_unlock(&s_step.lock);
    }
    usleep(200 * 1000);
    atomic_store(&s_step_index, -1);
    if (!row)
        return;

    row->rate = rate;
    row->achieved = (double)registered / elapsed;
    row->busy = row->failed = 0;
    for (int op = 0; op < OPS; op++) {
        row->busy += s_step.busy[op];
        row->failed += s_step.failed[op];
        series_t all = {0};
        for (int w = 0; w < s_nworkers; w++) {
            pthread_mutex_lock(&s_workers[w].lock);
            s_series_merge(&all, &s_workers[w].latency[op]);
            pthread_mutex_unlock(&s_workers[w].lock);
        }
        row->p50[op] = s_percentile(&all, 50);
        row->p99[op] = s_percentile(&all, 99);
        free(all.values);
    }
    pthread_mutex_lock(&s_lag_lock);
    row->feed_p50 = s_percentile(&s_feed_lag, 50);
    row->feed_p99 = s_percentile(&s_feed_lag, 99);
    bool keeps_up = s_feed_lag.count > 0 && row->feed_p99 < SUSTAIN_LAG_MS;
    s_feed_lag.count = 0;
    for (int g = 0; g < s_ngroups; g++) {
        row->group_p50[g] = s_percentile(&s_group_lag[g], 50);
        row->group_p99[g] = s_percentile(&s_group_lag[g], 99);
        keeps_up = keeps_up && row->group_p99[g] < SUSTAIN_LAG_MS;
        s_group_lag[g].count = 0;
    }
    pthread_mutex_unlock(&s_lag_lock);
    for (int p = 0; p < s_nprocs; p++) {
        int64_t cpu = s_cpu_us(&s_procs[p]);
        row->cpu[p] = cpu < 0 ? -1 : 100.0 * (double)(cpu - s_procs[p].cpu_us) / (elapsed * 1e6);
        row->rss[p] = s_rss_kib(s_procs[p].pid);
    }
    row->sustained = keeps_up && row->achieved >= 0.95 * rate;
}

static void s_print_row(const row_t *row)
{
    printf("%6d %8.0f %6ld %6ld", row->rate, row->achieved, row->busy, row->failed);
    for (int op = 0; op < OPS; op++)
        printf(" %7.1f %7.1f", row->p50[op] / 1000.0, row->p99[op] / 1000.0);
    printf(" %6u %6u", row->feed_p50, row->feed_p99);
    for (int g = 0; g < s_ngroups; g++)
        printf(" %6u %6u", row->group_p50[g], row->group_p99[g]);
    printf("  %s\n", row->sustained ? "yes" : "no");
    fflush(stdout);
}

static void s_usage(void)
{
    fprintf(stderr, "usage: bench_agency -C CTL_CONF -r REDIS_URL [-p name=pid,...] [-s SECONDS]\n"
                    "                    [-R RATES] [-L LOOKUPS] [-N SEARCHES] [-t THREADS] "
                    "[-w SECONDS] [-E ENTITIES]\n");
}

int main(int argc, char **argv)
{
    const char *conf = NULL;
    char rates_text[256] = "100,200,400,600,800,1000,1200";
    double step_s = 15, warm_s = 5;
    long preload = 0;
    int opt;
    while ((opt = getopt(argc, argv, "C:r:p:s:R:L:N:t:w:E:")) != -1) {
        switch (opt) {
        case 'C':
            conf = optarg;
            break;
        case 'r':
            s_redis_url = optarg;
            break;
        case 'p':
            if (s_parse_procs(optarg) != 0) {
                s_usage();
                return 2;
            }
            break;
        case 's':
            step_s = atof(optarg);
            break;
        case 'R':
            snprintf(rates_text, sizeof rates_text, "%s", optarg);
            break;
        case 'L':
            s_lookups = atoi(optarg);
            break;
        case 'N':
            s_searches = atoi(optarg);
            break;
        case 't':
            s_nworkers = atoi(optarg);
            break;
        case 'w':
            warm_s = atof(optarg);
            break;
        case 'E':
            preload = atol(optarg);
            break;
        default:
            s_usage();
            return 2;
        }
    }
    int rates[MAX_RATES];
    int nrates = bench_parse_list(rates_text, rates, 100000, MAX_RATES);
    if (!conf || !s_redis_url || nrates < 1 || step_s < 1 || s_lookups < 0 || s_searches < 0 ||
        s_nworkers < 1 || s_nworkers > MAX_THREADS || preload < 0 || preload > 8000000) {
        s_usage();
        return 2;
    }
    logger_init("bench-agency", LOGGER_WARN);
    zsys_init();
    zsys_set_max_sockets(0);
    zsys_handler_set(NULL);
    s_config = config_new(conf);
    s_security = s_config ? security_new(s_config) : NULL;
    s_brokers = s_config ? config_str(s_config, "brokers", NULL) : NULL;
    s_codes = calloc(CODES_MAX, sizeof *s_codes);
    if (!s_security || !s_brokers || !s_codes) {
        fprintf(stderr, "bench_agency: cannot read %s\n", conf);
        return 1;
    }

    printf("chuang agency benchmark\n");
    printf("  mix        each registration (ReserveName + RegisterEntity) with %d Lookup and %d "
           "SearchNames, open loop, %d client threads\n",
           s_lookups, s_searches, s_nworkers);
    printf("  steps      %.0f s each at the offered registration rates, after %.0f s of "
           "warm-up\n",
           step_s, warm_s);
    long idle_kib = 0;
    printf("  idle RSS  ");
    for (int p = 0; p < s_nprocs; p++) {
        long kib = s_rss_kib(s_procs[p].pid);
        if (!s_procs[p].server)
            idle_kib += kib > 0 ? kib : 0;
        printf(" %s %.1f MB", s_procs[p].name, kib / 1024.0);
    }
    printf("\n  idle RSS of the agency's processes: %.1f MB\n\n", idle_kib / 1024.0);
    fflush(stdout);

    for (int w = 0; w < s_nworkers; w++) {
        s_workers[w].client = client_new(s_brokers, s_security);
        client_set_identity(s_workers[w].client, AGENCY, NULL, NULL);
        client_set_timeouts(s_workers[w].client, 3000, 10000);
        pthread_mutex_init(&s_workers[w].lock, NULL);
    }
    /* One registration first: the agency answers, and lookups have a code. */
    s_register(s_workers[0].client);
    if (atomic_load(&s_ncodes) == 0) {
        fprintf(stderr, "bench_agency: the first registration failed\n");
        return 1;
    }
    const char *db_url = getenv("CHUANG_BENCH_DB_URL");
    if (preload > 0 && !db_url) {
        fprintf(stderr, "bench_agency: -E needs CHUANG_BENCH_DB_URL\n");
        return 2;
    }
    if (preload > 0 && s_preload(db_url, preload) != 0)
        return 1;
    for (int w = 0; w < s_nworkers; w++)
        pthread_create(&s_workers[w].thread, NULL, s_worker_run, &s_workers[w]);
    pthread_t feed, groups;
    pthread_create(&feed, NULL, s_feed_run, NULL);
    pthread_create(&groups, NULL, s_groups_run, NULL);
    if (warm_s > 0)
        s_run_step(rates[0], warm_s, NULL);

    printf("latency in ms from when a call was due; lag in ms (feed: commit to the department; "
           "group: oldest event not applied)\n");
    printf("offered achieved   busy failed");
    for (int op = 0; op < OPS; op++)
        printf(" %7s %7s", s_op_names[op], "p99");
    printf("   feed    p99");
    for (int g = 0; g < s_ngroups; g++)
        printf(" %6.6s    p99", s_groups[g]);
    printf("  sustained\n");
    row_t rows[MAX_RATES];
    int nrows = 0, misses = 0, best = -1;
    for (int r = 0; r < nrates && misses < 2; r++) {
        s_run_step(rates[r], step_s, &rows[nrows]);
        s_print_row(&rows[nrows]);
        if (rows[nrows].sustained)
            best = nrows;
        else
            misses++;
        nrows++;
    }
    atomic_store(&s_stop, true);
    for (int w = 0; w < s_nworkers; w++)
        pthread_join(s_workers[w].thread, NULL);
    pthread_join(feed, NULL);
    pthread_join(groups, NULL);

    printf("\nprocesses: CPU in %% of one core over each step, RSS in MB at its end\n");
    printf("%-12s", "offered");
    for (int p = 0; p < s_nprocs; p++)
        printf(" %10.10s", s_procs[p].name);
    printf("\n");
    for (int r = 0; r < nrows; r++) {
        printf("%-12d", rows[r].rate);
        for (int p = 0; p < s_nprocs; p++)
            printf(" %4.0f%% %4.0f", rows[r].cpu[p], rows[r].rss[p] / 1024.0);
        printf("\n");
    }
    if (best >= 0)
        printf("\nsustained: %d registrations/s (achieved %.0f/s) with the feed's lag p99 %u ms "
               "and every consumer's under %d ms\n",
               rows[best].rate, rows[best].achieved, rows[best].feed_p99, SUSTAIN_LAG_MS);
    else
        printf("\nsustained: none of the offered rates\n");
    printf("idle RSS of the agency's processes: %.1f MB\n", idle_kib / 1024.0);

    for (int w = 0; w < s_nworkers; w++) {
        client_destroy(&s_workers[w].client);
        for (int op = 0; op < OPS; op++)
            free(s_workers[w].latency[op].values);
    }
    free(s_feed_lag.values);
    for (int g = 0; g < MAX_GROUPS; g++)
        free(s_group_lag[g].values);
    free(s_codes);
    security_destroy(&s_security);
    config_destroy(&s_config);
    return atomic_load(&s_refused) > 0 ? 1 : 0;
}
