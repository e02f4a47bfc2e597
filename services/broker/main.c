/*
 * main.c - the broker process: reads its configuration, binds, serves until
 * SIGTERM or SIGINT.
 *
 *   chuang-broker [-c FILE]
 */
#include "broker.h"
#include "logger.h"

#include <czmq.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *config_path = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "c:")) != -1) {
        if (opt == 'c') {
            config_path = optarg;
        } else {
            fprintf(stderr, "usage: chuang-broker [-c config-file]\n");
            return 2;
        }
    }
    zsys_init();
    config_t *config = config_new(config_path);
    if (!config)
        return 1;
    logger_level_t level = LOGGER_INFO;
    logger_level_parse(config_str(config, "log.level", "info"), &level);
    logger_init(config_str(config, "log.name", "broker"), level);

    int rc = 1;
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
