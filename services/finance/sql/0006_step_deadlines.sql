-- Deadlines per step, as dated rules (chuang_rules): how many days an
-- application may stay a draft, under review, or awarded and not fully
-- paid, counted from the agency's day it entered that state. An agency
-- sets its own rows; these are the defaults.
INSERT INTO chuang_rules (agency, name, effective_from, value, document) VALUES
    ('', 'application_draft_days', DATE '2000-01-01', 30, ''),
    ('', 'application_under_review_days', DATE '2000-01-01', 20, ''),
    ('', 'application_awarded_days', DATE '2000-01-01', 60, '');

CREATE INDEX applications_open ON applications (agency, id)
    WHERE status IN ('draft', 'under_review', 'awarded');
