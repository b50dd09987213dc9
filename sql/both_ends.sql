-- A list that needs no order and takes several pages is read from both
-- ends at once (newest first and oldest first) until they meet: exact
-- rows over created_at ties at the meeting point, an empty and a one-page
-- list, lists of 2 and 3 pages, count(*), a hash join, a DELETE of a whole
-- list, EXPLAIN of each, and the two ends' requests in flight together.
SET client_min_messages = warning;

-- Compare a scan of the table (both ends) with a copy read by one cursor
-- (ORDER BY created_at: one list, oldest first): rows, distinct ids, ids
-- missing from the scan and ids it has that the copy has not.
CREATE FUNCTION both_check(tbl regclass)
RETURNS TABLE (rows bigint, ids bigint, missing bigint, extra bigint)
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE TEMP TABLE both_copy AS SELECT id FROM %s ORDER BY created_at', tbl);
  RETURN QUERY EXECUTE format(
    'WITH scan AS (SELECT id FROM %s)
     SELECT (SELECT count(*) FROM scan), (SELECT count(DISTINCT id) FROM scan),
            (SELECT count(*) FROM (SELECT id FROM both_copy EXCEPT SELECT id FROM scan) m),
            (SELECT count(*) FROM (SELECT id FROM scan EXCEPT SELECT id FROM both_copy) e)', tbl);
  DROP TABLE both_copy;
END
$$;

-- The list requests of a checkpoint: in each order, how many.
CREATE FUNCTION both_requests(ckpt text)
RETURNS TABLE (list_order text, requests bigint)
LANGUAGE sql AS $$
  SELECT coalesce(query->>'order', 'none'), count(*) FROM mock_requests(ckpt)
  WHERE method = 'GET' GROUP BY 1 ORDER BY 1
$$;

CREATE FOREIGN TABLE both_t7 (id text, created_at bigint, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:both:t7:seed-250:tie-7');
CREATE FOREIGN TABLE both_t100 (id text, created_at bigint, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:both:t100:seed-250:tie-100');
CREATE FOREIGN TABLE both_t1000 (id text, created_at bigint, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:both:t1000:seed-300:tie-1000');
CREATE FOREIGN TABLE both_t3 (id text, created_at bigint, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:both:t3:seed-301:tie-3');
CREATE FOREIGN TABLE both_two (id text, created_at bigint, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:both:two:seed-200');
CREATE FOREIGN TABLE both_empty (id text, created_at bigint, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:both:empty');
CREATE FOREIGN TABLE both_one (id text, created_at bigint, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:both:one:seed-50');

-- Without statistics the planner expects 1,000 rows (10 pages): both ends
EXPLAIN (COSTS OFF) SELECT * FROM both_t7;
EXPLAIN (COSTS OFF) SELECT count(*) FROM both_t7;
-- an order, a LIMIT sent, or a created_at bound keep one cursor
EXPLAIN (COSTS OFF) SELECT * FROM both_t7 ORDER BY created_at DESC;
EXPLAIN (COSTS OFF) SELECT * FROM both_t7 LIMIT 5;
EXPLAIN (COSTS OFF) SELECT * FROM both_t7 WHERE created_at >= 1721764867::bigint;

-- Exact rows: ties of 7 (groups split across pages), of 100 (a group
-- spans pages of both ends), the whole list at one second, ties of 3 over
-- 3 pages and 1 row, 2 pages without ties, an empty list
SELECT * FROM both_check('both_t7');
SELECT * FROM both_check('both_t100');
SELECT * FROM both_check('both_t1000');
SELECT * FROM both_check('both_t3');
SELECT * FROM both_check('both_two');
SELECT * FROM both_check('both_empty');
SELECT * FROM both_check('both_one');

-- Requests, each on a checkpoint of its own (the mock's log counts them)
CREATE FOREIGN TABLE both_c7 (id text, created_at bigint, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:both:c7:seed-250:tie-7');
CREATE FOREIGN TABLE both_c2 (id text, created_at bigint, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:both:c2:seed-200');
CREATE FOREIGN TABLE both_c1000 (id text, created_at bigint, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:both:c1000:seed-300:tie-1000');
CREATE FOREIGN TABLE both_c0 (id text, created_at bigint, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:both:c0');
CREATE FOREIGN TABLE both_c50 (id text, created_at bigint, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:both:c50:seed-50');
-- count(*) of 250 in pages of 100: the newest page alone, then the next
-- newest with the oldest, where the ends meet: 3 requests in 2 rounds
-- (one cursor: 3 rounds)
SELECT count(*), count(DISTINCT id) FROM both_c7;
SELECT * FROM both_requests('ft:both:c7:seed-250:tie-7');
-- 200 rows without ties: the second round ends the list, and the
-- oldest end's first page was one request for nothing (one cursor: 2)
SELECT count(*) FROM both_c2;
SELECT * FROM both_requests('ft:both:c2:seed-200');
-- the whole list at one second: only ids tell the ends apart, so both
-- read on until the newest end reaches the end of the list (one
-- cursor's rounds, at most twice its requests)
SELECT count(*) FROM both_c1000;
SELECT * FROM both_requests('ft:both:c1000:seed-300:tie-1000');
-- an empty list: the first round, nothing else
SELECT count(*) FROM both_c0;
SELECT * FROM both_requests('ft:both:c0');

-- After ANALYZE the planner knows a list of 50 takes one page: one cursor
ANALYZE both_c50;
EXPLAIN (COSTS OFF) SELECT count(*) FROM both_c50;
SELECT count(*) FROM both_c50;
SELECT * FROM both_requests('ft:both:c50:seed-50');
-- and that 250 take three: both ends
ANALYZE both_t7;
EXPLAIN (COSTS OFF) SELECT count(*) FROM both_t7;

-- A project's list of two pages or more (its estimate, after ANALYZE
-- counted 2 projects): both ends too, with ?project_id=
CREATE FOREIGN TABLE both_proj (id text, created_at bigint, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:both:proj:seed-500:proj-2:tie-4');
ANALYZE both_proj;
EXPLAIN (COSTS OFF) SELECT count(*) FROM both_proj WHERE project_id = 'proj_0001';
SELECT count(*), count(DISTINCT id) FROM both_proj WHERE project_id = 'proj_0001';
SELECT coalesce(query->>'order', 'none') AS list_order, count(*) AS requests
FROM mock_requests('ft:both:proj:seed-500:proj-2:tie-4')
WHERE query ? 'project_id' GROUP BY 1 ORDER BY 1;

-- A hash join with a local table
CREATE TABLE both_local AS SELECT 'proj_' || lpad(i::text, 4, '0') AS project FROM generate_series(1, 300, 3) i;
SET enable_nestloop = off;
SET enable_mergejoin = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM both_t100 p JOIN both_local l ON l.project = p.project_id;
SELECT count(*), count(DISTINCT p.id) FROM both_t100 p JOIN both_local l ON l.project = p.project_id;
RESET enable_nestloop;
RESET enable_mergejoin;

-- The two ends' pages are fetched at once: their requests overlap in time
CREATE FOREIGN TABLE both_slow (id text, created_at bigint, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:both:slow:seed-400:tie-5:slow-100');
SELECT count(*), count(DISTINCT id) FROM both_slow;
SELECT conc_overlap('ft:both:slow:seed-400:tie-5:slow-100', 0.1) AS in_flight_at_once;
SELECT count(*) AS requests FROM conc_log('ft:both:slow:seed-400:tie-5:slow-100');

-- A DELETE of a whole list reads it from both ends, then revokes each row
-- once
CREATE FOREIGN TABLE both_del (id text, created_at bigint, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:both:del:seed-230:tie-10');
EXPLAIN (COSTS OFF) DELETE FROM both_del;
DELETE FROM both_del;
SELECT method, count(*) AS requests, count(DISTINCT path) AS paths
FROM mock_requests('ft:both:del:seed-230:tie-10') GROUP BY method ORDER BY method;
SELECT count(*) FROM both_del;
-- a DELETE whose condition is checked here (a scan under ModifyTable)
CREATE FOREIGN TABLE both_del2 (id text, created_at bigint, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:both:del2:seed-230:tie-10');
DELETE FROM both_del2 WHERE id || '' <> '';
SELECT method, count(*) AS requests, count(DISTINCT path) AS paths
FROM mock_requests('ft:both:del2:seed-230:tie-10') GROUP BY method ORDER BY method;

DROP FUNCTION both_check(regclass);
DROP FUNCTION both_requests(text);
DROP TABLE both_local;
RESET client_min_messages;
