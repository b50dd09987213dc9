#!/bin/bash
# A dump made by a role that is not superuser, restored into a new database
# by a superuser.  pg_dump cannot read another role's user mapping options,
# so it writes that mapping without "api_key": the restore must accept it,
# every object must come back, using the keyless mapping must fail with
# 28000 and the ALTER USER MAPPING to run, and adding the key must make it
# work.  Needs the server and mock of run-tests.sh (PGHOST, MOCK_URL, ...).
set -euo pipefail

src=cp_dump
dst=cp_dump_restored
owner=cp_dump_owner
alice=cp_dump_alice
dump=$(mktemp)
out=$(mktemp)
failed=0
psql_() { "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
check() { # what expected actual
	if [ "$2" = "$3" ]; then
		echo "ok: $1: $3"
	else
		echo "FAILED: $1: expected $2, got $3"
		failed=1
	fi
}
cleanup() {
	psql_ -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $src" \
		-c "DROP DATABASE IF EXISTS $dst" -c "DROP ROLE IF EXISTS $owner" -c "DROP ROLE IF EXISTS $alice" || true
	rm -f "$dump" "$out"
}
cleanup
trap cleanup EXIT

psql_ -d postgres -c "CREATE ROLE $owner LOGIN" -c "CREATE ROLE $alice LOGIN" \
	-c "CREATE DATABASE $src OWNER $owner"
# a superuser installs the extension and owns the server (only then may it
# reach the mock on loopback); the database owner builds the rest
psql_ -d "$src" <<SQL
CREATE EXTENSION checkpoint_perms;
CREATE SERVER mock FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url '$MOCK_URL', page_size '50');
GRANT USAGE ON FOREIGN SERVER mock TO $owner, $alice;
CREATE USER MAPPING FOR $owner SERVER mock OPTIONS (api_key '$MOCK_KEY');
CREATE USER MAPPING FOR $alice SERVER mock OPTIONS (api_key '$MOCK_KEY');
SQL
PGUSER=$owner psql_ -d "$src" <<'SQL'
CREATE FOREIGN TABLE perms (id text, created_at timestamptz, project_id text OPTIONS (field 'project_id'), object text)
  SERVER mock OPTIONS (checkpoint 'ft:dump:seed-7:proj-3', batch_size '20');
CREATE SCHEMA remote;
IMPORT FOREIGN SCHEMA checkpoints FROM SERVER mock INTO remote;
CREATE TABLE teams (name text PRIMARY KEY, project text);
INSERT INTO teams VALUES ('red', 'proj_0001'), ('blue', 'proj_0002');
CREATE VIEW team_perms AS SELECT t.name, p.id FROM teams t JOIN perms p ON p.project_id = t.project;
GRANT SELECT ON perms, team_perms, teams TO cp_dump_alice;
SQL

# What the objects are, in a form to compare between the two databases
# (options sorted: a restore may write them in another order).
objects() {
	psql_ -d "$1" <<'SQL'
SELECT 'server ' || srvname || ' ' || (SELECT string_agg(o, ',' ORDER BY o) FROM unnest(srvoptions) o) FROM pg_foreign_server;
SELECT 'mapping ' || srvname || ' ' || usename FROM pg_user_mappings ORDER BY 1;
SELECT 'relation ' || c.oid::regclass || ' ' || c.relkind::text || ' ' || pg_get_userbyid(c.relowner)
       || coalesce(' ' || (SELECT string_agg(o, ',' ORDER BY o) FROM unnest(ft.ftoptions) o), '')
  FROM pg_class c LEFT JOIN pg_foreign_table ft ON ft.ftrelid = c.oid
  WHERE c.relnamespace::regnamespace::text IN ('public', 'remote') ORDER BY 1;
SELECT 'column ' || attrelid::regclass || '.' || attname || ' ' || (SELECT string_agg(o, ',' ORDER BY o) FROM unnest(attfdwoptions) o)
  FROM pg_attribute WHERE attfdwoptions IS NOT NULL ORDER BY 1;
SELECT 'grant ' || c.relname || ' ' || array_to_string(c.relacl, ',')
  FROM pg_class c WHERE c.relacl IS NOT NULL AND c.relnamespace = 'public'::regnamespace ORDER BY 1;
SELECT 'extension ' || extname || ' ' || extversion FROM pg_extension WHERE extname = 'checkpoint_perms';
SQL
}

PGUSER=$owner "$PG_BIN/pg_dump" -Fc -d "$src" -f "$dump"
"$PG_BIN/pg_restore" -l "$dump" | grep -q "USER MAPPING $alice SERVER mock" &&
	"$PG_BIN/pg_restore" -f - "$dump" | grep -q "^CREATE USER MAPPING FOR $alice SERVER mock;$" &&
	echo "ok: the dump has alice's mapping without its options" ||
	{ echo "FAILED: the dump does not have alice's mapping as expected"; failed=1; }
"$PG_BIN/pg_restore" -f - "$dump" | grep -q "$MOCK_KEY" &&
	echo "ok: the dump has the dumping role's own key (pg_dump could read that one)" ||
	{ echo "FAILED: the owner's own mapping lost its key"; failed=1; }

# --include-foreign-data lists each table of the server into the dump; the
# table across checkpoints has no list without a checkpoint, so pg_dump
# stops there with the extension's 0A000 (README, "Dump and restore")
if PGUSER=$owner "$PG_BIN/pg_dump" --include-foreign-data=mock -d "$src" -f /dev/null >"$out" 2>&1; then
	echo "FAILED: pg_dump --include-foreign-data dumped a table across checkpoints"; failed=1
else
	check "pg_dump --include-foreign-data stops at the table across checkpoints" "1" \
		"$(grep -c 'must name the checkpoints it reads' "$out")"
fi

psql_ -d postgres -c "CREATE DATABASE $dst"
if "$PG_BIN/pg_restore" --exit-on-error -d "$dst" "$dump" >"$out" 2>&1; then
	echo "ok: pg_restore by a superuser succeeds"
else
	echo "FAILED: pg_restore:"; cat "$out"; failed=1
fi
objects "$src" >"$out.src"
objects "$dst" >"$out.dst"
if diff "$out.src" "$out.dst"; then
	echo "ok: every object comes back ($(wc -l <"$out.src") lines of catalog compared)"
else
	echo "FAILED: the restored database differs (above)"
	failed=1
fi
rm -f "$out.src" "$out.dst"

# alice's mapping has no key now: a clear error, naming her and the server
PGUSER=$alice "$PG_BIN/psql" -X -At -d "$dst" >"$out" 2>&1 <<'SQL' || true
\set VERBOSITY verbose
SELECT count(*) FROM perms;
SQL
check "the keyless mapping gives 28000" "1" "$(grep -c '^ERROR:  28000: the user mapping of role "cp_dump_alice" for server "mock" has no option "api_key"' "$out")"
check "with the ALTER USER MAPPING to run" "1" "$(grep -c "^HINT:  ALTER USER MAPPING FOR cp_dump_alice SERVER mock OPTIONS (ADD api_key 'sk-admin-...');" "$out")"
check "the owner's mapping kept its key" "7" "$(PGUSER=$owner psql_ -d "$dst" -c 'SELECT count(*) FROM perms')"

psql_ -d "$dst" -c "ALTER USER MAPPING FOR $alice SERVER mock OPTIONS (ADD api_key '$MOCK_KEY')"
check "with the key, alice reads the table" "7" "$(PGUSER=$alice psql_ -d "$dst" -c 'SELECT count(*) FROM perms')"
check "and the view joining a local table" "5" "$(PGUSER=$alice psql_ -d "$dst" -c 'SELECT count(*) FROM team_perms')"
check "the imported table across checkpoints" "7" \
	"$(PGUSER=$owner psql_ -d "$dst" -c "SELECT count(*) FROM remote.checkpoint_permissions WHERE checkpoint = 'ft:dump:seed-7:proj-3'")"

exit "$failed"
