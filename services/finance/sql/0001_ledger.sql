-- The finance service's ledger: double-entry book-keeping in integer fen,
-- one set of books per agency.
--
-- Every money movement is a journal entry of two or more postings whose
-- amounts sum to zero (a debit is positive, a credit negative), checked by
-- a constraint trigger at commit, whatever the client. Entries and postings
-- are never changed or removed: a correction is a reversing entry, which
-- names the entry it reverses (once). Each account keeps its balance,
-- updated by the postings under the account's row lock, so that concurrent
-- entries on one account take turns; an account that may not go below zero
-- on its normal side (a fund's cash: never overdrawn; its uncommitted
-- balance: never over-committed) refuses the posting that would take it
-- there, with a CHECK.

CREATE TABLE funds (
    agency       text NOT NULL,
    code         text NOT NULL,             -- e.g. 'special-2016'
    name         text NOT NULL,             -- e.g. 大朗镇双创专项资金
    department   text NOT NULL,             -- who manages it, e.g. finance
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agency, code)
);

-- A fund's accounts (cash, available and committed are made with it):
--   cash       debit-normal: the money the fund holds (never negative)
--   available  credit-normal: appropriated and not yet committed (never
--              negative: nothing is committed that is not there)
--   committed  credit-normal: awarded and not yet due
--   payable    credit-normal, one per payee: due to that payee, not yet paid
-- An appropriation debits cash and credits available; an award moves
-- available to committed; a payment falling due moves committed to the
-- payee's payable; paying it out credits cash. At every moment cash equals
-- available + committed + payable.
CREATE TABLE accounts (
    id             bigserial PRIMARY KEY,
    agency         text NOT NULL,
    code           text NOT NULL,           -- e.g. 'special-2016:cash', 'special-2016:payable:91...'
    fund           text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('cash', 'available', 'committed', 'payable')),
    payee          text NOT NULL DEFAULT '', -- a payable account's payee (credit code or reference)
    normal         text NOT NULL CHECK (normal IN ('debit', 'credit')),
    never_negative boolean NOT NULL,
    balance        bigint NOT NULL DEFAULT 0, -- debits minus credits
    UNIQUE (agency, code),
    FOREIGN KEY (agency, fund) REFERENCES funds (agency, code),
    CONSTRAINT account_not_overdrawn CHECK (
        NOT never_negative OR (CASE normal WHEN 'debit' THEN balance ELSE -balance END) >= 0)
);

CREATE TABLE journal_entries (
    id           bigserial PRIMARY KEY,
    agency       text NOT NULL,
    booked_on    date NOT NULL,             -- the agency's date of the entry
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    kind         text NOT NULL,             -- appropriation, commitment, payment, reversal...
    cause        text NOT NULL,             -- the decision it carries out, e.g. 'award:<id>', a document number
    memo         text NOT NULL DEFAULT '',
    recorded_by  text NOT NULL,             -- the principal (and person) who caused it
    reverses     bigint UNIQUE REFERENCES journal_entries (id)
);
CREATE INDEX journal_entries_booked ON journal_entries (agency, booked_on, id);

CREATE TABLE postings (
    entry_id     bigint NOT NULL REFERENCES journal_entries (id),
    account_id   bigint NOT NULL REFERENCES accounts (id),
    amount       bigint NOT NULL CHECK (amount <> 0), -- fen: debit > 0, credit < 0
    PRIMARY KEY (entry_id, account_id)
);
CREATE INDEX postings_account ON postings (account_id, entry_id);

-- The balance of each account moves with its postings (under its row lock).
CREATE FUNCTION finance_posting_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE accounts SET balance = balance + NEW.amount WHERE id = NEW.account_id;
    RETURN NEW;
END $$;
CREATE TRIGGER postings_apply AFTER INSERT ON postings
    FOR EACH ROW EXECUTE FUNCTION finance_posting_apply();

-- At commit: every entry written has two postings or more summing to zero.
CREATE FUNCTION finance_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    total bigint;
    lines int;
BEGIN
    SELECT coalesce(sum(amount), 0), count(*) INTO total, lines
        FROM postings WHERE entry_id = NEW.entry_id;
    IF total <> 0 OR lines < 2 THEN
        RAISE EXCEPTION 'journal entry % does not balance', NEW.entry_id
            USING ERRCODE = 'check_violation',
                  DETAIL = format('Its %s postings sum to %s fen; an entry needs two or more summing to zero.', lines, total);
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER postings_balanced AFTER INSERT ON postings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION finance_entry_balanced();

-- An entry with no postings at all is refused at commit too.
CREATE FUNCTION finance_entry_has_postings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM postings WHERE entry_id = NEW.id) THEN
        RAISE EXCEPTION 'journal entry % has no postings', NEW.id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER journal_entries_posted AFTER INSERT ON journal_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION finance_entry_has_postings();

-- Written once: corrections are reversing entries.
CREATE FUNCTION finance_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are never changed or removed', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation',
              HINT = 'Correct an entry with a reversing entry.';
END $$;
CREATE TRIGGER journal_entries_immutable BEFORE UPDATE OR DELETE ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION finance_immutable();
CREATE TRIGGER postings_immutable BEFORE UPDATE OR DELETE ON postings
    FOR EACH ROW EXECUTE FUNCTION finance_immutable();
CREATE TRIGGER journal_entries_no_truncate BEFORE TRUNCATE ON journal_entries
    FOR EACH STATEMENT EXECUTE FUNCTION finance_immutable();
CREATE TRIGGER postings_no_truncate BEFORE TRUNCATE ON postings
    FOR EACH STATEMENT EXECUTE FUNCTION finance_immutable();

-- A balance moves only with a posting (the trigger above runs one level
-- down), and an account's identity never changes.
CREATE FUNCTION finance_account_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR pg_trigger_depth() < 2 OR NEW.id <> OLD.id OR NEW.agency <> OLD.agency
       OR NEW.code <> OLD.code OR NEW.kind <> OLD.kind OR NEW.normal <> OLD.normal
       OR NEW.never_negative <> OLD.never_negative THEN
        RAISE EXCEPTION 'accounts change only through journal entries'
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER accounts_guard BEFORE UPDATE OR DELETE ON accounts
    FOR EACH ROW EXECUTE FUNCTION finance_account_guard();
