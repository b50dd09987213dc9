#!/bin/bash
# REPEATABLE READ and SERIALIZABLE read one list per transaction: session A
# reads, session B (started from A with \!) grants, and A's same reads in
# the same transaction return the same rows, with no new GET in the mock's
# log, whatever the plan (the filter sent to the API or checked here, a
# nested loop or a hash join); READ COMMITTED sees B's grant at once.  A
# DELETE in REPEATABLE READ revokes the rows the transaction sees; ON
# CONFLICT DO NOTHING asks the API, and fails (40001) on a permission the
# transaction's list does not show.  Single-session behaviour is in
# sql/repeatable.sql.  Needs the server and mock of test/run-tests.sh.
set -euo pipefail

. "$(dirname "$0")/session_db.sh"
cp_session_db cp_repeatable
export CKPT='ft:repeatable:seed-30:proj-3'
psql_ <<SQL
CREATE FOREIGN TABLE perms (id text, created_at timestamptz, project_id text)
  SERVER mock OPTIONS (checkpoint '$CKPT');
CREATE TABLE teams (project text);
INSERT INTO teams VALUES ('proj_0001'), ('proj_b1'), ('proj_b2');
ANALYZE teams;
SQL

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# the GETs the mock received for CKPT so far (a script: \! runs /bin/sh)
cat >"$tmp/gets.py" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1]):
    if line.strip():
        r = json.loads(line)
        n += r.get("checkpoint") == sys.argv[2] and r.get("method") == "GET"
print("gets|%d" % n)
PY
GETS="$PYTHON $tmp/gets.py $MOCK_LOG $CKPT"
B="$PG_BIN/psql -X -q -At -v ON_ERROR_STOP=1 -d $db"

# What A reads, five ways: the whole list, one project pushed and checked
# here, and a join of teams under a nested loop and a hash join.
cat >"$tmp/reads.sql" <<'SQL'
SELECT 'all', count(*), md5(string_agg(id, ',' ORDER BY id)) FROM perms;
SELECT 'pushed', count(*) FROM perms WHERE project_id = 'proj_b1';
SELECT 'local', count(*) FROM perms WHERE project_id || '' = 'proj_b1';
SET enable_hashjoin = off; SET enable_mergejoin = off;
SELECT 'nestloop', count(*) FROM teams t JOIN perms p ON p.project_id = t.project;
RESET enable_hashjoin; RESET enable_mergejoin; SET enable_nestloop = off;
SELECT 'hash', count(*) FROM teams t JOIN perms p ON p.project_id = t.project;
RESET enable_nestloop;
SQL

# isolation level, project B grants between A's two reads
run_two_reads() {
	local iso=$1 project=$2
	psql_ <<SQL 2>&1
BEGIN ISOLATION LEVEL $iso;
\i $tmp/reads.sql
\! $GETS
\! $B -c "INSERT INTO perms (project_id) VALUES ('$project')"
\i $tmp/reads.sql
\! $GETS
COMMIT;
SQL
}

# the two reads of one label, and whether the GETs stayed the same
same_reads() { # output label
	local a b
	a=$(grep "^$2|" <<<"$1" | sed -n 1p)
	b=$(grep "^$2|" <<<"$1" | sed -n 2p)
	[ -n "$a" ] && [ "$a" = "$b" ] && echo same || echo "differ: $a / $b"
}

for iso in "REPEATABLE READ" SERIALIZABLE; do
	project=proj_b1
	[ "$iso" = SERIALIZABLE ] && project=proj_b2
	out=$(run_two_reads "$iso" "$project")
	for label in all pushed local nestloop hash; do
		check "$iso: $label read twice around another session's grant" same "$(same_reads "$out" "$label")"
	done
	check "$iso: the second reads sent no GET" same "$(same_reads "$out" gets)"
	check "$iso: a new transaction sees the grant" 1 \
		"$(psql_ -c "BEGIN ISOLATION LEVEL $iso" -c "SELECT count(*) FROM perms WHERE project_id = '$project'" -c COMMIT)"
done

out=$(run_two_reads "READ COMMITTED" proj_b1)
counts=$(grep '^all|' <<<"$out" | cut -d'|' -f2 | paste -sd' ')
check "READ COMMITTED: the second read sees the grant" "one more" \
	"$(awk '{ print ($2 == $1 + 1) ? "one more" : $0 }' <<<"$counts")"
check "READ COMMITTED: pushed and local see it" "local|1 local|2 pushed|1 pushed|2" \
	"$(grep -E '^(pushed|local)\|' <<<"$out" | sort | paste -sd' ')"
check "READ COMMITTED: the second reads sent GETs" "sent" \
	"$(grep '^gets|' <<<"$out" | cut -d'|' -f2 | paste -sd' ' | awk '{ print ($2 > $1) ? "sent" : $0 }')"

# A project's list kept first, then the whole list: the kept project keeps
# its rows, the others are as the API lists them when the whole list is read
out=$(psql_ <<SQL 2>&1
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT 'x', count(*) FROM perms WHERE project_id = 'proj_x';
\! $B -c "INSERT INTO perms (project_id) VALUES ('proj_x'), ('proj_y')"
SELECT 'whole', count(*) FILTER (WHERE project_id = 'proj_x'), count(*) FILTER (WHERE project_id = 'proj_y') FROM perms;
SELECT 'x again', count(*) FROM perms WHERE project_id = 'proj_x';
SELECT 'y', count(*) FROM perms WHERE project_id = 'proj_y';
COMMIT;
SQL
)
check "a project kept before the whole list keeps its rows" "x|0 whole|0|1 x again|0 y|1" \
	"$(paste -sd' ' <<<"$out")"

# A DELETE in REPEATABLE READ revokes what the transaction sees: not the
# permission granted by B after A's first read
out=$(psql_ <<SQL 2>&1
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT 'before', count(*) FROM perms WHERE project_id = 'proj_0002';
\! $B -c "INSERT INTO perms (project_id) VALUES ('proj_0002')"
WITH d AS (DELETE FROM perms WHERE project_id = 'proj_0002' RETURNING id) SELECT 'deleted', count(*) FROM d;
SELECT 'after', count(*) FROM perms WHERE project_id = 'proj_0002';
COMMIT;
SQL
)
check "DELETE revokes the rows the transaction sees" "before|10 deleted|10 after|0" "$(paste -sd' ' <<<"$out")"
check "the other session's grant stays" 1 "$(psql_ -c "SELECT count(*) FROM perms WHERE project_id = 'proj_0002'")"

# ON CONFLICT DO NOTHING asks the API.  A permission B granted after A's
# list of that project was kept is a conflict A's list does not show: the
# statement fails with 40001, as PostgreSQL fails an ON CONFLICT whose
# conflicting row its snapshot cannot see; a project whose list A has not
# read is skipped, and A's first read of it shows B's grant.
out=$(psql_ <<SQL 2>&1 || true
\set VERBOSITY sqlstate
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT 'before', count(*) FROM perms WHERE project_id = 'proj_c';
\! $B -c "INSERT INTO perms (project_id) VALUES ('proj_c')"
WITH g AS (INSERT INTO perms (project_id) VALUES ('proj_c') ON CONFLICT DO NOTHING RETURNING id)
SELECT 'granted', count(*) FROM g;
SQL
)
check "ON CONFLICT DO NOTHING fails on a grant the list does not show" "before|0 ERROR:  40001" \
	"$(paste -sd' ' <<<"$out")"
check "one permission for proj_c" 1 "$(psql_ -c "SELECT count(*) FROM perms WHERE project_id = 'proj_c'")"
out=$(psql_ <<SQL 2>&1 || true
\set VERBOSITY sqlstate
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT 'whole', count(*) > 0 FROM perms;
\! $B -c "INSERT INTO perms (project_id) VALUES ('proj_w')"
INSERT INTO perms (project_id) VALUES ('proj_0001'), ('proj_w') ON CONFLICT DO NOTHING;
SQL
)
check "the same against the whole list kept" "whole|t ERROR:  40001" "$(paste -sd' ' <<<"$out")"
out=$(psql_ <<SQL 2>&1
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT 'other', count(*) FROM perms WHERE project_id = 'proj_d';
\! $B -c "INSERT INTO perms (project_id) VALUES ('proj_e')"
WITH g AS (INSERT INTO perms (project_id) VALUES ('proj_e') ON CONFLICT DO NOTHING RETURNING id)
SELECT 'granted', count(*) FROM g;
SELECT 'after', count(*) FROM perms WHERE project_id = 'proj_e';
COMMIT;
SQL
)
check "ON CONFLICT DO NOTHING skips a project whose list is not kept" "other|0 granted|0 after|1" \
	"$(paste -sd' ' <<<"$out")"

"$PG_BIN/psql" -X -q -c "DROP DATABASE $db"
exit "$failed"
