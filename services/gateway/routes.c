/*
 * routes.c - the gateway's route table and how a path is matched against
 * it; see routes.h.
 *
 * A pattern is matched segment by segment: a literal segment must be equal,
 * a {name} segment takes any non-empty segment, and the path must have as
 * many segments as the pattern. The first route that takes
 * the path wins, so the resource routes stand before the generic one.
 */
#include "routes.h"

#include "catalog.h"

#include <stdio.h>
#include <string.h>

const route_t routes[] = {
    {"GET", "/v1/names", "registry", "SearchNames"},
    {"POST", "/v1/name-reservations", "registry", "ReserveName"},
    {"POST", "/v1/entities", "registry", "RegisterEntity"},
    {"GET", "/v1/entities/{credit_code}", "registry", "GetEntity"},
    {"GET", "/v1/entities/{credit_code}/credit-standing", "registry", "GetCreditStanding"},
    {"GET", "/v1/register/{credit_code}", "registry", "Lookup"},
    {"POST", "/v1/licences/verify", "registry", "VerifyLicence"},
    {"GET", "/v1/carriers", "incubator", "ListCarriers"},
    {"GET", "/v1/carriers/{code}", "incubator", "GetCarrier"},
    {"GET", "/v1/programmes/{code}", "finance", "GetProgramme"},
    {"POST", "/v1/{service}/{method}", NULL, NULL},
    {NULL, NULL, NULL, NULL},
};

const char *routes_service_name(const ProtobufCServiceDescriptor *service)
{
    const char *last = strrchr(service->package, '.');
    return last ? last + 1 : service->package;
}

#define SEGMENTS_MAX 16

/* Splits text in place at each '/' into *segments (after the leading '/').
 * Returns their count, or -1 when text does not start with '/' or has more
 * than SEGMENTS_MAX. */
static int s_split(char *text, char **segments)
{
    if (*text != '/')
        return -1;
    int n = 0;
    for (char *at = text + 1;; n++) {
        if (n == SEGMENTS_MAX)
            return -1;
        segments[n] = at;
        char *slash = strchr(at, '/');
        if (!slash)
            return n + 1;
        *slash = '\0';
        at = slash + 1;
    }
}

/* Matches path against pattern, filling match's parameters. */
static bool s_matches(const char *pattern, const char *path, route_match_t *match)
{
    char *want[SEGMENTS_MAX], *have[SEGMENTS_MAX];
    snprintf(match->pattern, sizeof match->pattern, "%s", pattern);
    snprintf(match->buffer, sizeof match->buffer, "%s", path);
    int n = s_split(match->pattern, want);
    if (n < 0 || s_split(match->buffer, have) != n)
        return false;
    match->n_params = 0;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(want[i]);
        if (len > 2 && want[i][0] == '{' && want[i][len - 1] == '}') {
            if (!*have[i] || match->n_params == ROUTES_PARAMS_MAX)
                return false;
            want[i][len - 1] = '\0';
            match->names[match->n_params] = want[i] + 1;
            match->values[match->n_params++] = have[i];
        } else if (strcmp(want[i], have[i]) != 0) {
            return false;
        }
    }
    return true;
}

int routes_match(const char *verb, const char *path, route_match_t *match)
{
    if (strlen(path) > ROUTES_PATH_MAX)
        return 0;
    const route_t *other = NULL;
    for (const route_t *route = routes; route->verb; route++) {
        if (!s_matches(route->pattern, path, match))
            continue;
        const char *service = route->service, *method = route->method;
        for (size_t i = 0; i < match->n_params; i++) {
            if (strcmp(match->names[i], "service") == 0)
                service = match->values[i];
            else if (strcmp(match->names[i], "method") == 0)
                method = match->values[i];
        }
        const ProtobufCServiceDescriptor *found_service = catalog_find_service(service);
        const ProtobufCMethodDescriptor *found_method =
            found_service ? protobuf_c_service_descriptor_get_method_by_name(found_service, method)
                          : NULL;
        if (!found_method)
            continue;
        if (strcmp(route->verb, verb) == 0) {
            match->route = route;
            match->service = found_service;
            match->method = found_method;
            return 1;
        }
        if (!other)
            other = route; /* the first that has the path, for the 405 */
    }
    if (other)
        match->route = other;
    return other ? -1 : 0;
}
