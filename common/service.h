/*
 * service.h - the framework a chuang service is written on.
 *
 * A service declares its protobuf service descriptor and one handler per
 * method, and calls service_main() from main(). It gets: configuration from
 * a file (-c) with CHUANG_* environment overrides; structured logs; its
 * migrations applied at start-up under the schema's migration lock; several worker
 * threads (worker.threads), each with its own MDP worker registered with
 * every broker, its own PostgreSQL connection bound to the service's schema
 * and its own Redis connection; and a graceful stop on SIGTERM or SIGINT
 * that finishes the request in hand.
 *
 * For each request a worker unpacks the envelope and the method's input,
 * refuses a request past its deadline, opens a transaction, claims the
 * idempotency key (a retry gets the first reply back), runs the handler and
 * commits only when the handler answered OK. A handler that fails leaves
 * nothing behind. Serialisation failures are retried; a lost database
 * connection is re-established and the request answered UNAVAILABLE so that
 * the client retries.
 *
 * Settings: brokers, db.url, db.schema (default: the service name),
 * redis.url (optional; needed by a service that consumes events), redis.prefix, service.tick_ms,
 * relay.enabled (with redis.url; default yes), relay.publish (a PUB endpoint for live events),
 * relay.stream_max (events the stream keeps; 0, the default: all),
 * worker.threads, worker.heartbeat_ms, worker.liveness,
 * idempotency.retention_days, service.sql_dir, log.level, and the
 * security.* settings of security.h.
 */
#ifndef CHUANG_SERVICE_H
#define CHUANG_SERVICE_H

#include "bounds.h"
#include "chuang.pb-c.h"
#include "config.h"
#include "consumer.h"
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <stdbool.h>

typedef struct _service_call_t service_call_t;

/* A method's handler. input is the unpacked request; output is an initialised
 * message of the method's output type that the handler fills, with memory
 * from service_call_alloc/strdup (or pointing into input). Returns the
 * status: OK, or the status set by service_call_fail or
 * service_call_violation. Runs inside a transaction on service_call_db()
 * unless the method's kind is SERVICE_METHOD_READ_ONE or _NO_DB. */
typedef Chuang__Status(service_handler_fn)(service_call_t *call, const ProtobufCMessage *input,
                                           ProtobufCMessage *output);

typedef enum {
    SERVICE_METHOD_WRITE, /* in a transaction, applied once per idempotency key */
    SERVICE_METHOD_READ,  /* in a transaction, nothing recorded */
    /* A read that one statement answers: no transaction, so no BEGIN and no
     * COMMIT to wait for; each statement sees the data as of its own start
     * (as in a READ COMMITTED transaction). A connection found lost is
     * answered UNAVAILABLE, which the client library retries, and replaced
     * before the next request. */
    SERVICE_METHOD_READ_ONE,
    SERVICE_METHOD_NO_DB /* no transaction; the handler does not use the database */
} service_method_kind_t;

/* Who may call a method, in its service_method_t. The framework refuses a
 * caller who fits none before the handler runs, and refuses every call of a
 * method that declares nothing, so a new method cannot be left open. */
#define SERVICE_PUBLIC "public" /* any admitted caller, no role needed */

typedef struct {
    const char *method; /* as named in the .proto service */
    service_handler_fn *handler;
    service_method_kind_t kind;
    /* SERVICE_PUBLIC, or the roles (comma-separated) any one of which lets a
     * caller in, e.g. "officer,applicant". A role that only lets a person at
     * their own records (an applicant) is checked again by the handler, with
     * service_call_is_person, once it has the record. NULL: nobody. */
    const char *access;
} service_method_t;

typedef struct _service_tick_t service_tick_t;

/* Scheduled work of a service, called every service.tick_ms (default 1000)
 * on the main thread with a database and a Redis connection of its own. It
 * should do a bounded amount of work and return; a stop waits for it. It
 * returns true when it stopped at its bound with more to do: it is then
 * called again at once. */
typedef bool(service_tick_fn)(service_tick_t *tick);

/* Events of another service that this one applies, exactly once
 * (consumer.h). Every replica runs one consumer of each on a thread of its
 * own, in the consumer group named after this service, as consumer
 * "<service>-<host>-<pid>". Settings, per entry name:
 * consume.<name>.stream (the stream key; default the entry's stream;
 * empty: none), consume.<name>.imported (that stream is a feed import,
 * whose positions have gaps; default no), consume.<name>.enabled (default
 * yes: off to not follow that stream), consume.<name>.imports (other
 * agencies' copies of the stream that this agency's feed imports,
 * comma-separated: each followed too, by a thread of its own); and for all
 * of them consumer.claim_idle_ms (30000) and consumer.max_deliveries (5). */
typedef struct {
    const char *name;   /* for settings and logs, e.g. "registry" */
    const char *stream; /* the default stream key, e.g. "chuang:registry:events"; NULL: none */
    consumer_handler_fn *handler;
    void *arg; /* the handler's */
    /* Optional: called on the consumer's thread after a step that applied
     * events (e.g. to wake the work those events made). */
    void (*applied)(void);
} service_consumer_t;

/* A kind of scheduled job the framework runs for a service (service_jobs.c).
 * The service's tables are the record of what is to be done: every 10 s
 * pending() lists this kind's jobs with their due times and any missing
 * from the Redis due-time queue "<redis.prefix>:due" (schedule.h) is added
 * (a new job, a restarted Redis, a replica that crashed with one in
 * hand), none moved. Each tick claims up to 32 jobs that are due, under a
 * lease of 60 s, so that a replica that dies with one leaves it to another
 * when the lease ends, and runs each on the tick's connection; run must
 * check the state it acts on, since a job may run twice. After a run that
 * wrote events the service's relay is woken. */
typedef struct {
    const char *kind; /* job ids are "<kind>:<key>" */
    /* This kind's jobs not done yet: a result of rows (key text, due time
     * in ms since the epoch, bigint), owned by the caller; NULL on error. */
    PGresult *(*pending)(PGconn *db);
    /* Runs the job named key, for at most about budget_ms. Returns 0 when
     * it is done (or had nothing left to do), 1 when more is left to run at
     * once, -1 when it failed and should run again after its lease. */
    int (*run)(PGconn *db, const char *key, int64_t budget_ms);
    /* true: run runs inside a transaction the framework opens, committed
     * when run returns 0 or 1, rolled back on -1. false: run makes its own
     * transactions (e.g. one per chunk of a long job). */
    bool in_transaction;
} service_job_t;

typedef struct {
    const char *name; /* MDP service name */
    const ProtobufCServiceDescriptor *descriptor;
    const service_method_t *methods; /* ends with {NULL} */
    /* Optional: fields whose maximum is not bounds.h's default. Every input
     * is checked against these before its handler runs. */
    const bounds_t *bounds;
    const char *sql_dir;                 /* the service's migrations */
    service_tick_fn *tick;               /* optional scheduled work */
    const service_consumer_t *consumers; /* optional; ends with {NULL} */
    const service_job_t *jobs;           /* optional; ends with {NULL}; needs redis.url */
    /* Optional: reads the service's own settings before any worker starts;
     * returns -1 (after logging what is wrong) to stop start-up. */
    int (*init)(config_t *config);
    void (*fini)(void); /* optional: after every worker has stopped */
} service_def_t;

/* Runs the service until SIGTERM or SIGINT. Returns the process exit code. */
int service_main(int argc, char **argv, const service_def_t *def);

/* The tick's database connection (re-established before each tick when it
 * was lost), outside any transaction. */
PGconn *service_tick_db(service_tick_t *tick);

/* The tick's Redis connection, reconnected if it broke; NULL when redis.url
 * is not set or Redis cannot be reached now. */
redisContext *service_tick_redis(service_tick_t *tick);

/* The Redis key for name in this service's keyspace: "<redis.prefix>:<name>",
 * the prefix defaulting to "chuang:<schema>". Written into buffer. */
const char *service_tick_key(service_tick_t *tick, const char *name, char *buffer, size_t size);

/* The request's envelope. */
const Chuang__RequestHeader *service_call_header(service_call_t *call);

/* The worker thread's database connection, inside the request's transaction. */
PGconn *service_call_db(service_call_t *call);

/* The worker thread's Redis connection, reconnected if it broke; NULL when
 * redis.url is not set or Redis cannot be reached. */
redisContext *service_call_redis(service_call_t *call);

/* Memory that lives until the reply is sent. Never NULL (aborts when memory
 * runs out, as protobuf-c's own allocator would). */
void *service_call_alloc(service_call_t *call, size_t size);
char *service_call_strdup(service_call_t *call, const char *text);

/* Records a violation of field (description in words a clerk can act on).
 * Returns INVALID_ARGUMENT, so a handler can write
 *     return service_call_violation(call, "amount", "must be positive");
 * and call it several times to report several fields. */
Chuang__Status service_call_violation(service_call_t *call, const char *field, const char *format,
                                      ...) __attribute__((format(printf, 3, 4)));

/* Who sent the request, as the broker authenticated it (never NULL while
 * a handler runs: the framework refuses a request without one). */
const Chuang__Principal *service_call_principal(service_call_t *call);

/* true when the request acts for the person whose resident ID number is
 * id_number, as the gateway that authenticated them verified it. */
bool service_call_is_person(service_call_t *call, const char *id_number);

/* true when the request's envelope names role among its roles (the broker
 * has checked that the sender's key holds them). */
bool service_call_has_role(service_call_t *call, const char *role);

/* true when the caller acts by its own key in role (e.g. provider,
 * investor, carrier), holding no officer's or auditor's role as well
 * (officer, auditor, or one ending in "-officer"). */
bool service_call_acts_as(service_call_t *call, const char *role);

/* Who records a change: the principal's name, and the person it acts for
 * when that is someone else; in call memory. */
const char *service_call_recorded_by(service_call_t *call);

/* Leaves *day as it is when it names a day, else sets it to the agency's
 * today ("YYYY-MM-DD", call memory). Returns OK or the query's failure. */
Chuang__Status service_call_today(service_call_t *call, const char **day);

/* Leaves *year as it is unless 0, which becomes the agency's year today.
 * Returns OK or the query's failure. */
Chuang__Status service_call_year(service_call_t *call, int *year);

/* The reply to a read that found (1), did not find (0: NOT_FOUND with
 * message) or failed (< 0: what failed, logged). */
Chuang__Status service_call_found(service_call_t *call, int found, const char *what,
                                  const char *message);

/* Runs a query with text parameters on the call's connection. Returns the
 * result (caller clears) when its status is expected, else NULL with
 * *failure set to the reply status (service_call_sql_fail). */
PGresult *service_call_query(service_call_t *call, const char *what, const char *sql, int count,
                             const char *const *values, ExecStatusType expected,
                             Chuang__Status *failure);

/* The value of the dated rule name (rules.h) in force for the request's
 * agency on day ("YYYY-MM-DD"; NULL: the agency's today), into *value.
 * Returns OK; FAILED_PRECONDITION naming the rule and the day when none is
 * in force then (the request must not go on: an operator has to add it);
 * or the failure of the query. */
Chuang__Status service_call_rule(service_call_t *call, const char *name, const char *day,
                                 int64_t *value);

/* Fills message from row of res, each column into the field it is named
 * after (db_message.h), with call memory. Returns OK, or INTERNAL (logged:
 * a column that fits no field is the query's mistake). */
Chuang__Status service_call_row(service_call_t *call, const PGresult *res, int row,
                                ProtobufCMessage *message);

/* Fills a repeated message field with one message of descriptor per row
 * of res (at most limit rows; limit < 0: all), each by service_call_row:
 * field is the address of the field's array (e.g. &reply->lines) and count
 * of its count (&reply->n_lines). Returns OK, or INTERNAL (logged). */
Chuang__Status service_call_rows(service_call_t *call, const PGresult *res, int limit,
                                 const ProtobufCMessageDescriptor *descriptor, void *field,
                                 size_t *count);

/* A page of a list (keyset paging): a request gives limit and the
 * page_token its previous page answered with ("" for the first), a reply
 * the next_page_token ("" on the last page). The query orders its rows by
 * a unique key, starts after page->after (NULL on the first page: pass
 * them as parameters, e.g. "($2::bigint IS NULL OR id < $2::bigint)") and
 * asks for page->fetch rows, one more than the page shows. */
#define SERVICE_PAGE_KEYS 2
typedef struct {
    const char *list;
    size_t keys;
    int limit;                            /* rows the page shows */
    char fetch[16];                       /* limit + 1, as text, for LIMIT */
    const char *after[SERVICE_PAGE_KEYS]; /* the last key shown before, or NULL */
} service_page_t;

/* Reads a list request's limit (0: default_limit; 1 to max_limit) and
 * page token (key parts as key_types says, one letter each: 'i' a 64-bit
 * integer, 'u' a UUID) into page. Returns 0, or -1 with a violation
 * recorded on "limit" or "page_token". */
int service_call_page(service_call_t *call, const char *list, const char *key_types, int32_t limit,
                      const char *token, int default_limit, int max_limit, service_page_t *page);

/* The next page's token after a query for page->fetch rows returned rows:
 * made from the key parts of the last row shown (row page->limit - 1), in
 * call memory; "" when no row is left. A handler shows at most page->limit
 * rows. */
const char *service_call_page_next(service_call_t *call, const service_page_t *page, int rows,
                                   const char *const *last_key);

/* Fills a repeated message field with the rows a page's query returned
 * (at most page->limit, service_call_rows), and *next_token with the next
 * page's token from the key of the last row shown: its first page->keys
 * columns, which the query selects first (as "_key" when no field holds
 * it). */
Chuang__Status service_call_page_rows(service_call_t *call, const service_page_t *page,
                                      const PGresult *res,
                                      const ProtobufCMessageDescriptor *descriptor, void *field,
                                      size_t *count, char **next_token);

/* Puts the service's scheduled job "<kind>:<key>" (service_job_t) in its
 * queue at due_ms (ms since the epoch), moving it if it is there already:
 * for a change that sets when a job falls due. A job must check the state
 * it acts on, so one scheduled by a request that then fails does nothing.
 * On a Redis failure (logged) the job still comes from the tables at the
 * next restore. Returns 0 or -1. */
int service_call_schedule(service_call_t *call, const char *job, int64_t due_ms);

/* true once service_call_violation has recorded a violation. */
bool service_call_has_violations(service_call_t *call);

/* Sets a failure's message (short, lower-case) and optional detail and hint
 * (full sentences). Returns status. */
Chuang__Status service_call_fail(service_call_t *call, Chuang__Status status, const char *message,
                                 const char *detail, const char *hint);

/* Writes an event reporting the call's change into the service's outbox, in
 * the call's transaction: type "<service>.<EventName>", the aggregate that
 * changed, who may see it, and the event's protobuf payload. The agency and
 * trace id are the request's. Returns OK, or the failure to answer with. */
Chuang__Status service_call_emit(service_call_t *call, const char *type, const char *aggregate_id,
                                 Chuang__Visibility visibility, const ProtobufCMessage *payload);

/* Turns a failed query's result into the reply a client should see: unique
 * violations become ALREADY_EXISTS, a lost connection UNAVAILABLE, anything
 * else INTERNAL (logged with the server's message, which is not shown). */
Chuang__Status service_call_sql_fail(service_call_t *call, PGresult *result, const char *what);

#endif
