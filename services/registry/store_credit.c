/*
 * store_credit.c - the registry's SQL for credit: listings on the abnormal
 * and dishonest lists, annual reports, and the annual check that lists as
 * abnormal the entities whose report is missing after the deadline; see
 * store.h.
 *
 * A listing is open until it has a removed_at, and an entity has at most
 * one open listing per list. The annual check of a year runs in chunks
 * (jobs.c): the reason it writes (ANNUAL_REASON) tells a rerun which
 * entities it listed already, and annual_report_checks records an
 * agency's year as done.
 */
#include "store.h"
#include "store_private.h"

#include <czmq.h>

/* A listing's columns, named after its fields. */
#define LISTING_COLUMNS                                                                            \
    "id, credit_code, list, reason, authority,"                                                    \
    " (extract(epoch FROM listed_at) * 1000)::bigint AS listed_at_ms,"                             \
    " (extract(epoch FROM removed_at) * 1000)::bigint AS removed_at_ms, removal_reason"

/* Fills listing from row i of res (memory from call). Returns 0 or -1. */
static int s_listing(service_call_t *call, PGresult *res, int i, Chuang__Registry__Listing *listing)
{
    return service_call_row(call, res, i, &listing->base) == CHUANG__STATUS__OK ? 0 : -1;
}

int store_listing_add(PGconn *db, service_call_t *call, const char *credit_code, const char *list,
                      const char *reason, const char *authority, Chuang__Registry__Listing *listing)
{
    const char *values[4] = {credit_code, list, reason, authority};
    PGresult *res =
        store_query(db,
                    "INSERT INTO credit_listings (credit_code, list, reason, authority)"
                    " VALUES ($1, $2, $3, $4)"
                    " ON CONFLICT (credit_code, list) WHERE removed_at IS NULL DO NOTHING"
                    " RETURNING " LISTING_COLUMNS,
                    4, values, PGRES_TUPLES_OK);
    if (!res)
        return -1;
    int added = PQntuples(res);
    if (added && s_listing(call, res, 0, listing) != 0)
        added = -1;
    PQclear(res);
    return added;
}

int store_listing_remove(PGconn *db, service_call_t *call, const char *credit_code,
                         const char *list, const char *reason, Chuang__Registry__Listing *listing)
{
    const char *values[3] = {credit_code, list, reason};
    PGresult *res = store_query(db,
                                "UPDATE credit_listings SET removed_at = now(), removal_reason = $3"
                                " WHERE credit_code = $1 AND list = $2 AND removed_at IS NULL"
                                " RETURNING " LISTING_COLUMNS,
                                3, values, PGRES_TUPLES_OK);
    if (!res)
        return -1;
    int removed = PQntuples(res);
    if (removed && s_listing(call, res, 0, listing) != 0)
        removed = -1;
    PQclear(res);
    return removed;
}

int store_listings_open(PGconn *db, service_call_t *call, const char *credit_code,
                        Chuang__Registry__CreditStanding *standing)
{
    const char *values[1] = {credit_code};
    PGresult *res = store_query(db,
                                "SELECT " LISTING_COLUMNS " FROM credit_listings"
                                " WHERE credit_code = $1 AND removed_at IS NULL ORDER BY id",
                                1, values, PGRES_TUPLES_OK);
    if (!res)
        return -1;
    standing->n_listings = (size_t)PQntuples(res);
    standing->listings =
        service_call_alloc(call, (standing->n_listings + 1) * sizeof *standing->listings);
    int rc = 0;
    for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
        standing->listings[i] = service_call_alloc(call, sizeof *standing->listings[i]);
        chuang__registry__listing__init(standing->listings[i]);
        rc = s_listing(call, res, i, standing->listings[i]);
    }
    PQclear(res);
    return rc == 0 ? (int)standing->n_listings : -1;
}

int store_annual_report_add(PGconn *db, const Chuang__Registry__FileAnnualReportRequest *request,
                            int64_t *filed_at_ms)
{
    char year[16], employees[16], revenue[24];
    snprintf(year, sizeof year, "%d", request->year);
    snprintf(employees, sizeof employees, "%d", request->employees);
    snprintf(revenue, sizeof revenue, "%" PRId64, request->revenue_fen);
    const char *values[4] = {request->credit_code, year, employees, revenue};
    PGresult *res =
        store_query(db,
                    "INSERT INTO annual_reports (credit_code, year, employees, revenue_fen)"
                    " VALUES ($1, $2::int, $3::int, $4::bigint)"
                    " ON CONFLICT (credit_code, year) DO NOTHING"
                    " RETURNING (extract(epoch FROM filed_at) * 1000)::bigint",
                    4, values, PGRES_TUPLES_OK);
    if (!res)
        return -1;
    int added = PQntuples(res);
    if (added)
        *filed_at_ms = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return added;
}

PGresult *store_annual_checks_due(PGconn *db)
{
    return store_query(
        db,
        "WITH agencies AS (SELECT DISTINCT agency FROM entities),"
        " due AS (SELECT a.agency, extract(year FROM chuang_today(a.agency))::int - 1 AS year,"
        "   chuang_rule(a.agency, 'annual_report_last_day', chuang_today(a.agency)) AS last_day"
        "   FROM agencies a)"
        " SELECT agency || ':' || year, (extract(epoch FROM chuang_day_start(agency,"
        "   make_date(year + 1, (last_day / 100)::int, (last_day % 100)::int) + 1)) * 1000)::bigint"
        " FROM due WHERE last_day IS NOT NULL AND NOT EXISTS (SELECT 1 FROM annual_report_checks c"
        "   WHERE c.year = due.year AND c.agency IN (due.agency, ''))",
        0, NULL, PGRES_TUPLES_OK);
}

/* The reason every listing of one year's check gives: also what tells a
 * rerun which entities that check listed already. */
#define ANNUAL_REASON "'annual report for ' || $2 || ' not filed by the deadline'"

PGresult *store_annual_check_chunk(PGconn *db, const char *agency, int year, int limit)
{
    char year_text[16], limit_text[16];
    snprintf(year_text, sizeof year_text, "%d", year);
    snprintf(limit_text, sizeof limit_text, "%d", limit);
    const char *values[3] = {agency, year_text, limit_text};
    return store_query(
        db,
        "WITH listed AS ("
        "  INSERT INTO credit_listings (credit_code, list, reason, authority)"
        "  SELECT e.credit_code, 'abnormal', " ANNUAL_REASON ", 'registry'"
        "  FROM entities e"
        "  WHERE e.agency = $1 AND e.status = 'registered'"
        "    AND e.registered_on <= make_date($2::int, 12, 31)"
        "    AND NOT EXISTS (SELECT 1 FROM annual_reports r"
        "                    WHERE r.credit_code = e.credit_code AND r.year = $2::int)"
        "    AND NOT EXISTS (SELECT 1 FROM credit_listings l"
        "                    WHERE l.credit_code = e.credit_code AND l.list = 'abnormal'"
        "                      AND (l.removed_at IS NULL OR l.reason = " ANNUAL_REASON "))"
        "  ORDER BY e.credit_code LIMIT $3::int"
        "  RETURNING credit_code, id, listed_at, reason)"
        " SELECT l.credit_code, l.id, (extract(epoch FROM l.listed_at) * 1000)::bigint, l.reason"
        " FROM listed l",
        3, values, PGRES_TUPLES_OK);
}

int store_annual_check_finish(PGconn *db, const char *agency, int year)
{
    char year_text[16];
    snprintf(year_text, sizeof year_text, "%d", year);
    const char *values[2] = {agency, year_text};
    PGresult *res = store_query(
        db,
        "INSERT INTO annual_report_checks (agency, year, listed)"
        " SELECT $1, $2::int, count(*) FROM credit_listings l JOIN entities e USING (credit_code)"
        " WHERE e.agency = $1 AND l.reason = " ANNUAL_REASON " ON CONFLICT DO NOTHING",
        2, values, PGRES_COMMAND_OK);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

int store_annual_check_done(PGconn *db, const char *agency, int year)
{
    char year_text[16];
    snprintf(year_text, sizeof year_text, "%d", year);
    const char *values[2] = {agency, year_text};
    PGresult *res = store_query(db,
                                "SELECT 1 FROM annual_report_checks"
                                " WHERE year = $2::int AND agency IN ($1, '')",
                                2, values, PGRES_TUPLES_OK);
    if (!res)
        return -1;
    int done = PQntuples(res);
    PQclear(res);
    return done;
}
