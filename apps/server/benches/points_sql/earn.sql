-- One earn as the server runs it (tenant 1, members m1..m:members): one transaction
-- with the balance upsert, the ledger entry, the lot, the audit record (inserted
-- unlinked: the server's audit linker chains it after the commit) and the
-- idempotency key with its stored response.
\set m random(1, :members)
\set k random(1, 4000000000000000000)
BEGIN;
INSERT INTO points_profiles (tenant_id, member_id, total_points, frozen_points, lifetime_points, created_at, updated_at) VALUES (1, 'm' || :m, 5, 0, 5, now(), now()) ON CONFLICT (tenant_id, member_id) DO UPDATE SET total_points = points_profiles.total_points + excluded.total_points, lifetime_points = points_profiles.lifetime_points + excluded.lifetime_points, updated_at = excluded.updated_at RETURNING id, total_points, frozen_points, lifetime_points, level_id;
INSERT INTO points_entries (tenant_id, profile_id, member_id, entry_type, points_delta, frozen_delta, balance_after, category, reason, operator_id, operator_name, request_id, idempotency_key, created_at) SELECT 1, id, member_id, 'earn', 5, 0, total_points, 'login', '', 2, 'admin', 'pgbench', 'pg' || :k, now() FROM points_profiles WHERE tenant_id = 1 AND member_id = 'm' || :m RETURNING id;
INSERT INTO points_lots (tenant_id, profile_id, entry_id, original_points, remaining_points, expires_at, created_at) SELECT 1, id, 0, 5, 5, NULL, now() FROM points_profiles WHERE tenant_id = 1 AND member_id = 'm' || :m;
INSERT INTO audit_logs (tenant_id, seq, actor_id, actor_name, action, target_type, target_id, request_id, ip, user_agent, summary, created_at, prev_hash, hash) VALUES (1, NULL, 2, 'admin', 'points.earn', 'points_member', 'm' || :m, 'pgbench', '127.0.0.1', 'pgbench', '{"points_delta":5}', now(), NULL, NULL) RETURNING id;
INSERT INTO idempotency_keys (scope, idem_key, request_hash, state, response_status, response_body, created_at, expires_at) VALUES ('1:points:earn', 'pg' || :k, 'h', 'completed', 201, '{"ok":{}}', now(), now() + interval '1 day') ON CONFLICT (scope, idem_key) DO UPDATE SET request_hash = excluded.request_hash, state = excluded.state, response_status = excluded.response_status, response_body = excluded.response_body, created_at = excluded.created_at, expires_at = excluded.expires_at WHERE idempotency_keys.expires_at <= now();
COMMIT;
