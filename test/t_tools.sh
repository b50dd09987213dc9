#!/bin/bash
# The test scripts themselves: a tool that cannot be installed stops the run
# at once with the reason, and the PostgreSQL version is picked as the README
# says.  Runs test/lib.sh's functions in a child shell; touches no server.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Prism from a registry that does not answer (port 9, the discard port of
# the loopback: nothing listens) into an empty cache: the function must fail
# and say why, rather than hand back the path of a program that is not there.
if out=$(CP_NPM_CACHE=$tmp/cache npm_config_registry=http://127.0.0.1:9/ \
	npm_config_fetch_retries=0 npm_config_cache=$tmp/npm \
	bash -c '. test/lib.sh; cp_install_prism; echo "no error, PRISM=$PRISM"' 2>&1); then
	echo "cp_install_prism succeeded with an unreachable registry:"
	echo "$out"
	exit 1
fi
echo "$out" | grep -q 'could not install Prism' || {
	echo "cp_install_prism failed without saying why:"
	echo "$out"
	exit 1
}
[ ! -e "$tmp/cache/_stainless-api_prism-cli-"* ] || { echo "a failed install left its directory behind"; exit 1; }

# pg_regress's output, before 16 and since (TAP): every file is counted
cat >"$tmp/regress15.out" <<'OUT'
============== running regression test queries        ==============
test 00_init                      ... ok           23 ms
test delete                       ... FAILED      105 ms
     select                       ... ok           40 ms
test options                      ... failed (ignored)       31 ms
OUT
cat >"$tmp/regress17.out" <<'OUT'
# +++ regress install-check in database "contrib_regression" +++
# using postmaster on /tmp/checkpoint_perms.x, port 5499
ok 1         - 00_init                                    15 ms
not ok 2     - delete                                    105 ms
ok 3         + select                                     40 ms
# 1 of 3 tests failed.
OUT
count() { bash -c '. test/lib.sh; cp_count_regress "$1"' _ "$1"; }
got=$(count "$tmp/regress15.out")
[ "$got" = "2 2" ] || { echo "before 16: counted '$got' (ok failed), not '2 2'"; exit 1; }
got=$(count "$tmp/regress17.out")
[ "$got" = "2 1" ] || { echo "since 16: counted '$got' (ok failed), not '2 1'"; exit 1; }

# PG_MAJOR wins; otherwise PG_BIN's pg_config tells the version
v=$(PG_MAJOR=99 PG_BIN=$PG_BIN bash -c '. test/lib.sh; echo "$PG_MAJOR"')
[ "$v" = 99 ] || { echo "PG_MAJOR=99 gave $v"; exit 1; }
want=$("$PG_BIN/pg_config" --version | sed 's/^PostgreSQL \([0-9]*\).*/\1/')
v=$(env -u PG_MAJOR PG_BIN=$PG_BIN bash -c '. test/lib.sh; echo "$PG_MAJOR"')
[ "$v" = "$want" ] || { echo "PG_BIN=$PG_BIN gave PG_MAJOR $v, not $want"; exit 1; }
echo "tool install failure, pg_regress counts and version choice: ok"
