/*
 * notifier.c - from an event to messages; see notifier.h.
 *
 * The payload is decoded with its descriptor and turned into JSON (pbjson),
 * which gives the template variables their names. Recipients are read off
 * the payload: the applicant (applicantIdNumber), the legal representative
 * (legalRepresentative.idNumber) and the entity itself (creditCode); the
 * topic subscribers of the event's type; and the officers whose role the
 * role_routes table routes it to. For
 * each recipient and the event's type a template in the recipient's
 * language is rendered; the inbox message is written at once and e-mail and
 * webhook deliveries are queued as pending rows for the sender. A template
 * that names a field the payload lacks is recorded as a failed delivery
 * with the variable's name; the event itself is still handled.
 */
#include "notifier.h"
#include "db.h"
#include "catalog.h"
#include "logger.h"
#include "messages.h"
#include "pbjson.h"
#include "recipient_ref.h"
#include "redact.h"

#include <czmq.h>

#define RECIPIENTS_MAX 4
#define RENDERED_MAX   8192

/* The text of a JSON value for a template, or NULL when it has none. */
static char *s_value_text(json_t *value)
{
    if (json_is_string(value))
        return strdup(json_string_value(value));
    if (json_is_integer(value))
        return zsys_sprintf("%" JSON_INTEGER_FORMAT, json_integer_value(value));
    if (json_is_boolean(value))
        return strdup(json_is_true(value) ? "true" : "false");
    return NULL;
}

/* Looks a dotted path up in object. */
static json_t *s_lookup(json_t *object, const char *path)
{
    char *copy = strdup(path);
    json_t *value = object;
    char *save = NULL;
    for (char *part = strtok_r(copy, ".", &save); part && value; part = strtok_r(NULL, ".", &save))
        value = json_is_object(value) ? json_object_get(value, part) : NULL;
    free(copy);
    return value;
}

char *notifier_render(const char *template_text, json_t *payload, char *error, size_t size)
{
    zchunk_t *out = zchunk_new(NULL, 0);
    const char *p = template_text;
    while (*p) {
        const char *open = strstr(p, "{{");
        if (!open) {
            zchunk_extend(out, p, strlen(p));
            break;
        }
        zchunk_extend(out, p, (size_t)(open - p));
        const char *close = strstr(open + 2, "}}");
        if (!close) {
            snprintf(error, size, "template has an unclosed {{");
            zchunk_destroy(&out);
            return NULL;
        }
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(close - open - 2), open + 2);
        char *text = s_value_text(s_lookup(payload, name));
        if (!text) {
            snprintf(error, size, "unknown template variable %s", name);
            zchunk_destroy(&out);
            return NULL;
        }
        zchunk_extend(out, text, strlen(text));
        free(text);
        p = close + 2;
        if (zchunk_size(out) > RENDERED_MAX) {
            snprintf(error, size, "rendered message is too long");
            zchunk_destroy(&out);
            return NULL;
        }
    }
    zchunk_extend(out, "", 1);
    char *rendered = strdup((char *)zchunk_data(out));
    zchunk_destroy(&out);
    return rendered;
}

static int s_exec(PGconn *db, const char *sql, int count, const char *const *values)
{
    PGresult *res = db_query(db, sql, count, values, NULL, NULL, 0);
    ExecStatusType status = PQresultStatus(res);
    PQclear(res);
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK ? 0 : -1;
}

int notifier_deliver(PGconn *db, const char *event_id, const char *event_type,
                     const char *recipient, const char *subject, const char *body,
                     const char *event_json)
{
    const char *values[1] = {recipient};
    PGresult *res = db_query(db,
                             "SELECT email <> '' AND NOT email_off,"
                             "       webhook_url <> '' AND NOT webhook_off"
                             " FROM recipients WHERE id = $1",
                             1, values, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return -1;
    }
    bool email = PQntuples(res) == 1 && streq(PQgetvalue(res, 0, 0), "t");
    bool webhook = PQntuples(res) == 1 && streq(PQgetvalue(res, 0, 1), "t");
    PQclear(res);
    const char *inbox[5] = {recipient, event_id, event_type, subject, body};
    int rc = s_exec(db,
                    "INSERT INTO inbox (recipient, event_id, event_type, subject, body)"
                    " VALUES ($1, $2::uuid, $3, $4, $5) ON CONFLICT DO NOTHING",
                    5, inbox);
    const char *channels[3] = {"inbox", email ? "email" : NULL, webhook ? "webhook" : NULL};
    for (int i = 0; i < 3 && rc == 0; i++) {
        if (!channels[i])
            continue;
        const char *row[8] = {event_id, event_type, recipient,  channels[i],
                              subject,  body,       event_json, i == 0 ? "sent" : "pending"};
        rc = s_exec(db,
                    "INSERT INTO deliveries (event_id, event_type, recipient, channel, subject,"
                    " body, event_json, status) VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8)"
                    " ON CONFLICT (event_id, recipient, channel) DO NOTHING",
                    8, row);
    }
    return rc;
}

/* Notifies one recipient of event. Returns 0, or -1 on a database error. */
static int s_notify(PGconn *db, const Chuang__Event *event, json_t *payload, const char *event_json,
                    const char *recipient)
{
    const char *values[3] = {recipient, event->agency, event->type};
    PGresult *res = db_query(db,
                             "SELECT t.subject, t.body FROM (SELECT 1) one"
                             " LEFT JOIN recipients r ON r.id = $1"
                             " JOIN templates t ON t.event_type = $3 AND t.agency IN ($2, '')"
                             "   AND t.language = coalesce(r.language, 'zh-CN')"
                             " ORDER BY t.agency = $2 DESC LIMIT 1",
                             3, values, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return -1;
    }
    if (PQntuples(res) == 0) {
        PQclear(res); /* no template for this event: nothing to say */
        return 0;
    }
    char error[256] = "";
    char *subject = notifier_render(PQgetvalue(res, 0, 0), payload, error, sizeof error);
    char *body =
        subject ? notifier_render(PQgetvalue(res, 0, 1), payload, error, sizeof error) : NULL;
    PQclear(res);
    int rc;
    if (!subject || !body) {
        /* The recipient may be an ID number: the event id finds the row. */
        log_warn("notification not rendered", "event_type=%s event_id=%s error=\"%s\"", event->type,
                 event->id, error);
        const char *row[5] = {event->id, event->type, recipient, event_json, error};
        rc = s_exec(db,
                    "INSERT INTO deliveries (event_id, event_type, recipient, channel,"
                    " event_json, status, last_error)"
                    " VALUES ($1::uuid, $2, $3, 'inbox', $4, 'failed', $5)"
                    " ON CONFLICT (event_id, recipient, channel) DO NOTHING",
                    5, row);
    } else {
        rc = notifier_deliver(db, event->id, event->type, recipient, subject, body, event_json);
    }
    free(subject);
    free(body);
    return rc;
}

int notifier_apply(PGconn *db, const Chuang__Event *event, void *arg, char *error)
{
    (void)arg;
    const ProtobufCMessageDescriptor *type = messages_find(catalog_services, event->payload_type);
    ProtobufCMessage *message =
        type ? protobuf_c_message_unpack(type, NULL, event->payload.len, event->payload.data)
             : NULL;
    /* The payload names who is concerned (by ID number); what reaches them,
     * templates and webhooks alike, is the payload without personal data. */
    json_t *named = message ? pbjson_from_message(message, true) : NULL;
    if (message)
        redact_message(message);
    json_t *payload = message ? pbjson_from_message(message, true) : NULL;
    protobuf_c_message_free_unpacked(message, NULL);
    if (!payload || !named) {
        json_decref(named);
        json_decref(payload);
        /* Nothing can be said of an event that cannot be read: record it, go on. */
        log_warn("event payload unreadable; no notification", "event_id=%s type=%s", event->id,
                 event->type);
        const char *values[3] = {event->id, event->type, "event payload cannot be read"};
        if (s_exec(db,
                   "INSERT INTO deliveries (event_id, event_type, recipient, channel, status,"
                   " last_error) VALUES ($1::uuid, $2, '', 'inbox', 'failed', $3)"
                   " ON CONFLICT DO NOTHING",
                   3, values) == 0)
            return 0;
        snprintf(error, 256, "database error: %s", PQerrorMessage(db));
        return -1;
    }
    char *event_json = json_dumps(payload, JSON_COMPACT);
    const char *paths[RECIPIENTS_MAX] = {"applicantIdNumber", "legalRepresentative.idNumber",
                                         "creditCode", NULL};
    int rc = 0;
    for (size_t i = 0; paths[i] && rc == 0; i++) {
        json_t *value = s_lookup(named, paths[i]);
        char recipient[RECIPIENT_REF_SIZE];
        recipient_ref(json_string_value(value), recipient);
        if (json_is_string(value) && *recipient)
            rc = s_notify(db, event, payload, event_json, recipient);
    }
    /* And whoever subscribed to the event's type, and the officers whose
     * role hears of it. */
    const char *event_type[1] = {event->type};
    PGresult *subscribers = NULL;
    if (rc == 0)
        subscribers = db_query(db,
                               "SELECT recipient FROM subscriptions"
                               " WHERE kind = 'topic' AND strpos($1, value) = 1"
                               " UNION "
                               "SELECT r.id FROM recipients r JOIN role_routes t"
                               " ON t.role = ANY (r.roles) AND strpos($1, t.event_type) = 1",
                               1, event_type, NULL, NULL, 0);
    if (subscribers && PQresultStatus(subscribers) != PGRES_TUPLES_OK)
        rc = -1;
    for (int i = 0; rc == 0 && subscribers && i < PQntuples(subscribers); i++)
        rc = s_notify(db, event, payload, event_json, PQgetvalue(subscribers, i, 0));
    PQclear(subscribers);
    if (rc != 0)
        snprintf(error, 256, "database error: %s", PQerrorMessage(db));
    free(event_json);
    json_decref(payload);
    json_decref(named);
    return rc;
}
