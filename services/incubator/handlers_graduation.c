/*
 * handlers_graduation.c - graduation (毕业): what a type of carrier asks
 * of its tenants as dated data (every required criterion, and one of the
 * others when there are any: months in residence, revenue, financing
 * raised, jobs, being registered), and an officer's decision that a
 * tenant graduates, tested against the criteria in force on the day, with
 * each criterion's result kept. A graduation certified successful (孵化成功)
 * is what finance opens the agency's incubation subsidy for, from the
 * event incubator.TenantGraduated; the subsidy's progress comes back from
 * finance's events (subsidies.c).
 */
#include "handlers.h"
#include "handlers_private.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const s_types[] = {
    "nursery",        "incubator",       "accelerator", "maker_space", "entrepreneurship_base",
    "tech_incubator", "university_park", NULL};
static const checks_move_t s_moves_graduation[] = {{"admitted", "graduated"}, {NULL, NULL}};
static const char *const s_criteria[] = {
    "months_in_residence", "revenue_fen", "financing_fen", "jobs", "registered", NULL};

Chuang__Status handle_define_graduation_criteria(service_call_t *call,
                                                 const ProtobufCMessage *input,
                                                 ProtobufCMessage *output)
{
    const Chuang__Incubator__CriteriaRequest *request =
        (const Chuang__Incubator__CriteriaRequest *)input;
    if (!checks_listed(s_types, request->carrier_type))
        service_call_violation(call, "carrier_type", "is not a type of carrier");
    if (!checks_text_valid(request->document, true))
        service_call_violation(call, "document", "must name the policy that sets the criteria");
    if (request->n_criteria == 0)
        service_call_violation(call, "criteria", "must name at least one criterion");
    for (size_t i = 0; i < request->n_criteria; i++) {
        const Chuang__Incubator__Criterion *c = request->criteria[i];
        char field[48];
        snprintf(field, sizeof field, "criteria.%zu.criterion", i);
        if (!checks_listed(s_criteria, c->criterion))
            service_call_violation(call, field,
                                   "must be months_in_residence, revenue_fen, financing_fen, "
                                   "jobs or registered");
        for (size_t k = 0; k < i; k++)
            if (streq(request->criteria[k]->criterion, c->criterion))
                service_call_violation(call, field, "is named twice");
        snprintf(field, sizeof field, "criteria.%zu.minimum", i);
        if (!handlers_within(c->minimum, false, AMOUNT_MAX) ||
            (streq(c->criterion, "registered") && c->minimum > 1))
            service_call_violation(call, field, "must be 0 or more (registered: 0 or 1)");
    }
    const char *from = request->effective_from;
    Chuang__Status status = handlers_future_day(call, "effective_from", &from);
    if (status != CHUANG__STATUS__OK || service_call_has_violations(call))
        return service_call_has_violations(call) ? CHUANG__STATUS__INVALID_ARGUMENT : status;
    const char *agency = service_call_header(call)->agency;
    for (size_t i = 0; i < request->n_criteria; i++) {
        const Chuang__Incubator__Criterion *c = request->criteria[i];
        char minimum[24];
        snprintf(minimum, sizeof minimum, "%" PRId64, c->minimum);
        const char *values[7] = {agency,
                                 request->carrier_type,
                                 from,
                                 c->criterion,
                                 minimum,
                                 c->required ? "t" : "f",
                                 request->document};
        const char *v[8] = {values[0], values[1], values[2], values[3],
                            values[4], values[5], values[6], service_call_recorded_by(call)};
        Chuang__Status failure;
        PGresult *res = service_call_query(
            call, "define criterion",
            "INSERT INTO graduation_criteria (agency, carrier_type, effective_from, criterion,"
            "   minimum, required, document, recorded_by)"
            " VALUES ($1, $2, $3::date, $4, $5::bigint, $6::boolean, $7, $8)"
            " ON CONFLICT DO NOTHING",
            8, v, PGRES_COMMAND_OK, &failure);
        if (!res)
            return failure;
        bool inserted = streq(PQcmdTuples(res), "1");
        PQclear(res);
        if (!inserted) {
            service_call_violation(call, "effective_from",
                                   "has criteria for this type already: define them from "
                                   "another day");
            return service_call_fail(call, CHUANG__STATUS__ALREADY_EXISTS, "criteria exist", NULL,
                                     NULL);
        }
    }
    Chuang__Incubator__CriteriaSet *set = (Chuang__Incubator__CriteriaSet *)output;
    set->carrier_type = request->carrier_type;
    set->effective_from = (char *)from;
    set->document = request->document;
    set->criteria = request->criteria;
    set->n_criteria = request->n_criteria;
    return handlers_emit(call, "incubator.GraduationCriteriaDefined", "criteria",
                         request->carrier_type, output);
}

/* What tenancy's graduation on day measures for criterion. */
static int64_t s_actual(const char *criterion, const Chuang__Incubator__GraduationRequest *g,
                        const Chuang__Incubator__Tenancy *tenancy, int64_t months)
{
    if (streq(criterion, "months_in_residence"))
        return months;
    if (streq(criterion, "revenue_fen"))
        return g->revenue_fen;
    if (streq(criterion, "financing_fen"))
        return g->financing_fen;
    if (streq(criterion, "jobs"))
        return g->jobs;
    return *tenancy->team->credit_code ? 1 : 0; /* registered */
}

/* The field of a GraduationRequest that criterion tests. */
static const char *s_field(const char *criterion)
{
    return streq(criterion, "months_in_residence") ? "graduated_on"
           : streq(criterion, "registered")        ? "id"
                                                   : criterion;
}

/* Tests tenancy against the criteria of its carrier's type in force on
 * day, into a JSON array of results (call memory) in *json. Records a
 * violation for each that does not hold as it must. Returns OK,
 * INVALID_ARGUMENT, FAILED_PRECONDITION when no criteria are in force, or
 * the query's failure. */
static Chuang__Status s_test(service_call_t *call, const Chuang__Incubator__GraduationRequest *g,
                             const Chuang__Incubator__Tenancy *tenancy, const char *day,
                             char **json)
{
    const char *values[4] = {service_call_header(call)->agency, tenancy->carrier_type, day,
                             tenancy->agreement->start_on};
    Chuang__Status failure;
    PGresult *res = service_call_query(
        call, "read criteria",
        "SELECT criterion, minimum, required,"
        " (SELECT (extract(year FROM age($3::date, $4::date)) * 12"
        "   + extract(month FROM age($3::date, $4::date)))::bigint)"
        " FROM graduation_criteria WHERE agency = $1 AND carrier_type = $2"
        "   AND effective_from = (SELECT max(effective_from) FROM graduation_criteria"
        "     WHERE agency = $1 AND carrier_type = $2 AND effective_from <= $3::date)"
        " ORDER BY required DESC, criterion",
        4, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    int rows = PQntuples(res);
    if (rows == 0) {
        PQclear(res);
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "no graduation criteria in force",
                                 "No criteria for graduating from this type of carrier are in "
                                 "force on the graduation day.",
                                 "An incubator officer must define them first.");
    }
    size_t size = 64 + (size_t)rows * 160;
    char *text = service_call_alloc(call, size);
    size_t used = (size_t)snprintf(text, size, "[");
    bool optional = false, one_holds = false;
    for (int i = 0; i < rows; i++) {
        const char *criterion = PQgetvalue(res, i, 0);
        int64_t minimum = strtoll(PQgetvalue(res, i, 1), NULL, 10);
        bool required = streq(PQgetvalue(res, i, 2), "t");
        int64_t actual = s_actual(criterion, g, tenancy, strtoll(PQgetvalue(res, i, 3), NULL, 10));
        bool holds = actual >= minimum;
        if (required && !holds)
            service_call_violation(call, s_field(criterion),
                                   "gives %s %" PRId64 ", short of the %" PRId64 " graduation asks",
                                   criterion, actual, minimum);
        if (!required) {
            optional = true;
            one_holds = one_holds || holds;
        }
        used += (size_t)snprintf(text + used, size - used,
                                 "%s{\"criterion\":\"%s\",\"required\":%s,\"minimum\":%" PRId64
                                 ",\"actual\":%" PRId64 ",\"holds\":%s}",
                                 i ? "," : "", criterion, required ? "true" : "false", minimum,
                                 actual, holds ? "true" : "false");
    }
    snprintf(text + used, size - used, "]");
    if (optional && !one_holds) {
        for (int i = 0; i < rows; i++)
            if (!streq(PQgetvalue(res, i, 2), "t"))
                service_call_violation(call, s_field(PQgetvalue(res, i, 0)),
                                       "must reach %s of at least %s, or another of the "
                                       "criteria of which one must hold",
                                       PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
    }
    PQclear(res);
    *json = text;
    return service_call_has_violations(call) ? CHUANG__STATUS__INVALID_ARGUMENT
                                             : CHUANG__STATUS__OK;
}

Chuang__Status handle_graduate_tenant(service_call_t *call, const ProtobufCMessage *input,
                                      ProtobufCMessage *output)
{
    const Chuang__Incubator__GraduationRequest *g =
        (const Chuang__Incubator__GraduationRequest *)input;
    Chuang__Incubator__Tenancy *tenancy = (Chuang__Incubator__Tenancy *)output;
    if (!handlers_within(g->revenue_fen, false, AMOUNT_MAX))
        service_call_violation(call, "revenue_fen", "must be 0 or more fen");
    if (!handlers_within(g->financing_fen, false, AMOUNT_MAX))
        service_call_violation(call, "financing_fen", "must be 0 or more fen");
    if (!handlers_within(g->jobs, false, COUNT_MAX))
        service_call_violation(call, "jobs", "must be 0 or more");
    Chuang__Status status = handlers_tenancy(call, "id", g->id, true, tenancy);
    if (status != CHUANG__STATUS__OK)
        return status;
    if (!tenancy->agreement || streq(tenancy->status, "applied") ||
        streq(tenancy->status, "declined"))
        return service_call_violation(call, "id",
                                      "is a tenancy that was never admitted: only a tenant who "
                                      "entered can graduate");
    status = checks_move_allowed(call, s_moves_graduation, "tenancy", tenancy->status, "graduated");
    if (status != CHUANG__STATUS__OK)
        return status;
    const char *day = g->graduated_on;
    status = checks_past_day(call, "graduated_on", &day, tenancy->agreement->start_on);
    if (status != CHUANG__STATUS__OK || service_call_has_violations(call))
        return service_call_has_violations(call) ? CHUANG__STATUS__INVALID_ARGUMENT : status;
    char *json = NULL;
    status = s_test(call, g, tenancy, day, &json);
    if (status != CHUANG__STATUS__OK)
        return status;
    char id[24], revenue[24], financing[24], jobs[24];
    snprintf(id, sizeof id, "%" PRId64, g->id);
    snprintf(revenue, sizeof revenue, "%" PRId64, g->revenue_fen);
    snprintf(financing, sizeof financing, "%" PRId64, g->financing_fen);
    snprintf(jobs, sizeof jobs, "%" PRId64, g->jobs);
    const char *values[8] = {id,   day,  g->successful ? "t" : "f",     revenue, financing,
                             jobs, json, service_call_recorded_by(call)};
    Chuang__Status failure;
    PGresult *res = service_call_query(
        call, "graduate tenant",
        "WITH a AS (UPDATE agreements SET released_on = $2::date + 1"
        "   WHERE tenancy = $1::bigint AND released_on IS NULL),"
        " t AS (UPDATE tenancies SET status = 'graduated', ended_on = $2::date"
        "   WHERE id = $1::bigint)"
        " INSERT INTO graduations (tenancy, graduated_on, successful, revenue_fen, financing_fen,"
        "   jobs, criteria, decided_by)"
        " VALUES ($1::bigint, $2::date, $3::boolean, $4::bigint, $5::bigint, $6::bigint,"
        "   $7::jsonb, $8)",
        8, values, PGRES_COMMAND_OK, &failure);
    if (!res)
        return failure;
    PQclear(res);
    chuang__incubator__tenancy__init(tenancy);
    return handlers_tenancy_emit(call, g->id, "incubator.TenantGraduated", output);
}
