/*
 * handlers.c - what the finance service's handlers share (declared in
 * handlers_private.h): who applies, and the service's field maxima
 * (finance_bounds). The checks every service makes of a request are
 * common/checks.h's; the handlers are in one file per aggregate
 * (handlers.h).
 */
#include "handlers.h"
#include "handlers_private.h"

#include "identifiers.h"

#include <czmq.h>
#include <stdio.h>

const bounds_t finance_bounds[] = {
    {"chuang.finance.ProgrammeVersion.parameters", PARAMETERS_MAX},
    {"chuang.finance.ProgrammeVersion.conditions", CONDITIONS_MAX},
    {"chuang.finance.ProgrammeVersion.approvals", APPROVALS_MAX},
    {"chuang.finance.Condition.values", VALUES_MAX},
    {"chuang.finance.ProgrammeVersion.award_rules", AWARD_RULES_MAX},
    {"chuang.finance.AwardRule.levels", 5},
    {"chuang.finance.ProgrammeVersion.service_categories", 20},
    {"chuang.finance.ProgrammeVersion.providers", 50},
    {"chuang.finance.RegisterProviderRequest.categories", 20},
    {"chuang.finance.FundFiling.stages", 5},
    {"chuang.finance.LoanProductRequest.industries", 20},
    {"chuang.finance.LoanProductRequest.stages", 10},
    {"chuang.finance.LoanProductRequest.security", 10},
    {"chuang.finance.FinancingNeedRequest.security", 10},
    {"chuang.finance.MeetingRequest.participants", 500},
    {NULL, 0},
};

void handlers_applicant_check(service_call_t *call, const char *credit_code, const char *id_number)
{
    char reason[128];
    if (*credit_code && *id_number)
        service_call_violation(call, "id_number", "must be empty when credit_code names an entity");
    else if (*id_number && identifiers_resident_id_check(id_number, 0, reason, sizeof reason) != 0)
        service_call_violation(call, "id_number", "is not a resident ID number: %s", reason);
    else if (!*id_number && !checks_credit_code_shaped(credit_code))
        service_call_violation(call, "credit_code",
                               "must be a unified social credit code of 18 characters, or the "
                               "applicant a person (id_number)");
}
