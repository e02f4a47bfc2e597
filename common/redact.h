/*
 * redact.h - taking personal data out of an event before it leaves the
 * agency for a subscriber not entitled to it: the feed's subscribers and
 * notify's webhooks and messages alike.
 *
 * Personal data are the string fields the .proto files mark personal
 * (personal.h), wherever they stand in the payload (a Person, a founder, a
 * reservation's applicant), and the old and new values of a FieldChange
 * whose field names one of them. They are emptied; everything else stays.
 */
#ifndef CHUANG_REDACT_H
#define CHUANG_REDACT_H

#include "chuang.pb-c.h"

/* Empties the personal data of message in place; message was unpacked with
 * protobuf-c's default allocator (its strings are malloc'd). */
void redact_message(ProtobufCMessage *message);

/* Rewrites event's payload without personal data; the payload type must be
 * one reachable from services (NULL-terminated). Returns 0, or -1 when the
 * payload cannot be decoded: such an event must not leave. */
int redact_event(Chuang__Event *event, const ProtobufCServiceDescriptor *const *services);

#endif
