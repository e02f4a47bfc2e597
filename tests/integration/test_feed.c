/*
 * test_feed.c - the agency's event feed over CURVE, fed by a real registry
 * through its relay: a department entitled to personal data gets its topic
 * in order with the data; another agency gets events with personal data
 * redacted; a public subscriber gets only public events; a subscriber
 * resumes after its cursor with nothing lost or repeated; a topic outside
 * the access list is refused; an unknown key gets nothing; chuangctl feed
 * tail prints the events as JSON lines.
 */
#include "client.h"
#include "config.h"
#include "feed_client.h"
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
#define CTL      CHUANG_BUILD_DIR "/services/ctl/chuangctl"

static char s_endpoint[64];
static char s_feed_endpoint[64];
static char s_feed_public[64];
static pid_t s_broker, s_registry, s_feed;
static config_t *s_plain_config;
static security_t *s_plain;

/* A subscriber's security: its secret certificate. Caller destroys both. */
static security_t *s_subscriber(const char *name, config_t **config)
{
    char path[600];
    *config = config_new(NULL);
    snprintf(path, sizeof path, "%s/keys/%s_secret", harness_dir(), name);
    config_set(*config, "security.cert", path);
    snprintf(path, sizeof path, "%s/keys/feed", harness_dir());
    config_set(*config, "security.server_cert", path);
    return security_new(*config);
}

static int s_setup(void **state)
{
    (void)state;
    if (harness_init("feed") != 0)
        return -1;
    const char *dir = harness_dir();
    const char *url = harness_service_db("feed", "registry");
    if (!url)
        return -1;
    char *db = zsys_sprintf("CHUANG_DB_URL=%s", url);

    harness_sh("mkdir -p '%s/keys/allow'", dir);
    const char *names[] = {"feed", "tax", "city", "press", "stranger", NULL};
    char path[600];
    for (int i = 0; names[i]; i++) {
        snprintf(path, sizeof path, "%s/keys/%s", dir, names[i]);
        if (security_keygen(path, names[i]) != 0)
            return -1;
    }
    harness_sh("cp '%s/keys/tax' '%s/keys/city' '%s/keys/press' '%s/keys/allow/'", dir, dir, dir,
               dir);
    snprintf(path, sizeof path, "%s/keys/feed", dir);
    zcert_t *feed_cert = zcert_load(path);
    snprintf(s_feed_public, sizeof s_feed_public, "%s", zcert_public_txt(feed_cert));
    zcert_destroy(&feed_cert);

    /* The access list: a department with personal data, another agency and
     * the press without. */
    snprintf(path, sizeof path, "%s/feed.acl", dir);
    FILE *acl = fopen(path, "w");
    const char *lines[][2] = {{"tax", "department yes registry.EntityRegistered"},
                              {"city", "agency no registry."},
                              {"press", "public no *"}};
    for (int i = 0; i < 3; i++) {
        char key_path[600];
        snprintf(key_path, sizeof key_path, "%s/keys/%s", dir, lines[i][0]);
        zcert_t *cert = zcert_load(key_path);
        fprintf(acl, "%s %s %s\n", zcert_public_txt(cert), lines[i][0], lines[i][1]);
        zcert_destroy(&cert);
    }
    fclose(acl);

    snprintf(s_endpoint, sizeof s_endpoint, "tcp://127.0.0.1:%d", harness_free_port());
    snprintf(s_feed_endpoint, sizeof s_feed_endpoint, "tcp://127.0.0.1:%d", harness_free_port());
    char *bind = zsys_sprintf("CHUANG_BROKER_ENDPOINT=%s", s_endpoint);
    char *brokers = zsys_sprintf("CHUANG_BROKERS=%s", s_endpoint);
    char *redis = zsys_sprintf("CHUANG_REDIS_URL=%s", harness_get("CHUANG_TEST_REDIS_URL"));
    char *feed_bind = zsys_sprintf("CHUANG_FEED_ENDPOINT=%s", s_feed_endpoint);
    char *feed_acl = zsys_sprintf("CHUANG_FEED_ACL=%s/feed.acl", dir);
    char *feed_cert_env = zsys_sprintf("CHUANG_SECURITY_CERT=%s/keys/feed_secret", dir);
    char *feed_allow = zsys_sprintf("CHUANG_SECURITY_ALLOW_DIR=%s/keys/allow", dir);
    const char *broker_env[] = {bind, "CHUANG_SECURITY_PLAIN=yes", NULL};
    const char *registry_env[] = {
        brokers, db, redis, "CHUANG_SECURITY_PLAIN=yes", "CHUANG_REDIS_PREFIX=feedtest:registry",
        NULL};
    const char *feed_env[] = {feed_bind,  feed_acl, feed_cert_env,
                              feed_allow, redis,    "CHUANG_FEED_STREAM_KEY=feedtest:%s:events",
                              NULL};
    s_broker = harness_spawn("broker", BROKER, broker_env);
    s_registry = harness_spawn("registry", REGISTRY, registry_env);
    s_feed = harness_spawn("feed", FEED, feed_env);
    zstr_free(&bind);
    zstr_free(&brokers);
    zstr_free(&redis);
    zstr_free(&feed_bind);
    zstr_free(&feed_acl);
    zstr_free(&feed_cert_env);
    zstr_free(&feed_allow);
    zstr_free(&db);
    s_plain_config = config_new(NULL);
    config_set(s_plain_config, "security.plain", "yes");
    s_plain = security_new(s_plain_config);
    return harness_wait_service(s_endpoint, "registry", 20000);
}

static int s_teardown(void **state)
{
    (void)state;
    int status = harness_stop(s_feed, SIGTERM, 5000);
    harness_stop(s_registry, SIGTERM, 5000);
    harness_stop(s_broker, SIGTERM, 5000);
    security_destroy(&s_plain);
    config_destroy(&s_plain_config);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static Chuang__Registry__Entity *s_entity(const Chuang__Event *event)
{
    assert_string_equal(event->payload_type, "chuang.registry.Entity");
    return chuang__registry__entity__unpack(NULL, event->payload.len, event->payload.data);
}

static void test_subscribers_see_what_they_may_in_order(void **state)
{
    (void)state;
    client_t *client = client_new(s_endpoint, s_plain);
    client_set_identity(client, "330106", "officer-1", "officer");
    char *first = registry_fixture_register(client, "灵峰");
    char *second = registry_fixture_register(client, "满觉");

    /* The department: its one topic, personal data included, in order. */
    config_t *tax_config;
    security_t *tax = s_subscriber("tax", &tax_config);
    feed_client_t *feed = feed_client_new(s_feed_endpoint, tax, s_feed_public, "registry", 0,
                                          "registry.EntityRegistered");
    Chuang__Reply *refusal = NULL;
    int64_t last = 0;
    for (int i = 0; i < 2; i++) {
        Chuang__Event *event = feed_client_next(feed, 15000, &refusal);
        assert_non_null(event);
        assert_string_equal(event->type, "registry.EntityRegistered");
        assert_true(event->sequence > last);
        last = event->sequence;
        Chuang__Registry__Entity *entity = s_entity(event);
        assert_string_equal(entity->credit_code, i == 0 ? first : second);
        assert_string_equal(entity->legal_representative->id_number, "330106199003071236");
        chuang__registry__entity__free_unpacked(entity, NULL);
        chuang__event__free_unpacked(event, NULL);
    }
    feed_client_destroy(&feed);

    /* A topic outside its list is refused, with the reason. */
    feed = feed_client_new(s_feed_endpoint, tax, s_feed_public, "registry", 0,
                           "registry.NameReserved");
    assert_null(feed_client_next(feed, 5000, &refusal));
    assert_non_null(refusal);
    assert_int_equal(refusal->status, CHUANG__STATUS__PERMISSION_DENIED);
    chuang__reply__free_unpacked(refusal, NULL);
    feed_client_destroy(&feed);

    /* Another agency: everything on its topics, personal data redacted. */
    config_t *city_config;
    security_t *city = s_subscriber("city", &city_config);
    feed = feed_client_new(s_feed_endpoint, city, s_feed_public, "registry", 0, "");
    int64_t cursor = 0;
    for (int i = 0; i < 2; i++) {
        Chuang__Event *event = feed_client_next(feed, 15000, &refusal);
        assert_non_null(event);
        if (streq(event->type, "registry.EntityRegistered")) {
            Chuang__Registry__Entity *entity = s_entity(event);
            assert_string_equal(entity->legal_representative->id_number, "");
            assert_string_equal(entity->legal_representative->phone, "");
            assert_string_equal(entity->founders[0]->person->id_number, "");
            assert_string_equal(entity->legal_representative->name, "李四");
            chuang__registry__entity__free_unpacked(entity, NULL);
        }
        cursor = event->sequence;
        chuang__event__free_unpacked(event, NULL);
    }
    feed_client_destroy(&feed);

    /* It resumes after its cursor: the next event, not one it had. */
    feed = feed_client_new(s_feed_endpoint, city, s_feed_public, "registry", cursor, "");
    Chuang__Event *event = feed_client_next(feed, 15000, &refusal);
    assert_non_null(event);
    assert_int_equal(event->sequence, cursor + 1);
    chuang__event__free_unpacked(event, NULL);
    feed_client_destroy(&feed);

    /* The press sees only public events: a listing, not registrations. */
    Chuang__Registry__AddToListRequest list = CHUANG__REGISTRY__ADD_TO_LIST_REQUEST__INIT;
    list.credit_code = first;
    list.list = "abnormal";
    list.reason = "通过登记的住所无法联系";
    list.authority = "西湖区市场监督管理局";
    Chuang__Reply *reply = client_call(client, "registry", "AddToList", &list.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    chuang__reply__free_unpacked(reply, NULL);
    config_t *press_config;
    security_t *press = s_subscriber("press", &press_config);
    feed = feed_client_new(s_feed_endpoint, press, s_feed_public, "registry", 0, "");
    event = feed_client_next(feed, 15000, &refusal);
    assert_non_null(event);
    assert_string_equal(event->type, "registry.ListedAbnormal");
    chuang__event__free_unpacked(event, NULL);
    assert_null(feed_client_next(feed, 1500, &refusal));
    feed_client_destroy(&feed);

    /* A key not on the list gets nothing at all. */
    config_t *stranger_config;
    security_t *stranger = s_subscriber("stranger", &stranger_config);
    feed = feed_client_new(s_feed_endpoint, stranger, s_feed_public, "registry", 0, "");
    assert_null(feed_client_next(feed, 2000, &refusal));
    assert_null(refusal);
    feed_client_destroy(&feed);

    /* Live: an event written after the subscription arrives. */
    feed = feed_client_new(s_feed_endpoint, tax, s_feed_public, "registry", last,
                           "registry.EntityRegistered");
    char *third = registry_fixture_register(client, "九溪");
    event = feed_client_next(feed, 15000, &refusal);
    assert_non_null(event);
    Chuang__Registry__Entity *entity = s_entity(event);
    assert_string_equal(entity->credit_code, third);
    chuang__registry__entity__free_unpacked(entity, NULL);
    chuang__event__free_unpacked(event, NULL);
    feed_client_destroy(&feed);

    /* chuangctl feed tail prints JSON lines, payload decoded. */
    char conf[600];
    snprintf(conf, sizeof conf, "%s/ctl.conf", harness_dir());
    FILE *file = fopen(conf, "w");
    fprintf(file, "security.cert = %s/keys/tax_secret\nfeed.server_cert = %s/keys/feed\n",
            harness_dir(), harness_dir());
    fprintf(file, "feed.endpoint = %s\n", s_feed_endpoint);
    fclose(file);
    assert_int_equal(harness_sh("'%s' -c '%s' feed tail registry --topics "
                                "registry.EntityRegistered --count 3 > '%s/tail.out'"
                                " && test $(grep -c '\"creditCode\"' '%s/tail.out') -ge 3",
                                CTL, conf, harness_dir(), harness_dir()),
                     0);

    free(first);
    free(second);
    free(third);
    security_destroy(&tax);
    security_destroy(&city);
    security_destroy(&press);
    security_destroy(&stranger);
    config_destroy(&tax_config);
    config_destroy(&city_config);
    config_destroy(&press_config);
    config_destroy(&stranger_config);
    client_destroy(&client);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subscribers_see_what_they_may_in_order),
    };
    return cmocka_run_group_tests_name("feed", tests, s_setup, s_teardown);
}
