/*
 * logger.h - structured log lines on stderr.
 *
 * Every line is one event in logfmt: ts (UTC, milliseconds), level, the
 * process's name, msg, then the caller's own key=value pairs, e.g.
 *
 *   ts=2026-11-21T10:00:00.123Z level=info proc=broker msg="worker ready" service=tally
 *
 * A line is written with one write(2), so lines from several threads never
 * interleave. Values the caller formats are written as given: quote those that
 * may hold spaces with logger_quote().
 */
#ifndef CHUANG_LOGGER_H
#define CHUANG_LOGGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { LOGGER_DEBUG, LOGGER_INFO, LOGGER_WARN, LOGGER_ERROR } logger_level_t;

/* Sets the process name shown on every line and the lowest level written.
 * Call once at start-up, before any thread logs. */
void logger_init(const char *proc, logger_level_t level);

/* Parses "debug", "info", "warn" or "error"; returns -1 for anything else. */
int logger_level_parse(const char *name, logger_level_t *level);

/* Writes one line: msg is the human summary, fields (printf-style, may be
 * NULL) the key=value pairs that follow it. */
void logger_log(logger_level_t level, const char *msg, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes value into buf as a logfmt value: quoted, with quotes, backslashes
 * and control characters escaped; truncated to fit. Returns buf. */
const char *logger_quote(char *buf, size_t size, const char *value);

#define log_debug(...) logger_log(LOGGER_DEBUG, __VA_ARGS__)
#define log_info(...)  logger_log(LOGGER_INFO, __VA_ARGS__)
#define log_warn(...)  logger_log(LOGGER_WARN, __VA_ARGS__)
#define log_error(...) logger_log(LOGGER_ERROR, __VA_ARGS__)

/* True at most once a second for the same *logged_at (the time it last
 * was, which it updates): a loop that may fail many times a second logs
 * the first failure and then one line a second, with its running count. */
bool logger_due(int64_t *logged_at);

/* Masks, in place, the resident ID numbers and mobile numbers standing
 * alone in the length bytes of text (the log writer does it to every line,
 * so personal data that reach a log by mistake stay unreadable there). */
void logger_scrub(char *text, size_t length);

#endif
