-- Competition placings and recognitions (大赛获奖、认定) of the agency's
-- entities, as an officer records them from their certificates. A reward
-- programme tests them with the condition facts recognition_kind,
-- recognition_level and competition_place on the recognition its
-- application's subject names by certificate number: the certificate is
-- the same at every level, so the award register matches one level's
-- reward for it against another's (exclude, top_up 1:1 or a ratio of the
-- highest).
CREATE TABLE recognitions (
    agency       text NOT NULL,
    certificate  text NOT NULL,            -- the certificate's number
    credit_code  text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('competition', 'recognition')),
    name         text NOT NULL,            -- e.g. 中国创新创业大赛, 高新技术企业
    level        text NOT NULL CHECK (level IN ('town', 'district', 'city', 'province',
                                                'national')),
    place        int CHECK (place BETWEEN 1 AND 99), -- a competition's; NULL for a recognition
    awarded_on   date NOT NULL,
    recorded_by  text NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agency, certificate),
    CONSTRAINT recognition_place CHECK ((kind = 'competition') = (place IS NOT NULL))
);
CREATE TRIGGER recognitions_immutable BEFORE UPDATE OR DELETE ON recognitions
    FOR EACH ROW EXECUTE FUNCTION finance_immutable();
