-- Interest subsidies (贴息) per repayment period, and the periods of awards.
--
-- An application to an interest_subsidy programme names the loan by its
-- bank contract number (its subject) and the period it claims for (from
-- and to, the agency's days, both included). Its subsidy is computed from
-- the instalments of that loan whose interest period (from its
-- period_from to the day before its due_on) lies within the claim and
-- which were repaid in full, each by the version's rule on the
-- reference rate in force on the period's first day:
--   rate_above_reference_bp  the actual interest, up to the reference
--                            rate plus this (大朗: 300)
--   reference_share_bp       this share of the reference rate's interest,
--                            never more than the actual (大朗: 5000)
-- on at most loan_cap_fen of the principal outstanding in the period, each
-- period to the nearest fen (half up). Awards carry their period into the
-- register, so that an exclude rule refuses only an overlapping period.
--
-- The reference rate is the dated rule loan_reference_rate_bp: the
-- People's Bank of China's one-year benchmark lending rate until the
-- one-year loan prime rate (LPR) replaced it on 2019-08-20, then the LPR,
-- each row with its announcement. An agency may keep its own rows.
ALTER TABLE applications
    ADD COLUMN period_from date,
    ADD COLUMN period_to date,
    ADD CONSTRAINT application_period CHECK ((period_from IS NULL) = (period_to IS NULL)
                                             AND (period_to IS NULL OR period_to >= period_from));
DROP INDEX applications_one_open;
-- One open application per programme, entity and subject, and for a
-- subject claimed by periods, one per period: overlapping periods are
-- refused when the application is made (applications.c).
CREATE UNIQUE INDEX applications_one_open
    ON applications (agency, programme, applicant, subject, coalesce(period_from, '-infinity'),
                     coalesce(period_to, '-infinity'))
    WHERE status NOT IN ('rejected', 'withdrawn');

ALTER TABLE award_register
    ADD COLUMN period_from date,
    ADD COLUMN period_to date;

INSERT INTO chuang_rules (agency, name, effective_from, value, document) VALUES
    ('', 'loan_reference_rate_bp', DATE '2014-11-22', 560, '一年期贷款基准利率'),
    ('', 'loan_reference_rate_bp', DATE '2015-03-01', 535, '一年期贷款基准利率'),
    ('', 'loan_reference_rate_bp', DATE '2015-05-11', 510, '一年期贷款基准利率'),
    ('', 'loan_reference_rate_bp', DATE '2015-06-28', 485, '一年期贷款基准利率'),
    ('', 'loan_reference_rate_bp', DATE '2015-08-26', 460, '一年期贷款基准利率'),
    ('', 'loan_reference_rate_bp', DATE '2015-10-24', 435, '一年期贷款基准利率'),
    ('', 'loan_reference_rate_bp', DATE '2019-08-20', 425, '一年期贷款市场报价利率（LPR）'),
    ('', 'loan_reference_rate_bp', DATE '2019-09-20', 420, '一年期 LPR'),
    ('', 'loan_reference_rate_bp', DATE '2019-11-20', 415, '一年期 LPR'),
    ('', 'loan_reference_rate_bp', DATE '2020-02-20', 405, '一年期 LPR'),
    ('', 'loan_reference_rate_bp', DATE '2020-04-20', 385, '一年期 LPR'),
    ('', 'loan_reference_rate_bp', DATE '2021-12-20', 380, '一年期 LPR'),
    ('', 'loan_reference_rate_bp', DATE '2022-01-20', 370, '一年期 LPR'),
    ('', 'loan_reference_rate_bp', DATE '2022-08-22', 365, '一年期 LPR'),
    ('', 'loan_reference_rate_bp', DATE '2023-06-20', 355, '一年期 LPR'),
    ('', 'loan_reference_rate_bp', DATE '2023-08-21', 345, '一年期 LPR'),
    ('', 'loan_reference_rate_bp', DATE '2024-07-22', 335, '一年期 LPR'),
    ('', 'loan_reference_rate_bp', DATE '2024-10-21', 310, '一年期 LPR'),
    ('', 'loan_reference_rate_bp', DATE '2025-05-20', 300, '一年期 LPR');

-- The subsidy of each instalment of agency's loan of contract to
-- borrower whose interest period lies within from .. to and which is
-- repaid in full, by version's rule (above): its number, period, the
-- reference rate, the principal subsidised and the subsidy.
CREATE FUNCTION finance_interest_subsidy(agency text, programme text, version int,
                                         borrower text, contract text, from_day date,
                                         to_day date)
    RETURNS TABLE (number int, period_from date, due_on date, reference_bp bigint,
                   base_fen bigint, interest_fen bigint, subsidy_fen bigint)
    LANGUAGE sql STABLE AS $$
    WITH v AS (
        SELECT (SELECT value FROM programme_parameters p WHERE p.agency = $1
                  AND p.programme = $2 AND p.version = $3 AND p.name = 'rate_above_reference_bp')
                   AS above,
               (SELECT value FROM programme_parameters p WHERE p.agency = $1
                  AND p.programme = $2 AND p.version = $3 AND p.name = 'reference_share_bp')
                   AS share,
               (SELECT value FROM programme_parameters p WHERE p.agency = $1
                  AND p.programme = $2 AND p.version = $3 AND p.name = 'loan_cap_fen') AS cap),
    i AS (
        SELECT i.number, i.period_from, i.due_on, i.interest_fen,
               chuang_rule($1, 'loan_reference_rate_bp', i.period_from) AS reference_bp,
               l.principal_fen - coalesce((SELECT sum(e.principal_fen) FROM loan_instalments e
                   WHERE e.loan_id = l.id AND e.number < i.number), 0) AS outstanding
        FROM loans l JOIN loan_instalments i ON i.loan_id = l.id
        WHERE l.agency = $1 AND l.borrower = $4 AND l.contract = $5
          AND i.period_from >= $6 AND i.due_on - 1 <= $7 AND i.paid_on IS NOT NULL),
    b AS (
        SELECT i.*, least(i.outstanding, coalesce(v.cap, i.outstanding)) AS base, v.above, v.share
        FROM i, v)
    SELECT b.number, b.period_from, b.due_on, b.reference_bp, b.base,
           round(b.interest_fen::numeric * b.base / nullif(b.outstanding, 0))::bigint,
           least(round(b.interest_fen::numeric * b.base / nullif(b.outstanding, 0)),
                 CASE WHEN b.above IS NOT NULL
                      THEN round(b.base::numeric * (b.reference_bp + b.above) / 120000)
                      WHEN b.share IS NOT NULL
                      THEN round(b.base::numeric * b.reference_bp * b.share / 1200000000)
                      ELSE 0 END)::bigint
    FROM b ORDER BY b.number
$$;

-- finance_award_rules_check, periods considered: an award with a period
-- counts against a claim with a period only when the two overlap.
DROP FUNCTION finance_award_rules_check(text, text, int, text, text, date, bigint);
CREATE FUNCTION finance_award_rules_check(agency text, programme text, version int,
                                          recipient text, subject text, day date,
                                          amount bigint, period_from date, period_to date)
    RETURNS TABLE (rule_position int, holds boolean, actual text, found_fen bigint,
                   allows_fen bigint)
    LANGUAGE sql STABLE AS $$
    WITH p AS (SELECT p.kind, p.level, coalesce($6, chuang_today($1)) AS day
               FROM programmes p WHERE p.agency = $1 AND p.code = $2),
    r AS (SELECT r.position, r.rule, r.any_subject, r.ratio_bp, r.cap_fen, r.window_days, p.day,
                 CASE WHEN cardinality(r.levels) > 0 THEN r.levels
                      WHEN r.rule = 'cap' THEN ARRAY['town', 'district', 'city', 'province',
                                                     'national']
                      ELSE finance_levels_above(p.level) END AS levels,
                 CASE WHEN r.kind <> '' THEN r.kind WHEN r.rule <> 'cap' THEN p.kind END AS kind
          FROM programme_award_rules r, p
          WHERE r.agency = $1 AND r.programme = $2 AND r.version = $3)
    SELECT r.position,
           CASE r.rule WHEN 'exclude' THEN m.award IS NULL
                       WHEN 'top_up' THEN m.award IS NOT NULL
                       ELSE t.total + $7 <= r.cap_fen END,
           CASE WHEN r.rule = 'cap'
                THEN format('%s fen in %s awards within %s days', t.total, t.n, r.window_days)
                WHEN m.award IS NULL THEN 'none'
                ELSE format('%s of %s (%s, %s): %s fen on %s%s', m.award, m.origin, m.level,
                            m.programme, m.amount_fen, m.awarded_on,
                            CASE WHEN m.period_from IS NOT NULL
                                 THEN format(' for %s to %s', m.period_from, m.period_to)
                                 ELSE '' END) END,
           CASE WHEN r.rule = 'cap' THEN t.total ELSE coalesce(m.amount_fen, 0) END,
           CASE WHEN r.rule = 'top_up'
                THEN floor(coalesce(m.amount_fen, 0)::numeric * r.ratio_bp / 10000)::bigint END
    FROM r
    LEFT JOIN LATERAL (
        SELECT a.* FROM award_register a
        WHERE a.recipient = $4 AND a.kind = r.kind AND a.level = ANY (r.levels)
          AND (r.any_subject OR a.subject = $5) AND a.awarded_on <= r.day
          AND (r.window_days = 0 OR a.awarded_on > r.day - r.window_days)
          AND (a.period_from IS NULL OR $8 IS NULL
               OR (a.period_from <= $9 AND a.period_to >= $8))
        ORDER BY a.amount_fen DESC, a.seq LIMIT 1) m ON r.rule <> 'cap'
    LEFT JOIN LATERAL (
        SELECT coalesce(sum(a.amount_fen), 0)::bigint AS total, count(*) AS n
        FROM award_register a
        WHERE a.recipient = $4 AND (r.kind IS NULL OR a.kind = r.kind)
          AND a.level = ANY (r.levels) AND a.awarded_on <= r.day
          AND a.awarded_on > r.day - r.window_days) t ON r.rule = 'cap'
    ORDER BY r.position
$$;
