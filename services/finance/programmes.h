/*
 * programmes.h - programmes and their dated versions in SQL
 * (sql/0002_programmes.sql: versions are never changed; a revision is a
 * new version).
 *
 * Every function runs on the caller's connection inside its transaction
 * and returns 1 or a count, 0 for "not found", or a negative PROGRAMME_*
 * code; on PROGRAMME_ERROR the database's error is on the connection.
 */
#ifndef FINANCE_PROGRAMMES_H
#define FINANCE_PROGRAMMES_H

#include "finance.pb-c.h"
#include "service.h"

#include <libpq-fe.h>

#define PROGRAMME_ERROR        -1
#define PROGRAMME_NO_FUND      -2 /* the fund it names does not exist */
#define PROGRAMME_NOT_AFTER    -3 /* a revision does not start after the latest version */
#define PROGRAMME_PAST         -4 /* a revision starts before today */
#define PROGRAMME_NOT_IN_FORCE -5 /* no version is in force on the day asked */

/* Creates the programme of request in agency with its first version.
 * Returns 1, 0 when the agency has the code already, PROGRAMME_NO_FUND,
 * or PROGRAMME_ERROR. */
int programme_define(PGconn *db, const char *agency,
                     const Chuang__Finance__DefineProgrammeRequest *request,
                     const char *recorded_by);

/* Adds version as the next version of programme code of agency. Returns
 * its number; 0 when there is no such programme; PROGRAMME_NOT_AFTER,
 * PROGRAMME_PAST or PROGRAMME_ERROR. */
int programme_revise(PGconn *db, const char *agency, const char *code,
                     const Chuang__Finance__ProgrammeVersion *version, const char *recorded_by);

/* Fills programme (memory from call) with programme code of agency and
 * the version in force on day ("YYYY-MM-DD"; "" for the agency's today).
 * Returns 1; 0 when there is no such programme; PROGRAMME_NOT_IN_FORCE
 * (programme then holds the programme, and its version the one that
 * started latest before the day, if any); or PROGRAMME_ERROR. */
int programme_get(PGconn *db, service_call_t *call, const char *agency, const char *code,
                  const char *day, Chuang__Finance__Programme *programme);

/* Fills version (memory from call) with version number of programme code
 * of agency, its parameters and conditions. Returns 1, 0 when there is no
 * such version, or PROGRAMME_ERROR. */
int programme_version(PGconn *db, service_call_t *call, const char *agency, const char *code,
                      int number, Chuang__Finance__ProgrammeVersion *version);

/* Fills list with agency's programmes whose version in force ends within
 * days of today, or ended within days before it, with no next version to
 * follow on. Returns the count or PROGRAMME_ERROR. */
int programme_lapsing(PGconn *db, service_call_t *call, const char *agency, int days,
                      Chuang__Finance__LapsingList *list);

/* The value of version's parameter name, or fallback when it has none. */
int64_t programme_parameter(const Chuang__Finance__ProgrammeVersion *version, const char *name,
                            int64_t fallback);

/* The same, read from the database for version number of programme code
 * of agency, into *value. Returns 0 or PROGRAMME_ERROR. */
int programme_parameter_of(PGconn *db, const char *agency, const char *code, int version,
                           const char *name, int64_t fallback, int64_t *value);

/* Fills out with the statistics of programme code of agency in year (0:
 * this year, the agency's). Returns 1, 0 when there is no such programme,
 * or PROGRAMME_ERROR. */
int programme_statistics(PGconn *db, service_call_t *call, const char *agency, const char *code,
                         int year, Chuang__Finance__ProgrammeStatistics *out);

#endif
