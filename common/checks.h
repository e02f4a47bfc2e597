/*
 * checks.h - the checks every service's handlers make of a request's
 * fields: the shape of codes, names, texts, dates and credit codes, periods
 * and past days, and the moves a record may make between its statuses.
 * Those that take the call record a violation (or a failure) on it, in
 * words a clerk can act on (service.h).
 */
#ifndef CHUANG_CHECKS_H
#define CHUANG_CHECKS_H

#include "service.h"

#include <stdbool.h>

#define CHECKS_TEXT_MAX 200 /* characters of a name, document, memo */

/* true when code is 2 to 40 of a-z, 0-9 and '-', not starting with '-':
 * the code of a fund, a programme, a carrier. */
bool checks_code_valid(const char *code);

/* true when name is 2 to 40 of a-z, 0-9, '_' and '-', starting with a
 * letter: a department's, a category's (finance, human_resources). */
bool checks_name_valid(const char *name);

/* true when text holds at most CHECKS_TEXT_MAX characters (UTF-8), at
 * least one if required, and no control character. */
bool checks_text_valid(const char *text, bool required);

/* true when day is "" or a real date YYYY-MM-DD. */
bool checks_day_valid(const char *day);

/* true when code has the shape of a unified social credit code (18 of its
 * alphabet; the check character is the registry's to verify). */
bool checks_credit_code_shaped(const char *code);

/* true when phone is a mainland mobile number: 11 digits starting with 1. */
bool checks_mobile_valid(const char *phone);

/* true when value is one of list (ending with NULL). */
bool checks_listed(const char *const *list, const char *value);

/* Records a violation of period_from or period_to when from .. to (days,
 * both "" for none) is not a period. */
void checks_period(service_call_t *call, const char *from, const char *to);

/* Checks that *day ("" for today, which it then becomes) is a date not
 * after the agency's today and not before not_before (unless NULL or ""),
 * recording a violation of field otherwise. Returns OK, INVALID_ARGUMENT
 * or the query's failure. */
Chuang__Status checks_past_day(service_call_t *call, const char *field, const char **day,
                               const char *not_before);

/* A move of a record between statuses: from may become to. */
typedef struct {
    const char *from;
    const char *to;
} checks_move_t;

/* OK when moves (ending with {NULL, NULL}) let what (e.g. "provider"),
 * now current, become wanted; else FAILED_PRECONDITION saying so. */
Chuang__Status checks_move_allowed(service_call_t *call, const checks_move_t *moves,
                                   const char *what, const char *current, const char *wanted);

/* true when wanted is the to of one of moves. */
bool checks_move_known(const checks_move_t *moves, const char *wanted);

#endif
