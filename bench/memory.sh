#!/bin/bash
# Backend memory and connection reuse, through the mock API on loopback:
#  - peak RSS of a backend that scans 10,000 and 100,000 permissions;
#  - peak RSS of ANALYZE over 100,000 and 400,000 permissions, and of a
#    DELETE over 10,000 (it reads its whole list before the first revoke);
#  - a REPEATABLE READ transaction reading 10,000 permissions twice (the
#    list kept for the transaction): peak RSS, the time of each read, and
#    with a work_mem smaller than the list, the temporary file it takes,
#    and at 20 ms per request against a READ COMMITTED scan;
#  - RSS of one backend after 100 and after 1,000 filtered queries;
#  - one-row queries per second with the cached connection, and with a
#    new connection for each query (checkpoint_perms_disconnect() between).
# Usage: bash bench/memory.sh   (as root on Debian 12, like the tests)

cd "$(dirname "$0")/.."
. test/lib.sh

cp_install_packages
cp_build_install >/dev/null
cp_start_postgres
cp_start_mock --page-cap 100

psql_() { "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
psql_ <<SQL
CREATE EXTENSION checkpoint_perms;
CREATE SERVER m FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url '$MOCK_URL');
CREATE USER MAPPING FOR CURRENT_USER SERVER m OPTIONS (api_key '$MOCK_KEY');
CREATE FOREIGN TABLE p10k (id text, created_at timestamptz, project_id text, object text)
  SERVER m OPTIONS (checkpoint 'ft:mem:seed-10000:proj-1000');
CREATE FOREIGN TABLE p100k (id text, created_at timestamptz, project_id text, object text)
  SERVER m OPTIONS (checkpoint 'ft:mem:seed-100000:proj-1000');
CREATE FOREIGN TABLE p400k (id text, created_at timestamptz, project_id text, object text)
  SERVER m OPTIONS (checkpoint 'ft:mem:seed-400000:proj-1000');
CREATE FOREIGN TABLE d10k (id text, created_at timestamptz, project_id text, object text)
  SERVER m OPTIONS (checkpoint 'ft:mem:delete:seed-10000:proj-1000');
CREATE FOREIGN TABLE s10k (id text, created_at timestamptz, project_id text, object text)
  SERVER m OPTIONS (checkpoint 'ft:mem:slow:seed-10000:proj-1000:slow-20');
SELECT count(*) FROM p10k;      -- seed the mock before measuring
SELECT count(*) FROM p100k;
SELECT count(*) FROM p400k;
SELECT count(*) FROM d10k;
SELECT count(*) FROM s10k;
SQL

# kB of VmRSS or VmHWM of a backend, read by the backend's own session
status_kb() { # field
	echo "\\setenv BPID :pid
\\! grep $1 /proc/\$BPID/status | tr -s ' ' | cut -d' ' -f2"
}

scan_peak() { # table [statement]
	psql_ <<SQL
SELECT pg_backend_pid() AS pid \gset
SELECT 1 FROM $1 LIMIT 0;
$(status_kb VmHWM)
${2:-SELECT count(*) FROM $1} \g /dev/null
$(status_kb VmHWM)
SQL
}

echo "| measure | value |"
echo "|---|---|"
read -r before after < <(scan_peak p10k | tr '\n' ' ') || true
echo "| peak RSS, backend scanning 10,000 permissions | ${after} kB (before the scan: ${before} kB) |"
read -r before after < <(scan_peak p100k | tr '\n' ' ') || true
echo "| peak RSS, backend scanning 100,000 permissions | ${after} kB (before the scan: ${before} kB) |"
read -r before after < <(scan_peak p100k "ANALYZE p100k" | tr '\n' ' ') || true
echo "| peak RSS, ANALYZE over 100,000 permissions | ${after} kB (before: ${before} kB) |"
read -r before after < <(scan_peak p400k "ANALYZE p400k" | tr '\n' ' ') || true
echo "| peak RSS, ANALYZE over 400,000 permissions | ${after} kB (before: ${before} kB) |"
read -r before after < <(scan_peak d10k "DELETE FROM d10k" | tr '\n' ' ') || true
echo "| peak RSS, DELETE over 10,000 permissions (list read whole first) | ${after} kB (before: ${before} kB) |"

# REPEATABLE READ: the first read lists and keeps, the second reads what
# was kept.  Prints peak kB before and after, then the two reads' ms.
rr_twice() { # work_mem
	psql_ <<SQL
SET work_mem = '$1';
SET log_temp_files = 0;
SELECT pg_backend_pid() AS pid \gset
SELECT 1 FROM p10k LIMIT 0;
$(status_kb VmHWM)
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FROM p10k \g /dev/null
SELECT clock_timestamp() AS t1 \gset
SELECT count(*) FROM p10k \g /dev/null
SELECT clock_timestamp() AS t2 \gset
COMMIT;
$(status_kb VmHWM)
SELECT round(extract(epoch FROM :'t1'::timestamptz - :'t0'::timestamptz) * 1000, 1),
       round(extract(epoch FROM :'t2'::timestamptz - :'t1'::timestamptz) * 1000, 1);
SQL
}
# the size of the last temporary file the server logged (log_temp_files)
last_temp_file() {
	sed -n 's/.*LOG:  temporary file: path ".*", size \([0-9]*\)$/\1/p' "$CP_TMP/postgres.log" | tail -1
}
read -r before after t1 t2 < <(rr_twice 4MB | tr '\n|' '  ') || true
echo "| peak RSS, REPEATABLE READ reading 10,000 permissions twice (work_mem 4MB) | ${after} kB (before: ${before} kB) |"
echo "| the same: first read (lists and keeps) / second read (from the kept list) | ${t1} ms / ${t2} ms |"
read -r before after t1 t2 < <(rr_twice 1MB | tr '\n|' '  ') || true
echo "| the same with work_mem 1MB (the list spills to a temporary file) | ${after} kB (before: ${before} kB); reads ${t1} ms / ${t2} ms; temporary file $(last_temp_file) bytes |"
# the same reads at 20 ms per request (slow-20), against one READ COMMITTED scan
ms() { "$PG_BIN/psql" -X -q -At -c '\timing on' "$@" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | paste -sd' '; }
read -r t_rc < <(ms -c "SELECT count(*) FROM s10k") || true
read -r _ t1 t2 _ < <(ms -c "BEGIN ISOLATION LEVEL REPEATABLE READ" -c "SELECT count(*) FROM s10k" \
	-c "SELECT count(*) FROM s10k" -c COMMIT) || true
echo "| at 20 ms per request: REPEATABLE READ first / second read; one READ COMMITTED scan | ${t1} ms / ${t2} ms; ${t_rc} ms |"

queries() { # n
	for i in $(seq 1 "$1"); do
		echo "SELECT count(*) FROM p10k WHERE project_id = 'proj_$(printf %04d $((i % 1000 + 1)))' \\g /dev/null"
	done
}
read -r r100 r1000 < <(psql_ <<SQL | tr '\n' ' '
SELECT pg_backend_pid() AS pid \gset
$(queries 100)
$(status_kb VmRSS)
$(queries 900)
$(status_kb VmRSS)
SQL
) || true
echo "| RSS of one backend after 100 / 1,000 filtered queries | ${r100} kB / ${r1000} kB |"

echo "SELECT * FROM p10k WHERE project_id = 'proj_0001';" >"$CP_TMP/reuse.sql"
printf "SELECT * FROM p10k WHERE project_id = 'proj_0001';\nSELECT checkpoint_perms_disconnect();\n" >"$CP_TMP/fresh.sql"
tps() { "$PG_BIN/pgbench" -n -c 1 -T 5 -f "$1" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p'; }
echo "| one-row queries per second, cached connection | $(tps "$CP_TMP/reuse.sql") |"
echo "| one-row queries per second, new connection each | $(tps "$CP_TMP/fresh.sql") |"
