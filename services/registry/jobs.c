/*
 * jobs.c - the registry's scheduled work: deciding simplified deregistrations
 * when their public notice ends, and listing as abnormal the entities that
 * have not filed an annual report by the deadline.
 *
 * Jobs wait in a Redis due-time queue (common/schedule): "deregister:<credit
 * code>" due when the notice ends, "annual:<year>" due at that year's filing
 * deadline. PostgreSQL stays the record, and the tables are where jobs come
 * from: every REBUILD_MS the tick adds whatever job is missing (a new
 * application, a restarted or emptied Redis (a restarted or emptied Redis, a job
 * lost with a crashed replica), never moving one already there. A claimed
 * job is leased, so a replica that dies with it in hand leaves it to another
 * when the lease ends; each job checks the state it acts on inside its own
 * transaction, so running it twice changes nothing.
 */
#include "jobs.h"
#include "db.h"
#include "logger.h"
#include "outbox.h"
#include "schedule.h"
#include "store.h"

#include <czmq.h>
#include <time.h>

#define REBUILD_MS 10000
#define LEASE_MS   60000
#define CLAIM_MAX  32

/* When the tables were last read for missing jobs (zclock_mono ms). Only
 * the tick, on the main thread, touches it. */
static int64_t s_rebuilt_at = INT64_MIN / 2;

static int s_current_year(void)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    return tm.tm_year + 1900;
}

/* Milliseconds since the epoch of 1 January of year, 00:00 UTC. */
static int64_t s_year_start_ms(int year)
{
    struct tm tm = {.tm_year = year - 1900, .tm_mday = 1};
    return (int64_t)timegm(&tm) * 1000;
}

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

    int year = s_current_year() - 1;
    long long due_seconds = 0;
    if (store_annual_check_done(db, year) == 0 &&
        store_rule(db, "", "annual_report_due_seconds", &due_seconds) == 1) {
        char job[32];
        snprintf(job, sizeof job, "annual:%d", year);
        added += schedule_add_missing(redis, queue, job,
                                      s_year_start_ms(year + 1) + due_seconds * 1000) == 1;
    }
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

/* Lists the entities without the report of year, once. */
static int s_annual_check(PGconn *db, int year)
{
    int done = store_annual_check_done(db, year);
    if (done != 0)
        return done < 0 ? -1 : 0;
    PGresult *listed = store_annual_check(db, year);
    if (!listed)
        return -1;
    int rc = 0;
    for (int i = 0; i < PQntuples(listed) && rc == 0; i++) {
        Chuang__Registry__Listing listing = CHUANG__REGISTRY__LISTING__INIT;
        listing.credit_code = PQgetvalue(listed, i, 0);
        listing.id = strtoll(PQgetvalue(listed, i, 2), NULL, 10);
        listing.listed_at_ms = strtoll(PQgetvalue(listed, i, 3), NULL, 10);
        listing.reason = PQgetvalue(listed, i, 4);
        listing.list = "abnormal";
        listing.authority = "registry";
        outbox_event_t event = {
            .agency = PQgetvalue(listed, i, 1),
            .type = "registry.ListedAbnormal",
            .aggregate_id = listing.credit_code,
            .visibility = CHUANG__VISIBILITY__VISIBILITY_PUBLIC,
            .payload = &listing.base,
        };
        rc = outbox_write(db, &event);
    }
    log_info("annual report check done", "year=%d listed=%d", year, PQntuples(listed));
    PQclear(listed);
    return rc;
}

/* Runs one job in its own transaction. Returns 0 when it is done (or had
 * nothing left to do), -1 when it should run again. */
static int s_run(PGconn *db, const char *job)
{
    if (db_exec(db, "begin job", "BEGIN") != 0)
        return -1;
    int rc = -1;
    if (strncmp(job, "deregister:", 11) == 0) {
        rc = s_deregister(db, job + 11) < 0 ? -1 : 0;
    } else if (strncmp(job, "annual:", 7) == 0) {
        rc = s_annual_check(db, atoi(job + 7));
    } else {
        log_warn("unknown job dropped", "job=%s", job);
        rc = 0;
    }
    if (rc == 0 && db_exec(db, "commit job", "COMMIT") == 0)
        return 0;
    log_warn("job failed; it will run again", "job=%s error=\"%s\"", job, PQerrorMessage(db));
    PGresult *res = PQexec(db, "ROLLBACK");
    PQclear(res);
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
    for (int i = 0; i < claimed; i++)
        if (s_run(db, jobs[i].job) == 0)
            schedule_done(redis, queue, jobs[i].job, jobs[i].lease);
    schedule_jobs_free(jobs);
    return claimed == CLAIM_MAX;
}
