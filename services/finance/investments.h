/*
 * investments.h - angel and venture funds filed with the agency and the
 * investments they report, in SQL (sql/0014_investment_funds.sql, whose
 * triggers keep each entity's first investment, loan and guarantee).
 *
 * Every function runs on the caller's connection inside its transaction
 * and returns 1 or a count, 0 for "not found", or a negative INVEST_*
 * code; on INVEST_ERROR the database's error is on the connection.
 */
#ifndef FINANCE_INVESTMENTS_H
#define FINANCE_INVESTMENTS_H

#include "finance.pb-c.h"
#include "service.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#define INVEST_ERROR   -1
#define INVEST_EXISTS  -2 /* a fund of that registration, or that investment, is recorded */
#define INVEST_OUTSIDE -3 /* the entity is domiciled outside the agency's area */
#define INVEST_EARLY   -4 /* the day is before the entity's registration */

/* Files request's fund in agency with principal, by by, into *id.
 * Returns 1, INVEST_EXISTS or INVEST_ERROR. */
int invest_fund_file(PGconn *db, const char *agency, const Chuang__Finance__FundFiling *request,
                     const char *principal, const char *by, int64_t *id);

/* Fills fund (memory from call) with fund id of agency and what it has
 * invested, its row locked for this transaction when lock. Returns 1, 0
 * when there is no such fund, or INVEST_ERROR. */
int invest_fund_get(PGconn *db, service_call_t *call, const char *agency, int64_t id, bool lock,
                    Chuang__Finance__InvestmentFund *fund);

/* Moves fund id of agency to status to for reason, by by. Returns 1 or
 * INVEST_ERROR. */
int invest_fund_decide(PGconn *db, const char *agency, int64_t id, const char *to,
                       const char *reason, const char *by);

/* Records request's investment, made on day, by by, into *id. Returns 1;
 * 0 when finance knows no such entity; INVEST_OUTSIDE; INVEST_EARLY (with
 * the registration's day in registered, 16 bytes); INVEST_EXISTS (the
 * fund reported that round of the entity already); or INVEST_ERROR. */
int invest_report(PGconn *db, const char *agency, const Chuang__Finance__InvestmentReport *request,
                  const char *day, const char *by, int64_t *id, char *registered);

/* Fills investment (memory from call) with investment id of agency.
 * Returns 1, 0 when there is none, or INVEST_ERROR. */
int invest_get(PGconn *db, service_call_t *call, const char *agency, int64_t id,
               Chuang__Finance__Investment *investment);

/* Fills investment (memory from call) with investment id of agency when a
 * fund whose manager is manager (a credit code) reported it, and *age_days
 * with the investee's age in days on the investment's day. Returns 1, 0
 * when there is no such investment of the manager's, or INVEST_ERROR. */
int invest_of_manager(PGconn *db, service_call_t *call, const char *agency, int64_t id,
                      const char *manager, Chuang__Finance__Investment *investment,
                      int64_t *age_days);

/* Fills out with agency's statistics of year. Returns 1 or INVEST_ERROR. */
int invest_statistics(PGconn *db, service_call_t *call, const char *agency, int year,
                      Chuang__Finance__InvestmentStatistics *out);

#endif
