/*
 * test_config.c - settings files and their environment overrides, and the
 * log line format operators parse.
 */
#include "config.h"
#include "logger.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char s_path[64];

static void s_write(const char *text)
{
    snprintf(s_path, sizeof s_path, "/tmp/chuang-test-config-%d.conf", (int)getpid());
    FILE *file = fopen(s_path, "w");
    assert_non_null(file);
    fputs(text, file);
    fclose(file);
}

static void test_file_values_and_defaults(void **state)
{
    (void)state;
    s_write("# a comment\n"
            "\n"
            "db.url = postgresql://svc@127.0.0.1/chuang \n"
            "  worker.threads=4\n"
            "security.plain = no\n"
            "name = 创业 服务\n");
    config_t *config = config_new(s_path);
    assert_non_null(config);
    assert_string_equal(config_str(config, "db.url", NULL), "postgresql://svc@127.0.0.1/chuang");
    assert_int_equal(config_int(config, "worker.threads", 2), 4);
    assert_false(config_bool(config, "security.plain", true));
    assert_string_equal(config_str(config, "name", NULL), "创业 服务");
    assert_null(config_str(config, "absent", NULL));
    assert_int_equal(config_int(config, "absent", 7), 7);
    config_destroy(&config);
    config_destroy(&config);
    unlink(s_path);
}

static void test_environment_wins(void **state)
{
    (void)state;
    s_write("db.url = from-file\nworker.threads = 4\n");
    setenv("CHUANG_DB_URL", "from-env", 1);
    setenv("CHUANG_WORKER_THREADS", "many", 1);
    config_t *config = config_new(s_path);
    assert_string_equal(config_str(config, "db.url", NULL), "from-env");
    /* Not a number: the default, not garbage. */
    assert_int_equal(config_int(config, "worker.threads", 2), 2);
    unsetenv("CHUANG_DB_URL");
    unsetenv("CHUANG_WORKER_THREADS");
    assert_string_equal(config_str(config, "db.url", NULL), "from-file");
    config_destroy(&config);
    unlink(s_path);
}

static void test_bad_files_are_refused(void **state)
{
    (void)state;
    s_write("db.url = ok\nthis line has no equals sign\n");
    assert_null(config_new(s_path));
    unlink(s_path);
    assert_null(config_new("/nonexistent/chuang.conf"));
}

static void test_bool_words(void **state)
{
    (void)state;
    config_t *config = config_new(NULL);
    const char *yes[] = {"1", "true", "YES", "on"};
    const char *no[] = {"0", "false", "No", "off"};
    for (int i = 0; i < 4; i++) {
        config_set(config, "flag", yes[i]);
        assert_true(config_bool(config, "flag", false));
        config_set(config, "flag", no[i]);
        assert_false(config_bool(config, "flag", true));
    }
    config_set(config, "flag", "perhaps");
    assert_true(config_bool(config, "flag", true));
    config_destroy(&config);
}

static void test_log_lines_hold_no_personal_data(void **state)
{
    (void)state;
    char line[] = "msg=\"x\" recipient=330106199003071236 phone=13812345678"
                  " request_id=F22DCE18615644889DA0803A93ADD33F credit=91330106MA27XL0E2Y"
                  " count=330106199003";
    logger_scrub(line, strlen(line));
    assert_string_equal(line, "msg=\"x\" recipient=330106********1236 phone=138****5678"
                              " request_id=F22DCE18615644889DA0803A93ADD33F"
                              " credit=91330106MA27XL0E2Y count=330106199003");
}

static void test_log_values_are_quoted(void **state)
{
    (void)state;
    char buf[64];
    assert_string_equal(logger_quote(buf, sizeof buf, "plain"), "\"plain\"");
    assert_string_equal(logger_quote(buf, sizeof buf, "say \"hi\"\\"), "\"say \\\"hi\\\"\\\\\"");
    assert_string_equal(logger_quote(buf, sizeof buf, "two\nlines"), "\"two\\x0alines\"");
    /* Truncated, still one quoted value. */
    char tiny[8];
    logger_quote(tiny, sizeof tiny, "a very long value");
    assert_int_equal(tiny[0], '"');
    assert_int_equal(tiny[strlen(tiny) - 1], '"');
    logger_level_t level;
    assert_int_equal(logger_level_parse("warn", &level), 0);
    assert_int_equal(level, LOGGER_WARN);
    assert_int_equal(logger_level_parse("loud", &level), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_values_and_defaults),
        cmocka_unit_test(test_environment_wins),
        cmocka_unit_test(test_bad_files_are_refused),
        cmocka_unit_test(test_bool_words),
        cmocka_unit_test(test_log_values_are_quoted),
        cmocka_unit_test(test_log_lines_hold_no_personal_data),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
