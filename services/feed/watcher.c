/*
 * watcher.c - waking the feed on new stream entries; see watcher.h.
 *
 * The actor's loop: with nothing to watch it waits on its pipe; watching,
 * it runs XREAD COUNT 1 BLOCK WAIT_MS on every key after its position, so
 * it looks at its pipe at least every WAIT_MS (a new set, or $TERM). An
 * answer with entries sends "WAKE" and clears the set until the feed sends
 * the next one. A lost Redis connection is made again after a pause, and a
 * refused XREAD is tried again after one; meanwhile the feed still serves
 * on its own timer, only later.
 */
#include "watcher.h"
#include "logger.h"
#include "redis_link.h"

#include <inttypes.h>

#define WAIT_MS 200

typedef struct {
    char **argv; /* XREAD COUNT 1 BLOCK <ms> STREAMS <keys...> <ids...> */
    size_t argc;
} watch_t;

static void s_watch_clear(watch_t *watch)
{
    for (size_t i = 0; i < watch->argc; i++)
        free(watch->argv[i]);
    free(watch->argv);
    watch->argv = NULL;
    watch->argc = 0;
}

/* Takes a WATCH message ([key, position]...) as the new set. */
static void s_watch_set(watch_t *watch, zmsg_t *msg)
{
    s_watch_clear(watch);
    size_t count = zmsg_size(msg) / 2;
    if (count == 0)
        return;
    watch->argc = 6 + 2 * count;
    watch->argv = calloc(watch->argc, sizeof *watch->argv);
    assert(watch->argv);
    const char *head[] = {"XREAD", "COUNT", "1", "BLOCK", NULL, "STREAMS"};
    for (size_t i = 0; i < 6; i++)
        watch->argv[i] = head[i] ? strdup(head[i]) : zsys_sprintf("%d", WAIT_MS);
    for (size_t i = 0; i < count; i++) {
        watch->argv[6 + i] = zmsg_popstr(msg);
        char *position = zmsg_popstr(msg);
        watch->argv[6 + count + i] = zsys_sprintf("%s-0", position ? position : "0");
        zstr_free(&position);
    }
}

/* Handles one message of the pipe; returns false on $TERM. */
static bool s_command(zsock_t *pipe, watch_t *watch)
{
    zmsg_t *msg = zmsg_recv(pipe);
    if (!msg)
        return false;
    char *command = zmsg_popstr(msg);
    bool go_on = command && !streq(command, "$TERM");
    if (go_on && streq(command, "WATCH"))
        s_watch_set(watch, msg);
    zstr_free(&command);
    zmsg_destroy(&msg);
    return go_on;
}

/* Waits WAIT_MS, or until a command comes (which it handles). Returns
 * false on $TERM. */
static bool s_pause(zsock_t *pipe, watch_t *watch)
{
    zmq_pollitem_t item = {zsock_resolve(pipe), 0, ZMQ_POLLIN, 0};
    return zmq_poll(&item, 1, WAIT_MS) > 0 ? s_command(pipe, watch) : true;
}

static void s_actor(zsock_t *pipe, void *args)
{
    char *redis_url = args;
    zsock_signal(pipe, 0);
    redisContext *redis = NULL;
    watch_t watch = {0};
    bool running = true;
    int64_t refused_logged_at = 0;
    while (running) {
        if (watch.argc == 0) {
            running = s_command(pipe, &watch);
            continue;
        }
        if ((!redis || redis->err) && redis_link_reset(&redis, redis_url, 1) != 0) {
            running = s_pause(pipe, &watch); /* Redis is away: look again later */
            continue;
        }
        size_t *lengths = calloc(watch.argc, sizeof *lengths);
        for (size_t i = 0; i < watch.argc; i++)
            lengths[i] = strlen(watch.argv[i]);
        redisReply *reply =
            redisCommandArgv(redis, (int)watch.argc, (const char **)watch.argv, lengths);
        free(lengths);
        if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements > 0) {
            zstr_send(pipe, "WAKE");
            s_watch_clear(&watch);
        } else if (!reply || reply->type == REDIS_REPLY_ERROR) {
            /* Refused (a key that is no stream) or cut off: never a busy loop;
             * the feed's own round goes on meanwhile. */
            if (logger_due(&refused_logged_at))
                log_warn("feed watcher cannot wait on its streams", "error=\"%s\"",
                         reply ? reply->str : redis->errstr);
            freeReplyObject(reply);
            running = s_pause(pipe, &watch);
            continue;
        }
        freeReplyObject(reply);
        while (running && (zsock_events(pipe) & ZMQ_POLLIN))
            running = s_command(pipe, &watch);
    }
    s_watch_clear(&watch);
    redisFree(redis);
    free(redis_url);
}

zactor_t *watcher_new(const char *redis_url)
{
    char *url = strdup(redis_url);
    zactor_t *actor = url ? zactor_new(s_actor, url) : NULL;
    if (!actor)
        free(url);
    return actor;
}

int watcher_watch(zactor_t *watcher, char *const *keys, const int64_t *positions, size_t count)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "WATCH");
    for (size_t i = 0; i < count; i++) {
        zmsg_addstr(msg, keys[i]);
        zmsg_addstrf(msg, "%" PRId64, positions[i]);
    }
    return zmsg_send(&msg, watcher);
}
