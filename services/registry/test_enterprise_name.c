/*
 * test_enterprise_name.c - the enterprise-name rules: normalisation, each rule
 * on its own, several broken at once, and hostile UTF-8.
 *
 * Most tests are tables; a failing row names itself in the message.
 */
#include "enterprise_name.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* 20, 10 and 16 characters: with 有限公司, exactly the 50 allowed. */
#define REGION_20   "新疆维吾尔自治区博尔塔拉蒙古自治州博乐市"
#define TRADE_10    "云栖云栖云栖云栖云栖"
#define INDUSTRY_16 "网络科技网络科技网络科技网络科技"

typedef struct {
    const char *label;
    const char *region, *trade_name, *industry, *form;
    const char *want_region, *want_trade_name, *want_industry, *want_form, *want_full;
} valid_case_t;

static const valid_case_t s_valid[] = {
    {"plain", "杭州", "云栖", "网络科技", "有限公司", "杭州", "云栖", "网络科技", "有限公司",
     "杭州云栖网络科技有限公司"},
    {"blanks and U+3000 stripped", " 杭州市\t西湖区 ", "云\u3000栖", "网络 科技\r\n",
     "\u3000有限 公司", "杭州市西湖区", "云栖", "网络科技", "有限公司",
     "杭州市西湖区云栖网络科技有限公司"},
    {"full-width brackets in the form", "杭州", "云栖", "投资管理", "（普通合伙）", "杭州", "云栖",
     "投资管理", "(普通合伙)", "杭州云栖投资管理(普通合伙)"},
    {"full-width brackets mixed with ASCII", "杭州", "云栖", "投资管理", "(有限合伙）", "杭州",
     "云栖", "投资管理", "(有限合伙)", "杭州云栖投资管理(有限合伙)"},
    {"longest form", "余杭", "良渚", "茶叶种植", "农民专业合作社", "余杭", "良渚", "茶叶种植",
     "农民专业合作社", "余杭良渚茶叶种植农民专业合作社"},
    {"one-character form", "杭州", "知味", "小吃", "店", "杭州", "知味", "小吃", "店",
     "杭州知味小吃店"},
    {"Extension A character", "杭州", "㐀栖", "网络科技", "有限公司", "杭州", "㐀栖", "网络科技",
     "有限公司", "杭州㐀栖网络科技有限公司"},
    {"shortest parts", "杭州", "云栖", "科技", "厂", "杭州", "云栖", "科技", "厂",
     "杭州云栖科技厂"},
    {"longest parts, 50 in all", REGION_20, TRADE_10, INDUSTRY_16, "有限公司", REGION_20, TRADE_10,
     INDUSTRY_16, "有限公司", REGION_20 TRADE_10 INDUSTRY_16 "有限公司"},
    /* 国 and 中 alone are ordinary characters; only the words are restricted. */
    {"single characters of restricted words", "杭州", "中泰", "国学教育", "中心", "杭州", "中泰",
     "国学教育", "中心", "杭州中泰国学教育中心"},
};

static void test_valid_names(void **state)
{
    (void)state;
    /* The boundary cases below are only as good as these lengths. */
    assert_int_equal(enterprise_name_utf8_length(REGION_20), 20);
    assert_int_equal(enterprise_name_utf8_length(TRADE_10), 10);
    assert_int_equal(enterprise_name_utf8_length(INDUSTRY_16), 16);
    for (size_t i = 0; i < COUNT(s_valid); i++) {
        const valid_case_t *c = &s_valid[i];
        enterprise_name_t name;
        enterprise_name_violation_t violations[ENTERPRISE_NAME_MAX_VIOLATIONS];
        int n = enterprise_name_parse(c->region, c->trade_name, c->industry, c->form, NULL, &name,
                                      violations, ENTERPRISE_NAME_MAX_VIOLATIONS);
        if (n != 0)
            fail_msg("%s: %d violations, first %s %s", c->label, n,
                     n > 0 ? violations[0].field : "", n > 0 ? violations[0].description : "");
        if (strcmp(name.region, c->want_region) || strcmp(name.trade_name, c->want_trade_name) ||
            strcmp(name.industry, c->want_industry) || strcmp(name.form, c->want_form) ||
            strcmp(name.full, c->want_full))
            fail_msg("%s: got [%s][%s][%s][%s] full [%s]", c->label, name.region, name.trade_name,
                     name.industry, name.form, name.full);
        /* The name alone may be NULL: the verdict is the same. */
        if (enterprise_name_parse(c->region, c->trade_name, c->industry, c->form, NULL, NULL,
                                  violations, ENTERPRISE_NAME_MAX_VIOLATIONS) != 0)
            fail_msg("%s: invalid without a name to fill", c->label);
    }
}

typedef struct {
    const char *label;
    const char *region, *trade_name, *industry, *form;
    const char *const *extra;
    const char *want_field;
    const char *want_description; /* the whole description */
} invalid_case_t;

static const char *const s_agency_words[] = {"云栖", NULL};
static const char *const s_agency_words_spaced[] = {"阿 里", "", "\xff", "阿\xff", NULL};
/* 27 characters: longer than any part, so never found, even by its start. */
static const char *const s_agency_words_long[] = {INDUSTRY_16 "网络科技网络科技网络科", NULL};

/* Each row breaks exactly one rule. */
static const invalid_case_t s_invalid[] = {
    {"1-character trade name", "杭州", "云", "网络科技", "有限公司", NULL, "trade_name",
     "must be 2 to 10 Chinese characters (has 1)"},
    {"11-character trade name", "杭州", TRADE_10 "云", "网络科技", "有限公司", NULL, "trade_name",
     "must be 2 to 10 Chinese characters (has 11)"},
    {"1-character region", "杭", "云栖", "网络科技", "有限公司", NULL, "region",
     "must be 2 to 20 Chinese characters (has 1)"},
    {"21-character region", REGION_20 "村", "云栖", "科技", "厂", NULL, "region",
     "must be 2 to 20 Chinese characters (has 21)"},
    {"21-character industry", "杭州", "云栖", INDUSTRY_16 "网络科技科", "厂", NULL, "industry",
     "must be 2 to 20 Chinese characters (has 21)"},
    {"digit in trade name", "杭州", "云栖2", "网络科技", "有限公司", NULL, "trade_name",
     "may contain only Chinese characters, not \"2\""},
    {"Latin letters in trade name", "杭州", "ABC科技", "网络科技", "有限公司", NULL, "trade_name",
     "may contain only Chinese characters, not \"A\""},
    {"full-width digit becomes ASCII", "杭州", "云栖２", "网络科技", "有限公司", NULL, "trade_name",
     "may contain only Chinese characters, not \"2\""},
    {"CJK punctuation in trade name", "杭州", "云、栖", "网络科技", "有限公司", NULL, "trade_name",
     "may contain only Chinese characters, not \"、\""},
    {"full-width bracket outside the form", "杭州", "云栖（杭州）", "网络科技", "有限公司", NULL,
     "trade_name", "may contain only Chinese characters, not \"(\""},
    {"ASCII punctuation in industry", "杭州", "云栖", "网络-科技", "有限公司", NULL, "industry",
     "may contain only Chinese characters, not \"-\""},
    {"invisible character shown by number", "杭州", "云\u200b栖", "网络科技", "有限公司", NULL,
     "trade_name", "may contain only Chinese characters, not U+200B"},
    {"control character shown by number", "杭\x01州", "云栖", "网络科技", "有限公司", NULL,
     "region", "may contain only Chinese characters, not U+0001"},
    {"non-breaking space is not stripped", "杭州", "云\u00a0栖", "网络科技", "有限公司", NULL,
     "trade_name", "may contain only Chinese characters, not U+00A0"},
    {"中国 in trade name", "杭州", "中国云栖", "网络科技", "有限公司", NULL, "trade_name",
     "contains a word that needs State approval: 中国"},
    {"two restricted words", "杭州", "中华国际", "网络科技", "有限公司", NULL, "trade_name",
     "contains a word that needs State approval: 中华, 国际"},
    {"restricted word split by a space", "杭州", "世 界", "网络科技", "有限公司", NULL,
     "trade_name", "contains a word that needs State approval: 世界"},
    {"restricted word in industry", "杭州", "云栖", "国际贸易", "有限公司", NULL, "industry",
     "contains a word that needs State approval: 国际"},
    {"caller's word", "杭州", "云栖", "网络科技", "有限公司", s_agency_words, "trade_name",
     "contains a word that is not allowed: 云栖"},
    {"caller's word normalised, bad ones skipped", "杭州", "阿里", "网络科技", "有限公司",
     s_agency_words_spaced, "trade_name", "contains a word that is not allowed: 阿里"},
    {"caller's word longer than any part", "杭州", "云栖", INDUSTRY_16 "网络科技网络科技网络科",
     "厂", s_agency_words_long, "industry", "must be 2 to 20 Chinese characters (has 27)"},
    {"unknown form", "杭州", "云栖", "网络科技", "集团公司xx", NULL, "organisational_form",
     "is not a form the registry takes, such as 有限公司 or 有限责任公司"},
    {"partnership without brackets", "杭州", "云栖", "投资管理", "普通合伙", NULL,
     "organisational_form", "is not a form the registry takes, such as 有限公司 or 有限责任公司"},
    {"form too long for its field", "杭州", "云栖", "网络科技", "有限公司有限公司有限公司", NULL,
     "organisational_form", "is not a form the registry takes, such as 有限公司 or 有限责任公司"},
    {"empty region", "", "云栖", "网络科技", "有限公司", NULL, "region", "is missing"},
    {"blank region", " \u3000 ", "云栖", "网络科技", "有限公司", NULL, "region", "is missing"},
    {"NULL trade name", "杭州", NULL, "网络科技", "有限公司", NULL, "trade_name", "is missing"},
    {"empty industry", "杭州", "云栖", "", "有限公司", NULL, "industry", "is missing"},
    {"empty form", "杭州", "云栖", "网络科技", "", NULL, "organisational_form", "is missing"},
    {"byte 0xff", "杭州", "云栖\xff", "网络科技", "有限公司", NULL, "trade_name",
     "is not valid UTF-8 text; retype it"},
    {"truncated sequence", "杭州", "云栖\xe4\xb8", "网络科技", "有限公司", NULL, "trade_name",
     "is not valid UTF-8 text; retype it"},
    {"overlong slash", "杭州", "云栖\xc0\xaf", "网络科技", "有限公司", NULL, "trade_name",
     "is not valid UTF-8 text; retype it"},
    {"overlong NUL", "杭州", "云栖\xc0\x80", "网络科技", "有限公司", NULL, "trade_name",
     "is not valid UTF-8 text; retype it"},
    {"3-byte overlong", "杭州\xe0\x80\xaf", "云栖", "网络科技", "有限公司", NULL, "region",
     "is not valid UTF-8 text; retype it"},
    {"surrogate", "杭州", "云栖", "网络\xed\xa0\x80", "有限公司", NULL, "industry",
     "is not valid UTF-8 text; retype it"},
    {"above U+10FFFF", "杭州", "云栖", "网络科技", "有限\xf4\x90\x80\x80", NULL,
     "organisational_form", "is not valid UTF-8 text; retype it"},
    {"lone continuation byte", "杭州", "\x80云栖", "网络科技", "有限公司", NULL, "trade_name",
     "is not valid UTF-8 text; retype it"},
    {"full name of 51", REGION_20, TRADE_10, INDUSTRY_16 "网", "有限公司", NULL, "full_name",
     "must be at most 50 characters in all (has 51)"},
    {"full name of 54", REGION_20, TRADE_10, INDUSTRY_16 "网络科技", "有限公司", NULL, "full_name",
     "must be at most 50 characters in all (has 54)"},
};

static void test_each_rule_alone(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(s_invalid); i++) {
        const invalid_case_t *c = &s_invalid[i];
        enterprise_name_t name;
        memset(&name, 'x', sizeof name);
        enterprise_name_violation_t violations[ENTERPRISE_NAME_MAX_VIOLATIONS];
        int n = enterprise_name_parse(c->region, c->trade_name, c->industry, c->form, c->extra,
                                      &name, violations, ENTERPRISE_NAME_MAX_VIOLATIONS);
        if (n != 1)
            fail_msg("%s: %d violations, first %s %s", c->label, n,
                     n > 0 ? violations[0].field : "", n > 0 ? violations[0].description : "");
        if (strcmp(violations[0].field, c->want_field) ||
            strcmp(violations[0].description, c->want_description))
            fail_msg("%s: got %s \"%s\"", c->label, violations[0].field, violations[0].description);
        /* No half-checked name escapes. */
        if (name.region[0] || name.trade_name[0] || name.industry[0] || name.form[0] ||
            name.full[0])
            fail_msg("%s: name not cleared", c->label);
    }
}

static void test_several_at_once(void **state)
{
    (void)state;
    static const char *const extra[] = {"贸易", NULL};
    enterprise_name_violation_t violations[ENTERPRISE_NAME_MAX_VIOLATIONS];
    int n = enterprise_name_parse("杭", "云栖2", "国际贸易", "集团", extra, NULL, violations,
                                  ENTERPRISE_NAME_MAX_VIOLATIONS);
    static const struct {
        const char *field;
        const char *description;
    } want[] = {
        {"region", "must be 2 to 20 Chinese characters (has 1)"},
        {"trade_name", "may contain only Chinese characters, not \"2\""},
        {"industry", "contains a word that needs State approval: 国际"},
        {"industry", "contains a word that is not allowed: 贸易"},
        {"organisational_form",
         "is not a form the registry takes, such as 有限公司 or 有限责任公司"},
    };
    assert_int_equal(n, COUNT(want));
    for (size_t i = 0; i < COUNT(want); i++) {
        assert_string_equal(violations[i].field, want[i].field);
        assert_string_equal(violations[i].description, want[i].description);
    }
}

/* Every rule that can break at once does: exactly ENTERPRISE_NAME_MAX_VIOLATIONS. */
static void test_worst_name_fills_the_maximum(void **state)
{
    (void)state;
    static const char *const extra[] = {"坏", NULL};
    enterprise_name_violation_t violations[ENTERPRISE_NAME_MAX_VIOLATIONS + 1];
    memset(violations, 0, sizeof violations);
    int n =
        enterprise_name_parse("A", "中国坏ABCDEFGHIJ", "国际坏abcdefghijklmnopqrstuvwxyz0123456789",
                              "xx", extra, NULL, violations, ENTERPRISE_NAME_MAX_VIOLATIONS + 1);
    assert_int_equal(n, ENTERPRISE_NAME_MAX_VIOLATIONS);
    static const char *const fields[] = {
        "region",   "region",   "trade_name", "trade_name", "trade_name",          "trade_name",
        "industry", "industry", "industry",   "industry",   "organisational_form", "full_name",
    };
    assert_int_equal(COUNT(fields), ENTERPRISE_NAME_MAX_VIOLATIONS);
    for (int i = 0; i < n; i++)
        assert_string_equal(violations[i].field, fields[i]);
}

static void test_violations_capped(void **state)
{
    (void)state;
    enterprise_name_violation_t violations[4];
    memset(violations, 0, sizeof violations);
    violations[2].field = "untouched";
    /* Four violations found, room for two: two written, the rest untouched. */
    assert_int_equal(enterprise_name_parse("杭", "云", "网", "集团", NULL, NULL, violations, 2), 2);
    assert_string_equal(violations[0].field, "region");
    assert_string_equal(violations[1].field, "trade_name");
    assert_string_equal(violations[2].field, "untouched");
    /* Nowhere to say why: refused rather than called valid. */
    assert_int_equal(
        enterprise_name_parse("杭州", "云栖", "网络科技", "有限公司", NULL, NULL, violations, 0),
        -1);
    assert_int_equal(
        enterprise_name_parse("杭州", "云栖", "网络科技", "有限公司", NULL, NULL, NULL, 4), -1);
}

static void test_long_word_list_stays_whole(void **state)
{
    (void)state;
    /* Every prefix of the trade name is forbidden: 165 bytes of words do not
     * fit a description, which must end cleanly instead of mid-character. */
    static const char *const extra[] = {
        "云栖甲乙丙丁戊己庚辛",
        "云栖甲乙丙丁戊己庚",
        "云栖甲乙丙丁戊己",
        "云栖甲乙丙丁戊",
        "云栖甲乙丙丁",
        "云栖甲乙丙",
        "云栖甲乙",
        "云栖甲",
        "云栖",
        "云",
        NULL,
    };
    enterprise_name_violation_t violations[ENTERPRISE_NAME_MAX_VIOLATIONS];
    int n = enterprise_name_parse("杭州", "云栖甲乙丙丁戊己庚辛", "网络科技", "有限公司", extra,
                                  NULL, violations, ENTERPRISE_NAME_MAX_VIOLATIONS);
    assert_int_equal(n, 1);
    const char *description = violations[0].description;
    assert_true(strlen(description) < sizeof violations[0].description);
    assert_int_equal(enterprise_name_utf8_length(description) > 0, 1);
    const char *end = " and others";
    size_t length = strlen(description);
    assert_true(length > strlen(end));
    assert_string_equal(description + length - strlen(end), end);
    assert_string_equal(description,
                        "contains a word that is not allowed: 云栖甲乙丙丁戊己庚辛, "
                        "云栖甲乙丙丁戊己庚, 云栖甲乙丙丁戊己, 云栖甲乙丙丁戊 and others");
}

static void test_forms(void **state)
{
    (void)state;
    static const struct {
        const char *form;
        bool allowed;
    } cases[] = {
        {"有限公司", true},
        {"有限责任公司", true},
        {"股份有限公司", true},
        {"合伙企业", true},
        {"(普通合伙)", true},
        {"(有限合伙)", true},
        {"（有限合伙）", true},
        {" 有限 公司 ", true},
        {"个人独资企业", true},
        {"专业合作社", true},
        {"农民专业合作社", true},
        {"店", true},
        {"馆", true},
        {"部", true},
        {"厂", true},
        {"中心", true},
        {"工作室", true},
        {"集团公司xx", false},
        {"有限合伙", false},
        {"有限公司有限公司", false},
        {"公司", false},
        {"", false},
        {"\xff", false},
        {NULL, false},
    };
    for (size_t i = 0; i < COUNT(cases); i++)
        if (enterprise_name_form_allowed(cases[i].form) != cases[i].allowed)
            fail_msg("form \"%s\": expected %s", cases[i].form ? cases[i].form : "(null)",
                     cases[i].allowed ? "allowed" : "refused");
}

static void test_utf8_length(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int length;
    } cases[] = {
        {"", 0},
        {"abc", 3},
        {"杭州", 2},
        {"杭 州", 3},
        {"é", 1},
        {"\xf0\x9f\x98\x80", 1}, /* U+1F600, 4 bytes */
        {"\xf4\x8f\xbf\xbf", 1}, /* U+10FFFF, the last */
        {"\xef\xbf\xbf", 1},     /* U+FFFF */
        {"\xff", -1},
        {"\xfe", -1},
        {"\xe4\xb8", -1},
        {"杭\xe4\xb8", -1},
        {"\xf0\x9f\x98", -1},
        {"\x80", -1},
        {"\xc0\xaf", -1},
        {"\xc1\xbf", -1},
        {"\xc0\x80", -1},
        {"\xe0\x80\xaf", -1},
        {"\xf0\x80\x80\xaf", -1},
        {"\xed\xa0\x80", -1},
        {"\xed\xbf\xbf", -1},
        {"\xf4\x90\x80\x80", -1},
        {"\xf5\x80\x80\x80", -1},
        {NULL, -1},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        int length = enterprise_name_utf8_length(cases[i].text);
        if (length != cases[i].length)
            fail_msg("case %zu: length %d, expected %d", i, length, cases[i].length);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_names),
        cmocka_unit_test(test_each_rule_alone),
        cmocka_unit_test(test_several_at_once),
        cmocka_unit_test(test_worst_name_fills_the_maximum),
        cmocka_unit_test(test_violations_capped),
        cmocka_unit_test(test_long_word_list_stays_whole),
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_utf8_length),
    };
    return cmocka_run_group_tests_name("enterprise_name", tests, NULL, NULL);
}
