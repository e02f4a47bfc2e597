/*
 * relay.c - the outbox relay; see relay.h for what it promises.
 *
 * Why positions: outbox sequence values are taken at insert and can commit
 * out of order, so a reader that went by sequence could pass a value whose
 * transaction commits later and never see it. The relay therefore numbers
 * the committed events it has not numbered yet 1, 2, 3... after the last,
 * in sequence order, and that number (the position) is what readers go by:
 * a transaction that commits late gets a later position, never a gap.
 *
 * Why this keeps causal order without waiting for anyone: if B's event was
 * written after A's transaction committed (B waited for A's row lock, or
 * read what A wrote, or was sent after A's reply), B's sequence is larger
 * (nextval is taken at the insert and the sequence is not cached), and any
 * snapshot that sees B committed sees A committed too. So A is numbered in
 * an earlier round than B, or in the same round before it. Events of
 * transactions that overlapped in time have no order to keep; they get the
 * order of their sequence values. No transaction elsewhere (another
 * schema, an idle psql session, a long writer) holds any event back, as a
 * cluster-wide horizon (pg_snapshot_xmin) would. One UPDATE numbers a
 * batch; only the active relay numbers: the one that holds the schema's
 * relay lock (a db_lock on chuang_relay_lock, which no other service's role
 * can take), and position's unique constraint refuses a second numbering.
 *
 * Publishing after the commit means a crash can leave positioned rows
 * unpublished; the relay therefore syncs when it becomes active, when its
 * Redis connection was renewed and every CHECK_MS: it reads the stream's
 * ends and re-sends every row after the last. XADD with an id not above the
 * last is refused by Redis, which is what makes a re-send harmless. A
 * stream that is not the whole log (Redis lost it) is dropped and refilled;
 * its consumer groups go with it and are recreated by their consumers.
 */
#include "relay.h"
#include "chuang.pb-c.h"
#include "db.h"
#include "db_lock.h"
#include "logger.h"
#include "redis_link.h"

#include <czmq.h>
#include <poll.h>
#include <unistd.h>

#define BATCH    500
#define CHECK_MS 5000 /* how often the stream is checked against the outbox */

struct _relay_t {
    relay_settings_t settings; /* strings owned */
    PGconn *db;
    db_lock_t *lock; /* taken when active; kept ready while standing by */
    redisContext *redis;
    zsock_t *pub;
    bool active;
    bool synced;       /* stream checked against the outbox since active/reconnected */
    bool stream_ahead; /* the stream holds positions the outbox has not: stop */
    int64_t published; /* last position on the stream */
    int64_t check_at;  /* when to check the stream again (zclock_mono ms) */
};

static char *s_dup(const char *text)
{
    return text ? strdup(text) : NULL;
}

relay_t *relay_new(const relay_settings_t *settings)
{
    relay_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->settings.db_url = s_dup(settings->db_url);
    self->settings.schema = s_dup(settings->schema);
    self->settings.redis_url = s_dup(settings->redis_url);
    self->settings.stream = s_dup(settings->stream);
    self->settings.publish = s_dup(settings->publish);
    self->settings.service_name = s_dup(settings->service_name);
    self->settings.security = settings->security;
    self->settings.stream_max = settings->stream_max;
    return self;
}

void relay_destroy(relay_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    relay_t *self = *self_p;
    db_lock_destroy(&self->lock);
    PQfinish(self->db);
    redisFree(self->redis);
    zsock_destroy(&self->pub);
    free((char *)self->settings.db_url);
    free((char *)self->settings.schema);
    free((char *)self->settings.redis_url);
    free((char *)self->settings.stream);
    free((char *)self->settings.publish);
    free((char *)self->settings.service_name);
    free(self);
    *self_p = NULL;
}

bool relay_active(relay_t *self)
{
    return self->active;
}

/* Gives up being active (the lock went with a lost connection). */
static void s_standby(relay_t *self, const char *why)
{
    if (self->active)
        log_warn("relay no longer active", "schema=%s reason=\"%s\"", self->settings.schema, why);
    self->active = false;
    self->synced = false;
    db_lock_destroy(&self->lock);
    zsock_destroy(&self->pub);
}

/* Becomes active when no other relay of the schema is. Returns true if so. */
static bool s_try_activate(relay_t *self)
{
    if (!self->lock) {
        char name[64];
        snprintf(name, sizeof name, "chuang relay %d", (int)getpid());
        self->lock = db_lock_new(self->db, self->settings.schema, "chuang_relay_lock", name);
    }
    int got = self->lock ? db_lock_acquire(self->lock, false) : -1;
    if (got < 0)
        db_lock_destroy(&self->lock);
    bool locked = got == 1;
    if (!locked || db_exec(self->db, "listen", "LISTEN chuang_outbox") != 0)
        return false;
    if (self->settings.publish) {
        self->pub = zsock_new(ZMQ_PUB);
        zsock_set_linger(self->pub, 0);
        if (security_server(self->settings.security, self->pub) != 0 ||
            zsock_bind(self->pub, "%s", self->settings.publish) < 0) {
            log_error("relay cannot bind its publisher", "endpoint=%s", self->settings.publish);
            zsock_destroy(&self->pub);
        }
    }
    self->active = true;
    self->synced = false;
    log_info("relay active", "schema=%s stream=%s", self->settings.schema, self->settings.stream);
    return true;
}

/* Builds the chuang.Event of an outbox row (columns as in s_columns). */
#define ROW_COLUMNS                                                                                \
    "o.position, o.id::text, o.agency, o.type, o.aggregate_id, o.visibility, o.payload_type,"      \
    " o.payload, o.trace_id, (extract(epoch FROM o.occurred_at) * 1000)::bigint"

static zframe_t *s_event_frame(relay_t *self, PGresult *res, int row, int64_t *position)
{
    size_t payload_size = 0;
    unsigned char *payload =
        PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, 7), &payload_size);
    Chuang__Event event = CHUANG__EVENT__INIT;
    *position = strtoll(PQgetvalue(res, row, 0), NULL, 10);
    event.sequence = *position;
    event.id = PQgetvalue(res, row, 1);
    event.agency = PQgetvalue(res, row, 2);
    event.service = (char *)self->settings.service_name;
    event.type = PQgetvalue(res, row, 3);
    event.aggregate_id = PQgetvalue(res, row, 4);
    event.visibility = (Chuang__Visibility)atoi(PQgetvalue(res, row, 5));
    event.payload_type = PQgetvalue(res, row, 6);
    event.payload.data = payload;
    event.payload.len = payload ? payload_size : 0;
    event.trace_id = PQgetvalue(res, row, 8);
    event.occurred_ms = strtoll(PQgetvalue(res, row, 9), NULL, 10);
    zframe_t *frame = zframe_new(NULL, chuang__event__get_packed_size(&event));
    chuang__event__pack(&event, zframe_data(frame));
    PQfreemem(payload);
    return frame;
}

/* Appends rows (in position order) to the stream and the publisher. The
 * XADDs are pipelined: all are sent, then the replies read in order. Returns
 * how many the stream took or already had, or -1 when Redis failed (the
 * stream is then checked, and refilled if need be, before going on). */
static int s_publish(relay_t *self, PGresult *res)
{
    int rows = PQntuples(res);
    zframe_t **frames = calloc((size_t)rows + 1, sizeof *frames);
    int64_t *positions = calloc((size_t)rows + 1, sizeof *positions);
    if (!frames || !positions) {
        free(frames);
        free(positions);
        return -1;
    }
    for (int row = 0; row < rows; row++) {
        frames[row] = s_event_frame(self, res, row, &positions[row]);
        char id[32];
        snprintf(id, sizeof id, "%" PRId64 "-0", positions[row]);
        redisAppendCommand(self->redis, "XADD %s %s event %b", self->settings.stream, id,
                           zframe_data(frames[row]), zframe_size(frames[row]));
    }
    int done = 0;
    bool failed = false;
    for (int row = 0; row < rows; row++) {
        redisReply *reply = NULL;
        if (redisGetReply(self->redis, (void **)&reply) != REDIS_OK)
            reply = NULL;
        bool refused =
            reply && reply->type == REDIS_REPLY_ERROR && strstr(reply->str, "equal or smaller");
        bool ok = reply && (reply->type == REDIS_REPLY_STRING || refused);
        if (!ok && !failed)
            log_warn("relay cannot append to the stream",
                     "stream=%s position=%" PRId64 " error=\"%s\"", self->settings.stream,
                     positions[row], reply ? reply->str : self->redis->errstr);
        freeReplyObject(reply);
        /* After a failure the replies are still read, to keep the connection
         * in step, but nothing more is published live. */
        failed = failed || !ok;
        if (!failed && self->pub) {
            uint8_t big_endian[8];
            for (int i = 0; i < 8; i++)
                big_endian[i] = (uint8_t)((uint64_t)positions[row] >> (56 - 8 * i));
            zmsg_t *msg = zmsg_new();
            zmsg_addstr(msg, PQgetvalue(res, row, 3));
            zmsg_addmem(msg, big_endian, 8);
            zmsg_append(msg, &frames[row]);
            zmsg_send(&msg, self->pub);
        }
        zframe_destroy(&frames[row]);
        if (!failed) {
            if (positions[row] > self->published)
                self->published = positions[row];
            done++;
        }
        if (!reply && self->redis->err)
            break; /* the connection is gone: no more replies will come */
    }
    for (int row = 0; row < rows; row++)
        zframe_destroy(&frames[row]);
    free(frames);
    free(positions);
    if (failed)
        self->synced = false;
    return failed ? -1 : done;
}

/* The id (position) of the stream's first or last entry, 0 when empty, -1
 * on error. */
static int64_t s_stream_end(relay_t *self, const char *command)
{
    redisReply *reply = redisCommand(self->redis, command, self->settings.stream);
    int64_t position = -1;
    if (reply && reply->type == REDIS_REPLY_ARRAY) {
        position = 0;
        if (reply->elements == 1 && reply->element[0]->type == REDIS_REPLY_ARRAY &&
            reply->element[0]->elements >= 1)
            position = strtoll(reply->element[0]->element[0]->str, NULL, 10);
    }
    freeReplyObject(reply);
    return position;
}

/* Makes the stream hold every positioned event it should keep (all, or the
 * last relay.stream_max) and nothing else: a stream that lost entries (Redis
 * restarted without them, was flushed or trimmed by someone else) is dropped
 * and refilled from the outbox; one that merely lags is topped up; one
 * longer than its retention is trimmed. Returns 0, or -1. */
static int s_sync(relay_t *self)
{
    PGresult *res = PQexec(self->db, "SELECT coalesce(max(position), 0) FROM chuang_outbox");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return -1;
    }
    int64_t positioned = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    int64_t keep_from = 1;
    if (self->settings.stream_max > 0 && positioned - self->settings.stream_max + 1 > 1)
        keep_from = positioned - self->settings.stream_max + 1;

    int64_t first = s_stream_end(self, "XRANGE %s - + COUNT 1");
    int64_t last = s_stream_end(self, "XREVRANGE %s + - COUNT 1");
    redisReply *reply = redisCommand(self->redis, "XLEN %s", self->settings.stream);
    long long length = reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
    freeReplyObject(reply);
    if (first < 0 || last < 0 || length < 0)
        return -1;
    if (length > 0 && last <= positioned && (first > keep_from || length != last - first + 1)) {
        log_warn("event stream incomplete; rebuilding it from the outbox",
                 "stream=%s first=%" PRId64 " last=%" PRId64 " length=%lld keep_from=%" PRId64,
                 self->settings.stream, first, last, length, keep_from);
        reply = redisCommand(self->redis, "DEL %s", self->settings.stream);
        bool deleted = reply && reply->type == REDIS_REPLY_INTEGER;
        freeReplyObject(reply);
        if (!deleted)
            return -1;
        last = 0;
    }
    self->stream_ahead = false;
    self->published = last > keep_from - 1 ? last : keep_from - 1;
    if (self->published < positioned)
        log_info("relay refilling the stream from the outbox",
                 "stream=%s from=%" PRId64 " to=%" PRId64, self->settings.stream,
                 self->published + 1, positioned);
    while (self->published < positioned) {
        char from[24];
        snprintf(from, sizeof from, "%" PRId64, self->published);
        const char *values[1] = {from};
        res = PQexecParams(self->db,
                           "SELECT " ROW_COLUMNS " FROM chuang_outbox o"
                           " WHERE o.position > $1::bigint ORDER BY o.position LIMIT 500",
                           1, NULL, values, NULL, NULL, 0);
        int sent = PQresultStatus(res) == PGRES_TUPLES_OK ? s_publish(self, res) : -1;
        PQclear(res);
        if (sent <= 0)
            return -1;
    }
    if (length > 0 && first < keep_from && last > 0) {
        char minid[32];
        snprintf(minid, sizeof minid, "%" PRId64, keep_from);
        freeReplyObject(
            redisCommand(self->redis, "XTRIM %s MINID %s", self->settings.stream, minid));
    }
    self->synced = true;
    return 0;
}

/* Numbers the next batch of committed events, in sequence order, and
 * publishes them. Returns how many, or -1. */
static int s_advance(relay_t *self)
{
    char batch[16];
    snprintf(batch, sizeof batch, "%d", BATCH);
    const char *values[1] = {batch};
    /* RETURNING gives no order: the outer SELECT puts the batch in position
     * order, which is the order it is published in. */
    PGresult *res =
        PQexecParams(self->db,
                     "WITH last AS (SELECT coalesce(max(position), 0) AS position"
                     "   FROM chuang_outbox),"
                     " next AS (SELECT sequence, row_number() OVER (ORDER BY sequence) AS n"
                     "   FROM chuang_outbox WHERE position IS NULL"
                     "   ORDER BY sequence LIMIT $1::int),"
                     " numbered AS (UPDATE chuang_outbox o"
                     "   SET position = (SELECT position FROM last) + next.n"
                     "   FROM next WHERE o.sequence = next.sequence"
                     "   RETURNING " ROW_COLUMNS ")"
                     " SELECT * FROM numbered ORDER BY 1",
                     1, NULL, values, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_warn("relay cannot number events", "error=\"%s\"", PQerrorMessage(self->db));
        PQclear(res);
        return -1;
    }
    int rc = PQntuples(res) > 0 ? s_publish(self, res) : 0;
    PQclear(res);
    return rc;
}

/* Waits up to wait_ms for a NOTIFY on the outbox channel; returns at once
 * when one came during the last step. */
static void s_wait(relay_t *self, int wait_ms)
{
    PQconsumeInput(self->db);
    bool notified = false;
    PGnotify *notify;
    while ((notify = PQnotifies(self->db))) {
        notified = true;
        PQfreemem(notify);
    }
    if (notified)
        return;
    struct pollfd fd = {.fd = PQsocket(self->db), .events = POLLIN};
    if (fd.fd >= 0 && poll(&fd, 1, wait_ms) > 0) {
        PQconsumeInput(self->db);
        while ((notify = PQnotifies(self->db)))
            PQfreemem(notify);
    }
}

int relay_step(relay_t *self, int wait_ms)
{
    if (!self->db || db_lost(self->db)) {
        s_standby(self, "database connection lost");
        PQfinish(self->db);
        self->db = db_connect(self->settings.db_url, self->settings.schema, 1);
        if (!self->db) {
            zclock_sleep(wait_ms);
            return -1;
        }
        /* Operators (and tests) see which process holds the relay. */
        char name[64];
        snprintf(name, sizeof name, "SET application_name = 'chuang relay %d'", (int)getpid());
        db_exec(self->db, "name relay connection", name);
    }
    if (self->active && !db_lock_held(self->lock))
        s_standby(self, "relay lock connection lost");
    if (!self->active && !s_try_activate(self)) {
        zclock_sleep(wait_ms);
        return 0;
    }
    if (!self->redis || self->redis->err) {
        self->synced = false;
        if (redis_link_reset(&self->redis, self->settings.redis_url, 1) != 0) {
            zclock_sleep(wait_ms);
            return -1;
        }
    }
    if (zclock_mono() >= self->check_at) {
        self->synced = false;
        self->check_at = zclock_mono() + CHECK_MS;
    }
    if (!self->synced && s_sync(self) != 0) {
        zclock_sleep(wait_ms);
        return -1;
    }
    int published = s_advance(self);
    if (published == 0)
        s_wait(self, wait_ms);
    return published;
}
