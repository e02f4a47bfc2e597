/*
 * applications.c - applications and their steps in SQL; see
 * applications.h. A move is one statement: the status changes only if it
 * is still the one expected (so two clerks acting at once cannot both
 * move it), and the step is written with it.
 */
#include "applications.h"
#include "db.h"

#include <czmq.h>
#include <inttypes.h>

int application_create(PGconn *db, const char *agency,
                       const Chuang__Finance__CreateApplicationRequest *request, const char *by,
                       int64_t *id)
{
    char amount[24];
    snprintf(amount, sizeof amount, "%" PRId64, request->amount_fen);
    const char *values[6] = {
        agency, request->programme, request->credit_code, request->subject, amount, by};
    PGresult *res = db_query(db,
                             "WITH a AS (INSERT INTO applications (agency, programme, applicant,"
                             "     subject, amount_fen, created_by)"
                             "   VALUES ($1, $2, $3, $4, $5::bigint, $6)"
                             "   ON CONFLICT DO NOTHING RETURNING id),"
                             " s AS (INSERT INTO application_steps (application_id, position,"
                             "     from_status, to_status, by)"
                             "   SELECT id, 1, '', 'draft', $6 FROM a)"
                             " SELECT id FROM a",
                             6, values, NULL, NULL, 0);
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
    PGresult *res =
        db_query(db,
                 for_update ? "SELECT id, programme, applicant, subject, amount_fen, status,"
                              " coalesce(version, 0) AS version,"
                              " coalesce(applied_on::text, '') AS applied_on, flagged,"
                              " created_by FROM applications"
                              " WHERE agency = $1 AND id = $2::bigint FOR UPDATE"
                            : "SELECT id, programme, applicant, subject, amount_fen, status,"
                              " coalesce(version, 0) AS version,"
                              " coalesce(applied_on::text, '') AS applied_on, flagged,"
                              " created_by FROM applications"
                              " WHERE agency = $1 AND id = $2::bigint",
                 2, values, NULL, NULL, 0);
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
    return rc;
}

int application_move(PGconn *db, const char *agency, int64_t id, const char *from, const char *to,
                     const char *by, const char *reason, int version, bool flagged)
{
    char id_text[24], version_text[16];
    snprintf(id_text, sizeof id_text, "%" PRId64, id);
    snprintf(version_text, sizeof version_text, "%d", version);
    const char *values[8] = {agency, id_text, from,         to,
                             by,     reason,  version_text, flagged ? "t" : "f"};
    PGresult *res = db_query(
        db,
        "WITH moved AS (UPDATE applications SET status = $4,"
        "     version = CASE WHEN $7::int > 0 THEN $7::int ELSE version END,"
        "     applied_on = CASE WHEN $7::int > 0 THEN chuang_today($1) ELSE applied_on END,"
        "     flagged = CASE WHEN $7::int > 0 THEN $8::boolean ELSE flagged END"
        "   WHERE agency = $1 AND id = $2::bigint AND status = $3 RETURNING id)"
        " INSERT INTO application_steps (application_id, position, from_status, to_status, by,"
        "   reason)"
        " SELECT moved.id, coalesce((SELECT max(position) FROM application_steps"
        "     WHERE application_id = moved.id), 0) + 1, $3, $4, $5, $6 FROM moved",
        8, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? atoi(PQcmdTuples(res)) : APPLICATION_ERROR;
    PQclear(res);
    return rc;
}
