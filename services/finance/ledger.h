/*
 * ledger.h - the finance service's books: funds, their accounts, journal
 * entries and what they add up to (sql/0001_ledger.sql holds the rules the
 * database enforces: balanced entries, never changed, no overdrawn cash
 * and no over-commitment).
 *
 * Every function runs on the caller's connection inside its transaction and
 * returns a count or id, 0 for "not found", or a negative LEDGER_* code; on
 * LEDGER_ERROR the database's error is on the connection and the transaction
 * is aborted.
 */
#ifndef FINANCE_LEDGER_H
#define FINANCE_LEDGER_H

#include "finance.pb-c.h"
#include "service.h"

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#define LEDGER_ERROR     -1 /* a query failed */
#define LEDGER_OVERDRAWN -2 /* a posting would take cash or available below zero */
#define LEDGER_TOO_LARGE -4 /* a balance would pass what 64 bits of fen hold */

/* One line of an entry: the account's code and the amount (fen; a debit is
 * positive, a credit negative). */
typedef struct {
    const char *account;
    int64_t amount;
} ledger_posting_t;

/* What an entry records beside its postings. */
typedef struct {
    const char *kind;  /* appropriation, reversal, ... */
    const char *cause; /* the decision it carries out */
    const char *memo;
    const char *recorded_by; /* the principal (and person) */
    int64_t reverses;        /* the entry it reverses, or 0 */
} ledger_entry_t;

/* Creates fund code of agency with its cash, available and committed
 * accounts. Returns 1, 0 when the agency has the code already, or
 * LEDGER_ERROR. */
int ledger_fund_create(PGconn *db, const char *agency, const char *code, const char *name,
                       const char *department);

/* Opens fund's account of kind (reserve, reserve_due, ...) in agency, or
 * its payable account to payee (kind payable, "<fund>:payable:<payee>";
 * payee "" for any other kind), unless it is open; nothing when there is
 * no such fund. Returns 0 or LEDGER_ERROR. */
int ledger_account_open(PGconn *db, const char *agency, const char *fund, const char *kind,
                        const char *payee);

/* The balance of agency's account on its normal side (0 when it is not
 * open), or LEDGER_ERROR. */
int64_t ledger_balance(PGconn *db, const char *agency, const char *account);

/* Writes an entry of count postings to agency's accounts. Returns its id;
 * 0 when an account does not exist (nothing usable is written: the caller
 * fails the request); LEDGER_OVERDRAWN; LEDGER_TOO_LARGE; or LEDGER_ERROR. The database
 * checks at commit that the postings balance. The accounts are locked in
 * the order of their ids before any balance moves, so that entries of one
 * fund at once take turns and never deadlock. */
int64_t ledger_post(PGconn *db, const char *agency, const ledger_entry_t *entry,
                    const ledger_posting_t *postings, size_t count);

/* Fills entry (memory from call) with entry id of agency and its
 * postings. Returns 1, 0 when there is no such entry, or LEDGER_ERROR. */
int ledger_entry_get(PGconn *db, service_call_t *call, const char *agency, int64_t id,
                     Chuang__Finance__Entry *entry);

/* Writes the entry that reverses entry id of agency (every posting
 * negated), for reason. Returns its id; 0 when there is no such entry;
 * LEDGER_REVERSED when it was reversed already or is itself a reversal;
 * LEDGER_OVERDRAWN (the money has been committed or paid since); or
 * LEDGER_ERROR. */
#define LEDGER_REVERSED -3
int64_t ledger_reverse(PGconn *db, const char *agency, int64_t id, const char *reason,
                       const char *recorded_by);

/* Fills fund (memory from call) with fund code of agency and its accounts.
 * Returns 1, 0 when there is no such fund, or LEDGER_ERROR. */
int ledger_fund_get(PGconn *db, service_call_t *call, const char *agency, const char *code,
                    Chuang__Finance__Fund *fund);

/* Fills balance with every account of agency (of fund, unless "") as of
 * the end of day as_of (the agency's date, "YYYY-MM-DD"). Returns the
 * number of lines or LEDGER_ERROR. */
int ledger_trial_balance(PGconn *db, service_call_t *call, const char *agency, const char *fund,
                         const char *as_of, Chuang__Finance__TrialBalance *balance);

/* Fills statement with the lines of account (of agency) booked from day
 * from to day to, a page at a time. Returns the number of lines, 0 with
 * statement->account "" when there is no such account, or LEDGER_ERROR. */
int ledger_statement(PGconn *db, service_call_t *call, const char *agency, const char *account,
                     const char *from, const char *to, const service_page_t *page,
                     Chuang__Finance__Statement *statement);

#endif
