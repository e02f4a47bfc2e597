/*
 * feed.h - the agency's event feed (services/feed): "everything after
 * sequence N on these topics, then live", for departments and other
 * agencies, over CURVE (see proto/feed.proto for the frames).
 *
 * A subscriber is known by its public key, which the access list (acl.h)
 * maps to the topics it may ask for, the events it may see by their
 * visibility, and whether it may see personal data (redact.h). It keeps its
 * own cursor: subscribing again after N resumes exactly after N.
 *
 * Settings: feed.endpoint, feed.acl, feed.stream_key (printf pattern of a
 * service's stream key, default chuang:%s:events), feed.imports (federation,
 * see importer.h), redis.url, security.*.
 */
#ifndef FEED_FEED_H
#define FEED_FEED_H

#include "config.h"
#include "security.h"

typedef struct _feed_t feed_t;

/* Loads the access list and binds. Borrows security. NULL on failure. */
feed_t *feed_new(config_t *config, security_t *security);

void feed_destroy(feed_t **self_p);

/* Serves until SIGTERM or SIGINT. */
void feed_run(feed_t *self);

#endif
