-- Credit lists, annual reports and simplified deregistration.

-- The durations of these procedures are dated rules too (see rules):
--   deregistration_notice_seconds  the public-notice period of a simplified
--                                  deregistration (20 days by default)
--   annual_report_due_seconds      how long after 1 January of the next year
--                                  an annual report is due (to 30 June)
INSERT INTO rules (agency, name, effective_from, value) VALUES
    ('', 'deregistration_notice_seconds', DATE '2000-01-01', 20 * 86400),
    ('', 'annual_report_due_seconds', DATE '2000-01-01', 181 * 86400);

-- Abnormal operations (经营异常名录) and serious violations (严重违法失信名单):
-- one row per listing; removed_at set when the entity leaves the list.
CREATE TABLE credit_listings (
    id            bigserial PRIMARY KEY,
    credit_code   text NOT NULL REFERENCES entities (credit_code),
    list          text NOT NULL CHECK (list IN ('abnormal', 'dishonest')),
    reason        text NOT NULL,
    authority     text NOT NULL,           -- deciding authority
    listed_at     timestamptz NOT NULL DEFAULT now(),
    removed_at    timestamptz,
    removal_reason text
);
-- At most one open listing per entity and list.
CREATE UNIQUE INDEX credit_listings_open ON credit_listings (credit_code, list)
    WHERE removed_at IS NULL;

CREATE TABLE annual_reports (
    credit_code  text NOT NULL REFERENCES entities (credit_code),
    year         int NOT NULL,
    employees    int NOT NULL CHECK (employees >= 0),
    revenue_fen  bigint NOT NULL CHECK (revenue_fen >= 0),
    filed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (credit_code, year)
);

-- The scheduled check that lists entities without the report of a year.
CREATE TABLE annual_report_checks (
    year     int PRIMARY KEY,
    done_at  timestamptz NOT NULL DEFAULT now(),
    listed   int NOT NULL
);

CREATE TABLE deregistrations (
    credit_code      text PRIMARY KEY REFERENCES entities (credit_code),
    applied_at       timestamptz NOT NULL DEFAULT now(),
    notice_ends_at   timestamptz NOT NULL,
    status           text NOT NULL DEFAULT 'noticed'
                     CHECK (status IN ('noticed', 'rejected', 'deregistered')),
    decided_at       timestamptz
);

CREATE TABLE deregistration_objections (
    id           bigserial PRIMARY KEY,
    credit_code  text NOT NULL REFERENCES deregistrations (credit_code),
    objector     text NOT NULL,
    reason       text NOT NULL,
    made_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX entities_status ON entities (status);
