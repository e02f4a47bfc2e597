/*
 * test_incubator.c - the incubator service through the broker against the
 * harness's PostgreSQL and Redis, beside the registry and finance: a team
 * admitted to a nursery, registered through the registry (whose event
 * links it), moved to an incubator and graduated; the incubation subsidy
 * finance opens for it once, also when finance is killed and the event
 * redelivered, then awarded and paid with the books balanced, and its
 * progress seen on the tenancy; a space double-booked by two admissions
 * at once let to one of them; bad requests refused by field with nothing
 * written; a mentor's service (never in the future), activities with
 * their attendance and the weeks with a roadshow, carriers' checked
 * figures ranked anew under a scheme from a later day, and a unit's
 * target with its half-yearly progress.
 */
#include "client.h"
#include "finance.pb-c.h"
#include "finance_fixture.h"
#include "harness.h"
#include "incubator.pb-c.h"
#include "redis_link.h"
#include "registry_fixture.h"

#include <czmq.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define DISTRICT "330106"
#define FOUNDER  "330106199505120034" /* the nursery team's founder, a veteran */

static finance_fixture_t s_deployment;
static client_t *s_officer, *s_clerk, *s_keeper, *s_reviewer, *s_operator;
static char *s_operator_code, *s_firm_a, *s_firm_b;

static Chuang__Reply *s_call(client_t *client, const char *method, const ProtobufCMessage *input)
{
    Chuang__Reply *reply = client_call(client, "incubator", method, input, NULL);
    if (!reply)
        fail_msg("incubator %s: no reply", method);
    return reply;
}

/* The reply's payload as descriptor's message (caller frees), failing the
 * test unless the call succeeded. */
static void *s_ok(client_t *client, const char *method, const ProtobufCMessage *input,
                  const ProtobufCMessageDescriptor *descriptor)
{
    Chuang__Reply *reply = s_call(client, method, input);
    if (reply->status != CHUANG__STATUS__OK)
        fail_msg("incubator %s: status %d, %s (%s)", method, reply->status, reply->message,
                 reply->n_violations ? reply->violations[0]->description : "");
    void *message =
        protobuf_c_message_unpack(descriptor, NULL, reply->payload.len, reply->payload.data);
    assert_non_null(message);
    chuang__reply__free_unpacked(reply, NULL);
    return message;
}

/* The agency's day (Asia/Shanghai) days from today, in day. */
static void s_day(int days, char day[16])
{
    time_t then = time(NULL) + 8 * 3600 + (time_t)days * 86400;
    strftime(day, 16, "%Y-%m-%d", gmtime(&then));
}

static char *s_today(void)
{
    char *day = malloc(16);
    s_day(0, day);
    return day;
}

/* Registers carrier code of type as the incubator officer, waiting (up to
 * 15 s) for the incubator to learn of the operator from the registry. */
static void s_carrier(const char *code, const char *type, int64_t area, bool government_run,
                      const char *principal)
{
    Chuang__Registry__Address address = CHUANG__REGISTRY__ADDRESS__INIT;
    address.division_code = DISTRICT;
    address.detail = "文三路 90 号";
    Chuang__Incubator__CarrierRequest request = CHUANG__INCUBATOR__CARRIER_REQUEST__INIT;
    request.code = (char *)code;
    request.name = (char *)code;
    request.carrier_type = (char *)type;
    request.taxonomy = "science_technology";
    request.operator_credit_code = s_operator_code;
    request.area_m2 = area;
    request.government_run = government_run;
    request.address = &address;
    request.principal = (char *)principal;
    for (int i = 0; i < 150; i++) {
        Chuang__Reply *reply = s_call(s_officer, "RegisterCarrier", &request.base);
        Chuang__Status status = reply->status;
        chuang__reply__free_unpacked(reply, NULL);
        if (status == CHUANG__STATUS__OK)
            return;
        assert_int_equal(status, CHUANG__STATUS__INVALID_ARGUMENT);
        zclock_sleep(100);
    }
    fail_msg("the incubator never learnt of the operator");
}

static void s_space(const char *carrier, const char *code, const char *kind, int64_t area)
{
    Chuang__Incubator__SpaceRequest request = CHUANG__INCUBATOR__SPACE_REQUEST__INIT;
    request.carrier_code = (char *)carrier;
    request.code = (char *)code;
    request.kind = (char *)kind;
    request.area_m2 = area;
    chuang__incubator__space__free_unpacked(
        s_ok(s_operator, "AddSpace", &request.base, &chuang__incubator__space__descriptor), NULL);
}

/* Applies for credit_code's tenancy at carrier as client, waiting (up to
 * 15 s) for the incubator to learn of a firm just registered from the
 * registry's stream. */
static Chuang__Incubator__Tenancy *s_apply_firm(client_t *client, const char *carrier,
                                                const char *credit_code)
{
    Chuang__Incubator__TenancyApplication a = CHUANG__INCUBATOR__TENANCY_APPLICATION__INIT;
    a.carrier_code = (char *)carrier;
    a.credit_code = (char *)credit_code;
    Chuang__Reply *reply = s_call(client, "ApplyForTenancy", &a.base);
    for (int i = 0; i < 150 && reply->status == CHUANG__STATUS__INVALID_ARGUMENT; i++) {
        chuang__reply__free_unpacked(reply, NULL);
        zclock_sleep(100);
        reply = s_call(client, "ApplyForTenancy", &a.base);
    }
    if (reply->status != CHUANG__STATUS__OK)
        fail_msg("ApplyForTenancy: status %d, %s", reply->status, reply->message);
    Chuang__Incubator__Tenancy *tenancy =
        chuang__incubator__tenancy__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_non_null(tenancy);
    chuang__reply__free_unpacked(reply, NULL);
    return tenancy;
}

static Chuang__Reply *s_admit(client_t *client, int64_t id, const char *space, const char *start,
                              const char *end)
{
    Chuang__Incubator__TenancyDecision d = CHUANG__INCUBATOR__TENANCY_DECISION__INIT;
    d.id = id;
    d.admit = true;
    d.space_code = (char *)space;
    d.start_on = (char *)start;
    d.end_on = (char *)end;
    return s_call(client, "DecideTenancy", &d.base);
}

static Chuang__Incubator__Tenancy *s_tenancy(int64_t id)
{
    Chuang__Incubator__GetTenancyRequest get = CHUANG__INCUBATOR__GET_TENANCY_REQUEST__INIT;
    get.id = id;
    return s_ok(s_officer, "GetTenancy", &get.base, &chuang__incubator__tenancy__descriptor);
}

static long long s_count(const char *sql)
{
    return finance_fixture_value(s_deployment.db_url, sql);
}

/* A count on the incubator's own database. */
static long long s_incubator_count(const char *sql)
{
    static char url[512];
    if (!*url) {
        const char *made = harness_service_db("incubator", "incubator");
        assert_non_null(made);
        snprintf(url, sizeof url, "%s", made);
    }
    return finance_fixture_value_in(url, "incubator", sql);
}

static int s_setup(void **state)
{
    (void)state;
    if (finance_fixture_start(&s_deployment, "incubator", "inctest") != 0 ||
        finance_fixture_start_incubator(&s_deployment) != 0)
        return -1;
    s_officer = finance_fixture_client(&s_deployment, DISTRICT, "incubator-1", "incubator-officer");
    s_clerk = finance_fixture_client(&s_deployment, DISTRICT, "clerk-1", "officer");
    s_keeper = finance_fixture_client(&s_deployment, DISTRICT, "keeper-1", "finance-officer");
    s_reviewer =
        finance_fixture_client(&s_deployment, DISTRICT, "reviewer-1", "reviewer,reviewer-finance");
    s_operator = finance_fixture_client(&s_deployment, DISTRICT, "operator-key", "carrier");
    s_operator_code = registry_fixture_register(s_clerk, "孵化运营");
    s_firm_a = registry_fixture_register(s_clerk, "甲方");
    s_firm_b = registry_fixture_register(s_clerk, "乙方");
    s_carrier("dl-nursery", "nursery", 500, true, "operator-key");
    s_carrier("dl-incubator", "incubator", 3000, false, "operator-key");
    s_space("dl-nursery", "N-01", "desk", 10);
    s_space("dl-incubator", "A-301", "unit", 120);
    s_space("dl-incubator", "B-101", "unit", 80);
    Chuang__Incubator__RentRequest rent = CHUANG__INCUBATOR__RENT_REQUEST__INIT;
    rent.carrier_code = "dl-incubator";
    rent.kind = "unit";
    rent.fen_per_m2_month = 3000;
    rent.document = "孵化器租金标准";
    chuang__incubator__rent__free_unpacked(
        s_ok(s_operator, "SetRent", &rent.base, &chuang__incubator__rent__descriptor), NULL);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    client_destroy(&s_officer);
    client_destroy(&s_clerk);
    client_destroy(&s_keeper);
    client_destroy(&s_reviewer);
    client_destroy(&s_operator);
    free(s_operator_code);
    free(s_firm_a);
    free(s_firm_b);
    return finance_fixture_stop(&s_deployment);
}

/* Defines programme code of kind, paid from the incubation fund, with
 * parameter at value. */
static void s_programme(const char *code, const char *kind, const char *parameter, int64_t value)
{
    Chuang__Finance__Parameter p[2];
    Chuang__Finance__Parameter *parameters[2] = {&p[0], &p[1]};
    chuang__finance__parameter__init(&p[0]);
    chuang__finance__parameter__init(&p[1]);
    p[0].name = (char *)parameter;
    p[0].value = value;
    p[1].name = "notice_days";
    p[1].value = 5;
    char *approvals[1] = {"finance"};
    Chuang__Finance__ProgrammeVersion version = CHUANG__FINANCE__PROGRAMME_VERSION__INIT;
    version.effective_from = "2026-01-01";
    version.document = "中府〔2020〕8号";
    version.n_parameters = 2;
    version.parameters = parameters;
    version.n_approvals = 1;
    version.approvals = approvals;
    Chuang__Finance__DefineProgrammeRequest define =
        CHUANG__FINANCE__DEFINE_PROGRAMME_REQUEST__INIT;
    define.code = (char *)code;
    define.name = (char *)code;
    define.kind = (char *)kind;
    define.level = "district";
    define.fund = "incubation-fund";
    define.department = "finance";
    define.version = &version;
    assert_int_equal(finance_fixture_status(s_keeper, "DefineProgramme", &define.base),
                     CHUANG__STATUS__OK);
}

/* The incubator's graduation criteria: registered, and revenue of ¥50,000
 * or financing of ¥100,000. */
static void s_criteria(void)
{
    Chuang__Incubator__Criterion c[3];
    Chuang__Incubator__Criterion *criteria[3] = {&c[0], &c[1], &c[2]};
    const char *names[3] = {"registered", "revenue_fen", "financing_fen"};
    const int64_t minima[3] = {1, 5000000, 10000000};
    for (int i = 0; i < 3; i++) {
        chuang__incubator__criterion__init(&c[i]);
        c[i].criterion = (char *)names[i];
        c[i].minimum = minima[i];
        c[i].required = i == 0;
    }
    Chuang__Incubator__CriteriaRequest request = CHUANG__INCUBATOR__CRITERIA_REQUEST__INIT;
    request.carrier_type = "incubator";
    request.criteria = criteria;
    request.n_criteria = 3;
    request.document = "孵化器毕业标准";
    chuang__incubator__criteria_set__free_unpacked(
        s_ok(s_officer, "DefineGraduationCriteria", &request.base,
             &chuang__incubator__criteria_set__descriptor),
        NULL);
}

/* Waits (up to 30 s) until finance's incubator consumer has read every
 * event of the incubator's stream and acknowledged it. */
static void s_wait_finance_caught_up(void)
{
    redisContext *redis = redis_link_connect(harness_get("CHUANG_TEST_REDIS_URL"), 3);
    assert_non_null(redis);
    for (int i = 0; i < 300; i++) {
        redisReply *groups = redisCommand(redis, "XINFO GROUPS inctest:incubator:events");
        bool done = false;
        for (size_t g = 0; groups && groups->type == REDIS_REPLY_ARRAY && g < groups->elements;
             g++) {
            redisReply *group = groups->element[g];
            long long pending = -1, lag = -1;
            bool finance = false;
            for (size_t k = 0; k + 1 < group->elements; k += 2) {
                const char *key = group->element[k]->str;
                redisReply *value = group->element[k + 1];
                if (streq(key, "name"))
                    finance = value->str && streq(value->str, "finance");
                else if (streq(key, "pending"))
                    pending = value->integer;
                else if (streq(key, "lag"))
                    lag = value->type == REDIS_REPLY_INTEGER ? value->integer : -1;
            }
            done = done || (finance && pending == 0 && lag == 0);
        }
        freeReplyObject(groups);
        if (done) {
            redisFree(redis);
            return;
        }
        zclock_sleep(100);
    }
    redisFree(redis);
    fail_msg("finance never caught up with the incubator's stream");
}

static void test_a_team_from_the_nursery_to_a_paid_incubation_subsidy(void **state)
{
    (void)state;
    char *today = s_today();
    char end[16];
    snprintf(end, sizeof end, "%.4d%s", atoi(today) + 1, today + 4);
    /* The district's incubation subsidy: ¥3,000 per successful graduate. */
    finance_fixture_fund(s_keeper, "incubation-fund", 100000000, "财〔2026〕21号");
    s_programme("incubation-subsidy", "incubation_subsidy", "per_graduate_fen", 300000);
    s_criteria();

    /* A team with a business plan and a veteran founder applies to the
     * nursery: veterans are admitted first. */
    Chuang__Registry__FounderCategory veteran = CHUANG__REGISTRY__FOUNDER_CATEGORY__VETERAN;
    Chuang__Incubator__TeamFounder founder = CHUANG__INCUBATOR__TEAM_FOUNDER__INIT;
    founder.name = "王五";
    founder.id_number = FOUNDER;
    founder.categories = &veteran;
    founder.n_categories = 1;
    Chuang__Incubator__TeamFounder *founders[1] = {&founder};
    Chuang__Incubator__TenancyApplication a = CHUANG__INCUBATOR__TENANCY_APPLICATION__INIT;
    a.carrier_code = "dl-nursery";
    a.team_name = "智能灌溉团队";
    a.business_plan = "智能灌溉创业计划书 v2";
    a.founders = founders;
    a.n_founders = 1;
    Chuang__Incubator__Tenancy *nursery =
        s_ok(s_operator, "ApplyForTenancy", &a.base, &chuang__incubator__tenancy__descriptor);
    assert_string_equal(nursery->status, "applied");
    assert_int_equal(nursery->priority, 10);
    assert_string_equal(nursery->team->credit_code, "");
    /* The carrier's key sees its applicant's founders, not their ID numbers. */
    assert_string_not_equal(nursery->team->founders[0]->id_number, FOUNDER);
    int64_t team = nursery->team->id;

    /* Admitted to a desk of the government-run nursery: no rent. */
    Chuang__Reply *reply = s_admit(s_operator, nursery->id, "N-01", "", end);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    chuang__reply__free_unpacked(reply, NULL);
    Chuang__Incubator__Tenancy *t = s_tenancy(nursery->id);
    assert_string_equal(t->status, "admitted");
    assert_string_equal(t->agreement->space_code, "N-01");
    assert_int_equal(t->agreement->relief_bp, 10000);
    assert_int_equal(t->agreement->monthly_rent_fen, 0);
    assert_string_equal(t->team->founders[0]->id_number, FOUNDER); /* an officer sees it */
    chuang__incubator__tenancy__free_unpacked(t, NULL);

    /* The team registers: the registry's event links it to its code. */
    char *code = registry_fixture_register_person(s_clerk, "苗圃", "王五", FOUNDER);
    bool linked = false;
    for (int i = 0; i < 150 && !linked; i++) {
        Chuang__Incubator__GetTeamRequest get = CHUANG__INCUBATOR__GET_TEAM_REQUEST__INIT;
        get.id = team;
        Chuang__Incubator__Team *found =
            s_ok(s_officer, "GetTeam", &get.base, &chuang__incubator__team__descriptor);
        linked = streq(found->credit_code, code);
        chuang__incubator__team__free_unpacked(found, NULL);
        if (!linked)
            zclock_sleep(100);
    }
    assert_true(linked);

    /* It moves on from the nursery to the incubator: the same team. */
    Chuang__Incubator__ExitRequest exit = CHUANG__INCUBATOR__EXIT_REQUEST__INIT;
    exit.id = nursery->id;
    exit.outcome = "moved_on";
    exit.reason = "注册成立后入驻孵化器";
    chuang__incubator__tenancy__free_unpacked(
        s_ok(s_operator, "EndTenancy", &exit.base, &chuang__incubator__tenancy__descriptor), NULL);
    Chuang__Incubator__Tenancy *moved = s_apply_firm(s_operator, "dl-incubator", code);
    assert_int_equal(moved->team->id, team);
    assert_int_equal(moved->team->n_tenancies, 2);
    reply = s_admit(s_operator, moved->id, "A-301", "", end);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Incubator__Tenancy *admitted =
        chuang__incubator__tenancy__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_int_equal(admitted->agreement->rent_fen_per_m2_month, 3000);
    assert_int_equal(admitted->agreement->monthly_rent_fen, 3000 * 120);
    chuang__incubator__tenancy__free_unpacked(admitted, NULL);
    chuang__reply__free_unpacked(reply, NULL);

    /* Graduated, certified a successful incubation, on its revenue. */
    Chuang__Incubator__GraduationRequest g = CHUANG__INCUBATOR__GRADUATION_REQUEST__INIT;
    g.id = moved->id;
    g.revenue_fen = 6000000;
    g.jobs = 12;
    g.successful = true;
    Chuang__Incubator__Tenancy *graduated =
        s_ok(s_officer, "GraduateTenant", &g.base, &chuang__incubator__tenancy__descriptor);
    assert_string_equal(graduated->status, "graduated");
    assert_int_equal(graduated->graduation->n_criteria, 3);
    assert_true(graduated->graduation->criteria[0]->holds);
    chuang__incubator__tenancy__free_unpacked(graduated, NULL);

    /* Finance opens the subsidy for the operator, once. */
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM applications WHERE subject = 'graduation:%" PRId64 "'",
             moved->id);
    for (int i = 0; i < 150 && s_count(sql) == 0; i++)
        zclock_sleep(100);
    assert_int_equal(s_count(sql), 1);
    snprintf(sql, sizeof sql,
             "SELECT id FROM applications WHERE subject = 'graduation:%" PRId64 "'"
             " AND applicant = '%s' AND amount_fen = 300000",
             moved->id, s_operator_code);
    int64_t application = s_count(sql);

    /* Finance dies, and the incubator's events come again from the start:
     * still one application. */
    redisContext *redis = redis_link_connect(harness_get("CHUANG_TEST_REDIS_URL"), 3);
    assert_non_null(redis);
    assert_int_equal(finance_fixture_restart_finance(&s_deployment) == 0, true);
    freeReplyObject(redisCommand(redis, "XGROUP SETID inctest:incubator:events finance 0"));
    redisFree(redis);
    s_wait_finance_caught_up();
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM applications WHERE subject = 'graduation:%" PRId64 "'",
             moved->id);
    assert_int_equal(s_count(sql), 1);

    /* Submitted, reviewed, through its notice, awarded and paid. */
    finance_fixture_wait_known(s_keeper, s_operator_code);
    Chuang__Status status;
    char *got =
        finance_fixture_step_status(s_keeper, "SubmitApplication", application, "", &status);
    assert_string_equal(got, "under_review");
    free(got);
    Chuang__Finance__ReviewRequest review = CHUANG__FINANCE__REVIEW_REQUEST__INIT;
    review.id = application;
    review.department = "finance";
    review.approve = true;
    assert_int_equal(finance_fixture_status(s_reviewer, "ReviewApplication", &review.base),
                     CHUANG__STATUS__OK);
    got = finance_fixture_end_notice(s_keeper, s_deployment.db_url,
                                     harness_get("CHUANG_TEST_REDIS_URL"), "inctest:finance",
                                     application);
    assert_string_equal(got, "awarded");
    free(got);
    Chuang__Finance__PaymentRequest pay = CHUANG__FINANCE__PAYMENT_REQUEST__INIT;
    pay.id = application;
    pay.amount_fen = 300000;
    assert_int_equal(finance_fixture_status(s_keeper, "PayAward", &pay.base), CHUANG__STATUS__OK);
    Chuang__Finance__TrialBalanceRequest trial = CHUANG__FINANCE__TRIAL_BALANCE_REQUEST__INIT;
    Chuang__Reply *balance = finance_fixture_call(s_keeper, "GetTrialBalance", &trial.base);
    assert_int_equal(balance->status, CHUANG__STATUS__OK);
    Chuang__Finance__TrialBalance *books =
        chuang__finance__trial_balance__unpack(NULL, balance->payload.len, balance->payload.data);
    assert_true(books->total_debit_fen > 0);
    assert_int_equal(books->total_debit_fen, books->total_credit_fen);
    chuang__finance__trial_balance__free_unpacked(books, NULL);
    chuang__reply__free_unpacked(balance, NULL);

    /* The tenancy shows the subsidy paid. */
    bool paid = false;
    for (int i = 0; i < 150 && !paid; i++) {
        t = s_tenancy(moved->id);
        paid = t->graduation->subsidy_application_id == application &&
               streq(t->graduation->subsidy_status, "paid") && t->graduation->subsidy_fen == 300000;
        chuang__incubator__tenancy__free_unpacked(t, NULL);
        if (!paid)
            zclock_sleep(100);
    }
    assert_true(paid);
    chuang__incubator__tenancy__free_unpacked(moved, NULL);
    chuang__incubator__tenancy__free_unpacked(nursery, NULL);
    free(code);
    free(today);
}

typedef struct {
    int64_t tenancy;
    const char *end;
    Chuang__Status status;
    bool space_named;
} s_booking_t;

static void *s_book(void *arg)
{
    s_booking_t *b = arg;
    client_t *client =
        finance_fixture_client(&s_deployment, DISTRICT, "incubator-2", "incubator-officer");
    Chuang__Reply *reply = s_admit(client, b->tenancy, "B-101", "", b->end);
    b->status = reply->status;
    for (size_t i = 0; i < reply->n_violations; i++)
        b->space_named = b->space_named || streq(reply->violations[i]->field, "space_code");
    chuang__reply__free_unpacked(reply, NULL);
    client_destroy(&client);
    return NULL;
}

static void test_a_space_booked_twice_at_once_is_let_once(void **state)
{
    (void)state;
    char *today = s_today();
    char end[16];
    snprintf(end, sizeof end, "%.4d%s", atoi(today) + 1, today + 4);
    Chuang__Incubator__Tenancy *a = s_apply_firm(s_clerk, "dl-incubator", s_firm_a);
    Chuang__Incubator__Tenancy *b = s_apply_firm(s_clerk, "dl-incubator", s_firm_b);
    s_booking_t bookings[2] = {{a->id, end, 0, false}, {b->id, end, 0, false}};
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&threads[i], NULL, s_book, &bookings[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
    int won =
        (bookings[0].status == CHUANG__STATUS__OK) + (bookings[1].status == CHUANG__STATUS__OK);
    assert_int_equal(won, 1);
    s_booking_t *lost = bookings[0].status == CHUANG__STATUS__OK ? &bookings[1] : &bookings[0];
    assert_int_equal(lost->status, CHUANG__STATUS__INVALID_ARGUMENT);
    assert_true(lost->space_named);
    /* The loser is still waiting, with no agreement. */
    Chuang__Incubator__Tenancy *t = s_tenancy(lost->tenancy);
    assert_string_equal(t->status, "applied");
    assert_null(t->agreement);
    chuang__incubator__tenancy__free_unpacked(t, NULL);
    assert_int_equal(s_incubator_count("SELECT count(*) FROM agreements a JOIN spaces s"
                                       " ON s.id = a.space WHERE s.code = 'B-101'"),
                     1);
    chuang__incubator__tenancy__free_unpacked(a, NULL);
    chuang__incubator__tenancy__free_unpacked(b, NULL);
    free(today);
}

static void test_bad_requests_are_refused_by_field_and_change_nothing(void **state)
{
    (void)state;
    long long spaces = s_incubator_count("SELECT count(*) FROM spaces");
    long long graduations = s_incubator_count("SELECT count(*) FROM graduations");
    Chuang__Incubator__SpaceRequest space = CHUANG__INCUBATOR__SPACE_REQUEST__INIT;
    space.carrier_code = "dl-incubator";
    space.code = "C-1";
    space.kind = "office";
    space.area_m2 = 0;
    finance_fixture_assert_refused(s_call(s_operator, "AddSpace", &space.base),
                                   CHUANG__STATUS__INVALID_ARGUMENT, "area_m2");

    /* A carrier's key acts on its own carrier only. */
    client_t *other = finance_fixture_client(&s_deployment, DISTRICT, "other-key", "carrier");
    space.area_m2 = 20;
    Chuang__Reply *reply = s_call(other, "AddSpace", &space.base);
    assert_int_equal(reply->status, CHUANG__STATUS__PERMISSION_DENIED);
    chuang__reply__free_unpacked(reply, NULL);
    client_destroy(&other);

    /* A physical carrier of no area. */
    Chuang__Registry__Address address = CHUANG__REGISTRY__ADDRESS__INIT;
    address.division_code = DISTRICT;
    address.detail = "文三路 1 号";
    Chuang__Incubator__CarrierRequest carrier = CHUANG__INCUBATOR__CARRIER_REQUEST__INIT;
    carrier.code = "no-area";
    carrier.name = "无面积";
    carrier.carrier_type = "maker_space";
    carrier.taxonomy = "science_technology";
    carrier.operator_credit_code = s_operator_code;
    carrier.address = &address;
    finance_fixture_assert_refused(s_call(s_officer, "RegisterCarrier", &carrier.base),
                                   CHUANG__STATUS__INVALID_ARGUMENT, "area_m2");

    /* Graduation of a tenant who never entered. */
    Chuang__Incubator__Tenancy *applied = NULL;
    Chuang__Incubator__ListTenanciesRequest list = CHUANG__INCUBATOR__LIST_TENANCIES_REQUEST__INIT;
    list.carrier_code = "dl-incubator";
    list.status = "applied";
    Chuang__Incubator__TenancyPage *page =
        s_ok(s_officer, "ListTenancies", &list.base, &chuang__incubator__tenancy_page__descriptor);
    assert_true(page->n_tenancies >= 1);
    applied = page->tenancies[0];
    Chuang__Incubator__GraduationRequest g = CHUANG__INCUBATOR__GRADUATION_REQUEST__INIT;
    g.id = applied->id;
    g.revenue_fen = 9000000;
    g.successful = true;
    finance_fixture_assert_refused(s_call(s_officer, "GraduateTenant", &g.base),
                                   CHUANG__STATUS__INVALID_ARGUMENT, "id");
    chuang__incubator__tenancy_page__free_unpacked(page, NULL);

    assert_int_equal(s_incubator_count("SELECT count(*) FROM spaces"), spaces);
    assert_int_equal(s_incubator_count("SELECT count(*) FROM graduations"), graduations);
}

/* A firm admitted to a new office of the incubator from today. */
static Chuang__Incubator__Tenancy *s_resident(const char *name, const char *space)
{
    char end[16];
    s_day(365, end);
    char *firm = registry_fixture_register(s_clerk, name);
    s_space("dl-incubator", space, "unit", 40);
    Chuang__Incubator__Tenancy *applied = s_apply_firm(s_operator, "dl-incubator", firm);
    Chuang__Reply *reply = s_admit(s_operator, applied->id, space, "", end);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Incubator__Tenancy *t =
        chuang__incubator__tenancy__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_non_null(t);
    chuang__reply__free_unpacked(reply, NULL);
    chuang__incubator__tenancy__free_unpacked(applied, NULL);
    free(firm);
    return t;
}

static void test_a_mentor_serves_a_tenant_and_future_hours_are_refused(void **state)
{
    (void)state;
    Chuang__Incubator__Tenancy *tenant = s_resident("导师服务", "D-201");
    Chuang__Incubator__MentorRequest m = CHUANG__INCUBATOR__MENTOR_REQUEST__INIT;
    m.name = "李导师";
    m.kind = "investor";
    m.side = "business";
    m.organisation = "西湖创投";
    m.phone = "1380000";
    finance_fixture_assert_refused(s_call(s_operator, "RegisterMentor", &m.base),
                                   CHUANG__STATUS__INVALID_ARGUMENT, "phone");
    m.phone = "13800001111";
    Chuang__Incubator__Mentor *mentor =
        s_ok(s_operator, "RegisterMentor", &m.base, &chuang__incubator__mentor__descriptor);
    /* The carrier's key sees who the mentor is, an officer how to call them. */
    assert_string_equal(mentor->name, "李导师");
    assert_string_not_equal(mentor->phone, "13800001111");
    Chuang__Incubator__GetMentorRequest get = CHUANG__INCUBATOR__GET_MENTOR_REQUEST__INIT;
    get.id = mentor->id;
    Chuang__Incubator__Mentor *seen =
        s_ok(s_officer, "GetMentor", &get.base, &chuang__incubator__mentor__descriptor);
    assert_string_equal(seen->phone, "13800001111");
    chuang__incubator__mentor__free_unpacked(seen, NULL);

    Chuang__Incubator__AssignmentRequest assign = CHUANG__INCUBATOR__ASSIGNMENT_REQUEST__INIT;
    assign.mentor_id = mentor->id;
    assign.tenancy_id = tenant->id;
    Chuang__Incubator__Mentor *assigned =
        s_ok(s_operator, "AssignMentor", &assign.base, &chuang__incubator__mentor__descriptor);
    assert_int_equal(assigned->n_tenancies, 1);
    assert_int_equal(assigned->tenancies[0], tenant->id);
    chuang__incubator__mentor__free_unpacked(assigned, NULL);
    finance_fixture_assert_refused(s_call(s_operator, "AssignMentor", &assign.base),
                                   CHUANG__STATUS__ALREADY_EXISTS, "tenancy_id");

    /* Hours tomorrow, or of no length, are refused; nothing is recorded. */
    char tomorrow[16];
    s_day(1, tomorrow);
    Chuang__Incubator__ServiceRecordRequest service =
        CHUANG__INCUBATOR__SERVICE_RECORD_REQUEST__INIT;
    service.mentor_id = mentor->id;
    service.tenancy_id = tenant->id;
    service.served_on = tomorrow;
    service.minutes = 90;
    service.person_times = 3;
    service.topic = "融资路演辅导";
    finance_fixture_assert_refused(s_call(s_operator, "RecordMentorService", &service.base),
                                   CHUANG__STATUS__INVALID_ARGUMENT, "served_on");
    service.served_on = "";
    service.minutes = 0;
    finance_fixture_assert_refused(s_call(s_operator, "RecordMentorService", &service.base),
                                   CHUANG__STATUS__INVALID_ARGUMENT, "minutes");
    assert_int_equal(s_incubator_count("SELECT count(*) FROM mentor_services"), 0);

    service.minutes = 90;
    Chuang__Incubator__Mentor *served = s_ok(s_operator, "RecordMentorService", &service.base,
                                             &chuang__incubator__mentor__descriptor);
    assert_int_equal(served->minutes, 90);
    assert_int_equal(served->person_times, 3);
    chuang__incubator__mentor__free_unpacked(served, NULL);

    /* Finance keeps the hours; the carrier claims them at ¥200 an hour,
     * and a claim of more is lowered to what 90 minutes earn. */
    for (int i = 0; i < 150 && s_count("SELECT count(*) FROM incubation_mentor_services") == 0; i++)
        zclock_sleep(100);
    assert_int_equal(s_count("SELECT sum(minutes) FROM incubation_mentor_services"), 90);
    s_programme("mentor-subsidy", "mentor_service_subsidy", "per_hour_fen", 20000);
    char subject[64];
    s_day(0, tomorrow);
    snprintf(subject, sizeof subject, "mentor-services:dl-incubator:%.4s", tomorrow);
    finance_fixture_wait_known(s_keeper, s_operator_code);
    Chuang__Status status;
    int64_t claim = finance_fixture_draft(s_keeper, "mentor-subsidy", s_operator_code, subject,
                                          100000, &status);
    assert_true(claim > 0);
    Chuang__Finance__Application *submitted =
        finance_fixture_step(s_keeper, "SubmitApplication", claim, "", NULL);
    assert_non_null(submitted);
    assert_int_equal(submitted->amount_fen, 30000);
    chuang__finance__application__free_unpacked(submitted, NULL);
    /* Another carrier's hours are not the operator's to claim. */
    int64_t other = finance_fixture_draft(s_keeper, "mentor-subsidy", s_operator_code,
                                          "mentor-services:dl-nursery:2026", 1000, &status);
    assert_true(other > 0);
    Chuang__Reply *refusal = NULL;
    assert_null(finance_fixture_step(s_keeper, "SubmitApplication", other, "", &refusal));
    finance_fixture_assert_refused(refusal, CHUANG__STATUS__FAILED_PRECONDITION, "subject");

    /* A recognition of the carrier is one of its operator for the top-ups. */
    Chuang__Incubator__Recognition r = CHUANG__INCUBATOR__RECOGNITION__INIT;
    r.level = "province";
    r.body = "浙江省科学技术厅";
    r.certificate = "浙科孵〔2026〕12号";
    r.title = "省级科技企业孵化器";
    Chuang__Incubator__RecognitionRequest recognise = CHUANG__INCUBATOR__RECOGNITION_REQUEST__INIT;
    recognise.carrier_code = "dl-incubator";
    recognise.recognition = &r;
    chuang__incubator__carrier__free_unpacked(s_ok(s_officer, "RecogniseCarrier", &recognise.base,
                                                   &chuang__incubator__carrier__descriptor),
                                              NULL);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM recognitions WHERE certificate = '浙科孵〔2026〕12号'"
             " AND credit_code = '%s' AND level = 'province'",
             s_operator_code);
    for (int i = 0; i < 150 && s_count(sql) == 0; i++)
        zclock_sleep(100);
    assert_int_equal(s_count(sql), 1);
    chuang__incubator__mentor__free_unpacked(mentor, NULL);
    chuang__incubator__tenancy__free_unpacked(tenant, NULL);
}

static Chuang__Incubator__Activity *s_activity(const char *kind, const char *day, int capacity)
{
    Chuang__Incubator__ActivityRequest request = CHUANG__INCUBATOR__ACTIVITY_REQUEST__INIT;
    request.carrier_code = "dl-incubator";
    request.kind = (char *)kind;
    request.title = "西湖创客路演";
    request.held_on = (char *)day;
    request.capacity = capacity;
    return s_ok(s_operator, "ScheduleActivity", &request.base,
                &chuang__incubator__activity__descriptor);
}

static void test_activities_count_attendance_and_weeks_with_a_roadshow(void **state)
{
    (void)state;
    Chuang__Incubator__Tenancy *tenant = s_resident("路演团队", "D-202");
    char today[16], yesterday[16], next_week[16];
    s_day(0, today);
    s_day(-1, yesterday);
    s_day(7, next_week);
    Chuang__Incubator__ActivityRequest past = CHUANG__INCUBATOR__ACTIVITY_REQUEST__INIT;
    past.carrier_code = "dl-incubator";
    past.kind = "roadshow";
    past.title = "补登的路演";
    past.held_on = yesterday;
    past.capacity = 10;
    finance_fixture_assert_refused(s_call(s_operator, "ScheduleActivity", &past.base),
                                   CHUANG__STATUS__INVALID_ARGUMENT, "held_on");

    Chuang__Incubator__Activity *roadshow = s_activity("roadshow", today, 1);
    Chuang__Incubator__AttendeeRequest attendee = CHUANG__INCUBATOR__ATTENDEE_REQUEST__INIT;
    attendee.activity_id = roadshow->id;
    attendee.tenancy_id = tenant->id;
    Chuang__Incubator__Activity *a = s_ok(s_operator, "RegisterForActivity", &attendee.base,
                                          &chuang__incubator__activity__descriptor);
    assert_int_equal(a->registered, 1);
    chuang__incubator__activity__free_unpacked(a, NULL);
    /* Its one place is taken. */
    attendee.tenancy_id = 0;
    attendee.guest = "投资人张三";
    Chuang__Reply *reply = s_call(s_operator, "RegisterForActivity", &attendee.base);
    assert_int_equal(reply->status, CHUANG__STATUS__FAILED_PRECONDITION);
    chuang__reply__free_unpacked(reply, NULL);

    /* The tenant came, and a guest walked in. */
    int64_t came[1] = {tenant->id};
    char *guests[1] = {"投资人张三"};
    Chuang__Incubator__AttendanceRequest attendance = CHUANG__INCUBATOR__ATTENDANCE_REQUEST__INIT;
    attendance.activity_id = roadshow->id;
    attendance.tenancy_ids = came;
    attendance.n_tenancy_ids = 1;
    attendance.guests = guests;
    attendance.n_guests = 1;
    a = s_ok(s_operator, "RecordAttendance", &attendance.base,
             &chuang__incubator__activity__descriptor);
    assert_int_equal(a->attended, 2);
    chuang__incubator__activity__free_unpacked(a, NULL);

    /* A salon next week: attendance cannot be recorded before its day. */
    Chuang__Incubator__Activity *salon = s_activity("salon", next_week, 30);
    attendance.activity_id = salon->id;
    finance_fixture_assert_refused(s_call(s_operator, "RecordAttendance", &attendance.base),
                                   CHUANG__STATUS__INVALID_ARGUMENT, "activity_id");

    Chuang__Incubator__ActivityCountsRequest ask = CHUANG__INCUBATOR__ACTIVITY_COUNTS_REQUEST__INIT;
    ask.carrier_code = "dl-incubator";
    ask.from = today;
    ask.to = next_week;
    Chuang__Incubator__ActivityCounts *counts = s_ok(
        s_clerk, "GetActivityCounts", &ask.base, &chuang__incubator__activity_counts__descriptor);
    assert_int_equal(counts->n_counts, 5);
    assert_string_equal(counts->counts[0]->kind, "roadshow");
    assert_int_equal(counts->counts[0]->held, 1);
    assert_int_equal(counts->counts[0]->attended, 2);
    assert_string_equal(counts->counts[1]->kind, "salon");
    assert_int_equal(counts->counts[1]->held, 0);
    assert_int_equal(counts->counts[1]->scheduled, 1);
    assert_int_equal(counts->weeks, 1);
    assert_int_equal(counts->weeks_with_roadshow, 1);
    chuang__incubator__activity_counts__free_unpacked(counts, NULL);
    chuang__incubator__activity__free_unpacked(salon, NULL);
    chuang__incubator__activity__free_unpacked(roadshow, NULL);
    chuang__incubator__tenancy__free_unpacked(tenant, NULL);
}

static void s_report(client_t *client, const char *carrier, int year, int64_t tenants,
                     int64_t graduates, int64_t jobs, int64_t patents)
{
    Chuang__Incubator__CarrierYear y = CHUANG__INCUBATOR__CARRIER_YEAR__INIT;
    y.carrier_code = (char *)carrier;
    y.year = year;
    y.tenants = tenants;
    y.graduates = graduates;
    y.jobs = jobs;
    y.patents = patents;
    Chuang__Incubator__CarrierYear *reported =
        s_ok(client, "ReportCarrierYear", &y.base, &chuang__incubator__carrier_year__descriptor);
    assert_string_equal(reported->status, "reported");
    chuang__incubator__carrier_year__free_unpacked(reported, NULL);
}

static Chuang__Reply *s_check(client_t *client, const char *carrier, int year)
{
    Chuang__Incubator__CheckYearRequest check = CHUANG__INCUBATOR__CHECK_YEAR_REQUEST__INIT;
    check.carrier_code = (char *)carrier;
    check.year = year;
    return s_call(client, "CheckCarrierYear", &check.base);
}

static Chuang__Reply *s_scheme(const char *from, size_t count, const char *const *metrics,
                               const int64_t *weights, const int64_t *full_at)
{
    Chuang__Incubator__SchemeCriterion c[8];
    Chuang__Incubator__SchemeCriterion *criteria[8];
    for (size_t i = 0; i < count; i++) {
        chuang__incubator__scheme_criterion__init(&c[i]);
        c[i].metric = (char *)metrics[i];
        c[i].weight_bp = weights[i];
        c[i].full_at = full_at[i];
        criteria[i] = &c[i];
    }
    Chuang__Incubator__SchemeRequest request = CHUANG__INCUBATOR__SCHEME_REQUEST__INIT;
    request.effective_from = (char *)from;
    request.criteria = criteria;
    request.n_criteria = count;
    request.document = "孵化载体绩效评价办法";
    return s_call(s_officer, "DefineEvaluationScheme", &request.base);
}

static Chuang__Incubator__Evaluation *s_evaluation(int year, const char *day)
{
    Chuang__Incubator__EvaluationRequest ask = CHUANG__INCUBATOR__EVALUATION_REQUEST__INIT;
    ask.year = year;
    ask.day = (char *)day;
    return s_ok(s_clerk, "GetEvaluation", &ask.base, &chuang__incubator__evaluation__descriptor);
}

static void test_a_new_scheme_from_a_later_day_reranks_the_carriers(void **state)
{
    (void)state;
    char *today = s_today();
    int year = atoi(today) - 1;
    /* The operator reports; an officer who did not report checks. */
    s_report(s_operator, "dl-nursery", year, 10, 2, 30, 0);
    s_report(s_operator, "dl-incubator", year, 20, 1, 10, 10);
    for (int i = 0; i < 2; i++) {
        Chuang__Reply *reply = s_check(s_officer, i ? "dl-incubator" : "dl-nursery", year);
        assert_int_equal(reply->status, CHUANG__STATUS__OK);
        chuang__reply__free_unpacked(reply, NULL);
    }
    Chuang__Reply *reply = s_check(s_officer, "dl-nursery", year);
    assert_int_equal(reply->status, CHUANG__STATUS__FAILED_PRECONDITION);
    chuang__reply__free_unpacked(reply, NULL);
    s_report(s_officer, "dl-nursery", year - 1, 5, 1, 5, 1);
    reply = s_check(s_officer, "dl-nursery", year - 1);
    assert_int_equal(reply->status, CHUANG__STATUS__FAILED_PRECONDITION); /* four eyes */
    chuang__reply__free_unpacked(reply, NULL);

    /* Weights that do not make the whole are refused. */
    const char *first[2] = {"graduates", "patents"};
    const int64_t short_weights[2] = {6000, 3000}, first_full[2] = {2, 10};
    finance_fixture_assert_refused(s_scheme(today, 2, first, short_weights, first_full),
                                   CHUANG__STATUS__INVALID_ARGUMENT, "criteria");
    const int64_t first_weights[2] = {6000, 4000};
    reply = s_scheme(today, 2, first, first_weights, first_full);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    chuang__reply__free_unpacked(reply, NULL);
    /* From next month jobs weigh most. */
    char later[16], before[16];
    s_day(30, later);
    s_day(29, before);
    const char *second[3] = {"graduates", "patents", "jobs"};
    const int64_t second_weights[3] = {2000, 2000, 6000}, second_full[3] = {2, 10, 30};
    reply = s_scheme(later, 3, second, second_weights, second_full);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    chuang__reply__free_unpacked(reply, NULL);

    /* Today: the incubator's patents put it first (7000 against 6000). */
    Chuang__Incubator__Evaluation *now = s_evaluation(year, "");
    assert_int_equal(now->n_scores, 2);
    assert_string_equal(now->scheme->effective_from, today);
    assert_string_equal(now->scores[0]->carrier_code, "dl-incubator");
    assert_int_equal(now->scores[0]->score_bp, 7000);
    assert_int_equal(now->scores[0]->rank, 1);
    assert_int_equal(now->scores[1]->score_bp, 6000);
    assert_int_equal(now->scores[1]->rank, 2);
    chuang__incubator__evaluation__free_unpacked(now, NULL);
    Chuang__Incubator__Evaluation *eve = s_evaluation(year, before);
    assert_string_equal(eve->scores[0]->carrier_code, "dl-incubator");
    chuang__incubator__evaluation__free_unpacked(eve, NULL);
    /* Under the new scheme the nursery's jobs put it first (8000 against
     * 5000). */
    Chuang__Incubator__Evaluation *then = s_evaluation(year, later);
    assert_string_equal(then->scheme->effective_from, later);
    assert_string_equal(then->scores[0]->carrier_code, "dl-nursery");
    assert_int_equal(then->scores[0]->score_bp, 8000);
    assert_int_equal(then->scores[0]->rank, 1);
    assert_string_equal(then->scores[1]->carrier_code, "dl-incubator");
    assert_int_equal(then->scores[1]->score_bp, 5000);
    assert_int_equal(then->scores[1]->rank, 2);
    chuang__incubator__evaluation__free_unpacked(then, NULL);
    free(today);
}

static void test_a_units_target_and_its_half_yearly_progress(void **state)
{
    (void)state;
    char *today = s_today();
    int year = atoi(today);
    Chuang__Incubator__TargetRequest t = CHUANG__INCUBATOR__TARGET_REQUEST__INIT;
    t.unit = "西湖区科技局";
    t.indicator = "incubated_firms";
    t.year = year;
    t.target = 100;
    Chuang__Incubator__Target *target =
        s_ok(s_officer, "SetTarget", &t.base, &chuang__incubator__target__descriptor);
    Chuang__Incubator__ProgressRequest p = CHUANG__INCUBATOR__PROGRESS_REQUEST__INIT;
    p.id = target->id;
    p.half = 1;
    p.value = 40;
    Chuang__Incubator__Target *first =
        s_ok(s_officer, "RecordProgress", &p.base, &chuang__incubator__target__descriptor);
    assert_int_equal(first->progress_bp, 4000);
    chuang__incubator__target__free_unpacked(first, NULL);
    /* Progress is cumulative: the second half cannot fall below the first. */
    p.half = 2;
    p.value = 30;
    finance_fixture_assert_refused(s_call(s_officer, "RecordProgress", &p.base),
                                   CHUANG__STATUS__INVALID_ARGUMENT, "value");
    Chuang__Incubator__TargetsRequest list = CHUANG__INCUBATOR__TARGETS_REQUEST__INIT;
    Chuang__Incubator__TargetList *targets =
        s_ok(s_clerk, "ListTargets", &list.base, &chuang__incubator__target_list__descriptor);
    assert_int_equal(targets->n_targets, 1);
    assert_int_equal(targets->targets[0]->first_half, 40);
    assert_int_equal(targets->targets[0]->second_half, 0);
    chuang__incubator__target_list__free_unpacked(targets, NULL);
    chuang__incubator__target__free_unpacked(target, NULL);
    free(today);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_team_from_the_nursery_to_a_paid_incubation_subsidy),
        cmocka_unit_test(test_a_space_booked_twice_at_once_is_let_once),
        cmocka_unit_test(test_bad_requests_are_refused_by_field_and_change_nothing),
        cmocka_unit_test(test_a_mentor_serves_a_tenant_and_future_hours_are_refused),
        cmocka_unit_test(test_activities_count_attendance_and_weeks_with_a_roadshow),
        cmocka_unit_test(test_a_new_scheme_from_a_later_day_reranks_the_carriers),
        cmocka_unit_test(test_a_units_target_and_its_half_yearly_progress),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
