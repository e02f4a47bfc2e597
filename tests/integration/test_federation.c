/*
 * test_federation.c - two agencies on one machine, a city and a town, each
 * with its own database, Redis keyspace, broker and feed. The town's feed
 * imports the city's registrations; a town service consumes them. The
 * town's feed is stopped while the city registers more, then started again:
 * the town's consumer applies every registration once, in order, with
 * personal data redacted, and never sees what the town may not.
 */
#include "client.h"
#include "config.h"
#include "consumer.h"
#include "db.h"
#include "harness.h"
#include "registry.pb-c.h"
#include "registry_fixture.h"
#include "security.h"

#include <czmq.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define REGISTRY CHUANG_BUILD_DIR "/services/registry/chuang-registry"
#define BROKER   CHUANG_BUILD_DIR "/services/broker/chuang-broker"
#define FEED     CHUANG_BUILD_DIR "/services/feed/chuang-feed"
#define IMPORTED "town:import:city:registry"

static char s_endpoint[64];    /* the city's broker */
static char s_city_feed[64];   /* the city's feed */
static char s_town_url[512];   /* the town service's database */
static char s_town_redis[512]; /* the town's Redis keyspace (database 1) */
static pid_t s_broker, s_registry, s_city, s_town;
static config_t *s_config;
static security_t *s_plain;

static pid_t s_start_town_feed(void)
{
    const char *dir = harness_dir();
    char *bind = zsys_sprintf("CHUANG_FEED_ENDPOINT=tcp://127.0.0.1:%d", harness_free_port());
    char *acl = zsys_sprintf("CHUANG_FEED_ACL=%s/town.acl", dir);
    char *imports = zsys_sprintf("CHUANG_FEED_IMPORTS=%s/town.imports", dir);
    char *cert = zsys_sprintf("CHUANG_SECURITY_CERT=%s/keys/town-feed_secret", dir);
    char *allow = zsys_sprintf("CHUANG_SECURITY_ALLOW_DIR=%s/keys/town-allow", dir);
    char *redis = zsys_sprintf("CHUANG_REDIS_URL=%s", s_town_redis);
    const char *env[] = {bind, acl, imports, cert, allow, redis, NULL};
    pid_t pid = harness_spawn("town-feed", FEED, env);
    zstr_free(&bind);
    zstr_free(&acl);
    zstr_free(&imports);
    zstr_free(&cert);
    zstr_free(&allow);
    zstr_free(&redis);
    return pid;
}

static int s_setup(void **state)
{
    (void)state;
    if (harness_init("federation") != 0)
        return -1;
    const char *dir = harness_dir();
    const char *url = harness_service_db("city", "registry");
    if (!url)
        return -1;
    char *city_db = zsys_sprintf("CHUANG_DB_URL=%s", url);
    url = harness_service_db("town", "townsvc");
    if (!url)
        return -1;
    snprintf(s_town_url, sizeof s_town_url, "%s", url);
    snprintf(s_town_redis, sizeof s_town_redis, "%s", harness_get("CHUANG_TEST_REDIS_URL"));
    s_town_redis[strlen(s_town_redis) - 1] = '1';

    /* The town service's schema: the framework's tables and what it keeps. */
    PGconn *db = db_connect(s_town_url, "townsvc", 3);
    const char *dirs[] = {CHUANG_SOURCE_DIR "/common/sql", NULL};
    if (!db || db_migrate(db, "townsvc", dirs) < 0 ||
        db_exec(db, "received table",
                "CREATE TABLE received (n bigserial, position bigint, type text,"
                " credit_code text, id_number text)") != 0)
        return -1;
    PQfinish(db);

    /* Keys: each feed has its own; the city lets the town's feed in as an
     * agency without personal data, for registrations only. */
    harness_sh("mkdir -p '%s/keys/city-allow' '%s/keys/town-allow'", dir, dir);
    char path[600];
    const char *names[] = {"city-feed", "town-feed", NULL};
    for (int i = 0; names[i]; i++) {
        snprintf(path, sizeof path, "%s/keys/%s", dir, names[i]);
        if (security_keygen(path, names[i]) != 0)
            return -1;
    }
    harness_sh("cp '%s/keys/town-feed' '%s/keys/city-allow/'", dir, dir);
    snprintf(path, sizeof path, "%s/keys/town-feed", dir);
    zcert_t *town = zcert_load(path);
    snprintf(path, sizeof path, "%s/city.acl", dir);
    FILE *file = fopen(path, "w");
    fprintf(file, "%s town agency no registry.EntityRegistered\n", zcert_public_txt(town));
    fclose(file);
    zcert_destroy(&town);
    snprintf(path, sizeof path, "%s/town.acl", dir);
    file = fopen(path, "w");
    fprintf(file, "# no subscribers of the town's own feed in this test\n");
    fclose(file);

    snprintf(s_endpoint, sizeof s_endpoint, "tcp://127.0.0.1:%d", harness_free_port());
    snprintf(s_city_feed, sizeof s_city_feed, "tcp://127.0.0.1:%d", harness_free_port());
    snprintf(path, sizeof path, "%s/town.imports", dir);
    file = fopen(path, "w");
    fprintf(file, "%s %s/keys/city-feed registry %s registry.EntityRegistered\n", s_city_feed, dir,
            IMPORTED);
    fclose(file);

    char *bind = zsys_sprintf("CHUANG_BROKER_ENDPOINT=%s", s_endpoint);
    char *brokers = zsys_sprintf("CHUANG_BROKERS=%s", s_endpoint);
    char *redis = zsys_sprintf("CHUANG_REDIS_URL=%s", harness_get("CHUANG_TEST_REDIS_URL"));
    char *feed_bind = zsys_sprintf("CHUANG_FEED_ENDPOINT=%s", s_city_feed);
    char *feed_acl = zsys_sprintf("CHUANG_FEED_ACL=%s/city.acl", dir);
    char *feed_cert = zsys_sprintf("CHUANG_SECURITY_CERT=%s/keys/city-feed_secret", dir);
    char *feed_allow = zsys_sprintf("CHUANG_SECURITY_ALLOW_DIR=%s/keys/city-allow", dir);
    const char *broker_env[] = {bind, "CHUANG_SECURITY_PLAIN=yes", NULL};
    const char *registry_env[] = {
        brokers, city_db, redis, "CHUANG_SECURITY_PLAIN=yes", "CHUANG_REDIS_PREFIX=city:registry",
        NULL};
    const char *feed_env[] = {feed_bind,  feed_acl, feed_cert,
                              feed_allow, redis,    "CHUANG_FEED_STREAM_KEY=city:%s:events",
                              NULL};
    s_broker = harness_spawn("city-broker", BROKER, broker_env);
    s_registry = harness_spawn("city-registry", REGISTRY, registry_env);
    s_city = harness_spawn("city-feed", FEED, feed_env);
    s_town = s_start_town_feed();
    zstr_free(&bind);
    zstr_free(&brokers);
    zstr_free(&redis);
    zstr_free(&feed_bind);
    zstr_free(&feed_acl);
    zstr_free(&feed_cert);
    zstr_free(&feed_allow);
    zstr_free(&city_db);
    s_config = config_new(NULL);
    config_set(s_config, "security.plain", "yes");
    s_plain = security_new(s_config);
    return harness_wait_service(s_endpoint, "registry", 20000);
}

static int s_teardown(void **state)
{
    (void)state;
    harness_stop(s_town, SIGTERM, 5000);
    harness_stop(s_city, SIGTERM, 5000);
    harness_stop(s_registry, SIGTERM, 5000);
    harness_stop(s_broker, SIGTERM, 5000);
    security_destroy(&s_plain);
    config_destroy(&s_config);
    return 0;
}

/* The town service's effect: what it learnt of each registration. */
static int s_received(PGconn *db, const Chuang__Event *event, void *arg, char *error)
{
    (void)arg;
    Chuang__Registry__Entity *entity =
        chuang__registry__entity__unpack(NULL, event->payload.len, event->payload.data);
    if (!entity) {
        snprintf(error, 256, "payload is not an entity");
        return -1;
    }
    char position[24];
    snprintf(position, sizeof position, "%" PRId64, event->sequence);
    const char *values[4] = {position, event->type, entity->credit_code,
                             entity->legal_representative->id_number};
    PGresult *res = PQexecParams(db,
                                 "INSERT INTO received (position, type, credit_code, id_number)"
                                 " VALUES ($1, $2, $3, $4)",
                                 4, NULL, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
    PQclear(res);
    chuang__registry__entity__free_unpacked(entity, NULL);
    return rc;
}

static long s_count(const char *sql)
{
    PGconn *db = db_connect(s_town_url, "townsvc", 3);
    PGresult *res = PQexec(db, sql);
    long count = PQresultStatus(res) == PGRES_TUPLES_OK ? atol(PQgetvalue(res, 0, 0)) : -1;
    PQclear(res);
    PQfinish(db);
    return count;
}

static volatile bool s_stop;

static void *s_consume(void *args)
{
    (void)args;
    consumer_settings_t settings = {.db_url = s_town_url,
                                    .schema = "townsvc",
                                    .redis_url = s_town_redis,
                                    .stream = IMPORTED,
                                    .imported = true,
                                    .group = "townsvc",
                                    .consumer = "townsvc-1",
                                    .claim_idle_ms = 1000,
                                    .max_deliveries = 5,
                                    .handler = s_received};
    consumer_t *consumer = consumer_new(&settings);
    while (!s_stop)
        consumer_step(consumer, 100);
    consumer_destroy(&consumer);
    return NULL;
}

static bool s_wait_received(long n)
{
    for (int i = 0; i < 300; i++) {
        if (s_count("SELECT count(*) FROM received") == n)
            return true;
        zclock_sleep(100);
    }
    return false;
}

static void test_town_gets_every_city_registration_once_after_an_outage(void **state)
{
    (void)state;
    client_t *client = client_new(s_endpoint, s_plain);
    client_set_identity(client, "330106", "officer-1", "officer");
    pthread_t consumer;
    pthread_create(&consumer, NULL, s_consume, NULL);

    free(registry_fixture_register(client, "梅家"));
    free(registry_fixture_register(client, "龙坞"));
    assert_true(s_wait_received(2));

    /* The town's feed is down while the city goes on registering. */
    harness_stop(s_town, SIGTERM, 5000);
    free(registry_fixture_register(client, "转塘"));
    free(registry_fixture_register(client, "之江"));
    free(registry_fixture_register(client, "双浦"));
    zclock_sleep(500);
    assert_int_equal(s_count("SELECT count(*) FROM received"), 2);
    s_town = s_start_town_feed();
    assert_true(s_wait_received(5));
    zclock_sleep(1000);
    assert_int_equal(s_count("SELECT count(*) FROM received"), 5);

    /* Once each, in the city's order, redacted, registrations only. */
    assert_int_equal(s_count("SELECT count(DISTINCT credit_code) FROM received"), 5);
    assert_int_equal(s_count("SELECT count(*) FROM received a JOIN received b"
                             " ON a.n < b.n AND a.position >= b.position"),
                     0);
    assert_int_equal(s_count("SELECT count(*) FROM received WHERE id_number <> ''"), 0);
    assert_int_equal(
        s_count("SELECT count(*) FROM received WHERE type <> 'registry.EntityRegistered'"), 0);

    s_stop = true;
    pthread_join(consumer, NULL);
    client_destroy(&client);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_town_gets_every_city_registration_once_after_an_outage),
    };
    return cmocka_run_group_tests_name("federation", tests, s_setup, s_teardown);
}
