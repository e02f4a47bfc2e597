/*
 * db_lock.c - table locks on a connection of their own; see db_lock.h.
 *
 * The connection is a copy of the caller's (PQconninfo), so it reaches the
 * same database as the same role with the same search_path. Its session
 * turns idle_in_transaction_session_timeout off: the transaction is meant
 * to stay open for as long as the lock is held.
 */
#include "db_lock.h"
#include "logger.h"

#include <czmq.h>

struct _db_lock_t {
    PGconn *db;
    char *lock; /* the LOCK TABLE statement */
};

/* A new connection with the settings of like; NULL when it fails. */
static PGconn *s_connect_like(PGconn *like)
{
    PQconninfoOption *options = PQconninfo(like);
    if (!options)
        return NULL;
    size_t count = 0;
    for (PQconninfoOption *o = options; o->keyword; o++)
        count++;
    const char **keys = calloc(count + 1, sizeof *keys);
    const char **values = calloc(count + 1, sizeof *values);
    size_t n = 0;
    for (PQconninfoOption *o = options; keys && values && o->keyword; o++)
        if (o->val) {
            keys[n] = o->keyword;
            values[n++] = o->val;
        }
    PGconn *db = keys && values ? PQconnectdbParams(keys, values, 0) : NULL;
    free(keys);
    free(values);
    PQconninfoFree(options);
    if (db && PQstatus(db) != CONNECTION_OK) {
        PQfinish(db);
        db = NULL;
    }
    return db;
}

static bool s_ok(PGconn *db, const char *sql)
{
    PGresult *res = PQexec(db, sql);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    return ok;
}

db_lock_t *db_lock_new(PGconn *like, const char *schema, const char *table,
                       const char *application_name)
{
    PGconn *db = s_connect_like(like);
    if (!db) {
        log_warn("cannot open a lock connection", "schema=%s table=%s", schema, table);
        return NULL;
    }
    char *qschema = PQescapeIdentifier(db, schema, strlen(schema));
    char *qtable = PQescapeIdentifier(db, table, strlen(table));
    char *name = PQescapeLiteral(db, application_name, strlen(application_name));
    char *setup = zsys_sprintf("SET application_name = %s;"
                               " SET idle_in_transaction_session_timeout = 0;"
                               " SET client_min_messages = warning",
                               name ? name : "''");
    char *create = zsys_sprintf("CREATE TABLE IF NOT EXISTS %s.%s ()", qschema ? qschema : "-",
                                qtable ? qtable : "-");
    db_lock_t *self = calloc(1, sizeof *self);
    assert(self);
    self->db = db;
    self->lock = zsys_sprintf("LOCK TABLE %s.%s IN EXCLUSIVE MODE", qschema ? qschema : "-",
                              qtable ? qtable : "-");
    /* Two replicas creating the table at once: one fails and looks again. */
    bool ok =
        qschema && qtable && name && s_ok(db, setup) && (s_ok(db, create) || s_ok(db, create));
    if (!ok) {
        log_warn("cannot prepare a lock", "schema=%s table=%s error=\"%s\"", schema, table,
                 PQerrorMessage(db));
        db_lock_destroy(&self);
    }
    PQfreemem(qschema);
    PQfreemem(qtable);
    PQfreemem(name);
    zstr_free(&setup);
    zstr_free(&create);
    return self;
}

void db_lock_destroy(db_lock_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    PQfinish((*self_p)->db);
    zstr_free(&(*self_p)->lock);
    free(*self_p);
    *self_p = NULL;
}

int db_lock_acquire(db_lock_t *self, bool wait)
{
    if (db_lock_held(self))
        return 1;
    if (PQstatus(self->db) != CONNECTION_OK)
        return -1;
    char *sql = zsys_sprintf("%s%s", self->lock, wait ? "" : " NOWAIT");
    bool held = s_ok(self->db, "BEGIN") && s_ok(self->db, sql);
    zstr_free(&sql);
    if (held)
        return 1;
    PGresult *res = PQexec(self->db, "ROLLBACK");
    PQclear(res);
    return PQstatus(self->db) == CONNECTION_OK ? 0 : -1;
}

bool db_lock_held(db_lock_t *self)
{
    if (!self || !self->db)
        return false;
    /* Reads whatever the server sent (its goodbye, a closed socket). */
    PQconsumeInput(self->db);
    return PQstatus(self->db) == CONNECTION_OK && PQtransactionStatus(self->db) == PQTRANS_INTRANS;
}
