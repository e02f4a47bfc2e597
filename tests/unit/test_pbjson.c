/*
 * test_pbjson.c - unit tests of the JSON <-> protobuf converter (common/pbjson).
 *
 * Most tests use chuang.pbjsontest.Everything (pbjson_test.proto), which has a
 * field of every kind protoc-c 1.4.1 generates for proto3: they round-trip
 * messages through JSON text and compare the packed bytes with the
 * original's, compare the JSON text of known messages with the exact
 * expected text (sorted keys, compact), and feed the reader a table of bad
 * inputs that must each fail with a message naming the field. proto2 optional
 * and required fields, which protoc-c cannot generate from a proto3 file, are
 * tested on a descriptor written here by hand the way protoc-c would.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pbjson.h"
#include "pbjson_test.pb-c.h"

typedef Chuang__Pbjsontest__Everything Everything;
typedef Chuang__Pbjsontest__Inner Inner;
typedef Chuang__Pbjsontest__Everything__TotalsEntry TotalsEntry;
typedef Chuang__Pbjsontest__Everything__LabelsEntry LabelsEntry;

#define EVERYTHING (&chuang__pbjsontest__everything__descriptor)
#define INNER      (&chuang__pbjsontest__inner__descriptor)

/* ---------------------------------------------------------------- helpers */

static json_t *parse(const char *text)
{
    json_error_t error;
    json_t *json = json_loads(text, JSON_DECODE_ANY, &error);
    if (!json)
        fail_msg("test JSON does not parse: %s: %s", error.text, text);
    return json;
}

/* The message's JSON as compact text with sorted keys; the caller frees it. */
static char *to_text(const ProtobufCMessage *message, bool emit_defaults)
{
    json_t *json = pbjson_from_message(message, emit_defaults);
    assert_non_null(json);
    char *text = json_dumps(json, JSON_SORT_KEYS | JSON_COMPACT);
    assert_non_null(text);
    json_decref(json);
    return text;
}

static void assert_json(const ProtobufCMessage *message, bool emit_defaults, const char *expected)
{
    char *text = to_text(message, emit_defaults);
    assert_string_equal(text, expected);
    free(text);
}

/* Reads text into a message of the given type, which must succeed. */
static ProtobufCMessage *from_text(const ProtobufCMessageDescriptor *descriptor, const char *text)
{
    json_t *json = parse(text);
    char err[256] = "";
    ProtobufCMessage *message = pbjson_to_message(descriptor, json, err, sizeof err);
    json_decref(json);
    if (!message)
        fail_msg("pbjson_to_message failed on %s: %s", text, err);
    return message;
}

/* Reading text must fail with exactly the expected error. */
static void assert_rejected(const ProtobufCMessageDescriptor *descriptor, json_t *json,
                            const char *expected)
{
    char err[256] = "unchanged";
    ProtobufCMessage *message = pbjson_to_message(descriptor, json, err, sizeof err);
    if (message) {
        pbjson_message_free(message);
        fail_msg("accepted, expected error: %s", expected);
    }
    assert_string_equal(err, expected);
}

static uint8_t *pack(const ProtobufCMessage *message, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(message);
    uint8_t *buf = malloc(*len + 1);
    assert_non_null(buf);
    assert_int_equal(protobuf_c_message_pack(message, buf), *len);
    return buf;
}

/* message -> JSON -> text -> JSON -> message: the packed bytes must match. */
static void assert_round_trip(const ProtobufCMessage *message, bool emit_defaults)
{
    size_t len_a, len_b;
    uint8_t *a = pack(message, &len_a);
    char *text = to_text(message, emit_defaults);
    ProtobufCMessage *copy = from_text(message->descriptor, text);
    assert_true(protobuf_c_message_check(copy));
    uint8_t *b = pack(copy, &len_b);
    if (len_a != len_b || memcmp(a, b, len_a) != 0)
        fail_msg("round trip changed the message (%zu -> %zu bytes) via %s", len_a, len_b, text);
    /* and the copy writes the same JSON */
    char *again = to_text(copy, emit_defaults);
    assert_string_equal(text, again);
    free(again);
    free(a);
    free(b);
    free(text);
    pbjson_message_free(copy);
}

/* A message with every field set, mostly to awkward values; all storage in
 * the struct itself. */
typedef struct {
    Everything msg;
    Inner inner, child, founder0, founder1, choice_inner;
    Inner *founders[2];
    TotalsEntry total0, total1;
    TotalsEntry *totals[2];
    LabelsEntry label0, label1;
    LabelsEntry *labels[2];
    char *tags[3];
    int64_t numbers[4];
    Chuang__Pbjsontest__Colour colours[3];
    ProtobufCBinaryData blobs[2];
    uint8_t blob[5];
    uint8_t blob0[3];
} full_t;

static void full_init(full_t *f)
{
    memset(f, 0, sizeof *f);
    Everything *m = &f->msg;
    chuang__pbjsontest__everything__init(m);
    m->text = "h\xc3\xa9llo \"w\" \\ \xe4\xb8\xad\xf0\x9f\x98\x80";
    memcpy(f->blob, "\x00\xff\x10\x80\x7f", 5);
    m->blob = (ProtobufCBinaryData){5, f->blob};
    m->small = -123456;
    m->big = INT64_MIN;
    m->small_unsigned = UINT32_MAX;
    m->big_unsigned = UINT64_MAX;
    m->zigzag = INT32_MIN;
    m->flag = 1;
    m->ratio = 3.141592653589793;
    m->colour = CHUANG__PBJSONTEST__COLOUR__COLOUR_BLUE;

    chuang__pbjsontest__inner__init(&f->child);
    f->child.name = "child";
    f->child.amount = -1;
    chuang__pbjsontest__inner__init(&f->inner);
    f->inner.name = "inner";
    f->inner.amount = INT64_MAX;
    f->inner.child = &f->child;
    m->inner = &f->inner;

    f->tags[0] = "alpha";
    f->tags[1] = "";
    f->tags[2] = "x y";
    m->n_tags = 3;
    m->tags = f->tags;
    f->numbers[0] = 0;
    f->numbers[1] = -1;
    f->numbers[2] = INT64_MAX;
    f->numbers[3] = INT64_MIN;
    m->n_numbers = 4;
    m->numbers = f->numbers;

    chuang__pbjsontest__inner__init(&f->founder0);
    f->founder0.name = "first";
    f->founder0.amount = 100;
    chuang__pbjsontest__inner__init(&f->founder1); /* all defaults */
    f->founders[0] = &f->founder0;
    f->founders[1] = &f->founder1;
    m->n_founders = 2;
    m->founders = f->founders;

    chuang__pbjsontest__inner__init(&f->choice_inner);
    f->choice_inner.name = "chosen";
    m->choice_case = CHUANG__PBJSONTEST__EVERYTHING__CHOICE_CHOICE_INNER;
    m->choice_inner = &f->choice_inner;

    m->extra = -7;
    chuang__pbjsontest__everything__totals_entry__init(&f->total0);
    f->total0.key = "a";
    f->total0.value = 1;
    chuang__pbjsontest__everything__totals_entry__init(&f->total1);
    f->total1.key = "b c";
    f->total1.value = -2;
    f->totals[0] = &f->total0;
    f->totals[1] = &f->total1;
    m->n_totals = 2;
    m->totals = f->totals;

    m->ratio_float = 0.1f;
    m->big_fixed = UINT64_MAX - 1;
    m->big_zigzag = INT64_MIN + 1;
    m->small_fixed = -42;
    f->colours[0] = CHUANG__PBJSONTEST__COLOUR__COLOUR_RED;
    f->colours[1] = CHUANG__PBJSONTEST__COLOUR__COLOUR_UNSPECIFIED;
    f->colours[2] = (Chuang__Pbjsontest__Colour)77; /* no name */
    m->n_colours = 3;
    m->colours = f->colours;
    memcpy(f->blob0, "\x00\x01\x02", 3);
    f->blobs[0] = (ProtobufCBinaryData){3, f->blob0};
    f->blobs[1] = (ProtobufCBinaryData){0, NULL};
    m->n_blobs = 2;
    m->blobs = f->blobs;

    chuang__pbjsontest__everything__labels_entry__init(&f->label0);
    f->label0.key = -5;
    f->label0.value = "minus five";
    chuang__pbjsontest__everything__labels_entry__init(&f->label1);
    f->label1.key = 7;
    f->label1.value = "";
    f->labels[0] = &f->label0;
    f->labels[1] = &f->label1;
    m->n_labels = 2;
    m->labels = f->labels;
    m->extra_text = "extra";
}

/* ---------------------------------------------------------------- proto2 */

/* What protoc-c would generate for
 *
 *   syntax = "proto2";
 *   message Legacy {
 *     required int32 id = 1;
 *     optional int32 count = 2 [default = 7];
 *     optional string name = 3 [default = "anon"];
 *     optional bytes data = 4;
 *     optional Legacy next = 5;
 *   }
 */
typedef struct Legacy Legacy;
struct Legacy {
    ProtobufCMessage base;
    int32_t id;
    protobuf_c_boolean has_count;
    int32_t count;
    char *name;
    protobuf_c_boolean has_data;
    ProtobufCBinaryData data;
    Legacy *next;
};

static const int32_t legacy_count_default = 7;
static char legacy_name_default[] = "anon";
static const ProtobufCMessageDescriptor legacy_descriptor;

static void legacy_init(ProtobufCMessage *message)
{
    Legacy *m = (Legacy *)message;
    memset(m, 0, sizeof *m);
    m->base.descriptor = &legacy_descriptor;
    m->count = legacy_count_default;
    m->name = legacy_name_default;
}

static const ProtobufCFieldDescriptor legacy_fields[5] = {
    {"id", 1, PROTOBUF_C_LABEL_REQUIRED, PROTOBUF_C_TYPE_INT32, 0, offsetof(Legacy, id), NULL, NULL,
     0, 0, NULL, NULL},
    {"count", 2, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_INT32, offsetof(Legacy, has_count),
     offsetof(Legacy, count), NULL, &legacy_count_default, 0, 0, NULL, NULL},
    {"name", 3, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_STRING, 0, offsetof(Legacy, name), NULL,
     legacy_name_default, 0, 0, NULL, NULL},
    {"data", 4, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_BYTES, offsetof(Legacy, has_data),
     offsetof(Legacy, data), NULL, NULL, 0, 0, NULL, NULL},
    {"next", 5, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_MESSAGE, 0, offsetof(Legacy, next),
     &legacy_descriptor, NULL, 0, 0, NULL, NULL},
};
static const unsigned legacy_fields_by_name[5] = {1, 3, 0, 2, 4}; /* count data id name next */
static const ProtobufCIntRange legacy_ranges[2] = {{1, 0}, {0, 5}};
static const ProtobufCMessageDescriptor legacy_descriptor = {PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
                                                             "test.Legacy",
                                                             "Legacy",
                                                             "Legacy",
                                                             "test",
                                                             sizeof(Legacy),
                                                             5,
                                                             legacy_fields,
                                                             legacy_fields_by_name,
                                                             1,
                                                             legacy_ranges,
                                                             legacy_init,
                                                             NULL,
                                                             NULL,
                                                             NULL};

/* ---------------------------------------------------------------- tests */

static void test_round_trip_full(void **state)
{
    (void)state;
    full_t f;
    full_init(&f);
    assert_round_trip(&f.msg.base, false);
    assert_round_trip(&f.msg.base, true);
}

static void test_round_trip_empty(void **state)
{
    (void)state;
    Everything m = CHUANG__PBJSONTEST__EVERYTHING__INIT;
    assert_json(&m.base, false, "{}");
    assert_round_trip(&m.base, false);
    assert_round_trip(&m.base, true);
}

/* A set oneof member is written and survives even at its default value. */
static void test_round_trip_oneof_defaults(void **state)
{
    (void)state;
    static char empty[] = "";
    Everything m = CHUANG__PBJSONTEST__EVERYTHING__INIT;

    m.choice_case = CHUANG__PBJSONTEST__EVERYTHING__CHOICE_CHOICE_TEXT;
    m.choice_text = empty;
    assert_json(&m.base, false, "{\"choiceText\":\"\"}");
    assert_round_trip(&m.base, false);
    /* ...but, as protobuf-c's pack, not when it is the field's default pointer */
    m.choice_text = (char *)protobuf_c_empty_string;
    assert_json(&m.base, false, "{}");
    assert_round_trip(&m.base, false);

    m.choice_case = CHUANG__PBJSONTEST__EVERYTHING__CHOICE_CHOICE_NUMBER;
    m.choice_number = 0;
    assert_json(&m.base, false, "{\"choiceNumber\":0}");
    assert_round_trip(&m.base, false);

    Inner inner = CHUANG__PBJSONTEST__INNER__INIT;
    m.choice_case = CHUANG__PBJSONTEST__EVERYTHING__CHOICE_CHOICE_INNER;
    m.choice_inner = &inner;
    assert_json(&m.base, false, "{\"choiceInner\":{}}");
    assert_json(&m.base, true,
                "{\"big\":\"0\",\"bigFixed\":\"0\",\"bigUnsigned\":\"0\","
                "\"bigZigzag\":\"0\",\"blob\":\"\",\"blobs\":[],\"choiceInner\":"
                "{\"amount\":\"0\",\"child\":null,\"name\":\"\"},\"colour\":"
                "\"COLOUR_UNSPECIFIED\",\"colours\":[],\"extra\":0,\"extraText\":\"\","
                "\"flag\":false,\"founders\":[],\"inner\":null,\"labels\":{},"
                "\"numbers\":[],\"ratio\":0.0,\"ratioFloat\":"
                "0.0,\"small\":0,\"smallFixed\":0,\"smallUnsigned\":0,\"tags\":[],"
                "\"text\":\"\",\"totals\":{},\"zigzag\":0}");
    assert_round_trip(&m.base, false);
    assert_round_trip(&m.base, true);
}

static void test_exact_json(void **state)
{
    (void)state;
    Everything m = CHUANG__PBJSONTEST__EVERYTHING__INIT;
    Inner inner = CHUANG__PBJSONTEST__INNER__INIT;
    TotalsEntry total = CHUANG__PBJSONTEST__EVERYTHING__TOTALS_ENTRY__INIT;
    TotalsEntry *totals[] = {&total};
    LabelsEntry label = CHUANG__PBJSONTEST__EVERYTHING__LABELS_ENTRY__INIT;
    LabelsEntry *labels[] = {&label};
    char *tags[] = {"a", "b"};
    int64_t numbers[] = {1, -2};
    uint8_t blob[] = {1, 2, 3};

    m.text = "hello";
    m.blob = (ProtobufCBinaryData){3, blob};
    m.small = -5;
    m.big = 1234567890123;
    m.small_unsigned = 7;
    m.flag = 1;
    m.ratio = 0.5;
    m.colour = CHUANG__PBJSONTEST__COLOUR__COLOUR_GREEN;
    inner.name = "x";
    inner.amount = 10;
    m.inner = &inner;
    m.n_tags = 2;
    m.tags = tags;
    m.n_numbers = 2;
    m.numbers = numbers;
    total.key = "k";
    total.value = 5;
    m.n_totals = 1;
    m.totals = totals;
    label.key = -3;
    label.value = "neg";
    m.n_labels = 1;
    m.labels = labels;
    m.ratio_float = 0.1f;
    m.big_zigzag = -9;
    assert_json(&m.base, false,
                "{\"big\":\"1234567890123\",\"bigZigzag\":\"-9\",\"blob\":\"AQID\","
                "\"colour\":\"COLOUR_GREEN\",\"flag\":true,\"inner\":{\"amount\":\"10\","
                "\"name\":\"x\"},\"labels\":{\"-3\":\"neg\"},\"numbers\":[\"1\",\"-2\"],"
                "\"ratio\":0.5,\"ratioFloat\":0.10000000000000001,\"small\":-5,"
                "\"smallUnsigned\":7,\"tags\":[\"a\",\"b\"],\"text\":\"hello\","
                "\"totals\":{\"k\":\"5\"}}");

    /* the float is the double nearest 0.1, not 0.100000001490116 */
    json_t *json = pbjson_from_message(&m.base, false);
    assert_true(json_real_value(json_object_get(json, "ratioFloat")) == 0.1);
    json_decref(json);

    /* unknown enum numbers are written as numbers */
    m.colour = (Chuang__Pbjsontest__Colour)99;
    json = pbjson_from_message(&m.base, false);
    assert_int_equal(json_integer_value(json_object_get(json, "colour")), 99);
    json_decref(json);
}

static void test_int64_extremes(void **state)
{
    (void)state;
    Everything m = CHUANG__PBJSONTEST__EVERYTHING__INIT;
    int64_t numbers[] = {INT64_MIN, INT64_MAX};
    m.big = INT64_MIN;
    m.big_unsigned = UINT64_MAX;
    m.big_zigzag = INT64_MAX;
    m.big_fixed = UINT64_MAX;
    m.n_numbers = 2;
    m.numbers = numbers;
    assert_json(&m.base, false,
                "{\"big\":\"-9223372036854775808\",\"bigFixed\":\"18446744073709551615\","
                "\"bigUnsigned\":\"18446744073709551615\",\"bigZigzag\":\"9223372036854775807\","
                "\"numbers\":[\"-9223372036854775808\",\"9223372036854775807\"]}");
    assert_round_trip(&m.base, false);

    /* numbers are accepted for 64-bit fields too, and integral reals */
    Everything *e = (Everything *)from_text(
        EVERYTHING, "{\"big\":-9223372036854775808,\"bigZigzag\":9223372036854775807,"
                    "\"bigUnsigned\":\"18446744073709551615\",\"bigFixed\":1e3,"
                    "\"numbers\":[\"-0\",-1,\"007\"],\"small\":3.0,\"smallUnsigned\":4294967295}");
    assert_true(e->big == INT64_MIN);
    assert_true(e->big_zigzag == INT64_MAX);
    assert_true(e->big_unsigned == UINT64_MAX);
    assert_true(e->big_fixed == 1000);
    assert_int_equal(e->n_numbers, 3);
    assert_true(e->numbers[0] == 0);
    assert_true(e->numbers[1] == -1);
    assert_true(e->numbers[2] == 7);
    assert_int_equal(e->small, 3);
    assert_true(e->small_unsigned == UINT32_MAX);
    pbjson_message_free(&e->base);

    e = (Everything *)from_text(EVERYTHING, "{\"small\":-2147483648,\"zigzag\":2147483647}");
    assert_true(e->small == INT32_MIN);
    assert_true(e->zigzag == INT32_MAX);
    pbjson_message_free(&e->base);
}

static void test_bytes_all_values(void **state)
{
    (void)state;
    static const char expected[] =
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQk"
        "NERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWG"
        "h4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIyc"
        "rLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w==";
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    Everything m = CHUANG__PBJSONTEST__EVERYTHING__INIT;
    m.blob = (ProtobufCBinaryData){256, all};
    json_t *json = pbjson_from_message(&m.base, false);
    assert_string_equal(json_string_value(json_object_get(json, "blob")), expected);
    char err[128];
    Everything *e = (Everything *)pbjson_to_message(EVERYTHING, json, err, sizeof err);
    json_decref(json);
    assert_non_null(e);
    assert_int_equal(e->blob.len, 256);
    assert_memory_equal(e->blob.data, all, 256);
    pbjson_message_free(&e->base);

    /* every padding length, written and read */
    static const struct {
        const char *data, *standard, *url_unpadded;
    } cases[] = {
        {"", "", ""},
        {"f", "Zg==", "Zg"},
        {"fo", "Zm8=", "Zm8"},
        {"foo", "Zm9v", "Zm9v"},
        {"foob", "Zm9vYg==", "Zm9vYg"},
        {"\xfb\xff", "+/8=", "-_8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = strlen(cases[i].data);
        m.blob = (ProtobufCBinaryData){len, (uint8_t *)cases[i].data};
        json = pbjson_from_message(&m.base, true);
        assert_string_equal(json_string_value(json_object_get(json, "blob")), cases[i].standard);
        json_decref(json);
        const char *inputs[] = {cases[i].standard, cases[i].url_unpadded};
        for (int k = 0; k < 2; k++) {
            json = json_pack("{ss}", "blob", inputs[k]);
            e = (Everything *)pbjson_to_message(EVERYTHING, json, err, sizeof err);
            json_decref(json);
            assert_non_null(e);
            assert_int_equal(e->blob.len, len);
            if (len)
                assert_memory_equal(e->blob.data, cases[i].data, len);
            pbjson_message_free(&e->base);
        }
    }
}

static void test_names(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "{\"small_unsigned\":1,\"big_unsigned\":\"2\",\"choice_inner\":{\"name\":\"n\"},"
        "\"ratio_float\":1.5,\"big_zigzag\":-3,\"extra_text\":\"m\",\"small_fixed\":4}",
        "{\"smallUnsigned\":1,\"bigUnsigned\":\"2\",\"choiceInner\":{\"name\":\"n\"},"
        "\"ratioFloat\":1.5,\"bigZigzag\":-3,\"extraText\":\"m\",\"smallFixed\":4}",
    };
    for (int i = 0; i < 2; i++) {
        Everything *e = (Everything *)from_text(EVERYTHING, texts[i]);
        assert_int_equal(e->small_unsigned, 1);
        assert_true(e->big_unsigned == 2);
        assert_int_equal(e->choice_case, CHUANG__PBJSONTEST__EVERYTHING__CHOICE_CHOICE_INNER);
        assert_string_equal(e->choice_inner->name, "n");
        assert_true(e->ratio_float == 1.5f);
        assert_true(e->big_zigzag == -3);
        assert_string_equal(e->extra_text, "m");
        assert_int_equal(e->small_fixed, 4);
        assert_json(&e->base, false,
                    "{\"bigUnsigned\":\"2\",\"bigZigzag\":\"-3\",\"choiceInner\":{\"name\":\"n\"},"
                    "\"extraText\":\"m\",\"ratioFloat\":1.5,\"smallFixed\":4,\"smallUnsigned\":1}");
        pbjson_message_free(&e->base);
    }
}

static void test_values(void **state)
{
    (void)state;
    Everything *e = (Everything *)from_text(
        EVERYTHING,
        "{\"colour\":2,\"colours\":[\"COLOUR_RED\",3,42],\"text\":null,\"inner\":null,"
        "\"ratio\":\"-Infinity\",\"ratioFloat\":\"NaN\",\"flag\":false,\"tags\":[],"
        "\"totals\":{\"x\":\"-9223372036854775808\",\"y\":7},\"labels\":{\"-2147483648\":\"m\"},"
        "\"founders\":[{},{\"amount\":\"5\",\"child\":{\"name\":\"c\"}}]}");
    assert_int_equal(e->colour, CHUANG__PBJSONTEST__COLOUR__COLOUR_GREEN);
    assert_int_equal(e->n_colours, 3);
    assert_int_equal(e->colours[0], CHUANG__PBJSONTEST__COLOUR__COLOUR_RED);
    assert_int_equal(e->colours[1], CHUANG__PBJSONTEST__COLOUR__COLOUR_BLUE);
    assert_int_equal(e->colours[2], 42);
    assert_string_equal(e->text, "");
    assert_null(e->inner);
    assert_true(isinf(e->ratio) && e->ratio < 0);
    assert_true(isnan(e->ratio_float));
    assert_int_equal(e->n_tags, 0);
    assert_int_equal(e->n_totals, 2);
    assert_string_equal(e->totals[0]->key, "x");
    assert_true(e->totals[0]->value == INT64_MIN);
    assert_string_equal(e->totals[1]->key, "y");
    assert_true(e->totals[1]->value == 7);
    assert_int_equal(e->n_labels, 1);
    assert_true(e->labels[0]->key == INT32_MIN);
    assert_string_equal(e->labels[0]->value, "m");
    assert_int_equal(e->n_founders, 2);
    assert_true(e->founders[1]->amount == 5);
    assert_string_equal(e->founders[1]->child->name, "c");
    assert_int_equal(e->choice_case, CHUANG__PBJSONTEST__EVERYTHING__CHOICE__NOT_SET);
    assert_json(&e->base, false,
                "{\"colour\":\"COLOUR_GREEN\",\"colours\":[\"COLOUR_RED\",\"COLOUR_BLUE\",42],"
                "\"founders\":[{},{\"amount\":\"5\",\"child\":{\"name\":\"c\"}}],"
                "\"labels\":{\"-2147483648\":\"m\"},\"ratio\":\"-Infinity\",\"ratioFloat\":\"NaN\","
                "\"totals\":{\"x\":\"-9223372036854775808\",\"y\":\"7\"}}");
    assert_round_trip(&e->base, false);
    pbjson_message_free(&e->base);
}

static void test_bad_inputs(void **state)
{
    (void)state;
    static const struct {
        const char *json, *err;
    } cases[] = {
        {"{\"nope\":1}", "field \"nope\": unknown field"},
        {"{\"inner\":{\"child\":{\"Name\":\"x\"}}}", "field \"inner.child.Name\": unknown field"},
        {"{\"small\":\"12\"}", "field \"small\": expected an integer"},
        {"{\"small\":2147483648}", "field \"small\": integer out of range for int32"},
        {"{\"small\":-2147483649}", "field \"small\": integer out of range for int32"},
        {"{\"small\":1.5}", "field \"small\": expected an integer"},
        {"{\"small\":[1]}", "field \"small\": expected an integer"},
        {"{\"smallUnsigned\":-1}", "field \"smallUnsigned\": integer out of range for uint32"},
        {"{\"small_unsigned\":4294967296}",
         "field \"small_unsigned\": integer out of range for uint32"},
        {"{\"big\":\"9223372036854775808\"}", "field \"big\": integer out of range for int64"},
        {"{\"big\":\"-9223372036854775809\"}", "field \"big\": integer out of range for int64"},
        {"{\"big\":\" 1\"}", "field \"big\": expected an integer or a decimal string"},
        {"{\"big\":\"1e3\"}", "field \"big\": expected an integer or a decimal string"},
        {"{\"big\":\"\"}", "field \"big\": expected an integer or a decimal string"},
        {"{\"big\":true}", "field \"big\": expected an integer or a decimal string"},
        {"{\"bigUnsigned\":\"-1\"}", "field \"bigUnsigned\": integer out of range for uint64"},
        {"{\"bigUnsigned\":\"18446744073709551616\"}",
         "field \"bigUnsigned\": integer out of range"},
        {"{\"bigUnsigned\":1e20}", "field \"bigUnsigned\": integer out of range"},
        {"{\"blob\":\"AQI*\"}", "field \"blob\": invalid base64"},
        {"{\"blob\":\"AQIDB\"}", "field \"blob\": invalid base64"},
        {"{\"blob\":\"AR==\"}", "field \"blob\": invalid base64"},
        {"{\"blob\":\"A===\"}", "field \"blob\": invalid base64"},
        {"{\"blob\":\"AQ=\"}", "field \"blob\": invalid base64"},
        {"{\"blob\":\"AQ==AQ==\"}", "field \"blob\": invalid base64"},
        {"{\"blob\":\"AQ ID\"}", "field \"blob\": invalid base64"},
        {"{\"blob\":5}", "field \"blob\": expected a base64 string"},
        {"{\"blobs\":[\"AQID\",\"!\"]}", "field \"blobs[1]\": invalid base64"},
        {"{\"colour\":\"PURPLE\"}", "field \"colour\": unknown enum value \"PURPLE\""},
        {"{\"colour\":\"colour_red\"}", "field \"colour\": unknown enum value \"colour_red\""},
        {"{\"colour\":2147483648}", "field \"colour\": integer out of range for enum"},
        {"{\"colour\":true}", "field \"colour\": expected an enum name or number"},
        {"{\"colours\":[1,\"NOPE\"]}", "field \"colours[1]\": unknown enum value \"NOPE\""},
        {"{\"text\":[\"a\"]}", "field \"text\": expected a string"},
        {"{\"text\":5}", "field \"text\": expected a string"},
        {"{\"flag\":1}", "field \"flag\": expected true or false"},
        {"{\"flag\":\"true\"}", "field \"flag\": expected true or false"},
        {"{\"ratio\":\"1.5\"}", "field \"ratio\": expected a number"},
        {"{\"ratioFloat\":1e39}", "field \"ratioFloat\": number out of range for float"},
        {"{\"tags\":\"a\"}", "field \"tags\": expected an array"},
        {"{\"tags\":[\"a\",null]}", "field \"tags[1]\": null is not allowed in an array"},
        {"{\"tags\":[\"a\",1]}", "field \"tags[1]\": expected a string"},
        {"{\"numbers\":[1,\"x\"]}",
         "field \"numbers[1]\": expected an integer or a decimal string"},
        {"{\"inner\":5}", "field \"inner\": expected an object"},
        {"{\"inner\":[]}", "field \"inner\": expected an object"},
        {"{\"founders\":{}}", "field \"founders\": expected an array"},
        {"{\"founders\":[{\"name\":\"a\"},{\"amount\":1.5}]}",
         "field \"founders[1].amount\": expected an integer"},
        {"{\"founders\":[{},{\"amount\":\"x\"}]}",
         "field \"founders[1].amount\": expected an integer or a decimal string"},
        {"{\"totals\":[]}", "field \"totals\": expected an object"},
        {"{\"totals\":{\"a\":\"x\"}}",
         "field \"totals[a]\": expected an integer or a decimal string"},
        {"{\"totals\":{\"a\":null}}", "field \"totals[a]\": null is not allowed as a map value"},
        {"{\"labels\":{\"x\":\"y\"}}", "field \"labels[x]\": map key: expected a decimal integer"},
        {"{\"labels\":{\"2147483648\":\"y\"}}",
         "field \"labels[2147483648]\": integer out of range for int32"},
        {"{\"labels\":{\"1\":2}}", "field \"labels[1]\": expected a string"},
        {"{\"choiceText\":\"a\",\"choiceNumber\":1}",
         "field \"choiceNumber\": another field of the same oneof is already set"},
        {"{\"choice_inner\":{},\"choiceText\":\"\"}",
         "field \"choiceText\": another field of the same oneof is already set"},
        {"{\"small_unsigned\":1,\"smallUnsigned\":2}",
         "field \"smallUnsigned\": field given twice (by its proto name and its json name)"},
        {"[1]", "expected an object"},
        {"\"x\"", "expected an object"},
        {"null", "expected an object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *json = parse(cases[i].json);
        assert_rejected(EVERYTHING, json, cases[i].err);
        json_decref(json);
    }
    assert_rejected(EVERYTHING, NULL, "expected an object");

    /* strings JSON text could not hold: invalid UTF-8, NUL */
    json_t *json = json_object();
    json_object_set_new(json, "text", json_stringn_nocheck("ok\xff", 3));
    assert_rejected(EVERYTHING, json, "field \"text\": invalid utf-8");
    json_object_set_new(json, "text", json_stringn_nocheck("\xed\xa0\x80", 3)); /* surrogate */
    assert_rejected(EVERYTHING, json, "field \"text\": invalid utf-8");
    json_object_set_new(json, "text", json_stringn_nocheck("\xc0\xaf", 2)); /* overlong */
    assert_rejected(EVERYTHING, json, "field \"text\": invalid utf-8");
    json_object_set_new(json, "text", json_stringn("a\0b", 3));
    assert_rejected(EVERYTHING, json, "field \"text\": string contains a nul character");
    json_decref(json);

    /* the error is truncated to the buffer; err may be NULL */
    json = parse("{\"nope\":1}");
    char small[8];
    assert_null(pbjson_to_message(EVERYTHING, json, small, sizeof small));
    assert_string_equal(small, "field \"");
    assert_null(pbjson_to_message(EVERYTHING, json, NULL, 0));
    json_decref(json);
}

/* n nested Inner objects: {"child":{"child":...{"name":"leaf"}}} */
static json_t *chain(int n)
{
    json_t *json = json_pack("{ss}", "name", "leaf");
    for (int i = 1; i < n; i++)
        json = json_pack("{so}", "child", json);
    return json;
}

static void test_depth(void **state)
{
    (void)state;
    char err[512];

    json_t *json = chain(PBJSON_MAX_DEPTH);
    Inner *top = (Inner *)pbjson_to_message(INNER, json, err, sizeof err);
    json_decref(json);
    assert_non_null(top);
    json = pbjson_from_message(&top->base, false);
    assert_non_null(json);
    json_decref(json);

    /* one level more cannot be written... */
    Inner extra = CHUANG__PBJSONTEST__INNER__INIT;
    extra.child = top;
    assert_null(pbjson_from_message(&extra.base, false));
    pbjson_message_free(&top->base);

    /* ...nor read */
    json = chain(PBJSON_MAX_DEPTH + 1);
    assert_null(pbjson_to_message(INNER, json, err, sizeof err));
    json_decref(json);
    char expected[512] = "field \"child";
    for (int i = 1; i < PBJSON_MAX_DEPTH; i++)
        strcat(expected, ".child");
    strcat(expected, "\": messages nest deeper than 32 levels");
    assert_string_equal(err, expected);

    /* hostile depth is refused without walking it all */
    json = chain(10000);
    assert_null(pbjson_to_message(INNER, json, err, sizeof err));
    assert_non_null(strstr(err, "deeper than 32 levels"));
    json_decref(json);
}

static void test_proto2(void **state)
{
    (void)state;
    Legacy m;
    legacy_init(&m.base);
    /* required always written; optional ones only when set */
    assert_json(&m.base, false, "{\"id\":0}");
    assert_json(&m.base, true,
                "{\"count\":null,\"data\":null,\"id\":0,\"name\":null,\"next\":null}");
    m.has_count = 1;
    m.count = 0;
    m.name = "";
    m.has_data = 1;
    assert_json(&m.base, false, "{\"count\":0,\"data\":\"\",\"id\":0,\"name\":\"\"}");
    assert_round_trip(&m.base, false);

    /* absent optional fields keep their defaults (freeing leaves them be) */
    Legacy *l = (Legacy *)from_text(&legacy_descriptor, "{\"id\":1,\"next\":{\"id\":2}}");
    assert_int_equal(l->id, 1);
    assert_false(l->has_count);
    assert_int_equal(l->count, 7);
    assert_ptr_equal(l->name, legacy_name_default);
    assert_false(l->has_data);
    assert_non_null(l->next);
    assert_int_equal(l->next->id, 2);
    assert_json(&l->base, false, "{\"id\":1,\"next\":{\"id\":2}}");
    pbjson_message_free(&l->base);

    l = (Legacy *)from_text(&legacy_descriptor,
                            "{\"id\":-1,\"count\":7,\"name\":\"anon\",\"data\":\"\"}");
    assert_true(l->has_count);
    assert_true(l->has_data);
    assert_int_equal(l->data.len, 0);
    assert_string_equal(l->name, "anon");
    assert_ptr_not_equal(l->name, legacy_name_default);
    assert_json(&l->base, false, "{\"count\":7,\"data\":\"\",\"id\":-1,\"name\":\"anon\"}");
    assert_round_trip(&l->base, false);
    pbjson_message_free(&l->base);

    json_t *json = parse("{\"count\":5,\"name\":\"x\"}");
    assert_rejected(&legacy_descriptor, json, "field \"id\": missing required field");
    json_decref(json);
    json = parse("{\"id\":null}");
    assert_rejected(&legacy_descriptor, json, "field \"id\": missing required field");
    json_decref(json);
    json = parse("{\"id\":1,\"next\":{\"count\":1}}");
    assert_rejected(&legacy_descriptor, json, "field \"next.id\": missing required field");
    json_decref(json);
}

static void test_unwritable(void **state)
{
    (void)state;
    Everything m = CHUANG__PBJSONTEST__EVERYTHING__INIT;
    m.text = "bad \xff";
    assert_null(pbjson_from_message(&m.base, false));
    assert_null(pbjson_from_message(NULL, false));
    pbjson_message_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_full),
        cmocka_unit_test(test_round_trip_empty),
        cmocka_unit_test(test_round_trip_oneof_defaults),
        cmocka_unit_test(test_exact_json),
        cmocka_unit_test(test_int64_extremes),
        cmocka_unit_test(test_bytes_all_values),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_proto2),
        cmocka_unit_test(test_unwritable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
