/*
 * logger.c - structured log lines on stderr; see logger.h.
 *
 * The line is assembled in a stack buffer and written with a single write(2)
 * on file descriptor 2, which keeps lines whole across threads without a lock.
 * Lines longer than the buffer are cut and end in "...".
 */
#include "logger.h"

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
    line[n] = '\n';
    ssize_t rc = write(STDERR_FILENO, line, (size_t)n + 1);
    (void)rc;
}
