/*
 * handlers_applications.c - applications to programmes: drafted, submitted
 * (the version in force that day pinned to it, the applicant's eligibility
 * decided and kept with it), withdrawn, read with every step it took
 * (applications.h holds the SQL).
 *
 * A submission is refused when the programme has no version in force
 * today, when the entity is on the serious-violation list (naming the
 * listing), when a condition does not hold (each failing condition named,
 * with the entity's fact) and when the amount passes the version's
 * award_cap_fen. An entity on the abnormal-operations list is submitted
 * flagged, for the reviewer. Every step is a finance.Application* event
 * of the application, for notify to tell the applicant.
 */
#include "applications.h"
#include "handlers.h"
#include "handlers_private.h"

#include <czmq.h>
#include <inttypes.h>

/* Reads application id back into output and reports the step as event
 * type on the application's aggregate. */
static Chuang__Status s_reply(service_call_t *call, int64_t id, const char *type,
                              ProtobufCMessage *output)
{
    Chuang__Finance__Application *application = (Chuang__Finance__Application *)output;
    if (application_get(service_call_db(call), call, service_call_header(call)->agency, id, false,
                        application) != 1)
        return service_call_sql_fail(call, NULL, "read application");
    char aggregate[32];
    snprintf(aggregate, sizeof aggregate, "application:%" PRId64, id);
    return service_call_emit(call, type, aggregate, CHUANG__VISIBILITY__VISIBILITY_INTERNAL,
                             &application->base);
}

/* Reads application id, locked for this request, into *application (call
 * memory); NOT_FOUND when the agency has no such application. */
static Chuang__Status s_locked(service_call_t *call, int64_t id,
                               Chuang__Finance__Application **application)
{
    *application = service_call_alloc(call, sizeof **application);
    chuang__finance__application__init(*application);
    int found = application_get(service_call_db(call), call, service_call_header(call)->agency, id,
                                true, *application);
    return handlers_found(call, found, "read application", "no such application");
}

Chuang__Status handle_create_application(service_call_t *call, const ProtobufCMessage *input,
                                         ProtobufCMessage *output)
{
    const Chuang__Finance__CreateApplicationRequest *request =
        (const Chuang__Finance__CreateApplicationRequest *)input;
    if (!handlers_code_valid(request->programme))
        service_call_violation(call, "programme", "is not a programme code");
    if (!handlers_credit_code_shaped(request->credit_code))
        service_call_violation(call, "credit_code",
                               "must be a unified social credit code of 18 characters");
    if (!handlers_text_valid(request->subject, false))
        service_call_violation(call, "subject", "must be at most %d characters", TEXT_MAX);
    if (request->amount_fen < 1 || request->amount_fen > AMOUNT_MAX)
        service_call_violation(call, "amount_fen",
                               "must be a whole number of fen from 1 to %" PRId64, AMOUNT_MAX);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    int64_t id = 0;
    int rc = application_create(service_call_db(call), service_call_header(call)->agency, request,
                                handlers_recorded_by(call), &id);
    if (rc == APPLICATION_DUPLICATE)
        return service_call_fail(call, CHUANG__STATUS__ALREADY_EXISTS, "application exists",
                                 "The entity has an open application to this programme for the "
                                 "same subject.",
                                 "Go on with that one, or withdraw it first.");
    if (rc == APPLICATION_NO_PROGRAMME) {
        service_call_violation(call, "programme", "is not a programme of this agency");
        return service_call_fail(call, CHUANG__STATUS__NOT_FOUND, "no such programme", NULL, NULL);
    }
    if (rc != 1)
        return service_call_sql_fail(call, NULL, "create application");
    return s_reply(call, id, "finance.ApplicationDrafted", output);
}

/* Records in call why eligibility failed: a violation per condition that
 * does not hold, naming the fact as it stands. */
static Chuang__Status s_not_eligible(service_call_t *call, const Chuang__Finance__Eligibility *e)
{
    for (size_t i = 0; i < e->n_results; i++) {
        const Chuang__Finance__ConditionResult *r = e->results[i];
        if (r->holds)
            continue;
        char field[64];
        snprintf(field, sizeof field, "conditions.%zu", i);
        service_call_violation(call, field, "%s %s does not hold: the entity's is %s",
                               r->condition->fact, r->condition->test, r->actual);
    }
    return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                             "entity does not meet the programme's conditions",
                             "Every condition of the version in force today must hold.", NULL);
}

Chuang__Status handle_submit_application(service_call_t *call, const ProtobufCMessage *input,
                                         ProtobufCMessage *output)
{
    const Chuang__Finance__ApplicationRequest *request =
        (const Chuang__Finance__ApplicationRequest *)input;
    if (request->id < 1)
        return service_call_violation(call, "id", "must be the id of an application");
    PGconn *db = service_call_db(call);
    const char *agency = service_call_header(call)->agency;
    Chuang__Finance__Application *application;
    Chuang__Status status = s_locked(call, request->id, &application);
    if (status != CHUANG__STATUS__OK)
        return status;
    if (!streq(application->status, "draft"))
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "application already submitted",
                                 "Only a draft application is submitted.", NULL);
    Chuang__Finance__Eligibility *eligibility = service_call_alloc(call, sizeof *eligibility);
    chuang__finance__eligibility__init(eligibility);
    Chuang__Finance__Programme *programme = NULL;
    status = handlers_eligibility(call, application->programme, application->applicant, "",
                                  eligibility, &programme);
    if (status != CHUANG__STATUS__OK)
        return status;
    if (!eligibility->eligible)
        return s_not_eligible(call, eligibility);
    for (size_t i = 0; i < programme->version->n_parameters; i++) {
        const Chuang__Finance__Parameter *p = programme->version->parameters[i];
        if (streq(p->name, "award_cap_fen") && application->amount_fen > p->value)
            return service_call_violation(
                call, "amount_fen", "passes the programme's cap of %" PRId64 " fen", p->value);
    }
    int moved = application_move(db, agency, request->id, "draft", "under_review",
                                 handlers_recorded_by(call), "", programme->version->version,
                                 eligibility->flagged);
    if (moved != 1)
        return service_call_sql_fail(call, NULL, "submit application");
    status = s_reply(call, request->id, "finance.ApplicationSubmitted", output);
    ((Chuang__Finance__Application *)output)->eligibility = eligibility;
    return status;
}

Chuang__Status handle_withdraw_application(service_call_t *call, const ProtobufCMessage *input,
                                           ProtobufCMessage *output)
{
    const Chuang__Finance__ApplicationRequest *request =
        (const Chuang__Finance__ApplicationRequest *)input;
    if (request->id < 1)
        service_call_violation(call, "id", "must be the id of an application");
    if (!handlers_text_valid(request->reason, true))
        service_call_violation(call, "reason", "must say why (1 to %d characters)", TEXT_MAX);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    PGconn *db = service_call_db(call);
    const char *agency = service_call_header(call)->agency;
    Chuang__Finance__Application *application;
    Chuang__Status status = s_locked(call, request->id, &application);
    if (status != CHUANG__STATUS__OK)
        return status;
    const char *from = application->status;
    if (!streq(from, "draft") && !streq(from, "under_review") && !streq(from, "notice"))
        return service_call_fail(
            call, CHUANG__STATUS__FAILED_PRECONDITION, "application can no longer be withdrawn",
            "An application is withdrawn before it is awarded or decided.", NULL);
    if (application_move(db, agency, request->id, from, "withdrawn", handlers_recorded_by(call),
                         request->reason, 0, false) != 1)
        return service_call_sql_fail(call, NULL, "withdraw application");
    return s_reply(call, request->id, "finance.ApplicationWithdrawn", output);
}

Chuang__Status handle_get_application(service_call_t *call, const ProtobufCMessage *input,
                                      ProtobufCMessage *output)
{
    const Chuang__Finance__ApplicationRequest *request =
        (const Chuang__Finance__ApplicationRequest *)input;
    if (request->id < 1)
        return service_call_violation(call, "id", "must be the id of an application");
    int found = application_get(service_call_db(call), call, service_call_header(call)->agency,
                                request->id, false, (Chuang__Finance__Application *)output);
    return handlers_found(call, found, "read application", "no such application");
}
