/*
 * db_lock.h - exclusive locks that only the service's own role can take.
 *
 * PostgreSQL's advisory locks are one namespace for a whole database: any
 * role can take any key, so another service could hold a lock this one
 * needs (its relay, its migrations) for as long as it likes. A db_lock is
 * instead a LOCK TABLE ... IN EXCLUSIVE MODE on a table of the service's own
 * schema, which other roles cannot even see. (Not ACCESS EXCLUSIVE: that
 * one is written to the WAL for standbys, which gives the transaction an id
 * and so would hold the relay's horizon back for as long as it is held.) It is held by a
 * connection of its own, idle in a transaction that has no transaction id
 * and no snapshot, so it holds back neither the relay's horizon nor vacuum;
 * the lock goes with that connection, so a process that dies loses it at
 * once.
 */
#ifndef CHUANG_DB_LOCK_H
#define CHUANG_DB_LOCK_H

#include <libpq-fe.h>
#include <stdbool.h>

typedef struct _db_lock_t db_lock_t;

/* Opens the lock's connection, with the same settings as like, named
 * application_name, and makes sure schema.table exists. The lock is not
 * taken yet. Returns NULL when the database fails (logged). */
db_lock_t *db_lock_new(PGconn *like, const char *schema, const char *table,
                       const char *application_name);

/* Frees the lock, releasing it when held, and closes its connection; nulls
 * *self_p; safe when NULL. */
void db_lock_destroy(db_lock_t **self_p);

/* Takes the lock. With wait, waits until it is free; without, gives up at
 * once when another holds it. Returns 1 when held, 0 when another holds it,
 * -1 when the connection failed (make a new db_lock). */
int db_lock_acquire(db_lock_t *self, bool wait);

/* true while the lock is still held: its connection alive, its transaction
 * open. Does not block. */
bool db_lock_held(db_lock_t *self);

#endif
