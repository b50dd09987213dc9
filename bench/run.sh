#!/bin/bash
# checkpoint_perms against the official openai npm SDK, side by side, over the
# same mock API: a mock with LATENCY ms per request (default 20, like a nearby
# API) for wall time and requests, and one with none for CPU and memory.
# Writes bench/RESULTS.md (and prints it).  As root on Debian 12, like the
# tests; about a minute once the packages are there.
# Usage: bash bench/run.sh

cd "$(dirname "$0")/.."
. test/lib.sh
LATENCY=${LATENCY:-20}
OPENAI_VERSION=${OPENAI_VERSION:-6}

cp_install_packages
SDK_DIR=$(cp_install_npm_package openai "$OPENAI_VERSION")
cp_build_install
cp_start_postgres
cp_start_mock --page-cap 100 --latency-ms "$LATENCY"
LOG=$MOCK_LOG URL=$MOCK_URL

# a second mock without latency, for CPU and memory
"$PYTHON" test/mock_openai.py --key "$MOCK_KEY" --port 0 --page-cap 100 \
	--port-file "$CP_TMP/mock0.port" --log "$CP_TMP/mock0.log" >/dev/null 2>&1 &
MOCK0_PID=$!
trap 'kill $MOCK0_PID 2>/dev/null; cp_cleanup' EXIT
for i in $(seq 1 100); do [ -s "$CP_TMP/mock0.port" ] && break; sleep 0.05; done
URL0="http://127.0.0.1:$(cat "$CP_TMP/mock0.port")/v1"

# the SDK runs from a copy of sdk.mjs beside its node_modules
cp bench/sdk.mjs "$SDK_DIR/sdk.mjs"
sdk() { node "$SDK_DIR/sdk.mjs" "$@"; }
field() { "$PYTHON" -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
psql_() { "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
# milliseconds of one statement, from psql's \timing
timed() { psql_ -c '\timing on' -c "$1" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1; }
lines() { wc -l <"$1"; }

S=ft:bench:scan:seed-10000:proj-1000
psql_ <<SQL
CREATE EXTENSION checkpoint_perms;
CREATE SERVER m FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url '$URL');
CREATE USER MAPPING FOR CURRENT_USER SERVER m OPTIONS (api_key '$MOCK_KEY');
CREATE SERVER m0 FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url '$URL0');
CREATE USER MAPPING FOR CURRENT_USER SERVER m0 OPTIONS (api_key '$MOCK_KEY');
CREATE FOREIGN TABLE scan (id text, created_at timestamptz, project_id text, object text)
  SERVER m OPTIONS (checkpoint '$S');
CREATE FOREIGN TABLE grant_ext (id text, project_id text) SERVER m OPTIONS (checkpoint 'ft:bench:grant-ext');
CREATE FOREIGN TABLE grant_ext1000 (id text, project_id text) SERVER m
  OPTIONS (checkpoint 'ft:bench:grant-ext1000', batch_size '1000');
CREATE FOREIGN TABLE revoke_ext (id text, project_id text) SERVER m
  OPTIONS (checkpoint 'ft:bench:revoke-ext:seed-100');
CREATE FOREIGN TABLE revoke_proj (id text, project_id text) SERVER m
  OPTIONS (checkpoint 'ft:bench:revoke-proj-ext:seed-200:proj-2');
CREATE FOREIGN TABLE revoke_id (id text, project_id text) SERVER m
  OPTIONS (checkpoint 'ft:bench:revoke-id-ext:seed-2000:proj-20');
CREATE FOREIGN TABLE revoke_limited (id text, project_id text) SERVER m
  OPTIONS (checkpoint 'ft:bench:revoke-limited:seed-100:delete-inflight-3');
CREATE FOREIGN TABLE everywhere (checkpoint text, id text, created_at timestamptz,
  project_id text, object text) SERVER m;
CREATE TABLE models AS SELECT format('ft:bench:many%s:seed-300:proj-30', g) AS checkpoint
  FROM generate_series(1, 10) g;
CREATE FOREIGN TABLE recent (id text, created_at timestamptz, project_id text) SERVER m
  OPTIONS (checkpoint 'ft:bench:recent:seed-2000:proj-40');
CREATE TABLE teams AS SELECT 'proj_' || lpad(g::text, 4, '0') AS project FROM generate_series(1, 50) g;
ANALYZE teams;
CREATE FOREIGN TABLE scan2k (id text, created_at timestamptz, project_id text, object text)
  SERVER m OPTIONS (checkpoint 'ft:bench:scan2k:seed-2000:proj-50');
CREATE FOREIGN TABLE cpu10k (id text, created_at timestamptz, project_id text, object text)
  SERVER m0 OPTIONS (checkpoint 'ft:bench:cpu:seed-10000');
CREATE FOREIGN TABLE cpu100k (id text, created_at timestamptz, project_id text, object text)
  SERVER m0 OPTIONS (checkpoint 'ft:bench:cpu:seed-100000');
SQL
# make the mocks seed their checkpoints before anything is timed
for t in scan scan2k cpu10k cpu100k; do psql_ -c "SELECT 1 FROM $t LIMIT 1" >/dev/null; done
for c in $(seq -f 'ft:bench:many%g:seed-300:proj-30' 1 10) $(seq -f 'ft:bench:manysdk%g:seed-300:proj-30' 1 10) \
	ft:bench:recent:seed-2000:proj-40; do
	psql_ -c "SELECT 1 FROM everywhere WHERE checkpoint = '$c' LIMIT 1" >/dev/null
done
# statistics, as a user would gather them: the join's plan depends on them
psql_ -c "ANALYZE scan" -c "ANALYZE scan2k"
sdk revoke "$URL" "$MOCK_KEY" ft:bench:warmup:seed-1 >/dev/null

ROWS=()
# row: case, client, ms, requests[, rounds of requests that the client has
# to wait for one after another: the floor; default one per request]
row() {
	local floor=$((${5:-$4} * LATENCY))
	ROWS+=("| $1 | $2 | $(printf %.0f "$3") | $4 | $floor | $("$PYTHON" -c "print('%.2f' % ($3 / max($floor, 1)))") |")
}
ext_case() { # case, client label, sql[, rounds]
	local before ms
	before=$(lines "$LOG")
	ms=$(timed "$3")
	row "$1" "$2" "$ms" $(($(lines "$LOG") - before)) ${4:-}
}
sdk_case() { # case, client label, sdk args...
	local before out
	before=$(lines "$LOG")
	out=$(sdk "${@:3}")
	row "$1" "$2" "$(field "$out" ms)" $(($(lines "$LOG") - before)) ${ROUNDS:-}
}

projects=$(seq -f 'proj_%04g' 1 50 | paste -sd,)
ext_case "scan 10,000" "extension (page_size 100)" "SELECT count(*) FROM scan"
sdk_case "scan 10,000" "SDK, default page size" scan "$URL" "$MOCK_KEY" "$S"
sdk_case "scan 10,000" "SDK, limit 100" scan "$URL" "$MOCK_KEY" "$S" 100
# issue 21: a full scan of 2,000 from both ends (21 requests in 11 rounds)
# against one cursor (20), and joins whose lists go out 8 at a time
ext_case "scan 2,000" "extension (both ends)" "SELECT count(*) FROM scan2k" 11
sdk_case "scan 2,000" "SDK, one cursor (limit 100)" scan "$URL" "$MOCK_KEY" ft:bench:scan2k:seed-2000:proj-50 100
ext_case "join 50 local projects × 2,000" "extension (batched join, 8 at a time)" \
	"SELECT count(*) FROM teams t JOIN scan2k p ON p.project_id = t.project" 7
sdk_case "join 50 local projects × 2,000" "SDK, one list after another" \
	join "$URL" "$MOCK_KEY" ft:bench:scan2k:seed-2000:proj-50 "$projects"
ROUNDS=7 sdk_case "join 50 local projects × 2,000" "SDK, hand-written pool of 8" \
	join_pool "$URL" "$MOCK_KEY" ft:bench:scan2k:seed-2000:proj-50 "$projects"
ext_case "one project" "extension" "SELECT count(*) FROM scan WHERE project_id = 'proj_0042'"
sdk_case "one project" "SDK" project "$URL" "$MOCK_KEY" "$S" proj_0042
ext_case "grant 1,000" "extension (batch_size 100)" \
	"INSERT INTO grant_ext (project_id) SELECT 'proj_' || g FROM generate_series(1, 1000) g"
ext_case "grant 1,000" "extension (batch_size 1000)" \
	"INSERT INTO grant_ext1000 (project_id) SELECT 'proj_' || g FROM generate_series(1, 1000) g"
sdk_case "grant 1,000" "SDK, 100 ids per call" grant "$URL" "$MOCK_KEY" ft:bench:grant-sdk100 1000:100
sdk_case "grant 1,000" "SDK, 1,000 ids in one call" grant "$URL" "$MOCK_KEY" ft:bench:grant-sdk1000 1000:1000
ext_case "revoke 100" "extension (max_concurrency 8)" "DELETE FROM revoke_ext" 14
sdk_case "revoke 100" "SDK (list, then one delete each)" revoke "$URL" "$MOCK_KEY" ft:bench:revoke-sdk:seed-100
# one project's 100 of 200: one filtered list, then 100 DELETEs; the
# extension and the pooled script send 8 at a time (floor: 1 + 13 rounds)
ext_case "revoke one project's 100" "extension (max_concurrency 8)" \
	"DELETE FROM revoke_proj WHERE project_id = 'proj_0001'" 14
sdk_case "revoke one project's 100" "SDK, natural loop (one delete after another)" \
	revoke_project "$URL" "$MOCK_KEY" ft:bench:revoke-proj-sdk:seed-200:proj-2 proj_0001
ROUNDS=14 sdk_case "revoke one project's 100" "SDK, hand-written pool of 8 deletes" \
	revoke_project_pool "$URL" "$MOCK_KEY" ft:bench:revoke-proj-pool:seed-200:proj-2 proj_0001
id=$(psql_ -c "SELECT id FROM revoke_id WHERE project_id = 'proj_0007' LIMIT 1")
ext_case "revoke by id (2,000 permissions)" "extension" "DELETE FROM revoke_id WHERE id = '$id'"
# the mock answers 429 (retry-after-ms 50) past 3 DELETEs in flight
ext_case "revoke 100, at most 3 in flight" "extension (max_concurrency 8)" \
	"DELETE FROM revoke_limited" 35
limited_requests=$(grep -c '"ft:bench:revoke-limited:seed-100:delete-inflight-3"' "$LOG" || true)
limited_429=$(grep '"ft:bench:revoke-limited:seed-100:delete-inflight-3"' "$LOG" | grep -c '"status":429' || true)
# many checkpoints (issue 13): 10 checkpoints of 300 permissions, 3 pages each
many=$(seq -f 'ft:bench:many%g:seed-300:proj-30' 1 10 | paste -sd,)
manysdk=$(seq -f 'ft:bench:manysdk%g:seed-300:proj-30' 1 10 | paste -sd,)
ext_case "10 checkpoints × 300" "extension (max_concurrency 8)" \
	"SELECT count(*) FROM everywhere WHERE checkpoint = ANY (ARRAY(SELECT checkpoint FROM models))" 6
sdk_case "10 checkpoints × 300" "SDK, one checkpoint after another" scan_many "$URL" "$MOCK_KEY" - "$manysdk"
ROUNDS=3 sdk_case "10 checkpoints × 300" "SDK, hand-written Promise.all" scan_many_parallel "$URL" "$MOCK_KEY" - "$manysdk"
ext_case "join 10 local checkpoints × 300" "extension (batched join, 8 at a time)" \
	"SELECT count(*) FROM models m JOIN everywhere p ON p.checkpoint = m.checkpoint" 6
sdk_case "join 10 local checkpoints × 300" "SDK, one list after another" scan_many "$URL" "$MOCK_KEY" - "$manysdk"
ROUNDS=3 sdk_case "join 10 local checkpoints × 300" "SDK, hand-written Promise.all" scan_many_parallel "$URL" "$MOCK_KEY" - "$manysdk"
ext_case "grant one project on 10 checkpoints" "extension" \
	"INSERT INTO everywhere (checkpoint, project_id) SELECT checkpoint, 'proj_new' FROM models" 2
ext_case "revoke it from all 10" "extension" \
	"DELETE FROM everywhere WHERE checkpoint = ANY (ARRAY(SELECT checkpoint FROM models)) AND project_id = 'proj_new'" 4
ext_case "created_at >= the 50 newest of 2,000" "extension" \
	"SELECT count(*) FROM recent WHERE created_at >= to_timestamp(1721764867 + 1950)"
ext_case "join 50 local rows" "extension" "SELECT count(*) FROM teams t JOIN scan p ON p.project_id = t.project" 7
sdk_case "join 50 local rows" "SDK (one filtered list per row)" join "$URL" "$MOCK_KEY" "$S" "$projects"

# CPU and memory, without latency: the backend from /proc, the SDK from node
backend_probe() { # table: prints "Time: <ms> ms <cpu ns> <peak RSS kB>"
	psql_ <<SQL | tr '\n' ' '
SELECT pg_backend_pid() AS pid \gset
\setenv BPID :pid
SELECT 1 FROM $1 LIMIT 0;
\! cut -d' ' -f1 /proc/\$BPID/schedstat > $CP_TMP/cpu0
\timing on
SELECT count(*) FROM $1 \g /dev/null
\timing off
\! echo \$((\$(cut -d' ' -f1 /proc/\$BPID/schedstat) - \$(cat $CP_TMP/cpu0)))
\! grep VmHWM /proc/\$BPID/status | tr -s ' ' | cut -d' ' -f2
SQL
}
probe10=$(backend_probe cpu10k)
probe100=$(backend_probe cpu100k)
ext_cpu100=$(echo "$probe100" | awk '{print $4 / 1e6}')
ext_wall100=$(echo "$probe100" | sed -n 's/.*Time: \([0-9.]*\) ms.*/\1/p')
ext_rss10=$(echo "$probe10" | awk '{print $NF}')
ext_rss100=$(echo "$probe100" | awk '{print $NF}')
sdk10=$(sdk scan "$URL0" "$MOCK_KEY" ft:bench:cpu:seed-10000 100)
sdk100=$(sdk scan "$URL0" "$MOCK_KEY" ft:bench:cpu:seed-100000 100)
cap0=$("$PYTHON" bench/mock_capacity.py "$URL0" "$MOCK_KEY" ft:bench:cpu:seed-10000 1000)
capl=$("$PYTHON" bench/mock_capacity.py "$URL" "$MOCK_KEY" "$S" 100)

# what bench/tls.sh wrote into RESULTS.md, kept
other_sections=$(sed -n '/^## TLS and HTTP\/2 on loopback/,$p' bench/RESULTS.md 2>/dev/null || true)

{
	echo "# Benchmark: checkpoint_perms against the openai SDK"
	echo
	echo "Made by \`bash bench/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'). Machine: $(nproc) cores,"
	echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB, Linux $(uname -r)."
	echo "Versions: $("$PG_BIN/postgres" --version), libcurl $(curl-config --version | cut -d' ' -f2),"
	echo "checkpoint_perms $(sed -n "s/^default_version = '\(.*\)'/\1/p" checkpoint_perms.control), Node.js $(node --version),"
	echo "openai $(node -p "require('$SDK_DIR/node_modules/openai/package.json').version") (maxRetries 0),"
	echo "mock: test/mock_openai.py on $("$PYTHON" --version | cut -d' ' -f2), page cap 100."
	echo
	echo "## Wall time and requests, mock latency $LATENCY ms per request"
	echo
	echo "Floor: requests × $LATENCY ms, the time the requests alone take one after another; for"
	echo "the concurrent cases, the rounds of requests a client must wait for in turn × $LATENCY ms"
	echo "(one list, then 100 DELETEs 8 at a time: 14 rounds; 3 at a time: 35; 10 lists of 3 pages,"
	echo "8 at a time: 6 rounds, all at once: 3; 10 POSTs 8 at a time: 2 rounds; 10 lists then 10"
	echo "DELETEs: 4; a list of 2,000 from both ends: 11 rounds; 50 lists of one page 8 at a time:"
	echo "7 rounds)."
	echo 'The foreign table was analyzed first (`ANALYZE scan`, not timed). Each SDK case is one'
	echo "node process; its time excludes Node's start but includes its first connection."
	echo
	echo "| case | client | wall ms | requests | floor ms | wall / floor |"
	echo "|---|---|---|---|---|---|"
	printf '%s\n' "${ROWS[@]}"
	echo
	echo "Under the limit of 3 in flight the extension's statement succeeded: $limited_429 of its"
	echo "$limited_requests requests were answered 429 and sent again after the delay the API named."
	echo
	echo "## CPU and memory, no latency"
	echo
	echo "| measure | extension (backend) | SDK (node process) |"
	echo "|---|---|---|"
	echo "| CPU for 100,000 rows (pages of 100) | $(printf %.0f "$ext_cpu100") ms | $(field "$sdk100" cpu_ms) ms |"
	echo "| wall time for 100,000 rows | $(printf %.0f "$ext_wall100") ms | $(printf %.0f "$(field "$sdk100" ms)") ms |"
	echo "| peak RSS, 10,000 rows | $ext_rss10 kB | $(field "$sdk10" max_rss_kb) kB |"
	echo "| peak RSS, 100,000 rows | $ext_rss100 kB | $(field "$sdk100" max_rss_kb) kB |"
	echo
	echo "The backend's CPU is its own (\`/proc/<pid>/schedstat\` around the query), not the mock's;"
	echo "the SDK's is \`process.cpuUsage()\` around the listing, excluding Node's start."
	echo
	echo "## The mock's own capacity"
	echo
	echo "A plain Python keep-alive client on one connection, 100-permission pages, measures what the"
	echo "mock adds to each request: $(field "$capl" ms_per_request) ms per request with $LATENCY ms of latency, so about"
	echo "$("$PYTHON" -c "print('%.1f' % ($(field "$capl" ms_per_request) - $LATENCY))") ms of every request above is the mock's own work, the same for both clients: a"
	echo "wall / floor of about $("$PYTHON" -c "print('%.2f' % ($(field "$capl" ms_per_request) / $LATENCY))") is what a client with no overhead at all would get. Without latency"
	echo "that client reached $(field "$cap0" per_second) requests/s; the extension's 100,000-row scan (1,000 requests)"
	echo "ran at $("$PYTHON" -c "print('%.0f' % (1000 / ($ext_wall100 / 1000.0)))") requests/s, so its no-latency wall time is bound by the mock, not by the extension:"
	echo "compare CPU there, not wall time."
	# the sections other scripts write (bench/tls.sh) stay as they were
	if [ -n "$other_sections" ]; then
		echo
		printf '%s\n' "$other_sections"
	fi
} >bench/RESULTS.md
cat bench/RESULTS.md
