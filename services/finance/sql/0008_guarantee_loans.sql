-- Entrepreneurship guarantee loans (创业担保贷款). An application to a
-- guarantee_loan programme goes through the joint review and the public
-- notice of every application; its award is the guarantee: a loan row,
-- approved for at most the amount applied for, which the bank then
-- approves on its own terms, disburses and is repaid by the schedule of
-- instalments made at disbursement. An instalment unpaid after its day
-- makes the loan overdue; an overdue loan the finance officer declares in
-- default is compensated (代偿) from the programme's fund, the guarantee
-- fund, to the bank.
--
-- The fund's books gain two accounts:
--   reserve      credit-normal: the bad-debt reserve (呆坏账准备金), accrued
--                at reserve_bp of each loan disbursed (岳塘: 10 %)
--   reserve_due  debit-normal: reserve accrued and not yet paid in by the
--                fund that tops it up at year end
-- so that cash + reserve_due = available + committed + payable + reserve.
-- The reserve refills the fund's available money only as far as it is paid
-- in, and only by a decision (its document).
ALTER TABLE accounts DROP CONSTRAINT accounts_kind_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_kind_check
    CHECK (kind IN ('cash', 'available', 'committed', 'payable', 'reserve', 'reserve_due'));

CREATE TABLE loans (
    id              bigserial PRIMARY KEY,
    agency          text NOT NULL,
    application_id  bigint NOT NULL UNIQUE REFERENCES applications (id),
    programme       text NOT NULL,
    version         int NOT NULL,
    borrower        text NOT NULL,          -- the entity's credit code
    guaranteed_fen  bigint NOT NULL CHECK (guaranteed_fen > 0),
    status          text NOT NULL DEFAULT 'approved'
                    CHECK (status IN ('approved', 'bank_approved', 'repaying', 'overdue',
                                      'repaid', 'defaulted', 'compensated', 'cancelled')),
    bank            text NOT NULL DEFAULT '',
    contract        text NOT NULL DEFAULT '', -- the bank's contract number
    principal_fen   bigint NOT NULL DEFAULT 0,
    annual_rate_bp  int NOT NULL DEFAULT 0,
    term_months     int NOT NULL DEFAULT 0,
    disbursed_on    date,
    reserve_fen     bigint NOT NULL DEFAULT 0, -- accrued at disbursement
    compensated_fen bigint NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (agency, programme, version) REFERENCES programme_versions,
    CONSTRAINT loan_within_guarantee CHECK (principal_fen <= guaranteed_fen),
    CONSTRAINT loan_terms CHECK (status IN ('approved', 'cancelled')
                                 OR (principal_fen > 0 AND term_months > 0 AND bank <> ''
                                     AND contract <> '')),
    UNIQUE (agency, bank, contract)
);
CREATE INDEX loans_borrower ON loans (agency, borrower);

-- The schedule: interest monthly on the principal outstanding, the
-- principal with the last instalment (按月付息、到期还本); each instalment
-- falls due on the same day of the month as the disbursement (or the
-- month's last day). Repayments pay the earliest instalment first,
-- interest before principal.
CREATE TABLE loan_instalments (
    loan_id             bigint NOT NULL REFERENCES loans (id),
    number              int NOT NULL CHECK (number >= 1),
    period_from         date NOT NULL,      -- the first day its interest runs
    due_on              date NOT NULL,      -- its last day, when it is due
    principal_fen       bigint NOT NULL CHECK (principal_fen >= 0),
    interest_fen        bigint NOT NULL CHECK (interest_fen >= 0),
    paid_principal_fen  bigint NOT NULL DEFAULT 0,
    paid_interest_fen   bigint NOT NULL DEFAULT 0,
    paid_on             date,               -- the day it was paid in full
    PRIMARY KEY (loan_id, number),
    CONSTRAINT instalment_paid_within CHECK (paid_principal_fen BETWEEN 0 AND principal_fen
                                             AND paid_interest_fen BETWEEN 0 AND interest_fen)
);

CREATE TABLE loan_steps (
    loan_id     bigint NOT NULL REFERENCES loans (id),
    position    int NOT NULL,
    from_status text NOT NULL,
    to_status   text NOT NULL,
    by          text NOT NULL,
    reason      text NOT NULL DEFAULT '',
    at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (loan_id, position)
);
CREATE TRIGGER loan_steps_immutable BEFORE UPDATE OR DELETE ON loan_steps
    FOR EACH ROW EXECUTE FUNCTION finance_immutable();

CREATE TABLE loan_repayments (
    id            bigserial PRIMARY KEY,
    loan_id       bigint NOT NULL REFERENCES loans (id),
    paid_on       date NOT NULL,
    amount_fen    bigint NOT NULL CHECK (amount_fen > 0),
    recorded_by   text NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER loan_repayments_immutable BEFORE UPDATE OR DELETE ON loan_repayments
    FOR EACH ROW EXECUTE FUNCTION finance_immutable();

-- A loan is in default only after this many days overdue (an agency sets
-- its own row to change it).
INSERT INTO chuang_rules (agency, name, effective_from, value, document)
    VALUES ('', 'loan_default_after_days', DATE '2000-01-01', 90, '');

-- Spreads a repayment of amount, paid on day, over loan's unpaid
-- instalments, earliest first, interest before principal, records it,
-- and sets the loan's status: repaid when nothing is left, repaying when
-- nothing past its day is, else as it was. Returns that status. A
-- repayment of more than is owed is refused (numeric_value_out_of_range),
-- nothing written.
CREATE FUNCTION finance_loan_repay(loan bigint, amount bigint, day date, by text)
    RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    left_fen bigint := amount;
    i record;
    interest bigint;
    principal bigint;
    next_status text;
BEGIN
    FOR i IN SELECT * FROM loan_instalments WHERE loan_id = loan AND paid_on IS NULL
             ORDER BY number FOR UPDATE LOOP
        EXIT WHEN left_fen = 0;
        interest := least(left_fen, i.interest_fen - i.paid_interest_fen);
        left_fen := left_fen - interest;
        principal := least(left_fen, i.principal_fen - i.paid_principal_fen);
        left_fen := left_fen - principal;
        UPDATE loan_instalments
            SET paid_interest_fen = paid_interest_fen + interest,
                paid_principal_fen = paid_principal_fen + principal,
                paid_on = CASE WHEN paid_interest_fen + interest = interest_fen
                                AND paid_principal_fen + principal = principal_fen
                               THEN day END
            WHERE loan_id = loan AND number = i.number;
    END LOOP;
    IF left_fen > 0 THEN
        RAISE EXCEPTION 'repayment passes what is owed by % fen', left_fen
            USING ERRCODE = 'numeric_value_out_of_range';
    END IF;
    INSERT INTO loan_repayments (loan_id, paid_on, amount_fen, recorded_by)
        VALUES (loan, day, amount, by);
    SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM loan_instalments WHERE loan_id = loan
                                 AND paid_on IS NULL) THEN 'repaid'
                WHEN NOT EXISTS (SELECT 1 FROM loan_instalments WHERE loan_id = loan
                                 AND paid_on IS NULL AND due_on < chuang_today(l.agency))
                THEN 'repaying'
                ELSE l.status END
        INTO next_status FROM loans l WHERE l.id = loan;
    UPDATE loans SET status = next_status WHERE id = loan;
    RETURN next_status;
END $$;
