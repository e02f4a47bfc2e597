/*
 * gateway.h - the HTTP/JSON gateway: an HTTP/1.1 server (libmicrohttpd)
 * in front of the brokers that calls a service method for each request
 * and answers in JSON, keeping nothing between requests, so that several
 * run behind any load balancer.
 *
 * A request's route (routes.h) names the method; its body (POST) and its
 * query arguments (GET) and path parameters are the method's input in the
 * proto3 JSON mapping (pbjson.h). The reply is the method's output as JSON,
 * or a problem (problem.h) with the HTTP status of the service's status.
 * The Idempotency-Key header becomes the envelope's idempotency key,
 * X-Request-Timeout (milliseconds, within gateway.timeout_max_ms) its
 * deadline. The gateway calls as its own key and claims no role: a caller
 * reaches the public methods (name search, register lookup, credit
 * standing, licence verification, the carrier directory, programmes), and
 * any other is answered 401. /healthz answers while the process runs,
 * /readyz while a broker answers, /metrics (Prometheus) counts requests by
 * route and status with their latency (metrics.h). With redis.url set, each caller address
 * is held to gateway.rate_per_address requests a second across every
 * gateway of the agency (rate.h), and answered 429 past it.
 *
 * Settings: gateway.listen (host:port, default 127.0.0.1:8080),
 * gateway.threads (8), gateway.body_max (bytes, 1048576),
 * gateway.timeout_ms (10000), gateway.timeout_max_ms (30000),
 * gateway.rate_per_address (50), gateway.trusted_proxies (addresses, comma-
 * separated, of the load balancers whose X-Forwarded-For names the caller;
 * none by default), redis.url (none: no limit), redis.prefix
 * (chuang:gateway), agency, brokers.
 */
#ifndef GATEWAY_GATEWAY_H
#define GATEWAY_GATEWAY_H

#include "config.h"
#include "security.h"

typedef struct _gateway_t gateway_t;

/* Starts serving on gateway.listen. Borrows config and security, which
 * must outlive the gateway. Returns NULL (logged) when a setting is wrong
 * or the address cannot be bound. */
gateway_t *gateway_new(config_t *config, security_t *security);

/* Stops serving (requests under way finish), frees and nulls *self_p;
 * safe when NULL. */
void gateway_destroy(gateway_t **self_p);

/* Waits until the process is asked to stop (SIGINT, SIGTERM). */
void gateway_run(gateway_t *self);

#endif
