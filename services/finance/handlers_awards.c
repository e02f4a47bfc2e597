/*
 * handlers_awards.c - the cross-level award register as officers read it:
 * everything an entity has been awarded, at every level whose awards
 * reach this agency (awards.h holds the SQL).
 */
#include "awards.h"
#include "handlers.h"
#include "handlers_private.h"

Chuang__Status handle_list_awards(service_call_t *call, const ProtobufCMessage *input,
                                  ProtobufCMessage *output)
{
    const Chuang__Finance__ListAwardsRequest *request =
        (const Chuang__Finance__ListAwardsRequest *)input;
    handlers_applicant_check(call, request->credit_code, request->id_number);
    service_page_t page;
    if (service_call_page(call, "awards", "i", request->limit, request->page_token, 50, 100,
                          &page) != 0 ||
        service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    if (awards_list(service_call_db(call), call,
                    *request->id_number ? request->id_number : request->credit_code, &page,
                    (Chuang__Finance__AwardList *)output) < 0)
        return service_call_sql_fail(call, NULL, "list awards");
    return CHUANG__STATUS__OK;
}
