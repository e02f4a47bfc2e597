/*
 * fuzz_broker_envelope.c - libFuzzer harness for the broker's wire-level
 * reading of a request body (services/broker/envelope.h), checked against
 * the full decoder a worker uses: whatever the bytes,
 *   - a body in which a worker's decoder finds a header is one in which the
 *     broker finds it too, with the same content, so that nothing a worker
 *     would take as an envelope goes on unstamped;
 *   - the body the broker writes back decodes, for a worker, to exactly the
 *     header the broker stamped (less fields it does not know) and the
 *     payload the sender sent.
 * Aborts on any difference; must never crash, leak or read out of bounds.
 */
#include "envelope.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* true when both headers pack to the same bytes. */
static bool s_same(const Chuang__RequestHeader *a, const Chuang__RequestHeader *b)
{
    size_t size = chuang__request_header__get_packed_size(a);
    if (size != chuang__request_header__get_packed_size(b))
        return false;
    uint8_t *packed_a = malloc(size ? size : 1), *packed_b = malloc(size ? size : 1);
    chuang__request_header__pack(a, packed_a);
    chuang__request_header__pack(b, packed_b);
    bool same = memcmp(packed_a, packed_b, size) == 0;
    free(packed_a);
    free(packed_b);
    return same;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Chuang__Request *full = chuang__request__unpack(NULL, size, data);
    Chuang__RequestHeader *header = NULL;
    int found = envelope_header(data, size, &header);
    if (full && full->header && (found != 1 || !s_same(header, full->header)))
        abort();
    if (found == 1) {
        Chuang__Principal principal = CHUANG__PRINCIPAL__INIT;
        principal.name = "stamped by the broker";
        Chuang__RequestHeader stamp = *header;
        stamp.principal = &principal;
        Chuang__RequestHeader known = stamp; /* what the stamped body holds */
        known.base.n_unknown_fields = 0;
        known.base.unknown_fields = NULL;
        zframe_t *frame = envelope_restamp(data, size, &stamp);
        if (!frame)
            abort();
        Chuang__Request *worker_view =
            chuang__request__unpack(NULL, zframe_size(frame), zframe_data(frame));
        if (full && (!worker_view || !s_same(worker_view->header, &known) ||
                     worker_view->payload.len != full->payload.len ||
                     (full->payload.len &&
                      memcmp(worker_view->payload.data, full->payload.data, full->payload.len))))
            abort();
        chuang__request__free_unpacked(worker_view, NULL);
        zframe_destroy(&frame);
    }
    chuang__request_header__free_unpacked(header, NULL);
    chuang__request__free_unpacked(full, NULL);
    return 0;
}
