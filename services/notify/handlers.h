/*
 * handlers.h - the notify service's methods (see notify.proto).
 */
#ifndef NOTIFY_HANDLERS_H
#define NOTIFY_HANDLERS_H

#include "service.h"

/* notify's own field maxima (the framework checks them before a handler
 * runs; see bounds.h for the rest). */
extern const bounds_t notify_bounds[];

service_handler_fn handle_set_recipient;
service_handler_fn handle_list_inbox;
service_handler_fn handle_mark_read;
service_handler_fn handle_list_deliveries;
service_handler_fn handle_replay_delivery;
service_handler_fn handle_subscribe;
service_handler_fn handle_publish_bulletin;

#endif
