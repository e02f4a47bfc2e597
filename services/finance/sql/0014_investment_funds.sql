-- Angel and venture fund filing (天使投资、创业投资备案), the investments
-- the funds report in the agency's entities, and each entity's first
-- investment, first loan and first guarantee (首投、首贷、首保, as 镇江
-- tracks them).
--
-- A fund files (by its manager's own key, role investor, or at the window)
-- with its manager, its registration with the fund association, its size
-- in fen and the stages it invests in; a finance officer records or
-- refuses it, and may later deregister it. A recorded fund reports each
-- investment: the entity (domiciled in the agency's area), amount, day and
-- round. The firsts are kept by triggers whatever writes the rows: the
-- earliest investment reported, the earliest loan disbursed (a guarantee
-- loan, or a loan a bank reports lent), the earliest guarantee awarded.
ALTER TABLE entity_facts ADD COLUMN industry_code text NOT NULL DEFAULT '';

CREATE TABLE investment_funds (
    id                  bigserial PRIMARY KEY,
    agency              text NOT NULL,
    name                text NOT NULL,
    kind                text NOT NULL CHECK (kind IN ('angel', 'venture')),
    manager_credit_code text NOT NULL,
    manager_name        text NOT NULL,
    registration        text NOT NULL,     -- the fund association's filing code
    size_fen            bigint NOT NULL CHECK (size_fen > 0),
    stages              text[] NOT NULL CHECK (cardinality(stages) >= 1),
    principal           text NOT NULL DEFAULT '', -- the manager's client key
    status              text NOT NULL DEFAULT 'filed'
                        CHECK (status IN ('filed', 'recorded', 'refused', 'deregistered')),
    reason              text NOT NULL DEFAULT '',
    filed_by            text NOT NULL,
    filed_on            date NOT NULL,
    decided_by          text NOT NULL DEFAULT '',
    recorded_on         date,
    UNIQUE (agency, registration)
);

CREATE TABLE fund_investments (
    id           bigserial PRIMARY KEY,
    agency       text NOT NULL,
    fund_id      bigint NOT NULL REFERENCES investment_funds (id),
    credit_code  text NOT NULL,
    amount_fen   bigint NOT NULL CHECK (amount_fen > 0),
    invested_on  date NOT NULL,
    round        text NOT NULL CHECK (round IN ('seed', 'angel', 'pre_a', 'a', 'b', 'c',
                                                'later')),
    industry_code text NOT NULL,            -- the entity's, when reported
    recorded_by  text NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (fund_id, credit_code, round)
);
CREATE INDEX fund_investments_year ON fund_investments (agency, invested_on);
CREATE TRIGGER fund_investments_immutable BEFORE UPDATE OR DELETE ON fund_investments
    FOR EACH ROW EXECUTE FUNCTION finance_immutable();

CREATE TABLE entity_firsts (
    credit_code  text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('investment', 'loan', 'guarantee')),
    first_on     date NOT NULL,
    agency       text NOT NULL,            -- of the source
    source       text NOT NULL,            -- e.g. investment:12, loan:3
    PRIMARY KEY (credit_code, kind)
);

-- Marks source as credit_code's first of kind unless an earlier one is
-- known; a later-reported earlier one takes its place.
CREATE FUNCTION finance_first(credit_code text, kind text, day date, agency text, source text)
    RETURNS void LANGUAGE sql AS $$
    INSERT INTO entity_firsts (credit_code, kind, first_on, agency, source)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (credit_code, kind) DO UPDATE
        SET first_on = EXCLUDED.first_on, agency = EXCLUDED.agency, source = EXCLUDED.source
        WHERE EXCLUDED.first_on < entity_firsts.first_on
$$;

CREATE FUNCTION finance_first_investment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM finance_first(NEW.credit_code, 'investment', NEW.invested_on, NEW.agency,
                          'investment:' || NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER fund_investments_first AFTER INSERT ON fund_investments
    FOR EACH ROW EXECUTE FUNCTION finance_first_investment();

CREATE FUNCTION finance_first_loan() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.borrower_kind <> 'entity' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        PERFORM finance_first(NEW.borrower, 'guarantee', chuang_today(NEW.agency), NEW.agency,
                              'loan:' || NEW.id);
    ELSIF NEW.disbursed_on IS NOT NULL AND OLD.disbursed_on IS NULL THEN
        PERFORM finance_first(NEW.borrower, 'loan', NEW.disbursed_on, NEW.agency,
                              'loan:' || NEW.id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER loans_first AFTER INSERT OR UPDATE OF disbursed_on ON loans
    FOR EACH ROW EXECUTE FUNCTION finance_first_loan();
