/*
 * metrics.h - the gateway's Prometheus metrics: requests answered by route
 * and HTTP status, and a histogram of their latency by route, served at
 * /metrics in the text exposition format. Counters are process-wide and
 * lock-free, so every server thread counts without waiting on another.
 */
#ifndef GATEWAY_METRICS_H
#define GATEWAY_METRICS_H

#include <stdint.h>

/* Counts one request of route (an index of routes[], or -1 for a request
 * no route took) answered with HTTP status after ms milliseconds. */
void metrics_count(int route, unsigned int status, int64_t ms);

/* The metrics as text; the caller frees it. NULL when memory runs out. */
char *metrics_text(void);

#endif
