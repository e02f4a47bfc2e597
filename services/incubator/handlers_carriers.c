/*
 * handlers_carriers.c - carriers (孵化载体): registered by an incubator
 * officer with their operator (an entity of the agency's area), type and
 * taxonomy; recognised over time at higher levels, each recognition kept
 * (its level the carrier's while none higher follows); read by anyone
 * with the directory's figures (spaces, vacancies, tenants, activities
 * ahead), and listed as the public directory.
 *
 * A recognition is a finance fact too: incubator.CarrierRecognised tells
 * finance, which records it for the operator so that a top-up programme
 * (大朗's 1:0.5 of the highest award) can match it.
 */
#include "handlers.h"
#include "handlers_private.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>

static const char *const s_types[] = {
    "nursery",        "incubator",       "accelerator", "maker_space", "entrepreneurship_base",
    "tech_incubator", "university_park", NULL};
static const char *const s_levels[] = {"district", "city", "province", "national", NULL};

/* The carrier's columns as Carrier fields, with the directory's figures
 * as of the agency's today ($1 is the agency). */
#define CARRIER_COLUMNS                                                                            \
    "c.code, c.name, c.carrier_type, c.taxonomy, c.operator_credit_code, c.area_m2, c.online,"     \
    " c.government_run, c.status, c.registered_on::text AS registered_on, c.principal,"            \
    " coalesce((SELECT r.level FROM carrier_recognitions r WHERE r.agency = c.agency"              \
    "   AND r.carrier = c.code ORDER BY incubator_level_rank(r.level) DESC LIMIT 1), '')"          \
    "   AS level,"                                                                                 \
    " (SELECT count(*) FROM spaces s WHERE s.agency = c.agency AND s.carrier = c.code)"            \
    "   AS spaces,"                                                                                \
    " (SELECT count(*) FROM spaces s WHERE s.agency = c.agency AND s.carrier = c.code"             \
    "   AND NOT EXISTS (SELECT 1 FROM agreements a JOIN tenancies t ON t.id = a.tenancy"           \
    "     WHERE a.space = s.id AND t.status = 'admitted'"                                          \
    "     AND chuang_today($1) BETWEEN a.start_on AND a.end_on)) AS vacancies,"                    \
    " (SELECT count(*) FROM tenancies t WHERE t.agency = c.agency AND t.carrier = c.code"          \
    "   AND t.status = 'admitted') AS tenants,"                                                    \
    " (SELECT count(*) FROM activities v WHERE v.agency = c.agency AND v.carrier = c.code"         \
    "   AND v.held_on >= chuang_today($1)) AS activities_ahead,"                                   \
    " c.division AS _division, c.address AS _address"

/* Fills carrier from row of res (CARRIER_COLUMNS) and its recognitions. */
static Chuang__Status s_fill(service_call_t *call, const PGresult *res, int row,
                             Chuang__Incubator__Carrier *carrier)
{
    Chuang__Status status = service_call_row(call, res, row, &carrier->base);
    if (status != CHUANG__STATUS__OK)
        return status;
    Chuang__Registry__Address *address = service_call_alloc(call, sizeof *address);
    chuang__registry__address__init(address);
    address->division_code =
        service_call_strdup(call, PQgetvalue(res, row, PQfnumber(res, "_division")));
    address->detail = service_call_strdup(call, PQgetvalue(res, row, PQfnumber(res, "_address")));
    carrier->address = address;
    const char *values[2] = {service_call_header(call)->agency, carrier->code};
    Chuang__Status failure;
    PGresult *r = service_call_query(call, "read recognitions",
                                     "SELECT level, body, recognised_on::text AS recognised_on,"
                                     " certificate, title, recorded_by FROM carrier_recognitions"
                                     " WHERE agency = $1 AND carrier = $2"
                                     " ORDER BY recognised_on, recorded_at",
                                     2, values, PGRES_TUPLES_OK, &failure);
    if (!r)
        return failure;
    status = service_call_rows(call, r, -1, &chuang__incubator__recognition__descriptor,
                               &carrier->recognitions, &carrier->n_recognitions);
    PQclear(r);
    return status;
}

/* Reads carrier code of the request's agency into carrier. Returns OK,
 * NOT_FOUND or the query's failure. */
static Chuang__Status s_read(service_call_t *call, const char *code,
                             Chuang__Incubator__Carrier *carrier)
{
    const char *values[2] = {service_call_header(call)->agency, code};
    Chuang__Status failure;
    PGresult *res = service_call_query(call, "read carrier",
                                       "SELECT " CARRIER_COLUMNS " FROM carriers c"
                                       " WHERE c.agency = $1 AND c.code = $2",
                                       2, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    Chuang__Status status = PQntuples(res) == 1 ? s_fill(call, res, 0, carrier)
                                                : service_call_fail(call, CHUANG__STATUS__NOT_FOUND,
                                                                    "no such carrier", NULL, NULL);
    PQclear(res);
    return status;
}

Chuang__Status handle_register_carrier(service_call_t *call, const ProtobufCMessage *input,
                                       ProtobufCMessage *output)
{
    const Chuang__Incubator__CarrierRequest *request =
        (const Chuang__Incubator__CarrierRequest *)input;
    if (!checks_code_valid(request->code))
        service_call_violation(call, "code",
                               "must be 2 to 40 of a-z, 0-9 and '-', not starting with '-'");
    if (!checks_text_valid(request->name, true))
        service_call_violation(call, "name", "must be the carrier's name (1 to %d characters)",
                               CHECKS_TEXT_MAX);
    if (!checks_listed(s_types, request->carrier_type))
        service_call_violation(call, "carrier_type",
                               "must be nursery, incubator, accelerator, maker_space, "
                               "entrepreneurship_base, tech_incubator or university_park");
    if (!checks_name_valid(request->taxonomy))
        service_call_violation(call, "taxonomy",
                               "must name the recognising department, e.g. human_resources or "
                               "science_technology");
    if (request->online ? !handlers_within(request->area_m2, false, AREA_MAX)
                        : !handlers_within(request->area_m2, true, AREA_MAX))
        service_call_violation(call, "area_m2",
                               request->online ? "must be 0 or more square metres"
                                               : "must be more than 0 square metres for a "
                                                 "physical carrier");
    const Chuang__Registry__Address *address = request->address;
    if (!address || strlen(address->division_code) != 6 ||
        strspn(address->division_code, "0123456789") != 6)
        service_call_violation(call, "address.division_code",
                               "must be the six-digit division code of the carrier's site");
    else if (!checks_text_valid(address->detail, !request->online))
        service_call_violation(call, "address.detail",
                               "must be the street and number (1 to %d characters)",
                               CHECKS_TEXT_MAX);
    if (!checks_text_valid(request->principal, false) || strlen(request->principal) > 64)
        service_call_violation(call, "principal", "must be the name of the operator's client key");
    Chuang__Status status =
        handlers_entity_of_area(call, "operator_credit_code", request->operator_credit_code);
    if (status != CHUANG__STATUS__OK || service_call_has_violations(call))
        return service_call_has_violations(call) ? CHUANG__STATUS__INVALID_ARGUMENT : status;
    const char *agency = service_call_header(call)->agency;
    char area[24];
    snprintf(area, sizeof area, "%" PRId64, request->area_m2);
    const char *values[13] = {agency,
                              request->code,
                              request->name,
                              request->carrier_type,
                              request->taxonomy,
                              request->operator_credit_code,
                              area,
                              request->online ? "t" : "f",
                              request->government_run ? "t" : "f",
                              address->division_code,
                              address->detail,
                              service_call_recorded_by(call),
                              request->principal};
    Chuang__Status failure;
    PGresult *res = service_call_query(
        call, "register carrier",
        "INSERT INTO carriers (agency, code, name, carrier_type, taxonomy, operator_credit_code,"
        "   area_m2, online, government_run, division, address, registered_on, registered_by,"
        "   principal)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7::bigint, $8::boolean, $9::boolean, $10, $11,"
        "   chuang_today($1), $12, $13)"
        " ON CONFLICT (agency, code) DO NOTHING",
        13, values, PGRES_COMMAND_OK, &failure);
    if (!res)
        return failure;
    bool inserted = streq(PQcmdTuples(res), "1");
    PQclear(res);
    if (!inserted) {
        service_call_violation(call, "code", "is the code of another carrier of this agency");
        return service_call_fail(call, CHUANG__STATUS__ALREADY_EXISTS, "carrier exists", NULL,
                                 NULL);
    }
    Chuang__Incubator__Carrier *carrier = (Chuang__Incubator__Carrier *)output;
    status = s_read(call, request->code, carrier);
    if (status != CHUANG__STATUS__OK)
        return status;
    return handlers_emit(call, "incubator.CarrierRegistered", "carrier", request->code,
                         &carrier->base);
}

Chuang__Status handle_recognise_carrier(service_call_t *call, const ProtobufCMessage *input,
                                        ProtobufCMessage *output)
{
    const Chuang__Incubator__RecognitionRequest *request =
        (const Chuang__Incubator__RecognitionRequest *)input;
    const Chuang__Incubator__Recognition *r = request->recognition;
    if (!r)
        return service_call_violation(call, "recognition", "must say which recognition");
    if (!checks_listed(s_levels, r->level))
        service_call_violation(call, "recognition.level",
                               "must be district, city, province or national");
    if (!checks_text_valid(r->body, true))
        service_call_violation(call, "recognition.body",
                               "must name the recognising body (1 to %d characters)",
                               CHECKS_TEXT_MAX);
    if (!checks_text_valid(r->certificate, true) || strlen(r->certificate) > 64)
        service_call_violation(call, "recognition.certificate",
                               "must be the document or certificate number (1 to 64 bytes)");
    if (!checks_text_valid(r->title, true))
        service_call_violation(
            call, "recognition.title",
            "must be what it recognises the carrier as, e.g. 省级科技企业孵化器");
    const char *on = r->recognised_on;
    Chuang__Status status = checks_past_day(call, "recognition.recognised_on", &on, NULL);
    if (status != CHUANG__STATUS__OK && status != CHUANG__STATUS__INVALID_ARGUMENT)
        return status;
    carrier_ref_t carrier;
    status = handlers_carrier(call, "carrier_code", request->carrier_code, true, &carrier);
    if (status != CHUANG__STATUS__OK || service_call_has_violations(call))
        return service_call_has_violations(call) ? CHUANG__STATUS__INVALID_ARGUMENT : status;
    const char *values[8] = {service_call_header(call)->agency,
                             r->certificate,
                             carrier.code,
                             r->level,
                             r->body,
                             r->title,
                             on,
                             service_call_recorded_by(call)};
    Chuang__Status failure;
    PGresult *res = service_call_query(
        call, "record recognition",
        "INSERT INTO carrier_recognitions (agency, certificate, carrier, level, body, title,"
        "   recognised_on, recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7::date, $8)"
        " ON CONFLICT (agency, certificate) DO NOTHING",
        8, values, PGRES_COMMAND_OK, &failure);
    if (!res)
        return failure;
    bool inserted = streq(PQcmdTuples(res), "1");
    PQclear(res);
    if (!inserted) {
        service_call_violation(call, "recognition.certificate", "has been recorded already");
        return service_call_fail(call, CHUANG__STATUS__ALREADY_EXISTS, "recognition recorded", NULL,
                                 NULL);
    }
    Chuang__Incubator__Carrier *out = (Chuang__Incubator__Carrier *)output;
    status = s_read(call, carrier.code, out);
    if (status != CHUANG__STATUS__OK)
        return status;
    /* The event's carrier names the new recognition last: an older
     * recognition recorded late must still be the one reported. */
    for (size_t i = 0; i + 1 < out->n_recognitions; i++)
        if (streq(out->recognitions[i]->certificate, r->certificate)) {
            Chuang__Incubator__Recognition *found = out->recognitions[i];
            memmove(&out->recognitions[i], &out->recognitions[i + 1],
                    (out->n_recognitions - i - 1) * sizeof *out->recognitions);
            out->recognitions[out->n_recognitions - 1] = found;
            break;
        }
    return handlers_emit(call, "incubator.CarrierRecognised", "carrier", carrier.code, &out->base);
}

Chuang__Status handle_get_carrier(service_call_t *call, const ProtobufCMessage *input,
                                  ProtobufCMessage *output)
{
    const Chuang__Incubator__GetCarrierRequest *request =
        (const Chuang__Incubator__GetCarrierRequest *)input;
    if (!checks_code_valid(request->code))
        return service_call_violation(call, "code", "is not a carrier's code");
    Chuang__Incubator__Carrier *carrier = (Chuang__Incubator__Carrier *)output;
    Chuang__Status status = s_read(call, request->code, carrier);
    /* Who holds the operator's key is the agency's to know. */
    if (status == CHUANG__STATUS__OK && !service_call_has_role(call, "incubator-officer") &&
        !service_call_has_role(call, "officer") && !service_call_has_role(call, "auditor"))
        carrier->principal = "";
    return status;
}

Chuang__Status handle_list_carriers(service_call_t *call, const ProtobufCMessage *input,
                                    ProtobufCMessage *output)
{
    const Chuang__Incubator__ListCarriersRequest *request =
        (const Chuang__Incubator__ListCarriersRequest *)input;
    Chuang__Incubator__CarrierPage *reply = (Chuang__Incubator__CarrierPage *)output;
    if (*request->carrier_type && !checks_listed(s_types, request->carrier_type))
        service_call_violation(call, "carrier_type", "is not a type of carrier");
    service_page_t page;
    service_call_page(call, "carriers", "i", request->limit, request->page_token, 50, 200, &page);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    const char *values[4] = {service_call_header(call)->agency, request->carrier_type,
                             page.after[0], page.fetch};
    Chuang__Status failure;
    PGresult *res = service_call_query(
        call, "list carriers",
        "SELECT c.id AS _key, " CARRIER_COLUMNS " FROM carriers c"
        " WHERE c.agency = $1 AND c.status = 'active' AND ($2 = '' OR c.carrier_type = $2)"
        "   AND ($3::bigint IS NULL OR c.id > $3::bigint)"
        " ORDER BY c.id LIMIT $4::int",
        4, values, PGRES_TUPLES_OK, &failure);
    if (!res)
        return failure;
    int shown = PQntuples(res) < page.limit ? PQntuples(res) : page.limit;
    reply->carriers =
        service_call_alloc(call, (size_t)(shown ? shown : 1) * sizeof *reply->carriers);
    Chuang__Status status = CHUANG__STATUS__OK;
    for (int i = 0; i < shown && status == CHUANG__STATUS__OK; i++) {
        Chuang__Incubator__Carrier *carrier = service_call_alloc(call, sizeof *carrier);
        chuang__incubator__carrier__init(carrier);
        status = s_fill(call, res, i, carrier);
        /* The directory is public: who holds the operator's key is not. */
        carrier->principal = "";
        reply->carriers[reply->n_carriers++] = carrier;
    }
    const char *last = shown ? PQgetvalue(res, shown - 1, 0) : NULL;
    reply->next_page_token =
        (char *)service_call_page_next(call, &page, PQntuples(res), last ? &last : NULL);
    PQclear(res);
    return status;
}
