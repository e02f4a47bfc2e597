/*
 * facts.h - finance's read model of the registry's entities: the consumer
 * handler that keeps it from the registry's events, and its reads
 * (sql/0003_entity_facts.sql).
 */
#ifndef FINANCE_FACTS_H
#define FINANCE_FACTS_H

#include "chuang.pb-c.h"
#include "finance.pb-c.h"
#include "service.h"

#include <libpq-fe.h>

/* A consumer handler (consumer.h): applies one registry event to the read
 * model in the open transaction on db. Events that carry no fact finance
 * keeps are skipped (0); an event whose payload does not unpack is an
 * error (-1, with why in error), so it goes to the dead letters rather than
 * being lost. */
int facts_apply(PGconn *db, const Chuang__Event *event, void *arg, char *error);

/* Fills facts (memory from call) with what finance knows of credit_code,
 * its open listings and its standing. Every agency of the deployment sees
 * every entity whose registration reached it, from its own registry or
 * through an import of another agency's: registrations and credit listings
 * are public records, and which entities a programme reaches is its
 * division condition, not who registered them. Returns 1, 0 when it knows
 * nothing of it, or -1 on a database error. */
int facts_get(PGconn *db, service_call_t *call, const char *credit_code,
              Chuang__Finance__EntityFacts *facts);

#define FACTS_OUTSIDE -2 /* domiciled outside the agency's area */
#define FACTS_CLOSED  -3 /* deregistered */

/* Whether credit_code is an entity of agency's area: domiciled within its
 * division (finance_within) and registered. Returns 1; 0 when finance
 * knows nothing of it; FACTS_OUTSIDE; FACTS_CLOSED; or -1. */
int facts_of_area(PGconn *db, const char *agency, const char *credit_code);

/* Records recognition (of an entity of agency's area) by by. Returns 1;
 * 0 when the agency has recorded its certificate already; -1. */
int facts_recognition_record(PGconn *db, const char *agency,
                             const Chuang__Finance__Recognition *recognition, const char *by);

/* Fills recognition (memory from call) with agency's record of
 * certificate for credit_code. Returns 1, 0 when there is none, or -1. */
int facts_recognition(PGconn *db, service_call_t *call, const char *agency, const char *certificate,
                      const char *credit_code, Chuang__Finance__Recognition *recognition);

/* What an application's subject names, for the conditions over it: a
 * recognition of the entity (its certificate number) or an investment
 * reported by a fund the entity manages ("investment:<id>"); NULL where it
 * names neither. */
typedef struct {
    const Chuang__Finance__Recognition *recognition;
    const Chuang__Finance__Investment *investment;
    int64_t investee_age_days; /* the investee's age on the investment's day */
} facts_subject_t;

/* Decides whether facts and subject meet version's conditions on day
 * ("YYYY-MM-DD"): fills out's version, results (each condition with the
 * fact as tested), eligible (every condition holds) and flags (the open
 * listings), with memory from call. */
void facts_evaluate(service_call_t *call, const Chuang__Finance__ProgrammeVersion *version,
                    const Chuang__Finance__EntityFacts *facts, const facts_subject_t *subject,
                    const char *day, Chuang__Finance__Eligibility *out);

/* The open serious-violation listing among facts', or NULL. */
const Chuang__Finance__CreditListing *facts_dishonest(const Chuang__Finance__EntityFacts *facts);

#endif
