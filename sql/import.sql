-- IMPORT FOREIGN SCHEMA: the table across checkpoints, or one table per
-- checkpoint of LIMIT TO.  Queries on the table across checkpoints are
-- tested elsewhere; here the catalog shows what the import created, and a
-- checkpoint's table is queried.
\getenv mock_url MOCK_URL
\getenv mock_key MOCK_KEY

-- The tables of a schema: name, server, options, columns.
CREATE FUNCTION imported(schema_name text)
RETURNS TABLE (name name, server name, options text[], columns text)
LANGUAGE sql AS $$
  SELECT c.relname, s.srvname, ft.ftoptions,
         (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', '
                            ORDER BY a.attnum)
          FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
  FROM pg_foreign_table ft
  JOIN pg_class c ON c.oid = ft.ftrelid
  JOIN pg_foreign_server s ON s.oid = ft.ftserver
  WHERE c.relnamespace = schema_name::regnamespace
  ORDER BY 1
$$;

-- Requests the mock has logged, all checkpoints together.
CREATE FUNCTION mock_request_count() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM regexp_split_to_table(pg_read_file((SELECT log_path FROM mock_config)), E'\n') AS line
  WHERE line <> ''
$$;

-- A server with no user mapping: the import needs no key and sends nothing.
CREATE SERVER "import server" FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url :'mock_url');
CREATE TEMP TABLE requests_before AS SELECT mock_request_count() AS n;

-- the table across checkpoints
CREATE SCHEMA imp_all;
IMPORT FOREIGN SCHEMA checkpoints FROM SERVER "import server" INTO imp_all;
SELECT * FROM imported('imp_all');

-- one table per checkpoint of LIMIT TO, named after its suffix, job and step
CREATE SCHEMA imp_some;
IMPORT FOREIGN SCHEMA checkpoints
  LIMIT TO ("ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd",
            "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd:ckpt-step-88",
            "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd",
            "ft:gpt-4o-mini-2024-07-18:org::Xy12AbCd")
  FROM SERVER "import server" INTO imp_some;
SELECT * FROM imported('imp_some');
SELECT mock_request_count() = n AS no_request_sent FROM requests_before;

-- ids of other forms: all their segments; "ckpt_" when the name would need
-- quotes (a leading digit, a keyword); non-ASCII bytes become "_"
CREATE SCHEMA imp_forms;
IMPORT FOREIGN SCHEMA checkpoints
  LIMIT TO ("my-checkpoint.v2", "2024:run", "select", "ft:m:o:Météo:Ab12", "::")
  FROM SERVER "import server" INTO imp_forms;
SELECT name, options FROM imported('imp_forms');

-- two checkpoints with one name: both end with a hash of their id; so does
-- a checkpoint named like the table across checkpoints, and one whose name
-- is too long (a 62-byte id that begins with a digit: "ckpt_" makes 67)
CREATE SCHEMA imp_clash;
IMPORT FOREIGN SCHEMA checkpoints
  LIMIT TO ("ft:gpt-4o-mini-2024-07-18:org:Weather:B7R9VjQd",
            "ft:gpt-4o-2024-08-06:org:weather:B7R9VjQd",
            "ft:gpt-4o-mini-2024-07-18:org:news:Q1w2E3r4",
            checkpoint_permissions, "checkpoint:permissions",
            "12345678901234567890123456789012345678901234567890123456789012")
  FROM SERVER "import server" INTO imp_clash;
SELECT name, length(name) AS bytes, options FROM imported('imp_clash');

-- a name left shared after the hashes (here a checkpoint named like
-- another's hashed name) is an error, and nothing is imported
CREATE SCHEMA imp_fail;
IMPORT FOREIGN SCHEMA checkpoints
  LIMIT TO ("ft:a:org:foo:1", "ft:b:org:foo:1", "foo_1_e96a22c9")
  FROM SERVER "import server" INTO imp_fail;
SELECT count(*) FROM imported('imp_fail');

-- ids are checked as option "checkpoint" is, before anything is created
IMPORT FOREIGN SCHEMA checkpoints LIMIT TO ("ft:ok:org:a:b", U&"ft:x\000Ay")
  FROM SERVER "import server" INTO imp_fail;
IMPORT FOREIGN SCHEMA checkpoints LIMIT TO ("ft:ok:org:a:b", " ft:x:org:a:b")
  FROM SERVER "import server" INTO imp_fail;
IMPORT FOREIGN SCHEMA checkpoints LIMIT TO (imp_fail.weather)
  FROM SERVER "import server" INTO imp_fail;
-- LIMIT TO takes identifiers, which PostgreSQL cuts to 63 bytes: an id that
-- long may have been longer, and is refused (a 64-byte id, then 63 bytes)
IMPORT FOREIGN SCHEMA checkpoints
  LIMIT TO ("ft:gpt-4o-mini-2024-07-18:personal:weather:B7R9VjQd:ckpt-step-88")
  FROM SERVER "import server" INTO imp_fail;
IMPORT FOREIGN SCHEMA checkpoints
  LIMIT TO ("ft:gpt-4o-mini-2024-07-18:personal:weather:B7R9VjQd:ckpt-step-8")
  FROM SERVER "import server" INTO imp_fail;
-- 62 bytes is the longest id LIMIT TO takes
IMPORT FOREIGN SCHEMA checkpoints
  LIMIT TO ("ft:gpt-4o-mini-2024-07-18:personal:weather:B7R9VjQd:ckpt-step-")
  FROM SERVER "import server" INTO imp_fail;
SELECT name, options FROM imported('imp_fail');

-- EXCEPT, and remote schemas other than "checkpoints"
IMPORT FOREIGN SCHEMA checkpoints EXCEPT ("ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd")
  FROM SERVER "import server" INTO imp_fail;
IMPORT FOREIGN SCHEMA public FROM SERVER "import server" INTO imp_fail;
IMPORT FOREIGN SCHEMA "Checkpoints" FROM SERVER "import server" INTO imp_fail;

-- OPTIONS go on every table; they are a foreign table's options, checked
-- as the validator checks them, but "checkpoint"
CREATE SCHEMA imp_opts;
IMPORT FOREIGN SCHEMA checkpoints LIMIT TO (checkpoint_permissions, "ft:m:org:weather:B7R9VjQd")
  FROM SERVER "import server" INTO imp_opts
  OPTIONS (page_size '10', batch_size '5', max_pages '7');
SELECT name, options FROM imported('imp_opts');
IMPORT FOREIGN SCHEMA checkpoints FROM SERVER "import server" INTO imp_fail OPTIONS (pagesize '10');
IMPORT FOREIGN SCHEMA checkpoints FROM SERVER "import server" INTO imp_fail OPTIONS (colour 'blue');
IMPORT FOREIGN SCHEMA checkpoints FROM SERVER "import server" INTO imp_fail OPTIONS (timeout_ms '10');
IMPORT FOREIGN SCHEMA checkpoints FROM SERVER "import server" INTO imp_fail OPTIONS (api_key 'sk-never-here');
IMPORT FOREIGN SCHEMA checkpoints FROM SERVER "import server" INTO imp_fail OPTIONS (checkpoint 'ft:x');
IMPORT FOREIGN SCHEMA checkpoints FROM SERVER "import server" INTO imp_fail OPTIONS (page_size '0');
IMPORT FOREIGN SCHEMA checkpoints FROM SERVER "import server" INTO imp_fail OPTIONS (page_size '10', page_size '20');
SELECT count(*) FROM imported('imp_fail');

-- a table that exists already: the import fails whole
IMPORT FOREIGN SCHEMA checkpoints LIMIT TO ("ft:gpt-4o-mini-2024-07-18:org:news:Q1w2E3r4",
                                            "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd")
  FROM SERVER "import server" INTO imp_some;
SELECT name FROM imported('imp_some');

-- The core creates only the tables that LIMIT TO names; the import makes
-- its entries name the tables.  A plan cache must keep the ids: a PL/pgSQL
-- function imports the same way twice.
CREATE SCHEMA imp_plpgsql;
CREATE FUNCTION import_weather() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IMPORT FOREIGN SCHEMA checkpoints LIMIT TO ("ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd")
    FROM SERVER "import server" INTO imp_plpgsql;
END
$$;
SELECT import_weather();
DROP FOREIGN TABLE imp_plpgsql.weather_b7r9vjqd;
SELECT import_weather();
SELECT name, options FROM imported('imp_plpgsql');

-- a role that is not superuser imports with USAGE on the server and CREATE
-- on the schema, and owns the tables
CREATE ROLE regress_cp_importer;
CREATE SCHEMA imp_role AUTHORIZATION regress_cp_importer;
SET ROLE regress_cp_importer;
IMPORT FOREIGN SCHEMA checkpoints FROM SERVER "import server" INTO imp_role;
RESET ROLE;
GRANT USAGE ON FOREIGN SERVER "import server" TO regress_cp_importer;
SET ROLE regress_cp_importer;
IMPORT FOREIGN SCHEMA checkpoints FROM SERVER "import server" INTO imp_role;
RESET ROLE;
SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c
WHERE c.relnamespace = 'imp_role'::regnamespace;
DROP FOREIGN TABLE imp_role.checkpoint_permissions;
DROP SCHEMA imp_role;
REVOKE USAGE ON FOREIGN SERVER "import server" FROM regress_cp_importer;
DROP ROLE regress_cp_importer;

-- A checkpoint's table works at once, with the options of the import.
CREATE SCHEMA imp_query;
IMPORT FOREIGN SCHEMA checkpoints LIMIT TO ("ft:gpt-4o-mini-2024-07-18:org:import:seed-3")
  FROM SERVER mock INTO imp_query OPTIONS (page_size '2');
SELECT name, options FROM imported('imp_query');
SELECT project_id, object FROM imp_query.import_seed_3 ORDER BY created_at;
SELECT query FROM mock_requests('ft:gpt-4o-mini-2024-07-18:org:import:seed-3');

SET client_min_messages = warning;
DROP SCHEMA imp_all, imp_some, imp_forms, imp_clash, imp_fail, imp_opts, imp_plpgsql, imp_query CASCADE;
RESET client_min_messages;
DROP SERVER "import server";
DROP FUNCTION imported(text), mock_request_count(), import_weather();
