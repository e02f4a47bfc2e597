/*
 * db.h - PostgreSQL for a service: connections bound to the service's schema,
 * transactions, and versioned migrations applied at start-up.
 *
 * Every service has one schema and one login role; a connection made here
 * sets search_path to that schema alone and TimeZone to UTC, so unqualified
 * names mean the service's own tables and timestamps read as UTC.
 *
 * A request's transaction costs no round trips of its own: db_begin's BEGIN
 * travels with the first statement, and the statements the framework adds
 * at the end (db_defer) travel with the COMMIT (db_commit).
 *
 * Migrations are files NNNN_name.sql in a folder, applied in name order, each
 * in its own transaction, and recorded with a checksum in the schema's
 * chuang_migrations table. Replicas starting together serialise on the
 * schema's migration lock (a db_lock, which no other service's role can
 * take), so each file runs once. A recorded migration whose file has
 * changed stops start-up: history is not rewritten silently.
 */
#ifndef CHUANG_DB_H
#define CHUANG_DB_H

#include <libpq-fe.h>
#include <stdbool.h>

/* Connects with url (a libpq connection string or URI) and binds the
 * connection to schema; tries attempts times, a second apart, while the
 * server is starting or unreachable. Returns NULL after logging the last
 * error. The caller owns the connection (PQfinish). */
PGconn *db_connect(const char *url, const char *schema, int attempts);

/* Runs one or more SQL commands that return no rows. Returns 0, or -1 after
 * logging the error (with what, a short description of the work). */
int db_exec(PGconn *db, const char *what, const char *sql);

/* The SQLSTATE of the first statement that failed on db since
 * db_failure_clear (or since it connected), or NULL: what a caller whose
 * code cleared the failed result can still tell (a deadlock, a unique
 * violation). Connections from db_connect only. */
const char *db_failure_state(PGconn *db);

/* Forgets the failure db_failure_state reports; call before each attempt
 * of a transaction. */
void db_failure_clear(PGconn *db);

/* Runs sql as PQexecParams does (parameter types from the statement;
 * lengths and formats NULL for text), but prepared once per connection: a
 * text's first run on a connection prepares it (one round trip more), its
 * later runs only execute, so PostgreSQL neither parses nor plans it again.
 * sql is the key, so it must not hold values inlined; up to 512 texts a
 * connection are kept, and past that (or on a connection not from
 * db_connect) it runs unprepared. A pending BEGIN (db_begin) goes with it,
 * in the same round trip (libpq's pipeline mode). Returns the result
 * (caller clears). */
PGresult *db_query(PGconn *db, const char *sql, int count, const char *const *values,
                   const int *lengths, const int *formats, int result_format);

/* Opens a transaction on db whose BEGIN is sent with its first statement
 * (db_query or db_exec), in the same round trip; a connection found dead
 * then (the server restarted since its last use) is re-established once
 * and the statement tried again, nothing of the transaction having been
 * applied. Forgets what db_defer kept. Returns 0, or -1 (connections not
 * from db_connect send BEGIN at once). */
int db_begin(PGconn *db);

/* Sends a pending BEGIN now, for code about to run statements through
 * libpq itself rather than db_query or db_exec (which would otherwise run
 * outside the transaction). Returns 0, or -1 when it failed. */
int db_begin_now(PGconn *db);

/* Keeps a statement that returns nothing the caller needs (parameters as
 * db_query's, copied) to be sent with the COMMIT of db_commit, in its round
 * trip; its failure fails the commit. Returns 0, or -1 when memory ran out
 * (connections not from db_connect run it at once: its outcome). */
int db_defer(PGconn *db, const char *sql, int count, const char *const *values, const int *lengths,
             const int *formats);

/* Sends what db_defer kept and COMMIT, in one round trip (a pending BEGIN
 * first). Returns 0 when all of it succeeded and the transaction
 * committed; else -1 after logging why, with the transaction rolled back. */
int db_commit(PGconn *db);

/* Ends the transaction without applying it: what db_defer kept is dropped,
 * and nothing is sent when the BEGIN is still pending. */
void db_rollback(PGconn *db);

/* true when the connection is gone (the server restarted or the network
 * broke): the caller should reset it and report UNAVAILABLE. */
bool db_lost(PGconn *db);

/* Re-establishes a lost connection, with the same retries as db_connect, and
 * binds it to schema again. Returns 0 or -1. */
int db_reset(PGconn *db, const char *schema, int attempts);

/* Applies the migrations of each folder in dirs (NULL-terminated), in order,
 * under the schema's migration lock. Files already applied are skipped.
 * Returns the number applied, or -1 after logging which file failed; a
 * failed file leaves nothing of itself behind. */
int db_migrate(PGconn *db, const char *schema, const char *const *dirs);

#endif
