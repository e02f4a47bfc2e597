/*
 * client.h - calling a chuang service through the brokers.
 *
 * A client knows one or more brokers. A call wraps the method's input message
 * in the chuang envelope (request id, idempotency key, agency, actor, roles,
 * deadline, trace id), sends it as an MDP/0.1 client request and waits for
 * the reply. It is connected to every broker at once and sends only to one
 * that is connected, so a dead broker costs a call nothing. When no reply
 * comes within the attempt timeout it sends the same request, with the same
 * idempotency key, to the next broker (the Lazy Pirate pattern with
 * failover), and keeps to that one, until the call's deadline. A worker
 * applies a key once, so a retry never applies twice.
 * A reply UNAVAILABLE is retried after a growing pause, and one
 * RESOURCE_EXHAUSTED with a retry-after (a rate limit) after that time, while
 * the deadline allows; past it, the reply is returned as it came.
 *
 * A client is used by one thread at a time.
 */
#ifndef CHUANG_CLIENT_H
#define CHUANG_CLIENT_H

#include "chuang.pb-c.h"
#include "security.h"

typedef struct _client_t client_t;

/* brokers is a comma-separated list of endpoints. Borrows security, which
 * must outlive the client. Returns NULL when brokers is empty. */
client_t *client_new(const char *brokers, security_t *security);

/* Closes the socket, frees and nulls *self_p; safe when NULL. */
void client_destroy(client_t **self_p);

/* Sets what every request's envelope says of who asks: the agency code, the
 * actor id and a comma-separated list of roles (each may be NULL). */
void client_set_identity(client_t *self, const char *agency, const char *actor, const char *roles);

/* Sets the resident ID number of the person the actor is, as a gateway
 * that verified it claims it (NULL for none). Brokers refuse it from any
 * other sender. */
void client_set_person(client_t *self, const char *id_number);

/* Sets how long one attempt waits for a reply before the client tries the
 * next broker (default 3000 ms), and the default deadline of a call when it
 * gives none (default 10000 ms). */
void client_set_timeouts(client_t *self, int attempt_ms, int call_ms);

typedef struct {
    const char *idempotency_key; /* NULL: a fresh key for this call */
    const char *trace_id;        /* NULL: a fresh trace id */
    int timeout_ms;              /* 0: the client's default */
} client_options_t;

/* Calls service's method with input (packed by the caller's descriptor).
 * Always returns a reply, which the caller owns and frees with
 * chuang__reply__free_unpacked(reply, NULL): the service's, the broker's, or
 * one made here with DEADLINE_EXCEEDED when nothing answered in time. NULL
 * only when memory runs out. options may be NULL. */
Chuang__Reply *client_call(client_t *self, const char *service, const char *method,
                           const ProtobufCMessage *input, const client_options_t *options);

/* As client_call, with the input already packed. */
Chuang__Reply *client_call_packed(client_t *self, const char *service, const char *method,
                                  const uint8_t *input, size_t size,
                                  const client_options_t *options);

/* Asks the brokers (mmi.service) whether service has a worker. Returns 1
 * when one has, 0 when none has, -1 when no broker answered in time (or
 * each said this client asks too often). */
int client_service_exists(client_t *self, const char *service);

#endif
