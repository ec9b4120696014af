-- durable_http and what a remote server or a request may not do to the
-- others (issue 13): every form of a reserved address is refused before a
-- connection opens (so no network is needed), a redirect to another scheme
-- is refused, durable.http_max_timeout caps the timeouts at the call, with
-- semantics at_most_once an attempt that may have been sent is never sent
-- again, and a body the server calls JSON but that jsonb cannot hold comes
-- back as a string.  No worker runs (test/regress.conf): durable_drive
-- sends each request in this session.  test/check.sh starts the mock and
-- puts its URL in mock.url; no output shows it.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS durable;
\set VERBOSITY default

CREATE FUNCTION ih_mock(path text) RETURNS text LANGUAGE sql AS $$
  SELECT current_setting('mock.url') || path
$$;
CREATE FUNCTION ih_masked(msg text) RETURNS text LANGUAGE sql AS $$
  SELECT regexp_replace(regexp_replace(replace(msg, current_setting('mock.url'), '<mock>'),
                                       'port [0-9]+', 'port <port>', 'g'),
                        '(after|[0-9]+ out of) [0-9]+ (ms|milliseconds)', '<n> ms', 'g')
$$;
CREATE FUNCTION ih_wf(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_http('call', input->'request', input->'options');
END $$;
-- starts a named execution of one request and drives it
CREATE FUNCTION ih_go(execution text, request jsonb, options jsonb DEFAULT NULL)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_start('ih_wf', jsonb_build_object('request', request)
                                 || CASE WHEN options IS NULL THEN '{}' ELSE jsonb_build_object('options', options) END,
                        name => execution);
  RETURN durable_drive(execution);
END $$;
CREATE FUNCTION ih_outcome(execution text)
RETURNS TABLE (status text, sqlstate text, message text) LANGUAGE sql AS $$
  SELECT s.status, s.error->>'sqlstate', ih_masked(s.error->>'message')
    FROM durable_status(execution) s
$$;
-- how many requests the mock got whose path starts with prefix
CREATE FUNCTION ih_sent(prefix text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE id uuid;
BEGIN
  id := durable_start('ih_wf', jsonb_build_object('request',
                        jsonb_build_object('url', ih_mock('/_requests?prefix=' || prefix))));
  PERFORM durable_drive(id::text);
  RETURN jsonb_array_length(durable_result(id::text)->'body');
END $$;

-- ----------------------------------------------------------------------
-- F14: IPv6 forms that carry a reserved IPv4 address, the other reserved
-- IPv6 nets, and the IPv4 documentation and relay nets: WF016, never sent
-- ----------------------------------------------------------------------
SET durable.http_allow_addresses = '';
SELECT count(ih_go('ih-addr ' || u, jsonb_build_object('url', u), '{"max_attempts": 1}')) AS driven
  FROM unnest(ARRAY[
    'http://[::127.0.0.1]:1/x',              -- IPv4-compatible ::/96
    'http://[::8.8.8.8]:1/x',                -- ::/96 is deprecated: refused whatever it carries
    'http://[::ffff:10.1.2.3]:1/x',          -- IPv4-mapped
    'http://[::ffff:0:127.0.0.1]:1/x',       -- IPv4-translated ::ffff:0:0:0/96
    'http://[64:ff9b::127.0.0.1]:1/x',       -- NAT64 of loopback
    'http://[64:ff9b::a9fe:a9fe]:1/x',       -- NAT64 of 169.254.169.254
    'http://[64:ff9b:1::1]:1/x',             -- local-use NAT64 64:ff9b:1::/48
    'http://[2002:7f00:1::1]:1/x',           -- 6to4 of 127.0.0.1
    'http://[2002:c0a8:101::1]:1/x',         -- 6to4 of 192.168.1.1
    'http://[2001:0:4136:e378:8000:63bf:80ff:fffe]:1/x',  -- Teredo, client 127.0.0.1
    'http://[2001:0:a00:1:8000:63bf:3fff:fdd2]:1/x',      -- Teredo, server 10.0.0.1
    'http://[2001:db8::1]:1/x',              -- documentation
    'http://[100::1]:1/x',                   -- discard-only
    'http://[fec0::1]:1/x',                  -- site-local
    'http://192.0.2.1:1/x',                  -- TEST-NET-1
    'http://198.51.100.7:1/x',               -- TEST-NET-2
    'http://203.0.113.9:1/x',                -- TEST-NET-3
    'http://192.88.99.1:1/x',                -- 6to4 relay anycast
    'http://198.18.0.1:1/x',                 -- benchmarking
    'http://100.64.0.1:1/x'                  -- shared address space
  ]) u;
SELECT substr(e.name, 9) AS url, o.status, o.sqlstate, o.message
  FROM durable.executions e, ih_outcome(e.name) o
 WHERE e.name LIKE 'ih-addr %' ORDER BY e.created_at, e.name;
-- none was attempted twice: a refusal is never retried
SELECT count(*) AS attempts FROM durable.operations o JOIN durable.executions e ON e.id = o.execution_id
 WHERE e.name LIKE 'ih-addr %' AND o.attempt <> 1;
RESET durable.http_allow_addresses;

-- ----------------------------------------------------------------------
-- F15: a redirect to another scheme than http or https is refused, WF016
-- (as a redirect to a refused address is); too many redirects stay WF015
-- ----------------------------------------------------------------------
SELECT ih_go('ih-redirect-file', jsonb_build_object('url', ih_mock('/location?to=file:///etc/passwd')));
SELECT ih_go('ih-redirect-gopher', jsonb_build_object('url', ih_mock('/location?to=gopher://127.0.0.1:70/1')));
SELECT ih_go('ih-redirect-many', jsonb_build_object('url', ih_mock('/redirect/2')), '{"max_redirects": 1}');
SELECT e, o.* FROM unnest(ARRAY['ih-redirect-file', 'ih-redirect-gopher', 'ih-redirect-many']) e, ih_outcome(e) o;

-- ----------------------------------------------------------------------
-- F3: durable.http_max_timeout (superuser; 5 minutes by default) caps a
-- request's timeout, the option timeout and connect_timeout at the call
-- ----------------------------------------------------------------------
SHOW durable.http_max_timeout;
SHOW durable.http_max_in_flight_per_role;
SELECT durable_start('ih_wf', jsonb_build_object('request', r, 'options', o), name => 'ih-timeout ' || n) IS NOT NULL AS started
  FROM (VALUES
    (1, jsonb_build_object('url', ih_mock('/ih-timeout/1'), 'timeout', '1000 years'), '{}'::jsonb),
    (2, jsonb_build_object('url', ih_mock('/ih-timeout/2'), 'timeout', '5 minutes 1 second'), '{}'),
    (3, jsonb_build_object('url', ih_mock('/ih-timeout/3')), '{"timeout": "1 hour"}'),
    (4, jsonb_build_object('url', ih_mock('/ih-timeout/4')), '{"connect_timeout": "10 minutes"}'),
    (5, jsonb_build_object('url', ih_mock('/ih-timeout/5'), 'timeout', '5 minutes'), '{"connect_timeout": "5 minutes"}')
  ) v(n, r, o);
SELECT count(durable_drive('ih-timeout ' || n)) AS driven FROM generate_series(1, 5) n;
SELECT e.name, o.status, o.sqlstate, o.message
  FROM durable.executions e, ih_outcome(e.name) o WHERE e.name LIKE 'ih-timeout %' ORDER BY e.name;
SELECT error->>'hint' AS hint FROM durable_status('ih-timeout 1');
-- the refused ones sent nothing, the one at the limit was sent
SELECT ih_sent('/ih-timeout/') AS sent;
-- a lower setting refuses what was fine
SET durable.http_max_timeout = '10s';
SELECT ih_go('ih-timeout-lowered', jsonb_build_object('url', ih_mock('/ih-timeout/6'), 'timeout', '11 seconds'));
SELECT * FROM ih_outcome('ih-timeout-lowered');
RESET durable.http_max_timeout;
-- bad values, and no role lifts its own limit
SET durable.http_max_timeout = '0';
SET durable.http_max_in_flight_per_role = -1;
CREATE ROLE regress_ih_role;
SET ROLE regress_ih_role;
SET durable.http_max_timeout = '1h';
SET durable.http_max_in_flight_per_role = 0;
RESET ROLE;
DROP ROLE regress_ih_role;

-- ----------------------------------------------------------------------
-- F8: semantics at_most_once never sends a request a second time.  A
-- timeout after the request went out is an unknown outcome (WF017), not
-- retried whatever max_attempts says; a connection refused proves that
-- nothing was sent, and is retried
-- ----------------------------------------------------------------------
SELECT ih_go('ih-amo-timeout', jsonb_build_object('url', ih_mock('/delay/2001'), 'method', 'POST',
                                                  'body', 'charge 100 EUR', 'timeout', '300 ms'),
             '{"semantics": "at_most_once", "max_attempts": 3, "initial_delay": "0 s", "max_delay": "0 s"}');
SELECT * FROM ih_outcome('ih-amo-timeout');
SELECT error->>'detail' AS detail FROM durable_status('ih-amo-timeout');
SELECT status, attempt FROM durable_operations('ih-amo-timeout');
SELECT ih_sent('/delay/2001') AS sent;
-- the same with at_least_once is retried (each attempt sent)
SELECT ih_go('ih-alo-timeout', jsonb_build_object('url', ih_mock('/delay/1501'), 'method', 'POST',
                                                  'timeout', '300 ms'),
             '{"max_attempts": 2, "initial_delay": "0 s", "max_delay": "0 s"}');
SELECT * FROM ih_outcome('ih-alo-timeout');
SELECT ih_sent('/delay/1501') AS sent;
-- connection refused (nothing listens on port 1): nothing was sent, retried
SELECT ih_go('ih-amo-refused', jsonb_build_object('url', 'http://127.0.0.1:1/nothing', 'method', 'POST'),
             '{"semantics": "at_most_once", "max_attempts": 2, "initial_delay": "5 seconds", "jitter": "none"}');
SELECT status, attempt, ih_masked(error->>'message') AS error FROM durable_operations('ih-amo-refused');
SET durable.clock_offset = '6 seconds';
SELECT durable_drive('ih-amo-refused');
RESET durable.clock_offset;
SELECT * FROM ih_outcome('ih-amo-refused');
SELECT error->>'detail' AS detail FROM durable_status('ih-amo-refused');

-- ----------------------------------------------------------------------
-- F1: bodies the server calls JSON that jsonb cannot hold are results with
-- the body as a string and json_error saying why; text that is not UTF-8
-- is base64; an announced or endless huge body hits
-- durable.http_max_response_size (WF009).  Nothing raises an error.
-- ----------------------------------------------------------------------
SELECT ih_go('ih-poison ' || k, jsonb_build_object('url', ih_mock('/poison/' || k)), '{"max_attempts": 1}')
  FROM unnest(ARRAY['hugeexp', 'deep', 'digits', 'badutf8', 'hugelength', 'endless']) k;
SELECT substr(e.name, 11) AS poison, s.status, s.error->>'sqlstate' AS sqlstate,
       s.result->'status' AS http_status, jsonb_typeof(s.result->'body') AS body_type,
       length(s.result->>'body') AS body_length, s.result->'base64' AS base64,
       left(s.result->>'json_error', 40) AS json_error, ih_masked(s.error->>'message') AS error
  FROM durable.executions e, durable_status(e.name) s
 WHERE e.name LIKE 'ih-poison %' ORDER BY e.created_at, e.name;
-- a JSON body that jsonb holds is still jsonb, and has no json_error
SELECT ih_go('ih-json-ok', jsonb_build_object('url', ih_mock('/echo?ok=1')));
SELECT jsonb_typeof(durable_result('ih-json-ok')->'body') AS body_type,
       durable_result('ih-json-ok') ? 'json_error' AS has_json_error;
