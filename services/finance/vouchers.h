/*
 * vouchers.h - innovation vouchers (创新券) and the service providers that
 * redeem them, in SQL (sql/0012_vouchers.sql holds what the database
 * enforces: a remaining value never below zero, an invoice redeemed once).
 *
 * Every function runs on the caller's connection inside its transaction
 * and returns 1 or a count, 0 for "not found", or a negative VOUCHER_*
 * code; on VOUCHER_ERROR the database's error is on the connection.
 */
#ifndef FINANCE_VOUCHERS_H
#define FINANCE_VOUCHERS_H

#include "finance.pb-c.h"
#include "service.h"

#include <libpq-fe.h>
#include <stdint.h>

#define VOUCHER_ERROR        -1
#define VOUCHER_ELSEWHERE    -2 /* the entity is registered by another agency */
#define VOUCHER_CLOSED       -3 /* the entity is deregistered */
#define VOUCHER_INVOICE_USED -4 /* the provider's invoice was redeemed already */

/* Registers credit_code (an entity this agency registered, named as
 * finance knows it) as a provider of agency offering categories (count of
 * them), whose client key principal redeems for it ("" for none), applied
 * for by by. Returns 1; 0 when finance knows no such entity; VOUCHER_ELSEWHERE;
 * VOUCHER_CLOSED; VOUCHER_ERROR, with SQLSTATE 23505 when it is
 * registered already. */
int voucher_provider_register(PGconn *db, const char *agency, const char *credit_code,
                              char *const *categories, size_t count, const char *principal,
                              const char *by);

/* Fills provider (memory from call) with provider credit_code of agency,
 * its row locked for this transaction when lock. Returns 1, 0 when there
 * is no such provider, or VOUCHER_ERROR. */
int voucher_provider_get(PGconn *db, service_call_t *call, const char *agency,
                         const char *credit_code, bool lock,
                         Chuang__Finance__ServiceProvider *provider);

/* Records the decision to on provider credit_code of agency, for reason,
 * by by. Returns 1 or VOUCHER_ERROR. */
int voucher_provider_decide(PGconn *db, const char *agency, const char *credit_code, const char *to,
                            const char *reason, const char *by);

/* Issues the voucher application id's award makes: its amount committed,
 * valid for validity_days from today, the agency's. Fills *voucher with its id.
 * Returns 1 or VOUCHER_ERROR. */
int voucher_issue(PGconn *db, const char *agency, int64_t application_id, int64_t validity_days,
                  int64_t *voucher);

/* Fills voucher (memory from call) with voucher id of agency and its
 * redemptions, the voucher's row locked for this transaction when lock.
 * Returns 1, 0 when there is no such voucher, or VOUCHER_ERROR. */
int voucher_get(PGconn *db, service_call_t *call, const char *agency, int64_t id, bool lock,
                Chuang__Finance__Voucher *voucher);

/* What a redemption records. */
typedef struct {
    int64_t voucher;
    const char *provider;
    const char *invoice;
    const char *category;
    int64_t amount;
    int64_t entry; /* the journal entry that made it payable */
    const char *by;
} voucher_redemption_t;

/* Takes r's amount off its voucher (used when nothing is left) and records
 * the redemption. Returns 1; 0 when the voucher has less left than the
 * amount; VOUCHER_INVOICE_USED (the transaction is then aborted); or
 * VOUCHER_ERROR. */
int voucher_redeem(PGconn *db, const char *agency, const voucher_redemption_t *r);

/* The total of provider's unsettled redemptions of programme's vouchers in
 * agency, into *total, their rows locked for this transaction. Returns 0
 * or VOUCHER_ERROR. */
int voucher_unsettled(PGconn *db, const char *agency, const char *programme, const char *provider,
                      int64_t *total);

/* Marks those redemptions settled by entry. Returns their count or
 * VOUCHER_ERROR. */
int voucher_settle(PGconn *db, const char *agency, const char *programme, const char *provider,
                   int64_t entry);

/* Fills list with a page of agency's providers in status ("" any), in
 * the order they registered. Returns the count shown or VOUCHER_ERROR. */
int voucher_provider_list(PGconn *db, service_call_t *call, const char *agency, const char *status,
                          const service_page_t *page, Chuang__Finance__ProviderList *list);

/* Fills list with a page of programme's vouchers in status ("" any), the
 * latest first. Returns the count shown or VOUCHER_ERROR. */
int voucher_list(PGconn *db, service_call_t *call, const char *agency, const char *programme,
                 const char *status, const service_page_t *page,
                 Chuang__Finance__VoucherList *list);

/* Fills report with the vouchers of programme code of agency. Returns 1, 0
 * when there is no such programme, or VOUCHER_ERROR. */
int voucher_report(PGconn *db, service_call_t *call, const char *agency, const char *code,
                   Chuang__Finance__VoucherReport *report);

#endif
