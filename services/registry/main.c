/*
 * main.c - the registry service (商事登记): wires its methods to their
 * handlers and runs them on the service framework.
 *
 *   chuang-registry [-c FILE]
 */
#include "handlers.h"
#include "jobs.h"
#include "registry.pb-c.h"

/* Who may call what: officers of the agency do everything; an applicant (a
 * person the gateway authenticated) only on their own reservations and
 * entities, which the handlers check; the public register and its history
 * (personal data masked), credit standing, deregistration notices and
 * licence checks are open to any admitted caller;
 * departments take snapshots of the register to follow its feed. */
static const service_method_t s_methods[] = {
    {"ReserveName", handle_reserve_name, SERVICE_METHOD_WRITE, "officer,applicant"},
    {"SearchNames", handle_search_names, SERVICE_METHOD_READ_ONE, SERVICE_PUBLIC},
    {"RegisterEntity", handle_register, SERVICE_METHOD_WRITE, "officer,applicant"},
    {"GetEntity", handle_get_entity, SERVICE_METHOD_READ, "officer,applicant"},
    {"Lookup", handle_lookup, SERVICE_METHOD_READ_ONE, SERVICE_PUBLIC},
    {"AddToList", handle_add_to_list, SERVICE_METHOD_WRITE, "officer"},
    {"RemoveFromList", handle_remove_from_list, SERVICE_METHOD_WRITE, "officer"},
    {"GetCreditStanding", handle_get_credit_standing, SERVICE_METHOD_READ, SERVICE_PUBLIC},
    {"FileAnnualReport", handle_file_annual_report, SERVICE_METHOD_WRITE, "officer,applicant"},
    {"ApplyDeregistration", handle_apply_deregistration, SERVICE_METHOD_WRITE, "officer,applicant"},
    {"ObjectToDeregistration", handle_object_to_deregistration, SERVICE_METHOD_WRITE,
     "officer,applicant"},
    {"GetDeregistration", handle_get_deregistration, SERVICE_METHOD_READ, SERVICE_PUBLIC},
    {"IssueLicence", handle_issue_licence, SERVICE_METHOD_READ, "officer,applicant"},
    {"VerifyLicence", handle_verify_licence, SERVICE_METHOD_READ, SERVICE_PUBLIC},
    {"ChangeEntity", handle_change_entity, SERVICE_METHOD_WRITE, "officer,applicant"},
    {"GetEntityAsOf", handle_get_entity_as_of, SERVICE_METHOD_READ, SERVICE_PUBLIC},
    {"TakeSnapshot", handle_snapshot, SERVICE_METHOD_READ, "officer,department"},
    {NULL, NULL, 0, NULL},
};

int main(int argc, char **argv)
{
    const service_def_t def = {
        .name = "registry",
        .descriptor = &chuang__registry__registry__descriptor,
        .methods = s_methods,
        .bounds = registry_bounds,
        .sql_dir = REGISTRY_SQL_DIR,
        .jobs = registry_jobs,
        .init = handlers_init,
        .fini = handlers_fini,
    };
    return service_main(argc, argv, &def);
}
