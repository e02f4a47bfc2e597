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
 * Cryptography is libsodium's: crypto_sign_detached / _verify_detached
 * (Ed25519), crypto_hash_sha256 for the key id, sodium_bin2hex and
 * sodium_hex2bin for the text forms. Hex input is checked here first
 * (exact length, nothing but hex digits) so that sodium_hex2bin never has to
 * decide what to do with stray characters. Secret material (the key, the
 * secret file's text, the seed) is wiped with sodium_memzero as soon as it is
 * no longer needed, on every path.
 */
#include "licence.h"

#include <sodium.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* Bytes of the key id: 8 bytes are 16 hex digits. */
#define KEY_ID_BYTES ((LICENCE_KEY_ID_SIZE - 1) / 2)

struct _licence_key_t {
    unsigned char secret[crypto_sign_SECRETKEYBYTES]; /* seed, then public key */
    unsigned char public_key[crypto_sign_PUBLICKEYBYTES];
    char id[LICENCE_KEY_ID_SIZE];
    char public_hex[LICENCE_PUBLIC_HEX_SIZE];
};

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

/* 0 when libsodium is ready (initialising it on first use), -1 otherwise. */
static int s_sodium_ready(void)
{
    return sodium_init() < 0 ? -1 : 0;
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

/* Decodes hex, which must be exactly 2 * bin_size hex digits of either case
 * and nothing else, into bin. Returns 0, or -1 without touching bin. */
static int s_hex_decode(const char *hex, unsigned char *bin, size_t bin_size)
{
    if (!hex)
        return -1;
    for (size_t i = 0; i < 2 * bin_size; i++) {
        char c = hex[i];
        bool digit = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (!digit)
            return -1; /* also stops at a NUL */
    }
    if (hex[2 * bin_size] != '\0')
        return -1;
    size_t decoded = 0;
    if (sodium_hex2bin(bin, bin_size, hex, 2 * bin_size, NULL, &decoded, NULL) != 0 ||
        decoded != bin_size)
        return -1;
    return 0;
}

/* Writes the id of public_key (16 lower-case hex digits and a NUL) to id. */
static void s_key_id(const unsigned char public_key[crypto_sign_PUBLICKEYBYTES],
                     char id[LICENCE_KEY_ID_SIZE])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, public_key, crypto_sign_PUBLICKEYBYTES);
    sodium_bin2hex(id, LICENCE_KEY_ID_SIZE, digest, KEY_ID_BYTES);
}

/* Fills self from text, the secret file's content without its LF. Returns
 * NULL, or the reason the text is not a key. */
static const char *s_key_parse(licence_key_t *self, const char *text)
{
    if (s_hex_decode(text, self->secret, sizeof self->secret) != 0)
        return "key file is not 128 hex digits";
    /* The secret key is seed || public key: rebuild the pair from the seed
     * and insist that the stored public half is the one it gives. */
    unsigned char seed[crypto_sign_SEEDBYTES];
    unsigned char secret[crypto_sign_SECRETKEYBYTES];
    crypto_sign_ed25519_sk_to_seed(seed, self->secret);
    int rc = crypto_sign_seed_keypair(self->public_key, secret, seed);
    bool same = rc == 0 && sodium_memcmp(secret, self->secret, sizeof secret) == 0;
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(secret, sizeof secret);
    if (!same)
        return "key file's public half does not match its secret half";
    s_key_id(self->public_key, self->id);
    sodium_bin2hex(self->public_hex, sizeof self->public_hex, self->public_key,
                   sizeof self->public_key);
    return NULL;
}

licence_key_t *licence_key_load(const char *secret_path, char *reason, size_t reason_size)
{
    s_reason(reason, reason_size, "");
    if (!secret_path) {
        s_reason(reason, reason_size, "no key file given");
        return NULL;
    }
    if (s_sodium_ready() != 0) {
        s_reason(reason, reason_size, "libsodium cannot be initialised");
        return NULL;
    }
    FILE *file = fopen(secret_path, "rb");
    if (!file) {
        char text[128];
        snprintf(text, sizeof text, "cannot open the key file: %s", strerror(errno));
        s_reason(reason, reason_size, text);
        return NULL;
    }
    /* Unbuffered, so that no stdio buffer keeps a copy of the secret; room
     * for the 128 digits, a LF and one byte more, to notice a longer file
     * without reading all of it. */
    setvbuf(file, NULL, _IONBF, 0);
    char text[LICENCE_SECRET_HEX_SIZE + 2];
    size_t length = fread(text, 1, sizeof text - 1, file);
    bool failed = ferror(file) != 0;
    fclose(file);
    text[length] = '\0';
    if (length == LICENCE_SECRET_HEX_SIZE && text[length - 1] == '\n')
        text[--length] = '\0';

    const char *problem = NULL;
    licence_key_t *self = NULL;
    if (failed)
        problem = "cannot read the key file";
    else if (length != LICENCE_SECRET_HEX_SIZE - 1) /* short, long, or a NUL at the end */
        problem = "key file is not 128 hex digits";
    else if (!(self = calloc(1, sizeof *self)))
        problem = "out of memory";
    else
        problem = s_key_parse(self, text);
    sodium_memzero(text, sizeof text);
    if (problem) {
        s_reason(reason, reason_size, problem);
        licence_key_destroy(&self);
    }
    return self;
}

void licence_key_destroy(licence_key_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    licence_key_t *self = *self_p;
    sodium_memzero(self, sizeof *self);
    free(self);
    *self_p = NULL;
}

const char *licence_key_id(licence_key_t *self)
{
    return self ? self->id : NULL;
}

const char *licence_key_public_hex(licence_key_t *self)
{
    return self ? self->public_hex : NULL;
}

/* Creates path, which must not exist, with mode and writes text to it.
 * Returns 0; or -1, removing the file if it was created. */
static int s_write_new(const char *path, mode_t mode, const char *text, size_t length)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return -1;
    int rc = fchmod(fd, mode); /* whatever the umask says */
    size_t written = 0;
    while (rc == 0 && written < length) {
        ssize_t n = write(fd, text + written, length - written);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = -1;
        else
            written += (size_t)n;
    }
    if (rc == 0)
        rc = fsync(fd);
    if (close(fd) != 0)
        rc = -1;
    if (rc != 0)
        unlink(path);
    return rc;
}

int licence_key_generate(const char *path)
{
    if (!path || s_sodium_ready() != 0)
        return -1;
    char secret_path[PATH_MAX];
    int n = snprintf(secret_path, sizeof secret_path, "%s_secret", path);
    if (n < 0 || (size_t)n >= sizeof secret_path)
        return -1;
    /* Neither file may exist: O_EXCL checks again as each is created. */
    if (access(path, F_OK) == 0 || access(secret_path, F_OK) == 0)
        return -1;

    unsigned char public_key[crypto_sign_PUBLICKEYBYTES];
    unsigned char secret[crypto_sign_SECRETKEYBYTES];
    char public_text[LICENCE_PUBLIC_HEX_SIZE + 1];
    char secret_text[LICENCE_SECRET_HEX_SIZE + 1];
    int rc = crypto_sign_keypair(public_key, secret);
    if (rc == 0) {
        sodium_bin2hex(public_text, LICENCE_PUBLIC_HEX_SIZE, public_key, sizeof public_key);
        strcat(public_text, "\n");
        sodium_bin2hex(secret_text, LICENCE_SECRET_HEX_SIZE, secret, sizeof secret);
        strcat(secret_text, "\n");
        /* The secret first, so that a public key file never exists without
         * the secret it belongs to. */
        rc = s_write_new(secret_path, 0600, secret_text, strlen(secret_text));
        if (rc == 0) {
            rc = s_write_new(path, 0644, public_text, strlen(public_text));
            if (rc != 0)
                unlink(secret_path);
        }
    }
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(secret_text, sizeof secret_text);
    return rc == 0 ? 0 : -1;
}

int licence_sign(licence_key_t *self, const licence_fields_t *fields,
                 char signature_hex[LICENCE_SIGNATURE_HEX_SIZE])
{
    if (!signature_hex)
        return -1;
    signature_hex[0] = '\0';
    if (!self || !fields || !fields->key_id || strcmp(fields->key_id, self->id) != 0)
        return -1;
    if (s_sodium_ready() != 0)
        return -1;
    size_t size;
    char *canonical = licence_canonical(fields, &size);
    if (!canonical)
        return -1;
    unsigned char signature[crypto_sign_BYTES];
    int rc =
        crypto_sign_detached(signature, NULL, (const unsigned char *)canonical, size, self->secret);
    free(canonical);
    if (rc != 0)
        return -1;
    sodium_bin2hex(signature_hex, LICENCE_SIGNATURE_HEX_SIZE, signature, sizeof signature);
    return 0;
}

int licence_verify(const licence_fields_t *fields, const char *signature_hex,
                   const char *public_key_hex, char *reason, size_t reason_size)
{
    s_reason(reason, reason_size, "");
    if (!fields) {
        s_reason(reason, reason_size, "licence is missing");
        return -1;
    }
    if (s_sodium_ready() != 0) {
        s_reason(reason, reason_size, "libsodium cannot be initialised");
        return -1;
    }
    unsigned char public_key[crypto_sign_PUBLICKEYBYTES];
    if (s_hex_decode(public_key_hex, public_key, sizeof public_key) != 0) {
        s_reason(reason, reason_size, "public key is not 64 hex digits");
        return -1;
    }
    unsigned char signature[crypto_sign_BYTES];
    if (s_hex_decode(signature_hex, signature, sizeof signature) != 0) {
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
    char id[LICENCE_KEY_ID_SIZE];
    s_key_id(public_key, id);
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
    int rc =
        crypto_sign_verify_detached(signature, (const unsigned char *)canonical, size, public_key);
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
