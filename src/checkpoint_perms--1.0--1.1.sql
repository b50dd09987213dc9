/* src/checkpoint_perms--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION checkpoint_perms UPDATE TO '1.1'" to load this file. \quit

-- Brings version 1.0 to 1.1: the objects added in 1.1, the same statements
-- as at the end of checkpoint_perms--1.1.sql (sql/upgrade.sql checks that
-- both give the same objects).  Add new ones at the end.

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
