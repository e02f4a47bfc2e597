-- The agency's calendar: legal dates (a licence's date, when a reservation
-- expires, when a notice ends, an annual-report deadline) are dates in the
-- agency's time zone, not UTC days. Agency '' is the default for agencies
-- not listed. A zone PostgreSQL does not know is refused.
CREATE TABLE chuang_agency_calendar (
    agency    text PRIMARY KEY,
    time_zone text NOT NULL CHECK (timezone(time_zone, TIMESTAMP '2000-01-01') IS NOT NULL)
);
INSERT INTO chuang_agency_calendar (agency, time_zone) VALUES ('', 'Asia/Shanghai');

-- The agency's time zone: its own row, else the default.
CREATE FUNCTION chuang_time_zone(agency text) RETURNS text
    LANGUAGE sql STABLE AS $$
    SELECT time_zone FROM chuang_agency_calendar WHERE agency IN ($1, '')
    ORDER BY agency = '' LIMIT 1
$$;

-- The date it is in the agency at an instant.
CREATE FUNCTION chuang_local_date(agency text, at timestamptz) RETURNS date
    LANGUAGE sql STABLE AS $$
    SELECT (at AT TIME ZONE chuang_time_zone(agency))::date
$$;

-- The agency's date now (at the start of the transaction).
CREATE FUNCTION chuang_today(agency text) RETURNS date
    LANGUAGE sql STABLE AS $$
    SELECT chuang_local_date(agency, now())
$$;

-- The instant a day begins in the agency (local midnight).
CREATE FUNCTION chuang_day_start(agency text, day date) RETURNS timestamptz
    LANGUAGE sql STABLE AS $$
    SELECT day::timestamp AT TIME ZONE chuang_time_zone(agency)
$$;
