/*
 * pool.c - the pre-listing pool in SQL; see pool.h.
 *
 * Whether an entity lies within the agency's area is the database's
 * finance_within (its domicile's division under the agency's code); the
 * quota's counts are read under an advisory lock of the agency's pool, so
 * that decisions of one pool take turns.
 */
#include "pool.h"
#include "db.h"
#include "facts.h"

#include <czmq.h>
#include <inttypes.h>

const char *const pool_stages[] = {"shareholding_reform", "counselling_filing",
                                   "application_accepted", "listed", NULL};

#define ENTRY_COLUMNS                                                                              \
    "credit_code, year, name, tax_authority, tax_registered_on::text AS tax_registered_on,"        \
    " status, reason, proposed_by, decided_by, coalesce(decided_on::text, '') AS decided_on,"      \
    " coalesce(recommended_on::text, '') AS recommended_on"

int pool_propose(PGconn *db, const char *agency, const Chuang__Finance__PoolProposal *request,
                 int year, const char *by)
{
    int rc = facts_of_area(db, agency, request->credit_code);
    if (rc == FACTS_OUTSIDE || rc == FACTS_CLOSED)
        rc = rc == FACTS_OUTSIDE ? POOL_OUTSIDE : POOL_CLOSED;
    if (rc != 1)
        return rc;
    char year_text[16];
    snprintf(year_text, sizeof year_text, "%d", year);
    const char *values[7] = {agency,
                             request->credit_code,
                             year_text,
                             request->tax_authority,
                             request->tax_registered_on,
                             request->reason,
                             by};
    PGresult *res =
        db_query(db,
                 "INSERT INTO listing_pool (agency, credit_code, year, name, tax_authority,"
                 "   tax_registered_on, reason, proposed_by)"
                 " SELECT $1, $2, $3::int, f.name, $4, $5::date, $6, $7 FROM entity_facts f"
                 " WHERE f.credit_code = $2",
                 7, values, NULL, NULL, 0);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (state && streq(state, "23505"))
        rc = POOL_ENTERED;
    else
        rc = PQresultStatus(res) == PGRES_COMMAND_OK && streq(PQcmdTuples(res), "1") ? 1
                                                                                     : POOL_ERROR;
    PQclear(res);
    return rc;
}

int pool_get(PGconn *db, service_call_t *call, const char *agency, const char *credit_code,
             bool lock, Chuang__Finance__PoolEntry *entry)
{
    const char *values[2] = {agency, credit_code};
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT " ENTRY_COLUMNS " FROM listing_pool WHERE agency = $1 AND credit_code = $2"
             " ORDER BY status IN ('proposed', 'admitted', 'recommended') DESC, year DESC"
             " LIMIT 1%s",
             lock ? " FOR UPDATE" : "");
    PGresult *res = db_query(db, sql, 2, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : POOL_ERROR;
    if (rc == 1 && service_call_row(call, res, 0, &entry->base) != CHUANG__STATUS__OK)
        rc = POOL_ERROR;
    PQclear(res);
    if (rc != 1)
        return rc;
    res = db_query(db,
                   "SELECT stage, reached_on::text AS reached_on, document, recorded_by"
                   " FROM listing_stages WHERE agency = $1 AND credit_code = $2"
                   " ORDER BY reached_on, recorded_at",
                   2, values, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK ||
        service_call_rows(call, res, -1, &chuang__finance__listing_stage__descriptor,
                          &entry->stages, &entry->n_stages) != CHUANG__STATUS__OK)
        rc = POOL_ERROR;
    PQclear(res);
    return rc;
}

int pool_year(PGconn *db, const char *agency, int year, int *admitted, int *recommended)
{
    char year_text[16];
    snprintf(year_text, sizeof year_text, "%d", year);
    const char *values[2] = {agency, year_text};
    PGresult *res = db_query(db, "SELECT pg_advisory_xact_lock(hashtext('listing_pool:' || $1))", 1,
                             values, NULL, NULL, 0);
    bool locked = PQresultStatus(res) == PGRES_TUPLES_OK;
    PQclear(res);
    if (!locked)
        return POOL_ERROR;
    res = db_query(db,
                   "SELECT count(*) FILTER (WHERE year = $2::int AND decided_on IS NOT NULL"
                   "     AND status IN ('admitted', 'recommended', 'removed')),"
                   "   count(*) FILTER (WHERE extract(year FROM recommended_on) = $2::int)"
                   " FROM listing_pool WHERE agency = $1",
                   2, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : POOL_ERROR;
    if (rc == 0) {
        *admitted = atoi(PQgetvalue(res, 0, 0));
        *recommended = atoi(PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return rc;
}

int pool_decide(PGconn *db, const char *agency, const char *credit_code, int year, const char *to,
                const char *reason, const char *by)
{
    char year_text[16];
    snprintf(year_text, sizeof year_text, "%d", year);
    const char *values[6] = {agency, credit_code, year_text, to, reason, by};
    PGresult *res = db_query(
        db,
        "UPDATE listing_pool SET status = $4, reason = $5,"
        "   decided_by = CASE WHEN $4 IN ('admitted', 'declined') THEN $6 ELSE decided_by END,"
        "   decided_on = CASE WHEN $4 IN ('admitted', 'declined') THEN chuang_today($1)"
        "     ELSE decided_on END,"
        "   recommended_on = CASE WHEN $4 = 'recommended' THEN chuang_today($1)"
        "     ELSE recommended_on END"
        " WHERE agency = $1 AND credit_code = $2 AND year = $3::int",
        6, values, NULL, NULL, 0);
    int rc =
        PQresultStatus(res) == PGRES_COMMAND_OK && streq(PQcmdTuples(res), "1") ? 1 : POOL_ERROR;
    PQclear(res);
    return rc;
}

int pool_stage_record(PGconn *db, const char *agency, const char *credit_code, const char *stage,
                      const char *day, const char *document, const char *by)
{
    const char *values[6] = {agency, credit_code, stage, day, document, by};
    PGresult *res = db_query(db,
                             "INSERT INTO listing_stages (agency, credit_code, stage, reached_on,"
                             "   document, recorded_by)"
                             " VALUES ($1, $2, $3, $4::date, $5, $6) ON CONFLICT DO NOTHING",
                             6, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? atoi(PQcmdTuples(res)) : POOL_ERROR;
    PQclear(res);
    return rc;
}

int pool_stage_reached(PGconn *db, const char *agency, const char *credit_code, const char *stage)
{
    const char *values[3] = {agency, credit_code, stage};
    PGresult *res = db_query(db,
                             "SELECT 1 FROM listing_stages s JOIN listing_pool p"
                             "   ON p.agency = s.agency AND p.credit_code = s.credit_code"
                             "   AND p.status IN ('admitted', 'recommended')"
                             " WHERE s.agency = $1 AND s.credit_code = $2 AND s.stage = $3",
                             3, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) > 0 : POOL_ERROR;
    PQclear(res);
    return rc;
}

int pool_list(PGconn *db, service_call_t *call, const char *agency, int year, const char *status,
              Chuang__Finance__PoolList *list)
{
    char year_text[16];
    snprintf(year_text, sizeof year_text, "%d", year);
    const char *values[3] = {agency, year_text, status};
    PGresult *res = db_query(db,
                             "SELECT " ENTRY_COLUMNS " FROM listing_pool WHERE agency = $1"
                             "   AND ($2::int = 0 OR year = $2::int) AND ($3 = '' OR status = $3)"
                             " ORDER BY year, name, credit_code LIMIT 500",
                             3, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK &&
                     service_call_rows(call, res, -1, &chuang__finance__pool_entry__descriptor,
                                       &list->entries, &list->n_entries) == CHUANG__STATUS__OK
                 ? (int)list->n_entries
                 : POOL_ERROR;
    PQclear(res);
    return rc;
}
