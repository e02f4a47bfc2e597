/*
 * fuzz_gateway.c - libFuzzer harness for what the gateway reads of a
 * request before any service sees it: the path, matched against the route
 * table for each verb, and the Accept-Language header, with the problem
 * made for the language. The input's first line is the path, the rest the
 * header.
 */
#include "problem.h"
#include "routes.h"

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
    char *header = strchr(text, '\n');
    if (header)
        *header++ = '\0';
    route_match_t *match = malloc(sizeof *match);
    if (match) {
        (void)routes_match("GET", text, match);
        (void)routes_match("POST", text, match);
        free(match);
    }
    problem_language_t language = problem_language(header);
    json_t *problem =
        problem_new(CHUANG__STATUS__INVALID_ARGUMENT, language, text, header ? header : "", "x");
    json_decref(problem);
    free(text);
    return 0;
}
