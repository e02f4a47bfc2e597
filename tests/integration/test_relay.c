/*
 * test_relay.c - the outbox relay against real PostgreSQL, Redis and tally
 * processes: events from writers whose transactions commit out of order all
 * reach the stream once, numbered 1..N without a gap; the active relay's
 * process killed under load is replaced by another replica's relay with no
 * gap and no duplicate; a stream Redis lost is rebuilt from the outbox; an
 * idle transaction elsewhere in the cluster holds no event back; an event
 * written after another committed comes after it, whatever their txids. A
 * database gone back in time (restored, failed over) stops the relay
 * rather than losing events; chuangctl relay reconcile makes the outbox
 * agree with the stream and the relay goes on, nothing lost or doubled.
 */
#include "chuang.pb-c.h"
#include "client.h"
#include "config.h"
#include "db.h"
#include "harness.h"
#include "redis_link.h"
#include "security.h"
#include "tally.pb-c.h"

#include <czmq.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sys/wait.h>

#define TALLY  CHUANG_BUILD_DIR "/tests/fixtures/tally/chuang-tally"
#define BROKER CHUANG_BUILD_DIR "/services/broker/chuang-broker"
#define CTL    CHUANG_BUILD_DIR "/services/ctl/chuangctl"
#define STREAM "test:relay:events"

static char s_db_url[512];
static char s_endpoint[64];
static pid_t s_broker;
static pid_t s_tallies[2];
static config_t *s_config;
static security_t *s_security;
static redisContext *s_redis;
static char s_publish[64]; /* the active relay's PUB endpoint */
static zsock_t *s_live;    /* a SUB socket on it */

static pid_t s_start_tally(const char *name)
{
    char *brokers = zsys_sprintf("CHUANG_BROKERS=%s", s_endpoint);
    char *db = zsys_sprintf("CHUANG_DB_URL=%s", s_db_url);
    char *redis = zsys_sprintf("CHUANG_REDIS_URL=%s", harness_get("CHUANG_TEST_REDIS_URL"));
    char *publish = zsys_sprintf("CHUANG_RELAY_PUBLISH=%s", s_publish);
    const char *env[] = {brokers,
                         db,
                         redis,
                         publish,
                         "CHUANG_SECURITY_PLAIN=yes",
                         "CHUANG_REDIS_PREFIX=test:relay",
                         "CHUANG_WORKER_THREADS=3",
                         "CHUANG_WORKER_HEARTBEAT_MS=500",
                         NULL};
    pid_t pid = harness_spawn(name, TALLY, env);
    zstr_free(&brokers);
    zstr_free(&db);
    zstr_free(&redis);
    zstr_free(&publish);
    return pid;
}

static int s_setup(void **state)
{
    (void)state;
    if (harness_init("relay") != 0)
        return -1;
    const char *url = harness_service_db("relay", "tally");
    if (!url)
        return -1;
    snprintf(s_db_url, sizeof s_db_url, "%s", url);
    snprintf(s_endpoint, sizeof s_endpoint, "tcp://127.0.0.1:%d", harness_free_port());
    snprintf(s_publish, sizeof s_publish, "tcp://127.0.0.1:%d", harness_free_port());
    s_live = zsock_new_sub(s_publish, "");
    char *bind = zsys_sprintf("CHUANG_BROKER_ENDPOINT=%s", s_endpoint);
    const char *broker_env[] = {bind, "CHUANG_SECURITY_PLAIN=yes", "CHUANG_BROKER_HEARTBEAT_MS=500",
                                NULL};
    s_broker = harness_spawn("broker", BROKER, broker_env);
    zstr_free(&bind);
    s_tallies[0] = s_start_tally("tally-a");
    s_tallies[1] = s_start_tally("tally-b");
    s_config = config_new(NULL);
    config_set(s_config, "security.plain", "yes");
    s_security = security_new(s_config);
    s_redis = redis_link_connect(harness_get("CHUANG_TEST_REDIS_URL"), 5);
    if (!s_redis)
        return -1;
    freeReplyObject(redisCommand(s_redis, "DEL %s", STREAM));
    return harness_wait_service(s_endpoint, "tally", 20000);
}

static int s_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++)
        harness_stop(s_tallies[i], SIGTERM, 5000);
    harness_stop(s_broker, SIGTERM, 5000);
    redisFree(s_redis);
    zsock_destroy(&s_live);
    security_destroy(&s_security);
    config_destroy(&s_config);
    return 0;
}

static long s_count(const char *sql)
{
    PGconn *db = db_connect(s_db_url, "tally", 3);
    assert_non_null(db);
    PGresult *res = PQexec(db, sql);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    long count = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    PQfinish(db);
    return count;
}

/* Waits until the stream holds n entries (up to 30 s); returns its length. */
static long long s_wait_stream(long long n)
{
    long long length = -1;
    for (int i = 0; i < 300; i++) {
        redisReply *reply = redisCommand(s_redis, "XLEN %s", STREAM);
        length = reply ? reply->integer : -1;
        freeReplyObject(reply);
        if (length == n)
            break;
        zclock_sleep(100);
    }
    return length;
}

/* Checks the stream is exactly the log 1..n: entry ids and event sequences
 * consecutive, event ids distinct. Returns how many events concern counter. */
static int s_check_stream(long long n, const char *counter)
{
    redisReply *reply = redisCommand(s_redis, "XRANGE %s - +", STREAM);
    assert_non_null(reply);
    assert_int_equal(reply->type, REDIS_REPLY_ARRAY);
    assert_int_equal((long long)reply->elements, n);
    zhash_t *ids = zhash_new();
    int concerning = 0;
    for (size_t i = 0; i < reply->elements; i++) {
        redisReply *entry = reply->element[i];
        char expected[32];
        snprintf(expected, sizeof expected, "%zu-0", i + 1);
        assert_string_equal(entry->element[0]->str, expected);
        redisReply *fields = entry->element[1];
        assert_string_equal(fields->element[0]->str, "event");
        Chuang__Event *event = chuang__event__unpack(NULL, fields->element[1]->len,
                                                     (uint8_t *)fields->element[1]->str);
        assert_non_null(event);
        assert_int_equal(event->sequence, (int64_t)i + 1);
        assert_string_equal(event->service, "tally");
        assert_int_equal(zhash_insert(ids, event->id, (void *)1), 0);
        concerning += streq(event->aggregate_id, counter);
        chuang__event__free_unpacked(event, NULL);
    }
    zhash_destroy(&ids);
    freeReplyObject(reply);
    return concerning;
}

typedef struct {
    const char *counter;
    int thread;
    int count;
    int delay_ms;
    int failures;
} writer_t;

static void *s_writer(void *args)
{
    writer_t *writer = args;
    client_t *client = client_new(s_endpoint, s_security);
    client_set_timeouts(client, 1500, 20000);
    for (int i = 0; i < writer->count; i++) {
        Chuang__Tally__AddRequest request = CHUANG__TALLY__ADD_REQUEST__INIT;
        request.counter = (char *)writer->counter;
        request.amount = 1;
        request.delay_ms = writer->delay_ms;
        char key[64];
        snprintf(key, sizeof key, "%s-%d-%d", writer->counter, writer->thread, i);
        client_options_t options = {.idempotency_key = key};
        Chuang__Reply *reply = client_call(client, "tally", "Add", &request.base, &options);
        writer->failures += reply->status != CHUANG__STATUS__OK;
        chuang__reply__free_unpacked(reply, NULL);
    }
    client_destroy(&client);
    return NULL;
}

static pid_t s_active_relay(void);

static void test_out_of_order_commits_reach_the_stream_once_in_order(void **state)
{
    (void)state;
    /* The PUB socket is live only: let the subscriber join the active relay
     * before anything is published. */
    assert_true(s_active_relay() > 0);
    zclock_sleep(500);

    /* Slow writers hold their transactions (and early sequence values) open
     * while quick ones commit later values first. */
    enum { SLOW = 2, QUICK = 3, PER_QUICK = 40 };
    pthread_t threads[SLOW + QUICK];
    writer_t writers[SLOW + QUICK];
    for (int i = 0; i < SLOW + QUICK; i++) {
        writers[i] = (writer_t){.counter = i < SLOW ? "slow" : "quick",
                                .thread = i,
                                .count = i < SLOW ? 2 : PER_QUICK,
                                .delay_ms = i < SLOW ? 700 : 0};
        pthread_create(&threads[i], NULL, s_writer, &writers[i]);
    }
    for (int i = 0; i < SLOW + QUICK; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(writers[i].failures, 0);
    }
    long events = s_count("SELECT count(*) FROM chuang_outbox");
    assert_int_equal(events, SLOW * 2 + QUICK * PER_QUICK);
    /* The slow writers' events took sequence values that quick ones passed
     * while the slow transactions were still open. */
    assert_true(s_count("SELECT count(*) FROM chuang_outbox s JOIN chuang_outbox q"
                        " ON q.sequence > s.sequence AND s.aggregate_id = 'slow'"
                        " AND q.aggregate_id = 'quick'") > 0);
    assert_int_equal(s_wait_stream(events), events);
    assert_int_equal(s_check_stream(events, "slow"), SLOW * 2);
    assert_int_equal(s_count("SELECT count(*) FROM chuang_outbox WHERE position IS NULL"), 0);

    /* Live on the PUB socket too: type, position, event, in order. */
    zpoller_t *poller = zpoller_new(s_live, NULL);
    int64_t last = 0;
    long live = 0;
    while (live < events && zpoller_wait(poller, 5000) == s_live) {
        zmsg_t *msg = zmsg_recv(s_live);
        assert_int_equal(zmsg_size(msg), 3);
        char *type = zmsg_popstr(msg);
        zframe_t *position = zmsg_pop(msg);
        zframe_t *body = zmsg_pop(msg);
        int64_t sequence = 0;
        for (int i = 0; i < 8; i++)
            sequence = (sequence << 8) | zframe_data(position)[i];
        Chuang__Event *event = chuang__event__unpack(NULL, zframe_size(body), zframe_data(body));
        assert_non_null(event);
        assert_int_equal(event->sequence, sequence);
        assert_string_equal(event->type, type);
        assert_true(sequence > last);
        last = sequence;
        live++;
        chuang__event__free_unpacked(event, NULL);
        zstr_free(&type);
        zframe_destroy(&position);
        zframe_destroy(&body);
        zmsg_destroy(&msg);
    }
    zpoller_destroy(&poller);
    assert_int_equal(live, events);
}

/* The OS pid of the process whose relay is active, or -1. */
static pid_t s_active_relay(void)
{
    for (int i = 0; i < 100; i++) {
        PGconn *db = db_connect(s_db_url, "tally", 3);
        PGresult *res = PQexec(db, "SELECT a.application_name FROM pg_stat_activity a"
                                   " JOIN pg_locks l ON l.pid = a.pid"
                                   " JOIN pg_class c ON c.oid = l.relation"
                                   " WHERE c.relname = 'chuang_relay_lock' AND l.granted"
                                   "   AND l.mode = 'ExclusiveLock'"
                                   "   AND a.application_name LIKE 'chuang relay %'");
        pid_t pid = -1;
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
            pid = atoi(PQgetvalue(res, 0, 0) + strlen("chuang relay "));
        PQclear(res);
        PQfinish(db);
        if (pid > 0)
            return pid;
        zclock_sleep(100);
    }
    return -1;
}

static void test_killing_the_active_relay_loses_and_repeats_nothing(void **state)
{
    (void)state;
    pid_t active = s_active_relay();
    assert_true(active == s_tallies[0] || active == s_tallies[1]);
    enum { WRITERS = 3, PER_WRITER = 60 };
    pthread_t threads[WRITERS];
    writer_t writers[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        writers[i] = (writer_t){.counter = "failover", .thread = i, .count = PER_WRITER};
        pthread_create(&threads[i], NULL, s_writer, &writers[i]);
    }
    zclock_sleep(400);
    int victim = active == s_tallies[0] ? 0 : 1;
    harness_stop(s_tallies[victim], SIGKILL, 1000);
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(writers[i].failures, 0);
    }
    /* The other replica's relay took over. */
    pid_t successor = s_active_relay();
    assert_int_equal(successor, s_tallies[1 - victim]);
    s_tallies[victim] = s_start_tally(victim ? "tally-b2" : "tally-a2");

    long events = s_count("SELECT count(*) FROM chuang_outbox");
    assert_int_equal(s_wait_stream(events), events);
    assert_int_equal(s_check_stream(events, "failover"), WRITERS * PER_WRITER);
}

static void test_a_lost_stream_is_rebuilt_from_the_outbox(void **state)
{
    (void)state;
    long events = s_count("SELECT count(*) FROM chuang_outbox");
    assert_int_equal(s_wait_stream(events), events);
    freeReplyObject(redisCommand(s_redis, "DEL %s", STREAM));
    /* New events arrive before the relay notices the loss. */
    writer_t writer = {.counter = "after-loss", .thread = 0, .count = 5};
    s_writer(&writer);
    assert_int_equal(writer.failures, 0);
    events += 5;
    assert_int_equal(s_wait_stream(events), events);
    assert_int_equal(s_check_stream(events, "after-loss"), 5);
}

/* A connection with a statement run on it (asserted). Caller finishes it. */
static PGconn *s_session(const char *url, const char *schema, const char *sql)
{
    PGconn *db = schema ? db_connect(url, schema, 3) : PQconnectdb(url);
    assert_int_equal(PQstatus(db), CONNECTION_OK);
    if (sql) {
        PGresult *res = PQexec(db, sql);
        assert_true(PQresultStatus(res) == PGRES_TUPLES_OK ||
                    PQresultStatus(res) == PGRES_COMMAND_OK);
        PQclear(res);
    }
    return db;
}

#define INSERT_EVENT(aggregate)                                                                    \
    "INSERT INTO chuang_outbox (id, agency, type, aggregate_id, visibility, payload_type,"         \
    " payload) VALUES (gen_random_uuid(), '330106', 'tally.Added', '" aggregate "', 0,"            \
    " 'chuang.tally.Counter', '')"

static void test_no_transaction_elsewhere_holds_events_back(void **state)
{
    (void)state;
    long events = s_count("SELECT count(*) FROM chuang_outbox");
    assert_int_equal(s_wait_stream(events), events);
    /* An idle transaction in another database, by another role, with a
     * transaction id older than every event below. */
    PGconn *idle = s_session(harness_get("CHUANG_TEST_PG_ADMIN_URL"), NULL,
                             "BEGIN; SELECT pg_current_xact_id()");
    writer_t writer = {.counter = "behind-idle", .thread = 0, .count = 5};
    s_writer(&writer);
    assert_int_equal(writer.failures, 0);
    events += 5;
    assert_int_equal(s_wait_stream(events), events);

    /* An older transaction id that writes its event only after a younger
     * one committed (as if it had waited for its row lock) comes after it,
     * also when the relay finds them all at once (it is stopped meanwhile). */
    pid_t relay = s_active_relay();
    assert_true(relay > 0);
    kill(relay, SIGSTOP);
    enum { CHAIN = 6 };
    PGconn *sessions[CHAIN];
    for (int i = 0; i < CHAIN; i++)
        sessions[i] = s_session(s_db_url, "tally", "BEGIN; SELECT pg_current_xact_id()");
    /* The youngest writes and commits first, each older one after it: six
     * events, each written after the one before committed. */
    for (int i = CHAIN - 1; i >= 0; i--) {
        char sql[512];
        snprintf(sql, sizeof sql, INSERT_EVENT("causal-%d"), i);
        PQclear(PQexec(sessions[i], sql));
        PQclear(PQexec(sessions[i], "COMMIT"));
    }
    kill(relay, SIGCONT);
    events += CHAIN;
    assert_int_equal(s_wait_stream(events), events);
    assert_int_equal(
        s_count("SELECT count(*) FROM chuang_outbox a, chuang_outbox b"
                " WHERE a.aggregate_id LIKE 'causal-%' AND b.aggregate_id LIKE 'causal-%'"
                " AND a.txid > b.txid AND a.position < b.position"),
        CHAIN * (CHAIN - 1) / 2);
    for (int i = 0; i < CHAIN; i++)
        PQfinish(sessions[i]);
    PQfinish(idle);
}

/* Waits until a relay's log says it stopped (up to 30 s); 0 when it did. */
static int s_wait_stopped(void)
{
    for (int i = 0; i < 300; i++) {
        if (harness_sh("grep -q 'relay stopped' '%s'/tally-*.log", harness_dir()) == 0)
            return 0;
        zclock_sleep(100);
    }
    return -1;
}

static void test_a_database_gone_back_in_time_stops_the_relay_until_reconciled(void **state)
{
    (void)state;
    long events = s_count("SELECT count(*) FROM chuang_outbox");
    assert_int_equal(s_wait_stream(events), events);
    /* The database is restored from a backup taken before its last three
     * events, which the stream (and whoever read it) already has. */
    PGconn *db = s_session(s_db_url, "tally",
                           "DELETE FROM chuang_outbox WHERE position > (SELECT max(position) - 3"
                           " FROM chuang_outbox)");
    PQfinish(db);
    writer_t writer = {.counter = "after-restore", .thread = 0, .count = 4};
    s_writer(&writer);
    assert_int_equal(writer.failures, 0);
    assert_int_equal(s_wait_stopped(), 0);
    /* Nothing was appended over the published events. */
    assert_int_equal(s_wait_stream(events), events);
    assert_int_equal(s_check_stream(events, "after-restore"), 0);

    char conf[600];
    snprintf(conf, sizeof conf, "%s/relay-ctl.conf", harness_dir());
    FILE *file = fopen(conf, "w");
    fprintf(file, "db.url = %s\ndb.schema = tally\nredis.url = %s\nredis.prefix = test:relay\n",
            s_db_url, harness_get("CHUANG_TEST_REDIS_URL"));
    fclose(file);
    assert_int_equal(
        harness_sh("'%s' -c '%s' relay status tally > '%s/status.out'", CTL, conf, harness_dir()),
        1);
    assert_int_equal(harness_sh("'%s' -c '%s' relay reconcile tally > '%s/reconcile.out'", CTL,
                                conf, harness_dir()),
                     0);
    assert_int_equal(harness_sh("test $(grep -c 'taken back from the stream' '%s/reconcile.out')"
                                " -eq 3",
                                harness_dir()),
                     0);
    /* The relay goes on by itself: the three published events are the
     * outbox's again (recovered), the four new ones come after them. */
    events += 4;
    assert_int_equal(s_wait_stream(events), events);
    assert_int_equal(s_check_stream(events, "after-restore"), 4);
    assert_int_equal(s_count("SELECT count(*) FROM chuang_outbox WHERE recovered_at IS NOT NULL"),
                     3);
    assert_int_equal(s_count("SELECT count(*) FROM chuang_outbox WHERE position IS NULL"), 0);
    assert_int_equal(s_count("SELECT max(position) FROM chuang_outbox"), events);
    assert_int_equal(
        harness_sh("'%s' -c '%s' relay status tally > '%s/status.out'", CTL, conf, harness_dir()),
        0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_out_of_order_commits_reach_the_stream_once_in_order),
        cmocka_unit_test(test_killing_the_active_relay_loses_and_repeats_nothing),
        cmocka_unit_test(test_a_lost_stream_is_rebuilt_from_the_outbox),
        cmocka_unit_test(test_no_transaction_elsewhere_holds_events_back),
        cmocka_unit_test(test_a_database_gone_back_in_time_stops_the_relay_until_reconciled),
    };
    return cmocka_run_group_tests_name("relay", tests, s_setup, s_teardown);
}
