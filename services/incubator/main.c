/*
 * main.c - the incubator service (孵化载体): wires its methods to their
 * handlers and runs them on the service framework.
 *
 *   chuang-incubator [-c FILE]
 *
 * It follows the registry's stream (consume.registry.stream) for the
 * entities of the agency's area and the teams that register, and
 * finance's (consume.finance.stream) for the incubation subsidies it opens.
 */
#include "entities.h"
#include "handlers.h"
#include "incubator.pb-c.h"
#include "subsidies.h"

/* Who may call what: the agency's incubator officers register carriers and
 * their recognitions, define graduation criteria and graduate tenants;
 * a carrier's operator, by its own key (role carrier), keeps its spaces and
 * rents, takes applications, admits, declines and ends tenancies of its
 * own carrier (an incubator officer may act for it); any officer takes an
 * application at the window; officers, auditors and the carrier read its
 * tenancies and teams (a carrier without founders' ID numbers); the
 * carrier directory is public. A carrier keeps the agency's register of
 * mentors (an officer reads their phones, a carrier does not), assigns
 * them to its tenants and records their service, schedules its activities
 * and records attendance, and reports its figures for the year; an
 * incubator officer checks them (not their own), defines the evaluation
 * scheme, and sets the responsible units' targets and their progress;
 * officers and auditors read the evaluation and the targets. */
static const service_method_t s_methods[] = {
    {"RegisterCarrier", handle_register_carrier, SERVICE_METHOD_WRITE, "incubator-officer"},
    {"RecogniseCarrier", handle_recognise_carrier, SERVICE_METHOD_WRITE, "incubator-officer"},
    {"GetCarrier", handle_get_carrier, SERVICE_METHOD_READ, SERVICE_PUBLIC},
    {"ListCarriers", handle_list_carriers, SERVICE_METHOD_READ, SERVICE_PUBLIC},
    {"AddSpace", handle_add_space, SERVICE_METHOD_WRITE, "incubator-officer,carrier"},
    {"SetRent", handle_set_rent, SERVICE_METHOD_WRITE, "incubator-officer,carrier"},
    {"ListSpaces", handle_list_spaces, SERVICE_METHOD_READ,
     "incubator-officer,officer,auditor,carrier"},
    {"ApplyForTenancy", handle_apply_for_tenancy, SERVICE_METHOD_WRITE,
     "incubator-officer,officer,carrier"},
    {"DecideTenancy", handle_decide_tenancy, SERVICE_METHOD_WRITE, "incubator-officer,carrier"},
    {"GetTenancy", handle_get_tenancy, SERVICE_METHOD_READ,
     "incubator-officer,officer,auditor,carrier"},
    {"ListTenancies", handle_list_tenancies, SERVICE_METHOD_READ,
     "incubator-officer,officer,auditor,carrier"},
    {"GetTeam", handle_get_team, SERVICE_METHOD_READ, "incubator-officer,officer,auditor,carrier"},
    {"EndTenancy", handle_end_tenancy, SERVICE_METHOD_WRITE, "incubator-officer,carrier"},
    {"DefineGraduationCriteria", handle_define_graduation_criteria, SERVICE_METHOD_WRITE,
     "incubator-officer"},
    {"GraduateTenant", handle_graduate_tenant, SERVICE_METHOD_WRITE, "incubator-officer"},
    {"RegisterMentor", handle_register_mentor, SERVICE_METHOD_WRITE, "incubator-officer,carrier"},
    {"AssignMentor", handle_assign_mentor, SERVICE_METHOD_WRITE, "incubator-officer,carrier"},
    {"RecordMentorService", handle_record_mentor_service, SERVICE_METHOD_WRITE,
     "incubator-officer,carrier"},
    {"GetMentor", handle_get_mentor, SERVICE_METHOD_READ,
     "incubator-officer,officer,auditor,carrier"},
    {"ScheduleActivity", handle_schedule_activity, SERVICE_METHOD_WRITE,
     "incubator-officer,carrier"},
    {"RegisterForActivity", handle_register_for_activity, SERVICE_METHOD_WRITE,
     "incubator-officer,officer,carrier"},
    {"RecordAttendance", handle_record_attendance, SERVICE_METHOD_WRITE,
     "incubator-officer,carrier"},
    {"GetActivityCounts", handle_get_activity_counts, SERVICE_METHOD_READ,
     "incubator-officer,officer,auditor,carrier"},
    {"ReportCarrierYear", handle_report_carrier_year, SERVICE_METHOD_WRITE,
     "incubator-officer,carrier"},
    {"CheckCarrierYear", handle_check_carrier_year, SERVICE_METHOD_WRITE, "incubator-officer"},
    {"DefineEvaluationScheme", handle_define_evaluation_scheme, SERVICE_METHOD_WRITE,
     "incubator-officer"},
    {"GetEvaluation", handle_get_evaluation, SERVICE_METHOD_READ,
     "incubator-officer,officer,auditor"},
    {"SetTarget", handle_set_target, SERVICE_METHOD_WRITE, "incubator-officer"},
    {"RecordProgress", handle_record_progress, SERVICE_METHOD_WRITE, "incubator-officer"},
    {"ListTargets", handle_list_targets, SERVICE_METHOD_READ, "incubator-officer,officer,auditor"},
    {NULL, NULL, 0, NULL},
};

/* The events the incubator keeps state from: the registry's entities and
 * the subsidies finance opens for graduations. */
static const service_consumer_t s_consumers[] = {
    {"registry", "chuang:registry:events", entities_apply, NULL, NULL},
    {"finance", "chuang:finance:events", subsidies_apply, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    const service_def_t def = {
        .name = "incubator",
        .descriptor = &chuang__incubator__incubator__descriptor,
        .methods = s_methods,
        .bounds = incubator_bounds,
        .sql_dir = INCUBATOR_SQL_DIR,
        .consumers = s_consumers,
    };
    return service_main(argc, argv, &def);
}
