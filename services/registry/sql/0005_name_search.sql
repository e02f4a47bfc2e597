-- Name search at scale. SearchNames finds the names that contain a piece of
-- text (strpos), which without an index reads every entity and reservation:
-- with a million entities, one public search took a core for seconds.
-- Chinese names have no word boundaries and most searches are two
-- characters, which trigram indexes (pg_trgm) cannot narrow down. So every
-- name carries the set of its characters and of its pairs of adjacent
-- characters, in a GIN index: a name that contains the text contains each of
-- the text's pairs (or, for one character, that character), so those find
-- every candidate, and strpos keeps the names that really contain it.

-- The characters of name and its pairs of adjacent characters, each once.
CREATE FUNCTION name_grams(name text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT gram ORDER BY gram), '{}')
    FROM (SELECT substr(name, i, 1) FROM generate_series(1, char_length(name)) AS i
          UNION ALL
          SELECT substr(name, i, 2) FROM generate_series(1, char_length(name) - 1) AS i)
         AS g (gram)
$$;

-- What a name containing text must hold: text itself when it is one
-- character, else its pairs of adjacent characters.
CREATE FUNCTION name_query_grams(text text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN char_length(text) = 1 THEN ARRAY[text]
                ELSE coalesce((SELECT array_agg(DISTINCT substr(text, i, 2))
                               FROM generate_series(1, char_length(text) - 1) AS i), '{}')
           END
$$;

ALTER TABLE entities ADD COLUMN name_grams text[] GENERATED ALWAYS AS (name_grams(name)) STORED;
CREATE INDEX entities_name_grams ON entities USING gin (name_grams);
ALTER TABLE name_reservations
    ADD COLUMN name_grams text[] GENERATED ALWAYS AS (name_grams(name)) STORED;
-- Only live reservations are searched; most are used up once the register
-- is large, and would be read only to be filtered out.
CREATE INDEX name_reservations_name_grams ON name_reservations USING gin (name_grams)
    WHERE status = 'reserved';
