-- One earn as the server runs it (tenant 1, members m1..m:members): the idempotency
-- claim commits on its own, then one transaction with the balance upsert, the ledger
-- entry, the lot, the audit append (chain head locked) and the stored response.
\set m random(1, :members)
\set k random(1, 4000000000000000000)
INSERT INTO idempotency_keys (scope, idem_key, request_hash, state, created_at, expires_at) VALUES ('1:points:earn', 'pg' || :k, 'h', 'in_progress', now(), now() + interval '1 day');
BEGIN;
INSERT INTO points_profiles (tenant_id, member_id, total_points, frozen_points, lifetime_points, created_at, updated_at) VALUES (1, 'm' || :m, 5, 0, 5, now(), now()) ON CONFLICT (tenant_id, member_id) DO UPDATE SET total_points = points_profiles.total_points + excluded.total_points, lifetime_points = points_profiles.lifetime_points + excluded.lifetime_points, updated_at = excluded.updated_at RETURNING id, total_points, frozen_points, lifetime_points, level_id;
INSERT INTO points_entries (tenant_id, profile_id, member_id, entry_type, points_delta, frozen_delta, balance_after, category, reason, operator_id, operator_name, request_id, idempotency_key, created_at) SELECT 1, id, member_id, 'earn', 5, 0, total_points, 'login', '', 2, 'admin', 'pgbench', 'pg' || :k, now() FROM points_profiles WHERE tenant_id = 1 AND member_id = 'm' || :m RETURNING id;
INSERT INTO points_lots (tenant_id, profile_id, entry_id, original_points, remaining_points, expires_at, created_at) SELECT 1, id, 0, 5, 5, NULL, now() FROM points_profiles WHERE tenant_id = 1 AND member_id = 'm' || :m;
INSERT INTO audit_chain_heads (tenant_id, last_seq, last_hash) VALUES (1, 0, 'genesis') ON CONFLICT (tenant_id) DO NOTHING;
SELECT tenant_id, last_seq, last_hash FROM audit_chain_heads WHERE tenant_id = 1 FOR UPDATE;
INSERT INTO audit_logs (tenant_id, seq, actor_id, actor_name, action, target_type, target_id, request_id, ip, user_agent, summary, created_at, prev_hash, hash) SELECT 1, last_seq + 1, 2, 'admin', 'points.earn', 'points_member', 'm' || :m, 'pgbench', '127.0.0.1', 'pgbench', '{"points_delta":5}', now(), last_hash, md5(last_hash || :k) FROM audit_chain_heads WHERE tenant_id = 1;
UPDATE audit_chain_heads SET last_seq = last_seq + 1, last_hash = md5(last_hash || :k) WHERE tenant_id = 1;
UPDATE idempotency_keys SET state = 'completed', response_status = 201, response_body = '{"ok":{}}' WHERE scope = '1:points:earn' AND idem_key = 'pg' || :k;
COMMIT;
