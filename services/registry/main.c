/*
 * main.c - the registry service (商事登记): wires its methods to their
 * handlers and runs them on the service framework.
 *
 *   chuang-registry [-c FILE]
 */
#include "handlers.h"
#include "jobs.h"
#include "registry.pb-c.h"

static const service_method_t s_methods[] = {
    {"ReserveName", handle_reserve_name, SERVICE_METHOD_WRITE},
    {"SearchNames", handle_search_names, SERVICE_METHOD_READ},
    {"RegisterEntity", handle_register, SERVICE_METHOD_WRITE},
    {"GetEntity", handle_get_entity, SERVICE_METHOD_READ},
    {"Lookup", handle_lookup, SERVICE_METHOD_READ},
    {"AddToList", handle_add_to_list, SERVICE_METHOD_WRITE},
    {"RemoveFromList", handle_remove_from_list, SERVICE_METHOD_WRITE},
    {"GetCreditStanding", handle_get_credit_standing, SERVICE_METHOD_READ},
    {"FileAnnualReport", handle_file_annual_report, SERVICE_METHOD_WRITE},
    {"ApplyDeregistration", handle_apply_deregistration, SERVICE_METHOD_WRITE},
    {"ObjectToDeregistration", handle_object_to_deregistration, SERVICE_METHOD_WRITE},
    {"GetDeregistration", handle_get_deregistration, SERVICE_METHOD_READ},
    {"IssueLicence", handle_issue_licence, SERVICE_METHOD_READ},
    {"VerifyLicence", handle_verify_licence, SERVICE_METHOD_READ},
    {"ChangeEntity", handle_change_entity, SERVICE_METHOD_WRITE},
    {"GetEntityAsOf", handle_get_entity_as_of, SERVICE_METHOD_READ},
    {"TakeSnapshot", handle_snapshot, SERVICE_METHOD_READ},
    {NULL, NULL, 0},
};

int main(int argc, char **argv)
{
    const service_def_t def = {
        .name = "registry",
        .descriptor = &chuang__registry__registry__descriptor,
        .methods = s_methods,
        .sql_dir = REGISTRY_SQL_DIR,
        .tick = registry_tick,
        .init = handlers_init,
        .fini = handlers_fini,
    };
    return service_main(argc, argv, &def);
}
