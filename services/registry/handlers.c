/*
 * handlers.c - what the registry's request handlers share (declared in
 * handlers_private.h): the checks of fields several aggregates take (the
 * envelope's agency, a credit code, a text), the agency's today, and the
 * one way a handler reaches an entity, with who may act on it. Also the
 * registry's field maxima for the framework (registry_bounds).
 *
 * The handlers themselves are in one file per aggregate: handlers_names.c,
 * handlers_entities.c, handlers_credit.c, handlers_deregistration.c and
 * handlers_licence.c. Each checks its input field by field, applies the
 * change through store.h and writes the event that reports it, all in the
 * request's one transaction.
 *
 * Bad input is answered INVALID_ARGUMENT with one violation per field, in
 * words a clerk can act on, before anything is written. The agency is the
 * envelope's: a registry serves one agency's register and assigns credit
 * codes under that agency's division code.
 */
#include "handlers.h"
#include "handlers_private.h"
#include "enterprise_name.h"
#include "identifiers.h"
#include "store.h"

#include <czmq.h>
#include <time.h>

const bounds_t registry_bounds[] = {
    {"chuang.registry.RegisterRequest.founders", FOUNDERS_MAX},
    {"chuang.registry.RegisterRequest.business_addresses", ADDRESSES_MAX},
    {"chuang.registry.Founder.categories", CATEGORIES_MAX},
    {NULL, 0},
};

int handlers_today(service_call_t *call)
{
    /* Asked once per request (a registration checks several ID numbers):
     * the answer is kept for the request this worker thread serves, for a
     * second at most, so that a client that sends one request id again and
     * again still gets the agency's date. */
    static __thread char request_id[64];
    static __thread int known;
    static __thread int64_t known_at;
    const Chuang__RequestHeader *header = service_call_header(call);
    if (known > 0 && header->request_id && streq(request_id, header->request_id) &&
        zclock_mono() - known_at < 1000)
        return known;
    int today = store_today(service_call_db(call), header->agency);
    if (today > 0) {
        snprintf(request_id, sizeof request_id, "%s", header->request_id ? header->request_id : "");
        known = *request_id ? today : 0;
        known_at = zclock_mono();
        return today;
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    return (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}

bool handlers_agency_valid(service_call_t *call)
{
    char reason[128];
    if (identifiers_division_check(service_call_header(call)->agency, reason, sizeof reason) == 0)
        return true;
    service_call_violation(call, "agency", "the request's agency %s", reason);
    return false;
}

bool handlers_credit_code_valid(service_call_t *call, const char *field, const char *code)
{
    char reason[128];
    if (identifiers_uscc_check(code, reason, sizeof reason) == 0)
        return true;
    service_call_violation(call, field, "%s", reason);
    return false;
}

bool handlers_text_valid(service_call_t *call, const char *field, const char *text, size_t max)
{
    if (*text && strlen(text) <= max && enterprise_name_utf8_length(text) > 0)
        return true;
    service_call_violation(call, field, "must be 1 to %zu bytes of valid text", max);
    return false;
}

Chuang__Status handlers_entity_load(service_call_t *call, const char *credit_code, const char *name,
                                    Chuang__Registry__Entity *entity)
{
    int found = store_entity_load(service_call_db(call), call, credit_code, name, entity);
    if (found < 0)
        return service_call_sql_fail(call, NULL, "read entity");
    if (found == 0 || !streq(entity->registration_agency, service_call_header(call)->agency))
        return service_call_fail(call, CHUANG__STATUS__NOT_FOUND, "no such entity", NULL, NULL);
    return CHUANG__STATUS__OK;
}

/* OK when the caller may act on the entity ref describes: an officer, or
 * the person who is its legal representative or reserved its name. */
static Chuang__Status s_owner_or_officer(service_call_t *call, const store_entity_ref_t *ref)
{
    if (service_call_has_role(call, "officer") ||
        service_call_is_person(call, ref->legal_rep_id_number) ||
        service_call_is_person(call, ref->applicant_id_number))
        return CHUANG__STATUS__OK;
    return service_call_fail(call, CHUANG__STATUS__PERMISSION_DENIED, "not your entity",
                             "Only the entity's legal representative, the person who reserved "
                             "its name, or an officer may do this.",
                             NULL);
}

Chuang__Status handlers_entity_ref(service_call_t *call, const char *credit_code, bool for_update,
                                   bool owner_only, store_entity_ref_t *ref)
{
    int found = store_entity_ref(service_call_db(call), credit_code, for_update, ref);
    if (found < 0)
        return service_call_sql_fail(call, NULL, "read entity");
    if (found == 0 || !streq(ref->agency, service_call_header(call)->agency))
        return service_call_fail(call, CHUANG__STATUS__NOT_FOUND, "no such entity", NULL, NULL);
    return owner_only ? s_owner_or_officer(call, ref) : CHUANG__STATUS__OK;
}
