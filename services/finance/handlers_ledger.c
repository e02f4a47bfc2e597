/*
 * handlers_ledger.c - funds and their books: creating a fund, putting
 * money into it, reversing an entry, and reading entries, funds, the trial
 * balance and an account's statement (ledger.h holds the SQL).
 *
 * Amounts are integer fen between 1 and AMOUNT_MAX; a field that is wrong is
 * refused INVALID_ARGUMENT with its name before anything is written. What
 * the books refuse (cash or available below zero, an entry reversed twice)
 * is FAILED_PRECONDITION with what to do instead; the request then changes
 * nothing. Every entry names who recorded it and the decision it carries
 * out, and is reported as a finance.EntryPosted event of its fund.
 */
#include "handlers.h"
#include "handlers_private.h"
#include "ledger.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>

#define AMOUNT_MAX        INT64_C(1000000000000000) /* 10^15 fen: ten trillion yuan */
#define CHECKS_TEXT_MAX   200                       /* characters of a name, document, memo */
#define STATEMENT_MAX     100
#define STATEMENT_DEFAULT 50

Chuang__Status handlers_ledger_refused(service_call_t *call, int64_t rc, const char *what)
{
    if (rc == LEDGER_OVERDRAWN)
        return service_call_fail(
            call, CHUANG__STATUS__FAILED_PRECONDITION, "not enough money in the fund",
            "The entry would take the fund's cash or its uncommitted balance below zero.",
            "Appropriate more to the fund first, or reduce the amount.");
    if (rc == LEDGER_TOO_LARGE)
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "amount too large for the fund",
                                 "The fund's balance would pass what its books can hold.",
                                 "Put the money into a fund of its own.");
    if (rc == LEDGER_REVERSED)
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "entry already reversed",
                                 "An entry is reversed once, and a reversal is not reversed.",
                                 "Post a new entry for the correct amount instead.");
    return service_call_sql_fail(call, NULL, what);
}

Chuang__Status handle_create_fund(service_call_t *call, const ProtobufCMessage *input,
                                  ProtobufCMessage *output)
{
    const Chuang__Finance__CreateFundRequest *request =
        (const Chuang__Finance__CreateFundRequest *)input;
    if (!checks_code_valid(request->code))
        service_call_violation(call, "code",
                               "must be 2 to 40 of a-z, 0-9 and '-', e.g. special-2016");
    if (!checks_text_valid(request->name, true))
        service_call_violation(call, "name", "must be 1 to %d characters", CHECKS_TEXT_MAX);
    if (!checks_name_valid(request->department))
        service_call_violation(call, "department",
                               "must name the managing department, e.g. finance");
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    PGconn *db = service_call_db(call);
    const char *agency = service_call_header(call)->agency;
    int created = ledger_fund_create(db, agency, request->code, request->name, request->department);
    if (created < 0)
        return service_call_sql_fail(call, NULL, "create fund");
    if (created == 0)
        return service_call_fail(call, CHUANG__STATUS__ALREADY_EXISTS, "fund exists",
                                 "This agency has a fund with that code.",
                                 "Choose another code, or use the fund there is.");
    Chuang__Finance__Fund *fund = (Chuang__Finance__Fund *)output;
    if (ledger_fund_get(db, call, agency, request->code, fund) != 1)
        return service_call_sql_fail(call, NULL, "read fund");
    return service_call_emit(call, "finance.FundCreated", fund->code,
                             CHUANG__VISIBILITY__VISIBILITY_DEPARTMENTS, &fund->base);
}

Chuang__Status handlers_posted(service_call_t *call, int64_t id, ProtobufCMessage *output)
{
    Chuang__Finance__Entry *entry = (Chuang__Finance__Entry *)output;
    if (ledger_entry_get(service_call_db(call), call, service_call_header(call)->agency, id,
                         entry) != 1 ||
        entry->n_postings == 0)
        return service_call_sql_fail(call, NULL, "read entry");
    const char *account = entry->postings[0]->account;
    size_t length = strcspn(account, ":");
    char *fund = service_call_alloc(call, length + 1);
    memcpy(fund, account, length);
    return service_call_emit(call, "finance.EntryPosted", fund,
                             CHUANG__VISIBILITY__VISIBILITY_DEPARTMENTS, &entry->base);
}

Chuang__Status handle_appropriate(service_call_t *call, const ProtobufCMessage *input,
                                  ProtobufCMessage *output)
{
    const Chuang__Finance__AppropriateRequest *request =
        (const Chuang__Finance__AppropriateRequest *)input;
    if (!checks_code_valid(request->fund))
        service_call_violation(call, "fund", "is not a fund code");
    if (request->amount_fen < 1 || request->amount_fen > AMOUNT_MAX)
        service_call_violation(call, "amount_fen",
                               "must be a whole number of fen from 1 to %" PRId64, AMOUNT_MAX);
    if (!checks_text_valid(request->document, true))
        service_call_violation(call, "document",
                               "must name the budget decision (1 to %d characters)",
                               CHECKS_TEXT_MAX);
    if (!checks_text_valid(request->memo, false))
        service_call_violation(call, "memo", "must be at most %d characters", CHECKS_TEXT_MAX);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    char cash[64], available[64];
    snprintf(cash, sizeof cash, "%s:cash", request->fund);
    snprintf(available, sizeof available, "%s:available", request->fund);
    const ledger_posting_t postings[2] = {{cash, request->amount_fen},
                                          {available, -request->amount_fen}};
    const ledger_entry_t entry = {.kind = "appropriation",
                                  .cause = request->document,
                                  .memo = request->memo,
                                  .recorded_by = service_call_recorded_by(call)};
    int64_t id =
        ledger_post(service_call_db(call), service_call_header(call)->agency, &entry, postings, 2);
    if (id == 0) {
        service_call_violation(call, "fund", "is not a fund of this agency");
        return service_call_fail(call, CHUANG__STATUS__NOT_FOUND, "no such fund", NULL,
                                 "Create the fund first (CreateFund).");
    }
    if (id < 0)
        return handlers_ledger_refused(call, id, "appropriate");
    return handlers_posted(call, id, output);
}

Chuang__Status handle_reverse_entry(service_call_t *call, const ProtobufCMessage *input,
                                    ProtobufCMessage *output)
{
    const Chuang__Finance__ReverseEntryRequest *request =
        (const Chuang__Finance__ReverseEntryRequest *)input;
    if (request->entry_id < 1)
        service_call_violation(call, "entry_id", "must be the id of an entry");
    if (!checks_text_valid(request->reason, true))
        service_call_violation(call, "reason", "must say why (1 to %d characters)",
                               CHECKS_TEXT_MAX);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    PGconn *db = service_call_db(call);
    const char *agency = service_call_header(call)->agency;
    int64_t id = ledger_reverse(db, agency, request->entry_id, request->reason,
                                service_call_recorded_by(call));
    if (id == 0)
        return service_call_fail(call, CHUANG__STATUS__NOT_FOUND, "no such entry", NULL, NULL);
    if (id < 0)
        return handlers_ledger_refused(call, id, "reverse entry");
    return handlers_posted(call, id, output);
}

Chuang__Status handle_get_entry(service_call_t *call, const ProtobufCMessage *input,
                                ProtobufCMessage *output)
{
    const Chuang__Finance__GetEntryRequest *request =
        (const Chuang__Finance__GetEntryRequest *)input;
    if (request->entry_id < 1)
        return service_call_violation(call, "entry_id", "must be the id of an entry");
    int found = ledger_entry_get(service_call_db(call), call, service_call_header(call)->agency,
                                 request->entry_id, (Chuang__Finance__Entry *)output);
    return service_call_found(call, found, "read entry", "no such entry");
}

Chuang__Status handle_get_fund(service_call_t *call, const ProtobufCMessage *input,
                               ProtobufCMessage *output)
{
    const Chuang__Finance__GetFundRequest *request = (const Chuang__Finance__GetFundRequest *)input;
    if (!checks_code_valid(request->code))
        return service_call_violation(call, "code", "is not a fund code");
    int found = ledger_fund_get(service_call_db(call), call, service_call_header(call)->agency,
                                request->code, (Chuang__Finance__Fund *)output);
    return service_call_found(call, found, "read fund", "no such fund");
}

Chuang__Status handle_get_trial_balance(service_call_t *call, const ProtobufCMessage *input,
                                        ProtobufCMessage *output)
{
    const Chuang__Finance__TrialBalanceRequest *request =
        (const Chuang__Finance__TrialBalanceRequest *)input;
    if (!checks_day_valid(request->as_of))
        service_call_violation(call, "as_of", "must be a date YYYY-MM-DD, or empty for today");
    if (*request->fund && !checks_code_valid(request->fund))
        service_call_violation(call, "fund", "is not a fund code");
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    Chuang__Finance__TrialBalance *balance = (Chuang__Finance__TrialBalance *)output;
    const char *agency = service_call_header(call)->agency;
    PGconn *db = service_call_db(call);
    const char *day = request->as_of;
    Chuang__Status status = service_call_today(call, &day);
    if (status != CHUANG__STATUS__OK)
        return status;
    balance->as_of = (char *)day;
    if (ledger_trial_balance(db, call, agency, request->fund, balance->as_of, balance) < 0)
        return service_call_sql_fail(call, NULL, "trial balance");
    return CHUANG__STATUS__OK;
}

Chuang__Status handle_get_account_statement(service_call_t *call, const ProtobufCMessage *input,
                                            ProtobufCMessage *output)
{
    const Chuang__Finance__StatementRequest *request =
        (const Chuang__Finance__StatementRequest *)input;
    if (!*request->account || strlen(request->account) > 120)
        service_call_violation(call, "account", "must be an account code, e.g. special-2016:cash");
    if (!checks_day_valid(request->from))
        service_call_violation(call, "from", "must be a date YYYY-MM-DD, or empty");
    if (!checks_day_valid(request->to))
        service_call_violation(call, "to", "must be a date YYYY-MM-DD, or empty for today");
    if (*request->from && *request->to && strcmp(request->from, request->to) > 0)
        service_call_violation(call, "to", "must not be before from");
    service_page_t page;
    service_call_page(call, "statement", "i", request->limit, request->page_token,
                      STATEMENT_DEFAULT, STATEMENT_MAX, &page);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    Chuang__Finance__Statement *statement = (Chuang__Finance__Statement *)output;
    int lines = ledger_statement(service_call_db(call), call, service_call_header(call)->agency,
                                 request->account, request->from, request->to, &page, statement);
    if (lines < 0)
        return service_call_sql_fail(call, NULL, "statement");
    if (lines == 0 && !*statement->account)
        return service_call_fail(call, CHUANG__STATUS__NOT_FOUND, "no such account", NULL,
                                 "Account codes are <fund>:cash, <fund>:available, "
                                 "<fund>:committed and <fund>:payable:<payee>.");
    return CHUANG__STATUS__OK;
}
