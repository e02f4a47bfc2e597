/*
 * mdp_worker.h - the worker side of MDP/0.1: one service's worker registered
 * with every broker it is given.
 *
 * The worker keeps one DEALER socket per broker, says READY on each, answers
 * heartbeats and sends its own, and reconnects to a broker that has been
 * silent for liveness heartbeats or that told it to DISCONNECT. It serves one
 * request at a time: the reply to a request goes back to the broker it came
 * from before the next request is taken.
 *
 * A worker is used by one thread.
 */
#ifndef CHUANG_MDP_WORKER_H
#define CHUANG_MDP_WORKER_H

#include "security.h"
#include <czmq.h>

typedef struct _mdp_worker_t mdp_worker_t;

/* Connects to each broker of the comma-separated list and registers for
 * service. Borrows security, which must outlive the worker. Returns NULL when
 * the list is empty or a socket cannot be made. */
mdp_worker_t *mdp_worker_new(const char *brokers, const char *service, security_t *security,
                             int heartbeat_ms, int liveness);

/* Tells every broker DISCONNECT, closes the sockets (sending what is queued,
 * within a second), frees and nulls *self_p; safe when NULL. */
void mdp_worker_destroy(mdp_worker_t **self_p);

/* Waits for the next request and returns its body (caller owns). Returns NULL
 * when stop is readable (a message waits there, which is left unread), or
 * when stop is NULL and the process was interrupted. */
zmsg_t *mdp_worker_recv(mdp_worker_t *self, zsock_t *stop);

/* Sends the reply to the last request returned by mdp_worker_recv; takes body.
 * Returns -1 when there is no request to answer. */
int mdp_worker_reply(mdp_worker_t *self, zmsg_t **body_p);

#endif
