/*
 * agency_key.h - the agency's Ed25519 signing key: what its electronic
 * licences and its audit log's checkpoints are signed with, so that anyone
 * holding the agency's public key can check them offline.
 *
 * Keys and signatures are lower-case hex on the way out (either case is taken
 * on the way in):
 *   public key  32 bytes, 64 hex digits
 *   secret key  64 bytes (libsodium's seed followed by the public key),
 *               128 hex digits
 *   signature   64 bytes, 128 hex digits: the detached Ed25519 signature of
 *               the bytes signed (RFC 8032, pure Ed25519, deterministic)
 *   key id      16 hex digits: the first 8 bytes of SHA-256 of the 32 raw
 *               bytes of the public key
 *
 * A loaded key is read-only, so one key may sign from several threads at
 * once. Every function is thread-safe; none logs.
 */
#ifndef CHUANG_AGENCY_KEY_H
#define CHUANG_AGENCY_KEY_H

#include <stdbool.h>
#include <stddef.h>

/* Sizes of the hex texts, each with its NUL. */
#define AGENCY_KEY_PUBLIC_HEX_SIZE    65
#define AGENCY_KEY_SECRET_HEX_SIZE    129
#define AGENCY_KEY_SIGNATURE_HEX_SIZE 129
#define AGENCY_KEY_ID_SIZE            17

typedef struct _agency_key_t agency_key_t;

/* Loads the secret key file that agency_key_generate wrote as
 * <path>_secret: exactly 128 hex digits, optionally followed by one LF, and
 * nothing else. The public half of the file must be the one its seed gives,
 * so a file changed in either half is refused. Returns the key, to be freed
 * with agency_key_destroy; or NULL, logging nothing, with a short lower-case
 * reason written to reason (when reason is not NULL and reason_size > 0),
 * such as "cannot open the key file: No such file or directory" or "key file
 * is not 128 hex digits". */
agency_key_t *agency_key_load(const char *secret_path, char *reason, size_t reason_size);

/* Wipes the secret key, frees the key and nulls *self_p; safe when self_p or
 * *self_p is NULL. */
void agency_key_destroy(agency_key_t **self_p);

/* The key id (16 lower-case hex digits) and the public key (64 lower-case
 * hex digits). The strings belong to the key and live as long as it; NULL
 * when self is NULL. */
const char *agency_key_id(agency_key_t *self);
const char *agency_key_public_hex(agency_key_t *self);

/* Generates a fresh key pair and writes path (the public key: 64 hex digits
 * and a LF) and <path>_secret (mode 0600: the 64-byte secret key as 128 hex
 * digits and a LF). Refuses to overwrite: returns -1, writing nothing, when
 * either file already exists, since a signing key that is overwritten is lost
 * for good. Returns 0, or -1 (with neither file left behind) when a file
 * cannot be written. */
int agency_key_generate(const char *path);

/* Signs size bytes and writes the detached signature as 128 lower-case hex
 * digits and a NUL into signature_hex. Returns 0; or -1, with signature_hex
 * set to "" when it is not NULL, when an argument is NULL. */
int agency_key_sign(agency_key_t *self, const void *bytes, size_t size,
                    char signature_hex[AGENCY_KEY_SIGNATURE_HEX_SIZE]);

/* Writes the key id of public_key_hex (64 hex digits). Returns 0, or -1
 * when it is not a public key. */
int agency_key_id_of(const char *public_key_hex, char id[AGENCY_KEY_ID_SIZE]);

/* true when text is a signature's form: exactly 128 hex digits. */
bool agency_key_signature_hex_valid(const char *text);

/* Checks offline that signature_hex is public_key_hex's signature of size
 * bytes. Returns 0; or -1 with a short lower-case reason ("public key is not
 * 64 hex digits", "signature is not 128 hex digits", "signature does not
 * match") written to reason when it is not NULL and reason_size > 0. */
int agency_key_verify(const char *public_key_hex, const void *bytes, size_t size,
                      const char *signature_hex, char *reason, size_t reason_size);

#endif
