/*
 * routes.h - the gateway's HTTP routes: resource-style routes for what a
 * person or a department expects to find (GET /v1/entities/{credit_code},
 * POST /v1/name-reservations, GET /v1/carriers, ...), and POST
 * /v1/{service}/{method} for every method of every service the gateway's
 * catalog holds. A route names the service method it calls; the segments
 * its pattern names in braces become fields of the method's input, and a
 * GET route's query arguments too.
 */
#ifndef GATEWAY_ROUTES_H
#define GATEWAY_ROUTES_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

#define ROUTES_PARAMS_MAX 4
#define ROUTES_PATH_MAX   1024 /* bytes of a path the gateway matches */
#define ROUTES_MAX        32   /* routes the table may hold (metrics.c keeps a slot each) */

typedef struct {
    const char *verb;    /* GET or POST */
    const char *pattern; /* "/v1/entities/{credit_code}": {name} takes one segment */
    const char *service; /* NULL: the path's {service} */
    const char *method;  /* NULL: the path's {method} */
} route_t;

/* The routes, ending with {NULL}: the resource routes, then the generic one. */
extern const route_t routes[];

/* What a path matched: the route, the service and method it calls, and the
 * path's parameters (names from the pattern, values within the match). */
typedef struct {
    const route_t *route;
    const ProtobufCServiceDescriptor *service;
    const ProtobufCMethodDescriptor *method;
    size_t n_params;
    const char *names[ROUTES_PARAMS_MAX];
    const char *values[ROUTES_PARAMS_MAX];
    char buffer[ROUTES_PATH_MAX + 1]; /* the path, split: values point here */
    char pattern[128];                /* the route's pattern, split: names point here */
} route_match_t;

/* Matches verb and path (decoded, without its query) against the routes.
 * Returns 1 with *match filled; 0 when no route has the path (or the
 * generic route names no service or method of the catalog); -1 when a
 * route has the path but not for verb (*match then holds the verb it
 * takes in route->verb). */
int routes_match(const char *verb, const char *path, route_match_t *match);

/* The service's name as the generic route spells it: the package's last
 * part (registry for chuang.registry). */
const char *routes_service_name(const ProtobufCServiceDescriptor *service);

#endif
