-- Mentors (创业导师) and their service records, and the activities of
-- carriers with their attendees (handlers_mentors.c, handlers_activities.c).
CREATE TABLE mentors (
    id           bigserial PRIMARY KEY,
    agency       text NOT NULL,
    name         text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('entrepreneur', 'investor', 'expert')),
    side         text NOT NULL CHECK (side IN ('academia', 'business')),
    organisation text NOT NULL,
    phone        text NOT NULL,             -- personal data: answered to officers only
    recorded_by  text NOT NULL
);

CREATE TABLE mentor_assignments (
    mentor      bigint NOT NULL REFERENCES mentors,
    tenancy     bigint NOT NULL REFERENCES tenancies,
    assigned_by text NOT NULL,
    assigned_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mentor, tenancy)
);

CREATE TABLE mentor_services (
    id           bigserial PRIMARY KEY,
    mentor       bigint NOT NULL,
    tenancy      bigint NOT NULL,
    served_on    date NOT NULL,
    minutes      bigint NOT NULL CHECK (minutes BETWEEN 1 AND 1440),
    person_times bigint NOT NULL CHECK (person_times BETWEEN 1 AND 10000),
    topic        text NOT NULL,
    recorded_by  text NOT NULL,
    FOREIGN KEY (mentor, tenancy) REFERENCES mentor_assignments
);

CREATE TABLE activities (
    id         bigserial PRIMARY KEY,
    agency     text NOT NULL,
    carrier    text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('roadshow', 'salon', 'training_camp',
                                             'competition', 'class')),
    title      text NOT NULL,
    held_on    date NOT NULL,
    capacity   int NOT NULL CHECK (capacity > 0),
    created_by text NOT NULL,
    FOREIGN KEY (agency, carrier) REFERENCES carriers (agency, code)
);
CREATE INDEX activities_carrier ON activities (agency, carrier, held_on);

-- An attendee is a tenancy or a guest by name; attended once recorded.
CREATE TABLE activity_attendees (
    activity bigint NOT NULL REFERENCES activities,
    attendee text NOT NULL,                 -- "tenancy:<id>" or "guest:<name>"
    attended boolean NOT NULL DEFAULT false,
    PRIMARY KEY (activity, attendee)
);
