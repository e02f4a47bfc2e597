/*
 * handlers_activities.c - a carrier's activities (roadshows, salons,
 * training camps, competitions, classes: 路演、沙龙、训练营、大赛、培训),
 * scheduled for a day to come with a capacity; its tenants and guests
 * registered while places are left; attendance recorded once the day has
 * come (a walk-in is recorded as well); and the counts per carrier over a
 * period, with the weeks that had a roadshow held against the target of
 * one every week (周周有路演).
 */
#include "handlers.h"
#include "handlers_private.h"

#include "db_array.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const s_kinds[] = {"roadshow",    "salon", "training_camp",
                                      "competition", "class", NULL};

#define CAPACITY_MAX 100000
#define GUEST_MAX    64 /* bytes of a guest's name */

/* An activity's columns as Activity fields, for rows a of activities. */
#define ACTIVITY_COLUMNS                                                                           \
    "a.id, a.carrier AS carrier_code, a.kind, a.title, a.held_on::text AS held_on, a.capacity,"    \
    " (SELECT count(*) FROM activity_attendees x WHERE x.activity = a.id) AS registered,"          \
    " (SELECT count(*) FROM activity_attendees x WHERE x.activity = a.id AND x.attended)"          \
    "   AS attended"

/* Reads activity id of the request's agency into activity, locked for
 * this request when for_update, and its carrier (PERMISSION_DENIED for
 * another carrier's key). Returns OK, NOT_FOUND (a violation of
 * "activity_id") or the query's failure. */
static Chuang__Status s_activity(service_call_t *call, int64_t id, bool for_update,
                                 Chuang__Incubator__Activity *activity)
{
    if (id <= 0)
        return service_call_violation(call, "activity_id", "must be an activity's number");
    char key[24];
    snprintf(key, sizeof key, "%" PRId64, id);
    const char *values[2] = {service_call_header(call)->agency, key};
    Chuang__Status failure;
    PGresult *res =
        service_call_query(call, "read activity",
                           for_update ? "SELECT " ACTIVITY_COLUMNS " FROM activities a"
                                        " WHERE a.agency = $1 AND a.id = $2::bigint FOR UPDATE"
                                      : "SELECT " ACTIVITY_COLUMNS " FROM activities a"
                                        " WHERE a.agency = $1 AND a.id = $2::bigint",
                           2, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    Chuang__Status status = CHUANG__STATUS__OK;
    if (PQntuples(res) == 0) {
        service_call_violation(call, "activity_id", "is not an activity of this agency");
        status = service_call_fail(call, CHUANG__STATUS__NOT_FOUND, "no such activity", NULL, NULL);
    } else {
        status = service_call_row(call, res, 0, &activity->base);
    }
    PQclear(res);
    if (status != CHUANG__STATUS__OK)
        return status;
    carrier_ref_t carrier;
    return handlers_carrier(call, "activity_id", activity->carrier_code, false, &carrier);
}

/* Reads activity id into output as it is now and writes event type of it. */
static Chuang__Status s_activity_emit(service_call_t *call, int64_t id, const char *type,
                                      ProtobufCMessage *output)
{
    Chuang__Incubator__Activity *activity = (Chuang__Incubator__Activity *)output;
    chuang__incubator__activity__init(activity);
    Chuang__Status status = s_activity(call, id, false, activity);
    if (status != CHUANG__STATUS__OK)
        return status;
    return handlers_emit(call, type, "carrier", activity->carrier_code, output);
}

Chuang__Status handle_schedule_activity(service_call_t *call, const ProtobufCMessage *input,
                                        ProtobufCMessage *output)
{
    const Chuang__Incubator__ActivityRequest *request =
        (const Chuang__Incubator__ActivityRequest *)input;
    if (!checks_listed(s_kinds, request->kind))
        service_call_violation(call, "kind",
                               "must be roadshow, salon, training_camp, competition or class");
    if (!checks_text_valid(request->title, true))
        service_call_violation(call, "title", "must be the activity's title");
    if (request->capacity < 1 || request->capacity > CAPACITY_MAX)
        service_call_violation(call, "capacity", "must be the places it has, from 1");
    const char *day = request->held_on;
    Chuang__Status status = handlers_future_day(call, "held_on", &day);
    if (status != CHUANG__STATUS__OK && status != CHUANG__STATUS__INVALID_ARGUMENT)
        return status;
    carrier_ref_t carrier;
    status = handlers_carrier(call, "carrier_code", request->carrier_code, false, &carrier);
    if (status != CHUANG__STATUS__OK || service_call_has_violations(call))
        return service_call_has_violations(call) ? CHUANG__STATUS__INVALID_ARGUMENT : status;
    char capacity[16];
    snprintf(capacity, sizeof capacity, "%d", request->capacity);
    const char *values[7] = {service_call_header(call)->agency,
                             carrier.code,
                             request->kind,
                             request->title,
                             day,
                             capacity,
                             service_call_recorded_by(call)};
    Chuang__Status failure;
    PGresult *res = service_call_query(
        call, "schedule activity",
        "INSERT INTO activities (agency, carrier, kind, title, held_on, capacity, created_by)"
        " VALUES ($1, $2, $3, $4, $5::date, $6::int, $7) RETURNING id",
        7, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    int64_t id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return s_activity_emit(call, id, "incubator.ActivityScheduled", output);
}

/* Checks that tenancy id (in field) is a tenancy of carrier, in residence
 * now, or once admitted when attended (it may have left since the day).
 * Returns OK, INVALID_ARGUMENT or the query's failure. */
static Chuang__Status s_tenant_of(service_call_t *call, const char *field, int64_t id,
                                  const char *carrier, bool attended)
{
    char key[24];
    snprintf(key, sizeof key, "%" PRId64, id);
    const char *values[3] = {service_call_header(call)->agency, key, carrier};
    Chuang__Status failure;
    PGresult *res = service_call_query(
        call, "read tenant",
        "SELECT status FROM tenancies WHERE agency = $1 AND id = $2::bigint AND carrier = $3", 3,
        values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    Chuang__Status status = CHUANG__STATUS__OK;
    if (PQntuples(res) == 0)
        status = service_call_violation(call, field, "is not a tenancy of this carrier");
    else if (attended ? streq(PQgetvalue(res, 0, 0), "applied") ||
                            streq(PQgetvalue(res, 0, 0), "declined")
                      : !streq(PQgetvalue(res, 0, 0), "admitted"))
        status = service_call_violation(call, field, "is a tenancy that is %s, not in residence",
                                        PQgetvalue(res, 0, 0));
    PQclear(res);
    return status;
}

/* The attendee's key: "tenancy:<id>" or "guest:<name>", in attendee. */
static void s_attendee(int64_t tenancy, const char *guest, char *attendee, size_t size)
{
    if (tenancy)
        snprintf(attendee, size, "tenancy:%" PRId64, tenancy);
    else
        snprintf(attendee, size, "guest:%s", guest);
}

Chuang__Status handle_register_for_activity(service_call_t *call, const ProtobufCMessage *input,
                                            ProtobufCMessage *output)
{
    const Chuang__Incubator__AttendeeRequest *request =
        (const Chuang__Incubator__AttendeeRequest *)input;
    Chuang__Incubator__Activity *activity = (Chuang__Incubator__Activity *)output;
    Chuang__Status status = s_activity(call, request->activity_id, true, activity);
    if (status != CHUANG__STATUS__OK)
        return status;
    bool guest = *request->guest != '\0';
    if (guest == (request->tenancy_id != 0))
        return service_call_violation(call, "tenancy_id", "must be given, or guest, but not both");
    if (guest && (!checks_text_valid(request->guest, true) || strlen(request->guest) > GUEST_MAX))
        return service_call_violation(call, "guest", "must be the guest's name");
    if (!guest) {
        status =
            s_tenant_of(call, "tenancy_id", request->tenancy_id, activity->carrier_code, false);
        if (status != CHUANG__STATUS__OK)
            return status;
    }
    const char *today = "";
    status = service_call_today(call, &today);
    if (status != CHUANG__STATUS__OK)
        return status;
    if (strcmp(activity->held_on, today) < 0)
        return service_call_violation(call, "activity_id", "was held on %s: registration is over",
                                      activity->held_on);
    if (activity->registered >= activity->capacity)
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION, "activity full",
                                 "Every place of the activity is taken.", NULL);
    char key[24], attendee[96];
    snprintf(key, sizeof key, "%" PRId64, request->activity_id);
    s_attendee(request->tenancy_id, request->guest, attendee, sizeof attendee);
    const char *values[2] = {key, attendee};
    Chuang__Status failure;
    PGresult *res = service_call_query(call, "register attendee",
                                       "INSERT INTO activity_attendees (activity, attendee)"
                                       " VALUES ($1::bigint, $2) ON CONFLICT DO NOTHING",
                                       2, values, PGRES_COMMAND_OK, &failure);
    if (!res)
        return failure;
    bool registered = streq(PQcmdTuples(res), "1");
    PQclear(res);
    if (!registered) {
        service_call_violation(call, guest ? "guest" : "tenancy_id", "is registered already");
        return service_call_fail(call, CHUANG__STATUS__ALREADY_EXISTS, "registered already", NULL,
                                 NULL);
    }
    return s_activity_emit(call, request->activity_id, "incubator.ActivityRegistered", output);
}

Chuang__Status handle_record_attendance(service_call_t *call, const ProtobufCMessage *input,
                                        ProtobufCMessage *output)
{
    const Chuang__Incubator__AttendanceRequest *request =
        (const Chuang__Incubator__AttendanceRequest *)input;
    Chuang__Incubator__Activity *activity = (Chuang__Incubator__Activity *)output;
    Chuang__Status status = s_activity(call, request->activity_id, true, activity);
    if (status != CHUANG__STATUS__OK)
        return status;
    const char *today = "";
    status = service_call_today(call, &today);
    if (status != CHUANG__STATUS__OK)
        return status;
    if (strcmp(activity->held_on, today) > 0)
        service_call_violation(call, "activity_id",
                               "is held on %s: attendance is recorded from that day",
                               activity->held_on);
    size_t count = request->n_tenancy_ids + request->n_guests;
    if (count == 0)
        service_call_violation(call, "tenancy_ids", "must name who came, or guests");
    char **attendees = service_call_alloc(call, (count ? count : 1) * sizeof *attendees);
    for (size_t i = 0; i < request->n_tenancy_ids; i++) {
        char field[48];
        snprintf(field, sizeof field, "tenancy_ids.%zu", i);
        status = s_tenant_of(call, field, request->tenancy_ids[i], activity->carrier_code, true);
        if (status != CHUANG__STATUS__OK && status != CHUANG__STATUS__INVALID_ARGUMENT)
            return status;
        attendees[i] = service_call_alloc(call, 32);
        s_attendee(request->tenancy_ids[i], NULL, attendees[i], 32);
    }
    for (size_t i = 0; i < request->n_guests; i++) {
        if (!checks_text_valid(request->guests[i], true) || strlen(request->guests[i]) > GUEST_MAX)
            service_call_violation(call, "guests", "must each be a guest's name");
        char *attendee = service_call_alloc(call, GUEST_MAX + 8);
        s_attendee(0, request->guests[i], attendee, GUEST_MAX + 8);
        attendees[request->n_tenancy_ids + i] = attendee;
    }
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    char *list = db_text_array(attendees, count);
    if (!list)
        return service_call_fail(call, CHUANG__STATUS__INTERNAL, "out of memory", NULL, NULL);
    char key[24];
    snprintf(key, sizeof key, "%" PRId64, request->activity_id);
    const char *values[2] = {key, list};
    Chuang__Status failure;
    PGresult *res =
        service_call_query(call, "record attendance",
                           "INSERT INTO activity_attendees (activity, attendee, attended)"
                           " SELECT $1::bigint, x, true FROM unnest($2::text[]) x"
                           " ON CONFLICT (activity, attendee) DO UPDATE SET attended = true",
                           2, values, PGRES_COMMAND_OK, &failure);
    free(list);
    if (!res)
        return failure;
    PQclear(res);
    return s_activity_emit(call, request->activity_id, "incubator.AttendanceRecorded", output);
}

Chuang__Status handle_get_activity_counts(service_call_t *call, const ProtobufCMessage *input,
                                          ProtobufCMessage *output)
{
    const Chuang__Incubator__ActivityCountsRequest *request =
        (const Chuang__Incubator__ActivityCountsRequest *)input;
    Chuang__Incubator__ActivityCounts *counts = (Chuang__Incubator__ActivityCounts *)output;
    checks_period(call, request->from, request->to);
    carrier_ref_t carrier;
    Chuang__Status status =
        handlers_carrier(call, "carrier_code", request->carrier_code, false, &carrier);
    if (status != CHUANG__STATUS__OK || service_call_has_violations(call))
        return service_call_has_violations(call) ? CHUANG__STATUS__INVALID_ARGUMENT : status;
    /* From the first of the year to today unless the period says. */
    const char *values[3] = {service_call_header(call)->agency, request->from, request->to};
    Chuang__Status failure;
    PGresult *res = service_call_query(
        call, "read period",
        "SELECT coalesce(nullif($2, '')::date, date_trunc('year', chuang_today($1))::date)::text,"
        " coalesce(nullif($3, '')::date, chuang_today($1))::text",
        3, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    counts->carrier_code = service_call_strdup(call, carrier.code);
    counts->from = service_call_strdup(call, PQgetvalue(res, 0, 0));
    counts->to = service_call_strdup(call, PQgetvalue(res, 0, 1));
    PQclear(res);
    if (strcmp(counts->from, counts->to) > 0)
        return service_call_violation(call, "from", "must not be after to, %s", counts->to);
    const char *period[4] = {values[0], carrier.code, counts->from, counts->to};
    res = service_call_query(
        call, "count activities",
        "SELECT k AS kind,"
        " count(a.id) FILTER (WHERE a.held_on <= chuang_today($1)) AS held,"
        " count(a.id) FILTER (WHERE a.held_on > chuang_today($1)) AS scheduled,"
        " coalesce(sum((SELECT count(*) FROM activity_attendees x"
        "   WHERE x.activity = a.id AND x.attended)), 0) AS attended"
        " FROM unnest(ARRAY['roadshow', 'salon', 'training_camp', 'competition', 'class']) k"
        " LEFT JOIN activities a ON a.agency = $1 AND a.carrier = $2 AND a.kind = k"
        "   AND a.held_on BETWEEN $3::date AND $4::date"
        " GROUP BY k ORDER BY array_position(ARRAY['roadshow', 'salon', 'training_camp',"
        "   'competition', 'class'], k)",
        4, period, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    status = service_call_rows(call, res, -1, &chuang__incubator__activity_count__descriptor,
                               &counts->counts, &counts->n_counts);
    PQclear(res);
    if (status != CHUANG__STATUS__OK)
        return status;
    /* The weeks of the period begun by today, each from its from's weekday,
     * and those of them in which a roadshow was held. */
    res = service_call_query(
        call, "count weeks",
        "SELECT CASE WHEN least($4::date, chuang_today($1)) < $3::date THEN 0"
        "   ELSE (least($4::date, chuang_today($1)) - $3::date) / 7 + 1 END AS weeks,"
        " (SELECT count(DISTINCT (a.held_on - $3::date) / 7) FROM activities a"
        "   WHERE a.agency = $1 AND a.carrier = $2 AND a.kind = 'roadshow'"
        "   AND a.held_on BETWEEN $3::date AND least($4::date, chuang_today($1)))"
        "   AS weeks_with_roadshow",
        4, period, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    status = service_call_row(call, res, 0, output);
    PQclear(res);
    return status;
}
