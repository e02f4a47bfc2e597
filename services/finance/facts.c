/*
 * facts.c - finance's read model of the registry's entities; see facts.h.
 *
 * The registry's events are applied in their order per entity (the
 * consumer holds back an entity's later events behind a failed one), each
 * once (the consumer's inbox), so each handler here writes the state the
 * event says, with an upsert where a redelivery after a rebuild could meet
 * its own earlier write. Founders' ID numbers are not kept: eligibility
 * asks only for their categories.
 */
#include "facts.h"
#include "db.h"
#include "db_array.h"
#include "registry.pb-c.h"

#include <czmq.h>
#include <inttypes.h>
#include <strings.h>

/* The enum value's name, e.g. "LIMITED_COMPANY", or "" when unknown. */
static const char *s_enum_name(const ProtobufCEnumDescriptor *descriptor, int value)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(descriptor, value);
    return v ? v->name : "";
}

static int s_exec(PGconn *db, const char *sql, int count, const char *const *values)
{
    PGresult *res = db_query(db, sql, count, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
    PQclear(res);
    return rc;
}

static int s_registered(PGconn *db, const Chuang__Event *event, const uint8_t *data, size_t len,
                        char *error)
{
    Chuang__Registry__Entity *entity = chuang__registry__entity__unpack(NULL, len, data);
    if (!entity) {
        snprintf(error, 256, "payload is not a chuang.registry.Entity");
        return -1;
    }
    /* Every category any founder has, once each. */
    char *categories[64];
    size_t n = 0;
    for (size_t f = 0; f < entity->n_founders; f++)
        for (size_t c = 0; c < entity->founders[f]->n_categories && n < 64; c++) {
            const char *name = s_enum_name(&chuang__registry__founder_category__descriptor,
                                           entity->founders[f]->categories[c]);
            bool seen = !*name;
            for (size_t k = 0; k < n && !seen; k++)
                seen = streq(categories[k], name);
            if (!seen)
                categories[n++] = (char *)name;
        }
    char *array = db_text_array(categories, n);
    const char *values[8] = {
        entity->credit_code,
        event->agency,
        entity->name,
        s_enum_name(&chuang__registry__entity_type__descriptor, entity->entity_type),
        entity->registered_on,
        entity->domicile ? entity->domicile->division_code : "",
        array,
        entity->industry_code};
    int rc = array ? s_exec(db,
                            "INSERT INTO entity_facts (credit_code, agency, name, entity_type,"
                            "   registered_on, division, founder_categories, status,"
                            "   industry_code)"
                            " VALUES ($1, $2, $3, $4, $5::date, $6, $7::text[], 'registered', $8)"
                            " ON CONFLICT (credit_code) DO UPDATE SET agency = $2, name = $3,"
                            "   entity_type = $4, registered_on = $5::date, division = $6,"
                            "   founder_categories = $7::text[], industry_code = $8,"
                            "   updated_at = now()",
                            8, values)
                   : -1;
    free(array);
    chuang__registry__entity__free_unpacked(entity, NULL);
    return rc;
}

static int s_changed(PGconn *db, const uint8_t *data, size_t len, char *error)
{
    Chuang__Registry__EntityChange *change =
        chuang__registry__entity_change__unpack(NULL, len, data);
    if (!change) {
        snprintf(error, 256, "payload is not a chuang.registry.EntityChange");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < change->n_changes && rc == 0; i++) {
        const Chuang__Registry__FieldChange *c = change->changes[i];
        const char *values[2] = {change->credit_code, c->new_value};
        if (streq(c->field, "name"))
            rc = s_exec(db,
                        "UPDATE entity_facts SET name = $2, updated_at = now()"
                        " WHERE credit_code = $1",
                        2, values);
        else if (streq(c->field, "domicile")) /* "<division> <detail>" */
            rc = s_exec(db,
                        "UPDATE entity_facts SET division = split_part($2, ' ', 1),"
                        " updated_at = now() WHERE credit_code = $1",
                        2, values);
    }
    chuang__registry__entity_change__free_unpacked(change, NULL);
    return rc;
}

static int s_listing(PGconn *db, const uint8_t *data, size_t len, bool removed, char *error)
{
    Chuang__Registry__Listing *listing = chuang__registry__listing__unpack(NULL, len, data);
    if (!listing) {
        snprintf(error, 256, "payload is not a chuang.registry.Listing");
        return -1;
    }
    char id[24], listed[24], removed_at[24];
    snprintf(id, sizeof id, "%" PRId64, listing->id);
    snprintf(listed, sizeof listed, "%" PRId64, listing->listed_at_ms);
    snprintf(removed_at, sizeof removed_at, "%" PRId64,
             removed ? (listing->removed_at_ms ? listing->removed_at_ms : 1) : 0);
    const char *values[7] = {
        id,        listing->credit_code, listing->list, listing->reason, listing->authority, listed,
        removed_at};
    int rc = s_exec(db,
                    "INSERT INTO entity_listings (listing_id, credit_code, list, reason, authority,"
                    "   listed_at, removed_at)"
                    " VALUES ($1::bigint, $2, $3, $4, $5, to_timestamp($6::bigint / 1000.0),"
                    "   CASE WHEN $7::bigint > 0 THEN to_timestamp($7::bigint / 1000.0) END)"
                    " ON CONFLICT (listing_id) DO UPDATE SET removed_at = EXCLUDED.removed_at",
                    7, values);
    chuang__registry__listing__free_unpacked(listing, NULL);
    return rc;
}

static int s_deregistered(PGconn *db, const Chuang__Event *event)
{
    const char *values[1] = {event->aggregate_id};
    return s_exec(db,
                  "UPDATE entity_facts SET status = 'deregistered', updated_at = now()"
                  " WHERE credit_code = $1",
                  1, values);
}

int facts_apply(PGconn *db, const Chuang__Event *event, void *arg, char *error)
{
    (void)arg;
    const uint8_t *data = event->payload.data;
    size_t len = event->payload.len;
    const char *type = event->type;
    if (streq(type, "registry.EntityRegistered"))
        return s_registered(db, event, data, len, error);
    if (streq(type, "registry.EntityChanged"))
        return s_changed(db, data, len, error);
    if (streq(type, "registry.ListedAbnormal") || streq(type, "registry.ListedDishonest"))
        return s_listing(db, data, len, false, error);
    if (streq(type, "registry.RemovedAbnormal") || streq(type, "registry.RemovedDishonest"))
        return s_listing(db, data, len, true, error);
    if (streq(type, "registry.Deregistered"))
        return s_deregistered(db, event);
    return 0;
}

int facts_get(PGconn *db, service_call_t *call, const char *credit_code,
              Chuang__Finance__EntityFacts *facts)
{
    const char *values[1] = {credit_code};
    PGresult *res = db_query(
        db,
        "SELECT credit_code, name, entity_type, registered_on::text AS registered_on, division,"
        " founder_categories, status,"
        " CASE WHEN EXISTS (SELECT 1 FROM entity_listings l WHERE l.credit_code = f.credit_code"
        "     AND l.removed_at IS NULL AND l.list = 'dishonest') THEN 'dishonest'"
        "   WHEN EXISTS (SELECT 1 FROM entity_listings l WHERE l.credit_code = f.credit_code"
        "     AND l.removed_at IS NULL) THEN 'abnormal' ELSE 'good' END AS standing,"
        " industry_code,"
        " coalesce((SELECT first_on::text FROM entity_firsts x WHERE x.credit_code = f.credit_code"
        "   AND x.kind = 'investment'), '') AS first_investment_on,"
        " coalesce((SELECT first_on::text FROM entity_firsts x WHERE x.credit_code = f.credit_code"
        "   AND x.kind = 'loan'), '') AS first_loan_on,"
        " coalesce((SELECT first_on::text FROM entity_firsts x WHERE x.credit_code = f.credit_code"
        "   AND x.kind = 'guarantee'), '') AS first_guarantee_on"
        " FROM entity_facts f WHERE credit_code = $1",
        1, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : -1;
    if (rc == 1 && service_call_row(call, res, 0, &facts->base) != CHUANG__STATUS__OK)
        rc = -1;
    PQclear(res);
    if (rc != 1)
        return rc;
    res = db_query(db,
                   "SELECT listing_id, list, reason, authority,"
                   " (extract(epoch FROM listed_at) * 1000)::bigint AS listed_ms"
                   " FROM entity_listings WHERE credit_code = $1 AND removed_at IS NULL"
                   " ORDER BY list = 'dishonest' DESC, listing_id",
                   1, values, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK ||
        service_call_rows(call, res, -1, &chuang__finance__credit_listing__descriptor,
                          &facts->listings, &facts->n_listings) != CHUANG__STATUS__OK)
        rc = -1;
    PQclear(res);
    return rc;
}

int facts_of_area(PGconn *db, const char *agency, const char *credit_code)
{
    const char *values[2] = {credit_code, agency};
    PGresult *res = db_query(db,
                             "SELECT finance_within($2, division), status = 'registered'"
                             " FROM entity_facts WHERE credit_code = $1",
                             2, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : -1;
    if (rc == 1 && !streq(PQgetvalue(res, 0, 0), "t"))
        rc = FACTS_OUTSIDE;
    else if (rc == 1 && !streq(PQgetvalue(res, 0, 1), "t"))
        rc = FACTS_CLOSED;
    PQclear(res);
    return rc;
}

int facts_recognition_record(PGconn *db, const char *agency, const Chuang__Finance__Recognition *r,
                             const char *by)
{
    char place[16];
    snprintf(place, sizeof place, "%d", r->place);
    const char *values[9] = {agency,   r->certificate, r->credit_code, r->kind, r->name,
                             r->level, place,          r->awarded_on,  by};
    PGresult *res = db_query(db,
                             "INSERT INTO recognitions (agency, certificate, credit_code, kind,"
                             "   name, level, place, awarded_on, recorded_by)"
                             " VALUES ($1, $2, $3, $4, $5, $6, nullif($7::int, 0), $8::date, $9)"
                             " ON CONFLICT DO NOTHING",
                             9, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? atoi(PQcmdTuples(res)) : -1;
    PQclear(res);
    return rc;
}

int facts_recognition(PGconn *db, service_call_t *call, const char *agency, const char *certificate,
                      const char *credit_code, Chuang__Finance__Recognition *recognition)
{
    const char *values[3] = {agency, certificate, credit_code};
    PGresult *res = db_query(db,
                             "SELECT certificate, credit_code, kind, name, level,"
                             " coalesce(place, 0) AS place, awarded_on::text AS awarded_on,"
                             " recorded_by FROM recognitions"
                             " WHERE agency = $1 AND certificate = $2 AND credit_code = $3",
                             3, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : -1;
    if (rc == 1 && service_call_row(call, res, 0, &recognition->base) != CHUANG__STATUS__OK)
        rc = -1;
    PQclear(res);
    return rc;
}

/* true when one of values is text, ignoring case. */
static bool s_among(char *const *values, size_t n, const char *text)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(values[i], text) == 0)
            return true;
    return false;
}

/* The number of the day YYYY-MM-DD: days since 1970-01-01. */
static long s_day_number(const char *day)
{
    int y = 0, m = 0, d = 0;
    sscanf(day, "%d-%d-%d", &y, &m, &d);
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Tests condition c against facts on day; writes the fact as tested into
 * actual (call memory). */
static bool s_holds(service_call_t *call, const Chuang__Finance__Condition *c,
                    const Chuang__Finance__EntityFacts *facts, const facts_subject_t *subject,
                    const char *day, char **actual)
{
    const Chuang__Finance__Recognition *recognition = subject->recognition;
    if (strncmp(c->fact, "recognition_", 12) == 0 || streq(c->fact, "competition_place")) {
        if (!recognition) {
            *actual = "no recognition of the entity has the subject's certificate number";
            return false;
        }
        if (streq(c->fact, "competition_place")) {
            char text[32];
            snprintf(text, sizeof text, "%d", recognition->place);
            *actual = service_call_strdup(call, recognition->place ? text : "not a competition");
            return recognition->place >= 1 && recognition->place <= strtol(c->values[0], NULL, 10);
        }
        const char *value =
            streq(c->fact, "recognition_kind") ? recognition->kind : recognition->level;
        *actual = service_call_strdup(call, value);
        return s_among(c->values, c->n_values, value);
    }
    if (streq(c->fact, "investment_round") || streq(c->fact, "investee_age_days")) {
        if (!subject->investment) {
            *actual = "the subject names no investment of a fund the applicant manages";
            return false;
        }
        if (streq(c->fact, "investment_round")) {
            *actual = service_call_strdup(call, subject->investment->round);
            return s_among(c->values, c->n_values, subject->investment->round);
        }
        char text[32];
        snprintf(text, sizeof text, "%" PRId64, subject->investee_age_days);
        *actual = service_call_strdup(call, text);
        return subject->investee_age_days >= 0 &&
               subject->investee_age_days <= strtoll(c->values[0], NULL, 10);
    }
    if (streq(c->fact, "founder_category")) {
        bool holds = false;
        char *list = zsys_sprintf("%s", "");
        for (size_t i = 0; i < facts->n_founder_categories; i++) {
            holds = holds || s_among(c->values, c->n_values, facts->founder_categories[i]);
            char *longer = zsys_sprintf("%s%s%s", list, i ? "," : "", facts->founder_categories[i]);
            zstr_free(&list);
            list = longer;
        }
        *actual = service_call_strdup(call, list && *list ? list : "none");
        zstr_free(&list);
        return holds;
    }
    if (streq(c->fact, "entity_type") || streq(c->fact, "credit_standing")) {
        const char *value = streq(c->fact, "entity_type") ? facts->entity_type : facts->standing;
        *actual = service_call_strdup(call, value);
        return s_among(c->values, c->n_values, value);
    }
    if (streq(c->fact, "entity_age_days")) {
        long age = s_day_number(day) - s_day_number(facts->registered_on);
        char text[32];
        snprintf(text, sizeof text, "%ld", age);
        *actual = service_call_strdup(call, text);
        return age >= 0 && age <= strtol(c->values[0], NULL, 10);
    }
    if (streq(c->fact, "division")) {
        *actual = service_call_strdup(call, facts->division);
        for (size_t i = 0; i < c->n_values; i++)
            if (strncmp(facts->division, c->values[i], strlen(c->values[i])) == 0)
                return true;
        return false;
    }
    if (streq(c->fact, "lending_fen")) {
        char text[32];
        snprintf(text, sizeof text, "%" PRId64, facts->lending_fen);
        *actual = service_call_strdup(call, text);
        return facts->lending_fen >= strtoll(c->values[0], NULL, 10);
    }
    /* headcount: no source of headcounts reaches finance yet. */
    *actual = service_call_strdup(call, "unknown");
    return false;
}

void facts_evaluate(service_call_t *call, const Chuang__Finance__ProgrammeVersion *version,
                    const Chuang__Finance__EntityFacts *facts, const facts_subject_t *subject,
                    const char *day, Chuang__Finance__Eligibility *out)
{
    out->version = version->version;
    out->eligible = true;
    out->results = service_call_alloc(call, (version->n_conditions + 1) * sizeof *out->results);
    for (size_t i = 0; i < version->n_conditions; i++) {
        Chuang__Finance__ConditionResult *result = service_call_alloc(call, sizeof *result);
        chuang__finance__condition_result__init(result);
        result->condition = version->conditions[i];
        result->holds = s_holds(call, version->conditions[i], facts, subject, day, &result->actual);
        out->eligible = out->eligible && result->holds;
        out->results[out->n_results++] = result;
    }
    out->flags = facts->listings;
    out->n_flags = facts->n_listings;
    out->flagged = facts->n_listings > 0;
}

const Chuang__Finance__CreditListing *facts_dishonest(const Chuang__Finance__EntityFacts *facts)
{
    for (size_t i = 0; i < facts->n_listings; i++)
        if (streq(facts->listings[i]->list, "dishonest"))
            return facts->listings[i];
    return NULL;
}
