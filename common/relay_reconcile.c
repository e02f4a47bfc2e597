/*
 * relay_reconcile.c - comparing a service's event stream with its outbox,
 * and reconciling them; see relay_reconcile.h for the rule.
 *
 * Comparing looks at one entry: the stream's last, which must be at a
 * position the outbox has numbered and name the outbox's event there.
 * Reconciling first finds the last position where both hold the same event
 * by bisection over the positions both have (after a restore they agree up
 * to some position and disagree after it), then walks the stream from
 * there in pages, all inside one transaction that holds the outbox in
 * SHARE ROW EXCLUSIVE mode: writers and the relay wait for it, readers
 * do not.
 */
#include "relay_reconcile.h"
#include "event_stream.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 500

/* The event id the outbox has at position into id (37 bytes): 1 found, 0
 * none, -1 on error. */
static int s_outbox_id(PGconn *db, int64_t position, char *id)
{
    char text[24];
    snprintf(text, sizeof text, "%" PRId64, position);
    const char *values[1] = {text};
    PGresult *res = PQexecParams(db, "SELECT id::text FROM chuang_outbox WHERE position = $1", 1,
                                 NULL, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) != PGRES_TUPLES_OK ? -1 : PQntuples(res) == 1;
    if (rc == 1)
        snprintf(id, 37, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return rc;
}

/* 1 when the stream and the outbox hold the same event at position, 0 when
 * not (or one has none), -1 on error. */
static int s_same_at(PGconn *db, redisContext *redis, const char *key, int64_t position)
{
    char id[37];
    int found = s_outbox_id(db, position, id);
    if (found <= 0)
        return found;
    Chuang__Event *event = NULL;
    int rc = event_stream_get(redis, key, position, &event);
    if (rc == 1)
        rc = event && strcmp(event->id, id) == 0;
    chuang__event__free_unpacked(event, NULL);
    return rc;
}

int relay_compare(PGconn *db, redisContext *redis, const char *key, relay_comparison_t *out)
{
    memset(out, 0, sizeof *out);
    PGresult *res = PQexec(db, "SELECT coalesce(max(position), 0) FROM chuang_outbox");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return -1;
    }
    out->outbox_last = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    out->stream_first = event_stream_end(redis, key, 0);
    out->stream_last = event_stream_end(redis, key, 1);
    if (out->stream_first < 0 || out->stream_last < 0)
        return -1;
    if (out->stream_last > out->outbox_last) {
        snprintf(out->why, sizeof out->why,
                 "the stream holds events up to position %" PRId64
                 ", the outbox only up to %" PRId64 " (a restored or failed-over database?)",
                 out->stream_last, out->outbox_last);
        return 0;
    }
    int same = out->stream_last ? s_same_at(db, redis, key, out->stream_last) : 1;
    if (same < 0)
        return -1;
    out->agree = same == 1;
    if (!out->agree)
        snprintf(out->why, sizeof out->why,
                 "the stream holds another event at position %" PRId64
                 " (a restored or failed-over database?)",
                 out->stream_last);
    return 0;
}

/* The last position at which stream and outbox agree: found by bisection
 * between the stream's first entry and the last position both have. */
static int64_t s_agree_through(PGconn *db, redisContext *redis, const char *key,
                               const relay_comparison_t *comparison)
{
    int64_t low = comparison->stream_first - 1; /* agrees (or is before the stream) */
    int64_t high = comparison->stream_last < comparison->outbox_last ? comparison->stream_last
                                                                     : comparison->outbox_last;
    if (high <= low)
        return high > 0 ? high : 0;
    int same = s_same_at(db, redis, key, high);
    if (same != 0)
        return same < 0 ? -1 : high;
    while (high - low > 1) {
        int64_t middle = low + (high - low) / 2;
        same = s_same_at(db, redis, key, middle);
        if (same < 0)
            return -1;
        if (same)
            low = middle;
        else
            high = middle;
    }
    return low;
}

/* Gives the stream's event at position its place in the outbox: the row
 * with its id gets the position, or the event is inserted as recovered.
 * Returns 0 or -1. */
static int s_take_back(PGconn *db, int64_t position, const Chuang__Event *event, FILE *report)
{
    char text[24], visibility[8], occurred[24];
    snprintf(text, sizeof text, "%" PRId64, position);
    snprintf(visibility, sizeof visibility, "%d", (int)event->visibility);
    snprintf(occurred, sizeof occurred, "%" PRId64, event->occurred_ms);
    const char *keep[2] = {text, event->id};
    PGresult *res = PQexecParams(db, "UPDATE chuang_outbox SET position = $1 WHERE id = $2::uuid",
                                 2, NULL, keep, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
    bool kept = rc == 0 && strcmp(PQcmdTuples(res), "1") == 0;
    PQclear(res);
    if (rc != 0)
        return -1;
    if (kept) {
        fprintf(report, "position %" PRId64 ": %s %s (%s) is the outbox's own; kept there\n",
                position, event->type, event->aggregate_id, event->id);
        return 0;
    }
    const char *values[10] = {event->id,
                              event->agency,
                              event->type,
                              event->aggregate_id,
                              visibility,
                              event->payload_type,
                              event->payload.len ? (const char *)event->payload.data : "",
                              event->trace_id,
                              occurred,
                              text};
    int lengths[10] = {0, 0, 0, 0, 0, 0, (int)event->payload.len, 0, 0, 0};
    int formats[10] = {0, 0, 0, 0, 0, 0, 1, 0, 0, 0};
    res = PQexecParams(db,
                       "INSERT INTO chuang_outbox (id, agency, type, aggregate_id, visibility,"
                       " payload_type, payload, trace_id, occurred_at, position, recovered_at)"
                       " VALUES ($1::uuid, $2, $3, $4, $5::smallint, $6, $7, $8,"
                       " to_timestamp($9::bigint / 1000.0), $10::bigint, now())",
                       10, NULL, values, lengths, formats, 0);
    rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
    PQclear(res);
    if (rc == 0)
        fprintf(report,
                "position %" PRId64 ": %s %s (%s) taken back from the stream; the change it "
                "reports is not in this database\n",
                position, event->type, event->aggregate_id, event->id);
    return rc;
}

int relay_reconcile(PGconn *db, redisContext *redis, const char *key, FILE *report)
{
    int changed = -1;
    PGresult *res = NULL;
    if (PQresultStatus(res = PQexec(db, "BEGIN")) != PGRES_COMMAND_OK)
        goto done;
    PQclear(res);
    res = PQexec(db, "LOCK TABLE chuang_outbox IN SHARE ROW EXCLUSIVE MODE");
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        goto done;
    PQclear(res);
    res = NULL;
    relay_comparison_t comparison;
    if (relay_compare(db, redis, key, &comparison) != 0)
        goto done;
    if (comparison.agree) {
        fprintf(report, "the stream and the outbox agree through position %" PRId64 "\n",
                comparison.stream_last);
        changed = 0;
        goto done;
    }
    int64_t through = s_agree_through(db, redis, key, &comparison);
    if (through < 0)
        goto done;
    fprintf(report, "%s\nthey agree through position %" PRId64 "\n", comparison.why, through);
    char text[24];
    snprintf(text, sizeof text, "%" PRId64, through);
    const char *values[1] = {text};
    res = PQexecParams(db,
                       "UPDATE chuang_outbox SET position = NULL WHERE position > $1::bigint"
                       " RETURNING id::text, type, aggregate_id, sequence",
                       1, NULL, values, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        goto done;
    int count = PQntuples(res);
    PQclear(res);
    res = NULL;
    for (int64_t from = through + 1; from <= comparison.stream_last; from += PAGE) {
        for (int64_t position = from; position < from + PAGE && position <= comparison.stream_last;
             position++) {
            Chuang__Event *event = NULL;
            int found = event_stream_get(redis, key, position, &event);
            if (found < 0 || (found == 1 && !event)) {
                chuang__event__free_unpacked(event, NULL);
                fprintf(report, "position %" PRId64 ": the stream's entry cannot be read\n",
                        position);
                goto done;
            }
            int rc = found ? s_take_back(db, position, event, report) : 0;
            chuang__event__free_unpacked(event, NULL);
            if (rc != 0)
                goto done;
            count++;
        }
    }
    /* What is left without a position is the outbox's own, numbered again
     * by the relay after the stream's end. */
    res = PQexec(db, "SELECT id::text, type, aggregate_id FROM chuang_outbox"
                     " WHERE position IS NULL ORDER BY sequence");
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        goto done;
    for (int i = 0; i < PQntuples(res); i++)
        fprintf(report, "%s %s (%s) will be numbered after position %" PRId64 "\n",
                PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 0),
                comparison.stream_last);
    PQclear(res);
    res = PQexec(db, "COMMIT");
    if (PQresultStatus(res) == PGRES_COMMAND_OK)
        changed = count;
done:
    if (changed < 0)
        fprintf(report, "reconcile failed: %s", PQerrorMessage(db));
    PQclear(res);
    if (PQtransactionStatus(db) != PQTRANS_IDLE)
        PQclear(PQexec(db, "ROLLBACK"));
    return changed;
}
