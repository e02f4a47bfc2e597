/*
 * test_notify.c - the notify service end to end: registry events through the
 * relay and a consumer group become inbox messages, e-mails to a real SMTP
 * server and signed webhooks to a real HTTP receiver (services/notify/
 * test_receivers.py). A receiver that fails three times gets the delivery
 * once, on the fourth attempt; one that always fails ends in the dead
 * letters and a replay delivers it once it is fixed; an emptied Redis queue
 * loses nothing and sends nothing twice; bad input is refused by field; an
 * unknown template variable is a recorded failure that stops nothing.
 */
#include "channel.h"
#include "client.h"
#include "config.h"
#include "db.h"
#include "harness.h"
#include "notify.pb-c.h"
#include "redis_link.h"
#include "registry.pb-c.h"
#include "registry_fixture.h"
#include "security.h"

#include <czmq.h>
#include <libpq-fe.h>
#include <jansson.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sys/wait.h>

#define REGISTRY  CHUANG_BUILD_DIR "/services/registry/chuang-registry"
#define NOTIFY    CHUANG_BUILD_DIR "/services/notify/chuang-notify"
#define BROKER    CHUANG_BUILD_DIR "/services/broker/chuang-broker"
#define APPLICANT "11010519491231002X"
#define LEGAL_REP "330106199003071236"
#define SECRET    "a-webhook-secret-of-length"
#define QUEUE     "ntest:notify:deliveries:webhook"

static char s_endpoint[64];
static char s_notify_db[512];
static pid_t s_broker, s_registry, s_notify;
static harness_receivers_t s_receivers;
static config_t *s_config;
static security_t *s_plain;
static client_t *s_officer;

/* notify's settings: brokers, database, Redis and SMTP (set by s_setup),
 * then the fixed ones. */
static char *s_notify_env[] = {NULL,
                               NULL,
                               NULL,
                               NULL,
                               "CHUANG_SECURITY_PLAIN=yes",
                               "CHUANG_REDIS_PREFIX=ntest:notify",
                               "CHUANG_CONSUME_REGISTRY_STREAM=ntest:registry:events",
                               "CHUANG_NOTIFY_MAX_ATTEMPTS=4",
                               "CHUANG_NOTIFY_BACKOFF_MS=150",
                               "CHUANG_NOTIFY_TIMEOUT_MS=3000",
                               "CHUANG_NOTIFY_LEASE_MS=6000",
                               "CHUANG_NOTIFY_WEBHOOK_ALLOW_HTTP=yes",
                               "CHUANG_NOTIFY_WEBHOOK_ALLOW_HOSTS=127.0.0.1",
                               "CHUANG_SERVICE_TICK_MS=100",
                               NULL};

static pid_t s_start_notify(const char *name)
{
    return harness_spawn(name, NOTIFY, (const char *const *)s_notify_env);
}

static int s_setup(void **state)
{
    (void)state;
    if (harness_init("notify") != 0 || harness_recipient_key() != 0 ||
        harness_receivers_start(&s_receivers) != 0)
        return -1;
    const char *url = harness_service_db("notify", "registry");
    if (!url)
        return -1;
    char *registry_db = zsys_sprintf("CHUANG_DB_URL=%s", url);
    url = harness_service_db("notify", "notify");
    if (!url)
        return -1;
    snprintf(s_notify_db, sizeof s_notify_db, "%s", url);
    char *notify_db = zsys_sprintf("CHUANG_DB_URL=%s", s_notify_db);
    snprintf(s_endpoint, sizeof s_endpoint, "tcp://127.0.0.1:%d", harness_free_port());
    char *bind = zsys_sprintf("CHUANG_BROKER_ENDPOINT=%s", s_endpoint);
    char *brokers = zsys_sprintf("CHUANG_BROKERS=%s", s_endpoint);
    char *redis = zsys_sprintf("CHUANG_REDIS_URL=%s", harness_get("CHUANG_TEST_REDIS_URL"));
    char *smtp = zsys_sprintf("CHUANG_NOTIFY_SMTP_URL=smtp://127.0.0.1:%d", s_receivers.smtp_port);
    const char *broker_env[] = {bind, "CHUANG_SECURITY_PLAIN=yes", NULL};
    const char *registry_env[] = {brokers,
                                  registry_db,
                                  redis,
                                  "CHUANG_SECURITY_PLAIN=yes",
                                  "CHUANG_REDIS_PREFIX=ntest:registry",
                                  NULL};
    s_notify_env[0] = strdup(brokers);
    s_notify_env[1] = notify_db;
    s_notify_env[2] = strdup(redis);
    s_notify_env[3] = smtp;
    s_broker = harness_spawn("broker", BROKER, broker_env);
    s_registry = harness_spawn("registry", REGISTRY, registry_env);
    s_notify = s_start_notify("notify");
    zstr_free(&registry_db);
    zstr_free(&bind);
    zstr_free(&brokers);
    zstr_free(&redis);
    s_config = config_new(NULL);
    config_set(s_config, "security.plain", "yes");
    s_plain = security_new(s_config);
    s_officer = client_new(s_endpoint, s_plain);
    client_set_identity(s_officer, "330106", "officer-1", "officer");
    if (harness_wait_service(s_endpoint, "registry", 20000) != 0)
        return -1;
    return harness_wait_service(s_endpoint, "notify", 20000);
}

static int s_teardown(void **state)
{
    (void)state;
    client_destroy(&s_officer);
    int status = harness_stop(s_notify, SIGTERM, 5000);
    harness_stop(s_registry, SIGTERM, 5000);
    harness_stop(s_broker, SIGTERM, 5000);
    harness_receivers_stop(&s_receivers);
    for (int i = 0; i < 4; i++)
        zstr_free(&s_notify_env[i]);
    security_destroy(&s_plain);
    config_destroy(&s_config);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static Chuang__Status s_set_recipient(const char *id, const char *email, const char *path,
                                      Chuang__Reply **reply_p)
{
    Chuang__Notify__Recipient recipient = CHUANG__NOTIFY__RECIPIENT__INIT;
    char url[128] = "";
    if (path)
        snprintf(url, sizeof url, "http://127.0.0.1:%d%s", s_receivers.http_port, path);
    recipient.id = (char *)id;
    recipient.email = (char *)(email ? email : "");
    recipient.webhook_url = url;
    recipient.webhook_secret = path ? SECRET : "";
    Chuang__Reply *reply = client_call(s_officer, "notify", "SetRecipient", &recipient.base, NULL);
    Chuang__Status status = reply->status;
    if (reply_p)
        *reply_p = reply;
    else
        chuang__reply__free_unpacked(reply, NULL);
    return status;
}

/* Files in the receivers' folder whose names start with prefix. */
static int s_files(const char *prefix)
{
    int count = 0;
    zdir_t *dir = zdir_new(s_receivers.dir, NULL);
    zfile_t **files = dir ? zdir_flatten(dir) : NULL;
    for (size_t i = 0; files && files[i]; i++) {
        const char *name = strrchr(zfile_filename(files[i], NULL), '/');
        count += name && strncmp(name + 1, prefix, strlen(prefix)) == 0 &&
                 strstr(name, ".json") == name + strlen(name) - 5;
        count += name && strncmp(name + 1, prefix, strlen(prefix)) == 0 &&
                 strstr(name, ".txt") == name + strlen(name) - 4;
    }
    zdir_flatten_free(&files);
    zdir_destroy(&dir);
    return count;
}

static Chuang__Notify__DeliveryList *s_deliveries(const char *status, const char *recipient)
{
    Chuang__Notify__DeliveriesRequest request = CHUANG__NOTIFY__DELIVERIES_REQUEST__INIT;
    request.status = (char *)status;
    request.recipient = (char *)recipient;
    request.limit = 100;
    Chuang__Reply *reply = client_call(s_officer, "notify", "ListDeliveries", &request.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Notify__DeliveryList *list =
        chuang__notify__delivery_list__unpack(NULL, reply->payload.len, reply->payload.data);
    chuang__reply__free_unpacked(reply, NULL);
    return list;
}

/* Waits (up to 30 s) for the recipient's webhook delivery of event_type to
 * reach status; returns its id (caller frees) or NULL. */
static char *s_wait_delivery(const char *recipient, const char *event_type, const char *channel,
                             const char *status, int *attempts)
{
    for (int i = 0; i < 300; i++) {
        Chuang__Notify__DeliveryList *list = s_deliveries(status, recipient);
        char *id = NULL;
        for (size_t d = 0; d < list->n_deliveries && !id; d++)
            if (streq(list->deliveries[d]->event_type, event_type) &&
                streq(list->deliveries[d]->channel, channel)) {
                id = strdup(list->deliveries[d]->id);
                if (attempts)
                    *attempts = list->deliveries[d]->attempts;
            }
        chuang__notify__delivery_list__free_unpacked(list, NULL);
        if (id)
            return id;
        zclock_sleep(100);
    }
    return NULL;
}

/* A client that is recipient: the person with that ID number, through a
 * (plain) gateway, or the officer of that name. Caller destroys it. */
static client_t *s_as_recipient(const char *recipient)
{
    client_t *client = client_new(s_endpoint, s_plain);
    bool person = strlen(recipient) == 18 && strspn(recipient, "0123456789X") == 18;
    client_set_identity(client, "330106", recipient, person ? "applicant" : "officer");
    if (person)
        client_set_person(client, recipient);
    return client;
}

static void test_events_reach_inbox_email_and_signed_webhook(void **state)
{
    (void)state;
    assert_int_equal(s_set_recipient(APPLICANT, "zhangsan@example.com", "/ok", NULL),
                     CHUANG__STATUS__OK);
    assert_int_equal(s_set_recipient(LEGAL_REP, NULL, "/fail3", NULL), CHUANG__STATUS__OK);
    char *code = registry_fixture_register(s_officer, "飞来");

    /* The applicant: an inbox message in Chinese, an e-mail, a webhook. */
    char *webhook = s_wait_delivery(APPLICANT, "registry.NameReserved", "webhook", "sent", NULL);
    assert_non_null(webhook);
    char *email = s_wait_delivery(APPLICANT, "registry.NameReserved", "email", "sent", NULL);
    assert_non_null(email);
    Chuang__Notify__InboxRequest inbox = CHUANG__NOTIFY__INBOX_REQUEST__INIT;
    inbox.recipient = APPLICANT;
    /* Read by the applicant alone: not even an officer reads it. */
    Chuang__Reply *reply = client_call(s_officer, "notify", "ListInbox", &inbox.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__PERMISSION_DENIED);
    chuang__reply__free_unpacked(reply, NULL);
    client_t *applicant = s_as_recipient(APPLICANT);
    reply = client_call(applicant, "notify", "ListInbox", &inbox.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Notify__InboxPage *page =
        chuang__notify__inbox_page__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_int_equal(page->n_messages, 1);
    assert_int_equal(page->unread, 1);
    assert_string_equal(page->messages[0]->subject, "名称已预留：杭州飞来网络科技有限公司");
    int64_t message_id = page->messages[0]->id;
    chuang__notify__inbox_page__free_unpacked(page, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    Chuang__Notify__MarkReadRequest read = CHUANG__NOTIFY__MARK_READ_REQUEST__INIT;
    read.recipient = APPLICANT;
    read.message_id = message_id;
    reply = client_call(applicant, "notify", "MarkRead", &read.base, NULL);
    client_destroy(&applicant);
    page = chuang__notify__inbox_page__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_int_equal(page->unread, 0);
    chuang__notify__inbox_page__free_unpacked(page, NULL);
    chuang__reply__free_unpacked(reply, NULL);

    /* The e-mail arrived once; the webhook once, with a signature that verifies. */
    char prefix[128];
    snprintf(prefix, sizeof prefix, "mail-%s", email);
    assert_int_equal(s_files(prefix), 1);
    snprintf(prefix, sizeof prefix, "http-%s", webhook);
    assert_int_equal(s_files(prefix), 1);
    char path[800];
    snprintf(path, sizeof path, "%s/http-%s-", s_receivers.dir, webhook);
    zdir_t *dir = zdir_new(s_receivers.dir, NULL);
    zfile_t **files = zdir_flatten(dir);
    json_t *record = NULL;
    for (size_t i = 0; files[i] && !record; i++)
        if (strncmp(zfile_filename(files[i], NULL), path, strlen(path)) == 0 &&
            strstr(zfile_filename(files[i], NULL), ".json"))
            record = json_load_file(zfile_filename(files[i], NULL), 0, NULL);
    zdir_flatten_free(&files);
    zdir_destroy(&dir);
    assert_non_null(record);
    json_t *headers = json_object_get(record, "headers");
    const char *body = json_string_value(json_object_get(record, "body"));
    /* The webhook holds no ID number: not the event's, not the recipient's
     * (notify names people by a keyed reference). */
    assert_non_null(strstr(body, "杭州飞来网络科技有限公司"));
    assert_null(strstr(body, APPLICANT));
    json_t *sent = json_loads(body, 0, NULL);
    const char *recipient = json_string_value(json_object_get(sent, "recipient"));
    assert_true(recipient && recipient[0] == 'p' && strlen(recipient) == 33);
    json_decref(sent);
    /* Nor does any table of notify's. */
    PGconn *db = PQconnectdb(s_notify_db);
    PGresult *res =
        PQexec(db, "SELECT (SELECT count(*) FROM deliveries WHERE recipient ~"
                   " '^[0-9]{17}[0-9X]$' OR event_json ~ '[0-9]{17}[0-9X]')"
                   " + (SELECT count(*) FROM inbox WHERE recipient ~ '^[0-9]{17}[0-9X]$')"
                   " + (SELECT count(*) FROM recipients WHERE id ~ '^[0-9]{17}[0-9X]$')");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(res, 0, 0), "0");
    PQclear(res);
    PQfinish(db);
    char expected[80];
    channel_signature(SECRET, json_string_value(json_object_get(headers, "X-Chuang-Timestamp")),
                      body, expected, sizeof expected);
    assert_string_equal(json_string_value(json_object_get(headers, "X-Chuang-Signature")),
                        expected);
    assert_non_null(strstr(body, "registry.NameReserved"));
    json_decref(record);

    /* The legal representative's receiver fails three times: sent on the fourth. */
    int attempts = 0;
    char *fail3 =
        s_wait_delivery(LEGAL_REP, "registry.EntityRegistered", "webhook", "sent", &attempts);
    assert_non_null(fail3);
    assert_int_equal(attempts, 4);
    snprintf(prefix, sizeof prefix, "http-%s", fail3);
    assert_int_equal(s_files(prefix), 4);
    free(fail3);
    free(webhook);
    free(email);
    free(code);
}

static void test_dead_letter_then_replay_once_fixed(void **state)
{
    (void)state;
    assert_int_equal(s_set_recipient(LEGAL_REP, NULL, "/always503", NULL), CHUANG__STATUS__OK);
    char *code = registry_fixture_register(s_officer, "吴山");
    /* Four attempts, then the dead letters, with the reason. */
    char *dead = NULL;
    for (int i = 0; i < 300 && !dead; i++) {
        Chuang__Notify__DeliveryList *list = s_deliveries("dead", LEGAL_REP);
        for (size_t d = 0; d < list->n_deliveries && !dead; d++)
            if (list->deliveries[d]->attempts == 4) {
                assert_non_null(strstr(list->deliveries[d]->last_error, "503"));
                dead = strdup(list->deliveries[d]->id);
            }
        chuang__notify__delivery_list__free_unpacked(list, NULL);
        if (!dead)
            zclock_sleep(100);
    }
    assert_non_null(dead);

    /* Fixed, replayed: delivered once more, and successfully. */
    assert_int_equal(s_set_recipient(LEGAL_REP, NULL, "/ok", NULL), CHUANG__STATUS__OK);
    Chuang__Notify__ReplayRequest replay = CHUANG__NOTIFY__REPLAY_REQUEST__INIT;
    replay.delivery_id = dead;
    Chuang__Reply *reply = client_call(s_officer, "notify", "ReplayDelivery", &replay.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    chuang__reply__free_unpacked(reply, NULL);
    bool sent = false;
    for (int i = 0; i < 300 && !sent; i++) {
        Chuang__Notify__DeliveryList *list = s_deliveries("sent", LEGAL_REP);
        for (size_t d = 0; d < list->n_deliveries; d++)
            sent |= streq(list->deliveries[d]->id, dead);
        chuang__notify__delivery_list__free_unpacked(list, NULL);
        if (!sent)
            zclock_sleep(100);
    }
    assert_true(sent);
    char prefix[128];
    snprintf(prefix, sizeof prefix, "http-%s", dead);
    assert_int_equal(s_files(prefix), 5); /* four refusals, one success */
    free(dead);
    free(code);
}

/* The ids of the recipient's sent webhook deliveries, newest first. */
static int s_sent_webhooks(const char *recipient, char *newest, size_t size)
{
    Chuang__Notify__DeliveryList *list = s_deliveries("sent", recipient);
    int count = 0;
    for (size_t d = 0; d < list->n_deliveries; d++)
        if (streq(list->deliveries[d]->channel, "webhook") && count++ == 0 && newest)
            snprintf(newest, size, "%s", list->deliveries[d]->id);
    chuang__notify__delivery_list__free_unpacked(list, NULL);
    return count;
}

static void test_emptied_queue_loses_and_repeats_nothing(void **state)
{
    (void)state;
    int before = s_sent_webhooks(LEGAL_REP, NULL, 0);
    redisContext *redis = redis_link_connect(harness_get("CHUANG_TEST_REDIS_URL"), 3);
    char *code = registry_fixture_register(s_officer, "南屏");
    for (int i = 0; i < 10; i++) {
        freeReplyObject(redisCommand(redis, "DEL %s", QUEUE));
        zclock_sleep(50);
    }
    char newest[64] = "";
    for (int i = 0; i < 300 && s_sent_webhooks(LEGAL_REP, newest, sizeof newest) == before; i++)
        zclock_sleep(100);
    assert_int_equal(s_sent_webhooks(LEGAL_REP, newest, sizeof newest), before + 1);
    char prefix[128];
    snprintf(prefix, sizeof prefix, "http-%s", newest);
    zclock_sleep(2500); /* a rebuild cycle: nothing is sent again */
    assert_int_equal(s_files(prefix), 1);

    /* A pending delivery that Redis lost long ago (created and due an hour
     * back, so no look at recent rows finds it) is found by the full
     * rebuild and sent, once. */
    PGconn *db = db_connect(s_notify_db, "notify", 3);
    assert_non_null(db);
    char sql[512];
    snprintf(sql, sizeof sql,
             "UPDATE deliveries SET status = 'pending', sent_at = NULL, claimed_until = NULL,"
             " created_at = now() - interval '1 hour', next_attempt_at = now() - interval '1 hour'"
             " WHERE id = '%s'",
             newest);
    assert_int_equal(db_exec(db, "lose a delivery", sql), 0);
    PQfinish(db);
    freeReplyObject(redisCommand(redis, "DEL %s", QUEUE));
    for (int i = 0; i < 300 && s_files(prefix) == 1; i++)
        zclock_sleep(100);
    assert_int_equal(s_files(prefix), 2);
    zclock_sleep(1500);
    assert_int_equal(s_files(prefix), 2);
    free(code);
    redisFree(redis);
}

/* How many sessions of the notify database have sat idle for over half a
 * second inside a transaction that holds a transaction id or a snapshot
 * (the lock holders of db_lock sit idle holding neither). */
static long s_idle_in_transaction(void)
{
    PGconn *admin = PQconnectdb(harness_get("CHUANG_TEST_PG_ADMIN_URL"));
    assert_int_equal(PQstatus(admin), CONNECTION_OK);
    PGresult *res = PQexec(admin, "SELECT count(*) FROM pg_stat_activity WHERE datname = 'notify'"
                                  " AND state LIKE 'idle in transaction%'"
                                  " AND (backend_xid IS NOT NULL OR backend_xmin IS NOT NULL)"
                                  " AND now() - state_change > interval '500 ms'");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    long count = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    PQfinish(admin);
    return count;
}

static void test_no_transaction_spans_a_send_and_a_crash_sends_once_more(void **state)
{
    (void)state;
    assert_int_equal(s_set_recipient(LEGAL_REP, NULL, "/slowfirst", NULL), CHUANG__STATUS__OK);
    char *code = registry_fixture_register(s_officer, "龙井");
    /* The receiver holds the first request for 5 s: the delivery pending
     * whose request it has. */
    char id[64] = "", prefix[128] = "";
    for (int i = 0; i < 300 && !*id; i++) {
        Chuang__Notify__DeliveryList *list = s_deliveries("pending", LEGAL_REP);
        for (size_t d = 0; d < list->n_deliveries && !*id; d++) {
            snprintf(prefix, sizeof prefix, "http-%s", list->deliveries[d]->id);
            if (streq(list->deliveries[d]->channel, "webhook") && s_files(prefix) == 1)
                snprintf(id, sizeof id, "%s", list->deliveries[d]->id);
        }
        chuang__notify__delivery_list__free_unpacked(list, NULL);
        zclock_sleep(100);
    }
    assert_true(*id);
    snprintf(prefix, sizeof prefix, "http-%s", id);
    /* While the message travels, nothing holds a transaction open. */
    zclock_sleep(1000);
    assert_int_equal(s_idle_in_transaction(), 0);
    /* The sender dies before it can record the outcome; another sends it
     * once more when the claim runs out, with the same delivery id. */
    assert_true(WIFSIGNALED(harness_stop(s_notify, SIGKILL, 1000)));
    s_notify = s_start_notify("notify-2");
    assert_int_equal(harness_wait_service(s_endpoint, "notify", 20000), 0);
    bool sent = false;
    for (int i = 0; i < 300 && !sent; i++) {
        Chuang__Notify__DeliveryList *list = s_deliveries("sent", LEGAL_REP);
        for (size_t d = 0; d < list->n_deliveries; d++)
            sent = sent || streq(list->deliveries[d]->id, id);
        chuang__notify__delivery_list__free_unpacked(list, NULL);
        zclock_sleep(100);
    }
    assert_true(sent);
    zclock_sleep(1500); /* nothing more goes out */
    assert_int_equal(s_files(prefix), 2);
    assert_int_equal(s_set_recipient(LEGAL_REP, NULL, "/ok", NULL), CHUANG__STATUS__OK);
    free(code);
}

static void test_bad_input_and_bad_templates_are_clear_failures(void **state)
{
    (void)state;
    Chuang__Reply *reply = NULL;
    assert_int_equal(s_set_recipient("someone", "not an address", NULL, &reply),
                     CHUANG__STATUS__INVALID_ARGUMENT);
    assert_string_equal(reply->violations[0]->field, "email");
    chuang__reply__free_unpacked(reply, NULL);
    Chuang__Notify__Recipient recipient = CHUANG__NOTIFY__RECIPIENT__INIT;
    recipient.id = "someone";
    recipient.webhook_url = "ftp://example.com/x";
    recipient.webhook_secret = SECRET;
    reply = client_call(s_officer, "notify", "SetRecipient", &recipient.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__INVALID_ARGUMENT);
    assert_string_equal(reply->violations[0]->field, "webhook_url");
    chuang__reply__free_unpacked(reply, NULL);

    /* A template naming a field the event lacks: a failed delivery that says
     * which, and the events after it are still handled. */
    PGconn *db = db_connect(s_notify_db, "notify", 3);
    assert_int_equal(db_exec(db, "bad template",
                             "INSERT INTO templates (event_type, language, subject, body)"
                             " VALUES ('registry.ListedAbnormal', 'zh-CN', '{{nope}}', 'x')"),
                     0);
    char *code = registry_fixture_register(s_officer, "玉泉");
    Chuang__Registry__AddToListRequest list = CHUANG__REGISTRY__ADD_TO_LIST_REQUEST__INIT;
    list.credit_code = code;
    list.list = "abnormal";
    list.reason = "未按时公示年报";
    list.authority = "西湖区市场监督管理局";
    reply = client_call(s_officer, "registry", "AddToList", &list.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    chuang__reply__free_unpacked(reply, NULL);
    char *failed = s_wait_delivery(code, "registry.ListedAbnormal", "inbox", "failed", NULL);
    assert_non_null(failed);
    Chuang__Notify__DeliveryList *deliveries = s_deliveries("failed", code);
    assert_string_equal(deliveries->deliveries[0]->last_error, "unknown template variable nope");
    chuang__notify__delivery_list__free_unpacked(deliveries, NULL);

    /* A malformed event (its payload unreadable) is a recorded failure too,
     * and the next registration is still notified. */
    PGconn *registry = db_connect(harness_service_db("notify", "registry"), "registry", 3);
    assert_int_equal(db_exec(registry, "malformed event",
                             "INSERT INTO chuang_outbox (id, agency, type, aggregate_id,"
                             " visibility, payload_type, payload) VALUES (gen_random_uuid(),"
                             " '330106', 'registry.EntityRegistered', 'broken', 2,"
                             " 'chuang.registry.Entity', '\\xffffff'::bytea)"),
                     0);
    PQfinish(registry);
    char *after = registry_fixture_register(s_officer, "虎跑");
    free(s_wait_delivery(after, "registry.EntityRegistered", "inbox", "sent", NULL));
    bool recorded = false;
    deliveries = s_deliveries("failed", "");
    for (size_t d = 0; d < deliveries->n_deliveries; d++)
        recorded |= streq(deliveries->deliveries[d]->last_error, "event payload cannot be read");
    chuang__notify__delivery_list__free_unpacked(deliveries, NULL);
    assert_true(recorded);
    free(after);
    PQfinish(db);
    free(failed);
    free(code);
}

static void test_rate_limit_postpones_without_losing(void **state)
{
    (void)state;
    const char *applicant = "440305198512317893";
    Chuang__Notify__Recipient recipient = CHUANG__NOTIFY__RECIPIENT__INIT;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/ok", s_receivers.http_port);
    recipient.id = (char *)applicant;
    recipient.webhook_url = url;
    recipient.webhook_secret = SECRET;
    recipient.rate_per_minute = 2;
    Chuang__Reply *reply = client_call(s_officer, "notify", "SetRecipient", &recipient.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    chuang__reply__free_unpacked(reply, NULL);
    const char *names[] = {"九里", "云溪", "茅家"};
    for (int i = 0; i < 3; i++)
        free(registry_fixture_register_as(s_officer, names[i], applicant));
    /* Two go at once; the third waits for the minute, pending, not lost. */
    int sent = 0, pending = 0;
    for (int i = 0; i < 100 && sent < 2; i++) {
        sent = s_sent_webhooks(applicant, NULL, 0);
        zclock_sleep(100);
    }
    zclock_sleep(1500);
    Chuang__Notify__DeliveryList *list = s_deliveries("pending", applicant);
    for (size_t d = 0; d < list->n_deliveries; d++)
        pending += streq(list->deliveries[d]->channel, "webhook");
    chuang__notify__delivery_list__free_unpacked(list, NULL);
    assert_int_equal(s_sent_webhooks(applicant, NULL, 0), 2);
    assert_int_equal(pending, 1);
}

static int s_inbox_count(const char *recipient, const char *subject)
{
    Chuang__Notify__InboxRequest request = CHUANG__NOTIFY__INBOX_REQUEST__INIT;
    request.recipient = (char *)recipient;
    request.limit = 100;
    client_t *reader = s_as_recipient(recipient);
    Chuang__Reply *reply = client_call(reader, "notify", "ListInbox", &request.base, NULL);
    client_destroy(&reader);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Notify__InboxPage *page =
        chuang__notify__inbox_page__unpack(NULL, reply->payload.len, reply->payload.data);
    int count = 0;
    for (size_t i = 0; i < page->n_messages; i++)
        count += !subject || streq(page->messages[i]->subject, subject);
    chuang__notify__inbox_page__free_unpacked(page, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    return count;
}

static Chuang__Status s_subscribe(const char *recipient, char *topic, char *category,
                                  const char *region)
{
    Chuang__Notify__SubscribeRequest request = CHUANG__NOTIFY__SUBSCRIBE_REQUEST__INIT;
    request.recipient = (char *)recipient;
    request.n_topics = topic ? 1 : 0;
    request.topics = &topic;
    request.n_categories = category ? 1 : 0;
    request.categories = &category;
    request.region = (char *)region;
    Chuang__Reply *reply = client_call(s_officer, "notify", "Subscribe", &request.base, NULL);
    Chuang__Status status = reply->status;
    chuang__reply__free_unpacked(reply, NULL);
    return status;
}

static void test_bulletins_and_topic_subscribers(void **state)
{
    (void)state;
    /* A county's entrepreneur hears of the city's financing policy; a
     * talent subscriber and another province's do not. */
    assert_int_equal(s_subscribe("founder-330106", NULL, "financing", "330106"),
                     CHUANG__STATUS__OK);
    assert_int_equal(s_subscribe("talent-330106", NULL, "talent", "330106"), CHUANG__STATUS__OK);
    assert_int_equal(s_subscribe("founder-440305", NULL, "financing", "440305"),
                     CHUANG__STATUS__OK);
    assert_int_equal(s_subscribe("nobody", NULL, "gossip", ""), CHUANG__STATUS__INVALID_ARGUMENT);
    char *categories[1] = {"financing"};
    Chuang__Notify__Bulletin bulletin = CHUANG__NOTIFY__BULLETIN__INIT;
    bulletin.title = "创业担保贷款贴息政策";
    bulletin.body = "符合条件的创业者可申请最高 50 万元创业担保贷款并享受贴息。";
    bulletin.n_categories = 1;
    bulletin.categories = categories;
    bulletin.region = "330100";
    client_t *anyone = client_new(s_endpoint, s_plain);
    Chuang__Reply *reply = client_call(anyone, "notify", "PublishBulletin", &bulletin.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__PERMISSION_DENIED);
    chuang__reply__free_unpacked(reply, NULL);
    client_destroy(&anyone);
    reply = client_call(s_officer, "notify", "PublishBulletin", &bulletin.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Notify__BulletinReply *published =
        chuang__notify__bulletin_reply__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_int_equal(published->recipients, 1);
    chuang__notify__bulletin_reply__free_unpacked(published, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    assert_int_equal(s_inbox_count("founder-330106", "创业担保贷款贴息政策"), 1);
    assert_int_equal(s_inbox_count("talent-330106", NULL), 0);
    assert_int_equal(s_inbox_count("founder-440305", NULL), 0);

    /* A department subscribed to registrations hears of each. */
    assert_int_equal(s_subscribe("tax-office", "registry.EntityRegistered", NULL, ""),
                     CHUANG__STATUS__OK);
    free(registry_fixture_register(s_officer, "栖霞"));
    for (int i = 0; i < 100 && s_inbox_count("tax-office", NULL) == 0; i++)
        zclock_sleep(100);
    assert_int_equal(s_inbox_count("tax-office", "营业执照已核发：杭州栖霞网络科技有限公司"), 1);

    /* An officer of the role the objection is routed to is told of it. */
    Chuang__Notify__Recipient officer = CHUANG__NOTIFY__RECIPIENT__INIT;
    char *roles[1] = {"registry-officer"};
    officer.id = "officer-wang";
    officer.n_roles = 1;
    officer.roles = roles;
    reply = client_call(s_officer, "notify", "SetRecipient", &officer.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    chuang__reply__free_unpacked(reply, NULL);
    char *code = registry_fixture_register(s_officer, "云栖");
    Chuang__Registry__DeregistrationRequest apply = CHUANG__REGISTRY__DEREGISTRATION_REQUEST__INIT;
    apply.credit_code = code;
    reply = client_call(s_officer, "registry", "ApplyDeregistration", &apply.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    chuang__reply__free_unpacked(reply, NULL);
    Chuang__Registry__ObjectionRequest objection = CHUANG__REGISTRY__OBJECTION_REQUEST__INIT;
    objection.credit_code = code;
    objection.objector = "某供应商";
    objection.reason = "货款未结清";
    reply = client_call(s_officer, "registry", "ObjectToDeregistration", &objection.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    chuang__reply__free_unpacked(reply, NULL);
    char subject[128];
    snprintf(subject, sizeof subject, "简易注销收到异议：%s", code);
    for (int i = 0; i < 100 && s_inbox_count("officer-wang", subject) == 0; i++)
        zclock_sleep(100);
    assert_int_equal(s_inbox_count("officer-wang", subject), 1);
    free(code);
}

/* One page of ListInbox (as LEGAL_REP) or ListDeliveries (as the
 * officer): the ids shown are appended to ids (count in *n), the next
 * token returned (caller frees; "" on the last page), or NULL when the
 * call was refused with status (then *status holds it). */
static char *s_page(bool inbox, int limit, const char *token, char ids[][40], size_t *n,
                    Chuang__Status *status)
{
    Chuang__Reply *reply;
    if (inbox) {
        Chuang__Notify__InboxRequest request = CHUANG__NOTIFY__INBOX_REQUEST__INIT;
        request.recipient = LEGAL_REP;
        request.limit = limit;
        request.page_token = (char *)token;
        client_t *reader = s_as_recipient(LEGAL_REP);
        reply = client_call(reader, "notify", "ListInbox", &request.base, NULL);
        client_destroy(&reader);
    } else {
        Chuang__Notify__DeliveriesRequest request = CHUANG__NOTIFY__DELIVERIES_REQUEST__INIT;
        request.limit = limit;
        request.page_token = (char *)token;
        reply = client_call(s_officer, "notify", "ListDeliveries", &request.base, NULL);
    }
    *status = reply->status;
    char *next = NULL;
    if (reply->status == CHUANG__STATUS__OK && inbox) {
        Chuang__Notify__InboxPage *page =
            chuang__notify__inbox_page__unpack(NULL, reply->payload.len, reply->payload.data);
        for (size_t i = 0; i < page->n_messages; i++)
            snprintf(ids[(*n)++], 40, "%" PRId64, page->messages[i]->id);
        next = strdup(page->next_page_token);
        chuang__notify__inbox_page__free_unpacked(page, NULL);
    } else if (reply->status == CHUANG__STATUS__OK) {
        Chuang__Notify__DeliveryList *list =
            chuang__notify__delivery_list__unpack(NULL, reply->payload.len, reply->payload.data);
        for (size_t i = 0; i < list->n_deliveries; i++) {
            assert_true(list->deliveries[i]->created_ms > 0);
            snprintf(ids[(*n)++], 40, "%s", list->deliveries[i]->id);
        }
        next = strdup(list->next_page_token);
        chuang__notify__delivery_list__free_unpacked(list, NULL);
    } else if (reply->n_violations == 1) {
        assert_string_equal(reply->violations[0]->field, "page_token");
    }
    chuang__reply__free_unpacked(reply, NULL);
    return next;
}

static void test_lists_go_page_by_page(void **state)
{
    (void)state;
    for (int list = 0; list < 2; list++) {
        bool inbox = list == 0;
        enum { MAX = 100 };
        char all[MAX][40], paged[MAX][40];
        size_t n_all = 0, n_paged = 0;
        Chuang__Status status;
        char *next = s_page(inbox, MAX, "", all, &n_all, &status);
        assert_int_equal(status, CHUANG__STATUS__OK);
        assert_true(n_all >= 3 && n_all < MAX);
        assert_string_equal(next, "");
        free(next);
        /* Two at a time: the same rows in the same order, each once, and
         * the last page says there is no more. */
        char *token = strdup("");
        int pages = 0;
        do {
            next = s_page(inbox, 2, token, paged, &n_paged, &status);
            assert_int_equal(status, CHUANG__STATUS__OK);
            free(token);
            token = next;
            pages++;
        } while (*token && n_paged + 2 <= MAX);
        free(token);
        assert_int_equal(n_paged, n_all);
        for (size_t i = 0; i < n_all; i++)
            assert_string_equal(paged[i], all[i]);
        assert_int_equal(pages, (int)(n_all + 1) / 2);
    }
    /* A token that no list gave, or one of the other list, is refused. */
    char ids[4][40];
    size_t n = 0;
    Chuang__Status status;
    char *inbox_token = s_page(true, 1, "", ids, &n, &status);
    assert_true(*inbox_token);
    assert_null(s_page(false, 1, inbox_token, ids, &n, &status));
    assert_int_equal(status, CHUANG__STATUS__INVALID_ARGUMENT);
    assert_null(s_page(true, 1, "bm90IGEgdG9rZW4", ids, &n, &status));
    assert_int_equal(status, CHUANG__STATUS__INVALID_ARGUMENT);
    assert_null(s_page(true, 1, "!!", ids, &n, &status));
    assert_int_equal(status, CHUANG__STATUS__INVALID_ARGUMENT);
    free(inbox_token);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_reach_inbox_email_and_signed_webhook),
        cmocka_unit_test(test_dead_letter_then_replay_once_fixed),
        cmocka_unit_test(test_emptied_queue_loses_and_repeats_nothing),
        cmocka_unit_test(test_no_transaction_spans_a_send_and_a_crash_sends_once_more),
        cmocka_unit_test(test_bad_input_and_bad_templates_are_clear_failures),
        cmocka_unit_test(test_rate_limit_postpones_without_losing),
        cmocka_unit_test(test_bulletins_and_topic_subscribers),
        cmocka_unit_test(test_lists_go_page_by_page),
    };
    return cmocka_run_group_tests_name("notify", tests, s_setup, s_teardown);
}
