/*
 * redis_link.c - Redis connections with retry; see redis_link.h.
 */
#include "redis_link.h"
#include "logger.h"

#include <czmq.h>

typedef struct {
    char host[256];
    int port;
    char password[256];
    int db;
} target_t;

static int s_parse(const char *url, target_t *target)
{
    memset(target, 0, sizeof *target);
    target->port = 6379;
    const char *p = url;
    if (strncmp(p, "redis://", 8) != 0)
        return -1;
    p += 8;
    const char *at = strchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *secret = colon ? colon + 1 : p;
        snprintf(target->password, sizeof target->password, "%.*s", (int)(at - secret), secret);
        p = at + 1;
    }
    size_t host_len = strcspn(p, ":/");
    if (host_len == 0 || host_len >= sizeof target->host)
        return -1;
    memcpy(target->host, p, host_len);
    p += host_len;
    if (*p == ':') {
        char *end;
        long port = strtol(p + 1, &end, 10);
        if (port <= 0 || port > 65535)
            return -1;
        target->port = (int)port;
        p = end;
    }
    if (*p == '/' && p[1]) {
        char *end;
        target->db = (int)strtol(p + 1, &end, 10);
        if (*end)
            return -1;
    }
    return 0;
}

static bool s_command_ok(redisContext *ctx, const char *what, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    redisReply *reply = redisvCommand(ctx, format, args);
    va_end(args);
    bool ok = reply && reply->type != REDIS_REPLY_ERROR;
    if (!ok)
        log_error("redis command failed", "what=%s error=\"%s\"", what,
                  reply ? reply->str : ctx->errstr);
    freeReplyObject(reply);
    return ok;
}

redisContext *redis_link_connect(const char *url, int attempts)
{
    target_t target;
    if (s_parse(url, &target) != 0) {
        log_error("redis url is not redis://[:password@]host[:port][/db]", "setting=redis.url");
        return NULL;
    }
    struct timeval timeout = {2, 0};
    for (int attempt = 1;; attempt++) {
        redisContext *ctx = redisConnectWithTimeout(target.host, target.port, timeout);
        if (ctx && !ctx->err) {
            redisSetTimeout(ctx, (struct timeval){5, 0});
            if ((!*target.password || s_command_ok(ctx, "auth", "AUTH %s", target.password)) &&
                (target.db == 0 || s_command_ok(ctx, "select", "SELECT %d", target.db)))
                return ctx;
        } else if (attempt >= attempts) {
            log_error("cannot connect to redis", "host=%s port=%d attempts=%d error=\"%s\"",
                      target.host, target.port, attempt, ctx ? ctx->errstr : "out of memory");
        }
        redisFree(ctx);
        if (attempt >= attempts || zsys_interrupted)
            return NULL;
        zclock_sleep(1000);
    }
}

int redis_link_reset(redisContext **ctx_p, const char *url, int attempts)
{
    redisFree(*ctx_p);
    *ctx_p = redis_link_connect(url, attempts);
    return *ctx_p ? 0 : -1;
}
