/*
 * identifiers.c - official identifiers of organisations and people; see
 * identifiers.h.
 *
 * Each check walks the text once per rule, in the order the header promises,
 * and stops at the first rule broken, writing its reason with snprintf. The
 * check characters are weighted sums:
 *
 *   organisation code (GB 11714): sum of value * (3,7,9,10,5,8,4,2), where
 *     digits are themselves and A-Z are 10-35; check = 11 - sum mod 11,
 *     written 'X' for 10 and '0' for 11.
 *   credit code (GB 32100): sum of index * 3^(i-1) mod 31 over the first 17
 *     characters, index in the 31-character alphabet; check = 31 - sum mod 31,
 *     written as the alphabet's character, with 31 written '0'.
 *   identity card (GB 11643): sum of digit * (7,9,10,5,8,4,2,1,6,3,7,9,10,5,
 *     8,4,2); check = "10X98765432"[sum mod 11].
 */
#include "identifiers.h"

#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define USCC_LENGTH        18
#define ORGCODE_LENGTH     9
#define RESIDENT_ID_LENGTH 18

static const char s_uscc_alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/* The authorities of GB 32100 (amendment No. 1, 2016) and the organisation
 * types each issues. */
static const struct {
    char authority;
    const char *types;
} s_uscc_types[] = {
    {'1', "1239"}, {'2', "19"}, {'3', "123459"}, {'4', "19"}, {'5', "1239"}, {'6', "129"},
    {'7', "129"},  {'8', "19"}, {'9', "123"},    {'A', "19"}, {'N', "1239"}, {'Y', "1"},
};

/* The first two digits of every province-level division of GB/T 2260. */
static const char *const s_provinces[] = {
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34",
    "35", "36", "37", "41", "42", "43", "44", "45", "46", "50", "51", "52",
    "53", "54", "61", "62", "63", "64", "65", "71", "81", "82",
};

/* Writes the reason, if the caller wants one, and returns -1. */
static int s_fail(char *reason, size_t reason_size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static int s_fail(char *reason, size_t reason_size, const char *format, ...)
{
    if (reason && reason_size > 0) {
        va_list args;
        va_start(args, format);
        vsnprintf(reason, reason_size, format, args);
        va_end(args);
    }
    return -1;
}

static bool s_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool s_is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool s_is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool s_is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool s_all_digits(const char *text, size_t length)
{
    for (size_t i = 0; i < length; i++)
        if (!s_is_digit(text[i]))
            return false;
    return true;
}

/* The length of text, or limit + 1 if it is longer than limit (so a huge or
 * unterminated-looking input is never walked further than needed). */
static size_t s_length(const char *text, size_t limit)
{
    size_t length = 0;
    while (length <= limit && text[length])
        length++;
    return length;
}

/* The index of c in the credit code alphabet, or -1. */
static int s_uscc_value(char c)
{
    if (c == '\0')
        return -1;
    const char *at = strchr(s_uscc_alphabet, c);
    return at ? (int)(at - s_uscc_alphabet) : -1;
}

/* The value of c in an organisation code body, or -1. */
static int s_orgcode_value(char c)
{
    if (s_is_digit(c))
        return c - '0';
    if (s_is_upper(c))
        return c - 'A' + 10;
    return -1;
}

/* The types authority issues, or NULL for an unknown authority. */
static const char *s_uscc_types_of(char authority)
{
    for (size_t i = 0; i < sizeof s_uscc_types / sizeof s_uscc_types[0]; i++)
        if (s_uscc_types[i].authority == authority)
            return s_uscc_types[i].types;
    return NULL;
}

static bool s_uscc_pair_ok(char authority, char type)
{
    const char *types = s_uscc_types_of(authority);
    return types && type != '\0' && strchr(types, type);
}

static bool s_province_ok(const char *two_digits)
{
    for (size_t i = 0; i < sizeof s_provinces / sizeof s_provinces[0]; i++)
        if (two_digits[0] == s_provinces[i][0] && two_digits[1] == s_provinces[i][1])
            return true;
    return false;
}

/* The reason for a character outside the credit code alphabet at 1-based
 * position. */
static int s_uscc_bad_char(char c, int position, char *reason, size_t reason_size)
{
    if (c == 'I' || c == 'O' || c == 'S' || c == 'V' || c == 'Z')
        return s_fail(reason, reason_size,
                      "character %d is not allowed (I, O, S, V and Z are never used)", position);
    if (s_is_lower(c))
        return s_fail(reason, reason_size, "character %d must be a capital letter", position);
    return s_fail(reason, reason_size, "character %d is not a digit or capital letter", position);
}

void identifiers_normalise(char *text)
{
    if (!text)
        return;
    char *start = text;
    while (s_is_blank(*start))
        start++;
    size_t length = strlen(start);
    while (length > 0 && s_is_blank(start[length - 1]))
        length--;
    for (size_t i = 0; i < length; i++)
        text[i] = s_is_lower(start[i]) ? (char)(start[i] - 'a' + 'A') : start[i];
    text[length] = '\0';
}

char identifiers_orgcode_check_char(const char *body8)
{
    static const int weights[8] = {3, 7, 9, 10, 5, 8, 4, 2};
    if (!body8)
        return 0;
    int sum = 0;
    for (int i = 0; i < 8; i++) {
        int value = s_orgcode_value(body8[i]);
        if (value < 0)
            return 0;
        sum += value * weights[i];
    }
    int check = 11 - sum % 11;
    return check == 10 ? 'X' : check == 11 ? '0' : (char)('0' + check);
}

char identifiers_uscc_check_char(const char *first17)
{
    if (!first17)
        return 0;
    int sum = 0;
    int weight = 1; /* 3^(i-1) mod 31 */
    for (int i = 0; i < 17; i++) {
        int value = s_uscc_value(first17[i]);
        if (value < 0)
            return 0;
        sum += value * weight;
        weight = weight * 3 % 31;
    }
    return s_uscc_alphabet[(31 - sum % 31) % 31];
}

int identifiers_uscc_check(const char *code, char *reason, size_t reason_size)
{
    size_t length = code ? s_length(code, USCC_LENGTH) : 0;
    if (length != USCC_LENGTH) {
        if (length > USCC_LENGTH)
            return s_fail(reason, reason_size, "must be 18 characters, not more");
        return s_fail(reason, reason_size, "must be 18 characters, not %zu", length);
    }
    for (int i = 0; i < USCC_LENGTH; i++)
        if (s_uscc_value(code[i]) < 0)
            return s_uscc_bad_char(code[i], i + 1, reason, reason_size);
    if (!s_uscc_types_of(code[0]))
        return s_fail(reason, reason_size,
                      "registration authority %c does not exist (1-9, A, N or Y)", code[0]);
    if (!s_uscc_pair_ok(code[0], code[1]))
        return s_fail(reason, reason_size, "registration authority %c does not issue type %c",
                      code[0], code[1]);
    if (!s_all_digits(code + 2, 6))
        return s_fail(reason, reason_size, "division code is not six digits");
    if (identifiers_orgcode_check_char(code + 8) != code[16])
        return s_fail(reason, reason_size, "organisation code check character is wrong");
    if (identifiers_uscc_check_char(code) != code[17])
        return s_fail(reason, reason_size, "check character is wrong");
    return 0;
}

int identifiers_uscc_make(char authority, char type, const char *division6, const char *org_body8,
                          char out[19])
{
    assert(out);
    out[0] = '\0';
    if (!s_uscc_pair_ok(authority, type))
        return -1;
    if (!division6 || s_length(division6, 6) != 6 || !s_all_digits(division6, 6))
        return -1;
    if (!org_body8 || s_length(org_body8, 8) != 8)
        return -1;
    for (int i = 0; i < 8; i++)
        if (s_uscc_value(org_body8[i]) < 0)
            return -1;
    char code[USCC_LENGTH + 1];
    code[0] = authority;
    code[1] = type;
    memcpy(code + 2, division6, 6);
    memcpy(code + 8, org_body8, 8);
    /* Both are in the alphabet: 'X' is, and so are the digits. */
    code[16] = identifiers_orgcode_check_char(org_body8);
    code[17] = identifiers_uscc_check_char(code);
    code[18] = '\0';
    memcpy(out, code, sizeof code);
    return 0;
}

int identifiers_orgcode_check(const char *code, char *reason, size_t reason_size)
{
    size_t length = code ? s_length(code, ORGCODE_LENGTH) : 0;
    if (length != ORGCODE_LENGTH) {
        if (length > ORGCODE_LENGTH && code[8] == '-')
            return s_fail(reason, reason_size, "must be 9 characters (leave out the dash)");
        if (length > ORGCODE_LENGTH)
            return s_fail(reason, reason_size, "must be 9 characters, not more");
        return s_fail(reason, reason_size, "must be 9 characters, not %zu", length);
    }
    for (int i = 0; i < 8; i++) {
        if (s_orgcode_value(code[i]) < 0) {
            if (s_is_lower(code[i]))
                return s_fail(reason, reason_size, "character %d must be a capital letter", i + 1);
            return s_fail(reason, reason_size, "character %d is not a digit or capital letter",
                          i + 1);
        }
    }
    if (!s_is_digit(code[8]) && code[8] != 'X')
        return s_fail(reason, reason_size, "last character must be a digit or capital X");
    if (identifiers_orgcode_check_char(code) != code[8])
        return s_fail(reason, reason_size, "check character is wrong");
    return 0;
}

static bool s_is_leap(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* true if yyyymmdd is a day of the Gregorian calendar from year 1 to 9999. */
static bool s_date_real(int yyyymmdd)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int year = yyyymmdd / 10000;
    int month = yyyymmdd / 100 % 100;
    int day = yyyymmdd % 100;
    if (yyyymmdd <= 0 || year < 1 || year > 9999 || month < 1 || month > 12 || day < 1)
        return false;
    int last = days[month - 1] + (month == 2 && s_is_leap(year) ? 1 : 0);
    return day <= last;
}

static int s_today(void)
{
    time_t now = time(NULL);
    struct tm local;
    if (!localtime_r(&now, &local))
        return 99991231; /* no clock: do not refuse anyone for being born "later" */
    return (local.tm_year + 1900) * 10000 + (local.tm_mon + 1) * 100 + local.tm_mday;
}

/* identifiers_resident_id_check, with today_yyyymmdd < 0 meaning no
 * future-date rule. */
static int s_resident_id_check(const char *id, int today_yyyymmdd, char *reason, size_t reason_size)
{
    size_t length = id ? s_length(id, RESIDENT_ID_LENGTH) : 0;
    if (length == 15 && s_all_digits(id, 15))
        return s_fail(reason, reason_size,
                      "must be 18 characters, not 15 (old 15-digit numbers are no longer valid)");
    if (length > RESIDENT_ID_LENGTH)
        return s_fail(reason, reason_size, "must be 18 characters, not more");
    if (length != RESIDENT_ID_LENGTH)
        return s_fail(reason, reason_size, "must be 18 characters, not %zu", length);
    for (int i = 0; i < 17; i++)
        if (!s_is_digit(id[i]))
            return s_fail(reason, reason_size, "character %d is not a digit", i + 1);
    if (!s_is_digit(id[17]) && id[17] != 'X')
        return s_fail(reason, reason_size, "last character must be a digit or capital X");
    if (!s_province_ok(id) && memcmp(id, "830000", 6) != 0)
        return s_fail(reason, reason_size, "division code %.6s is not in a known province", id);

    int birth = 0;
    for (int i = 6; i < 14; i++)
        birth = birth * 10 + (id[i] - '0');
    if (!s_date_real(birth))
        return s_fail(reason, reason_size, "birth date %08d is not a real date", birth);
    if (birth < 19000101)
        return s_fail(reason, reason_size, "birth date %08d is before 1900", birth);
    if (today_yyyymmdd >= 0 && birth > today_yyyymmdd)
        return s_fail(reason, reason_size, "birth date %08d is in the future", birth);

    static const int weights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (id[i] - '0') * weights[i];
    if ("10X98765432"[sum % 11] != id[17])
        return s_fail(reason, reason_size, "check character is wrong");
    return 0;
}

int identifiers_resident_id_check(const char *id, int today_yyyymmdd, char *reason,
                                  size_t reason_size)
{
    assert(today_yyyymmdd == 0 || s_date_real(today_yyyymmdd));
    return s_resident_id_check(id, today_yyyymmdd ? today_yyyymmdd : s_today(), reason,
                               reason_size);
}

int identifiers_resident_id_birth(const char *id, int *yyyymmdd)
{
    assert(yyyymmdd);
    if (s_resident_id_check(id, -1, NULL, 0) != 0)
        return -1;
    int birth = 0;
    for (int i = 6; i < 14; i++)
        birth = birth * 10 + (id[i] - '0');
    *yyyymmdd = birth;
    return 0;
}

int identifiers_resident_id_sex(const char *id)
{
    if (s_resident_id_check(id, -1, NULL, 0) != 0)
        return 0;
    return (id[16] - '0') % 2 ? 'M' : 'F';
}

int identifiers_division_check(const char *code, char *reason, size_t reason_size)
{
    if (!code || s_length(code, 6) != 6 || !s_all_digits(code, 6))
        return s_fail(reason, reason_size, "must be six digits");
    if (!s_province_ok(code))
        return s_fail(reason, reason_size, "province code %.2s does not exist", code);
    return 0;
}

int identifiers_division_level(const char *code)
{
    if (identifiers_division_check(code, NULL, 0) != 0)
        return -1;
    if (memcmp(code + 2, "0000", 4) == 0)
        return 1;
    if (memcmp(code + 4, "00", 2) == 0)
        return 2;
    return 3;
}

void identifiers_mask_resident_id(const char *id, char out[19])
{
    assert(out);
    if (!id || s_length(id, RESIDENT_ID_LENGTH) != RESIDENT_ID_LENGTH) {
        memset(out, '*', RESIDENT_ID_LENGTH);
    } else {
        memcpy(out, id, 6);
        memset(out + 6, '*', 8);
        memcpy(out + 14, id + 14, 4);
    }
    out[RESIDENT_ID_LENGTH] = '\0';
}

/* The number of bytes of the UTF-8 character starting at text (1 for a stray
 * or truncated byte, so a malformed string is still walked to its end). */
static size_t s_utf8_width(const char *text)
{
    unsigned char lead = (unsigned char)text[0];
    size_t width = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    for (size_t i = 1; i < width; i++)
        if (((unsigned char)text[i] & 0xC0) != 0x80)
            return 1;
    return width;
}

void identifiers_mask_phone(const char *phone, char *out, size_t size)
{
    assert(out || size == 0);
    if (size == 0)
        return;
    out[0] = '\0';
    if (!phone)
        return;
    if (strlen(phone) == 11 && phone[0] == '1' && s_all_digits(phone, 11)) {
        snprintf(out, size, "%.3s****%s", phone, phone + 7);
        return;
    }
    size_t characters = 0;
    for (const char *p = phone; *p; p += s_utf8_width(p))
        characters++;
    size_t index = 0;
    size_t used = 0;
    for (const char *p = phone; *p; index++) {
        size_t width = s_utf8_width(p);
        bool masked = index + 2 < characters;
        size_t need = masked ? 1 : width;
        if (used + need + 1 > size)
            break;
        if (masked)
            out[used] = '*';
        else
            memcpy(out + used, p, width);
        used += need;
        p += width;
    }
    out[used] = '\0';
}

bool identifiers_uuid_shaped(const char *text)
{
    if (strlen(text) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? text[i] != '-' : !isxdigit((unsigned char)text[i]))
            return false;
    }
    return true;
}
