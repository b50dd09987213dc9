-- What a hostile role or a hostile reply could do (issue 11), refused.
\getenv mock_url MOCK_URL
\getenv mock_key MOCK_KEY
\set SHOW_CONTEXT always

-- 1. Control characters in an option that reaches a header, a URL or a path:
-- refused at CREATE and ALTER, without repeating the value (it may be a key)
CREATE SERVER h_bad FOREIGN DATA WRAPPER checkpoint_perms
  OPTIONS (base_url :'mock_url', organization E'org\r\nX-Evil: 1');
CREATE SERVER h_bad FOREIGN DATA WRAPPER checkpoint_perms
  OPTIONS (base_url :'mock_url', project E'p\r\nHost: evil.example');
CREATE SERVER h_bad FOREIGN DATA WRAPPER checkpoint_perms
  OPTIONS (base_url E'https://api.openai.com/v1\r\nX-Evil: 1');
CREATE SERVER h_bad FOREIGN DATA WRAPPER checkpoint_perms
  OPTIONS (proxy E'http://127.0.0.1:3128\n');
CREATE SERVER h_bad FOREIGN DATA WRAPPER checkpoint_perms
  OPTIONS (ca_bundle E'/etc/ssl/certs/ca-certificates.crt\x01');
CREATE SERVER h FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url :'mock_url');
ALTER SERVER h OPTIONS (ADD organization E'org\x7f');
CREATE USER MAPPING FOR CURRENT_USER SERVER h OPTIONS (api_key E'sk-abc\r\nX-Smuggled: 1');
CREATE USER MAPPING FOR CURRENT_USER SERVER h OPTIONS (api_key :'mock_key');
ALTER USER MAPPING FOR CURRENT_USER SERVER h OPTIONS (SET api_key E'sk-abc\tdef');
CREATE FOREIGN TABLE h_bad (id text) SERVER h OPTIONS (checkpoint E'ft:x\r\n:seed-1');
CREATE FOREIGN TABLE h_ok (id text, project_id text) SERVER h
  OPTIONS (checkpoint 'ft:hostile:ok:seed-3');
ALTER FOREIGN TABLE h_ok OPTIONS (SET checkpoint E'ft:hostile:ok:seed-3\n');

-- a value stored before these checks existed (made here with a catalog
-- update) is refused before anything is sent: no request reaches the mock
UPDATE pg_foreign_server SET srvoptions = array_append(srvoptions, E'organization=org\r\nX-Smuggled: 1')
  WHERE srvname = 'h';
CREATE FOREIGN TABLE h_smuggle (id text) SERVER h OPTIONS (checkpoint 'ft:hostile:smuggle:seed-1');
SELECT count(*) FROM h_smuggle;
SELECT count(*) AS requests FROM mock_requests('ft:hostile:smuggle:seed-1');
ALTER SERVER h OPTIONS (DROP organization);
ALTER SERVER h OPTIONS (ADD organization 'org-hostile', ADD project 'proj_hostile');
SELECT count(*) FROM h_smuggle;
-- the headers that reached the mock: no smuggled one
SELECT l->'header_names' AS header_names, l->>'organization' AS organization,
       l->>'project' AS project
  FROM (SELECT line::jsonb AS l
        FROM regexp_split_to_table(pg_read_file((SELECT log_path FROM mock_config)), E'\n') AS line
        WHERE line LIKE '%ft:hostile:smuggle:seed-1%') s;

-- ids from SQL are checked the same way, before any request
CREATE FOREIGN TABLE h_ids (id text, project_id text) SERVER mock
  OPTIONS (checkpoint 'ft:hostile:ids:seed-3');
INSERT INTO h_ids (project_id) VALUES (E'proj_a\r\nX-Smuggled: 1');
INSERT INTO h_ids (project_id) VALUES ('proj_b'), (E'proj_c\x01');
INSERT INTO h_ids (project_id) VALUES (' proj_a');
-- in a statement that already granted, the detail says so
CREATE FOREIGN TABLE h_batch1 (id text, project_id text) SERVER mock
  OPTIONS (checkpoint 'ft:hostile:batch1', batch_size '1');
-- the rollback warning may reach psql before or after the error: hidden here (sql/journal.sql tests it)
SET client_min_messages = error;
INSERT INTO h_batch1 (project_id) VALUES ('proj_q1'), (E'proj_q2\n');
RESET client_min_messages;
SELECT method, body FROM mock_requests('ft:hostile:batch1');
-- a value in a condition that cannot be an id matches nothing, with no
-- request and no error, as it would filtered locally (issue 17)
SELECT count(*) FROM h_ids WHERE project_id = E'proj_0001\n';
-- and an IN list sends only the values that can be ids
SELECT count(*) FROM h_ids WHERE project_id IN ('proj_0001', E'proj_0002\r\n');
SELECT method, count(*) FROM mock_requests('ft:hostile:ids:seed-3') GROUP BY method;

-- 3. Length caps: checkpoint 512 bytes, project and permission ids 256,
-- refused before any request (a condition's value past them matches
-- nothing); a message repeats at most 200 bytes of a value
INSERT INTO h_ids (project_id) VALUES (repeat('x', 100000));
SELECT count(*) FROM h_ids WHERE project_id = repeat('x', 100000);
INSERT INTO h_ids (project_id) VALUES (repeat('p', 257));
INSERT INTO h_ids (project_id) VALUES (repeat('p', 256));
SELECT count(*) FROM h_ids WHERE project_id = repeat('p', 256);
SELECT method, count(*) FROM mock_requests('ft:hostile:ids:seed-3') GROUP BY method ORDER BY method;
SELECT 'ft:hostile:missing:' || repeat('c', 493) AS ckpt_512,
       'ft:hostile:missing:' || repeat('c', 494) AS ckpt_513,
       repeat('p', 257) AS p257, repeat('k', 1025) AS k1025 \gset
SELECT length(:'ckpt_512');
CREATE FOREIGN TABLE h_long (id text) SERVER mock OPTIONS (checkpoint :'ckpt_512');
ALTER FOREIGN TABLE h_long OPTIONS (SET checkpoint :'ckpt_513');
-- a 404 names the checkpoint and the request, each cut to 200 bytes
SELECT * FROM h_long;
ALTER SERVER h OPTIONS (SET project :'p257');
ALTER USER MAPPING FOR CURRENT_USER SERVER h OPTIONS (SET api_key :'k1025');

-- 4. Strict numbers, and no white space at either end of ids and URLs
ALTER SERVER h OPTIONS (ADD timeout_ms ' 100');
ALTER SERVER h OPTIONS (ADD timeout_ms '100 ');
ALTER SERVER h OPTIONS (ADD timeout_ms '+5');
ALTER SERVER h OPTIONS (ADD timeout_ms '-5');
ALTER SERVER h OPTIONS (ADD timeout_ms '0x10');
ALTER SERVER h OPTIONS (ADD request_cost ' 1');
ALTER SERVER h OPTIONS (ADD request_cost '+1');
ALTER SERVER h OPTIONS (ADD request_cost 'inf');
ALTER SERVER h OPTIONS (ADD request_cost '0x10');
ALTER SERVER h OPTIONS (ADD request_cost '1e3', ADD fdw_tuple_cost '.5', ADD timeout_ms '100');
ALTER FOREIGN TABLE h_ok OPTIONS (SET checkpoint ' ft:w ');
ALTER SERVER h OPTIONS (SET base_url ' https://api.openai.com/v1');
ALTER SERVER h OPTIONS (ADD proxy 'http://127.0.0.1:3128 ');
ALTER USER MAPPING FOR CURRENT_USER SERVER h OPTIONS (SET api_key 'sk-key ');
ALTER SERVER h OPTIONS (DROP request_cost, DROP fdw_tuple_cost, DROP timeout_ms);
-- a char(n) column pads with spaces: they are not part of the id
CREATE FOREIGN TABLE h_char (id text, project_id char(12)) SERVER mock
  OPTIONS (checkpoint 'ft:hostile:char');
INSERT INTO h_char (project_id) VALUES ('proj_pad');
SELECT method, body FROM mock_requests('ft:hostile:char');

-- 5. Replies that break the contract: malformed (08P01)
CREATE SERVER noretry_h FOREIGN DATA WRAPPER checkpoint_perms
  OPTIONS (base_url :'mock_url', max_retries '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER noretry_h OPTIONS (api_key :'mock_key');
CREATE FOREIGN TABLE h_overfull (id text) SERVER mock
  OPTIONS (checkpoint 'ft:hostile:overfull:seed-20', page_size '5');
SELECT count(*) FROM h_overfull;
CREATE FOREIGN TABLE h_dupids (id text) SERVER mock
  OPTIONS (checkpoint 'ft:hostile:dupids:seed-20', page_size '5');
SELECT count(*) FROM h_dupids;
CREATE FOREIGN TABLE h_dupnext (id text) SERVER mock
  OPTIONS (checkpoint 'ft:hostile:dupnext:seed-20', page_size '5');
SELECT count(*) FROM h_dupnext;
CREATE FOREIGN TABLE h_nobody (id text) SERVER mock
  OPTIONS (checkpoint 'ft:hostile:nobody:seed-2');
SELECT count(*) FROM h_nobody;
-- ids that no API id looks like
CREATE FOREIGN TABLE h_ctrlid (id text) SERVER mock OPTIONS (checkpoint 'ft:hostile:ctrlid:seed-2');
SELECT count(*) FROM h_ctrlid;
CREATE FOREIGN TABLE h_nulid (id text) SERVER mock OPTIONS (checkpoint 'ft:hostile:nulid:seed-2');
SELECT count(*) FROM h_nulid;
CREATE FOREIGN TABLE h_longid (id text) SERVER mock OPTIONS (checkpoint 'ft:hostile:longid:seed-2');
SELECT count(*) FROM h_longid;
CREATE FOREIGN TABLE h_spaceid (id text) SERVER mock OPTIONS (checkpoint 'ft:hostile:spaceid:seed-2');
SELECT count(*) FROM h_spaceid;
CREATE FOREIGN TABLE h_badutf8 (id text) SERVER mock OPTIONS (checkpoint 'ft:hostile:badutf8:seed-2');
SELECT count(*) FROM h_badutf8;
-- an error envelope with control characters, the key and bytes that are not
-- UTF-8: printable, masked and cut
CREATE FOREIGN TABLE h_error (id text) SERVER mock OPTIONS (checkpoint 'ft:hostile:hostile-error');
SELECT count(*) FROM h_error;
-- a key across the 200 bytes of a body that an error quotes: masked whole
CREATE FOREIGN TABLE h_echo_late (id text) SERVER noretry_h OPTIONS (checkpoint 'ft:hostile:echo-key-late');
SELECT count(*) FROM h_echo_late;
-- a proxy that echoes the Authorization header into x-request-id and
-- content-type: both masked (a 200 that is not JSON shows its content
-- type, a 502 its request id; a grant answered 502 is learned from a
-- list, which here gets the 200 that is not JSON)
CREATE FOREIGN TABLE h_echo_header (id text, project_id text) SERVER noretry_h OPTIONS (checkpoint 'ft:hostile:echo-key-header');
SELECT count(*) FROM h_echo_header;
-- (the rollback warning of the grant left unknown comes before or after the
-- error, as the messages happen to arrive: not shown)
SET client_min_messages = error;
INSERT INTO h_echo_header (project_id) VALUES ('proj_1');
DELETE FROM h_echo_header WHERE id = 'cp_x';
RESET client_min_messages;

-- 6. An open cursor keeps the key it started with; the next statement uses
-- the new one
CREATE FOREIGN TABLE h_cursor (id text) SERVER h
  OPTIONS (checkpoint 'ft:hostile:cursor:seed-12', page_size '5');
BEGIN;
DECLARE c CURSOR FOR SELECT id FROM h_cursor;
FETCH 3 FROM c;
ALTER USER MAPPING FOR CURRENT_USER SERVER h OPTIONS (SET api_key 'sk-wrong-after-alter');
FETCH ALL FROM c;
SELECT count(*) FROM h_cursor;
ROLLBACK;
-- (sorted: the second page and the oldest end's first go out at once)
SELECT method, query->>'after' IS NOT NULL AS has_after, status
  FROM mock_requests('ft:hostile:cursor:seed-12') ORDER BY status, has_after;

-- 2. A role that is not superuser: the default base_url, or one a superuser
-- listed in checkpoint_perms.allowed_base_urls; never the database host or
-- its network
CREATE ROLE regress_cp_tenant;
GRANT USAGE ON FOREIGN DATA WRAPPER checkpoint_perms TO regress_cp_tenant;
GRANT CREATE ON SCHEMA public TO regress_cp_tenant;
SELECT regexp_replace(:'mock_url', '^http://127\.0\.0\.1:([0-9]+)/v1$', '\1') AS mock_port \gset
SELECT 'https://127.0.0.1:' || :'mock_port' || '/v1' AS url_open_v4,
       'https://localhost:' || :'mock_port' || '/v1' AS url_open_name \gset
SET checkpoint_perms.allowed_base_urls = 'https://api.example.com/v1';
SET ROLE regress_cp_tenant;
CREATE SERVER t_bad FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url :'url_open_v4');
CREATE SERVER t_bad FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url 'https://127.0.0.1:9/v1');
CREATE SERVER t_bad FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url 'https://localhost/v1');
CREATE SERVER t_bad FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url 'https://LocalHost.:443/v1');
CREATE SERVER t_bad FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url 'https://[::1]/v1');
CREATE SERVER t_bad FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url 'https://[::ffff:127.0.0.1]/v1');
CREATE SERVER t_bad FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url 'https://0.0.0.0/v1');
CREATE SERVER t_bad FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url 'https://127.1/v1');
CREATE SERVER t_bad FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url 'https://10.1.2.3/v1');
CREATE SERVER t_bad FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url 'https://169.254.169.254/v1');
CREATE SERVER t_bad FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url 'https://192.168.0.1/v1');
CREATE SERVER t_bad FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url 'https://100.64.0.1/v1');
CREATE SERVER t_bad FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url 'https://[fd00::1]/v1');
CREATE SERVER t_bad FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url 'https://[fe80::1%25eth0]/v1');
CREATE SERVER t_bad FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url 'https://api.elsewhere.example/v1');
-- the default, and what the superuser listed, are fine
CREATE SERVER t_default FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url 'https://API.openai.com/v1/');
CREATE SERVER t_listed FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url 'https://api.example.com/v1');
-- only a superuser sets the list
RESET checkpoint_perms.allowed_base_urls;
SET checkpoint_perms.allowed_base_urls = 'https://127.0.0.1:9/v1';
RESET ROLE;
DROP SERVER t_default;
DROP SERVER t_listed;
RESET checkpoint_perms.allowed_base_urls;

-- Servers a superuser made, then handed to the tenant: the URLs are listed,
-- but the addresses they lead to are refused when the request connects,
-- before any packet leaves; an open port (the mock's) and a closed one fail
-- alike
CREATE FUNCTION tenant_server(name text, url text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE SERVER %I FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url %L, max_retries %L)',
                 name, url, '0');
  EXECUTE format('ALTER SERVER %I OWNER TO regress_cp_tenant', name);
  EXECUTE format('CREATE USER MAPPING FOR regress_cp_tenant SERVER %I OPTIONS (api_key %L)',
                 name, current_setting('cp.mock_key'));
END $$;
SELECT set_config('cp.mock_key', :'mock_key', false) IS NOT NULL AS ok;
-- the list is checked at every use, too: a URL that is not (or no longer)
-- on it is refused before anything is sent, not even a name lookup
SELECT tenant_server('t_unlisted', 'https://127.0.0.1:9/v1');
SET ROLE regress_cp_tenant;
CREATE FOREIGN TABLE t_unlisted_perms (id text) SERVER t_unlisted OPTIONS (checkpoint 'ft:tenant:probe');
SELECT count(*) FROM t_unlisted_perms;
RESET ROLE;
SELECT set_config('checkpoint_perms.allowed_base_urls',
  :'url_open_v4' || ', ' || :'url_open_name' || ', https://127.0.0.1:9/v1, https://[::1]:9/v1, '
  || 'https://0.0.0.0:9/v1, https://10.1.2.3/v1, https://169.254.169.254/v1', false) IS NOT NULL AS listed;
SELECT tenant_server('t_open_v4', :'url_open_v4'), tenant_server('t_open_name', :'url_open_name'),
       tenant_server('t_closed_v4', 'https://127.0.0.1:9/v1'),
       tenant_server('t_closed_v6', 'https://[::1]:9/v1'),
       tenant_server('t_zero', 'https://0.0.0.0:9/v1');
SET ROLE regress_cp_tenant;
CREATE FOREIGN TABLE t_open_v4_perms (id text) SERVER t_open_v4 OPTIONS (checkpoint 'ft:tenant:probe');
CREATE FOREIGN TABLE t_open_name_perms (id text) SERVER t_open_name OPTIONS (checkpoint 'ft:tenant:probe');
CREATE FOREIGN TABLE t_closed_v4_perms (id text) SERVER t_closed_v4 OPTIONS (checkpoint 'ft:tenant:probe');
CREATE FOREIGN TABLE t_closed_v6_perms (id text) SERVER t_closed_v6 OPTIONS (checkpoint 'ft:tenant:probe');
CREATE FOREIGN TABLE t_zero_perms (id text) SERVER t_zero OPTIONS (checkpoint 'ft:tenant:probe');
SELECT count(*) FROM t_open_v4_perms;
\set refused_open :LAST_ERROR_SQLSTATE
SELECT count(*) FROM t_open_name_perms;
\set refused_name :LAST_ERROR_SQLSTATE
SELECT count(*) FROM t_closed_v4_perms;
\set refused_closed :LAST_ERROR_SQLSTATE
SELECT count(*) FROM t_closed_v6_perms;
SELECT count(*) FROM t_zero_perms;
RESET ROLE;
SELECT count(*) AS requests FROM mock_requests('ft:tenant:probe');
-- private and link-local addresses: only if the same check refused loopback
-- above (42501, not a connection error), so that not even a broken build
-- can send a packet off this host
SELECT :'refused_open' = '42501' AND :'refused_name' = '42501' AND :'refused_closed' = '42501'
  AS loopback_refused \gset
\if :loopback_refused
SELECT tenant_server('t_private', 'https://10.1.2.3/v1'),
       tenant_server('t_linklocal', 'https://169.254.169.254/v1');
SET ROLE regress_cp_tenant;
CREATE FOREIGN TABLE t_private_perms (id text) SERVER t_private OPTIONS (checkpoint 'ft:tenant:probe');
CREATE FOREIGN TABLE t_linklocal_perms (id text) SERVER t_linklocal OPTIONS (checkpoint 'ft:tenant:probe');
SELECT count(*) FROM t_private_perms;
SELECT count(*) FROM t_linklocal_perms;
RESET ROLE;
\endif
-- a server owned by a superuser keeps today's rules: it may reach the mock
ALTER SERVER t_open_v4 OWNER TO CURRENT_USER;
CREATE USER MAPPING FOR CURRENT_USER SERVER t_open_v4 OPTIONS (api_key :'mock_key');
ALTER SERVER t_open_v4 OPTIONS (SET base_url :'mock_url');
SELECT count(*) FROM t_open_v4_perms;
RESET checkpoint_perms.allowed_base_urls;
DROP OWNED BY regress_cp_tenant CASCADE;
DROP SERVER t_open_v4 CASCADE;
DROP FUNCTION tenant_server;
REVOKE USAGE ON FOREIGN DATA WRAPPER checkpoint_perms FROM regress_cp_tenant;
REVOKE CREATE ON SCHEMA public FROM regress_cp_tenant;
DROP ROLE regress_cp_tenant;
