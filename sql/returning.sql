-- RETURNING of a DELETE run whole by id (issue 17, defect 5).  A delete
-- reply holds the id alone: the extension knows id, object and the
-- table's checkpoint of a revoked row, nothing else.  A RETURNING that
-- needs more (created_at, project_id, or a whole row that holds them) must
-- get the rows from a list first; a whole row of known columns needs none.

-- The requests of one statement: what the mock logged past a mark.
CREATE TABLE ret_mark (n bigint);
INSERT INTO ret_mark VALUES (0);
CREATE FUNCTION ret_sent(ckpt text) RETURNS TABLE (method text, path text, status int)
LANGUAGE sql AS $$
  SELECT method, regexp_replace(path, '^/v1/fine_tuning/checkpoints/[^/]+/', '.../'), status
  FROM (SELECT *, row_number() OVER () AS n FROM mock_requests(ckpt)) r
  WHERE n > (SELECT n FROM ret_mark)
$$;
CREATE FUNCTION ret_mark(ckpt text) RETURNS void LANGUAGE sql AS $$
  UPDATE ret_mark SET n = (SELECT count(*) FROM mock_requests(ckpt))
$$;

-- a table of one checkpoint, without a checkpoint column
CREATE FOREIGN TABLE ret_plain (id text, created_at bigint, project_id text, object text)
  SERVER mock OPTIONS (checkpoint 'ft:returning:plain');
INSERT INTO ret_plain (project_id) VALUES ('proj_a'), ('proj_b'), ('proj_c'), ('proj_d');
SELECT max(id) FILTER (WHERE project_id = 'proj_a') AS a,
       max(id) FILTER (WHERE project_id = 'proj_b') AS b,
       max(id) FILTER (WHERE project_id = 'proj_c') AS c,
       max(id) FILTER (WHERE project_id = 'proj_d') AS d
  FROM ret_plain \gset
-- a whole-row reference needs created_at and project_id: by list
EXPLAIN (COSTS OFF) DELETE FROM ret_plain t WHERE id = 'cp_x' RETURNING t;
SELECT ret_mark('ft:returning:plain');
DELETE FROM ret_plain t WHERE id = :'a' RETURNING t;
SELECT * FROM ret_sent('ft:returning:plain');
DELETE FROM ret_plain t WHERE id = :'b' RETURNING row_to_json(t);
DELETE FROM ret_plain t WHERE id = :'c' RETURNING t.*;
-- the whole row of the table's own name, in a function's argument
DELETE FROM ret_plain WHERE id = ANY (ARRAY[:'d', 'cp_missing'])
  RETURNING (ret_plain).project_id, ret_plain IS NOT NULL AS whole;
-- id and object alone: by id, one DELETE and no list
SELECT ret_mark('ft:returning:plain');
DELETE FROM ret_plain WHERE id = :'a' RETURNING id, object;
SELECT * FROM ret_sent('ft:returning:plain');
SELECT count(*) AS left FROM ret_plain;

-- a table of one checkpoint with a checkpoint column, which shows the option
CREATE FOREIGN TABLE ret_ckpt (checkpoint text, id text, created_at timestamptz,
                               project_id text, object text)
  SERVER mock OPTIONS (checkpoint 'ft:returning:ckpt');
INSERT INTO ret_ckpt (project_id) VALUES ('proj_a'), ('proj_b'), ('proj_c'), ('proj_d');
SELECT max(id) FILTER (WHERE project_id = 'proj_a') AS a,
       max(id) FILTER (WHERE project_id = 'proj_b') AS b,
       max(id) FILTER (WHERE project_id = 'proj_c') AS c,
       max(id) FILTER (WHERE project_id = 'proj_d') AS d
  FROM ret_ckpt \gset
EXPLAIN (COSTS OFF) DELETE FROM ret_ckpt t WHERE id = 'cp_x' RETURNING row_to_json(t);
DELETE FROM ret_ckpt t WHERE id = :'a' RETURNING t;
DELETE FROM ret_ckpt t WHERE id = :'b' RETURNING row_to_json(t);
DELETE FROM ret_ckpt t WHERE id = :'c' RETURNING t.*;
-- checkpoint, id and object: by id; tableoid is known too
SELECT ret_mark('ft:returning:ckpt');
DELETE FROM ret_ckpt WHERE id = :'d' RETURNING tableoid::regclass, checkpoint, id, object;
SELECT * FROM ret_sent('ft:returning:ckpt');

-- a whole row of only what a revoke knows needs no list either
CREATE FOREIGN TABLE ret_known (object text, id text, checkpoint text)
  SERVER mock OPTIONS (checkpoint 'ft:returning:ckpt');
INSERT INTO ret_ckpt (project_id) VALUES ('proj_e');
SELECT id AS e FROM ret_ckpt WHERE project_id = 'proj_e' \gset
SELECT ret_mark('ft:returning:ckpt');
DELETE FROM ret_known t WHERE id = :'e' RETURNING t, row_to_json(t);
SELECT * FROM ret_sent('ft:returning:ckpt');
SELECT count(*) AS left FROM ret_ckpt;

DROP FOREIGN TABLE ret_plain, ret_ckpt, ret_known;
DROP FUNCTION ret_sent(text), ret_mark(text);
DROP TABLE ret_mark;
