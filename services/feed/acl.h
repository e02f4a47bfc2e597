/*
 * acl.h - who may follow which events through the feed.
 *
 * The access list is a file, one subscriber a line:
 *
 *   # public key (Z85)                        name   kind        personal  topics
 *   rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7  tax    department  yes       registry.
 *
 * kind is "department" (this agency's departments: events visible to
 * departments or wider), "agency" (other agencies: events visible to other
 * agencies or wider) or "public" (public events only). personal "yes" lets
 * the subscriber see personal data; "no" has it redacted. topics is a
 * comma-separated list of event-type prefixes the subscriber may ask for
 * ("*" for all). A subscriber not listed gets nothing.
 */
#ifndef FEED_ACL_H
#define FEED_ACL_H

#include "chuang.pb-c.h"

#include <stdbool.h>

typedef struct _acl_t acl_t;

typedef struct {
    char key[41];
    char name[64];
    Chuang__Visibility least; /* the least visibility an event needs for it */
    bool personal;
    char **topics; /* NULL-terminated prefixes */
} acl_entry_t;

/* Loads the access list. Returns NULL after logging the first bad line. */
acl_t *acl_load(const char *path);

void acl_destroy(acl_t **self_p);

/* The subscriber with public key (Z85), or NULL. */
const acl_entry_t *acl_lookup(acl_t *self, const char *key);

/* true when the subscriber may ask for topic (an event-type prefix). */
bool acl_topic_allowed(const acl_entry_t *entry, const char *topic);

#endif
