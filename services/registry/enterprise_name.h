/*
 * enterprise_name.h - the rules an enterprise name (企业名称) must follow
 * before the registry accepts it.
 *
 * A name is four parts, written one after the other:
 *
 *   杭州           云栖          网络科技         有限公司
 *   region         trade name    industry         organisational form
 *   (行政区划)     (字号)        (行业表述)       (组织形式)
 *
 * The parts come as UTF-8 typed by applicants, so each is first normalised:
 * ASCII blanks (space, tab, CR, LF, VT, FF) and the ideographic space U+3000
 * are removed wherever they are, and full-width ASCII (U+FF01..U+FF5E) becomes
 * ASCII, so "（普通合伙）" becomes "(普通合伙)". Text that is not valid UTF-8
 * (stray or missing continuation bytes, overlong forms such as "\xc0\xaf",
 * UTF-16 surrogates, code points above U+10FFFF) is refused, never repaired;
 * a NUL ends the text and an encoded NUL ("\xc0\x80") is overlong.
 *
 * Then the rules, counting characters as Unicode code points, not bytes:
 *   region               2 to 20 Chinese characters
 *   trade_name           2 to 10 Chinese characters
 *   industry             2 to 20 Chinese characters
 *   organisational_form  one of the forms enterprise_name_form_allowed takes
 *   full_name            the four parts together at most 50 characters
 * "Chinese characters" are CJK Unified Ideographs U+4E00..U+9FFF and
 * Extension A U+3400..U+4DBF; digits, letters, punctuation and brackets are
 * refused everywhere but in the form. The trade name and the industry must not
 * contain the words that need State approval (中国, 中华, 全国, 国家, 国际,
 * 世界), nor any word of the caller's own list.
 *
 * Nothing here allocates, does I/O or keeps state; every function is
 * thread-safe.
 */
#ifndef CHUANG_ENTERPRISE_NAME_H
#define CHUANG_ENTERPRISE_NAME_H

#include <stdbool.h>

/* The length rules, in characters (code points). */
#define ENTERPRISE_NAME_REGION_MIN_CHARS     2
#define ENTERPRISE_NAME_REGION_MAX_CHARS     20
#define ENTERPRISE_NAME_TRADE_NAME_MIN_CHARS 2
#define ENTERPRISE_NAME_TRADE_NAME_MAX_CHARS 10
#define ENTERPRISE_NAME_INDUSTRY_MIN_CHARS   2
#define ENTERPRISE_NAME_INDUSTRY_MAX_CHARS   20
/* The longest allowed form, 农民专业合作社. */
#define ENTERPRISE_NAME_FORM_MAX_CHARS 7
#define ENTERPRISE_NAME_FULL_MAX_CHARS 50

/* Bytes that hold chars characters of UTF-8 (at most 4 bytes each) and a NUL. */
#define ENTERPRISE_NAME_SIZE(chars) ((chars)*4 + 1)

#define ENTERPRISE_NAME_REGION_SIZE      ENTERPRISE_NAME_SIZE(ENTERPRISE_NAME_REGION_MAX_CHARS)
#define ENTERPRISE_NAME_TRADE_NAME_SIZE  ENTERPRISE_NAME_SIZE(ENTERPRISE_NAME_TRADE_NAME_MAX_CHARS)
#define ENTERPRISE_NAME_INDUSTRY_SIZE    ENTERPRISE_NAME_SIZE(ENTERPRISE_NAME_INDUSTRY_MAX_CHARS)
#define ENTERPRISE_NAME_FORM_SIZE        ENTERPRISE_NAME_SIZE(ENTERPRISE_NAME_FORM_MAX_CHARS)
#define ENTERPRISE_NAME_FULL_SIZE        ENTERPRISE_NAME_SIZE(ENTERPRISE_NAME_FULL_MAX_CHARS)
#define ENTERPRISE_NAME_DESCRIPTION_SIZE 160

/* The most violations one call of enterprise_name_parse can find: two for the
 * region (length, characters), four each for the trade name and the industry
 * (length, characters, words needing approval, the caller's words), one for
 * the form and one for the full name. An array this long holds them all. */
#define ENTERPRISE_NAME_MAX_VIOLATIONS 12

/* A checked name: the normalised parts, NUL-terminated UTF-8. */
typedef struct {
    char region[ENTERPRISE_NAME_REGION_SIZE];
    char trade_name[ENTERPRISE_NAME_TRADE_NAME_SIZE];
    char industry[ENTERPRISE_NAME_INDUSTRY_SIZE];
    char form[ENTERPRISE_NAME_FORM_SIZE];
    char full[ENTERPRISE_NAME_FULL_SIZE]; /* region + trade_name + industry + form */
} enterprise_name_t;

/* One broken rule. field is "region", "trade_name", "industry",
 * "organisational_form" or "full_name", a static string of this module.
 * description is a short lower-case English phrase a clerk can act on, such
 * as "must be 2 to 10 Chinese characters (has 11)" or "contains a word that
 * needs State approval: 中国". */
typedef struct {
    const char *field;
    char description[ENTERPRISE_NAME_DESCRIPTION_SIZE];
} enterprise_name_violation_t;

/* Normalises and checks the four parts (each may be NULL, which counts as
 * empty). extra_forbidden is NULL or a NULL-terminated list of further words
 * the trade name and the industry must not contain (the agency's own list,
 * say); each word is normalised like a part, and empty or invalid words are
 * skipped. The arrays are borrowed for the call only.
 *
 * Every part is checked, not just up to the first failure, and at most
 * max_violations violations are written, in this order: region, trade_name,
 * industry, organisational_form, full_name (ENTERPRISE_NAME_MAX_VIOLATIONS
 * is enough for all). A part that is missing or not valid UTF-8 gets that one
 * violation and no other. A part that is too long is still checked for
 * characters and words, but words are looked for only in as much of it as
 * fits its field of enterprise_name_t (at least its first MAX_CHARS
 * characters). The full name is measured when every part is valid UTF-8.
 *
 * Returns the number of violations written: 0 when the name is valid, and
 * then *name (when name is not NULL) holds the normalised parts and the full
 * name. Otherwise *name is cleared to empty strings. Returns -1, writing
 * nothing, when violations is NULL or max_violations < 1, since the caller
 * could not tell a valid name from an invalid one. */
int enterprise_name_parse(const char *region, const char *trade_name, const char *industry,
                          const char *form, const char *const *extra_forbidden,
                          enterprise_name_t *name, enterprise_name_violation_t *violations,
                          int max_violations);

/* true if form, once normalised as above, is one of the organisational forms
 * the registry takes: 有限公司, 有限责任公司, 股份有限公司, 合伙企业, (普通合伙),
 * (有限合伙), 个人独资企业, 专业合作社, 农民专业合作社, 店, 馆, 部, 厂, 中心,
 * 工作室. So "（有限合伙）" is allowed; "有限合伙" and NULL are not. */
bool enterprise_name_form_allowed(const char *form);

/* The number of Unicode code points in text, or -1 when text is NULL or not
 * valid UTF-8 (as above). No normalisation: "杭 州" has 3. */
int enterprise_name_utf8_length(const char *text);

#endif
