/*
 * service_worker.c - a worker thread's request loop: each request from the
 * brokers is checked (who may call the method, its bounds), then applied
 * in a transaction with its idempotency claim, its events and its audit
 * row, run again after a deadlock or serialisation failure, and answered;
 * a key seen before gets its recorded reply.
 */
#include "audit.h"
#include "bounds.h"
#include "db.h"
#include "db_array.h"
#include "idempotency.h"
#include "logger.h"
#include "mdp.h"
#include "redis_link.h"
#include "service_private.h"
#include "event_stream.h"

#define SQL_RETRIES 3

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

/* Opens the request's transaction when it has one; its BEGIN goes with the
 * first statement (db_begin), which also re-establishes a connection found
 * dead then (the server restarted since the last request): nothing was
 * applied yet, so the client need not see it. A connection known to be lost
 * is re-established first, with or without a transaction. */
static bool s_begin(worker_t *worker, bool transaction)
{
    if (db_lost(worker->db)) {
        log_warn("postgresql connection lost; reconnecting", "schema=%s", worker->service->schema);
        if (db_reset(worker->db, worker->service->schema, 1) != 0)
            return false;
    }
    return !transaction || db_begin(worker->db) == 0;
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
    bool transaction = method->kind == SERVICE_METHOD_WRITE || method->kind == SERVICE_METHOD_READ;
    bool database = method->kind != SERVICE_METHOD_NO_DB;
    char *scope = NULL, *identity = NULL;
    if (idempotent)
        s_idempotency_scope(call, &scope, &identity);

    for (int attempt = 1;; attempt++) {
        call->retry = false;
        call->status = CHUANG__STATUS__OK;
        db_failure_clear(worker->db);
        zlist_purge(call->violations);
        zlist_purge(call->aggregates);
        if (database && !s_begin(worker, transaction)) {
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
                db_rollback(worker->db);
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
                db_rollback(worker->db);
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
                db_rollback(worker->db);
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
            (!transaction || db_commit(worker->db) == 0)) {
            if (zlist_size(call->aggregates) > 0)
                event_stream_wake(service_call_redis(call), worker->service->stream);
            return body;
        }
        zmsg_destroy(&body);
        db_rollback(worker->db); /* when db_commit was not reached */
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
    service_call_free(&call);
    return reply;
}

void service_worker_actor(zsock_t *pipe, void *args)
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
