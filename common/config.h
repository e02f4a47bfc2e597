/*
 * config.h - a process's settings: a file of "key = value" lines, overridden
 * by the environment.
 *
 * Keys are lower-case with dots ("db.url", "worker.threads"). The variable
 * CHUANG_<KEY>, upper-cased with dots as underscores (CHUANG_DB_URL), wins over
 * the file, so an orchestrator can change one setting without a file. Lines
 * starting with '#' and blank lines are ignored; values are taken verbatim
 * after the first '=' with surrounding blanks removed.
 *
 * A config is read by one thread: a process reads its settings at start-up
 * and hands the values, not the config, to its threads.
 */
#ifndef CHUANG_CONFIG_H
#define CHUANG_CONFIG_H

#include <stdbool.h>

typedef struct _config_t config_t;

/* Loads path (NULL for none: environment and defaults only). Returns NULL and
 * logs which line is wrong when the file cannot be read or parsed. */
config_t *config_new(const char *path);

/* Start-up of a chuang process: initialises CZMQ (with its SIGINT and
 * SIGTERM handler), ignores SIGPIPE, reads "-c FILE" from the command line, loads it, and
 * sets up logging from log.level and log.name (default: name). Returns the
 * config, or NULL after printing the usage or logging the error, with
 * *exit_code set to the status the process should exit with. */
config_t *config_for_process(int argc, char **argv, const char *name, int *exit_code);

/* Frees the config and nulls *self_p; safe when *self_p is NULL. */
void config_destroy(config_t **self_p);

/* Sets a value, as if read from the file (the environment still wins). */
void config_set(config_t *self, const char *key, const char *value);

/* The value of key, or fallback when unset. The string belongs to the config
 * (or is fallback) and lives as long as the config. */
const char *config_str(config_t *self, const char *key, const char *fallback);

/* The value of key as an integer; fallback when unset. Returns fallback and
 * logs a warning when the value is not a whole number. */
long config_int(config_t *self, const char *key, long fallback);

/* true for "1", "true", "yes", "on"; false for "0", "false", "no", "off". */
bool config_bool(config_t *self, const char *key, bool fallback);

#endif
