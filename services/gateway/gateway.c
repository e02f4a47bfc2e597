/*
 * gateway.c - the HTTP/JSON gateway's server and request handling; see
 * gateway.h.
 *
 * libmicrohttpd runs a pool of gateway.threads threads; each handles its
 * requests one at a time and calls the brokers with a client of its own
 * (a client is used by one thread at a time), made on the thread's first
 * request and destroyed when the thread ends. A request's body is gathered
 * up to gateway.body_max (a larger one is answered 413 without being read
 * further), then turned into the method's input, called, and answered.
 *
 * Nothing a caller sends names who they are: the envelope carries the
 * gateway's identity, so the brokers and services grant it only what its
 * key may do. The access log names the route's pattern, never the path or
 * the query, which may hold personal data.
 */
#include "gateway.h"

#include "client.h"
#include "logger.h"
#include "metrics.h"
#include "openapi.h"
#include "pbjson.h"
#include "problem.h"
#include "rate.h"
#include "routes.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <czmq.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TIMEOUT_MIN_MS 100
#define KEY_MAX        64 /* bytes of an Idempotency-Key */

struct _gateway_t {
    struct MHD_Daemon *daemon;
    security_t *security;
    const char *brokers;
    const char *agency;
    size_t body_max;
    long timeout_ms;
    long timeout_max_ms;
    const char *redis_url; /* NULL: no limit per address */
    const char *redis_prefix;
    long rate_per_address;
    const char *trusted_proxies; /* addresses whose X-Forwarded-For is believed */
    char *openapi;               /* the OpenAPI document, as served */
    pthread_key_t threads;       /* each thread's thread_t */
    bool threads_made;
};

/* What one of the server's threads keeps for its requests. */
typedef struct {
    client_t *client;
    rate_link_t rate;
} thread_t;

/* The HTTP status of the response this thread queued last, for the access
 * log. */
static __thread unsigned int s_status;

/* One request as it is read. */
typedef struct {
    char *body;
    size_t size;
    bool too_large;
    bool answered; /* a response is queued already (413 on the first call) */
} request_t;

static void s_thread_free(void *arg)
{
    thread_t *thread = arg;
    client_destroy(&thread->client);
    rate_link_close(&thread->rate);
    free(thread);
}

/* The calling thread's state, with its client; NULL when it cannot be
 * made. */
static thread_t *s_thread(gateway_t *self)
{
    thread_t *thread = pthread_getspecific(self->threads);
    if (thread)
        return thread;
    thread = calloc(1, sizeof *thread);
    if (thread)
        thread->client = client_new(self->brokers, self->security);
    if (!thread || !thread->client || pthread_setspecific(self->threads, thread) != 0) {
        if (thread)
            s_thread_free(thread);
        return NULL;
    }
    /* Nobody signed in: the envelope names no person and claims no role. */
    client_set_identity(thread->client, self->agency, NULL, "");
    return thread;
}

/* true when address is one of the comma-separated list. */
static bool s_listed(const char *list, const char *address)
{
    size_t len = strlen(address);
    for (const char *at = list; *at;) {
        at += strspn(at, ", ");
        size_t item = strcspn(at, ", ");
        if (item == len && item > 0 && strncmp(at, address, len) == 0)
            return true;
        at += item;
    }
    return false;
}

/* Keeps the value of the last X-Forwarded-For line in *arg. */
static enum MHD_Result s_forwarded_line(void *arg, enum MHD_ValueKind kind, const char *key,
                                        const char *value)
{
    (void)kind;
    if (key && value && strcasecmp(key, "X-Forwarded-For") == 0)
        *(const char **)arg = value;
    return MHD_YES;
}

/* The caller's address, as text, into address: the peer's, or, when the
 * peer is one of gateway.trusted_proxies, the last address its
 * X-Forwarded-For names (a proxy appends the address it was called from;
 * what stands before it is the caller's to write, and is not believed). */
static void s_address(gateway_t *self, struct MHD_Connection *connection, char *address,
                      size_t size)
{
    *address = '\0';
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *peer = info ? info->client_addr : NULL;
    if (peer && peer->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)peer)->sin_addr, address, (socklen_t)size);
    else if (peer && peer->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)peer)->sin6_addr, address,
                  (socklen_t)size);
    if (!*self->trusted_proxies || !s_listed(self->trusted_proxies, address))
        return;
    const char *forwarded = NULL; /* the last line: a proxy may add one of its own */
    MHD_get_connection_values(connection, MHD_HEADER_KIND, s_forwarded_line, &forwarded);
    if (!forwarded)
        return;
    const char *last = strrchr(forwarded, ',');
    last = last ? last + 1 : forwarded;
    last += strspn(last, " \t");
    char candidate[INET6_ADDRSTRLEN];
    size_t len = strcspn(last, " \t");
    if (len == 0 || len >= sizeof candidate)
        return;
    memcpy(candidate, last, len);
    candidate[len] = '\0';
    /* Written anew, so that one address has one spelling. */
    struct in6_addr parsed;
    if (inet_pton(AF_INET, candidate, &parsed) == 1)
        inet_ntop(AF_INET, &parsed, address, (socklen_t)size);
    else if (inet_pton(AF_INET6, candidate, &parsed) == 1)
        inet_ntop(AF_INET6, &parsed, address, (socklen_t)size);
}

/* Queues json (stolen; NULL: out of memory) with HTTP status, and a
 * Retry-After of retry_after seconds unless NULL. */
static enum MHD_Result s_respond_after(struct MHD_Connection *connection, unsigned int status,
                                       json_t *json, problem_language_t language,
                                       const char *retry_after)
{
    char *text = json ? json_dumps(json, JSON_COMPACT) : NULL;
    bool problem =
        json && json_object_get(json, "type") && json_object_get(json, "title") && status >= 400;
    json_decref(json);
    struct MHD_Response *response =
        text ? MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE)
             : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!response) {
        free(text);
        return MHD_NO;
    }
    if (!text)
        status = 500;
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                            problem ? "application/problem+json"
                                    : "application/json; charset=utf-8");
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_LANGUAGE,
                            problem_language_tag(language));
    MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
    if (retry_after)
        MHD_add_response_header(response, MHD_HTTP_HEADER_RETRY_AFTER, retry_after);
    enum MHD_Result rc = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    s_status = status;
    return rc;
}

static enum MHD_Result s_respond(struct MHD_Connection *connection, unsigned int status,
                                 json_t *json, problem_language_t language)
{
    return s_respond_after(connection, status, json, language, NULL);
}

/* Queues a problem the gateway itself finds. */
static enum MHD_Result s_refuse(struct MHD_Connection *connection, Chuang__Status status,
                                unsigned int http, problem_language_t language, const char *detail,
                                const char *field, const char *description)
{
    json_t *problem = problem_new(status, language, detail, field, description);
    if (problem)
        json_object_set_new(problem, "status", json_integer(http));
    return s_respond(connection, http, problem, language);
}

/* Sets field name (as proto or JSON name) of input to text, as the field's
 * type reads it; a repeated field gains one more item. Returns 0, or -1
 * with why in error. */
static int s_set(json_t *input, const ProtobufCMessageDescriptor *descriptor, const char *name,
                 const char *text, char *error, size_t size)
{
    const ProtobufCFieldDescriptor *field = pbjson_field(descriptor, name);
    if (!field) {
        snprintf(error, size, "is not a field of %s", descriptor->short_name);
        return -1;
    }
    json_t *value = NULL;
    switch (field->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: {
        char *end = NULL;
        long long number = strtoll(text, &end, 10);
        if (!*text || *end) {
            snprintf(error, size, "must be a whole number");
            return -1;
        }
        value = json_integer(number);
        break;
    }
    case PROTOBUF_C_TYPE_BOOL:
        if (!streq(text, "true") && !streq(text, "false")) {
            snprintf(error, size, "must be true or false");
            return -1;
        }
        value = json_boolean(streq(text, "true"));
        break;
    case PROTOBUF_C_TYPE_MESSAGE:
    case PROTOBUF_C_TYPE_BYTES:
        snprintf(error, size, "cannot be given in the address; send it in the body");
        return -1;
    default: /* strings, enums by name, 64-bit integers as decimal strings */
        value = json_string(text);
        break;
    }
    if (!value) {
        snprintf(error, size, "must be UTF-8 text");
        return -1;
    }
    /* One spelling only: the address's value replaces the body's. */
    json_t *list = json_object_get(input, field->name);
    if (field->label == PROTOBUF_C_LABEL_REPEATED && json_is_array(list)) {
        json_array_append_new(list, value);
        return 0;
    }
    char camel[128];
    if (strlen(field->name) < sizeof camel) {
        pbjson_json_name(field->name, camel);
        json_object_del(input, camel);
    }
    if (field->label == PROTOBUF_C_LABEL_REPEATED) {
        list = json_array();
        json_array_append_new(list, value);
        value = list;
    }
    json_object_set_new(input, field->name, value);
    return 0;
}

typedef struct {
    json_t *input;
    const ProtobufCMessageDescriptor *descriptor;
    char field[96];
    char error[160];
} query_t;

static enum MHD_Result s_query_arg(void *arg, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    query_t *query = arg;
    if (s_set(query->input, query->descriptor, key, value ? value : "", query->error,
              sizeof query->error) != 0) {
        snprintf(query->field, sizeof query->field, "%s", key);
        return MHD_NO;
    }
    return MHD_YES;
}

/* The request's input as JSON (new reference), or NULL after queueing the
 * problem with it into *rc. */
static json_t *s_input(struct MHD_Connection *connection, const char *verb, request_t *request,
                       const route_match_t *match, problem_language_t language, enum MHD_Result *rc)
{
    json_t *input = NULL;
    if (streq(verb, "POST") && request->size > 0) {
        json_error_t error;
        input = json_loadb(request->body, request->size, JSON_REJECT_DUPLICATES, &error);
        if (!input || !json_is_object(input)) {
            char detail[256];
            snprintf(detail, sizeof detail,
                     input ? "the body must be a JSON object"
                           : "the body is not JSON: %s (line %d, column %d)",
                     error.text, error.line, error.column);
            json_decref(input);
            *rc = s_refuse(connection, CHUANG__STATUS__INVALID_ARGUMENT, 400, language, detail,
                           NULL, NULL);
            return NULL;
        }
    } else {
        input = json_object();
    }
    const ProtobufCMessageDescriptor *descriptor = match->method->input;
    if (streq(verb, "GET")) {
        query_t query = {.input = input, .descriptor = descriptor};
        MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, s_query_arg, &query);
        if (*query.field) {
            json_decref(input);
            *rc = s_refuse(connection, CHUANG__STATUS__INVALID_ARGUMENT, 400, language, NULL,
                           query.field, query.error);
            return NULL;
        }
    }
    /* The path's parameters last: the address names the resource, whatever
     * the query or the body say. */
    char error[160];
    for (size_t i = 0; i < match->n_params; i++) {
        if (streq(match->names[i], "service") || streq(match->names[i], "method"))
            continue;
        if (s_set(input, descriptor, match->names[i], match->values[i], error, sizeof error)) {
            json_decref(input);
            *rc = s_refuse(connection, CHUANG__STATUS__INVALID_ARGUMENT, 400, language, NULL,
                           match->names[i], error);
            return NULL;
        }
    }
    return input;
}

/* The call's options from the request's headers, or -1 after queueing the
 * problem into *rc. key is the scoped idempotency key's buffer. */
static int s_options(gateway_t *self, struct MHD_Connection *connection,
                     problem_language_t language, client_options_t *options, char *key, size_t size,
                     enum MHD_Result *rc)
{
    options->timeout_ms = (int)self->timeout_ms;
    const char *timeout =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "X-Request-Timeout");
    if (timeout) {
        char *end = NULL;
        long ms = strtol(timeout, &end, 10);
        if (!*timeout || *end || ms < TIMEOUT_MIN_MS || ms > self->timeout_max_ms) {
            char description[96];
            snprintf(description, sizeof description, "must be milliseconds from %d to %ld",
                     TIMEOUT_MIN_MS, self->timeout_max_ms);
            *rc = s_refuse(connection, CHUANG__STATUS__INVALID_ARGUMENT, 400, language, NULL,
                           "X-Request-Timeout", description);
            return -1;
        }
        options->timeout_ms = (int)ms;
    }
    const char *given = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Idempotency-Key");
    if (given) {
        size_t len = strlen(given);
        if (len == 0 || len > KEY_MAX ||
            strspn(given, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:") !=
                len) {
            *rc = s_refuse(connection, CHUANG__STATUS__INVALID_ARGUMENT, 400, language, NULL,
                           "Idempotency-Key",
                           "must be 1 to 64 letters, digits, '-', '_', '.' or ':'");
            return -1;
        }
        /* Callers without an account share the gateway's key: their
         * idempotency keys are kept apart by their address. */
        char address[INET6_ADDRSTRLEN];
        s_address(self, connection, address, sizeof address);
        snprintf(key, size, "http:[%s]:%s", address, given);
        options->idempotency_key = key;
    }
    return 0;
}

/* Calls the route's method with input (not stolen) and queues its answer. */
static enum MHD_Result s_call(gateway_t *self, struct MHD_Connection *connection,
                              const route_match_t *match, json_t *input,
                              problem_language_t language)
{
    char error[256];
    ProtobufCMessage *message = pbjson_to_message(match->method->input, input, error, sizeof error);
    if (!message) {
        /* pbjson names the field first: field "founders[1].amount": ... */
        char field[96] = "";
        const char *open = strchr(error, '"');
        const char *close = open ? strchr(open + 1, '"') : NULL;
        if (open && close && (size_t)(close - open) < sizeof field)
            snprintf(field, sizeof field, "%.*s", (int)(close - open - 1), open + 1);
        return s_refuse(connection, CHUANG__STATUS__INVALID_ARGUMENT, 400, language, error,
                        *field ? field : NULL, *field ? error : NULL);
    }
    client_options_t options = {0};
    char key[KEY_MAX + INET6_ADDRSTRLEN + 8];
    enum MHD_Result rc = MHD_NO;
    thread_t *thread = s_thread(self);
    client_t *client = thread ? thread->client : NULL;
    if (!client) {
        pbjson_message_free(message);
        return s_refuse(connection, CHUANG__STATUS__INTERNAL, 500, language, NULL, NULL, NULL);
    }
    if (s_options(self, connection, language, &options, key, sizeof key, &rc) != 0) {
        pbjson_message_free(message);
        return rc;
    }
    Chuang__Reply *reply = client_call(client, routes_service_name(match->service),
                                       match->method->name, message, &options);
    pbjson_message_free(message);
    if (!reply)
        return s_refuse(connection, CHUANG__STATUS__INTERNAL, 500, language, NULL, NULL, NULL);
    json_t *body = NULL;
    unsigned int status = problem_http_status(reply->status);
    if (reply->status == CHUANG__STATUS__OK) {
        ProtobufCMessage *output = protobuf_c_message_unpack(
            match->method->output, NULL, reply->payload.len, reply->payload.data);
        body = output ? pbjson_from_message(output, false) : NULL;
        protobuf_c_message_free_unpacked(output, NULL);
    } else if (reply->status == CHUANG__STATUS__PERMISSION_DENIED) {
        /* Nobody signed in: what is not public needs an account. */
        status = 401;
        body = problem_new(CHUANG__STATUS__UNAUTHENTICATED, language,
                           "this method is not public: sign in to call it", NULL, NULL);
    } else {
        body = problem_from_reply(reply, language);
    }
    chuang__reply__free_unpacked(reply, NULL);
    return s_respond(connection, status, body, language);
}

/* true when the caller's address has passed gateway.rate_per_address in
 * this second. While Redis cannot be reached nobody is held back: the
 * lookups stay open, and redis_link logs why. */
static bool s_limited(gateway_t *self, struct MHD_Connection *connection)
{
    thread_t *thread = s_thread(self);
    if (!thread)
        return false;
    char address[INET6_ADDRSTRLEN];
    s_address(self, connection, address, sizeof address);
    int64_t retry_after_ms = 0;
    return rate_admit(&thread->rate, self->redis_url, self->redis_prefix, address,
                      self->rate_per_address, zclock_time(), &retry_after_ms) == 0;
}

/* /healthz and /readyz. */
static enum MHD_Result s_health(gateway_t *self, struct MHD_Connection *connection,
                                const char *path, problem_language_t language)
{
    if (streq(path, "/healthz"))
        return s_respond(connection, 200, json_pack("{s:s}", "status", "alive"), language);
    thread_t *thread = s_thread(self);
    if (thread && client_service_exists(thread->client, "registry") >= 0)
        return s_respond(connection, 200, json_pack("{s:s}", "status", "ready"), language);
    return s_refuse(connection, CHUANG__STATUS__UNAVAILABLE, 503, language, "no broker answers",
                    NULL, NULL);
}

/* The answer to a body over gateway.body_max. */
static enum MHD_Result s_too_large(gateway_t *self, struct MHD_Connection *connection,
                                   problem_language_t language)
{
    char detail[96];
    snprintf(detail, sizeof detail, "the body passes the gateway's limit of %zu bytes",
             self->body_max);
    return s_refuse(connection, CHUANG__STATUS__INVALID_ARGUMENT, 413, language, detail, NULL,
                    NULL);
}

/* Answers a request that is not a health check: past the body limit or
 * the address's rate, or by its route, whose index (or -1) into *route. */
static enum MHD_Result s_answer(gateway_t *self, struct MHD_Connection *connection, const char *url,
                                const char *verb, request_t *request, problem_language_t language,
                                int *route)
{
    if (request->too_large)
        return s_too_large(self, connection, language);
    if (self->redis_url && s_limited(self, connection))
        return s_respond_after(connection, 429,
                               problem_new(CHUANG__STATUS__RESOURCE_EXHAUSTED, language,
                                           "too many requests from this address: wait a second",
                                           NULL, NULL),
                               language, "1");
    route_match_t *match = malloc(sizeof *match);
    if (!match)
        return MHD_NO;
    enum MHD_Result rc = MHD_NO;
    int found = routes_match(verb, url, match);
    if (found == 0) {
        rc = s_refuse(connection, CHUANG__STATUS__NOT_FOUND, 404, language,
                      "no such resource or method", NULL, NULL);
    } else if (found < 0) {
        char detail[64];
        snprintf(detail, sizeof detail, "this resource takes %s", match->route->verb);
        rc = s_refuse(connection, CHUANG__STATUS__UNIMPLEMENTED, 405, language, detail, NULL, NULL);
    } else {
        *route = (int)(match->route - routes);
        const char *type =
            MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (streq(verb, "POST") && request->size > 0 &&
            (!type || strncasecmp(type, "application/json", 16) != 0)) {
            rc = s_refuse(connection, CHUANG__STATUS__INVALID_ARGUMENT, 415, language,
                          "the body must be application/json", NULL, NULL);
        } else {
            json_t *input = s_input(connection, verb, request, match, language, &rc);
            if (input)
                rc = s_call(self, connection, match, input, language);
            json_decref(input);
        }
    }
    free(match);
    return rc;
}

/* Queues text with status 200 and type: taken (freed by MHD) when owned,
 * else kept by the caller for as long as the gateway runs. */
static enum MHD_Result s_text(struct MHD_Connection *connection, char *text, bool owned,
                              const char *type)
{
    struct MHD_Response *response =
        text ? MHD_create_response_from_buffer(
                   strlen(text), text, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT)
             : NULL;
    if (!response) {
        if (owned)
            free(text);
        return MHD_NO;
    }
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
    enum MHD_Result rc = MHD_queue_response(connection, 200, response);
    MHD_destroy_response(response);
    return rc;
}

static enum MHD_Result s_access(void *cls, struct MHD_Connection *connection, const char *url,
                                const char *verb, const char *version, const char *upload,
                                size_t *upload_size, void **state)
{
    (void)version;
    gateway_t *self = cls;
    request_t *request = *state;
    if (!request) {
        request = calloc(1, sizeof *request);
        if (!request)
            return MHD_NO;
        *state = request;
        const char *length = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                         MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (length && strtoull(length, NULL, 10) > self->body_max) {
            /* Answered before the body is read: MHD then reads none of it. */
            request->too_large = true;
            request->answered = true;
            problem_language_t language = problem_language(MHD_lookup_connection_value(
                connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_LANGUAGE));
            return s_too_large(self, connection, language);
        }
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (!request->too_large && request->size + *upload_size <= self->body_max) {
            char *grown = realloc(request->body, request->size + *upload_size);
            if (!grown)
                return MHD_NO;
            memcpy(grown + request->size, upload, *upload_size);
            request->body = grown;
            request->size += *upload_size;
        } else {
            request->too_large = true;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (request->answered)
        return MHD_YES;
    problem_language_t language = problem_language(
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_LANGUAGE));
    if (streq(url, "/healthz") || streq(url, "/readyz"))
        return s_health(self, connection, url, language);
    if (streq(url, "/metrics"))
        return s_text(connection, metrics_text(), true, "text/plain; version=0.0.4; charset=utf-8");
    if (streq(url, "/v1/openapi.json") && streq(verb, "GET"))
        return s_text(connection, self->openapi, false, "application/json; charset=utf-8");
    int64_t started = zclock_mono();
    s_status = 0;
    int route = -1;
    enum MHD_Result rc = s_answer(self, connection, url, verb, request, language, &route);
    int64_t ms = zclock_mono() - started;
    metrics_count(route, s_status, ms);
    char quoted[160];
    char quoted_verb[32];
    log_info("request", "verb=%s route=%s status=%u ms=%" PRId64,
             logger_quote(quoted_verb, sizeof quoted_verb, verb),
             logger_quote(quoted, sizeof quoted, route >= 0 ? routes[route].pattern : "-"),
             s_status, ms);
    return rc;
}

static void s_completed(void *cls, struct MHD_Connection *connection, void **state,
                        enum MHD_RequestTerminationCode code)
{
    (void)cls;
    (void)connection;
    (void)code;
    request_t *request = *state;
    if (request) {
        free(request->body);
        free(request);
    }
    *state = NULL;
}

gateway_t *gateway_new(config_t *config, security_t *security)
{
    gateway_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->security = security;
    self->brokers = config_str(config, "brokers", "tcp://127.0.0.1:5555");
    self->agency = config_str(config, "agency", "");
    self->body_max = (size_t)config_int(config, "gateway.body_max", 1048576);
    self->timeout_ms = config_int(config, "gateway.timeout_ms", 10000);
    self->timeout_max_ms = config_int(config, "gateway.timeout_max_ms", 30000);
    long threads = config_int(config, "gateway.threads", 8);
    self->redis_url = config_str(config, "redis.url", NULL);
    self->redis_prefix = config_str(config, "redis.prefix", "chuang:gateway");
    self->rate_per_address = config_int(config, "gateway.rate_per_address", 50);
    self->trusted_proxies = config_str(config, "gateway.trusted_proxies", "");
    const char *listen = config_str(config, "gateway.listen", "127.0.0.1:8080");
    struct sockaddr_in address = {.sin_family = AF_INET};
    char host[64];
    int port = 0;
    if (sscanf(listen, "%63[^:]:%d", host, &port) != 2 || port < 0 || port > 65535 ||
        inet_pton(AF_INET, host, &address.sin_addr) != 1 || threads < 1 || threads > 256 ||
        self->body_max < 1024 || self->timeout_ms < TIMEOUT_MIN_MS ||
        self->timeout_max_ms < self->timeout_ms || self->rate_per_address < 1) {
        log_error("gateway settings are wrong",
                  "listen=%s hint=\"gateway.listen is an IPv4 address and port; threads 1 to "
                  "256; body_max at least 1024; timeout_ms at least 100 and at most "
                  "timeout_max_ms; rate_per_address at least 1\"",
                  listen);
        gateway_destroy(&self);
        return NULL;
    }
    address.sin_port = htons((uint16_t)port);
    json_t *document = openapi_document();
    self->openapi = document ? json_dumps(document, JSON_COMPACT) : NULL;
    json_decref(document);
    if (!self->openapi || pthread_key_create(&self->threads, s_thread_free) != 0) {
        gateway_destroy(&self);
        return NULL;
    }
    self->threads_made = true;
    self->daemon = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, s_access, self,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&address, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned int)threads, MHD_OPTION_NOTIFY_COMPLETED, s_completed, self,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60, MHD_OPTION_END);
    if (!self->daemon) {
        log_error("cannot listen", "listen=%s", listen);
        gateway_destroy(&self);
        return NULL;
    }
    log_info("gateway listening", "listen=%s threads=%ld", listen, threads);
    return self;
}

void gateway_destroy(gateway_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_t *self = *self_p;
    if (self->daemon)
        MHD_stop_daemon(self->daemon);
    if (self->threads_made)
        pthread_key_delete(self->threads);
    free(self->openapi);
    free(self);
    *self_p = NULL;
}

void gateway_run(gateway_t *self)
{
    (void)self;
    while (!zsys_interrupted)
        zclock_sleep(200);
}
