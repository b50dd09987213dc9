-- Messages that say what happened: each names what the user must check.
\getenv mock_url MOCK_URL
\getenv mock_key MOCK_KEY

-- a grant whose replies came back short (the API made 2 of 3, and said so),
-- and whose missing project stays missing: the error says what the first
-- reply said of the request's 3 projects, not that replies were lost
CREATE FOREIGN TABLE m_short (project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:messages:short:post-skiplast', batch_size '3');
-- the rollback warning may reach psql before or after the error: hidden here
SET client_min_messages = error;
INSERT INTO m_short VALUES ('proj_a'), ('proj_b'), ('proj_c');
RESET client_min_messages;
SELECT project_id FROM m_short ORDER BY 1;
SELECT method, status, body FROM mock_requests('ft:messages:short:post-skiplast');

-- a revoke the API answers with "deleted": false: it was not revoked, and
-- the error names it (direct modify, then row by row); it did nothing, so
-- the journal leaves it out (one request at a time: the request ids are known)
CREATE SERVER m_one FOREIGN DATA WRAPPER checkpoint_perms
  OPTIONS (base_url :'mock_url', max_concurrency '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER m_one OPTIONS (api_key :'mock_key');
CREATE FOREIGN TABLE m_kept (id text, project_id text)
  SERVER m_one OPTIONS (checkpoint 'ft:messages:kept:seed-2:proj-1:notdeleted');
CREATE TABLE m_projects (project text);
INSERT INTO m_projects VALUES ('proj_0001');
BEGIN;
DELETE FROM m_kept;
ROLLBACK;
BEGIN;
DELETE FROM m_kept k USING m_projects p WHERE k.project_id = p.project;
ROLLBACK;
SELECT count(*) AS kept FROM m_kept;
SELECT count(*) AS journaled FROM checkpoint_perms_journal()
  WHERE checkpoint = 'ft:messages:kept:seed-2:proj-1:notdeleted';

-- a list filtered by project_id that returns another project's row breaks
-- the contract: the same error in a SELECT (one filtered list, or one per
-- value), a DELETE's list and a grant's list (mock token nofilter)
CREATE FOREIGN TABLE m_nofilter (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:messages:nofilter:seed-4:proj-2:get-nofilter');
SELECT project_id FROM m_nofilter WHERE project_id = 'proj_0001';
SELECT project_id FROM m_nofilter WHERE project_id IN ('proj_0001', 'proj_0002');
DELETE FROM m_nofilter WHERE project_id = 'proj_0002';
INSERT INTO m_nofilter (project_id) VALUES ('proj_new') ON CONFLICT DO NOTHING;
-- unfiltered, every row is the checkpoint's
SELECT count(*) FROM m_nofilter;

-- a revoke past timeout_ms names the permission that may have been revoked
-- (direct modify, then row by row)
CREATE SERVER m_quick FOREIGN DATA WRAPPER checkpoint_perms
  OPTIONS (base_url :'mock_url', timeout_ms '300', max_retries '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER m_quick OPTIONS (api_key :'mock_key');
CREATE FOREIGN TABLE m_slow (id text, project_id text)
  SERVER m_quick OPTIONS (checkpoint 'ft:messages:slow:seed-2:proj-2:delete-stall');
-- the rollback warning may reach psql before or after the error: hidden here
SET client_min_messages = error;
DELETE FROM m_slow WHERE project_id = 'proj_0001';
SELECT action, project_id, permission_id IS NOT NULL AS has_id, outcome
  FROM checkpoint_perms_journal() WHERE transaction = 'previous';
DELETE FROM m_slow s USING m_projects p WHERE s.project_id = 'proj_0002';
SELECT action, project_id, permission_id IS NOT NULL AS has_id, outcome
  FROM checkpoint_perms_journal() WHERE transaction = 'previous';
RESET client_min_messages;

-- the rollback warning names each revoke's permission, with its project
-- when the table has that column
CREATE FOREIGN TABLE m_warn (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:messages:warn:seed-2:proj-1');
CREATE FOREIGN TABLE m_noproject (id text)
  SERVER mock OPTIONS (checkpoint 'ft:messages:noproject:seed-1');
BEGIN;
INSERT INTO m_warn (project_id) VALUES ('proj_x');
DELETE FROM m_warn WHERE project_id = 'proj_0001';
DELETE FROM m_noproject;
ROLLBACK;

-- grants of two checkpoints in one statement: when the one whose reply is
-- lost cannot be learned (its list fails), the error also says the other
-- checkpoint's grant was applied
-- (the rollback warning comes before or after the error: hidden here)
CREATE FOREIGN TABLE m_across (checkpoint text, id text, project_id text) SERVER m_one;
SET client_min_messages = error;
INSERT INTO m_across (checkpoint, project_id) VALUES
  ('ft:msg:across-ok', 'proj_1'),
  ('ft:msg:across-lost:post-applied-hangup:get-status-500', 'proj_2');
RESET client_min_messages;
SELECT count(*) FROM m_across WHERE checkpoint = 'ft:msg:across-ok';
