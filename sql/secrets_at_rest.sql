-- Secrets at rest (issue 14): values are sealed with AES-256-GCM under the
-- key file, never stored in clear text; the update to 1.2 seals the values
-- stored before it; a sealed value bound to its name cannot be moved to
-- another; requests get the clear value.  In a database of its own.
\set VERBOSITY default
CREATE DATABASE regress_durable_at_rest;
\c regress_durable_at_rest
SET client_min_messages = warning;
CREATE EXTENSION durable VERSION '1.1';
RESET client_min_messages;

-- a value stored in clear text before 1.2 (as the library before it did)
INSERT INTO durable.secrets (name, value, allowed_hosts, owner, created_at, updated_at)
VALUES ('legacy', 'sk-legacy-value-1', ARRAY['127.0.0.1'], current_user::regrole, now(), now());
ALTER EXTENSION durable UPDATE;
SELECT name, value LIKE 'durable-aes256gcm:%' AS sealed,
       strpos(value, 'sk-legacy') = 0 AS no_clear_text
  FROM durable.secrets;
SELECT to_regprocedure('durable.secret_seal(text, text)') IS NULL AS no_seal_function_left;

-- a new value is sealed, with a fresh nonce each time: the same value twice
-- gives two different stored forms
SELECT durable_secret_set('fresh', 'sk-fresh-value-2', ARRAY['127.0.0.1']);
SELECT value AS first_form FROM durable.secrets WHERE name = 'fresh' \gset
SELECT durable_secret_set('fresh', 'sk-fresh-value-2', ARRAY['127.0.0.1']);
SELECT value LIKE 'durable-aes256gcm:%' AS sealed, value <> :'first_form' AS new_nonce,
       strpos(value, 'sk-fresh') = 0 AS no_clear_text
  FROM durable.secrets WHERE name = 'fresh';

-- requests get the clear values, the one sealed by the update included
CREATE FUNCTION wf_at_rest(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_http('call', input, '{}');
END $$;
SELECT durable_start('wf_at_rest', jsonb_build_object(
  'url', current_setting('mock.url') || '/echo', 'method', 'POST',
  'headers', '{"X-Legacy": {"secret": "legacy"}, "X-Fresh": {"secret": "fresh"}}'::jsonb),
  name => 'at-rest-echo') IS NOT NULL AS started;
SELECT durable_drive('at-rest-echo');
SELECT r->'body'->'headers'->>'x-legacy' = 'sk-legacy-value-1' AS legacy_value_sent,
       r->'body'->'headers'->>'x-fresh' = 'sk-fresh-value-2' AS fresh_value_sent
  FROM durable_result('at-rest-echo') r;

-- a sealed value copied under another name does not authenticate there
UPDATE durable.secrets SET value = (SELECT value FROM durable.secrets WHERE name = 'fresh')
 WHERE name = 'legacy';
SELECT durable_start('wf_at_rest', jsonb_build_object(
  'url', current_setting('mock.url') || '/echo', 'method', 'POST',
  'headers', '{"X-Legacy": {"secret": "legacy"}}'::jsonb),
  name => 'at-rest-moved') IS NOT NULL AS started;
SELECT durable_drive('at-rest-moved');
SELECT status, error->>'sqlstate' AS sqlstate, error->>'message' AS message
  FROM durable_status('at-rest-moved');

\c contrib_regression
DROP DATABASE regress_durable_at_rest;
