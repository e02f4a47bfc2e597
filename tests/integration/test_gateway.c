/*
 * test_gateway.c - the HTTP/JSON gateway in front of the broker, the
 * registry, finance and the incubator, against the harness's PostgreSQL
 * and Redis, spoken to over HTTP with libcurl as a browser or a
 * department's program would: the public lookups answered without an
 * account, everything else answered 401 whatever roles a caller claims,
 * and every kind of bad request answered with a problem (RFC 9457) in the
 * caller's language that names the field, with nothing written; an
 * address past its rate told to wait while another is not.
 */
#include "client.h"
#include "finance_fixture.h"
#include "harness.h"
#include "registry_fixture.h"

#include <curl/curl.h>
#include <jansson.h>

#include <czmq.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define GATEWAY  CHUANG_BUILD_DIR "/services/gateway/chuang-gateway"
#define DISTRICT "330106"

static finance_fixture_t s_deployment;
static client_t *s_clerk;
static pid_t s_gateway, s_strict, s_proxied;
static char s_base[64], s_strict_base[64], s_proxied_base[64];
static const char *s_target = s_base; /* the gateway s_http speaks to */
static const char *s_source;          /* the address it speaks from; NULL: any */
static char *s_firm;

typedef struct {
    long status;
    char *body;
    size_t size;
    char type[128];
    char language[32];
    char retry_after[16];
    json_t *json;
} s_response_t;

static size_t s_body(char *data, size_t size, size_t count, void *arg)
{
    s_response_t *r = arg;
    char *grown = realloc(r->body, r->size + size * count + 1);
    assert_non_null(grown);
    memcpy(grown + r->size, data, size * count);
    r->body = grown;
    r->size += size * count;
    r->body[r->size] = '\0';
    return size * count;
}

static size_t s_header(char *data, size_t size, size_t count, void *arg)
{
    s_response_t *r = arg;
    size_t len = size * count;
    if (len > 18 && strncasecmp(data, "Content-Language: ", 18) == 0)
        snprintf(r->language, sizeof r->language, "%.*s", (int)strcspn(data + 18, "\r\n"),
                 data + 18);
    if (len > 13 && strncasecmp(data, "Retry-After: ", 13) == 0)
        snprintf(r->retry_after, sizeof r->retry_after, "%.*s", (int)strcspn(data + 13, "\r\n"),
                 data + 13);
    return len;
}

/* Sends verb path with body (NULL: none, as JSON) and headers (NULL-ended,
 * may be NULL); the response with its body parsed when it is JSON (caller
 * frees with s_free). */
static s_response_t s_http(const char *verb, const char *path, const char *body,
                           const char *const *headers)
{
    s_response_t r = {0};
    CURL *curl = curl_easy_init();
    assert_non_null(curl);
    char url[2048];
    snprintf(url, sizeof url, "%s%s", s_target, path);
    struct curl_slist *list = NULL;
    bool typed = false;
    for (size_t i = 0; headers && headers[i]; i++) {
        list = curl_slist_append(list, headers[i]);
        typed = typed || strncasecmp(headers[i], "Content-Type:", 13) == 0;
    }
    if (body && !typed)
        list = curl_slist_append(list, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, verb);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, s_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, s_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 20L);
    if (s_source)
        curl_easy_setopt(curl, CURLOPT_INTERFACE, s_source);
    CURLcode rc = curl_easy_perform(curl);
    if (rc != CURLE_OK)
        fail_msg("%s %s: %s", verb, path, curl_easy_strerror(rc));
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
    char *type = NULL;
    curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
    snprintf(r.type, sizeof r.type, "%s", type ? type : "");
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    if (r.body)
        r.json = json_loadb(r.body, r.size, 0, NULL);
    return r;
}

static void s_free(s_response_t *r)
{
    free(r->body);
    json_decref(r->json);
}

static const char *s_text(const json_t *json, const char *key)
{
    const char *text = json_string_value(json_object_get(json, key));
    return text ? text : "";
}

/* Asserts r is a problem of http status naming field (NULL: any or none)
 * and frees it. */
static void s_assert_problem(s_response_t *r, long status, const char *field)
{
    if (r->status != status)
        fail_msg("status %ld, not %ld: %s", r->status, status, r->body ? r->body : "");
    assert_string_equal(r->type, "application/problem+json");
    assert_non_null(r->json);
    assert_int_equal(json_integer_value(json_object_get(r->json, "status")), status);
    assert_true(strncmp(s_text(r->json, "type"), "urn:chuang:problem:", 19) == 0);
    assert_true(*s_text(r->json, "title"));
    if (field) {
        json_t *errors = json_object_get(r->json, "errors");
        bool named = false;
        for (size_t i = 0; i < json_array_size(errors); i++)
            named = named || streq(s_text(json_array_get(errors, i), "field"), field);
        if (!named)
            fail_msg("no error names %s: %s", field, r->body);
    }
    s_free(r);
}

/* Starts a gateway in front of the deployment (limit and more: settings
 * of its own, or NULL), its base URL into base, waiting until it answers. */
static pid_t s_start_gateway(char *base, const char *limit, const char *more)
{
    int port = harness_free_port();
    snprintf(base, 64, "http://127.0.0.1:%d", port);
    char *listen = zsys_sprintf("CHUANG_GATEWAY_LISTEN=127.0.0.1:%d", port);
    char *brokers = zsys_sprintf("CHUANG_BROKERS=%s", s_deployment.endpoint);
    char *redis = zsys_sprintf("CHUANG_REDIS_URL=%s", harness_get("CHUANG_TEST_REDIS_URL"));
    char *prefix = zsys_sprintf("CHUANG_REDIS_PREFIX=gtest:gateway:%d", port);
    const char *env[] = {listen,
                         brokers,
                         redis,
                         prefix,
                         "CHUANG_SECURITY_PLAIN=yes",
                         "CHUANG_AGENCY=" DISTRICT,
                         "CHUANG_GATEWAY_BODY_MAX=4096",
                         "CHUANG_GATEWAY_THREADS=4",
                         limit,
                         more,
                         NULL};
    char name[32];
    snprintf(name, sizeof name, "gateway-%d", port);
    pid_t pid = harness_spawn(name, GATEWAY, env);
    zstr_free(&listen);
    zstr_free(&brokers);
    zstr_free(&redis);
    zstr_free(&prefix);
    bool up = false;
    for (int i = 0; pid > 0 && i < 100 && !up; i++) {
        CURL *curl = curl_easy_init();
        char url[96];
        snprintf(url, sizeof url, "%s/healthz", base);
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
        up = curl_easy_perform(curl) == CURLE_OK;
        curl_easy_cleanup(curl);
        if (!up)
            zclock_sleep(100);
    }
    return up ? pid : -1;
}

static int s_setup(void **state)
{
    (void)state;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
        finance_fixture_start(&s_deployment, "gateway", "gtest") != 0 ||
        finance_fixture_start_incubator(&s_deployment) != 0)
        return -1;
    s_gateway = s_start_gateway(s_base, NULL, NULL);
    s_strict = s_start_gateway(s_strict_base, "CHUANG_GATEWAY_RATE_PER_ADDRESS=1", NULL);
    s_proxied = s_start_gateway(s_proxied_base, "CHUANG_GATEWAY_RATE_PER_ADDRESS=1",
                                "CHUANG_GATEWAY_TRUSTED_PROXIES=127.0.0.3");
    if (s_gateway <= 0 || s_strict <= 0 || s_proxied <= 0)
        return -1;
    s_clerk = finance_fixture_client(&s_deployment, DISTRICT, "clerk-1", "officer");
    s_firm = registry_fixture_register(s_clerk, "网关");
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    if (s_gateway > 0)
        harness_stop(s_gateway, SIGTERM, 5000);
    if (s_strict > 0)
        harness_stop(s_strict, SIGTERM, 5000);
    if (s_proxied > 0)
        harness_stop(s_proxied, SIGTERM, 5000);
    client_destroy(&s_clerk);
    free(s_firm);
    curl_global_cleanup();
    return finance_fixture_stop(&s_deployment);
}

static void test_health_and_readiness(void **state)
{
    (void)state;
    s_response_t r = s_http("GET", "/healthz", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(s_text(r.json, "status"), "alive");
    s_free(&r);
    r = s_http("GET", "/readyz", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(s_text(r.json, "status"), "ready");
    s_free(&r);
}

static void test_the_public_lookups_need_no_account(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "/v1/register/%s", s_firm);
    s_response_t r = s_http("GET", path, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.type, "application/json; charset=utf-8");
    assert_string_equal(s_text(r.json, "creditCode"), s_firm);
    /* The public register shows the representative masked. */
    json_t *rep = json_object_get(r.json, "legalRepresentative");
    assert_non_null(rep);
    assert_non_null(strchr(s_text(rep, "idNumber"), '*'));
    s_free(&r);

    /* A name search, its limit from the query. */
    r = s_http("GET", "/v1/names?query=%E7%BD%91%E5%85%B3&limit=5", NULL, NULL); /* 网关 */
    assert_int_equal(r.status, 200);
    json_t *matches = json_object_get(r.json, "matches");
    assert_true(json_array_size(matches) >= 1);
    assert_non_null(strstr(s_text(json_array_get(matches, 0), "name"), "网关"));
    s_free(&r);

    /* The carrier directory, empty, and its credit standing. */
    r = s_http("GET", "/v1/carriers", NULL, NULL);
    assert_int_equal(r.status, 200);
    s_free(&r);
    snprintf(path, sizeof path, "/v1/entities/%s/credit-standing", s_firm);
    r = s_http("GET", path, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(s_text(r.json, "standing"), "good");
    s_free(&r);
    /* The address names the resource, whatever the query says. */
    snprintf(path, sizeof path, "/v1/register/%s?creditCode=NOT-THIS-ONE", s_firm);
    r = s_http("GET", path, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(s_text(r.json, "creditCode"), s_firm);
    s_free(&r);
    /* The generic route reaches the same method. */
    char body[96];
    snprintf(body, sizeof body, "{\"creditCode\": \"%s\"}", s_firm);
    r = s_http("POST", "/v1/registry/Lookup", body, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(s_text(r.json, "creditCode"), s_firm);
    s_free(&r);
}

static void test_what_is_not_public_needs_an_account_whatever_is_claimed(void **state)
{
    (void)state;
    long long before =
        finance_fixture_value_in(harness_service_db("gateway", "registry"), "registry",
                                 "SELECT count(*) FROM name_reservations");
    const char *claims[] = {"X-Chuang-Roles: officer", "X-Roles: officer", NULL};
    s_response_t r = s_http("POST", "/v1/name-reservations",
                            "{\"region\": \"杭州\", \"tradeName\": \"冒充\","
                            " \"industry\": \"网络科技\", \"organisationalForm\": \"有限公司\","
                            " \"applicantName\": \"张三\","
                            " \"applicantIdNumber\": \"11010519491231002X\","
                            " \"roles\": \"officer\"}",
                            claims);
    /* An unknown field is refused before anything is called. */
    s_assert_problem(&r, 400, "roles");
    r = s_http("POST", "/v1/name-reservations",
               "{\"region\": \"杭州\", \"tradeName\": \"冒充\", \"industry\": \"网络科技\","
               " \"organisationalForm\": \"有限公司\", \"applicantName\": \"张三\","
               " \"applicantIdNumber\": \"11010519491231002X\"}",
               claims);
    assert_int_equal(r.status, 401);
    assert_string_equal(s_text(r.json, "title"), "请先登录");
    assert_string_equal(r.language, "zh-CN");
    s_assert_problem(&r, 401, NULL);
    char path[128];
    snprintf(path, sizeof path, "/v1/entities/%s", s_firm);
    r = s_http("GET", path, NULL, claims);
    s_assert_problem(&r, 401, NULL);
    assert_int_equal(finance_fixture_value_in(harness_service_db("gateway", "registry"), "registry",
                                              "SELECT count(*) FROM name_reservations"),
                     before);
}

static void test_bad_requests_are_problems_that_name_the_field(void **state)
{
    (void)state;
    /* A field of the wrong type in the query, and the service's own check,
     * in English when asked. */
    s_response_t r = s_http("GET", "/v1/names?query=x&limit=many", NULL, NULL);
    s_assert_problem(&r, 400, "limit");
    const char *english[] = {"Accept-Language: en-GB,en;q=0.9,zh;q=0.5", NULL};
    r = s_http("GET", "/v1/register/NOT-A-CODE", NULL, english);
    assert_string_equal(s_text(r.json, "title"), "invalid request");
    assert_string_equal(r.language, "en");
    s_assert_problem(&r, 400, "credit_code");
    const char *chinese_first[] = {"Accept-Language: en;q=0.4, zh-CN", NULL};
    r = s_http("GET", "/v1/register/NOT-A-CODE", NULL, chinese_first);
    assert_string_equal(s_text(r.json, "title"), "请求内容有误");
    s_assert_problem(&r, 400, "credit_code");

    /* Unknown resources and methods, and the wrong verb. */
    r = s_http("GET", "/v1/nothing", NULL, NULL);
    s_assert_problem(&r, 404, NULL);
    r = s_http("POST", "/v1/registry/NoSuchMethod", "{}", NULL);
    s_assert_problem(&r, 404, NULL);
    r = s_http("GET", "/v1/name-reservations", NULL, NULL);
    s_assert_problem(&r, 405, NULL);
    r = s_http("POST", "/v1/register/91330106MA2ABCDE1X", "{}", NULL);
    assert_non_null(strstr(s_text(r.json, "detail"), "takes GET"));
    s_assert_problem(&r, 405, NULL);

    /* Bodies that are not JSON, not an object, not declared JSON, too big. */
    r = s_http("POST", "/v1/registry/SearchNames", "{\"query\": ", NULL);
    assert_non_null(strstr(s_text(r.json, "detail"), "not JSON"));
    s_assert_problem(&r, 400, NULL);
    r = s_http("POST", "/v1/registry/SearchNames", "[1, 2]", NULL);
    s_assert_problem(&r, 400, NULL);
    r = s_http("POST", "/v1/registry/SearchNames", "{\"query\": 12}", NULL);
    s_assert_problem(&r, 400, "query");
    const char *text[] = {"Content-Type: text/plain", NULL};
    r = s_http("POST", "/v1/registry/SearchNames", "{\"query\": \"x\"}", text);
    s_assert_problem(&r, 415, NULL);
    char *big = malloc(6000);
    memset(big, ' ', 5999);
    big[0] = '{';
    big[5998] = '}';
    big[5999] = '\0';
    r = s_http("POST", "/v1/registry/SearchNames", big, NULL);
    free(big);
    s_assert_problem(&r, 413, NULL);

    /* Headers the gateway reads. */
    const char *key[] = {"Idempotency-Key: not a key!", NULL};
    r = s_http("POST", "/v1/registry/SearchNames", "{\"query\": \"x\"}", key);
    s_assert_problem(&r, 400, "Idempotency-Key");
    const char *timeout[] = {"X-Request-Timeout: 999999", NULL};
    r = s_http("POST", "/v1/registry/SearchNames", "{\"query\": \"x\"}", timeout);
    s_assert_problem(&r, 400, "X-Request-Timeout");
    const char *fine[] = {"Idempotency-Key: search-1", "X-Request-Timeout: 5000", NULL};
    r = s_http("POST", "/v1/registry/SearchNames", "{\"query\": \"x\"}", fine);
    assert_int_equal(r.status, 200);
    s_free(&r);
}

static void test_the_openapi_document_describes_every_route_and_is_valid(void **state)
{
    (void)state;
    s_response_t r = s_http("GET", "/v1/openapi.json", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(r.json);
    assert_string_equal(s_text(r.json, "openapi"), "3.1.0");
    json_t *paths = json_object_get(r.json, "paths");
    json_t *lookup = json_object_get(json_object_get(paths, "/v1/register/{credit_code}"), "get");
    assert_non_null(lookup);
    json_t *parameter = json_array_get(json_object_get(lookup, "parameters"), 0);
    assert_string_equal(s_text(parameter, "name"), "credit_code");
    assert_string_equal(s_text(parameter, "in"), "path");
    /* Every method of every service, by the generic route. */
    assert_non_null(
        json_object_get(json_object_get(paths, "/v1/incubator/GraduateTenant"), "post"));
    assert_non_null(json_object_get(json_object_get(paths, "/v1/finance/PayAward"), "post"));
    json_t *entity =
        json_object_get(json_object_get(json_object_get(r.json, "components"), "schemas"),
                        "chuang.registry.Entity");
    json_t *capital =
        json_object_get(json_object_get(entity, "properties"), "registeredCapitalFen");
    assert_string_equal(s_text(capital, "type"), "string"); /* int64 as a decimal string */
    /* An independent validator finds it a valid OpenAPI 3.1 document. */
    char file[512], command[1536];
    snprintf(file, sizeof file, "%s/openapi.json", harness_dir());
    FILE *out = fopen(file, "w");
    assert_non_null(out);
    fwrite(r.body, 1, r.size, out);
    fclose(out);
    snprintf(command, sizeof command, "node %s/tests/openapi/validate.mjs %s", CHUANG_SOURCE_DIR,
             file);
    assert_int_equal(harness_sh("%s", command), 0);
    s_free(&r);
}

static void test_metrics_count_requests_by_route_and_status(void **state)
{
    (void)state;
    /* By now the tests above have been answered 200 and 404 on these. */
    s_response_t r = s_http("GET", "/metrics", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_true(strncmp(r.type, "text/plain; version=0.0.4", 25) == 0);
    assert_non_null(strstr(r.body, "# TYPE chuang_gateway_requests_total counter"));
    assert_non_null(
        strstr(r.body, "chuang_gateway_requests_total{route=\"/v1/names\",status=\"200\"} 1\n"));
    assert_non_null(strstr(r.body, "chuang_gateway_requests_total{route=\"none\",status=\"404\"}"));
    assert_non_null(strstr(r.body, "chuang_gateway_request_duration_seconds_bucket{route=\"/v1/"
                                   "register/{credit_code}\",le=\"+Inf\"} 4\n"));
    assert_non_null(strstr(r.body, "chuang_gateway_request_duration_seconds_count{route=\"/v1/"
                                   "register/{credit_code}\"} 4\n"));
    s_free(&r);
}

static void test_an_address_past_its_rate_is_told_to_wait(void **state)
{
    (void)state;
    /* At one request a second per address, twenty in a row pass it. */
    s_target = s_strict_base;
    s_source = "127.0.0.1";
    bool limited = false;
    for (int i = 0; i < 20 && !limited; i++) {
        s_response_t r = s_http("GET", "/v1/carriers", NULL, NULL);
        if (r.status == 429) {
            limited = true;
            assert_string_equal(s_text(r.json, "title"), "请求过于频繁，请稍后再试");
            assert_string_equal(r.retry_after, "1");
            s_assert_problem(&r, 429, NULL);
        } else {
            assert_int_equal(r.status, 200);
            s_free(&r);
        }
    }
    assert_true(limited);
    /* Another address is not held back by it. */
    s_source = "127.0.0.2";
    s_response_t r = s_http("GET", "/v1/carriers", NULL, NULL);
    assert_int_equal(r.status, 200);
    s_free(&r);
    s_target = s_base;
    s_source = NULL;
}

/* Sends up to count requests from source to the gateway behind a trusted
 * proxy (one a second per caller), each forwarded for caller, or for
 * caller and a number of its own when vary; true once one is held back. */
static bool s_held_back(const char *source, const char *caller, bool vary, int count)
{
    s_target = s_proxied_base;
    s_source = source;
    bool limited = false;
    for (int i = 0; i < count && !limited; i++) {
        char header[96];
        snprintf(header, sizeof header, "X-Forwarded-For: 203.0.113.1, %s%d", caller,
                 vary ? i + 1 : 7);
        const char *headers[] = {header, NULL};
        s_response_t r = s_http("GET", "/v1/carriers", NULL, headers);
        limited = r.status == 429;
        s_free(&r);
    }
    s_target = s_base;
    s_source = NULL;
    return limited;
}

static void test_behind_a_trusted_proxy_each_caller_has_its_own_rate(void **state)
{
    (void)state;
    /* Through the trusted proxy, one caller is held back, and twenty
     * callers with a request each are not... */
    assert_true(s_held_back("127.0.0.3", "198.51.100.", false, 20));
    assert_false(s_held_back("127.0.0.3", "192.0.2.", true, 20));
    /* ...while a peer that is no trusted proxy is one caller, whatever
     * its X-Forwarded-For says. */
    assert_true(s_held_back("127.0.0.4", "203.0.113.", true, 20));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_and_readiness),
        cmocka_unit_test(test_the_public_lookups_need_no_account),
        cmocka_unit_test(test_what_is_not_public_needs_an_account_whatever_is_claimed),
        cmocka_unit_test(test_bad_requests_are_problems_that_name_the_field),
        cmocka_unit_test(test_the_openapi_document_describes_every_route_and_is_valid),
        cmocka_unit_test(test_metrics_count_requests_by_route_and_status),
        cmocka_unit_test(test_an_address_past_its_rate_is_told_to_wait),
        cmocka_unit_test(test_behind_a_trusted_proxy_each_caller_has_its_own_rate),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
