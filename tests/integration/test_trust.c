/*
 * test_trust.c - who a caller is comes from its key, and every method checks
 * what that caller may do.
 *
 * One CURVE broker with a principal table, and the tally, registry and notify
 * services behind it. Keys: an officer of 330106, an officer of 330105, a
 * clerk, a department, a gateway that may delegate "applicant", and a key
 * the certificate store lets in but the table does not list. The matrix
 * sends every method of every service, from every caller that lacks the
 * right, and checks the refusal and that nothing in any service's schema
 * changed; the rightful callers then succeed.
 */
#include "client.h"
#include "config.h"
#include "harness.h"
#include "notify.pb-c.h"
#include "registry.pb-c.h"
#include "redis_link.h"
#include "registry_fixture.h"
#include "security.h"
#include "tally.pb-c.h"

#include <czmq.h>
#include <libpq-fe.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define BROKER   CHUANG_BUILD_DIR "/services/broker/chuang-broker"
#define TALLY    CHUANG_BUILD_DIR "/tests/fixtures/tally/chuang-tally"
#define REGISTRY CHUANG_BUILD_DIR "/services/registry/chuang-registry"
#define NOTIFY   CHUANG_BUILD_DIR "/services/notify/chuang-notify"
#define CTL      CHUANG_BUILD_DIR "/services/ctl/chuangctl"

#define OWNER    "330106199003071236" /* legal representative in the fixture */
#define STRANGER "440304199001010021" /* a person with no part in it */

static char s_endpoint[64];
static char s_urls[3][512]; /* tally, registry, notify */
static const char *s_schemas[3] = {"tally", "registry", "notify"};
static pid_t s_pids[4];
static config_t *s_config;

/* The key files under the test's folder. */
static const char *s_keys[] = {"broker", "tally",      "registry", "notify",   "officer", "outside",
                               "clerk",  "department", "gateway",  "unlisted", "flood",   NULL};

static char *s_key_path(const char *name, bool secret)
{
    return zsys_sprintf("%s/keys/%s%s", harness_dir(), name, secret ? "_secret" : "");
}

static char *s_public_key(const char *name)
{
    char *path = s_key_path(name, false);
    zcert_t *cert = zcert_load(path);
    zstr_free(&path);
    assert_non_null(cert);
    char *text = strdup(zcert_public_txt(cert));
    zcert_destroy(&cert);
    return text;
}

/* Writes the principal table with the given extra line (or none). */
static void s_write_principals(const char *extra)
{
    char *path = zsys_sprintf("%s/principals", harness_dir());
    char *tmp = zsys_sprintf("%s.tmp", path);
    FILE *file = fopen(tmp, "w");
    assert_non_null(file);
    struct {
        const char *key, *name, *kind, *agencies, *roles, *delegates;
    } rows[] = {
        {"officer", "officer.zhang", "operator", "330106", "officer", "-"},
        {"outside", "officer.li", "operator", "330105", "officer", "-"},
        {"clerk", "clerk.wang", "operator", "330106", "clerk", "-"},
        {"department", "dept.statistics", "department", "330106", "department", "-"},
        {"gateway", "gateway.web", "gateway", "330106", "-", "applicant"},
        {"flood", "batch.import", "operator", "330106", "-", "rate=2"},
        {NULL, NULL, NULL, NULL, NULL, NULL},
    };
    fprintf(file, "# key name kind agencies roles delegates\n");
    for (int i = 0; rows[i].key; i++) {
        char *key = s_public_key(rows[i].key);
        fprintf(file, "%s %s %s %s %s %s\n", key, rows[i].name, rows[i].kind, rows[i].agencies,
                rows[i].roles, rows[i].delegates);
        free(key);
    }
    if (extra)
        fprintf(file, "%s\n", extra);
    fclose(file);
    assert_int_equal(rename(tmp, path), 0);
    zstr_free(&tmp);
    zstr_free(&path);
}

/* A client with the named key, claiming agency and roles (NULL: none). */
static client_t *s_client(const char *key, const char *agency, const char *roles,
                          security_t **security)
{
    char *cert = s_key_path(key, true);
    char *server = s_key_path("broker", false);
    config_t *config = config_new(NULL);
    config_set(config, "security.cert", cert);
    config_set(config, "security.server_cert", server);
    *security = security_new(config);
    config_destroy(&config);
    zstr_free(&cert);
    zstr_free(&server);
    assert_non_null(*security);
    client_t *client = client_new(s_endpoint, *security);
    client_set_identity(client, agency, NULL, roles);
    client_set_timeouts(client, 2000, 10000);
    return client;
}

/* A person the gateway authenticated. */
static client_t *s_person(const char *id_number, security_t **security)
{
    client_t *client = s_client("gateway", "330106", "applicant", security);
    client_set_identity(client, "330106", id_number, "applicant");
    client_set_person(client, id_number);
    return client;
}

static void s_done(client_t **client, security_t **security)
{
    client_destroy(client);
    security_destroy(security);
}

static pid_t s_spawn(const char *name, const char *program, const char *url, const char *extra1,
                     const char *extra2)
{
    char *brokers = zsys_sprintf("CHUANG_BROKERS=%s", s_endpoint);
    char *db = zsys_sprintf("CHUANG_DB_URL=%s", url);
    char *redis = zsys_sprintf("CHUANG_REDIS_URL=%s", harness_get("CHUANG_TEST_REDIS_URL"));
    char *cert = zsys_sprintf("CHUANG_SECURITY_CERT=%s/keys/%s_secret", harness_dir(), name);
    char *server = zsys_sprintf("CHUANG_SECURITY_SERVER_CERT=%s/keys/broker", harness_dir());
    char *prefix = zsys_sprintf("CHUANG_REDIS_PREFIX=trust:%s", name);
    const char *env[] = {brokers,
                         db,
                         redis,
                         cert,
                         server,
                         prefix,
                         "CHUANG_AUDIT_SEAL_MS=100",
                         "CHUANG_AUDIT_CHECKPOINT_MS=200",
                         extra1,
                         extra2,
                         NULL};
    pid_t pid = harness_spawn(name, program, env);
    zstr_free(&brokers);
    zstr_free(&db);
    zstr_free(&redis);
    zstr_free(&cert);
    zstr_free(&server);
    zstr_free(&prefix);
    return pid;
}

static int s_setup(void **state)
{
    (void)state;
    if (harness_init("trust") != 0 || harness_recipient_key() != 0)
        return -1;
    for (int i = 0; i < 3; i++) {
        const char *url = harness_service_db("trust", s_schemas[i]);
        if (!url)
            return -1;
        snprintf(s_urls[i], sizeof s_urls[i], "%s", url);
    }
    const char *dir = harness_dir();
    harness_sh("mkdir -p '%s/keys/allow' '%s/keys/workers'", dir, dir);
    for (int i = 0; s_keys[i]; i++) {
        char *path = s_key_path(s_keys[i], false);
        if (security_keygen(path, s_keys[i]) != 0)
            return -1;
        if (i > 0)
            harness_sh("cp '%s' '%s/keys/%s/'", path, dir, i <= 3 ? "workers" : "allow");
        zstr_free(&path);
    }
    harness_sh("cp '%s/keys/workers/'* '%s/keys/allow/'", dir, dir);
    if (harness_sh("'%s' licence-keygen '%s/licence' >/dev/null", CTL, dir) != 0)
        return -1;
    s_write_principals(NULL);

    snprintf(s_endpoint, sizeof s_endpoint, "tcp://127.0.0.1:%d", harness_free_port());
    char *bind = zsys_sprintf("CHUANG_BROKER_ENDPOINT=%s", s_endpoint);
    char *cert = zsys_sprintf("CHUANG_SECURITY_CERT=%s/keys/broker_secret", dir);
    char *allow = zsys_sprintf("CHUANG_SECURITY_ALLOW_DIR=%s/keys/allow", dir);
    char *workers = zsys_sprintf("CHUANG_SECURITY_WORKER_DIR=%s/keys/workers", dir);
    char *principals = zsys_sprintf("CHUANG_SECURITY_PRINCIPALS=%s/principals", dir);
    const char *broker_env[] = {
        bind, cert, allow, workers, principals, "CHUANG_BROKER_HEARTBEAT_MS=500", NULL};
    s_pids[0] = harness_spawn("broker", BROKER, broker_env);
    zstr_free(&bind);
    zstr_free(&cert);
    zstr_free(&allow);
    zstr_free(&workers);
    zstr_free(&principals);

    char *licence = zsys_sprintf("CHUANG_REGISTRY_LICENCE_KEY=%s/licence_secret", dir);
    s_pids[1] = s_spawn("tally", TALLY, s_urls[0], NULL, NULL);
    char *audit = zsys_sprintf("CHUANG_AUDIT_KEY=%s/licence_secret", dir);
    s_pids[2] = s_spawn("registry", REGISTRY, s_urls[1], licence, audit);
    zstr_free(&audit);
    s_pids[3] = s_spawn("notify", NOTIFY, s_urls[2],
                        "CHUANG_CONSUME_REGISTRY_STREAM=trust:registry:events", NULL);
    zstr_free(&licence);

    security_t *security;
    client_t *client = s_client("officer", NULL, NULL, &security);
    const char *services[] = {"tally", "registry", "notify", NULL};
    int rc = 0;
    for (int i = 0; services[i] && rc == 0; i++) {
        rc = -1;
        for (int tries = 0; tries < 600 && rc != 0; tries++, zclock_sleep(100))
            if (client_service_exists(client, services[i]) == 1)
                rc = 0;
    }
    s_done(&client, &security);
    s_config = config_new(NULL);
    return rc;
}

static int s_teardown(void **state)
{
    (void)state;
    for (int i = 3; i >= 0; i--)
        harness_stop(s_pids[i], SIGTERM, 5000);
    config_destroy(&s_config);
    return 0;
}

/* A digest of every row of every table in the service's schema. */
static char *s_digest(int service)
{
    PGconn *db = PQconnectdb(s_urls[service]);
    if (PQstatus(db) != CONNECTION_OK)
        fprintf(stderr, "trust: cannot connect to read the schema: %s", PQerrorMessage(db));
    assert_int_equal(PQstatus(db), CONNECTION_OK);
    const char *values[1] = {s_schemas[service]};
    PGresult *tables = PQexecParams(db,
                                    "SELECT quote_ident(table_name) FROM information_schema.tables"
                                    " WHERE table_schema = $1 AND table_type = 'BASE TABLE'"
                                    " ORDER BY 1",
                                    1, NULL, values, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(tables), PGRES_TUPLES_OK);
    char *digest = strdup("");
    for (int i = 0; i < PQntuples(tables); i++) {
        /* The audit sealer numbers and chains rows in the background:
         * what was recorded counts, not when it was sealed. */
        const char *table = PQgetvalue(tables, i, 0);
        if (streq(table, "chuang_audit_checkpoints"))
            continue;
        const char *row = streq(table, "chuang_audit") ? "(t.id, t.principal, t.method)" : "t";
        char *sql = zsys_sprintf("SELECT coalesce(md5(string_agg(%s::text, '|' ORDER BY %s::text)),"
                                 " '-') FROM %s.%s t",
                                 row, row, s_schemas[service], table);
        PGresult *res = PQexec(db, sql);
        assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
        char *next =
            zsys_sprintf("%s%s=%s;", digest, PQgetvalue(tables, i, 0), PQgetvalue(res, 0, 0));
        free(digest);
        digest = strdup(next);
        zstr_free(&next);
        zstr_free(&sql);
        PQclear(res);
    }
    PQclear(tables);
    PQfinish(db);
    return digest;
}

static Chuang__Status s_call_status(client_t *client, const char *service, const char *method,
                                    const ProtobufCMessage *input, char **message)
{
    Chuang__Reply *reply = client_call(client, service, method, input, NULL);
    assert_non_null(reply);
    Chuang__Status status = reply->status;
    if (message)
        *message = strdup(reply->message);
    chuang__reply__free_unpacked(reply, NULL);
    return status;
}

static Chuang__Status s_counter(client_t *client, const char *method, const char *counter,
                                int64_t amount, const char *key, int64_t *total)
{
    Chuang__Tally__AddRequest add = CHUANG__TALLY__ADD_REQUEST__INIT;
    add.counter = (char *)counter;
    add.amount = amount;
    Chuang__Tally__GetRequest get = CHUANG__TALLY__GET_REQUEST__INIT;
    get.counter = (char *)counter;
    client_options_t options = {.idempotency_key = key};
    Chuang__Reply *reply = client_call(client, "tally", method,
                                       streq(method, "Add") ? &add.base : &get.base, &options);
    Chuang__Status status = reply->status;
    if (status == CHUANG__STATUS__OK && total && streq(method, "Add")) {
        Chuang__Tally__AddReply *added =
            chuang__tally__add_reply__unpack(NULL, reply->payload.len, reply->payload.data);
        *total = added->total;
        chuang__tally__add_reply__free_unpacked(added, NULL);
    }
    chuang__reply__free_unpacked(reply, NULL);
    return status;
}

static void test_claims_are_checked_against_the_key(void **state)
{
    (void)state;
    security_t *sec;
    char *message = NULL;
    Chuang__Tally__GetRequest get = CHUANG__TALLY__GET_REQUEST__INIT;
    get.counter = "trust";

    /* A role the key does not hold, an agency it does not act for. */
    client_t *client = s_client("officer", "330106", "clerk", &sec);
    assert_int_equal(s_call_status(client, "tally", "Reset", &get.base, &message),
                     CHUANG__STATUS__PERMISSION_DENIED);
    assert_non_null(strstr(message, "does not hold the role clerk"));
    zstr_free(&message);
    s_done(&client, &sec);
    client = s_client("officer", "330105", NULL, &sec);
    assert_int_equal(s_call_status(client, "tally", "Get", &get.base, &message),
                     CHUANG__STATUS__PERMISSION_DENIED);
    assert_non_null(strstr(message, "may not act for agency 330105"));
    zstr_free(&message);
    s_done(&client, &sec);

    /* The clerk's own role is taken from its key, unclaimed. */
    assert_int_equal(
        s_counter((client = s_client("clerk", NULL, NULL, &sec)), "Add", "trust", 4, NULL, NULL),
        CHUANG__STATUS__OK);
    assert_int_equal(s_call_status(client, "tally", "Reset", &get.base, NULL), CHUANG__STATUS__OK);
    s_done(&client, &sec);

    /* A key let in but granted nothing: public methods only, an answer
     * otherwise; and it may claim nothing. */
    client = s_client("unlisted", NULL, NULL, &sec);
    assert_int_equal(s_call_status(client, "tally", "Get", &get.base, NULL), CHUANG__STATUS__OK);
    assert_int_equal(s_call_status(client, "tally", "Reset", &get.base, &message),
                     CHUANG__STATUS__PERMISSION_DENIED);
    assert_non_null(strstr(message, "clerk role required"));
    zstr_free(&message);
    s_done(&client, &sec);
    client = s_client("unlisted", NULL, "officer", &sec);
    assert_int_equal(s_call_status(client, "tally", "Get", &get.base, NULL),
                     CHUANG__STATUS__PERMISSION_DENIED);
    s_done(&client, &sec);

    /* A method that declares nobody is refused to everybody. */
    client = s_client("clerk", NULL, NULL, &sec);
    assert_int_equal(s_call_status(client, "tally", "Undeclared", &get.base, &message),
                     CHUANG__STATUS__PERMISSION_DENIED);
    assert_non_null(strstr(message, "open to nobody"));
    zstr_free(&message);
    s_done(&client, &sec);

    /* A gateway delegates only what it may; only a gateway names a person. */
    client = s_person(STRANGER, &sec);
    assert_int_equal(s_call_status(client, "tally", "Get", &get.base, NULL), CHUANG__STATUS__OK);
    client_set_identity(client, "330106", STRANGER, "clerk");
    assert_int_equal(s_call_status(client, "tally", "Reset", &get.base, &message),
                     CHUANG__STATUS__PERMISSION_DENIED);
    assert_non_null(strstr(message, "gateway.web does not hold the role clerk"));
    zstr_free(&message);
    s_done(&client, &sec);
    client = s_client("officer", NULL, NULL, &sec);
    client_set_person(client, OWNER);
    assert_int_equal(s_call_status(client, "tally", "Get", &get.base, &message),
                     CHUANG__STATUS__PERMISSION_DENIED);
    assert_non_null(strstr(message, "only a gateway may name a person"));
    zstr_free(&message);
    s_done(&client, &sec);

    /* The table is read again when it changes: the unlisted key becomes a
     * clerk without a restart. */
    char *key = s_public_key("unlisted");
    char *line = zsys_sprintf("%s clerk.zhao operator 330106 clerk", key);
    free(key);
    s_write_principals(line);
    zstr_free(&line);
    client = s_client("unlisted", NULL, NULL, &sec);
    Chuang__Status status = CHUANG__STATUS__PERMISSION_DENIED;
    for (int i = 0; i < 100 && status != CHUANG__STATUS__OK; i++, zclock_sleep(100))
        status = s_call_status(client, "tally", "Reset", &get.base, NULL);
    assert_int_equal(status, CHUANG__STATUS__OK);
    /* And revoked the same way. */
    s_write_principals(NULL);
    for (int i = 0; i < 100 && status == CHUANG__STATUS__OK; i++, zclock_sleep(100))
        status = s_call_status(client, "tally", "Reset", &get.base, NULL);
    assert_int_equal(status, CHUANG__STATUS__PERMISSION_DENIED);
    s_done(&client, &sec);
}

static void test_idempotency_keys_belong_to_their_caller(void **state)
{
    (void)state;
    security_t *sec_a, *sec_b;
    client_t *a = s_client("officer", NULL, NULL, &sec_a);
    client_t *b = s_client("clerk", NULL, NULL, &sec_b);
    int64_t first = 0, second = 0, again = 0;
    assert_int_equal(s_counter(a, "Add", "shared-key", 2, "my-key-1", &first), CHUANG__STATUS__OK);
    assert_int_equal(s_counter(b, "Add", "shared-key", 5, "my-key-1", &second), CHUANG__STATUS__OK);
    assert_int_equal(first, 2);
    assert_int_equal(second, 7);
    /* Each caller's retry still gets its own first reply. */
    assert_int_equal(s_counter(a, "Add", "shared-key", 2, "my-key-1", &again), CHUANG__STATUS__OK);
    assert_int_equal(again, 2);
    s_done(&a, &sec_a);
    s_done(&b, &sec_b);
}

/* The methods any admitted caller may call, per service. */
static bool s_public(const char *service, const char *method)
{
    static const char *const open[] = {
        "tally.Add",
        "tally.Get",
        "tally.Echo",
        "registry.SearchNames",
        "registry.Lookup",
        "registry.GetCreditStanding",
        "registry.GetDeregistration",
        "registry.VerifyLicence",
        "registry.GetEntityAsOf",
        NULL,
    };
    char name[128];
    snprintf(name, sizeof name, "%s.%s", service, method);
    for (int i = 0; open[i]; i++)
        if (streq(open[i], name))
            return true;
    return false;
}

static void test_every_method_refuses_who_lacks_the_right(void **state)
{
    (void)state;
    char *before[3];
    for (int i = 0; i < 3; i++)
        before[i] = s_digest(i);
    struct {
        const char *what, *key, *agency, *roles;
        bool always; /* refused whatever the method */
    } callers[] = {
        {"a key granted nothing", "unlisted", NULL, NULL, false},
        {"an officer of another agency", "outside", "330106", NULL, true},
        {"a forged role", "department", NULL, "officer", true},
        {"a gateway delegating officer", "gateway", NULL, "officer", true},
        {"a department on officers' methods", "department", NULL, NULL, false},
    };
    const ProtobufCServiceDescriptor *services[] = {&chuang__tally__tally__descriptor,
                                                    &chuang__registry__registry__descriptor,
                                                    &chuang__notify__notify__descriptor};
    const char *names[] = {"tally", "registry", "notify"};
    int refused = 0;
    for (size_t c = 0; c < sizeof callers / sizeof callers[0]; c++) {
        security_t *sec;
        client_t *client = s_client(callers[c].key, callers[c].agency, callers[c].roles, &sec);
        for (int s = 0; s < 3; s++)
            for (unsigned m = 0; m < services[s]->n_methods; m++) {
                const char *method = services[s]->methods[m].name;
                bool open = s_public(names[s], method) ||
                            (streq(callers[c].key, "department") && streq(method, "TakeSnapshot"));
                if (!callers[c].always && open)
                    continue;
                uint8_t empty = 0;
                Chuang__Reply *reply =
                    client_call_packed(client, names[s], method, &empty, 0, NULL);
                if (reply->status != CHUANG__STATUS__PERMISSION_DENIED)
                    fprintf(stderr, "%s: %s.%s answered %d (%s)\n", callers[c].what, names[s],
                            method, reply->status, reply->message);
                assert_int_equal(reply->status, CHUANG__STATUS__PERMISSION_DENIED);
                chuang__reply__free_unpacked(reply, NULL);
                refused++;
            }
        s_done(&client, &sec);
    }
    assert_true(refused > 60);
    for (int i = 0; i < 3; i++) {
        char *after = s_digest(i);
        assert_string_equal(before[i], after);
        free(after);
        free(before[i]);
    }
}

static void test_applicants_touch_only_their_own_records(void **state)
{
    (void)state;
    security_t *sec_officer, *sec_owner, *sec_stranger, *sec_outside;
    client_t *officer = s_client("officer", NULL, NULL, &sec_officer);
    char *code = registry_fixture_register(officer, "西溪");
    client_t *owner = s_person(OWNER, &sec_owner);
    client_t *stranger = s_person(STRANGER, &sec_stranger);
    Chuang__Registry__AddToListRequest listing = CHUANG__REGISTRY__ADD_TO_LIST_REQUEST__INIT;
    listing.credit_code = code;
    listing.list = "abnormal";
    listing.reason = "通过登记的住所无法联系";
    listing.authority = "西湖区市场监督管理局";
    assert_int_equal(s_call_status(officer, "registry", "AddToList", &listing.base, NULL),
                     CHUANG__STATUS__OK);
    char *before = s_digest(1);

    Chuang__Registry__GetEntityRequest get = CHUANG__REGISTRY__GET_ENTITY_REQUEST__INIT;
    get.credit_code = code;
    Chuang__Registry__DeregistrationRequest dereg = CHUANG__REGISTRY__DEREGISTRATION_REQUEST__INIT;
    dereg.credit_code = code;
    Chuang__Registry__FileAnnualReportRequest report =
        CHUANG__REGISTRY__FILE_ANNUAL_REPORT_REQUEST__INIT;
    report.credit_code = code;
    report.year = 2025;
    Chuang__Registry__ChangeEntityRequest change = CHUANG__REGISTRY__CHANGE_ENTITY_REQUEST__INIT;
    change.credit_code = code;
    change.business_scope = "软件开发、信息技术咨询服务";
    Chuang__Registry__ReserveNameRequest reserve = CHUANG__REGISTRY__RESERVE_NAME_REQUEST__INIT;
    reserve.region = "杭州";
    reserve.trade_name = "龙井";
    reserve.industry = "网络科技";
    reserve.organisational_form = "有限公司";
    reserve.applicant_name = "张三";
    reserve.applicant_id_number = "11010519491231002X";
    struct {
        const char *method;
        const ProtobufCMessage *input;
    } writes[] = {
        {"GetEntity", &get.base},
        {"IssueLicence", &get.base},
        {"ChangeEntity", &change.base},
        {"FileAnnualReport", &report.base},
        {"ApplyDeregistration", &dereg.base},
        {"ReserveName", &reserve.base},
    };
    for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++)
        assert_int_equal(
            s_call_status(stranger, "registry", writes[i].method, writes[i].input, NULL),
            CHUANG__STATUS__PERMISSION_DENIED);

    /* Someone else's inbox and notification settings. */
    Chuang__Notify__InboxRequest inbox = CHUANG__NOTIFY__INBOX_REQUEST__INIT;
    inbox.recipient = OWNER;
    assert_int_equal(s_call_status(stranger, "notify", "ListInbox", &inbox.base, NULL),
                     CHUANG__STATUS__PERMISSION_DENIED);
    Chuang__Notify__Recipient recipient = CHUANG__NOTIFY__RECIPIENT__INIT;
    recipient.id = OWNER;
    recipient.email = "attacker@example.com";
    assert_int_equal(s_call_status(stranger, "notify", "SetRecipient", &recipient.base, NULL),
                     CHUANG__STATUS__PERMISSION_DENIED);
    /* ... nor officer roles for oneself. */
    char *roles[] = {"officer"};
    recipient.id = STRANGER;
    recipient.roles = roles;
    recipient.n_roles = 1;
    assert_int_equal(s_call_status(stranger, "notify", "SetRecipient", &recipient.base, NULL),
                     CHUANG__STATUS__PERMISSION_DENIED);

    /* Another agency's officer finds no such entity. */
    client_t *outside = s_client("outside", NULL, NULL, &sec_outside);
    assert_int_equal(s_call_status(outside, "registry", "GetEntity", &get.base, NULL),
                     CHUANG__STATUS__NOT_FOUND);
    Chuang__Registry__RemoveFromListRequest unlist =
        CHUANG__REGISTRY__REMOVE_FROM_LIST_REQUEST__INIT;
    unlist.credit_code = code;
    unlist.list = "abnormal";
    unlist.reason = "已核实";
    assert_int_equal(s_call_status(outside, "registry", "RemoveFromList", &unlist.base, NULL),
                     CHUANG__STATUS__NOT_FOUND);
    Chuang__Registry__ObjectionRequest objection = CHUANG__REGISTRY__OBJECTION_REQUEST__INIT;
    objection.credit_code = code;
    objection.objector = "某债权人";
    objection.reason = "尚有货款未结清";
    assert_int_equal(
        s_call_status(outside, "registry", "ObjectToDeregistration", &objection.base, NULL),
        CHUANG__STATUS__NOT_FOUND);
    char *after = s_digest(1);
    assert_string_equal(before, after);

    /* The rightful callers. */
    assert_int_equal(s_call_status(owner, "registry", "GetEntity", &get.base, NULL),
                     CHUANG__STATUS__OK);
    assert_int_equal(s_call_status(owner, "registry", "IssueLicence", &get.base, NULL),
                     CHUANG__STATUS__OK);
    assert_int_equal(s_call_status(owner, "notify", "ListInbox", &inbox.base, NULL),
                     CHUANG__STATUS__OK);
    char *message = NULL;
    Chuang__Status changed =
        s_call_status(officer, "registry", "ChangeEntity", &change.base, &message);
    if (changed != CHUANG__STATUS__OK)
        fprintf(stderr, "ChangeEntity: %s\n", message);
    zstr_free(&message);
    assert_int_equal(changed, CHUANG__STATUS__OK);

    free(before);
    free(after);
    free(code);
    s_done(&officer, &sec_officer);
    s_done(&owner, &sec_owner);
    s_done(&stranger, &sec_stranger);
    s_done(&outside, &sec_outside);
}

static void test_webhooks_to_internal_addresses_are_refused(void **state)
{
    (void)state;
    security_t *sec;
    client_t *officer = s_client("officer", NULL, NULL, &sec);
    const char *urls[] = {"https://127.0.0.1/hook", "https://10.0.0.1/hook",
                          "https://169.254.169.254/latest/meta-data", "https://localhost/hook",
                          "http://203.0.113.7/hook"};
    const char *reasons[] = {"a loopback address", "a private address", "a link-local address",
                             "url host resolves to", "url must start with https://"};
    char *before = s_digest(2);
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        Chuang__Notify__Recipient recipient = CHUANG__NOTIFY__RECIPIENT__INIT;
        recipient.id = "dept-tax";
        recipient.webhook_url = (char *)urls[i];
        recipient.webhook_secret = "0123456789abcdef0123";
        Chuang__Reply *reply =
            client_call(officer, "notify", "SetRecipient", &recipient.base, NULL);
        assert_int_equal(reply->status, CHUANG__STATUS__INVALID_ARGUMENT);
        assert_int_equal(reply->n_violations, 1);
        assert_string_equal(reply->violations[0]->field, "webhook_url");
        if (!strstr(reply->violations[0]->description, reasons[i]))
            fail_msg("%s: %s", urls[i], reply->violations[0]->description);
        chuang__reply__free_unpacked(reply, NULL);
    }
    char *after = s_digest(2);
    assert_string_equal(before, after);
    free(before);
    free(after);
    s_done(&officer, &sec);
}

static void test_a_key_past_its_rate_is_told_when_to_retry(void **state)
{
    (void)state;
    security_t *sec, *sec_officer;
    client_t *flood = s_client("flood", NULL, NULL, &sec);
    client_set_timeouts(flood, 2000, 300);
    Chuang__Tally__EchoRequest echo = CHUANG__TALLY__ECHO_REQUEST__INIT;
    int ok = 0, limited = 0, late = 0;
    for (int i = 0; i < 10; i++) {
        Chuang__Reply *reply = client_call(flood, "tally", "Echo", &echo.base, NULL);
        if (reply->status == CHUANG__STATUS__OK)
            ok++;
        else if (reply->status == CHUANG__STATUS__RESOURCE_EXHAUSTED && reply->retry_after_ms > 0 &&
                 reply->retry_after_ms <= 1000 && strstr(reply->message, "rate limit"))
            limited++;
        else if (reply->status == CHUANG__STATUS__DEADLINE_EXCEEDED)
            late++; /* a loaded machine, past the short deadline: neither */
        chuang__reply__free_unpacked(reply, NULL);
    }
    assert_true(ok >= 4);
    assert_true(limited >= 1);
    assert_int_equal(ok + limited + late, 10);

    /* Another key is not held back by it. */
    client_t *officer = s_client("officer", NULL, NULL, &sec_officer);
    assert_int_equal(s_call_status(officer, "tally", "Echo", &echo.base, NULL), CHUANG__STATUS__OK);
    s_done(&officer, &sec_officer);

    /* A client with time to spare waits as told and is served. */
    client_set_timeouts(flood, 2000, 10000);
    for (int i = 0; i < 3; i++)
        assert_int_equal(s_call_status(flood, "tally", "Echo", &echo.base, NULL),
                         CHUANG__STATUS__OK);

    /* Questions the broker answers itself (MMI) count against the rate too:
     * past it the key is told 429, never that the service is gone. */
    int found = 0, refused = 0;
    for (int i = 0; i < 10; i++) {
        int exists = client_service_exists(flood, "tally");
        found += exists == 1;
        refused += exists == -1;
    }
    assert_true(refused >= 1);
    assert_int_equal(found + refused, 10);
    zclock_sleep(1500); /* its rate allows another */
    assert_int_equal(client_service_exists(flood, "tally"), 1);
    s_done(&flood, &sec);
}

/* The SQLSTATE of sql run on the service's connection ("" when it ran). */
static char *s_sqlstate(PGconn *db, const char *sql)
{
    PGresult *res = PQexec(db, sql);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    char *copy = strdup(state ? state : "");
    PQclear(res);
    if (PQtransactionStatus(db) != PQTRANS_IDLE)
        PQclear(PQexec(db, "ROLLBACK"));
    return copy;
}

static long long s_stream_length(void)
{
    redisContext *redis = redis_link_connect(harness_get("CHUANG_TEST_REDIS_URL"), 3);
    assert_non_null(redis);
    redisReply *reply = redisCommand(redis, "XLEN trust:registry:events");
    long long length = reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
    freeReplyObject(reply);
    redisFree(redis);
    return length;
}

static void test_each_role_reaches_its_own_schema_only(void **state)
{
    (void)state;
    PGconn *registry = PQconnectdb(s_urls[1]);
    PGconn *notify = PQconnectdb(s_urls[2]);
    assert_int_equal(PQstatus(registry), CONNECTION_OK);
    assert_int_equal(PQstatus(notify), CONNECTION_OK);
    const struct {
        PGconn *db;
        const char *sql;
    } refused[] = {
        {registry, "SELECT count(*) FROM notify.recipients"},
        {registry, "INSERT INTO notify.inbox (recipient) VALUES ('x')"},
        {notify, "SELECT count(*) FROM registry.entities"},
        {notify, "BEGIN; LOCK TABLE registry.chuang_relay_lock IN EXCLUSIVE MODE"},
        {notify, "CREATE TABLE registry.intruder ()"},
        {registry, "CREATE TABLE public.intruder ()"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char *state = s_sqlstate(refused[i].db, refused[i].sql);
        if (!streq(state, "42501"))
            fail_msg("%s: sqlstate \"%s\", not insufficient privilege", refused[i].sql, state);
        free(state);
    }

    /* The maintenance databases are closed to service roles. */
    for (int i = 0; i < 2; i++) {
        const char *other = i ? "template1" : "postgres";
        char *url = strdup(s_urls[1]);
        char *slash = strrchr(url, '/');
        *slash = '\0';
        char *other_url = zsys_sprintf("%s/%s", url, other);
        PGconn *db = PQconnectdb(other_url);
        if (PQstatus(db) == CONNECTION_OK)
            fail_msg("the registry's role connected to %s", other);
        PQfinish(db);
        zstr_free(&other_url);
        free(url);
    }

    /* The advisory locks a relay or a migration once took are anyone's:
     * notify's role holds them, and the registry's events still flow. */
    PGresult *res =
        PQexec(notify, "SELECT pg_try_advisory_lock(hashtext('chuang.relay.registry'))"
                       " AND pg_try_advisory_lock(hashtext('chuang.migrate.registry'))");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(res, 0, 0), "t"); /* nobody needs them any more */
    PQclear(res);
    long long before = s_stream_length();
    security_t *sec;
    client_t *officer = s_client("officer", NULL, NULL, &sec);
    free(registry_fixture_register(officer, "灵隐"));
    s_done(&officer, &sec);
    long long after = before;
    for (int i = 0; i < 100 && after < before + 2; i++, zclock_sleep(100))
        after = s_stream_length();
    assert_true(after >= before + 2); /* the reservation and the registration */
    PQfinish(registry);
    PQfinish(notify);
}

/* A message of descriptor built by hand for the bounds test: its memory is
 * a list of blocks freed together. */
typedef struct {
    void *blocks[4096];
    size_t count;
} arena_t;

static void *s_arena(arena_t *arena, size_t size)
{
    assert_true(arena->count < 4096);
    void *block = calloc(1, size ? size : 1);
    assert_non_null(block);
    arena->blocks[arena->count++] = block;
    return block;
}

static void s_arena_free(arena_t *arena)
{
    for (size_t i = 0; i < arena->count; i++)
        free(arena->blocks[i]);
    arena->count = 0;
}

static size_t s_item_size(const ProtobufCFieldDescriptor *field)
{
    switch (field->type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return 4; /* int32, enums, bool, float and their kin */
    }
}

static ProtobufCMessage *s_new_message(arena_t *arena, const ProtobufCMessageDescriptor *type)
{
    ProtobufCMessage *message = s_arena(arena, type->sizeof_message);
    protobuf_c_message_init(type, message);
    return message;
}

/* Gives message's repeated field count items: "x" strings, empty messages,
 * zeros. */
static void s_fill(arena_t *arena, ProtobufCMessage *message, const ProtobufCFieldDescriptor *field,
                   size_t count)
{
    char *base = (char *)message;
    char *items = s_arena(arena, count * s_item_size(field));
    for (size_t i = 0; i < count; i++) {
        if (field->type == PROTOBUF_C_TYPE_STRING)
            ((const char **)items)[i] = "x";
        else if (field->type == PROTOBUF_C_TYPE_MESSAGE)
            ((ProtobufCMessage **)items)[i] = s_new_message(arena, field->descriptor);
    }
    *(size_t *)(base + field->quantifier_offset) = count;
    *(char **)(base + field->offset) = items;
}

/* Sends method with its input's field (or, with inner, the inner field of
 * the first item of field) holding count items. Returns the reply. */
static Chuang__Reply *s_send_count(client_t *client, const char *service,
                                   const ProtobufCMethodDescriptor *method,
                                   const ProtobufCFieldDescriptor *field,
                                   const ProtobufCFieldDescriptor *inner, size_t count)
{
    arena_t *arena = calloc(1, sizeof *arena);
    ProtobufCMessage *input = s_new_message(arena, method->input);
    if (!inner) {
        s_fill(arena, input, field, count);
    } else {
        s_fill(arena, input, field, 1);
        ProtobufCMessage *first = **(ProtobufCMessage ***)((char *)input + field->offset);
        s_fill(arena, first, inner, count);
    }
    size_t size = protobuf_c_message_get_packed_size(input);
    uint8_t *packed = s_arena(arena, size);
    protobuf_c_message_pack(input, packed);
    Chuang__Reply *reply = client_call_packed(client, service, method->name, packed, size, NULL);
    s_arena_free(arena);
    free(arena);
    return reply;
}

/* The maximum a violation of path names ("... at most N items"), or -1 when
 * the reply holds none for path. */
static long s_bound_named(const Chuang__Reply *reply, const char *path)
{
    for (size_t i = 0; i < reply->n_violations; i++) {
        const char *at = strstr(reply->violations[i]->description, "at most ");
        if (streq(reply->violations[i]->field, path) && at && strstr(at, " items"))
            return strtol(at + strlen("at most "), NULL, 10);
    }
    return -1;
}

/* Sends path at 2000 items to learn its bound N, then N (no bound violation)
 * and N + 1 (refused naming path). Returns N. */
static long s_check_bound(client_t *client, const char *service,
                          const ProtobufCMethodDescriptor *method,
                          const ProtobufCFieldDescriptor *field,
                          const ProtobufCFieldDescriptor *inner, const char *path)
{
    Chuang__Reply *reply = s_send_count(client, service, method, field, inner, 2000);
    long bound = s_bound_named(reply, path);
    if (reply->status != CHUANG__STATUS__INVALID_ARGUMENT || bound < 0)
        fail_msg("%s.%s %s: 2000 items answered %d (%s)", service, method->name, path,
                 reply->status, reply->message);
    chuang__reply__free_unpacked(reply, NULL);
    reply = s_send_count(client, service, method, field, inner, (size_t)bound);
    if (s_bound_named(reply, path) >= 0)
        fail_msg("%s.%s %s: %ld items, its bound, refused", service, method->name, path, bound);
    chuang__reply__free_unpacked(reply, NULL);
    reply = s_send_count(client, service, method, field, inner, (size_t)bound + 1);
    assert_int_equal(reply->status, CHUANG__STATUS__INVALID_ARGUMENT);
    assert_int_equal(s_bound_named(reply, path), bound);
    chuang__reply__free_unpacked(reply, NULL);
    return bound;
}

static void test_every_repeated_field_is_bounded(void **state)
{
    (void)state;
    security_t *sec;
    client_t *officer = s_client("officer", NULL, NULL, &sec);
    const ProtobufCServiceDescriptor *services[] = {&chuang__registry__registry__descriptor,
                                                    &chuang__notify__notify__descriptor};
    const char *names[] = {"registry", "notify"};
    int checked = 0;
    long bulletin_categories = -1;
    for (int s = 0; s < 2; s++)
        for (unsigned m = 0; m < services[s]->n_methods; m++) {
            const ProtobufCMethodDescriptor *method = &services[s]->methods[m];
            for (unsigned f = 0; f < method->input->n_fields; f++) {
                const ProtobufCFieldDescriptor *field = &method->input->fields[f];
                if (field->label == PROTOBUF_C_LABEL_REPEATED) {
                    long bound = s_check_bound(officer, names[s], method, field, NULL, field->name);
                    if (streq(method->name, "PublishBulletin") && streq(field->name, "categories"))
                        bulletin_categories = bound;
                    checked++;
                }
                if (field->label != PROTOBUF_C_LABEL_REPEATED ||
                    field->type != PROTOBUF_C_TYPE_MESSAGE)
                    continue;
                const ProtobufCMessageDescriptor *item = field->descriptor;
                for (unsigned i = 0; i < item->n_fields; i++)
                    if (item->fields[i].label == PROTOBUF_C_LABEL_REPEATED) {
                        char path[128];
                        snprintf(path, sizeof path, "%s.0.%s", field->name, item->fields[i].name);
                        s_check_bound(officer, names[s], method, field, &item->fields[i], path);
                        checked++;
                    }
            }
        }
    /* founders, business_addresses, founders.0.categories, roles, topics,
     * categories (twice); 25 bulletin categories took notify down once. */
    assert_true(checked >= 7);
    assert_true(bulletin_categories >= 1 && bulletin_categories < 25);
    s_done(&officer, &sec);
}

/* Runs chuangctl audit ARGS, its output in *output (caller frees); returns
 * its exit status. */
static int s_audit_ctl(char **output, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *arguments = zsys_vprintf(format, args);
    va_end(args);
    char *path = zsys_sprintf("%s/audit.out", harness_dir());
    int rc = harness_sh("'%s' audit %s >'%s' 2>&1", CTL, arguments, path);
    FILE *file = fopen(path, "r");
    *output = calloc(1, 65536);
    if (file) {
        size_t n = fread(*output, 1, 65535, file);
        (*output)[n] = '\0';
        fclose(file);
    }
    zstr_free(&arguments);
    zstr_free(&path);
    return rc;
}

static long s_registry_count(const char *sql)
{
    PGconn *db = PQconnectdb(s_urls[1]);
    PGresult *res = PQexec(db, sql);
    long value = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
                     ? strtol(PQgetvalue(res, 0, 0), NULL, 10)
                     : -1;
    PQclear(res);
    PQfinish(db);
    return value;
}

static void test_audit_log_shows_who_and_catches_edits(void **state)
{
    (void)state;
    security_t *sec;
    client_t *officer = s_client("officer", NULL, NULL, &sec);
    char *code = registry_fixture_register(officer, "断桥");
    Chuang__Registry__ChangeEntityRequest change = CHUANG__REGISTRY__CHANGE_ENTITY_REQUEST__INIT;
    change.credit_code = code;
    change.business_scope = "软件开发、数据处理服务";
    assert_int_equal(s_call_status(officer, "registry", "ChangeEntity", &change.base, NULL),
                     CHUANG__STATUS__OK);
    s_done(&officer, &sec);

    /* Sealed and checkpointed up to the last row. */
    bool settled = false;
    for (int i = 0; i < 100 && !settled; i++, zclock_sleep(100))
        settled =
            s_registry_count("SELECT count(*) FROM chuang_audit WHERE position IS NULL") == 0 &&
            s_registry_count("SELECT max(position) FROM chuang_audit") ==
                s_registry_count("SELECT max(position) FROM chuang_audit_checkpoints");
    assert_true(settled);

    char *out = NULL;
    const char *url = s_urls[1];
    assert_int_equal(s_audit_ctl(&out, "verify '%s' registry '%s/licence'", url, harness_dir()), 0);
    assert_non_null(strstr(out, "intact"));
    free(out);
    assert_int_equal(s_audit_ctl(&out, "list '%s' registry %s", url, code), 0);
    assert_non_null(strstr(out, "\"method\":\"RegisterEntity\""));
    assert_non_null(strstr(out, "\"method\":\"ChangeEntity\""));
    assert_non_null(strstr(out, "\"principal\":\"officer.zhang\""));
    free(out);

    /* Someone with the service's own credentials edits who made the
     * registration: the chain names the row. Put back, it holds again. */
    char *where = zsys_sprintf("SELECT position FROM chuang_audit WHERE method = 'RegisterEntity'"
                               " AND '%s' = ANY (aggregates)",
                               code);
    long position = s_registry_count(where);
    assert_true(position > 0);
    PGconn *db = PQconnectdb(url);
    char *edit = zsys_sprintf("UPDATE chuang_audit SET principal = 'gateway.web'"
                              " WHERE position = %ld",
                              position);
    PQclear(PQexec(db, edit));
    char *expected = zsys_sprintf("the row at position %ld does not match its hash", position);
    assert_int_equal(s_audit_ctl(&out, "verify '%s' registry '%s/licence'", url, harness_dir()), 1);
    assert_non_null(strstr(out, expected));
    free(out);
    char *undo = zsys_sprintf("UPDATE chuang_audit SET principal = 'officer.zhang'"
                              " WHERE position = %ld",
                              position);
    PQclear(PQexec(db, undo));
    assert_int_equal(s_audit_ctl(&out, "verify '%s' registry '%s/licence'", url, harness_dir()), 0);
    free(out);

    /* Against another agency's key, the checkpoints are not its. */
    assert_int_equal(
        harness_sh("'%s' licence-keygen '%s/other-licence' >/dev/null", CTL, harness_dir()), 0);
    assert_int_equal(
        s_audit_ctl(&out, "verify '%s' registry '%s/other-licence'", url, harness_dir()), 1);
    assert_non_null(strstr(out, "is not signed by this public key"));
    free(out);

    /* A row removed leaves a gap. */
    char *remove = zsys_sprintf("DELETE FROM chuang_audit WHERE position = %ld", position);
    PQclear(PQexec(db, remove));
    char *gap = zsys_sprintf("positions %ld to %ld are missing", position, position);
    assert_int_equal(s_audit_ctl(&out, "verify '%s' registry", url), 1);
    assert_non_null(strstr(out, gap));
    free(out);
    PQfinish(db);
    zstr_free(&where);
    zstr_free(&edit);
    zstr_free(&expected);
    zstr_free(&undo);
    zstr_free(&remove);
    zstr_free(&gap);
    free(code);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claims_are_checked_against_the_key),
        cmocka_unit_test(test_idempotency_keys_belong_to_their_caller),
        cmocka_unit_test(test_every_method_refuses_who_lacks_the_right),
        cmocka_unit_test(test_applicants_touch_only_their_own_records),
        cmocka_unit_test(test_webhooks_to_internal_addresses_are_refused),
        cmocka_unit_test(test_a_key_past_its_rate_is_told_when_to_retry),
        cmocka_unit_test(test_each_role_reaches_its_own_schema_only),
        cmocka_unit_test(test_every_repeated_field_is_bounded),
        cmocka_unit_test(
            test_audit_log_shows_who_and_catches_edits), /* last: it breaks the chain */
    };
    return cmocka_run_group_tests_name("trust", tests, s_setup, s_teardown);
}
