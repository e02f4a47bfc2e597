/*
 * handlers_spaces.c - a carrier's spaces (units, offices, desks, each with
 * its floor area) and the rent of each kind of space as dated data: the
 * rent in force on a day is the one that started latest on or before it,
 * and a new rent starts today or later, so that what an agreement was
 * priced on is never rewritten.
 */
#include "handlers.h"
#include "handlers_private.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>

static const char *const s_kinds[] = {"unit", "office", "desk", NULL};

/* A space's columns as Space fields, as of the agency's today ($1). */
#define SPACE_COLUMNS                                                                              \
    "s.carrier AS carrier_code, s.code, s.kind, s.area_m2,"                                        \
    " coalesce(incubator_rent(s.agency, s.carrier, s.kind, chuang_today($1)), 0)"                  \
    "   AS rent_fen_per_m2_month,"                                                                 \
    " NOT EXISTS (SELECT 1 FROM agreements a JOIN tenancies t ON t.id = a.tenancy"                 \
    "   WHERE a.space = s.id AND t.status = 'admitted'"                                            \
    "   AND chuang_today($1) BETWEEN a.start_on AND a.end_on) AS vacant"

Chuang__Status handle_add_space(service_call_t *call, const ProtobufCMessage *input,
                                ProtobufCMessage *output)
{
    const Chuang__Incubator__SpaceRequest *request = (const Chuang__Incubator__SpaceRequest *)input;
    if (!checks_text_valid(request->code, true) || strlen(request->code) > 32)
        service_call_violation(call, "code",
                               "must be the space's number, e.g. A-301 (1 to 32 "
                               "bytes)");
    if (!checks_listed(s_kinds, request->kind))
        service_call_violation(call, "kind", "must be unit, office or desk");
    if (!handlers_within(request->area_m2, true, AREA_MAX))
        service_call_violation(call, "area_m2", "must be more than 0 square metres");
    carrier_ref_t carrier;
    Chuang__Status status =
        handlers_carrier(call, "carrier_code", request->carrier_code, true, &carrier);
    if (status != CHUANG__STATUS__OK || service_call_has_violations(call))
        return service_call_has_violations(call) ? CHUANG__STATUS__INVALID_ARGUMENT : status;
    if (carrier.online)
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "an online carrier has no spaces",
                                 "Its tenants are admitted without a space.", NULL);
    char area[24];
    snprintf(area, sizeof area, "%" PRId64, request->area_m2);
    const char *values[5] = {service_call_header(call)->agency, carrier.code, request->code,
                             request->kind, area};
    Chuang__Status failure;
    PGresult *res = service_call_query(
        call, "add space",
        "WITH s AS (INSERT INTO spaces (agency, carrier, code, kind, area_m2)"
        "   VALUES ($1, $2, $3, $4, $5::bigint) ON CONFLICT DO NOTHING RETURNING *)"
        " SELECT " SPACE_COLUMNS " FROM s",
        5, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    if (PQntuples(res) == 0) {
        PQclear(res);
        service_call_violation(call, "code", "is the number of another space of this carrier");
        return service_call_fail(call, CHUANG__STATUS__ALREADY_EXISTS, "space exists", NULL, NULL);
    }
    status = service_call_row(call, res, 0, output);
    PQclear(res);
    if (status != CHUANG__STATUS__OK)
        return status;
    return handlers_emit(call, "incubator.SpaceAdded", "carrier", carrier.code, output);
}

Chuang__Status handle_set_rent(service_call_t *call, const ProtobufCMessage *input,
                               ProtobufCMessage *output)
{
    const Chuang__Incubator__RentRequest *request = (const Chuang__Incubator__RentRequest *)input;
    if (!checks_listed(s_kinds, request->kind))
        service_call_violation(call, "kind", "must be unit, office or desk");
    if (!handlers_within(request->fen_per_m2_month, false, AMOUNT_MAX))
        service_call_violation(call, "fen_per_m2_month", "must be 0 or more fen");
    if (!checks_text_valid(request->document, true))
        service_call_violation(call, "document", "must name the decision that set the rent");
    const char *from = request->effective_from;
    Chuang__Status status = handlers_future_day(call, "effective_from", &from);
    if (status != CHUANG__STATUS__OK && status != CHUANG__STATUS__INVALID_ARGUMENT)
        return status;
    carrier_ref_t carrier;
    status = handlers_carrier(call, "carrier_code", request->carrier_code, true, &carrier);
    if (status != CHUANG__STATUS__OK || service_call_has_violations(call))
        return service_call_has_violations(call) ? CHUANG__STATUS__INVALID_ARGUMENT : status;
    char fen[24];
    snprintf(fen, sizeof fen, "%" PRId64, request->fen_per_m2_month);
    const char *values[7] = {service_call_header(call)->agency,
                             carrier.code,
                             request->kind,
                             from,
                             fen,
                             request->document,
                             service_call_recorded_by(call)};
    Chuang__Status failure;
    PGresult *res = service_call_query(
        call, "set rent",
        "INSERT INTO rents (agency, carrier, kind, effective_from, fen_per_m2_month, document,"
        "   recorded_by) VALUES ($1, $2, $3, $4::date, $5::bigint, $6, $7)"
        " ON CONFLICT DO NOTHING"
        " RETURNING carrier AS carrier_code, kind, effective_from::text AS effective_from,"
        "   fen_per_m2_month, document",
        7, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    if (PQntuples(res) == 0) {
        PQclear(res);
        service_call_violation(call, "effective_from",
                               "has a rent for this kind already: set it from another day");
        return service_call_fail(call, CHUANG__STATUS__ALREADY_EXISTS, "rent exists", NULL, NULL);
    }
    status = service_call_row(call, res, 0, output);
    PQclear(res);
    if (status != CHUANG__STATUS__OK)
        return status;
    return handlers_emit(call, "incubator.RentSet", "carrier", carrier.code, output);
}

Chuang__Status handle_list_spaces(service_call_t *call, const ProtobufCMessage *input,
                                  ProtobufCMessage *output)
{
    const Chuang__Incubator__GetCarrierRequest *request =
        (const Chuang__Incubator__GetCarrierRequest *)input;
    Chuang__Incubator__SpaceList *reply = (Chuang__Incubator__SpaceList *)output;
    carrier_ref_t carrier;
    Chuang__Status status = handlers_carrier(call, "code", request->code, false, &carrier);
    if (status != CHUANG__STATUS__OK)
        return status;
    const char *values[2] = {service_call_header(call)->agency, carrier.code};
    Chuang__Status failure;
    PGresult *res = service_call_query(call, "list spaces",
                                       "SELECT " SPACE_COLUMNS " FROM spaces s"
                                       " WHERE s.agency = $1 AND s.carrier = $2 ORDER BY s.code",
                                       2, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    status = service_call_rows(call, res, -1, &chuang__incubator__space__descriptor, &reply->spaces,
                               &reply->n_spaces);
    PQclear(res);
    return status;
}
