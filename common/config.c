/*
 * config.c - settings from a file with environment overrides; see config.h.
 *
 * The file's pairs are kept in a CZMQ hash. Lookups consult the environment
 * first, so an override set after start-up is seen too; a value taken from the
 * environment is copied into a second hash, which keeps the pointer returned
 * to the caller valid as long as the config without losing the file's value.
 */
#include "config.h"
#include "logger.h"

#include <czmq.h>
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <unistd.h>

struct _config_t {
    zhash_t *values;    /* from the file and config_set */
    zhash_t *overrides; /* copies of the CHUANG_* values looked up */
};

config_t *config_new(const char *path)
{
    config_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->values = zhash_new();
    zhash_autofree(self->values);
    self->overrides = zhash_new();
    zhash_autofree(self->overrides);
    if (!path)
        return self;

    FILE *file = fopen(path, "r");
    if (!file) {
        log_error("cannot read configuration file", "path=%s error=\"%s\"", path, strerror(errno));
        config_destroy(&self);
        return NULL;
    }
    char line[1024];
    int lineno = 0;
    while (fgets(line, sizeof line, file)) {
        lineno++;
        char *p = line;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '#' || *p == '\0')
            continue;
        char *eq = strchr(p, '=');
        if (!eq) {
            log_error("configuration line has no '='", "path=%s line=%d", path, lineno);
            fclose(file);
            config_destroy(&self);
            return NULL;
        }
        char *key_end = eq;
        while (key_end > p && isspace((unsigned char)key_end[-1]))
            key_end--;
        *key_end = '\0';
        char *value = eq + 1;
        while (isspace((unsigned char)*value))
            value++;
        char *value_end = value + strlen(value);
        while (value_end > value && isspace((unsigned char)value_end[-1]))
            value_end--;
        *value_end = '\0';
        zhash_update(self->values, p, value);
    }
    fclose(file);
    return self;
}

config_t *config_for_process(int argc, char **argv, const char *name, int *exit_code)
{
    const char *path = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "c:")) != -1) {
        if (opt != 'c') {
            fprintf(stderr, "usage: %s [-c config-file]\n", argv[0]);
            *exit_code = 2;
            return NULL;
        }
        path = optarg;
    }
    zsys_init();
    /* A peer that closes a connection must not kill the process on write. */
    signal(SIGPIPE, SIG_IGN);
    logger_init(name, LOGGER_INFO);
    config_t *self = config_new(path);
    if (!self) {
        *exit_code = 1;
        return NULL;
    }
    logger_level_t level = LOGGER_INFO;
    const char *level_name = config_str(self, "log.level", "info");
    if (logger_level_parse(level_name, &level) != 0)
        log_warn("log.level is not debug, info, warn or error; using info", "value=\"%s\"",
                 level_name);
    logger_init(config_str(self, "log.name", name), level);
    *exit_code = 0;
    return self;
}

void config_destroy(config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    config_t *self = *self_p;
    zhash_destroy(&self->values);
    zhash_destroy(&self->overrides);
    free(self);
    *self_p = NULL;
}

void config_set(config_t *self, const char *key, const char *value)
{
    zhash_update(self->values, key, (void *)value);
}

const char *config_str(config_t *self, const char *key, const char *fallback)
{
    char name[256] = "CHUANG_";
    size_t n = strlen(name);
    for (const char *k = key; *k && n + 1 < sizeof name; k++)
        name[n++] = *k == '.' || *k == '-' ? '_' : (char)toupper((unsigned char)*k);
    name[n] = '\0';
    const char *env = getenv(name);
    if (env) {
        char *kept = zhash_lookup(self->overrides, key);
        if (!kept || strcmp(kept, env) != 0)
            zhash_update(self->overrides, key, (void *)env);
        return zhash_lookup(self->overrides, key);
    }
    const char *value = zhash_lookup(self->values, key);
    return value ? value : fallback;
}

long config_int(config_t *self, const char *key, long fallback)
{
    const char *value = config_str(self, key, NULL);
    if (!value)
        return fallback;
    char *end;
    errno = 0;
    long number = strtol(value, &end, 10);
    if (errno || end == value || *end != '\0') {
        log_warn("configuration value is not a whole number; using the default",
                 "key=%s value=\"%s\" default=%ld", key, value, fallback);
        return fallback;
    }
    return number;
}

bool config_bool(config_t *self, const char *key, bool fallback)
{
    const char *value = config_str(self, key, NULL);
    if (!value)
        return fallback;
    if (!strcmp(value, "1") || !strcasecmp(value, "true") || !strcasecmp(value, "yes") ||
        !strcasecmp(value, "on"))
        return true;
    if (!strcmp(value, "0") || !strcasecmp(value, "false") || !strcasecmp(value, "no") ||
        !strcasecmp(value, "off"))
        return false;
    log_warn("configuration value is not a yes/no; using the default", "key=%s value=\"%s\"", key,
             value);
    return fallback;
}
