/*
 * handlers_private.h - what the registry's handler files share, defined in
 * handlers.c: the field maxima more than one file checks, the checks of
 * fields several aggregates take, and the one way a handler reaches an
 * entity of the request's agency.
 *
 * A check records a violation on the call for the field it rejects
 * (service_call_violation) and returns false, so that a handler can run
 * them all and answer every offending field at once.
 */
#ifndef REGISTRY_HANDLERS_PRIVATE_H
#define REGISTRY_HANDLERS_PRIVATE_H

#include "registry.pb-c.h"
#include "service.h"
#include "store.h"

#include <stdbool.h>
#include <stddef.h>

#define PERSON_NAME_MAX  50 /* characters */
#define FOUNDERS_MAX     50
#define ADDRESSES_MAX    20
#define CATEGORIES_MAX   16                 /* a founder's categories */
#define CAPITAL_MAX_FEN  1000000000000000LL /* ten trillion yuan */
#define REGION_QUERY_MAX 200
#define REASON_MAX_BYTES 1000

/* Today in the calling agency's calendar, as YYYYMMDD; the UTC date when
 * the database cannot say (the request then fails on its next statement). */
int handlers_today(service_call_t *call);

/* Checks the envelope's agency: the registry needs a division code to
 * register under. */
bool handlers_agency_valid(service_call_t *call);

/* Checks a credit code field; records a violation and returns false when
 * it is not one. */
bool handlers_credit_code_valid(service_call_t *call, const char *field, const char *code);

/* Checks a text field: 1 to max bytes of valid text. Records a violation
 * and returns false when it is not. */
bool handlers_text_valid(service_call_t *call, const char *field, const char *text, size_t max);

/* Loads an entity of the request's agency (by credit_code, or by name when
 * credit_code is NULL; memory from call); another agency's entities do not
 * exist for the caller. */
Chuang__Status handlers_entity_load(service_call_t *call, const char *credit_code, const char *name,
                                    Chuang__Registry__Entity *entity);

/* The entity's status, agency and owners, its row locked for the request
 * when it is to change. Answers NOT_FOUND when there is none in the
 * request's agency, and PERMISSION_DENIED when owner_only and the caller is
 * neither an officer nor one of its owners. */
Chuang__Status handlers_entity_ref(service_call_t *call, const char *credit_code, bool for_update,
                                   bool owner_only, store_entity_ref_t *ref);

#endif
