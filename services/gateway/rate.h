/*
 * rate.h - the gateway's limit on requests per caller address: a counter
 * per address and second in Redis, shared by every gateway of the agency,
 * so that a caller is held to the limit whichever replica answers it.
 */
#ifndef GATEWAY_RATE_H
#define GATEWAY_RATE_H

#include <hiredis/hiredis.h>
#include <stdint.h>

/* One thread's link to Redis for the limit. */
typedef struct {
    redisContext *redis;
    int64_t next_attempt_ms; /* while Redis is away: when to try it again */
} rate_link_t;

/* Counts a request of address in the second of now_ms (ms since the
 * epoch) under key prefix, on link (connected to url when it is not).
 * Returns 1 when the request is within limit; 0 when it passes it, with
 * *retry_after_ms until the next second; -1 when Redis cannot be reached
 * (the caller decides; the link tries again a second later). */
int rate_admit(rate_link_t *link, const char *url, const char *prefix, const char *address,
               long limit, int64_t now_ms, int64_t *retry_after_ms);

/* Closes link's connection. */
void rate_link_close(rate_link_t *link);

#endif
