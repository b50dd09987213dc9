#!/bin/bash
# The demo: build and install the extension, start a throwaway PostgreSQL and
# the mock API, then list, grant, revoke and join for real.  Everything it
# starts is stopped and removed when it ends.

cd "$(dirname "$0")/.."
. test/lib.sh

cp_install_packages
cp_build_install
cp_start_postgres
cp_start_mock
"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -v mock_url="$MOCK_URL" -v mock_key="$MOCK_KEY" \
	-f test/demo.sql
