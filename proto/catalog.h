/*
 * catalog.h - the protobuf services a tool can call by name.
 *
 * CMake generates catalog_services[] from the .proto files a binary is built
 * with (see chuang_catalog in the top CMakeLists.txt), so a generic tool such as
 * chuangctl finds a method's input and output types without knowing the service.
 */
#ifndef CHUANG_CATALOG_H
#define CHUANG_CATALOG_H

#include <protobuf-c/protobuf-c.h>

/* NULL-terminated. */
extern const ProtobufCServiceDescriptor *const catalog_services[];

/* The service whose name (Registry) or package's last part (registry) is
 * name, ignoring case; NULL when the catalog has none. */
const ProtobufCServiceDescriptor *catalog_find_service(const char *name);

#endif
