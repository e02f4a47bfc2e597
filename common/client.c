/*
 * client.c - calling a service through the brokers; see client.h.
 *
 * One DEALER socket per broker, all connected when the first call is made,
 * each with ZMQ_IMMEDIATE (a socket is writable only while its broker is
 * connected) and ZMTP heartbeats (a broker whose host has died without
 * closing its connections is noticed within seconds). An attempt goes to
 * the current broker if it is connected, else to the next one that is, so a
 * dead broker costs nothing: its socket is simply never writable. A broker
 * that is connected but gives no reply in time stops being current, and the
 * same request goes to the next. Replies are read from every socket: one
 * whose request id is the call's is the answer, whichever broker it came
 * through (a late one is as good, the key applied once); others are stale
 * and dropped.
 */
#include "client.h"
#include "logger.h"
#include "mdp.h"

#include <czmq.h>

#define MAX_MSG_BYTES (16 << 20)
/* How long past a call's deadline the last attempt still listens, so that a
 * broker's own answer at the deadline (no worker in time) is heard. */
#define DEADLINE_GRACE_MS 250
/* ZMTP heartbeats on every broker connection. */
#define HEARTBEAT_IVL_MS     1000
#define HEARTBEAT_TIMEOUT_MS 3000

typedef struct {
    char *endpoint;
    zsock_t *socket; /* NULL until the first call, or when it could not be made */
} link_t;

struct _client_t {
    security_t *security;
    link_t *links;
    size_t count;
    size_t current;
    bool connected; /* the sockets have been made */
    char *agency;
    char *actor;
    char *person_id_number;
    zlist_t *roles; /* role strings, owned */
    int attempt_ms;
    int call_ms;
};

static zlist_t *s_split(const char *list)
{
    zlist_t *items = zlist_new();
    zlist_autofree(items);
    char *copy = strdup(list ? list : "");
    char *save = NULL;
    for (char *item = strtok_r(copy, ", ", &save); item; item = strtok_r(NULL, ", ", &save))
        zlist_append(items, item);
    free(copy);
    return items;
}

client_t *client_new(const char *brokers, security_t *security)
{
    client_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->security = security;
    zlist_t *endpoints = s_split(brokers);
    self->count = zlist_size(endpoints);
    self->links = calloc(self->count ? self->count : 1, sizeof *self->links);
    size_t i = 0;
    for (char *endpoint = zlist_first(endpoints); endpoint; endpoint = zlist_next(endpoints))
        self->links[i++].endpoint = strdup(endpoint);
    zlist_destroy(&endpoints);
    self->roles = s_split("");
    self->attempt_ms = 3000;
    self->call_ms = 10000;
    if (self->count == 0) {
        log_error("no broker endpoint given", "setting=brokers");
        client_destroy(&self);
    }
    return self;
}

void client_destroy(client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    client_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++) {
        zsock_destroy(&self->links[i].socket);
        free(self->links[i].endpoint);
    }
    free(self->links);
    zlist_destroy(&self->roles);
    free(self->agency);
    free(self->actor);
    free(self->person_id_number);
    free(self);
    *self_p = NULL;
}

void client_set_person(client_t *self, const char *id_number)
{
    free(self->person_id_number);
    self->person_id_number = id_number ? strdup(id_number) : NULL;
}

void client_set_identity(client_t *self, const char *agency, const char *actor, const char *roles)
{
    free(self->agency);
    free(self->actor);
    zlist_destroy(&self->roles);
    self->agency = agency ? strdup(agency) : NULL;
    self->actor = actor ? strdup(actor) : NULL;
    self->roles = s_split(roles);
}

void client_set_timeouts(client_t *self, int attempt_ms, int call_ms)
{
    self->attempt_ms = attempt_ms > 0 ? attempt_ms : 3000;
    self->call_ms = call_ms > 0 ? call_ms : 10000;
}

/* Makes every broker's socket and starts connecting them all at once. */
static void s_connect_all(client_t *self)
{
    self->connected = true;
    for (size_t i = 0; i < self->count; i++) {
        link_t *link = &self->links[i];
        link->socket = zsock_new(ZMQ_DEALER);
        if (!link->socket)
            continue;
        zsock_set_linger(link->socket, 0);
        zsock_set_immediate(link->socket, 1);
        zsock_set_maxmsgsize(link->socket, MAX_MSG_BYTES);
        zsock_set_heartbeat_ivl(link->socket, HEARTBEAT_IVL_MS);
        zsock_set_heartbeat_timeout(link->socket, HEARTBEAT_TIMEOUT_MS);
        security_client(self->security, link->socket);
        if (zsock_connect(link->socket, "%s", link->endpoint) < 0) {
            log_error("cannot connect to broker", "endpoint=%s", link->endpoint);
            zsock_destroy(&link->socket);
        }
    }
}

/* The broker to send to: the current one when connected, else the next
 * that is, waiting for one until end (zclock_mono ms). Returns its index,
 * or -1 when none connected in time. */
static int s_writable(client_t *self, int64_t end)
{
    zmq_pollitem_t items[self->count];
    while (true) {
        size_t n = 0;
        for (size_t k = 0; k < self->count; k++) {
            size_t i = (self->current + k) % self->count;
            if (!self->links[i].socket)
                continue;
            if (zsock_events(self->links[i].socket) & ZMQ_POLLOUT)
                return (int)i;
            items[n++] = (zmq_pollitem_t){zsock_resolve(self->links[i].socket), 0, ZMQ_POLLOUT, 0};
        }
        int64_t left = end - zclock_mono();
        if (n == 0 || left <= 0)
            return -1;
        if (zmq_poll(items, (int)n, left < 100 ? left : 100) < 0 && zmq_errno() != EINTR)
            return -1;
    }
}

/* Fills items (one per broker) to poll every socket there is for input. */
static void s_poll_items(client_t *self, zmq_pollitem_t *items)
{
    for (size_t i = 0; i < self->count; i++) {
        zsock_t *socket = self->links[i].socket;
        items[i] =
            (zmq_pollitem_t){socket ? zsock_resolve(socket) : NULL, -1, socket ? ZMQ_POLLIN : 0, 0};
    }
}

/* Reads one reply from link i's socket: its body when it is an MDP reply
 * from service (and, with request_id, a chuang Reply of that id, returned
 * unpacked in *reply_p, caller owns), else NULL (stale or malformed). */
static zmsg_t *s_receive(client_t *self, size_t i, const char *service, const char *request_id,
                         Chuang__Reply **reply_p)
{
    zmsg_t *reply = zmsg_recv(self->links[i].socket);
    if (!reply)
        return NULL;
    zframe_t *empty = zmsg_pop(reply);
    char *header = zmsg_popstr(reply);
    char *from = zmsg_popstr(reply);
    bool valid = empty && zframe_size(empty) == 0 && header && streq(header, MDP_CLIENT) && from &&
                 streq(from, service) && zmsg_size(reply) > 0;
    zframe_destroy(&empty);
    zstr_free(&header);
    zstr_free(&from);
    if (valid && request_id) {
        zframe_t *first = zmsg_first(reply);
        Chuang__Reply *unpacked =
            chuang__reply__unpack(NULL, zframe_size(first), zframe_data(first));
        valid = unpacked && streq(unpacked->request_id, request_id);
        if (valid)
            *reply_p = unpacked;
        else
            chuang__reply__free_unpacked(unpacked, NULL);
    }
    if (valid)
        return reply;
    log_debug("stale or malformed reply dropped", "service=%s", service);
    zmsg_destroy(&reply);
    return NULL;
}

/* Sends body (not taken) to service and returns the reply body, or NULL when
 * the deadline (zclock_mono ms) passes first. With request_id, a reply that is not a chuang Reply
 * of that id is dropped, and the matching one is also returned unpacked in *reply_p (caller owns).
 */
static zmsg_t *s_exchange(client_t *self, const char *service, zmsg_t *body, int64_t deadline,
                          const char *request_id, Chuang__Reply **reply_p)
{
    if (!self->connected)
        s_connect_all(self);
    while (zclock_mono() < deadline) {
        int64_t attempt_end = zclock_mono() + self->attempt_ms;
        if (attempt_end > deadline)
            attempt_end = deadline + DEADLINE_GRACE_MS;
        int target = s_writable(self, attempt_end);
        if (target < 0)
            break;
        zmsg_t *request = zmsg_dup(body);
        zmsg_pushstr(request, service);
        zmsg_pushstr(request, MDP_CLIENT);
        zmsg_pushmem(request, NULL, 0);
        if (zmsg_send(&request, self->links[target].socket) != 0) {
            zmsg_destroy(&request);
            self->current = ((size_t)target + 1) % self->count;
            continue;
        }
        zmq_pollitem_t items[self->count];
        s_poll_items(self, items);
        while (true) {
            int64_t left = attempt_end - zclock_mono();
            if (left <= 0)
                break;
            int rc = zmq_poll(items, (int)self->count, left);
            if (rc < 0 && zmq_errno() == EINTR)
                continue;
            if (rc <= 0)
                break;
            for (size_t i = 0; i < self->count; i++) {
                if (!(items[i].revents & ZMQ_POLLIN))
                    continue;
                zmsg_t *reply = s_receive(self, i, service, request_id, reply_p);
                if (reply) {
                    self->current = i;
                    return reply;
                }
            }
        }
        log_info("no reply in time; retrying on the next broker", "service=%s endpoint=%s", service,
                 self->links[target].endpoint);
        self->current = ((size_t)target + 1) % self->count;
    }
    return NULL;
}

/* A reply made here rather than received; caller owns. */
static Chuang__Reply *s_local_reply(const char *request_id, Chuang__Status status,
                                    const char *message, const char *detail)
{
    Chuang__Reply reply = CHUANG__REPLY__INIT;
    reply.request_id = (char *)request_id;
    reply.status = status;
    reply.message = (char *)message;
    reply.detail = (char *)detail;
    uint8_t buffer[1024];
    size_t size = chuang__reply__pack(&reply, buffer);
    return chuang__reply__unpack(NULL, size, buffer);
}

Chuang__Reply *client_call_packed(client_t *self, const char *service, const char *method,
                                  const uint8_t *input, size_t size,
                                  const client_options_t *options)
{
    client_options_t none = {0};
    if (!options)
        options = &none;
    int timeout_ms = options->timeout_ms > 0 ? options->timeout_ms : self->call_ms;
    /* The request id also serves as the key and the trace id when the
     * caller gives none: it is unique to this call and its retries. */
    zuuid_t *id = zuuid_new();
    const char *request_id = zuuid_str(id);

    size_t nroles = zlist_size(self->roles);
    char **roles = calloc(nroles + 1, sizeof *roles);
    size_t i = 0;
    for (char *role = zlist_first(self->roles); role; role = zlist_next(self->roles))
        roles[i++] = role;

    Chuang__RequestHeader header = CHUANG__REQUEST_HEADER__INIT;
    header.request_id = (char *)request_id;
    header.idempotency_key =
        (char *)(options->idempotency_key ? options->idempotency_key : request_id);
    header.agency = self->agency ? self->agency : "";
    header.actor_id = self->actor ? self->actor : "";
    header.actor_id_number = self->person_id_number ? self->person_id_number : "";
    header.n_roles = nroles;
    header.roles = roles;
    header.deadline_ms = zclock_time() + timeout_ms;
    header.trace_id = (char *)(options->trace_id ? options->trace_id : request_id);
    header.method = (char *)method;
    Chuang__Request request = CHUANG__REQUEST__INIT;
    request.header = &header;
    request.payload.data = (uint8_t *)input;
    request.payload.len = size;

    zframe_t *frame = zframe_new(NULL, chuang__request__get_packed_size(&request));
    chuang__request__pack(&request, zframe_data(frame));
    zmsg_t *body = zmsg_new();
    zmsg_append(body, &frame);

    /* A service that answers UNAVAILABLE (its database is down, say) applied
     * nothing: the same request is sent again, after a growing pause, while
     * the deadline allows. */
    int64_t deadline = zclock_mono() + timeout_ms;
    Chuang__Reply *reply = NULL;
    zmsg_t *answer = NULL;
    /* A broker that answers RESOURCE_EXHAUSTED with a retry-after (this
     * key's rate is spent) is asked again after that time, the same way. */
    for (int64_t pause = 100;;) {
        answer = s_exchange(self, service, body, deadline, request_id, &reply);
        if (!answer)
            break;
        int64_t wait = pause < 2000 ? pause : 2000;
        bool limited =
            reply->status == CHUANG__STATUS__RESOURCE_EXHAUSTED && reply->retry_after_ms > 0;
        if (limited)
            wait = reply->retry_after_ms;
        if ((reply->status != CHUANG__STATUS__UNAVAILABLE && !limited) ||
            zclock_mono() + wait >= deadline)
            break;
        log_info(limited ? "rate limited; retrying after the time given"
                         : "service unavailable; retrying",
                 "service=%s method=%s message=\"%s\" wait_ms=%" PRId64, service, method,
                 reply->message, wait);
        chuang__reply__free_unpacked(reply, NULL);
        reply = NULL;
        zmsg_destroy(&answer);
        zclock_sleep((int)wait);
        if (!limited)
            pause *= 2; /* a rate limit is kept, not backed off from */
    }
    if (!answer)
        reply = s_local_reply(request_id, CHUANG__STATUS__DEADLINE_EXCEEDED,
                              "no reply before the deadline",
                              "No broker answered in time. The request may or may not have been "
                              "applied; retry it with the same idempotency key.");
    zmsg_destroy(&answer);
    zmsg_destroy(&body);
    free(roles);
    zuuid_destroy(&id);
    return reply;
}

Chuang__Reply *client_call(client_t *self, const char *service, const char *method,
                           const ProtobufCMessage *input, const client_options_t *options)
{
    size_t size = protobuf_c_message_get_packed_size(input);
    uint8_t *packed = malloc(size ? size : 1);
    if (!packed)
        return NULL;
    protobuf_c_message_pack(input, packed);
    Chuang__Reply *reply = client_call_packed(self, service, method, packed, size, options);
    free(packed);
    return reply;
}

static bool s_all_connected(client_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        if (self->links[i].socket && !(zsock_events(self->links[i].socket) & ZMQ_POLLOUT))
            return false;
    return true;
}

int client_service_exists(client_t *self, const char *service)
{
    if (!self->connected)
        s_connect_all(self);
    /* Every broker connected by then is asked at once (one that is still
     * connecting gets a moment); a dead one is not waited for. */
    int64_t end = zclock_mono() + self->attempt_ms;
    if (s_writable(self, end) < 0)
        return -1;
    for (int64_t grace = zclock_mono() + 200; zclock_mono() < grace && !s_all_connected(self);)
        zclock_sleep(10);
    bool asked[self->count];
    int pending = 0;
    for (size_t i = 0; i < self->count; i++) {
        zsock_t *socket = self->links[i].socket;
        asked[i] = socket && (zsock_events(socket) & ZMQ_POLLOUT) &&
                   zsock_send(socket, "zsss", MDP_CLIENT, "mmi.service", service) == 0;
        pending += asked[i];
    }
    int replied = 0, answered = 0;
    bool found = false;
    zmq_pollitem_t items[self->count];
    s_poll_items(self, items);
    while (!found && replied < pending) {
        int64_t left = end - zclock_mono();
        if (left <= 0)
            break;
        int rc = zmq_poll(items, (int)self->count, left);
        if (rc < 0 && zmq_errno() == EINTR)
            continue;
        if (rc <= 0)
            break;
        for (size_t i = 0; i < self->count; i++) {
            if (!(items[i].revents & ZMQ_POLLIN))
                continue;
            zmsg_t *reply = s_receive(self, i, "mmi.service", NULL, NULL);
            if (!reply || !asked[i]) {
                zmsg_destroy(&reply);
                continue;
            }
            asked[i] = false;
            replied++;
            char *code = zmsg_popstr(reply);
            /* 200 or 404 answer the question; 429 (too many asked) does not. */
            answered += code && (streq(code, "200") || streq(code, "404"));
            found = found || (code && streq(code, "200"));
            zstr_free(&code);
            zmsg_destroy(&reply);
        }
    }
    return found ? 1 : answered ? 0 : -1;
}
