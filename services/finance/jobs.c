/*
 * jobs.c - finance's scheduled work: awarding an application when its
 * public notice ends without objection, finding a guarantee loan's
 * instalment unpaid after its day, and expiring vouchers.
 *
 * "notice:<application id>" falls due at the agency's midnight after the
 * notice's last day (the database computes it). In the framework's
 * transaction the job locks the application, and if it is still on notice
 * and the notice has ended, tests its version's award rules again on the
 * register as it stands: an award another level made meanwhile rejects it
 * (finance.ApplicationRejected, with the award named) or lowers a top-up
 * to its share. Then it awards it. A money award commits the amount
 * against the programme's fund (a journal entry moving it from available
 * to committed), is registered in the cross-level register and reported
 * as finance.ApplicationAwarded and finance.AwardRegistered (the latter
 * for the agencies above and below); a fund without enough uncommitted
 * money leaves it on notice, logged, and the job runs again after its
 * lease: nothing is awarded that the fund cannot pay. The award of a
 * guarantee loan programme is the guarantee: a loan approved for the
 * amount (finance.LoanGuaranteed), unless the entity's guaranteed loans
 * would pass the version's entity_limit_fen, which rejects it.
 *
 * The award of a voucher programme is the voucher: its face value committed
 * and registered like any money award, and the voucher issued
 * (finance.VoucherIssued), valid for the version's validity_days.
 *
 * "voucher_expiry:<voucher id>" falls due at the agency's midnight after a
 * voucher's last valid day: what is left on it returns from committed to
 * available (an "expiry" journal entry) and it is expired
 * (finance.VoucherExpired).
 *
 * "loan_due:<loan id>" falls due at the agency's midnight after the
 * earliest unpaid instalment's day of a loan being repaid: if it is still
 * unpaid the loan becomes overdue (finance.LoanOverdue).
 */
#include "jobs.h"
#include "applications.h"
#include "awards.h"
#include "db.h"
#include "ledger.h"
#include "loans.h"
#include "logger.h"
#include "outbox.h"
#include "programmes.h"
#include "steps.h"
#include "vouchers.h"

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

/* An application whose notice has ended, as the award job reads it. */
typedef struct {
    char key[24]; /* its id */
    char agency[32], programme[64], applicant[32], fund[64], cause[48], subject[256], kind[32],
        level[16], today[16], period_from[16], period_to[16];
    int64_t amount;
    int version;
    bool person; /* applicant is a person's ID number, not a credit code */
} award_t;

/* Refuses the award of application key (still on notice, locked) for
 * why: the award register now holds what a rule of its version excludes,
 * learnt after it was submitted. */
static int s_refuse(PGconn *db, const award_t *a, const char *why)
{
    if (application_move(db, a->agency, strtoll(a->key, NULL, 10), "notice", "rejected", "finance",
                         why) != 1)
        return -1;
    Chuang__Finance__Application refused = CHUANG__FINANCE__APPLICATION__INIT;
    refused.id = strtoll(a->key, NULL, 10);
    refused.programme = (char *)a->programme;
    refused.credit_code = a->person ? "" : (char *)a->applicant;
    refused.id_number = a->person ? (char *)a->applicant : "";
    refused.amount_fen = a->amount;
    refused.status = "rejected";
    const outbox_event_t event = {.agency = a->agency,
                                  .type = "finance.ApplicationRejected",
                                  .aggregate_id = a->cause,
                                  .visibility = CHUANG__VISIBILITY__VISIBILITY_INTERNAL,
                                  .payload = &refused.base};
    log_info("award refused by the award register", "application=%s why=\"%s\"", a->key, why);
    return outbox_write(db, &event) == 0 ? 0 : -1;
}

/* Writes events (count of them) of agency. Returns 0 or -1. */
static int s_emit(PGconn *db, const outbox_event_t *events, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (outbox_write(db, &events[i]) != 0)
            return -1;
    return 0;
}

/* Makes application a awarded for amount committed (0 for a guarantee),
 * with reason. Returns 0 or -1. */
static int s_awarded(PGconn *db, const award_t *a, int64_t committed, const char *reason)
{
    char amount_text[24];
    snprintf(amount_text, sizeof amount_text, "%" PRId64, committed);
    const char *extra[1] = {amount_text};
    return steps_update(db, STEPS_APPLICATION, a->agency, strtoll(a->key, NULL, 10),
                        "UPDATE applications SET status = 'awarded', awarded_fen = $3::bigint"
                        " WHERE agency = $1 AND id = $2::bigint AND status = 'notice'",
                        1, extra, "notice", "awarded", "finance", reason) == 1
               ? 0
               : -1;
}

/* Awards a's amount: committed against the fund, registered, reported. */
static int s_commit(PGconn *db, award_t *a)
{
    char available[96], committed[96];
    snprintf(available, sizeof available, "%s:available", a->fund);
    snprintf(committed, sizeof committed, "%s:committed", a->fund);
    const ledger_posting_t postings[2] = {{available, a->amount}, {committed, -a->amount}};
    const ledger_entry_t entry = {.kind = "commitment",
                                  .cause = a->cause,
                                  .memo = "award after public notice",
                                  .recorded_by = "finance"};
    int64_t posted = ledger_post(db, a->agency, &entry, postings, 2);
    if (posted == LEDGER_OVERDRAWN) {
        log_warn("award waits: the fund has not enough uncommitted money", "application=%s fund=%s",
                 a->key, a->fund);
        return -1;
    }
    if (posted <= 0 || s_awarded(db, a, a->amount, "notice ended without objection") != 0)
        return -1;
    /* Registered for every level to see: this agency's register now, and
     * the agencies above and below through the feed. */
    Chuang__Finance__AwardRecord record = CHUANG__FINANCE__AWARD_RECORD__INIT;
    record.agency = a->agency;
    record.award = a->cause;
    record.level = a->level;
    record.credit_code = a->person ? "" : a->applicant;
    record.id_number = a->person ? a->applicant : "";
    record.kind = a->kind;
    record.programme = a->programme;
    record.subject = a->subject;
    record.amount_fen = a->amount;
    record.awarded_on = a->today;
    record.period_from = a->period_from;
    record.period_to = a->period_to;
    if (awards_register(db, &record) != 1)
        return -1;
    Chuang__Finance__Application award = CHUANG__FINANCE__APPLICATION__INIT;
    award.id = strtoll(a->key, NULL, 10);
    award.programme = a->programme;
    award.credit_code = a->person ? "" : a->applicant;
    award.id_number = a->person ? a->applicant : "";
    award.amount_fen = a->amount;
    award.awarded_fen = a->amount;
    award.status = "awarded";
    const outbox_event_t events[2] = {{.agency = a->agency,
                                       .type = "finance.ApplicationAwarded",
                                       .aggregate_id = a->cause,
                                       .visibility = CHUANG__VISIBILITY__VISIBILITY_INTERNAL,
                                       .payload = &award.base},
                                      {.agency = a->agency,
                                       .type = "finance.AwardRegistered",
                                       .aggregate_id = a->cause,
                                       .visibility = CHUANG__VISIBILITY__VISIBILITY_AGENCIES,
                                       .payload = &record.base}};
    log_info("application awarded", "application=%s amount_fen=%" PRId64 " entry=%" PRId64, a->key,
             a->amount, posted);
    return s_emit(db, events, 2);
}

/* Awards a's guarantee: the loan it approves. */
static int s_guarantee(PGconn *db, award_t *a)
{
    int64_t limit = 0, guaranteed = 0;
    if (programme_parameter_of(db, a->agency, a->programme, a->version, "entity_limit_fen",
                               INT64_MAX, &limit) != 0 ||
        loan_guaranteed_to(db, a->agency, a->applicant, &guaranteed) != 0)
        return -1;
    if (a->amount > limit - guaranteed) {
        char why[160];
        snprintf(why, sizeof why,
                 "with %" PRId64 " fen guaranteed to the entity already, the guarantee would "
                 "pass the programme's limit of %" PRId64 " fen",
                 guaranteed, limit);
        return s_refuse(db, a, why);
    }
    int64_t loan_id = 0;
    if (loan_guarantee(db, a->agency, strtoll(a->key, NULL, 10), a->amount, &loan_id) != 1 ||
        s_awarded(db, a, 0, "notice ended without objection: the loan is guaranteed") != 0)
        return -1;
    Chuang__Finance__Application award = CHUANG__FINANCE__APPLICATION__INIT;
    award.id = strtoll(a->key, NULL, 10);
    award.programme = a->programme;
    award.credit_code = a->person ? "" : a->applicant;
    award.id_number = a->person ? a->applicant : "";
    award.amount_fen = a->amount;
    award.status = "awarded";
    Chuang__Finance__Loan loan = CHUANG__FINANCE__LOAN__INIT;
    loan.id = loan_id;
    loan.application_id = award.id;
    loan.programme = a->programme;
    loan.credit_code = award.credit_code;
    loan.id_number = award.id_number;
    loan.guaranteed_fen = a->amount;
    loan.status = "approved";
    char aggregate[32];
    snprintf(aggregate, sizeof aggregate, "loan:%" PRId64, loan_id);
    const outbox_event_t events[2] = {{.agency = a->agency,
                                       .type = "finance.ApplicationAwarded",
                                       .aggregate_id = a->cause,
                                       .visibility = CHUANG__VISIBILITY__VISIBILITY_INTERNAL,
                                       .payload = &award.base},
                                      {.agency = a->agency,
                                       .type = "finance.LoanGuaranteed",
                                       .aggregate_id = aggregate,
                                       .visibility = CHUANG__VISIBILITY__VISIBILITY_INTERNAL,
                                       .payload = &loan.base}};
    log_info("loan guaranteed", "application=%s loan=%" PRId64 " amount_fen=%" PRId64, a->key,
             loan_id, a->amount);
    return s_emit(db, events, 2);
}

/* Awards a's voucher: its face value committed and registered as every
 * money award is, and the voucher issued, valid for the version's
 * validity_days from today. */
static int s_voucher(PGconn *db, award_t *a)
{
    int64_t days = 0, id = 0;
    if (s_commit(db, a) != 0 ||
        programme_parameter_of(db, a->agency, a->programme, a->version, "validity_days", 1,
                               &days) != 0 ||
        voucher_issue(db, a->agency, strtoll(a->key, NULL, 10), days, &id) != 1)
        return -1;
    Chuang__Finance__Voucher voucher = CHUANG__FINANCE__VOUCHER__INIT;
    voucher.id = id;
    voucher.application_id = strtoll(a->key, NULL, 10);
    voucher.programme = a->programme;
    voucher.credit_code = a->person ? "" : a->applicant;
    voucher.id_number = a->person ? a->applicant : "";
    voucher.face_value_fen = a->amount;
    voucher.remaining_fen = a->amount;
    voucher.issued_on = a->today;
    voucher.status = "issued";
    char aggregate[32];
    snprintf(aggregate, sizeof aggregate, "voucher:%" PRId64, id);
    const outbox_event_t event = {.agency = a->agency,
                                  .type = "finance.VoucherIssued",
                                  .aggregate_id = aggregate,
                                  .visibility = CHUANG__VISIBILITY__VISIBILITY_INTERNAL,
                                  .payload = &voucher.base};
    log_info("voucher issued", "application=%s voucher=%" PRId64 " face_value_fen=%" PRId64, a->key,
             id, a->amount);
    return s_emit(db, &event, 1);
}

static int s_award(PGconn *db, const char *key, int64_t budget_ms)
{
    (void)budget_ms;
    const char *values[1] = {key};
    PGresult *res = db_query(db,
                             "SELECT a.agency, a.programme, a.applicant, a.amount_fen, p.fund,"
                             "   a.notice_ends_on < chuang_today(a.agency), a.version, a.subject,"
                             "   p.kind, p.level, chuang_today(a.agency)::text,"
                             "   coalesce(a.period_from::text, ''),"
                             "   coalesce(a.period_to::text, ''), a.applicant_kind"
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
    award_t a;
    snprintf(a.key, sizeof a.key, "%s", key);
    snprintf(a.agency, sizeof a.agency, "%s", PQgetvalue(res, 0, 0));
    snprintf(a.programme, sizeof a.programme, "%s", PQgetvalue(res, 0, 1));
    snprintf(a.applicant, sizeof a.applicant, "%s", PQgetvalue(res, 0, 2));
    a.amount = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
    snprintf(a.fund, sizeof a.fund, "%s", PQgetvalue(res, 0, 4));
    a.version = atoi(PQgetvalue(res, 0, 6));
    snprintf(a.subject, sizeof a.subject, "%s", PQgetvalue(res, 0, 7));
    snprintf(a.kind, sizeof a.kind, "%s", PQgetvalue(res, 0, 8));
    snprintf(a.level, sizeof a.level, "%s", PQgetvalue(res, 0, 9));
    snprintf(a.today, sizeof a.today, "%s", PQgetvalue(res, 0, 10));
    snprintf(a.period_from, sizeof a.period_from, "%s", PQgetvalue(res, 0, 11));
    snprintf(a.period_to, sizeof a.period_to, "%s", PQgetvalue(res, 0, 12));
    a.person = streq(PQgetvalue(res, 0, 13), "person");
    snprintf(a.cause, sizeof a.cause, "application:%s", key);
    PQclear(res);
    /* The register may have learnt of another level's award since the
     * submission: the rules decide again, today. */
    int64_t allowed = INT64_MAX;
    char why[512];
    const awards_claim_t claim = {a.applicant, a.subject, a.period_from, a.period_to, a.amount};
    int allow =
        awards_allow(db, a.agency, a.programme, a.version, &claim, &allowed, why, sizeof why);
    if (allow < 0)
        return -1;
    if (allow == 0)
        return s_refuse(db, &a, why);
    if (allowed < a.amount)
        a.amount = allowed;
    if (streq(a.kind, "guarantee_loan"))
        return s_guarantee(db, &a);
    return streq(a.kind, "voucher") ? s_voucher(db, &a) : s_commit(db, &a);
}

static PGresult *s_loans_pending(PGconn *db)
{
    PGresult *res =
        db_query(db,
                 "SELECT l.id::text, (extract(epoch FROM chuang_day_start(l.agency,"
                 "   min(i.due_on) + 1)) * 1000)::bigint"
                 " FROM loans l JOIN loan_instalments i ON i.loan_id = l.id AND i.paid_on IS NULL"
                 " WHERE l.status = 'repaying' GROUP BY l.id, l.agency",
                 0, NULL, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        return res;
    PQclear(res);
    return NULL;
}

static int s_loan_due(PGconn *db, const char *key, int64_t budget_ms)
{
    (void)budget_ms;
    const char *values[1] = {key};
    PGresult *res = db_query(
        db,
        "SELECT l.agency, l.programme, l.borrower, i.number, i.due_on::text, l.borrower_kind"
        " FROM loans l JOIN loan_instalments i ON i.loan_id = l.id AND i.paid_on IS NULL"
        "   AND i.due_on < chuang_today(l.agency)"
        " WHERE l.id = $1::bigint AND l.status = 'repaying' ORDER BY i.number LIMIT 1"
        " FOR UPDATE OF l",
        1, values, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return -1;
    }
    if (PQntuples(res) == 0) {
        PQclear(res); /* paid in time, or no longer repaying */
        return 0;
    }
    char agency[32], programme[64], borrower[32], why[96];
    snprintf(agency, sizeof agency, "%s", PQgetvalue(res, 0, 0));
    snprintf(programme, sizeof programme, "%s", PQgetvalue(res, 0, 1));
    snprintf(borrower, sizeof borrower, "%s", PQgetvalue(res, 0, 2));
    snprintf(why, sizeof why, "instalment %s due on %s is unpaid", PQgetvalue(res, 0, 3),
             PQgetvalue(res, 0, 4));
    bool person = streq(PQgetvalue(res, 0, 5), "person");
    PQclear(res);
    int64_t id = strtoll(key, NULL, 10);
    if (loan_move(db, agency, id, "repaying", "overdue", "finance", why, 0) != 1)
        return -1;
    Chuang__Finance__Loan loan = CHUANG__FINANCE__LOAN__INIT;
    loan.id = id;
    loan.programme = programme;
    loan.credit_code = person ? "" : borrower;
    loan.id_number = person ? borrower : "";
    loan.status = "overdue";
    char aggregate[32];
    snprintf(aggregate, sizeof aggregate, "loan:%s", key);
    const outbox_event_t event = {.agency = agency,
                                  .type = "finance.LoanOverdue",
                                  .aggregate_id = aggregate,
                                  .visibility = CHUANG__VISIBILITY__VISIBILITY_INTERNAL,
                                  .payload = &loan.base};
    log_info("loan overdue", "loan=%s", key);
    return s_emit(db, &event, 1);
}

static PGresult *s_vouchers_pending(PGconn *db)
{
    PGresult *res =
        db_query(db,
                 "SELECT id::text, (extract(epoch FROM chuang_day_start(agency, valid_to + 1))"
                 "   * 1000)::bigint FROM vouchers WHERE status = 'issued'",
                 0, NULL, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        return res;
    PQclear(res);
    return NULL;
}

static int s_voucher_expiry(PGconn *db, const char *key, int64_t budget_ms)
{
    (void)budget_ms;
    const char *values[1] = {key};
    PGresult *res = db_query(db,
                             "SELECT v.agency, v.programme, p.fund, v.remaining_fen, v.holder,"
                             "   v.holder_kind, v.valid_to::text"
                             " FROM vouchers v JOIN programmes p"
                             "   ON p.agency = v.agency AND p.code = v.programme"
                             " WHERE v.id = $1::bigint AND v.status = 'issued'"
                             "   AND v.valid_to < chuang_today(v.agency) FOR UPDATE OF v",
                             1, values, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return -1;
    }
    if (PQntuples(res) == 0) {
        PQclear(res); /* used up, or still valid */
        return 0;
    }
    char agency[32], programme[64], fund[64], holder[32], valid_to[16], committed[96],
        available[96], cause[32];
    snprintf(agency, sizeof agency, "%s", PQgetvalue(res, 0, 0));
    snprintf(programme, sizeof programme, "%s", PQgetvalue(res, 0, 1));
    snprintf(fund, sizeof fund, "%s", PQgetvalue(res, 0, 2));
    int64_t left = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
    snprintf(holder, sizeof holder, "%s", PQgetvalue(res, 0, 4));
    bool person = streq(PQgetvalue(res, 0, 5), "person");
    snprintf(valid_to, sizeof valid_to, "%s", PQgetvalue(res, 0, 6));
    PQclear(res);
    /* What is left returns to the fund's money to commit. */
    snprintf(committed, sizeof committed, "%s:committed", fund);
    snprintf(available, sizeof available, "%s:available", fund);
    snprintf(cause, sizeof cause, "voucher:%s", key);
    const ledger_posting_t postings[2] = {{committed, left}, {available, -left}};
    const ledger_entry_t entry = {.kind = "expiry",
                                  .cause = cause,
                                  .memo = "voucher expired: its value left returns to the fund",
                                  .recorded_by = "finance"};
    if (ledger_post(db, agency, &entry, postings, 2) <= 0)
        return -1;
    res = db_query(db,
                   "UPDATE vouchers SET status = 'expired', expired_fen = remaining_fen,"
                   "   remaining_fen = 0 WHERE id = $1::bigint",
                   1, values, NULL, NULL, 0);
    bool updated = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!updated)
        return -1;
    Chuang__Finance__Voucher voucher = CHUANG__FINANCE__VOUCHER__INIT;
    voucher.id = strtoll(key, NULL, 10);
    voucher.programme = programme;
    voucher.credit_code = person ? "" : holder;
    voucher.id_number = person ? holder : "";
    voucher.valid_to = valid_to;
    voucher.status = "expired";
    voucher.expired_fen = left;
    const outbox_event_t event = {.agency = agency,
                                  .type = "finance.VoucherExpired",
                                  .aggregate_id = cause,
                                  .visibility = CHUANG__VISIBILITY__VISIBILITY_INTERNAL,
                                  .payload = &voucher.base};
    log_info("voucher expired", "voucher=%s returned_fen=%" PRId64, key, left);
    return s_emit(db, &event, 1);
}

const service_job_t finance_jobs[] = {
    {"notice", s_notices_pending, s_award, true},
    {"loan_due", s_loans_pending, s_loan_due, true},
    {"voucher_expiry", s_vouchers_pending, s_voucher_expiry, true},
    {NULL, NULL, NULL, false},
};
