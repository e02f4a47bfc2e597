/*
 * db_array.h - PostgreSQL array literals, both ways: the text form of a
 * one-dimensional array ("{a,"b c",NULL}") that a $n::text[] parameter
 * takes and that a text result of an array column holds.
 */
#ifndef CHUANG_DB_ARRAY_H
#define CHUANG_DB_ARRAY_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/* A PostgreSQL array literal of count texts, for a $n::text[] parameter:
 * every item quoted and escaped, so any text is one element. Returns a
 * string the caller frees; NULL only when memory runs out. */
char *db_text_array(char *const *items, size_t count);

/* Splits literal, the text of a one-dimensional array value, into its
 * elements: *items gets an array of *count strings, the array and every
 * string allocated with allocator (the caller frees them with it, or not at
 * all when the allocator frees everything at once). Returns 0, or -1 when
 * literal is not such an array or holds a NULL element (nothing is then
 * allocated that the caller must free). */
int db_array_parse(const char *literal, ProtobufCAllocator *allocator, char ***items,
                   size_t *count);

#endif
