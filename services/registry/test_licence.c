/*
 * test_licence.c - the electronic licence: canonical form, key files, signing
 * and offline verification, including a known-answer test.
 *
 * The group setup makes a temporary folder and generates two keys in it, "a"
 * and "b"; the teardown removes everything the tests wrote there. Every test
 * that changes a licence works on a copy of s_licence. The known answer (a key
 * from a fixed seed signing a fixed licence) was computed once with this
 * module and checked independently with Python's cryptography package
 * (Ed25519PrivateKey.from_private_bytes over a canonical form rebuilt in
 * Python from the description in licence.h).
 */
#include "licence.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sodium.h>

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* Offsets of every field, to change each one in turn. */
static const size_t s_offsets[] = {
    offsetof(licence_fields_t, credit_code),
    offsetof(licence_fields_t, name),
    offsetof(licence_fields_t, entity_type),
    offsetof(licence_fields_t, legal_representative),
    offsetof(licence_fields_t, registered_capital_fen),
    offsetof(licence_fields_t, business_scope),
    offsetof(licence_fields_t, domicile),
    offsetof(licence_fields_t, registered_on),
    offsetof(licence_fields_t, issuing_agency),
    offsetof(licence_fields_t, issued_at),
    offsetof(licence_fields_t, key_id),
};

static const char **s_slot(licence_fields_t *fields, size_t i)
{
    return (const char **)((char *)fields + s_offsets[i]);
}

/* A licence with Chinese text; key_id is filled in per key. */
static const licence_fields_t s_licence = {
    .credit_code = "91330106MA2KXXXX1Q",
    .name = "杭州云栖网络科技有限公司",
    .entity_type = "有限责任公司(自然人投资或控股)",
    .legal_representative = "张三",
    .registered_capital_fen = "100000000",
    .business_scope = "一般项目：技术服务、技术开发、技术咨询；软件开发。"
                      "(除依法须经批准的项目外，凭营业执照依法自主开展经营活动)",
    .domicile = "浙江省杭州市西湖区云栖小镇1号",
    .registered_on = "2026-11-20",
    .issuing_agency = "杭州市西湖区市场监督管理局",
    .issued_at = "2026-11-21T10:00:00Z",
    .key_id = NULL,
};

typedef struct {
    char dir[64]; /* from mkdtemp, short */
    char path_a[PATH_MAX], path_b[PATH_MAX];
    agency_key_t *a, *b;
} fixture_t;

/* dir/name into out, PATH_MAX bytes; the names here are short. */
static void s_join(char *out, const char *dir, const char *name)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);
    assert_true(n > 0 && n < PATH_MAX);
}

/* Writes length bytes of text to dir/name; the path goes to path. */
static void s_write_file(fixture_t *f, const char *name, const char *text, size_t length,
                         char path[PATH_MAX])
{
    s_join(path, f->dir, name);
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    assert_int_equal(fwrite(text, 1, length, file), length);
    assert_int_equal(fclose(file), 0);
}

/* The whole of a small file as a string (the caller frees), or NULL. */
static char *s_read_file(const char *path)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return NULL;
    char *text = calloc(1, 4096);
    size_t length = fread(text, 1, 4095, file);
    fclose(file);
    text[length] = '\0';
    return text;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    if (!f || sodium_init() < 0)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/test_licence.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    s_join(f->path_a, f->dir, "a");
    s_join(f->path_b, f->dir, "b");
    if (agency_key_generate(f->path_a) != 0 || agency_key_generate(f->path_b) != 0)
        return -1;
    char secret[PATH_MAX + 8];
    snprintf(secret, sizeof secret, "%s_secret", f->path_a);
    f->a = agency_key_load(secret, NULL, 0);
    snprintf(secret, sizeof secret, "%s_secret", f->path_b);
    f->b = agency_key_load(secret, NULL, 0);
    if (!f->a || !f->b)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    agency_key_destroy(&f->a);
    agency_key_destroy(&f->b);
    DIR *dir = opendir(f->dir);
    if (dir) {
        struct dirent *entry;
        while ((entry = readdir(dir))) {
            if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
                continue;
            unlinkat(dirfd(dir), entry->d_name, 0);
        }
        closedir(dir);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* s_licence with the id of key. */
static licence_fields_t s_licence_for(agency_key_t *key)
{
    licence_fields_t fields = s_licence;
    fields.key_id = agency_key_id(key);
    return fields;
}

static void test_generate_writes_both_files(void **state)
{
    fixture_t *f = *state;
    char *public_text = s_read_file(f->path_a);
    assert_non_null(public_text);
    assert_int_equal(strlen(public_text), 65);
    assert_int_equal(public_text[64], '\n');
    public_text[64] = '\0';
    assert_string_equal(public_text, agency_key_public_hex(f->a));
    free(public_text);

    char secret[PATH_MAX + 8];
    snprintf(secret, sizeof secret, "%s_secret", f->path_a);
    struct stat info;
    assert_int_equal(stat(secret, &info), 0);
    assert_int_equal(info.st_mode & 0777, 0600);
    char *secret_text = s_read_file(secret);
    assert_non_null(secret_text);
    assert_int_equal(strlen(secret_text), 129);
    assert_int_equal(secret_text[128], '\n');
    /* libsodium's secret key ends with the public key. */
    assert_memory_equal(secret_text + 64, agency_key_public_hex(f->a), 64);
    free(secret_text);

    assert_int_equal(strlen(agency_key_id(f->a)), 16);
    assert_string_not_equal(agency_key_id(f->a), agency_key_id(f->b));
    assert_string_not_equal(agency_key_public_hex(f->a), agency_key_public_hex(f->b));
    assert_null(agency_key_id(NULL));
    assert_null(agency_key_public_hex(NULL));
}

static void test_generate_refuses_to_overwrite(void **state)
{
    fixture_t *f = *state;
    char *before = s_read_file(f->path_a);
    assert_int_equal(agency_key_generate(f->path_a), -1);
    char *after = s_read_file(f->path_a);
    assert_string_equal(before, after);
    free(before);
    free(after);

    /* Only the secret exists: refused too, and no public file appears. */
    char path[PATH_MAX], secret[PATH_MAX];
    s_write_file(f, "orphan_secret", "x", 1, secret);
    s_join(path, f->dir, "orphan");
    assert_int_equal(agency_key_generate(path), -1);
    assert_int_equal(access(path, F_OK), -1);

    char missing[PATH_MAX];
    s_join(missing, f->dir, "no/such/folder/key");
    assert_int_equal(agency_key_generate(missing), -1);
    assert_int_equal(agency_key_generate(NULL), -1);
}

static void test_sign_and_verify(void **state)
{
    fixture_t *f = *state;
    licence_fields_t fields = s_licence_for(f->a);
    char signature[LICENCE_SIGNATURE_HEX_SIZE];
    assert_int_equal(licence_sign(f->a, &fields, signature), 0);
    assert_int_equal(strlen(signature), 128);
    char reason[128] = "untouched";
    assert_int_equal(
        licence_verify(&fields, signature, agency_key_public_hex(f->a), reason, sizeof reason), 0);
    assert_string_equal(reason, "");

    /* Deterministic: signing again gives the same signature. */
    char again[LICENCE_SIGNATURE_HEX_SIZE];
    assert_int_equal(licence_sign(f->a, &fields, again), 0);
    assert_string_equal(signature, again);

    /* Either case of hex is taken. */
    char upper_signature[LICENCE_SIGNATURE_HEX_SIZE], upper_key[LICENCE_PUBLIC_HEX_SIZE];
    for (size_t i = 0; i < sizeof upper_signature; i++)
        upper_signature[i] = (char)toupper((unsigned char)signature[i]);
    for (size_t i = 0; i < sizeof upper_key; i++)
        upper_key[i] = (char)toupper((unsigned char)agency_key_public_hex(f->a)[i]);
    assert_int_equal(licence_verify(&fields, upper_signature, upper_key, NULL, 0), 0);
}

/* Changes one byte of every field in turn, two ways: a character appended,
 * and the lowest bit of the last byte flipped (which keeps the UTF-8 valid:
 * an ASCII byte stays ASCII, a continuation byte stays one). */
static void test_every_field_is_signed(void **state)
{
    fixture_t *f = *state;
    licence_fields_t fields = s_licence_for(f->a);
    char signature[LICENCE_SIGNATURE_HEX_SIZE];
    assert_int_equal(licence_sign(f->a, &fields, signature), 0);
    const char *public_hex = agency_key_public_hex(f->a);

    for (size_t i = 0; i < COUNT(s_offsets); i++) {
        for (int way = 0; way < 2; way++) {
            licence_fields_t changed = fields;
            const char **slot = s_slot(&changed, i);
            char value[1024];
            size_t length = strlen(*slot);
            assert_true(length > 0 && length + 2 < sizeof value);
            memcpy(value, *slot, length + 1);
            if (way == 0) {
                value[length] = 'x';
                value[length + 1] = '\0';
            } else {
                value[length - 1] ^= 1;
            }
            *slot = value;
            char reason[128] = "";
            int rc = licence_verify(&changed, signature, public_hex, reason, sizeof reason);
            if (rc != -1)
                fail_msg("field %zu changed %s still verifies", i,
                         way == 0 ? "by appending" : "by a flipped bit");
            const char *want = s_offsets[i] == offsetof(licence_fields_t, key_id)
                                   ? "key id does not match the public key"
                                   : "signature does not match the licence";
            assert_string_equal(reason, want);
        }
    }
}

static void test_signature_digit_changed(void **state)
{
    fixture_t *f = *state;
    licence_fields_t fields = s_licence_for(f->a);
    char signature[LICENCE_SIGNATURE_HEX_SIZE];
    assert_int_equal(licence_sign(f->a, &fields, signature), 0);
    /* Every position, so both the R and the S half are covered. */
    for (size_t i = 0; i < 128; i++) {
        char changed[LICENCE_SIGNATURE_HEX_SIZE];
        memcpy(changed, signature, sizeof changed);
        changed[i] = changed[i] == '0' ? '1' : '0';
        char reason[128] = "";
        if (licence_verify(&fields, changed, agency_key_public_hex(f->a), reason, sizeof reason) !=
            -1)
            fail_msg("signature with digit %zu changed still verifies", i);
        assert_string_equal(reason, "signature does not match the licence");
    }
}

static void test_another_key(void **state)
{
    fixture_t *f = *state;
    licence_fields_t fields_a = s_licence_for(f->a);
    char signature_a[LICENCE_SIGNATURE_HEX_SIZE];
    assert_int_equal(licence_sign(f->a, &fields_a, signature_a), 0);
    char reason[128] = "";

    /* b's public key against a licence naming a: the id gives it away. */
    assert_int_equal(
        licence_verify(&fields_a, signature_a, agency_key_public_hex(f->b), reason, sizeof reason),
        -1);
    assert_string_equal(reason, "key id does not match the public key");

    /* A licence relabelled with b's id, checked with b's key: a's signature
     * is not b's. */
    licence_fields_t relabelled = s_licence_for(f->b);
    assert_int_equal(licence_verify(&relabelled, signature_a, agency_key_public_hex(f->b), reason,
                                    sizeof reason),
                     -1);
    assert_string_equal(reason, "signature does not match the licence");

    /* b signs its own licence fine, and a's key does not verify it. */
    char signature_b[LICENCE_SIGNATURE_HEX_SIZE];
    assert_int_equal(licence_sign(f->b, &relabelled, signature_b), 0);
    assert_int_equal(licence_verify(&relabelled, signature_b, agency_key_public_hex(f->b), NULL, 0),
                     0);
    assert_int_equal(licence_verify(&relabelled, signature_b, agency_key_public_hex(f->a), reason,
                                    sizeof reason),
                     -1);
    assert_string_equal(reason, "key id does not match the public key");
}

static void test_key_id_mismatch(void **state)
{
    fixture_t *f = *state;
    /* Signing refuses a licence naming another key, or none. */
    licence_fields_t fields = s_licence_for(f->b);
    char signature[LICENCE_SIGNATURE_HEX_SIZE] = "untouched";
    assert_int_equal(licence_sign(f->a, &fields, signature), -1);
    assert_string_equal(signature, "");
    fields.key_id = NULL;
    assert_int_equal(licence_sign(f->a, &fields, signature), -1);
    fields.key_id = "";
    assert_int_equal(licence_sign(f->a, &fields, signature), -1);

    /* The id is compared exactly: upper case is another id. */
    fields = s_licence_for(f->a);
    assert_int_equal(licence_sign(f->a, &fields, signature), 0);
    char upper[LICENCE_KEY_ID_SIZE];
    for (size_t i = 0; i < sizeof upper; i++)
        upper[i] = (char)toupper((unsigned char)fields.key_id[i]);
    if (strcmp(upper, fields.key_id) != 0) {
        fields.key_id = upper;
        char reason[128] = "";
        assert_int_equal(
            licence_verify(&fields, signature, agency_key_public_hex(f->a), reason, sizeof reason),
            -1);
        assert_string_equal(reason, "key id does not match the public key");
    }
}

static void test_bad_arguments(void **state)
{
    fixture_t *f = *state;
    licence_fields_t fields = s_licence_for(f->a);
    char signature[LICENCE_SIGNATURE_HEX_SIZE];
    assert_int_equal(licence_sign(f->a, &fields, signature), 0);
    const char *public_hex = agency_key_public_hex(f->a);
    char reason[128];

    static const struct {
        const char *label;
        const char *public_hex;
        const char *want;
    } keys[] = {
        {"NULL", NULL, "public key is not 64 hex digits"},
        {"empty", "", "public key is not 64 hex digits"},
        {"63 digits", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde",
         "public key is not 64 hex digits"},
        {"65 digits", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0",
         "public key is not 64 hex digits"},
        {"not hex", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg",
         "public key is not 64 hex digits"},
        {"blank inside", "0123456789abcdef 123456789abcdef0123456789abcdef0123456789abcdef",
         "public key is not 64 hex digits"},
    };
    for (size_t i = 0; i < COUNT(keys); i++) {
        reason[0] = '\0';
        if (licence_verify(&fields, signature, keys[i].public_hex, reason, sizeof reason) != -1)
            fail_msg("public key %s accepted", keys[i].label);
        assert_string_equal(reason, keys[i].want);
    }

    char short_signature[LICENCE_SIGNATURE_HEX_SIZE];
    memcpy(short_signature, signature, sizeof short_signature);
    short_signature[127] = '\0';
    char long_signature[LICENCE_SIGNATURE_HEX_SIZE + 1];
    snprintf(long_signature, sizeof long_signature, "%s0", signature);
    char newline_signature[LICENCE_SIGNATURE_HEX_SIZE + 1];
    snprintf(newline_signature, sizeof newline_signature, "%s\n", signature);
    const char *signatures[] = {NULL, "", short_signature, long_signature, newline_signature};
    for (size_t i = 0; i < COUNT(signatures); i++) {
        reason[0] = '\0';
        if (licence_verify(&fields, signatures[i], public_hex, reason, sizeof reason) != -1)
            fail_msg("signature %zu accepted", i);
        assert_string_equal(reason, "signature is not 128 hex digits");
    }

    assert_int_equal(licence_verify(NULL, signature, public_hex, reason, sizeof reason), -1);
    assert_string_equal(reason, "licence is missing");

    licence_fields_t missing = fields;
    missing.domicile = NULL;
    assert_int_equal(licence_verify(&missing, signature, public_hex, reason, sizeof reason), -1);
    assert_string_equal(reason, "a licence field is missing or not valid utf-8");
    licence_fields_t invalid = fields;
    invalid.name = "杭州\xff";
    assert_int_equal(licence_verify(&invalid, signature, public_hex, reason, sizeof reason), -1);
    assert_string_equal(reason, "a licence field is missing or not valid utf-8");

    /* A reason buffer of one byte gets an empty string, of none nothing. */
    char tiny[1] = {'x'};
    assert_int_equal(licence_verify(NULL, signature, public_hex, tiny, sizeof tiny), -1);
    assert_int_equal(tiny[0], '\0');
    tiny[0] = 'x';
    assert_int_equal(licence_verify(NULL, signature, public_hex, tiny, 0), -1);
    assert_int_equal(tiny[0], 'x');

    assert_int_equal(licence_sign(NULL, &fields, signature), -1);
    assert_int_equal(licence_sign(f->a, NULL, signature), -1);
    assert_int_equal(licence_sign(f->a, &fields, NULL), -1);
    assert_int_equal(licence_sign(f->a, &invalid, signature), -1);
    assert_int_equal(licence_sign(f->a, &missing, signature), -1);

    agency_key_destroy(NULL);
    agency_key_t *none = NULL;
    agency_key_destroy(&none);
}

static void test_canonical_text(void **state)
{
    (void)state;
    licence_fields_t fields = {
        .credit_code = "C",
        .name = "a=b",
        .entity_type = "x\\ny",
        .legal_representative = "line\nbreak",
        .registered_capital_fen = "cr\rlf",
        .business_scope = "",
        .domicile = "住所",
        .registered_on = "2026-11-20",
        .issuing_agency = "\\",
        .issued_at = "2026-11-21T10:00:00Z",
        .key_id = "0123456789abcdef",
    };
    static const char want[] = "chuang-licence-v1\n"
                               "credit_code=C\n"
                               "name=a\\=b\n"
                               "entity_type=x\\\\ny\n"
                               "legal_representative=line\\nbreak\n"
                               "registered_capital_fen=cr\\rlf\n"
                               "business_scope=\n"
                               "domicile=住所\n"
                               "registered_on=2026-11-20\n"
                               "issuing_agency=\\\\\n"
                               "issued_at=2026-11-21T10:00:00Z\n"
                               "key_id=0123456789abcdef\n";
    size_t size = 1;
    char *canonical = licence_canonical(&fields, &size);
    assert_non_null(canonical);
    assert_string_equal(canonical, want);
    assert_int_equal(size, sizeof want - 1);
    free(canonical);

    /* size may be NULL. */
    canonical = licence_canonical(&fields, NULL);
    assert_non_null(canonical);
    free(canonical);
}

/* Each pair would collide under a naive "key=value" join or concatenation. */
static void test_canonical_unambiguous(void **state)
{
    (void)state;
    static const struct {
        const char *label;
        const char *name, *entity_type;
    } pairs[][2] = {
        {{"'=' moved across fields, 1", "a=b", "c"}, {"'=' moved across fields, 2", "a", "b=c"}},
        {{"LF moved across fields, 1", "a\nb", "c"}, {"LF moved across fields, 2", "a", "b\nc"}},
        {{"injected line", "甲\nentity_type=乙", "丙"},
         {"genuine line", "甲", "乙\nentity_type=丙"}},
        {{"injected line 2", "甲\nentity_type=乙", ""}, {"genuine line 2", "甲", "乙"}},
        {{"escaped backslash", "a\\", "n"}, {"escape moved", "a", "\\n"}},
        {{"backslash n", "a\\n", "b"}, {"real LF", "a\n", "b"}},
        {{"backslash equals", "a\\=", "b"}, {"real equals", "a=", "b"}},
        {{"empty first", "", "ab"}, {"empty second", "ab", ""}},
        {{"CR", "a\r", "b"}, {"backslash r", "a\\r", "b"}},
    };
    for (size_t i = 0; i < COUNT(pairs); i++) {
        char *canonical[2];
        size_t size[2];
        for (int k = 0; k < 2; k++) {
            licence_fields_t fields = s_licence;
            fields.key_id = "0123456789abcdef";
            fields.name = pairs[i][k].name;
            fields.entity_type = pairs[i][k].entity_type;
            canonical[k] = licence_canonical(&fields, &size[k]);
            assert_non_null(canonical[k]);
            /* Twelve lines, whatever the values hold. */
            size_t lines = 0;
            for (size_t b = 0; b < size[k]; b++)
                lines += canonical[k][b] == '\n';
            if (lines != 12)
                fail_msg("%s: %zu lines", pairs[i][k].label, lines);
        }
        if (size[0] == size[1] && memcmp(canonical[0], canonical[1], size[0]) == 0)
            fail_msg("%s and %s give the same bytes", pairs[i][0].label, pairs[i][1].label);
        free(canonical[0]);
        free(canonical[1]);
    }
}

static void test_canonical_refuses(void **state)
{
    (void)state;
    assert_null(licence_canonical(NULL, NULL));
    static const char *const invalid[] = {
        "\xff",             /* never in UTF-8 */
        "\xc0\xaf",         /* overlong '/' */
        "\xc0\x80",         /* overlong NUL */
        "\xe0\x80\xaf",     /* overlong, 3 bytes */
        "\xed\xa0\x80",     /* surrogate U+D800 */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "\xe6\x9d",         /* truncated 杭 */
        "\x80",             /* lone continuation */
        "杭州\xe6",         /* truncated at the end */
    };
    for (size_t i = 0; i < COUNT(s_offsets); i++) {
        licence_fields_t fields = s_licence;
        fields.key_id = "0123456789abcdef";
        size_t size = 99;
        *s_slot(&fields, i) = NULL;
        assert_null(licence_canonical(&fields, &size));
        assert_int_equal(size, 0);
        for (size_t k = 0; k < COUNT(invalid); k++) {
            *s_slot(&fields, i) = invalid[k];
            if (licence_canonical(&fields, NULL))
                fail_msg("field %zu: invalid UTF-8 %zu accepted", i, k);
        }
    }
    /* The largest and the rarest valid forms are taken. */
    licence_fields_t fields = s_licence;
    fields.key_id = "0123456789abcdef";
    fields.name = "\xf4\x8f\xbf\xbf\xef\xbf\xbf\xed\x9f\xbf\xee\x80\x80\xc2\x80\x7f😀";
    char *canonical = licence_canonical(&fields, NULL);
    assert_non_null(canonical);
    free(canonical);
}

/* Writes the secret file of a key from a seed into the fixture's folder. */
static void s_write_seed_key(fixture_t *f, const unsigned char seed[32], const char *name,
                             char path[PATH_MAX])
{
    unsigned char public_key[crypto_sign_PUBLICKEYBYTES], secret[crypto_sign_SECRETKEYBYTES];
    assert_int_equal(crypto_sign_seed_keypair(public_key, secret, seed), 0);
    char text[LICENCE_SECRET_HEX_SIZE + 1];
    sodium_bin2hex(text, LICENCE_SECRET_HEX_SIZE, secret, sizeof secret);
    strcat(text, "\n");
    s_write_file(f, name, text, strlen(text), path);
}

/* Seed 00 01 02 .. 1f, licence s_licence. The values were computed by this
 * module and independently by Python (cryptography 48 for Ed25519, hashlib,
 * and the canonical form rebuilt from licence.h). */
#define KAT_PUBLIC_HEX "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
#define KAT_KEY_ID     "56475aa75463474c"
#define KAT_SIGNATURE                                                                              \
    "27de5b11d153e7c71d58f0ccdaf5688f6c3ab60bea67606172c13fe8fc66ca77"                             \
    "47465866bfa2d3284e00b9b599391dfbde18ce00f3b6383c2972cd749ec5e00a"

/* Also the canonical bytes: their SHA-256 and length, as Python computed
 * them, so a change of the form shows here before it shows as a signature. */
#define KAT_CANONICAL_SHA256 "10aae38164781d203649233c943f4836857ed640db1d64702d112e5dc2142b9e"
#define KAT_CANONICAL_SIZE   571

static void test_known_answer(void **state)
{
    fixture_t *f = *state;
    unsigned char seed[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (unsigned char)i;
    char path[PATH_MAX], reason[128] = "";
    s_write_seed_key(f, seed, "kat_secret", path);
    agency_key_t *key = agency_key_load(path, reason, sizeof reason);
    assert_non_null(key);
    assert_string_equal(agency_key_public_hex(key), KAT_PUBLIC_HEX);
    assert_string_equal(agency_key_id(key), KAT_KEY_ID);

    licence_fields_t fields = s_licence;
    fields.key_id = KAT_KEY_ID;
    size_t size;
    char *canonical = licence_canonical(&fields, &size);
    assert_non_null(canonical);
    assert_int_equal(size, KAT_CANONICAL_SIZE);
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)canonical, size);
    char digest_hex[2 * crypto_hash_sha256_BYTES + 1];
    sodium_bin2hex(digest_hex, sizeof digest_hex, digest, sizeof digest);
    assert_string_equal(digest_hex, KAT_CANONICAL_SHA256);
    free(canonical);

    char signature[LICENCE_SIGNATURE_HEX_SIZE];
    assert_int_equal(licence_sign(key, &fields, signature), 0);
    assert_string_equal(signature, KAT_SIGNATURE);
    assert_int_equal(licence_verify(&fields, KAT_SIGNATURE, KAT_PUBLIC_HEX, reason, sizeof reason),
                     0);
    agency_key_destroy(&key);
    assert_null(key);
}

static void test_tampered_key_files(void **state)
{
    fixture_t *f = *state;
    char secret_a[PATH_MAX + 8];
    snprintf(secret_a, sizeof secret_a, "%s_secret", f->path_a);
    char *good = s_read_file(secret_a);
    assert_non_null(good);
    assert_int_equal(strlen(good), 129);

    /* Without the LF it still loads, to the same key. */
    char path[PATH_MAX], reason[128] = "";
    s_write_file(f, "no_lf_secret", good, 128, path);
    agency_key_t *key = agency_key_load(path, reason, sizeof reason);
    assert_non_null(key);
    assert_string_equal(agency_key_id(key), agency_key_id(f->a));
    agency_key_destroy(&key);
    agency_key_destroy(&key); /* safe twice */

    char text[256];
    static const struct {
        const char *label;
        int kind;
        const char *want;
    } cases[] = {
        {"digit of the seed changed", 0, "key file's public half does not match its secret half"},
        {"digit of the public half changed", 1,
         "key file's public half does not match its secret half"},
        {"short by one digit", 2, "key file is not 128 hex digits"},
        {"one digit more", 3, "key file is not 128 hex digits"},
        {"empty", 4, "key file is not 128 hex digits"},
        {"not hex", 5, "key file is not 128 hex digits"},
        {"CR LF", 6, "key file is not 128 hex digits"},
        {"two LFs", 7, "key file is not 128 hex digits"},
        {"NUL after the digits", 8, "key file is not 128 hex digits"},
        {"public key file instead", 9, "key file is not 128 hex digits"},
        {"leading blank", 10, "key file is not 128 hex digits"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        memcpy(text, good, 130);
        size_t length = 129;
        switch (cases[i].kind) {
        case 0:
            text[10] = text[10] == '0' ? '1' : '0';
            break;
        case 1:
            text[100] = text[100] == '0' ? '1' : '0';
            break;
        case 2:
            text[127] = '\n';
            length = 128;
            break;
        case 3:
            text[128] = '0';
            text[129] = '\n';
            length = 130;
            break;
        case 4:
            length = 0;
            break;
        case 5:
            text[0] = 'z';
            break;
        case 6:
            memcpy(text + 128, "\r\n", 2);
            length = 130;
            break;
        case 7:
            memcpy(text + 128, "\n\n", 2);
            length = 130;
            break;
        case 8:
            text[128] = '\0';
            break;
        case 9:
            memcpy(text, agency_key_public_hex(f->a), 64);
            text[64] = '\n';
            length = 65;
            break;
        case 10:
            text[0] = ' ';
            memcpy(text + 1, good, 129);
            length = 130;
            break;
        }
        s_write_file(f, "bad_secret", text, length, path);
        reason[0] = '\0';
        key = agency_key_load(path, reason, sizeof reason);
        if (key)
            fail_msg("%s: loaded", cases[i].label);
        if (strcmp(reason, cases[i].want) != 0)
            fail_msg("%s: reason \"%s\", want \"%s\"", cases[i].label, reason, cases[i].want);
    }
    sodium_memzero(text, sizeof text);
    free(good);

    s_join(path, f->dir, "no_such_secret");
    assert_null(agency_key_load(path, reason, sizeof reason));
    assert_string_equal(reason, "cannot open the key file: No such file or directory");
    assert_null(agency_key_load(f->dir, reason, sizeof reason)); /* a folder */
    assert_null(agency_key_load(NULL, reason, sizeof reason));
    assert_null(agency_key_load(path, NULL, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_writes_both_files),
        cmocka_unit_test(test_generate_refuses_to_overwrite),
        cmocka_unit_test(test_sign_and_verify),
        cmocka_unit_test(test_every_field_is_signed),
        cmocka_unit_test(test_signature_digit_changed),
        cmocka_unit_test(test_another_key),
        cmocka_unit_test(test_key_id_mismatch),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_canonical_text),
        cmocka_unit_test(test_canonical_unambiguous),
        cmocka_unit_test(test_canonical_refuses),
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_tampered_key_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
