-- Writes applied at COMMIT (apply_writes 'at_commit'): INSERT and DELETE
-- queue their grants and revokes, the transaction reads its own queue,
-- COMMIT sends it (and undoes what it sent when any fails), ROLLBACK sends
-- nothing.  The mock's request log proves what reached the API, and when.

-- the option: on a server or a foreign table (the table's wins), two values
CREATE SERVER atc_bad FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (apply_writes 'later');
CREATE SERVER atc_bad FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (apply_write 'now');
CREATE FOREIGN TABLE atc_bad (project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:atc:bad', apply_writes 'At_Commit');

-- read your writes: a queued grant is a row with no id nor created_at, a
-- queued revoke hides its row; nothing reaches the API before COMMIT
CREATE FOREIGN TABLE atc (id text, created_at bigint, project_id text, object text)
  SERVER mock OPTIONS (checkpoint 'ft:atc:ryw:seed-3', apply_writes 'at_commit');
BEGIN;
INSERT INTO atc (project_id) VALUES ('proj_a'), ('proj_b')
  RETURNING id IS NULL AS no_id, created_at IS NULL AS no_created_at, project_id, object;
DELETE FROM atc WHERE project_id = 'proj_0002' RETURNING id IS NOT NULL AS real_row, project_id;
SELECT id IS NULL AS queued, project_id FROM atc ORDER BY project_id;
SELECT count(*) FROM atc WHERE project_id = 'proj_a';
SELECT project_id FROM atc ORDER BY created_at DESC LIMIT 2;
SELECT project_id FROM atc ORDER BY created_at LIMIT 4;
SELECT project_id FROM atc ORDER BY created_at DESC NULLS LAST;
SELECT project_id FROM atc ORDER BY created_at NULLS FIRST;
EXPLAIN (COSTS OFF) SELECT project_id FROM atc ORDER BY created_at DESC NULLS LAST;
SELECT transaction, sent_at IS NULL AS not_sent, action, project_id, permission_id IS NULL AS no_id,
       outcome
  FROM checkpoint_perms_journal();
SELECT DISTINCT method FROM mock_requests('ft:atc:ryw:seed-3');
COMMIT;
-- COMMIT sent them: the POST and the DELETE come after every GET
SELECT method, path, body FROM mock_requests('ft:atc:ryw:seed-3') WHERE method <> 'GET';
SELECT bool_and(l.seq > g.last) AS after_the_last_statement
  FROM conc_log('ft:atc:ryw:seed-3') l,
       (SELECT max(seq) AS last FROM conc_log('ft:atc:ryw:seed-3') WHERE method = 'GET') g
  WHERE l.method <> 'GET';
SELECT id IS NULL AS queued, project_id FROM atc ORDER BY project_id;
SELECT transaction, action, project_id, outcome, rolled_back FROM checkpoint_perms_journal();

-- ROLLBACK sends nothing, and warns about nothing
CREATE FOREIGN TABLE atc_rb (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:atc:rollback:seed-2', apply_writes 'at_commit');
BEGIN;
INSERT INTO atc_rb (project_id) VALUES ('proj_x');
DELETE FROM atc_rb WHERE project_id = 'proj_0001';
SELECT count(*) FROM atc_rb;
ROLLBACK;
SELECT method, count(*) FROM mock_requests('ft:atc:rollback:seed-2') GROUP BY 1 ORDER BY 1;
SELECT project_id FROM atc_rb ORDER BY 1;

-- COPY queues too: its rows go out in one POST at COMMIT
BEGIN;
COPY atc_rb (project_id) FROM STDIN;
proj_copy1
proj_copy2
proj_copy3
\.
SELECT count(*) FROM mock_requests('ft:atc:rollback:seed-2') WHERE method = 'POST';
COMMIT;
SELECT method, body FROM mock_requests('ft:atc:rollback:seed-2') WHERE method = 'POST';

-- a grant revoked in the same transaction: both cancel out, nothing is
-- sent; a revoke of an existing permission and then a grant of the same
-- project are both sent (the project ends with a new permission)
CREATE FOREIGN TABLE atc_cancel (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:atc:cancel:seed-2', apply_writes 'at_commit');
BEGIN;
INSERT INTO atc_cancel (project_id) VALUES ('proj_y'), ('proj_z');
DELETE FROM atc_cancel WHERE project_id = 'proj_y' RETURNING id, project_id;
DELETE FROM atc_cancel WHERE project_id = 'proj_0001';
INSERT INTO atc_cancel (project_id) VALUES ('proj_0001');
SELECT id IS NULL AS queued, project_id FROM atc_cancel ORDER BY 2, 1;
-- granting a queued project again is granting it twice
INSERT INTO atc_cancel (project_id) VALUES ('proj_z');
ROLLBACK;
BEGIN;
INSERT INTO atc_cancel (project_id) VALUES ('proj_y'), ('proj_z');
DELETE FROM atc_cancel WHERE project_id = 'proj_y';
DELETE FROM atc_cancel WHERE project_id = 'proj_0001';
INSERT INTO atc_cancel (project_id) VALUES ('proj_0001');
COMMIT;
SELECT method, body FROM mock_requests('ft:atc:cancel:seed-2') WHERE method <> 'GET';
SELECT id IS NOT NULL AS has_id, project_id FROM atc_cancel ORDER BY 2;

-- ON CONFLICT DO NOTHING: a project that has a permission, or whose
-- grant is queued, is a conflict; one whose permission is queued for
-- revoke is not
CREATE FOREIGN TABLE atc_conflict (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:atc:conflict:seed-2', apply_writes 'at_commit');
BEGIN;
INSERT INTO atc_conflict (project_id) VALUES ('proj_new');
DELETE FROM atc_conflict WHERE project_id = 'proj_0002';
INSERT INTO atc_conflict (project_id)
  VALUES ('proj_0001'), ('proj_new'), ('proj_0002'), ('proj_other')
  ON CONFLICT DO NOTHING RETURNING project_id;
COMMIT;
SELECT project_id FROM atc_conflict ORDER BY 1;

-- ROLLBACK TO SAVEPOINT drops only the savepoint's writes, and puts back
-- a grant that a revoke after it had cancelled
CREATE FOREIGN TABLE atc_sp (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:atc:savepoint', apply_writes 'at_commit');
BEGIN;
INSERT INTO atc_sp (project_id) VALUES ('proj_keep');
SAVEPOINT s;
INSERT INTO atc_sp (project_id) VALUES ('proj_drop');
DELETE FROM atc_sp WHERE project_id = 'proj_keep';
SELECT project_id FROM atc_sp ORDER BY 1;
ROLLBACK TO SAVEPOINT s;
SELECT project_id FROM atc_sp ORDER BY 1;
SAVEPOINT s2;
INSERT INTO atc_sp (project_id) VALUES ('proj_kept_too');
RELEASE SAVEPOINT s2;
COMMIT;
SELECT method, body FROM mock_requests('ft:atc:savepoint') WHERE method <> 'GET';
SELECT project_id FROM atc_sp ORDER BY 1;

-- PREPARE TRANSACTION with queued writes is refused, and sends nothing
BEGIN;
INSERT INTO atc_sp (project_id) VALUES ('proj_prepared');
PREPARE TRANSACTION 'atc';
SELECT count(*) FROM mock_requests('ft:atc:savepoint') WHERE method = 'POST';

-- several checkpoints and two servers (another user mapping) in one COMMIT
\getenv mock_url MOCK_URL
\getenv mock_key MOCK_KEY
CREATE SERVER mock_atc FOREIGN DATA WRAPPER checkpoint_perms
  OPTIONS (base_url :'mock_url', apply_writes 'at_commit', max_concurrency '4');
CREATE USER MAPPING FOR CURRENT_USER SERVER mock_atc OPTIONS (api_key :'mock_key');
CREATE FOREIGN TABLE atc_many (id text, project_id text, checkpoint text)
  SERVER mock_atc;
CREATE FOREIGN TABLE atc_now (id text, project_id text)
  SERVER mock_atc OPTIONS (checkpoint 'ft:atc:now:seed-1', apply_writes 'now');
BEGIN;
INSERT INTO atc_many (checkpoint, project_id)
  VALUES ('ft:atc:many1:seed-2', 'proj_m1'), ('ft:atc:many2:seed-2', 'proj_m2');
DELETE FROM atc_many WHERE checkpoint IN ('ft:atc:many1:seed-2', 'ft:atc:many2:seed-2')
  AND project_id = 'proj_0001';
INSERT INTO atc (project_id) VALUES ('proj_c');
-- a table in mode 'now' sends at once, even in this transaction
INSERT INTO atc_now (project_id) VALUES ('proj_now');
SELECT checkpoint, project_id, id IS NULL AS queued FROM atc_many
  WHERE checkpoint IN ('ft:atc:many1:seed-2', 'ft:atc:many2:seed-2') ORDER BY 1, 2;
SELECT count(*) AS sent_before_commit FROM mock_requests('ft:atc:many1:seed-2') WHERE method <> 'GET';
COMMIT;
SELECT method, body FROM mock_requests('ft:atc:many1:seed-2') WHERE method <> 'GET';
SELECT method, body FROM mock_requests('ft:atc:many2:seed-2') WHERE method <> 'GET';
SELECT checkpoint, project_id FROM atc_many
  WHERE checkpoint IN ('ft:atc:many1:seed-2', 'ft:atc:many2:seed-2') ORDER BY 1, 2;
SELECT project_id FROM atc WHERE project_id = 'proj_c';
SELECT transaction, checkpoint, action, project_id, outcome FROM checkpoint_perms_journal()
  ORDER BY checkpoint, action, project_id;

-- a COMMIT whose revoke the API refuses: what it applied is undone (the
-- grant revoked, the other revoke granted again, with a new id), it fails,
-- and the transaction rolls back; the API's projects are as before
-- (revokes one at a time, so that the request ids shown stay the same)
CREATE SERVER mock_one FOREIGN DATA WRAPPER checkpoint_perms
  OPTIONS (base_url :'mock_url', max_concurrency '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER mock_one OPTIONS (api_key :'mock_key');
CREATE FOREIGN TABLE atc_fail (id text, project_id text)
  SERVER mock_one OPTIONS (checkpoint 'ft:atc:fail:seed-3:delete-project-proj_0002-403',
                       apply_writes 'at_commit');
CREATE TABLE atc_before AS SELECT id, project_id FROM atc_fail;
BEGIN;
INSERT INTO atc_fail (project_id) VALUES ('proj_f');
DELETE FROM atc_fail WHERE project_id IN ('proj_0001', 'proj_0002');
COMMIT;
SELECT project_id FROM atc_fail ORDER BY 1;
SELECT b.project_id, b.id = a.id AS same_id
  FROM atc_before b JOIN atc_fail a USING (project_id) ORDER BY 1;
SELECT method, status, body FROM mock_requests('ft:atc:fail:seed-3:delete-project-proj_0002-403')
  WHERE method <> 'GET';
SELECT transaction, action, project_id, outcome, rolled_back FROM checkpoint_perms_journal()
  ORDER BY action, project_id;

-- the undo fails too (the grant again answers 500): what stays is named,
-- in the DETAIL and in the journal
CREATE FOREIGN TABLE atc_stuck (id text, project_id text)
  SERVER mock_one OPTIONS (checkpoint 'ft:atc:stuck:seed-3:delete-project-proj_0001-403:post-status-500',
                       apply_writes 'at_commit', max_pages '10');
-- (the rollback's WARNING names them too; psql prints it before or after
-- the error)
SET client_min_messages = error;
BEGIN;
DELETE FROM atc_stuck;
COMMIT;
RESET client_min_messages;
SELECT project_id FROM atc_stuck ORDER BY 1;
SELECT transaction, action, project_id, outcome, rolled_back FROM checkpoint_perms_journal()
  ORDER BY action, project_id;

-- the queue keeps what its writes were made with: a table dropped before
-- COMMIT still has its grant sent
BEGIN;
CREATE FOREIGN TABLE atc_dropped (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:atc:dropped', apply_writes 'at_commit');
INSERT INTO atc_dropped (project_id) VALUES ('proj_d');
DROP FOREIGN TABLE atc_dropped;
COMMIT;
SELECT method, body FROM mock_requests('ft:atc:dropped');

-- EXPLAIN says the writes wait for COMMIT; a DELETE by id lists, as its
-- count must be exact
EXPLAIN (COSTS OFF) INSERT INTO atc (project_id) VALUES ('proj_e');
EXPLAIN (COSTS OFF) DELETE FROM atc WHERE id = 'cp_x';
EXPLAIN (COSTS OFF) DELETE FROM atc WHERE project_id = 'proj_a' RETURNING id;

-- the PL/pgSQL loop of issue 20 over 150 permissions (two pages): each
-- DELETE queues one revoke, and its cursor pages on untouched
CREATE FOREIGN TABLE atc_loop (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:atc:loop:seed-150', apply_writes 'at_commit');
DO $$
DECLARE
  r record;
  n int := 0;
  d int;
BEGIN
  FOR r IN SELECT id FROM atc_loop LOOP
    DELETE FROM atc_loop WHERE id = r.id;
    GET DIAGNOSTICS d = ROW_COUNT;
    n := n + d;
  END LOOP;
  RAISE NOTICE 'revoked %, % left in this transaction', n, (SELECT count(*) FROM atc_loop);
END
$$;
SELECT count(*) FROM atc_loop;
SELECT method, count(*) FROM mock_requests('ft:atc:loop:seed-150') GROUP BY 1 ORDER BY 1;

-- DECLARE CURSOR, FETCH and DELETE between fetches
CREATE FOREIGN TABLE atc_cur (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:atc:cursor:seed-150', apply_writes 'at_commit');
BEGIN;
DECLARE c CURSOR FOR SELECT id FROM atc_cur;
CREATE TEMP TABLE atc_fetched (id text);
DO $$
DECLARE
  r record;
  cur refcursor := 'c';
BEGIN
  LOOP
    FETCH cur INTO r;
    EXIT WHEN NOT FOUND;
    INSERT INTO atc_fetched VALUES (r.id);
    DELETE FROM atc_cur WHERE id = r.id;
  END LOOP;
END
$$;
SELECT count(*), count(DISTINCT id) FROM atc_fetched;
SELECT count(*) AS left_in_transaction FROM atc_cur;
COMMIT;
SELECT count(*) FROM atc_cur;

-- in a REPEATABLE READ transaction the queue lies over the kept list: the
-- DELETEs by id of a loop read the list kept once, and COMMIT sends them
CREATE FOREIGN TABLE atc_rr (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:atc:rr:seed-40', apply_writes 'at_commit');
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) FROM atc_rr;
INSERT INTO atc_rr (project_id) VALUES ('proj_rr');
-- a grant queued is a conflict, not a permission the kept list misses
INSERT INTO atc_rr (project_id) VALUES ('proj_rr') ON CONFLICT DO NOTHING;
DELETE FROM atc_rr WHERE project_id = 'proj_0003';
SELECT count(*) AS rows, count(*) FILTER (WHERE id IS NULL) AS queued FROM atc_rr;
SELECT count(*) FROM atc_rr WHERE project_id IN ('proj_0003', 'proj_rr');
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT id FROM atc_rr WHERE id IS NOT NULL LOOP
    DELETE FROM atc_rr WHERE id = r.id;
  END LOOP;
END $$;
SELECT id IS NULL AS queued, project_id FROM atc_rr;
SELECT method, count(*) FROM mock_requests('ft:atc:rr:seed-40') GROUP BY 1 ORDER BY 1;
COMMIT;
SELECT method, count(*) FROM mock_requests('ft:atc:rr:seed-40') GROUP BY 1 ORDER BY 1;
SELECT id IS NULL AS no_id, project_id FROM atc_rr;

-- a COMMIT that revokes a project's permission and grants the project
-- again, whose POST is lost unapplied: the permission it is about to revoke
-- is not taken for the new one, the POST goes again (one permission left,
-- a new one)
CREATE FOREIGN TABLE atc_regrant (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:atc:regrant:seed-3:proj-3:post-fail-1-hangup',
                       apply_writes 'at_commit');
SELECT id AS old_id FROM atc_regrant WHERE project_id = 'proj_0001' \gset
BEGIN;
DELETE FROM atc_regrant WHERE project_id = 'proj_0001';
INSERT INTO atc_regrant (project_id) VALUES ('proj_0001');
COMMIT;
SELECT count(*) AS permissions, bool_and(id <> :'old_id') AS new_id
  FROM atc_regrant WHERE project_id = 'proj_0001';
SELECT method, count(*) FROM mock_requests('ft:atc:regrant:seed-3:proj-3:post-fail-1-hangup')
  WHERE method <> 'GET' GROUP BY 1 ORDER BY 1;

-- a cursor opened before a DELETE of a queued grant still returns it, as
-- it still returns a row whose revoke was queued after it opened
CREATE FOREIGN TABLE atc_cq (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:atc:cursorcancel:seed-2', apply_writes 'at_commit');
BEGIN;
INSERT INTO atc_cq (project_id) VALUES ('proj_q');
DECLARE c CURSOR FOR SELECT id IS NULL AS queued, project_id FROM atc_cq;
DELETE FROM atc_cq WHERE project_id = 'proj_q';
DELETE FROM atc_cq WHERE project_id = 'proj_0001';
FETCH ALL FROM c;
SELECT id IS NULL AS queued, project_id FROM atc_cq;
ROLLBACK;

-- the grants of two tables of one server go out at one COMMIT, each in
-- batches of its own table's batch_size
CREATE FOREIGN TABLE atc_b100 (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:atc:batch:wide', apply_writes 'at_commit');
CREATE FOREIGN TABLE atc_b1 (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:atc:batch:narrow', apply_writes 'at_commit', batch_size '1');
BEGIN;
INSERT INTO atc_b100 (project_id) VALUES ('proj_a'), ('proj_b'), ('proj_c');
INSERT INTO atc_b1 (project_id) VALUES ('proj_a'), ('proj_b'), ('proj_c');
COMMIT;
SELECT (SELECT count(*) FROM mock_requests('ft:atc:batch:wide') WHERE method = 'POST') AS wide_posts,
       (SELECT count(*) FROM mock_requests('ft:atc:batch:narrow') WHERE method = 'POST') AS narrow_posts,
       (SELECT count(*) FROM atc_b1) + (SELECT count(*) FROM atc_b100) AS granted;
