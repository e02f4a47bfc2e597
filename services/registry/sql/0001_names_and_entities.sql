-- The registry's first schema: dated rules, reserved names, registered
-- entities with their founders and addresses.

-- Rules that change by year and by agency are data with an effective date:
-- the row in force on a day is the latest effective_from on or before it,
-- the agency's own row winning over the default (agency '').
CREATE TABLE rules (
    agency         text NOT NULL DEFAULT '',
    name           text NOT NULL,
    effective_from date NOT NULL,
    value          bigint NOT NULL,
    PRIMARY KEY (agency, name, effective_from)
);
INSERT INTO rules (agency, name, effective_from, value) VALUES
    ('', 'name_reservation_days', DATE '2000-01-01', 30);

-- Words a trade name or industry may not contain without higher approval,
-- besides the national list built into the service; agency '' for all.
CREATE TABLE forbidden_words (
    agency text NOT NULL DEFAULT '',
    word   text NOT NULL,
    PRIMARY KEY (agency, word)
);

CREATE TABLE name_reservations (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    agency              text NOT NULL,
    name                text NOT NULL,
    region              text NOT NULL,
    trade_name          text NOT NULL,
    industry            text NOT NULL,
    form                text NOT NULL,
    applicant_name      text NOT NULL,
    applicant_id_number text NOT NULL,
    reserved_on         date NOT NULL,
    expires_on          date NOT NULL,
    status              text NOT NULL DEFAULT 'reserved' CHECK (status IN ('reserved', 'used')),
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX name_reservations_trade ON name_reservations (agency, trade_name, industry);

-- The organisation-code part of credit codes this registry assigns.
CREATE SEQUENCE organisation_numbers;

CREATE TABLE entities (
    credit_code            text PRIMARY KEY,
    agency                 text NOT NULL,
    name                   text NOT NULL,
    trade_name             text NOT NULL,
    industry               text NOT NULL,
    entity_type            smallint NOT NULL CHECK (entity_type BETWEEN 1 AND 6),
    legal_rep_name         text NOT NULL,
    legal_rep_id_number    text NOT NULL,
    legal_rep_phone        text NOT NULL,
    registered_capital_fen bigint NOT NULL CHECK (registered_capital_fen >= 0),
    business_scope         text NOT NULL,
    industry_code          text NOT NULL,
    reservation_id         uuid NOT NULL UNIQUE REFERENCES name_reservations (id),
    registered_on          date NOT NULL,
    status                 text NOT NULL DEFAULT 'registered',
    created_at             timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX entities_name ON entities (agency, name);
CREATE INDEX entities_trade ON entities (agency, trade_name, industry);

CREATE TABLE founders (
    credit_code            text NOT NULL REFERENCES entities (credit_code),
    position               int NOT NULL,
    name                   text NOT NULL,
    id_number              text NOT NULL,
    phone                  text NOT NULL,
    categories             smallint[] NOT NULL DEFAULT '{}',
    subscribed_capital_fen bigint NOT NULL CHECK (subscribed_capital_fen >= 0),
    PRIMARY KEY (credit_code, position)
);
CREATE INDEX founders_id_number ON founders (id_number);

-- One address may host many entities; one entity may have several addresses.
CREATE TABLE addresses (
    id            bigserial PRIMARY KEY,
    division_code text NOT NULL,
    detail        text NOT NULL,
    UNIQUE (division_code, detail)
);

CREATE TABLE entity_addresses (
    credit_code text NOT NULL REFERENCES entities (credit_code),
    address_id  bigint NOT NULL REFERENCES addresses (id),
    kind        text NOT NULL CHECK (kind IN ('domicile', 'business')),
    position    int NOT NULL,
    PRIMARY KEY (credit_code, kind, position)
);
