-- Carriers' yearly figures, reported and checked; evaluation schemes as
-- dated data, scored on read; targets of responsible units with their
-- half-yearly progress (handlers_evaluation.c).
CREATE TABLE carrier_years (
    agency        text NOT NULL,
    carrier       text NOT NULL,
    year          int NOT NULL,
    tenants       bigint NOT NULL CHECK (tenants >= 0),
    graduates     bigint NOT NULL CHECK (graduates >= 0),
    jobs          bigint NOT NULL CHECK (jobs >= 0),
    patents       bigint NOT NULL CHECK (patents >= 0),
    financing_fen bigint NOT NULL CHECK (financing_fen >= 0),
    revenue_fen   bigint NOT NULL CHECK (revenue_fen >= 0),
    events        bigint NOT NULL CHECK (events >= 0),
    mentor_hours  bigint NOT NULL CHECK (mentor_hours >= 0),
    status        text NOT NULL CHECK (status IN ('reported', 'checked')),
    reported_by   text NOT NULL,
    checked_by    text NOT NULL DEFAULT '',
    PRIMARY KEY (agency, carrier, year),
    FOREIGN KEY (agency, carrier) REFERENCES carriers (agency, code)
);

-- A scheme is in force from its day until the next one's.
CREATE TABLE evaluation_criteria (
    agency         text NOT NULL,
    effective_from date NOT NULL,
    metric         text NOT NULL CHECK (metric IN ('tenants', 'graduates', 'jobs', 'patents',
                       'financing_fen', 'revenue_fen', 'events', 'mentor_hours')),
    weight_bp      bigint NOT NULL CHECK (weight_bp BETWEEN 1 AND 10000),
    full_at        bigint NOT NULL CHECK (full_at > 0),
    document       text NOT NULL,
    recorded_by    text NOT NULL,
    PRIMARY KEY (agency, effective_from, metric)
);

-- A figure of a carrier's year, by the metric's name.
CREATE FUNCTION incubator_metric(y carrier_years, metric text) RETURNS bigint
    LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE $2 WHEN 'tenants' THEN y.tenants WHEN 'graduates' THEN y.graduates
        WHEN 'jobs' THEN y.jobs WHEN 'patents' THEN y.patents
        WHEN 'financing_fen' THEN y.financing_fen WHEN 'revenue_fen' THEN y.revenue_fen
        WHEN 'events' THEN y.events WHEN 'mentor_hours' THEN y.mentor_hours END
$$;

CREATE TABLE targets (
    id          bigserial PRIMARY KEY,
    agency      text NOT NULL,
    unit        text NOT NULL,
    indicator   text NOT NULL,
    year        int NOT NULL,
    target      bigint NOT NULL CHECK (target > 0),
    first_half  bigint NOT NULL DEFAULT 0 CHECK (first_half >= 0),
    second_half bigint NOT NULL DEFAULT 0 CHECK (second_half >= 0),
    recorded_by text NOT NULL,
    UNIQUE (agency, unit, indicator, year)
);
