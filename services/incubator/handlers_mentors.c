/*
 * handlers_mentors.c - the agency's register of mentors (创业导师:
 * entrepreneurs, investors and experts, each of academia or of business,
 * so that a tenant can have one of each, 双导师), their assignment to
 * tenants, and the service they give: each session in minutes and the
 * people served (person-times), on a day within the tenancy and never in
 * the future. A service recorded is the event
 * incubator.MentorServiceRecorded, from which finance counts the hours a
 * carrier may claim its mentor-service subsidy for.
 *
 * A mentor's phone is personal data: a carrier's key sees who the mentor
 * is, an officer how to call them.
 */
#include "handlers.h"
#include "handlers_private.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const s_kinds[] = {"entrepreneur", "investor", "expert", NULL};
static const char *const s_sides[] = {"academia", "business", NULL};

/* Reads mentor id of the request's agency into mentor, with the
 * tenancies it is assigned to and its service so far, masked for a
 * carrier's key. Returns OK, NOT_FOUND (a violation of field) or the
 * query's failure. */
static Chuang__Status s_mentor(service_call_t *call, const char *field, int64_t id,
                               Chuang__Incubator__Mentor *mentor)
{
    if (id <= 0)
        return service_call_violation(call, field, "must be a mentor's number");
    char key[24];
    snprintf(key, sizeof key, "%" PRId64, id);
    const char *values[2] = {service_call_header(call)->agency, key};
    Chuang__Status failure;
    PGresult *res = service_call_query(
        call, "read mentor",
        "SELECT m.id, m.name, m.kind, m.side, m.organisation, m.phone,"
        " ARRAY(SELECT a.tenancy FROM mentor_assignments a WHERE a.mentor = m.id"
        "   ORDER BY a.tenancy) AS tenancies,"
        " (SELECT coalesce(sum(s.minutes), 0) FROM mentor_services s WHERE s.mentor = m.id)"
        "   AS minutes,"
        " (SELECT coalesce(sum(s.person_times), 0) FROM mentor_services s"
        "   WHERE s.mentor = m.id) AS person_times"
        " FROM mentors m WHERE m.agency = $1 AND m.id = $2::bigint",
        2, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    Chuang__Status status = CHUANG__STATUS__OK;
    if (PQntuples(res) == 0) {
        service_call_violation(call, field, "is not a mentor of this agency");
        status = service_call_fail(call, CHUANG__STATUS__NOT_FOUND, "no such mentor", NULL, NULL);
    } else {
        status = service_call_row(call, res, 0, &mentor->base);
    }
    PQclear(res);
    if (status == CHUANG__STATUS__OK)
        handlers_mask_personal(call, &mentor->base);
    return status;
}

Chuang__Status handle_register_mentor(service_call_t *call, const ProtobufCMessage *input,
                                      ProtobufCMessage *output)
{
    const Chuang__Incubator__MentorRequest *request =
        (const Chuang__Incubator__MentorRequest *)input;
    if (!checks_text_valid(request->name, true))
        service_call_violation(call, "name", "must be the mentor's name");
    if (!checks_listed(s_kinds, request->kind))
        service_call_violation(call, "kind", "must be entrepreneur, investor or expert");
    if (!checks_listed(s_sides, request->side))
        service_call_violation(call, "side", "must be academia or business");
    if (!checks_text_valid(request->organisation, true))
        service_call_violation(call, "organisation",
                               "must name the firm, fund or university the mentor is with");
    if (!checks_mobile_valid(request->phone))
        service_call_violation(call, "phone", "must be an 11-digit mobile number starting with 1");
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    const char *values[7] = {service_call_header(call)->agency,
                             request->name,
                             request->kind,
                             request->side,
                             request->organisation,
                             request->phone,
                             service_call_recorded_by(call)};
    Chuang__Status failure;
    PGresult *res = service_call_query(
        call, "register mentor",
        "INSERT INTO mentors (agency, name, kind, side, organisation, phone, recorded_by)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        7, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    int64_t id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    Chuang__Incubator__Mentor *mentor = (Chuang__Incubator__Mentor *)output;
    Chuang__Status status = s_mentor(call, "id", id, mentor);
    if (status != CHUANG__STATUS__OK)
        return status;
    return handlers_emit_id(call, "incubator.MentorRegistered", "mentor", id, output);
}

Chuang__Status handle_assign_mentor(service_call_t *call, const ProtobufCMessage *input,
                                    ProtobufCMessage *output)
{
    const Chuang__Incubator__AssignmentRequest *request =
        (const Chuang__Incubator__AssignmentRequest *)input;
    Chuang__Incubator__Mentor *mentor = (Chuang__Incubator__Mentor *)output;
    Chuang__Status status = s_mentor(call, "mentor_id", request->mentor_id, mentor);
    if (status != CHUANG__STATUS__OK)
        return status;
    Chuang__Incubator__Tenancy tenancy = CHUANG__INCUBATOR__TENANCY__INIT;
    status = handlers_tenancy(call, "tenancy_id", request->tenancy_id, false, &tenancy);
    if (status != CHUANG__STATUS__OK)
        return status;
    if (!streq(tenancy.status, "admitted"))
        return service_call_violation(call, "tenancy_id",
                                      "is a tenancy that is %s: mentors are assigned to "
                                      "tenants in residence",
                                      tenancy.status);
    char mentor_id[24], tenancy_id[24];
    snprintf(mentor_id, sizeof mentor_id, "%" PRId64, request->mentor_id);
    snprintf(tenancy_id, sizeof tenancy_id, "%" PRId64, request->tenancy_id);
    const char *values[3] = {mentor_id, tenancy_id, service_call_recorded_by(call)};
    Chuang__Status failure;
    PGresult *res =
        service_call_query(call, "assign mentor",
                           "INSERT INTO mentor_assignments (mentor, tenancy, assigned_by)"
                           " VALUES ($1::bigint, $2::bigint, $3) ON CONFLICT DO NOTHING",
                           3, values, PGRES_COMMAND_OK, &failure);
    if (!res)
        return failure;
    bool assigned = streq(PQcmdTuples(res), "1");
    PQclear(res);
    if (!assigned) {
        service_call_violation(call, "tenancy_id", "has this mentor assigned already");
        return service_call_fail(call, CHUANG__STATUS__ALREADY_EXISTS, "mentor assigned", NULL,
                                 NULL);
    }
    chuang__incubator__mentor__init(mentor);
    status = s_mentor(call, "mentor_id", request->mentor_id, mentor);
    if (status != CHUANG__STATUS__OK)
        return status;
    return handlers_emit_id(call, "incubator.MentorAssigned", "mentor", request->mentor_id, output);
}

Chuang__Status handle_record_mentor_service(service_call_t *call, const ProtobufCMessage *input,
                                            ProtobufCMessage *output)
{
    const Chuang__Incubator__ServiceRecordRequest *request =
        (const Chuang__Incubator__ServiceRecordRequest *)input;
    if (request->minutes < 1 || request->minutes > 1440)
        service_call_violation(call, "minutes", "must be from 1 to 1440 minutes, within a day");
    if (request->person_times < 1 || request->person_times > 10000)
        service_call_violation(call, "person_times", "must be the people served, from 1");
    if (!checks_text_valid(request->topic, true))
        service_call_violation(call, "topic", "must say what the session was about");
    Chuang__Incubator__Tenancy tenancy = CHUANG__INCUBATOR__TENANCY__INIT;
    Chuang__Status status =
        handlers_tenancy(call, "tenancy_id", request->tenancy_id, false, &tenancy);
    if (status != CHUANG__STATUS__OK)
        return status;
    const char *day = request->served_on;
    status = checks_past_day(call, "served_on", &day,
                             tenancy.agreement ? tenancy.agreement->start_on : NULL);
    if (status != CHUANG__STATUS__OK && status != CHUANG__STATUS__INVALID_ARGUMENT)
        return status;
    if (status == CHUANG__STATUS__OK && *tenancy.ended_on && strcmp(day, tenancy.ended_on) > 0)
        service_call_violation(call, "served_on", "must not be after the tenancy ended, %s",
                               tenancy.ended_on);
    char mentor_id[24], tenancy_id[24];
    snprintf(mentor_id, sizeof mentor_id, "%" PRId64, request->mentor_id);
    snprintf(tenancy_id, sizeof tenancy_id, "%" PRId64, request->tenancy_id);
    const char *keys[2] = {mentor_id, tenancy_id};
    Chuang__Status failure;
    PGresult *res = service_call_query(call, "read assignment",
                                       "SELECT 1 FROM mentor_assignments"
                                       " WHERE mentor = $1::bigint AND tenancy = $2::bigint",
                                       2, keys, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    bool assigned = PQntuples(res) == 1;
    PQclear(res);
    if (!assigned)
        service_call_violation(call, "mentor_id", "is not assigned to this tenancy");
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    char minutes[24], person_times[24];
    snprintf(minutes, sizeof minutes, "%" PRId64, request->minutes);
    snprintf(person_times, sizeof person_times, "%" PRId64, request->person_times);
    const char *values[6] = {mentor_id, tenancy_id, day, minutes, person_times, request->topic};
    const char *v[7] = {values[0],
                        values[1],
                        values[2],
                        values[3],
                        values[4],
                        values[5],
                        service_call_recorded_by(call)};
    res = service_call_query(call, "record mentor service",
                             "INSERT INTO mentor_services (mentor, tenancy, served_on, minutes,"
                             "   person_times, topic, recorded_by)"
                             " VALUES ($1::bigint, $2::bigint, $3::date, $4::bigint, $5::bigint,"
                             "   $6, $7) RETURNING id",
                             7, v, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    Chuang__Incubator__ServiceRecord record = CHUANG__INCUBATOR__SERVICE_RECORD__INIT;
    record.id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    record.mentor_id = request->mentor_id;
    record.tenancy_id = request->tenancy_id;
    record.carrier_code = tenancy.carrier_code;
    record.operator_credit_code = tenancy.operator_credit_code;
    record.served_on = (char *)day;
    record.minutes = request->minutes;
    record.person_times = request->person_times;
    record.topic = request->topic;
    status = handlers_emit_id(call, "incubator.MentorServiceRecorded", "mentor", request->mentor_id,
                              &record.base);
    if (status != CHUANG__STATUS__OK)
        return status;
    return s_mentor(call, "mentor_id", request->mentor_id, (Chuang__Incubator__Mentor *)output);
}

Chuang__Status handle_get_mentor(service_call_t *call, const ProtobufCMessage *input,
                                 ProtobufCMessage *output)
{
    const Chuang__Incubator__GetMentorRequest *request =
        (const Chuang__Incubator__GetMentorRequest *)input;
    return s_mentor(call, "id", request->id, (Chuang__Incubator__Mentor *)output);
}
