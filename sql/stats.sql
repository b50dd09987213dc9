-- checkpoint_perms_stats: what the requests did, per server, role of the
-- user mapping and method.  The suite's server does not preload the
-- library, so this is the per-backend mode (scope "backend"): this
-- session's own counts, gone with it.  test/t_stats.sh runs a server that
-- preloads it and reads the counts of two sessions from a third.
SELECT checkpoint_perms_stats_reset();
SELECT count(*) AS rows_after_reset FROM checkpoint_perms_stats;
CREATE FOREIGN TABLE stats_perms (id text, project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:stats:seed-250', page_size '100');
CREATE FOREIGN TABLE stats_429 (id text) SERVER mock
  OPTIONS (checkpoint 'ft:stats:seed-3:fail-1-429:retry-after-ms-1');
CREATE FOREIGN TABLE stats_404 (id text) SERVER mock OPTIONS (checkpoint 'ft:stats:status-404');
-- three pages, one 429 then its retry, a grant, a revoke, a 404
SELECT count(*) FROM stats_perms;
SELECT count(*) FROM stats_429;
INSERT INTO stats_perms (project_id) VALUES ('proj_new');
DELETE FROM stats_perms WHERE id = 'cp_stats_gone';
\set VERBOSITY terse
SELECT count(*) FROM stats_404;
\set VERBOSITY default
SELECT server, usename, method, requests, ok, client_errors, rate_limited, server_errors,
       network_errors, retries, bytes_received > 0 AS got_bytes,
       total_ms >= max_ms AND max_ms > 0 AS timed, last_error,
       (last_error IS NULL) = (last_error_at IS NULL) AS error_dated,
       last_request_id ~ '^req_' AS has_request_id,
       stats_reset <= now() AS since_reset, scope,
       serverid = (SELECT oid FROM pg_foreign_server WHERE srvname = 'mock') AS server_oid,
       userid = current_user::regrole AS user_oid
  FROM checkpoint_perms_stats ORDER BY server, method;
-- EXPLAIN ANALYZE shows the 429s beside the retries
CREATE FOREIGN TABLE stats_explain (id text) SERVER mock
  OPTIONS (checkpoint 'ft:stats:explain:seed-3:fail-1-429:retry-after-ms-1');
SELECT line FROM explain_filter('SELECT * FROM stats_explain', 'ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF') AS line
  WHERE line ~ 'OpenAI (Requests|Retries|Rate Limited)';
-- another session sees none of this backend's counts
\c
SELECT count(*) AS other_backend FROM checkpoint_perms_stats;
-- only superusers reset; every role reads the view, its own rows only
CREATE ROLE regress_cp_stats;
SET ROLE regress_cp_stats;
SELECT checkpoint_perms_stats_reset();
SELECT count(*) FROM checkpoint_perms_stats;
RESET ROLE;
DROP ROLE regress_cp_stats;
