/*
 * incubations.c - incubation subsidies opened from the incubator's
 * graduations; see incubations.h.
 *
 * Exactly once per graduation: the consumer's inbox applies each event
 * once, and the graduation's row (primary key agency and tenancy) is
 * written in the same transaction as the applications it opens, so a
 * redelivery that passed the inbox (a rebuilt inbox, a group rewound)
 * finds the row and opens nothing.
 */
#include "incubations.h"
#include "applications.h"
#include "db.h"
#include "incubator.pb-c.h"
#include "outbox.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdlib.h>

#define SUBJECT_PREFIX "graduation:"

/* Writes finance.ApplicationDrafted for the application id just opened. */
static int s_announce(PGconn *db, const Chuang__Event *event, int64_t id,
                      const Chuang__Finance__CreateApplicationRequest *request)
{
    Chuang__Finance__Application application = CHUANG__FINANCE__APPLICATION__INIT;
    application.id = id;
    application.programme = request->programme;
    application.credit_code = request->credit_code;
    application.subject = request->subject;
    application.amount_fen = request->amount_fen;
    application.status = "draft";
    application.created_by = "incubator";
    application.round = 1;
    char aggregate[32];
    snprintf(aggregate, sizeof aggregate, "application:%" PRId64, id);
    const outbox_event_t out = {.agency = event->agency,
                                .type = "finance.ApplicationDrafted",
                                .aggregate_id = aggregate,
                                .visibility = CHUANG__VISIBILITY__VISIBILITY_INTERNAL,
                                .payload = &application.base,
                                .trace_id = event->trace_id};
    return outbox_write(db, &out);
}

/* Opens an application under each incubation_subsidy programme of the
 * event's agency in force on tenancy's graduation day. */
static int s_open(PGconn *db, const Chuang__Event *event, const Chuang__Incubator__Tenancy *t,
                  const char *subject)
{
    const char *values[2] = {event->agency, t->graduation->graduated_on};
    PGresult *res =
        db_query(db,
                 "SELECT p.code, coalesce(pp.value, 0) FROM programmes p"
                 " CROSS JOIN LATERAL finance_programme_version(p.agency, p.code, $2::date) v"
                 " LEFT JOIN programme_parameters pp ON pp.agency = v.agency"
                 "   AND pp.programme = v.programme AND pp.version = v.version"
                 "   AND pp.name = 'per_graduate_fen'"
                 " WHERE p.agency = $1 AND p.kind = 'incubation_subsidy'"
                 "   AND (v.effective_to IS NULL OR v.effective_to >= $2::date)"
                 " ORDER BY p.code",
                 2, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : -1;
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        Chuang__Finance__CreateApplicationRequest request =
            CHUANG__FINANCE__CREATE_APPLICATION_REQUEST__INIT;
        request.programme = PQgetvalue(res, i, 0);
        request.credit_code = t->operator_credit_code;
        request.subject = (char *)subject;
        request.amount_fen = strtoll(PQgetvalue(res, i, 1), NULL, 10);
        if (request.amount_fen <= 0)
            continue; /* a version without the amount opens nothing */
        int64_t id = 0;
        int made = application_create(db, event->agency, &request, "incubator", &id);
        if (made == 1)
            rc = s_announce(db, event, id, &request);
        else if (made != APPLICATION_DUPLICATE) /* one opened at the window stands */
            rc = -1;
    }
    PQclear(res);
    return rc;
}

int incubations_apply(PGconn *db, const Chuang__Event *event, void *arg, char *error)
{
    (void)arg;
    if (!streq(event->type, "incubator.TenantGraduated"))
        return 0;
    Chuang__Incubator__Tenancy *t =
        chuang__incubator__tenancy__unpack(NULL, event->payload.len, event->payload.data);
    if (!t) {
        snprintf(error, 256, "payload is not a chuang.incubator.Tenancy");
        return -1;
    }
    int rc = 0;
    if (t->graduation && t->graduation->successful && t->team && *t->operator_credit_code) {
        char tenancy[24], subject[48];
        snprintf(tenancy, sizeof tenancy, "%" PRId64, t->id);
        snprintf(subject, sizeof subject, SUBJECT_PREFIX "%" PRId64, t->id);
        const char *values[7] = {event->agency,
                                 tenancy,
                                 t->carrier_code,
                                 t->operator_credit_code,
                                 t->team->credit_code,
                                 t->team->name,
                                 t->graduation->graduated_on};
        PGresult *res = db_query(
            db,
            "INSERT INTO incubation_graduations (agency, tenancy, carrier, operator_credit_code,"
            "   team_credit_code, team_name, graduated_on)"
            " VALUES ($1, $2::bigint, $3, $4, $5, $6, $7::date) ON CONFLICT DO NOTHING",
            7, values, NULL, NULL, 0);
        rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
        bool first = rc == 0 && streq(PQcmdTuples(res), "1");
        PQclear(res);
        if (first)
            rc = s_open(db, event, t, subject);
    }
    chuang__incubator__tenancy__free_unpacked(t, NULL);
    return rc;
}

int incubation_graduation_of(PGconn *db, const char *agency, const char *subject,
                             const char *credit_code)
{
    size_t prefix = strlen(SUBJECT_PREFIX);
    const char *number = subject + prefix;
    if (strncmp(subject, SUBJECT_PREFIX, prefix) != 0 || !*number || strlen(number) > 18 ||
        strspn(number, "0123456789") != strlen(number))
        return 0;
    const char *values[3] = {agency, number, credit_code};
    PGresult *res = db_query(db,
                             "SELECT 1 FROM incubation_graduations WHERE agency = $1"
                             " AND tenancy = $2::bigint AND operator_credit_code = $3",
                             3, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) > 0 : -1;
    PQclear(res);
    return rc;
}
