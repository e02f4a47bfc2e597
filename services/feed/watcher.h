/*
 * watcher.h - waking the feed when a stream it serves has something new,
 * instead of it looking every so often.
 *
 * The watcher is an actor with a Redis connection of its own. The feed
 * tells it which streams to watch and after which entry (watcher_watch:
 * the cursors of the subscriptions that can take more); the watcher blocks
 * in XREAD on them and, when an entry comes after any of those, sends
 * "WAKE" on its pipe once, then waits for the next watcher_watch before
 * blocking again. So a wake is never missed (the feed sends the cursors it
 * stopped at, and XREAD returns at once for what is already there) and
 * never repeated for what the feed has not yet looked at.
 */
#ifndef FEED_WATCHER_H
#define FEED_WATCHER_H

#include <czmq.h>
#include <stdint.h>

/* Starts a watcher of redis_url; NULL when the actor cannot start. */
zactor_t *watcher_new(const char *redis_url);

/* Watches keys[i] for entries after positions[i] (count of each), in place
 * of what it watched before; count 0 watches nothing. Returns 0 or -1. */
int watcher_watch(zactor_t *watcher, char *const *keys, const int64_t *positions, size_t count);

#endif
