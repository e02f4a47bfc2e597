/*
 * catalog.c - finding a service of the catalog by name (catalog.h); linked
 * into every catalog library beside its generated catalog_services[].
 */
#include "catalog.h"

#include <string.h>
#include <strings.h>

const ProtobufCServiceDescriptor *catalog_find_service(const char *name)
{
    for (size_t i = 0; catalog_services[i]; i++) {
        const ProtobufCServiceDescriptor *service = catalog_services[i];
        const char *last = strrchr(service->package, '.');
        last = last ? last + 1 : service->package;
        if (strcasecmp(service->short_name, name) == 0 || strcasecmp(last, name) == 0)
            return service;
    }
    return NULL;
}
