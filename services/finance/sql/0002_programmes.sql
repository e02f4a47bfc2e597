-- Programmes (专项资金, interest subsidies, guarantee loan schemes, rent
-- subsidies, rewards...) and their versions: every amount, rate, cap,
-- period and eligibility test is a parameter of a dated version, never a
-- constant. A version is in force from its first day until the next
-- version starts, or until its own last day if it has one (a trial
-- period): on a day after that last day and before a next version, the
-- programme has no parameters and nothing may be decided by it. Versions
-- are never changed; a change is a new version starting today or later,
-- so an application keeps the version it was decided by.

CREATE TABLE programmes (
    agency      text NOT NULL,
    code        text NOT NULL,
    name        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('special_fund', 'interest_subsidy',
                                              'guarantee_loan', 'rent_subsidy', 'reward',
                                              'voucher', 'matching')),
    level       text NOT NULL CHECK (level IN ('town', 'district', 'city', 'province',
                                               'national')),
    fund        text NOT NULL,
    department  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agency, code),
    FOREIGN KEY (agency, fund) REFERENCES funds (agency, code)
);

CREATE TABLE programme_versions (
    agency          text NOT NULL,
    programme       text NOT NULL,
    version         int NOT NULL CHECK (version >= 1),
    effective_from  date NOT NULL,
    effective_to    date,                    -- its last day; NULL: until the next version
    trial           boolean NOT NULL DEFAULT false,
    document        text NOT NULL,           -- the policy text that sets it
    approvals       text[] NOT NULL,         -- departments that must each approve
    recorded_by     text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agency, programme, version),
    FOREIGN KEY (agency, programme) REFERENCES programmes (agency, code),
    CONSTRAINT programme_version_period CHECK (effective_to IS NULL OR effective_to >= effective_from)
);

-- Named integers: amounts and caps in fen (*_fen), rates and ratios in
-- basis points (*_bp), periods in days (*_days), counts (*_count).
CREATE TABLE programme_parameters (
    agency     text NOT NULL,
    programme  text NOT NULL,
    version    int NOT NULL,
    name       text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_]{0,38}_(fen|bp|days|count)$'),
    value      bigint NOT NULL CHECK (value >= 0),
    PRIMARY KEY (agency, programme, version, name),
    FOREIGN KEY (agency, programme, version) REFERENCES programme_versions
);

-- Eligibility tests over facts of the applicant, all of which must hold.
CREATE TABLE programme_conditions (
    agency     text NOT NULL,
    programme  text NOT NULL,
    version    int NOT NULL,
    position   int NOT NULL,
    fact       text NOT NULL,
    test       text NOT NULL,
    "values"   text[] NOT NULL,
    PRIMARY KEY (agency, programme, version, position),
    FOREIGN KEY (agency, programme, version) REFERENCES programme_versions
);

-- The version of a programme that started latest on or before day, in
-- force or lapsed (the caller tells them apart by effective_to).
CREATE FUNCTION finance_programme_version(agency text, programme text, day date)
    RETURNS SETOF programme_versions LANGUAGE sql STABLE AS $$
    SELECT * FROM programme_versions v
    WHERE v.agency = $1 AND v.programme = $2 AND v.effective_from <= $3
    ORDER BY v.effective_from DESC LIMIT 1
$$;

CREATE FUNCTION finance_immutable_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'programme versions are never changed or removed'
        USING ERRCODE = 'restrict_violation', HINT = 'Add a new version instead.';
END $$;
CREATE TRIGGER programme_versions_immutable BEFORE UPDATE OR DELETE ON programme_versions
    FOR EACH ROW EXECUTE FUNCTION finance_immutable_version();
CREATE TRIGGER programme_parameters_immutable BEFORE UPDATE OR DELETE ON programme_parameters
    FOR EACH ROW EXECUTE FUNCTION finance_immutable_version();
CREATE TRIGGER programme_conditions_immutable BEFORE UPDATE OR DELETE ON programme_conditions
    FOR EACH ROW EXECUTE FUNCTION finance_immutable_version();
