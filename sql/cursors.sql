-- A list whose next page's cursor ("after") is a permission this session
-- revoked: the mock, as a strict API may, refuses it (400, param after).
-- The scan resumes from the last row of the page it did not revoke, or,
-- when it revoked the whole page, lists again from the start, skipping
-- what it already returned (a list read from both ends: each end so,
-- passing over what it processed).

-- The GETs of one checkpoint, counted by cursor or not, rows asked and
-- status: a list read from both ends sends a round's two requests at once,
-- and they reach the mock in either order.
CREATE FUNCTION gets(ckpt text)
RETURNS TABLE (after boolean, lim text, status int, requests bigint)
LANGUAGE sql AS $$
  SELECT query ? 'after', query->>'limit', status, count(*)
  FROM mock_requests(ckpt) WHERE method = 'GET'
  GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
$$;

-- The PL/pgSQL loop that revokes each row it reads: 150 permissions in
-- pages of 50; PL/pgSQL fetches 10 rows at a time, so each page is
-- revoked whole before the next is asked for (the restart path).
CREATE FOREIGN TABLE loop_perms (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:cursors:loop:seed-150', page_size '50');
DO $$
DECLARE r record; n int := 0;
BEGIN
  FOR r IN SELECT id FROM loop_perms LOOP
    DELETE FROM loop_perms WHERE id = r.id;
    n := n + 1;
  END LOOP;
  RAISE NOTICE 'revoked %', n;
END $$;
SELECT count(*) AS left_over FROM loop_perms;
SELECT * FROM gets('ft:cursors:loop:seed-150');
SELECT count(*) AS deletes, count(DISTINCT path) AS distinct_ids,
       count(*) FILTER (WHERE status <> 200) AS failed
  FROM mock_requests('ft:cursors:loop:seed-150') WHERE method = 'DELETE';
-- (the scan above reads the list from both ends, each end resuming on its
-- own; in created_at order the list is one cursor, which resumes the same)
CREATE FOREIGN TABLE loop_one (id text, created_at timestamptz)
  SERVER mock OPTIONS (checkpoint 'ft:cursors:loop1:seed-150', page_size '50');
DO $$
DECLARE r record; n int := 0;
BEGIN
  FOR r IN SELECT id FROM loop_one ORDER BY created_at DESC LOOP
    DELETE FROM loop_one WHERE id = r.id;
    n := n + 1;
  END LOOP;
  RAISE NOTICE 'revoked %', n;
END $$;
SELECT count(*) AS left_over FROM loop_one;
SELECT * FROM gets('ft:cursors:loop1:seed-150');

-- The ids of a table in list order (newest first), and those a cursor
-- returned, to check that none is returned twice and none missed.
CREATE TABLE listed (n int, id text);
CREATE TABLE got (n serial, id text);
CREATE FUNCTION check_got(OUT returned bigint, OUT distinct_ids bigint, OUT missed bigint)
LANGUAGE sql AS $$
  SELECT (SELECT count(*) FROM got), (SELECT count(DISTINCT id) FROM got),
         (SELECT count(*) FROM listed l WHERE NOT EXISTS (SELECT 1 FROM got g WHERE g.id = l.id))
$$;

-- DECLARE ... FETCH, and a DELETE between fetches of the first page's
-- last three rows (its last is the next page's cursor): the list goes on
-- after the page's 7th row, which was not revoked.
CREATE FOREIGN TABLE fetch_perms (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:cursors:fetch:seed-30', page_size '10');
INSERT INTO listed SELECT row_number() OVER (), id FROM fetch_perms;
SELECT string_agg(quote_literal(id), ', ') AS tail FROM listed WHERE n BETWEEN 8 AND 10 \gset
BEGIN;
DECLARE c CURSOR FOR SELECT id FROM fetch_perms;
FETCH 10 FROM c;
DELETE FROM fetch_perms WHERE id IN (:tail);
FETCH ALL FROM c;
COMMIT;
SELECT * FROM gets('ft:cursors:fetch:seed-30');

-- The same, through a cursor opened in PL/pgSQL, keeping what it returns:
-- the second page is revoked whole, so the list starts again and skips
-- the first page's rows, which it returned already.
CREATE FOREIGN TABLE page_perms (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:cursors:page:seed-30', page_size '10');
TRUNCATE listed;
INSERT INTO listed SELECT row_number() OVER (), id FROM page_perms;
DO $$
DECLARE c refcursor; r record; k int := 0;
BEGIN
  OPEN c FOR SELECT id FROM page_perms;
  LOOP
    FETCH c INTO r;
    EXIT WHEN NOT FOUND;
    k := k + 1;
    INSERT INTO got (id) VALUES (r.id);
    IF k BETWEEN 11 AND 20 THEN
      DELETE FROM page_perms WHERE id = r.id;
    END IF;
  END LOOP;
  CLOSE c;
END $$;
SELECT * FROM check_got();
SELECT * FROM gets('ft:cursors:page:seed-30');
SELECT count(*) AS left_over FROM page_perms;

-- EXPLAIN ANALYZE counts the refused request and the ones that resumed:
-- a function that revokes the row the scan returned.
CREATE FOREIGN TABLE fn_perms (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:cursors:fn:seed-25', page_size '10');
CREATE FUNCTION revoke_fn(p text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM fn_perms WHERE id = p;
  RETURN p;
END $$;
-- (5 requests: 3 pages and the 2 refused cursors; the bytes hold request ids)
SELECT line FROM explain_filter('SELECT count(revoke_fn(id)) FROM fn_perms',
                                'ANALYZE, BUFFERS OFF, COSTS OFF, TIMING OFF, SUMMARY OFF') AS line
  WHERE line NOT LIKE '%Bytes Received%';
SELECT count(*) AS left_over FROM fn_perms;
SELECT * FROM gets('ft:cursors:fn:seed-25');

-- A scan of several lists reads their next pages ahead, together: a
-- refused cursor among those is read again alone, then resumed (so each
-- refusal is two requests; proj_0002's pages were all read ahead before
-- any of its rows was revoked).
CREATE FOREIGN TABLE many_perms (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:cursors:many:seed-60:proj-2', page_size '10');
DO $$
DECLARE r record; n int := 0;
BEGIN
  FOR r IN SELECT id FROM many_perms WHERE project_id IN ('proj_0001', 'proj_0002') LOOP
    DELETE FROM many_perms WHERE id = r.id;
    n := n + 1;
  END LOOP;
  RAISE NOTICE 'revoked %', n;
END $$;
SELECT count(*) AS left_over FROM many_perms;
SELECT query->>'project_id' AS project, count(*) FILTER (WHERE status = 200) AS ok,
       count(*) FILTER (WHERE status = 400) AS refused
  FROM mock_requests('ft:cursors:many:seed-60:proj-2') WHERE method = 'GET' GROUP BY 1 ORDER BY 1;

-- The ids a scan keeps to list again are bounded by work_mem (64kB: 8,192
-- of them): a cursor past that whose whole page was revoked fails, and
-- says how to get past it.
CREATE FOREIGN TABLE big_perms (id text)
  SERVER mock OPTIONS (checkpoint 'ft:cursors:big:seed-8300', page_size '100');
SELECT string_agg(quote_literal(id), ', ') AS page82
  FROM (SELECT id FROM big_perms OFFSET 8100 LIMIT 100) s \gset
SET work_mem = '64kB';
BEGIN;
DECLARE c CURSOR FOR SELECT id FROM big_perms;
MOVE 8200 FROM c;
DELETE FROM big_perms WHERE id IN (:page82);
-- the ROLLBACK's warning: hidden here (sql/journal.sql tests it)
SET client_min_messages = error;
FETCH 1 FROM c;
ROLLBACK;
RESET work_mem;
SELECT count(*) AS left_over FROM big_perms;
