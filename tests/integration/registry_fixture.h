/*
 * registry_fixture.h - a valid registration, for the integration tests that
 * need registry events (the feed, federation, retention).
 */
#ifndef CHUANG_REGISTRY_FIXTURE_H
#define CHUANG_REGISTRY_FIXTURE_H

#include "client.h"
#include "registry.pb-c.h"

/* A reservation request for "杭州<trade_name>网络科技有限公司" by applicant
 * 张三 (a resident ID number); borrows both strings. */
void registry_fixture_reservation(Chuang__Registry__ReserveNameRequest *request,
                                  const char *trade_name, const char *applicant);

/* A registration of a limited company under a reservation: legal
 * representative 李四, who is also its one founder, domicile in 330106. */
typedef struct {
    Chuang__Registry__RegisterRequest request;
    Chuang__Registry__Person person;
    Chuang__Registry__Founder founder;
    Chuang__Registry__Founder *founders[1];
    Chuang__Registry__Address domicile;
} registry_fixture_registration_t;

/* Fills r for reservation_id with that domicile detail (e.g. "文三路 1 号");
 * borrows both strings. */
void registry_fixture_registration(registry_fixture_registration_t *r, const char *reservation_id,
                                   const char *domicile_detail);

/* Reserves "杭州<trade_name>网络科技有限公司" and registers a limited company
 * under it (legal representative 李四, one founder), in agency 330106.
 * Returns its credit code (caller frees); fails the test on any error. */
char *registry_fixture_register(client_t *client, const char *trade_name);

/* The same with the name reserved by applicant (a resident ID number). */
char *registry_fixture_register_as(client_t *client, const char *trade_name, const char *applicant);

/* The same with the founder in n_categories categories (borrowed). */
char *registry_fixture_register_founder(client_t *client, const char *trade_name,
                                        const char *applicant,
                                        Chuang__Registry__FounderCategory *categories,
                                        size_t n_categories);

/* The same, with no founder category, domiciled in division (of the
 * client's agency). */
char *registry_fixture_register_in(client_t *client, const char *trade_name, const char *division);

/* The same, with founder_name (resident ID number founder_id) its one
 * founder, legal representative and the name's applicant. */
char *registry_fixture_register_person(client_t *client, const char *trade_name,
                                       const char *founder_name, const char *founder_id);

#endif
