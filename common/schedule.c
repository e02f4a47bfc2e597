/*
 * schedule.c - the due-time queue in Redis; see schedule.h.
 *
 * Adding and removing are single sorted-set commands (ZADD, ZADD NX, ZREM).
 * Claiming and finishing read and then write, so each runs as one Lua script,
 * which Redis executes with no other command in between: a claim's
 * ZRANGEBYSCORE and the ZADD XX that moves each job it found to the lease
 * end cannot interleave with another replica's claim, and done's ZSCORE check
 * and ZREM cannot interleave with a reschedule. Scripts are sent by SHA-1
 * (EVALSHA); when Redis does not have them cached (NOSCRIPT: first use, a
 * restart, SCRIPT FLUSH) they are sent in full with EVAL, which caches them.
 * Every argument goes through redisCommandArgv with its length, so ids and
 * queue names are never parsed as part of a command format.
 */
#include "schedule.h"
#include "logger.h"

#include <ctype.h>
#include <czmq.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Scores are doubles: integers beyond this lose precision. */
#define SCHEDULE_TIME_LIMIT (INT64_C(1) << 53)

/* KEYS[1] queue; ARGV[1] now, ARGV[2] lease end, ARGV[3] max. Returns the
 * ids claimed, earliest first. */
static const char s_claim_script[] =
    "local jobs = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])\n"
    "for _, job in ipairs(jobs) do\n"
    "    redis.call('ZADD', KEYS[1], 'XX', ARGV[2], job)\n"
    "end\n"
    "return jobs\n";

/* KEYS[1] queue; ARGV a (job, lease end, next time) triple per job: a job
 * whose time is still its lease end is removed, or moved to its next time
 * when that is above 0. Returns how many were. */
static const char s_done_script[] =
    "local ended = 0\n"
    "for i = 1, #ARGV, 3 do\n"
    "    local score = redis.call('ZSCORE', KEYS[1], ARGV[i])\n"
    "    if score and tonumber(score) == tonumber(ARGV[i + 1]) then\n"
    "        if tonumber(ARGV[i + 2]) > 0 then\n"
    "            redis.call('ZADD', KEYS[1], 'XX', ARGV[i + 2], ARGV[i])\n"
    "        else\n"
    "            redis.call('ZREM', KEYS[1], ARGV[i])\n"
    "        end\n"
    "        ended = ended + 1\n"
    "    end\n"
    "end\n"
    "return ended\n";

typedef struct {
    const char *name; /* for the log */
    const char *text;
    char sha[41]; /* lower-case hex; empty if no SHA-1 was available */
} script_t;

static script_t s_claim = {"claim", s_claim_script, ""};
static script_t s_done = {"done", s_done_script, ""};
static pthread_once_t s_sha_once = PTHREAD_ONCE_INIT;

static void s_sha_one(script_t *script)
{
    zdigest_t *digest = zdigest_new();
    if (!digest)
        return;
    zdigest_update(digest, (const byte *)script->text, strlen(script->text));
    const char *hex = zdigest_string(digest);
    if (hex && strlen(hex) == 40) {
        for (int i = 0; i < 40; i++)
            script->sha[i] = (char)tolower((unsigned char)hex[i]);
        script->sha[40] = '\0';
    }
    zdigest_destroy(&digest);
}

static void s_sha_init(void)
{
    s_sha_one(&s_claim);
    s_sha_one(&s_done);
}

/* Logs a failure of what on queue with detail. */
static void s_log_error(const char *what, const char *queue, const char *detail)
{
    char quoted_queue[256], quoted_detail[256];
    log_error("schedule failed", "what=%s queue=%s error=%s", what,
              logger_quote(quoted_queue, sizeof quoted_queue, queue),
              logger_quote(quoted_detail, sizeof quoted_detail, detail));
}

/* Checks the connection and the queue every call takes, and job unless
 * has_job is false. Returns 0 or -1 (logged). */
static int s_check(redisContext *redis, const char *what, const char *queue, bool has_job,
                   const char *job)
{
    if (!queue || (has_job && !job)) {
        s_log_error(what, queue, "queue or job is NULL");
        return -1;
    }
    if (!redis || redis->err) {
        s_log_error(what, queue, redis ? redis->errstr : "no redis connection");
        return -1;
    }
    return 0;
}

static bool s_time_ok(int64_t ms)
{
    return ms >= -SCHEDULE_TIME_LIMIT && ms <= SCHEDULE_TIME_LIMIT;
}

/* Returns reply, the answer to a command on redis, or NULL after logging
 * an I/O failure (reply NULL) or an error reply (freed). */
static redisReply *s_checked(redisContext *redis, const char *what, const char *queue,
                             redisReply *reply)
{
    if (!reply) {
        s_log_error(what, queue, redis->errstr[0] ? redis->errstr : "no reply");
        return NULL;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        s_log_error(what, queue, reply->str);
        freeReplyObject(reply);
        return NULL;
    }
    return reply;
}

/* Sends the command in argv and returns its reply, or NULL (logged). The
 * caller frees the reply. */
static redisReply *s_command(redisContext *redis, const char *what, const char *queue, int argc,
                             const char **argv, const size_t *lengths)
{
    return s_checked(redis, what, queue, redisCommandArgv(redis, argc, argv, lengths));
}

/* Runs script on queue with the nargs strings in args: by SHA-1, then in
 * full if Redis has not cached it. Returns its reply or NULL (logged); the
 * caller frees the reply. */
static redisReply *s_eval(redisContext *redis, script_t *script, const char *queue, size_t nargs,
                          const char *const *args)
{
    pthread_once(&s_sha_once, s_sha_init);
    size_t argc = 4 + nargs;
    const char **argv = calloc(argc, sizeof *argv);
    size_t *lengths = calloc(argc, sizeof *lengths);
    redisReply *reply = NULL;
    if (!argv || !lengths) {
        s_log_error(script->name, queue, "out of memory");
        goto done;
    }
    argv[0] = "EVALSHA";
    argv[1] = script->sha;
    argv[2] = "1";
    argv[3] = queue;
    for (size_t i = 0; i < nargs; i++)
        argv[4 + i] = args[i];
    for (size_t i = 0; i < argc; i++)
        lengths[i] = strlen(argv[i]);
    if (script->sha[0]) {
        reply = redisCommandArgv(redis, (int)argc, argv, lengths);
        bool uncached =
            reply && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) == 0;
        if (!uncached) {
            reply = s_checked(redis, script->name, queue, reply);
            goto done;
        }
        freeReplyObject(reply);
    }
    argv[0] = "EVAL";
    lengths[0] = 4;
    argv[1] = script->text;
    lengths[1] = strlen(script->text);
    reply = s_command(redis, script->name, queue, (int)argc, argv, lengths);
done:
    free(argv);
    free(lengths);
    return reply;
}

/* Returns an integer reply's value, or -1 after logging another type. The
 * reply is freed. */
static long long s_integer(redisReply *reply, const char *what, const char *queue)
{
    if (!reply)
        return -1;
    long long value = -1;
    if (reply->type == REDIS_REPLY_INTEGER)
        value = reply->integer;
    else
        s_log_error(what, queue, "reply is not an integer");
    freeReplyObject(reply);
    return value;
}

static int s_zadd(redisContext *redis, const char *what, const char *queue, const char *job,
                  int64_t due_ms, bool only_new)
{
    if (s_check(redis, what, queue, true, job) != 0)
        return -1;
    if (!s_time_ok(due_ms)) {
        s_log_error(what, queue, "due time out of range");
        return -1;
    }
    char due[24];
    snprintf(due, sizeof due, "%" PRId64, due_ms);
    const char *argv[5] = {"ZADD", queue};
    size_t lengths[5] = {4, strlen(queue)};
    int argc = 2;
    if (only_new) {
        argv[argc] = "NX";
        lengths[argc++] = 2;
    }
    argv[argc] = due;
    lengths[argc++] = strlen(due);
    argv[argc] = job;
    lengths[argc++] = strlen(job);
    long long added = s_integer(s_command(redis, what, queue, argc, argv, lengths), what, queue);
    return added < 0 ? -1 : (int)added;
}

int schedule_add(redisContext *redis, const char *queue, const char *job, int64_t due_ms)
{
    return s_zadd(redis, "add", queue, job, due_ms, false) < 0 ? -1 : 0;
}

int schedule_add_missing(redisContext *redis, const char *queue, const char *job, int64_t due_ms)
{
    return s_zadd(redis, "add_missing", queue, job, due_ms, true);
}

int schedule_add_missing_many(redisContext *redis, const char *queue, const char *const *jobs,
                              const int64_t *dues_ms, size_t count)
{
    if (count == 0)
        return 0;
    if (s_check(redis, "add_missing", queue, true, jobs[0]) != 0)
        return -1;
    size_t argc = 3 + 2 * count;
    const char **argv = calloc(argc, sizeof *argv);
    size_t *lengths = calloc(argc, sizeof *lengths);
    char(*dues)[24] = calloc(count, sizeof *dues);
    long long added = -1;
    if (argv && lengths && dues) {
        argv[0] = "ZADD";
        argv[1] = queue;
        argv[2] = "NX";
        bool ok = true;
        for (size_t i = 0; i < count && ok; i++) {
            ok = jobs[i] && s_time_ok(dues_ms[i]);
            snprintf(dues[i], sizeof dues[i], "%" PRId64, dues_ms[i]);
            argv[3 + 2 * i] = dues[i];
            argv[4 + 2 * i] = jobs[i] ? jobs[i] : "";
        }
        for (size_t i = 0; i < argc; i++)
            lengths[i] = strlen(argv[i]);
        if (ok)
            added = s_integer(s_command(redis, "add_missing", queue, (int)argc, argv, lengths),
                              "add_missing", queue);
        else
            s_log_error("add_missing", queue, "a job is missing or its due time out of range");
    }
    free(argv);
    free(lengths);
    free(dues);
    return added < 0 ? -1 : (int)added;
}

int schedule_remove(redisContext *redis, const char *queue, const char *job)
{
    if (s_check(redis, "remove", queue, true, job) != 0)
        return -1;
    const char *argv[3] = {"ZREM", queue, job};
    size_t lengths[3] = {4, strlen(queue), strlen(job)};
    long long removed =
        s_integer(s_command(redis, "remove", queue, 3, argv, lengths), "remove", queue);
    return removed < 0 ? -1 : (int)removed;
}

void schedule_jobs_free(schedule_job_t *jobs)
{
    if (!jobs)
        return;
    for (schedule_job_t *entry = jobs; entry->job; entry++)
        free(entry->job);
    free(jobs);
}

int schedule_claim_due(redisContext *redis, const char *queue, int64_t now_ms, int64_t lease_ms,
                       int max, schedule_job_t **jobs)
{
    if (!jobs) {
        s_log_error("claim", queue, "jobs is NULL");
        return -1;
    }
    *jobs = NULL;
    if (s_check(redis, "claim", queue, false, NULL) != 0)
        return -1;
    if (max < 1 || lease_ms < 1 || !s_time_ok(now_ms) || lease_ms > SCHEDULE_TIME_LIMIT ||
        !s_time_ok(now_ms + lease_ms)) {
        s_log_error("claim", queue, "max, lease or time out of range");
        return -1;
    }
    int64_t lease = now_ms + lease_ms;
    char now_text[24], lease_text[24], max_text[16];
    snprintf(now_text, sizeof now_text, "%" PRId64, now_ms);
    snprintf(lease_text, sizeof lease_text, "%" PRId64, lease);
    snprintf(max_text, sizeof max_text, "%d", max);
    const char *args[3] = {now_text, lease_text, max_text};
    redisReply *reply = s_eval(redis, &s_claim, queue, 3, args);
    if (!reply)
        return -1;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements > (size_t)max) {
        s_log_error("claim", queue, "reply is not a list of at most max jobs");
        freeReplyObject(reply);
        return -1;
    }
    schedule_job_t *claimed = calloc(reply->elements + 1, sizeof *claimed);
    size_t count = 0;
    for (; claimed && count < reply->elements; count++) {
        redisReply *element = reply->element[count];
        if (element->type != REDIS_REPLY_STRING) {
            s_log_error("claim", queue, "job in reply is not a string");
            break;
        }
        claimed[count].job = malloc(element->len + 1);
        if (!claimed[count].job) {
            s_log_error("claim", queue, "out of memory");
            break;
        }
        memcpy(claimed[count].job, element->str, element->len);
        claimed[count].job[element->len] = '\0';
        claimed[count].lease = lease;
    }
    bool complete = claimed && count == reply->elements;
    if (!claimed)
        s_log_error("claim", queue, "out of memory");
    freeReplyObject(reply);
    if (!complete) {
        schedule_jobs_free(claimed);
        return -1;
    }
    *jobs = claimed;
    return (int)count;
}

int schedule_done(redisContext *redis, const char *queue, const char *job, int64_t lease)
{
    int64_t never = 0;
    return schedule_done_many(redis, queue, &job, &lease, &never, 1);
}

int schedule_done_many(redisContext *redis, const char *queue, const char *const *jobs,
                       const int64_t *leases, const int64_t *next_ms, size_t count)
{
    if (count == 0)
        return 0;
    if (s_check(redis, "done", queue, true, jobs[0]) != 0)
        return -1;
    const char **args = calloc(3 * count, sizeof *args);
    char(*numbers)[24] = calloc(2 * count, sizeof *numbers);
    long long ended = -1;
    if (!args || !numbers) {
        s_log_error("done", queue, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < count; i++) {
        if (!jobs[i] || !s_time_ok(leases[i]) || !s_time_ok(next_ms[i])) {
            s_log_error("done", queue, "a job is missing or its lease or next time out of range");
            goto done;
        }
        snprintf(numbers[2 * i], sizeof numbers[0], "%" PRId64, leases[i]);
        snprintf(numbers[2 * i + 1], sizeof numbers[0], "%" PRId64, next_ms[i]);
        args[3 * i] = jobs[i];
        args[3 * i + 1] = numbers[2 * i];
        args[3 * i + 2] = numbers[2 * i + 1];
    }
    ended = s_integer(s_eval(redis, &s_done, queue, 3 * count, args), "done", queue);
done:
    free(args);
    free(numbers);
    return ended < 0 ? -1 : (int)ended;
}
