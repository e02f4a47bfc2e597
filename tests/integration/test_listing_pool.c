/*
 * test_listing_pool.c - the pre-listing pool (上市后备资源库) through the
 * broker against the harness's PostgreSQL and Redis: entities of a
 * district proposed and admitted within the year's quota, one recommended
 * on to the city; an entity through three stages with each stage's reward
 * awarded and paid once; the city's attempt to reward a stage the district
 * paid refused by the award register; and bad input refused with nothing
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

static finance_fixture_t s_deployment;
static client_t *s_keeper;   /* a finance officer of DISTRICT */
static client_t *s_reviewer; /* its finance reviewer */
static client_t *s_city;     /* a finance officer of CITY */
static client_t *s_city_review;
static char *s_firm[3]; /* entities of DISTRICT */
static char *s_far;     /* an entity of CITY, outside DISTRICT */

static const char *const s_stages[3] = {"shareholding_reform", "counselling_filing",
                                        "application_accepted"};
static const int64_t s_rewards[3] = {5000000, 3000000, 10000000}; /* up to ¥100,000 */

static client_t *s_client(const char *agency, const char *actor, const char *roles)
{
    return finance_fixture_client(&s_deployment, agency, actor, roles);
}

static int s_setup(void **state)
{
    (void)state;
    if (finance_fixture_start(&s_deployment, "listing_pool", "ptest") != 0)
        return -1;
    s_keeper = s_client(DISTRICT, "keeper-1", "finance-officer");
    s_reviewer = s_client(DISTRICT, "reviewer-1", "reviewer,reviewer-finance");
    s_city = s_client(CITY, "keeper-9", "finance-officer");
    s_city_review = s_client(CITY, "reviewer-9", "reviewer,reviewer-finance");
    client_t *clerk = s_client(DISTRICT, "clerk-1", "officer");
    client_t *city_clerk = s_client(CITY, "clerk-9", "officer");
    const char *names[3] = {"储备", "后备", "三号"};
    for (int i = 0; i < 3; i++)
        s_firm[i] = registry_fixture_register(clerk, names[i]);
    s_far = registry_fixture_register_in(city_clerk, "远处", "330105");
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
    for (int i = 0; i < 3; i++)
        free(s_firm[i]);
    free(s_far);
    return finance_fixture_stop(&s_deployment);
}

static long long s_value(const char *sql)
{
    return finance_fixture_value(s_deployment.db_url, sql);
}

static void s_wait_known(const char *credit_code)
{
    finance_fixture_wait_known(s_keeper, credit_code);
}

static void s_assert_refused(Chuang__Reply *reply, Chuang__Status status, const char *field)
{
    finance_fixture_assert_refused(reply, status, field);
}

static Chuang__Reply *s_propose(client_t *client, const char *credit_code)
{
    Chuang__Finance__PoolProposal request = CHUANG__FINANCE__POOL_PROPOSAL__INIT;
    request.credit_code = (char *)credit_code;
    request.tax_authority = "国家税务总局杭州市西湖区税务局";
    request.tax_registered_on = "2025-03-01";
    request.reason = "营业收入连续三年增长";
    return finance_fixture_call(client, "ProposeForPool", &request.base);
}

static Chuang__Status s_decide(client_t *client, const char *credit_code, const char *decision)
{
    Chuang__Finance__PoolDecision request = CHUANG__FINANCE__POOL_DECISION__INIT;
    request.credit_code = (char *)credit_code;
    request.decision = (char *)decision;
    request.reason = streq(decision, "admitted") ? "" : "区金融办推荐";
    return finance_fixture_status(client, "DecidePoolEntry", &request.base);
}

static Chuang__Reply *s_stage(client_t *client, const char *credit_code, const char *stage,
                              const char *day)
{
    Chuang__Finance__ListingStageRequest request = CHUANG__FINANCE__LISTING_STAGE_REQUEST__INIT;
    request.credit_code = (char *)credit_code;
    request.stage = (char *)stage;
    request.reached_on = (char *)day;
    request.document = "浙江证监局辅导备案公示";
    return finance_fixture_call(client, "RecordListingStage", &request.base);
}

/* The listing_reward programme code of client's agency at level, paid
 * from its own fund: each stage's reward, paid once across every level. */
static void s_programme(client_t *client, const char *code, const char *level)
{
    char fund[48];
    snprintf(fund, sizeof fund, "%s-fund", code);
    finance_fixture_fund(client, fund, 50000000, "岳财〔2026〕5号");
    Chuang__Finance__Parameter p[4];
    Chuang__Finance__Parameter *parameters[4];
    const char *names[3] = {"shareholding_reform_fen", "counselling_filing_fen",
                            "application_accepted_fen"};
    for (int i = 0; i < 4; i++) {
        chuang__finance__parameter__init(&p[i]);
        parameters[i] = &p[i];
        p[i].name = i < 3 ? (char *)names[i] : "notice_days";
        p[i].value = i < 3 ? s_rewards[i] : 5;
    }
    char *levels[5] = {"town", "district", "city", "province", "national"};
    Chuang__Finance__AwardRule once = CHUANG__FINANCE__AWARD_RULE__INIT;
    once.rule = "exclude";
    once.n_levels = 5;
    once.levels = levels;
    Chuang__Finance__AwardRule *rules[1] = {&once};
    char *approvals[1] = {"finance"};
    Chuang__Finance__ProgrammeVersion version = CHUANG__FINANCE__PROGRAMME_VERSION__INIT;
    version.effective_from = "2026-01-01";
    version.document = "岳政办发〔2026〕3号";
    version.n_parameters = 4;
    version.parameters = parameters;
    version.n_award_rules = 1;
    version.award_rules = rules;
    version.n_approvals = 1;
    version.approvals = approvals;
    Chuang__Finance__DefineProgrammeRequest define =
        CHUANG__FINANCE__DEFINE_PROGRAMME_REQUEST__INIT;
    define.code = (char *)code;
    define.name = "企业上市分阶段奖励";
    define.kind = "listing_reward";
    define.level = (char *)level;
    define.fund = fund;
    define.department = "finance";
    define.version = &version;
    assert_int_equal(finance_fixture_status(client, "DefineProgramme", &define.base),
                     CHUANG__STATUS__OK);
}

static Chuang__Finance__PoolEntry *s_entry(client_t *client, const char *credit_code)
{
    Chuang__Finance__PoolEntryRequest request = CHUANG__FINANCE__POOL_ENTRY_REQUEST__INIT;
    request.credit_code = (char *)credit_code;
    Chuang__Reply *reply = finance_fixture_call(client, "GetPoolEntry", &request.base);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Finance__PoolEntry *entry =
        chuang__finance__pool_entry__unpack(NULL, reply->payload.len, reply->payload.data);
    chuang__reply__free_unpacked(reply, NULL);
    return entry;
}

static void test_an_entity_through_three_stages_each_rewarded_once(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++)
        s_wait_known(s_firm[i]);
    s_programme(s_keeper, "yt-listing", "district");

    /* Three proposed; the year's quota admits two and recommends one on
     * to the city. */
    for (int i = 0; i < 3; i++) {
        Chuang__Reply *reply = s_propose(s_keeper, s_firm[i]);
        assert_int_equal(reply->status, CHUANG__STATUS__OK);
        chuang__reply__free_unpacked(reply, NULL);
    }
    assert_int_equal(s_decide(s_keeper, s_firm[0], "admitted"), CHUANG__STATUS__OK);
    assert_int_equal(s_decide(s_keeper, s_firm[1], "admitted"), CHUANG__STATUS__OK);
    assert_int_equal(s_decide(s_keeper, s_firm[2], "admitted"),
                     CHUANG__STATUS__FAILED_PRECONDITION);
    assert_int_equal(s_decide(s_keeper, s_firm[0], "recommended"), CHUANG__STATUS__OK);
    char told[64];
    snprintf(told, sizeof told, "已入选上市后备资源库（%lld 年度）",
             s_value("SELECT extract(year FROM chuang_today('" DISTRICT "'))::int"));
    finance_fixture_assert_told(&s_deployment, DISTRICT, s_firm[1], told);
    assert_int_equal(s_decide(s_keeper, s_firm[1], "recommended"),
                     CHUANG__STATUS__FAILED_PRECONDITION);
    Chuang__Finance__PoolEntry *entry = s_entry(s_keeper, s_firm[2]);
    assert_string_equal(entry->status, "proposed");
    chuang__finance__pool_entry__free_unpacked(entry, NULL);

    /* Three stages reached, each once. */
    for (int i = 0; i < 3; i++) {
        Chuang__Reply *reply = s_stage(s_keeper, s_firm[0], s_stages[i], "2026-06-0");
        s_assert_refused(reply, CHUANG__STATUS__INVALID_ARGUMENT, "reached_on");
        reply = s_stage(s_keeper, s_firm[0], s_stages[i], "");
        assert_int_equal(reply->status, CHUANG__STATUS__OK);
        chuang__reply__free_unpacked(reply, NULL);
    }
    s_assert_refused(s_stage(s_keeper, s_firm[0], s_stages[0], ""), CHUANG__STATUS__ALREADY_EXISTS,
                     "stage");
    entry = s_entry(s_keeper, s_firm[0]);
    assert_string_equal(entry->status, "recommended");
    assert_int_equal(entry->n_stages, 3);
    chuang__finance__pool_entry__free_unpacked(entry, NULL);

    /* A stage not reached has no reward yet. */
    Chuang__Status status;
    int64_t early =
        finance_fixture_draft(s_keeper, "yt-listing", s_firm[0], "listed", 1000, &status);
    assert_int_equal(status, CHUANG__STATUS__OK);
    Chuang__Reply *refusal = NULL;
    assert_null(finance_fixture_step(s_keeper, "SubmitApplication", early, "", &refusal));
    s_assert_refused(refusal, CHUANG__STATUS__FAILED_PRECONDITION, "subject");

    /* Each reached stage's reward awarded and paid, once. */
    for (int i = 0; i < 3; i++) {
        int64_t id = finance_fixture_award(&s_deployment, s_keeper, s_reviewer, "finance",
                                           "yt-listing", s_firm[0], s_stages[i], s_rewards[i]);
        Chuang__Finance__PaymentRequest pay = CHUANG__FINANCE__PAYMENT_REQUEST__INIT;
        pay.id = id;
        pay.amount_fen = s_rewards[i];
        assert_int_equal(finance_fixture_status(s_keeper, "PayAward", &pay.base),
                         CHUANG__STATUS__OK);
        finance_fixture_draft(s_keeper, "yt-listing", s_firm[0], s_stages[i], s_rewards[i],
                              &status);
        assert_int_equal(status, CHUANG__STATUS__ALREADY_EXISTS);
    }
    assert_int_equal(s_value("SELECT count(*) FROM applications WHERE programme = 'yt-listing'"
                             " AND status = 'paid'"),
                     3);
    assert_int_equal(s_value("SELECT -balance FROM accounts WHERE agency = '" DISTRICT "'"
                             " AND code = 'yt-listing-fund:available'"),
                     50000000 - 18000000);

    /* The city admits the firm the district recommended and would reward
     * its shareholding reform: the register holds the district's award. */
    s_programme(s_city, "city-listing", "city");
    Chuang__Reply *reply = s_propose(s_city, s_firm[0]);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    chuang__reply__free_unpacked(reply, NULL);
    assert_int_equal(s_decide(s_city, s_firm[0], "admitted"), CHUANG__STATUS__OK);
    reply = s_stage(s_city, s_firm[0], s_stages[0], "");
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    chuang__reply__free_unpacked(reply, NULL);
    int64_t twice = finance_fixture_draft(s_city, "city-listing", s_firm[0], s_stages[0],
                                          s_rewards[0], &status);
    assert_int_equal(status, CHUANG__STATUS__OK);
    refusal = NULL;
    assert_null(finance_fixture_step(s_city, "SubmitApplication", twice, "", &refusal));
    s_assert_refused(refusal, CHUANG__STATUS__FAILED_PRECONDITION, "award_rules");
    assert_int_equal(s_value("SELECT count(*) FROM award_register WHERE subject ="
                             " 'shareholding_reform'"),
                     1);
}

static void test_bad_pool_input_is_refused_and_changes_nothing(void **state)
{
    (void)state;
    s_wait_known(s_far);
    long long entries = s_value("SELECT count(*) FROM listing_pool");
    long long stages = s_value("SELECT count(*) FROM listing_stages");

    /* An entity of the city outside the district is not the district's. */
    s_assert_refused(s_propose(s_keeper, s_far), CHUANG__STATUS__FAILED_PRECONDITION,
                     "credit_code");
    /* Every field of a proposal at once. */
    Chuang__Finance__PoolProposal bad = CHUANG__FINANCE__POOL_PROPOSAL__INIT;
    bad.credit_code = "91-not-a-code";
    bad.year = 1999;
    bad.tax_registered_on = "2025-02-30";
    Chuang__Reply *reply = finance_fixture_call(s_keeper, "ProposeForPool", &bad.base);
    assert_int_equal(reply->status, CHUANG__STATUS__INVALID_ARGUMENT);
    assert_int_equal(reply->n_violations, 4);
    chuang__reply__free_unpacked(reply, NULL);
    /* Proposed twice; a stage of an entity only proposed; a decision that
     * is not one; a stage that is not one. */
    reply = s_propose(s_keeper, s_firm[2]);
    assert_int_equal(reply->status, CHUANG__STATUS__ALREADY_EXISTS);
    chuang__reply__free_unpacked(reply, NULL);
    reply = s_stage(s_keeper, s_firm[2], "counselling_filing", "");
    assert_int_equal(reply->status, CHUANG__STATUS__FAILED_PRECONDITION);
    chuang__reply__free_unpacked(reply, NULL);
    Chuang__Finance__PoolDecision decision = CHUANG__FINANCE__POOL_DECISION__INIT;
    decision.credit_code = s_firm[2];
    decision.decision = "approved";
    s_assert_refused(finance_fixture_call(s_keeper, "DecidePoolEntry", &decision.base),
                     CHUANG__STATUS__INVALID_ARGUMENT, "decision");
    s_assert_refused(s_stage(s_keeper, s_firm[0], "ipo", ""), CHUANG__STATUS__INVALID_ARGUMENT,
                     "stage");
    /* Only finance officers decide. */
    client_t *officer = s_client(DISTRICT, "officer-1", "officer");
    assert_int_equal(s_decide(officer, s_firm[2], "declined"), CHUANG__STATUS__PERMISSION_DENIED);
    client_destroy(&officer);

    assert_int_equal(s_value("SELECT count(*) FROM listing_pool"), entries);
    assert_int_equal(s_value("SELECT count(*) FROM listing_stages"), stages);
    Chuang__Finance__PoolEntry *entry = s_entry(s_keeper, s_firm[2]);
    assert_string_equal(entry->status, "proposed");
    chuang__finance__pool_entry__free_unpacked(entry, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_an_entity_through_three_stages_each_rewarded_once),
        cmocka_unit_test(test_bad_pool_input_is_refused_and_changes_nothing),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
