#!/bin/bash
# Random SQL from sqlsmith (Debian's package) against foreign tables of every
# shape: one checkpoint, across checkpoints, partitioned tables of foreign
# partitions (one of them with its columns in another order), views over
# foreign tables, small local tables to join with.  sqlsmith runs as a role
# that is not superuser, seeded and bounded; the test fails on a crashed
# backend, an XX000 (internal error) of ours, and a statement that ran past
# statement_timeout, as the server log tells (the role logs its errors with
# their SQLSTATE).  An XX000 that the same query also raises when every table
# is a local one (a second database, cp_smith_local) is PostgreSQL's own:
# listed, not failed on.  Needs the server of run-tests.sh (PGHOST, its log
# in $PGHOST/postgres.log); starts its own mock.
#
#   SQLSMITH_SEED (default 17)       sqlsmith's --seed
#   SQLSMITH_QUERIES (100000)        sqlsmith's --max-queries
#   SQLSMITH_SECONDS (30)            wall clock for sqlsmith (timeout -s INT);
#                                    whichever bound comes first ends the run
#   SQLSMITH_HANG_MS (5000)          a statement that takes longer is a hang
#                                    (sqlsmith sets statement_timeout to 1 s)
#   SQLSMITH_KEEP                    keep the directory (always kept on failure)
set -euo pipefail
cd "$(dirname "$0")/.."

SEED=${SQLSMITH_SEED:-17}
QUERIES=${SQLSMITH_QUERIES:-100000}
WALL=${SQLSMITH_SECONDS:-30}
HANG_MS=${SQLSMITH_HANG_MS:-5000}
PYTHON=${PYTHON:-/usr/bin/python3}
MOCK_KEY=${MOCK_KEY:-sk-test-checkpoint-perms-0123456789}
SERVER_LOG=${SQLSMITH_SERVER_LOG:-$PGHOST/postgres.log}
ROLE=cp_smith
DB=cp_smith
SHADOW=cp_smith_local

if ! command -v sqlsmith >/dev/null; then
	# as root: apt-get; otherwise the message says what to install
	bash -c '. test/lib.sh && cp_install_packages sqlsmith'
fi
[ -r "$SERVER_LOG" ] || { echo "cannot read the server log $SERVER_LOG (set SQLSMITH_SERVER_LOG)"; exit 1; }

dir=$(mktemp -d /tmp/cp_sqlsmith.XXXXXX)
chmod 755 "$dir"
mock_pid=
watch_pid=
failed=
cleanup() {
	if [ -n "$watch_pid" ]; then kill "$watch_pid" 2>/dev/null || true; wait "$watch_pid" 2>/dev/null || true; fi
	if [ -n "$mock_pid" ]; then kill "$mock_pid" 2>/dev/null || true; wait "$mock_pid" 2>/dev/null || true; fi
	if [ -z "$failed" ] && [ -z "${SQLSMITH_KEEP:-}" ]; then rm -rf "$dir"; else echo "kept $dir (seed $SEED)"; fi
}
trap cleanup EXIT

"$PYTHON" test/mock_openai.py --key "$MOCK_KEY" --port 0 --port-file "$dir/mock.port" \
	--log "$dir/mock.log" --page-cap 100 >"$dir/mock.out" 2>&1 &
mock_pid=$!
for _ in $(seq 1 100); do [ -s "$dir/mock.port" ] && break; sleep 0.05; done
[ -s "$dir/mock.port" ] || { cat "$dir/mock.out"; failed=1; exit 1; }
url="http://127.0.0.1:$(cat "$dir/mock.port")/v1"

su_() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
# the role's own sessions; the setup's without the role's statement_timeout
role_() { PGOPTIONS="${PGOPTIONS:-} -c statement_timeout=0" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -U $ROLE "$@"; }

su_ <<SQL
SET client_min_messages = warning;
DROP DATABASE IF EXISTS $DB;
DROP DATABASE IF EXISTS $SHADOW;
DROP ROLE IF EXISTS $ROLE;
CREATE ROLE $ROLE LOGIN NOSUPERUSER;
CREATE DATABASE $DB;
CREATE DATABASE $SHADOW;
SQL
# The superuser owns the server, so its loopback base_url is allowed
# (README, Security); the role may only use it, with its own key.
for d in $DB $SHADOW; do
	su_ -d "$d" <<SQL
CREATE EXTENSION checkpoint_perms;
CREATE SCHEMA smith AUTHORIZATION $ROLE;
ALTER ROLE $ROLE IN DATABASE $d SET search_path = smith;
ALTER ROLE $ROLE IN DATABASE $d SET statement_timeout = '3s';
SQL
done
su_ -d $DB <<SQL
CREATE SERVER smith FOREIGN DATA WRAPPER checkpoint_perms
  OPTIONS (base_url '$url', max_retries '0', page_size '10');
GRANT USAGE ON FOREIGN SERVER smith TO $ROLE;
-- every error of the role's sessions in the log with its SQLSTATE, and every
-- statement that takes longer than a hang
ALTER ROLE $ROLE IN DATABASE $DB SET log_error_verbosity = verbose;
ALTER ROLE $ROLE IN DATABASE $DB SET log_min_duration_statement = $HANG_MS;
-- and every statement, when it starts: the requests in the mock's log are
-- matched to the statement that was running
ALTER ROLE $ROLE IN DATABASE $DB SET log_statement = 'all';
SQL

# The tables.  Each foreign table's statement ends with its SERVER clause on
# one line, which sed drops for the local copy in $SHADOW.
cat >"$dir/tables.sql" <<'SQL'
-- one checkpoint (with a checkpoint column, which shows the option)
CREATE FOREIGN TABLE perms_one (id text, created_at timestamptz, project_id text, object text, checkpoint text)
  SERVER smith OPTIONS (checkpoint 'ft:smith:one:seed-30:proj-5');
-- other column types, and slow pages: statement_timeout fires mid-request
CREATE FOREIGN TABLE perms_slow (project_id char(9), id varchar(40), created_at bigint)
  SERVER smith OPTIONS (checkpoint 'ft:smith:slow:seed-24:proj-4:get-slow-300', page_size '4');
-- across checkpoints: queries must name them
CREATE FOREIGN TABLE perms_all (checkpoint text, id text, created_at timestamptz, project_id text, object text)
  SERVER smith;
-- partitioned by checkpoint; part_b has its columns in another order
CREATE TABLE parts (checkpoint text, id text, created_at timestamptz, project_id text, object text)
  PARTITION BY LIST (checkpoint);
CREATE FOREIGN TABLE part_a PARTITION OF parts FOR VALUES IN ('ft:smith:a:seed-20:proj-4')
  SERVER smith OPTIONS (checkpoint 'ft:smith:a:seed-20:proj-4');
CREATE FOREIGN TABLE part_b (project_id text, created_at timestamptz, checkpoint text, object text, id text)
  SERVER smith OPTIONS (checkpoint 'ft:smith:b:seed-25:proj-3', page_size '7');
ALTER TABLE parts ATTACH PARTITION part_b FOR VALUES IN ('ft:smith:b:seed-25:proj-3');
-- partitioned by project, both partitions on one checkpoint
CREATE TABLE parts_proj (id varchar(40), project_id text, created_at bigint) PARTITION BY LIST (project_id);
CREATE FOREIGN TABLE part_p12 PARTITION OF parts_proj FOR VALUES IN ('proj_0001', 'proj_0002')
  SERVER smith OPTIONS (checkpoint 'ft:smith:p:seed-40:proj-6');
CREATE FOREIGN TABLE part_prest PARTITION OF parts_proj DEFAULT
  SERVER smith OPTIONS (checkpoint 'ft:smith:p:seed-40:proj-6', page_size '5');
-- sqlsmith 1.4 adds FOR UPDATE/SHARE only to queries whose tables' names
-- begin with pg_ (its check is the wrong way round): one such table
CREATE FOREIGN TABLE pg_locked (id text, project_id text, created_at timestamptz)
  SERVER smith OPTIONS (checkpoint 'ft:smith:lock:seed-12:proj-3');
-- local tables to join with
CREATE TABLE teams (name text, proj text);
INSERT INTO teams VALUES ('red', 'proj_0001'), ('blue', 'proj_0002'), ('green', 'proj_0003'), ('none', 'proj_9999');
CREATE TABLE models (checkpoint text, family text);
INSERT INTO models VALUES ('ft:smith:m1:seed-10:proj-2', 'weather'), ('ft:smith:m2:seed-15:proj-3', 'weather'),
  ('ft:smith:one:seed-30:proj-5', 'chat');
-- views: one over a table of one checkpoint, one naming the checkpoints of the table across them
CREATE VIEW perms_view AS SELECT id, project_id, created_at FROM perms_one WHERE project_id <> 'proj_0005';
CREATE VIEW perms_many AS SELECT * FROM perms_all
  WHERE checkpoint IN ('ft:smith:m1:seed-10:proj-2', 'ft:smith:m2:seed-15:proj-3');
SQL
role_ -d $DB -v key="$MOCK_KEY" <<<"CREATE USER MAPPING FOR CURRENT_USER SERVER smith OPTIONS (api_key :'key')"
role_ -d $DB -f "$dir/tables.sql"
sed -e 's/FOREIGN TABLE/TABLE/' -e 's/^ *SERVER smith.*;$/;/' "$dir/tables.sql" | role_ -d $SHADOW
# the local copies hold the same rows
for t in perms_one perms_slow pg_locked parts parts_proj perms_many; do
	role_ -d $DB -c "COPY (SELECT * FROM $t) TO STDOUT" | role_ -d $SHADOW -c "COPY ${t/perms_many/perms_all} FROM STDIN"
done
: >"$dir/mock.log"

# the relations whose queries reach the API
foreign="pg_locked|perms_one|perms_slow|perms_all|parts|part_a|part_b|parts_proj|part_p12|part_prest|perms_view|perms_many"

# the server log's times are in log_timezone: its offset from UTC, in seconds
tz_offset=$(su_ -At -c "SELECT extract(epoch FROM now() AT TIME ZONE current_setting('log_timezone')) - extract(epoch FROM now())")
log_start=$(($(stat -c %s "$SERVER_LOG") + 1))
# Every second, the role's statements that have run longer than the hang
# bound, however they end (an error ends one without a duration in the log).
: >"$dir/hung.txt"
(
	while :; do
		su_ -At -d $DB -c "SELECT pid, query_start, round(extract(epoch FROM now() - query_start) * 1000),
			replace(query, E'\n', ' ') FROM pg_stat_activity
			WHERE usename = '$ROLE' AND state = 'active' AND now() - query_start > interval '$HANG_MS ms'" \
			>>"$dir/hung.txt" 2>/dev/null || true
		sleep 1
	done
) &
watch_pid=$!
start=$(date +%s%N)
rc=0
timeout -s INT -k 10 "$WALL" sqlsmith --target="host=$PGHOST port=$PGPORT dbname=$DB user=$ROLE" \
	--seed="$SEED" --max-queries="$QUERIES" --exclude-catalog --dump-all-queries --verbose \
	>"$dir/queries.sql" 2>"$dir/sqlsmith.err" || rc=$?
end=$(date +%s%N)
# rc 124: the wall clock ended it (as planned); 0: --max-queries did
case $rc in
0) bound="--max-queries=$QUERIES" ;;
124) bound="${WALL} s" ;;
*) bound="sqlsmith exit $rc"; tail -5 "$dir/sqlsmith.err" ;;
esac
# A statement may still run once sqlsmith is gone: give it the hang bound
# (the watch goes on meanwhile), then end what still runs.
for _ in $(seq 1 $((HANG_MS / 250 + 8))); do
	active=$(su_ -At -d $DB -c "SELECT count(*) FROM pg_stat_activity WHERE usename = '$ROLE' AND state = 'active'")
	[ "$active" = 0 ] && break
	sleep 0.25
done
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true
watch_pid=
su_ -At -d $DB -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '$ROLE'" >/dev/null
tail -c +"$log_start" "$SERVER_LOG" >"$dir/server.log"

# Read the server log: errors by SQLSTATE with their statements, crashes,
# slow statements; the queries sqlsmith sent; the requests the mock saw.
"$PYTHON" - "$dir" "$foreign" "$HANG_MS" "$SEED" "$((end - start))" "$bound" "$tz_offset" <<'PY'
import bisect, calendar, collections, json, re, sys, time
d, foreign, hang_ms, seed, ns, bound, tz_offset = sys.argv[1:8]
hang_ms, ns, tz_offset = int(hang_ms), int(ns), float(tz_offset)
# the default log_line_prefix, '%m [%p] '
prefix = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(\.\d+)? \S+ \[(\d+)\] (\w+):  (.*)$")
entries = []   # dicts: ts (epoch), pid, level, text, and the DETAIL, LOCATION, STATEMENT lines that follow
last = None
for line in open(d + "/server.log", encoding="utf-8", errors="replace").read().split("\n"):
    m = prefix.match(line)
    if m:
        day, frac, pid, level, text = m.groups()
        if level in ("DETAIL", "HINT", "LOCATION", "STATEMENT", "CONTEXT", "QUERY") and last and last["pid"] == pid:
            last[level] = text
            last["cont"] = level
        else:
            ts = calendar.timegm(time.strptime(day, "%Y-%m-%d %H:%M:%S")) + float(frac or 0) - tz_offset
            last = {"ts": ts, "pid": pid, "level": level, "text": text, "cont": "text"}
            entries.append(last)
    elif line.startswith("\t") and last is not None:
        last[last["cont"]] += "\n" + line[1:]
# the statements the role's sessions ran (log_statement = all), and what came of them
stmts = []
current = {}
code_re = re.compile(r"^([0-9A-Z]{5}): ")
for e in entries:
    text = code_re.sub("", e["text"])
    if e["level"] == "LOG" and text.startswith("statement: "):
        q = text[len("statement: "):]
        st = {"ts": e["ts"], "pid": e["pid"], "query": q, "requests": 0, "error": None}
        stmts.append(st)
        current[e["pid"]] = st
    elif e["level"] == "ERROR" and e["pid"] in current:
        current[e["pid"]]["error"] = e["text"][:5]
    elif e["level"] == "LOG" and text.startswith("duration: ") and e["pid"] in current:
        e["statement"] = current[e["pid"]]["query"]
# the role's errors: logged with their SQLSTATE
errors = [e for e in entries if e["level"] == "ERROR" and code_re.match(e["text"])]
by_class = collections.Counter(code_re.match(e["text"]).group(1)[:2] for e in errors)
xx000 = [e for e in entries if e["level"] in ("ERROR", "FATAL") and e["text"].startswith("XX000: ")]
crashes = [e for e in entries if re.search(r"terminated by signal|was terminated by|PANIC", e["text"]) or e["level"] == "PANIC"]
slow = []
for e in entries:
    m = re.match(r"(?:[0-9A-Z]{5}: )?duration: ([0-9.]+) ms", e["text"])
    if m and float(m.group(1)) >= hang_ms:
        slow.append(e)
queries = [q for q in open(d + "/queries.sql", encoding="utf-8", errors="replace").read().split(";\n") if q.strip()]
fr = re.compile(r"\bsmith\.(%s)\b" % foreign)
on_foreign = sum(1 for q in queries if fr.search(q))
kinds = collections.Counter()
for q in queries:
    k = q.split(None, 1)[0].lower()
    if k == "select" and re.search(r"\bfor (update|share|no key update|key share)\s*$", q):
        k = "select for update"
    kinds[k] += 1
# each request belongs to the statement that started last before it (one
# session runs them one after the other)
reqs = [json.loads(l) for l in open(d + "/mock.log") if l.strip()]
starts = [st["ts"] for st in stmts]
shape = collections.Counter()
for r in reqs:
    c = r.get("checkpoint") or ""
    shape[c.split(":")[2] if c.count(":") >= 2 else "?"] += 1
    i = bisect.bisect_right(starts, r["ts"]) - 1
    if i >= 0:
        stmts[i]["requests"] += 1
methods = collections.Counter(r.get("method") for r in reqs)
generated = set(queries)
run = [st for st in stmts if st["query"] in generated]
reached = [st for st in run if st["requests"]]
reached_kinds = collections.Counter(st["query"].split(None, 1)[0].lower() for st in reached)
n = len(queries)
print("seed %s: %d queries in %.1f s (bound: %s), %d naming a foreign table or a view over one; %d errors"
      % (seed, n, ns / 1e9, bound, on_foreign, len(errors)))
print("statements: " + ", ".join("%s %d" % kv for kv in kinds.most_common()))
print("errors by SQLSTATE class: " + (", ".join("%s %d" % kv for kv in sorted(by_class.items())) or "none"))
print("requests to the mock: %d (%s); by checkpoint: %s" % (
    len(reqs), ", ".join("%s %d" % kv for kv in sorted(methods.items())),
    ", ".join("%s %d" % kv for kv in sorted(shape.items()))))
print("queries that sent requests: %d of the %d that ran (%d without error): %s; %d of them ended in an error (%s)" % (
    len(reached), len(run), sum(1 for st in run if not st["error"]), ", ".join("%s %d" % kv for kv in reached_kinds.most_common()),
    sum(1 for st in reached if st["error"]),
    ", ".join("%s %d" % kv for kv in collections.Counter(st["error"] for st in reached if st["error"]).most_common())))
with open(d + "/figures", "w") as f:
    f.write("%d %d %d %d %d %d %d\n" % (n, on_foreign, len(reqs), len(reached), len(crashes), len(slow), len(xx000)))
    f.write(" ".join(sorted(shape)) + "\n")
# each XX000 with its statement, for the replay in the local copy
with open(d + "/xx000.json", "w") as f:
    json.dump([{"message": e["text"], "location": e.get("LOCATION", ""), "statement": e.get("STATEMENT", "")}
               for e in xx000], f)
with open(d + "/crashes.txt", "w") as f:
    for e in crashes:
        f.write("%s\n%s\n\n" % (e["text"], e.get("DETAIL", "")))
with open(d + "/slow.txt", "w") as f:
    for e in slow:
        f.write("%s\n%s;\n\n" % (e["text"], e.get("statement", "")))
PY

read -r n on_foreign requests reached crashes slow xx < <(sed -n 1p "$dir/figures")
shapes=$(sed -n 2p "$dir/figures")

# Replay each distinct XX000 in the local copy: PostgreSQL's own if it fails
# there the same way.  PostgreSQL ignores TABLESAMPLE on a foreign partition
# and samples a local table: each query goes as it is and without it.
"$PYTHON" - "$dir" <<'PY' >"$dir/replay.sql"
import json, re, sys
seen = set()
print("SET statement_timeout = '5s';")
for i, e in enumerate(json.load(open(sys.argv[1] + "/xx000.json"))):
    key = (e["message"].split("\n")[0], e["location"])
    if key in seen or not e["statement"]:
        continue
    seen.add(key)
    unsampled = re.sub(r"(?i)\s+tablesample\s+(system|bernoulli)\s*\(\s*[0-9.]+\s*\)", " ", e["statement"])
    for q in [e["statement"]] + ([unsampled] if unsampled != e["statement"] else []):
        print("\\echo ==> %d" % i)
        print("BEGIN;\n%s;\nROLLBACK;" % q)
PY
ours=0
: >"$dir/ours.txt"
if [ -s "$dir/replay.sql" ]; then
	role_ -d $SHADOW -v ON_ERROR_STOP=0 -v VERBOSITY=verbose -f "$dir/replay.sql" >"$dir/replay.out" 2>&1 || true
	"$PYTHON" - "$dir" <<'PY' >"$dir/ours.txt"
import json, re, sys
d = sys.argv[1]
xs = json.load(open(d + "/xx000.json"))
out = open(d + "/replay.out", encoding="utf-8", errors="replace").read()
replies = {}
for part in out.split("==> ")[1:]:
    i, _, rest = part.partition("\n")
    replies[int(i)] = replies.get(int(i), "") + rest
for i, rest in sorted(replies.items()):
    e = xs[i]
    first = e["message"].split("\n")[0]
    # the same place in PostgreSQL (a message may hold an OID)
    core = "ERROR:  XX000:" in rest and ("LOCATION:  " + e["location"] + "\n") in rest
    print("%s XX000: %s (%s)" % ("PostgreSQL's own (also with local tables):" if core else "OURS:", first[7:], e["location"]))
    if not core:
        print("  statement (seed's query, as the server log has it):")
        print("    " + e["statement"].replace("\n", "\n    ") + ";")
PY
	ours=$(grep -c '^OURS:' "$dir/ours.txt" || true)
fi

check() { # what, then the test as a command
	local what=$1
	shift
	if "$@"; then echo "ok: $what"; else echo "FAILED: $what"; failed=1; fi
}
# the longest sighting of each statement the watch saw
sort -t'|' -k1,2 -k3,3nr "$dir/hung.txt" | sort -s -t"|" -u -k1,2 >"$dir/hung.distinct"
hung=$(grep -c . "$dir/hung.distinct" || true)
echo "crashes: $crashes, XX000: $xx ($ours distinct of ours), statements past ${HANG_MS} ms: $hung running, $slow ended"
check "sqlsmith ran (exit $rc, $n queries)" test "$n" -ge 100 -a \( "$rc" = 0 -o "$rc" = 124 \)
check "most queries name a foreign table ($on_foreign of $n)" test $((on_foreign * 2)) -ge "$n"
# most random queries fail before they run (42xxx), or fold to a constant
# false; of the rest, one in five or so reaches the API (5% of all at seed 17)
check "queries reached the mock ($reached of $n sent the $requests requests)" test $((reached * 40)) -ge "$n"
for s in one slow 'a|b' p 'm1|m2'; do
	check "the mock saw requests for checkpoint ft:smith:$s" grep -qwE "$s" <<<"$shapes"
done
check "no crashed backend" test "$crashes" = 0
[ "$crashes" = 0 ] || cat "$dir/crashes.txt"
[ ! -s "$dir/ours.txt" ] || cat "$dir/ours.txt"
check "no XX000 of ours" test "$ours" = 0
check "no statement past ${HANG_MS} ms (sqlsmith's statement_timeout is 1 s)" test "$slow" = 0 -a "$hung" = 0
[ "$slow" = 0 ] || cat "$dir/slow.txt"
[ "$hung" = 0 ] || { echo "seen running (pid|start|ms|statement):"; cat "$dir/hung.distinct"; }
[ -z "$failed" ] || echo "reproduce: SQLSMITH_SEED=$SEED SQLSMITH_QUERIES=$n; every query is in $dir/queries.sql"

su_ <<SQL >/dev/null
SET client_min_messages = warning;
DROP DATABASE $DB;
DROP DATABASE $SHADOW;
DROP ROLE $ROLE;
SQL
[ -z "$failed" ]
