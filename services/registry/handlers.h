/*
 * handlers.h - the registry's methods, one handler each (see registry.proto),
 * defined one file per aggregate as grouped below; what those files share is
 * in handlers.c (handlers_private.h).
 */
#ifndef REGISTRY_HANDLERS_H
#define REGISTRY_HANDLERS_H

#include "service.h"

/* Names: handlers_names.c. */
service_handler_fn handle_reserve_name;
service_handler_fn handle_search_names;

/* Entities: handlers_entities.c. */
service_handler_fn handle_register;
service_handler_fn handle_get_entity;
service_handler_fn handle_lookup;
service_handler_fn handle_change_entity;
service_handler_fn handle_get_entity_as_of;
service_handler_fn handle_snapshot;

/* Credit lists and annual reports: handlers_credit.c. */
service_handler_fn handle_add_to_list;
service_handler_fn handle_remove_from_list;
service_handler_fn handle_get_credit_standing;
service_handler_fn handle_file_annual_report;

/* Simplified deregistration: handlers_deregistration.c. */
service_handler_fn handle_apply_deregistration;
service_handler_fn handle_object_to_deregistration;
service_handler_fn handle_get_deregistration;

/* Licences: handlers_licence.c. */
service_handler_fn handle_issue_licence;
service_handler_fn handle_verify_licence;

/* The registry's own field maxima (the framework checks them before a
 * handler runs; see bounds.h for the rest). */
extern const bounds_t registry_bounds[];

/* Loads the licence signing key named by registry.licence_key, if set
 * (handlers_licence.c). Returns -1 when it is set but cannot be loaded. */
int handlers_init(config_t *config);

/* Forgets the signing key. */
void handlers_fini(void);

#endif
