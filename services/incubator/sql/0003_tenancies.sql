-- Teams and their tenancies from application to graduation or end, the
-- agreements that hold a space for a period, and graduation criteria as
-- dated data (handlers_tenancies.c, handlers_graduation.c).
CREATE TABLE teams (
    id            bigserial PRIMARY KEY,
    agency        text NOT NULL,
    name          text NOT NULL,
    credit_code   text,                    -- once the registry registered it
    business_plan text NOT NULL DEFAULT '',
    registered_on date,
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX teams_entity ON teams (agency, credit_code);

-- Founders' ID numbers are personal data: read only to link the team to
-- the entity the registry registers, and answered only to officers.
CREATE TABLE team_founders (
    team       bigint NOT NULL REFERENCES teams,
    position   int NOT NULL,
    name       text NOT NULL,
    id_number  text NOT NULL,
    categories text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (team, position)
);
CREATE INDEX team_founders_id ON team_founders (id_number);

CREATE TABLE tenancies (
    id          bigserial PRIMARY KEY,
    agency      text NOT NULL,
    carrier     text NOT NULL,
    team        bigint NOT NULL REFERENCES teams,
    status      text NOT NULL CHECK (status IN ('applied', 'admitted', 'declined',
                                                'graduated', 'ended')),
    applied_on  date NOT NULL,
    priority    int NOT NULL DEFAULT 0,
    decided_by  text NOT NULL DEFAULT '',
    reason      text NOT NULL DEFAULT '',
    outcome     text NOT NULL DEFAULT '' CHECK (outcome IN ('', 'moved_out', 'moved_on', 'failed',
                                                            'expelled')),
    ended_on    date,
    FOREIGN KEY (agency, carrier) REFERENCES carriers (agency, code)
);
CREATE INDEX tenancies_queue ON tenancies (agency, carrier, status, priority DESC, id);
-- A team is in at most one tenancy at a time, applied or running.
CREATE UNIQUE INDEX tenancies_one_open ON tenancies (team) WHERE status IN ('applied', 'admitted');

-- An admission's agreement. A space is never held by two agreements on
-- the same day: the exclusion constraint compares the space (as a range
-- of one, so that no extension is needed) and the days it is held, from
-- start_on until released_on (the first day free again, set when the
-- tenant graduates or leaves; a tenant who leaves before the start never
-- held it) or else through end_on.
CREATE TABLE agreements (
    tenancy                bigint PRIMARY KEY REFERENCES tenancies,
    space                  bigint REFERENCES spaces,
    start_on               date NOT NULL,
    end_on                 date NOT NULL,
    released_on            date,
    rent_fen_per_m2_month  bigint NOT NULL,
    relief_bp              bigint NOT NULL CHECK (relief_bp BETWEEN 0 AND 10000),
    monthly_rent_fen       bigint NOT NULL CHECK (monthly_rent_fen >= 0),
    CONSTRAINT agreement_period CHECK (end_on >= start_on),
    CONSTRAINT agreement_space_once EXCLUDE USING gist (
        int8range(space, space, '[]') WITH &&,
        daterange(start_on, coalesce(released_on, end_on + 1), '[)') WITH &&)
        WHERE (space IS NOT NULL AND (released_on IS NULL OR released_on > start_on))
);
CREATE INDEX agreements_space ON agreements (space);

-- What graduation from a type of carrier asks, from a day on.
CREATE TABLE graduation_criteria (
    agency         text NOT NULL,
    carrier_type   text NOT NULL,
    effective_from date NOT NULL,
    criterion      text NOT NULL CHECK (criterion IN ('months_in_residence', 'revenue_fen',
                                                      'financing_fen', 'jobs', 'registered')),
    minimum        bigint NOT NULL CHECK (minimum >= 0),
    required       boolean NOT NULL,
    document       text NOT NULL,
    recorded_by    text NOT NULL,
    PRIMARY KEY (agency, carrier_type, effective_from, criterion)
);

CREATE TABLE graduations (
    tenancy        bigint PRIMARY KEY REFERENCES tenancies,
    graduated_on   date NOT NULL,
    successful     boolean NOT NULL,
    revenue_fen    bigint NOT NULL CHECK (revenue_fen >= 0),
    financing_fen  bigint NOT NULL CHECK (financing_fen >= 0),
    jobs           bigint NOT NULL CHECK (jobs >= 0),
    criteria       jsonb NOT NULL,          -- each criterion as tested
    decided_by     text NOT NULL,
    -- The incubation subsidy finance opened, as its events report it.
    subsidy_application bigint,
    subsidy_status      text NOT NULL DEFAULT '',
    subsidy_fen         bigint NOT NULL DEFAULT 0
);

-- Rent relief by founder category is a dated rule (common rules),
-- "rent_relief_bp.<CATEGORY>", set by an agency where its policy gives one:
-- the highest a founder of the team holds applies; a government-run base's
-- tenants pay no rent. A founder's category raises the team's place in the
-- admission queue by the rule "admission_priority.<CATEGORY>": veterans
-- are admitted first to government-funded bases (seed 003).
INSERT INTO chuang_rules (agency, name, effective_from, value, document) VALUES
    ('', 'admission_priority.VETERAN', '2015-01-01', 10, '退役军人优先入驻政府投资孵化基地');
