/*
 * checks.c - the checks handlers make of a request's fields; see checks.h.
 */
#include "checks.h"

#include <czmq.h>
#include <stdio.h>
#include <string.h>

bool checks_code_valid(const char *code)
{
    size_t length = strlen(code);
    return length >= 2 && length <= 40 && code[0] != '-' &&
           strspn(code, "abcdefghijklmnopqrstuvwxyz0123456789-") == length;
}

bool checks_name_valid(const char *name)
{
    size_t length = strlen(name);
    return length >= 2 && length <= 40 && name[0] >= 'a' && name[0] <= 'z' &&
           strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == length;
}

bool checks_text_valid(const char *text, bool required)
{
    size_t characters = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return false;
        characters += (*p & 0xc0) != 0x80;
    }
    return (characters > 0 || !required) && characters <= CHECKS_TEXT_MAX;
}

bool checks_day_valid(const char *day)
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

bool checks_credit_code_shaped(const char *code)
{
    return strlen(code) == 18 && strspn(code, "0123456789ABCDEFGHJKLMNPQRTUWXY") == 18;
}

bool checks_mobile_valid(const char *phone)
{
    return strlen(phone) == 11 && phone[0] == '1' && strspn(phone, "0123456789") == 11;
}

bool checks_listed(const char *const *list, const char *value)
{
    for (size_t i = 0; list[i]; i++)
        if (streq(list[i], value))
            return true;
    return false;
}

void checks_period(service_call_t *call, const char *from, const char *to)
{
    if (!checks_day_valid(from) || !checks_day_valid(to))
        service_call_violation(call, !checks_day_valid(from) ? "period_from" : "period_to",
                               "must be a date YYYY-MM-DD");
    else if (!*from != !*to)
        service_call_violation(call, *from ? "period_to" : "period_from",
                               "must be given with the other end of the period, or neither");
    else if (strcmp(to, from) < 0)
        service_call_violation(call, "period_to", "must not be before period_from");
}

Chuang__Status checks_past_day(service_call_t *call, const char *field, const char **day,
                               const char *not_before)
{
    if (!checks_day_valid(*day))
        return service_call_violation(call, field, "must be a date YYYY-MM-DD, or empty for today");
    const char *today = "";
    Chuang__Status status = service_call_today(call, &today);
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

Chuang__Status checks_move_allowed(service_call_t *call, const checks_move_t *moves,
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

bool checks_move_known(const checks_move_t *moves, const char *wanted)
{
    for (size_t i = 0; moves[i].from; i++)
        if (streq(moves[i].to, wanted))
            return true;
    return false;
}
