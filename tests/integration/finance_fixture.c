/*
 * finance_fixture.c - see finance_fixture.h.
 */
#include "finance_fixture.h"
#include "db.h"
#include "redis_link.h"

#include <czmq.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

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

char *finance_fixture_end_notice(client_t *client, const char *db_url, const char *redis_url,
                                 const char *redis_prefix, int64_t id)
{
    PGconn *db = db_connect(db_url, "finance", 3);
    assert_non_null(db);
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE applications SET notice_ends_on = chuang_today(agency) - 1"
             " WHERE id = %" PRId64 " AND status = 'notice'",
             id);
    PGresult *res = PQexec(db, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK || !streq(PQcmdTuples(res), "1"))
        fail_msg("application %" PRId64 " is not on notice: %s", id, PQerrorMessage(db));
    PQclear(res);
    PQfinish(db);
    redisContext *redis = redis_link_connect(redis_url, 3);
    assert_non_null(redis);
    freeReplyObject(redisCommand(redis, "ZREM %s:due notice:%" PRId64, redis_prefix, id));
    redisFree(redis);
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
