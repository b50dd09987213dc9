#!/bin/bash
# The API key appears nowhere but the user mapping: not in errors, notices,
# EXPLAIN (VERBOSE, ANALYZE) or the server log, with every message level
# down to DEBUG5 sent to both.  Needs the server and mock of run-tests.sh.
set -euo pipefail

LOG=$PGHOST/postgres.log
start=$(stat -c %s "$LOG")
out=$(mktemp)
psql_() { "$PG_BIN/psql" -X -v ON_ERROR_STOP=0 -d cp_secrets "$@"; }

"$PG_BIN/psql" -X -q -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS cp_secrets" -c "CREATE DATABASE cp_secrets"
# the mapping is made before the logging is turned up, as an admin would
psql_ -q <<SQL
CREATE EXTENSION checkpoint_perms;
CREATE SERVER mock FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url '$MOCK_URL', max_retries '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER mock OPTIONS (api_key '$MOCK_KEY');
ALTER DATABASE cp_secrets SET log_min_messages = debug5;
ALTER DATABASE cp_secrets SET client_min_messages = debug5;
ALTER DATABASE cp_secrets SET log_error_verbosity = verbose;
ALTER DATABASE cp_secrets SET checkpoint_perms.log_writes = on;
SQL

psql_ >"$out" 2>&1 <<'SQL'
\set VERBOSITY verbose
CREATE FOREIGN TABLE p (id text, created_at timestamptz, project_id text, object text)
  SERVER mock OPTIONS (checkpoint 'ft:secrets:seed-250:proj-10');
SELECT count(*) FROM p;
SELECT * FROM p WHERE project_id = 'proj_0003' ORDER BY created_at LIMIT 2;
EXPLAIN (VERBOSE, ANALYZE) SELECT * FROM p WHERE project_id = 'proj_0004';
EXPLAIN (VERBOSE, ANALYZE) INSERT INTO p (project_id) VALUES ('proj_new') RETURNING *;
EXPLAIN (VERBOSE, ANALYZE) DELETE FROM p WHERE project_id = 'proj_new' RETURNING *;
INSERT INTO p (project_id) SELECT 'proj_x' || g FROM generate_series(1, 150) g;
DELETE FROM p WHERE project_id = 'proj_0005';
ANALYZE p;
-- errors of every kind, with the key in play
CREATE FOREIGN TABLE echo (id text) SERVER mock OPTIONS (checkpoint 'ft:secrets:echo-key');
SELECT * FROM echo;
CREATE FOREIGN TABLE e500 (id text) SERVER mock OPTIONS (checkpoint 'ft:secrets:status-500:retry-after-ms-1');
SELECT * FROM e500;
CREATE FOREIGN TABLE garbage (id text) SERVER mock OPTIONS (checkpoint 'ft:secrets:garbage');
SELECT * FROM garbage;
CREATE FOREIGN TABLE cut (id text) SERVER mock OPTIONS (checkpoint 'ft:secrets:cut');
SELECT * FROM cut;
-- a grant whose outcome stays unknown: its reply is lost and the list that
-- would tell fails
CREATE FOREIGN TABLE post500 (project_id text) SERVER mock
  OPTIONS (checkpoint 'ft:secrets:post-applied-hangup:get-status-500');
INSERT INTO post500 VALUES ('proj_1');
SQL
psql_ -q -c "ALTER DATABASE cp_secrets RESET ALL" >/dev/null 2>&1

fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAILED: $1"; fail=1; fi; }
tail -c +"$((start + 1))" "$LOG" >"$out.log"
check "the workload ran and was explained" 'grep -q "OpenAI Requests" "$out" && grep -q "Incorrect API key provided" "$out"'
check "DEBUG messages reached the client and the log" 'grep -q "DEBUG:" "$out" && grep -q "DEBUG" "$out.log"'
check "the key is in no client output ($(wc -l <"$out") lines)" '! grep -qF "$MOCK_KEY" "$out"'
check "the key is in no server log line ($(wc -l <"$out.log") lines)" '! grep -qF "$MOCK_KEY" "$out.log"'
check "no Authorization header is logged" '! grep -qi "authorization" "$out.log" "$out"'
check "the echoed key was masked" 'grep -q "\[api_key\]" "$out"'
check "the audit lines of grants and revokes were logged" 'grep -q "checkpoint_perms: grant applied: role" "$out.log" && grep -q "checkpoint_perms: revoke applied: role" "$out.log" && grep -q "checkpoint_perms: grant outcome unknown: role" "$out.log"'
rm -f "$out" "$out.log"
exit $fail
