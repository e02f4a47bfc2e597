/*
 * pbjson.h - any protobuf message to and from JSON, following the proto3 JSON
 * mapping, driven by protobuf-c's runtime descriptors.
 *
 * One pair of functions serves every message type: the converter walks the
 * ProtobufCMessageDescriptor of the message (the generated
 * package__type__descriptor), so tools that speak any method by name
 * (chuangctl) and the HTTP gateway need no per-type code.
 *
 * The mapping, for both directions:
 *   - field names are the lowerCamelCase JSON name (founder_id -> founderId);
 *     when reading, the original proto name is accepted too;
 *   - int64, uint64, fixed64, sint64 and sfixed64 are decimal strings (JSON
 *     numbers lose precision past 2^53); when reading, numbers are accepted too;
 *   - the other integers are numbers; bool is true/false;
 *   - float and double are numbers, or the strings "NaN", "Infinity" and
 *     "-Infinity";
 *   - enums are the value's name, or its number when the number has no name;
 *     when reading, names and numbers are accepted;
 *   - bytes are standard base64 with padding; when reading, the URL-safe
 *     alphabet and missing padding are accepted too;
 *   - repeated fields are arrays, nested messages objects, map fields objects
 *     keyed by the key's string form (string, integer and bool keys);
 *   - null means "unset".
 * Well-known types (Timestamp, Duration, wrappers, Struct) get no special
 * form: they are converted as the ordinary messages they are. Unknown fields
 * a message kept from the wire are not written.
 *
 * Messages may nest PBJSON_MAX_DEPTH levels deep at most (the top-level
 * message is level 1); deeper input is refused in both directions.
 */
#ifndef CHUANG_PBJSON_H
#define CHUANG_PBJSON_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

#define PBJSON_MAX_DEPTH 32

/* Converts a message to a JSON object following the mapping above.
 *
 * Fields without presence (proto3 scalars, strings, bytes, repeated and map
 * fields) are omitted when at their default (0, "", false, empty) and a
 * submessage is omitted when NULL, unless emit_defaults is true: then every
 * field is written, an unset submessage or unset proto2 optional field as
 * null. A oneof is written as its one set member (even at its default value)
 * and nothing when no member is set, whatever emit_defaults says. A proto2
 * optional field is written when set, even at its default value.
 *
 * Returns a new reference (the caller owns it and json_decref()s it), or NULL
 * on allocation failure, when a string field holds invalid UTF-8 (JSON cannot
 * carry it) or when messages nest deeper than PBJSON_MAX_DEPTH. */
json_t *pbjson_from_message(const ProtobufCMessage *message, bool emit_defaults);

/* Builds a message of the given type from a JSON object. Accepts both the
 * lowerCamelCase JSON name and the original proto field name (not both for
 * the same field); 64-bit integers as numbers or decimal strings, the other
 * integers as numbers only (a number with a zero fraction, like 3.0, counts);
 * enums by name or number; bytes as base64; null as "unset".
 *
 * Unknown fields, wrong types, out-of-range integers, invalid base64, invalid
 * UTF-8, strings holding a NUL character, unknown enum names, two members of
 * one oneof, a missing proto2 required field and nesting deeper than
 * PBJSON_MAX_DEPTH are errors: returns NULL and writes a short lower-case
 * message naming the field path, as the caller spelled it, into err (size
 * err_size, truncated to fit; err may be NULL), e.g.
 *
 *   field "founders[1].amount": expected an integer
 *
 * Map entries appear in the path as name[key]. The JSON is only read; the
 * caller keeps its reference.
 *
 * On success the caller owns the message and frees it with
 * pbjson_message_free(). Every part of it is allocated with malloc, so
 * protobuf_c_message_free_unpacked(message, NULL) frees it as well. */
ProtobufCMessage *pbjson_to_message(const ProtobufCMessageDescriptor *descriptor, json_t *json,
                                    char *err, size_t err_size);

/* Writes the JSON name of the proto field name into out, which holds
 * strlen(name) + 1 bytes (founder_id -> founderId). */
void pbjson_json_name(const char *name, char *out);

/* The field of descriptor that key names, by its proto or its JSON name;
 * NULL when none. */
const ProtobufCFieldDescriptor *pbjson_field(const ProtobufCMessageDescriptor *descriptor,
                                             const char *key);

/* Frees a message built by pbjson_to_message; safe with NULL. */
void pbjson_message_free(ProtobufCMessage *message);

#endif
