-- INSERT ... ON CONFLICT DO NOTHING (no conflict target) skips the projects
-- that already have a permission on the checkpoint, so that a grant script
-- can run again; the row count and RETURNING show only what was granted.
CREATE FOREIGN TABLE oc (id text, created_at bigint, project_id text, object text)
  SERVER mock OPTIONS (checkpoint 'ft:oc:script:seed-3');
-- the filtered lists and the POSTs a checkpoint got; the lists of one
-- batch go out at once, in no fixed order: sorted within their batch
CREATE FUNCTION oc_requests(ckpt text) RETURNS TABLE (method text, query jsonb, body jsonb)
LANGUAGE sql AS $$
  SELECT method, query, body FROM (
    SELECT method, query, body,
           count(*) FILTER (WHERE method = 'POST') OVER (ORDER BY n)
             - (method = 'POST')::int AS posts_before
    FROM (SELECT *, row_number() OVER () AS n FROM mock_requests(ckpt)) r
    WHERE method = 'POST' OR query ? 'project_id') s
  ORDER BY posts_before, method = 'POST', query::text
$$;

-- proj_0001 has a permission; proj_n1 and proj_n2 are granted; a project
-- twice in the statement is granted once
INSERT INTO oc (project_id) VALUES ('proj_0001'), ('proj_n1'), ('proj_n2'), ('proj_n1')
  ON CONFLICT DO NOTHING RETURNING id, project_id;
-- the same script again grants nothing
INSERT INTO oc (project_id) VALUES ('proj_0001'), ('proj_n1'), ('proj_n2'), ('proj_n1')
  ON CONFLICT DO NOTHING RETURNING id, project_id;
SELECT project_id, count(*) FROM oc GROUP BY 1 ORDER BY 1;
-- each run: one filtered list per project, then the POSTs of the new ones
SELECT * FROM oc_requests('ft:oc:script:seed-3');

-- batched (no RETURNING): the row count is the number granted
CREATE FOREIGN TABLE oc_batch (project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:oc:batch:seed-4', batch_size '3');
DO $$
DECLARE n bigint;
BEGIN
  INSERT INTO oc_batch SELECT format('proj_%s', lpad(g::text, 4, '0')) FROM generate_series(1, 7) g
    ON CONFLICT DO NOTHING;
  GET DIAGNOSTICS n = ROW_COUNT;
  RAISE NOTICE 'granted %', n;
END
$$;
SELECT * FROM oc_requests('ft:oc:batch:seed-4');

-- fewest requests: filtered lists until one full list would have been
-- cheaper (1,000 permissions assumed before ANALYZE: 10 pages), then that
-- full list, then no request at all; here the checkpoint holds 250
CREATE FOREIGN TABLE oc_many (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:oc:many:seed-250');
WITH g AS (
  INSERT INTO oc_many (project_id)
    SELECT format('proj_%s', lpad(g::text, 4, '0')) FROM generate_series(240, 260) g
    ON CONFLICT DO NOTHING RETURNING project_id)
SELECT count(*), min(project_id), max(project_id) FROM g;
SELECT CASE WHEN query ? 'project_id' THEN 'filtered list' WHEN method = 'GET' THEN 'full list page'
       ELSE method END AS request, count(*)
  FROM mock_requests('ft:oc:many:seed-250') GROUP BY 1 ORDER BY 1;
-- after ANALYZE a small checkpoint is listed whole at once
CREATE FOREIGN TABLE oc_small (project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:oc:small:seed-5', batch_size '10');
ANALYZE oc_small;
INSERT INTO oc_small SELECT format('proj_%s', lpad(g::text, 4, '0')) FROM generate_series(1, 8) g
  ON CONFLICT DO NOTHING;
SELECT method, query, body FROM mock_requests('ft:oc:small:seed-5');

-- exactly once still holds: the POST's reply is lost after the API acted
CREATE FOREIGN TABLE oc_lost (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:oc:lost:seed-1:post-fail-1-applied-hangup');
INSERT INTO oc_lost (project_id) VALUES ('proj_0001'), ('proj_x') ON CONFLICT DO NOTHING
  RETURNING id, project_id;
SELECT project_id, count(*) FROM oc_lost GROUP BY 1 ORDER BY 1;
SELECT method, query, status, body FROM mock_requests('ft:oc:lost:seed-1:post-fail-1-applied-hangup');

-- EXPLAIN
EXPLAIN (COSTS OFF) INSERT INTO oc (project_id) VALUES ('proj_x') ON CONFLICT DO NOTHING;

-- a conflict target, or DO UPDATE: refused before anything is sent
INSERT INTO oc (project_id) VALUES ('proj_r') ON CONFLICT (project_id) DO NOTHING;
INSERT INTO oc (project_id) VALUES ('proj_r') ON CONFLICT (project_id) DO UPDATE SET project_id = 'x';
INSERT INTO oc (project_id) VALUES ('proj_r') ON CONFLICT ON CONSTRAINT oc_pkey DO NOTHING;
SELECT count(*) FROM mock_requests('ft:oc:script:seed-3') WHERE body::text LIKE '%proj_r%';
