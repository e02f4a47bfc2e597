/*
 * test_bounds.c - the request size check: defaults, a service's own
 * maxima, nested messages and the paths reported.
 */
#include "bounds.h"
#include "notify.pb-c.h"
#include "registry.pb-c.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char s_reported[8][160];
static int s_count;

static void s_collect(void *arg, const char *path, const char *description)
{
    (void)arg;
    if (s_count < 8)
        snprintf(s_reported[s_count], sizeof s_reported[0], "%s: %s", path, description);
    s_count++;
}

static int s_check(const ProtobufCMessage *message, const bounds_t *table)
{
    s_count = 0;
    return bounds_check(message, table, s_collect, NULL);
}

static char *s_text(size_t length)
{
    char *text = malloc(length + 1);
    memset(text, 'a', length);
    text[length] = '\0';
    return text;
}

static void test_defaults_and_own_maxima(void **state)
{
    (void)state;
    const bounds_t table[] = {{"chuang.notify.Bulletin.body", 20000},
                              {"chuang.notify.Bulletin.categories", 2},
                              {NULL, 0}};
    Chuang__Notify__Bulletin bulletin = CHUANG__NOTIFY__BULLETIN__INIT;
    char *body = s_text(20000), *title = s_text(BOUNDS_STRING_MAX);
    char *categories[3] = {"tax", "talent", "financing"};
    bulletin.body = body;
    bulletin.title = title;
    bulletin.categories = categories;
    bulletin.n_categories = 2;
    assert_int_equal(s_check(&bulletin.base, table), 0);
    /* Without the table, the body is past the default. */
    assert_int_equal(s_check(&bulletin.base, NULL), 1);
    assert_string_equal(s_reported[0], "body: must be at most 4096 bytes");
    bulletin.n_categories = 3;
    title[0] = 'b';
    char *longer = s_text(BOUNDS_STRING_MAX + 1);
    bulletin.title = longer;
    assert_int_equal(s_check(&bulletin.base, table), 2);
    assert_string_equal(s_reported[0], "title: must be at most 4096 bytes");
    assert_string_equal(s_reported[1], "categories: must have at most 2 items");
    free(body);
    free(title);
    free(longer);
}

static void test_nested_paths(void **state)
{
    (void)state;
    Chuang__Registry__Person people[2] = {CHUANG__REGISTRY__PERSON__INIT,
                                          CHUANG__REGISTRY__PERSON__INIT};
    Chuang__Registry__Founder founders[2] = {CHUANG__REGISTRY__FOUNDER__INIT,
                                             CHUANG__REGISTRY__FOUNDER__INIT};
    Chuang__Registry__Founder *list[2] = {&founders[0], &founders[1]};
    char *long_id = s_text(BOUNDS_STRING_MAX + 5);
    people[1].id_number = long_id;
    founders[0].person = &people[0];
    founders[1].person = &people[1];
    Chuang__Registry__FounderCategory many[BOUNDS_REPEATED_MAX + 1] = {0};
    founders[0].categories = many;
    founders[0].n_categories = BOUNDS_REPEATED_MAX + 1;
    Chuang__Registry__RegisterRequest request = CHUANG__REGISTRY__REGISTER_REQUEST__INIT;
    request.founders = list;
    request.n_founders = 2;
    assert_int_equal(s_check(&request.base, NULL), 2);
    assert_string_equal(s_reported[0], "founders.0.categories: must have at most 100 items");
    assert_string_equal(s_reported[1], "founders.1.person.id_number: must be at most 4096 bytes");
    founders[0].n_categories = BOUNDS_REPEATED_MAX;
    people[1].id_number = "";
    assert_int_equal(s_check(&request.base, NULL), 0);
    free(long_id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_own_maxima),
        cmocka_unit_test(test_nested_paths),
    };
    return cmocka_run_group_tests_name("bounds", tests, NULL, NULL);
}
