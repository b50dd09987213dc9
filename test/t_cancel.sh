#!/bin/bash
# Cancel and terminate stop a request in flight, with PostgreSQL's own
# errors, and the backend shows a wait event while it waits.  Needs the
# server and mock that test/run-tests.sh starts (PGHOST, MOCK_URL, ...).
set -euo pipefail

psql_() { "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d cp_cancel "$@"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

"$PG_BIN/psql" -X -q -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS cp_cancel" -c "CREATE DATABASE cp_cancel"
psql_ <<SQL
CREATE EXTENSION checkpoint_perms;
CREATE SERVER mock FOREIGN DATA WRAPPER checkpoint_perms
  OPTIONS (base_url '$MOCK_URL', timeout_ms '60000', max_retries '2');
CREATE USER MAPPING FOR CURRENT_USER SERVER mock OPTIONS (api_key '$MOCK_KEY');
-- a reply that takes 10 s, and a 503 whose retry waits 30 s
CREATE FOREIGN TABLE slow (id text) SERVER mock OPTIONS (checkpoint 'ft:cancel:slow-10000');
CREATE FOREIGN TABLE backoff (id text) SERVER mock OPTIONS (checkpoint 'ft:cancel:status-503:retry-after-30');
SQL

# run $2 in the background with application_name $1; wait until it shows
# wait event $4; then signal it with $3 and report how long it took to end
interrupt() {
	local name=$1 query=$2 signal=$3 expected=$4 out pid t0 t1 i state=""
	out=$(mktemp)
	PGAPPNAME=$name "$PG_BIN/psql" -X -q -d cp_cancel -c "$query" >"$out" 2>&1 &
	pid=$!
	for i in $(seq 1 100); do
		state=$(psql_ -c "SELECT wait_event_type || '/' || wait_event FROM pg_stat_activity WHERE application_name = '$name'")
		[ "$state" = "$expected" ] && break
		sleep 0.05
	done
	echo "$name: waiting on $state"
	[ "$state" = "$expected" ] || { echo "FAILED: expected wait event $expected, got $state"; return 1; }
	t0=$(now_ms)
	psql_ -c "SELECT $signal(pid) FROM pg_stat_activity WHERE application_name = '$name'" >/dev/null
	wait "$pid" || true
	t1=$(now_ms)
	echo "$name: ended $((t1 - t0)) ms after $signal: $(tr '\n' ' ' <"$out")"
	LAST_MS=$((t1 - t0))
	LAST_OUT=$(cat "$out")
	rm -f "$out"
}

# the wait events: PostgreSQL 17 and later show the extension's own names
if [ "$(psql_ -c "SHOW server_version_num")" -ge 170000 ]; then
	network=Extension/CheckpointPermsNetwork backoff=Extension/CheckpointPermsBackoff
else
	network=Extension/Extension backoff=Extension/Extension
fi

fail=0
check() { # what, condition
	if eval "$2"; then echo "ok: $1"; else echo "FAILED: $1"; fail=1; fi
}

interrupt cancel_network "SELECT count(*) FROM slow" pg_cancel_backend "$network"
check "cancel ends a request with 57014's message" '[[ "$LAST_OUT" == *"canceling statement due to user request"* ]]'
check "cancel ends it long before the 10 s reply" '[ "$LAST_MS" -lt 5000 ]'

interrupt cancel_sleep "SELECT count(*) FROM backoff" pg_cancel_backend "$backoff"
check "cancel ends a back-off sleep" '[[ "$LAST_OUT" == *"canceling statement due to user request"* ]] && [ "$LAST_MS" -lt 5000 ]'

interrupt terminate_network "SELECT count(*) FROM slow" pg_terminate_backend "$network"
check "terminate ends the backend with FATAL" '[[ "$LAST_OUT" == *"terminating connection due to administrator command"* ]]'
check "terminate ends it long before the 10 s reply" '[ "$LAST_MS" -lt 5000 ]'

# statement_timeout, from inside
t0=$(now_ms)
out=$("$PG_BIN/psql" -X -q -d cp_cancel -c "SET statement_timeout = '300ms'" -c "SELECT count(*) FROM slow" 2>&1 || true)
t1=$(now_ms)
echo "statement_timeout 300 ms: ended after $((t1 - t0)) ms: $out"
check "statement_timeout ends a request" '[[ "$out" == *"canceling statement due to statement timeout"* ]] && [ $((t1 - t0)) -lt 5000 ]'

# the server is still fine, with no restart in between
check "the server still answers" '[ "$(psql_ -c "SELECT 1")" = 1 ]'
exit $fail
