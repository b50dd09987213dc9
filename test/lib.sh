# Shared by test/demo.sh and test/run-tests.sh: install what is missing, build
# and install the extension, start a throwaway PostgreSQL and the mock API.
# Source it from the repository's top directory; it sets:
#   CP_TMP    a private directory that cp_cleanup removes
#   PGHOST PGPORT PGUSER PGDATABASE   for psql and pg_regress
#   MOCK_URL MOCK_LOG MOCK_KEY        the mock API, its request log and its key

set -euo pipefail

# The PostgreSQL major version to build and test against, in this order:
# PG_MAJOR if set; the version of PG_BIN's pg_config if PG_BIN is set; the
# one this machine's Debian release ships (its "postgresql" package: 15 on
# Debian 12, 17 on 13, 18 on testing at the time of writing); the newest
# one installed.
cp_pick_pg_major() {
	local v
	if [ -n "${PG_BIN:-}" ] && [ -x "$PG_BIN/pg_config" ]; then
		v=$("$PG_BIN/pg_config" --version | sed -n 's/^PostgreSQL \([0-9][0-9]*\).*/\1/p')
		[ -n "$v" ] && { echo "$v"; return; }
	fi
	if command -v apt-cache >/dev/null; then
		# the candidate of the metapackage, "17+278" say; apt's lists may
		# still be empty on a fresh machine
		v=$(apt-cache policy postgresql 2>/dev/null | sed -n 's/^ *Candidate: \([0-9][0-9]*\)+.*/\1/p')
		if [ -z "$v" ] && [ "$(id -u)" = 0 ]; then
			apt-get update -qq >&2 || true
			v=$(apt-cache policy postgresql 2>/dev/null | sed -n 's/^ *Candidate: \([0-9][0-9]*\)+.*/\1/p')
		fi
		[ -n "$v" ] && { echo "$v"; return; }
	fi
	v=$(ls /usr/lib/postgresql 2>/dev/null | grep -E '^[0-9]+$' | sort -n | tail -1)
	[ -n "$v" ] && { echo "$v"; return; }
	echo "cannot tell which PostgreSQL to use: set PG_MAJOR (e.g. PG_MAJOR=17)" >&2
	return 1
}
if [ -z "${PG_MAJOR:-}" ]; then
	PG_MAJOR=$(cp_pick_pg_major)
fi
# PG_BIN may point at another installation (a relocated copy, for parallel runs)
PG_BIN=${PG_BIN:-/usr/lib/postgresql/$PG_MAJOR/bin}
export PG_MAJOR PG_BIN
export PG_CONFIG=$PG_BIN/pg_config
PYTHON=/usr/bin/python3
MOCK_KEY=sk-test-checkpoint-perms-0123456789
export PG_BIN PYTHON MOCK_KEY

CP_PACKAGES="make gcc libc6-dev postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR \
libcurl4-openssl-dev libssl-dev libcjson-dev python3 ca-certificates"

cp_log() { printf '==> %s\n' "$*" >&2; }

# Install the Debian packages that are not there yet (root only).
cp_install_packages() {
	local missing="" p
	for p in $CP_PACKAGES "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "missing packages:$missing (run as root, or install them)" >&2
		return 1
	fi
	cp_log "installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# The TLS server of test/t_tls.sh and bench/tls.sh: nginx from Debian
# (nginx-light where the release has it, else nginx), and openssl for the
# certificates.  Installing nginx would start the system's nginx on port
# 80, which the tests never use: a policy-rc.d that forbids starting
# services is in place around the install, unless the machine has its own.
cp_install_nginx() {
	local pkg=nginx created="" rc=0
	if [ -x /usr/sbin/nginx ] && command -v openssl >/dev/null; then
		return 0
	fi
	if [ "$(id -u)" = 0 ] && [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		created=1
	fi
	apt-cache show nginx-light >/dev/null 2>&1 && pkg=nginx-light
	[ -x /usr/sbin/nginx ] && pkg=""
	cp_install_packages $pkg openssl || rc=$?
	[ -n "$created" ] && rm -f /usr/sbin/policy-rc.d
	return $rc
}

# An npm package, installed once into a cache directory (npm itself from
# Debian unless there is one, from NodeSource say); prints the directory.
cp_install_npm_package() { # name version
	# called in a command substitution, where set -e does not hold: every
	# step checks its own failure
	if ! command -v npm >/dev/null; then
		CP_PACKAGES="nodejs npm" cp_install_packages >&2 || return 1
	fi
	local cache dir
	if [ "$(id -u)" = 0 ]; then cache=/var/cache/checkpoint_perms; else cache=$HOME/.cache/checkpoint_perms; fi
	cache=${CP_NPM_CACHE:-$cache}
	dir=$cache/${1//[@\/]/_}-$2
	if [ ! -d "$dir/node_modules/$1" ]; then
		cp_log "installing $1@$2 from npm into $dir"
		mkdir -p "$dir" || return 1
		if ! npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "$1@$2" >/dev/null; then
			rm -rf "$dir"
			return 1
		fi
	fi
	echo "$dir"
}

# Prism, the OpenAPI-driven mock of the conformance test.  A command
# substitution does not stop the script under set -e, so a failed install is
# caught here, at once, with npm's reason above it.
PRISM_VERSION=5.16.1
cp_install_prism() {
	local dir
	if ! dir=$(cp_install_npm_package @stainless-api/prism-cli "$PRISM_VERSION"); then
		echo "could not install Prism ($PRISM_VERSION) from npm: see npm's message above" >&2
		return 1
	fi
	export PRISM=$dir/node_modules/.bin/prism
	if [ ! -x "$PRISM" ]; then
		echo "Prism's install in $dir has no $PRISM" >&2
		return 1
	fi
}

# Count the test files that pg_regress's output (a file) reports passed and
# failed; prints "OK FAILED".  Both of its formats: "test name ... ok" (or
# "... FAILED", "... failed (ignored)") before PostgreSQL 16, TAP's
# "ok 1 - name" (or "not ok 3 - name") since.
cp_count_regress() {
	awk '
		/^ok [0-9]+ +[-+] /                { ok++; next }
		/^not ok [0-9]+ +[-+] /            { bad++; next }
		/ \.\.\. ok( |$)/                  { ok++; next }
		/ \.\.\. (FAILED|failed)( |$)/     { bad++; next }
		END { print ok + 0, bad + 0 }' "$1"
}

cp_build_install() {
	cp_log "building and installing checkpoint_perms"
	make -s PG_CONFIG="$PG_CONFIG" >/dev/null
	if [ "$(id -u)" = 0 ]; then
		make -s PG_CONFIG="$PG_CONFIG" install >/dev/null
	else
		sudo make -s PG_CONFIG="$PG_CONFIG" install >/dev/null
	fi
}

# Run a command as the owner of the throwaway cluster: initdb refuses root.
cp_as_pg() {
	if [ "$(id -u)" = 0 ]; then
		# from /: the postgres user may not enter the caller's directory
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

cp_cleanup() {
	set +e
	if [ -n "${MOCK_PID:-}" ]; then
		kill "$MOCK_PID" 2>/dev/null
		wait "$MOCK_PID" 2>/dev/null
	fi
	if [ -n "${CP_TMP:-}" ] && [ -f "$CP_TMP/data/postmaster.pid" ]; then
		cp_as_pg "$PG_BIN/pg_ctl" -D "$CP_TMP/data" -m immediate stop >/dev/null 2>&1
	fi
	if [ -n "${CP_TMP:-}" ] && [ -z "${CP_KEEP_TMP:-}" ]; then
		rm -rf "$CP_TMP"
	fi
}

# A PostgreSQL cluster in CP_TMP that listens on a Unix socket only.
cp_start_postgres() {
	CP_TMP=$(mktemp -d /tmp/checkpoint_perms.XXXXXX)
	chmod 755 "$CP_TMP"
	trap cp_cleanup EXIT
	mkdir "$CP_TMP/data"
	# the server writes its socket and log here
	if [ "$(id -u)" = 0 ]; then chown -R postgres: "$CP_TMP"; fi
	cp_log "starting PostgreSQL $PG_MAJOR in $CP_TMP"
	cp_as_pg "$PG_BIN/initdb" -D "$CP_TMP/data" -U postgres --auth=trust \
		-E UTF8 --locale=C >"$CP_TMP/initdb.log" 2>&1 ||
		{ cat "$CP_TMP/initdb.log" >&2; return 1; }
	export PGHOST=$CP_TMP PGPORT=5499 PGUSER=postgres PGDATABASE=postgres
	cp_as_pg "$PG_BIN/pg_ctl" -D "$CP_TMP/data" -w -l "$CP_TMP/postgres.log" \
		-o "-c listen_addresses='' -k $CP_TMP -p $PGPORT -c fsync=off" start >/dev/null ||
		{ cat "$CP_TMP/postgres.log" >&2; return 1; }
}

# The mock API on a free loopback port; extra arguments go to the mock.
cp_start_mock() {
	MOCK_LOG=$CP_TMP/mock.log
	: >"$MOCK_LOG"
	chmod 644 "$MOCK_LOG"
	"$PYTHON" test/mock_openai.py --key "$MOCK_KEY" --port 0 \
		--port-file "$CP_TMP/mock.port" --log "$MOCK_LOG" "$@" >"$CP_TMP/mock.out" 2>&1 &
	MOCK_PID=$!
	local i
	for i in $(seq 1 100); do
		[ -s "$CP_TMP/mock.port" ] && break
		sleep 0.05
	done
	[ -s "$CP_TMP/mock.port" ] || { cat "$CP_TMP/mock.out" >&2; return 1; }
	MOCK_URL="http://127.0.0.1:$(cat "$CP_TMP/mock.port")/v1"
	export MOCK_URL MOCK_LOG
	cp_log "mock API at $MOCK_URL"
}
