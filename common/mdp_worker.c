/*
 * mdp_worker.c - MDP/0.1 worker over several brokers; see mdp_worker.h.
 *
 * Each broker link has its own socket, the time its heartbeat is next due and
 * the time after which a silent broker is taken for dead. Messages that wait
 * in a socket are always read before that deadline is judged, so a worker
 * returning from a long request does not mistake the backlog for silence.
 */
#include "mdp_worker.h"
#include "logger.h"
#include "mdp.h"

#define MAX_MSG_BYTES (16 << 20)

typedef struct {
    char *endpoint;
    zsock_t *socket;
    int64_t heartbeat_at; /* send a heartbeat at this time (zclock_mono ms) */
    int64_t expiry;       /* reconnect when nothing came by then */
    bool disconnected;    /* the broker said DISCONNECT: ignore it until then */
} link_t;

struct _mdp_worker_t {
    security_t *security;
    char *service;
    link_t *links;
    size_t count;
    int heartbeat_ms;
    int liveness;
    link_t *reply_link; /* where the request in hand came from */
    zframe_t *reply_to; /* its client address */
};

static void s_send(link_t *link, const char *command, zmsg_t **body_p)
{
    zmsg_t *msg = body_p && *body_p ? *body_p : zmsg_new();
    if (body_p)
        *body_p = NULL;
    zmsg_pushmem(msg, command, 1);
    zmsg_pushstr(msg, MDP_WORKER);
    zmsg_pushmem(msg, NULL, 0);
    if (zmsg_send(&msg, link->socket) != 0) {
        log_warn("cannot send to broker", "endpoint=%s", link->endpoint);
        zmsg_destroy(&msg);
    }
}

static int s_link_connect(mdp_worker_t *self, link_t *link)
{
    zsock_destroy(&link->socket);
    link->socket = zsock_new(ZMQ_DEALER);
    if (!link->socket)
        return -1;
    zsock_set_linger(link->socket, 1000);
    zsock_set_maxmsgsize(link->socket, MAX_MSG_BYTES);
    security_client(self->security, link->socket);
    if (zsock_connect(link->socket, "%s", link->endpoint) < 0) {
        log_error("cannot connect to broker", "endpoint=%s", link->endpoint);
        return -1;
    }
    zmsg_t *ready = zmsg_new();
    zmsg_addstr(ready, self->service);
    s_send(link, MDP_READY, &ready);
    int64_t now = zclock_mono();
    link->heartbeat_at = now + self->heartbeat_ms;
    link->expiry = now + (int64_t)self->heartbeat_ms * self->liveness;
    link->disconnected = false;
    return 0;
}

mdp_worker_t *mdp_worker_new(const char *brokers, const char *service, security_t *security,
                             int heartbeat_ms, int liveness)
{
    mdp_worker_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->security = security;
    self->service = strdup(service);
    self->heartbeat_ms = heartbeat_ms > 0 ? heartbeat_ms : MDP_HEARTBEAT_MS_DEFAULT;
    self->liveness = liveness > 0 ? liveness : MDP_LIVENESS_DEFAULT;

    char *copy = strdup(brokers ? brokers : "");
    size_t max = 1;
    for (const char *p = copy; *p; p++)
        max += *p == ',';
    self->links = calloc(max, sizeof *self->links);
    char *save = NULL;
    for (char *endpoint = strtok_r(copy, ", ", &save); endpoint;
         endpoint = strtok_r(NULL, ", ", &save))
        self->links[self->count++].endpoint = strdup(endpoint);
    free(copy);
    if (self->count == 0) {
        log_error("no broker endpoint given", "setting=brokers");
        goto fail;
    }
    for (size_t i = 0; i < self->count; i++)
        if (s_link_connect(self, &self->links[i]) != 0)
            goto fail;
    return self;
fail:
    mdp_worker_destroy(&self);
    return NULL;
}

void mdp_worker_destroy(mdp_worker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    mdp_worker_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++) {
        if (self->links[i].socket)
            s_send(&self->links[i], MDP_DISCONNECT, NULL);
        zsock_destroy(&self->links[i].socket);
        free(self->links[i].endpoint);
    }
    free(self->links);
    zframe_destroy(&self->reply_to);
    free(self->service);
    free(self);
    *self_p = NULL;
}

/* Handles one message from a broker; returns the request body when it is a
 * REQUEST (and remembers where to reply), else NULL. */
static zmsg_t *s_link_message(mdp_worker_t *self, link_t *link)
{
    zmsg_t *msg = zmsg_recv(link->socket);
    if (!msg)
        return NULL;
    link->expiry = zclock_mono() + (int64_t)self->heartbeat_ms * self->liveness;
    zframe_t *empty = zmsg_pop(msg);
    char *header = zmsg_popstr(msg);
    zframe_t *command = zmsg_pop(msg);
    zmsg_t *body = NULL;
    if (!empty || zframe_size(empty) != 0 || !header || !streq(header, MDP_WORKER) || !command ||
        zframe_size(command) != 1) {
        log_warn("malformed message from broker dropped", "endpoint=%s", link->endpoint);
    } else if (zframe_data(command)[0] == MDP_REQUEST[0]) {
        zframe_t *client = zmsg_pop(msg);
        zframe_t *delimiter = zmsg_pop(msg);
        if (client && delimiter && zframe_size(delimiter) == 0 && zmsg_size(msg) > 0) {
            zframe_destroy(&self->reply_to);
            self->reply_to = client;
            client = NULL;
            self->reply_link = link;
            body = msg;
            msg = NULL;
        } else {
            log_warn("malformed REQUEST from broker dropped", "endpoint=%s", link->endpoint);
        }
        zframe_destroy(&client);
        zframe_destroy(&delimiter);
    } else if (zframe_data(command)[0] == MDP_DISCONNECT[0]) {
        /* Reconnect a heartbeat later, not at once: a broker that refuses
         * this worker is not hammered with READY. */
        log_warn("broker said disconnect; reconnecting", "endpoint=%s in_ms=%d", link->endpoint,
                 self->heartbeat_ms);
        link->expiry = zclock_mono() + self->heartbeat_ms;
        link->disconnected = true;
    } else if (zframe_data(command)[0] != MDP_HEARTBEAT[0]) {
        log_warn("unknown command from broker dropped", "endpoint=%s", link->endpoint);
    }
    zframe_destroy(&empty);
    zstr_free(&header);
    zframe_destroy(&command);
    zmsg_destroy(&msg);
    return body;
}

zmsg_t *mdp_worker_recv(mdp_worker_t *self, zsock_t *stop)
{
    zmq_pollitem_t items[self->count + 1];
    while (true) {
        int64_t now = zclock_mono();
        int64_t next = INT64_MAX;
        for (size_t i = 0; i < self->count; i++) {
            link_t *link = &self->links[i];
            items[i] = (zmq_pollitem_t){zsock_resolve(link->socket), 0, ZMQ_POLLIN, 0};
            if (link->heartbeat_at < next)
                next = link->heartbeat_at;
        }
        size_t n = self->count;
        if (stop)
            items[n++] = (zmq_pollitem_t){zsock_resolve(stop), 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll(items, (int)n, next > now ? next - now : 0);
        if (rc < 0) {
            if (zmq_errno() == EINTR && (stop || !zsys_interrupted))
                continue;
            return NULL;
        }
        if (stop && (items[self->count].revents & ZMQ_POLLIN))
            return NULL;
        now = zclock_mono();
        for (size_t i = 0; i < self->count; i++) {
            link_t *link = &self->links[i];
            if (items[i].revents & ZMQ_POLLIN) {
                zmsg_t *body = s_link_message(self, link);
                if (body)
                    return body;
            } else if (now > link->expiry) {
                if (!link->disconnected)
                    log_warn("broker silent; reconnecting", "endpoint=%s", link->endpoint);
                s_link_connect(self, link);
            }
            if (now >= link->heartbeat_at) {
                s_send(link, MDP_HEARTBEAT, NULL);
                link->heartbeat_at = now + self->heartbeat_ms;
            }
        }
    }
}

int mdp_worker_reply(mdp_worker_t *self, zmsg_t **body_p)
{
    if (!self->reply_to) {
        zmsg_destroy(body_p);
        return -1;
    }
    zmsg_t *msg = *body_p;
    *body_p = NULL;
    zmsg_pushmem(msg, NULL, 0);
    zmsg_prepend(msg, &self->reply_to);
    link_t *link = self->reply_link;
    self->reply_link = NULL;
    s_send(link, MDP_REPLY, &msg);
    /* The broker sends no heartbeats to a busy worker: start counting now. */
    int64_t now = zclock_mono();
    link->heartbeat_at = now + self->heartbeat_ms;
    link->expiry = now + (int64_t)self->heartbeat_ms * self->liveness;
    link->disconnected = false;
    return 0;
}
