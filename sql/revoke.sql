-- A DELETE of one foreign table is run whole by the extension (direct
-- modify): by id with no list at all, or one list then the revokes.

-- What one statement sent: requests by method, and the DELETE statuses.
CREATE FUNCTION sent(ckpt text, OUT gets bigint, OUT deletes bigint, OUT not_found bigint)
LANGUAGE sql AS $$
  SELECT count(*) FILTER (WHERE method = 'GET'),
         count(*) FILTER (WHERE method = 'DELETE'),
         count(*) FILTER (WHERE method = 'DELETE' AND status = 404)
  FROM mock_requests(ckpt)
$$;
-- a permission's id by its project, read before the test counts requests
CREATE TABLE ids AS SELECT NULL::text AS project, NULL::text AS id LIMIT 0;

CREATE FOREIGN TABLE by_id (id text, created_at bigint, project_id text, object text)
  SERVER mock OPTIONS (checkpoint 'ft:revoke:byid:seed-2000:proj-500');
CREATE FOREIGN TABLE by_id_reader (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:revoke:byid:seed-2000:proj-500');
INSERT INTO ids SELECT project_id, id FROM by_id_reader WHERE project_id IN ('proj_0001', 'proj_0002', 'proj_0003');
SELECT id AS one FROM ids WHERE project = 'proj_0001' ORDER BY id LIMIT 1 \gset
SELECT array_agg(id ORDER BY id)::text AS two FROM ids WHERE project = 'proj_0002' AND id IN
  (SELECT id FROM ids WHERE project = 'proj_0002' ORDER BY id LIMIT 2) \gset
CREATE FUNCTION byid_requests() RETURNS TABLE (gets bigint, deletes bigint, not_found bigint)
  LANGUAGE sql AS $$ SELECT * FROM sent('ft:revoke:byid:seed-2000:proj-500') $$;
SELECT * FROM byid_requests();

-- id = constant: one DELETE, no list (2,000 permissions: a list is 20 requests)
EXPLAIN (COSTS OFF) DELETE FROM by_id WHERE id = 'cp_x';
\set QUIET off
DELETE FROM by_id WHERE id = :'one';
\set QUIET on
SELECT * FROM byid_requests();
-- gone already: the DELETE is sent, answered 404, and not counted
\set QUIET off
DELETE FROM by_id WHERE id = :'one';
\set QUIET on
SELECT * FROM byid_requests();
-- IN: one DELETE per distinct id; an empty id names nothing and is not sent
EXPLAIN (COSTS OFF) DELETE FROM by_id WHERE id IN ('cp_a', 'cp_b', 'cp_a', '');
\set QUIET off
DELETE FROM by_id WHERE id = ANY (:'two'::text[] || ARRAY['cp_missing', '', NULL]) RETURNING id IS NOT NULL AS revoked, object;
\set QUIET on
SELECT * FROM byid_requests();
-- a parameter: EXPLAIN names it; NULL and an empty array send nothing
PREPARE revoke_ids(text[]) AS DELETE FROM by_id WHERE id = ANY ($1);
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE revoke_ids('{}');
EXECUTE revoke_ids('{}');
EXECUTE revoke_ids(NULL);
RESET plan_cache_mode;
SELECT * FROM byid_requests();
-- RETURNING what a delete reply does not hold (project_id): by list
EXPLAIN (COSTS OFF) DELETE FROM by_id WHERE id = 'cp_x' RETURNING project_id;
-- a value that cannot be an id revokes nothing and sends nothing
DELETE FROM by_id WHERE id = E'cp_\nx';
SELECT * FROM byid_requests();

-- other conditions: the list with every filter the API takes, the rest
-- checked here, then one DELETE per matching row
CREATE FOREIGN TABLE by_list (id text, created_at bigint, project_id text, object text)
  SERVER mock OPTIONS (checkpoint 'ft:revoke:bylist:seed-300:proj-3', page_size '50');
EXPLAIN (COSTS OFF) DELETE FROM by_list WHERE project_id = 'proj_0001' AND created_at % 2 = 0;
\set QUIET off
DELETE FROM by_list WHERE project_id = 'proj_0001' AND created_at % 2 = 0
  RETURNING project_id, created_at % 2 AS parity;
\set QUIET on
SELECT * FROM sent('ft:revoke:bylist:seed-300:proj-3');
SELECT project_id, count(*) FROM by_list GROUP BY 1 ORDER BY 1;
-- a condition on a sub-select, and one on id with another on project_id
\set QUIET off
DELETE FROM by_list WHERE project_id = 'proj_0002'
  AND created_at > (SELECT min(created_at) + 100 FROM by_list WHERE project_id = 'proj_0002');
\set QUIET on
SELECT project_id, count(*) FROM by_list GROUP BY 1 ORDER BY 1;
-- EXPLAIN ANALYZE counts the lists and the DELETEs
SELECT explain_filter($$DELETE FROM by_list WHERE project_id = 'proj_0003' AND created_at % 2 = 1$$,
                      'ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF');

-- the revokes of a statement go out at once, at most max_concurrency (8)
CREATE FOREIGN TABLE at_once (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:revoke:atonce:seed-40:delete-slow-100');
\set QUIET off
DELETE FROM at_once;
\set QUIET on
SELECT max(n) AS most_in_flight FROM (
  SELECT (SELECT count(*) FROM conc_log('ft:revoke:atonce:seed-40:delete-slow-100') b
          WHERE b.method = 'DELETE' AND b.ts <= a.ts AND a.ts < b.ts + 0.1) AS n
  FROM conc_log('ft:revoke:atonce:seed-40:delete-slow-100') a WHERE a.method = 'DELETE') s;
-- a rate limit (the mock answers 429 past 3 revokes in flight) slows them
-- down; nothing fails and each is sent until it lands
CREATE FOREIGN TABLE rate_limited (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:revoke:limited:seed-100:delete-inflight-3:delete-slow-20');
\set QUIET off
DELETE FROM rate_limited;
\set QUIET on
SELECT count(*) FILTER (WHERE status = 429) > 0 AS slowed_down,
       count(*) FILTER (WHERE method = 'DELETE' AND status = 200) AS revoked,
       count(*) FILTER (WHERE status NOT IN (200, 429)) AS failed
  FROM mock_requests('ft:revoke:limited:seed-100:delete-inflight-3:delete-slow-20');
SELECT count(*) AS left FROM rate_limited;

-- with a join the rows come from elsewhere: row by row, as before
CREATE TABLE gone_projects (project text);
INSERT INTO gone_projects VALUES ('proj_0003');
EXPLAIN (COSTS OFF) DELETE FROM by_list p USING gone_projects g WHERE p.project_id = g.project;
\set QUIET off
DELETE FROM by_list p USING gone_projects g WHERE p.project_id = g.project;
\set QUIET on
-- so does a table with a row trigger, which must see each row
CREATE FUNCTION note_revoke() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE 'revoked %', OLD.project_id;
  RETURN OLD;
END $$;
CREATE TRIGGER note_revoke AFTER DELETE ON by_list FOR EACH ROW EXECUTE FUNCTION note_revoke();
EXPLAIN (COSTS OFF) DELETE FROM by_list WHERE project_id = 'proj_0002';
DELETE FROM by_list WHERE project_id = 'proj_0002' AND created_at < 1721764867 + 10;
DROP TRIGGER note_revoke ON by_list;
SELECT project_id, count(*) FROM by_list GROUP BY 1 ORDER BY 1;

-- a 429 did nothing: a 404 to the retry of a revoke that was only ever
-- answered 429 means the permission was never there, and it is not counted
-- (the mock answers 429 past 1 revoke in flight)
CREATE FOREIGN TABLE rate_one (id text) SERVER mock
  OPTIONS (checkpoint 'ft:revoke:rateone:seed-1:delete-inflight-1:delete-slow-50');
\set QUIET off
DELETE FROM rate_one WHERE id IN ('cp_nope1', 'cp_nope2', 'cp_nope3', 'cp_nope4') RETURNING id;
\set QUIET on
SELECT count(*) FILTER (WHERE status = 429) > 0 AS some_429,
       count(*) FILTER (WHERE status = 404) AS not_found
  FROM mock_requests('ft:revoke:rateone:seed-1:delete-inflight-1:delete-slow-50');

-- a value that cannot be an id matches nothing: the others are revoked
-- (and journaled), the impossible one is neither sent nor an error
BEGIN;
DELETE FROM by_id WHERE id IN ('cp_a1', 'cp_a2', repeat('z', 300));
ROLLBACK;
SELECT count(*) AS journaled FROM checkpoint_perms_journal() WHERE permission_id IN ('cp_a1', 'cp_a2');
