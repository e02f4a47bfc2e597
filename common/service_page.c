/*
 * service_page.c - lists page by page (keyset paging); see
 * service_call_page in service.h.
 *
 * A page token is opaque to clients: base64url (no padding) of the list's
 * name and the key parts of the last row shown, separated by newlines. The
 * name keeps a token of one list from being taken by another. A token only
 * says where a page starts: what a caller may see is still decided by the
 * query, so a made-up token shows nothing it could not list anyway, and it
 * is checked (each key part an integer or a UUID, as the list declares)
 * before any SQL sees it.
 */
#include "identifiers.h"
#include "logger.h"
#include "service_private.h"

#include <czmq.h>
#include <sodium.h>

#define TOKEN_MAX 512 /* bytes of a decoded token */

static bool s_int64(const char *text)
{
    const char *p = text + (*text == '-');
    size_t digits = strspn(p, "0123456789");
    return digits > 0 && digits <= 19 && p[digits] == '\0';
}

/* Decodes token into page's key parts (call memory). Returns 0 or -1. */
static int s_decode(service_call_t *call, const char *list, const char *key_types,
                    const char *token, service_page_t *page)
{
    unsigned char raw[TOKEN_MAX + 1];
    size_t length = 0;
    if (sodium_base642bin(raw, TOKEN_MAX, token, strlen(token), NULL, &length, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return -1;
    raw[length] = '\0';
    if (memchr(raw, '\0', length))
        return -1;
    char *text = service_call_strdup(call, (char *)raw);
    char *part = strchr(text, '\n');
    size_t name_length = part ? (size_t)(part - text) : 0;
    if (!part || name_length != strlen(list) || strncmp(text, list, name_length) != 0)
        return -1;
    size_t keys = strlen(key_types);
    for (size_t i = 0; i < keys; i++) {
        char *value = part + 1;
        part = strchr(value, '\n');
        if ((part != NULL) != (i + 1 < keys))
            return -1;
        if (part)
            *part = '\0';
        if (!(key_types[i] == 'i' ? s_int64(value) : identifiers_uuid_shaped(value)))
            return -1;
        page->after[i] = value;
    }
    return 0;
}

int service_call_page(service_call_t *call, const char *list, const char *key_types, int32_t limit,
                      const char *token, int default_limit, int max_limit, service_page_t *page)
{
    assert(strlen(key_types) <= SERVICE_PAGE_KEYS && strspn(key_types, "iu") == strlen(key_types));
    memset(page, 0, sizeof *page);
    page->list = list;
    page->keys = strlen(key_types);
    int rc = 0;
    if (limit < 0 || limit > max_limit) {
        service_call_violation(call, "limit", "must be between 1 and %d", max_limit);
        rc = -1;
    }
    page->limit = limit ? limit : default_limit;
    snprintf(page->fetch, sizeof page->fetch, "%d", page->limit + 1);
    if (token && *token && s_decode(call, list, key_types, token, page) != 0) {
        service_call_violation(call, "page_token",
                               "is not a token this list gave; ask for the first page again");
        rc = -1;
    }
    return rc;
}

const char *service_call_page_next(service_call_t *call, const service_page_t *page, int rows,
                                   const char *const *last_key)
{
    if (rows <= page->limit)
        return "";
    char *text = zsys_sprintf("%s", page->list);
    for (size_t i = 0; text && i < page->keys; i++) {
        char *longer = zsys_sprintf("%s\n%s", text, last_key[i]);
        zstr_free(&text);
        text = longer;
    }
    if (!text || strlen(text) > TOKEN_MAX) {
        log_error("page token too long", "list=%s", page->list);
        zstr_free(&text);
        return "";
    }
    size_t size = sodium_base64_ENCODED_LEN(strlen(text), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *token = service_call_alloc(call, size);
    sodium_bin2base64(token, size, (const unsigned char *)text, strlen(text),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    zstr_free(&text);
    return token;
}

Chuang__Status service_call_page_rows(service_call_t *call, const service_page_t *page,
                                      const PGresult *res,
                                      const ProtobufCMessageDescriptor *descriptor, void *field,
                                      size_t *count, char **next_token)
{
    Chuang__Status status = service_call_rows(call, res, page->limit, descriptor, field, count);
    if (status != CHUANG__STATUS__OK || *count == 0)
        return status;
    const char *last[SERVICE_PAGE_KEYS];
    for (size_t i = 0; i < page->keys; i++)
        last[i] = PQgetvalue(res, (int)*count - 1, (int)i);
    *next_token = (char *)service_call_page_next(call, page, PQntuples(res), last);
    return CHUANG__STATUS__OK;
}
