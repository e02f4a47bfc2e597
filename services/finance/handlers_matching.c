/*
 * handlers_matching.c - bank–enterprise matching (银企对接): banks publish
 * loan products with their own key (role bank), officers publish
 * entities' financing needs, matching lists what fits either way with the
 * reasons, a bank records its responses to a need for its products (a
 * loan lent marks the entity's first loan and counts towards the bank's
 * lending-reward programme), and officers record matchmaking meetings
 * (matching.h holds the SQL). Each step is a finance event.
 */
#include "handlers.h"
#include "handlers_private.h"
#include "matching.h"

#include <czmq.h>
#include <inttypes.h>

static const char *const s_security[] = {"credit", "guarantee", "collateral", "pledge", NULL};
static const char *const s_stage[] = {"startup", "growth", "mature", NULL};

/* Records a violation of field for a list of 1..max (0..max unless
 * required) items not all of allowed. */
static void s_list_check(service_call_t *call, const char *field, char *const *items, size_t count,
                         const char *const *allowed, bool required, const char *words)
{
    if ((required && count == 0) || count > 10) {
        service_call_violation(call, field, "must name %s up to 10 of %s", required ? "1 and" : "",
                               words);
        return;
    }
    char path[48];
    for (size_t i = 0; i < count; i++) {
        snprintf(path, sizeof path, "%s.%zu", field, i);
        if (!checks_listed(allowed, items[i]))
            service_call_violation(call, path, "must be one of %s", words);
    }
}

/* Emits event type of aggregate "<kind>:<id>" with payload. */
static Chuang__Status s_emit(service_call_t *call, const char *type, const char *kind, int64_t id,
                             const ProtobufCMessage *payload)
{
    char aggregate[48];
    snprintf(aggregate, sizeof aggregate, "%s:%" PRId64, kind, id);
    return service_call_emit(call, type, aggregate, CHUANG__VISIBILITY__VISIBILITY_INTERNAL,
                             payload);
}

Chuang__Status handle_publish_loan_product(service_call_t *call, const ProtobufCMessage *input,
                                           ProtobufCMessage *output)
{
    const Chuang__Finance__LoanProductRequest *r =
        (const Chuang__Finance__LoanProductRequest *)input;
    if (!checks_text_valid(r->bank, true))
        service_call_violation(call, "bank", "must name the lending bank");
    if (!checks_credit_code_shaped(r->bank_credit_code))
        service_call_violation(call, "bank_credit_code", "must be the branch's credit code");
    if (!checks_text_valid(r->name, true))
        service_call_violation(call, "name", "must name the product, e.g. 苏科贷");
    if (r->amount_min_fen < 1 || r->amount_max_fen < r->amount_min_fen ||
        r->amount_max_fen > AMOUNT_MAX)
        service_call_violation(call, "amount_max_fen",
                               "must be an amount range of whole fen from 1 to %" PRId64,
                               AMOUNT_MAX);
    if (r->term_min_months < 1 || r->term_max_months < r->term_min_months ||
        r->term_max_months > 360)
        service_call_violation(call, "term_max_months", "must be a range of 1 to 360 months");
    if (r->rate_min_bp < 1 || r->rate_max_bp < r->rate_min_bp || r->rate_max_bp > 10000)
        service_call_violation(call, "rate_max_bp", "must be a range of 1 to 10000 basis points");
    char path[32];
    for (size_t i = 0; i < r->n_industries; i++) {
        size_t length = strlen(r->industries[i]);
        snprintf(path, sizeof path, "industries.%zu", i);
        if (length < 1 || length > 5 || r->industries[i][0] < 'A' || r->industries[i][0] > 'T' ||
            strspn(r->industries[i] + 1, "0123456789") != length - 1)
            service_call_violation(call, path, "must be a GB/T 4754 code or prefix, e.g. I or C39");
    }
    if (r->n_industries > 20)
        service_call_violation(call, "industries", "must name at most 20");
    s_list_check(call, "stages", r->stages, r->n_stages, s_stage, false, "startup, growth, mature");
    s_list_check(call, "security", r->security, r->n_security, s_security, true,
                 "credit, guarantee, collateral, pledge");
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    PGconn *db = service_call_db(call);
    const char *agency = service_call_header(call)->agency;
    int64_t id = 0;
    if (match_product_add(db, agency, r, service_call_principal(call)->name, &id) != 1 ||
        match_product_get(db, call, agency, id, (Chuang__Finance__LoanProduct *)output, NULL, 0) !=
            1)
        return service_call_sql_fail(call, NULL, "publish product");
    return s_emit(call, "finance.LoanProductPublished", "loan_product", id, output);
}

Chuang__Status handle_publish_financing_need(service_call_t *call, const ProtobufCMessage *input,
                                             ProtobufCMessage *output)
{
    const Chuang__Finance__FinancingNeedRequest *r =
        (const Chuang__Finance__FinancingNeedRequest *)input;
    if (!checks_credit_code_shaped(r->credit_code))
        service_call_violation(call, "credit_code", "must be the entity's credit code");
    if (r->amount_fen < 1 || r->amount_fen > AMOUNT_MAX)
        service_call_violation(call, "amount_fen",
                               "must be a whole number of fen from 1 to %" PRId64, AMOUNT_MAX);
    if (r->term_months < 1 || r->term_months > 360)
        service_call_violation(call, "term_months", "must be from 1 to 360 months");
    if (r->max_rate_bp < 1 || r->max_rate_bp > 10000)
        service_call_violation(call, "max_rate_bp", "must be from 1 to 10000 basis points");
    if (!checks_listed(s_stage, r->stage))
        service_call_violation(call, "stage", "must be startup, growth or mature");
    s_list_check(call, "security", r->security, r->n_security, s_security, true,
                 "credit, guarantee, collateral, pledge");
    if (!checks_text_valid(r->purpose, true))
        service_call_violation(call, "purpose", "must say what the money is for");
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    PGconn *db = service_call_db(call);
    const char *agency = service_call_header(call)->agency;
    int64_t id = 0;
    int rc = match_need_add(db, agency, r, service_call_recorded_by(call), &id);
    if (rc == 0 || rc == MATCH_OUTSIDE) {
        service_call_violation(call, "credit_code",
                               rc ? "is not a registered entity of this agency's area"
                                  : "is not an entity finance knows");
        return service_call_fail(
            call, rc ? CHUANG__STATUS__FAILED_PRECONDITION : CHUANG__STATUS__NOT_FOUND,
            "not an entity of this agency", "Needs are published for the agency's entities.", NULL);
    }
    if (rc != 1 ||
        match_need_get(db, call, agency, id, (Chuang__Finance__FinancingNeed *)output) != 1)
        return service_call_sql_fail(call, NULL, "publish need");
    return s_emit(call, "finance.FinancingNeedPublished", "financing_need", id, output);
}

/* OK when the caller may act on product id: not a bank's key, or the key
 * that published it; NOT_FOUND when there is no such product. */
static Chuang__Status s_own_product(service_call_t *call, int64_t id,
                                    Chuang__Finance__LoanProduct **product)
{
    *product = service_call_alloc(call, sizeof **product);
    chuang__finance__loan_product__init(*product);
    char principal[128];
    Chuang__Status status = service_call_found(
        call,
        match_product_get(service_call_db(call), call, service_call_header(call)->agency, id,
                          *product, principal, sizeof principal),
        "read product", "no such product");
    if (status == CHUANG__STATUS__OK && service_call_acts_as(call, "bank") &&
        !streq(principal, service_call_principal(call)->name))
        return service_call_fail(call, CHUANG__STATUS__PERMISSION_DENIED, "another bank's product",
                                 "A bank acts on the products it published.", NULL);
    return status;
}

Chuang__Status handle_match_need(service_call_t *call, const ProtobufCMessage *input,
                                 ProtobufCMessage *output)
{
    const Chuang__Finance__MatchRequest *request = (const Chuang__Finance__MatchRequest *)input;
    if (request->id < 1)
        return service_call_violation(call, "id", "must be the id of a financing need");
    PGconn *db = service_call_db(call);
    const char *agency = service_call_header(call)->agency;
    Chuang__Finance__FinancingNeed *need = service_call_alloc(call, sizeof *need);
    chuang__finance__financing_need__init(need);
    Chuang__Status status =
        service_call_found(call, match_need_get(db, call, agency, request->id, need), "read need",
                           "no such financing need");
    if (status != CHUANG__STATUS__OK)
        return status;
    return match_list(db, call, agency, request->id, true, (Chuang__Finance__MatchList *)output) < 0
               ? service_call_sql_fail(call, NULL, "match need")
               : CHUANG__STATUS__OK;
}

Chuang__Status handle_match_product(service_call_t *call, const ProtobufCMessage *input,
                                    ProtobufCMessage *output)
{
    const Chuang__Finance__MatchRequest *request = (const Chuang__Finance__MatchRequest *)input;
    if (request->id < 1)
        return service_call_violation(call, "id", "must be the id of a loan product");
    Chuang__Finance__LoanProduct *product;
    Chuang__Status status = s_own_product(call, request->id, &product);
    if (status != CHUANG__STATUS__OK)
        return status;
    return match_list(service_call_db(call), call, service_call_header(call)->agency, request->id,
                      false, (Chuang__Finance__MatchList *)output) < 0
               ? service_call_sql_fail(call, NULL, "match product")
               : CHUANG__STATUS__OK;
}

Chuang__Status handle_record_match_response(service_call_t *call, const ProtobufCMessage *input,
                                            ProtobufCMessage *output)
{
    const Chuang__Finance__MatchResponseRequest *r =
        (const Chuang__Finance__MatchResponseRequest *)input;
    static const char *const responses[] = {"contacted", "approved", "declined", "lent", NULL};
    if (r->need_id < 1)
        service_call_violation(call, "need_id", "must be the id of a financing need");
    if (r->product_id < 1)
        service_call_violation(call, "product_id", "must be the id of the bank's product");
    bool lent = streq(r->response, "lent");
    if (!checks_listed(responses, r->response))
        service_call_violation(call, "response", "must be contacted, approved, declined or lent");
    if (!checks_text_valid(r->reason, streq(r->response, "declined")))
        service_call_violation(call, "reason", "must say why, to decline (1 to %d characters)",
                               CHECKS_TEXT_MAX);
    if (lent ? r->amount_fen < 1 || r->amount_fen > AMOUNT_MAX : r->amount_fen != 0)
        service_call_violation(call, "amount_fen",
                               lent ? "must be the amount lent, 1 fen or more"
                                    : "must be 0 unless the loan is lent");
    if (!checks_day_valid(r->responded_on))
        service_call_violation(call, "responded_on",
                               "must be a date YYYY-MM-DD, or empty for today");
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    const char *day = r->responded_on;
    Chuang__Status status = checks_past_day(call, "responded_on", &day, NULL);
    if (status != CHUANG__STATUS__OK)
        return status;
    Chuang__Finance__LoanProduct *product;
    status = s_own_product(call, r->product_id, &product);
    if (status != CHUANG__STATUS__OK)
        return status;
    PGconn *db = service_call_db(call);
    const char *agency = service_call_header(call)->agency;
    Chuang__Finance__FinancingNeed *need = service_call_alloc(call, sizeof *need);
    chuang__finance__financing_need__init(need);
    status = service_call_found(call, match_need_get(db, call, agency, r->need_id, need),
                                "read need", "no such financing need");
    if (status != CHUANG__STATUS__OK)
        return status;
    if (!streq(need->status, "open"))
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION, "need not open",
                                 "The need is met or closed.", NULL);
    if (lent &&
        (r->amount_fen < product->amount_min_fen || r->amount_fen > product->amount_max_fen))
        return service_call_violation(
            call, "amount_fen", "is outside the product's range of %" PRId64 " to %" PRId64 " fen",
            product->amount_min_fen, product->amount_max_fen);
    Chuang__Finance__MatchResponse *response = (Chuang__Finance__MatchResponse *)output;
    if (match_respond(db, call, agency, r, day, service_call_recorded_by(call), response) != 1)
        return service_call_sql_fail(call, NULL, "record response");
    return s_emit(call, "finance.MatchResponded", "financing_need", r->need_id, output);
}

Chuang__Status handle_schedule_meeting(service_call_t *call, const ProtobufCMessage *input,
                                       ProtobufCMessage *output)
{
    const Chuang__Finance__MeetingRequest *r = (const Chuang__Finance__MeetingRequest *)input;
    if (!streq(r->kind, "bank_enterprise") && !streq(r->kind, "project_promotion"))
        service_call_violation(call, "kind", "must be bank_enterprise or project_promotion");
    if (!checks_text_valid(r->title, true))
        service_call_violation(call, "title", "must name the meeting");
    if (!*r->held_on || !checks_day_valid(r->held_on))
        service_call_violation(call, "held_on", "must be a date YYYY-MM-DD");
    if (!checks_text_valid(r->place, true))
        service_call_violation(call, "place", "must say where it is held");
    if (r->n_participants < 1 || r->n_participants > 500)
        service_call_violation(call, "participants", "must name 1 to 500 banks and entities");
    char path[48];
    for (size_t i = 0; i < r->n_participants && i < 500; i++) {
        const Chuang__Finance__MeetingParticipant *p = r->participants[i];
        snprintf(path, sizeof path, "participants.%zu", i);
        bool duplicate = false;
        for (size_t j = 0; j < i; j++)
            duplicate = duplicate || streq(r->participants[j]->credit_code, p->credit_code);
        if ((!streq(p->role, "bank") && !streq(p->role, "entity")) ||
            !checks_credit_code_shaped(p->credit_code) || !checks_text_valid(p->name, true) ||
            duplicate)
            service_call_violation(call, path,
                                   "must be a bank or an entity, by its credit code and name, "
                                   "once");
    }
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    Chuang__Finance__Meeting *meeting = (Chuang__Finance__Meeting *)output;
    if (match_meeting_add(service_call_db(call), call, service_call_header(call)->agency, r,
                          service_call_recorded_by(call), meeting) != 1)
        return service_call_sql_fail(call, NULL, "schedule meeting");
    return s_emit(call, "finance.MeetingScheduled", "meeting", meeting->id, output);
}

Chuang__Status handle_get_bank_lending(service_call_t *call, const ProtobufCMessage *input,
                                       ProtobufCMessage *output)
{
    const Chuang__Finance__BankLendingRequest *r =
        (const Chuang__Finance__BankLendingRequest *)input;
    if (!checks_credit_code_shaped(r->bank_credit_code))
        service_call_violation(call, "bank_credit_code", "must be the branch's credit code");
    if (r->year != 0 && (r->year < 2000 || r->year > 2200))
        service_call_violation(call, "year", "must be a year, or 0 for this year");
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    int year = r->year;
    Chuang__Status status = service_call_year(call, &year);
    if (status != CHUANG__STATUS__OK)
        return status;
    return match_lending(service_call_db(call), call, service_call_header(call)->agency,
                         r->bank_credit_code, year, (Chuang__Finance__BankLending *)output) == 1
               ? CHUANG__STATUS__OK
               : service_call_sql_fail(call, NULL, "bank lending");
}
