/*
 * ctl.c - chuangctl, the operator's tool: call any service's method with JSON
 * in and JSON out, ask the brokers which services have workers, list the
 * methods it knows, generate CURVE certificates.
 *
 *   chuangctl [-c FILE] [--plain] call SERVICE METHOD [JSON]   (JSON or stdin)
 *        [--key IDEMPOTENCY-KEY] [--timeout MS] [--agency CODE]
 *        [--actor ID] [--roles R1,R2]
 *   chuangctl [-c FILE] [--plain] services [NAME...]
 *   chuangctl methods
 *   chuangctl keygen PATH [NAME]
 *   chuangctl licence-keygen PATH
 *   chuangctl licence-verify LICENCE.json PUBLIC-KEY-FILE
 *   chuangctl [-c FILE] feed tail STREAM [--after N] [--topics T1,T2] [--count K]
 *   chuangctl audit verify DB-URL SCHEMA [PUBLIC-KEY-FILE]
 *   chuangctl audit list DB-URL SCHEMA AGGREGATE
 *
 * Settings come from the file and CHUANG_* variables as for every process
 * (brokers, security.*); --plain is the explicit switch for plain sockets.
 * The methods it can call are those of the protobuf services it was built
 * with (catalog_services); JSON is converted by pbjson through their
 * descriptors, so no per-method code is needed here.
 *
 * feed tail follows a service's events through the agency's feed (settings
 * feed.endpoint and feed.server_cert) from a sequence, live, printing each
 * as a JSON line with its payload decoded; --count stops after K events.
 *
 * licence-verify checks an electronic business licence offline, from the
 * licence (the JSON IssueLicence returned, or its "reply") and the issuing
 * agency's public key file alone: no broker, no network.
 *
 * audit verify checks a service's audit log (its chain and, with the
 * agency's public key file, its signed checkpoints) from the database alone,
 * or from a restored copy of it; audit list shows who did what to an
 * aggregate, as JSON lines. Exit 0 when the chain holds, 1 when it does not.
 *
 * A call prints one JSON object: status, message, detail, hint,
 * violations, and the method's reply under "reply". Exit status: 0 when the
 * status is OK, 1 when it is not, 2 for a usage or input error.
 */
#include "audit.h"
#include "catalog.h"
#include "client.h"
#include "config.h"
#include "consumer.h"
#include "db.h"
#include "licence.h"
#include "feed_client.h"
#include "logger.h"
#include "messages.h"
#include "pbjson.h"
#include "redis_link.h"
#include "relay_reconcile.h"
#include "registry.pb-c.h"
#include "security.h"

#include <czmq.h>
#include <getopt.h>

#define EXIT_NOT_OK 1
#define EXIT_USAGE  2

static void s_usage(void)
{
    fprintf(stderr,
            "usage: chuangctl [-c FILE] [--plain] call SERVICE METHOD [JSON]\n"
            "           [--key KEY] [--timeout MS] [--agency CODE] [--actor ID] [--roles LIST]\n"
            "       chuangctl [-c FILE] [--plain] services [NAME...]\n"
            "       chuangctl methods\n"
            "       chuangctl keygen PATH [NAME]\n"
            "       chuangctl licence-keygen PATH\n"
            "       chuangctl licence-verify LICENCE.json PUBLIC-KEY-FILE\n"
            "       chuangctl [-c FILE] feed tail STREAM [--after N] [--topics LIST] "
            "[--count K]\n"
            "       chuangctl audit verify DB-URL SCHEMA [PUBLIC-KEY-FILE]\n"
            "       chuangctl audit list DB-URL SCHEMA AGGREGATE\n"
            "       chuangctl -c SERVICE.conf relay status|reconcile SERVICE\n"
            "       chuangctl -c SERVICE.conf consumer blocks SERVICE\n"
            "       chuangctl -c SERVICE.conf consumer release SERVICE STREAM AGGREGATE\n");
}

/* The catalog's service whose short name, or last package component, is name
 * (case-insensitive): "tally" finds chuang.tally.Tally. */
static int s_methods(void)
{
    for (size_t i = 0; catalog_services[i]; i++) {
        const ProtobufCServiceDescriptor *service = catalog_services[i];
        for (unsigned m = 0; m < service->n_methods; m++)
            printf("%s %s (%s) -> %s\n", service->name, service->methods[m].name,
                   service->methods[m].input->name, service->methods[m].output->name);
    }
    return 0;
}

static int s_keygen(int argc, char **argv)
{
    if (argc < 1 || argc > 2) {
        s_usage();
        return EXIT_USAGE;
    }
    if (security_keygen(argv[0], argc == 2 ? argv[1] : argv[0]) != 0) {
        fprintf(stderr, "chuangctl: cannot write certificate %s\n", argv[0]);
        return EXIT_NOT_OK;
    }
    printf("%s\n%s_secret\n", argv[0], argv[0]);
    return 0;
}

static int s_licence_keygen(int argc, char **argv)
{
    if (argc != 1) {
        s_usage();
        return EXIT_USAGE;
    }
    if (agency_key_generate(argv[0]) != 0) {
        fprintf(stderr,
                "chuangctl: cannot write signing key %s (an existing key is never "
                "overwritten)\n",
                argv[0]);
        return EXIT_NOT_OK;
    }
    printf("%s\n%s_secret\n", argv[0], argv[0]);
    return 0;
}

static int s_licence_verify(int argc, char **argv)
{
    if (argc != 2) {
        s_usage();
        return EXIT_USAGE;
    }
    json_error_t error;
    json_t *json = json_load_file(argv[0], 0, &error);
    if (!json) {
        fprintf(stderr, "chuangctl: %s is not JSON: %s (line %d)\n", argv[0], error.text,
                error.line);
        return EXIT_USAGE;
    }
    json_t *reply = json_object_get(json, "reply");
    char err[256];
    ProtobufCMessage *message = pbjson_to_message(&chuang__registry__licence__descriptor,
                                                  reply ? reply : json, err, sizeof err);
    json_decref(json);
    if (!message) {
        fprintf(stderr, "chuangctl: %s is not a licence: %s\n", argv[0], err);
        return EXIT_USAGE;
    }
    char key[LICENCE_PUBLIC_HEX_SIZE + 2] = "";
    FILE *file = fopen(argv[1], "r");
    if (!file || !fgets(key, sizeof key, file)) {
        fprintf(stderr, "chuangctl: cannot read public key %s\n", argv[1]);
        if (file)
            fclose(file);
        pbjson_message_free(message);
        return EXIT_USAGE;
    }
    fclose(file);
    key[strcspn(key, "\r\n")] = '\0';
    const Chuang__Registry__Licence *licence = (const Chuang__Registry__Licence *)message;
    licence_fields_t fields = licence_fields_of(licence);
    char reason[160];
    int rc = licence_verify(&fields, licence->signature, key, reason, sizeof reason);
    if (rc == 0)
        printf("valid: %s %s, issued by %s at %s\n", licence->credit_code, licence->name,
               licence->issuing_agency, licence->issued_at);
    else
        printf("invalid: %s\n", reason);
    pbjson_message_free(message);
    return rc == 0 ? 0 : EXIT_NOT_OK;
}

/* An event as a JSON object, its payload decoded when its type is known. */
static json_t *s_event_json(const Chuang__Event *event)
{
    json_t *json = pbjson_from_message(&event->base, false);
    const ProtobufCMessageDescriptor *type = messages_find(catalog_services, event->payload_type);
    ProtobufCMessage *payload =
        type ? protobuf_c_message_unpack(type, NULL, event->payload.len, event->payload.data)
             : NULL;
    if (json && payload)
        json_object_set_new(json, "payload", pbjson_from_message(payload, false));
    protobuf_c_message_free_unpacked(payload, NULL);
    return json;
}

static int s_feed_tail(config_t *config, security_t *security, int argc, char **argv, int64_t after,
                       const char *topics, long count)
{
    if (argc != 2 || !streq(argv[0], "tail")) {
        s_usage();
        return EXIT_USAGE;
    }
    char *server_public = NULL;
    const char *cert_path = config_str(config, "feed.server_cert", NULL);
    if (cert_path) {
        zcert_t *cert = zcert_load(cert_path);
        if (!cert) {
            fprintf(stderr, "chuangctl: cannot load feed.server_cert %s\n", cert_path);
            return EXIT_USAGE;
        }
        server_public = strdup(zcert_public_txt(cert));
        zcert_destroy(&cert);
    }
    feed_client_t *feed =
        feed_client_new(config_str(config, "feed.endpoint", "tcp://127.0.0.1:5570"), security,
                        server_public, argv[1], after, topics);
    free(server_public);
    if (!feed) {
        fprintf(stderr, "chuangctl: feed tail needs feed.endpoint and feed.server_cert\n");
        return EXIT_USAGE;
    }
    int rc = 0;
    for (long printed = 0; !zsys_interrupted && (count <= 0 || printed < count);) {
        Chuang__Reply *refusal = NULL;
        Chuang__Event *event = feed_client_next(feed, 1000, &refusal);
        if (refusal) {
            fprintf(stderr, "chuangctl: the feed refused: %s\n", refusal->message);
            chuang__reply__free_unpacked(refusal, NULL);
            rc = EXIT_NOT_OK;
            break;
        }
        if (!event)
            continue;
        json_t *json = s_event_json(event);
        json_dumpf(json, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        fflush(stdout);
        json_decref(json);
        chuang__event__free_unpacked(event, NULL);
        printed++;
    }
    feed_client_destroy(&feed);
    return rc;
}

static int s_services(client_t *client, int argc, char **argv)
{
    int rc = 0;
    zlist_t *names = zlist_new();
    for (int i = 0; i < argc; i++)
        zlist_append(names, argv[i]);
    for (size_t i = 0; argc == 0 && catalog_services[i]; i++) {
        const char *package = catalog_services[i]->package;
        const char *last = strrchr(package, '.');
        zlist_append(names, (void *)(last ? last + 1 : package));
    }
    for (const char *name = zlist_first(names); name; name = zlist_next(names)) {
        int exists = client_service_exists(client, name);
        printf("%s %s\n", name, exists == 1 ? "200" : exists == 0 ? "404" : "unreachable");
        if (exists != 1)
            rc = EXIT_NOT_OK;
    }
    zlist_destroy(&names);
    return rc;
}

static json_t *s_reply_json(const Chuang__Reply *reply, const ProtobufCMessageDescriptor *output)
{
    json_t *json = json_object();
    const ProtobufCEnumValue *status =
        protobuf_c_enum_descriptor_get_value(&chuang__status__descriptor, (int)reply->status);
    json_object_set_new(json, "status",
                        status ? json_string(status->name)
                               : json_integer((json_int_t)reply->status));
    json_object_set_new(json, "message", json_string(reply->message));
    if (*reply->detail)
        json_object_set_new(json, "detail", json_string(reply->detail));
    if (*reply->hint)
        json_object_set_new(json, "hint", json_string(reply->hint));
    if (reply->n_violations) {
        json_t *violations = json_array();
        for (size_t i = 0; i < reply->n_violations; i++)
            json_array_append_new(violations,
                                  pbjson_from_message(&reply->violations[i]->base, false));
        json_object_set_new(json, "violations", violations);
    }
    if (reply->status == CHUANG__STATUS__OK) {
        ProtobufCMessage *message =
            protobuf_c_message_unpack(output, NULL, reply->payload.len, reply->payload.data);
        json_t *body = message ? pbjson_from_message(message, false) : NULL;
        json_object_set_new(json, "reply", body ? body : json_null());
        protobuf_c_message_free_unpacked(message, NULL);
    }
    return json;
}

static int s_call(client_t *client, int argc, char **argv, const client_options_t *options)
{
    if (argc < 2 || argc > 3) {
        s_usage();
        return EXIT_USAGE;
    }
    const ProtobufCServiceDescriptor *service = catalog_find_service(argv[0]);
    const ProtobufCMethodDescriptor *method =
        service ? protobuf_c_service_descriptor_get_method_by_name(service, argv[1]) : NULL;
    if (!method) {
        fprintf(stderr, "chuangctl: unknown method %s %s (see: chuangctl methods)\n", argv[0],
                argv[1]);
        return EXIT_USAGE;
    }
    json_error_t error;
    json_t *input = argc == 3 ? json_loads(argv[2], 0, &error) : json_loadf(stdin, 0, &error);
    if (!input) {
        fprintf(stderr, "chuangctl: input is not JSON: %s (line %d, column %d)\n", error.text,
                error.line, error.column);
        return EXIT_USAGE;
    }
    char err[256];
    ProtobufCMessage *message = pbjson_to_message(method->input, input, err, sizeof err);
    json_decref(input);
    if (!message) {
        fprintf(stderr, "chuangctl: invalid %s: %s\n", method->input->name, err);
        return EXIT_USAGE;
    }
    Chuang__Reply *reply = client_call(client, argv[0], method->name, message, options);
    pbjson_message_free(message);
    if (!reply) {
        fprintf(stderr, "chuangctl: out of memory\n");
        return EXIT_NOT_OK;
    }
    json_t *json = s_reply_json(reply, method->output);
    json_dumpf(json, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
    json_decref(json);
    int rc = reply->status == CHUANG__STATUS__OK ? 0 : EXIT_NOT_OK;
    chuang__reply__free_unpacked(reply, NULL);
    return rc;
}

/* audit verify DB-URL SCHEMA [KEY-FILE] | audit list DB-URL SCHEMA AGGREGATE */
static int s_audit(int argc, char **argv)
{
    bool verify = argc >= 3 && argc <= 4 && streq(argv[0], "verify");
    bool list = argc == 4 && streq(argv[0], "list");
    if (!verify && !list) {
        s_usage();
        return EXIT_USAGE;
    }
    char key[AGENCY_KEY_PUBLIC_HEX_SIZE + 2] = "";
    if (verify && argc == 4) {
        FILE *file = fopen(argv[3], "r");
        if (!file || !fgets(key, sizeof key, file)) {
            fprintf(stderr, "chuangctl: cannot read public key %s\n", argv[3]);
            if (file)
                fclose(file);
            return EXIT_USAGE;
        }
        fclose(file);
        key[strcspn(key, "\r\n")] = '\0';
    }
    logger_init("chuangctl", LOGGER_WARN);
    PGconn *db = db_connect(argv[1], argv[2], 1);
    if (!db)
        return EXIT_USAGE;
    int rc = verify ? audit_verify(db, argv[2], *key ? key : NULL, stdout)
                    : audit_list(db, argv[3], stdout);
    PQfinish(db);
    return rc < 0 ? EXIT_NOT_OK : 0;
}

/* relay status|reconcile SERVICE, with the service's own settings (db.url,
 * db.schema, redis.url, redis.prefix) from config: whether its stream is
 * its outbox's, and making them agree (relay_reconcile.h). status exits 0
 * when they agree, 1 when not. */
static int s_relay(config_t *config, int argc, char **argv)
{
    if (argc != 2 || (!streq(argv[0], "status") && !streq(argv[0], "reconcile"))) {
        s_usage();
        return EXIT_USAGE;
    }
    const char *db_url = config_str(config, "db.url", NULL);
    const char *redis_url = config_str(config, "redis.url", NULL);
    if (!db_url || !redis_url) {
        fprintf(stderr, "chuangctl: the settings name no db.url or redis.url; give the service's "
                        "own settings file with -c\n");
        return EXIT_USAGE;
    }
    const char *schema = config_str(config, "db.schema", argv[1]);
    char prefix[256], stream[300];
    snprintf(prefix, sizeof prefix, "chuang:%s", schema);
    snprintf(stream, sizeof stream, "%s:events", config_str(config, "redis.prefix", prefix));
    PGconn *db = db_connect(db_url, schema, 1);
    redisContext *redis = redis_link_connect(redis_url, 1);
    int rc = EXIT_NOT_OK;
    if (!db || !redis) {
        fprintf(stderr, "chuangctl: cannot reach the service's database or Redis\n");
    } else if (streq(argv[0], "status")) {
        relay_comparison_t comparison;
        if (relay_compare(db, redis, stream, &comparison) != 0) {
            fprintf(stderr, "chuangctl: cannot compare the stream with the outbox\n");
        } else {
            printf("outbox through %" PRId64 ", stream %" PRId64 "..%" PRId64 ": %s\n",
                   comparison.outbox_last, comparison.stream_first, comparison.stream_last,
                   comparison.agree ? "they agree" : comparison.why);
            rc = comparison.agree ? 0 : EXIT_NOT_OK;
        }
    } else {
        rc = relay_reconcile(db, redis, stream, stdout) < 0 ? EXIT_NOT_OK : 0;
    }
    PQfinish(db);
    redisFree(redis);
    return rc;
}

/* consumer blocks SERVICE | consumer release SERVICE STREAM AGGREGATE, with
 * the consuming service's own settings from config: the aggregates whose
 * events wait behind a failed one, and the operator's decision to go on
 * without a dead one (consumer.h). */
static int s_consumer(config_t *config, int argc, char **argv)
{
    bool blocks = argc == 2 && streq(argv[0], "blocks");
    bool release = argc == 4 && streq(argv[0], "release");
    const char *db_url = config_str(config, "db.url", NULL);
    if ((!blocks && !release) || !db_url) {
        s_usage();
        return EXIT_USAGE;
    }
    PGconn *db = db_connect(db_url, config_str(config, "db.schema", argv[1]), 1);
    if (!db)
        return EXIT_NOT_OK;
    int rc = EXIT_NOT_OK;
    if (release) {
        int released = consumer_release(db, argv[2], argv[3]);
        if (released == 1)
            printf("released %s of %s: the events held behind it go on\n", argv[3], argv[2]);
        else if (released == 0)
            fprintf(stderr, "chuangctl: %s of %s is not blocked by a dead event\n", argv[3],
                    argv[2]);
        rc = released == 1 ? 0 : EXIT_NOT_OK;
    } else {
        PGresult *res =
            PQexec(db, "SELECT b.stream, b.aggregate_id, b.position, b.failures,"
                       " b.dead, b.error, (SELECT count(*) FROM chuang_inbox_held h"
                       "   WHERE h.stream = b.stream AND h.aggregate_id = b.aggregate_id)"
                       " FROM chuang_inbox_blocks b ORDER BY b.blocked_at");
        if (PQresultStatus(res) == PGRES_TUPLES_OK) {
            for (int i = 0; i < PQntuples(res); i++)
                printf("%s %s position %s: %s failures, %s, %s held behind it: %s\n",
                       PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                       PQgetvalue(res, i, 3),
                       streq(PQgetvalue(res, i, 4), "t") ? "dead (release to go on)" : "retrying",
                       PQgetvalue(res, i, 6), PQgetvalue(res, i, 5));
            rc = 0;
        }
        PQclear(res);
    }
    PQfinish(db);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"plain", no_argument, NULL, 'p'},
        {"key", required_argument, NULL, 'k'},
        {"timeout", required_argument, NULL, 't'},
        {"agency", required_argument, NULL, 'a'},
        {"actor", required_argument, NULL, 'u'},
        {"roles", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {"after", required_argument, NULL, 'A'},
        {"topics", required_argument, NULL, 'T'},
        {"count", required_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL;
    bool plain = false;
    client_options_t call_options = {0};
    const char *agency = NULL, *actor = "chuangctl", *roles = "";
    int64_t after = 0;
    const char *topics = "";
    long count = 0;
    int opt;
    /* Options may stand anywhere; GNU getopt moves the operands to the end. */
    while ((opt = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 'p':
            plain = true;
            break;
        case 'k':
            call_options.idempotency_key = optarg;
            break;
        case 't':
            call_options.timeout_ms = atoi(optarg);
            break;
        case 'a':
            agency = optarg;
            break;
        case 'u':
            actor = optarg;
            break;
        case 'r':
            roles = optarg;
            break;
        case 'A':
            after = atoll(optarg);
            break;
        case 'T':
            topics = optarg;
            break;
        case 'n':
            count = atol(optarg);
            break;
        default:
            s_usage();
            return opt == 'h' ? 0 : EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        s_usage();
        return EXIT_USAGE;
    }
    const char *command = argv[optind];
    argc -= optind + 1;
    argv += optind + 1;
    if (streq(command, "methods"))
        return s_methods();
    if (streq(command, "keygen"))
        return s_keygen(argc, argv);
    if (streq(command, "licence-keygen"))
        return s_licence_keygen(argc, argv);
    if (streq(command, "licence-verify"))
        return s_licence_verify(argc, argv);
    if (streq(command, "audit"))
        return s_audit(argc, argv);
    if (!streq(command, "call") && !streq(command, "services") && !streq(command, "feed") &&
        !streq(command, "relay") && !streq(command, "consumer")) {
        s_usage();
        return EXIT_USAGE;
    }

    zsys_init();
    logger_init("chuangctl", LOGGER_WARN);
    config_t *config = config_new(config_path);
    if (!config)
        return EXIT_USAGE;
    if (plain)
        config_set(config, "security.plain", "yes");
    logger_level_t level = LOGGER_WARN;
    logger_level_parse(config_str(config, "log.level", "warn"), &level);
    logger_init("chuangctl", level);
    int rc = EXIT_USAGE;
    if (streq(command, "relay") || streq(command, "consumer")) {
        rc = streq(command, "relay") ? s_relay(config, argc, argv) : s_consumer(config, argc, argv);
        config_destroy(&config);
        return rc;
    }
    security_t *security = security_new(config);
    if (security && streq(command, "feed")) {
        rc = s_feed_tail(config, security, argc, argv, after, topics, count);
        security_destroy(&security);
        config_destroy(&config);
        return rc;
    }
    client_t *client =
        security ? client_new(config_str(config, "brokers", "tcp://127.0.0.1:5555"), security)
                 : NULL;
    if (client) {
        client_set_identity(client, agency ? agency : config_str(config, "agency", ""), actor,
                            roles);
        client_set_timeouts(client, (int)config_int(config, "client.attempt_ms", 3000),
                            (int)config_int(config, "client.timeout_ms", 10000));
        rc = streq(command, "call") ? s_call(client, argc, argv, &call_options)
                                    : s_services(client, argc, argv);
    }
    client_destroy(&client);
    security_destroy(&security);
    config_destroy(&config);
    return rc;
}
