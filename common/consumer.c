/*
 * consumer.c - exactly-once application of another service's events; see
 * consumer.h for what it promises.
 *
 * Each step reads one batch: this consumer's own pending entries first
 * (after a start or a failure), then entries other consumers left idle too
 * long (XAUTOCLAIM, every claim_idle_ms), then new ones (XREADGROUP >, in a
 * script that also returns what the group was given before, so that
 * positions the stream lost in between show as a gap; with nothing new it
 * waits on XREAD after that id). An
 * entry is applied in one transaction with its inbox row; it is acknowledged
 * after the commit, so a crash in between leaves it pending, and its next
 * delivery finds the inbox row and only acknowledges it. Delivery counts
 * come from XPENDING (and, within this process, from failures seen here),
 * which is what moves a poison entry to the dead-letter stream.
 *
 * Order per aggregate: an event whose handler failed is recorded as its
 * aggregate's block (chuang_inbox_blocks, committed on its own); a later
 * event of that aggregate, or one behind an earlier event still held, is
 * not applied but held in chuang_inbox_held (in the same transaction that
 * decides it) and acknowledged. The block goes when its event is applied,
 * or when an operator releases it (consumer_release) after it went to the
 * dead letters; held events are then applied in position order by
 * whichever consumer looks first (HELD_CHECK_MS, or at once after it
 * cleared a block or held something). Events of other aggregates go on.
 *
 * A gap (a pending entry XAUTOCLAIM reports deleted, or positions missing
 * before the first new entry) is logged and asked for on the producer's
 * resend list; the relay pushes the events on the group's resent list,
 * which any consumer of the group moves into chuang_inbox_held (every
 * RESENT_CHECK_MS) and drops from the list only if it is unchanged, so two
 * consumers taking the same ones lose none.
 */
#include "consumer.h"
#include "db.h"
#include "event_stream.h"
#include "logger.h"
#include "redis_link.h"

#include <czmq.h>

#define BATCH           100
#define RETRY_MS        500  /* pause before a failed entry is tried again */
#define HELD_CHECK_MS   2000 /* how often held events are looked at anyway */
#define HELD            2    /* s_apply: the event waits behind its aggregate's block */
#define RESENT_CHECK_MS 1000 /* how often events sent again are looked for */

struct _consumer_t {
    consumer_settings_t settings; /* strings owned */
    char *dead_letters;           /* "<stream>:dead:<group>" */
    char *resend;                 /* where to ask for lost events (event_stream.h) */
    char *resent;                 /* where they come back for this group */
    PGconn *db;
    redisContext *redis;
    bool group_ready;
    bool own_pending;   /* read this consumer's pending entries next */
    int64_t retry_at;   /* not before this (zclock_mono ms), after a failure */
    int64_t claim_at;   /* next XAUTOCLAIM (zclock_mono ms) */
    zhashx_t *failures; /* entry id -> failures seen here (as a pointer-sized count) */
    bool held_maybe;    /* held events may be free to go: look */
    int64_t held_at;    /* next look at held events anyway (zclock_mono ms) */
    int64_t resent_at;  /* next look at events sent again (zclock_mono ms) */
    int64_t gap_base;   /* a group made anew: the last position the inbox has */
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
    self->resend = zsys_sprintf(EVENT_STREAM_RESEND_KEY, settings->stream);
    self->resent = zsys_sprintf(EVENT_STREAM_RESENT_KEY, settings->stream, settings->group);
    self->failures = zhashx_new();
    self->own_pending = true;
    self->held_maybe = true;
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
    zstr_free(&self->resend);
    zstr_free(&self->resent);
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
    /* A group made anew (its stream was lost): what the stream no longer
     * holds after the inbox's last position is a gap (s_read_new). */
    self->gap_base = 0;
    const char *values[1] = {self->settings.stream};
    PGresult *res = ok ? db_query(self->db,
                                  "SELECT coalesce(max(position), 0) FROM chuang_inbox"
                                  " WHERE stream = $1",
                                  1, values, NULL, NULL, 0)
                       : NULL;
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        self->gap_base = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
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

/* Appends the event of entry id to the dead letters. Returns 0 or -1. */
static int s_dead_letter_record(consumer_t *self, const char *id, const char *data, size_t size,
                                const char *error)
{
    redisReply *reply =
        redisCommand(self->redis, "XADD %s * id %s event %b error %s consumer %s",
                     self->dead_letters, id, data, size, error, self->settings.consumer);
    bool ok = reply && reply->type == REDIS_REPLY_STRING;
    freeReplyObject(reply);
    if (ok)
        log_warn("event moved to the dead letters", "stream=%s id=%s error=\"%s\"",
                 self->settings.stream, id, error);
    return ok ? 0 : -1;
}

/* Reports events from..to (positions) lost to the group, trimmed from the
 * stream before it applied them, and asks the producer's relay to send
 * them again from its outbox (event_stream.h). Returns 0 or -1. */
static int s_gap(consumer_t *self, int64_t from, int64_t to)
{
    log_error("events trimmed from the stream before they were applied; asking for them again",
              "stream=%s group=%s from=%" PRId64 " to=%" PRId64, self->settings.stream,
              self->settings.group, from, to);
    char *request = zsys_sprintf("%s %" PRId64 " %" PRId64, self->settings.group, from, to);
    redisReply *reply = redisCommand(self->redis, "RPUSH %s %s", self->resend, request);
    zstr_free(&request);
    bool ok = reply && reply->type == REDIS_REPLY_INTEGER;
    freeReplyObject(reply);
    self->resent_at = zclock_mono() + RESENT_CHECK_MS;
    return ok ? 0 : -1;
}

/* A pending entry (id "<position>-0") trimmed away before it was applied:
 * asked for again, or, on an imported stream (no relay answers for it),
 * reported in the log and the dead letters (with no event). Returns 0 or
 * -1. */
static int s_trimmed(consumer_t *self, const char *id)
{
    int64_t position = strtoll(id, NULL, 10);
    if (!self->settings.imported && position > 0)
        return s_gap(self, position, position);
    log_error("event trimmed from the stream before it was applied", "stream=%s id=%s group=%s",
              self->settings.stream, id, self->settings.group);
    return s_dead_letter_record(self, id, "", 0, "trimmed from the stream before it was applied");
}

static void s_dead_letter(consumer_t *self, const char *id, const char *data, size_t size,
                          const char *error)
{
    if (s_dead_letter_record(self, id, data, size, error) == 0)
        s_ack(self, id); /* else it stays pending, tried again on its next delivery */
}

/* Runs a statement of the consumer's own on stream, aggregate and position
 * (as $1, $2, $3; more in extra). Returns the result (caller clears), or
 * NULL after writing why into error. */
static PGresult *s_query(consumer_t *self, const Chuang__Event *event, const char *sql,
                         int extra_count, const char *const *extra, const int *lengths,
                         ExecStatusType expected, char *error)
{
    char position[24];
    snprintf(position, sizeof position, "%" PRId64, event->sequence);
    const char *values[6] = {self->settings.stream, event->aggregate_id, position};
    int sizes[6] = {0}, formats[6] = {0};
    for (int i = 0; i < extra_count; i++) {
        values[3 + i] = extra[i];
        sizes[3 + i] = lengths ? lengths[i] : 0;
        formats[3 + i] = lengths && lengths[i] ? 1 : 0;
    }
    PGresult *res = db_query(self->db, sql, 3 + extra_count, values, sizes, formats, 0);
    if (PQresultStatus(res) == expected)
        return res;
    snprintf(error, 256, "%s", PQerrorMessage(self->db));
    PQclear(res);
    return NULL;
}

/* Applies one event with its inbox row, unless an earlier event of its
 * aggregate is blocked or held, or it is itself a dead block awaiting a
 * release: then it is held (packed is its bytes).
 * Returns 1 applied, 0 already applied, HELD, -1 failed (error says why). */
static int s_apply(consumer_t *self, const Chuang__Event *event, const char *packed, size_t size,
                   char *error)
{
    if (db_exec(self->db, "begin event", "BEGIN") != 0) {
        snprintf(error, 256, "database unavailable");
        return -1;
    }
    int rc = -1;
    PGresult *res = s_query(self, event,
                            "SELECT 1 FROM chuang_inbox_blocks WHERE stream = $1"
                            "   AND aggregate_id = $2"
                            "   AND (position < $3::bigint OR (position = $3::bigint AND dead))"
                            " UNION ALL SELECT 1 FROM chuang_inbox_held WHERE stream = $1"
                            "   AND aggregate_id = $2 AND position < $3::bigint LIMIT 1",
                            0, NULL, NULL, PGRES_TUPLES_OK, error);
    bool behind = res && PQntuples(res) > 0;
    PQclear(res);
    if (!res)
        goto done;
    if (behind) {
        const char *extra[1] = {packed};
        int lengths[1] = {(int)size};
        res = s_query(self, event,
                      "INSERT INTO chuang_inbox_held (stream, aggregate_id, position, event)"
                      " VALUES ($1, $2, $3::bigint, $4) ON CONFLICT DO NOTHING",
                      1, extra, lengths, PGRES_COMMAND_OK, error);
        rc = res ? HELD : -1;
        PQclear(res);
        goto done;
    }
    const char *extra[1] = {event->id};
    res = s_query(
        self, event,
        "INSERT INTO chuang_inbox (event_id, stream, position)"
        " SELECT $4::uuid, $1, $3::bigint WHERE $2::text IS NOT NULL" /* uses every parameter */
        " ON CONFLICT (event_id) DO NOTHING RETURNING 1",
        1, extra, NULL, PGRES_TUPLES_OK, error);
    if (!res)
        goto done;
    bool fresh = PQntuples(res) > 0;
    PQclear(res);
    if (fresh) {
        error[0] = '\0';
        rc = self->settings.handler(self->db, event, self->settings.arg, error) == 0 ? 1 : -1;
        if (rc < 0 && !error[0])
            snprintf(error, 256, "the handler refused it");
    } else {
        rc = 0;
    }
    if (rc >= 0) {
        /* No longer a block, nor held. */
        res = s_query(self, event,
                      "WITH unblocked AS (DELETE FROM chuang_inbox_blocks WHERE stream = $1"
                      "   AND aggregate_id = $2 AND position = $3::bigint RETURNING 1),"
                      " released AS (DELETE FROM chuang_inbox_held WHERE stream = $1"
                      "   AND position = $3::bigint RETURNING 1)"
                      " SELECT (SELECT count(*) FROM unblocked)",
                      0, NULL, NULL, PGRES_TUPLES_OK, error);
        if (res && atoi(PQgetvalue(res, 0, 0)) > 0)
            self->held_maybe = true;
        if (!res)
            rc = -1;
        PQclear(res);
    }
done:
    if (rc >= 0 && db_exec(self->db, "commit event", "COMMIT") == 0)
        return rc;
    PQclear(PQexec(self->db, "ROLLBACK"));
    if (rc >= 0)
        snprintf(error, 256, "commit failed");
    return -1;
}

/* Records that event failed (error): it blocks the later events of its
 * aggregate. Returns how many times it has failed, or -1. */
static int s_block(consumer_t *self, const Chuang__Event *event, const char *error)
{
    char ignored[256];
    const char *extra[2] = {event->id, error};
    PGresult *res = s_query(
        self, event,
        "INSERT INTO chuang_inbox_blocks AS b (stream, aggregate_id, position, event_id, error)"
        " VALUES ($1, $2, $3::bigint, $4::uuid, $5)"
        " ON CONFLICT (stream, aggregate_id) DO UPDATE SET"
        "   failures = CASE WHEN b.position = EXCLUDED.position THEN b.failures + 1 ELSE 1 END,"
        "   dead = b.dead AND b.position = EXCLUDED.position,"
        "   position = EXCLUDED.position, event_id = EXCLUDED.event_id, error = EXCLUDED.error"
        " WHERE EXCLUDED.position <= b.position RETURNING failures",
        2, extra, NULL, PGRES_TUPLES_OK, ignored);
    int failures = res && PQntuples(res) ? atoi(PQgetvalue(res, 0, 0)) : -1;
    PQclear(res);
    return failures;
}

/* Marks event's block as moved to the dead letters: it waits for a
 * release. */
static void s_block_dead(consumer_t *self, const Chuang__Event *event)
{
    char ignored[256];
    PQclear(s_query(self, event,
                    "UPDATE chuang_inbox_blocks SET dead = true WHERE stream = $1"
                    " AND aggregate_id = $2 AND position = $3::bigint",
                    0, NULL, NULL, PGRES_COMMAND_OK, ignored));
}

/* Applies the held events that nothing blocks any more, in position
 * order, up to a batch. Returns how many it applied. */
static int s_drain_held(consumer_t *self)
{
    const char *values[2] = {self->settings.stream, "100"};
    PGresult *res =
        db_query(self->db,
                 "SELECT h.event FROM chuang_inbox_held h WHERE h.stream = $1"
                 " AND NOT EXISTS (SELECT 1 FROM chuang_inbox_blocks b WHERE b.stream = h.stream"
                 "   AND b.aggregate_id = h.aggregate_id AND b.position < h.position)"
                 " AND NOT EXISTS (SELECT 1 FROM chuang_inbox_blocks b WHERE b.stream = h.stream"
                 "   AND b.aggregate_id = h.aggregate_id AND b.position = h.position AND b.dead)"
                 " AND NOT EXISTS (SELECT 1 FROM chuang_inbox_held e WHERE e.stream = h.stream"
                 "   AND e.aggregate_id = h.aggregate_id AND e.position < h.position)"
                 " ORDER BY h.position LIMIT $2::int",
                 2, values, NULL, NULL, 1);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return 0;
    }
    int applied = 0;
    /* Looked at again at once only when this round freed something; a held
     * event that failed again waits for the next HELD_CHECK_MS. */
    self->held_maybe = false;
    for (int i = 0; i < PQntuples(res); i++) {
        const char *data = PQgetvalue(res, i, 0);
        size_t size = (size_t)PQgetlength(res, i, 0);
        Chuang__Event *event = chuang__event__unpack(NULL, size, (const uint8_t *)data);
        if (!event)
            continue;
        char error[256];
        int rc = s_apply(self, event, data, size, error);
        if (rc < 0 && !db_lost(self->db) &&
            s_block(self, event, error) >= self->settings.max_deliveries) {
            char id[24];
            snprintf(id, sizeof id, "%" PRId64 "-0", event->sequence);
            s_dead_letter_record(self, id, data, size, error);
            s_block_dead(self, event);
        }
        applied += rc == 1;
        chuang__event__free_unpacked(event, NULL);
    }
    PQclear(res);
    if (applied)
        self->held_maybe = true;
    return applied;
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
            if (s_trimmed(self, id) == 0)
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
            s_block(self, event, "delivered too many times without success");
            s_block_dead(self, event);
            chuang__event__free_unpacked(event, NULL);
            continue;
        }
        char error[256];
        int rc = s_apply(self, event, data, size, error);
        if (rc >= 0) {
            chuang__event__free_unpacked(event, NULL);
            s_ack(self, id);
            applied += rc == 1;
            if (rc == HELD)
                self->held_maybe = true;
            continue;
        }
        /* Retried later from this consumer's pending entries. A database
         * that went away is not the event's fault: stop and wait for it. */
        self->own_pending = true;
        self->retry_at = zclock_mono() + RETRY_MS;
        if (db_lost(self->db)) {
            chuang__event__free_unpacked(event, NULL);
            break;
        }
        s_block(self, event, error);
        uintptr_t seen = (uintptr_t)zhashx_lookup(self->failures, id);
        zhashx_update(self->failures, id, (void *)(seen + 1));
        if ((long long)seen + 1 >= self->settings.max_deliveries) {
            s_dead_letter(self, id, data, size, error);
            s_block_dead(self, event);
        }
        chuang__event__free_unpacked(event, NULL);
    }
    return applied;
}

/* Keeps the first count entries of the resent list only if they are still
 * items (ARGV), so that two replicas taking the same ones drop them once. */
static const char *const s_drop_taken =
    "local n = #ARGV "
    "local head = redis.call('LRANGE', KEYS[1], 0, n - 1) "
    "if #head ~= n then return 0 end "
    "for i = 1, n do if head[i] ~= ARGV[i] then return 0 end end "
    "redis.call('LTRIM', KEYS[1], n, -1) "
    "return 1";

/* Takes the events the producer sent again for this group into the held
 * events (chuang_inbox_held), from where s_drain_held applies them like
 * any other: once (the inbox), after an earlier failed event of their
 * aggregate, dead-lettered after max_deliveries failures. They come late:
 * later events of their aggregate may have been applied before them.
 * Returns 0, or -1. */
static int s_take_resent(consumer_t *self)
{
    redisReply *reply = redisCommand(self->redis, "LRANGE %s 0 %d", self->resent, BATCH - 1);
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(reply);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < reply->elements && rc == 0; i++) {
        redisReply *item = reply->element[i];
        Chuang__Event *event = chuang__event__unpack(NULL, item->len, (const uint8_t *)item->str);
        if (!event) {
            log_warn("not an event among those sent again; dropped", "stream=%s group=%s",
                     self->settings.stream, self->settings.group);
            continue;
        }
        char error[256];
        const char *extra[1] = {item->str};
        int lengths[1] = {(int)item->len};
        PGresult *res = s_query(self, event,
                                "INSERT INTO chuang_inbox_held (stream, aggregate_id, position,"
                                " event) VALUES ($1, $2, $3::bigint, $4) ON CONFLICT DO NOTHING",
                                1, extra, lengths, PGRES_COMMAND_OK, error);
        rc = res ? 0 : -1;
        PQclear(res);
        chuang__event__free_unpacked(event, NULL);
    }
    if (rc == 0 && reply->elements > 0) {
        const char **argv = calloc(reply->elements + 4, sizeof *argv);
        size_t *argl = calloc(reply->elements + 4, sizeof *argl);
        assert(argv && argl);
        argv[0] = "EVAL";
        argv[1] = s_drop_taken;
        argv[2] = "1";
        argv[3] = self->resent;
        for (size_t i = 0; i < 4; i++)
            argl[i] = strlen(argv[i]);
        for (size_t i = 0; i < reply->elements; i++) {
            argv[i + 4] = reply->element[i]->str;
            argl[i + 4] = reply->element[i]->len;
        }
        redisReply *dropped = redisCommandArgv(self->redis, (int)reply->elements + 4, argv, argl);
        if (!dropped || dropped->type != REDIS_REPLY_INTEGER)
            rc = -1;
        freeReplyObject(dropped);
        free(argv);
        free(argl);
        self->held_maybe = true;
        self->resent_at = 0; /* there may be more */
    }
    freeReplyObject(reply);
    return rc;
}

/* Reads new entries for the group without waiting, together with what the
 * group had been given before (one script, so nothing comes between):
 * returns {last-delivered-id, XREADGROUP reply}. */
static const char *const s_read_new_script =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('NOGROUP no stream') end "
    "local last = '0-0' "
    "for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do "
    "  local name, delivered "
    "  for i = 1, #g, 2 do "
    "    if g[i] == 'name' then name = g[i + 1] end "
    "    if g[i] == 'last-delivered-id' then delivered = g[i + 1] end "
    "  end "
    "  if name == ARGV[1] then last = delivered end "
    "end "
    "return {last, redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3],"
    "  'STREAMS', KEYS[1], '>')}";

/* The group's new entries, waiting up to block_ms when there are none.
 * Entries the stream lost before the group was given them (trimmed while
 * it lagged, or a group made anew on a stream that no longer holds what
 * followed the inbox's last position) are a gap, asked for again. Returns
 * 0 with *reply_p in the shape of XREADGROUP's reply (caller frees) or
 * NULL when nothing came; -1 with *reply_p the error reply, or NULL. */
static int s_read_new(consumer_t *self, int block_ms, redisReply **reply_p)
{
    *reply_p = NULL;
    redisReply *reply =
        redisCommand(self->redis, "EVAL %s 1 %s %s %s %d", s_read_new_script, self->settings.stream,
                     self->settings.group, self->settings.consumer, BATCH);
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
        *reply_p = reply;
        return -1;
    }
    const char *last = reply->element[0]->str;
    redisReply *read = reply->element[1];
    if (read->type == REDIS_REPLY_ARRAY && read->elements == 1) {
        redisReply *entries = read->element[0]->element[1];
        int64_t before = strtoll(last, NULL, 10);
        if (before == 0)
            before = self->gap_base;
        int64_t first =
            entries->elements ? strtoll(entries->element[0]->element[0]->str, NULL, 10) : 0;
        if (!self->settings.imported && before > 0 && first > before + 1)
            s_gap(self, before + 1, first - 1);
        self->gap_base = 0;
        reply->element[1] = NULL; /* handed to the caller */
        freeReplyObject(reply);
        *reply_p = read;
        return 0;
    }
    /* Nothing new: wait for an entry after what the group was given. */
    char *after = strdup(last);
    freeReplyObject(reply);
    reply = redisCommand(self->redis, "XREAD COUNT 1 BLOCK %d STREAMS %s %s",
                         block_ms > 1 ? block_ms : 1, self->settings.stream, after);
    free(after);
    int rc = reply && reply->type != REDIS_REPLY_ERROR ? 0 : -1;
    if (rc == 0)
        freeReplyObject(reply);
    else
        *reply_p = reply;
    return rc;
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

    if (zclock_mono() >= self->held_at) {
        self->held_maybe = true;
        self->held_at = zclock_mono() + HELD_CHECK_MS;
    }
    if (zclock_mono() >= self->resent_at) {
        self->resent_at = zclock_mono() + RESENT_CHECK_MS;
        s_take_resent(self);
    }
    int drained = self->held_maybe ? s_drain_held(self) : 0;

    redisReply *reply;
    redisReply *entries = NULL;
    bool fresh = false;
    /* Own pending entries once their retry is due; new entries meanwhile,
     * so that a failed event holds back its aggregate only. */
    bool own = self->own_pending && zclock_mono() >= self->retry_at;
    int block_ms = wait_ms;
    if (self->own_pending && self->retry_at - zclock_mono() < block_ms)
        block_ms = (int)(self->retry_at - zclock_mono());
    if (own) {
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
        if (s_read_new(self, block_ms, &reply) == 0 && !reply)
            return drained;
    }
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        if (reply && strstr(reply->str, "NOGROUP"))
            self->group_ready = false; /* the stream was lost or rebuilt */
        else
            log_warn("cannot read the event stream", "stream=%s error=\"%s\"",
                     self->settings.stream, reply ? reply->str : self->redis->errstr);
        freeReplyObject(reply);
        return drained ? drained : -1;
    }
    /* XREADGROUP: [[stream, entries]] or nil; XAUTOCLAIM: [next, entries,
     * deleted ids], the deleted ones already gone from the pending list. */
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2 &&
        reply->element[0]->type == REDIS_REPLY_STRING) {
        entries = reply->element[1];
        redisReply *deleted = reply->elements >= 3 ? reply->element[2] : NULL;
        for (size_t i = 0; deleted && deleted->type == REDIS_REPLY_ARRAY && i < deleted->elements;
             i++)
            s_trimmed(self, deleted->element[i]->str);
    } else if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1)
        entries = reply->element[0]->element[1];
    int applied = 0;
    bool more = entries && entries->type == REDIS_REPLY_ARRAY && entries->elements == BATCH;
    /* Own pending entries are read until a batch comes back short; a failure
     * in s_entries asks for them again. */
    if (own && !more)
        self->own_pending = false;
    if (entries && entries->type == REDIS_REPLY_ARRAY)
        applied = s_entries(self, entries, fresh);
    freeReplyObject(reply);
    return drained + applied;
}

int consumer_release(PGconn *db, const char *stream, const char *aggregate_id)
{
    const char *values[2] = {stream, aggregate_id};
    PGresult *res = db_query(db,
                             "WITH released AS (DELETE FROM chuang_inbox_blocks"
                             "   WHERE stream = $1 AND aggregate_id = $2 AND dead"
                             "   RETURNING position),"
                             " dropped AS (DELETE FROM chuang_inbox_held h USING released r"
                             "   WHERE h.stream = $1 AND h.position = r.position)"
                             " SELECT count(*) FROM released",
                             2, values, NULL, NULL, 0);
    int released = PQresultStatus(res) == PGRES_TUPLES_OK ? atoi(PQgetvalue(res, 0, 0)) : -1;
    PQclear(res);
    return released;
}
