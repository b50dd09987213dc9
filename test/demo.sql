-- The demo of checkpoint_perms against the bundled mock API (test/demo.sh).
\echo 'The mock takes its data from the checkpoint id: seed-6 starts a checkpoint with 6 permissions, proj-3 spreads them over proj_0001..proj_0003 (test/mock_openai.py lists every token); real ids look like ft:gpt-4o-mini-2024-07-18:acme:weather:B7R9VjQd.'
\set ECHO queries
CREATE EXTENSION checkpoint_perms;
CREATE SERVER openai FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url :'mock_url');
-- the key is the mock's; psql does not echo this line, so that no key is printed
\set ECHO none
CREATE USER MAPPING FOR CURRENT_USER SERVER openai OPTIONS (api_key :'mock_key');
\set ECHO queries
CREATE FOREIGN TABLE weather_perms (
    id text, created_at timestamptz, project_id text, object text
) SERVER openai OPTIONS (checkpoint 'ft:gpt-4o-mini-2024-07-18:acme:weather:seed-6:proj-3');
SET timezone = 'UTC';

-- Who may use the checkpoint?
SELECT * FROM weather_perms;
SELECT * FROM weather_perms WHERE project_id = 'proj_0002';

-- Grant two projects (one POST), see what the API made
INSERT INTO weather_perms (project_id) VALUES ('proj_alpha'), ('proj_beta')
  RETURNING id, created_at, project_id;

-- Revoke one project (one DELETE per permission)
DELETE FROM weather_perms WHERE project_id = 'proj_0001' RETURNING id, project_id;

-- Join with your own tables
CREATE TABLE teams (name text, openai_project text);
INSERT INTO teams VALUES ('forecasting', 'proj_0002'), ('alerts', 'proj_alpha'), ('legacy', 'proj_0001');
SELECT t.name, p.id AS permission, p.created_at
  FROM teams t LEFT JOIN weather_perms p ON p.project_id = t.openai_project
  ORDER BY t.name, p.created_at;

-- Many checkpoints in one table: which of your models may proj_0002 use?
CREATE FOREIGN TABLE checkpoint_permissions (
    checkpoint text, id text, created_at timestamptz, project_id text, object text
) SERVER openai;
CREATE TABLE my_models (family text, checkpoint text);
INSERT INTO my_models VALUES
  ('weather', 'ft:gpt-4o-mini-2024-07-18:acme:weather:seed-6:proj-3'),
  ('weather', 'ft:gpt-4o-mini-2024-07-18:acme:storms:seed-4:proj-2'),
  ('support', 'ft:gpt-4o-mini-2024-07-18:acme:support:seed-2:proj-1');
SELECT m.family, m.checkpoint, count(p.id) AS permissions
  FROM my_models m LEFT JOIN checkpoint_permissions p
    ON p.checkpoint = m.checkpoint AND p.project_id = 'proj_0002'
  GROUP BY 1, 2 ORDER BY 1, 2;

-- What the extension sends
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM weather_perms;

-- What this session sent, per method (checkpoint_perms_stats; without
-- shared_preload_libraries, this backend's own counts)
\set ECHO none
\echo
\echo 'In short: the demo listed, granted 2 projects, revoked the permissions of proj_0001, joined local tables with one checkpoint and with three, and explained a scan. The requests it took:'
SELECT method, requests, ok, retries, bytes_received FROM checkpoint_perms_stats ORDER BY method;
