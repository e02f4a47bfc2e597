/*
 * handlers_private.h - what the finance service's handler files share
 * (handlers.c).
 */
#ifndef FINANCE_HANDLERS_PRIVATE_H
#define FINANCE_HANDLERS_PRIVATE_H

#include "checks.h"
#include "finance.pb-c.h"
#include "service.h"

#include <stdbool.h>
#include <stdint.h>

#define AMOUNT_MAX      INT64_C(1000000000000000) /* 10^15 fen: ten trillion yuan */
#define PARAMETERS_MAX  50
#define CONDITIONS_MAX  20
#define APPROVALS_MAX   5
#define VALUES_MAX      50
#define AWARD_RULES_MAX 10

/* The reply to a ledger function's negative result (ledger.h). */
Chuang__Status handlers_ledger_refused(service_call_t *call, int64_t rc, const char *what);

/* Reads entry id back into output and reports it as a finance.EntryPosted
 * event of the fund of its first posting. */
Chuang__Status handlers_posted(service_call_t *call, int64_t id, ProtobufCMessage *output);

/* Records a violation unless exactly one of credit_code (an entity's, by
 * its shape) and id_number (a person's resident ID number, checked by GB
 * 11643) names who applies. */
void handlers_applicant_check(service_call_t *call, const char *credit_code, const char *id_number);

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

#endif
