#!/bin/bash
# A cursor broken by another session's revoke still fails, with a hint
# saying so: session A reads the first page through a cursor, session B
# (started from A with \!) revokes that page's last row, the cursor of the
# next page; A's next FETCH is refused by the mock, and A did not revoke
# it, so there is nothing to resume from.  Its own revokes it survives
# (sql/cursors.sql).  Needs the server and mock of test/run-tests.sh.
set -euo pipefail

. "$(dirname "$0")/session_db.sh"
cp_session_db cp_cursors
psql_ <<SQL
CREATE FOREIGN TABLE perms (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:cursors:other:seed-20', page_size '10');
SQL
tenth=$(psql_ -c "SELECT id FROM perms OFFSET 9 LIMIT 1")

out=$(mktemp)
TENTH=$tenth psql_ >"$out" 2>&1 <<'SQL' || true
\set VERBOSITY default
BEGIN;
DECLARE c CURSOR FOR SELECT id FROM perms;
FETCH 10 FROM c;
\! "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d cp_cursors -c "DELETE FROM perms WHERE id = '$TENTH'"
FETCH 1 FROM c;
COMMIT;
SQL
check "the other session's revoke" "0" "$(psql_ -c "SELECT count(*) FROM perms WHERE id = '$tenth'")"
check "the FETCH fails" "ERROR:  OpenAI API rejected the request" "$(grep '^ERROR' "$out" || cat "$out")"
check "with a hint naming another session" \
	"HINT:  The list's cursor is a permission this session did not revoke: another session's revokes can break a list that is being read. Run the query again." \
	"$(grep '^HINT' "$out" || cat "$out")"

"$PG_BIN/psql" -X -q -c "DROP DATABASE $db"
rm -f "$out"
exit "$failed"
