-- Partitioned tables of foreign partitions (issue 17, defect 6): INSERT is
-- routed to each partition, DELETE reaches each one, with and without
-- RETURNING, whatever order each partition has its columns in.  The
-- partitions' row types differ, so their row identity must not depend on
-- it; a local partition answers as a table does.

-- What the mock received for a checkpoint past a mark: the project a list
-- is filtered by, the projects a grant names.
CREATE TABLE pt_mark (ckpt text PRIMARY KEY, n bigint);
CREATE FUNCTION pt_mark(VARIADIC ckpts text[]) RETURNS void LANGUAGE sql AS $$
  INSERT INTO pt_mark SELECT c, (SELECT count(*) FROM mock_requests(c)) FROM unnest(ckpts) c
  ON CONFLICT (ckpt) DO UPDATE SET n = excluded.n
$$;
CREATE FUNCTION pt_sent(VARIADIC ckpts text[])
RETURNS TABLE (ckpt text, method text, path text, project_id text, status int)
LANGUAGE sql AS $$
  SELECT c AS ckpt, method, regexp_replace(path, '^/v1/fine_tuning/checkpoints/[^/]+/', '.../') AS path,
         coalesce(query->>'project_id', body->>'project_ids') AS project_id, status
  FROM unnest(ckpts) c,
       LATERAL (SELECT *, row_number() OVER () AS n FROM mock_requests(c)) r
  WHERE n > coalesce((SELECT n FROM pt_mark m WHERE m.ckpt = c), 0)
  ORDER BY 1, 2 DESC, 3, 4
$$;

-- two foreign partitions with the same columns: their row types differ all the same
CREATE TABLE same_parts (id text, project_id text, checkpoint text) PARTITION BY LIST (project_id);
CREATE FOREIGN TABLE same_1 PARTITION OF same_parts FOR VALUES IN ('proj_1')
  SERVER mock OPTIONS (checkpoint 'ft:parts:same1');
CREATE FOREIGN TABLE same_2 PARTITION OF same_parts FOR VALUES IN ('proj_2')
  SERVER mock OPTIONS (checkpoint 'ft:parts:same2');
INSERT INTO same_parts (project_id) VALUES ('proj_1'), ('proj_2');
\set QUIET off
DELETE FROM same_parts WHERE id = 'cp_none' RETURNING checkpoint;
DELETE FROM same_parts WHERE project_id IN ('proj_1', 'proj_2')
  RETURNING tableoid::regclass AS part, checkpoint, project_id;
\set QUIET on
SELECT count(*) AS left FROM same_parts;
DROP TABLE same_parts;

-- by project: two foreign partitions of one checkpoint each, the second
-- with its columns in another order and a dropped one, and a local one
CREATE TABLE parts (id text, created_at bigint, project_id text, object text, checkpoint text)
  PARTITION BY LIST (project_id);
CREATE FOREIGN TABLE parts_a PARTITION OF parts FOR VALUES IN ('proj_a1', 'proj_a2', 'proj_a3')
  SERVER mock OPTIONS (checkpoint 'ft:parts:a');
CREATE FOREIGN TABLE parts_b (checkpoint text, gone int, object text, project_id text,
                              created_at bigint, id text)
  SERVER mock OPTIONS (checkpoint 'ft:parts:b');
ALTER FOREIGN TABLE parts_b DROP COLUMN gone;
ALTER TABLE parts ATTACH PARTITION parts_b FOR VALUES IN ('proj_b1', 'proj_b2', 'proj_b3');
CREATE TABLE parts_l PARTITION OF parts DEFAULT;

-- INSERT routed to each partition, one row at a time with RETURNING
INSERT INTO parts (project_id) VALUES ('proj_a1'), ('proj_b1'), ('proj_l1'), ('proj_b2')
  RETURNING tableoid::regclass AS part, *;
-- and in batches without
INSERT INTO parts (project_id) VALUES ('proj_a2'), ('proj_a3'), ('proj_b3'), ('proj_l2'), ('proj_l3');
SELECT * FROM pt_sent('ft:parts:a', 'ft:parts:b');
SELECT tableoid::regclass AS part, * FROM parts ORDER BY project_id;
CREATE TABLE pt_ids AS SELECT project_id, id FROM parts;
SELECT max(id) FILTER (WHERE project_id = 'proj_a1') AS a1,
       max(id) FILTER (WHERE project_id = 'proj_b1') AS b1
  FROM pt_ids \gset
SELECT pt_mark('ft:parts:a', 'ft:parts:b');

-- DELETE by id, run whole on each foreign partition: one DELETE each, no list
EXPLAIN (COSTS OFF) DELETE FROM parts WHERE id = 'cp_none' RETURNING checkpoint;
\set QUIET off
DELETE FROM parts WHERE id = 'cp_none' RETURNING checkpoint;
DELETE FROM parts WHERE id = 'cp_none';
DELETE FROM parts WHERE id = :'a1' RETURNING tableoid::regclass AS part, checkpoint, id, object;
-- a whole row needs the list of each foreign partition
DELETE FROM parts t WHERE id = :'b1' RETURNING t, row_to_json(t);
\set QUIET on
SELECT * FROM pt_sent('ft:parts:a', 'ft:parts:b');
SELECT pt_mark('ft:parts:a', 'ft:parts:b');
-- by project_id: the partition that holds it, with its project pushed
\set QUIET off
DELETE FROM parts WHERE project_id = 'proj_b2' RETURNING tableoid::regclass AS part, *;
DELETE FROM parts WHERE project_id = 'proj_l1' RETURNING tableoid::regclass AS part, *;
DELETE FROM parts WHERE project_id IN ('proj_a2', 'proj_l2');
\set QUIET on
SELECT * FROM pt_sent('ft:parts:a', 'ft:parts:b');
SELECT pt_mark('ft:parts:a', 'ft:parts:b');
-- row by row (a join): every partition's rows, identified by their own columns
CREATE TABLE pt_victims (project text);
INSERT INTO pt_victims VALUES ('proj_a3'), ('proj_b3'), ('proj_l3'), ('proj_nowhere');
EXPLAIN (COSTS OFF) DELETE FROM parts p USING pt_victims v WHERE p.project_id = v.project;
\set QUIET off
DELETE FROM parts p USING pt_victims v WHERE p.project_id = v.project
  RETURNING p.tableoid::regclass AS part, p, p.checkpoint;
\set QUIET on
SELECT * FROM pt_sent('ft:parts:a', 'ft:parts:b');
SELECT pt_mark('ft:parts:a', 'ft:parts:b');
-- without RETURNING, in a table whose partition has a row trigger
INSERT INTO parts (project_id) VALUES ('proj_a1'), ('proj_b1'), ('proj_l1');
CREATE FUNCTION pt_note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE 'revoked % of %', OLD.project_id, OLD.checkpoint;
  RETURN OLD;
END $$;
CREATE TRIGGER pt_note AFTER DELETE ON parts_b FOR EACH ROW EXECUTE FUNCTION pt_note();
BEGIN;
\set QUIET off
DELETE FROM parts WHERE project_id LIKE 'proj_%1';
\set QUIET on
-- the journal names each revoke's project, read from its partition's row
SELECT action, checkpoint, project_id, outcome FROM checkpoint_perms_journal()
  WHERE checkpoint LIKE 'ft:parts:%' ORDER BY 2, 3;
COMMIT;
SELECT * FROM pt_sent('ft:parts:a', 'ft:parts:b');
-- what the API holds now: nothing, and the local partition is empty
SELECT tableoid::regclass AS part, * FROM parts;
SELECT (SELECT count(*) FROM parts_a) AS a, (SELECT count(*) FROM parts_b) AS b;

-- by checkpoint: two foreign partitions of one checkpoint each (columns in
-- two orders), one across two checkpoints, and a local one.  The one
-- across checkpoints lists every checkpoint a condition names, as any
-- such table does (PostgreSQL trusts a foreign partition to hold only what
-- its bound says): each statement below names its checkpoints, or those
-- of the partitions of one checkpoint and the local one only.
CREATE TABLE ckparts (checkpoint text, id text, project_id text, created_at timestamptz)
  PARTITION BY LIST (checkpoint);
CREATE FOREIGN TABLE ck_x PARTITION OF ckparts FOR VALUES IN ('ft:parts:x')
  SERVER mock OPTIONS (checkpoint 'ft:parts:x');
CREATE FOREIGN TABLE ck_y (created_at timestamptz, project_id text, id text, checkpoint text)
  SERVER mock OPTIONS (checkpoint 'ft:parts:y');
ALTER TABLE ckparts ATTACH PARTITION ck_y FOR VALUES IN ('ft:parts:y');
CREATE FOREIGN TABLE ck_z (id text, checkpoint text, project_id text, created_at timestamptz)
  SERVER mock;
ALTER TABLE ckparts ATTACH PARTITION ck_z FOR VALUES IN ('ft:parts:z1', 'ft:parts:z2');
CREATE TABLE ck_local PARTITION OF ckparts DEFAULT;
CREATE VIEW ck_all AS
  SELECT tableoid::regclass AS part, checkpoint, project_id FROM ckparts
    WHERE checkpoint IN ('ft:parts:x', 'ft:parts:y', 'ft:local')
  UNION ALL
  SELECT tableoid::regclass, checkpoint, project_id FROM ckparts
    WHERE checkpoint IN ('ft:parts:z1', 'ft:parts:z2');
INSERT INTO ckparts (checkpoint, project_id) VALUES
  ('ft:parts:x', 'proj_1'), ('ft:parts:y', 'proj_1'), ('ft:parts:z1', 'proj_1'),
  ('ft:parts:z2', 'proj_1'), ('ft:local', 'proj_1')
  RETURNING tableoid::regclass AS part, *;
INSERT INTO ckparts (checkpoint, project_id) VALUES
  ('ft:parts:x', 'proj_2'), ('ft:parts:y', 'proj_2'), ('ft:parts:z1', 'proj_2'),
  ('ft:parts:z2', 'proj_2'), ('ft:local', 'proj_2');
SELECT * FROM pt_sent('ft:parts:x', 'ft:parts:y', 'ft:parts:z1', 'ft:parts:z2');
SELECT * FROM ck_all ORDER BY 1, 2, 3;
SELECT pt_mark('ft:parts:x', 'ft:parts:y', 'ft:parts:z1', 'ft:parts:z2');
SELECT id AS x1 FROM ck_x WHERE project_id = 'proj_1' \gset
SELECT id AS y1 FROM ck_y WHERE project_id = 'proj_1' \gset
-- by id alone: the partition across checkpoints needs them named
DELETE FROM ckparts WHERE id = 'cp_none';
\set QUIET off
DELETE FROM ckparts WHERE checkpoint IN ('ft:parts:x', 'ft:parts:y', 'ft:local')
  AND id IN (:'x1', :'y1') RETURNING tableoid::regclass AS part, checkpoint, id;
-- by checkpoint and project, the whole row returned
DELETE FROM ckparts WHERE checkpoint IN ('ft:parts:x', 'ft:parts:y', 'ft:local')
  AND project_id = 'proj_1' RETURNING tableoid::regclass AS part, ckparts;
DELETE FROM ckparts WHERE checkpoint IN ('ft:parts:z1', 'ft:parts:z2')
  AND project_id = 'proj_1' RETURNING tableoid::regclass AS part, ckparts;
\set QUIET on
SELECT * FROM pt_sent('ft:parts:x', 'ft:parts:y', 'ft:parts:z1', 'ft:parts:z2');
SELECT pt_mark('ft:parts:x', 'ft:parts:y', 'ft:parts:z1', 'ft:parts:z2');
-- row by row: a join on the partitions of one checkpoint and the local one
CREATE TABLE ck_victims (checkpoint text, project text);
INSERT INTO ck_victims VALUES ('ft:parts:x', 'proj_2'), ('ft:parts:y', 'proj_2'),
  ('ft:local', 'proj_2');
\set QUIET off
DELETE FROM ckparts p USING ck_victims v
  WHERE p.checkpoint IN ('ft:parts:x', 'ft:parts:y', 'ft:local')
    AND p.checkpoint = v.checkpoint AND p.project_id = v.project
  RETURNING p.tableoid::regclass AS part, p.checkpoint, p.project_id, p.id IS NOT NULL AS has_id;
\set QUIET on
-- and a row trigger on the one across checkpoints: each row's checkpoint
CREATE TRIGGER pt_note AFTER DELETE ON ck_z FOR EACH ROW EXECUTE FUNCTION pt_note();
\set QUIET off
DELETE FROM ckparts WHERE checkpoint IN ('ft:parts:z1', 'ft:parts:z2') AND project_id = 'proj_2'
  RETURNING tableoid::regclass AS part, checkpoint, project_id;
\set QUIET on
SELECT * FROM pt_sent('ft:parts:x', 'ft:parts:y', 'ft:parts:z1', 'ft:parts:z2');
-- what the API holds now: nothing
SELECT * FROM ck_all;

DROP VIEW ck_all;
DROP TABLE parts, ckparts, pt_ids, pt_victims, ck_victims, pt_mark;
DROP FUNCTION pt_mark(text[]), pt_sent(text[]), pt_note();
