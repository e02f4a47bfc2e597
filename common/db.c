/*
 * db.c - PostgreSQL connections, transactions and migrations; see db.h.
 *
 * A migration's name in chuang_migrations is the last two components of its
 * folder and its file name ("common/sql/0001_idempotency.sql"), so
 * the framework's own migrations and the service's live side by side in one
 * table. The checksum is PostgreSQL's md5() of the file's text, computed by
 * the server so that no hashing code is needed here.
 *
 * Every connection carries a libpq event procedure that notes the SQLSTATE
 * of the first failed result since db_failure_clear (PGEVT_RESULTCREATE
 * sees every result, whoever asked for it and whether or not they keep
 * it), so that code which clears a failed result still leaves its cause for
 * the framework: a deadlock retried, a unique violation ALREADY_EXISTS.
 * It also holds the connection's prepared statements (db_query), which a
 * reset (PGEVT_CONNRESET: a new server session) forgets.
 */
#include "db.h"
#include "db_lock.h"
#include "logger.h"

#include <czmq.h>
#include <libpq-events.h>

#define PREPARED_MAX 512 /* statement texts prepared on one connection, at most */

/* A statement to run later, its parameters copied (db_defer). */
typedef struct {
    char *sql;
    int count;
    char **values;
    int *lengths;
    int *formats;
} deferred_t;

/* What a connection from db_connect carries besides libpq's own state. */
typedef struct {
    char state[6];       /* the first failure's SQLSTATE since db_failure_clear, or "" */
    zhashx_t *prepared;  /* statement text -> its prepared statement's name */
    unsigned long named; /* statements named so far */
    char *schema;        /* what the connection is bound to, for a reset */
    bool begin_pending;  /* db_begin: BEGIN goes with the next statement */
    zlistx_t *deferred;  /* db_defer: statements that go with the COMMIT */
} session_t;

static void s_deferred_free(deferred_t **self_p)
{
    deferred_t *self = *self_p;
    if (!self)
        return;
    for (int i = 0; i < self->count; i++)
        free(self->values[i]);
    free(self->values);
    free(self->lengths);
    free(self->formats);
    free(self->sql);
    free(self);
    *self_p = NULL;
}

static int s_events(PGEventId id, void *info, void *pass_through)
{
    (void)pass_through;
    if (id == PGEVT_REGISTER) {
        PGEventRegister *event = info;
        session_t *session = calloc(1, sizeof *session);
        if (session) {
            session->prepared = zhashx_new();
            zhashx_set_destructor(session->prepared, (zhashx_destructor_fn *)zstr_free);
            session->deferred = zlistx_new();
            zlistx_set_destructor(session->deferred, (zlistx_destructor_fn *)s_deferred_free);
        }
        return session && PQsetInstanceData(event->conn, s_events, session);
    }
    if (id == PGEVT_CONNDESTROY) {
        PGEventConnDestroy *event = info;
        session_t *session = PQinstanceData(event->conn, s_events);
        if (session) {
            zhashx_destroy(&session->prepared);
            zlistx_destroy(&session->deferred);
            free(session->schema);
        }
        free(session);
        return 1;
    }
    if (id == PGEVT_CONNRESET) {
        /* A new server session: nothing is prepared in it yet. */
        PGEventConnReset *event = info;
        session_t *session = PQinstanceData(event->conn, s_events);
        if (session)
            zhashx_purge(session->prepared);
        return 1;
    }
    if (id == PGEVT_RESULTCREATE) {
        PGEventResultCreate *event = info;
        session_t *session = PQinstanceData(event->conn, s_events);
        const char *state = PQresultErrorField(event->result, PG_DIAG_SQLSTATE);
        if (session && !session->state[0] && state &&
            PQresultStatus(event->result) == PGRES_FATAL_ERROR)
            snprintf(session->state, sizeof session->state, "%s", state);
    }
    return 1;
}

const char *db_failure_state(PGconn *db)
{
    session_t *session = db ? PQinstanceData(db, s_events) : NULL;
    return session && session->state[0] ? session->state : NULL;
}

void db_failure_clear(PGconn *db)
{
    session_t *session = db ? PQinstanceData(db, s_events) : NULL;
    if (session)
        session->state[0] = '\0';
}

/* db_query without a pending BEGIN. */
static PGresult *s_query(PGconn *db, session_t *session, const char *sql, int count,
                         const char *const *values, const int *lengths, const int *formats,
                         int result_format)
{
    const char *name = session ? zhashx_lookup(session->prepared, sql) : NULL;
    if (!name && session && zhashx_size(session->prepared) < PREPARED_MAX) {
        char *fresh = zsys_sprintf("chuang_%lu", ++session->named);
        PGresult *res = PQprepare(db, fresh, sql, count, NULL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            zstr_free(&fresh);
            return res; /* the statement's own error, as running it would give */
        }
        PQclear(res);
        zhashx_insert(session->prepared, sql, fresh);
        name = fresh;
    }
    if (!name)
        return PQexecParams(db, sql, count, NULL, values, lengths, formats, result_format);
    return PQexecPrepared(db, name, count, values, lengths, formats, result_format);
}

/* A statement of a pipeline; plain ones (BEGIN, COMMIT) are not prepared. */
typedef struct {
    const char *sql;
    int count;
    const char *const *values;
    const int *lengths;
    const int *formats;
    int result_format;
    bool plain;
} statement_t;

/* Reads the results of one command of a pipeline up to its end: the first
 * (caller clears), or NULL when the connection broke. */
static PGresult *s_pipeline_result(PGconn *db)
{
    PGresult *res = PQgetResult(db);
    PGresult *more;
    while (res && (more = PQgetResult(db)))
        PQclear(more);
    return res;
}

/* Sends the count statements in one round trip (libpq's pipeline mode),
 * each prepared on its first run on the connection as db_query does, and
 * puts each one's result in results (caller clears; a statement after a
 * failed one gets PGRES_PIPELINE_ABORTED; NULL when the connection broke).
 * Returns 0 when every statement succeeded, -2 when the connection broke
 * and was re-established (nothing of what was sent was applied unless a
 * COMMIT was among it), else -1. */
static int s_pipeline(PGconn *db, session_t *session, const statement_t *statements, int count,
                      PGresult **results)
{
    for (int i = 0; i < count; i++)
        results[i] = NULL;
    if (count <= 0 || !PQenterPipelineMode(db))
        return -1;
    /* Per statement: the name it was prepared under now, or NULL. */
    char **prepared = calloc((size_t)count, sizeof *prepared);
    bool sent = prepared != NULL;
    for (int i = 0; i < count && sent; i++) {
        const statement_t *st = &statements[i];
        const char *name = st->plain ? NULL : zhashx_lookup(session->prepared, st->sql);
        if (!name && !st->plain && zhashx_size(session->prepared) < PREPARED_MAX) {
            prepared[i] = zsys_sprintf("chuang_%lu", ++session->named);
            sent = PQsendPrepare(db, prepared[i], st->sql, st->count, NULL) == 1;
            zhashx_insert(session->prepared, st->sql, prepared[i]);
            name = prepared[i];
        }
        if (sent)
            sent = name ? PQsendQueryPrepared(db, name, st->count, st->values, st->lengths,
                                              st->formats, st->result_format) == 1
                        : PQsendQueryParams(db, st->sql, st->count, NULL, st->values, st->lengths,
                                            st->formats, st->result_format) == 1;
    }
    int rc = sent && PQpipelineSync(db) == 1 ? 0 : -1;
    for (int i = 0; i < count && rc == 0; i++) {
        if (prepared[i]) {
            PGresult *res = s_pipeline_result(db);
            if (PQresultStatus(res) != PGRES_COMMAND_OK) {
                zhashx_delete(session->prepared, statements[i].sql);
                results[i] = res; /* the statement's own error, as running it would give */
                PQclear(s_pipeline_result(db));
                continue;
            }
            PQclear(res);
        }
        results[i] = s_pipeline_result(db);
        ExecStatusType status = PQresultStatus(results[i]);
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
            rc = -1;
    }
    /* Whatever is left up to the end of the pipeline. */
    for (PGresult *res; (res = PQgetResult(db));) {
        bool synced = PQresultStatus(res) == PGRES_PIPELINE_SYNC;
        PQclear(res);
        if (synced)
            break;
    }
    for (int i = 0; i < count; i++)
        if (PQresultStatus(results[i]) != PGRES_COMMAND_OK &&
            PQresultStatus(results[i]) != PGRES_TUPLES_OK)
            rc = -1;
    free(prepared); /* the names belong to session->prepared */
    if (!PQexitPipelineMode(db)) {
        /* The connection broke with the pipeline unfinished (the server
         * went away): only a new session makes it usable again. */
        log_warn("postgresql connection lost; reconnecting", "schema=%s", session->schema);
        db_reset(db, session->schema, 1);
        return -2;
    }
    return rc;
}

/* Runs statements as s_pipeline, the transaction's BEGIN first when it is
 * pending: then, when the connection was found dead (the server restarted
 * since the last request; nothing of the transaction was applied), it is
 * re-established once and the whole tried again, unless the statements end
 * with COMMIT (it may have been applied before the connection broke: the
 * caller gets the failure, as for any commit whose outcome is unknown).
 * results[i] is the result of statements[i] (caller clears). */
static int s_with_begin(PGconn *db, session_t *session, const statement_t *statements, int count,
                        PGresult **results)
{
    bool commits = count > 0 && statements[count - 1].plain &&
                   strcmp(statements[count - 1].sql, "COMMIT") == 0;
    statement_t *all = calloc((size_t)count + 1, sizeof *all);
    PGresult **got = calloc((size_t)count + 1, sizeof *got);
    if (!all || !got) {
        free(all);
        free(got);
        return -1;
    }
    all[0] = (statement_t){.sql = "BEGIN", .plain = true};
    memcpy(all + 1, statements, (size_t)count * sizeof *statements);
    int rc = -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        session->begin_pending = false;
        rc = s_pipeline(db, session, all, count + 1, got);
        if (rc == -1 && db_lost(db)) {
            log_warn("postgresql connection lost; reconnecting", "schema=%s", session->schema);
            rc = db_reset(db, session->schema, 1) == 0 ? -2 : -1;
        }
        if (rc == -2 && attempt == 0 && !commits && !db_lost(db)) {
            for (int i = 0; i <= count; i++)
                PQclear(got[i]);
            continue;
        }
        break;
    }
    PQclear(got[0]);
    memcpy(results, got + 1, (size_t)count * sizeof *results);
    free(all);
    free(got);
    return rc;
}

int db_begin(PGconn *db)
{
    session_t *session = db ? PQinstanceData(db, s_events) : NULL;
    if (!session)
        return db_exec(db, "begin", "BEGIN");
    zlistx_purge(session->deferred);
    session->begin_pending = true;
    return 0;
}

int db_begin_now(PGconn *db)
{
    session_t *session = db ? PQinstanceData(db, s_events) : NULL;
    if (!session || !session->begin_pending)
        return 0;
    session->begin_pending = false;
    PGresult *res = PQexec(db, "BEGIN");
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok && db_lost(db) && session->schema) {
        log_warn("postgresql connection lost; reconnecting", "schema=%s", session->schema);
        ok = db_reset(db, session->schema, 1) == 0 && db_exec(db, "begin", "BEGIN") == 0;
    }
    return ok ? 0 : -1;
}

PGresult *db_query(PGconn *db, const char *sql, int count, const char *const *values,
                   const int *lengths, const int *formats, int result_format)
{
    session_t *session = db ? PQinstanceData(db, s_events) : NULL;
    if (!session || !session->begin_pending)
        return s_query(db, session, sql, count, values, lengths, formats, result_format);
    statement_t statement = {sql, count, values, lengths, formats, result_format, false};
    PGresult *res = NULL;
    s_with_begin(db, session, &statement, 1, &res);
    return res ? res : PQmakeEmptyPGresult(db, PGRES_FATAL_ERROR);
}

int db_defer(PGconn *db, const char *sql, int count, const char *const *values, const int *lengths,
             const int *formats)
{
    session_t *session = db ? PQinstanceData(db, s_events) : NULL;
    if (!session) {
        PGresult *res = db_query(db, sql, count, values, lengths, formats, 0);
        int rc = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK
                     ? 0
                     : -1;
        PQclear(res);
        return rc;
    }
    deferred_t *deferred = calloc(1, sizeof *deferred);
    bool ok = deferred && (deferred->sql = strdup(sql)) &&
              (deferred->values = calloc((size_t)count + 1, sizeof *deferred->values)) &&
              (deferred->lengths = calloc((size_t)count + 1, sizeof *deferred->lengths)) &&
              (deferred->formats = calloc((size_t)count + 1, sizeof *deferred->formats));
    for (int i = 0; ok && i < count; i++) {
        bool binary = formats && formats[i] == 1;
        size_t size = !values[i] ? 0 : binary ? (size_t)lengths[i] : strlen(values[i]);
        deferred->lengths[i] = (int)size;
        deferred->formats[i] = binary;
        if (values[i]) {
            deferred->values[i] = malloc(size + 1);
            ok = deferred->values[i] != NULL;
            if (ok) {
                memcpy(deferred->values[i], values[i], size);
                deferred->values[i][size] = '\0';
            }
        }
        deferred->count = i + 1;
    }
    if (ok) {
        deferred->count = count;
        zlistx_add_end(session->deferred, deferred);
        return 0;
    }
    s_deferred_free(&deferred);
    return -1;
}

int db_commit(PGconn *db)
{
    session_t *session = db ? PQinstanceData(db, s_events) : NULL;
    if (!session)
        return db_exec(db, "commit", "COMMIT");
    size_t count = zlistx_size(session->deferred) + 1;
    statement_t *statements = calloc(count, sizeof *statements);
    PGresult **results = calloc(count, sizeof *results);
    int rc = -1;
    if (statements && results) {
        size_t n = 0;
        for (deferred_t *d = zlistx_first(session->deferred); d;
             d = zlistx_next(session->deferred), n++)
            statements[n] = (statement_t){
                d->sql, d->count, (const char *const *)d->values, d->lengths, d->formats, 0, false};
        statements[n] = (statement_t){.sql = "COMMIT", .plain = true};
        rc = session->begin_pending ? s_with_begin(db, session, statements, (int)count, results)
                                    : s_pipeline(db, session, statements, (int)count, results);
        /* COMMIT of a transaction that failed ends it with ROLLBACK. */
        if (rc == 0 && strcmp(PQcmdStatus(results[count - 1]), "COMMIT") != 0)
            rc = -1;
        /* The first statement that failed says why (NULL: the connection broke). */
        for (size_t i = 0; rc != 0 && i < count; i++) {
            if (PQresultStatus(results[i]) != PGRES_FATAL_ERROR)
                continue;
            char quoted[512];
            const char *state = PQresultErrorField(results[i], PG_DIAG_SQLSTATE);
            log_error(
                "sql failed", "what=commit sqlstate=%s error=%s", state ? state : "-",
                logger_quote(quoted, sizeof quoted,
                             results[i] ? PQresultErrorMessage(results[i]) : PQerrorMessage(db)));
            break;
        }
    }
    for (size_t i = 0; results && i < count; i++)
        PQclear(results[i]);
    free(statements);
    free(results);
    zlistx_purge(session->deferred);
    session->begin_pending = false;
    if (rc != 0 && PQtransactionStatus(db) != PQTRANS_IDLE)
        PQclear(PQexec(db, "ROLLBACK"));
    return rc;
}

void db_rollback(PGconn *db)
{
    session_t *session = db ? PQinstanceData(db, s_events) : NULL;
    if (session) {
        zlistx_purge(session->deferred);
        if (session->begin_pending) {
            session->begin_pending = false; /* nothing was sent */
            return;
        }
    }
    if (PQtransactionStatus(db) != PQTRANS_IDLE)
        PQclear(PQexec(db, "ROLLBACK"));
}

static int s_bind_schema(PGconn *db, const char *schema)
{
    char *ident = PQescapeIdentifier(db, schema, strlen(schema));
    if (!ident)
        return -1;
    char sql[512];
    snprintf(sql, sizeof sql, "SET search_path TO %s; SET TimeZone TO 'UTC'", ident);
    PQfreemem(ident);
    return db_exec(db, "bind schema", sql);
}

PGconn *db_connect(const char *url, const char *schema, int attempts)
{
    for (int attempt = 1;; attempt++) {
        PGconn *db = PQconnectdb(url);
        if (PQstatus(db) == CONNECTION_OK) {
            session_t *session = PQregisterEventProc(db, s_events, "chuang session", NULL)
                                     ? PQinstanceData(db, s_events)
                                     : NULL;
            if (session && (session->schema = strdup(schema)) && s_bind_schema(db, schema) == 0)
                return db;
        } else if (attempt >= attempts) {
            char *error = PQerrorMessage(db);
            char quoted[512];
            log_error("cannot connect to postgresql", "schema=%s attempts=%d error=%s", schema,
                      attempt, logger_quote(quoted, sizeof quoted, error));
        }
        PQfinish(db);
        if (attempt >= attempts || zsys_interrupted)
            return NULL;
        zclock_sleep(1000);
    }
}

int db_exec(PGconn *db, const char *what, const char *sql)
{
    session_t *session = db ? PQinstanceData(db, s_events) : NULL;
    char *begun = NULL;
    if (session && session->begin_pending) {
        session->begin_pending = false;
        begun = zsys_sprintf("BEGIN; %s", sql);
    }
    PGresult *res = PQexec(db, begun ? begun : sql);
    zstr_free(&begun);
    ExecStatusType status = PQresultStatus(res);
    int rc = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK ? 0 : -1;
    if (rc != 0) {
        char quoted[512];
        log_error("sql failed", "what=%s sqlstate=%s error=%s", what,
                  PQresultErrorField(res, PG_DIAG_SQLSTATE)
                      ? PQresultErrorField(res, PG_DIAG_SQLSTATE)
                      : "-",
                  logger_quote(quoted, sizeof quoted, PQerrorMessage(db)));
    }
    PQclear(res);
    return rc;
}

bool db_lost(PGconn *db)
{
    return PQstatus(db) != CONNECTION_OK;
}

int db_reset(PGconn *db, const char *schema, int attempts)
{
    for (int attempt = 1; attempt <= attempts && !zsys_interrupted; attempt++) {
        PQreset(db);
        if (PQstatus(db) == CONNECTION_OK && s_bind_schema(db, schema) == 0) {
            log_info("postgresql connection re-established", "schema=%s attempts=%d", schema,
                     attempt);
            return 0;
        }
        if (attempt < attempts)
            zclock_sleep(1000);
    }
    return -1;
}

/* Reads a whole file; caller frees. */
static char *s_read_file(const char *path)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return NULL;
    char *text = NULL;
    if (fseek(file, 0, SEEK_END) == 0) {
        long size = ftell(file);
        if (size >= 0 && fseek(file, 0, SEEK_SET) == 0 && (text = malloc((size_t)size + 1))) {
            if (fread(text, 1, (size_t)size, file) != (size_t)size) {
                free(text);
                text = NULL;
            } else {
                text[size] = '\0';
            }
        }
    }
    fclose(file);
    return text;
}

static int s_compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Applies one file unless recorded. Returns 1 applied, 0 skipped, -1 failed. */
static int s_migrate_file(PGconn *db, const char *dir, const char *file)
{
    char path[1024];
    char name[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    /* The folder's last two components: "common/sql", "tally/sql". */
    const char *base = dir + strlen(dir);
    for (int slashes = 0; base > dir; base--)
        if (base[-1] == '/' && ++slashes == 2)
            break;
    snprintf(name, sizeof name, "%s/%s", base, file);
    char *text = s_read_file(path);
    if (!text) {
        log_error("cannot read migration", "path=%s", path);
        return -1;
    }
    int rc = -1;
    const char *params[2] = {name, text};
    PGresult *res =
        PQexecParams(db, "SELECT checksum = md5($2) FROM chuang_migrations WHERE name = $1", 2,
                     NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_error("cannot read applied migrations", "error=\"%s\"", PQerrorMessage(db));
    } else if (PQntuples(res) == 1) {
        rc = 0;
        if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
            log_error("applied migration has changed since; refusing to start",
                      "migration=%s hint=\"Write a new migration instead of editing an applied "
                      "one.\"",
                      name);
            rc = -1;
        }
    } else if (db_exec(db, "begin migration", "BEGIN") == 0) {
        PQclear(res);
        res = PQexec(db, text);
        if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
            char quoted[512];
            log_error("migration failed", "migration=%s error=%s", name,
                      logger_quote(quoted, sizeof quoted, PQerrorMessage(db)));
            db_exec(db, "rollback migration", "ROLLBACK");
        } else {
            PQclear(res);
            res = PQexecParams(
                db, "INSERT INTO chuang_migrations (name, checksum) VALUES ($1, md5($2))", 2, NULL,
                params, NULL, NULL, 0);
            if (PQresultStatus(res) == PGRES_COMMAND_OK &&
                db_exec(db, "commit migration", "COMMIT") == 0) {
                log_info("migration applied", "migration=%s", name);
                rc = 1;
            } else {
                db_exec(db, "rollback migration", "ROLLBACK");
            }
        }
    }
    PQclear(res);
    free(text);
    return rc;
}

static int s_migrate_dir(PGconn *db, const char *dir)
{
    zdir_t *folder = zdir_new(dir, NULL);
    if (!folder) {
        log_error("cannot read migrations folder", "path=%s", dir);
        return -1;
    }
    zlist_t *files = zdir_list(folder);
    size_t count = 0;
    char **names = calloc(zlist_size(files) + 1, sizeof *names);
    for (zfile_t *file = zlist_first(files); file; file = zlist_next(files)) {
        const char *name = strrchr(zfile_filename(file, NULL), '/');
        name = name ? name + 1 : zfile_filename(file, NULL);
        size_t len = strlen(name);
        if (len > 4 && streq(name + len - 4, ".sql"))
            names[count++] = strdup(name);
    }
    qsort(names, count, sizeof *names, s_compare_names);
    int applied = 0;
    for (size_t i = 0; i < count && applied >= 0; i++) {
        int rc = s_migrate_file(db, dir, names[i]);
        applied = rc < 0 ? -1 : applied + rc;
    }
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    zlist_destroy(&files);
    zdir_destroy(&folder);
    return applied;
}

int db_migrate(PGconn *db, const char *schema, const char *const *dirs)
{
    /* Replicas starting together wait for each other here. */
    db_lock_t *lock = db_lock_new(db, schema, "chuang_migration_lock", "chuang migrations");
    if (!lock || db_lock_acquire(lock, true) != 1) {
        log_error("cannot take the migration lock", "schema=%s", schema);
        db_lock_destroy(&lock);
        return -1;
    }
    int applied = db_exec(db, "create migrations table",
                          "CREATE TABLE IF NOT EXISTS chuang_migrations ("
                          " name text PRIMARY KEY,"
                          " checksum text NOT NULL,"
                          " applied_at timestamptz NOT NULL DEFAULT now())");
    for (size_t i = 0; dirs[i] && applied >= 0; i++) {
        int rc = s_migrate_dir(db, dirs[i]);
        applied = rc < 0 ? -1 : applied + rc;
    }
    db_lock_destroy(&lock);
    return applied;
}
