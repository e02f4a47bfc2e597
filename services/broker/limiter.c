/*
 * limiter.c - token buckets per key; see limiter.h.
 *
 * Tokens are counted in thousandths so that integer arithmetic refills a
 * bucket exactly: rate tokens a second is rate thousandths a millisecond.
 */
#include "limiter.h"

#include <czmq.h>

#define MILLI 1000

typedef struct {
    int64_t level; /* thousandths of a token */
    int64_t at;    /* when level was last brought up to date (ms) */
    long rate;     /* the rate it last filled at */
} bucket_t;

struct _limiter_t {
    zhashx_t *buckets; /* key -> bucket_t, owned */
    int burst_seconds;
};

static void s_bucket_destructor(void **item)
{
    free(*item);
    *item = NULL;
}

limiter_t *limiter_new(int burst_seconds)
{
    limiter_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->burst_seconds = burst_seconds < 1 ? 1 : burst_seconds;
    self->buckets = zhashx_new();
    zhashx_set_destructor(self->buckets, s_bucket_destructor);
    return self;
}

void limiter_destroy(limiter_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy(&(*self_p)->buckets);
    free(*self_p);
    *self_p = NULL;
}

/* Brings bucket's level up to now at rate. */
static void s_fill(limiter_t *self, bucket_t *bucket, long rate, int64_t now_ms)
{
    int64_t capacity = (int64_t)rate * self->burst_seconds * MILLI;
    int64_t elapsed = now_ms > bucket->at ? now_ms - bucket->at : 0;
    /* Past the time a full refill takes, the bucket is full. */
    if (elapsed >= (int64_t)self->burst_seconds * MILLI)
        bucket->level = capacity;
    else
        bucket->level += elapsed * rate;
    if (bucket->level > capacity)
        bucket->level = capacity;
    bucket->at = now_ms;
    bucket->rate = rate;
}

int64_t limiter_take(limiter_t *self, const char *key, long rate, int64_t now_ms)
{
    if (rate <= 0 || !key)
        return 0;
    bucket_t *bucket = zhashx_lookup(self->buckets, key);
    if (!bucket) {
        bucket = calloc(1, sizeof *bucket);
        assert(bucket);
        bucket->level = (int64_t)rate * self->burst_seconds * MILLI;
        bucket->at = now_ms;
        zhashx_insert(self->buckets, key, bucket);
    }
    s_fill(self, bucket, rate, now_ms);
    if (bucket->level >= MILLI) {
        bucket->level -= MILLI;
        return 0;
    }
    int64_t wait = (MILLI - bucket->level + rate - 1) / rate;
    return wait > 0 ? wait : 1;
}

void limiter_prune(limiter_t *self, int64_t now_ms)
{
    zlistx_t *full = zlistx_new();
    for (bucket_t *bucket = zhashx_first(self->buckets); bucket;
         bucket = zhashx_next(self->buckets)) {
        s_fill(self, bucket, bucket->rate, now_ms);
        if (bucket->level >= (int64_t)bucket->rate * self->burst_seconds * MILLI)
            zlistx_add_end(full, (void *)zhashx_cursor(self->buckets));
    }
    for (const char *key = zlistx_first(full); key; key = zlistx_next(full))
        zhashx_delete(self->buckets, key);
    zlistx_destroy(&full);
}
