/*
 * broker.c - the Majordomo broker; see broker.h for what it promises.
 *
 * State: a table of services by name, each with a FIFO of queued requests and
 * a list of waiting workers in the order they became free (the head has waited
 * longest, so it is the least busy); a table of workers by their ROUTER
 * identity. A worker is either waiting (on its service's list) or busy with
 * one request. Every message from a worker pushes its expiry forward; waiting
 * workers are sent heartbeats. A busy worker that died is forgotten once the
 * request it held is past its deadline and a liveness period more.
 *
 * Every incoming message is checked frame by frame; anything that is not
 * MDP/0.1 is dropped with a log line naming the peer and the reason, and the
 * broker goes on serving. The socket is ROUTER_MANDATORY: a reply to a peer
 * that has gone is reported by libzmq and logged, not silently lost.
 *
 * Per message the broker does only what routing needs: workers are found by
 * their routing frame's bytes (a peer's hex name is made only for a log
 * line), a request's body is sent by reference from its queue entry (the
 * frames are shared, not copied), and of a chuang envelope only the header
 * is decoded and rewritten (envelope.h); the payload goes on as it came.
 */
#include "broker.h"
#include "chuang.pb-c.h"
#include "envelope.h"
#include "limiter.h"
#include "logger.h"
#include "mdp.h"
#include "principals.h"

#include <czmq.h>

#define SERVICE_NAME_MAX 255
#define ROUTING_ID_MAX   255 /* bytes of a ZeroMQ routing id at most */

typedef struct {
    char *name;
    zlistx_t *requests; /* request_t *, owned, oldest first */
    zlistx_t *waiting;  /* worker_t *, borrowed, longest waiting first */
    size_t workers;     /* registered workers, waiting or busy */
} service_t;

typedef struct {
    char *id;           /* identity as hex, for log lines */
    zframe_t *identity; /* ROUTER routing frame, key of broker->workers */
    service_t *service;
    int64_t expiry;     /* forgotten after this (zclock_mono ms) */
    void *waiting_slot; /* handle in service->waiting, or NULL when busy */
} worker_t;

typedef struct {
    zframe_t *client; /* ROUTER routing frame of the client */
    zmsg_t *body;     /* the frames after the service name */
    char *request_id; /* from the chuang envelope, "" for other clients */
    size_t bytes;     /* size of body, counted in broker->queued_bytes */
    int64_t expiry;   /* answered UNAVAILABLE after this (zclock_mono ms) */
} request_t;

struct _broker_t {
    zsock_t *socket;
    zactor_t *monitor;
    zcertstore_t *worker_keys; /* keys allowed to serve, or NULL: any admitted peer */
    principals_t *principals;  /* who each client key is; NULL on a plain broker */
    limiter_t *limiter;        /* request rates per client key */
    long rates[5];             /* requests a second per kind, as s_kinds; 0: none */
    bool plain;                /* no keys: the envelope's claims are all there is */
    zhashx_t *services;        /* name -> service_t, owned */
    zhashx_t *workers;         /* routing frame -> worker_t, owned */
    int heartbeat_ms;
    int liveness;
    size_t queue_max;       /* requests queued per service at most */
    size_t queue_max_bytes; /* bytes queued over all services at most */
    size_t queued_bytes;
    int wait_default_ms;
    int wait_max_ms;
    int64_t heartbeat_at;   /* next heartbeat round (zclock_mono ms) */
    size_t services_max;    /* service entries kept at most */
    uint64_t dropped;       /* messages dropped: peer gone or not reading */
    uint64_t refused;       /* requests refused for a full queue */
    uint64_t limited;       /* requests refused for a key's rate */
    int64_t drop_logged_at; /* when each was last logged (logger_due) */
    int64_t refusal_logged_at;
    int64_t limit_logged_at;
    int64_t expiry_at; /* no queued request expires before this */
};

static void s_request_destroy(request_t **self_p)
{
    if (!*self_p)
        return;
    request_t *self = *self_p;
    zframe_destroy(&self->client);
    zmsg_destroy(&self->body);
    free(self->request_id);
    free(self);
    *self_p = NULL;
}

static void s_request_destructor(void **item)
{
    s_request_destroy((request_t **)item);
}

static void s_service_destructor(void **item)
{
    service_t *self = *item;
    if (!self)
        return;
    zlistx_destroy(&self->requests);
    zlistx_destroy(&self->waiting);
    free(self->name);
    free(self);
    *item = NULL;
}

static void s_worker_destructor(void **item)
{
    worker_t *self = *item;
    if (!self)
        return;
    zframe_destroy(&self->identity);
    free(self->id);
    free(self);
    *item = NULL;
}

/* A peer's routing frame and, once a log line needs it, its hex name. */
typedef struct {
    zframe_t *routing;
    char id[2 * ROUTING_ID_MAX + 1];
} peer_t;

/* The peer's routing id as hex, made on first use. */
static const char *s_peer_id(peer_t *peer)
{
    if (!*peer->id) {
        size_t size = zframe_size(peer->routing);
        const byte *data = zframe_data(peer->routing);
        for (size_t i = 0; i < size && i < ROUTING_ID_MAX; i++)
            snprintf(peer->id + 2 * i, 3, "%02X", data[i]);
        if (!*peer->id)
            snprintf(peer->id, sizeof peer->id, "-");
    }
    return peer->id;
}

/* The workers table's key functions: a routing frame, by its bytes. */
static size_t s_routing_hash(const void *key)
{
    /* FNV-1a */
    size_t hash = 2166136261u;
    const byte *data = zframe_data((zframe_t *)key);
    for (size_t i = 0; i < zframe_size((zframe_t *)key); i++)
        hash = (hash ^ data[i]) * 16777619u;
    return hash;
}

static int s_routing_compare(const void *a, const void *b)
{
    size_t size_a = zframe_size((zframe_t *)a), size_b = zframe_size((zframe_t *)b);
    if (size_a != size_b)
        return size_a < size_b ? -1 : 1;
    return memcmp(zframe_data((zframe_t *)a), zframe_data((zframe_t *)b), size_a);
}

static void *s_routing_duplicate(const void *key)
{
    return zframe_dup((zframe_t *)key);
}

static void s_routing_destroy(void **key)
{
    zframe_destroy((zframe_t **)key);
}

/* Sends [routing][""][protocol][word][option][""][body...] to a peer
 * (option and the empty frame after it only when option is given) without
 * ever waiting: the socket's send timeout is 0, so a peer whose pipe is
 * full (it does not read) has the message dropped, as has a peer that has
 * gone; libzmq reports both on the routing frame, before anything is sent.
 * Neither option nor body is taken: their frames are sent by reference.
 * Drops are counted and logged at most once a second. Returns 0 or -1. */
static int s_send(broker_t *self, zframe_t *routing, const char *protocol, const char *word,
                  size_t word_size, zframe_t *option, zmsg_t *body)
{
    void *handle = zsock_resolve(self->socket);
    size_t frames = body ? zmsg_size(body) : 0;
    if (zmq_send(handle, zframe_data(routing), zframe_size(routing), ZMQ_SNDMORE) >= 0) {
        zmq_send(handle, "", 0, ZMQ_SNDMORE);
        zmq_send(handle, protocol, strlen(protocol), ZMQ_SNDMORE);
        zmq_send(handle, word, word_size, option || frames ? ZMQ_SNDMORE : 0);
        if (option) {
            zframe_send(&option, self->socket, ZFRAME_REUSE | ZFRAME_MORE);
            zmq_send(handle, "", 0, frames ? ZMQ_SNDMORE : 0);
        }
        size_t sent = 0;
        for (zframe_t *frame = body ? zmsg_first(body) : NULL; frame; frame = zmsg_next(body))
            zframe_send(&frame, self->socket, ZFRAME_REUSE | (++sent < frames ? ZFRAME_MORE : 0));
        return 0;
    }
    int error = zmq_errno();
    self->dropped++;
    if (logger_due(&self->drop_logged_at)) {
        peer_t peer = {.routing = routing};
        log_warn(error == EAGAIN ? "peer does not read; message dropped"
                                 : "peer has gone; message dropped",
                 "peer=%s error=\"%s\" dropped_total=%" PRIu64, s_peer_id(&peer),
                 zmq_strerror(error), self->dropped);
    }
    return -1;
}

/* Sends [client][""][MDPC01][service][body...] to a client; body is not
 * taken. */
static void s_send_to_client(broker_t *self, zframe_t *client, const char *service, zmsg_t *body)
{
    s_send(self, client, MDP_CLIENT, service, strlen(service), NULL, body);
}

/* Answers a client on the broker's own account with a chuang Reply. */
static void s_reply_status(broker_t *self, zframe_t *client, const char *service,
                           const char *request_id, Chuang__Status status, const char *message,
                           const char *detail, int64_t retry_after_ms)
{
    Chuang__Reply reply = CHUANG__REPLY__INIT;
    reply.request_id = (char *)request_id;
    reply.status = status;
    reply.message = (char *)message;
    reply.detail = (char *)detail;
    reply.retry_after_ms = retry_after_ms;
    size_t size = chuang__reply__get_packed_size(&reply);
    zframe_t *frame = zframe_new(NULL, size);
    chuang__reply__pack(&reply, zframe_data(frame));
    zmsg_t *body = zmsg_new();
    zmsg_append(body, &frame);
    s_send_to_client(self, client, service, body);
    zmsg_destroy(&body);
}

/* Sends [worker][""][MDPW01][command] to a worker, followed by [client][""]
 * [body...] when client is given; body is not taken. */
static int s_send_to_worker(broker_t *self, zframe_t *worker, const char *command, zframe_t *client,
                            zmsg_t *body)
{
    return s_send(self, worker, MDP_WORKER, command, 1, client, body);
}

/* Removes the request at the service queue's cursor. */
static void s_unqueue(broker_t *self, service_t *service)
{
    request_t *request = zlistx_handle_item(zlistx_cursor(service->requests));
    self->queued_bytes -= request->bytes;
    zlistx_delete(service->requests, zlistx_cursor(service->requests));
}

static service_t *s_service_require(broker_t *self, const char *name)
{
    service_t *service = zhashx_lookup(self->services, name);
    if (service)
        return service;
    service = calloc(1, sizeof *service);
    assert(service);
    service->name = strdup(name);
    service->requests = zlistx_new();
    zlistx_set_destructor(service->requests, s_request_destructor);
    service->waiting = zlistx_new();
    zhashx_insert(self->services, name, service);
    log_debug("service created", "service=%s", name);
    return service;
}

/* Forgets a service that has no worker and nothing queued, so that
 * requests to names nobody serves leave nothing behind. */
static void s_service_release(broker_t *self, service_t *service)
{
    if (service->workers == 0 && zlistx_size(service->requests) == 0 &&
        zlistx_size(service->waiting) == 0)
        zhashx_delete(self->services, service->name);
}

static void s_worker_unwait(worker_t *worker)
{
    if (worker->waiting_slot) {
        zlistx_delete(worker->service->waiting, worker->waiting_slot);
        worker->waiting_slot = NULL;
    }
}

/* Forgets a worker; tells it so first when disconnect is true. */
static void s_worker_delete(broker_t *self, worker_t *worker, bool disconnect, const char *why)
{
    if (disconnect)
        s_send_to_worker(self, worker->identity, MDP_DISCONNECT, NULL, NULL);
    log_info("worker removed", "worker=%s service=%s reason=\"%s\"", worker->id,
             worker->service ? worker->service->name : "-", why);
    service_t *service = worker->service;
    if (service) {
        s_worker_unwait(worker);
        service->workers--;
    }
    zhashx_delete(self->workers, worker->identity);
    if (service)
        s_service_release(self, service);
}

/* Gives queued requests to waiting workers, longest waiting first. A worker
 * that turns out to be gone is forgotten and the request stays queued. */
static void s_dispatch(broker_t *self, service_t *service)
{
    while (zlistx_size(service->requests) > 0 && zlistx_size(service->waiting) > 0) {
        worker_t *worker = zlistx_first(service->waiting);
        s_worker_unwait(worker);
        request_t *request = zlistx_first(service->requests);
        if (s_send_to_worker(self, worker->identity, MDP_REQUEST, request->client, request->body) !=
            0) {
            s_worker_delete(self, worker, false, "unreachable");
            continue;
        }
        /* A busy worker lives at least as long as the request it holds. */
        int64_t hold = request->expiry + (int64_t)self->heartbeat_ms * self->liveness;
        if (worker->expiry < hold)
            worker->expiry = hold;
        s_unqueue(self, service);
    }
}

/* Reads the chuang envelope, if the body is one, for its id and deadline,
 * checks its claims against the sender's principal (key: the sender's
 * authenticated public key, NULL on a plain broker) and writes the stamped
 * header back into the body. Returns OK, or the status to answer with, why
 * and detail written, when a claim is refused or the body is not what it
 * seems; the request is then answered and dropped. A body that is not a
 * chuang envelope (another MDP client's) goes on as it is. */
static Chuang__Status s_request_envelope(broker_t *self, request_t *request, const char *key,
                                         int64_t now, char *why, size_t why_size, char *detail,
                                         size_t detail_size)
{
    int64_t wait = self->wait_default_ms;
    Chuang__Status status = CHUANG__STATUS__OK;
    zframe_t *body = zmsg_size(request->body) == 1 ? zmsg_first(request->body) : NULL;
    Chuang__RequestHeader *header = NULL;
    int found = body ? envelope_header(zframe_data(body), zframe_size(body), &header) : 0;
    if (found == 1) {
        request->request_id = strdup(header->request_id);
        if (header->deadline_ms > 0)
            wait = header->deadline_ms - zclock_time();
        /* The stamp is a copy, so the unpacked header frees as it came. */
        Chuang__RequestHeader stamp = *header;
        Chuang__Principal principal;
        if (self->plain)
            principals_stamp_plain(&stamp, &principal);
        else if (!principals_stamp(self->principals, key, &stamp, &principal, why, why_size, detail,
                                   detail_size))
            status = CHUANG__STATUS__PERMISSION_DENIED;
        zframe_t *stamped = status == CHUANG__STATUS__OK
                                ? envelope_restamp(zframe_data(body), zframe_size(body), &stamp)
                                : NULL;
        if (stamped) {
            zmsg_remove(request->body, body);
            zframe_destroy(&body);
            zmsg_append(request->body, &stamped);
        } else if (status == CHUANG__STATUS__OK)
            status = CHUANG__STATUS__UNAVAILABLE; /* out of memory */
    } else if (body) {
        /* Belt and braces: what goes on unstamped must be no envelope to a
         * worker's decoder either, or the sender's own principal would. */
        Chuang__Request *full = chuang__request__unpack(NULL, zframe_size(body), zframe_data(body));
        if (full && full->header) {
            status = CHUANG__STATUS__INVALID_ARGUMENT;
            snprintf(why, why_size, "malformed request envelope");
            snprintf(detail, detail_size, "The request body is not a well-formed chuang.Request.");
        }
        chuang__request__free_unpacked(full, NULL);
    }
    if (status == CHUANG__STATUS__UNAVAILABLE) {
        snprintf(why, why_size, "broker out of memory");
        snprintf(detail, detail_size, "The broker could not hold the request. Retry later.");
    }
    if (!request->request_id)
        request->request_id = strdup("");
    chuang__request_header__free_unpacked(header, NULL);
    if (wait > self->wait_max_ms)
        wait = self->wait_max_ms;
    request->expiry = now + (wait > 0 ? wait : 0);
    return status;
}

/* The kinds of principal, in the order of broker->rates; "" is a key the
 * table does not list. */
static const char *const s_kinds[] = {"operator", "service", "department", "gateway", "", NULL};
static const char *const s_rate_settings[] = {"broker.rate_operator", "broker.rate_service",
                                              "broker.rate_department", "broker.rate_gateway",
                                              "broker.rate_unlisted"};
static const long s_rate_defaults[] = {100, 2000, 200, 2000, 20};

/* 0 when the sender with key may send now, else the milliseconds until it
 * may: its own rate from the table, or its kind's. */
static int64_t s_rate_wait(broker_t *self, const char *key, int64_t now)
{
    if (self->plain || !key)
        return 0;
    long rate;
    const char *kind = principals_kind(self->principals, key, &rate);
    for (int i = 0; rate < 0 && s_kinds[i]; i++)
        if (streq(kind, s_kinds[i]))
            rate = self->rates[i];
    return limiter_take(self->limiter, key, rate, now);
}

/* Answers an MMI request (RFC 8) itself: mmi.service 200 or 404, 501 for
 * any other. It counts against the sender's rate like any request, so a
 * peer flooding them is told 429 (too many) instead. */
static void s_mmi(broker_t *self, zframe_t *client, const char *key, const char *service_name,
                  zmsg_t **body_p)
{
    const char *code = "501";
    if (s_rate_wait(self, key, zclock_mono()) > 0) {
        self->limited++;
        code = "429";
    } else if (streq(service_name, "mmi.service")) {
        char *asked = zmsg_popstr(*body_p);
        service_t *service = asked ? zhashx_lookup(self->services, asked) : NULL;
        code = service && service->workers > 0 ? "200" : "404";
        zstr_free(&asked);
    }
    zmsg_destroy(body_p);
    zmsg_t *reply = zmsg_new();
    zmsg_addstr(reply, code);
    s_send_to_client(self, client, service_name, reply);
    zmsg_destroy(&reply);
}

/* [empty][MDPC01][service][body...] from a client, header frames removed. */
static void s_client_message(broker_t *self, peer_t *peer, const char *key, zmsg_t *msg)
{
    char *service_name = zmsg_popstr(msg);
    if (!service_name || !*service_name || strlen(service_name) > SERVICE_NAME_MAX ||
        zmsg_size(msg) == 0) {
        log_warn("malformed client request dropped", "peer=%s reason=\"%s\"", s_peer_id(peer),
                 !service_name || !*service_name ? "no service name"
                 : zmsg_size(msg) == 0           ? "no body"
                                                 : "service name too long");
        zstr_free(&service_name);
        zmsg_destroy(&msg);
        return;
    }
    if (strncmp(service_name, MDP_MMI_PREFIX, strlen(MDP_MMI_PREFIX)) == 0) {
        s_mmi(self, peer->routing, key, service_name, &msg);
        zstr_free(&service_name);
        return;
    }
    int64_t now = zclock_mono();
    request_t *request = calloc(1, sizeof *request);
    assert(request);
    request->client = zframe_dup(peer->routing);
    request->body = msg;
    char why[160], detail[160];
    Chuang__Status status =
        s_request_envelope(self, request, key, now, why, sizeof why, detail, sizeof detail);
    int64_t wait = s_rate_wait(self, key, now);
    if (wait > 0) {
        self->limited++;
        if (logger_due(&self->limit_logged_at))
            log_warn("rate limit exceeded; request refused",
                     "peer=%s service=%s retry_after_ms=%" PRId64 " limited_total=%" PRIu64,
                     s_peer_id(peer), service_name, wait, self->limited);
        s_reply_status(self, peer->routing, service_name, request->request_id,
                       CHUANG__STATUS__RESOURCE_EXHAUSTED, "rate limit exceeded",
                       "This key sends more requests than its rate allows. Retry after the "
                       "time given.",
                       wait);
        s_request_destroy(&request);
        zstr_free(&service_name);
        return;
    }
    if (status != CHUANG__STATUS__OK) {
        log_warn(status == CHUANG__STATUS__PERMISSION_DENIED ? "request refused: claim not held"
                                                             : "request refused",
                 "peer=%s service=%s request_id=%s reason=\"%s\"", s_peer_id(peer), service_name,
                 request->request_id, why);
        s_reply_status(self, peer->routing, service_name, request->request_id, status, why, detail,
                       0);
        s_request_destroy(&request);
        zstr_free(&service_name);
        return;
    }

    if (!zhashx_lookup(self->services, service_name) &&
        zhashx_size(self->services) >= self->services_max) {
        log_warn("too many services; request refused", "peer=%s services=%zu", s_peer_id(peer),
                 zhashx_size(self->services));
        s_reply_status(self, peer->routing, service_name, request->request_id,
                       CHUANG__STATUS__UNAVAILABLE, "no such service",
                       "The broker knows too many services to wait for another one.", 0);
        s_request_destroy(&request);
        zstr_free(&service_name);
        return;
    }
    service_t *service = s_service_require(self, service_name);
    request->bytes = zmsg_content_size(request->body);
    if (zlistx_size(service->requests) >= self->queue_max ||
        self->queued_bytes + request->bytes > self->queue_max_bytes) {
        self->refused++;
        if (logger_due(&self->refusal_logged_at))
            log_warn("queue full; request refused",
                     "service=%s queued=%zu queued_bytes=%zu refused_total=%" PRIu64, service_name,
                     zlistx_size(service->requests), self->queued_bytes, self->refused);
        s_reply_status(self, peer->routing, service_name, request->request_id,
                       CHUANG__STATUS__RESOURCE_EXHAUSTED, "service queue is full",
                       "Too many requests are waiting for this service. Retry later.", 0);
        s_request_destroy(&request);
        s_service_release(self, service);
    } else {
        if (request->expiry < self->expiry_at)
            self->expiry_at = request->expiry;
        self->queued_bytes += request->bytes;
        zlistx_add_end(service->requests, request);
        s_dispatch(self, service);
    }
    zstr_free(&service_name);
}

/* [empty][MDPW01][command][...] from a worker, header frames removed. */
static void s_worker_message(broker_t *self, peer_t *peer, zmsg_t *msg)
{
    zframe_t *command = zmsg_pop(msg);
    worker_t *worker = zhashx_lookup(self->workers, peer->routing);
    if (!command || zframe_size(command) != 1) {
        log_warn("malformed worker message dropped", "peer=%s reason=\"no command\"",
                 s_peer_id(peer));
        goto done;
    }
    char cmd = (char)zframe_data(command)[0];
    if (cmd == MDP_READY[0]) {
        char *name = zmsg_popstr(msg);
        if (worker || !name || !*name || strlen(name) > SERVICE_NAME_MAX ||
            strncmp(name, MDP_MMI_PREFIX, strlen(MDP_MMI_PREFIX)) == 0) {
            log_warn("invalid READY; worker disconnected", "peer=%s service=%s", s_peer_id(peer),
                     name ? name : "-");
            if (worker) {
                s_worker_delete(self, worker, true, "READY sent twice");
            } else {
                s_send_to_worker(self, peer->routing, MDP_DISCONNECT, NULL, NULL);
            }
            zstr_free(&name);
            goto done;
        }
        /* The ZAP handler's user id is the peer's public key; libzmq puts it on
         * the frames the peer sent, not on the routing frame ROUTER adds. */
        const char *key = self->worker_keys ? zframe_meta(command, "User-Id") : NULL;
        if (self->worker_keys && (!key || !zcertstore_lookup(self->worker_keys, key))) {
            log_warn("READY refused: this key may not serve", "peer=%s service=%s key=%s",
                     s_peer_id(peer), name, key ? key : "-");
            s_send_to_worker(self, peer->routing, MDP_DISCONNECT, NULL, NULL);
            zstr_free(&name);
            goto done;
        }
        worker = calloc(1, sizeof *worker);
        assert(worker);
        worker->id = strdup(s_peer_id(peer));
        worker->identity = zframe_dup(peer->routing);
        worker->service = s_service_require(self, name);
        worker->service->workers++;
        zhashx_insert(self->workers, peer->routing, worker);
        log_info("worker ready", "worker=%s service=%s", s_peer_id(peer), name);
        zstr_free(&name);
    } else if (!worker) {
        /* RFC 7: a peer that is not a known worker is told to reconnect. */
        if (cmd != MDP_DISCONNECT[0]) {
            s_send_to_worker(self, peer->routing, MDP_DISCONNECT, NULL, NULL);
        }
        goto done;
    } else if (cmd == MDP_REPLY[0]) {
        zframe_t *client = zmsg_pop(msg);
        zframe_t *empty = zmsg_pop(msg);
        if (!client || !empty || zframe_size(empty) != 0 || zmsg_size(msg) == 0) {
            log_warn("malformed REPLY dropped", "worker=%s", s_peer_id(peer));
        } else if (worker->waiting_slot) {
            /* RFC 7: an invalid message gets the worker disconnected. */
            log_warn("REPLY from a worker that holds no request; worker disconnected", "worker=%s",
                     s_peer_id(peer));
            zframe_destroy(&client);
            zframe_destroy(&empty);
            s_worker_delete(self, worker, true, "REPLY without a request");
            goto done;
        } else {
            s_send_to_client(self, client, worker->service->name, msg);
        }
        zframe_destroy(&client);
        zframe_destroy(&empty);
    } else if (cmd == MDP_HEARTBEAT[0]) {
        /* Only the expiry below. */
    } else if (cmd == MDP_DISCONNECT[0]) {
        s_worker_delete(self, worker, false, "worker disconnected");
        goto done;
    } else {
        log_warn("unknown worker command; worker disconnected", "worker=%s command=%d",
                 s_peer_id(peer), cmd);
        s_worker_delete(self, worker, true, "unknown command");
        goto done;
    }

    /* Any message shows the worker alive (RFC 7), busy or not; a worker that
     * said READY or REPLY is free and waits for the next request. */
    int64_t alive_until = zclock_mono() + (int64_t)self->heartbeat_ms * self->liveness;
    if (worker->expiry < alive_until)
        worker->expiry = alive_until;
    if (cmd != MDP_HEARTBEAT[0] && !worker->waiting_slot) {
        worker->waiting_slot = zlistx_add_end(worker->service->waiting, worker);
        s_dispatch(self, worker->service);
    }
done:
    zframe_destroy(&command);
    zmsg_destroy(&msg);
}

/* Answers every queued request whose deadline has passed with UNAVAILABLE;
 * sets expiry_at to the earliest deadline still queued. */
static void s_expire_requests(broker_t *self, int64_t now)
{
    self->expiry_at = INT64_MAX;
    for (service_t *service = zhashx_first(self->services); service;
         service = zhashx_next(self->services)) {
        for (request_t *request = zlistx_first(service->requests); request;
             request = zlistx_next(service->requests)) {
            if (request->expiry > now) {
                if (request->expiry < self->expiry_at)
                    self->expiry_at = request->expiry;
                continue;
            }
            log_warn("request expired in queue", "service=%s request_id=%s workers=%zu",
                     service->name, request->request_id, service->workers);
            char message[SERVICE_NAME_MAX + 64];
            snprintf(message, sizeof message, "no worker for service %s before the deadline",
                     service->name);
            s_reply_status(self, request->client, service->name, request->request_id,
                           CHUANG__STATUS__UNAVAILABLE, message,
                           service->workers == 0
                               ? "No worker of this service is running. Start one, or check "
                                 "the service name."
                               : "Every worker of this service was busy until the deadline. "
                                 "Retry later or start more workers.",
                           0);
            /* zlistx moves the cursor back, so the loop goes on with the next. */
            s_unqueue(self, service);
        }
    }
    /* Names nobody serves are forgotten once nothing waits for them. */
    zlistx_t *idle = zlistx_new();
    for (service_t *service = zhashx_first(self->services); service;
         service = zhashx_next(self->services))
        if (service->workers == 0 && zlistx_size(service->requests) == 0)
            zlistx_add_end(idle, service);
    for (service_t *service = zlistx_first(idle); service; service = zlistx_next(idle))
        s_service_release(self, service);
    zlistx_destroy(&idle);
}

/* Forgets silent workers and sends heartbeats to the waiting ones. */
static void s_heartbeat(broker_t *self, int64_t now)
{
    zlistx_t *expired = zlistx_new();
    for (worker_t *worker = zhashx_first(self->workers); worker;
         worker = zhashx_next(self->workers))
        if (worker->expiry < now)
            zlistx_add_end(expired, worker);
    for (worker_t *worker = zlistx_first(expired); worker; worker = zlistx_next(expired))
        s_worker_delete(self, worker, false, "no heartbeat");
    zlistx_destroy(&expired);

    /* RFC 7: the broker heartbeats every worker, busy or waiting. */
    for (worker_t *worker = zhashx_first(self->workers); worker;
         worker = zhashx_next(self->workers))
        s_send_to_worker(self, worker->identity, MDP_HEARTBEAT, NULL, NULL);
    if (self->principals)
        principals_reload(self->principals);
    limiter_prune(self->limiter, now);
    self->heartbeat_at = now + self->heartbeat_ms;
}

/* Milliseconds until a queued request expires or a heartbeat is due. */
static int s_next_timeout(broker_t *self)
{
    int64_t next = self->heartbeat_at < self->expiry_at ? self->heartbeat_at : self->expiry_at;
    int64_t now = zclock_mono();
    return next > now ? (int)(next - now) : 0;
}

static void s_monitor_event(broker_t *self)
{
    zmsg_t *event = zmsg_recv(self->monitor);
    char *name = zmsg_popstr(event);
    char *value = zmsg_popstr(event);
    char *endpoint = zmsg_popstr(event);
    if (name && strncmp(name, "HANDSHAKE_FAILED", 16) == 0)
        log_warn("peer refused at handshake", "event=%s endpoint=%s", name,
                 endpoint ? endpoint : "-");
    else if (name)
        /* Also how a peer dropped for an oversized or malformed frame shows. */
        log_info("peer connection closed", "event=%s endpoint=%s", name, endpoint ? endpoint : "-");
    zstr_free(&name);
    zstr_free(&value);
    zstr_free(&endpoint);
    zmsg_destroy(&event);
}

static void s_message(broker_t *self)
{
    zmsg_t *msg = zmsg_recv(self->socket);
    if (!msg)
        return;
    zframe_t *sender = zmsg_pop(msg);
    peer_t peer = {.routing = sender};
    zframe_t *empty = zmsg_pop(msg);
    char *header = zmsg_popstr(msg);
    if (!empty || zframe_size(empty) != 0 || !header) {
        log_warn("malformed message dropped", "peer=%s reason=\"no empty delimiter frame\"",
                 s_peer_id(&peer));
        zmsg_destroy(&msg);
    } else if (streq(header, MDP_CLIENT)) {
        /* The ZAP user id (the sender's key) is on the frames it sent. */
        s_client_message(self, &peer, zframe_meta(empty, "User-Id"), msg);
    } else if (streq(header, MDP_WORKER)) {
        s_worker_message(self, &peer, msg);
    } else {
        log_warn("malformed message dropped", "peer=%s reason=\"unknown protocol header\"",
                 s_peer_id(&peer));
        zmsg_destroy(&msg);
    }
    zstr_free(&header);
    zframe_destroy(&empty);
    zframe_destroy(&sender);
}

broker_t *broker_new(config_t *config, security_t *security)
{
    broker_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->heartbeat_ms = (int)config_int(config, "broker.heartbeat_ms", MDP_HEARTBEAT_MS_DEFAULT);
    self->liveness = (int)config_int(config, "broker.liveness", MDP_LIVENESS_DEFAULT);
    self->queue_max = (size_t)config_int(config, "broker.queue_max", 10000);
    self->queue_max_bytes = (size_t)config_int(config, "broker.queue_max_bytes", 256L << 20);
    self->wait_default_ms = (int)config_int(config, "broker.wait_default_ms", 5000);
    self->wait_max_ms = (int)config_int(config, "broker.wait_max_ms", 60000);
    self->services_max = (size_t)config_int(config, "broker.services_max", 10000);
    const char *endpoint = config_str(config, "broker.endpoint", "tcp://127.0.0.1:5555");

    self->services = zhashx_new();
    zhashx_set_destructor(self->services, s_service_destructor);
    self->workers = zhashx_new();
    zhashx_set_destructor(self->workers, s_worker_destructor);
    zhashx_set_key_hasher(self->workers, s_routing_hash);
    zhashx_set_key_comparator(self->workers, s_routing_compare);
    zhashx_set_key_duplicator(self->workers, s_routing_duplicate);
    zhashx_set_key_destructor(self->workers, s_routing_destroy);

    self->socket = zsock_new(ZMQ_ROUTER);
    zsock_set_router_mandatory(self->socket, 1);
    zsock_set_maxmsgsize(self->socket, (int)config_int(config, "broker.max_msg_bytes", 1 << 20));
    zsock_set_linger(self->socket, 0);
    /* Never wait on a peer: a full pipe drops the message (s_send). */
    zsock_set_sndtimeo(self->socket, 0);
    if (security_server(security, self->socket) != 0)
        goto fail;
    const char *worker_dir = config_str(config, "security.worker_dir", NULL);
    if (worker_dir && !security_plain(security))
        self->worker_keys = zcertstore_new(worker_dir);
    self->plain = security_plain(security);
    self->limiter = limiter_new((int)config_int(config, "broker.rate_burst_seconds", 2));
    for (int i = 0; s_kinds[i]; i++)
        self->rates[i] = config_int(config, s_rate_settings[i], s_rate_defaults[i]);
    const char *principals = config_str(config, "security.principals", NULL);
    if (!self->plain && principals) {
        self->principals = principals_new(principals);
        if (!self->principals)
            goto fail;
    } else if (!self->plain) {
        log_warn("security.principals is not set: every client holds no agency and no role", NULL);
    } else {
        log_warn("plain broker: requests carry the agency and roles their senders claim",
                 "setting=security.plain");
    }

    self->monitor = zactor_new(zmonitor, self->socket);
    zstr_sendx(self->monitor, "LISTEN", "HANDSHAKE_FAILED_NO_DETAIL", "HANDSHAKE_FAILED_PROTOCOL",
               "HANDSHAKE_FAILED_AUTH", "DISCONNECTED", NULL);
    zstr_send(self->monitor, "START");
    zsock_wait(self->monitor);

    if (zsock_bind(self->socket, "%s", endpoint) < 0) {
        log_error("cannot bind", "endpoint=%s error=\"%s\"", endpoint, zmq_strerror(zmq_errno()));
        goto fail;
    }
    self->heartbeat_at = zclock_mono() + self->heartbeat_ms;
    self->expiry_at = INT64_MAX;
    log_info("broker listening", "endpoint=%s security=%s heartbeat_ms=%d", endpoint,
             security_plain(security) ? "plain" : "curve", self->heartbeat_ms);
    return self;

fail:
    broker_destroy(&self);
    return NULL;
}

void broker_destroy(broker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    broker_t *self = *self_p;
    zactor_destroy(&self->monitor);
    zsock_destroy(&self->socket);
    zcertstore_destroy(&self->worker_keys);
    principals_destroy(&self->principals);
    limiter_destroy(&self->limiter);
    zhashx_destroy(&self->workers);
    zhashx_destroy(&self->services);
    free(self);
    *self_p = NULL;
}

void broker_run(broker_t *self)
{
    zpoller_t *poller = zpoller_new(self->socket, self->monitor, NULL);
    while (!zsys_interrupted) {
        void *which = zpoller_wait(poller, s_next_timeout(self));
        if (which == self->socket) {
            /* Take what has arrived, up to a bound, before polling again. */
            int taken = 0;
            do
                s_message(self);
            while (++taken < 64 && (zsock_events(self->socket) & ZMQ_POLLIN));
        } else if (which == self->monitor)
            s_monitor_event(self);
        else if (zpoller_terminated(poller))
            break;
        int64_t now = zclock_mono();
        if (now >= self->expiry_at)
            s_expire_requests(self, now);
        if (now >= self->heartbeat_at)
            s_heartbeat(self, now);
    }
    zpoller_destroy(&poller);
    log_info("broker stopped", NULL);
}
