/*
 * finance_fixture.c - see finance_fixture.h.
 */
#include "finance_fixture.h"
#include "db.h"
#include "harness.h"
#include "notify.pb-c.h"
#include "redis_link.h"

#include <czmq.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sys/wait.h>

#define BROKER    CHUANG_BUILD_DIR "/services/broker/chuang-broker"
#define FINANCE   CHUANG_BUILD_DIR "/services/finance/chuang-finance"
#define REGISTRY  CHUANG_BUILD_DIR "/services/registry/chuang-registry"
#define NOTIFY    CHUANG_BUILD_DIR "/services/notify/chuang-notify"
#define INCUBATOR CHUANG_BUILD_DIR "/services/incubator/chuang-incubator"

/* Spawns service's binary with the deployment's settings and extra (NULL
 * or one more "NAME=value") on its own database of test. Returns its pid,
 * or -1. */
static pid_t s_spawn(finance_fixture_t *f, const char *test, const char *service,
                     const char *binary, const char *const *extra)
{
    const char *url = harness_service_db(test, service);
    if (!url)
        return -1;
    if (streq(service, "finance"))
        snprintf(f->db_url, sizeof f->db_url, "%s", url);
    char *brokers = zsys_sprintf("CHUANG_BROKERS=%s", f->endpoint);
    char *db = zsys_sprintf("CHUANG_DB_URL=%s", url);
    char *redis = zsys_sprintf("CHUANG_REDIS_URL=%s", harness_get("CHUANG_TEST_REDIS_URL"));
    char *prefix = zsys_sprintf("CHUANG_REDIS_PREFIX=%s:%s", f->prefix, service);
    char *registry = zsys_sprintf("CHUANG_CONSUME_REGISTRY_STREAM=%s:registry:events", f->prefix);
    char *finance = zsys_sprintf("CHUANG_CONSUME_FINANCE_STREAM=%s:finance:events", f->prefix);
    char *incubator =
        zsys_sprintf("CHUANG_CONSUME_INCUBATOR_STREAM=%s:incubator:events", f->prefix);
    const char *env[13] = {brokers,
                           db,
                           redis,
                           prefix,
                           registry,
                           finance,
                           incubator,
                           "CHUANG_SECURITY_PLAIN=yes",
                           "CHUANG_SERVICE_TICK_MS=200"};
    size_t n = 9;
    for (size_t i = 0; extra && extra[i] && n < 12; i++)
        env[n++] = extra[i];
    env[n] = NULL;
    pid_t pid = harness_spawn(service, binary, env);
    zstr_free(&brokers);
    zstr_free(&db);
    zstr_free(&redis);
    zstr_free(&prefix);
    zstr_free(&registry);
    zstr_free(&finance);
    zstr_free(&incubator);
    return pid;
}

int finance_fixture_start(finance_fixture_t *f, const char *test, const char *prefix)
{
    memset(f, 0, sizeof *f);
    snprintf(f->prefix, sizeof f->prefix, "%s", prefix);
    snprintf(f->test, sizeof f->test, "%s", test);
    if (harness_init(test) != 0 || harness_recipient_key() != 0)
        return -1;
    snprintf(f->endpoint, sizeof f->endpoint, "tcp://127.0.0.1:%d", harness_free_port());
    char *bind = zsys_sprintf("CHUANG_BROKER_ENDPOINT=%s", f->endpoint);
    const char *broker_env[] = {bind, "CHUANG_SECURITY_PLAIN=yes", NULL};
    f->broker = harness_spawn("broker", BROKER, broker_env);
    zstr_free(&bind);
    f->finance = s_spawn(f, test, "finance", FINANCE, NULL);
    f->registry = s_spawn(f, test, "registry", REGISTRY, NULL);
    f->notify = s_spawn(f, test, "notify", NOTIFY, NULL);
    if (f->broker <= 0 || f->finance <= 0 || f->registry <= 0 || f->notify <= 0)
        return -1;
    f->config = config_new(NULL);
    config_set(f->config, "security.plain", "yes");
    f->security = security_new(f->config);
    if (!f->security || harness_wait_service(f->endpoint, "registry", 20000) != 0 ||
        harness_wait_service(f->endpoint, "notify", 20000) != 0)
        return -1;
    return harness_wait_service(f->endpoint, "finance", 20000);
}

int finance_fixture_start_incubator(finance_fixture_t *f)
{
    f->incubator = s_spawn(f, f->test, "incubator", INCUBATOR, NULL);
    if (f->incubator <= 0)
        return -1;
    return harness_wait_service(f->endpoint, "incubator", 20000);
}

int finance_fixture_restart_finance(finance_fixture_t *f)
{
    harness_stop(f->finance, SIGKILL, 5000);
    f->finance = s_spawn(f, f->test, "finance", FINANCE, NULL);
    if (f->finance <= 0)
        return -1;
    return harness_wait_service(f->endpoint, "finance", 20000);
}

client_t *finance_fixture_client(finance_fixture_t *f, const char *agency, const char *actor,
                                 const char *roles)
{
    client_t *client = client_new(f->endpoint, f->security);
    assert_non_null(client);
    client_set_identity(client, agency, actor, roles);
    return client;
}

int finance_fixture_stop(finance_fixture_t *f)
{
    int status = f->finance > 0 ? harness_stop(f->finance, SIGTERM, 5000) : -1;
    if (f->registry > 0)
        harness_stop(f->registry, SIGTERM, 5000);
    if (f->notify > 0)
        harness_stop(f->notify, SIGTERM, 5000);
    if (f->incubator > 0)
        harness_stop(f->incubator, SIGTERM, 5000);
    if (f->broker > 0)
        harness_stop(f->broker, SIGTERM, 5000);
    security_destroy(&f->security);
    config_destroy(&f->config);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

Chuang__Reply *finance_fixture_call(client_t *client, const char *method,
                                    const ProtobufCMessage *input)
{
    Chuang__Reply *reply = client_call(client, "finance", method, input, NULL);
    if (!reply)
        fail_msg("finance %s: no reply", method);
    return reply;
}

Chuang__Status finance_fixture_status(client_t *client, const char *method,
                                      const ProtobufCMessage *input)
{
    Chuang__Reply *reply = finance_fixture_call(client, method, input);
    Chuang__Status status = reply->status;
    chuang__reply__free_unpacked(reply, NULL);
    return status;
}

void finance_fixture_fund(client_t *client, const char *code, int64_t amount, const char *document)
{
    Chuang__Finance__CreateFundRequest fund = CHUANG__FINANCE__CREATE_FUND_REQUEST__INIT;
    fund.code = (char *)code;
    fund.name = "双创专项资金";
    fund.department = "finance";
    assert_int_equal(finance_fixture_status(client, "CreateFund", &fund.base), CHUANG__STATUS__OK);
    Chuang__Finance__AppropriateRequest money = CHUANG__FINANCE__APPROPRIATE_REQUEST__INIT;
    money.fund = (char *)code;
    money.amount_fen = amount;
    money.document = (char *)document;
    assert_int_equal(finance_fixture_status(client, "Appropriate", &money.base),
                     CHUANG__STATUS__OK);
}

int64_t finance_fixture_draft(client_t *client, const char *programme, const char *credit_code,
                              const char *subject, int64_t amount, Chuang__Status *status)
{
    Chuang__Finance__CreateApplicationRequest request =
        CHUANG__FINANCE__CREATE_APPLICATION_REQUEST__INIT;
    request.programme = (char *)programme;
    request.credit_code = (char *)credit_code;
    request.subject = (char *)subject;
    request.amount_fen = amount;
    Chuang__Reply *reply = finance_fixture_call(client, "CreateApplication", &request.base);
    *status = reply->status;
    int64_t id = 0;
    if (reply->status == CHUANG__STATUS__OK) {
        Chuang__Finance__Application *a =
            chuang__finance__application__unpack(NULL, reply->payload.len, reply->payload.data);
        id = a->id;
        assert_string_equal(a->status, "draft");
        assert_int_equal(a->n_steps, 1);
        chuang__finance__application__free_unpacked(a, NULL);
    }
    chuang__reply__free_unpacked(reply, NULL);
    return id;
}

Chuang__Finance__Application *finance_fixture_step(client_t *client, const char *method, int64_t id,
                                                   const char *reason, Chuang__Reply **refusal)
{
    Chuang__Finance__ApplicationRequest request = CHUANG__FINANCE__APPLICATION_REQUEST__INIT;
    request.id = id;
    request.reason = (char *)reason;
    Chuang__Reply *reply = finance_fixture_call(client, method, &request.base);
    Chuang__Finance__Application *application = NULL;
    if (reply->status == CHUANG__STATUS__OK) {
        application =
            chuang__finance__application__unpack(NULL, reply->payload.len, reply->payload.data);
        assert_non_null(application);
    }
    if (!application && refusal)
        *refusal = reply;
    else
        chuang__reply__free_unpacked(reply, NULL);
    return application;
}

char *finance_fixture_step_status(client_t *client, const char *method, int64_t id,
                                  const char *reason, Chuang__Status *status)
{
    Chuang__Reply *refusal = NULL;
    Chuang__Finance__Application *a = finance_fixture_step(client, method, id, reason, &refusal);
    *status = a ? CHUANG__STATUS__OK : refusal->status;
    char *result = strdup(a ? a->status : "");
    if (a)
        chuang__finance__application__free_unpacked(a, NULL);
    if (refusal)
        chuang__reply__free_unpacked(refusal, NULL);
    return result;
}

void finance_fixture_due_now(const char *db_url, const char *redis_url, const char *redis_prefix,
                             const char *sql, const char *job)
{
    PGconn *db = db_connect(db_url, "finance", 3);
    assert_non_null(db);
    PGresult *res = PQexec(db, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK || !streq(PQcmdTuples(res), "1"))
        fail_msg("%s: %s", sql, PQerrorMessage(db));
    PQclear(res);
    PQfinish(db);
    redisContext *redis = redis_link_connect(redis_url, 3);
    assert_non_null(redis);
    freeReplyObject(redisCommand(redis, "ZREM %s:due %s", redis_prefix, job));
    redisFree(redis);
}

char *finance_fixture_end_notice(client_t *client, const char *db_url, const char *redis_url,
                                 const char *redis_prefix, int64_t id)
{
    char sql[256], job[48];
    snprintf(sql, sizeof sql,
             "UPDATE applications SET notice_ends_on = chuang_today(agency) - 1"
             " WHERE id = %" PRId64 " AND status = 'notice'",
             id);
    snprintf(job, sizeof job, "notice:%" PRId64, id);
    finance_fixture_due_now(db_url, redis_url, redis_prefix, sql, job);
    char *status = NULL;
    for (int i = 0; i < 600; i++) {
        free(status);
        Chuang__Status rc;
        status = finance_fixture_step_status(client, "GetApplication", id, "", &rc);
        assert_int_equal(rc, CHUANG__STATUS__OK);
        if (!streq(status, "notice"))
            break;
        zclock_sleep(100);
    }
    return status;
}

long long finance_fixture_value(const char *db_url, const char *sql)
{
    return finance_fixture_value_in(db_url, "finance", sql);
}

long long finance_fixture_value_in(const char *db_url, const char *schema, const char *sql)
{
    PGconn *db = db_connect(db_url, schema, 3);
    assert_non_null(db);
    PGresult *res = PQexec(db, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(db));
    long long value = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    PQfinish(db);
    return value;
}

int64_t finance_fixture_award(finance_fixture_t *f, client_t *officer, client_t *reviewer,
                              const char *department, const char *programme,
                              const char *credit_code, const char *subject, int64_t amount)
{
    Chuang__Status status;
    int64_t id = finance_fixture_draft(officer, programme, credit_code, subject, amount, &status);
    assert_int_equal(status, CHUANG__STATUS__OK);
    char *got = finance_fixture_step_status(officer, "SubmitApplication", id, "", &status);
    assert_string_equal(got, "under_review");
    free(got);
    Chuang__Finance__ReviewRequest review = CHUANG__FINANCE__REVIEW_REQUEST__INIT;
    review.id = id;
    review.department = (char *)department;
    review.approve = true;
    assert_int_equal(finance_fixture_status(reviewer, "ReviewApplication", &review.base),
                     CHUANG__STATUS__OK);
    char prefix[48];
    snprintf(prefix, sizeof prefix, "%s:finance", f->prefix);
    got = finance_fixture_end_notice(officer, f->db_url, harness_get("CHUANG_TEST_REDIS_URL"),
                                     prefix, id);
    assert_string_equal(got, "awarded");
    free(got);
    return id;
}

void finance_fixture_wait_known(client_t *client, const char *credit_code)
{
    for (int i = 0; i < 150; i++) {
        Chuang__Finance__EntityFactsRequest request = CHUANG__FINANCE__ENTITY_FACTS_REQUEST__INIT;
        request.credit_code = (char *)credit_code;
        if (finance_fixture_status(client, "GetEntityFacts", &request.base) == CHUANG__STATUS__OK)
            return;
        zclock_sleep(100);
    }
    fail_msg("finance never learnt of %s", credit_code);
}

void finance_fixture_assert_refused(Chuang__Reply *reply, Chuang__Status status, const char *field)
{
    assert_int_equal(reply->status, status);
    bool named = false;
    for (size_t i = 0; i < reply->n_violations; i++)
        named = named || strncmp(reply->violations[i]->field, field, strlen(field)) == 0;
    if (!named)
        fail_msg("no violation of %s in \"%s\"", field, reply->message);
    chuang__reply__free_unpacked(reply, NULL);
}

void finance_fixture_assert_told(finance_fixture_t *f, const char *agency, const char *entity,
                                 const char *subject)
{
    client_t *owner = finance_fixture_client(f, agency, entity, "applicant");
    bool found = false;
    for (int i = 0; i < 150 && !found; i++) {
        Chuang__Notify__InboxRequest inbox = CHUANG__NOTIFY__INBOX_REQUEST__INIT;
        inbox.recipient = (char *)entity;
        inbox.limit = 100;
        Chuang__Reply *reply = client_call(owner, "notify", "ListInbox", &inbox.base, NULL);
        assert_int_equal(reply->status, CHUANG__STATUS__OK);
        Chuang__Notify__InboxPage *page =
            chuang__notify__inbox_page__unpack(NULL, reply->payload.len, reply->payload.data);
        for (size_t m = 0; m < page->n_messages; m++)
            found = found || streq(page->messages[m]->subject, subject);
        chuang__notify__inbox_page__free_unpacked(page, NULL);
        chuang__reply__free_unpacked(reply, NULL);
        if (!found)
            zclock_sleep(100);
    }
    client_destroy(&owner);
    if (!found)
        fail_msg("no inbox message \"%s\"", subject);
}
