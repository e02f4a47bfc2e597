/*
 * outbox.h - writing a service's events in the transaction of its change.
 *
 * A handler that changes state writes the event reporting it into the
 * service schema's chuang_outbox table with outbox_write, on the same
 * connection and in the same transaction. The event commits with the change
 * or not at all. The relay (a later piece) publishes committed rows in
 * sequence order; the row's sequence, id and time are assigned here by
 * PostgreSQL.
 */
#ifndef CHUANG_OUTBOX_H
#define CHUANG_OUTBOX_H

#include "chuang.pb-c.h"
#include <libpq-fe.h>

typedef struct {
    const char *agency;       /* source agency's division code */
    const char *type;         /* "<service>.<EventName>" */
    const char *aggregate_id; /* what changed */
    Chuang__Visibility visibility;
    const ProtobufCMessage *payload;
    const char *trace_id; /* may be NULL */
} outbox_event_t;

/* Writes event into the outbox inside the caller's open transaction.
 * Returns 0, or -1 after logging (the transaction is then aborted). */
int outbox_write(PGconn *db, const outbox_event_t *event);

#endif
