/*
 * handlers_targets.c - the agency's breakdown of targets by responsible
 * unit (目标任务分解表: a department or town, an indicator such as maker
 * spaces or incubated firms, a year and the number to reach) and the
 * progress found at each half-yearly inspection: what had been reached by
 * the end of the half, never less at the second than at the first, and
 * recorded only once that half has begun.
 */
#include "handlers.h"
#include "handlers_private.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define UNIT_MAX 64 /* bytes of a unit's name */

#define TARGET_COLUMNS                                                                             \
    "id, unit, indicator, year, target, first_half, second_half,"                                  \
    " greatest(first_half, second_half) * 10000 / target AS progress_bp"

Chuang__Status handle_set_target(service_call_t *call, const ProtobufCMessage *input,
                                 ProtobufCMessage *output)
{
    const Chuang__Incubator__TargetRequest *request =
        (const Chuang__Incubator__TargetRequest *)input;
    if (!checks_text_valid(request->unit, true) || strlen(request->unit) > UNIT_MAX)
        service_call_violation(call, "unit", "must name the responsible department or town");
    if (!checks_name_valid(request->indicator))
        service_call_violation(call, "indicator",
                               "must be an indicator's name, e.g. maker_spaces or "
                               "incubated_firms");
    if (!handlers_within(request->target, true, COUNT_MAX))
        service_call_violation(call, "target", "must be the number to reach, from 1");
    int now = 0;
    Chuang__Status status = service_call_year(call, &now);
    if (status != CHUANG__STATUS__OK)
        return status;
    if (request->year < now || request->year > now + 10)
        service_call_violation(call, "year", "must be a year from %d to %d", now, now + 10);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    char year[16], target[24];
    snprintf(year, sizeof year, "%d", request->year);
    snprintf(target, sizeof target, "%" PRId64, request->target);
    const char *values[6] = {
        service_call_header(call)->agency, request->unit, request->indicator, year, target,
        service_call_recorded_by(call)};
    Chuang__Status failure;
    PGresult *res = service_call_query(
        call, "set target",
        "INSERT INTO targets (agency, unit, indicator, year, target, recorded_by)"
        " VALUES ($1, $2, $3, $4::int, $5::bigint, $6) ON CONFLICT DO NOTHING"
        " RETURNING " TARGET_COLUMNS,
        6, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    if (PQntuples(res) == 0) {
        PQclear(res);
        service_call_violation(call, "indicator", "has a target for this unit and year already");
        return service_call_fail(call, CHUANG__STATUS__ALREADY_EXISTS, "target exists", NULL, NULL);
    }
    Chuang__Incubator__Target *t = (Chuang__Incubator__Target *)output;
    status = service_call_row(call, res, 0, output);
    PQclear(res);
    if (status != CHUANG__STATUS__OK)
        return status;
    return handlers_emit_id(call, "incubator.TargetSet", "target", t->id, output);
}

Chuang__Status handle_record_progress(service_call_t *call, const ProtobufCMessage *input,
                                      ProtobufCMessage *output)
{
    const Chuang__Incubator__ProgressRequest *request =
        (const Chuang__Incubator__ProgressRequest *)input;
    if (request->half != 1 && request->half != 2)
        service_call_violation(call, "half", "must be 1 or 2");
    if (!handlers_within(request->value, false, COUNT_MAX))
        service_call_violation(call, "value", "must be what was reached, 0 or more");
    if (request->id <= 0)
        service_call_violation(call, "id", "must be a target's number");
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, request->id);
    const char *values[2] = {service_call_header(call)->agency, id};
    Chuang__Status failure;
    PGresult *res = service_call_query(
        call, "read target",
        "SELECT year, first_half, second_half, chuang_today($1)::text FROM targets"
        " WHERE agency = $1 AND id = $2::bigint FOR UPDATE",
        2, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    if (PQntuples(res) == 0) {
        PQclear(res);
        service_call_violation(call, "id", "is not a target of this agency");
        return service_call_fail(call, CHUANG__STATUS__NOT_FOUND, "no such target", NULL, NULL);
    }
    int year = atoi(PQgetvalue(res, 0, 0));
    int64_t first = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    int64_t second = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    char today[16], begun[16];
    snprintf(today, sizeof today, "%s", PQgetvalue(res, 0, 3));
    PQclear(res);
    snprintf(begun, sizeof begun, "%04d-%s", year, request->half == 1 ? "01-01" : "07-01");
    if (strcmp(today, begun) < 0)
        service_call_violation(call, "half", "begins on %s: its progress is recorded from then",
                               begun);
    if (request->half == 2 && request->value < first)
        service_call_violation(call, "value",
                               "must not be less than the %" PRId64
                               " reached by the first half: progress is cumulative",
                               first);
    if (request->half == 1 && second > 0 && request->value > second)
        service_call_violation(call, "value",
                               "must not be more than the %" PRId64
                               " reached by the second half: progress is cumulative",
                               second);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    char value[24];
    snprintf(value, sizeof value, "%" PRId64, request->value);
    const char *v[3] = {id, value, service_call_recorded_by(call)};
    res = service_call_query(call, "record progress",
                             request->half == 1
                                 ? "UPDATE targets SET first_half = $2::bigint, recorded_by = $3"
                                   " WHERE id = $1::bigint RETURNING " TARGET_COLUMNS
                                 : "UPDATE targets SET second_half = $2::bigint, recorded_by = $3"
                                   " WHERE id = $1::bigint RETURNING " TARGET_COLUMNS,
                             3, v, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    Chuang__Status status = service_call_row(call, res, 0, output);
    PQclear(res);
    if (status != CHUANG__STATUS__OK)
        return status;
    return handlers_emit_id(call, "incubator.TargetProgressRecorded", "target", request->id,
                            output);
}

Chuang__Status handle_list_targets(service_call_t *call, const ProtobufCMessage *input,
                                   ProtobufCMessage *output)
{
    const Chuang__Incubator__TargetsRequest *request =
        (const Chuang__Incubator__TargetsRequest *)input;
    Chuang__Incubator__TargetList *list = (Chuang__Incubator__TargetList *)output;
    int year = request->year;
    Chuang__Status status = service_call_year(call, &year);
    if (status != CHUANG__STATUS__OK)
        return status;
    char year_text[16];
    snprintf(year_text, sizeof year_text, "%d", year);
    const char *values[2] = {service_call_header(call)->agency, year_text};
    Chuang__Status failure;
    PGresult *res = service_call_query(call, "list targets",
                                       "SELECT " TARGET_COLUMNS " FROM targets"
                                       " WHERE agency = $1 AND year = $2::int"
                                       " ORDER BY unit, indicator LIMIT 1000",
                                       2, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    status = service_call_rows(call, res, -1, &chuang__incubator__target__descriptor,
                               &list->targets, &list->n_targets);
    PQclear(res);
    return status;
}
