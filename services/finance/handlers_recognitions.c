/*
 * handlers_recognitions.c - competition placings and recognitions of the
 * agency's entities, recorded from their certificates (facts.h holds the
 * SQL). A reward programme tests them by its conditions on the
 * recognition its application's subject names (handlers_facts.c); the
 * award register matches rewards for one certificate across levels.
 */
#include "awards.h"
#include "facts.h"
#include "handlers.h"
#include "handlers_private.h"

#include <czmq.h>

Chuang__Status handle_record_recognition(service_call_t *call, const ProtobufCMessage *input,
                                         ProtobufCMessage *output)
{
    const Chuang__Finance__Recognition *r = (const Chuang__Finance__Recognition *)input;
    if (!checks_text_valid(r->certificate, true) || strlen(r->certificate) > 64)
        service_call_violation(call, "certificate", "must be the certificate's number");
    if (!checks_credit_code_shaped(r->credit_code))
        service_call_violation(call, "credit_code", "must be the entity's credit code");
    bool competition = streq(r->kind, "competition");
    if (!competition && !streq(r->kind, "recognition"))
        service_call_violation(call, "kind", "must be competition or recognition");
    if (!checks_text_valid(r->name, true))
        service_call_violation(call, "name", "must name the competition or the recognition");
    bool level = false;
    for (size_t i = 0; awards_levels[i]; i++)
        level = level || streq(awards_levels[i], r->level);
    if (!level)
        service_call_violation(call, "level", "must be town, district, city, province or national");
    if (competition ? r->place < 1 || r->place > 99 : r->place != 0)
        service_call_violation(call, "place",
                               competition ? "must be the place won, from 1"
                                           : "must be 0: a recognition has no place");
    if (!*r->awarded_on)
        service_call_violation(call, "awarded_on", "must be the certificate's date");
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    const char *day = r->awarded_on;
    Chuang__Status status = checks_past_day(call, "awarded_on", &day, NULL);
    if (status != CHUANG__STATUS__OK)
        return status;
    PGconn *db = service_call_db(call);
    const char *agency = service_call_header(call)->agency;
    int area = facts_of_area(db, agency, r->credit_code);
    if (area < 0 && area != FACTS_OUTSIDE && area != FACTS_CLOSED)
        return service_call_sql_fail(call, NULL, "read entity facts");
    if (area != 1) {
        service_call_violation(call, "credit_code",
                               area == 0 ? "is not an entity finance knows"
                                         : "is not a registered entity of this agency's area");
        return service_call_fail(
            call, area == 0 ? CHUANG__STATUS__NOT_FOUND : CHUANG__STATUS__FAILED_PRECONDITION,
            "not an entity of this agency", "Recognitions are recorded for the agency's entities.",
            NULL);
    }
    const char *by = service_call_recorded_by(call);
    int rc = facts_recognition_record(db, agency, r, by);
    if (rc < 0)
        return service_call_sql_fail(call, NULL, "record recognition");
    if (rc == 0) {
        service_call_violation(call, "certificate", "is recorded already");
        return service_call_fail(call, CHUANG__STATUS__ALREADY_EXISTS, "recognition recorded",
                                 "The agency has recorded that certificate.", NULL);
    }
    Chuang__Finance__Recognition *recorded = (Chuang__Finance__Recognition *)output;
    if (facts_recognition(db, call, agency, r->certificate, r->credit_code, recorded) != 1)
        return service_call_sql_fail(call, NULL, "read recognition");
    char aggregate[96];
    snprintf(aggregate, sizeof aggregate, "recognition:%s", r->certificate);
    return service_call_emit(call, "finance.RecognitionRecorded", aggregate,
                             CHUANG__VISIBILITY__VISIBILITY_INTERNAL, &recorded->base);
}
