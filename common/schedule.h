/*
 * schedule.h - a due-time queue in Redis for a service's scheduled work.
 *
 * A queue is one Redis sorted set under a key the caller names (e.g.
 * "chuang:330106:registry:due"): each member is a job id (e.g.
 * "deregister:91330106MA2H..."), its score the time the job falls due, in
 * milliseconds since the epoch (UTC). PostgreSQL stays the record of what
 * is to be done: a service re-adds its jobs from its tables at start-up with
 * schedule_add_missing, so a lost Redis only delays jobs until then.
 *
 * Several replicas may work one queue. schedule_claim_due hands each due job
 * to one of them under a lease: the job's time is moved to the end of the
 * lease, so no other replica claims it meanwhile, and if the claimer dies the
 * job falls due again when the lease ends and another replica runs it. After
 * its work has committed the claimer calls schedule_done with the lease it
 * got, which removes the job unless it was rescheduled (schedule_add) or
 * claimed again since. The work must therefore be safe to run twice (e.g.
 * check the row's state in the transaction that acts on it): a claimer that
 * outlives its lease may run alongside the next one.
 *
 * Job ids and queue names are any NUL-terminated byte strings; they are sent
 * as binary-safe arguments. Times must lie within +-2^53 ms, where the
 * double a sorted set's score holds is exact. Replicas' clocks should agree
 * (NTP): a claimer's now_ms decides what is due.
 *
 * Every function takes the caller's connection and returns -1 when it is
 * NULL or broken, or when Redis answers with an error or a reply of the
 * wrong type (logged); after an I/O error (redis->err set) the caller
 * reconnects with redis_link_reset. Functions are safe to call from several
 * threads, each with its own connection.
 */
#ifndef CHUANG_SCHEDULE_H
#define CHUANG_SCHEDULE_H

#include <hiredis/hiredis.h>
#include <stdint.h>

/* A job handed out by schedule_claim_due. */
typedef struct {
    char *job;     /* the job id; NULL in the entry that ends the array */
    int64_t lease; /* the time the claim moved the job to: for schedule_done */
} schedule_job_t;

/* Schedules job in queue at due_ms, or moves it there if it is already in
 * the queue (claimed or not). Returns 0 or -1. */
int schedule_add(redisContext *redis, const char *queue, const char *job, int64_t due_ms);

/* Schedules job at due_ms only if it is not in the queue yet; a job already
 * there keeps its time. For rebuilding the queue from the database.
 * Returns 1 when added, 0 when it was there already, or -1. */
int schedule_add_missing(redisContext *redis, const char *queue, const char *job, int64_t due_ms);

/* schedule_add_missing for count jobs (each at its dues_ms) in one
 * command. Returns how many were added, or -1. */
int schedule_add_missing_many(redisContext *redis, const char *queue, const char *const *jobs,
                              const int64_t *dues_ms, size_t count);

/* Removes job from queue whatever its time (a job no longer needed).
 * Returns 1 when removed, 0 when it was not there, or -1. */
int schedule_remove(redisContext *redis, const char *queue, const char *job);

/* Atomically claims up to max (>= 1) jobs due at now_ms (time <= now_ms),
 * earliest first, leasing each for lease_ms (>= 1): its time becomes
 * now_ms + lease_ms, returned in each entry's lease. Returns how many were
 * claimed (0 when none is due), with *jobs an array of that many entries
 * plus one whose job is NULL; the caller owns it (schedule_jobs_free).
 * Returns -1 with *jobs NULL on error; jobs claimed before an allocation
 * failure fall due again when their lease ends. */
int schedule_claim_due(redisContext *redis, const char *queue, int64_t now_ms, int64_t lease_ms,
                       int max, schedule_job_t **jobs);

/* Removes a claimed job once its work has committed, only if its time is
 * still lease (the value schedule_claim_due returned with it): a job that
 * was rescheduled or claimed again since stays. Returns 1 when removed, 0
 * when kept or already gone, or -1. */
int schedule_done(redisContext *redis, const char *queue, const char *job, int64_t lease);

/* schedule_done for count claimed jobs in one round trip, each with its
 * lease; a job whose next_ms is above 0 is moved to that time instead of
 * removed (a retry), still only if its time is its lease. Returns how many
 * were removed or moved, or -1. */
int schedule_done_many(redisContext *redis, const char *queue, const char *const *jobs,
                       const int64_t *leases, const int64_t *next_ms, size_t count);

/* Frees an array from schedule_claim_due and its job ids; NULL is allowed. */
void schedule_jobs_free(schedule_job_t *jobs);

#endif
