-- Shared by every test file: the mock's address and request log, a server
-- and a user mapping with the mock's own test key.
\getenv mock_url MOCK_URL
\getenv mock_log MOCK_LOG
\getenv mock_key MOCK_KEY
SELECT extname, extversion FROM pg_extension WHERE extname = 'checkpoint_perms';
CREATE TABLE mock_config AS SELECT :'mock_log'::text AS log_path;
CREATE SERVER mock FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url :'mock_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER mock OPTIONS (api_key :'mock_key');

-- The requests the mock received for one checkpoint, in order.
CREATE FUNCTION mock_requests(ckpt text)
RETURNS TABLE (method text, path text, query jsonb, status int, body jsonb)
LANGUAGE sql AS $$
  SELECT l->>'method', l->>'path', l->'query', (l->>'status')::int, l->'body'
  FROM (SELECT line::jsonb AS l
        FROM regexp_split_to_table(pg_read_file((SELECT log_path FROM mock_config)), E'\n') AS line
        WHERE line <> '') s
  WHERE l->>'checkpoint' = ckpt
  ORDER BY (l->>'seq')::int
$$;

-- The same, for requests a statement sends at once (the lists or revokes of
-- one batch arrive in no fixed order): runs of one method stay in order,
-- the requests within a run are sorted.
CREATE FUNCTION mock_requests_sorted(ckpt text)
RETURNS TABLE (method text, path text, query jsonb, status int, body jsonb)
LANGUAGE sql AS $$
  SELECT method, path, query, status, body FROM (
    SELECT *, count(*) FILTER (WHERE changed) OVER (ORDER BY n) AS run FROM (
      SELECT *, method IS DISTINCT FROM lag(method) OVER (ORDER BY n) AS changed FROM (
        SELECT *, row_number() OVER () AS n FROM mock_requests(ckpt)) r) c) g
  ORDER BY run, path, query::text, body::text
$$;

-- EXPLAIN's output, less what changes between PostgreSQL versions: an
-- InitPlan's result is "$0" before 17 and "(InitPlan 1).col1" since (shown
-- as "<initplan>"), and 18 shows actual rows with two decimals ("rows=4.00",
-- shown as "rows=4"); 18 marks a node the enable_* settings disabled
-- ("Disabled: true"), a line left out here.
CREATE FUNCTION explain_filter(query text, options text DEFAULT 'COSTS OFF')
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  line text;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (' || options || ') ' || query LOOP
    CONTINUE WHEN line ~ '^\s*Disabled: true$';
    line := regexp_replace(line, '^(\s*InitPlan \d+) \(returns \$\d+\)$', '\1');
    IF line ~ '^\s*Filter: ' THEN
      line := regexp_replace(line, '\$\d+|\(InitPlan \d+\)\.col\d+', '<initplan>', 'g');
    END IF;
    line := regexp_replace(line, '\(actual rows=(\d+)\.00 ', '(actual rows=\1 ');
    RETURN NEXT line;
  END LOOP;
END
$$;

-- Requests of one checkpoint as the mock logged them.
CREATE FUNCTION conc_log(ckpt text)
RETURNS TABLE (seq int, ts float8, conn int, project text, status int, fault text, method text)
LANGUAGE sql AS $$
  SELECT (l->>'seq')::int, (l->>'ts')::float8, (l->>'conn')::int, l->'query'->>'project_id',
         (l->>'status')::int, l->>'fault', l->>'method'
  FROM (SELECT line::jsonb AS l
        FROM regexp_split_to_table(pg_read_file((SELECT log_path FROM mock_config)), E'\n') AS line
        WHERE line <> '') s
  WHERE l->>'checkpoint' = ckpt
$$;

-- The most requests that were in flight at once, for a mock that takes at
-- least `slow` seconds to answer each: a request that arrived less than
-- `slow` before another had not been answered when the other arrived.
CREATE FUNCTION conc_overlap(ckpt text, slow float8, only_status int DEFAULT NULL)
RETURNS bigint LANGUAGE sql AS $$
  SELECT max(n) FROM (
    SELECT (SELECT count(*) FROM conc_log(ckpt) b
            WHERE b.ts <= a.ts AND a.ts < b.ts + slow
              AND (only_status IS NULL OR b.status = only_status)) AS n
    FROM conc_log(ckpt) a
    WHERE only_status IS NULL OR a.status = only_status) s
$$;
