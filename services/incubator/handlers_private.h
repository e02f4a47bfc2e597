/*
 * handlers_private.h - what the incubator service's handler files share
 * (handlers.c): the carrier a request acts on, who may act on it, the
 * entities of the agency's area, and the events of each aggregate.
 */
#ifndef INCUBATOR_HANDLERS_PRIVATE_H
#define INCUBATOR_HANDLERS_PRIVATE_H

#include "checks.h"
#include "incubator.pb-c.h"
#include "service.h"

#include <stdbool.h>
#include <stdint.h>

#define AMOUNT_MAX INT64_C(1000000000000000) /* 10^15 fen */
#define AREA_MAX   INT64_C(100000000)        /* m²: a hundred square kilometres */
#define COUNT_MAX  INT64_C(100000000)        /* people, events, patents, hours */

/* What the handlers need of a carrier. */
typedef struct {
    char code[48];
    char name[256];
    char carrier_type[32];
    char operator_credit_code[24];
    char principal[72];
    bool government_run;
    bool online;
} carrier_ref_t;

/* Reads carrier code of the request's agency into *carrier, locked for
 * this request when for_update. Returns OK; NOT_FOUND (a violation of
 * field); PERMISSION_DENIED when the caller acts by a carrier's own key
 * (role carrier) and that carrier is another's; or the query's failure. */
Chuang__Status handlers_carrier(service_call_t *call, const char *field, const char *code,
                                bool for_update, carrier_ref_t *carrier);

/* Checks that credit_code (in field) is an entity the registry registered,
 * domiciled in the agency's area and not deregistered. Returns OK,
 * INVALID_ARGUMENT (a violation of field saying which) or the query's
 * failure. */
Chuang__Status handlers_entity_of_area(service_call_t *call, const char *field,
                                       const char *credit_code);

/* Writes event type ("incubator.<Name>") of the aggregate "<kind>:<key>"
 * with payload, for the agency's officers and departments. */
Chuang__Status handlers_emit(service_call_t *call, const char *type, const char *kind,
                             const char *key, const ProtobufCMessage *payload);

/* The same with a numeric key. */
Chuang__Status handlers_emit_id(service_call_t *call, const char *type, const char *kind,
                                int64_t id, const ProtobufCMessage *payload);

/* Records a violation of field unless *day is "" (today, which it then
 * becomes) or a date not before today. Returns OK, INVALID_ARGUMENT or
 * the query's failure. */
Chuang__Status handlers_future_day(service_call_t *call, const char *field, const char **day);

/* Reads team id of the request's agency into team, with its founders
 * (their ID numbers masked unless the caller is an officer or auditor).
 * Returns OK, NOT_FOUND or the query's failure. */
Chuang__Status handlers_team(service_call_t *call, int64_t id, Chuang__Incubator__Team *team);

/* Reads tenancy id of the request's agency into tenancy (initialised),
 * with its team, agreement and graduation, the row locked for this request
 * when for_update. Returns OK; NOT_FOUND (a violation of field);
 * PERMISSION_DENIED when a carrier's key asks for another carrier's; or
 * the query's failure. */
Chuang__Status handlers_tenancy(service_call_t *call, const char *field, int64_t id,
                                bool for_update, Chuang__Incubator__Tenancy *tenancy);

/* Reads tenancy id into output (an initialised Tenancy) as it is now and
 * writes event type of it. */
Chuang__Status handlers_tenancy_emit(service_call_t *call, int64_t id, const char *type,
                                     ProtobufCMessage *output);

/* Masks the personal data of message (personal.h) unless the caller holds
 * an officer's or auditor's role: a carrier's key sees who its tenants and
 * mentors are, not their ID numbers and phones. */
void handlers_mask_personal(service_call_t *call, ProtobufCMessage *message);

/* true when value is from 0 (1 when positive) to max. */
bool handlers_within(int64_t value, bool positive, int64_t max);

#endif
