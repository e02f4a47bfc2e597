-- Officers are told what waits for them: a recipient may hold roles, and
-- role_routes names the role that hears of each event type (a prefix).
ALTER TABLE recipients ADD COLUMN roles text[] NOT NULL DEFAULT '{}';

CREATE TABLE role_routes (
    event_type text NOT NULL,   -- a prefix of event types
    role       text NOT NULL,
    PRIMARY KEY (event_type, role)
);
INSERT INTO role_routes (event_type, role) VALUES
    ('registry.DeregistrationObjected', 'registry-officer'),
    ('registry.DeregistrationNoticed', 'registry-officer');

INSERT INTO templates (agency, event_type, language, subject, body) VALUES
    ('', 'registry.DeregistrationObjected', 'zh-CN', '简易注销收到异议：{{creditCode}}',
     '{{creditCode}} 的简易注销公告期内收到异议（共 {{objections}} 件），请在公告期满后处理。'),
    ('', 'registry.DeregistrationObjected', 'en', 'Objection to a deregistration: {{creditCode}}',
     'The simplified deregistration of {{creditCode}} has {{objections}} objection(s).'),
    ('', 'registry.DeregistrationNoticed', 'zh-CN', '简易注销公告：{{creditCode}}',
     '{{creditCode}} 已申请简易注销，进入公告期。'),
    ('', 'registry.DeregistrationNoticed', 'en', 'Deregistration notice: {{creditCode}}',
     '{{creditCode}} applied for simplified deregistration; the public notice has begun.');
