/*
 * service.c - the service framework's process wiring; see service.h for what
 * it promises.
 *
 * The main thread reads the configuration, applies the migrations, starts
 * worker.threads worker actors (service_worker.c), the relay's thread and
 * a thread for each consumer of other services' events, and then ticks (scheduled work, the audit
 * sealer) until SIGTERM or SIGINT (CZMQ's handler sets zsys_interrupted). To stop, it destroys the
 * actors one by one: each finishes the request in hand, answers it, tells its brokers DISCONNECT
 * and closes its connections. Handlers see only the call API (service_call.c).
 */
#include "service.h"
#include "service_private.h"
#include "audit.h"
#include "config.h"
#include "db.h"
#include "db_lock.h"
#include "idempotency.h"
#include "logger.h"
#include "mdp.h"
#include "mdp_worker.h"
#include "redis_link.h"
#include "relay.h"
#include "security.h"

#include <czmq.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>

#ifndef CHUANG_COMMON_SQL_DIR
#error "CHUANG_COMMON_SQL_DIR must name the framework's migrations folder"
#endif

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

/* A consumer's thread (args: a consumer_job_t it owns): applies events
 * until the main thread sends $TERM (it notices within CONSUMER_WAIT_MS). */
#define CONSUMER_WAIT_MS 300

typedef struct {
    consumer_t *consumer;
    const service_consumer_t *entry;
} consumer_job_t;

static void s_consumer_actor(zsock_t *pipe, void *args)
{
    consumer_job_t *job = args;
    zsock_signal(pipe, 0);
    zpoller_t *poller = zpoller_new(pipe, NULL);
    while (!zpoller_wait(poller, 0) && !zpoller_terminated(poller))
        if (consumer_step(job->consumer, CONSUMER_WAIT_MS) > 0 && job->entry->applied)
            job->entry->applied();
    zpoller_destroy(&poller);
    consumer_destroy(&job->consumer);
    free(job);
}

/* Adds to *actors (a NULL-ended array of *count threads) the thread of
 * entry's consumer of stream, as consumer name. Returns 0, or -1 after
 * logging why not. */
static int s_follow(service_t *service, config_t *config, const service_consumer_t *entry,
                    const char *stream, bool imported, const char *name, zactor_t ***actors,
                    size_t *count)
{
    if (!service->redis_url) {
        log_error("redis.url is not set; this service follows other services' events through "
                  "redis",
                  "service=%s consumer=%s", service->def->name, entry->name);
        return -1;
    }
    zactor_t **grown = realloc(*actors, (*count + 2) * sizeof **actors);
    if (!grown)
        return -1;
    *actors = grown;
    (*actors)[*count] = NULL;
    consumer_settings_t settings = {
        .db_url = service->db_url,
        .schema = service->schema,
        .redis_url = service->redis_url,
        .stream = stream,
        .group = service->def->name,
        .consumer = name,
        .claim_idle_ms = (int)config_int(config, "consumer.claim_idle_ms", 30000),
        .max_deliveries = (int)config_int(config, "consumer.max_deliveries", 5),
        .imported = imported,
        .handler = entry->handler,
        .arg = entry->arg,
    };
    consumer_job_t *job = calloc(1, sizeof *job);
    consumer_t *consumer = job ? consumer_new(&settings) : NULL;
    if (!consumer) {
        log_error("cannot start a consumer", "consumer=%s stream=%s", entry->name, stream);
        free(job);
        return -1;
    }
    job->consumer = consumer;
    job->entry = entry;
    (*actors)[(*count)++] = zactor_new(s_consumer_actor, job);
    (*actors)[*count] = NULL;
    log_info("following events", "consumer=%s stream=%s group=%s imported=%s", entry->name, stream,
             service->def->name, imported ? "yes" : "no");
    return 0;
}

/* Starts a thread for each stream each consumer of the service's
 * definition follows: its own stream (unless disabled or empty) and each
 * stream of consume.<name>.imports, into *actors (a NULL-ended array the
 * caller destroys). Returns 0, or -1 after logging what is missing. */
static int s_consumers_start(service_t *service, config_t *config, zactor_t ***actors)
{
    char name[128], *host = zsys_hostname();
    snprintf(name, sizeof name, "%s-%s-%d", service->def->name, host ? host : "localhost",
             (int)getpid());
    zstr_free(&host);
    size_t count = 0;
    *actors = calloc(1, sizeof **actors);
    int rc = *actors ? 0 : -1;
    for (const service_consumer_t *c = service->def->consumers; rc == 0 && c && c->name; c++) {
        char key[128];
        snprintf(key, sizeof key, "consume.%s.enabled", c->name);
        bool enabled = config_bool(config, key, true);
        snprintf(key, sizeof key, "consume.%s.stream", c->name);
        const char *own = config_str(config, key, c->stream);
        snprintf(key, sizeof key, "consume.%s.imported", c->name);
        bool imported = config_bool(config, key, false);
        if (enabled && own && *own)
            rc = s_follow(service, config, c, own, imported, name, actors, &count);
        snprintf(key, sizeof key, "consume.%s.imports", c->name);
        char *imports = strdup(config_str(config, key, ""));
        char *save = NULL;
        for (char *stream = strtok_r(imports, ", ", &save); rc == 0 && stream;
             stream = strtok_r(NULL, ", ", &save))
            rc = s_follow(service, config, c, stream, true, name, actors, &count);
        free(imports);
    }
    return rc;
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
    zstr_free(&service->stream);
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
    service.stream = zsys_sprintf("%s:events", service.redis_prefix);
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
    zactor_t **consumer_actors = NULL;
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
        actors[i] = zactor_new(service_worker_actor, &service);
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
        relay_settings_t settings = {.db_url = service.db_url,
                                     .schema = service.schema,
                                     .redis_url = service.redis_url,
                                     .stream = service.stream,
                                     .publish = config_str(config, "relay.publish", NULL),
                                     .security = service.security,
                                     .service_name = def->name,
                                     .stream_max = config_int(config, "relay.stream_max", 0)};
        relay_actor = zactor_new(s_relay_actor, relay_new(&settings));
    }
    if (s_consumers_start(&service, config, &consumer_actors) != 0)
        goto done;
    if (def->jobs && def->jobs->kind && !service.redis_url) {
        log_error("redis.url is not set; this service's scheduled jobs wait in redis", "service=%s",
                  def->name);
        goto done;
    }
    log_info("service ready", "service=%s threads=%d brokers=%s", def->name, threads,
             service.brokers);
    /* The main thread purges old idempotency keys and runs the ticks. */
    tick.service = &service;
    tick.db = db;
    int64_t purge_at = zclock_mono() + 3600 * 1000;
    int64_t tick_at = zclock_mono();
    bool ticking = def->tick || (def->jobs && def->jobs->kind);
    audit_sealer_t sealer = {.schema = service.schema,
                             .key = service.audit_key,
                             .checkpoint_every = config_int(config, "audit.checkpoint_every", 1000),
                             .checkpoint_ms = config_int(config, "audit.checkpoint_ms", 60000)};
    int seal_ms = (int)config_int(config, "audit.seal_ms", 1000);
    int64_t seal_at = zclock_mono();
    while (!zsys_interrupted) {
        /* No sleep when the tick asked to be called again at once. */
        int64_t idle = ticking ? tick_at - zclock_mono() : 200;
        if (idle > 0)
            zclock_sleep(idle < 200 ? (int)idle : 200);
        int64_t now = zclock_mono();
        if (now >= seal_at && !db_lost(db))
            seal_at = s_audit_seal(&service, db, &audit_lock, &sealer) ? now : now + seal_ms;
        if (now < purge_at && (!ticking || now < tick_at))
            continue;
        if (db_lost(db))
            db_reset(db, service.schema, 1);
        if (now >= purge_at) {
            idempotency_purge(db, retention_days);
            purge_at = now + 3600 * 1000;
        }
        if (ticking && now >= tick_at && !db_lost(db)) {
            bool more = def->tick ? def->tick(&tick) : false;
            if (!db_lost(db) && service_jobs_tick(&tick))
                more = true;
            tick_at = more ? zclock_mono() : zclock_mono() + tick_ms;
        }
    }
    log_info("stopping; finishing requests in hand", "service=%s", def->name);
    rc = 0;
done:
    for (size_t i = 0; consumer_actors && consumer_actors[i]; i++)
        zactor_destroy(&consumer_actors[i]);
    free(consumer_actors);
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
