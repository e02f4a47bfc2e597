/*
 * relay.h - publishes a service's committed events from its outbox.
 *
 * Every replica of a service runs a relay; the one holding the schema's
 * relay lock (db_lock.h: only the service's own role can take it) is
 * active, the others wait to take over when its connection (and so its
 * lock) goes. The active relay gives each committed event its position in
 * the service's event log (relay.c says why in sequence order), then
 * appends it to the service's Redis
 * Stream with the position as the explicit entry id (so a re-send after a
 * crash is refused, not duplicated) and, when an endpoint is configured,
 * publishes it live on a ZeroMQ PUB socket. A stream that Redis lost or
 * trimmed short of the database is refilled from the outbox. With a
 * retention (stream_max) the stream keeps only the latest events; the
 * outbox keeps them all.
 *
 * On the stream each entry has one field, "event": a packed chuang.Event
 * whose sequence is the entry's id. On the PUB socket each message is three
 * frames: the event type (for topic subscriptions), the position as 8 bytes
 * big-endian, and the packed chuang.Event.
 */
#ifndef CHUANG_RELAY_H
#define CHUANG_RELAY_H

#include "security.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct _relay_t relay_t;

typedef struct {
    const char *db_url;
    const char *schema;
    const char *redis_url;
    const char *stream;       /* Redis key of the event stream */
    const char *publish;      /* PUB endpoint to bind when active, or NULL */
    security_t *security;     /* borrowed; for the PUB socket */
    const char *service_name; /* for the service field of events */
    int64_t stream_max;       /* keep the last this many events; 0: all */
} relay_settings_t;

/* Creates an idle relay; it connects on its first step. Copies settings.
 * Returns NULL when memory runs out. */
relay_t *relay_new(const relay_settings_t *settings);

/* Closes its connections (giving up the lock), frees and nulls *self_p;
 * safe when NULL. */
void relay_destroy(relay_t **self_p);

/* Does one round: becomes active if it can, assigns positions to what has
 * committed and publishes it, or waits up to wait_ms for new events.
 * Returns how many events it published, or -1 after logging a failure
 * (the next round retries). */
int relay_step(relay_t *self, int wait_ms);

/* true while this relay is the active one. */
bool relay_active(relay_t *self);

/* Why the active relay has stopped numbering and publishing (the stream is
 * not the outbox's: a restored or failed-over database, see
 * relay_reconcile.h), or NULL while it works. */
const char *relay_stopped(relay_t *self);

#endif
