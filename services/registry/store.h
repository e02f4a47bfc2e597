/*
 * store.h - the registry's SQL: rules, name reservations, entities.
 *
 * Every function runs on the caller's connection inside the request's
 * transaction and returns 0 (or a count, or 1 for "found"), or -1 when a
 * query failed; the error is then on the connection (PQerrorMessage) and the
 * transaction is aborted. Dates are the database's current_date, which is
 * the UTC day since the framework sets TimeZone to UTC.
 */
#ifndef REGISTRY_STORE_H
#define REGISTRY_STORE_H

#include "enterprise_name.h"
#include "registry.pb-c.h"
#include "service.h"

#include <libpq-fe.h>
#include <stdbool.h>

#define STORE_ID_SIZE   37 /* a UUID's text and NUL */
#define STORE_DATE_SIZE 11 /* YYYY-MM-DD and NUL */

/* The value of the rule name in force today for agency (its own row, else
 * the default). Returns 1 and sets *value, 0 when no rule is in force. */
int store_rule(PGconn *db, const char *agency, const char *name, long long *value);

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
} store_reservation_t;

/* Locks the agency's reservation id for this transaction. Returns 1 and
 * fills reservation, 0 when the agency has no such reservation. */
int store_reservation_lock(PGconn *db, const char *agency, const char *id,
                           store_reservation_t *reservation);

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

/* Names of registered entities and live reservations containing text.
 * Returns the number of matches written (memory from call). */
int store_names_search(PGconn *db, service_call_t *call, const char *agency, const char *text,
                       int limit, Chuang__Registry__SearchNamesReply *reply);

#endif
