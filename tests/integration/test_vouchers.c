/*
 * test_vouchers.c - innovation vouchers (创新券) through the broker against
 * the harness's PostgreSQL and Redis: service providers registered and
 * approved, a voucher issued by the award of an application, redeemed in
 * part by an approved provider within the programme's scope, refused out
 * of scope, for an unapproved provider, past its value, for an invoice
 * used already, and once of two redemptions of its last ¥100 at once;
 * settled to the provider; what is left returned to the fund when it
 * expires, the books balanced; and bad input refused with nothing written.
 */
#include "client.h"
#include "db.h"
#include "finance.pb-c.h"
#include "finance_fixture.h"
#include "harness.h"
#include "registry_fixture.h"

#include <czmq.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define HANGZHOU  "330106"
#define OTHER     "330100" /* the city: registers entities of the district too */
#define PROGRAMME "hz-voucher"
#define FUND      "hz-voucher-fund"
#define FACE      500000 /* ¥5,000 */

static finance_fixture_t s_deployment;
static client_t *s_keeper;    /* a finance officer of HANGZHOU */
static client_t *s_clerk;     /* a registry officer of HANGZHOU */
static client_t *s_reviewer;  /* science and technology's reviewer */
static char *s_holder;        /* a start-up of HANGZHOU */
static char *s_second;        /* another */
static char *s_cloud;         /* a provider of HANGZHOU, approved */
static char *s_unapproved;    /* a provider of HANGZHOU, not approved */
static char *s_elsewhere;     /* an entity of OTHER */
static client_t *s_cloud_key; /* the cloud provider's own key */

static client_t *s_client(const char *agency, const char *actor, const char *roles)
{
    return finance_fixture_client(&s_deployment, agency, actor, roles);
}

static void s_wait_known(const char *credit_code)
{
    finance_fixture_wait_known(s_keeper, credit_code);
}

static int s_setup(void **state)
{
    (void)state;
    if (finance_fixture_start(&s_deployment, "vouchers", "vtest") != 0)
        return -1;
    s_keeper = s_client(HANGZHOU, "keeper-1", "finance-officer");
    s_clerk = s_client(HANGZHOU, "clerk-1", "officer");
    s_reviewer = s_client(HANGZHOU, "reviewer-st-1", "reviewer,reviewer-science_technology");
    s_cloud_key = s_client(HANGZHOU, "provider-cloud", "provider");
    client_t *other_clerk = s_client(OTHER, "clerk-2", "officer");
    s_holder = registry_fixture_register(s_clerk, "券持");
    s_second = registry_fixture_register(s_clerk, "券次");
    s_cloud = registry_fixture_register(s_clerk, "云台");
    s_unapproved = registry_fixture_register(s_clerk, "待批");
    s_elsewhere = registry_fixture_register(other_clerk, "他处");
    client_destroy(&other_clerk);
    if (!s_holder || !s_second || !s_cloud || !s_unapproved || !s_elsewhere)
        return -1;
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    client_destroy(&s_keeper);
    client_destroy(&s_clerk);
    client_destroy(&s_reviewer);
    client_destroy(&s_cloud_key);
    free(s_holder);
    free(s_second);
    free(s_cloud);
    free(s_unapproved);
    free(s_elsewhere);
    return finance_fixture_stop(&s_deployment);
}

/* The first column of the first row of sql, as the service's own role. */
static long long s_value(const char *sql)
{
    return finance_fixture_value(s_deployment.db_url, sql);
}

static void s_assert_refused(Chuang__Reply *reply, Chuang__Status status, const char *field)
{
    finance_fixture_assert_refused(reply, status, field);
}

/* The voucher programme: ¥5,000 vouchers valid 30 days for cloud and
 * testing services from any approved provider, reviewed by science and
 * technology. */
static void s_programme(void)
{
    finance_fixture_fund(s_keeper, FUND, 2000000, "西科〔2026〕8号");
    Chuang__Finance__Parameter face = CHUANG__FINANCE__PARAMETER__INIT,
                               days = CHUANG__FINANCE__PARAMETER__INIT,
                               notice = CHUANG__FINANCE__PARAMETER__INIT;
    face.name = "face_value_fen";
    face.value = FACE;
    days.name = "validity_days";
    days.value = 30;
    notice.name = "notice_days";
    notice.value = 5;
    Chuang__Finance__Parameter *parameters[3] = {&face, &days, &notice};
    char *categories[2] = {"cloud", "testing"};
    char *approvals[1] = {"science_technology"};
    Chuang__Finance__ProgrammeVersion version = CHUANG__FINANCE__PROGRAMME_VERSION__INIT;
    version.effective_from = "2026-01-01";
    version.document = "西科〔2026〕9号";
    version.n_parameters = 3;
    version.parameters = parameters;
    version.n_service_categories = 2;
    version.service_categories = categories;
    version.n_approvals = 1;
    version.approvals = approvals;
    Chuang__Finance__DefineProgrammeRequest define =
        CHUANG__FINANCE__DEFINE_PROGRAMME_REQUEST__INIT;
    define.code = PROGRAMME;
    define.name = "西湖区科技创新券";
    define.kind = "voucher";
    define.level = "district";
    define.fund = FUND;
    define.department = "science_technology";
    define.version = &version;
    assert_int_equal(finance_fixture_status(s_keeper, "DefineProgramme", &define.base),
                     CHUANG__STATUS__OK);
}

static Chuang__Reply *s_register_provider(client_t *client, const char *credit_code,
                                          const char *principal)
{
    char *categories[3] = {"cloud", "testing", "consulting"};
    Chuang__Finance__RegisterProviderRequest request =
        CHUANG__FINANCE__REGISTER_PROVIDER_REQUEST__INIT;
    request.credit_code = (char *)credit_code;
    request.n_categories = 3;
    request.categories = categories;
    request.principal = (char *)principal;
    return finance_fixture_call(client, "RegisterProvider", &request.base);
}

/* The voucher the award of an application of credit_code issues: its id. */
static int64_t s_voucher(const char *credit_code)
{
    int64_t id = finance_fixture_award(&s_deployment, s_keeper, s_reviewer, "science_technology",
                                       PROGRAMME, credit_code, "", FACE);
    Chuang__Finance__Application *a =
        finance_fixture_step(s_keeper, "GetApplication", id, "", NULL);
    int64_t voucher = a->voucher_id;
    assert_true(voucher > 0);
    assert_true(a->awarded_fen == FACE);
    chuang__finance__application__free_unpacked(a, NULL);
    return voucher;
}

static Chuang__Finance__Voucher *s_get(int64_t id)
{
    Chuang__Finance__VoucherRequest request = CHUANG__FINANCE__VOUCHER_REQUEST__INIT;
    request.id = id;
    Chuang__Reply *reply = finance_fixture_call(s_keeper, "GetVoucher", &request.base);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Finance__Voucher *voucher =
        chuang__finance__voucher__unpack(NULL, reply->payload.len, reply->payload.data);
    chuang__reply__free_unpacked(reply, NULL);
    return voucher;
}

static int64_t s_remaining(int64_t id)
{
    Chuang__Finance__Voucher *voucher = s_get(id);
    int64_t left = voucher->remaining_fen;
    chuang__finance__voucher__free_unpacked(voucher, NULL);
    return left;
}

static Chuang__Reply *s_redeem(client_t *client, int64_t voucher, const char *provider,
                               const char *invoice, const char *category, int64_t amount)
{
    Chuang__Finance__RedemptionRequest request = CHUANG__FINANCE__REDEMPTION_REQUEST__INIT;
    request.voucher_id = voucher;
    request.provider = (char *)provider;
    request.invoice = (char *)invoice;
    request.category = (char *)category;
    request.amount_fen = amount;
    return finance_fixture_call(client, "RedeemVoucher", &request.base);
}

static Chuang__Status s_redeemed(client_t *client, int64_t voucher, const char *provider,
                                 const char *invoice, const char *category, int64_t amount)
{
    Chuang__Reply *reply = s_redeem(client, voucher, provider, invoice, category, amount);
    Chuang__Status status = reply->status;
    chuang__reply__free_unpacked(reply, NULL);
    return status;
}

/* The balance of FUND's account (its code after "<fund>:"), on its
 * normal side, as the service's role reads it. */
static long long s_account(const char *kind)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(sum(CASE normal WHEN 'debit' THEN balance ELSE -balance END), 0)"
             " FROM accounts WHERE agency = '" HANGZHOU "' AND code = '" FUND ":%s'",
             kind);
    return s_value(sql);
}

static void s_assert_balanced(void)
{
    assert_int_equal(s_value("SELECT sum(balance) FROM accounts WHERE agency = '" HANGZHOU
                             "' AND fund = '" FUND "'"),
                     0);
    assert_int_equal(s_value("SELECT count(*) FROM (SELECT entry_id FROM postings"
                             " GROUP BY entry_id HAVING sum(amount) <> 0) unbalanced"),
                     0);
}

/* One of two redemptions of a voucher's last ¥100 at once. */
typedef struct {
    int64_t voucher;
    const char *invoice;
    Chuang__Status status;
    char field[32];
} racer_t;

static void *s_racer(void *args)
{
    racer_t *racer = args;
    client_t *client = s_client(HANGZHOU, "provider-cloud", "provider");
    Chuang__Reply *reply =
        s_redeem(client, racer->voucher, s_cloud, racer->invoice, "cloud", 10000);
    racer->status = reply->status;
    if (reply->n_violations > 0)
        snprintf(racer->field, sizeof racer->field, "%s", reply->violations[0]->field);
    chuang__reply__free_unpacked(reply, NULL);
    client_destroy(&client);
    return NULL;
}

static void test_a_voucher_from_issue_to_expiry(void **state)
{
    (void)state;
    s_programme();
    s_wait_known(s_cloud);
    s_wait_known(s_unapproved);
    s_wait_known(s_holder);
    s_wait_known(s_second);

    /* The cloud platform registers itself with its own key; the finance
     * officer approves it. Another provider is registered at the window
     * and not approved. */
    Chuang__Reply *reply = s_register_provider(s_cloud_key, s_cloud, "");
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Finance__ServiceProvider *provider =
        chuang__finance__service_provider__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_string_equal(provider->status, "applied");
    assert_string_equal(provider->principal, "provider-cloud");
    chuang__finance__service_provider__free_unpacked(provider, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    Chuang__Finance__ProviderDecision decision = CHUANG__FINANCE__PROVIDER_DECISION__INIT;
    decision.credit_code = s_cloud;
    decision.decision = "approved";
    assert_int_equal(finance_fixture_status(s_cloud_key, "DecideProvider", &decision.base),
                     CHUANG__STATUS__PERMISSION_DENIED);
    assert_int_equal(finance_fixture_status(s_keeper, "DecideProvider", &decision.base),
                     CHUANG__STATUS__OK);
    reply = s_register_provider(s_clerk, s_unapproved, "provider-waiting");
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    chuang__reply__free_unpacked(reply, NULL);

    /* The voucher: its face value committed against the fund. */
    int64_t voucher = s_voucher(s_holder);
    Chuang__Finance__Voucher *v = s_get(voucher);
    assert_string_equal(v->status, "issued");
    assert_string_equal(v->credit_code, s_holder);
    assert_true(v->face_value_fen == FACE && v->remaining_fen == FACE);
    chuang__finance__voucher__free_unpacked(v, NULL);
    assert_int_equal(s_account("committed"), FACE);
    assert_int_equal(s_account("available"), 2000000 - FACE);
    finance_fixture_assert_told(&s_deployment, HANGZHOU, s_holder, "创新券已发放：" PROGRAMME);

    /* Redeemed twice in part by the provider with its own key. */
    assert_int_equal(s_redeemed(s_cloud_key, voucher, s_cloud, "INV-001", "cloud", 150000),
                     CHUANG__STATUS__OK);
    assert_int_equal(s_redeemed(s_cloud_key, voucher, s_cloud, "INV-002", "testing", 240000),
                     CHUANG__STATUS__OK);
    assert_int_equal(s_remaining(voucher), FACE - 390000);
    char payable[128];
    snprintf(payable, sizeof payable, "payable:%s", s_cloud);
    assert_int_equal(s_account(payable), 390000);

    /* Refused, each naming its field, nothing written. */
    long long entries = s_value("SELECT count(*) FROM journal_entries");
    s_assert_refused(s_redeem(s_cloud_key, voucher, s_cloud, "INV-003", "consulting", 1000),
                     CHUANG__STATUS__INVALID_ARGUMENT, "category");
    s_assert_refused(s_redeem(s_keeper, voucher, s_unapproved, "W-1", "cloud", 1000),
                     CHUANG__STATUS__INVALID_ARGUMENT, "provider");
    s_assert_refused(s_redeem(s_cloud_key, voucher, s_cloud, "INV-003", "cloud", 110001),
                     CHUANG__STATUS__INVALID_ARGUMENT, "amount_fen");
    s_assert_refused(s_redeem(s_cloud_key, voucher, s_cloud, "INV-001", "cloud", 1000),
                     CHUANG__STATUS__ALREADY_EXISTS, "invoice");
    s_assert_refused(s_redeem(s_keeper, voucher, s_elsewhere, "E-1", "cloud", 1000),
                     CHUANG__STATUS__INVALID_ARGUMENT, "provider");
    client_t *impostor = s_client(HANGZHOU, "provider-waiting", "provider");
    assert_int_equal(s_redeemed(impostor, voucher, s_cloud, "INV-003", "cloud", 1000),
                     CHUANG__STATUS__PERMISSION_DENIED);
    client_destroy(&impostor);
    assert_int_equal(s_value("SELECT count(*) FROM journal_entries"), entries);
    assert_int_equal(s_remaining(voucher), FACE - 390000);

    /* Two redemptions of another voucher's last ¥100 at once: one is
     * refused. The test holds the voucher's row until both wait for it. */
    int64_t second = s_voucher(s_second);
    assert_int_equal(s_redeemed(s_cloud_key, second, s_cloud, "INV-010", "cloud", FACE - 10000),
                     CHUANG__STATUS__OK);
    PGconn *db = db_connect(s_deployment.db_url, "finance", 3);
    assert_non_null(db);
    char sql[160];
    snprintf(sql, sizeof sql, "BEGIN; SELECT 1 FROM vouchers WHERE id = %" PRId64 " FOR UPDATE",
             second);
    PGresult *res = PQexec(db, sql);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    PQclear(res);
    racer_t racers[2] = {{.voucher = second, .invoice = "INV-011"},
                         {.voucher = second, .invoice = "INV-012"}};
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&threads[i], NULL, s_racer, &racers[i]);
    int waiting = 0;
    for (int i = 0; i < 500 && waiting < 2; i++) {
        res = PQexec(db, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                         " AND usename = current_user");
        waiting = PQresultStatus(res) == PGRES_TUPLES_OK ? atoi(PQgetvalue(res, 0, 0)) : 0;
        PQclear(res);
        if (waiting < 2)
            zclock_sleep(20);
    }
    assert_int_equal(waiting, 2);
    PQclear(PQexec(db, "COMMIT"));
    PQfinish(db);
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
    int won = (racers[0].status == CHUANG__STATUS__OK) + (racers[1].status == CHUANG__STATUS__OK);
    assert_int_equal(won, 1);
    racer_t *lost = racers[0].status == CHUANG__STATUS__OK ? &racers[1] : &racers[0];
    assert_int_equal(lost->status, CHUANG__STATUS__INVALID_ARGUMENT);
    assert_string_equal(lost->field, "amount_fen");
    v = s_get(second);
    assert_true(v->remaining_fen == 0);
    assert_string_equal(v->status, "used");
    assert_int_equal(v->n_redemptions, 2);
    chuang__finance__voucher__free_unpacked(v, NULL);

    /* Settled: what the four redemptions made payable, paid out of cash
     * by one entry. */
    Chuang__Finance__SettlementRequest settle = CHUANG__FINANCE__SETTLEMENT_REQUEST__INIT;
    settle.programme = PROGRAMME;
    settle.provider = s_cloud;
    settle.document = "西科付〔2026〕3号";
    reply = finance_fixture_call(s_keeper, "SettleProvider", &settle.base);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Finance__Entry *entry =
        chuang__finance__entry__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_string_equal(entry->kind, "settlement");
    assert_int_equal(entry->n_postings, 2);
    int64_t paid = 390000 + FACE;
    for (size_t i = 0; i < entry->n_postings; i++)
        assert_true(entry->postings[i]->amount_fen ==
                    (strstr(entry->postings[i]->account, ":cash") ? -paid : paid));
    chuang__finance__entry__free_unpacked(entry, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    assert_int_equal(finance_fixture_status(s_keeper, "SettleProvider", &settle.base),
                     CHUANG__STATUS__FAILED_PRECONDITION);
    assert_int_equal(s_account(payable), 0);
    assert_int_equal(s_account("cash"), 2000000 - paid);

    /* Its validity over, the first voucher's ¥1,100 left returns to the
     * fund, and it can no longer be redeemed. */
    snprintf(sql, sizeof sql,
             "UPDATE vouchers SET issued_on = issued_on - 31, valid_to = chuang_today(agency) - 1"
             " WHERE id = %" PRId64,
             voucher);
    char job[48];
    snprintf(job, sizeof job, "voucher_expiry:%" PRId64, voucher);
    finance_fixture_due_now(s_deployment.db_url, harness_get("CHUANG_TEST_REDIS_URL"),
                            "vtest:finance", sql, job);
    bool expired = false;
    for (int i = 0; i < 300 && !expired; i++) {
        v = s_get(voucher);
        expired = streq(v->status, "expired");
        if (expired)
            assert_true(v->expired_fen == FACE - 390000 && v->remaining_fen == 0);
        chuang__finance__voucher__free_unpacked(v, NULL);
        if (!expired)
            zclock_sleep(100);
    }
    assert_true(expired);
    assert_int_equal(s_account("committed"), 0);
    assert_int_equal(s_account("available"), 2000000 - paid);
    finance_fixture_assert_told(&s_deployment, HANGZHOU, s_holder, "创新券已到期：" PROGRAMME);
    s_assert_balanced();
    reply = s_redeem(s_cloud_key, voucher, s_cloud, "INV-020", "cloud", 100);
    s_assert_refused(reply, CHUANG__STATUS__FAILED_PRECONDITION, "voucher_id");

    /* What officers see of the programme. */
    Chuang__Finance__VoucherReportRequest ask = CHUANG__FINANCE__VOUCHER_REPORT_REQUEST__INIT;
    ask.programme = PROGRAMME;
    reply = finance_fixture_call(s_keeper, "GetVoucherReport", &ask.base);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Finance__VoucherReport *report =
        chuang__finance__voucher_report__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_int_equal(report->issued, 2);
    assert_true(report->issued_fen == 2 * FACE);
    assert_int_equal(report->redemptions, 4);
    assert_true(report->redeemed_fen == paid);
    assert_true(report->settled_fen == paid);
    assert_true(report->payable_fen == 0);
    assert_int_equal(report->expired, 1);
    assert_true(report->expired_fen == FACE - 390000);
    assert_true(report->outstanding_fen == 0);
    assert_int_equal(report->providers, 1);
    chuang__finance__voucher_report__free_unpacked(report, NULL);
    chuang__reply__free_unpacked(reply, NULL);

    /* The officers' lists: the provider waiting for a decision, and the
     * programme's vouchers a page at a time, the latest first. */
    Chuang__Finance__ProviderListRequest queue = CHUANG__FINANCE__PROVIDER_LIST_REQUEST__INIT;
    queue.status = "applied";
    reply = finance_fixture_call(s_keeper, "ListProviders", &queue.base);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Finance__ProviderList *providers =
        chuang__finance__provider_list__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_int_equal(providers->n_providers, 1);
    assert_string_equal(providers->providers[0]->credit_code, s_unapproved);
    chuang__finance__provider_list__free_unpacked(providers, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    Chuang__Finance__VoucherListRequest page = CHUANG__FINANCE__VOUCHER_LIST_REQUEST__INIT;
    page.programme = PROGRAMME;
    page.limit = 1;
    const int64_t expected[2] = {second, voucher};
    char token[128] = "";
    for (int i = 0; i < 2; i++) {
        page.page_token = token;
        reply = finance_fixture_call(s_keeper, "ListVouchers", &page.base);
        assert_int_equal(reply->status, CHUANG__STATUS__OK);
        Chuang__Finance__VoucherList *list =
            chuang__finance__voucher_list__unpack(NULL, reply->payload.len, reply->payload.data);
        assert_int_equal(list->n_vouchers, 1);
        assert_true(list->vouchers[0]->id == expected[i]);
        assert_int_equal(*list->next_page_token == '\0', i == 1);
        snprintf(token, sizeof token, "%s", list->next_page_token);
        chuang__finance__voucher_list__free_unpacked(list, NULL);
        chuang__reply__free_unpacked(reply, NULL);
    }
}

static void test_bad_voucher_input_is_refused_and_changes_nothing(void **state)
{
    (void)state;
    long long entries = s_value("SELECT count(*) FROM journal_entries");
    long long redemptions = s_value("SELECT count(*) FROM voucher_redemptions");
    long long providers = s_value("SELECT count(*) FROM service_providers");

    /* Every field of a redemption at once. */
    Chuang__Reply *reply = s_redeem(s_keeper, 0, "not-a-code", "", "Cloud!", 0);
    assert_int_equal(reply->status, CHUANG__STATUS__INVALID_ARGUMENT);
    assert_int_equal(reply->n_violations, 5);
    chuang__reply__free_unpacked(reply, NULL);

    /* A provider of another agency is not one of this agency's. */
    s_wait_known(s_elsewhere);
    s_assert_refused(s_register_provider(s_keeper, s_elsewhere, ""),
                     CHUANG__STATUS__FAILED_PRECONDITION, "credit_code");
    /* A provider's key registers only itself. */
    s_assert_refused(s_register_provider(s_cloud_key, s_second, "someone-else"),
                     CHUANG__STATUS__INVALID_ARGUMENT, "principal");
    /* An applicant may not register a provider, nor a provider redeem for
     * another one. */
    client_t *applicant = s_client(HANGZHOU, "person-1", "applicant");
    reply = s_register_provider(applicant, s_second, "");
    assert_int_equal(reply->status, CHUANG__STATUS__PERMISSION_DENIED);
    chuang__reply__free_unpacked(reply, NULL);
    client_destroy(&applicant);

    /* A voucher programme without its face value and validity; a scope on
     * a programme that is not one. */
    Chuang__Finance__ProgrammeVersion version = CHUANG__FINANCE__PROGRAMME_VERSION__INIT;
    version.effective_from = "2026-01-01";
    version.document = "西科〔2026〕9号";
    char *categories[1] = {"cloud"};
    version.n_service_categories = 1;
    version.service_categories = categories;
    Chuang__Finance__DefineProgrammeRequest define =
        CHUANG__FINANCE__DEFINE_PROGRAMME_REQUEST__INIT;
    define.code = "hz-voucher-bad";
    define.name = "缺面值";
    define.kind = "voucher";
    define.level = "district";
    define.fund = FUND;
    define.department = "science_technology";
    define.version = &version;
    s_assert_refused(finance_fixture_call(s_keeper, "DefineProgramme", &define.base),
                     CHUANG__STATUS__INVALID_ARGUMENT, "version.parameters");
    define.kind = "special_fund";
    s_assert_refused(finance_fixture_call(s_keeper, "DefineProgramme", &define.base),
                     CHUANG__STATUS__INVALID_ARGUMENT, "version.service_categories");

    /* An application for other than the face value. */
    Chuang__Status status;
    int64_t id = finance_fixture_draft(s_keeper, PROGRAMME, s_second, "again", FACE - 1, &status);
    assert_int_equal(status, CHUANG__STATUS__OK);
    Chuang__Reply *refusal = NULL;
    assert_null(finance_fixture_step(s_keeper, "SubmitApplication", id, "", &refusal));
    s_assert_refused(refusal, CHUANG__STATUS__INVALID_ARGUMENT, "amount_fen");

    /* An awarded voucher application is never paid out directly. */
    long long awarded = s_value("SELECT min(id) FROM applications WHERE status = 'awarded'");
    Chuang__Finance__PaymentRequest pay = CHUANG__FINANCE__PAYMENT_REQUEST__INIT;
    pay.id = awarded;
    pay.amount_fen = 100;
    assert_int_equal(finance_fixture_status(s_keeper, "PayAward", &pay.base),
                     CHUANG__STATUS__FAILED_PRECONDITION);

    assert_int_equal(s_value("SELECT count(*) FROM journal_entries"), entries);
    assert_int_equal(s_value("SELECT count(*) FROM voucher_redemptions"), redemptions);
    assert_int_equal(s_value("SELECT count(*) FROM service_providers"), providers);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_voucher_from_issue_to_expiry),
        cmocka_unit_test(test_bad_voucher_input_is_refused_and_changes_nothing),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
