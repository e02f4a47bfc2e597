/*
 * broker.h - the Majordomo broker (MDP/0.1, ZeroMQ RFC 7).
 *
 * One ROUTER socket takes clients and workers alike. A request is given to
 * the worker of its service that has waited longest; when none is free it
 * waits in the service's queue until its deadline (read from the chuang
 * envelope, or a default for clients that send something else) and is then
 * answered with status UNAVAILABLE, so nothing vanishes. With CURVE, every
 * peer's key must be in security.allow_dir; when security.worker_dir is set,
 * only the keys in it may register as workers, so a client's key cannot
 * pose as a service. Before a chuang request is queued, its envelope's
 * claims are checked against the sender's key in the principal table
 * (security.principals, see principals.h) and the authenticated principal
 * is written into it; a claim the key does not hold is answered
 * PERMISSION_DENIED. It never waits on a peer: a message to one that does
 * not read is dropped and counted. A service that has no worker and no
 * request waiting is forgotten. Workers heartbeat;
 * one that falls silent is forgotten. "mmi.service" answers "200" or "404".
 */
#ifndef CHUANG_BROKER_H
#define CHUANG_BROKER_H

#include "config.h"
#include "security.h"

typedef struct _broker_t broker_t;

/* Creates a broker bound to broker.endpoint (default tcp://127.0.0.1:5555).
 * Settings: broker.heartbeat_ms, broker.liveness, broker.max_msg_bytes,
 * broker.queue_max, broker.queue_max_bytes, broker.wait_default_ms, broker.wait_max_ms,
 * security.principals. Borrows security, which must outlive the broker.
 * Returns NULL when it cannot bind or the principal table is wrong. */
broker_t *broker_new(config_t *config, security_t *security);

/* Closes the socket, answers nothing more, frees and nulls *self_p. */
void broker_destroy(broker_t **self_p);

/* Serves until the process is interrupted (SIGINT or SIGTERM). */
void broker_run(broker_t *self);

#endif
