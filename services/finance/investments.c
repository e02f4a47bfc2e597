/*
 * investments.c - angel and venture funds and their investments in SQL;
 * see investments.h.
 *
 * Statistics are counted in the agency's calendar: a fund filed in the
 * year, recorded at the year's end (recorded on or before its last day and
 * not deregistered by then, as far as the rows tell: a deregistration is
 * the fund's latest status), and the investments made in the year, by
 * round and by the section letter of the entity's industry (GB/T 4754).
 */
#include "investments.h"
#include "db.h"
#include "facts.h"
#include "db_array.h"

#include <czmq.h>
#include <inttypes.h>

/* 1 for a statement that returned one row into *id, INVEST_EXISTS on a
 * unique violation, else INVEST_ERROR; clears res. */
static int s_returned(PGresult *res, int64_t *id)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    int rc = INVEST_ERROR;
    if (state && streq(state, "23505"))
        rc = INVEST_EXISTS;
    else if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        *id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        rc = 1;
    }
    PQclear(res);
    return rc;
}

int invest_fund_file(PGconn *db, const char *agency, const Chuang__Finance__FundFiling *request,
                     const char *principal, const char *by, int64_t *id)
{
    char size[24];
    snprintf(size, sizeof size, "%" PRId64, request->size_fen);
    char *stages = db_text_array(request->stages, request->n_stages);
    if (!stages)
        return INVEST_ERROR;
    const char *values[10] = {agency,
                              request->name,
                              request->kind,
                              request->manager_credit_code,
                              request->manager_name,
                              request->registration,
                              size,
                              stages,
                              principal,
                              by};
    PGresult *res = db_query(db,
                             "INSERT INTO investment_funds (agency, name, kind,"
                             "   manager_credit_code, manager_name, registration, size_fen, stages,"
                             "   principal, filed_by, filed_on)"
                             " VALUES ($1, $2, $3, $4, $5, $6, $7::bigint, $8::text[], $9, $10,"
                             "   chuang_today($1)) RETURNING id",
                             10, values, NULL, NULL, 0);
    free(stages);
    return s_returned(res, id);
}

int invest_fund_get(PGconn *db, service_call_t *call, const char *agency, int64_t id, bool lock,
                    Chuang__Finance__InvestmentFund *fund)
{
    char id_text[24];
    snprintf(id_text, sizeof id_text, "%" PRId64, id);
    const char *values[2] = {agency, id_text};
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT id, name, kind, manager_credit_code, manager_name, registration, size_fen,"
             " stages, principal, status, reason, filed_by, filed_on::text AS filed_on,"
             " decided_by, coalesce(recorded_on::text, '') AS recorded_on,"
             " (SELECT count(*) FROM fund_investments i WHERE i.fund_id = f.id) AS investments,"
             " (SELECT coalesce(sum(amount_fen), 0) FROM fund_investments i"
             "   WHERE i.fund_id = f.id) AS invested_fen"
             " FROM investment_funds f WHERE agency = $1 AND id = $2::bigint%s",
             lock ? " FOR UPDATE" : "");
    PGresult *res = db_query(db, sql, 2, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : INVEST_ERROR;
    if (rc == 1 && service_call_row(call, res, 0, &fund->base) != CHUANG__STATUS__OK)
        rc = INVEST_ERROR;
    PQclear(res);
    return rc;
}

int invest_fund_decide(PGconn *db, const char *agency, int64_t id, const char *to,
                       const char *reason, const char *by)
{
    char id_text[24];
    snprintf(id_text, sizeof id_text, "%" PRId64, id);
    const char *values[5] = {agency, id_text, to, reason, by};
    PGresult *res =
        db_query(db,
                 "UPDATE investment_funds SET status = $3, reason = $4, decided_by = $5,"
                 "   recorded_on = CASE WHEN $3 = 'recorded' THEN chuang_today($1)"
                 "     ELSE recorded_on END"
                 " WHERE agency = $1 AND id = $2::bigint",
                 5, values, NULL, NULL, 0);
    int rc =
        PQresultStatus(res) == PGRES_COMMAND_OK && streq(PQcmdTuples(res), "1") ? 1 : INVEST_ERROR;
    PQclear(res);
    return rc;
}

int invest_report(PGconn *db, const char *agency, const Chuang__Finance__InvestmentReport *request,
                  const char *day, const char *by, int64_t *id, char *registered)
{
    int rc = facts_of_area(db, agency, request->credit_code);
    if (rc == FACTS_OUTSIDE || rc == FACTS_CLOSED)
        rc = INVEST_OUTSIDE;
    if (rc != 1)
        return rc;
    const char *when[2] = {request->credit_code, day};
    PGresult *res = db_query(db,
                             "SELECT registered_on::text, registered_on > $2::date"
                             " FROM entity_facts WHERE credit_code = $1",
                             2, when, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        PQclear(res);
        return INVEST_ERROR;
    }
    snprintf(registered, 16, "%s", PQgetvalue(res, 0, 0));
    bool early = streq(PQgetvalue(res, 0, 1), "t");
    PQclear(res);
    if (early)
        return INVEST_EARLY;
    char fund[24], amount[24];
    snprintf(fund, sizeof fund, "%" PRId64, request->fund_id);
    snprintf(amount, sizeof amount, "%" PRId64, request->amount_fen);
    const char *values[7] = {agency, fund, request->credit_code, amount, day, request->round, by};
    res = db_query(db,
                   "INSERT INTO fund_investments (agency, fund_id, credit_code, amount_fen,"
                   "   invested_on, round, industry_code, recorded_by)"
                   " SELECT $1, $2::bigint, $3, $4::bigint, $5::date, $6, f.industry_code, $7"
                   " FROM entity_facts f WHERE f.credit_code = $3 RETURNING id",
                   7, values, NULL, NULL, 0);
    return s_returned(res, id);
}

int invest_get(PGconn *db, service_call_t *call, const char *agency, int64_t id,
               Chuang__Finance__Investment *investment)
{
    char id_text[24];
    snprintf(id_text, sizeof id_text, "%" PRId64, id);
    const char *values[2] = {agency, id_text};
    PGresult *res = db_query(db,
                             "SELECT i.id, i.fund_id, i.credit_code, i.amount_fen,"
                             " i.invested_on::text AS invested_on, i.round, i.industry_code,"
                             " EXISTS (SELECT 1 FROM entity_firsts x WHERE x.credit_code ="
                             "   i.credit_code AND x.kind = 'investment'"
                             "   AND x.source = 'investment:' || i.id) AS first_investment,"
                             " i.recorded_by"
                             " FROM fund_investments i WHERE i.agency = $1 AND i.id = $2::bigint",
                             2, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : INVEST_ERROR;
    if (rc == 1 && service_call_row(call, res, 0, &investment->base) != CHUANG__STATUS__OK)
        rc = INVEST_ERROR;
    PQclear(res);
    return rc;
}

int invest_of_manager(PGconn *db, service_call_t *call, const char *agency, int64_t id,
                      const char *manager, Chuang__Finance__Investment *investment,
                      int64_t *age_days)
{
    char id_text[24];
    snprintf(id_text, sizeof id_text, "%" PRId64, id);
    const char *values[3] = {agency, id_text, manager};
    PGresult *res = db_query(db,
                             "SELECT i.invested_on - e.registered_on FROM fund_investments i"
                             " JOIN investment_funds f ON f.id = i.fund_id"
                             " JOIN entity_facts e ON e.credit_code = i.credit_code"
                             " WHERE i.agency = $1 AND i.id = $2::bigint"
                             "   AND f.manager_credit_code = $3",
                             3, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : INVEST_ERROR;
    if (rc == 1)
        *age_days = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return rc == 1 ? invest_get(db, call, agency, id, investment) : rc;
}

/* Fills a list of lines from sql's rows (key, investments, amount_fen). */
static int s_lines(PGconn *db, service_call_t *call, const char *sql, const char *const *values,
                   Chuang__Finance__InvestmentLine ***lines, size_t *count)
{
    PGresult *res = db_query(db, sql, 2, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK &&
                     service_call_rows(call, res, -1, &chuang__finance__investment_line__descriptor,
                                       lines, count) == CHUANG__STATUS__OK
                 ? 0
                 : INVEST_ERROR;
    PQclear(res);
    return rc;
}

int invest_statistics(PGconn *db, service_call_t *call, const char *agency, int year,
                      Chuang__Finance__InvestmentStatistics *out)
{
    char year_text[16];
    snprintf(year_text, sizeof year_text, "%d", year);
    const char *values[2] = {agency, year_text};
    PGresult *res = db_query(
        db,
        "WITH y AS (SELECT make_date($2::int, 1, 1) AS first, make_date($2::int, 12, 31) AS last),"
        " i AS (SELECT i.* FROM fund_investments i, y WHERE i.agency = $1"
        "   AND i.invested_on BETWEEN y.first AND y.last)"
        " SELECT $2::int AS year,"
        "  (SELECT count(*) FROM investment_funds f, y WHERE f.agency = $1"
        "    AND f.filed_on BETWEEN y.first AND y.last) AS funds_filed,"
        "  (SELECT count(*) FROM investment_funds f, y WHERE f.agency = $1"
        "    AND f.status = 'recorded' AND f.recorded_on <= y.last) AS funds_recorded,"
        "  (SELECT coalesce(sum(size_fen), 0) FROM investment_funds f, y WHERE f.agency = $1"
        "    AND f.status = 'recorded' AND f.recorded_on <= y.last) AS managed_fen,"
        "  (SELECT count(*) FROM i) AS investments,"
        "  (SELECT coalesce(sum(amount_fen), 0) FROM i) AS invested_fen,"
        "  (SELECT count(*) FROM entity_firsts x, y WHERE x.agency = $1"
        "    AND x.kind = 'investment' AND x.first_on BETWEEN y.first AND y.last)"
        "    AS first_investments",
        2, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
                     service_call_row(call, res, 0, &out->base) == CHUANG__STATUS__OK
                 ? 1
                 : INVEST_ERROR;
    PQclear(res);
    if (rc != 1)
        return rc;
#define YEAR_INVESTMENTS                                                                           \
    " FROM fund_investments WHERE agency = $1"                                                     \
    "   AND invested_on BETWEEN make_date($2::int, 1, 1) AND make_date($2::int, 12, 31)"
    if (s_lines(db, call,
                "SELECT round AS key, count(*) AS investments, sum(amount_fen) AS "
                "amount_fen" YEAR_INVESTMENTS " GROUP BY round ORDER BY round",
                values, &out->rounds, &out->n_rounds) != 0 ||
        s_lines(db, call,
                "SELECT coalesce(nullif(left(industry_code, 1), ''), '-') AS key,"
                " count(*) AS investments, sum(amount_fen) AS amount_fen" YEAR_INVESTMENTS
                " GROUP BY 1 ORDER BY 1",
                values, &out->industries, &out->n_industries) != 0)
        return INVEST_ERROR;
#undef YEAR_INVESTMENTS
    return 1;
}
