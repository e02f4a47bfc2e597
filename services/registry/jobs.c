/*
 * jobs.c - the registry's scheduled work: deciding simplified deregistrations
 * when their public notice ends, and listing as abnormal the entities that
 * have not filed an annual report by the deadline.
 *
 * The framework runs them (service_job_t): "deregister:<credit code>" due
 * when the notice ends, "annual:<agency>:<year>" due at the agency's
 * midnight after that year's last filing day (both legal dates in the
 * agency's calendar, computed by the database), each listed from the
 * tables that are the record of what is to be done. Each job checks the
 * state it acts on inside its own transaction, so running it twice changes
 * nothing. The annual check works in chunks of CHUNK entities, a
 * transaction each, and hands the rest to the next run when its budget is
 * spent.
 */
#include "jobs.h"
#include "db.h"
#include "logger.h"
#include "outbox.h"
#include "store.h"

#include <czmq.h>

#define CHUNK 500

/* Decides one deregistration whose notice has ended, in the framework's
 * transaction. */
static int s_deregister(PGconn *db, const char *credit_code, int64_t budget_ms)
{
    (void)budget_ms;
    store_deregistration_t row;
    store_entity_ref_t ref;
    int decided = store_deregistration_decide(db, credit_code, &row);
    if (decided <= 0)
        return decided;
    if (store_entity_ref(db, credit_code, false, &ref) != 1)
        return -1;
    Chuang__Registry__Deregistration message = CHUANG__REGISTRY__DEREGISTRATION__INIT;
    message.credit_code = row.credit_code;
    message.status = row.status;
    message.applied_at_ms = row.applied_at_ms;
    message.notice_ends_at_ms = row.notice_ends_at_ms;
    message.decided_at_ms = row.decided_at_ms;
    message.objections = row.objections;
    outbox_event_t event = {
        .agency = ref.agency,
        .type = streq(row.status, "deregistered") ? "registry.Deregistered"
                                                  : "registry.DeregistrationRejected",
        .aggregate_id = credit_code,
        .visibility = CHUANG__VISIBILITY__VISIBILITY_PUBLIC,
        .payload = &message.base,
    };
    log_info("deregistration decided", "credit_code=%s status=%s objections=%d", credit_code,
             row.status, row.objections);
    return outbox_write(db, &event) < 0 ? -1 : 0;
}

/* Lists the entities of the agency without the report of the year (key
 * "<agency>:<year>"), chunk by chunk, each in its own transaction, for at
 * most budget_ms. Returns 0 when the check is done, 1 when more is left for
 * the next run, -1 on error. */
static int s_annual_check(PGconn *db, const char *key, int64_t budget_ms)
{
    char agency[32];
    int year = 0;
    if (sscanf(key, "%31[^:]:%d", agency, &year) != 2) {
        log_warn("malformed annual check dropped", "key=%s", key);
        return 0;
    }
    int done = store_annual_check_done(db, agency, year);
    if (done != 0)
        return done < 0 ? -1 : 0;
    int64_t end = zclock_mono() + budget_ms;
    int listed = 0;
    for (int rows = CHUNK; rows == CHUNK;) {
        if (zclock_mono() >= end) {
            log_info("annual report check goes on next time", "agency=%s year=%d listed=%d", agency,
                     year, listed);
            return 1;
        }
        if (db_exec(db, "begin annual chunk", "BEGIN") != 0)
            return -1;
        PGresult *chunk = store_annual_check_chunk(db, agency, year, CHUNK);
        int rc = chunk ? 0 : -1;
        rows = chunk ? PQntuples(chunk) : 0;
        for (int i = 0; i < rows && rc == 0; i++) {
            Chuang__Registry__Listing listing = CHUANG__REGISTRY__LISTING__INIT;
            listing.credit_code = PQgetvalue(chunk, i, 0);
            listing.id = strtoll(PQgetvalue(chunk, i, 1), NULL, 10);
            listing.listed_at_ms = strtoll(PQgetvalue(chunk, i, 2), NULL, 10);
            listing.reason = PQgetvalue(chunk, i, 3);
            listing.list = "abnormal";
            listing.authority = "registry";
            outbox_event_t event = {
                .agency = agency,
                .type = "registry.ListedAbnormal",
                .aggregate_id = listing.credit_code,
                .visibility = CHUANG__VISIBILITY__VISIBILITY_PUBLIC,
                .payload = &listing.base,
            };
            rc = outbox_write(db, &event);
        }
        PQclear(chunk);
        if (rows < CHUNK && rc == 0)
            rc = store_annual_check_finish(db, agency, year);
        if (rc != 0 || db_exec(db, "commit annual chunk", "COMMIT") != 0) {
            PQclear(PQexec(db, "ROLLBACK"));
            return -1;
        }
        listed += rows;
    }
    log_info("annual report check done", "agency=%s year=%d listed=%d", agency, year, listed);
    return 0;
}

const service_job_t registry_jobs[] = {
    {"deregister", store_deregistrations_pending, s_deregister, true},
    {"annual", store_annual_checks_due, s_annual_check, false},
    {NULL, NULL, NULL, false},
};
