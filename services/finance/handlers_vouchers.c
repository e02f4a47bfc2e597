/*
 * handlers_vouchers.c - innovation vouchers (创新券) after their issue (the
 * award job, jobs.c): the service providers that redeem them, registered
 * and approved by the agency; redemption against a provider's invoice for
 * a service in the programme's scope; settlement to the provider; and the
 * report of a programme's vouchers (vouchers.h holds the SQL).
 *
 * Money moves as in every award: the face value was committed at issue; a
 * redemption moves its amount from the fund's committed money to the
 * provider's payable account ("<fund>:payable:<provider>", cause
 * "voucher:<id>"); a settlement pays that account out of the fund's cash;
 * what is left when a voucher expires returns to available (jobs.c). Each
 * step is a finance.Voucher* or finance.Provider* event.
 */
#include "handlers.h"
#include "handlers_private.h"
#include "ledger.h"
#include "programmes.h"
#include "vouchers.h"

#include <czmq.h>
#include <inttypes.h>

#define CATEGORIES_MAX 20
#define INVOICE_MAX    64

/* true when list (count items) holds value. */
static bool s_holds(char *const *list, size_t count, const char *value)
{
    for (size_t i = 0; i < count; i++)
        if (streq(list[i], value))
            return true;
    return false;
}

/* Reads provider credit_code back into output and reports the step as
 * event type. */
static Chuang__Status s_provider_reply(service_call_t *call, const char *credit_code,
                                       const char *type, ProtobufCMessage *output)
{
    Chuang__Finance__ServiceProvider *provider = (Chuang__Finance__ServiceProvider *)output;
    if (voucher_provider_get(service_call_db(call), call, service_call_header(call)->agency,
                             credit_code, false, provider) != 1)
        return service_call_sql_fail(call, NULL, "read provider");
    char aggregate[48];
    snprintf(aggregate, sizeof aggregate, "provider:%s", credit_code);
    return service_call_emit(call, type, aggregate, CHUANG__VISIBILITY__VISIBILITY_INTERNAL,
                             &provider->base);
}

Chuang__Status handle_register_provider(service_call_t *call, const ProtobufCMessage *input,
                                        ProtobufCMessage *output)
{
    const Chuang__Finance__RegisterProviderRequest *request =
        (const Chuang__Finance__RegisterProviderRequest *)input;
    if (!checks_credit_code_shaped(request->credit_code))
        service_call_violation(call, "credit_code",
                               "must be the provider's unified social credit code (18 characters)");
    if (request->n_categories < 1 || request->n_categories > CATEGORIES_MAX)
        service_call_violation(call, "categories",
                               "must name 1 to %d categories of service it offers", CATEGORIES_MAX);
    char path[48];
    for (size_t i = 0; i < request->n_categories; i++) {
        snprintf(path, sizeof path, "categories.%zu", i);
        if (!checks_name_valid(request->categories[i]))
            service_call_violation(call, path,
                                   "must be a category name: 2 to 40 of a-z, 0-9, '_' and '-'");
        else if (s_holds(request->categories, i, request->categories[i]))
            service_call_violation(call, path, "is given twice");
    }
    /* A provider registering itself is bound to its own key; an officer
     * names the key the agency issued it, if any. */
    const char *principal = request->principal;
    if (service_call_acts_as(call, "provider")) {
        const char *me = service_call_principal(call)->name;
        if (*principal && !streq(principal, me))
            service_call_violation(call, "principal",
                                   "must be empty: a provider registers with its own key");
        principal = me;
    } else if (!checks_text_valid(principal, false) || strlen(principal) > 64)
        service_call_violation(call, "principal", "must be the name of the provider's client key");
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    PGconn *db = service_call_db(call);
    const char *agency = service_call_header(call)->agency;
    Chuang__Finance__ServiceProvider *known = service_call_alloc(call, sizeof *known);
    chuang__finance__service_provider__init(known);
    int found = voucher_provider_get(db, call, agency, request->credit_code, false, known);
    if (found < 0)
        return service_call_sql_fail(call, NULL, "read provider");
    if (found == 1) {
        char *detail =
            zsys_sprintf("The entity is a provider of this agency already, %s.", known->status);
        Chuang__Status status = service_call_fail(call, CHUANG__STATUS__ALREADY_EXISTS,
                                                  "provider registered", detail, NULL);
        zstr_free(&detail);
        return status;
    }
    int rc =
        voucher_provider_register(db, agency, request->credit_code, request->categories,
                                  request->n_categories, principal, service_call_recorded_by(call));
    if (rc == 0) {
        service_call_violation(call, "credit_code", "is not an entity finance knows");
        return service_call_fail(call, CHUANG__STATUS__NOT_FOUND, "no such entity",
                                 "Finance learns of entities from the registry's events.",
                                 "Register the entity first, or try again in a moment.");
    }
    if (rc == VOUCHER_ELSEWHERE || rc == VOUCHER_CLOSED) {
        service_call_violation(call, "credit_code",
                               rc == VOUCHER_ELSEWHERE ? "is an entity of another agency"
                                                       : "is a deregistered entity");
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "not an entity of this agency",
                                 "A provider of this agency's vouchers is an entity it registered "
                                 "and that is still registered.",
                                 NULL);
    }
    if (rc != 1)
        return service_call_sql_fail(call, NULL, "register provider");
    return s_provider_reply(call, request->credit_code, "finance.ProviderRegistered", output);
}

Chuang__Status handle_decide_provider(service_call_t *call, const ProtobufCMessage *input,
                                      ProtobufCMessage *output)
{
    const Chuang__Finance__ProviderDecision *request =
        (const Chuang__Finance__ProviderDecision *)input;
    if (!checks_credit_code_shaped(request->credit_code))
        service_call_violation(call, "credit_code", "must be a provider's credit code");
    static const checks_move_t moves[] = {{"applied", "approved"},
                                          {"applied", "refused"},
                                          {"approved", "suspended"},
                                          {"suspended", "approved"},
                                          {NULL, NULL}};
    bool known = checks_move_known(moves, request->decision);
    if (!known)
        service_call_violation(call, "decision", "must be approved, refused or suspended");
    bool approved = streq(request->decision, "approved");
    if (!checks_text_valid(request->reason, !approved))
        service_call_violation(call, "reason", "must say why (1 to %d characters)",
                               CHECKS_TEXT_MAX);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    PGconn *db = service_call_db(call);
    const char *agency = service_call_header(call)->agency;
    Chuang__Finance__ServiceProvider *provider = service_call_alloc(call, sizeof *provider);
    chuang__finance__service_provider__init(provider);
    Chuang__Status status = service_call_found(
        call, voucher_provider_get(db, call, agency, request->credit_code, true, provider),
        "read provider", "no such provider");
    if (status != CHUANG__STATUS__OK)
        return status;
    status = checks_move_allowed(call, moves, "provider", provider->status, request->decision);
    if (status != CHUANG__STATUS__OK)
        return status;
    if (voucher_provider_decide(db, agency, request->credit_code, request->decision,
                                request->reason, service_call_recorded_by(call)) != 1)
        return service_call_sql_fail(call, NULL, "decide provider");
    return s_provider_reply(call, request->credit_code, "finance.ProviderDecided", output);
}

Chuang__Status handle_get_provider(service_call_t *call, const ProtobufCMessage *input,
                                   ProtobufCMessage *output)
{
    const Chuang__Finance__ProviderRequest *request =
        (const Chuang__Finance__ProviderRequest *)input;
    if (!checks_credit_code_shaped(request->credit_code))
        return service_call_violation(call, "credit_code", "must be a provider's credit code");
    Chuang__Finance__ServiceProvider *provider = (Chuang__Finance__ServiceProvider *)output;
    Chuang__Status status = service_call_found(
        call,
        voucher_provider_get(service_call_db(call), call, service_call_header(call)->agency,
                             request->credit_code, false, provider),
        "read provider", "no such provider");
    if (status == CHUANG__STATUS__OK && service_call_acts_as(call, "provider") &&
        !streq(provider->principal, service_call_principal(call)->name))
        return service_call_fail(call, CHUANG__STATUS__PERMISSION_DENIED, "another provider",
                                 "A provider reads its own registration.", NULL);
    return status;
}

Chuang__Status handle_get_voucher(service_call_t *call, const ProtobufCMessage *input,
                                  ProtobufCMessage *output)
{
    const Chuang__Finance__VoucherRequest *request = (const Chuang__Finance__VoucherRequest *)input;
    if (request->id < 1)
        return service_call_violation(call, "id", "must be the id of a voucher");
    int found = voucher_get(service_call_db(call), call, service_call_header(call)->agency,
                            request->id, false, (Chuang__Finance__Voucher *)output);
    return service_call_found(call, found, "read voucher", "no such voucher");
}

/* Records a violation for each field of request that does not fit the
 * shape of a redemption. */
static void s_redemption_check(service_call_t *call,
                               const Chuang__Finance__RedemptionRequest *request)
{
    if (request->voucher_id < 1)
        service_call_violation(call, "voucher_id", "must be the id of a voucher");
    if (!checks_credit_code_shaped(request->provider))
        service_call_violation(call, "provider", "must be the provider's credit code");
    if (!checks_text_valid(request->invoice, true) || strlen(request->invoice) > INVOICE_MAX)
        service_call_violation(call, "invoice", "must be the provider's invoice number");
    if (!checks_name_valid(request->category))
        service_call_violation(call, "category", "must name the category of the service invoiced");
    if (request->amount_fen < 1 || request->amount_fen > AMOUNT_MAX)
        service_call_violation(call, "amount_fen",
                               "must be a whole number of fen from 1 to %" PRId64, AMOUNT_MAX);
}

/* Checks that provider may redeem for request as the caller: approved by
 * this agency, registered for the category, and the caller a finance
 * officer or the provider's own key. */
static Chuang__Status s_redeemer(service_call_t *call,
                                 const Chuang__Finance__RedemptionRequest *request)
{
    Chuang__Finance__ServiceProvider *provider = service_call_alloc(call, sizeof *provider);
    chuang__finance__service_provider__init(provider);
    int found = voucher_provider_get(service_call_db(call), call, service_call_header(call)->agency,
                                     request->provider, false, provider);
    if (found < 0)
        return service_call_sql_fail(call, NULL, "read provider");
    if (found == 0)
        return service_call_violation(call, "provider", "is not a service provider of this agency");
    if (service_call_acts_as(call, "provider") &&
        !streq(provider->principal, service_call_principal(call)->name))
        return service_call_fail(call, CHUANG__STATUS__PERMISSION_DENIED, "another provider",
                                 "A provider redeems vouchers for itself.", NULL);
    if (!streq(provider->status, "approved"))
        return service_call_violation(call, "provider", "is not approved: it is %s",
                                      provider->status);
    if (!s_holds(provider->categories, provider->n_categories, request->category))
        return service_call_violation(call, "category",
                                      "is not a service the provider is registered for");
    return CHUANG__STATUS__OK;
}

/* Checks request against voucher (locked) and the scope of the version it
 * was issued under, on day today. */
static Chuang__Status s_redeemable(service_call_t *call,
                                   const Chuang__Finance__RedemptionRequest *request,
                                   const Chuang__Finance__Voucher *voucher,
                                   const Chuang__Finance__ProgrammeVersion *version,
                                   const char *today)
{
    if (strcmp(today, voucher->valid_to) > 0 || streq(voucher->status, "expired")) {
        service_call_violation(call, "voucher_id", "expired on %s", voucher->valid_to);
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION, "voucher expired",
                                 "A voucher is redeemed within its validity only.", NULL);
    }
    if (version->n_service_categories > 0 &&
        !s_holds(version->service_categories, version->n_service_categories, request->category))
        service_call_violation(call, "category",
                               "is not a service the programme's vouchers pay for");
    if (version->n_providers > 0 &&
        !s_holds(version->providers, version->n_providers, request->provider))
        service_call_violation(call, "provider",
                               "is not among the providers the programme's vouchers name");
    if (request->amount_fen > voucher->remaining_fen)
        service_call_violation(call, "amount_fen",
                               "passes the voucher's remaining value of %" PRId64 " fen",
                               voucher->remaining_fen);
    return service_call_has_violations(call) ? CHUANG__STATUS__INVALID_ARGUMENT
                                             : CHUANG__STATUS__OK;
}

/* Reads voucher id back into output and reports the step as event type. */
static Chuang__Status s_voucher_reply(service_call_t *call, int64_t id, const char *type,
                                      ProtobufCMessage *output)
{
    Chuang__Finance__Voucher *voucher = (Chuang__Finance__Voucher *)output;
    if (voucher_get(service_call_db(call), call, service_call_header(call)->agency, id, false,
                    voucher) != 1)
        return service_call_sql_fail(call, NULL, "read voucher");
    char aggregate[32];
    snprintf(aggregate, sizeof aggregate, "voucher:%" PRId64, id);
    return service_call_emit(call, type, aggregate, CHUANG__VISIBILITY__VISIBILITY_INTERNAL,
                             &voucher->base);
}

/* The fund of voucher programme code, into fund (size bytes). Returns OK;
 * NOT_FOUND when the agency has no such voucher programme; or the
 * query's failure. */
static Chuang__Status s_voucher_fund(service_call_t *call, const char *code, char *fund,
                                     size_t size)
{
    const char *values[2] = {service_call_header(call)->agency, code};
    Chuang__Status status;
    PGresult *res = service_call_query(call, "read the programme's fund",
                                       "SELECT fund FROM programmes WHERE agency = $1 AND code = $2"
                                       "   AND kind = 'voucher'",
                                       2, values, PGRES_TUPLES_OK, &status);
    if (!res)
        return status;
    int found = PQntuples(res);
    if (found == 1)
        snprintf(fund, size, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return service_call_found(call, found, "read programme", "no such voucher programme");
}

Chuang__Status handle_redeem_voucher(service_call_t *call, const ProtobufCMessage *input,
                                     ProtobufCMessage *output)
{
    const Chuang__Finance__RedemptionRequest *request =
        (const Chuang__Finance__RedemptionRequest *)input;
    s_redemption_check(call, request);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    Chuang__Status status = s_redeemer(call, request);
    if (status != CHUANG__STATUS__OK)
        return status;
    PGconn *db = service_call_db(call);
    const char *agency = service_call_header(call)->agency;
    /* The voucher's row is locked from here: redemptions of one voucher
     * take turns, and each sees what the one before it left. */
    Chuang__Finance__Voucher *voucher = service_call_alloc(call, sizeof *voucher);
    chuang__finance__voucher__init(voucher);
    status =
        service_call_found(call, voucher_get(db, call, agency, request->voucher_id, true, voucher),
                           "read voucher", "no such voucher");
    if (status != CHUANG__STATUS__OK)
        return status;
    char id_text[24];
    snprintf(id_text, sizeof id_text, "%" PRId64, request->voucher_id);
    const char *values[2] = {agency, id_text};
    PGresult *res = service_call_query(call, "read the voucher's version",
                                       "SELECT v.version, p.fund FROM vouchers v JOIN programmes p"
                                       "   ON p.agency = v.agency AND p.code = v.programme"
                                       " WHERE v.agency = $1 AND v.id = $2::bigint",
                                       2, values, PGRES_TUPLES_OK, &status);
    if (!res)
        return status;
    int number = atoi(PQgetvalue(res, 0, 0));
    const char *fund = service_call_strdup(call, PQgetvalue(res, 0, 1));
    PQclear(res);
    Chuang__Finance__ProgrammeVersion *version = service_call_alloc(call, sizeof *version);
    chuang__finance__programme_version__init(version);
    if (programme_version(db, call, agency, voucher->programme, number, version) != 1)
        return service_call_sql_fail(call, NULL, "read the voucher's programme version");
    const char *today = "";
    status = service_call_today(call, &today);
    if (status == CHUANG__STATUS__OK)
        status = s_redeemable(call, request, voucher, version, today);
    if (status != CHUANG__STATUS__OK)
        return status;
    /* Redeemed: committed to the provider's payable. */
    char committed[96], payable[128], cause[40];
    snprintf(committed, sizeof committed, "%s:committed", fund);
    snprintf(payable, sizeof payable, "%s:payable:%s", fund, request->provider);
    snprintf(cause, sizeof cause, "voucher:%" PRId64, request->voucher_id);
    if (ledger_account_open(db, agency, fund, "payable", request->provider) != 0)
        return service_call_sql_fail(call, NULL, "open the provider's payable account");
    const char *by = service_call_recorded_by(call);
    char *memo = zsys_sprintf("invoice %s", request->invoice);
    const ledger_posting_t postings[2] = {{committed, request->amount_fen},
                                          {payable, -request->amount_fen}};
    const ledger_entry_t entry = {
        .kind = "redemption", .cause = cause, .memo = memo ? memo : "", .recorded_by = by};
    int64_t posted = ledger_post(db, agency, &entry, postings, 2);
    zstr_free(&memo);
    if (posted <= 0)
        return posted == 0 ? service_call_sql_fail(call, NULL, "redeem voucher")
                           : handlers_ledger_refused(call, posted, "redeem voucher");
    const voucher_redemption_t redemption = {request->voucher_id,
                                             request->provider,
                                             request->invoice,
                                             request->category,
                                             request->amount_fen,
                                             posted,
                                             by};
    int rc = voucher_redeem(db, agency, &redemption);
    if (rc == 0) /* the lock above makes this the database's own refusal */
        return service_call_violation(call, "amount_fen", "passes the voucher's remaining value");
    if (rc == VOUCHER_INVOICE_USED) {
        service_call_violation(call, "invoice", "was redeemed already: an invoice pays once");
        return service_call_fail(call, CHUANG__STATUS__ALREADY_EXISTS, "invoice redeemed",
                                 "The provider's invoice has paid for a redemption already.", NULL);
    }
    if (rc != 1)
        return service_call_sql_fail(call, NULL, "redeem voucher");
    return s_voucher_reply(call, request->voucher_id, "finance.VoucherRedeemed", output);
}

Chuang__Status handle_settle_provider(service_call_t *call, const ProtobufCMessage *input,
                                      ProtobufCMessage *output)
{
    const Chuang__Finance__SettlementRequest *request =
        (const Chuang__Finance__SettlementRequest *)input;
    if (!checks_code_valid(request->programme))
        service_call_violation(call, "programme", "must be a voucher programme's code");
    if (!checks_credit_code_shaped(request->provider))
        service_call_violation(call, "provider", "must be the provider's credit code");
    if (!checks_text_valid(request->document, true))
        service_call_violation(call, "document", "must name the payment order (1 to %d characters)",
                               CHECKS_TEXT_MAX);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    PGconn *db = service_call_db(call);
    const char *agency = service_call_header(call)->agency;
    char fund[64];
    Chuang__Status status = s_voucher_fund(call, request->programme, fund, sizeof fund);
    if (status != CHUANG__STATUS__OK)
        return status;
    int64_t total = 0;
    if (voucher_unsettled(db, agency, request->programme, request->provider, &total) != 0)
        return service_call_sql_fail(call, NULL, "read unsettled redemptions");
    if (total == 0)
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION, "nothing to settle",
                                 "The provider has no unsettled redemption of the programme's "
                                 "vouchers.",
                                 NULL);
    char payable[128], cash[96];
    snprintf(payable, sizeof payable, "%s:payable:%s", fund, request->provider);
    snprintf(cash, sizeof cash, "%s:cash", fund);
    const ledger_posting_t postings[2] = {{payable, total}, {cash, -total}};
    char *memo =
        zsys_sprintf("vouchers of %s redeemed by %s", request->programme, request->provider);
    const ledger_entry_t entry = {.kind = "settlement",
                                  .cause = request->document,
                                  .memo = memo ? memo : "",
                                  .recorded_by = service_call_recorded_by(call)};
    int64_t posted = ledger_post(db, agency, &entry, postings, 2);
    zstr_free(&memo);
    if (posted <= 0)
        return posted == 0 ? service_call_sql_fail(call, NULL, "settle provider")
                           : handlers_ledger_refused(call, posted, "settle provider");
    if (voucher_settle(db, agency, request->programme, request->provider, posted) < 1)
        return service_call_sql_fail(call, NULL, "settle provider");
    return handlers_posted(call, posted, output);
}

Chuang__Status handle_get_voucher_report(service_call_t *call, const ProtobufCMessage *input,
                                         ProtobufCMessage *output)
{
    const Chuang__Finance__VoucherReportRequest *request =
        (const Chuang__Finance__VoucherReportRequest *)input;
    if (!checks_code_valid(request->programme))
        return service_call_violation(call, "programme", "must be a voucher programme's code");
    char fund[64];
    Chuang__Status status = s_voucher_fund(call, request->programme, fund, sizeof fund);
    if (status != CHUANG__STATUS__OK)
        return status;
    int rc = voucher_report(service_call_db(call), call, service_call_header(call)->agency,
                            request->programme, (Chuang__Finance__VoucherReport *)output);
    return service_call_found(call, rc, "voucher report", "no such voucher programme");
}

Chuang__Status handle_list_providers(service_call_t *call, const ProtobufCMessage *input,
                                     ProtobufCMessage *output)
{
    const Chuang__Finance__ProviderListRequest *request =
        (const Chuang__Finance__ProviderListRequest *)input;
    static const char *const statuses[] = {"", "applied", "approved", "refused", "suspended", NULL};
    if (!checks_listed(statuses, request->status))
        service_call_violation(call, "status",
                               "must be applied, approved, refused, suspended or empty");
    service_page_t page;
    service_call_page(call, "providers", "i", request->limit, request->page_token, 50, 100, &page);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    int rc = voucher_provider_list(service_call_db(call), call, service_call_header(call)->agency,
                                   request->status, &page, (Chuang__Finance__ProviderList *)output);
    return rc < 0 ? service_call_sql_fail(call, NULL, "list providers") : CHUANG__STATUS__OK;
}

Chuang__Status handle_list_vouchers(service_call_t *call, const ProtobufCMessage *input,
                                    ProtobufCMessage *output)
{
    const Chuang__Finance__VoucherListRequest *request =
        (const Chuang__Finance__VoucherListRequest *)input;
    static const char *const statuses[] = {"", "issued", "used", "expired", NULL};
    if (!checks_code_valid(request->programme))
        service_call_violation(call, "programme", "must be a voucher programme's code");
    if (!checks_listed(statuses, request->status))
        service_call_violation(call, "status", "must be issued, used, expired or empty");
    service_page_t page;
    service_call_page(call, "vouchers", "i", request->limit, request->page_token, 50, 100, &page);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    int rc = voucher_list(service_call_db(call), call, service_call_header(call)->agency,
                          request->programme, request->status, &page,
                          (Chuang__Finance__VoucherList *)output);
    return rc < 0 ? service_call_sql_fail(call, NULL, "list vouchers") : CHUANG__STATUS__OK;
}
