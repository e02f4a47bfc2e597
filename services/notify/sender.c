/*
 * sender.c - the delivery worker; see sender.h.
 *
 * PostgreSQL holds every delivery and its state; Redis holds a due-time
 * queue (common/schedule) of pending ones per channel. The rows created or
 * rescheduled since the last look are queued every LOOK_MS, and at once
 * when the consumer applied events (sender_wake); every REBUILD_MS the whole
 * table is read again, so an emptied Redis only delays.
 *
 * Sends run side by side on a channel pool (channel_pool.h: up to
 * notify.in_flight per channel, over connections kept open). No
 * transaction is open while a message travels: the due deliveries a tick
 * takes from a queue are claimed by one UPDATE that commits (attempts + 1,
 * claimed_until = now + the lease), then started; the outcomes of the sends
 * that ended are recorded together by one UPDATE. A delivery sent, dead or
 * claimed by another sender is skipped, so none is sent twice as a
 * success; a sender that dies between sending and recording leaves the
 * claim to run out, and the delivery goes once more with the same delivery
 * id for the receiver to drop. The destination is read from the recipient
 * at claim time: a replay after the recipient fixed its address goes there.
 * A recipient's rate limit postpones a delivery, it never drops it: a
 * delivery to a recipient with a limit is claimed on its own, after the
 * limit is checked.
 *
 * The tick never sleeps while work waits: it waits in the pool (up to
 * IDLE_MS, or until a send ends or sender_wake) and asks to be called
 * again.
 */
#include "sender.h"
#include "channel_pool.h"
#include "db.h"
#include "db_array.h"
#include "logger.h"
#include "schedule.h"

#include <czmq.h>
#include <jansson.h>
#include <stdatomic.h>

#define REBUILD_MS 10000 /* a full look at the table */
#define LOOK_MS    200   /* new rows are looked for at least this often */
#define IDLE_MS    200   /* a tick with nothing in flight waits this long for work */
#define FLYING_MS  50    /* and with sends in flight, for one of them to end */
#define CHANNELS   2     /* webhook, email */

static const char *const s_channels[CHANNELS] = {"webhook", "email"};

static struct {
    char smtp_url[256];
    char from[256];
    int max_attempts;
    int backoff_ms;
    int timeout_ms;
    int rate_per_minute;
    int lease_ms;  /* how long a claim keeps other senders off a delivery */
    int in_flight; /* sends at once per channel, at most */
} s_settings;

/* A send in flight: what its outcome is recorded with. */
typedef struct {
    char id[40];
    int channel; /* index in s_channels */
    int attempts;
    int64_t lease;
    channel_outcome_t outcome;
    char error[256];
} flight_t;

static channel_pool_t *s_pool;
static int s_flying[CHANNELS]; /* sends in flight per channel */
static atomic_bool s_woken;

/* Deliveries this process queued at its recent looks (id -> the
 * zclock_time ms of the look), so that the overlap of the next looks does
 * not queue them again. */
static zhashx_t *s_queued;

/* When the table was last read in full, and at all, for pending deliveries
 * (main thread only): zclock_mono and zclock_time ms. */
static int64_t s_rebuilt_at = INT64_MIN / 2;
static int64_t s_looked_at;
static int64_t s_look_at; /* zclock_mono ms of the next look */

int sender_configure(config_t *config)
{
    snprintf(s_settings.smtp_url, sizeof s_settings.smtp_url, "%s",
             config_str(config, "notify.smtp_url", "smtp://127.0.0.1:25"));
    snprintf(s_settings.from, sizeof s_settings.from, "%s",
             config_str(config, "notify.from", "noreply@chuang.localhost"));
    s_settings.max_attempts = (int)config_int(config, "notify.max_attempts", 8);
    s_settings.backoff_ms = (int)config_int(config, "notify.backoff_ms", 5000);
    s_settings.timeout_ms = (int)config_int(config, "notify.timeout_ms", 10000);
    s_settings.rate_per_minute = (int)config_int(config, "notify.rate_per_minute", 0);
    s_settings.in_flight = (int)config_int(config, "notify.in_flight", 32);
    if (s_settings.in_flight < 1 || s_settings.in_flight > 1024) {
        log_error("notify.in_flight must be between 1 and 1024", "value=%d", s_settings.in_flight);
        return -1;
    }
    /* A claim outlives the longest send (one timeout) with room to spare. */
    s_settings.lease_ms = (int)config_int(config, "notify.lease_ms", 60000);
    if (s_settings.lease_ms < 2 * s_settings.timeout_ms)
        s_settings.lease_ms = 2 * s_settings.timeout_ms;
    channel_webhook_policy(config_bool(config, "notify.webhook_allow_http", false),
                           config_str(config, "notify.webhook_allow_hosts", NULL));
    s_pool = channel_pool_new();
    if (!s_pool) {
        log_error("cannot set up libcurl for the deliveries", NULL);
        return -1;
    }
    return 0;
}

void sender_fini(void)
{
    zhashx_destroy(&s_queued);
    channel_pool_t *pool = s_pool;
    s_pool = NULL;
    channel_pool_destroy(&pool);
}

void sender_wake(void)
{
    atomic_store(&s_woken, true);
    if (s_pool)
        channel_pool_wake(s_pool);
}

/* The Redis key of a channel's queue. */
static const char *s_queue(service_tick_t *tick, const char *channel, char *key, size_t size)
{
    char name[32];
    snprintf(name, sizeof name, "deliveries:%s", channel);
    return service_tick_key(tick, name, key, size);
}

/* Queues the pending deliveries the Redis queue may lack: every one on a
 * full rebuild, else those created or rescheduled (a replay) since the
 * last look, a second of overlap included (transactions commit out of
 * order) but without those this process queued at the looks of that
 * second; one ZADD NX a channel. */
static void s_rebuild(service_tick_t *tick, PGconn *db, redisContext *redis, bool full, int64_t now)
{
    if (!s_queued)
        s_queued = zhashx_new();
    char since[24];
    snprintf(since, sizeof since, "%" PRId64, full ? (int64_t)0 : s_looked_at - 1000);
    const char *values[1] = {since};
    PGresult *res =
        db_query(db,
                 "SELECT id::text, (extract(epoch FROM next_attempt_at) * 1000)::bigint,"
                 " channel FROM deliveries WHERE status = 'pending'"
                 "   AND (created_at >= to_timestamp($1::bigint / 1000.0)"
                 "     OR next_attempt_at >= to_timestamp($1::bigint / 1000.0))",
                 1, values, NULL, NULL, 0);
    int rows = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : 0;
    const char **jobs = calloc((size_t)rows + 1, sizeof *jobs);
    int64_t *dues = calloc((size_t)rows + 1, sizeof *dues);
    for (int channel = 0; jobs && dues && channel < CHANNELS; channel++) {
        size_t count = 0;
        for (int i = 0; i < rows; i++) {
            const char *id = PQgetvalue(res, i, 0);
            int64_t due = strtoll(PQgetvalue(res, i, 1), NULL, 10);
            /* A delivery rescheduled since is queued again at its time. */
            int64_t at = (int64_t)(intptr_t)zhashx_lookup(s_queued, id);
            if (!streq(PQgetvalue(res, i, 2), s_channels[channel]) || (!full && at && due < at))
                continue;
            jobs[count] = id;
            dues[count++] = due;
        }
        char queue[256];
        s_queue(tick, s_channels[channel], queue, sizeof queue);
        if (schedule_add_missing_many(redis, queue, jobs, dues, count) >= 0)
            for (size_t i = 0; i < count; i++)
                zhashx_update(s_queued, jobs[i], (void *)(intptr_t)now);
    }
    free(jobs);
    free(dues);
    PQclear(res);
    /* What the overlap of the next looks cannot see again is forgotten. */
    zlistx_t *ids = zhashx_keys(s_queued);
    for (const char *id = zlistx_first(ids); id; id = zlistx_next(ids))
        if ((int64_t)(intptr_t)zhashx_lookup(s_queued, id) < now - 2000)
            zhashx_delete(s_queued, id);
    zlistx_destroy(&ids);
}

/* When recipient already had limit deliveries on channel in the last
 * minute (those in flight counted), postpones delivery id until the oldest of them is a minute old
 * and returns that time (ms since the epoch); 0 when it may go now; -1 on error. */
static int64_t s_rate_limited(PGconn *db, const char *id, const char *recipient,
                              const char *channel, int limit)
{
    if (limit <= 0)
        return 0;
    char limit_text[16];
    snprintf(limit_text, sizeof limit_text, "%d", limit);
    const char *values[4] = {id, recipient, channel, limit_text};
    PGresult *res =
        db_query(db,
                 /* Sends in flight (claimed, not yet recorded) count as sent now. */
                 "WITH recent AS (SELECT coalesce(sent_at, now()) AS sent_at FROM deliveries"
                 "   WHERE recipient = $2 AND channel = $3 AND id <> $1::uuid"
                 "     AND (sent_at > now() - interval '1 minute'"
                 "       OR (status = 'pending' AND claimed_until > now()))"
                 "   ORDER BY 1 DESC LIMIT $4::int),"
                 " window_end AS (SELECT min(sent_at) + interval '1 minute' AS at FROM recent"
                 "   HAVING count(*) >= $4::int)"
                 " UPDATE deliveries SET next_attempt_at = (SELECT at FROM window_end)"
                 " WHERE id = $1::uuid AND EXISTS (SELECT 1 FROM window_end)"
                 " RETURNING (extract(epoch FROM next_attempt_at) * 1000)::bigint",
                 4, values, NULL, NULL, 0);
    int64_t later = -1;
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        later = PQntuples(res) ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    if (later > 0)
        log_info("delivery waits for the recipient's rate limit", "id=%s", id);
    return later;
}

/* When delivery id could not be claimed: the end of another sender's claim
 * on it (ms since the epoch), when it waits for one; 0 when it is sent or
 * dead; -1 on error. */
static int64_t s_claimed_until(PGconn *db, const char *id)
{
    const char *values[1] = {id};
    PGresult *res =
        db_query(db,
                 "SELECT (extract(epoch FROM claimed_until) * 1000)::bigint FROM deliveries"
                 " WHERE id = $1::uuid AND status = 'pending' AND claimed_until IS NOT NULL",
                 1, values, NULL, NULL, 0);
    int64_t until = -1;
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        until = PQntuples(res) ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) + 1 : 0;
    PQclear(res);
    return until;
}

/* The columns s_claim_sql returns, in order. */
enum {
    C_ID,
    C_CHANNEL,
    C_RECIPIENT,
    C_SUBJECT,
    C_BODY,
    C_EVENT_JSON,
    C_EVENT_ID,
    C_EVENT_TYPE,
    C_ATTEMPTS,
    C_EMAIL,
    C_WEBHOOK_URL,
    C_WEBHOOK_SECRET
};

/* Claims the pending, unclaimed deliveries among the ids $1 for the lease
 * $2 (ms): those whose recipient has no rate limit (its own, or the
 * default $3), or every one when $4 (their limit was checked). */
static const char *const s_claim_sql =
    "WITH wanted AS (SELECT d.id FROM deliveries d LEFT JOIN recipients r ON r.id = d.recipient"
    "   WHERE d.id = ANY ($1::uuid[]) AND ($4::bool OR CASE WHEN coalesce(r.rate_per_minute, 0)"
    "     > 0 THEN r.rate_per_minute ELSE $3::int END <= 0)),"
    " claimed AS (UPDATE deliveries SET attempts = attempts + 1,"
    "   claimed_until = now() + $2::int * interval '1 millisecond'"
    "   WHERE id IN (SELECT id FROM wanted) AND status = 'pending'"
    "     AND (claimed_until IS NULL OR claimed_until <= now()) RETURNING *)"
    " SELECT c.id::text, c.channel, c.recipient, c.subject, c.body, c.event_json,"
    "       c.event_id::text, c.event_type, c.attempts, coalesce(r.email, ''),"
    "       coalesce(r.webhook_url, ''), coalesce(r.webhook_secret, '')"
    " FROM claimed c LEFT JOIN recipients r ON r.id = c.recipient";

/* Runs s_claim_sql for count ids; checked says their rate limits were
 * checked. Returns the claimed rows (caller clears) or NULL. */
static PGresult *s_claim(PGconn *db, char *const *ids, size_t count, bool checked)
{
    char *array = db_text_array(ids, count);
    char lease[16], limit[16];
    snprintf(lease, sizeof lease, "%d", s_settings.lease_ms);
    snprintf(limit, sizeof limit, "%d", s_settings.rate_per_minute);
    const char *values[4] = {array, lease, limit, checked ? "true" : "false"};
    PGresult *res = array ? db_query(db, s_claim_sql, 4, values, NULL, NULL, 0) : NULL;
    free(array);
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        return res;
    PQclear(res);
    return NULL;
}

/* A delivery the batch claim left: its recipient has a rate limit, or it is
 * not pending or claimed by another sender. Claims it when it may go now
 * (*row: the claimed row, caller clears). Returns 0 with *row set when
 * claimed, or without when it needs no more work here; the time it is due
 * again (ms since the epoch); -1 on error. */
static int64_t s_claim_one(PGconn *db, char *id, PGresult **row)
{
    *row = NULL;
    const char *who[1] = {id};
    PGresult *res =
        db_query(db,
                 "SELECT d.recipient, d.channel, coalesce(r.rate_per_minute, 0) FROM deliveries d"
                 " LEFT JOIN recipients r ON r.id = d.recipient WHERE d.id = $1::uuid",
                 1, who, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) == 0) {
        bool ok = PQresultStatus(res) == PGRES_TUPLES_OK;
        PQclear(res);
        return ok ? 0 : -1;
    }
    int limit = atoi(PQgetvalue(res, 0, 2));
    int64_t later = s_rate_limited(db, id, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
                                   limit > 0 ? limit : s_settings.rate_per_minute);
    PQclear(res);
    if (later != 0)
        return later;
    res = s_claim(db, &id, 1, true);
    if (!res)
        return -1;
    if (PQntuples(res) == 1) {
        *row = res;
        return 0;
    }
    PQclear(res);
    return s_claimed_until(db, id);
}

/* The webhook's JSON of claimed row i: who, what, and the event's payload.
 * Caller frees. */
static char *s_webhook_json(PGresult *rows, int i)
{
    json_t *json = json_object();
    json_object_set_new(json, "deliveryId", json_string(PQgetvalue(rows, i, C_ID)));
    json_object_set_new(json, "eventId", json_string(PQgetvalue(rows, i, C_EVENT_ID)));
    json_object_set_new(json, "eventType", json_string(PQgetvalue(rows, i, C_EVENT_TYPE)));
    json_object_set_new(json, "recipient", json_string(PQgetvalue(rows, i, C_RECIPIENT)));
    json_object_set_new(json, "subject", json_string(PQgetvalue(rows, i, C_SUBJECT)));
    json_object_set_new(json, "body", json_string(PQgetvalue(rows, i, C_BODY)));
    json_t *event = json_loads(PQgetvalue(rows, i, C_EVENT_JSON), 0, NULL);
    json_object_set_new(json, "event", event ? event : json_object());
    char *text = json_dumps(json, JSON_COMPACT);
    json_decref(json);
    return text;
}

/* Outcomes waiting to be recorded (s_record): sends that ended, and those
 * that could not start. */
static zlistx_t *s_ended;

static void s_flight_free(flight_t **flight_p)
{
    free(*flight_p);
    *flight_p = NULL;
}

/* Starts the send of claimed row i, taken from the queue under lease. A
 * send that cannot start has its outcome recorded with the others. */
static void s_start(PGresult *rows, int i, int64_t lease)
{
    flight_t *flight = calloc(1, sizeof *flight);
    assert(flight);
    snprintf(flight->id, sizeof flight->id, "%s", PQgetvalue(rows, i, C_ID));
    flight->channel = streq(PQgetvalue(rows, i, C_CHANNEL), "email") ? 1 : 0;
    flight->attempts = atoi(PQgetvalue(rows, i, C_ATTEMPTS));
    flight->lease = lease;
    int rc;
    if (flight->channel == 1) {
        const char *to = PQgetvalue(rows, i, C_EMAIL);
        rc =
            *to ? channel_pool_email(s_pool, s_settings.smtp_url, s_settings.from, to,
                                     PQgetvalue(rows, i, C_SUBJECT), PQgetvalue(rows, i, C_BODY),
                                     flight->id, s_settings.timeout_ms, flight, &flight->outcome,
                                     flight->error, sizeof flight->error)
                : (snprintf(flight->error, sizeof flight->error, "recipient has no e-mail address"),
                   flight->outcome = CHANNEL_PERMANENT, -1);
    } else {
        const char *url = PQgetvalue(rows, i, C_WEBHOOK_URL);
        char *json = s_webhook_json(rows, i);
        rc = *url && json
                 ? channel_pool_webhook(s_pool, url, PQgetvalue(rows, i, C_WEBHOOK_SECRET),
                                        flight->id, json, s_settings.timeout_ms, flight,
                                        &flight->outcome, flight->error, sizeof flight->error)
                 : (snprintf(flight->error, sizeof flight->error, "%s",
                             json ? "recipient has no webhook" : "out of memory"),
                    flight->outcome = json ? CHANNEL_PERMANENT : CHANNEL_RETRY, -1);
        free(json);
    }
    if (rc == 0)
        s_flying[flight->channel]++;
    else
        zlistx_add_end(s_ended, flight);
}

/* Takes the due deliveries of a channel's queue, as many as may be in
 * flight, claims them and starts them. Returns how many it started. */
static int s_start_due(service_tick_t *tick, PGconn *db, redisContext *redis, int channel)
{
    int slots = s_settings.in_flight - s_flying[channel];
    if (slots <= 0)
        return 0;
    char queue[256];
    s_queue(tick, s_channels[channel], queue, sizeof queue);
    schedule_job_t *jobs = NULL;
    int taken = schedule_claim_due(redis, queue, zclock_time(), s_settings.lease_ms, slots, &jobs);
    if (taken <= 0) {
        schedule_jobs_free(jobs);
        return 0;
    }
    char **ids = calloc((size_t)taken, sizeof *ids);
    assert(ids);
    for (int i = 0; i < taken; i++)
        ids[i] = jobs[i].job;
    int started = 0;
    PGresult *rows = s_claim(db, ids, (size_t)taken, false);
    for (int j = 0; rows && j < taken; j++) {
        int i = 0;
        while (i < PQntuples(rows) && !streq(PQgetvalue(rows, i, C_ID), jobs[j].job))
            i++;
        if (i < PQntuples(rows)) {
            s_start(rows, i, jobs[j].lease);
            started++;
            continue;
        }
        PGresult *row = NULL;
        int64_t due = s_claim_one(db, jobs[j].job, &row);
        if (row) {
            s_start(row, 0, jobs[j].lease);
            started++;
        } else if (due >= 0) {
            /* Not due after all: off the queue, or back at its time. */
            const char *job = jobs[j].job;
            schedule_done_many(redis, queue, &job, &jobs[j].lease, &due, 1);
        } /* else the lease ends and it is tried again */
        PQclear(row);
    }
    PQclear(rows);
    free(ids);
    schedule_jobs_free(jobs);
    return started;
}

/* Takes the ended sends off their channels' queues, one round trip per
 * channel: each is removed, or moved to its due_ms (by position in
 * s_ended) when that is above 0 (a retry). */
static void s_end_claims(service_tick_t *tick, redisContext *redis, const int64_t *due_ms)
{
    size_t count = zlistx_size(s_ended);
    const char **jobs = calloc(count, sizeof *jobs);
    int64_t *leases = calloc(count, sizeof *leases), *next = calloc(count, sizeof *next);
    assert(jobs && leases && next);
    char queue[256];
    for (int channel = 0; channel < CHANNELS; channel++) {
        size_t taken = 0, n = 0;
        for (flight_t *f = zlistx_first(s_ended); f; f = zlistx_next(s_ended), n++) {
            if (f->channel != channel)
                continue;
            jobs[taken] = f->id;
            leases[taken] = f->lease;
            next[taken++] = due_ms[n];
        }
        s_queue(tick, s_channels[channel], queue, sizeof queue);
        schedule_done_many(redis, queue, jobs, leases, next, taken);
    }
    free(jobs);
    free(leases);
    free(next);
}

/* Records the outcomes of the ended sends in one statement, then takes
 * them off their queues (a retry put back at its time). When the statement
 * fails, the claims run out and the deliveries go once more. */
static void s_record(service_tick_t *tick, PGconn *db, redisContext *redis)
{
    size_t count = zlistx_size(s_ended);
    if (count == 0)
        return;
    char **ids = calloc(count, sizeof *ids), **statuses = calloc(count, sizeof *statuses);
    char **attempts = calloc(count, sizeof *attempts), **errors = calloc(count, sizeof *errors);
    char **dues = calloc(count, sizeof *dues);
    int64_t *due_ms = calloc(count, sizeof *due_ms);
    assert(ids && statuses && attempts && errors && dues && due_ms);
    size_t n = 0;
    for (flight_t *f = zlistx_first(s_ended); f; f = zlistx_next(s_ended), n++) {
        const char *status = "sent";
        if (f->outcome != CHANNEL_SENT) {
            bool again = f->outcome == CHANNEL_RETRY && f->attempts < s_settings.max_attempts;
            status = again ? "pending" : "dead";
            if (again) {
                /* Exponential backoff with jitter of +/- half. */
                int64_t backoff = (int64_t)s_settings.backoff_ms
                                  << (f->attempts - 1 < 10 ? f->attempts - 1 : 10);
                backoff = backoff / 2 + (int64_t)(randof((int)(backoff > 1 ? backoff : 1)));
                due_ms[n] = zclock_time() + backoff;
            }
        }
        ids[n] = f->id;
        statuses[n] = (char *)status;
        attempts[n] = zsys_sprintf("%d", f->attempts);
        errors[n] = f->error;
        dues[n] = zsys_sprintf("%" PRId64, due_ms[n]);
    }
    char *arrays[5] = {db_text_array(ids, count), db_text_array(statuses, count),
                       db_text_array(attempts, count), db_text_array(errors, count),
                       db_text_array(dues, count)};
    bool ok = false;
    if (arrays[0] && arrays[1] && arrays[2] && arrays[3] && arrays[4]) {
        PGresult *res =
            db_query(db,
                     "UPDATE deliveries d SET status = u.status, attempts = u.attempts,"
                     " last_error = u.error, sent_at = CASE WHEN u.status = 'sent' THEN now() END,"
                     " next_attempt_at = CASE WHEN u.due > 0"
                     "   THEN to_timestamp(u.due / 1000.0) ELSE d.next_attempt_at END,"
                     " claimed_until = NULL"
                     " FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::bigint[])"
                     "   AS u (id, status, attempts, error, due)"
                     " WHERE d.id = u.id AND d.status = 'pending'",
                     5, (const char *const *)arrays, NULL, NULL, 0);
        ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
    }
    if (ok)
        s_end_claims(tick, redis, due_ms);
    n = 0;
    for (flight_t *f = zlistx_first(s_ended); f; f = zlistx_next(s_ended), n++) {
        const char *channel = s_channels[f->channel];
        if (!ok) {
            log_warn("delivery outcome not recorded; it will be sent again", "id=%s channel=%s",
                     f->id, channel);
            continue;
        }
        if (f->outcome == CHANNEL_SENT)
            log_info("delivered", "id=%s channel=%s attempts=%d", f->id, channel, f->attempts);
        else
            log_warn("delivery failed", "id=%s channel=%s attempts=%d status=%s error=\"%s\"",
                     f->id, channel, f->attempts, statuses[n], f->error);
    }
    for (size_t i = 0; i < count; i++) {
        zstr_free(&attempts[i]);
        zstr_free(&dues[i]);
    }
    for (size_t i = 0; i < 5; i++)
        free(arrays[i]);
    free(ids);
    free(statuses);
    free(attempts);
    free(errors);
    free(dues);
    free(due_ms);
    zlistx_purge(s_ended);
}

/* Moves the sends that ended from the pool to the outcomes to record. */
static void s_collect(void)
{
    void *tag;
    channel_outcome_t outcome;
    char error[256];
    while (channel_pool_next(s_pool, &tag, &outcome, error, sizeof error)) {
        flight_t *flight = tag;
        flight->outcome = outcome;
        snprintf(flight->error, sizeof flight->error, "%s", error);
        s_flying[flight->channel]--;
        zlistx_add_end(s_ended, flight);
    }
}

bool sender_tick(service_tick_t *tick)
{
    PGconn *db = service_tick_db(tick);
    redisContext *redis = service_tick_redis(tick);
    if (!s_ended) {
        s_ended = zlistx_new();
        zlistx_set_destructor(s_ended, (zlistx_destructor_fn *)s_flight_free);
    }
    if (!redis || !s_pool)
        return false;
    bool woken = atomic_exchange(&s_woken, false);
    if (woken || zclock_mono() >= s_look_at) {
        bool full = zclock_mono() - s_rebuilt_at >= REBUILD_MS;
        int64_t now = zclock_time();
        s_rebuild(tick, db, redis, full, now);
        s_looked_at = now;
        s_look_at = zclock_mono() + LOOK_MS;
        if (full)
            s_rebuilt_at = zclock_mono();
    }
    /* Each channel its own slots: a slow mail server does not hold
     * webhooks back. */
    for (int channel = 0; channel < CHANNELS; channel++)
        s_start_due(tick, db, redis, channel);
    /* Waits for a send to end, or, with none in flight, for work. */
    int wait_ms = zlistx_size(s_ended) ? 0 : channel_pool_size(s_pool) > 0 ? FLYING_MS : IDLE_MS;
    channel_pool_run(s_pool, wait_ms);
    s_collect();
    s_record(tick, db, redis);
    return true;
}
