#!/bin/bash
# The production path: HTTPS with HTTP/2 through a real TLS server.  Debian's
# nginx, on loopback ports of its own, with a CA and certificates made here by
# openssl, proxies to the mock of run-tests.sh.  Checks the words of each TLS
# failure, that ca_bundle is checked at CREATE SERVER, and what statements
# cost in TCP connections and TLS handshakes, counted from nginx's own access
# log ($connection, $ssl_session_reused).  Needs the server and mock of
# run-tests.sh, nginx and openssl (test/lib.sh installs them).
set -euo pipefail

. "$(dirname "$0")/tls_proxy.sh"
trap cp_stop_tls_proxy EXIT
cp_start_tls_proxy
D=$TLS_DIR

fail=0
check() {
	if eval "$2"; then echo "ok: $1"; else
		echo "FAILED: $1"; printf '%s\n' "${out:-}" | sed 's/^/    | /'; fail=1
	fi
}
psql_() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=0 -d cp_tls "$@" 2>&1 || true; }
"$PG_BIN/psql" -X -q -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS cp_tls" -c "CREATE DATABASE cp_tls"

url() { echo "https://localhost:$1/v1"; }
psql_ >/dev/null <<SQL
CREATE EXTENSION checkpoint_perms;
CREATE SERVER good FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url '$(url "$P_GOOD")', ca_bundle '$D/ca.crt', max_retries '0');
CREATE SERVER idle FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url '$(url "$P_IDLE")', ca_bundle '$D/ca.crt', max_retries '0');
CREATE SERVER system FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url '$(url "$P_GOOD")', max_retries '0');
CREATE SERVER other FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url '$(url "$P_OTHER")', ca_bundle '$D/ca.crt', max_retries '0');
CREATE SERVER name FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url '$(url "$P_NAME")', ca_bundle '$D/ca.crt', max_retries '0');
CREATE SERVER expired FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url '$(url "$P_EXP")', ca_bundle '$D/ca.crt', max_retries '0');
CREATE SERVER garbage FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url '$(url "$P_GOOD")', ca_bundle '$D/garbage.pem', max_retries '0');
DO \$\$
DECLARE s text;
BEGIN
  FOREACH s IN ARRAY ARRAY['good', 'idle', 'system', 'other', 'name', 'expired', 'garbage'] LOOP
    EXECUTE format('CREATE USER MAPPING FOR CURRENT_USER SERVER %I OPTIONS (api_key %L)', s, '$MOCK_KEY');
    EXECUTE format('CREATE FOREIGN TABLE %I (id text, created_at timestamptz, project_id text, object text) SERVER %I OPTIONS (checkpoint %L)',
                   't_' || s, s, 'ft:tls:seed-3');
  END LOOP;
END \$\$;
CREATE FOREIGN TABLE many (checkpoint text, id text, created_at timestamptz, project_id text, object text) SERVER good;
CREATE FOREIGN TABLE grants (id text, created_at timestamptz, project_id text, object text)
  SERVER good OPTIONS (checkpoint 'ft:tls:grants', batch_size '100');
SQL

# --- 1. each TLS failure in our words, with a hint naming ca_bundle
tls_error() { # server
	psql_ -c '\set VERBOSITY verbose' -c "SELECT count(*) FROM t_$1"
}
out=$(tls_error good)
check "the right CA verifies (HTTP/2 through nginx)" 'grep -q "^     3$" <<<"$out" && grep -q "HTTP/2.0" "$D/access-$P_GOOD.log"'
out=$(tls_error system)
check "system store: unknown issuer, HINT names ca_bundle and ca-certificates" \
	'grep -q "HV00N: could not connect to the OpenAI API" <<<"$out" && grep -q "signed by an unknown certificate authority" <<<"$out" && grep -q "HINT:.*system.s CA store.*ca-certificates.*\"ca_bundle\"" <<<"$out"'
out=$(tls_error other)
check "another CA: unknown issuer" 'grep -q "DETAIL:  The server.s TLS certificate is signed by an unknown certificate authority, or by itself\." <<<"$out" && grep -q "HINT:.*ca_bundle" <<<"$out"'
out=$(tls_error name)
check "wrong host name" 'grep -q "DETAIL:  The server.s TLS certificate does not name the host of option \"base_url\"\." <<<"$out" && grep -q "HINT:  Use the host name" <<<"$out"'
out=$(tls_error expired)
check "expired certificate" 'grep -q "DETAIL:  The server.s TLS certificate has expired\." <<<"$out" && grep -q "HINT:  Check the database host.s clock" <<<"$out"'
out=$(tls_error garbage)
check "a ca_bundle that holds no certificate" 'grep -q "DETAIL:  The CA certificates could not be read\." <<<"$out" && grep -q "HINT:.*\"ca_bundle\".*readable file" <<<"$out"'
check "no curl text in the client message" '! grep -qi "curl\|SSL certificate problem" <<<"$out$(tls_error name)$(tls_error other)"'

# --- ca_bundle checked when the server is created or altered
out=$(psql_ -c "CREATE SERVER nofile FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (ca_bundle '$D/none.pem')")
check "a missing ca_bundle is refused at CREATE SERVER" 'grep -q "option \"ca_bundle\" names a file that cannot be read" <<<"$out" && grep -q "it does not exist" <<<"$out"'
out=$(psql_ -c "ALTER SERVER good OPTIONS (SET ca_bundle '$D')")
check "a directory is refused at ALTER SERVER" 'grep -q "it is a directory" <<<"$out"'
if [ "$(id -u)" = 0 ]; then
	cp "$D/ca.crt" "$D/secret.pem"
	chmod 600 "$D/secret.pem"
	out=$(psql_ -c "CREATE SERVER secret FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (ca_bundle '$D/secret.pem')")
	check "a ca_bundle the server's user cannot read is refused" 'grep -q "may not read it" <<<"$out"'
fi

# --- 2. what statements cost, from nginx's log: lines since a mark
logf=$D/access-$P_GOOD.log
mark() { wc -l <"$1"; }
since() { tail -n +"$(($2 + 1))" "$1"; }
conns() { awk '{print $1}' | sort -u | wc -l; }
full() { awk '$3 == "." {print $1}' | sort -u | wc -l; }
resumed() { awk '$3 == "r" {print $1}' | sort -u | wc -l; }
ids=$(seq 1 10 | sed "s/.*/'ft:tls:seed-250:c&'/" | paste -sd,)

m=$(mark "$logf")
out=$(psql_ -c "EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM many WHERE checkpoint IN ($ids)")
lines=$(since "$logf" "$m")
echo "10 checkpoints, fresh session: $(wc -l <<<"$lines") requests, $(conns <<<"$lines") connections, $(full <<<"$lines") full handshakes; EXPLAIN says $(grep -o 'OpenAI Connections Opened: [0-9]*\|OpenAI TLS Handshakes: [0-9]*' <<<"$out" | tr '\n' ' ')"
check "10 checkpoints in a fresh session: 30 requests, 1 TCP connection, 1 TLS handshake" \
	'[ "$(wc -l <<<"$lines")" = 30 ] && [ "$(conns <<<"$lines")" = 1 ] && [ "$(full <<<"$lines")" = 1 ]'
check "EXPLAIN ANALYZE VERBOSE says 1 connection, 1 TLS handshake" \
	'grep -q "OpenAI Connections Opened: 1$" <<<"$out" && grep -q "OpenAI TLS Handshakes: 1$" <<<"$out"'

m=$(mark "$logf")
out=$(for k in $(seq 1 10); do echo "SELECT count(*) FROM many WHERE checkpoint = 'ft:tls:seed-250:c$k';"; done | psql_)
lines=$(since "$logf" "$m")
echo "10 statements in one session: $(wc -l <<<"$lines") requests, $(conns <<<"$lines") connections, $(full <<<"$lines") full handshakes"
check "10 statements in one session: 1 connection, 1 handshake" \
	'[ "$(grep -c "^   250$" <<<"$out")" = 10 ] && [ "$(conns <<<"$lines")" = 1 ] && [ "$(full <<<"$lines")" = 1 ]'

m=$(mark "$logf")
out=$(psql_ -c "EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF) INSERT INTO grants (project_id) SELECT 'proj_g' || g FROM generate_series(1, 250) g")
lines=$(since "$logf" "$m")
echo "grant of 250 rows: $(grep -c POST <<<"$lines") POSTs, $(conns <<<"$lines") connections, $(full <<<"$lines") full handshakes, $(resumed <<<"$lines") resumed; EXPLAIN says $(grep -o 'OpenAI TLS [A-Za-z ]*: [0-9]*' <<<"$out" | tr '\n' ' ')"
check "a grant of 250 rows: 3 POSTs on 3 connections, at most 1 full handshake, the others resumed" \
	'[ "$(grep -c "POST 200" <<<"$lines")" = 3 ] && [ "$(conns <<<"$lines")" = 3 ] && [ "$(full <<<"$lines")" -le 1 ] && [ "$(resumed <<<"$lines")" -ge 2 ]'
check "EXPLAIN ANALYZE VERBOSE counts the resumed sessions" 'grep -q "OpenAI TLS Sessions Resumed: [23]$" <<<"$out"'

psql_ -c "CREATE FOREIGN TABLE revokes (id text, project_id text) SERVER good OPTIONS (checkpoint 'ft:tls:revokes:seed-100')" >/dev/null
m=$(mark "$logf")
out=$(psql_ -c "DELETE FROM revokes" -c "SELECT count(*) FROM revokes")
lines=$(since "$logf" "$m")
echo "100 revokes, fresh session: $(grep -c DELETE <<<"$lines") DELETEs, $(conns <<<"$lines") connections, $(full <<<"$lines") full handshakes"
check "100 revokes (8 in flight) in a fresh session: 1 connection, 1 handshake" \
	'grep -q "^     0$" <<<"$out" && [ "$(grep -c "DELETE 200" <<<"$lines")" = 100 ] && [ "$(conns <<<"$lines")" = 1 ] && [ "$(full <<<"$lines")" = 1 ]'

# --- idle keep-alive closed by the server (keepalive_timeout 1s) between statements
logi=$D/access-$P_IDLE.log
out=$(psql_ -c "SELECT count(*) FROM t_idle" -c "SELECT pg_sleep(2)" -c "SELECT count(*) FROM t_idle")
echo "idle server: $(conns <"$logi") connections, $(full <"$logi") full handshakes, $(resumed <"$logi") resumed"
check "the statement after nginx closed the idle connection succeeds" \
	'[ "$(grep -c "^     3$" <<<"$out")" = 2 ] && ! grep -q ERROR <<<"$out" && [ "$(conns <"$logi")" = 2 ]'

# --- 3. the key is masked in headers that reach a message, over TLS too
out=$(psql_ -c "CREATE FOREIGN TABLE echo (id text) SERVER good OPTIONS (checkpoint 'ft:tls:echo-key-header')" \
	-c "SELECT * FROM echo")
check "an echoed key in content-type is masked" 'grep -q "text/plain; key=\[api_key\]" <<<"$out" && ! grep -qF "$MOCK_KEY" <<<"$out"'

"$PG_BIN/psql" -X -q -c "DROP DATABASE cp_tls" >/dev/null 2>&1 || true
[ "$fail" = 0 ] || { echo "nginx log and config kept in $D"; CP_KEEP_TMP=1; }
exit $fail
