-- Incubation subsidies (孵化成功补贴): a graduation the incubator certified
-- a successful incubation (incubator.TenantGraduated) is recorded here
-- once per tenancy, and opens an application of the carrier's operator
-- under each incubation_subsidy programme of the agency in force on the
-- graduation day, of the version's per_graduate_fen, its subject
-- "graduation:<tenancy>" (incubations.c). The primary key makes a
-- redelivered event (a consumer killed before its acknowledgement, a
-- group rewound) open nothing twice, besides the consumer's inbox.
ALTER TABLE programmes DROP CONSTRAINT programmes_kind_check;
ALTER TABLE programmes ADD CONSTRAINT programmes_kind_check
    CHECK (kind IN ('special_fund', 'interest_subsidy', 'guarantee_loan', 'rent_subsidy', 'reward',
                    'voucher', 'matching', 'listing_reward', 'incubation_subsidy'));

CREATE TABLE incubation_graduations (
    agency               text NOT NULL,
    tenancy              bigint NOT NULL,
    carrier              text NOT NULL,
    operator_credit_code text NOT NULL,       -- the applicant: the carrier's operator
    team_credit_code     text NOT NULL,       -- the graduate, "" when not registered
    team_name            text NOT NULL,
    graduated_on         date NOT NULL,
    recorded_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agency, tenancy)
);
CREATE TRIGGER incubation_graduations_immutable BEFORE UPDATE OR DELETE
    ON incubation_graduations FOR EACH ROW EXECUTE FUNCTION finance_immutable();
