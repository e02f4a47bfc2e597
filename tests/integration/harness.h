/*
 * harness.h - what an integration test needs to run real processes against
 * the private PostgreSQL and Redis the test harness started.
 *
 * The harness's env file (tests/harness/start.sh) says where PostgreSQL and
 * Redis listen. A test asks for a database and a service role of its own,
 * free ports for its brokers, starts the broker and service binaries as child
 * processes with settings passed in CHUANG_* variables, and stops them.
 * Every child's stderr goes to a log file in the test's folder; the path is
 * printed when a test fails so the logs can be read.
 */
#ifndef CHUANG_HARNESS_H
#define CHUANG_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

/* Loads the env file (the one CHUANG_HARNESS_ENV names, else the shared
 * harness's) and makes a fresh folder for this test's files. Returns 0, or
 * -1 when the harness is not running. */
int harness_init(const char *test_name);

/* A value from the env file (e.g. "CHUANG_TEST_REDIS_URL"), or NULL. */
const char *harness_get(const char *key);

/* The test's own folder. */
const char *harness_dir(void);

/* Creates (or reuses) database dbname with a login role and schema for
 * service, and returns the service's connection URL (static storage, valid
 * until the next call). NULL on failure. Roles belong to the cluster, so
 * every test gives a service's role the same password,
 * "<service>-test-pw": another would lock out the tests running beside. */
const char *harness_service_db(const char *dbname, const char *service);

/* A TCP port on 127.0.0.1 that nothing listens on now. */
int harness_free_port(void);

/* Starts program with the extra environment "KEY=VALUE" strings in env
 * (NULL-terminated), stderr to <dir>/<name>.log. Returns the pid or -1. */
pid_t harness_spawn(const char *name, const char *program, const char *const *env);

/* Sends sig to pid and waits for it to exit (up to timeout_ms, then
 * SIGKILL). Returns the exit status as from waitpid, or -1. */
int harness_stop(pid_t pid, int sig, int timeout_ms);

/* Polls until the broker at endpoint (plain) reports a worker for service,
 * up to timeout_ms. Returns 0 or -1. */
int harness_wait_service(const char *endpoint, const char *service, int timeout_ms);

/* Writes a notify recipient key (64 hex digits) into the test's folder and
 * sets CHUANG_NOTIFY_RECIPIENT_KEY for every child spawned after. Returns 0
 * or -1. */
int harness_recipient_key(void);

/* The far ends notify delivers to, services/notify/test_receivers.py: an
 * SMTP server and an HTTP receiver on free ports of 127.0.0.1, recording
 * what they get as files in a folder of their own. */
typedef struct {
    pid_t pid;
    int stdin_fd; /* the receivers end when it closes */
    int smtp_port;
    int http_port;
    char dir[512];
} harness_receivers_t;

/* Starts the receivers and fills *receivers once they are ready. Returns 0,
 * or -1 when they did not start. */
int harness_receivers_start(harness_receivers_t *receivers);

/* Ends the receivers (they remove their folder). */
void harness_receivers_stop(harness_receivers_t *receivers);

/* Runs a shell command; returns its exit status. */
int harness_sh(const char *format, ...) __attribute__((format(printf, 1, 2)));

#endif
