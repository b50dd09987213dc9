-- One answer under every plan (issue 17): a value in a condition that
-- cannot be an id matches nothing, whether the condition reaches the API
-- or is checked here, as a nested loop or a hash join; a LIMIT sent to the
-- API counts the rows the scan returns; EXPLAIN shows the request sent.
CREATE FOREIGN TABLE oa (id text, created_at timestamptz, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:one:a:seed-72:proj-2');
CREATE FUNCTION oa_requests() RETURNS bigint LANGUAGE sql
  AS $$ SELECT count(*) FROM mock_requests('ft:one:a:seed-72:proj-2') $$;
-- every request the mock received, whatever its checkpoint
CREATE FUNCTION all_requests() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM regexp_split_to_table(pg_read_file((SELECT log_path FROM mock_config)), E'\n') l
  WHERE l <> '' $$;
CREATE TABLE oa_teams (name text, proj text);
INSERT INTO oa_teams VALUES ('one', 'proj_0001'), ('two', 'proj_0002 ');
ANALYZE oa_teams;

-- 1. a padded value: the same 36 rows as a nested loop (one request per
-- outer row that can be an id), as a hash join (one full list) and as a
-- batched join (one request per distinct key that can be an id)
SET checkpoint_perms.batch_joins = off;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
EXPLAIN (COSTS OFF) SELECT t.name, p.id FROM oa_teams t JOIN oa p ON p.project_id = t.proj;
SELECT oa_requests() AS before \gset
SELECT t.name, count(*) FROM oa_teams t JOIN oa p ON p.project_id = t.proj GROUP BY 1;
SELECT oa_requests() - :before AS requests;
RESET enable_hashjoin;
RESET enable_mergejoin;
SET enable_nestloop = off;
SELECT t.name, count(*) FROM oa_teams t JOIN oa p ON p.project_id = t.proj GROUP BY 1;
RESET enable_nestloop;
RESET checkpoint_perms.batch_joins;
EXPLAIN (COSTS OFF) SELECT t.name, p.id FROM oa_teams t JOIN oa p ON p.project_id = t.proj;
SELECT oa_requests() AS before \gset
SELECT t.name, count(*) FROM oa_teams t JOIN oa p ON p.project_id = t.proj GROUP BY 1;
SELECT oa_requests() - :before AS requests;

-- pushed and defeated: both 0 rows; the pushed one sends nothing
SELECT oa_requests() AS before \gset
SELECT count(*) FROM oa WHERE project_id = 'proj_0002 ';
SELECT count(*) FROM oa WHERE project_id = ' proj_0002';
SELECT count(*) FROM oa WHERE project_id = E'proj_0002\t';
SELECT count(*) FROM oa WHERE project_id = repeat('p', 300);
SELECT count(*) FROM oa WHERE project_id = '';
SELECT oa_requests() - :before AS requests;
SELECT count(*) FROM oa WHERE project_id || '' = 'proj_0002 ';
EXPLAIN (COSTS OFF) SELECT * FROM oa WHERE project_id = 'proj_0002 ';
EXPLAIN (COSTS OFF) SELECT * FROM oa WHERE project_id IN ('', 'proj_0002 ');

-- IN lists, short (one list per value) and long (one full list filtered
-- here): the same 36 rows
SELECT count(*) FROM oa WHERE project_id IN ('proj_0001', 'proj_0002 ');
SELECT count(*) FROM oa
  WHERE project_id = ANY (array['proj_0001', 'proj_0002 '] ||
                          array(SELECT format('proj_x%s', g) FROM generate_series(1, 26) g));
SELECT count(*) FROM oa WHERE project_id || '' IN ('proj_0001', 'proj_0002 ');

-- generic and custom plans of a parameter
PREPARE by_project(text) AS SELECT count(*) FROM oa WHERE project_id = $1;
SET plan_cache_mode = force_generic_plan;
EXECUTE by_project('proj_0002 ');
EXECUTE by_project('proj_0002');
SET plan_cache_mode = force_custom_plan;
EXECUTE by_project('proj_0002 ');
RESET plan_cache_mode;
DEALLOCATE by_project;

-- a DELETE joined to a table holding a padded value revokes what matches
-- and does not stop half way
CREATE FOREIGN TABLE oa_del (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:one:del:seed-30:proj-3');
CREATE TABLE oa_offboard (proj text);
INSERT INTO oa_offboard VALUES ('proj_0001'), ('proj_0002 '), (E'proj_0003\n');
ANALYZE oa_offboard;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
DELETE FROM oa_del USING oa_offboard o WHERE oa_del.project_id = o.proj;
RESET enable_hashjoin;
RESET enable_mergejoin;
SELECT project_id, count(*) FROM oa_del GROUP BY 1 ORDER BY 1;

-- 2. an empty checkpoint names none: nothing is sent (DELETE too)
CREATE FOREIGN TABLE oa_all (checkpoint text, id text, project_id text) SERVER mock;
SELECT all_requests() AS before \gset
SELECT count(*) FROM oa_all WHERE checkpoint = '';
SELECT count(*) FROM oa_all WHERE checkpoint IN ('', ' ft:one:a:seed-72:proj-2');
DELETE FROM oa_all WHERE checkpoint = '';
EXPLAIN (COSTS OFF) SELECT * FROM oa_all WHERE checkpoint = '';
SELECT all_requests() - :before AS requests;
SELECT count(*) FROM oa_all WHERE checkpoint = 'ft:one:a:seed-72:proj-2 ';

-- 3. a LIMIT sent to the API counts the rows the scan returns, not those
-- it passes over (this statement's own grants)
CREATE FOREIGN TABLE oa_lim (id text, created_at timestamptz, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:one:lim:seed-5');
-- (g is read first, so its grant is made before the scan starts)
WITH g AS (INSERT INTO oa_lim (project_id) VALUES ('proj_new1') RETURNING id)
SELECT (SELECT count(*) FROM g) AS granted,
       (SELECT count(*) FROM (SELECT id FROM oa_lim LIMIT 3) s) AS three;
WITH g AS (INSERT INTO oa_lim (project_id) VALUES ('proj_new2') RETURNING id)
SELECT (SELECT count(*) FROM g) AS granted,
       (SELECT project_id FROM oa_lim ORDER BY created_at DESC LIMIT 1) AS newest_before;
SELECT method, query FROM mock_requests('ft:one:lim:seed-5');
-- its own grants are asked for on top of the budget: 12 grants, then a
-- LIMIT 1 over them takes one page, not one request per grant
CREATE FOREIGN TABLE oa_lim2 (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:one:lim2:seed-3');
WITH g AS (INSERT INTO oa_lim2 (project_id)
           SELECT format('proj_g%s', i) FROM generate_series(1, 12) i RETURNING id)
SELECT (SELECT count(*) FROM g) AS granted,
       (SELECT project_id FROM (SELECT project_id FROM oa_lim2 LIMIT 1) s) AS first_before;
SELECT method, query FROM mock_requests('ft:one:lim2:seed-3') WHERE method = 'GET';
SELECT count(*) FROM oa_lim;

-- 4. EXPLAIN shows the request the scan sends: with a created_at bound
-- and a LIMIT, the limit of the first page is the same in both
SET timezone = 'UTC';
EXPLAIN (COSTS OFF) SELECT * FROM oa
  WHERE created_at >= to_timestamp(1721764867 + 10) ORDER BY created_at DESC LIMIT 3;
SELECT oa_requests() AS before \gset
SELECT id FROM oa WHERE created_at >= to_timestamp(1721764867 + 10) ORDER BY created_at DESC LIMIT 3;
SELECT path, query FROM mock_requests('ft:one:a:seed-72:proj-2') OFFSET :before;
-- lists after the first under a LIMIT ask for what the budget still needs
EXPLAIN (COSTS OFF) SELECT * FROM oa WHERE project_id IN ('proj_0001', 'proj_0002') LIMIT 3;
SELECT oa_requests() AS before \gset
SELECT count(*) FROM (SELECT * FROM oa WHERE project_id IN ('proj_0001', 'proj_0002') LIMIT 3) s;
SELECT path, query FROM mock_requests('ft:one:a:seed-72:proj-2') OFFSET :before;
-- with both bounds, newest first passes over the rows above the upper
-- one: whole pages, in EXPLAIN as in the requests
EXPLAIN (COSTS OFF) SELECT * FROM oa
  WHERE created_at BETWEEN to_timestamp(1721764867 + 10) AND to_timestamp(1721764867 + 60)
  ORDER BY created_at DESC LIMIT 3;
SELECT oa_requests() AS before \gset
SELECT id FROM oa
  WHERE created_at BETWEEN to_timestamp(1721764867 + 10) AND to_timestamp(1721764867 + 60)
  ORDER BY created_at DESC LIMIT 3;
SELECT path, query FROM mock_requests('ft:one:a:seed-72:proj-2') OFFSET :before;

-- a table across checkpoints: a read that names no checkpoint fails when
-- its scan runs, so a plan that never runs it answers as the others do; a
-- join on checkpoint planned with nested loops off says what to change; a
-- statement that writes is refused before it sends anything
CREATE TABLE oa_models (c text);
INSERT INTO oa_models VALUES ('ft:one:a:seed-72:proj-2'), ('');
ANALYZE oa_models;
SELECT count(*) FROM oa_models m JOIN oa_all p ON p.checkpoint = m.c;
SELECT count(*) FROM oa_models m JOIN oa_all p ON p.checkpoint = m.c AND p.project_id = NULL;
SELECT count(*) FROM oa_models m WHERE NOT EXISTS
  (SELECT FROM oa_all p WHERE p.checkpoint = m.c AND p.project_id IN (NULL));
-- without nested loops, a batched join names the checkpoints; without
-- both, the scan cannot run (the hint says what to turn on)
SET enable_nestloop = off;
SELECT count(*) FROM oa_models m JOIN oa_all p ON p.checkpoint = m.c;
SELECT count(*) FROM oa_models m JOIN oa_all p ON p.checkpoint = m.c AND p.project_id = NULL;
SET checkpoint_perms.batch_joins = off;
SELECT count(*) FROM oa_models m JOIN oa_all p ON p.checkpoint = m.c;
RESET checkpoint_perms.batch_joins;
RESET enable_nestloop;
EXPLAIN (COSTS OFF) SELECT count(*) FROM oa_all;
DELETE FROM oa_all p USING oa_models m WHERE p.checkpoint = m.c AND p.project_id = NULL;
