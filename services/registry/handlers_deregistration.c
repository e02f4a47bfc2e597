/*
 * handlers_deregistration.c - the registry's simplified-deregistration
 * handlers: ApplyDeregistration opens a public notice, ObjectToDeregistration
 * records an objection while it runs, GetDeregistration tells where it
 * stands.
 *
 * The notice lasts as many days as the deregistration_notice_days rule in
 * force says; an entity on the serious-violation list cannot apply. When
 * the notice ends, a job (jobs.c) decides: rejected when anyone objected,
 * else deregistered. A rejected application may be made again.
 */
#include "handlers.h"
#include "handlers_private.h"
#include "store.h"

#include <czmq.h>

/* Copies a deregistration row into its message (memory from call). */
static void s_deregistration_message(service_call_t *call, const store_deregistration_t *row,
                                     Chuang__Registry__Deregistration *message)
{
    message->credit_code = service_call_strdup(call, row->credit_code);
    message->status = service_call_strdup(call, row->status);
    message->applied_at_ms = row->applied_at_ms;
    message->notice_ends_at_ms = row->notice_ends_at_ms;
    message->decided_at_ms = row->decided_at_ms;
    message->objections = row->objections;
}

Chuang__Status handle_apply_deregistration(service_call_t *call, const ProtobufCMessage *input,
                                           ProtobufCMessage *output)
{
    const Chuang__Registry__DeregistrationRequest *request =
        (const Chuang__Registry__DeregistrationRequest *)input;
    if (!handlers_credit_code_valid(call, "credit_code", request->credit_code))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    store_entity_ref_t ref;
    Chuang__Status found = handlers_entity_ref(call, request->credit_code, true, true, &ref);
    if (found != CHUANG__STATUS__OK)
        return found;
    PGconn *db = service_call_db(call);
    if (!streq(ref.status, "registered"))
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "entity is already deregistered", NULL, NULL);
    Chuang__Registry__CreditStanding standing = CHUANG__REGISTRY__CREDIT_STANDING__INIT;
    if (store_listings_open(db, call, request->credit_code, &standing) < 0)
        return service_call_sql_fail(call, NULL, "read listings");
    for (size_t i = 0; i < standing.n_listings; i++)
        if (streq(standing.listings[i]->list, "dishonest"))
            return service_call_fail(
                call, CHUANG__STATUS__FAILED_PRECONDITION,
                "entity is on the serious-violation list",
                "Simplified deregistration is not open to an entity on the serious-violation "
                "list.",
                "Apply for an ordinary deregistration, or have the listing removed first.");
    int64_t days = 0;
    Chuang__Status ruled = service_call_rule(call, "deregistration_notice_days", NULL, &days);
    if (ruled != CHUANG__STATUS__OK)
        return ruled;
    if (days < 0)
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "no notice period in force",
                                 "The deregistration_notice_days rule in force is negative.",
                                 "An operator must correct the rule.");
    store_deregistration_t row;
    int opened = store_deregistration_open(db, request->credit_code, days, &row);
    if (opened < 0)
        return service_call_sql_fail(call, NULL, "open deregistration");
    if (opened == 0)
        return service_call_fail(call, CHUANG__STATUS__ALREADY_EXISTS,
                                 "a deregistration is already under way", NULL, NULL);
    s_deregistration_message(call, &row, (Chuang__Registry__Deregistration *)output);
    return service_call_emit(call, "registry.DeregistrationNoticed", request->credit_code,
                             CHUANG__VISIBILITY__VISIBILITY_PUBLIC, output);
}

Chuang__Status handle_object_to_deregistration(service_call_t *call, const ProtobufCMessage *input,
                                               ProtobufCMessage *output)
{
    const Chuang__Registry__ObjectionRequest *request =
        (const Chuang__Registry__ObjectionRequest *)input;
    handlers_credit_code_valid(call, "credit_code", request->credit_code);
    handlers_text_valid(call, "objector", request->objector, 200);
    handlers_text_valid(call, "reason", request->reason, REASON_MAX_BYTES);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    store_entity_ref_t ref;
    Chuang__Status known = handlers_entity_ref(call, request->credit_code, false, false, &ref);
    if (known != CHUANG__STATUS__OK)
        return known;
    PGconn *db = service_call_db(call);
    store_deregistration_t row;
    int found = store_deregistration_lock(db, request->credit_code, &row);
    if (found < 0)
        return service_call_sql_fail(call, NULL, "read deregistration");
    if (found == 0)
        return service_call_fail(call, CHUANG__STATUS__NOT_FOUND, "no deregistration to object to",
                                 NULL, NULL);
    if (!streq(row.status, "noticed") || row.notice_over) {
        service_call_violation(call, "credit_code", "its deregistration notice has ended");
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION, "notice period ended",
                                 "Objections are taken only during the public notice.", NULL);
    }
    if (store_objection_add(db, request->credit_code, request->objector, request->reason) != 0 ||
        store_deregistration_lock(db, request->credit_code, &row) != 1)
        return service_call_sql_fail(call, NULL, "add objection");
    s_deregistration_message(call, &row, (Chuang__Registry__Deregistration *)output);
    return service_call_emit(call, "registry.DeregistrationObjected", request->credit_code,
                             CHUANG__VISIBILITY__VISIBILITY_PUBLIC, output);
}

Chuang__Status handle_get_deregistration(service_call_t *call, const ProtobufCMessage *input,
                                         ProtobufCMessage *output)
{
    const Chuang__Registry__DeregistrationRequest *request =
        (const Chuang__Registry__DeregistrationRequest *)input;
    if (!handlers_credit_code_valid(call, "credit_code", request->credit_code))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    store_entity_ref_t ref;
    Chuang__Status known = handlers_entity_ref(call, request->credit_code, false, false, &ref);
    if (known != CHUANG__STATUS__OK)
        return known;
    store_deregistration_t row;
    int found = store_deregistration_lock(service_call_db(call), request->credit_code, &row);
    if (found < 0)
        return service_call_sql_fail(call, NULL, "read deregistration");
    if (found == 0)
        return service_call_fail(call, CHUANG__STATUS__NOT_FOUND, "no deregistration", NULL, NULL);
    s_deregistration_message(call, &row, (Chuang__Registry__Deregistration *)output);
    return CHUANG__STATUS__OK;
}
