/*
 * main.c - the HTTP/JSON gateway (gateway.h).
 *
 *   chuang-gateway [-c FILE]
 */
#include "gateway.h"
#include "logger.h"

int main(int argc, char **argv)
{
    int rc;
    config_t *config = config_for_process(argc, argv, "gateway", &rc);
    if (!config)
        return rc;
    rc = 1;
    security_t *security = security_new(config);
    gateway_t *gateway = security ? gateway_new(config, security) : NULL;
    if (gateway) {
        gateway_run(gateway);
        rc = 0;
        log_info("gateway stopped", NULL);
    }
    gateway_destroy(&gateway);
    security_destroy(&security);
    config_destroy(&config);
    return rc;
}
