/*
 * subsidies.c - finance's application events applied to graduations; see
 * subsidies.h. Events arrive once each and in their order per application
 * (the consumer's inbox and per-aggregate order), so each one sets the
 * state it reports.
 */
#include "subsidies.h"
#include "db.h"
#include "finance.pb-c.h"

#include <czmq.h>
#include <inttypes.h>

#define SUBJECT_PREFIX "graduation:"

int subsidies_apply(PGconn *db, const Chuang__Event *event, void *arg, char *error)
{
    (void)arg;
    if (strncmp(event->type, "finance.Application", strlen("finance.Application")) != 0)
        return 0;
    Chuang__Finance__Application *application =
        chuang__finance__application__unpack(NULL, event->payload.len, event->payload.data);
    if (!application) {
        snprintf(error, 256, "payload is not a chuang.finance.Application");
        return -1;
    }
    int rc = 0;
    const char *subject = application->subject;
    size_t prefix = strlen(SUBJECT_PREFIX);
    if (strncmp(subject, SUBJECT_PREFIX, prefix) == 0 && subject[prefix] &&
        strspn(subject + prefix, "0123456789") == strlen(subject + prefix) &&
        strlen(subject + prefix) < 19) {
        char id[24], amount[24];
        snprintf(id, sizeof id, "%" PRId64, application->id);
        int64_t fen = application->paid_fen      ? application->paid_fen
                      : application->awarded_fen ? application->awarded_fen
                                                 : application->amount_fen;
        snprintf(amount, sizeof amount, "%" PRId64, fen);
        const char *values[5] = {subject + prefix, event->agency, id, application->status, amount};
        /* The graduation of a tenancy of the agency whose finance wrote it. */
        PGresult *res = db_query(db,
                                 "UPDATE graduations g SET subsidy_application = $3::bigint,"
                                 "   subsidy_status = $4, subsidy_fen = $5::bigint"
                                 " FROM tenancies t WHERE g.tenancy = $1::bigint"
                                 "   AND t.id = g.tenancy AND t.agency = $2",
                                 5, values, NULL, NULL, 0);
        rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
        PQclear(res);
    }
    chuang__finance__application__free_unpacked(application, NULL);
    return rc;
}
