-- durable_http: requests to the mock HTTP server, their results, retries,
-- failures, limits, the address policy, replay and bad inputs.  No worker
-- runs (test/regress.conf): durable_drive sends each request in this
-- session; retry delays are durable timers that durable.clock_offset moves
-- past.  test/check.sh starts test/mock/mock_http.py and puts its URL in
-- the setting mock.url: no output shows it (its port changes every run).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS durable;
\set VERBOSITY default

-- the URL of a path of the mock
CREATE FUNCTION mock(path text) RETURNS text LANGUAGE sql AS $$
  SELECT current_setting('mock.url') || path
$$;
-- a message without the mock's URL, ports and times
CREATE FUNCTION http_masked(msg text) RETURNS text LANGUAGE sql AS $$
  SELECT regexp_replace(regexp_replace(replace(msg, current_setting('mock.url'), '<mock>'),
                                       'port [0-9]+', 'port <port>', 'g'),
                        '[0-9]+ (ms|milliseconds)', '<n> \1', 'g')
$$;
-- the workflow: one request, {"name", "request", "options"} as given
CREATE FUNCTION wf_http(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_http(input->>'name', input->'request', input->'options');
END $$;
-- starts a named execution of one request and drives it
CREATE FUNCTION http_go(execution text, request jsonb, options jsonb DEFAULT NULL)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_start('wf_http', jsonb_build_object('name', 'call', 'request', request)
                                   || CASE WHEN options IS NULL THEN '{}' ELSE jsonb_build_object('options', options) END,
                        name => execution);
  RETURN durable_drive(execution);
END $$;
-- how an execution ended: its status and its error, masked
CREATE FUNCTION http_outcome(execution text)
RETURNS TABLE (status text, sqlstate text, message text, detail text) LANGUAGE sql AS $$
  SELECT s.status, s.error->>'sqlstate', http_masked(s.error->>'message'), s.error->>'detail'
    FROM durable_status(execution) s
$$;
-- the requests the mock got whose path starts with prefix: method, path and
-- query, and the headers asked for (an execution of its own, not a checkpoint of
-- the tests' executions)
CREATE FUNCTION http_sent(prefix text, header_names text[] DEFAULT '{}')
RETURNS TABLE (method text, target text, headers jsonb) LANGUAGE plpgsql AS $$
DECLARE id uuid;
BEGIN
  id := durable_start('wf_http', jsonb_build_object('name', 'requests', 'request',
                        jsonb_build_object('url', mock('/_requests?prefix=' || prefix))));
  PERFORM durable_drive(id::text);
  RETURN QUERY
    SELECT r->>'method', r->>'path' || CASE WHEN r->>'query' <> '' THEN '?' || (r->>'query') ELSE '' END,
           (SELECT coalesce(jsonb_object_agg(h.key, h.value), '{}') FROM jsonb_each(r->'headers') h
             WHERE h.key = ANY (header_names))
      FROM jsonb_array_elements(durable_result(id::text)->'body') r ORDER BY (r->>'n')::int;
END $$;

-- a clean mock: no recorded requests, /seq counters at 0
SELECT http_go('http-reset', jsonb_build_object('url', mock('/_reset'), 'method', 'POST'));
SELECT durable_result('http-reset')->'body' AS reset;

-- outside a workflow: WF012
SELECT durable_http('call', jsonb_build_object('url', mock('/echo?case=outside')));

-- ----------------------------------------------------------------------
-- methods, bodies, headers
-- ----------------------------------------------------------------------

-- GET: the result is {status, headers, body}; a JSON body is jsonb; the
-- request carries Idempotency-Key <execution id>:<op_id> and User-Agent
SELECT http_go('http-get', jsonb_build_object('url', mock('/echo?case=get&a=1&b=two')));
SELECT r->'status' AS status, jsonb_typeof(r->'body') AS body_type,
       r->'body'->>'method' AS method, r->'body'->>'path' AS path, r->'body'->'args' AS args,
       r->'body'->'headers'->>'user-agent' AS user_agent,
       r->'body'->'headers'->>'idempotency-key' = (SELECT id || ':' || op_id FROM durable.operations o
                                                   WHERE o.execution_id = durable.execution_id('http-get'))
         AS idempotency_key,
       r->'body'->'headers' ? 'content-type' AS has_content_type,
       r->'body'->>'body' AS sent_body
  FROM durable_result('http-get') r, durable.executions e WHERE e.name = 'http-get';
-- response headers: lowercase names
SELECT jsonb_object_keys(durable_result('http-get')->'headers') AS response_header
 ORDER BY 1;
SELECT durable_result('http-get')->'headers'->>'content-type' AS content_type;

-- POST with a JSON body: sent as JSON text, Content-Type application/json;
-- custom headers are sent; the method in any case
SELECT http_go('http-post', jsonb_build_object('url', mock('/echo?case=post'), 'method', 'post',
                                          'body', '{"order": 42, "items": ["a", "b"]}'::jsonb,
                                          'headers', '{"X-Request-Source": "regress", "Accept": "application/json"}'::jsonb));
SELECT r->'status' AS status, r->'body'->>'method' AS method,
       r->'body'->'json' AS received_json,
       r->'body'->'headers'->>'content-type' AS content_type,
       r->'body'->'headers'->>'x-request-source' AS x_request_source,
       r->'body'->'headers'->>'accept' AS accept
  FROM durable_result('http-post') r;

-- PUT with a string body: sent as is, not as JSON
SELECT http_go('http-put', jsonb_build_object('url', mock('/echo?case=put'), 'method', 'PUT',
                                         'body', 'plain "text", not JSON',
                                         'headers', '{"Content-Type": "text/plain"}'::jsonb));
SELECT r->'body'->>'method' AS method, r->'body'->>'body' AS received_body,
       r->'body'->'json' AS received_json, r->'body'->'headers'->>'content-type' AS content_type
  FROM durable_result('http-put') r;

-- PATCH with a scalar JSON body and a content-type of its own; a given
-- Idempotency-Key and User-Agent (any case) are kept
SELECT http_go('http-patch', jsonb_build_object('url', mock('/echo?case=patch'), 'method', 'Patch', 'body', 42,
                                           'headers', '{"content-type": "application/vnd.x+json",
                                                        "IDEMPOTENCY-KEY": "my-key-1", "user-agent": "regress/2"}'::jsonb));
SELECT r->'body'->>'method' AS method, r->'body'->>'body' AS received_body,
       r->'body'->'headers'->>'content-type' AS content_type,
       r->'body'->'headers'->>'idempotency-key' AS idempotency_key,
       r->'body'->'headers'->>'user-agent' AS user_agent
  FROM durable_result('http-patch') r;

-- DELETE and OPTIONS without a body, a JSON null body is no body
SELECT http_go('http-delete', jsonb_build_object('url', mock('/echo?case=delete'), 'method', 'DELETE'));
SELECT http_go('http-options', jsonb_build_object('url', mock('/echo?case=options'), 'method', 'OPTIONS', 'body', 'null'::jsonb));
SELECT e, r->'body'->>'method' AS method, r->'body'->>'body' AS received_body,
       r->'body'->'headers' ? 'content-length' AS has_content_length
  FROM unnest(ARRAY['http-delete', 'http-options']) e, durable_result(e) r;

-- HEAD: the headers, no body (null)
SELECT http_go('http-head', jsonb_build_object('url', mock('/echo?case=head'), 'method', 'HEAD'));
SELECT r->'status' AS status, r->'body' AS body, r->'headers'->>'content-type' AS content_type
  FROM durable_result('http-head') r;

-- the mock saw each of these once, with what was asked
SELECT method, target, headers FROM http_sent('/echo', ARRAY['user-agent', 'x-request-source']);

-- ----------------------------------------------------------------------
-- responses
-- ----------------------------------------------------------------------

-- a text body is a JSON string; an empty one null
SELECT http_go('http-text', jsonb_build_object('url', mock('/text')));
SELECT http_go('http-no-content', jsonb_build_object('url', mock('/status/204')));
SELECT e, r->'status' AS status, r->'body' AS body, jsonb_typeof(r->'body') AS body_type
  FROM unnest(ARRAY['http-text', 'http-no-content']) e, durable_result(e) r;

-- a status that is not retried is the result, even 404 and 500 when 500
-- is not in retry_on
SELECT http_go('http-not-found', jsonb_build_object('url', mock('/status/404')));
SELECT http_go('http-server-error', jsonb_build_object('url', mock('/status/500')), '{"retry_on": [503]}');
SELECT e, s.status, r->'status' AS http_status, r->'body' AS body
  FROM unnest(ARRAY['http-not-found', 'http-server-error']) e, durable_status(e) s, durable_result(e) r;

-- fail_on_status: true (every status from 400) or a list: WF015
SELECT http_go('http-fail-true', jsonb_build_object('url', mock('/status/404')), '{"fail_on_status": true}');
SELECT http_go('http-fail-list', jsonb_build_object('url', mock('/status/409')), '{"fail_on_status": [404, 409]}');
SELECT http_go('http-fail-class', jsonb_build_object('url', mock('/status/418')), '{"fail_on_status": ["4xx"]}');
SELECT http_go('http-fail-other', jsonb_build_object('url', mock('/status/410')), '{"fail_on_status": [404, "5xx"]}');
SELECT e, o.* FROM unnest(ARRAY['http-fail-true', 'http-fail-list', 'http-fail-class', 'http-fail-other']) e, http_outcome(e) o;
SELECT name, kind, status, attempt, error->>'sqlstate' AS sqlstate FROM durable_operations('http-fail-list');

-- ----------------------------------------------------------------------
-- retries
-- ----------------------------------------------------------------------

-- 503, 503, 200: retried after a durable delay (suspended meanwhile),
-- attempt 3 succeeds
SELECT http_go('http-retry', jsonb_build_object('url', mock('/seq/retry/503,503,200')),
               '{"initial_delay": "10 seconds", "backoff_rate": 3, "jitter": "none"}');
SELECT status, attempt, error->>'message' AS error, error->>'sqlstate' AS sqlstate,
       wake_at - now() BETWEEN '5 seconds' AND '10 seconds' AS delayed
  FROM durable_operations('http-retry');
SELECT status, current_operation FROM durable_status('http-retry');
SELECT durable_drive('http-retry');                    -- not due yet: nothing is sent
SET durable.clock_offset = '11 seconds';
SELECT durable_drive('http-retry');                    -- attempt 2: 503, next delay 30 s
SELECT status, attempt, error->>'message' AS error,
       wake_at - now() BETWEEN '36 seconds' AND '41 seconds' AS backoff
  FROM durable_operations('http-retry');
SET durable.clock_offset = '42 seconds';
SELECT durable_drive('http-retry');
SELECT r->'status' AS status, r->'body' AS body FROM durable_result('http-retry') r;
SELECT name, status, attempt, error FROM durable_operations('http-retry');
SELECT event, details->'error'->>'message' AS error, details->'error'->>'sqlstate' AS sqlstate
  FROM durable_history('http-retry') WHERE event LIKE 'operation%' ORDER BY event_id;
RESET durable.clock_offset;
-- every attempt carries the same Idempotency-Key
SELECT method, target, headers->>'idempotency-key' = (SELECT e.id || ':1' FROM durable.executions e
                                                     WHERE e.name = 'http-retry') AS same_key
  FROM http_sent('/seq/retry/', ARRAY['idempotency-key']);

-- 429 with Retry-After: the delay is at least Retry-After (120 s here,
-- the backoff 1 s)
SELECT clock_timestamp() AS before_429 \gset
SELECT http_go('http-retry-after', jsonb_build_object('url', mock('/seq/retry-after/429,200?retry_after=120')),
               '{"initial_delay": "1 second", "jitter": "none"}');
SELECT status, attempt, error->>'message' AS error,
       wake_at >= :'before_429'::timestamptz + interval '120 seconds' AS after_retry_after,
       wake_at < clock_timestamp() + interval '121 seconds' AS not_much_later
  FROM durable.operations WHERE execution_id = durable.execution_id('http-retry-after');
SET durable.clock_offset = '100 seconds';
SELECT durable_drive('http-retry-after');              -- the backoff is over, Retry-After not
SET durable.clock_offset = '121 seconds';
SELECT durable_drive('http-retry-after');
SELECT r->'status' AS status, r->'body'->'n' AS n FROM durable_result('http-retry-after') r;
RESET durable.clock_offset;
-- a backoff longer than Retry-After wins
SELECT http_go('http-retry-after-short', jsonb_build_object('url', mock('/seq/retry-after-short/503,200?retry_after=1')),
               '{"initial_delay": "1 minute", "jitter": "none"}');
SELECT attempt, wake_at - now() BETWEEN '55 seconds' AND '60 seconds' AS backoff
  FROM durable_operations('http-retry-after-short');

-- Retry-After as an HTTP date, 5 minutes from now
SELECT clock_timestamp() AS before_date \gset
SELECT replace(to_char(clock_timestamp() AT TIME ZONE 'UTC' + interval '300 seconds',
                       'Dy, DD Mon YYYY HH24:MI:SS "GMT"'), ' ', '%20') AS retry_date \gset
SELECT http_go('http-retry-after-date', jsonb_build_object('url', mock('/seq/retry-after-date/503,200?retry_after=' || :'retry_date')),
               '{"initial_delay": "1 second", "jitter": "none"}');
SELECT attempt, wake_at - :'before_date'::timestamptz BETWEEN '295 seconds' AND '301 seconds' AS until_the_date
  FROM durable_operations('http-retry-after-date');

-- retry_on and no_retry_on
-- no_retry_on [503]: the 503 is the result at once
SELECT http_go('http-no-retry', jsonb_build_object('url', mock('/seq/no-retry/503,200')), '{"no_retry_on": [503]}');
-- with fail_on_status: WF015 at once
SELECT http_go('http-no-retry-fail', jsonb_build_object('url', mock('/seq/no-retry-fail/503,200')),
               '{"no_retry_on": ["5xx"], "fail_on_status": true}');
-- retry_on ["4xx"] retries a 404 (and not a 503 any more)
SELECT http_go('http-retry-4xx', jsonb_build_object('url', mock('/seq/retry-4xx/404,200')),
               '{"retry_on": ["4xx"], "initial_delay": "0 s", "max_delay": "0 s"}');
SELECT http_go('http-retry-4xx-503', jsonb_build_object('url', mock('/seq/retry-4xx-503/503,200')),
               '{"retry_on": ["4xx"], "initial_delay": "0 s", "max_delay": "0 s"}');
-- retry_on a single status
SELECT http_go('http-retry-409', jsonb_build_object('url', mock('/seq/retry-409/409,409,201')),
               '{"retry_on": [409], "initial_delay": "0 s", "max_delay": "0 s"}');
SELECT e, s.status, o.attempt, s.result->'status' AS http_status, s.error->>'message' AS error
  FROM unnest(ARRAY['http-no-retry', 'http-no-retry-fail', 'http-retry-4xx', 'http-retry-4xx-503', 'http-retry-409']) e,
       durable_status(e) s, durable_operations(e) o;
SELECT target, count(*) FROM http_sent('/seq/') WHERE target ~ '/seq/(no-retry|retry-4xx|retry-409)'
 GROUP BY target ORDER BY target COLLATE "C";

-- max_attempts exhausted: WF015 with the last status and the attempts
SELECT http_go('http-exhausted', jsonb_build_object('url', mock('/seq/exhausted/500')),
               '{"max_attempts": 3, "initial_delay": "1 minute", "jitter": "none"}');
SET durable.clock_offset = '61 seconds';
SELECT durable_drive('http-exhausted');
SET durable.clock_offset = '3 minutes 2 seconds';
SELECT durable_drive('http-exhausted');
RESET durable.clock_offset;
SELECT * FROM http_outcome('http-exhausted');
SELECT name, status, attempt, error->>'sqlstate' AS sqlstate, error->>'detail' AS detail
  FROM durable_operations('http-exhausted');
SELECT event, details->'error'->>'message' AS error
  FROM durable_history('http-exhausted') WHERE event LIKE 'operation%' ORDER BY event_id;
SELECT count(*) AS sent FROM http_sent('/seq/exhausted/');

-- connection refused (nothing listens on port 1): retried, then WF015
SELECT http_go('http-refused-port', jsonb_build_object('url', 'http://127.0.0.1:1/nothing'),
               '{"max_attempts": 2, "initial_delay": "5 seconds", "jitter": "none"}');
SELECT status, attempt, http_masked(error->>'message') AS error FROM durable_operations('http-refused-port');
SET durable.clock_offset = '6 seconds';
SELECT durable_drive('http-refused-port');
RESET durable.clock_offset;
SELECT * FROM http_outcome('http-refused-port');
-- "connection" left out of retry_on: not retried
SELECT http_go('http-refused-no-retry', jsonb_build_object('url', 'http://127.0.0.1:1/nothing'),
               '{"retry_on": ["5xx"]}');
SELECT * FROM http_outcome('http-refused-no-retry');

-- a timeout per attempt (the request's timeout overrides the option's)
SELECT http_go('http-timeout', jsonb_build_object('url', mock('/delay/2000'), 'timeout', '200 ms'),
               '{"max_attempts": 1, "timeout": "1 minute"}');
SELECT * FROM http_outcome('http-timeout');
SELECT http_go('http-timeout-option', jsonb_build_object('url', mock('/delay/2000')),
               '{"max_attempts": 2, "timeout": "200 ms", "initial_delay": "0 s", "max_delay": "0 s"}');
SELECT * FROM http_outcome('http-timeout-option');
SELECT event, http_masked(details->'error'->>'message') AS error
  FROM durable_history('http-timeout-option') WHERE event LIKE 'operation%' ORDER BY event_id;
-- "timeout" in no_retry_on: not retried
SELECT http_go('http-timeout-no-retry', jsonb_build_object('url', mock('/delay/2000')),
               '{"timeout": "200 ms", "no_retry_on": ["timeout"]}');
SELECT * FROM http_outcome('http-timeout-no-retry');

-- ----------------------------------------------------------------------
-- limits
-- ----------------------------------------------------------------------

-- a response over durable.http_max_response_size: WF009 at once
SET durable.http_max_response_size = '2kB';
SELECT http_go('http-big', jsonb_build_object('url', mock('/big/4096')));
SELECT http_go('http-big-enough', jsonb_build_object('url', mock('/big/2048')));
RESET durable.http_max_response_size;
SELECT * FROM http_outcome('http-big');
SELECT name, status, attempt FROM durable_operations('http-big');
SELECT length(durable_result('http-big-enough')->>'body') AS big_enough;
-- a result over durable.max_payload_size: WF009
SET durable.max_payload_size = 1024;
SELECT http_go('http-big-result', jsonb_build_object('url', mock('/big/2000')));
RESET durable.max_payload_size;
SELECT status, sqlstate, regexp_replace(message, '[0-9]+ bytes;', '<n> bytes;') AS message
  FROM http_outcome('http-big-result');

-- redirects: followed up to max_redirects (default durable.http_max_redirects = 3)
SELECT http_go('http-redirects-3', jsonb_build_object('url', mock('/redirect/3')));
SELECT r->'status' AS status, r->'body' AS body FROM durable_result('http-redirects-3') r;
SELECT http_go('http-redirects-4', jsonb_build_object('url', mock('/redirect/4')));
SELECT * FROM http_outcome('http-redirects-4');
SELECT http_go('http-redirects-option', jsonb_build_object('url', mock('/redirect/5')), '{"max_redirects": 5}');
SELECT r->'status' AS status, r->'body' AS body FROM durable_result('http-redirects-option') r;
SET durable.http_max_redirects = 1;
SELECT http_go('http-redirects-setting', jsonb_build_object('url', mock('/redirect/2')));
RESET durable.http_max_redirects;
SELECT * FROM http_outcome('http-redirects-setting');
-- max_redirects 0: the redirect itself is the result
SELECT http_go('http-redirects-0', jsonb_build_object('url', mock('/redirect/1')), '{"max_redirects": 0}');
SELECT r->'status' AS status, r->'headers'->>'location' AS location FROM durable_result('http-redirects-0') r;

-- ----------------------------------------------------------------------
-- the address policy: loopback, private and link-local addresses only
-- when durable.http_allow_addresses lists them; WF016 at once, no retry
-- ----------------------------------------------------------------------
SET durable.http_allow_addresses = '';
SELECT http_go('http-private-loopback', jsonb_build_object('url', mock('/private')));
SELECT http_go('http-private-10', jsonb_build_object('url', 'http://10.0.0.1/x'));
SELECT http_go('http-private-metadata', jsonb_build_object('url', 'http://169.254.169.254/latest/meta-data/'));
SELECT http_go('http-private-v6-loopback', jsonb_build_object('url', 'http://[::1]:1/x'));
SELECT http_go('http-private-v4-mapped', jsonb_build_object('url', 'http://[::ffff:127.0.0.1]:1/x'));
SELECT http_go('http-private-zero', jsonb_build_object('url', 'http://0.0.0.0:1/x'));
SELECT http_go('http-private-decimal', jsonb_build_object('url', 'http://2130706433:1/x'));
SELECT http_go('http-private-192', jsonb_build_object('url', 'https://192.168.1.1/x'));
SELECT e, o.* FROM unnest(ARRAY['http-private-loopback', 'http-private-10', 'http-private-metadata', 'http-private-v6-loopback',
                               'http-private-v4-mapped', 'http-private-zero', 'http-private-decimal', 'http-private-192']) e,
                   http_outcome(e) o;
SELECT e, o.attempt, o.status FROM unnest(ARRAY['http-private-loopback', 'http-private-10']) e, durable_operations(e) o;
SELECT error->>'hint' AS hint FROM durable_status('http-private-10');
-- a CIDR block lets them through
SET durable.http_allow_addresses = '127.0.0.0/8';
SELECT http_go('http-allowed-cidr', jsonb_build_object('url', mock('/echo?case=allowed')));
RESET durable.http_allow_addresses;
SELECT r->'status' AS status FROM durable_result('http-allowed-cidr') r;
-- bad entries are refused; only a superuser sets it
SET durable.http_allow_addresses = '10.0.0.0/33';
SET durable.http_allow_addresses = 'example.com';
CREATE ROLE regress_http_dave;
SET ROLE regress_http_dave;
SET durable.http_allow_addresses = '127.0.0.1';
RESET ROLE;
DROP ROLE regress_http_dave;
-- the loopback request never reached the mock
SELECT count(*) AS sent FROM http_sent('/private');

-- ----------------------------------------------------------------------
-- a workflow catches WF015 and carries on
-- ----------------------------------------------------------------------
CREATE FUNCTION wf_http_catch(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
  BEGIN
    r := durable_http('charge', jsonb_build_object('url', mock('/status/402'), 'method', 'POST'),
                      '{"fail_on_status": true}');
  EXCEPTION WHEN SQLSTATE 'WF015' THEN
    r := durable_http('fallback', jsonb_build_object('url', mock('/echo?case=fallback'), 'method', 'POST',
                                                     'body', jsonb_build_object('why', SQLERRM)));
    RETURN jsonb_build_object('caught', SQLERRM, 'fallback', r->'body'->'json');
  END;
  RETURN r;
END $$;
SELECT durable_start('wf_http_catch', name => 'http-catch') IS NOT NULL AS started;
SELECT durable_drive('http-catch');
SELECT durable_result('http-catch');
SELECT name, status, error->>'sqlstate' AS sqlstate FROM durable_operations('http-catch') ORDER BY op_id;

-- ----------------------------------------------------------------------
-- replay: a finished request is its checkpoint, never sent again
-- ----------------------------------------------------------------------
CREATE FUNCTION wf_http_twice(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
  r := durable_http('once', jsonb_build_object('url', mock('/seq/replay/201,500'), 'method', 'POST',
                                               'body', input));
  PERFORM durable_wait('pause', interval '1 hour');
  RETURN jsonb_build_object('status', r->'status', 'n', r->'body'->'n');
END $$;
SELECT durable_start('wf_http_twice', '{"x": 1}', name => 'http-replay') IS NOT NULL AS started;
SELECT durable_drive('http-replay');
SELECT name, status, result->'status' AS http_status FROM durable_operations('http-replay') ORDER BY op_id;
SET durable.clock_offset = '61 minutes';
SELECT durable_drive('http-replay');
RESET durable.clock_offset;
SELECT durable_result('http-replay');
SELECT method, target FROM http_sent('/seq/replay/');
SELECT event, name FROM durable_history('http-replay') WHERE event NOT IN ('suspended', 'resumed') ORDER BY event_id;

-- continue-as-new: the runs after the first have keys <id>:<run>.<op_id>
CREATE FUNCTION wf_http_runs(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb; run int := (input->>'run')::int;
BEGIN
  r := durable_http('key', jsonb_build_object('url', mock('/echo?run=' || run)));
  IF run < 2 THEN
    PERFORM durable_continue_as_new(jsonb_build_object('run', run + 1));
  END IF;
  RETURN r->'body'->'headers'->'idempotency-key';
END $$;
SELECT durable_start('wf_http_runs', '{"run": 1}', name => 'http-runs') IS NOT NULL AS started;
SELECT durable_drive('http-runs');
SELECT run_no, durable_result('http-runs') = to_jsonb(id || ':2.1') AS second_run_key
  FROM durable.executions WHERE name = 'http-runs';
SELECT target, headers->>'idempotency-key' = (SELECT id || ':1' FROM durable.executions WHERE name = 'http-runs')
         AS first_run_key
  FROM http_sent('/echo', ARRAY['idempotency-key']) WHERE target = '/echo?run=1';

-- inside a step's SQL, durable_http is refused like any operation
CREATE FUNCTION wf_http_in_step(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('s', format('SELECT durable_http(''inner'', %L)',
                                  jsonb_build_object('url', mock('/bad/in-step'))),
                      NULL, '{"max_attempts": 1}');
END $$;
SELECT durable_start('wf_http_in_step', name => 'http-in-step') IS NOT NULL AS started;
SELECT durable_drive('http-in-step');
SELECT error->>'message' AS error, error->>'detail' AS detail FROM durable_status('http-in-step');

-- ----------------------------------------------------------------------
-- bad requests and options: the workflow fails at the call with a clear
-- error, nothing is checkpointed and nothing is sent
-- ----------------------------------------------------------------------
SELECT durable_start('wf_http', jsonb_build_object('request', jsonb_build_object('url', mock('/bad/no-name'))),
                     name => 'http-bad-null-name') IS NOT NULL AS started;
SELECT durable_start('wf_http', jsonb_build_object('name', '', 'request', jsonb_build_object('url', mock('/bad/empty-name'))),
                     name => 'http-bad-empty-name') IS NOT NULL AS started;
SELECT durable_start('wf_http', '{"name": "call"}', name => 'http-bad-null-request') IS NOT NULL AS started;
-- (example.com stands for the mock, which records anything that is sent)
SELECT durable_start('wf_http', jsonb_build_object('name', 'call', 'request',
                                                   replace(r::text, 'http://example.com/', mock('/bad/'))::jsonb),
                     name => 'http-bad-request ' || r::text)
  IS NOT NULL AS started
  FROM unnest(ARRAY[
    '"http://example.com/"',
    '[{"url": "http://example.com/"}]',
    '{}',
    '{"method": "GET"}',
    '{"url": 42}',
    '{"url": null}',
    '{"url": "ftp://example.com/file"}',
    '{"url": "file:///etc/passwd"}',
    '{"url": "gopher://example.com/"}',
    '{"url": "/relative/path"}',
    '{"url": "example.com/no-scheme"}',
    '{"url": "http://"}',
    '{"url": "http://exa mple.com/"}',
    '{"url": "http://example.com/a\r\nX-Injected: yes"}',
    '{"url": "http://example.com/", "method": "FETCH"}',
    '{"url": "http://example.com/", "method": "GET "}',
    '{"url": "http://example.com/", "method": 1}',
    '{"url": "http://example.com/", "verb": "GET"}',
    '{"url": "http://example.com/", "headers": ["X-A: 1"]}',
    '{"url": "http://example.com/", "headers": "X-A: 1"}',
    '{"url": "http://example.com/", "headers": {"X-A": 1}}',
    '{"url": "http://example.com/", "headers": {"X-A": null}}',
    '{"url": "http://example.com/", "headers": {"X-A": true}}',
    '{"url": "http://example.com/", "headers": {"X A": "1"}}',
    '{"url": "http://example.com/", "headers": {"X-A:": "1"}}',
    '{"url": "http://example.com/", "headers": {"": "1"}}',
    '{"url": "http://example.com/", "headers": {"X-A": "1\r\nX-Injected: yes"}}',
    '{"url": "http://example.com/", "headers": {"X-A": "1\nX-Injected: yes"}}',
    '{"url": "http://example.com/", "headers": {"Authorization": {"secret": 1}}}',
    '{"url": "http://example.com/", "headers": {"Authorization": {"secret": "k", "prefix": 1}}}',
    '{"url": "http://example.com/", "headers": {"Authorization": {"secret": "k", "other": "x"}}}',
    '{"url": "http://example.com/", "headers": {"Authorization": {"secret": "k", "prefix": "B", "x": 1}}}',
    '{"url": "http://example.com/", "headers": {"Authorization": {"name": "k"}}}',
    '{"url": "http://example.com/", "headers": {"Authorization": {}}}',
    '{"url": "http://example.com/", "headers": {"Authorization": ["k"]}}',
    '{"url": "http://example.com/", "headers": {"Authorization": {"secret": "k", "prefix": "a\nb"}}}',
    '{"url": "http://example.com/", "timeout": "soon"}',
    '{"url": "http://example.com/", "timeout": 5}',
    '{"url": "http://example.com/", "timeout": "-1 second"}']::jsonb[]) r;
SELECT durable_start('wf_http', jsonb_build_object('name', 'call', 'request', jsonb_build_object('url', mock('/bad/options')),
                                                   'options', o), name => 'http-bad-options ' || o::text)
  IS NOT NULL AS started
  FROM unnest(ARRAY[
    '[]',
    '"fast"',
    '{"retries": 3}',
    '{"max_attempts": 0}',
    '{"retry_on": 503}',
    '{"retry_on": [600]}',
    '{"retry_on": [99]}',
    '{"retry_on": [503.5]}',
    '{"retry_on": ["6xx"]}',
    '{"retry_on": ["5XX"]}',
    '{"retry_on": ["foo"]}',
    '{"retry_on": ["503"]}',
    '{"retry_on": ["40001"]}',
    '{"no_retry_on": [null]}',
    '{"no_retry_on": ["connections"]}',
    '{"fail_on_status": "yes"}',
    '{"fail_on_status": 404}',
    '{"fail_on_status": ["timeout"]}',
    '{"fail_on_status": [1000]}',
    '{"max_redirects": 21}',
    '{"max_redirects": -1}',
    '{"max_redirects": 1.5}',
    '{"max_redirects": "3"}',
    '{"tls_verify": "false"}',
    '{"tls_verify": 0}',
    '{"connect_timeout": "0"}',
    '{"connect_timeout": 5}',
    '{"connect_timeout": "-1 s"}',
    '{"timeout": "0 s"}',
    '{"semantics": "exactly_once"}',
    '{"semantics": true}',
    '{"jitter": "some"}',
    '{"initial_delay": "10 s", "max_delay": "1 s"}']::jsonb[]) o;
SELECT durable_drive_pending();
SELECT name, error->>'sqlstate' AS sqlstate, error->>'message' AS error, error->>'detail' AS detail
  FROM durable.executions WHERE name LIKE 'http-bad-%' ORDER BY name COLLATE "C";
-- no checkpoint, no request
SELECT count(*) AS checkpoints FROM durable.operations o JOIN durable.executions e ON e.id = o.execution_id
 WHERE e.name LIKE 'http-bad-%';
SELECT count(*) AS sent FROM http_sent('/bad/');

-- requests sent in the session never go through durable.http_requests
SELECT count(*) AS http_requests FROM durable.http_requests;
