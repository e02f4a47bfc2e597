/*
 * handlers.c - what the finance service's handlers share (declared in
 * handlers_private.h): the checks of codes, texts and dates every
 * aggregate takes, who records a change, the reply to a read, and the
 * service's field maxima (finance_bounds). The handlers are in one file per
 * aggregate: handlers_ledger.c (funds and their books) and
 * handlers_programmes.c (programmes and their versions).
 */
#include "handlers.h"
#include "handlers_private.h"

#include "identifiers.h"

#include <czmq.h>
#include <stdio.h>

const bounds_t finance_bounds[] = {
    {"chuang.finance.ProgrammeVersion.parameters", PARAMETERS_MAX},
    {"chuang.finance.ProgrammeVersion.conditions", CONDITIONS_MAX},
    {"chuang.finance.ProgrammeVersion.approvals", APPROVALS_MAX},
    {"chuang.finance.Condition.values", VALUES_MAX},
    {"chuang.finance.ProgrammeVersion.award_rules", AWARD_RULES_MAX},
    {"chuang.finance.AwardRule.levels", 5},
    {"chuang.finance.ProgrammeVersion.service_categories", 20},
    {"chuang.finance.ProgrammeVersion.providers", 50},
    {"chuang.finance.RegisterProviderRequest.categories", 20},
    {"chuang.finance.FundFiling.stages", 5},
    {"chuang.finance.LoanProductRequest.industries", 20},
    {"chuang.finance.LoanProductRequest.stages", 10},
    {"chuang.finance.LoanProductRequest.security", 10},
    {"chuang.finance.FinancingNeedRequest.security", 10},
    {"chuang.finance.MeetingRequest.participants", 500},
    {NULL, 0},
};

bool handlers_credit_code_shaped(const char *code)
{
    return strlen(code) == 18 && strspn(code, "0123456789ABCDEFGHJKLMNPQRTUWXY") == 18;
}

void handlers_applicant_check(service_call_t *call, const char *credit_code, const char *id_number)
{
    char reason[128];
    if (*credit_code && *id_number)
        service_call_violation(call, "id_number", "must be empty when credit_code names an entity");
    else if (*id_number && identifiers_resident_id_check(id_number, 0, reason, sizeof reason) != 0)
        service_call_violation(call, "id_number", "is not a resident ID number: %s", reason);
    else if (!*id_number && !handlers_credit_code_shaped(credit_code))
        service_call_violation(call, "credit_code",
                               "must be a unified social credit code of 18 characters, or the "
                               "applicant a person (id_number)");
}

bool handlers_name_valid(const char *name)
{
    size_t length = strlen(name);
    return length >= 2 && length <= 40 && name[0] >= 'a' && name[0] <= 'z' &&
           strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == length;
}

bool handlers_code_valid(const char *code)
{
    size_t length = strlen(code);
    return length >= 2 && length <= 40 && code[0] != '-' &&
           strspn(code, "abcdefghijklmnopqrstuvwxyz0123456789-") == length;
}

bool handlers_text_valid(const char *text, bool required)
{
    size_t characters = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return false;
        characters += (*p & 0xc0) != 0x80;
    }
    return (characters > 0 || !required) && characters <= TEXT_MAX;
}

bool handlers_day_valid(const char *day)
{
    if (!*day)
        return true;
    int y, m, d;
    char end;
    if (strlen(day) != 10 || day[4] != '-' || day[7] != '-' ||
        sscanf(day, "%4d-%2d-%2d%c", &y, &m, &d, &end) != 3 || y < 1900 || y > 9999 || m < 1 ||
        m > 12 || d < 1)
        return false;
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= days[m - 1] + (m == 2 && leap);
}

Chuang__Status handlers_day_or_today(service_call_t *call, const char **day)
{
    if (**day)
        return CHUANG__STATUS__OK;
    const char *values[1] = {service_call_header(call)->agency};
    Chuang__Status failure;
    PGresult *res = service_call_query(call, "today", "SELECT chuang_today($1)::text", 1, values,
                                       PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    *day = service_call_strdup(call, PQgetvalue(res, 0, 0));
    PQclear(res);
    return CHUANG__STATUS__OK;
}

const char *handlers_recorded_by(service_call_t *call)
{
    const Chuang__Principal *principal = service_call_principal(call);
    const char *name = *principal->name ? principal->name : principal->kind;
    if (!*principal->person || streq(principal->person, name))
        return service_call_strdup(call, name);
    char *both = zsys_sprintf("%s/%s", name, principal->person);
    const char *copy = service_call_strdup(call, both ? both : name);
    zstr_free(&both);
    return copy;
}

Chuang__Status handlers_found(service_call_t *call, int found, const char *what,
                              const char *message)
{
    if (found < 0)
        return service_call_sql_fail(call, NULL, what);
    if (found == 0)
        return service_call_fail(call, CHUANG__STATUS__NOT_FOUND, message, NULL, NULL);
    return CHUANG__STATUS__OK;
}

Chuang__Status handlers_move_allowed(service_call_t *call, const handlers_move_t *moves,
                                     const char *what, const char *current, const char *wanted)
{
    for (size_t i = 0; moves[i].from; i++)
        if (streq(moves[i].from, current) && streq(moves[i].to, wanted))
            return CHUANG__STATUS__OK;
    char *message = zsys_sprintf("%s not in that state", what);
    char *detail = zsys_sprintf("The %s is %s; it cannot become %s.", what, current, wanted);
    Chuang__Status status =
        service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                          message ? message : "not in that state", detail, NULL);
    zstr_free(&message);
    zstr_free(&detail);
    return status;
}

bool handlers_move_known(const handlers_move_t *moves, const char *wanted)
{
    for (size_t i = 0; moves[i].from; i++)
        if (streq(moves[i].to, wanted))
            return true;
    return false;
}

bool handlers_acts_as(service_call_t *call, const char *role)
{
    return service_call_has_role(call, role) && !service_call_has_role(call, "finance-officer") &&
           !service_call_has_role(call, "officer") && !service_call_has_role(call, "auditor");
}

Chuang__Status handlers_past_day(service_call_t *call, const char *field, const char **day,
                                 const char *not_before)
{
    if (!handlers_day_valid(*day))
        return service_call_violation(call, field, "must be a date YYYY-MM-DD, or empty for today");
    const char *today = "";
    Chuang__Status status = handlers_day_or_today(call, &today);
    if (status != CHUANG__STATUS__OK)
        return status;
    if (!**day)
        *day = today;
    if (strcmp(*day, today) > 0)
        return service_call_violation(call, field, "must not be after today, %s", today);
    if (not_before && *not_before && strcmp(*day, not_before) < 0)
        return service_call_violation(call, field, "must not be before %s", not_before);
    return CHUANG__STATUS__OK;
}

Chuang__Status handlers_year_or_this(service_call_t *call, int *year)
{
    if (*year)
        return CHUANG__STATUS__OK;
    const char *today = "";
    Chuang__Status status = handlers_day_or_today(call, &today);
    if (status == CHUANG__STATUS__OK)
        *year = atoi(today);
    return status;
}

bool handlers_listed(const char *const *list, const char *value)
{
    for (size_t i = 0; list[i]; i++)
        if (streq(list[i], value))
            return true;
    return false;
}
