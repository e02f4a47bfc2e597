/*
 * handlers_credit.c - the registry's credit handlers: AddToList and
 * RemoveFromList (the abnormal-operations list and the serious-violation,
 * "dishonest", list), GetCreditStanding and FileAnnualReport.
 *
 * An entity is on a list while its listing there is open; its standing is
 * the worst list it is on ("dishonest", then "abnormal", else "good"). A
 * late annual report closes the abnormal listing that its absence opened
 * (the annual check in jobs.c opens those). Every listing and removal is a
 * public event.
 */
#include "handlers.h"
#include "handlers_private.h"
#include "store.h"

#include <czmq.h>

static bool s_list_valid(service_call_t *call, const char *list)
{
    if (streq(list, "abnormal") || streq(list, "dishonest"))
        return true;
    service_call_violation(call, "list", "must be \"abnormal\" or \"dishonest\"");
    return false;
}

Chuang__Status handle_add_to_list(service_call_t *call, const ProtobufCMessage *input,
                                  ProtobufCMessage *output)
{
    const Chuang__Registry__AddToListRequest *request =
        (const Chuang__Registry__AddToListRequest *)input;
    handlers_credit_code_valid(call, "credit_code", request->credit_code);
    s_list_valid(call, request->list);
    handlers_text_valid(call, "reason", request->reason, REASON_MAX_BYTES);
    handlers_text_valid(call, "authority", request->authority, 200);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    store_entity_ref_t ref;
    Chuang__Status found = handlers_entity_ref(call, request->credit_code, true, false, &ref);
    if (found != CHUANG__STATUS__OK)
        return found;
    int added =
        store_listing_add(service_call_db(call), call, request->credit_code, request->list,
                          request->reason, request->authority, (Chuang__Registry__Listing *)output);
    if (added < 0)
        return service_call_sql_fail(call, NULL, "add listing");
    if (added == 0)
        return service_call_fail(call, CHUANG__STATUS__ALREADY_EXISTS, "already on that list", NULL,
                                 "Remove the open listing first to list it anew.");
    return service_call_emit(call,
                             streq(request->list, "abnormal") ? "registry.ListedAbnormal"
                                                              : "registry.ListedDishonest",
                             request->credit_code, CHUANG__VISIBILITY__VISIBILITY_PUBLIC, output);
}

Chuang__Status handle_remove_from_list(service_call_t *call, const ProtobufCMessage *input,
                                       ProtobufCMessage *output)
{
    const Chuang__Registry__RemoveFromListRequest *request =
        (const Chuang__Registry__RemoveFromListRequest *)input;
    handlers_credit_code_valid(call, "credit_code", request->credit_code);
    s_list_valid(call, request->list);
    handlers_text_valid(call, "reason", request->reason, REASON_MAX_BYTES);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    store_entity_ref_t ref;
    Chuang__Status found = handlers_entity_ref(call, request->credit_code, true, false, &ref);
    if (found != CHUANG__STATUS__OK)
        return found;
    int removed =
        store_listing_remove(service_call_db(call), call, request->credit_code, request->list,
                             request->reason, (Chuang__Registry__Listing *)output);
    if (removed < 0)
        return service_call_sql_fail(call, NULL, "remove listing");
    if (removed == 0)
        return service_call_fail(call, CHUANG__STATUS__NOT_FOUND, "not on that list", NULL, NULL);
    return service_call_emit(call,
                             streq(request->list, "abnormal") ? "registry.RemovedAbnormal"
                                                              : "registry.RemovedDishonest",
                             request->credit_code, CHUANG__VISIBILITY__VISIBILITY_PUBLIC, output);
}

Chuang__Status handle_get_credit_standing(service_call_t *call, const ProtobufCMessage *input,
                                          ProtobufCMessage *output)
{
    const Chuang__Registry__CreditStandingRequest *request =
        (const Chuang__Registry__CreditStandingRequest *)input;
    Chuang__Registry__CreditStanding *standing = (Chuang__Registry__CreditStanding *)output;
    if (!handlers_credit_code_valid(call, "credit_code", request->credit_code))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    store_entity_ref_t ref;
    Chuang__Status found = handlers_entity_ref(call, request->credit_code, false, false, &ref);
    if (found != CHUANG__STATUS__OK)
        return found;
    if (store_listings_open(service_call_db(call), call, request->credit_code, standing) < 0)
        return service_call_sql_fail(call, NULL, "read listings");
    standing->credit_code = request->credit_code;
    standing->standing = "good";
    for (size_t i = 0; i < standing->n_listings; i++) {
        if (streq(standing->listings[i]->list, "dishonest"))
            standing->standing = "dishonest";
        else if (!streq(standing->standing, "dishonest"))
            standing->standing = "abnormal";
    }
    return CHUANG__STATUS__OK;
}

Chuang__Status handle_file_annual_report(service_call_t *call, const ProtobufCMessage *input,
                                         ProtobufCMessage *output)
{
    const Chuang__Registry__FileAnnualReportRequest *request =
        (const Chuang__Registry__FileAnnualReportRequest *)input;
    Chuang__Registry__AnnualReport *report = (Chuang__Registry__AnnualReport *)output;
    int this_year = handlers_today(call) / 10000;
    handlers_credit_code_valid(call, "credit_code", request->credit_code);
    if (request->year < 2000 || request->year >= this_year)
        service_call_violation(call, "year", "must be a past year from 2000 to %d", this_year - 1);
    if (request->employees < 0)
        service_call_violation(call, "employees", "must not be negative");
    if (request->revenue_fen < 0 || request->revenue_fen > CAPITAL_MAX_FEN)
        service_call_violation(call, "revenue_fen", "must be between 0 and %lld fen",
                               CAPITAL_MAX_FEN);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    store_entity_ref_t ref;
    Chuang__Status found = handlers_entity_ref(call, request->credit_code, true, true, &ref);
    if (found != CHUANG__STATUS__OK)
        return found;
    if (!streq(ref.status, "registered"))
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "entity is deregistered", NULL, NULL);
    PGconn *db = service_call_db(call);
    int added = store_annual_report_add(db, request, &report->filed_at_ms);
    if (added < 0)
        return service_call_sql_fail(call, NULL, "add annual report");
    if (added == 0) {
        service_call_violation(call, "year", "the report for %d is already filed", request->year);
        return service_call_fail(call, CHUANG__STATUS__ALREADY_EXISTS,
                                 "annual report already filed", NULL, NULL);
    }
    report->credit_code = request->credit_code;
    report->year = request->year;
    report->employees = request->employees;
    report->revenue_fen = request->revenue_fen;

    /* A late report takes the entity off the abnormal list the missing one
     * put it on. */
    Chuang__Registry__CreditStanding standing = CHUANG__REGISTRY__CREDIT_STANDING__INIT;
    if (store_listings_open(db, call, request->credit_code, &standing) < 0)
        return service_call_sql_fail(call, NULL, "read listings");
    char expected[96];
    snprintf(expected, sizeof expected, "annual report for %d not filed", request->year);
    for (size_t i = 0; i < standing.n_listings; i++) {
        if (!streq(standing.listings[i]->list, "abnormal") ||
            strncmp(standing.listings[i]->reason, expected, strlen(expected)) != 0)
            continue;
        Chuang__Registry__Listing *removed = service_call_alloc(call, sizeof *removed);
        chuang__registry__listing__init(removed);
        if (store_listing_remove(db, call, request->credit_code, "abnormal",
                                 "annual report filed late", removed) < 0)
            return service_call_sql_fail(call, NULL, "remove listing");
        Chuang__Status emitted =
            service_call_emit(call, "registry.RemovedAbnormal", request->credit_code,
                              CHUANG__VISIBILITY__VISIBILITY_PUBLIC, &removed->base);
        if (emitted != CHUANG__STATUS__OK)
            return emitted;
        report->removed_from_abnormal = true;
    }
    return service_call_emit(call, "registry.AnnualReportFiled", request->credit_code,
                             CHUANG__VISIBILITY__VISIBILITY_PUBLIC, output);
}
