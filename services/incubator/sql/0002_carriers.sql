-- Carriers (孵化载体), their recognitions, spaces and the rent of each kind
-- of space as dated data (handlers_carriers.c, handlers_spaces.c).
CREATE TABLE carriers (
    agency               text NOT NULL,
    code                 text NOT NULL,
    id                   bigserial UNIQUE,  -- the directory's paging key
    name                 text NOT NULL,
    carrier_type         text NOT NULL CHECK (carrier_type IN ('nursery', 'incubator',
                             'accelerator', 'maker_space', 'entrepreneurship_base',
                             'tech_incubator', 'university_park')),
    taxonomy             text NOT NULL,     -- the recognising department
    operator_credit_code text NOT NULL,
    principal            text NOT NULL DEFAULT '', -- the operator's key, role carrier
    area_m2              bigint NOT NULL CHECK (area_m2 >= 0),
    online               boolean NOT NULL,
    government_run       boolean NOT NULL,
    division             text NOT NULL,
    address              text NOT NULL,
    status               text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed')),
    registered_on        date NOT NULL,
    registered_by        text NOT NULL,
    PRIMARY KEY (agency, code),
    CONSTRAINT carrier_area CHECK (online OR area_m2 > 0)
);
CREATE INDEX carriers_operator ON carriers (agency, operator_credit_code);

CREATE TABLE carrier_recognitions (
    agency        text NOT NULL,
    certificate   text NOT NULL,
    carrier       text NOT NULL,
    level         text NOT NULL CHECK (level IN ('district', 'city', 'province', 'national')),
    body          text NOT NULL,
    title         text NOT NULL,
    recognised_on date NOT NULL,
    recorded_by   text NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agency, certificate),
    FOREIGN KEY (agency, carrier) REFERENCES carriers (agency, code)
);
CREATE INDEX carrier_recognitions_carrier ON carrier_recognitions (agency, carrier, recognised_on);

-- The rank of a level, for a carrier's highest.
CREATE FUNCTION incubator_level_rank(level text) RETURNS int
    LANGUAGE sql IMMUTABLE AS $$
    SELECT array_position(ARRAY['district', 'city', 'province', 'national'], $1)
$$;

CREATE TABLE spaces (
    id       bigserial PRIMARY KEY,
    agency   text NOT NULL,
    carrier  text NOT NULL,
    code     text NOT NULL,
    kind     text NOT NULL CHECK (kind IN ('unit', 'office', 'desk')),
    area_m2  bigint NOT NULL CHECK (area_m2 > 0),
    UNIQUE (agency, carrier, code),
    FOREIGN KEY (agency, carrier) REFERENCES carriers (agency, code)
);

-- A carrier's rent for a kind of space: the row that started latest on or
-- before a day is in force that day. Rows are never changed: a new rent
-- is a new row.
CREATE TABLE rents (
    agency           text NOT NULL,
    carrier          text NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('unit', 'office', 'desk')),
    effective_from   date NOT NULL,
    fen_per_m2_month bigint NOT NULL CHECK (fen_per_m2_month >= 0),
    document         text NOT NULL,
    recorded_by      text NOT NULL,
    PRIMARY KEY (agency, carrier, kind, effective_from),
    FOREIGN KEY (agency, carrier) REFERENCES carriers (agency, code)
);

CREATE FUNCTION incubator_rent(agency text, carrier text, kind text, day date) RETURNS bigint
    LANGUAGE sql STABLE AS $$
    SELECT fen_per_m2_month FROM rents r
    WHERE r.agency = $1 AND r.carrier = $2 AND r.kind = $3 AND r.effective_from <= $4
    ORDER BY r.effective_from DESC LIMIT 1
$$;
