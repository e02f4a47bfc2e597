/*
 * facts.h - finance's read model of the registry's entities: the consumer
 * handler that keeps it from the registry's events, and its reads
 * (sql/0003_entity_facts.sql).
 */
#ifndef FINANCE_FACTS_H
#define FINANCE_FACTS_H

#include "chuang.pb-c.h"
#include "finance.pb-c.h"
#include "service.h"

#include <libpq-fe.h>

/* A consumer handler (consumer.h): applies one registry event to the read
 * model in the open transaction on db. Events that carry no fact finance
 * keeps are skipped (0); an event whose payload does not unpack is an
 * error (-1, with why in error), so it goes to the dead letters rather than
 * being lost. */
int facts_apply(PGconn *db, const Chuang__Event *event, void *arg, char *error);

/* Fills facts (memory from call) with what finance knows of credit_code in
 * agency, its open listings and its standing. Returns 1, 0 when it knows
 * nothing of it, or -1 on a database error. */
int facts_get(PGconn *db, service_call_t *call, const char *agency, const char *credit_code,
              Chuang__Finance__EntityFacts *facts);

#endif
