/*
 * bounds.c - the request size check; see bounds.h.
 *
 * It reads the unpacked message through its descriptor: each field's
 * offset gives the value (a char *, a ProtobufCBinaryData, a nested
 * message), and a repeated field's quantifier offset its count. A field of
 * a oneof is read only when its case is the one set.
 */
#include "bounds.h"

#include <stdio.h>
#include <string.h>

#define DEPTH_MAX 16
#define PATH_SIZE 512

typedef struct {
    const bounds_t *table;
    bounds_violation_fn *violation;
    void *arg;
    int found;
} walk_t;

/* The maximum for field of descriptor: the table's, or the default. */
static size_t s_max(const walk_t *walk, const ProtobufCMessageDescriptor *descriptor,
                    const ProtobufCFieldDescriptor *field, size_t fallback)
{
    size_t prefix = strlen(descriptor->name);
    for (const bounds_t *b = walk->table; b && b->field; b++)
        if (strncmp(b->field, descriptor->name, prefix) == 0 && b->field[prefix] == '.' &&
            strcmp(b->field + prefix + 1, field->name) == 0)
            return b->max;
    return fallback;
}

static void s_report(walk_t *walk, const char *path, const char *format, size_t max)
{
    char description[128];
    snprintf(description, sizeof description, format, max);
    walk->violation(walk->arg, path, description);
    walk->found++;
}

static void s_walk(walk_t *walk, const ProtobufCMessage *message, const char *prefix, int depth);

/* Checks one value (an item of a repeated field, or a singular field) at
 * path; value points at the stored field. */
static void s_value(walk_t *walk, const ProtobufCFieldDescriptor *field, const void *value,
                    size_t max, const char *path, int depth)
{
    if (field->type == PROTOBUF_C_TYPE_STRING) {
        const char *text = *(char *const *)value;
        if (text && strlen(text) > max)
            s_report(walk, path, "must be at most %zu bytes", max);
    } else if (field->type == PROTOBUF_C_TYPE_BYTES) {
        const ProtobufCBinaryData *data = value;
        if (data->len > max)
            s_report(walk, path, "must be at most %zu bytes", max);
    } else if (field->type == PROTOBUF_C_TYPE_MESSAGE) {
        const ProtobufCMessage *nested = *(ProtobufCMessage *const *)value;
        if (nested)
            s_walk(walk, nested, path, depth + 1);
    }
}

static void s_walk(walk_t *walk, const ProtobufCMessage *message, const char *prefix, int depth)
{
    /* Paths longer than this are cut, which a report can live with. */
    const ProtobufCMessageDescriptor *descriptor = message->descriptor;
    if (depth > DEPTH_MAX) {
        s_report(walk, prefix, "is nested more than %zu deep", DEPTH_MAX);
        return;
    }
    const char *base = (const char *)message;
    for (unsigned i = 0; i < descriptor->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = &descriptor->fields[i];
        if ((field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(base + field->quantifier_offset) != field->id)
            continue;
        char path[PATH_SIZE];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", field->name);
        size_t value_max =
            field->type == PROTOBUF_C_TYPE_BYTES ? BOUNDS_BYTES_MAX : BOUNDS_STRING_MAX;
        if (field->label != PROTOBUF_C_LABEL_REPEATED) {
            s_value(walk, field, base + field->offset, s_max(walk, descriptor, field, value_max),
                    path, depth);
            continue;
        }
        size_t count = *(const size_t *)(base + field->quantifier_offset);
        size_t max = s_max(walk, descriptor, field, BOUNDS_REPEATED_MAX);
        if (count > max) {
            s_report(walk, path, "must have at most %zu items", max);
            continue;
        }
        if (field->type != PROTOBUF_C_TYPE_STRING && field->type != PROTOBUF_C_TYPE_BYTES &&
            field->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        size_t size =
            field->type == PROTOBUF_C_TYPE_BYTES ? sizeof(ProtobufCBinaryData) : sizeof(void *);
        const char *items = *(char *const *)(base + field->offset);
        for (size_t n = 0; items && n < count; n++) {
            char item_path[PATH_SIZE + 24];
            snprintf(item_path, sizeof item_path, "%s.%zu", path, n);
            s_value(walk, field, items + n * size, value_max, item_path, depth);
        }
    }
}

int bounds_check(const ProtobufCMessage *message, const bounds_t *table,
                 bounds_violation_fn *violation, void *arg)
{
    walk_t walk = {.table = table, .violation = violation, .arg = arg};
    s_walk(&walk, message, "", 0);
    return walk.found;
}
