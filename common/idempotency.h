/*
 * idempotency.h - the store that makes a retried request apply once.
 *
 * Inside the transaction that applies a request, the service claims the
 * request's idempotency key. The first claim wins and, after the effect,
 * records the reply in the same transaction; a later claim of the same key
 * (a client's retry, possibly to another worker or replica) waits for the
 * first transaction to end and then gets the recorded reply back. Had the
 * first transaction rolled back, the retry applies the request itself.
 * A key reused for a different request is refused. A key belongs to its
 * scope (who sent it), so two callers never share one. Keys live in the
 * service's own schema (chuang_idempotency) and are purged after a retention
 * period.
 */
#ifndef CHUANG_IDEMPOTENCY_H
#define CHUANG_IDEMPOTENCY_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    IDEMPOTENCY_NEW,      /* first use: apply, then idempotency_record */
    IDEMPOTENCY_REPLAY,   /* applied before: *reply holds the first reply */
    IDEMPOTENCY_CONFLICT, /* the key was used for a different request */
    IDEMPOTENCY_ERROR     /* SQL failed; the transaction is aborted */
} idempotency_claim_t;

/* Claims key within scope (who sent it: agency, principal, person) for
 * method with input, inside an open transaction. identity (what the caller
 * claimed, e.g. its roles) is part of the request's hash with method and
 * input, so the same key sent with other rights is a different request. On
 * REPLAY, *reply and *reply_size are the first reply's packed bytes (caller
 * frees). */
idempotency_claim_t idempotency_claim(PGconn *db, const char *scope, const char *key,
                                      const char *method, const char *identity,
                                      const uint8_t *input, size_t size, uint8_t **reply,
                                      size_t *reply_size);

/* Records the reply to a NEW claim, in the same transaction: the UPDATE
 * goes with the COMMIT (db_defer), whose failure it then is. Returns 0, or
 * -1 when memory ran out. */
int idempotency_record(PGconn *db, const char *scope, const char *key, const uint8_t *reply,
                       size_t size);

/* Deletes keys older than retention_days. Returns how many, or -1. */
int idempotency_purge(PGconn *db, int retention_days);

#endif
