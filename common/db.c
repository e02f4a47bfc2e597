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

/* What a connection from db_connect carries besides libpq's own state. */
typedef struct {
    char state[6];       /* the first failure's SQLSTATE since db_failure_clear, or "" */
    zhashx_t *prepared;  /* statement text -> its prepared statement's name */
    unsigned long named; /* statements named so far */
} failure_t;

static int s_events(PGEventId id, void *info, void *pass_through)
{
    (void)pass_through;
    if (id == PGEVT_REGISTER) {
        PGEventRegister *event = info;
        failure_t *failure = calloc(1, sizeof *failure);
        if (failure) {
            failure->prepared = zhashx_new();
            zhashx_set_destructor(failure->prepared, (zhashx_destructor_fn *)zstr_free);
        }
        return failure && PQsetInstanceData(event->conn, s_events, failure);
    }
    if (id == PGEVT_CONNDESTROY) {
        PGEventConnDestroy *event = info;
        failure_t *failure = PQinstanceData(event->conn, s_events);
        if (failure)
            zhashx_destroy(&failure->prepared);
        free(failure);
        return 1;
    }
    if (id == PGEVT_CONNRESET) {
        /* A new server session: nothing is prepared in it yet. */
        PGEventConnReset *event = info;
        failure_t *failure = PQinstanceData(event->conn, s_events);
        if (failure)
            zhashx_purge(failure->prepared);
        return 1;
    }
    if (id == PGEVT_RESULTCREATE) {
        PGEventResultCreate *event = info;
        failure_t *failure = PQinstanceData(event->conn, s_events);
        const char *state = PQresultErrorField(event->result, PG_DIAG_SQLSTATE);
        if (failure && !failure->state[0] && state &&
            PQresultStatus(event->result) == PGRES_FATAL_ERROR)
            snprintf(failure->state, sizeof failure->state, "%s", state);
    }
    return 1;
}

const char *db_failure_state(PGconn *db)
{
    failure_t *failure = db ? PQinstanceData(db, s_events) : NULL;
    return failure && failure->state[0] ? failure->state : NULL;
}

void db_failure_clear(PGconn *db)
{
    failure_t *failure = db ? PQinstanceData(db, s_events) : NULL;
    if (failure)
        failure->state[0] = '\0';
}

PGresult *db_query(PGconn *db, const char *sql, int count, const char *const *values,
                   const int *lengths, const int *formats, int result_format)
{
    failure_t *failure = db ? PQinstanceData(db, s_events) : NULL;
    const char *name = failure ? zhashx_lookup(failure->prepared, sql) : NULL;
    if (!name && failure && zhashx_size(failure->prepared) < PREPARED_MAX) {
        char *fresh = zsys_sprintf("chuang_%lu", ++failure->named);
        PGresult *res = PQprepare(db, fresh, sql, count, NULL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            zstr_free(&fresh);
            return res; /* the statement's own error, as running it would give */
        }
        PQclear(res);
        zhashx_insert(failure->prepared, sql, fresh);
        name = fresh;
    }
    if (!name)
        return PQexecParams(db, sql, count, NULL, values, lengths, formats, result_format);
    return PQexecPrepared(db, name, count, values, lengths, formats, result_format);
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
            if (PQregisterEventProc(db, s_events, "chuang failures", NULL) &&
                s_bind_schema(db, schema) == 0)
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
    PGresult *res = PQexec(db, sql);
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

char *db_text_array(char *const *items, size_t count)
{
    size_t size = 3;
    for (size_t i = 0; i < count; i++)
        size += 2 * strlen(items[i]) + 3;
    char *literal = malloc(size);
    if (!literal)
        return NULL;
    char *out = literal;
    *out++ = '{';
    for (size_t i = 0; i < count; i++) {
        if (i)
            *out++ = ',';
        *out++ = '"';
        for (const char *in = items[i]; *in; in++) {
            if (*in == '"' || *in == '\\')
                *out++ = '\\';
            *out++ = *in;
        }
        *out++ = '"';
    }
    *out++ = '}';
    *out = '\0';
    return literal;
}
