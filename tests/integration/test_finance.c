/*
 * test_finance.c - the finance service's books through the broker against
 * the harness's PostgreSQL and Redis: funds and appropriations, the trial
 * balance and statements to the fen, reversals, who may do what, bad input
 * refused with nothing written, and the database refusing what C would
 * never send (an unbalanced entry, an edit, an overdraft) when it is forced
 * in SQL.
 */
#include "client.h"
#include "config.h"
#include "db.h"
#include "finance.pb-c.h"
#include "finance_fixture.h"
#include "notify.pb-c.h"
#include "harness.h"
#include "redis_link.h"
#include "registry_fixture.h"
#include "security.h"

#include <czmq.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sys/wait.h>

#define HANGZHOU "330106"
#define AGENCY   "441900"
#define TOWN     "441902"

static char s_db_url[512];
static finance_fixture_t s_deployment;
static client_t *s_keeper;  /* a finance officer of AGENCY */
static client_t *s_officer; /* an officer of AGENCY, not of finance */
static client_t *s_person;  /* an applicant */
static client_t *s_town;    /* a finance officer of another agency */
static client_t *s_clerk;   /* a registry officer of HANGZHOU */
static client_t *s_hz;      /* a finance officer of HANGZHOU */

static client_t *s_client(const char *agency, const char *actor, const char *roles)
{
    return finance_fixture_client(&s_deployment, agency, actor, roles);
}

static int s_setup(void **state)
{
    (void)state;
    if (finance_fixture_start(&s_deployment, "finance", "ftest") != 0)
        return -1;
    snprintf(s_db_url, sizeof s_db_url, "%s", s_deployment.db_url);
    s_keeper = s_client(AGENCY, "keeper-1", "finance-officer");
    s_officer = s_client(AGENCY, "officer-1", "officer");
    s_person = s_client(AGENCY, "person-1", "applicant");
    s_town = s_client(TOWN, "keeper-2", "finance-officer");
    s_clerk = s_client(HANGZHOU, "clerk-1", "officer");
    s_hz = s_client(HANGZHOU, "keeper-3", "finance-officer");
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    client_destroy(&s_keeper);
    client_destroy(&s_officer);
    client_destroy(&s_person);
    client_destroy(&s_town);
    client_destroy(&s_clerk);
    client_destroy(&s_hz);
    return finance_fixture_stop(&s_deployment);
}

/* The first column of the first row of sql, as the service's own role. */
static long long s_value(const char *sql)
{
    return finance_fixture_value(s_db_url, sql);
}

/* Runs sql (several statements, in one transaction unless it says) as the
 * service's role and returns the SQLSTATE it failed with, "" when it did
 * not (caller frees). */
static char *s_forced(const char *sql)
{
    PGconn *db = db_connect(s_db_url, "finance", 3);
    assert_non_null(db);
    PGresult *res = PQexec(db, sql);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    char *copy = strdup(PQresultStatus(res) == PGRES_COMMAND_OK || !state ? "" : state);
    PQclear(res);
    PQfinish(db);
    return copy;
}

static Chuang__Reply *s_call(client_t *client, const char *method, const ProtobufCMessage *input)
{
    return finance_fixture_call(client, method, input);
}

static Chuang__Status s_status(client_t *client, const char *method, const ProtobufCMessage *input)
{
    return finance_fixture_status(client, method, input);
}

static Chuang__Status s_create_fund(client_t *client, const char *code)
{
    Chuang__Finance__CreateFundRequest request = CHUANG__FINANCE__CREATE_FUND_REQUEST__INIT;
    request.code = (char *)code;
    request.name = "大朗镇双创专项资金";
    request.department = "finance";
    return s_status(client, "CreateFund", &request.base);
}

/* Appropriates amount to fund; returns the entry id, or 0 when refused
 * (with *status set). */
static int64_t s_appropriate(const char *fund, int64_t amount, Chuang__Status *status)
{
    Chuang__Finance__AppropriateRequest request = CHUANG__FINANCE__APPROPRIATE_REQUEST__INIT;
    request.fund = (char *)fund;
    request.amount_fen = amount;
    request.document = "大府〔2015〕9号";
    request.memo = "第一期";
    Chuang__Reply *reply = s_call(s_keeper, "Appropriate", &request.base);
    *status = reply->status;
    int64_t id = 0;
    if (reply->status == CHUANG__STATUS__OK) {
        Chuang__Finance__Entry *entry =
            chuang__finance__entry__unpack(NULL, reply->payload.len, reply->payload.data);
        id = entry->id;
        assert_string_equal(entry->kind, "appropriation");
        assert_string_equal(entry->cause, "大府〔2015〕9号");
        assert_string_equal(entry->recorded_by, "keeper-1");
        assert_int_equal(entry->n_postings, 2);
        char cash[64];
        snprintf(cash, sizeof cash, "%s:cash", fund);
        assert_string_equal(entry->postings[0]->account, cash);
        assert_true(entry->postings[0]->amount_fen == amount);
        assert_true(entry->postings[1]->amount_fen == -amount);
        chuang__finance__entry__free_unpacked(entry, NULL);
    }
    chuang__reply__free_unpacked(reply, NULL);
    return id;
}

/* The balance of fund's account of kind, on its normal side. */
static int64_t s_balance(client_t *client, const char *fund, const char *kind)
{
    Chuang__Finance__GetFundRequest request = CHUANG__FINANCE__GET_FUND_REQUEST__INIT;
    request.code = (char *)fund;
    Chuang__Reply *reply = s_call(client, "GetFund", &request.base);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Finance__Fund *got =
        chuang__finance__fund__unpack(NULL, reply->payload.len, reply->payload.data);
    int64_t balance = INT64_MIN;
    for (size_t i = 0; i < got->n_accounts; i++)
        if (streq(got->accounts[i]->kind, kind))
            balance = got->accounts[i]->balance_fen;
    chuang__finance__fund__free_unpacked(got, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    assert_true(balance != INT64_MIN);
    return balance;
}

static Chuang__Finance__TrialBalance *s_trial(client_t *client, const char *as_of)
{
    Chuang__Finance__TrialBalanceRequest request = CHUANG__FINANCE__TRIAL_BALANCE_REQUEST__INIT;
    request.as_of = (char *)as_of;
    Chuang__Reply *reply = s_call(client, "GetTrialBalance", &request.base);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Finance__TrialBalance *balance =
        chuang__finance__trial_balance__unpack(NULL, reply->payload.len, reply->payload.data);
    chuang__reply__free_unpacked(reply, NULL);
    return balance;
}

static void test_a_fund_takes_appropriations_and_the_books_balance(void **state)
{
    (void)state;
    assert_int_equal(s_create_fund(s_keeper, "special-2016"), CHUANG__STATUS__OK);
    assert_int_equal(s_create_fund(s_keeper, "special-2016"), CHUANG__STATUS__ALREADY_EXISTS);
    Chuang__Status status;
    /* ¥3,000,000 (000: at least three million a year), then two more. */
    int64_t first = s_appropriate("special-2016", INT64_C(300000000), &status);
    assert_int_equal(status, CHUANG__STATUS__OK);
    assert_true(s_appropriate("special-2016", 12345, &status) > first);
    assert_true(s_appropriate("special-2016", 1, &status) > first);
    assert_true(s_balance(s_officer, "special-2016", "cash") == INT64_C(300012346));
    assert_true(s_balance(s_officer, "special-2016", "available") == INT64_C(300012346));
    assert_true(s_balance(s_officer, "special-2016", "committed") == 0);

    Chuang__Finance__TrialBalance *balance = s_trial(s_officer, "");
    assert_true(balance->total_debit_fen == balance->total_credit_fen);
    int64_t sum = 0;
    for (size_t i = 0; i < balance->n_lines; i++)
        sum += balance->lines[i]->balance_fen;
    assert_true(sum == 0);
    assert_true(balance->total_debit_fen >= INT64_C(300012346));
    assert_int_equal(strlen(balance->as_of), 10);
    chuang__finance__trial_balance__free_unpacked(balance, NULL);
    /* Before anything was booked, nothing. */
    balance = s_trial(s_officer, "2015-01-01");
    assert_true(balance->total_debit_fen == 0 && balance->total_credit_fen == 0);
    assert_string_equal(balance->as_of, "2015-01-01");
    chuang__finance__trial_balance__free_unpacked(balance, NULL);

    /* The statement of cash, two lines a page, with the running balance. */
    int64_t expected[3] = {INT64_C(300000000), INT64_C(300012345), INT64_C(300012346)};
    char *token = strdup("");
    size_t line = 0;
    for (int pages = 0; pages < 2; pages++) {
        Chuang__Finance__StatementRequest request = CHUANG__FINANCE__STATEMENT_REQUEST__INIT;
        request.account = "special-2016:cash";
        request.limit = 2;
        request.page_token = token;
        Chuang__Reply *reply = s_call(s_keeper, "GetAccountStatement", &request.base);
        assert_int_equal(reply->status, CHUANG__STATUS__OK);
        Chuang__Finance__Statement *statement =
            chuang__finance__statement__unpack(NULL, reply->payload.len, reply->payload.data);
        assert_true(statement->opening_fen == 0);
        for (size_t i = 0; i < statement->n_lines; i++, line++)
            assert_true(statement->lines[i]->balance_fen == expected[line]);
        free(token);
        token = strdup(statement->next_page_token);
        assert_int_equal(pages == 0, *token != '\0');
        chuang__finance__statement__free_unpacked(statement, NULL);
        chuang__reply__free_unpacked(reply, NULL);
    }
    free(token);
    assert_int_equal(line, 3);
    /* Every entry was reported on the fund's aggregate. */
    assert_int_equal(s_value("SELECT count(*) FROM chuang_outbox WHERE type = 'finance.EntryPosted'"
                             " AND aggregate_id = 'special-2016'"),
                     3);
}

static void test_an_entry_is_reversed_once(void **state)
{
    (void)state;
    assert_int_equal(s_create_fund(s_keeper, "reversal-fund"), CHUANG__STATUS__OK);
    Chuang__Status status;
    int64_t id = s_appropriate("reversal-fund", 50000, &status);
    Chuang__Finance__ReverseEntryRequest request = CHUANG__FINANCE__REVERSE_ENTRY_REQUEST__INIT;
    request.entry_id = id;
    request.reason = "金额录入错误";
    Chuang__Reply *reply = s_call(s_keeper, "ReverseEntry", &request.base);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Finance__Entry *reversal =
        chuang__finance__entry__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_string_equal(reversal->kind, "reversal");
    assert_true(reversal->reverses == id);
    int64_t reversal_id = reversal->id;
    chuang__finance__entry__free_unpacked(reversal, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    assert_true(s_balance(s_keeper, "reversal-fund", "cash") == 0);
    assert_true(s_balance(s_keeper, "reversal-fund", "available") == 0);
    /* The original says who reversed it. */
    Chuang__Finance__GetEntryRequest get = CHUANG__FINANCE__GET_ENTRY_REQUEST__INIT;
    get.entry_id = id;
    reply = s_call(s_officer, "GetEntry", &get.base);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Finance__Entry *original =
        chuang__finance__entry__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_true(original->reversed_by == reversal_id);
    chuang__finance__entry__free_unpacked(original, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    /* Not twice, and a reversal is not reversed. */
    long long entries = s_value("SELECT count(*) FROM journal_entries");
    assert_int_equal(s_status(s_keeper, "ReverseEntry", &request.base),
                     CHUANG__STATUS__FAILED_PRECONDITION);
    request.entry_id = reversal_id;
    assert_int_equal(s_status(s_keeper, "ReverseEntry", &request.base),
                     CHUANG__STATUS__FAILED_PRECONDITION);
    request.entry_id = 99999999;
    assert_int_equal(s_status(s_keeper, "ReverseEntry", &request.base), CHUANG__STATUS__NOT_FOUND);
    assert_int_equal(s_value("SELECT count(*) FROM journal_entries"), entries);
}

static void test_who_may_keep_and_read_the_books(void **state)
{
    (void)state;
    assert_int_equal(s_create_fund(s_person, "person-fund"), CHUANG__STATUS__PERMISSION_DENIED);
    assert_int_equal(s_create_fund(s_officer, "officer-fund"), CHUANG__STATUS__PERMISSION_DENIED);
    Chuang__Finance__TrialBalanceRequest trial = CHUANG__FINANCE__TRIAL_BALANCE_REQUEST__INIT;
    assert_int_equal(s_status(s_person, "GetTrialBalance", &trial.base),
                     CHUANG__STATUS__PERMISSION_DENIED);
    /* Another agency's books do not exist for its officers. */
    Chuang__Finance__GetFundRequest get = CHUANG__FINANCE__GET_FUND_REQUEST__INIT;
    get.code = "special-2016";
    assert_int_equal(s_status(s_town, "GetFund", &get.base), CHUANG__STATUS__NOT_FOUND);
    Chuang__Finance__TrialBalance *balance = s_trial(s_town, "");
    assert_int_equal(balance->n_lines, 0);
    chuang__finance__trial_balance__free_unpacked(balance, NULL);
    Chuang__Finance__AppropriateRequest request = CHUANG__FINANCE__APPROPRIATE_REQUEST__INIT;
    request.fund = "special-2016";
    request.amount_fen = 100;
    request.document = "doc";
    assert_int_equal(s_status(s_town, "Appropriate", &request.base), CHUANG__STATUS__NOT_FOUND);
    /* A town may have a fund of the same code: its own. */
    assert_int_equal(s_create_fund(s_town, "special-2016"), CHUANG__STATUS__OK);
    assert_true(s_balance(s_town, "special-2016", "cash") == 0);
}

static void test_bad_input_is_refused_and_changes_nothing(void **state)
{
    (void)state;
    long long entries = s_value("SELECT count(*) FROM journal_entries");
    long long funds = s_value("SELECT count(*) FROM funds");
    struct {
        const char *fund;
        int64_t amount;
        const char *document;
        const char *field;
        Chuang__Status status;
    } cases[] = {
        {"special-2016", 0, "doc", "amount_fen", CHUANG__STATUS__INVALID_ARGUMENT},
        {"special-2016", -100, "doc", "amount_fen", CHUANG__STATUS__INVALID_ARGUMENT},
        {"special-2016", INT64_MAX, "doc", "amount_fen", CHUANG__STATUS__INVALID_ARGUMENT},
        {"special-2016", INT64_MIN, "doc", "amount_fen", CHUANG__STATUS__INVALID_ARGUMENT},
        {"Special 2016", 100, "doc", "fund", CHUANG__STATUS__INVALID_ARGUMENT},
        {"special-2016", 100, "", "document", CHUANG__STATUS__INVALID_ARGUMENT},
        {"special-2016", 100, "doc\nwith a newline", "document", CHUANG__STATUS__INVALID_ARGUMENT},
        {"no-such-fund", 100, "doc", "fund", CHUANG__STATUS__NOT_FOUND},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Chuang__Finance__AppropriateRequest request = CHUANG__FINANCE__APPROPRIATE_REQUEST__INIT;
        request.fund = (char *)cases[i].fund;
        request.amount_fen = cases[i].amount;
        request.document = (char *)cases[i].document;
        Chuang__Reply *reply = s_call(s_keeper, "Appropriate", &request.base);
        if (reply->status != cases[i].status)
            fail_msg("case %zu: status %d", i, reply->status);
        assert_int_equal(reply->n_violations, 1);
        assert_string_equal(reply->violations[0]->field, cases[i].field);
        chuang__reply__free_unpacked(reply, NULL);
    }
    /* Amounts that each fit but whose sum would overflow the balance: the
     * fund is filled close to the limit in SQL, and the next appropriation
     * is refused, nothing written. */
    assert_int_equal(s_create_fund(s_keeper, "overflow-fund"), CHUANG__STATUS__OK);
    char *state_text =
        s_forced("BEGIN;"
                 "INSERT INTO journal_entries (id, agency, booked_on, kind, cause, recorded_by)"
                 " VALUES (800001, '" AGENCY "', current_date, 'forced', 'test', 'sql');"
                 "INSERT INTO postings SELECT 800001, id, 9223000000000000000 FROM accounts"
                 " WHERE agency = '" AGENCY "' AND code = 'overflow-fund:cash';"
                 "INSERT INTO postings SELECT 800001, id, -9223000000000000000 FROM accounts"
                 " WHERE agency = '" AGENCY "' AND code = 'overflow-fund:available';"
                 "COMMIT;");
    assert_string_equal(state_text, "");
    free(state_text);
    entries = s_value("SELECT count(*) FROM journal_entries");
    funds = s_value("SELECT count(*) FROM funds");
    Chuang__Status status;
    assert_true(s_appropriate("overflow-fund", INT64_C(1000000000000000), &status) == 0);
    assert_int_equal(status, CHUANG__STATUS__FAILED_PRECONDITION);
    assert_true(s_balance(s_keeper, "overflow-fund", "cash") == INT64_C(9223000000000000000));
    assert_int_equal(s_value("SELECT count(*) FROM journal_entries"), entries);

    /* Bad fund requests and bad dates. */
    Chuang__Finance__CreateFundRequest fund = CHUANG__FINANCE__CREATE_FUND_REQUEST__INIT;
    fund.code = "-x";
    fund.name = "";
    fund.department = "Finance Bureau";
    Chuang__Reply *reply = s_call(s_keeper, "CreateFund", &fund.base);
    assert_int_equal(reply->status, CHUANG__STATUS__INVALID_ARGUMENT);
    assert_int_equal(reply->n_violations, 3);
    chuang__reply__free_unpacked(reply, NULL);
    Chuang__Finance__TrialBalanceRequest trial = CHUANG__FINANCE__TRIAL_BALANCE_REQUEST__INIT;
    trial.as_of = "2016-02-30";
    assert_int_equal(s_status(s_keeper, "GetTrialBalance", &trial.base),
                     CHUANG__STATUS__INVALID_ARGUMENT);
    Chuang__Finance__StatementRequest statement = CHUANG__FINANCE__STATEMENT_REQUEST__INIT;
    statement.account = "special-2016:cash";
    statement.from = "2016-03-01";
    statement.to = "2016-02-01";
    assert_int_equal(s_status(s_keeper, "GetAccountStatement", &statement.base),
                     CHUANG__STATUS__INVALID_ARGUMENT);
    statement.from = "";
    statement.to = "";
    statement.account = "special-2016:nothing";
    assert_int_equal(s_status(s_keeper, "GetAccountStatement", &statement.base),
                     CHUANG__STATUS__NOT_FOUND);
    assert_int_equal(s_value("SELECT count(*) FROM journal_entries"), entries);
    assert_int_equal(s_value("SELECT count(*) FROM funds"), funds);
}

static void test_the_database_refuses_what_c_would_never_send(void **state)
{
    (void)state;
    long long entries = s_value("SELECT count(*) FROM journal_entries");
    long long cash = s_balance(s_keeper, "special-2016", "cash");
    char *state_text;
    /* An entry whose postings do not sum to zero: refused at commit. */
    state_text =
        s_forced("BEGIN;"
                 "INSERT INTO journal_entries (id, agency, booked_on, kind, cause, recorded_by)"
                 " VALUES (900001, '" AGENCY "', current_date, 'forced', 'test', 'sql');"
                 "INSERT INTO postings SELECT 900001, id, 100 FROM accounts"
                 " WHERE agency = '" AGENCY "' AND code = 'special-2016:cash';"
                 "INSERT INTO postings SELECT 900001, id, -99 FROM accounts"
                 " WHERE agency = '" AGENCY "' AND code = 'special-2016:available';"
                 "COMMIT;");
    assert_string_equal(state_text, "23514");
    free(state_text);
    /* One posting alone, and an entry with none. */
    state_text =
        s_forced("BEGIN;"
                 "INSERT INTO journal_entries (id, agency, booked_on, kind, cause, recorded_by)"
                 " VALUES (900002, '" AGENCY "', current_date, 'forced', 'test', 'sql');"
                 "COMMIT;");
    assert_string_equal(state_text, "23514");
    free(state_text);
    /* Cash below zero: refused by the account's check at once. */
    state_text =
        s_forced("BEGIN;"
                 "INSERT INTO journal_entries (id, agency, booked_on, kind, cause, recorded_by)"
                 " VALUES (900003, '" AGENCY "', current_date, 'forced', 'test', 'sql');"
                 "INSERT INTO postings SELECT 900003, id, -999999999999 FROM accounts"
                 " WHERE agency = '" AGENCY "' AND code = 'special-2016:cash';"
                 "INSERT INTO postings SELECT 900003, id, 999999999999 FROM accounts"
                 " WHERE agency = '" AGENCY "' AND code = 'special-2016:available';"
                 "COMMIT;");
    assert_string_equal(state_text, "23514");
    free(state_text);
    /* Entries, postings and balances are never edited or removed. */
    const char *edits[] = {
        "UPDATE journal_entries SET memo = 'edited'",
        "DELETE FROM journal_entries",
        "UPDATE postings SET amount = amount * 2",
        "DELETE FROM postings",
        "TRUNCATE postings CASCADE",
        "UPDATE accounts SET balance = balance + 1",
        "DELETE FROM accounts WHERE code = 'special-2016:committed'",
        NULL,
    };
    for (size_t i = 0; edits[i]; i++) {
        state_text = s_forced(edits[i]);
        if (!streq(state_text, "23001"))
            fail_msg("%s: sqlstate \"%s\"", edits[i], state_text);
        free(state_text);
    }
    assert_int_equal(s_value("SELECT count(*) FROM journal_entries"), entries);
    assert_true(s_balance(s_keeper, "special-2016", "cash") == cash);
    assert_int_equal(s_value("SELECT count(*) FROM accounts a WHERE balance <> coalesce("
                             "(SELECT sum(amount) FROM postings p WHERE p.account_id = a.id), 0)"),
                     0);
}

/* The agency's today plus days, as YYYY-MM-DD (static storage). */
static const char *s_day(int days)
{
    static char day[4][48];
    static int next;
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT to_char(chuang_today('" AGENCY "') + %d, 'YYYYMMDD')::int",
             days);
    long long yyyymmdd = s_value(sql);
    char *out = day[next++ % 4];
    snprintf(out, 48, "%04lld-%02lld-%02lld", yyyymmdd / 10000, yyyymmdd / 100 % 100,
             yyyymmdd % 100);
    return out;
}

/* A version for the tests to spoil: 大朗's interest subsidy for graduates
 * and returnees, actual interest up to the benchmark + 300 bp, joint
 * approval by human resources and finance. */
typedef struct {
    Chuang__Finance__ProgrammeVersion version;
    Chuang__Finance__Parameter parameter[2];
    Chuang__Finance__Parameter *parameters[2];
    Chuang__Finance__Condition condition;
    Chuang__Finance__Condition *conditions[1];
    char *categories[2];
    char *approvals[2];
} version_t;

static void s_version(version_t *v, const char *from, const char *to, int64_t rate_bp)
{
    chuang__finance__programme_version__init(&v->version);
    v->version.effective_from = (char *)from;
    v->version.effective_to = (char *)to;
    v->version.trial = true;
    v->version.document = "大府〔2015〕9号";
    for (int i = 0; i < 2; i++) {
        chuang__finance__parameter__init(&v->parameter[i]);
        v->parameters[i] = &v->parameter[i];
    }
    v->parameter[0].name = "rate_above_benchmark_bp";
    v->parameter[0].value = rate_bp;
    v->parameter[1].name = "loan_cap_fen";
    v->parameter[1].value = INT64_C(10000000);
    v->version.n_parameters = 2;
    v->version.parameters = v->parameters;
    chuang__finance__condition__init(&v->condition);
    v->condition.fact = "founder_category";
    v->condition.test = "in";
    v->categories[0] = "graduate";
    v->categories[1] = "returnee";
    v->condition.n_values = 2;
    v->condition.values = v->categories;
    v->conditions[0] = &v->condition;
    v->version.n_conditions = 1;
    v->version.conditions = v->conditions;
    v->approvals[0] = "human_resources";
    v->approvals[1] = "finance";
    v->version.n_approvals = 2;
    v->version.approvals = v->approvals;
}

static Chuang__Reply *s_define(const char *code, const char *fund, version_t *v)
{
    Chuang__Finance__DefineProgrammeRequest request =
        CHUANG__FINANCE__DEFINE_PROGRAMME_REQUEST__INIT;
    request.code = (char *)code;
    request.name = "大朗镇创业贷款贴息";
    request.kind = "interest_subsidy";
    request.level = "town";
    request.fund = (char *)fund;
    request.department = "finance";
    request.version = v ? &v->version : NULL;
    return s_call(s_keeper, "DefineProgramme", &request.base);
}

/* The programme on day: its version number, or 0 when refused with
 * status (in *status) and detail (copied into detail). */
static int s_programme_on(const char *code, const char *day, Chuang__Status *status, char *detail,
                          size_t size)
{
    Chuang__Finance__GetProgrammeRequest request = CHUANG__FINANCE__GET_PROGRAMME_REQUEST__INIT;
    request.code = (char *)code;
    request.on = (char *)day;
    Chuang__Reply *reply = s_call(s_person, "GetProgramme", &request.base);
    *status = reply->status;
    snprintf(detail, size, "%s", reply->detail ? reply->detail : "");
    int version = 0;
    if (reply->status == CHUANG__STATUS__OK) {
        Chuang__Finance__Programme *programme =
            chuang__finance__programme__unpack(NULL, reply->payload.len, reply->payload.data);
        version = programme->version->version;
        assert_string_equal(programme->kind, "interest_subsidy");
        assert_int_equal(programme->version->n_approvals, 2);
        assert_string_equal(programme->version->approvals[0], "human_resources");
        assert_int_equal(programme->version->n_conditions, 1);
        assert_int_equal(programme->version->conditions[0]->n_values, 2);
        assert_string_equal(programme->version->conditions[0]->values[1], "returnee");
        assert_int_equal(programme->version->n_parameters, 2);
        /* By name: loan_cap_fen, then the rate. */
        assert_string_equal(programme->version->parameters[1]->name, "rate_above_benchmark_bp");
        version = version * 1000 + (int)programme->version->parameters[1]->value;
        chuang__finance__programme__free_unpacked(programme, NULL);
    }
    chuang__reply__free_unpacked(reply, NULL);
    return version;
}

static void test_a_programme_is_decided_by_the_version_of_the_day(void **state)
{
    (void)state;
    version_t v;
    s_version(&v, "2015-08-01", "2017-07-31", 300);
    Chuang__Reply *reply = s_define("dalang-interest", "special-2016", &v);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    chuang__reply__free_unpacked(reply, NULL);
    reply = s_define("dalang-interest", "special-2016", &v);
    assert_int_equal(reply->status, CHUANG__STATUS__ALREADY_EXISTS);
    chuang__reply__free_unpacked(reply, NULL);

    Chuang__Status status;
    char detail[512];
    /* Anyone may read the programme in force: version 1 at 300 bp. */
    assert_int_equal(
        s_programme_on("dalang-interest", "2016-03-01", &status, detail, sizeof detail), 1300);
    assert_int_equal(
        s_programme_on("dalang-interest", "2017-07-31", &status, detail, sizeof detail), 1300);
    /* After its trial period, and before it: nothing, with the reason. */
    assert_int_equal(
        s_programme_on("dalang-interest", "2017-08-01", &status, detail, sizeof detail), 0);
    assert_int_equal(status, CHUANG__STATUS__FAILED_PRECONDITION);
    assert_non_null(strstr(detail, "2017-07-31"));
    assert_int_equal(
        s_programme_on("dalang-interest", "2015-07-31", &status, detail, sizeof detail), 0);
    assert_int_equal(status, CHUANG__STATUS__FAILED_PRECONDITION);
    assert_int_equal(s_programme_on("dalang-interest", "", &status, detail, sizeof detail), 0);
    assert_int_equal(status, CHUANG__STATUS__FAILED_PRECONDITION);

    /* A revision never reaches back: it starts today or later. */
    Chuang__Finance__ReviseProgrammeRequest revise =
        CHUANG__FINANCE__REVISE_PROGRAMME_REQUEST__INIT;
    revise.code = "dalang-interest";
    version_t next;
    s_version(&next, s_day(-1), "", 250);
    revise.version = &next.version;
    reply = s_call(s_keeper, "ReviseProgramme", &revise.base);
    assert_int_equal(reply->status, CHUANG__STATUS__INVALID_ARGUMENT);
    assert_string_equal(reply->violations[0]->field, "version.effective_from");
    chuang__reply__free_unpacked(reply, NULL);
    char from[48];
    snprintf(from, sizeof from, "%s", s_day(10));
    s_version(&next, from, "", 250);
    reply = s_call(s_keeper, "ReviseProgramme", &revise.base);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    chuang__reply__free_unpacked(reply, NULL);
    assert_int_equal(s_programme_on("dalang-interest", from, &status, detail, sizeof detail), 2250);
    assert_int_equal(
        s_programme_on("dalang-interest", "2016-03-01", &status, detail, sizeof detail), 1300);
    assert_int_equal(s_programme_on("dalang-interest", s_day(9), &status, detail, sizeof detail),
                     0);
    /* A second revision on the same first day is not after the latest. */
    reply = s_call(s_keeper, "ReviseProgramme", &revise.base);
    assert_int_equal(reply->status, CHUANG__STATUS__INVALID_ARGUMENT);
    chuang__reply__free_unpacked(reply, NULL);
    /* Versions are never edited, even in SQL. */
    char *state_text = s_forced("UPDATE programme_parameters SET value = 999");
    assert_string_equal(state_text, "23001");
    free(state_text);
    state_text = s_forced("DELETE FROM programme_versions");
    assert_string_equal(state_text, "23001");
    free(state_text);
    assert_int_equal(s_value("SELECT count(*) FROM chuang_outbox"
                             " WHERE type = 'finance.ProgrammeVersioned'"
                             " AND aggregate_id = 'dalang-interest'"),
                     2);
}

static void test_programmes_about_to_lapse_are_listed(void **state)
{
    (void)state;
    version_t v;
    char to[48];
    snprintf(to, sizeof to, "%s", s_day(5));
    s_version(&v, "2020-01-01", to, 100);
    Chuang__Reply *reply = s_define("trial-reward", "special-2016", &v);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    chuang__reply__free_unpacked(reply, NULL);
    /* One that lapses too, but a next version follows on at once. */
    s_version(&v, "2020-01-01", to, 100);
    reply = s_define("continued", "special-2016", &v);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    chuang__reply__free_unpacked(reply, NULL);
    Chuang__Finance__ReviseProgrammeRequest revise =
        CHUANG__FINANCE__REVISE_PROGRAMME_REQUEST__INIT;
    revise.code = "continued";
    version_t next;
    s_version(&next, s_day(6), "", 100);
    revise.version = &next.version;
    reply = s_call(s_keeper, "ReviseProgramme", &revise.base);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    chuang__reply__free_unpacked(reply, NULL);

    Chuang__Finance__LapsingRequest request = CHUANG__FINANCE__LAPSING_REQUEST__INIT;
    request.days = 30;
    reply = s_call(s_officer, "ListLapsingProgrammes", &request.base);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Finance__LapsingList *list =
        chuang__finance__lapsing_list__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_int_equal(list->n_programmes, 1);
    assert_string_equal(list->programmes[0]->code, "trial-reward");
    assert_int_equal(list->programmes[0]->days_left, 5);
    assert_string_equal(list->programmes[0]->effective_to, to);
    assert_true(list->programmes[0]->trial);
    chuang__finance__lapsing_list__free_unpacked(list, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    request.days = 4;
    reply = s_call(s_officer, "ListLapsingProgrammes", &request.base);
    list = chuang__finance__lapsing_list__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_int_equal(list->n_programmes, 0);
    chuang__finance__lapsing_list__free_unpacked(list, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    request.days = -1;
    assert_int_equal(s_status(s_officer, "ListLapsingProgrammes", &request.base),
                     CHUANG__STATUS__INVALID_ARGUMENT);
    assert_int_equal(s_status(s_person, "ListLapsingProgrammes", &request.base),
                     CHUANG__STATUS__PERMISSION_DENIED);
}

static void test_bad_programmes_are_refused_field_by_field(void **state)
{
    (void)state;
    long long versions = s_value("SELECT count(*) FROM programme_versions");
    /* No version at all. */
    Chuang__Reply *reply = s_define("bad-1", "special-2016", NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__INVALID_ARGUMENT);
    assert_string_equal(reply->violations[0]->field, "version");
    chuang__reply__free_unpacked(reply, NULL);
    /* Everything wrong at once: each field named. */
    version_t v;
    s_version(&v, "2016-02-30", "", 300);
    v.version.document = "";
    v.parameter[0].name = "rate";
    v.parameter[1].value = -1;
    v.condition.fact = "age";
    char *bad_approvals[1] = {"Human Resources"};
    v.version.approvals = bad_approvals;
    v.version.n_approvals = 1;
    reply = s_define("bad-2", "special-2016", &v);
    assert_int_equal(reply->status, CHUANG__STATUS__INVALID_ARGUMENT);
    const char *expected[] = {"version.effective_from",    "version.document",
                              "version.parameters.0.name", "version.parameters.1.value",
                              "version.conditions.0.fact", "version.approvals.0"};
    assert_int_equal(reply->n_violations, 6);
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(reply->violations[i]->field, expected[i]);
    chuang__reply__free_unpacked(reply, NULL);
    /* Conditions: a test that does not fit its fact, values of the wrong
     * kind; a rate beyond 10,000 %; a name given twice; a period ending
     * before it starts. */
    s_version(&v, "2016-01-01", "2015-12-31", 1000001);
    v.condition.fact = "entity_age_days";
    v.condition.test = "in";
    v.parameter[1].name = "rate_above_benchmark_bp";
    v.parameter[1].value = 5;
    reply = s_define("bad-3", "special-2016", &v);
    assert_int_equal(reply->status, CHUANG__STATUS__INVALID_ARGUMENT);
    const char *more[] = {"version.effective_to", "version.parameters.0.value",
                          "version.parameters.1.name", "version.conditions.0.test",
                          "version.conditions.0.values"};
    assert_int_equal(reply->n_violations, 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(reply->violations[i]->field, more[i]);
    chuang__reply__free_unpacked(reply, NULL);
    /* Award rules: an unknown rule, kind and level; a top-up without its
     * ratio; a cap without its window, over every subject, with a ratio. */
    s_version(&v, "2016-01-01", "", 300);
    Chuang__Finance__AwardRule rule[3] = {CHUANG__FINANCE__AWARD_RULE__INIT,
                                          CHUANG__FINANCE__AWARD_RULE__INIT,
                                          CHUANG__FINANCE__AWARD_RULE__INIT};
    Chuang__Finance__AwardRule *rules[3] = {&rule[0], &rule[1], &rule[2]};
    char *levels[1] = {"county"};
    rule[0].rule = "forbid";
    rule[0].kind = "loan";
    rule[0].levels = levels;
    rule[0].n_levels = 1;
    rule[1].rule = "top_up";
    rule[2].rule = "cap";
    rule[2].cap_fen = 100;
    rule[2].any_subject = true;
    rule[2].ratio_bp = 5000;
    v.version.award_rules = rules;
    v.version.n_award_rules = 3;
    reply = s_define("bad-5", "special-2016", &v);
    assert_int_equal(reply->status, CHUANG__STATUS__INVALID_ARGUMENT);
    const char *ruled[] = {"version.award_rules.0.rule",       "version.award_rules.0.kind",
                           "version.award_rules.0.levels",     "version.award_rules.1.ratio_bp",
                           "version.award_rules.2.ratio_bp",   "version.award_rules.2.window_days",
                           "version.award_rules.2.any_subject"};
    assert_int_equal(reply->n_violations, 7);
    for (size_t i = 0; i < 7; i++)
        assert_string_equal(reply->violations[i]->field, ruled[i]);
    chuang__reply__free_unpacked(reply, NULL);
    /* Forced in SQL, the database refuses a cap without a window. */
    char *sqlstate = s_forced(
        "INSERT INTO programme_award_rules (agency, programme, version, position, rule, cap_fen)"
        " SELECT agency, programme, version, 99, 'cap', 100 FROM programme_versions LIMIT 1");
    assert_string_equal(sqlstate, "23514");
    free(sqlstate);
    /* A fund the agency does not have. */
    s_version(&v, "2016-01-01", "", 300);
    reply = s_define("bad-4", "no-such-fund", &v);
    assert_int_equal(reply->status, CHUANG__STATUS__FAILED_PRECONDITION);
    chuang__reply__free_unpacked(reply, NULL);
    assert_int_equal(s_value("SELECT count(*) FROM programme_versions"), versions);
    assert_int_equal(s_value("SELECT count(*) FROM programmes WHERE code LIKE 'bad-%'"), 0);
    /* Only finance officers define programmes. */
    Chuang__Finance__DefineProgrammeRequest request =
        CHUANG__FINANCE__DEFINE_PROGRAMME_REQUEST__INIT;
    assert_int_equal(s_status(s_officer, "DefineProgramme", &request.base),
                     CHUANG__STATUS__PERMISSION_DENIED);
}

/* Registers a limited company in HANGZHOU whose founder is a graduate
 * (categorised) or not; returns its credit code (caller frees). */
static char *s_register(const char *trade_name, bool graduate)
{
    Chuang__Registry__FounderCategory categories[1] = {
        CHUANG__REGISTRY__FOUNDER_CATEGORY__GRADUATE};
    return registry_fixture_register_founder(s_clerk, trade_name, "11010519491231002X", categories,
                                             graduate ? 1 : 0);
}

/* Waits (up to 15 s) until finance knows credit_code with standing;
 * returns true when it does. */
static bool s_wait_standing(const char *credit_code, const char *standing)
{
    for (int i = 0; i < 150; i++) {
        Chuang__Finance__EntityFactsRequest request = CHUANG__FINANCE__ENTITY_FACTS_REQUEST__INIT;
        request.credit_code = (char *)credit_code;
        Chuang__Reply *reply = s_call(s_hz, "GetEntityFacts", &request.base);
        bool done = false;
        if (reply->status == CHUANG__STATUS__OK) {
            Chuang__Finance__EntityFacts *facts = chuang__finance__entity_facts__unpack(
                NULL, reply->payload.len, reply->payload.data);
            done = streq(facts->standing, standing);
            chuang__finance__entity_facts__free_unpacked(facts, NULL);
        }
        chuang__reply__free_unpacked(reply, NULL);
        if (done)
            return true;
        zclock_sleep(100);
    }
    return false;
}

/* CheckEligibility of credit_code for graduate-start today: the reply
 * (caller frees). */
static Chuang__Reply *s_eligibility(const char *credit_code)
{
    Chuang__Finance__EligibilityRequest request = CHUANG__FINANCE__ELIGIBILITY_REQUEST__INIT;
    request.programme = "graduate-start";
    request.credit_code = (char *)credit_code;
    return s_call(s_hz, "CheckEligibility", &request.base);
}

static Chuang__Status s_listing(const char *method, const char *credit_code, const char *list)
{
    Chuang__Registry__AddToListRequest request = CHUANG__REGISTRY__ADD_TO_LIST_REQUEST__INIT;
    request.credit_code = (char *)credit_code;
    request.list = (char *)list;
    request.reason = "未按期公示年度报告";
    request.authority = "杭州市西湖区市场监督管理局";
    Chuang__Reply *reply = client_call(s_clerk, "registry", method, &request.base, NULL);
    Chuang__Status status = reply->status;
    chuang__reply__free_unpacked(reply, NULL);
    return status;
}

static void test_facts_from_the_registry_decide_eligibility(void **state)
{
    (void)state;
    assert_int_equal(s_create_fund(s_hz, "hz-start"), CHUANG__STATUS__OK);
    /* Graduates' companies under three years old, domiciled in 3301xx. */
    version_t v;
    s_version(&v, "2020-01-01", "", 300);
    v.categories[0] = "graduate";
    v.condition.n_values = 1;
    Chuang__Finance__Condition age = CHUANG__FINANCE__CONDITION__INIT, place = age;
    char *days[1] = {"1095"}, *divisions[1] = {"3301"};
    age.fact = "entity_age_days";
    age.test = "at_most";
    age.values = days;
    age.n_values = 1;
    place.fact = "division";
    place.test = "prefix";
    place.values = divisions;
    place.n_values = 1;
    Chuang__Finance__Condition *conditions[3] = {&v.condition, &age, &place};
    v.version.conditions = conditions;
    v.version.n_conditions = 3;
    Chuang__Finance__DefineProgrammeRequest define =
        CHUANG__FINANCE__DEFINE_PROGRAMME_REQUEST__INIT;
    define.code = "graduate-start";
    define.name = "高校毕业生创业补贴";
    define.kind = "special_fund";
    define.level = "district";
    define.fund = "hz-start";
    define.department = "human_resources";
    define.version = &v.version;
    Chuang__Reply *reply = s_call(s_hz, "DefineProgramme", &define.base);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    chuang__reply__free_unpacked(reply, NULL);

    char *graduate = s_register("毕业", true);
    char *other = s_register("寻常", false);
    assert_true(s_wait_standing(graduate, "good"));
    assert_true(s_wait_standing(other, "good"));

    reply = s_eligibility(graduate);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Finance__Eligibility *e =
        chuang__finance__eligibility__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_true(e->eligible);
    assert_false(e->flagged);
    assert_int_equal(e->version, 1);
    assert_int_equal(e->n_results, 3);
    assert_string_equal(e->results[0]->actual, "GRADUATE");
    assert_string_equal(e->results[1]->actual, "0");
    assert_string_equal(e->results[2]->actual, "330106");
    chuang__finance__eligibility__free_unpacked(e, NULL);
    chuang__reply__free_unpacked(reply, NULL);

    reply = s_eligibility(other);
    e = chuang__finance__eligibility__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_false(e->eligible);
    assert_false(e->results[0]->holds);
    assert_string_equal(e->results[0]->actual, "none");
    assert_true(e->results[1]->holds && e->results[2]->holds);
    chuang__finance__eligibility__free_unpacked(e, NULL);
    chuang__reply__free_unpacked(reply, NULL);

    /* Abnormal: flagged to the reviewer, still eligible. */
    assert_int_equal(s_listing("AddToList", graduate, "abnormal"), CHUANG__STATUS__OK);
    assert_true(s_wait_standing(graduate, "abnormal"));
    reply = s_eligibility(graduate);
    e = chuang__finance__eligibility__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_true(e->eligible && e->flagged);
    assert_int_equal(e->n_flags, 1);
    assert_string_equal(e->flags[0]->list, "abnormal");
    chuang__finance__eligibility__free_unpacked(e, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    /* Dishonest: refused, naming the listing. */
    assert_int_equal(s_listing("AddToList", graduate, "dishonest"), CHUANG__STATUS__OK);
    assert_true(s_wait_standing(graduate, "dishonest"));
    reply = s_eligibility(graduate);
    assert_int_equal(reply->status, CHUANG__STATUS__FAILED_PRECONDITION);
    assert_string_equal(reply->message, "entity is on the serious-violation list");
    assert_non_null(strstr(reply->detail, "未按期公示年度报告"));
    chuang__reply__free_unpacked(reply, NULL);
    /* Off the list again: eligible once more. */
    assert_int_equal(s_listing("RemoveFromList", graduate, "dishonest"), CHUANG__STATUS__OK);
    assert_true(s_wait_standing(graduate, "abnormal"));
    reply = s_eligibility(graduate);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    chuang__reply__free_unpacked(reply, NULL);
    /* A registration is a public record: another agency of the deployment
     * (a city above the town that registered it) knows the entity too; a
     * credit code no registry registered is unknown. */
    Chuang__Finance__EntityFactsRequest facts = CHUANG__FINANCE__ENTITY_FACTS_REQUEST__INIT;
    facts.credit_code = graduate;
    assert_int_equal(s_status(s_keeper, "GetEntityFacts", &facts.base), CHUANG__STATUS__OK);
    facts.credit_code = "91330106MA2B0000X1";
    assert_int_equal(s_status(s_keeper, "GetEntityFacts", &facts.base), CHUANG__STATUS__NOT_FOUND);
    /* No ID number reaches finance's tables. */
    assert_int_equal(s_value("SELECT count(*) FROM entity_facts"
                             " WHERE row_to_json(entity_facts)::text LIKE '%330106199003071236%'"),
                     0);
    free(graduate);
    free(other);
}

/* Calls method on application id (with reason) as client; returns the
 * application's status after it, or "" when refused with *status. */
static char *s_application(client_t *client, const char *method, int64_t id, const char *reason,
                           Chuang__Status *status)
{
    return finance_fixture_step_status(client, method, id, reason, status);
}

static int64_t s_draft(const char *credit_code, const char *subject, int64_t amount,
                       Chuang__Status *status)
{
    return finance_fixture_draft(s_hz, "graduate-start", credit_code, subject, amount, status);
}

static void test_an_application_is_pinned_to_the_version_of_its_day(void **state)
{
    (void)state;
    char *graduate = s_register("申请", true);
    char *other = s_register("旁人", false);
    assert_true(s_wait_standing(graduate, "good"));
    assert_true(s_wait_standing(other, "good"));
    Chuang__Status status;
    int64_t id = s_draft(graduate, "场地租金", 300000, &status);
    assert_int_equal(status, CHUANG__STATUS__OK);
    /* One open application per programme and subject. */
    assert_int_equal(s_draft(graduate, "场地租金", 100, &status), 0);
    assert_int_equal(status, CHUANG__STATUS__ALREADY_EXISTS);

    Chuang__Finance__ApplicationRequest request = CHUANG__FINANCE__APPLICATION_REQUEST__INIT;
    request.id = id;
    Chuang__Reply *reply = s_call(s_hz, "SubmitApplication", &request.base);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Finance__Application *a =
        chuang__finance__application__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_string_equal(a->status, "under_review");
    assert_int_equal(a->version, 1);
    assert_string_equal(a->applied_on, s_day(0));
    assert_non_null(a->eligibility);
    assert_true(a->eligibility->eligible);
    assert_int_equal(a->n_steps, 2);
    assert_string_equal(a->steps[1]->from_status, "draft");
    assert_string_equal(a->steps[1]->to_status, "under_review");
    assert_string_equal(a->steps[1]->by, "keeper-3");
    chuang__finance__application__free_unpacked(a, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    char *now = s_application(s_hz, "SubmitApplication", id, "", &status);
    assert_int_equal(status, CHUANG__STATUS__FAILED_PRECONDITION);
    free(now);

    /* An entity that does not meet a condition: refused, the condition named. */
    int64_t refused = s_draft(other, "", 1000, &status);
    request.id = refused;
    reply = s_call(s_hz, "SubmitApplication", &request.base);
    assert_int_equal(reply->status, CHUANG__STATUS__FAILED_PRECONDITION);
    assert_int_equal(reply->n_violations, 1);
    assert_string_equal(reply->violations[0]->field, "conditions.0");
    assert_non_null(strstr(reply->violations[0]->description, "none"));
    chuang__reply__free_unpacked(reply, NULL);
    now = s_application(s_officer, "GetApplication", refused, "", &status);
    assert_int_equal(status, CHUANG__STATUS__NOT_FOUND); /* another agency's officer */
    free(now);
    now = s_application(s_hz, "GetApplication", refused, "", &status);
    assert_string_equal(now, "draft");
    free(now);
    /* Withdrawn with a reason, once. */
    now = s_application(s_hz, "WithdrawApplication", id, "", &status);
    assert_int_equal(status, CHUANG__STATUS__INVALID_ARGUMENT);
    free(now);
    now = s_application(s_hz, "WithdrawApplication", id, "申请人撤回", &status);
    assert_string_equal(now, "withdrawn");
    free(now);
    now = s_application(s_hz, "WithdrawApplication", id, "again", &status);
    assert_int_equal(status, CHUANG__STATUS__FAILED_PRECONDITION);
    free(now);
    /* Withdrawn, the subject is open again. */
    assert_true(s_draft(graduate, "场地租金", 300000, &status) > id);
    /* A dishonest entity's draft is refused at submission. */
    int64_t later = s_draft(graduate, "设备", 5000, &status);
    assert_int_equal(s_listing("AddToList", graduate, "dishonest"), CHUANG__STATUS__OK);
    assert_true(s_wait_standing(graduate, "dishonest"));
    now = s_application(s_hz, "SubmitApplication", later, "", &status);
    assert_int_equal(status, CHUANG__STATUS__FAILED_PRECONDITION);
    free(now);
    assert_int_equal(s_listing("RemoveFromList", graduate, "dishonest"), CHUANG__STATUS__OK);
    /* Every step was an event of the application. */
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM chuang_outbox WHERE aggregate_id = 'application:%" PRId64 "'",
             id);
    assert_int_equal(s_value(sql), 3);
    /* Bad input. */
    assert_int_equal(s_draft("not-a-credit-code", "", 100, &status), 0);
    assert_int_equal(status, CHUANG__STATUS__INVALID_ARGUMENT);
    assert_int_equal(s_draft(graduate, "", 0, &status), 0);
    assert_int_equal(status, CHUANG__STATUS__INVALID_ARGUMENT);
    Chuang__Finance__CreateApplicationRequest unknown =
        CHUANG__FINANCE__CREATE_APPLICATION_REQUEST__INIT;
    unknown.programme = "no-such-programme";
    unknown.credit_code = graduate;
    unknown.amount_fen = 100;
    assert_int_equal(s_status(s_hz, "CreateApplication", &unknown.base), CHUANG__STATUS__NOT_FOUND);
    assert_int_equal(s_status(s_person, "CreateApplication", &unknown.base),
                     CHUANG__STATUS__PERMISSION_DENIED);
    char *text = s_forced("UPDATE application_steps SET reason = 'edited'");
    assert_string_equal(text, "23001");
    free(text);
    free(graduate);
    free(other);
}

/* ReviewApplication of id for department as client: the status after it,
 * or "" when refused (status in *status). */
static char *s_review(client_t *client, int64_t id, const char *department, bool approve,
                      const char *reason, Chuang__Status *status)
{
    Chuang__Finance__ReviewRequest request = CHUANG__FINANCE__REVIEW_REQUEST__INIT;
    request.id = id;
    request.department = (char *)department;
    request.approve = approve;
    request.reason = (char *)reason;
    Chuang__Reply *reply = s_call(client, "ReviewApplication", &request.base);
    *status = reply->status;
    char *result = strdup("");
    if (reply->status == CHUANG__STATUS__OK) {
        Chuang__Finance__Application *a =
            chuang__finance__application__unpack(NULL, reply->payload.len, reply->payload.data);
        free(result);
        result = strdup(a->status);
        chuang__finance__application__free_unpacked(a, NULL);
    }
    chuang__reply__free_unpacked(reply, NULL);
    return result;
}

/* Asserts that a step leaves application id in expected. */
#define assert_becomes(call, expected)                                                             \
    do {                                                                                           \
        char *got_ = (call);                                                                       \
        assert_string_equal(got_, expected);                                                       \
        free(got_);                                                                                \
    } while (0)

static Chuang__Status s_pay(int64_t id, int64_t amount)
{
    Chuang__Finance__PaymentRequest request = CHUANG__FINANCE__PAYMENT_REQUEST__INIT;
    request.id = id;
    request.amount_fen = amount;
    request.memo = "第一笔";
    return s_status(s_hz, "PayAward", &request.base);
}

static void s_assert_told(const char *entity, const char *subject)
{
    finance_fixture_assert_told(&s_deployment, HANGZHOU, entity, subject);
}

static void test_a_subsidy_from_application_to_payment(void **state)
{
    (void)state;
    client_t *hr = s_client(HANGZHOU, "reviewer-hr-1", "reviewer,reviewer-human_resources");
    client_t *fin = s_client(HANGZHOU, "reviewer-fin-1", "reviewer,reviewer-finance");
    client_t *self = s_client(HANGZHOU, "keeper-3", "reviewer,reviewer-finance");
    client_t *other_dept = s_client(HANGZHOU, "reviewer-x", "reviewer");
    client_t *citizen = s_client(HANGZHOU, "person-9", "applicant");
    /* A fund with ¥10,000 and a programme that both departments approve,
     * five days' notice, at most ¥5,000 an award. */
    assert_int_equal(s_create_fund(s_hz, "hz-joint"), CHUANG__STATUS__OK);
    Chuang__Finance__AppropriateRequest money = CHUANG__FINANCE__APPROPRIATE_REQUEST__INIT;
    money.fund = "hz-joint";
    money.amount_fen = 1000000;
    money.document = "西财〔2026〕3号";
    assert_int_equal(s_status(s_hz, "Appropriate", &money.base), CHUANG__STATUS__OK);
    version_t v;
    s_version(&v, "2020-01-01", "", 300);
    Chuang__Finance__Parameter notice = CHUANG__FINANCE__PARAMETER__INIT, cap = notice;
    notice.name = "notice_days";
    notice.value = 5;
    cap.name = "award_cap_fen";
    cap.value = 500000;
    Chuang__Finance__Parameter *parameters[2] = {&notice, &cap};
    v.version.parameters = parameters;
    v.version.n_parameters = 2;
    Chuang__Finance__DefineProgrammeRequest define =
        CHUANG__FINANCE__DEFINE_PROGRAMME_REQUEST__INIT;
    define.code = "joint-subsidy";
    define.name = "创业补贴（人社、财政联审）";
    define.kind = "special_fund";
    define.level = "district";
    define.fund = "hz-joint";
    define.department = "human_resources";
    define.version = &v.version;
    assert_int_equal(s_status(s_hz, "DefineProgramme", &define.base), CHUANG__STATUS__OK);
    char *entity = s_register("联审", true);
    assert_true(s_wait_standing(entity, "good"));

    Chuang__Finance__CreateApplicationRequest create =
        CHUANG__FINANCE__CREATE_APPLICATION_REQUEST__INIT;
    create.programme = "joint-subsidy";
    create.credit_code = entity;
    create.amount_fen = 600000;
    Chuang__Reply *reply = s_call(s_hz, "CreateApplication", &create.base);
    Chuang__Finance__Application *a =
        chuang__finance__application__unpack(NULL, reply->payload.len, reply->payload.data);
    int64_t too_much = a->id;
    chuang__finance__application__free_unpacked(a, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    Chuang__Status status;
    /* Past the cap: refused at submission. */
    assert_becomes(s_application(s_hz, "SubmitApplication", too_much, "", &status), "");
    assert_int_equal(status, CHUANG__STATUS__INVALID_ARGUMENT);
    assert_becomes(s_application(s_hz, "WithdrawApplication", too_much, "金额超限", &status),
                   "withdrawn");
    create.amount_fen = 300000;
    reply = s_call(s_hz, "CreateApplication", &create.base);
    a = chuang__finance__application__unpack(NULL, reply->payload.len, reply->payload.data);
    int64_t id = a->id;
    chuang__finance__application__free_unpacked(a, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    assert_becomes(s_application(s_hz, "SubmitApplication", id, "", &status), "under_review");

    /* Who may review: the department's reviewers, never the submitter. */
    assert_becomes(s_review(self, id, "finance", true, "", &status), "");
    assert_int_equal(status, CHUANG__STATUS__PERMISSION_DENIED);
    assert_becomes(s_review(other_dept, id, "finance", true, "", &status), "");
    assert_int_equal(status, CHUANG__STATUS__PERMISSION_DENIED);
    assert_becomes(s_review(s_hz, id, "finance", true, "", &status), "");
    assert_int_equal(status, CHUANG__STATUS__PERMISSION_DENIED);
    assert_becomes(s_review(hr, id, "human_resources", true, "材料齐全", &status), "under_review");
    assert_becomes(s_review(hr, id, "human_resources", true, "", &status), "");
    assert_int_equal(status, CHUANG__STATUS__ALREADY_EXISTS);
    assert_becomes(s_review(fin, id, "finance", true, "", &status), "notice");
    Chuang__Finance__ApplicationRequest get = CHUANG__FINANCE__APPLICATION_REQUEST__INIT;
    get.id = id;
    reply = s_call(s_hz, "GetApplication", &get.base);
    a = chuang__finance__application__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_string_equal(a->notice_ends_on, s_day(5));
    assert_int_equal(a->n_reviews, 2);
    chuang__finance__application__free_unpacked(a, NULL);
    chuang__reply__free_unpacked(reply, NULL);

    /* Anyone may object while the notice runs: back to review, round 2,
     * both departments again. */
    assert_becomes(s_application(citizen, "ObjectToApplication", id, "", &status), "");
    assert_int_equal(status, CHUANG__STATUS__INVALID_ARGUMENT);
    assert_becomes(s_application(citizen, "ObjectToApplication", id, "该企业实际未经营", &status),
                   "under_review");
    assert_becomes(s_review(fin, id, "finance", true, "", &status), "under_review");
    /* A stale entry of the award in the queue (as an earlier notice would
     * leave it) is moved to the new notice's end when it begins. */
    redisContext *redis = redis_link_connect(harness_get("CHUANG_TEST_REDIS_URL"), 3);
    assert_non_null(redis);
    freeReplyObject(
        redisCommand(redis, "ZADD ftest:finance:due 4102444800000 notice:%" PRId64, id));
    assert_becomes(s_review(hr, id, "human_resources", true, "核实经营", &status), "notice");
    redisReply *score = redisCommand(redis, "ZSCORE ftest:finance:due notice:%" PRId64, id);
    assert_int_equal(score->type, REDIS_REPLY_STRING);
    assert_true(strtoll(score->str, NULL, 10) ==
                s_value("SELECT (extract(epoch FROM chuang_day_start('" HANGZHOU "',"
                        " chuang_today('" HANGZHOU "') + 6)) * 1000)::bigint"));
    freeReplyObject(score);
    /* The notice ends (moved back in time here) without objection: the
     * job awards it and commits the amount. */
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE applications SET notice_ends_on = chuang_today(agency) - 1"
             " WHERE id = %" PRId64,
             id);
    char *text = s_forced(sql);
    assert_string_equal(text, "");
    free(text);
    /* The queue holds the award at the notice's real end: take it out, as
     * a lost Redis would, and it is restored at the end set here. */
    freeReplyObject(redisCommand(redis, "DEL ftest:finance:due"));
    redisFree(redis);
    char *now = NULL;
    for (int i = 0; i < 600; i++) {
        free(now);
        now = s_application(s_hz, "GetApplication", id, "", &status);
        if (streq(now, "awarded"))
            break;
        zclock_sleep(100);
    }
    assert_string_equal(now, "awarded");
    free(now);
    assert_becomes(s_application(citizen, "ObjectToApplication", id, "too late", &status), "");
    assert_int_equal(status, CHUANG__STATUS__FAILED_PRECONDITION);
    assert_true(s_balance(s_hz, "hz-joint", "available") == 700000);
    assert_true(s_balance(s_hz, "hz-joint", "committed") == 300000);

    /* Paid in instalments, never beyond the award. */
    assert_int_equal(s_pay(id, 100000), CHUANG__STATUS__OK);
    assert_int_equal(s_pay(id, 250000), CHUANG__STATUS__INVALID_ARGUMENT);
    assert_true(s_balance(s_hz, "hz-joint", "cash") == 900000);
    assert_int_equal(s_pay(id, 200000), CHUANG__STATUS__OK);
    assert_becomes(s_application(s_hz, "GetApplication", id, "", &status), "paid");
    assert_int_equal(s_pay(id, 1), CHUANG__STATUS__FAILED_PRECONDITION);
    assert_true(s_balance(s_hz, "hz-joint", "cash") == 700000);
    assert_true(s_balance(s_hz, "hz-joint", "committed") == 0);
    assert_true(s_balance(s_hz, "hz-joint", "available") == 700000);
    /* The database refuses paying more than the award, whatever C does. */
    snprintf(sql, sizeof sql, "UPDATE applications SET paid_fen = paid_fen + 1 WHERE id = %" PRId64,
             id);
    text = s_forced(sql);
    assert_string_equal(text, "23514");
    free(text);

    /* The entity was told, in its inbox, of the notice, the objection and
     * the award (notify follows finance's stream). */
    s_assert_told(entity, "申请进入公示：joint-subsidy");
    s_assert_told(entity, "申请收到异议：joint-subsidy");
    s_assert_told(entity, "资金已核定：joint-subsidy");

    /* One department's rejection, with its reason, ends it. */
    create.subject = "第二期";
    reply = s_call(s_hz, "CreateApplication", &create.base);
    a = chuang__finance__application__unpack(NULL, reply->payload.len, reply->payload.data);
    int64_t second = a->id;
    chuang__finance__application__free_unpacked(a, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    assert_becomes(s_application(s_hz, "SubmitApplication", second, "", &status), "under_review");
    assert_becomes(s_review(hr, second, "human_resources", false, "", &status), "");
    assert_int_equal(status, CHUANG__STATUS__INVALID_ARGUMENT);
    assert_becomes(s_review(hr, second, "human_resources", false, "重复申报", &status), "rejected");
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM chuang_outbox WHERE aggregate_id = 'application:%" PRId64 "'",
             id);
    /* drafted, submitted, 2 reviews, objected, 2 reviews, awarded,
     * registered for the agencies above and below, and 2 instalments paid */
    assert_int_equal(s_value(sql), 11);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM chuang_outbox WHERE aggregate_id = 'application:%" PRId64 "'"
             " AND type = 'finance.AwardRegistered' AND visibility = 2",
             id);
    assert_int_equal(s_value(sql), 1);
    /* The programme's year: two submitted (one awarded and paid in full,
     * one rejected), one withdrawn as a draft; nothing in 2020. */
    Chuang__Finance__StatisticsRequest ask = CHUANG__FINANCE__STATISTICS_REQUEST__INIT;
    ask.programme = "joint-subsidy";
    reply = s_call(fin, "GetProgrammeStatistics", &ask.base);
    assert_int_equal(reply->status, CHUANG__STATUS__PERMISSION_DENIED);
    chuang__reply__free_unpacked(reply, NULL);
    reply = s_call(s_hz, "GetProgrammeStatistics", &ask.base);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Finance__ProgrammeStatistics *stats = chuang__finance__programme_statistics__unpack(
        NULL, reply->payload.len, reply->payload.data);
    assert_string_equal(stats->fund, "hz-joint");
    assert_true(stats->submitted == 2 && stats->open == 0);
    assert_true(stats->awarded == 1 && stats->rejected == 1 && stats->withdrawn == 1);
    assert_true(stats->committed_fen == 300000 && stats->paid_fen == 300000);
    assert_true(stats->appropriated_fen == 1000000 && stats->available_fen == 700000);
    chuang__finance__programme_statistics__free_unpacked(stats, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    ask.year = 2020;
    reply = s_call(s_hz, "GetProgrammeStatistics", &ask.base);
    stats = chuang__finance__programme_statistics__unpack(NULL, reply->payload.len,
                                                          reply->payload.data);
    assert_true(stats->submitted == 0 && stats->awarded == 0 && stats->paid_fen == 0);
    chuang__finance__programme_statistics__free_unpacked(stats, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    ask.year = 20;
    assert_int_equal(s_status(s_hz, "GetProgrammeStatistics", &ask.base),
                     CHUANG__STATUS__INVALID_ARGUMENT);
    client_destroy(&hr);
    client_destroy(&fin);
    client_destroy(&self);
    client_destroy(&other_dept);
    client_destroy(&citizen);
    free(entity);
}

/* Starts, on a connection of the service's role, a transaction that
 * commits amount of fund (available to committed) as entry id, without
 * waiting for the answer; returns the connection. */
static PGconn *s_commit_async(const char *fund, int64_t amount, int id)
{
    PGconn *db = db_connect(s_db_url, "finance", 3);
    assert_non_null(db);
    char *sql =
        zsys_sprintf("BEGIN;"
                     "INSERT INTO journal_entries (id, agency, booked_on, kind, cause, recorded_by)"
                     " VALUES (%d, '" AGENCY "', current_date, 'commitment', 'race', 'sql');"
                     "INSERT INTO postings SELECT %d, id, %" PRId64 " FROM accounts"
                     " WHERE agency = '" AGENCY "' AND code = '%s:available';"
                     "INSERT INTO postings SELECT %d, id, %" PRId64 " FROM accounts"
                     " WHERE agency = '" AGENCY "' AND code = '%s:committed';",
                     id, id, amount, fund, id, -amount, fund);
    assert_int_equal(PQsendQuery(db, sql), 1);
    zstr_free(&sql);
    return db;
}

/* Waits for every result of db's query; returns the SQLSTATE of the first
 * failure, "" when none failed (caller frees). */
static char *s_outcome(PGconn *db)
{
    char *state = strdup("");
    PGresult *res;
    while ((res = PQgetResult(db))) {
        const char *failed = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (!*state && failed) {
            free(state);
            state = strdup(failed);
        }
        PQclear(res);
    }
    return state;
}

static void test_concurrent_commitments_never_over_commit(void **state)
{
    (void)state;
    assert_int_equal(s_create_fund(s_keeper, "race-fund"), CHUANG__STATUS__OK);
    Chuang__Status status;
    assert_true(s_appropriate("race-fund", 100, &status) > 0);
    /* Two transactions each commit the whole 100: the second waits on the
     * account's row lock, then sees the first's balance and is refused. */
    PGconn *first = s_commit_async("race-fund", 100, 700001);
    char *outcome = s_outcome(first);
    assert_string_equal(outcome, "");
    free(outcome);
    PGconn *second = s_commit_async("race-fund", 100, 700002);
    zclock_sleep(300); /* time to reach the lock and wait on it */
    PGresult *res = PQexec(first, "COMMIT");
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    outcome = s_outcome(second);
    assert_string_equal(outcome, "23514");
    free(outcome);
    PQclear(PQexec(second, "ROLLBACK"));
    PQfinish(first);
    PQfinish(second);
    assert_true(s_balance(s_keeper, "race-fund", "available") == 0);
    assert_true(s_balance(s_keeper, "race-fund", "committed") == 100);
}

/* true when ListOverdueApplications (as the HANGZHOU finance officer)
 * shows application id, with days_over in *days_over. */
static bool s_overdue(int64_t id, int *days_over)
{
    Chuang__Finance__OverdueRequest request = CHUANG__FINANCE__OVERDUE_REQUEST__INIT;
    request.limit = 100;
    Chuang__Reply *reply = s_call(s_hz, "ListOverdueApplications", &request.base);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Finance__OverdueList *list =
        chuang__finance__overdue_list__unpack(NULL, reply->payload.len, reply->payload.data);
    bool found = false;
    for (size_t i = 0; i < list->n_applications; i++)
        if (list->applications[i]->id == id) {
            found = true;
            *days_over = list->applications[i]->days_over;
            assert_string_equal(list->applications[i]->status, "draft");
            assert_string_equal(list->applications[i]->since, s_day(0));
        }
    chuang__finance__overdue_list__free_unpacked(list, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    return found;
}

static void test_steps_past_their_deadline_are_listed(void **state)
{
    (void)state;
    char *entity = s_register("逾期", true);
    assert_true(s_wait_standing(entity, "good"));
    Chuang__Status status;
    int64_t id = s_draft(entity, "逾期测试", 1000, &status);
    assert_int_equal(status, CHUANG__STATUS__OK);
    int days_over = 0;
    assert_false(s_overdue(id, &days_over)); /* 30 days to submit by default */
    /* The agency's own rule: a draft is due the day before it began. */
    char *text = s_forced("INSERT INTO chuang_rules (agency, name, effective_from, value)"
                          " VALUES ('" HANGZHOU "', 'application_draft_days', '2000-01-01', -1)");
    assert_string_equal(text, "");
    free(text);
    assert_true(s_overdue(id, &days_over));
    assert_int_equal(days_over, 1);
    text = s_forced("DELETE FROM chuang_rules WHERE agency = '" HANGZHOU "'"
                    " AND name = 'application_draft_days'");
    free(text);
    assert_false(s_overdue(id, &days_over));
    Chuang__Finance__OverdueRequest bad = CHUANG__FINANCE__OVERDUE_REQUEST__INIT;
    bad.limit = 101;
    assert_int_equal(s_status(s_hz, "ListOverdueApplications", &bad.base),
                     CHUANG__STATUS__INVALID_ARGUMENT);
    assert_int_equal(s_status(s_person, "ListOverdueApplications", &bad.base),
                     CHUANG__STATUS__PERMISSION_DENIED);
    free(entity);
}

/* The loan id as client sees it, read again (caller frees). */
static Chuang__Finance__Loan *s_loan(client_t *client, int64_t id)
{
    Chuang__Finance__LoanRequest request = CHUANG__FINANCE__LOAN_REQUEST__INIT;
    request.id = id;
    Chuang__Reply *reply = s_call(client, "GetLoan", &request.base);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Finance__Loan *loan =
        chuang__finance__loan__unpack(NULL, reply->payload.len, reply->payload.data);
    chuang__reply__free_unpacked(reply, NULL);
    return loan;
}

/* Calls a loan method as client: the status. */
static Chuang__Status s_loan_step(client_t *client, const char *method, int64_t id,
                                  const char *reason)
{
    Chuang__Finance__LoanRequest request = CHUANG__FINANCE__LOAN_REQUEST__INIT;
    request.id = id;
    request.reason = (char *)reason;
    return s_status(client, method, &request.base);
}

/* Asserts HANGZHOU's books balance, and fund's cash and reserve_due hold
 * what its available, committed and reserve say they should. */
static void s_assert_balanced(const char *fund)
{
    Chuang__Finance__TrialBalance *trial = s_trial(s_hz, "");
    assert_true(trial->total_debit_fen == trial->total_credit_fen);
    chuang__finance__trial_balance__free_unpacked(trial, NULL);
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT sum(balance) FROM accounts WHERE agency = '" HANGZHOU "' AND fund = '%s'",
             fund);
    assert_int_equal(s_value(sql), 0);
}

static Chuang__Status s_bank_approval(client_t *bank, int64_t id, int64_t principal, int rate,
                                      int term)
{
    Chuang__Finance__BankApprovalRequest request = CHUANG__FINANCE__BANK_APPROVAL_REQUEST__INIT;
    request.id = id;
    request.bank = "中国农业银行西湖支行";
    request.contract = "ABC-2026-0001";
    request.principal_fen = principal;
    request.annual_rate_bp = rate;
    request.term_months = term;
    return s_status(bank, "RecordBankApproval", &request.base);
}

static Chuang__Status s_repay(client_t *bank, int64_t id, int64_t amount)
{
    Chuang__Finance__RepaymentRequest request = CHUANG__FINANCE__REPAYMENT_REQUEST__INIT;
    request.id = id;
    request.amount_fen = amount;
    return s_status(bank, "RecordRepayment", &request.base);
}

/* Takes drafted application id to a hz-guarantee-loan scheme through its
 * joint review (hr, fin) and notice to the guarantee: the loan's id. */
static int64_t s_guaranteed(client_t *hr, client_t *fin, int64_t id)
{
    Chuang__Status status;
    assert_becomes(s_application(s_hz, "SubmitApplication", id, "", &status), "under_review");
    assert_becomes(s_review(hr, id, "human_resources", true, "", &status), "under_review");
    assert_becomes(s_review(fin, id, "finance", true, "", &status), "notice");
    assert_becomes(finance_fixture_end_notice(s_hz, s_db_url, harness_get("CHUANG_TEST_REDIS_URL"),
                                              "ftest:finance", id),
                   "awarded");
    Chuang__Finance__Application *a = finance_fixture_step(s_hz, "GetApplication", id, "", NULL);
    int64_t loan_id = a->loan_id;
    assert_true(loan_id > 0);
    assert_true(a->awarded_fen == 0); /* nothing committed: a guarantee */
    chuang__finance__application__free_unpacked(a, NULL);
    return loan_id;
}

static void test_a_guarantee_loan_from_application_to_compensation(void **state)
{
    (void)state;
    client_t *hr = s_client(HANGZHOU, "reviewer-hr-2", "reviewer,reviewer-human_resources");
    client_t *fin = s_client(HANGZHOU, "reviewer-fin-2", "reviewer,reviewer-finance");
    client_t *bank = s_client(HANGZHOU, "bank-abc", "bank");
    /* The guarantee fund (¥1,000,000) and the employment fund that tops
     * up its reserve (¥500,000); 岳塘's scheme: 人社 + 财政 certify, 10 %
     * of each loan into the reserve, at most ¥300,000 to one entity, 36
     * months, 8 % a year. */
    finance_fixture_fund(s_hz, "hz-guarantee", 100000000, "西财〔2026〕9号");
    finance_fixture_fund(s_hz, "hz-employment", 50000000, "西财〔2026〕10号");
    version_t v;
    s_version(&v, "2020-01-01", "", 300);
    Chuang__Finance__Parameter p[6] = {
        CHUANG__FINANCE__PARAMETER__INIT, CHUANG__FINANCE__PARAMETER__INIT,
        CHUANG__FINANCE__PARAMETER__INIT, CHUANG__FINANCE__PARAMETER__INIT,
        CHUANG__FINANCE__PARAMETER__INIT, CHUANG__FINANCE__PARAMETER__INIT};
    const char *names[6] = {"notice_days",           "reserve_bp",  "entity_limit_fen",
                            "term_max_months_count", "rate_max_bp", "compensation_bp"};
    const int64_t values[6] = {1, 1000, 30000000, 36, 800, 10000};
    Chuang__Finance__Parameter *parameters[6];
    for (int i = 0; i < 6; i++) {
        p[i].name = (char *)names[i];
        p[i].value = values[i];
        parameters[i] = &p[i];
    }
    v.version.parameters = parameters;
    v.version.n_parameters = 6;
    Chuang__Finance__DefineProgrammeRequest define =
        CHUANG__FINANCE__DEFINE_PROGRAMME_REQUEST__INIT;
    define.code = "hz-guarantee-loan";
    define.name = "创业担保贷款";
    define.kind = "guarantee_loan";
    define.level = "district";
    define.fund = "hz-guarantee";
    define.department = "human_resources";
    define.version = &v.version;
    assert_int_equal(s_status(s_hz, "DefineProgramme", &define.base), CHUANG__STATUS__OK);
    char *entity = s_register("担保", true);
    assert_true(s_wait_standing(entity, "good"));

    /* Applied for, jointly reviewed, on notice, guaranteed. */
    Chuang__Status status;
    int64_t id =
        finance_fixture_draft(s_hz, "hz-guarantee-loan", entity, "经营周转", 20000000, &status);
    int64_t loan_id = s_guaranteed(hr, fin, id);
    assert_int_equal(s_pay(id, 1000), CHUANG__STATUS__FAILED_PRECONDITION);
    /* A second guarantee would pass the entity's ¥300,000. */
    int64_t second =
        finance_fixture_draft(s_hz, "hz-guarantee-loan", entity, "设备", 15000000, &status);
    assert_becomes(s_application(s_hz, "SubmitApplication", second, "", &status), "");
    assert_int_equal(status, CHUANG__STATUS__INVALID_ARGUMENT);

    /* The bank's terms, within the guarantee and the programme's caps. */
    assert_int_equal(s_bank_approval(bank, loan_id, 20000001, 435, 12),
                     CHUANG__STATUS__INVALID_ARGUMENT);
    assert_int_equal(s_bank_approval(bank, loan_id, 18000005, 900, 12),
                     CHUANG__STATUS__INVALID_ARGUMENT);
    assert_int_equal(s_bank_approval(bank, loan_id, 18000005, 435, 48),
                     CHUANG__STATUS__INVALID_ARGUMENT);
    assert_int_equal(s_bank_approval(s_officer, loan_id, 18000005, 435, 12),
                     CHUANG__STATUS__PERMISSION_DENIED);
    assert_int_equal(s_bank_approval(bank, loan_id, 18000005, 435, 12), CHUANG__STATUS__OK);

    /* Disbursed 200 days ago: 10 % into the reserve, half a fen up. */
    Chuang__Finance__DisbursementRequest disburse = CHUANG__FINANCE__DISBURSEMENT_REQUEST__INIT;
    disburse.id = loan_id;
    disburse.disbursed_on = (char *)s_day(1);
    assert_int_equal(s_status(bank, "DisburseLoan", &disburse.base),
                     CHUANG__STATUS__INVALID_ARGUMENT); /* not in the future */
    disburse.disbursed_on = (char *)s_day(-200);
    /* Another bank acts on none of it. */
    client_t *other_bank = s_client(HANGZHOU, "bank-icbc", "bank");
    assert_int_equal(s_status(other_bank, "DisburseLoan", &disburse.base),
                     CHUANG__STATUS__PERMISSION_DENIED);
    Chuang__Finance__LoanRequest peek = CHUANG__FINANCE__LOAN_REQUEST__INIT;
    peek.id = loan_id;
    assert_int_equal(s_status(other_bank, "GetLoan", &peek.base),
                     CHUANG__STATUS__PERMISSION_DENIED);
    assert_int_equal(s_status(bank, "DisburseLoan", &disburse.base), CHUANG__STATUS__OK);
    assert_int_equal(s_repay(other_bank, loan_id, 1), CHUANG__STATUS__PERMISSION_DENIED);
    client_destroy(&other_bank);
    /* Its first guarantee (today) and first loan (the disbursement's
     * day), 首保 and 首贷, in what finance knows of the entity. */
    Chuang__Finance__EntityFactsRequest whom = CHUANG__FINANCE__ENTITY_FACTS_REQUEST__INIT;
    whom.credit_code = entity;
    Chuang__Reply *known = s_call(s_hz, "GetEntityFacts", &whom.base);
    assert_int_equal(known->status, CHUANG__STATUS__OK);
    Chuang__Finance__EntityFacts *facts =
        chuang__finance__entity_facts__unpack(NULL, known->payload.len, known->payload.data);
    assert_string_equal(facts->first_guarantee_on, s_day(0));
    assert_string_equal(facts->first_loan_on, s_day(-200));
    assert_string_equal(facts->first_investment_on, "");
    chuang__finance__entity_facts__free_unpacked(facts, NULL);
    chuang__reply__free_unpacked(known, NULL);
    int64_t reserve = (18000005 * INT64_C(1000) * 2 + 10000) / 20000; /* 1,800,000.5 up */
    assert_true(reserve == 1800001);
    assert_true(s_balance(s_hz, "hz-guarantee", "reserve") == reserve);
    assert_true(s_balance(s_hz, "hz-guarantee", "reserve_due") == reserve);
    s_assert_balanced("hz-guarantee");
    /* Twelve instalments of interest at 4.35 % a year on the principal,
     * to the nearest fen, the principal with the last. */
    int64_t interest = (18000005 * INT64_C(435) * 2 + 120000) / 240000;
    Chuang__Finance__Loan *loan = s_loan(bank, loan_id);
    assert_string_equal(loan->disbursed_on, s_day(-200));
    assert_int_equal(loan->n_instalments, 12);
    for (size_t i = 0; i < 12; i++) {
        assert_true(loan->instalments[i]->interest_fen == interest);
        assert_true(loan->instalments[i]->principal_fen == (i == 11 ? 18000005 : 0));
    }
    assert_true(loan->reserve_fen == reserve);
    chuang__finance__loan__free_unpacked(loan, NULL);

    /* Six instalments are past their day: the loan falls overdue. */
    for (int i = 0; i < 300; i++) {
        loan = s_loan(bank, loan_id);
        bool overdue = streq(loan->status, "overdue");
        chuang__finance__loan__free_unpacked(loan, NULL);
        if (overdue)
            break;
        zclock_sleep(100);
    }
    loan = s_loan(bank, loan_id);
    assert_string_equal(loan->status, "overdue");
    assert_true(loan->overdue_fen == 6 * interest);
    chuang__finance__loan__free_unpacked(loan, NULL);
    /* Two months' interest repaid: still overdue; more than is owed is
     * refused. */
    assert_int_equal(s_repay(bank, loan_id, 2 * interest), CHUANG__STATUS__OK);
    assert_int_equal(s_repay(bank, loan_id, 18000005 + 10 * interest + 1),
                     CHUANG__STATUS__INVALID_ARGUMENT);
    loan = s_loan(bank, loan_id);
    assert_string_equal(loan->status, "overdue");
    assert_string_equal(loan->instalments[1]->paid_on, s_day(0));
    assert_string_equal(loan->instalments[2]->paid_on, "");
    assert_true(loan->overdue_fen == 4 * interest);
    chuang__finance__loan__free_unpacked(loan, NULL);

    /* The bank reports it lost: in default (more than 90 days overdue),
     * compensated from the guarantee fund: the principal and the interest
     * due and unpaid. */
    assert_int_equal(s_loan_step(s_hz, "CompensateLoan", loan_id, ""),
                     CHUANG__STATUS__FAILED_PRECONDITION);
    assert_int_equal(s_loan_step(s_hz, "DeclareDefault", loan_id, ""),
                     CHUANG__STATUS__INVALID_ARGUMENT);
    assert_int_equal(s_loan_step(bank, "DeclareDefault", loan_id, "借款人失联"),
                     CHUANG__STATUS__PERMISSION_DENIED);
    assert_int_equal(s_loan_step(s_hz, "DeclareDefault", loan_id, "借款人失联"),
                     CHUANG__STATUS__OK);
    assert_int_equal(s_loan_step(s_hz, "CompensateLoan", loan_id, ""), CHUANG__STATUS__OK);
    int64_t compensation = 18000005 + 4 * interest;
    loan = s_loan(s_hz, loan_id);
    assert_string_equal(loan->status, "compensated");
    assert_true(loan->compensated_fen == compensation);
    chuang__finance__loan__free_unpacked(loan, NULL);
    assert_true(s_balance(s_hz, "hz-guarantee", "cash") == 100000000 - compensation);
    assert_true(s_balance(s_hz, "hz-guarantee", "available") == 100000000 - compensation);
    s_assert_balanced("hz-guarantee");
    assert_int_equal(s_loan_step(s_hz, "CompensateLoan", loan_id, ""),
                     CHUANG__STATUS__FAILED_PRECONDITION); /* once */

    /* The reserve: paid in by the employment fund, no more than accrued;
     * then, approved, it refills the guarantee fund, no more than paid in. */
    Chuang__Finance__ReserveRefillRequest refill = CHUANG__FINANCE__RESERVE_REFILL_REQUEST__INIT;
    refill.fund = "hz-guarantee";
    refill.amount_fen = 1;
    refill.document = "西人社〔2026〕4号";
    assert_int_equal(s_status(s_hz, "RefillFromReserve", &refill.base),
                     CHUANG__STATUS__INVALID_ARGUMENT); /* nothing paid in yet */
    Chuang__Finance__ReserveTopUpRequest top_up = CHUANG__FINANCE__RESERVE_TOP_UP_REQUEST__INIT;
    top_up.fund = "hz-guarantee";
    top_up.from_fund = "hz-employment";
    top_up.amount_fen = reserve + 1;
    top_up.document = "西财〔2026〕31号";
    assert_int_equal(s_status(s_hz, "TopUpReserve", &top_up.base),
                     CHUANG__STATUS__INVALID_ARGUMENT);
    top_up.amount_fen = reserve;
    assert_int_equal(s_status(s_hz, "TopUpReserve", &top_up.base), CHUANG__STATUS__OK);
    assert_true(s_balance(s_hz, "hz-guarantee", "reserve_due") == 0);
    assert_true(s_balance(s_hz, "hz-employment", "cash") == 50000000 - reserve);
    assert_true(s_balance(s_hz, "hz-guarantee", "cash") == 100000000 - compensation + reserve);
    s_assert_balanced("hz-guarantee");
    s_assert_balanced("hz-employment");
    refill.amount_fen = reserve + 1;
    assert_int_equal(s_status(s_hz, "RefillFromReserve", &refill.base),
                     CHUANG__STATUS__INVALID_ARGUMENT);
    refill.amount_fen = reserve;
    assert_int_equal(s_status(s_hz, "RefillFromReserve", &refill.base), CHUANG__STATUS__OK);
    assert_true(s_balance(s_hz, "hz-guarantee", "reserve") == 0);
    assert_true(s_balance(s_hz, "hz-guarantee", "available") == 100000000 - compensation + reserve);
    s_assert_balanced("hz-guarantee");

    /* The entity was told of the guarantee, the overdue instalments and
     * the compensation it now owes the fund. */
    s_assert_told(entity, "创业担保贷款已获担保：hz-guarantee-loan");
    s_assert_told(entity, "贷款逾期：hz-guarantee-loan");
    s_assert_told(entity, "担保基金已代偿：hz-guarantee-loan");

    /* The report. */
    Chuang__Finance__LoanReportRequest ask = CHUANG__FINANCE__LOAN_REPORT_REQUEST__INIT;
    ask.programme = "hz-guarantee-loan";
    Chuang__Reply *reply = s_call(s_hz, "GetLoanReport", &ask.base);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Finance__LoanReport *report =
        chuang__finance__loan_report__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_true(report->loans == 1);
    assert_true(report->outstanding == 0);
    assert_true(report->compensated == 1);
    assert_true(report->compensated_fen == compensation);
    assert_true(report->reserve_fen == 0);
    assert_true(report->reserve_due_fen == 0);
    assert_true(report->available_fen == 100000000 - compensation + reserve);
    chuang__finance__loan_report__free_unpacked(report, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    client_destroy(&hr);
    client_destroy(&fin);
    client_destroy(&bank);
    free(entity);
}

/* The day before day (YYYY-MM-DD), in static storage. */
static const char *s_day_before(const char *day)
{
    static char out[48];
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT to_char(DATE '%s' - 1, 'YYYYMMDD')::int", day);
    long long yyyymmdd = s_value(sql);
    snprintf(out, sizeof out, "%04lld-%02lld-%02lld", yyyymmdd / 10000, yyyymmdd / 100 % 100,
             yyyymmdd % 100);
    return out;
}

/* x / y rounded to the nearest whole number, half up (x, y > 0). */
static int64_t s_round(int64_t x, int64_t y)
{
    return (2 * x + y) / (2 * y);
}

/* CheckEligibility of credit_code for programme, subject and period: the
 * eligibility (caller frees), or NULL when refused with *status. */
static Chuang__Finance__Eligibility *s_subsidy(const char *programme, const char *credit_code,
                                               const char *subject, const char *from,
                                               const char *to, Chuang__Status *status)
{
    Chuang__Finance__EligibilityRequest request = CHUANG__FINANCE__ELIGIBILITY_REQUEST__INIT;
    request.programme = (char *)programme;
    request.credit_code = (char *)credit_code;
    request.subject = (char *)subject;
    request.period_from = (char *)from;
    request.period_to = (char *)to;
    Chuang__Reply *reply = s_call(s_hz, "CheckEligibility", &request.base);
    *status = reply->status;
    Chuang__Finance__Eligibility *e =
        reply->status == CHUANG__STATUS__OK
            ? chuang__finance__eligibility__unpack(NULL, reply->payload.len, reply->payload.data)
            : NULL;
    chuang__reply__free_unpacked(reply, NULL);
    return e;
}

/* Defines interest subsidy programme code of HANGZHOU, a town's, paid by
 * hz-interest, with parameter (rate_above_reference_bp or
 * reference_share_bp) of value on at most ¥80,000 of a loan, excluding
 * periods a higher level subsidised. */
static void s_subsidy_programme(const char *code, const char *parameter, int64_t value)
{
    Chuang__Finance__ProgrammeVersion version = CHUANG__FINANCE__PROGRAMME_VERSION__INIT;
    version.effective_from = "2020-01-01";
    version.document = "大府〔2015〕9号";
    Chuang__Finance__Parameter rule = CHUANG__FINANCE__PARAMETER__INIT, cap = rule;
    rule.name = (char *)parameter;
    rule.value = value;
    cap.name = "loan_cap_fen";
    cap.value = 8000000;
    Chuang__Finance__Parameter *parameters[2] = {&rule, &cap};
    version.parameters = parameters;
    version.n_parameters = 2;
    Chuang__Finance__AwardRule exclude = CHUANG__FINANCE__AWARD_RULE__INIT;
    exclude.rule = "exclude";
    Chuang__Finance__AwardRule *rules[1] = {&exclude};
    version.award_rules = rules;
    version.n_award_rules = 1;
    Chuang__Finance__DefineProgrammeRequest define =
        CHUANG__FINANCE__DEFINE_PROGRAMME_REQUEST__INIT;
    define.code = (char *)code;
    define.name = "创业贷款贴息";
    define.kind = "interest_subsidy";
    define.level = "town";
    define.fund = "hz-interest";
    define.department = "finance";
    define.version = &version;
    assert_int_equal(s_status(s_hz, "DefineProgramme", &define.base), CHUANG__STATUS__OK);
}

static void test_interest_subsidies_for_a_year_of_repayments(void **state)
{
    (void)state;
    client_t *hr = s_client(HANGZHOU, "reviewer-hr-3", "reviewer,reviewer-human_resources");
    client_t *fin = s_client(HANGZHOU, "reviewer-fin-3", "reviewer,reviewer-finance");
    client_t *bank = s_client(HANGZHOU, "bank-abc", "bank");
    /* A guaranteed loan of ¥100,000 at 7 % for twelve months, disbursed
     * 380 days ago (the guarantee scheme of the test before). */
    char *entity = s_register("贴息测试", true);
    assert_true(s_wait_standing(entity, "good"));
    Chuang__Status status;
    int64_t id =
        finance_fixture_draft(s_hz, "hz-guarantee-loan", entity, "周转", 10000000, &status);
    int64_t loan_id = s_guaranteed(hr, fin, id);
    Chuang__Finance__Application *a;
    Chuang__Finance__BankApprovalRequest approval = CHUANG__FINANCE__BANK_APPROVAL_REQUEST__INIT;
    approval.id = loan_id;
    approval.bank = "中国农业银行西湖支行";
    approval.contract = "ABC-2025-0777";
    approval.principal_fen = 10000000;
    approval.annual_rate_bp = 700;
    approval.term_months = 12;
    assert_int_equal(s_status(bank, "RecordBankApproval", &approval.base), CHUANG__STATUS__OK);
    Chuang__Finance__DisbursementRequest disburse = CHUANG__FINANCE__DISBURSEMENT_REQUEST__INIT;
    disburse.id = loan_id;
    disburse.disbursed_on = (char *)s_day(-380);
    assert_int_equal(s_status(bank, "DisburseLoan", &disburse.base), CHUANG__STATUS__OK);
    Chuang__Finance__Loan *loan = s_loan(bank, loan_id);
    int64_t interest = s_round(INT64_C(10000000) * 700, 120000);
    assert_true(loan->instalments[0]->interest_fen == interest);
    char from[16], seventh[16], ninth_end[16], tenth[16], to[16];
    snprintf(from, sizeof from, "%s", loan->instalments[0]->period_from);
    snprintf(seventh, sizeof seventh, "%s", loan->instalments[6]->period_from);
    snprintf(tenth, sizeof tenth, "%s", loan->instalments[9]->period_from);
    /* An instalment's interest runs to the day before it falls due. */
    snprintf(ninth_end, sizeof ninth_end, "%s", s_day_before(loan->instalments[8]->due_on));
    snprintf(to, sizeof to, "%s", s_day_before(loan->instalments[11]->due_on));
    chuang__finance__loan__free_unpacked(loan, NULL);

    /* The reference rate is dated: 3.10 % until the seventh month began,
     * 3.00 % from then (this agency's own rows, as an LPR change). */
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO chuang_rules (agency, name, effective_from, value, document) VALUES"
             " ('" HANGZHOU "', 'loan_reference_rate_bp', '2000-01-01', 310, 'LPR'),"
             " ('" HANGZHOU "', 'loan_reference_rate_bp', '%s', 300, 'LPR')",
             seventh);
    char *text = s_forced(sql);
    assert_string_equal(text, "");
    free(text);
    finance_fixture_fund(s_hz, "hz-interest", 10000000, "大府〔2015〕9号");
    /* 大朗: the actual interest up to the reference + 300 bp; and 50 % of
     * the reference for labour-intensive micro-enterprises. */
    s_subsidy_programme("hz-interest-graduates", "rate_above_reference_bp", 300);
    s_subsidy_programme("hz-interest-micro", "reference_share_bp", 5000);
    /* Computed independently: on ¥80,000 of the ¥100,000, each month to
     * the nearest fen. */
    int64_t base = 8000000, actual = s_round(interest * base, 10000000);
    int64_t capped_before = s_round(base * (310 + 300), 120000);
    int64_t capped_after = s_round(base * (300 + 300), 120000);
    int64_t share_before = s_round(base * 310 * 5000, 1200000000);
    int64_t share_after = s_round(base * 300 * 5000, 1200000000);
    assert_true(capped_before < actual && capped_after < actual); /* the cap binds */

    /* Only what was repaid: three months' interest so far. */
    assert_int_equal(s_repay(bank, loan_id, 3 * interest), CHUANG__STATUS__OK);
    Chuang__Finance__Eligibility *e =
        s_subsidy("hz-interest-graduates", entity, "ABC-2025-0777", from, to, &status);
    assert_int_equal(status, CHUANG__STATUS__OK);
    assert_true(e->computed);
    assert_int_equal(e->n_subsidy_periods, 3);
    assert_true(e->subsidy_periods[0]->reference_bp == 310);
    assert_true(e->subsidy_periods[0]->base_fen == base);
    assert_true(e->subsidy_fen == 3 * capped_before);
    chuang__finance__eligibility__free_unpacked(e, NULL);
    /* The year repaid: every period, at the rate of its first day. */
    assert_int_equal(s_repay(bank, loan_id, 9 * interest + 10000000), CHUANG__STATUS__OK);
    loan = s_loan(bank, loan_id);
    assert_string_equal(loan->status, "repaid");
    chuang__finance__loan__free_unpacked(loan, NULL);
    e = s_subsidy("hz-interest-graduates", entity, "ABC-2025-0777", from, to, &status);
    assert_int_equal(e->n_subsidy_periods, 12);
    assert_true(e->subsidy_periods[6]->reference_bp == 300);
    assert_true(e->subsidy_fen == 6 * capped_before + 6 * capped_after);
    chuang__finance__eligibility__free_unpacked(e, NULL);
    e = s_subsidy("hz-interest-micro", entity, "ABC-2025-0777", from, to, &status);
    assert_true(e->subsidy_fen == 6 * share_before + 6 * share_after);
    chuang__finance__eligibility__free_unpacked(e, NULL);
    /* No period given, or a loan it does not have. */
    assert_null(s_subsidy("hz-interest-graduates", entity, "ABC-2025-0777", "", "", &status));
    assert_int_equal(status, CHUANG__STATUS__INVALID_ARGUMENT);
    e = s_subsidy("hz-interest-graduates", entity, "NO-SUCH-LOAN", from, to, &status);
    assert_int_equal(e->n_subsidy_periods, 0);
    chuang__finance__eligibility__free_unpacked(e, NULL);

    /* The city subsidised months ten to twelve (as its feed brings it to
     * the register): the town's claim for the year is refused, one for the
     * first nine months goes on, at most their subsidy. */
    snprintf(sql, sizeof sql,
             "INSERT INTO award_register (origin, award, level, recipient_kind, recipient, kind,"
             "   programme, subject, amount_fen, awarded_on, period_from, period_to)"
             " VALUES ('330100', 'application:77', 'city', 'entity', '%s', 'interest_subsidy',"
             "   'city-interest', 'ABC-2025-0777', 60000, chuang_today('" HANGZHOU "'),"
             "   '%s', '%s')",
             entity, tenth, to);
    text = s_forced(sql);
    assert_string_equal(text, "");
    free(text);
    Chuang__Finance__CreateApplicationRequest claim =
        CHUANG__FINANCE__CREATE_APPLICATION_REQUEST__INIT;
    claim.programme = "hz-interest-graduates";
    claim.credit_code = entity;
    claim.subject = "ABC-2025-0777";
    claim.amount_fen = 999999;
    claim.period_from = from;
    claim.period_to = to;
    Chuang__Reply *reply = s_call(s_hz, "CreateApplication", &claim.base);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    a = chuang__finance__application__unpack(NULL, reply->payload.len, reply->payload.data);
    int64_t year = a->id;
    assert_string_equal(a->period_to, to);
    chuang__finance__application__free_unpacked(a, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    Chuang__Reply *refusal = NULL;
    assert_null(finance_fixture_step(s_hz, "SubmitApplication", year, "", &refusal));
    assert_int_equal(refusal->status, CHUANG__STATUS__FAILED_PRECONDITION);
    assert_non_null(strstr(refusal->violations[0]->description, "application:77 of 330100"));
    chuang__reply__free_unpacked(refusal, NULL);
    /* Overlapping claims of one programme are one too many. */
    claim.period_from = tenth;
    assert_int_equal(s_status(s_hz, "CreateApplication", &claim.base),
                     CHUANG__STATUS__ALREADY_EXISTS);
    assert_becomes(s_application(s_hz, "WithdrawApplication", year, "市级已贴息", &status),
                   "withdrawn");
    claim.period_from = from;
    claim.period_to = ninth_end;
    reply = s_call(s_hz, "CreateApplication", &claim.base);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    a = chuang__finance__application__unpack(NULL, reply->payload.len, reply->payload.data);
    int64_t nine = a->id;
    chuang__finance__application__free_unpacked(a, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    a = finance_fixture_step(s_hz, "SubmitApplication", nine, "", NULL);
    assert_non_null(a);
    assert_string_equal(a->status, "under_review");
    assert_true(a->amount_fen == 6 * capped_before + 3 * capped_after);
    chuang__finance__application__free_unpacked(a, NULL);
    /* A period given by one end only. */
    claim.period_to = "";
    assert_int_equal(s_status(s_hz, "CreateApplication", &claim.base),
                     CHUANG__STATUS__INVALID_ARGUMENT);
    client_destroy(&hr);
    client_destroy(&fin);
    client_destroy(&bank);
    free(entity);
}

/* One payer of test_concurrent_payments_of_one_fund_never_deadlock. */
typedef struct {
    int64_t application;
    int payments; /* 0: 25 */
    int failures;
} payer_t;

static void *s_payer(void *args)
{
    payer_t *payer = args;
    client_t *client = s_client(HANGZHOU, "keeper-3", "finance-officer");
    Chuang__Finance__PaymentRequest request = CHUANG__FINANCE__PAYMENT_REQUEST__INIT;
    request.id = payer->application;
    request.amount_fen = 1;
    for (int i = 0; i < (payer->payments ? payer->payments : 25); i++) {
        Chuang__Reply *reply = client_call(client, "finance", "PayAward", &request.base, NULL);
        if (!reply || reply->status != CHUANG__STATUS__OK)
            payer->failures++;
        if (reply)
            chuang__reply__free_unpacked(reply, NULL);
    }
    client_destroy(&client);
    return NULL;
}

/* Lines of finance's log that say a request met a deadlock (or another
 * conflict) and ran again. */
static long s_conflicts(void)
{
    char path[600], line[4096];
    snprintf(path, sizeof path, "%s/finance.log", harness_dir());
    FILE *log = fopen(path, "r");
    long n = 0;
    while (log && fgets(line, sizeof line, log))
        n += strstr(line, "transaction conflict") != NULL;
    if (log)
        fclose(log);
    return n;
}

static void test_concurrent_payments_of_one_fund_never_deadlock(void **state)
{
    (void)state;
    /* Eight awarded applications of one fund (made in SQL: the workflow
     * is not what is tested), paid a fen at a time by eight officers at
     * once: every payment locks the fund's committed and cash accounts. */
    finance_fixture_fund(s_hz, "hz-hot", 1000000000, "西财〔2026〕77号");
    version_t v;
    s_version(&v, "2020-01-01", "", 300);
    Chuang__Finance__DefineProgrammeRequest define =
        CHUANG__FINANCE__DEFINE_PROGRAMME_REQUEST__INIT;
    define.code = "hz-hot-subsidy";
    define.name = "热点";
    define.kind = "special_fund";
    define.level = "district";
    define.fund = "hz-hot";
    define.department = "finance";
    define.version = &v.version;
    assert_int_equal(s_status(s_hz, "DefineProgramme", &define.base), CHUANG__STATUS__OK);
    char *text = s_forced(
        "BEGIN;"
        " INSERT INTO applications (agency, programme, applicant, subject, amount_fen, status,"
        "   version, applied_on, created_by, awarded_fen)"
        " SELECT '" HANGZHOU "', 'hz-hot-subsidy', '91330106MA2B0000X1', 'hot ' || n, 1000,"
        "   'awarded', 1, chuang_today('" HANGZHOU "'), 'test', 1000"
        " FROM generate_series(1, 8) AS n;"
        " WITH e AS (INSERT INTO journal_entries (agency, booked_on, kind, cause, recorded_by)"
        "   VALUES ('" HANGZHOU "', chuang_today('" HANGZHOU "'), 'commitment', 'test', 'test')"
        "   RETURNING id)"
        " INSERT INTO postings (entry_id, account_id, amount)"
        " SELECT e.id, a.id, CASE a.kind WHEN 'available' THEN 8000 ELSE -8000 END"
        " FROM e, accounts a WHERE a.agency = '" HANGZHOU "'"
        "   AND a.code IN ('hz-hot:available', 'hz-hot:committed');"
        " COMMIT;");
    assert_string_equal(text, "");
    free(text);
    long first = s_value("SELECT min(id) FROM applications WHERE programme = 'hz-hot-subsidy'");
    long conflicts = s_conflicts();
    payer_t payers[8];
    pthread_t threads[8];
    for (int i = 0; i < 8; i++) {
        payers[i] = (payer_t){.application = first + i};
        pthread_create(&threads[i], NULL, s_payer, &payers[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(payers[i].failures, 0);
    }
    /* Every fen paid once, and no request met a deadlock. */
    assert_true(s_balance(s_hz, "hz-hot", "committed") == 8000 - 200);
    assert_true(s_balance(s_hz, "hz-hot", "cash") == 1000000000 - 200);
    assert_int_equal(s_value("SELECT count(*) FROM applications"
                             " WHERE programme = 'hz-hot-subsidy' AND paid_fen = 25"),
                     8);
    assert_int_equal(s_conflicts(), conflicts);

    /* Why: an entry locks its accounts in the order of their ids before it
     * moves a balance. While another transaction holds the fund's cash
     * (the lower id), a payment waits for it holding nothing, so the other
     * may still take committed: locked the other way round, the two would
     * wait on each other. */
    PGconn *other = db_connect(s_db_url, "finance", 3);
    assert_non_null(other);
    PGresult *res = PQexec(other, "BEGIN; SELECT 1 FROM accounts WHERE agency = '" HANGZHOU "'"
                                  " AND code = 'hz-hot:cash' FOR UPDATE");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    PQclear(res);
    payer_t one = {.application = first, .payments = 1};
    pthread_t thread;
    pthread_create(&thread, NULL, s_payer, &one);
    bool waiting = false;
    for (int i = 0; i < 300 && !waiting; i++) {
        res = PQexec(other, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                            " AND usename = current_user");
        waiting = PQresultStatus(res) == PGRES_TUPLES_OK && atoi(PQgetvalue(res, 0, 0)) > 0;
        PQclear(res);
        if (!waiting)
            zclock_sleep(20);
    }
    assert_true(waiting);
    res = PQexec(other, "SELECT 1 FROM accounts WHERE agency = '" HANGZHOU "'"
                        " AND code = 'hz-hot:committed' FOR UPDATE NOWAIT");
    ExecStatusType taken = PQresultStatus(res);
    PQclear(res);
    PQclear(PQexec(other, "ROLLBACK"));
    PQfinish(other);
    pthread_join(thread, NULL);
    assert_int_equal(taken, PGRES_TUPLES_OK);
    assert_int_equal(one.failures, 0);
}

static void test_a_person_borrows_under_a_guarantee(void **state)
{
    (void)state;
    client_t *hr = s_client(HANGZHOU, "reviewer-hr-4", "reviewer,reviewer-human_resources");
    client_t *fin = s_client(HANGZHOU, "reviewer-fin-4", "reviewer,reviewer-finance");
    const char *person = "11010519491231002X";
    /* A scheme for people (graduates selling online, certified by human
     * resources and finance): no condition over an entity's facts. */
    Chuang__Finance__ProgrammeVersion version = CHUANG__FINANCE__PROGRAMME_VERSION__INIT;
    version.effective_from = "2020-01-01";
    version.document = "岳政办〔2016〕3号";
    char *approvals[2] = {"human_resources", "finance"};
    version.approvals = approvals;
    version.n_approvals = 2;
    Chuang__Finance__Parameter limit = CHUANG__FINANCE__PARAMETER__INIT;
    limit.name = "entity_limit_fen";
    limit.value = 10000000;
    Chuang__Finance__Parameter *parameters[1] = {&limit};
    version.parameters = parameters;
    version.n_parameters = 1;
    Chuang__Finance__DefineProgrammeRequest define =
        CHUANG__FINANCE__DEFINE_PROGRAMME_REQUEST__INIT;
    define.code = "hz-person-loan";
    define.name = "个人创业担保贷款";
    define.kind = "guarantee_loan";
    define.level = "district";
    define.fund = "hz-guarantee";
    define.department = "human_resources";
    define.version = &version;
    assert_int_equal(s_status(s_hz, "DefineProgramme", &define.base), CHUANG__STATUS__OK);

    /* Who applies: a person by a valid ID number, or an entity, not both. */
    Chuang__Finance__CreateApplicationRequest create =
        CHUANG__FINANCE__CREATE_APPLICATION_REQUEST__INIT;
    create.programme = "hz-person-loan";
    create.id_number = "110105194912310021"; /* wrong check character */
    create.amount_fen = 5000000;
    Chuang__Reply *reply = s_call(s_hz, "CreateApplication", &create.base);
    assert_int_equal(reply->status, CHUANG__STATUS__INVALID_ARGUMENT);
    assert_string_equal(reply->violations[0]->field, "id_number");
    chuang__reply__free_unpacked(reply, NULL);
    create.credit_code = "91330106MA2B0000X1";
    create.id_number = (char *)person;
    assert_int_equal(s_status(s_hz, "CreateApplication", &create.base),
                     CHUANG__STATUS__INVALID_ARGUMENT);
    create.credit_code = "";
    /* The entity scheme's founder condition cannot hold for a person. */
    create.programme = "hz-guarantee-loan";
    reply = s_call(s_hz, "CreateApplication", &create.base);
    Chuang__Finance__Application *a =
        chuang__finance__application__unpack(NULL, reply->payload.len, reply->payload.data);
    int64_t wrong = a->id;
    assert_string_equal(a->id_number, person);
    assert_string_equal(a->credit_code, "");
    chuang__finance__application__free_unpacked(a, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    Chuang__Status status;
    assert_becomes(s_application(s_hz, "SubmitApplication", wrong, "", &status), "");
    assert_int_equal(status, CHUANG__STATUS__FAILED_PRECONDITION);
    /* The person's scheme: reviewed, on notice, guaranteed to the person. */
    create.programme = "hz-person-loan";
    reply = s_call(s_hz, "CreateApplication", &create.base);
    a = chuang__finance__application__unpack(NULL, reply->payload.len, reply->payload.data);
    int64_t id = a->id;
    chuang__finance__application__free_unpacked(a, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    Chuang__Finance__Loan *loan = s_loan(s_hz, s_guaranteed(hr, fin, id));
    assert_string_equal(loan->id_number, person);
    assert_string_equal(loan->credit_code, "");
    assert_true(loan->guaranteed_fen == 5000000);
    chuang__finance__loan__free_unpacked(loan, NULL);
    /* A second guarantee to the same person would pass the ¥100,000. */
    create.subject = "第二笔";
    create.amount_fen = 5000001;
    reply = s_call(s_hz, "CreateApplication", &create.base);
    a = chuang__finance__application__unpack(NULL, reply->payload.len, reply->payload.data);
    assert_becomes(s_application(s_hz, "SubmitApplication", a->id, "", &status), "");
    assert_int_equal(status, CHUANG__STATUS__INVALID_ARGUMENT);
    chuang__finance__application__free_unpacked(a, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    /* The ID number is in finance's tables, for the agency, and in no log. */
    char path[600];
    snprintf(path, sizeof path, "%s/finance.log", harness_dir());
    char *text = NULL;
    size_t size = 0;
    FILE *log = fopen(path, "r");
    assert_non_null(log);
    ssize_t got = getdelim(&text, &size, '\0', log);
    fclose(log);
    assert_true(got > 0);
    assert_null(strstr(text, person));
    free(text);
    client_destroy(&hr);
    client_destroy(&fin);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_fund_takes_appropriations_and_the_books_balance),
        cmocka_unit_test(test_an_entry_is_reversed_once),
        cmocka_unit_test(test_who_may_keep_and_read_the_books),
        cmocka_unit_test(test_bad_input_is_refused_and_changes_nothing),
        cmocka_unit_test(test_the_database_refuses_what_c_would_never_send),
        cmocka_unit_test(test_concurrent_commitments_never_over_commit),
        cmocka_unit_test(test_concurrent_payments_of_one_fund_never_deadlock),
        cmocka_unit_test(test_a_programme_is_decided_by_the_version_of_the_day),
        cmocka_unit_test(test_programmes_about_to_lapse_are_listed),
        cmocka_unit_test(test_bad_programmes_are_refused_field_by_field),
        cmocka_unit_test(test_facts_from_the_registry_decide_eligibility),
        cmocka_unit_test(test_an_application_is_pinned_to_the_version_of_its_day),
        cmocka_unit_test(test_a_subsidy_from_application_to_payment),
        cmocka_unit_test(test_steps_past_their_deadline_are_listed),
        cmocka_unit_test(test_a_guarantee_loan_from_application_to_compensation),
        cmocka_unit_test(test_a_person_borrows_under_a_guarantee),
        cmocka_unit_test(test_interest_subsidies_for_a_year_of_repayments),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
