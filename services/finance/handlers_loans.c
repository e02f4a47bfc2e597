/*
 * handlers_loans.c - guarantee loans (创业担保贷款) after their guarantee is
 * awarded (jobs.c): the bank's approval on its terms within the guarantee
 * and the programme's caps, disbursement with the bad-debt reserve
 * accrued, repayments, default and compensation (代偿) from the guarantee
 * fund; the reserve's top-up from the fund that pays it and its refill of
 * the guarantee fund; and the report of a programme's loans (loans.h holds
 * the SQL).
 *
 * Every money movement is a journal entry, whose cause is the loan
 * ("loan:<id>") or the decision: the reserve accrued at disbursement
 * (reserve_due to reserve), its top-up (the paying fund's money into the
 * guarantee fund's cash, settling reserve_due), its refill (reserve to
 * available, no further than what was paid in) and a compensation
 * (available and cash out to the bank). Each step of a loan is a
 * finance.Loan* event of the loan.
 */
#include "handlers.h"
#include "handlers_private.h"
#include "ledger.h"
#include "loans.h"
#include "programmes.h"

#include <czmq.h>
#include <inttypes.h>

/* Reads loan id back into output and reports the step as event type. */
static Chuang__Status s_reply(service_call_t *call, int64_t id, const char *type,
                              ProtobufCMessage *output)
{
    Chuang__Finance__Loan *loan = (Chuang__Finance__Loan *)output;
    if (loan_get(service_call_db(call), call, service_call_header(call)->agency, id, false, loan) !=
        1)
        return service_call_sql_fail(call, NULL, "read loan");
    char aggregate[32];
    snprintf(aggregate, sizeof aggregate, "loan:%" PRId64, id);
    return service_call_emit(call, type, aggregate, CHUANG__VISIBILITY__VISIBILITY_INTERNAL,
                             &loan->base);
}

/* PERMISSION_DENIED unless the caller may act on loan id: a finance
 * officer, or the bank that approved it (its principal); NOT_FOUND when
 * the agency has no such loan. */
static Chuang__Status s_lender(service_call_t *call, int64_t id)
{
    if (service_call_has_role(call, "finance-officer"))
        return CHUANG__STATUS__OK;
    char bank[128];
    int found = loan_bank_principal(service_call_db(call), service_call_header(call)->agency, id,
                                    bank, sizeof bank);
    Chuang__Status status = service_call_found(call, found, "read loan", "no such loan");
    if (status != CHUANG__STATUS__OK)
        return status;
    const char *me = service_call_principal(call)->name;
    if (*bank && streq(bank, me))
        return CHUANG__STATUS__OK;
    return service_call_fail(call, CHUANG__STATUS__PERMISSION_DENIED, "another bank's loan",
                             "A bank acts on the loans it approved.", NULL);
}

/* Reads loan id, locked for this request, into *loan (call memory), with
 * its programme's fund and the version that decided it; NOT_FOUND when
 * the agency has no such loan. */
static Chuang__Status s_locked(service_call_t *call, int64_t id, Chuang__Finance__Loan **loan,
                               const char **fund, Chuang__Finance__ProgrammeVersion **version)
{
    if (id < 1)
        return service_call_violation(call, "id", "must be the id of a loan");
    PGconn *db = service_call_db(call);
    const char *agency = service_call_header(call)->agency;
    *loan = service_call_alloc(call, sizeof **loan);
    chuang__finance__loan__init(*loan);
    Chuang__Status status = service_call_found(call, loan_get(db, call, agency, id, true, *loan),
                                               "read loan", "no such loan");
    if (status != CHUANG__STATUS__OK)
        return status;
    char id_text[24];
    snprintf(id_text, sizeof id_text, "%" PRId64, id);
    const char *values[2] = {agency, id_text};
    Chuang__Status failure;
    PGresult *res = service_call_query(call, "read the loan's programme",
                                       "SELECT p.fund, l.version FROM loans l JOIN programmes p"
                                       "   ON p.agency = l.agency AND p.code = l.programme"
                                       " WHERE l.agency = $1 AND l.id = $2::bigint",
                                       2, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    *fund = service_call_strdup(call, PQgetvalue(res, 0, 0));
    int number = atoi(PQgetvalue(res, 0, 1));
    PQclear(res);
    *version = service_call_alloc(call, sizeof **version);
    chuang__finance__programme_version__init(*version);
    if (programme_version(db, call, agency, (*loan)->programme, number, *version) != 1)
        return service_call_sql_fail(call, NULL, "read the loan's programme version");
    return CHUANG__STATUS__OK;
}

/* FAILED_PRECONDITION: loan is not in the state the step needs. */
static Chuang__Status s_not(service_call_t *call, const Chuang__Finance__Loan *loan,
                            const char *needed)
{
    char *detail = zsys_sprintf("The loan is %s; this step needs it %s.", loan->status, needed);
    Chuang__Status status = service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                              "loan not in that state", detail, NULL);
    zstr_free(&detail);
    return status;
}

/* Posts entry (cause loan:<id> when cause is NULL) and answers a refusal. */
static Chuang__Status s_post(service_call_t *call, const ledger_entry_t *entry,
                             const ledger_posting_t *postings, size_t count, int64_t *posted)
{
    *posted = ledger_post(service_call_db(call), service_call_header(call)->agency, entry, postings,
                          count);
    if (*posted > 0)
        return CHUANG__STATUS__OK;
    return *posted == 0 ? service_call_sql_fail(call, NULL, entry->kind)
                        : handlers_ledger_refused(call, *posted, entry->kind);
}

Chuang__Status handle_get_loan(service_call_t *call, const ProtobufCMessage *input,
                               ProtobufCMessage *output)
{
    const Chuang__Finance__LoanRequest *request = (const Chuang__Finance__LoanRequest *)input;
    if (request->id < 1)
        return service_call_violation(call, "id", "must be the id of a loan");
    if (!service_call_has_role(call, "officer") && !service_call_has_role(call, "auditor")) {
        Chuang__Status status = s_lender(call, request->id);
        if (status != CHUANG__STATUS__OK)
            return status;
    }
    int found = loan_get(service_call_db(call), call, service_call_header(call)->agency,
                         request->id, false, (Chuang__Finance__Loan *)output);
    return service_call_found(call, found, "read loan", "no such loan");
}

Chuang__Status handle_record_bank_approval(service_call_t *call, const ProtobufCMessage *input,
                                           ProtobufCMessage *output)
{
    const Chuang__Finance__BankApprovalRequest *request =
        (const Chuang__Finance__BankApprovalRequest *)input;
    if (!checks_text_valid(request->bank, true))
        service_call_violation(call, "bank", "must name the lending bank (1 to %d characters)",
                               CHECKS_TEXT_MAX);
    if (!checks_text_valid(request->contract, true) || strlen(request->contract) > 64)
        service_call_violation(call, "contract", "must be the bank's contract number");
    if (request->principal_fen < 1 || request->principal_fen > AMOUNT_MAX)
        service_call_violation(call, "principal_fen",
                               "must be a whole number of fen from 1 to %" PRId64, AMOUNT_MAX);
    if (request->annual_rate_bp < 1 || request->annual_rate_bp > 10000)
        service_call_violation(call, "annual_rate_bp", "must be from 1 to 10000 basis points");
    if (request->term_months < 1 || request->term_months > 360)
        service_call_violation(call, "term_months", "must be from 1 to 360 months");
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    Chuang__Finance__Loan *loan;
    const char *fund;
    Chuang__Finance__ProgrammeVersion *version;
    Chuang__Status status = s_locked(call, request->id, &loan, &fund, &version);
    if (status != CHUANG__STATUS__OK)
        return status;
    if (!streq(loan->status, "approved"))
        return s_not(call, loan, "approved by the agency and awaiting the bank");
    if (request->principal_fen > loan->guaranteed_fen)
        service_call_violation(call, "principal_fen", "passes the guarantee of %" PRId64 " fen",
                               loan->guaranteed_fen);
    int64_t rate_max = programme_parameter(version, "rate_max_bp", 10000);
    if (request->annual_rate_bp > rate_max)
        service_call_violation(call, "annual_rate_bp",
                               "passes the programme's cap of %" PRId64 " basis points", rate_max);
    int64_t term_max = programme_parameter(version, "term_max_months_count", 360);
    if (request->term_months > term_max)
        service_call_violation(call, "term_months",
                               "passes the programme's longest term of %" PRId64 " months",
                               term_max);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    /* The bank that records its approval is the loan's lender from now on. */
    const char *lender =
        service_call_has_role(call, "finance-officer") ? "" : service_call_principal(call)->name;
    int rc = loan_bank_approve(service_call_db(call), service_call_header(call)->agency, request,
                               lender, service_call_recorded_by(call));
    if (rc == LOAN_DUPLICATE) {
        service_call_violation(call, "contract", "is the number of another loan of that bank");
        return service_call_fail(call, CHUANG__STATUS__ALREADY_EXISTS, "contract recorded already",
                                 NULL, NULL);
    }
    if (rc != 1)
        return service_call_sql_fail(call, NULL, "record bank approval");
    return s_reply(call, request->id, "finance.LoanBankApproved", output);
}

Chuang__Status handle_disburse_loan(service_call_t *call, const ProtobufCMessage *input,
                                    ProtobufCMessage *output)
{
    const Chuang__Finance__DisbursementRequest *request =
        (const Chuang__Finance__DisbursementRequest *)input;
    const char *day = request->disbursed_on;
    Chuang__Status status = checks_past_day(call, "disbursed_on", &day, NULL);
    if (status == CHUANG__STATUS__OK)
        status = s_lender(call, request->id);
    if (status != CHUANG__STATUS__OK)
        return status;
    Chuang__Finance__Loan *loan;
    const char *fund;
    Chuang__Finance__ProgrammeVersion *version;
    status = s_locked(call, request->id, &loan, &fund, &version);
    if (status != CHUANG__STATUS__OK)
        return status;
    if (!streq(loan->status, "bank_approved"))
        return s_not(call, loan, "approved by the bank");
    PGconn *db = service_call_db(call);
    const char *agency = service_call_header(call)->agency;
    const char *by = service_call_recorded_by(call);
    int64_t reserve = 0;
    if (loan_disburse(db, agency, request->id, day, programme_parameter(version, "reserve_bp", 0),
                      by, &reserve) != 1)
        return service_call_sql_fail(call, NULL, "disburse loan");
    if (reserve > 0) {
        /* The reserve accrues now and is paid in at the year's end. */
        char reserve_account[96], due[96], cause[32];
        snprintf(reserve_account, sizeof reserve_account, "%s:reserve", fund);
        snprintf(due, sizeof due, "%s:reserve_due", fund);
        snprintf(cause, sizeof cause, "loan:%" PRId64, request->id);
        if (ledger_account_open(db, agency, fund, "reserve", "") != 0 ||
            ledger_account_open(db, agency, fund, "reserve_due", "") != 0)
            return service_call_sql_fail(call, NULL, "open reserve accounts");
        const ledger_posting_t postings[2] = {{due, reserve}, {reserve_account, -reserve}};
        const ledger_entry_t entry = {
            .kind = "reserve_accrual", .cause = cause, .memo = loan->contract, .recorded_by = by};
        int64_t posted;
        status = s_post(call, &entry, postings, 2, &posted);
        if (status != CHUANG__STATUS__OK)
            return status;
    }
    return s_reply(call, request->id, "finance.LoanDisbursed", output);
}

Chuang__Status handle_record_repayment(service_call_t *call, const ProtobufCMessage *input,
                                       ProtobufCMessage *output)
{
    const Chuang__Finance__RepaymentRequest *request =
        (const Chuang__Finance__RepaymentRequest *)input;
    if (request->amount_fen < 1 || request->amount_fen > AMOUNT_MAX)
        return service_call_violation(
            call, "amount_fen", "must be a whole number of fen from 1 to %" PRId64, AMOUNT_MAX);
    Chuang__Finance__Loan *loan;
    const char *fund;
    Chuang__Finance__ProgrammeVersion *version;
    Chuang__Status status = s_lender(call, request->id);
    if (status == CHUANG__STATUS__OK)
        status = s_locked(call, request->id, &loan, &fund, &version);
    if (status != CHUANG__STATUS__OK)
        return status;
    if (!streq(loan->status, "repaying") && !streq(loan->status, "overdue"))
        return s_not(call, loan, "disbursed and being repaid");
    const char *day = request->paid_on;
    status = checks_past_day(call, "paid_on", &day, loan->disbursed_on);
    if (status != CHUANG__STATUS__OK)
        return status;
    int rc = loan_repay(service_call_db(call), service_call_header(call)->agency, request->id,
                        request->amount_fen, day, service_call_recorded_by(call));
    if (rc == LOAN_TOO_MUCH)
        return service_call_violation(call, "amount_fen", "passes what the loan owes");
    if (rc != 1)
        return service_call_sql_fail(call, NULL, "record repayment");
    return s_reply(call, request->id, "finance.LoanRepayment", output);
}

Chuang__Status handle_declare_default(service_call_t *call, const ProtobufCMessage *input,
                                      ProtobufCMessage *output)
{
    const Chuang__Finance__LoanRequest *request = (const Chuang__Finance__LoanRequest *)input;
    if (!checks_text_valid(request->reason, true))
        return service_call_violation(
            call, "reason", "must say what the bank reports (1 to %d characters)", CHECKS_TEXT_MAX);
    Chuang__Finance__Loan *loan;
    const char *fund;
    Chuang__Finance__ProgrammeVersion *version;
    Chuang__Status status = s_locked(call, request->id, &loan, &fund, &version);
    if (status != CHUANG__STATUS__OK)
        return status;
    if (!streq(loan->status, "overdue"))
        return s_not(call, loan, "overdue");
    int64_t after = 0;
    int days = 0;
    status = service_call_rule(call, "loan_default_after_days", NULL, &after);
    if (status != CHUANG__STATUS__OK)
        return status;
    if (loan_days_overdue(service_call_db(call), request->id, &days) != 0)
        return service_call_sql_fail(call, NULL, "read overdue days");
    if (days < after) {
        char *detail = zsys_sprintf("Its earliest unpaid instalment is %d days overdue; a loan is "
                                    "in default after %" PRId64 ".",
                                    days, after);
        status = service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                   "loan not overdue long enough", detail, NULL);
        zstr_free(&detail);
        return status;
    }
    if (loan_move(service_call_db(call), service_call_header(call)->agency, request->id, "overdue",
                  "defaulted", service_call_recorded_by(call), request->reason, 0) != 1)
        return service_call_sql_fail(call, NULL, "declare default");
    return s_reply(call, request->id, "finance.LoanDefaulted", output);
}

Chuang__Status handle_compensate_loan(service_call_t *call, const ProtobufCMessage *input,
                                      ProtobufCMessage *output)
{
    const Chuang__Finance__LoanRequest *request = (const Chuang__Finance__LoanRequest *)input;
    Chuang__Finance__Loan *loan;
    const char *fund;
    Chuang__Finance__ProgrammeVersion *version;
    Chuang__Status status = s_locked(call, request->id, &loan, &fund, &version);
    if (status != CHUANG__STATUS__OK)
        return status;
    if (!streq(loan->status, "defaulted"))
        return s_not(call, loan, "in default");
    PGconn *db = service_call_db(call);
    int64_t owed = 0, share = 0;
    if (loan_owed(db, request->id, programme_parameter(version, "compensation_bp", 10000), &owed,
                  &share) != 0)
        return service_call_sql_fail(call, NULL, "read what the loan owes");
    const char *by = service_call_recorded_by(call);
    if (share > 0) {
        char available[96], cash[96], cause[32];
        snprintf(available, sizeof available, "%s:available", fund);
        snprintf(cash, sizeof cash, "%s:cash", fund);
        snprintf(cause, sizeof cause, "loan:%" PRId64, request->id);
        const ledger_posting_t postings[2] = {{available, share}, {cash, -share}};
        const ledger_entry_t entry = {
            .kind = "compensation", .cause = cause, .memo = loan->contract, .recorded_by = by};
        int64_t posted;
        status = s_post(call, &entry, postings, 2, &posted);
        if (status != CHUANG__STATUS__OK)
            return status;
    }
    char reason[96];
    snprintf(reason, sizeof reason, "%" PRId64 " fen of %" PRId64 " owed paid to the bank", share,
             owed);
    if (loan_move(db, service_call_header(call)->agency, request->id, "defaulted", "compensated",
                  by, reason, share) != 1)
        return service_call_sql_fail(call, NULL, "compensate loan");
    return s_reply(call, request->id, "finance.LoanCompensated", output);
}

/* Records a violation for each of a reserve movement's fields that is
 * wrong; returns true when any is (this one's or one recorded before). */
static bool s_reserve_check(service_call_t *call, const char *fund, int64_t amount,
                            const char *document)
{
    if (!checks_code_valid(fund))
        service_call_violation(call, "fund", "must name the guarantee fund");
    if (amount < 1 || amount > AMOUNT_MAX)
        service_call_violation(call, "amount_fen",
                               "must be a whole number of fen from 1 to %" PRId64, AMOUNT_MAX);
    if (!checks_text_valid(document, true))
        service_call_violation(call, "document", "must name the decision (1 to %d characters)",
                               CHECKS_TEXT_MAX);
    return service_call_has_violations(call);
}

Chuang__Status handle_top_up_reserve(service_call_t *call, const ProtobufCMessage *input,
                                     ProtobufCMessage *output)
{
    const Chuang__Finance__ReserveTopUpRequest *request =
        (const Chuang__Finance__ReserveTopUpRequest *)input;
    if (!checks_code_valid(request->from_fund) || streq(request->from_fund, request->fund))
        service_call_violation(call, "from_fund", "must name another fund, the one that pays");
    if (s_reserve_check(call, request->fund, request->amount_fen, request->document))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    PGconn *db = service_call_db(call);
    const char *agency = service_call_header(call)->agency;
    char due[96], cash[96], from_available[96], from_cash[96];
    snprintf(due, sizeof due, "%s:reserve_due", request->fund);
    snprintf(cash, sizeof cash, "%s:cash", request->fund);
    snprintf(from_available, sizeof from_available, "%s:available", request->from_fund);
    snprintf(from_cash, sizeof from_cash, "%s:cash", request->from_fund);
    int64_t owed = ledger_balance(db, agency, due);
    if (owed < 0)
        return service_call_sql_fail(call, NULL, "read the reserve due");
    if (request->amount_fen > owed)
        return service_call_violation(call, "amount_fen",
                                      "passes the reserve accrued and not paid in: %" PRId64 " fen",
                                      owed);
    const ledger_posting_t postings[4] = {{from_available, request->amount_fen},
                                          {from_cash, -request->amount_fen},
                                          {cash, request->amount_fen},
                                          {due, -request->amount_fen}};
    const ledger_entry_t entry = {.kind = "reserve_top_up",
                                  .cause = request->document,
                                  .memo = request->from_fund,
                                  .recorded_by = service_call_recorded_by(call)};
    int64_t posted;
    Chuang__Status status = s_post(call, &entry, postings, 4, &posted);
    if (status != CHUANG__STATUS__OK)
        return status;
    return handlers_posted(call, posted, output);
}

Chuang__Status handle_refill_from_reserve(service_call_t *call, const ProtobufCMessage *input,
                                          ProtobufCMessage *output)
{
    const Chuang__Finance__ReserveRefillRequest *request =
        (const Chuang__Finance__ReserveRefillRequest *)input;
    if (s_reserve_check(call, request->fund, request->amount_fen, request->document))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    PGconn *db = service_call_db(call);
    const char *agency = service_call_header(call)->agency;
    char reserve[96], due[96], available[96];
    snprintf(reserve, sizeof reserve, "%s:reserve", request->fund);
    snprintf(due, sizeof due, "%s:reserve_due", request->fund);
    snprintf(available, sizeof available, "%s:available", request->fund);
    int64_t held = ledger_balance(db, agency, reserve), owed = ledger_balance(db, agency, due);
    if (held < 0 || owed < 0)
        return service_call_sql_fail(call, NULL, "read the reserve");
    if (request->amount_fen > held - owed)
        return service_call_violation(call, "amount_fen",
                                      "passes the reserve paid in: %" PRId64 " fen", held - owed);
    const ledger_posting_t postings[2] = {{reserve, request->amount_fen},
                                          {available, -request->amount_fen}};
    const ledger_entry_t entry = {.kind = "reserve_refill",
                                  .cause = request->document,
                                  .memo = "",
                                  .recorded_by = service_call_recorded_by(call)};
    int64_t posted;
    Chuang__Status status = s_post(call, &entry, postings, 2, &posted);
    if (status != CHUANG__STATUS__OK)
        return status;
    return handlers_posted(call, posted, output);
}

Chuang__Status handle_get_loan_report(service_call_t *call, const ProtobufCMessage *input,
                                      ProtobufCMessage *output)
{
    const Chuang__Finance__LoanReportRequest *request =
        (const Chuang__Finance__LoanReportRequest *)input;
    if (!checks_code_valid(request->programme))
        return service_call_violation(call, "programme", "is not a programme code");
    int found = loan_report(service_call_db(call), call, service_call_header(call)->agency,
                            request->programme, (Chuang__Finance__LoanReport *)output);
    return service_call_found(call, found, "report loans", "no such programme");
}
