-- Concurrent requests: the lists of an IN / = ANY filter go out at once, at
-- most max_concurrency in flight, and a 429 slows the whole batch down.
-- What overlapped is read from the mock's log (arrival times), not from
-- the wall clock.
\getenv mock_url MOCK_URL
\getenv mock_key MOCK_KEY

CREATE SERVER mock_serial FOREIGN DATA WRAPPER checkpoint_perms
  OPTIONS (base_url :'mock_url', max_concurrency '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER mock_serial OPTIONS (api_key :'mock_key');

-- 10 projects, 200 ms per request: 8 lists at once, then 2
CREATE FOREIGN TABLE conc_slow (id text, created_at timestamptz, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:conc:slow:seed-100:proj-20:slow-200');
SELECT count(*), count(DISTINCT project_id), min(project_id), max(project_id) FROM conc_slow
  WHERE project_id IN ('proj_0001', 'proj_0002', 'proj_0003', 'proj_0004', 'proj_0005',
                       'proj_0006', 'proj_0007', 'proj_0008', 'proj_0009', 'proj_0010');
SELECT count(*) AS requests, count(DISTINCT project) AS projects,
       conc_overlap('ft:conc:slow:seed-100:proj-20:slow-200', 0.2) AS in_flight_at_once,
       count(DISTINCT conn) >= 8 AS on_several_connections
FROM conc_log('ft:conc:slow:seed-100:proj-20:slow-200');
-- the rows come in the order of the values (sorted), as when the lists ran one by one
SELECT project_id, count(*) FROM (
  SELECT project_id, row_number() OVER () AS n
  FROM conc_slow WHERE project_id = ANY ('{proj_0012,proj_0011,proj_0013}')) s
GROUP BY project_id ORDER BY min(n);

-- max_concurrency 1: strictly one at a time
CREATE FOREIGN TABLE conc_serial (id text, project_id text)
  SERVER mock_serial OPTIONS (checkpoint 'ft:conc:serial:seed-100:proj-20:slow-100');
SELECT count(*), count(DISTINCT project_id) FROM conc_serial
  WHERE project_id IN ('proj_0001', 'proj_0002', 'proj_0003', 'proj_0004');
SELECT count(*) AS requests, conc_overlap('ft:conc:serial:seed-100:proj-20:slow-100', 0.1) AS in_flight_at_once
FROM conc_log('ft:conc:serial:seed-100:proj-20:slow-100');

-- one list fails: the error names its request, the lists in flight beside
-- it end, no new one starts, and the connection serves the next statement
CREATE FOREIGN TABLE conc_fail (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:conc:fail:seed-100:proj-20:slow-50:project-proj_0003-400');
DO $$
DECLARE
  msg text; detail text; ctx text; state text;
BEGIN
  PERFORM count(*) FROM conc_fail
    WHERE project_id IN ('proj_0001', 'proj_0002', 'proj_0003', 'proj_0004', 'proj_0005',
                         'proj_0006', 'proj_0007', 'proj_0008', 'proj_0009', 'proj_0010');
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL,
                          ctx = PG_EXCEPTION_CONTEXT;
  RAISE NOTICE 'ERROR % %', state, msg;
  RAISE NOTICE 'DETAIL %', regexp_replace(detail, 'req_[0-9a-f]+_[0-9]+', 'req_...');
  RAISE NOTICE 'CONTEXT %', split_part(ctx, E'\n', 1);
END $$;
SELECT count(*) AS requests, count(*) FILTER (WHERE status = 200) AS ok,
       string_agg(project, ', ' ORDER BY project) FILTER (WHERE status = 400) AS failed,
       count(*) FILTER (WHERE project IN ('proj_0009', 'proj_0010')) AS never_sent
FROM conc_log('ft:conc:fail:seed-100:proj-20:slow-50:project-proj_0003-400');
SELECT count(*) FROM conc_fail WHERE project_id IN ('proj_0001', 'proj_0002');

-- a LIMIT sent to the API may end the scan after the first list: one by one
CREATE FOREIGN TABLE conc_limit (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:conc:limit:seed-100:proj-20');
SELECT count(*) FROM (SELECT * FROM conc_limit WHERE project_id IN ('proj_0001', 'proj_0002', 'proj_0003') LIMIT 4) s;
SELECT project FROM conc_log('ft:conc:limit:seed-100:proj-20') ORDER BY seq;

-- a statement that writes reads its lists at once too, before its first revoke
CREATE FOREIGN TABLE conc_revoke (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:conc:revoke:seed-100:proj-20:get-slow-50');
DELETE FROM conc_revoke WHERE project_id IN ('proj_0001', 'proj_0002', 'proj_0003');
SELECT count(*) FILTER (WHERE project IS NOT NULL) AS lists,
       conc_overlap('ft:conc:revoke:seed-100:proj-20:get-slow-50', 0.05) >= 3 AS lists_at_once
FROM conc_log('ft:conc:revoke:seed-100:proj-20:get-slow-50');
SELECT count(*) FROM conc_revoke WHERE project_id IN ('proj_0001', 'proj_0002', 'proj_0003', 'proj_0004');

-- a 429 (or a delay the API names) pauses the whole batch: the lists not
-- yet sent wait for the retry-after-ms of another one's 429.  On a server of
-- its own, whose first statement meets a 429: its connection then starts a
-- batch with 4 in flight, not 8, so a batch of 8 has 4 waiting to be sent.
CREATE SERVER mock_pause FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url :'mock_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER mock_pause OPTIONS (api_key :'mock_key');
CREATE FOREIGN TABLE conc_pause_first (id text, project_id text)
  SERVER mock_pause OPTIONS (checkpoint 'ft:conc:pause-first:seed-20:proj-10:fail-1-429:retry-after-ms-10');
SELECT count(*) FROM conc_pause_first WHERE project_id IN ('proj_0001', 'proj_0002');
CREATE FOREIGN TABLE conc_pause (id text, project_id text)
  SERVER mock_pause OPTIONS (checkpoint 'ft:conc:pause:seed-100:proj-20:fail-1-429:retry-after-ms-300');
SELECT count(*), count(DISTINCT project_id) FROM conc_pause
  WHERE project_id IN ('proj_0001', 'proj_0002', 'proj_0003', 'proj_0004', 'proj_0005',
                       'proj_0006', 'proj_0007', 'proj_0008');
WITH l AS (SELECT *, row_number() OVER (ORDER BY seq) AS n
           FROM conc_log('ft:conc:pause:seed-100:proj-20:fail-1-429:retry-after-ms-300'))
SELECT count(*) AS requests,
       (SELECT n FROM l WHERE status = 429) AS the_429_was_request,
       (SELECT max(ts) - min(ts) FROM l WHERE n <= 4) < 0.3 AS first_4_at_once,
       (SELECT min(ts) FROM l WHERE n > 4) - (SELECT ts FROM l WHERE status = 429) >= 0.3
         AS the_others_waited_for_it
FROM l;

-- an API that takes 3 requests at a time and answers 429 (retry-after-ms
-- 50) beyond: the batch slows down, and the statement succeeds (last: the
-- connection keeps the lower number in flight for its next batch)
CREATE FOREIGN TABLE conc_limited (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:conc:limited:seed-100:proj-20:slow-50:inflight-3');
SELECT count(*), count(DISTINCT project_id) FROM conc_limited
  WHERE project_id IN ('proj_0001', 'proj_0002', 'proj_0003', 'proj_0004', 'proj_0005',
                       'proj_0006', 'proj_0007', 'proj_0008', 'proj_0009', 'proj_0010');
SELECT count(*) FILTER (WHERE status = 429) > 0 AS some_429,
       count(*) FILTER (WHERE status = 200) AS ok,
       count(DISTINCT project) FILTER (WHERE status = 200) AS projects_ok,
       conc_overlap('ft:conc:limited:seed-100:proj-20:slow-50:inflight-3', 0.05, 200) <= 3 AS at_most_3_served,
       -- every project refused was listed later
       bool_and(status = 200 OR EXISTS (SELECT 1 FROM conc_log('ft:conc:limited:seed-100:proj-20:slow-50:inflight-3') b
                                        WHERE b.project = a.project AND b.seq > a.seq AND b.status = 200))
         AS each_429_then_200
FROM conc_log('ft:conc:limited:seed-100:proj-20:slow-50:inflight-3') a;
-- each 429 was a request sent again
SELECT (SELECT count(*) FROM conc_log('ft:conc:limited:seed-100:proj-20:slow-50:inflight-3'))
     = 10 + (SELECT count(*) FROM conc_log('ft:conc:limited:seed-100:proj-20:slow-50:inflight-3') WHERE status = 429)
  AS every_429_sent_again;
