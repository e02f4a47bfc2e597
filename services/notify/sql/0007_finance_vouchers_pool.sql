-- notify tells an entity what finance part 2 decided for it: its
-- innovation voucher issued and expired, its registration as a voucher
-- service provider decided, its admission to the pre-listing pool.
INSERT INTO templates (agency, event_type, language, subject, body) VALUES
    ('', 'finance.VoucherIssued', 'zh-CN', '创新券已发放：{{programme}}',
     '您获得创新券一张（编号 {{id}}），面值 {{faceValueFen}} 分，自 {{issuedOn}} 起可向已备案的服务机构使用。'),
    ('', 'finance.VoucherIssued', 'en', 'Innovation voucher issued: {{programme}}',
     'You hold voucher {{id}} of {{faceValueFen}} fen from {{issuedOn}}, for services of approved providers.'),
    ('', 'finance.VoucherExpired', 'zh-CN', '创新券已到期：{{programme}}',
     '您的创新券（编号 {{id}}）已于 {{validTo}} 到期，未使用的 {{expiredFen}} 分已收回。'),
    ('', 'finance.VoucherExpired', 'en', 'Innovation voucher expired: {{programme}}',
     'Your voucher {{id}} expired on {{validTo}}; its unused {{expiredFen}} fen returned to the fund.'),
    ('', 'finance.ProviderDecided', 'zh-CN', '创新券服务机构备案结果：{{status}}',
     '您的服务机构备案（{{name}}）结果为 {{status}}。{{reason}}'),
    ('', 'finance.ProviderDecided', 'en', 'Voucher service provider registration: {{status}}',
     'Your registration as a service provider ({{name}}) is {{status}}. {{reason}}'),
    ('', 'finance.PoolEntryAdmitted', 'zh-CN', '已入选上市后备资源库（{{year}} 年度）',
     '{{name}} 已入选上市后备资源库，可按阶段申请上市奖励。'),
    ('', 'finance.PoolEntryAdmitted', 'en', 'Admitted to the pre-listing pool ({{year}})',
     '{{name}} is admitted to the pre-listing pool and may apply for each stage''s reward.');
