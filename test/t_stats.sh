#!/bin/bash
# What needs the library in shared_preload_libraries: a second PostgreSQL,
# started here with it preloaded (the suite's own server does not preload,
# so that sql/stats.sql tests the per-backend mode).  checkpoint_perms_stats
# counts the requests of two sessions and a third reads them (scope
# "shared"), a reset empties it; a 429 with retry-after-ms in one session
# makes another session's next request to the same server wait until the
# same moment; and a batch starts with as many requests in flight as the
# last one to that server, in any backend, ended with.  Needs the mock of
# run-tests.sh (MOCK_URL, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh

failed=0
check() { # what expected actual
	if [ "$2" = "$3" ]; then
		echo "ok: $1: $3"
	else
		echo "FAILED: $1: expected $2, got $3"
		failed=1
	fi
}

dir=$(mktemp -d /tmp/checkpoint_perms_stats.XXXXXX)
chmod 755 "$dir"
mkdir "$dir/data"
if [ "$(id -u)" = 0 ]; then chown -R postgres: "$dir"; fi
stop() {
	cp_as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap stop EXIT
cp_as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
	{ cat "$dir/initdb.log"; exit 1; }
cp_as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -w -l "$dir/postgres.log" \
	-o "-c listen_addresses='' -k $dir -p 5498 -c fsync=off -c shared_preload_libraries=checkpoint_perms" \
	start >/dev/null || { cat "$dir/postgres.log"; exit 1; }
export PGHOST=$dir PGPORT=5498 PGUSER=postgres PGDATABASE=postgres
psql_() { "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$@"; }

psql_ >/dev/null <<SQL
CREATE EXTENSION checkpoint_perms;
CREATE ROLE alice LOGIN;
CREATE SERVER mock FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url '$MOCK_URL', page_size '100');
GRANT USAGE ON FOREIGN SERVER mock TO alice;
CREATE USER MAPPING FOR postgres SERVER mock OPTIONS (api_key '$MOCK_KEY');
CREATE USER MAPPING FOR alice SERVER mock OPTIONS (api_key '$MOCK_KEY');
CREATE FOREIGN TABLE pages (id text, project_id text) SERVER mock OPTIONS (checkpoint 'ft:tstats:seed-250');
CREATE FOREIGN TABLE limited (id text) SERVER mock OPTIONS (checkpoint 'ft:tstats:seed-3:fail-1-429:retry-after-ms-1');
CREATE FOREIGN TABLE missing (id text) SERVER mock OPTIONS (checkpoint 'ft:tstats:status-404');
GRANT SELECT, INSERT ON pages, limited, missing TO alice;
SELECT checkpoint_perms_stats_reset();
SQL

# session 1 (postgres): three pages and a grant; session 2 (alice): a 429
# and its retry, a 404
psql_ -c "SELECT count(*) FROM pages" -c "INSERT INTO pages (project_id) VALUES ('proj_t')" >/dev/null
PGUSER=alice psql_ -c "SELECT count(*) FROM limited" >/dev/null
PGUSER=alice psql_ -c "SELECT count(*) FROM missing" >/dev/null 2>&1 || true

# session 3 reads both
view() {
	psql_ -c "SELECT usename, method, requests, ok, client_errors, rate_limited, server_errors,
	                 network_errors, retries, bytes_received > 0, coalesce(last_error, '-'),
	                 last_request_id ~ '^req_', scope
	            FROM checkpoint_perms_stats ORDER BY usename, method"
}
check "the view counts both sessions, read from a third" "alice|GET|3|1|1|1|0|0|1|t|HTTP 404|t|shared
postgres|GET|3|3|0|0|0|0|0|t|-|t|shared
postgres|POST|1|1|0|0|0|0|0|t|-|t|shared" "$(view)"
check "a role without pg_read_all_stats sees its own rows" "alice" \
	"$(PGUSER=alice psql_ -c 'SELECT DISTINCT usename FROM checkpoint_perms_stats')"
echo "sample of the view:"
psql_ -P pager=off -c "\\pset format aligned" -c "\\pset tuples_only off" \
	-c "SELECT server, usename, method, requests, ok, client_errors, rate_limited, retries, bytes_received, round(total_ms) AS total_ms, last_error, last_request_id, scope FROM checkpoint_perms_stats ORDER BY usename, method" |
	sed 's/^/    /'
psql_ -c "SELECT checkpoint_perms_stats_reset()" >/dev/null
check "a reset empties it" "0" "$(psql_ -c 'SELECT count(*) FROM checkpoint_perms_stats')"
psql_ -c "SELECT count(*) FROM pages" >/dev/null
check "and counting starts again after the reset" "postgres|GET|3|t" \
	"$(psql_ -c "SELECT usename, method, requests, stats_reset > now() - interval '1 minute' FROM checkpoint_perms_stats")"

# One back-off per server: session A gets a 429 with retry-after-ms: 1500;
# session B, started meanwhile, sends its first request to another
# checkpoint of the same server only once that moment has passed.  The
# mock's log says when each request arrived.
psql_ <<'SQL'
CREATE FOREIGN TABLE slow_down (id text) SERVER mock OPTIONS (checkpoint 'ft:tstats:pause:seed-1:fail-1-429:retry-after-ms-1500');
CREATE FOREIGN TABLE bystander (id text) SERVER mock OPTIONS (checkpoint 'ft:tstats:bystander:seed-1');
GRANT SELECT ON bystander TO alice;
SQL
psql_ -c "SELECT count(*) FROM slow_down" >/dev/null &
a=$!
for i in $(seq 1 100); do
	grep -q '"checkpoint": *"ft:tstats:pause' "$MOCK_LOG" && break
	sleep 0.02
done
sleep 0.2
PGUSER=alice psql_ -c "SELECT count(*) FROM bystander" >/dev/null
wait "$a"
waited=$("$PYTHON" - "$MOCK_LOG" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
pause = [r for r in rows if r.get("checkpoint", "").startswith("ft:tstats:pause")]
other = [r for r in rows if r.get("checkpoint", "").startswith("ft:tstats:bystander")]
# the 429's arrival, then the bystander's first request: 1.5 s later at least
# (less the mock's own time to answer the 429)
print("yes" if pause and other and other[0]["ts"] - pause[0]["ts"] >= 1.4 else
      "no (%s)" % [(r["checkpoint"], r["ts"], r["status"]) for r in pause + other])
PY
)
check "another session's request waits for the server's retry-after" "yes" "$waited"

# without a named delay nothing is shared: a plain query runs at once
start=$(date +%s%N)
PGUSER=alice psql_ -c "SELECT count(*) FROM bystander" >/dev/null
check "with no pause in force a request is not held back" "yes" \
	"$([ $(( ($(date +%s%N) - start) / 1000000 )) -lt 1000 ] && echo yes || echo no)"

# The adaptive number of requests in flight starts from the shared state:
# session A's lists meet an API that takes 2 at a time and end with fewer
# than 8 in flight; session B's 8 lists to another checkpoint of the same
# server, right after, start from there instead of sending 8 at once (each
# reply takes 200 ms, so the mock's arrival times show how many overlapped).
psql_ >/dev/null <<'SQL'
CREATE FOREIGN TABLE cap_a (id text, project_id text) SERVER mock OPTIONS (checkpoint 'ft:tstats:capa:seed-100:proj-20:inflight-2:slow-100');
CREATE FOREIGN TABLE cap_b (id text, project_id text) SERVER mock OPTIONS (checkpoint 'ft:tstats:capb:seed-100:proj-20:slow-200');
GRANT SELECT ON cap_b TO alice;
SQL
ids="'proj_0001', 'proj_0002', 'proj_0003', 'proj_0004', 'proj_0005', 'proj_0006', 'proj_0007', 'proj_0008'"
check "session A's lists succeed under the API's limit" "40" \
	"$(psql_ -c "SELECT count(*) FROM cap_a WHERE project_id IN ($ids)")"
check "session B's lists succeed" "40" \
	"$(PGUSER=alice psql_ -c "SELECT count(*) FROM cap_b WHERE project_id IN ($ids)")"
overlap=$("$PYTHON" - "$MOCK_LOG" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
a = [r for r in rows if r.get("checkpoint", "").startswith("ft:tstats:capa")]
b = [r["ts"] for r in rows if r.get("checkpoint", "").startswith("ft:tstats:capb")]
most = max(sum(1 for y in b if y <= x < y + 0.2) for x in b) if b else 0
print("%d" % most if any(r["status"] == 429 for r in a) else "A saw no 429")
PY
)
check "session B starts below max_concurrency (8) after A's 429s" "yes" \
	"$(case "$overlap" in [1-7]) echo yes ;; *) echo "no ($overlap in flight)" ;; esac)"

if grep -E 'terminated by signal|PANIC' "$dir/postgres.log"; then
	echo "FAILED: the preloaded server's log shows a crash"
	failed=1
fi
exit "$failed"
