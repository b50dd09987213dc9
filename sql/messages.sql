-- Messages that say what happened: each names what the user must check.
\getenv mock_url MOCK_URL
\getenv mock_key MOCK_KEY

-- a grant whose replies came back short (the API made 2 of 3, and said so),
-- and whose missing project stays missing: the error says what the first
-- reply said of the request's 3 projects, not that replies were lost
CREATE FOREIGN TABLE m_short (project_id text)
  SERVER mock OPTIONS (checkpoint 'ft:messages:short:post-skiplast', batch_size '3');
-- the rollback warning may reach psql before or after the error: hidden here
SET client_min_messages = error;
INSERT INTO m_short VALUES ('proj_a'), ('proj_b'), ('proj_c');
RESET client_min_messages;
SELECT project_id FROM m_short ORDER BY 1;
SELECT method, status, body FROM mock_requests('ft:messages:short:post-skiplast');
