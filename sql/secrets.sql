-- Secrets of HTTP requests: durable_secret_set, _delete, _grant, _revoke
-- and durable_secrets(); references to them in headers and bodies of
-- durable_http; who may use them, for which hosts; their values never
-- stored or shown anywhere else; bad inputs.  Requests go to the mock
-- HTTP server of test/check.sh (its URL is the setting mock.url).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS durable;
\set VERBOSITY default

CREATE ROLE regress_secret_alice;
CREATE ROLE regress_secret_bob;
CREATE ROLE regress_secret_carol;

CREATE FUNCTION sec_url(path text) RETURNS text LANGUAGE sql AS $$
  SELECT current_setting('mock.url') || path
$$;
-- err(sql): 'ok', or the SQLSTATE and message of the error it raised
CREATE FUNCTION sec_err(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE sql;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- everything about secrets, values included (superusers only)
CREATE FUNCTION sec_digest() RETURNS text LANGUAGE sql AS $$
  SELECT md5(concat_ws('|',
    (SELECT string_agg(concat_ws(',', name, value, allowed_hosts, owner, created_at, updated_at), ';'
                       ORDER BY name) FROM durable.secrets),
    (SELECT string_agg(concat_ws(',', name, grantee), ';' ORDER BY name, grantee::text)
       FROM durable.secret_grants)))
$$;
-- one request, as the workflow gets it in its input
CREATE FUNCTION wf_with_secret(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_http('call', input->'request', coalesce(input->'options', '{}'));
END $$;
-- starts (as the current role) and drives an execution of one request
CREATE FUNCTION sec_go(execution text, request jsonb, options jsonb DEFAULT '{}')
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_start('wf_with_secret', jsonb_build_object('request', request, 'options', options),
                        name => execution);
  RETURN durable_drive(execution);
END $$;
-- how it ended; no port in the message
CREATE FUNCTION sec_outcome(execution text)
RETURNS TABLE (status text, sqlstate text, message text) LANGUAGE sql AS $$
  SELECT s.status, s.error->>'sqlstate',
         regexp_replace(s.error->>'message', ':[0-9]+', ':<port>', 'g')
    FROM durable_status(execution) s
$$;
-- where a text appears in what durable keeps about executions, but in
-- one execution and in those that read the mock's request log
CREATE FUNCTION sec_stored(needle text, except_execution text DEFAULT NULL)
RETURNS TABLE (tbl text, hits bigint) LANGUAGE sql AS $$
  WITH skip AS (SELECT id FROM durable.executions
                 WHERE name = except_execution OR input->'request'->>'url' LIKE '%/\_requests%')
  SELECT 'executions', count(*) FROM durable.executions t
   WHERE strpos(t::text, needle) > 0 AND t.id NOT IN (SELECT id FROM skip)
  UNION ALL
  SELECT 'operations', count(*) FROM durable.operations t
   WHERE strpos(t::text, needle) > 0 AND t.execution_id NOT IN (SELECT id FROM skip)
  UNION ALL
  SELECT 'history', count(*) FROM durable.history t
   WHERE strpos(t::text, needle) > 0 AND t.execution_id NOT IN (SELECT id FROM skip)
  UNION ALL
  SELECT 'http_requests', count(*) FROM durable.http_requests t WHERE strpos(t::text, needle) > 0
  UNION ALL
  SELECT 'queue', count(*) FROM durable.queue t WHERE strpos(t::text, needle) > 0
  UNION ALL
  SELECT 'inbox', count(*) FROM durable.inbox t WHERE strpos(t::text, needle) > 0
$$;
-- the requests of the mock under a path (an execution of its own)
CREATE FUNCTION sec_sent(prefix text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE id uuid;
BEGIN
  id := durable_start('wf_with_secret', jsonb_build_object('request',
          jsonb_build_object('url', sec_url('/_requests?prefix=' || prefix))));
  PERFORM durable_drive(id::text);
  RETURN durable_result(id::text)->'body';
END $$;

-- a clean mock: no recorded requests
SELECT durable_start('wf_with_secret', jsonb_build_object('request',
         jsonb_build_object('url', sec_url('/_reset'), 'method', 'POST')), name => 'sec-reset') IS NOT NULL AS started;
SELECT durable_drive('sec-reset');

-- ----------------------------------------------------------------------
-- set, replace, list
-- ----------------------------------------------------------------------
SET ROLE regress_secret_alice;
SELECT durable_secret_set('alice-token', 'sk-alice-0123456789', ARRAY['127.0.0.1']);
SELECT durable_secret_set('alice-other', 'other-value', ARRAY['api.example.com', '*.example.org']);
-- the list: never a value
SELECT name, owner, allowed_hosts, grantees, created_at = updated_at AS never_replaced
  FROM durable_secrets() ORDER BY name;
RESET ROLE;
SELECT pg_get_function_result('durable_secrets()'::regprocedure) AS columns;
-- the value is stored sealed (AES-256-GCM), never as given
SELECT name, value LIKE 'durable-aes256gcm:%' AS sealed,
       strpos(value, 'sk-alice') = 0 AND strpos(value, 'other-value') = 0 AS no_clear_text,
       position('sk-alice'::bytea IN decode(substr(value, 19), 'base64')) = 0 AS not_in_decoded,
       owner
  FROM durable.secrets ORDER BY name;

-- replace: a new value and hosts, the same owner and creation time
SET ROLE regress_secret_alice;
SELECT created_at AS created_before FROM durable_secrets() WHERE name = 'alice-token' \gset
SELECT durable_secret_set('alice-token', 'sk-alice-replaced-42', ARRAY['127.0.0.1', 'localhost']);
SELECT name, owner, allowed_hosts, created_at = :'created_before' AS same_created_at,
       updated_at > created_at AS updated
  FROM durable_secrets() WHERE name = 'alice-token';
RESET ROLE;
SELECT value LIKE 'durable-aes256gcm:%' AS sealed, strpos(value, 'sk-alice') = 0 AS no_clear_text
  FROM durable.secrets WHERE name = 'alice-token';

-- others see only what they own or were granted; superusers see all
SET ROLE regress_secret_bob;
SELECT count(*) AS bob_sees FROM durable_secrets();
RESET ROLE;
SELECT name, owner FROM durable_secrets() WHERE owner::text LIKE 'regress_secret%' ORDER BY name;

-- durable.secrets and durable.secret_grants: superusers only
SET ROLE regress_secret_alice;
SELECT value FROM durable.secrets;
SELECT * FROM durable.secret_grants;
RESET ROLE;

-- ----------------------------------------------------------------------
-- references in requests
-- ----------------------------------------------------------------------

-- a header with a prefix and JSON body values: the mock gets the values
SET ROLE regress_secret_alice;
SELECT sec_go('sec-echo', jsonb_build_object(
  'url', sec_url('/echo'), 'method', 'POST',
  'headers', '{"Authorization": {"secret": "alice-token", "prefix": "Bearer "},
               "X-Api-Key": {"secret": "alice-token"}}'::jsonb,
  'body', '{"user": "alice", "auth": {"key": {"secret": "alice-token"}},
            "keys": [{"secret": "alice-token", "prefix": "k="}, "plain"],
            "not_a_reference": {"secret": "alice-token", "other": 1}}'::jsonb));
RESET ROLE;
SELECT r->'body'->'headers'->>'authorization' = 'Bearer sk-alice-replaced-42' AS header_with_prefix,
       r->'body'->'headers'->>'x-api-key' = 'sk-alice-replaced-42' AS header,
       r->'body'->'json'->'auth'->'key' = '"sk-alice-replaced-42"' AS body_value,
       r->'body'->'json'->'keys' = '["k=sk-alice-replaced-42", "plain"]' AS body_array,
       r->'body'->'json'->'not_a_reference' AS not_a_reference,
       r->'body'->'json'->'user' AS user
  FROM durable_result('sec-echo') r;
-- the checkpoint holds the value only because the response echoes it
SELECT * FROM sec_stored('sk-alice-replaced-42') ORDER BY tbl;

-- a response that does not echo it: the value is nowhere
SET ROLE regress_secret_alice;
SELECT sec_go('sec-quiet', jsonb_build_object(
  'url', sec_url('/status/200'), 'method', 'PUT',
  'headers', '{"Authorization": {"secret": "alice-token", "prefix": "Bearer "}}'::jsonb,
  'body', '{"key": {"secret": "alice-token"}}'::jsonb));
RESET ROLE;
SELECT status, result->'status' AS http_status FROM durable_status('sec-quiet');
SELECT * FROM sec_stored('sk-alice-replaced-42', 'sec-echo') ORDER BY tbl;
SELECT * FROM sec_stored('alice-token', 'sec-echo') ORDER BY tbl;    -- the references are
-- the mock got it
SELECT r->'headers'->>'authorization' = 'Bearer sk-alice-replaced-42' AS sent_header,
       r->>'body' = '{"key": "sk-alice-replaced-42"}' AS sent_body
  FROM jsonb_array_elements(sec_sent('/status/200')) r;

-- a request with a secret does not follow redirects (the answer is the
-- 302); without one it does
SET ROLE regress_secret_alice;
SELECT sec_go('sec-redirect-secret', jsonb_build_object(
  'url', sec_url('/redirect/1'), 'headers', '{"Authorization": {"secret": "alice-token"}}'::jsonb));
SELECT sec_go('sec-redirect-body-secret', jsonb_build_object(
  'url', sec_url('/redirect/1'), 'method', 'POST', 'body', '[{"secret": "alice-token"}]'::jsonb));
SELECT sec_go('sec-redirect-plain', jsonb_build_object('url', sec_url('/redirect/1')));
RESET ROLE;
SELECT e, r->'status' AS http_status, r->'headers'->>'location' AS location
  FROM unnest(ARRAY['sec-redirect-secret', 'sec-redirect-body-secret', 'sec-redirect-plain']) e, durable_result(e) r;
SELECT r->>'path' AS path FROM jsonb_array_elements(sec_sent('/redirect/')) r;

-- ----------------------------------------------------------------------
-- refusals: WF016 at once, nothing sent, nothing retried
-- ----------------------------------------------------------------------
SET ROLE regress_secret_alice;
-- a secret that does not exist
SELECT sec_go('sec-missing', jsonb_build_object(
  'url', sec_url('/refused/missing'), 'headers', '{"Authorization": {"secret": "no-such-secret"}}'::jsonb));
-- in a body
SELECT sec_go('sec-missing-in-body', jsonb_build_object(
  'url', sec_url('/refused/missing-in-body'), 'method', 'POST', 'body', '{"a": [{"b": {"secret": "nope"}}]}'::jsonb));
-- a host the secret may not go to (api.example.com, *.example.org)
SELECT sec_go('sec-wrong-host', jsonb_build_object(
  'url', sec_url('/refused/wrong-host'), 'headers', '{"Authorization": {"secret": "alice-other"}}'::jsonb));
RESET ROLE;
SELECT e, o.* FROM unnest(ARRAY['sec-missing', 'sec-missing-in-body', 'sec-wrong-host']) e, sec_outcome(e) o;
SELECT e, o.status, o.attempt FROM unnest(ARRAY['sec-missing', 'sec-missing-in-body', 'sec-wrong-host']) e,
                                  durable_operations(e) o;
SELECT jsonb_array_length(sec_sent('/refused/')) AS sent;

-- a role that was not granted the secret: WF016; granted: it works;
-- revoked: WF016 again
SET ROLE regress_secret_carol;
SELECT sec_go('sec-carol-1', jsonb_build_object(
  'url', sec_url('/echo?carol=1'), 'headers', '{"X-Key": {"secret": "alice-token"}}'::jsonb));
SELECT * FROM sec_outcome('sec-carol-1');
SELECT count(*) AS carol_sees FROM durable_secrets();
SET ROLE regress_secret_alice;
SELECT durable_secret_grant('alice-token', 'regress_secret_carol');
SELECT durable_secret_grant('alice-token', 'regress_secret_carol');      -- again: no change
SELECT name, grantees FROM durable_secrets() WHERE name = 'alice-token';
SET ROLE regress_secret_carol;
SELECT name, owner, grantees FROM durable_secrets();
SELECT sec_go('sec-carol-2', jsonb_build_object(
  'url', sec_url('/echo?carol=2'), 'headers', '{"X-Key": {"secret": "alice-token"}}'::jsonb));
SELECT status, result->'body'->'headers'->>'x-key' = 'sk-alice-replaced-42' AS got_value
  FROM durable_status('sec-carol-2');
-- a grantee cannot pass it on, change or delete it
SELECT f, sec_err(f) FROM unnest(ARRAY[
  'SELECT durable_secret_grant(''alice-token'', ''regress_secret_bob'')',
  'SELECT durable_secret_revoke(''alice-token'', ''regress_secret_carol'')',
  'SELECT durable_secret_set(''alice-token'', ''carol-was-here'', ARRAY[''127.0.0.1''])',
  'SELECT durable_secret_delete(''alice-token'')']) f;
SET ROLE regress_secret_alice;
SELECT durable_secret_revoke('alice-token', 'regress_secret_carol');
SELECT durable_secret_revoke('alice-token', 'regress_secret_carol');     -- again: no change
SELECT name, grantees FROM durable_secrets() WHERE name = 'alice-token';
SET ROLE regress_secret_carol;
SELECT sec_go('sec-carol-3', jsonb_build_object(
  'url', sec_url('/echo?carol=3'), 'headers', '{"X-Key": {"secret": "alice-token"}}'::jsonb));
SELECT * FROM sec_outcome('sec-carol-3');
SELECT count(*) AS carol_sees FROM durable_secrets();
RESET ROLE;
SELECT r->>'query' AS sent FROM jsonb_array_elements(sec_sent('/echo')) r WHERE r->>'query' LIKE 'carol%';
-- a grant to a role covers its members
GRANT regress_secret_carol TO regress_secret_bob;
SET ROLE regress_secret_alice;
SELECT durable_secret_grant('alice-token', 'regress_secret_carol');
SET ROLE regress_secret_bob;
SELECT sec_go('sec-bob-member', jsonb_build_object(
  'url', sec_url('/status/204'), 'headers', '{"X-Key": {"secret": "alice-token"}}'::jsonb));
RESET ROLE;
REVOKE regress_secret_carol FROM regress_secret_bob;
SET ROLE regress_secret_alice;
SELECT durable_secret_revoke('alice-token', 'regress_secret_carol');
RESET ROLE;

-- another role cannot replace, delete, grant or revoke alice's secret
SELECT sec_digest() AS digest \gset
SET ROLE regress_secret_bob;
SELECT f, sec_err(f) FROM unnest(ARRAY[
  'SELECT durable_secret_set(''alice-token'', ''bob-value'', ARRAY[''127.0.0.1''])',
  'SELECT durable_secret_delete(''alice-token'')',
  'SELECT durable_secret_grant(''alice-token'', ''regress_secret_bob'')',
  'SELECT durable_secret_revoke(''alice-token'', ''regress_secret_carol'')']) f;
SELECT durable_secret_set('alice-token', 'bob-value', ARRAY['127.0.0.1']);
-- nor use it
SELECT sec_go('sec-bob', jsonb_build_object(
  'url', sec_url('/refused/bob'), 'headers', '{"X-Key": {"secret": "alice-token"}}'::jsonb));
SELECT * FROM sec_outcome('sec-bob');
RESET ROLE;
SELECT sec_digest() = :'digest' AS unchanged;

-- ----------------------------------------------------------------------
-- bad inputs: clear errors, nothing changed
-- ----------------------------------------------------------------------
SELECT sec_digest() AS digest \gset
SELECT f, sec_err(f) FROM unnest(ARRAY[
  'SELECT durable_secret_set(NULL, ''v'', ARRAY[''127.0.0.1''])',
  'SELECT durable_secret_set('''', ''v'', ARRAY[''127.0.0.1''])',
  'SELECT durable_secret_set(repeat(''n'', 201), ''v'', ARRAY[''127.0.0.1''])',
  'SELECT durable_secret_set(E''a\tb'', ''v'', ARRAY[''127.0.0.1''])',
  'SELECT durable_secret_set(''alice-token'', NULL, ARRAY[''127.0.0.1''])',
  'SELECT durable_secret_set(''alice-token'', '''', ARRAY[''127.0.0.1''])',
  'SELECT durable_secret_set(''alice-token'', E''line\nbreak'', ARRAY[''127.0.0.1''])',
  'SELECT durable_secret_set(''alice-token'', E''carriage\rreturn'', ARRAY[''127.0.0.1''])',
  'SELECT durable_secret_set(''alice-token'', ''v'', NULL)',
  'SELECT durable_secret_set(''alice-token'', ''v'', ARRAY[]::text[])',
  'SELECT durable_secret_set(''alice-token'', ''v'', ARRAY[''127.0.0.1'', NULL])',
  'SELECT durable_secret_set(''alice-token'', ''v'', ARRAY[[''a.example.com''], [''b.example.com'']])',
  'SELECT durable_secret_set(''alice-token'', ''v'', ARRAY[''https://api.example.com''])',
  'SELECT durable_secret_set(''alice-token'', ''v'', ARRAY[''api.example.com/v1''])',
  'SELECT durable_secret_set(''alice-token'', ''v'', ARRAY[''api example.com''])',
  'SELECT durable_secret_set(''alice-token'', ''v'', ARRAY[''''])',
  'SELECT durable_secret_set(''alice-token'', ''v'', ARRAY[''*''])',
  'SELECT durable_secret_set(''alice-token'', ''v'', ARRAY[''*.''])',
  'SELECT durable_secret_set(''alice-token'', ''v'', ARRAY[''api.*.com''])',
  'SELECT durable_secret_set(''alice-token'', ''v'', ARRAY[''127.0.0.1:8080''])',
  'SELECT durable_secret_set(''alice-token'', ''v'', ARRAY[''api.example.com:443''])',
  'SELECT durable_secret_set(''alice-token'', ''v'', ARRAY[''[::1]:443''])',
  'SELECT durable_secret_delete(NULL)',
  'SELECT durable_secret_delete('''')',
  'SELECT durable_secret_delete(''no-such-secret'')',
  'SELECT durable_secret_grant(''no-such-secret'', ''regress_secret_bob'')',
  'SELECT durable_secret_revoke(''no-such-secret'', ''regress_secret_bob'')',
  'SELECT durable_secret_grant(''alice-token'', ''regress_no_such_role'')',
  'SELECT durable_secret_revoke(''alice-token'', ''regress_no_such_role'')',
  'SELECT durable_secret_grant(''alice-token'', NULL)',
  'SELECT durable_secret_grant(NULL, ''regress_secret_bob'')']) f;
SELECT sec_digest() = :'digest' AS unchanged;
-- the same as alice herself
SET ROLE regress_secret_alice;
SELECT f, sec_err(f) FROM unnest(ARRAY[
  'SELECT durable_secret_set(''alice-token'', E''line\nbreak'', ARRAY[''127.0.0.1''])',
  'SELECT durable_secret_set(''alice-token'', ''v'', ARRAY[''127.0.0.1'', NULL])',
  'SELECT durable_secret_grant(''alice-token'', ''regress_no_such_role'')',
  'SELECT durable_secret_delete(''no-such-secret'')']) f;
RESET ROLE;
SELECT sec_digest() = :'digest' AS unchanged;
-- no error shows a value
SELECT sec_err('SELECT durable_secret_set(''alice-token'', E''sk-new\nvalue'', ARRAY[''127.0.0.1''])')
       LIKE '%sk-new%' AS value_in_error;

-- ----------------------------------------------------------------------
-- delete; superusers may change any secret
-- ----------------------------------------------------------------------
SELECT durable_secret_grant('alice-token', 'regress_secret_carol');     -- as a superuser
SELECT durable_secret_set('alice-other', 'replaced-by-superuser', ARRAY['127.0.0.1']);
SELECT name, owner, allowed_hosts, grantees FROM durable_secrets()
 WHERE owner::text LIKE 'regress_secret%' ORDER BY name;
SET ROLE regress_secret_alice;
SELECT durable_secret_delete('alice-token');
SELECT name FROM durable_secrets();
-- deleted: its grants go with it, requests that use it are refused
SELECT sec_go('sec-deleted', jsonb_build_object(
  'url', sec_url('/refused/deleted'), 'headers', '{"X-Key": {"secret": "alice-token"}}'::jsonb));
SELECT * FROM sec_outcome('sec-deleted');
RESET ROLE;
SELECT count(*) AS grants_left FROM durable.secret_grants WHERE name = 'alice-token';
SELECT durable_secret_delete('alice-other');                            -- as a superuser
SELECT count(*) AS secrets_left FROM durable.secrets;
SELECT jsonb_array_length(sec_sent('/refused/')) AS sent;

-- the roles of this suite go
DROP ROLE regress_secret_alice;
DROP ROLE regress_secret_bob;
DROP ROLE regress_secret_carol;
