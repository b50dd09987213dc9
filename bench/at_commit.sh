#!/bin/bash
# apply_writes 'at_commit' against today's 'now': the time a COMMIT of 100
# queued revokes takes, next to a DELETE of 100 that sends them at once, both
# through the mock API with LATENCY ms per request (default 20, like a nearby
# API).  Best of 3, each on a checkpoint of its own; prints a Markdown table.
# Usage: bash bench/at_commit.sh   (LATENCY=0 for loopback)

cd "$(dirname "$0")/.."
. test/lib.sh
LATENCY=${LATENCY:-20}

cp_install_packages
cp_build_install >/dev/null
cp_start_postgres
cp_start_mock --page-cap 100 --latency-ms "$LATENCY"

psql_() { "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
# milliseconds of each statement, from psql's \timing, one per line
timings() { psql_ -c '\timing on' "$@" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'; }
best() { sort -n | head -1; }

psql_ <<SQL
CREATE EXTENSION checkpoint_perms;
CREATE SERVER m FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url '$MOCK_URL');
CREATE USER MAPPING FOR CURRENT_USER SERVER m OPTIONS (api_key '$MOCK_KEY');
SQL
for i in 1 2 3; do
	psql_ -c "CREATE FOREIGN TABLE now$i (id text, project_id text) SERVER m OPTIONS (checkpoint 'ft:bench:now$i:seed-100')" \
		-c "CREATE FOREIGN TABLE atc$i (id text, project_id text) SERVER m OPTIONS (checkpoint 'ft:bench:atc$i:seed-100', apply_writes 'at_commit')" \
		-c "SELECT 1 FROM now$i LIMIT 1" -c "SELECT 1 FROM atc$i LIMIT 1" >/dev/null
done

now=$(for i in 1 2 3; do timings -c "DELETE FROM now$i"; done | best)
: >"$CP_TMP/atc"
for i in 1 2 3; do
	# three timings: BEGIN, the DELETE that lists and queues, the COMMIT that sends
	timings -c "BEGIN" -c "DELETE FROM atc$i" -c "COMMIT" | paste -sd' ' >>"$CP_TMP/atc"
	[ "$(psql_ -c "SELECT count(*) FROM atc$i")" = 0 ] || { echo "atc$i: revokes missing" >&2; exit 1; }
done
commit=$(awk '{print $3}' "$CP_TMP/atc" | best)
queue=$(awk '{print $2}' "$CP_TMP/atc" | best)
total=$(awk '{print $2 + $3}' "$CP_TMP/atc" | best)

echo "| 100 revokes (mock latency ${LATENCY} ms, max_concurrency 8, best of 3) | time |"
echo "|---|---|"
echo "| apply_writes 'now': DELETE of 100 (lists, then sends) | ${now} ms |"
echo "| apply_writes 'at_commit': the DELETE (lists, queues) | ${queue} ms |"
echo "| apply_writes 'at_commit': the COMMIT of 100 queued revokes | ${commit} ms |"
echo "| apply_writes 'at_commit': DELETE + COMMIT | ${total} ms |"
