/* src/checkpoint_perms--1.1--1.2.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION checkpoint_perms UPDATE TO '1.2'" to load this file. \quit

-- Brings version 1.1 to 1.2: the objects added in 1.2, the same statements
-- as at the end of checkpoint_perms--1.2.sql (sql/upgrade.sql checks that
-- both give the same objects).  Add new ones at the end.

-- What the requests of this extension did, per server, role of the user
-- mapping and HTTP method (README, "Statistics and audit"): counted across
-- every backend when the library is in shared_preload_libraries (scope
-- "shared"), else by this backend alone (scope "backend").
CREATE FUNCTION checkpoint_perms_stats(
    OUT server text, OUT usename text, OUT method text,
    OUT requests bigint, OUT ok bigint, OUT client_errors bigint,
    OUT rate_limited bigint, OUT server_errors bigint, OUT network_errors bigint,
    OUT retries bigint, OUT bytes_received bigint,
    OUT total_ms double precision, OUT max_ms double precision,
    OUT last_error text, OUT last_error_at timestamptz, OUT last_request_id text,
    OUT stats_reset timestamptz, OUT scope text, OUT serverid oid, OUT userid oid)
RETURNS SETOF record
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE VIEW checkpoint_perms_stats AS
  SELECT * FROM checkpoint_perms_stats();

-- as pg_stat_statements: every role reads the view (the rows of its own
-- user mappings, or all with pg_read_all_stats); only superusers reset
GRANT SELECT ON checkpoint_perms_stats TO PUBLIC;

-- Forget every counter (of every database when shared).
CREATE FUNCTION checkpoint_perms_stats_reset()
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

REVOKE ALL ON FUNCTION checkpoint_perms_stats_reset() FROM PUBLIC;
