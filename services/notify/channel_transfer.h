/*
 * channel_transfer.h - one send of channel.h, prepared but not yet made:
 * what channel_email_send and channel_webhook_send make at once in the
 * calling thread, and what a channel_pool makes many of side by side.
 *
 * A transfer owns a libcurl easy handle set up for its send and everything
 * the handle points to while it runs (headers, the message, the state its
 * callbacks keep). Whoever drives the handle (curl_easy_perform, or a multi
 * handle) asks channel_transfer_outcome what came of it with the result
 * libcurl gave, then destroys the transfer. The handle's CURLOPT_PRIVATE is
 * the transfer.
 */
#ifndef CHUANG_CHANNEL_TRANSFER_H
#define CHUANG_CHANNEL_TRANSFER_H

#include "channel.h"

#include <curl/curl.h>

typedef struct _channel_transfer_t channel_transfer_t;

/* Sets up libcurl and libsodium for the process, once (thread-safe).
 * Returns 0, or -1 when either failed. */
int channel_transfer_init(void);

/* Prepares the e-mail channel_email_send would send. Returns the transfer
 * (caller owns), or NULL with *outcome PERMANENT (bad input) or RETRY
 * (libcurl or memory failed) and error (size bytes, may be NULL) saying
 * why. The strings are copied. */
channel_transfer_t *channel_transfer_email(const char *smtp_url, const char *from, const char *to,
                                           const char *subject, const char *body,
                                           const char *delivery_id, int timeout_ms,
                                           channel_outcome_t *outcome, char *error, size_t size);

/* Prepares the webhook POST channel_webhook_send would make, signed now.
 * Returns the transfer (caller owns), or NULL as channel_transfer_email. */
channel_transfer_t *channel_transfer_webhook(const char *url, const char *secret,
                                             const char *delivery_id, const char *json,
                                             int timeout_ms, channel_outcome_t *outcome,
                                             char *error, size_t size);

/* The transfer's easy handle (the transfer keeps it). */
CURL *channel_transfer_handle(channel_transfer_t *self);

/* What came of the transfer, whose handle ended with rc; error gets the
 * reason ("" when SENT). */
channel_outcome_t channel_transfer_outcome(channel_transfer_t *self, CURLcode rc, char *error,
                                           size_t size);

/* Frees the transfer and its handle and nulls *self_p; safe when NULL. */
void channel_transfer_destroy(channel_transfer_t **self_p);

#endif
