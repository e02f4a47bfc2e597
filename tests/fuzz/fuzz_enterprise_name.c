/*
 * fuzz_enterprise_name.c - libFuzzer harness for enterprise names as an
 * applicant writes them: the bytes, split at the first three newlines,
 * are the region, trade name, industry and organisational form given to
 * enterprise_name_parse, with one extra forbidden word.
 */
#include "enterprise_name.h"

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
    char *parts[4] = {text, "", "", ""};
    for (int i = 1; i < 4; i++) {
        char *newline = strchr(parts[i - 1], '\n');
        if (!newline)
            break;
        *newline = '\0';
        parts[i] = newline + 1;
    }
    const char *forbidden[] = {"国家", NULL};
    enterprise_name_t name;
    enterprise_name_violation_t violations[8];
    (void)enterprise_name_parse(parts[0], parts[1], parts[2], parts[3], forbidden, &name,
                                violations, 8);
    (void)enterprise_name_form_allowed(parts[3]);
    (void)enterprise_name_utf8_length(parts[1]);
    free(text);
    return 0;
}
