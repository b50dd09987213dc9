-- What a grant or revoke did is settled from what happened to its request
-- (not sent / sent without a whole reply / replied with a status), never
-- guessed from the SQLSTATE of the error that stopped the statement: an
-- error nobody listed, raised after the API answered 2xx, keeps the request
-- in the journal and in the rollback warning, as "unknown".
--
-- The realistic case: a database in LATIN1, and a reply holding a character
-- LATIN1 lacks (the mock's token nonlatin1 appends U+2603 after the API did
-- the work), which fails with untranslatable_character (22P05).
SELECT current_database() AS regress_db \gset
\getenv mock_url MOCK_URL
\getenv mock_key MOCK_KEY
CREATE DATABASE cp_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c cp_latin1
SET client_min_messages = warning;
CREATE EXTENSION checkpoint_perms;
RESET client_min_messages;
CREATE SERVER mock FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url :'mock_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER mock OPTIONS (api_key :'mock_key');

-- a grant: the POST was applied, its 2xx reply cannot be read here
CREATE FOREIGN TABLE l1_grant (id text, project_id text, object text)
  SERVER mock OPTIONS (checkpoint 'ft:outcome:grant:post-nonlatin1');
-- the rollback warning may reach psql before or after the error: hidden here, shown below
SET client_min_messages = error;
INSERT INTO l1_grant (project_id) VALUES ('proj_a');
RESET client_min_messages;
SELECT transaction, action, project_id, permission_id IS NULL AS no_id, outcome, rolled_back
  FROM checkpoint_perms_journal() WHERE transaction = 'previous';
-- it was applied: the list (whose replies this database can read) shows it
SELECT project_id, object FROM l1_grant;

-- the same grant in a PL/pgSQL block: the warning names it
DO $$
BEGIN
  INSERT INTO l1_grant (project_id) VALUES ('proj_b');
EXCEPTION WHEN untranslatable_character THEN
  RAISE NOTICE 'caught %', SQLSTATE;
END
$$;

-- grants of two checkpoints (their first POSTs in one batch, here one at a
-- time so that the order is known): the first was applied, the second's
-- reply cannot be read
CREATE SERVER mock_one FOREIGN DATA WRAPPER checkpoint_perms
  OPTIONS (base_url :'mock_url', max_concurrency '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER mock_one OPTIONS (api_key :'mock_key');
CREATE FOREIGN TABLE l1_many (checkpoint text, id text, project_id text) SERVER mock_one;
SET client_min_messages = error;
INSERT INTO l1_many (checkpoint, project_id)
  VALUES ('ft:outcome:many1', 'proj_c'), ('ft:outcome:many2:post-nonlatin1', 'proj_d');
RESET client_min_messages;
SELECT checkpoint, action, project_id, outcome FROM checkpoint_perms_journal()
  WHERE transaction = 'previous' ORDER BY checkpoint;

-- a revoke, row by row (a DELETE with a join): the DELETE was applied, its
-- 2xx reply cannot be read here
CREATE FOREIGN TABLE l1_revoke (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:outcome:revoke:seed-2:delete-nonlatin1');
CREATE TABLE l1_gone (project text);
INSERT INTO l1_gone VALUES ('proj_0001');
SET client_min_messages = error;
DELETE FROM l1_revoke r USING l1_gone g WHERE r.project_id = g.project;
RESET client_min_messages;
SELECT action, project_id, permission_id IS NOT NULL AS has_id, outcome FROM checkpoint_perms_journal()
  WHERE transaction = 'previous';
SELECT project_id FROM l1_revoke;

-- a revoke run whole by the extension (direct modify)
SET client_min_messages = error;
DELETE FROM l1_revoke WHERE project_id = 'proj_0002';
RESET client_min_messages;
SELECT action, project_id, permission_id IS NOT NULL AS has_id, outcome FROM checkpoint_perms_journal()
  WHERE transaction = 'previous';
SELECT count(*) AS left FROM l1_revoke;

\c :regress_db
DROP DATABASE cp_latin1;
