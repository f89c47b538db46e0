-- One spend as the server runs it: conditional balance update, lot consumption (the
-- first live lots in the order of ix_points_lots_live, 3 points taken across as many
-- of them as it needs, so the lots still sum to the balance), ledger entry, audit
-- record (unlinked), idempotency key with its stored response.
\set m random(1, :members)
\set k random(1, 4000000000000000000)
BEGIN;
UPDATE points_profiles SET total_points = total_points - 3, lifetime_points = lifetime_points - 0, updated_at = now() WHERE tenant_id = 1 AND member_id = 'm' || :m AND total_points >= 3 RETURNING id, total_points, frozen_points, lifetime_points, level_id;
SELECT id, remaining_points FROM points_lots WHERE profile_id = (SELECT id FROM points_profiles WHERE tenant_id = 1 AND member_id = 'm' || :m) AND tenant_id = 1 AND remaining_points > 0 ORDER BY expires_at ASC NULLS LAST, id ASC LIMIT 16;
UPDATE points_lots l SET remaining_points = l.remaining_points - t.take FROM (SELECT id, LEAST(remaining_points, 3 - COALESCE(SUM(remaining_points) OVER (ORDER BY expires_at ASC NULLS LAST, id ASC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)) AS take FROM (SELECT id, remaining_points, expires_at FROM points_lots WHERE profile_id = (SELECT id FROM points_profiles WHERE tenant_id = 1 AND member_id = 'm' || :m) AND tenant_id = 1 AND remaining_points > 0 ORDER BY expires_at ASC NULLS LAST, id ASC LIMIT 16) live) t WHERE l.id = t.id AND t.take > 0;
INSERT INTO points_entries (tenant_id, profile_id, member_id, entry_type, points_delta, frozen_delta, balance_after, category, reason, operator_id, operator_name, request_id, idempotency_key, created_at) SELECT 1, id, member_id, 'spend', -3, 0, total_points, 'spend', '', 2, 'admin', 'pgbench', 'pg' || :k, now() FROM points_profiles WHERE tenant_id = 1 AND member_id = 'm' || :m;
INSERT INTO audit_logs (tenant_id, seq, actor_id, actor_name, action, target_type, target_id, request_id, ip, user_agent, summary, created_at, prev_hash, hash) VALUES (1, NULL, 2, 'admin', 'points.spend', 'points_member', 'm' || :m, 'pgbench', '127.0.0.1', 'pgbench', '{"points_delta":-3}', now(), NULL, NULL) RETURNING id;
INSERT INTO idempotency_keys (scope, idem_key, request_hash, state, response_status, response_body, created_at, expires_at) VALUES ('1:points:spend', 'pg' || :k, 'h', 'completed', 201, '{"ok":{}}', now(), now() + interval '1 day') ON CONFLICT (scope, idem_key) DO UPDATE SET request_hash = excluded.request_hash, state = excluded.state, response_status = excluded.response_status, response_body = excluded.response_body, created_at = excluded.created_at, expires_at = excluded.expires_at WHERE idempotency_keys.expires_at <= now();
COMMIT;
