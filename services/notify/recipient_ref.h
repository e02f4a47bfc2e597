/*
 * recipient_ref.h - what notify calls a person: an opaque reference, never
 * their resident ID number.
 *
 * Events name the people they concern by ID number; notify turns each into
 * "p" and 32 hex digits of HMAC-SHA256 keyed with the deployment's secret
 * (notify.recipient_key), so its tables, its webhooks and its logs hold no
 * ID number and the references cannot be turned back into one without the
 * key. A caller may still name a person by ID number (the gateway knows it
 * as verified): the reference is taken at the door. Credit codes and
 * officers' names are not personal and stay as they are.
 */
#ifndef NOTIFY_RECIPIENT_REF_H
#define NOTIFY_RECIPIENT_REF_H

#include <stddef.h>

/* The longest recipient id and its NUL. */
#define RECIPIENT_REF_SIZE 65

/* Loads the key: a file of 64 hex digits (32 bytes), optionally a LF.
 * Returns 0, or -1 after logging what is wrong. Call once at start-up. */
int recipient_ref_init(const char *key_path);

/* Writes into out the recipient id for id: the reference of a resident ID
 * number, anything else as it is (truncated to RECIPIENT_REF_SIZE - 1). */
void recipient_ref(const char *id, char out[RECIPIENT_REF_SIZE]);

#endif
