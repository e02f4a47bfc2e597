-- Joint review, public notice, award and payment of applications.
--
-- Each department the pinned version names (or the programme's own
-- department when it names none) reviews an application once per round;
-- when all have approved, it goes on public notice (公示) until
-- notice_ends_on, the agency's day, and anyone may object meanwhile: an
-- objection sends it back to review in a new round, whose approvals are
-- given again. A notice that ends without objection awards it: the
-- amount is committed against the programme's fund by a journal entry.
-- Payments (instalments) move committed money out of the fund's cash; the
-- database refuses paying more than was awarded.
ALTER TABLE applications
    ADD COLUMN round int NOT NULL DEFAULT 1,
    ADD COLUMN notice_ends_on date,
    ADD COLUMN awarded_fen bigint NOT NULL DEFAULT 0,
    ADD COLUMN paid_fen bigint NOT NULL DEFAULT 0,
    ADD CONSTRAINT application_paid_within CHECK (paid_fen >= 0 AND paid_fen <= awarded_fen);

CREATE TABLE application_reviews (
    application_id  bigint NOT NULL REFERENCES applications (id),
    round           int NOT NULL,
    department      text NOT NULL,
    decision        text NOT NULL CHECK (decision IN ('approved', 'rejected')),
    reason          text NOT NULL DEFAULT '',
    by              text NOT NULL,
    at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (application_id, round, department)
);
CREATE TRIGGER application_reviews_immutable BEFORE UPDATE OR DELETE ON application_reviews
    FOR EACH ROW EXECUTE FUNCTION finance_immutable();

CREATE TABLE application_objections (
    id              bigserial PRIMARY KEY,
    application_id  bigint NOT NULL REFERENCES applications (id),
    round           int NOT NULL,
    reason          text NOT NULL,
    by              text NOT NULL,
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER application_objections_immutable BEFORE UPDATE OR DELETE ON application_objections
    FOR EACH ROW EXECUTE FUNCTION finance_immutable();

-- The notice period when a version sets no notice_days: 7 full days after
-- the day it starts (an agency sets its own row to change it).
INSERT INTO chuang_rules (agency, name, effective_from, value, document)
    VALUES ('', 'award_notice_days', DATE '2000-01-01', 7, '');
