/*
 * test_schedule.c - the due-time queue against the harness's Redis: due jobs
 * claimed once, in due order, under a lease that hands them to another
 * claimer when the first dies; done that removes only the claim it was
 * given; rebuilding from the database after Redis lost the queue; replicas
 * claiming concurrently; binary-safe names; and -1, not a crash, for broken
 * connections and bad input.
 *
 * Every queue key holds this process's id and start time, so runs and other
 * tests sharing the Redis never see each other's jobs.
 */
#include "harness.h"
#include "redis_link.h"
#include "schedule.h"

#include <czmq.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

static char s_run[64]; /* unique to this run: part of every queue key */

static int s_setup(void **state)
{
    (void)state;
    snprintf(s_run, sizeof s_run, "%d-%" PRId64, (int)getpid(), zclock_time());
    return harness_init("schedule");
}

static redisContext *s_connect(void)
{
    redisContext *redis = redis_link_connect(harness_get("CHUANG_TEST_REDIS_URL"), 3);
    assert_non_null(redis);
    return redis;
}

/* Writes this run's key for the queue called name into key. */
static const char *s_queue(char *key, size_t size, const char *name)
{
    snprintf(key, size, "chuang:test:schedule:%s:%s", s_run, name);
    return key;
}

/* The job's time in queue, or -1 when it is not there. */
static int64_t s_score(redisContext *redis, const char *queue, const char *job)
{
    redisReply *reply = redisCommand(redis, "ZSCORE %b %b", queue, strlen(queue), job, strlen(job));
    assert_non_null(reply);
    assert_true(reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_NIL);
    int64_t score = reply->type == REDIS_REPLY_STRING ? (int64_t)strtod(reply->str, NULL) : -1;
    freeReplyObject(reply);
    return score;
}

static long long s_count(redisContext *redis, const char *queue)
{
    redisReply *reply = redisCommand(redis, "ZCARD %b", queue, strlen(queue));
    assert_non_null(reply);
    assert_int_equal(reply->type, REDIS_REPLY_INTEGER);
    long long count = reply->integer;
    freeReplyObject(reply);
    return count;
}

static void s_delete(redisContext *redis, const char *queue)
{
    redisReply *reply = redisCommand(redis, "DEL %b", queue, strlen(queue));
    assert_non_null(reply);
    freeReplyObject(reply);
}

static void test_due_jobs_are_claimed_in_order_under_a_lease(void **state)
{
    (void)state;
    redisContext *redis = s_connect();
    char queue[160];
    s_queue(queue, sizeof queue, "lease");
    int64_t now = zclock_time();
    assert_int_equal(schedule_add(redis, queue, "job-3", now - 1000), 0);
    assert_int_equal(schedule_add(redis, queue, "later", now + 60000), 0);
    assert_int_equal(schedule_add(redis, queue, "job-1", now - 3000), 0);
    assert_int_equal(schedule_add(redis, queue, "job-2", now - 2000), 0);

    schedule_job_t *jobs = NULL;
    assert_int_equal(schedule_claim_due(redis, queue, now, 200, 10, &jobs), 3);
    assert_non_null(jobs);
    const char *expected[] = {"job-1", "job-2", "job-3"};
    for (int i = 0; i < 3; i++) {
        assert_string_equal(jobs[i].job, expected[i]);
        assert_int_equal(jobs[i].lease, now + 200);
        assert_int_equal(s_score(redis, queue, expected[i]), now + 200);
    }
    assert_null(jobs[3].job);
    schedule_jobs_free(jobs);
    assert_int_equal(s_score(redis, queue, "later"), now + 60000);

    /* Leased: no one else gets them now. */
    assert_int_equal(schedule_claim_due(redis, queue, now, 200, 10, &jobs), 0);
    assert_non_null(jobs);
    assert_null(jobs[0].job);
    schedule_jobs_free(jobs);

    /* The claimer died: after the lease they are due again, for anyone. */
    zclock_sleep(300);
    redisContext *other = s_connect();
    int64_t later = zclock_time();
    assert_int_equal(schedule_claim_due(other, queue, later, 60000, 10, &jobs), 3);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(jobs[i].job, expected[i]);
        assert_int_equal(jobs[i].lease, later + 60000);
    }
    schedule_jobs_free(jobs);

    /* max bounds a claim. */
    for (int i = 0; i < 5; i++) {
        char job[16];
        snprintf(job, sizeof job, "more-%d", i);
        assert_int_equal(schedule_add(redis, queue, job, now - 5000 + i), 0);
    }
    assert_int_equal(schedule_claim_due(redis, queue, later, 60000, 2, &jobs), 2);
    assert_string_equal(jobs[0].job, "more-0");
    assert_string_equal(jobs[1].job, "more-1");
    schedule_jobs_free(jobs);

    s_delete(redis, queue);
    redisFree(other);
    redisFree(redis);
}

static void test_done_removes_only_the_claim_it_was_given(void **state)
{
    (void)state;
    redisContext *redis = s_connect();
    char queue[160];
    s_queue(queue, sizeof queue, "done");
    int64_t now = zclock_time();
    assert_int_equal(schedule_add(redis, queue, "finished", now - 2000), 0);
    assert_int_equal(schedule_add(redis, queue, "rescheduled", now - 1000), 0);
    schedule_job_t *jobs = NULL;
    assert_int_equal(schedule_claim_due(redis, queue, now, 60000, 10, &jobs), 2);
    assert_string_equal(jobs[0].job, "finished");
    assert_string_equal(jobs[1].job, "rescheduled");

    assert_int_equal(schedule_done(redis, queue, "finished", jobs[0].lease), 1);
    assert_int_equal(s_score(redis, queue, "finished"), -1);
    assert_int_equal(schedule_done(redis, queue, "finished", jobs[0].lease), 0);

    /* Moved to a new time while its work ran: the new time stays. */
    assert_int_equal(schedule_add(redis, queue, "rescheduled", now + 86400000), 0);
    assert_int_equal(schedule_done(redis, queue, "rescheduled", jobs[1].lease), 0);
    assert_int_equal(s_score(redis, queue, "rescheduled"), now + 86400000);
    schedule_jobs_free(jobs);

    /* A claimer that outlived its lease does not remove the next claim. */
    assert_int_equal(schedule_add(redis, queue, "slow", now - 1000), 0);
    schedule_job_t *first = NULL, *second = NULL;
    assert_int_equal(schedule_claim_due(redis, queue, now, 200, 10, &first), 1);
    zclock_sleep(300);
    assert_int_equal(schedule_claim_due(redis, queue, zclock_time(), 60000, 10, &second), 1);
    assert_string_equal(second[0].job, "slow");
    assert_int_equal(schedule_done(redis, queue, "slow", first[0].lease), 0);
    assert_int_equal(s_score(redis, queue, "slow"), second[0].lease);
    assert_int_equal(schedule_done(redis, queue, "slow", second[0].lease), 1);
    assert_int_equal(s_score(redis, queue, "slow"), -1);
    schedule_jobs_free(first);
    schedule_jobs_free(second);

    assert_int_equal(s_count(redis, queue), 1);
    s_delete(redis, queue);
    redisFree(redis);
}

static void test_done_many_ends_or_moves_each_claim_once(void **state)
{
    (void)state;
    redisContext *redis = s_connect();
    char queue[160];
    s_queue(queue, sizeof queue, "done-many");
    int64_t now = zclock_time();
    assert_int_equal(schedule_add(redis, queue, "sent", now - 3000), 0);
    assert_int_equal(schedule_add(redis, queue, "retry", now - 2000), 0);
    assert_int_equal(schedule_add(redis, queue, "moved", now - 1000), 0);
    schedule_job_t *jobs = NULL;
    assert_int_equal(schedule_claim_due(redis, queue, now, 60000, 10, &jobs), 3);
    /* Moved by someone else while its work ran: it keeps that time. */
    assert_int_equal(schedule_add(redis, queue, "moved", now + 86400000), 0);

    const char *ids[3] = {jobs[0].job, jobs[1].job, jobs[2].job};
    int64_t leases[3] = {jobs[0].lease, jobs[1].lease, jobs[2].lease};
    int64_t next[3] = {0, now + 5000, now + 7000};
    assert_int_equal(schedule_done_many(redis, queue, ids, leases, next, 3), 2);
    assert_int_equal(s_score(redis, queue, "sent"), -1);
    assert_int_equal(s_score(redis, queue, "retry"), now + 5000);
    assert_int_equal(s_score(redis, queue, "moved"), now + 86400000);
    /* The same leases again end nothing: the retry has a new time. */
    assert_int_equal(schedule_done_many(redis, queue, ids, leases, next, 3), 0);
    assert_int_equal(s_score(redis, queue, "retry"), now + 5000);
    assert_int_equal(schedule_done_many(redis, queue, ids, leases, next, 0), 0);
    schedule_jobs_free(jobs);

    /* A bad entry fails the call and ends none of the others. */
    assert_int_equal(schedule_claim_due(redis, queue, now + 6000, 60000, 10, &jobs), 1);
    const char *bad_ids[2] = {jobs[0].job, NULL};
    int64_t bad_leases[2] = {jobs[0].lease, jobs[0].lease};
    int64_t bad_next[2] = {0, 0};
    assert_int_equal(schedule_done_many(redis, queue, bad_ids, bad_leases, bad_next, 2), -1);
    assert_int_equal(s_score(redis, queue, "retry"), jobs[0].lease);
    bad_ids[1] = "retry";
    bad_next[1] = INT64_MAX;
    assert_int_equal(schedule_done_many(redis, queue, bad_ids, bad_leases, bad_next, 2), -1);
    assert_int_equal(s_score(redis, queue, "retry"), jobs[0].lease);
    schedule_jobs_free(jobs);

    s_delete(redis, queue);
    redisFree(redis);
}

static void test_add_missing_never_moves_a_job(void **state)
{
    (void)state;
    redisContext *redis = s_connect();
    char queue[160];
    s_queue(queue, sizeof queue, "missing");
    int64_t now = zclock_time();
    assert_int_equal(schedule_add(redis, queue, "there", now + 1000), 0);
    assert_int_equal(schedule_add_missing(redis, queue, "there", now + 5000), 0);
    assert_int_equal(s_score(redis, queue, "there"), now + 1000);
    assert_int_equal(schedule_add_missing(redis, queue, "missing", now + 7000), 1);
    assert_int_equal(s_score(redis, queue, "missing"), now + 7000);

    /* Many at once: only those not there yet are added, each at its time. */
    const char *jobs[3] = {"there", "second", "third"};
    int64_t dues[3] = {now + 9000, now + 2000, now + 3000};
    assert_int_equal(schedule_add_missing_many(redis, queue, jobs, dues, 3), 2);
    assert_int_equal(s_score(redis, queue, "there"), now + 1000);
    assert_int_equal(s_score(redis, queue, "second"), now + 2000);
    assert_int_equal(s_score(redis, queue, "third"), now + 3000);
    assert_int_equal(schedule_add_missing_many(redis, queue, jobs, dues, 0), 0);
    assert_int_equal(schedule_remove(redis, queue, "second"), 1);
    assert_int_equal(schedule_remove(redis, queue, "third"), 1);

    /* schedule_add does move it. */
    assert_int_equal(schedule_add(redis, queue, "there", now + 5000), 0);
    assert_int_equal(s_score(redis, queue, "there"), now + 5000);

    assert_int_equal(schedule_remove(redis, queue, "there"), 1);
    assert_int_equal(schedule_remove(redis, queue, "there"), 0);
    assert_int_equal(s_score(redis, queue, "there"), -1);
    assert_int_equal(s_count(redis, queue), 1);
    s_delete(redis, queue);
    redisFree(redis);
}

enum { REPLICA_JOBS = 100 };

typedef struct {
    const char *queue;
    int64_t now;
    zsock_t *start; /* both wait on it so that they claim together */
    int claimed;
    int failed;
    int seen[REPLICA_JOBS]; /* how often this replica claimed job i */
} replica_t;

static void *s_replica(void *args)
{
    replica_t *replica = args;
    redisContext *redis = redis_link_connect(harness_get("CHUANG_TEST_REDIS_URL"), 3);
    if (!redis) {
        replica->failed = 1;
        return NULL;
    }
    char *go = zstr_recv(replica->start);
    zstr_free(&go);
    for (;;) {
        schedule_job_t *jobs = NULL;
        int count = schedule_claim_due(redis, replica->queue, replica->now, 60000, 3, &jobs);
        if (count < 0)
            replica->failed = 1;
        for (int i = 0; i < count; i++) {
            int index = atoi(jobs[i].job + strlen("job-"));
            if (index >= 0 && index < REPLICA_JOBS)
                replica->seen[index]++;
            else
                replica->failed = 1;
        }
        replica->claimed += count > 0 ? count : 0;
        schedule_jobs_free(jobs);
        if (count <= 0)
            break;
    }
    redisFree(redis);
    return NULL;
}

static void test_replicas_never_claim_the_same_job(void **state)
{
    (void)state;
    redisContext *redis = s_connect();
    char queue[160];
    s_queue(queue, sizeof queue, "replicas");
    int64_t now = zclock_time();
    for (int i = 0; i < REPLICA_JOBS; i++) {
        char job[16];
        snprintf(job, sizeof job, "job-%d", i);
        assert_int_equal(schedule_add(redis, queue, job, now - 1000 - i % 7), 0);
    }

    zsock_t *start = zsock_new_pub("inproc://schedule-start");
    assert_non_null(start);
    enum { REPLICAS = 2 };
    replica_t replicas[REPLICAS];
    pthread_t threads[REPLICAS];
    for (int i = 0; i < REPLICAS; i++) {
        replicas[i] = (replica_t){.queue = queue, .now = now};
        replicas[i].start = zsock_new_sub("inproc://schedule-start", "");
        assert_non_null(replicas[i].start);
        pthread_create(&threads[i], NULL, s_replica, &replicas[i]);
    }
    zclock_sleep(200); /* subscriptions in place before the start signal */
    zstr_send(start, "go");
    int total = 0;
    for (int i = 0; i < REPLICAS; i++) {
        pthread_join(threads[i], NULL);
        zsock_destroy(&replicas[i].start);
        assert_int_equal(replicas[i].failed, 0);
        total += replicas[i].claimed;
    }
    zsock_destroy(&start);
    assert_int_equal(total, REPLICA_JOBS);
    for (int job = 0; job < REPLICA_JOBS; job++)
        assert_int_equal(replicas[0].seen[job] + replicas[1].seen[job], 1);
    fprintf(stderr, "replicas claimed %d and %d\n", replicas[0].claimed, replicas[1].claimed);
    s_delete(redis, queue);
    redisFree(redis);
}

static void test_a_lost_queue_is_rebuilt_from_the_database(void **state)
{
    (void)state;
    redisContext *redis = s_connect();
    char queue[160];
    s_queue(queue, sizeof queue, "rebuild");
    int64_t now = zclock_time();
    /* What the service's tables say is scheduled. */
    struct {
        const char *job;
        int64_t due;
    } database[] = {
        {"deregister:91330106MA2H000001", now - 3000},
        {"deregister:91330106MA2H000002", now - 2000},
        {"annual-report:2025", now + 3600000},
        {"deregister:91330106MA2H000003", now - 1000},
    };
    enum { ROWS = sizeof database / sizeof database[0] };
    for (int i = 0; i < ROWS; i++)
        assert_int_equal(schedule_add(redis, queue, database[i].job, database[i].due), 0);
    schedule_job_t *jobs = NULL;
    assert_int_equal(schedule_claim_due(redis, queue, now, 60000, 1, &jobs), 1);
    schedule_jobs_free(jobs);

    /* Redis lost everything. */
    s_delete(redis, queue);
    assert_int_equal(schedule_claim_due(redis, queue, now, 60000, 10, &jobs), 0);
    schedule_jobs_free(jobs);

    /* The service re-adds its jobs at start-up; a second replica doing the
     * same at the same time changes nothing. */
    for (int i = 0; i < ROWS; i++)
        assert_int_equal(schedule_add_missing(redis, queue, database[i].job, database[i].due), 1);
    for (int i = 0; i < ROWS; i++) {
        assert_int_equal(schedule_add_missing(redis, queue, database[i].job, now), 0);
        assert_int_equal(s_score(redis, queue, database[i].job), database[i].due);
    }
    assert_int_equal(schedule_claim_due(redis, queue, now, 60000, 10, &jobs), 3);
    assert_string_equal(jobs[0].job, database[0].job);
    assert_string_equal(jobs[1].job, database[1].job);
    assert_string_equal(jobs[2].job, database[3].job);
    schedule_jobs_free(jobs);
    s_delete(redis, queue);
    redisFree(redis);
}

static void test_names_are_binary_safe(void **state)
{
    (void)state;
    redisContext *redis = s_connect();
    char queue[200];
    snprintf(queue, sizeof queue, "chuang:test:schedule:%s:a queue %%s \"named\"\n", s_run);
    const char *names[] = {
        "with space",  "%s%n%d %b", "quote\"and\\back", "\xe6\xb3\xa8\xe9\x94\x80:91330106MA2H",
        "line\nbreak", "",
    };
    enum { NAMES = sizeof names / sizeof names[0] };
    int64_t now = zclock_time();
    for (int i = 0; i < NAMES; i++)
        assert_int_equal(schedule_add(redis, queue, names[i], now - 1000 + i), 0);
    schedule_job_t *jobs = NULL;
    assert_int_equal(schedule_claim_due(redis, queue, now, 60000, 10, &jobs), NAMES);
    for (int i = 0; i < NAMES; i++) {
        assert_string_equal(jobs[i].job, names[i]);
        assert_int_equal(schedule_done(redis, queue, jobs[i].job, jobs[i].lease), 1);
    }
    schedule_jobs_free(jobs);
    assert_int_equal(s_count(redis, queue), 0);
    redisFree(redis);
}

static void test_scripts_survive_a_script_flush(void **state)
{
    (void)state;
    redisContext *redis = s_connect();
    char queue[160];
    s_queue(queue, sizeof queue, "flush");
    int64_t now = zclock_time();
    assert_int_equal(schedule_add(redis, queue, "job", now - 1000), 0);
    /* As after a Redis restart: the cached scripts are gone (NOSCRIPT). */
    redisReply *reply = redisCommand(redis, "SCRIPT FLUSH");
    assert_non_null(reply);
    freeReplyObject(reply);
    schedule_job_t *jobs = NULL;
    assert_int_equal(schedule_claim_due(redis, queue, now, 60000, 10, &jobs), 1);
    reply = redisCommand(redis, "SCRIPT FLUSH");
    assert_non_null(reply);
    freeReplyObject(reply);
    assert_int_equal(schedule_done(redis, queue, "job", jobs[0].lease), 1);
    schedule_jobs_free(jobs);
    redisFree(redis);
}

/* Every call on redis fails with -1. */
static void s_all_fail(redisContext *redis, const char *queue)
{
    int64_t now = zclock_time();
    static schedule_job_t untouched;
    schedule_job_t *jobs = &untouched; /* a failed claim sets it to NULL */
    assert_int_equal(schedule_add(redis, queue, "job", now), -1);
    assert_int_equal(schedule_add_missing(redis, queue, "job", now), -1);
    assert_int_equal(schedule_remove(redis, queue, "job"), -1);
    assert_int_equal(schedule_claim_due(redis, queue, now, 1000, 10, &jobs), -1);
    assert_null(jobs);
    assert_int_equal(schedule_done(redis, queue, "job", now), -1);
}

static void test_broken_connections_and_bad_input_fail_cleanly(void **state)
{
    (void)state;
    const char *url = harness_get("CHUANG_TEST_REDIS_URL");
    char queue[160];
    s_queue(queue, sizeof queue, "broken");
    int64_t now = zclock_time();

    /* No connection: redis_link_connect to a closed port gave NULL. */
    redisContext *redis = s_connect();
    assert_int_equal(schedule_add(redis, queue, "job", now - 1000), 0);
    redisFree(redis);
    char closed[64];
    snprintf(closed, sizeof closed, "redis://127.0.0.1:%d/0", harness_free_port());
    redis = redis_link_connect(closed, 1);
    assert_null(redis);
    s_all_fail(NULL, queue);

    /* A context that failed to connect. */
    redisContext *refused = redisConnect("127.0.0.1", harness_free_port());
    assert_non_null(refused);
    assert_true(refused->err != 0);
    s_all_fail(refused, queue);
    redisFree(refused);

    /* The server dropped the connection (as in a restart): -1, then a reset
     * makes it usable again. */
    redis = s_connect();
    redisContext *killer = s_connect();
    redisReply *reply = redisCommand(redis, "CLIENT ID");
    assert_non_null(reply);
    assert_int_equal(reply->type, REDIS_REPLY_INTEGER);
    long long id = reply->integer;
    freeReplyObject(reply);
    reply = redisCommand(killer, "CLIENT KILL ID %lld", id);
    assert_non_null(reply);
    assert_int_equal(reply->integer, 1);
    freeReplyObject(reply);
    assert_int_equal(schedule_add(redis, queue, "job", now), -1);
    assert_true(redis->err != 0);
    s_all_fail(redis, queue);
    assert_int_equal(redis_link_reset(&redis, url, 3), 0);
    assert_int_equal(schedule_add_missing(redis, queue, "job", now), 0);

    /* The key holds something other than a queue. */
    char wrong[160];
    s_queue(wrong, sizeof wrong, "wrong-type");
    reply = redisCommand(redis, "SET %s not-a-queue", wrong);
    assert_non_null(reply);
    freeReplyObject(reply);
    s_all_fail(redis, wrong);
    s_delete(redis, wrong);

    /* Bad arguments. */
    schedule_job_t *jobs = NULL;
    assert_int_equal(schedule_claim_due(redis, queue, now, 1000, 0, &jobs), -1);
    assert_null(jobs);
    assert_int_equal(schedule_claim_due(redis, queue, now, 0, 10, &jobs), -1);
    assert_int_equal(schedule_claim_due(redis, queue, now, -5, 10, &jobs), -1);
    assert_int_equal(schedule_claim_due(redis, queue, INT64_MAX, 1000, 10, &jobs), -1);
    assert_int_equal(schedule_claim_due(redis, queue, now, INT64_MAX, 10, &jobs), -1);
    assert_int_equal(schedule_claim_due(redis, queue, now, 1000, 10, NULL), -1);
    assert_int_equal(schedule_claim_due(redis, NULL, now, 1000, 10, &jobs), -1);
    assert_int_equal(schedule_add(redis, NULL, "job", now), -1);
    assert_int_equal(schedule_add(redis, queue, NULL, now), -1);
    assert_int_equal(schedule_add(redis, queue, "job", INT64_MIN), -1);
    assert_int_equal(schedule_add_missing(redis, queue, NULL, now), -1);
    assert_int_equal(schedule_remove(redis, queue, NULL), -1);
    assert_int_equal(schedule_done(redis, queue, NULL, now), -1);
    assert_int_equal(schedule_done(redis, queue, "job", INT64_MAX), -1);
    schedule_jobs_free(NULL);

    /* Nothing of the above changed the queue; the connection still works. */
    assert_int_equal(s_score(redis, queue, "job"), now - 1000);
    assert_int_equal(schedule_remove(redis, queue, "job"), 1);
    redisFree(killer);
    redisFree(redis);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_due_jobs_are_claimed_in_order_under_a_lease),
        cmocka_unit_test(test_done_removes_only_the_claim_it_was_given),
        cmocka_unit_test(test_done_many_ends_or_moves_each_claim_once),
        cmocka_unit_test(test_add_missing_never_moves_a_job),
        cmocka_unit_test(test_replicas_never_claim_the_same_job),
        cmocka_unit_test(test_a_lost_queue_is_rebuilt_from_the_database),
        cmocka_unit_test(test_names_are_binary_safe),
        cmocka_unit_test(test_scripts_survive_a_script_flush),
        cmocka_unit_test(test_broken_connections_and_bad_input_fail_cleanly),
    };
    return cmocka_run_group_tests_name("schedule", tests, s_setup, NULL);
}
