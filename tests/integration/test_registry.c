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
#include "pbjson.h"
#include "registry.pb-c.h"
#include "security.h"

#include <czmq.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sys/wait.h>
#include <time.h>

#define REGISTRY CHUANG_BUILD_DIR "/services/registry/chuang-registry"
#define BROKER   CHUANG_BUILD_DIR "/services/broker/chuang-broker"
#define CTL      CHUANG_BUILD_DIR "/services/ctl/chuangctl"
#define AGENCY   "330106"

static char s_db_url[512];
static char s_endpoint[64];
static pid_t s_broker;
static pid_t s_registry;
static config_t *s_config;
static security_t *s_security;
static client_t *s_officer;
static client_t *s_public;
static client_t *s_owner;    /* the legal representative of s_registered's entities */
static client_t *s_creditor; /* a person with no part in them */

/* Starts the registry with a short tick, on the harness's Redis. */
static pid_t s_start_registry(void)
{
    char *brokers = zsys_sprintf("CHUANG_BROKERS=%s", s_endpoint);
    char *db = zsys_sprintf("CHUANG_DB_URL=%s", s_db_url);
    char *redis = zsys_sprintf("CHUANG_REDIS_URL=%s", harness_get("CHUANG_TEST_REDIS_URL"));
    char *key = zsys_sprintf("CHUANG_REGISTRY_LICENCE_KEY=%s/licence_secret", harness_dir());
    const char *env[] = {brokers,
                         db,
                         redis,
                         key,
                         "CHUANG_SECURITY_PLAIN=yes",
                         "CHUANG_REDIS_PREFIX=test:registry",
                         "CHUANG_SERVICE_TICK_MS=200",
                         NULL};
    pid_t pid = harness_spawn("registry", REGISTRY, env);
    zstr_free(&brokers);
    zstr_free(&db);
    zstr_free(&redis);
    zstr_free(&key);
    return pid;
}

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
    if (harness_sh("'%s' licence-keygen '%s/licence' >/dev/null", CTL, harness_dir()) != 0)
        return -1;
    char *bind = zsys_sprintf("CHUANG_BROKER_ENDPOINT=%s", s_endpoint);
    const char *broker_env[] = {bind, "CHUANG_SECURITY_PLAIN=yes", NULL};
    s_broker = harness_spawn("broker", BROKER, broker_env);
    s_registry = s_start_registry();
    zstr_free(&bind);

    s_config = config_new(NULL);
    config_set(s_config, "security.plain", "yes");
    s_security = security_new(s_config);
    s_officer = client_new(s_endpoint, s_security);
    client_set_identity(s_officer, AGENCY, "officer-1", "officer");
    s_public = client_new(s_endpoint, s_security);
    client_set_identity(s_public, AGENCY, "anonymous", "");
    s_owner = client_new(s_endpoint, s_security);
    client_set_identity(s_owner, AGENCY, "person-1", "applicant");
    client_set_person(s_owner, "330106199003071236");
    s_creditor = client_new(s_endpoint, s_security);
    client_set_identity(s_creditor, AGENCY, "person-2", "applicant");
    client_set_person(s_creditor, "440304199001010021");
    return harness_wait_service(s_endpoint, "registry", 20000);
}

static int s_teardown(void **state)
{
    (void)state;
    client_destroy(&s_officer);
    client_destroy(&s_public);
    client_destroy(&s_owner);
    client_destroy(&s_creditor);
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

/* Reserves trade_name and registers a company with it; returns the credit
 * code (caller frees). */
static char *s_registered(const char *trade_name)
{
    char *reservation_id = s_reserved(trade_name);
    registration_t registration;
    s_registration(&registration, reservation_id);
    Chuang__Reply *reply = s_register(&registration);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Registry__Entity *entity =
        chuang__registry__entity__unpack(NULL, reply->payload.len, reply->payload.data);
    char *credit_code = strdup(entity->credit_code);
    chuang__registry__entity__free_unpacked(entity, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    free(reservation_id);
    return credit_code;
}

/* Calls a method whose input has just a credit code; returns the reply. */
static Chuang__Reply *s_call_code(client_t *client, const char *method, const char *credit_code)
{
    Chuang__Registry__DeregistrationRequest request =
        CHUANG__REGISTRY__DEREGISTRATION_REQUEST__INIT;
    request.credit_code = (char *)credit_code;
    return client_call(client, "registry", method, &request.base, NULL);
}

/* The entity's credit standing: "good", "abnormal" or "dishonest". */
static const char *s_standing(const char *credit_code)
{
    static char standing[16];
    Chuang__Reply *reply = s_call_code(s_public, "GetCreditStanding", credit_code);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Registry__CreditStanding *got =
        chuang__registry__credit_standing__unpack(NULL, reply->payload.len, reply->payload.data);
    snprintf(standing, sizeof standing, "%s", got->standing);
    chuang__registry__credit_standing__free_unpacked(got, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    return standing;
}

static Chuang__Status s_list(client_t *client, const char *method, const char *credit_code,
                             const char *list)
{
    Chuang__Registry__AddToListRequest add = CHUANG__REGISTRY__ADD_TO_LIST_REQUEST__INIT;
    Chuang__Registry__RemoveFromListRequest remove =
        CHUANG__REGISTRY__REMOVE_FROM_LIST_REQUEST__INIT;
    add.credit_code = remove.credit_code = (char *)credit_code;
    add.list = remove.list = (char *)list;
    add.reason = remove.reason = "检查发现";
    add.authority = "杭州市西湖区市场监督管理局";
    Chuang__Reply *reply = client_call(client, "registry", method,
                                       streq(method, "AddToList") ? &add.base : &remove.base, NULL);
    Chuang__Status status = reply->status;
    chuang__reply__free_unpacked(reply, NULL);
    return status;
}

/* Polls GetDeregistration until its status is not "noticed" (up to 30 s). */
static char *s_decided(const char *credit_code)
{
    for (int i = 0; i < 300; i++) {
        Chuang__Reply *reply = s_call_code(s_public, "GetDeregistration", credit_code);
        assert_int_equal(reply->status, CHUANG__STATUS__OK);
        Chuang__Registry__Deregistration *got =
            chuang__registry__deregistration__unpack(NULL, reply->payload.len, reply->payload.data);
        char *status = streq(got->status, "noticed") ? NULL : strdup(got->status);
        chuang__registry__deregistration__free_unpacked(got, NULL);
        chuang__reply__free_unpacked(reply, NULL);
        if (status)
            return status;
        zclock_sleep(100);
    }
    return strdup("noticed");
}

static Chuang__Reply *s_call_code(client_t *client, const char *method, const char *credit_code);

/* The public reads (Lookup, SearchNames) run without a transaction. When
 * PostgreSQL has dropped the registry's connections (a restart, a failover),
 * they still answer from the database, on new connections, and none of them
 * leaves a transaction open behind it. */
static void test_public_reads_survive_lost_connections(void **state)
{
    (void)state;
    char code[19];
    assert_int_equal(identifiers_uscc_make('9', '1', AGENCY, "PL000001", code), 0);
    Chuang__Registry__LookupRequest lookup = CHUANG__REGISTRY__LOOKUP_REQUEST__INIT;
    lookup.credit_code = code;
    Chuang__Registry__SearchNamesRequest search = CHUANG__REGISTRY__SEARCH_NAMES_REQUEST__INIT;
    search.query = "没有的名字";

    PGconn *admin = PQconnectdb(harness_get("CHUANG_TEST_PG_ADMIN_URL"));
    assert_int_equal(PQstatus(admin), CONNECTION_OK);
    PGresult *res = PQexec(admin, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                                  " WHERE usename = 'registry'");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_true(atol(PQgetvalue(res, 0, 0)) > 0);
    PQclear(res);
    zclock_sleep(300);

    /* More calls than the registry has worker threads: each thread's
     * connection was dropped. */
    for (int i = 0; i < 8; i++) {
        Chuang__Reply *reply = client_call(s_public, "registry", "Lookup", &lookup.base, NULL);
        assert_int_equal(reply->status, CHUANG__STATUS__NOT_FOUND);
        chuang__reply__free_unpacked(reply, NULL);
        reply = client_call(s_public, "registry", "SearchNames", &search.base, NULL);
        assert_int_equal(reply->status, CHUANG__STATUS__OK);
        chuang__reply__free_unpacked(reply, NULL);
    }
    /* (The relay's leadership lock is a transaction held open on purpose.) */
    res = PQexec(admin, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'registry'"
                        " AND state LIKE 'idle in transaction%'"
                        " AND (query LIKE '%name_grams%' OR query LIKE 'WITH e AS%')");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_int_equal(atol(PQgetvalue(res, 0, 0)), 0);
    PQclear(res);
    PQfinish(admin);
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
                             " WHERE expires_on = chuang_today('" AGENCY "') + 30"),
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

    /* The name is found by any piece of it, one character or several, and
     * not by its characters in another order. */
    const char *pieces[] = {"栖", "云栖网", "网络科技", "杭州云栖网络科技有限公司", "栖云", "云网"};
    const size_t found_by[] = {1, 1, 1, 1, 0, 0};
    for (size_t i = 0; i < sizeof pieces / sizeof *pieces; i++) {
        search.query = (char *)pieces[i];
        reply = client_call(s_public, "registry", "SearchNames", &search.base, NULL);
        assert_int_equal(reply->status, CHUANG__STATUS__OK);
        found = chuang__registry__search_names_reply__unpack(NULL, reply->payload.len,
                                                             reply->payload.data);
        assert_int_equal(found->n_matches, found_by[i]);
        if (found_by[i])
            assert_string_equal(found->matches[0]->kind, "registered");
        chuang__registry__search_names_reply__free_unpacked(found, NULL);
        chuang__reply__free_unpacked(reply, NULL);
    }

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

    /* By exact name too; a malformed credit code is refused, an unknown one not found. */
    lookup.credit_code = "";
    lookup.name = "杭州云栖网络科技有限公司";
    reply = client_call(s_public, "registry", "Lookup", &lookup.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    entity = chuang__registry__entity__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_string_equal(entity->credit_code, credit_code);
    chuang__registry__entity__free_unpacked(entity, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    lookup.name = "";
    lookup.credit_code = "91330106MA2CXXXXX1";
    reply = client_call(s_public, "registry", "Lookup", &lookup.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__INVALID_ARGUMENT);
    assert_true(s_has_violation(reply, "credit_code"));
    chuang__reply__free_unpacked(reply, NULL);
    reply = s_call_code(s_public, "GetCreditStanding", "91350100M000100Y43");
    assert_int_equal(reply->status, CHUANG__STATUS__NOT_FOUND);
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
    s_sql("UPDATE name_reservations SET expires_on = chuang_today('" AGENCY
          "') - 1 WHERE trade_name = '灵隐'");
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
    s_sql("INSERT INTO chuang_rules (agency, name, effective_from, value)"
          " VALUES ('" AGENCY "', 'name_reservation_days', chuang_today('" AGENCY "'), 5)");
    char *id = s_reserved("龙井");
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM name_reservations WHERE id = '%s'"
             " AND expires_on = chuang_today('" AGENCY "') + 5",
             id);
    assert_int_equal(s_count(sql), 1);
    /* A rule that starts tomorrow is not yet in force. */
    s_sql("INSERT INTO chuang_rules (agency, name, effective_from, value)"
          " VALUES ('" AGENCY "', 'name_reservation_days', chuang_today('" AGENCY "') + 1, 90)");
    free(id);
    id = s_reserved("虎跑");
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM name_reservations WHERE id = '%s'"
             " AND expires_on = chuang_today('" AGENCY "') + 5",
             id);
    assert_int_equal(s_count(sql), 1);
    free(id);
    /* The agency's rule lapsed yesterday: not the default's 30 days, but a
     * refusal that names the rule, and nothing reserved. */
    s_sql("UPDATE chuang_rules SET effective_from = chuang_today('" AGENCY "') - 10,"
          " effective_to = chuang_today('" AGENCY "') - 1"
          " WHERE agency = '" AGENCY "' AND name = 'name_reservation_days'"
          " AND effective_from = chuang_today('" AGENCY "')");
    long before = s_count("SELECT count(*) FROM name_reservations");
    Chuang__Reply *reply = s_reserve("灵隐", "网络科技", "有限公司");
    assert_int_equal(reply->status, CHUANG__STATUS__FAILED_PRECONDITION);
    assert_string_equal(reply->message, "no rule in force");
    assert_non_null(strstr(reply->detail, "name_reservation_days"));
    chuang__reply__free_unpacked(reply, NULL);
    assert_int_equal(s_count("SELECT count(*) FROM name_reservations"), before);
    s_sql("DELETE FROM chuang_rules WHERE agency = '" AGENCY
          "' AND name = 'name_reservation_days'");
}

static void test_legal_dates_are_the_agencys_days(void **state)
{
    (void)state;
    /* The calendar in Beijing time, on both sides of a day and a year: 07:30
     * on 1 March is 1 March, not 28 February; reports of 2026 are late from
     * the midnight after 30 June 2027. */
    assert_int_equal(
        s_count("SELECT count(*) FROM (VALUES"
                " (chuang_local_date('" AGENCY "', '2026-12-31 15:30Z') = '2026-12-31'),"
                " (chuang_local_date('" AGENCY "', '2026-12-31 16:30Z') = '2027-01-01'),"
                " (chuang_local_date('" AGENCY "', '2027-02-28 23:30Z') = '2027-03-01'),"
                " (chuang_local_date('" AGENCY "', '2027-03-01 15:30Z') = '2027-03-01'),"
                " (chuang_local_date('" AGENCY "', '2027-03-01 16:30Z') = '2027-03-02'),"
                " (chuang_day_start('" AGENCY "', '2027-07-01') = '2027-06-30 16:00Z'))"
                " AS t(ok) WHERE ok"),
        6);

    /* An agency whose day is not UTC's at this moment (14 hours ahead in the
     * afternoon UTC, 12 behind in the morning): what is done now is dated
     * its day. */
    s_sql("INSERT INTO chuang_agency_calendar (agency, time_zone) VALUES ('" AGENCY "',"
          " CASE WHEN extract(hour FROM now() AT TIME ZONE 'UTC') >= 12"
          " THEN 'Pacific/Kiritimati' ELSE 'Etc/GMT+12' END)");
    char *code = s_registered("曲院");
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM entities e JOIN name_reservations r ON r.id = e.reservation_id"
             " WHERE e.credit_code = '%s' AND e.registered_on = chuang_today('" AGENCY "')"
             " AND e.registered_on <> (now() AT TIME ZONE 'UTC')::date"
             " AND r.reserved_on = e.registered_on AND r.expires_on > r.reserved_on",
             code);
    assert_int_equal(s_count(sql), 1);

    /* A deregistration's notice runs 20 full days and ends at the agency's
     * midnight. */
    Chuang__Reply *reply = s_call_code(s_officer, "ApplyDeregistration", code);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Registry__Deregistration *noticed =
        chuang__registry__deregistration__unpack(NULL, reply->payload.len, reply->payload.data);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM deregistrations WHERE credit_code = '%s'"
             " AND notice_ends_at = chuang_day_start('" AGENCY "', chuang_today('" AGENCY "') + 21)"
             " AND (extract(epoch FROM notice_ends_at) * 1000)::bigint = %" PRId64,
             code, noticed->notice_ends_at_ms);
    assert_int_equal(s_count(sql), 1);
    chuang__registry__deregistration__free_unpacked(noticed, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    s_sql("DELETE FROM chuang_agency_calendar WHERE agency = '" AGENCY "'");
    free(code);
}

static const char *s_standing(const char *credit_code);

static void test_credit_lists_and_standing(void **state)
{
    (void)state;
    char *code = s_registered("钱塘");
    assert_string_equal(s_standing(code), "good");
    assert_int_equal(s_list(s_public, "AddToList", code, "abnormal"),
                     CHUANG__STATUS__PERMISSION_DENIED);
    assert_int_equal(s_list(s_officer, "AddToList", code, "abnormal"), CHUANG__STATUS__OK);
    assert_string_equal(s_standing(code), "abnormal");
    assert_int_equal(s_list(s_officer, "AddToList", code, "abnormal"),
                     CHUANG__STATUS__ALREADY_EXISTS);
    assert_int_equal(s_list(s_officer, "AddToList", code, "dishonest"), CHUANG__STATUS__OK);
    assert_string_equal(s_standing(code), "dishonest");
    assert_int_equal(s_list(s_officer, "AddToList", code, "blacklist"),
                     CHUANG__STATUS__INVALID_ARGUMENT);

    /* The dishonest cannot use simplified deregistration. */
    Chuang__Reply *reply = s_call_code(s_officer, "ApplyDeregistration", code);
    assert_int_equal(reply->status, CHUANG__STATUS__FAILED_PRECONDITION);
    chuang__reply__free_unpacked(reply, NULL);

    assert_int_equal(s_list(s_officer, "RemoveFromList", code, "dishonest"), CHUANG__STATUS__OK);
    assert_string_equal(s_standing(code), "abnormal");
    assert_int_equal(s_list(s_officer, "RemoveFromList", code, "abnormal"), CHUANG__STATUS__OK);
    assert_string_equal(s_standing(code), "good");
    assert_int_equal(s_list(s_officer, "RemoveFromList", code, "abnormal"),
                     CHUANG__STATUS__NOT_FOUND);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM chuang_outbox WHERE aggregate_id = '%s' AND type IN"
             " ('registry.ListedAbnormal', 'registry.ListedDishonest',"
             "  'registry.RemovedAbnormal', 'registry.RemovedDishonest')",
             code);
    assert_int_equal(s_count(sql), 4);
    free(code);
}

static void test_deregistration_survives_service_and_redis_restarts(void **state)
{
    (void)state;
    /* The annual deadline of last year's reports is past, whatever today. */
    s_sql("INSERT INTO chuang_rules (agency, name, effective_from, value)"
          " VALUES ('" AGENCY "', 'annual_report_last_day', DATE '2000-01-02', 101)");
    char *quiet = s_registered("保俶");
    char *objected = s_registered("宝石");
    Chuang__Reply *reply = s_call_code(s_officer, "ApplyDeregistration", quiet);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    chuang__reply__free_unpacked(reply, NULL);
    reply = s_call_code(s_officer, "ApplyDeregistration", quiet);
    assert_int_equal(reply->status, CHUANG__STATUS__ALREADY_EXISTS);
    chuang__reply__free_unpacked(reply, NULL);
    reply = s_call_code(s_officer, "ApplyDeregistration", objected);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    chuang__reply__free_unpacked(reply, NULL);

    Chuang__Registry__ObjectionRequest objection = CHUANG__REGISTRY__OBJECTION_REQUEST__INIT;
    objection.credit_code = objected;
    objection.objector = "某债权人";
    objection.reason = "尚有货款未结清";
    reply = client_call(s_creditor, "registry", "ObjectToDeregistration", &objection.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    chuang__reply__free_unpacked(reply, NULL);

    char *late = s_registered("六和");

    /* The service stops, Redis loses the queue: the decisions
     * still come, from the database, once the notices have run (they are
     * made to end now). So does the annual-report check, made due while the
     * service is down: the entity was registered last year. */
    int stopped = harness_stop(s_registry, SIGTERM, 5000);
    assert_true(WIFEXITED(stopped) && WEXITSTATUS(stopped) == 0);
    char backdate[1024];
    snprintf(backdate, sizeof backdate,
             "UPDATE entities SET registered_on = make_date(extract(year FROM chuang_today('" AGENCY
             "'))::int"
             " - 1, 6, 1) WHERE credit_code = '%s';"
             " DELETE FROM annual_report_checks"
             " WHERE year = extract(year FROM chuang_today('" AGENCY "'))::int - 1;"
             " UPDATE deregistrations SET notice_ends_at = now() WHERE credit_code IN ('%s', '%s')",
             late, quiet, objected);
    s_sql(backdate);
    /* Every key of the registry goes, its cached scripts with them (the
     * Redis other tests share is not restarted under them). */
    assert_int_equal(harness_sh("redis-cli -p %s --scan --pattern 'test:registry:*'"
                                " | xargs -r redis-cli -p %s DEL >/dev/null &&"
                                " redis-cli -p %s SCRIPT FLUSH >/dev/null",
                                harness_get("CHUANG_TEST_REDIS_PORT"),
                                harness_get("CHUANG_TEST_REDIS_PORT"),
                                harness_get("CHUANG_TEST_REDIS_PORT")),
                     0);
    s_registry = s_start_registry();
    assert_int_equal(harness_wait_service(s_endpoint, "registry", 20000), 0);

    char *status = s_decided(quiet);
    assert_string_equal(status, "deregistered");
    free(status);
    status = s_decided(objected);
    assert_string_equal(status, "rejected");
    free(status);
    for (int i = 0; i < 300 && !streq(s_standing(late), "abnormal"); i++)
        zclock_sleep(100);
    assert_string_equal(s_standing(late), "abnormal");
    free(late);

    /* Too late to object now. */
    objection.credit_code = quiet;
    reply = client_call(s_creditor, "registry", "ObjectToDeregistration", &objection.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__FAILED_PRECONDITION);
    assert_true(s_has_violation(reply, "credit_code"));
    chuang__reply__free_unpacked(reply, NULL);

    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM entities WHERE credit_code = '%s' AND status = 'deregistered'",
             quiet);
    assert_int_equal(s_count(sql), 1);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM chuang_outbox WHERE aggregate_id = '%s'"
             " AND type = 'registry.Deregistered'",
             quiet);
    assert_int_equal(s_count(sql), 1);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM chuang_outbox WHERE aggregate_id = '%s'"
             " AND type = 'registry.DeregistrationRejected'",
             objected);
    assert_int_equal(s_count(sql), 1);

    /* Deregistered means deregistered: no second application. */
    reply = s_call_code(s_officer, "ApplyDeregistration", quiet);
    assert_int_equal(reply->status, CHUANG__STATUS__FAILED_PRECONDITION);
    chuang__reply__free_unpacked(reply, NULL);
    free(quiet);
    free(objected);
}

static void test_missing_annual_report_lists_abnormal_until_filed(void **state)
{
    (void)state;
    char *code = s_registered("断桥");
    /* Registered last year, with no report for it, like 1,100 others (more
     * than two of the check's chunks): the check, made anew, lists them all,
     * each once, with its event. */
    char sql[2048];
    snprintf(sql, sizeof sql,
             "UPDATE entities SET registered_on = make_date(extract(year FROM chuang_today('" AGENCY
             "'))::int - 1, 3, 1) WHERE credit_code = '%s';"
             " INSERT INTO name_reservations (id, agency, name, region, trade_name, industry, form,"
             "   applicant_name, applicant_id_number, reserved_on, expires_on, status)"
             " SELECT md5('bulk' || g)::uuid, agency, name || g, region, trade_name || g, industry,"
             "   form, applicant_name, applicant_id_number, reserved_on, expires_on, status"
             " FROM name_reservations, generate_series(1, 1100) g"
             " WHERE id = (SELECT reservation_id FROM entities WHERE credit_code = '%s');"
             " INSERT INTO entities (credit_code, agency, name, trade_name, industry, entity_type,"
             "   legal_rep_name, legal_rep_id_number, legal_rep_phone, registered_capital_fen,"
             "   business_scope, industry_code, reservation_id, registered_on)"
             " SELECT 'BULK' || lpad(g::text, 14, '0'), agency, name || g, trade_name || g,"
             "   industry, entity_type, legal_rep_name, legal_rep_id_number, legal_rep_phone,"
             "   registered_capital_fen, business_scope, industry_code, md5('bulk' || g)::uuid,"
             "   registered_on FROM entities, generate_series(1, 1100) g WHERE credit_code = '%s';"
             " DELETE FROM annual_report_checks"
             " WHERE year = extract(year FROM chuang_today('" AGENCY "'))::int - 1",
             code, code, code);
    s_sql(sql);
    for (int i = 0; i < 300 && !streq(s_standing(code), "abnormal"); i++)
        zclock_sleep(100);
    assert_string_equal(s_standing(code), "abnormal");
    for (int i = 0; i < 300 && s_count("SELECT count(*) FROM annual_report_checks"
                                       " WHERE agency = '" AGENCY "' AND listed >= 1101") == 0;
         i++)
        zclock_sleep(100);
    assert_int_equal(s_count("SELECT count(*) FROM credit_listings"
                             " WHERE credit_code LIKE 'BULK%' AND removed_at IS NULL"),
                     1100);
    assert_int_equal(
        s_count("SELECT count(DISTINCT aggregate_id) FROM chuang_outbox"
                " WHERE aggregate_id LIKE 'BULK%' AND type = 'registry.ListedAbnormal'"),
        1100);
    assert_int_equal(
        s_count("SELECT count(*) FROM chuang_outbox"
                " WHERE aggregate_id LIKE 'BULK%' AND type = 'registry.ListedAbnormal'"),
        1100);

    /* Filing the report late takes it off the list. */
    Chuang__Registry__FileAnnualReportRequest report =
        CHUANG__REGISTRY__FILE_ANNUAL_REPORT_REQUEST__INIT;
    report.credit_code = code;
    int this_year = (int)s_count("SELECT extract(year FROM chuang_today('" AGENCY "'))");
    report.year = this_year - 1;
    report.employees = 12;
    report.revenue_fen = 123456789;
    Chuang__Reply *reply =
        client_call(s_officer, "registry", "FileAnnualReport", &report.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Registry__AnnualReport *filed =
        chuang__registry__annual_report__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_true(filed->removed_from_abnormal);
    chuang__registry__annual_report__free_unpacked(filed, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    assert_string_equal(s_standing(code), "good");

    /* Filed twice, or for a year to come: refused. */
    reply = client_call(s_officer, "registry", "FileAnnualReport", &report.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__ALREADY_EXISTS);
    chuang__reply__free_unpacked(reply, NULL);
    report.year = this_year + 1;
    reply = client_call(s_officer, "registry", "FileAnnualReport", &report.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__INVALID_ARGUMENT);
    assert_true(s_has_violation(reply, "year"));
    chuang__reply__free_unpacked(reply, NULL);
    free(code);
}

static Chuang__Registry__Entity *s_as_of(client_t *client, const char *code, const char *date,
                                         Chuang__Status *status)
{
    Chuang__Registry__GetEntityAsOfRequest request =
        CHUANG__REGISTRY__GET_ENTITY_AS_OF_REQUEST__INIT;
    request.credit_code = (char *)code;
    request.as_of = (char *)date;
    Chuang__Reply *reply = client_call(client, "registry", "GetEntityAsOf", &request.base, NULL);
    *status = reply->status;
    Chuang__Registry__Entity *entity =
        reply->status == CHUANG__STATUS__OK
            ? chuang__registry__entity__unpack(NULL, reply->payload.len, reply->payload.data)
            : NULL;
    chuang__reply__free_unpacked(reply, NULL);
    return entity;
}

/* A date n days from today, as YYYY-MM-DD. */
/* The agency's date n days from today, YYYY-MM-DD, into buffer. */
static const char *s_day(int n, char buffer[11])
{
    PGconn *db = db_connect(s_db_url, "registry", 3);
    assert_non_null(db);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT to_char(chuang_today('" AGENCY "') + %d, 'YYYY-MM-DD')", n);
    PGresult *res = PQexec(db, sql);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    snprintf(buffer, 11, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    PQfinish(db);
    return buffer;
}

static void test_changes_keep_history_readable_as_of_a_date(void **state)
{
    (void)state;
    char *code = s_registered("孤山");
    Chuang__Registry__ChangeEntityRequest change = CHUANG__REGISTRY__CHANGE_ENTITY_REQUEST__INIT;
    Chuang__Registry__CapitalChange capital = CHUANG__REGISTRY__CAPITAL_CHANGE__INIT;
    capital.fen = 300000000;
    change.credit_code = code;
    change.business_scope = "软件开发、数据处理服务";
    change.registered_capital = &capital;
    Chuang__Reply *reply = client_call(s_officer, "registry", "ChangeEntity", &change.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Registry__EntityChange *changed =
        chuang__registry__entity_change__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_int_equal(changed->n_changes, 2);
    assert_string_equal(changed->changes[0]->field, "registered_capital_fen");
    assert_string_equal(changed->changes[0]->old_value, "100000000");
    assert_string_equal(changed->changes[1]->old_value, "网络技术开发、技术服务");
    chuang__registry__entity_change__free_unpacked(changed, NULL);
    chuang__reply__free_unpacked(reply, NULL);

    /* The same values again change nothing; a bad field changes nothing. */
    reply = client_call(s_officer, "registry", "ChangeEntity", &change.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__INVALID_ARGUMENT);
    chuang__reply__free_unpacked(reply, NULL);
    change.business_scope = "";
    change.registered_capital = NULL;
    change.industry_code = "Q";
    capital.fen = -1;
    change.registered_capital = &capital;
    reply = client_call(s_officer, "registry", "ChangeEntity", &change.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__INVALID_ARGUMENT);
    assert_true(s_has_violation(reply, "registered_capital.fen"));
    chuang__reply__free_unpacked(reply, NULL);

    /* Move the history back: registered ten days ago, changed five days ago. */
    char sql[1024];
    snprintf(sql, sizeof sql,
             "UPDATE entity_history SET valid_from = valid_from - interval '5 days'"
             "  WHERE credit_code = '%s' AND valid_to IS NULL"
             "    AND field IN ('business_scope', 'registered_capital_fen');"
             "UPDATE entity_history SET valid_from = valid_from - interval '10 days',"
             "  valid_to = valid_to - interval '5 days'"
             "  WHERE credit_code = '%s' AND valid_to IS NOT NULL;"
             "UPDATE entity_history SET valid_from = valid_from - interval '10 days'"
             "  WHERE credit_code = '%s' AND valid_to IS NULL"
             "    AND field NOT IN ('business_scope', 'registered_capital_fen')",
             code, code, code);
    s_sql(sql);

    char day[11];
    Chuang__Status status;
    Chuang__Registry__Entity *entity = s_as_of(s_officer, code, s_day(-7, day), &status);
    assert_int_equal(status, CHUANG__STATUS__OK);
    assert_string_equal(entity->business_scope, "网络技术开发、技术服务");
    assert_int_equal(entity->registered_capital_fen, 100000000);
    assert_string_equal(entity->legal_representative->id_number, "330106199003071236");
    chuang__registry__entity__free_unpacked(entity, NULL);
    entity = s_as_of(s_officer, code, s_day(0, day), &status);
    assert_string_equal(entity->business_scope, "软件开发、数据处理服务");
    assert_int_equal(entity->registered_capital_fen, 300000000);
    chuang__registry__entity__free_unpacked(entity, NULL);
    entity = s_as_of(s_public, code, s_day(-7, day), &status);
    assert_null(strstr(entity->legal_representative->id_number, "19900307"));
    chuang__registry__entity__free_unpacked(entity, NULL);
    entity = s_as_of(s_officer, code, s_day(-20, day), &status);
    assert_int_equal(status, CHUANG__STATUS__NOT_FOUND);
    entity = s_as_of(s_officer, code, "2026-13-01", &status);
    assert_int_equal(status, CHUANG__STATUS__INVALID_ARGUMENT);

    /* A new name comes from a reservation; the old one stays in the history. */
    char *reservation_id = s_reserved("西溪");
    Chuang__Registry__ChangeEntityRequest rename = CHUANG__REGISTRY__CHANGE_ENTITY_REQUEST__INIT;
    rename.credit_code = code;
    rename.name_reservation_id = reservation_id;
    reply = client_call(s_officer, "registry", "ChangeEntity", &rename.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    changed =
        chuang__registry__entity_change__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_int_equal(changed->n_changes, 1);
    assert_string_equal(changed->changes[0]->field, "name");
    assert_string_equal(changed->changes[0]->old_value, "杭州孤山网络科技有限公司");
    assert_string_equal(changed->changes[0]->new_value, "杭州西溪网络科技有限公司");
    chuang__registry__entity_change__free_unpacked(changed, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    entity = s_as_of(s_public, code, s_day(0, day), &status);
    assert_string_equal(entity->name, "杭州西溪网络科技有限公司");
    chuang__registry__entity__free_unpacked(entity, NULL);
    entity = s_as_of(s_public, code, s_day(-7, day), &status);
    assert_string_equal(entity->name, "杭州孤山网络科技有限公司");
    chuang__registry__entity__free_unpacked(entity, NULL);
    /* The reservation is used up. */
    reply = client_call(s_officer, "registry", "ChangeEntity", &rename.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__FAILED_PRECONDITION);
    assert_true(s_has_violation(reply, "name_reservation_id"));
    chuang__reply__free_unpacked(reply, NULL);
    free(reservation_id);

    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM chuang_outbox WHERE aggregate_id = '%s'"
             " AND type = 'registry.EntityChanged'",
             code);
    assert_int_equal(s_count(sql), 2);
    free(code);
}

/* Writes licence as JSON to path, as chuangctl would print it. */
static void s_write_licence(const Chuang__Registry__Licence *licence, const char *path)
{
    json_t *json = pbjson_from_message(&licence->base, false);
    assert_non_null(json);
    assert_int_equal(json_dump_file(json, path, JSON_INDENT(2)), 0);
    json_decref(json);
}

static bool s_verified_by_service(const Chuang__Registry__Licence *licence)
{
    Chuang__Reply *reply = client_call(s_public, "registry", "VerifyLicence", &licence->base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Registry__LicenceVerification *verification =
        chuang__registry__licence_verification__unpack(NULL, reply->payload.len,
                                                       reply->payload.data);
    bool valid = verification->valid;
    assert_string_equal(verification->entity_status, "registered");
    chuang__registry__licence_verification__free_unpacked(verification, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    return valid;
}

static void test_licence_verifies_offline_and_one_byte_breaks_it(void **state)
{
    (void)state;
    char *code = s_registered("北山");
    Chuang__Registry__GetEntityRequest request = CHUANG__REGISTRY__GET_ENTITY_REQUEST__INIT;
    request.credit_code = code;
    /* Another person may not have it; the legal representative may. */
    Chuang__Reply *reply = client_call(s_creditor, "registry", "IssueLicence", &request.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__PERMISSION_DENIED);
    chuang__reply__free_unpacked(reply, NULL);
    reply = client_call(s_owner, "registry", "IssueLicence", &request.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Registry__Licence *licence =
        chuang__registry__licence__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_string_equal(licence->credit_code, code);
    assert_string_equal(licence->name, "杭州北山网络科技有限公司");
    assert_string_equal(licence->registered_capital_fen, "100000000");
    assert_int_equal(strlen(licence->signature), 128);
    chuang__reply__free_unpacked(reply, NULL);

    /* Verified by the registry, and offline from the licence and the key alone. */
    assert_true(s_verified_by_service(licence));
    char path[600];
    snprintf(path, sizeof path, "%s/licence.json", harness_dir());
    s_write_licence(licence, path);
    assert_int_equal(
        harness_sh("'%s' licence-verify '%s' '%s/licence' >/dev/null", CTL, path, harness_dir()),
        0);

    /* One byte changed: the capital 100000000 -> 100000001. */
    licence->registered_capital_fen[8] = '1';
    assert_false(s_verified_by_service(licence));
    s_write_licence(licence, path);
    assert_int_equal(
        harness_sh("'%s' licence-verify '%s' '%s/licence' >/dev/null", CTL, path, harness_dir()),
        1);
    chuang__registry__licence__free_unpacked(licence, NULL);
    free(code);
}

typedef struct {
    const char *credit_code; /* ChangeEntity of this, or ReserveName when NULL */
    const char *trade_name;
    Chuang__Status status;
} racer_t;

static void *s_race(void *args)
{
    racer_t *racer = args;
    client_t *client = client_new(s_endpoint, s_security);
    client_set_identity(client, AGENCY, "officer-1", "officer");
    client_set_timeouts(client, 15000, 15000);
    Chuang__Reply *reply;
    if (racer->credit_code) {
        Chuang__Registry__ChangeEntityRequest change =
            CHUANG__REGISTRY__CHANGE_ENTITY_REQUEST__INIT;
        change.credit_code = (char *)racer->credit_code;
        change.business_scope = "数据处理服务";
        reply = client_call(client, "registry", "ChangeEntity", &change.base, NULL);
    } else {
        Chuang__Registry__ReserveNameRequest request = CHUANG__REGISTRY__RESERVE_NAME_REQUEST__INIT;
        request.region = "杭州";
        request.trade_name = (char *)racer->trade_name;
        request.industry = "网络科技";
        request.organisational_form = "有限公司";
        request.applicant_name = "张三";
        request.applicant_id_number = "11010519491231002X";
        reply = client_call(client, "registry", "ReserveName", &request.base, NULL);
    }
    racer->status = reply->status;
    chuang__reply__free_unpacked(reply, NULL);
    client_destroy(&client);
    return NULL;
}

static void test_deadlocks_are_retried_and_races_answered(void **state)
{
    (void)state;
    /* A session holds the entity; ChangeEntity claims its idempotency key
     * and waits for it; the session then waits for the idempotency table:
     * a deadlock, in which PostgreSQL aborts the handler. The framework
     * runs it again and it succeeds. */
    char *code = s_registered("满陇");
    PGconn *other = db_connect(s_db_url, "registry", 3);
    char sql[256];
    snprintf(sql, sizeof sql, "BEGIN; SELECT 1 FROM entities WHERE credit_code = '%s' FOR UPDATE",
             code);
    assert_int_equal(db_exec(other, "hold the entity", sql), 0);
    racer_t change = {.credit_code = code};
    pthread_t thread;
    pthread_create(&thread, NULL, s_race, &change);
    zclock_sleep(600);
    PGresult *res = PQexec(other, "LOCK TABLE chuang_idempotency IN SHARE MODE");
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    zclock_sleep(200);
    PQclear(PQexec(other, "ROLLBACK"));
    pthread_join(thread, NULL);
    assert_int_equal(change.status, CHUANG__STATUS__OK);
    /* The service ran it again itself (the client would also retry an
     * UNAVAILABLE, which would hide a framework that did not). */
    assert_int_equal(
        harness_sh("grep -q 'method=ChangeEntity attempt=2' '%s'/registry*.log", harness_dir()), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM entities WHERE credit_code = '%s'"
             " AND business_scope = '数据处理服务'",
             code);
    assert_int_equal(s_count(sql), 1);
    PQfinish(other);
    free(code);

    /* Eight officers reserve the same name at once: one gets it, the others
     * are told it is taken. */
    enum { RACERS = 8 };
    racer_t racers[RACERS];
    pthread_t threads[RACERS];
    for (int i = 0; i < RACERS; i++) {
        racers[i] = (racer_t){.trade_name = "梅家坞"};
        pthread_create(&threads[i], NULL, s_race, &racers[i]);
    }
    int ok = 0, taken = 0;
    for (int i = 0; i < RACERS; i++) {
        pthread_join(threads[i], NULL);
        ok += racers[i].status == CHUANG__STATUS__OK;
        taken += racers[i].status == CHUANG__STATUS__ALREADY_EXISTS;
    }
    assert_int_equal(ok, 1);
    assert_int_equal(taken, RACERS - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_journey_reserve_register_lookup),
        cmocka_unit_test(test_public_reads_survive_lost_connections),
        cmocka_unit_test(test_bad_registrations_write_nothing),
        cmocka_unit_test(test_bad_names_are_refused),
        cmocka_unit_test(test_reservation_period_is_a_dated_rule),
        cmocka_unit_test(test_legal_dates_are_the_agencys_days),
        cmocka_unit_test(test_deadlocks_are_retried_and_races_answered),
        cmocka_unit_test(test_credit_lists_and_standing),
        cmocka_unit_test(test_deregistration_survives_service_and_redis_restarts),
        cmocka_unit_test(test_missing_annual_report_lists_abnormal_until_filed),
        cmocka_unit_test(test_licence_verifies_offline_and_one_byte_breaks_it),
        cmocka_unit_test(test_changes_keep_history_readable_as_of_a_date),
    };
    return cmocka_run_group_tests_name("registry", tests, s_setup, s_teardown);
}
