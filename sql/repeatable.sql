-- REPEATABLE READ and SERIALIZABLE: the first read of a list in the
-- transaction reads it whole and keeps it; later reads of it, by any plan,
-- are served from what was kept (no request), plus the transaction's own
-- grants and revokes.  (test/t_repeatable.sh shows another session's grant
-- not seen.)

-- The GETs the mock received for a checkpoint so far.
CREATE FUNCTION gets_of(ckpt text) RETURNS bigint
LANGUAGE sql AS $$ SELECT count(*) FROM mock_requests(ckpt) WHERE method = 'GET' $$;

CREATE FOREIGN TABLE rr (id text, created_at timestamptz, project_id text, object text)
  SERVER mock OPTIONS (checkpoint 'ft:rr:basic:seed-250:proj-5');

-- READ COMMITTED: every read asks the API
SELECT count(*) FROM rr;
SELECT count(*) FROM rr;
SELECT gets_of('ft:rr:basic:seed-250:proj-5') AS gets;

-- REPEATABLE READ: the first read lists the whole list (3 pages), the
-- others send nothing, whatever their order, bounds or filters
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) FROM rr;
SELECT gets_of('ft:rr:basic:seed-250:proj-5') AS gets;
SELECT count(*), min(id), max(id) FROM rr;
SELECT id FROM rr ORDER BY created_at DESC LIMIT 3;
SELECT id FROM rr ORDER BY created_at LIMIT 3;
SELECT count(*) FROM rr WHERE created_at >= (SELECT max(created_at) - interval '9 s' FROM rr);
SELECT count(*) FROM rr WHERE project_id = 'proj_0002';
SELECT count(*) FROM rr WHERE project_id || '' = 'proj_0002';
SELECT count(*) FROM rr WHERE project_id IN ('proj_0001', 'proj_0003');
SELECT gets_of('ft:rr:basic:seed-250:proj-5') AS gets;
SELECT * FROM explain_filter('SELECT count(*) FROM rr WHERE project_id = ''proj_0002''',
                             'ANALYZE, BUFFERS OFF, COSTS OFF, TIMING OFF, SUMMARY OFF');
COMMIT;
-- a new transaction reads the API again
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) FROM rr;
SELECT gets_of('ft:rr:basic:seed-250:proj-5') AS gets;
COMMIT;

-- Another user mapping (a second server on the same API) is another key:
-- its read lists again
\getenv mock_url MOCK_URL
\getenv mock_key MOCK_KEY
CREATE SERVER mock2 FOREIGN DATA WRAPPER checkpoint_perms
  OPTIONS (base_url :'mock_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER mock2 OPTIONS (api_key :'mock_key');
CREATE FOREIGN TABLE rr2 (id text, created_at timestamptz, project_id text, object text)
  SERVER mock2 OPTIONS (checkpoint 'ft:rr:basic:seed-250:proj-5');
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) FROM rr;
SELECT count(*) FROM rr2;
SELECT count(*) FROM rr;
SELECT gets_of('ft:rr:basic:seed-250:proj-5') AS gets;
COMMIT;

-- Plain EXPLAIN says so, and sends nothing
BEGIN ISOLATION LEVEL SERIALIZABLE;
EXPLAIN (COSTS OFF) SELECT * FROM rr WHERE project_id = 'proj_0001';
ROLLBACK;

-- A project's list first (one request), then the whole list (3 pages):
-- the whole list holds that project's rows as they were kept; the
-- project's list again sends nothing
CREATE FOREIGN TABLE rr_p (id text, created_at timestamptz, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:rr:project:seed-250:proj-5');
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) FROM rr_p WHERE project_id = 'proj_0004';
SELECT gets_of('ft:rr:project:seed-250:proj-5') AS gets;
SELECT count(*) FROM rr_p;
SELECT gets_of('ft:rr:project:seed-250:proj-5') AS gets;
SELECT count(*) FROM rr_p WHERE project_id = 'proj_0004';
SELECT count(*) FROM rr_p WHERE project_id || '' = 'proj_0004';
-- ordered newest first across the merged rows
SELECT bool_and(ok) AS newest_first FROM (
  SELECT created_at <= lag(created_at) OVER (ORDER BY n) AS ok
  FROM (SELECT created_at, row_number() OVER () AS n FROM rr_p) s) o;
SELECT gets_of('ft:rr:project:seed-250:proj-5') AS gets;
COMMIT;

-- A read stopped early (LIMIT sent to the API, a cursor closed after one
-- row) still reads the whole list first: what is kept is never partial
CREATE FOREIGN TABLE rr_l (id text, created_at timestamptz)
  SERVER mock OPTIONS (checkpoint 'ft:rr:limit:seed-250');
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT * FROM explain_filter('SELECT id FROM rr_l ORDER BY created_at DESC LIMIT 2',
                             'ANALYZE, BUFFERS OFF, COSTS OFF, TIMING OFF, SUMMARY OFF');
SELECT count(*) FROM rr_l;
SELECT gets_of('ft:rr:limit:seed-250') AS gets;
COMMIT;
BEGIN ISOLATION LEVEL REPEATABLE READ;
DECLARE c CURSOR FOR SELECT id FROM rr_l;
FETCH 1 FROM c;
CLOSE c;
SELECT count(*) FROM rr_l;
SELECT gets_of('ft:rr:limit:seed-250') AS gets;
COMMIT;

-- The transaction's own writes: a grant appears with its id and
-- created_at, in order, a revoke disappears, as a fresh read shows them
CREATE FOREIGN TABLE rr_w (id text, created_at timestamptz, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:rr:writes:seed-120:proj-4');
CREATE TABLE rr_granted AS SELECT NULL::text AS id, NULL::timestamptz AS created_at LIMIT 0;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) FROM rr_w;
WITH g AS (INSERT INTO rr_w (project_id) VALUES ('proj_new') RETURNING id, created_at)
INSERT INTO rr_granted SELECT * FROM g;
SELECT count(*) FROM rr_w;
SELECT (w.id, w.created_at) = (g.id, g.created_at) AS same_row
  FROM rr_w w, rr_granted g WHERE w.project_id = 'proj_new';
SELECT project_id FROM rr_w ORDER BY created_at DESC LIMIT 1;
SELECT project_id FROM rr_w ORDER BY created_at LIMIT 1 OFFSET 120;
SELECT count(*) FROM rr_w WHERE project_id || '' = 'proj_new';
-- revoke the grant and two seeded rows: gone from every read
DELETE FROM rr_w WHERE project_id = 'proj_new';
DELETE FROM rr_w WHERE id IN (SELECT id FROM rr_w ORDER BY created_at LIMIT 2);
SELECT count(*) FROM rr_w;
SELECT count(*) FROM rr_w WHERE project_id = 'proj_new';
SELECT gets_of('ft:rr:writes:seed-120:proj-4') AS gets;
COMMIT;
-- the API agrees
SELECT count(*) FROM rr_w;

-- A cursor reads the kept list: a DELETE between FETCHes hides the rows it
-- revoked, and no cursor of the API can break
CREATE FOREIGN TABLE rr_c (id text, created_at timestamptz)
  SERVER mock OPTIONS (checkpoint 'ft:rr:cursor:seed-150', page_size '50');
CREATE TABLE rr_order AS SELECT id, row_number() OVER (ORDER BY created_at DESC) AS n FROM rr_c;
BEGIN ISOLATION LEVEL REPEATABLE READ;
DECLARE c CURSOR FOR SELECT id FROM rr_c ORDER BY created_at DESC;
FETCH 2 FROM c;
DELETE FROM rr_c WHERE id IN (SELECT id FROM rr_order WHERE n BETWEEN 3 AND 60);
FETCH 2 FROM c;
SELECT (SELECT id FROM rr_order WHERE n = 61) AS expected;
CLOSE c;
DO $$
DECLARE r record; n int := 0;
BEGIN
  FOR r IN SELECT id FROM rr_c LOOP
    DELETE FROM rr_c WHERE id = r.id;
    n := n + 1;
  END LOOP;
  RAISE NOTICE 'revoked %', n;
END $$;
SELECT count(*) FROM rr_c;
COMMIT;
SELECT count(*) FROM rr_c;
SELECT count(*) FILTER (WHERE status <> 200) AS failed FROM mock_requests('ft:rr:cursor:seed-150');

-- Past work_mem the kept list is in a temporary file; reading it again,
-- newest or oldest first, gives the same rows in the same order
CREATE FOREIGN TABLE rr_big (id text, created_at timestamptz, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:rr:big:seed-2000');
SET work_mem = '64kB';
BEGIN ISOLATION LEVEL REPEATABLE READ;
CREATE TEMP TABLE first_read AS SELECT id, row_number() OVER () AS n FROM rr_big;
SELECT count(*) FROM first_read;
SELECT count(*) AS same_place FROM first_read f
  JOIN (SELECT id, row_number() OVER () AS n FROM rr_big) s USING (id, n);
SELECT count(*) AS reversed FROM first_read f
  JOIN (SELECT id, row_number() OVER () AS n FROM (SELECT id FROM rr_big ORDER BY created_at) a) s
  ON s.id = f.id AND s.n = 2001 - f.n;
SELECT gets_of('ft:rr:big:seed-2000') AS gets;
COMMIT;
RESET work_mem;

-- The first read takes the list from both ends at once, which meet by
-- created_at: with ties at the meeting point, and a list all at one
-- second, the kept list holds every row once, newest first
CREATE FOREIGN TABLE rr_tie (id text, created_at timestamptz)
  SERVER mock OPTIONS (checkpoint 'ft:rr:tie:seed-250:tie-60');
CREATE FOREIGN TABLE rr_one (id text, created_at timestamptz)
  SERVER mock OPTIONS (checkpoint 'ft:rr:onesecond:seed-250:tie-1000');
CREATE TABLE rr_tie_fresh AS SELECT id FROM rr_tie;
CREATE TABLE rr_one_fresh AS SELECT id FROM rr_one;
BEGIN ISOLATION LEVEL REPEATABLE READ;
WITH k AS (SELECT id, created_at, row_number() OVER () AS n FROM rr_tie)
SELECT (SELECT count(*) FROM k) AS rows, (SELECT count(DISTINCT id) FROM k) AS ids,
       (SELECT count(*) FROM (SELECT id FROM rr_tie_fresh EXCEPT SELECT id FROM k) m) AS missing,
       (SELECT bool_and(ok) FROM (SELECT created_at <= lag(created_at) OVER (ORDER BY n) AS ok
                                  FROM k) o) AS newest_first;
WITH k AS (SELECT id, created_at, row_number() OVER () AS n FROM rr_one)
SELECT (SELECT count(*) FROM k) AS rows, (SELECT count(DISTINCT id) FROM k) AS ids,
       (SELECT count(*) FROM (SELECT id FROM rr_one_fresh EXCEPT SELECT id FROM k) m) AS missing;
SELECT gets_of('ft:rr:tie:seed-250:tie-60') AS tie_gets, gets_of('ft:rr:onesecond:seed-250:tie-1000') AS one_second_gets;
COMMIT;

-- ROLLBACK TO SAVEPOINT keeps a list read in the subtransaction: it is a
-- true read of the API
CREATE FOREIGN TABLE rr_s (id text) SERVER mock OPTIONS (checkpoint 'ft:rr:savepoint:seed-30');
BEGIN ISOLATION LEVEL REPEATABLE READ;
SAVEPOINT s;
SELECT count(*) FROM rr_s;
ROLLBACK TO SAVEPOINT s;
SELECT count(*) FROM rr_s;
SELECT gets_of('ft:rr:savepoint:seed-30') AS gets;
-- a read that fails half way (its second page answers 404) keeps nothing:
-- read again, it asks the API again, and does not return the first page
CREATE FOREIGN TABLE rr_f (id text)
  SERVER mock OPTIONS (checkpoint 'ft:rr:fail:seed-150:get-after-1-404');
-- (terse: the two ends' requests arrive in either order, and so do their ids)
\set VERBOSITY terse
SAVEPOINT f;
SELECT count(*) FROM rr_f;
ROLLBACK TO SAVEPOINT f;
SELECT count(*) FROM rr_f;
ROLLBACK;
\set VERBOSITY default
SELECT gets_of('ft:rr:fail:seed-150:get-after-1-404') AS gets;

-- A nested loop's per-project lists and an IN list are kept per project
CREATE FOREIGN TABLE rr_j (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:rr:join:seed-400:proj-20');
CREATE TABLE rr_teams (project text);
INSERT INTO rr_teams VALUES ('proj_0001'), ('proj_0002'), ('proj_0003');
ANALYZE rr_teams;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SET LOCAL enable_hashjoin = off;
SET LOCAL enable_mergejoin = off;
SELECT count(*) FROM rr_teams t JOIN rr_j p ON p.project_id = t.project;
SELECT gets_of('ft:rr:join:seed-400:proj-20') AS gets;
SELECT count(*) FROM rr_teams t JOIN rr_j p ON p.project_id = t.project;
SELECT count(*) FROM rr_j WHERE project_id IN ('proj_0001', 'proj_0002', 'proj_0003');
SELECT gets_of('ft:rr:join:seed-400:proj-20') AS gets;
RESET enable_hashjoin;
RESET enable_mergejoin;
SELECT count(*) FROM rr_teams t JOIN rr_j p ON p.project_id || '' = t.project;
SELECT gets_of('ft:rr:join:seed-400:proj-20') AS gets;
COMMIT;

-- The lists of an IN list are kept in batches of max_concurrency, their
-- first pages at once (200 ms per request: 8 at once, then 2), as a scan
-- that keeps nothing fetches them; those kept are not asked for again
CREATE FOREIGN TABLE rr_in (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:rr:in:seed-1900:proj-20:slow-200');
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*), count(DISTINCT project_id) FROM rr_in
  WHERE project_id IN ('proj_0001', 'proj_0002', 'proj_0003', 'proj_0004', 'proj_0005',
                       'proj_0006', 'proj_0007', 'proj_0008', 'proj_0009', 'proj_0010');
SELECT count(*) AS requests, count(DISTINCT project) AS projects,
       conc_overlap('ft:rr:in:seed-1900:proj-20:slow-200', 0.2) AS in_flight_at_once
FROM conc_log('ft:rr:in:seed-1900:proj-20:slow-200');
-- (8 of them kept, one new: without ANALYZE the planner takes 9 lists
-- over one full list of 1,000 permissions)
SELECT * FROM explain_filter($$SELECT count(*) FROM rr_in WHERE project_id IN ('proj_0001', 'proj_0002', 'proj_0003', 'proj_0004', 'proj_0005', 'proj_0006', 'proj_0007', 'proj_0008', 'proj_0011')$$,
                             'ANALYZE, BUFFERS OFF, COSTS OFF, TIMING OFF, SUMMARY OFF')
  WHERE explain_filter ~ 'Lists|Requests';
COMMIT;

-- ON CONFLICT DO NOTHING and ANALYZE ask the API, not the kept list
CREATE FOREIGN TABLE rr_o (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:rr:conflict:seed-20:proj-4');
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) FROM rr_o;
SELECT gets_of('ft:rr:conflict:seed-20:proj-4') AS gets;
INSERT INTO rr_o (project_id) VALUES ('proj_0001'), ('proj_0009') ON CONFLICT DO NOTHING;
SELECT gets_of('ft:rr:conflict:seed-20:proj-4') AS gets;
ANALYZE rr_o;
SELECT gets_of('ft:rr:conflict:seed-20:proj-4') AS gets;
SELECT count(*) FROM rr_o;
-- the transaction's own grant is no conflict its list hides: skipped; a
-- project whose permissions it revoked is granted again
INSERT INTO rr_o (project_id) VALUES ('proj_0009') ON CONFLICT DO NOTHING;
DELETE FROM rr_o WHERE project_id = 'proj_0002';
INSERT INTO rr_o (project_id) VALUES ('proj_0002') ON CONFLICT DO NOTHING;
SELECT project_id, count(*) FROM rr_o WHERE project_id IN ('proj_0002', 'proj_0009')
  GROUP BY 1 ORDER BY 1;
COMMIT;
