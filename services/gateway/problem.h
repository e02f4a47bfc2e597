/*
 * problem.h - errors as HTTP problem details (RFC 9457,
 * application/problem+json): the HTTP status of a chuang status, a title in
 * the caller's language (Accept-Language: zh-CN first, en), the service's
 * message, detail and hint, and each field violation as an entry of
 * "errors" ({"field", "detail"}), so a form can show it beside its field.
 */
#ifndef GATEWAY_PROBLEM_H
#define GATEWAY_PROBLEM_H

#include "chuang.pb-c.h"

#include <jansson.h>

typedef enum { PROBLEM_ZH, PROBLEM_EN } problem_language_t;

/* The language an Accept-Language header (NULL: none) asks for among those
 * the gateway speaks: the one of highest quality, zh-CN when it names
 * neither. */
problem_language_t problem_language(const char *accept_language);

/* The language's tag for Content-Language. */
const char *problem_language_tag(problem_language_t language);

/* The HTTP status that answers status. */
unsigned int problem_http_status(Chuang__Status status);

/* A problem of status, with detail (NULL for none) and, unless field is
 * NULL, one violation of field described by description. Returns a new
 * reference the caller owns. */
json_t *problem_new(Chuang__Status status, problem_language_t language, const char *detail,
                    const char *field, const char *description);

/* The problem a service's reply (status not OK) is. Returns a new
 * reference the caller owns. */
json_t *problem_from_reply(const Chuang__Reply *reply, problem_language_t language);

#endif
