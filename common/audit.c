/*
 * audit.c - the audit log: records, sealing and offline verification; see
 * audit.h for the chain and the canonical text.
 *
 * Sealing reads the committed rows not sealed yet, in id order, numbers
 * them after the last sealed one (a transaction that commits late is sealed
 * in a later round, at a later position: nobody waits for running
 * transactions, as relay.c explains for the outbox), computes their hashes
 * here with libsodium and writes positions and hashes back in one UPDATE
 * over unnest'ed arrays. Verification recomputes each row's hash from
 * its stored columns and the stored hash before it, so that a finding names
 * the row that was changed rather than every row after it.
 */
#include "audit.h"
#include "db.h"
#include "logger.h"

#include <czmq.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>

#define HASH_HEX_SIZE 65
#define ZERO_HASH     "0000000000000000000000000000000000000000000000000000000000000000"
#define VERIFY_PAGE   5000
#define ROW_COLUMNS                                                                                \
    "(extract(epoch FROM at) * 1000000)::bigint, agency, principal, kind, person, method,"         \
    " array_to_string(aggregates, ','), request_hash, outcome"

/* Appends "name=value\n" to buffer with value escaped. */
static void s_line(zchunk_t *buffer, const char *name, const char *value)
{
    zchunk_extend(buffer, name, strlen(name));
    zchunk_extend(buffer, "=", 1);
    for (const char *p = value; *p; p++) {
        const char *escape = *p == '\\' ? "\\\\" : *p == '\n' ? "\\n" : *p == '\r' ? "\\r" : NULL;
        if (escape)
            zchunk_extend(buffer, escape, 2);
        else
            zchunk_extend(buffer, p, 1);
    }
    zchunk_extend(buffer, "\n", 1);
}

/* The hash of the row in columns 0.. of res at row i (ROW_COLUMNS), at
 * position, after previous; written as hex into hash. */
static void s_hash(PGresult *res, int i, int first, int64_t position, const char *previous,
                   char hash[HASH_HEX_SIZE])
{
    static const char *const names[] = {"at_us",  "agency",     "principal",    "kind",   "person",
                                        "method", "aggregates", "request_hash", "outcome"};
    zchunk_t *buffer = zchunk_new(NULL, 512);
    zchunk_extend(buffer, "chuang-audit-v1\n", 16);
    char text[32];
    snprintf(text, sizeof text, "%" PRId64, position);
    s_line(buffer, "position", text);
    for (int c = 0; c < 9; c++)
        s_line(buffer, names[c], PQgetvalue(res, i, first + c));
    s_line(buffer, "previous", previous);
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, zchunk_data(buffer), zchunk_size(buffer));
    sodium_bin2hex(hash, HASH_HEX_SIZE, digest, sizeof digest);
    zchunk_destroy(&buffer);
}

/* The bytes a checkpoint signs; caller frees. */
static char *s_checkpoint_text(const char *schema, const char *position, const char *hash)
{
    return zsys_sprintf("chuang-audit-checkpoint-v1\nschema=%s\nposition=%s\nhash=%s\n", schema,
                        position, hash);
}

int audit_record(PGconn *db, const audit_entry_t *entry)
{
    const char *values[8] = {entry->agency,
                             entry->principal,
                             entry->kind,
                             entry->person,
                             entry->method,
                             entry->aggregates,
                             entry->input ? (const char *)entry->input : "",
                             entry->outcome};
    int lengths[8] = {0, 0, 0, 0, 0, 0, (int)entry->input_size, 0};
    int formats[8] = {0, 0, 0, 0, 0, 0, 1, 0};
    int rc = db_defer(db,
                      "INSERT INTO chuang_audit (agency, principal, kind, person,"
                      " method, aggregates, request_hash, outcome)"
                      " VALUES ($1, $2, $3, $4, $5, $6::text[],"
                      " encode(sha256($7::bytea), 'hex'), $8)",
                      8, values, lengths, formats);
    if (rc != 0)
        log_error("audit record failed", "method=%s error=\"out of memory\"", entry->method);
    return rc;
}

/* Runs sql with values; returns the result when it is expected, else NULL
 * (logged, cleared). */
static PGresult *s_query(PGconn *db, const char *what, const char *sql, int count,
                         const char *const *values, ExecStatusType expected)
{
    PGresult *res = db_query(db, sql, count, values, NULL, NULL, 0);
    if (PQresultStatus(res) == expected)
        return res;
    char quoted[512];
    log_error("audit query failed", "what=%s error=%s", what,
              logger_quote(quoted, sizeof quoted, PQerrorMessage(db)));
    PQclear(res);
    return NULL;
}

/* Writes a checkpoint at the last sealed position when one is due. */
static int s_checkpoint(PGconn *db, const audit_sealer_t *sealer, int64_t last,
                        const char *last_hash)
{
    if (!sealer->key || last == 0)
        return 0;
    PGresult *res = s_query(db, "last checkpoint",
                            "SELECT coalesce(max(position), 0),"
                            " coalesce((extract(epoch FROM now() - max(signed_at)) * 1000)"
                            "::bigint, 9000000000000)"
                            " FROM chuang_audit_checkpoints",
                            0, NULL, PGRES_TUPLES_OK);
    if (!res)
        return -1;
    int64_t checkpointed = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    int64_t age_ms = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    PQclear(res);
    if (last <= checkpointed ||
        (last - checkpointed < sealer->checkpoint_every && age_ms < sealer->checkpoint_ms))
        return 0;
    char position[32];
    snprintf(position, sizeof position, "%" PRId64, last);
    char *text = s_checkpoint_text(sealer->schema, position, last_hash);
    char signature[AGENCY_KEY_SIGNATURE_HEX_SIZE];
    int rc = agency_key_sign(sealer->key, text, strlen(text), signature);
    zstr_free(&text);
    if (rc != 0)
        return -1;
    const char *values[4] = {position, last_hash, agency_key_id(sealer->key), signature};
    res = s_query(db, "write checkpoint",
                  "INSERT INTO chuang_audit_checkpoints (position, hash, key_id, signature)"
                  " VALUES ($1::bigint, $2, $3, $4)",
                  4, values, PGRES_COMMAND_OK);
    PQclear(res);
    return res ? 0 : -1;
}

int audit_seal(PGconn *db, const audit_sealer_t *sealer, int limit)
{
    if (sodium_init() < 0 || db_exec(db, "begin seal", "BEGIN") != 0)
        return -1;
    int sealed = -1;
    char *ids = NULL, *positions = NULL, *hashes = NULL;
    PGresult *rows = NULL;
    PGresult *res = s_query(db, "last sealed",
                            "SELECT position, hash FROM chuang_audit WHERE position IS NOT NULL"
                            " ORDER BY position DESC LIMIT 1",
                            0, NULL, PGRES_TUPLES_OK);
    if (!res)
        goto done;
    int64_t last = PQntuples(res) ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    char previous[HASH_HEX_SIZE];
    snprintf(previous, sizeof previous, "%s", PQntuples(res) ? PQgetvalue(res, 0, 1) : ZERO_HASH);
    PQclear(res);

    char limit_text[16];
    snprintf(limit_text, sizeof limit_text, "%d", limit);
    const char *values[1] = {limit_text};
    rows = s_query(db, "unsealed rows",
                   "SELECT id, " ROW_COLUMNS " FROM chuang_audit"
                   " WHERE position IS NULL ORDER BY id LIMIT $1::int",
                   1, values, PGRES_TUPLES_OK);
    if (!rows)
        goto done;
    int count = PQntuples(rows);
    if (count > 0) {
        zchunk_t *id_list = zchunk_new("{", 1), *position_list = zchunk_new("{", 1),
                 *hash_list = zchunk_new("{", 1);
        for (int i = 0; i < count; i++) {
            char hash[HASH_HEX_SIZE], position[32];
            s_hash(rows, i, 1, ++last, previous, hash);
            snprintf(position, sizeof position, "%s%" PRId64, i ? "," : "", last);
            zchunk_extend(position_list, position, strlen(position));
            if (i) {
                zchunk_extend(id_list, ",", 1);
                zchunk_extend(hash_list, ",", 1);
            }
            zchunk_extend(id_list, PQgetvalue(rows, i, 0), strlen(PQgetvalue(rows, i, 0)));
            zchunk_extend(hash_list, hash, strlen(hash));
            memcpy(previous, hash, sizeof previous);
        }
        zchunk_extend(id_list, "}", 2);
        zchunk_extend(position_list, "}", 2);
        zchunk_extend(hash_list, "}", 2);
        ids = strdup((char *)zchunk_data(id_list));
        positions = strdup((char *)zchunk_data(position_list));
        hashes = strdup((char *)zchunk_data(hash_list));
        zchunk_destroy(&id_list);
        zchunk_destroy(&position_list);
        zchunk_destroy(&hash_list);
        const char *update[3] = {ids, positions, hashes};
        res = s_query(db, "seal rows",
                      "UPDATE chuang_audit a SET position = u.position, hash = u.hash"
                      " FROM unnest($1::bigint[], $2::bigint[], $3::text[])"
                      " AS u(id, position, hash) WHERE a.id = u.id",
                      3, update, PGRES_COMMAND_OK);
        if (!res)
            goto done;
        PQclear(res);
    }
    if (s_checkpoint(db, sealer, last, previous) == 0 && db_exec(db, "seal", "COMMIT") == 0)
        sealed = count;
done:
    if (sealed < 0)
        PQclear(PQexec(db, "ROLLBACK"));
    PQclear(rows);
    free(ids);
    free(positions);
    free(hashes);
    return sealed;
}

static void s_free_item(void **item)
{
    free(*item);
    *item = NULL;
}

int audit_verify(PGconn *db, const char *schema, const char *public_key_hex, FILE *out)
{
    if (sodium_init() < 0)
        return -1;
    int findings = 0;
    int64_t expected = 1;
    char previous[HASH_HEX_SIZE] = ZERO_HASH;
    /* The row hashes by position, for the checkpoints. */
    zhashx_t *hashes = zhashx_new();
    zhashx_set_destructor(hashes, s_free_item);
    for (;;) {
        char after[32], page[16];
        snprintf(after, sizeof after, "%" PRId64, expected - 1);
        snprintf(page, sizeof page, "%d", VERIFY_PAGE);
        const char *values[2] = {after, page};
        PGresult *rows = s_query(db, "read chain",
                                 "SELECT position, " ROW_COLUMNS ", hash FROM chuang_audit"
                                 " WHERE position > $1::bigint ORDER BY position LIMIT $2::int",
                                 2, values, PGRES_TUPLES_OK);
        if (!rows) {
            zhashx_destroy(&hashes);
            return -1;
        }
        int count = PQntuples(rows);
        for (int i = 0; i < count; i++) {
            int64_t position = strtoll(PQgetvalue(rows, i, 0), NULL, 10);
            if (position != expected) {
                fprintf(out, "broken: positions %" PRId64 " to %" PRId64 " are missing\n", expected,
                        position - 1);
                findings++;
            }
            char hash[HASH_HEX_SIZE];
            s_hash(rows, i, 1, position, previous, hash);
            const char *stored = PQgetvalue(rows, i, 10);
            if (!streq(hash, stored)) {
                fprintf(out,
                        "broken: the row at position %" PRId64
                        " does not match its hash (changed after it was sealed)\n",
                        position);
                findings++;
            }
            snprintf(previous, sizeof previous, "%s", stored);
            char key[32];
            snprintf(key, sizeof key, "%" PRId64, position);
            zhashx_insert(hashes, key, strdup(stored));
            expected = position + 1;
        }
        PQclear(rows);
        if (count < VERIFY_PAGE)
            break;
    }
    int64_t sealed = expected - 1;

    char id[AGENCY_KEY_ID_SIZE] = "";
    if (public_key_hex && agency_key_id_of(public_key_hex, id) != 0) {
        fprintf(out, "error: the public key is not 64 hex digits\n");
        zhashx_destroy(&hashes);
        return -1;
    }
    PGresult *checkpoints =
        s_query(db, "read checkpoints",
                "SELECT position, hash, key_id, signature FROM chuang_audit_checkpoints"
                " ORDER BY position",
                0, NULL, PGRES_TUPLES_OK);
    int count = checkpoints ? PQntuples(checkpoints) : 0;
    for (int i = 0; i < count; i++) {
        const char *position = PQgetvalue(checkpoints, i, 0);
        const char *hash = PQgetvalue(checkpoints, i, 1);
        const char *row_hash = zhashx_lookup(hashes, position);
        if (!row_hash) {
            fprintf(out, "broken: checkpoint %s names a row that is missing\n", position);
            findings++;
        } else if (!streq(row_hash, hash)) {
            fprintf(out, "broken: the chain at position %s is not the one checkpointed\n",
                    position);
            findings++;
        }
        if (!public_key_hex)
            continue;
        char *text = s_checkpoint_text(schema, position, hash);
        char reason[64];
        if (!streq(PQgetvalue(checkpoints, i, 2), id) ||
            agency_key_verify(public_key_hex, text, strlen(text), PQgetvalue(checkpoints, i, 3),
                              reason, sizeof reason) != 0) {
            fprintf(out, "broken: checkpoint %s is not signed by this public key\n", position);
            findings++;
        }
        zstr_free(&text);
    }
    PGresult *pending =
        s_query(db, "count unsealed", "SELECT count(*) FROM chuang_audit WHERE position IS NULL", 0,
                NULL, PGRES_TUPLES_OK);
    fprintf(out, "audit log of %s: %" PRId64 " rows sealed, %s not yet, %d checkpoints%s: %s\n",
            schema, sealed, pending ? PQgetvalue(pending, 0, 0) : "?", count,
            public_key_hex ? " checked against the public key" : " (signatures not checked)",
            findings || !checkpoints || !pending ? "broken" : "intact");
    PQclear(pending);
    PQclear(checkpoints);
    zhashx_destroy(&hashes);
    return findings || !checkpoints ? -1 : 0;
}

int audit_list(PGconn *db, const char *aggregate, FILE *out)
{
    const char *values[1] = {aggregate};
    PGresult *res = s_query(db, "list audit",
                            "SELECT coalesce(position, 0),"
                            " to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
                            " agency, principal, kind, person, method, outcome"
                            " FROM chuang_audit WHERE $1 = ANY (aggregates)"
                            " ORDER BY position IS NULL, position, id",
                            1, values, PGRES_TUPLES_OK);
    if (!res)
        return -1;
    int count = PQntuples(res);
    for (int i = 0; i < count; i++) {
        json_t *row = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "position",
                                (json_int_t)strtoll(PQgetvalue(res, i, 0), NULL, 10), "at",
                                PQgetvalue(res, i, 1), "agency", PQgetvalue(res, i, 2), "principal",
                                PQgetvalue(res, i, 3), "kind", PQgetvalue(res, i, 4), "person",
                                PQgetvalue(res, i, 5), "method", PQgetvalue(res, i, 6), "outcome",
                                PQgetvalue(res, i, 7));
        char *text = row ? json_dumps(row, JSON_COMPACT) : NULL;
        if (text)
            fprintf(out, "%s\n", text);
        free(text);
        json_decref(row);
    }
    PQclear(res);
    return count;
}
