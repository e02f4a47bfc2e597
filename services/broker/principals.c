/*
 * principals.c - the principal table; see principals.h for the file format
 * and what stamping promises.
 *
 * The table is a zhashx from key to entry; each entry's lists are
 * NULL-terminated string arrays, so that a stamped header can point at them
 * directly. A reload parses the whole file into a new hash and swaps it in
 * only when every line is right: a half-edited file never revokes or grants
 * anything.
 */
#include "principals.h"
#include "logger.h"

#include <czmq.h>
#include <sys/stat.h>

#define KEY_Z85_LEN  40
#define NAME_MAX_LEN 64
#define LIST_MAX     32

typedef struct {
    char *key;
    char *name;
    char *kind;
    char **agencies; /* NULL-terminated */
    char **roles;
    char **delegates;
    size_t n_agencies, n_roles, n_delegates;
    long rate; /* requests a second of its own, or -1 */
} entry_t;

struct _principals_t {
    char *path;
    zhashx_t *entries; /* key -> entry_t, owned */
    struct timespec mtime;
    off_t size;
    ino_t inode;
};

static void s_list_free(char ***list_p)
{
    for (char **item = *list_p; item && *item; item++)
        free(*item);
    free(*list_p);
    *list_p = NULL;
}

static void s_entry_destructor(void **item)
{
    entry_t *self = *item;
    if (!self)
        return;
    free(self->key);
    free(self->name);
    free(self->kind);
    s_list_free(&self->agencies);
    s_list_free(&self->roles);
    s_list_free(&self->delegates);
    free(self);
    *item = NULL;
}

/* true when text is made of 1 to max of the characters in allowed. */
static bool s_word(const char *text, const char *allowed, size_t max)
{
    size_t len = strlen(text);
    return len > 0 && len <= max && strspn(text, allowed) == len;
}

#define LOWER_DIGITS "abcdefghijklmnopqrstuvwxyz0123456789"

/* Parses "a,b,c" (or "-") into a NULL-terminated array of words of the
 * allowed characters. Returns -1 on a wrong word or too many. */
static int s_list_parse(const char *text, const char *allowed, char ***list_p, size_t *count_p)
{
    char **list = calloc(LIST_MAX + 1, sizeof *list);
    assert(list);
    size_t count = 0;
    int rc = 0;
    if (!streq(text, "-")) {
        char *copy = strdup(text);
        char *save = NULL;
        for (char *word = strtok_r(copy, ",", &save); word; word = strtok_r(NULL, ",", &save)) {
            if (count == LIST_MAX || !s_word(word, allowed, NAME_MAX_LEN)) {
                rc = -1;
                break;
            }
            list[count++] = strdup(word);
        }
        free(copy);
        if (count == 0)
            rc = -1;
    }
    *list_p = list;
    *count_p = count;
    return rc;
}

/* Parses one non-comment line into a new entry; NULL with why set. */
static entry_t *s_entry_parse(char *line, const char **why)
{
    char *fields[8] = {0};
    int n = 0;
    char *save = NULL;
    for (char *field = strtok_r(line, " \t", &save); field; field = strtok_r(NULL, " \t", &save))
        if (n < 8)
            fields[n++] = field;
        else
            n++;
    long rate = -1;
    if (n >= 6 && n <= 7 && strncmp(fields[n - 1], "rate=", 5) == 0) {
        char *end = NULL;
        rate = strtol(fields[n - 1] + 5, &end, 10);
        if (!fields[n - 1][5] || *end || rate < 0 || rate > 1000000) {
            *why = "rate=N gives requests a second, 0 to 1000000";
            return NULL;
        }
        n--;
    }
    if (n < 5 || n > 6) {
        *why = "a line has a key, a name, a kind, agencies, roles, optionally delegates and "
               "optionally rate=N";
        return NULL;
    }
    entry_t *entry = calloc(1, sizeof *entry);
    assert(entry);
    entry->rate = rate;
    entry->key = strdup(fields[0]);
    entry->name = strdup(fields[1]);
    entry->kind = strdup(fields[2]);
    *why = NULL;
    if (strlen(entry->key) != KEY_Z85_LEN)
        *why = "the key is not a 40-character Z85 public key";
    else if (!s_word(entry->name, LOWER_DIGITS "._-", NAME_MAX_LEN))
        *why = "the name is 1 to 64 lower-case letters, digits, '.', '_' or '-'";
    else if (!streq(entry->kind, "operator") && !streq(entry->kind, "service") &&
             !streq(entry->kind, "department") && !streq(entry->kind, "gateway"))
        *why = "the kind is operator, service, department or gateway";
    else if (s_list_parse(fields[3], "0123456789", &entry->agencies, &entry->n_agencies) != 0)
        *why = "agencies are administrative division codes separated by commas, or -";
    else if (s_list_parse(fields[4], LOWER_DIGITS "-", &entry->roles, &entry->n_roles) != 0)
        *why = "roles are lower-case words separated by commas, or -";
    else if (s_list_parse(n == 6 ? fields[5] : "-", LOWER_DIGITS "-", &entry->delegates,
                          &entry->n_delegates) != 0)
        *why = "delegates are lower-case roles separated by commas, or -";
    else if (entry->n_delegates > 0 && !streq(entry->kind, "gateway"))
        *why = "only a gateway may delegate roles";
    if (*why) {
        void *item = entry;
        s_entry_destructor(&item);
        return NULL;
    }
    return entry;
}

/* Reads the file into a new hash; NULL after logging the wrong line. */
static zhashx_t *s_load(const char *path)
{
    FILE *file = fopen(path, "r");
    if (!file) {
        log_error("cannot read the principal table", "setting=security.principals path=%s", path);
        return NULL;
    }
    zhashx_t *entries = zhashx_new();
    zhashx_set_destructor(entries, s_entry_destructor);
    char line[1024];
    int number = 0;
    const char *why = NULL;
    while (!why && fgets(line, sizeof line, file)) {
        number++;
        if (!strchr(line, '\n') && !feof(file))
            why = "the line is too long";
        /* '#' is a Z85 character: only a line that starts with it is a comment. */
        line[strcspn(line, "\r\n")] = '\0';
        char first = line[strspn(line, " \t")];
        if (why || first == '\0' || first == '#')
            continue;
        entry_t *entry = s_entry_parse(line, &why);
        if (entry && zhashx_insert(entries, entry->key, entry) != 0) {
            void *item = entry;
            s_entry_destructor(&item);
            why = "the key is listed twice";
        }
    }
    fclose(file);
    if (why) {
        log_error("principal table refused", "path=%s line=%d reason=\"%s\"", path, number, why);
        zhashx_destroy(&entries);
    }
    return entries;
}

principals_t *principals_new(const char *path)
{
    principals_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->path = strdup(path);
    if (principals_reload(self) < 0)
        principals_destroy(&self);
    return self;
}

void principals_destroy(principals_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    principals_t *self = *self_p;
    zhashx_destroy(&self->entries);
    free(self->path);
    free(self);
    *self_p = NULL;
}

int principals_reload(principals_t *self)
{
    struct stat info;
    if (stat(self->path, &info) != 0) {
        if (!self->entries)
            log_error("cannot read the principal table", "setting=security.principals path=%s",
                      self->path);
        return -1;
    }
    if (self->entries && info.st_mtim.tv_sec == self->mtime.tv_sec &&
        info.st_mtim.tv_nsec == self->mtime.tv_nsec && info.st_size == self->size &&
        info.st_ino == self->inode)
        return 0;
    /* Remembered first: a wrong file is reported once, not every second. */
    self->mtime = info.st_mtim;
    self->size = info.st_size;
    self->inode = info.st_ino;
    zhashx_t *entries = s_load(self->path);
    if (!entries)
        return -1;
    zhashx_destroy(&self->entries);
    self->entries = entries;
    log_info("principal table loaded", "path=%s keys=%zu", self->path, zhashx_size(entries));
    return 1;
}

size_t principals_size(principals_t *self)
{
    return self->entries ? zhashx_size(self->entries) : 0;
}

const char *principals_kind(principals_t *self, const char *key, long *rate)
{
    entry_t *entry = self && key && self->entries ? zhashx_lookup(self->entries, key) : NULL;
    *rate = entry ? entry->rate : -1;
    return entry ? entry->kind : "";
}

static bool s_holds(char **list, const char *word)
{
    for (; list && *list; list++)
        if (streq(*list, word))
            return true;
    return false;
}

bool principals_stamp(principals_t *self, const char *key, Chuang__RequestHeader *header,
                      Chuang__Principal *principal, char *why, size_t why_size, char *detail,
                      size_t detail_size)
{
    entry_t *entry = self && key && self->entries ? zhashx_lookup(self->entries, key) : NULL;
    bool gateway = entry && streq(entry->kind, "gateway");
    const char *name = entry ? entry->name : "this key";

    chuang__principal__init(principal);
    principal->key = (char *)(key ? key : "");
    principal->name = entry ? entry->name : "";
    principal->kind = entry ? entry->kind : "";

    /* Agency: one it acts for, or its only one when none is claimed. */
    if (*header->agency && !(entry && s_holds(entry->agencies, header->agency))) {
        snprintf(why, why_size, "%s may not act for agency %.16s", name, header->agency);
        snprintf(detail, detail_size, "%s",
                 entry && entry->n_agencies
                     ? "The principal table lists other agencies for this key."
                     : "The principal table lists no agency for this key.");
        return false;
    }
    if (!*header->agency && entry && entry->n_agencies == 1)
        header->agency = entry->agencies[0];
    else if (!*header->agency && entry && entry->n_agencies > 1) {
        snprintf(why, why_size, "agency required");
        snprintf(detail, detail_size,
                 "This key acts for several agencies; the request must name one.");
        return false;
    }

    /* Roles: each claimed role held (a gateway: one it may delegate). */
    for (size_t i = 0; i < header->n_roles; i++) {
        const char *role = header->roles[i];
        if (!(entry && s_holds(gateway ? entry->delegates : entry->roles, role))) {
            snprintf(why, why_size, "%s does not hold the role %.40s", name, role);
            snprintf(detail, detail_size, "%s",
                     gateway ? "This gateway may not delegate that role."
                             : "The principal table does not grant this key that role.");
            return false;
        }
    }
    if (header->n_roles == 0 && entry && !gateway) {
        header->roles = entry->roles;
        header->n_roles = entry->n_roles;
    }

    /* Who acts: the principal itself, or the person a gateway names. */
    if (gateway) {
        principal->person = header->actor_id;
        principal->person_id_number = header->actor_id_number;
        if (!*header->actor_id)
            header->actor_id = entry->name;
    } else if (*header->actor_id_number) {
        snprintf(why, why_size, "only a gateway may name a person");
        snprintf(detail, detail_size,
                 "actor_id_number is set by the gateway that verified the person.");
        return false;
    } else {
        header->actor_id = entry ? entry->name : "";
    }
    header->principal = principal;
    return true;
}

void principals_stamp_plain(Chuang__RequestHeader *header, Chuang__Principal *principal)
{
    chuang__principal__init(principal);
    principal->kind = "plain";
    principal->name = header->actor_id;
    principal->person = header->actor_id;
    principal->person_id_number = header->actor_id_number;
    header->principal = principal;
}
