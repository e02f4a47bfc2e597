/*
 * handlers_programmes.c - programmes and their dated versions: defining a
 * programme with its first version, revising it by a new version, reading
 * the version in force on a day, listing the programmes about to lapse,
 * and a programme's statistics for a year (programmes.h holds the SQL).
 *
 * A version is checked field by field before anything is written: its
 * period, its document, each parameter (name by its unit, value in range),
 * each condition (a known fact with the test it takes and values of the
 * right kind) and the approving departments. Asking for a programme on a
 * day no version covers is FAILED_PRECONDITION naming the day and the
 * period that lapsed: nothing may be decided by a lapsed version.
 */
#include "handlers.h"
#include "awards.h"
#include "handlers_private.h"
#include "programmes.h"

#include <czmq.h>
#include <inttypes.h>

#define LAPSING_MAX 3660

static const char *const s_kinds[] = {"special_fund",
                                      "interest_subsidy",
                                      "guarantee_loan",
                                      "rent_subsidy",
                                      "reward",
                                      "voucher",
                                      "matching",
                                      "listing_reward",
                                      "incubation_subsidy",
                                      "mentor_service_subsidy",
                                      NULL};

/* The facts a condition may test, the test each takes, and whether its
 * values are numbers (one of them) or names. */
static const struct {
    const char *fact;
    const char *test;
    bool number;
} s_facts[] = {
    {"founder_category", "in", false},    {"entity_type", "in", false},
    {"entity_age_days", "at_most", true}, {"division", "prefix", false},
    {"credit_standing", "in", false},     {"headcount", "at_least", true},
    {"lending_fen", "at_least", true},    {"recognition_kind", "in", false},
    {"recognition_level", "in", false},   {"competition_place", "at_most", true},
    {"investment_round", "in", false},    {"investee_age_days", "at_most", true},
};

/* The largest value a parameter of this name may have, by its unit; 0 when
 * the name has no unit this service knows. */
static int64_t s_parameter_max(const char *name)
{
    size_t length = strlen(name);
    if (length < 5 || length > 40 || name[0] < 'a' || name[0] > 'z' ||
        strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != length)
        return 0;
    const char *unit = strrchr(name, '_');
    if (!unit || unit == name)
        return 0;
    if (streq(unit, "_fen"))
        return AMOUNT_MAX;
    if (streq(unit, "_bp"))
        return 1000000; /* 10,000 % */
    if (streq(unit, "_days"))
        return 36600;
    if (streq(unit, "_count"))
        return 1000000000;
    return 0;
}

/* "version.<list>.<i>[.<name>]", the path of a field, into path. */
static const char *s_path(char *path, const char *list, size_t i, const char *name)
{
    snprintf(path, 64, "version.%s.%zu%s%s", list, i, name ? "." : "", name ? name : "");
    return path;
}

static bool s_number(const char *text)
{
    size_t digits = strspn(text, "0123456789");
    return digits > 0 && digits <= 12 && text[digits] == '\0';
}

/* Records a violation for each field of award rule i that is wrong. */
static void s_award_rule_check(service_call_t *call, const Chuang__Finance__AwardRule *r, size_t i)
{
    char path[64];
    bool top_up = streq(r->rule, "top_up"), cap = streq(r->rule, "cap");
    if (!top_up && !cap && !streq(r->rule, "exclude"))
        service_call_violation(call, s_path(path, "award_rules", i, "rule"),
                               "must be exclude, top_up or cap");
    if (*r->kind && !checks_listed(s_kinds, r->kind))
        service_call_violation(call, s_path(path, "award_rules", i, "kind"),
                               "must be a programme kind, or empty");
    for (size_t v = 0; v < r->n_levels; v++)
        if (!checks_listed(awards_levels, r->levels[v]))
            service_call_violation(call, s_path(path, "award_rules", i, "levels"),
                                   "must be town, district, city, province or national");
    if (top_up ? r->ratio_bp < 1 || r->ratio_bp > 100000 : r->ratio_bp != 0)
        service_call_violation(call, s_path(path, "award_rules", i, "ratio_bp"),
                               top_up ? "must be from 1 to 100000 basis points of the highest "
                                        "award"
                                      : "is for a top_up rule only");
    if (cap ? r->cap_fen < 1 || r->cap_fen > AMOUNT_MAX : r->cap_fen != 0)
        service_call_violation(call, s_path(path, "award_rules", i, "cap_fen"),
                               cap ? "must be a whole number of fen from 1 to 10^15"
                                   : "is for a cap rule only");
    if (r->window_days < (cap ? 1 : 0) || r->window_days > 36600)
        service_call_violation(call, s_path(path, "award_rules", i, "window_days"),
                               cap ? "must be from 1 to 36600 days"
                                   : "must be from 0 to 36600 days");
    if (cap && r->any_subject)
        service_call_violation(call, s_path(path, "award_rules", i, "any_subject"),
                               "is for exclude and top_up rules: a cap counts every subject");
}

/* Records a violation for each part of a voucher programme's scope that
 * is wrong, and for a voucher programme without its face value and
 * validity, or another programme with a scope. */
static void s_scope_check(service_call_t *call, const char *kind,
                          const Chuang__Finance__ProgrammeVersion *version)
{
    char path[64];
    bool voucher = streq(kind, "voucher");
    if (!voucher && (version->n_service_categories > 0 || version->n_providers > 0))
        service_call_violation(call, "version.service_categories",
                               "must be empty: only a voucher programme has a scope");
    for (size_t i = 0; i < version->n_service_categories; i++)
        if (!checks_name_valid(version->service_categories[i]))
            service_call_violation(call, s_path(path, "service_categories", i, NULL),
                                   "must be a category name: 2 to 40 of a-z, 0-9, '_' and '-'");
    for (size_t i = 0; i < version->n_providers; i++)
        if (!checks_credit_code_shaped(version->providers[i]))
            service_call_violation(call, s_path(path, "providers", i, NULL),
                                   "must be a provider's unified social credit code");
    if (voucher && programme_parameter(version, "face_value_fen", 0) < 1)
        service_call_violation(call, "version.parameters",
                               "must give a voucher's face value: face_value_fen, 1 or more");
    if (voucher && programme_parameter(version, "validity_days", 0) < 1)
        service_call_violation(call, "version.parameters",
                               "must give how long a voucher is valid: validity_days, 1 or more");
}

/* Records a violation for each field of version (path prefix "version")
 * of a programme of kind that is wrong. Whether a revision starts today or
 * later is checked with the database. */
static void s_version_check(service_call_t *call, const char *kind,
                            const Chuang__Finance__ProgrammeVersion *version)
{
    char path[64];
    if (!version) {
        service_call_violation(call, "version", "is required: the parameters in force");
        return;
    }
    if (!*version->effective_from || !checks_day_valid(version->effective_from))
        service_call_violation(call, "version.effective_from", "must be a date YYYY-MM-DD");
    if (!checks_day_valid(version->effective_to))
        service_call_violation(call, "version.effective_to",
                               "must be a date YYYY-MM-DD, or empty until the next version");
    else if (*version->effective_to && strcmp(version->effective_to, version->effective_from) < 0)
        service_call_violation(call, "version.effective_to", "must not be before effective_from");
    if (!checks_text_valid(version->document, true))
        service_call_violation(call, "version.document",
                               "must name the policy text (1 to %d characters)", CHECKS_TEXT_MAX);
    for (size_t i = 0; i < version->n_parameters; i++) {
        const Chuang__Finance__Parameter *p = version->parameters[i];
        int64_t max = s_parameter_max(p->name);
        if (!max)
            service_call_violation(call, s_path(path, "parameters", i, "name"),
                                   "must be a lower-case name ending in _fen, _bp, _days or "
                                   "_count");
        else if (p->value < 0 || p->value > max)
            service_call_violation(call, s_path(path, "parameters", i, "value"),
                                   "must be from 0 to %" PRId64, max);
        for (size_t j = 0; j < i; j++)
            if (streq(version->parameters[j]->name, p->name))
                service_call_violation(call, s_path(path, "parameters", i, "name"),
                                       "is given twice");
    }
    for (size_t i = 0; i < version->n_conditions; i++) {
        const Chuang__Finance__Condition *c = version->conditions[i];
        size_t f = 0;
        while (f < sizeof s_facts / sizeof s_facts[0] && !streq(s_facts[f].fact, c->fact))
            f++;
        if (f == sizeof s_facts / sizeof s_facts[0]) {
            service_call_violation(
                call, s_path(path, "conditions", i, "fact"),
                "must be founder_category, entity_type, entity_age_days, "
                "division, credit_standing, headcount, lending_fen, recognition_kind, "
                "recognition_level, competition_place, investment_round or "
                "investee_age_days");
            continue;
        }
        if (!streq(c->test, s_facts[f].test))
            service_call_violation(call, s_path(path, "conditions", i, "test"), "must be %s for %s",
                                   s_facts[f].test, c->fact);
        bool values_ok = c->n_values >= 1 && (!s_facts[f].number || c->n_values == 1);
        for (size_t v = 0; values_ok && v < c->n_values; v++) {
            const char *value = c->values[v];
            size_t length = strlen(value);
            values_ok = s_facts[f].number
                            ? s_number(value)
                            : length >= 1 && length <= 40 &&
                                  strspn(value, "abcdefghijklmnopqrstuvwxyz"
                                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == length;
        }
        if (!values_ok)
            service_call_violation(call, s_path(path, "conditions", i, "values"),
                                   s_facts[f].number ? "must be one whole number"
                                                     : "must be one or more names or codes");
    }
    for (size_t i = 0; i < version->n_approvals; i++)
        if (!checks_name_valid(version->approvals[i]))
            service_call_violation(call, s_path(path, "approvals", i, NULL),
                                   "must name a department, e.g. finance or human_resources");
    for (size_t i = 0; i < version->n_award_rules; i++)
        s_award_rule_check(call, version->award_rules[i], i);
    s_scope_check(call, kind, version);
}

/* Reads the programme back in force on the version's first day. */
static Chuang__Status s_programme_reply(service_call_t *call, const char *code, const char *day,
                                        ProtobufCMessage *output)
{
    Chuang__Finance__Programme *programme = (Chuang__Finance__Programme *)output;
    if (programme_get(service_call_db(call), call, service_call_header(call)->agency, code, day,
                      programme) != 1)
        return service_call_sql_fail(call, NULL, "read programme");
    return service_call_emit(call, "finance.ProgrammeVersioned", code,
                             CHUANG__VISIBILITY__VISIBILITY_PUBLIC, &programme->base);
}

Chuang__Status handle_define_programme(service_call_t *call, const ProtobufCMessage *input,
                                       ProtobufCMessage *output)
{
    const Chuang__Finance__DefineProgrammeRequest *request =
        (const Chuang__Finance__DefineProgrammeRequest *)input;
    if (!checks_code_valid(request->code))
        service_call_violation(call, "code", "must be 2 to 40 of a-z, 0-9 and '-'");
    if (!checks_text_valid(request->name, true))
        service_call_violation(call, "name", "must be 1 to %d characters", CHECKS_TEXT_MAX);
    if (!checks_listed(s_kinds, request->kind))
        service_call_violation(call, "kind",
                               "must be special_fund, interest_subsidy, guarantee_loan, "
                               "rent_subsidy, reward, voucher, matching, listing_reward, "
                               "incubation_subsidy or mentor_service_subsidy");
    if (!checks_listed(awards_levels, request->level))
        service_call_violation(call, "level", "must be town, district, city, province or national");
    if (!checks_code_valid(request->fund))
        service_call_violation(call, "fund", "must name the fund that pays it");
    if (!checks_name_valid(request->department))
        service_call_violation(call, "department", "must name the department that runs it");
    s_version_check(call, request->kind, request->version);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    int rc = programme_define(service_call_db(call), service_call_header(call)->agency, request,
                              service_call_recorded_by(call));
    if (rc == 0)
        return service_call_fail(call, CHUANG__STATUS__ALREADY_EXISTS, "programme exists",
                                 "This agency has a programme with that code.",
                                 "Revise it with ReviseProgramme instead.");
    if (rc == PROGRAMME_NO_FUND) {
        service_call_violation(call, "fund", "is not a fund of this agency");
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION, "no such fund", NULL,
                                 "Create the fund first (CreateFund).");
    }
    if (rc < 0)
        return service_call_sql_fail(call, NULL, "define programme");
    return s_programme_reply(call, request->code, request->version->effective_from, output);
}

Chuang__Status handle_revise_programme(service_call_t *call, const ProtobufCMessage *input,
                                       ProtobufCMessage *output)
{
    const Chuang__Finance__ReviseProgrammeRequest *request =
        (const Chuang__Finance__ReviseProgrammeRequest *)input;
    if (!checks_code_valid(request->code))
        service_call_violation(call, "code", "is not a programme code");
    const char *values[2] = {service_call_header(call)->agency, request->code};
    Chuang__Status status;
    PGresult *res = service_call_query(
        call, "read programme", "SELECT kind FROM programmes WHERE agency = $1 AND code = $2", 2,
        values, PGRES_TUPLES_OK, &status);
    if (!res)
        return status;
    const char *kind = service_call_strdup(call, PQntuples(res) ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    s_version_check(call, kind, request->version);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    int rc = programme_revise(service_call_db(call), service_call_header(call)->agency,
                              request->code, request->version, service_call_recorded_by(call));
    if (rc == 0)
        return service_call_fail(call, CHUANG__STATUS__NOT_FOUND, "no such programme", NULL, NULL);
    if (rc == PROGRAMME_PAST || rc == PROGRAMME_NOT_AFTER) {
        service_call_violation(call, "version.effective_from",
                               rc == PROGRAMME_PAST ? "must be today or later: a revision never "
                                                      "changes what was in force before"
                                                    : "must be after the first day of the "
                                                      "latest version");
        return CHUANG__STATUS__INVALID_ARGUMENT;
    }
    if (rc < 0)
        return service_call_sql_fail(call, NULL, "revise programme");
    return s_programme_reply(call, request->code, request->version->effective_from, output);
}

Chuang__Status handle_get_programme(service_call_t *call, const ProtobufCMessage *input,
                                    ProtobufCMessage *output)
{
    const Chuang__Finance__GetProgrammeRequest *request =
        (const Chuang__Finance__GetProgrammeRequest *)input;
    if (!checks_code_valid(request->code))
        service_call_violation(call, "code", "is not a programme code");
    if (!checks_day_valid(request->on))
        service_call_violation(call, "on", "must be a date YYYY-MM-DD, or empty for today");
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    Chuang__Finance__Programme *programme = (Chuang__Finance__Programme *)output;
    int rc = programme_get(service_call_db(call), call, service_call_header(call)->agency,
                           request->code, request->on, programme);
    if (rc == PROGRAMME_NOT_IN_FORCE) {
        const Chuang__Finance__ProgrammeVersion *v = programme->version;
        char *detail =
            v ? zsys_sprintf("Its version %d was in force from %s to %s, and no later version "
                             "covers %s.",
                             v->version, v->effective_from, v->effective_to,
                             *request->on ? request->on : "today")
              : zsys_sprintf("Its first version starts after %s.",
                             *request->on ? request->on : "today");
        Chuang__Status status = service_call_fail(
            call, CHUANG__STATUS__FAILED_PRECONDITION, "programme not in force on that day", detail,
            "Nothing may be decided by it for that day until an officer adds a version.");
        zstr_free(&detail);
        return status;
    }
    return service_call_found(call, rc, "read programme", "no such programme");
}

Chuang__Status handle_list_lapsing_programmes(service_call_t *call, const ProtobufCMessage *input,
                                              ProtobufCMessage *output)
{
    const Chuang__Finance__LapsingRequest *request = (const Chuang__Finance__LapsingRequest *)input;
    if (request->days < 0 || request->days > LAPSING_MAX)
        return service_call_violation(call, "days", "must be from 0 to %d", LAPSING_MAX);
    int rc = programme_lapsing(service_call_db(call), call, service_call_header(call)->agency,
                               request->days, (Chuang__Finance__LapsingList *)output);
    return rc < 0 ? service_call_sql_fail(call, NULL, "lapsing programmes") : CHUANG__STATUS__OK;
}

Chuang__Status handle_get_programme_statistics(service_call_t *call, const ProtobufCMessage *input,
                                               ProtobufCMessage *output)
{
    const Chuang__Finance__StatisticsRequest *request =
        (const Chuang__Finance__StatisticsRequest *)input;
    if (!checks_code_valid(request->programme))
        service_call_violation(call, "programme", "is not a programme code");
    if (request->year != 0 && (request->year < 1900 || request->year > 9999))
        service_call_violation(call, "year", "must be a year such as 2026, or 0 for this year");
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    int found = programme_statistics(service_call_db(call), call, service_call_header(call)->agency,
                                     request->programme, request->year,
                                     (Chuang__Finance__ProgrammeStatistics *)output);
    return service_call_found(call, found, "programme statistics", "no such programme");
}
