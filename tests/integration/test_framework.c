/*
 * test_framework.c - the platform end to end: real brokers, real tally
 * service processes, the real PostgreSQL of the harness, real sockets.
 *
 * What a user of the platform would notice is asserted: the reply's status,
 * its field violations, the counter's total and number of adds (which show an
 * effect applied twice or lost), the exit status of a service told to stop.
 */
#include "client.h"
#include "config.h"
#include "db.h"
#include "harness.h"
#include "mdp_worker.h"
#include "security.h"
#include "tally.pb-c.h"

#include <czmq.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sys/wait.h>

#define TALLY     CHUANG_BUILD_DIR "/tests/fixtures/tally/chuang-tally"
#define BROKER    CHUANG_BUILD_DIR "/services/broker/chuang-broker"
#define HEARTBEAT "500"

static char s_db_url[512];
static char s_endpoint[64];
static pid_t s_broker;
static pid_t s_tally;
static config_t *s_plain_config;
static security_t *s_plain;

/* Starts a plain broker on a free port; writes its endpoint. */
static pid_t s_start_broker(const char *name, char *endpoint, size_t size, const char *const *extra)
{
    snprintf(endpoint, size, "tcp://127.0.0.1:%d", harness_free_port());
    char *bind = zsys_sprintf("CHUANG_BROKER_ENDPOINT=%s", endpoint);
    const char *env[16] = {bind, "CHUANG_SECURITY_PLAIN=yes",
                           "CHUANG_BROKER_HEARTBEAT_MS=" HEARTBEAT,
                           "CHUANG_BROKER_WAIT_DEFAULT_MS=1000"};
    size_t n = 4;
    for (size_t i = 0; extra && extra[i] && n < 15; i++)
        env[n++] = extra[i];
    pid_t pid = harness_spawn(name, BROKER, env);
    zclock_sleep(150);
    /* The child has its own copy of the environment strings. */
    zstr_free(&bind);
    return pid;
}

/* Starts a tally process for brokers (comma-separated). */
static pid_t s_start_tally(const char *name, const char *brokers, const char *const *extra)
{
    char *brokers_env = zsys_sprintf("CHUANG_BROKERS=%s", brokers);
    char *db_env = zsys_sprintf("CHUANG_DB_URL=%s", s_db_url);
    const char *env[16] = {brokers_env, db_env, "CHUANG_WORKER_HEARTBEAT_MS=" HEARTBEAT,
                           "CHUANG_WORKER_THREADS=2"};
    size_t n = 4;
    for (size_t i = 0; extra && extra[i] && n < 15; i++)
        env[n++] = extra[i];
    if (!extra)
        env[n++] = "CHUANG_SECURITY_PLAIN=yes";
    pid_t pid = harness_spawn(name, TALLY, env);
    zstr_free(&brokers_env);
    zstr_free(&db_env);
    return pid;
}

static client_t *s_client(const char *brokers)
{
    client_t *client = client_new(brokers, s_plain);
    client_set_identity(client, "330106", "test-officer", "officer");
    client_set_timeouts(client, 1000, 10000);
    return client;
}

/* Adds amount to counter under key (NULL: a fresh one). Caller frees. */
static Chuang__Reply *s_add(client_t *client, const char *counter, int64_t amount, const char *key)
{
    Chuang__Tally__AddRequest request = CHUANG__TALLY__ADD_REQUEST__INIT;
    request.counter = (char *)counter;
    request.amount = amount;
    client_options_t options = {.idempotency_key = key, .timeout_ms = 15000};
    return client_call(client, "tally", "Add", &request.base, &options);
}

/* Reads a counter: total and adds, or -1 and -1 when it does not exist. */
static void s_get(client_t *client, const char *counter, int64_t *total, int64_t *adds)
{
    Chuang__Tally__GetRequest request = CHUANG__TALLY__GET_REQUEST__INIT;
    request.counter = (char *)counter;
    Chuang__Reply *reply = client_call(client, "tally", "Get", &request.base, NULL);
    assert_non_null(reply);
    *total = *adds = -1;
    if (reply->status == CHUANG__STATUS__OK) {
        Chuang__Tally__GetReply *got =
            chuang__tally__get_reply__unpack(NULL, reply->payload.len, reply->payload.data);
        assert_non_null(got);
        *total = got->total;
        *adds = got->adds;
        chuang__tally__get_reply__free_unpacked(got, NULL);
    } else {
        assert_int_equal(reply->status, CHUANG__STATUS__NOT_FOUND);
    }
    chuang__reply__free_unpacked(reply, NULL);
}

/* Counts the outbox's tally.Added events for counter; with last, the total
 * the latest of them reports. */
static long s_events(const char *counter, int64_t *last)
{
    PGconn *db = db_connect(s_db_url, "tally", 3);
    assert_non_null(db);
    const char *values[1] = {counter};
    PGresult *res = PQexecParams(db,
                                 "SELECT payload_type, payload FROM chuang_outbox"
                                 " WHERE type = 'tally.Added' AND aggregate_id = $1"
                                 " ORDER BY sequence",
                                 1, NULL, values, NULL, NULL, 1);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    long count = PQntuples(res);
    if (last && count > 0) {
        assert_string_equal(PQgetvalue(res, (int)count - 1, 0), "chuang.tally.AddReply");
        Chuang__Tally__AddReply *added =
            chuang__tally__add_reply__unpack(NULL, (size_t)PQgetlength(res, (int)count - 1, 1),
                                             (const uint8_t *)PQgetvalue(res, (int)count - 1, 1));
        assert_non_null(added);
        *last = added->total;
        chuang__tally__add_reply__free_unpacked(added, NULL);
    }
    PQclear(res);
    PQfinish(db);
    return count;
}

static bool s_has_violation(const Chuang__Reply *reply, const char *field)
{
    for (size_t i = 0; i < reply->n_violations; i++)
        if (streq(reply->violations[i]->field, field) && *reply->violations[i]->description)
            return true;
    return false;
}

static int s_setup(void **state)
{
    (void)state;
    if (harness_init("framework") != 0)
        return -1;
    const char *url = harness_service_db("framework", "tally");
    if (!url)
        return -1;
    snprintf(s_db_url, sizeof s_db_url, "%s", url);
    s_plain_config = config_new(NULL);
    config_set(s_plain_config, "security.plain", "yes");
    s_plain = security_new(s_plain_config);
    s_broker = s_start_broker("broker", s_endpoint, sizeof s_endpoint, NULL);
    s_tally = s_start_tally("tally", s_endpoint, NULL);
    return harness_wait_service(s_endpoint, "tally", 20000);
}

/* A clean stop exits 0: under the sanitizers a leak or error would not. */
static bool s_stopped_cleanly(pid_t pid, const char *name)
{
    int status = harness_stop(pid, SIGTERM, 5000);
    bool clean = status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!clean)
        fprintf(stderr, "%s did not stop cleanly (wait status %d); see its log\n", name, status);
    return clean;
}

static int s_teardown(void **state)
{
    (void)state;
    bool clean = s_stopped_cleanly(s_tally, "tally");
    clean = s_stopped_cleanly(s_broker, "broker") && clean;
    security_destroy(&s_plain);
    config_destroy(&s_plain_config);
    return clean ? 0 : -1;
}

static void test_add_then_get(void **state)
{
    (void)state;
    client_t *client = s_client(s_endpoint);
    Chuang__Reply *reply = s_add(client, "first", 5, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Tally__AddReply *added =
        chuang__tally__add_reply__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_non_null(added);
    assert_int_equal(added->total, 5);
    chuang__tally__add_reply__free_unpacked(added, NULL);
    chuang__reply__free_unpacked(reply, NULL);

    int64_t total, adds;
    s_get(client, "first", &total, &adds);
    assert_int_equal(total, 5);
    assert_int_equal(adds, 1);
    client_destroy(&client);
}

static void test_bad_input_changes_nothing(void **state)
{
    (void)state;
    client_t *client = s_client(s_endpoint);
    Chuang__Reply *reply = s_add(client, "", 0, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__INVALID_ARGUMENT);
    assert_true(s_has_violation(reply, "counter"));
    assert_true(s_has_violation(reply, "amount"));
    chuang__reply__free_unpacked(reply, NULL);

    char long_name[80];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    reply = s_add(client, long_name, 1, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__INVALID_ARGUMENT);
    assert_true(s_has_violation(reply, "counter"));
    chuang__reply__free_unpacked(reply, NULL);

    reply = s_add(client, "bad-input", 2000000000000LL, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__INVALID_ARGUMENT);
    assert_true(s_has_violation(reply, "amount"));
    chuang__reply__free_unpacked(reply, NULL);

    int64_t total, adds;
    s_get(client, "bad-input", &total, &adds);
    assert_int_equal(total, -1);
    assert_int_equal(s_events("bad-input", NULL), 0);

    /* A method the service does not have, and a payload that is not its input. */
    uint8_t junk[] = {0xff, 0xff, 0xff, 0xff};
    reply = client_call_packed(client, "tally", "Subtract", junk, 0, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__UNIMPLEMENTED);
    chuang__reply__free_unpacked(reply, NULL);
    reply = client_call_packed(client, "tally", "Add", junk, sizeof junk, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__INVALID_ARGUMENT);
    assert_non_null(strstr(reply->message, "AddRequest"));
    chuang__reply__free_unpacked(reply, NULL);
    client_destroy(&client);
}

static void test_retry_with_same_key_applies_once(void **state)
{
    (void)state;
    client_t *client = s_client(s_endpoint);
    const char *key = "retry-key-1";
    for (int i = 0; i < 3; i++) {
        Chuang__Reply *reply = s_add(client, "retried", 7, key);
        assert_int_equal(reply->status, CHUANG__STATUS__OK);
        Chuang__Tally__AddReply *added =
            chuang__tally__add_reply__unpack(NULL, reply->payload.len, reply->payload.data);
        assert_int_equal(added->total, 7);
        chuang__tally__add_reply__free_unpacked(added, NULL);
        chuang__reply__free_unpacked(reply, NULL);
    }
    /* The same key for another request is refused and changes nothing. */
    Chuang__Reply *reply = s_add(client, "retried", 8, key);
    assert_int_equal(reply->status, CHUANG__STATUS__FAILED_PRECONDITION);
    assert_true(s_has_violation(reply, "idempotency_key"));
    chuang__reply__free_unpacked(reply, NULL);

    int64_t total, adds, reported = 0;
    s_get(client, "retried", &total, &adds);
    assert_int_equal(total, 7);
    assert_int_equal(adds, 1);
    /* One event for the one effect, reporting it. */
    assert_int_equal(s_events("retried", &reported), 1);
    assert_int_equal(reported, 7);
    client_destroy(&client);
}

static void test_service_without_worker_fails_clearly(void **state)
{
    (void)state;
    client_t *client = s_client(s_endpoint);
    assert_int_equal(client_service_exists(client, "tally"), 1);
    assert_int_equal(client_service_exists(client, "absent"), 0);

    Chuang__Tally__GetRequest request = CHUANG__TALLY__GET_REQUEST__INIT;
    request.counter = "x";
    client_options_t options = {.timeout_ms = 800};
    client_set_timeouts(client, 5000, 800);
    int64_t started = zclock_mono();
    Chuang__Reply *reply = client_call(client, "absent", "Get", &request.base, &options);
    assert_int_equal(reply->status, CHUANG__STATUS__UNAVAILABLE);
    assert_non_null(strstr(reply->message, "absent"));
    assert_true(zclock_mono() - started >= 700);
    chuang__reply__free_unpacked(reply, NULL);
    client_destroy(&client);
}

static void test_retry_racing_a_slow_first_attempt_applies_once(void **state)
{
    (void)state;
    /* The first attempt holds its transaction past the client's attempt
     * timeout: the retry reaches another worker while the first is still
     * applying, waits for it, and answers with its reply. */
    pid_t second = s_start_tally("tally-race", s_endpoint, NULL);
    zclock_sleep(1000);
    client_t *client = s_client(s_endpoint);
    client_set_timeouts(client, 300, 10000);
    Chuang__Tally__AddRequest request = CHUANG__TALLY__ADD_REQUEST__INIT;
    request.counter = "raced";
    request.amount = 9;
    request.delay_ms = 1200;
    Chuang__Reply *reply = client_call(client, "tally", "Add", &request.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Tally__AddReply *added =
        chuang__tally__add_reply__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_int_equal(added->total, 9);
    chuang__tally__add_reply__free_unpacked(added, NULL);
    chuang__reply__free_unpacked(reply, NULL);

    int64_t total, adds;
    s_get(client, "raced", &total, &adds);
    assert_int_equal(total, 9);
    assert_int_equal(adds, 1);
    client_destroy(&client);
    harness_stop(second, SIGTERM, 5000);
}

typedef struct {
    const char *brokers;
    int thread;
    int count;
    int failures;
} load_t;

static void *s_load(void *args)
{
    load_t *load = args;
    client_t *client = s_client(load->brokers);
    for (int i = 0; i < load->count; i++) {
        char key[64];
        snprintf(key, sizeof key, "load-%d-%d", load->thread, i);
        Chuang__Reply *reply = s_add(client, "under-load", 1, key);
        if (!reply || reply->status != CHUANG__STATUS__OK) {
            fprintf(stderr, "load: call %s ended with status %d: %s\n", key,
                    reply ? (int)reply->status : -1, reply ? reply->message : "no reply");
            load->failures++;
        }
        chuang__reply__free_unpacked(reply, NULL);
    }
    client_destroy(&client);
    return NULL;
}

static void test_kill_9_loses_nothing_applies_nothing_twice(void **state)
{
    (void)state;
    pid_t second = s_start_tally("tally-second", s_endpoint, NULL);
    zclock_sleep(1000);
    enum { THREADS = 4, PER_THREAD = 150 };
    pthread_t threads[THREADS];
    load_t loads[THREADS];
    for (int i = 0; i < THREADS; i++) {
        loads[i] = (load_t){.brokers = s_endpoint, .thread = i, .count = PER_THREAD};
        pthread_create(&threads[i], NULL, s_load, &loads[i]);
    }
    zclock_sleep(400);
    int status = harness_stop(s_tally, SIGKILL, 1000);
    assert_true(WIFSIGNALED(status));
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(loads[i].failures, 0);
    }
    client_t *client = s_client(s_endpoint);
    int64_t total, adds;
    s_get(client, "under-load", &total, &adds);
    assert_int_equal(total, THREADS * PER_THREAD);
    assert_int_equal(adds, THREADS * PER_THREAD);
    assert_int_equal(s_events("under-load", NULL), THREADS * PER_THREAD);
    client_destroy(&client);
    /* The survivor serves on; the killed one is replaced for later tests. */
    s_tally = second;
}

static void test_client_fails_over_to_another_broker(void **state)
{
    (void)state;
    char first[64], second[64];
    pid_t broker1 = s_start_broker("broker-a", first, sizeof first, NULL);
    pid_t broker2 = s_start_broker("broker-b", second, sizeof second, NULL);
    char *both = zsys_sprintf("%s,%s", first, second);
    pid_t tally = s_start_tally("tally-both", both, NULL);
    assert_int_equal(harness_wait_service(first, "tally", 20000), 0);
    assert_int_equal(harness_wait_service(second, "tally", 20000), 0);

    client_t *client = s_client(both);
    for (int i = 0; i < 5; i++) {
        Chuang__Reply *reply = s_add(client, "failover", 1, NULL);
        assert_int_equal(reply->status, CHUANG__STATUS__OK);
        chuang__reply__free_unpacked(reply, NULL);
    }
    harness_stop(broker1, SIGKILL, 1000);
    for (int i = 0; i < 5; i++) {
        Chuang__Reply *reply = s_add(client, "failover", 1, NULL);
        assert_int_equal(reply->status, CHUANG__STATUS__OK);
        chuang__reply__free_unpacked(reply, NULL);
    }
    /* New clients do not wait out the dead broker listed first: with an
     * attempt longer than the call's deadline, a client that tried it
     * would answer DEADLINE_EXCEEDED. */
    for (int i = 0; i < 5; i++) {
        client_t *fresh = s_client(both);
        client_set_timeouts(fresh, 60000, 10000);
        Chuang__Reply *reply = s_add(fresh, "failover", 1, NULL);
        assert_int_equal(reply->status, CHUANG__STATUS__OK);
        chuang__reply__free_unpacked(reply, NULL);
        assert_int_equal(client_service_exists(fresh, "tally"), 1);
        client_destroy(&fresh);
    }
    int64_t total, adds;
    s_get(client, "failover", &total, &adds);
    assert_int_equal(total, 15);
    client_destroy(&client);
    harness_stop(tally, SIGTERM, 5000);
    harness_stop(broker2, SIGTERM, 5000);
    zstr_free(&both);
}

typedef struct {
    const char *brokers;
    Chuang__Status status;
} echo_t;

static void *s_slow_echo(void *args)
{
    echo_t *echo = args;
    client_t *client = s_client(echo->brokers);
    client_set_timeouts(client, 8000, 8000);
    Chuang__Tally__EchoRequest request = CHUANG__TALLY__ECHO_REQUEST__INIT;
    request.data.data = (uint8_t *)"hello";
    request.data.len = 5;
    request.work_ms = 1500;
    Chuang__Reply *reply = client_call(client, "tally", "Echo", &request.base, NULL);
    echo->status = reply->status;
    chuang__reply__free_unpacked(reply, NULL);
    client_destroy(&client);
    return NULL;
}

typedef struct {
    const char *brokers;
    Chuang__Status status;
} queued_t;

static void *s_queued_call(void *args)
{
    queued_t *queued = args;
    client_t *client = s_client(queued->brokers);
    client_set_timeouts(client, 5000, 1500);
    Chuang__Tally__GetRequest request = CHUANG__TALLY__GET_REQUEST__INIT;
    request.counter = "x";
    Chuang__Reply *reply = client_call(client, "nobody", "Get", &request.base, NULL);
    queued->status = reply->status;
    chuang__reply__free_unpacked(reply, NULL);
    client_destroy(&client);
    return NULL;
}

static void test_full_queue_refuses_at_once(void **state)
{
    (void)state;
    char endpoint[64];
    const char *extra[] = {"CHUANG_BROKER_QUEUE_MAX=2", NULL};
    pid_t broker = s_start_broker("broker-queue", endpoint, sizeof endpoint, extra);
    enum { CALLS = 3 };
    pthread_t threads[CALLS];
    queued_t calls[CALLS];
    for (int i = 0; i < CALLS; i++) {
        calls[i] = (queued_t){.brokers = endpoint};
        pthread_create(&threads[i], NULL, s_queued_call, &calls[i]);
    }
    int unavailable = 0, exhausted = 0;
    for (int i = 0; i < CALLS; i++) {
        pthread_join(threads[i], NULL);
        unavailable += calls[i].status == CHUANG__STATUS__UNAVAILABLE;
        exhausted += calls[i].status == CHUANG__STATUS__RESOURCE_EXHAUSTED;
    }
    assert_int_equal(unavailable, 2);
    assert_int_equal(exhausted, 1);
    harness_stop(broker, SIGTERM, 5000);
}

static void test_sigterm_finishes_the_request_in_hand(void **state)
{
    (void)state;
    char endpoint[64];
    pid_t broker = s_start_broker("broker-term", endpoint, sizeof endpoint, NULL);
    pid_t tally = s_start_tally("tally-term", endpoint, NULL);
    assert_int_equal(harness_wait_service(endpoint, "tally", 20000), 0);

    echo_t echo = {.brokers = endpoint, .status = CHUANG__STATUS__INTERNAL};
    pthread_t thread;
    pthread_create(&thread, NULL, s_slow_echo, &echo);
    zclock_sleep(500);
    int status = harness_stop(tally, SIGTERM, 5000);
    pthread_join(thread, NULL);
    assert_int_equal(echo.status, CHUANG__STATUS__OK);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    harness_stop(broker, SIGTERM, 5000);
}

static void test_curve_refuses_unknown_keys(void **state)
{
    (void)state;
    char path[768];
    const char *dir = harness_dir();
    harness_sh("mkdir -p '%s/keys/allow' '%s/keys/other'", dir, dir);
    const char *names[] = {"broker", "tally", "officer", NULL};
    for (int i = 0; names[i]; i++) {
        snprintf(path, sizeof path, "%s/keys/%s", dir, names[i]);
        assert_int_equal(security_keygen(path, names[i]), 0);
    }
    snprintf(path, sizeof path, "%s/keys/other/stranger", dir);
    assert_int_equal(security_keygen(path, "stranger"), 0);
    harness_sh("mkdir -p '%s/keys/workers'", dir);
    harness_sh("cp '%s/keys/tally' '%s/keys/officer' '%s/keys/allow/'", dir, dir, dir);
    harness_sh("cp '%s/keys/tally' '%s/keys/workers/'", dir, dir);

    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", harness_free_port());
    char *bind = zsys_sprintf("CHUANG_BROKER_ENDPOINT=%s", endpoint);
    char *cert = zsys_sprintf("CHUANG_SECURITY_CERT=%s/keys/broker_secret", dir);
    char *allow = zsys_sprintf("CHUANG_SECURITY_ALLOW_DIR=%s/keys/allow", dir);
    char *workers = zsys_sprintf("CHUANG_SECURITY_WORKER_DIR=%s/keys/workers", dir);
    const char *broker_env[] = {bind, cert, allow, workers, "CHUANG_BROKER_HEARTBEAT_MS=" HEARTBEAT,
                                NULL};
    pid_t broker = harness_spawn("broker-curve", BROKER, broker_env);

    char *brokers = zsys_sprintf("CHUANG_BROKERS=%s", endpoint);
    char *db = zsys_sprintf("CHUANG_DB_URL=%s", s_db_url);
    char *tally_cert = zsys_sprintf("CHUANG_SECURITY_CERT=%s/keys/tally_secret", dir);
    char *server = zsys_sprintf("CHUANG_SECURITY_SERVER_CERT=%s/keys/broker", dir);
    const char *tally_env[] = {
        brokers, db, tally_cert, server, "CHUANG_WORKER_HEARTBEAT_MS=" HEARTBEAT, NULL};
    pid_t tally = harness_spawn("tally-curve", TALLY, tally_env);

    /* The known officer is served. */
    config_t *config = config_new(NULL);
    snprintf(path, sizeof path, "%s/keys/officer_secret", dir);
    config_set(config, "security.cert", path);
    snprintf(path, sizeof path, "%s/keys/broker", dir);
    config_set(config, "security.server_cert", path);
    security_t *officer = security_new(config);
    assert_non_null(officer);
    client_t *client = client_new(endpoint, officer);
    client_set_timeouts(client, 1000, 15000);
    Chuang__Reply *reply = s_add(client, "curve", 3, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    chuang__reply__free_unpacked(reply, NULL);
    client_destroy(&client);

    /* The officer's key is let in as a client but may not serve. */
    mdp_worker_t *impostor = mdp_worker_new(endpoint, "impostor", officer, 500, 3);
    assert_non_null(impostor);
    zclock_sleep(300);
    client = client_new(endpoint, officer);
    client_set_timeouts(client, 1000, 5000);
    assert_int_equal(client_service_exists(client, "impostor"), 0);
    assert_int_equal(client_service_exists(client, "tally"), 1);
    client_destroy(&client);
    mdp_worker_destroy(&impostor);

    /* A stranger whose key is not in the store gets nothing at all. */
    snprintf(path, sizeof path, "%s/keys/other/stranger_secret", dir);
    config_set(config, "security.cert", path);
    security_t *stranger = security_new(config);
    client = client_new(endpoint, stranger);
    client_set_timeouts(client, 500, 1500);
    reply = s_add(client, "curve", 100, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__DEADLINE_EXCEEDED);
    chuang__reply__free_unpacked(reply, NULL);
    client_destroy(&client);

    /* And the officer is still served afterwards; the stranger changed nothing. */
    client = client_new(endpoint, officer);
    client_set_timeouts(client, 1000, 10000);
    int64_t total = 0, adds = 0;
    Chuang__Tally__GetRequest request = CHUANG__TALLY__GET_REQUEST__INIT;
    request.counter = "curve";
    reply = client_call(client, "tally", "Get", &request.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Tally__GetReply *got =
        chuang__tally__get_reply__unpack(NULL, reply->payload.len, reply->payload.data);
    total = got->total;
    adds = got->adds;
    chuang__tally__get_reply__free_unpacked(got, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    assert_int_equal(total, 3);
    assert_int_equal(adds, 1);

    client_destroy(&client);
    security_destroy(&stranger);
    security_destroy(&officer);
    config_destroy(&config);
    harness_stop(tally, SIGTERM, 5000);
    harness_stop(broker, SIGTERM, 5000);
    zstr_free(&bind);
    zstr_free(&cert);
    zstr_free(&allow);
    zstr_free(&workers);
    zstr_free(&brokers);
    zstr_free(&db);
    zstr_free(&tally_cert);
    zstr_free(&server);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_then_get),
        cmocka_unit_test(test_bad_input_changes_nothing),
        cmocka_unit_test(test_retry_with_same_key_applies_once),
        cmocka_unit_test(test_service_without_worker_fails_clearly),
        cmocka_unit_test(test_retry_racing_a_slow_first_attempt_applies_once),
        cmocka_unit_test(test_kill_9_loses_nothing_applies_nothing_twice),
        cmocka_unit_test(test_client_fails_over_to_another_broker),
        cmocka_unit_test(test_full_queue_refuses_at_once),
        cmocka_unit_test(test_sigterm_finishes_the_request_in_hand),
        cmocka_unit_test(test_curve_refuses_unknown_keys),
    };
    return cmocka_run_group_tests_name("framework", tests, s_setup, s_teardown);
}
