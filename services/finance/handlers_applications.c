/*
 * handlers_applications.c - applications to programmes: drafted, submitted
 * (the version in force that day pinned to it, the applicant's eligibility
 * decided and kept with it), withdrawn, read with every step it took
 * (applications.h holds the SQL).
 *
 * A submission is refused when the programme has no version in force
 * today, when the entity is on the serious-violation list (naming the
 * listing), when a condition or an award rule does not hold (each named,
 * with the entity's fact or the award the register holds) and when the
 * amount passes the version's award_cap_fen. A top-up programme's
 * application is decided on at most its share of the highest award found. An entity on the
 * abnormal-operations list is submitted flagged, for the reviewer. Every step is a
 * finance.Application* event of the application, for notify to tell the applicant
 * (a payment's finance.ApplicationPaid too).
 */
#include "applications.h"
#include "handlers.h"
#include "handlers_private.h"
#include "incubations.h"
#include "ledger.h"
#include "loans.h"
#include "pool.h"
#include "programmes.h"

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
    return service_call_found(call, found, "read application", "no such application");
}

Chuang__Status handle_create_application(service_call_t *call, const ProtobufCMessage *input,
                                         ProtobufCMessage *output)
{
    const Chuang__Finance__CreateApplicationRequest *request =
        (const Chuang__Finance__CreateApplicationRequest *)input;
    if (!checks_code_valid(request->programme))
        service_call_violation(call, "programme", "is not a programme code");
    handlers_applicant_check(call, request->credit_code, request->id_number);
    if (!checks_text_valid(request->subject, false))
        service_call_violation(call, "subject", "must be at most %d characters", CHECKS_TEXT_MAX);
    if (request->amount_fen < 1 || request->amount_fen > AMOUNT_MAX)
        service_call_violation(call, "amount_fen",
                               "must be a whole number of fen from 1 to %" PRId64, AMOUNT_MAX);
    checks_period(call, request->period_from, request->period_to);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    int64_t id = 0;
    int rc = application_create(service_call_db(call), service_call_header(call)->agency, request,
                                service_call_recorded_by(call), &id);
    if (rc == APPLICATION_DUPLICATE)
        return service_call_fail(call, CHUANG__STATUS__ALREADY_EXISTS, "application exists",
                                 "The entity has an open application to this programme for the "
                                 "same subject (claimed by periods: for an overlapping period).",
                                 "Go on with that one, or withdraw it first.");
    if (rc == APPLICATION_NO_PROGRAMME) {
        service_call_violation(call, "programme", "is not a programme of this agency");
        return service_call_fail(call, CHUANG__STATUS__NOT_FOUND, "no such programme", NULL, NULL);
    }
    if (rc != 1)
        return service_call_sql_fail(call, NULL, "create application");
    return s_reply(call, id, "finance.ApplicationDrafted", output);
}

/* Checks an application to an incubation_subsidy programme: its subject
 * is a successful graduation from a carrier the applicant operates, and
 * amount at most the version's per_graduate_fen. */
static Chuang__Status s_incubation(service_call_t *call,
                                   const Chuang__Finance__Application *application,
                                   const Chuang__Finance__ProgrammeVersion *version, int64_t amount)
{
    int found = incubation_graduation_of(service_call_db(call), service_call_header(call)->agency,
                                         application->subject, application->credit_code);
    if (found < 0)
        return service_call_sql_fail(call, NULL, "read graduations");
    if (found == 0) {
        service_call_violation(call, "subject",
                               "must be graduation:<tenancy>, a successful graduation from a "
                               "carrier the applicant operates");
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION, "no such graduation",
                                 "An incubation subsidy follows a graduation the incubator "
                                 "certified a successful incubation.",
                                 NULL);
    }
    int64_t cap = programme_parameter(version, "per_graduate_fen", 0);
    if (amount > cap)
        return service_call_violation(call, "amount_fen",
                                      "passes the programme's %" PRId64 " fen per graduate", cap);
    return CHUANG__STATUS__OK;
}

/* Checks an application to a mentor_service_subsidy programme: its
 * subject names a carrier the applicant operates and a year with mentors'
 * service recorded there; what the hours earn at the version's
 * per_hour_fen into *earned. */
static Chuang__Status s_mentor_hours(service_call_t *call,
                                     const Chuang__Finance__Application *application,
                                     const Chuang__Finance__ProgrammeVersion *version,
                                     int64_t *earned)
{
    int64_t minutes = 0;
    int found = incubation_mentor_minutes(service_call_db(call), service_call_header(call)->agency,
                                          application->subject, application->credit_code, &minutes);
    if (found < 0)
        return service_call_sql_fail(call, NULL, "read mentor services");
    if (found == 0) {
        service_call_violation(call, "subject",
                               "must be mentor-services:<carrier>:<year>, a carrier the "
                               "applicant operates and a year with mentors' service recorded");
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "no mentor service recorded",
                                 "A mentor-service subsidy pays for the hours of service the "
                                 "incubator recorded at the applicant's carrier.",
                                 NULL);
    }
    int64_t rate = programme_parameter(version, "per_hour_fen", 0);
    *earned = minutes > 0 && rate > INT64_MAX / minutes ? INT64_MAX : rate * minutes / 60;
    return CHUANG__STATUS__OK;
}

/* Checks an application to a listing_reward programme: its subject is a
 * stage the applicant has reached in this agency's pre-listing pool, and
 * amount at most the version's <stage>_fen. */
static Chuang__Status s_listing_stage(service_call_t *call,
                                      const Chuang__Finance__Application *application,
                                      const Chuang__Finance__ProgrammeVersion *version,
                                      int64_t amount)
{
    size_t s = 0;
    while (pool_stages[s] && !streq(pool_stages[s], application->subject))
        s++;
    if (!pool_stages[s])
        return service_call_violation(call, "subject",
                                      "must be the listing stage rewarded: shareholding_reform, "
                                      "counselling_filing, application_accepted or listed");
    int reached = pool_stage_reached(service_call_db(call), service_call_header(call)->agency,
                                     application->credit_code, application->subject);
    if (reached < 0)
        return service_call_sql_fail(call, NULL, "read listing stages");
    if (reached == 0) {
        service_call_violation(call, "subject",
                               "is a stage the entity has not reached in the pool");
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION, "stage not reached",
                                 "A stage's reward follows the stage, recorded for an entity of "
                                 "this agency's pre-listing pool.",
                                 NULL);
    }
    char name[48];
    snprintf(name, sizeof name, "%s_fen", application->subject);
    int64_t cap = programme_parameter(version, name, 0);
    if (amount > cap)
        return service_call_violation(call, "amount_fen",
                                      "passes the stage's reward of %" PRId64 " fen", cap);
    return CHUANG__STATUS__OK;
}

static Chuang__Status s_not_eligible(service_call_t *call, const Chuang__Finance__Eligibility *e)
{
    for (size_t i = 0; i < e->n_results; i++) {
        const Chuang__Finance__ConditionResult *r = e->results[i];
        if (r->holds)
            continue;
        char field[64];
        snprintf(field, sizeof field, "conditions.%zu", i);
        service_call_violation(call, field, "%s %s does not hold: the applicant's is %s",
                               r->condition->fact, r->condition->test, r->actual);
    }
    for (size_t i = 0; i < e->n_award_rules; i++) {
        const Chuang__Finance__AwardRuleResult *r = e->award_rules[i];
        if (r->holds)
            continue;
        char field[64];
        snprintf(field, sizeof field, "award_rules.%zu", i);
        service_call_violation(call, field, "%s does not hold: the award register holds %s",
                               r->rule->rule, r->actual);
    }
    return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                             "entity does not meet the programme's conditions",
                             "Every condition and award rule of the version in force today "
                             "must hold.",
                             NULL);
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
    Chuang__Finance__EligibilityRequest ask = CHUANG__FINANCE__ELIGIBILITY_REQUEST__INIT;
    ask.programme = application->programme;
    ask.credit_code = application->credit_code;
    ask.id_number = application->id_number;
    ask.subject = application->subject;
    ask.amount_fen = application->amount_fen;
    ask.period_from = application->period_from;
    ask.period_to = application->period_to;
    status = handlers_eligibility(call, &ask, eligibility, &programme);
    if (status != CHUANG__STATUS__OK)
        return status;
    if (!eligibility->eligible)
        return s_not_eligible(call, eligibility);
    /* A top-up is at most its share of the highest award found. */
    int64_t amount = application->amount_fen;
    const char *reason = "";
    if (eligibility->top_up_fen > 0 && eligibility->top_up_fen < amount) {
        amount = eligibility->top_up_fen;
        reason = "amount lowered to the programme's top-up of the highest award registered";
    }
    if (eligibility->computed && eligibility->subsidy_fen == 0)
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "nothing to subsidise in that period",
                                 "No instalment of the loan whose contract is the subject, within "
                                 "the period claimed, has been repaid in full.",
                                 "Claim once the instalments are repaid.");
    if (eligibility->computed && eligibility->subsidy_fen < amount) {
        amount = eligibility->subsidy_fen;
        reason = "amount lowered to the interest subsidy computed for the repaid periods";
    }
    if (streq(programme->kind, "mentor_service_subsidy")) {
        int64_t earned = 0;
        status = s_mentor_hours(call, application, programme->version, &earned);
        if (status != CHUANG__STATUS__OK)
            return status;
        if (earned < amount) {
            amount = earned;
            reason = "amount lowered to what the mentor hours recorded earn at the programme's "
                     "rate";
        }
    }
    if (streq(programme->kind, "listing_reward")) {
        status = s_listing_stage(call, application, programme->version, amount);
        if (status != CHUANG__STATUS__OK)
            return status;
    }
    if (streq(programme->kind, "incubation_subsidy")) {
        status = s_incubation(call, application, programme->version, amount);
        if (status != CHUANG__STATUS__OK)
            return status;
    }
    int64_t face = programme_parameter(programme->version, "face_value_fen", 0);
    if (streq(programme->kind, "voucher") && amount != face)
        return service_call_violation(call, "amount_fen",
                                      "must be the voucher's face value, %" PRId64 " fen", face);
    int64_t cap = programme_parameter(programme->version, "award_cap_fen", AMOUNT_MAX);
    if (amount > cap)
        return service_call_violation(call, "amount_fen",
                                      "passes the programme's cap of %" PRId64 " fen", cap);
    if (streq(programme->kind, "guarantee_loan")) {
        int64_t limit = programme_parameter(programme->version, "entity_limit_fen", AMOUNT_MAX);
        int64_t guaranteed = 0;
        if (loan_guaranteed_to(db, agency,
                               *application->id_number ? application->id_number
                                                       : application->credit_code,
                               &guaranteed) != 0)
            return service_call_sql_fail(call, NULL, "read guaranteed loans");
        if (guaranteed + amount > limit)
            return service_call_violation(call, "amount_fen",
                                          "with the %" PRId64 " fen guaranteed to the entity "
                                          "already, passes the programme's limit of %" PRId64
                                          " fen",
                                          guaranteed, limit);
    }
    int moved = application_submit(db, agency, request->id, service_call_recorded_by(call), reason,
                                   programme->version->version, eligibility->flagged, amount);
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
    if (!checks_text_valid(request->reason, true))
        service_call_violation(call, "reason", "must say why (1 to %d characters)",
                               CHECKS_TEXT_MAX);
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
    if (application_move(db, agency, request->id, from, "withdrawn", service_call_recorded_by(call),
                         request->reason) != 1)
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
    return service_call_found(call, found, "read application", "no such application");
}

/* The departments that must approve application (its pinned version's, or
 * the programme's own when the version names none), into *departments
 * (call memory) and *count. */
static Chuang__Status s_reviewers(service_call_t *call,
                                  const Chuang__Finance__Application *application,
                                  char ***departments, size_t *count, int64_t *notice_days)
{
    PGconn *db = service_call_db(call);
    const char *agency = service_call_header(call)->agency;
    Chuang__Finance__Programme *programme = service_call_alloc(call, sizeof *programme);
    chuang__finance__programme__init(programme);
    int rc =
        programme_get(db, call, agency, application->programme, application->applied_on, programme);
    if (rc != 1 && rc != PROGRAMME_NOT_IN_FORCE)
        return service_call_sql_fail(call, NULL, "read programme");
    Chuang__Finance__ProgrammeVersion *version = service_call_alloc(call, sizeof *version);
    chuang__finance__programme_version__init(version);
    if (programme_version(db, call, agency, application->programme, application->version,
                          version) != 1)
        return service_call_sql_fail(call, NULL, "read pinned version");
    if (version->n_approvals > 0) {
        *departments = version->approvals;
        *count = version->n_approvals;
    } else {
        *departments = service_call_alloc(call, sizeof **departments);
        (*departments)[0] = programme->department;
        *count = 1;
    }
    *notice_days = programme_parameter(version, "notice_days", -1);
    if (*notice_days < 0)
        return service_call_rule(call, "award_notice_days", NULL, notice_days);
    return CHUANG__STATUS__OK;
}

/* true when the caller made or submitted application. */
static bool s_own(service_call_t *call, const Chuang__Finance__Application *application)
{
    const char *me = service_call_recorded_by(call);
    if (streq(application->created_by, me))
        return true;
    for (size_t i = 0; i < application->n_steps; i++)
        if (streq(application->steps[i]->to_status, "under_review") &&
            streq(application->steps[i]->from_status, "draft") &&
            streq(application->steps[i]->by, me))
            return true;
    return false;
}

Chuang__Status handle_review_application(service_call_t *call, const ProtobufCMessage *input,
                                         ProtobufCMessage *output)
{
    const Chuang__Finance__ReviewRequest *request = (const Chuang__Finance__ReviewRequest *)input;
    if (request->id < 1)
        service_call_violation(call, "id", "must be the id of an application");
    if (!checks_name_valid(request->department))
        service_call_violation(call, "department", "must name the reviewing department");
    if (!checks_text_valid(request->reason, !request->approve))
        service_call_violation(call, "reason",
                               request->approve ? "must be at most %d characters"
                                                : "must say why it is rejected (1 to %d "
                                                  "characters)",
                               CHECKS_TEXT_MAX);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    char role[64];
    snprintf(role, sizeof role, "reviewer-%s", request->department);
    if (!service_call_has_role(call, role))
        return service_call_fail(
            call, CHUANG__STATUS__PERMISSION_DENIED, "not a reviewer of that department",
            "A department's review needs its reviewer-<department> role.", NULL);
    PGconn *db = service_call_db(call);
    const char *agency = service_call_header(call)->agency;
    Chuang__Finance__Application *application;
    Chuang__Status status = s_locked(call, request->id, &application);
    if (status != CHUANG__STATUS__OK)
        return status;
    if (!streq(application->status, "under_review"))
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "application not under review", NULL, NULL);
    if (s_own(call, application))
        return service_call_fail(call, CHUANG__STATUS__PERMISSION_DENIED,
                                 "reviewer made or submitted this application",
                                 "Nobody reviews an application they made or submitted.",
                                 "Another reviewer of the department must review it.");
    char **departments = NULL;
    size_t count = 0;
    int64_t notice_days = 0;
    status = s_reviewers(call, application, &departments, &count, &notice_days);
    if (status != CHUANG__STATUS__OK)
        return status;
    bool required = false;
    for (size_t i = 0; i < count; i++)
        required = required || streq(departments[i], request->department);
    if (!required)
        return service_call_violation(call, "department",
                                      "does not review this programme's applications");
    const char *by = service_call_recorded_by(call);
    int added = application_review_add(db, request->id, application->round, request->department,
                                       request->approve, request->reason, by);
    if (added < 0)
        return service_call_sql_fail(call, NULL, "record review");
    if (added == 0)
        return service_call_fail(call, CHUANG__STATUS__ALREADY_EXISTS, "department has reviewed it",
                                 "Each department reviews an application once a round.", NULL);
    if (!request->approve) {
        if (application_move(db, agency, request->id, "under_review", "rejected", by,
                             request->reason) != 1)
            return service_call_sql_fail(call, NULL, "reject application");
        return s_reply(call, request->id, "finance.ApplicationRejected", output);
    }
    /* Approved by every department the version names: on to public notice. */
    size_t approved = 0;
    for (size_t i = 0; i < count; i++) {
        bool yes = streq(departments[i], request->department);
        for (size_t r = 0; r < application->n_reviews && !yes; r++)
            yes = streq(application->reviews[r]->department, departments[i]) &&
                  streq(application->reviews[r]->decision, "approved");
        approved += yes;
    }
    if (approved < count)
        return s_reply(call, request->id, "finance.ApplicationReviewed", output);
    if (application_notice(db, agency, request->id, (int)notice_days, by) != 1)
        return service_call_sql_fail(call, NULL, "start notice");
    /* The award falls due at the notice's end, even when an earlier
     * notice of it (before an objection) is still queued for another day. */
    char id_text[24], job[40];
    snprintf(id_text, sizeof id_text, "%" PRId64, request->id);
    snprintf(job, sizeof job, "notice:%s", id_text);
    const char *values[1] = {id_text};
    Chuang__Status failure;
    PGresult *due = service_call_query(
        call, "notice end",
        "SELECT (extract(epoch FROM chuang_day_start(agency, notice_ends_on + 1)) * 1000)::bigint"
        " FROM applications WHERE id = $1::bigint",
        1, values, PGRES_TUPLES_OK, &failure);
    if (!due)
        return failure;
    service_call_schedule(call, job, strtoll(PQgetvalue(due, 0, 0), NULL, 10));
    PQclear(due);
    return s_reply(call, request->id, "finance.ApplicationNoticed", output);
}

Chuang__Status handle_object_to_application(service_call_t *call, const ProtobufCMessage *input,
                                            ProtobufCMessage *output)
{
    const Chuang__Finance__ApplicationRequest *request =
        (const Chuang__Finance__ApplicationRequest *)input;
    if (request->id < 1)
        service_call_violation(call, "id", "must be the id of an application");
    if (!checks_text_valid(request->reason, true))
        service_call_violation(call, "reason", "must say what is objected to (1 to %d characters)",
                               CHECKS_TEXT_MAX);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    Chuang__Finance__Application *application;
    Chuang__Status status = s_locked(call, request->id, &application);
    if (status != CHUANG__STATUS__OK)
        return status;
    int rc = application_object(service_call_db(call), service_call_header(call)->agency,
                                request->id, request->reason, service_call_recorded_by(call));
    if (rc < 0)
        return service_call_sql_fail(call, NULL, "object");
    if (rc == 0)
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "application not on public notice",
                                 "Objections are taken while the notice runs.", NULL);
    return s_reply(call, request->id, "finance.ApplicationObjected", output);
}

Chuang__Status handle_pay_award(service_call_t *call, const ProtobufCMessage *input,
                                ProtobufCMessage *output)
{
    const Chuang__Finance__PaymentRequest *request = (const Chuang__Finance__PaymentRequest *)input;
    if (request->id < 1)
        service_call_violation(call, "id", "must be the id of an application");
    if (request->amount_fen < 1 || request->amount_fen > AMOUNT_MAX)
        service_call_violation(call, "amount_fen",
                               "must be a whole number of fen from 1 to %" PRId64, AMOUNT_MAX);
    if (!checks_text_valid(request->memo, false))
        service_call_violation(call, "memo", "must be at most %d characters", CHECKS_TEXT_MAX);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    PGconn *db = service_call_db(call);
    const char *agency = service_call_header(call)->agency;
    application_payable_t payable;
    int rc = application_payable(db, agency, request->id, &payable);
    Chuang__Status status = service_call_found(call, rc, "read application", "no such application");
    if (status != CHUANG__STATUS__OK)
        return status;
    if (streq(payable.kind, "guarantee_loan"))
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "a guarantee is not paid out",
                                 "The award of a guarantee loan programme is the guarantee of a "
                                 "loan the bank disburses.",
                                 "Record the bank's approval and disbursement of its loan.");
    if (streq(payable.kind, "voucher"))
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "a voucher is not paid out",
                                 "The award of a voucher programme is the voucher; the providers "
                                 "that redeem it are paid.",
                                 "Record the providers' redemptions (RedeemVoucher) and settle "
                                 "them (SettleProvider).");
    if (!streq(payable.status, "awarded"))
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "application not awarded",
                                 "Only an awarded application is paid, up to its award.", NULL);
    if (request->amount_fen > payable.left)
        return service_call_violation(call, "amount_fen",
                                      "passes what is left to pay of the award: %" PRId64 " fen",
                                      payable.left);
    const char *by = service_call_recorded_by(call);
    rc = application_pay(db, agency, request->id, request->amount_fen, by);
    if (rc != 1)
        return service_call_sql_fail(call, NULL, "pay award");
    char committed[96], cash[96], cause[48];
    snprintf(committed, sizeof committed, "%s:committed", payable.fund);
    snprintf(cash, sizeof cash, "%s:cash", payable.fund);
    snprintf(cause, sizeof cause, "application:%" PRId64, request->id);
    const ledger_posting_t postings[2] = {{committed, request->amount_fen},
                                          {cash, -request->amount_fen}};
    const ledger_entry_t entry = {
        .kind = "payment", .cause = cause, .memo = request->memo, .recorded_by = by};
    int64_t id = ledger_post(db, agency, &entry, postings, 2);
    if (id <= 0)
        return id == 0 ? service_call_sql_fail(call, NULL, "pay award")
                       : handlers_ledger_refused(call, id, "pay award");
    /* The applicant (and the incubator, for a subsidy of its graduate)
     * hears of each instalment. */
    Chuang__Finance__Application *paid = service_call_alloc(call, sizeof *paid);
    chuang__finance__application__init(paid);
    status = s_reply(call, request->id, "finance.ApplicationPaid", &paid->base);
    if (status != CHUANG__STATUS__OK)
        return status;
    return handlers_posted(call, id, output);
}

Chuang__Status handle_list_overdue_applications(service_call_t *call, const ProtobufCMessage *input,
                                                ProtobufCMessage *output)
{
    const Chuang__Finance__OverdueRequest *request = (const Chuang__Finance__OverdueRequest *)input;
    service_page_t page;
    if (service_call_page(call, "overdue", "i", request->limit, request->page_token, 50, 100,
                          &page) != 0)
        return CHUANG__STATUS__INVALID_ARGUMENT;
    int rc = application_overdue(service_call_db(call), call, service_call_header(call)->agency,
                                 &page, (Chuang__Finance__OverdueList *)output);
    return rc < 0 ? service_call_sql_fail(call, NULL, "overdue applications") : CHUANG__STATUS__OK;
}
