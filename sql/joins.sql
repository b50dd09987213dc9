-- Batched joins: a local table joined on project_id (or on checkpoint,
-- for a table across checkpoints) sends the lists of a batch of outer
-- rows' distinct keys at once.  Each join type (inner, left, semi, anti)
-- over outer rows with duplicates, NULL keys and values that cannot be
-- ids, other join quals, several batches, rescans (a correlated subquery,
-- a nested loop over a LATERAL subquery), and EXPLAIN of each; every
-- answer compared with the same query with checkpoint_perms.batch_joins
-- off (a nested loop or a hash join), and the requests read from the mock.
SET client_min_messages = warning;
\getenv mock_url MOCK_URL
\getenv mock_key MOCK_KEY

CREATE FOREIGN TABLE j_one (id text, created_at bigint, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:joins:one:seed-300:proj-12:tie-4');
CREATE FOREIGN TABLE j_multi (checkpoint text, id text, created_at bigint, project_id text)
  SERVER mock;
CREATE TABLE j_outer (n int, pid text, since bigint);
INSERT INTO j_outer VALUES (1, 'proj_0001', 0), (2, 'proj_0002', 0), (3, 'proj_0002', 0),
  (4, NULL, 0), (5, 'proj_0099', 0), (6, 'proj_0003 ', 0), (7, '', 0), (8, E'proj\t1', 0),
  (9, repeat('p', 300), 0), (10, 'proj_0004', (SELECT max(created_at) FROM j_one) - 1000),
  (11, 'proj_0001', 0);
ANALYZE j_outer;
CREATE TABLE j_models (family text, c text);
INSERT INTO j_models VALUES ('a', 'ft:joins:ma:seed-30:proj-3'), ('b', 'ft:joins:mb:seed-250:proj-5'),
  ('a2', 'ft:joins:ma:seed-30:proj-3'), ('none', NULL), ('bad', ''), ('bad2', 'ft:x '),
  ('empty', 'ft:joins:mempty');
ANALYZE j_models;

-- The answer of a query (its rows sorted), batched and with the hook off
-- (and nested loops on, which a join on checkpoint then needs): whether
-- the first plan is a batched join, its rows, whether both answers are the
-- same, and the requests the batched one sent.
CREATE FUNCTION j_requests() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM regexp_split_to_table(pg_read_file((SELECT log_path FROM mock_config)), E'\n') l
  WHERE l <> '' $$;
CREATE FUNCTION join_check(q text)
RETURNS TABLE (batched bool, rows int, same bool, requests bigint)
LANGUAGE plpgsql AS $$
DECLARE
  a text[];
  b text[];
  plan text;
  before bigint;
  nestloop text := current_setting('enable_nestloop');
BEGIN
  batched := false;
  FOR plan IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
    batched := batched OR plan ~ 'CheckpointPermsJoin';
  END LOOP;
  before := j_requests();
  EXECUTE format('SELECT array_agg(x::text ORDER BY x::text) FROM (%s) x', q) INTO a;
  requests := j_requests() - before;
  PERFORM set_config('checkpoint_perms.batch_joins', 'off', true);
  PERFORM set_config('enable_nestloop', 'on', true);
  EXECUTE format('SELECT array_agg(x::text ORDER BY x::text) FROM (%s) x', q) INTO b;
  PERFORM set_config('checkpoint_perms.batch_joins', 'on', true);
  PERFORM set_config('enable_nestloop', nestloop, true);
  rows := coalesce(cardinality(a), 0);
  same := a IS NOT DISTINCT FROM b;
  RETURN NEXT;
END
$$;

-- 1. each join type on project_id: duplicates (proj_0001, proj_0002 twice),
-- a NULL key, a project with no permission, values no id can be
EXPLAIN (COSTS OFF) SELECT o.n, p.id FROM j_outer o JOIN j_one p ON p.project_id = o.pid;
SELECT * FROM join_check($$SELECT o.n, p.id FROM j_outer o JOIN j_one p ON p.project_id = o.pid$$);
SELECT o.n, count(p.id) FROM j_outer o JOIN j_one p ON p.project_id = o.pid GROUP BY 1 ORDER BY 1;
EXPLAIN (COSTS OFF) SELECT o.n, p.id FROM j_outer o LEFT JOIN j_one p ON p.project_id = o.pid;
SELECT * FROM join_check($$SELECT o.n, p.id FROM j_outer o LEFT JOIN j_one p ON p.project_id = o.pid$$);
SELECT o.n, count(p.id) FROM j_outer o LEFT JOIN j_one p ON p.project_id = o.pid GROUP BY 1 ORDER BY 1;
EXPLAIN (COSTS OFF) SELECT o.n FROM j_outer o WHERE EXISTS (SELECT FROM j_one p WHERE p.project_id = o.pid);
SELECT * FROM join_check($$SELECT o.n FROM j_outer o WHERE EXISTS (SELECT FROM j_one p WHERE p.project_id = o.pid)$$);
SELECT * FROM join_check($$SELECT o.n FROM j_outer o WHERE o.pid IN (SELECT project_id FROM j_one p)$$);
SELECT o.n FROM j_outer o WHERE EXISTS (SELECT FROM j_one p WHERE p.project_id = o.pid) ORDER BY 1;
EXPLAIN (COSTS OFF) SELECT o.n FROM j_outer o WHERE NOT EXISTS (SELECT FROM j_one p WHERE p.project_id = o.pid);
SELECT * FROM join_check($$SELECT o.n FROM j_outer o WHERE NOT EXISTS (SELECT FROM j_one p WHERE p.project_id = o.pid)$$);
SELECT o.n FROM j_outer o WHERE NOT EXISTS (SELECT FROM j_one p WHERE p.project_id = o.pid) ORDER BY 1;
-- our table on the outer side of a semi join: the other side made
-- distinct, then an inner join
EXPLAIN (COSTS OFF) SELECT p.id FROM j_one p WHERE p.project_id IN (SELECT pid FROM j_outer);
SELECT * FROM join_check($$SELECT p.id FROM j_one p WHERE p.project_id IN (SELECT pid FROM j_outer)$$);
-- a key that is an expression of the outer row
EXPLAIN (COSTS OFF) SELECT o.n, p.id FROM j_outer o JOIN j_one p ON p.project_id = lower(o.pid);
SELECT * FROM join_check($$SELECT o.n, p.id FROM j_outer o JOIN j_one p ON p.project_id = lower(o.pid)$$);
-- one list per distinct key that can be an id (proj_0001, proj_0002,
-- proj_0004, proj_0099), at once
CREATE FOREIGN TABLE j_req (id text, created_at bigint, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:joins:req:seed-300:proj-12');
SELECT count(*) FROM j_outer o JOIN j_req p ON p.project_id = o.pid;
SELECT method, query FROM mock_requests_sorted('ft:joins:req:seed-300:proj-12');

-- 2. other join quals, evaluated here: on both sides, on the outer side
-- alone (a left join still returns the outer row), a WHERE above a left
-- join (nested loops off: for one outer row left, a nested loop is cheaper)
SET enable_nestloop = off;
EXPLAIN (COSTS OFF) SELECT o.n, p.id FROM j_outer o JOIN j_one p
  ON p.project_id = o.pid AND p.created_at > o.since AND o.n % 2 = 0;
SELECT * FROM join_check($$SELECT o.n, p.id FROM j_outer o JOIN j_one p
  ON p.project_id = o.pid AND p.created_at > o.since AND o.n % 2 = 0$$);
SELECT * FROM join_check($$SELECT o.n, p.id FROM j_outer o LEFT JOIN j_one p
  ON p.project_id = o.pid AND p.created_at > o.since AND o.n % 2 = 0$$);
SELECT * FROM join_check($$SELECT o.n FROM j_outer o LEFT JOIN j_one p
  ON p.project_id = o.pid AND p.created_at > o.since WHERE p.id IS NULL$$);
SELECT * FROM join_check($$SELECT o.n FROM j_outer o WHERE NOT EXISTS
  (SELECT FROM j_one p WHERE p.project_id = o.pid AND p.created_at > o.since)$$);
SELECT * FROM join_check($$SELECT o.n, p.id FROM j_outer o JOIN j_one p
  ON p.project_id = o.pid WHERE p.created_at > o.since + 0 AND p.id LIKE '%1%'$$);
-- a created_at bound stops each list (newest first)
EXPLAIN (COSTS OFF) SELECT o.n, p.id FROM j_outer o JOIN j_one p
  ON p.project_id = o.pid WHERE p.created_at >= (1721764867 + 40)::bigint;
SELECT * FROM join_check($$SELECT o.n, p.id FROM j_outer o JOIN j_one p
  ON p.project_id = o.pid WHERE p.created_at >= (1721764867 + 40)::bigint$$);
RESET enable_nestloop;

-- 3. a table across checkpoints, joined on checkpoint with nested loops
-- off: duplicates, NULL, values no checkpoint can be, an empty list
SET enable_nestloop = off;
EXPLAIN (COSTS OFF) SELECT m.family, p.id FROM j_models m JOIN j_multi p ON p.checkpoint = m.c;
SELECT * FROM join_check($$SELECT m.family, p.id FROM j_models m JOIN j_multi p ON p.checkpoint = m.c$$);
SELECT m.family, count(p.id) FROM j_models m JOIN j_multi p ON p.checkpoint = m.c GROUP BY 1 ORDER BY 1;
SELECT * FROM join_check($$SELECT m.family, p.id FROM j_models m LEFT JOIN j_multi p ON p.checkpoint = m.c$$);
SELECT * FROM join_check($$SELECT m.family FROM j_models m WHERE EXISTS (SELECT FROM j_multi p WHERE p.checkpoint = m.c)$$);
SELECT * FROM join_check($$SELECT m.family FROM j_models m WHERE NOT EXISTS (SELECT FROM j_multi p WHERE p.checkpoint = m.c)$$);
EXPLAIN (COSTS OFF) SELECT p.id FROM j_multi p WHERE p.checkpoint IN (SELECT c FROM j_models);
SELECT * FROM join_check($$SELECT p.id FROM j_multi p WHERE p.checkpoint IN (SELECT c FROM j_models)$$);
-- a project_id filter goes with each checkpoint's list
EXPLAIN (COSTS OFF) SELECT m.family, p.id FROM j_models m JOIN j_multi p ON p.checkpoint = m.c
  WHERE p.project_id = 'proj_0002';
SELECT * FROM join_check($$SELECT m.family, p.id FROM j_models m JOIN j_multi p ON p.checkpoint = m.c
  WHERE p.project_id = 'proj_0002'$$);
RESET enable_nestloop;

-- 4. more outer rows than one batch: max_concurrency 3 makes batches of 24
-- keys; 30 projects twice each (in a row) are two batches, 30 lists (each
-- of one page), at most 3 in flight and several at once (the mock takes
-- 50 ms a request and answers 429 past 3 in flight)
CREATE SERVER mock3 FOREIGN DATA WRAPPER checkpoint_perms
  OPTIONS (base_url :'mock_url', max_concurrency '3');
CREATE USER MAPPING FOR CURRENT_USER SERVER mock3 OPTIONS (api_key :'mock_key');
CREATE FOREIGN TABLE j_forty (id text, created_at bigint, project_id text)
  SERVER mock3 OPTIONS (checkpoint 'ft:joins:forty:seed-200:proj-40:slow-50:inflight-3');
CREATE TABLE j_thirty AS SELECT g, 'proj_' || lpad((g % 30 + 1)::text, 4, '0') AS pid
  FROM generate_series(1, 60) g ORDER BY 2;
ANALYZE j_thirty;
SELECT explain_filter($$SELECT t.g, p.id FROM j_thirty t JOIN j_forty p ON p.project_id = t.pid$$,
                      'ANALYZE, BUFFERS OFF, COSTS OFF, TIMING OFF, SUMMARY OFF');
SELECT count(*) AS requests, count(DISTINCT project) AS projects,
       count(*) FILTER (WHERE status <> 200) AS not_200,
       conc_overlap('ft:joins:forty:seed-200:proj-40:slow-50:inflight-3', 0.05) AS most_in_flight
FROM conc_log('ft:joins:forty:seed-200:proj-40:slow-50:inflight-3');
SELECT * FROM join_check($$SELECT t.g, p.id FROM j_thirty t JOIN j_forty p ON p.project_id = t.pid$$);

-- batches whose permissions take more than work_mem make the next ones
-- smaller (down to one round: 3 keys): 40 checkpoints of 200 permissions
-- are 24 + 16 keys in 4 MB, 24 + 12 + 4 in 64 kB
CREATE FOREIGN TABLE j_multi3 (checkpoint text, id text, created_at bigint, project_id text)
  SERVER mock3;
CREATE TABLE j_forty_models AS SELECT 'ft:joins:big' || g || ':seed-200' AS c
  FROM generate_series(1, 40) g;
ANALYZE j_forty_models;
SELECT line FROM explain_filter($$SELECT count(*) FROM j_forty_models m JOIN j_multi3 p ON p.checkpoint = m.c$$,
                                'ANALYZE, BUFFERS OFF, COSTS OFF, TIMING OFF, SUMMARY OFF') AS line
  WHERE line ~ 'Batch|Keys|Requests';
SET work_mem = '64kB';
SELECT line FROM explain_filter($$SELECT count(*) FROM j_forty_models m JOIN j_multi3 p ON p.checkpoint = m.c$$,
                                'ANALYZE, BUFFERS OFF, COSTS OFF, TIMING OFF, SUMMARY OFF') AS line
  WHERE line ~ 'Batch|Keys|Requests';
SELECT * FROM join_check($$SELECT m.c, p.id FROM j_forty_models m JOIN j_multi3 p ON p.checkpoint = m.c$$);
RESET work_mem;

-- 5. rescans with new parameters: the batched join in a correlated
-- subquery, and under a nested loop (a LATERAL subquery)
EXPLAIN (COSTS OFF) SELECT k, (SELECT count(p.id) FROM j_outer o JOIN j_one p
  ON p.project_id = o.pid WHERE o.n <= k) FROM generate_series(1, 4) k;
SELECT k, (SELECT count(p.id) FROM j_outer o JOIN j_one p ON p.project_id = o.pid WHERE o.n <= k)
  FROM generate_series(1, 4) k;
SELECT * FROM join_check($$SELECT k, (SELECT count(p.id) FROM j_outer o JOIN j_one p
  ON p.project_id = o.pid WHERE o.n <= k) FROM generate_series(1, 11) k$$);
SET enable_nestloop = off;
SELECT explain_filter($$SELECT m.family, x.n FROM j_models m, LATERAL (SELECT count(*) AS n
  FROM j_models m2 JOIN j_multi p ON p.checkpoint = m2.c WHERE m2.family <= m.family) x$$);
SELECT * FROM join_check($$SELECT m.family, x.n FROM j_models m, LATERAL (SELECT count(*) AS n
  FROM j_models m2 JOIN j_multi p ON p.checkpoint = m2.c WHERE m2.family <= m.family) x$$);
RESET enable_nestloop;

-- 6. not batched: with the setting off, in a statement that writes, and
-- for a join the API cannot filter (project_id || '')
SET checkpoint_perms.batch_joins = off;
EXPLAIN (COSTS OFF) SELECT o.n, p.id FROM j_outer o JOIN j_one p ON p.project_id = o.pid;
RESET checkpoint_perms.batch_joins;
EXPLAIN (COSTS OFF) DELETE FROM j_one p USING j_outer o WHERE p.project_id = o.pid;
EXPLAIN (COSTS OFF) SELECT o.n, p.id FROM j_outer o JOIN j_one p ON p.project_id || '' = o.pid;
-- a table the planner proves empty (sqlsmith found the hook reading its
-- unsized relation)
SELECT count(*) FROM j_outer o LEFT JOIN (SELECT * FROM j_one WHERE NULL::time <> NULL::time) p
  ON p.project_id = o.pid;
-- a parameter: a prepared statement's generic plan
PREPARE j_q(int) AS SELECT o.n, p.id FROM j_outer o JOIN j_one p ON p.project_id = o.pid WHERE o.n < $1;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE j_q(3);
SELECT count(*) FROM (SELECT 1 FROM j_outer o JOIN j_one p ON p.project_id = o.pid WHERE o.n < 3) s;
CREATE TEMP TABLE j_exec AS EXECUTE j_q(3);
SELECT count(*) FROM j_exec;
RESET plan_cache_mode;

-- 7. in a REPEATABLE READ transaction a batched join reads the lists the
-- transaction kept (the second join sends nothing), and through a table in
-- mode 'at_commit' it sees the queue: a queued grant joins as a row with
-- no id, a queued revoke is gone; either plan answers the same
CREATE FOREIGN TABLE j_atc (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:joins:atc:seed-20:proj-4', apply_writes 'at_commit');
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT o.n, count(p.id) FROM j_outer o JOIN j_atc p ON p.project_id = o.pid GROUP BY 1 ORDER BY 1;
SELECT j_requests() AS before \gset
INSERT INTO j_atc (project_id) VALUES ('proj_0099');
DELETE FROM j_atc WHERE project_id = 'proj_0002';
EXPLAIN (COSTS OFF) SELECT o.n, p.id FROM j_outer o JOIN j_atc p ON p.project_id = o.pid;
SELECT o.n, count(*) AS rows, count(*) FILTER (WHERE p.id IS NULL) AS queued
  FROM j_outer o JOIN j_atc p ON p.project_id = o.pid GROUP BY 1 ORDER BY 1;
SELECT batched, rows, same FROM join_check($$SELECT o.n, p.id FROM j_outer o JOIN j_atc p ON p.project_id = o.pid$$);
SELECT batched, rows, same FROM join_check($$SELECT o.n FROM j_outer o WHERE NOT EXISTS (SELECT FROM j_atc p WHERE p.project_id = o.pid)$$);
SELECT j_requests() - :before AS requests;
ROLLBACK;
