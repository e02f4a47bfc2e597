/*
 * loans.c - guarantee loans in SQL; see loans.h.
 *
 * A loan's schedule is made at disbursement in one statement: interest
 * for each month on the principal (all outstanding until the last
 * instalment, which carries it), in fen rounded half up, due on the same
 * day of each following month (PostgreSQL's month arithmetic keeps the
 * month's last day). A repayment is spread by finance_loan_repay over the
 * unpaid instalments in order, under their row locks. Every move of a loan
 * is a row of loan_steps.
 */
#include "loans.h"
#include "steps.h"
#include "db.h"

#include <czmq.h>
#include <inttypes.h>

int loan_guarantee(PGconn *db, const char *agency, int64_t application_id, int64_t amount,
                   int64_t *id)
{
    char application[24], amount_text[24];
    snprintf(application, sizeof application, "%" PRId64, application_id);
    snprintf(amount_text, sizeof amount_text, "%" PRId64, amount);
    const char *values[3] = {agency, application, amount_text};
    PGresult *res = db_query(db,
                             "INSERT INTO loans (agency, application_id, programme, version,"
                             "   borrower, borrower_kind, guaranteed_fen)"
                             " SELECT agency, id, programme, version, applicant, applicant_kind,"
                             "   $3::bigint"
                             " FROM applications WHERE agency = $1 AND id = $2::bigint"
                             " RETURNING id",
                             3, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 ? 1 : LOAN_ERROR;
    char id_text[24] = "";
    if (rc == 1) {
        *id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        snprintf(id_text, sizeof id_text, "%s", PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    if (rc == 1 && steps_record(db, STEPS_LOAN, id_text, "", "approved", "finance",
                                "guarantee awarded after public notice") != 0)
        rc = LOAN_ERROR;
    return rc;
}

int loan_guaranteed_to(PGconn *db, const char *agency, const char *credit_code, int64_t *total)
{
    const char *values[2] = {agency, credit_code};
    PGresult *res = db_query(db,
                             "SELECT coalesce(sum(CASE WHEN principal_fen > 0 THEN principal_fen"
                             "   ELSE guaranteed_fen END), 0)"
                             " FROM loans WHERE agency = $1 AND borrower = $2"
                             "   AND status NOT IN ('repaid', 'cancelled', 'compensated')",
                             2, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : LOAN_ERROR;
    if (rc == 0)
        *total = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return rc;
}

int loan_get(PGconn *db, service_call_t *call, const char *agency, int64_t id, bool for_update,
             Chuang__Finance__Loan *loan)
{
    char id_text[24];
    snprintf(id_text, sizeof id_text, "%" PRId64, id);
    const char *values[2] = {agency, id_text};
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT l.id, l.application_id, l.programme,"
             " CASE l.borrower_kind WHEN 'entity' THEN l.borrower ELSE '' END AS credit_code,"
             " CASE l.borrower_kind WHEN 'person' THEN l.borrower ELSE '' END AS id_number,"
             " l.guaranteed_fen, l.status, l.bank, l.contract, l.principal_fen, l.annual_rate_bp,"
             " l.term_months, coalesce(l.disbursed_on::text, '') AS disbursed_on, l.reserve_fen,"
             " l.compensated_fen,"
             " (SELECT coalesce(sum(i.principal_fen - i.paid_principal_fen), 0) FROM"
             "   loan_instalments i WHERE i.loan_id = l.id) AS outstanding_principal_fen,"
             " (SELECT coalesce(sum(i.principal_fen - i.paid_principal_fen + i.interest_fen"
             "   - i.paid_interest_fen), 0) FROM loan_instalments i WHERE i.loan_id = l.id"
             "   AND i.due_on < chuang_today(l.agency)) AS overdue_fen"
             " FROM loans l WHERE l.agency = $1 AND l.id = $2::bigint%s",
             for_update ? " FOR UPDATE OF l" : "");
    PGresult *res = db_query(db, sql, 2, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : LOAN_ERROR;
    if (rc == 1 && service_call_row(call, res, 0, &loan->base) != CHUANG__STATUS__OK)
        rc = LOAN_ERROR;
    PQclear(res);
    if (rc != 1)
        return rc;
    res = db_query(db,
                   "SELECT number, period_from::text AS period_from, due_on::text AS due_on,"
                   " principal_fen, interest_fen, paid_principal_fen, paid_interest_fen,"
                   " coalesce(paid_on::text, '') AS paid_on"
                   " FROM loan_instalments WHERE loan_id = $1::bigint ORDER BY number",
                   1, values + 1, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK ||
        service_call_rows(call, res, -1, &chuang__finance__loan_instalment__descriptor,
                          &loan->instalments, &loan->n_instalments) != CHUANG__STATUS__OK)
        rc = LOAN_ERROR;
    PQclear(res);
    if (rc != 1)
        return rc;
    res = db_query(db,
                   "SELECT from_status, to_status, by, reason,"
                   " (extract(epoch FROM at) * 1000)::bigint AS at_ms"
                   " FROM loan_steps WHERE loan_id = $1::bigint ORDER BY position",
                   1, values + 1, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK ||
        service_call_rows(call, res, -1, &chuang__finance__loan_step__descriptor, &loan->steps,
                          &loan->n_steps) != CHUANG__STATUS__OK)
        rc = LOAN_ERROR;
    PQclear(res);
    return rc;
}

int loan_bank_approve(PGconn *db, const char *agency, const Chuang__Finance__BankApprovalRequest *r,
                      const char *bank_principal, const char *by)
{
    char principal[24], rate[16], term[16];
    snprintf(principal, sizeof principal, "%" PRId64, r->principal_fen);
    snprintf(rate, sizeof rate, "%d", r->annual_rate_bp);
    snprintf(term, sizeof term, "%d", r->term_months);
    const char *extra[6] = {r->bank, r->contract, principal, rate, term, bank_principal};
    return steps_update(
        db, STEPS_LOAN, agency, r->id,
        "UPDATE loans SET status = 'bank_approved', bank = $3, contract = $4,"
        " principal_fen = $5::bigint, annual_rate_bp = $6::int, term_months = $7::int,"
        " bank_principal = $8"
        " WHERE agency = $1 AND id = $2::bigint AND status = 'approved'",
        6, extra, "approved", "bank_approved", by, r->contract);
}

int loan_disburse(PGconn *db, const char *agency, int64_t id, const char *day, int64_t reserve_bp,
                  const char *by, int64_t *reserve)
{
    char reserve_text[24];
    snprintf(reserve_text, sizeof reserve_text, "%" PRId64, reserve_bp);
    const char *extra[2] = {day, reserve_text};
    int rc =
        steps_update(db, STEPS_LOAN, agency, id,
                     "UPDATE loans SET status = 'repaying', disbursed_on = $3::date,"
                     " reserve_fen = round(principal_fen::numeric * $4::bigint / 10000)::bigint"
                     " WHERE agency = $1 AND id = $2::bigint AND status = 'bank_approved'",
                     2, extra, "bank_approved", "repaying", by, "disbursed");
    if (rc != 1)
        return rc;
    char id_text[24];
    snprintf(id_text, sizeof id_text, "%" PRId64, id);
    const char *values[1] = {id_text};
    PGresult *res =
        db_query(db,
                 "WITH i AS (INSERT INTO loan_instalments (loan_id, number, period_from, due_on,"
                 "     principal_fen, interest_fen)"
                 "   SELECT l.id, n, (l.disbursed_on + (n - 1) * interval '1 month')::date,"
                 "     (l.disbursed_on + n * interval '1 month')::date,"
                 "     CASE WHEN n = l.term_months THEN l.principal_fen ELSE 0 END,"
                 "     round(l.principal_fen::numeric * l.annual_rate_bp / 120000)::bigint"
                 "   FROM loans l, generate_series(1, l.term_months) AS n WHERE l.id = $1::bigint"
                 "   RETURNING 1)"
                 " SELECT reserve_fen, (SELECT count(*) FROM i) FROM loans WHERE id = $1::bigint",
                 1, values, NULL, NULL, 0);
    rc = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 ? 1 : LOAN_ERROR;
    if (rc == 1)
        *reserve = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return rc;
}

int loan_repay(PGconn *db, const char *agency, int64_t id, int64_t amount, const char *day,
               const char *by)
{
    char id_text[24], amount_text[24];
    snprintf(id_text, sizeof id_text, "%" PRId64, id);
    snprintf(amount_text, sizeof amount_text, "%" PRId64, amount);
    const char *values[5] = {agency, id_text, amount_text, day, by};
    PGresult *res = db_query(db,
                             "SELECT status, finance_loan_repay(id, $3::bigint, $4::date, $5)"
                             " FROM loans WHERE agency = $1 AND id = $2::bigint"
                             "   AND status IN ('repaying', 'overdue')",
                             5, values, NULL, NULL, 0);
    int rc = LOAN_ERROR;
    char from[16] = "", to[16] = "";
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        rc = PQntuples(res);
        if (rc == 1) {
            snprintf(from, sizeof from, "%s", PQgetvalue(res, 0, 0));
            snprintf(to, sizeof to, "%s", PQgetvalue(res, 0, 1));
        }
    } else if (PQresultErrorField(res, PG_DIAG_SQLSTATE) &&
               streq(PQresultErrorField(res, PG_DIAG_SQLSTATE), "22003"))
        rc = LOAN_TOO_MUCH;
    PQclear(res);
    if (rc == 1 && !streq(from, to) &&
        steps_record(db, STEPS_LOAN, id_text, from, to, by, "repayment") != 0)
        rc = LOAN_ERROR;
    return rc;
}

int loan_move(PGconn *db, const char *agency, int64_t id, const char *from, const char *to,
              const char *by, const char *reason, int64_t compensated)
{
    char compensated_text[24];
    snprintf(compensated_text, sizeof compensated_text, "%" PRId64, compensated);
    const char *extra[3] = {from, to, compensated_text};
    return steps_update(db, STEPS_LOAN, agency, id,
                        "UPDATE loans SET status = $4,"
                        " compensated_fen = compensated_fen + $5::bigint"
                        " WHERE agency = $1 AND id = $2::bigint AND status = $3",
                        3, extra, from, to, by, reason);
}

int loan_report(PGconn *db, service_call_t *call, const char *agency, const char *programme,
                Chuang__Finance__LoanReport *report)
{
    const char *values[2] = {agency, programme};
    PGresult *res = db_query(
        db,
        "WITH l AS (SELECT l.*,"
        "     (SELECT coalesce(sum(i.principal_fen - i.paid_principal_fen), 0)"
        "       FROM loan_instalments i WHERE i.loan_id = l.id) AS owed,"
        "     (SELECT coalesce(sum(i.principal_fen - i.paid_principal_fen + i.interest_fen"
        "       - i.paid_interest_fen), 0) FROM loan_instalments i WHERE i.loan_id = l.id"
        "       AND i.due_on < chuang_today(l.agency)) AS late"
        "   FROM loans l WHERE l.agency = $1 AND l.programme = $2),"
        " f AS (SELECT p.code, p.fund FROM programmes p WHERE p.agency = $1 AND p.code = $2),"
        " b AS (SELECT a.kind, CASE a.normal WHEN 'debit' THEN a.balance ELSE -a.balance END"
        "     AS balance FROM accounts a, f WHERE a.agency = $1 AND a.fund = f.fund)"
        " SELECT f.code AS programme, f.fund,"
        "   (SELECT count(*) FROM l) AS loans,"
        "   (SELECT count(*) FROM l WHERE status IN ('repaying', 'overdue')) AS outstanding,"
        "   (SELECT coalesce(sum(owed), 0) FROM l WHERE status IN ('repaying', 'overdue'))"
        "     AS outstanding_principal_fen,"
        "   (SELECT count(*) FROM l WHERE status = 'overdue') AS overdue,"
        "   (SELECT coalesce(sum(late), 0) FROM l WHERE status = 'overdue') AS overdue_fen,"
        "   (SELECT count(*) FROM l WHERE status = 'defaulted') AS defaulted,"
        "   (SELECT count(*) FROM l WHERE status = 'compensated') AS compensated,"
        "   (SELECT coalesce(sum(compensated_fen), 0) FROM l) AS compensated_fen,"
        "   coalesce((SELECT balance FROM b WHERE kind = 'reserve'), 0) AS reserve_fen,"
        "   coalesce((SELECT balance FROM b WHERE kind = 'reserve_due'), 0) AS reserve_due_fen,"
        "   coalesce((SELECT balance FROM b WHERE kind = 'available'), 0) AS available_fen"
        " FROM f",
        2, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : LOAN_ERROR;
    if (rc == 1 && service_call_row(call, res, 0, &report->base) != CHUANG__STATUS__OK)
        rc = LOAN_ERROR;
    PQclear(res);
    return rc;
}

int loan_owed(PGconn *db, int64_t id, int64_t share_bp, int64_t *owed, int64_t *share)
{
    char id_text[24], share_text[24];
    snprintf(id_text, sizeof id_text, "%" PRId64, id);
    snprintf(share_text, sizeof share_text, "%" PRId64, share_bp);
    const char *values[2] = {id_text, share_text};
    PGresult *res = db_query(
        db,
        "WITH o AS (SELECT coalesce(sum(i.principal_fen - i.paid_principal_fen"
        "     + CASE WHEN i.due_on <= chuang_today(l.agency)"
        "       THEN i.interest_fen - i.paid_interest_fen ELSE 0 END), 0) AS owed"
        "   FROM loans l JOIN loan_instalments i ON i.loan_id = l.id WHERE l.id = $1::bigint)"
        " SELECT owed, round(owed::numeric * $2::bigint / 10000)::bigint FROM o",
        2, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 ? 0 : LOAN_ERROR;
    if (rc == 0) {
        *owed = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        *share = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    }
    PQclear(res);
    return rc;
}

int loan_days_overdue(PGconn *db, int64_t id, int *days)
{
    char id_text[24];
    snprintf(id_text, sizeof id_text, "%" PRId64, id);
    const char *values[1] = {id_text};
    PGresult *res = db_query(db,
                             "SELECT coalesce(max(chuang_today(l.agency) - i.due_on), 0)"
                             " FROM loans l JOIN loan_instalments i ON i.loan_id = l.id"
                             " WHERE l.id = $1::bigint AND i.paid_on IS NULL"
                             "   AND i.due_on < chuang_today(l.agency)",
                             1, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 ? 0 : LOAN_ERROR;
    if (rc == 0)
        *days = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return rc;
}

int loan_subsidy(PGconn *db, service_call_t *call, const char *agency, const char *programme,
                 int version, const char *borrower, const char *contract, const char *from,
                 const char *to, Chuang__Finance__Eligibility *out)
{
    char version_text[16];
    snprintf(version_text, sizeof version_text, "%d", version);
    const char *values[7] = {agency, programme, version_text, borrower, contract, from, to};
    PGresult *res = db_query(db,
                             "SELECT number, period_from::text AS period_from,"
                             " due_on::text AS due_on, reference_bp, base_fen, interest_fen,"
                             " subsidy_fen FROM finance_interest_subsidy($1, $2, $3::int, $4, $5,"
                             "   $6::date, $7::date)",
                             7, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK &&
                     service_call_rows(call, res, -1, &chuang__finance__subsidy_period__descriptor,
                                       &out->subsidy_periods,
                                       &out->n_subsidy_periods) == CHUANG__STATUS__OK
                 ? 0
                 : LOAN_ERROR;
    PQclear(res);
    out->computed = true;
    out->subsidy_fen = 0;
    for (size_t i = 0; rc == 0 && i < out->n_subsidy_periods; i++)
        out->subsidy_fen += out->subsidy_periods[i]->subsidy_fen;
    return rc;
}

int loan_bank_principal(PGconn *db, const char *agency, int64_t id, char *bank, size_t size)
{
    char id_text[24];
    snprintf(id_text, sizeof id_text, "%" PRId64, id);
    const char *values[2] = {agency, id_text};
    PGresult *res =
        db_query(db, "SELECT bank_principal FROM loans WHERE agency = $1 AND id = $2::bigint", 2,
                 values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : LOAN_ERROR;
    if (rc == 1)
        snprintf(bank, size, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return rc;
}
