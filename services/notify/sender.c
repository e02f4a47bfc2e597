/*
 * sender.c - the delivery worker; see sender.h.
 *
 * PostgreSQL holds every delivery and its state; Redis holds a due-time
 * queue (common/schedule) of pending ones per channel. Each tick queues the rows
 * created or rescheduled since the last; every REBUILD_MS the whole table is
 * read again, so an emptied Redis only delays. No transaction is open
 * while a message travels: a delivery is claimed by one UPDATE that commits
 * (attempts + 1, claimed_until = now + the lease), then sent, then its
 * outcome recorded by another UPDATE. A delivery sent, dead or claimed by
 * another sender is skipped, so none is sent twice as a success; a sender
 * that dies between sending and recording leaves the claim to run out, and
 * the delivery goes once more with the same delivery id for the receiver to
 * drop. The destination is read from the recipient at claim time: a replay
 * after the recipient fixed its address goes there. A recipient's rate
 * limit postpones a delivery, it never drops it.
 */
#include "sender.h"
#include "db.h"
#include "channel.h"
#include "logger.h"
#include "schedule.h"

#include <czmq.h>
#include <jansson.h>

#define REBUILD_MS 10000 /* a full look at the table; new rows every tick */
#define CLAIM_MAX  16

static struct {
    char smtp_url[256];
    char from[256];
    int max_attempts;
    int backoff_ms;
    int timeout_ms;
    int rate_per_minute;
    int lease_ms; /* how long a claim keeps other senders off a delivery */
} s_settings;

/* When the table was last read in full, and at all, for pending deliveries
 * (main thread only): zclock_mono and zclock_time ms. */
static int64_t s_rebuilt_at = INT64_MIN / 2;
static int64_t s_looked_at;

void sender_configure(config_t *config)
{
    snprintf(s_settings.smtp_url, sizeof s_settings.smtp_url, "%s",
             config_str(config, "notify.smtp_url", "smtp://127.0.0.1:25"));
    snprintf(s_settings.from, sizeof s_settings.from, "%s",
             config_str(config, "notify.from", "noreply@chuang.localhost"));
    s_settings.max_attempts = (int)config_int(config, "notify.max_attempts", 8);
    s_settings.backoff_ms = (int)config_int(config, "notify.backoff_ms", 5000);
    s_settings.timeout_ms = (int)config_int(config, "notify.timeout_ms", 10000);
    s_settings.rate_per_minute = (int)config_int(config, "notify.rate_per_minute", 0);
    /* A claim outlives the longest send (one timeout) with room to spare. */
    s_settings.lease_ms = (int)config_int(config, "notify.lease_ms", 60000);
    if (s_settings.lease_ms < 2 * s_settings.timeout_ms)
        s_settings.lease_ms = 2 * s_settings.timeout_ms;
    channel_webhook_policy(config_bool(config, "notify.webhook_allow_http", false),
                           config_str(config, "notify.webhook_allow_hosts", NULL));
}

/* Queues the pending deliveries the Redis queue may lack: every one on a
 * full rebuild, else those created or rescheduled (a replay) since the
 * last look, a second of overlap included. */
/* The Redis key of a channel's queue. */
static const char *s_queue(service_tick_t *tick, const char *channel, char *key, size_t size)
{
    char name[32];
    snprintf(name, sizeof name, "deliveries:%s", channel);
    return service_tick_key(tick, name, key, size);
}

static void s_rebuild(service_tick_t *tick, PGconn *db, redisContext *redis, bool full)
{
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
    char queue[256];
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        for (int i = 0; i < PQntuples(res); i++)
            schedule_add_missing(redis, s_queue(tick, PQgetvalue(res, i, 2), queue, sizeof queue),
                                 PQgetvalue(res, i, 0), strtoll(PQgetvalue(res, i, 1), NULL, 10));
    PQclear(res);
}

/* When recipient already had limit deliveries on channel in the last
 * minute, postpones delivery id until the oldest of them is a minute old and
 * returns that time (ms since the epoch); 0 when it may go now; -1 on error. */
static int64_t s_rate_limited(PGconn *db, const char *id, const char *recipient,
                              const char *channel, int limit)
{
    if (limit <= 0)
        return 0;
    char limit_text[16];
    snprintf(limit_text, sizeof limit_text, "%d", limit);
    const char *values[4] = {id, recipient, channel, limit_text};
    PGresult *res = db_query(
        db,
        "WITH recent AS (SELECT sent_at FROM deliveries WHERE recipient = $2 AND channel = $3"
        "   AND sent_at > now() - interval '1 minute' ORDER BY sent_at DESC LIMIT $4::int),"
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

/* The webhook's JSON: who, what, and the event's payload. Caller frees. */
static char *s_webhook_json(PGresult *row, const char *id)
{
    json_t *json = json_object();
    json_object_set_new(json, "deliveryId", json_string(id));
    json_object_set_new(json, "eventId", json_string(PQgetvalue(row, 0, 5)));
    json_object_set_new(json, "eventType", json_string(PQgetvalue(row, 0, 6)));
    json_object_set_new(json, "recipient", json_string(PQgetvalue(row, 0, 1)));
    json_object_set_new(json, "subject", json_string(PQgetvalue(row, 0, 2)));
    json_object_set_new(json, "body", json_string(PQgetvalue(row, 0, 3)));
    json_t *event = json_loads(PQgetvalue(row, 0, 4), 0, NULL);
    json_object_set_new(json, "event", event ? event : json_object());
    char *text = json_dumps(json, JSON_COMPACT);
    json_decref(json);
    return text;
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

/* Claims one delivery, sends it and records the outcome, each step its own
 * statement. Returns the time it is due again (ms since the epoch), 0 when
 * it needs no more work here, -1 on error. */
static int64_t s_send(PGconn *db, const char *id)
{
    const char *who[1] = {id};
    PGresult *row =
        db_query(db,
                 "SELECT d.recipient, d.channel, coalesce(r.rate_per_minute, 0) FROM deliveries d"
                 " LEFT JOIN recipients r ON r.id = d.recipient WHERE d.id = $1::uuid",
                 1, who, NULL, NULL, 0);
    if (PQresultStatus(row) != PGRES_TUPLES_OK || PQntuples(row) == 0) {
        bool ok = PQresultStatus(row) == PGRES_TUPLES_OK;
        PQclear(row);
        return ok ? 0 : -1;
    }
    int limit = atoi(PQgetvalue(row, 0, 2));
    int64_t later = s_rate_limited(db, id, PQgetvalue(row, 0, 0), PQgetvalue(row, 0, 1),
                                   limit > 0 ? limit : s_settings.rate_per_minute);
    PQclear(row);
    if (later != 0)
        return later;
    char lease[16];
    snprintf(lease, sizeof lease, "%d", s_settings.lease_ms);
    const char *values[2] = {id, lease};
    row = db_query(
        db,
        "WITH claimed AS (UPDATE deliveries SET attempts = attempts + 1,"
        "   claimed_until = now() + $2::int * interval '1 millisecond'"
        "   WHERE id = $1::uuid AND status = 'pending'"
        "     AND (claimed_until IS NULL OR claimed_until <= now()) RETURNING *)"
        " SELECT c.channel, c.recipient, c.subject, c.body, c.event_json, c.event_id::text,"
        "       c.event_type, c.attempts, coalesce(r.email, ''), coalesce(r.webhook_url, ''),"
        "       coalesce(r.webhook_secret, '')"
        " FROM claimed c LEFT JOIN recipients r ON r.id = c.recipient",
        2, values, NULL, NULL, 0);
    if (PQresultStatus(row) != PGRES_TUPLES_OK || PQntuples(row) == 0) {
        bool ok = PQresultStatus(row) == PGRES_TUPLES_OK;
        PQclear(row);
        return ok ? s_claimed_until(db, id) : -1;
    }
    char channel[16]; /* outlives row, which is cleared before the outcome is logged */
    snprintf(channel, sizeof channel, "%s", PQgetvalue(row, 0, 0));
    int attempts = atoi(PQgetvalue(row, 0, 7));
    char error[256] = "";
    channel_outcome_t outcome;
    if (streq(channel, "email")) {
        const char *to = PQgetvalue(row, 0, 8);
        outcome = *to ? channel_email_send(s_settings.smtp_url, s_settings.from, to,
                                           PQgetvalue(row, 0, 2), PQgetvalue(row, 0, 3), id,
                                           s_settings.timeout_ms, error, sizeof error)
                      : (snprintf(error, sizeof error, "recipient has no e-mail address"),
                         CHANNEL_PERMANENT);
    } else {
        const char *url = PQgetvalue(row, 0, 9);
        char *json = s_webhook_json(row, id);
        outcome =
            *url ? channel_webhook_send(url, PQgetvalue(row, 0, 10), id, json,
                                        s_settings.timeout_ms, error, sizeof error)
                 : (snprintf(error, sizeof error, "recipient has no webhook"), CHANNEL_PERMANENT);
        free(json);
    }
    PQclear(row);

    int64_t due = 0;
    const char *status = "sent";
    if (outcome != CHANNEL_SENT) {
        status =
            outcome == CHANNEL_RETRY && attempts < s_settings.max_attempts ? "pending" : "dead";
        if (streq(status, "pending")) {
            /* Exponential backoff with jitter of +/- half. */
            int64_t backoff = (int64_t)s_settings.backoff_ms
                              << (attempts - 1 < 10 ? attempts - 1 : 10);
            backoff = backoff / 2 + (int64_t)(randof((int)(backoff > 1 ? backoff : 1)));
            due = zclock_time() + backoff;
        }
    }
    char attempts_text[16], due_text[24];
    snprintf(attempts_text, sizeof attempts_text, "%d", attempts);
    snprintf(due_text, sizeof due_text, "%" PRId64, due);
    const char *update[5] = {id, status, attempts_text, error, due_text};
    PGresult *res =
        db_query(db,
                 "UPDATE deliveries SET status = $2, attempts = $3::int, last_error = $4,"
                 " sent_at = CASE WHEN $2 = 'sent' THEN now() END,"
                 " next_attempt_at = CASE WHEN $5::bigint > 0"
                 "   THEN to_timestamp($5::bigint / 1000.0) ELSE next_attempt_at END,"
                 " claimed_until = NULL"
                 " WHERE id = $1::uuid AND status = 'pending'",
                 5, update, NULL, NULL, 0);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok) {
        /* The claim runs out and the delivery goes once more. */
        log_warn("delivery outcome not recorded; it will be sent again", "id=%s channel=%s", id,
                 channel);
        return -1;
    }
    if (outcome == CHANNEL_SENT)
        log_info("delivered", "id=%s channel=%s attempts=%d", id, channel, attempts);
    else
        log_warn("delivery failed", "id=%s channel=%s attempts=%d status=%s error=\"%s\"", id,
                 channel, attempts, status, error);
    return due;
}

/* Sends what is due on one channel's queue. Returns how many it claimed. */
static int s_send_due(service_tick_t *tick, PGconn *db, redisContext *redis, const char *channel)
{
    char queue[256];
    s_queue(tick, channel, queue, sizeof queue);
    schedule_job_t *jobs = NULL;
    int claimed =
        schedule_claim_due(redis, queue, zclock_time(), s_settings.lease_ms, CLAIM_MAX, &jobs);
    for (int i = 0; i < claimed; i++) {
        int64_t due = s_send(db, jobs[i].job);
        if (due < 0)
            continue; /* the lease ends and it is tried again */
        schedule_done(redis, queue, jobs[i].job, jobs[i].lease);
        if (due > 0)
            schedule_add(redis, queue, jobs[i].job, due);
    }
    schedule_jobs_free(jobs);
    return claimed;
}

bool sender_tick(service_tick_t *tick)
{
    PGconn *db = service_tick_db(tick);
    redisContext *redis = service_tick_redis(tick);
    if (!redis)
        return false;
    bool full = zclock_mono() - s_rebuilt_at >= REBUILD_MS;
    int64_t now = zclock_time();
    s_rebuild(tick, db, redis, full);
    s_looked_at = now;
    if (full)
        s_rebuilt_at = zclock_mono();
    /* One queue a channel: a slow mail server does not hold webhooks back. */
    int webhooks = s_send_due(tick, db, redis, "webhook");
    int emails = s_send_due(tick, db, redis, "email");
    return webhooks == CLAIM_MAX || emails == CLAIM_MAX;
}
