/*
 * consumer.c - exactly-once application of another service's events; see
 * consumer.h for what it promises.
 *
 * Each step reads one batch: this consumer's own pending entries first
 * (after a start or a failure), then entries other consumers left idle too
 * long (XAUTOCLAIM, every claim_idle_ms), then new ones (XREADGROUP >, in a
 * script that also returns what the group was given before, so that
 * positions the stream lost in between show as a gap; with nothing new it
 * waits on XREAD after that id). A
 * batch is applied in one transaction: one statement decides for every
 * entry whether it waits behind its aggregate and writes the inbox rows of
 * the others, then the handler runs for each new event in position order;
 * after the commit the entries are acknowledged with one XACK, sent with
 * the next read in its round trip; a crash in between leaves them pending,
 * and their next delivery finds the inbox rows and only acknowledges them. When a handler or a
 * statement fails, the batch is rolled back and its entries are taken again one transaction each,
 * so that the failure is the failing event's alone (cheaper than a savepoint per event, which would
 * cost two round trips per event in the batches that do not fail, nearly all). Delivery counts come
 * from XPENDING (and, within this process, from failures seen here), which is what moves a poison
 * entry to the dead-letter stream.
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
#include "db_array.h"
#include "event_stream.h"
#include "logger.h"
#include "redis_link.h"

#include <czmq.h>

#define BATCH           CONSUMER_BATCH
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
    bool own_pending;           /* read this consumer's pending entries next */
    int64_t retry_at;           /* not before this (zclock_mono ms), after a failure */
    int64_t claim_at;           /* next XAUTOCLAIM (zclock_mono ms) */
    zhashx_t *failures;         /* entry id -> failures seen here (as a pointer-sized count) */
    bool held_maybe;            /* held events may be free to go: look */
    int64_t held_at;            /* next look at held events anyway (zclock_mono ms) */
    int64_t resent_at;          /* next look at events sent again (zclock_mono ms) */
    int64_t gap_base;           /* a group made anew: the last position the inbox has */
    char *acks[CONSUMER_BATCH]; /* entries of the last batch, acknowledged with the next read */
    size_t ack_count;
    int read_sent;    /* replies of a read sent ahead (s_read_send) still to take */
    redisReply *read; /* the answer of a read sent ahead, taken, not yet used */
};

static void s_acks_flush(consumer_t *self);
static redisContext *s_link(consumer_t *self);

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
    s_acks_flush(self);
    freeReplyObject(self->read);
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
    redisReply *reply = redisCommand(s_link(self), "XGROUP CREATE %s %s 0 MKSTREAM",
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
    redisReply *reply = redisCommand(s_link(self), "XPENDING %s %s %s %s 1", self->settings.stream,
                                     self->settings.group, id, id);
    long long count = 0;
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 1 &&
        reply->element[0]->elements == 4)
        count = reply->element[0]->element[3]->integer;
    freeReplyObject(reply);
    uintptr_t seen = (uintptr_t)zhashx_lookup(self->failures, id);
    return (long long)seen + 1 > count ? (long long)seen + 1 : count;
}

/* An entry of a batch, its event unpacked (owned). */
typedef struct {
    const char *id; /* the entry's id, in the reply */
    const char *data;
    size_t size;
    Chuang__Event *event;
} item_t;

/* Acknowledges the entries of items with one XACK. */
static void s_ack_items(consumer_t *self, const item_t *items, size_t count)
{
    const char *argv[BATCH + 3] = {"XACK", self->settings.stream, self->settings.group};
    for (size_t i = 0; i < count; i++) {
        argv[3 + i] = items[i].id;
        zhashx_delete(self->failures, items[i].id);
    }
    freeReplyObject(redisCommandArgv(s_link(self), (int)count + 3, argv, NULL));
}

/* Keeps the entries of items (applied and committed) to be acknowledged
 * with the next read, in its round trip. Until then they stay pending: a
 * crash meanwhile delivers them again, and the inbox knows them. */
static void s_acks_defer(consumer_t *self, const item_t *items, size_t count)
{
    for (size_t i = 0; i < count && self->ack_count < BATCH; i++) {
        zhashx_delete(self->failures, items[i].id);
        self->acks[self->ack_count] = strdup(items[i].id);
        if (self->acks[self->ack_count])
            self->ack_count++;
    }
}

/* Appends the XACK of the deferred acknowledgements to the connection's
 * output, to be sent with the next command. Returns 1 when it did (a reply
 * more to read), 0 when there were none. */
static int s_acks_append(consumer_t *self)
{
    if (!self->ack_count)
        return 0;
    const char *argv[BATCH + 3] = {"XACK", self->settings.stream, self->settings.group};
    for (size_t i = 0; i < self->ack_count; i++)
        argv[3 + i] = self->acks[i];
    return redisAppendCommandArgv(self->redis, (int)self->ack_count + 3, argv, NULL) == REDIS_OK;
}

static void s_acks_clear(consumer_t *self)
{
    for (size_t i = 0; i < self->ack_count; i++)
        zstr_free(&self->acks[i]);
    self->ack_count = 0;
}

/* Sends the deferred acknowledgements now. */
static void s_acks_flush(consumer_t *self)
{
    redisReply *reply = NULL;
    if (self->redis && !self->redis->err && s_link(self) && s_acks_append(self) &&
        redisGetReply(self->redis, (void **)&reply) == REDIS_OK)
        freeReplyObject(reply);
    s_acks_clear(self);
}

static void s_ack(consumer_t *self, const char *id)
{
    item_t item = {.id = id};
    s_ack_items(self, &item, 1);
}

/* Appends the event of entry id to the dead letters. Returns 0 or -1. */
static int s_dead_letter_record(consumer_t *self, const char *id, const char *data, size_t size,
                                const char *error)
{
    redisReply *reply =
        redisCommand(s_link(self), "XADD %s * id %s event %b error %s consumer %s",
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
    redisReply *reply = redisCommand(s_link(self), "RPUSH %s %s", self->resend, request);
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

/* Keeps event (packed is its bytes) in chuang_inbox_held, to be applied
 * when nothing of its aggregate before it waits any more. Returns 0, or -1
 * (error says why). */
static int s_hold(consumer_t *self, const Chuang__Event *event, const char *packed, size_t size,
                  char *error)
{
    const char *extra[1] = {packed};
    int lengths[1] = {(int)size};
    PGresult *res = s_query(self, event,
                            "INSERT INTO chuang_inbox_held (stream, aggregate_id, position, event)"
                            " VALUES ($1, $2, $3::bigint, $4) ON CONFLICT DO NOTHING",
                            1, extra, lengths, PGRES_COMMAND_OK, error);
    PQclear(res);
    return res ? 0 : -1;
}

/* Clears what marked event, now applied: its aggregate's block at its
 * position, and its own held copy. Returns 1 when a block went (held
 * events may be free to go), 0, or -1 (error says why). */
static int s_unmark(consumer_t *self, const Chuang__Event *event, char *error)
{
    PGresult *res = s_query(self, event,
                            "WITH unblocked AS (DELETE FROM chuang_inbox_blocks WHERE stream = $1"
                            "   AND aggregate_id = $2 AND position = $3::bigint RETURNING 1),"
                            " released AS (DELETE FROM chuang_inbox_held WHERE stream = $1"
                            "   AND position = $3::bigint RETURNING 1)"
                            " SELECT (SELECT count(*) FROM unblocked)",
                            0, NULL, NULL, PGRES_TUPLES_OK, error);
    int rc = res ? atoi(PQgetvalue(res, 0, 0)) > 0 : -1;
    PQclear(res);
    return rc;
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
        rc = s_hold(self, event, packed, size, error) == 0 ? HELD : -1;
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
        int unmarked = s_unmark(self, event, error);
        if (unmarked > 0)
            self->held_maybe = true;
        if (unmarked < 0)
            rc = -1;
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

/* Applies one entry's event in a transaction of its own and acknowledges
 * it, or, when that fails, records the failure: its aggregate is blocked,
 * and after max_deliveries failures the event goes to the dead letters.
 * Returns 1 applied, 0 not (already applied, held, failed), -1 when the
 * database went away (the caller stops: nothing later is tried). */
static int s_entry_one(consumer_t *self, const item_t *item)
{
    char error[256];
    int rc = s_apply(self, item->event, item->data, item->size, error);
    if (rc >= 0) {
        s_ack_items(self, item, 1);
        if (rc == HELD)
            self->held_maybe = true;
        return rc == 1;
    }
    /* Retried later from this consumer's pending entries. A database that
     * went away is not the event's fault: stop and wait for it. */
    self->own_pending = true;
    self->retry_at = zclock_mono() + RETRY_MS;
    if (db_lost(self->db))
        return -1;
    s_block(self, item->event, error);
    uintptr_t seen = (uintptr_t)zhashx_lookup(self->failures, item->id);
    zhashx_update(self->failures, item->id, (void *)(seen + 1));
    if ((long long)seen + 1 >= self->settings.max_deliveries) {
        s_dead_letter(self, item->id, item->data, item->size, error);
        s_block_dead(self, item->event);
    }
    return 0;
}

/* What the batch statements tell of each event of a batch. */
#define FRESH  1 /* new to the inbox: its row is written, the handler runs */
#define BEHIND 2 /* behind a block or a held event of its aggregate: held */
#define MARKED 4 /* its aggregate has a block, or it is held itself: cleared */

/* Nearly always nothing of the stream is blocked or held: then this writes
 * the inbox rows of the batch and returns the positions of the events new
 * to it. Otherwise it writes nothing and returns one row, -1; then
 * s_batch_marked_sql decides. */
static const char *const s_batch_sql =
    "WITH marks AS (SELECT EXISTS (SELECT 1 FROM chuang_inbox_blocks WHERE stream = $1)"
    "   OR EXISTS (SELECT 1 FROM chuang_inbox_held WHERE stream = $1) AS found),"
    " fresh AS (INSERT INTO chuang_inbox (event_id, stream, position)"
    "   SELECT e::uuid, $1, p FROM unnest($2::text[], $3::bigint[]) AS u (e, p)"
    "   WHERE NOT (SELECT found FROM marks)"
    "   ON CONFLICT (event_id) DO NOTHING RETURNING position)"
    " SELECT -1 WHERE (SELECT found FROM marks) UNION ALL SELECT position FROM fresh";

/* For each event of a batch (in position order, as the stream holds them):
 * whether it is behind a block or a held event of its aggregate, whether
 * it is marked, and, for the others, whether it is new to the inbox, into
 * which they go here. A later event of an aggregate has a higher position
 * than an earlier one of the same batch, so one that is behind makes every
 * later one of its aggregate behind too. */
static const char *const s_batch_marked_sql =
    "WITH batch AS (SELECT * FROM unnest($2::text[], $3::bigint[], $4::text[])"
    "   WITH ORDINALITY AS u (event_id, position, aggregate_id, i)),"
    " state AS (SELECT b.*,"
    "   EXISTS (SELECT 1 FROM chuang_inbox_blocks k WHERE k.stream = $1"
    "     AND k.aggregate_id = b.aggregate_id"
    "     AND (k.position < b.position OR (k.position = b.position AND k.dead)))"
    "   OR EXISTS (SELECT 1 FROM chuang_inbox_held h WHERE h.stream = $1"
    "     AND h.aggregate_id = b.aggregate_id AND h.position < b.position) AS behind,"
    "   EXISTS (SELECT 1 FROM chuang_inbox_blocks k WHERE k.stream = $1"
    "     AND k.aggregate_id = b.aggregate_id)"
    "   OR EXISTS (SELECT 1 FROM chuang_inbox_held h WHERE h.stream = $1"
    "     AND h.position = b.position) AS marked"
    "   FROM batch b),"
    " fresh AS (INSERT INTO chuang_inbox (event_id, stream, position)"
    "   SELECT event_id::uuid, $1, position FROM state WHERE NOT behind"
    "   ON CONFLICT (event_id) DO NOTHING RETURNING position)"
    " SELECT s.behind, s.marked, f.position IS NOT NULL"
    " FROM state s LEFT JOIN fresh f USING (position) ORDER BY s.i";

static int s_compare_position(const void *key, const void *item)
{
    int64_t position = *(const int64_t *)key, other = ((const item_t *)item)->event->sequence;
    return position < other ? -1 : position > other;
}

/* Runs the batch statements in the open transaction: the inbox rows are
 * written and state[i] says FRESH, BEHIND, MARKED of items[i]. The same
 * event twice in a batch is fresh once (its first delivery). Returns 0, or
 * -1 when a statement failed. */
static int s_batch_state(consumer_t *self, const item_t *items, size_t count, char *state)
{
    char *ids[BATCH], *positions[BATCH], *aggregates[BATCH];
    for (size_t i = 0; i < count; i++) {
        ids[i] = items[i].event->id;
        aggregates[i] = items[i].event->aggregate_id;
        positions[i] = zsys_sprintf("%" PRId64, items[i].event->sequence);
        state[i] = 0;
    }
    char *arrays[3] = {db_text_array(ids, count), db_text_array(positions, count), NULL};
    for (size_t i = 0; i < count; i++)
        zstr_free(&positions[i]);
    const char *values[4] = {self->settings.stream, arrays[0], arrays[1], NULL};
    PGresult *res =
        arrays[0] && arrays[1] ? db_query(self->db, s_batch_sql, 3, values, NULL, NULL, 0) : NULL;
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : -1;
    bool marks = rc == 0 && PQntuples(res) == 1 && streq(PQgetvalue(res, 0, 0), "-1");
    for (int row = 0; rc == 0 && !marks && row < PQntuples(res); row++) {
        int64_t position = strtoll(PQgetvalue(res, row, 0), NULL, 10);
        const item_t *item = bsearch(&position, items, count, sizeof *items, s_compare_position);
        if (item)
            state[item - items] = FRESH;
    }
    PQclear(res);
    res = NULL;
    if (marks) {
        arrays[2] = db_text_array(aggregates, count);
        values[3] = arrays[2];
        res = arrays[2] ? db_query(self->db, s_batch_marked_sql, 4, values, NULL, NULL, 0) : NULL;
        rc = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == (int)count ? 0 : -1;
        for (int i = 0; rc == 0 && i < (int)count; i++)
            state[i] = (*PQgetvalue(res, i, 0) == 't' ? BEHIND : 0) |
                       (*PQgetvalue(res, i, 1) == 't' ? MARKED : 0) |
                       (*PQgetvalue(res, i, 2) == 't' ? FRESH : 0);
        PQclear(res);
    }
    for (size_t i = 0; i < 3; i++)
        free(arrays[i]);
    return rc;
}

/* Applies the events of a batch in one transaction: the inbox rows in one
 * statement, then each new event's handler in position order, events
 * behind their aggregate's block held, blocks cleared; after the commit
 * the entries are acknowledged (with the next read). Returns how many
 * events it applied, or -1 with nothing changed when a handler or a
 * statement failed, or the positions are not in order (the caller then
 * takes the events one at a time, so that a failure is the failing
 * event's alone). */
static int s_apply_batch(consumer_t *self, const item_t *items, size_t count)
{
    for (size_t i = 1; i < count; i++)
        if (items[i].event->sequence <= items[i - 1].event->sequence)
            return -1;
    char state[BATCH];
    if (db_exec(self->db, "begin events", "BEGIN") != 0)
        return -1;
    if (s_batch_state(self, items, count, state) != 0)
        goto rollback;
    int applied = 0;
    bool held = false;
    for (size_t i = 0; i < count && applied >= 0; i++) {
        const Chuang__Event *event = items[i].event;
        bool behind = state[i] & BEHIND, marked = state[i] & MARKED, fresh = state[i] & FRESH;
        char error[256] = "";
        if (behind) {
            held = true;
            if (s_hold(self, event, items[i].data, items[i].size, error) != 0)
                applied = -1;
            continue;
        }
        if (fresh && self->settings.handler(self->db, event, self->settings.arg, error) != 0) {
            applied = -1;
            break;
        }
        applied += fresh;
        int unmarked = marked ? s_unmark(self, event, error) : 0;
        if (unmarked > 0)
            held = true;
        if (unmarked < 0)
            applied = -1;
    }
    if (applied >= 0 && db_exec(self->db, "commit events", "COMMIT") == 0) {
        s_acks_defer(self, items, count);
        if (held)
            self->held_maybe = true;
        return applied;
    }
rollback:
    PQclear(PQexec(self->db, "ROLLBACK"));
    return -1;
}

/* Handles the entries of a reply ([[id, [field, value...]], ...]); fresh
 * when they are new (read with ">"), so delivered once. Entries that are
 * no event, or were delivered too often, are dealt with one by one; the
 * others are applied as a batch, or, when the batch fails, one at a time.
 * Returns how many events were applied. */
static int s_entries(consumer_t *self, redisReply *entries, bool fresh)
{
    item_t items[BATCH];
    size_t count = 0;
    for (size_t i = 0; i < entries->elements && count < BATCH; i++) {
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
        items[count++] = (item_t){.id = id, .data = data, .size = size, .event = event};
    }
    int applied = count ? s_apply_batch(self, items, count) : 0;
    if (applied < 0) {
        applied = 0;
        for (size_t i = 0; i < count && !db_lost(self->db); i++) {
            int rc = s_entry_one(self, &items[i]);
            if (rc < 0)
                break;
            applied += rc;
        }
        if (db_lost(self->db)) {
            self->own_pending = true;
            self->retry_at = zclock_mono() + RETRY_MS;
        }
    }
    for (size_t i = 0; i < count; i++)
        chuang__event__free_unpacked(items[i].event, NULL);
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
    redisReply *reply = redisCommand(s_link(self), "LRANGE %s 0 %d", self->resent, BATCH - 1);
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
        rc = s_hold(self, event, item->str, item->len, error);
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
        redisReply *dropped = redisCommandArgv(s_link(self), (int)reply->elements + 4, argv, argl);
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

/* The id of the last entry the group was given, from XINFO GROUPS's reply;
 * "0-0" when the group is not among them. */
static const char *s_last_delivered(consumer_t *self, const redisReply *groups)
{
    for (size_t g = 0; groups->type == REDIS_REPLY_ARRAY && g < groups->elements; g++) {
        const redisReply *fields = groups->element[g];
        const char *name = NULL, *delivered = NULL;
        for (size_t i = 0; fields->type == REDIS_REPLY_ARRAY && i + 1 < fields->elements; i += 2) {
            const redisReply *key = fields->element[i], *value = fields->element[i + 1];
            if (key->type != REDIS_REPLY_STRING && key->type != REDIS_REPLY_STATUS)
                continue;
            if (streq(key->str, "name") && value->type == REDIS_REPLY_STRING)
                name = value->str;
            else if (streq(key->str, "last-delivered-id") && value->type == REDIS_REPLY_STRING)
                delivered = value->str;
        }
        if (name && delivered && streq(name, self->settings.group))
            return delivered;
    }
    return "0-0";
}

/* Sends the read of the group's new entries without waiting for the
 * answer: what the group had been given before and the new entries, in one
 * MULTI so that nothing comes between, after the deferred
 * acknowledgements (one round trip for all). s_read_collect takes the
 * answer. Returns 0, or -1 when the connection broke. */
static int s_read_send(consumer_t *self)
{
    assert(!self->read_sent);
    int replies = s_acks_append(self);
    s_acks_clear(self); /* unless they reach Redis, taken again from the inbox */
    redisAppendCommand(self->redis, "MULTI");
    redisAppendCommand(self->redis, "XINFO GROUPS %s", self->settings.stream);
    redisAppendCommand(self->redis, "XREADGROUP GROUP %s %s COUNT %d STREAMS %s >",
                       self->settings.group, self->settings.consumer, BATCH, self->settings.stream);
    redisAppendCommand(self->redis, "EXEC");
    int done = 0;
    while (!done)
        if (redisBufferWrite(self->redis, &done) != REDIS_OK)
            return -1;
    self->read_sent = replies + 4;
    return 0;
}

/* Takes the answer of a read s_read_send sent, if one is on its way, into
 * self->read (EXEC's reply; an error reply or NULL when it failed). */
static void s_read_collect(consumer_t *self)
{
    for (; self->read_sent > 0; self->read_sent--) {
        freeReplyObject(self->read);
        self->read = NULL;
        if (redisGetReply(self->redis, (void **)&self->read) != REDIS_OK) {
            self->read_sent = 0;
            break;
        }
    }
}

/* The connection to Redis, free for a command: the answer of a read sent
 * ahead is taken first, and kept for s_read_new. */
static redisContext *s_link(consumer_t *self)
{
    s_read_collect(self);
    return self->redis;
}

/* The group's new entries, waiting up to block_ms when there are none;
 * read ahead by s_read_send while the last batch was applied, or read now.
 * Entries the stream lost before the group was given them (trimmed while
 * it lagged, or a group made anew on a stream that no longer holds what
 * followed the inbox's last position) are a gap, asked for again. Returns
 * 0 with *reply_p in the shape of XREADGROUP's reply (caller frees) or
 * NULL when nothing came; -1 with *reply_p the error reply, or NULL. */
static int s_read_new(consumer_t *self, int block_ms, redisReply **reply_p)
{
    *reply_p = NULL;
    if (!self->read_sent && !self->read && s_read_send(self) != 0)
        return -1;
    s_read_collect(self);
    redisReply *reply = self->read;
    self->read = NULL;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
        *reply_p = reply;
        return -1;
    }
    redisReply *read = reply->element[1];
    if (read->type == REDIS_REPLY_ERROR) { /* NOGROUP: the stream or the group is gone */
        reply->element[1] = NULL;
        freeReplyObject(reply);
        *reply_p = read;
        return -1;
    }
    const char *last = s_last_delivered(self, reply->element[0]);
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
    /* Nothing new: wait for an entry after what the group was given, the
     * deferred acknowledgements sent first. */
    char *after = strdup(last);
    freeReplyObject(reply);
    int acks = s_acks_append(self);
    s_acks_clear(self);
    redisAppendCommand(self->redis, "XREAD COUNT 1 BLOCK %d STREAMS %s %s",
                       block_ms > 1 ? block_ms : 1, self->settings.stream, after);
    free(after);
    reply = NULL;
    for (int i = 0; i <= acks; i++) {
        freeReplyObject(reply);
        reply = NULL;
        if (redisGetReply(self->redis, (void **)&reply) != REDIS_OK)
            break;
    }
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
        self->read_sent = 0; /* a read sent ahead went with the connection */
        freeReplyObject(self->read);
        self->read = NULL;
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
    if (own || zclock_mono() >= self->claim_at)
        s_acks_flush(self); /* not to be read again as pending */
    if (own) {
        reply = redisCommand(s_link(self), "XREADGROUP GROUP %s %s COUNT %d STREAMS %s 0",
                             self->settings.group, self->settings.consumer, BATCH,
                             self->settings.stream);
    } else if (zclock_mono() >= self->claim_at) {
        self->claim_at = zclock_mono() + self->settings.claim_idle_ms;
        reply = redisCommand(s_link(self), "XAUTOCLAIM %s %s %s %d 0-0 COUNT %d",
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
    /* A full batch of new entries: there may be more, read them while this
     * one is applied. */
    if (fresh && more)
        s_read_send(self);
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
