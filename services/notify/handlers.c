/*
 * handlers.c - the notify service's request handlers: recipients and their
 * channels, the in-app inbox, and the dead letters an officer replays.
 */
#include "handlers.h"
#include "channel.h"
#include "notify.pb-c.h"

#include <czmq.h>

#define RECIPIENT_MAX 64
#define SECRET_MIN    16
#define LIST_DEFAULT  20
#define LIST_MAX      100

static bool s_is_officer(service_call_t *call)
{
    const Chuang__RequestHeader *header = service_call_header(call);
    for (size_t i = 0; i < header->n_roles; i++)
        if (streq(header->roles[i], "officer"))
            return true;
    return false;
}

static bool s_recipient_valid(service_call_t *call, const char *id)
{
    if (*id && strlen(id) <= RECIPIENT_MAX &&
        strspn(id, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                   "abcdefghijklmnopqrstuvwxyz-_.") == strlen(id))
        return true;
    service_call_violation(call, "recipient", "must be 1 to %d letters, digits, '-', '_' or '.'",
                           RECIPIENT_MAX);
    return false;
}

static int s_limit(service_call_t *call, int32_t limit)
{
    if (limit < 0 || limit > LIST_MAX) {
        service_call_violation(call, "limit", "must be between 1 and %d", LIST_MAX);
        return -1;
    }
    return limit ? limit : LIST_DEFAULT;
}

Chuang__Status handle_set_recipient(service_call_t *call, const ProtobufCMessage *input,
                                    ProtobufCMessage *output)
{
    const Chuang__Notify__Recipient *request = (const Chuang__Notify__Recipient *)input;
    char reason[160];
    if (!*request->id || strlen(request->id) > RECIPIENT_MAX)
        service_call_violation(call, "id", "must be 1 to %d characters", RECIPIENT_MAX);
    if (*request->email && channel_email_check(request->email, reason, sizeof reason) != 0)
        service_call_violation(call, "email", "%s", reason);
    if (*request->webhook_url && channel_url_check(request->webhook_url, reason, sizeof reason))
        service_call_violation(call, "webhook_url", "%s", reason);
    if (*request->webhook_url && strlen(request->webhook_secret) < SECRET_MIN)
        service_call_violation(call, "webhook_secret", "must be at least %d characters",
                               SECRET_MIN);
    const char *language = *request->language ? request->language : "zh-CN";
    if (!streq(language, "zh-CN") && !streq(language, "en"))
        service_call_violation(call, "language", "must be zh-CN or en");
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    const char *values[7] = {request->id,
                             request->email,
                             request->webhook_url,
                             request->webhook_secret,
                             language,
                             request->email_off ? "t" : "f",
                             request->webhook_off ? "t" : "f"};
    PGresult *res = PQexecParams(
        service_call_db(call),
        "INSERT INTO recipients (id, email, webhook_url, webhook_secret, language, email_off,"
        " webhook_off) VALUES ($1, $2, $3, $4, $5, $6::boolean, $7::boolean)"
        " ON CONFLICT (id) DO UPDATE SET email = $2, webhook_url = $3, webhook_secret = $4,"
        " language = $5, email_off = $6::boolean, webhook_off = $7::boolean, updated_at = now()",
        7, NULL, values, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        Chuang__Status status = service_call_sql_fail(call, res, "set recipient");
        PQclear(res);
        return status;
    }
    PQclear(res);
    ((Chuang__Notify__RecipientReply *)output)->id = request->id;
    return CHUANG__STATUS__OK;
}

/* Fills page with the recipient's messages and unread count. */
static Chuang__Status s_inbox(service_call_t *call, const char *recipient, bool unread_only,
                              int limit, Chuang__Notify__InboxPage *page)
{
    char limit_text[16];
    snprintf(limit_text, sizeof limit_text, "%d", limit);
    const char *values[3] = {recipient, unread_only ? "t" : "f", limit_text};
    PGresult *res = PQexecParams(service_call_db(call),
                                 "SELECT id, event_type, subject, body,"
                                 " (extract(epoch FROM created_at) * 1000)::bigint,"
                                 " read_at IS NOT NULL,"
                                 " (SELECT count(*) FROM inbox WHERE recipient = $1"
                                 "   AND read_at IS NULL)"
                                 " FROM inbox WHERE recipient = $1"
                                 "   AND (NOT $2::boolean OR read_at IS NULL)"
                                 " ORDER BY id DESC LIMIT $3::int",
                                 3, NULL, values, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        Chuang__Status status = service_call_sql_fail(call, res, "read inbox");
        PQclear(res);
        return status;
    }
    int count = PQntuples(res);
    page->messages = service_call_alloc(call, ((size_t)count + 1) * sizeof *page->messages);
    for (int i = 0; i < count; i++) {
        Chuang__Notify__InboxMessage *message = service_call_alloc(call, sizeof *message);
        chuang__notify__inbox_message__init(message);
        message->id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        message->event_type = service_call_strdup(call, PQgetvalue(res, i, 1));
        message->subject = service_call_strdup(call, PQgetvalue(res, i, 2));
        message->body = service_call_strdup(call, PQgetvalue(res, i, 3));
        message->created_ms = strtoll(PQgetvalue(res, i, 4), NULL, 10);
        message->read = streq(PQgetvalue(res, i, 5), "t");
        page->messages[page->n_messages++] = message;
        page->unread = atoi(PQgetvalue(res, i, 6));
    }
    PQclear(res);
    if (count == 0) {
        /* The count needs asking when the page is empty. */
        res = PQexecParams(service_call_db(call),
                           "SELECT count(*) FROM inbox WHERE recipient = $1 AND read_at IS NULL", 1,
                           NULL, values, NULL, NULL, 0);
        if (PQresultStatus(res) == PGRES_TUPLES_OK)
            page->unread = atoi(PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    return CHUANG__STATUS__OK;
}

Chuang__Status handle_list_inbox(service_call_t *call, const ProtobufCMessage *input,
                                 ProtobufCMessage *output)
{
    const Chuang__Notify__InboxRequest *request = (const Chuang__Notify__InboxRequest *)input;
    s_recipient_valid(call, request->recipient);
    int limit = s_limit(call, request->limit);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    return s_inbox(call, request->recipient, request->unread_only, limit,
                   (Chuang__Notify__InboxPage *)output);
}

Chuang__Status handle_mark_read(service_call_t *call, const ProtobufCMessage *input,
                                ProtobufCMessage *output)
{
    const Chuang__Notify__MarkReadRequest *request = (const Chuang__Notify__MarkReadRequest *)input;
    if (!s_recipient_valid(call, request->recipient))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, request->message_id);
    const char *values[2] = {request->recipient, id};
    PGresult *res = PQexecParams(service_call_db(call),
                                 "UPDATE inbox SET read_at = coalesce(read_at, now())"
                                 " WHERE recipient = $1 AND id = $2::bigint",
                                 2, NULL, values, NULL, NULL, 0);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    bool found = ok && streq(PQcmdTuples(res), "1");
    if (!ok) {
        Chuang__Status status = service_call_sql_fail(call, res, "mark read");
        PQclear(res);
        return status;
    }
    PQclear(res);
    if (!found)
        return service_call_fail(call, CHUANG__STATUS__NOT_FOUND, "no such message", NULL, NULL);
    return s_inbox(call, request->recipient, false, LIST_DEFAULT,
                   (Chuang__Notify__InboxPage *)output);
}

#define DELIVERY_COLUMNS                                                                           \
    "id::text, event_id::text, event_type, recipient, channel, status, attempts, last_error"

static Chuang__Notify__Delivery *s_delivery(service_call_t *call, PGresult *res, int i)
{
    Chuang__Notify__Delivery *delivery = service_call_alloc(call, sizeof *delivery);
    chuang__notify__delivery__init(delivery);
    delivery->id = service_call_strdup(call, PQgetvalue(res, i, 0));
    delivery->event_id = service_call_strdup(call, PQgetvalue(res, i, 1));
    delivery->event_type = service_call_strdup(call, PQgetvalue(res, i, 2));
    delivery->recipient = service_call_strdup(call, PQgetvalue(res, i, 3));
    delivery->channel = service_call_strdup(call, PQgetvalue(res, i, 4));
    delivery->status = service_call_strdup(call, PQgetvalue(res, i, 5));
    delivery->attempts = atoi(PQgetvalue(res, i, 6));
    delivery->last_error = service_call_strdup(call, PQgetvalue(res, i, 7));
    return delivery;
}

Chuang__Status handle_list_deliveries(service_call_t *call, const ProtobufCMessage *input,
                                      ProtobufCMessage *output)
{
    const Chuang__Notify__DeliveriesRequest *request =
        (const Chuang__Notify__DeliveriesRequest *)input;
    Chuang__Notify__DeliveryList *list = (Chuang__Notify__DeliveryList *)output;
    if (!s_is_officer(call))
        return service_call_fail(call, CHUANG__STATUS__PERMISSION_DENIED, "officers only", NULL,
                                 NULL);
    const char *status = request->status;
    if (*status && !streq(status, "pending") && !streq(status, "sent") &&
        !streq(status, "failed") && !streq(status, "dead"))
        service_call_violation(call, "status", "must be pending, sent, failed or dead");
    int limit = s_limit(call, request->limit);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    char limit_text[16];
    snprintf(limit_text, sizeof limit_text, "%d", limit);
    const char *values[3] = {status, request->recipient, limit_text};
    PGresult *res = PQexecParams(service_call_db(call),
                                 "SELECT " DELIVERY_COLUMNS " FROM deliveries"
                                 " WHERE ($1 = '' OR status = $1) AND ($2 = '' OR recipient = $2)"
                                 " ORDER BY created_at DESC LIMIT $3::int",
                                 3, NULL, values, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        Chuang__Status failed = service_call_sql_fail(call, res, "list deliveries");
        PQclear(res);
        return failed;
    }
    list->deliveries =
        service_call_alloc(call, ((size_t)PQntuples(res) + 1) * sizeof *list->deliveries);
    for (int i = 0; i < PQntuples(res); i++)
        list->deliveries[list->n_deliveries++] = s_delivery(call, res, i);
    PQclear(res);
    return CHUANG__STATUS__OK;
}

Chuang__Status handle_replay_delivery(service_call_t *call, const ProtobufCMessage *input,
                                      ProtobufCMessage *output)
{
    const Chuang__Notify__ReplayRequest *request = (const Chuang__Notify__ReplayRequest *)input;
    if (!s_is_officer(call))
        return service_call_fail(call, CHUANG__STATUS__PERMISSION_DENIED, "officers only", NULL,
                                 NULL);
    if (strlen(request->delivery_id) != 36)
        return service_call_violation(call, "delivery_id", "is not a delivery id");
    const char *values[1] = {request->delivery_id};
    PGresult *res = PQexecParams(service_call_db(call),
                                 "UPDATE deliveries SET status = 'pending', attempts = 0,"
                                 " last_error = '', next_attempt_at = now()"
                                 " WHERE id = $1::uuid AND status = 'dead'"
                                 " RETURNING " DELIVERY_COLUMNS,
                                 1, NULL, values, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        Chuang__Status failed = service_call_sql_fail(call, res, "replay delivery");
        PQclear(res);
        return failed;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "no dead delivery with that id",
                                 "Only a delivery in the dead letters can be replayed.", NULL);
    }
    Chuang__Notify__Delivery *delivery = s_delivery(call, res, 0);
    PQclear(res);
    *(Chuang__Notify__Delivery *)output = *delivery;
    return CHUANG__STATUS__OK;
}
