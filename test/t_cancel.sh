#!/bin/bash
# Cancel and terminate stop a request in flight, with PostgreSQL's own
# errors, and the backend shows a wait event while it waits.  Needs the
# server and mock that test/run-tests.sh starts (PGHOST, MOCK_URL, ...).
set -euo pipefail

psql_() { "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d cp_cancel "$@"; }
MOCK_PORT=${MOCK_URL##*:}
MOCK_PORT=${MOCK_PORT%%/*}
many="SELECT count(*) FROM slow_many WHERE project_id IN ('proj_0001', 'proj_0002', 'proj_0003', 'proj_0004', 'proj_0005', 'proj_0006', 'proj_0007', 'proj_0008', 'proj_0009', 'proj_0010')"
mock_requests() { # checkpoint: requests the mock received for it
	grep -c "\"checkpoint\": *\"$1\"" "$MOCK_LOG" || true
}
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
-- ten lists of 10 s each: eight in flight at once
CREATE FOREIGN TABLE slow_many (id text, project_id text) SERVER mock
  OPTIONS (checkpoint 'ft:cancel:many:seed-20:proj-10:slow-10000');
CREATE FOREIGN TABLE fast (id text, project_id text) SERVER mock OPTIONS (checkpoint 'ft:cancel:fast:seed-20');
-- this backend's open connections to the mock (client side, established)
CREATE FUNCTION mock_connections() RETURNS bigint LANGUAGE sql AS \$\$
  SELECT count(*) FROM regexp_split_to_table(pg_read_file('/proc/net/tcp'), E'\\n') AS line
  WHERE split_part(regexp_replace(line, '^ +', ''), ' ', 3) ~ (':' || lpad(upper(to_hex($MOCK_PORT)), 4, '0') || '\$')
    AND split_part(regexp_replace(line, '^ +', ''), ' ', 4) = '01'
\$\$;
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

# eight lists in flight at once: cancel and statement_timeout end them all,
# as fast as one
before=$(mock_requests ft:cancel:many:seed-20:proj-10:slow-10000)
interrupt cancel_many "$many" pg_cancel_backend "$network"
check "cancel ends a batch of lists in flight with 57014's message" '[[ "$LAST_OUT" == *"canceling statement due to user request"* ]]'
check "cancel ends the batch long before the 10 s replies" '[ "$LAST_MS" -lt 5000 ]'
check "the batch had 8 lists in flight" '[ "$(mock_requests ft:cancel:many:seed-20:proj-10:slow-10000)" = $((before + 8)) ]'

# statement_timeout, then in the same session: no connection left open, and
# the next statement works
t0=$(now_ms)
out=$("$PG_BIN/psql" -X -q -At -d cp_cancel -c "SET statement_timeout = '300ms'" -c "$many" \
	-c "SELECT 'open connections: ' || mock_connections()" -c "RESET statement_timeout" \
	-c "SELECT 'next: ' || count(*) FROM fast" 2>&1 || true)
t1=$(now_ms)
echo "statement_timeout 300 ms on a batch of lists: $(echo "$out" | tr '\n' ' ')"
check "statement_timeout ends a batch of lists" '[[ "$out" == *"canceling statement due to statement timeout"* ]]'
check "no connection of the batch is left open" '[[ "$out" == *"open connections: 0"* ]]'
check "the next statement of the session works" '[[ "$out" == *"next: 20"* ]]'
check "the batch had 8 more lists in flight" '[ "$(mock_requests ft:cancel:many:seed-20:proj-10:slow-10000)" = $((before + 16)) ]'
check "statement_timeout ends them long before the 10 s replies" '[ $((t1 - t0)) -lt 5000 ]'

# the server is still fine, with no restart in between
check "the server still answers" '[ "$(psql_ -c "SELECT 1")" = 1 ]'
exit $fail
