/*
 * handlers_investments.c - angel and venture fund filing (天使投资、创业投资
 * 备案): a fund filed by its manager or at the window, recorded or refused
 * by a finance officer; the investments a recorded fund reports in the
 * agency's entities, each entity's first investment marked (with its first
 * loan and guarantee, by the database); and the year's statistics, also as
 * CSV (investments.h holds the SQL). Each step is a finance.InvestmentFund*
 * or finance.InvestmentReported event.
 */
#include "handlers.h"
#include "handlers_private.h"
#include "investments.h"

#include <czmq.h>
#include <inttypes.h>

static const char *const s_stages[] = {"seed", "angel", "early", "growth", "late", NULL};
static const char *const s_rounds[] = {"seed", "angel", "pre_a", "a", "b", "c", "later", NULL};

/* Reads fund id back into output, or refuses a manager's key reading
 * another's fund; reports the step as event type unless type is NULL. */
static Chuang__Status s_fund_reply(service_call_t *call, int64_t id, const char *type,
                                   ProtobufCMessage *output)
{
    Chuang__Finance__InvestmentFund *fund = (Chuang__Finance__InvestmentFund *)output;
    Chuang__Status status =
        service_call_found(call,
                           invest_fund_get(service_call_db(call), call,
                                           service_call_header(call)->agency, id, false, fund),
                           "read fund", "no such fund");
    if (status != CHUANG__STATUS__OK)
        return status;
    if (service_call_acts_as(call, "investor") &&
        !streq(fund->principal, service_call_principal(call)->name))
        return service_call_fail(call, CHUANG__STATUS__PERMISSION_DENIED, "another manager's fund",
                                 "A fund manager reads and reports for its own funds.", NULL);
    if (!type)
        return CHUANG__STATUS__OK;
    char aggregate[40];
    snprintf(aggregate, sizeof aggregate, "investment_fund:%" PRId64, id);
    return service_call_emit(call, type, aggregate, CHUANG__VISIBILITY__VISIBILITY_INTERNAL,
                             &fund->base);
}

Chuang__Status handle_file_investment_fund(service_call_t *call, const ProtobufCMessage *input,
                                           ProtobufCMessage *output)
{
    const Chuang__Finance__FundFiling *request = (const Chuang__Finance__FundFiling *)input;
    if (!checks_text_valid(request->name, true))
        service_call_violation(call, "name", "must name the fund (1 to %d characters)",
                               CHECKS_TEXT_MAX);
    if (!streq(request->kind, "angel") && !streq(request->kind, "venture"))
        service_call_violation(call, "kind", "must be angel or venture");
    if (!checks_credit_code_shaped(request->manager_credit_code))
        service_call_violation(call, "manager_credit_code",
                               "must be the manager's unified social credit code");
    if (!checks_text_valid(request->manager_name, true))
        service_call_violation(call, "manager_name", "must name the manager");
    if (!checks_text_valid(request->registration, true) || strlen(request->registration) > 40)
        service_call_violation(call, "registration", "must be the fund association's filing code");
    if (request->size_fen < 1 || request->size_fen > AMOUNT_MAX)
        service_call_violation(call, "size_fen", "must be a whole number of fen from 1 to %" PRId64,
                               AMOUNT_MAX);
    if (request->n_stages < 1 || request->n_stages > 5)
        service_call_violation(call, "stages", "must name 1 to 5 stages it invests in");
    char path[32];
    for (size_t i = 0; i < request->n_stages; i++) {
        snprintf(path, sizeof path, "stages.%zu", i);
        if (!checks_listed(s_stages, request->stages[i]))
            service_call_violation(call, path, "must be seed, angel, early, growth or late");
    }
    const char *principal = request->principal;
    if (service_call_acts_as(call, "investor")) {
        const char *me = service_call_principal(call)->name;
        if (*principal && !streq(principal, me))
            service_call_violation(call, "principal",
                                   "must be empty: a manager files with its own key");
        principal = me;
    } else if (!checks_text_valid(principal, false) || strlen(principal) > 64)
        service_call_violation(call, "principal", "must be the name of the manager's client key");
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    int64_t id = 0;
    int rc = invest_fund_file(service_call_db(call), service_call_header(call)->agency, request,
                              principal, service_call_recorded_by(call), &id);
    if (rc == INVEST_EXISTS) {
        service_call_violation(call, "registration", "is filed already");
        return service_call_fail(call, CHUANG__STATUS__ALREADY_EXISTS, "fund filed",
                                 "A fund of that filing code is filed with this agency.", NULL);
    }
    if (rc != 1)
        return service_call_sql_fail(call, NULL, "file fund");
    return s_fund_reply(call, id, "finance.InvestmentFundFiled", output);
}

Chuang__Status handle_decide_investment_fund(service_call_t *call, const ProtobufCMessage *input,
                                             ProtobufCMessage *output)
{
    const Chuang__Finance__InvestmentFundDecision *request =
        (const Chuang__Finance__InvestmentFundDecision *)input;
    static const checks_move_t moves[] = {
        {"filed", "recorded"}, {"filed", "refused"}, {"recorded", "deregistered"}, {NULL, NULL}};
    if (request->id < 1)
        service_call_violation(call, "id", "must be the id of a fund");
    if (!checks_move_known(moves, request->decision))
        service_call_violation(call, "decision", "must be recorded, refused or deregistered");
    bool recorded = streq(request->decision, "recorded");
    if (!checks_text_valid(request->reason, !recorded))
        service_call_violation(call, "reason", "must say why (1 to %d characters)",
                               CHECKS_TEXT_MAX);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    PGconn *db = service_call_db(call);
    const char *agency = service_call_header(call)->agency;
    Chuang__Finance__InvestmentFund *fund = service_call_alloc(call, sizeof *fund);
    chuang__finance__investment_fund__init(fund);
    Chuang__Status status =
        service_call_found(call, invest_fund_get(db, call, agency, request->id, true, fund),
                           "read fund", "no such fund");
    if (status != CHUANG__STATUS__OK)
        return status;
    status = checks_move_allowed(call, moves, "fund", fund->status, request->decision);
    if (status != CHUANG__STATUS__OK)
        return status;
    if (invest_fund_decide(db, agency, request->id, request->decision, request->reason,
                           service_call_recorded_by(call)) != 1)
        return service_call_sql_fail(call, NULL, "decide fund");
    char type[48];
    snprintf(type, sizeof type, "finance.InvestmentFund%c%s", request->decision[0] - 'a' + 'A',
             request->decision + 1);
    return s_fund_reply(call, request->id, type, output);
}

Chuang__Status handle_get_investment_fund(service_call_t *call, const ProtobufCMessage *input,
                                          ProtobufCMessage *output)
{
    const Chuang__Finance__InvestmentFundRequest *request =
        (const Chuang__Finance__InvestmentFundRequest *)input;
    if (request->id < 1)
        return service_call_violation(call, "id", "must be the id of a fund");
    return s_fund_reply(call, request->id, NULL, output);
}

Chuang__Status handle_report_investment(service_call_t *call, const ProtobufCMessage *input,
                                        ProtobufCMessage *output)
{
    const Chuang__Finance__InvestmentReport *request =
        (const Chuang__Finance__InvestmentReport *)input;
    if (request->fund_id < 1)
        service_call_violation(call, "fund_id", "must be the id of a fund");
    if (!checks_credit_code_shaped(request->credit_code))
        service_call_violation(call, "credit_code", "must be the entity's credit code");
    if (request->amount_fen < 1 || request->amount_fen > AMOUNT_MAX)
        service_call_violation(call, "amount_fen",
                               "must be a whole number of fen from 1 to %" PRId64, AMOUNT_MAX);
    if (!checks_day_valid(request->invested_on))
        service_call_violation(call, "invested_on",
                               "must be a date YYYY-MM-DD, or empty for today");
    if (!checks_listed(s_rounds, request->round))
        service_call_violation(call, "round", "must be seed, angel, pre_a, a, b, c or later");
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    const char *day = request->invested_on;
    Chuang__Status status = checks_past_day(call, "invested_on", &day, NULL);
    if (status != CHUANG__STATUS__OK)
        return status;
    Chuang__Finance__InvestmentFund *fund = service_call_alloc(call, sizeof *fund);
    chuang__finance__investment_fund__init(fund);
    status = s_fund_reply(call, request->fund_id, NULL, &fund->base);
    if (status != CHUANG__STATUS__OK)
        return status;
    if (!streq(fund->status, "recorded"))
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION, "fund not recorded",
                                 "A fund reports investments once the agency has recorded it.",
                                 NULL);
    PGconn *db = service_call_db(call);
    const char *agency = service_call_header(call)->agency;
    int64_t id = 0;
    char registered[16] = "";
    int rc =
        invest_report(db, agency, request, day, service_call_recorded_by(call), &id, registered);
    if (rc == INVEST_EARLY)
        return service_call_violation(
            call, "invested_on", "must not be before the entity's registration on %s", registered);
    if (rc == 0 || rc == INVEST_OUTSIDE) {
        service_call_violation(call, "credit_code",
                               rc ? "is not a registered entity of this agency's area"
                                  : "is not an entity finance knows");
        return service_call_fail(
            call, rc ? CHUANG__STATUS__FAILED_PRECONDITION : CHUANG__STATUS__NOT_FOUND,
            "not an entity of this agency",
            "Funds report their investments in the agency's entities.", NULL);
    }
    if (rc == INVEST_EXISTS) {
        service_call_violation(call, "round", "is reported already for that entity");
        return service_call_fail(call, CHUANG__STATUS__ALREADY_EXISTS, "investment reported",
                                 "The fund has reported its investment of that round.", NULL);
    }
    if (rc != 1)
        return service_call_sql_fail(call, NULL, "report investment");
    Chuang__Finance__Investment *investment = (Chuang__Finance__Investment *)output;
    if (invest_get(db, call, agency, id, investment) != 1)
        return service_call_sql_fail(call, NULL, "read investment");
    char aggregate[40];
    snprintf(aggregate, sizeof aggregate, "investment:%" PRId64, id);
    return service_call_emit(call, "finance.InvestmentReported", aggregate,
                             CHUANG__VISIBILITY__VISIBILITY_INTERNAL, &investment->base);
}

/* Appends the CSV lines of section's lines (count of them) to *csv. */
static void s_csv_lines(char **csv, const char *section, Chuang__Finance__InvestmentLine **lines,
                        size_t count)
{
    for (size_t i = 0; i < count && *csv; i++) {
        char *longer = zsys_sprintf("%s%s,%s,%" PRId64 ",%" PRId64 "\n", *csv, section,
                                    lines[i]->key, lines[i]->investments, lines[i]->amount_fen);
        zstr_free(csv);
        *csv = longer;
    }
}

Chuang__Status handle_get_investment_statistics(service_call_t *call, const ProtobufCMessage *input,
                                                ProtobufCMessage *output)
{
    const Chuang__Finance__InvestmentStatisticsRequest *request =
        (const Chuang__Finance__InvestmentStatisticsRequest *)input;
    if (request->year != 0 && (request->year < 2000 || request->year > 2200))
        return service_call_violation(call, "year", "must be a year, or 0 for this year");
    int year = request->year;
    Chuang__Status status = service_call_year(call, &year);
    if (status != CHUANG__STATUS__OK)
        return status;
    Chuang__Finance__InvestmentStatistics *out = (Chuang__Finance__InvestmentStatistics *)output;
    if (invest_statistics(service_call_db(call), call, service_call_header(call)->agency, year,
                          out) != 1)
        return service_call_sql_fail(call, NULL, "investment statistics");
    if (!request->csv)
        return CHUANG__STATUS__OK;
    char *csv = zsys_sprintf("section,key,count,amount_fen\n"
                             "funds,filed,%" PRId64 ",\n"
                             "funds,recorded,%" PRId64 ",%" PRId64 "\n"
                             "investments,total,%" PRId64 ",%" PRId64 "\n"
                             "investments,first,%" PRId64 ",\n",
                             out->funds_filed, out->funds_recorded, out->managed_fen,
                             out->investments, out->invested_fen, out->first_investments);
    s_csv_lines(&csv, "round", out->rounds, out->n_rounds);
    s_csv_lines(&csv, "industry", out->industries, out->n_industries);
    if (!csv)
        return service_call_fail(call, CHUANG__STATUS__INTERNAL, "out of memory", NULL, NULL);
    out->csv = service_call_strdup(call, csv);
    zstr_free(&csv);
    return CHUANG__STATUS__OK;
}
