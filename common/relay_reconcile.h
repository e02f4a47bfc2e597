/*
 * relay_reconcile.h - whether a service's event stream is its outbox's,
 * and making the two agree after a database restore or failover.
 *
 * The stream and the outbox agree when the stream's last entry is at a
 * position the outbox has numbered and holds the outbox's event there.
 * They disagree when the database went back in time (restored from a
 * backup, or failed over to a copy that lacked the last commits): the
 * stream then holds positions the outbox does not, or other events at the
 * outbox's positions. The relay stops on that, because numbering on would
 * give published positions to other events.
 *
 * The rule that reconciles them: what the stream holds was published and
 * may have been acted on, so it stands. Every event on the stream after the
 * last position where both agree is taken into the outbox at its position
 * (an event the outbox already has, by id, just gets it back; one it lacks
 * is inserted with recovered_at set, because the change it reports is not
 * in this database's state and an officer must enter it again or confirm
 * it); the outbox's own events at later positions lose their numbers and
 * are numbered again after the stream's end, so nothing is lost and no
 * position is ever given twice. The report names each event.
 */
#ifndef CHUANG_RELAY_RECONCILE_H
#define CHUANG_RELAY_RECONCILE_H

#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    int64_t outbox_last;  /* the outbox's last position, 0 when none */
    int64_t stream_first; /* the stream's first and last entries, 0 when empty */
    int64_t stream_last;
    bool agree;
    char why[200]; /* when they do not agree, in words */
} relay_comparison_t;

/* Compares the stream at key with the outbox of db's schema. Returns 0
 * with *out filled, or -1 when PostgreSQL or Redis failed. */
int relay_compare(PGconn *db, redisContext *redis, const char *key, relay_comparison_t *out);

/* Makes the outbox agree with the stream by the rule above, in one
 * transaction that keeps writers and the relay waiting meanwhile, and
 * writes what it did to report, a line per event. Returns how many events
 * it changed (0 when they agreed already), or -1 (nothing changed). */
int relay_reconcile(PGconn *db, redisContext *redis, const char *key, FILE *report);

#endif
