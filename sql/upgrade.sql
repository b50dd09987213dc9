-- Upgrade path: a database made with version 1.0 and brought up to date by
-- ALTER EXTENSION ... UPDATE must hold the same objects as a fresh install
-- of the default version.  Runs in a database of its own: the extension of
-- the regression database has servers and tables that depend on it.
\set VERBOSITY terse
SET client_min_messages = warning;
SELECT current_database() AS regress_db \gset
DROP DATABASE IF EXISTS cp_upgrade;
CREATE DATABASE cp_upgrade;
\c cp_upgrade
SET client_min_messages = warning;

-- Every object of the extension with what defines it: a function's whole
-- definition (arguments, result, language, strictness, volatility,
-- parallel safety, symbol), a wrapper's handler, validator and options,
-- a view's query, comments and privileges.
CREATE FUNCTION ext_objects() RETURNS TABLE (object text, definition text)
LANGUAGE sql AS $$
  SELECT pg_describe_object(d.classid, d.objid, d.objsubid),
         concat_ws(E'\n',
           CASE d.classid
             WHEN 'pg_proc'::regclass THEN
               (SELECT pg_get_functiondef(p.oid) || ' ACL ' || coalesce(p.proacl::text, 'default')
                FROM pg_proc p WHERE p.oid = d.objid)
             WHEN 'pg_foreign_data_wrapper'::regclass THEN
               (SELECT format('HANDLER %s VALIDATOR %s OPTIONS %s ACL %s', w.fdwhandler::regproc,
                              w.fdwvalidator::regproc, coalesce(w.fdwoptions::text, 'none'),
                              coalesce(w.fdwacl::text, 'default'))
                FROM pg_foreign_data_wrapper w WHERE w.oid = d.objid)
             WHEN 'pg_class'::regclass THEN
               (SELECT format('%s VIEW %s ACL %s', c.relkind, pg_get_viewdef(c.oid),
                              coalesce(c.relacl::text, 'default'))
                FROM pg_class c WHERE c.oid = d.objid)
             ELSE 'not described: add this kind of object to sql/upgrade.sql'
           END,
           'COMMENT ' || obj_description(d.objid, d.classid::regclass::name))
  FROM pg_depend d
  WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
    AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'checkpoint_perms')
    -- a view's row type (and its array type) comes with the view; PostgreSQL
    -- 17 records them as members of the extension too, 15 does not
    AND NOT (d.classid = 'pg_type'::regclass AND
             EXISTS (SELECT FROM pg_type t WHERE t.oid = d.objid AND
                     (t.typrelid <> 0 OR EXISTS (SELECT FROM pg_type e
                                                 WHERE e.oid = t.typelem AND e.typrelid <> 0))))
  ORDER BY 1, 2
$$;

-- 1.0 as it was released, then updated to the default version
CREATE EXTENSION checkpoint_perms VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'checkpoint_perms';
SELECT object FROM ext_objects();
ALTER EXTENSION checkpoint_perms UPDATE;
SELECT extversion = (SELECT default_version FROM pg_available_extensions
                     WHERE name = 'checkpoint_perms') AS updated_to_default
FROM pg_extension WHERE extname = 'checkpoint_perms';
CREATE TABLE updated AS SELECT * FROM ext_objects();
DROP EXTENSION checkpoint_perms;

-- 1.1, updated to the default version
CREATE EXTENSION checkpoint_perms VERSION '1.1';
SELECT object FROM ext_objects();
ALTER EXTENSION checkpoint_perms UPDATE;
CREATE TABLE updated_from_11 AS SELECT * FROM ext_objects();
DROP EXTENSION checkpoint_perms;

-- a fresh install of the default version
CREATE EXTENSION checkpoint_perms;
CREATE TABLE fresh AS SELECT * FROM ext_objects();
SELECT object FROM fresh;

-- the same objects, defined the same way: no row here
(SELECT 'only after update' AS "where", * FROM updated EXCEPT SELECT 'only after update', * FROM fresh)
UNION ALL
(SELECT 'only in a fresh install', * FROM fresh EXCEPT SELECT 'only in a fresh install', * FROM updated);
(SELECT 'only after update from 1.1' AS "where", * FROM updated_from_11
 EXCEPT SELECT 'only after update from 1.1', * FROM fresh)
UNION ALL
(SELECT 'only in a fresh install', * FROM fresh
 EXCEPT SELECT 'only in a fresh install', * FROM updated_from_11);
SELECT count(*) > 0 AS compared FROM fresh;

-- the version function: its text varies with libcurl and PostgreSQL, so
-- only its form is shown
SELECT checkpoint_perms_version() ~ '^checkpoint_perms [0-9.]+ \(libcurl [0-9][^ ]* with [^,]+, cJSON [0-9.]+, built for PostgreSQL [0-9]+\.[0-9]+\)$' AS version_ok,
       split_part(checkpoint_perms_version(), ' ', 2) = extversion AS library_matches_sql
FROM pg_extension WHERE extname = 'checkpoint_perms';

\c :regress_db
SET client_min_messages = warning;
DROP DATABASE cp_upgrade;
