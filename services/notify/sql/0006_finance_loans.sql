-- notify tells a borrowing entity of each step of its guarantee loan that
-- asks something of it: the guarantee granted, the bank's approval and the
-- disbursement, an instalment unpaid past its day, the default and the
-- guarantee fund's compensation to the bank (which it then owes).
INSERT INTO templates (agency, event_type, language, subject, body) VALUES
    ('', 'finance.LoanGuaranteed', 'zh-CN', '创业担保贷款已获担保：{{programme}}',
     '您的担保贷款申请已通过审核和公示，担保额度 {{guaranteedFen}} 分（贷款编号 {{id}}），请到贷款银行办理。'),
    ('', 'finance.LoanGuaranteed', 'en', 'Guarantee granted: {{programme}}',
     'Your guarantee loan application passed review and notice: up to {{guaranteedFen}} fen (loan {{id}}). See your bank.'),
    ('', 'finance.LoanBankApproved', 'zh-CN', '银行已审批贷款：{{programme}}',
     '{{bank}} 已批准您的贷款（合同 {{contract}}），金额 {{principalFen}} 分，期限 {{termMonths}} 个月。'),
    ('', 'finance.LoanBankApproved', 'en', 'Loan approved by the bank: {{programme}}',
     '{{bank}} approved your loan (contract {{contract}}) of {{principalFen}} fen for {{termMonths}} months.'),
    ('', 'finance.LoanDisbursed', 'zh-CN', '贷款已发放：{{programme}}',
     '合同 {{contract}} 的贷款已于 {{disbursedOn}} 发放，请按还款计划按月还款。'),
    ('', 'finance.LoanDisbursed', 'en', 'Loan disbursed: {{programme}}',
     'The loan of contract {{contract}} was disbursed on {{disbursedOn}}. Repay each month as scheduled.'),
    ('', 'finance.LoanOverdue', 'zh-CN', '贷款逾期：{{programme}}',
     '您的贷款（编号 {{id}}）有到期未还的款项，请尽快还款，以免被认定违约。'),
    ('', 'finance.LoanOverdue', 'en', 'Loan overdue: {{programme}}',
     'An instalment of your loan {{id}} is past its day and unpaid. Repay it soon to avoid a default.'),
    ('', 'finance.LoanDefaulted', 'zh-CN', '贷款已认定违约：{{programme}}',
     '您的贷款（编号 {{id}}）经银行报告已认定违约，担保基金将向银行代偿。'),
    ('', 'finance.LoanDefaulted', 'en', 'Loan in default: {{programme}}',
     'On the bank''s report your loan {{id}} is in default; the guarantee fund will repay the bank.'),
    ('', 'finance.LoanCompensated', 'zh-CN', '担保基金已代偿：{{programme}}',
     '担保基金已向银行代偿您的贷款 {{compensatedFen}} 分，该款项由您偿还给担保基金。'),
    ('', 'finance.LoanCompensated', 'en', 'Loan repaid to the bank by the guarantee fund: {{programme}}',
     'The guarantee fund repaid the bank {{compensatedFen}} fen of your loan; you owe it to the fund.');
