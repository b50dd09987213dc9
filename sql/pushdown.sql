-- What the API does for a query: project_id filters, created_at order,
-- LIMIT, parameterized joins; EXPLAIN shows each request.
\getenv mock_url MOCK_URL
\getenv mock_key MOCK_KEY

-- 2,000 permissions over 500 projects (4 each)
CREATE FOREIGN TABLE pd (id text, created_at timestamptz, project_id text, object text)
  SERVER mock OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:pushdown:seed-2000:proj-500');
CREATE FUNCTION pd_requests() RETURNS bigint LANGUAGE sql
  AS $$ SELECT count(*) FROM mock_requests('ft:gpt-4o-mini:acme:pushdown:seed-2000:proj-500') $$;
-- how many requests a statement sends
CREATE FUNCTION requests_of(query text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE before bigint := pd_requests();
BEGIN
  EXECUTE query;
  RETURN pd_requests() - before;
END $$;

-- project_id = constant: one filtered request
EXPLAIN (COSTS OFF) SELECT * FROM pd WHERE project_id = 'proj_0042';
SELECT project_id, count(*) FROM pd WHERE project_id = 'proj_0042' GROUP BY 1;
SELECT requests_of($$SELECT * FROM pd WHERE project_id = 'proj_0042'$$);
SELECT query FROM mock_requests('ft:gpt-4o-mini:acme:pushdown:seed-2000:proj-500') OFFSET 1;
-- with another condition: that one is checked here
EXPLAIN (COSTS OFF) SELECT id FROM pd WHERE project_id = 'proj_0042' AND created_at > '2024-07-23 13:20:00-07';
SELECT count(*) FROM pd WHERE project_id = 'proj_0042' AND created_at > '2024-07-23 13:20:00-07';
-- written the other way round, or on a varchar column
EXPLAIN (COSTS OFF) SELECT id FROM pd WHERE 'proj_0042' = project_id;
CREATE FOREIGN TABLE pd_varchar (id text, project_id varchar(20))
  SERVER mock OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:pushdown:seed-2000:proj-500');
EXPLAIN (COSTS OFF) SELECT id FROM pd_varchar WHERE project_id = 'proj_0042';
-- char(n) compares with padding rules the API does not know: not sent
CREATE FOREIGN TABLE pd_char (id text, project_id char(12))
  SERVER mock OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:pushdown:seed-2000:proj-500');
EXPLAIN (COSTS OFF) SELECT id FROM pd_char WHERE project_id = 'proj_0042';
-- a parameter: $1 in a generic plan
PREPARE by_project(text) AS SELECT count(*) FROM pd WHERE project_id = $1;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE by_project('proj_0007');
EXECUTE by_project('proj_0007');
EXECUTE by_project(NULL);
RESET plan_cache_mode;
-- IN: one request per distinct value; NULL and duplicates send nothing more
EXPLAIN (COSTS OFF) SELECT id FROM pd WHERE project_id IN ('proj_0001', 'proj_0002', 'proj_0003');
SELECT project_id, count(*) FROM pd WHERE project_id IN ('proj_0003', 'proj_0001', NULL, 'proj_0001')
  GROUP BY 1 ORDER BY 1;
SELECT requests_of($$SELECT * FROM pd WHERE project_id IN ('proj_0003', 'proj_0001', NULL, 'proj_0001')$$);
-- so many values that one full list is cheaper: filtered here
SELECT explain_filter($$SELECT id FROM pd
  WHERE project_id = ANY (ARRAY(SELECT 'proj_' || lpad(g::text, 4, '0') FROM generate_series(1, 40) g)::text[])$$);
SELECT count(*) FROM pd
  WHERE project_id = ANY (ARRAY(SELECT 'proj_' || lpad(g::text, 4, '0') FROM generate_series(1, 40) g)::text[]);
-- an array parameter (generic plan): its size decides when the scan starts,
-- one list per value for a few, one full list for many, nothing for none
PREPARE by_projects(text[]) AS SELECT count(*) FROM pd WHERE project_id = ANY ($1);
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE by_projects('{}');
SELECT array_agg('proj_' || lpad(g::text, 4, '0'))::text AS forty FROM generate_series(1, 40) g \gset
SELECT requests_of($$EXECUTE by_projects('{}')$$) AS empty,
       requests_of($$EXECUTE by_projects(NULL)$$) AS null,
       requests_of($$EXECUTE by_projects('{proj_0002,proj_0001,proj_0002,NULL}')$$) AS two,
       requests_of(format('EXECUTE by_projects(%L)', :'forty')) AS forty;
EXECUTE by_projects('{proj_0002,proj_0001,proj_0002,NULL}');
EXECUTE by_projects(:'forty');
-- EXPLAIN names the parameter by its number
PREPARE second_param(int, text) AS SELECT count(*) FROM pd WHERE project_id = $2 AND $1 > 0;
EXPLAIN (COSTS OFF) EXECUTE second_param(1, 'proj_0007');
RESET plan_cache_mode;
-- OR, LIKE, inequality: filtered here, on the full list
EXPLAIN (COSTS OFF) SELECT id FROM pd WHERE project_id = 'proj_0001' OR project_id = 'proj_0002';
SELECT count(*) FROM pd WHERE project_id = 'proj_0001' OR project_id = 'proj_0002';
SELECT count(*) FROM pd WHERE project_id LIKE 'proj_000%';
-- a case-insensitive collation's equality is not the API's: not sent
CREATE COLLATION IF NOT EXISTS ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
EXPLAIN (COSTS OFF) SELECT id FROM pd WHERE project_id = 'PROJ_0042' COLLATE ci;
SELECT count(*) FROM pd WHERE project_id = 'PROJ_0042' COLLATE ci;

-- ORDER BY created_at: the API's order, no Sort
EXPLAIN (COSTS OFF) SELECT * FROM pd ORDER BY created_at DESC LIMIT 3;
SELECT project_id, created_at FROM pd ORDER BY created_at DESC LIMIT 3;
SELECT requests_of($$SELECT * FROM pd ORDER BY created_at DESC LIMIT 3$$);
EXPLAIN (COSTS OFF) SELECT * FROM pd WHERE project_id = 'proj_0009' ORDER BY created_at;
SELECT id, created_at FROM pd WHERE project_id = 'proj_0009' ORDER BY created_at;
SELECT project_id, created_at FROM pd ORDER BY created_at ASC LIMIT 2;
-- any other order is a local Sort
EXPLAIN (COSTS OFF) SELECT * FROM pd ORDER BY project_id LIMIT 3;
EXPLAIN (COSTS OFF) SELECT * FROM pd ORDER BY created_at, id LIMIT 3;
SELECT project_id FROM pd ORDER BY project_id LIMIT 3;

-- LIMIT: capped only when nothing here could drop rows
SELECT requests_of($$SELECT * FROM pd LIMIT 5$$);
SELECT requests_of($$SELECT * FROM pd LIMIT 150$$);
EXPLAIN (COSTS OFF) SELECT * FROM pd LIMIT 5;
-- OFFSET: fetch limit + offset
EXPLAIN (COSTS OFF) SELECT project_id FROM pd ORDER BY created_at DESC LIMIT 2 OFFSET 3;
SELECT project_id FROM pd ORDER BY created_at DESC LIMIT 2 OFFSET 3;
-- FETCH FIRST ... WITH TIES returns every row that ties with the last:
-- created_at ties in threes here (tie-3), so no cap on what is fetched
CREATE FOREIGN TABLE ties (id text, created_at bigint, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:pd:ties:seed-9:tie-3', page_size '2');
SELECT project_id, created_at FROM ties ORDER BY created_at FETCH FIRST 1 ROWS WITH TIES;
SELECT project_id, created_at FROM ties ORDER BY created_at DESC OFFSET 2 ROWS FETCH FIRST 2 ROWS WITH TIES;
-- LIMIT from a parameter: not capped, still right; LIMIT 0: no request
PREPARE limited(bigint) AS SELECT project_id FROM ties ORDER BY created_at LIMIT $1;
EXECUTE limited(4);
SELECT count(*) AS requests FROM mock_requests('ft:pd:ties:seed-9:tie-3');
SELECT project_id FROM ties LIMIT 0;
SELECT count(*) AS requests FROM mock_requests('ft:pd:ties:seed-9:tie-3');
-- a local filter: no cap, and still the right rows
EXPLAIN (COSTS OFF) SELECT project_id FROM pd WHERE object = 'checkpoint.permission' AND project_id > 'proj_0497' LIMIT 3;
SELECT project_id FROM pd WHERE project_id > 'proj_0497' ORDER BY created_at DESC LIMIT 3;
-- aggregates, DISTINCT: no cap
SELECT count(*) FROM (SELECT DISTINCT project_id FROM pd LIMIT 600) s;

-- joins with a local table
CREATE TABLE few_teams (name text, project text);
INSERT INTO few_teams VALUES ('a', 'proj_0010'), ('b', 'proj_0020'), ('c', 'proj_0999');
ANALYZE few_teams;
CREATE TABLE many_teams AS SELECT 'team' || g AS name, 'proj_' || lpad(g::text, 4, '0') AS project
  FROM generate_series(1, 1000) g;
ANALYZE many_teams;
-- 3 rows: a batched join sends one filtered request per row's value, at once
EXPLAIN (COSTS OFF) SELECT t.name, p.id FROM few_teams t JOIN pd p ON p.project_id = t.project;
SELECT t.name, count(p.id) FROM few_teams t JOIN pd p ON p.project_id = t.project GROUP BY 1 ORDER BY 1;
SELECT requests_of($$SELECT t.name, p.id FROM few_teams t JOIN pd p ON p.project_id = t.project$$);
-- a LEFT JOIN keeps the team without permissions
SELECT t.name, count(p.id) FROM few_teams t LEFT JOIN pd p ON p.project_id = t.project GROUP BY 1 ORDER BY 1;
-- 1,000 rows: one full list and a hash join
EXPLAIN (COSTS OFF) SELECT t.name, p.id FROM many_teams t JOIN pd p ON p.project_id = t.project;
SELECT count(*), count(DISTINCT t.name) FROM many_teams t JOIN pd p ON p.project_id = t.project;
SELECT requests_of($$SELECT t.name, p.id FROM many_teams t JOIN pd p ON p.project_id = t.project$$);
-- a repeated outer value rewinds the page it already has
CREATE TABLE repeated (project text);
INSERT INTO repeated VALUES ('proj_0005'), ('proj_0005'), ('proj_0005'), ('proj_0006');
ANALYZE repeated;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_material = off;
SELECT count(*) FROM (SELECT project FROM repeated ORDER BY project) r JOIN pd p ON p.project_id = r.project;
SELECT requests_of($$SELECT * FROM (SELECT project FROM repeated ORDER BY project) r JOIN pd p ON p.project_id = r.project$$);
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_material;

-- plain EXPLAIN sends nothing; EXPLAIN ANALYZE counts what was sent
SELECT requests_of($$EXPLAIN SELECT * FROM pd WHERE project_id = 'proj_0001'$$);
SELECT explain_filter($$SELECT * FROM pd WHERE project_id = 'proj_0001'$$,
                      'ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF');
SELECT explain_filter($$SELECT count(*) FROM pd$$, 'ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF');

-- ANALYZE lists everything once: the row count and project_id's statistics
SELECT reltuples FROM pg_class WHERE relname = 'pd';
SELECT requests_of('ANALYZE pd');
SELECT reltuples FROM pg_class WHERE relname = 'pd';
SELECT attname, n_distinct FROM pg_stats WHERE tablename = 'pd' AND attname = 'project_id';
-- with statistics, 1,000 outer rows still take one full list
SELECT requests_of($$SELECT t.name, p.id FROM many_teams t JOIN pd p ON p.project_id = t.project$$);
SELECT requests_of($$SELECT t.name, p.id FROM few_teams t JOIN pd p ON p.project_id = t.project$$);
