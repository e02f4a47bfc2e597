/*
 * licence.h - the electronic business licence (电子营业执照): the licence
 * fields signed with the issuing agency's Ed25519 key, so that anyone holding
 * the licence and the agency's public key (a bank, another agency) can check
 * it offline, without calling the registry.
 *
 * What is signed is not the protobuf encoding of chuang.registry.Licence but
 * a canonical byte string built from the fields, so that a verifier in any
 * language can rebuild it from the licence as displayed or transmitted:
 *
 *   chuang-licence-v1\n
 *   credit_code=<value>\n
 *   name=<value>\n
 *   entity_type=<value>\n
 *   legal_representative=<value>\n
 *   registered_capital_fen=<value>\n
 *   business_scope=<value>\n
 *   domicile=<value>\n
 *   registered_on=<value>\n
 *   issuing_agency=<value>\n
 *   issued_at=<value>\n
 *   key_id=<value>\n
 *
 * Exactly these twelve lines, in this order, each ending in one LF (0x0A),
 * the last one included; no BOM, no blanks around '='. Each value is the
 * field's UTF-8 bytes as given (no normalisation, no trimming; empty is
 * allowed) with four bytes escaped by a backslash, shown here as bytes:
 *
 *   backslash 5C  ->  5C 5C  (two backslashes)
 *   LF        0A  ->  5C 6E  (backslash, 'n')
 *   CR        0D  ->  5C 72  (backslash, 'r')
 *   '='       3D  ->  5C 3D  (backslash, '=')
 *
 * and every other byte copied. A value therefore never holds a raw LF or an
 * unescaped '=', every escape is a backslash and one character, and two
 * different sets of fields never give the same bytes. Fields that are not
 * valid UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF) are refused, never repaired. The first line names the version:
 * any change to the fields or the escaping gets a new one.
 *
 * The caller formats every field as text; the module signs what it is given.
 * By the registry's convention registered_capital_fen is an integer in fen
 * ("1000000" for 10,000 yuan), registered_on a date "YYYY-MM-DD", issued_at
 * an instant in ISO 8601 UTC ("2026-11-21T10:00:00Z"), and key_id the signing
 * key's id (agency_key_id): signing it binds the licence to one key.
 *
 * Keys and signatures are lower-case hex on the way out (either case is taken
 * on the way in):
 *   public key  32 bytes, 64 hex digits
 *   secret key  64 bytes (libsodium's seed followed by the public key),
 *               128 hex digits
 *   signature   64 bytes, 128 hex digits: the detached Ed25519 signature of
 *               the canonical bytes (RFC 8032, pure Ed25519, deterministic)
 *   key id      16 hex digits: the first 8 bytes of SHA-256 of the 32 raw
 *               bytes of the public key
 *
 * A loaded key is read-only, so one key may sign from several threads at
 * once. Every function is thread-safe; none logs.
 */
#ifndef CHUANG_LICENCE_H
#define CHUANG_LICENCE_H

#include "agency_key.h"
#include "registry.pb-c.h"
#include <stddef.h>

/* The first line of the canonical form, without its LF. */
#define LICENCE_CANONICAL_VERSION "chuang-licence-v1"

/* Sizes of the hex texts, each with its NUL (the agency key's). */
#define LICENCE_PUBLIC_HEX_SIZE    AGENCY_KEY_PUBLIC_HEX_SIZE
#define LICENCE_SECRET_HEX_SIZE    AGENCY_KEY_SECRET_HEX_SIZE
#define LICENCE_SIGNATURE_HEX_SIZE AGENCY_KEY_SIGNATURE_HEX_SIZE
#define LICENCE_KEY_ID_SIZE        AGENCY_KEY_ID_SIZE

/* The signed fields of a licence, as NUL-terminated UTF-8; see above. The
 * strings are the caller's and are only read. */
typedef struct {
    const char *credit_code;            /* 统一社会信用代码 */
    const char *name;                   /* 名称 */
    const char *entity_type;            /* 类型 */
    const char *legal_representative;   /* 法定代表人 (name only) */
    const char *registered_capital_fen; /* 注册资本, integer fen */
    const char *business_scope;         /* 经营范围 */
    const char *domicile;               /* 住所 */
    const char *registered_on;          /* 成立日期, YYYY-MM-DD */
    const char *issuing_agency;         /* 登记机关 */
    const char *issued_at;              /* 发照时间, ISO 8601 UTC */
    const char *key_id;                 /* agency_key_id of the signing key */
} licence_fields_t;

/* The canonical bytes of fields, as above, followed by a NUL that is not
 * counted (the bytes hold no other NUL, so they are also a C string). Stores
 * their length in *size when size is not NULL. The caller frees the result
 * with free(). Returns NULL when fields or one of its strings is NULL, when a
 * field is not valid UTF-8, or when memory runs out. */
char *licence_canonical(const licence_fields_t *fields, size_t *size);

/* Signs fields with the key and writes the detached signature as 128
 * lower-case hex digits and a NUL into signature_hex. fields->key_id must be
 * this key's id. Returns 0; or -1, with signature_hex set to "" when it is
 * not NULL, when an argument is NULL, the key id differs, or a field is
 * missing or not valid UTF-8. */
int licence_sign(agency_key_t *key, const licence_fields_t *fields,
                 char signature_hex[LICENCE_SIGNATURE_HEX_SIZE]);

/* Checks a licence offline: no network, no database, no key file. Returns 0
 * when signature_hex (128 hex digits) is a valid Ed25519 signature of the
 * canonical bytes of fields by public_key_hex (64 hex digits) and
 * fields->key_id is that public key's id. Returns -1 otherwise, with a short
 * lower-case reason written to reason (when reason is not NULL and
 * reason_size > 0), one of:
 *   "licence is missing"
 *   "public key is not 64 hex digits"
 *   "signature is not 128 hex digits"
 *   "a licence field is missing or not valid utf-8"
 *   "key id does not match the public key"
 *   "signature does not match the licence"
 *   "libsodium cannot be initialised" / "out of memory"
 * The checks run in that order, so a licence with a foreign key id is
 * reported as such even when its signature is also wrong. */
int licence_verify(const licence_fields_t *fields, const char *signature_hex,
                   const char *public_key_hex, char *reason, size_t reason_size);

/* The signed fields of a licence message, pointing into it. */
licence_fields_t licence_fields_of(const Chuang__Registry__Licence *licence);

#endif
