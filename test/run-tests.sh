#!/bin/bash
# The whole test suite: builds and installs the extension, starts a throwaway
# PostgreSQL and the mock API, runs the mock's own tests, the pg_regress suite
# (sql/, expected/) and the scripts test/t_*.sh, then scans the server log for
# crashed backends.  Ends with one line "N passed, N failed".
# Run it from anywhere, as root on a fresh Debian 12 (it installs what it
# needs) or as a user who has the packages of test/lib.sh.

cd "$(dirname "$0")/.."
. test/lib.sh
set -o pipefail

# sqlsmith too, for test/t_sqlsmith.sh
cp_install_packages sqlsmith
cp_install_nginx
cp_install_prism
cp_build_install
cp_start_postgres
cp_start_mock --page-cap 100

passed=0
failed=0
pass() { passed=$((passed + 1)); printf 'ok      %s\n' "$1"; }
fail() { failed=$((failed + 1)); printf 'FAILED  %s\n' "$1"; }

cp_log "mock self-test"
if "$PYTHON" -m unittest test/test_mock.py >"$CP_TMP/test_mock.out" 2>&1; then
	pass "mock self-test"
else
	cat "$CP_TMP/test_mock.out"
	fail "mock self-test"
fi

cp_log "pg_regress"
rm -rf results regression.diffs regression.out
# pg_regress connects through PGHOST/PGPORT; its own exit code is not used:
# every test file is counted from its line of output instead
# (cp_count_regress), and all of sql/ must be there.
make -s installcheck PG_CONFIG="$PG_CONFIG" >"$CP_TMP/regress.out" 2>&1 || true
cat "$CP_TMP/regress.out"
read -r regress_ok regress_failed < <(cp_count_regress "$CP_TMP/regress.out")
regress_files=$(ls sql/*.sql | wc -l)
passed=$((passed + regress_ok))
failed=$((failed + regress_failed))
if [ $((regress_ok + regress_failed)) -ne "$regress_files" ]; then
	# pg_regress did not start, stopped early, or printed a format this
	# script does not know: say so rather than count too few
	fail "pg_regress reported $((regress_ok + regress_failed)) of the $regress_files files in sql/"
fi
[ -f regression.diffs ] && head -200 regression.diffs

for t in test/t_*.sh; do
	[ -e "$t" ] || continue
	cp_log "$t"
	if bash "$t" 2>&1 | sed 's/^/    /'; then
		pass "$t"
	else
		fail "$t"
	fi
done

cp_log "server log"
if grep -E 'terminated by signal|was terminated by|PANIC' "$CP_TMP/postgres.log"; then
	fail "server log shows a crashed backend"
else
	pass "no crashed backend in the server log"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
