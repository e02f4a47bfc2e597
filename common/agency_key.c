/*
 * agency_key.c - the agency's Ed25519 key; see agency_key.h.
 *
 * Cryptography is libsodium's: crypto_sign_detached / _verify_detached
 * (Ed25519), crypto_hash_sha256 for the key id, sodium_bin2hex and
 * sodium_hex2bin for the text forms. Hex input is checked here first
 * (exact length, nothing but hex digits) so that sodium_hex2bin never has to
 * decide what to do with stray characters. Secret material (the key, the
 * secret file's text, the seed) is wiped with sodium_memzero as soon as it is
 * no longer needed, on every path.
 */
#include "agency_key.h"

#include <sodium.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bytes of the key id: 8 bytes are 16 hex digits. */
#define KEY_ID_BYTES ((AGENCY_KEY_ID_SIZE - 1) / 2)

struct _agency_key_t {
    unsigned char secret[crypto_sign_SECRETKEYBYTES]; /* seed, then public key */
    unsigned char public_key[crypto_sign_PUBLICKEYBYTES];
    char id[AGENCY_KEY_ID_SIZE];
    char public_hex[AGENCY_KEY_PUBLIC_HEX_SIZE];
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
                     char id[AGENCY_KEY_ID_SIZE])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, public_key, crypto_sign_PUBLICKEYBYTES);
    sodium_bin2hex(id, AGENCY_KEY_ID_SIZE, digest, KEY_ID_BYTES);
}

/* Fills self from text, the secret file's content without its LF. Returns
 * NULL, or the reason the text is not a key. */
static const char *s_key_parse(agency_key_t *self, const char *text)
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

agency_key_t *agency_key_load(const char *secret_path, char *reason, size_t reason_size)
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
    char text[AGENCY_KEY_SECRET_HEX_SIZE + 2];
    size_t length = fread(text, 1, sizeof text - 1, file);
    bool failed = ferror(file) != 0;
    fclose(file);
    text[length] = '\0';
    if (length == AGENCY_KEY_SECRET_HEX_SIZE && text[length - 1] == '\n')
        text[--length] = '\0';

    const char *problem = NULL;
    agency_key_t *self = NULL;
    if (failed)
        problem = "cannot read the key file";
    else if (length != AGENCY_KEY_SECRET_HEX_SIZE - 1) /* short, long, or a NUL at the end */
        problem = "key file is not 128 hex digits";
    else if (!(self = calloc(1, sizeof *self)))
        problem = "out of memory";
    else
        problem = s_key_parse(self, text);
    sodium_memzero(text, sizeof text);
    if (problem) {
        s_reason(reason, reason_size, problem);
        agency_key_destroy(&self);
    }
    return self;
}

void agency_key_destroy(agency_key_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    agency_key_t *self = *self_p;
    sodium_memzero(self, sizeof *self);
    free(self);
    *self_p = NULL;
}

const char *agency_key_id(agency_key_t *self)
{
    return self ? self->id : NULL;
}

const char *agency_key_public_hex(agency_key_t *self)
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

int agency_key_generate(const char *path)
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
    char public_text[AGENCY_KEY_PUBLIC_HEX_SIZE + 1];
    char secret_text[AGENCY_KEY_SECRET_HEX_SIZE + 1];
    int rc = crypto_sign_keypair(public_key, secret);
    if (rc == 0) {
        sodium_bin2hex(public_text, AGENCY_KEY_PUBLIC_HEX_SIZE, public_key, sizeof public_key);
        strcat(public_text, "\n");
        sodium_bin2hex(secret_text, AGENCY_KEY_SECRET_HEX_SIZE, secret, sizeof secret);
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

int agency_key_sign(agency_key_t *self, const void *bytes, size_t size,
                    char signature_hex[AGENCY_KEY_SIGNATURE_HEX_SIZE])
{
    if (!signature_hex)
        return -1;
    signature_hex[0] = '\0';
    if (!self || !bytes || s_sodium_ready() != 0)
        return -1;
    unsigned char signature[crypto_sign_BYTES];
    if (crypto_sign_detached(signature, NULL, bytes, size, self->secret) != 0)
        return -1;
    sodium_bin2hex(signature_hex, AGENCY_KEY_SIGNATURE_HEX_SIZE, signature, sizeof signature);
    return 0;
}

int agency_key_id_of(const char *public_key_hex, char id[AGENCY_KEY_ID_SIZE])
{
    unsigned char public_key[crypto_sign_PUBLICKEYBYTES];
    if (s_sodium_ready() != 0 || s_hex_decode(public_key_hex, public_key, sizeof public_key) != 0)
        return -1;
    s_key_id(public_key, id);
    return 0;
}

int agency_key_verify(const char *public_key_hex, const void *bytes, size_t size,
                      const char *signature_hex, char *reason, size_t reason_size)
{
    s_reason(reason, reason_size, "");
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
    if (!bytes || crypto_sign_verify_detached(signature, bytes, size, public_key) != 0) {
        s_reason(reason, reason_size, "signature does not match");
        return -1;
    }
    return 0;
}

bool agency_key_signature_hex_valid(const char *text)
{
    unsigned char signature[crypto_sign_BYTES];
    return s_hex_decode(text, signature, sizeof signature) == 0;
}
