/*
 * handlers.h - the notify service's methods (see notify.proto).
 */
#ifndef NOTIFY_HANDLERS_H
#define NOTIFY_HANDLERS_H

#include "service.h"

service_handler_fn handle_set_recipient;
service_handler_fn handle_list_inbox;
service_handler_fn handle_mark_read;
service_handler_fn handle_list_deliveries;
service_handler_fn handle_replay_delivery;
service_handler_fn handle_subscribe;
service_handler_fn handle_publish_bulletin;

#endif
