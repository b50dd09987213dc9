# Sourced by test scripts that need a database of their own on the server of
# test/run-tests.sh: cp_session_db NAME makes NAME anew with the extension,
# a server "mock" on $MOCK_URL and the current user's mapping with
# $MOCK_KEY; psql_ runs psql on it, check WHAT EXPECTED ACTUAL prints one
# "ok:" or "FAILED:" line and sets failed=1 on a mismatch.

failed=0
check() { # what expected actual
	if [ "$2" = "$3" ]; then
		echo "ok: $1: $3"
	else
		echo "FAILED: $1: expected $2, got $3"
		failed=1
	fi
}

cp_session_db() { # name
	db=$1
	"$PG_BIN/psql" -X -q -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" \
		-c "CREATE DATABASE $db"
	psql_ <<SQL
CREATE EXTENSION checkpoint_perms;
CREATE SERVER mock FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url '$MOCK_URL');
CREATE USER MAPPING FOR CURRENT_USER SERVER mock OPTIONS (api_key '$MOCK_KEY');
SQL
}
psql_() { "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
