-- Whose key a grant uses: the role that PostgreSQL checks the write
-- against, as postgres_fdw picks its user mapping.  The owner of a view
-- for a write through it (also when the row is routed into a foreign
-- partition), the function's owner in a SECURITY DEFINER function, else
-- the current user (a COPY, a trigger).  Role alice's mapping has the mock's
-- key; bob's a wrong one, so a grant made with bob's key fails with 401.
\getenv mock_key MOCK_KEY
SET client_min_messages = warning;
CREATE ROLE regress_cp_alice;
CREATE ROLE regress_cp_bob;
RESET client_min_messages;
GRANT USAGE ON FOREIGN SERVER mock TO regress_cp_alice, regress_cp_bob;
GRANT CREATE ON SCHEMA public TO regress_cp_alice;
CREATE USER MAPPING FOR regress_cp_alice SERVER mock OPTIONS (api_key :'mock_key');
CREATE USER MAPPING FOR regress_cp_bob SERVER mock OPTIONS (api_key 'sk-not-the-key');
-- the error of a grant with bob's key, without its varying request id
CREATE FUNCTION try_grant(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE stmt;
  RETURN 'granted';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
GRANT EXECUTE ON FUNCTION try_grant(text) TO PUBLIC;

SET ROLE regress_cp_alice;
CREATE FOREIGN TABLE id_perms (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:identity:direct');
-- a partitioned table with a foreign partition
CREATE TABLE id_parted (id text, project_id text) PARTITION BY LIST (project_id);
CREATE FOREIGN TABLE id_part_remote PARTITION OF id_parted FOR VALUES IN ('proj_r1', 'proj_r2', 'proj_r3', 'proj_r4')
  SERVER mock OPTIONS (checkpoint 'ft:identity:routed');
CREATE TABLE id_part_local PARTITION OF id_parted DEFAULT;
CREATE VIEW id_view AS SELECT * FROM id_perms;
CREATE VIEW id_parted_view AS SELECT * FROM id_parted;
GRANT SELECT, INSERT ON id_perms, id_parted, id_view, id_parted_view TO regress_cp_bob;
-- a SECURITY DEFINER function that grants
CREATE FUNCTION id_grant_as_owner(project text) RETURNS void
  LANGUAGE sql SECURITY DEFINER AS $$ INSERT INTO id_perms (project_id) VALUES (project) $$;
-- a trigger that grants on a local table's insert, one plain, one SECURITY DEFINER
CREATE TABLE id_requests (project text);
CREATE FUNCTION id_requests_grant() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO id_perms (project_id) VALUES (NEW.project);
  RETURN NEW;
END $$;
CREATE TRIGGER id_requests_grant AFTER INSERT ON id_requests
  FOR EACH ROW EXECUTE FUNCTION id_requests_grant();
CREATE TABLE id_requests_definer (project text);
CREATE FUNCTION id_requests_grant_definer() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
  INSERT INTO id_perms (project_id) VALUES (NEW.project);
  RETURN NEW;
END $$;
CREATE TRIGGER id_requests_grant_definer AFTER INSERT ON id_requests_definer
  FOR EACH ROW EXECUTE FUNCTION id_requests_grant_definer();
GRANT INSERT ON id_requests, id_requests_definer TO regress_cp_bob;
RESET ROLE;

SET ROLE regress_cp_bob;
-- directly: bob's own key
SELECT try_grant($$INSERT INTO id_perms (project_id) VALUES ('proj_bob')$$);
-- through alice's view: alice's key
SELECT try_grant($$INSERT INTO id_view (project_id) VALUES ('proj_v1')$$);
-- routed into the foreign partition through alice's view: alice's key
SELECT try_grant($$INSERT INTO id_parted_view (project_id) VALUES ('proj_r1')$$);
-- routed from the partitioned table itself: bob's key
SELECT try_grant($$INSERT INTO id_parted (project_id) VALUES ('proj_r2')$$);
-- a SECURITY DEFINER function: its owner's key
SELECT try_grant($$SELECT id_grant_as_owner('proj_f1')$$);
-- a trigger runs as the user who fired it, unless it is SECURITY DEFINER
SELECT try_grant($$INSERT INTO id_requests VALUES ('proj_t1')$$);
SELECT try_grant($$INSERT INTO id_requests_definer VALUES ('proj_t2')$$);
RESET ROLE;

-- COPY into the partitioned table routes too, with the copying user's key
SET ROLE regress_cp_alice;
COPY id_parted (project_id) FROM STDIN;
proj_r3
proj_zz
\.
RESET ROLE;
SET ROLE regress_cp_bob;
\set VERBOSITY terse
COPY id_parted (project_id) FROM STDIN;
proj_r4
\.
\set VERBOSITY default
RESET ROLE;

-- what the API kept: the grants made with alice's key
SELECT project_id FROM id_perms ORDER BY 1;
SELECT project_id FROM id_part_remote ORDER BY 1;
SELECT project_id FROM id_part_local ORDER BY 1;

SET client_min_messages = warning;
DROP OWNED BY regress_cp_alice, regress_cp_bob CASCADE;
DROP ROLE regress_cp_alice;
DROP ROLE regress_cp_bob;
RESET client_min_messages;
