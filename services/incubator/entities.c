/*
 * entities.c - the registry's events applied to the incubator's tables;
 * see entities.h.
 *
 * Each event is applied once (the consumer's inbox) and in its order per
 * entity, so a handler writes the state the event says, with an upsert
 * where a redelivery after a rebuild could meet its own earlier write.
 * The founders' ID numbers of a registration are only compared with the
 * teams' and never kept here: the team's own founders are.
 */
#include "entities.h"
#include "db.h"
#include "db_array.h"
#include "incubator.pb-c.h"
#include "outbox.h"
#include "registry.pb-c.h"

#include <czmq.h>
#include <stdlib.h>

static int s_exec(PGconn *db, const char *sql, int count, const char *const *values)
{
    PGresult *res = db_query(db, sql, count, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
    PQclear(res);
    return rc;
}

/* Writes incubator.TeamRegistered for each team row of res (id, agency). */
static int s_announce(PGconn *db, const PGresult *res, const Chuang__Event *event)
{
    for (int i = 0; i < PQntuples(res); i++) {
        Chuang__Incubator__Team team = CHUANG__INCUBATOR__TEAM__INIT;
        team.id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        team.name = PQgetvalue(res, i, 2);
        team.credit_code = PQgetvalue(res, i, 3);
        team.registered_on = PQgetvalue(res, i, 4);
        char aggregate[40];
        snprintf(aggregate, sizeof aggregate, "team:%s", PQgetvalue(res, i, 0));
        const outbox_event_t out = {.agency = PQgetvalue(res, i, 1),
                                    .type = "incubator.TeamRegistered",
                                    .aggregate_id = aggregate,
                                    .visibility = CHUANG__VISIBILITY__VISIBILITY_INTERNAL,
                                    .payload = &team.base,
                                    .trace_id = event->trace_id};
        if (outbox_write(db, &out) != 0)
            return -1;
    }
    return 0;
}

static int s_registered(PGconn *db, const Chuang__Event *event, char *error)
{
    Chuang__Registry__Entity *entity =
        chuang__registry__entity__unpack(NULL, event->payload.len, event->payload.data);
    if (!entity) {
        snprintf(error, 256, "payload is not a chuang.registry.Entity");
        return -1;
    }
    char *ids[64];
    size_t n = 0;
    for (size_t f = 0; f < entity->n_founders && n < 64; f++)
        if (entity->founders[f]->person && *entity->founders[f]->person->id_number)
            ids[n++] = entity->founders[f]->person->id_number;
    char *array = db_text_array(ids, n);
    const char *values[6] = {
        entity->credit_code,   event->agency,
        entity->name,          entity->domicile ? entity->domicile->division_code : "",
        entity->registered_on, array};
    int rc = array ? s_exec(db,
                            "INSERT INTO entities (credit_code, agency, name, division,"
                            "   registered_on, status)"
                            " VALUES ($1, $2, $3, $4, $5::date, 'registered')"
                            " ON CONFLICT (credit_code) DO UPDATE SET agency = $2, name = $3,"
                            "   division = $4, registered_on = $5::date, status = 'registered',"
                            "   updated_at = now()",
                            5, values)
                   : -1;
    if (rc == 0) {
        /* Per agency, the unlinked team with most founders in common (the
         * latest of equals), unless a team of that agency has the code. */
        const char *link[3] = {entity->credit_code, entity->registered_on, array};
        PGresult *res =
            db_query(db,
                     "WITH m AS (SELECT DISTINCT ON (tm.agency) tm.id FROM teams tm"
                     "   JOIN team_founders f ON f.team = tm.id"
                     "   WHERE tm.credit_code IS NULL AND f.id_number = ANY($3::text[])"
                     "     AND NOT EXISTS (SELECT 1 FROM teams o WHERE o.agency = tm.agency"
                     "       AND o.credit_code = $1)"
                     "   GROUP BY tm.agency, tm.id ORDER BY tm.agency, count(*) DESC, tm.id DESC)"
                     " UPDATE teams t SET credit_code = $1, registered_on = $2::date FROM m"
                     " WHERE t.id = m.id"
                     " RETURNING t.id, t.agency, t.name, t.credit_code, t.registered_on::text",
                     3, link, NULL, NULL, 0);
        rc = PQresultStatus(res) == PGRES_TUPLES_OK ? s_announce(db, res, event) : -1;
        PQclear(res);
    }
    free(array);
    chuang__registry__entity__free_unpacked(entity, NULL);
    return rc;
}

static int s_changed(PGconn *db, const Chuang__Event *event, char *error)
{
    Chuang__Registry__EntityChange *change =
        chuang__registry__entity_change__unpack(NULL, event->payload.len, event->payload.data);
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
                        "UPDATE entities SET name = $2, updated_at = now()"
                        " WHERE credit_code = $1",
                        2, values);
        else if (streq(c->field, "domicile")) /* "<division> <detail>" */
            rc = s_exec(db,
                        "UPDATE entities SET division = split_part($2, ' ', 1),"
                        " updated_at = now() WHERE credit_code = $1",
                        2, values);
    }
    chuang__registry__entity_change__free_unpacked(change, NULL);
    return rc;
}

int entities_apply(PGconn *db, const Chuang__Event *event, void *arg, char *error)
{
    (void)arg;
    if (streq(event->type, "registry.EntityRegistered"))
        return s_registered(db, event, error);
    if (streq(event->type, "registry.EntityChanged"))
        return s_changed(db, event, error);
    if (streq(event->type, "registry.Deregistered")) {
        const char *values[1] = {event->aggregate_id};
        return s_exec(db,
                      "UPDATE entities SET status = 'deregistered', updated_at = now()"
                      " WHERE credit_code = $1",
                      1, values);
    }
    return 0;
}
