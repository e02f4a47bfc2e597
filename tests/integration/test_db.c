/*
 * test_db.c - the PostgreSQL side of the framework against real servers:
 * migrations applied once by replicas starting together, an edited migration
 * refused, a failed one leaving nothing behind, and a service that carries on
 * when its database server restarts under it.
 */
#include "client.h"
#include "config.h"
#include "db.h"
#include "harness.h"
#include "redis_link.h"
#include "security.h"
#include "tally.pb-c.h"

#include <czmq.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define TALLY  CHUANG_BUILD_DIR "/tests/fixtures/tally/chuang-tally"
#define BROKER CHUANG_BUILD_DIR "/services/broker/chuang-broker"

static int s_setup(void **state)
{
    (void)state;
    return harness_init("db");
}

/* Writes a migration file into dir. */
static void s_write(const char *dir, const char *name, const char *sql)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs(sql, file);
    fclose(file);
}

static long s_count(PGconn *db, const char *sql)
{
    PGresult *res = PQexec(db, sql);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    long count = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    return count;
}

typedef struct {
    const char *url;
    const char *dir;
    int applied;
} migrate_t;

static void *s_migrate(void *args)
{
    migrate_t *migrate = args;
    PGconn *db = db_connect(migrate->url, "migrate", 5);
    const char *dirs[] = {migrate->dir, NULL};
    migrate->applied = db ? db_migrate(db, "migrate", dirs) : -1;
    PQfinish(db);
    return NULL;
}

static void test_replicas_apply_each_migration_once(void **state)
{
    (void)state;
    const char *url = harness_service_db("dbtest", "migrate");
    assert_non_null(url);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/migrate/sql", harness_dir());
    harness_sh("mkdir -p '%s'", dir);
    s_write(dir, "0001_first.sql", "CREATE TABLE first (id int PRIMARY KEY);");
    s_write(dir, "0002_second.sql",
            "CREATE TABLE second (id int); INSERT INTO second VALUES (1), (2);");

    enum { REPLICAS = 4 };
    pthread_t threads[REPLICAS];
    migrate_t migrates[REPLICAS];
    for (int i = 0; i < REPLICAS; i++) {
        migrates[i] = (migrate_t){.url = url, .dir = dir};
        pthread_create(&threads[i], NULL, s_migrate, &migrates[i]);
    }
    int applied = 0;
    for (int i = 0; i < REPLICAS; i++) {
        pthread_join(threads[i], NULL);
        assert_true(migrates[i].applied >= 0);
        applied += migrates[i].applied;
    }
    assert_int_equal(applied, 2);

    PGconn *db = db_connect(url, "migrate", 1);
    assert_non_null(db);
    assert_int_equal(s_count(db, "SELECT count(*) FROM chuang_migrations"), 2);
    assert_int_equal(s_count(db, "SELECT count(*) FROM second"), 2);

    /* An applied migration edited afterwards stops start-up. */
    s_write(dir, "0002_second.sql", "CREATE TABLE second (id int, changed int);");
    const char *dirs[] = {dir, NULL};
    assert_int_equal(db_migrate(db, "migrate", dirs), -1);
    PQfinish(db);
}

static void test_failed_migration_leaves_nothing(void **state)
{
    (void)state;
    const char *url = harness_service_db("dbtest", "broken");
    assert_non_null(url);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/broken/sql", harness_dir());
    harness_sh("mkdir -p '%s'", dir);
    s_write(dir, "0001_good.sql", "CREATE TABLE good (id int);");
    s_write(dir, "0002_bad.sql", "CREATE TABLE half (id int); SELECT 1 / 0;");
    PGconn *db = db_connect(url, "broken", 1);
    assert_non_null(db);
    const char *dirs[] = {dir, NULL};
    assert_int_equal(db_migrate(db, "broken", dirs), -1);
    assert_int_equal(s_count(db, "SELECT count(*) FROM chuang_migrations"), 1);
    assert_int_equal(s_count(db, "SELECT count(*) FROM pg_tables WHERE tablename = 'half'"), 0);

    /* Mended, it applies on the next start. */
    s_write(dir, "0002_bad.sql", "CREATE TABLE half (id int);");
    assert_int_equal(db_migrate(db, "broken", dirs), 1);
    PQfinish(db);
}

static void test_a_role_touches_only_its_own_schema(void **state)
{
    (void)state;
    const char *first = harness_service_db("dbtest", "first_svc");
    assert_non_null(first);
    char first_url[512];
    snprintf(first_url, sizeof first_url, "%s", first);
    assert_non_null(harness_service_db("dbtest", "second_svc"));
    PGconn *db = db_connect(first_url, "first_svc", 1);
    assert_non_null(db);
    assert_int_equal(db_exec(db, "own table", "CREATE TABLE mine (id int)"), 0);
    PGresult *res = PQexec(db, "CREATE TABLE second_svc.theirs (id int)");
    assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
    assert_string_equal(PQresultErrorField(res, PG_DIAG_SQLSTATE), "42501");
    PQclear(res);
    PQfinish(db);
}

static void test_redis_link_connects_and_refuses_bad_urls(void **state)
{
    (void)state;
    redisContext *redis = redis_link_connect(harness_get("CHUANG_TEST_REDIS_URL"), 3);
    assert_non_null(redis);
    redisReply *reply = redisCommand(redis, "PING");
    assert_non_null(reply);
    assert_string_equal(reply->str, "PONG");
    freeReplyObject(reply);
    redisFree(redis);
    assert_null(redis_link_connect("http://127.0.0.1:1/", 1));
    assert_null(redis_link_connect("redis://127.0.0.1:99999/0", 1));
    /* Nothing listens there: refused after the attempts, not hung. */
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", harness_free_port());
    assert_null(redis_link_connect(url, 2));
}

static int64_t s_add(client_t *client, int64_t amount, Chuang__Status *status)
{
    Chuang__Tally__AddRequest request = CHUANG__TALLY__ADD_REQUEST__INIT;
    request.counter = "restart";
    request.amount = amount;
    Chuang__Reply *reply = client_call(client, "tally", "Add", &request.base, NULL);
    *status = reply->status;
    int64_t total = -1;
    if (reply->status == CHUANG__STATUS__OK) {
        Chuang__Tally__AddReply *added =
            chuang__tally__add_reply__unpack(NULL, reply->payload.len, reply->payload.data);
        total = added->total;
        chuang__tally__add_reply__free_unpacked(added, NULL);
    }
    chuang__reply__free_unpacked(reply, NULL);
    return total;
}

static void test_service_survives_a_database_restart(void **state)
{
    (void)state;
    /* A PostgreSQL of this test's own, so that restarting it disturbs no one. */
    char pg_dir[600];
    snprintf(pg_dir, sizeof pg_dir, "%s/pg", harness_dir());
    int pg_port = harness_free_port();
    const char *stack = "source '" CHUANG_SOURCE_DIR "/deploy/lib/stack.sh'";
    assert_int_equal(harness_sh("bash -c \"%s && stack_pg_start '%s' %d\"", stack, pg_dir, pg_port),
                     0);
    char command[1400];
    snprintf(command, sizeof command,
             "bash -c \"%s && stack_pg_service \\$(stack_pg_admin_url '%s' %d) restart tally pw\"",
             stack, pg_dir, pg_port);
    FILE *pipe = popen(command, "r");
    char url[512] = "";
    assert_non_null(fgets(url, sizeof url, pipe));
    pclose(pipe);
    url[strcspn(url, "\n")] = '\0';

    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", harness_free_port());
    char *bind = zsys_sprintf("CHUANG_BROKER_ENDPOINT=%s", endpoint);
    char *brokers = zsys_sprintf("CHUANG_BROKERS=%s", endpoint);
    char *db = zsys_sprintf("CHUANG_DB_URL=%s", url);
    const char *broker_env[] = {bind, "CHUANG_SECURITY_PLAIN=yes", NULL};
    const char *tally_env[] = {brokers, db, "CHUANG_SECURITY_PLAIN=yes", "CHUANG_WORKER_THREADS=1",
                               NULL};
    pid_t broker = harness_spawn("broker-restart", BROKER, broker_env);
    pid_t tally = harness_spawn("tally-restart", TALLY, tally_env);
    assert_int_equal(harness_wait_service(endpoint, "tally", 20000), 0);

    config_t *config = config_new(NULL);
    config_set(config, "security.plain", "yes");
    security_t *security = security_new(config);
    client_t *client = client_new(endpoint, security);
    client_set_timeouts(client, 3000, 20000);
    Chuang__Status status;
    assert_int_equal(s_add(client, 1, &status), 1);

    /* Restarted between two requests: the next one is served as if nothing happened. */
    assert_int_equal(harness_sh("bash -c \"%s && stack_pg_stop '%s' && stack_pg_start '%s' %d\"",
                                stack, pg_dir, pg_dir, pg_port),
                     0);
    assert_int_equal(s_add(client, 10, &status), 11);
    assert_int_equal(status, CHUANG__STATUS__OK);

    /* Down while a request comes: answered once the server is back. */
    assert_int_equal(harness_sh("bash -c \"%s && stack_pg_stop '%s'\"", stack, pg_dir), 0);
    harness_sh("(sleep 2 && bash -c \"%s && stack_pg_start '%s' %d\") >/dev/null 2>&1 &", stack,
               pg_dir, pg_port);
    assert_int_equal(s_add(client, 100, &status), 111);

    client_destroy(&client);
    security_destroy(&security);
    config_destroy(&config);
    int stopped = harness_stop(tally, SIGTERM, 5000);
    assert_true(WIFEXITED(stopped) && WEXITSTATUS(stopped) == 0);
    harness_stop(broker, SIGTERM, 5000);
    harness_sh("bash -c \"%s && stack_pg_stop '%s'\"", stack, pg_dir);
    zstr_free(&bind);
    zstr_free(&brokers);
    zstr_free(&db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replicas_apply_each_migration_once),
        cmocka_unit_test(test_failed_migration_leaves_nothing),
        cmocka_unit_test(test_a_role_touches_only_its_own_schema),
        cmocka_unit_test(test_redis_link_connects_and_refuses_bad_urls),
        cmocka_unit_test(test_service_survives_a_database_restart),
    };
    return cmocka_run_group_tests_name("db", tests, s_setup, NULL);
}
