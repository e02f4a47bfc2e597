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
 * ends and re-sends every row after the last. Appending goes through
 * event_stream_append, which takes a re-sent position as harmless only when
 * the stream holds the same event there. A stream that is not the whole
 * log (Redis lost it) is dropped and refilled; its consumer groups go with
 * it and are recreated by their consumers.
 *
 * A consumer group that lost events (trimmed from the stream before it
 * applied them) asks for them again on a list (event_stream.h); the active
 * relay looks every RESEND_CHECK_MS and answers from the outbox, a batch a
 * round, while the group's resent list holds fewer than RESENT_MAX.
 *
 * A stream ahead of the outbox (it holds positions the outbox has not
 * numbered) or holding other events at the outbox's positions means the
 * database was restored or failed over to a copy that lacks events already
 * published. The relay then stops numbering and publishing, says why in
 * its log and in relay_stopped(), and looks again every STOPPED_CHECK_MS;
 * relay_reconcile() (chuangctl relay reconcile) makes the two agree, and
 * the relay goes on by itself.
 */
#include "relay.h"
#include "chuang.pb-c.h"
#include "db.h"
#include "db_lock.h"
#include "event_stream.h"
#include "logger.h"
#include "redis_link.h"
#include "relay_reconcile.h"

#include <czmq.h>
#include <poll.h>
#include <unistd.h>

#define BATCH            500
#define CHECK_MS         5000  /* how often the stream is checked against the outbox */
#define STOPPED_CHECK_MS 1000  /* how often a stopped relay looks again */
#define RESEND_CHECK_MS  1000  /* how often requests to send events again are looked at */
#define RESENT_MAX       10000 /* events waiting on a group's resent list, at most */

struct _relay_t {
    relay_settings_t settings; /* strings owned */
    PGconn *db;
    db_lock_t *lock; /* taken when active; kept ready while standing by */
    redisContext *redis;
    redisContext *wake; /* subscribed to the stream's wake channel */
    zsock_t *pub;
    bool active;
    bool synced;       /* stream checked against the outbox since active/reconnected */
    char stopped[256]; /* why it stopped (the stream is not the outbox's), or "" */
    int64_t published; /* last position on the stream */
    int64_t check_at;  /* when to check the stream again (zclock_mono ms) */
    int64_t resend_at; /* when to look at requests to send events again */
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
    redisFree(self->wake);
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

const char *relay_stopped(relay_t *self)
{
    return self->stopped[0] ? self->stopped : NULL;
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
    if (!locked)
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

/* Stops numbering and publishing until the stream agrees with the outbox
 * again, saying why (once per cause). */
static void s_stop(relay_t *self, const char *why)
{
    if (!streq(self->stopped, why))
        log_error("relay stopped: the stream is not the outbox's", "schema=%s stream=%s why=\"%s\"",
                  self->settings.schema, self->settings.stream, why);
    snprintf(self->stopped, sizeof self->stopped, "%s", why);
    self->synced = false;
}

/* Appends rows (in position order) to the stream, then sends those it took
 * to the publisher. Returns how many the stream took or already had, or -1
 * when it did not take them all (the stream is then checked, and refilled
 * or the relay stopped, before going on). */
static int s_publish(relay_t *self, PGresult *res)
{
    int rows = PQntuples(res);
    zframe_t **frames = calloc((size_t)rows + 1, sizeof *frames);
    event_stream_entry_t *entries = calloc((size_t)rows + 1, sizeof *entries);
    if (!frames || !entries) {
        free(frames);
        free(entries);
        return -1;
    }
    for (int row = 0; row < rows; row++) {
        frames[row] = s_event_frame(self, res, row, &entries[row].position);
        entries[row].event_id = PQgetvalue(res, row, 1);
        entries[row].event = zframe_data(frames[row]);
        entries[row].size = zframe_size(frames[row]);
    }
    size_t done = 0;
    int64_t stopped_at = 0;
    event_stream_outcome_t outcome = event_stream_append(self->redis, self->settings.stream, true,
                                                         entries, (size_t)rows, &done, &stopped_at);
    if (outcome == EVENT_STREAM_DIVERGED) {
        char why[160];
        snprintf(why, sizeof why,
                 "the stream holds another event at position %" PRId64
                 " (a restored or failed-over database?)",
                 stopped_at);
        s_stop(self, why);
    } else if (outcome != EVENT_STREAM_OK) {
        log_warn("relay cannot append to the stream", "stream=%s position=%" PRId64 " error=\"%s\"",
                 self->settings.stream,
                 outcome == EVENT_STREAM_GAP ? stopped_at : entries[done].position,
                 outcome == EVENT_STREAM_GAP ? "the stream lacks the events before it"
                                             : self->redis->errstr);
    }
    for (size_t row = 0; row < done; row++) {
        if (entries[row].position > self->published)
            self->published = entries[row].position;
        if (!self->pub)
            continue;
        uint8_t big_endian[8];
        for (int i = 0; i < 8; i++)
            big_endian[i] = (uint8_t)((uint64_t)entries[row].position >> (56 - 8 * i));
        zmsg_t *msg = zmsg_new();
        zmsg_addstr(msg, PQgetvalue(res, (int)row, 3));
        zmsg_addmem(msg, big_endian, 8);
        zmsg_append(msg, &frames[row]);
        zmsg_send(&msg, self->pub);
    }
    for (int row = 0; row < rows; row++)
        zframe_destroy(&frames[row]);
    free(frames);
    free(entries);
    if (outcome != EVENT_STREAM_OK)
        self->synced = false;
    return outcome == EVENT_STREAM_OK ? (int)done : -1;
}

/* Makes the stream hold every positioned event it should keep (all, or the
 * last relay.stream_max) and nothing else: a stream that lost entries (Redis
 * restarted without them, was flushed or trimmed by someone else) is dropped
 * and refilled from the outbox; one that merely lags is topped up; one
 * longer than its retention is trimmed. Returns 0, or -1. */
static int s_sync(relay_t *self)
{
    relay_comparison_t comparison;
    if (relay_compare(self->db, self->redis, self->settings.stream, &comparison) != 0)
        return -1;
    if (!comparison.agree && comparison.stream_last > 0) {
        s_stop(self, comparison.why);
        return 0;
    }
    if (self->stopped[0]) {
        log_info("relay resumes: the stream and the outbox agree", "schema=%s stream=%s",
                 self->settings.schema, self->settings.stream);
        self->stopped[0] = '\0';
    }
    int64_t positioned = comparison.outbox_last;
    int64_t keep_from = 1;
    if (self->settings.stream_max > 0 && positioned - self->settings.stream_max + 1 > 1)
        keep_from = positioned - self->settings.stream_max + 1;

    int64_t first = comparison.stream_first;
    int64_t last = comparison.stream_last;
    redisReply *reply = redisCommand(self->redis, "XLEN %s", self->settings.stream);
    long long length = reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
    freeReplyObject(reply);
    if (length < 0)
        return -1;
    if (length > 0 && (first > keep_from || length != last - first + 1)) {
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
    self->published = last > keep_from - 1 ? last : keep_from - 1;
    if (self->published < positioned)
        log_info("relay refilling the stream from the outbox",
                 "stream=%s from=%" PRId64 " to=%" PRId64, self->settings.stream,
                 self->published + 1, positioned);
    while (self->published < positioned) {
        char from[24];
        snprintf(from, sizeof from, "%" PRId64, self->published);
        const char *values[1] = {from};
        PGresult *res = db_query(self->db,
                                 "SELECT " ROW_COLUMNS " FROM chuang_outbox o"
                                 " WHERE o.position > $1::bigint ORDER BY o.position LIMIT 500",
                                 1, values, NULL, NULL, 0);
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
    PGresult *res = db_query(self->db,
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
                             1, values, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_warn("relay cannot number events", "error=\"%s\"", PQerrorMessage(self->db));
        PQclear(res);
        return -1;
    }
    int rc = PQntuples(res) > 0 ? s_publish(self, res) : 0;
    PQclear(res);
    return rc;
}

/* Subscribes the wake connection to the stream's wake channel. Returns 0,
 * or -1 (the relay then only looks every round). */
static int s_wake_subscribe(relay_t *self)
{
    if (self->wake && !self->wake->err)
        return 0;
    if (redis_link_reset(&self->wake, self->settings.redis_url, 1) != 0)
        return -1;
    char channel[512];
    snprintf(channel, sizeof channel, EVENT_STREAM_WAKE_CHANNEL, self->settings.stream);
    redisReply *reply = redisCommand(self->wake, "SUBSCRIBE %s", channel);
    bool ok = reply && reply->type == REDIS_REPLY_ARRAY;
    freeReplyObject(reply);
    if (!ok) {
        redisFree(self->wake);
        self->wake = NULL;
    }
    return ok ? 0 : -1;
}

/* Waits up to wait_ms for a wake (event_stream.h); returns at once when
 * one came during the last step. */
static void s_wait(relay_t *self, int wait_ms)
{
    if (s_wake_subscribe(self) != 0) {
        zclock_sleep(wait_ms);
        return;
    }
    struct pollfd fd = {.fd = self->wake->fd, .events = POLLIN};
    if (poll(&fd, 1, wait_ms) <= 0)
        return;
    if (redisBufferRead(self->wake) != REDIS_OK)
        return; /* subscribed again next time */
    void *message = NULL;
    while (redisReaderGetReply(self->wake->reader, &message) == REDIS_OK && message) {
        freeReplyObject(message);
        message = NULL;
    }
}

/* A group name as consumers name them; anything else on the request list
 * is refused. */
static bool s_group_valid(const char *group)
{
    size_t length = strlen(group);
    return length > 0 && length <= 64 &&
           strspn(group, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
               length;
}

/* Answers the first request to send events again (see event_stream.h): up
 * to BATCH of its positions go to the group's resent list, and the request
 * is dropped once done or shortened to what is left. Returns 0, or -1. */
static int s_resend(relay_t *self)
{
    char *requests = zsys_sprintf(EVENT_STREAM_RESEND_KEY, self->settings.stream);
    redisReply *reply = redisCommand(self->redis, "LINDEX %s 0", requests);
    if (!reply || reply->type != REDIS_REPLY_STRING) {
        bool ok = reply && reply->type == REDIS_REPLY_NIL;
        freeReplyObject(reply);
        zstr_free(&requests);
        return ok ? 0 : -1;
    }
    char group[80] = "";
    long long from = 0, to = 0;
    char tail = 0;
    bool valid = reply->len < 160 &&
                 sscanf(reply->str, "%79s %lld %lld %c", group, &from, &to, &tail) == 3 &&
                 s_group_valid(group) && from >= 1 && to >= from;
    char *request = strdup(reply->str);
    freeReplyObject(reply);
    char *resent = zsys_sprintf(EVENT_STREAM_RESENT_KEY, self->settings.stream, group);
    int rc = 0;
    long long next = to + 1;
    if (!valid)
        log_warn("request to send events again refused: not \"group from to\"", "stream=%s",
                 self->settings.stream);
    else {
        reply = redisCommand(self->redis, "LLEN %s", resent);
        long long waiting = reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
        freeReplyObject(reply);
        if (waiting < 0 || waiting >= RESENT_MAX) {
            zstr_free(&resent);
            free(request);
            zstr_free(&requests);
            return waiting < 0 ? -1 : 0; /* the group has enough to do; later */
        }
        char range[3][24];
        snprintf(range[0], sizeof range[0], "%lld", from);
        snprintf(range[1], sizeof range[1], "%lld", to);
        snprintf(range[2], sizeof range[2], "%d", BATCH);
        const char *values[3] = {range[0], range[1], range[2]};
        PGresult *res = db_query(self->db,
                                 "SELECT " ROW_COLUMNS " FROM chuang_outbox o"
                                 " WHERE o.position BETWEEN $1::bigint AND $2::bigint"
                                 " ORDER BY o.position LIMIT $3::int",
                                 3, values, NULL, NULL, 0);
        int rows = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : -1;
        if (rows > 0) {
            const char **argv = calloc((size_t)rows + 2, sizeof *argv);
            size_t *argl = calloc((size_t)rows + 2, sizeof *argl);
            zframe_t **frames = calloc((size_t)rows, sizeof *frames);
            assert(argv && argl && frames);
            argv[0] = "RPUSH";
            argl[0] = 5;
            argv[1] = resent;
            argl[1] = strlen(resent);
            int64_t position = 0;
            for (int row = 0; row < rows; row++) {
                frames[row] = s_event_frame(self, res, row, &position);
                argv[row + 2] = (const char *)zframe_data(frames[row]);
                argl[row + 2] = zframe_size(frames[row]);
            }
            reply = redisCommandArgv(self->redis, rows + 2, argv, argl);
            rc = reply && reply->type == REDIS_REPLY_INTEGER ? 0 : -1;
            freeReplyObject(reply);
            for (int row = 0; row < rows; row++)
                zframe_destroy(&frames[row]);
            free(frames);
            free(argl);
            free(argv);
            next = rows == BATCH ? position + 1 : to + 1;
            if (rc == 0)
                log_info("relay sent events again", "stream=%s group=%s from=%lld to=%" PRId64,
                         self->settings.stream, group, from, position);
        } else if (rows == 0)
            log_warn("request to send events again names no event of the outbox",
                     "stream=%s group=%s from=%lld to=%lld", self->settings.stream, group, from,
                     to);
        else
            rc = -1;
        PQclear(res);
    }
    if (rc == 0) {
        /* Done, or what is left of it, unless someone changed the list. */
        if (next > to)
            reply = redisCommand(self->redis, "LREM %s 1 %s", requests, request);
        else {
            char *rest = zsys_sprintf("%s %lld %lld", group, next, to);
            reply = redisCommand(self->redis, "LSET %s 0 %s", requests, rest);
            zstr_free(&rest);
        }
        rc = reply && reply->type != REDIS_REPLY_ERROR ? 0 : -1;
        freeReplyObject(reply);
    }
    zstr_free(&resent);
    free(request);
    zstr_free(&requests);
    return rc;
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
    if (self->stopped[0] && zclock_mono() < self->check_at) {
        zclock_sleep(wait_ms < STOPPED_CHECK_MS ? wait_ms : STOPPED_CHECK_MS);
        return 0;
    }
    if (zclock_mono() >= self->check_at) {
        self->synced = false;
        self->check_at = zclock_mono() + CHECK_MS;
    }
    if (!self->synced && s_sync(self) != 0) {
        zclock_sleep(wait_ms);
        return -1;
    }
    if (self->stopped[0]) {
        self->check_at = zclock_mono() + STOPPED_CHECK_MS;
        return 0;
    }
    if (zclock_mono() >= self->resend_at) {
        self->resend_at = zclock_mono() + RESEND_CHECK_MS;
        s_resend(self);
    }
    int published = s_advance(self);
    if (published == 0)
        s_wait(self, wait_ms);
    return published;
}
