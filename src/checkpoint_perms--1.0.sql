/* src/checkpoint_perms--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION checkpoint_perms" to load this file. \quit

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
