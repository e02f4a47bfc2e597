-- Mentor-service subsidies (创业导师服务补贴) and carriers' recognitions
-- from the incubator (incubations.c). Each mentor's service the incubator
-- records (incubator.MentorServiceRecorded) is kept here once, by its
-- record number; a carrier's operator claims the hours of a year under a
-- mentor_service_subsidy programme, subject
-- "mentor-services:<carrier>:<year>", at the version's per_hour_fen
-- (handlers_applications.c lowers a claim to what the hours earn). A
-- carrier's recognition (incubator.CarrierRecognised) becomes a
-- recognition of its operator (0016), which a top-up programme matches
-- against the awards of the levels above.
ALTER TABLE programmes DROP CONSTRAINT programmes_kind_check;
ALTER TABLE programmes ADD CONSTRAINT programmes_kind_check
    CHECK (kind IN ('special_fund', 'interest_subsidy', 'guarantee_loan', 'rent_subsidy', 'reward',
                    'voucher', 'matching', 'listing_reward', 'incubation_subsidy',
                    'mentor_service_subsidy'));

CREATE TABLE incubation_mentor_services (
    agency               text NOT NULL,
    record               bigint NOT NULL,     -- the incubator's number of the service
    carrier              text NOT NULL,
    operator_credit_code text NOT NULL,       -- who may claim it
    mentor               bigint NOT NULL,
    tenancy              bigint NOT NULL,
    served_on            date NOT NULL,
    minutes              bigint NOT NULL CHECK (minutes BETWEEN 1 AND 1440),
    recorded_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agency, record)
);
CREATE INDEX incubation_mentor_services_carrier
    ON incubation_mentor_services (agency, carrier, served_on);
CREATE TRIGGER incubation_mentor_services_immutable BEFORE UPDATE OR DELETE
    ON incubation_mentor_services FOR EACH ROW EXECUTE FUNCTION finance_immutable();
