-- registry_tx_full.sql - pgbench script: every statement chuang-registry
-- sends PostgreSQL for one RegisterEntity, in its order, in one transaction
-- (common/service_worker.c, common/idempotency.c, services/registry/
-- handlers_entities.c handle_register and store_entities.c,
-- common/outbox.c):
--   BEGIN; the idempotency claim; the reservation locked; the organisation
--   number drawn; the writes of registry_tx.sql (entity, 2 founders,
--   2 addresses, reservation used, history started); the entity read back
--   (entity, founders,
--   addresses); the event into chuang_outbox; the audit record; the reply
--   recorded under the idempotency key; COMMIT.
-- The credit code is made from n, not from the organisation number (the
-- registry computes it in C; the nextval is kept for its cost).
--
-- Variables (pgbench -D), besides run, k and payload of registry_tx.sql:
--   input    the packed RegisterRequest as bytea text ("\x...")
--   reply    the packed chuang.Reply recorded under the key ("\x...")
-- Run with -M extended (or prepared) and search_path registry, as registry_tx.sql.
\set k :k + 1
\set n :run * 100000000 + :client_id * 100000 + :k
BEGIN;
INSERT INTO chuang_idempotency (scope, key, method, request_hash) VALUES (E'330106\nbench\n\n', md5('key' || :n), 'RegisterEntity', md5(convert_to('RegisterEntity' || E'\n' || 'officer,' || E'\n', 'UTF8') || :input::bytea)) ON CONFLICT (scope, key) DO NOTHING RETURNING 1;
SELECT name, trade_name, industry, form, status, expires_on, expires_on < chuang_today('330106') FROM name_reservations WHERE agency = '330106' AND id = ('bbbbbbbb-0000-4000-8000-' || lpad(:n::text, 12, '0'))::uuid FOR UPDATE;
SELECT nextval('organisation_numbers');
INSERT INTO entities (credit_code, agency, name, trade_name, industry, entity_type, legal_rep_name, legal_rep_id_number, legal_rep_phone, registered_capital_fen, business_scope, industry_code, reservation_id, registered_on) VALUES ('P' || lpad(:n::text, 17, '0'), '330106', '杭州P' || :n || '网络科技有限公司', 'P' || :n, '网络科技', 1::smallint, '李四', '330106199003071236', '13812345678', 100000000::bigint, '网络技术开发、技术服务', 'I6513', ('bbbbbbbb-0000-4000-8000-' || lpad(:n::text, 12, '0'))::uuid, chuang_today('330106'));
INSERT INTO founders (credit_code, position, name, id_number, phone, categories, subscribed_capital_fen) VALUES ('P' || lpad(:n::text, 17, '0'), 0, '李四', '330106199003071236', '13900001111', '{1,2}'::smallint[], 50000000::bigint);
INSERT INTO founders (credit_code, position, name, id_number, phone, categories, subscribed_capital_fen) VALUES ('P' || lpad(:n::text, 17, '0'), 1, '王五', '330106200001014567', '13900001111', '{1,2}'::smallint[], 50000000::bigint);
WITH found AS (INSERT INTO addresses (division_code, detail) VALUES ('330106', '文三路 P' || :n || ' 号 1 幢 501 室') ON CONFLICT (division_code, detail) DO UPDATE SET detail = EXCLUDED.detail RETURNING id) INSERT INTO entity_addresses (credit_code, address_id, kind, position) SELECT 'P' || lpad(:n::text, 17, '0'), id, 'domicile', 0 FROM found;
WITH found AS (INSERT INTO addresses (division_code, detail) VALUES ('330106', '西溪路 P' || :n || ' 号') ON CONFLICT (division_code, detail) DO UPDATE SET detail = EXCLUDED.detail RETURNING id) INSERT INTO entity_addresses (credit_code, address_id, kind, position) SELECT 'P' || lpad(:n::text, 17, '0'), id, 'business', 0 FROM found;
UPDATE name_reservations SET status = 'used' WHERE id = ('bbbbbbbb-0000-4000-8000-' || lpad(:n::text, 12, '0'))::uuid;
INSERT INTO entity_history (credit_code, field, value, valid_from) SELECT e.credit_code, f.field, f.value, now() FROM entities e CROSS JOIN LATERAL (VALUES ('name', e.name), ('legal_representative.name', e.legal_rep_name), ('legal_representative.id_number', e.legal_rep_id_number), ('legal_representative.phone', e.legal_rep_phone), ('registered_capital_fen', e.registered_capital_fen::text), ('business_scope', e.business_scope), ('industry_code', e.industry_code), ('domicile', (SELECT a.division_code || ' ' || a.detail FROM entity_addresses ea JOIN addresses a ON a.id = ea.address_id WHERE ea.credit_code = e.credit_code AND ea.kind = 'domicile'))) AS f (field, value) WHERE e.credit_code = 'P' || lpad(:n::text, 17, '0');
SELECT credit_code, name, entity_type, legal_rep_name, legal_rep_id_number, legal_rep_phone, registered_capital_fen, business_scope, industry_code, registered_on, status, agency FROM entities WHERE credit_code = 'P' || lpad(:n::text, 17, '0');
SELECT name, id_number, phone, categories, subscribed_capital_fen FROM founders WHERE credit_code = 'P' || lpad(:n::text, 17, '0') ORDER BY position;
SELECT a.division_code, a.detail, e.kind FROM entity_addresses e JOIN addresses a ON a.id = e.address_id WHERE e.credit_code = 'P' || lpad(:n::text, 17, '0') ORDER BY e.kind DESC, e.position;
INSERT INTO chuang_outbox (id, agency, type, aggregate_id, visibility, payload_type, payload, trace_id) VALUES (gen_random_uuid(), '330106', 'registry.EntityRegistered', 'P' || lpad(:n::text, 17, '0'), 2, 'chuang.registry.Entity', :payload::bytea, md5('trace' || :n));
INSERT INTO chuang_audit (agency, principal, kind, person, method, aggregates, request_hash, outcome) VALUES ('330106', 'bench', 'plain', '', 'RegisterEntity', ARRAY['P' || lpad(:n::text, 17, '0')]::text[], encode(sha256(:input::bytea), 'hex'), 'ok');
UPDATE chuang_idempotency SET reply = :reply::bytea WHERE scope = E'330106\nbench\n\n' AND key = md5('key' || :n);
COMMIT;
