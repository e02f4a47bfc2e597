/*
 * test_recognition_rewards.c - competition and recognition rewards through
 * the broker against the harness's PostgreSQL and Redis: an entity's
 * second place in a national competition recorded from its certificate;
 * the city's reward for the top three; the district's 1:0.5 match of the
 * city's reward through the award register; a fourth place and an
 * unknown certificate not eligible; bad records refused with nothing
 * written.
 */
#include "client.h"
#include "finance.pb-c.h"
#include "finance_fixture.h"
#include "harness.h"
#include "registry_fixture.h"

#include <czmq.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define DISTRICT "330106"
#define CITY     "330100"
#define SILVER   "CXCY-2026-0012"

static finance_fixture_t s_deployment;
static client_t *s_keeper, *s_reviewer, *s_city, *s_city_review;
static char *s_winner, *s_fourth, *s_far;

static int s_setup(void **state)
{
    (void)state;
    if (finance_fixture_start(&s_deployment, "recognition_rewards", "rtest") != 0)
        return -1;
    s_keeper = finance_fixture_client(&s_deployment, DISTRICT, "keeper-1", "finance-officer");
    s_reviewer =
        finance_fixture_client(&s_deployment, DISTRICT, "reviewer-1", "reviewer,reviewer-finance");
    s_city = finance_fixture_client(&s_deployment, CITY, "keeper-9", "finance-officer");
    s_city_review =
        finance_fixture_client(&s_deployment, CITY, "reviewer-9", "reviewer,reviewer-finance");
    client_t *clerk = finance_fixture_client(&s_deployment, DISTRICT, "clerk-1", "officer");
    client_t *city_clerk = finance_fixture_client(&s_deployment, CITY, "clerk-9", "officer");
    s_winner = registry_fixture_register(clerk, "亚军");
    s_fourth = registry_fixture_register(clerk, "殿军");
    s_far = registry_fixture_register_in(city_clerk, "区外", "330105");
    client_destroy(&clerk);
    client_destroy(&city_clerk);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    client_destroy(&s_keeper);
    client_destroy(&s_reviewer);
    client_destroy(&s_city);
    client_destroy(&s_city_review);
    free(s_winner);
    free(s_fourth);
    free(s_far);
    return finance_fixture_stop(&s_deployment);
}

static Chuang__Reply *s_record(client_t *client, const char *certificate, const char *credit_code,
                               int place)
{
    Chuang__Finance__Recognition r = CHUANG__FINANCE__RECOGNITION__INIT;
    r.certificate = (char *)certificate;
    r.credit_code = (char *)credit_code;
    r.kind = "competition";
    r.name = "中国创新创业大赛";
    r.level = "national";
    r.place = place;
    r.awarded_on = "2026-09-18";
    return finance_fixture_call(client, "RecordRecognition", &r.base);
}

static void s_recorded(client_t *client, const char *certificate, const char *credit_code,
                       int place)
{
    Chuang__Reply *reply = s_record(client, certificate, credit_code, place);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    chuang__reply__free_unpacked(reply, NULL);
}

/* A programme of client's agency rewarding the top three of a national,
 * provincial or city competition: the city's up to ¥100,000; the
 * district's kind matching, at most half of the highest reward above for
 * the same certificate. */
static void s_programme(client_t *client, const char *code, const char *level, bool match)
{
    char fund[48];
    snprintf(fund, sizeof fund, "%s-fund", code);
    finance_fixture_fund(client, fund, 100000000, "财〔2026〕11号");
    char *kinds[1] = {"competition"}, *levels[3] = {"national", "province", "city"},
         *top[1] = {"3"};
    char *district[1] = {"330106"};
    Chuang__Finance__Condition c[4];
    Chuang__Finance__Condition *conditions[4];
    const char *facts[4] = {"recognition_kind", "recognition_level", "competition_place",
                            "division"};
    const char *tests[4] = {"in", "in", "at_most", "prefix"};
    char **values[4] = {kinds, levels, top, district};
    size_t counts[4] = {1, 3, 1, 1};
    for (int i = 0; i < 4; i++) {
        chuang__finance__condition__init(&c[i]);
        conditions[i] = &c[i];
        c[i].fact = (char *)facts[i];
        c[i].test = (char *)tests[i];
        c[i].values = values[i];
        c[i].n_values = counts[i];
    }
    Chuang__Finance__Parameter p[2];
    Chuang__Finance__Parameter *parameters[2] = {&p[0], &p[1]};
    chuang__finance__parameter__init(&p[0]);
    chuang__finance__parameter__init(&p[1]);
    p[0].name = "award_cap_fen";
    p[0].value = 10000000;
    p[1].name = "notice_days";
    p[1].value = 5;
    char *above[3] = {"city", "province", "national"};
    Chuang__Finance__AwardRule half = CHUANG__FINANCE__AWARD_RULE__INIT;
    half.rule = "top_up";
    half.kind = "reward";
    half.levels = above;
    half.n_levels = 3;
    half.ratio_bp = 5000;
    Chuang__Finance__AwardRule *rules[1] = {&half};
    char *approvals[1] = {"finance"};
    Chuang__Finance__ProgrammeVersion version = CHUANG__FINANCE__PROGRAMME_VERSION__INIT;
    version.effective_from = "2026-01-01";
    version.document = "大府〔2016〕3号";
    version.n_conditions = match ? 4 : 3;
    version.conditions = conditions;
    version.n_parameters = 2;
    version.parameters = parameters;
    version.n_award_rules = match ? 1 : 0;
    version.award_rules = rules;
    version.n_approvals = 1;
    version.approvals = approvals;
    Chuang__Finance__DefineProgrammeRequest define =
        CHUANG__FINANCE__DEFINE_PROGRAMME_REQUEST__INIT;
    define.code = (char *)code;
    define.name = "创新创业大赛获奖奖励";
    define.kind = match ? "matching" : "reward";
    define.level = (char *)level;
    define.fund = fund;
    define.department = "finance";
    define.version = &version;
    assert_int_equal(finance_fixture_status(client, "DefineProgramme", &define.base),
                     CHUANG__STATUS__OK);
}

static Chuang__Finance__Eligibility *s_eligibility(client_t *client, const char *programme,
                                                   const char *credit_code, const char *subject)
{
    Chuang__Finance__EligibilityRequest ask = CHUANG__FINANCE__ELIGIBILITY_REQUEST__INIT;
    ask.programme = (char *)programme;
    ask.credit_code = (char *)credit_code;
    ask.subject = (char *)subject;
    Chuang__Reply *reply = finance_fixture_call(client, "CheckEligibility", &ask.base);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Finance__Eligibility *e =
        chuang__finance__eligibility__unpack(NULL, reply->payload.len, reply->payload.data);
    chuang__reply__free_unpacked(reply, NULL);
    return e;
}

static void test_a_national_silver_rewarded_by_the_city_and_matched_by_the_district(void **state)
{
    (void)state;
    finance_fixture_wait_known(s_keeper, s_winner);
    finance_fixture_wait_known(s_keeper, s_fourth);
    s_recorded(s_keeper, SILVER, s_winner, 2);
    s_recorded(s_keeper, "CXCY-2026-0099", s_fourth, 4);
    s_recorded(s_city, SILVER, s_winner, 2);
    s_programme(s_city, "city-competition", "city", false);
    s_programme(s_keeper, "district-competition", "district", true);

    /* Fourth place, or a certificate the agency has not recorded: not
     * eligible, each saying why. */
    Chuang__Finance__Eligibility *e =
        s_eligibility(s_keeper, "district-competition", s_fourth, "CXCY-2026-0099");
    assert_false(e->eligible);
    assert_false(e->results[2]->holds);
    assert_string_equal(e->results[2]->actual, "4");
    chuang__finance__eligibility__free_unpacked(e, NULL);
    e = s_eligibility(s_city, "city-competition", s_winner, "CXCY-2026-7777");
    assert_false(e->eligible);
    assert_non_null(strstr(e->results[0]->actual, "certificate"));
    chuang__finance__eligibility__free_unpacked(e, NULL);
    /* Before the city rewards it, the district has nothing to match. */
    e = s_eligibility(s_keeper, "district-competition", s_winner, SILVER);
    assert_false(e->eligible);
    chuang__finance__eligibility__free_unpacked(e, NULL);

    /* The city's reward of ¥100,000 for the silver. */
    int64_t city = finance_fixture_award(&s_deployment, s_city, s_city_review, "finance",
                                         "city-competition", s_winner, SILVER, 10000000);
    Chuang__Finance__Application *a =
        finance_fixture_step(s_city, "GetApplication", city, "", NULL);
    assert_true(a->awarded_fen == 10000000);
    chuang__finance__application__free_unpacked(a, NULL);

    /* The district's match is half of it, whatever is asked. */
    int64_t district = finance_fixture_award(&s_deployment, s_keeper, s_reviewer, "finance",
                                             "district-competition", s_winner, SILVER, 8000000);
    a = finance_fixture_step(s_keeper, "GetApplication", district, "", NULL);
    assert_true(a->awarded_fen == 5000000);
    chuang__finance__application__free_unpacked(a, NULL);
}

static void test_bad_recognitions_are_refused_and_change_nothing(void **state)
{
    (void)state;
    finance_fixture_wait_known(s_keeper, s_far);
    long long before =
        finance_fixture_value(s_deployment.db_url, "SELECT count(*) FROM recognitions");
    Chuang__Finance__Recognition r = CHUANG__FINANCE__RECOGNITION__INIT;
    r.credit_code = s_winner;
    r.kind = "competition";
    r.level = "county";
    r.awarded_on = "2026-09-18";
    Chuang__Reply *reply = finance_fixture_call(s_keeper, "RecordRecognition", &r.base);
    assert_int_equal(reply->status, CHUANG__STATUS__INVALID_ARGUMENT);
    assert_int_equal(reply->n_violations, 4); /* certificate, name, level, place */
    chuang__reply__free_unpacked(reply, NULL);
    finance_fixture_assert_refused(s_record(s_keeper, "CXCY-2026-0500", s_far, 1),
                                   CHUANG__STATUS__FAILED_PRECONDITION, "credit_code");
    finance_fixture_assert_refused(s_record(s_keeper, SILVER, s_winner, 2),
                                   CHUANG__STATUS__ALREADY_EXISTS, "certificate");
    client_t *applicant = finance_fixture_client(&s_deployment, DISTRICT, "person-1", "applicant");
    reply = s_record(applicant, "CXCY-2026-0501", s_winner, 1);
    assert_int_equal(reply->status, CHUANG__STATUS__PERMISSION_DENIED);
    chuang__reply__free_unpacked(reply, NULL);
    client_destroy(&applicant);
    assert_int_equal(
        finance_fixture_value(s_deployment.db_url, "SELECT count(*) FROM recognitions"), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_national_silver_rewarded_by_the_city_and_matched_by_the_district),
        cmocka_unit_test(test_bad_recognitions_are_refused_and_change_nothing),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
