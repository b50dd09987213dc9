# Sourced by test/t_tls.sh and bench/tls.sh: a real TLS + HTTP/2 server in
# front of the mock API.  cp_start_tls_proxy makes a CA, another CA and four
# server certificates with openssl (a good one for localhost and 127.0.0.1,
# one of the other CA, one for a wrong host name, an expired one), and starts
# Debian's nginx on free loopback ports with a configuration of its own in a
# temporary directory (never the system's nginx, never port 80).  It sets
#   TLS_DIR  the directory (certificates, nginx.conf, access-PORT.log)
#   P_GOOD   good certificate, keep-alive 60 s     P_IDLE  good, keep-alive 1 s
#   P_OTHER  another CA's     P_NAME  wrong host name     P_EXP  expired
#   P_PLAIN  the same proxy over plain http (HTTP/1.1), for benchmarks
# Access logs have one line per request: $connection $connection_requests
# $ssl_session_reused $server_protocol $request_method $status.
# cp_stop_tls_proxy stops nginx and removes the directory (unless
# CP_KEEP_TMP is set).  Needs MOCK_URL and PYTHON (test/lib.sh).

cp_stop_tls_proxy() {
	[ -n "${TLS_DIR:-}" ] || return 0
	[ -s "$TLS_DIR/nginx.pid" ] && kill "$(cat "$TLS_DIR/nginx.pid")" 2>/dev/null
	sleep 0.2
	[ -z "${CP_KEEP_TMP:-}" ] && rm -rf "$TLS_DIR"
	return 0
}

# (the body is not indented: its here-documents end at the first column)
cp_start_tls_proxy() {
local D
local NGINX=${NGINX:-/usr/sbin/nginx}
[ -x "$NGINX" ] || { echo "no $NGINX: install nginx (test/lib.sh cp_install_nginx does)" >&2; return 1; }
D=$(mktemp -d /tmp/cp_tls.XXXXXX)
TLS_DIR=$D
chmod 755 "$D"

# --- certificates: a CA, another CA, and four server certificates
ossl() { openssl "$@" 2>>"$D/openssl.log" >/dev/null; }
mkca() { # name
	ossl req -x509 -newkey rsa:2048 -nodes -keyout "$D/$1.key" -out "$D/$1.crt" \
		-days 30 -subj "/CN=checkpoint_perms test $1"
}
mkcsr() { # name san
	ossl req -newkey rsa:2048 -nodes -keyout "$D/$1.key" -out "$D/$1.csr" -subj "/CN=$1"
	printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\n' "$2" >"$D/$1.ext"
}
mkca ca
mkca otherca
for n in good other wrongname expired; do
	san="DNS:localhost,IP:127.0.0.1"
	[ "$n" = wrongname ] && san="DNS:wrong.example"
	mkcsr "$n" "$san"
done
sign() { # name ca
	ossl x509 -req -in "$D/$1.csr" -CA "$D/$2.crt" -CAkey "$D/$2.key" -CAcreateserial \
		-days 30 -extfile "$D/$1.ext" -out "$D/$1.crt"
}
sign good ca
sign other otherca
sign wrongname ca
# an expired one: openssl ca can set dates in the past
mkdir -p "$D/db"
: >"$D/db/index.txt"
echo 1000 >"$D/db/serial"
cat >"$D/ca.cnf" <<EOF
[ca]
default_ca = test
[test]
dir = $D/db
database = $D/db/index.txt
serial = $D/db/serial
new_certs_dir = $D/db
default_md = sha256
policy = any
copy_extensions = copy
[any]
commonName = supplied
EOF
ossl ca -batch -config "$D/ca.cnf" -cert "$D/ca.crt" -keyfile "$D/ca.key" \
	-startdate 20200101000000Z -enddate 20200102000000Z -extfile "$D/expired.ext" \
	-in "$D/expired.csr" -out "$D/expired.crt" -notext
printf 'not a certificate\n' >"$D/garbage.pem"
chmod 644 "$D"/*.crt "$D/garbage.pem"

# --- nginx: one server per certificate, on free loopback ports
free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P_GOOD=$(free_port); P_IDLE=$(free_port); P_OTHER=$(free_port); P_NAME=$(free_port); P_EXP=$(free_port)
P_PLAIN=$(free_port)
MOCK_HOSTPORT=${MOCK_URL#http://}
MOCK_HOSTPORT=${MOCK_HOSTPORT%/v1}
mkdir -p "$D/tmp"
chmod 1777 "$D/tmp"
server_block() { # port cert keepalive; no cert: plain HTTP/1.1
	if [ -n "$2" ]; then
		printf '    server {\n        listen 127.0.0.1:%s ssl http2;\n' "$1"
		printf '        ssl_certificate %s;\n        ssl_certificate_key %s;\n' "$D/$2.crt" "$D/$2.key"
	else
		printf '    server {\n        listen 127.0.0.1:%s;\n' "$1"
	fi
	cat <<EOF
        keepalive_timeout $3;
        access_log $D/access-$1.log tls;
        location / {
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
EOF
}
{
	cat <<EOF
daemon on;
pid $D/nginx.pid;
error_log $D/error.log warn;
worker_processes 1;
events { worker_connections 256; }
http {
    client_body_temp_path $D/tmp/body;
    proxy_temp_path $D/tmp/proxy;
    fastcgi_temp_path $D/tmp/fastcgi;
    uwsgi_temp_path $D/tmp/uwsgi;
    scgi_temp_path $D/tmp/scgi;
    log_format tls '\$connection \$connection_requests \$ssl_session_reused \$server_protocol \$request_method \$status';
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:cp:1m;
    ssl_session_tickets on;
    upstream mock { server $MOCK_HOSTPORT; keepalive 16; }
EOF
	server_block "$P_GOOD" good 60s
	server_block "$P_IDLE" good 1s
	server_block "$P_OTHER" other 60s
	server_block "$P_NAME" wrongname 60s
	server_block "$P_EXP" expired 60s
	# the same proxy without TLS (HTTP/1.1), to tell its cost from TLS's
	server_block "$P_PLAIN" "" 60s
	echo "}"
} >"$D/nginx.conf"
"$NGINX" -p "$D" -c "$D/nginx.conf" -e "$D/error.log" 2>>"$D/error.log" ||
	{ cat "$D/error.log" >&2; return 1; }
local i
for i in $(seq 1 50); do [ -s "$D/nginx.pid" ] && break; sleep 0.1; done

}
