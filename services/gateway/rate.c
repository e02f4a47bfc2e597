/*
 * rate.c - requests per caller address and second, counted in Redis; see
 * rate.h.
 *
 * A fixed window: INCR of "<prefix>:rate:<address>:<second>" with an
 * expiry of two seconds, both sent at once. A caller may send up to limit
 * requests in a second and is then told when the next second begins.
 */
#include "rate.h"

#include "redis_link.h"

#include <inttypes.h>
#include <stdio.h>

#define RETRY_REDIS_MS 1000

int rate_admit(rate_link_t *link, const char *url, const char *prefix, const char *address,
               long limit, int64_t now_ms, int64_t *retry_after_ms)
{
    if (!link->redis) {
        if (now_ms < link->next_attempt_ms)
            return -1;
        link->next_attempt_ms = now_ms + RETRY_REDIS_MS;
        link->redis = redis_link_connect(url, 1);
        if (!link->redis)
            return -1;
    }
    char key[160];
    snprintf(key, sizeof key, "%s:rate:%s:%" PRId64, prefix, address, now_ms / 1000);
    redisReply *count = NULL, *expiry = NULL;
    if (redisAppendCommand(link->redis, "INCR %s", key) != REDIS_OK ||
        redisAppendCommand(link->redis, "EXPIRE %s 2", key) != REDIS_OK ||
        redisGetReply(link->redis, (void **)&count) != REDIS_OK ||
        redisGetReply(link->redis, (void **)&expiry) != REDIS_OK || !count ||
        count->type != REDIS_REPLY_INTEGER) {
        freeReplyObject(count);
        freeReplyObject(expiry);
        rate_link_close(link);
        link->next_attempt_ms = now_ms + RETRY_REDIS_MS;
        return -1;
    }
    long long seen = count->integer;
    freeReplyObject(count);
    freeReplyObject(expiry);
    if (seen <= limit)
        return 1;
    *retry_after_ms = 1000 - now_ms % 1000;
    return 0;
}

void rate_link_close(rate_link_t *link)
{
    if (link->redis)
        redisFree(link->redis);
    link->redis = NULL;
}
