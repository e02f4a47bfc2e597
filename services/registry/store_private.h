/*
 * store_private.h - what the registry's SQL files (store.c, store_names.c,
 * store_entities.c, store_credit.c, store_deregistration.c) share and their
 * callers never see: the one way they run a statement. Defined in store.c.
 */
#ifndef REGISTRY_STORE_PRIVATE_H
#define REGISTRY_STORE_PRIVATE_H

#include <libpq-fe.h>

/* Runs a query with text parameters; NULL (after clearing) unless its status
 * is expected. */
PGresult *store_query(PGconn *db, const char *sql, int count, const char *const *values,
                      ExecStatusType expected);

#endif
