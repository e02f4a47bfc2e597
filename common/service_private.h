/*
 * service_private.h - what the parts of the service framework share and
 * handlers never see: the process's settings, a worker thread's
 * connections, a call's state. service.c wires the process, service_call.c
 * is the API handlers call, service_worker.c a worker thread's request loop,
 * service_jobs.c the runner of scheduled jobs.
 */
#ifndef CHUANG_SERVICE_PRIVATE_H
#define CHUANG_SERVICE_PRIVATE_H

#include "agency_key.h"
#include "mdp_worker.h"
#include "service.h"

#include <czmq.h>
#include <stddef.h>

/* What the main thread sets up and the worker threads share, read-only. */
typedef struct {
    const service_def_t *def;
    security_t *security;
    char *brokers;
    char *db_url;
    char *schema;
    char *redis_url;
    char *redis_prefix;
    char *stream; /* the Redis key of its event stream, "<redis_prefix>:events" */
    int heartbeat_ms;
    int liveness;
    agency_key_t *audit_key; /* signs the audit log's checkpoints, or NULL */
} service_t;

struct _service_tick_t {
    service_t *service;
    PGconn *db;
    redisContext *redis;
    int64_t jobs_restored_at; /* zclock_mono ms of the last look for missing jobs */
};

/* Restores missing jobs now and then and runs those due (service_jobs.c).
 * Returns true when it stopped with more due at once. */
bool service_jobs_tick(service_tick_t *tick);

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

/* Frees the call's allocations (everything service_call_alloc gave). */
void service_call_free(service_call_t *call);

/* A worker thread (a zactor of service_t *args): says "ok" or "failed" on
 * its pipe once connected, then serves requests until the main thread
 * sends $TERM. */
void service_worker_actor(zsock_t *pipe, void *args);

#endif
