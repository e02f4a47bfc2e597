/*
 * handlers.c - what the incubator's handlers share (handlers_private.h)
 * and its field maxima (incubator_bounds). The handlers are in one file
 * per aggregate (handlers.h).
 */
#include "handlers.h"
#include "handlers_private.h"

#include "db.h"
#include "personal.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>

const bounds_t incubator_bounds[] = {
    {"chuang.incubator.TenancyApplication.founders", 20},
    {"chuang.incubator.TeamFounder.categories", 6},
    {"chuang.incubator.CriteriaRequest.criteria", 5},
    {"chuang.incubator.SchemeRequest.criteria", 8},
    {"chuang.incubator.AttendanceRequest.tenancy_ids", 500},
    {"chuang.incubator.AttendanceRequest.guests", 500},
    {NULL, 0},
};

static void s_copy(char *to, size_t size, const PGresult *res, int column)
{
    snprintf(to, size, "%s", PQgetvalue(res, 0, column));
}

Chuang__Status handlers_carrier(service_call_t *call, const char *field, const char *code,
                                bool for_update, carrier_ref_t *carrier)
{
    if (!checks_code_valid(code))
        return service_call_violation(call, field, "is not a carrier's code");
    const char *values[2] = {service_call_header(call)->agency, code};
    Chuang__Status failure;
    PGresult *res = service_call_query(
        call, "read carrier",
        for_update ? "SELECT code, name, carrier_type, operator_credit_code, principal,"
                     " government_run, online FROM carriers WHERE agency = $1 AND code = $2"
                     " FOR UPDATE"
                   : "SELECT code, name, carrier_type, operator_credit_code, principal,"
                     " government_run, online FROM carriers WHERE agency = $1 AND code = $2",
        2, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    if (PQntuples(res) == 0) {
        PQclear(res);
        service_call_violation(call, field, "is not a carrier of this agency");
        return service_call_fail(call, CHUANG__STATUS__NOT_FOUND, "no such carrier", NULL, NULL);
    }
    s_copy(carrier->code, sizeof carrier->code, res, 0);
    s_copy(carrier->name, sizeof carrier->name, res, 1);
    s_copy(carrier->carrier_type, sizeof carrier->carrier_type, res, 2);
    s_copy(carrier->operator_credit_code, sizeof carrier->operator_credit_code, res, 3);
    s_copy(carrier->principal, sizeof carrier->principal, res, 4);
    carrier->government_run = streq(PQgetvalue(res, 0, 5), "t");
    carrier->online = streq(PQgetvalue(res, 0, 6), "t");
    PQclear(res);
    if (service_call_acts_as(call, "carrier") &&
        (!*carrier->principal || !streq(carrier->principal, service_call_principal(call)->name)))
        return service_call_fail(call, CHUANG__STATUS__PERMISSION_DENIED, "another carrier",
                                 "A carrier's key acts on the carrier it operates only.", NULL);
    return CHUANG__STATUS__OK;
}

Chuang__Status handlers_entity_of_area(service_call_t *call, const char *field,
                                       const char *credit_code)
{
    if (!checks_credit_code_shaped(credit_code))
        return service_call_violation(call, field,
                                      "must be a unified social credit code of 18 characters");
    const char *values[2] = {credit_code, service_call_header(call)->agency};
    Chuang__Status failure;
    PGresult *res = service_call_query(call, "read entity",
                                       "SELECT incubator_within($2, division), status"
                                       " FROM entities WHERE credit_code = $1",
                                       2, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    Chuang__Status status = CHUANG__STATUS__OK;
    if (PQntuples(res) == 0)
        status = service_call_violation(call, field,
                                        "is not an entity the registry has registered (a "
                                        "registration made just now may take a moment to "
                                        "arrive)");
    else if (!streq(PQgetvalue(res, 0, 0), "t"))
        status = service_call_violation(call, field, "is domiciled outside this agency's area");
    else if (!streq(PQgetvalue(res, 0, 1), "registered"))
        status = service_call_violation(call, field, "has been deregistered");
    PQclear(res);
    return status;
}

Chuang__Status handlers_emit(service_call_t *call, const char *type, const char *kind,
                             const char *key, const ProtobufCMessage *payload)
{
    char *aggregate = zsys_sprintf("%s:%s", kind, key);
    if (!aggregate)
        return service_call_fail(call, CHUANG__STATUS__INTERNAL, "out of memory", NULL, NULL);
    Chuang__Status status =
        service_call_emit(call, type, aggregate, CHUANG__VISIBILITY__VISIBILITY_INTERNAL, payload);
    zstr_free(&aggregate);
    return status;
}

Chuang__Status handlers_emit_id(service_call_t *call, const char *type, const char *kind,
                                int64_t id, const ProtobufCMessage *payload)
{
    char key[24];
    snprintf(key, sizeof key, "%" PRId64, id);
    return handlers_emit(call, type, kind, key, payload);
}

Chuang__Status handlers_future_day(service_call_t *call, const char *field, const char **day)
{
    if (!checks_day_valid(*day))
        return service_call_violation(call, field, "must be a date YYYY-MM-DD, or empty for today");
    const char *today = "";
    Chuang__Status status = service_call_today(call, &today);
    if (status != CHUANG__STATUS__OK)
        return status;
    if (!**day)
        *day = today;
    if (strcmp(*day, today) < 0)
        return service_call_violation(call, field, "must not be before today, %s", today);
    return CHUANG__STATUS__OK;
}

static void *s_call_alloc(void *call, size_t size)
{
    return service_call_alloc(call, size);
}

void handlers_mask_personal(service_call_t *call, ProtobufCMessage *message)
{
    if (!service_call_has_role(call, "incubator-officer") &&
        !service_call_has_role(call, "officer") && !service_call_has_role(call, "auditor"))
        personal_mask(message, s_call_alloc, call);
}

bool handlers_within(int64_t value, bool positive, int64_t max)
{
    return value >= (positive ? 1 : 0) && value <= max;
}
