/*
 * registry_fixture.h - a valid registration, for the integration tests that
 * need registry events (the feed, federation, retention).
 */
#ifndef CHUANG_REGISTRY_FIXTURE_H
#define CHUANG_REGISTRY_FIXTURE_H

#include "client.h"

/* Reserves "杭州<trade_name>网络科技有限公司" and registers a limited company
 * under it (legal representative 李四, one founder), in agency 330106.
 * Returns its credit code (caller frees); fails the test on any error. */
char *registry_fixture_register(client_t *client, const char *trade_name);

/* The same with the name reserved by applicant (a resident ID number). */
char *registry_fixture_register_as(client_t *client, const char *trade_name, const char *applicant);

#endif
