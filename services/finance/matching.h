/*
 * matching.h - bank–enterprise matching (银企对接) in SQL
 * (sql/0015_bank_matching.sql: finance_match decides how a need fits a
 * product, criterion by criterion): loan products, financing needs, the
 * matches between them, banks' responses, matchmaking meetings and what a
 * bank lent.
 *
 * Every function runs on the caller's connection inside its transaction
 * and returns 1 or a count, 0 for "not found", or a negative MATCH_* code;
 * on MATCH_ERROR the database's error is on the connection.
 */
#ifndef FINANCE_MATCHING_H
#define FINANCE_MATCHING_H

#include "finance.pb-c.h"
#include "service.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#define MATCH_ERROR   -1
#define MATCH_OUTSIDE -2 /* the entity is domiciled outside the agency's area */

/* Publishes request's product in agency for the key principal, into *id.
 * Returns 1 or MATCH_ERROR. */
int match_product_add(PGconn *db, const char *agency, const Chuang__Finance__LoanProductRequest *r,
                      const char *principal, int64_t *id);

/* Fills product (memory from call) with product id of agency and, unless
 * NULL, principal (size bytes) with the key that published it. Returns 1,
 * 0 when there is no such product, or MATCH_ERROR. */
int match_product_get(PGconn *db, service_call_t *call, const char *agency, int64_t id,
                      Chuang__Finance__LoanProduct *product, char *principal, size_t size);

/* Publishes request's need in agency, by by, into *id. Returns 1; 0 when
 * finance knows no such entity; MATCH_OUTSIDE; or MATCH_ERROR. */
int match_need_add(PGconn *db, const char *agency, const Chuang__Finance__FinancingNeedRequest *r,
                   const char *by, int64_t *id);

/* Fills need (memory from call) with need id of agency. Returns 1, 0 when
 * there is no such need, or MATCH_ERROR. */
int match_need_get(PGconn *db, service_call_t *call, const char *agency, int64_t id,
                   Chuang__Finance__FinancingNeed *need);

/* Fills list with the matches of need id (by_need) or of product id (the
 * open needs), ranked, each with its reasons. Returns the count or
 * MATCH_ERROR. */
int match_list(PGconn *db, service_call_t *call, const char *agency, int64_t id, bool by_need,
               Chuang__Finance__MatchList *list);

/* Records request's response, on day, by by; a loan lent meets the need.
 * Fills response (memory from call). Returns 1 or MATCH_ERROR. */
int match_respond(PGconn *db, service_call_t *call, const char *agency,
                  const Chuang__Finance__MatchResponseRequest *request, const char *day,
                  const char *by, Chuang__Finance__MatchResponse *response);

/* Records request's meeting in agency, by by, and fills meeting. Returns
 * 1 or MATCH_ERROR. */
int match_meeting_add(PGconn *db, service_call_t *call, const char *agency,
                      const Chuang__Finance__MeetingRequest *request, const char *by,
                      Chuang__Finance__Meeting *meeting);

/* Fills out with what bank (its credit code) lent through agency's
 * matching in year. Returns 1 or MATCH_ERROR. */
int match_lending(PGconn *db, service_call_t *call, const char *agency, const char *bank, int year,
                  Chuang__Finance__BankLending *out);

#endif
