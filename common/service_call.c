/*
 * service_call.c - the API a handler calls on its request (service.h):
 * the envelope and the principal, memory that lives as long as the call,
 * field violations, failures, events, and SQL whose failures keep their
 * SQLSTATE's meaning.
 */
#include "db.h"
#include "db_message.h"
#include "logger.h"
#include "outbox.h"
#include "redis_link.h"
#include "rules.h"
#include "schedule.h"
#include "service_private.h"

#include <stdarg.h>

const Chuang__RequestHeader *service_call_header(service_call_t *call)
{
    return call->header;
}

PGconn *service_call_db(service_call_t *call)
{
    /* The caller may use libpq itself: the transaction must be open. Its
     * failure shows in the caller's first statement. */
    db_begin_now(call->worker->db);
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

void service_call_free(service_call_t *call)
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

static void *s_allocator_alloc(void *data, size_t size)
{
    return service_call_alloc(data, size);
}

static void s_allocator_free(void *data, void *pointer)
{
    (void)data;
    (void)pointer; /* freed with the call */
}

Chuang__Status service_call_row(service_call_t *call, const PGresult *res, int row,
                                ProtobufCMessage *message)
{
    ProtobufCAllocator allocator = {s_allocator_alloc, s_allocator_free, call};
    if (db_message_from_row(res, row, message, &allocator) == 0)
        return CHUANG__STATUS__OK;
    return service_call_fail(call, CHUANG__STATUS__INTERNAL, "internal error",
                             "The request could not be completed and changed nothing.",
                             "Report the request id to the operators.");
}

Chuang__Status service_call_rows(service_call_t *call, const PGresult *res, int limit,
                                 const ProtobufCMessageDescriptor *descriptor, void *field,
                                 size_t *count)
{
    int rows = PQntuples(res);
    if (limit >= 0 && rows > limit)
        rows = limit;
    ProtobufCMessage **items = service_call_alloc(call, ((size_t)rows + 1) * sizeof *items);
    *(ProtobufCMessage ***)field = items;
    *count = 0;
    for (int i = 0; i < rows; i++) {
        ProtobufCMessage *message = service_call_alloc(call, descriptor->sizeof_message);
        descriptor->message_init(message);
        items[(*count)++] = message;
        Chuang__Status status = service_call_row(call, res, i, message);
        if (status != CHUANG__STATUS__OK)
            return status;
    }
    return CHUANG__STATUS__OK;
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
    PGresult *res = db_query(call->worker->db, sql, count, values, NULL, NULL, 0);
    if (PQresultStatus(res) == expected)
        return res;
    *failure = service_call_sql_fail(call, res, what);
    PQclear(res);
    return NULL;
}

Chuang__Status service_call_rule(service_call_t *call, const char *name, const char *day,
                                 int64_t *value)
{
    int found = rules_get(call->worker->db, call->header->agency, name, day, value);
    if (found < 0)
        return service_call_sql_fail(call, NULL, "dated rule");
    if (found > 0)
        return CHUANG__STATUS__OK;
    char detail[512];
    snprintf(detail, sizeof detail,
             "The rule %s has no value in force for agency %s on %s: it was never set for that "
             "day, or its period has ended.",
             name, call->header->agency, day ? day : "today");
    return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION, "no rule in force", detail,
                             "An operator must add the rule with a period that includes this day.");
}

int service_call_schedule(service_call_t *call, const char *job, int64_t due_ms)
{
    redisContext *redis = service_call_redis(call);
    if (!redis) {
        log_warn("job not scheduled: no redis; it is restored from the tables", "job=%s", job);
        return -1;
    }
    char queue[256];
    snprintf(queue, sizeof queue, "%s:due", call->worker->service->redis_prefix);
    return schedule_add(redis, queue, job, due_ms);
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

Chuang__Status service_call_today(service_call_t *call, const char **day)
{
    if (**day)
        return CHUANG__STATUS__OK;
    const char *values[1] = {service_call_header(call)->agency};
    Chuang__Status failure;
    PGresult *res = service_call_query(call, "today", "SELECT chuang_today($1)::text", 1, values,
                                       PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    *day = service_call_strdup(call, PQgetvalue(res, 0, 0));
    PQclear(res);
    return CHUANG__STATUS__OK;
}

const char *service_call_recorded_by(service_call_t *call)
{
    const Chuang__Principal *principal = service_call_principal(call);
    const char *name = *principal->name ? principal->name : principal->kind;
    if (!*principal->person || streq(principal->person, name))
        return service_call_strdup(call, name);
    char *both = zsys_sprintf("%s/%s", name, principal->person);
    const char *copy = service_call_strdup(call, both ? both : name);
    zstr_free(&both);
    return copy;
}

Chuang__Status service_call_found(service_call_t *call, int found, const char *what,
                                  const char *message)
{
    if (found < 0)
        return service_call_sql_fail(call, NULL, what);
    if (found == 0)
        return service_call_fail(call, CHUANG__STATUS__NOT_FOUND, message, NULL, NULL);
    return CHUANG__STATUS__OK;
}

Chuang__Status service_call_year(service_call_t *call, int *year)
{
    if (*year)
        return CHUANG__STATUS__OK;
    const char *today = "";
    Chuang__Status status = service_call_today(call, &today);
    if (status == CHUANG__STATUS__OK)
        *year = atoi(today);
    return status;
}

bool service_call_acts_as(service_call_t *call, const char *role)
{
    if (!service_call_has_role(call, role))
        return false;
    for (size_t i = 0; i < call->header->n_roles; i++) {
        const char *held = call->header->roles[i];
        size_t length = strlen(held);
        if (streq(held, "officer") || streq(held, "auditor") ||
            (length > 8 && streq(held + length - 8, "-officer")))
            return false;
    }
    return true;
}
