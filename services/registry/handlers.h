/*
 * handlers.h - the registry's methods, one handler each (see registry.proto).
 */
#ifndef REGISTRY_HANDLERS_H
#define REGISTRY_HANDLERS_H

#include "service.h"

service_handler_fn handle_reserve_name;
service_handler_fn handle_search_names;
service_handler_fn handle_register;
service_handler_fn handle_get_entity;
service_handler_fn handle_lookup;

#endif
