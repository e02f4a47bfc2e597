/*
 * limiter.h - request rates per sender: a token bucket for each key.
 *
 * Each key has a bucket that holds up to burst_seconds of its rate and fills
 * at its rate (requests a second); a request takes one token. A sender that
 * finds its bucket empty is told how long until the next token, so that it
 * can wait rather than retry blindly. Buckets are made on first use and
 * forgotten once full and idle, so the table holds only keys that are busy.
 */
#ifndef CHUANG_LIMITER_H
#define CHUANG_LIMITER_H

#include <stdint.h>

typedef struct _limiter_t limiter_t;

/* A limiter whose buckets hold burst_seconds (at least 1) of their rate. */
limiter_t *limiter_new(int burst_seconds);

/* Frees and nulls *self_p; safe when NULL. */
void limiter_destroy(limiter_t **self_p);

/* Takes a token from key's bucket, which fills at rate a second (0: no
 * limit) as of now_ms (a monotonic clock). Returns 0 when the request may
 * go on, else the milliseconds until a token will be there. */
int64_t limiter_take(limiter_t *self, const char *key, long rate, int64_t now_ms);

/* Forgets buckets that are full again; call now and then. */
void limiter_prune(limiter_t *self, int64_t now_ms);

#endif
