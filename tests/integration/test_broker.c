/*
 * test_broker.c - the broker against hostile and broken peers, with raw
 * ZeroMQ sockets speaking MDP/0.1 by hand.
 *
 * A client that floods requests and never reads its replies must not stop
 * the broker serving others, nor keep SIGTERM from ending it; requests to
 * made-up service names must not grow the broker without bound; a worker
 * that sends REPLY holding no request is told DISCONNECT (RFC 7).
 */
#include "chuang.pb-c.h"
#include "client.h"
#include "config.h"
#include "harness.h"
#include "mdp.h"
#include "security.h"
#include "tally.pb-c.h"

#include <czmq.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sys/wait.h>

#define BROKER CHUANG_BUILD_DIR "/services/broker/chuang-broker"
#define TALLY  CHUANG_BUILD_DIR "/tests/fixtures/tally/chuang-tally"

static char s_db_url[512];
static char s_endpoint[64];
static pid_t s_broker;
static pid_t s_tally;
static config_t *s_config;
static security_t *s_plain;

static pid_t s_start_broker(void)
{
    char *bind = zsys_sprintf("CHUANG_BROKER_ENDPOINT=%s", s_endpoint);
    /* Under AddressSanitizer freed memory waits in a quarantine, which
     * would hide whether the broker frees what it should: no quarantine. */
    const char *asan = getenv("ASAN_OPTIONS");
    char *sanitizer = zsys_sprintf("ASAN_OPTIONS=%s%squarantine_size_mb=0", asan ? asan : "",
                                   asan && *asan ? ":" : "");
    const char *env[] = {bind, "CHUANG_SECURITY_PLAIN=yes", "CHUANG_BROKER_HEARTBEAT_MS=500",
                         sanitizer, NULL};
    pid_t pid = harness_spawn("broker", BROKER, env);
    zstr_free(&bind);
    zstr_free(&sanitizer);
    return pid;
}

static int s_setup(void **state)
{
    (void)state;
    if (harness_init("broker") != 0)
        return -1;
    const char *url = harness_service_db("broker", "tally");
    if (!url)
        return -1;
    snprintf(s_db_url, sizeof s_db_url, "%s", url);
    snprintf(s_endpoint, sizeof s_endpoint, "tcp://127.0.0.1:%d", harness_free_port());
    s_broker = s_start_broker();
    char *brokers = zsys_sprintf("CHUANG_BROKERS=%s", s_endpoint);
    char *db = zsys_sprintf("CHUANG_DB_URL=%s", s_db_url);
    const char *env[] = {brokers, db, "CHUANG_SECURITY_PLAIN=yes", "CHUANG_WORKER_HEARTBEAT_MS=500",
                         NULL};
    s_tally = harness_spawn("tally", TALLY, env);
    zstr_free(&brokers);
    zstr_free(&db);
    s_config = config_new(NULL);
    config_set(s_config, "security.plain", "yes");
    s_plain = security_new(s_config);
    return harness_wait_service(s_endpoint, "tally", 20000);
}

static int s_teardown(void **state)
{
    (void)state;
    harness_stop(s_tally, SIGTERM, 5000);
    harness_stop(s_broker, SIGTERM, 5000);
    security_destroy(&s_plain);
    config_destroy(&s_config);
    return 0;
}

/* A packed chuang.Request for tally.Echo with deadline_ms (0: none). */
static zframe_t *s_echo_request(int64_t deadline_ms)
{
    Chuang__Tally__EchoRequest echo = CHUANG__TALLY__ECHO_REQUEST__INIT;
    uint8_t payload[64];
    size_t payload_size = chuang__tally__echo_request__pack(&echo, payload);
    Chuang__RequestHeader header = CHUANG__REQUEST_HEADER__INIT;
    header.request_id = "flood";
    header.method = "Echo";
    header.deadline_ms = deadline_ms;
    Chuang__Request request = CHUANG__REQUEST__INIT;
    request.header = &header;
    request.payload.data = payload;
    request.payload.len = payload_size;
    zframe_t *frame = zframe_new(NULL, chuang__request__get_packed_size(&request));
    chuang__request__pack(&request, zframe_data(frame));
    return frame;
}

/* Sends an MDP client request for service with body, never waiting. */
static int s_send_request(zsock_t *dealer, const char *service, zframe_t *body)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addmem(msg, NULL, 0);
    zmsg_addstr(msg, MDP_CLIENT);
    zmsg_addstr(msg, service);
    zmsg_append(msg, &(zframe_t *){zframe_dup(body)});
    int rc = zmsg_send(&msg, dealer);
    zmsg_destroy(&msg);
    return rc;
}

static Chuang__Status s_echo(client_t *client)
{
    Chuang__Tally__EchoRequest echo = CHUANG__TALLY__ECHO_REQUEST__INIT;
    Chuang__Reply *reply = client_call(client, "tally", "Echo", &echo.base, NULL);
    Chuang__Status status = reply->status;
    chuang__reply__free_unpacked(reply, NULL);
    return status;
}

/* The broker's resident memory in kB, from /proc. */
static long s_rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *file = fopen(path, "r");
    long kb = -1;
    while (file && fgets(line, sizeof line, file))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (file)
        fclose(file);
    return kb;
}

static void test_a_client_that_never_reads_stops_nobody(void **state)
{
    (void)state;
    zsock_t *flood = zsock_new(ZMQ_DEALER);
    zsock_set_rcvhwm(flood, 1);
    zsock_set_sndhwm(flood, 0);
    zsock_set_sndtimeo(flood, 2000);
    assert_int_equal(zsock_connect(flood, "%s", s_endpoint), 0);
    /* Questions the broker answers itself, at once: the answers pile up
     * towards a client that reads none. */
    zframe_t *body = zframe_from("tally");
    for (int i = 0; i < 200000; i++)
        if (s_send_request(flood, "mmi.service", body) != 0)
            break;
    zframe_destroy(&body);
    zclock_sleep(1000);

    /* Others are served all the while. */
    client_t *client = client_new(s_endpoint, s_plain);
    client_set_identity(client, "330106", "officer-1", "officer");
    client_set_timeouts(client, 2000, 6000);
    for (int i = 0; i < 3; i++)
        assert_int_equal(s_echo(client), CHUANG__STATUS__OK);
    client_destroy(&client);
    zsock_destroy(&flood);
}

static void test_made_up_service_names_leave_nothing_behind(void **state)
{
    (void)state;
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    zsock_set_sndhwm(dealer, 0);
    assert_int_equal(zsock_connect(dealer, "%s", s_endpoint), 0);
    /* Requests that expire at once, each to a name nobody serves. The
     * first round sets the high-water mark; the rounds after it must reuse
     * what the first left free. */
    long before = -1;
    zframe_t *body = s_echo_request(zclock_time() + 1);
    for (int round = 0; round < 4; round++) {
        if (round == 1)
            before = s_rss_kb(s_broker);
        for (int i = 0; i < 20000; i++) {
            char name[64];
            snprintf(name, sizeof name, "made-up-%d-%d", round, i);
            assert_int_equal(s_send_request(dealer, name, body), 0);
        }
        /* Let them expire and drain their answers. */
        for (int64_t end = zclock_mono() + 1500; zclock_mono() < end;) {
            zmsg_t *reply = zmsg_recv_nowait(dealer);
            if (!reply)
                zclock_sleep(20);
            zmsg_destroy(&reply);
        }
    }
    zframe_destroy(&body);
    long after = s_rss_kb(s_broker);
    fprintf(stderr, "broker rss %ld kB after 20,000 made-up names, %ld kB after 80,000\n", before,
            after);
    assert_true(before > 0 && after > 0);
    assert_true(after - before < 6000); /* 60,000 entries kept took about 13 MB */
    zsock_destroy(&dealer);
}

static void test_reply_without_a_request_is_disconnected(void **state)
{
    (void)state;
    zsock_t *worker = zsock_new(ZMQ_DEALER);
    assert_int_equal(zsock_connect(worker, "%s", s_endpoint), 0);
    zsock_set_rcvtimeo(worker, 3000);
    zstr_sendx(worker, "", MDP_WORKER, MDP_READY, "rogue", NULL);
    zclock_sleep(200);
    zstr_sendx(worker, "", MDP_WORKER, MDP_REPLY, "client", "", "body", NULL);
    bool disconnected = false;
    for (int i = 0; i < 10 && !disconnected; i++) {
        zmsg_t *msg = zmsg_recv(worker);
        if (!msg)
            break;
        char *empty = zmsg_popstr(msg), *header = zmsg_popstr(msg), *command = zmsg_popstr(msg);
        disconnected =
            header && streq(header, MDP_WORKER) && command && streq(command, MDP_DISCONNECT);
        zstr_free(&empty);
        zstr_free(&header);
        zstr_free(&command);
        zmsg_destroy(&msg);
    }
    assert_true(disconnected);
    zsock_destroy(&worker);
}

static void test_sigterm_ends_a_flooded_broker(void **state)
{
    (void)state;
    zsock_t *flood = zsock_new(ZMQ_DEALER);
    zsock_set_rcvhwm(flood, 1);
    zsock_set_sndhwm(flood, 0);
    assert_int_equal(zsock_connect(flood, "%s", s_endpoint), 0);
    zframe_t *body = zframe_from("tally");
    for (int i = 0; i < 200000; i++)
        s_send_request(flood, "mmi.service", body);
    zframe_destroy(&body);
    zclock_sleep(500);
    int status = harness_stop(s_broker, SIGTERM, 5000);
    assert_true(WIFEXITED(status));
    zsock_destroy(&flood);
    s_broker = s_start_broker();
    assert_int_equal(harness_wait_service(s_endpoint, "tally", 20000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_made_up_service_names_leave_nothing_behind),
        cmocka_unit_test(test_a_client_that_never_reads_stops_nobody),
        cmocka_unit_test(test_reply_without_a_request_is_disconnected),
        cmocka_unit_test(test_sigterm_ends_a_flooded_broker),
    };
    return cmocka_run_group_tests_name("broker", tests, s_setup, s_teardown);
}
