/*
 * handlers.h - the finance service's request handlers, one file per
 * aggregate (handlers_ledger.c: funds and their books;
 * handlers_programmes.c: programmes and their versions; handlers_facts.c:
 * entities' facts and eligibility; handlers_applications.c: applications;
 * handlers_awards.c: the cross-level award register; handlers_loans.c:
 * guarantee loans; handlers_vouchers.c: innovation vouchers and their
 * service providers; handlers_pool.c: the pre-listing pool;
 * handlers_investments.c: angel and venture funds; handlers_matching.c:
 * bank–enterprise matching; handlers_recognitions.c: competition placings
 * and recognitions), and its field
 * maxima for the framework.
 */
#ifndef FINANCE_HANDLERS_H
#define FINANCE_HANDLERS_H

#include "service.h"

extern const bounds_t finance_bounds[];

service_handler_fn handle_create_fund;
service_handler_fn handle_appropriate;
service_handler_fn handle_reverse_entry;
service_handler_fn handle_get_entry;
service_handler_fn handle_get_fund;
service_handler_fn handle_get_trial_balance;
service_handler_fn handle_get_account_statement;
service_handler_fn handle_define_programme;
service_handler_fn handle_revise_programme;
service_handler_fn handle_get_programme;
service_handler_fn handle_list_lapsing_programmes;
service_handler_fn handle_get_entity_facts;
service_handler_fn handle_check_eligibility;
service_handler_fn handle_create_application;
service_handler_fn handle_submit_application;
service_handler_fn handle_withdraw_application;
service_handler_fn handle_get_application;
service_handler_fn handle_review_application;
service_handler_fn handle_object_to_application;
service_handler_fn handle_pay_award;
service_handler_fn handle_list_overdue_applications;
service_handler_fn handle_list_awards;
service_handler_fn handle_get_loan;
service_handler_fn handle_record_bank_approval;
service_handler_fn handle_disburse_loan;
service_handler_fn handle_record_repayment;
service_handler_fn handle_declare_default;
service_handler_fn handle_compensate_loan;
service_handler_fn handle_top_up_reserve;
service_handler_fn handle_refill_from_reserve;
service_handler_fn handle_get_loan_report;
service_handler_fn handle_get_programme_statistics;
service_handler_fn handle_register_provider;
service_handler_fn handle_decide_provider;
service_handler_fn handle_get_provider;
service_handler_fn handle_get_voucher;
service_handler_fn handle_redeem_voucher;
service_handler_fn handle_settle_provider;
service_handler_fn handle_get_voucher_report;
service_handler_fn handle_propose_for_pool;
service_handler_fn handle_decide_pool_entry;
service_handler_fn handle_record_listing_stage;
service_handler_fn handle_get_pool_entry;
service_handler_fn handle_list_pool;
service_handler_fn handle_file_investment_fund;
service_handler_fn handle_decide_investment_fund;
service_handler_fn handle_get_investment_fund;
service_handler_fn handle_report_investment;
service_handler_fn handle_get_investment_statistics;
service_handler_fn handle_publish_loan_product;
service_handler_fn handle_publish_financing_need;
service_handler_fn handle_match_need;
service_handler_fn handle_match_product;
service_handler_fn handle_record_match_response;
service_handler_fn handle_schedule_meeting;
service_handler_fn handle_get_bank_lending;
service_handler_fn handle_record_recognition;
service_handler_fn handle_list_providers;
service_handler_fn handle_list_vouchers;

#endif
