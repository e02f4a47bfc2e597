-- People apply too (a graduate's own guarantee loan, before or without an
-- entity): an application's applicant is an entity (its credit code) or a
-- person (their resident ID number, personal data: it reaches only the
-- agency's officers, and other agencies' registers only where the feed
-- grants them personal data). A person has no facts in finance's read
-- model, so a version's conditions over an entity's facts never hold for
-- one: the reviewing departments certify a person's eligibility.
ALTER TABLE applications
    ADD COLUMN applicant_kind text NOT NULL DEFAULT 'entity'
        CHECK (applicant_kind IN ('entity', 'person'));
ALTER TABLE loans
    ADD COLUMN borrower_kind text NOT NULL DEFAULT 'entity'
        CHECK (borrower_kind IN ('entity', 'person'));

-- A contract number is the bank's once it is recorded: loans still awaiting
-- the bank have none, and any number of them may wait at once.
ALTER TABLE loans DROP CONSTRAINT loans_agency_bank_contract_key;
CREATE UNIQUE INDEX loans_contract ON loans (agency, bank, contract) WHERE contract <> '';
