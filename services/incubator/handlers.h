/*
 * handlers.h - the incubator service's request handlers, one file per
 * aggregate (handlers_carriers.c: carriers, their recognitions and the
 * public directory; handlers_spaces.c: spaces and their rent;
 * handlers_tenancies.c: teams and their tenancies from application to
 * exit; handlers_graduation.c: graduation criteria and graduations;
 * handlers_mentors.c: mentors, assignments and service records;
 * handlers_activities.c: activities and attendance; handlers_evaluation.c:
 * carriers' yearly figures, evaluation schemes and scores;
 * handlers_targets.c: responsible units' targets), and its field maxima
 * for the framework.
 */
#ifndef INCUBATOR_HANDLERS_H
#define INCUBATOR_HANDLERS_H

#include "service.h"

extern const bounds_t incubator_bounds[];

service_handler_fn handle_register_carrier;
service_handler_fn handle_recognise_carrier;
service_handler_fn handle_get_carrier;
service_handler_fn handle_list_carriers;
service_handler_fn handle_add_space;
service_handler_fn handle_set_rent;
service_handler_fn handle_list_spaces;
service_handler_fn handle_apply_for_tenancy;
service_handler_fn handle_decide_tenancy;
service_handler_fn handle_get_tenancy;
service_handler_fn handle_list_tenancies;
service_handler_fn handle_get_team;
service_handler_fn handle_end_tenancy;
service_handler_fn handle_define_graduation_criteria;
service_handler_fn handle_graduate_tenant;
service_handler_fn handle_register_mentor;
service_handler_fn handle_assign_mentor;
service_handler_fn handle_record_mentor_service;
service_handler_fn handle_get_mentor;
service_handler_fn handle_schedule_activity;
service_handler_fn handle_register_for_activity;
service_handler_fn handle_record_attendance;
service_handler_fn handle_get_activity_counts;
service_handler_fn handle_report_carrier_year;
service_handler_fn handle_check_carrier_year;
service_handler_fn handle_define_evaluation_scheme;
service_handler_fn handle_get_evaluation;
service_handler_fn handle_set_target;
service_handler_fn handle_record_progress;
service_handler_fn handle_list_targets;

#endif
