-- Innovation vouchers (创新券). A voucher programme (kind voucher) sets the
-- face value (face_value_fen) and how long a voucher stays valid
-- (validity_days) as parameters of its version, and the voucher's scope as
-- data on the version: the service categories it pays for and the service
-- providers that may redeem it (both empty: every category, every approved
-- provider; 大朗 names only the town's cloud platform).
--
-- An application to a voucher programme takes the workflow of every
-- application; its award issues the voucher: the face value committed
-- against the fund (available to committed), registered in the award
-- register. An approved provider redeems it, in part or whole, against its
-- invoice for a service in scope: the amount moves from committed to the
-- provider's payable account. Settling pays what is payable to a provider
-- out of the fund's cash. A voucher's value left when its validity ends
-- returns from committed to available (the expiry job).
--
-- What the database holds to, whatever the client: a voucher's remaining
-- value is never below zero (two redemptions of its last yuan at once take
-- turns on its row, and the second finds nothing left), and a provider's
-- invoice pays for one redemption only.
ALTER TABLE programme_versions
    ADD COLUMN service_categories text[] NOT NULL DEFAULT '{}',
    ADD COLUMN providers text[] NOT NULL DEFAULT '{}';

-- Service providers (双创服务机构): entities registered in the agency, with
-- the categories of service they offer, approved by a finance officer. The
-- principal is the client key that redeems vouchers for the provider
-- ("" when only finance officers record its redemptions).
CREATE TABLE service_providers (
    agency         text NOT NULL,
    credit_code    text NOT NULL,
    name           text NOT NULL,
    categories     text[] NOT NULL CHECK (cardinality(categories) >= 1),
    principal      text NOT NULL DEFAULT '',
    status         text NOT NULL DEFAULT 'applied'
                   CHECK (status IN ('applied', 'approved', 'refused', 'suspended')),
    reason         text NOT NULL DEFAULT '',
    decided_by     text NOT NULL DEFAULT '',
    registered_by  text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agency, credit_code)
);

CREATE TABLE vouchers (
    id              bigserial PRIMARY KEY,
    agency          text NOT NULL,
    application_id  bigint NOT NULL UNIQUE REFERENCES applications (id),
    programme       text NOT NULL,
    version         int NOT NULL,
    holder          text NOT NULL,          -- the credit code, or a person's ID number
    holder_kind     text NOT NULL DEFAULT 'entity' CHECK (holder_kind IN ('entity', 'person')),
    face_value_fen  bigint NOT NULL CHECK (face_value_fen > 0),
    remaining_fen   bigint NOT NULL,
    issued_on       date NOT NULL,
    valid_to        date NOT NULL,          -- its last day
    status          text NOT NULL DEFAULT 'issued' CHECK (status IN ('issued', 'used', 'expired')),
    expired_fen     bigint NOT NULL DEFAULT 0 CHECK (expired_fen >= 0),
    FOREIGN KEY (agency, programme, version) REFERENCES programme_versions,
    CONSTRAINT voucher_remaining CHECK (remaining_fen BETWEEN 0 AND face_value_fen),
    CONSTRAINT voucher_validity CHECK (valid_to >= issued_on),
    CONSTRAINT voucher_spent CHECK (status = 'issued' OR remaining_fen = 0)
);
CREATE INDEX vouchers_programme ON vouchers (agency, programme);

CREATE TABLE voucher_redemptions (
    id                bigserial PRIMARY KEY,
    voucher_id        bigint NOT NULL REFERENCES vouchers (id),
    agency            text NOT NULL,
    provider          text NOT NULL,
    invoice           text NOT NULL,         -- the provider's invoice number
    category          text NOT NULL,
    amount_fen        bigint NOT NULL CHECK (amount_fen > 0),
    redeemed_on       date NOT NULL,
    entry_id          bigint NOT NULL REFERENCES journal_entries (id),
    settlement_entry  bigint REFERENCES journal_entries (id), -- the payment that settled it
    recorded_by       text NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (agency, provider) REFERENCES service_providers (agency, credit_code),
    UNIQUE (agency, provider, invoice)
);
CREATE INDEX voucher_redemptions_voucher ON voucher_redemptions (voucher_id, id);
CREATE INDEX voucher_redemptions_unsettled ON voucher_redemptions (agency, provider)
    WHERE settlement_entry IS NULL;

-- A redemption is settled once; nothing else about it ever changes.
CREATE FUNCTION finance_redemption_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR OLD.settlement_entry IS NOT NULL OR NEW.settlement_entry IS NULL
       OR (NEW.id, NEW.voucher_id, NEW.provider, NEW.invoice, NEW.amount_fen, NEW.entry_id)
          IS DISTINCT FROM (OLD.id, OLD.voucher_id, OLD.provider, OLD.invoice, OLD.amount_fen,
                            OLD.entry_id) THEN
        RAISE EXCEPTION 'voucher redemptions are never changed or removed, only settled once'
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER voucher_redemptions_guard BEFORE UPDATE OR DELETE ON voucher_redemptions
    FOR EACH ROW EXECUTE FUNCTION finance_redemption_guard();
