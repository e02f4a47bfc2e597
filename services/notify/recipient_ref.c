/*
 * recipient_ref.c - opaque references for people; see recipient_ref.h.
 */
#include "recipient_ref.h"
#include "identifiers.h"
#include "logger.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* Any date far enough ahead that a real birth date is before it. */
#define NO_FUTURE_DATE 99991231
#define REF_BYTES      16

static unsigned char s_key[crypto_auth_hmacsha256_KEYBYTES];

int recipient_ref_init(const char *key_path)
{
    if (!key_path) {
        log_error("notify.recipient_key is not set; notify names people by a keyed reference",
                  "hint=\"write 64 random hex digits to a file the service alone reads\"");
        return -1;
    }
    FILE *file = fopen(key_path, "r");
    char text[2 * sizeof s_key + 2] = "";
    if (file) {
        if (!fgets(text, sizeof text, file))
            text[0] = '\0';
        fclose(file);
    }
    text[strcspn(text, "\r\n")] = '\0';
    size_t length = 0;
    int rc =
        sodium_init() >= 0 && strlen(text) == 2 * sizeof s_key &&
                sodium_hex2bin(s_key, sizeof s_key, text, strlen(text), NULL, &length, NULL) == 0 &&
                length == sizeof s_key
            ? 0
            : -1;
    sodium_memzero(text, sizeof text);
    if (rc != 0)
        log_error("cannot load the recipient key", "setting=notify.recipient_key path=%s",
                  key_path);
    return rc;
}

void recipient_ref(const char *id, char out[RECIPIENT_REF_SIZE])
{
    if (!id || identifiers_resident_id_check(id, NO_FUTURE_DATE, NULL, 0) != 0) {
        snprintf(out, RECIPIENT_REF_SIZE, "%s", id ? id : "");
        return;
    }
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char input[64];
    snprintf(input, sizeof input, "resident:%s", id);
    crypto_auth_hmacsha256(mac, (const unsigned char *)input, strlen(input), s_key);
    out[0] = 'p';
    sodium_bin2hex(out + 1, RECIPIENT_REF_SIZE - 1, mac, REF_BYTES);
}
