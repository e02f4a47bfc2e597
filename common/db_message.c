/*
 * db_message.c - a result row into a protobuf message; see db_message.h.
 *
 * Fields are found by name in the message's descriptor, and written at the
 * offsets protobuf-c's generated code gives; presence is set the way
 * protobuf-c reads it when packing (the has_ flag of an optional field, the
 * case of a oneof, the count of a repeated field).
 */
#include "db_message.h"
#include "db_array.h"
#include "logger.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The size of one value of a field of type in a message, or 0 when this
 * module does not fill that type. */
static size_t s_size(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return sizeof(int32_t);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return sizeof(uint32_t);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return sizeof(int64_t);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return sizeof(uint64_t);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM:
        return sizeof(int);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return 0;
    }
}

/* Reads text as a signed decimal within [min, max]. */
static bool s_signed(const char *text, long long min, long long max, long long *value)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max)
        return false;
    *value = v;
    return true;
}

static bool s_unsigned(const char *text, unsigned long long max, unsigned long long *value)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v > max)
        return false;
    *value = v;
    return true;
}

/* Writes text as one value of field's type at where. Returns 0 or -1. */
static int s_value(const ProtobufCFieldDescriptor *field, const char *text, void *where,
                   ProtobufCAllocator *allocator)
{
    long long s;
    unsigned long long u;
    switch (field->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if (!s_signed(text, INT32_MIN, INT32_MAX, &s))
            return -1;
        *(int32_t *)where = (int32_t)s;
        return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if (!s_signed(text, INT64_MIN, INT64_MAX, &s))
            return -1;
        *(int64_t *)where = (int64_t)s;
        return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if (!s_unsigned(text, UINT32_MAX, &u))
            return -1;
        *(uint32_t *)where = (uint32_t)u;
        return 0;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if (!s_unsigned(text, UINT64_MAX, &u))
            return -1;
        *(uint64_t *)where = (uint64_t)u;
        return 0;
    case PROTOBUF_C_TYPE_BOOL:
        if (strcmp(text, "t") != 0 && strcmp(text, "f") != 0)
            return -1;
        *(protobuf_c_boolean *)where = text[0] == 't';
        return 0;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *e = field->descriptor;
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(e, text);
        if (!v && s_signed(text, INT_MIN, INT_MAX, &s))
            v = protobuf_c_enum_descriptor_get_value(e, (int)s);
        if (!v)
            return -1;
        *(int *)where = v->value;
        return 0;
    }
    case PROTOBUF_C_TYPE_STRING: {
        size_t length = strlen(text);
        char *copy = allocator->alloc(allocator->allocator_data, length + 1);
        if (!copy)
            return -1;
        memcpy(copy, text, length + 1);
        *(char **)where = copy;
        return 0;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        /* bytea in hex (PostgreSQL's bytea_output default): \x and pairs. */
        if (strncmp(text, "\\x", 2) != 0)
            return -1;
        size_t digits = strlen(text + 2);
        if (digits % 2 || strspn(text + 2, "0123456789abcdefABCDEF") != digits)
            return -1;
        uint8_t *copy = allocator->alloc(allocator->allocator_data, digits ? digits / 2 : 1);
        if (!copy)
            return -1;
        for (size_t i = 0; i < digits / 2; i++) {
            char pair[3] = {text[2 + 2 * i], text[3 + 2 * i], '\0'};
            copy[i] = (uint8_t)strtoul(pair, NULL, 16);
        }
        ((ProtobufCBinaryData *)where)->data = copy;
        ((ProtobufCBinaryData *)where)->len = digits / 2;
        return 0;
    }
    default:
        return -1;
    }
}

/* Fills field of message from text. Returns 0 or -1. */
static int s_field(ProtobufCMessage *message, const ProtobufCFieldDescriptor *field,
                   const char *text, ProtobufCAllocator *allocator)
{
    char *base = (char *)message;
    size_t size = s_size(field->type);
    if (size == 0)
        return -1;
    if (field->label == PROTOBUF_C_LABEL_REPEATED) {
        char **items;
        size_t count;
        if (db_array_parse(text, allocator, &items, &count) != 0)
            return -1;
        void *values = items; /* strings: the parsed elements themselves */
        int rc = 0;
        if (field->type != PROTOBUF_C_TYPE_STRING) {
            values = allocator->alloc(allocator->allocator_data, count ? count * size : 1);
            rc = values ? 0 : -1;
            if (values)
                memset(values, 0, count ? count * size : 1);
            for (size_t i = 0; rc == 0 && i < count; i++)
                rc = s_value(field, items[i], (char *)values + i * size, allocator);
            for (size_t i = 0; i < count; i++)
                allocator->free(allocator->allocator_data, items[i]);
            allocator->free(allocator->allocator_data, items);
            if (rc != 0 && values) {
                if (field->type == PROTOBUF_C_TYPE_BYTES)
                    for (size_t i = 0; i < count; i++)
                        allocator->free(allocator->allocator_data,
                                        ((ProtobufCBinaryData *)values)[i].data);
                allocator->free(allocator->allocator_data, values);
            }
        }
        if (rc != 0)
            return -1;
        *(size_t *)(base + field->quantifier_offset) = count;
        *(void **)(base + field->offset) = values;
        return 0;
    }
    if (s_value(field, text, base + field->offset, allocator) != 0)
        return -1;
    if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        *(uint32_t *)(base + field->quantifier_offset) = field->id;
    else if (field->label == PROTOBUF_C_LABEL_OPTIONAL && field->type != PROTOBUF_C_TYPE_STRING)
        *(protobuf_c_boolean *)(base + field->quantifier_offset) = 1;
    return 0;
}

int db_message_from_row(const PGresult *res, int row, ProtobufCMessage *message,
                        ProtobufCAllocator *allocator)
{
    const ProtobufCMessageDescriptor *descriptor = message->descriptor;
    for (int column = 0; column < PQnfields(res); column++) {
        const char *name = PQfname(res, column);
        if (name[0] == '_')
            continue; /* the query's own, e.g. a page's key */
        const ProtobufCFieldDescriptor *field =
            protobuf_c_message_descriptor_get_field_by_name(descriptor, name);
        if (!field) {
            log_error("column names no field of the message", "column=%s message=%s", name,
                      descriptor->name);
            return -1;
        }
        if (PQgetisnull(res, row, column))
            continue;
        if (s_field(message, field, PQgetvalue(res, row, column), allocator) != 0) {
            log_error("column does not fit its field", "column=%s message=%s", name,
                      descriptor->name);
            return -1;
        }
    }
    return 0;
}
