/*
 * finance_fixture.h - driving the finance service through the broker, for
 * the integration tests of finance (its books and workflow, and the award
 * register across two agencies' deployments): calls that fail the test on
 * a transport error, and the steps of an application.
 */
#ifndef CHUANG_FINANCE_FIXTURE_H
#define CHUANG_FINANCE_FIXTURE_H

#include "client.h"
#include "config.h"
#include "finance.pb-c.h"
#include "security.h"

#include <stdint.h>
#include <sys/types.h>

/* One agency's deployment for a finance test: a broker, finance, the
 * registry whose events finance keeps facts from and notify, each with
 * its database on the harness's PostgreSQL and its Redis keys under
 * "<prefix>:<service>" on the harness's Redis; clients on plain keys. */
typedef struct {
    char endpoint[64]; /* the broker's */
    char db_url[512];  /* finance's database */
    char prefix[32];
    pid_t broker, finance, registry, notify, incubator; /* incubator: when started */
    char test[48];
    config_t *config;
    security_t *security;
} finance_fixture_t;

/* Starts f for test (the harness's name for its databases) with Redis
 * keys under prefix, and waits until every service answers. Returns 0 or
 * -1. */
int finance_fixture_start(finance_fixture_t *f, const char *test, const char *prefix);

/* Starts the incubator beside f's services (its database of test), and
 * waits until it answers. Returns 0 or -1. */
int finance_fixture_start_incubator(finance_fixture_t *f);

/* Kills finance (SIGKILL: no clean shutdown) and starts it again on the
 * same database, waiting until it answers. Returns 0 or -1. */
int finance_fixture_restart_finance(finance_fixture_t *f);

/* A client of f's broker acting as actor of agency with roles (caller
 * destroys). */
client_t *finance_fixture_client(finance_fixture_t *f, const char *agency, const char *actor,
                                 const char *roles);

/* Stops f's processes. Returns 0 when finance exited cleanly, else -1. */
int finance_fixture_stop(finance_fixture_t *f);

/* Calls finance's method with input as client: the reply (caller frees);
 * fails the test when none came. */
Chuang__Reply *finance_fixture_call(client_t *client, const char *method,
                                    const ProtobufCMessage *input);

/* The same, for the reply's status alone. */
Chuang__Status finance_fixture_status(client_t *client, const char *method,
                                      const ProtobufCMessage *input);

/* Creates fund code as client (a finance officer) and appropriates amount
 * to it under document; fails the test on a refusal. */
void finance_fixture_fund(client_t *client, const char *code, int64_t amount, const char *document);

/* Drafts an application to programme for credit_code, subject and amount
 * as client: its id, or 0 when refused (with *status). */
int64_t finance_fixture_draft(client_t *client, const char *programme, const char *credit_code,
                              const char *subject, int64_t amount, Chuang__Status *status);

/* Calls method (SubmitApplication, GetApplication, ...) on application id
 * with reason as client: the application after it (caller frees with
 * chuang__finance__application__free_unpacked), or NULL when refused, with
 * the reply in *refusal unless refusal is NULL (caller frees). */
Chuang__Finance__Application *finance_fixture_step(client_t *client, const char *method, int64_t id,
                                                   const char *reason, Chuang__Reply **refusal);

/* The same, for the application's status after it alone: "" when refused,
 * with *status (caller frees). */
char *finance_fixture_step_status(client_t *client, const char *method, int64_t id,
                                  const char *reason, Chuang__Status *status);

/* Makes scheduled job (e.g. "notice:12") of the service whose Redis keys
 * start with redis_prefix at redis_url due now: runs sql (one UPDATE of
 * one row that moves its due time into the past) on finance's database at
 * db_url and takes the job out of the due queue, so that the next restore
 * puts it back at its new time and it runs. */
void finance_fixture_due_now(const char *db_url, const char *redis_url, const char *redis_prefix,
                             const char *sql, const char *job);

/* Ends application id's public notice yesterday, as finance's database at
 * db_url sees it, and takes its award job out of the due queue of the
 * service whose Redis keys start with redis_prefix at redis_url, so the
 * job is restored at the notice's new end and runs; then waits (up to 60 s)
 * until the application has left "notice". Returns its status then
 * (caller frees). */
char *finance_fixture_end_notice(client_t *client, const char *db_url, const char *redis_url,
                                 const char *redis_prefix, int64_t id);

/* The first column of the first row of sql on finance's database at
 * db_url, as the service's own role; fails the test when sql fails. */
long long finance_fixture_value(const char *db_url, const char *sql);

/* The same on another service's database at db_url, bound to schema. */
long long finance_fixture_value_in(const char *db_url, const char *schema, const char *sql);

/* Takes an application of credit_code to programme, for subject and
 * amount, from its draft by officer through the review of department by
 * reviewer (the version's only approval) and the end of its notice to its
 * award; fails the test at any other turn. Returns its id. */
int64_t finance_fixture_award(finance_fixture_t *f, client_t *officer, client_t *reviewer,
                              const char *department, const char *programme,
                              const char *credit_code, const char *subject, int64_t amount);

/* Waits (up to 15 s) until finance knows credit_code, asked as client;
 * fails the test when it never does. */
void finance_fixture_wait_known(client_t *client, const char *credit_code);

/* Asserts that reply was refused with status and a violation of field
 * (or of a field whose path starts with it), and frees it. */
void finance_fixture_assert_refused(Chuang__Reply *reply, Chuang__Status status, const char *field);

/* Asserts that entity (a credit code), reading its inbox as a person of
 * agency, finds a message with subject, waiting up to 15 s for notify to
 * follow finance's stream. */
void finance_fixture_assert_told(finance_fixture_t *f, const char *agency, const char *entity,
                                 const char *subject);

#endif
