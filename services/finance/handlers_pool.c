/*
 * handlers_pool.c - the pre-listing pool (上市后备资源库): proposals of
 * entities registered and tax-registered in the agency's area, decisions
 * within the year's quota, recommendations on to the pool above, and the
 * stages an entity reaches (pool.h holds the SQL). A stage's reward is an
 * application to a listing_reward programme (handlers_applications.c
 * checks that the stage is reached). Each step is a finance.PoolEntry*
 * event of the entry.
 */
#include "handlers.h"
#include "handlers_private.h"
#include "pool.h"
#include "rules.h"

#include <czmq.h>
#include <inttypes.h>

/* Reads credit_code's entry back into output and reports the step as
 * event type. */
static Chuang__Status s_reply(service_call_t *call, const char *credit_code, const char *type,
                              ProtobufCMessage *output)
{
    Chuang__Finance__PoolEntry *entry = (Chuang__Finance__PoolEntry *)output;
    if (pool_get(service_call_db(call), call, service_call_header(call)->agency, credit_code, false,
                 entry) != 1)
        return service_call_sql_fail(call, NULL, "read pool entry");
    char aggregate[48];
    snprintf(aggregate, sizeof aggregate, "pool:%s", credit_code);
    return service_call_emit(call, type, aggregate, CHUANG__VISIBILITY__VISIBILITY_INTERNAL,
                             &entry->base);
}

Chuang__Status handle_propose_for_pool(service_call_t *call, const ProtobufCMessage *input,
                                       ProtobufCMessage *output)
{
    const Chuang__Finance__PoolProposal *request = (const Chuang__Finance__PoolProposal *)input;
    if (!checks_credit_code_shaped(request->credit_code))
        service_call_violation(call, "credit_code",
                               "must be the entity's unified social credit code (18 characters)");
    if (request->year != 0 && (request->year < 2000 || request->year > 2200))
        service_call_violation(call, "year", "must be a year, or 0 for this year");
    if (!checks_text_valid(request->tax_authority, true))
        service_call_violation(call, "tax_authority",
                               "must name the tax authority it is registered with in the agency");
    if (!*request->tax_registered_on || !checks_day_valid(request->tax_registered_on))
        service_call_violation(call, "tax_registered_on", "must be a date YYYY-MM-DD");
    if (!checks_text_valid(request->reason, false))
        service_call_violation(call, "reason", "must be at most %d characters", CHECKS_TEXT_MAX);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    int year = request->year;
    Chuang__Status status = service_call_year(call, &year);
    if (status != CHUANG__STATUS__OK)
        return status;
    int rc = pool_propose(service_call_db(call), service_call_header(call)->agency, request, year,
                          service_call_recorded_by(call));
    switch (rc) {
    case 1:
        return s_reply(call, request->credit_code, "finance.PoolEntryProposed", output);
    case 0:
        service_call_violation(call, "credit_code", "is not an entity finance knows");
        return service_call_fail(call, CHUANG__STATUS__NOT_FOUND, "no such entity",
                                 "Finance learns of entities from the registry's events.", NULL);
    case POOL_OUTSIDE:
    case POOL_CLOSED:
        service_call_violation(call, "credit_code",
                               rc == POOL_OUTSIDE ? "is registered outside this agency's area"
                                                  : "is a deregistered entity");
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "not an entity of this agency",
                                 "The pool takes entities registered and tax-registered in the "
                                 "agency's area.",
                                 NULL);
    case POOL_ENTERED:
        return service_call_fail(call, CHUANG__STATUS__ALREADY_EXISTS, "already proposed",
                                 "The entity is proposed for the pool or in it already.", NULL);
    default:
        return service_call_sql_fail(call, NULL, "propose for pool");
    }
}

/* FAILED_PRECONDITION when the year's count has reached its quota, the
 * rule name. */
static Chuang__Status s_quota(service_call_t *call, const char *rule, int year, int count,
                              const char *what)
{
    int64_t quota = 0;
    int found =
        rules_get(service_call_db(call), service_call_header(call)->agency, rule, NULL, &quota);
    if (found < 0)
        return service_call_sql_fail(call, NULL, "read the pool's quota");
    if (found == 0)
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION, "no quota in force",
                                 "The pool's quota has lapsed.",
                                 "An operator sets the rule for this year.");
    if (count < quota)
        return CHUANG__STATUS__OK;
    char *detail = zsys_sprintf("%d %s in %d, the year's quota (%s).", count, what, year, rule);
    Chuang__Status status = service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                              "the year's quota is reached", detail, NULL);
    zstr_free(&detail);
    return status;
}

Chuang__Status handle_decide_pool_entry(service_call_t *call, const ProtobufCMessage *input,
                                        ProtobufCMessage *output)
{
    const Chuang__Finance__PoolDecision *request = (const Chuang__Finance__PoolDecision *)input;
    static const checks_move_t moves[] = {{"proposed", "admitted"},    {"proposed", "declined"},
                                          {"admitted", "recommended"}, {"admitted", "removed"},
                                          {"recommended", "removed"},  {NULL, NULL}};
    if (!checks_credit_code_shaped(request->credit_code))
        service_call_violation(call, "credit_code", "must be the entity's credit code");
    if (!checks_move_known(moves, request->decision))
        service_call_violation(call, "decision",
                               "must be admitted, declined, recommended or removed");
    bool admitted = streq(request->decision, "admitted");
    if (!checks_text_valid(request->reason, !admitted))
        service_call_violation(call, "reason", "must say why (1 to %d characters)",
                               CHECKS_TEXT_MAX);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    PGconn *db = service_call_db(call);
    const char *agency = service_call_header(call)->agency;
    int year = 0, admissions = 0, recommendations = 0;
    Chuang__Status status = service_call_year(call, &year);
    if (status != CHUANG__STATUS__OK)
        return status;
    /* The pool's decisions take turns from here: the counts stay true. */
    if (pool_year(db, agency, year, &admissions, &recommendations) != 0)
        return service_call_sql_fail(call, NULL, "read the pool's year");
    Chuang__Finance__PoolEntry *entry = service_call_alloc(call, sizeof *entry);
    chuang__finance__pool_entry__init(entry);
    status = service_call_found(call, pool_get(db, call, agency, request->credit_code, true, entry),
                                "read pool entry", "the entity is not proposed for the pool");
    if (status != CHUANG__STATUS__OK)
        return status;
    status = checks_move_allowed(call, moves, "pool entry", entry->status, request->decision);
    if (status != CHUANG__STATUS__OK)
        return status;
    if (admitted) {
        /* The quota of the proposal's year. */
        if (entry->year != year &&
            pool_year(db, agency, entry->year, &admissions, &recommendations) != 0)
            return service_call_sql_fail(call, NULL, "read the pool's year");
        status =
            s_quota(call, "listing_pool_admissions_count", entry->year, admissions, "admitted");
    } else if (streq(request->decision, "recommended"))
        status = s_quota(call, "listing_pool_recommendations_count", year, recommendations,
                         "recommended");
    if (status != CHUANG__STATUS__OK)
        return status;
    if (pool_decide(db, agency, request->credit_code, entry->year, request->decision,
                    request->reason, service_call_recorded_by(call)) != 1)
        return service_call_sql_fail(call, NULL, "decide pool entry");
    char type[48];
    snprintf(type, sizeof type, "finance.PoolEntry%c%s", request->decision[0] - 'a' + 'A',
             request->decision + 1);
    return s_reply(call, request->credit_code, type, output);
}

Chuang__Status handle_record_listing_stage(service_call_t *call, const ProtobufCMessage *input,
                                           ProtobufCMessage *output)
{
    const Chuang__Finance__ListingStageRequest *request =
        (const Chuang__Finance__ListingStageRequest *)input;
    if (!checks_credit_code_shaped(request->credit_code))
        service_call_violation(call, "credit_code", "must be the entity's credit code");
    size_t s = 0;
    while (pool_stages[s] && !streq(pool_stages[s], request->stage))
        s++;
    if (!pool_stages[s])
        service_call_violation(call, "stage",
                               "must be shareholding_reform, counselling_filing, "
                               "application_accepted or listed");
    if (!checks_text_valid(request->document, true))
        service_call_violation(call, "document", "must name the document that shows it");
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    const char *day = request->reached_on;
    Chuang__Status status = checks_past_day(call, "reached_on", &day, NULL);
    if (status != CHUANG__STATUS__OK)
        return status;
    PGconn *db = service_call_db(call);
    const char *agency = service_call_header(call)->agency;
    Chuang__Finance__PoolEntry *entry = service_call_alloc(call, sizeof *entry);
    chuang__finance__pool_entry__init(entry);
    status = service_call_found(call, pool_get(db, call, agency, request->credit_code, true, entry),
                                "read pool entry", "the entity is not in the pool");
    if (status != CHUANG__STATUS__OK)
        return status;
    if (!streq(entry->status, "admitted") && !streq(entry->status, "recommended"))
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION, "not in the pool",
                                 "Stages are recorded for entities admitted to the pool.", NULL);
    int rc = pool_stage_record(db, agency, request->credit_code, request->stage, day,
                               request->document, service_call_recorded_by(call));
    if (rc < 0)
        return service_call_sql_fail(call, NULL, "record listing stage");
    if (rc == 0) {
        service_call_violation(call, "stage", "is recorded already");
        return service_call_fail(call, CHUANG__STATUS__ALREADY_EXISTS, "stage recorded",
                                 "Each stage is recorded once.", NULL);
    }
    return s_reply(call, request->credit_code, "finance.ListingStageReached", output);
}

Chuang__Status handle_get_pool_entry(service_call_t *call, const ProtobufCMessage *input,
                                     ProtobufCMessage *output)
{
    const Chuang__Finance__PoolEntryRequest *request =
        (const Chuang__Finance__PoolEntryRequest *)input;
    if (!checks_credit_code_shaped(request->credit_code))
        return service_call_violation(call, "credit_code", "must be the entity's credit code");
    int found = pool_get(service_call_db(call), call, service_call_header(call)->agency,
                         request->credit_code, false, (Chuang__Finance__PoolEntry *)output);
    return service_call_found(call, found, "read pool entry", "the entity is not in the pool");
}

Chuang__Status handle_list_pool(service_call_t *call, const ProtobufCMessage *input,
                                ProtobufCMessage *output)
{
    const Chuang__Finance__PoolListRequest *request =
        (const Chuang__Finance__PoolListRequest *)input;
    if (request->year != 0 && (request->year < 2000 || request->year > 2200))
        service_call_violation(call, "year", "must be a year, or 0 for every year");
    if (*request->status && !streq(request->status, "proposed") &&
        !streq(request->status, "admitted") && !streq(request->status, "declined") &&
        !streq(request->status, "recommended") && !streq(request->status, "removed"))
        service_call_violation(call, "status",
                               "must be proposed, admitted, declined, recommended, removed or "
                               "empty");
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    int rc = pool_list(service_call_db(call), call, service_call_header(call)->agency,
                       request->year, request->status, (Chuang__Finance__PoolList *)output);
    return rc < 0 ? service_call_sql_fail(call, NULL, "list pool") : CHUANG__STATUS__OK;
}
