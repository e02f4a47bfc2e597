/*
 * personal.c - lookups in the generated table of personal fields; see
 * personal.h. The table is short (a handful of fields), so a scan is all
 * it takes.
 */
#include "personal.h"
#include "identifiers.h"

#include <string.h>

#define DEPTH_MAX 16

bool personal_field(const ProtobufCMessageDescriptor *message,
                    const ProtobufCFieldDescriptor *field)
{
    size_t prefix = strlen(message->name);
    for (size_t i = 0; personal_fields[i]; i++)
        if (strncmp(personal_fields[i], message->name, prefix) == 0 &&
            personal_fields[i][prefix] == '.' &&
            strcmp(personal_fields[i] + prefix + 1, field->name) == 0)
            return true;
    return false;
}

bool personal_path(const char *path)
{
    const char *last = strrchr(path, '.');
    last = last ? last + 1 : path;
    for (size_t i = 0; personal_fields[i]; i++) {
        const char *name = strrchr(personal_fields[i], '.');
        if (name && strcmp(name + 1, last) == 0)
            return true;
    }
    return false;
}

void personal_mask_text(const char *text, char *out, size_t size)
{
    if (size == 0)
        return;
    if (text && strlen(text) == 18 && size >= 19) {
        identifiers_mask_resident_id(text, out);
        return;
    }
    identifiers_mask_phone(text, out, size);
}

static void s_mask(ProtobufCMessage *message, personal_alloc_fn *alloc, void *arg, int depth)
{
    if (!message || depth > DEPTH_MAX)
        return;
    const ProtobufCMessageDescriptor *descriptor = message->descriptor;
    for (unsigned i = 0; i < descriptor->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = &descriptor->fields[i];
        void *member = (char *)message + field->offset;
        if (field->type == PROTOBUF_C_TYPE_STRING && field->label != PROTOBUF_C_LABEL_REPEATED &&
            personal_field(descriptor, field)) {
            char **text = member;
            size_t size = (*text ? strlen(*text) : 0) + 19;
            char *masked = alloc(arg, size);
            personal_mask_text(*text, masked, size);
            *text = masked;
        } else if (field->type == PROTOBUF_C_TYPE_MESSAGE) {
            if (field->label == PROTOBUF_C_LABEL_REPEATED) {
                size_t count = *(size_t *)((char *)message + field->quantifier_offset);
                ProtobufCMessage **items = *(ProtobufCMessage ***)member;
                for (size_t n = 0; n < count; n++)
                    s_mask(items[n], alloc, arg, depth + 1);
            } else {
                s_mask(*(ProtobufCMessage **)member, alloc, arg, depth + 1);
            }
        }
    }
}

void personal_mask(ProtobufCMessage *message, personal_alloc_fn *alloc, void *arg)
{
    s_mask(message, alloc, arg, 0);
}
