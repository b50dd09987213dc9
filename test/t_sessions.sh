#!/bin/bash
# What takes two sessions: EvalPlanQual rechecks the filter that was sent to
# the API, and two sessions revoking disjoint projects of one checkpoint at
# once both succeed against a mock that refuses revoked cursors.  Needs the
# server and mock that test/run-tests.sh starts (PGHOST, MOCK_URL, ...).
set -euo pipefail

. "$(dirname "$0")/session_db.sh"
cp_session_db cp_sessions
psql_ <<SQL
CREATE FOREIGN TABLE perms (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:sessions:epq:seed-40:proj-4');
CREATE TABLE loc (k int PRIMARY KEY, p text, hits int DEFAULT 0);
INSERT INTO loc (k, p) VALUES (1, 'proj_0001');
ANALYZE loc;
SQL

# Session A changes loc.p and holds the row lock until session B waits on it;
# B's UPDATE joins loc to perms by a parameterized scan (?project_id=), so
# when A commits, B rechecks the permission row it holds against the new
# loc.p: it no longer matches, and B updates nothing.
plan=$(psql_ <<'SQL'
SET enable_hashjoin = off; SET enable_mergejoin = off; SET enable_material = off;
EXPLAIN (COSTS OFF) UPDATE loc SET hits = hits + 1 FROM perms
  WHERE perms.project_id = loc.p AND loc.k = 1;
SQL
)
case "$plan" in
*"Nested Loop"*"project_id={loc.p}"*) echo "ok: the join sends loc.p to the API" ;;
*) echo "FAILED: not a parameterized nested loop:"; echo "$plan"; failed=1 ;;
esac

out=$(mktemp)
PGAPPNAME=epq_a psql_ <<'SQL' >/dev/null &
BEGIN;
UPDATE loc SET p = 'proj_0002' WHERE k = 1;
DO $$
BEGIN
  FOR i IN 1..200 LOOP
    EXIT WHEN EXISTS (SELECT 1 FROM pg_stat_activity
                      WHERE application_name = 'epq_b' AND wait_event_type = 'Lock');
    PERFORM pg_sleep(0.05);
  END LOOP;
END $$;
COMMIT;
SQL
a=$!
for i in $(seq 1 100); do
	[ "$(psql_ -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'epq_a' AND query LIKE 'DO%'")" = 1 ] && break
	sleep 0.05
done
PGAPPNAME=epq_b "$PG_BIN/psql" -X -At -v ON_ERROR_STOP=1 -d "$db" >"$out" 2>&1 <<'SQL' || true
SET enable_hashjoin = off; SET enable_mergejoin = off; SET enable_material = off;
UPDATE loc SET hits = hits + 1 FROM perms WHERE perms.project_id = loc.p AND loc.k = 1;
SQL
wait "$a"
check "EvalPlanQual rechecks project_id against the new loc.p" "UPDATE 0" "$(grep UPDATE "$out" || cat "$out")"
check "loc row after both sessions" "proj_0002|0" "$(psql_ -c 'SELECT p, hits FROM loc')"

# Two sessions revoke disjoint projects of one checkpoint at once.  The mock
# refuses a cursor whose permission was revoked, and each slows its replies
# so that the two statements overlap.
ckpt='ft:sessions:revoke:seed-600:proj-6:slow-5'
psql_ -c "CREATE FOREIGN TABLE shared (id text, project_id text) SERVER mock OPTIONS (checkpoint '$ckpt', page_size '20')"
o1=$(mktemp)
o2=$(mktemp)
PGAPPNAME=revoke_1 "$PG_BIN/psql" -X -At -d "$db" \
	-c "DELETE FROM shared WHERE project_id IN ('proj_0001', 'proj_0002', 'proj_0003')" >"$o1" 2>&1 &
p1=$!
PGAPPNAME=revoke_2 "$PG_BIN/psql" -X -At -d "$db" \
	-c "DELETE FROM shared WHERE project_id IN ('proj_0004', 'proj_0005')" >"$o2" 2>&1 &
p2=$!
wait "$p1" || true
wait "$p2" || true
check "session 1 revokes its three projects" "DELETE 300" "$(cat "$o1")"
check "session 2 revokes its two projects" "DELETE 200" "$(cat "$o2")"
check "what is left" "proj_0006|100" "$(psql_ -c 'SELECT project_id, count(*) FROM shared GROUP BY 1')"

"$PG_BIN/psql" -X -q -c "DROP DATABASE $db"
rm -f "$out" "$o1" "$o2"
exit "$failed"
