-- The notify service: recipients and their channels, templates as data,
-- the inbox, and one row per delivery so that a restarted or emptied Redis
-- loses nothing (pending deliveries are queued again from here).

CREATE TABLE recipients (
    id             text PRIMARY KEY,
    email          text NOT NULL DEFAULT '',
    webhook_url    text NOT NULL DEFAULT '',
    webhook_secret text NOT NULL DEFAULT '',
    language       text NOT NULL DEFAULT 'zh-CN' CHECK (language IN ('zh-CN', 'en')),
    email_off      boolean NOT NULL DEFAULT false,
    webhook_off    boolean NOT NULL DEFAULT false,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Templates per agency ('' for every agency), event type and language;
-- {{field}} takes a field of the event's payload, {{a.b}} a nested one,
-- named as in the payload's JSON form (lowerCamelCase).
CREATE TABLE templates (
    agency     text NOT NULL DEFAULT '',
    event_type text NOT NULL,
    language   text NOT NULL,
    subject    text NOT NULL,
    body       text NOT NULL,
    PRIMARY KEY (agency, event_type, language)
);
INSERT INTO templates (agency, event_type, language, subject, body) VALUES
    ('', 'registry.NameReserved', 'zh-CN', '名称已预留：{{name}}',
     '您申请的企业名称“{{name}}”已预留，请在 {{expiresOn}} 前办理登记。'),
    ('', 'registry.NameReserved', 'en', 'Name reserved: {{name}}',
     'The name "{{name}}" is reserved for you until {{expiresOn}}.'),
    ('', 'registry.EntityRegistered', 'zh-CN', '营业执照已核发：{{name}}',
     '{{name}}已完成登记，统一社会信用代码：{{creditCode}}，登记日期：{{registeredOn}}。'),
    ('', 'registry.EntityRegistered', 'en', 'Business licence issued: {{name}}',
     '{{name}} is registered under the unified social credit code {{creditCode}} on {{registeredOn}}.');

CREATE TABLE inbox (
    id         bigserial PRIMARY KEY,
    recipient  text NOT NULL,
    event_id   uuid NOT NULL,
    event_type text NOT NULL,
    subject    text NOT NULL,
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    read_at    timestamptz,
    UNIQUE (event_id, recipient)
);
CREATE INDEX inbox_recipient ON inbox (recipient, id);

CREATE TABLE deliveries (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id        uuid NOT NULL,
    event_type      text NOT NULL,
    recipient       text NOT NULL,
    channel         text NOT NULL CHECK (channel IN ('inbox', 'email', 'webhook')),
    subject         text NOT NULL DEFAULT '',
    body            text NOT NULL DEFAULT '',
    event_json      text NOT NULL DEFAULT '{}',
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'failed', 'dead')),
    attempts        int NOT NULL DEFAULT 0,
    last_error      text NOT NULL DEFAULT '',
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, recipient, channel)
);
CREATE INDEX deliveries_pending ON deliveries (next_attempt_at) WHERE status = 'pending';
