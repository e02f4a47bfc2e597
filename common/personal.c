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

/* The string field name of message, when it has one; else NULL. */
static char **s_string_field(ProtobufCMessage *message, const char *name)
{
    const ProtobufCFieldDescriptor *field =
        protobuf_c_message_descriptor_get_field_by_name(message->descriptor, name);
    if (!field || field->type != PROTOBUF_C_TYPE_STRING ||
        field->label == PROTOBUF_C_LABEL_REPEATED)
        return NULL;
    return (char **)((char *)message + field->offset);
}

static void s_each(ProtobufCMessage *message, personal_string_fn *fn, void *arg, int depth)
{
    if (!message || depth > DEPTH_MAX)
        return;
    const ProtobufCMessageDescriptor *descriptor = message->descriptor;
    /* A change of a personal field (a FieldChange) carries personal values. */
    char **changed = s_string_field(message, "field");
    char **old_value = s_string_field(message, "old_value");
    char **new_value = s_string_field(message, "new_value");
    if (changed && *changed && old_value && new_value && personal_path(*changed)) {
        fn(arg, old_value);
        fn(arg, new_value);
    }
    for (unsigned i = 0; i < descriptor->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = &descriptor->fields[i];
        void *member = (char *)message + field->offset;
        if (field->type == PROTOBUF_C_TYPE_STRING && field->label != PROTOBUF_C_LABEL_REPEATED &&
            personal_field(descriptor, field)) {
            fn(arg, member);
        } else if (field->type == PROTOBUF_C_TYPE_MESSAGE) {
            if (field->label == PROTOBUF_C_LABEL_REPEATED) {
                size_t count = *(size_t *)((char *)message + field->quantifier_offset);
                ProtobufCMessage **items = *(ProtobufCMessage ***)member;
                for (size_t n = 0; n < count; n++)
                    s_each(items[n], fn, arg, depth + 1);
            } else {
                s_each(*(ProtobufCMessage **)member, fn, arg, depth + 1);
            }
        }
    }
}

void personal_each(ProtobufCMessage *message, personal_string_fn *fn, void *arg)
{
    s_each(message, fn, arg, 0);
}

typedef struct {
    personal_alloc_fn *alloc;
    void *arg;
} mask_t;

static void s_mask(void *arg, char **text)
{
    mask_t *mask = arg;
    size_t size = (*text ? strlen(*text) : 0) + 19;
    char *masked = mask->alloc(mask->arg, size);
    personal_mask_text(*text, masked, size);
    *text = masked;
}

void personal_mask(ProtobufCMessage *message, personal_alloc_fn *alloc, void *arg)
{
    mask_t mask = {.alloc = alloc, .arg = arg};
    personal_each(message, s_mask, &mask);
}
