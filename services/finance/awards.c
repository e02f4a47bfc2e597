/*
 * awards.c - the cross-level award register; see awards.h.
 *
 * The register is one table keyed by the awarding agency and its award's
 * id, so an award learnt twice (a redelivery, or this agency's own award
 * coming back through a feed that imports it) is registered once. The
 * rules are tested in SQL by finance_award_rules_check, one row per rule,
 * so that the request that shows an officer why and the job that makes the
 * award decide by the same test.
 */
#include "awards.h"
#include "db.h"
#include "logger.h"

#include <czmq.h>
#include <inttypes.h>

const char *const awards_levels[] = {"town", "district", "city", "province", "national", NULL};

static bool s_level_known(const char *level)
{
    for (size_t i = 0; awards_levels[i]; i++)
        if (streq(awards_levels[i], level))
            return true;
    return false;
}

int awards_register(PGconn *db, const Chuang__Finance__AwardRecord *award)
{
    bool person = !*award->credit_code;
    char amount[24];
    snprintf(amount, sizeof amount, "%" PRId64, award->amount_fen);
    const char *values[12] = {award->agency,
                              award->award,
                              award->level,
                              person ? "person" : "entity",
                              person ? award->id_number : award->credit_code,
                              award->kind,
                              award->programme,
                              award->subject,
                              amount,
                              award->awarded_on,
                              award->period_from,
                              award->period_to};
    PGresult *res = db_query(db,
                             "INSERT INTO award_register (origin, award, level, recipient_kind,"
                             "   recipient, kind, programme, subject, amount_fen, awarded_on,"
                             "   period_from, period_to)"
                             " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::bigint, $10::date,"
                             "   nullif($11, '')::date, nullif($12, '')::date)"
                             " ON CONFLICT (origin, award) DO NOTHING",
                             12, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? atoi(PQcmdTuples(res)) : -1;
    PQclear(res);
    return rc;
}

int awards_apply(PGconn *db, const Chuang__Event *event, void *arg, char *error)
{
    (void)arg;
    if (!streq(event->type, "finance.AwardRegistered"))
        return 0;
    Chuang__Finance__AwardRecord *award =
        chuang__finance__award_record__unpack(NULL, event->payload.len, event->payload.data);
    if (!award) {
        snprintf(error, 256, "payload is not a chuang.finance.AwardRecord");
        return -1;
    }
    int rc = 0;
    if (!*award->agency || !*award->award || !*award->kind || !s_level_known(award->level) ||
        award->amount_fen <= 0 || strlen(award->awarded_on) != 10) {
        snprintf(error, 256,
                 "the award record is not whole (agency, award, kind, level, amount "
                 "and day are required)");
        rc = -1;
    } else if (!*award->credit_code && !*award->id_number)
        log_warn("an award to a person came without the ID number and is not registered",
                 "origin=%s award=%s hint=\"grant this agency personal data on "
                 "finance.AwardRegistered in the origin's feed access list\"",
                 award->agency, award->award);
    else if (awards_register(db, award) < 0) {
        snprintf(error, 256, "%s", PQerrorMessage(db));
        rc = -1;
    }
    chuang__finance__award_record__free_unpacked(award, NULL);
    return rc;
}

/* Runs finance_award_rules_check with the arguments as text. */
static PGresult *s_check(PGconn *db, const char *agency, const char *programme, int version,
                         const awards_claim_t *claim, const char *day)
{
    char version_text[16], amount_text[24];
    snprintf(version_text, sizeof version_text, "%d", version);
    snprintf(amount_text, sizeof amount_text, "%" PRId64, claim->amount);
    const char *values[9] = {agency,           programme,          version_text,
                             claim->recipient, claim->subject,     day,
                             amount_text,      claim->period_from, claim->period_to};
    PGresult *res =
        db_query(db,
                 "SELECT rule_position, holds, actual, found_fen, allows_fen"
                 " FROM finance_award_rules_check($1, $2, $3::int, $4, $5, nullif($6, '')::date,"
                 "   $7::bigint, nullif($8, '')::date, nullif($9, '')::date)",
                 9, values, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        return res;
    PQclear(res);
    return NULL;
}

int awards_evaluate(PGconn *db, service_call_t *call, const char *agency, const char *programme,
                    const Chuang__Finance__ProgrammeVersion *version, const awards_claim_t *claim,
                    const char *day, Chuang__Finance__Eligibility *out)
{
    if (version->n_award_rules == 0)
        return 0;
    PGresult *res = s_check(db, agency, programme, version->version, claim, day);
    if (!res)
        return -1;
    size_t rows = (size_t)PQntuples(res);
    out->award_rules = service_call_alloc(call, (rows + 1) * sizeof *out->award_rules);
    for (size_t i = 0; i < rows && i < version->n_award_rules; i++) {
        Chuang__Finance__AwardRuleResult *result = service_call_alloc(call, sizeof *result);
        chuang__finance__award_rule_result__init(result);
        result->rule = version->award_rules[i];
        result->holds = streq(PQgetvalue(res, (int)i, 1), "t");
        result->actual = service_call_strdup(call, PQgetvalue(res, (int)i, 2));
        result->amount_fen = strtoll(PQgetvalue(res, (int)i, 3), NULL, 10);
        out->award_rules[out->n_award_rules++] = result;
        out->eligible = out->eligible && result->holds;
        if (streq(result->rule->rule, "top_up")) {
            int64_t allows = strtoll(PQgetvalue(res, (int)i, 4), NULL, 10);
            if (out->top_up_fen == 0 || allows < out->top_up_fen)
                out->top_up_fen = allows;
        }
    }
    PQclear(res);
    return 0;
}

int awards_allow(PGconn *db, const char *agency, const char *programme, int version,
                 const awards_claim_t *claim, int64_t *allowed, char *why, size_t size)
{
    PGresult *res = s_check(db, agency, programme, version, claim, "");
    if (!res)
        return -1;
    int rc = 1;
    *allowed = INT64_MAX;
    for (int i = 0; i < PQntuples(res) && rc == 1; i++) {
        if (!streq(PQgetvalue(res, i, 1), "t")) {
            snprintf(why, size, "award rule %s does not hold: %s", PQgetvalue(res, i, 0),
                     PQgetvalue(res, i, 2));
            rc = 0;
        } else if (!PQgetisnull(res, i, 4)) { /* a top_up rule */
            int64_t allows = strtoll(PQgetvalue(res, i, 4), NULL, 10);
            if (allows < *allowed)
                *allowed = allows;
        }
    }
    PQclear(res);
    return rc;
}

int awards_list(PGconn *db, service_call_t *call, const char *recipient, const service_page_t *page,
                Chuang__Finance__AwardList *list)
{
    const char *values[3] = {recipient, page->fetch, page->after[0]};
    PGresult *res = db_query(
        db,
        "SELECT seq AS _seq, origin AS agency, award, level,"
        "   CASE recipient_kind WHEN 'entity' THEN recipient ELSE '' END AS credit_code,"
        "   CASE recipient_kind WHEN 'person' THEN recipient ELSE '' END AS id_number, kind,"
        "   programme, subject, amount_fen, awarded_on::text AS awarded_on,"
        "   coalesce(period_from::text, '') AS period_from,"
        "   coalesce(period_to::text, '') AS period_to"
        " FROM award_register WHERE recipient = $1"
        "   AND ($3::bigint IS NULL OR seq > $3::bigint)"
        " ORDER BY seq LIMIT $2::int",
        3, values, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK &&
                     service_call_page_rows(
                         call, page, res, &chuang__finance__award_record__descriptor, &list->awards,
                         &list->n_awards, &list->next_page_token) == CHUANG__STATUS__OK
                 ? (int)list->n_awards
                 : -1;
    PQclear(res);
    if (rc < 0)
        return rc;
    res = db_query(db,
                   "SELECT coalesce(sum(amount_fen), 0) FROM award_register"
                   " WHERE recipient = $1",
                   1, values, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        list->total_fen = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    else
        rc = -1;
    PQclear(res);
    return rc;
}
