/*
 * consumer.h - applying another service's events exactly once.
 *
 * A consumer reads a service's event stream (see relay.h) through a Redis
 * consumer group, so several replicas share the work. Each event is applied
 * by the caller's handler inside a PostgreSQL transaction (one for each
 * batch of events read together) that also records the event in the
 * consumer's own inbox table (chuang_inbox, in its schema):
 * an event delivered again (a consumer died before acknowledging it, the
 * stream was rebuilt) finds its inbox row and changes nothing.
 *
 * At start the consumer re-reads its own pending entries; entries another
 * consumer of the group left pending longer than claim_idle_ms are claimed;
 * an entry that has failed max_deliveries times is moved to the dead-letter
 * stream "<stream>:dead:<group>" with the last error, and acknowledged. A
 * group lost with its stream is created again at the start of the stream;
 * the inbox makes the redelivery of what was applied change nothing.
 *
 * Events the group lost (trimmed from the stream before it applied them:
 * a pending entry trimmed away, a group that lagged behind the stream's
 * retention, a group made anew on a stream that no longer holds what
 * followed the inbox's last position) are a gap: the consumer logs it and
 * asks the producer's relay, which sends them again from its outbox
 * (event_stream.h); they are then applied like held events, once, though
 * after later events of their aggregate that were applied meanwhile.
 *
 * A failed event blocks the later events of its aggregate (they wait in
 * the consumer's schema, chuang_inbox_held) until it is applied, or, once
 * it went to the dead letters, until an operator releases the aggregate;
 * events of other aggregates go on meanwhile.
 */
#ifndef CHUANG_CONSUMER_H
#define CHUANG_CONSUMER_H

#include "chuang.pb-c.h"

#include <libpq-fe.h>
#include <stdbool.h>

/* Entries a consumer reads, applies and acknowledges together. */
#define CONSUMER_BATCH 500

typedef struct _consumer_t consumer_t;

/* Applies event within the open transaction on db, which may hold a batch
 * of events: the handler must change nothing but the database, since a
 * failure of a later event of the batch rolls its work back and runs it
 * again. Returns 0 to go on, -1 to roll back (the event is delivered again
 * later); error (size 256) may say why, for the dead-letter record. */
typedef int(consumer_handler_fn)(PGconn *db, const Chuang__Event *event, void *arg, char *error);

typedef struct {
    const char *db_url;
    const char *schema;
    const char *redis_url;
    const char *stream;   /* the producing service's stream key */
    const char *group;    /* one group per consuming service */
    const char *consumer; /* unique per replica, e.g. host and pid */
    int claim_idle_ms;    /* claim others' pending entries idle this long */
    int max_deliveries;   /* then dead-letter */
    bool imported;        /* the stream imports chosen topics: its positions have gaps */
    consumer_handler_fn *handler;
    void *arg;
} consumer_settings_t;

/* Creates a consumer; it connects on its first step. Copies the strings.
 * Returns NULL when memory runs out. */
consumer_t *consumer_new(const consumer_settings_t *settings);

/* Closes its connections, frees and nulls *self_p; safe when NULL. */
void consumer_destroy(consumer_t **self_p);

/* Reads and applies what is there, waiting up to wait_ms for new entries.
 * Returns how many events it applied (not counting redeliveries found in
 * the inbox), or -1 after logging a failure (the next step retries). */
int consumer_step(consumer_t *self, int wait_ms);

/* Releases aggregate_id of stream whose blocking event went to the dead
 * letters: an operator's decision to go on without it; the events held
 * behind it are then applied in order. Runs on db (the consumer's schema).
 * Returns 1 released, 0 when it was not blocked by a dead event, -1. */
int consumer_release(PGconn *db, const char *stream, const char *aggregate_id);

#endif
