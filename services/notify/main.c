/*
 * main.c - the notify service (通知): wires its methods, the consumer of the
 * streams it turns into messages, and the delivery worker.
 *
 *   chuang-notify [-c FILE]
 *
 * Settings besides the framework's: notify.recipient_key (the secret that
 * turns ID numbers into recipient references), notify.stream (the event
 * stream it follows, default chuang:registry:events), notify.smtp_url, notify.from,
 * notify.max_attempts, notify.backoff_ms, notify.timeout_ms,
 * notify.rate_per_minute, notify.in_flight.
 */
#include "consumer.h"
#include "handlers.h"
#include "logger.h"
#include "notifier.h"
#include "notify.pb-c.h"
#include "recipient_ref.h"
#include "sender.h"

#include <czmq.h>
#include <unistd.h>

#define CONSUMER_WAIT_MS 300

/* Who may call what: officers manage recipients, deliveries and bulletins;
 * an applicant (a person the gateway authenticated) only their own
 * recipient, inbox and subscriptions, which the handlers check. */
static const service_method_t s_methods[] = {
    {"SetRecipient", handle_set_recipient, SERVICE_METHOD_WRITE, "officer,applicant"},
    {"ListInbox", handle_list_inbox, SERVICE_METHOD_READ, "officer,applicant"},
    {"MarkRead", handle_mark_read, SERVICE_METHOD_WRITE, "officer,applicant"},
    {"ListDeliveries", handle_list_deliveries, SERVICE_METHOD_READ, "officer"},
    {"ReplayDelivery", handle_replay_delivery, SERVICE_METHOD_WRITE, "officer"},
    {"Subscribe", handle_subscribe, SERVICE_METHOD_WRITE, "officer,applicant"},
    {"PublishBulletin", handle_publish_bulletin, SERVICE_METHOD_WRITE, "officer"},
    {NULL, NULL, 0, NULL},
};

/* The consumer's thread: applies events until the main thread sends $TERM. */
static void s_consumer_actor(zsock_t *pipe, void *args)
{
    consumer_t *consumer = args;
    zsock_signal(pipe, 0);
    zpoller_t *poller = zpoller_new(pipe, NULL);
    while (!zpoller_wait(poller, 0) && !zpoller_terminated(poller))
        if (consumer_step(consumer, CONSUMER_WAIT_MS) > 0)
            sender_wake(); /* the events applied may have made deliveries */
    zpoller_destroy(&poller);
    consumer_destroy(&consumer);
}

static zactor_t *s_consumer;

static int s_init(config_t *config)
{
    if (sender_configure(config) != 0)
        return -1;
    if (recipient_ref_init(config_str(config, "notify.recipient_key", NULL)) != 0)
        return -1;
    const char *redis_url = config_str(config, "redis.url", NULL);
    if (!redis_url) {
        log_error("redis.url is not set; notify follows events through Redis", NULL);
        return -1;
    }
    char name[64];
    snprintf(name, sizeof name, "notify-%d", (int)getpid());
    consumer_settings_t settings = {
        .db_url = config_str(config, "db.url", NULL),
        .schema = config_str(config, "db.schema", "notify"),
        .redis_url = redis_url,
        .stream = config_str(config, "notify.stream", "chuang:registry:events"),
        .group = "notify",
        .consumer = name,
        .claim_idle_ms = 30000,
        .max_deliveries = 5,
        .handler = notifier_apply,
    };
    s_consumer = zactor_new(s_consumer_actor, consumer_new(&settings));
    return 0;
}

static void s_fini(void)
{
    zactor_destroy(&s_consumer);
    sender_fini();
}

int main(int argc, char **argv)
{
    const service_def_t def = {
        .name = "notify",
        .descriptor = &chuang__notify__notify__descriptor,
        .methods = s_methods,
        .bounds = notify_bounds,
        .sql_dir = NOTIFY_SQL_DIR,
        .tick = sender_tick,
        .init = s_init,
        .fini = s_fini,
    };
    return service_main(argc, argv, &def);
}
