-- An idempotency key belongs to the caller who sent it: the agency, the
-- authenticated principal and the person it acts for. Two callers who pick
-- the same key never see each other's replies.
ALTER TABLE chuang_idempotency ADD COLUMN scope text NOT NULL DEFAULT '';
ALTER TABLE chuang_idempotency DROP CONSTRAINT chuang_idempotency_pkey;
ALTER TABLE chuang_idempotency ADD PRIMARY KEY (scope, key);
