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
 * notify.backoff_ms, notify.timeout_ms, notify.rate_per_minute (the default
 * per-recipient limit; 0: none) and notify.in_flight (sends at once per
 * channel, default 32), and sets up the sending. Returns 0, or -1 after
 * logging what is wrong. */
int sender_configure(config_t *config);

/* The framework tick: queues pending deliveries found in the database that
 * the Redis queue lacks, starts those that are due, and records the
 * outcomes of the sends that ended. It waits for sends or work (a bounded
 * time) and always asks to be called again. */
service_tick_fn sender_tick;

/* Tells the tick that new deliveries may have been written (the consumer
 * committed events): they are looked for at once. Any thread may call it. */
void sender_wake(void);

/* Stops the sends in flight (their claims run out; they go again) and
 * frees what sender_configure set up. */
void sender_fini(void);

#endif
