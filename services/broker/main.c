/*
 * main.c - the broker process: reads its configuration, binds, serves until
 * SIGTERM or SIGINT.
 *
 *   chuang-broker [-c FILE]
 */
#include "broker.h"
#include "logger.h"

#include <czmq.h>

int main(int argc, char **argv)
{
    int rc;
    config_t *config = config_for_process(argc, argv, "broker", &rc);
    if (!config)
        return rc;
    rc = 1;
    security_t *security = security_new(config);
    broker_t *broker = security ? broker_new(config, security) : NULL;
    if (broker) {
        broker_run(broker);
        rc = 0;
    }
    broker_destroy(&broker);
    security_destroy(&security);
    config_destroy(&config);
    return rc;
}
