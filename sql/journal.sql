-- Honest rollbacks: a transaction or subtransaction that rolls back after
-- it sent grants or revokes raises a WARNING saying what stays applied, and
-- checkpoint_perms_journal() lists what the session sent, so that one more
-- statement can undo it.
CREATE FOREIGN TABLE jt (id text, created_at bigint, project_id text, object text)
  SERVER mock OPTIONS (checkpoint 'ft:journal:jt:seed-3');

-- ROLLBACK after grants and a revoke
BEGIN;
INSERT INTO jt (project_id) VALUES ('proj_a'), ('proj_b');
DELETE FROM jt WHERE project_id = 'proj_0001';
SELECT transaction, checkpoint, action, project_id, permission_id, outcome, rolled_back
  FROM checkpoint_perms_journal();
ROLLBACK;
-- the rolled-back transaction is now the previous one; sent_at is when
SELECT transaction, action, project_id, permission_id, outcome, rolled_back,
       sent_at <= now() AS sent_before_now
  FROM checkpoint_perms_journal();
SELECT project_id FROM jt ORDER BY 1;

-- undo it with one statement: revoke what it granted, grant again what it revoked
WITH sent AS (SELECT * FROM checkpoint_perms_journal()
              WHERE transaction = 'previous' AND outcome = 'applied'
                AND checkpoint = 'ft:journal:jt:seed-3'),
     ungrant AS (DELETE FROM jt WHERE id IN (SELECT permission_id FROM sent WHERE action = 'grant')
                 RETURNING project_id)
INSERT INTO jt (project_id) SELECT project_id FROM sent WHERE action = 'revoke'
  RETURNING project_id, (SELECT count(*) FROM ungrant) AS revoked;
SELECT project_id FROM jt ORDER BY 1;
-- that statement committed: it is the previous transaction now
SELECT transaction, action, project_id, outcome, rolled_back FROM checkpoint_perms_journal();

-- ROLLBACK TO SAVEPOINT warns about the subtransaction's grants only;
-- COMMIT warns about nothing
BEGIN;
INSERT INTO jt (project_id) VALUES ('proj_c');
SAVEPOINT s;
INSERT INTO jt (project_id) VALUES ('proj_d');
SAVEPOINT s2;
DELETE FROM jt WHERE project_id = 'proj_c';
RELEASE SAVEPOINT s2;
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT transaction, action, project_id, outcome, rolled_back FROM checkpoint_perms_journal();

-- an error caught by PL/pgSQL rolls back its block, a subtransaction
DO $$
BEGIN
  INSERT INTO jt (project_id) VALUES ('proj_e');
  RAISE EXCEPTION 'the script failed';
EXCEPTION WHEN raise_exception THEN
  RAISE NOTICE 'caught: %', SQLERRM;
END
$$;

-- WITH CHECK OPTION fails after the POST: the grant was made
CREATE VIEW jt_ok AS SELECT * FROM jt WHERE project_id LIKE 'proj_ok%' WITH CHECK OPTION;
DO $$
BEGIN
  INSERT INTO jt_ok (project_id) VALUES ('proj_bad');
EXCEPTION WHEN with_check_option_violation THEN
  RAISE NOTICE 'caught: %', SQLERRM;
END
$$;
SELECT project_id FROM jt WHERE project_id IN ('proj_e', 'proj_bad') ORDER BY 1;

-- a revoke of a permission already gone (404) is "not found": it is in
-- the journal, and no rollback warns about it
CREATE FOREIGN TABLE jt_gone (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:journal:gone:seed-2:delete-status-404');
BEGIN;
DELETE FROM jt_gone;
ROLLBACK;
SELECT action, project_id, outcome, rolled_back FROM checkpoint_perms_journal()
  WHERE transaction = 'previous';

-- the journal keeps 10000 entries per transaction and counts the rest
CREATE FOREIGN TABLE jt_many (project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:journal:many', batch_size '1000');
BEGIN;
INSERT INTO jt_many SELECT format('proj_%s', g) FROM generate_series(1, 10003) g;
ROLLBACK;
SELECT count(*), min(project_id), max(project_id) FROM checkpoint_perms_journal();

-- a revoke whose first attempt acted and lost its reply (past timeout_ms),
-- and whose retry is refused (400): the 400 says nothing of the first
-- attempt, so the revoke stays "unknown" in the journal
\getenv mock_url MOCK_URL
\getenv mock_key MOCK_KEY
CREATE SERVER mock_quick FOREIGN DATA WRAPPER checkpoint_perms
  OPTIONS (base_url :'mock_url', timeout_ms '500', max_concurrency '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER mock_quick OPTIONS (api_key :'mock_key');
CREATE FOREIGN TABLE jt_stall (id text, project_id text)
  SERVER mock_quick OPTIONS (checkpoint 'ft:journal:lostreply:seed-1:delete-fail-1-stall:delete-after-1-400');
SET client_min_messages = error;
BEGIN;
DELETE FROM jt_stall;
ROLLBACK;
RESET client_min_messages;
SELECT action, project_id, outcome, rolled_back FROM checkpoint_perms_journal()
  WHERE transaction = 'previous' AND action = 'revoke';
SELECT method, status FROM mock_requests('ft:journal:lostreply:seed-1:delete-fail-1-stall:delete-after-1-400');
