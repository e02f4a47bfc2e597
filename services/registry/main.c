/*
 * main.c - the registry service (商事登记): wires its methods to their
 * handlers and runs them on the service framework.
 *
 *   chuang-registry [-c FILE]
 */
#include "handlers.h"
#include "registry.pb-c.h"

static const service_method_t s_methods[] = {
    {"ReserveName", handle_reserve_name, SERVICE_METHOD_WRITE},
    {"SearchNames", handle_search_names, SERVICE_METHOD_READ},
    {"RegisterEntity", handle_register, SERVICE_METHOD_WRITE},
    {"GetEntity", handle_get_entity, SERVICE_METHOD_READ},
    {"Lookup", handle_lookup, SERVICE_METHOD_READ},
    {NULL, NULL, 0},
};

int main(int argc, char **argv)
{
    const service_def_t def = {
        .name = "registry",
        .descriptor = &chuang__registry__registry__descriptor,
        .methods = s_methods,
        .sql_dir = REGISTRY_SQL_DIR,
    };
    return service_main(argc, argv, &def);
}
