/*
 * steps.h - the history of each move of an application's or a loan's
 * status (application_steps, loan_steps): who, when, why, never changed.
 *
 * Every function runs on the caller's connection inside its transaction.
 */
#ifndef FINANCE_STEPS_H
#define FINANCE_STEPS_H

#include <libpq-fe.h>
#include <stdint.h>

/* Whose steps. */
typedef enum { STEPS_APPLICATION, STEPS_LOAN } steps_of_t;

#define STEPS_ERROR     -1
#define STEPS_DUPLICATE -2 /* the update met a unique constraint */

/* Records the next step of application or loan id (decimal text), from
 * status from to status to, by, for reason. Returns 0 or STEPS_ERROR. */
int steps_record(PGconn *db, steps_of_t of, const char *id, const char *from, const char *to,
                 const char *by, const char *reason);

/* Runs the UPDATE sql on id of agency (its parameters: agency, id, then
 * the count, at most 8, of extra) and, when it changed the row, records
 * the step. Returns 1, 0 when it changed nothing, STEPS_DUPLICATE or
 * STEPS_ERROR. */
int steps_update(PGconn *db, steps_of_t of, const char *agency, int64_t id, const char *sql,
                 int count, const char *const *extra, const char *from, const char *to,
                 const char *by, const char *reason);

#endif
