-- Retries, back-off, page caps and the connection cache.
\getenv mock_url MOCK_URL
\getenv mock_key MOCK_KEY
\set SHOW_CONTEXT always

CREATE FUNCTION statuses(ckpt text) RETURNS text LANGUAGE sql
  AS $$ SELECT string_agg(method || ' ' || coalesce(status::text, '-'), ', ') FROM mock_requests(ckpt) $$;

-- two 429s with Retry-After: 1, then success: at least 2 s, and it succeeds
SELECT clock_timestamp() AS t0 \gset
CREATE FOREIGN TABLE net_limited (id text) SERVER mock
  OPTIONS (checkpoint 'ft:net:net_limited:seed-3:get-fail-2-429:retry-after-1');
SELECT count(*) FROM net_limited;
SELECT clock_timestamp() - :'t0'::timestamptz >= interval '2 s' AS waited_2s;
SELECT statuses('ft:net:net_limited:seed-3:get-fail-2-429:retry-after-1');

-- retry-after-ms, an HTTP date, 5xx, 408, 409, a cut reply, a hang-up: all retried for GET
CREATE FOREIGN TABLE net_retry_ms (id text) SERVER mock
  OPTIONS (checkpoint 'ft:net:ms:seed-1:fail-2-503:retry-after-ms-20');
SELECT count(*) FROM net_retry_ms;
SELECT statuses('ft:net:ms:seed-1:fail-2-503:retry-after-ms-20');
CREATE FOREIGN TABLE net_retry_date (id text) SERVER mock
  OPTIONS (checkpoint 'ft:net:date:seed-1:fail-1-500:retry-after-date-1');
SELECT count(*) FROM net_retry_date;
SELECT statuses('ft:net:date:seed-1:fail-1-500:retry-after-date-1');
CREATE FOREIGN TABLE net_retry_408 (id text) SERVER mock
  OPTIONS (checkpoint 'ft:net:408:seed-1:fail-1-408:retry-after-ms-1');
SELECT count(*) FROM net_retry_408;
CREATE FOREIGN TABLE net_retry_409 (id text) SERVER mock
  OPTIONS (checkpoint 'ft:net:409:seed-1:fail-1-409:retry-after-ms-1');
SELECT count(*) FROM net_retry_409;
CREATE FOREIGN TABLE net_retry_cut (id text) SERVER mock
  OPTIONS (checkpoint 'ft:net:retry-cut:seed-2:get-fail-1-cut');
SELECT count(*) FROM net_retry_cut;
SELECT statuses('ft:net:retry-cut:seed-2:get-fail-1-cut');
CREATE FOREIGN TABLE net_retry_hangup (id text) SERVER mock
  OPTIONS (checkpoint 'ft:net:retry-hangup:seed-2:get-fail-1-hangup');
SELECT count(*) FROM net_retry_hangup;
SELECT statuses('ft:net:retry-hangup:seed-2:get-fail-1-hangup');

-- max_retries bounds them, and the error says how many were made
CREATE SERVER tworetries FOREIGN DATA WRAPPER checkpoint_perms
  OPTIONS (base_url :'mock_url', max_retries '2');
CREATE USER MAPPING FOR CURRENT_USER SERVER tworetries OPTIONS (api_key :'mock_key');
CREATE FOREIGN TABLE net_always_503 (id text) SERVER tworetries
  OPTIONS (checkpoint 'ft:net:always:status-503:retry-after-ms-1');
SELECT count(*) FROM net_always_503;
SELECT statuses('ft:net:always:status-503:retry-after-ms-1');
-- x-should-retry: false is obeyed, x-should-retry: true retries even a 400
CREATE FOREIGN TABLE net_no_retry (id text) SERVER tworetries
  OPTIONS (checkpoint 'ft:net:noretry:status-503:no-retry');
SELECT count(*) FROM net_no_retry;
SELECT statuses('ft:net:noretry:status-503:no-retry');
CREATE FOREIGN TABLE net_should_retry (id text) SERVER tworetries
  OPTIONS (checkpoint 'ft:net:shouldretry:seed-1:fail-1-400:should-retry:retry-after-ms-1');
SELECT count(*) FROM net_should_retry;
-- a 400 is not retried
CREATE FOREIGN TABLE net_bad_request (id text) SERVER tworetries
  OPTIONS (checkpoint 'ft:net:bad:status-400');
SELECT count(*) FROM net_bad_request;
SELECT statuses('ft:net:bad:status-400');

-- POST: retried after a 429, never after a reply that may have done the work
CREATE FOREIGN TABLE net_post_hangup (project_id text) SERVER tworetries
  OPTIONS (checkpoint 'ft:net:post-hangup:post-fail-1-hangup');
INSERT INTO net_post_hangup VALUES ('proj_1');
SELECT statuses('ft:net:post-hangup:post-fail-1-hangup');
CREATE FOREIGN TABLE net_post_cut (project_id text) SERVER tworetries
  OPTIONS (checkpoint 'ft:net:post-cut:post-fail-1-cut');
INSERT INTO net_post_cut VALUES ('proj_1');
SELECT statuses('ft:net:post-cut:post-fail-1-cut');
-- what the API did anyway: the grant exists, so nothing was lost or doubled
SELECT count(*) FROM net_post_cut;
-- a 5xx to a POST: what it did is learned from a list, then the missing
-- grant is sent again, once
CREATE FOREIGN TABLE net_post_503 (project_id text) SERVER tworetries
  OPTIONS (checkpoint 'ft:net:post503:post-fail-1-503:retry-after-ms-1');
SET client_min_messages = warning;
INSERT INTO net_post_503 VALUES ('proj_1');
RESET client_min_messages;
SELECT statuses('ft:net:post503:post-fail-1-503:retry-after-ms-1');
SELECT count(*) FROM net_post_503;
-- a connection never made is retried for every method
CREATE SERVER net_closed FOREIGN DATA WRAPPER checkpoint_perms
  OPTIONS (base_url 'http://127.0.0.1:9/v1', max_retries '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER net_closed OPTIONS (api_key 'sk-closed');
CREATE FOREIGN TABLE net_post_closed (project_id text) SERVER net_closed OPTIONS (checkpoint 'ft:x');
INSERT INTO net_post_closed VALUES ('proj_1');

-- a list whose has_more never ends stops at max_pages
CREATE FOREIGN TABLE net_endless (id text) SERVER mock
  OPTIONS (checkpoint 'ft:net:endless', max_pages '5', page_size '10');
SELECT * FROM net_endless LIMIT 1000;
SELECT count(*) AS requests FROM mock_requests('ft:net:endless');
-- (its rows are also out of order, newest first: a list read from both
-- ends, which relies on the order, refuses it at its second page)
SELECT count(*) FROM net_endless;

-- one connection per user mapping, kept across queries: at most two over
-- the mock's HTTP/1.1 (a list of 3 pages is read from both ends, two
-- requests in flight at once; whether the second opens a connection of its
-- own depends on timing), for both queries together
CREATE FUNCTION connections(ckpt text) RETURNS bigint LANGUAGE sql AS $$
  SELECT count(DISTINCT l->>'conn')
  FROM (SELECT line::jsonb AS l
        FROM regexp_split_to_table(pg_read_file((SELECT log_path FROM mock_config)), E'\n') AS line
        WHERE line <> '') s
  WHERE l->>'checkpoint' = ckpt $$;
SELECT checkpoint_perms_disconnect() IS NOT NULL AS ok;
CREATE FOREIGN TABLE net_reuse (id text) SERVER mock OPTIONS (checkpoint 'ft:net:net_reuse:seed-250');
SELECT count(*) FROM net_reuse;
SELECT count(*) FROM net_reuse;
SELECT count(*) AS requests, connections('ft:net:net_reuse:seed-250') <= 2 AS kept
FROM mock_requests('ft:net:net_reuse:seed-250');
SELECT connections('ft:net:net_reuse:seed-250') AS conns \gset
-- altering the server drops the cached connection
ALTER SERVER mock OPTIONS (ADD timeout_ms '29000');
SELECT count(*) FROM net_reuse;
SELECT connections('ft:net:net_reuse:seed-250') > :conns AS new_connection;
SELECT connections('ft:net:net_reuse:seed-250') AS conns \gset
-- and so does checkpoint_perms_disconnect()
SELECT checkpoint_perms_disconnect();
SELECT checkpoint_perms_disconnect();
SELECT count(*) FROM net_reuse;
SELECT connections('ft:net:net_reuse:seed-250') > :conns AS new_connection;
ALTER SERVER mock OPTIONS (DROP timeout_ms);
