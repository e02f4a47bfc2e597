/*
 * test_award_register.c - never paid twice across levels: a town and the
 * city above it each run their own deployment (database, Redis keyspace,
 * broker, finance and feed). The entity registers with the town's
 * registry; the city's feed imports the town's registrations and awards,
 * the town's feed imports the city's awards, and each finance registers
 * the other's awards from those imports. The city subsidises the interest
 * of two loans; the town's later application for the same loan is refused
 * naming the city's award, the town's application already on notice for
 * the other loan is rejected when its notice ends, the town's 1:0.5 top-up
 * is half the city's award rounded down to the fen, the city learns of the
 * town's top-up, and a cap over three years counts every level's awards.
 */
#include "client.h"
#include "config.h"
#include "finance_fixture.h"
#include "harness.h"
#include "registry_fixture.h"
#include "security.h"

#include <czmq.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define BROKER   CHUANG_BUILD_DIR "/services/broker/chuang-broker"
#define REGISTRY CHUANG_BUILD_DIR "/services/registry/chuang-registry"
#define FINANCE  CHUANG_BUILD_DIR "/services/finance/chuang-finance"
#define FEED     CHUANG_BUILD_DIR "/services/feed/chuang-feed"
#define CITY     "330100"
#define TOWN     "330106"

/* One agency's deployment. */
typedef struct {
    const char *name; /* "city", "town": its database and key prefix */
    char endpoint[64];
    char feed[64];
    char finance_db[512];
    char redis[512];
    char prefix[32]; /* finance's Redis prefix */
    pid_t broker, registry, finance, feed_pid;
    client_t *keeper;   /* a finance officer */
    client_t *reviewer; /* finance's reviewer */
} agency_t;

static agency_t s_city = {.name = "city"}, s_town = {.name = "town"};
static config_t *s_config;
static security_t *s_plain;
static client_t *s_clerk; /* the town registry's officer */

static pid_t s_spawn(agency_t *a, const char *what, const char *program, const char *const *extra)
{
    char name[32];
    snprintf(name, sizeof name, "%s-%s", a->name, what);
    char *brokers = zsys_sprintf("CHUANG_BROKERS=%s", a->endpoint);
    char *redis = zsys_sprintf("CHUANG_REDIS_URL=%s", a->redis);
    const char *env[16] = {brokers, redis, "CHUANG_SECURITY_PLAIN=yes",
                           "CHUANG_SERVICE_TICK_MS=200"};
    size_t n = 4;
    for (size_t i = 0; extra[i] && n < 15; i++)
        env[n++] = extra[i];
    env[n] = NULL;
    pid_t pid = harness_spawn(name, program, env);
    zstr_free(&brokers);
    zstr_free(&redis);
    return pid;
}

/* The agency's broker and finance, which follows registry_stream (its own
 * registry's, or an import of another agency's) and the awards of
 * awards_imports. */
static int s_start(agency_t *a, const char *registry_stream, bool imported,
                   const char *awards_imports)
{
    snprintf(a->endpoint, sizeof a->endpoint, "tcp://127.0.0.1:%d", harness_free_port());
    const char *url = harness_service_db(a->name, "finance");
    if (!url)
        return -1;
    snprintf(a->finance_db, sizeof a->finance_db, "%s", url);
    snprintf(a->prefix, sizeof a->prefix, "%s:finance", a->name);
    char *bind = zsys_sprintf("CHUANG_BROKER_ENDPOINT=%s", a->endpoint);
    const char *broker_env[] = {bind, NULL};
    a->broker = s_spawn(a, "broker", BROKER, broker_env);
    zstr_free(&bind);
    char *db = zsys_sprintf("CHUANG_DB_URL=%s", a->finance_db);
    char *prefix = zsys_sprintf("CHUANG_REDIS_PREFIX=%s", a->prefix);
    char *registry = zsys_sprintf("CHUANG_CONSUME_REGISTRY_STREAM=%s", registry_stream);
    char *awards = zsys_sprintf("CHUANG_CONSUME_AWARDS_IMPORTS=%s", awards_imports);
    const char *finance_env[] = {
        db,  prefix, registry, awards, imported ? "CHUANG_CONSUME_REGISTRY_IMPORTED=yes" : NULL,
        NULL};
    a->finance = s_spawn(a, "finance", FINANCE, finance_env);
    zstr_free(&db);
    zstr_free(&prefix);
    zstr_free(&registry);
    zstr_free(&awards);
    a->keeper = client_new(a->endpoint, s_plain);
    client_set_identity(a->keeper, strcmp(a->name, "city") == 0 ? CITY : TOWN, "keeper",
                        "finance-officer");
    a->reviewer = client_new(a->endpoint, s_plain);
    client_set_identity(a->reviewer, strcmp(a->name, "city") == 0 ? CITY : TOWN, "reviewer",
                        "reviewer,reviewer-finance");
    return 0;
}

/* The agency's feed: serving its streams to the other agency's feed as
 * <name>.acl allows, and importing what <name>.imports lists from it. */
static pid_t s_start_feed(agency_t *a)
{
    const char *dir = harness_dir();
    char *bind = zsys_sprintf("CHUANG_FEED_ENDPOINT=%s", a->feed);
    char *key = zsys_sprintf("CHUANG_FEED_STREAM_KEY=%s:%%s:events", a->name);
    char *acl = zsys_sprintf("CHUANG_FEED_ACL=%s/%s.acl", dir, a->name);
    char *imports = zsys_sprintf("CHUANG_FEED_IMPORTS=%s/%s.imports", dir, a->name);
    char *cert = zsys_sprintf("CHUANG_SECURITY_CERT=%s/keys/%s-feed_secret", dir, a->name);
    char *allow = zsys_sprintf("CHUANG_SECURITY_ALLOW_DIR=%s/keys/%s-allow", dir, a->name);
    char *redis = zsys_sprintf("CHUANG_REDIS_URL=%s", a->redis);
    const char *env[] = {bind, key, acl, imports, cert, allow, redis, NULL};
    char name[32];
    snprintf(name, sizeof name, "%s-feed", a->name);
    pid_t pid = harness_spawn(name, FEED, env);
    zstr_free(&bind);
    zstr_free(&key);
    zstr_free(&acl);
    zstr_free(&imports);
    zstr_free(&cert);
    zstr_free(&allow);
    zstr_free(&redis);
    return pid;
}

static void s_write(const char *name, const char *text)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", harness_dir(), name);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs(text, file);
    fclose(file);
}

static int s_setup(void **state)
{
    (void)state;
    if (harness_init("award_register") != 0)
        return -1;
    const char *dir = harness_dir();
    s_config = config_new(NULL);
    config_set(s_config, "security.plain", "yes");
    s_plain = security_new(s_config);
    /* Keyspaces: the city's Redis database 0, the town's 1. */
    snprintf(s_city.redis, sizeof s_city.redis, "%s", harness_get("CHUANG_TEST_REDIS_URL"));
    snprintf(s_town.redis, sizeof s_town.redis, "%s", s_city.redis);
    s_town.redis[strlen(s_town.redis) - 1] = '1';
    snprintf(s_city.feed, sizeof s_city.feed, "tcp://127.0.0.1:%d", harness_free_port());
    snprintf(s_town.feed, sizeof s_town.feed, "tcp://127.0.0.1:%d", harness_free_port());

    /* Each feed has its key and lets the other's in as an agency without
     * personal data: the town's registrations and awards to the city, the
     * city's awards to the town. */
    harness_sh("mkdir -p '%s/keys/city-allow' '%s/keys/town-allow'", dir, dir);
    char path[600];
    char publics[2][64];
    const char *names[] = {"city-feed", "town-feed"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/keys/%s", dir, names[i]);
        if (security_keygen(path, names[i]) != 0)
            return -1;
        zcert_t *cert = zcert_load(path);
        snprintf(publics[i], sizeof publics[i], "%s", zcert_public_txt(cert));
        zcert_destroy(&cert);
    }
    harness_sh("cp '%s/keys/town-feed' '%s/keys/city-allow/'", dir, dir);
    harness_sh("cp '%s/keys/city-feed' '%s/keys/town-allow/'", dir, dir);
    char *text = zsys_sprintf("%s town agency no finance.AwardRegistered\n", publics[1]);
    s_write("city.acl", text);
    zstr_free(&text);
    text = zsys_sprintf("%s city agency no registry.EntityRegistered,finance.AwardRegistered\n",
                        publics[0]);
    s_write("town.acl", text);
    zstr_free(&text);
    text = zsys_sprintf("%s %s/keys/town-feed registry city:import:town:registry"
                        " registry.EntityRegistered\n"
                        "%s %s/keys/town-feed finance city:import:town:finance"
                        " finance.AwardRegistered\n",
                        s_town.feed, dir, s_town.feed, dir);
    s_write("city.imports", text);
    zstr_free(&text);
    text = zsys_sprintf("%s %s/keys/city-feed finance town:import:city:finance"
                        " finance.AwardRegistered\n",
                        s_city.feed, dir);
    s_write("town.imports", text);
    zstr_free(&text);

    if (s_start(&s_town, "town:registry:events", false, "town:import:city:finance") != 0 ||
        s_start(&s_city, "city:import:town:registry", true, "city:import:town:finance") != 0)
        return -1;
    const char *url = harness_service_db("town", "registry");
    if (!url)
        return -1;
    char *registry_db = zsys_sprintf("CHUANG_DB_URL=%s", url);
    const char *registry_env[] = {registry_db, "CHUANG_REDIS_PREFIX=town:registry", NULL};
    s_town.registry = s_spawn(&s_town, "registry", REGISTRY, registry_env);
    zstr_free(&registry_db);
    s_city.feed_pid = s_start_feed(&s_city);
    s_town.feed_pid = s_start_feed(&s_town);
    s_clerk = client_new(s_town.endpoint, s_plain);
    client_set_identity(s_clerk, TOWN, "clerk", "officer");
    if (harness_wait_service(s_town.endpoint, "registry", 20000) != 0 ||
        harness_wait_service(s_city.endpoint, "finance", 20000) != 0)
        return -1;
    return harness_wait_service(s_town.endpoint, "finance", 20000);
}

static void s_stop(agency_t *a)
{
    client_destroy(&a->keeper);
    client_destroy(&a->reviewer);
    harness_stop(a->feed_pid, SIGTERM, 5000);
    harness_stop(a->finance, SIGTERM, 5000);
    if (a->registry > 0)
        harness_stop(a->registry, SIGTERM, 5000);
    harness_stop(a->broker, SIGTERM, 5000);
}

static int s_teardown(void **state)
{
    (void)state;
    client_destroy(&s_clerk);
    s_stop(&s_town);
    s_stop(&s_city);
    security_destroy(&s_plain);
    config_destroy(&s_config);
    return 0;
}

/* Defines programme code of kind at level in agency a, paid from fund,
 * reviewed by finance, one day's notice, with the award rules given. */
static void s_programme(agency_t *a, const char *code, const char *kind, const char *level,
                        const char *fund, Chuang__Finance__AwardRule **rules, size_t n_rules)
{
    Chuang__Finance__ProgrammeVersion version = CHUANG__FINANCE__PROGRAMME_VERSION__INIT;
    version.effective_from = "2020-01-01";
    version.document = "东府〔2026〕1号";
    Chuang__Finance__Parameter notice = CHUANG__FINANCE__PARAMETER__INIT;
    notice.name = "notice_days";
    notice.value = 1;
    Chuang__Finance__Parameter *parameters[1] = {&notice};
    version.parameters = parameters;
    version.n_parameters = 1;
    char *approvals[1] = {"finance"};
    version.approvals = approvals;
    version.n_approvals = 1;
    version.award_rules = rules;
    version.n_award_rules = n_rules;
    Chuang__Finance__DefineProgrammeRequest define =
        CHUANG__FINANCE__DEFINE_PROGRAMME_REQUEST__INIT;
    define.code = (char *)code;
    define.name = (char *)code;
    define.kind = (char *)kind;
    define.level = (char *)level;
    define.fund = (char *)fund;
    define.department = "finance";
    define.version = &version;
    Chuang__Reply *reply = finance_fixture_call(a->keeper, "DefineProgramme", &define.base);
    if (reply->status != CHUANG__STATUS__OK)
        fail_msg("define %s: %s (%s)", code, reply->message, reply->detail);
    chuang__reply__free_unpacked(reply, NULL);
}

/* Drafts, submits and approves an application of a to programme for
 * credit_code and subject: its id, on notice. */
static int64_t s_to_notice(agency_t *a, const char *programme, const char *credit_code,
                           const char *subject, int64_t amount)
{
    Chuang__Status status;
    int64_t id = finance_fixture_draft(a->keeper, programme, credit_code, subject, amount, &status);
    assert_int_equal(status, CHUANG__STATUS__OK);
    char *now = finance_fixture_step_status(a->keeper, "SubmitApplication", id, "", &status);
    assert_string_equal(now, "under_review");
    free(now);
    Chuang__Finance__ReviewRequest review = CHUANG__FINANCE__REVIEW_REQUEST__INIT;
    review.id = id;
    review.department = "finance";
    review.approve = true;
    assert_int_equal(finance_fixture_status(a->reviewer, "ReviewApplication", &review.base),
                     CHUANG__STATUS__OK);
    return id;
}

static char *s_end_notice(agency_t *a, int64_t id)
{
    return finance_fixture_end_notice(a->keeper, a->finance_db, a->redis, a->prefix, id);
}

/* Waits (up to 30 s) until a's register holds n awards to credit_code;
 * returns the list then (caller frees), or NULL. */
static Chuang__Finance__AwardList *s_awards(agency_t *a, const char *credit_code, size_t n)
{
    for (int i = 0; i < 300; i++) {
        Chuang__Finance__ListAwardsRequest request = CHUANG__FINANCE__LIST_AWARDS_REQUEST__INIT;
        request.credit_code = (char *)credit_code;
        Chuang__Reply *reply = finance_fixture_call(a->keeper, "ListAwards", &request.base);
        assert_int_equal(reply->status, CHUANG__STATUS__OK);
        Chuang__Finance__AwardList *list =
            chuang__finance__award_list__unpack(NULL, reply->payload.len, reply->payload.data);
        chuang__reply__free_unpacked(reply, NULL);
        if (list->n_awards == n)
            return list;
        chuang__finance__award_list__free_unpacked(list, NULL);
        zclock_sleep(100);
    }
    return NULL;
}

/* Waits until a's finance knows credit_code. */
static void s_wait_known(agency_t *a, const char *credit_code)
{
    Chuang__Finance__EntityFactsRequest request = CHUANG__FINANCE__ENTITY_FACTS_REQUEST__INIT;
    request.credit_code = (char *)credit_code;
    for (int i = 0; i < 300; i++) {
        if (finance_fixture_status(a->keeper, "GetEntityFacts", &request.base) ==
            CHUANG__STATUS__OK)
            return;
        zclock_sleep(100);
    }
    fail_msg("%s's finance never learnt of %s", a->name, credit_code);
}

static void test_no_level_pays_twice_for_the_same_loan(void **state)
{
    (void)state;
    Chuang__Registry__FounderCategory graduate[1] = {CHUANG__REGISTRY__FOUNDER_CATEGORY__GRADUATE};
    char *entity =
        registry_fixture_register_founder(s_clerk, "贴息", "11010519491231002X", graduate, 1);
    s_wait_known(&s_town, entity);
    s_wait_known(&s_city, entity); /* through the city's import of the town's registrations */

    /* The city's interest subsidy; the town's, which pays nothing where a
     * higher level subsidised the same loan (镇不再重复贴息); the town's
     * 1:0.5 top-up of the highest higher-level subsidy; and a town reward
     * under a cap of ¥15,000 over three years, every level counted. */
    finance_fixture_fund(s_city.keeper, "city-fund", 10000000, "市财〔2026〕1号");
    finance_fixture_fund(s_town.keeper, "town-fund", 10000000, "镇财〔2026〕1号");
    s_programme(&s_city, "city-interest", "interest_subsidy", "city", "city-fund", NULL, 0);
    Chuang__Finance__AwardRule exclude = CHUANG__FINANCE__AWARD_RULE__INIT;
    exclude.rule = "exclude";
    Chuang__Finance__AwardRule *exclude_rules[1] = {&exclude};
    s_programme(&s_town, "town-interest", "interest_subsidy", "town", "town-fund", exclude_rules,
                1);
    Chuang__Finance__AwardRule top_up = CHUANG__FINANCE__AWARD_RULE__INIT;
    top_up.rule = "top_up";
    top_up.kind = "interest_subsidy";
    top_up.ratio_bp = 5000;
    Chuang__Finance__AwardRule *top_up_rules[1] = {&top_up};
    s_programme(&s_town, "town-top-up", "matching", "town", "town-fund", top_up_rules, 1);
    Chuang__Finance__AwardRule cap = CHUANG__FINANCE__AWARD_RULE__INIT;
    cap.rule = "cap";
    cap.cap_fen = 1500000;
    cap.window_days = 1095;
    Chuang__Finance__AwardRule *cap_rules[1] = {&cap};
    s_programme(&s_town, "town-reward", "reward", "town", "town-fund", cap_rules, 1);

    /* The town takes loan B to notice before the city has decided on it. */
    int64_t town_b = s_to_notice(&s_town, "town-interest", entity, "loan:B", 50000);
    /* The city subsidises loans A and B. */
    int64_t city_a = s_to_notice(&s_city, "city-interest", entity, "loan:A", 876543);
    int64_t city_b = s_to_notice(&s_city, "city-interest", entity, "loan:B", 100000);
    char *now = s_end_notice(&s_city, city_a);
    assert_string_equal(now, "awarded");
    free(now);
    now = s_end_notice(&s_city, city_b);
    assert_string_equal(now, "awarded");
    free(now);

    /* The town's register learns both through its feed. */
    Chuang__Finance__AwardList *list = s_awards(&s_town, entity, 2);
    assert_non_null(list);
    assert_string_equal(list->awards[0]->agency, CITY);
    assert_string_equal(list->awards[0]->level, "city");
    assert_string_equal(list->awards[0]->kind, "interest_subsidy");
    assert_string_equal(list->awards[0]->subject, "loan:A");
    assert_true(list->awards[0]->amount_fen == 876543);
    assert_true(list->total_fen == 976543);
    chuang__finance__award_list__free_unpacked(list, NULL);

    /* The town's application for loan A: refused, naming the city's award. */
    Chuang__Status status;
    int64_t town_a =
        finance_fixture_draft(s_town.keeper, "town-interest", entity, "loan:A", 50000, &status);
    Chuang__Reply *refusal = NULL;
    assert_null(finance_fixture_step(s_town.keeper, "SubmitApplication", town_a, "", &refusal));
    assert_int_equal(refusal->status, CHUANG__STATUS__FAILED_PRECONDITION);
    assert_int_equal(refusal->n_violations, 1);
    assert_string_equal(refusal->violations[0]->field, "award_rules.0");
    char expected[64];
    snprintf(expected, sizeof expected, "application:%" PRId64 " of " CITY " (city", city_a);
    if (!strstr(refusal->violations[0]->description, expected))
        fail_msg("refusal names \"%s\", not the city's award %s",
                 refusal->violations[0]->description, expected);
    chuang__reply__free_unpacked(refusal, NULL);
    /* Loan B, on notice before the city paid: rejected when the notice
     * ends, nothing committed. */
    now = s_end_notice(&s_town, town_b);
    assert_string_equal(now, "rejected");
    free(now);
    Chuang__Finance__Application *b =
        finance_fixture_step(s_town.keeper, "GetApplication", town_b, "", NULL);
    assert_non_null(b);
    assert_true(b->awarded_fen == 0);
    snprintf(expected, sizeof expected, "application:%" PRId64 " of " CITY, city_b);
    assert_non_null(strstr(b->steps[b->n_steps - 1]->reason, expected));
    assert_string_equal(b->steps[b->n_steps - 1]->by, "finance");
    chuang__finance__application__free_unpacked(b, NULL);

    /* The top-up for loan A: half of ¥8,765.43, rounded down to the fen,
     * whatever was asked. */
    int64_t topped = s_to_notice(&s_town, "town-top-up", entity, "loan:A", 9999999);
    now = s_end_notice(&s_town, topped);
    assert_string_equal(now, "awarded");
    free(now);
    Chuang__Finance__Application *t =
        finance_fixture_step(s_town.keeper, "GetApplication", topped, "", NULL);
    assert_true(t->amount_fen == 438271);
    assert_true(t->awarded_fen == 438271);
    chuang__finance__application__free_unpacked(t, NULL);
    /* A top-up of nothing: no higher award for loan C. */
    int64_t nothing =
        finance_fixture_draft(s_town.keeper, "town-top-up", entity, "loan:C", 1000, &status);
    refusal = NULL;
    assert_null(finance_fixture_step(s_town.keeper, "SubmitApplication", nothing, "", &refusal));
    assert_int_equal(refusal->status, CHUANG__STATUS__FAILED_PRECONDITION);
    chuang__reply__free_unpacked(refusal, NULL);

    /* The city learns of the town's top-up. */
    list = s_awards(&s_city, entity, 3);
    assert_non_null(list);
    assert_string_equal(list->awards[2]->agency, TOWN);
    assert_string_equal(list->awards[2]->level, "town");
    assert_true(list->awards[2]->amount_fen == 438271);
    chuang__finance__award_list__free_unpacked(list, NULL);

    /* The cap: 876,543 + 100,000 + 438,271 = 1,414,814 fen within three
     * years leaves 85,186 under ¥15,000. */
    int64_t over = finance_fixture_draft(s_town.keeper, "town-reward", entity, "", 85187, &status);
    refusal = NULL;
    assert_null(finance_fixture_step(s_town.keeper, "SubmitApplication", over, "", &refusal));
    assert_int_equal(refusal->status, CHUANG__STATUS__FAILED_PRECONDITION);
    assert_non_null(strstr(refusal->violations[0]->description, "1414814 fen in 3 awards"));
    chuang__reply__free_unpacked(refusal, NULL);
    now = finance_fixture_step_status(s_town.keeper, "WithdrawApplication", over, "超出上限",
                                      &status);
    assert_string_equal(now, "withdrawn");
    free(now);
    int64_t within =
        finance_fixture_draft(s_town.keeper, "town-reward", entity, "", 85186, &status);
    now = finance_fixture_step_status(s_town.keeper, "SubmitApplication", within, "", &status);
    assert_string_equal(now, "under_review");
    free(now);
    free(entity);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_level_pays_twice_for_the_same_loan),
    };
    return cmocka_run_group_tests_name("award_register", tests, s_setup, s_teardown);
}
