/*
 * pbjson.c - JSON <-> protobuf over protobuf-c's runtime descriptors; see
 * pbjson.h for the mapping.
 *
 * Both directions walk descriptor->fields and reach each member at
 * field->offset in the message's C struct, and its repeat count, has_ flag or
 * oneof case at field->quantifier_offset, as protobuf-c's own pack and unpack
 * do.
 *
 * Writing decides whether a field is present by protobuf-c's packing rules
 * (a oneof member when the case names it, a proto2 optional field by its has_
 * flag or a pointer other than the default, a proto3 field when not zero), so
 * the JSON holds exactly what the wire would.
 *
 * Reading builds the message as protobuf_c_message_unpack does: the struct is
 * calloc'd and set up by the generated init, and every string, byte buffer,
 * array and submessage is malloc'd and stored in the struct as soon as it
 * exists (an array with its count, its slots zeroed). So at every step, on an
 * error half way through too, protobuf_c_message_free_unpacked(message, NULL)
 * frees exactly what was allocated and nothing else: a default string left in
 * place by init is never freed because it equals the field's default_value.
 * A field may be set once only (its proto name and JSON name both given, or
 * two members of one oneof, are errors), so nothing allocated is ever
 * overwritten. The reader keeps the path of the field being read, as the
 * caller spelled it, for the error message.
 *
 * protobuf-c does not mark map fields. A repeated message field is taken for
 * a map when its type is the one protoc generates for a map: named after the
 * field (founder_shares -> FounderSharesEntry), with exactly the fields
 * key = 1 and value = 2, the key a string, integer or bool.
 */
#include "pbjson.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEMBER(message, offset)  ((void *)((char *)(message) + (offset)))
#define CMEMBER(message, offset) ((const void *)((const char *)(message) + (offset)))

/* ---------------------------------------------------------------- helpers */

/* Whether key is protoc's JSON name for the proto field name: underscores
 * dropped and the letter after each one upper-cased (founder_id -> founderId). */
static bool json_name_is(const char *name, const char *key)
{
    bool upper = false;
    for (; *name; name++) {
        char c = *name;
        if (c == '_') {
            upper = true;
            continue;
        }
        if (upper && c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        upper = false;
        if (*key++ != c)
            return false;
    }
    return *key == '\0';
}

void pbjson_json_name(const char *name, char *out)
{
    bool upper = false;
    for (; *name; name++) {
        char c = *name;
        if (c == '_') {
            upper = true;
            continue;
        }
        if (upper && c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        upper = false;
        *out++ = c;
    }
    *out = '\0';
}

static bool is_pointer_type(ProtobufCType type)
{
    return type == PROTOBUF_C_TYPE_STRING || type == PROTOBUF_C_TYPE_MESSAGE;
}

static bool is_64bit(ProtobufCType type)
{
    return type == PROTOBUF_C_TYPE_INT64 || type == PROTOBUF_C_TYPE_SINT64 ||
           type == PROTOBUF_C_TYPE_SFIXED64 || type == PROTOBUF_C_TYPE_UINT64 ||
           type == PROTOBUF_C_TYPE_FIXED64;
}

/* Size of one element of a repeated field's array, as protobuf-c lays it out. */
static size_t element_size(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        return sizeof(int32_t);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return sizeof(int64_t);
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    default:
        return 0;
    }
}

static bool is_map_key_type(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE:
    case PROTOBUF_C_TYPE_ENUM:
    case PROTOBUF_C_TYPE_BYTES:
    case PROTOBUF_C_TYPE_MESSAGE:
        return false;
    default:
        return element_size(type) != 0;
    }
}

/* Whether the field is a map: see the top of the file. */
static bool is_map(const ProtobufCFieldDescriptor *field)
{
    if (field->label != PROTOBUF_C_LABEL_REPEATED || field->type != PROTOBUF_C_TYPE_MESSAGE)
        return false;
    const ProtobufCMessageDescriptor *entry = field->descriptor;
    if (!entry || entry->n_fields != 2)
        return false;
    const ProtobufCFieldDescriptor *key = &entry->fields[0];
    const ProtobufCFieldDescriptor *value = &entry->fields[1];
    if (key->id != 1 || value->id != 2 || strcmp(key->name, "key") != 0 ||
        strcmp(value->name, "value") != 0 || key->label == PROTOBUF_C_LABEL_REPEATED ||
        value->label == PROTOBUF_C_LABEL_REPEATED || !is_map_key_type(key->type) ||
        (key->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) || (value->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
        return false;
    /* protoc's MapEntryName: CamelCase of the field name, then "Entry". */
    const char *s = entry->short_name;
    bool upper = true;
    for (const char *p = field->name; *p; p++) {
        char c = *p;
        if (c == '_') {
            upper = true;
            continue;
        }
        if (upper && c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        upper = false;
        if (*s++ != c)
            return false;
    }
    return strcmp(s, "Entry") == 0;
}

/* Marks a proto2 optional scalar as present (strings and submessages are
 * present by their pointer). */
static void mark_present(ProtobufCMessage *message, const ProtobufCFieldDescriptor *field)
{
    if (field->label == PROTOBUF_C_LABEL_OPTIONAL &&
        !(field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && !is_pointer_type(field->type))
        *(protobuf_c_boolean *)MEMBER(message, field->quantifier_offset) = 1;
}

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The value of a base64 digit in either alphabet, -1 for anything else. */
static int base64_digit(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Decodes base64 text, standard or URL-safe, padded or not (padding, when
 * present, must be right; unused trailing bits must be zero). On success
 * *data is malloc'd (NULL when empty). Returns 0, -1 for text that is not
 * base64, -2 when out of memory. */
static int base64_decode(const char *text, size_t len, uint8_t **data, size_t *size)
{
    size_t pad = 0;
    while (len > 0 && text[len - 1] == '=' && pad < 2) {
        len--;
        pad++;
    }
    if (len % 4 == 1 || (pad && (len + pad) % 4 != 0))
        return -1;
    size_t out_len = len / 4 * 3 + (len % 4 == 0 ? 0 : len % 4 - 1);
    uint8_t *out = NULL;
    if (out_len) {
        out = malloc(out_len);
        if (!out)
            return -2;
    }
    unsigned acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int digit = base64_digit((unsigned char)text[i]);
        if (digit < 0) {
            free(out);
            return -1;
        }
        acc = ((acc << 6) | (unsigned)digit) & 0xffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (acc & ((1u << bits) - 1)) {
        free(out);
        return -1;
    }
    *data = out;
    *size = out_len;
    return 0;
}

/* Standard base64 with padding, as a JSON string; NULL when out of memory. */
static json_t *base64_json(const uint8_t *data, size_t len)
{
    size_t out_len = (len + 2) / 3 * 4;
    char *out = malloc(out_len + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t chunk = (uint32_t)data[i] << 16;
        if (i + 1 < len)
            chunk |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < len)
            chunk |= data[i + 2];
        out[o++] = base64_alphabet[chunk >> 18 & 63];
        out[o++] = base64_alphabet[chunk >> 12 & 63];
        out[o++] = i + 1 < len ? base64_alphabet[chunk >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? base64_alphabet[chunk & 63] : '=';
    }
    json_t *json = json_stringn_nocheck(out, out_len);
    free(out);
    return json;
}

/* Whether s[0..len) is well-formed UTF-8 (no overlong forms, no surrogates,
 * nothing past U+10FFFF). */
static bool utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t extra;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            extra = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            extra = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            extra = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i <= extra)
            return false;
        for (size_t k = 1; k <= extra; k++) {
            unsigned cc = s[i + k];
            if ((cc & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (cc & 0x3f);
        }
        if (extra == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
            return false;
        if (extra == 3 && (cp < 0x10000 || cp > 0x10ffff))
            return false;
        i += extra + 1;
    }
    return true;
}

/* Parses an optional '-' and decimal digits, nothing else. Returns 0, -1 when
 * the text is not a decimal integer, -2 when its magnitude passes 2^64 - 1. */
static int parse_decimal(const char *s, size_t len, bool *negative, uint64_t *magnitude)
{
    size_t i = 0;
    *negative = len > 0 && s[0] == '-';
    if (*negative)
        i++;
    if (i == len)
        return -1;
    uint64_t m = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned digit = (unsigned)(s[i] - '0');
        if (m > (UINT64_MAX - digit) / 10)
            return -2;
        m = m * 10 + digit;
    }
    *magnitude = m;
    return 0;
}

/* ---------------------------------------------------------------- writing */

static json_t *write_message(const ProtobufCMessage *message, bool emit_defaults, int depth);

static json_t *write_double(double d)
{
    if (isnan(d))
        return json_string("NaN");
    if (isinf(d))
        return json_string(d > 0 ? "Infinity" : "-Infinity");
    return json_real(d);
}

/* A float as the double nearest its shortest decimal form (0.1f as 0.1, not
 * 0.100000001490116), which reads back as the same float. */
static json_t *write_float(float f)
{
    if (isnan(f) || isinf(f))
        return write_double((double)f);
    char buf[32];
    for (int precision = 1; precision <= 9; precision++) {
        snprintf(buf, sizeof buf, "%.*g", precision, (double)f);
        double d = strtod(buf, NULL);
        if ((float)d == f)
            return json_real(d);
    }
    return json_real((double)f);
}

/* One value of the field's type at member (for a repeated field, one element). */
static json_t *write_value(const ProtobufCFieldDescriptor *field, const void *member,
                           bool emit_defaults, int depth)
{
    char buf[32];
    switch (field->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer(*(const int32_t *)member);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_integer(*(const uint32_t *)member);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        snprintf(buf, sizeof buf, "%" PRId64, *(const int64_t *)member);
        return json_string(buf);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf(buf, sizeof buf, "%" PRIu64, *(const uint64_t *)member);
        return json_string(buf);
    case PROTOBUF_C_TYPE_FLOAT:
        return write_float(*(const float *)member);
    case PROTOBUF_C_TYPE_DOUBLE:
        return write_double(*(const double *)member);
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)member);
    case PROTOBUF_C_TYPE_ENUM: {
        int32_t number = *(const int32_t *)member;
        const ProtobufCEnumValue *value =
            protobuf_c_enum_descriptor_get_value(field->descriptor, number);
        return value ? json_string(value->name) : json_integer(number);
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)member;
        return json_string(s ? s : ""); /* NULL for invalid UTF-8 */
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *bytes = member;
        return base64_json(bytes->data, bytes->len);
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)member;
        return sub ? write_message(sub, emit_defaults, depth + 1) : json_null();
    }
    default:
        return NULL;
    }
}

/* Whether a proto3 field holds its default, by protobuf-c's field_is_zeroish. */
static bool is_zero(const ProtobufCFieldDescriptor *field, const void *member)
{
    switch (field->type) {
    case PROTOBUF_C_TYPE_BOOL:
        return *(const protobuf_c_boolean *)member == 0;
    case PROTOBUF_C_TYPE_FLOAT:
        return *(const float *)member == 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const double *)member == 0;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)member;
        return !s || !*s;
    }
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)member)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(ProtobufCMessage *const *)member == NULL;
    default:
        if (is_64bit(field->type))
            return *(const uint64_t *)member == 0;
        return *(const uint32_t *)member == 0;
    }
}

/* Whether a field that is neither repeated nor in a oneof is present, by
 * protobuf-c's packing rules. */
static bool is_present(const ProtobufCMessage *message, const ProtobufCFieldDescriptor *field)
{
    const void *member = CMEMBER(message, field->offset);
    switch (field->label) {
    case PROTOBUF_C_LABEL_REQUIRED:
        return true;
    case PROTOBUF_C_LABEL_OPTIONAL:
        if (is_pointer_type(field->type)) {
            const void *p = *(const void *const *)member;
            return p && p != field->default_value;
        }
        return *(const protobuf_c_boolean *)CMEMBER(message, field->quantifier_offset);
    default:
        return !is_zero(field, member);
    }
}

/* Sets object[JSON name of name] = value, taking value's reference even on
 * failure. Returns 0 or -1. */
static int set_field(json_t *object, const char *name, json_t *value)
{
    char small[64];
    size_t len = strlen(name);
    char *key = len < sizeof small ? small : malloc(len + 1);
    if (!key) {
        json_decref(value);
        return -1;
    }
    pbjson_json_name(name, key);
    int rc = json_object_set_new(object, key, value);
    if (key != small)
        free(key);
    return rc;
}

static json_t *write_array(const ProtobufCFieldDescriptor *field, const void *elements, size_t n,
                           bool emit_defaults, int depth)
{
    json_t *array = json_array();
    if (!array)
        return NULL;
    size_t size = element_size(field->type);
    for (size_t i = 0; i < n; i++) {
        json_t *value = write_value(field, (const char *)elements + i * size, emit_defaults, depth);
        if (!value || json_array_append_new(array, value) != 0) {
            json_decref(array);
            return NULL;
        }
    }
    return array;
}

/* The key of a map entry as JSON object key text, in buf when formatted. */
static const char *map_key_text(const ProtobufCFieldDescriptor *field, const void *member,
                                char *buf, size_t size)
{
    switch (field->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)member;
        return s ? s : "";
    }
    case PROTOBUF_C_TYPE_BOOL:
        return *(const protobuf_c_boolean *)member ? "true" : "false";
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        snprintf(buf, size, "%" PRIu32, *(const uint32_t *)member);
        return buf;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf(buf, size, "%" PRIu64, *(const uint64_t *)member);
        return buf;
    default:
        if (is_64bit(field->type))
            snprintf(buf, size, "%" PRId64, *(const int64_t *)member);
        else
            snprintf(buf, size, "%" PRId32, *(const int32_t *)member);
        return buf;
    }
}

static json_t *write_map(const ProtobufCFieldDescriptor *field, ProtobufCMessage *const *entries,
                         size_t n, bool emit_defaults, int depth)
{
    const ProtobufCMessageDescriptor *entry_descriptor = field->descriptor;
    const ProtobufCFieldDescriptor *key_field = &entry_descriptor->fields[0];
    const ProtobufCFieldDescriptor *value_field = &entry_descriptor->fields[1];
    json_t *object = json_object();
    if (!object)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const ProtobufCMessage *entry = entries[i];
        if (!entry)
            continue;
        char buf[32];
        const char *key =
            map_key_text(key_field, CMEMBER(entry, key_field->offset), buf, sizeof buf);
        json_t *value =
            write_value(value_field, CMEMBER(entry, value_field->offset), emit_defaults, depth);
        if (!value || json_object_set_new(object, key, value) != 0) {
            json_decref(object);
            return NULL;
        }
    }
    return object;
}

static json_t *write_message(const ProtobufCMessage *message, bool emit_defaults, int depth)
{
    if (depth > PBJSON_MAX_DEPTH)
        return NULL;
    const ProtobufCMessageDescriptor *descriptor = message->descriptor;
    json_t *object = json_object();
    if (!object)
        return NULL;
    for (unsigned f = 0; f < descriptor->n_fields; f++) {
        const ProtobufCFieldDescriptor *field = &descriptor->fields[f];
        const void *member = CMEMBER(message, field->offset);
        const void *quantifier = CMEMBER(message, field->quantifier_offset);
        json_t *value;
        if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*(const uint32_t *)quantifier != field->id)
                continue;
            if (is_pointer_type(field->type)) {
                const void *p = *(const void *const *)member;
                if (!p || p == field->default_value)
                    continue;
            }
            value = write_value(field, member, emit_defaults, depth);
        } else if (field->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)quantifier;
            if (n == 0 && !emit_defaults)
                continue;
            const void *elements = *(const void *const *)member;
            if (is_map(field))
                value = write_map(field, elements, n, emit_defaults, depth);
            else
                value = write_array(field, elements, n, emit_defaults, depth);
        } else if (!is_present(message, field)) {
            if (!emit_defaults)
                continue;
            if (field->label == PROTOBUF_C_LABEL_OPTIONAL)
                value = json_null();
            else
                value = write_value(field, member, emit_defaults, depth);
        } else {
            value = write_value(field, member, emit_defaults, depth);
        }
        if (!value || set_field(object, field->name, value) != 0) {
            json_decref(object);
            return NULL;
        }
    }
    return object;
}

json_t *pbjson_from_message(const ProtobufCMessage *message, bool emit_defaults)
{
    if (!message || !message->descriptor)
        return NULL;
    return write_message(message, emit_defaults, 1);
}

/* ---------------------------------------------------------------- reading */

typedef struct {
    char *err;
    size_t err_size;
    char path[512]; /* the field being read, e.g. founders[1].amount */
    size_t path_len;
} reader_t;

static int fail(reader_t *r, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* Writes "field \"<path>\": <message>" (or the message alone at the top
 * level) into the caller's err. Returns -1. */
static int fail(reader_t *r, const char *format, ...)
{
    if (!r->err || r->err_size == 0)
        return -1;
    char message[256];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    if (r->path_len)
        snprintf(r->err, r->err_size, "field \"%s\": %s", r->path, message);
    else
        snprintf(r->err, r->err_size, "%s", message);
    return -1;
}

static size_t path_push(reader_t *r, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* Appends to the path (truncated to fit); returns the length to restore. */
static size_t path_push(reader_t *r, const char *format, ...)
{
    size_t mark = r->path_len;
    size_t room = sizeof r->path - mark;
    if (room > 1) {
        va_list args;
        va_start(args, format);
        int n = vsnprintf(r->path + mark, room, format, args);
        va_end(args);
        if (n > 0)
            r->path_len = (size_t)n < room ? mark + (size_t)n : sizeof r->path - 1;
    }
    return mark;
}

static size_t path_push_field(reader_t *r, const char *key)
{
    return path_push(r, "%s%s", r->path_len ? "." : "", key);
}

static void path_pop(reader_t *r, size_t mark)
{
    r->path_len = mark;
    r->path[mark] = '\0';
}

static ProtobufCMessage *read_message(reader_t *r, const ProtobufCMessageDescriptor *descriptor,
                                      json_t *json, int depth);

/* An integer from JSON as sign and magnitude, so that the whole of int64 and
 * uint64 fits: a JSON integer, a number with a zero fraction, or (when
 * allow_string) a decimal string. */
static int read_integer(reader_t *r, json_t *json, bool allow_string, bool *negative,
                        uint64_t *magnitude)
{
    if (json_is_integer(json)) {
        json_int_t v = json_integer_value(json);
        *negative = v < 0;
        *magnitude = v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;
        return 0;
    }
    if (json_is_real(json)) {
        double d = json_real_value(json);
        *negative = d < 0;
        double a = *negative ? -d : d;
        if (!(a < 18446744073709551616.0)) /* 2^64; also NaN */
            return fail(r, "integer out of range");
        *magnitude = (uint64_t)a;
        if ((double)*magnitude != a)
            return fail(r, "expected an integer");
        return 0;
    }
    if (allow_string && json_is_string(json)) {
        int rc =
            parse_decimal(json_string_value(json), json_string_length(json), negative, magnitude);
        if (rc == -2)
            return fail(r, "integer out of range");
        if (rc == 0)
            return 0;
    }
    return fail(r,
                allow_string ? "expected an integer or a decimal string" : "expected an integer");
}

/* Stores an integer of the given type at out, refusing values outside the
 * type's range. */
static int store_integer(reader_t *r, ProtobufCType type, bool negative, uint64_t magnitude,
                         void *out)
{
    const char *name;
    uint64_t max; /* of the magnitude of a positive value */
    uint64_t min; /* of the magnitude of a negative value */
    switch (type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        name = type == PROTOBUF_C_TYPE_ENUM ? "enum" : "int32";
        max = INT32_MAX;
        min = (uint64_t)INT32_MAX + 1;
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        name = "uint32";
        max = UINT32_MAX;
        min = 0;
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        name = "int64";
        max = INT64_MAX;
        min = (uint64_t)INT64_MAX + 1;
        break;
    default:
        name = "uint64";
        max = UINT64_MAX;
        min = 0;
        break;
    }
    if (negative ? magnitude > min : magnitude > max)
        return fail(r, "integer out of range for %s", name);
    if (type == PROTOBUF_C_TYPE_UINT32 || type == PROTOBUF_C_TYPE_FIXED32)
        *(uint32_t *)out = (uint32_t)magnitude;
    else if (type == PROTOBUF_C_TYPE_UINT64 || type == PROTOBUF_C_TYPE_FIXED64)
        *(uint64_t *)out = magnitude;
    else {
        /* -(magnitude - 1) - 1 stays in range for the most negative value */
        int64_t v = negative && magnitude ? -(int64_t)(magnitude - 1) - 1 : (int64_t)magnitude;
        if (is_64bit(type))
            *(int64_t *)out = v;
        else
            *(int32_t *)out = (int32_t)v;
    }
    return 0;
}

static int read_double(reader_t *r, json_t *json, double *out)
{
    if (json_is_number(json)) {
        *out = json_number_value(json);
        return 0;
    }
    if (json_is_string(json)) {
        const char *s = json_string_value(json);
        if (strcmp(s, "NaN") == 0) {
            *out = NAN;
            return 0;
        }
        if (strcmp(s, "Infinity") == 0) {
            *out = INFINITY;
            return 0;
        }
        if (strcmp(s, "-Infinity") == 0) {
            *out = -INFINITY;
            return 0;
        }
    }
    return fail(r, "expected a number");
}

/* A malloc'd copy of a JSON string that is valid UTF-8 without NUL. */
static int read_string(reader_t *r, json_t *json, const char *what, char **out)
{
    if (!json_is_string(json))
        return fail(r, "expected %s", what);
    const char *s = json_string_value(json);
    size_t len = json_string_length(json);
    if (memchr(s, '\0', len))
        return fail(r, "string contains a nul character");
    if (!utf8_valid((const unsigned char *)s, len))
        return fail(r, "invalid utf-8");
    char *copy = malloc(len + 1);
    if (!copy)
        return fail(r, "out of memory");
    memcpy(copy, s, len + 1);
    *out = copy;
    return 0;
}

/* Reads one value of the field's type into member (for a repeated field, one
 * element). member holds no allocation of ours: it is overwritten. */
static int read_value(reader_t *r, const ProtobufCFieldDescriptor *field, json_t *json,
                      void *member, int depth)
{
    bool negative;
    uint64_t magnitude;
    switch (field->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if (read_integer(r, json, is_64bit(field->type), &negative, &magnitude) != 0)
            return -1;
        return store_integer(r, field->type, negative, magnitude, member);
    case PROTOBUF_C_TYPE_FLOAT: {
        double d;
        if (read_double(r, json, &d) != 0)
            return -1;
        if (!isinf(d) && (d > FLT_MAX || d < -FLT_MAX))
            return fail(r, "number out of range for float");
        *(float *)member = (float)d;
        return 0;
    }
    case PROTOBUF_C_TYPE_DOUBLE:
        return read_double(r, json, member);
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(json))
            return fail(r, "expected true or false");
        *(protobuf_c_boolean *)member = json_is_true(json);
        return 0;
    case PROTOBUF_C_TYPE_ENUM:
        if (json_is_string(json)) {
            const char *name = json_string_value(json);
            const ProtobufCEnumValue *value =
                protobuf_c_enum_descriptor_get_value_by_name(field->descriptor, name);
            if (!value)
                return fail(r, "unknown enum value \"%s\"", name);
            *(int32_t *)member = value->value;
            return 0;
        }
        if (!json_is_number(json))
            return fail(r, "expected an enum name or number");
        if (read_integer(r, json, false, &negative, &magnitude) != 0)
            return -1;
        return store_integer(r, field->type, negative, magnitude, member);
    case PROTOBUF_C_TYPE_STRING:
        return read_string(r, json, "a string", member);
    case PROTOBUF_C_TYPE_BYTES: {
        if (!json_is_string(json))
            return fail(r, "expected a base64 string");
        ProtobufCBinaryData *bytes = member;
        int rc = base64_decode(json_string_value(json), json_string_length(json), &bytes->data,
                               &bytes->len);
        if (rc == -2)
            return fail(r, "out of memory");
        if (rc != 0)
            return fail(r, "invalid base64");
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        ProtobufCMessage *sub = read_message(r, field->descriptor, json, depth + 1);
        if (!sub)
            return -1;
        *(ProtobufCMessage **)member = sub;
        return 0;
    }
    default:
        return fail(r, "unsupported field type");
    }
}

/* Reads a JSON array into a repeated field. */
static int read_array(reader_t *r, ProtobufCMessage *message, const ProtobufCFieldDescriptor *field,
                      json_t *json, int depth)
{
    if (!json_is_array(json))
        return fail(r, "expected an array");
    size_t n = json_array_size(json);
    if (n == 0)
        return 0;
    size_t size = element_size(field->type);
    if (size == 0)
        return fail(r, "unsupported field type");
    char *elements = calloc(n, size);
    if (!elements)
        return fail(r, "out of memory");
    *(void **)MEMBER(message, field->offset) = elements;
    *(size_t *)MEMBER(message, field->quantifier_offset) = n;
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(json, i);
        size_t mark = path_push(r, "[%zu]", i);
        int rc = json_is_null(item) ? fail(r, "null is not allowed in an array")
                                    : read_value(r, field, item, elements + i * size, depth);
        path_pop(r, mark);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* Reads a map key (JSON object key text) into the entry's key field. */
static int read_map_key(reader_t *r, const ProtobufCFieldDescriptor *field, const char *key,
                        void *member)
{
    size_t len = strlen(key);
    if (field->type == PROTOBUF_C_TYPE_STRING) {
        if (!utf8_valid((const unsigned char *)key, len))
            return fail(r, "invalid utf-8");
        char *copy = strdup(key);
        if (!copy)
            return fail(r, "out of memory");
        *(char **)member = copy;
        return 0;
    }
    if (field->type == PROTOBUF_C_TYPE_BOOL) {
        if (strcmp(key, "true") != 0 && strcmp(key, "false") != 0)
            return fail(r, "map key: expected true or false");
        *(protobuf_c_boolean *)member = strcmp(key, "true") == 0;
        return 0;
    }
    bool negative;
    uint64_t magnitude;
    int rc = parse_decimal(key, len, &negative, &magnitude);
    if (rc == -2)
        return fail(r, "map key: integer out of range");
    if (rc != 0)
        return fail(r, "map key: expected a decimal integer");
    return store_integer(r, field->type, negative, magnitude, member);
}

/* Reads one map entry into *slot: a new entry message holding key and item. */
static int read_map_entry(reader_t *r, const ProtobufCMessageDescriptor *entry_descriptor,
                          const char *key, json_t *item, ProtobufCMessage **slot, int depth)
{
    const ProtobufCFieldDescriptor *key_field = &entry_descriptor->fields[0];
    const ProtobufCFieldDescriptor *value_field = &entry_descriptor->fields[1];
    ProtobufCMessage *entry = calloc(1, entry_descriptor->sizeof_message);
    if (!entry)
        return fail(r, "out of memory");
    protobuf_c_message_init(entry_descriptor, entry);
    *slot = entry;
    if (read_map_key(r, key_field, key, MEMBER(entry, key_field->offset)) != 0)
        return -1;
    mark_present(entry, key_field);
    if (json_is_null(item))
        return fail(r, "null is not allowed as a map value");
    if (read_value(r, value_field, item, MEMBER(entry, value_field->offset), depth) != 0)
        return -1;
    mark_present(entry, value_field);
    return 0;
}

/* Reads a JSON object into a map field: one entry message per key. */
static int read_map(reader_t *r, ProtobufCMessage *message, const ProtobufCFieldDescriptor *field,
                    json_t *json, int depth)
{
    if (!json_is_object(json))
        return fail(r, "expected an object");
    size_t n = json_object_size(json);
    if (n == 0)
        return 0;
    ProtobufCMessage **entries = calloc(n, sizeof *entries);
    if (!entries)
        return fail(r, "out of memory");
    *(ProtobufCMessage ***)MEMBER(message, field->offset) = entries;
    *(size_t *)MEMBER(message, field->quantifier_offset) = n;
    size_t i = 0;
    const char *key;
    json_t *item;
    json_object_foreach(json, key, item)
    {
        size_t mark = path_push(r, "[%s]", key);
        int rc = read_map_entry(r, field->descriptor, key, item, &entries[i++], depth);
        path_pop(r, mark);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* Reads one field of message from the JSON value given for it. seen[] records,
 * per field index, 1 when given as null and 2 when given a value. */
static int read_field(reader_t *r, ProtobufCMessage *message, const ProtobufCFieldDescriptor *field,
                      json_t *json, unsigned char *seen, int depth)
{
    size_t index = (size_t)(field - message->descriptor->fields);
    if (seen[index])
        return fail(r, "field given twice (by its proto name and its json name)");
    seen[index] = json_is_null(json) ? 1 : 2;
    if (json_is_null(json))
        return 0;
    if (field->label == PROTOBUF_C_LABEL_REPEATED)
        return is_map(field) ? read_map(r, message, field, json, depth)
                             : read_array(r, message, field, json, depth);
    void *member = MEMBER(message, field->offset);
    if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *oneof_case = MEMBER(message, field->quantifier_offset);
        if (*oneof_case != 0)
            return fail(r, "another field of the same oneof is already set");
        if (read_value(r, field, json, member, depth) != 0)
            return -1;
        *oneof_case = field->id;
        return 0;
    }
    if (read_value(r, field, json, member, depth) != 0)
        return -1;
    mark_present(message, field);
    return 0;
}

const ProtobufCFieldDescriptor *pbjson_field(const ProtobufCMessageDescriptor *descriptor,
                                             const char *key)
{
    const ProtobufCFieldDescriptor *field =
        protobuf_c_message_descriptor_get_field_by_name(descriptor, key);
    if (field)
        return field;
    for (unsigned f = 0; f < descriptor->n_fields; f++)
        if (json_name_is(descriptor->fields[f].name, key))
            return &descriptor->fields[f];
    return NULL;
}

static ProtobufCMessage *read_message(reader_t *r, const ProtobufCMessageDescriptor *descriptor,
                                      json_t *json, int depth)
{
    if (!json_is_object(json)) {
        fail(r, "expected an object");
        return NULL;
    }
    if (depth > PBJSON_MAX_DEPTH) {
        fail(r, "messages nest deeper than %d levels", PBJSON_MAX_DEPTH);
        return NULL;
    }
    ProtobufCMessage *message = calloc(1, descriptor->sizeof_message);
    unsigned char *seen = calloc(descriptor->n_fields + 1, 1);
    if (!message || !seen) {
        free(message);
        free(seen);
        fail(r, "out of memory");
        return NULL;
    }
    protobuf_c_message_init(descriptor, message);

    const char *key;
    json_t *value;
    json_object_foreach(json, key, value)
    {
        size_t mark = path_push_field(r, key);
        const ProtobufCFieldDescriptor *field = pbjson_field(descriptor, key);
        int rc =
            field ? read_field(r, message, field, value, seen, depth) : fail(r, "unknown field");
        path_pop(r, mark);
        if (rc != 0)
            goto error;
    }
    for (unsigned f = 0; f < descriptor->n_fields; f++) {
        if (descriptor->fields[f].label == PROTOBUF_C_LABEL_REQUIRED && seen[f] != 2) {
            size_t mark = path_push_field(r, descriptor->fields[f].name);
            fail(r, "missing required field");
            path_pop(r, mark);
            goto error;
        }
    }
    free(seen);
    return message;

error:
    free(seen);
    protobuf_c_message_free_unpacked(message, NULL);
    return NULL;
}

ProtobufCMessage *pbjson_to_message(const ProtobufCMessageDescriptor *descriptor, json_t *json,
                                    char *err, size_t err_size)
{
    reader_t r = {.err = err, .err_size = err_size};
    if (err && err_size)
        err[0] = '\0';
    if (!descriptor) {
        fail(&r, "no message type given");
        return NULL;
    }
    return read_message(&r, descriptor, json, 1);
}

void pbjson_message_free(ProtobufCMessage *message)
{
    if (message)
        protobuf_c_message_free_unpacked(message, NULL);
}
