/*
 * store_deregistration.c - the registry's SQL for simplified
 * deregistration: opening the public notice, objections, the decision when
 * the notice has ended, and the notices the scheduled jobs wait on; see
 * store.h.
 *
 * An entity has at most one deregistrations row: a new application reopens
 * a rejected one. The objections that count are those made since the
 * latest application.
 */
#include "store.h"
#include "store_private.h"

#include <czmq.h>

#define DEREGISTRATION_COLUMNS                                                                     \
    "credit_code, status, (extract(epoch FROM applied_at) * 1000)::bigint,"                        \
    " (extract(epoch FROM notice_ends_at) * 1000)::bigint,"                                        \
    " coalesce((extract(epoch FROM decided_at) * 1000)::bigint, 0),"                               \
    " (SELECT count(*) FROM deregistration_objections o"                                           \
    "   WHERE o.credit_code = d.credit_code AND o.made_at >= d.applied_at)::int,"                  \
    " notice_ends_at <= now()"

/* Runs a query returning at most one deregistration row into row. */
static int s_deregistration_query(PGconn *db, const char *sql, int count, const char *const *values,
                                  store_deregistration_t *row)
{
    PGresult *res = store_query(db, sql, count, values, PGRES_TUPLES_OK);
    if (!res)
        return -1;
    int found = PQntuples(res);
    if (found) {
        snprintf(row->credit_code, sizeof row->credit_code, "%s", PQgetvalue(res, 0, 0));
        snprintf(row->status, sizeof row->status, "%s", PQgetvalue(res, 0, 1));
        row->applied_at_ms = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
        row->notice_ends_at_ms = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
        row->decided_at_ms = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
        row->objections = atoi(PQgetvalue(res, 0, 5));
        row->notice_over = streq(PQgetvalue(res, 0, 6), "t");
    }
    PQclear(res);
    return found;
}

int store_deregistration_open(PGconn *db, const char *credit_code, long long notice_days,
                              store_deregistration_t *row)
{
    char days[24];
    snprintf(days, sizeof days, "%lld", notice_days);
    const char *values[2] = {credit_code, days};
    return s_deregistration_query(
        db,
        "INSERT INTO deregistrations AS d (credit_code, notice_ends_at)"
        " SELECT $1, chuang_day_start(agency, chuang_today(agency) + $2::int + 1)"
        " FROM entities WHERE credit_code = $1"
        " ON CONFLICT (credit_code) DO UPDATE"
        " SET applied_at = now(), notice_ends_at = EXCLUDED.notice_ends_at,"
        "     status = 'noticed', decided_at = NULL"
        " WHERE d.status = 'rejected'"
        " RETURNING " DEREGISTRATION_COLUMNS,
        2, values, row);
}

int store_deregistration_lock(PGconn *db, const char *credit_code, store_deregistration_t *row)
{
    const char *values[1] = {credit_code};
    return s_deregistration_query(db,
                                  "SELECT " DEREGISTRATION_COLUMNS " FROM deregistrations d"
                                  " WHERE credit_code = $1 FOR UPDATE",
                                  1, values, row);
}

int store_objection_add(PGconn *db, const char *credit_code, const char *objector,
                        const char *reason)
{
    const char *values[3] = {credit_code, objector, reason};
    PGresult *res =
        store_query(db,
                    "INSERT INTO deregistration_objections (credit_code, objector, reason)"
                    " VALUES ($1, $2, $3)",
                    3, values, PGRES_COMMAND_OK);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

int store_deregistration_decide(PGconn *db, const char *credit_code, store_deregistration_t *row)
{
    int found = store_deregistration_lock(db, credit_code, row);
    if (found <= 0 || !row->notice_over || !streq(row->status, "noticed"))
        return found < 0 ? -1 : 0;
    const char *values[1] = {credit_code};
    found = s_deregistration_query(
        db,
        "UPDATE deregistrations d SET decided_at = now(),"
        " status = CASE WHEN EXISTS (SELECT 1 FROM deregistration_objections o"
        "   WHERE o.credit_code = d.credit_code AND o.made_at >= d.applied_at)"
        "   THEN 'rejected' ELSE 'deregistered' END"
        " WHERE credit_code = $1 RETURNING " DEREGISTRATION_COLUMNS,
        1, values, row);
    if (found == 1 && streq(row->status, "deregistered")) {
        PGresult *res =
            store_query(db, "UPDATE entities SET status = 'deregistered' WHERE credit_code = $1", 1,
                        values, PGRES_COMMAND_OK);
        if (!res)
            return -1;
        PQclear(res);
    }
    return found;
}

PGresult *store_deregistrations_pending(PGconn *db)
{
    return store_query(db,
                       "SELECT credit_code, (extract(epoch FROM notice_ends_at) * 1000)::bigint"
                       " FROM deregistrations WHERE status = 'noticed'",
                       0, NULL, PGRES_TUPLES_OK);
}
