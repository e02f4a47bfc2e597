/*
 * bounds.h - the size of every string, bytes and repeated field of a
 * request, checked before a handler sees it.
 *
 * Every field has a maximum: BOUNDS_STRING_MAX bytes for a string,
 * BOUNDS_BYTES_MAX for bytes, BOUNDS_REPEATED_MAX items for a repeated
 * field, unless the service's table names the field with a maximum of its
 * own. The check walks the whole message, nested messages and each item of
 * a repeated one included, so no handler can be handed more than its
 * service declared; a field past its maximum is reported with its path
 * ("founders.3.person.id_number") in words a clerk can act on.
 */
#ifndef CHUANG_BOUNDS_H
#define CHUANG_BOUNDS_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#define BOUNDS_STRING_MAX   4096  /* bytes */
#define BOUNDS_BYTES_MAX    65536 /* bytes */
#define BOUNDS_REPEATED_MAX 100   /* items */

/* A field's own maximum: the full name of its message and the field's name,
 * e.g. "chuang.notify.Bulletin.categories", and the most bytes (strings,
 * bytes) or items (repeated) it may hold. A table ends with {NULL, 0}. */
typedef struct {
    const char *field;
    size_t max;
} bounds_t;

/* Called for each field past its maximum, with its dotted path and what is
 * wrong. */
typedef void(bounds_violation_fn)(void *arg, const char *path, const char *description);

/* Checks message against the defaults and table (may be NULL). Returns how
 * many fields are past their maximum, each reported to violation. */
int bounds_check(const ProtobufCMessage *message, const bounds_t *table,
                 bounds_violation_fn *violation, void *arg);

#endif
