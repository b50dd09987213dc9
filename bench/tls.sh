#!/bin/bash
# What TLS costs on loopback: the same statements over https (Debian's nginx
# with HTTP/2, test/tls_proxy.sh, in front of the mock), over plain http
# through the same nginx (HTTP/1.1: the proxy's own cost), and over http to
# the mock itself.  Each run is a fresh session, so that its first
# connection and TLS handshake count; 7 runs each (or the argument), median.
#   - a table across 10 checkpoints of 300 permissions (30 list requests)
#   - 100 revokes (1 list, 100 DELETEs), a fresh checkpoint each run
# Prints a Markdown table.  Usage: bash bench/tls.sh [runs]

cd "$(dirname "$0")/.."
. test/lib.sh
. test/tls_proxy.sh
RUNS=${1:-7}

cp_install_packages
cp_install_nginx
cp_build_install >/dev/null
cp_start_postgres
cp_start_mock --page-cap 100
trap 'cp_stop_tls_proxy; cp_cleanup' EXIT
cp_start_tls_proxy

run() { "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
timed() { run -c '\timing on' -c "$1" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1; }
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
paths="http proxy https"

run -c "CREATE EXTENSION checkpoint_perms" \
	-c "CREATE SERVER http FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url '$MOCK_URL')" \
	-c "CREATE SERVER proxy FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url 'http://127.0.0.1:$P_PLAIN/v1')" \
	-c "CREATE SERVER https FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url 'https://localhost:$P_GOOD/v1', ca_bundle '$TLS_DIR/ca.crt')"
ids=$(seq 1 10 | sed "s/.*/'ft:bench-tls:seed-300:c&'/" | paste -sd,)
for s in $paths; do
	run -c "CREATE USER MAPPING FOR CURRENT_USER SERVER $s OPTIONS (api_key '$MOCK_KEY')" \
		-c "CREATE FOREIGN TABLE many_$s (checkpoint text, id text, project_id text) SERVER $s"
	for i in $(seq 1 "$RUNS"); do
		run -c "CREATE FOREIGN TABLE rev_${s}_$i (id text, project_id text) SERVER $s OPTIONS (checkpoint 'ft:bench-tls:rev-$s-$i:seed-100')"
		run -c "SELECT count(*) FROM rev_${s}_$i" >/dev/null	# seeds it; not timed
	done
done
run -c "SELECT count(*) FROM many_http WHERE checkpoint IN ($ids)" >/dev/null

# the paths take turns, run after run, so that a change in the machine's
# load meanwhile falls on all three alike
declare -A med times
for i in $(seq 1 "$RUNS"); do
	for s in $paths; do
		times[scan_$s]+="$(timed "SELECT count(*) FROM many_$s WHERE checkpoint IN ($ids)") "
		times[rev_$s]+="$(timed "DELETE FROM rev_${s}_$i") "
	done
done
for k in "${!times[@]}"; do
	med[$k]=$(tr ' ' '\n' <<<"${times[$k]}" | grep . | median)
done
echo "| case (fresh session each run, median of $RUNS) | http to the mock, ms | http through nginx, ms | https + HTTP/2 through nginx, ms | https / http through nginx | https / http to the mock |"
echo "|---|---|---|---|---|---|"
for c in scan rev; do
	name="10 checkpoints × 300 (30 lists)"
	[ "$c" = rev ] && name="revoke 100 (1 list, 100 DELETEs)"
	awk -v n="$name" -v a="${med[${c}_http]}" -v p="${med[${c}_proxy]}" -v b="${med[${c}_https]}" \
		'BEGIN { printf "| %s | %.1f | %.1f | %.1f | %.2f | %.2f |\n", n, a, p, b, b / p, b / a }'
done
