/*
 * handlers_facts.c - what finance knows of an entity (from the registry's
 * events, facts.h) and whether it meets a programme's conditions on a day.
 *
 * Eligibility is decided by the programme's version in force on the day
 * asked (its application date), condition by condition, each result with
 * the entity's fact as tested, so that a reviewer sees why. An entity on
 * the serious-violation list is refused outright (FAILED_PRECONDITION
 * naming the listing): the dishonest get nothing. One on the
 * abnormal-operations list is flagged for the reviewer.
 */
#include "facts.h"
#include "handlers.h"
#include "handlers_private.h"
#include "programmes.h"

#include <czmq.h>
#include <inttypes.h>
#include <strings.h>

/* true when credit_code has the shape of a unified social credit code. */
static bool s_credit_code_shaped(const char *code)
{
    return strlen(code) == 18 && strspn(code, "0123456789ABCDEFGHJKLMNPQRTUWXY") == 18;
}

/* Reads the facts of credit_code into facts; answers NOT_FOUND when
 * finance knows nothing of it. */
static Chuang__Status s_facts(service_call_t *call, const char *credit_code,
                              Chuang__Finance__EntityFacts *facts)
{
    int found = facts_get(service_call_db(call), call, service_call_header(call)->agency,
                          credit_code, facts);
    if (found == 0)
        return service_call_fail(call, CHUANG__STATUS__NOT_FOUND, "entity not known to finance",
                                 "Finance has no registration of this credit code in this agency.",
                                 "An entity registered moments ago reaches finance within "
                                 "seconds; ask again.");
    return handlers_found(call, found, "read entity facts", "entity not known to finance");
}

Chuang__Status handle_get_entity_facts(service_call_t *call, const ProtobufCMessage *input,
                                       ProtobufCMessage *output)
{
    const Chuang__Finance__EntityFactsRequest *request =
        (const Chuang__Finance__EntityFactsRequest *)input;
    if (!s_credit_code_shaped(request->credit_code))
        return service_call_violation(call, "credit_code",
                                      "must be a unified social credit code of 18 characters");
    return s_facts(call, request->credit_code, (Chuang__Finance__EntityFacts *)output);
}

/* true when one of values is text, ignoring case. */
static bool s_among(char *const *values, size_t n, const char *text)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(values[i], text) == 0)
            return true;
    return false;
}

/* The number of the day YYYY-MM-DD: days since 1970-01-01. */
static long s_day_number(const char *day)
{
    int y = 0, m = 0, d = 0;
    sscanf(day, "%d-%d-%d", &y, &m, &d);
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Tests condition c against facts on day; writes the fact as tested into
 * actual (call memory). */
static bool s_holds(service_call_t *call, const Chuang__Finance__Condition *c,
                    const Chuang__Finance__EntityFacts *facts, const char *day, char **actual)
{
    if (streq(c->fact, "founder_category")) {
        bool holds = false;
        char *list = zsys_sprintf("%s", "");
        for (size_t i = 0; i < facts->n_founder_categories; i++) {
            holds = holds || s_among(c->values, c->n_values, facts->founder_categories[i]);
            char *longer = zsys_sprintf("%s%s%s", list, i ? "," : "", facts->founder_categories[i]);
            zstr_free(&list);
            list = longer;
        }
        *actual = service_call_strdup(call, list && *list ? list : "none");
        zstr_free(&list);
        return holds;
    }
    if (streq(c->fact, "entity_type") || streq(c->fact, "credit_standing")) {
        const char *value = streq(c->fact, "entity_type") ? facts->entity_type : facts->standing;
        *actual = service_call_strdup(call, value);
        return s_among(c->values, c->n_values, value);
    }
    if (streq(c->fact, "entity_age_days")) {
        long age = s_day_number(day) - s_day_number(facts->registered_on);
        char text[32];
        snprintf(text, sizeof text, "%ld", age);
        *actual = service_call_strdup(call, text);
        return age >= 0 && age <= strtol(c->values[0], NULL, 10);
    }
    if (streq(c->fact, "division")) {
        *actual = service_call_strdup(call, facts->division);
        for (size_t i = 0; i < c->n_values; i++)
            if (strncmp(facts->division, c->values[i], strlen(c->values[i])) == 0)
                return true;
        return false;
    }
    /* headcount: no source of headcounts reaches finance yet. */
    *actual = service_call_strdup(call, "unknown");
    return false;
}

Chuang__Status handle_check_eligibility(service_call_t *call, const ProtobufCMessage *input,
                                        ProtobufCMessage *output)
{
    const Chuang__Finance__EligibilityRequest *request =
        (const Chuang__Finance__EligibilityRequest *)input;
    if (!handlers_code_valid(request->programme))
        service_call_violation(call, "programme", "is not a programme code");
    if (!s_credit_code_shaped(request->credit_code))
        service_call_violation(call, "credit_code",
                               "must be a unified social credit code of 18 characters");
    if (!handlers_day_valid(request->on))
        service_call_violation(call, "on", "must be a date YYYY-MM-DD, or empty for today");
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    PGconn *db = service_call_db(call);
    const char *agency = service_call_header(call)->agency;
    Chuang__Finance__Programme *programme = service_call_alloc(call, sizeof *programme);
    chuang__finance__programme__init(programme);
    const char *day = request->on;
    if (!*day) {
        const char *values[1] = {agency};
        Chuang__Status failure;
        PGresult *res = service_call_query(call, "today", "SELECT chuang_today($1)::text", 1,
                                           values, PGRES_TUPLES_OK, &failure);
        if (!res)
            return failure;
        day = service_call_strdup(call, PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    int rc = programme_get(db, call, agency, request->programme, day, programme);
    if (rc == PROGRAMME_NOT_IN_FORCE)
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "programme not in force on that day",
                                 "No version of the programme covers the day asked.",
                                 "Nothing may be decided by it for that day.");
    Chuang__Status status = handlers_found(call, rc, "read programme", "no such programme");
    if (status != CHUANG__STATUS__OK)
        return status;
    Chuang__Finance__EntityFacts *facts = service_call_alloc(call, sizeof *facts);
    chuang__finance__entity_facts__init(facts);
    status = s_facts(call, request->credit_code, facts);
    if (status != CHUANG__STATUS__OK)
        return status;
    for (size_t i = 0; i < facts->n_listings; i++) {
        const Chuang__Finance__CreditListing *l = facts->listings[i];
        if (!streq(l->list, "dishonest"))
            continue;
        char *detail = zsys_sprintf("Listing %" PRId64 " by %s: %s. The dishonest receive no "
                                    "award, subsidy or loan.",
                                    l->listing_id, l->authority, l->reason);
        status = service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                   "entity is on the serious-violation list", detail,
                                   "It may apply once the listing is removed.");
        zstr_free(&detail);
        return status;
    }
    Chuang__Finance__Eligibility *reply = (Chuang__Finance__Eligibility *)output;
    const Chuang__Finance__ProgrammeVersion *version = programme->version;
    reply->programme = programme->code;
    reply->version = version->version;
    reply->on = (char *)day;
    reply->eligible = true;
    reply->results = service_call_alloc(call, (version->n_conditions + 1) * sizeof *reply->results);
    for (size_t i = 0; i < version->n_conditions; i++) {
        Chuang__Finance__ConditionResult *result = service_call_alloc(call, sizeof *result);
        chuang__finance__condition_result__init(result);
        result->condition = version->conditions[i];
        result->holds = s_holds(call, version->conditions[i], facts, day, &result->actual);
        reply->eligible = reply->eligible && result->holds;
        reply->results[reply->n_results++] = result;
    }
    reply->flags = facts->listings;
    reply->n_flags = facts->n_listings;
    reply->flagged = facts->n_listings > 0;
    return CHUANG__STATUS__OK;
}
