/*
 * sender.h - the notify service's delivery worker: sends pending e-mail and
 * webhook deliveries, retrying with exponential backoff and jitter, and
 * moving a delivery that failed notify.max_attempts times (or for good) to
 * the dead letters, from which an officer can replay it.
 */
#ifndef NOTIFY_SENDER_H
#define NOTIFY_SENDER_H

#include "config.h"
#include "service.h"

/* Reads notify.smtp_url, notify.from, notify.max_attempts,
 * notify.backoff_ms, notify.timeout_ms and notify.rate_per_minute (the
 * default per-recipient limit; 0: none). */
void sender_configure(config_t *config);

/* The framework tick: queues pending deliveries found in the database that
 * the Redis queue lacks, then sends those that are due. */
service_tick_fn sender_tick;

#endif
