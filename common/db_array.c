/*
 * db_array.c - PostgreSQL array literals; see db_array.h.
 *
 * The text form is PostgreSQL's array output: braces around elements
 * separated by commas; an element is either bare (no quote, brace, comma,
 * backslash or white space in it, and NULL meaning a null) or in double
 * quotes with \" and \\ escaped. Parsing takes two passes over the text, one
 * to count and measure, one to copy, so that it allocates exactly once per
 * element and never on bad input.
 */
#include "db_array.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

char *db_text_array(char *const *items, size_t count)
{
    size_t size = 3;
    for (size_t i = 0; i < count; i++)
        size += 2 * strlen(items[i]) + 3;
    char *literal = malloc(size);
    if (!literal)
        return NULL;
    char *out = literal;
    *out++ = '{';
    for (size_t i = 0; i < count; i++) {
        if (i)
            *out++ = ',';
        *out++ = '"';
        for (const char *in = items[i]; *in; in++) {
            if (*in == '"' || *in == '\\')
                *out++ = '\\';
            *out++ = *in;
        }
        *out++ = '"';
    }
    *out++ = '}';
    *out = '\0';
    return literal;
}

/* Reads the element at *in (copying it into out when out is not NULL) and
 * moves *in past it. Returns its length, or -1 when it is malformed or a
 * bare NULL. */
static long s_element(const char **in, char *out)
{
    const char *p = *in;
    long length = 0;
    if (*p == '"') {
        for (p++; *p != '"'; p++, length++) {
            if (*p == '\\')
                p++;
            if (*p == '\0')
                return -1;
            if (out)
                out[length] = *p;
        }
        p++;
    } else {
        const char *start = p;
        while (*p && *p != ',' && *p != '}') {
            if (*p == '"' || *p == '{' || *p == '\\')
                return -1;
            p++;
        }
        length = p - start;
        if (length == 0 || (length == 4 && strncmp(start, "NULL", 4) == 0))
            return -1;
        if (out)
            memcpy(out, start, (size_t)length);
    }
    if (out)
        out[length] = '\0';
    *in = p;
    return length;
}

/* Walks literal's elements; with items NULL only checks it and counts, else
 * copies element i into items[i] (allocated with allocator). Returns the
 * number of elements or -1. */
static long s_walk(const char *literal, ProtobufCAllocator *allocator, char **items)
{
    const char *p = literal;
    if (*p++ != '{')
        return -1;
    long count = 0;
    if (*p == '}')
        return p[1] == '\0' ? 0 : -1;
    for (;;) {
        const char *start = p;
        long length = s_element(&p, NULL);
        if (length < 0)
            return -1;
        if (items) {
            items[count] = allocator->alloc(allocator->allocator_data, (size_t)length + 1);
            if (!items[count])
                return -1;
            p = start;
            s_element(&p, items[count]);
        }
        count++;
        if (*p == '}')
            return p[1] == '\0' ? count : -1;
        if (*p++ != ',')
            return -1;
    }
}

int db_array_parse(const char *literal, ProtobufCAllocator *allocator, char ***items, size_t *count)
{
    long n = literal ? s_walk(literal, allocator, NULL) : -1;
    if (n < 0)
        return -1;
    char **array = allocator->alloc(allocator->allocator_data, (size_t)(n ? n : 1) * sizeof *array);
    if (!array)
        return -1;
    memset(array, 0, (size_t)(n ? n : 1) * sizeof *array);
    if (s_walk(literal, allocator, array) != n) {
        /* Only when memory ran out midway: free what was copied. */
        for (long i = 0; i < n && array[i]; i++)
            allocator->free(allocator->allocator_data, array[i]);
        allocator->free(allocator->allocator_data, array);
        return -1;
    }
    *items = array;
    *count = (size_t)n;
    return 0;
}
