/*
 * fuzz_identifiers.c - libFuzzer harness for the identifier checks every
 * request's fields go through: unified social credit codes, organisation
 * codes, resident ID numbers, division codes, normalisation and masking,
 * on the bytes as one NUL-terminated text.
 */
#include "identifiers.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char reason[128], masked[64], id[19];
    int birth = 0;
    (void)identifiers_uscc_check(text, reason, sizeof reason);
    (void)identifiers_orgcode_check(text, reason, sizeof reason);
    (void)identifiers_resident_id_check(text, 20261201, reason, sizeof reason);
    (void)identifiers_resident_id_birth(text, &birth);
    (void)identifiers_resident_id_sex(text);
    (void)identifiers_division_check(text, reason, sizeof reason);
    (void)identifiers_division_level(text);
    identifiers_mask_resident_id(text, id);
    identifiers_mask_phone(text, masked, sizeof masked);
    if (strlen(text) >= 17)
        (void)identifiers_uscc_check_char(text);
    if (strlen(text) >= 8)
        (void)identifiers_orgcode_check_char(text);
    identifiers_normalise(text);
    free(text);
    return 0;
}
