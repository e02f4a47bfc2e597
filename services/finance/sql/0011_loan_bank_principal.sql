-- The bank that lends: the principal (its client key's name) that recorded
-- the bank's approval of a loan. A bank acts only on the loans it
-- approved; a finance officer may act for any bank of the agency.
ALTER TABLE loans ADD COLUMN bank_principal text NOT NULL DEFAULT '';
