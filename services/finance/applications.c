/*
 * applications.c - applications and their steps in SQL; see
 * applications.h. A move is one statement: the status changes only if it
 * is still the one expected (so two clerks acting at once cannot both
 * move it), and the step is written with it.
 */
#include "applications.h"
#include "steps.h"
#include "db.h"

#include <czmq.h>
#include <inttypes.h>

int application_create(PGconn *db, const char *agency,
                       const Chuang__Finance__CreateApplicationRequest *request, const char *by,
                       int64_t *id)
{
    char amount[24];
    snprintf(amount, sizeof amount, "%" PRId64, request->amount_fen);
    bool person = *request->id_number != '\0';
    const char *values[9] = {agency,
                             request->programme,
                             person ? request->id_number : request->credit_code,
                             request->subject,
                             amount,
                             by,
                             request->period_from,
                             request->period_to,
                             person ? "person" : "entity"};
    /* Claims for periods of one subject take turns, so that two at once
     * cannot both pass the overlap test below. */
    PGresult *res = db_query(db,
                             "SELECT pg_advisory_xact_lock(hashtext('finance application'),"
                             "   hashtext($1 || ' ' || $2 || ' ' || $3 || ' ' || $4))",
                             4, values, NULL, NULL, 0);
    bool locked = PQresultStatus(res) == PGRES_TUPLES_OK;
    PQclear(res);
    if (!locked)
        return APPLICATION_ERROR;
    res = db_query(db,
                   "WITH a AS (INSERT INTO applications (agency, programme, applicant,"
                   "     subject, amount_fen, created_by, period_from, period_to,"
                   "     applicant_kind)"
                   "   SELECT $1, $2, $3, $4, $5::bigint, $6, nullif($7, '')::date,"
                   "     nullif($8, '')::date, $9"
                   "   WHERE NOT EXISTS (SELECT 1 FROM applications o"
                   "     WHERE o.agency = $1 AND o.programme = $2 AND o.applicant = $3"
                   "       AND o.subject = $4 AND o.status NOT IN ('rejected', 'withdrawn')"
                   "       AND o.period_from <= nullif($8, '')::date"
                   "       AND o.period_to >= nullif($7, '')::date)"
                   "   ON CONFLICT DO NOTHING RETURNING id),"
                   " s AS (INSERT INTO application_steps (application_id, position,"
                   "     from_status, to_status, by)"
                   "   SELECT id, 1, '', 'draft', $6 FROM a)"
                   " SELECT id FROM a",
                   9, values, NULL, NULL, 0);
    int rc = APPLICATION_ERROR;
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        rc = PQntuples(res) ? 1 : APPLICATION_DUPLICATE;
        if (rc == 1)
            *id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    } else if (PQresultErrorField(res, PG_DIAG_SQLSTATE) &&
               streq(PQresultErrorField(res, PG_DIAG_SQLSTATE), "23503")) {
        rc = APPLICATION_NO_PROGRAMME;
    }
    PQclear(res);
    return rc;
}

int application_get(PGconn *db, service_call_t *call, const char *agency, int64_t id,
                    bool for_update, Chuang__Finance__Application *application)
{
    char id_text[24];
    snprintf(id_text, sizeof id_text, "%" PRId64, id);
    const char *values[2] = {agency, id_text};
    /* The columns of an Application, by field name. */
    static const char select[] =
        "SELECT id, programme,"
        " CASE applicant_kind WHEN 'entity' THEN applicant ELSE '' END AS credit_code,"
        " CASE applicant_kind WHEN 'person' THEN applicant ELSE '' END AS id_number,"
        " subject, amount_fen, status,"
        " coalesce(version, 0) AS version, coalesce(applied_on::text, '') AS applied_on,"
        " flagged, created_by, round, coalesce(notice_ends_on::text, '') AS notice_ends_on,"
        " awarded_fen, paid_fen,"
        " coalesce((SELECT l.id FROM loans l WHERE l.application_id = a.id), 0) AS loan_id,"
        " coalesce((SELECT v.id FROM vouchers v WHERE v.application_id = a.id), 0)"
        "   AS voucher_id,"
        " coalesce(period_from::text, '') AS period_from,"
        " coalesce(period_to::text, '') AS period_to"
        " FROM applications a WHERE agency = $1 AND id = $2::bigint";
    char *sql = zsys_sprintf("%s%s", select, for_update ? " FOR UPDATE" : "");
    PGresult *res = sql ? db_query(db, sql, 2, values, NULL, NULL, 0) : NULL;
    zstr_free(&sql);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : APPLICATION_ERROR;
    if (rc == 1 && service_call_row(call, res, 0, &application->base) != CHUANG__STATUS__OK)
        rc = APPLICATION_ERROR;
    PQclear(res);
    if (rc != 1)
        return rc;
    res = db_query(db,
                   "SELECT from_status, to_status, by, reason,"
                   " (extract(epoch FROM at) * 1000)::bigint AS at_ms"
                   " FROM application_steps WHERE application_id = $1::bigint ORDER BY position",
                   1, values + 1, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK ||
        service_call_rows(call, res, -1, &chuang__finance__application_step__descriptor,
                          &application->steps, &application->n_steps) != CHUANG__STATUS__OK)
        rc = APPLICATION_ERROR;
    PQclear(res);
    if (rc != 1)
        return rc;
    char round[16];
    snprintf(round, sizeof round, "%d", application->round);
    const char *keys[2] = {id_text, round};
    res = db_query(db,
                   "SELECT department, decision, reason, by,"
                   " (extract(epoch FROM at) * 1000)::bigint AS at_ms"
                   " FROM application_reviews WHERE application_id = $1::bigint"
                   "   AND round = $2::int ORDER BY at, department",
                   2, keys, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK ||
        service_call_rows(call, res, -1, &chuang__finance__review__descriptor,
                          &application->reviews, &application->n_reviews) != CHUANG__STATUS__OK)
        rc = APPLICATION_ERROR;
    PQclear(res);
    return rc;
}

int application_move(PGconn *db, const char *agency, int64_t id, const char *from, const char *to,
                     const char *by, const char *reason)
{
    const char *extra[2] = {from, to};
    return steps_update(db, STEPS_APPLICATION, agency, id,
                        "UPDATE applications SET status = $4"
                        " WHERE agency = $1 AND id = $2::bigint AND status = $3",
                        2, extra, from, to, by, reason);
}

int application_submit(PGconn *db, const char *agency, int64_t id, const char *by,
                       const char *reason, int version, bool flagged, int64_t amount)
{
    char version_text[16], amount_text[24];
    snprintf(version_text, sizeof version_text, "%d", version);
    snprintf(amount_text, sizeof amount_text, "%" PRId64, amount);
    const char *extra[3] = {version_text, flagged ? "t" : "f", amount_text};
    return steps_update(db, STEPS_APPLICATION, agency, id,
                        "UPDATE applications SET status = 'under_review', version = $3::int,"
                        " applied_on = chuang_today($1), flagged = $4::boolean,"
                        " amount_fen = $5::bigint"
                        " WHERE agency = $1 AND id = $2::bigint AND status = 'draft'",
                        3, extra, "draft", "under_review", by, reason);
}

int application_review_add(PGconn *db, int64_t id, int round, const char *department, bool approve,
                           const char *reason, const char *by)
{
    char id_text[24], round_text[16];
    snprintf(id_text, sizeof id_text, "%" PRId64, id);
    snprintf(round_text, sizeof round_text, "%d", round);
    const char *values[6] = {id_text, round_text, department, approve ? "approved" : "rejected",
                             reason,  by};
    PGresult *res = db_query(db,
                             "INSERT INTO application_reviews (application_id, round, department,"
                             "   decision, reason, by)"
                             " VALUES ($1::bigint, $2::int, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                             6, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? atoi(PQcmdTuples(res)) : APPLICATION_ERROR;
    PQclear(res);
    return rc;
}

int application_notice(PGconn *db, const char *agency, int64_t id, int days, const char *by)
{
    char days_text[16];
    snprintf(days_text, sizeof days_text, "%d", days);
    const char *extra[1] = {days_text};
    return steps_update(db, STEPS_APPLICATION, agency, id,
                        "UPDATE applications SET status = 'notice',"
                        " notice_ends_on = chuang_today($1) + $3::int"
                        " WHERE agency = $1 AND id = $2::bigint AND status = 'under_review'",
                        1, extra, "under_review", "notice", by, "approved by every department");
}

int application_object(PGconn *db, const char *agency, int64_t id, const char *reason,
                       const char *by)
{
    char id_text[24];
    snprintf(id_text, sizeof id_text, "%" PRId64, id);
    const char *values[4] = {agency, id_text, reason, by};
    PGresult *res = db_query(db,
                             "INSERT INTO application_objections (application_id, round, reason,"
                             "   by)"
                             " SELECT id, round, $3, $4 FROM applications"
                             " WHERE agency = $1 AND id = $2::bigint AND status = 'notice'"
                             "   AND chuang_today($1) <= notice_ends_on",
                             4, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? atoi(PQcmdTuples(res)) : APPLICATION_ERROR;
    PQclear(res);
    if (rc != 1)
        return rc;
    return steps_update(db, STEPS_APPLICATION, agency, id,
                        "UPDATE applications SET status = 'under_review', round = round + 1,"
                        " notice_ends_on = NULL WHERE agency = $1 AND id = $2::bigint"
                        "   AND status = 'notice'",
                        0, NULL, "notice", "under_review", by, reason);
}

int application_pay(PGconn *db, const char *agency, int64_t id, int64_t amount, const char *by)
{
    /* Recorded as a step only when it completes the payment. */
    char amount_text[24], id_text[24];
    snprintf(amount_text, sizeof amount_text, "%" PRId64, amount);
    snprintf(id_text, sizeof id_text, "%" PRId64, id);
    const char *values[3] = {agency, id_text, amount_text};
    PGresult *res = db_query(db,
                             "UPDATE applications SET paid_fen = paid_fen + $3::bigint,"
                             " status = CASE WHEN paid_fen + $3::bigint = awarded_fen"
                             "   THEN 'paid' ELSE status END"
                             " WHERE agency = $1 AND id = $2::bigint AND status = 'awarded'"
                             " RETURNING status",
                             3, values, NULL, NULL, 0);
    int rc = APPLICATION_ERROR;
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        rc = PQntuples(res);
    else if (PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) &&
             streq(PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME), "application_paid_within"))
        rc = APPLICATION_BEYOND;
    bool complete = rc == 1 && streq(PQgetvalue(res, 0, 0), "paid");
    PQclear(res);
    if (complete &&
        steps_record(db, STEPS_APPLICATION, id_text, "awarded", "paid", by, "paid in full") != 0)
        rc = APPLICATION_ERROR;
    return rc;
}

int application_overdue(PGconn *db, service_call_t *call, const char *agency,
                        const service_page_t *page, Chuang__Finance__OverdueList *list)
{
    const char *values[3] = {agency, page->fetch, page->after[0]};
    PGresult *res = db_query(
        db,
        "WITH open AS (SELECT a.id, a.programme, a.applicant, a.applicant_kind, a.status,"
        "     chuang_local_date(a.agency, (SELECT max(at) FROM application_steps s"
        "       WHERE s.application_id = a.id)) AS since"
        "   FROM applications a JOIN programmes p"
        "     ON p.agency = a.agency AND p.code = a.programme WHERE a.agency = $1"
        "     AND a.status IN ('draft', 'under_review', 'awarded')"
        "     AND NOT (a.status = 'awarded' AND p.kind = 'guarantee_loan')"
        "     AND ($3::bigint IS NULL OR a.id > $3::bigint)),"
        " due AS (SELECT o.*, o.since + chuang_rule($1, 'application_' || o.status || '_days',"
        "     o.since)::int AS due FROM open o)"
        " SELECT id, programme,"
        "   CASE applicant_kind WHEN 'entity' THEN applicant ELSE '' END AS credit_code,"
        "   CASE applicant_kind WHEN 'person' THEN applicant ELSE '' END AS id_number,"
        "   status, since::text AS since,"
        "   due::text AS due, chuang_today($1) - due AS days_over"
        " FROM due WHERE due < chuang_today($1) ORDER BY id LIMIT $2::int",
        3, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK &&
                     service_call_page_rows(call, page, res, &chuang__finance__overdue__descriptor,
                                            &list->applications, &list->n_applications,
                                            &list->next_page_token) == CHUANG__STATUS__OK
                 ? (int)list->n_applications
                 : APPLICATION_ERROR;
    PQclear(res);
    return rc;
}

int application_payable(PGconn *db, const char *agency, int64_t id, application_payable_t *out)
{
    char id_text[24];
    snprintf(id_text, sizeof id_text, "%" PRId64, id);
    const char *values[2] = {agency, id_text};
    PGresult *res = db_query(db,
                             "SELECT a.status, a.awarded_fen - a.paid_fen, p.fund, p.kind"
                             " FROM applications a JOIN programmes p"
                             "   ON p.agency = a.agency AND p.code = a.programme"
                             " WHERE a.agency = $1 AND a.id = $2::bigint FOR UPDATE OF a",
                             2, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : APPLICATION_ERROR;
    if (rc == 1) {
        snprintf(out->status, sizeof out->status, "%s", PQgetvalue(res, 0, 0));
        out->left = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        snprintf(out->fund, sizeof out->fund, "%s", PQgetvalue(res, 0, 2));
        snprintf(out->kind, sizeof out->kind, "%s", PQgetvalue(res, 0, 3));
    }
    PQclear(res);
    return rc;
}
