-- notify follows finance's stream too (main.c): the entity that applied
-- hears of each step of its application that asks something of it or
-- decides it, and reviewers hear of what waits for them.
INSERT INTO templates (agency, event_type, language, subject, body) VALUES
    ('', 'finance.ApplicationSubmitted', 'zh-CN', '申请已受理：{{programme}}',
     '您对“{{programme}}”的申请（编号 {{id}}，金额 {{amountFen}} 分）已受理，进入审核。'),
    ('', 'finance.ApplicationSubmitted', 'en', 'Application accepted: {{programme}}',
     'Your application {{id}} to {{programme}} ({{amountFen}} fen) is under review.'),
    ('', 'finance.ApplicationNoticed', 'zh-CN', '申请进入公示：{{programme}}',
     '您的申请（编号 {{id}}）已通过审核，公示至 {{noticeEndsOn}}。'),
    ('', 'finance.ApplicationNoticed', 'en', 'Application on public notice: {{programme}}',
     'Your application {{id}} was approved and is on public notice until {{noticeEndsOn}}.'),
    ('', 'finance.ApplicationObjected', 'zh-CN', '申请收到异议：{{programme}}',
     '您的申请（编号 {{id}}）在公示期内收到异议，已退回审核。'),
    ('', 'finance.ApplicationObjected', 'en', 'Objection to your application: {{programme}}',
     'Your application {{id}} received an objection during its notice and is back under review.'),
    ('', 'finance.ApplicationRejected', 'zh-CN', '申请未通过：{{programme}}',
     '您的申请（编号 {{id}}）未通过审核。'),
    ('', 'finance.ApplicationRejected', 'en', 'Application rejected: {{programme}}',
     'Your application {{id}} was rejected.'),
    ('', 'finance.ApplicationAwarded', 'zh-CN', '资金已核定：{{programme}}',
     '您的申请（编号 {{id}}）公示期满无异议，核定金额 {{awardedFen}} 分。'),
    ('', 'finance.ApplicationAwarded', 'en', 'Award granted: {{programme}}',
     'Your application {{id}} was awarded {{awardedFen}} fen after its public notice.'),
    ('', 'finance.ApplicationWithdrawn', 'zh-CN', '申请已撤回：{{programme}}',
     '您的申请（编号 {{id}}）已撤回。'),
    ('', 'finance.ApplicationWithdrawn', 'en', 'Application withdrawn: {{programme}}',
     'Your application {{id}} was withdrawn.');

INSERT INTO role_routes (event_type, role) VALUES
    ('finance.ApplicationSubmitted', 'reviewer'),
    ('finance.ApplicationObjected', 'reviewer');
