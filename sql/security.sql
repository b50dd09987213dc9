-- Paths are encoded, and who may set which option.
\getenv mock_url MOCK_URL
\getenv mock_key MOCK_KEY

-- hostile permission ids from the API: each DELETE goes to its own id, encoded
CREATE FOREIGN TABLE hostile (id text, project_id text) SERVER mock
  OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:sec:seed-8:hostile-ids');
SELECT id FROM hostile ORDER BY id COLLATE "C";
DELETE FROM hostile RETURNING id;
SELECT count(*) FROM hostile;
SELECT l->>'path' AS raw_path, l->>'permission_id' = d.id AS same_id, l->>'status' AS status
  FROM (SELECT line::jsonb AS l
        FROM regexp_split_to_table(pg_read_file((SELECT log_path FROM mock_config)), E'\n') AS line
        WHERE line LIKE '%sec:seed-8:hostile-ids%' AND line LIKE '%"DELETE"%') s
  LEFT JOIN (VALUES ('cp_a/b'), ('cp_q?x=1'), ('cp_h#f'), ('cp_p%41'), ('cp_s p'), ('..'), ('.')) d(id)
    ON d.id = l->>'permission_id'
  ORDER BY 1;  -- the revokes go out at once: in no fixed order

-- a hostile checkpoint id: one path segment, whatever it holds
CREATE FOREIGN TABLE hostile_ckpt (id text) SERVER mock
  OPTIONS (checkpoint 'ft:x/../../v1?y=1#z %41:seed-1');
EXPLAIN (COSTS OFF) SELECT * FROM hostile_ckpt;
SELECT count(*) FROM hostile_ckpt;
SELECT path, query FROM mock_requests('ft:x/../../v1?y=1#z %41:seed-1');
CREATE FOREIGN TABLE dot_ckpt (id text) SERVER mock OPTIONS (checkpoint '..');
SELECT count(*) FROM dot_ckpt;

-- a non-superuser with USAGE on the wrapper: https only, no files, no proxy
CREATE ROLE regress_cp_admin;
GRANT USAGE ON FOREIGN DATA WRAPPER checkpoint_perms TO regress_cp_admin;
-- (a URL other than the default must be listed by a superuser: see hostile.sql)
SET checkpoint_perms.allowed_base_urls = 'https://api.example.com/v1';
SET ROLE regress_cp_admin;
CREATE SERVER user_http FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url 'http://127.0.0.1:9/v1');
CREATE SERVER user_ca FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (ca_bundle '/etc/passwd');
CREATE SERVER user_proxy FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (proxy 'http://127.0.0.1:3128');
CREATE SERVER user_https FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url 'https://api.example.com/v1');
CREATE USER MAPPING FOR CURRENT_USER SERVER user_https OPTIONS (api_key 'sk-admin-of-regress');
-- the mapping's options are shown to its own role only
SELECT srvname, umoptions FROM pg_user_mappings WHERE srvname = 'user_https';
RESET ROLE;
CREATE ROLE regress_cp_other;
SET ROLE regress_cp_other;
SELECT srvname, umoptions FROM pg_user_mappings WHERE srvname = 'user_https';
RESET ROLE;
-- a superuser may set them; ca_bundle must name a file the server can read
ALTER SERVER user_https OPTIONS (ADD ca_bundle '/nonexistent/ca.pem');
ALTER SERVER user_https OPTIONS (ADD ca_bundle '/etc/ssl/certs');
ALTER SERVER user_https OPTIONS (ADD proxy 'socks5h://127.0.0.1:1080', ADD ca_bundle '/etc/ssl/certs/ca-certificates.crt');
ALTER SERVER user_https OPTIONS (SET proxy 'ftp://127.0.0.1');
DROP SERVER user_https CASCADE;
RESET checkpoint_perms.allowed_base_urls;
DROP ROLE regress_cp_other;
REVOKE USAGE ON FOREIGN DATA WRAPPER checkpoint_perms FROM regress_cp_admin;
DROP ROLE regress_cp_admin;

-- a proxy that is not there: the request goes through it or not at all
CREATE SERVER via_proxy FOREIGN DATA WRAPPER checkpoint_perms
  OPTIONS (base_url :'mock_url', proxy 'http://127.0.0.1:9', max_retries '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER via_proxy OPTIONS (api_key :'mock_key');
CREATE FOREIGN TABLE via_proxy_perms (id text) SERVER via_proxy OPTIONS (checkpoint 'ft:sec:proxy');
SELECT count(*) FROM via_proxy_perms;
