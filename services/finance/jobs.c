/*
 * jobs.c - finance's scheduled work: awarding an application when its
 * public notice ends without objection.
 *
 * "notice:<application id>" falls due at the agency's midnight after the
 * notice's last day (the database computes it). In the framework's
 * transaction the job locks the application, and if it is still on notice
 * and the notice has ended, commits the amount against the programme's
 * fund (a journal entry moving it from available to committed), makes it
 * awarded, registers the award in the cross-level register and reports
 * finance.ApplicationAwarded and finance.AwardRegistered (the latter for
 * the agencies above and below). Before that its version's award rules
 * are tested again on the register as it stands: an award another level
 * made meanwhile rejects it (finance.ApplicationRejected, with the award
 * named) or lowers a top-up to its share. A fund without enough
 * uncommitted money leaves it on notice, logged, and the job runs again
 * after its lease: nothing is awarded that the fund cannot pay.
 */
#include "jobs.h"
#include "applications.h"
#include "awards.h"
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

/* Refuses the award of application key (still on notice, locked) for
 * why: the award register now holds what a rule of its version excludes,
 * learnt after it was submitted. */
static int s_refuse(PGconn *db, const char *agency, const char *key, const char *programme,
                    const char *applicant, int64_t amount, const char *why)
{
    if (application_move(db, agency, strtoll(key, NULL, 10), "notice", "rejected", "finance",
                         why) != 1)
        return -1;
    Chuang__Finance__Application refused = CHUANG__FINANCE__APPLICATION__INIT;
    refused.id = strtoll(key, NULL, 10);
    refused.programme = (char *)programme;
    refused.credit_code = (char *)applicant;
    refused.amount_fen = amount;
    refused.status = "rejected";
    char aggregate[48];
    snprintf(aggregate, sizeof aggregate, "application:%s", key);
    outbox_event_t event = {.agency = agency,
                            .type = "finance.ApplicationRejected",
                            .aggregate_id = aggregate,
                            .visibility = CHUANG__VISIBILITY__VISIBILITY_INTERNAL,
                            .payload = &refused.base};
    log_info("award refused by the award register", "application=%s why=\"%s\"", key, why);
    return outbox_write(db, &event) == 0 ? 0 : -1;
}

static int s_award(PGconn *db, const char *key, int64_t budget_ms)
{
    (void)budget_ms;
    const char *values[1] = {key};
    PGresult *res = db_query(db,
                             "SELECT a.agency, a.programme, a.applicant, a.amount_fen, p.fund,"
                             "   a.notice_ends_on < chuang_today(a.agency), a.version, a.subject,"
                             "   p.kind, p.level, chuang_today(a.agency)::text"
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
    char agency[32], programme[64], applicant[32], fund[64], cause[48], subject[256], kind[32],
        level[16], today[16];
    snprintf(agency, sizeof agency, "%s", PQgetvalue(res, 0, 0));
    snprintf(programme, sizeof programme, "%s", PQgetvalue(res, 0, 1));
    snprintf(applicant, sizeof applicant, "%s", PQgetvalue(res, 0, 2));
    int64_t amount = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
    snprintf(fund, sizeof fund, "%s", PQgetvalue(res, 0, 4));
    int version = atoi(PQgetvalue(res, 0, 6));
    snprintf(subject, sizeof subject, "%s", PQgetvalue(res, 0, 7));
    snprintf(kind, sizeof kind, "%s", PQgetvalue(res, 0, 8));
    snprintf(level, sizeof level, "%s", PQgetvalue(res, 0, 9));
    snprintf(today, sizeof today, "%s", PQgetvalue(res, 0, 10));
    PQclear(res);
    /* The register may have learnt of another level's award since the
     * submission: the rules decide again, today. */
    int64_t allowed = INT64_MAX;
    char why[512];
    int allow = awards_allow(db, agency, programme, version, applicant, subject, amount, &allowed,
                             why, sizeof why);
    if (allow < 0)
        return -1;
    if (allow == 0)
        return s_refuse(db, agency, key, programme, applicant, amount, why);
    if (allowed < amount)
        amount = allowed;
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
    char amount_text[24];
    snprintf(amount_text, sizeof amount_text, "%" PRId64, amount);
    const char *award_values[2] = {key, amount_text};
    res = db_query(db,
                   "WITH a AS (UPDATE applications SET status = 'awarded', awarded_fen = $2::bigint"
                   "   WHERE id = $1::bigint AND status = 'notice' RETURNING id)"
                   " INSERT INTO application_steps (application_id, position, from_status,"
                   "   to_status, by, reason)"
                   " SELECT a.id, (SELECT max(position) FROM application_steps"
                   "   WHERE application_id = a.id) + 1, 'notice', 'awarded', 'finance',"
                   "   'notice ended without objection' FROM a",
                   2, award_values, NULL, NULL, 0);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK && streq(PQcmdTuples(res), "1");
    PQclear(res);
    if (!ok)
        return -1;
    /* Registered for every level to see: this agency's register now, and
     * the agencies above and below through the feed. */
    Chuang__Finance__AwardRecord record = CHUANG__FINANCE__AWARD_RECORD__INIT;
    record.agency = agency;
    record.award = cause;
    record.level = level;
    record.credit_code = applicant;
    record.kind = kind;
    record.programme = programme;
    record.subject = subject;
    record.amount_fen = amount;
    record.awarded_on = today;
    if (awards_register(db, &record) != 1)
        return -1;
    Chuang__Finance__Application award = CHUANG__FINANCE__APPLICATION__INIT;
    award.id = strtoll(key, NULL, 10);
    award.programme = programme;
    award.credit_code = applicant;
    award.amount_fen = amount;
    award.awarded_fen = amount;
    award.status = "awarded";
    outbox_event_t events[2] = {{.agency = agency,
                                 .type = "finance.ApplicationAwarded",
                                 .aggregate_id = cause,
                                 .visibility = CHUANG__VISIBILITY__VISIBILITY_INTERNAL,
                                 .payload = &award.base},
                                {.agency = agency,
                                 .type = "finance.AwardRegistered",
                                 .aggregate_id = cause,
                                 .visibility = CHUANG__VISIBILITY__VISIBILITY_AGENCIES,
                                 .payload = &record.base}};
    log_info("application awarded", "application=%s amount_fen=%" PRId64 " entry=%" PRId64, key,
             amount, posted);
    return outbox_write(db, &events[0]) == 0 && outbox_write(db, &events[1]) == 0 ? 0 : -1;
}

const service_job_t finance_jobs[] = {
    {"notice", s_notices_pending, s_award, true},
    {NULL, NULL, NULL, false},
};
