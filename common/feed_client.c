/*
 * feed_client.c - a subscriber of the feed; see feed_client.h.
 *
 * Credit: the subscription grants CREDIT events; after every half of that
 * the client grants as much again. Resubscribing (after silence) starts a
 * fresh grant. Events at or below the cursor (a resend after reconnecting)
 * are dropped here.
 */
#include "feed_client.h"
#include "feed.pb-c.h"
#include "logger.h"

#include <czmq.h>

#define CREDIT 200

struct _feed_client_t {
    char *endpoint;
    security_t *security;
    char *server_public;
    char *stream;
    char *topics;
    int64_t cursor;
    zsock_t *socket;
    int received; /* events since the last grant */
    int64_t heard_at;
    bool refused;
};

static void s_send(feed_client_t *self, const char *command, const ProtobufCMessage *message)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, command);
    zframe_t *frame = zframe_new(NULL, protobuf_c_message_get_packed_size(message));
    protobuf_c_message_pack(message, zframe_data(frame));
    zmsg_append(msg, &frame);
    zmsg_send(&msg, self->socket);
}

/* (Re)connects and subscribes after the cursor. */
static int s_subscribe(feed_client_t *self)
{
    zsock_destroy(&self->socket);
    self->socket = zsock_new(ZMQ_DEALER);
    if (!self->socket)
        return -1;
    zsock_set_linger(self->socket, 0);
    zsock_set_maxmsgsize(self->socket, 16 << 20);
    security_client_to(self->security, self->socket, self->server_public);
    if (zsock_connect(self->socket, "%s", self->endpoint) < 0)
        return -1;
    Chuang__Feed__Subscribe subscribe = CHUANG__FEED__SUBSCRIBE__INIT;
    subscribe.stream = self->stream;
    subscribe.after = self->cursor;
    subscribe.credit = CREDIT;
    char *copy = strdup(self->topics);
    char *topics[64];
    char *save = NULL;
    for (char *topic = strtok_r(copy, ",", &save); topic && subscribe.n_topics < 64;
         topic = strtok_r(NULL, ",", &save))
        topics[subscribe.n_topics++] = topic;
    subscribe.topics = topics;
    s_send(self, "SUBSCRIBE", &subscribe.base);
    free(copy);
    self->received = 0;
    self->heard_at = zclock_mono();
    return 0;
}

feed_client_t *feed_client_new(const char *endpoint, security_t *security,
                               const char *server_public, const char *stream, int64_t after,
                               const char *topics)
{
    if (!endpoint || !stream || after < 0 || (!server_public && !security_plain(security)))
        return NULL;
    feed_client_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->endpoint = strdup(endpoint);
    self->security = security;
    self->server_public = server_public ? strdup(server_public) : NULL;
    self->stream = strdup(stream);
    self->topics = strdup(topics ? topics : "");
    self->cursor = after;
    if (s_subscribe(self) != 0)
        feed_client_destroy(&self);
    return self;
}

void feed_client_destroy(feed_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    feed_client_t *self = *self_p;
    zsock_destroy(&self->socket);
    free(self->endpoint);
    free(self->server_public);
    free(self->stream);
    free(self->topics);
    free(self);
    *self_p = NULL;
}

int64_t feed_client_cursor(feed_client_t *self)
{
    return self->cursor;
}

Chuang__Event *feed_client_next(feed_client_t *self, int timeout_ms, Chuang__Reply **refusal)
{
    *refusal = NULL;
    if (self->refused)
        return NULL;
    int64_t end = zclock_mono() + timeout_ms;
    while (true) {
        int64_t now = zclock_mono();
        if (now - self->heard_at > FEED_CLIENT_SILENCE_MS) {
            log_info("feed silent; subscribing again", "endpoint=%s after=%" PRId64, self->endpoint,
                     self->cursor);
            s_subscribe(self);
        }
        int64_t left = end - now;
        if (left <= 0)
            return NULL;
        zmq_pollitem_t item = {zsock_resolve(self->socket), 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, left < 500 ? left : 500) <= 0)
            continue;
        zmsg_t *msg = zmsg_recv(self->socket);
        if (!msg)
            continue;
        self->heard_at = zclock_mono();
        char *command = zmsg_popstr(msg);
        zframe_t *body = zmsg_pop(msg);
        Chuang__Event *event = NULL;
        if (command && streq(command, "EVENT") && body) {
            event = chuang__event__unpack(NULL, zframe_size(body), zframe_data(body));
            if (++self->received >= CREDIT / 2) {
                Chuang__Feed__Credit credit = CHUANG__FEED__CREDIT__INIT;
                credit.credit = self->received;
                s_send(self, "CREDIT", &credit.base);
                self->received = 0;
            }
            if (event && event->sequence <= self->cursor) {
                chuang__event__free_unpacked(event, NULL);
                event = NULL;
            }
        } else if (command && streq(command, "ERROR") && body) {
            *refusal = chuang__reply__unpack(NULL, zframe_size(body), zframe_data(body));
            self->refused = true;
        }
        zstr_free(&command);
        zframe_destroy(&body);
        zmsg_destroy(&msg);
        if (*refusal)
            return NULL;
        if (event) {
            self->cursor = event->sequence;
            return event;
        }
    }
}
