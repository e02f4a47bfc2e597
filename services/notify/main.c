/*
 * main.c - the notify service (通知): wires its methods, the consumer of the
 * streams it turns into messages, and the delivery worker.
 *
 *   chuang-notify [-c FILE]
 *
 * Settings besides the framework's: notify.recipient_key (the secret that
 * turns ID numbers into recipient references), notify.smtp_url, notify.from,
 * notify.max_attempts, notify.backoff_ms, notify.timeout_ms,
 * notify.rate_per_minute, notify.in_flight. It follows the registry's and
 * finance's streams (consume.registry.stream, consume.finance.stream;
 * service.h).
 */
#include "handlers.h"
#include "logger.h"
#include "notifier.h"
#include "notify.pb-c.h"
#include "recipient_ref.h"
#include "sender.h"

#include <czmq.h>

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

static int s_init(config_t *config)
{
    if (sender_configure(config) != 0)
        return -1;
    return recipient_ref_init(config_str(config, "notify.recipient_key", NULL));
}

/* The streams notify turns into messages. */
static const service_consumer_t s_consumers[] = {
    {"registry", "chuang:registry:events", notifier_apply, NULL, sender_wake},
    {"finance", "chuang:finance:events", notifier_apply, NULL, sender_wake},
    {NULL, NULL, NULL, NULL, NULL},
};

static void s_fini(void)
{
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
        .consumers = s_consumers,
        .init = s_init,
        .fini = s_fini,
    };
    return service_main(argc, argv, &def);
}
