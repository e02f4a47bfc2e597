/*
 * outbox.c - events written with the change they report; see outbox.h.
 *
 * The payload is packed here and stored as bytea with the full name of its
 * protobuf type, so that a consumer can decode it without knowing the
 * event type in advance.
 */
#include "outbox.h"
#include "db.h"
#include "logger.h"

#include <stdio.h>
#include <stdlib.h>

int outbox_write(PGconn *db, const outbox_event_t *event)
{
    size_t size = protobuf_c_message_get_packed_size(event->payload);
    uint8_t *packed = malloc(size ? size : 1);
    if (!packed)
        return -1;
    protobuf_c_message_pack(event->payload, packed);
    char visibility[8];
    snprintf(visibility, sizeof visibility, "%d", (int)event->visibility);
    const char *values[7] = {event->agency ? event->agency : "",
                             event->type,
                             event->aggregate_id,
                             visibility,
                             event->payload->descriptor->name,
                             (const char *)packed,
                             event->trace_id ? event->trace_id : ""};
    int lengths[7] = {0, 0, 0, 0, 0, (int)size, 0};
    int formats[7] = {0, 0, 0, 0, 0, 1, 0};
    PGresult *res = db_query(db,
                             "INSERT INTO chuang_outbox (id, agency, type, aggregate_id,"
                             " visibility, payload_type, payload, trace_id)"
                             " VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7)",
                             7, values, lengths, formats, 0);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc != 0) {
        char quoted[512];
        log_error("outbox write failed", "type=%s aggregate_id=%s error=%s", event->type,
                  event->aggregate_id, logger_quote(quoted, sizeof quoted, PQerrorMessage(db)));
    }
    PQclear(res);
    free(packed);
    return rc;
}
