/*
 * handlers_tenancies.c - teams and their tenancies: an application (by a
 * team of the nursery with its business plan and founders, by a
 * registered entity, or by a team the incubator knows already), its place
 * in the carrier's queue (a founder's category raises it: veterans first,
 * the rule admission_priority.<CATEGORY>), the decision (admission with an
 * agreement: the space, the period, the rent of the space's kind on the
 * first day and its relief — all of it in a government-run base, else the
 * highest rent_relief_bp.<CATEGORY> a founder holds), and the exit.
 *
 * One team is one identity from the nursery on: the registry's
 * EntityRegistered links it to its credit code (entities.c), and an
 * application by that credit code continues the same team. A team has at
 * most one open tenancy (applied or admitted) at a time.
 *
 * A space is never let twice for the same day: the agreements' exclusion
 * constraint decides between concurrent admissions, and the one that
 * loses is told which field to change.
 */
#include "handlers.h"
#include "handlers_private.h"

#include "db.h"
#include "db_array.h"
#include "identifiers.h"
#include "rules.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static const checks_move_t s_moves[] = {
    {"applied", "admitted"},
    {"applied", "declined"},
    {"admitted", "graduated"},
    {"admitted", "ended"},
    {NULL, NULL},
};
static const char *const s_outcomes[] = {"moved_out", "moved_on", "failed", "expelled", NULL};
static const char *const s_statuses[] = {"applied",   "admitted", "declined",
                                         "graduated", "ended",    NULL};

/* Carriers that take teams not registered yet. */
static bool s_takes_teams(const char *carrier_type)
{
    return streq(carrier_type, "nursery") || streq(carrier_type, "maker_space");
}

Chuang__Status handlers_team(service_call_t *call, int64_t id, Chuang__Incubator__Team *team)
{
    char key[24];
    snprintf(key, sizeof key, "%" PRId64, id);
    const char *values[2] = {service_call_header(call)->agency, key};
    Chuang__Status failure;
    PGresult *res = service_call_query(
        call, "read team",
        "SELECT id, name, coalesce(credit_code, '') AS credit_code, business_plan,"
        " coalesce(registered_on::text, '') AS registered_on,"
        " ARRAY(SELECT t.id FROM tenancies t WHERE t.team = m.id ORDER BY t.id) AS tenancies"
        " FROM teams m WHERE agency = $1 AND id = $2::bigint",
        2, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    Chuang__Status status = PQntuples(res) == 1 ? service_call_row(call, res, 0, &team->base)
                                                : service_call_fail(call, CHUANG__STATUS__NOT_FOUND,
                                                                    "no such team", NULL, NULL);
    PQclear(res);
    if (status != CHUANG__STATUS__OK)
        return status;
    res = service_call_query(call, "read founders",
                             "SELECT name, id_number, categories FROM team_founders"
                             " WHERE team = $2::bigint AND $1 <> '' ORDER BY position",
                             2, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    status = service_call_rows(call, res, -1, &chuang__incubator__team_founder__descriptor,
                               &team->founders, &team->n_founders);
    PQclear(res);
    /* A carrier's key sees who its tenants are, not their ID numbers. */
    if (status == CHUANG__STATUS__OK)
        handlers_mask_personal(call, &team->base);
    return status;
}

/* Fills tenancy's agreement and graduation, when it has them. */
static Chuang__Status s_read_parts(service_call_t *call, const char *key,
                                   Chuang__Incubator__Tenancy *tenancy)
{
    const char *values[1] = {key};
    Chuang__Status failure;
    PGresult *res = service_call_query(
        call, "read agreement",
        "SELECT a.start_on::text AS start_on, a.end_on::text AS end_on,"
        " coalesce(s.code, '') AS space_code, a.rent_fen_per_m2_month, a.relief_bp,"
        " a.monthly_rent_fen FROM agreements a LEFT JOIN spaces s ON s.id = a.space"
        " WHERE a.tenancy = $1::bigint",
        1, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    Chuang__Status status = CHUANG__STATUS__OK;
    if (PQntuples(res) == 1) {
        tenancy->agreement = service_call_alloc(call, sizeof *tenancy->agreement);
        chuang__incubator__agreement__init(tenancy->agreement);
        status = service_call_row(call, res, 0, &tenancy->agreement->base);
    }
    PQclear(res);
    if (status != CHUANG__STATUS__OK)
        return status;
    res = service_call_query(
        call, "read graduation",
        "SELECT graduated_on::text AS graduated_on, successful, revenue_fen, financing_fen, jobs,"
        " decided_by, coalesce(subsidy_application, 0) AS subsidy_application_id,"
        " subsidy_status, subsidy_fen FROM graduations WHERE tenancy = $1::bigint",
        1, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    bool graduated = PQntuples(res) == 1;
    if (graduated) {
        tenancy->graduation = service_call_alloc(call, sizeof *tenancy->graduation);
        chuang__incubator__graduation__init(tenancy->graduation);
        status = service_call_row(call, res, 0, &tenancy->graduation->base);
    }
    PQclear(res);
    if (status != CHUANG__STATUS__OK || !graduated)
        return status;
    res = service_call_query(
        call, "read graduation criteria",
        "SELECT x.criterion, x.required, x.minimum, x.actual, x.holds FROM graduations g,"
        " ROWS FROM (jsonb_to_recordset(g.criteria) AS (criterion text, required boolean,"
        "   minimum bigint, actual bigint, holds boolean)) WITH ORDINALITY"
        "   AS x(criterion, required, minimum, actual, holds, n)"
        " WHERE g.tenancy = $1::bigint ORDER BY x.n",
        1, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    status = service_call_rows(call, res, -1, &chuang__incubator__criterion_result__descriptor,
                               &tenancy->graduation->criteria, &tenancy->graduation->n_criteria);
    PQclear(res);
    return status;
}

Chuang__Status handlers_tenancy(service_call_t *call, const char *field, int64_t id,
                                bool for_update, Chuang__Incubator__Tenancy *tenancy)
{
    if (id <= 0)
        return service_call_violation(call, field, "must be a tenancy's number");
    char key[24];
    snprintf(key, sizeof key, "%" PRId64, id);
    const char *values[2] = {service_call_header(call)->agency, key};
    Chuang__Status failure;
    PGresult *res = service_call_query(
        call, "read tenancy",
        for_update
            ? "SELECT t.id, t.carrier AS carrier_code, t.status, t.applied_on::text AS applied_on,"
              " t.priority, t.decided_by, t.reason, t.outcome,"
              " coalesce(t.ended_on::text, '') AS ended_on, c.operator_credit_code,"
              " c.carrier_type, t.team AS _team"
              " FROM tenancies t JOIN carriers c ON c.agency = t.agency AND c.code = t.carrier"
              " WHERE t.agency = $1 AND t.id = $2::bigint FOR UPDATE OF t"
            : "SELECT t.id, t.carrier AS carrier_code, t.status, t.applied_on::text AS applied_on,"
              " t.priority, t.decided_by, t.reason, t.outcome,"
              " coalesce(t.ended_on::text, '') AS ended_on, c.operator_credit_code,"
              " c.carrier_type, t.team AS _team"
              " FROM tenancies t JOIN carriers c ON c.agency = t.agency AND c.code = t.carrier"
              " WHERE t.agency = $1 AND t.id = $2::bigint",
        2, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    if (PQntuples(res) == 0) {
        PQclear(res);
        service_call_violation(call, field, "is not a tenancy of this agency");
        return service_call_fail(call, CHUANG__STATUS__NOT_FOUND, "no such tenancy", NULL, NULL);
    }
    Chuang__Status status = service_call_row(call, res, 0, &tenancy->base);
    int64_t team = strtoll(PQgetvalue(res, 0, PQfnumber(res, "_team")), NULL, 10);
    PQclear(res);
    if (status != CHUANG__STATUS__OK)
        return status;
    carrier_ref_t carrier; /* a carrier's key reads its own tenancies only */
    status = handlers_carrier(call, field, tenancy->carrier_code, false, &carrier);
    if (status != CHUANG__STATUS__OK)
        return status;
    tenancy->team = service_call_alloc(call, sizeof *tenancy->team);
    chuang__incubator__team__init(tenancy->team);
    status = handlers_team(call, team, tenancy->team);
    return status == CHUANG__STATUS__OK ? s_read_parts(call, key, tenancy) : status;
}

Chuang__Status handlers_tenancy_emit(service_call_t *call, int64_t id, const char *type,
                                     ProtobufCMessage *output)
{
    Chuang__Incubator__Tenancy *tenancy = (Chuang__Incubator__Tenancy *)output;
    Chuang__Status status = handlers_tenancy(call, "id", id, false, tenancy);
    if (status != CHUANG__STATUS__OK)
        return status;
    return handlers_emit_id(call, type, "tenancy", id, output);
}

/* The highest value of the rule "<prefix>.<CATEGORY>" on day (NULL:
 * today) over the categories of the founders of team, into *best (0 when
 * no category has one). Returns OK or the query's failure. */
static Chuang__Status s_best_rule(service_call_t *call, const char *team, const char *prefix,
                                  const char *day, int64_t *best)
{
    *best = 0;
    const char *values[1] = {team};
    Chuang__Status failure;
    PGresult *res = service_call_query(call, "read categories",
                                       "SELECT DISTINCT unnest(categories) FROM team_founders"
                                       " WHERE team = $1::bigint",
                                       1, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    int found = 0;
    for (int i = 0; i < PQntuples(res) && found >= 0; i++) {
        char name[96];
        snprintf(name, sizeof name, "%s.%s", prefix, PQgetvalue(res, i, 0));
        int64_t value = 0;
        found =
            rules_get(service_call_db(call), service_call_header(call)->agency, name, day, &value);
        if (found > 0 && value > *best)
            *best = value;
    }
    PQclear(res);
    return found < 0 ? service_call_sql_fail(call, NULL, "dated rule") : CHUANG__STATUS__OK;
}

/* Checks the founders of a new team, recording a violation of each field
 * that is wrong. */
static void s_check_founders(service_call_t *call, const Chuang__Incubator__TenancyApplication *a,
                             int today)
{
    if (a->n_founders == 0)
        service_call_violation(call, "founders", "must name the team's founders");
    for (size_t i = 0; i < a->n_founders; i++) {
        const Chuang__Incubator__TeamFounder *f = a->founders[i];
        char field[48], reason[128];
        snprintf(field, sizeof field, "founders.%zu.name", i);
        if (!checks_text_valid(f->name, true))
            service_call_violation(call, field, "must be the founder's name");
        snprintf(field, sizeof field, "founders.%zu.id_number", i);
        if (identifiers_resident_id_check(f->id_number, today, reason, sizeof reason) != 0)
            service_call_violation(call, field, "%s", reason);
        for (size_t k = 0; k < i; k++)
            if (streq(a->founders[k]->id_number, f->id_number))
                service_call_violation(call, field, "names the same person as founders.%zu", k);
        for (size_t c = 0; c < f->n_categories; c++)
            if (!protobuf_c_enum_descriptor_get_value(
                    &chuang__registry__founder_category__descriptor, (int)f->categories[c]) ||
                f->categories[c] == 0) {
                snprintf(field, sizeof field, "founders.%zu.categories", i);
                service_call_violation(call, field, "must be categories of founders");
                break;
            }
    }
}

/* Writes the founders of a new team (a->founders). */
static Chuang__Status s_store_founders(service_call_t *call, const char *team,
                                       const Chuang__Incubator__TenancyApplication *a)
{
    for (size_t i = 0; i < a->n_founders; i++) {
        const Chuang__Incubator__TeamFounder *f = a->founders[i];
        char *names[8];
        size_t n = 0;
        for (size_t c = 0; c < f->n_categories && n < 8; c++)
            names[n++] = (char *)protobuf_c_enum_descriptor_get_value(
                             &chuang__registry__founder_category__descriptor, (int)f->categories[c])
                             ->name;
        char *array = db_text_array(names, n);
        if (!array)
            return service_call_fail(call, CHUANG__STATUS__INTERNAL, "out of memory", NULL, NULL);
        char position[24];
        snprintf(position, sizeof position, "%zu", i);
        const char *values[5] = {team, position, f->name, f->id_number, array};
        Chuang__Status failure;
        PGresult *res = service_call_query(
            call, "store founder",
            "INSERT INTO team_founders (team, position, name, id_number, categories)"
            " VALUES ($1::bigint, $2::int, $3, $4, $5::text[])",
            5, values, PGRES_COMMAND_OK, &failure);
        free(array);
        if (!res)
            return failure;
        PQclear(res);
    }
    return CHUANG__STATUS__OK;
}

/* Finds or makes the team an application is for, into team (its id as
 * text). Returns OK, a violation, or the query's failure. */
static Chuang__Status s_team_of(service_call_t *call, const carrier_ref_t *carrier,
                                const Chuang__Incubator__TenancyApplication *a, char team[24])
{
    const char *agency = service_call_header(call)->agency;
    Chuang__Status failure;
    PGresult *res;
    if (a->team_id > 0) {
        snprintf(team, 24, "%" PRId64, a->team_id);
        const char *values[2] = {agency, team};
        res = service_call_query(call, "read team",
                                 "SELECT credit_code IS NOT NULL FROM teams"
                                 " WHERE agency = $1 AND id = $2::bigint",
                                 2, values, PGRES_TUPLES_OK, &failure);
        if (!res)
            return failure;
        Chuang__Status status = CHUANG__STATUS__OK;
        if (PQntuples(res) == 0)
            status = service_call_violation(call, "team_id", "is not a team of this agency");
        else if (!s_takes_teams(carrier->carrier_type) && !streq(PQgetvalue(res, 0, 0), "t"))
            status = service_call_violation(call, "team_id",
                                            "is a team not registered yet: a %s admits "
                                            "registered entities only",
                                            carrier->carrier_type);
        PQclear(res);
        return status;
    }
    if (*a->credit_code) {
        Chuang__Status status = handlers_entity_of_area(call, "credit_code", a->credit_code);
        if (status != CHUANG__STATUS__OK)
            return status;
        /* The team the registry's event linked to it, else a new one. */
        const char *values[3] = {agency, a->credit_code, service_call_recorded_by(call)};
        res = service_call_query(
            call, "team of entity",
            "WITH found AS (SELECT id FROM teams WHERE agency = $1 AND credit_code = $2),"
            " made AS (INSERT INTO teams (agency, name, credit_code, registered_on, created_by)"
            "   SELECT $1, e.name, e.credit_code, e.registered_on, $3 FROM entities e"
            "   WHERE e.credit_code = $2 AND NOT EXISTS (SELECT 1 FROM found) RETURNING id)"
            " SELECT id FROM found UNION ALL SELECT id FROM made",
            3, values, PGRES_TUPLES_OK, &failure);
        if (!res)
            return failure;
        snprintf(team, 24, "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
        return CHUANG__STATUS__OK;
    }
    if (!s_takes_teams(carrier->carrier_type))
        return service_call_violation(call, "credit_code",
                                      "is required: a %s admits registered entities only",
                                      carrier->carrier_type);
    const char *values[4] = {agency, a->team_name, a->business_plan,
                             service_call_recorded_by(call)};
    res = service_call_query(call, "make team",
                             "INSERT INTO teams (agency, name, business_plan, created_by)"
                             " VALUES ($1, $2, $3, $4) RETURNING id",
                             4, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    snprintf(team, 24, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return s_store_founders(call, team, a);
}

Chuang__Status handle_apply_for_tenancy(service_call_t *call, const ProtobufCMessage *input,
                                        ProtobufCMessage *output)
{
    const Chuang__Incubator__TenancyApplication *a =
        (const Chuang__Incubator__TenancyApplication *)input;
    int ways = (a->team_id != 0) + (*a->credit_code != '\0') +
               (*a->team_name != '\0' || a->n_founders > 0);
    if (ways != 1)
        return service_call_violation(call, "team_id",
                                      "or credit_code, or team_name with founders, must say who "
                                      "applies (exactly one of them)");
    if (a->team_id < 0)
        service_call_violation(call, "team_id", "must be a team's number");
    bool new_team = a->team_id == 0 && !*a->credit_code;
    if (new_team) {
        const char *today = "";
        Chuang__Status status = service_call_today(call, &today);
        if (status != CHUANG__STATUS__OK)
            return status;
        if (!checks_text_valid(a->team_name, true))
            service_call_violation(call, "team_name",
                                   "must be the team's name (1 to %d "
                                   "characters)",
                                   CHECKS_TEXT_MAX);
        if (!checks_text_valid(a->business_plan, true))
            service_call_violation(call, "business_plan",
                                   "must name the team's business plan: a nursery takes teams "
                                   "with one");
        s_check_founders(call, a, atoi(today) * 10000 + atoi(today + 5) * 100 + atoi(today + 8));
    } else if (*a->business_plan || a->n_founders > 0) {
        service_call_violation(call, "founders",
                               "are given only for a team not known yet: a registered entity's "
                               "are the registry's");
    }
    carrier_ref_t carrier;
    Chuang__Status status =
        handlers_carrier(call, "carrier_code", a->carrier_code, false, &carrier);
    if (status != CHUANG__STATUS__OK || service_call_has_violations(call))
        return service_call_has_violations(call) ? CHUANG__STATUS__INVALID_ARGUMENT : status;
    char team[24];
    status = s_team_of(call, &carrier, a, team);
    if (status != CHUANG__STATUS__OK)
        return status;
    int64_t priority = 0;
    status = s_best_rule(call, team, "admission_priority", NULL, &priority);
    if (status != CHUANG__STATUS__OK)
        return status;
    char rank[24];
    snprintf(rank, sizeof rank, "%" PRId64, priority);
    const char *values[4] = {service_call_header(call)->agency, carrier.code, team, rank};
    Chuang__Status failure;
    PGresult *res = service_call_query(
        call, "apply for tenancy",
        "INSERT INTO tenancies (agency, carrier, team, status, applied_on, priority)"
        " VALUES ($1, $2, $3::bigint, 'applied', chuang_today($1), $4::int)"
        " ON CONFLICT (team) WHERE status IN ('applied', 'admitted') DO NOTHING RETURNING id",
        4, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    int64_t id = PQntuples(res) ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    if (!id) {
        service_call_violation(call, a->team_id ? "team_id" : "credit_code",
                               "has a tenancy applied for or running: it must end first");
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION, "tenancy open",
                                 "A team is a tenant of one carrier at a time.", NULL);
    }
    return handlers_tenancy_emit(call, id, "incubator.TenancyApplied", output);
}

/* Writes the agreement of tenancy (its team team) admitted by d to
 * carrier. Returns OK, a violation (the space taken, no rent) or the
 * query's failure. */
static Chuang__Status s_agree(service_call_t *call, const carrier_ref_t *carrier,
                              const Chuang__Incubator__TenancyDecision *d, const char *team,
                              const char *start_on)
{
    const char *agency = service_call_header(call)->agency;
    Chuang__Status failure;
    char space[24] = "", kind[16] = "", area[24] = "0";
    if (*d->space_code) {
        const char *values[3] = {agency, carrier->code, d->space_code};
        PGresult *res = service_call_query(call, "read space",
                                           "SELECT id, kind, area_m2 FROM spaces"
                                           " WHERE agency = $1 AND carrier = $2 AND code = $3",
                                           3, values, PGRES_TUPLES_OK, &failure);
        if (!res)
            return failure;
        if (PQntuples(res) == 1) {
            snprintf(space, sizeof space, "%s", PQgetvalue(res, 0, 0));
            snprintf(kind, sizeof kind, "%s", PQgetvalue(res, 0, 1));
            snprintf(area, sizeof area, "%s", PQgetvalue(res, 0, 2));
        }
        PQclear(res);
        if (!*space)
            return service_call_violation(call, "space_code", "is not a space of this carrier");
    }
    int64_t rent = 0, relief = 10000;
    if (*space && !carrier->government_run) {
        const char *values[4] = {agency, carrier->code, kind, start_on};
        PGresult *res =
            service_call_query(call, "read rent", "SELECT incubator_rent($1, $2, $3, $4::date)", 4,
                               values, PGRES_TUPLES_OK, &failure);
        if (!res)
            return failure;
        bool set = !PQgetisnull(res, 0, 0);
        rent = set ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
        PQclear(res);
        if (!set)
            return service_call_violation(call, "start_on",
                                          "has no rent for a %s of this carrier in force: set "
                                          "the rent first",
                                          kind);
        Chuang__Status status = s_best_rule(call, team, "rent_relief_bp", start_on, &relief);
        if (status != CHUANG__STATUS__OK)
            return status;
        if (relief > 10000)
            relief = 10000;
    }
    char rent_text[24], relief_text[24];
    snprintf(rent_text, sizeof rent_text, "%" PRId64, rent);
    snprintf(relief_text, sizeof relief_text, "%" PRId64, relief);
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, d->id);
    const char *values[7] = {id,        *space ? space : NULL, start_on, d->end_on,
                             rent_text, relief_text,           area};
    /* Rounded to the fen, half up. */
    PGresult *res =
        db_query(service_call_db(call),
                 "INSERT INTO agreements (tenancy, space, start_on, end_on, rent_fen_per_m2_month,"
                 "   relief_bp, monthly_rent_fen)"
                 " VALUES ($1::bigint, $2::bigint, $3::date, $4::date, $5::bigint, $6::bigint,"
                 "   round($5::numeric * $7::bigint * (10000 - $6::bigint) / 10000)::bigint)",
                 7, values, NULL, NULL, 0);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (PQresultStatus(res) == PGRES_COMMAND_OK) {
        PQclear(res);
        return CHUANG__STATUS__OK;
    }
    if (state && streq(state, "23P01")) {
        PQclear(res);
        return service_call_violation(call, "space_code",
                                      "is let to another tenant for some of these days: choose "
                                      "another space or other dates");
    }
    failure = service_call_sql_fail(call, res, "store agreement");
    PQclear(res);
    return failure;
}

Chuang__Status handle_decide_tenancy(service_call_t *call, const ProtobufCMessage *input,
                                     ProtobufCMessage *output)
{
    const Chuang__Incubator__TenancyDecision *d = (const Chuang__Incubator__TenancyDecision *)input;
    Chuang__Incubator__Tenancy *tenancy = (Chuang__Incubator__Tenancy *)output;
    const char *start_on = d->start_on;
    if (d->admit) {
        if (!checks_day_valid(d->start_on))
            service_call_violation(call, "start_on",
                                   "must be a date YYYY-MM-DD, or empty for "
                                   "today");
        if (!checks_day_valid(d->end_on) || !*d->end_on)
            service_call_violation(call, "end_on", "must be the agreement's last day, YYYY-MM-DD");
        if (*d->reason)
            service_call_violation(call, "reason", "is given for a decline only");
    } else {
        if (!checks_text_valid(d->reason, true))
            service_call_violation(call, "reason", "must say why the application is declined");
        if (*d->start_on || *d->end_on || *d->space_code)
            service_call_violation(call, "space_code", "and dates are given for an admission only");
    }
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    Chuang__Status status = service_call_today(call, &start_on);
    if (status != CHUANG__STATUS__OK)
        return status;
    if (d->admit && strcmp(d->end_on, start_on) < 0)
        return service_call_violation(call, "end_on", "must not be before start_on, %s", start_on);
    status = handlers_tenancy(call, "id", d->id, true, tenancy);
    if (status != CHUANG__STATUS__OK)
        return status;
    status = checks_move_allowed(call, s_moves, "tenancy", tenancy->status,
                                 d->admit ? "admitted" : "declined");
    if (status != CHUANG__STATUS__OK)
        return status;
    carrier_ref_t carrier;
    status = handlers_carrier(call, "id", tenancy->carrier_code, true, &carrier);
    if (status != CHUANG__STATUS__OK)
        return status;
    if (d->admit && !carrier.online && !*d->space_code)
        return service_call_violation(call, "space_code",
                                      "must name the space the tenant is given");
    if (d->admit && carrier.online && *d->space_code)
        return service_call_violation(call, "space_code", "is empty for an online carrier");
    char team[24];
    snprintf(team, sizeof team, "%" PRId64, tenancy->team->id);
    if (d->admit) {
        /* Admitting a team not registered yet is a nursery's, too. */
        if (!s_takes_teams(carrier.carrier_type) && !*tenancy->team->credit_code)
            return service_call_violation(call, "id",
                                          "is a team not registered yet: a %s admits registered "
                                          "entities only",
                                          carrier.carrier_type);
        status = s_agree(call, &carrier, d, team, start_on);
        if (status != CHUANG__STATUS__OK)
            return status;
    }
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, d->id);
    const char *values[4] = {id, d->admit ? "admitted" : "declined", service_call_recorded_by(call),
                             d->reason};
    Chuang__Status failure;
    PGresult *res = service_call_query(call, "decide tenancy",
                                       "UPDATE tenancies SET status = $2, decided_by = $3,"
                                       " reason = $4 WHERE id = $1::bigint",
                                       4, values, PGRES_COMMAND_OK, &failure);
    if (!res)
        return failure;
    PQclear(res);
    chuang__incubator__tenancy__init(tenancy);
    return handlers_tenancy_emit(
        call, d->id, d->admit ? "incubator.TenantAdmitted" : "incubator.TenancyDeclined", output);
}

Chuang__Status handle_get_tenancy(service_call_t *call, const ProtobufCMessage *input,
                                  ProtobufCMessage *output)
{
    const Chuang__Incubator__GetTenancyRequest *request =
        (const Chuang__Incubator__GetTenancyRequest *)input;
    return handlers_tenancy(call, "id", request->id, false, (Chuang__Incubator__Tenancy *)output);
}

Chuang__Status handle_get_team(service_call_t *call, const ProtobufCMessage *input,
                               ProtobufCMessage *output)
{
    const Chuang__Incubator__GetTeamRequest *request =
        (const Chuang__Incubator__GetTeamRequest *)input;
    if (request->id <= 0)
        return service_call_violation(call, "id", "must be a team's number");
    Chuang__Incubator__Team *team = (Chuang__Incubator__Team *)output;
    Chuang__Status status = handlers_team(call, request->id, team);
    if (status != CHUANG__STATUS__OK || !service_call_acts_as(call, "carrier"))
        return status;
    /* A carrier's key reads the teams that applied to it. */
    for (size_t i = 0; i < team->n_tenancies; i++) {
        Chuang__Incubator__Tenancy tenancy = CHUANG__INCUBATOR__TENANCY__INIT;
        if (handlers_tenancy(call, "id", team->tenancies[i], false, &tenancy) == CHUANG__STATUS__OK)
            return CHUANG__STATUS__OK;
    }
    return service_call_fail(call, CHUANG__STATUS__PERMISSION_DENIED, "another carrier's team",
                             "A carrier's key reads the teams that applied to it only.", NULL);
}

Chuang__Status handle_list_tenancies(service_call_t *call, const ProtobufCMessage *input,
                                     ProtobufCMessage *output)
{
    const Chuang__Incubator__ListTenanciesRequest *request =
        (const Chuang__Incubator__ListTenanciesRequest *)input;
    Chuang__Incubator__TenancyPage *reply = (Chuang__Incubator__TenancyPage *)output;
    if (!checks_listed(s_statuses, request->status))
        service_call_violation(call, "status",
                               "must be applied, admitted, declined, graduated or ended");
    service_page_t page;
    service_call_page(call, "tenancies", "ii", request->limit, request->page_token, 20, 100, &page);
    carrier_ref_t carrier;
    Chuang__Status status =
        handlers_carrier(call, "carrier_code", request->carrier_code, false, &carrier);
    if (status != CHUANG__STATUS__OK || service_call_has_violations(call))
        return service_call_has_violations(call) ? CHUANG__STATUS__INVALID_ARGUMENT : status;
    const char *values[6] = {service_call_header(call)->agency,
                             carrier.code,
                             request->status,
                             page.after[0],
                             page.after[1],
                             page.fetch};
    Chuang__Status failure;
    PGresult *res = service_call_query(
        call, "list tenancies",
        "SELECT priority, id FROM tenancies WHERE agency = $1 AND carrier = $2 AND status = $3"
        "   AND ($4::int IS NULL OR priority < $4::int OR (priority = $4::int AND id > $5::bigint))"
        " ORDER BY priority DESC, id LIMIT $6::int",
        6, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    int shown = PQntuples(res) < page.limit ? PQntuples(res) : page.limit;
    reply->tenancies =
        service_call_alloc(call, (size_t)(shown ? shown : 1) * sizeof *reply->tenancies);
    for (int i = 0; i < shown && status == CHUANG__STATUS__OK; i++) {
        Chuang__Incubator__Tenancy *tenancy = service_call_alloc(call, sizeof *tenancy);
        chuang__incubator__tenancy__init(tenancy);
        status =
            handlers_tenancy(call, "id", strtoll(PQgetvalue(res, i, 1), NULL, 10), false, tenancy);
        reply->tenancies[reply->n_tenancies++] = tenancy;
    }
    const char *last[2] = {shown ? PQgetvalue(res, shown - 1, 0) : NULL,
                           shown ? PQgetvalue(res, shown - 1, 1) : NULL};
    reply->next_page_token =
        (char *)service_call_page_next(call, &page, PQntuples(res), shown ? last : NULL);
    PQclear(res);
    return status;
}

Chuang__Status handle_end_tenancy(service_call_t *call, const ProtobufCMessage *input,
                                  ProtobufCMessage *output)
{
    const Chuang__Incubator__ExitRequest *request = (const Chuang__Incubator__ExitRequest *)input;
    Chuang__Incubator__Tenancy *tenancy = (Chuang__Incubator__Tenancy *)output;
    if (!checks_listed(s_outcomes, request->outcome))
        service_call_violation(call, "outcome", "must be moved_out, moved_on, failed or expelled");
    if (!checks_text_valid(request->reason, true))
        service_call_violation(call, "reason", "must say why the tenancy ends");
    const char *ended_on = request->ended_on;
    Chuang__Status status = checks_past_day(call, "ended_on", &ended_on, NULL);
    if (status != CHUANG__STATUS__OK && status != CHUANG__STATUS__INVALID_ARGUMENT)
        return status;
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    status = handlers_tenancy(call, "id", request->id, true, tenancy);
    if (status != CHUANG__STATUS__OK)
        return status;
    status = checks_move_allowed(call, s_moves, "tenancy", tenancy->status, "ended");
    if (status != CHUANG__STATUS__OK)
        return status;
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, request->id);
    const char *values[5] = {id, request->outcome, request->reason, ended_on,
                             service_call_recorded_by(call)};
    Chuang__Status failure;
    PGresult *res = service_call_query(
        call, "end tenancy",
        "WITH a AS (UPDATE agreements SET released_on = $4::date + 1"
        "   WHERE tenancy = $1::bigint AND released_on IS NULL)"
        " UPDATE tenancies SET status = 'ended', outcome = $2, reason = $3, ended_on = $4::date,"
        "   decided_by = $5 WHERE id = $1::bigint",
        5, values, PGRES_COMMAND_OK, &failure);
    if (!res)
        return failure;
    PQclear(res);
    chuang__incubator__tenancy__init(tenancy);
    return handlers_tenancy_emit(call, request->id, "incubator.TenancyEnded", output);
}
