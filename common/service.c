/*
 * service.c - the service framework; see service.h for what it promises.
 *
 * The main thread reads the configuration, applies the migrations, starts
 * worker.threads actors and then waits for SIGTERM or SIGINT (CZMQ's handler
 * sets zsys_interrupted). To stop, it destroys the actors one by one: each
 * finishes the request in hand, answers it, tells its brokers DISCONNECT and
 * closes its connections.
 *
 * Each actor owns a worker_t: its MDP worker, PostgreSQL connection and Redis
 * connection. A request is served by s_serve, which builds the reply from a
 * service_call_t: the call's allocations, violations and failure text live
 * there and are freed once the reply is packed.
 */
#include "service.h"
#include "audit.h"
#include "config.h"
#include "db.h"
#include "db_lock.h"
#include "idempotency.h"
#include "logger.h"
#include "mdp.h"
#include "mdp_worker.h"
#include "outbox.h"
#include "redis_link.h"
#include "relay.h"
#include "security.h"

#include <czmq.h>
#include <stdarg.h>
#include <stddef.h>

#ifndef CHUANG_COMMON_SQL_DIR
#error "CHUANG_COMMON_SQL_DIR must name the framework's migrations folder"
#endif

#define SQL_RETRIES 3

/* What the main thread sets up and the worker threads share, read-only. */
typedef struct {
    const service_def_t *def;
    security_t *security;
    char *brokers;
    char *db_url;
    char *schema;
    char *redis_url;
    char *redis_prefix;
    int heartbeat_ms;
    int liveness;
    agency_key_t *audit_key; /* signs the audit log's checkpoints, or NULL */
} service_t;

struct _service_tick_t {
    service_t *service;
    PGconn *db;
    redisContext *redis;
};

typedef struct {
    service_t *service;
    mdp_worker_t *mdp;
    PGconn *db;
    redisContext *redis;
} worker_t;

/* A block of call memory; the blocks of one call form a list. */
typedef struct allocation {
    struct allocation *next;
    max_align_t data[];
} allocation_t;

struct _service_call_t {
    worker_t *worker;
    const Chuang__RequestHeader *header;
    allocation_t *allocations; /* freed after the reply is packed */
    zlist_t *violations;       /* Chuang__FieldViolation *, in allocations */
    zlist_t *aggregates;       /* the aggregates its events name, in allocations */
    Chuang__Status status;
    const char *message;
    const char *detail;
    const char *hint;
    bool retry; /* a serialisation failure: run the handler again */
};

const Chuang__RequestHeader *service_call_header(service_call_t *call)
{
    return call->header;
}

PGconn *service_call_db(service_call_t *call)
{
    return call->worker->db;
}

redisContext *service_call_redis(service_call_t *call)
{
    worker_t *worker = call->worker;
    const char *url = worker->service->redis_url;
    if (!url)
        return NULL;
    if (!worker->redis || worker->redis->err)
        redis_link_reset(&worker->redis, url, 1);
    return worker->redis;
}

void *service_call_alloc(service_call_t *call, size_t size)
{
    allocation_t *block = calloc(1, sizeof *block + size);
    if (!block) {
        log_error("out of memory", "bytes=%zu", size);
        abort();
    }
    block->next = call->allocations;
    call->allocations = block;
    return block->data;
}

static void s_call_free(service_call_t *call)
{
    while (call->allocations) {
        allocation_t *next = call->allocations->next;
        free(call->allocations);
        call->allocations = next;
    }
}

char *service_call_strdup(service_call_t *call, const char *text)
{
    size_t size = strlen(text) + 1;
    return memcpy(service_call_alloc(call, size), text, size);
}

Chuang__Status service_call_violation(service_call_t *call, const char *field, const char *format,
                                      ...)
{
    Chuang__FieldViolation *violation = service_call_alloc(call, sizeof *violation);
    chuang__field_violation__init(violation);
    violation->field = service_call_strdup(call, field);
    va_list args;
    va_start(args, format);
    char *description = zsys_vprintf(format, args);
    va_end(args);
    violation->description = service_call_strdup(call, description ? description : "");
    zstr_free(&description);
    zlist_append(call->violations, violation);
    call->status = CHUANG__STATUS__INVALID_ARGUMENT;
    if (!call->message)
        call->message = "invalid request";
    return call->status;
}

const Chuang__Principal *service_call_principal(service_call_t *call)
{
    return call->header->principal;
}

bool service_call_is_person(service_call_t *call, const char *id_number)
{
    const Chuang__Principal *principal = call->header->principal;
    return principal && id_number && *id_number && *principal->person_id_number &&
           streq(principal->person_id_number, id_number);
}

bool service_call_has_role(service_call_t *call, const char *role)
{
    for (size_t i = 0; i < call->header->n_roles; i++)
        if (streq(call->header->roles[i], role))
            return true;
    return false;
}

PGresult *service_call_query(service_call_t *call, const char *what, const char *sql, int count,
                             const char *const *values, ExecStatusType expected,
                             Chuang__Status *failure)
{
    PGresult *res = PQexecParams(call->worker->db, sql, count, NULL, values, NULL, NULL, 0);
    if (PQresultStatus(res) == expected)
        return res;
    *failure = service_call_sql_fail(call, res, what);
    PQclear(res);
    return NULL;
}

bool service_call_has_violations(service_call_t *call)
{
    return zlist_size(call->violations) > 0;
}

Chuang__Status service_call_fail(service_call_t *call, Chuang__Status status, const char *message,
                                 const char *detail, const char *hint)
{
    call->status = status;
    call->message = message ? service_call_strdup(call, message) : NULL;
    call->detail = detail ? service_call_strdup(call, detail) : NULL;
    call->hint = hint ? service_call_strdup(call, hint) : NULL;
    return status;
}

Chuang__Status service_call_emit(service_call_t *call, const char *type, const char *aggregate_id,
                                 Chuang__Visibility visibility, const ProtobufCMessage *payload)
{
    outbox_event_t event = {.agency = call->header->agency,
                            .type = type,
                            .aggregate_id = aggregate_id,
                            .visibility = visibility,
                            .payload = payload,
                            .trace_id = call->header->trace_id};
    if (outbox_write(call->worker->db, &event) == 0) {
        zlist_append(call->aggregates, service_call_strdup(call, aggregate_id));
        return CHUANG__STATUS__OK;
    }
    return service_call_sql_fail(call, NULL, "write event");
}

Chuang__Status service_call_sql_fail(service_call_t *call, PGresult *result, const char *what)
{
    /* Without the failed result (a store cleared it), the connection still
     * knows the first failure of this attempt. */
    const char *state =
        result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : db_failure_state(call->worker->db);
    if (db_lost(call->worker->db) || (state && strncmp(state, "08", 2) == 0))
        return service_call_fail(call, CHUANG__STATUS__UNAVAILABLE, "database unavailable",
                                 "The service lost its database connection.",
                                 "Retry the request with the same idempotency key.");
    if (state && (streq(state, "40001") || streq(state, "40P01"))) {
        call->retry = true;
        return service_call_fail(call, CHUANG__STATUS__UNAVAILABLE, "concurrent update conflict",
                                 NULL, "Retry the request with the same idempotency key.");
    }
    if (state && streq(state, "23505"))
        return service_call_fail(call, CHUANG__STATUS__ALREADY_EXISTS, "already exists", NULL,
                                 NULL);
    char quoted[512];
    log_error(
        "query failed", "what=%s sqlstate=%s method=%s request_id=%s error=%s", what,
        state ? state : "-", call->header->method, call->header->request_id,
        logger_quote(quoted, sizeof quoted,
                     result ? PQresultErrorMessage(result) : PQerrorMessage(call->worker->db)));
    return service_call_fail(call, CHUANG__STATUS__INTERNAL, "internal error",
                             "The request could not be completed and changed nothing.",
                             "Report the request id to the operators.");
}

/* Says that a request meets a deadlock or serialisation failure and runs
 * again (operators see how often; tests, that it was the framework). */
static void s_log_retry(service_call_t *call, int attempt)
{
    log_info("transaction conflict; running the request again",
             "method=%s attempt=%d request_id=%s", call->header->method, attempt + 1,
             call->header->request_id);
}

/* Packs a reply into a one-frame message body. */
static zmsg_t *s_reply_body(const Chuang__Reply *reply)
{
    zframe_t *frame = zframe_new(NULL, chuang__reply__get_packed_size(reply));
    chuang__reply__pack(reply, zframe_data(frame));
    zmsg_t *body = zmsg_new();
    zmsg_append(body, &frame);
    return body;
}

/* The reply for a call that did not end OK. */
static zmsg_t *s_failure_body(service_call_t *call, const char *request_id)
{
    Chuang__Reply reply = CHUANG__REPLY__INIT;
    reply.request_id = (char *)request_id;
    reply.status = call->status;
    reply.message = (char *)(call->message ? call->message : "");
    reply.detail = (char *)(call->detail ? call->detail : "");
    reply.hint = (char *)(call->hint ? call->hint : "");
    size_t count = zlist_size(call->violations);
    Chuang__FieldViolation **violations =
        service_call_alloc(call, (count + 1) * sizeof *violations);
    for (Chuang__FieldViolation *v = zlist_first(call->violations); v;
         v = zlist_next(call->violations))
        violations[reply.n_violations++] = v;
    reply.violations = violations;
    return s_reply_body(&reply);
}

/* Re-stamps a recorded reply with this request's id. */
static zmsg_t *s_replay_body(const uint8_t *stored, size_t size, const char *request_id)
{
    Chuang__Reply *reply = chuang__reply__unpack(NULL, size, stored);
    if (!reply)
        return NULL;
    char *original = reply->request_id;
    reply->request_id = (char *)request_id;
    zmsg_t *body = s_reply_body(reply);
    reply->request_id = original;
    chuang__reply__free_unpacked(reply, NULL);
    return body;
}

/* Opens the request's transaction. A connection found dead (the server
 * restarted since the last request) is re-established once and the BEGIN
 * tried again: nothing was applied yet, so the client need not see it. */
static bool s_begin(worker_t *worker)
{
    PGresult *res = PQexec(worker->db, "BEGIN");
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (ok || !db_lost(worker->db))
        return ok;
    log_warn("postgresql connection lost; reconnecting", "schema=%s", worker->service->schema);
    return db_reset(worker->db, worker->service->schema, 1) == 0 &&
           db_exec(worker->db, "begin", "BEGIN") == 0;
}

/* The scope of the call's idempotency key (agency, principal, person: who
 * the key belongs to) and the identity its hash covers (the roles claimed),
 * in call memory. */
static void s_idempotency_scope(service_call_t *call, char **scope, char **identity)
{
    const Chuang__RequestHeader *header = call->header;
    const Chuang__Principal *principal = header->principal;
    char *text = zsys_sprintf("%s\n%s\n%s\n%s", header->agency, principal->key, principal->name,
                              principal->person);
    *scope = service_call_strdup(call, text);
    zstr_free(&text);
    size_t size = 1;
    for (size_t i = 0; i < header->n_roles; i++)
        size += strlen(header->roles[i]) + 1;
    *identity = service_call_alloc(call, size);
    for (size_t i = 0; i < header->n_roles; i++)
        strcat(strcat(*identity, header->roles[i]), ",");
}

/* Writes the audit record of the call's accepted write, in its
 * transaction. Returns 0 or -1. */
static int s_audit(service_call_t *call, const Chuang__Request *request)
{
    const Chuang__RequestHeader *header = call->header;
    const Chuang__Principal *principal = header->principal;
    size_t count = zlist_size(call->aggregates);
    char **items = service_call_alloc(call, (count + 1) * sizeof *items);
    size_t n = 0;
    for (char *item = zlist_first(call->aggregates); item; item = zlist_next(call->aggregates))
        items[n++] = item;
    char *literal = db_text_array(items, n);
    audit_entry_t entry = {.agency = header->agency,
                           .principal = *principal->name ? principal->name : principal->key,
                           .kind = principal->kind,
                           .person = principal->person,
                           .method = header->method,
                           .aggregates = literal ? literal : "{}",
                           .input = request->payload.data,
                           .input_size = request->payload.len,
                           .outcome = "ok"};
    int rc = audit_record(call->worker->db, &entry);
    free(literal);
    return rc;
}

/* Runs the handler in a transaction with the idempotency claim and returns
 * the reply body; retries serialisation failures. */
static zmsg_t *s_apply(service_call_t *call, const service_method_t *method,
                       const ProtobufCMethodDescriptor *descriptor, const ProtobufCMessage *input,
                       const Chuang__Request *request)
{
    worker_t *worker = call->worker;
    const char *request_id = call->header->request_id;
    const char *key = call->header->idempotency_key;
    bool idempotent = method->kind == SERVICE_METHOD_WRITE && key && *key;
    bool transaction = method->kind != SERVICE_METHOD_NO_DB;
    char *scope = NULL, *identity = NULL;
    if (idempotent)
        s_idempotency_scope(call, &scope, &identity);

    for (int attempt = 1;; attempt++) {
        call->retry = false;
        call->status = CHUANG__STATUS__OK;
        db_failure_clear(worker->db);
        zlist_purge(call->violations);
        zlist_purge(call->aggregates);
        if (transaction && !s_begin(worker)) {
            service_call_sql_fail(call, NULL, "begin");
            return s_failure_body(call, request_id);
        }
        if (idempotent) {
            uint8_t *stored = NULL;
            size_t stored_size = 0;
            idempotency_claim_t claim = idempotency_claim(
                worker->db, scope, key, call->header->method, identity, request->payload.data,
                request->payload.len, &stored, &stored_size);
            if (claim == IDEMPOTENCY_REPLAY) {
                db_exec(worker->db, "end replay", "ROLLBACK");
                zmsg_t *body = s_replay_body(stored, stored_size, request_id);
                free(stored);
                log_info("request replayed from idempotency store", "method=%s key=%s",
                         call->header->method, key);
                if (body)
                    return body;
                service_call_fail(call, CHUANG__STATUS__INTERNAL, "internal error",
                                  "The recorded reply could not be read.", NULL);
                return s_failure_body(call, request_id);
            }
            if (claim != IDEMPOTENCY_NEW) {
                db_exec(worker->db, "end claim", "ROLLBACK");
                if (claim == IDEMPOTENCY_CONFLICT) {
                    service_call_violation(call, "idempotency_key",
                                           "was already used for a different request");
                    service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                      "idempotency key reused",
                                      "This idempotency key belongs to an earlier request with "
                                      "other contents.",
                                      "Use a new key for a new request.");
                } else {
                    service_call_sql_fail(call, NULL, "idempotency claim");
                }
                return s_failure_body(call, request_id);
            }
        }

        ProtobufCMessage *output = service_call_alloc(call, descriptor->output->sizeof_message);
        protobuf_c_message_init(descriptor->output, output);
        Chuang__Status status = method->handler(call, input, output);
        if (status != CHUANG__STATUS__OK) {
            call->status = status;
            if (transaction)
                db_exec(worker->db, "rollback", "ROLLBACK");
            if (call->retry && attempt < SQL_RETRIES) {
                s_log_retry(call, attempt);
                continue;
            }
            return s_failure_body(call, request_id);
        }

        Chuang__Reply reply = CHUANG__REPLY__INIT;
        reply.request_id = (char *)request_id;
        reply.status = CHUANG__STATUS__OK;
        reply.payload.len = protobuf_c_message_get_packed_size(output);
        reply.payload.data = service_call_alloc(call, reply.payload.len);
        protobuf_c_message_pack(output, reply.payload.data);
        zmsg_t *body = s_reply_body(&reply);
        zframe_t *packed = zmsg_first(body);
        if ((method->kind != SERVICE_METHOD_WRITE || s_audit(call, request) == 0) &&
            (!idempotent || idempotency_record(worker->db, scope, key, zframe_data(packed),
                                               zframe_size(packed)) == 0) &&
            (!transaction || db_exec(worker->db, "commit", "COMMIT") == 0))
            return body;
        zmsg_destroy(&body);
        /* A failed COMMIT has ended the transaction; a failed record has not. */
        PGresult *res = PQexec(worker->db, "ROLLBACK");
        PQclear(res);
        service_call_sql_fail(call, NULL, "commit");
        if (!(call->retry && attempt < SQL_RETRIES))
            return s_failure_body(call, request_id);
        s_log_retry(call, attempt);
    }
}

static void s_bound_violation(void *arg, const char *path, const char *description)
{
    service_call_violation(arg, path, "%s", description);
}

/* OK when the request's principal may call method (its access: public, or
 * one of its roles held); else the refusal, with a message naming the roles
 * that would do. */
static Chuang__Status s_authorise(service_call_t *call, const service_method_t *method)
{
    if (!call->header->principal)
        return service_call_fail(call, CHUANG__STATUS__UNAUTHENTICATED, "sender not authenticated",
                                 "The request did not come through a chuang broker, which names "
                                 "the sender.",
                                 NULL);
    const char *access = method->access;
    if (!access) {
        log_error("method declares no access; every call refused", "method=%s", method->method);
        return service_call_fail(call, CHUANG__STATUS__PERMISSION_DENIED, "method open to nobody",
                                 "This method does not say who may call it, so nobody may.",
                                 "Report this to the operators.");
    }
    if (streq(access, SERVICE_PUBLIC))
        return CHUANG__STATUS__OK;
    /* Any one of the roles lets the caller in; the refusal names them all. */
    char message[320] = "";
    for (const char *p = access; *p; p += *p == ',') {
        size_t length = strcspn(p, ",");
        char role[64];
        snprintf(role, sizeof role, "%.*s", (int)length, p);
        if (service_call_has_role(call, role))
            return CHUANG__STATUS__OK;
        snprintf(message + strlen(message), sizeof message - strlen(message), "%s%s",
                 *message ? " or " : "", role);
        p += length;
    }
    snprintf(message + strlen(message), sizeof message - strlen(message), " role required");
    return service_call_fail(call, CHUANG__STATUS__PERMISSION_DENIED, message,
                             "This is done by, or shown to, holders of that role only.", NULL);
}

/* Serves one request body and returns the reply body (caller owns). */
static zmsg_t *s_serve(worker_t *worker, zmsg_t *request_body)
{
    const service_def_t *def = worker->service->def;
    service_call_t call = {.worker = worker};
    call.violations = zlist_new();
    call.aggregates = zlist_new();
    Chuang__RequestHeader empty_header = CHUANG__REQUEST_HEADER__INIT;
    call.header = &empty_header;

    zframe_t *frame = zmsg_first(request_body);
    Chuang__Request *request =
        zmsg_size(request_body) == 1
            ? chuang__request__unpack(NULL, zframe_size(frame), zframe_data(frame))
            : NULL;
    ProtobufCMessage *input = NULL;
    const ProtobufCMethodDescriptor *descriptor = NULL;
    const service_method_t *method = NULL;
    zmsg_t *reply = NULL;

    if (!request || !request->header) {
        log_warn("request dropped: not a chuang envelope", "frames=%zu", zmsg_size(request_body));
        service_call_fail(&call, CHUANG__STATUS__INVALID_ARGUMENT, "malformed request",
                          "The request body is not a chuang.Request envelope.", NULL);
        goto done;
    }
    call.header = request->header;
    if (request->header->deadline_ms > 0 && request->header->deadline_ms < zclock_time()) {
        service_call_fail(&call, CHUANG__STATUS__DEADLINE_EXCEEDED, "deadline passed",
                          "The request's deadline passed before a worker could serve it; it was "
                          "not applied.",
                          NULL);
        goto done;
    }
    descriptor =
        protobuf_c_service_descriptor_get_method_by_name(def->descriptor, request->header->method);
    for (const service_method_t *m = def->methods; descriptor && m->method; m++)
        if (streq(m->method, descriptor->name))
            method = m;
    if (!method) {
        char message[320];
        snprintf(message, sizeof message, "no method %.200s in service %s", request->header->method,
                 def->name);
        service_call_fail(&call, CHUANG__STATUS__UNIMPLEMENTED, message, NULL, NULL);
        goto done;
    }
    if (s_authorise(&call, method) != CHUANG__STATUS__OK)
        goto done;
    input = protobuf_c_message_unpack(descriptor->input, NULL, request->payload.len,
                                      request->payload.data);
    if (!input) {
        char message[320];
        snprintf(message, sizeof message, "payload is not a valid %s", descriptor->input->name);
        service_call_fail(&call, CHUANG__STATUS__INVALID_ARGUMENT, message, NULL, NULL);
        goto done;
    }
    if (bounds_check(input, def->bounds, s_bound_violation, &call) > 0) {
        service_call_fail(&call, CHUANG__STATUS__INVALID_ARGUMENT, "request too large",
                          "A field holds more than this service takes.", NULL);
        goto done;
    }
    int64_t started = zclock_usecs();
    reply = s_apply(&call, method, descriptor, input, request);
    log_debug("request served", "method=%s request_id=%s status=%d usec=%" PRId64, descriptor->name,
              request->header->request_id, call.status, zclock_usecs() - started);
done:
    if (!reply)
        reply =
            s_failure_body(&call, request && request->header ? request->header->request_id : "");
    if (input)
        protobuf_c_message_free_unpacked(input, NULL);
    chuang__request__free_unpacked(request, NULL);
    zlist_destroy(&call.violations);
    zlist_destroy(&call.aggregates);
    s_call_free(&call);
    return reply;
}

/* A worker thread: says "ok" or "failed" on its pipe once set up, then serves
 * until the main thread sends $TERM. */
static void s_worker_actor(zsock_t *pipe, void *args)
{
    service_t *service = args;
    worker_t worker = {.service = service};
    zsock_signal(pipe, 0);

    worker.db = db_connect(service->db_url, service->schema, 30);
    if (worker.db && service->redis_url)
        worker.redis = redis_link_connect(service->redis_url, 30);
    if (worker.db && (worker.redis || !service->redis_url))
        worker.mdp = mdp_worker_new(service->brokers, service->def->name, service->security,
                                    service->heartbeat_ms, service->liveness);
    zstr_send(pipe, worker.mdp ? "ok" : "failed");

    zmsg_t *request;
    while (worker.mdp && (request = mdp_worker_recv(worker.mdp, pipe))) {
        zmsg_t *reply = s_serve(&worker, request);
        zmsg_destroy(&request);
        mdp_worker_reply(worker.mdp, &reply);
    }
    char *command = zstr_recv(pipe); /* $TERM */
    zstr_free(&command);
    mdp_worker_destroy(&worker.mdp);
    redisFree(worker.redis);
    PQfinish(worker.db);
}

/* The relay's thread: publishes the outbox until the main thread sends
 * $TERM (it notices within RELAY_WAIT_MS). */
#define RELAY_WAIT_MS 300

static void s_relay_actor(zsock_t *pipe, void *args)
{
    relay_t *relay = args;
    zsock_signal(pipe, 0);
    zpoller_t *poller = zpoller_new(pipe, NULL);
    while (!zpoller_wait(poller, 0) && !zpoller_terminated(poller))
        relay_step(relay, RELAY_WAIT_MS);
    zpoller_destroy(&poller);
    relay_destroy(&relay);
}

static int s_migrate(service_t *service, PGconn *db, config_t *config)
{
    const char *dirs[] = {config_str(config, "service.common_sql_dir", CHUANG_COMMON_SQL_DIR),
                          config_str(config, "service.sql_dir", service->def->sql_dir), NULL};
    int applied = db_migrate(db, service->schema, dirs);
    if (applied >= 0)
        log_info("schema up to date", "schema=%s applied=%d", service->schema, applied);
    return applied < 0 ? -1 : 0;
}

PGconn *service_tick_db(service_tick_t *tick)
{
    return tick->db;
}

redisContext *service_tick_redis(service_tick_t *tick)
{
    const char *url = tick->service->redis_url;
    if (url && (!tick->redis || tick->redis->err))
        redis_link_reset(&tick->redis, url, 1);
    return tick->redis;
}

const char *service_tick_key(service_tick_t *tick, const char *name, char *buffer, size_t size)
{
    snprintf(buffer, size, "%s:%s", tick->service->redis_prefix, name);
    return buffer;
}

static void s_service_free(service_t *service)
{
    security_destroy(&service->security);
    free(service->brokers);
    free(service->db_url);
    free(service->schema);
    free(service->redis_url);
    free(service->redis_prefix);
    agency_key_destroy(&service->audit_key);
}

#define AUDIT_SEAL_BATCH 1000

/* Seals the audit log when this process holds the schema's audit lock
 * (taken here when free). Returns true when a full batch was sealed. */
static bool s_audit_seal(service_t *service, PGconn *db, db_lock_t **lock,
                         const audit_sealer_t *sealer)
{
    if (!*lock)
        *lock = db_lock_new(db, service->schema, "chuang_audit_lock", "chuang audit sealer");
    int held = *lock ? db_lock_acquire(*lock, false) : -1;
    if (held < 0)
        db_lock_destroy(lock);
    if (held != 1)
        return false;
    return audit_seal(db, sealer, AUDIT_SEAL_BATCH) == AUDIT_SEAL_BATCH;
}

static char *s_strdup_or_null(const char *text)
{
    return text ? strdup(text) : NULL;
}

int service_main(int argc, char **argv, const service_def_t *def)
{
    int rc;
    config_t *config = config_for_process(argc, argv, def->name, &rc);
    if (!config)
        return rc;

    service_t service = {.def = def};
    service.security = security_new(config);
    service.brokers = s_strdup_or_null(config_str(config, "brokers", "tcp://127.0.0.1:5555"));
    service.db_url = s_strdup_or_null(config_str(config, "db.url", NULL));
    service.schema = s_strdup_or_null(config_str(config, "db.schema", def->name));
    service.redis_url = s_strdup_or_null(config_str(config, "redis.url", NULL));
    char default_prefix[256];
    snprintf(default_prefix, sizeof default_prefix, "chuang:%s", service.schema);
    service.redis_prefix = strdup(config_str(config, "redis.prefix", default_prefix));
    int tick_ms = (int)config_int(config, "service.tick_ms", 1000);
    service.heartbeat_ms = (int)config_int(config, "worker.heartbeat_ms", MDP_HEARTBEAT_MS_DEFAULT);
    service.liveness = (int)config_int(config, "worker.liveness", 3);
    int threads = (int)config_int(config, "worker.threads", 2);
    int retention_days = (int)config_int(config, "idempotency.retention_days", 7);

    rc = 1;
    zactor_t **actors = NULL;
    PGconn *db = NULL;
    service_tick_t tick = {0};
    zactor_t *relay_actor = NULL;
    db_lock_t *audit_lock = NULL;
    if (!service.security)
        goto done;
    if (!service.db_url) {
        log_error("db.url is not set; a service needs its postgresql database", NULL);
        goto done;
    }
    if (threads < 1 || threads > 256) {
        log_error("worker.threads must be between 1 and 256", "value=%d", threads);
        goto done;
    }
    if (def->init && def->init(config) != 0)
        goto done;
    const char *audit_key = config_str(config, "audit.key", NULL);
    if (audit_key) {
        char reason[128];
        service.audit_key = agency_key_load(audit_key, reason, sizeof reason);
        if (!service.audit_key) {
            log_error("cannot load the audit key", "setting=audit.key path=%s reason=\"%s\"",
                      audit_key, reason);
            goto done;
        }
    } else {
        log_warn("audit.key is not set: the audit log is chained but its checkpoints are not "
                 "signed",
                 NULL);
    }
    db = db_connect(service.db_url, service.schema, 60);
    if (!db || s_migrate(&service, db, config) != 0)
        goto done;
    idempotency_purge(db, retention_days);

    actors = calloc((size_t)threads, sizeof *actors);
    for (int i = 0; i < threads; i++) {
        actors[i] = zactor_new(s_worker_actor, &service);
        char *status = zstr_recv(actors[i]);
        bool ok = status && streq(status, "ok");
        zstr_free(&status);
        if (!ok) {
            log_error("worker thread failed to start", "thread=%d", i);
            goto done;
        }
    }
    /* The outbox relay, on every replica: one of them is active at a time. */
    if (service.redis_url && config_bool(config, "relay.enabled", true)) {
        char stream[300];
        snprintf(stream, sizeof stream, "%s:events", service.redis_prefix);
        relay_settings_t settings = {.db_url = service.db_url,
                                     .schema = service.schema,
                                     .redis_url = service.redis_url,
                                     .stream = stream,
                                     .publish = config_str(config, "relay.publish", NULL),
                                     .security = service.security,
                                     .service_name = def->name,
                                     .stream_max = config_int(config, "relay.stream_max", 0)};
        relay_actor = zactor_new(s_relay_actor, relay_new(&settings));
    }
    log_info("service ready", "service=%s threads=%d brokers=%s", def->name, threads,
             service.brokers);
    /* The main thread purges old idempotency keys and runs the ticks. */
    tick.service = &service;
    tick.db = db;
    int64_t purge_at = zclock_mono() + 3600 * 1000;
    int64_t tick_at = zclock_mono();
    audit_sealer_t sealer = {.schema = service.schema,
                             .key = service.audit_key,
                             .checkpoint_every = config_int(config, "audit.checkpoint_every", 1000),
                             .checkpoint_ms = config_int(config, "audit.checkpoint_ms", 60000)};
    int seal_ms = (int)config_int(config, "audit.seal_ms", 1000);
    int64_t seal_at = zclock_mono();
    while (!zsys_interrupted) {
        zclock_sleep(tick_ms < 200 ? tick_ms : 200);
        int64_t now = zclock_mono();
        if (now >= seal_at && !db_lost(db))
            seal_at = s_audit_seal(&service, db, &audit_lock, &sealer) ? now : now + seal_ms;
        if (now < purge_at && (!def->tick || now < tick_at))
            continue;
        if (db_lost(db))
            db_reset(db, service.schema, 1);
        if (now >= purge_at) {
            idempotency_purge(db, retention_days);
            purge_at = now + 3600 * 1000;
        }
        if (def->tick && now >= tick_at && !db_lost(db)) {
            bool more = def->tick(&tick);
            tick_at = more ? zclock_mono() : zclock_mono() + tick_ms;
        }
    }
    log_info("stopping; finishing requests in hand", "service=%s", def->name);
    rc = 0;
done:
    zactor_destroy(&relay_actor);
    for (int i = 0; actors && i < threads; i++)
        zactor_destroy(&actors[i]);
    free(actors);
    if (def->fini)
        def->fini();
    redisFree(tick.redis);
    db_lock_destroy(&audit_lock);
    PQfinish(db);
    s_service_free(&service);
    config_destroy(&config);
    if (rc == 0)
        log_info("service stopped", "service=%s", def->name);
    return rc;
}
