/*
 * service_jobs.c - the runner of a service's scheduled jobs; see
 * service_job_t in service.h for what it promises.
 *
 * It runs on the main thread, from the tick. Jobs wait in one Redis
 * due-time queue per service (schedule.h), named "<kind>:<key>". The
 * service's tables are where jobs come from: every RESTORE_MS each kind's
 * pending() is read and whatever job is missing from the queue is added at
 * its due time, never moving one already there (another replica may hold
 * it under a lease). A claimed job keeps its lease until it is ended with
 * schedule_done_many: removed when done, moved to now when more is left,
 * left to fall due when its lease ends after a failure. A job whose kind
 * the service no longer has is dropped with a warning.
 */
#include "db.h"
#include "event_stream.h"
#include "logger.h"
#include "schedule.h"
#include "service_private.h"

#include <czmq.h>

#define RESTORE_MS 10000
#define LEASE_MS   60000
#define CLAIM_MAX  32

/* Adds each kind's pending jobs that the queue lacks. */
static void s_restore(const service_job_t *kinds, PGconn *db, redisContext *redis,
                      const char *queue)
{
    int added = 0;
    for (const service_job_t *kind = kinds; kind->kind; kind++) {
        PGresult *pending = kind->pending(db);
        if (!pending) {
            log_warn("cannot read the jobs pending", "kind=%s error=\"%s\"", kind->kind,
                     PQerrorMessage(db));
            continue;
        }
        int rows = PQntuples(pending);
        char **jobs = calloc((size_t)rows + 1, sizeof *jobs);
        int64_t *dues = calloc((size_t)rows + 1, sizeof *dues);
        for (int i = 0; jobs && dues && i < rows; i++) {
            jobs[i] = zsys_sprintf("%s:%s", kind->kind, PQgetvalue(pending, i, 0));
            dues[i] = strtoll(PQgetvalue(pending, i, 1), NULL, 10);
        }
        if (jobs && dues) {
            int n = schedule_add_missing_many(redis, queue, (const char *const *)jobs, dues,
                                              (size_t)rows);
            added += n > 0 ? n : 0;
        }
        for (int i = 0; jobs && i < rows; i++)
            zstr_free(&jobs[i]);
        free(jobs);
        free(dues);
        PQclear(pending);
    }
    if (added)
        log_info("scheduled jobs restored from the database", "jobs=%d", added);
}

/* Runs job (its kind among kinds) on db. Returns as service_job_t's run;
 * an unknown or malformed job is done. */
static int s_run(const service_job_t *kinds, PGconn *db, const char *job)
{
    const char *colon = strchr(job, ':');
    const service_job_t *kind = kinds;
    while (colon && kind->kind &&
           (strlen(kind->kind) != (size_t)(colon - job) ||
            strncmp(kind->kind, job, (size_t)(colon - job)) != 0))
        kind++;
    if (!colon || !kind->kind) {
        char quoted[256];
        log_warn("unknown job dropped", "job=%s", logger_quote(quoted, sizeof quoted, job));
        return 0;
    }
    const char *key = colon + 1;
    if (kind->in_transaction && db_exec(db, "begin job", "BEGIN") != 0)
        return -1;
    int rc = kind->run(db, key, LEASE_MS / 2);
    if (kind->in_transaction) {
        if (rc >= 0 && db_exec(db, "commit job", "COMMIT") != 0)
            rc = -1;
        if (rc < 0)
            PQclear(PQexec(db, "ROLLBACK"));
    }
    if (rc < 0)
        log_warn("job failed; it will run again", "job=%s error=\"%s\"", job, PQerrorMessage(db));
    return rc;
}

bool service_jobs_tick(service_tick_t *tick)
{
    const service_job_t *kinds = tick->service->def->jobs;
    redisContext *redis = service_tick_redis(tick);
    if (!kinds || !kinds->kind || !redis)
        return false;
    PGconn *db = service_tick_db(tick);
    char queue[256];
    service_tick_key(tick, "due", queue, sizeof queue);
    if (tick->jobs_restored_at == 0 || zclock_mono() - tick->jobs_restored_at >= RESTORE_MS) {
        s_restore(kinds, db, redis, queue);
        tick->jobs_restored_at = zclock_mono();
    }
    schedule_job_t *jobs = NULL;
    int claimed = schedule_claim_due(redis, queue, zclock_time(), LEASE_MS, CLAIM_MAX, &jobs);
    const char *ended[CLAIM_MAX];
    int64_t leases[CLAIM_MAX], next[CLAIM_MAX];
    size_t count = 0;
    for (int i = 0; i < claimed; i++) {
        int rc = s_run(kinds, db, jobs[i].job);
        if (rc < 0)
            continue; /* its lease runs out and it is tried again */
        ended[count] = jobs[i].job;
        leases[count] = jobs[i].lease;
        next[count++] = rc == 1 ? zclock_time() : 0;
    }
    schedule_done_many(redis, queue, ended, leases, next, count);
    schedule_jobs_free(jobs);
    if (claimed > 0) {
        /* The jobs' events go out now, not at the relay's next round. */
        char stream[256];
        event_stream_wake(redis, service_tick_key(tick, "events", stream, sizeof stream));
    }
    return claimed == CLAIM_MAX;
}
