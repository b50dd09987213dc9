-- Bounds on created_at stop paging: a lower bound lists newest first and
-- stops at the first older row, an upper bound oldest first; with both,
-- the end with fewer rows.  2,000 permissions, created_at one second apart.
CREATE FOREIGN TABLE recent (id text, created_at timestamptz, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:bounds:seed-2000:proj-40');
CREATE FUNCTION recent_requests() RETURNS bigint LANGUAGE sql
  AS $$ SELECT count(*) FROM mock_requests('ft:bounds:seed-2000:proj-40') $$;
CREATE FUNCTION requests_for(query text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE before bigint := recent_requests();
BEGIN
  EXECUTE query;
  RETURN recent_requests() - before;
END $$;
SET timezone = 'UTC';
-- the newest is 1721764867 + 1999 seconds: the 50 newest are >= this
SELECT to_timestamp(1721764867 + 1950) AS newest50 \gset

EXPLAIN (COSTS OFF) SELECT * FROM recent WHERE created_at >= :'newest50';
SELECT count(*), min(created_at), max(created_at) FROM recent WHERE created_at >= :'newest50';
SELECT requests_for(format('SELECT * FROM recent WHERE created_at >= %L', :'newest50')) AS requests;
-- > excludes the bound itself
SELECT count(*) FROM recent WHERE created_at > :'newest50';
-- an upper bound: oldest first
EXPLAIN (COSTS OFF) SELECT * FROM recent WHERE created_at < to_timestamp(1721764867 + 30);
SELECT count(*), max(created_at) FROM recent WHERE created_at < to_timestamp(1721764867 + 30);
SELECT requests_for('SELECT * FROM recent WHERE created_at <= to_timestamp(1721764867 + 30)') AS requests;
-- both: the cheaper end (without statistics, newest first)
SELECT count(*) FROM recent
  WHERE created_at BETWEEN to_timestamp(1721764867 + 1900) AND to_timestamp(1721764867 + 1949);
SELECT requests_for($$SELECT * FROM recent
  WHERE created_at BETWEEN to_timestamp(1721764867 + 1900) AND to_timestamp(1721764867 + 1949)$$) AS requests;
-- with the other pushdowns: a project and a LIMIT, and ORDER BY in the
-- bound's direction needs no Sort; the opposite one sorts here
EXPLAIN (COSTS OFF) SELECT * FROM recent
  WHERE project_id = 'proj_0007' AND created_at >= :'newest50' ORDER BY created_at DESC LIMIT 2;
SELECT project_id, created_at FROM recent
  WHERE project_id = 'proj_0007' AND created_at >= to_timestamp(1721764867 + 1500)
  ORDER BY created_at DESC LIMIT 2;
EXPLAIN (COSTS OFF) SELECT * FROM recent WHERE created_at >= :'newest50' ORDER BY created_at;
SELECT created_at FROM recent WHERE created_at >= :'newest50' ORDER BY created_at LIMIT 2;
-- a parameter, and a NULL bound (no row; nothing sent)
PREPARE since(timestamptz) AS SELECT count(*) FROM recent WHERE created_at >= $1;
EXECUTE since(to_timestamp(1721764867 + 1990));
SELECT requests_for('EXECUTE since(NULL)') AS requests;
-- bigint and timestamp columns
CREATE FOREIGN TABLE recent_secs (id text, created_at bigint)
  SERVER mock OPTIONS (checkpoint 'ft:bounds:seed-2000:proj-40');
SELECT count(*) FROM recent_secs WHERE created_at > 1721764867 + 1989;
CREATE FOREIGN TABLE recent_ts (id text, created_at timestamp)
  SERVER mock OPTIONS (checkpoint 'ft:bounds:seed-2000:proj-40');
SELECT count(*) FROM recent_ts WHERE created_at >= '2024-07-23 20:34:26';
SELECT requests_for($$SELECT count(*) FROM recent_ts WHERE created_at >= '2024-07-23 20:34:26'$$) AS requests;
-- a bound of another type (date against timestamptz) is checked here only
SELECT count(*) FROM recent WHERE created_at >= current_date + 36500;
RESET timezone;
-- a bound that becomes NULL on a rescan matches nothing (not the rows of
-- the bound before)
CREATE FOREIGN TABLE few_secs (id text, created_at bigint)
  SERVER mock OPTIONS (checkpoint 'ft:bounds:few:seed-5');
SELECT v, (SELECT count(*) FROM few_secs r WHERE r.created_at >= o.v) AS rows
  FROM (VALUES (0::bigint), (NULL), (1721764867 + 3)) o(v);
