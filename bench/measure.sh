#!/bin/bash
# Measures what the issues ask to write down, through the mock API on
# loopback: a full scan of 10,000 permissions (time and requests),
# 1,000 grants with and without RETURNING, and an IN list of 10 projects with
# max_concurrency 1 and 8.  Prints a Markdown table.
# Usage: bash bench/measure.sh [latency_ms]   (default 0; 20 is a nearby API)

cd "$(dirname "$0")/.."
. test/lib.sh
LATENCY=${1:-0}

cp_install_packages
cp_build_install >/dev/null
cp_start_postgres
cp_start_mock --page-cap 100

run() { "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
requests() { # method, checkpoint
	"$PYTHON" - "$MOCK_LOG" "$1" "$2" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    n += r.get("method") == sys.argv[2] and r.get("checkpoint") == sys.argv[3]
print(n)
PY
}
# milliseconds taken by one statement, from psql's \timing
timed() {
	run -c '\timing on' -c "$1" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1
}

run -c "CREATE EXTENSION checkpoint_perms" \
	-c "CREATE SERVER m FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url '$MOCK_URL')" \
	-c "CREATE USER MAPPING FOR CURRENT_USER SERVER m OPTIONS (api_key '$MOCK_KEY')" \
	-c "CREATE SERVER m1 FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url '$MOCK_URL', max_concurrency '1')" \
	-c "CREATE USER MAPPING FOR CURRENT_USER SERVER m1 OPTIONS (api_key '$MOCK_KEY')"

slow=""
[ "$LATENCY" != 0 ] && slow=":slow-$LATENCY"
scan="ft:bench:scan:seed-10000$slow"
grant="ft:bench:grant$slow"
grant_ret="ft:bench:grant-returning$slow"
in10="ft:bench:in10:seed-1000:proj-100$slow"
run -c "CREATE FOREIGN TABLE scan (id text, created_at timestamptz, project_id text, object text) SERVER m OPTIONS (checkpoint '$scan')" \
	-c "CREATE FOREIGN TABLE grants (id text, project_id text) SERVER m OPTIONS (checkpoint '$grant')" \
	-c "CREATE FOREIGN TABLE grants_ret (id text, project_id text) SERVER m OPTIONS (checkpoint '$grant_ret')" \
	-c "CREATE FOREIGN TABLE in10_c8 (id text, project_id text) SERVER m OPTIONS (checkpoint '$in10')" \
	-c "CREATE FOREIGN TABLE in10_c1 (id text, project_id text) SERVER m1 OPTIONS (checkpoint '$in10')"

run -c "SELECT count(*) FROM scan" >/dev/null     # seeds the mock; not timed
run -c "SELECT count(*) FROM in10_c8 LIMIT 1" >/dev/null
in_list="SELECT count(*) FROM %s WHERE project_id IN ($(seq -f "'proj_%04g'" -s , 1 10))"
: >"$MOCK_LOG"
t_scan=$(timed "SELECT count(*) FROM scan")
n_scan=$(requests GET "$scan")
t_grant=$(timed "INSERT INTO grants (project_id) SELECT 'proj_' || g FROM generate_series(1, 1000) g")
n_grant=$(requests POST "$grant")
t_ret=$(timed "INSERT INTO grants_ret (project_id) SELECT 'proj_' || g FROM generate_series(1, 1000) g RETURNING id")
n_ret=$(requests POST "$grant_ret")
: >"$MOCK_LOG"
# best of 3, each in a new session (its connections are opened on loopback)
t_in1=$(for i in 1 2 3; do timed "$(printf "$in_list" in10_c1)"; done | sort -n | head -1)
t_in8=$(for i in 1 2 3; do timed "$(printf "$in_list" in10_c8)"; done | sort -n | head -1)
n_in=$(($(requests GET "$in10") / 6))

echo "| case (mock latency ${LATENCY} ms) | time | requests |"
echo "|---|---|---|"
echo "| scan 10,000 permissions (page_size 100) | ${t_scan} ms | ${n_scan} |"
echo "| grant 1,000 projects, batch_size 100 | ${t_grant} ms | ${n_grant} |"
echo "| grant 1,000 projects with RETURNING (no batching) | ${t_ret} ms | ${n_ret} |"
echo "| IN list of 10 projects, max_concurrency 1 | ${t_in1} ms | ${n_in} |"
echo "| IN list of 10 projects, max_concurrency 8 | ${t_in8} ms | ${n_in} |"
