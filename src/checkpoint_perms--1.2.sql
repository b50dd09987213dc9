/* src/checkpoint_perms--1.2.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION checkpoint_perms" to load this file. \quit

-- The full install script of version 1.2: CREATE EXTENSION without an old
-- version runs this file alone.  Every object added in 1.1 or 1.2 is
-- created both here and in the update script of its version
-- (checkpoint_perms--1.0--1.1.sql, checkpoint_perms--1.1--1.2.sql), and
-- sql/upgrade.sql checks that the two give the same objects.

-- Objects of version 1.0.

CREATE FUNCTION checkpoint_perms_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FUNCTION checkpoint_perms_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER checkpoint_perms
  HANDLER checkpoint_perms_handler
  VALIDATOR checkpoint_perms_validator;

-- Close this backend's cached HTTP connections; true if there were any.
CREATE FUNCTION checkpoint_perms_disconnect()
RETURNS boolean
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT PARALLEL RESTRICTED;

-- Objects added in version 1.1, the same statements as in
-- checkpoint_perms--1.0--1.1.sql.

-- The loaded library's version, the libcurl and cJSON it runs with and the
-- PostgreSQL it was built for, e.g. "checkpoint_perms 1.1 (libcurl 7.88.1
-- with OpenSSL/3.0.17, cJSON 1.7.15, built for PostgreSQL 15.13)".
CREATE FUNCTION checkpoint_perms_version()
RETURNS text
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT STABLE PARALLEL SAFE;

-- The grants and revokes this session sent, in its current transaction and
-- in the last one before it that sent any (README, "Rollbacks"): when each
-- was sent, on which checkpoint, for which project, the permission's id,
-- and what came of it ("applied", "not found", "unknown").
CREATE FUNCTION checkpoint_perms_journal(
    OUT transaction text, OUT sent_at timestamptz, OUT checkpoint text,
    OUT action text, OUT project_id text, OUT permission_id text,
    OUT outcome text, OUT rolled_back boolean)
RETURNS SETOF record
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

-- Objects added in version 1.2: add new ones at the end of this file and
-- of checkpoint_perms--1.1--1.2.sql, the same statements in both.

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
