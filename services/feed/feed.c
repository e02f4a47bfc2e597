/*
 * feed.c - the agency's event feed for departments and other agencies; see
 * feed.h for what it promises.
 *
 * One ROUTER socket, CURVE with ZAP: the ZAP user id of every message is the
 * subscriber's public key, which the access list maps to what it may see.
 * Each subscription keeps its cursor (the last sequence considered, sent or
 * not) and its credit. A round reads, for each subscription with credit,
 * the entries after its cursor from the producing service's Redis stream,
 * which holds the whole event log in sequence order (the relay keeps it so),
 * and sends those the subscriber may see, redacted if it may not see
 * personal data. Because every subscriber reads the durable log, a gap is
 * never possible: there is no live-only path to lose. A round comes after
 * commands, when the watcher (watcher.h) says a stream has an entry past
 * the cursor of a subscription that can take it, and every 100 ms.
 */
#include "feed.h"
#include "acl.h"
#include "catalog.h"
#include "feed.pb-c.h"
#include "importer.h"
#include "logger.h"
#include "redact.h"
#include "redis_link.h"
#include "watcher.h"

#include <czmq.h>

#define READ_MAX     100
#define READ_BATCH   1000 /* commands read before each round */
#define HEARTBEAT_MS 1000
#define TOPICS_MAX   32
#define STALL_MS     10000 /* a subscriber not reading for this long is dropped */

typedef struct {
    zframe_t *identity;
    const acl_entry_t *acl;
    char stream[128]; /* the Redis key */
    char *topics[TOPICS_MAX + 1];
    int64_t cursor;
    int64_t credit;
    int64_t heartbeat_at;
    int64_t stalled_since; /* when its pipe first refused an event, or 0 */
} subscription_t;

struct _feed_t {
    zsock_t *socket;
    acl_t *acl;
    redisContext *redis;
    char *redis_url;
    char *stream_pattern;    /* printf pattern of a stream's key, %s the service */
    zhashx_t *subscriptions; /* identity hex -> subscription_t, owned */
    zlist_t *imports;        /* zactor_t *, one per federation import */
    zactor_t *watcher;       /* wakes the loop when a served stream has news */
    char *watched;           /* what the watcher was last told, or NULL */
    uint64_t unsent;         /* messages a full or gone pipe refused */
    int64_t unsent_logged_at;
};

static void s_subscription_destructor(void **item)
{
    subscription_t *self = *item;
    if (!self)
        return;
    zframe_destroy(&self->identity);
    for (size_t i = 0; self->topics[i]; i++)
        free(self->topics[i]);
    free(self);
    *item = NULL;
}

feed_t *feed_new(config_t *config, security_t *security)
{
    feed_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    const char *acl_path = config_str(config, "feed.acl", NULL);
    const char *endpoint = config_str(config, "feed.endpoint", "tcp://127.0.0.1:5570");
    self->redis_url = strdup(config_str(config, "redis.url", "redis://127.0.0.1:6379/0"));
    self->stream_pattern = strdup(config_str(config, "feed.stream_key", "chuang:%s:events"));
    self->subscriptions = zhashx_new();
    zhashx_set_destructor(self->subscriptions, s_subscription_destructor);
    if (!acl_path) {
        log_error("feed.acl is not set; the feed needs its access list", NULL);
        goto fail;
    }
    if (security_plain(security)) {
        log_error("the feed needs CURVE: its access list is keyed by public keys", NULL);
        goto fail;
    }
    self->acl = acl_load(acl_path);
    if (!self->acl)
        goto fail;
    self->socket = zsock_new(ZMQ_ROUTER);
    zsock_set_router_mandatory(self->socket, 1);
    zsock_set_maxmsgsize(self->socket, 64 << 10);
    zsock_set_linger(self->socket, 0);
    zsock_set_sndtimeo(self->socket, 0);
    if (security_server(security, self->socket) != 0 ||
        zsock_bind(self->socket, "%s", endpoint) < 0) {
        log_error("feed cannot bind", "endpoint=%s", endpoint);
        goto fail;
    }
    self->watcher = watcher_new(self->redis_url);
    if (!self->watcher)
        goto fail;
    const char *imports = config_str(config, "feed.imports", NULL);
    if (imports && !(self->imports = importer_start_all(imports, security, self->redis_url)))
        goto fail;
    log_info("feed listening", "endpoint=%s imports=%zu", endpoint,
             self->imports ? zlist_size(self->imports) : 0);
    return self;
fail:
    feed_destroy(&self);
    return NULL;
}

void feed_destroy(feed_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    feed_t *self = *self_p;
    importer_stop_all(&self->imports);
    zactor_destroy(&self->watcher);
    free(self->watched);
    zsock_destroy(&self->socket);
    acl_destroy(&self->acl);
    redisFree(self->redis);
    zhashx_destroy(&self->subscriptions);
    free(self->redis_url);
    free(self->stream_pattern);
    free(self);
    *self_p = NULL;
}

typedef enum { SENT, FULL, GONE } sent_t;

/* Sends [identity][command][body] without ever waiting: the socket's send
 * timeout is 0, so a subscriber whose pipe is full (it does not read) gets
 * FULL and the message is not sent; one that has gone gets GONE. Messages
 * not sent are counted and logged at most once a second. */
static sent_t s_send(feed_t *self, zframe_t *identity, const char *command, const uint8_t *body,
                     size_t size)
{
    zmsg_t *msg = zmsg_new();
    zmsg_append(msg, &(zframe_t *){zframe_dup(identity)});
    zmsg_addstr(msg, command);
    if (body)
        zmsg_addmem(msg, body, size);
    if (zmsg_send(&msg, self->socket) == 0)
        return SENT;
    int error = zmq_errno();
    zmsg_destroy(&msg);
    self->unsent++;
    if (logger_due(&self->unsent_logged_at)) {
        char *id = zframe_strhex(identity);
        log_warn(error == EAGAIN ? "subscriber does not read; message not sent"
                                 : "subscriber has gone; message not sent",
                 "peer=%s command=%s unsent_total=%" PRIu64, id, command, self->unsent);
        free(id);
    }
    return error == EAGAIN ? FULL : GONE;
}

static void s_refuse_detail(feed_t *self, zframe_t *identity, Chuang__Status status,
                            const char *message, const char *detail, const char *hint)
{
    Chuang__Reply reply = CHUANG__REPLY__INIT;
    reply.status = status;
    reply.message = (char *)message;
    reply.detail = (char *)(detail ? detail : "");
    reply.hint = (char *)(hint ? hint : "");
    uint8_t buffer[1024];
    size_t size = chuang__reply__pack(&reply, buffer);
    s_send(self, identity, "ERROR", buffer, size);
}

static void s_refuse(feed_t *self, zframe_t *identity, Chuang__Status status, const char *message,
                     const char *hint)
{
    s_refuse_detail(self, identity, status, message, NULL, hint);
}

static void s_subscribe(feed_t *self, zframe_t *identity, const char *id, const acl_entry_t *acl,
                        zframe_t *body)
{
    Chuang__Feed__Subscribe *request =
        body ? chuang__feed__subscribe__unpack(NULL, zframe_size(body), zframe_data(body)) : NULL;
    if (!request || !*request->stream || strlen(request->stream) > 40 ||
        strspn(request->stream, "abcdefghijklmnopqrstuvwxyz_") != strlen(request->stream) ||
        request->after < 0 || request->n_topics > TOPICS_MAX || request->credit < 1) {
        s_refuse(self, identity, CHUANG__STATUS__INVALID_ARGUMENT, "malformed subscription",
                 "Name a service, a sequence of 0 or more, at most 32 topics and some credit.");
        chuang__feed__subscribe__free_unpacked(request, NULL);
        return;
    }
    for (size_t i = 0; i < request->n_topics; i++)
        if (!acl_topic_allowed(acl, request->topics[i])) {
            char message[160];
            snprintf(message, sizeof message, "topic %.100s not allowed", request->topics[i]);
            s_refuse(self, identity, CHUANG__STATUS__PERMISSION_DENIED, message,
                     "Ask the agency's operators to extend your access list entry.");
            log_warn("subscription refused", "subscriber=%s topic=%s", acl->name,
                     request->topics[i]);
            chuang__feed__subscribe__free_unpacked(request, NULL);
            return;
        }
    subscription_t *subscription = calloc(1, sizeof *subscription);
    subscription->identity = zframe_dup(identity);
    subscription->acl = acl;
    snprintf(subscription->stream, sizeof subscription->stream, self->stream_pattern,
             request->stream);
    for (size_t i = 0; i < request->n_topics; i++)
        subscription->topics[i] = strdup(request->topics[i]);
    if (request->n_topics == 0)
        for (size_t i = 0; acl->topics[i] && i < TOPICS_MAX; i++)
            subscription->topics[i] = strdup(streq(acl->topics[i], "*") ? "" : acl->topics[i]);
    subscription->cursor = request->after;
    subscription->credit = request->credit;
    subscription->heartbeat_at = zclock_mono() + HEARTBEAT_MS;
    zhashx_update(self->subscriptions, id, subscription);
    log_info("subscribed", "subscriber=%s stream=%s after=%" PRId64, acl->name, request->stream,
             request->after);
    chuang__feed__subscribe__free_unpacked(request, NULL);
}

static void s_message(feed_t *self)
{
    zmsg_t *msg = zmsg_recv(self->socket);
    if (!msg)
        return;
    zframe_t *identity = zmsg_pop(msg);
    zframe_t *command = zmsg_pop(msg);
    zframe_t *body = zmsg_pop(msg);
    char *id = zframe_strhex(identity);
    const char *key = command ? zframe_meta(command, "User-Id") : NULL;
    const acl_entry_t *acl = acl_lookup(self->acl, key);
    if (!command) {
        log_warn("malformed feed message dropped", "peer=%s", id);
    } else if (!acl) {
        s_refuse(self, identity, CHUANG__STATUS__PERMISSION_DENIED, "not a subscriber",
                 "This key is not on the feed's access list.");
    } else if (zframe_streq(command, "SUBSCRIBE")) {
        s_subscribe(self, identity, id, acl, body);
    } else if (zframe_streq(command, "CREDIT")) {
        subscription_t *subscription = zhashx_lookup(self->subscriptions, id);
        Chuang__Feed__Credit *credit =
            body ? chuang__feed__credit__unpack(NULL, zframe_size(body), zframe_data(body)) : NULL;
        if (subscription && credit && credit->credit > 0 && credit->credit <= 100000)
            subscription->credit += credit->credit;
        chuang__feed__credit__free_unpacked(credit, NULL);
    } else {
        log_warn("unknown feed command dropped", "peer=%s", id);
    }
    free(id);
    zframe_destroy(&identity);
    zframe_destroy(&command);
    zframe_destroy(&body);
    zmsg_destroy(&msg);
}

static bool s_wanted(const subscription_t *subscription, const Chuang__Event *event)
{
    if (event->visibility < subscription->acl->least)
        return false;
    for (size_t i = 0; subscription->topics[i]; i++)
        if (strncmp(event->type, subscription->topics[i], strlen(subscription->topics[i])) == 0)
            return true;
    return false;
}

/* Tells the subscriber that the event at sequence cannot be served and
 * ends its subscription there: it sees an error, never a gap. */
static void s_unservable(feed_t *self, subscription_t *subscription, int64_t sequence,
                         const char *why)
{
    char message[96], detail[160];
    snprintf(message, sizeof message, "event %" PRId64 " cannot be served", sequence);
    snprintf(detail, sizeof detail, "The event %s. Your cursor stays at %" PRId64 ".", why,
             subscription->cursor);
    s_refuse_detail(self, subscription->identity, CHUANG__STATUS__INTERNAL, message, detail,
                    "Subscribe again later; the agency's operators have been told.");
    log_error("event cannot be served", "subscriber=%s stream=%s sequence=%" PRId64 " why=\"%s\"",
              subscription->acl->name, subscription->stream, sequence, why);
}

/* Sends what the subscription may have of what follows its cursor, in
 * order, never past an event it could not send: the cursor moves only over
 * events sent or not wanted. Returns false when the subscription ends: the
 * subscriber has gone, has not read for STALL_MS, or was told why not. */
static bool s_serve(feed_t *self, subscription_t *subscription)
{
    int64_t now = zclock_mono();
    char start[32];
    snprintf(start, sizeof start, "%" PRId64, subscription->cursor + 1);
    long long count = subscription->credit < READ_MAX ? subscription->credit : READ_MAX;
    redisReply *reply = count > 0 ? redisCommand(self->redis, "XRANGE %s %s + COUNT %lld",
                                                 subscription->stream, start, count)
                                  : NULL;
    bool alive = true;
    bool sent = false;
    /* Sequences are consecutive: an entry after the cursor that is not the
     * next one means the events between were trimmed away. */
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
        strtoll(reply->element[0]->element[0]->str, NULL, 10) > subscription->cursor + 1) {
        char detail[128];
        snprintf(detail, sizeof detail, "The oldest event kept is %s.",
                 reply->element[0]->element[0]->str);
        s_refuse_detail(self, subscription->identity, CHUANG__STATUS__FAILED_PRECONDITION,
                        "cursor is older than the feed's retention", detail,
                        "Take a snapshot from the service and subscribe after the sequence it "
                        "gives.");
        log_info("subscription behind retention", "subscriber=%s cursor=%" PRId64,
                 subscription->acl->name, subscription->cursor);
        freeReplyObject(reply);
        return false;
    }
    for (size_t i = 0; alive && reply && reply->type == REDIS_REPLY_ARRAY && i < reply->elements;
         i++) {
        redisReply *fields = reply->element[i]->element[1];
        int64_t sequence = strtoll(reply->element[i]->element[0]->str, NULL, 10);
        Chuang__Event *event = fields->elements >= 2
                                   ? chuang__event__unpack(NULL, fields->element[1]->len,
                                                           (const uint8_t *)fields->element[1]->str)
                                   : NULL;
        sent_t outcome = SENT;
        if (!event) {
            s_unservable(self, subscription, sequence, "stored in the stream cannot be read");
            alive = false;
        } else if (s_wanted(subscription, event)) {
            if (!subscription->acl->personal && redact_event(event, catalog_services) != 0) {
                s_unservable(self, subscription, sequence, "cannot be redacted");
                alive = false;
            } else {
                size_t size = chuang__event__get_packed_size(event);
                uint8_t *packed = malloc(size);
                chuang__event__pack(event, packed);
                outcome = s_send(self, subscription->identity, "EVENT", packed, size);
                free(packed);
                if (outcome == SENT) {
                    subscription->credit--;
                    subscription->stalled_since = 0;
                    sent = true;
                }
            }
        }
        chuang__event__free_unpacked(event, NULL);
        if (outcome == FULL && !subscription->stalled_since)
            subscription->stalled_since = now;
        if (outcome != SENT)
            alive = outcome == FULL;
        if (outcome != SENT || !alive)
            break;
        subscription->cursor = sequence;
    }
    if (count > 0 && (!reply || reply->type == REDIS_REPLY_ERROR))
        redis_link_reset(&self->redis, self->redis_url, 1);
    freeReplyObject(reply);
    if (alive && subscription->stalled_since && now - subscription->stalled_since > STALL_MS) {
        log_warn("subscriber does not read; subscription ended", "subscriber=%s cursor=%" PRId64,
                 subscription->acl->name, subscription->cursor);
        return false;
    }
    if (sent) {
        subscription->heartbeat_at = now + HEARTBEAT_MS;
    } else if (alive && now >= subscription->heartbeat_at) {
        alive = s_send(self, subscription->identity, "HEARTBEAT", NULL, 0) != GONE;
        subscription->heartbeat_at = now + HEARTBEAT_MS;
    }
    return alive;
}

/* Tells the watcher the streams that subscriptions able to take more (some
 * credit, a pipe not full) follow, each after the least of their cursors,
 * when that differs from what it was last told. */
static void s_watch(feed_t *self)
{
    zhashx_t *least = zhashx_new(); /* stream key -> subscription_t with the least cursor */
    for (subscription_t *subscription = zhashx_first(self->subscriptions); subscription;
         subscription = zhashx_next(self->subscriptions)) {
        if (subscription->credit <= 0 || subscription->stalled_since)
            continue;
        subscription_t *seen = zhashx_lookup(least, subscription->stream);
        if (!seen || subscription->cursor < seen->cursor)
            zhashx_update(least, subscription->stream, subscription);
    }
    size_t count = zhashx_size(least);
    char **keys = calloc(count + 1, sizeof *keys);
    int64_t *positions = calloc(count + 1, sizeof *positions);
    assert(keys && positions);
    char *told = strdup("");
    size_t n = 0;
    for (subscription_t *subscription = zhashx_first(least); subscription;
         subscription = zhashx_next(least)) {
        keys[n] = subscription->stream;
        positions[n] = subscription->cursor;
        char *longer = zsys_sprintf("%s%s %" PRId64 "\n", told, keys[n], positions[n]);
        free(told);
        told = longer;
        n++;
    }
    if (!self->watched || !streq(self->watched, told)) {
        watcher_watch(self->watcher, keys, positions, n);
        free(self->watched);
        self->watched = told;
        told = NULL;
    }
    free(told);
    free(keys);
    free(positions);
    zhashx_destroy(&least);
}

void feed_run(feed_t *self)
{
    zpoller_t *poller = zpoller_new(self->socket, self->watcher, NULL);
    while (!zsys_interrupted) {
        /* Everything waiting (up to a bound) is read before a round, so a
         * peer that floods commands costs one round per batch, not one
         * round of stream reads per message. A round also comes when the
         * watcher says a stream has news, and every 100 ms anyway. */
        void *which = zpoller_wait(poller, 100);
        if (which == self->socket)
            for (int i = 0; i < READ_BATCH && (zsock_events(self->socket) & ZMQ_POLLIN); i++)
                s_message(self);
        else if (which == self->watcher) {
            char *wake = zstr_recv(self->watcher);
            zstr_free(&wake);
            zstr_free(&self->watched); /* it watches nothing until told again */
        } else if (zpoller_terminated(poller))
            break;
        if (!self->redis || self->redis->err)
            redis_link_reset(&self->redis, self->redis_url, 1);
        if (!self->redis)
            continue;
        zlistx_t *gone = zlistx_new();
        for (subscription_t *subscription = zhashx_first(self->subscriptions); subscription;
             subscription = zhashx_next(self->subscriptions))
            if (subscription->credit > 0 || zclock_mono() >= subscription->heartbeat_at)
                if (!s_serve(self, subscription))
                    zlistx_add_end(gone, (void *)zhashx_cursor(self->subscriptions));
        for (const char *id = zlistx_first(gone); id; id = zlistx_next(gone)) {
            log_info("subscriber gone", "peer=%s", id);
            zhashx_delete(self->subscriptions, id);
        }
        zlistx_destroy(&gone);
        s_watch(self);
    }
    zpoller_destroy(&poller);
}
