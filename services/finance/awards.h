/*
 * awards.h - the cross-level award register (sql/0007_award_register.sql):
 * this agency's awards, registered as they are made, and the awards of the
 * agencies above and below, learnt from their finance streams as the feed
 * imports them; and the award rules of programme versions tested against
 * it (exclude, top_up, cap), so that nothing is paid twice across levels.
 */
#ifndef FINANCE_AWARDS_H
#define FINANCE_AWARDS_H

#include "chuang.pb-c.h"
#include "finance.pb-c.h"
#include "service.h"

#include <libpq-fe.h>
#include <stdint.h>

/* The levels of government, lowest first; ends with NULL. */
extern const char *const awards_levels[];

/* A consumer handler (consumer.h) of another agency's finance stream, as
 * this agency's feed imports it: registers each finance.AwardRegistered
 * of another agency once. An award to a person whose ID number the feed
 * withheld cannot be registered: it is skipped, logged with a hint to
 * grant this agency personal data. A record that is not a whole award is
 * an error (-1, with why in error), for the dead letters. */
int awards_apply(PGconn *db, const Chuang__Event *event, void *arg, char *error);

/* Registers award in the open transaction. Returns 1, 0 when it is
 * registered already, or -1 on a database error. */
int awards_register(PGconn *db, const Chuang__Finance__AwardRecord *award);

/* What an award would be: to recipient, for subject and the period from
 * .. to (both "" for none), of amount (0: not known yet). */
typedef struct {
    const char *recipient;
    const char *subject;
    const char *period_from;
    const char *period_to;
    int64_t amount;
} awards_claim_t;

/* Tests the award rules of version (programme's, of agency) for claim on
 * day ("" the agency's today): fills out->award_rules (memory from call),
 * lowers out->top_up_fen to what the top_up rules allow, and clears
 * out->eligible when a rule does not hold. An award with a period counts
 * against a claim with a period only when they overlap. Returns 0, or -1
 * on a database error. */
int awards_evaluate(PGconn *db, service_call_t *call, const char *agency, const char *programme,
                    const Chuang__Finance__ProgrammeVersion *version, const awards_claim_t *claim,
                    const char *day, Chuang__Finance__Eligibility *out);

/* The same test, today, for the scheduled award of an application: returns
 * 1 when every rule holds, with what the top_up rules allow in *allowed
 * (INT64_MAX without one); 0 when one does not, with why in why (size
 * bytes); -1 on a database error. */
int awards_allow(PGconn *db, const char *agency, const char *programme, int version,
                 const awards_claim_t *claim, int64_t *allowed, char *why, size_t size);

/* Fills list with a page of the register's awards to recipient (a credit
 * code or an ID number), in the order the register learnt them, and their
 * total. Returns the count shown or -1. */
int awards_list(PGconn *db, service_call_t *call, const char *recipient, const service_page_t *page,
                Chuang__Finance__AwardList *list);

#endif
