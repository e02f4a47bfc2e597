/*
 * test_personal.c - the one marking of personal data: the table the build
 * reads from the .proto files, public masking and redaction by it.
 */
#include "personal.h"
#include "redact.h"
#include "registry.pb-c.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

static void *s_alloc(void *arg, size_t size)
{
    void **blocks = arg;
    for (int i = 0; i < 8; i++)
        if (!blocks[i])
            return blocks[i] = calloc(1, size);
    return NULL;
}

static void test_marked_fields(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *person = &chuang__registry__person__descriptor;
    assert_true(personal_field(
        person, protobuf_c_message_descriptor_get_field_by_name(person, "id_number")));
    assert_true(
        personal_field(person, protobuf_c_message_descriptor_get_field_by_name(person, "phone")));
    assert_false(
        personal_field(person, protobuf_c_message_descriptor_get_field_by_name(person, "name")));
    assert_true(personal_path("legal_representative.id_number"));
    assert_false(personal_path("business_scope"));
}

static void test_mask_and_redact_by_the_marking(void **state)
{
    (void)state;
    Chuang__Registry__Person rep = CHUANG__REGISTRY__PERSON__INIT;
    rep.name = "李四";
    rep.id_number = "330106199003071236";
    rep.phone = "13812345678";
    Chuang__Registry__Entity entity = CHUANG__REGISTRY__ENTITY__INIT;
    entity.legal_representative = &rep;
    entity.name = "杭州云栖网络科技有限公司";
    void *blocks[8] = {0};
    personal_mask(&entity.base, s_alloc, blocks);
    assert_string_equal(rep.id_number, "330106********1236");
    assert_string_equal(rep.phone, "138****5678");
    assert_string_equal(rep.name, "李四");
    for (int i = 0; i < 8; i++)
        free(blocks[i]);

    /* Redaction empties the same fields of a decoded payload. */
    rep.id_number = "330106199003071236";
    rep.phone = "13812345678";
    size_t size = protobuf_c_message_get_packed_size(&entity.base);
    uint8_t *packed = malloc(size);
    protobuf_c_message_pack(&entity.base, packed);
    Chuang__Registry__Entity *decoded = chuang__registry__entity__unpack(NULL, size, packed);
    redact_message(&decoded->base);
    assert_string_equal(decoded->legal_representative->id_number, "");
    assert_string_equal(decoded->legal_representative->phone, "");
    assert_string_equal(decoded->legal_representative->name, "李四");
    chuang__registry__entity__free_unpacked(decoded, NULL);
    free(packed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_marked_fields),
        cmocka_unit_test(test_mask_and_redact_by_the_marking),
    };
    return cmocka_run_group_tests_name("personal", tests, NULL, NULL);
}
