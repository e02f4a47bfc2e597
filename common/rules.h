/*
 * rules.h - dated rules: the values that change by year and by agency.
 *
 * A rule is a named integer (a day count, a deadline written MMDD, an
 * amount in fen, a rate in basis points) with rows in the service's
 * chuang_rules table (common/sql/0012_rules.sql), each for an agency (or
 * '' for every agency) with the period it is in force, a trial flag and the
 * document that set it. The value on a day is the row of the agency that
 * started latest on or before that day, else the default's; when that row
 * has lapsed, the rule has no value that day: a lapsed rule is an error to
 * be fixed by an operator, never silently replaced by an older value.
 * SQL can ask for the same with chuang_rule(agency, name, day).
 */
#ifndef CHUANG_RULES_H
#define CHUANG_RULES_H

#include <libpq-fe.h>
#include <stdint.h>

/* Finds rule name of agency on day ("YYYY-MM-DD", or NULL for the agency's
 * today). Returns 1 and sets *value, 0 when no row is in force that day,
 * -1 on a database error. */
int rules_get(PGconn *db, const char *agency, const char *name, const char *day, int64_t *value);

/* The agency's rules (its own and the defaults it inherits) whose latest
 * row ends within days days of today, or has ended already (days left
 * below 0: the rule has no value now): rows (name, value, effective_to,
 * days left, trial, document), the soonest first. The caller clears the
 * result; NULL on error. */
PGresult *rules_lapsing(PGconn *db, const char *agency, int days);

#endif
