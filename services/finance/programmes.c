/*
 * programmes.c - programmes and their versions in SQL; see programmes.h.
 *
 * A version is written by one statement: its row (with a voucher
 * programme's scope), its parameters from two arrays, and its conditions and award rules from JSON
 * arrays (each condition's values and each rule's levels are an array of their own, which
 * one-dimensional SQL arrays cannot nest). A revision locks the programme's row first, so that two
 * revisions of one programme take turns and each sees the other's version.
 */
#include "programmes.h"
#include "db.h"
#include "db_array.h"

#include <czmq.h>
#include <inttypes.h>
#include <jansson.h>

/* Writes version number of programme code of agency. Returns 1 or
 * PROGRAMME_ERROR. */
static int s_version_write(PGconn *db, const char *agency, const char *code, int number,
                           const Chuang__Finance__ProgrammeVersion *version,
                           const char *recorded_by)
{
    size_t n = version->n_parameters;
    char **names = calloc(n + 1, sizeof *names), **values = calloc(n + 1, sizeof *values);
    json_t *conditions = json_array(), *rules = json_array();
    char *arrays[5] = {NULL, NULL, NULL, NULL, NULL}, *json = NULL, *rules_json = NULL;
    int rc = PROGRAMME_ERROR;
    if (!names || !values || !conditions || !rules)
        goto done;
    for (size_t i = 0; i < n; i++) {
        names[i] = version->parameters[i]->name;
        values[i] = zsys_sprintf("%" PRId64, version->parameters[i]->value);
    }
    for (size_t i = 0; i < version->n_conditions; i++) {
        const Chuang__Finance__Condition *c = version->conditions[i];
        json_t *list = json_array();
        for (size_t v = 0; v < c->n_values; v++)
            json_array_append_new(list, json_string(c->values[v]));
        json_array_append_new(conditions, json_pack("{s:s, s:s, s:o}", "fact", c->fact, "test",
                                                    c->test, "values", list));
    }
    for (size_t i = 0; i < version->n_award_rules; i++) {
        const Chuang__Finance__AwardRule *r = version->award_rules[i];
        json_t *levels = json_array();
        for (size_t v = 0; v < r->n_levels; v++)
            json_array_append_new(levels, json_string(r->levels[v]));
        json_array_append_new(
            rules, json_pack("{s:s, s:s, s:o, s:b, s:I, s:I, s:i}", "rule", r->rule, "kind",
                             r->kind, "levels", levels, "any_subject", r->any_subject, "ratio_bp",
                             (json_int_t)r->ratio_bp, "cap_fen", (json_int_t)r->cap_fen,
                             "window_days", r->window_days));
    }
    arrays[0] = db_text_array(names, n);
    arrays[1] = db_text_array(values, n);
    arrays[2] = db_text_array(version->approvals, version->n_approvals);
    arrays[3] = db_text_array(version->service_categories, version->n_service_categories);
    arrays[4] = db_text_array(version->providers, version->n_providers);
    json = json_dumps(conditions, JSON_COMPACT);
    rules_json = json_dumps(rules, JSON_COMPACT);
    if (!arrays[0] || !arrays[1] || !arrays[2] || !arrays[3] || !arrays[4] || !json || !rules_json)
        goto done;
    char number_text[16];
    snprintf(number_text, sizeof number_text, "%d", number);
    const char *params[11] = {agency,
                              code,
                              number_text,
                              version->effective_from,
                              version->effective_to,
                              version->trial ? "t" : "f",
                              version->document,
                              arrays[2],
                              recorded_by,
                              arrays[0],
                              arrays[1]};
    const char *all[15];
    memcpy(all, params, sizeof params);
    all[11] = json;
    all[12] = rules_json;
    all[13] = arrays[3];
    all[14] = arrays[4];
    PGresult *res = db_query(
        db,
        "WITH v AS (INSERT INTO programme_versions (agency, programme, version, effective_from,"
        "     effective_to, trial, document, approvals, recorded_by, service_categories,"
        "     providers)"
        "   VALUES ($1, $2, $3::int, $4::date, nullif($5, '')::date, $6::boolean, $7,"
        "     $8::text[], $9, $14::text[], $15::text[]) RETURNING version),"
        " p AS (INSERT INTO programme_parameters (agency, programme, version, name, value)"
        "   SELECT $1, $2, v.version, u.name, u.value"
        "   FROM v, unnest($10::text[], $11::bigint[]) AS u (name, value) RETURNING 1),"
        " r AS (INSERT INTO programme_award_rules (agency, programme, version, position, rule,"
        "     kind, levels, any_subject, ratio_bp, cap_fen, window_days)"
        "   SELECT $1, $2, v.version, r.position, r.value->>'rule', r.value->>'kind',"
        "     ARRAY(SELECT jsonb_array_elements_text(r.value->'levels')),"
        "     (r.value->>'any_subject')::boolean, (r.value->>'ratio_bp')::bigint,"
        "     (r.value->>'cap_fen')::bigint, (r.value->>'window_days')::int"
        "   FROM v, jsonb_array_elements($13::jsonb) WITH ORDINALITY AS r (value, position)"
        "   RETURNING 1)"
        " INSERT INTO programme_conditions (agency, programme, version, position, fact, test,"
        "   \"values\")"
        " SELECT $1, $2, v.version, c.position, c.value->>'fact', c.value->>'test',"
        "   ARRAY(SELECT jsonb_array_elements_text(c.value->'values'))"
        " FROM v, jsonb_array_elements($12::jsonb) WITH ORDINALITY AS c (value, position)",
        15, all, NULL, NULL, 0);
    rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 1 : PROGRAMME_ERROR;
    PQclear(res);
done:
    for (size_t i = 0; values && i < n; i++)
        zstr_free(&values[i]);
    free(names);
    free(values);
    for (int i = 0; i < 5; i++)
        free(arrays[i]);
    free(json);
    free(rules_json);
    json_decref(conditions);
    json_decref(rules);
    return rc;
}

int programme_define(PGconn *db, const char *agency,
                     const Chuang__Finance__DefineProgrammeRequest *request,
                     const char *recorded_by)
{
    const char *values[7] = {agency,         request->code, request->name,      request->kind,
                             request->level, request->fund, request->department};
    PGresult *res = db_query(db,
                             "INSERT INTO programmes (agency, code, name, kind, level, fund,"
                             "   department)"
                             " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                             7, values, NULL, NULL, 0);
    int rc = PROGRAMME_ERROR;
    if (PQresultStatus(res) == PGRES_COMMAND_OK)
        rc = atoi(PQcmdTuples(res));
    else if (PQresultErrorField(res, PG_DIAG_SQLSTATE) &&
             streq(PQresultErrorField(res, PG_DIAG_SQLSTATE), "23503"))
        rc = PROGRAMME_NO_FUND;
    PQclear(res);
    if (rc == 1)
        rc = s_version_write(db, agency, request->code, 1, request->version, recorded_by);
    return rc;
}

int programme_revise(PGconn *db, const char *agency, const char *code,
                     const Chuang__Finance__ProgrammeVersion *version, const char *recorded_by)
{
    const char *values[2] = {agency, code};
    PGresult *res = db_query(db,
                             "SELECT (SELECT max(version) FROM programme_versions v"
                             "     WHERE v.agency = $1 AND v.programme = $2),"
                             "   (SELECT max(effective_from) FROM programme_versions v"
                             "     WHERE v.agency = $1 AND v.programme = $2)::text,"
                             "   chuang_today($1)::text"
                             " FROM programmes WHERE agency = $1 AND code = $2 FOR UPDATE",
                             2, values, NULL, NULL, 0);
    int rc = PROGRAMME_ERROR;
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        goto done;
    rc = PQntuples(res);
    if (rc == 0)
        goto done;
    int latest = atoi(PQgetvalue(res, 0, 0));
    if (strcmp(version->effective_from, PQgetvalue(res, 0, 2)) < 0)
        rc = PROGRAMME_PAST;
    else if (strcmp(version->effective_from, PQgetvalue(res, 0, 1)) <= 0)
        rc = PROGRAMME_NOT_AFTER;
    else if (s_version_write(db, agency, code, latest + 1, version, recorded_by) == 1)
        rc = latest + 1;
    else
        rc = PROGRAMME_ERROR;
done:
    PQclear(res);
    return rc;
}

/* Runs sql with nvalues parameters and fills a repeated message field
 * with its rows (service_call_rows). Returns 0 or -1. */
static int s_rows(PGconn *db, service_call_t *call, const char *sql, int nvalues,
                  const char *const *values, const ProtobufCMessageDescriptor *descriptor,
                  void *field, size_t *count)
{
    PGresult *res = db_query(db, sql, nvalues, values, NULL, NULL, 0);
    int rc =
        PQresultStatus(res) == PGRES_TUPLES_OK &&
                service_call_rows(call, res, -1, descriptor, field, count) == CHUANG__STATUS__OK
            ? 0
            : -1;
    PQclear(res);
    return rc;
}

int programme_version(PGconn *db, service_call_t *call, const char *agency, const char *code,
                      int number, Chuang__Finance__ProgrammeVersion *version)
{
    char number_text[16];
    snprintf(number_text, sizeof number_text, "%d", number);
    const char *keys[3] = {agency, code, number_text};
    PGresult *res = db_query(db,
                             "SELECT version, effective_from::text AS effective_from,"
                             " coalesce(effective_to::text, '') AS effective_to, trial, document,"
                             " approvals, service_categories, providers FROM programme_versions"
                             " WHERE agency = $1 AND programme = $2 AND version = $3::int",
                             3, keys, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : PROGRAMME_ERROR;
    if (rc == 1 && service_call_row(call, res, 0, &version->base) != CHUANG__STATUS__OK)
        rc = PROGRAMME_ERROR;
    PQclear(res);
    if (rc != 1)
        return rc;
    if (s_rows(db, call,
               "SELECT name, value FROM programme_parameters"
               " WHERE agency = $1 AND programme = $2 AND version = $3::int ORDER BY name",
               3, keys, &chuang__finance__parameter__descriptor, &version->parameters,
               &version->n_parameters) != 0 ||
        s_rows(db, call,
               "SELECT fact, test, \"values\" FROM programme_conditions"
               " WHERE agency = $1 AND programme = $2 AND version = $3::int ORDER BY position",
               3, keys, &chuang__finance__condition__descriptor, &version->conditions,
               &version->n_conditions) != 0 ||
        s_rows(db, call,
               "SELECT rule, kind, levels, any_subject, ratio_bp, cap_fen, window_days"
               " FROM programme_award_rules"
               " WHERE agency = $1 AND programme = $2 AND version = $3::int ORDER BY position",
               3, keys, &chuang__finance__award_rule__descriptor, &version->award_rules,
               &version->n_award_rules) != 0)
        return PROGRAMME_ERROR;
    return 1;
}

int programme_get(PGconn *db, service_call_t *call, const char *agency, const char *code,
                  const char *day, Chuang__Finance__Programme *programme)
{
    const char *values[3] = {agency, code, day};
    PGresult *res = db_query(db,
                             "SELECT code, name, kind, level, fund, department FROM programmes"
                             " WHERE agency = $1 AND code = $2",
                             2, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : PROGRAMME_ERROR;
    if (rc == 1 && service_call_row(call, res, 0, &programme->base) != CHUANG__STATUS__OK)
        rc = PROGRAMME_ERROR;
    PQclear(res);
    if (rc != 1)
        return rc;
    /* The version that started latest by the day, whether it has lapsed,
     * and the day itself. */
    res = db_query(db,
                   "SELECT v.version, v.effective_to < d.day, d.day::text"
                   " FROM (SELECT coalesce(nullif($3, '')::date, chuang_today($1)) AS day) d"
                   " LEFT JOIN LATERAL finance_programme_version($1, $2, d.day) v ON true",
                   3, values, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        PQclear(res);
        return PROGRAMME_ERROR;
    }
    if (PQgetisnull(res, 0, 0)) {
        PQclear(res);
        return PROGRAMME_NOT_IN_FORCE; /* not started by that day */
    }
    int number = atoi(PQgetvalue(res, 0, 0));
    bool lapsed = streq(PQgetvalue(res, 0, 1), "t");
    PQclear(res);
    Chuang__Finance__ProgrammeVersion *version = service_call_alloc(call, sizeof *version);
    chuang__finance__programme_version__init(version);
    programme->version = version;
    rc = programme_version(db, call, agency, code, number, version);
    if (rc != 1)
        return PROGRAMME_ERROR;
    return lapsed ? PROGRAMME_NOT_IN_FORCE : 1;
}

int programme_lapsing(PGconn *db, service_call_t *call, const char *agency, int days,
                      Chuang__Finance__LapsingList *list)
{
    char days_text[16];
    snprintf(days_text, sizeof days_text, "%d", days);
    const char *values[2] = {agency, days_text};
    return s_rows(db, call,
                  "SELECT p.code, p.name, v.version, v.effective_to::text AS effective_to,"
                  "   v.effective_to - chuang_today($1) AS days_left, v.trial, v.document"
                  " FROM programmes p CROSS JOIN LATERAL"
                  "   finance_programme_version(p.agency, p.code, chuang_today($1)) v"
                  " WHERE p.agency = $1"
                  "   AND v.effective_to BETWEEN chuang_today($1) - $2::int"
                  "     AND chuang_today($1) + $2::int"
                  "   AND NOT EXISTS (SELECT 1 FROM programme_versions n"
                  "     WHERE n.agency = p.agency AND n.programme = p.code"
                  "       AND n.effective_from > v.effective_from"
                  "       AND n.effective_from <= v.effective_to + 1)"
                  " ORDER BY v.effective_to, p.code",
                  2, values, &chuang__finance__lapsing__descriptor, &list->programmes,
                  &list->n_programmes) == 0
               ? (int)list->n_programmes
               : PROGRAMME_ERROR;
}

int64_t programme_parameter(const Chuang__Finance__ProgrammeVersion *version, const char *name,
                            int64_t fallback)
{
    for (size_t i = 0; version && i < version->n_parameters; i++)
        if (streq(version->parameters[i]->name, name))
            return version->parameters[i]->value;
    return fallback;
}

int programme_parameter_of(PGconn *db, const char *agency, const char *code, int version,
                           const char *name, int64_t fallback, int64_t *value)
{
    char number[16];
    snprintf(number, sizeof number, "%d", version);
    const char *values[4] = {agency, code, number, name};
    PGresult *res = db_query(db,
                             "SELECT value FROM programme_parameters WHERE agency = $1"
                             " AND programme = $2 AND version = $3::int AND name = $4",
                             4, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : PROGRAMME_ERROR;
    *value = rc == 0 && PQntuples(res) == 1 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : fallback;
    PQclear(res);
    return rc;
}

int programme_statistics(PGconn *db, service_call_t *call, const char *agency, const char *code,
                         int year, Chuang__Finance__ProgrammeStatistics *out)
{
    char year_text[16];
    snprintf(year_text, sizeof year_text, "%d", year);
    const char *values[3] = {agency, code, year_text};
    PGresult *res = db_query(
        db,
        "WITH p AS (SELECT code, fund, coalesce(nullif($3::int, 0),"
        "     extract(year FROM chuang_today($1))::int) AS year"
        "   FROM programmes WHERE agency = $1 AND code = $2),"
        " a AS (SELECT a.* FROM applications a, p WHERE a.agency = $1 AND a.programme = p.code),"
        " moved AS (SELECT s.to_status, count(*) AS n FROM application_steps s JOIN a"
        "     ON a.id = s.application_id, p"
        "   WHERE extract(year FROM chuang_local_date($1, s.at)) = p.year GROUP BY s.to_status),"
        " money AS (SELECT e.kind, sum(-t.amount) AS credit FROM journal_entries e"
        "     JOIN postings t ON t.entry_id = e.id JOIN accounts c ON c.id = t.account_id, p"
        "   WHERE e.agency = $1 AND extract(year FROM e.booked_on) = p.year"
        "     AND c.code = p.fund || ':committed'"
        "     AND e.cause IN (SELECT 'application:' || id FROM a) GROUP BY e.kind),"
        " funded AS (SELECT coalesce(sum(-t.amount), 0) AS credit FROM journal_entries e"
        "     JOIN postings t ON t.entry_id = e.id JOIN accounts c ON c.id = t.account_id"
        "     LEFT JOIN journal_entries r ON r.id = e.reverses, p"
        "   WHERE e.agency = $1 AND extract(year FROM e.booked_on) = p.year"
        "     AND c.code = p.fund || ':available'"
        "     AND (e.kind = 'appropriation' OR r.kind = 'appropriation'))"
        " SELECT p.code AS programme, p.year, p.fund,"
        "   (SELECT count(*) FROM a WHERE extract(year FROM a.applied_on) = p.year) AS submitted,"
        "   (SELECT count(*) FROM a WHERE extract(year FROM a.applied_on) = p.year"
        "     AND a.status IN ('under_review', 'notice')) AS open,"
        "   coalesce((SELECT n FROM moved WHERE to_status = 'awarded'), 0) AS awarded,"
        "   coalesce((SELECT n FROM moved WHERE to_status = 'rejected'), 0) AS rejected,"
        "   coalesce((SELECT n FROM moved WHERE to_status = 'withdrawn'), 0) AS withdrawn,"
        "   coalesce((SELECT credit FROM money WHERE kind = 'commitment'), 0) AS committed_fen,"
        "   coalesce(-(SELECT credit FROM money WHERE kind = 'payment'), 0) AS paid_fen,"
        "   (SELECT credit FROM funded) AS appropriated_fen,"
        "   (SELECT -balance FROM accounts WHERE agency = $1 AND code = p.fund || ':available')"
        "     AS available_fen"
        " FROM p",
        3, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : PROGRAMME_ERROR;
    if (rc == 1 && service_call_row(call, res, 0, &out->base) != CHUANG__STATUS__OK)
        rc = PROGRAMME_ERROR;
    PQclear(res);
    return rc;
}
