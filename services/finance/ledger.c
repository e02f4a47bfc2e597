/*
 * ledger.c - the finance service's books in SQL; see ledger.h.
 *
 * An entry and its postings are written by one statement (the postings
 * from arrays), and a reversal by one statement that negates the postings
 * it reads; the balance trigger and the accounts' CHECK refuse what would
 * overdraw, and the statement's error says which rule: the constraint's
 * name tells LEDGER_OVERDRAWN from a reversal made twice. Reads copy rows
 * into the reply's messages by column name (service_call_row).
 */
#include "ledger.h"
#include "db.h"
#include "db_array.h"

#include <czmq.h>
#include <inttypes.h>

/* What a failed statement's result means to the caller: LEDGER_OVERDRAWN,
 * LEDGER_REVERSED, LEDGER_TOO_LARGE or LEDGER_ERROR. */
static int s_failure(const PGresult *res)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *constraint = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
    if (state && constraint && streq(state, "23514") && streq(constraint, "account_not_overdrawn"))
        return LEDGER_OVERDRAWN;
    if (state && constraint && streq(state, "23505") &&
        streq(constraint, "journal_entries_reverses_key"))
        return LEDGER_REVERSED;
    if (state && streq(state, "22003"))
        return LEDGER_TOO_LARGE;
    return LEDGER_ERROR;
}

int ledger_fund_create(PGconn *db, const char *agency, const char *code, const char *name,
                       const char *department)
{
    const char *values[4] = {agency, code, name, department};
    PGresult *res = db_query(
        db,
        "WITH f AS (INSERT INTO funds (agency, code, name, department) VALUES ($1, $2, $3, $4)"
        "   ON CONFLICT DO NOTHING RETURNING agency, code)"
        " INSERT INTO accounts (agency, code, fund, kind, normal, never_negative)"
        " SELECT f.agency, f.code || ':' || k.kind, f.code, k.kind, k.normal, true"
        " FROM f CROSS JOIN (VALUES ('cash', 'debit'), ('available', 'credit'),"
        "   ('committed', 'credit')) AS k (kind, normal)",
        4, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? atoi(PQcmdTuples(res)) > 0 : LEDGER_ERROR;
    PQclear(res);
    return rc;
}

int ledger_account_open(PGconn *db, const char *agency, const char *fund, const char *kind,
                        const char *payee)
{
    const char *values[4] = {agency, fund, kind, payee};
    PGresult *res =
        db_query(db,
                 "INSERT INTO accounts (agency, code, fund, kind, payee, normal, never_negative)"
                 " SELECT $1, $2 || ':' || $3 || CASE WHEN $4 = '' THEN '' ELSE ':' || $4 END,"
                 "   $2, $3, $4,"
                 "   CASE WHEN $3 IN ('cash', 'reserve_due') THEN 'debit' ELSE 'credit' END, true"
                 " WHERE EXISTS (SELECT 1 FROM funds WHERE agency = $1 AND code = $2)"
                 " ON CONFLICT (agency, code) DO NOTHING",
                 4, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : LEDGER_ERROR;
    PQclear(res);
    return rc;
}

int64_t ledger_balance(PGconn *db, const char *agency, const char *account)
{
    const char *values[2] = {agency, account};
    PGresult *res = db_query(db,
                             "SELECT CASE normal WHEN 'debit' THEN balance ELSE -balance END"
                             " FROM accounts WHERE agency = $1 AND code = $2",
                             2, values, NULL, NULL, 0);
    int64_t rc = LEDGER_ERROR;
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        rc = PQntuples(res) == 1 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    return rc;
}

int64_t ledger_post(PGconn *db, const char *agency, const ledger_entry_t *entry,
                    const ledger_posting_t *postings, size_t count)
{
    char **codes = calloc(count + 1, sizeof *codes), **amounts = calloc(count + 1, sizeof *amounts);
    char reverses[24];
    snprintf(reverses, sizeof reverses, "%" PRId64, entry->reverses);
    int64_t rc = LEDGER_ERROR;
    char *code_array = NULL, *amount_array = NULL;
    if (!codes || !amounts)
        goto done;
    for (size_t i = 0; i < count; i++) {
        codes[i] = (char *)postings[i].account;
        amounts[i] = zsys_sprintf("%" PRId64, postings[i].amount);
    }
    code_array = db_text_array(codes, count);
    amount_array = db_text_array(amounts, count);
    if (!code_array || !amount_array)
        goto done;
    const char *values[8] = {agency,   entry->kind, entry->cause, entry->memo, entry->recorded_by,
                             reverses, code_array,  amount_array};
    PGresult *res = db_query(
        db,
        "WITH locked AS MATERIALIZED (SELECT id, code FROM accounts"
        "     WHERE agency = $1 AND code = ANY ($7::text[]) ORDER BY id FOR UPDATE),"
        " e AS (INSERT INTO journal_entries (agency, booked_on, kind, cause, memo,"
        "     recorded_by, reverses)"
        "   VALUES ($1, chuang_today($1), $2, $3, $4, $5, nullif($6::bigint, 0)) RETURNING id),"
        " lines AS (INSERT INTO postings (entry_id, account_id, amount)"
        "   SELECT e.id, a.id, u.amount FROM e,"
        "     unnest($7::text[], $8::bigint[]) AS u (code, amount)"
        "     JOIN locked a ON a.code = u.code"
        "   RETURNING 1)"
        " SELECT (SELECT id FROM e), (SELECT count(*) FROM lines)",
        8, values, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        rc = strtoll(PQgetvalue(res, 0, 1), NULL, 10) == (long long)count
                 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10)
                 : 0;
    else
        rc = s_failure(res);
    PQclear(res);
done:
    for (size_t i = 0; amounts && i < count; i++)
        zstr_free(&amounts[i]);
    free(codes);
    free(amounts);
    free(code_array);
    free(amount_array);
    return rc;
}

int ledger_entry_get(PGconn *db, service_call_t *call, const char *agency, int64_t id,
                     Chuang__Finance__Entry *entry)
{
    char id_text[24];
    snprintf(id_text, sizeof id_text, "%" PRId64, id);
    const char *values[2] = {agency, id_text};
    PGresult *res = db_query(
        db,
        "SELECT e.id, e.booked_on::text AS booked_on,"
        " (extract(epoch FROM e.recorded_at) * 1000)::bigint AS recorded_ms, e.kind, e.cause,"
        " e.memo, e.recorded_by, coalesce(e.reverses, 0) AS reverses,"
        " coalesce(r.id, 0) AS reversed_by"
        " FROM journal_entries e LEFT JOIN journal_entries r ON r.reverses = e.id"
        " WHERE e.agency = $1 AND e.id = $2::bigint",
        2, values, NULL, NULL, 0);
    int rc = LEDGER_ERROR;
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        goto done;
    rc = PQntuples(res);
    if (rc == 0)
        goto done;
    if (service_call_row(call, res, 0, &entry->base) != CHUANG__STATUS__OK) {
        rc = LEDGER_ERROR;
        goto done;
    }
    PQclear(res);
    res = db_query(db,
                   "SELECT a.code AS account, p.amount AS amount_fen"
                   " FROM postings p JOIN accounts a ON a.id = p.account_id"
                   " WHERE p.entry_id = $2::bigint AND a.agency = $1"
                   " ORDER BY p.amount DESC, a.code",
                   2, values, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = LEDGER_ERROR;
        goto done;
    }
    if (service_call_rows(call, res, -1, &chuang__finance__posting__descriptor, &entry->postings,
                          &entry->n_postings) != CHUANG__STATUS__OK)
        rc = LEDGER_ERROR;
done:
    PQclear(res);
    return rc;
}

int64_t ledger_reverse(PGconn *db, const char *agency, int64_t id, const char *reason,
                       const char *recorded_by)
{
    char id_text[24];
    snprintf(id_text, sizeof id_text, "%" PRId64, id);
    const char *values[4] = {agency, id_text, reason, recorded_by};
    PGresult *res = db_query(db,
                             "SELECT reverses IS NOT NULL FROM journal_entries"
                             " WHERE agency = $1 AND id = $2::bigint",
                             2, values, NULL, NULL, 0);
    int64_t rc = LEDGER_ERROR;
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        goto done;
    if (PQntuples(res) == 0 || streq(PQgetvalue(res, 0, 0), "t")) {
        rc = PQntuples(res) == 0 ? 0 : LEDGER_REVERSED;
        goto done;
    }
    PQclear(res);
    res =
        db_query(db,
                 "WITH locked AS MATERIALIZED (SELECT a.id FROM accounts a"
                 "     WHERE a.id IN (SELECT account_id FROM postings WHERE entry_id = $2::bigint)"
                 "     ORDER BY a.id FOR UPDATE),"
                 " e AS (INSERT INTO journal_entries (agency, booked_on, kind, cause, memo,"
                 "     recorded_by, reverses)"
                 "   SELECT $1, chuang_today($1), 'reversal', o.cause, $3, $4, o.id"
                 "   FROM journal_entries o WHERE o.agency = $1 AND o.id = $2::bigint"
                 "   RETURNING id),"
                 " lines AS (INSERT INTO postings (entry_id, account_id, amount)"
                 "   SELECT e.id, p.account_id, -p.amount FROM e, postings p"
                 "   JOIN locked l ON l.id = p.account_id"
                 "   WHERE p.entry_id = $2::bigint RETURNING 1)"
                 " SELECT (SELECT id FROM e), (SELECT count(*) FROM lines)",
                 4, values, NULL, NULL, 0);
    rc = PQresultStatus(res) == PGRES_TUPLES_OK ? strtoll(PQgetvalue(res, 0, 0), NULL, 10)
                                                : s_failure(res);
done:
    PQclear(res);
    return rc;
}

/* The columns of an Account, its balance on its normal side. */
#define ACCOUNT_COLUMNS                                                                            \
    "code, fund, kind, payee, normal,"                                                             \
    " CASE normal WHEN 'debit' THEN balance ELSE -balance END AS balance_fen"

int ledger_fund_get(PGconn *db, service_call_t *call, const char *agency, const char *code,
                    Chuang__Finance__Fund *fund)
{
    const char *values[2] = {agency, code};
    PGresult *res = db_query(db,
                             "SELECT code, name, department FROM funds"
                             " WHERE agency = $1 AND code = $2",
                             2, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : LEDGER_ERROR;
    if (rc != 1)
        goto done;
    if (service_call_row(call, res, 0, &fund->base) != CHUANG__STATUS__OK) {
        rc = LEDGER_ERROR;
        goto done;
    }
    PQclear(res);
    res = db_query(db,
                   "SELECT " ACCOUNT_COLUMNS " FROM accounts WHERE agency = $1 AND fund = $2"
                   " ORDER BY id",
                   2, values, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = LEDGER_ERROR;
        goto done;
    }
    if (service_call_rows(call, res, -1, &chuang__finance__account__descriptor, &fund->accounts,
                          &fund->n_accounts) != CHUANG__STATUS__OK)
        rc = LEDGER_ERROR;
done:
    PQclear(res);
    return rc;
}

int ledger_trial_balance(PGconn *db, service_call_t *call, const char *agency, const char *fund,
                         const char *as_of, Chuang__Finance__TrialBalance *balance)
{
    const char *values[3] = {agency, fund, as_of};
    PGresult *res =
        db_query(db,
                 "SELECT a.code AS account,"
                 " coalesce(sum(p.amount) FILTER (WHERE p.amount > 0), 0) AS debit_fen,"
                 " coalesce(-sum(p.amount) FILTER (WHERE p.amount < 0), 0) AS credit_fen,"
                 " coalesce(sum(p.amount), 0) AS balance_fen"
                 " FROM accounts a LEFT JOIN (postings p JOIN journal_entries e"
                 "   ON e.id = p.entry_id AND e.booked_on <= $3::date) ON p.account_id = a.id"
                 " WHERE a.agency = $1 AND ($2 = '' OR a.fund = $2)"
                 " GROUP BY a.code ORDER BY a.code",
                 3, values, NULL, NULL, 0);
    int rc = LEDGER_ERROR;
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        goto done;
    if (service_call_rows(call, res, -1, &chuang__finance__trial_balance_line__descriptor,
                          &balance->lines, &balance->n_lines) != CHUANG__STATUS__OK)
        goto done;
    rc = (int)balance->n_lines;
    for (size_t i = 0; i < balance->n_lines; i++) {
        balance->total_debit_fen += balance->lines[i]->debit_fen;
        balance->total_credit_fen += balance->lines[i]->credit_fen;
    }
done:
    PQclear(res);
    return rc;
}

int ledger_statement(PGconn *db, service_call_t *call, const char *agency, const char *account,
                     const char *from, const char *to, const service_page_t *page,
                     Chuang__Finance__Statement *statement)
{
    const char *values[6] = {agency, account, from, to, page->fetch, page->after[0]};
    PGresult *res =
        db_query(db,
                 "SELECT coalesce((SELECT sum(p.amount) FROM postings p"
                 "   JOIN journal_entries e ON e.id = p.entry_id"
                 "   WHERE p.account_id = a.id AND e.booked_on < nullif($3, '')::date), 0)"
                 " FROM accounts a WHERE a.agency = $1 AND a.code = $2",
                 3, values, NULL, NULL, 0);
    int rc = LEDGER_ERROR;
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        goto done;
    if (PQntuples(res) == 0) {
        rc = 0;
        goto done;
    }
    statement->account = service_call_strdup(call, account);
    statement->opening_fen = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    statement->closing_fen = statement->opening_fen;
    PQclear(res);
    res = db_query(db,
                   "WITH lines AS (SELECT p.entry_id, e.booked_on, e.kind, e.cause, p.amount,"
                   "     sum(p.amount) OVER (ORDER BY p.entry_id) AS running"
                   "   FROM accounts a JOIN postings p ON p.account_id = a.id"
                   "   JOIN journal_entries e ON e.id = p.entry_id"
                   "   WHERE a.agency = $1 AND a.code = $2"
                   "     AND e.booked_on <= coalesce(nullif($4, '')::date, chuang_today($1)))"
                   " SELECT entry_id, booked_on::text AS booked_on, kind, cause,"
                   "   amount AS amount_fen, running AS balance_fen"
                   " FROM lines WHERE booked_on >= coalesce(nullif($3, '')::date, '-infinity')"
                   "   AND ($6::bigint IS NULL OR entry_id > $6::bigint)"
                   " ORDER BY entry_id LIMIT $5::int",
                   6, values, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        goto done;
    if (service_call_page_rows(call, page, res, &chuang__finance__statement_line__descriptor,
                               &statement->lines, &statement->n_lines,
                               &statement->next_page_token) != CHUANG__STATUS__OK)
        goto done;
    rc = (int)statement->n_lines;
    if (rc > 0)
        statement->closing_fen = statement->lines[rc - 1]->balance_fen;
done:
    PQclear(res);
    return rc;
}
