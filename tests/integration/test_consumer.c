/*
 * test_consumer.c - consumers of a service's events through a Redis consumer
 * group, against real PostgreSQL, Redis and a tally producer: two consumers
 * share the work and apply every event once; entries a dead consumer left
 * pending are claimed; a poison event ends in the dead letters without
 * stopping the others, and holds back the later events of its aggregate
 * only; the whole stream delivered again changes nothing, and neither does
 * a stream Redis lost and the relay rebuilt. A failing event holds back its
 * aggregate until it succeeds, or until an operator releases it. Events
 * the stream lost before the group applied them (a pending entry trimmed,
 * entries trimmed while no consumer read) are sent again from the outbox
 * and applied once.
 */
#include "client.h"
#include "config.h"
#include "consumer.h"
#include "db.h"
#include "harness.h"
#include "redis_link.h"
#include "security.h"
#include "tally.pb-c.h"

#include <czmq.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define TALLY  CHUANG_BUILD_DIR "/tests/fixtures/tally/chuang-tally"
#define BROKER CHUANG_BUILD_DIR "/services/broker/chuang-broker"
#define CTL    CHUANG_BUILD_DIR "/services/ctl/chuangctl"
#define STREAM "test:consumer:events"
#define GROUP  "watcher"

static char s_producer_url[512];
static char s_watcher_url[512];
static char s_endpoint[64];
static pid_t s_broker;
static pid_t s_tally;
static redisContext *s_redis;

static int s_setup(void **state)
{
    (void)state;
    if (harness_init("consumer") != 0)
        return -1;
    const char *url = harness_service_db("consumer", "tally");
    if (!url)
        return -1;
    snprintf(s_producer_url, sizeof s_producer_url, "%s", url);
    url = harness_service_db("consumer", "watcher");
    if (!url)
        return -1;
    snprintf(s_watcher_url, sizeof s_watcher_url, "%s", url);

    /* The consuming service's schema: the framework's tables and its own. */
    PGconn *db = db_connect(s_watcher_url, "watcher", 3);
    const char *dirs[] = {CHUANG_SOURCE_DIR "/common/sql", NULL};
    if (!db || db_migrate(db, "watcher", dirs) < 0 ||
        db_exec(db, "applied table",
                "CREATE TABLE IF NOT EXISTS applied (position bigint, counter text)") != 0)
        return -1;
    PQfinish(db);

    s_redis = redis_link_connect(harness_get("CHUANG_TEST_REDIS_URL"), 5);
    if (!s_redis)
        return -1;
    freeReplyObject(redisCommand(s_redis, "DEL %s %s:dead:%s", STREAM, STREAM, GROUP));

    snprintf(s_endpoint, sizeof s_endpoint, "tcp://127.0.0.1:%d", harness_free_port());
    char *bind = zsys_sprintf("CHUANG_BROKER_ENDPOINT=%s", s_endpoint);
    const char *broker_env[] = {bind, "CHUANG_SECURITY_PLAIN=yes", NULL};
    s_broker = harness_spawn("broker", BROKER, broker_env);
    zstr_free(&bind);
    char *brokers = zsys_sprintf("CHUANG_BROKERS=%s", s_endpoint);
    char *dburl = zsys_sprintf("CHUANG_DB_URL=%s", s_producer_url);
    char *redis = zsys_sprintf("CHUANG_REDIS_URL=%s", harness_get("CHUANG_TEST_REDIS_URL"));
    const char *tally_env[] = {
        brokers, dburl, redis, "CHUANG_SECURITY_PLAIN=yes", "CHUANG_REDIS_PREFIX=test:consumer",
        NULL};
    s_tally = harness_spawn("tally", TALLY, tally_env);
    zstr_free(&brokers);
    zstr_free(&dburl);
    zstr_free(&redis);
    return harness_wait_service(s_endpoint, "tally", 20000);
}

static int s_teardown(void **state)
{
    (void)state;
    harness_stop(s_tally, SIGTERM, 5000);
    harness_stop(s_broker, SIGTERM, 5000);
    redisFree(s_redis);
    return 0;
}

static long s_count(const char *sql)
{
    PGconn *db = db_connect(s_watcher_url, "watcher", 3);
    assert_non_null(db);
    PGresult *res = PQexec(db, sql);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    long count = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    PQfinish(db);
    return count;
}

static long long s_redis_int(const char *command)
{
    redisReply *reply = redisCommand(s_redis, command);
    long long value = reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
    freeReplyObject(reply);
    return value;
}

/* How many more times the handler refuses a "flaky" event. */
static atomic_int s_flaky_refusals;

/* The consuming service's effect: a row per event; poison is refused, and
 * flaky while s_flaky_refusals lasts. */
static int s_handler(PGconn *db, const Chuang__Event *event, void *arg, char *error)
{
    (void)arg;
    if (streq(event->aggregate_id, "poison")) {
        snprintf(error, 256, "poison counter refused");
        return -1;
    }
    if (streq(event->aggregate_id, "flaky") && atomic_fetch_sub(&s_flaky_refusals, 1) > 0) {
        snprintf(error, 256, "flaky counter refused for now");
        return -1;
    }
    char position[24];
    snprintf(position, sizeof position, "%" PRId64, event->sequence);
    const char *values[2] = {position, event->aggregate_id};
    PGresult *res = PQexecParams(db, "INSERT INTO applied (position, counter) VALUES ($1, $2)", 2,
                                 NULL, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
    PQclear(res);
    return rc;
}

static void s_add(client_t *client, const char *counter, int count)
{
    for (int i = 0; i < count; i++) {
        Chuang__Tally__AddRequest request = CHUANG__TALLY__ADD_REQUEST__INIT;
        request.counter = (char *)counter;
        request.amount = 1;
        Chuang__Reply *reply = client_call(client, "tally", "Add", &request.base, NULL);
        assert_int_equal(reply->status, CHUANG__STATUS__OK);
        chuang__reply__free_unpacked(reply, NULL);
    }
}

typedef struct {
    const char *name;
    const char *stream; /* NULL: STREAM */
    volatile bool stop;
} runner_t;

static void *s_run(void *args)
{
    runner_t *runner = args;
    consumer_settings_t settings = {.db_url = s_watcher_url,
                                    .schema = "watcher",
                                    .redis_url = harness_get("CHUANG_TEST_REDIS_URL"),
                                    .stream = runner->stream ? runner->stream : STREAM,
                                    .group = GROUP,
                                    .consumer = runner->name,
                                    .claim_idle_ms = 500,
                                    .max_deliveries = 3,
                                    .handler = s_handler};
    consumer_t *consumer = consumer_new(&settings);
    while (!runner->stop)
        consumer_step(consumer, 100);
    consumer_destroy(&consumer);
    return NULL;
}

/* Waits until applied holds n rows and the dead letters dead entries. */
static bool s_wait_for(long n, long long dead)
{
    char command[128];
    snprintf(command, sizeof command, "XLEN %s:dead:%s", STREAM, GROUP);
    for (int i = 0; i < 300; i++) {
        if (s_count("SELECT count(*) FROM applied") == n && s_redis_int(command) == dead)
            return true;
        zclock_sleep(100);
    }
    return false;
}

static void test_every_event_applied_once_poison_dead_lettered(void **state)
{
    (void)state;
    config_t *config = config_new(NULL);
    config_set(config, "security.plain", "yes");
    security_t *security = security_new(config);
    client_t *client = client_new(s_endpoint, security);
    s_add(client, "alpha", 30);
    s_add(client, "poison", 2);
    s_add(client, "beta", 10);
    char command[128];
    snprintf(command, sizeof command, "XLEN %s", STREAM);
    for (int i = 0; i < 200 && s_redis_int(command) < 42; i++)
        zclock_sleep(100);
    assert_int_equal(s_redis_int(command), 42);

    /* A consumer takes five entries and dies without acknowledging them. */
    freeReplyObject(redisCommand(s_redis, "XGROUP CREATE %s %s 0 MKSTREAM", STREAM, GROUP));
    redisReply *ghost =
        redisCommand(s_redis, "XREADGROUP GROUP %s ghost COUNT 5 STREAMS %s >", GROUP, STREAM);
    assert_non_null(ghost);
    freeReplyObject(ghost);

    runner_t runners[2] = {{.name = "watcher-1"}, {.name = "watcher-2"}};
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&threads[i], NULL, s_run, &runners[i]);
    /* The first poison event goes to the dead letters; the second waits
     * behind it (its aggregate is blocked until an operator decides). */
    assert_true(s_wait_for(40, 1));
    assert_int_equal(s_count("SELECT count(DISTINCT position) FROM applied"), 40);
    assert_int_equal(s_count("SELECT count(*) FROM chuang_inbox"), 40);
    assert_int_equal(s_count("SELECT count(*) FROM applied WHERE counter = 'poison'"), 0);
    assert_int_equal(
        s_count("SELECT count(*) FROM chuang_inbox_held WHERE aggregate_id = 'poison'"), 1);
    assert_int_equal(s_count("SELECT count(*) FROM chuang_inbox_blocks"
                             " WHERE aggregate_id = 'poison' AND dead"),
                     1);

    /* The dead letters are the poison event, with why. */
    redisReply *dead = redisCommand(s_redis, "XRANGE %s:dead:%s - +", STREAM, GROUP);
    assert_int_equal(dead->elements, 1);
    for (size_t d = 0; d < dead->elements; d++) {
        redisReply *fields = dead->element[d]->element[1];
        const char *error = NULL;
        Chuang__Event *event = NULL;
        for (size_t i = 0; i + 1 < fields->elements; i += 2) {
            if (streq(fields->element[i]->str, "error"))
                error = fields->element[i + 1]->str;
            if (streq(fields->element[i]->str, "event"))
                event = chuang__event__unpack(NULL, fields->element[i + 1]->len,
                                              (uint8_t *)fields->element[i + 1]->str);
        }
        assert_non_null(event);
        assert_string_equal(event->aggregate_id, "poison");
        assert_non_null(error);
        assert_true(*error);
        chuang__event__free_unpacked(event, NULL);
    }
    freeReplyObject(dead);

    /* Nothing is left pending, the ghost's entries included. */
    redisReply *pending = redisCommand(s_redis, "XPENDING %s %s", STREAM, GROUP);
    assert_int_equal(pending->element[0]->integer, 0);
    freeReplyObject(pending);

    /* Everything delivered again (the group lost and made anew) changes nothing. */
    freeReplyObject(redisCommand(s_redis, "XGROUP DESTROY %s %s", STREAM, GROUP));
    s_add(client, "gamma", 3);
    assert_true(s_wait_for(43, 1));
    assert_int_equal(s_count("SELECT count(DISTINCT position) FROM applied"), 43);

    /* Redis loses the stream: the relay rebuilds it from the outbox, the
     * consumers make their group anew and go on, applying nothing twice. */
    freeReplyObject(redisCommand(s_redis, "DEL %s", STREAM));
    s_add(client, "delta", 4);
    assert_true(s_wait_for(47, 1));
    assert_int_equal(s_count("SELECT count(DISTINCT position) FROM applied"), 47);

    for (int i = 0; i < 2; i++) {
        runners[i].stop = true;
        pthread_join(threads[i], NULL);
    }
    client_destroy(&client);
    security_destroy(&security);
    config_destroy(&config);
}

/* The counters of applied rows in the order they were applied. */
static char *s_applied_order(const char *counter)
{
    PGconn *db = db_connect(s_watcher_url, "watcher", 3);
    assert_non_null(db);
    const char *values[1] = {counter};
    PGresult *res = PQexecParams(db,
                                 "SELECT string_agg(position::text, ',' ORDER BY seq) FROM applied"
                                 " WHERE counter = $1",
                                 1, NULL, values, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    char *order = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    PQfinish(db);
    return order;
}

static void test_a_failed_event_holds_back_its_aggregate_only(void **state)
{
    (void)state;
    config_t *config = config_new(NULL);
    config_set(config, "security.plain", "yes");
    security_t *security = security_new(config);
    client_t *client = client_new(s_endpoint, security);
    PGconn *db = db_connect(s_watcher_url, "watcher", 3);
    assert_int_equal(db_exec(db, "order", "ALTER TABLE applied ADD COLUMN seq bigserial"), 0);
    runner_t runner = {.name = "watcher-3"};
    pthread_t thread;
    pthread_create(&thread, NULL, s_run, &runner);

    /* The first flaky event fails twice, then succeeds: the two after it
     * wait and follow it in order; another counter goes on meanwhile. */
    long before = s_count("SELECT count(*) FROM applied");
    atomic_store(&s_flaky_refusals, 2);
    s_add(client, "flaky", 3);
    s_add(client, "steady", 5);
    assert_true(s_wait_for(before + 8, 1));
    char *flaky = s_applied_order("flaky");
    assert_non_null(strchr(flaky, ','));
    long first = atol(flaky), second = atol(strchr(flaky, ',') + 1);
    assert_true(first < second && second < atol(strrchr(flaky, ',') + 1));
    assert_true(s_count("SELECT count(*) FROM applied f, applied s WHERE f.counter = 'flaky'"
                        " AND s.counter = 'steady' AND s.seq < f.seq") > 0);
    free(flaky);
    assert_int_equal(
        s_count("SELECT count(*) FROM chuang_inbox_blocks WHERE aggregate_id = 'flaky'"), 0);
    assert_int_equal(s_count("SELECT count(*) FROM chuang_inbox_held WHERE aggregate_id = 'flaky'"),
                     0);

    /* One that keeps failing goes to the dead letters and holds the next
     * back until an operator releases the aggregate; then the next goes on
     * and the dead one is never applied. */
    atomic_store(&s_flaky_refusals, 1000);
    s_add(client, "flaky", 2);
    assert_true(s_wait_for(before + 8, 2));
    for (int i = 0; i < 100 && s_count("SELECT count(*) FROM chuang_inbox_held"
                                       " WHERE aggregate_id = 'flaky'") == 0;
         i++)
        zclock_sleep(100);
    assert_int_equal(s_count("SELECT count(*) FROM chuang_inbox_held WHERE aggregate_id = 'flaky'"),
                     1);
    long dead = s_count("SELECT position FROM chuang_inbox_blocks"
                        " WHERE aggregate_id = 'flaky' AND dead");
    atomic_store(&s_flaky_refusals, 0);
    char conf[600];
    snprintf(conf, sizeof conf, "%s/watcher.conf", harness_dir());
    FILE *file = fopen(conf, "w");
    fprintf(file, "db.url = %s\ndb.schema = watcher\n", s_watcher_url);
    fclose(file);
    assert_int_equal(
        harness_sh("'%s' -c '%s' consumer blocks watcher | grep -q 'flaky.*dead'", CTL, conf), 0);
    assert_int_equal(
        harness_sh("'%s' -c '%s' consumer release watcher %s flaky >/dev/null", CTL, conf, STREAM),
        0);
    assert_int_equal(consumer_release(db, STREAM, "flaky"), 0); /* done already */
    assert_true(s_wait_for(before + 9, 2));
    char sql[160];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM applied WHERE counter = 'flaky' AND position = %ld", dead);
    assert_int_equal(s_count(sql), 0);
    assert_int_equal(s_count("SELECT count(*) FROM chuang_inbox_held WHERE aggregate_id = 'flaky'"),
                     0);

    runner.stop = true;
    pthread_join(thread, NULL);
    PQfinish(db);
    client_destroy(&client);
    security_destroy(&security);
    config_destroy(&config);
}

/* The position of the first entry of stream, 0 when it is empty. */
static long long s_stream_first(const char *stream)
{
    redisReply *reply = redisCommand(s_redis, "XRANGE %s - + COUNT 1", stream);
    long long first = reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 1
                          ? atoll(reply->element[0]->element[0]->str)
                          : 0;
    freeReplyObject(reply);
    return first;
}

static void test_events_the_stream_lost_are_sent_again_from_the_outbox(void **state)
{
    (void)state;
    /* A producer whose stream keeps only its last 5 events, behind a broker
     * of its own (it is another tally). */
    const char *url = harness_service_db("consumer_lost", "tally");
    assert_non_null(url);
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", harness_free_port());
    char *bind = zsys_sprintf("CHUANG_BROKER_ENDPOINT=%s", endpoint);
    const char *broker_env[] = {bind, "CHUANG_SECURITY_PLAIN=yes", NULL};
    pid_t broker = harness_spawn("broker-lost", BROKER, broker_env);
    char *brokers = zsys_sprintf("CHUANG_BROKERS=%s", endpoint);
    char *dburl = zsys_sprintf("CHUANG_DB_URL=%s", url);
    char *redis = zsys_sprintf("CHUANG_REDIS_URL=%s", harness_get("CHUANG_TEST_REDIS_URL"));
    const char *tally_env[] = {brokers,
                               dburl,
                               redis,
                               "CHUANG_SECURITY_PLAIN=yes",
                               "CHUANG_REDIS_PREFIX=test:lost",
                               "CHUANG_RELAY_STREAM_MAX=5",
                               NULL};
    pid_t tally = harness_spawn("tally-lost", TALLY, tally_env);
    assert_int_equal(harness_wait_service(endpoint, "tally", 20000), 0);
    config_t *config = config_new(NULL);
    config_set(config, "security.plain", "yes");
    security_t *security = security_new(config);
    client_t *client = client_new(endpoint, security);
    const char *stream = "test:lost:events";
    const char *applied = "SELECT count(DISTINCT position) FROM applied WHERE counter LIKE 'lost%'";

    runner_t runner = {.name = "watcher-lost", .stream = stream};
    pthread_t thread;
    pthread_create(&thread, NULL, s_run, &runner);
    s_add(client, "lost-a", 3);
    for (int i = 0; i < 300 && s_count(applied) < 3; i++)
        zclock_sleep(100);
    assert_int_equal(s_count(applied), 3);
    runner.stop = true;
    pthread_join(thread, NULL);

    /* Event 4 goes to a consumer that dies with it pending; 5 to 12 come
     * while no consumer reads; the relay keeps only 8 to 12. */
    s_add(client, "lost-b", 1);
    char command[128];
    snprintf(command, sizeof command, "XLEN %s", stream);
    for (int i = 0; i < 100 && s_redis_int(command) < 4; i++)
        zclock_sleep(50);
    redisReply *ghost =
        redisCommand(s_redis, "XREADGROUP GROUP %s ghost-lost COUNT 1 STREAMS %s >", GROUP, stream);
    assert_true(ghost && ghost->type == REDIS_REPLY_ARRAY);
    assert_string_equal(ghost->element[0]->element[1]->element[0]->element[0]->str, "4-0");
    freeReplyObject(ghost);
    s_add(client, "lost-c", 8);
    for (int i = 0; i < 200 && s_stream_first(stream) < 8; i++)
        zclock_sleep(100);
    assert_int_equal(s_stream_first(stream), 8);

    /* The consumer finds both gaps (the trimmed pending entry, the entries
     * trimmed before the group was given them), asks for them, and the
     * relay sends them again from its outbox: every event applied once. */
    runner.stop = false;
    pthread_create(&thread, NULL, s_run, &runner);
    for (int i = 0; i < 300 && s_count(applied) < 12; i++)
        zclock_sleep(100);
    if (s_count(applied) != 12) {
        snprintf(command, sizeof command, "LLEN %s:resent:%s", stream, GROUP);
        fprintf(stderr, "consumer: %lld events waiting sent again, %ld held, %ld in the inbox\n",
                s_redis_int(command), s_count("SELECT count(*) FROM chuang_inbox_held"),
                s_count("SELECT count(*) FROM chuang_inbox WHERE stream = 'test:lost:events'"));
    }
    assert_int_equal(s_count(applied), 12);
    assert_int_equal(
        s_count(
            "SELECT count(*) - count(DISTINCT position) FROM applied WHERE counter LIKE 'lost%'"),
        0);
    assert_int_equal(s_count("SELECT min(position) * 100 + max(position) FROM applied"
                             " WHERE counter LIKE 'lost%'"),
                     112);
    snprintf(command, sizeof command, "LLEN %s:resend", stream);
    assert_int_equal(s_redis_int(command), 0);
    snprintf(command, sizeof command, "XLEN %s:dead:%s", stream, GROUP);
    assert_int_equal(s_redis_int(command), 0);

    runner.stop = true;
    pthread_join(thread, NULL);
    client_destroy(&client);
    security_destroy(&security);
    config_destroy(&config);
    harness_stop(tally, SIGTERM, 5000);
    harness_stop(broker, SIGTERM, 5000);
    zstr_free(&bind);
    zstr_free(&brokers);
    zstr_free(&dburl);
    zstr_free(&redis);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_event_applied_once_poison_dead_lettered),
        cmocka_unit_test(test_a_failed_event_holds_back_its_aggregate_only),
        cmocka_unit_test(test_events_the_stream_lost_are_sent_again_from_the_outbox),
    };
    return cmocka_run_group_tests_name("consumer", tests, s_setup, s_teardown);
}
