#!/bin/bash
# Conformance: every request the extension sends (list with each query
# parameter, create, delete, encoded ids) goes to Prism, an OpenAPI-driven
# mock of the contract test/openapi/checkpoint-permissions.openapi.yaml,
# run with --errors.  The test fails on any contract violation Prism
# reports.  Prism's replies are made up from the schema, so some replies
# do not fit the requests (a grant of three projects answered with one
# permission): errors about replies (08P01) are expected; any other is not.
set -euo pipefail

SPEC=test/openapi/checkpoint-permissions.openapi.yaml
port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
plog=$(mktemp)
"$PRISM" mock --host 127.0.0.1 --port "$port" --errors "$SPEC" >"$plog" 2>&1 &
prism_pid=$!
trap 'kill $prism_pid 2>/dev/null; rm -f "$plog" "$plog.sql"' EXIT
for i in $(seq 1 200); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	sleep 0.1
done
echo "Prism on port $port"

"$PG_BIN/psql" -X -q -c "SET client_min_messages = warning" \
	-c "DROP DATABASE IF EXISTS cp_conformance" -c "CREATE DATABASE cp_conformance"
psql_() { "$PG_BIN/psql" -X -d cp_conformance "$@"; }
psql_ -q -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION checkpoint_perms;
CREATE SERVER prism FOREIGN DATA WRAPPER checkpoint_perms
  OPTIONS (base_url 'http://127.0.0.1:$port', max_retries '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER prism OPTIONS (api_key 'sk-conformance-test');
CREATE FOREIGN TABLE perms (id text, created_at timestamptz, project_id text, object text)
  SERVER prism OPTIONS (checkpoint 'ft:gpt-4o-mini-2024-07-18:acme:weather:B7R9VjQd');
CREATE FOREIGN TABLE hostile (id text) SERVER prism OPTIONS (checkpoint 'ft:a/b?c #d%:..');
CREATE TABLE teams (project text);
INSERT INTO teams VALUES ('proj_abGMw1llN8IrBb6SvvY5A1iH'), ('proj_other');
ANALYZE teams;
SQL

# each statement on its own, so that one error does not hide the next
statements=(
	"SELECT * FROM perms LIMIT 1"
	"SELECT * FROM perms WHERE project_id = 'proj_abGMw1llN8IrBb6SvvY5A1iH' ORDER BY created_at DESC LIMIT 5"
	"SELECT * FROM perms ORDER BY created_at LIMIT 1"
	"SELECT * FROM perms WHERE project_id IN ('proj_a', 'proj_b') LIMIT 1"
	"SELECT count(*) FROM perms"
	"SELECT * FROM teams t JOIN perms p ON p.project_id = t.project"
	"SELECT * FROM hostile LIMIT 1"
	"INSERT INTO perms (project_id) VALUES ('proj_abGMw1llN8IrBb6SvvY5A1iH') RETURNING id, created_at"
	"INSERT INTO perms (project_id) VALUES ('proj_a'), ('proj_b'), ('proj_c')"
	"DELETE FROM perms WHERE id = 'cp_zc4Q7MP6XxulcVzj4MZdwsAB'"
)
fail=0
for sql in "${statements[@]}"; do
	result=$(psql_ -q -At -v VERBOSITY=verbose -c "$sql" 2>&1 | grep -E '^ERROR' || true)
	case "$result" in
		"") echo "ok: $sql" ;;
		"ERROR:  08P01:"*) echo "ok (reply does not fit, as expected of made-up replies): $sql" ;;
		*) echo "FAILED: $sql: $result"; fail=1 ;;
	esac
done

received=$(grep -c 'Request received' "$plog" || true)
violations=$(grep -E 'Violation|did not pass' "$plog" || true)
echo "Prism received $received requests"
if [ "$received" -lt 12 ]; then
	echo "FAILED: expected at least 12 requests to reach Prism"
	fail=1
fi
if [ -n "$violations" ]; then
	echo "FAILED: Prism reported contract violations:"
	echo "$violations"
	fail=1
else
	echo "ok: no contract violation"
fi
exit $fail
