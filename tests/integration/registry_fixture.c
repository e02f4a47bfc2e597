/*
 * registry_fixture.c - a valid registration; see registry_fixture.h.
 */
#include "registry_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

char *registry_fixture_register(client_t *client, const char *trade_name)
{
    return registry_fixture_register_as(client, trade_name, "11010519491231002X");
}

void registry_fixture_reservation(Chuang__Registry__ReserveNameRequest *request,
                                  const char *trade_name, const char *applicant)
{
    chuang__registry__reserve_name_request__init(request);
    request->region = "杭州";
    request->trade_name = (char *)trade_name;
    request->industry = "网络科技";
    request->organisational_form = "有限公司";
    request->applicant_name = "张三";
    request->applicant_id_number = (char *)applicant;
}

void registry_fixture_registration(registry_fixture_registration_t *r, const char *reservation_id,
                                   const char *domicile_detail)
{
    chuang__registry__person__init(&r->person);
    r->person.name = "李四";
    r->person.id_number = "330106199003071236";
    r->person.phone = "13812345678";
    chuang__registry__founder__init(&r->founder);
    r->founder.person = &r->person;
    r->founder.subscribed_capital_fen = 1000000;
    r->founders[0] = &r->founder;
    chuang__registry__address__init(&r->domicile);
    r->domicile.division_code = "330106";
    r->domicile.detail = (char *)domicile_detail;
    chuang__registry__register_request__init(&r->request);
    r->request.reservation_id = (char *)reservation_id;
    r->request.entity_type = CHUANG__REGISTRY__ENTITY_TYPE__LIMITED_COMPANY;
    r->request.legal_representative = &r->person;
    r->request.registered_capital_fen = 1000000;
    r->request.business_scope = "软件开发";
    r->request.industry_code = "I6513";
    r->request.n_founders = 1;
    r->request.founders = r->founders;
    r->request.domicile = &r->domicile;
}

char *registry_fixture_register_as(client_t *client, const char *trade_name, const char *applicant)
{
    return registry_fixture_register_founder(client, trade_name, applicant, NULL, 0);
}

/* Reserves trade_name and registers it with one founder of categories,
 * domiciled in division: the credit code (caller frees). */
static char *s_register(client_t *client, const char *trade_name, const char *applicant,
                        Chuang__Registry__FounderCategory *categories, size_t n_categories,
                        const char *division, const char *founder_name, const char *founder_id)
{
    Chuang__Registry__ReserveNameRequest reserve;
    registry_fixture_reservation(&reserve, trade_name, applicant);
    Chuang__Reply *reply = client_call(client, "registry", "ReserveName", &reserve.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Registry__NameReservation *reservation =
        chuang__registry__name_reservation__unpack(NULL, reply->payload.len, reply->payload.data);

    registry_fixture_registration_t registration;
    registry_fixture_registration(&registration, reservation->reservation_id, "文三路 1 号");
    registration.domicile.division_code = (char *)division;
    registration.founder.categories = categories;
    registration.founder.n_categories = n_categories;
    if (founder_id) {
        registration.person.name = (char *)founder_name;
        registration.person.id_number = (char *)founder_id;
    }
    Chuang__Reply *registered =
        client_call(client, "registry", "RegisterEntity", &registration.request.base, NULL);
    assert_int_equal(registered->status, CHUANG__STATUS__OK);
    Chuang__Registry__Entity *entity =
        chuang__registry__entity__unpack(NULL, registered->payload.len, registered->payload.data);
    char *code = strdup(entity->credit_code);
    chuang__registry__entity__free_unpacked(entity, NULL);
    chuang__reply__free_unpacked(registered, NULL);
    chuang__registry__name_reservation__free_unpacked(reservation, NULL);
    chuang__reply__free_unpacked(reply, NULL);
    return code;
}

char *registry_fixture_register_founder(client_t *client, const char *trade_name,
                                        const char *applicant,
                                        Chuang__Registry__FounderCategory *categories,
                                        size_t n_categories)
{
    return s_register(client, trade_name, applicant, categories, n_categories, "330106", NULL,
                      NULL);
}

char *registry_fixture_register_in(client_t *client, const char *trade_name, const char *division)
{
    return s_register(client, trade_name, "11010519491231002X", NULL, 0, division, NULL, NULL);
}

char *registry_fixture_register_person(client_t *client, const char *trade_name,
                                       const char *founder_name, const char *founder_id)
{
    return s_register(client, trade_name, founder_id, NULL, 0, "330106", founder_name, founder_id);
}
