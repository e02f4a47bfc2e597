-- The pre-listing pool (上市后备资源库). An officer proposes an entity
-- registered within the agency's area (its domicile's division under the
-- agency's) and tax-registered there (the competent tax authority and the
-- day, as the officer checked them), for a year; a finance officer admits
-- or declines it, within the year's quota (the rule
-- listing_pool_admissions_count: 岳塘 about 2 a year), and may recommend
-- an admitted entity on to the pool above (listing_pool_recommendations_count:
-- about 1 a year). The decisions of one pool's year take turns (an advisory
-- lock), so that two admissions at once never pass the quota.
--
-- An entity of the pool reaches stages (shareholding reform, counselling
-- filing, application accepted, listed or quoted), each recorded once with
-- its day and document. Each stage carries a reward: an application to a
-- listing_reward programme whose subject is the stage, after the entity
-- has reached it, of at most the version's <stage>_fen; the programme's
-- exclude rule over every level makes it paid once per stage per entity
-- across levels (the award register).
ALTER TABLE programmes DROP CONSTRAINT programmes_kind_check;
ALTER TABLE programmes ADD CONSTRAINT programmes_kind_check
    CHECK (kind IN ('special_fund', 'interest_subsidy', 'guarantee_loan', 'rent_subsidy', 'reward',
                    'voucher', 'matching', 'listing_reward'));

CREATE TABLE listing_pool (
    agency            text NOT NULL,
    credit_code       text NOT NULL,
    year              int NOT NULL CHECK (year BETWEEN 2000 AND 2200),
    name              text NOT NULL,
    tax_authority     text NOT NULL,         -- the competent tax authority in the agency
    tax_registered_on date NOT NULL,
    status            text NOT NULL DEFAULT 'proposed'
                      CHECK (status IN ('proposed', 'admitted', 'declined', 'recommended',
                                        'removed')),
    reason            text NOT NULL DEFAULT '',
    proposed_by       text NOT NULL,
    decided_by        text NOT NULL DEFAULT '',
    decided_on        date,
    recommended_on    date,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agency, credit_code, year)
);
-- An entity is in one year's proposal or in the pool once at a time.
CREATE UNIQUE INDEX listing_pool_one_entry ON listing_pool (agency, credit_code)
    WHERE status IN ('proposed', 'admitted', 'recommended');

CREATE TABLE listing_stages (
    agency       text NOT NULL,
    credit_code  text NOT NULL,
    stage        text NOT NULL CHECK (stage IN ('shareholding_reform', 'counselling_filing',
                                                'application_accepted', 'listed')),
    reached_on   date NOT NULL,
    document     text NOT NULL,            -- e.g. the regulator's acceptance notice
    recorded_by  text NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agency, credit_code, stage)
);
CREATE TRIGGER listing_stages_immutable BEFORE UPDATE OR DELETE ON listing_stages
    FOR EACH ROW EXECUTE FUNCTION finance_immutable();

INSERT INTO chuang_rules (agency, name, effective_from, value, document) VALUES
    ('', 'listing_pool_admissions_count', DATE '2000-01-01', 2, ''),
    ('', 'listing_pool_recommendations_count', DATE '2000-01-01', 1, '');

-- true when an entity domiciled in division lies within agency's area:
-- the agency's code without its trailing pairs of zeros starts it
-- (330106 a district, 330100 its city, 330000 the province).
CREATE FUNCTION finance_within(agency text, division text) RETURNS boolean
    LANGUAGE sql IMMUTABLE AS $$
    SELECT starts_with($2, regexp_replace($1, '(00)+$', ''))
$$;
