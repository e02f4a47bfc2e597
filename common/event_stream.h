/*
 * event_stream.h - a service's event log on a Redis Stream: appending in
 * order, never past a conflict, and reading entries back.
 *
 * Each entry's id is the event's position ("<position>-0"); its fields are
 * "event" (the packed chuang.Event, first, which is what readers take) and
 * "id" (the event's uuid). Appending runs one Lua script per batch, so the
 * check and the append are atomic: an entry is appended only right after
 * the stream's last; a position the stream already holds is a harmless
 * resend only when it holds the same event (same id), and anything else
 * stops the batch there, nothing after it appended. A service's own log
 * is also never appended past a gap. Entries written before
 * the "id" field existed are compared by their event bytes.
 */
#ifndef CHUANG_EVENT_STREAM_H
#define CHUANG_EVENT_STREAM_H

#include "chuang.pb-c.h"

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t position;
    const char *event_id; /* the event's uuid */
    const uint8_t *event; /* the packed chuang.Event */
    size_t size;
} event_stream_entry_t;

typedef enum {
    EVENT_STREAM_OK,       /* every entry appended or already there */
    EVENT_STREAM_DIVERGED, /* the stream holds another event at stopped_at */
    EVENT_STREAM_GAP,      /* stopped_at is beyond the stream's last + 1 */
    EVENT_STREAM_ERROR     /* Redis failed; see the connection's errstr */
} event_stream_outcome_t;

/* Appends entries (ascending positions) to the stream at key; with
 * consecutive, each must follow the stream's last (a service's own log),
 * without, any later position may (an import of chosen topics). Returns
 * the outcome; *done is how many of the first entries were appended or
 * already there, *stopped_at the position where it stopped (0 when OK). */
event_stream_outcome_t event_stream_append(redisContext *redis, const char *key, bool consecutive,
                                           const event_stream_entry_t *entries, size_t count,
                                           size_t *done, int64_t *stopped_at);

/* The position of the stream's first or (last true) last entry, 0 when it
 * is empty, -1 on error. */
int64_t event_stream_end(redisContext *redis, const char *key, int last);

/* Reads the entry at position into *event_p (caller frees with
 * chuang__event__free_unpacked; NULL when its bytes are no event). Returns
 * 1 when found, 0 when the stream has no such entry, -1 on error. */
int event_stream_get(redisContext *redis, const char *key, int64_t position,
                     Chuang__Event **event_p);

/* Sending events again to a consumer group that lost them: entries trimmed
 * from the stream before the group applied them (consumer.c finds them).
 * The group asks by pushing "<group> <from> <to>" (positions, inclusive) on
 * the list EVENT_STREAM_RESEND_KEY; the producer's active relay answers
 * from its outbox, in position order and a batch at a time, by pushing the
 * packed events on the group's list EVENT_STREAM_RESENT_KEY, where the
 * group's consumers take them. Both are printf formats: the stream's key,
 * then (resent) the group. */
#define EVENT_STREAM_RESEND_KEY "%s:resend"
#define EVENT_STREAM_RESENT_KEY "%s:resent:%s"

/* Waking the relay: a writer that committed events to its outbox publishes
 * on the stream's wake channel (EVENT_STREAM_WAKE_CHANNEL, a printf format
 * of the stream's key), to which every relay of the stream subscribes; the
 * active one numbers and publishes them at once. A wake that is lost only
 * delays: the relay also looks on its own, every round. */
#define EVENT_STREAM_WAKE_CHANNEL "%s:wake"

/* Publishes on the wake channel of the stream key: best effort, one round
 * trip, nothing logged. */
void event_stream_wake(redisContext *redis, const char *key);

#endif
