-- The incubator's read model of the registry's entities (entities.c):
-- whether a carrier's operator or a tenant is a registered entity of the
-- agency's area, and the founders' ID numbers that link a team of the
-- nursery to the entity it registers as. Kept from the registry's
-- events, each applied once (the framework's inbox).
CREATE TABLE entities (
    credit_code   text PRIMARY KEY,
    agency        text NOT NULL,           -- the registering agency
    name          text NOT NULL,
    division      text NOT NULL,           -- the domicile's division code
    registered_on date NOT NULL,
    status        text NOT NULL CHECK (status IN ('registered', 'deregistered')),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Whether division lies within the agency's area: the agency's code
-- without its trailing "00" pairs is the division's prefix (330106 a
-- district, 330100 its city).
CREATE FUNCTION incubator_within(agency text, division text) RETURNS boolean
    LANGUAGE sql IMMUTABLE AS $$
    SELECT starts_with($2, regexp_replace($1, '(00)+$', ''))
$$;
