/*
 * pool.h - the pre-listing pool (上市后备资源库) in SQL
 * (sql/0013_listing_pool.sql): proposals, decisions within the year's
 * quota, recommendations on to the pool above, and the stages an entity
 * of the pool reaches.
 *
 * Every function runs on the caller's connection inside its transaction
 * and returns 1 or a count, 0 for "not found", or a negative POOL_* code;
 * on POOL_ERROR the database's error is on the connection.
 */
#ifndef FINANCE_POOL_H
#define FINANCE_POOL_H

#include "finance.pb-c.h"
#include "service.h"

#include <libpq-fe.h>
#include <stdbool.h>

#define POOL_ERROR   -1
#define POOL_OUTSIDE -2 /* the entity is domiciled outside the agency's area */
#define POOL_CLOSED  -3 /* the entity is deregistered */
#define POOL_ENTERED -4 /* the entity is proposed or in the pool already */

/* The stages of a listing, in their order; ends with NULL. */
extern const char *const pool_stages[];

/* Proposes request's entity for agency's pool in year, by by. Returns 1;
 * 0 when finance knows no such entity; POOL_OUTSIDE; POOL_CLOSED;
 * POOL_ENTERED; or POOL_ERROR. */
int pool_propose(PGconn *db, const char *agency, const Chuang__Finance__PoolProposal *request,
                 int year, const char *by);

/* Fills entry (memory from call) with credit_code's entry in agency's
 * pool (the one open, else the latest) and its stages, the entry's row
 * locked for this transaction when lock. Returns 1, 0 when it has none,
 * or POOL_ERROR. */
int pool_get(PGconn *db, service_call_t *call, const char *agency, const char *credit_code,
             bool lock, Chuang__Finance__PoolEntry *entry);

/* Takes this transaction's turn at the decisions of agency's pool (until
 * it ends) and counts what year holds: *admitted, the entries of the year
 * admitted (recommended and removed ones too); *recommended, the entries
 * recommended on in the year. Returns 0 or POOL_ERROR. */
int pool_year(PGconn *db, const char *agency, int year, int *admitted, int *recommended);

/* Moves credit_code's entry of year in agency to status to for reason, by
 * by, on the agency's today. Returns 1 or POOL_ERROR. */
int pool_decide(PGconn *db, const char *agency, const char *credit_code, int year, const char *to,
                const char *reason, const char *by);

/* Records that credit_code reached stage on day. Returns 1, 0 when it was
 * recorded already, or POOL_ERROR. */
int pool_stage_record(PGconn *db, const char *agency, const char *credit_code, const char *stage,
                      const char *day, const char *document, const char *by);

/* 1 when credit_code, in agency's pool (admitted or recommended), has
 * reached stage; 0 when not; POOL_ERROR. */
int pool_stage_reached(PGconn *db, const char *agency, const char *credit_code, const char *stage);

/* Fills list with agency's entries of year (0: every year) in status (""
 * any), without their stages. Returns the count or POOL_ERROR. */
int pool_list(PGconn *db, service_call_t *call, const char *agency, int year, const char *status,
              Chuang__Finance__PoolList *list);

#endif
