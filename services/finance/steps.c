/*
 * steps.c - the history of status moves; see steps.h.
 *
 * A step's position is one more than the aggregate's last, read in the
 * INSERT itself: the caller holds the aggregate's row lock (its UPDATE
 * took it), so two moves of one aggregate take turns.
 */
#include "steps.h"
#include "db.h"

#include <czmq.h>
#include <inttypes.h>

int steps_record(PGconn *db, steps_of_t of, const char *id, const char *from, const char *to,
                 const char *by, const char *reason)
{
    static const char *const sql[] = {
        [STEPS_APPLICATION] =
            "INSERT INTO application_steps (application_id, position, from_status, to_status,"
            "   by, reason)"
            " SELECT $1::bigint, coalesce(max(position), 0) + 1, $2, $3, $4, $5"
            " FROM application_steps WHERE application_id = $1::bigint",
        [STEPS_LOAN] =
            "INSERT INTO loan_steps (loan_id, position, from_status, to_status, by, reason)"
            " SELECT $1::bigint, coalesce(max(position), 0) + 1, $2, $3, $4, $5"
            " FROM loan_steps WHERE loan_id = $1::bigint",
    };
    const char *values[5] = {id, from, to, by, reason};
    PGresult *res = db_query(db, sql[of], 5, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : STEPS_ERROR;
    PQclear(res);
    return rc;
}

int steps_update(PGconn *db, steps_of_t of, const char *agency, int64_t id, const char *sql,
                 int count, const char *const *extra, const char *from, const char *to,
                 const char *by, const char *reason)
{
    char id_text[24];
    snprintf(id_text, sizeof id_text, "%" PRId64, id);
    const char *values[10] = {agency, id_text};
    for (int i = 0; i < count && i < 8; i++)
        values[2 + i] = extra[i];
    PGresult *res = db_query(db, sql, 2 + (count < 8 ? count : 8), values, NULL, NULL, 0);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    int rc = STEPS_ERROR;
    if (PQresultStatus(res) == PGRES_COMMAND_OK)
        rc = atoi(PQcmdTuples(res)) > 0;
    else if (state && streq(state, "23505"))
        rc = STEPS_DUPLICATE;
    PQclear(res);
    if (rc == 1 && steps_record(db, of, id_text, from, to, by, reason) != 0)
        rc = STEPS_ERROR;
    return rc;
}
