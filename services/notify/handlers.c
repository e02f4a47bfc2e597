/*
 * handlers.c - the notify service's request handlers: recipients and their
 * channels, the in-app inbox, and the dead letters an officer replays.
 */
#include "handlers.h"
#include "channel.h"
#include "db.h"
#include "db_array.h"
#include "notifier.h"
#include "notify.pb-c.h"
#include "recipient_ref.h"

#include <czmq.h>

#define RECIPIENT_MAX 64
#define SECRET_MIN    16
#define LIST_DEFAULT  20
#define LIST_MAX      100
#define ROLES_MAX     16

#define SUBSCRIPTIONS_MAX 32
#define TITLE_MAX_BYTES   400
#define BODY_MAX_BYTES    20000
#define CATEGORIES_MAX    6 /* as many as there are categories */

const bounds_t notify_bounds[] = {
    {"chuang.notify.Recipient.roles", ROLES_MAX},
    {"chuang.notify.SubscribeRequest.topics", SUBSCRIPTIONS_MAX},
    {"chuang.notify.SubscribeRequest.categories", CATEGORIES_MAX},
    {"chuang.notify.Bulletin.categories", CATEGORIES_MAX},
    {"chuang.notify.Bulletin.title", TITLE_MAX_BYTES},
    {"chuang.notify.Bulletin.body", BODY_MAX_BYTES},
    {NULL, 0},
};

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

/* The recipient id for what a request names (a resident ID number becomes
 * its reference; recipient_ref.h), in call memory. */
static const char *s_ref(service_call_t *call, const char *id)
{
    char ref[RECIPIENT_REF_SIZE];
    recipient_ref(id, ref);
    return service_call_strdup(call, ref);
}

/* true when recipient is the caller: the person a gateway authenticated
 * (recipients are named by ID number), or an operator's own principal. */
static bool s_is_caller(service_call_t *call, const char *recipient)
{
    const Chuang__Principal *principal = service_call_principal(call);
    char own[RECIPIENT_REF_SIZE];
    recipient_ref(principal->person_id_number, own);
    /* A person is theirs only by a resident ID number, turned into its
     * reference: any other text a gateway passed names nobody. */
    bool person = *principal->person_id_number && !streq(own, principal->person_id_number);
    return (person && streq(own, recipient)) ||
           (!streq(principal->kind, "gateway") && *service_call_header(call)->actor_id &&
            streq(service_call_header(call)->actor_id, recipient));
}

/* OK when the caller may manage recipient's settings and subscriptions: an
 * officer, or the recipient themselves. */
static Chuang__Status s_manages(service_call_t *call, const char *recipient)
{
    if (service_call_has_role(call, "officer") || s_is_caller(call, recipient))
        return CHUANG__STATUS__OK;
    return service_call_fail(call, CHUANG__STATUS__PERMISSION_DENIED, "not your recipient",
                             "A person manages their own notifications only.", NULL);
}

/* OK when the caller may read recipient's inbox: the recipient alone. */
static Chuang__Status s_reads(service_call_t *call, const char *recipient)
{
    if (s_is_caller(call, recipient))
        return CHUANG__STATUS__OK;
    return service_call_fail(call, CHUANG__STATUS__PERMISSION_DENIED, "not your inbox",
                             "An inbox is read by its recipient only.", NULL);
}

Chuang__Status handle_set_recipient(service_call_t *call, const ProtobufCMessage *input,
                                    ProtobufCMessage *output)
{
    const Chuang__Notify__Recipient *request = (const Chuang__Notify__Recipient *)input;
    const char *id = s_ref(call, request->id);
    char reason[160];
    if (!*id || strlen(id) > RECIPIENT_MAX)
        service_call_violation(call, "id", "must be 1 to %d characters", RECIPIENT_MAX);
    if (*request->email && channel_email_check(request->email, reason, sizeof reason) != 0)
        service_call_violation(call, "email", "%s", reason);
    if (*request->webhook_url && channel_webhook_check(request->webhook_url, reason, sizeof reason))
        service_call_violation(call, "webhook_url", "%s", reason);
    if (*request->webhook_url && strlen(request->webhook_secret) < SECRET_MIN)
        service_call_violation(call, "webhook_secret", "must be at least %d characters",
                               SECRET_MIN);
    const char *language = *request->language ? request->language : "zh-CN";
    if (!streq(language, "zh-CN") && !streq(language, "en"))
        service_call_violation(call, "language", "must be zh-CN or en");
    if (request->rate_per_minute < 0 || request->rate_per_minute > 10000)
        service_call_violation(call, "rate_per_minute", "must be between 0 and 10000");
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    Chuang__Status allowed = s_manages(call, id);
    if (allowed != CHUANG__STATUS__OK)
        return allowed;
    if (request->n_roles > 0 && !service_call_has_role(call, "officer"))
        return service_call_fail(call, CHUANG__STATUS__PERMISSION_DENIED,
                                 "officer role required to route roles",
                                 "Only an officer says which roles a recipient holds.", NULL);
    if (request->n_roles > ROLES_MAX)
        return service_call_violation(call, "roles", "at most %d roles", ROLES_MAX);
    for (size_t i = 0; i < request->n_roles; i++) {
        const char *role = request->roles[i];
        if (!*role || strlen(role) > 40 ||
            strspn(role, "abcdefghijklmnopqrstuvwxyz-") != strlen(role))
            return service_call_violation(call, "roles",
                                          "a role is 1 to 40 lower-case letters and '-'");
    }
    char *roles_literal = db_text_array(request->roles, request->n_roles);
    char *roles = service_call_strdup(call, roles_literal);
    free(roles_literal);
    char rate[16];
    snprintf(rate, sizeof rate, "%d", request->rate_per_minute);
    const char *values[9] = {id,
                             request->email,
                             request->webhook_url,
                             request->webhook_secret,
                             language,
                             request->email_off ? "t" : "f",
                             request->webhook_off ? "t" : "f",
                             rate,
                             roles};
    Chuang__Status failure;
    PGresult *res = service_call_query(
        call, "set recipient",
        "INSERT INTO recipients (id, email, webhook_url, webhook_secret, language, email_off,"
        " webhook_off, rate_per_minute, roles)"
        " VALUES ($1, $2, $3, $4, $5, $6::boolean, $7::boolean, $8::int, $9::text[])"
        " ON CONFLICT (id) DO UPDATE SET email = $2, webhook_url = $3, webhook_secret = $4,"
        " language = $5, email_off = $6::boolean, webhook_off = $7::boolean,"
        " rate_per_minute = $8::int, roles = $9::text[], updated_at = now()",
        9, values, PGRES_COMMAND_OK, &failure);
    if (!res)
        return failure;
    PQclear(res);
    ((Chuang__Notify__RecipientReply *)output)->id = (char *)id;
    return CHUANG__STATUS__OK;
}

/* Fills out with the page of the recipient's messages, newest first, and
 * the unread count. */
static Chuang__Status s_inbox(service_call_t *call, const char *recipient, bool unread_only,
                              const service_page_t *page, Chuang__Notify__InboxPage *out)
{
    const char *values[4] = {recipient, unread_only ? "t" : "f", page->fetch, page->after[0]};
    Chuang__Status failure;
    PGresult *res = service_call_query(
        call, "read inbox",
        "SELECT id, event_type, subject, body,"
        " (extract(epoch FROM created_at) * 1000)::bigint AS created_ms,"
        " read_at IS NOT NULL AS read"
        " FROM inbox WHERE recipient = $1 AND (NOT $2::boolean OR read_at IS NULL)"
        "   AND ($4::bigint IS NULL OR id < $4::bigint)"
        " ORDER BY id DESC LIMIT $3::int",
        4, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    Chuang__Status status =
        service_call_page_rows(call, page, res, &chuang__notify__inbox_message__descriptor,
                               &out->messages, &out->n_messages, &out->next_page_token);
    PQclear(res);
    if (status != CHUANG__STATUS__OK)
        return status;
    res = service_call_query(call, "count unread",
                             "SELECT count(*) FROM inbox WHERE recipient = $1 AND read_at IS NULL",
                             1, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    out->unread = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return CHUANG__STATUS__OK;
}

Chuang__Status handle_list_inbox(service_call_t *call, const ProtobufCMessage *input,
                                 ProtobufCMessage *output)
{
    const Chuang__Notify__InboxRequest *request = (const Chuang__Notify__InboxRequest *)input;
    const char *recipient = s_ref(call, request->recipient);
    s_recipient_valid(call, recipient);
    service_page_t page;
    service_call_page(call, "inbox", "i", request->limit, request->page_token, LIST_DEFAULT,
                      LIST_MAX, &page);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    Chuang__Status allowed = s_reads(call, recipient);
    if (allowed != CHUANG__STATUS__OK)
        return allowed;
    return s_inbox(call, recipient, request->unread_only, &page,
                   (Chuang__Notify__InboxPage *)output);
}

Chuang__Status handle_mark_read(service_call_t *call, const ProtobufCMessage *input,
                                ProtobufCMessage *output)
{
    const Chuang__Notify__MarkReadRequest *request = (const Chuang__Notify__MarkReadRequest *)input;
    const char *recipient = s_ref(call, request->recipient);
    if (!s_recipient_valid(call, recipient))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    Chuang__Status allowed = s_reads(call, recipient);
    if (allowed != CHUANG__STATUS__OK)
        return allowed;
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, request->message_id);
    const char *values[2] = {recipient, id};
    Chuang__Status failure;
    PGresult *res = service_call_query(call, "mark read",
                                       "UPDATE inbox SET read_at = coalesce(read_at, now())"
                                       " WHERE recipient = $1 AND id = $2::bigint",
                                       2, values, PGRES_COMMAND_OK, &failure);
    if (!res)
        return failure;
    bool found = streq(PQcmdTuples(res), "1");
    PQclear(res);
    if (!found)
        return service_call_fail(call, CHUANG__STATUS__NOT_FOUND, "no such message", NULL, NULL);
    service_page_t page;
    service_call_page(call, "inbox", "i", 0, NULL, LIST_DEFAULT, LIST_MAX, &page);
    return s_inbox(call, recipient, false, &page, (Chuang__Notify__InboxPage *)output);
}

/* A delivery's columns, named after its fields. Lists are ordered by
 * created_ms and id, newest first: the key of their pages. */
#define DELIVERY_COLUMNS                                                                           \
    "id::text AS id, event_id::text AS event_id, event_type, recipient, channel, status,"          \
    " attempts, last_error, (extract(epoch FROM created_at) * 1000)::bigint AS created_ms"

/* The delivery in row i of res, in call memory; NULL after a failure. */
static Chuang__Notify__Delivery *s_delivery(service_call_t *call, PGresult *res, int i)
{
    Chuang__Notify__Delivery *delivery = service_call_alloc(call, sizeof *delivery);
    chuang__notify__delivery__init(delivery);
    return service_call_row(call, res, i, &delivery->base) == CHUANG__STATUS__OK ? delivery : NULL;
}

Chuang__Status handle_list_deliveries(service_call_t *call, const ProtobufCMessage *input,
                                      ProtobufCMessage *output)
{
    const Chuang__Notify__DeliveriesRequest *request =
        (const Chuang__Notify__DeliveriesRequest *)input;
    const char *recipient = s_ref(call, request->recipient);
    Chuang__Notify__DeliveryList *list = (Chuang__Notify__DeliveryList *)output;
    const char *status = request->status;
    if (*status && !streq(status, "pending") && !streq(status, "sent") &&
        !streq(status, "failed") && !streq(status, "dead"))
        service_call_violation(call, "status", "must be pending, sent, failed or dead");
    service_page_t page;
    service_call_page(call, "deliveries", "iu", request->limit, request->page_token, LIST_DEFAULT,
                      LIST_MAX, &page);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    const char *values[5] = {status, recipient, page.fetch, page.after[0], page.after[1]};
    Chuang__Status failure;
    PGresult *res = service_call_query(
        call, "list deliveries",
        "SELECT * FROM (SELECT " DELIVERY_COLUMNS " FROM deliveries"
        "   WHERE ($1 = '' OR status = $1) AND ($2 = '' OR recipient = $2)) d"
        " WHERE $4::bigint IS NULL OR (d.created_ms, d.id::uuid) < ($4::bigint, $5::uuid)"
        " ORDER BY d.created_ms DESC, d.id::uuid DESC LIMIT $3::int",
        5, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    int rows = PQntuples(res), shown = rows < page.limit ? rows : page.limit;
    list->deliveries = service_call_alloc(call, ((size_t)shown + 1) * sizeof *list->deliveries);
    for (int i = 0; i < shown; i++) {
        Chuang__Notify__Delivery *delivery = s_delivery(call, res, i);
        if (!delivery) {
            PQclear(res);
            return CHUANG__STATUS__INTERNAL;
        }
        list->deliveries[list->n_deliveries++] = delivery;
    }
    if (shown > 0) {
        const Chuang__Notify__Delivery *last = list->deliveries[shown - 1];
        char created[24];
        snprintf(created, sizeof created, "%" PRId64, last->created_ms);
        const char *key[2] = {created, last->id};
        list->next_page_token = (char *)service_call_page_next(call, &page, rows, key);
    }
    PQclear(res);
    return CHUANG__STATUS__OK;
}

Chuang__Status handle_replay_delivery(service_call_t *call, const ProtobufCMessage *input,
                                      ProtobufCMessage *output)
{
    const Chuang__Notify__ReplayRequest *request = (const Chuang__Notify__ReplayRequest *)input;
    if (strlen(request->delivery_id) != 36)
        return service_call_violation(call, "delivery_id", "is not a delivery id");
    const char *values[1] = {request->delivery_id};
    Chuang__Status failure;
    PGresult *res = service_call_query(call, "replay delivery",
                                       "UPDATE deliveries SET status = 'pending', attempts = 0,"
                                       " last_error = '', next_attempt_at = now()"
                                       " WHERE id = $1::uuid AND status = 'dead'"
                                       " RETURNING " DELIVERY_COLUMNS,
                                       1, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "no dead delivery with that id",
                                 "Only a delivery in the dead letters can be replayed.", NULL);
    }
    Chuang__Notify__Delivery *delivery = s_delivery(call, res, 0);
    PQclear(res);
    if (!delivery)
        return CHUANG__STATUS__INTERNAL;
    *(Chuang__Notify__Delivery *)output = *delivery;
    return CHUANG__STATUS__OK;
}

/* The categories a bulletin may have. */
static const char *const s_categories[] = {"financing", "incubation",   "talent", "innovation",
                                           "tax",       "registration", NULL};

static bool s_category_known(const char *category)
{
    for (size_t i = 0; s_categories[i]; i++)
        if (streq(category, s_categories[i]))
            return true;
    return false;
}

/* Records a violation for each unknown category and for a region that is
 * neither "" (everywhere) nor a six-digit division code. */
static void s_check_categories(service_call_t *call, char **categories, size_t count,
                               const char *region)
{
    for (size_t i = 0; i < count; i++)
        if (!s_category_known(categories[i]))
            service_call_violation(call, "categories",
                                   "%.40s is not one of financing, incubation, talent, "
                                   "innovation, tax, registration",
                                   categories[i]);
    if (*region && (strlen(region) != 6 || strspn(region, "0123456789") != 6))
        service_call_violation(call, "region", "must be a six-digit division code, or empty");
}

Chuang__Status handle_subscribe(service_call_t *call, const ProtobufCMessage *input,
                                ProtobufCMessage *output)
{
    const Chuang__Notify__SubscribeRequest *request =
        (const Chuang__Notify__SubscribeRequest *)input;
    const char *recipient = s_ref(call, request->recipient);
    s_recipient_valid(call, recipient);
    if (request->n_topics + request->n_categories == 0 ||
        request->n_topics + request->n_categories > SUBSCRIPTIONS_MAX)
        service_call_violation(call, "topics", "give 1 to %d topics and categories in all",
                               SUBSCRIPTIONS_MAX);
    for (size_t i = 0; i < request->n_topics; i++)
        if (strlen(request->topics[i]) < 3 || strlen(request->topics[i]) > 100 ||
            !strchr(request->topics[i], '.'))
            service_call_violation(call, "topics", "%.100s is not an event type or prefix",
                                   request->topics[i]);
    s_check_categories(call, request->categories, request->n_categories, request->region);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    Chuang__Status failure = s_manages(call, recipient);
    if (failure != CHUANG__STATUS__OK)
        return failure;
    for (size_t i = 0; i < request->n_topics + request->n_categories; i++) {
        bool topic = i < request->n_topics;
        const char *values[4] = {recipient, topic ? "topic" : "category",
                                 topic ? request->topics[i]
                                       : request->categories[i - request->n_topics],
                                 topic ? "" : request->region};
        PGresult *res =
            service_call_query(call, "subscribe",
                               "INSERT INTO subscriptions (recipient, kind, value, region)"
                               " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                               4, values, PGRES_COMMAND_OK, &failure);
        if (!res)
            return failure;
        PQclear(res);
    }
    const char *values[1] = {recipient};
    PGresult *res = service_call_query(call, "count subscriptions",
                                       "SELECT count(*) FROM subscriptions WHERE recipient = $1", 1,
                                       values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    ((Chuang__Notify__SubscribeReply *)output)->subscriptions = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return CHUANG__STATUS__OK;
}

Chuang__Status handle_publish_bulletin(service_call_t *call, const ProtobufCMessage *input,
                                       ProtobufCMessage *output)
{
    const Chuang__Notify__Bulletin *request = (const Chuang__Notify__Bulletin *)input;
    Chuang__Notify__BulletinReply *reply = (Chuang__Notify__BulletinReply *)output;
    if (!*request->title || strlen(request->title) > TITLE_MAX_BYTES)
        service_call_violation(call, "title", "must be 1 to %d bytes", TITLE_MAX_BYTES);
    if (!*request->body || strlen(request->body) > BODY_MAX_BYTES)
        service_call_violation(call, "body", "must be 1 to %d bytes", BODY_MAX_BYTES);
    if (request->n_categories == 0)
        service_call_violation(call, "categories", "name at least one category");
    s_check_categories(call, request->categories, request->n_categories, request->region);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;

    char *categories_literal = db_text_array(request->categories, request->n_categories);
    char *categories = service_call_strdup(call, categories_literal);
    free(categories_literal);
    PGconn *db = service_call_db(call);
    const Chuang__RequestHeader *header = service_call_header(call);
    const char *values[6] = {header->agency, request->title,  request->body,
                             categories,     request->region, header->actor_id};
    Chuang__Status failure;
    PGresult *res =
        service_call_query(call, "publish bulletin",
                           "INSERT INTO bulletins (agency, title, body, categories, region,"
                           " published_by) VALUES ($1, $2, $3, $4::text[], $5, $6)"
                           " RETURNING id::text",
                           6, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    reply->id = service_call_strdup(call, PQgetvalue(res, 0, 0));
    PQclear(res);

    /* Subscribers of a category, in a region the bulletin covers: the same
     * division, or the bulletin's province or city containing it. */
    const char *match[2] = {categories, request->region};
    res = service_call_query(call, "bulletin subscribers",
                             "SELECT DISTINCT recipient FROM subscriptions"
                             " WHERE kind = 'category' AND value = ANY ($1::text[])"
                             "   AND ($2 = '' OR region = '' OR region = $2"
                             "     OR ($2 LIKE '__0000' AND left(region, 2) = left($2, 2))"
                             "     OR ($2 LIKE '____00' AND left(region, 4) = left($2, 4)))",
                             2, match, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    char *json =
        zsys_sprintf("{\"bulletinId\":\"%s\",\"region\":\"%s\"}", reply->id, request->region);
    int rc = 0;
    for (int i = 0; i < PQntuples(res) && rc == 0; i++)
        rc = notifier_deliver(db, reply->id, "notify.Bulletin", PQgetvalue(res, i, 0),
                              request->title, request->body, json);
    reply->recipients = PQntuples(res);
    zstr_free(&json);
    PQclear(res);
    if (rc != 0)
        return service_call_sql_fail(call, NULL, "deliver bulletin");
    return service_call_emit(call, "notify.BulletinPublished", reply->id,
                             CHUANG__VISIBILITY__VISIBILITY_PUBLIC, &request->base);
}
