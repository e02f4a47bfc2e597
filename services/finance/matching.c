/*
 * matching.c - bank–enterprise matching in SQL; see matching.h.
 *
 * A list of matches is one statement for the matches (ids, each
 * criterion's result from finance_match, the bank's latest response) and
 * then the product and the need of each (at most 100 of them); each
 * reason's words are written from the two.
 */
#include "matching.h"
#include "db.h"
#include "facts.h"
#include "db_array.h"

#include <czmq.h>
#include <inttypes.h>

#define PRODUCT_COLUMNS                                                                            \
    "id, bank, bank_credit_code, name, amount_min_fen, amount_max_fen, term_min_months,"           \
    " term_max_months, rate_min_bp, rate_max_bp, industries, stages, security, status"
#define NEED_COLUMNS                                                                               \
    "n.id, n.credit_code, n.amount_fen, n.term_months, n.max_rate_bp, n.stage, n.security,"        \
    " n.purpose, n.status, f.industry_code"

/* 1 for a statement that returned one row into *id, else MATCH_ERROR;
 * clears res. */
static int s_returned(PGresult *res, int64_t *id)
{
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 ? 1 : MATCH_ERROR;
    if (rc == 1)
        *id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return rc;
}

int match_product_add(PGconn *db, const char *agency, const Chuang__Finance__LoanProductRequest *r,
                      const char *principal, int64_t *id)
{
    char numbers[6][24];
    snprintf(numbers[0], 24, "%" PRId64, r->amount_min_fen);
    snprintf(numbers[1], 24, "%" PRId64, r->amount_max_fen);
    snprintf(numbers[2], 24, "%d", r->term_min_months);
    snprintf(numbers[3], 24, "%d", r->term_max_months);
    snprintf(numbers[4], 24, "%d", r->rate_min_bp);
    snprintf(numbers[5], 24, "%d", r->rate_max_bp);
    char *industries = db_text_array(r->industries, r->n_industries);
    char *stages = db_text_array(r->stages, r->n_stages);
    char *security = db_text_array(r->security, r->n_security);
    int rc = MATCH_ERROR;
    if (industries && stages && security) {
        const char *values[14] = {agency,     r->bank,    r->bank_credit_code, principal,
                                  r->name,    numbers[0], numbers[1],          numbers[2],
                                  numbers[3], numbers[4], numbers[5],          industries,
                                  stages,     security};
        rc = s_returned(db_query(db,
                                 "INSERT INTO loan_products (agency, bank, bank_credit_code,"
                                 "   bank_principal, name, amount_min_fen, amount_max_fen,"
                                 "   term_min_months, term_max_months, rate_min_bp, rate_max_bp,"
                                 "   industries, stages, security)"
                                 " VALUES ($1, $2, $3, $4, $5, $6::bigint, $7::bigint, $8::int,"
                                 "   $9::int, $10::int, $11::int, $12::text[], $13::text[],"
                                 "   $14::text[]) RETURNING id",
                                 14, values, NULL, NULL, 0),
                        id);
    }
    free(industries);
    free(stages);
    free(security);
    return rc;
}

int match_product_get(PGconn *db, service_call_t *call, const char *agency, int64_t id,
                      Chuang__Finance__LoanProduct *product, char *principal, size_t size)
{
    char id_text[24];
    snprintf(id_text, sizeof id_text, "%" PRId64, id);
    const char *values[2] = {agency, id_text};
    PGresult *res = db_query(db,
                             "SELECT " PRODUCT_COLUMNS ", bank_principal AS _principal"
                             " FROM loan_products WHERE agency = $1 AND id = $2::bigint",
                             2, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : MATCH_ERROR;
    if (rc == 1 && service_call_row(call, res, 0, &product->base) != CHUANG__STATUS__OK)
        rc = MATCH_ERROR;
    if (rc == 1 && principal)
        snprintf(principal, size, "%s", PQgetvalue(res, 0, PQfnumber(res, "_principal")));
    PQclear(res);
    return rc;
}

int match_need_add(PGconn *db, const char *agency, const Chuang__Finance__FinancingNeedRequest *r,
                   const char *by, int64_t *id)
{
    int rc = facts_of_area(db, agency, r->credit_code);
    if (rc == FACTS_OUTSIDE || rc == FACTS_CLOSED)
        rc = MATCH_OUTSIDE;
    if (rc != 1)
        return rc;
    char amount[24], term[16], rate[16];
    snprintf(amount, sizeof amount, "%" PRId64, r->amount_fen);
    snprintf(term, sizeof term, "%d", r->term_months);
    snprintf(rate, sizeof rate, "%d", r->max_rate_bp);
    char *security = db_text_array(r->security, r->n_security);
    if (!security)
        return MATCH_ERROR;
    const char *values[9] = {agency,   r->credit_code, amount,     term, rate,
                             r->stage, security,       r->purpose, by};
    rc = s_returned(db_query(db,
                             "INSERT INTO financing_needs (agency, credit_code, amount_fen,"
                             "   term_months, max_rate_bp, stage, security, purpose, published_by)"
                             " VALUES ($1, $2, $3::bigint, $4::int, $5::int, $6, $7::text[], $8,"
                             "   $9) RETURNING id",
                             9, values, NULL, NULL, 0),
                    id);
    free(security);
    return rc;
}

int match_need_get(PGconn *db, service_call_t *call, const char *agency, int64_t id,
                   Chuang__Finance__FinancingNeed *need)
{
    char id_text[24];
    snprintf(id_text, sizeof id_text, "%" PRId64, id);
    const char *values[2] = {agency, id_text};
    PGresult *res = db_query(db,
                             "SELECT " NEED_COLUMNS " FROM financing_needs n"
                             " JOIN entity_facts f ON f.credit_code = n.credit_code"
                             " WHERE n.agency = $1 AND n.id = $2::bigint",
                             2, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : MATCH_ERROR;
    if (rc == 1 && service_call_row(call, res, 0, &need->base) != CHUANG__STATUS__OK)
        rc = MATCH_ERROR;
    PQclear(res);
    return rc;
}

/* Appends a reason of criterion to match: fits, with detail. */
static void s_reason(service_call_t *call, Chuang__Finance__Match *match, const char *criterion,
                     bool fits, char *detail)
{
    Chuang__Finance__MatchReason *reason = service_call_alloc(call, sizeof *reason);
    chuang__finance__match_reason__init(reason);
    reason->criterion = (char *)criterion;
    reason->fits = fits;
    reason->detail = service_call_strdup(call, detail ? detail : "");
    zstr_free(&detail);
    match->reasons[match->n_reasons++] = reason;
    match->score += fits;
}

/* The words of a list ("any" when empty, call memory). */
static char *s_words(service_call_t *call, char *const *items, size_t count)
{
    char *text = zsys_sprintf("%s", count ? "" : "any");
    for (size_t i = 0; i < count && text; i++) {
        char *longer = zsys_sprintf("%s%s%s", text, i ? ", " : "", items[i]);
        zstr_free(&text);
        text = longer;
    }
    char *copy = service_call_strdup(call, text ? text : "");
    zstr_free(&text);
    return copy;
}

/* Writes the six reasons of match from its product, need and the results
 * fits (amount, term, rate, industry, stage, security). */
static void s_reasons(service_call_t *call, Chuang__Finance__Match *match, const bool fits[6])
{
    const Chuang__Finance__LoanProduct *p = match->product;
    const Chuang__Finance__FinancingNeed *n = match->need;
    match->reasons = service_call_alloc(call, 6 * sizeof *match->reasons);
    s_reason(call, match, "amount", fits[0],
             zsys_sprintf("%" PRId64 " fen asked; the product lends %" PRId64 " to %" PRId64,
                          n->amount_fen, p->amount_min_fen, p->amount_max_fen));
    s_reason(call, match, "term", fits[1],
             zsys_sprintf("%d months asked; the product lends for %d to %d", n->term_months,
                          p->term_min_months, p->term_max_months));
    s_reason(call, match, "rate", fits[2],
             zsys_sprintf("at most %d bp a year accepted; the product charges %d to %d",
                          n->max_rate_bp, p->rate_min_bp, p->rate_max_bp));
    s_reason(call, match, "industry", fits[3],
             zsys_sprintf("the entity's industry %s; the product lends to %s",
                          *n->industry_code ? n->industry_code : "unknown",
                          s_words(call, p->industries, p->n_industries)));
    s_reason(call, match, "stage", fits[4],
             zsys_sprintf("the entity is at the %s stage; the product lends at %s", n->stage,
                          s_words(call, p->stages, p->n_stages)));
    s_reason(call, match, "security", fits[5],
             zsys_sprintf("the entity offers %s; the product takes %s",
                          s_words(call, n->security, n->n_security),
                          s_words(call, p->security, p->n_security)));
}

int match_list(PGconn *db, service_call_t *call, const char *agency, int64_t id, bool by_need,
               Chuang__Finance__MatchList *list)
{
    char id_text[24];
    snprintf(id_text, sizeof id_text, "%" PRId64, id);
    const char *values[3] = {agency, id_text, by_need ? "t" : "f"};
    PGresult *res =
        db_query(db,
                 "SELECT p.id, n.id, m.amount_fits, m.term_fits, m.rate_fits, m.industry_fits,"
                 "   m.stage_fits, m.security_fits,"
                 "   coalesce((SELECT r.response FROM match_responses r WHERE r.need_id = n.id"
                 "     AND r.product_id = p.id ORDER BY r.id DESC LIMIT 1), '')"
                 " FROM financing_needs n JOIN entity_facts f ON f.credit_code = n.credit_code"
                 " JOIN loan_products p ON p.agency = n.agency AND p.status = 'published'"
                 " CROSS JOIN LATERAL finance_match(n, p, f.industry_code) m"
                 " WHERE n.agency = $1 AND CASE WHEN $3::boolean THEN n.id = $2::bigint"
                 "   ELSE p.id = $2::bigint AND n.status = 'open' END"
                 "   AND m.amount_fits AND m.term_fits"
                 " ORDER BY m.rate_fits::int + m.industry_fits::int + m.stage_fits::int"
                 "   + m.security_fits::int DESC, p.rate_min_bp, p.id, n.id LIMIT 100",
                 3, values, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return MATCH_ERROR;
    }
    int rows = PQntuples(res);
    list->matches = service_call_alloc(call, (rows + 1) * sizeof *list->matches);
    int rc = rows;
    for (int i = 0; i < rows && rc >= 0; i++) {
        Chuang__Finance__Match *match = service_call_alloc(call, sizeof *match);
        chuang__finance__match__init(match);
        match->product = service_call_alloc(call, sizeof *match->product);
        chuang__finance__loan_product__init(match->product);
        match->need = service_call_alloc(call, sizeof *match->need);
        chuang__finance__financing_need__init(match->need);
        if (match_product_get(db, call, agency, strtoll(PQgetvalue(res, i, 0), NULL, 10),
                              match->product, NULL, 0) != 1 ||
            match_need_get(db, call, agency, strtoll(PQgetvalue(res, i, 1), NULL, 10),
                           match->need) != 1) {
            rc = MATCH_ERROR;
            break;
        }
        bool fits[6];
        for (int c = 0; c < 6; c++)
            fits[c] = streq(PQgetvalue(res, i, 2 + c), "t");
        s_reasons(call, match, fits);
        match->response = service_call_strdup(call, PQgetvalue(res, i, 8));
        list->matches[list->n_matches++] = match;
    }
    PQclear(res);
    return rc;
}

int match_respond(PGconn *db, service_call_t *call, const char *agency,
                  const Chuang__Finance__MatchResponseRequest *request, const char *day,
                  const char *by, Chuang__Finance__MatchResponse *response)
{
    char need[24], product[24], amount[24];
    snprintf(need, sizeof need, "%" PRId64, request->need_id);
    snprintf(product, sizeof product, "%" PRId64, request->product_id);
    snprintf(amount, sizeof amount, "%" PRId64, request->amount_fen);
    const char *values[8] = {agency,          need,   product, request->response,
                             request->reason, amount, day,     by};
    PGresult *res = db_query(
        db,
        "WITH r AS (INSERT INTO match_responses (agency, need_id, product_id, response, reason,"
        "     amount_fen, responded_on, recorded_by)"
        "   VALUES ($1, $2::bigint, $3::bigint, $4, $5, $6::bigint, $7::date, $8) RETURNING *),"
        " met AS (UPDATE financing_needs SET status = 'met' WHERE id = $2::bigint AND $4 = 'lent')"
        " SELECT id, need_id, product_id, response, reason, amount_fen,"
        "   responded_on::text AS responded_on, recorded_by FROM r",
        8, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
                     service_call_row(call, res, 0, &response->base) == CHUANG__STATUS__OK
                 ? 1
                 : MATCH_ERROR;
    PQclear(res);
    return rc;
}

int match_meeting_add(PGconn *db, service_call_t *call, const char *agency,
                      const Chuang__Finance__MeetingRequest *request, const char *by,
                      Chuang__Finance__Meeting *meeting)
{
    size_t n = request->n_participants;
    char **roles = calloc(n + 1, sizeof *roles), **codes = calloc(n + 1, sizeof *codes),
         **names = calloc(n + 1, sizeof *names);
    char *arrays[3] = {NULL, NULL, NULL};
    int rc = MATCH_ERROR;
    if (!roles || !codes || !names)
        goto done;
    for (size_t i = 0; i < n; i++) {
        roles[i] = request->participants[i]->role;
        codes[i] = request->participants[i]->credit_code;
        names[i] = request->participants[i]->name;
    }
    arrays[0] = db_text_array(roles, n);
    arrays[1] = db_text_array(codes, n);
    arrays[2] = db_text_array(names, n);
    if (!arrays[0] || !arrays[1] || !arrays[2])
        goto done;
    const char *values[9] = {agency,           request->kind,  request->title,
                             request->held_on, request->place, by,
                             arrays[0],        arrays[1],      arrays[2]};
    PGresult *res = db_query(
        db,
        "WITH m AS (INSERT INTO meetings (agency, kind, title, held_on, place, recorded_by)"
        "   VALUES ($1, $2, $3, $4::date, $5, $6) RETURNING *),"
        " p AS (INSERT INTO meeting_participants (meeting_id, role, credit_code, name)"
        "   SELECT m.id, u.role, u.code, u.name FROM m,"
        "     unnest($7::text[], $8::text[], $9::text[]) AS u (role, code, name))"
        " SELECT id, kind, title, held_on::text AS held_on, place FROM m",
        9, values, NULL, NULL, 0);
    rc = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
                 service_call_row(call, res, 0, &meeting->base) == CHUANG__STATUS__OK
             ? 1
             : MATCH_ERROR;
    PQclear(res);
    meeting->participants = request->participants;
    meeting->n_participants = n;
done:
    free(roles);
    free(codes);
    free(names);
    for (int i = 0; i < 3; i++)
        free(arrays[i]);
    return rc;
}

int match_lending(PGconn *db, service_call_t *call, const char *agency, const char *bank, int year,
                  Chuang__Finance__BankLending *out)
{
    char year_text[16];
    snprintf(year_text, sizeof year_text, "%d", year);
    const char *values[3] = {agency, bank, year_text};
    PGresult *res = db_query(
        db,
        "WITH l AS (SELECT r.id, r.amount_fen, n.credit_code FROM match_responses r"
        "   JOIN loan_products p ON p.id = r.product_id"
        "   JOIN financing_needs n ON n.id = r.need_id"
        "   WHERE r.agency = $1 AND p.bank_credit_code = $2 AND r.response = 'lent'"
        "     AND extract(year FROM r.responded_on) = $3::int)"
        " SELECT $2 AS bank_credit_code, $3::int AS year, count(*) AS loans,"
        "   coalesce(sum(amount_fen), 0) AS lent_fen,"
        "   count(DISTINCT credit_code) AS entities,"
        "   (SELECT count(*) FROM entity_firsts x, l WHERE x.kind = 'loan'"
        "     AND x.source = 'match:' || l.id) AS first_loans,"
        "   (SELECT count(*) FROM meeting_participants mp JOIN meetings m ON m.id = mp.meeting_id"
        "     WHERE m.agency = $1 AND mp.credit_code = $2"
        "       AND extract(year FROM m.held_on) = $3::int) AS meetings"
        " FROM l",
        3, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
                     service_call_row(call, res, 0, &out->base) == CHUANG__STATUS__OK
                 ? 1
                 : MATCH_ERROR;
    PQclear(res);
    return rc;
}
