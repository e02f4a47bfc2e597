/*
 * registry_fixture.c - a valid registration; see registry_fixture.h.
 */
#include "registry_fixture.h"
#include "registry.pb-c.h"

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

char *registry_fixture_register_as(client_t *client, const char *trade_name, const char *applicant)
{
    Chuang__Registry__ReserveNameRequest reserve = CHUANG__REGISTRY__RESERVE_NAME_REQUEST__INIT;
    reserve.region = "杭州";
    reserve.trade_name = (char *)trade_name;
    reserve.industry = "网络科技";
    reserve.organisational_form = "有限公司";
    reserve.applicant_name = "张三";
    reserve.applicant_id_number = (char *)applicant;
    Chuang__Reply *reply = client_call(client, "registry", "ReserveName", &reserve.base, NULL);
    assert_int_equal(reply->status, CHUANG__STATUS__OK);
    Chuang__Registry__NameReservation *reservation =
        chuang__registry__name_reservation__unpack(NULL, reply->payload.len, reply->payload.data);

    Chuang__Registry__Person person = CHUANG__REGISTRY__PERSON__INIT;
    person.name = "李四";
    person.id_number = "330106199003071236";
    person.phone = "13812345678";
    Chuang__Registry__Founder founder = CHUANG__REGISTRY__FOUNDER__INIT;
    founder.person = &person;
    founder.subscribed_capital_fen = 1000000;
    Chuang__Registry__Founder *founders[1] = {&founder};
    Chuang__Registry__Address domicile = CHUANG__REGISTRY__ADDRESS__INIT;
    domicile.division_code = "330106";
    domicile.detail = "文三路 1 号";
    Chuang__Registry__RegisterRequest request = CHUANG__REGISTRY__REGISTER_REQUEST__INIT;
    request.reservation_id = reservation->reservation_id;
    request.entity_type = CHUANG__REGISTRY__ENTITY_TYPE__LIMITED_COMPANY;
    request.legal_representative = &person;
    request.registered_capital_fen = 1000000;
    request.business_scope = "软件开发";
    request.industry_code = "I6513";
    request.n_founders = 1;
    request.founders = founders;
    request.domicile = &domicile;
    Chuang__Reply *registered =
        client_call(client, "registry", "RegisterEntity", &request.base, NULL);
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
