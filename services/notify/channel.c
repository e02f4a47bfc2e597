/*
 * channel.c - e-mail and webhook delivery with libcurl; see channel.h.
 *
 * Each send validates its input (anything wrong is PERMANENT before a
 * connection is made), builds what it sends in memory, makes one transfer on
 * a fresh easy handle and maps the result to an outcome. A server's answer
 * decides when there is one. For SMTP that is the reply to the last command,
 * both followed by the trace callback (libcurl's QUIT after a refusal left
 * out), which also names the refusal after the command: RCPT -> "refused the
 * recipient". For HTTP it is the status, even if the body after it was cut.
 * Without an answer, libcurl's error decides: a malformed URL is PERMANENT,
 * everything else (refused, reset, DNS, TLS, timeout) RETRY.
 *
 * Character classes are spelt out in ASCII rather than taken from <ctype.h>,
 * whose answers depend on the locale.
 */
#include "channel.h"
#include "channel_transfer.h"

#include <curl/curl.h>
#include <sodium.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Response bytes read (and discarded) from a webhook receiver at most. */
#define RESPONSE_CAP (64 * 1024)

/* Longest delivery id, in bytes. */
#define DELIVERY_ID_MAX 128

/* An ASCII subject up to this many bytes is sent as it is. */
#define SUBJECT_PLAIN_MAX 900

/* Bytes of subject per encoded word: 56 base64 characters, so that
 * "Subject: =?UTF-8?B?...?=" stays within 78 characters. */
#define SUBJECT_WORD_BYTES 42

/* Bytes of body per base64 line: 76 characters. */
#define BODY_LINE_BYTES 57

static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static bool s_ready;

static void s_init_once(void)
{
    s_ready = sodium_init() >= 0 && curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

/* Sets up libsodium and libcurl once per process. Returns 0, or -1 when
 * either failed (it is not tried again). */
static int s_init(void)
{
    pthread_once(&s_once, s_init_once);
    return s_ready ? 0 : -1;
}

/* Writes a reason into error, when there is room for one. */
__attribute__((format(printf, 3, 4))) static void s_say(char *error, size_t size,
                                                        const char *format, ...)
{
    if (!error || size == 0)
        return;
    va_list args;
    va_start(args, format);
    vsnprintf(error, size, format, args);
    va_end(args);
}

static int s_refuse(char *reason, size_t size, const char *why)
{
    s_say(reason, size, "%s", why);
    return -1;
}

static bool s_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool s_alnum(unsigned char c)
{
    return s_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool s_hex(unsigned char c)
{
    return s_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool s_in(unsigned char c, const char *set)
{
    return c != 0 && strchr(set, c) != NULL;
}

static bool s_prefix(const char *text, const char *prefix)
{
    return strncasecmp(text, prefix, strlen(prefix)) == 0;
}

/* Whether text holds a space, a control character or DEL. */
static bool s_has_space_or_control(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if (*p <= ' ' || *p == 0x7f)
            return true;
    return false;
}

/* Whether size bytes at text are UTF-8 by RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF. */
static bool s_utf8(const char *text, size_t size)
{
    const unsigned char *p = (const unsigned char *)text;
    const unsigned char *end = p + size;
    while (p < end) {
        unsigned char c = *p++;
        if (c < 0x80)
            continue;
        size_t more;
        uint32_t cp;
        uint32_t min;
        if (c >= 0xc2 && c <= 0xdf) {
            more = 1, cp = c & 0x1f, min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            more = 2, cp = c & 0x0f, min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            more = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if ((size_t)(end - p) < more)
            return false;
        for (size_t i = 0; i < more; i++, p++) {
            if ((*p & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (*p & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
    }
    return true;
}

static bool s_delivery_id_ok(const char *id)
{
    if (!id || !*id || strlen(id) > DELIVERY_ID_MAX)
        return false;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        if (!s_alnum(*p) && !s_in(*p, "-_."))
            return false;
    return true;
}

/* Checks a domain of dot-separated labels (letters, digits, hyphens). */
static int s_domain_check(const char *domain, char *reason, size_t size)
{
    if (!*domain)
        return s_refuse(reason, size, "domain is empty");
    if (!strchr(domain, '.') && strcasecmp(domain, "localhost") != 0)
        return s_refuse(reason, size, "domain has no dot");
    const char *label = domain;
    for (;;) {
        size_t length = strcspn(label, ".");
        if (length == 0)
            return s_refuse(reason, size, "domain has an empty label");
        if (length > 63)
            return s_refuse(reason, size, "domain label is longer than 63 bytes");
        for (size_t i = 0; i < length; i++)
            if (!s_alnum((unsigned char)label[i]) && label[i] != '-')
                return s_refuse(reason, size, "domain has a character that is not allowed");
        if (label[0] == '-' || label[length - 1] == '-')
            return s_refuse(reason, size, "domain label starts or ends with a hyphen");
        if (!label[length])
            return 0;
        label += length + 1;
    }
}

int channel_email_check(const char *address, char *reason, size_t size)
{
    if (!address)
        return s_refuse(reason, size, "address is missing");
    if (!*address)
        return s_refuse(reason, size, "address is empty");
    if (strlen(address) > CHANNEL_EMAIL_MAX)
        return s_refuse(reason, size, "address is longer than 254 bytes");
    if (s_has_space_or_control(address))
        return s_refuse(reason, size, "address contains a space or control character");
    const char *at = strchr(address, '@');
    if (!at || strchr(at + 1, '@'))
        return s_refuse(reason, size, "address needs exactly one @");
    size_t local = (size_t)(at - address);
    if (local == 0)
        return s_refuse(reason, size, "local part is empty");
    if (local > 64)
        return s_refuse(reason, size, "local part is longer than 64 bytes");
    for (size_t i = 0; i < local; i++) {
        unsigned char c = (unsigned char)address[i];
        if (c == '.') {
            if (i == 0 || i == local - 1 || address[i + 1] == '.')
                return s_refuse(reason, size, "local part has a misplaced dot");
        } else if (!s_alnum(c) && !s_in(c, "!#$%&'*+-/=?^_`{|}~")) {
            return s_refuse(reason, size, "local part has a character that is not allowed");
        }
    }
    if (s_domain_check(at + 1, reason, size) != 0)
        return -1;
    s_say(reason, size, "%s", "");
    return 0;
}

/* Checks the host[:port] of a URL, length bytes at authority. */
static int s_authority_check(const char *authority, size_t length, char *reason, size_t size)
{
    if (memchr(authority, '@', length))
        return s_refuse(reason, size, "url must not carry a user name or password");
    const char *p = authority;
    const char *end = authority + length;
    if (p < end && *p == '[') {
        const char *close = memchr(p, ']', length);
        if (!close || close == p + 1)
            return s_refuse(reason, size, "url has a bad ipv6 address");
        for (const char *q = p + 1; q < close; q++)
            if (!s_hex((unsigned char)*q) && *q != ':' && *q != '.')
                return s_refuse(reason, size, "url has a bad ipv6 address");
        p = close + 1;
    } else {
        const char *host = p;
        while (p < end && *p != ':') {
            if (!s_alnum((unsigned char)*p) && *p != '-' && *p != '.')
                return s_refuse(reason, size, "url host has a character that is not allowed");
            if (*p == '.' && (p == host || p[1] == '.'))
                return s_refuse(reason, size, "url host has an empty label");
            p++;
        }
        if (p == host)
            return s_refuse(reason, size, "url has no host");
    }
    if (p == end)
        return 0;
    if (*p != ':')
        return s_refuse(reason, size, "url has text after the host");
    p++;
    long port = 0;
    size_t digits = 0;
    for (; p < end; p++, digits++) {
        if (!s_digit((unsigned char)*p) || digits >= 5)
            return s_refuse(reason, size, "url port is not a number from 1 to 65535");
        port = port * 10 + (*p - '0');
    }
    if (port < 1 || port > 65535)
        return s_refuse(reason, size, "url port is not a number from 1 to 65535");
    return 0;
}

int channel_url_check(const char *url, char *reason, size_t size)
{
    if (!url)
        return s_refuse(reason, size, "url is missing");
    if (!*url)
        return s_refuse(reason, size, "url is empty");
    if (strlen(url) > CHANNEL_URL_MAX)
        return s_refuse(reason, size, "url is longer than 2048 bytes");
    for (const unsigned char *p = (const unsigned char *)url; *p; p++) {
        if (*p <= ' ' || *p == 0x7f)
            return s_refuse(reason, size, "url contains a space or control character");
        if (*p >= 0x80)
            return s_refuse(reason, size, "url contains a non-ascii byte");
    }
    const char *rest;
    if (s_prefix(url, "http://"))
        rest = url + 7;
    else if (s_prefix(url, "https://"))
        rest = url + 8;
    else
        return s_refuse(reason, size, "url must start with http:// or https://");
    size_t authority = strcspn(rest, "/?#");
    if (s_authority_check(rest, authority, reason, size) != 0)
        return -1;
    for (const unsigned char *p = (const unsigned char *)rest + authority; *p; p++) {
        if (*p == '%') {
            if (!s_hex(p[1]) || !s_hex(p[2]))
                return s_refuse(reason, size, "url has a bad %-escape");
            p += 2;
        } else if (!s_alnum(*p) && !s_in(*p, "-._~:/?#[]@!$&'()*+,;=")) {
            return s_refuse(reason, size, "url has a character that must be %-escaped");
        }
    }
    s_say(reason, size, "%s", "");
    return 0;
}

/* The webhook policy (channel_webhook_policy): set once before any send. */
static bool s_allow_http;
static char s_allow_hosts[1024];

void channel_webhook_policy(bool allow_http, const char *allow_hosts)
{
    s_allow_http = allow_http;
    snprintf(s_allow_hosts, sizeof s_allow_hosts, "%s", allow_hosts ? allow_hosts : "");
}

/* Copies the host of a URL that passed channel_url_check into host, without
 * brackets or port. */
static void s_url_host(const char *url, char *host, size_t size)
{
    const char *rest = strstr(url, "://") + 3;
    size_t length = strcspn(rest, "/?#");
    if (*rest == '[') {
        rest++;
        length = strcspn(rest, "]");
    } else {
        length = strcspn(rest, ":/?#");
    }
    snprintf(host, size, "%.*s", (int)length, rest);
}

static bool s_host_allowed(const char *host)
{
    const char *p = s_allow_hosts;
    size_t length = strlen(host);
    while (*p) {
        size_t item = strcspn(p, ", ");
        if (item == length && strncasecmp(p, host, length) == 0)
            return true;
        p += item;
        p += strspn(p, ", ");
    }
    return false;
}

/* The kind of address a webhook may not reach, or NULL when it may. */
static const char *s_v4_forbidden(uint32_t a)
{
    struct {
        uint32_t net, mask;
        const char *kind;
    } ranges[] = {
        {0x00000000, 0xff000000, "an unspecified"}, {0x0a000000, 0xff000000, "a private"},
        {0x64400000, 0xffc00000, "a shared"},       {0x7f000000, 0xff000000, "a loopback"},
        {0xa9fe0000, 0xffff0000, "a link-local"},   {0xac100000, 0xfff00000, "a private"},
        {0xc0000000, 0xffffff00, "a reserved"},     {0xc0a80000, 0xffff0000, "a private"},
        {0xc6120000, 0xfffe0000, "a benchmark"},    {0xe0000000, 0xf0000000, "a multicast"},
        {0xf0000000, 0xf0000000, "a reserved"},
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        if ((a & ranges[i].mask) == ranges[i].net)
            return ranges[i].kind;
    return NULL;
}

static const char *s_v6_forbidden(const struct in6_addr *a)
{
    const uint8_t *b = a->s6_addr;
    static const uint8_t zero[16] = {0};
    if (memcmp(b, zero, 15) == 0 && (b[15] == 0 || b[15] == 1))
        return b[15] ? "a loopback" : "an unspecified";
    if (IN6_IS_ADDR_V4MAPPED(a) || IN6_IS_ADDR_V4COMPAT(a) ||
        (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b))
        return s_v4_forbidden((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 |
                              b[15]);
    if ((b[0] & 0xfe) == 0xfc)
        return "a private";
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
        return "a link-local";
    if (b[0] == 0xff)
        return "a multicast";
    return NULL;
}

/* true when address is one of this machine's own interfaces' addresses. */
static bool s_own_address(const struct sockaddr *address)
{
    struct ifaddrs *list = NULL;
    if (getifaddrs(&list) != 0)
        return false;
    bool own = false;
    for (struct ifaddrs *i = list; i && !own; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != address->sa_family)
            continue;
        if (address->sa_family == AF_INET)
            own = ((const struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr ==
                  ((const struct sockaddr_in *)address)->sin_addr.s_addr;
        else if (address->sa_family == AF_INET6)
            own = memcmp(&((const struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
                         &((const struct sockaddr_in6 *)address)->sin6_addr,
                         sizeof(struct in6_addr)) == 0;
    }
    freeifaddrs(list);
    return own;
}

/* Returns 0 when a webhook may connect to address, else -1 with the reason
 * (naming the address and its kind). */
static int s_address_check(const struct sockaddr *address, char *reason, size_t size)
{
    char text[INET6_ADDRSTRLEN] = "?";
    const char *kind = NULL;
    if (address->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)address;
        inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
        kind = s_v4_forbidden(ntohl(v4->sin_addr.s_addr));
    } else if (address->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)address;
        inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
        kind = s_v6_forbidden(&v6->sin6_addr);
    } else {
        kind = "an unknown kind of";
    }
    if (!kind && s_own_address(address))
        kind = "this machine's own";
    if (!kind)
        return 0;
    s_say(reason, size, "url host resolves to %s, %s address", text, kind);
    return -1;
}

int channel_webhook_check(const char *url, char *reason, size_t size)
{
    if (channel_url_check(url, reason, size) != 0)
        return -1;
    if (!s_allow_http && strncasecmp(url, "https://", 8) != 0)
        return s_refuse(reason, size, "url must start with https://");
    char host[256];
    s_url_host(url, host, sizeof host);
    if (s_host_allowed(host))
        return 0;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    struct addrinfo *found = NULL;
    if (getaddrinfo(host, NULL, &hints, &found) != 0 || !found)
        return s_refuse(reason, size, "url host does not resolve");
    int rc = 0;
    for (struct addrinfo *a = found; a && rc == 0; a = a->ai_next)
        rc = s_address_check(a->ai_addr, reason, size);
    freeaddrinfo(found);
    if (rc == 0)
        s_say(reason, size, "%s", "");
    return rc;
}

/* libcurl's socket opener for webhooks: refuses a forbidden address, so a
 * name that resolves elsewhere at send time is caught as well. */
typedef struct {
    char reason[128];
    bool refused;
} guard_t;

static curl_socket_t s_open_guarded(void *data, curlsocktype purpose, struct curl_sockaddr *address)
{
    guard_t *guard = data;
    (void)purpose;
    if (s_address_check(&address->addr, guard->reason, sizeof guard->reason) != 0) {
        guard->refused = true;
        return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype, address->protocol);
}

/* A growing byte buffer; failed records that memory ran out. */
typedef struct {
    char *data;
    size_t length;
    size_t capacity;
    bool failed;
} buffer_t;

static void s_add(buffer_t *buffer, const void *data, size_t size)
{
    if (buffer->failed)
        return;
    if (buffer->length + size + 1 > buffer->capacity) {
        size_t capacity = buffer->capacity ? buffer->capacity : 1024;
        while (buffer->length + size + 1 > capacity)
            capacity *= 2;
        char *grown = realloc(buffer->data, capacity);
        if (!grown) {
            buffer->failed = true;
            return;
        }
        buffer->data = grown;
        buffer->capacity = capacity;
    }
    memcpy(buffer->data + buffer->length, data, size);
    buffer->length += size;
    buffer->data[buffer->length] = 0;
}

static void s_add_text(buffer_t *buffer, const char *text)
{
    s_add(buffer, text, strlen(text));
}

/* Appends size bytes of data in base64 (no line breaks). */
static void s_add_base64(buffer_t *buffer, const char *data, size_t size)
{
    char encoded[sodium_base64_ENCODED_LEN(BODY_LINE_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(encoded, sizeof encoded, (const unsigned char *)data, size,
                      sodium_base64_VARIANT_ORIGINAL);
    s_add_text(buffer, encoded);
}

static void s_add_date(buffer_t *buffer)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    struct tm tm;
    char line[64];
    if (!gmtime_r(&now, &tm))
        memset(&tm, 0, sizeof tm);
    snprintf(line, sizeof line, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n",
             days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
    s_add_text(buffer, line);
}

/* Appends the Subject header: as it is when short printable ASCII, else as
 * RFC 2047 encoded words of whole characters, one per folded line. */
static void s_add_subject(buffer_t *buffer, const char *subject)
{
    size_t length = strlen(subject);
    bool ascii = length <= SUBJECT_PLAIN_MAX;
    for (size_t i = 0; ascii && i < length; i++)
        ascii = (unsigned char)subject[i] < 0x80;
    s_add_text(buffer, "Subject: ");
    if (ascii || length == 0) {
        s_add_text(buffer, subject);
        s_add_text(buffer, "\r\n");
        return;
    }
    for (size_t done = 0; done < length;) {
        size_t take = length - done < SUBJECT_WORD_BYTES ? length - done : SUBJECT_WORD_BYTES;
        /* Never end a word inside a character: back off continuation bytes. */
        while (done + take < length && ((unsigned char)subject[done + take] & 0xc0) == 0x80)
            take--;
        if (done > 0)
            s_add_text(buffer, "\r\n ");
        s_add_text(buffer, "=?UTF-8?B?");
        s_add_base64(buffer, subject + done, take);
        s_add_text(buffer, "?=");
        done += take;
    }
    s_add_text(buffer, "\r\n");
}

/* Appends body with CRLF line breaks, base64 in lines of 76 characters. */
static void s_add_body(buffer_t *buffer, const char *body)
{
    buffer_t text = {0};
    for (const char *p = body; *p; p++) {
        if (*p == '\r' || *p == '\n') {
            s_add(&text, "\r\n", 2);
            if (*p == '\r' && p[1] == '\n')
                p++;
        } else {
            s_add(&text, p, 1);
        }
    }
    if (text.failed)
        buffer->failed = true;
    for (size_t done = 0; done < text.length; done += BODY_LINE_BYTES) {
        size_t take = text.length - done < BODY_LINE_BYTES ? text.length - done : BODY_LINE_BYTES;
        s_add_base64(buffer, text.data + done, take);
        s_add_text(buffer, "\r\n");
    }
    free(text.data);
}

/* Builds the whole message into buffer (the caller frees buffer->data). */
static void s_build_message(buffer_t *buffer, const char *from, const char *to, const char *subject,
                            const char *body, const char *delivery_id)
{
    s_add_date(buffer);
    s_add_text(buffer, "From: ");
    s_add_text(buffer, from);
    s_add_text(buffer, "\r\nTo: ");
    s_add_text(buffer, to);
    s_add_text(buffer, "\r\n");
    s_add_subject(buffer, subject);
    s_add_text(buffer, "Message-ID: <");
    s_add_text(buffer, delivery_id);
    s_add_text(buffer, "@chuang>\r\n"
                       "MIME-Version: 1.0\r\n"
                       "Content-Type: text/plain; charset=UTF-8\r\n"
                       "Content-Transfer-Encoding: base64\r\n"
                       "\r\n");
    s_add_body(buffer, body);
}

/* The message being uploaded. */
typedef struct {
    const char *data;
    size_t size;
    size_t done;
} upload_t;

static size_t s_read(char *out, size_t one, size_t count, void *user)
{
    upload_t *upload = user;
    size_t room = one * count;
    size_t left = upload->size - upload->done;
    size_t take = left < room ? left : room;
    memcpy(out, upload->data + upload->done, take);
    upload->done += take;
    return take;
}

/* What the SMTP dialogue has come to: the verb of the last command sent and
 * the code of the server's reply to it (0 before one). */
typedef struct {
    char verb[5];
    long code;
    bool quitting;
} dialogue_t;

/* Follows the SMTP dialogue, so that a refusal can be named; the QUIT that
 * libcurl sends after a refusal, and its reply, are not part of it. */
static int s_trace(CURL *curl, curl_infotype type, char *data, size_t size, void *user)
{
    (void)curl;
    dialogue_t *dialogue = user;
    if (type == CURLINFO_HEADER_OUT && size >= 4) {
        if (strncmp(data, "QUIT", 4) == 0) {
            dialogue->quitting = true;
        } else {
            memcpy(dialogue->verb, data, 4);
            dialogue->verb[4] = 0;
            dialogue->code = 0;
        }
    } else if (type == CURLINFO_HEADER_IN && size >= 3 && !dialogue->quitting &&
               s_digit((unsigned char)data[0]) && s_digit((unsigned char)data[1]) &&
               s_digit((unsigned char)data[2])) {
        dialogue->code = (data[0] - '0') * 100 + (data[1] - '0') * 10 + (data[2] - '0');
    }
    return 0;
}

/* The lower-case text of a libcurl error. */
static void s_curl_text(CURLcode rc, char *out, size_t size)
{
    snprintf(out, size, "%s", curl_easy_strerror(rc));
    if (out[0] >= 'A' && out[0] <= 'Z')
        out[0] = (char)(out[0] - 'A' + 'a');
}

/* The outcome of a transfer that got no usable answer, from libcurl's error;
 * peer names the other side in the reason ("smtp server", "receiver"). */
static channel_outcome_t s_curl_outcome(CURLcode rc, const char *peer, int timeout_ms, char *error,
                                        size_t size)
{
    char text[128];
    switch (rc) {
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        s_say(error, size, "%s url is not valid", peer);
        return CHANNEL_PERMANENT;
    case CURLE_OPERATION_TIMEDOUT:
        s_say(error, size, "%s did not answer within %d ms", peer, timeout_ms);
        return CHANNEL_RETRY;
    case CURLE_COULDNT_RESOLVE_HOST:
        s_say(error, size, "cannot resolve the %s's host", peer);
        return CHANNEL_RETRY;
    case CURLE_COULDNT_CONNECT:
        s_say(error, size, "cannot connect to the %s", peer);
        return CHANNEL_RETRY;
    default:
        s_curl_text(rc, text, sizeof text);
        s_say(error, size, "%s failed: %s", peer, text);
        return CHANNEL_RETRY;
    }
}

/* Checks the input of an e-mail send. Returns 0, or -1 with a reason. */
static int s_email_input_check(const char *smtp_url, const char *from, const char *to,
                               const char *subject, const char *body, const char *delivery_id,
                               int timeout_ms, char *error, size_t size)
{
    char why[96];
    if (!smtp_url || !(s_prefix(smtp_url, "smtp://") || s_prefix(smtp_url, "smtps://")) ||
        strlen(smtp_url) > CHANNEL_URL_MAX || s_has_space_or_control(smtp_url))
        return s_refuse(error, size, "smtp url is not smtp:// or smtps://");
    if (channel_email_check(from, why, sizeof why) != 0) {
        s_say(error, size, "sender %s", why);
        return -1;
    }
    if (channel_email_check(to, why, sizeof why) != 0) {
        s_say(error, size, "recipient %s", why);
        return -1;
    }
    if (!subject || !s_utf8(subject, strlen(subject)))
        return s_refuse(error, size, "subject is not utf-8");
    for (const unsigned char *p = (const unsigned char *)subject; *p; p++)
        if (*p < ' ' || *p == 0x7f)
            return s_refuse(error, size, "subject contains a control character");
    if (!body || !s_utf8(body, strlen(body)))
        return s_refuse(error, size, "body is not utf-8");
    if (!s_delivery_id_ok(delivery_id))
        return s_refuse(error, size, "delivery id is not 1-128 letters, digits, '-', '_', '.'");
    if (timeout_ms <= 0)
        return s_refuse(error, size, "timeout must be positive");
    return 0;
}

/* A send being made: its easy handle and everything the handle points to
 * while it runs. */
struct _channel_transfer_t {
    CURL *curl;
    bool email;
    int timeout_ms;
    struct curl_slist *list; /* the webhook's headers, or the e-mail's recipient */
    buffer_t message;        /* the e-mail, or the webhook's JSON */
    upload_t upload;
    dialogue_t dialogue;
    guard_t guard;
    size_t received;
    char sender[CHANNEL_EMAIL_MAX + 3];
};

void channel_transfer_destroy(channel_transfer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    channel_transfer_t *self = *self_p;
    curl_easy_cleanup(self->curl);
    curl_slist_free_all(self->list);
    free(self->message.data);
    free(self);
    *self_p = NULL;
}

int channel_transfer_init(void)
{
    return s_init();
}

CURL *channel_transfer_handle(channel_transfer_t *self)
{
    return self->curl;
}

/* A transfer with its easy handle, or NULL when memory ran out. */
static channel_transfer_t *s_transfer_new(int timeout_ms)
{
    channel_transfer_t *self = calloc(1, sizeof *self);
    if (self && !(self->curl = curl_easy_init())) {
        free(self);
        self = NULL;
    }
    if (!self)
        return NULL;
    self->timeout_ms = timeout_ms;
    CURL *curl = self->curl;
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    return self;
}

channel_transfer_t *channel_transfer_email(const char *smtp_url, const char *from, const char *to,
                                           const char *subject, const char *body,
                                           const char *delivery_id, int timeout_ms,
                                           channel_outcome_t *outcome, char *error, size_t size)
{
    s_say(error, size, "%s", "");
    *outcome = CHANNEL_PERMANENT;
    if (s_email_input_check(smtp_url, from, to, subject, body, delivery_id, timeout_ms, error,
                            size) != 0)
        return NULL;
    *outcome = CHANNEL_RETRY;
    if (s_init() != 0) {
        s_say(error, size, "libcurl failed to initialise");
        return NULL;
    }
    channel_transfer_t *self = s_transfer_new(timeout_ms);
    char recipient[CHANNEL_EMAIL_MAX + 3];
    snprintf(recipient, sizeof recipient, "<%s>", to);
    if (self) {
        self->email = true;
        s_build_message(&self->message, from, to, subject, body, delivery_id);
        self->list = curl_slist_append(NULL, recipient);
    }
    if (!self || self->message.failed || !self->list) {
        channel_transfer_destroy(&self);
        s_say(error, size, "out of memory");
        return NULL;
    }
    snprintf(self->sender, sizeof self->sender, "<%s>", from);
    self->upload = (upload_t){self->message.data, self->message.length, 0};
    CURL *curl = self->curl;
    curl_easy_setopt(curl, CURLOPT_URL, smtp_url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, self->sender);
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, self->list);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, s_read);
    curl_easy_setopt(curl, CURLOPT_READDATA, &self->upload);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)self->message.length);
    curl_easy_setopt(curl, CURLOPT_DEBUGFUNCTION, s_trace);
    curl_easy_setopt(curl, CURLOPT_DEBUGDATA, &self->dialogue);
    curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L);
    return self;
}

/* The outcome of an e-mail transfer that ended with rc. */
static channel_outcome_t s_email_outcome(channel_transfer_t *self, CURLcode rc, char *error,
                                         size_t size)
{
    if (rc == CURLE_OK)
        return CHANNEL_SENT;
    long code = self->dialogue.code;
    const char *verb = self->dialogue.verb;
    if (code >= 400 && code <= 599) {
        const char *what = "refused the message";
        if (strcmp(verb, "RCPT") == 0)
            what = "refused the recipient";
        else if (strcmp(verb, "MAIL") == 0)
            what = "refused the sender";
        else if (strcmp(verb, "AUTH") == 0)
            what = "refused the login";
        else if (strcmp(verb, "EHLO") == 0 || strcmp(verb, "HELO") == 0 || !*verb)
            what = "refused the connection";
        s_say(error, size, "smtp server %s (%ld)", what, code);
        return code >= 500 ? CHANNEL_PERMANENT : CHANNEL_RETRY;
    }
    return s_curl_outcome(rc, "smtp server", self->timeout_ms, error, size);
}

/* Makes transfer (owned, destroyed) in this thread. */
static channel_outcome_t s_perform(channel_transfer_t *transfer, channel_outcome_t outcome,
                                   char *error, size_t size)
{
    if (!transfer)
        return outcome;
    CURLcode rc = curl_easy_perform(transfer->curl);
    outcome = channel_transfer_outcome(transfer, rc, error, size);
    channel_transfer_destroy(&transfer);
    return outcome;
}

channel_outcome_t channel_email_send(const char *smtp_url, const char *from, const char *to,
                                     const char *subject, const char *body, const char *delivery_id,
                                     int timeout_ms, char *error, size_t size)
{
    channel_outcome_t outcome;
    channel_transfer_t *transfer = channel_transfer_email(
        smtp_url, from, to, subject, body, delivery_id, timeout_ms, &outcome, error, size);
    return s_perform(transfer, outcome, error, size);
}

/* Counts the receiver's response bytes, refusing more than RESPONSE_CAP. */
static size_t s_discard(char *data, size_t one, size_t count, void *user)
{
    (void)data;
    size_t *total = user;
    size_t bytes = one * count;
    if (bytes > RESPONSE_CAP - *total)
        return 0;
    *total += bytes;
    return bytes;
}

void channel_signature(const char *secret, const char *timestamp, const char *json, char *out,
                       size_t size)
{
    if (!out || size == 0)
        return;
    out[0] = 0;
    if (!secret || !timestamp || !json || size < CHANNEL_SIGNATURE_SIZE)
        return;
    s_init(); /* HMAC works whether or not libcurl could start */
    crypto_auth_hmacsha256_state state;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init(&state, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&state, (const unsigned char *)timestamp, strlen(timestamp));
    crypto_auth_hmacsha256_update(&state, (const unsigned char *)".", 1);
    crypto_auth_hmacsha256_update(&state, (const unsigned char *)json, strlen(json));
    crypto_auth_hmacsha256_final(&state, mac);
    sodium_memzero(&state, sizeof state);
    memcpy(out, "sha256=", 7);
    sodium_bin2hex(out + 7, size - 7, mac, sizeof mac);
}

/* Appends "name: value" to headers; returns the list or NULL (all freed). */
static struct curl_slist *s_header(struct curl_slist *headers, const char *name, const char *value)
{
    if (!headers)
        return NULL;
    char line[256];
    snprintf(line, sizeof line, "%s: %s", name, value);
    struct curl_slist *grown = curl_slist_append(headers, line);
    if (!grown)
        curl_slist_free_all(headers);
    return grown;
}

channel_transfer_t *channel_transfer_webhook(const char *url, const char *secret,
                                             const char *delivery_id, const char *json,
                                             int timeout_ms, channel_outcome_t *outcome,
                                             char *error, size_t size)
{
    s_say(error, size, "%s", "");
    *outcome = CHANNEL_PERMANENT;
    char why[128];
    if (channel_url_check(url, why, sizeof why) != 0) {
        s_say(error, size, "%s", why);
        return NULL;
    }
    if (!s_allow_http && strncasecmp(url, "https://", 8) != 0) {
        s_say(error, size, "url must start with https://");
        return NULL;
    }
    if (!secret || !*secret) {
        s_say(error, size, "secret is empty");
        return NULL;
    }
    if (!s_delivery_id_ok(delivery_id)) {
        s_say(error, size, "delivery id is not 1-128 letters, digits, '-', '_', '.'");
        return NULL;
    }
    if (!json) {
        s_say(error, size, "json is missing");
        return NULL;
    }
    if (timeout_ms <= 0) {
        s_say(error, size, "timeout must be positive");
        return NULL;
    }
    *outcome = CHANNEL_RETRY;
    if (s_init() != 0) {
        s_say(error, size, "libcurl failed to initialise");
        return NULL;
    }
    char host[256];
    s_url_host(url, host, sizeof host);
    bool guarded = !s_host_allowed(host);
    char timestamp[24];
    char signature[CHANNEL_SIGNATURE_SIZE];
    snprintf(timestamp, sizeof timestamp, "%lld", (long long)time(NULL));
    channel_signature(secret, timestamp, json, signature, sizeof signature);

    channel_transfer_t *self = s_transfer_new(timeout_ms);
    if (self) {
        struct curl_slist *headers =
            curl_slist_append(NULL, "Content-Type: application/json; charset=utf-8");
        headers = s_header(headers, "X-Chuang-Delivery", delivery_id);
        headers = s_header(headers, "X-Chuang-Timestamp", timestamp);
        headers = s_header(headers, "X-Chuang-Signature", signature);
        /* No "Expect: 100-continue" round trip before large bodies. */
        self->list = s_header(headers, "Expect", "");
        s_add_text(&self->message, json);
    }
    if (!self || !self->list || self->message.failed) {
        channel_transfer_destroy(&self);
        s_say(error, size, "out of memory");
        return NULL;
    }
    CURL *curl = self->curl;
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "chuang-notify/1");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, self->list);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, self->message.data);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)self->message.length);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, s_discard);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &self->received);
    if (guarded) {
        curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, s_open_guarded);
        curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &self->guard);
    }
    return self;
}

/* The outcome of a webhook transfer that ended with rc. */
static channel_outcome_t s_webhook_outcome(channel_transfer_t *self, CURLcode rc, char *error,
                                           size_t size)
{
    long status = 0;
    curl_easy_getinfo(self->curl, CURLINFO_RESPONSE_CODE, &status);
    if (self->guard.refused) {
        s_say(error, size, "%s", self->guard.reason);
        return CHANNEL_PERMANENT;
    }
    if (status >= 200 && status <= 299)
        return CHANNEL_SENT;
    if (status >= 300 && status <= 399) {
        s_say(error, size, "receiver answered %ld (redirects are not followed)", status);
        return CHANNEL_PERMANENT;
    }
    if (status >= 400 && status <= 499 && status != 408 && status != 429) {
        s_say(error, size, "receiver answered %ld", status);
        return CHANNEL_PERMANENT;
    }
    if (status >= 100) {
        s_say(error, size, "receiver answered %ld", status);
        return CHANNEL_RETRY;
    }
    return s_curl_outcome(rc == CURLE_OK ? CURLE_GOT_NOTHING : rc, "receiver", self->timeout_ms,
                          error, size);
}

channel_outcome_t channel_transfer_outcome(channel_transfer_t *self, CURLcode rc, char *error,
                                           size_t size)
{
    s_say(error, size, "%s", "");
    return self->email ? s_email_outcome(self, rc, error, size)
                       : s_webhook_outcome(self, rc, error, size);
}

channel_outcome_t channel_webhook_send(const char *url, const char *secret, const char *delivery_id,
                                       const char *json, int timeout_ms, char *error, size_t size)
{
    channel_outcome_t outcome;
    channel_transfer_t *transfer =
        channel_transfer_webhook(url, secret, delivery_id, json, timeout_ms, &outcome, error, size);
    return s_perform(transfer, outcome, error, size);
}
