/*
 * test_bank_matching.c - bank–enterprise matching (银企对接) through the
 * broker against the harness's PostgreSQL and Redis: two banks' products,
 * a start-up's need matched to the two that fit, ranked, with the reasons;
 * the banks' responses to the need, each on its own products; a loan lent
 * marking the entity's first loan; a matchmaking meeting; the bank's year
 * of lending deciding a lending-reward programme's condition; bad input
 * refused with nothing written.
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
static client_t *s_keeper;  /* a finance officer of DISTRICT */
static client_t *s_officer; /* an officer of DISTRICT */
static client_t *s_bank[2]; /* two banks' own keys */
static char *s_startup;
static char *s_branch[2]; /* the two banks' branches, entities of DISTRICT */
static char *s_far;       /* an entity of CITY, outside DISTRICT */

static int s_setup(void **state)
{
    (void)state;
    if (finance_fixture_start(&s_deployment, "bank_matching", "mtest") != 0)
        return -1;
    s_keeper = finance_fixture_client(&s_deployment, DISTRICT, "keeper-1", "finance-officer");
    s_officer = finance_fixture_client(&s_deployment, DISTRICT, "officer-1", "officer");
    s_bank[0] = finance_fixture_client(&s_deployment, DISTRICT, "bank-jsb", "bank");
    s_bank[1] = finance_fixture_client(&s_deployment, DISTRICT, "bank-zjb", "bank");
    client_t *clerk = finance_fixture_client(&s_deployment, DISTRICT, "clerk-1", "officer");
    client_t *city_clerk = finance_fixture_client(&s_deployment, CITY, "clerk-9", "officer");
    s_startup = registry_fixture_register(clerk, "贷需");
    s_branch[0] = registry_fixture_register(clerk, "江行");
    s_branch[1] = registry_fixture_register(clerk, "镇行");
    s_far = registry_fixture_register_in(city_clerk, "北区", "330105");
    client_destroy(&clerk);
    client_destroy(&city_clerk);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    client_destroy(&s_keeper);
    client_destroy(&s_officer);
    for (int i = 0; i < 2; i++) {
        client_destroy(&s_bank[i]);
        free(s_branch[i]);
    }
    free(s_startup);
    free(s_far);
    return finance_fixture_stop(&s_deployment);
}

static long long s_value(const char *sql)
{
    return finance_fixture_value(s_deployment.db_url, sql);
}

/* Publishes a product as bank b: its id (0 when refused, *status). */
static int64_t s_product(int b, const char *name, int64_t min, int64_t max, int term_min,
                         int term_max, int rate_min, int rate_max, char **industries,
                         size_t n_industries, char **stages, size_t n_stages, char **security,
                         size_t n_security, Chuang__Status *status)
{
    Chuang__Finance__LoanProductRequest r = CHUANG__FINANCE__LOAN_PRODUCT_REQUEST__INIT;
    r.bank = b ? "镇江银行科技支行" : "江苏银行镇江分行";
    r.bank_credit_code = s_branch[b];
    r.name = (char *)name;
    r.amount_min_fen = min;
    r.amount_max_fen = max;
    r.term_min_months = term_min;
    r.term_max_months = term_max;
    r.rate_min_bp = rate_min;
    r.rate_max_bp = rate_max;
    r.industries = industries;
    r.n_industries = n_industries;
    r.stages = stages;
    r.n_stages = n_stages;
    r.security = security;
    r.n_security = n_security;
    Chuang__Reply *reply = finance_fixture_call(s_bank[b], "PublishLoanProduct", &r.base);
    *status = reply->status;
    int64_t id = 0;
    if (reply->status == CHUANG__STATUS__OK) {
        Chuang__Finance__LoanProduct *p =
            chuang__finance__loan_product__unpack(NULL, reply->payload.len, reply->payload.data);
        id = p->id;
        chuang__finance__loan_product__free_unpacked(p, NULL);
    }
    chuang__reply__free_unpacked(reply, NULL);
    return id;
}

static Chuang__Reply *s_need(const char *credit_code, char **security, size_t n_security)
{
    Chuang__Finance__FinancingNeedRequest r = CHUANG__FINANCE__FINANCING_NEED_REQUEST__INIT;
    r.credit_code = (char *)credit_code;
    r.amount_fen = 50000000; /* ¥500,000 */
    r.term_months = 12;
    r.max_rate_bp = 480;
    r.stage = "startup";
    r.security = security;
    r.n_security = n_security;
    r.purpose = "研发设备采购";
    return finance_fixture_call(s_officer, "PublishFinancingNeed", &r.base);
}

static Chuang__Finance__MatchList *s_matches(client_t *client, const char *method, int64_t id,
                                             Chuang__Status *status)
{
    Chuang__Finance__MatchRequest request = CHUANG__FINANCE__MATCH_REQUEST__INIT;
    request.id = id;
    Chuang__Reply *reply = finance_fixture_call(client, method, &request.base);
    *status = reply->status;
    Chuang__Finance__MatchList *list = NULL;
    if (reply->status == CHUANG__STATUS__OK)
        list = chuang__finance__match_list__unpack(NULL, reply->payload.len, reply->payload.data);
    chuang__reply__free_unpacked(reply, NULL);
    return list;
}

static const Chuang__Finance__MatchReason *s_reason(const Chuang__Finance__Match *match,
                                                    const char *criterion)
{
    for (size_t i = 0; i < match->n_reasons; i++)
        if (streq(match->reasons[i]->criterion, criterion))
            return match->reasons[i];
    fail_msg("no reason %s", criterion);
    return NULL;
}

static Chuang__Status s_respond(client_t *client, int64_t need, int64_t product,
                                const char *response, const char *reason, int64_t amount)
{
    Chuang__Finance__MatchResponseRequest r = CHUANG__FINANCE__MATCH_RESPONSE_REQUEST__INIT;
    r.need_id = need;
    r.product_id = product;
    r.response = (char *)response;
    r.reason = (char *)reason;
    r.amount_fen = amount;
    return finance_fixture_status(client, "RecordMatchResponse", &r.base);
}

static void test_a_need_matched_to_two_products_with_reasons(void **state)
{
    (void)state;
    finance_fixture_wait_known(s_keeper, s_startup);
    finance_fixture_wait_known(s_keeper, s_branch[0]);
    finance_fixture_wait_known(s_keeper, s_branch[1]);
    char *it[1] = {"I"}, *manufacturing[1] = {"C"}, *early[2] = {"startup", "growth"};
    char *unsecured[2] = {"credit", "guarantee"}, *collateral[1] = {"collateral"};
    Chuang__Status status;
    /* 苏科贷 for software start-ups on credit or a guarantee; 镇科通 for
     * manufacturers on collateral; a large loan that no start-up's need
     * reaches. */
    int64_t sukedai = s_product(0, "苏科贷", 10000000, 300000000, 6, 36, 350, 500, it, 1, early, 2,
                                unsecured, 2, &status);
    assert_int_equal(status, CHUANG__STATUS__OK);
    int64_t zhenketong = s_product(1, "镇科通", 500000, 100000000, 12, 24, 450, 600, manufacturing,
                                   1, NULL, 0, collateral, 1, &status);
    assert_int_equal(status, CHUANG__STATUS__OK);
    int64_t large = s_product(1, "大额贷", 500000000, 2000000000, 12, 60, 400, 500, NULL, 0, NULL,
                              0, collateral, 1, &status);
    assert_int_equal(status, CHUANG__STATUS__OK);

    char *guarantee[1] = {"guarantee"};
    Chuang__Reply *reply = s_need(s_startup, guarantee, 1);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Finance__FinancingNeed *need =
        chuang__finance__financing_need__unpack(NULL, reply->payload.len, reply->payload.data);
    int64_t need_id = need->id;
    assert_string_equal(need->industry_code, "I6513");
    chuang__finance__financing_need__free_unpacked(need, NULL);
    chuang__reply__free_unpacked(reply, NULL);

    /* The two that fit its amount and term, the better first, with why. */
    Chuang__Finance__MatchList *list = s_matches(s_officer, "MatchNeed", need_id, &status);
    assert_int_equal(status, CHUANG__STATUS__OK);
    assert_int_equal(list->n_matches, 2);
    assert_true(list->matches[0]->product->id == sukedai);
    assert_int_equal(list->matches[0]->score, 6);
    assert_true(list->matches[1]->product->id == zhenketong);
    assert_int_equal(list->matches[1]->score, 4);
    const Chuang__Finance__MatchReason *industry = s_reason(list->matches[1], "industry");
    assert_false(industry->fits);
    assert_non_null(strstr(industry->detail, "I6513"));
    assert_false(s_reason(list->matches[1], "security")->fits);
    assert_true(s_reason(list->matches[1], "rate")->fits);
    assert_true(s_reason(list->matches[0], "security")->fits);
    for (size_t i = 0; i < list->n_matches; i++)
        assert_true(list->matches[i]->product->id != large);
    chuang__finance__match_list__free_unpacked(list, NULL);

    /* Each bank sees the needs that fit its own products only. */
    list = s_matches(s_bank[0], "MatchProduct", sukedai, &status);
    assert_int_equal(status, CHUANG__STATUS__OK);
    assert_int_equal(list->n_matches, 1);
    assert_true(list->matches[0]->need->id == need_id);
    chuang__finance__match_list__free_unpacked(list, NULL);
    assert_null(s_matches(s_bank[1], "MatchProduct", sukedai, &status));
    assert_int_equal(status, CHUANG__STATUS__PERMISSION_DENIED);

    /* The bank contacts the entity and lends; the need is met, and it is
     * the entity's first loan. */
    assert_int_equal(s_respond(s_bank[0], need_id, sukedai, "contacted", "", 0),
                     CHUANG__STATUS__OK);
    assert_int_equal(s_respond(s_bank[1], need_id, sukedai, "contacted", "", 0),
                     CHUANG__STATUS__PERMISSION_DENIED);
    assert_int_equal(s_respond(s_bank[1], need_id, zhenketong, "declined", "", 0),
                     CHUANG__STATUS__INVALID_ARGUMENT);
    assert_int_equal(s_respond(s_bank[1], need_id, zhenketong, "declined", "无抵押物", 0),
                     CHUANG__STATUS__OK);
    assert_int_equal(s_respond(s_bank[0], need_id, sukedai, "lent", "", 40000000),
                     CHUANG__STATUS__OK);
    assert_int_equal(s_respond(s_bank[0], need_id, sukedai, "lent", "", 40000000),
                     CHUANG__STATUS__FAILED_PRECONDITION);
    Chuang__Finance__EntityFactsRequest whom = CHUANG__FINANCE__ENTITY_FACTS_REQUEST__INIT;
    whom.credit_code = s_startup;
    reply = finance_fixture_call(s_keeper, "GetEntityFacts", &whom.base);
    Chuang__Finance__EntityFacts *facts =
        chuang__finance__entity_facts__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_string_not_equal(facts->first_loan_on, "");
    chuang__finance__entity_facts__free_unpacked(facts, NULL);
    chuang__reply__free_unpacked(reply, NULL);

    /* A bank–enterprise meeting with the bank and the entity. */
    Chuang__Finance__MeetingParticipant people[2];
    Chuang__Finance__MeetingParticipant *participants[2] = {&people[0], &people[1]};
    for (int i = 0; i < 2; i++)
        chuang__finance__meeting_participant__init(&people[i]);
    people[0].role = "bank";
    people[0].credit_code = s_branch[0];
    people[0].name = "江苏银行镇江分行";
    people[1].role = "entity";
    people[1].credit_code = s_startup;
    people[1].name = "杭州贷需网络科技有限公司";
    Chuang__Finance__MeetingRequest meeting = CHUANG__FINANCE__MEETING_REQUEST__INIT;
    meeting.kind = "bank_enterprise";
    meeting.title = "2026年银企交流会";
    meeting.held_on = "2026-05-20";
    meeting.place = "区政务中心三楼";
    meeting.n_participants = 2;
    meeting.participants = participants;
    assert_int_equal(finance_fixture_status(s_officer, "ScheduleMeeting", &meeting.base),
                     CHUANG__STATUS__OK);

    /* The bank's year of lending, and the lending reward it decides. */
    Chuang__Finance__BankLendingRequest ask = CHUANG__FINANCE__BANK_LENDING_REQUEST__INIT;
    ask.bank_credit_code = s_branch[0];
    reply = finance_fixture_call(s_keeper, "GetBankLending", &ask.base);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Finance__BankLending *lending =
        chuang__finance__bank_lending__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_int_equal(lending->loans, 1);
    assert_true(lending->lent_fen == 40000000);
    assert_int_equal(lending->entities, 1);
    assert_int_equal(lending->first_loans, 1);
    assert_int_equal(lending->meetings, 1);
    chuang__finance__bank_lending__free_unpacked(lending, NULL);
    chuang__reply__free_unpacked(reply, NULL);

    finance_fixture_fund(s_keeper, "lending-reward-fund", 10000000, "镇财〔2026〕2号");
    char *threshold[1] = {"30000000"};
    Chuang__Finance__Condition lent = CHUANG__FINANCE__CONDITION__INIT;
    lent.fact = "lending_fen";
    lent.test = "at_least";
    lent.n_values = 1;
    lent.values = threshold;
    Chuang__Finance__Condition *conditions[1] = {&lent};
    char *approvals[1] = {"finance"};
    Chuang__Finance__ProgrammeVersion version = CHUANG__FINANCE__PROGRAMME_VERSION__INIT;
    version.effective_from = "2026-01-01";
    version.document = "镇政发〔2026〕8号";
    version.n_conditions = 1;
    version.conditions = conditions;
    version.n_approvals = 1;
    version.approvals = approvals;
    Chuang__Finance__DefineProgrammeRequest define =
        CHUANG__FINANCE__DEFINE_PROGRAMME_REQUEST__INIT;
    define.code = "bank-lending-reward";
    define.name = "金融机构支持科技企业贷款奖励";
    define.kind = "reward";
    define.level = "district";
    define.fund = "lending-reward-fund";
    define.department = "finance";
    define.version = &version;
    assert_int_equal(finance_fixture_status(s_keeper, "DefineProgramme", &define.base),
                     CHUANG__STATUS__OK);
    for (int b = 0; b < 2; b++) {
        Chuang__Finance__EligibilityRequest check = CHUANG__FINANCE__ELIGIBILITY_REQUEST__INIT;
        check.programme = "bank-lending-reward";
        check.credit_code = s_branch[b];
        reply = finance_fixture_call(s_keeper, "CheckEligibility", &check.base);
        assert_int_equal(reply->status, CHUANG__STATUS__OK);
        Chuang__Finance__Eligibility *e =
            chuang__finance__eligibility__unpack(NULL, reply->payload.len, reply->payload.data);
        assert_int_equal(e->eligible, b == 0);
        assert_string_equal(e->results[0]->actual, b == 0 ? "40000000" : "0");
        chuang__finance__eligibility__free_unpacked(e, NULL);
        chuang__reply__free_unpacked(reply, NULL);
    }
}

static void test_bad_matching_input_is_refused_and_changes_nothing(void **state)
{
    (void)state;
    finance_fixture_wait_known(s_keeper, s_far);
    long long products = s_value("SELECT count(*) FROM loan_products");
    long long needs = s_value("SELECT count(*) FROM financing_needs");
    long long responses = s_value("SELECT count(*) FROM match_responses");

    /* A need of an entity outside the district. */
    char *credit[1] = {"credit"};
    finance_fixture_assert_refused(s_need(s_far, credit, 1), CHUANG__STATUS__FAILED_PRECONDITION,
                                   "credit_code");
    /* Upside-down ranges and security it does not know. */
    char *bad[1] = {"goodwill"}, *industry[1] = {"software"};
    Chuang__Status status;
    assert_int_equal(
        s_product(0, "坏", 100, 10, 12, 6, 500, 400, industry, 1, NULL, 0, bad, 1, &status), 0);
    assert_int_equal(status, CHUANG__STATUS__INVALID_ARGUMENT);
    /* An applicant may not publish a product; a response to a need that
     * is not there. */
    client_t *applicant = finance_fixture_client(&s_deployment, DISTRICT, "person-1", "applicant");
    Chuang__Finance__LoanProductRequest r = CHUANG__FINANCE__LOAN_PRODUCT_REQUEST__INIT;
    assert_int_equal(finance_fixture_status(applicant, "PublishLoanProduct", &r.base),
                     CHUANG__STATUS__PERMISSION_DENIED);
    client_destroy(&applicant);
    int64_t product = s_value("SELECT min(id) FROM loan_products");
    assert_int_equal(s_respond(s_bank[0], 999999, product, "contacted", "", 0),
                     CHUANG__STATUS__NOT_FOUND);
    assert_int_equal(s_respond(s_bank[0], 1, product, "contacted", "", 5),
                     CHUANG__STATUS__INVALID_ARGUMENT);

    assert_int_equal(s_value("SELECT count(*) FROM loan_products"), products);
    assert_int_equal(s_value("SELECT count(*) FROM financing_needs"), needs);
    assert_int_equal(s_value("SELECT count(*) FROM match_responses"), responses);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_need_matched_to_two_products_with_reasons),
        cmocka_unit_test(test_bad_matching_input_is_refused_and_changes_nothing),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
