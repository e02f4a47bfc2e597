-- Changes keep history: every value a registered field has had, with the
-- period it was valid, so the register can be read "as of" any date.
-- Fields are named as in registry.proto's Entity ("business_scope",
-- "legal_representative.name", "domicile", ...); values are text.
CREATE TABLE entity_history (
    credit_code text NOT NULL REFERENCES entities (credit_code),
    field       text NOT NULL,
    value       text NOT NULL,
    valid_from  timestamptz NOT NULL,
    valid_to    timestamptz,            -- NULL while the value is current
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
CREATE INDEX entity_history_lookup ON entity_history (credit_code, field, valid_from);
-- At most one current value per field.
CREATE UNIQUE INDEX entity_history_current ON entity_history (credit_code, field)
    WHERE valid_to IS NULL;

-- Entities registered before this migration start their history at their
-- registration.
INSERT INTO entity_history (credit_code, field, value, valid_from)
SELECT e.credit_code, f.field, f.value, e.created_at
FROM entities e
CROSS JOIN LATERAL (VALUES
    ('name', e.name),
    ('legal_representative.name', e.legal_rep_name),
    ('legal_representative.id_number', e.legal_rep_id_number),
    ('legal_representative.phone', e.legal_rep_phone),
    ('registered_capital_fen', e.registered_capital_fen::text),
    ('business_scope', e.business_scope),
    ('industry_code', e.industry_code)) AS f (field, value);

INSERT INTO entity_history (credit_code, field, value, valid_from)
SELECT ea.credit_code, 'domicile', a.division_code || ' ' || a.detail, e.created_at
FROM entity_addresses ea
JOIN addresses a ON a.id = ea.address_id
JOIN entities e ON e.credit_code = ea.credit_code
WHERE ea.kind = 'domicile';
