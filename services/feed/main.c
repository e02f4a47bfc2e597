/*
 * main.c - the feed process: reads its configuration and serves the agency's
 * event streams to its subscribers until SIGTERM or SIGINT.
 *
 *   chuang-feed [-c FILE]
 */
#include "feed.h"
#include "logger.h"

int main(int argc, char **argv)
{
    int rc;
    config_t *config = config_for_process(argc, argv, "feed", &rc);
    if (!config)
        return rc;
    rc = 1;
    security_t *security = security_new(config);
    feed_t *feed = security ? feed_new(config, security) : NULL;
    if (feed) {
        feed_run(feed);
        rc = 0;
        log_info("feed stopped", NULL);
    }
    feed_destroy(&feed);
    security_destroy(&security);
    config_destroy(&config);
    return rc;
}
