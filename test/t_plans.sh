#!/bin/bash
# Plan independence: a few hundred seeded queries (project_id =, IN, = ANY,
# NULLs, empty arrays, values that cannot be ids, created_at bounds, ORDER BY
# with LIMIT / OFFSET / WITH TIES, joins, LATERAL, EXISTS, generic and custom
# plans, the table across checkpoints) run against the foreign tables under
# nested loop, hash and merge joins, pushed and defeated (x || ''), and are
# compared with the same query on a local copy of the list; see
# test/plans.py.  Needs the server and mock of run-tests.sh (PGHOST,
# MOCK_URL, ...); run alone, it starts its own:
#
#   PG_BIN=/usr/lib/postgresql/15/bin bash test/t_plans.sh
#
#   PLANS_SEED (default 1)       the queries
#   PLANS_QUERIES (default 300)  how many
#   PLANS_SHOW (default 30)      mismatching queries to print (0: all); every
#                                one is in mismatches.txt of the kept directory
#   PLANS_KEEP                   keep that directory even when all agree
#   PLANS_ISOLATION              the database's default_transaction_isolation
#                                (test/t_plans_repeatable.sh: repeatable read)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${MOCK_URL:-}" ]; then
	. test/lib.sh
	cp_build_install
	cp_start_postgres
	cp_start_mock --page-cap 100
fi
PYTHON=${PYTHON:-/usr/bin/python3}
SEED=${PLANS_SEED:-1}
N=${PLANS_QUERIES:-300}
db=cp_plans
dir=$(mktemp -d /tmp/cp_plans.XXXXXX)
status=0
finish() {
	if [ "$status" = 0 ] && [ -z "${PLANS_KEEP:-}" ]; then rm -rf "$dir"; else echo "kept $dir (seed $SEED)"; fi
}
trap 'finish; if declare -F cp_cleanup >/dev/null; then cp_cleanup; fi' EXIT

"$PG_BIN/psql" -X -q -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
if [ -n "${PLANS_ISOLATION:-}" ]; then
	"$PG_BIN/psql" -X -q -c "ALTER DATABASE $db SET default_transaction_isolation = '$PLANS_ISOLATION'"
fi
"$PYTHON" test/plans.py --psql "$PG_BIN/psql" --db "$db" --mock-url "$MOCK_URL" --mock-key "$MOCK_KEY" \
	--mock-log "$MOCK_LOG" --seed "$SEED" --queries "$N" --show "${PLANS_SHOW:-30}" --dir "$dir" || status=$?
"$PG_BIN/psql" -X -q -c "SET client_min_messages = warning" -c "DROP DATABASE $db" >/dev/null || true
exit "$status"
