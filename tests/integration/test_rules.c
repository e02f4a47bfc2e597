/*
 * test_rules.c - dated rules (common/rules.h) against the harness's
 * PostgreSQL: which row is in force on a day (the agency's own over the
 * default, the latest started, never a lapsed one nor one not started), the
 * rules an officer is warned of before they lapse, and the periods the
 * table refuses.
 */
#include "db.h"
#include "harness.h"
#include "rules.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define AGENCY  "330106"
#define OTHER   "441900"
#define LAPSING "330108"

static PGconn *s_db;

static int s_setup(void **state)
{
    (void)state;
    if (harness_init("rules") != 0)
        return -1;
    const char *url = harness_service_db("rulestest", "rules");
    s_db = url ? db_connect(url, "rules", 5) : NULL;
    const char *dirs[] = {CHUANG_SOURCE_DIR "/common/sql", NULL};
    return s_db && db_migrate(s_db, "rules", dirs) >= 0 ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void)state;
    PQfinish(s_db);
    return 0;
}

static void s_sql(const char *sql)
{
    PGresult *res = PQexec(s_db, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(s_db));
    PQclear(res);
}

/* The value of name for agency on day, or -1 when none is in force. */
static int64_t s_value(const char *agency, const char *name, const char *day)
{
    int64_t value = 0;
    int found = rules_get(s_db, agency, name, day, &value);
    assert_true(found >= 0);
    return found ? value : -1;
}

static void test_the_row_in_force_on_a_day(void **state)
{
    (void)state;
    s_sql("INSERT INTO chuang_rules (agency, name, effective_from, effective_to, value) VALUES"
          " ('', 'notice_days', '2015-01-01', NULL, 7),"
          " ('', 'notice_days', '2020-01-01', NULL, 10),"
          " ('" AGENCY "', 'notice_days', '2016-01-01', '2018-12-31', 20),"
          " ('" AGENCY "', 'notice_days', '2019-01-01', NULL, 30)");
    /* The default: the latest row started on or before the day. */
    assert_int_equal(s_value(OTHER, "notice_days", "2014-12-31"), -1);
    assert_int_equal(s_value(OTHER, "notice_days", "2015-01-01"), 7);
    assert_int_equal(s_value(OTHER, "notice_days", "2019-12-31"), 7);
    assert_int_equal(s_value(OTHER, "notice_days", "2020-01-01"), 10);
    /* The agency's own row wins from its start; its last day is in force. */
    assert_int_equal(s_value(AGENCY, "notice_days", "2015-06-01"), 7);
    assert_int_equal(s_value(AGENCY, "notice_days", "2016-01-01"), 20);
    assert_int_equal(s_value(AGENCY, "notice_days", "2018-12-31"), 20);
    assert_int_equal(s_value(AGENCY, "notice_days", "2019-01-01"), 30);
    assert_int_equal(s_value(AGENCY, "notice_days", "2025-01-01"), 30);
    /* NULL is the agency's today; SQL gives the same. */
    assert_int_equal(s_value(AGENCY, "notice_days", NULL), 30);
    PGresult *res = PQexec(s_db, "SELECT chuang_rule('" AGENCY "', 'notice_days', '2017-03-01')");
    assert_string_equal(PQgetvalue(res, 0, 0), "20");
    PQclear(res);
    assert_int_equal(s_value(AGENCY, "unknown_rule", NULL), -1);
}

static void test_a_lapsed_rule_has_no_value(void **state)
{
    (void)state;
    /* A trial programme's rate, two years: after it, nothing, not the
     * default nor an older row. */
    s_sql("INSERT INTO chuang_rules (agency, name, effective_from, effective_to, value, trial,"
          " document) VALUES"
          " ('', 'rate_bp', '2010-01-01', NULL, 100, false, ''),"
          " ('" AGENCY "', 'rate_bp', '2015-08-01', '2017-07-31', 300, true, '大府〔2015〕9号')");
    assert_int_equal(s_value(AGENCY, "rate_bp", "2017-07-31"), 300);
    assert_int_equal(s_value(AGENCY, "rate_bp", "2017-08-01"), -1);
    assert_int_equal(s_value(AGENCY, "rate_bp", "2015-07-31"), 100);
    assert_int_equal(s_value(OTHER, "rate_bp", "2017-08-01"), 100);
}

static void test_rules_about_to_lapse_are_listed(void **state)
{
    (void)state;
    /* An agency of its own: the other tests' rows are not in its list. */
    s_sql("INSERT INTO chuang_rules (agency, name, effective_from, effective_to, value, trial,"
          " document) VALUES"
          " ('" LAPSING "', 'soon_days', DATE '2000-01-01', chuang_today('" LAPSING "') + 10, 5,"
          "  true, 'doc-1'),"
          " ('" LAPSING "', 'later_days', DATE '2000-01-01', chuang_today('" LAPSING "') + 90, 6,"
          "  false, ''),"
          " ('" LAPSING "', 'gone_days', DATE '2000-01-01', chuang_today('" LAPSING "') - 1, 7,"
          "  false, ''),"
          " ('', 'default_days', DATE '2000-01-01', chuang_today('" LAPSING "') + 3, 8, false, ''),"
          " ('" LAPSING "', 'replaced_days', DATE '2000-01-01', chuang_today('" LAPSING "') + 2, 9,"
          "  false, ''),"
          " ('" LAPSING "', 'replaced_days', chuang_today('" LAPSING "') - 5, NULL, 9, false, '')");
    PGresult *res = rules_lapsing(s_db, LAPSING, 30);
    assert_non_null(res);
    /* Soonest first: the lapsed one (no value now), the default this agency
     * inherits, then its own; not the one replaced, nor one 90 days out. */
    assert_int_equal(PQntuples(res), 3);
    assert_string_equal(PQgetvalue(res, 0, 0), "gone_days");
    assert_string_equal(PQgetvalue(res, 0, 3), "-1");
    assert_string_equal(PQgetvalue(res, 1, 0), "default_days");
    assert_string_equal(PQgetvalue(res, 1, 3), "3");
    assert_string_equal(PQgetvalue(res, 2, 0), "soon_days");
    assert_string_equal(PQgetvalue(res, 2, 3), "10");
    assert_string_equal(PQgetvalue(res, 2, 4), "t");
    assert_string_equal(PQgetvalue(res, 2, 5), "doc-1");
    PQclear(res);
    res = rules_lapsing(s_db, OTHER, 30);
    assert_int_equal(PQntuples(res), 1);
    assert_string_equal(PQgetvalue(res, 0, 0), "default_days");
    PQclear(res);
}

static void test_a_period_that_ends_before_it_starts_is_refused(void **state)
{
    (void)state;
    PGresult *res = PQexec(s_db, "INSERT INTO chuang_rules (name, effective_from, effective_to,"
                                 " value) VALUES ('bad', '2020-01-02', '2020-01-01', 1)");
    assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
    assert_string_equal(PQresultErrorField(res, PG_DIAG_SQLSTATE), "23514");
    PQclear(res);
    assert_int_equal(s_value(AGENCY, "bad", "2020-01-01"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_row_in_force_on_a_day),
        cmocka_unit_test(test_a_lapsed_rule_has_no_value),
        cmocka_unit_test(test_rules_about_to_lapse_are_listed),
        cmocka_unit_test(test_a_period_that_ends_before_it_starts_is_refused),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
