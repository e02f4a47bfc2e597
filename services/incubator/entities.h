/*
 * entities.h - the incubator's read model of the registry's entities
 * (sql/0001_entities.sql): whether an operator or a tenant is an entity
 * of the agency's area, and the link from a team of the nursery to the
 * entity it registers as.
 */
#ifndef INCUBATOR_ENTITIES_H
#define INCUBATOR_ENTITIES_H

#include "consumer.h"

/* Applies one of the registry's events (consumer_handler_fn): an
 * EntityRegistered keeps the entity and links to it the team of each
 * agency with the most founders in common (by ID number) that has no
 * credit code yet, writing incubator.TeamRegistered for it; a
 * Deregistered marks it deregistered; EntityChanged keeps its name and
 * domicile. Other events are ignored. */
int entities_apply(PGconn *db, const Chuang__Event *event, void *arg, char *error);

#endif
