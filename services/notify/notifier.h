/*
 * notifier.h - what the notify service makes of an event: an inbox message
 * and pending e-mail and webhook deliveries for each recipient the event
 * names, rendered from the templates in the recipient's language.
 */
#ifndef NOTIFY_NOTIFIER_H
#define NOTIFY_NOTIFIER_H

#include "chuang.pb-c.h"

#include <jansson.h>
#include <libpq-fe.h>

/* A consumer handler (consumer.h): records the event's messages in the open
 * transaction on db. An event that cannot be rendered is recorded as a
 * failed delivery and still returns 0, so it never stops the consumer;
 * -1 only for database errors. */
int notifier_apply(PGconn *db, const Chuang__Event *event, void *arg, char *error);

/* Gives recipient a message, in the open transaction: an inbox entry now,
 * and pending e-mail and webhook deliveries for the channels it has on.
 * A message already given for event_id is not given again. Returns 0, or
 * -1 on a database error. */
int notifier_deliver(PGconn *db, const char *event_id, const char *event_type,
                     const char *recipient, const char *subject, const char *body,
                     const char *event_json);

/* Replaces each {{path}} of template_text with the payload's value there.
 * Returns the text (caller frees), or NULL with error naming the unknown
 * variable. */
char *notifier_render(const char *template_text, json_t *payload, char *error, size_t size);

#endif
