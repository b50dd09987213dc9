#!/bin/bash
# Grants whose outcome cannot be learned: a cancel from another session, a
# terminate and statement_timeout while a POST or its recovery list is in
# flight.  The error keeps PostgreSQL's SQLSTATE and says which projects'
# grants may have been applied; the journal keeps them as "unknown"; the
# rollback warning names them (in the server log too, for a terminate).
# Needs the server and mock that test/run-tests.sh starts (PGHOST, MOCK_URL, ...).
set -euo pipefail

db=cp_grants
psql_() { "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d $db "$@"; }

"$PG_BIN/psql" -X -q -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql_ <<SQL
CREATE EXTENSION checkpoint_perms;
CREATE SERVER mock FOREIGN DATA WRAPPER checkpoint_perms
  OPTIONS (base_url '$MOCK_URL', timeout_ms '60000');
CREATE USER MAPPING FOR CURRENT_USER SERVER mock OPTIONS (api_key '$MOCK_KEY');
-- the API acts at once, and answers after 10 s
CREATE FOREIGN TABLE slow_post (project_id text) SERVER mock
  OPTIONS (checkpoint 'ft:grants:slowpost:post-slow-10000');
CREATE FOREIGN TABLE slow_post2 (project_id text) SERVER mock
  OPTIONS (checkpoint 'ft:grants:slowpost2:post-slow-10000');
-- the reply to the POST is lost, and the list that would tell takes 10 s
CREATE FOREIGN TABLE slow_list (project_id text) SERVER mock
  OPTIONS (checkpoint 'ft:grants:slowlist:post-applied-hangup:get-slow-10000');
-- a grant, then an error in the same statement: the transaction rolls back
CREATE FOREIGN TABLE then_fail (project_id text) SERVER mock
  OPTIONS (checkpoint 'ft:grants:thenfail', batch_size '1');
SQL

fail=0
check() { # what, condition
	if eval "$2"; then echo "ok: $1"; else echo "FAILED: $1"; fail=1; fi
}

# run $2 with application_name $1 in the background; once it waits on the
# network, signal it with $3; LAST_OUT holds what psql printed
interrupt() {
	local name=$1 query=$2 signal=$3 out pid i state=""
	out=$(mktemp)
	PGAPPNAME=$name "$PG_BIN/psql" -X -q -d $db -v VERBOSITY=verbose -c "$query" >"$out" 2>&1 &
	pid=$!
	for i in $(seq 1 100); do
		state=$(psql_ -c "SELECT wait_event_type FROM pg_stat_activity WHERE application_name = '$name'")
		[ "$state" = Extension ] && break
		sleep 0.05
	done
	psql_ -c "SELECT $signal(pid) FROM pg_stat_activity WHERE application_name = '$name'" >/dev/null
	wait "$pid" || true
	LAST_OUT=$(cat "$out")
	rm -f "$out"
	echo "$name: $(tr '\n' ' ' <<<"$LAST_OUT")"
}

interrupt cancel_post "INSERT INTO slow_post VALUES ('proj_a'), ('proj_b')" pg_cancel_backend
check "cancel during a POST: 57014" '[[ "$LAST_OUT" == *"ERROR:  57014: canceling statement due to user request"* ]]'
check "its detail names the projects" '[[ "$LAST_OUT" == *"DETAIL:  The grants of projects \"proj_a\", \"proj_b\" may have been applied."* ]]'
check "the rollback warning names them" '[[ "$LAST_OUT" == *"WARNING:  01000: rollback does not undo 2 grants of checkpoint permissions whose outcome is unknown"* ]]'
sleep 0.2
granted=$(psql_ -c "SELECT string_agg(project_id, ' ' ORDER BY project_id) FROM slow_post")
check "the API did grant them" '[ "$granted" = "proj_a proj_b" ]'

interrupt cancel_list "INSERT INTO slow_list VALUES ('proj_c')" pg_cancel_backend
check "cancel during the recovery list: 57014" '[[ "$LAST_OUT" == *"ERROR:  57014: canceling statement due to user request"* ]]'
check "its detail names the project" '[[ "$LAST_OUT" == *"The grant of project \"proj_c\" may have been applied."* ]]'

# statement_timeout, from inside, and then the journal of that transaction
out=$("$PG_BIN/psql" -X -q -At -d $db -v VERBOSITY=verbose 2>&1 <<SQL || true
SET statement_timeout = '300ms';
INSERT INTO slow_post2 VALUES ('proj_t');
RESET statement_timeout;
SELECT transaction || ' ' || action || ' ' || project_id || ' ' || outcome FROM checkpoint_perms_journal();
SQL
)
echo "statement_timeout: $(tr '\n' ' ' <<<"$out")"
check "statement_timeout during a POST: 57014 with the project" '[[ "$out" == *"57014: canceling statement due to statement timeout"* && "$out" == *"The grant of project \"proj_t\" may have been applied."* ]]'
check "the journal keeps it as unknown" '[[ "$out" == *"previous grant proj_t unknown"* ]]'

# an error after a grant, in an implicit transaction: the warning comes
# (before or after the error: the error is sent before the abort runs)
out=$(psql_ -c "INSERT INTO then_fail VALUES ('proj_1'), (NULL)" 2>&1 || true)
echo "error after a grant: $(tr '\n' ' ' <<<"$out")"
check "an error after a grant warns that the grant stays" '[[ "$out" == *"WARNING:  rollback does not undo 1 grant of checkpoint permissions"* && "$out" == *"(ft:grants:thenfail, proj_1)"* && "$out" == *"ERROR:  a grant needs a project_id"* ]]'

# a terminate is FATAL: not caught, the backend exits; its exit rolls the
# transaction back, and the warning reaches the server log
interrupt terminate_post "INSERT INTO slow_post VALUES ('proj_k')" pg_terminate_backend
check "terminate during a POST ends the backend with FATAL" '[[ "$LAST_OUT" == *"FATAL:  57P01: terminating connection due to administrator command"* ]]'
sleep 0.3
check "the server log names the grant that may have been applied" 'grep -q "rollback does not undo 1 grant of checkpoint permissions whose outcome is unknown" "$PGHOST/postgres.log" && grep -q "Outcome unknown: grant (ft:grants:slowpost:post-slow-10000, proj_k)" "$PGHOST/postgres.log"'

check "the server still answers" '[ "$(psql_ -c "SELECT 1")" = 1 ]'
"$PG_BIN/psql" -X -q -c "SET client_min_messages = warning" -c "DROP DATABASE $db" || true
exit $fail
