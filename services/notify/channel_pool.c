/*
 * channel_pool.c - sends in flight side by side on a libcurl multi handle;
 * see channel_pool.h.
 *
 * Each send is a channel_transfer (channel_transfer.h) whose easy handle is
 * added to the multi handle, with the pool's record of it (the transfer and
 * the caller's tag, in a list of those in flight) as its CURLOPT_PRIVATE.
 * libcurl's connection cache belongs to the multi handle, so connections
 * outlive the sends that opened them. channel_pool_run is
 * curl_multi_perform, then, when nothing ended, curl_multi_poll (which
 * curl_multi_wakeup interrupts) and curl_multi_perform again;
 * channel_pool_next reads the multi handle's messages, each the end of one
 * transfer, takes its outcome, and removes and destroys it.
 */
#include "channel_pool.h"
#include "channel_transfer.h"

#include <stdlib.h>

/* A send in flight. */
typedef struct _flight_t {
    channel_transfer_t *transfer;
    void *tag;
    struct _flight_t *prev, *next;
} flight_t;

struct _channel_pool_t {
    CURLM *multi;
    flight_t *flights; /* in flight, newest first */
    int size;
};

channel_pool_t *channel_pool_new(void)
{
    if (channel_transfer_init() != 0)
        return NULL;
    channel_pool_t *self = calloc(1, sizeof *self);
    if (self && !(self->multi = curl_multi_init())) {
        free(self);
        self = NULL;
    }
    if (self)
        curl_multi_setopt(self->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                          (long)CHANNEL_POOL_HOST_CONNECTIONS);
    return self;
}

/* Takes flight out of the pool and frees it with its transfer. */
static void s_land(channel_pool_t *self, flight_t *flight)
{
    curl_multi_remove_handle(self->multi, channel_transfer_handle(flight->transfer));
    if (flight->prev)
        flight->prev->next = flight->next;
    else
        self->flights = flight->next;
    if (flight->next)
        flight->next->prev = flight->prev;
    self->size--;
    channel_transfer_destroy(&flight->transfer);
    free(flight);
}

void channel_pool_destroy(channel_pool_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    channel_pool_t *self = *self_p;
    while (self->flights)
        s_land(self, self->flights);
    curl_multi_cleanup(self->multi);
    free(self);
    *self_p = NULL;
}

/* Starts transfer (taken; NULL when it could not be prepared: then
 * *outcome says why already). Returns 0 or -1. */
static int s_start(channel_pool_t *self, channel_transfer_t *transfer, void *tag,
                   channel_outcome_t *outcome, char *error, size_t size)
{
    if (!transfer)
        return -1;
    flight_t *flight = calloc(1, sizeof *flight);
    CURL *curl = channel_transfer_handle(transfer);
    if (flight) {
        flight->transfer = transfer;
        flight->tag = tag;
        curl_easy_setopt(curl, CURLOPT_PRIVATE, flight);
    }
    if (!flight || curl_multi_add_handle(self->multi, curl) != CURLM_OK) {
        free(flight);
        channel_transfer_destroy(&transfer);
        *outcome = CHANNEL_RETRY;
        if (error && size)
            snprintf(error, size, "out of memory");
        return -1;
    }
    flight->next = self->flights;
    if (self->flights)
        self->flights->prev = flight;
    self->flights = flight;
    self->size++;
    return 0;
}

int channel_pool_email(channel_pool_t *self, const char *smtp_url, const char *from, const char *to,
                       const char *subject, const char *body, const char *delivery_id,
                       int timeout_ms, void *tag, channel_outcome_t *outcome, char *error,
                       size_t size)
{
    channel_transfer_t *transfer = channel_transfer_email(
        smtp_url, from, to, subject, body, delivery_id, timeout_ms, outcome, error, size);
    return s_start(self, transfer, tag, outcome, error, size);
}

int channel_pool_webhook(channel_pool_t *self, const char *url, const char *secret,
                         const char *delivery_id, const char *json, int timeout_ms, void *tag,
                         channel_outcome_t *outcome, char *error, size_t size)
{
    channel_transfer_t *transfer =
        channel_transfer_webhook(url, secret, delivery_id, json, timeout_ms, outcome, error, size);
    return s_start(self, transfer, tag, outcome, error, size);
}

int channel_pool_size(channel_pool_t *self)
{
    return self->size;
}

int channel_pool_run(channel_pool_t *self, int wait_ms)
{
    int running = 0;
    if (curl_multi_perform(self->multi, &running) != CURLM_OK)
        return -1;
    /* Something ended already: no need to wait. */
    if (running < self->size || wait_ms <= 0)
        return 0;
    if (curl_multi_poll(self->multi, NULL, 0, wait_ms, NULL) != CURLM_OK)
        return -1;
    return curl_multi_perform(self->multi, &running) == CURLM_OK ? 0 : -1;
}

bool channel_pool_next(channel_pool_t *self, void **tag, channel_outcome_t *outcome, char *error,
                       size_t size)
{
    int queued = 0;
    CURLMsg *message;
    while ((message = curl_multi_info_read(self->multi, &queued))) {
        if (message->msg != CURLMSG_DONE)
            continue;
        flight_t *flight = NULL;
        curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, (char **)&flight);
        if (!flight)
            continue;
        *tag = flight->tag;
        *outcome = channel_transfer_outcome(flight->transfer, message->data.result, error, size);
        s_land(self, flight);
        return true;
    }
    return false;
}

void channel_pool_wake(channel_pool_t *self)
{
    curl_multi_wakeup(self->multi);
}
