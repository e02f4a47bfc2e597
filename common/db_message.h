/*
 * db_message.h - copying a result row into a protobuf message.
 *
 * A query names each column after the field it fills (AS field_name), or
 * starts its name with '_' to keep it for itself (e.g. "_seq", the key of a
 * page), and one call copies the row: the text of each column is read by the field's
 * type, as PostgreSQL writes it (integers in decimal, booleans t or f,
 * enums by their value's name or number, bytea in hex, arrays as their
 * literal for repeated fields). A NULL leaves the field as it is. Only
 * scalar fields are filled: a float or double (money and rates are never
 * floating point here) and a nested message are not.
 */
#ifndef CHUANG_DB_MESSAGE_H
#define CHUANG_DB_MESSAGE_H

#include <libpq-fe.h>
#include <protobuf-c/protobuf-c.h>

/* Fills message (initialised) from row of res, every column into the field
 * of its name but those whose name starts with '_'. Strings, bytes and repeated arrays are
 * allocated with allocator (whoever frees the message must use it). Returns 0, or -1 after logging
 * the column that names no field of the message, or whose text does not fit the field's type or
 * range; the message may then be partly filled. */
int db_message_from_row(const PGresult *res, int row, ProtobufCMessage *message,
                        ProtobufCAllocator *allocator);

#endif
