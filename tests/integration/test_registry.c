/*
 * test_registry.c - the registry through the broker against the harness's
 * PostgreSQL: a name reserved and searched, an entity registered with a valid
 * credit code, looked up with personal data masked, and a table of bad inputs
 * each answered with a field-level error that writes no row and no event.
 */
#include "client.h"
#include "config.h"
#include "db.h"
#include "harness.h"
#include "identifiers.h"
#include "registry.pb-c.h"
#include "security.h"

#include <czmq.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sys/wait.h>

#define REGISTRY CHUANG_BUILD_DIR "/services/registry/chuang-registry"
#define BROKER   CHUANG_BUILD_DIR "/services/broker/chuang-broker"
#define AGENCY   "330106"

static char s_db_url[512];
static char s_endpoint[64];
static pid_t s_broker;
static pid_t s_registry;
static config_t *s_config;
static security_t *s_security;
static client_t *s_officer;
static client_t *s_public;

static int s_setup(void **state)
{
    (void)state;
    if (harness_init("registry") != 0)
        return -1;
    const char *url = harness_service_db("registry", "registry");
    if (!url)
        return -1;
    snprintf(s_db_url, sizeof s_db_url, "%s", url);
    snprintf(s_endpoint, sizeof s_endpoint, "tcp://127.0.0.1:%d", harness_free_port());
    char *bind = zsys_sprintf("CHUANG_BROKER_ENDPOINT=%s", s_endpoint);
    char *brokers = zsys_sprintf("CHUANG_BROKERS=%s", s_endpoint);
    char *db = zsys_sprintf("CHUANG_DB_URL=%s", s_db_url);
    const char *broker_env[] = {bind, "CHUANG_SECURITY_PLAIN=yes", NULL};
    const char *registry_env[] = {brokers, db, "CHUANG_SECURITY_PLAIN=yes", NULL};
    s_broker = harness_spawn("broker", BROKER, broker_env);
    s_registry = harness_spawn("registry", REGISTRY, registry_env);
    zstr_free(&bind);
    zstr_free(&brokers);
    zstr_free(&db);

    s_config = config_new(NULL);
    config_set(s_config, "security.plain", "yes");
    s_security = security_new(s_config);
    s_officer = client_new(s_endpoint, s_security);
    client_set_identity(s_officer, AGENCY, "officer-1", "officer");
    s_public = client_new(s_endpoint, s_security);
    client_set_identity(s_public, AGENCY, "anonymous", "");
    return harness_wait_service(s_endpoint, "registry", 20000);
}

static int s_teardown(void **state)
{
    (void)state;
    client_destroy(&s_officer);
    client_destroy(&s_public);
    security_destroy(&s_security);
    config_destroy(&s_config);
    int status = harness_stop(s_registry, SIGTERM, 5000);
    harness_stop(s_broker, SIGTERM, 5000);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static long s_count(const char *sql)
{
    PGconn *db = db_connect(s_db_url, "registry", 3);
    assert_non_null(db);
    PGresult *res = PQexec(db, sql);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    long count = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    PQfinish(db);
    return count;
}

static void s_sql(const char *sql)
{
    PGconn *db = db_connect(s_db_url, "registry", 3);
    assert_non_null(db);
    assert_int_equal(db_exec(db, "test", sql), 0);
    PQfinish(db);
}

static bool s_has_violation(const Chuang__Reply *reply, const char *field)
{
    for (size_t i = 0; i < reply->n_violations; i++)
        if (streq(reply->violations[i]->field, field) && *reply->violations[i]->description)
            return true;
    return false;
}

static Chuang__Reply *s_reserve(const char *trade_name, const char *industry, const char *form)
{
    Chuang__Registry__ReserveNameRequest request = CHUANG__REGISTRY__RESERVE_NAME_REQUEST__INIT;
    request.region = "杭州";
    request.trade_name = (char *)trade_name;
    request.industry = (char *)industry;
    request.organisational_form = (char *)form;
    request.applicant_name = "张三";
    request.applicant_id_number = "11010519491231002X";
    return client_call(s_officer, "registry", "ReserveName", &request.base, NULL);
}

/* Reserves a name and returns its reservation id (caller frees). */
static char *s_reserved(const char *trade_name)
{
    Chuang__Reply *reply = s_reserve(trade_name, "网络科技", "有限公司");
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Registry__NameReservation *reservation =
        chuang__registry__name_reservation__unpack(NULL, reply->payload.len, reply->payload.data);
    char *id = strdup(reservation->reservation_id);
    chuang__registry__name_reservation__free_unpacked(reservation, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    return id;
}

/* A registration that is valid in every field, for the tests to spoil. */
typedef struct {
    Chuang__Registry__RegisterRequest request;
    Chuang__Registry__Person representative;
    Chuang__Registry__Person founder_person[2];
    Chuang__Registry__Founder founder[2];
    Chuang__Registry__Founder *founders[2];
    Chuang__Registry__FounderCategory categories[2];
    Chuang__Registry__Address domicile;
    Chuang__Registry__Address shop;
    Chuang__Registry__Address *business[1];
} registration_t;

static void s_registration(registration_t *r, const char *reservation_id)
{
    memset(r, 0, sizeof *r);
    chuang__registry__register_request__init(&r->request);
    chuang__registry__person__init(&r->representative);
    r->representative.name = "李四";
    r->representative.id_number = "330106199003071236";
    r->representative.phone = "13812345678";
    r->categories[0] = CHUANG__REGISTRY__FOUNDER_CATEGORY__GRADUATE;
    r->categories[1] = CHUANG__REGISTRY__FOUNDER_CATEGORY__RETURNEE;
    const char *names[2] = {"李四", "王五"};
    const char *ids[2] = {"330106199003071236", "330106200001014567"};
    for (int i = 0; i < 2; i++) {
        chuang__registry__person__init(&r->founder_person[i]);
        r->founder_person[i].name = (char *)names[i];
        r->founder_person[i].id_number = (char *)ids[i];
        r->founder_person[i].phone = "13900001111";
        chuang__registry__founder__init(&r->founder[i]);
        r->founder[i].person = &r->founder_person[i];
        r->founder[i].n_categories = 2;
        r->founder[i].categories = r->categories;
        r->founder[i].subscribed_capital_fen = 50000000; /* 500,000 yuan each */
        r->founders[i] = &r->founder[i];
    }
    chuang__registry__address__init(&r->domicile);
    r->domicile.division_code = AGENCY;
    r->domicile.detail = "文三路 90 号 1 幢 501 室";
    chuang__registry__address__init(&r->shop);
    r->shop.division_code = AGENCY;
    r->shop.detail = "西溪路 556 号";
    r->business[0] = &r->shop;

    r->request.reservation_id = (char *)reservation_id;
    r->request.entity_type = CHUANG__REGISTRY__ENTITY_TYPE__LIMITED_COMPANY;
    r->request.legal_representative = &r->representative;
    r->request.registered_capital_fen = 100000000;
    r->request.business_scope = "网络技术开发、技术服务";
    r->request.industry_code = "I6513";
    r->request.n_founders = 2;
    r->request.founders = r->founders;
    r->request.domicile = &r->domicile;
    r->request.n_business_addresses = 1;
    r->request.business_addresses = r->business;
}

static Chuang__Reply *s_register(registration_t *r)
{
    return client_call(s_officer, "registry", "RegisterEntity", &r->request.base, NULL);
}

static void test_journey_reserve_register_lookup(void **state)
{
    (void)state;
    Chuang__Reply *reply = s_reserve("云栖", "网络科技", "有限公司");
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Registry__NameReservation *reservation =
        chuang__registry__name_reservation__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_string_equal(reservation->name, "杭州云栖网络科技有限公司");
    assert_string_equal(reservation->status, "reserved");
    char *reservation_id = strdup(reservation->reservation_id);
    chuang__registry__name_reservation__free_unpacked(reservation, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    assert_int_equal(s_count("SELECT count(*) FROM name_reservations"
                             " WHERE expires_on = current_date + 30"),
                     1);

    /* The same trade name and industry cannot be held twice, whatever the form. */
    reply = s_reserve("云栖", "网络科技", "股份有限公司");
    assert_int_equal(reply->status, CHUANG__STATUS__ALREADY_EXISTS);
    assert_true(s_has_violation(reply, "trade_name"));
    chuang__reply__free_unpacked(reply, NULL);

    Chuang__Registry__SearchNamesRequest search = CHUANG__REGISTRY__SEARCH_NAMES_REQUEST__INIT;
    search.query = "云栖";
    reply = client_call(s_public, "registry", "SearchNames", &search.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Registry__SearchNamesReply *found =
        chuang__registry__search_names_reply__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_int_equal(found->n_matches, 1);
    assert_string_equal(found->matches[0]->kind, "reserved");
    chuang__registry__search_names_reply__free_unpacked(found, NULL);
    chuang__reply__free_unpacked(reply, NULL);

    registration_t registration;
    s_registration(&registration, reservation_id);
    reply = s_register(&registration);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Registry__Entity *entity =
        chuang__registry__entity__unpack(NULL, reply->payload.len, reply->payload.data);
    char reason[128];
    assert_int_equal(identifiers_uscc_check(entity->credit_code, reason, sizeof reason), 0);
    assert_memory_equal(entity->credit_code, "91" AGENCY, 8);
    assert_string_equal(entity->name, "杭州云栖网络科技有限公司");
    assert_int_equal(entity->n_founders, 2);
    assert_int_equal(entity->founders[1]->n_categories, 2);
    assert_int_equal(entity->registered_capital_fen, 100000000);
    assert_string_equal(entity->domicile->detail, "文三路 90 号 1 幢 501 室");
    assert_int_equal(entity->n_business_addresses, 1);
    char *credit_code = strdup(entity->credit_code);
    chuang__registry__entity__free_unpacked(entity, NULL);
    chuang__reply__free_unpacked(reply, NULL);

    /* Both changes have their events in the outbox. */
    assert_int_equal(s_count("SELECT count(*) FROM chuang_outbox WHERE type = "
                             "'registry.NameReserved' AND agency = '" AGENCY "'"),
                     1);
    assert_int_equal(
        s_count("SELECT count(*) FROM chuang_outbox WHERE type = 'registry.EntityRegistered'"), 1);

    /* The reservation is used up. */
    reply = s_register(&registration);
    assert_int_equal(reply->status, CHUANG__STATUS__FAILED_PRECONDITION);
    assert_true(s_has_violation(reply, "reservation_id"));
    chuang__reply__free_unpacked(reply, NULL);

    /* The public sees the record with ID numbers and phones masked. */
    Chuang__Registry__LookupRequest lookup = CHUANG__REGISTRY__LOOKUP_REQUEST__INIT;
    lookup.credit_code = credit_code;
    reply = client_call(s_public, "registry", "Lookup", &lookup.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    entity = chuang__registry__entity__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_null(strstr(entity->legal_representative->id_number, "19900307"));
    assert_non_null(strchr(entity->legal_representative->id_number, '*'));
    assert_string_equal(entity->legal_representative->phone, "138****5678");
    assert_null(strstr(entity->founders[1]->person->id_number, "20000101"));
    chuang__registry__entity__free_unpacked(entity, NULL);
    chuang__reply__free_unpacked(reply, NULL);

    /* The full record is for officers only. */
    Chuang__Registry__GetEntityRequest get = CHUANG__REGISTRY__GET_ENTITY_REQUEST__INIT;
    get.credit_code = credit_code;
    reply = client_call(s_public, "registry", "GetEntity", &get.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__PERMISSION_DENIED);
    chuang__reply__free_unpacked(reply, NULL);
    reply = client_call(s_officer, "registry", "GetEntity", &get.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    entity = chuang__registry__entity__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_string_equal(entity->legal_representative->id_number, "330106199003071236");
    chuang__registry__entity__free_unpacked(entity, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    free(credit_code);
    free(reservation_id);
}

typedef void(spoil_fn)(registration_t *r);

static void s_no_reservation(registration_t *r)
{
    r->request.reservation_id = "";
}
static void s_bad_id_number(registration_t *r)
{
    r->representative.id_number = "330106199003071235";
}
static void s_bad_founder_id(registration_t *r)
{
    r->founder_person[1].id_number = "33010620000231456X";
}
static void s_bad_division(registration_t *r)
{
    r->domicile.division_code = "990106";
}
static void s_bad_phone(registration_t *r)
{
    r->representative.phone = "12345";
}
static void s_capital_mismatch(registration_t *r)
{
    r->request.registered_capital_fen = 100000001;
}
static void s_bad_industry_code(registration_t *r)
{
    r->request.industry_code = "Z99";
}
static void s_oversized_scope(registration_t *r)
{
    static char scope[5000];
    memset(scope, 'a', sizeof scope - 1);
    r->request.business_scope = scope;
}
static void s_no_type(registration_t *r)
{
    r->request.entity_type = CHUANG__REGISTRY__ENTITY_TYPE__ENTITY_TYPE_UNSPECIFIED;
}
static void s_type_against_form(registration_t *r)
{
    r->request.entity_type = CHUANG__REGISTRY__ENTITY_TYPE__FARMERS_COOPERATIVE;
}

static void test_bad_registrations_write_nothing(void **state)
{
    (void)state;
    char *reservation_id = s_reserved("灵隐");
    const struct {
        spoil_fn *spoil;
        const char *field;
        Chuang__Status status;
    } cases[] = {
        {s_no_reservation, "reservation_id", CHUANG__STATUS__INVALID_ARGUMENT},
        {s_bad_id_number, "legal_representative.id_number", CHUANG__STATUS__INVALID_ARGUMENT},
        {s_bad_founder_id, "founders[1].person.id_number", CHUANG__STATUS__INVALID_ARGUMENT},
        {s_bad_division, "domicile.division_code", CHUANG__STATUS__INVALID_ARGUMENT},
        {s_bad_phone, "legal_representative.phone", CHUANG__STATUS__INVALID_ARGUMENT},
        {s_capital_mismatch, "founders", CHUANG__STATUS__INVALID_ARGUMENT},
        {s_bad_industry_code, "industry_code", CHUANG__STATUS__INVALID_ARGUMENT},
        {s_oversized_scope, "business_scope", CHUANG__STATUS__INVALID_ARGUMENT},
        {s_no_type, "entity_type", CHUANG__STATUS__INVALID_ARGUMENT},
        {s_type_against_form, "entity_type", CHUANG__STATUS__INVALID_ARGUMENT},
    };
    long entities = s_count("SELECT count(*) FROM entities");
    long events = s_count("SELECT count(*) FROM chuang_outbox");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        registration_t registration;
        s_registration(&registration, reservation_id);
        cases[i].spoil(&registration);
        Chuang__Reply *reply = s_register(&registration);
        if (reply->status != cases[i].status || !s_has_violation(reply, cases[i].field))
            fail_msg("case %zu (%s): status %d, first violation %s", i, cases[i].field,
                     reply->status, reply->n_violations ? reply->violations[0]->field : "-");
        chuang__reply__free_unpacked(reply, NULL);
    }
    assert_int_equal(s_count("SELECT count(*) FROM entities"), entities);
    assert_int_equal(s_count("SELECT count(*) FROM chuang_outbox"), events);
    assert_int_equal(s_count("SELECT count(*) FROM name_reservations WHERE status = 'used'"
                             " AND trade_name = '灵隐'"),
                     0);

    /* An unknown reservation, and an expired one. */
    registration_t registration;
    s_registration(&registration, "00000000-0000-0000-0000-000000000000");
    Chuang__Reply *reply = s_register(&registration);
    assert_int_equal(reply->status, CHUANG__STATUS__NOT_FOUND);
    chuang__reply__free_unpacked(reply, NULL);
    s_sql("UPDATE name_reservations SET expires_on = current_date - 1 WHERE trade_name = '灵隐'");
    s_registration(&registration, reservation_id);
    reply = s_register(&registration);
    assert_int_equal(reply->status, CHUANG__STATUS__FAILED_PRECONDITION);
    assert_true(s_has_violation(reply, "reservation_id"));
    chuang__reply__free_unpacked(reply, NULL);
    assert_int_equal(s_count("SELECT count(*) FROM entities"), entities);
    free(reservation_id);
}

static void test_bad_names_are_refused(void **state)
{
    (void)state;
    long before = s_count("SELECT count(*) FROM name_reservations");
    const struct {
        const char *trade_name, *industry, *form, *field;
    } cases[] = {
        {"云", "网络科技", "有限公司", "trade_name"},
        {"中国梦", "网络科技", "有限公司", "trade_name"},
        {"ABC", "网络科技", "有限公司", "trade_name"},
        {"西湖", "网络科技", "集团公司", "organisational_form"},
        {"西湖", "", "有限公司", "industry"},
        {"\xff\xfe", "网络科技", "有限公司", "trade_name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Chuang__Reply *reply = s_reserve(cases[i].trade_name, cases[i].industry, cases[i].form);
        if (reply->status != CHUANG__STATUS__INVALID_ARGUMENT ||
            !s_has_violation(reply, cases[i].field))
            fail_msg("name case %zu: status %d", i, reply->status);
        chuang__reply__free_unpacked(reply, NULL);
    }
    assert_int_equal(s_count("SELECT count(*) FROM name_reservations"), before);
}

static void test_reservation_period_is_a_dated_rule(void **state)
{
    (void)state;
    /* The agency's own rule, in force from today, wins over the default. */
    s_sql("INSERT INTO rules (agency, name, effective_from, value)"
          " VALUES ('" AGENCY "', 'name_reservation_days', current_date, 5)");
    char *id = s_reserved("龙井");
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM name_reservations WHERE id = '%s'"
             " AND expires_on = current_date + 5",
             id);
    assert_int_equal(s_count(sql), 1);
    /* A rule that starts tomorrow is not yet in force. */
    s_sql("INSERT INTO rules (agency, name, effective_from, value)"
          " VALUES ('" AGENCY "', 'name_reservation_days', current_date + 1, 90)");
    free(id);
    id = s_reserved("虎跑");
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM name_reservations WHERE id = '%s'"
             " AND expires_on = current_date + 5",
             id);
    assert_int_equal(s_count(sql), 1);
    free(id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_journey_reserve_register_lookup),
        cmocka_unit_test(test_bad_registrations_write_nothing),
        cmocka_unit_test(test_bad_names_are_refused),
        cmocka_unit_test(test_reservation_period_is_a_dated_rule),
    };
    return cmocka_run_group_tests_name("registry", tests, s_setup, s_teardown);
}
