/*
 * redact.c - personal data out of event payloads; see redact.h.
 *
 * The payload is decoded with its descriptor, walked field by field, and
 * packed again. A string is emptied by replacing it with a fresh empty
 * string, so protobuf-c's free of the decoded message stays correct.
 */
#include "redact.h"
#include "messages.h"
#include "personal.h"

#include <czmq.h>

#define DEPTH_MAX 16

static char **s_string_field(ProtobufCMessage *message, const char *name)
{
    const ProtobufCFieldDescriptor *field =
        protobuf_c_message_descriptor_get_field_by_name(message->descriptor, name);
    if (!field || field->type != PROTOBUF_C_TYPE_STRING ||
        field->label == PROTOBUF_C_LABEL_REPEATED)
        return NULL;
    return (char **)((char *)message + field->offset);
}

static void s_empty(char **text)
{
    if (text && *text && **text) {
        free(*text);
        *text = strdup("");
    }
}

static void s_redact(ProtobufCMessage *message, int depth)
{
    if (!message || depth > DEPTH_MAX)
        return;
    const ProtobufCMessageDescriptor *descriptor = message->descriptor;
    /* A FieldChange of a personal field carries personal values. */
    char **field_name = s_string_field(message, "field");
    if (field_name && *field_name && personal_path(*field_name)) {
        s_empty(s_string_field(message, "old_value"));
        s_empty(s_string_field(message, "new_value"));
    }
    for (unsigned i = 0; i < descriptor->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = &descriptor->fields[i];
        void *member = (char *)message + field->offset;
        if (field->type == PROTOBUF_C_TYPE_STRING && field->label != PROTOBUF_C_LABEL_REPEATED &&
            personal_field(descriptor, field)) {
            s_empty((char **)member);
        } else if (field->type == PROTOBUF_C_TYPE_MESSAGE) {
            if (field->label == PROTOBUF_C_LABEL_REPEATED) {
                size_t count = *(size_t *)((char *)message + field->quantifier_offset);
                ProtobufCMessage **items = *(ProtobufCMessage ***)member;
                for (size_t n = 0; n < count; n++)
                    s_redact(items[n], depth + 1);
            } else {
                s_redact(*(ProtobufCMessage **)member, depth + 1);
            }
        }
    }
}

void redact_message(ProtobufCMessage *message)
{
    s_redact(message, 0);
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
    s_redact(payload, 0);
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
