/*
 * consumer.c - exactly-once application of another service's events; see
 * consumer.h for what it promises.
 *
 * Each step reads one batch: this consumer's own pending entries first
 * (after a start or a failure), then entries other consumers left idle too
 * long (XAUTOCLAIM, every claim_idle_ms), then new ones (XREADGROUP >). An
 * entry is applied in one transaction with its inbox row; it is acknowledged
 * after the commit, so a crash in between leaves it pending, and its next
 * delivery finds the inbox row and only acknowledges it. Delivery counts
 * come from XPENDING (and, within this process, from failures seen here),
 * which is what moves a poison entry to the dead-letter stream.
 */
#include "consumer.h"
#include "db.h"
#include "logger.h"
#include "redis_link.h"

#include <czmq.h>

#define BATCH    100
#define RETRY_MS 500 /* pause before a failed entry is tried again */

struct _consumer_t {
    consumer_settings_t settings; /* strings owned */
    char *dead_letters;           /* "<stream>:dead:<group>" */
    PGconn *db;
    redisContext *redis;
    bool group_ready;
    bool own_pending;   /* read this consumer's pending entries next */
    int64_t retry_at;   /* not before this (zclock_mono ms), after a failure */
    int64_t claim_at;   /* next XAUTOCLAIM (zclock_mono ms) */
    zhashx_t *failures; /* entry id -> failures seen here (as a pointer-sized count) */
};

static char *s_dup(const char *text)
{
    return text ? strdup(text) : NULL;
}

consumer_t *consumer_new(const consumer_settings_t *settings)
{
    consumer_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->settings = *settings;
    self->settings.db_url = s_dup(settings->db_url);
    self->settings.schema = s_dup(settings->schema);
    self->settings.redis_url = s_dup(settings->redis_url);
    self->settings.stream = s_dup(settings->stream);
    self->settings.group = s_dup(settings->group);
    self->settings.consumer = s_dup(settings->consumer);
    self->dead_letters = zsys_sprintf("%s:dead:%s", settings->stream, settings->group);
    self->failures = zhashx_new();
    self->own_pending = true;
    return self;
}

void consumer_destroy(consumer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    consumer_t *self = *self_p;
    PQfinish(self->db);
    redisFree(self->redis);
    zhashx_destroy(&self->failures);
    free((char *)self->settings.db_url);
    free((char *)self->settings.schema);
    free((char *)self->settings.redis_url);
    free((char *)self->settings.stream);
    free((char *)self->settings.group);
    free((char *)self->settings.consumer);
    zstr_free(&self->dead_letters);
    free(self);
    *self_p = NULL;
}

/* Creates the group at the start of the stream (every event, once: the
 * inbox skips what was applied before). */
static int s_group_create(consumer_t *self)
{
    redisReply *reply = redisCommand(self->redis, "XGROUP CREATE %s %s 0 MKSTREAM",
                                     self->settings.stream, self->settings.group);
    bool ok = reply && (reply->type == REDIS_REPLY_STATUS ||
                        (reply->type == REDIS_REPLY_ERROR && strstr(reply->str, "BUSYGROUP")));
    if (!ok)
        log_warn("cannot create consumer group", "stream=%s group=%s error=\"%s\"",
                 self->settings.stream, self->settings.group,
                 reply ? reply->str : self->redis->errstr);
    freeReplyObject(reply);
    self->group_ready = ok;
    self->own_pending = true;
    return ok ? 0 : -1;
}

/* How many times the group has delivered entry id, or 0 if it is unknown. */
static long long s_deliveries(consumer_t *self, const char *id)
{
    redisReply *reply = redisCommand(self->redis, "XPENDING %s %s %s %s 1", self->settings.stream,
                                     self->settings.group, id, id);
    long long count = 0;
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 1 &&
        reply->element[0]->elements == 4)
        count = reply->element[0]->element[3]->integer;
    freeReplyObject(reply);
    uintptr_t seen = (uintptr_t)zhashx_lookup(self->failures, id);
    return (long long)seen + 1 > count ? (long long)seen + 1 : count;
}

static void s_ack(consumer_t *self, const char *id)
{
    freeReplyObject(redisCommand(self->redis, "XACK %s %s %s", self->settings.stream,
                                 self->settings.group, id));
    zhashx_delete(self->failures, id);
}

static void s_dead_letter(consumer_t *self, const char *id, const char *data, size_t size,
                          const char *error)
{
    redisReply *reply =
        redisCommand(self->redis, "XADD %s * id %s event %b error %s consumer %s",
                     self->dead_letters, id, data, size, error, self->settings.consumer);
    bool ok = reply && reply->type == REDIS_REPLY_STRING;
    freeReplyObject(reply);
    if (!ok)
        return; /* stays pending; tried again on its next delivery */
    log_warn("event moved to the dead letters", "stream=%s id=%s error=\"%s\"",
             self->settings.stream, id, error);
    s_ack(self, id);
}

/* Applies one event with its inbox row. Returns 1 applied, 0 already
 * applied, -1 failed (error says why). */
static int s_apply(consumer_t *self, const Chuang__Event *event, char *error)
{
    if (db_exec(self->db, "begin event", "BEGIN") != 0) {
        snprintf(error, 256, "database unavailable");
        return -1;
    }
    char position[24];
    snprintf(position, sizeof position, "%" PRId64, event->sequence);
    const char *values[3] = {event->id, self->settings.stream, position};
    PGresult *res = PQexecParams(self->db,
                                 "INSERT INTO chuang_inbox (event_id, stream, position)"
                                 " VALUES ($1::uuid, $2, $3::bigint)"
                                 " ON CONFLICT (event_id) DO NOTHING RETURNING 1",
                                 3, NULL, values, NULL, NULL, 0);
    int rc;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(error, 256, "inbox: %s", PQerrorMessage(self->db));
        rc = -1;
    } else if (PQntuples(res) == 0) {
        rc = 0;
    } else {
        error[0] = '\0';
        rc = self->settings.handler(self->db, event, self->settings.arg, error) == 0 ? 1 : -1;
        if (rc < 0 && !error[0])
            snprintf(error, 256, "the handler refused it");
    }
    PQclear(res);
    if (rc >= 0 && db_exec(self->db, "commit event", "COMMIT") == 0)
        return rc;
    PGresult *rollback = PQexec(self->db, "ROLLBACK");
    PQclear(rollback);
    if (rc >= 0)
        snprintf(error, 256, "commit failed");
    return -1;
}

/* Handles the entries of a reply ([[id, [field, value...]], ...]); fresh
 * when they are new (read with ">"), so delivered once. Returns how many
 * events were applied. */
static int s_entries(consumer_t *self, redisReply *entries, bool fresh)
{
    int applied = 0;
    for (size_t i = 0; i < entries->elements; i++) {
        redisReply *entry = entries->element[i];
        if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 2)
            continue;
        const char *id = entry->element[0]->str;
        redisReply *fields = entry->element[1];
        if (fields->type != REDIS_REPLY_ARRAY || fields->elements < 2) {
            /* A deleted entry still pending: nothing left to apply. */
            s_ack(self, id);
            continue;
        }
        const char *data = fields->element[1]->str;
        size_t size = fields->element[1]->len;
        Chuang__Event *event = chuang__event__unpack(NULL, size, (const uint8_t *)data);
        if (!event) {
            s_dead_letter(self, id, data, size, "not a chuang.Event");
            continue;
        }
        if (!fresh && s_deliveries(self, id) > self->settings.max_deliveries) {
            s_dead_letter(self, id, data, size, "delivered too many times without success");
            chuang__event__free_unpacked(event, NULL);
            continue;
        }
        char error[256];
        int rc = s_apply(self, event, error);
        chuang__event__free_unpacked(event, NULL);
        if (rc >= 0) {
            s_ack(self, id);
            applied += rc;
            continue;
        }
        /* Retried later from this consumer's pending entries. A database
         * that went away is not the event's fault: stop and wait for it. */
        self->own_pending = true;
        self->retry_at = zclock_mono() + RETRY_MS;
        if (db_lost(self->db))
            break;
        uintptr_t seen = (uintptr_t)zhashx_lookup(self->failures, id);
        zhashx_update(self->failures, id, (void *)(seen + 1));
        if ((long long)seen + 1 >= self->settings.max_deliveries)
            s_dead_letter(self, id, data, size, error);
    }
    return applied;
}

int consumer_step(consumer_t *self, int wait_ms)
{
    if (!self->db || db_lost(self->db)) {
        PQfinish(self->db);
        self->db = db_connect(self->settings.db_url, self->settings.schema, 1);
        if (!self->db) {
            zclock_sleep(wait_ms);
            return -1;
        }
    }
    if (!self->redis || self->redis->err) {
        self->group_ready = false;
        if (redis_link_reset(&self->redis, self->settings.redis_url, 1) != 0) {
            zclock_sleep(wait_ms);
            return -1;
        }
    }
    if (!self->group_ready && s_group_create(self) != 0) {
        zclock_sleep(wait_ms);
        return -1;
    }

    redisReply *reply;
    redisReply *entries = NULL;
    bool fresh = false;
    if (self->own_pending && zclock_mono() < self->retry_at) {
        zclock_sleep((int)(self->retry_at - zclock_mono()) < wait_ms
                         ? (int)(self->retry_at - zclock_mono())
                         : wait_ms);
        return 0;
    }
    if (self->own_pending) {
        reply = redisCommand(self->redis, "XREADGROUP GROUP %s %s COUNT %d STREAMS %s 0",
                             self->settings.group, self->settings.consumer, BATCH,
                             self->settings.stream);
    } else if (zclock_mono() >= self->claim_at) {
        self->claim_at = zclock_mono() + self->settings.claim_idle_ms;
        reply = redisCommand(self->redis, "XAUTOCLAIM %s %s %s %d 0-0 COUNT %d",
                             self->settings.stream, self->settings.group, self->settings.consumer,
                             self->settings.claim_idle_ms, BATCH);
    } else {
        fresh = true;
        reply = redisCommand(self->redis, "XREADGROUP GROUP %s %s COUNT %d BLOCK %d STREAMS %s >",
                             self->settings.group, self->settings.consumer, BATCH, wait_ms,
                             self->settings.stream);
    }
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        if (reply && strstr(reply->str, "NOGROUP"))
            self->group_ready = false; /* the stream was lost or rebuilt */
        else
            log_warn("cannot read the event stream", "stream=%s error=\"%s\"",
                     self->settings.stream, reply ? reply->str : self->redis->errstr);
        freeReplyObject(reply);
        return -1;
    }
    /* XREADGROUP: [[stream, entries]] or nil; XAUTOCLAIM: [next, entries, ...]. */
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2 &&
        reply->element[0]->type == REDIS_REPLY_STRING)
        entries = reply->element[1];
    else if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1)
        entries = reply->element[0]->element[1];
    int applied = 0;
    bool more = entries && entries->type == REDIS_REPLY_ARRAY && entries->elements == BATCH;
    /* Own pending entries are read until a batch comes back short; a failure
     * in s_entries asks for them again. */
    if (self->own_pending && !more)
        self->own_pending = false;
    if (entries && entries->type == REDIS_REPLY_ARRAY)
        applied = s_entries(self, entries, fresh);
    freeReplyObject(reply);
    return applied;
}
