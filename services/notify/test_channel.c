/*
 * test_channel.c - the delivery channels against real far ends: an SMTP
 * server and an HTTP receiver on loopback ports, run by test_receivers.py
 * (its path is the first argument).
 *
 * The group setup starts the receivers with a pipe on their stdin and
 * stdout, reads their ready line ("SMTP <port> HTTP <port> DIR <folder>")
 * and the teardown closes the pipe, which stops them (SIGTERM, then SIGKILL,
 * if they linger). Each test reads what arrived from the receivers' folder:
 * the SMTP server stores each message decoded by Python's email package, the
 * HTTP receiver each request's headers and raw body, named after the
 * delivery id. The signature has a known answer computed independently with
 * Python's hmac module. Proxy variables are cleared so that loopback traffic
 * goes direct.
 */
#include "channel.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

static const char *s_script;
static pid_t s_pid = -1;
static int s_to_child = -1;
static int s_smtp_port;
static int s_http_port;
static char s_dir[PATH_MAX];

static long s_now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec * 1000L + now.tv_nsec / 1000000L;
}

/* Reads the receivers' ready line from fd within timeout_ms. */
static int s_read_line(int fd, char *line, size_t size, int timeout_ms)
{
    size_t length = 0;
    long deadline = s_now_ms() + timeout_ms;
    while (length + 1 < size) {
        struct pollfd poller = {.fd = fd, .events = POLLIN};
        long left = deadline - s_now_ms();
        if (left <= 0 || poll(&poller, 1, (int)left) <= 0)
            return -1;
        char c;
        if (read(fd, &c, 1) != 1)
            return -1;
        if (c == '\n')
            break;
        line[length++] = c;
    }
    line[length] = 0;
    return 0;
}

static int s_start(void **state)
{
    (void)state;
    int in[2];
    int out[2];
    if (pipe(in) != 0 || pipe(out) != 0)
        return -1;
    s_pid = fork();
    if (s_pid < 0)
        return -1;
    if (s_pid == 0) {
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execlp("python3", "python3", s_script, (char *)NULL);
        execl("/usr/bin/python3", "python3", s_script, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    s_to_child = in[1];
    char line[PATH_MAX + 64];
    int ok = s_read_line(out[0], line, sizeof line, 30000);
    close(out[0]);
    if (ok != 0 ||
        sscanf(line, "SMTP %d HTTP %d DIR %4095s", &s_smtp_port, &s_http_port, s_dir) != 3) {
        fprintf(stderr, "test_channel: the receivers did not start\n");
        return -1;
    }
    return 0;
}

static int s_stop(void **state)
{
    (void)state;
    if (s_to_child >= 0)
        close(s_to_child);
    s_to_child = -1;
    if (s_pid <= 0)
        return 0;
    int status;
    for (int signal_no = 0;; signal_no = signal_no == 0 ? SIGTERM : SIGKILL) {
        if (signal_no)
            kill(s_pid, signal_no);
        for (int i = 0; i < 50; i++) {
            if (waitpid(s_pid, &status, WNOHANG) == s_pid) {
                s_pid = -1;
                return 0;
            }
            usleep(100 * 1000);
        }
    }
}

/* How many files in the receivers' folder match pattern; the first one's
 * path goes to first (PATH_MAX bytes) when not NULL. */
static size_t s_files(const char *pattern, char *first)
{
    char full[PATH_MAX + 64];
    assert_true(strlen(pattern) < 64);
    snprintf(full, sizeof full, "%s/%s", s_dir, pattern);
    glob_t found;
    if (glob(full, 0, NULL, &found) != 0)
        return 0;
    size_t count = found.gl_pathc;
    if (first && count > 0)
        snprintf(first, PATH_MAX, "%s", found.gl_pathv[0]);
    globfree(&found);
    return count;
}

/* The whole file at path, NUL-terminated; the caller frees it. */
static char *s_slurp(const char *path)
{
    FILE *file = fopen(path, "rb");
    assert_non_null(file);
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    fseek(file, 0, SEEK_SET);
    char *text = malloc((size_t)size + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)size, file), (size_t)size);
    text[size] = 0;
    fclose(file);
    return text;
}

/* The text after start up to the first stop character, into out. */
static const char *s_value(const char *text, const char *start, const char *stop, char *out,
                           size_t size)
{
    const char *p = strstr(text, start);
    assert_non_null(p);
    p += strlen(start);
    size_t length = strcspn(p, stop);
    assert_true(length < size);
    memcpy(out, p, length);
    out[length] = 0;
    return out;
}

/* A loopback port nothing listens on (bound, then closed). */
static int s_closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    assert_int_equal(bind(fd, (struct sockaddr *)&address, sizeof address), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&address, &length), 0);
    close(fd);
    return ntohs(address.sin_port);
}

static void s_smtp_url(char *url, size_t size, int port)
{
    snprintf(url, size, "smtp://127.0.0.1:%d", port);
}

static void s_hook_url(char *url, size_t size, const char *path)
{
    snprintf(url, size, "http://127.0.0.1:%d%s", s_http_port, path);
}

static const char s_subject[] = "营业执照已签发：杭州云栖网络科技有限公司的设立登记已经核准";
static const char s_body[] = "您好，张三：\n"
                             "\n"
                             "您的营业执照已签发，请登录“浙里办”查收电子营业执照。\n"
                             ".this line starts with a dot\n"
                             "trailing spaces stay   \n"
                             "最后一行，没有换行";

static void test_email_arrives_once(void **state)
{
    (void)state;
    char url[64];
    char error[128];
    s_smtp_url(url, sizeof url, s_smtp_port);
    assert_int_equal(channel_email_send(url, "noreply@chuang.example.gov.cn",
                                        "zhang.san@example.com.cn", s_subject, s_body, "d-email-1",
                                        5000, error, sizeof error),
                     CHANNEL_SENT);
    assert_string_equal(error, "");

    char path[PATH_MAX];
    assert_int_equal(s_files("mail-d-email-1-*.txt", path), 1);
    char *text = s_slurp(path);
    char value[512];
    assert_string_equal(s_value(text, "\nrcpt_to: ", "\n", value, sizeof value),
                        "zhang.san@example.com.cn");
    assert_string_equal(s_value(text, "mail_from: ", "\n", value, sizeof value),
                        "noreply@chuang.example.gov.cn");
    assert_string_equal(s_value(text, "\nto: ", "\n", value, sizeof value),
                        "zhang.san@example.com.cn");
    assert_string_equal(s_value(text, "\nsubject: ", "\n", value, sizeof value), s_subject);
    assert_string_equal(s_value(text, "\nmessage_id: ", "\n", value, sizeof value),
                        "<d-email-1@chuang>");
    assert_string_equal(strstr(text, "\n\n") + 2, s_body);
    free(text);

    /* The bytes on the wire: encoded subject, no line over 78 characters. */
    path[strlen(path) - 4] = 0;
    strcat(path, ".eml");
    char *raw = s_slurp(path);
    assert_non_null(strstr(raw, "\r\nSubject: =?UTF-8?B?"));
    assert_non_null(strstr(raw, "?=\r\n =?UTF-8?B?"));
    assert_non_null(strstr(raw, "\r\nDate: ") || strncmp(raw, "Date: ", 6) == 0);
    assert_non_null(strstr(raw, "\r\nContent-Type: text/plain; charset=UTF-8\r\n"));
    for (const char *line = raw; *line;) {
        size_t length = strcspn(line, "\n");
        assert_true(length <= 79); /* 78 and the CR */
        line += length + (line[length] ? 1 : 0);
    }
    free(raw);
}

static void test_email_ascii_subject_is_plain(void **state)
{
    (void)state;
    char url[64];
    char error[128];
    s_smtp_url(url, sizeof url, s_smtp_port);
    assert_int_equal(channel_email_send(url, "noreply@localhost", "ops@localhost", "Plain subject",
                                        "", "d-email-2", 5000, error, sizeof error),
                     CHANNEL_SENT);
    char path[PATH_MAX];
    assert_int_equal(s_files("mail-d-email-2-*.eml", path), 1);
    char *raw = s_slurp(path);
    assert_non_null(strstr(raw, "\r\nSubject: Plain subject\r\n"));
    free(raw);
}

static void test_email_unknown_recipient_is_permanent(void **state)
{
    (void)state;
    char url[64];
    char error[128];
    s_smtp_url(url, sizeof url, s_smtp_port);
    assert_int_equal(channel_email_send(url, "noreply@localhost", "nobody@unknown.test", "hi",
                                        "body", "d-email-550", 5000, error, sizeof error),
                     CHANNEL_PERMANENT);
    assert_string_equal(error, "smtp server refused the recipient (550)");
    assert_int_equal(s_files("mail-d-email-550-*", NULL), 0);
}

static void test_email_unreachable_server_is_retry(void **state)
{
    (void)state;
    char url[64];
    char error[128];
    s_smtp_url(url, sizeof url, s_closed_port());
    long start = s_now_ms();
    assert_int_equal(channel_email_send(url, "noreply@localhost", "ops@localhost", "hi", "body",
                                        "d-email-down", 3000, error, sizeof error),
                     CHANNEL_RETRY);
    assert_true(s_now_ms() - start < 3000);
    assert_string_equal(error, "cannot connect to the smtp server");
}

static void test_email_bad_input_is_permanent(void **state)
{
    (void)state;
    char url[64];
    s_smtp_url(url, sizeof url, s_smtp_port);
    struct {
        const char *url, *from, *to, *subject, *body, *id;
        int timeout_ms;
        const char *error;
    } cases[] = {
        {"http://127.0.0.1:1", "a@localhost", "b@localhost", "s", "b", "d1", 1000,
         "smtp url is not smtp:// or smtps://"},
        {NULL, "a@localhost", "b@localhost", "s", "b", "d1", 1000,
         "smtp url is not smtp:// or smtps://"},
        {url, "no-at-sign", "b@localhost", "s", "b", "d1", 1000,
         "sender address needs exactly one @"},
        {url, "a@localhost", "b@example", "s", "b", "d1", 1000, "recipient domain has no dot"},
        {url, "a@localhost", NULL, "s", "b", "d1", 1000, "recipient address is missing"},
        {url, "a@localhost", "b@localhost", "hi\r\nBcc: x@example.com", "b", "d1", 1000,
         "subject contains a control character"},
        {url, "a@localhost", "b@localhost", "\xe6\xb5", "b", "d1", 1000, "subject is not utf-8"},
        {url, "a@localhost", "b@localhost", "s", "\xff\xfe", "d1", 1000, "body is not utf-8"},
        {url, "a@localhost", "b@localhost", "s", "\xed\xa0\x80", "d1", 1000, "body is not utf-8"},
        {url, "a@localhost", "b@localhost", "s", NULL, "d1", 1000, "body is not utf-8"},
        {url, "a@localhost", "b@localhost", "s", "b", "has space", 1000,
         "delivery id is not 1-128 letters, digits, '-', '_', '.'"},
        {url, "a@localhost", "b@localhost", "s", "b", "a>b", 1000,
         "delivery id is not 1-128 letters, digits, '-', '_', '.'"},
        {url, "a@localhost", "b@localhost", "s", "b", "", 1000,
         "delivery id is not 1-128 letters, digits, '-', '_', '.'"},
        {url, "a@localhost", "b@localhost", "s", "b", "d1", 0, "timeout must be positive"},
    };
    size_t before = s_files("mail-*.txt", NULL);
    for (size_t i = 0; i < COUNT(cases); i++) {
        char error[128];
        assert_int_equal(channel_email_send(cases[i].url, cases[i].from, cases[i].to,
                                            cases[i].subject, cases[i].body, cases[i].id,
                                            cases[i].timeout_ms, error, sizeof error),
                         CHANNEL_PERMANENT);
        assert_string_equal(error, cases[i].error);
    }
    /* Refused before any connection; a NULL error buffer is fine. */
    assert_int_equal(s_files("mail-*.txt", NULL), before);
    assert_int_equal(channel_email_send(url, "", "", "", "", "", 0, NULL, 0), CHANNEL_PERMANENT);
}

static const char s_json[] = "{\"event\":\"licence.issued\",\"name\":\"测试\"}";

static void test_webhook_is_signed_and_sent(void **state)
{
    (void)state;
    char url[128];
    char error[128];
    s_hook_url(url, sizeof url, "/ok");
    assert_int_equal(
        channel_webhook_send(url, "s3cret", "d-hook-ok", s_json, 5000, error, sizeof error),
        CHANNEL_SENT);
    assert_string_equal(error, "");

    char path[PATH_MAX];
    assert_int_equal(s_files("http-d-hook-ok-*.json", path), 1);
    char *record = s_slurp(path);
    char delivery[64];
    char timestamp[32];
    char signature[128];
    char type[64];
    s_value(record, "\"X-Chuang-Delivery\": \"", "\"", delivery, sizeof delivery);
    s_value(record, "\"X-Chuang-Timestamp\": \"", "\"", timestamp, sizeof timestamp);
    s_value(record, "\"X-Chuang-Signature\": \"", "\"", signature, sizeof signature);
    s_value(record, "\"Content-Type\": \"", "\"", type, sizeof type);
    free(record);
    assert_string_equal(delivery, "d-hook-ok");
    assert_string_equal(type, "application/json; charset=utf-8");
    char *end;
    long long sent_at = strtoll(timestamp, &end, 10);
    assert_true(*timestamp && *end == 0);
    assert_true(llabs(sent_at - (long long)time(NULL)) < 60);

    path[strlen(path) - 5] = 0;
    strcat(path, ".body");
    char *body = s_slurp(path);
    assert_string_equal(body, s_json);

    char expected[CHANNEL_SIGNATURE_SIZE];
    channel_signature("s3cret", timestamp, body, expected, sizeof expected);
    assert_string_equal(signature, expected);
    /* A wrong secret, another timestamp or another body do not verify. */
    channel_signature("s3cret!", timestamp, body, expected, sizeof expected);
    assert_string_not_equal(signature, expected);
    char later[40];
    snprintf(later, sizeof later, "%lld", sent_at + 1);
    channel_signature("s3cret", later, body, expected, sizeof expected);
    assert_string_not_equal(signature, expected);
    body[2] = 'E';
    channel_signature("s3cret", timestamp, body, expected, sizeof expected);
    assert_string_not_equal(signature, expected);
    free(body);
}

static void test_webhook_retries_until_receiver_recovers(void **state)
{
    (void)state;
    char url[128];
    char error[128];
    s_hook_url(url, sizeof url, "/fail3");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(
            channel_webhook_send(url, "s3cret", "d-hook-fail3", s_json, 5000, error, sizeof error),
            CHANNEL_RETRY);
        assert_string_equal(error, "receiver answered 503");
    }
    assert_int_equal(
        channel_webhook_send(url, "s3cret", "d-hook-fail3", s_json, 5000, error, sizeof error),
        CHANNEL_SENT);
    assert_int_equal(s_files("http-d-hook-fail3-*.json", NULL), 4);
}

static void test_webhook_answers_decide(void **state)
{
    (void)state;
    struct {
        const char *path;
        channel_outcome_t outcome;
        const char *error;
    } cases[] = {
        {"/always503", CHANNEL_RETRY, "receiver answered 503"},
        {"/gone", CHANNEL_PERMANENT, "receiver answered 410"},
        {"/throttled", CHANNEL_RETRY, "receiver answered 429"},
        {"/moved", CHANNEL_PERMANENT, "receiver answered 302 (redirects are not followed)"},
        {"/nowhere", CHANNEL_PERMANENT, "receiver answered 404"},
        {"/big", CHANNEL_SENT, ""},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        char url[128];
        char error[128];
        s_hook_url(url, sizeof url, cases[i].path);
        assert_int_equal(
            channel_webhook_send(url, "s3cret", "d-hook-status", s_json, 5000, error, sizeof error),
            cases[i].outcome);
        assert_string_equal(error, cases[i].error);
    }
    /* The redirect was not followed: /ok never saw this delivery. */
    assert_int_equal(s_files("http-d-hook-status-*.json", NULL), COUNT(cases));

    char url[64];
    char error[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/ok", s_closed_port());
    assert_int_equal(
        channel_webhook_send(url, "s3cret", "d-hook-down", s_json, 3000, error, sizeof error),
        CHANNEL_RETRY);
    assert_string_equal(error, "cannot connect to the receiver");
}

static void test_webhook_slow_receiver_times_out(void **state)
{
    (void)state;
    char url[128];
    char error[128];
    s_hook_url(url, sizeof url, "/slow");
    long start = s_now_ms();
    assert_int_equal(
        channel_webhook_send(url, "s3cret", "d-hook-slow", s_json, 1000, error, sizeof error),
        CHANNEL_RETRY);
    long elapsed = s_now_ms() - start;
    assert_true(elapsed >= 900 && elapsed < 2000);
    assert_string_equal(error, "receiver did not answer within 1000 ms");
}

static void test_webhook_bad_input_is_permanent(void **state)
{
    (void)state;
    char url[128];
    s_hook_url(url, sizeof url, "/ok");
    struct {
        const char *url, *secret, *id, *json;
        int timeout_ms;
        const char *error;
    } cases[] = {
        {"ftp://127.0.0.1/ok", "s", "d1", "{}", 1000, "url must start with http:// or https://"},
        {NULL, "s", "d1", "{}", 1000, "url is missing"},
        {url, "", "d1", "{}", 1000, "secret is empty"},
        {url, NULL, "d1", "{}", 1000, "secret is empty"},
        {url, "s", "d1\r\nX-Evil: 1", "{}", 1000,
         "delivery id is not 1-128 letters, digits, '-', '_', '.'"},
        {url, "s", NULL, "{}", 1000, "delivery id is not 1-128 letters, digits, '-', '_', '.'"},
        {url, "s", "d1", NULL, 1000, "json is missing"},
        {url, "s", "d1", "{}", -5, "timeout must be positive"},
    };
    size_t before = s_files("http-*.json", NULL);
    for (size_t i = 0; i < COUNT(cases); i++) {
        char error[128];
        assert_int_equal(channel_webhook_send(cases[i].url, cases[i].secret, cases[i].id,
                                              cases[i].json, cases[i].timeout_ms, error,
                                              sizeof error),
                         CHANNEL_PERMANENT);
        assert_string_equal(error, cases[i].error);
    }
    assert_int_equal(s_files("http-*.json", NULL), before);
}

/* Each thread sends its own webhooks; all must arrive once. */
static void *s_sender(void *arg)
{
    int thread = (int)(intptr_t)arg;
    intptr_t failures = 0;
    for (int i = 0; i < 5; i++) {
        char url[128];
        char id[64];
        char error[128];
        s_hook_url(url, sizeof url, "/ok");
        snprintf(id, sizeof id, "d-par-%d-%d", thread, i);
        if (channel_webhook_send(url, "s3cret", id, s_json, 5000, error, sizeof error) !=
            CHANNEL_SENT)
            failures++;
    }
    return (void *)failures;
}

static void test_webhooks_in_parallel(void **state)
{
    (void)state;
    pthread_t threads[8];
    for (int t = 0; t < 8; t++)
        assert_int_equal(pthread_create(&threads[t], NULL, s_sender, (void *)(intptr_t)t), 0);
    for (int t = 0; t < 8; t++) {
        void *failures;
        pthread_join(threads[t], &failures);
        assert_int_equal((intptr_t)failures, 0);
    }
    assert_int_equal(s_files("http-d-par-*.json", NULL), 40);
}

static void test_signature_known_answer(void **state)
{
    (void)state;
    char out[CHANNEL_SIGNATURE_SIZE];
    /* hmac.new(b"s3cret", b"1700000000." + json, sha256).hexdigest() */
    channel_signature("s3cret", "1700000000", s_json, out, sizeof out);
    assert_string_equal(out,
                        "sha256=d46014f96755f8e4cdcf838fbdd986c36995b0e3a6c2e518e01832aa2b2a5fe0");
    /* A key longer than a SHA-256 block (hashed first by HMAC). */
    char key[101];
    memset(key, 'k', 100);
    key[100] = 0;
    channel_signature(key, "1700000000", "{}", out, sizeof out);
    assert_string_equal(out,
                        "sha256=246744db1b92fde5a79e3f247a79cda0568f4bf337d5b4c24a5e8cfa1969b8fd");
    /* Too small an out, or a missing argument: "". */
    char small[CHANNEL_SIGNATURE_SIZE - 1] = "x";
    channel_signature("s3cret", "1700000000", "{}", small, sizeof small);
    assert_string_equal(small, "");
    out[0] = 'x';
    channel_signature(NULL, "1700000000", "{}", out, sizeof out);
    assert_string_equal(out, "");
    channel_signature("s3cret", "1700000000", "{}", NULL, 0);
}

/* Writes n copies of c at out, then a NUL; returns the end. */
static char *s_repeat(char *out, char c, size_t n)
{
    memset(out, c, n);
    out[n] = 0;
    return out + n;
}

static void test_email_check_table(void **state)
{
    (void)state;
    /* 64 + 1 + 189 = 254 bytes, and two more. */
    char longest[CHANNEL_EMAIL_MAX + 1];
    char too_long[CHANNEL_EMAIL_MAX + 3];
    char *p = s_repeat(longest, 'a', 64);
    *p++ = '@';
    p = s_repeat(p, 'b', 63);
    *p++ = '.';
    p = s_repeat(p, 'c', 63);
    *p++ = '.';
    s_repeat(p, 'd', 61);
    strcpy(too_long, longest);
    strcat(too_long, ".e");
    assert_int_equal(strlen(longest), 254);
    struct {
        const char *address;
        int rc;
        const char *reason;
    } cases[] = {
        {"a@example.com", 0, ""},
        {"first.last+tag@sub.example.gov.cn", 0, ""},
        {"user@localhost", 0, ""},
        {"ops@LOCALHOST", 0, ""},
        {"o'brien_{x}~@example.ie", 0, ""},
        {"a@xn--fiqs8s.cn", 0, ""},
        {longest, 0, ""},
        {NULL, -1, "address is missing"},
        {"", -1, "address is empty"},
        {too_long, -1, "address is longer than 254 bytes"},
        {"plain", -1, "address needs exactly one @"},
        {"a@b@example.com", -1, "address needs exactly one @"},
        {"a b@example.com", -1, "address contains a space or control character"},
        {"a@example.com\r\nRCPT TO:<x@y.z>", -1, "address contains a space or control character"},
        {"\"a\"@example.com", -1, "local part has a character that is not allowed"},
        {"a(b)@example.com", -1, "local part has a character that is not allowed"},
        {"张三@example.com", -1, "local part has a character that is not allowed"},
        {"@example.com", -1, "local part is empty"},
        {".a@example.com", -1, "local part has a misplaced dot"},
        {"a.@example.com", -1, "local part has a misplaced dot"},
        {"a..b@example.com", -1, "local part has a misplaced dot"},
        {"a@", -1, "domain is empty"},
        {"a@example", -1, "domain has no dot"},
        {"a@example..com", -1, "domain has an empty label"},
        {"a@example.com.", -1, "domain has an empty label"},
        {"a@.example.com", -1, "domain has an empty label"},
        {"a@-example.com", -1, "domain label starts or ends with a hyphen"},
        {"a@example-.com", -1, "domain label starts or ends with a hyphen"},
        {"a@exa_mple.com", -1, "domain has a character that is not allowed"},
        {"a@例子.中国", -1, "domain has a character that is not allowed"},
        {"a@[127.0.0.1]", -1, "domain has a character that is not allowed"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        char reason[96] = "unset";
        int rc = channel_email_check(cases[i].address, reason, sizeof reason);
        if (rc != cases[i].rc || strcmp(reason, cases[i].reason) != 0)
            fail_msg("case %zu \"%.40s\": rc %d reason \"%s\"", i,
                     cases[i].address ? cases[i].address : "(null)", rc, reason);
    }
    /* 65 bytes of local part; a 64-byte label. */
    char address[128];
    strcpy(s_repeat(address, 'a', 65), "@example.com");
    char reason[96];
    assert_int_equal(channel_email_check(address, reason, sizeof reason), -1);
    assert_string_equal(reason, "local part is longer than 64 bytes");
    strcpy(s_repeat(address + 2, 'b', 64), ".com");
    memcpy(address, "a@", 2);
    assert_int_equal(channel_email_check(address, reason, sizeof reason), -1);
    assert_string_equal(reason, "domain label is longer than 63 bytes");
    /* No reason buffer, or a tiny one. */
    assert_int_equal(channel_email_check("plain", NULL, 0), -1);
    char tiny[4];
    assert_int_equal(channel_email_check("plain", tiny, sizeof tiny), -1);
    assert_string_equal(tiny, "add");
}

static void test_url_check_table(void **state)
{
    (void)state;
    char longest[CHANNEL_URL_MAX + 1] = "https://example.com/";
    char too_long[CHANNEL_URL_MAX + 2];
    s_repeat(longest + 20, 'p', CHANNEL_URL_MAX - 20);
    strcpy(too_long, longest);
    strcat(too_long, "q");
    assert_int_equal(strlen(longest), CHANNEL_URL_MAX);
    struct {
        const char *url;
        int rc;
        const char *reason;
    } cases[] = {
        {"http://127.0.0.1:8080/hook", 0, ""},
        {"https://hooks.example.gov.cn/notify?x=1&y=%E4%B8%AD", 0, ""},
        {"HTTPS://Example.com", 0, ""},
        {"http://[::1]:9000/x", 0, ""},
        {"http://localhost/a/b#frag", 0, ""},
        {"http://h:65535", 0, ""},
        {"https://example.com?only=query", 0, ""},
        {longest, 0, ""},
        {NULL, -1, "url is missing"},
        {"", -1, "url is empty"},
        {too_long, -1, "url is longer than 2048 bytes"},
        {"ftp://example.com/", -1, "url must start with http:// or https://"},
        {"example.com/hook", -1, "url must start with http:// or https://"},
        {"file:///etc/passwd", -1, "url must start with http:// or https://"},
        {"http://", -1, "url has no host"},
        {"http:///path", -1, "url has no host"},
        {"http://:80/", -1, "url has no host"},
        {"http://user:pw@example.com/", -1, "url must not carry a user name or password"},
        {"http://example.com:0/", -1, "url port is not a number from 1 to 65535"},
        {"http://example.com:65536/", -1, "url port is not a number from 1 to 65535"},
        {"http://example.com:/", -1, "url port is not a number from 1 to 65535"},
        {"http://example.com:80a/", -1, "url port is not a number from 1 to 65535"},
        {"http://example.com:000080/", -1, "url port is not a number from 1 to 65535"},
        {"http://exa mple.com/", -1, "url contains a space or control character"},
        {"http://example.com/a\tb", -1, "url contains a space or control character"},
        {"http://example.com/\r\nX: y", -1, "url contains a space or control character"},
        {"http://例子.cn/", -1, "url contains a non-ascii byte"},
        {"http://example.com/%zz", -1, "url has a bad %-escape"},
        {"http://example.com/%4", -1, "url has a bad %-escape"},
        {"http://example.com/<x>", -1, "url has a character that must be %-escaped"},
        {"http://example.com/a\"b", -1, "url has a character that must be %-escaped"},
        {"http://exa_mple.com/", -1, "url host has a character that is not allowed"},
        {"http://a..b/", -1, "url host has an empty label"},
        {"http://.a/", -1, "url host has an empty label"},
        {"http://[::1/", -1, "url has a bad ipv6 address"},
        {"http://[]/", -1, "url has a bad ipv6 address"},
        {"http://[::g]/", -1, "url has a bad ipv6 address"},
        {"http://[::1]x/", -1, "url has text after the host"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        char reason[96] = "unset";
        int rc = channel_url_check(cases[i].url, reason, sizeof reason);
        if (rc != cases[i].rc || strcmp(reason, cases[i].reason) != 0)
            fail_msg("case %zu \"%.40s\": rc %d reason \"%s\"", i,
                     cases[i].url ? cases[i].url : "(null)", rc, reason);
    }
}

static void test_webhook_destinations_are_checked(void **state)
{
    (void)state;
    channel_webhook_policy(false, "hooks.example.net");
    struct {
        const char *url;
        const char *reason;
    } cases[] = {
        {"http://203.0.113.5/hook", "url must start with https://"},
        {"https://127.0.0.1/hook", "url host resolves to 127.0.0.1, a loopback address"},
        {"https://10.0.0.1/hook", "url host resolves to 10.0.0.1, a private address"},
        {"https://169.254.169.254/latest", "url host resolves to 169.254.169.254, a link-local "
                                           "address"},
        {"https://192.168.1.20/", "url host resolves to 192.168.1.20, a private address"},
        {"https://100.64.0.1/", "url host resolves to 100.64.0.1, a shared address"},
        {"https://0.0.0.0/", "url host resolves to 0.0.0.0, an unspecified address"},
        {"https://[::1]/hook", "url host resolves to ::1, a loopback address"},
        {"https://[fd00::1]/", "url host resolves to fd00::1, a private address"},
        {"https://[::ffff:10.1.2.3]/", "url host resolves to ::ffff:10.1.2.3, a private address"},
        {"https://localhost/hook", "url host resolves to "},
        {"https://hooks.example.net/in", ""}, /* listed by the operator: not resolved */
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        char reason[128] = "unset";
        int rc = channel_webhook_check(cases[i].url, reason, sizeof reason);
        bool ok = *cases[i].reason
                      ? rc == -1 && strncmp(reason, cases[i].reason, strlen(cases[i].reason)) == 0
                      : rc == 0 && *reason == '\0';
        if (!ok)
            fail_msg("case %zu %s: rc %d reason \"%s\"", i, cases[i].url, rc, reason);
    }
    /* A send to a forbidden address is refused before a byte leaves, and
     * never retried. */
    char error[256];
    assert_int_equal(channel_webhook_send("https://127.0.0.1:1/hook", "s3cret", "d-guard", s_json,
                                          2000, error, sizeof error),
                     CHANNEL_PERMANENT);
    assert_string_equal(error, "url host resolves to 127.0.0.1, a loopback address");
    channel_webhook_policy(true, "127.0.0.1");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_channel <path of test_receivers.py>\n");
        return 2;
    }
    s_script = argv[1];
    const char *proxies[] = {"http_proxy", "https_proxy", "all_proxy",
                             "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"};
    for (size_t i = 0; i < COUNT(proxies); i++)
        unsetenv(proxies[i]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_email_arrives_once),
        cmocka_unit_test(test_email_ascii_subject_is_plain),
        cmocka_unit_test(test_email_unknown_recipient_is_permanent),
        cmocka_unit_test(test_email_unreachable_server_is_retry),
        cmocka_unit_test(test_email_bad_input_is_permanent),
        cmocka_unit_test(test_webhook_is_signed_and_sent),
        cmocka_unit_test(test_webhook_retries_until_receiver_recovers),
        cmocka_unit_test(test_webhook_answers_decide),
        cmocka_unit_test(test_webhook_slow_receiver_times_out),
        cmocka_unit_test(test_webhook_bad_input_is_permanent),
        cmocka_unit_test(test_webhooks_in_parallel),
        cmocka_unit_test(test_signature_known_answer),
        cmocka_unit_test(test_email_check_table),
        cmocka_unit_test(test_url_check_table),
        cmocka_unit_test(test_webhook_destinations_are_checked),
    };
    /* The receivers run on 127.0.0.1 over http; the strict policy is tried
     * in test_webhook_destinations_are_checked. */
    channel_webhook_policy(true, "127.0.0.1");
    return cmocka_run_group_tests_name("channel", tests, s_start, s_stop);
}
