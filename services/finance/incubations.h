/*
 * incubations.h - what finance keeps of the incubator's events: successful
 * graduations, from which it opens incubation subsidies
 * (sql/0018_incubation.sql); mentors' service, which a carrier claims its
 * mentor-service subsidy for; and carriers' recognitions, as recognitions
 * of their operators for the top-ups (sql/0019_mentor_services.sql).
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
 * "graduation:<tenancy>", each reported as finance.ApplicationDrafted;
 * an incubator.MentorServiceRecorded is kept once per record; an
 * incubator.CarrierRecognised records the new recognition for the
 * carrier's operator. Other events are ignored. */
int incubations_apply(PGconn *db, const Chuang__Event *event, void *arg, char *error);

/* 1 when subject ("graduation:<tenancy>") is a successful graduation of
 * agency whose carrier credit_code operates, 0 when not, -1 on a database
 * error. */
int incubation_graduation_of(PGconn *db, const char *agency, const char *subject,
                             const char *credit_code);

/* The minutes of mentors' service recorded at the carrier that subject
 * ("mentor-services:<carrier>:<year>") names, in that year, into *minutes,
 * when credit_code operates it. Returns 1, 0 when subject names no such
 * carrier and year with service recorded, -1 on a database error. */
int incubation_mentor_minutes(PGconn *db, const char *agency, const char *subject,
                              const char *credit_code, int64_t *minutes);

#endif
