/*
 * jobs.c - the registry's scheduled work: deciding simplified deregistrations
 * when their public notice ends, and listing as abnormal the entities that
 * have not filed an annual report by the deadline.
 *
 * Jobs wait in a Redis due-time queue (common/schedule): "deregister:<credit
 * code>" due when the notice ends, "annual:<agency>:<year>" due at the
 * agency's midnight after that year's last filing day (both legal dates in
 * the agency's calendar, computed by the database). PostgreSQL stays the
 * record, and the tables are where jobs come from: every REBUILD_MS the
 * tick adds whatever job is missing (a new application, a restarted or
 * emptied Redis, a job lost with a crashed replica), never moving one
 * already there. A claimed job is leased, so a replica that dies with it in
 * hand leaves it to another when the lease ends; each job checks the state
 * it acts on inside its own transaction, so running it twice changes
 * nothing. The annual check works
 * in chunks of CHUNK entities, a transaction each, and hands the rest to
 * the next tick before half its lease has gone.
 */
#include "jobs.h"
#include "event_stream.h"
#include "db.h"
#include "logger.h"
#include "outbox.h"
#include "schedule.h"
#include "store.h"

#include <czmq.h>

#define REBUILD_MS 10000
#define LEASE_MS   60000
#define CLAIM_MAX  32
#define CHUNK      500

/* When the tables were last read for missing jobs (zclock_mono ms). Only
 * the tick, on the main thread, touches it. */
static int64_t s_rebuilt_at = INT64_MIN / 2;

static void s_rebuild(PGconn *db, redisContext *redis, const char *queue)
{
    PGresult *pending = store_deregistrations_pending(db);
    if (!pending) {
        log_warn("cannot read pending deregistrations", "error=\"%s\"", PQerrorMessage(db));
        return;
    }
    int added = 0;
    for (int i = 0; i < PQntuples(pending); i++) {
        char job[64];
        snprintf(job, sizeof job, "deregister:%s", PQgetvalue(pending, i, 0));
        added += schedule_add_missing(redis, queue, job,
                                      strtoll(PQgetvalue(pending, i, 1), NULL, 10)) == 1;
    }
    PQclear(pending);

    PGresult *annual = store_annual_checks_due(db);
    if (!annual) {
        log_warn("cannot read the annual checks due", "error=\"%s\"", PQerrorMessage(db));
        return;
    }
    for (int i = 0; i < PQntuples(annual); i++) {
        char job[64];
        snprintf(job, sizeof job, "annual:%s:%s", PQgetvalue(annual, i, 0),
                 PQgetvalue(annual, i, 1));
        added += schedule_add_missing(redis, queue, job,
                                      strtoll(PQgetvalue(annual, i, 2), NULL, 10)) == 1;
    }
    PQclear(annual);
    if (added)
        log_info("scheduled jobs restored from the database", "jobs=%d", added);
}

/* Decides one deregistration whose notice has ended. */
static int s_deregister(PGconn *db, const char *credit_code)
{
    store_deregistration_t row;
    store_entity_ref_t ref;
    int decided = store_deregistration_decide(db, credit_code, &row);
    if (decided <= 0)
        return decided;
    if (store_entity_ref(db, credit_code, false, &ref) != 1)
        return -1;
    Chuang__Registry__Deregistration message = CHUANG__REGISTRY__DEREGISTRATION__INIT;
    message.credit_code = row.credit_code;
    message.status = row.status;
    message.applied_at_ms = row.applied_at_ms;
    message.notice_ends_at_ms = row.notice_ends_at_ms;
    message.decided_at_ms = row.decided_at_ms;
    message.objections = row.objections;
    outbox_event_t event = {
        .agency = ref.agency,
        .type = streq(row.status, "deregistered") ? "registry.Deregistered"
                                                  : "registry.DeregistrationRejected",
        .aggregate_id = credit_code,
        .visibility = CHUANG__VISIBILITY__VISIBILITY_PUBLIC,
        .payload = &message.base,
    };
    log_info("deregistration decided", "credit_code=%s status=%s objections=%d", credit_code,
             row.status, row.objections);
    return outbox_write(db, &event);
}

/* Lists agency's entities without the report of year, chunk by chunk,
 * each in its own transaction, for at most budget_ms. Returns 0 when the
 * check is done, 1 when more is left for the next run, -1 on error. */
static int s_annual_check(PGconn *db, const char *agency, int year, int64_t budget_ms)
{
    int done = store_annual_check_done(db, agency, year);
    if (done != 0)
        return done < 0 ? -1 : 0;
    int64_t end = zclock_mono() + budget_ms;
    int listed = 0;
    for (int rows = CHUNK; rows == CHUNK;) {
        if (zclock_mono() >= end) {
            log_info("annual report check goes on next time", "agency=%s year=%d listed=%d", agency,
                     year, listed);
            return 1;
        }
        if (db_exec(db, "begin annual chunk", "BEGIN") != 0)
            return -1;
        PGresult *chunk = store_annual_check_chunk(db, agency, year, CHUNK);
        int rc = chunk ? 0 : -1;
        rows = chunk ? PQntuples(chunk) : 0;
        for (int i = 0; i < rows && rc == 0; i++) {
            Chuang__Registry__Listing listing = CHUANG__REGISTRY__LISTING__INIT;
            listing.credit_code = PQgetvalue(chunk, i, 0);
            listing.id = strtoll(PQgetvalue(chunk, i, 1), NULL, 10);
            listing.listed_at_ms = strtoll(PQgetvalue(chunk, i, 2), NULL, 10);
            listing.reason = PQgetvalue(chunk, i, 3);
            listing.list = "abnormal";
            listing.authority = "registry";
            outbox_event_t event = {
                .agency = agency,
                .type = "registry.ListedAbnormal",
                .aggregate_id = listing.credit_code,
                .visibility = CHUANG__VISIBILITY__VISIBILITY_PUBLIC,
                .payload = &listing.base,
            };
            rc = outbox_write(db, &event);
        }
        PQclear(chunk);
        if (rows < CHUNK && rc == 0)
            rc = store_annual_check_finish(db, agency, year);
        if (rc != 0 || db_exec(db, "commit annual chunk", "COMMIT") != 0) {
            PQclear(PQexec(db, "ROLLBACK"));
            return -1;
        }
        listed += rows;
    }
    log_info("annual report check done", "agency=%s year=%d listed=%d", agency, year, listed);
    return 0;
}

/* Runs one job. Returns 0 when it is done (or had nothing left to do), 1
 * when it should go on at once, -1 when it should run again after its
 * lease. */
static int s_run(PGconn *db, const char *job)
{
    char agency[32];
    int year = 0;
    if (strncmp(job, "annual:", 7) == 0) {
        if (sscanf(job + 7, "%31[^:]:%d", agency, &year) != 2) {
            log_warn("malformed job dropped", "job=%s", job);
            return 0;
        }
        int rc = s_annual_check(db, agency, year, LEASE_MS / 2);
        if (rc < 0)
            log_warn("job failed; it will run again", "job=%s error=\"%s\"", job,
                     PQerrorMessage(db));
        return rc;
    }
    if (strncmp(job, "deregister:", 11) != 0) {
        log_warn("unknown job dropped", "job=%s", job);
        return 0;
    }
    if (db_exec(db, "begin job", "BEGIN") != 0)
        return -1;
    if (s_deregister(db, job + 11) >= 0 && db_exec(db, "commit job", "COMMIT") == 0)
        return 0;
    log_warn("job failed; it will run again", "job=%s error=\"%s\"", job, PQerrorMessage(db));
    PQclear(PQexec(db, "ROLLBACK"));
    return -1;
}

bool registry_tick(service_tick_t *tick)
{
    PGconn *db = service_tick_db(tick);
    redisContext *redis = service_tick_redis(tick);
    if (!redis)
        return false;
    char queue[256];
    service_tick_key(tick, "due", queue, sizeof queue);
    if (zclock_mono() - s_rebuilt_at >= REBUILD_MS) {
        s_rebuild(db, redis, queue);
        s_rebuilt_at = zclock_mono();
    }
    schedule_job_t *jobs = NULL;
    int claimed = schedule_claim_due(redis, queue, zclock_time(), LEASE_MS, CLAIM_MAX, &jobs);
    for (int i = 0; i < claimed; i++) {
        int rc = s_run(db, jobs[i].job);
        if (rc >= 0) {
            /* Done, or (1) more of it to run at once. */
            const char *job = jobs[i].job;
            int64_t next = rc == 1 ? zclock_time() : 0;
            schedule_done_many(redis, queue, &job, &jobs[i].lease, &next, 1);
        }
    }
    schedule_jobs_free(jobs);
    if (claimed > 0) {
        /* The jobs' events are published now rather than at the relay's
         * next round of its own. */
        char stream[256];
        event_stream_wake(redis, service_tick_key(tick, "events", stream, sizeof stream));
    }
    return claimed == CLAIM_MAX;
}
