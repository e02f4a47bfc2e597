-- registry_tx.sql - pgbench script: the rows one RegisterEntity writes, as
-- store_entity_add (services/registry/store_entities.c) and outbox_write
-- (common/outbox.c) write them, in one transaction:
--   the entity, its 2 founders, its 2 addresses (domicile and one business
--   address, each an upsert into addresses and a link row), the reservation
--   marked used, the start of its history (8 entity_history rows from one
--   INSERT ... SELECT, store_history_start), and the registry.EntityRegistered
--   event in chuang_outbox.
-- Only the writes: registry_tx_full.sql adds the statements the service
-- framework and the handler send besides (idempotency claim and record, the
-- reservation lock, the organisation number, the reload of the entity).
--
-- Variables (pgbench -D; the statements take them as parameters, so run it
-- with -M extended, as the registry's PQexecParams does, or -M prepared):
--   run      which reservations of registry_tx_setup.sql to consume (1..9)
--   k        0 at the start: each transaction counts it up, per client, so
--            that n = run * 100000000 + client_id * 100000 + k is unique
--   payload  the event payload as bytea text ("\x..."): a packed
--            chuang.registry.Entity of the size the registry writes
-- and search_path registry (PGOPTIONS='-c search_path=registry').
--
--   pgbench -n -M extended -f registry_tx.sql -D run=1 -D k=0 -D payload='\x...' \
--           -c 8 -j 2 -T 5
\set k :k + 1
\set n :run * 100000000 + :client_id * 100000 + :k
BEGIN;
INSERT INTO entities (credit_code, agency, name, trade_name, industry, entity_type, legal_rep_name, legal_rep_id_number, legal_rep_phone, registered_capital_fen, business_scope, industry_code, reservation_id, registered_on) VALUES ('P' || lpad(:n::text, 17, '0'), '330106', '杭州P' || :n || '网络科技有限公司', 'P' || :n, '网络科技', 1::smallint, '李四', '330106199003071236', '13812345678', 100000000::bigint, '网络技术开发、技术服务', 'I6513', ('bbbbbbbb-0000-4000-8000-' || lpad(:n::text, 12, '0'))::uuid, chuang_today('330106'));
INSERT INTO founders (credit_code, position, name, id_number, phone, categories, subscribed_capital_fen) VALUES ('P' || lpad(:n::text, 17, '0'), 0, '李四', '330106199003071236', '13900001111', '{1,2}'::smallint[], 50000000::bigint);
INSERT INTO founders (credit_code, position, name, id_number, phone, categories, subscribed_capital_fen) VALUES ('P' || lpad(:n::text, 17, '0'), 1, '王五', '330106200001014567', '13900001111', '{1,2}'::smallint[], 50000000::bigint);
WITH found AS (INSERT INTO addresses (division_code, detail) VALUES ('330106', '文三路 P' || :n || ' 号 1 幢 501 室') ON CONFLICT (division_code, detail) DO UPDATE SET detail = EXCLUDED.detail RETURNING id) INSERT INTO entity_addresses (credit_code, address_id, kind, position) SELECT 'P' || lpad(:n::text, 17, '0'), id, 'domicile', 0 FROM found;
WITH found AS (INSERT INTO addresses (division_code, detail) VALUES ('330106', '西溪路 P' || :n || ' 号') ON CONFLICT (division_code, detail) DO UPDATE SET detail = EXCLUDED.detail RETURNING id) INSERT INTO entity_addresses (credit_code, address_id, kind, position) SELECT 'P' || lpad(:n::text, 17, '0'), id, 'business', 0 FROM found;
UPDATE name_reservations SET status = 'used' WHERE id = ('bbbbbbbb-0000-4000-8000-' || lpad(:n::text, 12, '0'))::uuid;
INSERT INTO entity_history (credit_code, field, value, valid_from) SELECT e.credit_code, f.field, f.value, now() FROM entities e CROSS JOIN LATERAL (VALUES ('name', e.name), ('legal_representative.name', e.legal_rep_name), ('legal_representative.id_number', e.legal_rep_id_number), ('legal_representative.phone', e.legal_rep_phone), ('registered_capital_fen', e.registered_capital_fen::text), ('business_scope', e.business_scope), ('industry_code', e.industry_code), ('domicile', (SELECT a.division_code || ' ' || a.detail FROM entity_addresses ea JOIN addresses a ON a.id = ea.address_id WHERE ea.credit_code = e.credit_code AND ea.kind = 'domicile'))) AS f (field, value) WHERE e.credit_code = 'P' || lpad(:n::text, 17, '0');
INSERT INTO chuang_outbox (id, agency, type, aggregate_id, visibility, payload_type, payload, trace_id) VALUES (gen_random_uuid(), '330106', 'registry.EntityRegistered', 'P' || lpad(:n::text, 17, '0'), 2, 'chuang.registry.Entity', :payload::bytea, md5('trace' || :n));
COMMIT;
