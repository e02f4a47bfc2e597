/*
 * feed_client.h - following a service's events through an agency's feed.
 *
 * The client subscribes to a stream after a sequence number and returns the
 * events one at a time, in order. It grants the feed credit as it goes, so a
 * slow reader is never flooded. When the feed falls silent (no event and no
 * heartbeat for FEED_CLIENT_SILENCE_MS) the client reconnects and subscribes
 * again after the last sequence it returned, so an outage costs nothing but
 * time: no event is skipped and none is returned twice.
 */
#ifndef CHUANG_FEED_CLIENT_H
#define CHUANG_FEED_CLIENT_H

#include "chuang.pb-c.h"
#include "security.h"

#include <stdint.h>

#define FEED_CLIENT_SILENCE_MS 5000

typedef struct _feed_client_t feed_client_t;

/* A client of the feed at endpoint, whose public key is server_public
 * (Z85), for stream, returning events after sequence after whose types start
 * with one of topics (comma-separated; empty: all it may see). Borrows
 * security. Returns NULL on bad arguments. */
feed_client_t *feed_client_new(const char *endpoint, security_t *security,
                               const char *server_public, const char *stream, int64_t after,
                               const char *topics);

/* Closes the socket, frees and nulls *self_p; safe when NULL. */
void feed_client_destroy(feed_client_t **self_p);

/* The next event (caller frees with chuang__event__free_unpacked), or NULL
 * when none came within timeout_ms. When the feed refused the subscription
 * the refusal is returned in *refusal (caller frees), and the client stops. */
Chuang__Event *feed_client_next(feed_client_t *self, int timeout_ms, Chuang__Reply **refusal);

/* The sequence of the last event returned (the resume point). */
int64_t feed_client_cursor(feed_client_t *self);

#endif
