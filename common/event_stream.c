/*
 * event_stream.c - appending to and reading a service's event stream; see
 * event_stream.h.
 *
 * The append script gets the key, whether positions must be consecutive,
 * and per entry three arguments: the position, the event id and the event
 * bytes. It reads the stream's last
 * id once, then walks the entries: a position at or below the last is
 * compared with the entry stored there, the next one is appended, anything
 * further is a gap. It answers {done, outcome, position}. Redis caches the
 * script by its hash; EVAL sends it whole, which at a few hundred bytes a
 * batch costs less than keeping EVALSHA and its NOSCRIPT fallback.
 */
#include "event_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char s_append_script[] =
    "local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)\n"
    "local last = 0\n"
    "if #top > 0 then last = tonumber(string.match(top[1][1], '^(%d+)')) end\n"
    "local done = 0\n"
    "local consecutive = ARGV[1] == '1'\n"
    "for i = 2, #ARGV, 3 do\n"
    "  local position = tonumber(ARGV[i])\n"
    "  if position <= last then\n"
    "    local entry = redis.call('XRANGE', KEYS[1], ARGV[i] .. '-0', ARGV[i] .. '-0')\n"
    "    if #entry > 0 then\n"
    "      local id, event = nil, nil\n"
    "      local fields = entry[1][2]\n"
    "      for f = 1, #fields, 2 do\n"
    "        if fields[f] == 'id' then id = fields[f + 1] end\n"
    "        if fields[f] == 'event' then event = fields[f + 1] end\n"
    "      end\n"
    "      if (id and id ~= ARGV[i + 1]) or (not id and event ~= ARGV[i + 2]) then\n"
    "        return {done, 'diverged', position}\n"
    "      end\n"
    "    end\n"
    "  elseif position == last + 1 or not consecutive then\n"
    "    redis.call('XADD', KEYS[1], ARGV[i] .. '-0', 'event', ARGV[i + 2], 'id', ARGV[i + 1])\n"
    "    last = position\n"
    "  else\n"
    "    return {done, 'gap', position}\n"
    "  end\n"
    "  done = done + 1\n"
    "end\n"
    "return {done, 'ok', 0}\n";

event_stream_outcome_t event_stream_append(redisContext *redis, const char *key, bool consecutive,
                                           const event_stream_entry_t *entries, size_t count,
                                           size_t *done, int64_t *stopped_at)
{
    *done = 0;
    *stopped_at = 0;
    if (count == 0)
        return EVENT_STREAM_OK;
    size_t argc = 5 + 3 * count;
    const char **argv = calloc(argc, sizeof *argv);
    size_t *lengths = calloc(argc, sizeof *lengths);
    char(*positions)[24] = calloc(count, sizeof *positions);
    event_stream_outcome_t outcome = EVENT_STREAM_ERROR;
    if (!argv || !lengths || !positions)
        goto done;
    argv[0] = "EVAL";
    argv[1] = s_append_script;
    argv[2] = "1";
    argv[3] = key;
    argv[4] = consecutive ? "1" : "0";
    for (size_t i = 0; i < 5; i++)
        lengths[i] = strlen(argv[i]);
    for (size_t i = 0; i < count; i++) {
        snprintf(positions[i], sizeof positions[i], "%lld", (long long)entries[i].position);
        argv[5 + 3 * i] = positions[i];
        lengths[5 + 3 * i] = strlen(positions[i]);
        argv[6 + 3 * i] = entries[i].event_id;
        lengths[6 + 3 * i] = strlen(entries[i].event_id);
        argv[7 + 3 * i] = (const char *)entries[i].event;
        lengths[7 + 3 * i] = entries[i].size;
    }
    redisReply *reply = redisCommandArgv(redis, (int)argc, argv, lengths);
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 3 &&
        reply->element[0]->type == REDIS_REPLY_INTEGER &&
        reply->element[1]->type == REDIS_REPLY_STRING &&
        reply->element[2]->type == REDIS_REPLY_INTEGER) {
        *done = (size_t)reply->element[0]->integer;
        *stopped_at = reply->element[2]->integer;
        const char *word = reply->element[1]->str;
        outcome = strcmp(word, "ok") == 0         ? EVENT_STREAM_OK
                  : strcmp(word, "diverged") == 0 ? EVENT_STREAM_DIVERGED
                                                  : EVENT_STREAM_GAP;
    }
    freeReplyObject(reply);
done:
    free(argv);
    free(lengths);
    free(positions);
    return outcome;
}

int64_t event_stream_end(redisContext *redis, const char *key, int last)
{
    redisReply *reply =
        redisCommand(redis, last ? "XREVRANGE %s + - COUNT 1" : "XRANGE %s - + COUNT 1", key);
    int64_t position = -1;
    if (reply && reply->type == REDIS_REPLY_ARRAY) {
        position = 0;
        if (reply->elements == 1 && reply->element[0]->type == REDIS_REPLY_ARRAY &&
            reply->element[0]->elements >= 1)
            position = strtoll(reply->element[0]->element[0]->str, NULL, 10);
    }
    freeReplyObject(reply);
    return position;
}

int event_stream_get(redisContext *redis, const char *key, int64_t position,
                     Chuang__Event **event_p)
{
    *event_p = NULL;
    char id[32];
    snprintf(id, sizeof id, "%lld-0", (long long)position);
    redisReply *reply = redisCommand(redis, "XRANGE %s %s %s", key, id, id);
    int rc = -1;
    if (reply && reply->type == REDIS_REPLY_ARRAY) {
        rc = 0;
        redisReply *fields = reply->elements == 1 && reply->element[0]->elements == 2
                                 ? reply->element[0]->element[1]
                                 : NULL;
        for (size_t f = 0; fields && f + 1 < fields->elements; f += 2)
            if (strcmp(fields->element[f]->str, "event") == 0)
                *event_p = chuang__event__unpack(NULL, fields->element[f + 1]->len,
                                                 (const uint8_t *)fields->element[f + 1]->str);
        rc = fields ? 1 : 0;
    }
    freeReplyObject(reply);
    return rc;
}

void event_stream_wake(redisContext *redis, const char *key)
{
    if (!redis || redis->err)
        return;
    char channel[512];
    snprintf(channel, sizeof channel, EVENT_STREAM_WAKE_CHANNEL, key);
    freeReplyObject(redisCommand(redis, "PUBLISH %s 1", channel));
}
