-- DELETE revokes by id; UPDATE, TRUNCATE and friends are refused.
\getenv mock_url MOCK_URL
\getenv mock_key MOCK_KEY

CREATE FOREIGN TABLE revoke_perms (id text, created_at bigint, project_id text, object text)
  SERVER mock OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:delete:seed-6:proj-3');
SELECT project_id, count(*) FROM revoke_perms GROUP BY 1 ORDER BY 1;

-- revoke one project's permissions: scan, then one DELETE per row
\set QUIET off
DELETE FROM revoke_perms WHERE project_id = 'proj_0002';
\set QUIET on
SELECT project_id, count(*) FROM revoke_perms GROUP BY 1 ORDER BY 1;
SELECT method, path FROM mock_requests_sorted('ft:gpt-4o-mini:acme:delete:seed-6:proj-3')
  WHERE method = 'DELETE';

-- RETURNING gives the revoked rows
DELETE FROM revoke_perms WHERE project_id = 'proj_0003' RETURNING project_id, created_at, object;

-- a permission already gone (the API answers 404) is not counted, as for a
-- row deleted concurrently: the command tag shows how many were revoked
CREATE FOREIGN TABLE gone404 (id text, project_id text) SERVER mock
  OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:gone404:seed-2:delete-status-404');
\set QUIET off
DELETE FROM gone404;
DELETE FROM gone404 RETURNING project_id;
\set QUIET on
SELECT method, status FROM mock_requests('ft:gpt-4o-mini:acme:gone404:seed-2:delete-status-404');

-- a table without an id column cannot revoke
CREATE FOREIGN TABLE no_id (project_id text) SERVER mock
  OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:noid:seed-1');
DELETE FROM no_id;

-- refused: UPDATE, TRUNCATE, ON CONFLICT with a target (PostgreSQL's own
-- error: a foreign table has no unique constraint; DO NOTHING without a
-- target skips granted projects: sql/on_conflict.sql)
UPDATE revoke_perms SET project_id = 'proj_x';
TRUNCATE revoke_perms;
INSERT INTO revoke_perms (project_id) VALUES ('proj_x') ON CONFLICT (project_id) DO NOTHING;

-- when the k-th DELETE fails, the detail says how many were revoked (one
-- request at a time here, so that which one fails is always the same)
CREATE SERVER noretry_delete FOREIGN DATA WRAPPER checkpoint_perms
  OPTIONS (base_url :'mock_url', max_retries '0', max_concurrency '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER noretry_delete OPTIONS (api_key :'mock_key');
CREATE FOREIGN TABLE partial_revoke (id text) SERVER noretry_delete
  OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:partial-revoke:seed-4:delete-after-2-503');
-- the rollback warning may reach psql before or after the error: hidden here (sql/journal.sql tests it)
SET client_min_messages = error;
DELETE FROM partial_revoke;
RESET client_min_messages;

-- DELETE retries a 503
CREATE FOREIGN TABLE retried (id text) SERVER mock
  OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:retried:seed-1:delete-fail-1-503:retry-after-ms-10');
DELETE FROM retried;
SELECT method, status FROM mock_requests('ft:gpt-4o-mini:acme:retried:seed-1:delete-fail-1-503:retry-after-ms-10');
-- a DELETE whose reply was cut is retried; the 404 that answers the retry counts as done
CREATE FOREIGN TABLE cut_reply (id text) SERVER mock
  OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:cutreply:seed-1:delete-fail-1-cut');
DELETE FROM cut_reply RETURNING id IS NOT NULL AS revoked;
SELECT method, status FROM mock_requests('ft:gpt-4o-mini:acme:cutreply:seed-1:delete-fail-1-cut');

-- EXPLAIN names the requests
EXPLAIN (COSTS OFF) DELETE FROM revoke_perms WHERE project_id = 'proj_0001';

-- ROLLBACK does not undo a revoke
BEGIN;
DELETE FROM revoke_perms;
ROLLBACK;
SELECT count(*) FROM revoke_perms;
