/*
 * main.c - the finance service (科技金融): wires its methods to their
 * handlers and runs them on the service framework.
 *
 *   chuang-finance [-c FILE]
 *
 * It follows the registry's stream (consume.registry.stream, service.h)
 * for the facts of entities, and the other agencies' finance streams its
 * feed imports (consume.awards.imports) for their awards, and the
 * incubator's (consume.incubator.stream) for the graduations that open
 * incubation subsidies.
 */
#include "awards.h"
#include "facts.h"
#include "finance.pb-c.h"
#include "handlers.h"
#include "incubations.h"
#include "jobs.h"

/* Who may call what: the agency's finance officers keep the books (create
 * funds, appropriate, reverse) and define and revise programmes; any
 * officer of the agency and its auditors read the books and the programmes
 * about to lapse and what finance knows of entities, check an entity's
 * eligibility and take applications at the window (an applicant's own
 * online application waits for the gateway); reviewers review for the
 * department whose reviewer-<department> role they hold; finance officers
 * pay awards; officers, reviewers and auditors read an entity's awards at
 * every level; the lending bank (role bank) records its approval, the
 * disbursement and repayments of guarantee loans, and finance officers
 * declare a default on its report, compensate it from the guarantee fund
 * and top up and use the bad-debt reserve; a service provider (role
 * provider) registers itself for innovation vouchers, or an officer
 * registers it at the window, finance officers approve it, and it redeems
 * vouchers with its own key (finance officers may record a redemption for
 * it) and reads its own registration; finance officers settle what
 * providers redeemed; any officer proposes an entity for the pre-listing
 * pool, finance officers decide on it and record its stages, and
 * officers and auditors read the pool; a fund manager (role investor)
 * files its angel or venture fund with its own key (or an officer at the
 * window), finance officers record it, and the manager reports its
 * investments and reads its own funds; officers and auditors read the
 * year's investment statistics; a bank publishes its loan products,
 * reads the needs that fit them and records its responses (finance
 * officers may act for it), officers publish entities' financing needs,
 * read the products that fit them, record matchmaking meetings and read a
 * bank's lending and record entities' competition placings and
 * recognitions; a programme in force is public policy, open to
 * anyone, and anyone may object to an application on public notice. */
static const service_method_t s_methods[] = {
    {"CreateFund", handle_create_fund, SERVICE_METHOD_WRITE, "finance-officer"},
    {"Appropriate", handle_appropriate, SERVICE_METHOD_WRITE, "finance-officer"},
    {"ReverseEntry", handle_reverse_entry, SERVICE_METHOD_WRITE, "finance-officer"},
    {"GetEntry", handle_get_entry, SERVICE_METHOD_READ, "officer,finance-officer,auditor"},
    {"GetFund", handle_get_fund, SERVICE_METHOD_READ, "officer,finance-officer,auditor"},
    {"GetTrialBalance", handle_get_trial_balance, SERVICE_METHOD_READ,
     "officer,finance-officer,auditor"},
    {"GetAccountStatement", handle_get_account_statement, SERVICE_METHOD_READ,
     "officer,finance-officer,auditor"},
    {"DefineProgramme", handle_define_programme, SERVICE_METHOD_WRITE, "finance-officer"},
    {"ReviseProgramme", handle_revise_programme, SERVICE_METHOD_WRITE, "finance-officer"},
    {"GetProgramme", handle_get_programme, SERVICE_METHOD_READ, SERVICE_PUBLIC},
    {"ListLapsingProgrammes", handle_list_lapsing_programmes, SERVICE_METHOD_READ,
     "officer,finance-officer,auditor"},
    {"GetEntityFacts", handle_get_entity_facts, SERVICE_METHOD_READ,
     "officer,finance-officer,auditor"},
    {"CheckEligibility", handle_check_eligibility, SERVICE_METHOD_READ, "officer,finance-officer"},
    {"CreateApplication", handle_create_application, SERVICE_METHOD_WRITE,
     "officer,finance-officer"},
    {"SubmitApplication", handle_submit_application, SERVICE_METHOD_WRITE,
     "officer,finance-officer"},
    {"WithdrawApplication", handle_withdraw_application, SERVICE_METHOD_WRITE,
     "officer,finance-officer"},
    {"GetApplication", handle_get_application, SERVICE_METHOD_READ,
     "officer,finance-officer,auditor"},
    {"ReviewApplication", handle_review_application, SERVICE_METHOD_WRITE, "reviewer"},
    {"ObjectToApplication", handle_object_to_application, SERVICE_METHOD_WRITE, SERVICE_PUBLIC},
    {"PayAward", handle_pay_award, SERVICE_METHOD_WRITE, "finance-officer"},
    {"ListOverdueApplications", handle_list_overdue_applications, SERVICE_METHOD_READ,
     "officer,finance-officer,reviewer"},
    {"ListAwards", handle_list_awards, SERVICE_METHOD_READ,
     "officer,finance-officer,reviewer,auditor"},
    {"GetLoan", handle_get_loan, SERVICE_METHOD_READ, "officer,finance-officer,auditor,bank"},
    {"RecordBankApproval", handle_record_bank_approval, SERVICE_METHOD_WRITE,
     "finance-officer,bank"},
    {"DisburseLoan", handle_disburse_loan, SERVICE_METHOD_WRITE, "finance-officer,bank"},
    {"RecordRepayment", handle_record_repayment, SERVICE_METHOD_WRITE, "finance-officer,bank"},
    {"DeclareDefault", handle_declare_default, SERVICE_METHOD_WRITE, "finance-officer"},
    {"CompensateLoan", handle_compensate_loan, SERVICE_METHOD_WRITE, "finance-officer"},
    {"TopUpReserve", handle_top_up_reserve, SERVICE_METHOD_WRITE, "finance-officer"},
    {"RefillFromReserve", handle_refill_from_reserve, SERVICE_METHOD_WRITE, "finance-officer"},
    {"GetLoanReport", handle_get_loan_report, SERVICE_METHOD_READ,
     "officer,finance-officer,auditor"},
    {"GetProgrammeStatistics", handle_get_programme_statistics, SERVICE_METHOD_READ,
     "officer,finance-officer,auditor"},
    {"RegisterProvider", handle_register_provider, SERVICE_METHOD_WRITE,
     "officer,finance-officer,provider"},
    {"DecideProvider", handle_decide_provider, SERVICE_METHOD_WRITE, "finance-officer"},
    {"GetProvider", handle_get_provider, SERVICE_METHOD_READ,
     "officer,finance-officer,auditor,provider"},
    {"GetVoucher", handle_get_voucher, SERVICE_METHOD_READ, "officer,finance-officer,auditor"},
    {"RedeemVoucher", handle_redeem_voucher, SERVICE_METHOD_WRITE, "finance-officer,provider"},
    {"SettleProvider", handle_settle_provider, SERVICE_METHOD_WRITE, "finance-officer"},
    {"GetVoucherReport", handle_get_voucher_report, SERVICE_METHOD_READ,
     "officer,finance-officer,auditor"},
    {"ProposeForPool", handle_propose_for_pool, SERVICE_METHOD_WRITE, "officer,finance-officer"},
    {"DecidePoolEntry", handle_decide_pool_entry, SERVICE_METHOD_WRITE, "finance-officer"},
    {"RecordListingStage", handle_record_listing_stage, SERVICE_METHOD_WRITE, "finance-officer"},
    {"GetPoolEntry", handle_get_pool_entry, SERVICE_METHOD_READ, "officer,finance-officer,auditor"},
    {"ListPool", handle_list_pool, SERVICE_METHOD_READ, "officer,finance-officer,auditor"},
    {"FileInvestmentFund", handle_file_investment_fund, SERVICE_METHOD_WRITE,
     "officer,finance-officer,investor"},
    {"DecideInvestmentFund", handle_decide_investment_fund, SERVICE_METHOD_WRITE,
     "finance-officer"},
    {"GetInvestmentFund", handle_get_investment_fund, SERVICE_METHOD_READ,
     "officer,finance-officer,auditor,investor"},
    {"ReportInvestment", handle_report_investment, SERVICE_METHOD_WRITE,
     "finance-officer,investor"},
    {"GetInvestmentStatistics", handle_get_investment_statistics, SERVICE_METHOD_READ,
     "officer,finance-officer,auditor"},
    {"PublishLoanProduct", handle_publish_loan_product, SERVICE_METHOD_WRITE,
     "finance-officer,bank"},
    {"PublishFinancingNeed", handle_publish_financing_need, SERVICE_METHOD_WRITE,
     "officer,finance-officer"},
    {"MatchNeed", handle_match_need, SERVICE_METHOD_READ, "officer,finance-officer"},
    {"MatchProduct", handle_match_product, SERVICE_METHOD_READ, "officer,finance-officer,bank"},
    {"RecordMatchResponse", handle_record_match_response, SERVICE_METHOD_WRITE,
     "finance-officer,bank"},
    {"ScheduleMeeting", handle_schedule_meeting, SERVICE_METHOD_WRITE, "officer,finance-officer"},
    {"GetBankLending", handle_get_bank_lending, SERVICE_METHOD_READ,
     "officer,finance-officer,auditor"},
    {"RecordRecognition", handle_record_recognition, SERVICE_METHOD_WRITE,
     "officer,finance-officer"},
    {"ListProviders", handle_list_providers, SERVICE_METHOD_READ,
     "officer,finance-officer,auditor"},
    {"ListVouchers", handle_list_vouchers, SERVICE_METHOD_READ, "officer,finance-officer,auditor"},
    {NULL, NULL, 0, NULL},
};

/* The events finance keeps facts from: the registry's, the awards of the
 * agencies above and below, from the copies of their finance streams this
 * agency's feed imports (consume.awards.imports; none by default), and
 * the incubator's graduations. */
static const service_consumer_t s_consumers[] = {
    {"registry", "chuang:registry:events", facts_apply, NULL, NULL},
    {"awards", NULL, awards_apply, NULL, NULL},
    {"incubator", "chuang:incubator:events", incubations_apply, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    const service_def_t def = {
        .name = "finance",
        .descriptor = &chuang__finance__finance__descriptor,
        .methods = s_methods,
        .bounds = finance_bounds,
        .sql_dir = FINANCE_SQL_DIR,
        .consumers = s_consumers,
        .jobs = finance_jobs,
    };
    return service_main(argc, argv, &def);
}
