-- INSERT grants: batches, RETURNING, COPY, and what is refused before sending.
\getenv mock_url MOCK_URL
\getenv mock_key MOCK_KEY

CREATE FOREIGN TABLE grants (id text, created_at bigint, project_id text, object text)
  SERVER mock OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:insert');

-- one row, with RETURNING: the API's id, created_at and object come back
INSERT INTO grants (project_id) VALUES ('proj_a') RETURNING *;
-- several rows in one statement, RETURNING some columns
INSERT INTO grants (project_id) VALUES ('proj_b'), ('proj_c') RETURNING id, project_id;
SELECT project_id, created_at FROM grants ORDER BY created_at;
SELECT method, body FROM mock_requests('ft:gpt-4o-mini:acme:insert') WHERE method = 'POST';

-- batching: 251 rows without RETURNING take 3 POSTs of at most 100 ids
CREATE FOREIGN TABLE grants251 (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:insert251');
INSERT INTO grants251 (project_id) SELECT format('proj_%s', g) FROM generate_series(1, 251) g;
SELECT count(*), count(DISTINCT id) FROM grants251;
SELECT method, jsonb_array_length(body->'project_ids') AS ids
  FROM mock_requests('ft:gpt-4o-mini:acme:insert251') WHERE method = 'POST';
EXPLAIN (COSTS OFF) INSERT INTO grants251 (project_id) VALUES ('x');

-- batch_size on the table
ALTER FOREIGN TABLE grants251 OPTIONS (ADD batch_size '2');
EXPLAIN (COSTS OFF) INSERT INTO grants251 (project_id) VALUES ('x');

-- COPY batches too
CREATE FOREIGN TABLE grants_copy (project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:copy', batch_size '4');
COPY grants_copy (project_id) FROM STDIN;
proj_c1
proj_c2
proj_c3
proj_c4
proj_c5
proj_c6
\.
SELECT project_id FROM grants_copy ORDER BY 1;
SELECT method, body FROM mock_requests('ft:gpt-4o-mini:acme:copy') WHERE method = 'POST';

-- refused before anything is sent
CREATE FOREIGN TABLE refusals (id text, created_at timestamptz, project_id text, object text)
  SERVER mock OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:refusals');
INSERT INTO refusals (id, project_id) VALUES ('cp_mine', 'proj_x');
INSERT INTO refusals (created_at, project_id) VALUES (now(), 'proj_x');
INSERT INTO refusals (object, project_id) VALUES ('checkpoint.permission', 'proj_x');
INSERT INTO refusals (project_id) VALUES ('proj_x'), (NULL);
INSERT INTO refusals (project_id) VALUES ('proj_x'), ('');
INSERT INTO refusals (project_id) VALUES ('proj_x'), ('proj_y'), ('proj_x');
-- (ON CONFLICT DO NOTHING without a target skips granted projects: sql/on_conflict.sql)
INSERT INTO refusals (project_id) VALUES ('proj_x') ON CONFLICT (project_id) DO NOTHING;
-- a NULL for a generated column is no value
INSERT INTO refusals (id, project_id) VALUES (NULL, 'proj_ok') RETURNING project_id, object;
SELECT method, body FROM mock_requests('ft:gpt-4o-mini:acme:refusals') WHERE method = 'POST';

-- a table without project_id cannot grant
CREATE FOREIGN TABLE ids_only (id text) SERVER mock OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:refusals');
INSERT INTO ids_only VALUES (NULL);

-- when request k of n fails, the detail says what was already applied
CREATE FOREIGN TABLE partial (project_id text) SERVER mock
  OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:partial:post-after-1-500', batch_size '2');
-- the first POST works, the second answers 500
-- the rollback warning may reach psql before or after the error: hidden here (sql/journal.sql tests it)
SET client_min_messages = error;
INSERT INTO partial SELECT format('proj_%s', g) FROM generate_series(1, 5) g;
RESET client_min_messages;
SELECT project_id FROM partial ORDER BY 1;
-- a duplicate in a later batch: the earlier batches stay applied
CREATE FOREIGN TABLE partial2 (project_id text) SERVER mock
  OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:partial2', batch_size '2');
-- the rollback warning may reach psql before or after the error: hidden here (sql/journal.sql tests it)
SET client_min_messages = error;
INSERT INTO partial2 VALUES ('proj_1'), ('proj_2'), ('proj_3'), ('proj_1');
RESET client_min_messages;
SELECT project_id FROM partial2 ORDER BY 1;

-- a POST answered with a server error (5xx) may have granted some: the
-- projects are listed, only the missing ones sent again (max_retries), and
-- an API that keeps failing gets an error saying the lists found none
CREATE FOREIGN TABLE unknown_outcome (project_id text) SERVER mock
  OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:unknown:post-status-500');
-- the rollback warning may reach psql before or after the error: hidden here (sql/journal.sql tests it)
SET client_min_messages = error;
INSERT INTO unknown_outcome VALUES ('proj_1');
RESET client_min_messages;
SELECT count(*) AS posts FROM mock_requests('ft:gpt-4o-mini:acme:unknown:post-status-500') WHERE method = 'POST';
-- a 429 did nothing: it is retried
CREATE FOREIGN TABLE limited (project_id text) SERVER mock
  OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:limited:post-fail-1-429:retry-after-ms-10');
INSERT INTO limited VALUES ('proj_1');
SELECT method, status FROM mock_requests('ft:gpt-4o-mini:acme:limited:post-fail-1-429:retry-after-ms-10');

-- a reply that does not hold one permission per project sent, or has the
-- wrong types: the outcome is unknown, so a list tells that the grants were
-- made (sql/exactly_once.sql), and nothing is sent twice
CREATE FOREIGN TABLE mismatched (project_id text) SERVER mock
  OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:mismatch:post-dropone');
INSERT INTO mismatched VALUES ('proj_1'), ('proj_2');
SELECT project_id, count(*) FROM mismatched GROUP BY 1 ORDER BY 1;
CREATE FOREIGN TABLE wrongtyped (project_id text) SERVER mock
  OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:wrongtyped:post-wrongtypes');
INSERT INTO wrongtyped VALUES ('proj_1');
SELECT method, status FROM mock_requests('ft:gpt-4o-mini:acme:wrongtyped:post-wrongtypes');

-- ROLLBACK does not undo a grant
BEGIN;
INSERT INTO grants (project_id) VALUES ('proj_rolled_back');
ROLLBACK;
SELECT project_id FROM grants WHERE project_id = 'proj_rolled_back';

-- PREPARE TRANSACTION after a grant is refused
BEGIN;
INSERT INTO grants (project_id) VALUES ('proj_prepared');
-- the rollback warning may reach psql before or after the error: hidden here (sql/journal.sql tests it)
SET client_min_messages = error;
PREPARE TRANSACTION 'cp_grant';
RESET client_min_messages;
SELECT project_id FROM grants WHERE project_id = 'proj_prepared';
