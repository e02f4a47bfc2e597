/*
 * test_feed.c - the agency's event feed over CURVE, fed by a real registry
 * through its relay: a department entitled to personal data gets its topic
 * in order with the data; another agency gets events with personal data
 * redacted; a public subscriber gets only public events; a subscriber
 * resumes after its cursor with nothing lost or repeated; a topic outside
 * the access list is refused; an unknown key gets nothing; chuangctl feed
 * tail prints the events as JSON lines. A subscriber that never reads
 * does not stop the feed serving others, nor SIGTERM ending it; an event
 * the feed cannot read is an error to the subscriber, never a gap.
 */
#include "client.h"
#include "config.h"
#include "feed.pb-c.h"
#include "feed_client.h"
#include "harness.h"
#include "registry.pb-c.h"
#include "redis_link.h"
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
static zsock_t *s_flooder; /* subscribed, never reads: kept open past the feed's SIGTERM */
static config_t *s_flooder_config;
static security_t *s_flooder_security;

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
    /* The flooder's pipe is still full: SIGTERM must end the feed anyway. */
    int status = harness_stop(s_feed, SIGTERM, 5000);
    zsock_destroy(&s_flooder);
    security_destroy(&s_flooder_security);
    config_destroy(&s_flooder_config);
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

/* Appends events 1..count of topic flood.Tick (public, each an entity
 * whose name is name_size bytes) to stream key, replacing what it held;
 * sequence broken (if not 0) is stored as bytes that are no event. */
static void s_fill_stream(const char *key, int count, size_t name_size, int broken)
{
    redisContext *redis = redis_link_connect(harness_get("CHUANG_TEST_REDIS_URL"), 3);
    assert_non_null(redis);
    freeReplyObject(redisCommand(redis, "DEL %s", key));
    char *name = malloc(name_size + 1);
    memset(name, 'x', name_size);
    name[name_size] = 0;
    Chuang__Registry__Entity entity = CHUANG__REGISTRY__ENTITY__INIT;
    entity.name = name;
    size_t payload_size = chuang__registry__entity__get_packed_size(&entity);
    uint8_t *payload = malloc(payload_size);
    chuang__registry__entity__pack(&entity, payload);
    size_t size_max = payload_size + 256;
    uint8_t *packed = malloc(size_max);
    for (int i = 1; i <= count; i++) {
        Chuang__Event event = CHUANG__EVENT__INIT;
        char id[32];
        snprintf(id, sizeof id, "flood-%d", i);
        event.id = id;
        event.sequence = i;
        event.type = "flood.Tick";
        event.visibility = CHUANG__VISIBILITY__VISIBILITY_PUBLIC;
        event.payload_type = "chuang.registry.Entity";
        event.payload.data = payload;
        event.payload.len = payload_size;
        size_t size = chuang__event__pack(&event, packed);
        if (i == broken)
            size = (size_t)snprintf((char *)packed, size_max, "\xff\xff\xff not an event");
        redisAppendCommand(redis, "XADD %s %d-0 event %b", key, i, packed, size);
    }
    for (int i = 1; i <= count; i++) {
        redisReply *reply = NULL;
        assert_int_equal(redisGetReply(redis, (void **)&reply), REDIS_OK);
        assert_int_equal(reply->type, REDIS_REPLY_STRING);
        freeReplyObject(reply);
    }
    free(name);
    free(payload);
    free(packed);
    redisFree(redis);
}

static void test_a_subscriber_that_never_reads_stops_nobody(void **state)
{
    (void)state;
    /* 40 MB of events, far more than the pipes and TCP buffers hold. */
    s_fill_stream("feedtest:flood:events", 5000, 8192, 0);
    s_flooder_security = s_subscriber("press", &s_flooder_config);
    s_flooder = zsock_new(ZMQ_DEALER);
    zsock_set_rcvhwm(s_flooder, 1);
    zsock_set_rcvbuf(s_flooder, 4096);
    security_client_to(s_flooder_security, s_flooder, s_feed_public);
    assert_int_equal(zsock_connect(s_flooder, "%s", s_feed_endpoint), 0);
    Chuang__Feed__Subscribe subscribe = CHUANG__FEED__SUBSCRIBE__INIT;
    subscribe.stream = "flood";
    subscribe.credit = 100000;
    uint8_t body[256];
    size_t size = chuang__feed__subscribe__pack(&subscribe, body);
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "SUBSCRIBE");
    zmsg_addmem(msg, body, size);
    assert_int_equal(zmsg_send(&msg, s_flooder), 0);

    /* Give the feed time to fill the flooder's pipe (it says so). */
    char path[600];
    snprintf(path, sizeof path, "%s/feed.log", harness_dir());
    for (int i = 0; i < 100 && harness_sh("grep -q 'subscriber does not read' '%s'", path) != 0;
         i++)
        zclock_sleep(100);

    /* Another subscriber reads the same stream whole, in order... */
    config_t *press_config;
    security_t *press = s_subscriber("press", &press_config);
    feed_client_t *feed = feed_client_new(s_feed_endpoint, press, s_feed_public, "flood", 0, "");
    Chuang__Reply *refusal = NULL;
    for (int i = 1; i <= 5000; i++) {
        Chuang__Event *event = feed_client_next(feed, 15000, &refusal);
        assert_non_null(event);
        assert_int_equal(event->sequence, i);
        chuang__event__free_unpacked(event, NULL);
    }
    feed_client_destroy(&feed);

    /* ...and a live registration reaches a department meanwhile. */
    client_t *client = client_new(s_endpoint, s_plain);
    client_set_identity(client, "330106", "officer-1", "officer");
    config_t *city_config;
    security_t *city = s_subscriber("city", &city_config);
    char *credit_code = registry_fixture_register(client, "龙井");
    feed = feed_client_new(s_feed_endpoint, city, s_feed_public, "registry", 0,
                           "registry.EntityRegistered");
    bool seen = false;
    for (Chuang__Event *event; !seen && (event = feed_client_next(feed, 15000, &refusal));) {
        Chuang__Registry__Entity *entity = s_entity(event);
        seen = streq(entity->credit_code, credit_code);
        chuang__registry__entity__free_unpacked(entity, NULL);
        chuang__event__free_unpacked(event, NULL);
    }
    assert_true(seen);
    feed_client_destroy(&feed);
    /* The test meant something only if the flooder's pipe was full. */
    assert_int_equal(harness_sh("grep -q 'subscriber does not read' '%s'", path), 0);
    free(credit_code);
    client_destroy(&client);
    security_destroy(&press);
    security_destroy(&city);
    config_destroy(&press_config);
    config_destroy(&city_config);
}

static void test_an_unreadable_event_is_an_error_not_a_gap(void **state)
{
    (void)state;
    s_fill_stream("feedtest:broken:events", 3, 16, 2);
    config_t *press_config;
    security_t *press = s_subscriber("press", &press_config);
    for (int round = 0; round < 2; round++) {
        /* Subscribing again after the error gets the same error. */
        feed_client_t *feed = feed_client_new(s_feed_endpoint, press, s_feed_public, "broken",
                                              round == 0 ? 0 : 1, "");
        Chuang__Reply *refusal = NULL;
        Chuang__Event *event = NULL;
        if (round == 0) {
            event = feed_client_next(feed, 15000, &refusal);
            assert_non_null(event);
            assert_int_equal(event->sequence, 1);
            chuang__event__free_unpacked(event, NULL);
        }
        event = feed_client_next(feed, 15000, &refusal);
        assert_null(event);
        assert_non_null(refusal);
        assert_int_equal(refusal->status, CHUANG__STATUS__INTERNAL);
        assert_string_equal(refusal->message, "event 2 cannot be served");
        assert_int_equal(feed_client_cursor(feed), 1);
        chuang__reply__free_unpacked(refusal, NULL);
        feed_client_destroy(&feed);
    }
    security_destroy(&press);
    config_destroy(&press_config);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subscribers_see_what_they_may_in_order),
        cmocka_unit_test(test_a_subscriber_that_never_reads_stops_nobody),
        cmocka_unit_test(test_an_unreadable_event_is_an_error_not_a_gap),
    };
    return cmocka_run_group_tests_name("feed", tests, s_setup, s_teardown);
}
