/*
 * idempotency.c - the idempotency store; see idempotency.h.
 *
 * The claim is INSERT ... ON CONFLICT DO NOTHING on the key: PostgreSQL makes
 * a second inserter of the same key wait until the first transaction commits
 * or rolls back, which is exactly the serialisation a retry racing its
 * original needs. Inputs are compared by md5 of method and bytes, computed
 * by the server.
 */
#include "idempotency.h"
#include "db.h"
#include "logger.h"

#include <stdlib.h>
#include <string.h>

static void s_log_error(PGconn *db, const char *what)
{
    char quoted[512];
    log_error("idempotency store failed", "what=%s error=%s", what,
              logger_quote(quoted, sizeof quoted, PQerrorMessage(db)));
}

idempotency_claim_t idempotency_claim(PGconn *db, const char *scope, const char *key,
                                      const char *method, const char *identity,
                                      const uint8_t *input, size_t size, uint8_t **reply,
                                      size_t *reply_size)
{
    /* libpq reads a NULL value as SQL NULL; an empty input is not that. */
    const char *values[5] = {key, method, input ? (const char *)input : "", scope, identity};
    int lengths[5] = {0, 0, (int)size, 0, 0};
    int formats[5] = {0, 0, 1, 0, 0};
    PGresult *res = db_query(
        db,
        "INSERT INTO chuang_idempotency (scope, key, method, request_hash)"
        " VALUES ($4, $1, $2, md5(convert_to($2 || E'\\n' || $5 || E'\\n', 'UTF8') || $3::bytea))"
        " ON CONFLICT (scope, key) DO NOTHING RETURNING 1",
        5, values, lengths, formats, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        s_log_error(db, "claim");
        PQclear(res);
        return IDEMPOTENCY_ERROR;
    }
    int inserted = PQntuples(res);
    PQclear(res);
    if (inserted == 1)
        return IDEMPOTENCY_NEW;

    res = db_query(db,
                   "SELECT request_hash = md5(convert_to($2 || E'\\n' || $5 || E'\\n',"
                   " 'UTF8') || $3::bytea), reply"
                   " FROM chuang_idempotency WHERE scope = $4 AND key = $1",
                   5, values, lengths, formats, 1);
    idempotency_claim_t result = IDEMPOTENCY_ERROR;
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        s_log_error(db, "read first reply");
    } else if (*PQgetvalue(res, 0, 0) == 0) {
        result = IDEMPOTENCY_CONFLICT;
    } else if (!PQgetisnull(res, 0, 1)) {
        *reply_size = (size_t)PQgetlength(res, 0, 1);
        *reply = malloc(*reply_size ? *reply_size : 1);
        if (*reply) {
            memcpy(*reply, PQgetvalue(res, 0, 1), *reply_size);
            result = IDEMPOTENCY_REPLAY;
        }
    }
    PQclear(res);
    return result;
}

int idempotency_record(PGconn *db, const char *scope, const char *key, const uint8_t *reply,
                       size_t size)
{
    const char *values[3] = {key, reply ? (const char *)reply : "", scope};
    int lengths[3] = {0, (int)size, 0};
    int formats[3] = {0, 1, 0};
    int rc = db_defer(db, "UPDATE chuang_idempotency SET reply = $2 WHERE scope = $3 AND key = $1",
                      3, values, lengths, formats);
    if (rc != 0)
        s_log_error(db, "record reply");
    return rc;
}

int idempotency_purge(PGconn *db, int retention_days)
{
    char days[32];
    snprintf(days, sizeof days, "%d", retention_days);
    const char *values[1] = {days};
    PGresult *res = db_query(db,
                             "DELETE FROM chuang_idempotency"
                             " WHERE created_at < now() - make_interval(days => $1::int)",
                             1, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? atoi(PQcmdTuples(res)) : -1;
    if (rc < 0)
        s_log_error(db, "purge");
    PQclear(res);
    return rc;
}
