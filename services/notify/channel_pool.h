/*
 * channel_pool.h - many sends of channel.h in flight at once, from one
 * thread, over connections kept open between them.
 *
 * A pool is a libcurl multi handle: the sends started on it run side by
 * side while channel_pool_run drives them, and the connections they open
 * stay open for the next send to the same server (HTTP keep-alive, an SMTP
 * session), at most CHANNEL_POOL_HOST_CONNECTIONS to one host; sends beyond
 * that wait in the pool for a connection. Each send is the one
 * channel_email_send or channel_webhook_send would make, with the same
 * checks, headers, signature and outcomes (a webhook's address is checked
 * against the policy whenever a connection is opened). A send started with
 * a tag comes back through channel_pool_next with that tag once it ended.
 *
 * A pool belongs to one thread; only channel_pool_wake may be called from
 * another.
 */
#ifndef CHUANG_CHANNEL_POOL_H
#define CHUANG_CHANNEL_POOL_H

#include "channel.h"

#include <stdbool.h>

/* Connections a pool keeps to one host (receiver or mail server), at most. */
#define CHANNEL_POOL_HOST_CONNECTIONS 8

typedef struct _channel_pool_t channel_pool_t;

/* Returns a new pool, or NULL when libcurl or memory failed. */
channel_pool_t *channel_pool_new(void);

/* Stops the sends still in flight (their outcomes are lost), closes the
 * connections, frees and nulls *self_p; safe when NULL. */
void channel_pool_destroy(channel_pool_t **self_p);

/* Starts sending an e-mail as channel_email_send does. Returns 0, or -1
 * when it did not start: *outcome and error (size bytes, may be NULL) say
 * why, as that function would have answered. The strings are copied. */
int channel_pool_email(channel_pool_t *self, const char *smtp_url, const char *from, const char *to,
                       const char *subject, const char *body, const char *delivery_id,
                       int timeout_ms, void *tag, channel_outcome_t *outcome, char *error,
                       size_t size);

/* Starts a webhook POST as channel_webhook_send does; returns as
 * channel_pool_email. */
int channel_pool_webhook(channel_pool_t *self, const char *url, const char *secret,
                         const char *delivery_id, const char *json, int timeout_ms, void *tag,
                         channel_outcome_t *outcome, char *error, size_t size);

/* How many sends are in flight (started, not yet taken by
 * channel_pool_next). */
int channel_pool_size(channel_pool_t *self);

/* Drives the sends in flight, waiting up to wait_ms (0: not at all) for
 * one of them to end or for channel_pool_wake. Returns 0, or -1 when
 * libcurl failed. */
int channel_pool_run(channel_pool_t *self, int wait_ms);

/* Takes a send that ended: returns true with its tag, outcome and reason
 * (error, size bytes, "" when SENT), or false when none has ended. */
bool channel_pool_next(channel_pool_t *self, void **tag, channel_outcome_t *outcome, char *error,
                       size_t size);

/* Makes a channel_pool_run that waits return now; any thread may call it. */
void channel_pool_wake(channel_pool_t *self);

#endif
