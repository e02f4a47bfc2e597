/*
 * audit.h - the hash-chained audit log of a service's accepted writes.
 *
 * The framework records every write it commits (audit_record, in the
 * write's transaction): who (principal, its kind, the person a gateway acted
 * for), what (method, the aggregates its events name, the SHA-256 of its
 * input), when and the outcome. One process at a time seals the committed
 * rows (audit_seal): it numbers them 1, 2, 3... in commit-safe order (rows
 * below the oldest running transaction, as the outbox relay does) and gives
 * each the hash
 *
 *   hash(n) = hex(SHA-256(canonical(row n)))   hash(0) = 64 zeros
 *
 * over this canonical text, whose last line is hash(n-1) (values escaped: backslash, LF and CR as
 * \\, \n, \r; aggregates joined by commas):
 *
 *   chuang-audit-v1\n position=N\n at_us=N\n agency=..\n principal=..\n
 *   kind=..\n person=..\n method=..\n aggregates=..\n request_hash=..\n
 *   outcome=..\n previous=<hash(n-1)>\n        (each line without the space)
 *
 * Every checkpoint_every rows, and at least every checkpoint_ms while rows
 * come, it signs "chuang-audit-checkpoint-v1\nschema=S\nposition=N\nhash=H\n"
 * with the agency's key. audit_verify checks a chain offline with the
 * agency's public key alone: contiguous positions, every hash, every
 * checkpoint's signature and that no checkpointed row is missing.
 */
#ifndef CHUANG_AUDIT_H
#define CHUANG_AUDIT_H

#include "agency_key.h"
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>

/* Who made a write and what it was, as audit_record writes it. */
typedef struct {
    const char *agency;
    const char *principal; /* the table's name for the key, else the key */
    const char *kind;
    const char *person; /* "" unless a gateway acted for someone */
    const char *method;
    const char *aggregates; /* a text[] literal of the aggregates changed */
    const uint8_t *input;   /* the method's packed input, hashed */
    size_t input_size;
    const char *outcome;
} audit_entry_t;

/* Writes entry into the log, inside the caller's open transaction: its
 * INSERT goes with the COMMIT (db_defer), whose failure it then is.
 * Returns 0, or -1 when memory ran out (the caller rolls back). */
int audit_record(PGconn *db, const audit_entry_t *entry);

typedef struct {
    const char *schema;
    agency_key_t *key; /* signs checkpoints; NULL: none are written */
    int64_t checkpoint_every;
    int64_t checkpoint_ms;
} audit_sealer_t;

/* Seals up to limit committed rows and writes a checkpoint when one is due,
 * in one transaction of its own on db. Call from one process at a time (the
 * framework holds a db_lock for it). Returns how many rows it sealed, or -1
 * (logged). */
int audit_seal(PGconn *db, const audit_sealer_t *sealer, int limit);

/* Checks the chain in the connection's schema against public_key_hex (the
 * agency's public key; NULL skips the signatures). Writes one line per
 * finding to out and a summary. Returns 0 when the chain holds, -1 when it
 * is broken or cannot be read. */
int audit_verify(PGconn *db, const char *schema, const char *public_key_hex, FILE *out);

/* Prints the rows that name aggregate, oldest first, as JSON lines. Returns
 * how many, or -1. */
int audit_list(PGconn *db, const char *aggregate, FILE *out);

#endif
