/*
 * test_identifiers.c - credit codes, organisation codes, resident identity
 * card numbers and division codes against published examples.
 *
 * Every expected check character below was computed outside this code, with
 * a separate Python implementation of GB 11714, GB 32100 and GB 11643, never
 * with the functions under test. The published examples were checked the
 * same way; those that do not validate are kept, with the part that is wrong.
 */
#include "identifiers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define TODAY 20260301

/* Fails, showing both, unless reason contains part. */
static void s_assert_mentions(const char *text, const char *reason, const char *part)
{
    if (!strstr(reason, part))
        fail_msg("%s: reason \"%s\" does not mention \"%s\"", text ? text : "(null)", reason, part);
}

/* Published unified social credit codes that validate. */
static void test_uscc_published_valid(void **state)
{
    (void)state;
    const char *codes[] = {
        "91350100M000100Y43", /* the example of GB 32100-2015 itself */
        "91110000802100433B", /* 北京百度网讯科技有限公司 */
        "91440300708461136T", /* 深圳市腾讯计算机系统有限公司 */
        "914403001922038216", /* 华为技术有限公司 */
        "91110108551385082Q", /* 小米科技有限责任公司 */
        "91330100799655058B", /* 阿里巴巴（中国）有限公司 */
        "12100000400000624D", /* 清华大学: national division 100000 */
        "1210000042500615X0", /* 复旦大学: organisation check character X */
        "53100000500019795A", /* 中国社会福利基金会: civil affairs, foundation */
        "12440600MB2C07549J", /* a public institution in Foshan */
        "92141127MA0KD1Y64A", /* an individual business, listed at cods.org.cn */
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        char reason[128] = "";
        if (identifiers_uscc_check(codes[i], reason, sizeof reason) != 0)
            fail_msg("%s refused: %s", codes[i], reason);
    }
}

/* Published codes that do not validate, and why. */
static void test_uscc_published_invalid(void **state)
{
    (void)state;
    char reason[128];
    /* Real codes issued in Xiamen before 2016: organisation code right,
     * check character not what GB 32100 gives (F, D, F). Refused, as the
     * header says; a registry needs a manual override for them. */
    const char *xiamen[] = {"91350203M0001QKT19", "91350200M000000510", "91350128M00000019A"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(identifiers_uscc_check(xiamen[i], reason, sizeof reason), -1);
        assert_string_equal(reason, "check character is wrong");
    }
    /* A "suppose a company's code is" example from a blog: its organisation
     * code MA1H8R7C6 should end in 4, and the code in 7, not D. */
    assert_int_equal(identifiers_uscc_check("91310115MA1H8R7C6D", reason, sizeof reason), -1);
    assert_string_equal(reason, "organisation code check character is wrong");
}

static void test_uscc_invalid_cases(void **state)
{
    (void)state;
    const struct {
        const char *code;
        const char *reason;
    } cases[] = {
        {NULL, "must be 18 characters, not 0"},
        {"", "must be 18 characters, not 0"},
        {"91350100M000100Y4", "must be 18 characters, not 17"},
        {"91350100M000100Y433", "must be 18 characters, not more"},
        {"91350I00M000100Y43", "character 6 is not allowed (I, O, S, V and Z are never used)"},
        {"91350100M000100Y4O", "character 18 is not allowed"},
        {"91350100M000S00Y43", "character 13 is not allowed"},
        {"Z1350100M000100Y43", "character 1 is not allowed"},
        {"91350100m000100y43", "character 9 must be a capital letter"},
        {"91350100M000100Y4-", "character 18 is not a digit or capital letter"},
        {"91350100M000100Y4\xe5", "character 18 is not a digit or capital letter"},
        {"B1350100M000100Y43", "registration authority B does not exist"},
        {"01350100M000100Y43", "registration authority 0 does not exist"},
        {"97350100M000100Y43", "registration authority 9 does not issue type 7"},
        {"99350100M000100Y43", "registration authority 9 does not issue type 9"},
        {"Y2350100M000100Y43", "registration authority Y does not issue type 2"},
        {"14350100M000100Y43", "registration authority 1 does not issue type 4"},
        {"9A350100M000100Y43", "registration authority 9 does not issue type A"},
        {"913501A0M000100Y43", "division code is not six digits"},
        {"91350100M000100Y53", "organisation code check character is wrong"},
        {"91350100M000101Y43", "organisation code check character is wrong"},
        {"91350100M000100Y44", "check character is wrong"},
        {"91351000M000100Y43", "check character is wrong"}, /* transposed digits */
        {"92350100M000100Y43", "check character is wrong"}, /* another type */
        {"91110000802100433C", "check character is wrong"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char reason[128] = "";
        if (identifiers_uscc_check(cases[i].code, reason, sizeof reason) != -1)
            fail_msg("%s accepted", cases[i].code);
        s_assert_mentions(cases[i].code, reason, cases[i].reason);
    }
    /* No reason wanted, or a tiny buffer: still -1, still terminated. */
    assert_int_equal(identifiers_uscc_check("91350100M000100Y44", NULL, 0), -1);
    char tiny[6];
    memset(tiny, 'z', sizeof tiny);
    assert_int_equal(identifiers_uscc_check("91350100M000100Y44", tiny, sizeof tiny), -1);
    assert_string_equal(tiny, "check");
}

/* Check characters computed independently in Python. */
static void test_check_chars(void **state)
{
    (void)state;
    const struct {
        const char *body;
        char check;
    } orgcodes[] = {
        {"D2143569", 'X'}, /* the GB 11714 textbook example D2143569-X */
        {"P3E2Z8IQ", '0'}, {"RKTTNJFB", '1'}, {"DSA7L360", '2'}, {"3WD25RQ4", '3'},
        {"N6Z43DVY", '4'}, {"F5ZR37E3", '5'}, {"Q24ZKLMV", '6'}, {"9Y7JZB6C", '7'},
        {"K9P34Y6N", '8'}, {"ECFPECXV", '9'}, {"47WQAL9V", 'X'}, {"M000100Y", '4'},
        {"80210043", '3'}, {"MA1H8R7C", '4'},
    };
    for (size_t i = 0; i < sizeof orgcodes / sizeof orgcodes[0]; i++)
        if (identifiers_orgcode_check_char(orgcodes[i].body) != orgcodes[i].check)
            fail_msg("%s: got %c, want %c", orgcodes[i].body,
                     identifiers_orgcode_check_char(orgcodes[i].body), orgcodes[i].check);
    assert_int_equal(identifiers_orgcode_check_char(NULL), 0);
    assert_int_equal(identifiers_orgcode_check_char("D214356"), 0);
    assert_int_equal(identifiers_orgcode_check_char("d2143569"), 0);
    assert_int_equal(identifiers_orgcode_check_char("D214-569"), 0);

    const struct {
        const char *first17;
        char check;
    } usccs[] = {
        {"91350100M000100Y4", '3'}, {"19742180KCYELPKL6", 'Y'}, {"296991026E80QKAT7", '0'},
        {"513646979G5XP2478", 'X'}, {"19690191P78ECG1Q3", '1'}, {"91350203M0001QKT1", 'F'},
        {"91310115MA1H8R7C6", '7'},
    };
    for (size_t i = 0; i < sizeof usccs / sizeof usccs[0]; i++)
        if (identifiers_uscc_check_char(usccs[i].first17) != usccs[i].check)
            fail_msg("%s: got %c, want %c", usccs[i].first17,
                     identifiers_uscc_check_char(usccs[i].first17), usccs[i].check);
    /* An 18th character is ignored. */
    assert_int_equal(identifiers_uscc_check_char("91350100M000100Y4Q"), '3');
    assert_int_equal(identifiers_uscc_check_char(NULL), 0);
    assert_int_equal(identifiers_uscc_check_char("91350100M000100Y"), 0);
    assert_int_equal(identifiers_uscc_check_char("91350100M000100I4"), 0);
    assert_int_equal(identifiers_uscc_check_char("91350100m000100Y4"), 0);
}

static void test_orgcode_check(void **state)
{
    (void)state;
    char reason[128];
    assert_int_equal(identifiers_orgcode_check("D2143569X", reason, sizeof reason), 0);
    assert_int_equal(identifiers_orgcode_check("802100433", reason, sizeof reason), 0);
    assert_int_equal(identifiers_orgcode_check("P3E2Z8IQ0", reason, sizeof reason), 0);
    const struct {
        const char *code;
        const char *reason;
    } cases[] = {
        {"D2143569-X", "leave out the dash"},
        {"D21435690X", "must be 9 characters, not more"},
        {"D2143569", "must be 9 characters, not 8"},
        {NULL, "must be 9 characters, not 0"},
        {"d2143569X", "character 1 must be a capital letter"},
        {"D21435.9X", "character 7 is not a digit or capital letter"},
        {"D2143569x", "last character must be a digit or capital X"},
        {"D2143569Y", "last character must be a digit or capital X"},
        {"D21435690", "check character is wrong"},
        {"D2143596X", "check character is wrong"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        reason[0] = '\0';
        if (identifiers_orgcode_check(cases[i].code, reason, sizeof reason) != -1)
            fail_msg("%s accepted", cases[i].code);
        s_assert_mentions(cases[i].code, reason, cases[i].reason);
    }
}

static void test_uscc_make(void **state)
{
    (void)state;
    /* Expected codes computed independently in Python. */
    const struct {
        char authority, type;
        const char *division, *body, *code;
    } cases[] = {
        {'9', '1', "350100", "M000100Y", "91350100M000100Y43"},
        {'9', '2', "110105", "L1234567", "92110105L12345674T"},
        {'9', '3', "440300", "MA5FKW8B", "93440300MA5FKW8B7W"},
        {'5', '3', "100000", "50001979", "53100000500019795A"},
        {'N', '2', "330106", "N1234567", "N2330106N12345679P"},
        {'Y', '1', "650100", "12345678", "Y16501001234567887"},
        {'A', '9', "110000", "00000000", "A9110000000000000L"},
        {'3', '4', "320102", "HJKLMNPQ", "34320102HJKLMNPQ3L"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[19];
        assert_int_equal(identifiers_uscc_make(cases[i].authority, cases[i].type, cases[i].division,
                                               cases[i].body, out),
                         0);
        assert_string_equal(out, cases[i].code);
    }

    char out[19] = "unchanged";
    assert_int_equal(identifiers_uscc_make('9', '9', "350100", "M000100Y", out), -1);
    assert_string_equal(out, "");
    assert_int_equal(identifiers_uscc_make('B', '1', "350100", "M000100Y", out), -1);
    assert_int_equal(identifiers_uscc_make('9', '1', "35010", "M000100Y", out), -1);
    assert_int_equal(identifiers_uscc_make('9', '1', "3501000", "M000100Y", out), -1);
    assert_int_equal(identifiers_uscc_make('9', '1', "35010A", "M000100Y", out), -1);
    assert_int_equal(identifiers_uscc_make('9', '1', NULL, "M000100Y", out), -1);
    assert_int_equal(identifiers_uscc_make('9', '1', "350100", "M000100", out), -1);
    assert_int_equal(identifiers_uscc_make('9', '1', "350100", "M000100Y4", out), -1);
    assert_int_equal(identifiers_uscc_make('9', '1', "350100", "M000100I", out), -1);
    assert_int_equal(identifiers_uscc_make('9', '1', "350100", "m000100Y", out), -1);
    assert_int_equal(identifiers_uscc_make('9', '1', "350100", NULL, out), -1);
    assert_string_equal(out, "");
}

/* The authority/type pairs of GB 32100 amendment No. 1, typed from the
 * standard: make() accepts exactly these, over every pair of characters. */
static void test_uscc_authority_table(void **state)
{
    (void)state;
    const char *pairs = " 11 12 13 19 21 29 31 32 33 34 35 39 41 49 51 52 53 59 61 62 69"
                        " 71 72 79 81 89 91 92 93 A1 A9 N1 N2 N3 N9 Y1 ";
    const char alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXYIOSVZa";
    for (const char *a = alphabet; *a; a++) {
        for (const char *t = alphabet; *t; t++) {
            char pair[5] = {' ', *a, *t, ' ', '\0'};
            char out[19];
            int expected = strstr(pairs, pair) ? 0 : -1;
            if (identifiers_uscc_make(*a, *t, "110000", "12345678", out) != expected)
                fail_msg("pair %c%c: want %d", *a, *t, expected);
        }
    }
}

/* A small generator with the same sequence on every platform. */
static uint32_t s_random(uint32_t *seed)
{
    *seed ^= *seed << 13;
    *seed ^= *seed >> 17;
    *seed ^= *seed << 5;
    return *seed;
}

/* make() then check() agree for many random codes, and every change of a
 * single character to another character of the alphabet is caught. */
static void test_uscc_round_trip(void **state)
{
    (void)state;
    const char *pairs[] = {"11", "12", "13", "19", "21", "29", "31", "32", "33", "34", "35", "39",
                           "41", "49", "51", "52", "53", "59", "61", "62", "69", "71", "72", "79",
                           "81", "89", "91", "92", "93", "A1", "A9", "N1", "N2", "N3", "N9", "Y1"};
    const char alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    uint32_t seed = 20260301;
    for (int n = 0; n < 20000; n++) {
        const char *pair = pairs[s_random(&seed) % (sizeof pairs / sizeof pairs[0])];
        char division[7], body[9];
        for (int i = 0; i < 6; i++)
            division[i] = (char)('0' + s_random(&seed) % 10);
        division[6] = '\0';
        for (int i = 0; i < 8; i++)
            body[i] = alphabet[s_random(&seed) % 31];
        body[8] = '\0';

        char code[19], reason[128] = "";
        assert_int_equal(identifiers_uscc_make(pair[0], pair[1], division, body, code), 0);
        assert_int_equal(strlen(code), 18);
        assert_memory_equal(code, pair, 2);
        assert_memory_equal(code + 2, division, 6);
        assert_memory_equal(code + 8, body, 8);
        if (identifiers_uscc_check(code, reason, sizeof reason) != 0)
            fail_msg("made %s, then refused it: %s", code, reason);

        int position = (int)(s_random(&seed) % 18);
        char other = alphabet[s_random(&seed) % 31];
        if (other == code[position])
            other = alphabet[(strchr(alphabet, other) - alphabet + 1) % 31];
        code[position] = other;
        if (identifiers_uscc_check(code, reason, sizeof reason) != -1)
            fail_msg("changed character %d and %s was still accepted", position + 1, code);
    }
}

static void test_resident_id_valid(void **state)
{
    (void)state;
    const struct {
        const char *id;
        int birth;
        int sex;
    } cases[] = {
        {"11010519491231002X", 19491231, 'F'}, /* the example of GB 11643-1999 */
        {"53010219200508011X", 19200508, 'M'}, /* widely published */
        {"110105200002290021", 20000229, 'F'}, /* 2000 was a leap year */
        {"11010519000101001X", 19000101, 'M'}, /* the first day allowed */
        {"110105202603010012", 20260301, 'M'}, /* born "today" */
        {"830000199001010012", 19900101, 'M'}, /* Taiwan residents' permit */
        {"810000198003150045", 19800315, 'F'}, /* Hong Kong residents' permit */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char reason[128] = "";
        if (identifiers_resident_id_check(cases[i].id, TODAY, reason, sizeof reason) != 0)
            fail_msg("%s refused: %s", cases[i].id, reason);
        int birth = 0;
        assert_int_equal(identifiers_resident_id_birth(cases[i].id, &birth), 0);
        assert_int_equal(birth, cases[i].birth);
        assert_int_equal(identifiers_resident_id_sex(cases[i].id), cases[i].sex);
    }
    /* 0 for today: the clock, which is past 1949 and before 2099. */
    assert_int_equal(identifiers_resident_id_check("11010519491231002X", 0, NULL, 0), 0);
    assert_int_equal(identifiers_resident_id_check("110105209901010020", 0, NULL, 0), -1);
}

static void test_resident_id_invalid(void **state)
{
    (void)state;
    const struct {
        const char *id;
        const char *reason;
    } cases[] = {
        {"110105194912310021", "check character is wrong"},
        {"11010519491231003X", "check character is wrong"},
        {"11010519491321002X", "birth date 19491321 is not a real date"},
        {"110105194902310026", "birth date 19490231 is not a real date"},
        {"110105190002290025", "birth date 19000229 is not a real date"},
        {"110105189912310015", "birth date 18991231 is before 1900"},
        /* The other example of GB 11643-1999: its check character is right
         * (8), but 1880 is before the dates we accept. */
        {"440524188001015368", "birth date 18800101 is before 1900"},
        {"110105209901010020", "birth date 20990101 is in the future"},
        {"110105202603020018", "birth date 20260302 is in the future"},
        {"990105194912310023", "division code 990105 is not in a known province"},
        {"100000194912310020", "division code 100000 is not in a known province"},
        {NULL, "must be 18 characters, not 0"},
        {"", "must be 18 characters, not 0"},
        {"11010519491231002", "must be 18 characters, not 17"},
        {"11010519491231002X1", "must be 18 characters, not more"},
        {" 11010519491231002X", "must be 18 characters, not more"},
        {"110105491231002", "old 15-digit numbers are no longer valid"},
        {"11010519491231002x", "last character must be a digit or capital X"},
        {"11010519491231002A", "last character must be a digit or capital X"},
        {"1101051949123100AX", "character 17 is not a digit"},
        {"110105194912310A2X", "character 16 is not a digit"},
        {"X1010519491231002X", "character 1 is not a digit"},
        {"110105 9491231002X", "character 7 is not a digit"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char reason[128] = "";
        if (identifiers_resident_id_check(cases[i].id, TODAY, reason, sizeof reason) != -1)
            fail_msg("%s accepted", cases[i].id);
        s_assert_mentions(cases[i].id, reason, cases[i].reason);
    }
    /* Birth and sex need a well-formed number, but no "today". */
    int birth = 12345;
    assert_int_equal(identifiers_resident_id_birth("110105194912310021", &birth), -1);
    assert_int_equal(identifiers_resident_id_birth("440524188001015368", &birth), -1);
    assert_int_equal(identifiers_resident_id_birth(NULL, &birth), -1);
    assert_int_equal(birth, 12345);
    assert_int_equal(identifiers_resident_id_birth("110105209901010020", &birth), 0);
    assert_int_equal(birth, 20990101);
    assert_int_equal(identifiers_resident_id_sex("110105194912310021"), 0);
    assert_int_equal(identifiers_resident_id_sex("11010519491231002x"), 0);
    assert_int_equal(identifiers_resident_id_sex(NULL), 0);
}

static void test_normalise(void **state)
{
    (void)state;
    char text[64];
    strcpy(text, " \t91350100m000100y43\r\n");
    identifiers_normalise(text);
    assert_string_equal(text, "91350100M000100Y43");
    assert_int_equal(identifiers_uscc_check(text, NULL, 0), 0);

    strcpy(text, "11010519491231002x ");
    identifiers_normalise(text);
    assert_string_equal(text, "11010519491231002X");
    assert_int_equal(identifiers_resident_id_check(text, TODAY, NULL, 0), 0);

    strcpy(text, "  a b  ");
    identifiers_normalise(text);
    assert_string_equal(text, "A B");
    strcpy(text, " \t\n ");
    identifiers_normalise(text);
    assert_string_equal(text, "");
    strcpy(text, "");
    identifiers_normalise(text);
    assert_string_equal(text, "");
    /* A full-width x (U+FF58) is not ASCII and stays. */
    strcpy(text, "\xef\xbd\x98");
    identifiers_normalise(text);
    assert_string_equal(text, "\xef\xbd\x98");
    identifiers_normalise(NULL);
}

static void test_division(void **state)
{
    (void)state;
    const struct {
        const char *code;
        int level;
    } valid[] = {
        {"110000", 1}, {"110100", 2}, {"110105", 3}, {"440300", 2}, {"350203", 3},
        {"429004", 3}, {"650000", 1}, {"710000", 1}, {"810000", 1}, {"820000", 1},
        {"150000", 1}, {"230000", 1}, {"370000", 1}, {"460000", 1}, {"500000", 1},
        {"540000", 1}, {"610000", 1}, {"210000", 1}, {"310000", 1}, {"410000", 1},
    };
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        char reason[64] = "";
        if (identifiers_division_check(valid[i].code, reason, sizeof reason) != 0)
            fail_msg("%s refused: %s", valid[i].code, reason);
        assert_int_equal(identifiers_division_level(valid[i].code), valid[i].level);
    }
    const struct {
        const char *code;
        const char *reason;
    } invalid[] = {
        {"100000", "province code 10 does not exist"},
        {"000000", "province code 00 does not exist"},
        {"160000", "province code 16 does not exist"},
        {"240000", "province code 24 does not exist"},
        {"380000", "province code 38 does not exist"},
        {"470000", "province code 47 does not exist"},
        {"550000", "province code 55 does not exist"},
        {"660000", "province code 66 does not exist"},
        {"720000", "province code 72 does not exist"},
        {"830000", "province code 83 does not exist"},
        {"910000", "province code 91 does not exist"},
        {"11010", "must be six digits"},
        {"1101050", "must be six digits"},
        {"11010A", "must be six digits"},
        {"", "must be six digits"},
        {NULL, "must be six digits"},
    };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        char reason[64] = "";
        if (identifiers_division_check(invalid[i].code, reason, sizeof reason) != -1)
            fail_msg("%s accepted", invalid[i].code);
        s_assert_mentions(invalid[i].code, reason, invalid[i].reason);
        assert_int_equal(identifiers_division_level(invalid[i].code), -1);
    }
}

static void test_masks(void **state)
{
    (void)state;
    char id[19];
    identifiers_mask_resident_id("11010519491231002X", id);
    assert_string_equal(id, "110105********002X");
    identifiers_mask_resident_id("110105491231002", id);
    assert_string_equal(id, "******************");
    identifiers_mask_resident_id(NULL, id);
    assert_string_equal(id, "******************");

    char out[32];
    identifiers_mask_phone("13812345678", out, sizeof out);
    assert_string_equal(out, "138****5678");
    identifiers_mask_phone("010-12345678", out, sizeof out);
    assert_string_equal(out, "**********78");
    identifiers_mask_phone("+8613812345678", out, sizeof out);
    assert_string_equal(out, "************78");
    identifiers_mask_phone("23812345678", out, sizeof out); /* not a mobile */
    assert_string_equal(out, "*********78");
    identifiers_mask_phone("1381234567", out, sizeof out); /* ten digits */
    assert_string_equal(out, "********67");
    identifiers_mask_phone("电话12", out, sizeof out); /* one asterisk per character */
    assert_string_equal(out, "**12");
    identifiers_mask_phone("12电话", out, sizeof out);
    assert_string_equal(out, "**电话");
    identifiers_mask_phone("7", out, sizeof out);
    assert_string_equal(out, "7");
    identifiers_mask_phone("", out, sizeof out);
    assert_string_equal(out, "");
    identifiers_mask_phone(NULL, out, sizeof out);
    assert_string_equal(out, "");

    /* Truncated: terminated, never half a character. */
    char small[5];
    identifiers_mask_phone("13812345678", small, sizeof small);
    assert_string_equal(small, "138*");
    identifiers_mask_phone("12电话", small, sizeof small); /* 电 needs 3 bytes, 2 are left */
    assert_string_equal(small, "**");
    char fits[6];
    identifiers_mask_phone("12电话", fits, sizeof fits);
    assert_string_equal(fits, "**电");
    identifiers_mask_phone("13812345678", out, 0); /* nothing written, no crash */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uscc_published_valid),
        cmocka_unit_test(test_uscc_published_invalid),
        cmocka_unit_test(test_uscc_invalid_cases),
        cmocka_unit_test(test_check_chars),
        cmocka_unit_test(test_orgcode_check),
        cmocka_unit_test(test_uscc_make),
        cmocka_unit_test(test_uscc_authority_table),
        cmocka_unit_test(test_uscc_round_trip),
        cmocka_unit_test(test_resident_id_valid),
        cmocka_unit_test(test_resident_id_invalid),
        cmocka_unit_test(test_normalise),
        cmocka_unit_test(test_division),
        cmocka_unit_test(test_masks),
    };
    return cmocka_run_group_tests_name("identifiers", tests, NULL, NULL);
}
