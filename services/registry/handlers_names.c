/*
 * handlers_names.c - the registry's name handlers: ReserveName holds an
 * enterprise name for an applicant, SearchNames lists the registered and
 * reserved names that contain a text.
 *
 * A name to reserve is parsed and checked by enterprise_name.h, then
 * against the agency's forbidden words, then against the names the
 * agency's entities and live reservations hold (store_name_taken
 * serialises that check per trade name and industry); the reservation
 * lasts as many days as the name_reservation_days rule in force says.
 * Registering and renaming an entity use it up (handlers_entities.c).
 */
#include "handlers.h"
#include "handlers_private.h"
#include "enterprise_name.h"
#include "identifiers.h"
#include "store.h"

#include <czmq.h>

#define SEARCH_LIMIT_MAX 100
#define SEARCH_DEFAULT   20

Chuang__Status handle_reserve_name(service_call_t *call, const ProtobufCMessage *input,
                                   ProtobufCMessage *output)
{
    const Chuang__Registry__ReserveNameRequest *request =
        (const Chuang__Registry__ReserveNameRequest *)input;
    Chuang__Registry__NameReservation *reply = (Chuang__Registry__NameReservation *)output;
    const char *agency = service_call_header(call)->agency;
    PGconn *db = service_call_db(call);

    bool valid = handlers_agency_valid(call);
    enterprise_name_t name;
    enterprise_name_violation_t violations[ENTERPRISE_NAME_MAX_VIOLATIONS];
    int count = enterprise_name_parse(request->region, request->trade_name, request->industry,
                                      request->organisational_form, NULL, &name, violations,
                                      ENTERPRISE_NAME_MAX_VIOLATIONS);
    for (int i = 0; i < count && i < ENTERPRISE_NAME_MAX_VIOLATIONS; i++)
        service_call_violation(call, violations[i].field, "%s", violations[i].description);
    valid = valid && count == 0;
    int length = enterprise_name_utf8_length(request->applicant_name);
    if (length < 1 || length > PERSON_NAME_MAX) {
        service_call_violation(call, "applicant_name", "must be 1 to %d characters of valid text",
                               PERSON_NAME_MAX);
        valid = false;
    }
    char reason[128];
    if (identifiers_resident_id_check(request->applicant_id_number, handlers_today(call), reason,
                                      sizeof reason) != 0) {
        service_call_violation(call, "applicant_id_number", "is not a valid resident ID number: %s",
                               reason);
        valid = false;
    }
    if (!valid)
        return CHUANG__STATUS__INVALID_ARGUMENT;
    if (!service_call_has_role(call, "officer") &&
        !service_call_is_person(call, request->applicant_id_number))
        return service_call_fail(call, CHUANG__STATUS__PERMISSION_DENIED,
                                 "applicant is not the caller",
                                 "An applicant reserves names in their own name only.",
                                 "Have an officer reserve the name for someone else.");

    char word[64];
    const char *fields[2] = {"trade_name", "industry"};
    const char *texts[2] = {name.trade_name, name.industry};
    for (int i = 0; i < 2; i++) {
        int found = store_forbidden_word(db, agency, texts[i], word, sizeof word);
        if (found < 0)
            return service_call_sql_fail(call, NULL, "forbidden words");
        if (found) {
            service_call_violation(call, fields[i],
                                   "contains a word this agency does not allow: %s", word);
            valid = false;
        }
    }
    if (!valid)
        return CHUANG__STATUS__INVALID_ARGUMENT;

    char holder[ENTERPRISE_NAME_FULL_SIZE];
    int taken = store_name_taken(db, agency, name.trade_name, name.industry, holder, sizeof holder);
    if (taken < 0)
        return service_call_sql_fail(call, NULL, "name conflict check");
    if (taken) {
        service_call_violation(
            call, "trade_name",
            "with this industry is already used by %s; choose another trade name", holder);
        return service_call_fail(call, CHUANG__STATUS__ALREADY_EXISTS, "name not available",
                                 "Another entity or a live reservation in this agency has the same "
                                 "trade name and industry.",
                                 "Choose another trade name, or another industry wording.");
    }
    int64_t days = 0;
    Chuang__Status ruled = service_call_rule(call, "name_reservation_days", NULL, &days);
    if (ruled != CHUANG__STATUS__OK)
        return ruled;
    if (days <= 0)
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "no reservation period in force",
                                 "The name_reservation_days rule in force is not a positive "
                                 "number of days.",
                                 "An operator must correct the rule.");

    char id[STORE_ID_SIZE], expires_on[STORE_DATE_SIZE];
    if (store_reservation_add(db, agency, &name, request->applicant_name,
                              request->applicant_id_number, days, id, expires_on) != 0)
        return service_call_sql_fail(call, NULL, "add reservation");
    reply->reservation_id = service_call_strdup(call, id);
    reply->name = service_call_strdup(call, name.full);
    reply->trade_name = service_call_strdup(call, name.trade_name);
    reply->industry = service_call_strdup(call, name.industry);
    reply->expires_on = service_call_strdup(call, expires_on);
    reply->status = "reserved";
    reply->applicant_id_number = request->applicant_id_number;
    return service_call_emit(call, "registry.NameReserved", id,
                             CHUANG__VISIBILITY__VISIBILITY_AGENCIES, output);
}

Chuang__Status handle_search_names(service_call_t *call, const ProtobufCMessage *input,
                                   ProtobufCMessage *output)
{
    const Chuang__Registry__SearchNamesRequest *request =
        (const Chuang__Registry__SearchNamesRequest *)input;
    bool valid = handlers_agency_valid(call);
    int length = enterprise_name_utf8_length(request->query);
    if (length < 1 || strlen(request->query) > REGION_QUERY_MAX) {
        service_call_violation(call, "query", "must be 1 to %d bytes of valid text",
                               REGION_QUERY_MAX);
        valid = false;
    }
    if (request->limit < 0 || request->limit > SEARCH_LIMIT_MAX) {
        service_call_violation(call, "limit", "must be between 1 and %d", SEARCH_LIMIT_MAX);
        valid = false;
    }
    if (!valid)
        return CHUANG__STATUS__INVALID_ARGUMENT;
    if (store_names_search(service_call_db(call), call, service_call_header(call)->agency,
                           request->query, request->limit ? request->limit : SEARCH_DEFAULT,
                           (Chuang__Registry__SearchNamesReply *)output) < 0)
        return service_call_sql_fail(call, NULL, "search names");
    return CHUANG__STATUS__OK;
}
