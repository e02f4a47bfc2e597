/*
 * store_entities.c - the registry's SQL for entities: registration with
 * founders and addresses, loading, who may act on one, the history of its
 * tracked fields that changes keep and GetEntityAsOf reads, and the pages
 * of a snapshot; see store.h.
 *
 * Addresses are rows of their own (addresses) that entities link to
 * (entity_addresses), as the domicile or a business address. Each tracked
 * field has one open period in entity_history (valid_to NULL); a change
 * closes it and opens the new value's, with the entities column it mirrors,
 * in the request's transaction.
 */
#include "db.h"
#include "db_array.h"
#include "store.h"
#include "store_private.h"

#include <czmq.h>

int store_next_organisation_number(PGconn *db, long long *number)
{
    PGresult *res =
        store_query(db, "SELECT nextval('organisation_numbers')", 0, NULL, PGRES_TUPLES_OK);
    if (!res)
        return -1;
    *number = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return 0;
}

/* Records the entity's count addresses (divisions, details, kinds and
 * positions in order) in one statement, reusing the address rows that
 * exist. An existing row is only read, never locked or rewritten, so
 * registrations at a shared address do not wait for each other. When
 * another transaction inserts the same new address at the same moment,
 * the statement links less than all (its snapshot predates that row) and
 * is run once more, when the row is visible; what it linked stays. */
static int s_addresses_add(PGconn *db, const char *credit_code, char **divisions, char **details,
                           char **kinds, char **positions, size_t count)
{
    char *arrays[4] = {db_text_array(divisions, count), db_text_array(details, count),
                       db_text_array(kinds, count), db_text_array(positions, count)};
    const char *values[5] = {credit_code, arrays[0], arrays[1], arrays[2], arrays[3]};
    long linked = 0;
    for (int attempt = 0;
         attempt < 2 && linked < (long)count && arrays[0] && arrays[1] && arrays[2] && arrays[3];
         attempt++) {
        PGresult *res = store_query(
            db,
            "WITH wanted AS (SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::int[])"
            "   AS w (division_code, detail, kind, position)),"
            " inserted AS (INSERT INTO addresses (division_code, detail)"
            "   SELECT DISTINCT w.division_code, w.detail FROM wanted w WHERE NOT EXISTS"
            "     (SELECT 1 FROM addresses a WHERE a.division_code = w.division_code"
            "      AND a.detail = w.detail)"
            "   ON CONFLICT (division_code, detail) DO NOTHING"
            "   RETURNING id, division_code, detail),"
            " known AS (SELECT a.id, a.division_code, a.detail FROM addresses a"
            "   WHERE EXISTS (SELECT 1 FROM wanted w WHERE w.division_code = a.division_code"
            "     AND w.detail = a.detail)"
            "   UNION ALL SELECT id, division_code, detail FROM inserted)"
            " INSERT INTO entity_addresses (credit_code, address_id, kind, position)"
            " SELECT $1, k.id, w.kind, w.position FROM wanted w"
            " JOIN LATERAL (SELECT id FROM known k WHERE k.division_code = w.division_code"
            "   AND k.detail = w.detail LIMIT 1) k ON true"
            " ON CONFLICT (credit_code, kind, position) DO NOTHING",
            5, values, PGRES_COMMAND_OK);
        if (!res)
            break;
        linked += atol(PQcmdTuples(res));
        PQclear(res);
    }
    for (size_t i = 0; i < 4; i++)
        free(arrays[i]);
    return linked == (long)count ? 0 : -1;
}

/* Records the request's founders, in order, in one statement. */
static int s_founders_add(PGconn *db, const char *credit_code,
                          const Chuang__Registry__RegisterRequest *request)
{
    size_t count = request->n_founders;
    if (count == 0)
        return 0;
    char **columns[3]; /* names, ID numbers, phones */
    for (size_t c = 0; c < 3; c++)
        columns[c] = calloc(count, sizeof **columns);
    char **categories = calloc(count, sizeof *categories);
    char **subscribed = calloc(count, sizeof *subscribed);
    int rc = -1;
    if (!columns[0] || !columns[1] || !columns[2] || !categories || !subscribed)
        goto done;
    for (size_t i = 0; i < count; i++) {
        const Chuang__Registry__Founder *founder = request->founders[i];
        columns[0][i] = founder->person->name;
        columns[1][i] = founder->person->id_number;
        columns[2][i] = founder->person->phone;
        char list[256] = "{";
        for (size_t c = 0; c < founder->n_categories && c < 16; c++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%d", c ? "," : "",
                     (int)founder->categories[c]);
        strcat(list, "}");
        categories[i] = strdup(list);
        subscribed[i] = zsys_sprintf("%" PRId64, founder->subscribed_capital_fen);
        if (!categories[i] || !subscribed[i])
            goto done;
    }
    char *arrays[5] = {db_text_array(columns[0], count), db_text_array(columns[1], count),
                       db_text_array(columns[2], count), db_text_array(categories, count),
                       db_text_array(subscribed, count)};
    if (arrays[0] && arrays[1] && arrays[2] && arrays[3] && arrays[4]) {
        const char *values[6] = {credit_code, arrays[0], arrays[1],
                                 arrays[2],   arrays[3], arrays[4]};
        /* Categories travel as the text of each founder's smallint[]. */
        PGresult *res = store_query(db,
                                    "INSERT INTO founders (credit_code, position, name, id_number,"
                                    " phone, categories, subscribed_capital_fen)"
                                    " SELECT $1, f.i - 1, f.name, f.id_number, f.phone,"
                                    "   f.categories::smallint[], f.subscribed"
                                    " FROM unnest($2::text[], $3::text[], $4::text[], $5::text[],"
                                    "   $6::bigint[]) WITH ORDINALITY"
                                    "   AS f (name, id_number, phone, categories, subscribed, i)",
                                    6, values, PGRES_COMMAND_OK);
        rc = res ? 0 : -1;
        PQclear(res);
    }
    for (size_t c = 0; c < 5; c++)
        free(arrays[c]);
done:
    for (size_t i = 0; categories && subscribed && i < count; i++) {
        free(categories[i]);
        zstr_free(&subscribed[i]);
    }
    for (size_t c = 0; c < 3; c++)
        free(columns[c]);
    free(categories);
    free(subscribed);
    return rc;
}

int store_entity_add(PGconn *db, const char *agency, const char *credit_code,
                     const store_reservation_t *reservation,
                     const Chuang__Registry__RegisterRequest *request)
{
    const Chuang__Registry__Person *rep = request->legal_representative;
    char type[8], capital[24];
    snprintf(type, sizeof type, "%d", (int)request->entity_type);
    snprintf(capital, sizeof capital, "%" PRId64, request->registered_capital_fen);
    const char *values[13] = {credit_code,
                              agency,
                              reservation->name,
                              reservation->trade_name,
                              reservation->industry,
                              type,
                              rep->name,
                              rep->id_number,
                              rep->phone,
                              capital,
                              request->business_scope,
                              request->industry_code,
                              request->reservation_id};
    PGresult *res =
        store_query(db,
                    "INSERT INTO entities (credit_code, agency, name, trade_name, industry,"
                    " entity_type, legal_rep_name, legal_rep_id_number, legal_rep_phone,"
                    " registered_capital_fen, business_scope, industry_code, reservation_id,"
                    " registered_on)"
                    " VALUES ($1, $2, $3, $4, $5, $6::smallint, $7, $8, $9, $10::bigint,"
                    "         $11, $12, $13::uuid, chuang_today($2))",
                    13, values, PGRES_COMMAND_OK);
    if (!res)
        return -1;
    PQclear(res);

    if (s_founders_add(db, credit_code, request) != 0)
        return -1;
    size_t count = 1 + request->n_business_addresses;
    char **divisions = calloc(count, sizeof *divisions), **details = calloc(count, sizeof *details);
    char **kinds = calloc(count, sizeof *kinds), **positions = calloc(count, sizeof *positions);
    int rc = divisions && details && kinds && positions ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        const Chuang__Registry__Address *address =
            i == 0 ? request->domicile : request->business_addresses[i - 1];
        divisions[i] = address->division_code;
        details[i] = address->detail;
        kinds[i] = i == 0 ? "domicile" : "business";
        positions[i] = zsys_sprintf("%zu", i == 0 ? 0 : i - 1);
    }
    if (rc == 0)
        rc = s_addresses_add(db, credit_code, divisions, details, kinds, positions, count);
    for (size_t i = 0; positions && i < count; i++)
        zstr_free(&positions[i]);
    free(divisions);
    free(details);
    free(kinds);
    free(positions);
    if (rc != 0)
        return -1;

    return store_history_start(db, credit_code);
}

static Chuang__Registry__Person *s_person(service_call_t *call, const char *name,
                                          const char *id_number, const char *phone)
{
    Chuang__Registry__Person *person = service_call_alloc(call, sizeof *person);
    chuang__registry__person__init(person);
    person->name = service_call_strdup(call, name);
    person->id_number = service_call_strdup(call, id_number);
    person->phone = service_call_strdup(call, phone);
    return person;
}

static Chuang__Registry__Address *s_address(service_call_t *call, const char *division_code,
                                            const char *detail)
{
    Chuang__Registry__Address *address = service_call_alloc(call, sizeof *address);
    chuang__registry__address__init(address);
    address->division_code = service_call_strdup(call, division_code);
    address->detail = service_call_strdup(call, detail);
    return address;
}

/* Parses a PostgreSQL smallint[] text ("{1,3}") into categories. */
static void s_categories(service_call_t *call, const char *text, Chuang__Registry__Founder *founder)
{
    size_t count = 0;
    for (const char *p = text; *p; p++)
        count += *p == ',';
    founder->categories = service_call_alloc(call, (count + 1) * sizeof *founder->categories);
    for (const char *p = text; *p;) {
        if (*p >= '0' && *p <= '9') {
            char *end;
            founder->categories[founder->n_categories++] =
                (Chuang__Registry__FounderCategory)strtol(p, &end, 10);
            p = end;
        } else {
            p++;
        }
    }
}

/* The entity (part 0), its founders (part 1, by position) and its
 * addresses (part 2, the domicile first) in one statement: columns part,
 * order, position, then the part's own, as text. %s is the entity's row:
 * by credit code or by name. */
#define ENTITY_LOAD_SQL(which)                                                                     \
    "WITH e AS (SELECT * FROM entities WHERE " which ")"                                           \
    " SELECT 0 AS part, 0 AS o, 0 AS p, credit_code, name, entity_type::text, legal_rep_name,"     \
    "   legal_rep_id_number, legal_rep_phone, registered_capital_fen::text, business_scope,"       \
    "   industry_code, registered_on::text, status, agency FROM e"                                 \
    " UNION ALL SELECT 1, 0, f.position, f.name, f.id_number, f.phone, f.categories::text,"        \
    "   f.subscribed_capital_fen::text, NULL, NULL, NULL, NULL, NULL, NULL, NULL"                  \
    "   FROM founders f JOIN e USING (credit_code)"                                                \
    " UNION ALL SELECT 2, CASE WHEN ea.kind = 'domicile' THEN 0 ELSE 1 END, ea.position,"          \
    "   a.division_code, a.detail, ea.kind, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL"  \
    "   FROM entity_addresses ea JOIN e USING (credit_code) JOIN addresses a ON a.id = "           \
    "ea.address_id"                                                                                \
    " ORDER BY part, o, p"

int store_entity_load(PGconn *db, service_call_t *call, const char *credit_code, const char *name,
                      Chuang__Registry__Entity *entity)
{
    const char *values[1] = {credit_code ? credit_code : name};
    PGresult *res = store_query(
        db,
        credit_code ? ENTITY_LOAD_SQL("credit_code = $1")
                    : ENTITY_LOAD_SQL("credit_code = (SELECT credit_code FROM entities"
                                      " WHERE name = $1 ORDER BY registered_on LIMIT 1)"),
        1, values, PGRES_TUPLES_OK);
    if (!res)
        return -1;
    int rows = PQntuples(res);
    if (rows == 0 || atoi(PQgetvalue(res, 0, 0)) != 0) {
        PQclear(res);
        return 0;
    }
    enum { C = 3 }; /* the part's own columns start here */
    entity->credit_code = service_call_strdup(call, PQgetvalue(res, 0, C + 0));
    entity->name = service_call_strdup(call, PQgetvalue(res, 0, C + 1));
    entity->entity_type = (Chuang__Registry__EntityType)atoi(PQgetvalue(res, 0, C + 2));
    entity->legal_representative = s_person(call, PQgetvalue(res, 0, C + 3),
                                            PQgetvalue(res, 0, C + 4), PQgetvalue(res, 0, C + 5));
    entity->registered_capital_fen = strtoll(PQgetvalue(res, 0, C + 6), NULL, 10);
    entity->business_scope = service_call_strdup(call, PQgetvalue(res, 0, C + 7));
    entity->industry_code = service_call_strdup(call, PQgetvalue(res, 0, C + 8));
    entity->registered_on = service_call_strdup(call, PQgetvalue(res, 0, C + 9));
    entity->status = service_call_strdup(call, PQgetvalue(res, 0, C + 10));
    entity->registration_agency = service_call_strdup(call, PQgetvalue(res, 0, C + 11));

    entity->founders = service_call_alloc(call, (size_t)rows * sizeof *entity->founders);
    entity->business_addresses =
        service_call_alloc(call, (size_t)rows * sizeof *entity->business_addresses);
    for (int i = 1; i < rows; i++) {
        if (atoi(PQgetvalue(res, i, 0)) == 1) {
            Chuang__Registry__Founder *founder = service_call_alloc(call, sizeof *founder);
            chuang__registry__founder__init(founder);
            founder->person = s_person(call, PQgetvalue(res, i, C + 0), PQgetvalue(res, i, C + 1),
                                       PQgetvalue(res, i, C + 2));
            s_categories(call, PQgetvalue(res, i, C + 3), founder);
            founder->subscribed_capital_fen = strtoll(PQgetvalue(res, i, C + 4), NULL, 10);
            entity->founders[entity->n_founders++] = founder;
            continue;
        }
        Chuang__Registry__Address *address =
            s_address(call, PQgetvalue(res, i, C + 0), PQgetvalue(res, i, C + 1));
        if (streq(PQgetvalue(res, i, C + 2), "domicile"))
            entity->domicile = address;
        else
            entity->business_addresses[entity->n_business_addresses++] = address;
    }
    PQclear(res);
    return 1;
}

int store_entity_ref(PGconn *db, const char *credit_code, bool for_update, store_entity_ref_t *ref)
{
    const char *values[1] = {credit_code};
    PGresult *res = store_query(db,
                                for_update ? "SELECT e.status, e.agency, e.legal_rep_id_number,"
                                             " r.applicant_id_number FROM entities e"
                                             " JOIN name_reservations r ON r.id = e.reservation_id"
                                             " WHERE e.credit_code = $1 FOR UPDATE OF e"
                                           : "SELECT e.status, e.agency, e.legal_rep_id_number,"
                                             " r.applicant_id_number FROM entities e"
                                             " JOIN name_reservations r ON r.id = e.reservation_id"
                                             " WHERE e.credit_code = $1",
                                1, values, PGRES_TUPLES_OK);
    if (!res)
        return -1;
    int found = PQntuples(res);
    if (found) {
        snprintf(ref->status, sizeof ref->status, "%s", PQgetvalue(res, 0, 0));
        snprintf(ref->agency, sizeof ref->agency, "%s", PQgetvalue(res, 0, 1));
        snprintf(ref->legal_rep_id_number, sizeof ref->legal_rep_id_number, "%s",
                 PQgetvalue(res, 0, 2));
        snprintf(ref->applicant_id_number, sizeof ref->applicant_id_number, "%s",
                 PQgetvalue(res, 0, 3));
    }
    PQclear(res);
    return found;
}

int store_history_start(PGconn *db, const char *credit_code)
{
    const char *values[1] = {credit_code};
    PGresult *res = store_query(
        db,
        "INSERT INTO entity_history (credit_code, field, value, valid_from)"
        " SELECT e.credit_code, f.field, f.value, now() FROM entities e"
        " CROSS JOIN LATERAL (VALUES ('name', e.name),"
        "   ('legal_representative.name', e.legal_rep_name),"
        "   ('legal_representative.id_number', e.legal_rep_id_number),"
        "   ('legal_representative.phone', e.legal_rep_phone),"
        "   ('registered_capital_fen', e.registered_capital_fen::text),"
        "   ('business_scope', e.business_scope), ('industry_code', e.industry_code),"
        "   ('domicile', (SELECT a.division_code || ' ' || a.detail FROM entity_addresses ea"
        "                 JOIN addresses a ON a.id = ea.address_id"
        "                 WHERE ea.credit_code = e.credit_code AND ea.kind = 'domicile')))"
        "   AS f (field, value)"
        " WHERE e.credit_code = $1",
        1, values, PGRES_COMMAND_OK);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

/* Closes the field's current value and opens value from now, unless it is
 * value already. Returns 1 (old value copied), 0, or -1. */
static int s_history_change(PGconn *db, const char *credit_code, const char *field,
                            const char *value, char *old_value, size_t size)
{
    const char *values[3] = {credit_code, field, value};
    PGresult *res = store_query(db,
                                "SELECT value FROM entity_history"
                                " WHERE credit_code = $1 AND field = $2 AND valid_to IS NULL"
                                " FOR UPDATE",
                                2, values, PGRES_TUPLES_OK);
    if (!res)
        return -1;
    snprintf(old_value, size, "%s", PQntuples(res) ? PQgetvalue(res, 0, 0) : "");
    bool same = PQntuples(res) && streq(PQgetvalue(res, 0, 0), value);
    PQclear(res);
    if (same)
        return 0;
    /* Two statements: the current value must be closed before the unique
     * index on current values sees the new one. */
    res = store_query(db,
                      "UPDATE entity_history SET valid_to = now()"
                      " WHERE credit_code = $1 AND field = $2 AND valid_to IS NULL",
                      2, values, PGRES_COMMAND_OK);
    if (!res)
        return -1;
    PQclear(res);
    res = store_query(db,
                      "INSERT INTO entity_history (credit_code, field, value, valid_from)"
                      " VALUES ($1, $2, $3, now())",
                      3, values, PGRES_COMMAND_OK);
    if (!res)
        return -1;
    PQclear(res);
    return 1;
}

int store_entity_change(PGconn *db, const char *credit_code, const char *field, const char *value,
                        char *old_value, size_t size)
{
    /* Each tracked field and the statement that changes its column. */
    static const struct {
        const char *field;
        const char *sql;
    } columns[] = {
        {"legal_representative.name",
         "UPDATE entities SET legal_rep_name = $2 WHERE credit_code = $1"},
        {"legal_representative.id_number",
         "UPDATE entities SET legal_rep_id_number = $2 WHERE credit_code = $1"},
        {"legal_representative.phone",
         "UPDATE entities SET legal_rep_phone = $2 WHERE credit_code = $1"},
        {"registered_capital_fen",
         "UPDATE entities SET registered_capital_fen = $2::bigint WHERE credit_code = $1"},
        {"business_scope", "UPDATE entities SET business_scope = $2 WHERE credit_code = $1"},
        {"industry_code", "UPDATE entities SET industry_code = $2 WHERE credit_code = $1"},
    };
    const char *sql = NULL;
    for (size_t i = 0; i < sizeof columns / sizeof columns[0]; i++)
        if (streq(columns[i].field, field))
            sql = columns[i].sql;
    assert(sql); /* callers name tracked fields only */
    int changed = s_history_change(db, credit_code, field, value, old_value, size);
    if (changed <= 0)
        return changed;
    const char *values[2] = {credit_code, value};
    PGresult *res = store_query(db, sql, 2, values, PGRES_COMMAND_OK);
    if (!res)
        return -1;
    PQclear(res);
    return 1;
}

int store_entity_rename(PGconn *db, const char *credit_code, const store_reservation_t *reservation,
                        char *old_value, size_t size)
{
    int changed = s_history_change(db, credit_code, "name", reservation->name, old_value, size);
    if (changed <= 0)
        return changed;
    const char *values[4] = {credit_code, reservation->name, reservation->trade_name,
                             reservation->industry};
    PGresult *res = store_query(db,
                                "UPDATE entities SET name = $2, trade_name = $3, industry = $4"
                                " WHERE credit_code = $1",
                                4, values, PGRES_COMMAND_OK);
    if (!res)
        return -1;
    PQclear(res);
    return 1;
}

int store_domicile_change(PGconn *db, const char *credit_code,
                          const Chuang__Registry__Address *address, char *old_value, size_t size)
{
    char *value = zsys_sprintf("%s %s", address->division_code, address->detail);
    int changed = s_history_change(db, credit_code, "domicile", value, old_value, size);
    zstr_free(&value);
    if (changed <= 0)
        return changed;
    const char *values[1] = {credit_code};
    PGresult *res = store_query(db,
                                "DELETE FROM entity_addresses WHERE credit_code = $1"
                                " AND kind = 'domicile'",
                                1, values, PGRES_COMMAND_OK);
    if (!res)
        return -1;
    PQclear(res);
    char *divisions[1] = {address->division_code}, *details[1] = {address->detail};
    char *kinds[1] = {"domicile"}, *positions[1] = {"0"};
    return s_addresses_add(db, credit_code, divisions, details, kinds, positions, 1) == 0 ? 1 : -1;
}

int store_entity_as_of(PGconn *db, service_call_t *call, const char *credit_code, const char *as_of,
                       Chuang__Registry__Entity *entity)
{
    /* Today's record first, for what the history does not hold. */
    int found = store_entity_load(db, call, credit_code, NULL, entity);
    if (found <= 0)
        return found;
    /* As of the end of that day in the entity's agency. */
    const char *values[3] = {credit_code, as_of, entity->registration_agency};
    PGresult *res = store_query(db,
                                "WITH day AS (SELECT chuang_day_start($3, $2::date + 1) AS ends)"
                                " SELECT field, value FROM entity_history, day"
                                " WHERE credit_code = $1 AND valid_from < day.ends"
                                "   AND (valid_to IS NULL OR valid_to >= day.ends)",
                                3, values, PGRES_TUPLES_OK);
    if (!res)
        return -1;
    int fields = PQntuples(res);
    for (int i = 0; i < fields; i++) {
        const char *field = PQgetvalue(res, i, 0);
        char *value = service_call_strdup(call, PQgetvalue(res, i, 1));
        if (streq(field, "name"))
            entity->name = value;
        else if (streq(field, "legal_representative.name"))
            entity->legal_representative->name = value;
        else if (streq(field, "legal_representative.id_number"))
            entity->legal_representative->id_number = value;
        else if (streq(field, "legal_representative.phone"))
            entity->legal_representative->phone = value;
        else if (streq(field, "registered_capital_fen"))
            entity->registered_capital_fen = strtoll(value, NULL, 10);
        else if (streq(field, "business_scope"))
            entity->business_scope = value;
        else if (streq(field, "industry_code"))
            entity->industry_code = value;
        else if (streq(field, "domicile") && entity->domicile) {
            char *space = strchr(value, ' ');
            if (space) {
                *space = '\0';
                entity->domicile->division_code = value;
                entity->domicile->detail = space + 1;
            }
        }
    }
    PQclear(res);
    return fields > 0 ? 1 : 0;
}

int store_log_position(PGconn *db, int64_t *sequence)
{
    PGresult *res = store_query(db, "SELECT coalesce(max(position), 0) FROM chuang_outbox", 0, NULL,
                                PGRES_TUPLES_OK);
    if (!res)
        return -1;
    *sequence = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return 0;
}

int store_entity_codes(PGconn *db, service_call_t *call, const char *after, int limit,
                       char ***codes)
{
    char limit_text[16];
    snprintf(limit_text, sizeof limit_text, "%d", limit);
    const char *values[2] = {after, limit_text};
    PGresult *res = store_query(db,
                                "SELECT credit_code FROM entities WHERE credit_code > $1"
                                " ORDER BY credit_code LIMIT $2::int",
                                2, values, PGRES_TUPLES_OK);
    if (!res)
        return -1;
    int count = PQntuples(res);
    *codes = service_call_alloc(call, ((size_t)count + 1) * sizeof **codes);
    for (int i = 0; i < count; i++)
        (*codes)[i] = service_call_strdup(call, PQgetvalue(res, i, 0));
    PQclear(res);
    return count;
}
