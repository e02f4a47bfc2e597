/*
 * test_chaos.c - faults under load, counted.
 *
 * One agency as it is deployed: two brokers, two registry replicas (one of
 * them the active relay), two notify replicas delivering webhooks to a real
 * HTTP receiver (services/notify/test_receivers.py), and the feed, which a
 * department follows. The test has a PostgreSQL and a Redis of its own (the
 * ctest fixture "chaos" starts them), because it restarts both.
 *
 * Several clients keep a steady mixed load: reserve a name, register a
 * company under it, read the company back; every write carries an
 * idempotency key and is retried with the same key until it is answered. A
 * client that gets UNAVAILABLE, DEADLINE_EXCEEDED or RESOURCE_EXHAUSTED sees
 * an error and tries again; any other failure is a wrong answer. Meanwhile
 * the test, in turn, kills -9 a registry replica, a notify replica, a broker
 * (of two), the active relay and the feed, restarting each; restarts
 * PostgreSQL as after a crash; and flushes and restarts Redis. After each
 * fault it waits until every client has been answered again.
 *
 * Then it stops the load, waits for the events and deliveries to settle and
 * counts, independently of what the services report: in PostgreSQL, every
 * acknowledged reservation and registration is there and none applied twice;
 * in Redis, the stream holds every event of the outbox at its position; at
 * the department, the feed gave every event once, in order; at the
 * receiver, every event a webhook is due for arrived, under one delivery id.
 * Every count must be 0; the figures, with the longest time a client saw
 * errors, are printed.
 */
#include "client.h"
#include "config.h"
#include "db.h"
#include "feed_client.h"
#include "harness.h"
#include "notify.pb-c.h"
#include "redis_link.h"
#include "registry.pb-c.h"
#include "registry_fixture.h"
#include "security.h"
#include "trade_name.h"

#include <czmq.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <cmocka.h>
#include <sys/wait.h>

#define BROKER    CHUANG_BUILD_DIR "/services/broker/chuang-broker"
#define REGISTRY  CHUANG_BUILD_DIR "/services/registry/chuang-registry"
#define NOTIFY    CHUANG_BUILD_DIR "/services/notify/chuang-notify"
#define FEED      CHUANG_BUILD_DIR "/services/feed/chuang-feed"
#define STACK     CHUANG_SOURCE_DIR "/deploy/lib/stack.sh"
#define AGENCY    "330106"
#define APPLICANT "11010519491231002X"
#define LEGAL_REP "330106199003071236"
#define STREAM    "chuang:registry:events"

enum {
    CLIENTS = 4,
    OP_GIVE_UP_MS = 120000, /* a write not answered in this long is a failure */
    RECOVERY_MS = 90000,    /* every client answered again within this after a fault */
    SETTLE_MS = 120000,     /* events and deliveries settle within this after the load */
    STEADY_MS = 1500,       /* load between faults */
    DOWN_MS = 2500,         /* how long a killed process or a server stays down */
    RESULTS_MAX = 1 << 16
};

/* --- the deployment ---------------------------------------------------------- */

static char s_broker_endpoint[2][64];
static char s_brokers[160];
static char s_feed_endpoint[64];
static char s_feed_public[64];
static char s_registry_db[512];
static char s_notify_db[512];
static harness_receivers_t s_receivers;
static pid_t s_broker[2], s_registry[2], s_notify[2], s_feed;
static char *s_broker_env[2][3];
static char *s_registry_env[8];
static char *s_notify_env[20];
static char *s_feed_env[8];

static config_t *s_plain_config, *s_dept_config;
static security_t *s_plain, *s_dept;

static pid_t s_spawn_registry(int i)
{
    char name[32];
    snprintf(name, sizeof name, "registry-%d", i + 1);
    return harness_spawn(name, REGISTRY, (const char *const *)s_registry_env);
}

static pid_t s_spawn_notify(int i)
{
    char name[32];
    snprintf(name, sizeof name, "notify-%d", i + 1);
    return harness_spawn(name, NOTIFY, (const char *const *)s_notify_env);
}

static pid_t s_spawn_broker(int i)
{
    char name[32];
    snprintf(name, sizeof name, "broker-%d", i + 1);
    return harness_spawn(name, BROKER, (const char *const *)s_broker_env[i]);
}

static pid_t s_spawn_feed(void)
{
    return harness_spawn("feed", FEED, (const char *const *)s_feed_env);
}

/* The feed's certificate, the department's, and the access list that lets
 * the department follow every registry event with its personal data. */
static int s_feed_keys(void)
{
    const char *dir = harness_dir();
    char path[600];
    harness_sh("mkdir -p '%s/keys/allow'", dir);
    const char *names[] = {"feed", "dept"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/keys/%s", dir, names[i]);
        if (security_keygen(path, names[i]) != 0)
            return -1;
    }
    harness_sh("cp '%s/keys/dept' '%s/keys/allow/'", dir, dir);
    snprintf(path, sizeof path, "%s/keys/feed", dir);
    zcert_t *feed = zcert_load(path);
    snprintf(path, sizeof path, "%s/keys/dept", dir);
    zcert_t *dept = zcert_load(path);
    if (!feed || !dept)
        return -1;
    snprintf(s_feed_public, sizeof s_feed_public, "%s", zcert_public_txt(feed));
    snprintf(path, sizeof path, "%s/feed.acl", dir);
    FILE *acl = fopen(path, "w");
    if (!acl)
        return -1;
    fprintf(acl, "%s dept department yes registry.\n", zcert_public_txt(dept));
    fclose(acl);
    zcert_destroy(&feed);
    zcert_destroy(&dept);

    s_dept_config = config_new(NULL);
    snprintf(path, sizeof path, "%s/keys/dept_secret", dir);
    config_set(s_dept_config, "security.cert", path);
    snprintf(path, sizeof path, "%s/keys/feed", dir);
    config_set(s_dept_config, "security.server_cert", path);
    s_dept = security_new(s_dept_config);
    return s_dept ? 0 : -1;
}

static int s_setup(void **state)
{
    (void)state;
    if (harness_init("chaos") != 0 || harness_recipient_key() != 0 ||
        harness_receivers_start(&s_receivers) != 0 || s_feed_keys() != 0)
        return -1;
    const char *url = harness_service_db("chaos", "registry");
    if (!url)
        return -1;
    snprintf(s_registry_db, sizeof s_registry_db, "%s", url);
    url = harness_service_db("chaos", "notify");
    if (!url)
        return -1;
    snprintf(s_notify_db, sizeof s_notify_db, "%s", url);
    for (int i = 0; i < 2; i++) {
        snprintf(s_broker_endpoint[i], sizeof s_broker_endpoint[i], "tcp://127.0.0.1:%d",
                 harness_free_port());
        s_broker_env[i][0] = zsys_sprintf("CHUANG_BROKER_ENDPOINT=%s", s_broker_endpoint[i]);
        s_broker_env[i][1] = strdup("CHUANG_SECURITY_PLAIN=yes");
    }
    snprintf(s_brokers, sizeof s_brokers, "%s,%s", s_broker_endpoint[0], s_broker_endpoint[1]);
    snprintf(s_feed_endpoint, sizeof s_feed_endpoint, "tcp://127.0.0.1:%d", harness_free_port());
    const char *redis = harness_get("CHUANG_TEST_REDIS_URL");
    const char *dir = harness_dir();

    int n = 0;
    s_registry_env[n++] = zsys_sprintf("CHUANG_BROKERS=%s", s_brokers);
    s_registry_env[n++] = zsys_sprintf("CHUANG_DB_URL=%s", s_registry_db);
    s_registry_env[n++] = zsys_sprintf("CHUANG_REDIS_URL=%s", redis);
    s_registry_env[n++] = strdup("CHUANG_SECURITY_PLAIN=yes");

    n = 0;
    s_notify_env[n++] = zsys_sprintf("CHUANG_BROKERS=%s", s_brokers);
    s_notify_env[n++] = zsys_sprintf("CHUANG_DB_URL=%s", s_notify_db);
    s_notify_env[n++] = zsys_sprintf("CHUANG_REDIS_URL=%s", redis);
    s_notify_env[n++] =
        zsys_sprintf("CHUANG_NOTIFY_SMTP_URL=smtp://127.0.0.1:%d", s_receivers.smtp_port);
    s_notify_env[n++] = strdup("CHUANG_SECURITY_PLAIN=yes");
    s_notify_env[n++] = strdup("CHUANG_NOTIFY_BACKOFF_MS=200");
    s_notify_env[n++] = strdup("CHUANG_NOTIFY_TIMEOUT_MS=2000");
    s_notify_env[n++] = strdup("CHUANG_NOTIFY_LEASE_MS=5000");
    s_notify_env[n++] = strdup("CHUANG_NOTIFY_WEBHOOK_ALLOW_HTTP=yes");
    s_notify_env[n++] = strdup("CHUANG_NOTIFY_WEBHOOK_ALLOW_HOSTS=127.0.0.1");
    s_notify_env[n++] = strdup("CHUANG_SERVICE_TICK_MS=100");

    n = 0;
    s_feed_env[n++] = zsys_sprintf("CHUANG_FEED_ENDPOINT=%s", s_feed_endpoint);
    s_feed_env[n++] = zsys_sprintf("CHUANG_FEED_ACL=%s/feed.acl", dir);
    s_feed_env[n++] = zsys_sprintf("CHUANG_SECURITY_CERT=%s/keys/feed_secret", dir);
    s_feed_env[n++] = zsys_sprintf("CHUANG_SECURITY_ALLOW_DIR=%s/keys/allow", dir);
    s_feed_env[n++] = zsys_sprintf("CHUANG_REDIS_URL=%s", redis);

    for (int i = 0; i < 2; i++)
        s_broker[i] = s_spawn_broker(i);
    for (int i = 0; i < 2; i++) {
        s_registry[i] = s_spawn_registry(i);
        s_notify[i] = s_spawn_notify(i);
    }
    s_feed = s_spawn_feed();
    s_plain_config = config_new(NULL);
    config_set(s_plain_config, "security.plain", "yes");
    s_plain = security_new(s_plain_config);
    for (int i = 0; i < 2; i++)
        if (harness_wait_service(s_broker_endpoint[i], "registry", 30000) != 0 ||
            harness_wait_service(s_broker_endpoint[i], "notify", 30000) != 0)
            return -1;
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    int bad = 0;
    pid_t *all[] = {&s_feed,        &s_notify[0], &s_notify[1], &s_registry[0],
                    &s_registry[1], &s_broker[0], &s_broker[1]};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        int status = harness_stop(*all[i], SIGTERM, 10000);
        bad += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    harness_receivers_stop(&s_receivers);
    char **envs[] = {s_broker_env[0], s_broker_env[1], s_registry_env, s_notify_env, s_feed_env};
    for (size_t e = 0; e < sizeof envs / sizeof envs[0]; e++)
        for (int i = 0; envs[e][i]; i++)
            zstr_free(&envs[e][i]);
    security_destroy(&s_dept);
    config_destroy(&s_dept_config);
    security_destroy(&s_plain);
    config_destroy(&s_plain_config);
    if (bad)
        fprintf(stderr, "chaos: %d processes did not end cleanly on SIGTERM\n", bad);
    return bad ? -1 : 0;
}

/* --- the load ---------------------------------------------------------------- */

/* What the clients were told: one entry per logical operation. */
typedef struct {
    char reservation_id[40]; /* acknowledged reservation, or "" */
    char credit_code[24];    /* acknowledged registration, or "" */
} result_t;

static struct {
    result_t results[RESULTS_MAX];
    atomic_long next;      /* the next operation's index (its trade name) */
    atomic_long answered;  /* writes answered OK */
    atomic_long errors;    /* attempts answered with a retryable error */
    atomic_long wrong;     /* answers that were neither OK nor retryable */
    atomic_long given_up;  /* writes not answered within OP_GIVE_UP_MS */
    atomic_long reads_bad; /* read-backs that did not match what was acknowledged */
    atomic_bool stop;
    int64_t answered_at[CLIENTS]; /* zclock_mono of each client's last OK */
    int64_t longest_error_ms;     /* first error to next OK, the longest */
    pthread_mutex_t lock;
} s_load = {.lock = PTHREAD_MUTEX_INITIALIZER};

static bool s_retryable(Chuang__Status status)
{
    return status == CHUANG__STATUS__UNAVAILABLE || status == CHUANG__STATUS__DEADLINE_EXCEEDED ||
           status == CHUANG__STATUS__RESOURCE_EXHAUSTED;
}

/* Calls method until it answers OK, with the same idempotency key every
 * time (NULL for a read); returns the OK reply (caller frees) or NULL.
 * *error_since is when this client's current run of errors began (0: none). */
static Chuang__Reply *s_call(client_t *client, int who, const char *method,
                             const ProtobufCMessage *input, const char *key, int64_t *error_since)
{
    client_options_t options = {.idempotency_key = key};
    int64_t start = zclock_mono();
    while (zclock_mono() - start < OP_GIVE_UP_MS) {
        Chuang__Reply *reply = client_call(client, "registry", method, input, &options);
        assert_non_null(reply);
        if (reply->status == CHUANG__STATUS__OK) {
            int64_t now = zclock_mono();
            pthread_mutex_lock(&s_load.lock);
            if (*error_since && now - *error_since > s_load.longest_error_ms)
                s_load.longest_error_ms = now - *error_since;
            s_load.answered_at[who] = now;
            pthread_mutex_unlock(&s_load.lock);
            *error_since = 0;
            return reply;
        }
        if (!*error_since)
            *error_since = zclock_mono();
        if (s_retryable(reply->status))
            atomic_fetch_add(&s_load.errors, 1);
        else {
            atomic_fetch_add(&s_load.wrong, 1);
            fprintf(stderr, "chaos: %s answered %d: %s\n", method, (int)reply->status,
                    reply->message);
        }
        chuang__reply__free_unpacked(reply, NULL);
        zclock_sleep(100);
    }
    atomic_fetch_add(&s_load.given_up, 1);
    fprintf(stderr, "chaos: %s not answered in %d s\n", method, OP_GIVE_UP_MS / 1000);
    return NULL;
}

/* One logical operation: reserve name index, register under it, read back. */
static void s_operation(client_t *client, int who, long index, int64_t *error_since)
{
    result_t *result = &s_load.results[index];
    char name[64], key[64], detail[64];
    trade_name(index, name, sizeof name);
    Chuang__Registry__ReserveNameRequest reserve;
    registry_fixture_reservation(&reserve, name, APPLICANT);
    snprintf(key, sizeof key, "chaos-reserve-%ld", index);
    Chuang__Reply *reply = s_call(client, who, "ReserveName", &reserve.base, key, error_since);
    if (!reply)
        return;
    Chuang__Registry__NameReservation *reservation =
        chuang__registry__name_reservation__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_non_null(reservation);
    snprintf(result->reservation_id, sizeof result->reservation_id, "%s",
             reservation->reservation_id);
    chuang__registry__name_reservation__free_unpacked(reservation, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    atomic_fetch_add(&s_load.answered, 1);

    registry_fixture_registration_t registration;
    snprintf(detail, sizeof detail, "文三路 %ld 号", index + 1);
    registry_fixture_registration(&registration, result->reservation_id, detail);
    snprintf(key, sizeof key, "chaos-register-%ld", index);
    reply = s_call(client, who, "RegisterEntity", &registration.request.base, key, error_since);
    if (!reply)
        return;
    Chuang__Registry__Entity *entity =
        chuang__registry__entity__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_non_null(entity);
    snprintf(result->credit_code, sizeof result->credit_code, "%s", entity->credit_code);
    chuang__registry__entity__free_unpacked(entity, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    atomic_fetch_add(&s_load.answered, 1);

    Chuang__Registry__GetEntityRequest get = CHUANG__REGISTRY__GET_ENTITY_REQUEST__INIT;
    get.credit_code = result->credit_code;
    reply = s_call(client, who, "GetEntity", &get.base, NULL, error_since);
    if (!reply)
        return;
    entity = chuang__registry__entity__unpack(NULL, reply->payload.len, reply->payload.data);
    if (!entity || !streq(entity->credit_code, result->credit_code) ||
        !strstr(entity->name, name)) {
        atomic_fetch_add(&s_load.reads_bad, 1);
        fprintf(stderr, "chaos: GetEntity %s did not read back what was registered\n",
                result->credit_code);
    }
    chuang__registry__entity__free_unpacked(entity, NULL);
    chuang__reply__free_unpacked(reply, NULL);
}

static void *s_client_thread(void *args)
{
    int who = (int)(intptr_t)args;
    client_t *client = client_new(s_brokers, s_plain);
    client_set_identity(client, AGENCY, "officer-1", "officer");
    client_set_timeouts(client, 1000, 4000);
    int64_t error_since = 0;
    while (!atomic_load(&s_load.stop)) {
        long index = atomic_fetch_add(&s_load.next, 1);
        if (index >= RESULTS_MAX)
            break;
        s_operation(client, who, index, &error_since);
        zclock_sleep(20);
    }
    client_destroy(&client);
    return NULL;
}

/* --- the department following the feed ------------------------------------- */

static struct {
    char (*ids)[40]; /* the event id the feed gave at each position */
    int64_t size;
    atomic_llong cursor; /* the last position the department got */
    atomic_long out_of_order;
    atomic_long refused;
    atomic_bool stop;
} s_follower;

static void *s_follower_thread(void *args)
{
    (void)args;
    feed_client_t *feed =
        feed_client_new(s_feed_endpoint, s_dept, s_feed_public, "registry", 0, "");
    assert_non_null(feed);
    while (!atomic_load(&s_follower.stop)) {
        Chuang__Reply *refusal = NULL;
        Chuang__Event *event = feed_client_next(feed, 200, &refusal);
        if (refusal) {
            fprintf(stderr, "chaos: the feed refused the department: %s\n", refusal->message);
            atomic_fetch_add(&s_follower.refused, 1);
            chuang__reply__free_unpacked(refusal, NULL);
            break;
        }
        if (!event)
            continue;
        int64_t expected = atomic_load(&s_follower.cursor) + 1;
        if (event->sequence != expected) {
            atomic_fetch_add(&s_follower.out_of_order, 1);
            fprintf(stderr, "chaos: the feed gave position %lld after %lld\n",
                    (long long)event->sequence, (long long)expected - 1);
        }
        if (event->sequence > 0 && event->sequence <= s_follower.size)
            snprintf(s_follower.ids[event->sequence - 1], 40, "%s", event->id);
        atomic_store(&s_follower.cursor, event->sequence);
        chuang__event__free_unpacked(event, NULL);
    }
    feed_client_destroy(&feed);
    return NULL;
}

/* --- faults ------------------------------------------------------------------ */

/* The pid of the registry replica whose relay is active, or -1. */
static pid_t s_active_relay(void)
{
    for (int i = 0; i < 300; i++) {
        PGconn *db = db_connect(s_registry_db, "registry", 3);
        PGresult *res = db ? PQexec(db, "SELECT a.application_name FROM pg_stat_activity a"
                                        " JOIN pg_locks l ON l.pid = a.pid"
                                        " JOIN pg_class c ON c.oid = l.relation"
                                        " WHERE c.oid = 'registry.chuang_relay_lock'::regclass"
                                        "   AND l.granted"
                                        "   AND l.mode = 'ExclusiveLock'"
                                        "   AND a.application_name LIKE 'chuang relay %'")
                           : NULL;
        pid_t pid = -1;
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
            pid = atoi(PQgetvalue(res, 0, 0) + strlen("chuang relay "));
        PQclear(res);
        PQfinish(db);
        if (pid == s_registry[0] || pid == s_registry[1])
            return pid;
        zclock_sleep(100);
    }
    return -1;
}

/* Waits until every client has been answered OK after since. Returns how
 * long after since that was (ms), or -1 when one was not within within_ms
 * of since. */
static int64_t s_recovered_after(int64_t since, int within_ms)
{
    while (zclock_mono() - since < within_ms) {
        bool all = true;
        pthread_mutex_lock(&s_load.lock);
        for (int i = 0; i < CLIENTS; i++)
            all = all && s_load.answered_at[i] > since;
        pthread_mutex_unlock(&s_load.lock);
        if (all)
            return zclock_mono() - since;
        zclock_sleep(50);
    }
    return -1;
}

/* Waits until the department has every event committed by now. Returns
 * how long after since that was (ms), or -1 when not within RECOVERY_MS. */
static int64_t s_caught_up_after(int64_t since)
{
    PGconn *db = db_connect(s_registry_db, "registry", 30);
    PGresult *res = db ? PQexec(db, "SELECT count(*) FROM chuang_outbox") : NULL;
    long committed = PQresultStatus(res) == PGRES_TUPLES_OK ? atol(PQgetvalue(res, 0, 0)) : -1;
    PQclear(res);
    PQfinish(db);
    while (committed >= 0 && zclock_mono() - since < RECOVERY_MS) {
        if (atomic_load(&s_follower.cursor) >= committed)
            return zclock_mono() - since;
        zclock_sleep(20);
    }
    return -1;
}

typedef enum {
    KILL_REGISTRY,
    KILL_NOTIFY,
    KILL_BROKER,
    KILL_RELAY,
    KILL_FEED,
    RESTART_POSTGRES,
    FLUSH_REDIS,
    FAULTS
} fault_t;

static const char *const s_fault_names[FAULTS] = {
    "kill -9 a registry replica (not the relay)",
    "kill -9 a notify replica",
    "kill -9 one broker of two",
    "kill -9 the active relay",
    "kill -9 the feed",
    "restart PostgreSQL (immediate: crash recovery)",
    "flush and restart Redis",
};

/* The process a fault killed, to be started again: which kind, which one. */
typedef struct {
    pid_t *pid;
    pid_t (*spawn)(int);
    int index;
} victim_t;

static pid_t s_spawn_feed_at(int i)
{
    (void)i;
    return s_spawn_feed();
}

/* Breaks what fault names. A killed process is returned in *victim for
 * s_repair; a server is stopped. */
static void s_break(fault_t fault, victim_t *victim)
{
    const char *dir = harness_get("CHUANG_TEST_DIR");
    *victim = (victim_t){0};
    switch (fault) {
    case KILL_REGISTRY:
    case KILL_RELAY: {
        pid_t relay = s_active_relay();
        assert_true(relay > 0);
        int i = relay == s_registry[0] ? 0 : 1;
        if (fault == KILL_REGISTRY)
            i = 1 - i;
        *victim = (victim_t){&s_registry[i], s_spawn_registry, i};
        break;
    }
    case KILL_NOTIFY:
        *victim = (victim_t){&s_notify[0], s_spawn_notify, 0};
        break;
    case KILL_BROKER:
        *victim = (victim_t){&s_broker[0], s_spawn_broker, 0};
        break;
    case KILL_FEED:
        *victim = (victim_t){&s_feed, s_spawn_feed_at, 0};
        break;
    case RESTART_POSTGRES:
        assert_int_equal(
            harness_sh("bash -c '. \"%s\" && stack_pg_stop \"%s/pg\" immediate'", STACK, dir), 0);
        break;
    case FLUSH_REDIS:
        assert_int_equal(harness_sh("redis-cli -p %s flushall >/dev/null && bash -c '. \"%s\" "
                                    "&& stack_redis_stop \"%s/redis\"'",
                                    harness_get("CHUANG_TEST_REDIS_PORT"), STACK, dir),
                         0);
        break;
    case FAULTS:
        break;
    }
    if (victim->pid)
        harness_stop(*victim->pid, SIGKILL, 1000);
}

/* Starts again what s_break stopped. */
static void s_repair(fault_t fault, const victim_t *victim)
{
    const char *dir = harness_get("CHUANG_TEST_DIR");
    if (victim->pid)
        *victim->pid = victim->spawn(victim->index);
    else if (fault == RESTART_POSTGRES)
        assert_int_equal(harness_sh("bash -c '. \"%s\" && stack_pg_start \"%s/pg\" %s'", STACK, dir,
                                    harness_get("CHUANG_TEST_PG_PORT")),
                         0);
    else if (fault == FLUSH_REDIS)
        assert_int_equal(harness_sh("bash -c '. \"%s\" && stack_redis_start \"%s/redis\" %s'",
                                    STACK, dir, harness_get("CHUANG_TEST_REDIS_PORT")),
                         0);
}

/* --- counting ---------------------------------------------------------------- */

static PGconn *s_db(const char *url, const char *schema)
{
    PGconn *db = db_connect(url, schema, 10);
    assert_non_null(db);
    return db;
}

static long s_count(PGconn *db, const char *sql)
{
    PGresult *res = PQexec(db, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fprintf(stderr, "chaos: %s: %s", sql, PQerrorMessage(db));
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    long count = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    return count;
}

/* The outbox's last position, once every event has one. */
static int64_t s_outbox_positions(PGconn *db)
{
    if (s_count(db, "SELECT count(*) FROM chuang_outbox WHERE position IS NULL") != 0)
        return -1;
    return s_count(db, "SELECT coalesce(max(position), 0) FROM chuang_outbox");
}

static redisContext *s_redis(void)
{
    redisContext *redis = NULL;
    assert_int_equal(redis_link_reset(&redis, harness_get("CHUANG_TEST_REDIS_URL"), 3), 0);
    return redis;
}

static int64_t s_stream_last(void)
{
    redisContext *redis = NULL;
    if (redis_link_reset(&redis, harness_get("CHUANG_TEST_REDIS_URL"), 3) != 0)
        return -1;
    redisReply *reply = redisCommand(redis, "XREVRANGE %s + - COUNT 1", STREAM);
    int64_t last = 0;
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 1)
        last = atoll(reply->element[0]->element[0]->str);
    freeReplyObject(reply);
    redisFree(redis);
    return last;
}

/* Webhook deliveries due, not yet sent. */
static long s_webhooks_unsent(PGconn *notify)
{
    return s_count(notify, "SELECT count(*) FROM deliveries"
                           " WHERE channel = 'webhook' AND status <> 'sent'");
}

/* Waits until the relay has published every event, the department has
 * followed them all and notify has sent every webhook it made, and until
 * notify has made a delivery for every event it is due one for. */
static bool s_settled(PGconn *registry, PGconn *notify)
{
    for (int64_t end = zclock_mono() + SETTLE_MS; zclock_mono() < end; zclock_sleep(200)) {
        int64_t last = s_outbox_positions(registry);
        if (last <= 0 || s_stream_last() != last || atomic_load(&s_follower.cursor) != last)
            continue;
        long due = s_count(registry, "SELECT count(*) FROM chuang_outbox WHERE type IN"
                                     " ('registry.NameReserved', 'registry.EntityRegistered')");
        if (s_count(notify, "SELECT count(*) FROM deliveries WHERE channel = 'webhook'") >= due &&
            s_webhooks_unsent(notify) == 0)
            return true;
    }
    return false;
}

/* Acknowledged writes missing from PostgreSQL. */
static long s_lost_acks(PGconn *registry, long operations)
{
    long lost = 0;
    for (long i = 0; i < operations; i++) {
        const result_t *r = &s_load.results[i];
        const char *values[2] = {r->reservation_id, r->credit_code};
        if (r->reservation_id[0]) {
            PGresult *res =
                PQexecParams(registry, "SELECT 1 FROM name_reservations WHERE id = $1::uuid", 1,
                             NULL, values, NULL, NULL, 0);
            lost += PQntuples(res) != 1;
            PQclear(res);
        }
        if (r->credit_code[0]) {
            PGresult *res = PQexecParams(registry,
                                         "SELECT 1 FROM entities WHERE credit_code = $2"
                                         " AND reservation_id = $1::uuid",
                                         2, NULL, values, NULL, NULL, 0);
            lost += PQntuples(res) != 1;
            PQclear(res);
        }
    }
    return lost;
}

/* Events in the outbox that the stream does not hold at their position. */
static long s_missing_from_stream(PGconn *registry, int64_t last)
{
    redisContext *redis = s_redis();
    PGresult *res = PQexec(registry, "SELECT position, id FROM chuang_outbox ORDER BY position");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    long missing = 0;
    int rows = PQntuples(res);
    for (int row = 0; row < rows; row += 500) {
        redisReply *reply =
            redisCommand(redis, "XRANGE %s %s-0 + COUNT 500", STREAM, PQgetvalue(res, row, 0));
        assert_non_null(reply);
        for (int i = row; i < rows && i < row + 500; i++) {
            size_t at = (size_t)(i - row);
            bool same = reply->type == REDIS_REPLY_ARRAY && at < reply->elements;
            if (same) {
                redisReply *entry = reply->element[at];
                char expected[32];
                snprintf(expected, sizeof expected, "%s-0", PQgetvalue(res, i, 0));
                same = streq(entry->element[0]->str, expected);
                /* fields: "event" <packed>, "id" <uuid> */
                redisReply *fields = entry->element[1];
                same = same && fields->elements >= 4 &&
                       streq(fields->element[3]->str, PQgetvalue(res, i, 1));
            }
            missing += !same;
        }
        freeReplyObject(reply);
    }
    missing += rows != last;
    PQclear(res);
    redisFree(redis);
    return missing;
}

/* Events the department did not get from the feed, or got as another. */
static long s_missing_at_department(PGconn *registry)
{
    PGresult *res = PQexec(registry, "SELECT position, id FROM chuang_outbox ORDER BY position");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    long missing = 0;
    for (int i = 0; i < PQntuples(res); i++) {
        int64_t position = atoll(PQgetvalue(res, i, 0));
        missing += position > s_follower.size ||
                   !streq(s_follower.ids[position - 1], PQgetvalue(res, i, 1));
    }
    PQclear(res);
    return missing;
}

/* How many requests the receiver got for each delivery id. */
static zhash_t *s_received(void)
{
    zhash_t *received = zhash_new();
    zdir_t *dir = zdir_new(s_receivers.dir, NULL);
    zfile_t **files = dir ? zdir_flatten(dir) : NULL;
    for (size_t i = 0; files && files[i]; i++) {
        const char *name = strrchr(zfile_filename(files[i], NULL), '/');
        size_t length = name ? strlen(name) : 0;
        if (!name || strncmp(name, "/http-", 6) != 0 || length < 6 + 5 ||
            !streq(name + length - 5, ".json"))
            continue;
        /* http-<delivery>-<n>.json: the delivery id is 36 characters */
        char id[37];
        snprintf(id, sizeof id, "%.36s", name + 6);
        intptr_t count = (intptr_t)zhash_lookup(received, id);
        zhash_update(received, id, (void *)(count + 1));
    }
    zdir_flatten_free(&files);
    zdir_destroy(&dir);
    return received;
}

typedef struct {
    long due;       /* events a webhook is due for */
    long lost;      /* ... that no webhook delivery of reached the receiver */
    long doubled;   /* ... that reached it under more than one delivery id */
    long resent;    /* requests for a delivery id it had already got */
    long delivered; /* distinct deliveries received */
} deliveries_t;

static deliveries_t s_count_deliveries(PGconn *registry, PGconn *notify)
{
    deliveries_t d = {0};
    zhash_t *received = s_received();
    PGresult *events = PQexec(registry, "SELECT id FROM chuang_outbox WHERE type IN"
                                        " ('registry.NameReserved', 'registry.EntityRegistered')");
    assert_int_equal(PQresultStatus(events), PGRES_TUPLES_OK);
    d.due = PQntuples(events);
    for (int i = 0; i < PQntuples(events); i++) {
        const char *values[1] = {PQgetvalue(events, i, 0)};
        PGresult *res = PQexecParams(notify,
                                     "SELECT id FROM deliveries WHERE event_id = $1::uuid"
                                     " AND channel = 'webhook'",
                                     1, NULL, values, NULL, NULL, 0);
        assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
        int arrived = 0;
        for (int row = 0; row < PQntuples(res); row++) {
            intptr_t count = (intptr_t)zhash_lookup(received, PQgetvalue(res, row, 0));
            arrived += count > 0;
            d.resent += count > 1 ? (long)count - 1 : 0;
        }
        d.lost += arrived == 0;
        d.doubled += arrived > 1;
        d.delivered += arrived;
        PQclear(res);
    }
    PQclear(events);
    zhash_destroy(&received);
    return d;
}

/* --- the test ---------------------------------------------------------------- */

static void s_set_recipient(client_t *client, const char *id)
{
    Chuang__Notify__Recipient recipient = CHUANG__NOTIFY__RECIPIENT__INIT;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/ok", s_receivers.http_port);
    recipient.id = (char *)id;
    recipient.email = "";
    recipient.webhook_url = url;
    recipient.webhook_secret = "a-webhook-secret-of-length";
    Chuang__Reply *reply = client_call(client, "notify", "SetRecipient", &recipient.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    chuang__reply__free_unpacked(reply, NULL);
}

/* ms as seconds, or "never" for -1 (not within RECOVERY_MS). */
static void s_seconds(char *out, size_t size, int64_t ms)
{
    if (ms < 0)
        snprintf(out, size, "never");
    else
        snprintf(out, size, "%5.2f s", (double)ms / 1000);
}

static void test_faults_under_load_lose_and_double_nothing(void **state)
{
    (void)state;
    client_t *officer = client_new(s_brokers, s_plain);
    client_set_identity(officer, AGENCY, "officer-1", "officer");
    s_set_recipient(officer, APPLICANT);
    s_set_recipient(officer, LEGAL_REP);
    client_destroy(&officer);

    s_follower.size = 4 * RESULTS_MAX;
    s_follower.ids = calloc((size_t)s_follower.size, sizeof *s_follower.ids);
    assert_non_null(s_follower.ids);
    pthread_t follower, clients[CLIENTS];
    pthread_create(&follower, NULL, s_follower_thread, NULL);
    int64_t started = zclock_mono();
    for (int i = 0; i < CLIENTS; i++)
        pthread_create(&clients[i], NULL, s_client_thread, (void *)(intptr_t)i);

    int64_t recovery_ms[FAULTS], caught_up_ms[FAULTS];
    assert_true(s_recovered_after(started, RECOVERY_MS) >= 0);
    for (int f = 0; f < FAULTS; f++) {
        zclock_sleep(STEADY_MS);
        fprintf(stderr, "chaos: %s\n", s_fault_names[f]);
        /* Clients are answered while a process with a twin is down, and
         * once a server is back. */
        victim_t victim;
        s_break((fault_t)f, &victim);
        int64_t at = zclock_mono(); /* the process is dead, the server stopped */
        recovery_ms[f] = s_recovered_after(at, DOWN_MS);
        if (zclock_mono() - at < DOWN_MS)
            zclock_sleep((int)(DOWN_MS - (zclock_mono() - at)));
        s_repair((fault_t)f, &victim);
        if (recovery_ms[f] < 0)
            recovery_ms[f] = s_recovered_after(at, RECOVERY_MS);
        caught_up_ms[f] = s_caught_up_after(at);
        if (recovery_ms[f] < 0)
            fprintf(stderr, "chaos: clients were not answered within %d s of: %s\n",
                    RECOVERY_MS / 1000, s_fault_names[f]);
        assert_true(recovery_ms[f] >= 0);
    }
    zclock_sleep(STEADY_MS);
    atomic_store(&s_load.stop, true);
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(clients[i], NULL);
    double load_s = (double)(zclock_mono() - started) / 1000;
    long operations = atomic_load(&s_load.next);
    if (operations > RESULTS_MAX)
        operations = RESULTS_MAX;

    PGconn *registry = s_db(s_registry_db, "registry");
    PGconn *notify = s_db(s_notify_db, "notify");
    bool settled = s_settled(registry, notify);
    atomic_store(&s_follower.stop, true);
    pthread_join(follower, NULL);

    int64_t last = s_outbox_positions(registry);
    long lost_acks = s_lost_acks(registry, operations);
    long doubled =
        s_count(registry, "SELECT count(*) - count(DISTINCT trade_name)"
                          " FROM name_reservations") +
        s_count(registry, "SELECT count(*) - count(DISTINCT aggregate_id)"
                          " FROM chuang_outbox WHERE type = 'registry.EntityRegistered'") +
        s_count(registry, "SELECT count(*) - count(DISTINCT aggregate_id)"
                          " FROM chuang_outbox WHERE type = 'registry.NameReserved'");
    long stream_missing = s_missing_from_stream(registry, last);
    long department_missing = s_missing_at_department(registry);
    deliveries_t d = s_count_deliveries(registry, notify);
    long unsent = s_webhooks_unsent(notify);
    long acked = atomic_load(&s_load.answered);

    printf("chaos: %ld writes acknowledged (%.0f /s over %.1f s of load), %ld retryable errors "
           "seen by clients, %ld wrong answers, %ld writes given up, %ld bad read-backs\n",
           acked, (double)acked / load_s, load_s, atomic_load(&s_load.errors),
           atomic_load(&s_load.wrong), atomic_load(&s_load.given_up),
           atomic_load(&s_load.reads_bad));
    for (int f = 0; f < FAULTS; f++) {
        char answered[32], caught_up[32];
        s_seconds(answered, sizeof answered, recovery_ms[f]);
        s_seconds(caught_up, sizeof caught_up, caught_up_ms[f]);
        printf("chaos:   %-46s clients answered after %s, the department had every event "
               "after %s\n",
               s_fault_names[f], answered, caught_up);
    }
    printf("chaos: longest time a client saw errors: %.1f s\n",
           (double)s_load.longest_error_ms / 1000);
    printf("chaos: %lld events; acknowledged writes lost %ld, effects applied twice %ld, events "
           "missing from the stream %ld, missing or out of order at the department %ld + %ld\n",
           (long long)last, lost_acks, doubled, stream_missing, department_missing,
           atomic_load(&s_follower.out_of_order));
    printf("chaos: %ld webhooks due, %ld received; lost %ld, doubled %ld, unsent %ld; %ld "
           "re-sends of a delivery id (the receiver drops them)\n",
           d.due, d.delivered, d.lost, d.doubled, unsent, d.resent);
    fflush(stdout);

    assert_true(settled);
    assert_int_equal(atomic_load(&s_load.wrong), 0);
    assert_int_equal(atomic_load(&s_load.given_up), 0);
    assert_int_equal(atomic_load(&s_load.reads_bad), 0);
    assert_int_equal(lost_acks, 0);
    assert_int_equal(doubled, 0);
    assert_int_equal(stream_missing, 0);
    assert_int_equal(department_missing, 0);
    assert_int_equal(atomic_load(&s_follower.out_of_order), 0);
    assert_int_equal(atomic_load(&s_follower.refused), 0);
    assert_int_equal(d.lost, 0);
    assert_int_equal(d.doubled, 0);
    assert_int_equal(unsent, 0);
    PQfinish(registry);
    PQfinish(notify);
    free(s_follower.ids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_faults_under_load_lose_and_double_nothing),
    };
    return cmocka_run_group_tests_name("chaos", tests, s_setup, s_teardown);
}
