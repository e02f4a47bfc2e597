/*
 * logger.c - structured log lines on stderr; see logger.h.
 *
 * The line is assembled in a stack buffer and written with a single write(2)
 * on file descriptor 2, which keeps lines whole across threads without a lock.
 * Lines longer than the buffer are cut and end in "...". Before it is
 * written, a line is scrubbed of personal data that reached it by mistake:
 * resident ID numbers and mobile numbers standing alone are masked the way
 * the public register masks them (personal.h).
 */
#include "logger.h"
#include "personal.h"

#include <ctype.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 4096

static char s_proc[64] = "chuang";
static logger_level_t s_level = LOGGER_INFO;

static const char *const s_names[] = {"debug", "info", "warn", "error"};

void logger_init(const char *proc, logger_level_t level)
{
    snprintf(s_proc, sizeof s_proc, "%s", proc);
    s_level = level;
}

int logger_level_parse(const char *name, logger_level_t *level)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, s_names[i]) == 0) {
            *level = (logger_level_t)i;
            return 0;
        }
    }
    return -1;
}

const char *logger_quote(char *buf, size_t size, const char *value)
{
    size_t n = 0;
    if (size < 3) {
        if (size > 0)
            buf[0] = '\0';
        return buf;
    }
    buf[n++] = '"';
    for (const char *p = value ? value : ""; *p && n + 3 < size; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            if (n + 5 >= size)
                break;
            n += (size_t)snprintf(buf + n, size - n, "\\x%02x", c);
        } else {
            buf[n++] = (char)c;
        }
    }
    buf[n++] = '"';
    buf[n] = '\0';
    return buf;
}

/* true when the n characters at p are a resident ID number's shape: a
 * division code, a birth date from 1900 on, a sequence, a check character. */
static bool s_id_shaped(const char *p)
{
    for (int i = 0; i < 17; i++)
        if (!isdigit((unsigned char)p[i]))
            return false;
    if (!isdigit((unsigned char)p[17]) && p[17] != 'X' && p[17] != 'x')
        return false;
    int year = (p[6] - '0') * 1000 + (p[7] - '0') * 100 + (p[8] - '0') * 10 + (p[9] - '0');
    int month = (p[10] - '0') * 10 + (p[11] - '0');
    int day = (p[12] - '0') * 10 + (p[13] - '0');
    return p[0] != '0' && year >= 1900 && year <= 2099 && month >= 1 && month <= 12 && day >= 1 &&
           day <= 31;
}

void logger_scrub(char *text, size_t length)
{
    for (size_t i = 0; i < length; i++) {
        if (!isalnum((unsigned char)text[i]) || (i > 0 && isalnum((unsigned char)text[i - 1])))
            continue;
        size_t run = 0;
        while (i + run < length && isalnum((unsigned char)text[i + run]))
            run++;
        char *p = text + i;
        bool id = run == 18 && s_id_shaped(p);
        bool phone = run == 11 && p[0] == '1' && p[1] >= '3' && p[1] <= '9';
        for (size_t k = 0; phone && k < 11; k++)
            phone = isdigit((unsigned char)p[k]);
        if (id || phone) {
            char value[19], masked[32];
            memcpy(value, p, run);
            value[run] = '\0';
            personal_mask_text(value, masked, sizeof masked);
            memcpy(p, masked, run);
        }
        i += run;
    }
}

void logger_log(logger_level_t level, const char *msg, const char *fields, ...)
{
    if (level < s_level)
        return;
    char line[LINE_MAX_BYTES];
    char quoted[512];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);

    int n = snprintf(
        line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s proc=%s msg=%s",
        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
        (int)(tv.tv_usec / 1000), s_names[level], s_proc, logger_quote(quoted, sizeof quoted, msg));
    if (fields && n > 0 && (size_t)n < sizeof line - 1) {
        line[n++] = ' ';
        va_list args;
        va_start(args, fields);
        n += vsnprintf(line + n, sizeof line - (size_t)n, fields, args);
        va_end(args);
    }
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line - 1) {
        n = (int)sizeof line - 1;
        memcpy(line + n - 4, "...", 3);
    }
    logger_scrub(line, (size_t)n);
    line[n] = '\n';
    ssize_t rc = write(STDERR_FILENO, line, (size_t)n + 1);
    (void)rc;
}

bool logger_due(int64_t *logged_at)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    if (*logged_at && ms < *logged_at + 1000)
        return false;
    *logged_at = ms;
    return true;
}
