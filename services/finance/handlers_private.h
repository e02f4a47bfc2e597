/*
 * handlers_private.h - what the finance service's handler files share
 * (handlers.c).
 */
#ifndef FINANCE_HANDLERS_PRIVATE_H
#define FINANCE_HANDLERS_PRIVATE_H

#include "finance.pb-c.h"
#include "service.h"

#include <stdbool.h>
#include <stdint.h>

#define AMOUNT_MAX      INT64_C(1000000000000000) /* 10^15 fen: ten trillion yuan */
#define TEXT_MAX        200                       /* characters of a name, document, memo */
#define PARAMETERS_MAX  50
#define CONDITIONS_MAX  20
#define APPROVALS_MAX   5
#define VALUES_MAX      50
#define AWARD_RULES_MAX 10

/* true when code is 2 to 40 of a-z, 0-9 and '-', starting with a letter or
 * a digit: the code of a fund or a programme. */
bool handlers_code_valid(const char *code);

/* true when text holds at most TEXT_MAX characters (UTF-8), at least one
 * if required, and no control character. */
bool handlers_text_valid(const char *text, bool required);

/* true when day is "" or a real date YYYY-MM-DD. */
bool handlers_day_valid(const char *day);

/* Leaves *day as it is when it names a day, else sets it to the agency's
 * today ("YYYY-MM-DD", call memory). Returns OK or the query's failure. */
Chuang__Status handlers_day_or_today(service_call_t *call, const char **day);

/* Who records a change: the principal's name, and the person it acts for
 * when that is someone else; in call memory. */
const char *handlers_recorded_by(service_call_t *call);

/* The reply to a read that found (1), did not find (0: NOT_FOUND with
 * message) or failed (< 0). */
Chuang__Status handlers_found(service_call_t *call, int found, const char *what,
                              const char *message);

/* true when name is a department's or a service category's: 2 to 40 of
 * a-z, 0-9, '_' and '-', starting with a letter (e.g. finance,
 * human_resources, ip_agency). */
bool handlers_name_valid(const char *name);

/* The reply to a ledger function's negative result (ledger.h). */
Chuang__Status handlers_ledger_refused(service_call_t *call, int64_t rc, const char *what);

/* Reads entry id back into output and reports it as a finance.EntryPosted
 * event of the fund of its first posting. */
Chuang__Status handlers_posted(service_call_t *call, int64_t id, ProtobufCMessage *output);

/* Records a violation unless exactly one of credit_code (an entity's, by
 * its shape) and id_number (a person's resident ID number, checked by GB
 * 11643) names who applies. */
void handlers_applicant_check(service_call_t *call, const char *credit_code, const char *id_number);

/* true when code has the shape of a unified social credit code. */
bool handlers_credit_code_shaped(const char *code);

/* Decides whether ask's entity meets the conditions and award rules of
 * ask's programme on ask's day ("" today) by the version in force then,
 * for ask's subject and amount: fills reply (and *programme, unless NULL,
 * with the programme and that version). Returns OK; NOT_FOUND (no such
 * programme, or an entity finance does not know); FAILED_PRECONDITION
 * when no version is in force or the entity is on the serious-violation
 * list (naming the listing). */
Chuang__Status handlers_eligibility(service_call_t *call,
                                    const Chuang__Finance__EligibilityRequest *ask,
                                    Chuang__Finance__Eligibility *reply,
                                    Chuang__Finance__Programme **programme);

/* true when programme's version computes its award: an interest subsidy
 * by rate_above_reference_bp or reference_share_bp. */
bool handlers_subsidy_computed(const Chuang__Finance__Programme *programme);

/* Records a violation when the period from .. to (days, both "" for none)
 * is not one. */
void handlers_period_check(service_call_t *call, const char *from, const char *to);

/* true when value is one of list (ending with NULL). */
bool handlers_listed(const char *const *list, const char *value);

/* A move of a record between statuses: from[i] may become to[i]. */
typedef struct {
    const char *from;
    const char *to;
} handlers_move_t;

/* OK when moves (ending with {NULL, NULL}) let what (e.g. "provider"),
 * now current, become wanted; else FAILED_PRECONDITION saying so. */
Chuang__Status handlers_move_allowed(service_call_t *call, const handlers_move_t *moves,
                                     const char *what, const char *current, const char *wanted);

/* true when wanted is the to of one of moves. */
bool handlers_move_known(const handlers_move_t *moves, const char *wanted);

/* true when the caller acts by its own key in role (e.g. provider,
 * investor), not as an officer, finance officer or auditor. */
bool handlers_acts_as(service_call_t *call, const char *role);

/* Checks that *day ("" for today, which it then becomes) is a date not
 * after today and not before not_before (unless NULL or ""), recording a
 * violation of field otherwise. Returns OK, INVALID_ARGUMENT or the
 * query's failure. */
Chuang__Status handlers_past_day(service_call_t *call, const char *field, const char **day,
                                 const char *not_before);

/* Leaves *year as it is unless 0, which becomes the agency's year today.
 * Returns OK or the query's failure. */
Chuang__Status handlers_year_or_this(service_call_t *call, int *year);

#endif
