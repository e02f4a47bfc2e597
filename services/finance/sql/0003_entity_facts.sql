-- Finance's own read model of the registry's entities, built from the
-- registry's events (facts.c, a consumer of its stream): the facts that
-- programmes' eligibility tests ask about, and the credit listings that
-- refuse or flag an applicant. Finance never reads the registry's tables.
-- Founders are kept as their categories only: no ID number is needed to
-- decide eligibility.
CREATE TABLE entity_facts (
    credit_code        text PRIMARY KEY,
    agency             text NOT NULL,         -- the registering agency
    name               text NOT NULL,
    entity_type        text NOT NULL,         -- e.g. LIMITED_COMPANY
    registered_on      date NOT NULL,
    division           text NOT NULL,         -- the domicile's GB/T 2260 code
    founder_categories text[] NOT NULL,       -- every category any founder has, e.g. GRADUATE
    status             text NOT NULL,         -- registered, deregistered
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE entity_listings (
    listing_id   bigint PRIMARY KEY,          -- the registry's
    credit_code  text NOT NULL,
    list         text NOT NULL CHECK (list IN ('abnormal', 'dishonest')),
    reason       text NOT NULL,
    authority    text NOT NULL,
    listed_at    timestamptz NOT NULL,
    removed_at   timestamptz
);
CREATE INDEX entity_listings_open ON entity_listings (credit_code) WHERE removed_at IS NULL;
