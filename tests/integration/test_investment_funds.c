/*
 * test_investment_funds.c - angel and venture fund filing (天使投资、创业投资
 * 备案) through the broker against the harness's PostgreSQL and Redis: a
 * fund filed by its manager's key and one at the window, recorded by a
 * finance officer; investments reported in the district's entities, the
 * first one marked in the entity's facts (and replaced by an earlier one
 * reported later); the year's statistics by round and industry, as CSV;
 * and bad reports refused with nothing written.
 */
#include "client.h"
#include "db.h"
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
static client_t *s_keeper;  /* a finance officer of DISTRICT */
static client_t *s_manager; /* the angel fund's manager, by its own key */
static char *s_startup;     /* an entity of DISTRICT */
static char *s_manager_firm;
static char *s_far; /* an entity of CITY, outside DISTRICT */

static int s_setup(void **state)
{
    (void)state;
    if (finance_fixture_start(&s_deployment, "investment_funds", "itest") != 0)
        return -1;
    s_keeper = finance_fixture_client(&s_deployment, DISTRICT, "keeper-1", "finance-officer");
    s_manager = finance_fixture_client(&s_deployment, DISTRICT, "investor-1", "investor");
    client_t *clerk = finance_fixture_client(&s_deployment, DISTRICT, "clerk-1", "officer");
    client_t *city_clerk = finance_fixture_client(&s_deployment, CITY, "clerk-9", "officer");
    s_startup = registry_fixture_register(clerk, "初创");
    s_manager_firm = registry_fixture_register(clerk, "天使");
    s_far = registry_fixture_register_in(city_clerk, "城北", "330105");
    client_destroy(&clerk);
    client_destroy(&city_clerk);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    client_destroy(&s_keeper);
    client_destroy(&s_manager);
    free(s_startup);
    free(s_manager_firm);
    free(s_far);
    return finance_fixture_stop(&s_deployment);
}

static long long s_value(const char *sql)
{
    return finance_fixture_value(s_deployment.db_url, sql);
}

/* Files a fund of kind with registration as client: its id, or 0 when
 * refused (reply status in *status). */
static int64_t s_file(client_t *client, const char *kind, const char *registration,
                      const char *principal, Chuang__Status *status)
{
    char *stages[2] = {"seed", "angel"};
    Chuang__Finance__FundFiling request = CHUANG__FINANCE__FUND_FILING__INIT;
    request.name = "西湖天使一号";
    request.kind = (char *)kind;
    request.manager_credit_code = s_manager_firm;
    request.manager_name = "杭州天使网络科技有限公司";
    request.registration = (char *)registration;
    request.size_fen = 100000000;
    request.n_stages = 2;
    request.stages = stages;
    request.principal = (char *)principal;
    Chuang__Reply *reply = finance_fixture_call(client, "FileInvestmentFund", &request.base);
    *status = reply->status;
    int64_t id = 0;
    if (reply->status == CHUANG__STATUS__OK) {
        Chuang__Finance__InvestmentFund *fund =
            chuang__finance__investment_fund__unpack(NULL, reply->payload.len, reply->payload.data);
        id = fund->id;
        assert_string_equal(fund->status, "filed");
        chuang__finance__investment_fund__free_unpacked(fund, NULL);
    }
    chuang__reply__free_unpacked(reply, NULL);
    return id;
}

static Chuang__Status s_record(int64_t id)
{
    Chuang__Finance__InvestmentFundDecision request =
        CHUANG__FINANCE__INVESTMENT_FUND_DECISION__INIT;
    request.id = id;
    request.decision = "recorded";
    return finance_fixture_status(s_keeper, "DecideInvestmentFund", &request.base);
}

static Chuang__Reply *s_report(client_t *client, int64_t fund, const char *credit_code,
                               int64_t amount, const char *day, const char *round)
{
    Chuang__Finance__InvestmentReport request = CHUANG__FINANCE__INVESTMENT_REPORT__INIT;
    request.fund_id = fund;
    request.credit_code = (char *)credit_code;
    request.amount_fen = amount;
    request.invested_on = (char *)day;
    request.round = (char *)round;
    return finance_fixture_call(client, "ReportInvestment", &request.base);
}

/* Reports an investment that is accepted: whether it is the entity's
 * first. */
static bool s_first(client_t *client, int64_t fund, int64_t amount, const char *day,
                    const char *round)
{
    Chuang__Reply *reply = s_report(client, fund, s_startup, amount, day, round);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Finance__Investment *investment =
        chuang__finance__investment__unpack(NULL, reply->payload.len, reply->payload.data);
    bool first = investment->first_investment;
    assert_string_equal(investment->industry_code, "I6513");
    chuang__finance__investment__free_unpacked(investment, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    return first;
}

/* The day of credit_code's first investment, as its facts say (caller
 * frees). */
static char *s_first_on(const char *credit_code)
{
    Chuang__Finance__EntityFactsRequest request = CHUANG__FINANCE__ENTITY_FACTS_REQUEST__INIT;
    request.credit_code = (char *)credit_code;
    Chuang__Reply *reply = finance_fixture_call(s_keeper, "GetEntityFacts", &request.base);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Finance__EntityFacts *facts =
        chuang__finance__entity_facts__unpack(NULL, reply->payload.len, reply->payload.data);
    char *day = strdup(facts->first_investment_on);
    chuang__finance__entity_facts__free_unpacked(facts, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    return day;
}

static void test_funds_filed_and_an_entity_first_investment_marked(void **state)
{
    (void)state;
    finance_fixture_wait_known(s_keeper, s_startup);
    /* The start-up was registered in 2025, as the registry's history would
     * say of an entity older than this test: investments of 2026 follow
     * its registration. */
    PGconn *db = db_connect(s_deployment.db_url, "finance", 3);
    assert_non_null(db);
    char sql[160];
    snprintf(sql, sizeof sql,
             "UPDATE entity_facts SET registered_on = '2025-06-01' WHERE credit_code = '%s'",
             s_startup);
    PGresult *res = PQexec(db, sql);
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    PQfinish(db);
    /* The angel fund, filed by its manager's own key; reports wait until
     * it is recorded. */
    Chuang__Status status;
    int64_t angel = s_file(s_manager, "angel", "SXY001", "", &status);
    assert_int_equal(status, CHUANG__STATUS__OK);
    Chuang__Reply *reply = s_report(s_manager, angel, s_startup, 3000000, "2026-03-15", "angel");
    assert_int_equal(reply->status, CHUANG__STATUS__FAILED_PRECONDITION);
    chuang__reply__free_unpacked(reply, NULL);
    assert_int_equal(s_record(angel), CHUANG__STATUS__OK);
    char *day = s_first_on(s_startup);
    assert_string_equal(day, "");
    free(day);

    /* The first investment in the start-up is marked; its next is not. */
    assert_true(s_first(s_manager, angel, 3000000, "2026-03-15", "angel"));
    assert_false(s_first(s_manager, angel, 5000000, "2026-06-01", "a"));
    day = s_first_on(s_startup);
    assert_string_equal(day, "2026-03-15");
    free(day);

    /* A venture fund filed at the window for another manager's key reports
     * an earlier seed round: that is the first investment now. Neither
     * manager reads or reports for the other's fund. */
    int64_t venture = s_file(s_keeper, "venture", "SXY002", "investor-2", &status);
    assert_int_equal(status, CHUANG__STATUS__OK);
    assert_int_equal(s_record(venture), CHUANG__STATUS__OK);
    reply = s_report(s_manager, venture, s_startup, 1000000, "2026-01-10", "seed");
    assert_int_equal(reply->status, CHUANG__STATUS__PERMISSION_DENIED);
    chuang__reply__free_unpacked(reply, NULL);
    client_t *second = finance_fixture_client(&s_deployment, DISTRICT, "investor-2", "investor");
    assert_true(s_first(second, venture, 1000000, "2026-01-10", "seed"));
    client_destroy(&second);
    day = s_first_on(s_startup);
    assert_string_equal(day, "2026-01-10");
    free(day);

    /* The year's statistics, and as CSV. */
    Chuang__Finance__InvestmentStatisticsRequest ask =
        CHUANG__FINANCE__INVESTMENT_STATISTICS_REQUEST__INIT;
    ask.year = 2026;
    ask.csv = true;
    reply = finance_fixture_call(s_keeper, "GetInvestmentStatistics", &ask.base);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Finance__InvestmentStatistics *stats = chuang__finance__investment_statistics__unpack(
        NULL, reply->payload.len, reply->payload.data);
    assert_int_equal(stats->funds_filed, 2);
    assert_int_equal(stats->funds_recorded, 2);
    assert_true(stats->managed_fen == 200000000);
    assert_int_equal(stats->investments, 3);
    assert_true(stats->invested_fen == 9000000);
    assert_int_equal(stats->first_investments, 1);
    assert_int_equal(stats->n_rounds, 3);
    assert_int_equal(stats->n_industries, 1);
    assert_string_equal(stats->industries[0]->key, "I");
    assert_non_null(strstr(stats->csv, "round,angel,1,3000000\n"));
    assert_non_null(strstr(stats->csv, "industry,I,3,9000000\n"));
    assert_non_null(strstr(stats->csv, "funds,recorded,2,200000000\n"));
    chuang__finance__investment_statistics__free_unpacked(stats, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    ask.year = 2025;
    ask.csv = false;
    reply = finance_fixture_call(s_keeper, "GetInvestmentStatistics", &ask.base);
    stats = chuang__finance__investment_statistics__unpack(NULL, reply->payload.len,
                                                           reply->payload.data);
    assert_int_equal(stats->investments, 0);
    assert_int_equal(stats->funds_recorded, 0);
    chuang__finance__investment_statistics__free_unpacked(stats, NULL);
    chuang__reply__free_unpacked(reply, NULL);

    /* A reward to angels who invest early: the manager applies for its
     * investment, tested by its round and the start-up's age then. */
    finance_fixture_fund(s_keeper, "angel-reward-fund", 10000000, "西科〔2026〕4号");
    char *early[2] = {"seed", "angel"}, *three_years[1] = {"1095"};
    Chuang__Finance__Condition round = CHUANG__FINANCE__CONDITION__INIT,
                               age = CHUANG__FINANCE__CONDITION__INIT;
    round.fact = "investment_round";
    round.test = "in";
    round.values = early;
    round.n_values = 2;
    age.fact = "investee_age_days";
    age.test = "at_most";
    age.values = three_years;
    age.n_values = 1;
    Chuang__Finance__Condition *conditions[2] = {&round, &age};
    Chuang__Finance__ProgrammeVersion version = CHUANG__FINANCE__PROGRAMME_VERSION__INIT;
    version.effective_from = "2026-01-01";
    version.document = "镇政发〔2016〕9号";
    version.n_conditions = 2;
    version.conditions = conditions;
    Chuang__Finance__DefineProgrammeRequest define =
        CHUANG__FINANCE__DEFINE_PROGRAMME_REQUEST__INIT;
    define.code = "angel-reward";
    define.name = "天使投资奖励";
    define.kind = "reward";
    define.level = "district";
    define.fund = "angel-reward-fund";
    define.department = "science_technology";
    define.version = &version;
    assert_int_equal(finance_fixture_status(s_keeper, "DefineProgramme", &define.base),
                     CHUANG__STATUS__OK);
    char subject[3][48];
    const char *rounds[2] = {"angel", "a"};
    for (int i = 0; i < 2; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT id FROM fund_investments WHERE round = '%s'", rounds[i]);
        snprintf(subject[i], sizeof subject[i], "investment:%lld", s_value(sql));
    }
    snprintf(subject[2], sizeof subject[2], "%s", subject[0]);
    const char *applicants[3] = {s_manager_firm, s_manager_firm, s_startup};
    const bool eligible[3] = {true, false, false};
    for (int i = 0; i < 3; i++) {
        Chuang__Finance__EligibilityRequest check = CHUANG__FINANCE__ELIGIBILITY_REQUEST__INIT;
        check.programme = "angel-reward";
        check.credit_code = (char *)applicants[i];
        check.subject = subject[i];
        reply = finance_fixture_call(s_keeper, "CheckEligibility", &check.base);
        assert_int_equal(reply->status, CHUANG__STATUS__OK);
        Chuang__Finance__Eligibility *e =
            chuang__finance__eligibility__unpack(NULL, reply->payload.len, reply->payload.data);
        assert_int_equal(e->eligible, eligible[i]);
        assert_string_equal(e->results[0]->actual,
                            i == 2 ? "the subject names no investment of a fund the applicant "
                                     "manages"
                                   : rounds[i]);
        chuang__finance__eligibility__free_unpacked(e, NULL);
        chuang__reply__free_unpacked(reply, NULL);
    }
}

static void test_bad_reports_are_refused_and_change_nothing(void **state)
{
    (void)state;
    finance_fixture_wait_known(s_keeper, s_far);
    long long investments = s_value("SELECT count(*) FROM fund_investments");
    long long funds = s_value("SELECT count(*) FROM investment_funds");
    int64_t angel = s_value("SELECT min(id) FROM investment_funds");

    /* Every field of a report at once. */
    Chuang__Reply *reply = s_report(s_manager, 0, "x", 0, "2026-13-01", "series-x");
    assert_int_equal(reply->status, CHUANG__STATUS__INVALID_ARGUMENT);
    assert_int_equal(reply->n_violations, 5);
    chuang__reply__free_unpacked(reply, NULL);
    /* An entity outside the district; a round reported twice; a day to
     * come. */
    finance_fixture_assert_refused(s_report(s_manager, angel, s_far, 100, "", "seed"),
                                   CHUANG__STATUS__FAILED_PRECONDITION, "credit_code");
    finance_fixture_assert_refused(s_report(s_manager, angel, s_startup, 100, "", "angel"),
                                   CHUANG__STATUS__ALREADY_EXISTS, "round");
    finance_fixture_assert_refused(s_report(s_manager, angel, s_startup, 100, "2099-01-01", "b"),
                                   CHUANG__STATUS__INVALID_ARGUMENT, "invested_on");
    finance_fixture_assert_refused(s_report(s_manager, angel, s_startup, 100, "2025-05-31", "b"),
                                   CHUANG__STATUS__INVALID_ARGUMENT, "invested_on");
    /* A filing code filed already; a manager's key naming another key. */
    Chuang__Status status;
    assert_int_equal(s_file(s_manager, "angel", "SXY001", "", &status), 0);
    assert_int_equal(status, CHUANG__STATUS__ALREADY_EXISTS);
    assert_int_equal(s_file(s_manager, "angel", "SXY009", "investor-2", &status), 0);
    assert_int_equal(status, CHUANG__STATUS__INVALID_ARGUMENT);
    /* Only finance officers record a fund. */
    Chuang__Finance__InvestmentFundDecision decision =
        CHUANG__FINANCE__INVESTMENT_FUND_DECISION__INIT;
    decision.id = angel;
    decision.decision = "deregistered";
    decision.reason = "清算";
    assert_int_equal(finance_fixture_status(s_manager, "DecideInvestmentFund", &decision.base),
                     CHUANG__STATUS__PERMISSION_DENIED);

    assert_int_equal(s_value("SELECT count(*) FROM fund_investments"), investments);
    assert_int_equal(s_value("SELECT count(*) FROM investment_funds"), funds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_funds_filed_and_an_entity_first_investment_marked),
        cmocka_unit_test(test_bad_reports_are_refused_and_change_nothing),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
