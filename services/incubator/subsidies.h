/*
 * subsidies.h - the incubation subsidies finance opens for successful
 * graduations, followed from finance's events so that the carrier and the
 * officer see each one's progress on the tenancy.
 */
#ifndef INCUBATOR_SUBSIDIES_H
#define INCUBATOR_SUBSIDIES_H

#include "consumer.h"

/* Applies one of finance's events (consumer_handler_fn): an application's
 * step (finance.Application*) whose subject is "graduation:<tenancy>"
 * sets that graduation's subsidy application, status and amount (what
 * was paid, else awarded, else applied for). Other events are ignored. */
int subsidies_apply(PGconn *db, const Chuang__Event *event, void *arg, char *error);

#endif
