-- A table across checkpoints: no option "checkpoint", a checkpoint column.
-- Every query names the checkpoints it reads; lists, grants and revokes
-- carry each row's checkpoint.

CREATE FOREIGN TABLE everywhere (
    checkpoint text, id text, created_at timestamptz, project_id text, object text
) SERVER mock;
CREATE TABLE my_models (family text, checkpoint text);
INSERT INTO my_models SELECT 'weather', format('ft:many:w%s:seed-30:proj-3', g) FROM generate_series(1, 3) g;
INSERT INTO my_models VALUES ('other', 'ft:many:other:seed-5');
ANALYZE my_models;

-- a query that names no checkpoint cannot run
SELECT count(*) FROM everywhere;
SELECT count(*) FROM everywhere WHERE project_id = 'proj_0001';
-- = , IN, = ANY: one list per checkpoint (and per project), concurrently
SELECT checkpoint, count(*) FROM everywhere
  WHERE checkpoint IN ('ft:many:w1:seed-30:proj-3', 'ft:many:w2:seed-30:proj-3') GROUP BY 1 ORDER BY 1;
EXPLAIN (COSTS OFF) SELECT * FROM everywhere
  WHERE checkpoint IN ('ft:many:w1:seed-30:proj-3', 'ft:many:w2:seed-30:proj-3')
    AND project_id IN ('proj_0001', 'proj_0002');
SELECT checkpoint, project_id, count(*) FROM everywhere
  WHERE checkpoint = ANY (ARRAY(SELECT checkpoint FROM my_models WHERE family = 'weather'))
    AND project_id = 'proj_0002'
  GROUP BY 1, 2 ORDER BY 1, 2;
-- a parameter: EXPLAIN names it
PREPARE by_checkpoints(text[]) AS SELECT count(*) FROM everywhere WHERE checkpoint = ANY ($1);
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE by_checkpoints('{}');
EXECUTE by_checkpoints('{ft:many:w1:seed-30:proj-3,ft:many:other:seed-5}');
EXECUTE by_checkpoints('{}');
RESET plan_cache_mode;
-- a join on checkpoint: one list per distinct checkpoint, at once (a batched join)
EXPLAIN (COSTS OFF) SELECT m.family, count(*) FROM my_models m
  JOIN everywhere p ON p.checkpoint = m.checkpoint GROUP BY 1;
SELECT m.family, count(*) FROM my_models m JOIN everywhere p ON p.checkpoint = m.checkpoint
  GROUP BY 1 ORDER BY 1;
-- and on both checkpoint and project
CREATE TABLE wanted (checkpoint text, project text);
INSERT INTO wanted VALUES ('ft:many:w1:seed-30:proj-3', 'proj_0001'), ('ft:many:w3:seed-30:proj-3', 'proj_0003');
ANALYZE wanted;
EXPLAIN (COSTS OFF) SELECT w.project, p.checkpoint, count(*) FROM wanted w
  JOIN everywhere p ON p.checkpoint = w.checkpoint AND p.project_id = w.project GROUP BY 1, 2;
SELECT w.project, p.checkpoint, count(*) FROM wanted w
  JOIN everywhere p ON p.checkpoint = w.checkpoint AND p.project_id = w.project GROUP BY 1, 2 ORDER BY 1;
-- a join that cannot run as a nested loop over the table (it on the outer
-- side of a LEFT JOIN, a FULL JOIN) is refused with the same words
SELECT count(*) FROM everywhere p LEFT JOIN my_models m ON p.checkpoint = m.checkpoint;
SELECT count(*) FROM everywhere p FULL JOIN my_models m ON p.checkpoint = m.checkpoint;
-- a checkpoint the API does not know: its 404 names it
SELECT count(*) FROM everywhere WHERE checkpoint IN ('ft:many:w1:seed-30:proj-3', 'ft:many:missing');
-- ANALYZE cannot sample a table across checkpoints
ANALYZE everywhere;

-- grants carry each row's checkpoint: one request per checkpoint
EXPLAIN (COSTS OFF) INSERT INTO everywhere (checkpoint, project_id)
  SELECT checkpoint, 'proj_new' FROM my_models WHERE family = 'weather';
\set QUIET off
INSERT INTO everywhere (checkpoint, project_id)
  SELECT checkpoint, 'proj_new' FROM my_models WHERE family = 'weather';
INSERT INTO everywhere (checkpoint, project_id)
  VALUES ('ft:many:w1:seed-30:proj-3', 'proj_x'), ('ft:many:w2:seed-30:proj-3', 'proj_x')
  RETURNING checkpoint, project_id, id IS NOT NULL AS granted;
\set QUIET on
SELECT checkpoint, body FROM (
  SELECT 'w' || g AS checkpoint, r.body FROM generate_series(1, 3) g,
    mock_requests(format('ft:many:w%s:seed-30:proj-3', g)) r WHERE r.method = 'POST') s
  ORDER BY 1, 2::text;
-- a row must name its checkpoint; the same project twice on one checkpoint
-- is refused, on two is two grants
INSERT INTO everywhere (project_id) VALUES ('proj_y');
INSERT INTO everywhere (checkpoint, project_id)
  VALUES ('ft:many:w1:seed-30:proj-3', 'proj_y'), ('ft:many:w1:seed-30:proj-3', 'proj_y');
-- ON CONFLICT DO NOTHING checks each checkpoint
\set QUIET off
INSERT INTO everywhere (checkpoint, project_id)
  VALUES ('ft:many:w1:seed-30:proj-3', 'proj_new'), ('ft:many:w2:seed-30:proj-3', 'proj_z')
  ON CONFLICT DO NOTHING;
\set QUIET on

-- revokes carry (checkpoint, id): offboard a project everywhere
SELECT explain_filter($$DELETE FROM everywhere
  WHERE checkpoint = ANY (ARRAY(SELECT checkpoint FROM my_models)) AND project_id = 'proj_new'$$);
\set QUIET off
DELETE FROM everywhere
  WHERE checkpoint = ANY (ARRAY(SELECT checkpoint FROM my_models)) AND project_id = 'proj_new'
  RETURNING checkpoint, project_id;
-- row by row through a join
DELETE FROM everywhere p USING my_models m
  WHERE p.checkpoint = m.checkpoint AND m.family = 'weather' AND p.project_id = 'proj_x';
\set QUIET on
SELECT checkpoint, project_id, count(*) FROM everywhere
  WHERE checkpoint = ANY (ARRAY(SELECT checkpoint FROM my_models))
    AND project_id IN ('proj_new', 'proj_x', 'proj_z')
  GROUP BY 1, 2 ORDER BY 1, 2;

-- a table of one checkpoint may have a checkpoint column: it shows the
-- option's value, and a condition on it is checked without a request
CREATE FOREIGN TABLE just_w1 (checkpoint text, id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:many:w1:seed-30:proj-3');
SELECT checkpoint, count(*) FROM just_w1 GROUP BY 1;
EXPLAIN (COSTS OFF) SELECT count(*) FROM just_w1 WHERE checkpoint = 'ft:many:w2:seed-30:proj-3';
SELECT count(*) FROM just_w1 WHERE checkpoint = 'ft:many:w2:seed-30:proj-3';
INSERT INTO just_w1 (checkpoint, project_id) VALUES ('ft:many:w2:seed-30:proj-3', 'proj_q');
\set QUIET off
INSERT INTO just_w1 (checkpoint, project_id) VALUES ('ft:many:w1:seed-30:proj-3', 'proj_q')
  RETURNING checkpoint, project_id;
DELETE FROM just_w1 WHERE project_id = 'proj_q' RETURNING checkpoint;
\set QUIET on

-- the grants of several checkpoints go out at once: 4 checkpoints, each
-- POST 100 ms; one of them applies its grant and loses the reply, which
-- is then learned from a list, and nothing is granted twice
CREATE TABLE slow_models AS
  SELECT format('ft:many:slow%s:post-slow-100', g) AS checkpoint FROM generate_series(1, 3) g
  UNION ALL SELECT 'ft:many:lost:post-fail-1-applied-hangup';
\set QUIET off
INSERT INTO everywhere (checkpoint, project_id) SELECT checkpoint, 'proj_new' FROM slow_models;
\set QUIET on
SELECT max(n) AS most_in_flight FROM (
  SELECT (SELECT count(*) FROM slow_models s2, conc_log(s2.checkpoint) b
          WHERE b.method = 'POST' AND b.ts <= a.ts AND a.ts < b.ts + 0.1) AS n
  FROM slow_models s1, conc_log(s1.checkpoint) a WHERE a.method = 'POST') s;
SELECT checkpoint, project_id, count(*) FROM everywhere
  WHERE checkpoint IN (SELECT checkpoint FROM slow_models) GROUP BY 1, 2 ORDER BY 1;
SELECT method, status, query FROM mock_requests_sorted('ft:many:lost:post-fail-1-applied-hangup');

-- lists of several pages read their later pages together too: 3
-- checkpoints of 3 pages (100 ms a request) take 3 rounds, not 1 + 6
CREATE TABLE paged AS
  SELECT format('ft:many:paged%s:seed-250:slow-100', g) AS checkpoint FROM generate_series(1, 3) g;
SELECT count(*) FROM everywhere WHERE checkpoint = ANY (ARRAY(SELECT checkpoint FROM paged));
SELECT count(*) AS requests, 1 + count(*) FILTER (WHERE ts > prev + 0.09) AS rounds FROM (
  SELECT l.ts, lag(l.ts) OVER (ORDER BY l.ts) AS prev
  FROM paged p, conc_log(p.checkpoint) l) s;

-- two scans of the table named by one source of checkpoints join fine; a
-- join of the table with itself names none
SELECT count(*) FROM my_models m
  JOIN everywhere a ON a.checkpoint = m.checkpoint
  JOIN everywhere b ON b.checkpoint = m.checkpoint AND b.id = a.id;
SELECT count(*) FROM everywhere a JOIN everywhere b ON a.checkpoint = b.checkpoint;
-- a 404 names the checkpoint it is about, among several lists at once
SELECT count(*) FROM everywhere WHERE checkpoint IN ('ft:many:w1:seed-30:proj-3', 'ft:many:zz:missing');
-- a batch that fails while another's reply was lost says so
SET client_min_messages = error;
INSERT INTO everywhere (checkpoint, project_id)
  VALUES ('ft:many:g1:post-fail-1-applied-hangup', 'proj_a'), ('ft:many:g2:post-status-400', 'proj_a');
RESET client_min_messages;
