/*
 * incubations.c - what finance keeps of the incubator's events: incubation
 * subsidies opened from its graduations, mentors' service for the
 * mentor-service subsidy, and carriers' recognitions; see incubations.h.
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
#include "facts.h"
#include "incubator.pb-c.h"
#include "outbox.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdlib.h>

#define SUBJECT_PREFIX "graduation:"
#define MENTOR_PREFIX  "mentor-services:"

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

/* Keeps a mentor's service record once, for its carrier's claim. */
static int s_mentor_service(PGconn *db, const Chuang__Event *event, char *error)
{
    Chuang__Incubator__ServiceRecord *r =
        chuang__incubator__service_record__unpack(NULL, event->payload.len, event->payload.data);
    if (!r) {
        snprintf(error, 256, "payload is not a chuang.incubator.ServiceRecord");
        return -1;
    }
    char record[24], mentor[24], tenancy[24], minutes[24];
    snprintf(record, sizeof record, "%" PRId64, r->id);
    snprintf(mentor, sizeof mentor, "%" PRId64, r->mentor_id);
    snprintf(tenancy, sizeof tenancy, "%" PRId64, r->tenancy_id);
    snprintf(minutes, sizeof minutes, "%" PRId64, r->minutes);
    const char *values[8] = {event->agency, record,  r->carrier_code, r->operator_credit_code,
                             mentor,        tenancy, r->served_on,    minutes};
    int rc = 0;
    if (r->id > 0 && r->minutes >= 1 && r->minutes <= 1440 && *r->served_on) {
        PGresult *res = db_query(
            db,
            "INSERT INTO incubation_mentor_services (agency, record, carrier,"
            "   operator_credit_code, mentor, tenancy, served_on, minutes)"
            " VALUES ($1, $2::bigint, $3, $4, $5::bigint, $6::bigint, $7::date, $8::bigint)"
            " ON CONFLICT DO NOTHING",
            8, values, NULL, NULL, 0);
        rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
        PQclear(res);
    }
    chuang__incubator__service_record__free_unpacked(r, NULL);
    return rc;
}

/* Records a carrier's new recognition (the last of the carrier's) as a
 * recognition of its operator, once per certificate. */
static int s_recognition(PGconn *db, const Chuang__Event *event, char *error)
{
    Chuang__Incubator__Carrier *c =
        chuang__incubator__carrier__unpack(NULL, event->payload.len, event->payload.data);
    if (!c) {
        snprintf(error, 256, "payload is not a chuang.incubator.Carrier");
        return -1;
    }
    int rc = 0;
    if (c->n_recognitions > 0 && *c->operator_credit_code) {
        const Chuang__Incubator__Recognition *last = c->recognitions[c->n_recognitions - 1];
        Chuang__Finance__Recognition r = CHUANG__FINANCE__RECOGNITION__INIT;
        r.certificate = last->certificate;
        r.credit_code = c->operator_credit_code;
        r.kind = "recognition";
        r.name = *last->title ? last->title : c->name;
        r.level = last->level;
        r.awarded_on = last->recognised_on;
        rc = facts_recognition_record(db, event->agency, &r, "incubator") < 0 ? -1 : 0;
    }
    chuang__incubator__carrier__free_unpacked(c, NULL);
    return rc;
}

int incubations_apply(PGconn *db, const Chuang__Event *event, void *arg, char *error)
{
    (void)arg;
    if (streq(event->type, "incubator.MentorServiceRecorded"))
        return s_mentor_service(db, event, error);
    if (streq(event->type, "incubator.CarrierRecognised"))
        return s_recognition(db, event, error);
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

int incubation_mentor_minutes(PGconn *db, const char *agency, const char *subject,
                              const char *credit_code, int64_t *minutes)
{
    size_t prefix = strlen(MENTOR_PREFIX);
    const char *carrier = subject + prefix;
    const char *colon = strrchr(subject, ':');
    if (strncmp(subject, MENTOR_PREFIX, prefix) != 0 || colon < carrier || colon == carrier ||
        strlen(colon + 1) != 4 || strspn(colon + 1, "0123456789") != 4)
        return 0;
    char code[64];
    snprintf(code, sizeof code, "%.*s", (int)(colon - carrier), carrier);
    const char *values[4] = {agency, code, colon + 1, credit_code};
    PGresult *res = db_query(db,
                             "SELECT sum(minutes) FROM incubation_mentor_services"
                             " WHERE agency = $1 AND carrier = $2 AND operator_credit_code = $4"
                             "   AND served_on >= make_date($3::int, 1, 1)"
                             "   AND served_on < make_date($3::int + 1, 1, 1)"
                             " HAVING count(*) > 0",
                             4, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : -1;
    if (rc == 1)
        *minutes = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return rc;
}
