-- Bank–enterprise matching (银企对接). Banks publish loan products (an
-- amount range, a term range, a rate range, the industries and stages they
-- lend to, the security they take); entities publish financing needs.
-- Matching lists the products that fit a need and the needs that fit a
-- product, ranked, with each criterion's result shown (the SQL that
-- decides is finance_match, used both ways). A bank records its responses
-- to a need (contacted, approved, declined with the reason, lent with the
-- amount): a loan lent is the entity's first loan if it is (entity_firsts)
-- and counts towards the bank's lending in the year (the condition fact
-- lending_fen of a lending-reward programme). Matchmaking meetings
-- (银企交流会, 项目推介会) are held with banks and entities taking part.
CREATE TABLE loan_products (
    id               bigserial PRIMARY KEY,
    agency           text NOT NULL,
    bank             text NOT NULL,           -- e.g. 江苏银行镇江分行
    bank_credit_code text NOT NULL,           -- the lending branch's
    bank_principal   text NOT NULL,           -- the key that published it
    name             text NOT NULL,           -- e.g. 苏科贷
    amount_min_fen   bigint NOT NULL CHECK (amount_min_fen > 0),
    amount_max_fen   bigint NOT NULL,
    term_min_months  int NOT NULL CHECK (term_min_months > 0),
    term_max_months  int NOT NULL,
    rate_min_bp      int NOT NULL CHECK (rate_min_bp > 0),
    rate_max_bp      int NOT NULL,
    industries       text[] NOT NULL DEFAULT '{}', -- GB/T 4754 prefixes; none: any
    stages           text[] NOT NULL DEFAULT '{}', -- startup, growth, mature; none: any
    security         text[] NOT NULL CHECK (cardinality(security) >= 1), -- what it takes
    status           text NOT NULL DEFAULT 'published' CHECK (status IN ('published', 'withdrawn')),
    published_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT product_ranges CHECK (amount_max_fen >= amount_min_fen
                                     AND term_max_months >= term_min_months
                                     AND rate_max_bp >= rate_min_bp)
);

CREATE TABLE financing_needs (
    id            bigserial PRIMARY KEY,
    agency        text NOT NULL,
    credit_code   text NOT NULL,
    amount_fen    bigint NOT NULL CHECK (amount_fen > 0),
    term_months   int NOT NULL CHECK (term_months > 0),
    max_rate_bp   int NOT NULL CHECK (max_rate_bp > 0),
    stage         text NOT NULL CHECK (stage IN ('startup', 'growth', 'mature')),
    security      text[] NOT NULL CHECK (cardinality(security) >= 1), -- what it can offer
    purpose       text NOT NULL,
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'met', 'closed')),
    published_by  text NOT NULL,
    published_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX financing_needs_open ON financing_needs (agency) WHERE status = 'open';

-- Every response a bank records to a need for one of its products, in
-- order; never changed.
CREATE TABLE match_responses (
    id           bigserial PRIMARY KEY,
    agency       text NOT NULL,
    need_id      bigint NOT NULL REFERENCES financing_needs (id),
    product_id   bigint NOT NULL REFERENCES loan_products (id),
    response     text NOT NULL CHECK (response IN ('contacted', 'approved', 'declined', 'lent')),
    reason       text NOT NULL DEFAULT '',
    amount_fen   bigint NOT NULL DEFAULT 0 CHECK (amount_fen >= 0),
    responded_on date NOT NULL,
    recorded_by  text NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT response_lent CHECK ((response = 'lent') = (amount_fen > 0)),
    CONSTRAINT response_declined CHECK (response <> 'declined' OR reason <> '')
);
CREATE INDEX match_responses_need ON match_responses (need_id, id);
CREATE TRIGGER match_responses_immutable BEFORE UPDATE OR DELETE ON match_responses
    FOR EACH ROW EXECUTE FUNCTION finance_immutable();

CREATE FUNCTION finance_first_lent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.response = 'lent' THEN
        PERFORM finance_first(n.credit_code, 'loan', NEW.responded_on, NEW.agency,
                              'match:' || NEW.id)
            FROM financing_needs n WHERE n.id = NEW.need_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER match_responses_first AFTER INSERT ON match_responses
    FOR EACH ROW EXECUTE FUNCTION finance_first_lent();

CREATE TABLE meetings (
    id         bigserial PRIMARY KEY,
    agency     text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('bank_enterprise', 'project_promotion')),
    title      text NOT NULL,
    held_on    date NOT NULL,
    place      text NOT NULL,
    recorded_by text NOT NULL
);
CREATE TABLE meeting_participants (
    meeting_id  bigint NOT NULL REFERENCES meetings (id),
    role        text NOT NULL CHECK (role IN ('bank', 'entity')),
    credit_code text NOT NULL,
    name        text NOT NULL,
    PRIMARY KEY (meeting_id, credit_code)
);

-- How need fits product, criterion by criterion. The amount and the term
-- must fit for the product to be listed at all; the others rank it.
CREATE FUNCTION finance_match(n financing_needs, p loan_products, industry text)
    RETURNS TABLE (amount_fits boolean, term_fits boolean, rate_fits boolean,
                   industry_fits boolean, stage_fits boolean, security_fits boolean)
    LANGUAGE sql STABLE AS $$
    SELECT n.amount_fen BETWEEN p.amount_min_fen AND p.amount_max_fen,
           n.term_months BETWEEN p.term_min_months AND p.term_max_months,
           p.rate_min_bp <= n.max_rate_bp,
           cardinality(p.industries) = 0
               OR EXISTS (SELECT 1 FROM unnest(p.industries) i WHERE starts_with(industry, i)),
           cardinality(p.stages) = 0 OR n.stage = ANY (p.stages),
           p.security && n.security
$$;
