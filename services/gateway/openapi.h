/*
 * openapi.h - the gateway's OpenAPI 3.1 document, generated from the route
 * table and the protobuf descriptors of the catalog (never written by
 * hand), so that it says what the gateway does: every resource route with
 * its path and query parameters, POST /v1/<service>/<Method> for every
 * method, each message of their inputs and outputs as a schema in the
 * proto3 JSON mapping (pbjson.h), and the problem every failure answers.
 */
#ifndef GATEWAY_OPENAPI_H
#define GATEWAY_OPENAPI_H

#include <jansson.h>

/* The document; a new reference the caller owns, NULL when memory runs
 * out. */
json_t *openapi_document(void);

#endif
