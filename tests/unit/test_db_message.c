/*
 * test_db_message.c - array literals both ways (db_array.h) and a result
 * row into a protobuf message (db_message.h), on results made in memory
 * with libpq's PQmakeEmptyPGresult / PQsetvalue, no server.
 */
#include "db_array.h"
#include "db_message.h"
#include "pbjson_test.pb-c.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* malloc and free, as protobuf-c's free_unpacked(.., NULL) frees. */
static void *s_alloc(void *data, size_t size)
{
    (void)data;
    return malloc(size);
}

static void s_free(void *data, void *pointer)
{
    (void)data;
    free(pointer);
}

static ProtobufCAllocator s_malloc = {s_alloc, s_free, NULL};

/* A result of one row whose columns are names[i] with values[i] (NULL: a
 * null). */
static PGresult *s_row(int count, const char *const *names, const char *const *values)
{
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc attrs[32];
    memset(attrs, 0, sizeof attrs);
    for (int i = 0; i < count; i++) {
        attrs[i].name = (char *)names[i];
        attrs[i].format = 0;
        attrs[i].typlen = -1;
        attrs[i].atttypmod = -1;
    }
    assert_true(PQsetResultAttrs(res, count, attrs));
    for (int i = 0; i < count; i++)
        assert_true(
            PQsetvalue(res, 0, i, (char *)values[i], values[i] ? (int)strlen(values[i]) : -1));
    return res;
}

static void test_array_literals_round_trip(void **state)
{
    (void)state;
    char *items[4] = {"plain", "with \"quotes\" and \\", "a,b {c}", ""};
    char *literal = db_text_array(items, 4);
    char **parsed;
    size_t count;
    assert_int_equal(db_array_parse(literal, &s_malloc, &parsed, &count), 0);
    assert_int_equal(count, 4);
    for (size_t i = 0; i < count; i++) {
        assert_string_equal(parsed[i], items[i]);
        free(parsed[i]);
    }
    free(parsed);
    free(literal);

    /* PostgreSQL's own output: bare elements too. */
    assert_int_equal(db_array_parse("{1,2,30}", &s_malloc, &parsed, &count), 0);
    assert_int_equal(count, 3);
    assert_string_equal(parsed[2], "30");
    for (size_t i = 0; i < count; i++)
        free(parsed[i]);
    free(parsed);
    assert_int_equal(db_array_parse("{}", &s_malloc, &parsed, &count), 0);
    assert_int_equal(count, 0);
    free(parsed);

    /* Not arrays of texts this reads: refused, nothing allocated. */
    const char *bad[] = {"",        "{",     "}",      "{a",     "{a,}",
                         "{,a}",    "{\"a}", "{a\"b}", "{NULL}", "{a,NULL}",
                         "{{1,2}}", "{a} ",  "x{a}",   "{\"a\\", NULL};
    for (size_t i = 0; bad[i]; i++)
        assert_int_equal(db_array_parse(bad[i], &s_malloc, &parsed, &count), -1);
    assert_int_equal(db_array_parse(NULL, &s_malloc, &parsed, &count), -1);
}

static void test_a_row_fills_the_fields_it_names(void **state)
{
    (void)state;
    const char *names[] = {"text",         "blob",          "small",   "big",    "small_unsigned",
                           "big_unsigned", "zigzag",        "flag",    "colour", "tags",
                           "numbers",      "choice_number", "colours", "extra",  "_key"};
    const char *values[] = {"名称",
                            "\\x00ff41",
                            "-2147483648",
                            "9223372036854775807",
                            "4294967295",
                            "18446744073709551615",
                            "-7",
                            "t",
                            "COLOUR_GREEN",
                            "{a,\"b c\"}",
                            "{1,-2}",
                            "42",
                            "{COLOUR_RED,3}",
                            NULL,
                            "not a field: the query's own"};
    PGresult *res = s_row(15, names, values);
    Chuang__Pbjsontest__Everything *heap = malloc(sizeof *heap);
    chuang__pbjsontest__everything__init(heap);
    heap->extra = 5;
    assert_int_equal(db_message_from_row(res, 0, &heap->base, &s_malloc), 0);
    Chuang__Pbjsontest__Everything m = *heap;
    assert_string_equal(m.text, "名称");
    assert_int_equal(m.blob.len, 3);
    assert_memory_equal(m.blob.data, "\x00\xff\x41", 3);
    assert_int_equal(m.small, INT32_MIN);
    assert_true(m.big == INT64_MAX);
    assert_true(m.small_unsigned == UINT32_MAX);
    assert_true(m.big_unsigned == UINT64_MAX);
    assert_int_equal(m.zigzag, -7);
    assert_true(m.flag);
    assert_int_equal(m.colour, CHUANG__PBJSONTEST__COLOUR__COLOUR_GREEN);
    assert_int_equal(m.n_tags, 2);
    assert_string_equal(m.tags[1], "b c");
    assert_int_equal(m.n_numbers, 2);
    assert_true(m.numbers[1] == -2);
    assert_int_equal(m.choice_case, CHUANG__PBJSONTEST__EVERYTHING__CHOICE_CHOICE_NUMBER);
    assert_int_equal(m.choice_number, 42);
    assert_int_equal(m.n_colours, 2);
    assert_int_equal(m.colours[1], CHUANG__PBJSONTEST__COLOUR__COLOUR_BLUE);
    assert_int_equal(m.extra, 5); /* NULL: left as it was */
    /* It packs as a message protobuf-c reads back. */
    size_t size = protobuf_c_message_get_packed_size(&m.base);
    uint8_t *packed = malloc(size);
    protobuf_c_message_pack(&m.base, packed);
    Chuang__Pbjsontest__Everything *back =
        chuang__pbjsontest__everything__unpack(NULL, size, packed);
    assert_non_null(back);
    assert_string_equal(back->tags[0], "a");
    assert_int_equal(back->choice_number, 42);
    chuang__pbjsontest__everything__free_unpacked(back, NULL);
    free(packed);
    /* What the allocator gave belongs to the message: it frees like an
     * unpacked one. */
    chuang__pbjsontest__everything__free_unpacked(heap, NULL);
    PQclear(res);
}

static void test_what_does_not_fit_is_refused(void **state)
{
    (void)state;
    struct {
        const char *name, *value;
    } cases[] = {
        {"small", "2147483648"},
        {"small", "12x"},
        {"small", ""},
        {"small_unsigned", "-1"},
        {"big", "9223372036854775808"},
        {"flag", "true"},
        {"colour", "COLOUR_PURPLE"},
        {"colour", "9"},
        {"ratio", "0.5"},
        {"inner", "(a,1)"},
        {"tags", "not an array"},
        {"numbers", "{1,x}"},
        {"blob", "\\xzz"},
        {"no_such_field", "1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *names[1] = {cases[i].name}, *values[1] = {cases[i].value};
        PGresult *res = s_row(1, names, values);
        Chuang__Pbjsontest__Everything *m = malloc(sizeof *m);
        chuang__pbjsontest__everything__init(m);
        if (db_message_from_row(res, 0, &m->base, &s_malloc) != -1)
            fail_msg("column %s = %s was taken", cases[i].name, cases[i].value);
        chuang__pbjsontest__everything__free_unpacked(m, NULL);
        PQclear(res);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_array_literals_round_trip),
        cmocka_unit_test(test_a_row_fills_the_fields_it_names),
        cmocka_unit_test(test_what_does_not_fit_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
