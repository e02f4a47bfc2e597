/*
 * jobs.c - finance's scheduled work: awarding an application when its
 * public notice ends without objection.
 *
 * "notice:<application id>" falls due at the agency's midnight after the
 * notice's last day (the database computes it). In the framework's
 * transaction the job locks the application, and if it is still on notice
 * and the notice has ended, commits the amount against the programme's
 * fund (a journal entry moving it from available to committed), makes it
 * awarded and reports finance.ApplicationAwarded. A fund without enough
 * uncommitted money leaves it on notice, logged, and the job runs again
 * after its lease: nothing is awarded that the fund cannot pay.
 */
#include "jobs.h"
#include "db.h"
#include "ledger.h"
#include "logger.h"
#include "outbox.h"

#include <czmq.h>
#include <inttypes.h>

static PGresult *s_notices_pending(PGconn *db)
{
    PGresult *res = db_query(
        db,
        "SELECT id::text, (extract(epoch FROM chuang_day_start(agency, notice_ends_on + 1))"
        "   * 1000)::bigint FROM applications WHERE status = 'notice'",
        0, NULL, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        return res;
    PQclear(res);
    return NULL;
}

static int s_award(PGconn *db, const char *key, int64_t budget_ms)
{
    (void)budget_ms;
    const char *values[1] = {key};
    PGresult *res = db_query(db,
                             "SELECT a.agency, a.programme, a.applicant, a.amount_fen, p.fund,"
                             "   a.notice_ends_on < chuang_today(a.agency)"
                             " FROM applications a JOIN programmes p"
                             "   ON p.agency = a.agency AND p.code = a.programme"
                             " WHERE a.id = $1::bigint AND a.status = 'notice' FOR UPDATE OF a",
                             1, values, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return -1;
    }
    if (PQntuples(res) == 0 || !streq(PQgetvalue(res, 0, 5), "t")) {
        PQclear(res); /* withdrawn, objected to, or not over yet: restored when due */
        return 0;
    }
    char agency[32], programme[64], applicant[32], fund[64], cause[48];
    snprintf(agency, sizeof agency, "%s", PQgetvalue(res, 0, 0));
    snprintf(programme, sizeof programme, "%s", PQgetvalue(res, 0, 1));
    snprintf(applicant, sizeof applicant, "%s", PQgetvalue(res, 0, 2));
    int64_t amount = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
    snprintf(fund, sizeof fund, "%s", PQgetvalue(res, 0, 4));
    PQclear(res);
    snprintf(cause, sizeof cause, "application:%s", key);
    char available[96], committed[96];
    snprintf(available, sizeof available, "%s:available", fund);
    snprintf(committed, sizeof committed, "%s:committed", fund);
    const ledger_posting_t postings[2] = {{available, amount}, {committed, -amount}};
    const ledger_entry_t entry = {.kind = "commitment",
                                  .cause = cause,
                                  .memo = "award after public notice",
                                  .recorded_by = "finance"};
    int64_t posted = ledger_post(db, agency, &entry, postings, 2);
    if (posted == LEDGER_OVERDRAWN) {
        log_warn("award waits: the fund has not enough uncommitted money", "application=%s fund=%s",
                 key, fund);
        return -1;
    }
    if (posted <= 0)
        return -1;
    res = db_query(db,
                   "WITH a AS (UPDATE applications SET status = 'awarded', awarded_fen = amount_fen"
                   "   WHERE id = $1::bigint AND status = 'notice' RETURNING id)"
                   " INSERT INTO application_steps (application_id, position, from_status,"
                   "   to_status, by, reason)"
                   " SELECT a.id, (SELECT max(position) FROM application_steps"
                   "   WHERE application_id = a.id) + 1, 'notice', 'awarded', 'finance',"
                   "   'notice ended without objection' FROM a",
                   1, values, NULL, NULL, 0);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK && streq(PQcmdTuples(res), "1");
    PQclear(res);
    if (!ok)
        return -1;
    Chuang__Finance__Application award = CHUANG__FINANCE__APPLICATION__INIT;
    award.id = strtoll(key, NULL, 10);
    award.programme = programme;
    award.credit_code = applicant;
    award.amount_fen = amount;
    award.awarded_fen = amount;
    award.status = "awarded";
    outbox_event_t event = {.agency = agency,
                            .type = "finance.ApplicationAwarded",
                            .aggregate_id = cause,
                            .visibility = CHUANG__VISIBILITY__VISIBILITY_INTERNAL,
                            .payload = &award.base};
    log_info("application awarded", "application=%s amount_fen=%" PRId64 " entry=%" PRId64, key,
             amount, posted);
    return outbox_write(db, &event) == 0 ? 0 : -1;
}

const service_job_t finance_jobs[] = {
    {"notice", s_notices_pending, s_award, true},
    {NULL, NULL, NULL, false},
};
