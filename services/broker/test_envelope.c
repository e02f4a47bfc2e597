/*
 * test_envelope.c - the broker's wire-level reading of a chuang.Request:
 * the header found and decoded, a stamped header in place of the sender's
 * (also when the sender sent several), the payload passed on byte for
 * byte and nothing else (no field this build does not know), and bodies that are no envelope told
 * apart.
 */
#include "envelope.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

static char *s_roles[] = {"officer"};

/* Packs a Request with a header naming request_id and a payload; the
 * caller frees the result. */
static uint8_t *s_pack(const char *request_id, Chuang__Principal *principal, size_t *size)
{
    Chuang__RequestHeader header = CHUANG__REQUEST_HEADER__INIT;
    header.request_id = (char *)request_id;
    header.agency = "330106";
    header.method = "RegisterEntity";
    header.roles = s_roles;
    header.n_roles = 1;
    header.principal = principal;
    Chuang__Request request = CHUANG__REQUEST__INIT;
    request.header = &header;
    request.payload.data = (uint8_t *)"the method's input";
    request.payload.len = strlen("the method's input");
    *size = chuang__request__get_packed_size(&request);
    uint8_t *data = malloc(*size);
    chuang__request__pack(&request, data);
    return data;
}

static void test_header_read_payload_kept(void **state)
{
    (void)state;
    size_t size;
    uint8_t *data = s_pack("r-1", NULL, &size);
    Chuang__RequestHeader *header = NULL;
    assert_int_equal(envelope_header(data, size, &header), 1);
    assert_string_equal(header->request_id, "r-1");
    assert_string_equal(header->method, "RegisterEntity");
    assert_int_equal(header->n_roles, 1);

    Chuang__Principal principal = CHUANG__PRINCIPAL__INIT;
    principal.name = "registry-desk";
    Chuang__RequestHeader stamp = *header;
    stamp.principal = &principal;
    zframe_t *frame = envelope_restamp(data, size, &stamp);
    assert_non_null(frame);
    Chuang__Request *worker_view =
        chuang__request__unpack(NULL, zframe_size(frame), zframe_data(frame));
    assert_non_null(worker_view);
    assert_string_equal(worker_view->header->request_id, "r-1");
    assert_non_null(worker_view->header->principal);
    assert_string_equal(worker_view->header->principal->name, "registry-desk");
    assert_int_equal(worker_view->payload.len, strlen("the method's input"));
    assert_memory_equal(worker_view->payload.data, "the method's input", worker_view->payload.len);
    chuang__request__free_unpacked(worker_view, NULL);
    zframe_destroy(&frame);
    chuang__request_header__free_unpacked(header, NULL);
    free(data);
}

/* A sender that adds a second header field carrying its own principal:
 * the broker reads the merge, and the worker sees only the broker's stamp. */
static void test_second_header_field_replaced(void **state)
{
    (void)state;
    Chuang__Principal forged = CHUANG__PRINCIPAL__INIT;
    forged.name = "forged";
    forged.kind = "operator";
    size_t size_a, size_b;
    uint8_t *a = s_pack("r-2", NULL, &size_a);
    uint8_t *b = s_pack("r-2", &forged, &size_b);
    /* a's body, then b's first field: its header, principal and all. */
    Chuang__Request *b_view = chuang__request__unpack(NULL, size_b, b);
    size_t header_b = chuang__request_header__get_packed_size(b_view->header);
    uint8_t body[1024];
    size_t size = 0;
    memcpy(body, a, size_a);
    size += size_a;
    assert_true(header_b < 128);
    size_t field_b = 2 + header_b; /* its tag, a one-byte length, the header */
    memcpy(body + size, b, field_b);
    size += field_b;
    chuang__request__free_unpacked(b_view, NULL);

    Chuang__RequestHeader *header = NULL;
    assert_int_equal(envelope_header(body, size, &header), 1);
    assert_non_null(header->principal);
    assert_string_equal(header->principal->name, "forged");

    Chuang__Principal principal = CHUANG__PRINCIPAL__INIT;
    principal.name = "desk";
    Chuang__RequestHeader stamp = *header;
    stamp.principal = &principal;
    zframe_t *frame = envelope_restamp(body, size, &stamp);
    Chuang__Request *worker_view =
        chuang__request__unpack(NULL, zframe_size(frame), zframe_data(frame));
    assert_non_null(worker_view);
    assert_string_equal(worker_view->header->principal->name, "desk");
    assert_string_equal(worker_view->header->principal->kind, "");
    assert_memory_equal(worker_view->payload.data, "the method's input", worker_view->payload.len);
    chuang__request__free_unpacked(worker_view, NULL);
    zframe_destroy(&frame);
    chuang__request_header__free_unpacked(header, NULL);
    free(a);
    free(b);
}

/* Any field but the header and the payload is left out of the stamped
 * body, even one that a decoder reading tags differently could take for a
 * header; the payload a sender repeats is its last. */
static void test_other_fields_left_out(void **state)
{
    (void)state;
    size_t size;
    uint8_t *packed = s_pack("r-3", NULL, &size);
    uint8_t body[512];
    memcpy(body, packed, size);
    const uint8_t extra[] = {15 << 3 | 0, 0x96, 0x01,            /* field 15, varint 150 */
                             2 << 3 | 2,  3,    'n',  'e', 'w'}; /* the payload again */
    memcpy(body + size, extra, sizeof extra);
    size += sizeof extra;

    Chuang__RequestHeader *header = NULL;
    assert_int_equal(envelope_header(body, size, &header), 1);
    zframe_t *frame = envelope_restamp(body, size, header);
    assert_non_null(frame);
    Chuang__Request *worker_view =
        chuang__request__unpack(NULL, zframe_size(frame), zframe_data(frame));
    assert_non_null(worker_view);
    assert_int_equal(worker_view->base.n_unknown_fields, 0);
    assert_int_equal(worker_view->payload.len, 3);
    assert_memory_equal(worker_view->payload.data, "new", 3);
    chuang__request__free_unpacked(worker_view, NULL);
    zframe_destroy(&frame);
    chuang__request_header__free_unpacked(header, NULL);
    free(packed);
}

/* A header field this build does not know (a later version's, perhaps one
 * only a broker may set) does not reach the worker either. */
static void test_unknown_header_field_left_out(void **state)
{
    (void)state;
    Chuang__RequestHeader header = CHUANG__REQUEST_HEADER__INIT;
    header.request_id = "r-5";
    uint8_t body[256];
    size_t header_size = chuang__request_header__pack(&header, body + 2);
    const uint8_t unknown[] = {0xa0, 0x01, 0x05}; /* field 20, varint 5 */
    memcpy(body + 2 + header_size, unknown, sizeof unknown);
    header_size += sizeof unknown;
    body[0] = 1 << 3 | 2;
    body[1] = (uint8_t)header_size;

    Chuang__RequestHeader *read = NULL;
    assert_int_equal(envelope_header(body, 2 + header_size, &read), 1);
    assert_int_equal(read->base.n_unknown_fields, 1);
    zframe_t *frame = envelope_restamp(body, 2 + header_size, read);
    Chuang__Request *worker_view =
        chuang__request__unpack(NULL, zframe_size(frame), zframe_data(frame));
    assert_non_null(worker_view);
    assert_string_equal(worker_view->header->request_id, "r-5");
    assert_int_equal(worker_view->header->base.n_unknown_fields, 0);
    chuang__request__free_unpacked(worker_view, NULL);
    zframe_destroy(&frame);
    chuang__request_header__free_unpacked(read, NULL);
}

static void test_not_an_envelope(void **state)
{
    (void)state;
    Chuang__RequestHeader *header = NULL;
    /* Another MDP client's text. */
    assert_int_equal(envelope_header((const uint8_t *)"hello", 5, &header), -1);
    assert_null(header);
    /* Nothing at all, and a payload without a header. */
    assert_int_equal(envelope_header(NULL, 0, &header), 0);
    const uint8_t payload_only[] = {2 << 3 | 2, 3, 'a', 'b', 'c'};
    assert_int_equal(envelope_header(payload_only, sizeof payload_only, &header), 0);
    /* Cut short, at each byte. */
    size_t size;
    uint8_t *packed = s_pack("r-4", NULL, &size);
    for (size_t cut = 1; cut < size; cut++) {
        int found = envelope_header(packed, cut, &header);
        assert_true(found != 1 || header);
        chuang__request_header__free_unpacked(header, NULL);
        Chuang__Request *full = chuang__request__unpack(NULL, cut, packed);
        if (full && full->header)
            assert_int_equal(found, 1);
        chuang__request__free_unpacked(full, NULL);
    }
    /* A header of the wrong wire type, and one longer than the body. */
    const uint8_t varint_header[] = {1 << 3 | 0, 1};
    assert_int_equal(envelope_header(varint_header, sizeof varint_header, &header), -1);
    const uint8_t long_header[] = {1 << 3 | 2, 100, 0x0a, 0x00};
    assert_int_equal(envelope_header(long_header, sizeof long_header, &header), -1);
    assert_null(envelope_restamp(long_header, sizeof long_header,
                                 &(Chuang__RequestHeader)CHUANG__REQUEST_HEADER__INIT));
    free(packed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_read_payload_kept),
        cmocka_unit_test(test_second_header_field_replaced),
        cmocka_unit_test(test_other_fields_left_out),
        cmocka_unit_test(test_unknown_header_field_left_out),
        cmocka_unit_test(test_not_an_envelope),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
