-- The registry's dated rules move to the framework's chuang_rules (common
-- 0012), which every service has and which adds a last day, a trial flag
-- and the source document to each row. The rows keep their agency, name,
-- start and value, and stay in force until replaced, as before.
INSERT INTO chuang_rules (agency, name, effective_from, value)
    SELECT agency, name, effective_from, value FROM rules;
DROP TABLE rules;
ALTER TABLE chuang_rules ADD CONSTRAINT rules_last_day_is_a_day CHECK (
    name <> 'annual_report_last_day'
    OR (value / 100 BETWEEN 1 AND 12 AND value % 100 BETWEEN 1 AND 31));
