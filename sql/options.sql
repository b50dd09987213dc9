-- The validator: unknown, misplaced, missing and bad options.
\getenv mock_url MOCK_URL

-- unknown options name the closest valid one, or list the valid ones
CREATE SERVER bad FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_ur 'https://x.test/v1');
CREATE SERVER bad FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (pagesize '10');
CREATE SERVER bad FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (colour 'blue');
ALTER FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (ADD debug 'on');

-- options in the wrong place say where they belong
CREATE SERVER bad FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (api_key 'sk-wrong-place');
CREATE SERVER bad FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (checkpoint 'ft:x');
CREATE SERVER opts FOREIGN DATA WRAPPER checkpoint_perms;
CREATE USER MAPPING FOR CURRENT_USER SERVER opts OPTIONS (api_key 'k', page_size '10');
CREATE FOREIGN TABLE bad (id text) SERVER opts OPTIONS (checkpoint 'ft:x', api_key 'k');
CREATE FOREIGN TABLE bad (id text) SERVER opts OPTIONS (checkpoint 'ft:x', timeout_ms '5');

-- a user mapping without "api_key" is accepted (pg_dump writes one for
-- every other role's mapping); using it is an error that says what to run
CREATE USER MAPPING FOR CURRENT_USER SERVER opts OPTIONS (api_key '');
CREATE USER MAPPING FOR CURRENT_USER SERVER opts;
-- a table without option "checkpoint" spans checkpoints, and needs a
-- checkpoint column for that: without one, no query can run on it
CREATE FOREIGN TABLE bad (id text) SERVER opts;
SELECT * FROM bad;
DROP FOREIGN TABLE bad;
CREATE FOREIGN TABLE bad (id text) SERVER opts OPTIONS (checkpoint '');
ALTER USER MAPPING FOR CURRENT_USER SERVER opts OPTIONS (ADD api_key 'sk-test');
ALTER USER MAPPING FOR CURRENT_USER SERVER opts OPTIONS (DROP api_key);
ALTER USER MAPPING FOR CURRENT_USER SERVER opts OPTIONS (ADD api_key 'sk-test');

-- numbers: not a number, out of range, each bound
ALTER SERVER opts OPTIONS (ADD page_size 'ten');
ALTER SERVER opts OPTIONS (ADD page_size '0');
ALTER SERVER opts OPTIONS (ADD page_size '10001');
ALTER SERVER opts OPTIONS (ADD page_size '12abc');
ALTER SERVER opts OPTIONS (ADD page_size '99999999999999999999');
ALTER SERVER opts OPTIONS (ADD batch_size '1001');
ALTER SERVER opts OPTIONS (ADD connect_timeout_ms '0');
ALTER SERVER opts OPTIONS (ADD timeout_ms '3600001');
ALTER SERVER opts OPTIONS (ADD max_retries '11');
ALTER SERVER opts OPTIONS (ADD max_concurrency '0');
ALTER SERVER opts OPTIONS (ADD max_concurrency '65');
ALTER SERVER opts OPTIONS (ADD max_response_bytes '1023');
ALTER SERVER opts OPTIONS (ADD page_size '10000', batch_size '1', connect_timeout_ms '1',
  timeout_ms '3600000', max_retries '0', max_response_bytes '268435456', max_concurrency '1');
ALTER SERVER opts OPTIONS (SET page_size '1', SET batch_size '1000', SET max_retries '10',
  SET max_response_bytes '1024', SET max_concurrency '64');

-- base_url: http(s) only, plaintext only to loopback, no credentials
ALTER SERVER opts OPTIONS (ADD base_url 'ftp://api.openai.com/v1');
ALTER SERVER opts OPTIONS (ADD base_url 'file:///etc/passwd');
ALTER SERVER opts OPTIONS (ADD base_url 'gopher://127.0.0.1/');
ALTER SERVER opts OPTIONS (ADD base_url 'api.openai.com/v1');
ALTER SERVER opts OPTIONS (ADD base_url 'http://api.openai.com/v1');
ALTER SERVER opts OPTIONS (ADD base_url 'http://10.1.2.3:8080/v1');
ALTER SERVER opts OPTIONS (ADD base_url 'http://127.0.0.1.example.com/v1');
ALTER SERVER opts OPTIONS (ADD base_url 'http://localhost.example.com/v1');
ALTER SERVER opts OPTIONS (ADD base_url 'https://user:pw@api.openai.com/v1');
ALTER SERVER opts OPTIONS (ADD base_url 'https:///v1');
ALTER SERVER opts OPTIONS (ADD base_url 'https://api.openai.com/v1?x=1');
ALTER SERVER opts OPTIONS (ADD base_url 'http://127.0.0.1:8080/v1');
ALTER SERVER opts OPTIONS (SET base_url 'http://localhost/v1');
ALTER SERVER opts OPTIONS (SET base_url 'http://[::1]:9/v1');
ALTER SERVER opts OPTIONS (SET base_url 'HTTPS://api.openai.com/v1/');
ALTER SERVER opts OPTIONS (ADD organization '');

-- column options
CREATE FOREIGN TABLE cols (pid text OPTIONS (field 'project')) SERVER opts
  OPTIONS (checkpoint 'ft:x');
CREATE FOREIGN TABLE cols (pid text OPTIONS (column_name 'project_id')) SERVER opts
  OPTIONS (checkpoint 'ft:x');
CREATE FOREIGN TABLE cols (pid text OPTIONS (field 'project_id')) SERVER opts
  OPTIONS (checkpoint 'ft:x', page_size '50', batch_size '25');

-- a trailing slash in base_url is not doubled in the request
\getenv mock_key MOCK_KEY
SELECT :'mock_url' || '//' AS url \gset
CREATE SERVER slash FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url :'url');
CREATE USER MAPPING FOR CURRENT_USER SERVER slash OPTIONS (api_key :'mock_key');
CREATE FOREIGN TABLE slash_perms (id text) SERVER slash
  OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:slash:seed-1');
SELECT count(*) FROM slash_perms;
SELECT path FROM mock_requests('ft:gpt-4o-mini:acme:slash:seed-1');

-- a role without a user mapping gets an error naming the server, and the
-- statement that gives it one
CREATE ROLE regress_cp_nomapping;
GRANT SELECT ON slash_perms TO regress_cp_nomapping;
SET ROLE regress_cp_nomapping;
SELECT count(*) FROM slash_perms;
RESET ROLE;
-- a mapping without a key (as a restored dump has one) names the role and
-- the ALTER USER MAPPING to run; with the key it works; a PUBLIC mapping
-- says so
CREATE USER MAPPING FOR regress_cp_nomapping SERVER slash;
SET ROLE regress_cp_nomapping;
SELECT count(*) FROM slash_perms;
RESET ROLE;
ALTER USER MAPPING FOR regress_cp_nomapping SERVER slash OPTIONS (ADD api_key :'mock_key');
SET ROLE regress_cp_nomapping;
SELECT count(*) FROM slash_perms;
RESET ROLE;
DROP USER MAPPING FOR regress_cp_nomapping SERVER slash;
CREATE USER MAPPING FOR PUBLIC SERVER slash;
SET ROLE regress_cp_nomapping;
SELECT count(*) FROM slash_perms;
RESET ROLE;
DROP USER MAPPING FOR PUBLIC SERVER slash;
DROP OWNED BY regress_cp_nomapping;
DROP ROLE regress_cp_nomapping;
