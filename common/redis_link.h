/*
 * redis_link.h - connecting a service to Redis.
 *
 * A URL of the form redis://[:password@]host[:port][/db] names the server;
 * the connection is made with a timeout, authenticated, and switched to the
 * database, retrying while Redis starts or restarts.
 */
#ifndef CHUANG_REDIS_LINK_H
#define CHUANG_REDIS_LINK_H

#include <hiredis/hiredis.h>

/* Connects to url, trying attempts times a second apart. Returns NULL after
 * logging the last error. The caller owns the context (redisFree). */
redisContext *redis_link_connect(const char *url, int attempts);

/* Makes *ctx_p usable again after an error (Redis restarted): replaces it
 * with a new connection to url. Returns 0, or -1 leaving *ctx_p NULL. */
int redis_link_reset(redisContext **ctx_p, const char *url, int attempts);

#endif
