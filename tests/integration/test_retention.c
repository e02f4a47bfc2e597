/*
 * test_retention.c - a stream that keeps only its latest events: the relay
 * trims it to relay.stream_max; a subscriber whose cursor is older than what
 * is kept is told so clearly, takes a snapshot of the register, and follows
 * the feed after the snapshot's sequence without missing anything.
 */
#include "client.h"
#include "config.h"
#include "feed_client.h"
#include "harness.h"
#include "redis_link.h"
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
#define STREAM   "retention:registry:events"
#define KEEP     3

static char s_endpoint[64];
static char s_feed_endpoint[64];
static char s_feed_public[64];
static pid_t s_broker, s_registry, s_feed;
static config_t *s_config;
static security_t *s_plain;
static config_t *s_subscriber_config;
static security_t *s_subscriber;

static int s_setup(void **state)
{
    (void)state;
    if (harness_init("retention") != 0)
        return -1;
    const char *dir = harness_dir();
    const char *url = harness_service_db("retention", "registry");
    if (!url)
        return -1;
    char *db = zsys_sprintf("CHUANG_DB_URL=%s", url);
    harness_sh("mkdir -p '%s/keys/allow'", dir);
    char path[600];
    const char *names[] = {"feed", "statistics", NULL};
    for (int i = 0; names[i]; i++) {
        snprintf(path, sizeof path, "%s/keys/%s", dir, names[i]);
        if (security_keygen(path, names[i]) != 0)
            return -1;
    }
    harness_sh("cp '%s/keys/statistics' '%s/keys/allow/'", dir, dir);
    snprintf(path, sizeof path, "%s/keys/feed", dir);
    zcert_t *cert = zcert_load(path);
    snprintf(s_feed_public, sizeof s_feed_public, "%s", zcert_public_txt(cert));
    zcert_destroy(&cert);
    snprintf(path, sizeof path, "%s/keys/statistics", dir);
    cert = zcert_load(path);
    snprintf(path, sizeof path, "%s/feed.acl", dir);
    FILE *file = fopen(path, "w");
    fprintf(file, "%s statistics department no registry.\n", zcert_public_txt(cert));
    fclose(file);
    zcert_destroy(&cert);

    snprintf(s_endpoint, sizeof s_endpoint, "tcp://127.0.0.1:%d", harness_free_port());
    snprintf(s_feed_endpoint, sizeof s_feed_endpoint, "tcp://127.0.0.1:%d", harness_free_port());
    char *bind = zsys_sprintf("CHUANG_BROKER_ENDPOINT=%s", s_endpoint);
    char *brokers = zsys_sprintf("CHUANG_BROKERS=%s", s_endpoint);
    char *redis = zsys_sprintf("CHUANG_REDIS_URL=%s", harness_get("CHUANG_TEST_REDIS_URL"));
    char *feed_bind = zsys_sprintf("CHUANG_FEED_ENDPOINT=%s", s_feed_endpoint);
    char *feed_acl = zsys_sprintf("CHUANG_FEED_ACL=%s/feed.acl", dir);
    char *feed_cert = zsys_sprintf("CHUANG_SECURITY_CERT=%s/keys/feed_secret", dir);
    char *feed_allow = zsys_sprintf("CHUANG_SECURITY_ALLOW_DIR=%s/keys/allow", dir);
    const char *broker_env[] = {bind, "CHUANG_SECURITY_PLAIN=yes", NULL};
    const char *registry_env[] = {brokers,
                                  db,
                                  redis,
                                  "CHUANG_SECURITY_PLAIN=yes",
                                  "CHUANG_REDIS_PREFIX=retention:registry",
                                  "CHUANG_RELAY_STREAM_MAX=3",
                                  NULL};
    const char *feed_env[] = {feed_bind,  feed_acl, feed_cert,
                              feed_allow, redis,    "CHUANG_FEED_STREAM_KEY=retention:%s:events",
                              NULL};
    s_broker = harness_spawn("broker", BROKER, broker_env);
    s_registry = harness_spawn("registry", REGISTRY, registry_env);
    s_feed = harness_spawn("feed", FEED, feed_env);
    zstr_free(&bind);
    zstr_free(&brokers);
    zstr_free(&redis);
    zstr_free(&feed_bind);
    zstr_free(&feed_acl);
    zstr_free(&feed_cert);
    zstr_free(&feed_allow);
    zstr_free(&db);
    s_config = config_new(NULL);
    config_set(s_config, "security.plain", "yes");
    s_plain = security_new(s_config);
    s_subscriber_config = config_new(NULL);
    snprintf(path, sizeof path, "%s/keys/statistics_secret", dir);
    config_set(s_subscriber_config, "security.cert", path);
    s_subscriber = security_new(s_subscriber_config);
    return harness_wait_service(s_endpoint, "registry", 20000);
}

static int s_teardown(void **state)
{
    (void)state;
    harness_stop(s_feed, SIGTERM, 5000);
    harness_stop(s_registry, SIGTERM, 5000);
    harness_stop(s_broker, SIGTERM, 5000);
    security_destroy(&s_subscriber);
    config_destroy(&s_subscriber_config);
    security_destroy(&s_plain);
    config_destroy(&s_config);
    return 0;
}

static void test_behind_retention_then_snapshot_then_follow(void **state)
{
    (void)state;
    client_t *client = client_new(s_endpoint, s_plain);
    client_set_identity(client, "330106", "officer-1", "officer");
    for (int i = 0; i < 3; i++) {
        const char *names[] = {"桃源", "杨梅", "翁家"};
        free(registry_fixture_register(client, names[i]));
    }
    /* Six events; the stream keeps the last three. */
    redisContext *redis = redis_link_connect(harness_get("CHUANG_TEST_REDIS_URL"), 3);
    long long length = -1;
    for (int i = 0; i < 200; i++) {
        redisReply *reply = redisCommand(redis, "XLEN %s", STREAM);
        length = reply->integer;
        freeReplyObject(reply);
        if (length == KEEP)
            break;
        zclock_sleep(100);
    }
    assert_int_equal(length, KEEP);
    redisFree(redis);

    /* From the beginning: refused, clearly. */
    feed_client_t *feed =
        feed_client_new(s_feed_endpoint, s_subscriber, s_feed_public, "registry", 0, "");
    Chuang__Reply *refusal = NULL;
    assert_null(feed_client_next(feed, 10000, &refusal));
    assert_non_null(refusal);
    assert_int_equal(refusal->status, CHUANG__STATUS__FAILED_PRECONDITION);
    assert_non_null(strstr(refusal->detail, "oldest event kept is 4"));
    chuang__reply__free_unpacked(refusal, NULL);
    feed_client_destroy(&feed);

    /* A department's snapshot of the register, personal data masked, and
     * its sequence. */
    client_set_identity(client, "330106", "statistician", "department");
    Chuang__Registry__SnapshotRequest request = CHUANG__REGISTRY__SNAPSHOT_REQUEST__INIT;
    request.limit = 2;
    Chuang__Reply *reply = client_call(client, "registry", "TakeSnapshot", &request.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Registry__Snapshot *page =
        chuang__registry__snapshot__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_int_equal(page->n_entities, 2);
    assert_int_equal(page->sequence, 6);
    assert_non_null(strchr(page->entities[0]->legal_representative->id_number, '*'));
    int64_t sequence = page->sequence;
    request.after_credit_code = page->next_after;
    Chuang__Reply *next = client_call(client, "registry", "TakeSnapshot", &request.base, NULL);
    Chuang__Registry__Snapshot *last =
        chuang__registry__snapshot__unpack(NULL, next->payload.len, next->payload.data);
    assert_int_equal(last->n_entities, 1);
    assert_string_equal(last->next_after, "");
    chuang__registry__snapshot__free_unpacked(last, NULL);
    chuang__reply__free_unpacked(next, NULL);
    chuang__registry__snapshot__free_unpacked(page, NULL);
    chuang__reply__free_unpacked(reply, NULL);

    /* After the snapshot's sequence: what follows, and nothing before it. */
    feed = feed_client_new(s_feed_endpoint, s_subscriber, s_feed_public, "registry", sequence, "");
    client_set_identity(client, "330106", "officer-1", "officer");
    char *code = registry_fixture_register(client, "龙门");
    Chuang__Event *event = feed_client_next(feed, 15000, &refusal);
    assert_null(refusal);
    assert_non_null(event);
    assert_int_equal(event->sequence, sequence + 1);
    assert_string_equal(event->type, "registry.NameReserved");
    chuang__event__free_unpacked(event, NULL);
    event = feed_client_next(feed, 15000, &refusal);
    assert_non_null(event);
    assert_string_equal(event->type, "registry.EntityRegistered");
    assert_string_equal(event->aggregate_id, code);
    chuang__event__free_unpacked(event, NULL);
    feed_client_destroy(&feed);
    free(code);
    client_destroy(&client);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_behind_retention_then_snapshot_then_follow),
    };
    return cmocka_run_group_tests_name("retention", tests, s_setup, s_teardown);
}
