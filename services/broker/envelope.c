/*
 * envelope.c - the chuang.Request header read and replaced at the wire
 * level; see envelope.h for what it promises.
 *
 * A packed message is a sequence of fields, each a tag (a varint holding
 * the field number and the wire type) and a value whose length the wire
 * type gives: a varint, 8 bytes, a length-prefixed run of bytes, or 4
 * bytes. The reader walks that sequence without knowing the fields, as
 * every protobuf decoder does for unknown ones, and reads tags and lengths
 * with protobuf-c's limits, so that it finds the fields a worker's decoder
 * finds. Groups (wire types 3 and 4, long deprecated, unused by chuang and
 * refused by protobuf-c) are taken as malformed.
 *
 * The stamped body is built, not edited: the stamped header, then the
 * payload. Nothing else of the original is copied, so no byte the sender
 * chose can reach a worker as part of a header.
 */
#include "envelope.h"

#include <stdbool.h>

#define VARINT_MAX 10 /* bytes of a varint value at most */
#define TAG_MAX    5  /* bytes of a tag, as protobuf-c reads it */
#define LENGTH_MAX 5  /* bytes of a length prefix, likewise */

enum { WIRE_VARINT = 0, WIRE_FIXED64 = 1, WIRE_LEN = 2, WIRE_FIXED32 = 5 };

typedef struct {
    uint32_t number;
    int wire_type;
    const uint8_t *value; /* a length-prefixed field's bytes */
    size_t value_size;
} field_t;

/* Reads the varint of at most max bytes at *p, before end, into *value
 * (bits past 64 lost) and moves *p past it; false when it runs past end or
 * past max bytes. */
static bool s_varint(const uint8_t **p, const uint8_t *end, int max, uint64_t *value)
{
    *value = 0;
    for (int i = 0; i < max && *p < end; i++) {
        uint8_t byte = *(*p)++;
        *value |= (uint64_t)(byte & 0x7f) << (7 * i);
        if (!(byte & 0x80))
            return true;
    }
    return false;
}

/* Reads the field at *p, before end, into *field and moves *p past it;
 * false when it is malformed. Like protobuf-c: a tag has at most 5 bytes,
 * its field number is cut to 32 bits, and a first byte that holds no field
 * number bits is refused; a length has at most 5 bytes and is below 2 GiB. */
static bool s_field(const uint8_t **p, const uint8_t *end, field_t *field)
{
    uint64_t tag, length;
    if (*p < end && (**p & 0xf8) == 0)
        return false;
    if (!s_varint(p, end, TAG_MAX, &tag))
        return false;
    field->number = (uint32_t)(tag >> 3);
    field->wire_type = (int)(tag & 7);
    field->value = NULL;
    field->value_size = 0;
    switch (field->wire_type) {
    case WIRE_VARINT:
        return s_varint(p, end, VARINT_MAX, &length);
    case WIRE_FIXED64:
    case WIRE_FIXED32:
        length = field->wire_type == WIRE_FIXED64 ? 8 : 4;
        if ((size_t)(end - *p) < length)
            return false;
        *p += length;
        return true;
    case WIRE_LEN:
        if (!s_varint(p, end, LENGTH_MAX, &length) || length > INT32_MAX ||
            length > (uint64_t)(end - *p))
            return false;
        field->value = *p;
        field->value_size = (size_t)length;
        *p += length;
        return true;
    default:
        return false;
    }
}

/* The number of the Request's field called name. */
static uint32_t s_number(const char *name)
{
    return protobuf_c_message_descriptor_get_field_by_name(&chuang__request__descriptor, name)->id;
}

/* Writes value as a varint at out; returns the bytes written. */
static size_t s_put_varint(uint8_t *out, uint64_t value)
{
    size_t size = 0;
    while (value >= 0x80) {
        out[size++] = (uint8_t)(value | 0x80);
        value >>= 7;
    }
    out[size++] = (uint8_t)value;
    return size;
}

/* Writes a length-prefixed field's tag and length at out; returns the bytes
 * written (at most 2 * VARINT_MAX). */
static size_t s_put_prefix(uint8_t *out, uint32_t number, size_t length)
{
    size_t size = s_put_varint(out, (uint64_t)number << 3 | WIRE_LEN);
    return size + s_put_varint(out + size, length);
}

int envelope_header(const uint8_t *data, size_t size, Chuang__RequestHeader **header_p)
{
    *header_p = NULL;
    const uint32_t number = s_number("header"), payload = s_number("payload");
    const uint8_t *p = data, *end = data ? data + size : data;
    field_t field, first = {0};
    size_t count = 0;
    while (p < end) {
        if (!s_field(&p, end, &field))
            return -1;
        /* protobuf-c refuses a known field of the wrong wire type. */
        if ((field.number == number || field.number == payload) && field.wire_type != WIRE_LEN)
            return -1;
        if (field.number != number)
            continue;
        if (count++ == 0)
            first = field;
    }
    if (count == 0)
        return 0;
    if (count == 1) {
        *header_p = chuang__request_header__unpack(NULL, first.value_size, first.value);
        return *header_p ? 1 : -1;
    }
    /* Several header fields, which no chuang client sends: the header is
     * what protobuf-c makes of them, as for a worker. */
    Chuang__Request *request = chuang__request__unpack(NULL, size, data);
    if (request) {
        *header_p = request->header;
        request->header = NULL;
        chuang__request__free_unpacked(request, NULL);
    }
    return *header_p ? 1 : -1;
}

zframe_t *envelope_restamp(const uint8_t *data, size_t size, const Chuang__RequestHeader *header)
{
    const uint32_t number = s_number("header"), payload = s_number("payload");
    const uint8_t *p = data, *end = data ? data + size : data;
    field_t field, last = {0};
    /* A bytes field given more than once has its last value. */
    while (p < end) {
        if (!s_field(&p, end, &field))
            return NULL;
        if (field.number == payload)
            last = field;
    }
    /* Header fields this broker does not know are left out: a newer version's
     * field may be one that only a broker sets. */
    Chuang__RequestHeader known = *header;
    known.base.n_unknown_fields = 0;
    known.base.unknown_fields = NULL;
    uint8_t header_prefix[2 * VARINT_MAX], payload_prefix[2 * VARINT_MAX];
    size_t header_size = chuang__request_header__get_packed_size(&known);
    size_t header_prefix_size = s_put_prefix(header_prefix, number, header_size);
    size_t payload_prefix_size =
        last.value_size ? s_put_prefix(payload_prefix, payload, last.value_size) : 0;

    zframe_t *frame =
        zframe_new(NULL, header_prefix_size + header_size + payload_prefix_size + last.value_size);
    if (!frame)
        return NULL;
    uint8_t *out = zframe_data(frame);
    memcpy(out, header_prefix, header_prefix_size);
    out += header_prefix_size;
    out += chuang__request_header__pack(&known, out);
    if (last.value_size) {
        memcpy(out, payload_prefix, payload_prefix_size);
        memcpy(out + payload_prefix_size, last.value, last.value_size);
    }
    return frame;
}
