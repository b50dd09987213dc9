-- API errors and malformed replies: each is one clear error with its SQLSTATE,
-- shown by the \echo after it.
\set SHOW_CONTEXT always
\getenv mock_url MOCK_URL

CREATE FUNCTION try_scan(tbl regclass) RETURNS text LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM %s', tbl) INTO n;
  RETURN n || ' rows';
END $$;

-- no retries here: retries have their own tests
CREATE SERVER noretry FOREIGN DATA WRAPPER checkpoint_perms
  OPTIONS (base_url :'mock_url', max_retries '0', timeout_ms '2000', connect_timeout_ms '2000');
\getenv mock_key MOCK_KEY
CREATE USER MAPPING FOR CURRENT_USER SERVER noretry OPTIONS (api_key :'mock_key');

-- unknown checkpoint: 404
CREATE FOREIGN TABLE e404 (id text) SERVER noretry OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:missing');
SELECT * FROM e404;
\echo :LAST_ERROR_SQLSTATE

-- wrong key: 401, and the key never shows
CREATE SERVER wrongkey FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url :'mock_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER wrongkey OPTIONS (api_key 'sk-wrong-key-abcdef');
CREATE FOREIGN TABLE e401 (id text) SERVER wrongkey OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:e401');
SELECT * FROM e401;
\echo :LAST_ERROR_SQLSTATE
-- an API that echoes the key back: masked
CREATE FOREIGN TABLE echo (id text) SERVER noretry OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:echo-key');
SELECT * FROM echo;
\echo :LAST_ERROR_SQLSTATE

-- statuses and their SQLSTATEs
CREATE FOREIGN TABLE e400 (id text) SERVER noretry OPTIONS (checkpoint 'ft:x:status-400');
SELECT * FROM e400;
\echo :LAST_ERROR_SQLSTATE
CREATE FOREIGN TABLE e403 (id text) SERVER noretry OPTIONS (checkpoint 'ft:x:status-403');
SELECT * FROM e403;
\echo :LAST_ERROR_SQLSTATE
CREATE FOREIGN TABLE e409 (id text) SERVER noretry OPTIONS (checkpoint 'ft:x:status-409');
SELECT * FROM e409;
\echo :LAST_ERROR_SQLSTATE
CREATE FOREIGN TABLE e422 (id text) SERVER noretry OPTIONS (checkpoint 'ft:x:status-422');
SELECT * FROM e422;
\echo :LAST_ERROR_SQLSTATE
CREATE FOREIGN TABLE e429 (id text) SERVER noretry OPTIONS (checkpoint 'ft:x:status-429');
SELECT * FROM e429;
\echo :LAST_ERROR_SQLSTATE
CREATE FOREIGN TABLE e500 (id text) SERVER noretry OPTIONS (checkpoint 'ft:x:status-500');
SELECT * FROM e500;
\echo :LAST_ERROR_SQLSTATE
CREATE FOREIGN TABLE e503 (id text) SERVER noretry OPTIONS (checkpoint 'ft:x:status-503');
SELECT * FROM e503;
\echo :LAST_ERROR_SQLSTATE
CREATE FOREIGN TABLE e302 (id text) SERVER noretry OPTIONS (checkpoint 'ft:x:redirect');
SELECT * FROM e302;
\echo :LAST_ERROR_SQLSTATE

-- malformed replies name what was wrong
CREATE FOREIGN TABLE garbage (id text) SERVER noretry OPTIONS (checkpoint 'ft:x:garbage');
SELECT * FROM garbage;
\echo :LAST_ERROR_SQLSTATE
CREATE FOREIGN TABLE truncated (id text) SERVER noretry OPTIONS (checkpoint 'ft:x:seed-3:truncated');
SELECT * FROM truncated;
\echo :LAST_ERROR_SQLSTATE
CREATE FOREIGN TABLE wrongtypes (id text) SERVER noretry OPTIONS (checkpoint 'ft:x:seed-3:wrongtypes');
SELECT * FROM wrongtypes;
\echo :LAST_ERROR_SQLSTATE
CREATE FOREIGN TABLE missingfields (id text) SERVER noretry OPTIONS (checkpoint 'ft:x:seed-3:missingfields');
SELECT * FROM missingfields;
\echo :LAST_ERROR_SQLSTATE
CREATE FOREIGN TABLE notarray (id text) SERVER noretry OPTIONS (checkpoint 'ft:x:seed-3:notarray');
SELECT * FROM notarray;
\echo :LAST_ERROR_SQLSTATE
CREATE FOREIGN TABLE nohasmore (id text) SERVER noretry OPTIONS (checkpoint 'ft:x:seed-3:nohasmore');
SELECT * FROM nohasmore;
\echo :LAST_ERROR_SQLSTATE
CREATE FOREIGN TABLE stuck (id text) SERVER noretry OPTIONS (checkpoint 'ft:x:seed-3:stuckcursor');
SELECT * FROM stuck;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS requests FROM mock_requests('ft:x:seed-3:stuckcursor');
CREATE FOREIGN TABLE oversized (id text) SERVER noretry OPTIONS (checkpoint 'ft:x:seed-3:oversized');
SELECT * FROM oversized;
\echo :LAST_ERROR_SQLSTATE

-- the network: a cut connection, nothing listening, a reply too slow
CREATE FOREIGN TABLE cut (id text) SERVER noretry OPTIONS (checkpoint 'ft:x:cut');
SELECT * FROM cut;
\echo :LAST_ERROR_SQLSTATE
CREATE FOREIGN TABLE hangup (id text) SERVER noretry OPTIONS (checkpoint 'ft:x:hangup');
SELECT * FROM hangup;
\echo :LAST_ERROR_SQLSTATE
CREATE SERVER closed FOREIGN DATA WRAPPER checkpoint_perms
  OPTIONS (base_url 'http://127.0.0.1:9/v1', max_retries '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER closed OPTIONS (api_key 'sk-closed');
CREATE FOREIGN TABLE refused (id text) SERVER closed OPTIONS (checkpoint 'ft:x');
SELECT * FROM refused;
\echo :LAST_ERROR_SQLSTATE
CREATE FOREIGN TABLE slow (id text) SERVER noretry OPTIONS (checkpoint 'ft:x:slow-3000');
ALTER SERVER noretry OPTIONS (SET timeout_ms '300');
SELECT * FROM slow;
\echo :LAST_ERROR_SQLSTATE
ALTER SERVER noretry OPTIONS (SET timeout_ms '2000');

-- statement_timeout stops a request in flight with PostgreSQL's own error
SET statement_timeout = '200ms';
SELECT * FROM slow;
\echo :LAST_ERROR_SQLSTATE
RESET statement_timeout;

-- after all that, the cached connection still works
CREATE FOREIGN TABLE fine (id text) SERVER noretry OPTIONS (checkpoint 'ft:x:errors-fine:seed-3');
SELECT count(*) FROM fine;

-- the errors above were all caught: nothing is left half-done
SELECT try_scan('fine');
