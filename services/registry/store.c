/*
 * store.c - what the registry's SQL files share: the query helper every
 * store_*.c runs its statements through (store_private.h), and the agency's
 * today, which several aggregates read; see store.h. Dated rules are the
 * framework's (rules.h).
 *
 * Queries take text parameters and return text columns; numbers cross as
 * decimal strings. Each function keeps its SQL next to the code that reads
 * its result, so a reader sees both at once. The aggregates' SQL is in
 * store_names.c, store_entities.c, store_credit.c and
 * store_deregistration.c.
 */
#include "store.h"
#include "db.h"
#include "store_private.h"

#include <czmq.h>

PGresult *store_query(PGconn *db, const char *sql, int count, const char *const *values,
                      ExecStatusType expected)
{
    PGresult *res = db_query(db, sql, count, values, NULL, NULL, 0);
    if (PQresultStatus(res) == expected)
        return res;
    PQclear(res);
    return NULL;
}

int store_today(PGconn *db, const char *agency)
{
    const char *values[1] = {agency};
    PGresult *res = store_query(db, "SELECT to_char(chuang_today($1), 'YYYYMMDD')::int", 1, values,
                                PGRES_TUPLES_OK);
    if (!res)
        return -1;
    int today = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return today;
}
