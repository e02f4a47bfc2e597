/*
 * store_names.c - the registry's SQL for names: the agency's forbidden
 * words, whether a trade name and industry are free, name reservations and
 * the name search; see store.h.
 *
 * A name is held by a registered entity, or by a reservation still
 * "reserved" and not past its expiry date in the agency's calendar; a used
 * or expired reservation holds nothing.
 */
#include "store.h"
#include "store_private.h"

#include <czmq.h>

int store_forbidden_word(PGconn *db, const char *agency, const char *text, char *word, size_t size)
{
    const char *values[2] = {agency, text};
    PGresult *res = store_query(db,
                                "SELECT word FROM forbidden_words"
                                " WHERE agency IN ($1, '') AND strpos($2, word) > 0"
                                " ORDER BY word LIMIT 1",
                                2, values, PGRES_TUPLES_OK);
    if (!res)
        return -1;
    int found = PQntuples(res);
    if (found)
        snprintf(word, size, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return found;
}

int store_name_taken(PGconn *db, const char *agency, const char *trade_name, const char *industry,
                     char *holder, size_t size)
{
    const char *values[3] = {agency, trade_name, industry};
    PGresult *res =
        store_query(db, "SELECT pg_advisory_xact_lock(hashtext($1 || '/' || $2 || '/' || $3))", 3,
                    values, PGRES_TUPLES_OK);
    if (!res)
        return -1;
    PQclear(res);
    res = store_query(db,
                      "SELECT name FROM entities"
                      " WHERE agency = $1 AND trade_name = $2 AND industry = $3"
                      " UNION ALL "
                      "SELECT name FROM name_reservations"
                      " WHERE agency = $1 AND trade_name = $2 AND industry = $3"
                      "   AND status = 'reserved' AND expires_on >= chuang_today($1)"
                      " LIMIT 1",
                      3, values, PGRES_TUPLES_OK);
    if (!res)
        return -1;
    int found = PQntuples(res);
    if (found)
        snprintf(holder, size, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return found;
}

int store_reservation_add(PGconn *db, const char *agency, const enterprise_name_t *name,
                          const char *applicant_name, const char *applicant_id_number,
                          long long days, char id[STORE_ID_SIZE], char expires_on[STORE_DATE_SIZE])
{
    char days_text[24];
    snprintf(days_text, sizeof days_text, "%lld", days);
    const char *values[9] = {agency,           name->full,          name->region,
                             name->trade_name, name->industry,      name->form,
                             applicant_name,   applicant_id_number, days_text};
    PGresult *res = store_query(db,
                                "INSERT INTO name_reservations (agency, name, region, trade_name,"
                                " industry, form, applicant_name, applicant_id_number, reserved_on,"
                                " expires_on)"
                                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, chuang_today($1),"
                                "         chuang_today($1) + $9::int)"
                                " RETURNING id, expires_on",
                                9, values, PGRES_TUPLES_OK);
    if (!res)
        return -1;
    snprintf(id, STORE_ID_SIZE, "%s", PQgetvalue(res, 0, 0));
    snprintf(expires_on, STORE_DATE_SIZE, "%s", PQgetvalue(res, 0, 1));
    PQclear(res);
    return 0;
}

/* The columns s_reservation reads. */
#define RESERVATION_COLUMNS                                                                        \
    "name, trade_name, industry, form, status, expires_on, expires_on < chuang_today($1),"         \
    " applicant_id_number"

static void s_reservation(PGresult *res, store_reservation_t *reservation)
{
    snprintf(reservation->name, sizeof reservation->name, "%s", PQgetvalue(res, 0, 0));
    snprintf(reservation->trade_name, sizeof reservation->trade_name, "%s", PQgetvalue(res, 0, 1));
    snprintf(reservation->industry, sizeof reservation->industry, "%s", PQgetvalue(res, 0, 2));
    snprintf(reservation->form, sizeof reservation->form, "%s", PQgetvalue(res, 0, 3));
    snprintf(reservation->status, sizeof reservation->status, "%s", PQgetvalue(res, 0, 4));
    snprintf(reservation->expires_on, sizeof reservation->expires_on, "%s", PQgetvalue(res, 0, 5));
    reservation->expired = streq(PQgetvalue(res, 0, 6), "t");
    snprintf(reservation->applicant_id_number, sizeof reservation->applicant_id_number, "%s",
             PQgetvalue(res, 0, 7));
}

int store_reservation_take(PGconn *db, const char *agency, const char *id,
                           store_reservation_t *reservation)
{
    const char *values[2] = {agency, id};
    /* Nearly always it is there to take: one statement. A concurrent
     * taker waits for the row and then finds it used. */
    PGresult *res = store_query(db,
                                "UPDATE name_reservations SET status = 'used'"
                                " WHERE agency = $1 AND id = $2::uuid AND status = 'reserved'"
                                " RETURNING name, trade_name, industry, form, 'reserved',"
                                " expires_on, expires_on < chuang_today($1), applicant_id_number",
                                2, values, PGRES_TUPLES_OK);
    if (res && PQntuples(res) == 0) {
        PQclear(res);
        res = store_query(db,
                          "SELECT " RESERVATION_COLUMNS " FROM name_reservations"
                          " WHERE agency = $1 AND id = $2::uuid",
                          2, values, PGRES_TUPLES_OK);
    }
    if (!res)
        return -1;
    int found = PQntuples(res);
    if (found)
        s_reservation(res, reservation);
    PQclear(res);
    return found;
}

int store_names_search(PGconn *db, service_call_t *call, const char *agency, const char *text,
                       int limit, Chuang__Registry__SearchNamesReply *reply)
{
    char limit_text[16];
    snprintf(limit_text, sizeof limit_text, "%d", limit);
    const char *values[3] = {agency, text, limit_text};
    PGresult *res = store_query(db,
                                "SELECT name, 'registered' AS kind, credit_code FROM entities"
                                " WHERE agency = $1 AND name_grams @> name_query_grams($2)"
                                "   AND strpos(name, $2) > 0"
                                " UNION ALL "
                                "SELECT name, 'reserved', '' FROM name_reservations"
                                " WHERE agency = $1 AND name_grams @> name_query_grams($2)"
                                "   AND strpos(name, $2) > 0"
                                "   AND status = 'reserved' AND expires_on >= chuang_today($1)"
                                " ORDER BY 1 LIMIT $3::int",
                                3, values, PGRES_TUPLES_OK);
    if (!res)
        return -1;
    int rows = PQntuples(res), rc = 0;
    reply->matches = service_call_alloc(call, ((size_t)rows + 1) * sizeof *reply->matches);
    for (int i = 0; i < rows && rc == 0; i++) {
        Chuang__Registry__NameMatch *match = service_call_alloc(call, sizeof *match);
        chuang__registry__name_match__init(match);
        rc = service_call_row(call, res, i, &match->base) == CHUANG__STATUS__OK ? 0 : -1;
        reply->matches[reply->n_matches++] = match;
    }
    PQclear(res);
    return rc == 0 ? (int)reply->n_matches : -1;
}
