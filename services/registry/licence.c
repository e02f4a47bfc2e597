/*
 * licence.c - signing and offline verification of electronic licences; see
 * licence.h.
 *
 * The canonical form is built in two passes over a fixed table of the field
 * names and their offsets in licence_fields_t: the first validates the UTF-8
 * and measures the escaped length, the second writes into one exact-size
 * buffer. Signing and verifying both go through licence_canonical, so they
 * cannot disagree about the bytes.
 *
 * The key and the Ed25519 signature itself are the agency key's
 * (common/agency_key.h), which the audit log's checkpoints share.
 */
#include "licence.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* The fields of the canonical form, in their order. */
static const struct {
    const char *name;
    size_t offset;
} s_fields[] = {
    {"credit_code", offsetof(licence_fields_t, credit_code)},
    {"name", offsetof(licence_fields_t, name)},
    {"entity_type", offsetof(licence_fields_t, entity_type)},
    {"legal_representative", offsetof(licence_fields_t, legal_representative)},
    {"registered_capital_fen", offsetof(licence_fields_t, registered_capital_fen)},
    {"business_scope", offsetof(licence_fields_t, business_scope)},
    {"domicile", offsetof(licence_fields_t, domicile)},
    {"registered_on", offsetof(licence_fields_t, registered_on)},
    {"issuing_agency", offsetof(licence_fields_t, issuing_agency)},
    {"issued_at", offsetof(licence_fields_t, issued_at)},
    {"key_id", offsetof(licence_fields_t, key_id)},
};

/* Writes text into reason when there is room for anything. */
static void s_reason(char *reason, size_t reason_size, const char *text)
{
    if (reason && reason_size > 0)
        snprintf(reason, reason_size, "%s", text);
}

/* The value of field i of fields. */
static const char *s_field(const licence_fields_t *fields, size_t i)
{
    return *(const char *const *)((const char *)fields + s_fields[i].offset);
}

/* true when text is valid UTF-8 by RFC 3629: no overlong forms, no UTF-16
 * surrogates, nothing above U+10FFFF. Never reads past the NUL. */
static bool s_utf8_valid(const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    while (*s) {
        unsigned char lead = *s;
        if (lead < 0x80) {
            s++;
            continue;
        }
        int length;
        unsigned char low = 0x80, high = 0xBF; /* the range of the second byte */
        if (lead >= 0xC2 && lead <= 0xDF) {
            length = 2;
        } else if (lead >= 0xE0 && lead <= 0xEF) {
            length = 3;
            if (lead == 0xE0)
                low = 0xA0; /* overlong below U+0800 */
            else if (lead == 0xED)
                high = 0x9F; /* surrogates U+D800..U+DFFF */
        } else if (lead >= 0xF0 && lead <= 0xF4) {
            length = 4;
            if (lead == 0xF0)
                low = 0x90; /* overlong below U+10000 */
            else if (lead == 0xF4)
                high = 0x8F; /* above U+10FFFF */
        } else {
            return false; /* continuation byte, C0, C1 or F5..FF */
        }
        if (s[1] < low || s[1] > high)
            return false; /* also stops at a NUL */
        for (int k = 2; k < length; k++) {
            if (s[k] < 0x80 || s[k] > 0xBF)
                return false;
        }
        s += length;
    }
    return true;
}

/* The escape for byte c (the character after the backslash), or 0 when c is
 * copied as it is. */
static char s_escape(unsigned char c)
{
    switch (c) {
    case '\\':
        return '\\';
    case '\n':
        return 'n';
    case '\r':
        return 'r';
    case '=':
        return '=';
    default:
        return 0;
    }
}

char *licence_canonical(const licence_fields_t *fields, size_t *size)
{
    if (size)
        *size = 0;
    if (!fields)
        return NULL;

    /* First pass: validate and measure. */
    size_t total = strlen(LICENCE_CANONICAL_VERSION) + 1;
    for (size_t i = 0; i < COUNT(s_fields); i++) {
        const char *value = s_field(fields, i);
        if (!value || !s_utf8_valid(value))
            return NULL;
        size_t length = strlen(s_fields[i].name) + 2; /* '=' and LF */
        for (const unsigned char *p = (const unsigned char *)value; *p; p++)
            length += s_escape(*p) ? 2 : 1;
        if (length > SIZE_MAX - 1 - total)
            return NULL;
        total += length;
    }

    /* Second pass: write. */
    char *canonical = malloc(total + 1);
    if (!canonical)
        return NULL;
    char *out = canonical;
    out += sprintf(out, "%s\n", LICENCE_CANONICAL_VERSION);
    for (size_t i = 0; i < COUNT(s_fields); i++) {
        size_t name_length = strlen(s_fields[i].name);
        memcpy(out, s_fields[i].name, name_length);
        out += name_length;
        *out++ = '=';
        for (const unsigned char *p = (const unsigned char *)s_field(fields, i); *p; p++) {
            char escape = s_escape(*p);
            if (escape) {
                *out++ = '\\';
                *out++ = escape;
            } else {
                *out++ = (char)*p;
            }
        }
        *out++ = '\n';
    }
    *out = '\0';
    if (size)
        *size = total;
    return canonical;
}

int licence_sign(agency_key_t *key, const licence_fields_t *fields,
                 char signature_hex[LICENCE_SIGNATURE_HEX_SIZE])
{
    if (!signature_hex)
        return -1;
    signature_hex[0] = '\0';
    if (!key || !fields || !fields->key_id || strcmp(fields->key_id, agency_key_id(key)) != 0)
        return -1;
    size_t size;
    char *canonical = licence_canonical(fields, &size);
    if (!canonical)
        return -1;
    int rc = agency_key_sign(key, canonical, size, signature_hex);
    free(canonical);
    return rc;
}

int licence_verify(const licence_fields_t *fields, const char *signature_hex,
                   const char *public_key_hex, char *reason, size_t reason_size)
{
    s_reason(reason, reason_size, "");
    if (!fields) {
        s_reason(reason, reason_size, "licence is missing");
        return -1;
    }
    char id[LICENCE_KEY_ID_SIZE];
    if (agency_key_id_of(public_key_hex, id) != 0) {
        s_reason(reason, reason_size, "public key is not 64 hex digits");
        return -1;
    }
    if (!agency_key_signature_hex_valid(signature_hex)) {
        s_reason(reason, reason_size, "signature is not 128 hex digits");
        return -1;
    }
    bool fields_valid = true;
    for (size_t i = 0; i < COUNT(s_fields) && fields_valid; i++) {
        const char *value = s_field(fields, i);
        fields_valid = value && s_utf8_valid(value);
    }
    if (!fields_valid) {
        s_reason(reason, reason_size, "a licence field is missing or not valid utf-8");
        return -1;
    }
    if (strcmp(fields->key_id, id) != 0) {
        s_reason(reason, reason_size, "key id does not match the public key");
        return -1;
    }
    size_t size;
    char *canonical = licence_canonical(fields, &size);
    if (!canonical) {
        s_reason(reason, reason_size, "out of memory"); /* the fields are valid */
        return -1;
    }
    int rc = agency_key_verify(public_key_hex, canonical, size, signature_hex, NULL, 0);
    free(canonical);
    if (rc != 0) {
        s_reason(reason, reason_size, "signature does not match the licence");
        return -1;
    }
    return 0;
}

licence_fields_t licence_fields_of(const Chuang__Registry__Licence *licence)
{
    return (licence_fields_t){
        .credit_code = licence->credit_code,
        .name = licence->name,
        .entity_type = licence->entity_type,
        .legal_representative = licence->legal_representative,
        .registered_capital_fen = licence->registered_capital_fen,
        .business_scope = licence->business_scope,
        .domicile = licence->domicile,
        .registered_on = licence->registered_on,
        .issuing_agency = licence->issuing_agency,
        .issued_at = licence->issued_at,
        .key_id = licence->key_id,
    };
}
