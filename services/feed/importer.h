/*
 * importer.h - federation: this agency's feed following another agency's
 * feed and importing chosen topics into a local stream, so that this
 * agency's services consume the other agency's events like their own
 * (through consumer groups on the local stream, see consumer.h).
 *
 * Imports are listed in the file named by feed.imports, one a line:
 *
 *   # remote endpoint        remote feed's public cert   stream    local stream key        topics
 *   tcp://city.example:5570  /etc/chuang/keys/city-feed  registry  chuang:import:city:registry
 * registry.EntityRegistered
 *
 * The importer connects with this feed's own certificate, so the remote
 * agency's access list decides what arrives (and redacts it). Each event is
 * appended with its remote sequence as the entry id: resuming after the
 * local stream's last id, and refusing a repeat, make an outage of either
 * side cost nothing but time.
 */
#ifndef FEED_IMPORTER_H
#define FEED_IMPORTER_H

#include "security.h"

#include <czmq.h>

/* Starts one actor per import line of path. Borrows security. Returns a
 * list of zactor_t (destroy each, then the list), or NULL after logging a
 * bad line. */
zlist_t *importer_start_all(const char *path, security_t *security, const char *redis_url);

/* Stops the actors and destroys the list; safe with NULL. */
void importer_stop_all(zlist_t **actors_p);

#endif
