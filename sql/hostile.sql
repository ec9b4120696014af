-- Hostile and bad input across the whole SQL API: wrong types and JSON
-- shapes, NULL in every argument, oversize and deeply nested payloads,
-- names with quotes, control characters and SQL injection, forged and
-- reused callback ids, other roles' executions, endless recursion and
-- loops, primitives outside a workflow.  Every case is numbered (hN); each
-- block ends by checking that nothing but what the block says changed,
-- with a digest of every durable.* table.  Cases that once
-- showed a bug are marked "was a bug".
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS durable CASCADE;
CREATE EXTENSION durable;
\set VERBOSITY terse

-- h_err(sql): 'ok', or the SQLSTATE and message of the error it raised
-- (ids masked, long messages cut)
CREATE FUNCTION h_err(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE sql;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || left(regexp_replace(SQLERRM,
    '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<id>', 'g'), 110);
END $$;
-- every row of every durable.* table (but the append-only history, by
-- count), as one md5: what a refused call must leave as it was; rows of
-- the executions named LIKE skip left out
CREATE FUNCTION h_digest(skip text DEFAULT NULL) RETURNS text LANGUAGE sql AS $$
  WITH s AS (SELECT id FROM durable.executions WHERE name LIKE skip)
  SELECT md5(concat_ws('|',
    (SELECT string_agg(x::text, ';' ORDER BY x::text) FROM durable.executions x WHERE x.id NOT IN (SELECT id FROM s)),
    (SELECT string_agg(x::text, ';' ORDER BY x::text) FROM durable.operations x WHERE x.execution_id NOT IN (SELECT id FROM s)),
    (SELECT count(*) FROM durable.history x WHERE x.execution_id NOT IN (SELECT id FROM s)),
    (SELECT string_agg(x::text, ';' ORDER BY x::text) FROM durable.queue x WHERE x.execution_id NOT IN (SELECT id FROM s)),
    (SELECT string_agg(x::text, ';' ORDER BY x::text) FROM durable.inbox x),
    (SELECT string_agg(x::text, ';' ORDER BY x::text) FROM durable.callbacks x),
    (SELECT string_agg(x::text, ';' ORDER BY x::text) FROM durable.events x),
    (SELECT string_agg(x::text, ';' ORDER BY x::text) FROM durable.children x),
    (SELECT string_agg(x::text, ';' ORDER BY x::text) FROM durable.names x WHERE x.execution_id NOT IN (SELECT id FROM s)),
    (SELECT string_agg(x::text, ';' ORDER BY x::text) FROM durable.schedules x),
    (SELECT string_agg(x::text, ';' ORDER BY x::text) FROM durable.http_requests x),
    (SELECT string_agg(x::text, ';' ORDER BY x::text) FROM durable.secrets x),
    (SELECT string_agg(x::text, ';' ORDER BY x::text) FROM durable.secret_grants x)))
$$;
-- a table a successful injection would drop or empty
CREATE TABLE h_t (v int);
INSERT INTO h_t VALUES (1), (2);

CREATE FUNCTION h_wf_echo(input jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT input $$;
CREATE FUNCTION h_wf_nap(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_wait('nap', interval '1 day');
  RETURN '"rested"';
END $$;
-- the workflow of the in-workflow cases: runs input->>'sql' (a SELECT of
-- one durable operation) in its body and returns what it returned
CREATE FUNCTION h_wf(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
  EXECUTE input->>'sql' INTO r;
  RETURN to_jsonb(r);
END $$;
-- starts and drives one in-workflow case, named 'hw <case>'; how it ended
CREATE FUNCTION h_run(label text, sql text, OUT status text, OUT sqlstate text, OUT message text)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_start('h_wf', jsonb_build_object('sql', sql), name => 'hw ' || label);
  PERFORM durable_drive('hw ' || label);
  SELECT e.status, e.error->>'sqlstate',
         left(regexp_replace(e.error->>'message',
              '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<id>', 'g'), 100)
    INTO status, sqlstate, message
    FROM durable.executions e WHERE e.name = 'hw ' || label;
END $$;

-- an execution for the cases that need one: SUSPENDED on a one-day wait
SELECT durable_start('h_wf_nap', '{}', name => 'victim') IS NOT NULL AS started;
SELECT durable_drive('victim');

-- ----------------------------------------------------------------------
-- durable_start
-- ----------------------------------------------------------------------
SELECT h_digest() AS digest \gset
SELECT c, h_err(f) FROM (VALUES
  ('h1 NULL workflow',            $$SELECT durable_start(NULL, '{}', 'n', '{}')$$),
  ('h2 NULL name and options',    $$SELECT durable_start(NULL, NULL, NULL, NULL)$$),
  ('h3 injection workflow',       $$SELECT durable_start('x''); DROP TABLE h_t; --')$$),
  ('h4 injection workflow 2',     $$SELECT durable_start('h_wf_echo; DELETE FROM h_t')$$),
  ('h5 signature in the name',    $$SELECT durable_start('public.h_wf_echo(jsonb)')$$),
  ('h6 empty workflow',           $$SELECT durable_start('')$$),
  ('h7 four dotted names',        $$SELECT durable_start('a.b.c.d')$$),
  ('h8 huge workflow name',       $$SELECT durable_start(repeat('w', 100000))$$),
  ('h9 non-jsonb workflow fn',    $$SELECT durable_start('pg_catalog.to_jsonb')$$),
  ('h10 itself as workflow',      $$SELECT durable_start('durable_start')$$),
  ('h11 tab in name',             $$SELECT durable_start('h_wf_echo', '{}', E'tab\there')$$),
  ('h12 ANSI escape in name',     $$SELECT durable_start('h_wf_echo', '{}', E'esc\x1b[31mred')$$),
  ('h13 DEL in name',             $$SELECT durable_start('h_wf_echo', '{}', E'del\x7f')$$),
  ('h14 upper-case uuid name',    $$SELECT durable_start('h_wf_echo', '{}', '01890A5D-AC96-774B-BCCE-B302099A8057')$$),
  ('h15 201 bytes of 2-byte chars', $$SELECT durable_start('h_wf_echo', '{}', repeat('é', 101))$$),
  ('h16 tags not an object',      $$SELECT durable_start('h_wf_echo', '{}', 'n', '{"tags": null}')$$),
  ('h17 tags a string',           $$SELECT durable_start('h_wf_echo', '{}', 'n', '{"tags": "a=1"}')$$),
  ('h18 options a string',        $$SELECT durable_start('h_wf_echo', '{}', 'n', '"{}"')$$),
  ('h19 execution_timeout null',  $$SELECT durable_start('h_wf_echo', '{}', 'n', '{"execution_timeout": null}')$$),
  ('h20 execution_timeout object', $$SELECT durable_start('h_wf_echo', '{}', 'n', '{"execution_timeout": {"hours": 1}}')$$),
  ('h21 execution_timeout 1000000 years (was a bug)', $$SELECT durable_start('h_wf_echo', '{}', 'n', '{"execution_timeout": "1000000 years"}')$$),
  ('h193 execution_timeout 2000000 years (was a bug)', $$SELECT durable_start('h_wf_echo', '{}', 'n', '{"execution_timeout": "2000000 years"}')$$),
  ('h22 retention negative',      $$SELECT durable_start('h_wf_echo', '{}', 'n', '{"retention": "-1 day"}')$$),
  ('h23 duplicated option key',   $$SELECT durable_start('h_wf_echo', '{}', 'n', '{"retention": "1 day", "retention": "x"}')$$),
  ('h24 oversize input',          $$SET durable.max_payload_size = 1024; SELECT durable_start('h_wf_echo', jsonb_build_object('x', repeat('x', 5000)))$$),
  ('h26 same name, other input',  $$SELECT durable_start('h_wf_nap', '{"other": 1}', 'victim')$$)
) v(c, f);
RESET durable.max_payload_size;
SELECT h_digest() = :'digest' AS unchanged, (SELECT count(*) FROM h_t) AS t_rows;

-- accepted, as documented: a name is any text of 1 to 200 bytes without
-- control characters, and only the canonical uuid form is refused, so
-- quotes, SQL, a lone space, U+2028 and other spellings of a uuid are
-- names, found by name and never by id
SELECT c, durable_start('h_wf_echo', jsonb_build_object('case', c), n) IS NOT NULL AS started
  FROM (VALUES ('h27', $$'; DELETE FROM durable.executions; --$$),
               ('h28', $$x'); DROP TABLE h_t; --$$),
               ('h29', ' '),
               ('h30', E'line\u2028separator'),
               ('h31', '{01890a5d-ac96-774b-bcce-b302099a8057}'),
               ('h32', '01890a5dac96774bbcceb302099a8057'),
               ('h33', E'back\\slash "quoted" %s %n')) v(c, n);
SELECT e.input->>'case' AS c, s.name = e.name AS found_by_name, e.name
  FROM durable.executions e, durable_status(e.name) s
 WHERE e.input ? 'case' ORDER BY 1;
SELECT count(*) AS executions, (SELECT count(*) FROM h_t) AS t_rows FROM durable.executions;
-- an input nested 5000 levels deep is an input like any other
SELECT durable_start('h_wf_echo', (repeat('[', 5000) || repeat(']', 5000))::jsonb, 'h34 deep')
       IS NOT NULL AS h34_started;
SELECT durable_drive('h34 deep') AS h34;
SELECT jsonb_array_length(durable_result('h34 deep')) AS outer_len;
-- was a bug: tags are bounded by durable.max_payload_size too
SET durable.max_payload_size = 1024;
SELECT durable_start('h_wf_echo', '{}', 'h25 big tags',
       jsonb_build_object('tags', jsonb_build_object('x', repeat('x', 5000)))) IS NOT NULL AS h25_started;
RESET durable.max_payload_size;
SELECT length(tags::text) AS h25_tag_bytes FROM durable.executions WHERE name = 'h25 big tags';

-- ----------------------------------------------------------------------
-- status, drive, stop, await, result with bad and hostile execution names
-- ----------------------------------------------------------------------
SELECT h_digest() AS digest \gset
SELECT c, h_err(f) FROM (VALUES
  ('h35 status injection',        $$SELECT * FROM durable_status('''; DELETE FROM durable.executions; --x')$$),
  ('h36 operations NULL',         $$SELECT * FROM durable_operations(NULL)$$),
  ('h37 history NULL',            $$SELECT * FROM durable_history(NULL)$$),
  ('h38 result NULL',             $$SELECT durable_result(NULL)$$),
  ('h39 result not finished',     $$SELECT durable_result('victim')$$),
  ('h40 await NULL',              $$SELECT durable_await(NULL)$$),
  ('h41 await unknown',           $$SELECT durable_await('no such execution', '1 ms')$$),
  ('h42 await negative timeout',  $$SELECT durable_await('victim', '-1 s')$$),
  ('h43 await huge timeout name', $$SELECT durable_await(repeat('n', 100000), '1 ms')$$),
  ('h44 stop huge reason',        $$SET durable.max_payload_size = 1024; SELECT durable_stop('no such execution', repeat('r', 100000))$$),
  ('h45 stop uuid nobody has',    $$SELECT durable_stop('00000000-0000-0000-0000-000000000000')$$),
  ('h46 drive injection',         $$SELECT durable_drive('x''); DELETE FROM h_t; --')$$),
  ('h47 drive_pending huge (was a bug)',      $$SELECT durable_drive_pending('1000000 years')$$),
  ('h48 id functions, bad uuid',  $$SELECT durable.execution_id('01890a5d-ac96-774b-bcce-b302099a805')$$)
) v(c, f);
RESET durable.max_payload_size;
SELECT h_digest() = :'digest' AS unchanged, (SELECT count(*) FROM h_t) AS t_rows;
-- was a bug: a stop reason is bounded by durable.max_payload_size too
SET durable.max_payload_size = 1024;
SELECT durable_start('h_wf_nap', '{}', name => 'h49 long reason') IS NOT NULL AS started;
SELECT h_err($$SELECT durable_stop('h49 long reason', repeat('r', 100000))$$) AS h49;
RESET durable.max_payload_size;
SELECT status, length(error->>'reason') AS reason_bytes FROM durable_status('h49 long reason');

-- ----------------------------------------------------------------------
-- callbacks: forged, malformed, reused ids
-- ----------------------------------------------------------------------
CREATE TABLE h_outbox (cb text);
CREATE FUNCTION h_wf_cb(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_wait_for_callback('approval', 'INSERT INTO h_outbox VALUES ($1)');
END $$;
SELECT durable_start('h_wf_cb', '{}', name => 'cb-victim') IS NOT NULL AS started;
SELECT durable_drive('cb-victim');
SELECT cb AS cb_id FROM h_outbox \gset
SELECT h_digest() AS digest \gset
SELECT c, h_err(format(f, :'cb_id')) FROM (VALUES
  ('h50 success NULL id',         $$SELECT durable_callback_success(NULL, '1')$$),
  ('h51 failure NULL id',         $$SELECT durable_callback_failure(NULL)$$),
  ('h52 heartbeat NULL id',       $$SELECT durable_callback_heartbeat(NULL)$$),
  ('h53 forged id, right shape',  $$SELECT durable_callback_success('cb_00000000000000000000000000000000', '1')$$),
  ('h54 id upper case',           $$SELECT durable_callback_success(upper(%L), '1')$$),
  ('h55 id without prefix',       $$SELECT durable_callback_success(substr(%L, 4), '1')$$),
  ('h56 id with trailing space',  $$SELECT durable_callback_success(%L || ' ', '1')$$),
  ('h57 id with newline',         $$SELECT durable_callback_success(%L || E'\n', '1')$$),
  ('h58 id one digit short',      $$SELECT durable_callback_success(left(%L, 34), '1')$$),
  ('h59 id injection',            $$SELECT durable_callback_success('cb_''; DELETE FROM durable.callbacks; --', '1')$$),
  ('h60 id huge',                 $$SELECT durable_callback_heartbeat(repeat('cb_0', 100000))$$),
  ('h61 id the token hash',       $$SELECT durable_callback_success((SELECT 'cb_' || left(encode(token_hash, 'hex'), 32) FROM durable.callbacks), '1')$$),
  ('h62 result oversize',         $$SET durable.max_payload_size = 1024; SELECT durable_callback_success(%L, jsonb_build_object('x', repeat('x', 5000)))$$),
  ('h63 error oversize',          $$SET durable.max_payload_size = 1024; SELECT durable_callback_failure(%L, jsonb_build_object('message', repeat('x', 5000)))$$)
) v(c, f);
RESET durable.max_payload_size;
SELECT h_digest() = :'digest' AS unchanged, (SELECT count(*) FROM h_t) AS t_rows;
-- a deeply nested result is a result; the id then is used up
SELECT durable_callback_success(:'cb_id', (repeat('{"a":', 3000) || '1' || repeat('}', 3000))::jsonb) AS h64;
SELECT durable_drive('cb-victim') AS h64_drive;
SELECT h_digest() AS digest \gset
SELECT c, h_err(format(f, :'cb_id')) FROM (VALUES
  ('h65 reuse: success',          $$SELECT durable_callback_success(%L, '2')$$),
  ('h66 reuse: failure',          $$SELECT durable_callback_failure(%L, '"no"')$$),
  ('h67 reuse: heartbeat',        $$SELECT durable_callback_heartbeat(%L)$$)
) v(c, f);
SELECT h_digest() = :'digest' AS unchanged;

-- ----------------------------------------------------------------------
-- durable_send_event
-- ----------------------------------------------------------------------
SELECT h_digest() AS digest \gset
SELECT c, h_err(f) FROM (VALUES
  ('h68 NULL execution',          $$SELECT durable_send_event(NULL, 'e', '1')$$),
  ('h69 NULL event name',         $$SELECT durable_send_event('victim', NULL, '1')$$),
  ('h70 empty event name',        $$SELECT durable_send_event('victim', '', '1')$$),
  ('h71 control chars in name',   $$SELECT durable_send_event('victim', E'e\r\nX-Evil: 1', '1')$$),
  ('h72 huge event name',         $$SELECT durable_send_event('victim', repeat('e', 100000), '1')$$),
  ('h73 oversize payload',        $$SET durable.max_payload_size = 1024; SELECT durable_send_event('victim', 'e', jsonb_build_object('x', repeat('x', 5000)))$$),
  ('h74 finished execution',      $$SELECT durable_send_event('cb-victim', 'e', '1')$$),
  ('h75 injection execution',     $$SELECT durable_send_event('''; DELETE FROM durable.events; --', 'e')$$)
) v(c, f);
RESET durable.max_payload_size;
SELECT h_digest() = :'digest' AS unchanged;

-- ----------------------------------------------------------------------
-- schedules (pg_cron is not installed here: the arguments are checked first)
-- ----------------------------------------------------------------------
SELECT h_digest() AS digest \gset
SELECT c, h_err(f) FROM (VALUES
  ('h76 cron garbage',            $$SELECT durable_schedule('s', 'every minute', 'h_wf_echo')$$),
  ('h77 cron six fields',         $$SELECT durable_schedule('s', '* * * * * *', 'h_wf_echo')$$),
  ('h78 cron minute 60',          $$SELECT durable_schedule('s', '60 * * * *', 'h_wf_echo')$$),
  ('h79 cron injection',          $$SELECT durable_schedule('s', $q$* * * * *'); DROP TABLE h_t; --$q$, 'h_wf_echo')$$),
  ('h80 cron empty',              $$SELECT durable_schedule('s', '', 'h_wf_echo')$$),
  ('h81 schedule name injection', $$SELECT durable_schedule($q$s'); DROP TABLE h_t; --$q$, '* * * * *', 'h_wf_echo')$$),
  ('h82 schedule input oversize', $$SET durable.max_payload_size = 1024; SELECT durable_schedule('s', '* * * * *', 'h_wf_echo', jsonb_build_object('x', repeat('x', 5000)))$$),
  ('h83 unschedule injection',    $$SELECT durable_unschedule($q$'; DELETE FROM durable.schedules; --$q$)$$),
  ('h84 fire unknown schedule',   $$SELECT durable.schedule_fire(NULL)$$)
) v(c, f);
RESET durable.max_payload_size;
SELECT h_digest() = :'digest' AS unchanged, (SELECT count(*) FROM h_t) AS t_rows;

-- ----------------------------------------------------------------------
-- secrets
-- ----------------------------------------------------------------------
SELECT h_digest() AS digest \gset
SELECT c, h_err(f) FROM (VALUES
  ('h85 value NULL, name hostile', $$SELECT durable_secret_set($q$x'); DELETE FROM durable.secrets; --$q$, NULL, ARRAY['example.com'])$$),
  ('h86 empty host list',         $$SELECT durable_secret_set('s', 'v', ARRAY[]::text[])$$),
  ('h87 NULL host in list',       $$SELECT durable_secret_set('s', 'v', ARRAY[NULL]::text[])$$),
  ('h88 host with scheme',        $$SELECT durable_secret_set('s', 'v', ARRAY['https://example.com'])$$),
  ('h89 host with path',          $$SELECT durable_secret_set('s', 'v', ARRAY['example.com/x'])$$),
  ('h90 host a bare wildcard',    $$SELECT durable_secret_set('s', 'v', ARRAY['*'])$$),
  ('h91 host with newline',       $$SELECT durable_secret_set('s', 'v', ARRAY[E'example.com\nevil.com'])$$),
  ('h92 grant to no such role',   $$SELECT durable_secret_grant('s', 'no_such_role')$$),
  ('h93 grant NULL role',         $$SELECT durable_secret_grant('s', NULL)$$),
  ('h94 delete unknown',          $$SELECT durable_secret_delete($q$'; DELETE FROM durable.secrets; --$q$)$$),
  ('h95 revoke NULL',             $$SELECT durable_secret_revoke(NULL, NULL)$$)
) v(c, f);
SELECT h_digest() = :'digest' AS unchanged;
-- accepted: a secret's name is any name, and quotes are just characters
SELECT durable_secret_set($q$x'); DELETE FROM durable.secrets; --$q$, 'v', ARRAY['example.com']) AS h96;
SELECT name FROM durable_secrets() ORDER BY name;
SELECT durable_secret_delete($q$x'); DELETE FROM durable.secrets; --$q$) AS h96_deleted;

-- ----------------------------------------------------------------------
-- primitives outside a workflow: WF012 each, nothing written
-- ----------------------------------------------------------------------
SELECT h_digest() AS digest \gset
SELECT c, h_err(f) FROM (VALUES
  ('h97 step',                $$SELECT durable_step('s', 'SELECT 1')$$),
  ('h98 http',                $$SELECT durable_http('h', '{"url": "http://127.0.0.1:1/"}')$$),
  ('h99 wait',                $$SELECT durable_wait('w', '1 s')$$),
  ('h100 wait_until',         $$SELECT durable_wait_until('w', now())$$),
  ('h101 wait_for_callback',  $$SELECT durable_wait_for_callback('c', 'SELECT 1')$$),
  ('h102 create_callback',    $$SELECT durable_create_callback('c')$$),
  ('h103 await_callback',     $$SELECT durable_await_callback('c', 'cb_00000000000000000000000000000000')$$),
  ('h104 wait_for_event',     $$SELECT durable_wait_for_event('w', 'e')$$),
  ('h105 wait_for_condition', $$SELECT durable_wait_for_condition('c', 'SELECT 1', '{}')$$),
  ('h106 invoke',             $$SELECT durable_invoke('i', 'h_wf_echo')$$),
  ('h107 parallel',           $$SELECT durable_parallel('p', '[]')$$),
  ('h108 map',                $$SELECT durable_map('m', '[]', 'h_wf_echo')$$),
  ('h109 child',              $$SELECT durable_child('c', 'h_wf_echo')$$),
  ('h110 continue_as_new',    $$SELECT durable_continue_as_new('{}')$$),
  ('h111 log',                $$SELECT durable_log('info', 'x')$$),
  ('h112 now',                $$SELECT durable_now()$$),
  ('h113 random',             $$SELECT durable_random()$$),
  ('h114 uuid',               $$SELECT durable_uuid()$$),
  ('h115 all NULL',           $$SELECT durable_step(NULL, NULL, NULL, NULL)$$),
  ('h116 run_step directly',  $$SELECT durable.run_step('{"name": "s", "sql": "DELETE FROM h_t"}')$$)
) v(c, f);
SELECT h_digest() = :'digest' AS unchanged, (SELECT count(*) FROM h_t) AS t_rows;

-- ----------------------------------------------------------------------
-- inside a workflow: each bad call fails its execution ('hw <case>'),
-- with a clear error, and leaves nothing else behind
-- ----------------------------------------------------------------------
CREATE FUNCTION h_wf_can_child(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_continue_as_new('{}');
  RETURN NULL;
END $$;
CREATE FUNCTION h_wf_child_forever(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_child('deeper', 'h_wf_child_forever', input);
END $$;
SELECT count(*) AS executions_before FROM durable.executions \gset
SELECT h_digest() AS digest \gset
SET durable.max_payload_size = 1024;
SELECT c, (h_run(c, f)).* FROM (VALUES
  ('h117 wait negative',          $$SELECT durable_wait('w', '-1 s')$$),
  ('h118 wait NULL',              $$SELECT durable_wait('w', NULL)$$),
  ('h119 wait huge (was a bug)',        $$SELECT durable_wait('w', '1000000 years')$$),
  ('h120 wait past max_wait',     $$SELECT durable_wait('w', '367 days')$$),
  ('h121 wait_until infinity',    $$SELECT durable_wait_until('w', 'infinity')$$),
  ('h122 wait_until NULL',        $$SELECT durable_wait_until('w', NULL)$$),
  ('h123 wait NULL name',         $$SELECT durable_wait(NULL, '1 s')$$),
  ('h124 step NULL sql',          $$SELECT durable_step('s', NULL)$$),
  ('h125 step empty name',        $$SELECT durable_step('', 'SELECT 1')$$),
  ('h126 step name control char', $$SELECT durable_step(E's\x1b[2J', 'SELECT 1')$$),
  ('h127 step options array',     $$SELECT durable_step('s', 'SELECT 1', NULL, '[]')$$),
  ('h128 max_attempts a string',  $$SELECT durable_step('s', 'SELECT 1', NULL, '{"max_attempts": "3"}')$$),
  ('h129 max_attempts 1e10',      $$SELECT durable_step('s', 'SELECT 1', NULL, '{"max_attempts": 1e10}')$$),
  ('h130 step timeout negative',  $$SELECT durable_step('s', 'SELECT 1', NULL, '{"timeout": "-1 s"}')$$),
  ('h131 step result oversize',   $$SELECT durable_step('s', 'SELECT repeat(''x'', 5000)', NULL, '{"max_attempts": 1}')$$),
  ('h132 step syntax error',      $$SELECT durable_step('s', 'SELEC 1', NULL, '{"max_attempts": 1}')$$),
  ('h133 step runs a primitive',  $$SELECT durable_step('s', 'SELECT durable_now()', NULL, '{"max_attempts": 1}')$$),
  ('h134 step injection in args', $$SELECT durable_step('s', 'SELECT $1->>''v''', '{"v": "x''); DROP TABLE h_t; --"}')$$),
  ('h135 log unknown level',      $$SELECT durable_log('fatal', 'x')$$),
  ('h136 log NULL message',       $$SELECT durable_log('info', NULL)$$),
  ('h137 log details oversize',   $$SELECT durable_log('info', 'x', jsonb_build_object('x', repeat('x', 5000)))$$),
  ('h138 continue_as_new NULL',   $$SELECT durable_continue_as_new(NULL)$$),
  ('h139 continue_as_new big',    $$SELECT durable_continue_as_new(jsonb_build_object('x', repeat('x', 5000)))$$),
  ('h140 continue_as_new in child', $$SELECT durable_child('c', 'h_wf_can_child')$$),
  ('h141 child NULL workflow',    $$SELECT durable_child('c', NULL)$$),
  ('h142 child recursion',        $$SELECT durable_child('c', 'h_wf_child_forever')$$),
  ('h143 child injection',        $$SELECT durable_child('c', 'h_wf_echo''); DROP TABLE h_t; --')$$),
  ('h144 callback timeout < 0',   $$SELECT durable_create_callback('c', '-1 s')$$),
  ('h145 await forged id',        $$SELECT durable_await_callback('c', 'cb_00000000000000000000000000000000')$$),
  ('h146 await malformed id',     $$SELECT durable_await_callback('c', 'cb_''; DELETE FROM durable.callbacks; --')$$),
  ('h147 submitter NULL',         $$SELECT durable_wait_for_callback('c', NULL)$$),
  ('h148 event NULL name',        $$SELECT durable_wait_for_event('w', NULL)$$),
  ('h149 event timeout < 0',      $$SELECT durable_wait_for_event('w', 'e', '-1 s')$$),
  ('h150 condition NULL check',   $$SELECT durable_wait_for_condition('c', NULL, '{}')$$),
  ('h151 condition 0 attempts',   $$SELECT durable_wait_for_condition('c', 'SELECT 1', '{}', '{"max_attempts": 0}')$$),
  ('h152 invoke NULL workflow',   $$SELECT durable_invoke('i', NULL)$$),
  ('h153 invoke options string',  $$SELECT durable_invoke('i', 'h_wf_echo', '{}', '"x"')$$),
  ('h154 invoke input oversize',  $$SELECT durable_invoke('i', 'h_wf_echo', jsonb_build_object('x', repeat('x', 5000)))$$),
  ('h155 parallel NULL',          $$SELECT durable_parallel('p', NULL)$$),
  ('h156 parallel nested branch', $$SELECT durable_parallel('p', '[[{"name": "a", "workflow": "h_wf_echo"}]]')$$),
  ('h157 map NULL items',         $$SELECT durable_map('m', NULL, 'h_wf_echo')$$),
  ('h158 map items an object',    $$SELECT durable_map('m', '{"a": 1}', 'h_wf_echo')$$),
  ('h159 map batch_size 0',       $$SELECT durable_map('m', '[1]', 'h_wf_echo', '{"batch_size": 0}')$$),
  ('h160 http NULL request',      $$SELECT durable_http('h', NULL)$$),
  ('h161 http file url',          $$SELECT durable_http('h', '{"url": "file:///etc/passwd"}')$$),
  ('h162 http gopher url',        $$SELECT durable_http('h', '{"url": "gopher://127.0.0.1:1/"}')$$),
  ('h163 http header CRLF',       $$SELECT durable_http('h', '{"url": "http://127.0.0.1:1/", "headers": {"X-A": "a\r\nX-Evil: 1"}}')$$),
  ('h164 http header name space', $$SELECT durable_http('h', '{"url": "http://127.0.0.1:1/", "headers": {"X A: b\r\nC": "d"}}')$$),
  ('h165 http method injection',  $$SELECT durable_http('h', '{"url": "http://127.0.0.1:1/", "method": "GET / HTTP/1.1\r\nX: y"}')$$),
  ('h166 http headers an array',  $$SELECT durable_http('h', '{"url": "http://127.0.0.1:1/", "headers": ["a"]}')$$),
  ('h167 http unknown secret',    $$SELECT durable_http('h', '{"url": "http://127.0.0.1:1/", "headers": {"A": {"secret": "nope"}}}', '{"max_attempts": 1}')$$),
  ('h168 http redirects 1000',    $$SELECT durable_http('h', '{"url": "http://127.0.0.1:1/"}', '{"max_redirects": 1000}')$$)
) v(c, f);
RESET durable.max_payload_size;
-- nothing outside the failed executions changed: no callback, event,
-- child, message, timer or request of theirs is left
SELECT h_digest('hw %') = :'digest' AS others_unchanged;
SELECT count(*) FILTER (WHERE status = 'FAILED') AS failed, count(*) AS total
  FROM durable.executions WHERE name LIKE 'hw %';
SELECT (SELECT count(*) FROM durable.callbacks c JOIN durable.executions e ON e.id = c.execution_id WHERE e.name LIKE 'hw %') AS callbacks,
       (SELECT count(*) FROM durable.children c JOIN durable.executions e ON e.id = c.parent_id WHERE e.name LIKE 'hw %') AS children,
       (SELECT count(*) FROM durable.http_requests c JOIN durable.executions e ON e.id = c.execution_id WHERE e.name LIKE 'hw %') AS http_requests,
       (SELECT count(*) FROM durable.queue c JOIN durable.executions e ON e.id = c.execution_id WHERE e.name LIKE 'hw %') AS queued,
       (SELECT count(*) FROM durable.inbox c JOIN durable.executions e ON e.id = c.execution_id WHERE e.name LIKE 'hw %') AS inbox,
       (SELECT count(*) FROM durable.executions WHERE parent_id IS NOT NULL) AS child_executions,
       (SELECT count(*) FROM h_t) AS t_rows;

-- a step that never returns: its timeout cancels it (WF011)
SELECT c, (h_run(c, f)).* FROM (VALUES
  ('h169 step never returns',     $$SELECT durable_step('s', 'SELECT pg_sleep(100)', NULL, '{"timeout": "300 ms", "max_attempts": 1}')$$),
  ('h170 step swallows cancels (was a bug)', $f$SELECT durable_step('s', $q$DO $b$ DECLARE t0 timestamptz := clock_timestamp(); BEGIN LOOP BEGIN WHILE clock_timestamp() < t0 + interval '1.5 s' LOOP PERFORM pg_sleep(0.01); END LOOP; EXIT; EXCEPTION WHEN query_canceled THEN NULL; END; END LOOP; END $b$ $q$, NULL, '{"timeout": "200 ms", "max_attempts": 1}')$f$)
) v(c, f);
-- a body that never yields: durable.replay_timeout ends it (WF009) ...
SET durable.replay_timeout = '200ms';
CREATE FUNCTION h_wf_spin_after_step(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('first', 'SELECT 1');
  LOOP
  END LOOP;
END $$;
SELECT durable_start('h_wf_spin_after_step', '{}', name => 'h171 spin') IS NOT NULL AS started;
SELECT durable_drive('h171 spin') AS h171;
SELECT error->>'sqlstate' AS sqlstate, error->>'message' AS message FROM durable_status('h171 spin');
-- ... was a bug: also when it catches query_canceled (the cancel is raised
-- again when the body returns; here it gives up after 1.5 s)
CREATE FUNCTION h_wf_stubborn(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE caught int := 0; t0 timestamptz := clock_timestamp();
BEGIN
  LOOP
    BEGIN
      WHILE clock_timestamp() < t0 + interval '1.5 s' LOOP
        PERFORM pg_sleep(0.01);
      END LOOP;
      EXIT;
    EXCEPTION WHEN query_canceled THEN caught := caught + 1;
    END;
  END LOOP;
  RETURN jsonb_build_object('caught', caught);
END $$;
SELECT durable_start('h_wf_stubborn', '{}', name => 'h172 stubborn') IS NOT NULL AS started;
SELECT durable_drive('h172 stubborn') AS h172;
SELECT status, (result->>'caught')::int >= 1 AS swallowed_the_timeout FROM durable_status('h172 stubborn');
RESET durable.replay_timeout;

-- durable_invoke into itself through another workflow (A invokes B
-- invokes A ...): ends at the depth limit with WF009, WF006 up the chain
CREATE FUNCTION h_wf_ping(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_invoke('pong', 'h_wf_pong', input);
END $$;
CREATE FUNCTION h_wf_pong(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_invoke('ping', 'h_wf_ping', input);
END $$;
-- drive_tree(root) of children.sql drives an execution and its
-- descendants, deepest first, until it finishes
SELECT durable_start('h_wf_ping', '{}', name => 'h173 ping-pong') IS NOT NULL AS started;
SELECT drive_tree('h173 ping-pong') AS h173;
SELECT error->>'sqlstate' AS sqlstate, left(error->>'message', 60) AS message
  FROM durable_status('h173 ping-pong');
SELECT max(depth) AS deepest, count(*) AS executions, count(*) FILTER (WHERE status = 'FAILED') AS failed
  FROM durable.executions WHERE workflow IN ('public.h_wf_ping', 'public.h_wf_pong');
SELECT error->>'sqlstate' AS sqlstate, error->>'message' AS deepest_error FROM durable.executions
 WHERE workflow IN ('public.h_wf_ping', 'public.h_wf_pong') AND depth = 32;

-- ----------------------------------------------------------------------
-- another role's executions
-- ----------------------------------------------------------------------
CREATE ROLE regress_hostile_alice;
CREATE ROLE regress_hostile_mallory;
GRANT INSERT ON h_outbox TO regress_hostile_alice;
GRANT SELECT ON h_outbox TO regress_hostile_mallory;
SET ROLE regress_hostile_alice;
SELECT durable_start('h_wf_nap', '{}', name => 'alice-nap') IS NOT NULL AS started;
SELECT durable_drive('alice-nap');
SELECT durable_start('h_wf_cb', '{}', name => 'alice-cb') IS NOT NULL AS started;
SELECT durable_drive('alice-cb');
RESET ROLE;
SELECT id AS alice_id FROM durable.executions WHERE name = 'alice-nap' \gset
SELECT cb AS alice_cb FROM h_outbox ORDER BY ctid DESC LIMIT 1 \gset
SELECT h_digest() AS digest \gset
SET ROLE regress_hostile_mallory;
SELECT c, h_err(format(f, :'alice_id')) FROM (VALUES
  ('h174 status by name',         $$SELECT * FROM durable_status('alice-nap')$$),
  ('h175 status by id',           $$SELECT * FROM durable_status(%L)$$),
  ('h176 operations',             $$SELECT * FROM durable_operations('alice-nap')$$),
  ('h177 history',                $$SELECT * FROM durable_history(%L)$$),
  ('h178 result',                 $$SELECT durable_result('alice-nap')$$),
  ('h179 await',                  $$SELECT durable_await('alice-nap', '1 ms')$$),
  ('h180 stop by name',           $$SELECT durable_stop('alice-nap', 'mallory was here')$$),
  ('h181 stop by id',             $$SELECT durable_stop(%L)$$),
  ('h182 drive',                  $$SELECT durable_drive('alice-nap')$$),
  ('h183 send event',             $$SELECT durable_send_event('alice-nap', 'e', '"from mallory"')$$),
  ('h184 send event by id',       $$SELECT durable_send_event(%L, 'e')$$),
  ('h186 update her row',         $$UPDATE durable.executions SET status = 'STOPPED'$$),
  ('h187 delete her timer',       $$DELETE FROM durable.queue$$),
  ('h188 forge a message',        $$INSERT INTO durable.inbox (execution_id, kind, payload, owner, created_at) VALUES (%L, 'event', '{}', 'regress_hostile_mallory', now())$$),
  ('h189 read callbacks',         $$SELECT * FROM durable.callbacks$$),
  ('h190 drive_pending',          $$SELECT durable_drive_pending() = 0 OR NULL$$)
) v(c, f);
SELECT count(*) AS mallory_sees FROM durable.executions;
-- h185: names are per owner, so starting under her name starts an
-- execution of mallory's own and tells nothing of alice's (rolled back
-- here so that the digest stays comparable)
BEGIN;
SELECT durable_start('h_wf_nap', '{}', 'alice-nap') <> :'alice_id' AS h185_own_execution;
SELECT count(*) AS mallory_sees_her_own_only FROM durable.executions;
ROLLBACK;
RESET ROLE;
SELECT h_digest() = :'digest' AS unchanged;
-- documented: the callback id is a capability, so mallory, who holds it,
-- may complete alice's callback; then it is used up for everyone
SET ROLE regress_hostile_mallory;
SELECT durable_callback_success(:'alice_cb', '"approved by mallory"') AS h191;
SELECT h_err(format('SELECT durable_callback_failure(%L)', :'alice_cb')) AS h192;
RESET ROLE;
SELECT durable_drive('alice-cb') AS h191_drive;
SELECT status, result FROM durable_status('alice-cb');

DROP TABLE h_outbox;
-- a role that owns an unfinished execution cannot be dropped (sessions.sql)
SELECT durable_stop('alice-nap');
DROP ROLE regress_hostile_alice;
DROP ROLE regress_hostile_mallory;
