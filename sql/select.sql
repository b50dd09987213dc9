-- SELECT: paging, empty checkpoints, headers, conversions, column mapping.
\getenv mock_url MOCK_URL
\getenv mock_key MOCK_KEY

-- 250 permissions, a page cap of 100 on the mock: three requests.
CREATE FOREIGN TABLE perms250 (id text, created_at timestamptz, project_id text, object text)
  SERVER mock OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:select:seed-250');
SELECT count(*), count(DISTINCT id), min(project_id), max(project_id) FROM perms250;
-- (sorted: the second page and the oldest end's first go out at once)
SELECT method, path, query FROM mock_requests_sorted('ft:gpt-4o-mini:acme:select:seed-250');
-- the newest first, as the API lists them
SELECT * FROM perms250 LIMIT 3;

-- page_size on the table wins over the server's; the mock's cap still applies
ALTER FOREIGN TABLE perms250 OPTIONS (ADD page_size '120');
SELECT count(*) FROM perms250;
SELECT * FROM (
  SELECT query->>'limit' AS "limit", query->>'after' IS NOT NULL AS has_after
    FROM mock_requests('ft:gpt-4o-mini:acme:select:seed-250') OFFSET 3) r
  ORDER BY 1, 2;

-- the headers the API asks for
SELECT DISTINCT l->>'accept' AS accept, l->>'user_agent' ~ ('^checkpoint_perms/' || (SELECT replace(extversion, '.', '\.') FROM pg_extension WHERE extname = 'checkpoint_perms') || ' \(PostgreSQL ') AS ua_ok,
       (l->>'auth_ok')::bool AS auth_ok, l->>'organization' AS org, l->>'project' AS project
  FROM (SELECT line::jsonb AS l FROM regexp_split_to_table(pg_read_file((SELECT log_path FROM mock_config)), E'\n') line
        WHERE line LIKE '%select:seed-250%') s;
CREATE SERVER mock_org FOREIGN DATA WRAPPER checkpoint_perms
  OPTIONS (base_url :'mock_url', organization 'org-123', project 'proj_admin');
CREATE USER MAPPING FOR CURRENT_USER SERVER mock_org OPTIONS (api_key :'mock_key');
CREATE FOREIGN TABLE perms_org (id text) SERVER mock_org
  OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:select-org:seed-2');
SELECT count(*) FROM perms_org;
SELECT DISTINCT l->>'organization' AS org, l->>'project' AS project
  FROM (SELECT line::jsonb AS l FROM regexp_split_to_table(pg_read_file((SELECT log_path FROM mock_config)), E'\n') line
        WHERE line LIKE '%select-org%') s;

-- an empty checkpoint: one request, no rows
CREATE FOREIGN TABLE perms_empty (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:select-empty');
SELECT * FROM perms_empty;
SELECT method, path, query FROM mock_requests('ft:gpt-4o-mini:acme:select-empty');

-- exactly one full page, then has_more false
CREATE FOREIGN TABLE perms100 (id text) SERVER mock
  OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:select:seed-100');
SELECT count(*) FROM perms100;
SELECT count(*) AS requests FROM mock_requests('ft:gpt-4o-mini:acme:select:seed-100');

-- every field goes through its domain's checks, created_at as bigint or
-- timestamptz too
CREATE DOMAIN early_bigint AS bigint CHECK (VALUE < 1721764868);
CREATE DOMAIN early_ts AS timestamptz CHECK (VALUE < '2024-07-23 19:21:08+00');
CREATE DOMAIN short_text AS text CHECK (length(VALUE) < 5);
CREATE FOREIGN TABLE perms_domains (id text, created_at early_bigint)
  SERVER mock OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:domains:seed-2');
SELECT created_at FROM perms_domains ORDER BY created_at LIMIT 1;
SELECT created_at FROM perms_domains;
ALTER FOREIGN TABLE perms_domains ALTER COLUMN created_at TYPE early_ts;
SELECT count(*) FROM perms_domains;
ALTER FOREIGN TABLE perms_domains ALTER COLUMN created_at TYPE bigint,
  ALTER COLUMN id TYPE short_text;
SELECT id FROM perms_domains;

-- created_at as timestamptz, timestamp (UTC), bigint and text
CREATE FOREIGN TABLE perms_types (
    id varchar(40), ts timestamptz OPTIONS (field 'created_at'),
    project varchar OPTIONS (field 'project_id'), object text)
  SERVER mock OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:types:seed-2');
SET timezone = 'UTC';
SELECT * FROM perms_types;
ALTER FOREIGN TABLE perms_types ALTER COLUMN ts TYPE timestamp;
SELECT ts FROM perms_types;
ALTER FOREIGN TABLE perms_types ALTER COLUMN ts TYPE bigint;
SELECT ts FROM perms_types;
ALTER FOREIGN TABLE perms_types ALTER COLUMN ts TYPE text;
SELECT ts FROM perms_types;
RESET timezone;
-- a varchar too short for the id is the column type's own error
ALTER FOREIGN TABLE perms_types ALTER COLUMN id TYPE varchar(5);
SELECT id FROM perms_types;

-- columns that cannot map are plan-time errors, before any request
CREATE FOREIGN TABLE perms_badcol (id text, team text)
  SERVER mock OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:badcol');
SELECT * FROM perms_badcol;
CREATE FOREIGN TABLE perms_badtype (id text, created_at integer)
  SERVER mock OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:badcol');
SELECT * FROM perms_badtype;
CREATE FOREIGN TABLE perms_twice (id text, pid text OPTIONS (field 'project_id'), project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:badcol');
SELECT * FROM perms_twice;
SELECT count(*) AS requests FROM mock_requests('ft:gpt-4o-mini:acme:badcol');

-- a table with no columns still counts rows
CREATE FOREIGN TABLE perms_nocols () SERVER mock
  OPTIONS (checkpoint 'ft:gpt-4o-mini:acme:nocols:seed-100');
SELECT count(*) FROM perms_nocols;

-- local filters and joins with local tables give the right rows
CREATE TABLE teams (name text, openai_project text);
INSERT INTO teams VALUES ('search', 'proj_0007'), ('ads', 'proj_0100'), ('nobody', 'proj_9999');
SELECT t.name, p.project_id FROM teams t JOIN perms250 p ON p.project_id = t.openai_project
  ORDER BY 1;
SELECT count(*) FROM perms250 WHERE project_id LIKE 'proj_00%';

-- a rescan under a nested loop sees every row each time
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_material = off;
SELECT count(*) FROM teams t JOIN perms100 p ON true;
-- one page: the rescans rewind it instead of fetching it again
SELECT count(*) AS requests FROM mock_requests('ft:gpt-4o-mini:acme:select:seed-100');
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_material;

-- EXPLAIN shows the request and sends nothing
EXPLAIN (COSTS OFF) SELECT * FROM perms_empty;
SELECT count(*) AS requests FROM mock_requests('ft:gpt-4o-mini:acme:select-empty');
