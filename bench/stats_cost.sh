#!/bin/bash
# What the counters of checkpoint_perms_stats cost per request: the same
# scan (1,000 requests: 10,000 permissions, page_size 10, no latency) on a
# server without preloading (each backend counts in a hash table of its
# own) and on one with shared_preload_libraries = checkpoint_perms (shared
# memory: an LWLock and a spinlock per request), alternated, 7 runs each.
# Prints the median wall time per scan and per request.
# Usage: bash bench/stats_cost.sh

cd "$(dirname "$0")/.."
. test/lib.sh

cp_install_packages
cp_build_install >/dev/null
cp_start_postgres
cp_start_mock --page-cap 100

# the preloaded one, next to the first
pre=$CP_TMP/preloaded
mkdir "$pre"
if [ "$(id -u)" = 0 ]; then chown postgres: "$pre"; fi
cp_as_pg "$PG_BIN/initdb" -D "$pre/data" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
cp_as_pg "$PG_BIN/pg_ctl" -D "$pre/data" -w -l "$pre/postgres.log" \
	-o "-c listen_addresses='' -k $pre -p 5497 -c fsync=off -c shared_preload_libraries=checkpoint_perms" \
	start >/dev/null
trap 'cp_as_pg "$PG_BIN/pg_ctl" -D "$pre/data" -m immediate stop >/dev/null 2>&1; cp_cleanup' EXIT

setup() { # host port
	"$PG_BIN/psql" -X -q -h "$1" -p "$2" -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION checkpoint_perms;
CREATE SERVER mock FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url '$MOCK_URL', page_size '10');
CREATE USER MAPPING FOR CURRENT_USER SERVER mock OPTIONS (api_key '$MOCK_KEY');
CREATE FOREIGN TABLE p (id text) SERVER mock OPTIONS (checkpoint 'ft:bench:stats:seed-10000');
SELECT count(*) FROM p;
SQL
}
scan_ms() { # host port
	"$PG_BIN/psql" -X -q -At -h "$1" -p "$2" <<'SQL'
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FROM p \g /dev/null
SELECT round(extract(epoch FROM clock_timestamp() - :'t0') * 1000);
SQL
}
setup "$PGHOST" "$PGPORT" >/dev/null
setup "$pre" 5497 >/dev/null
local_ms=()
shared_ms=()
for i in 1 2 3 4 5 6 7; do
	local_ms+=("$(scan_ms "$PGHOST" "$PGPORT")")
	shared_ms+=("$(scan_ms "$pre" 5497)")
done
median() { printf '%s\n' "$@" | sort -n | sed -n 4p; }
requests=$("$PG_BIN/psql" -X -At -h "$pre" -p 5497 -c "SELECT requests FROM checkpoint_perms_stats WHERE method = 'GET'")
lm=$(median "${local_ms[@]}")
sm=$(median "${shared_ms[@]}")
echo "| counters | scan of 1,000 requests, median ms (7 runs) | per request µs | runs |"
echo "|---|---|---|---|"
echo "| this backend's (not preloaded) | $lm | $lm | ${local_ms[*]} |"
echo "| shared memory (preloaded) | $sm | $sm | ${shared_ms[*]} |"
echo "(the preloaded server counted $requests GET requests: 8 scans of 1,000)"
