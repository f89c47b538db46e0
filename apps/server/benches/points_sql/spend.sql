-- One spend as the server runs it: conditional balance update, lot consumption,
-- ledger entry, audit append, stored response.
\set m random(1, :members)
\set k random(1, 4000000000000000000)
INSERT INTO idempotency_keys (scope, idem_key, request_hash, state, created_at, expires_at) VALUES ('1:points:spend', 'pg' || :k, 'h', 'in_progress', now(), now() + interval '1 day');
BEGIN;
UPDATE points_profiles SET total_points = total_points - 3, lifetime_points = lifetime_points - 0, updated_at = now() WHERE tenant_id = 1 AND member_id = 'm' || :m AND total_points >= 3 RETURNING id, total_points, frozen_points, lifetime_points, level_id;
SELECT l.id, l.remaining_points FROM points_lots l JOIN points_profiles p ON p.id = l.profile_id WHERE p.tenant_id = 1 AND p.member_id = 'm' || :m AND l.remaining_points > 0 ORDER BY l.expires_at ASC NULLS LAST, l.id ASC;
UPDATE points_lots SET remaining_points = remaining_points - 3 WHERE id = (SELECT l.id FROM points_lots l JOIN points_profiles p ON p.id = l.profile_id WHERE p.tenant_id = 1 AND p.member_id = 'm' || :m AND l.remaining_points >= 3 ORDER BY l.expires_at ASC NULLS LAST, l.id ASC LIMIT 1);
INSERT INTO points_entries (tenant_id, profile_id, member_id, entry_type, points_delta, frozen_delta, balance_after, category, reason, operator_id, operator_name, request_id, idempotency_key, created_at) SELECT 1, id, member_id, 'spend', -3, 0, total_points, 'spend', '', 2, 'admin', 'pgbench', 'pg' || :k, now() FROM points_profiles WHERE tenant_id = 1 AND member_id = 'm' || :m;
INSERT INTO audit_chain_heads (tenant_id, last_seq, last_hash) VALUES (1, 0, 'genesis') ON CONFLICT (tenant_id) DO NOTHING;
SELECT tenant_id, last_seq, last_hash FROM audit_chain_heads WHERE tenant_id = 1 FOR UPDATE;
INSERT INTO audit_logs (tenant_id, seq, actor_id, actor_name, action, target_type, target_id, request_id, ip, user_agent, summary, created_at, prev_hash, hash) SELECT 1, last_seq + 1, 2, 'admin', 'points.spend', 'points_member', 'm' || :m, 'pgbench', '127.0.0.1', 'pgbench', '{"points_delta":-3}', now(), last_hash, md5(last_hash || :k) FROM audit_chain_heads WHERE tenant_id = 1;
UPDATE audit_chain_heads SET last_seq = last_seq + 1, last_hash = md5(last_hash || :k) WHERE tenant_id = 1;
UPDATE idempotency_keys SET state = 'completed', response_status = 201, response_body = '{"ok":{}}' WHERE scope = '1:points:spend' AND idem_key = 'pg' || :k;
COMMIT;
