/*
 * enterprise_name.c - the rules of enterprise names; see enterprise_name.h.
 *
 * Each part is decoded one code point at a time by a strict UTF-8 decoder
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), which
 * never reads past the first byte that breaks a sequence, so a NUL inside a
 * truncated sequence stops it. The normaliser drops blanks, maps full-width
 * ASCII and re-encodes into a fixed buffer sized for the longest valid part;
 * it counts the characters of the whole part even when they do not all fit,
 * and remembers the first one that is not a Chinese character. The checks
 * then work on the normalised text: lengths from the count, words by byte
 * search, which is exact on valid UTF-8 because a character's encoding never
 * appears inside another's.
 *
 * The checked parts are built in a local enterprise_name_t and copied out only
 * when there is no violation, so the caller never sees a half-checked name.
 */
#include "enterprise_name.h"

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The words a trade name or an industry may use only with the approval of the
 * State Council: the default national list. Agencies add their own words
 * through the extra_forbidden parameter, not here. */
static const char *const s_state_words[] = {
    "中国", "中华", "全国", "国家", "国际", "世界",
};

/* The organisational forms the registry takes, normalised. */
static const char *const s_forms[] = {
    "有限公司",   "有限责任公司", "股份有限公司", "合伙企业",       "(普通合伙)",
    "(有限合伙)", "个人独资企业", "专业合作社",   "农民专业合作社", "店",
    "馆",         "部",           "厂",           "中心",           "工作室",
};

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* What the normaliser learnt about one part. */
typedef struct {
    int chars;        /* code points after normalisation, all of them */
    bool invalid;     /* not valid UTF-8: nothing else below is meaningful */
    bool truncated;   /* some characters did not fit the buffer */
    uint32_t foreign; /* the first code point that is not Chinese, or 0 */
} s_text_t;

/* Where violations go. found counts every one, written those that fitted. */
typedef struct {
    enterprise_name_violation_t *violations;
    int max;
    int found;
    int written;
} s_report_t;

/* Decodes the code point s starts with (s[0] is not NUL) into *cp and returns
 * its length in bytes, 1 to 4; returns 0 when s does not start a valid UTF-8
 * sequence. Reads no byte after the first one that is not a continuation. */
static int s_decode(const unsigned char *s, uint32_t *cp)
{
    unsigned char lead = s[0];
    if (lead < 0x80) {
        *cp = lead;
        return 1;
    }
    int length;
    uint32_t value, least;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
        value = lead & 0x1Fu;
        least = 0x80;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        value = lead & 0x0Fu;
        least = 0x800;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        value = lead & 0x07u;
        least = 0x10000;
    } else {
        return 0; /* a continuation byte, C0, C1 or F5..FF */
    }
    for (int i = 1; i < length; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        value = (value << 6) | (s[i] & 0x3Fu);
    }
    if (value < least || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF))
        return 0;
    *cp = value;
    return length;
}

/* Writes the UTF-8 of cp (a valid code point) into out and returns its length. */
static int s_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static bool s_is_chinese(uint32_t cp)
{
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF);
}

static bool s_is_blank(uint32_t cp)
{
    return cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0x3000;
}

/* Normalises text (NULL is empty) into out, size bytes, always
 * NUL-terminated and holding only whole characters, and describes it in
 * *info. When text is invalid, out is left empty. */
static void s_normalise(const char *text, char *out, size_t size, s_text_t *info)
{
    memset(info, 0, sizeof *info);
    size_t used = 0;
    out[0] = '\0';
    if (!text)
        return;
    const unsigned char *at = (const unsigned char *)text;
    while (*at) {
        uint32_t cp;
        int length = s_decode(at, &cp);
        if (length == 0) {
            info->invalid = true;
            out[0] = '\0';
            return;
        }
        at += length;
        if (s_is_blank(cp))
            continue;
        if (cp >= 0xFF01 && cp <= 0xFF5E)
            cp -= 0xFEE0;
        if (info->chars < INT_MAX)
            info->chars++;
        if (!info->foreign && !s_is_chinese(cp))
            info->foreign = cp;
        char bytes[4];
        int encoded = s_encode(cp, bytes);
        if (!info->truncated && used + (size_t)encoded < size) {
            memcpy(out + used, bytes, (size_t)encoded);
            used += (size_t)encoded;
            out[used] = '\0';
        } else {
            info->truncated = true;
        }
    }
}

/* Records a violation of field, written when there is room left. */
static void s_add(s_report_t *report, const char *field, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void s_add(s_report_t *report, const char *field, const char *format, ...)
{
    report->found++;
    if (report->written >= report->max)
        return;
    enterprise_name_violation_t *violation = &report->violations[report->written++];
    violation->field = field;
    va_list args;
    va_start(args, format);
    vsnprintf(violation->description, sizeof violation->description, format, args);
    va_end(args);
}

/* Writes how a character the rules refuse should be shown to a clerk: itself
 * in quotes when it is printable ASCII or CJK punctuation, else U+XXXX, so no
 * control or invisible character reaches a screen. */
static void s_show(uint32_t cp, char *out, size_t size)
{
    if ((cp >= 0x21 && cp <= 0x7E) || (cp >= 0x3001 && cp <= 0x303F)) {
        char bytes[5];
        bytes[s_encode(cp, bytes)] = '\0';
        snprintf(out, size, "\"%s\"", bytes);
    } else {
        snprintf(out, size, "U+%04X", (unsigned)cp);
    }
}

/* Appends word to the ", "-separated list in list (size bytes). When it does
 * not fit whole, appends " and others" instead, once, and sets *full so the
 * rest are ignored: the list is never cut inside a character. */
static void s_list_word(char *list, size_t size, bool *full, const char *word)
{
    static const char others[] = " and others";
    if (*full)
        return;
    size_t used = strlen(list);
    const char *comma = used > 0 ? ", " : "";
    if (used + strlen(comma) + strlen(word) + sizeof others > size) {
        if (used + sizeof others <= size)
            memcpy(list + used, others, sizeof others);
        *full = true;
        return;
    }
    snprintf(list + used, size - used, "%s%s", comma, word);
}

/* Checks a part that must be Chinese characters, described by info. Returns
 * true when it is valid UTF-8 and not empty, so worth searching for words. */
static bool s_check_chinese_part(s_report_t *report, const char *field, const s_text_t *info,
                                 int min, int max)
{
    if (info->invalid) {
        s_add(report, field, "is not valid UTF-8 text; retype it");
        return false;
    }
    if (info->chars == 0) {
        s_add(report, field, "is missing");
        return false;
    }
    if (info->chars < min || info->chars > max)
        s_add(report, field, "must be %d to %d Chinese characters (has %d)", min, max, info->chars);
    if (info->foreign) {
        char shown[16];
        s_show(info->foreign, shown, sizeof shown);
        s_add(report, field, "may contain only Chinese characters, not %s", shown);
    }
    return true;
}

/* Reports the words of the default list, then those of extra, that text
 * contains: at most one violation for each list, naming the words found. */
static void s_check_words(s_report_t *report, const char *field, const char *text,
                          const char *const *extra)
{
    static const char state_prefix[] = "contains a word that needs State approval: ";
    static const char extra_prefix[] = "contains a word that is not allowed: ";
    char list[ENTERPRISE_NAME_DESCRIPTION_SIZE - (sizeof state_prefix - 1)] = "";
    bool full = false;
    for (size_t i = 0; i < COUNT(s_state_words); i++)
        if (strstr(text, s_state_words[i]))
            s_list_word(list, sizeof list, &full, s_state_words[i]);
    if (list[0])
        s_add(report, field, "%s%s", state_prefix, list);

    char extra_list[ENTERPRISE_NAME_DESCRIPTION_SIZE - (sizeof extra_prefix - 1)] = "";
    full = false;
    for (size_t i = 0; extra && extra[i]; i++) {
        /* A word too long for the longest part cannot be in one. */
        char word[ENTERPRISE_NAME_INDUSTRY_SIZE];
        s_text_t info;
        s_normalise(extra[i], word, sizeof word, &info);
        if (!info.invalid && !info.truncated && info.chars > 0 && strstr(text, word))
            s_list_word(extra_list, sizeof extra_list, &full, word);
    }
    if (extra_list[0])
        s_add(report, field, "%s%s", extra_prefix, extra_list);
}

static bool s_form_listed(const char *form)
{
    for (size_t i = 0; i < COUNT(s_forms); i++)
        if (strcmp(form, s_forms[i]) == 0)
            return true;
    return false;
}

int enterprise_name_parse(const char *region, const char *trade_name, const char *industry,
                          const char *form, const char *const *extra_forbidden,
                          enterprise_name_t *name, enterprise_name_violation_t *violations,
                          int max_violations)
{
    if (!violations || max_violations < 1)
        return -1;
    s_report_t report = {violations, max_violations, 0, 0};
    enterprise_name_t work;
    memset(&work, 0, sizeof work);
    s_text_t region_info, trade_info, industry_info, form_info;

    s_normalise(region, work.region, sizeof work.region, &region_info);
    s_check_chinese_part(&report, "region", &region_info, ENTERPRISE_NAME_REGION_MIN_CHARS,
                         ENTERPRISE_NAME_REGION_MAX_CHARS);

    s_normalise(trade_name, work.trade_name, sizeof work.trade_name, &trade_info);
    if (s_check_chinese_part(&report, "trade_name", &trade_info,
                             ENTERPRISE_NAME_TRADE_NAME_MIN_CHARS,
                             ENTERPRISE_NAME_TRADE_NAME_MAX_CHARS))
        s_check_words(&report, "trade_name", work.trade_name, extra_forbidden);

    s_normalise(industry, work.industry, sizeof work.industry, &industry_info);
    if (s_check_chinese_part(&report, "industry", &industry_info,
                             ENTERPRISE_NAME_INDUSTRY_MIN_CHARS,
                             ENTERPRISE_NAME_INDUSTRY_MAX_CHARS))
        s_check_words(&report, "industry", work.industry, extra_forbidden);

    s_normalise(form, work.form, sizeof work.form, &form_info);
    if (form_info.invalid)
        s_add(&report, "organisational_form", "is not valid UTF-8 text; retype it");
    else if (form_info.chars == 0)
        s_add(&report, "organisational_form", "is missing");
    else if (form_info.truncated || !s_form_listed(work.form))
        s_add(&report, "organisational_form",
              "is not a form the registry takes, such as 有限公司 or 有限责任公司");

    if (!region_info.invalid && !trade_info.invalid && !industry_info.invalid &&
        !form_info.invalid) {
        /* Each count is at most INT_MAX; add them without overflowing. */
        long long total =
            (long long)region_info.chars + trade_info.chars + industry_info.chars + form_info.chars;
        if (total > ENTERPRISE_NAME_FULL_MAX_CHARS)
            s_add(&report, "full_name", "must be at most %d characters in all (has %lld)",
                  ENTERPRISE_NAME_FULL_MAX_CHARS, total);
    }

    if (report.found > 0) {
        if (name)
            memset(name, 0, sizeof *name);
        return report.written;
    }
    /* Every part is within its limit and the total is at most 50 characters
     * of at most 4 bytes each, so the parts fit; the check costs nothing. */
    const char *parts[] = {work.region, work.trade_name, work.industry, work.form};
    size_t used = 0;
    for (size_t i = 0; i < COUNT(parts); i++) {
        size_t length = strlen(parts[i]);
        if (used + length >= sizeof work.full)
            break;
        memcpy(work.full + used, parts[i], length);
        used += length;
    }
    work.full[used] = '\0';
    if (name)
        *name = work;
    return 0;
}

bool enterprise_name_form_allowed(const char *form)
{
    char normal[ENTERPRISE_NAME_FORM_SIZE];
    s_text_t info;
    s_normalise(form, normal, sizeof normal, &info);
    return !info.invalid && !info.truncated && s_form_listed(normal);
}

int enterprise_name_utf8_length(const char *text)
{
    if (!text)
        return -1;
    int count = 0;
    const unsigned char *at = (const unsigned char *)text;
    while (*at) {
        uint32_t cp;
        int length = s_decode(at, &cp);
        if (length == 0 || count == INT_MAX)
            return -1;
        at += length;
        count++;
    }
    return count;
}
