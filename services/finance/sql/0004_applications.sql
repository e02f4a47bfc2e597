-- Applications to programmes. An application is drafted, then submitted:
-- on the day it is submitted (its application date, in the agency's
-- calendar) the programme's version in force then is pinned to it, and it
-- is decided by that version whatever later versions say. Every step it
-- takes is a row of application_steps (who, when, why), never changed.
-- One entity has at most one open application per programme and subject.
CREATE TABLE applications (
    id          bigserial PRIMARY KEY,
    agency      text NOT NULL,
    programme   text NOT NULL,
    applicant   text NOT NULL,                -- the entity's credit code
    subject     text NOT NULL DEFAULT '',     -- what it is for, e.g. a loan contract's number
    amount_fen  bigint NOT NULL CHECK (amount_fen > 0),
    status      text NOT NULL DEFAULT 'draft'
                CHECK (status IN ('draft', 'under_review', 'notice', 'awarded', 'paid',
                                  'rejected', 'withdrawn')),
    version     int,                          -- pinned at submission
    applied_on  date,                         -- the day of submission
    flagged     boolean NOT NULL DEFAULT false, -- listed abnormal at submission
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (agency, programme) REFERENCES programmes (agency, code),
    FOREIGN KEY (agency, programme, version) REFERENCES programme_versions,
    CONSTRAINT application_pinned CHECK (status IN ('draft', 'withdrawn')
                                         OR (version IS NOT NULL AND applied_on IS NOT NULL))
);
CREATE UNIQUE INDEX applications_one_open ON applications (agency, programme, applicant, subject)
    WHERE status NOT IN ('rejected', 'withdrawn');

CREATE TABLE application_steps (
    application_id  bigint NOT NULL REFERENCES applications (id),
    position        int NOT NULL,
    from_status     text NOT NULL,
    to_status       text NOT NULL,
    by              text NOT NULL,
    reason          text NOT NULL DEFAULT '',
    at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (application_id, position)
);
CREATE TRIGGER application_steps_immutable BEFORE UPDATE OR DELETE ON application_steps
    FOR EACH ROW EXECUTE FUNCTION finance_immutable();
