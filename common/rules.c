/*
 * rules.c - dated rules; see rules.h. The choice of the row in force is
 * made once, in SQL (chuang_rule_row), so that C and the services' own SQL
 * can never disagree on it.
 */
#include "rules.h"
#include "db.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

int rules_get(PGconn *db, const char *agency, const char *name, const char *day, int64_t *value)
{
    const char *values[3] = {agency, name, day};
    PGresult *res = db_query(db,
                             "SELECT value FROM chuang_rule_row($1, $2,"
                             " coalesce($3::date, chuang_today($1)))",
                             3, values, NULL, NULL, 0);
    int found = -1;
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        found = PQntuples(res) > 0;
        if (found)
            *value = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    }
    PQclear(res);
    return found;
}

PGresult *rules_lapsing(PGconn *db, const char *agency, int days)
{
    char days_text[16];
    snprintf(days_text, sizeof days_text, "%d", days);
    const char *values[2] = {agency, days_text};
    PGresult *res = db_query(
        db,
        "SELECT r.name, r.value, r.effective_to::text, r.effective_to - chuang_today($1), r.trial,"
        "   r.document"
        " FROM (SELECT DISTINCT name FROM chuang_rules WHERE agency IN ($1, '')) n"
        " CROSS JOIN LATERAL chuang_rule_latest($1, n.name, chuang_today($1)) r"
        " WHERE r.effective_to <= chuang_today($1) + $2::int"
        " ORDER BY r.effective_to, r.name",
        2, values, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        return res;
    PQclear(res);
    return NULL;
}
