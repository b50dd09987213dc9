-- Grants exactly once: a POST whose outcome is unknown is followed by a
-- list of its projects, and only the grants that did not land are sent
-- again; the statement succeeds and RETURNING shows the real permissions.
-- A cancel during the POST says which grants may have been applied.
\getenv mock_url MOCK_URL
\getenv mock_key MOCK_KEY

-- the first POST is applied, then the connection closes without a reply
CREATE FOREIGN TABLE lost (id text, created_at bigint, project_id text, object text)
  SERVER mock OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:lost:post-fail-1-applied-hangup');
INSERT INTO lost (project_id) VALUES ('proj_a'), ('proj_b') RETURNING *;
SELECT project_id, count(*) FROM lost GROUP BY 1 ORDER BY 1;
-- POST (no reply), one filtered list of one row, then the next row's POST
SELECT method, query, status, body FROM mock_requests_sorted('ft:gpt-4o-mini:acme:lost:post-fail-1-applied-hangup')
  WHERE method <> 'GET' OR query ? 'project_id';

-- half of a batch is applied before the connection closes: only the other
-- half is sent again
CREATE FOREIGN TABLE half (project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:half:post-fail-1-partial-hangup');
INSERT INTO half VALUES ('proj_a'), ('proj_b'), ('proj_c');
SELECT project_id, count(*) FROM half GROUP BY 1 ORDER BY 1;
SELECT method, query, status, body FROM mock_requests_sorted('ft:gpt-4o-mini:acme:half:post-fail-1-partial-hangup')
  WHERE method <> 'GET' OR query ? 'project_id';

-- after ANALYZE the checkpoint is known to be small: one full list is
-- cheaper than three filtered ones
CREATE FOREIGN TABLE half_small (project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:halfsmall:seed-5:post-fail-1-partial-hangup');
ANALYZE half_small;
INSERT INTO half_small VALUES ('proj_a'), ('proj_b'), ('proj_c');
SELECT project_id, count(*) FROM half_small GROUP BY 1 ORDER BY 1;
SELECT method, query, status, body FROM mock_requests_sorted('ft:gpt-4o-mini:acme:halfsmall:seed-5:post-fail-1-partial-hangup');

-- a lost POST that did nothing (the connection closed before the API
-- acted) is found missing and sent again
CREATE FOREIGN TABLE not_applied (project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:notapplied:post-fail-1-hangup');
INSERT INTO not_applied VALUES ('proj_a'), ('proj_b');
SELECT project_id, count(*) FROM not_applied GROUP BY 1 ORDER BY 1;
SELECT method, query, status, body FROM mock_requests_sorted('ft:gpt-4o-mini:acme:notapplied:post-fail-1-hangup');

-- a 2xx reply that was cut, malformed or not JSON: the grants were made
CREATE FOREIGN TABLE eo_cut (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:eocut:post-fail-1-cut');
INSERT INTO eo_cut (project_id) VALUES ('proj_a') RETURNING id, project_id;
CREATE FOREIGN TABLE eo_truncated (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:eotruncated:post-fail-1-truncated');
INSERT INTO eo_truncated (project_id) VALUES ('proj_a') RETURNING id, project_id;
CREATE FOREIGN TABLE eo_garbage (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:eogarbage:post-fail-1-garbage');
INSERT INTO eo_garbage (project_id) VALUES ('proj_a') RETURNING id, project_id;
SELECT checkpoint, method, status, body FROM (
  SELECT 'cut' AS checkpoint, * FROM mock_requests_sorted('ft:gpt-4o-mini:acme:eocut:post-fail-1-cut')
  UNION ALL SELECT 'truncated', * FROM mock_requests_sorted('ft:gpt-4o-mini:acme:eotruncated:post-fail-1-truncated')
  UNION ALL SELECT 'garbage', * FROM mock_requests_sorted('ft:gpt-4o-mini:acme:eogarbage:post-fail-1-garbage')) r
  WHERE method = 'POST';
SELECT (SELECT count(*) FROM eo_cut) AS cut, (SELECT count(*) FROM eo_truncated) AS truncated,
       (SELECT count(*) FROM eo_garbage) AS garbage;

-- the time-out passes after the API acted
CREATE SERVER mock_short FOREIGN DATA WRAPPER checkpoint_perms
  OPTIONS (base_url :'mock_url', timeout_ms '300');
CREATE USER MAPPING FOR CURRENT_USER SERVER mock_short OPTIONS (api_key :'mock_key');
CREATE FOREIGN TABLE stalled (id text, project_id text)
  SERVER mock_short OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:stalled:post-fail-1-stall');
INSERT INTO stalled (project_id) VALUES ('proj_a') RETURNING id, project_id;
SELECT method, status, body FROM mock_requests('ft:gpt-4o-mini:acme:stalled:post-fail-1-stall');

-- every reply is lost and nothing is applied: sent 1 + max_retries times,
-- each time after a list showed it missing, then an error that says so
CREATE FOREIGN TABLE never (project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:never:post-hangup');
INSERT INTO never VALUES ('proj_a');
SELECT method, status FROM mock_requests('ft:gpt-4o-mini:acme:never:post-hangup');

-- a cancel (here statement_timeout) during the POST: the API acted, the
-- extension cannot learn it, and the error says so
CREATE FOREIGN TABLE slow_grant (project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:slowgrant:post-slow-1500', batch_size '3');
SET statement_timeout = '300ms';
-- the rollback warning may reach psql before or after the error: hidden here (sql/journal.sql tests it)
SET client_min_messages = error;
INSERT INTO slow_grant VALUES ('proj_a'), ('proj_b');
RESET client_min_messages;
RESET statement_timeout;
SELECT project_id FROM slow_grant ORDER BY 1;
