/*
 * incubations.h - the incubator's successful graduations, from which
 * finance opens incubation subsidies (sql/0018_incubation.sql).
 */
#ifndef FINANCE_INCUBATIONS_H
#define FINANCE_INCUBATIONS_H

#include "consumer.h"

#include <stdint.h>

/* Applies one of the incubator's events (consumer_handler_fn): an
 * incubator.TenantGraduated certified successful is recorded once per
 * tenancy, and opens (the first time only) a draft application of the
 * carrier's operator under each incubation_subsidy programme in force on
 * the graduation day with a per_graduate_fen, subject
 * "graduation:<tenancy>", each reported as finance.ApplicationDrafted.
 * Other events are ignored. */
int incubations_apply(PGconn *db, const Chuang__Event *event, void *arg, char *error);

/* 1 when subject ("graduation:<tenancy>") is a successful graduation of
 * agency whose carrier credit_code operates, 0 when not, -1 on a database
 * error. */
int incubation_graduation_of(PGconn *db, const char *agency, const char *subject,
                             const char *credit_code);

#endif
