#!/bin/bash
# Fuzz: run statements in one backend against test/fuzz_mock.py, which
# answers every request with a random hostile reply, and assert that no
# statement crashes the backend, fails with XX000 (an error without a
# SQLSTATE of its own), runs past statement_timeout, and that the backend's
# memory stays flat.  Needs the server of run-tests.sh.
#
#   FUZZ_SEED (default 11)  the replies and the statements; a failure prints
#                           the seed, and fuzz.log in the kept directory says
#                           which reply each request got
#   FUZZ_STATEMENTS (300)   statements after a warm-up of FUZZ_WARMUP (100)
set -euo pipefail

SEED=${FUZZ_SEED:-11}
N=${FUZZ_STATEMENTS:-300}
WARMUP=${FUZZ_WARMUP:-100}
TIMEOUT_MS=5000
PYTHON=${PYTHON:-/usr/bin/python3}
dir=$(mktemp -d /tmp/cp_fuzz.XXXXXX)
chmod 755 "$dir"
fuzz_pid=
cleanup() {
	if [ -n "$fuzz_pid" ]; then kill "$fuzz_pid" 2>/dev/null || true; wait "$fuzz_pid" 2>/dev/null || true; fi
	if [ -z "${failed:-}" ] && [ -z "${FUZZ_KEEP:-}" ]; then rm -rf "$dir"; else echo "kept $dir (seed $SEED)"; fi
}
trap cleanup EXIT

"$PYTHON" "$(dirname "$0")/fuzz_mock.py" --seed "$SEED" --port-file "$dir/port" --log "$dir/fuzz.log" \
	>"$dir/fuzz.out" 2>&1 &
fuzz_pid=$!
for _ in $(seq 1 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
[ -s "$dir/port" ] || { cat "$dir/fuzz.out"; failed=1; exit 1; }
url="http://127.0.0.1:$(cat "$dir/port")/v1"

"$PG_BIN/psql" -X -q -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS cp_fuzz" -c "CREATE DATABASE cp_fuzz"

# the statements, drawn from the same seed
"$PYTHON" - "$SEED" "$N" "$WARMUP" "$url" "$TIMEOUT_MS" >"$dir/fuzz.sql" <<'PY'
import random, sys
seed, n, warmup, url, timeout = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
rng = random.Random("statements:%d" % seed)
print(r"""\set VERBOSITY verbose
\set ON_ERROR_STOP 0
CREATE EXTENSION checkpoint_perms;
CREATE SERVER fz FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url '%(url)s', max_retries '0',
  timeout_ms '500', connect_timeout_ms '500', max_response_bytes '2097152');
CREATE SERVER fz_retry FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url '%(url)s', max_retries '1',
  timeout_ms '500', connect_timeout_ms '500');
CREATE USER MAPPING FOR CURRENT_USER SERVER fz OPTIONS (api_key 'sk-fuzz-0123456789');
CREATE USER MAPPING FOR CURRENT_USER SERVER fz_retry OPTIONS (api_key 'sk-fuzz-0123456789');
CREATE FOREIGN TABLE f (id text, created_at timestamptz, project_id text, object text)
  SERVER fz OPTIONS (checkpoint 'ft:fuzz:a', page_size '10', max_pages '20');
CREATE FOREIGN TABLE f_short (id varchar(10), created_at bigint, project_id char(8), object text)
  SERVER fz OPTIONS (checkpoint 'ft:fuzz:b', page_size '5', max_pages '20');
CREATE FOREIGN TABLE f_retry (id text, created_at text, project_id text)
  SERVER fz_retry OPTIONS (checkpoint 'ft:fuzz:c', page_size '3', max_pages '20');
CREATE TABLE teams (name text, project text);
INSERT INTO teams VALUES ('a', 'proj_a'), ('b', 'proj_b'), ('c', 'proj_c');
SET statement_timeout = %(timeout)s;
\timing on""" % {"url": url, "timeout": timeout})
stmts = [
    "SELECT count(*) FROM f",
    "SELECT * FROM f WHERE project_id = 'proj_a' ORDER BY created_at DESC LIMIT 3",
    "SELECT id FROM f WHERE project_id IN ('proj_a', 'proj_b', 'proj_c')",
    "SELECT * FROM f_short",
    "SELECT count(*) FROM f_retry",
    "SELECT t.name, p.id FROM teams t JOIN f p ON p.project_id = t.project",
    "INSERT INTO f (project_id) VALUES ('proj_a'), ('proj_b')",
    "INSERT INTO f (project_id) VALUES ('proj_c') RETURNING id, created_at, object",
    "INSERT INTO f_short (project_id) VALUES ('proj_d') RETURNING *",
    "DELETE FROM f WHERE project_id = 'proj_a'",
    "DELETE FROM f WHERE id = 'cp_abc' RETURNING id",
    "DELETE FROM f_retry RETURNING id",
    "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM f",
    "ANALYZE f",
    "BEGIN; INSERT INTO f (project_id) VALUES ('proj_e'); ROLLBACK",
]
mem = ("SELECT 'MEM', substring(pg_read_file('/proc/self/status') from 'VmRSS:\\s+(\\d+)')::int AS rss_kb, "
       "(SELECT sum(total_bytes) FROM pg_backend_memory_contexts) AS context_bytes;")
for i in range(warmup + n):
    if i >= warmup and (i - warmup) % 500 == 0:
        print(mem)
    print(rng.choice(stmts) + ";")
print(mem)
print("SELECT 'ALIVE';")
PY

start=$(date +%s%N)
"$PG_BIN/psql" -X -d cp_fuzz -f "$dir/fuzz.sql" >"$dir/fuzz.out" 2>&1 || true
end=$(date +%s%N)
out=$dir/fuzz.out

check() { # condition-description, then the test as a command
	local what=$1
	shift
	if "$@"; then echo "ok: $what"; else echo "FAILED: $what"; failed=1; fi
}

replies=$(wc -l <"$dir/fuzz.log")
errors=$(grep -c '^psql:.*ERROR:' "$out" || true)
echo "seed $SEED: $((N + WARMUP)) statements, $replies replies, $errors errors, $(((end - start) / 1000000)) ms"
grep -oE 'ERROR:  [0-9A-Z]{5}' "$out" | sort | uniq -c | sort -rn | sed 's/^/    /'
check "the backend survived every statement" grep -q 'ALIVE' "$out"
check "no lost connection" bash -c "! grep -qiE 'server closed the connection|connection to server was lost|terminated abnormally' '$out'"
check "no XX000 (internal error)" bash -c "! grep -q 'ERROR:  XX000' '$out'"
if grep -q 'ERROR:  XX000' "$out"; then grep -A3 'ERROR:  XX000' "$out" | head -20; fi
# a statement_timeout cancel (57014) is PostgreSQL's own guard, fine; no
# statement may run past it by more than the interrupt latency
slowest=$(grep -oE '^Time: [0-9.]+' "$out" | awk '{print $2}' | sort -n | tail -1)
echo "slowest statement: ${slowest} ms"
check "no statement past statement_timeout" awk -v s="$slowest" -v t="$TIMEOUT_MS" 'BEGIN { exit !(s < t + 1000) }'
read -r rss0 ctx0 < <(grep -E '^ MEM ' "$out" | head -1 | awk -F'|' '{print $2, $3}')
read -r rss1 ctx1 < <(grep -E '^ MEM ' "$out" | tail -1 | awk -F'|' '{print $2, $3}')
echo "backend after warm-up: RSS ${rss0} kB, memory contexts ${ctx0} bytes; at the end: RSS ${rss1} kB, contexts ${ctx1} bytes"
echo "RSS (kB) every 500 statements: $(grep -E '^ MEM ' "$out" | awk -F'|' '{printf "%d ", $2}')"
check "flat backend RSS (grew $((rss1 - rss0)) kB, limit 4096)" test $((rss1 - rss0)) -le 4096
check "flat memory contexts (grew $((ctx1 - ctx0)) bytes, limit 262144)" test $((ctx1 - ctx0)) -le 262144

"$PG_BIN/psql" -X -q -c "SET client_min_messages = warning" -c "DROP DATABASE cp_fuzz" >/dev/null
[ -z "${failed:-}" ]
