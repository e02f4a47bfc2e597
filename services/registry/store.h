/*
 * store.h - the registry's SQL, by aggregate: the agency's today (store.c), names (store_names.c),
 * entities (store_entities.c), credit lists and annual reports (store_credit.c), simplified
 * deregistration (store_deregistration.c).
 *
 * Every function runs on the caller's connection inside the request's
 * transaction and returns 0 (or a count, or 1 for "found"), or -1 when a
 * query failed; the error is then on the connection (PQerrorMessage) and the
 * transaction is aborted. Legal dates are the agency's (chuang_today,
 * chuang_day_start: common/sql/0009), never the UTC day.
 */
#ifndef REGISTRY_STORE_H
#define REGISTRY_STORE_H

#include "enterprise_name.h"
#include "registry.pb-c.h"
#include "service.h"

#include <libpq-fe.h>
#include <stdbool.h>

#define STORE_ID_SIZE        37 /* a UUID's text and NUL */
#define STORE_DATE_SIZE      11 /* YYYY-MM-DD and NUL */
#define STORE_ID_NUMBER_SIZE 24 /* a resident ID number (18) or a passport number */

/* Today, which several aggregates read: store.c. */

/* Today in agency's calendar as YYYYMMDD, or -1. */
int store_today(PGconn *db, const char *agency);

/* Names: store_names.c. */

/* Looks for a word of the agency's forbidden-word list in text. Returns 1
 * and copies the word, 0 when none is there. */
int store_forbidden_word(PGconn *db, const char *agency, const char *text, char *word, size_t size);

/* Serialises name checks on (agency, trade name, industry) until the end of
 * the transaction, then looks for a registered entity or a live reservation
 * with the same trade name and industry. Returns 1 and copies the name that
 * holds them, 0 when they are free. */
int store_name_taken(PGconn *db, const char *agency, const char *trade_name, const char *industry,
                     char *holder, size_t size);

/* Records a reservation valid for days from today. Returns 0 and fills id
 * and expires_on. */
int store_reservation_add(PGconn *db, const char *agency, const enterprise_name_t *name,
                          const char *applicant_name, const char *applicant_id_number,
                          long long days, char id[STORE_ID_SIZE], char expires_on[STORE_DATE_SIZE]);

typedef struct {
    char name[ENTERPRISE_NAME_FULL_SIZE];
    char trade_name[ENTERPRISE_NAME_TRADE_NAME_SIZE];
    char industry[ENTERPRISE_NAME_INDUSTRY_SIZE];
    char form[ENTERPRISE_NAME_FORM_SIZE];
    char status[16];
    char expires_on[STORE_DATE_SIZE];
    bool expired;
    char applicant_id_number[STORE_ID_NUMBER_SIZE]; /* who reserved it */
} store_reservation_t;

/* Takes the agency's reservation id for this transaction: marks it used
 * when it was reserved (the request's failure undoes that). Returns 1 and
 * fills reservation as it was before (status "reserved" when taken now:
 * the caller still checks that it is live and fits), 0 when the agency has
 * no such reservation. */
int store_reservation_take(PGconn *db, const char *agency, const char *id,
                           store_reservation_t *reservation);

/* Names of registered entities and live reservations containing text.
 * Returns the number of matches written (memory from call). */
int store_names_search(PGconn *db, service_call_t *call, const char *agency, const char *text,
                       int limit, Chuang__Registry__SearchNamesReply *reply);

/* Entities: store_entities.c. */

/* The next organisation number for a new credit code. Returns 0. */
int store_next_organisation_number(PGconn *db, long long *number);

/* Records a registered entity from request under credit_code, with its
 * founders and addresses, and marks the reservation used. Returns 0. */
int store_entity_add(PGconn *db, const char *agency, const char *credit_code,
                     const store_reservation_t *reservation,
                     const Chuang__Registry__RegisterRequest *request);

/* Loads the entity with credit_code, or with name when credit_code is NULL,
 * into entity (memory from call). Returns 1, or 0 when there is none. */
int store_entity_load(PGconn *db, service_call_t *call, const char *credit_code, const char *name,
                      Chuang__Registry__Entity *entity);

/* What decides who may act on an entity: its status ("registered",
 * "deregistered"), agency, legal representative and the applicant who
 * reserved its name. */
typedef struct {
    char status[16];
    char agency[16];
    char legal_rep_id_number[STORE_ID_NUMBER_SIZE];
    char applicant_id_number[STORE_ID_NUMBER_SIZE];
} store_entity_ref_t;

/* Fills ref for the entity with credit_code; with for_update, its row stays
 * locked until the transaction ends. Returns 1, or 0 when there is none. */
int store_entity_ref(PGconn *db, const char *credit_code, bool for_update, store_entity_ref_t *ref);

/* Starts the history of a newly registered entity: every tracked field's
 * value, valid from now. Returns 0. */
int store_history_start(PGconn *db, const char *credit_code);

/* Changes one tracked field (see entity_history) to value, keeping the old
 * value's period in the history. Returns 1 and copies the old value, or 0
 * when the value is already that. */
int store_entity_change(PGconn *db, const char *credit_code, const char *field, const char *value,
                        char *old_value, size_t size);

/* Renames the entity to the reservation's name (history kept) and marks the
 * reservation used. Returns 1 and copies the old name, or 0 when the name is
 * already that. */
int store_entity_rename(PGconn *db, const char *credit_code, const store_reservation_t *reservation,
                        char *old_value, size_t size);

/* Moves the entity's domicile to address (history kept). Returns 1 and
 * copies the old value ("division detail"), or 0 when it is already there. */
int store_domicile_change(PGconn *db, const char *credit_code,
                          const Chuang__Registry__Address *address, char *old_value, size_t size);

/* Loads the entity as it stood at the end of as_of (YYYY-MM-DD): its tracked
 * fields from the history, founders and business addresses as today (memory
 * from call). Returns 1, or 0 when it was not registered then. */
int store_entity_as_of(PGconn *db, service_call_t *call, const char *credit_code, const char *as_of,
                       Chuang__Registry__Entity *entity);

/* The event log position the transaction's snapshot reflects: the last
 * position the relay gave. Call first in a REPEATABLE READ transaction.
 * Returns 0 and sets *sequence, or -1. */
int store_log_position(PGconn *db, int64_t *sequence);

/* Up to limit credit codes after after (in order) into codes (memory from
 * call, NULL-terminated). Returns how many. */
int store_entity_codes(PGconn *db, service_call_t *call, const char *after, int limit,
                       char ***codes);

/* Credit lists, annual reports and the annual check: store_credit.c. */

/* Opens a listing of the entity on list ("abnormal", "dishonest"). Returns 1
 * and fills listing (memory from call), or 0 when one is already open. */
int store_listing_add(PGconn *db, service_call_t *call, const char *credit_code, const char *list,
                      const char *reason, const char *authority,
                      Chuang__Registry__Listing *listing);

/* Closes the entity's open listing on list. Returns 1 and fills listing, or
 * 0 when none is open. */
int store_listing_remove(PGconn *db, service_call_t *call, const char *credit_code,
                         const char *list, const char *reason, Chuang__Registry__Listing *listing);

/* The entity's open listings into standing (memory from call). Returns how
 * many. */
int store_listings_open(PGconn *db, service_call_t *call, const char *credit_code,
                        Chuang__Registry__CreditStanding *standing);

/* Records an annual report. Returns 1, or 0 when that year's is filed. */
int store_annual_report_add(PGconn *db, const Chuang__Registry__FileAnnualReportRequest *request,
                            int64_t *filed_at_ms);

/* The annual checks due to be scheduled: per agency with entities, the
 * year before its current one (in its calendar) when not checked yet, with
 * the instant the check is due (ms since the epoch: the agency's midnight
 * after annual_report_last_day). Rows ("<agency>:<year>", due_ms), as
 * service_job_t's pending lists jobs; caller clears; NULL on error. */
PGresult *store_annual_checks_due(PGconn *db);

/* Lists as abnormal up to limit of agency's entities without the report of
 * year that this check has not listed yet. Rows (credit_code, listing id,
 * listed_at_ms, reason); fewer than limit means it is the last chunk.
 * Caller clears; NULL on error. */
PGresult *store_annual_check_chunk(PGconn *db, const char *agency, int year, int limit);

/* Records that agency's check of year is done. Returns 0 or -1. */
int store_annual_check_finish(PGconn *db, const char *agency, int year);

/* Whether agency's check of year has run: 1, 0, or -1. */
int store_annual_check_done(PGconn *db, const char *agency, int year);

/* Simplified deregistration: store_deregistration.c. */

typedef struct {
    char credit_code[32];
    char status[16]; /* "noticed", "rejected", "deregistered" */
    int64_t applied_at_ms;
    int64_t notice_ends_at_ms;
    int64_t decided_at_ms; /* 0 until decided */
    int objections;        /* made since the application */
    bool notice_over;
} store_deregistration_t;

/* Opens a simplified deregistration (or reopens a rejected one) whose
 * notice runs notice_days full days after today in the entity's agency and
 * ends at the agency's midnight after the last. Returns 1 and fills row, 0
 * when one is in notice or done. */
int store_deregistration_open(PGconn *db, const char *credit_code, long long notice_days,
                              store_deregistration_t *row);

/* Loads the deregistration, locking it for this transaction. Returns 1 and
 * fills row, or 0. */
int store_deregistration_lock(PGconn *db, const char *credit_code, store_deregistration_t *row);

/* Records an objection. Returns 0. */
int store_objection_add(PGconn *db, const char *credit_code, const char *objector,
                        const char *reason);

/* Decides a deregistration whose notice has ended: rejected when anyone
 * objected, else deregistered (and the entity with it). Returns 1 and fills
 * row, 0 when there was nothing to decide. */
int store_deregistration_decide(PGconn *db, const char *credit_code, store_deregistration_t *row);

/* Deregistrations in notice: each's credit code and notice end (ms), as
 * service_job_t's pending lists jobs. The caller clears the result. */
PGresult *store_deregistrations_pending(PGconn *db);

#endif
