-- Legal dates in the agency's calendar (common/sql/0009): the procedures'
-- durations become day counts and dates instead of seconds.
--   deregistration_notice_days  the public notice runs this many full days
--                               after the day of application (20) and ends
--                               at the agency's midnight after the last
--   annual_report_last_day      the last day of filing the report of a year,
--                               in the following year, written MMDD (630 is
--                               30 June); it is late from the next midnight
-- Rows an operator added in seconds are carried over.
INSERT INTO rules (agency, name, effective_from, value)
    SELECT agency, 'deregistration_notice_days', effective_from, greatest(value / 86400, 0)
    FROM rules WHERE name = 'deregistration_notice_seconds';
INSERT INTO rules (agency, name, effective_from, value)
    SELECT agency, 'annual_report_last_day', effective_from,
           to_char(DATE '2001-01-01' + greatest((value / 86400)::int - 1, 0), 'MMDD')::bigint
    FROM rules WHERE name = 'annual_report_due_seconds';
DELETE FROM rules WHERE name IN ('deregistration_notice_seconds', 'annual_report_due_seconds');
ALTER TABLE rules ADD CONSTRAINT rules_last_day_is_a_day CHECK (
    name <> 'annual_report_last_day'
    OR (value / 100 BETWEEN 1 AND 12 AND value % 100 BETWEEN 1 AND 31));

-- The annual check runs per agency, at that agency's deadline. A check
-- recorded before for agency '' stands for every agency.
ALTER TABLE annual_report_checks ADD COLUMN agency text NOT NULL DEFAULT '';
ALTER TABLE annual_report_checks DROP CONSTRAINT annual_report_checks_pkey;
ALTER TABLE annual_report_checks ADD PRIMARY KEY (agency, year);
ALTER TABLE annual_report_checks ALTER COLUMN agency DROP DEFAULT;
