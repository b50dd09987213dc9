#!/bin/bash
# apply_writes 'at_commit': a time-out (timeout_ms) and a cancel
# (pg_cancel_backend) during COMMIT's sends.  The COMMIT fails with the
# error that stopped it, what it had applied is undone, and what it cannot
# undo (revokes whose outcome is unknown: in flight when the cancel came, or
# past their time-out) is named in the error's DETAIL and in
# checkpoint_perms_journal().  statement_timeout does not reach a COMMIT's
# sends: PostgreSQL disables it before the commit itself runs.  Needs the
# server and mock of test/run-tests.sh.
set -euo pipefail

. "$(dirname "$0")/session_db.sh"
cp_session_db cp_at_commit
CP_OUT=$(mktemp)
psql_ <<SQL
CREATE SERVER mock_quick FOREIGN DATA WRAPPER checkpoint_perms
  OPTIONS (base_url '$MOCK_URL', timeout_ms '700', max_retries '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER mock_quick OPTIONS (api_key '$MOCK_KEY');
CREATE FOREIGN TABLE slow_revokes (id text, project_id text)
  SERVER mock_quick OPTIONS (checkpoint 'ft:atcx:timeout:seed-3:delete-fail-2-stall', apply_writes 'at_commit');
CREATE FOREIGN TABLE slow_revokes2 (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:atcx:cancel:seed-3:delete-slow-2000', apply_writes 'at_commit');
SQL

# timeout_ms: the grant is applied, the two revokes time out (the mock does
# them, then answers nothing for 2 s: the API acted, the reply is lost), and
# the undo revokes the grant
out=$(psql_ -v ON_ERROR_STOP=0 2>&1 <<'SQL' || true
\set VERBOSITY default
BEGIN;
INSERT INTO slow_revokes (project_id) VALUES ('proj_new');
DELETE FROM slow_revokes WHERE project_id IN ('proj_0001', 'proj_0002');
SET statement_timeout = '300ms';
COMMIT;
RESET statement_timeout;
SELECT 'journal: ' || string_agg(action || ' ' || project_id || ' ' || outcome, ', ' ORDER BY action, project_id)
  FROM checkpoint_perms_journal() WHERE transaction = 'previous';
SELECT 'projects: ' || string_agg(project_id, ', ' ORDER BY project_id) FROM slow_revokes;
SQL
)
echo "$out"
check "COMMIT fails with the time-out's error, not statement_timeout's" "ERROR:  OpenAI API request timed out" \
	"$(echo "$out" | grep '^ERROR' || true)"
check "the DETAIL names the revokes whose outcome is unknown" "2" \
	"$(echo "$out" | grep '^DETAIL' | grep -o 'revoke of unknown outcome (ft:atcx:timeout:seed-3:delete-fail-2-stall, proj_000[12], cp_' | wc -l)"
check "the journal: the grant undone, the revokes unknown" \
	"journal: grant proj_new undone, revoke proj_0001 unknown, revoke proj_0002 unknown" \
	"$(echo "$out" | grep '^journal: ' || true)"
check "the grant is gone from the API (the revokes it timed out on were done)" "projects: proj_0003" \
	"$(echo "$out" | grep '^projects: ' || true)"

# pg_cancel_backend from another session while COMMIT waits on the revokes
PGAPPNAME=atc_cancel psql_ >"$CP_OUT" 2>&1 <<'SQL' &
\set VERBOSITY default
BEGIN;
INSERT INTO slow_revokes2 (project_id) VALUES ('proj_new');
DELETE FROM slow_revokes2 WHERE project_id = 'proj_0001';
COMMIT;
SQL
pid=$!
for i in $(seq 1 100); do
	q=$(psql_ -c "SELECT query FROM pg_stat_activity WHERE application_name = 'atc_cancel' AND wait_event IS NOT NULL AND state = 'active'")
	[ "$q" = "COMMIT;" ] && break
	sleep 0.05
done
sleep 0.3
psql_ -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'atc_cancel'" >/dev/null
wait "$pid" || true
cat "$CP_OUT"
check "COMMIT fails with the cancel's error" "ERROR:  canceling statement due to user request" \
	"$(grep '^ERROR' "$CP_OUT" || true)"
check "the DETAIL names the revoke whose outcome is unknown" "1" \
	"$(grep '^DETAIL' "$CP_OUT" | grep -o 'revoke of unknown outcome (ft:atcx:cancel:seed-3:delete-slow-2000, proj_0001, cp_' | wc -l)"
check "the grant is gone from the API" "proj_0002 proj_0003" \
	"$(psql_ -c "SELECT string_agg(project_id, ' ' ORDER BY project_id) FROM slow_revokes2 WHERE project_id <> 'proj_0001'")"

"$PG_BIN/psql" -X -q -c "DROP DATABASE $db"
rm -f "$CP_OUT"
exit "$failed"
