/*
 * applications.h - applications to programmes and their steps in SQL
 * (sql/0004_applications.sql).
 *
 * Every function runs on the caller's connection inside its transaction;
 * it returns 1, 0 for "not found" (or for the state not being the one
 * required), or APPLICATION_* codes below zero.
 */
#ifndef FINANCE_APPLICATIONS_H
#define FINANCE_APPLICATIONS_H

#include "finance.pb-c.h"
#include "service.h"

#include <libpq-fe.h>
#include <stdint.h>

#define APPLICATION_ERROR -1
#define APPLICATION_DUPLICATE                                                                      \
    -2                              /* an open application for the same programme and subject      \
                                     (and, claimed by periods, an overlapping period) */
#define APPLICATION_NO_PROGRAMME -3 /* the programme does not exist */
#define APPLICATION_BEYOND       -4 /* a payment would pass what was awarded */

/* Creates a draft application of agency; its id into *id. Returns 1,
 * APPLICATION_DUPLICATE, APPLICATION_NO_PROGRAMME or APPLICATION_ERROR. */
int application_create(PGconn *db, const char *agency,
                       const Chuang__Finance__CreateApplicationRequest *request, const char *by,
                       int64_t *id);

/* Fills application (memory from call) with application id of agency and
 * its steps; with for_update, locks it for this transaction. Returns 1, 0
 * when there is no such application, or APPLICATION_ERROR. */
int application_get(PGconn *db, service_call_t *call, const char *agency, int64_t id,
                    bool for_update, Chuang__Finance__Application *application);

/* Moves application id from status from to status to, recording the step
 * (by, reason). Returns 1, 0 when its status is not from, or
 * APPLICATION_ERROR. */
int application_move(PGconn *db, const char *agency, int64_t id, const char *from, const char *to,
                     const char *by, const char *reason);

/* Submits draft application id for review, recording the step (by,
 * reason): pins version, the agency's today as its application date,
 * flagged and the amount it is decided on. Returns 1, 0 when it is not a
 * draft, or APPLICATION_ERROR. */
int application_submit(PGconn *db, const char *agency, int64_t id, const char *by,
                       const char *reason, int version, bool flagged, int64_t amount);

/* Records department's review of application id in round. Returns 1, 0
 * when the department has reviewed it in that round already, or
 * APPLICATION_ERROR. */
int application_review_add(PGconn *db, int64_t id, int round, const char *department, bool approve,
                           const char *reason, const char *by);

/* Puts application id under review on public notice for days full days
 * after today. Returns 1, 0 when it is not under review, or
 * APPLICATION_ERROR. */
int application_notice(PGconn *db, const char *agency, int64_t id, int days, const char *by);

/* Records an objection to application id while its notice runs and sends
 * it back to review in a new round. Returns 1, 0 when it is not on notice
 * (or the notice has ended), or APPLICATION_ERROR. */
int application_object(PGconn *db, const char *agency, int64_t id, const char *reason,
                       const char *by);

/* Adds amount to what awarded application id has been paid, and makes it
 * paid when that reaches the award. Returns 1, 0 when it is not awarded,
 * APPLICATION_BEYOND, or APPLICATION_ERROR. */
int application_pay(PGconn *db, const char *agency, int64_t id, int64_t amount, const char *by);

/* What a payment of an application needs to know, read under its lock. */
typedef struct {
    char status[16];
    int64_t left; /* of the award, not paid yet */
    char fund[64];
    char kind[32]; /* the programme's */
} application_payable_t;

/* Locks application id of agency for this transaction and fills out.
 * Returns 1, 0 when there is no such application, or APPLICATION_ERROR. */
int application_payable(PGconn *db, const char *agency, int64_t id, application_payable_t *out);

/* Fills list with agency's applications past their step's deadline, by
 * id, a page at a time. Returns the count shown or APPLICATION_ERROR. */
int application_overdue(PGconn *db, service_call_t *call, const char *agency,
                        const service_page_t *page, Chuang__Finance__OverdueList *list);

#endif
