/*
 * identifiers.h - checking and making the official identifiers of Chinese
 * organisations and people: unified social credit codes, organisation codes,
 * resident identity card numbers and administrative division codes.
 *
 * Every check takes the text as typed, after identifiers_normalise() (which
 * upper-cases letters and strips surrounding blanks), and returns 0 if it is
 * well formed or -1 with a short lower-case reason a clerk can act on, such as
 * "check character is wrong" or "birth date 19490231 is not a real date".
 * "Well formed" means the shape and the check characters agree with the
 * standard; it never means the organisation or person exists.
 *
 * Unified social credit code (GB 32100-2015 with amendment No. 1 of 2016),
 * 18 characters from "0123456789ABCDEFGHJKLMNPQRTUWXY" (never I, O, S, V, Z):
 *
 *   9 1 350100 M000100Y4 3
 *   | | |      |         +- check character, ISO 7064 MOD 31-3 over 1-17
 *   | | |      +- organisation code (GB 11714): 8 characters and their check
 *   | | +- division code of the registering office (six digits; the
 *   | |    national offices use 100000, which is not a province)
 *   | +- organisation type, which the authority decides
 *   +- registration authority
 *
 * The authorities and the types each issues (amendment No. 1, 2016):
 *   1 机构编制 (establishment offices)   1 机关, 2 事业单位, 3 群众团体, 9 其他
 *   2 外交 (foreign affairs)            1 外国常驻新闻机构, 9 其他
 *   3 司法行政 (justice)                1 律师执业机构, 2 公证处, 3 基层法律服务所,
 *                                       4 司法鉴定机构, 5 仲裁委员会, 9 其他
 *   4 文化 (culture)                    1 外国在华文化中心, 9 其他
 *   5 民政 (civil affairs)              1 社会团体, 2 民办非企业单位, 3 基金会, 9 其他
 *   6 旅游 (tourism)                    1 外国旅游部门常驻代表机构,
 *                                       2 港澳台地区旅游部门常驻代表机构, 9 其他
 *   7 宗教 (religious affairs)          1 宗教活动场所, 2 宗教院校, 9 其他
 *   8 工会 (trade unions)               1 基层工会, 9 其他
 *   9 工商 (market regulation)          1 企业, 2 个体工商户, 3 农民专业合作社
 *   A 中央军委改革和编制办公室 (military) 1 军队事业单位, 9 其他
 *   N 农业 (agriculture)                1 组级, 2 村级, 3 乡镇级集体经济组织, 9 其他
 *   Y 其他 (others)                     1 only
 * Some codes issued in Xiamen before 2016 (e.g. "91350203M0001QKT19") are
 * real but fail the check character; they are refused like any other typo.
 *
 * Resident identity card number (GB 11643-1999), 18 characters: six-digit
 * division code, birth date YYYYMMDD, three-digit sequence (odd for men, even
 * for women) and a check character from ISO 7064 MOD 11-2 ('0'-'9' or 'X').
 * Birth dates before 1900-01-01 are refused. The division code must start with
 * a province code (see identifiers_division_check) or be 830000, which the
 * residence permits of Taiwan residents use in the same format (Hong Kong and
 * Macao residents' permits use 810000 and 820000). Old 15-digit numbers are
 * refused.
 *
 * Administrative division code (GB/T 2260): six digits, province (2),
 * prefecture (2), county (2); a province's own code ends in 0000 and a
 * prefecture's in 00. Only the shape and the province are checked, not
 * whether the county exists today: divisions change every year and old codes
 * stay on identity cards for life.
 *
 * Nothing here allocates or keeps state; every function is thread-safe.
 */
#ifndef CHUANG_IDENTIFIERS_H
#define CHUANG_IDENTIFIERS_H

#include <stdbool.h>
#include <stddef.h>

/* Upper-cases ASCII letters and removes ASCII blanks (space, tab, CR, LF,
 * VT, FF) at both ends, in place. Other bytes, blanks inside and non-ASCII
 * text (full-width digits, say) are left as they are. NULL is ignored. */
void identifiers_normalise(char *text);

/* 0 if code is a well-formed unified social credit code; otherwise -1 and,
 * when reason is not NULL, the first problem found written into reason
 * (truncated to reason_size). Problems are looked for in this order: length,
 * characters, authority, authority/type pair, division code, organisation
 * code check character, check character. Lower-case letters are refused. */
int identifiers_uscc_check(const char *code, char *reason, size_t reason_size);

/* Builds a unified social credit code from its parts, computing both check
 * characters, into out (NUL-terminated). Returns -1, leaving out empty, when
 * the authority does not issue the type, division6 is not six digits or
 * org_body8 is not eight characters of the credit code alphabet. */
int identifiers_uscc_make(char authority, char type, const char *division6, const char *org_body8,
                          char out[19]);

/* The check character of a unified social credit code whose first 17
 * characters are first17 (characters after the 17th are ignored), or 0 when
 * first17 is NULL, shorter than 17 or has a character outside the alphabet. */
char identifiers_uscc_check_char(const char *first17);

/* The GB 11714 check character ('0'-'9' or 'X') of the organisation code
 * whose 8-character body is body8 (digits and capital letters; characters
 * after the 8th are ignored), or 0 when body8 is NULL, short or has another
 * character. */
char identifiers_orgcode_check_char(const char *body8);

/* 0 if code is a well-formed 9-character organisation code (body and check
 * character, written without the dash: "D2143569X"); otherwise -1 and a
 * reason, as identifiers_uscc_check. */
int identifiers_orgcode_check(const char *code, char *reason, size_t reason_size);

/* 0 if id is a well-formed resident identity card number for someone born on
 * or before today_yyyymmdd (e.g. 20260301; 0 for the local date now);
 * otherwise -1 and a reason, as identifiers_uscc_check. Problems are looked
 * for in this order: length, characters, division code, birth date, check
 * character. The last character must be a digit or capital X. */
int identifiers_resident_id_check(const char *id, int today_yyyymmdd, char *reason,
                                  size_t reason_size);

/* Sets *yyyymmdd to the birth date of a well-formed resident identity card
 * number (as identifiers_resident_id_check, without the future-date rule)
 * and returns 0; returns -1 and leaves *yyyymmdd alone for anything else. */
int identifiers_resident_id_birth(const char *id, int *yyyymmdd);

/* 'M' or 'F' from the sequence digits of a well-formed resident identity card
 * number (as identifiers_resident_id_birth); 0 for anything else. */
int identifiers_resident_id_sex(const char *id);

/* 0 if code is a well-formed division code (six digits starting with a
 * province code: 11-15, 21-23, 31-37, 41-46, 50-54, 61-65, 71, 81 or 82);
 * otherwise -1 and a reason, as identifiers_uscc_check. */
int identifiers_division_check(const char *code, char *reason, size_t reason_size);

/* The level of a well-formed division code: 1 for a province (ends 0000),
 * 2 for a prefecture (ends 00), 3 for a county; -1 if not well formed. */
int identifiers_division_level(const char *code);

/* Writes id for public display into out: for an 18-character id, the first
 * six and the last four characters with eight asterisks between
 * ("110105********002X"); for anything else (NULL or another length), 18
 * asterisks, so nothing of a malformed number is shown. Does not check id. */
void identifiers_mask_resident_id(const char *id, char out[19]);

/* Writes phone for public display into out (NUL-terminated, truncated to
 * size without splitting a UTF-8 character): an 11-digit mainland mobile
 * number starting with 1 keeps its first three and last four digits
 * ("138****5678"); anything else has every character but the last two
 * replaced by one asterisk each ("010-12345678" gives "**********78").
 * NULL gives "". */
void identifiers_mask_phone(const char *phone, char *out, size_t size);

/* true when text is shaped as a UUID in PostgreSQL's text form: 36
 * characters, hex digits with dashes at 8, 13, 18 and 23. */
bool identifiers_uuid_shaped(const char *text);

#endif
