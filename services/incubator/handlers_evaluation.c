/*
 * handlers_evaluation.c - the annual evaluation of carriers: each
 * carrier's figures for a year (tenants, graduates, jobs, patents filed,
 * financing raised, tenants' revenue, events held, mentor hours), reported
 * by its operator or an officer and then checked by an incubator officer
 * who did not report them (four eyes); an evaluation scheme as dated data
 * (criteria over those figures with weights in basis points summing to
 * 10000, each earning its full weight at a value the scheme sets); and
 * the agency's ranking of a year, scored on read under the scheme in force
 * on the day asked for, over checked figures only. A new scheme from a
 * later day changes the ranking from that day and leaves the earlier one
 * as it was.
 */
#include "handlers.h"
#include "handlers_private.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const s_metrics[] = {"tenants", "graduates",     "jobs",
                                        "patents", "financing_fen", "revenue_fen",
                                        "events",  "mentor_hours",  NULL};

#define YEAR_FIRST 2000

#define YEAR_COLUMNS                                                                               \
    "carrier AS carrier_code, year, tenants, graduates, jobs, patents, financing_fen,"             \
    " revenue_fen, events, mentor_hours, status, reported_by, checked_by"

/* Records a violation of "year" unless year is from YEAR_FIRST to the
 * agency's current year. Returns OK, INVALID_ARGUMENT or the query's
 * failure. */
static Chuang__Status s_past_year(service_call_t *call, int year)
{
    int now = 0;
    Chuang__Status status = service_call_year(call, &now);
    if (status != CHUANG__STATUS__OK)
        return status;
    if (year < YEAR_FIRST || year > now)
        return service_call_violation(call, "year", "must be a year from %d to %d", YEAR_FIRST,
                                      now);
    return CHUANG__STATUS__OK;
}

Chuang__Status handle_report_carrier_year(service_call_t *call, const ProtobufCMessage *input,
                                          ProtobufCMessage *output)
{
    const Chuang__Incubator__CarrierYear *y = (const Chuang__Incubator__CarrierYear *)input;
    const struct {
        const char *field;
        int64_t value;
        int64_t max;
    } figures[] = {
        {"tenants", y->tenants, COUNT_MAX},
        {"graduates", y->graduates, COUNT_MAX},
        {"jobs", y->jobs, COUNT_MAX},
        {"patents", y->patents, COUNT_MAX},
        {"financing_fen", y->financing_fen, AMOUNT_MAX},
        {"revenue_fen", y->revenue_fen, AMOUNT_MAX},
        {"events", y->events, COUNT_MAX},
        {"mentor_hours", y->mentor_hours, COUNT_MAX},
    };
    const char *values[12];
    char text[8][24], year[16];
    for (size_t i = 0; i < 8; i++) {
        if (!handlers_within(figures[i].value, false, figures[i].max))
            service_call_violation(call, figures[i].field, "must be 0 or more");
        snprintf(text[i], sizeof text[i], "%" PRId64, figures[i].value);
        values[3 + i] = text[i];
    }
    if (y->graduates > y->tenants)
        service_call_violation(call, "graduates", "must not be more than the tenants, %" PRId64,
                               y->tenants);
    Chuang__Status status = s_past_year(call, y->year);
    if (status != CHUANG__STATUS__OK && status != CHUANG__STATUS__INVALID_ARGUMENT)
        return status;
    carrier_ref_t carrier;
    status = handlers_carrier(call, "carrier_code", y->carrier_code, true, &carrier);
    if (status != CHUANG__STATUS__OK || service_call_has_violations(call))
        return service_call_has_violations(call) ? CHUANG__STATUS__INVALID_ARGUMENT : status;
    snprintf(year, sizeof year, "%d", y->year);
    values[0] = service_call_header(call)->agency;
    values[1] = carrier.code;
    values[2] = year;
    values[11] = service_call_recorded_by(call);
    Chuang__Status failure;
    /* A report replaces the one before it until an officer checks it. */
    PGresult *res = service_call_query(
        call, "report carrier year",
        "INSERT INTO carrier_years (agency, carrier, year, tenants, graduates, jobs, patents,"
        "   financing_fen, revenue_fen, events, mentor_hours, status, reported_by)"
        " VALUES ($1, $2, $3::int, $4::bigint, $5::bigint, $6::bigint, $7::bigint, $8::bigint,"
        "   $9::bigint, $10::bigint, $11::bigint, 'reported', $12)"
        " ON CONFLICT (agency, carrier, year) DO UPDATE SET tenants = excluded.tenants,"
        "   graduates = excluded.graduates, jobs = excluded.jobs, patents = excluded.patents,"
        "   financing_fen = excluded.financing_fen, revenue_fen = excluded.revenue_fen,"
        "   events = excluded.events, mentor_hours = excluded.mentor_hours,"
        "   reported_by = excluded.reported_by"
        "   WHERE carrier_years.status = 'reported'"
        " RETURNING " YEAR_COLUMNS,
        12, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION, "year checked",
                                 "The figures of this year have been checked and stand.", NULL);
    }
    status = service_call_row(call, res, 0, output);
    PQclear(res);
    if (status != CHUANG__STATUS__OK)
        return status;
    return handlers_emit(call, "incubator.CarrierYearReported", "carrier", carrier.code, output);
}

Chuang__Status handle_check_carrier_year(service_call_t *call, const ProtobufCMessage *input,
                                         ProtobufCMessage *output)
{
    const Chuang__Incubator__CheckYearRequest *request =
        (const Chuang__Incubator__CheckYearRequest *)input;
    carrier_ref_t carrier;
    Chuang__Status status =
        handlers_carrier(call, "carrier_code", request->carrier_code, false, &carrier);
    if (status != CHUANG__STATUS__OK)
        return status;
    char year[16];
    snprintf(year, sizeof year, "%d", request->year);
    const char *values[3] = {service_call_header(call)->agency, carrier.code, year};
    Chuang__Status failure;
    PGresult *res = service_call_query(call, "read carrier year",
                                       "SELECT status, reported_by FROM carrier_years"
                                       " WHERE agency = $1 AND carrier = $2 AND year = $3::int"
                                       " FOR UPDATE",
                                       3, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    if (PQntuples(res) == 0) {
        PQclear(res);
        service_call_violation(call, "year", "has no figures reported for this carrier");
        return service_call_fail(call, CHUANG__STATUS__NOT_FOUND, "no figures reported", NULL,
                                 NULL);
    }
    bool checked = streq(PQgetvalue(res, 0, 0), "checked");
    bool own = streq(PQgetvalue(res, 0, 1), service_call_recorded_by(call));
    PQclear(res);
    if (checked)
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION, "year checked",
                                 "The figures of this year have been checked already.", NULL);
    if (own)
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "figures reported by you",
                                 "Figures are checked by an officer who did not report them.",
                                 "Ask another incubator officer to check them.");
    const char *v[4] = {values[0], values[1], values[2], service_call_recorded_by(call)};
    res = service_call_query(call, "check carrier year",
                             "UPDATE carrier_years SET status = 'checked', checked_by = $4"
                             " WHERE agency = $1 AND carrier = $2 AND year = $3::int"
                             " RETURNING " YEAR_COLUMNS,
                             4, v, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    status = service_call_row(call, res, 0, output);
    PQclear(res);
    if (status != CHUANG__STATUS__OK)
        return status;
    return handlers_emit(call, "incubator.CarrierYearChecked", "carrier", carrier.code, output);
}

Chuang__Status handle_define_evaluation_scheme(service_call_t *call, const ProtobufCMessage *input,
                                               ProtobufCMessage *output)
{
    const Chuang__Incubator__SchemeRequest *request =
        (const Chuang__Incubator__SchemeRequest *)input;
    if (!checks_text_valid(request->document, true))
        service_call_violation(call, "document", "must name the policy that sets the scheme");
    if (request->n_criteria == 0)
        service_call_violation(call, "criteria", "must name at least one criterion");
    int64_t total = 0;
    for (size_t i = 0; i < request->n_criteria; i++) {
        const Chuang__Incubator__SchemeCriterion *c = request->criteria[i];
        char field[48];
        snprintf(field, sizeof field, "criteria.%zu.metric", i);
        if (!checks_listed(s_metrics, c->metric))
            service_call_violation(call, field,
                                   "must be tenants, graduates, jobs, patents, financing_fen, "
                                   "revenue_fen, events or mentor_hours");
        for (size_t k = 0; k < i; k++)
            if (streq(request->criteria[k]->metric, c->metric))
                service_call_violation(call, field, "is named twice");
        snprintf(field, sizeof field, "criteria.%zu.weight_bp", i);
        if (!handlers_within(c->weight_bp, true, 10000))
            service_call_violation(call, field, "must be from 1 to 10000 basis points");
        else
            total += c->weight_bp;
        snprintf(field, sizeof field, "criteria.%zu.full_at", i);
        if (!handlers_within(c->full_at, true, AMOUNT_MAX))
            service_call_violation(call, field, "must be the value that earns the full weight");
    }
    if (!service_call_has_violations(call) && total != 10000)
        service_call_violation(call, "criteria",
                               "must have weights that sum to 10000 basis points, not %" PRId64,
                               total);
    const char *from = request->effective_from;
    Chuang__Status status = handlers_future_day(call, "effective_from", &from);
    if (status != CHUANG__STATUS__OK || service_call_has_violations(call))
        return service_call_has_violations(call) ? CHUANG__STATUS__INVALID_ARGUMENT : status;
    for (size_t i = 0; i < request->n_criteria; i++) {
        const Chuang__Incubator__SchemeCriterion *c = request->criteria[i];
        char weight[24], full_at[24];
        snprintf(weight, sizeof weight, "%" PRId64, c->weight_bp);
        snprintf(full_at, sizeof full_at, "%" PRId64, c->full_at);
        const char *values[7] = {
            service_call_header(call)->agency, from, c->metric, weight, full_at, request->document,
            service_call_recorded_by(call)};
        Chuang__Status failure;
        PGresult *res = service_call_query(
            call, "define evaluation criterion",
            "INSERT INTO evaluation_criteria (agency, effective_from, metric, weight_bp, full_at,"
            "   document, recorded_by) VALUES ($1, $2::date, $3, $4::bigint, $5::bigint, $6, $7)"
            " ON CONFLICT DO NOTHING",
            7, values, PGRES_COMMAND_OK, &failure);
        if (!res)
            return failure;
        bool inserted = streq(PQcmdTuples(res), "1");
        PQclear(res);
        if (!inserted) {
            service_call_violation(call, "effective_from",
                                   "has a scheme already: define this one from another day");
            return service_call_fail(call, CHUANG__STATUS__ALREADY_EXISTS, "scheme exists", NULL,
                                     NULL);
        }
    }
    Chuang__Incubator__Scheme *scheme = (Chuang__Incubator__Scheme *)output;
    scheme->effective_from = (char *)from;
    scheme->criteria = request->criteria;
    scheme->n_criteria = request->n_criteria;
    scheme->document = request->document;
    return handlers_emit(call, "incubator.EvaluationSchemeDefined", "scheme", from, output);
}

Chuang__Status handle_get_evaluation(service_call_t *call, const ProtobufCMessage *input,
                                     ProtobufCMessage *output)
{
    const Chuang__Incubator__EvaluationRequest *request =
        (const Chuang__Incubator__EvaluationRequest *)input;
    Chuang__Incubator__Evaluation *evaluation = (Chuang__Incubator__Evaluation *)output;
    if (!checks_day_valid(request->day))
        return service_call_violation(call, "day", "must be a date YYYY-MM-DD, or empty for today");
    int year = request->year;
    Chuang__Status status = service_call_year(call, &year);
    if (status != CHUANG__STATUS__OK)
        return status;
    if (request->year == 0)
        year -= 1; /* last year: the latest that can have been reported in full */
    const char *day = request->day;
    status = service_call_today(call, &day);
    if (status != CHUANG__STATUS__OK)
        return status;
    const char *values[2] = {service_call_header(call)->agency, day};
    Chuang__Status failure;
    PGresult *res = service_call_query(
        call, "read evaluation scheme",
        "SELECT effective_from::text AS _from, metric, weight_bp, full_at, document AS _document"
        " FROM evaluation_criteria WHERE agency = $1"
        "   AND effective_from = (SELECT max(effective_from) FROM evaluation_criteria"
        "     WHERE agency = $1 AND effective_from <= $2::date)"
        " ORDER BY weight_bp DESC, metric",
        2, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "no evaluation scheme in force",
                                 "No evaluation scheme is in force on the day asked for.",
                                 "An incubator officer must define one first.");
    }
    evaluation->year = year;
    Chuang__Incubator__Scheme *scheme = service_call_alloc(call, sizeof *scheme);
    chuang__incubator__scheme__init(scheme);
    scheme->effective_from = service_call_strdup(call, PQgetvalue(res, 0, 0));
    scheme->document = service_call_strdup(call, PQgetvalue(res, 0, 4));
    status = service_call_rows(call, res, -1, &chuang__incubator__scheme_criterion__descriptor,
                               &scheme->criteria, &scheme->n_criteria);
    PQclear(res);
    if (status != CHUANG__STATUS__OK)
        return status;
    evaluation->scheme = scheme;
    /* Each criterion earns weight × min(value, full_at) / full_at, rounded
     * down on the sum; equal scores share a rank. */
    char year_text[16];
    snprintf(year_text, sizeof year_text, "%d", year);
    const char *v[3] = {values[0], scheme->effective_from, year_text};
    res = service_call_query(
        call, "score carriers",
        "SELECT s.carrier_code, s.name, s.score_bp,"
        " rank() OVER (ORDER BY s.score_bp DESC) AS rank FROM ("
        "   SELECT y.carrier AS carrier_code, c.name,"
        "   floor(sum(e.weight_bp::numeric * least(incubator_metric(y, e.metric), e.full_at)"
        "     / e.full_at))::bigint AS score_bp"
        "   FROM carrier_years y JOIN carriers c ON c.agency = y.agency AND c.code = y.carrier"
        "   JOIN evaluation_criteria e ON e.agency = y.agency AND e.effective_from = $2::date"
        "   WHERE y.agency = $1 AND y.year = $3::int AND y.status = 'checked'"
        "   GROUP BY y.carrier, c.name) s"
        " ORDER BY s.score_bp DESC, s.carrier_code",
        3, v, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    status = service_call_rows(call, res, -1, &chuang__incubator__score__descriptor,
                               &evaluation->scores, &evaluation->n_scores);
    PQclear(res);
    return status;
}
