/*
 * fuzz_feed.c - libFuzzer harness for the feed protocol's bodies, read by
 * the feed from subscribers (Subscribe, Credit) and by subscribers and
 * federation imports from a feed (Event, Reply): each decoded from the same
 * bytes; an event is also redacted as the feed does for a subscriber
 * without personal data, its payload decoded by the type it names.
 */
#include "catalog.h"
#include "chuang.pb-c.h"
#include "feed.pb-c.h"
#include "redact.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    chuang__feed__subscribe__free_unpacked(chuang__feed__subscribe__unpack(NULL, size, data), NULL);
    chuang__feed__credit__free_unpacked(chuang__feed__credit__unpack(NULL, size, data), NULL);
    chuang__reply__free_unpacked(chuang__reply__unpack(NULL, size, data), NULL);
    Chuang__Event *event = chuang__event__unpack(NULL, size, data);
    if (event)
        redact_event(event, catalog_services);
    chuang__event__free_unpacked(event, NULL);
    return 0;
}
