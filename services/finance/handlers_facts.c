/*
 * handlers_facts.c - what finance knows of an entity (from the registry's
 * events, facts.h) and whether it meets a programme's conditions on a day.
 *
 * Eligibility is decided by the programme's version in force on the day
 * asked (its application date), condition by condition (facts_evaluate),
 * each result with the entity's fact as tested, and by the version's award
 * rules against the cross-level register (awards.h), each with what the
 * register holds, so that a reviewer sees why. An entity on the
 * serious-violation list is refused outright (FAILED_PRECONDITION
 * naming the listing): the dishonest get nothing. One on the
 * abnormal-operations list is flagged for the reviewer.
 */
#include "awards.h"
#include "facts.h"
#include "loans.h"
#include "handlers.h"
#include "handlers_private.h"
#include "investments.h"
#include "matching.h"
#include "programmes.h"

#include <czmq.h>
#include <inttypes.h>

/* Reads the facts of credit_code into facts; answers NOT_FOUND when
 * finance knows nothing of it. */
static Chuang__Status s_facts(service_call_t *call, const char *credit_code,
                              Chuang__Finance__EntityFacts *facts)
{
    int found = facts_get(service_call_db(call), call, credit_code, facts);
    if (found != 0)
        return service_call_found(call, found, "read entity facts", "entity not known to finance");
    return service_call_fail(call, CHUANG__STATUS__NOT_FOUND, "entity not known to finance",
                             "No registry this deployment follows has registered this credit code.",
                             "An entity registered moments ago reaches finance within seconds; "
                             "ask again.");
}

Chuang__Status handle_get_entity_facts(service_call_t *call, const ProtobufCMessage *input,
                                       ProtobufCMessage *output)
{
    const Chuang__Finance__EntityFactsRequest *request =
        (const Chuang__Finance__EntityFactsRequest *)input;
    if (!checks_credit_code_shaped(request->credit_code))
        return service_call_violation(call, "credit_code",
                                      "must be a unified social credit code of 18 characters");
    return s_facts(call, request->credit_code, (Chuang__Finance__EntityFacts *)output);
}

/* Reads what subject names for credit_code's application into *named:
 * the entity's recognition of that certificate number, or, for
 * "investment:<id>", that investment when a fund the entity manages
 * reported it. */
static Chuang__Status s_subject(service_call_t *call, const char *credit_code, const char *subject,
                                facts_subject_t *named)
{
    PGconn *db = service_call_db(call);
    const char *agency = service_call_header(call)->agency;
    if (!*subject)
        return CHUANG__STATUS__OK;
    if (strncmp(subject, "investment:", 11) == 0) {
        Chuang__Finance__Investment *investment = service_call_alloc(call, sizeof *investment);
        chuang__finance__investment__init(investment);
        int found = invest_of_manager(db, call, agency, strtoll(subject + 11, NULL, 10),
                                      credit_code, investment, &named->investee_age_days);
        if (found < 0)
            return service_call_sql_fail(call, NULL, "read investment");
        named->investment = found ? investment : NULL;
        return CHUANG__STATUS__OK;
    }
    Chuang__Finance__Recognition *recognition = service_call_alloc(call, sizeof *recognition);
    chuang__finance__recognition__init(recognition);
    int found = facts_recognition(db, call, agency, subject, credit_code, recognition);
    if (found < 0)
        return service_call_sql_fail(call, NULL, "read recognition");
    named->recognition = found ? recognition : NULL;
    return CHUANG__STATUS__OK;
}

/* An entity's eligibility by its facts: refused when it is on the
 * serious-violation list (naming the listing), else each condition tested
 * into reply. */
static Chuang__Status s_entity(service_call_t *call,
                               const Chuang__Finance__ProgrammeVersion *version,
                               const char *credit_code, const char *subject, const char *day,
                               Chuang__Finance__Eligibility *reply)
{
    Chuang__Finance__EntityFacts *facts = service_call_alloc(call, sizeof *facts);
    chuang__finance__entity_facts__init(facts);
    Chuang__Status status = s_facts(call, credit_code, facts);
    if (status != CHUANG__STATUS__OK)
        return status;
    const Chuang__Finance__CreditListing *dishonest = facts_dishonest(facts);
    if (dishonest) {
        char *detail = zsys_sprintf("Listing %" PRId64 " by %s: %s. The dishonest receive no "
                                    "award, subsidy or loan.",
                                    dishonest->listing_id, dishonest->authority, dishonest->reason);
        status = service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                   "entity is on the serious-violation list", detail,
                                   "It may apply once the listing is removed.");
        zstr_free(&detail);
        return status;
    }
    /* A bank's lending through the agency's matching in the day's year. */
    Chuang__Finance__BankLending lending = CHUANG__FINANCE__BANK_LENDING__INIT;
    if (match_lending(service_call_db(call), call, service_call_header(call)->agency, credit_code,
                      atoi(day), &lending) != 1)
        return service_call_sql_fail(call, NULL, "read lending");
    facts->lending_fen = lending.lent_fen;
    facts_subject_t named = {NULL, NULL, 0};
    status = s_subject(call, credit_code, subject, &named);
    if (status != CHUANG__STATUS__OK)
        return status;
    facts_evaluate(call, version, facts, &named, day, reply);
    return CHUANG__STATUS__OK;
}

/* A person's eligibility: finance knows no facts of people, so every
 * condition (each over an entity's facts) fails, naming why; a version
 * without conditions leaves the person to the reviewing departments. */
static void s_person(service_call_t *call, const Chuang__Finance__ProgrammeVersion *version,
                     Chuang__Finance__Eligibility *reply)
{
    reply->version = version->version;
    reply->eligible = version->n_conditions == 0;
    reply->results = service_call_alloc(call, (version->n_conditions + 1) * sizeof *reply->results);
    for (size_t i = 0; i < version->n_conditions; i++) {
        Chuang__Finance__ConditionResult *result = service_call_alloc(call, sizeof *result);
        chuang__finance__condition_result__init(result);
        result->condition = version->conditions[i];
        result->actual = "not known of a person (a condition on an entity's facts)";
        reply->results[reply->n_results++] = result;
    }
}

Chuang__Status handlers_eligibility(service_call_t *call,
                                    const Chuang__Finance__EligibilityRequest *ask,
                                    Chuang__Finance__Eligibility *reply,
                                    Chuang__Finance__Programme **programme_out)
{
    PGconn *db = service_call_db(call);
    const char *agency = service_call_header(call)->agency;
    Chuang__Finance__Programme *programme = service_call_alloc(call, sizeof *programme);
    chuang__finance__programme__init(programme);
    const char *day = ask->on;
    Chuang__Status status = service_call_today(call, &day);
    if (status != CHUANG__STATUS__OK)
        return status;
    int rc = programme_get(db, call, agency, ask->programme, day, programme);
    if (rc == PROGRAMME_NOT_IN_FORCE)
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "programme not in force on that day",
                                 "No version of the programme covers the day asked.",
                                 "Nothing may be decided by it for that day.");
    status = service_call_found(call, rc, "read programme", "no such programme");
    if (status != CHUANG__STATUS__OK)
        return status;
    reply->programme = programme->code;
    reply->on = (char *)day;
    const char *recipient = *ask->id_number ? ask->id_number : ask->credit_code;
    if (*ask->id_number)
        s_person(call, programme->version, reply);
    else {
        status = s_entity(call, programme->version, ask->credit_code, ask->subject, day, reply);
        if (status != CHUANG__STATUS__OK)
            return status;
    }
    const awards_claim_t claim = {recipient, ask->subject, ask->period_from, ask->period_to,
                                  ask->amount_fen};
    if (awards_evaluate(db, call, agency, programme->code, programme->version, &claim, day,
                        reply) != 0)
        return service_call_sql_fail(call, NULL, "test award rules");
    if (handlers_subsidy_computed(programme)) {
        if (!*ask->period_from)
            return service_call_violation(call, "period_from",
                                          "is required: the period the interest subsidy is "
                                          "claimed for");
        if (loan_subsidy(db, call, agency, programme->code, programme->version->version, recipient,
                         ask->subject, ask->period_from, ask->period_to, reply) != 0)
            return service_call_sql_fail(call, NULL, "compute interest subsidy");
    }
    if (programme_out)
        *programme_out = programme;
    return CHUANG__STATUS__OK;
}

Chuang__Status handle_check_eligibility(service_call_t *call, const ProtobufCMessage *input,
                                        ProtobufCMessage *output)
{
    const Chuang__Finance__EligibilityRequest *request =
        (const Chuang__Finance__EligibilityRequest *)input;
    if (!checks_code_valid(request->programme))
        service_call_violation(call, "programme", "is not a programme code");
    handlers_applicant_check(call, request->credit_code, request->id_number);
    if (!checks_day_valid(request->on))
        service_call_violation(call, "on", "must be a date YYYY-MM-DD, or empty for today");
    if (!checks_text_valid(request->subject, false))
        service_call_violation(call, "subject", "must be at most %d characters", CHECKS_TEXT_MAX);
    checks_period(call, request->period_from, request->period_to);
    if (request->amount_fen < 0 || request->amount_fen > AMOUNT_MAX)
        service_call_violation(call, "amount_fen",
                               "must be a whole number of fen from 0 to %" PRId64, AMOUNT_MAX);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    return handlers_eligibility(call, request, (Chuang__Finance__Eligibility *)output, NULL);
}

bool handlers_subsidy_computed(const Chuang__Finance__Programme *programme)
{
    return streq(programme->kind, "interest_subsidy") &&
           (programme_parameter(programme->version, "rate_above_reference_bp", -1) >= 0 ||
            programme_parameter(programme->version, "reference_share_bp", -1) >= 0);
}
