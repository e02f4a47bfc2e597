/*
 * redact.c - personal data out of event payloads; see redact.h.
 *
 * The payload is decoded with its descriptor, its personal strings found
 * by personal_each, and packed again. A string is emptied by replacing it with a fresh empty
 * string, so protobuf-c's free of the decoded message stays correct.
 */
#include "redact.h"
#include "messages.h"
#include "personal.h"

#include <czmq.h>

/* Empties a personal string of a decoded message (malloc'd strings). */
static void s_empty(void *arg, char **text)
{
    (void)arg;
    if (*text && **text) {
        free(*text);
        *text = strdup("");
    }
}

void redact_message(ProtobufCMessage *message)
{
    personal_each(message, s_empty, NULL);
}

int redact_event(Chuang__Event *event, const ProtobufCServiceDescriptor *const *services)
{
    const ProtobufCMessageDescriptor *descriptor = messages_find(services, event->payload_type);
    if (!descriptor)
        return -1;
    ProtobufCMessage *payload =
        protobuf_c_message_unpack(descriptor, NULL, event->payload.len, event->payload.data);
    if (!payload)
        return -1;
    redact_message(payload);
    size_t size = protobuf_c_message_get_packed_size(payload);
    uint8_t *packed = malloc(size ? size : 1);
    if (!packed) {
        protobuf_c_message_free_unpacked(payload, NULL);
        return -1;
    }
    protobuf_c_message_pack(payload, packed);
    protobuf_c_message_free_unpacked(payload, NULL);
    free(event->payload.data);
    event->payload.data = packed;
    event->payload.len = size;
    return 0;
}
