-- The cross-level award register (never paid twice): every award this
-- agency makes, registered in the transaction that makes it, and every
-- award of the agencies above and below whose finance streams this
-- agency's feed imports (awards.c, a consumer of those copies). Rows are
-- facts of other decisions: never changed, never removed.
--
-- A recipient is an entity (its credit code) or a person (their resident
-- ID number, which an importing agency receives only when its feed grants
-- it personal data).
CREATE TABLE award_register (
    seq             bigserial UNIQUE,       -- the order this register learnt them in
    origin          text NOT NULL,          -- the awarding agency
    award           text NOT NULL,          -- its id there, e.g. application:12
    level           text NOT NULL CHECK (level IN ('town', 'district', 'city', 'province',
                                                   'national')),
    recipient_kind  text NOT NULL CHECK (recipient_kind IN ('entity', 'person')),
    recipient       text NOT NULL,
    kind            text NOT NULL,          -- the awarding programme's kind
    programme       text NOT NULL,          -- its code at the awarding agency
    subject         text NOT NULL DEFAULT '', -- what it is for, e.g. a loan contract's number
    amount_fen      bigint NOT NULL CHECK (amount_fen > 0),
    awarded_on      date NOT NULL,          -- the awarding agency's day
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (origin, award)
);
CREATE INDEX award_register_recipient ON award_register (recipient, kind, awarded_on);
CREATE TRIGGER award_register_immutable BEFORE UPDATE OR DELETE ON award_register
    FOR EACH ROW EXECUTE FUNCTION finance_immutable();

-- A programme version's rules over the register, tested with its
-- conditions:
--   exclude  nothing is awarded when the register holds an award of kind
--            ('' the programme's own) at one of levels for the same
--            subject (any_subject: for anything)
--   top_up   the award is at most ratio_bp of the highest such award, and
--            nothing without one
--   cap      the awards of kind ('' every kind) at levels within
--            window_days before the day, with this one, stay within
--            cap_fen (as a de minimis register: over the cap, nothing)
-- levels empty: those above the programme's own (cap: every level);
-- window_days 0: all time (cap: required).
CREATE TABLE programme_award_rules (
    agency       text NOT NULL,
    programme    text NOT NULL,
    version      int NOT NULL,
    position     int NOT NULL,
    rule         text NOT NULL CHECK (rule IN ('exclude', 'top_up', 'cap')),
    kind         text NOT NULL DEFAULT '',
    levels       text[] NOT NULL DEFAULT '{}'
                 CHECK (levels <@ ARRAY['town', 'district', 'city', 'province', 'national']),
    any_subject  boolean NOT NULL DEFAULT false,
    ratio_bp     bigint NOT NULL DEFAULT 0 CHECK (ratio_bp >= 0),
    cap_fen      bigint NOT NULL DEFAULT 0 CHECK (cap_fen >= 0),
    window_days  int NOT NULL DEFAULT 0 CHECK (window_days >= 0),
    PRIMARY KEY (agency, programme, version, position),
    FOREIGN KEY (agency, programme, version) REFERENCES programme_versions,
    CONSTRAINT award_rule_top_up CHECK (rule <> 'top_up' OR ratio_bp > 0),
    CONSTRAINT award_rule_cap CHECK (rule <> 'cap' OR (cap_fen > 0 AND window_days > 0))
);
CREATE TRIGGER programme_award_rules_immutable BEFORE UPDATE OR DELETE ON programme_award_rules
    FOR EACH ROW EXECUTE FUNCTION finance_immutable_version();

-- The levels above level, lowest first.
CREATE FUNCTION finance_levels_above(level text) RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(array_agg(l ORDER BY n), '{}')
    FROM unnest(ARRAY['town', 'district', 'city', 'province', 'national']) WITH ORDINALITY
        AS x (l, n)
    WHERE n > (SELECT n FROM unnest(ARRAY['town', 'district', 'city', 'province', 'national'])
                   WITH ORDINALITY AS y (l, n) WHERE y.l = $1)
$$;

-- Each award rule of a programme version tested for recipient, subject and
-- amount on day (the agency's day; NULL: today), by position: whether it
-- holds, what the register holds in words, the amount found (top_up: the
-- highest award; cap: the window's total) and, for a top_up rule, what it
-- allows: ratio_bp of the highest, rounded down to the fen. Only awards on
-- or before the day count.
CREATE FUNCTION finance_award_rules_check(agency text, programme text, version int,
                                          recipient text, subject text, day date,
                                          amount bigint)
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
                ELSE format('%s of %s (%s, %s): %s fen on %s', m.award, m.origin, m.level,
                            m.programme, m.amount_fen, m.awarded_on) END,
           CASE WHEN r.rule = 'cap' THEN t.total ELSE coalesce(m.amount_fen, 0) END,
           CASE WHEN r.rule = 'top_up'
                THEN floor(coalesce(m.amount_fen, 0)::numeric * r.ratio_bp / 10000)::bigint END
    FROM r
    LEFT JOIN LATERAL (
        SELECT a.* FROM award_register a
        WHERE a.recipient = $4 AND a.kind = r.kind AND a.level = ANY (r.levels)
          AND (r.any_subject OR a.subject = $5) AND a.awarded_on <= r.day
          AND (r.window_days = 0 OR a.awarded_on > r.day - r.window_days)
        ORDER BY a.amount_fen DESC, a.seq LIMIT 1) m ON r.rule <> 'cap'
    LEFT JOIN LATERAL (
        SELECT coalesce(sum(a.amount_fen), 0)::bigint AS total, count(*) AS n
        FROM award_register a
        WHERE a.recipient = $4 AND (r.kind IS NULL OR a.kind = r.kind)
          AND a.level = ANY (r.levels) AND a.awarded_on <= r.day
          AND a.awarded_on > r.day - r.window_days) t ON r.rule = 'cap'
    ORDER BY r.position
$$;
