-- registry_tx_setup.sql - the name reservations that registry_tx.sql and
-- registry_tx_full.sql consume: one pgbench run (:run, 1..9) has, for each of
-- its clients (:clients), :per_client reservations numbered
--     n = run * 100000000 + client_id * 100000 + k      (k = 1 .. per_client)
-- with the id bbbbbbbb-0000-4000-8000-<n in 12 digits>, the trade name P<n>
-- and the name 杭州P<n>网络科技有限公司, reserved today for 30 days, as
-- ReserveName would have left them (status 'reserved').
--
--   psql -X -v ON_ERROR_STOP=1 -v run=1 -v clients=8 -v per_client=5000 \
--        -f registry_tx_setup.sql          (as the registry's role; search_path
--                                           registry, e.g. PGOPTIONS)
INSERT INTO name_reservations (id, agency, name, region, trade_name, industry, form,
                               applicant_name, applicant_id_number, reserved_on, expires_on)
SELECT ('bbbbbbbb-0000-4000-8000-' || lpad(x.n::text, 12, '0'))::uuid, '330106',
       '杭州P' || x.n || '网络科技有限公司', '杭州', 'P' || x.n, '网络科技', '有限公司',
       '张三', '11010519491231002X', chuang_today('330106'), chuang_today('330106') + 30
  FROM generate_series(0, :clients - 1) AS c(client_id),
       generate_series(1, :per_client) AS k(k),
       LATERAL (SELECT :run::bigint * 100000000 + c.client_id * 100000 + k.k AS n) AS x;
