/*
 * vouchers.c - innovation vouchers and service providers in SQL; see
 * vouchers.h.
 *
 * A redemption takes its amount off the voucher with one UPDATE whose
 * WHERE asks for that much left: two redemptions of one voucher at once
 * take turns on its row, and the second, re-reading the row the first
 * left, finds too little and changes nothing. The provider's invoice is
 * unique in the agency, so one invoice never pays twice, whichever voucher
 * it is offered against.
 */
#include "vouchers.h"
#include "db.h"
#include "db_array.h"

#include <czmq.h>
#include <inttypes.h>

/* The result of a statement that returns no rows: 1 when it changed one,
 * else VOUCHER_ERROR. */
static int s_one(PGresult *res)
{
    int rc =
        PQresultStatus(res) == PGRES_COMMAND_OK && streq(PQcmdTuples(res), "1") ? 1 : VOUCHER_ERROR;
    PQclear(res);
    return rc;
}

int voucher_provider_register(PGconn *db, const char *agency, const char *credit_code,
                              char *const *categories, size_t count, const char *principal,
                              const char *by)
{
    const char *values[2] = {credit_code, agency};
    PGresult *res = db_query(db,
                             "SELECT agency = $2, status = 'registered' FROM entity_facts"
                             " WHERE credit_code = $1",
                             2, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : VOUCHER_ERROR;
    if (rc == 1 && !streq(PQgetvalue(res, 0, 0), "t"))
        rc = VOUCHER_ELSEWHERE;
    else if (rc == 1 && !streq(PQgetvalue(res, 0, 1), "t"))
        rc = VOUCHER_CLOSED;
    PQclear(res);
    if (rc != 1)
        return rc;
    char *array = db_text_array(categories, count);
    if (!array)
        return VOUCHER_ERROR;
    const char *row[5] = {agency, credit_code, array, principal, by};
    res = db_query(db,
                   "INSERT INTO service_providers (agency, credit_code, name, categories,"
                   "   principal, registered_by)"
                   " SELECT $1, $2, f.name, $3::text[], $4, $5 FROM entity_facts f"
                   " WHERE f.credit_code = $2",
                   5, row, NULL, NULL, 0);
    free(array);
    return s_one(res);
}

int voucher_provider_get(PGconn *db, service_call_t *call, const char *agency,
                         const char *credit_code, bool lock,
                         Chuang__Finance__ServiceProvider *provider)
{
    const char *values[2] = {agency, credit_code};
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT credit_code, name, categories, status, principal, reason, decided_by,"
             " registered_by FROM service_providers WHERE agency = $1 AND credit_code = $2%s",
             lock ? " FOR UPDATE" : "");
    PGresult *res = db_query(db, sql, 2, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : VOUCHER_ERROR;
    if (rc == 1 && service_call_row(call, res, 0, &provider->base) != CHUANG__STATUS__OK)
        rc = VOUCHER_ERROR;
    PQclear(res);
    return rc;
}

int voucher_provider_decide(PGconn *db, const char *agency, const char *credit_code, const char *to,
                            const char *reason, const char *by)
{
    const char *values[5] = {agency, credit_code, to, reason, by};
    return s_one(db_query(db,
                          "UPDATE service_providers SET status = $3, reason = $4, decided_by = $5"
                          " WHERE agency = $1 AND credit_code = $2",
                          5, values, NULL, NULL, 0));
}

int voucher_issue(PGconn *db, const char *agency, int64_t application_id, int64_t validity_days,
                  int64_t *voucher)
{
    char application[24], days[24];
    snprintf(application, sizeof application, "%" PRId64, application_id);
    snprintf(days, sizeof days, "%" PRId64, validity_days);
    const char *values[3] = {agency, application, days};
    PGresult *res = db_query(db,
                             "INSERT INTO vouchers (agency, application_id, programme, version,"
                             "   holder, holder_kind, face_value_fen, remaining_fen, issued_on,"
                             "   valid_to)"
                             " SELECT agency, id, programme, version, applicant, applicant_kind,"
                             "   awarded_fen, awarded_fen, chuang_today(agency),"
                             "   chuang_today(agency) + greatest($3::int, 1) - 1"
                             " FROM applications WHERE agency = $1 AND id = $2::bigint"
                             " RETURNING id",
                             3, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 ? 1 : VOUCHER_ERROR;
    if (rc == 1)
        *voucher = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return rc;
}

int voucher_get(PGconn *db, service_call_t *call, const char *agency, int64_t id, bool lock,
                Chuang__Finance__Voucher *voucher)
{
    char id_text[24];
    snprintf(id_text, sizeof id_text, "%" PRId64, id);
    const char *values[2] = {agency, id_text};
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT id, application_id, programme,"
             " CASE holder_kind WHEN 'entity' THEN holder ELSE '' END AS credit_code,"
             " CASE holder_kind WHEN 'person' THEN holder ELSE '' END AS id_number,"
             " face_value_fen, remaining_fen, issued_on::text AS issued_on,"
             " valid_to::text AS valid_to, status, expired_fen"
             " FROM vouchers WHERE agency = $1 AND id = $2::bigint%s",
             lock ? " FOR UPDATE" : "");
    PGresult *res = db_query(db, sql, 2, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : VOUCHER_ERROR;
    if (rc == 1 && service_call_row(call, res, 0, &voucher->base) != CHUANG__STATUS__OK)
        rc = VOUCHER_ERROR;
    PQclear(res);
    if (rc != 1)
        return rc;
    res = db_query(db,
                   "SELECT id, provider, invoice, category, amount_fen,"
                   " redeemed_on::text AS redeemed_on, entry_id,"
                   " coalesce(settlement_entry, 0) AS settlement_entry_id"
                   " FROM voucher_redemptions WHERE voucher_id = $1::bigint ORDER BY id",
                   1, values + 1, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK ||
        service_call_rows(call, res, -1, &chuang__finance__voucher_redemption__descriptor,
                          &voucher->redemptions, &voucher->n_redemptions) != CHUANG__STATUS__OK)
        rc = VOUCHER_ERROR;
    PQclear(res);
    return rc;
}

int voucher_redeem(PGconn *db, const char *agency, const voucher_redemption_t *r)
{
    char voucher[24], amount[24], entry[24];
    snprintf(voucher, sizeof voucher, "%" PRId64, r->voucher);
    snprintf(amount, sizeof amount, "%" PRId64, r->amount);
    snprintf(entry, sizeof entry, "%" PRId64, r->entry);
    const char *taken[3] = {agency, voucher, amount};
    PGresult *res = db_query(db,
                             "UPDATE vouchers SET remaining_fen = remaining_fen - $3::bigint,"
                             "   status = CASE WHEN remaining_fen = $3::bigint THEN 'used'"
                             "     ELSE status END"
                             " WHERE agency = $1 AND id = $2::bigint AND status = 'issued'"
                             "   AND remaining_fen >= $3::bigint",
                             3, taken, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        PQclear(res);
        return VOUCHER_ERROR;
    }
    bool took = streq(PQcmdTuples(res), "1");
    PQclear(res);
    if (!took)
        return 0;
    const char *values[8] = {voucher,     agency, r->provider, r->invoice,
                             r->category, amount, entry,       r->by};
    res = db_query(db,
                   "INSERT INTO voucher_redemptions (voucher_id, agency, provider, invoice,"
                   "   category, amount_fen, redeemed_on, entry_id, recorded_by)"
                   " VALUES ($1::bigint, $2, $3, $4, $5, $6::bigint, chuang_today($2),"
                   "   $7::bigint, $8)",
                   8, values, NULL, NULL, 0);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (state && streq(state, "23505")) {
        PQclear(res);
        return VOUCHER_INVOICE_USED;
    }
    return s_one(res);
}

int voucher_unsettled(PGconn *db, const char *agency, const char *programme, const char *provider,
                      int64_t *total)
{
    const char *values[3] = {agency, programme, provider};
    PGresult *res = db_query(db,
                             "WITH r AS (SELECT r.amount_fen FROM voucher_redemptions r"
                             "   JOIN vouchers v ON v.id = r.voucher_id"
                             "   WHERE r.agency = $1 AND v.programme = $2 AND r.provider = $3"
                             "     AND r.settlement_entry IS NULL FOR UPDATE OF r)"
                             " SELECT coalesce(sum(amount_fen), 0) FROM r",
                             3, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : VOUCHER_ERROR;
    if (rc == 0)
        *total = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return rc;
}

int voucher_settle(PGconn *db, const char *agency, const char *programme, const char *provider,
                   int64_t entry)
{
    char entry_text[24];
    snprintf(entry_text, sizeof entry_text, "%" PRId64, entry);
    const char *values[4] = {agency, programme, provider, entry_text};
    PGresult *res = db_query(db,
                             "UPDATE voucher_redemptions r SET settlement_entry = $4::bigint"
                             " FROM vouchers v WHERE v.id = r.voucher_id AND r.agency = $1"
                             "   AND v.programme = $2 AND r.provider = $3"
                             "   AND r.settlement_entry IS NULL",
                             4, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? atoi(PQcmdTuples(res)) : VOUCHER_ERROR;
    PQclear(res);
    return rc;
}

int voucher_provider_list(PGconn *db, service_call_t *call, const char *agency, const char *status,
                          const service_page_t *page, Chuang__Finance__ProviderList *list)
{
    const char *values[4] = {agency, status, page->fetch, page->after[0]};
    PGresult *res = db_query(db,
                             "SELECT seq AS _key, credit_code, name, categories, status, principal,"
                             " reason, decided_by, registered_by FROM service_providers"
                             " WHERE agency = $1 AND ($2 = '' OR status = $2)"
                             "   AND ($4::bigint IS NULL OR seq > $4::bigint)"
                             " ORDER BY seq LIMIT $3::int",
                             4, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK &&
                     service_call_page_rows(call, page, res,
                                            &chuang__finance__service_provider__descriptor,
                                            &list->providers, &list->n_providers,
                                            &list->next_page_token) == CHUANG__STATUS__OK
                 ? (int)list->n_providers
                 : VOUCHER_ERROR;
    PQclear(res);
    return rc;
}

int voucher_list(PGconn *db, service_call_t *call, const char *agency, const char *programme,
                 const char *status, const service_page_t *page, Chuang__Finance__VoucherList *list)
{
    const char *values[5] = {agency, programme, status, page->fetch, page->after[0]};
    PGresult *res =
        db_query(db,
                 "SELECT id, application_id, programme,"
                 " CASE holder_kind WHEN 'entity' THEN holder ELSE '' END AS credit_code,"
                 " CASE holder_kind WHEN 'person' THEN holder ELSE '' END AS id_number,"
                 " face_value_fen, remaining_fen, issued_on::text AS issued_on,"
                 " valid_to::text AS valid_to, status, expired_fen"
                 " FROM vouchers WHERE agency = $1 AND programme = $2 AND ($3 = '' OR status = $3)"
                 "   AND ($5::bigint IS NULL OR id < $5::bigint)"
                 " ORDER BY id DESC LIMIT $4::int",
                 5, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK &&
                     service_call_page_rows(call, page, res, &chuang__finance__voucher__descriptor,
                                            &list->vouchers, &list->n_vouchers,
                                            &list->next_page_token) == CHUANG__STATUS__OK
                 ? (int)list->n_vouchers
                 : VOUCHER_ERROR;
    PQclear(res);
    return rc;
}

int voucher_report(PGconn *db, service_call_t *call, const char *agency, const char *code,
                   Chuang__Finance__VoucherReport *report)
{
    const char *values[2] = {agency, code};
    PGresult *res = db_query(
        db,
        "SELECT p.code AS programme, p.fund,"
        " (SELECT count(*) FROM vouchers v WHERE v.agency = p.agency AND v.programme = p.code)"
        "   AS issued,"
        " (SELECT coalesce(sum(face_value_fen), 0) FROM vouchers v"
        "   WHERE v.agency = p.agency AND v.programme = p.code) AS issued_fen,"
        " r.redemptions, r.redeemed_fen, r.settled_fen, r.redeemed_fen - r.settled_fen"
        "   AS payable_fen,"
        " (SELECT count(*) FROM vouchers v WHERE v.agency = p.agency AND v.programme = p.code"
        "   AND v.expired_fen > 0) AS expired,"
        " (SELECT coalesce(sum(expired_fen), 0) FROM vouchers v"
        "   WHERE v.agency = p.agency AND v.programme = p.code) AS expired_fen,"
        " (SELECT coalesce(sum(remaining_fen), 0) FROM vouchers v"
        "   WHERE v.agency = p.agency AND v.programme = p.code AND v.status = 'issued')"
        "   AS outstanding_fen,"
        " (SELECT count(*) FROM service_providers s WHERE s.agency = p.agency"
        "   AND s.status = 'approved') AS providers"
        " FROM programmes p CROSS JOIN LATERAL"
        "   (SELECT count(*) AS redemptions, coalesce(sum(x.amount_fen), 0) AS redeemed_fen,"
        "      coalesce(sum(x.amount_fen) FILTER (WHERE x.settlement_entry IS NOT NULL), 0)"
        "        AS settled_fen"
        "    FROM voucher_redemptions x JOIN vouchers v ON v.id = x.voucher_id"
        "    WHERE v.agency = p.agency AND v.programme = p.code) r"
        " WHERE p.agency = $1 AND p.code = $2",
        2, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : VOUCHER_ERROR;
    if (rc == 1 && service_call_row(call, res, 0, &report->base) != CHUANG__STATUS__OK)
        rc = VOUCHER_ERROR;
    PQclear(res);
    return rc;
}
