/*
 * importer.c - federation imports; see importer.h.
 *
 * Each import runs in its own actor: it reads the local stream's last id,
 * follows the remote feed after it with the feed client, and appends what
 * arrives through event_stream_append: a position already imported is a
 * repeat when it holds the same event, and skipped; another event there
 * (the remote agency's database went back in time) stops the import for a
 * minute, logged; any other Redis failure reconnects and resubscribes after
 * the local stream's last id, which is the truth of what was imported.
 */
#include "importer.h"
#include "event_stream.h"
#include "feed_client.h"
#include "logger.h"
#include "redis_link.h"

#define WAIT_MS 500

typedef struct {
    char endpoint[256];
    char server_public[64];
    char stream[64];
    char key[256];
    char topics[512];
    char redis_url[512];
    security_t *security;
} import_t;

static void s_import_actor(zsock_t *pipe, void *args)
{
    import_t *import = args;
    zsock_signal(pipe, 0);
    redisContext *redis = NULL;
    feed_client_t *feed = NULL;
    zpoller_t *poller = zpoller_new(pipe, NULL);
    while (!zpoller_wait(poller, 0) && !zpoller_terminated(poller)) {
        if (!redis || redis->err) {
            feed_client_destroy(&feed);
            if (redis_link_reset(&redis, import->redis_url, 1) != 0) {
                zclock_sleep(WAIT_MS);
                continue;
            }
        }
        if (!feed) {
            int64_t last = event_stream_end(redis, import->key, 1);
            if (last < 0) {
                redisFree(redis);
                redis = NULL;
                continue;
            }
            feed = feed_client_new(import->endpoint, import->security, import->server_public,
                                   import->stream, last, import->topics);
            log_info("importing", "endpoint=%s stream=%s into=%s after=%" PRId64, import->endpoint,
                     import->stream, import->key, last);
        }
        Chuang__Reply *refusal = NULL;
        Chuang__Event *event = feed ? feed_client_next(feed, WAIT_MS, &refusal) : NULL;
        if (refusal) {
            log_error("the remote feed refused the import; retrying in a minute",
                      "endpoint=%s message=\"%s\"", import->endpoint, refusal->message);
            chuang__reply__free_unpacked(refusal, NULL);
            feed_client_destroy(&feed);
            for (int i = 0; i < 120 && !zpoller_wait(poller, 0); i++)
                zclock_sleep(WAIT_MS);
            continue;
        }
        if (!event)
            continue;
        size_t size = chuang__event__get_packed_size(event);
        uint8_t *packed = malloc(size);
        chuang__event__pack(event, packed);
        event_stream_entry_t entry = {event->sequence, event->id, packed, size};
        size_t done = 0;
        int64_t stopped_at = 0;
        event_stream_outcome_t outcome =
            event_stream_append(redis, import->key, false, &entry, 1, &done, &stopped_at);
        if (outcome == EVENT_STREAM_DIVERGED) {
            log_error("the remote feed sends another event at a position already imported; "
                      "retrying in a minute",
                      "endpoint=%s into=%s position=%" PRId64, import->endpoint, import->key,
                      stopped_at);
            feed_client_destroy(&feed);
            for (int i = 0; i < 120 && !zpoller_wait(poller, 0); i++)
                zclock_sleep(WAIT_MS);
        } else if (outcome != EVENT_STREAM_OK) {
            log_warn("cannot append an imported event; resubscribing", "into=%s error=\"%s\"",
                     import->key,
                     outcome == EVENT_STREAM_GAP ? "the events before it are missing"
                                                 : redis->errstr);
            feed_client_destroy(&feed);
        }
        free(packed);
        chuang__event__free_unpacked(event, NULL);
    }
    zpoller_destroy(&poller);
    feed_client_destroy(&feed);
    redisFree(redis);
    free(import);
}

static import_t *s_parse(const char *line, int lineno, const char *path)
{
    char endpoint[256], cert_path[512], stream[64], key[256], topics[512];
    if (sscanf(line, "%255s %511s %63s %255s %511s", endpoint, cert_path, stream, key, topics) !=
        5) {
        log_error("import line is not: endpoint cert stream key topics", "path=%s line=%d", path,
                  lineno);
        return NULL;
    }
    zcert_t *cert = zcert_load(cert_path);
    if (!cert) {
        log_error("cannot load the remote feed's certificate", "path=%s line=%d cert=%s", path,
                  lineno, cert_path);
        return NULL;
    }
    import_t *import = calloc(1, sizeof *import);
    snprintf(import->endpoint, sizeof import->endpoint, "%s", endpoint);
    snprintf(import->server_public, sizeof import->server_public, "%s", zcert_public_txt(cert));
    snprintf(import->stream, sizeof import->stream, "%s", stream);
    snprintf(import->key, sizeof import->key, "%s", key);
    snprintf(import->topics, sizeof import->topics, "%s", streq(topics, "*") ? "" : topics);
    zcert_destroy(&cert);
    return import;
}

zlist_t *importer_start_all(const char *path, security_t *security, const char *redis_url)
{
    FILE *file = fopen(path, "r");
    if (!file) {
        log_error("cannot read the imports file", "path=%s", path);
        return NULL;
    }
    zlist_t *actors = zlist_new();
    char line[2048];
    int lineno = 0;
    bool ok = true;
    while (ok && fgets(line, sizeof line, file)) {
        lineno++;
        char *p = line + strspn(line, " \t");
        if (*p == '#' || *p == '\n' || *p == '\0')
            continue;
        import_t *import = s_parse(p, lineno, path);
        if (!import) {
            ok = false;
            break;
        }
        import->security = security;
        snprintf(import->redis_url, sizeof import->redis_url, "%s", redis_url);
        zlist_append(actors, zactor_new(s_import_actor, import));
    }
    fclose(file);
    if (!ok)
        importer_stop_all(&actors);
    return actors;
}

void importer_stop_all(zlist_t **actors_p)
{
    if (!actors_p || !*actors_p)
        return;
    zactor_t *actor;
    while ((actor = zlist_pop(*actors_p)))
        zactor_destroy(&actor);
    zlist_destroy(actors_p);
}
