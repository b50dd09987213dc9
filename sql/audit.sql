-- checkpoint_perms.log_writes: one LOG line per grant and per revoke that
-- the API applied or whose outcome is unknown (client_min_messages = log
-- shows them here as the server log has them); never one for a request
-- that did nothing, nor for a revoke of a permission already gone.
CREATE FOREIGN TABLE audit_perms (id text, created_at bigint, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:audit:seed-2');
-- off by default: nothing logged
SHOW checkpoint_perms.log_writes;
SET client_min_messages = log;
INSERT INTO audit_perms (project_id) VALUES ('proj_quiet');
SET checkpoint_perms.log_writes = on;
-- grants and revokes the API applied, row by row and whole
INSERT INTO audit_perms (project_id) VALUES ('proj_a'), ('proj_b');
-- (one statement each: the revokes of one go out at once, in no fixed order)
DELETE FROM audit_perms WHERE project_id = 'proj_a';
DELETE FROM audit_perms WHERE project_id = 'proj_quiet';
DELETE FROM audit_perms WHERE id = 'cp_does_not_exist';
-- a grant whose reply was lost after the API acted: the list learns it
-- was applied (no reply, so no request id)
CREATE FOREIGN TABLE audit_lost (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:audit:lost:post-fail-1-applied-hangup');
INSERT INTO audit_lost (project_id) VALUES ('proj_lost');
-- revokes whose outcome is unknown: a 5xx after the API may have acted
\getenv mock_url MOCK_URL
\getenv mock_key MOCK_KEY
CREATE SERVER audit_noretry FOREIGN DATA WRAPPER checkpoint_perms
  OPTIONS (base_url :'mock_url', max_retries '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER audit_noretry OPTIONS (api_key :'mock_key');
CREATE FOREIGN TABLE audit_5xx (id text, project_id text)
  SERVER audit_noretry OPTIONS (checkpoint 'ft:audit:5xx:seed-1:delete-status-500');
-- (the error caught in PL/pgSQL: the rollback warning and the error are
-- then both notices, in the order sent; psql may print an ERROR before or
-- after a warning that follows it)
DO $$
BEGIN
  DELETE FROM audit_5xx WHERE id = 'cp_x1';
EXCEPTION WHEN OTHERS THEN
  RAISE NOTICE 'the revoke failed: %', SQLERRM;
END $$;
-- a grant refused with a 4xx did nothing: no line
CREATE FOREIGN TABLE audit_400 (id text, project_id text)
  SERVER audit_noretry OPTIONS (checkpoint 'ft:audit:400:post-status-400');
INSERT INTO audit_400 (project_id) VALUES ('proj_refused');
RESET client_min_messages;
-- only a superuser may change it
CREATE ROLE regress_cp_auditee;
SET ROLE regress_cp_auditee;
SET checkpoint_perms.log_writes = off;
RESET ROLE;
DROP ROLE regress_cp_auditee;
RESET checkpoint_perms.log_writes;
DROP SERVER audit_noretry CASCADE;
