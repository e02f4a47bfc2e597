/*
 * metrics.c - the gateway's request counters and latency histograms; see
 * metrics.h.
 *
 * One slot per route (and one for requests no route took) and per HTTP
 * status the gateway answers with (and one for any other), each a relaxed
 * atomic: a scrape may see one request counted and its latency not yet,
 * which Prometheus tolerates.
 */
#include "metrics.h"
#include "routes.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUTE_SLOTS (ROUTES_MAX + 1) /* the last: no route */

static const unsigned int s_codes[] = {200, 400, 401, 403, 404, 405, 409, 413,
                                       415, 429, 500, 501, 503, 504, 0};
#define CODE_SLOTS (sizeof s_codes / sizeof s_codes[0]) /* the last: any other */

static const int64_t s_bounds_ms[] = {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};
#define BUCKETS (sizeof s_bounds_ms / sizeof s_bounds_ms[0])

static atomic_uint_fast64_t s_requests[ROUTE_SLOTS][CODE_SLOTS];
static atomic_uint_fast64_t s_buckets[ROUTE_SLOTS][BUCKETS + 1]; /* the last: +Inf */
static atomic_uint_fast64_t s_sum_ms[ROUTE_SLOTS];

void metrics_count(int route, unsigned int status, int64_t ms)
{
    size_t r = route >= 0 && route < ROUTES_MAX ? (size_t)route : ROUTES_MAX;
    size_t c = 0;
    while (c + 1 < CODE_SLOTS && s_codes[c] != status)
        c++;
    size_t b = 0;
    while (b < BUCKETS && ms > s_bounds_ms[b])
        b++;
    atomic_fetch_add_explicit(&s_requests[r][c], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s_buckets[r][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s_sum_ms[r], ms > 0 ? (uint64_t)ms : 0, memory_order_relaxed);
}

/* The route label of slot r. */
static const char *s_route(size_t r)
{
    for (size_t i = 0; routes[i].verb; i++)
        if (i == r)
            return routes[i].pattern;
    return "none";
}

char *metrics_text(void)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out)
        return NULL;
    fprintf(out, "# HELP chuang_gateway_requests_total HTTP requests answered, by route and "
                 "status.\n"
                 "# TYPE chuang_gateway_requests_total counter\n");
    for (size_t r = 0; r < ROUTE_SLOTS; r++)
        for (size_t c = 0; c < CODE_SLOTS; c++) {
            uint64_t n = atomic_load_explicit(&s_requests[r][c], memory_order_relaxed);
            if (n == 0)
                continue;
            char code[24];
            snprintf(code, sizeof code, s_codes[c] ? "%u" : "other", s_codes[c]);
            fprintf(out, "chuang_gateway_requests_total{route=\"%s\",status=\"%s\"} %llu\n",
                    s_route(r), code, (unsigned long long)n);
        }
    fprintf(out, "# HELP chuang_gateway_request_duration_seconds Time from a request's last "
                 "byte to its answer, by route.\n"
                 "# TYPE chuang_gateway_request_duration_seconds histogram\n");
    for (size_t r = 0; r < ROUTE_SLOTS; r++) {
        uint64_t total = 0;
        for (size_t b = 0; b <= BUCKETS; b++)
            total += atomic_load_explicit(&s_buckets[r][b], memory_order_relaxed);
        if (total == 0)
            continue;
        uint64_t below = 0;
        for (size_t b = 0; b <= BUCKETS; b++) {
            below += atomic_load_explicit(&s_buckets[r][b], memory_order_relaxed);
            char le[48];
            if (b < BUCKETS)
                snprintf(le, sizeof le, "%lld.%03lld", (long long)(s_bounds_ms[b] / 1000),
                         (long long)(s_bounds_ms[b] % 1000));
            else
                snprintf(le, sizeof le, "+Inf");
            fprintf(out,
                    "chuang_gateway_request_duration_seconds_bucket{route=\"%s\",le=\"%s\"} "
                    "%llu\n",
                    s_route(r), le, (unsigned long long)below);
        }
        uint64_t sum = atomic_load_explicit(&s_sum_ms[r], memory_order_relaxed);
        fprintf(out, "chuang_gateway_request_duration_seconds_sum{route=\"%s\"} %llu.%03llu\n",
                s_route(r), (unsigned long long)(sum / 1000), (unsigned long long)(sum % 1000));
        fprintf(out, "chuang_gateway_request_duration_seconds_count{route=\"%s\"} %llu\n",
                s_route(r), (unsigned long long)total);
    }
    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    return text;
}
