-- Dated rules, in every service's schema (common/rules.h): the values that
-- change by year and by agency (periods, deadlines, day counts), each with
-- the period it is in force, whether it is on trial (试行) and the document
-- that set it. On a day, the rule of an agency is its own row that started
-- latest on or before that day, else the default's (agency ''); that row
-- must still be in force (effective_to on or after the day): a rule that
-- lapsed is not replaced by an older one or by the default, it is missing.
CREATE TABLE chuang_rules (
    agency         text NOT NULL DEFAULT '',
    name           text NOT NULL,
    effective_from date NOT NULL,
    effective_to   date,                   -- its last day; NULL: until replaced
    value          bigint NOT NULL,
    trial          boolean NOT NULL DEFAULT false,
    document       text NOT NULL DEFAULT '', -- e.g. 大府〔2015〕9号
    PRIMARY KEY (agency, name, effective_from),
    CONSTRAINT chuang_rules_period CHECK (effective_to IS NULL OR effective_to >= effective_from)
);

-- The row of rule name for agency that started latest on or before day,
-- in force or lapsed.
CREATE FUNCTION chuang_rule_latest(agency text, name text, day date) RETURNS SETOF chuang_rules
    LANGUAGE sql STABLE AS $$
    SELECT * FROM chuang_rules r
    WHERE r.name = $2 AND r.agency IN ($1, '') AND r.effective_from <= $3
    ORDER BY r.agency = $1 DESC, r.effective_from DESC LIMIT 1
$$;

-- The row of rule name in force for agency on day (see above), or none.
CREATE FUNCTION chuang_rule_row(agency text, name text, day date) RETURNS SETOF chuang_rules
    LANGUAGE sql STABLE AS $$
    SELECT * FROM chuang_rule_latest($1, $2, $3) r
    WHERE r.effective_to IS NULL OR r.effective_to >= $3
$$;

-- Its value, or NULL.
CREATE FUNCTION chuang_rule(agency text, name text, day date) RETURNS bigint
    LANGUAGE sql STABLE AS $$
    SELECT value FROM chuang_rule_row($1, $2, $3)
$$;
