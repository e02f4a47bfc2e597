/*
 * loans.h - guarantee loans and their instalments in SQL
 * (sql/0008_guarantee_loans.sql).
 *
 * Every function runs on the caller's connection inside its transaction;
 * it returns 1, 0 for "not found" (or for the loan not being in the state
 * required), or LOAN_* codes below zero.
 */
#ifndef FINANCE_LOANS_H
#define FINANCE_LOANS_H

#include "finance.pb-c.h"
#include "service.h"

#include <libpq-fe.h>
#include <stdint.h>

#define LOAN_ERROR     -1
#define LOAN_DUPLICATE -2 /* the bank has a loan of that contract number already */
#define LOAN_TOO_MUCH  -3 /* a repayment passes what is owed */

/* Creates the loan that awarded application application_id guarantees, for
 * amount; its id into *id. Returns 1 or LOAN_ERROR. */
int loan_guarantee(PGconn *db, const char *agency, int64_t application_id, int64_t amount,
                   int64_t *id);

/* What agency has guaranteed to credit_code and is not repaid, cancelled
 * or compensated, in fen, into *total. Returns 0 or LOAN_ERROR. */
int loan_guaranteed_to(PGconn *db, const char *agency, const char *credit_code, int64_t *total);

/* Fills loan (memory from call) with loan id of agency, its instalments
 * and steps; with for_update, locks it for this transaction. Returns 1, 0
 * when there is no such loan, or LOAN_ERROR. */
int loan_get(PGconn *db, service_call_t *call, const char *agency, int64_t id, bool for_update,
             Chuang__Finance__Loan *loan);

/* The principal of the bank that approved loan id, into bank (size
 * bytes; "" for none). Returns 1, 0 when there is no such loan, or
 * LOAN_ERROR. */
int loan_bank_principal(PGconn *db, const char *agency, int64_t id, char *bank, size_t size);

/* Records the bank's approval of approved loan id on request's terms, by
 * bank_principal (the lending bank's principal; "" when a finance officer
 * records it). Returns 1, 0 when it is not approved, LOAN_DUPLICATE or
 * LOAN_ERROR. */
int loan_bank_approve(PGconn *db, const char *agency, const Chuang__Finance__BankApprovalRequest *r,
                      const char *bank_principal, const char *by);

/* Disburses bank-approved loan id on day, making its instalments, and
 * accrues reserve_bp of its principal (rounded half up to the fen) into
 * *reserve. Returns 1, 0 when it is not bank-approved, or LOAN_ERROR. */
int loan_disburse(PGconn *db, const char *agency, int64_t id, const char *day, int64_t reserve_bp,
                  const char *by, int64_t *reserve);

/* What loan id owes today: every unpaid principal and the unpaid interest
 * of instalments due by today, into *owed, and share_bp of it (rounded
 * half up to the fen) into *share. Returns 0 or LOAN_ERROR. */
int loan_owed(PGconn *db, int64_t id, int64_t share_bp, int64_t *owed, int64_t *share);

/* How many days the earliest unpaid instalment of loan id is past its day
 * (0: none), into *days. Returns 0 or LOAN_ERROR. */
int loan_days_overdue(PGconn *db, int64_t id, int *days);

/* Applies a repayment of amount on day to loan id (repaying or overdue),
 * earliest instalment first, interest before principal, and moves the loan
 * to repaid when nothing is left, or back to repaying when nothing past
 * its day is. Returns 1, 0 when it is not being repaid, LOAN_TOO_MUCH or
 * LOAN_ERROR. */
int loan_repay(PGconn *db, const char *agency, int64_t id, int64_t amount, const char *day,
               const char *by);

/* Moves loan id from status from to status to, recording the step (by,
 * reason); on to "compensated", records compensated fen. Returns 1, 0
 * when its status is not from, or LOAN_ERROR. */
int loan_move(PGconn *db, const char *agency, int64_t id, const char *from, const char *to,
              const char *by, const char *reason, int64_t compensated);

/* Fills report with the loans of programme of agency. Returns 1, 0 when
 * there is no such programme, or LOAN_ERROR. */
int loan_report(PGconn *db, service_call_t *call, const char *agency, const char *programme,
                Chuang__Finance__LoanReport *report);

/* Computes the interest subsidy of programme's version (of agency) for
 * borrower's loan of contract over the period from .. to: fills
 * out->subsidy_periods (memory from call), each instalment within the
 * period repaid in full with its subsidy (sql/0009_interest_subsidies.sql),
 * out->subsidy_fen (their sum) and out->computed. Returns 0 or
 * LOAN_ERROR. */
int loan_subsidy(PGconn *db, service_call_t *call, const char *agency, const char *programme,
                 int version, const char *borrower, const char *contract, const char *from,
                 const char *to, Chuang__Finance__Eligibility *out);

#endif
