/*
 * acl.c - the feed's access list; see acl.h.
 */
#include "acl.h"
#include "logger.h"

#include <czmq.h>

struct _acl_t {
    zhashx_t *entries; /* key -> acl_entry_t, owned */
};

static void s_entry_destructor(void **item)
{
    acl_entry_t *entry = *item;
    for (size_t i = 0; entry && entry->topics && entry->topics[i]; i++)
        free(entry->topics[i]);
    if (entry)
        free(entry->topics);
    free(entry);
    *item = NULL;
}

static acl_entry_t *s_parse(const char *line)
{
    char key[64], name[64], kind[32], personal[8], topics[1024];
    if (sscanf(line, "%63s %63s %31s %7s %1023s", key, name, kind, personal, topics) != 5 ||
        strlen(key) != 40)
        return NULL;
    acl_entry_t *entry = calloc(1, sizeof *entry);
    memcpy(entry->key, key, 41); /* 40 characters, checked above, and the NUL */
    snprintf(entry->name, sizeof entry->name, "%s", name);
    if (streq(kind, "department"))
        entry->least = CHUANG__VISIBILITY__VISIBILITY_DEPARTMENTS;
    else if (streq(kind, "agency"))
        entry->least = CHUANG__VISIBILITY__VISIBILITY_AGENCIES;
    else if (streq(kind, "public"))
        entry->least = CHUANG__VISIBILITY__VISIBILITY_PUBLIC;
    else
        goto fail;
    if (!streq(personal, "yes") && !streq(personal, "no"))
        goto fail;
    entry->personal = streq(personal, "yes");
    size_t count = 1;
    for (const char *p = topics; *p; p++)
        count += *p == ',';
    entry->topics = calloc(count + 1, sizeof *entry->topics);
    size_t n = 0;
    char *save = NULL;
    for (char *topic = strtok_r(topics, ",", &save); topic; topic = strtok_r(NULL, ",", &save))
        entry->topics[n++] = strdup(topic);
    return entry;
fail:
    s_entry_destructor((void **)&entry);
    return NULL;
}

acl_t *acl_load(const char *path)
{
    FILE *file = fopen(path, "r");
    if (!file) {
        log_error("cannot read the feed access list", "path=%s", path);
        return NULL;
    }
    acl_t *self = calloc(1, sizeof *self);
    self->entries = zhashx_new();
    zhashx_set_destructor(self->entries, s_entry_destructor);
    char line[2048];
    int lineno = 0;
    while (fgets(line, sizeof line, file)) {
        lineno++;
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || *p == '\0')
            continue;
        acl_entry_t *entry = s_parse(p);
        if (!entry) {
            log_error("feed access list line is not: key name kind personal topics",
                      "path=%s line=%d", path, lineno);
            fclose(file);
            acl_destroy(&self);
            return NULL;
        }
        zhashx_update(self->entries, entry->key, entry);
    }
    fclose(file);
    return self;
}

void acl_destroy(acl_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy(&(*self_p)->entries);
    free(*self_p);
    *self_p = NULL;
}

const acl_entry_t *acl_lookup(acl_t *self, const char *key)
{
    return key ? zhashx_lookup(self->entries, key) : NULL;
}

bool acl_topic_allowed(const acl_entry_t *entry, const char *topic)
{
    for (size_t i = 0; entry->topics[i]; i++)
        if (streq(entry->topics[i], "*") ||
            strncmp(topic, entry->topics[i], strlen(entry->topics[i])) == 0)
            return true;
    return false;
}
