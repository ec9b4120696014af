-- Privileges and isolation (issue 6, item 5), with three roles: alice and
-- bob own workflows in schemas of their own, carol is a member of
-- durable_admin.  Row level security on every table of schema durable, no
-- direct writes by anyone but the extension's owner, control of another
-- role's execution refused, callback ids as capabilities, steps that run
-- with their owner's rights and no more, secrets, and the function
-- privileges.  The per-table checks come from the catalog, so that a new
-- table cannot slip through them.  No worker runs: durable_drive drives.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS durable;
\set VERBOSITY default

CREATE ROLE regress_priv_alice NOLOGIN;
CREATE ROLE regress_priv_bob NOLOGIN;
CREATE ROLE regress_priv_carol NOLOGIN IN ROLE durable_admin;
CREATE SCHEMA priv_alice AUTHORIZATION regress_priv_alice;
CREATE SCHEMA priv_bob AUTHORIZATION regress_priv_bob;

-- priv_err(sql): 'ok', or the SQLSTATE and message of the error it raised
CREATE FUNCTION priv_err(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE sql;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- everything durable keeps about one role's executions and secrets
-- (superusers only): what a refused call must not change
CREATE FUNCTION priv_digest(who regrole) RETURNS text LANGUAGE sql AS $$
  SELECT md5(concat_ws('|',
    (SELECT string_agg(e::text, ';' ORDER BY id) FROM durable.executions e WHERE owner = who),
    (SELECT string_agg(o::text, ';' ORDER BY execution_id, run_no, op_id) FROM durable.operations o WHERE owner = who),
    (SELECT string_agg(h::text, ';' ORDER BY execution_id, event_id) FROM durable.history h WHERE owner = who),
    (SELECT string_agg(q::text, ';' ORDER BY execution_id) FROM durable.queue q WHERE owner = who),
    (SELECT string_agg(i::text, ';' ORDER BY message_id) FROM durable.inbox i WHERE owner = who),
    (SELECT string_agg(c::text, ';' ORDER BY token_hash) FROM durable.callbacks c WHERE owner = who),
    (SELECT string_agg(v::text, ';' ORDER BY execution_id, event_id) FROM durable.events v WHERE owner = who),
    (SELECT string_agg(c::text, ';' ORDER BY parent_id, run_no, op_id, idx) FROM durable.children c WHERE owner = who),
    (SELECT string_agg(n::text, ';' ORDER BY name) FROM durable.names n WHERE owner = who),
    (SELECT string_agg(s::text, ';' ORDER BY name) FROM durable.secrets s WHERE owner = who),
    (SELECT string_agg(g::text, ';' ORDER BY name, grantee::text) FROM durable.secret_grants g
      WHERE name IN (SELECT name FROM durable.secrets WHERE owner = who))))
$$;

-- ----------------------------------------------------------------------
-- workflows of alice and bob, in their own schemas
-- ----------------------------------------------------------------------
SET ROLE regress_priv_alice;
-- where the submitters of her callbacks put the ids, and her steps write
CREATE TABLE priv_alice.outbox (execution text, cb text);
CREATE TABLE priv_alice.notes (execution text, cur text, sess text, superuser text);
-- a callback, then an event
CREATE FUNCTION priv_alice.wf_approve(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE a jsonb;
BEGIN
  a := durable_wait_for_callback('approval',
         'INSERT INTO priv_alice.outbox VALUES ($2->>''execution'', $1)',
         input, heartbeat_timeout => interval '1 hour');
  RETURN jsonb_build_object('approval', a, 'go', durable_wait_for_event('wait-go', 'go'));
END $$;
-- a timer
CREATE FUNCTION priv_alice.wf_sleep(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_wait('nap', interval '1 day');
  RETURN '"rested"';
END $$;
-- a child that waits for an event
CREATE FUNCTION priv_alice.wf_parent(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_invoke('kid', 'priv_alice.wf_kid', input);
END $$;
CREATE FUNCTION priv_alice.wf_kid(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_wait_for_event('wait-go', 'go');
END $$;
-- who a step runs as
CREATE FUNCTION priv_alice.wf_whoami(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('note', $q$INSERT INTO priv_alice.notes
    VALUES ($1->>'execution', current_user, session_user,
            (SELECT rolsuper::text FROM pg_roles WHERE rolname = current_user))$q$, input);
  RETURN jsonb_build_object('body_user', current_user, 'body_superuser',
                            (SELECT rolsuper FROM pg_roles WHERE rolname = current_user));
END $$;
-- one step of SQL given in the input, tried once
CREATE FUNCTION priv_alice.wf_sql(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('sql', input->>'sql', NULL, '{"max_attempts": 1}');
END $$;
-- SQL given in the input, run by the body itself (no step)
CREATE FUNCTION priv_alice.wf_body_sql(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE input->>'sql';
  RETURN to_jsonb(current_user);
END $$;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA priv_alice FROM PUBLIC;
SET ROLE regress_priv_bob;
CREATE TABLE priv_bob.outbox (execution text, cb text);
CREATE FUNCTION priv_bob.wf_approve(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_wait_for_callback('approval',
           'INSERT INTO priv_bob.outbox VALUES ($2->>''execution'', $1)', input);
END $$;
CREATE FUNCTION priv_bob.wf_sleep(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_wait('nap', interval '1 day');
  RETURN '"rested"';
END $$;
-- awaits a callback id given in its input
CREATE FUNCTION priv_bob.wf_steal(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_await_callback('steal', input->>'cb');
END $$;
CREATE FUNCTION priv_bob.wf_parent(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_invoke('kid', 'priv_bob.wf_sleep', input);
END $$;
RESET ROLE;

-- rows of both in every table: executions suspended on a callback, an
-- event, a timer and a child; an event kept for later, a message not yet
-- taken, names; secrets with grants
SET ROLE regress_priv_alice;
SELECT durable_start('priv_alice.wf_approve', '{"execution": "alice-approve"}', name => 'alice-approve') IS NOT NULL AS started;
SELECT durable_start('priv_alice.wf_approve', '{"execution": "alice-fail"}', name => 'alice-fail') IS NOT NULL AS started;
SELECT durable_start('priv_alice.wf_sleep', '{}', name => 'alice-sleep') IS NOT NULL AS started;
SELECT durable_start('priv_alice.wf_parent', '{}', name => 'alice-parent') IS NOT NULL AS started;
SELECT durable_start('priv_alice.wf_sleep', '{}', name => 'alice-pending') IS NOT NULL AS started;
SELECT durable_drive(e) FROM unnest(ARRAY['alice-approve', 'alice-fail', 'alice-sleep', 'alice-parent']) e;
SELECT durable_drive_pending();   -- the child
SELECT durable_secret_set('alice-key', 'sk-alice-secret-value', ARRAY['127.0.0.1']);
SELECT durable_secret_grant('alice-key', 'regress_priv_alice');
SELECT durable_queue_set('priv-q', '{}');
RESET ROLE;
SET ROLE regress_priv_bob;
SELECT durable_start('priv_bob.wf_approve', '{"execution": "bob-approve"}', name => 'bob-approve') IS NOT NULL AS started;
SELECT durable_start('priv_bob.wf_sleep', '{}', name => 'bob-sleep') IS NOT NULL AS started;
SELECT durable_start('priv_bob.wf_parent', '{}', name => 'bob-parent') IS NOT NULL AS started;
SELECT durable_drive(e) FROM unnest(ARRAY['bob-approve', 'bob-sleep', 'bob-parent']) e;
SELECT durable_drive_pending();   -- the child
SELECT durable_secret_set('bob-key', 'sk-bob-secret-value', ARRAY['127.0.0.1']);
SELECT durable_secret_grant('bob-key', 'regress_priv_bob');
SELECT durable_queue_set('priv-q', '{}');
-- an event that no wait takes (kept in durable.events), and one not yet
-- taken (in durable.inbox)
SELECT durable_send_event('bob-approve', 'unrelated', '1');
SELECT durable_drive('bob-approve');
SELECT durable_send_event('bob-approve', 'unrelated', '2');
RESET ROLE;
SET ROLE regress_priv_alice;
SELECT durable_send_event('alice-approve', 'unrelated', '1');
SELECT durable_drive('alice-approve');
SELECT durable_send_event('alice-approve', 'unrelated', '2');
RESET ROLE;
SELECT name, status, owner FROM durable.executions
 WHERE owner::text LIKE 'regress_priv%' ORDER BY name, owner::text;

-- ----------------------------------------------------------------------
-- every table of schema durable: row level security, no write privilege
-- ----------------------------------------------------------------------

-- the tables, whether RLS is on, who may read them, their policies; a
-- table added later shows up here
SELECT c.relname, c.relrowsecurity AS rls,
       ARRAY(SELECT r FROM unnest(ARRAY['public', 'durable_admin']) r
              WHERE has_table_privilege(r, c.oid, 'SELECT')) AS readers,
       ARRAY(SELECT p.polname || ':' || p.polcmd::text FROM pg_policy p
              WHERE p.polrelid = c.oid ORDER BY p.polname) AS policies
  FROM pg_class c
 WHERE c.relnamespace = 'durable'::regnamespace AND c.relkind IN ('r', 'p')
 ORDER BY c.relname;
-- none without RLS, none that PUBLIC, durable_admin or the roles of this
-- test may write (tables, their columns, sequences); none without an
-- owner column but secret_grants (its rows belong to the secret's owner)
SELECT c.relname, c.relkind, r AS role
  FROM pg_class c,
       unnest(ARRAY['public', 'durable_admin', 'regress_priv_alice', 'regress_priv_bob',
                    'regress_priv_carol']) r
 WHERE c.relnamespace = 'durable'::regnamespace AND c.relkind IN ('r', 'p', 'S', 'v')
   AND CASE c.relkind
         WHEN 'S' THEN has_sequence_privilege(r, c.oid, 'USAGE, UPDATE')
         WHEN 'v' THEN has_table_privilege(r, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
         ELSE NOT c.relrowsecurity
              OR has_table_privilege(r, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
              OR has_any_column_privilege(r, c.oid, 'INSERT, UPDATE, REFERENCES')
       END
 ORDER BY 1, 3;
SELECT table_name FROM information_schema.tables t
 WHERE table_schema = 'durable' AND table_type = 'BASE TABLE'
   AND NOT EXISTS (SELECT 1 FROM information_schema.columns c
                    WHERE c.table_schema = 'durable' AND c.table_name = t.table_name
                      AND c.column_name = 'owner')
 ORDER BY 1;

-- rows of schedules and http_requests come from pg_cron and the HTTP
-- worker, which this test has not: a superuser adds one of each role's
-- (and of the limiters' tables, whose rows need operations in flight)
CREATE FUNCTION priv_fixtures() RETURNS void LANGUAGE sql AS $$
  INSERT INTO durable.schedules (name, owner, schedule, workflow, input, options,
                                 search_path, jobid, created_at)
  SELECT 'priv-' || r, r::regrole, '0 0 1 1 *', 'priv_x.wf', '{}', '{}', 'public', 0, now()
    FROM unnest(ARRAY['regress_priv_alice', 'regress_priv_bob']) r;
  INSERT INTO durable.http_requests (execution_id, run_no, op_id, attempt, owner, request,
                                     options, idempotency_key, at_most_once, created_at)
  SELECT e.id, 1, 99, 1, e.owner, '{"url": "http://127.0.0.1:1/"}', '{}', 'k', false, now()
    FROM durable.executions e WHERE e.name IN ('alice-sleep', 'bob-sleep');
  -- a task, its lease and a grant of its queue (the task queues of issue 16)
  INSERT INTO durable.tasks (execution_id, run_no, op_id, name, task_queue, status, max_attempts,
                             available_at, owner, created_at)
  SELECT e.id, 1, 99, 'priv', 'priv', 'QUEUED', 1, now(), e.owner, now()
    FROM durable.executions e WHERE e.name IN ('alice-sleep', 'bob-sleep');
  INSERT INTO durable.task_leases (lease_hash, execution_id, run_no, op_id, attempt, worker,
                                   owner, claimed_at)
  SELECT sha256(convert_to(t.owner::text, 'UTF8')), t.execution_id, 1, 99, 1, 'w', t.owner, now()
    FROM durable.tasks t WHERE t.task_queue = 'priv';
  INSERT INTO durable.task_queue_grants (task_queue, owner, grantee, granted_at)
  SELECT 'priv', r::regrole, r::regrole, now()
    FROM unnest(ARRAY['regress_priv_alice', 'regress_priv_bob']) r;
  INSERT INTO durable.limiters (name, owner, max_concurrency, created_at, updated_at)
  SELECT 'priv-' || r, r::regrole, 1, now(), now()
    FROM unnest(ARRAY['regress_priv_alice', 'regress_priv_bob']) r;
  INSERT INTO durable.limiter_holders (limiter, execution_id, run_no, op_id, owner, acquired_at)
  SELECT 'priv-' || e.owner, e.id, 1, 99, e.owner, now()
    FROM durable.executions e WHERE e.name IN ('alice-sleep', 'bob-sleep');
  INSERT INTO durable.limiter_waiters (limiter, execution_id, run_no, op_id, owner, since)
  SELECT 'priv-' || e.owner, e.id, 1, 98, e.owner, now()
    FROM durable.executions e WHERE e.name IN ('alice-sleep', 'bob-sleep');
$$;

-- each role's rows and the total of every table, counted by a superuser
CREATE TABLE priv_expect (tbl text, role text, own bigint, total bigint);
GRANT SELECT ON priv_expect TO PUBLIC;
-- the owner of a row of each table (secret_grants: its secret's)
CREATE FUNCTION priv_owner_expr(tbl text) RETURNS text LANGUAGE sql AS $$
  SELECT CASE tbl WHEN 'secret_grants'
           THEN '(SELECT s.owner FROM durable.secrets s WHERE s.name = t.name)'
           ELSE 't.owner' END
$$;
CREATE FUNCTION priv_count() RETURNS void LANGUAGE plpgsql AS $$
DECLARE t text; r text;
BEGIN
  DELETE FROM priv_expect;
  FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'durable' LOOP
    FOREACH r IN ARRAY ARRAY['regress_priv_alice', 'regress_priv_bob', 'regress_priv_carol'] LOOP
      EXECUTE format('INSERT INTO priv_expect SELECT %L, %L, count(*) FILTER (WHERE %s = %L::regrole), count(*) FROM durable.%I t',
                     t, r, priv_owner_expr(t), r, t);
    END LOOP;
  END LOOP;
END $$;
-- what the current role sees of every table: only its own rows (alice,
-- bob), all rows (a member of durable_admin), or no SELECT privilege
CREATE FUNCTION priv_seen() RETURNS TABLE (tbl text, seen text) LANGUAGE plpgsql AS $$
DECLARE n bigint; foreign_rows bigint; x priv_expect;
BEGIN
  FOR tbl IN SELECT tablename FROM pg_tables WHERE schemaname = 'durable' ORDER BY 1 LOOP
    SELECT * INTO x FROM priv_expect e WHERE e.tbl = priv_seen.tbl AND e.role = current_user;
    BEGIN
      EXECUTE format('SELECT count(*), count(*) FILTER (WHERE %s <> current_user::regrole) FROM durable.%I t',
                     priv_owner_expr(tbl), tbl) INTO n, foreign_rows;
      seen := CASE
        WHEN x.total = 0 THEN 'no rows to see: the test is broken'
        WHEN pg_has_role('durable_admin', 'USAGE') THEN
          CASE WHEN n = x.total THEN 'all rows' ELSE format('%s of %s rows', n, x.total) END
        WHEN x.own = 0 THEN 'no own rows: the test is broken'
        WHEN n = x.own AND foreign_rows = 0 THEN 'own rows only'
        ELSE format('LEAK: %s rows, %s own, %s of others', n, x.own, foreign_rows) END;
    EXCEPTION WHEN insufficient_privilege THEN
      seen := 'no SELECT';
    END;
    RETURN NEXT;
  END LOOP;
END $$;
-- what the current role's writes to every table end with: each of
-- INSERT, UPDATE, DELETE, TRUNCATE, and nextval/setval of the sequences
CREATE FUNCTION priv_writes() RETURNS TABLE (tbl text, outcome text) LANGUAGE plpgsql AS $$
DECLARE col text; s text; outcomes text[];
BEGIN
  FOR tbl IN SELECT c.relname FROM pg_class c
              WHERE c.relnamespace = 'durable'::regnamespace AND c.relkind IN ('r', 'p', 'S')
              ORDER BY 1 LOOP
    SELECT a.attname INTO col FROM pg_attribute a
     WHERE a.attrelid = ('durable.' || quote_ident(tbl))::regclass AND a.attnum = 1;
    outcomes := '{}';
    FOREACH s IN ARRAY CASE WHEN tbl LIKE '%\_seq' THEN ARRAY[
        format('SELECT nextval(%L)', 'durable.' || tbl),
        format('SELECT setval(%L, 1)', 'durable.' || tbl)]
      ELSE ARRAY[
        format('INSERT INTO durable.%I DEFAULT VALUES', tbl),
        format('UPDATE durable.%I SET %I = %I', tbl, col, col),
        format('DELETE FROM durable.%I', tbl),
        format('TRUNCATE durable.%I', tbl)] END LOOP
      outcomes := outcomes || split_part(priv_err(s), ':', 1);
    END LOOP;
    outcome := CASE WHEN outcomes <@ ARRAY['42501'] THEN 'all refused (42501)'
                    ELSE 'NOT REFUSED: ' || array_to_string(outcomes, ',') END;
    RETURN NEXT;
  END LOOP;
END $$;

BEGIN;
SELECT priv_fixtures();
SELECT priv_count();
SELECT tbl, role, own > 0 AS has_own_rows FROM priv_expect
 WHERE role <> 'regress_priv_carol' AND own = 0 ORDER BY 1, 2;
SET ROLE regress_priv_alice;
SELECT * FROM priv_seen();
SET ROLE regress_priv_bob;
SELECT * FROM priv_seen();
SET ROLE regress_priv_carol;
SELECT * FROM priv_seen();
RESET ROLE;
ROLLBACK;

-- writes: refused to every role, whatever it could read
SELECT priv_digest('regress_priv_alice') AS digest \gset
SET ROLE regress_priv_alice;
SELECT * FROM priv_writes();
SET ROLE regress_priv_bob;
SELECT tbl FROM priv_writes() WHERE outcome <> 'all refused (42501)';
SET ROLE regress_priv_carol;
SELECT tbl FROM priv_writes() WHERE outcome <> 'all refused (42501)';
RESET ROLE;
SELECT priv_digest('regress_priv_alice') = :'digest' AS unchanged;

-- ----------------------------------------------------------------------
-- bob cannot see or steer alice's executions, by id or by name
-- ----------------------------------------------------------------------
SELECT id AS alice_id FROM durable.executions WHERE name = 'alice-approve' \gset
SELECT priv_digest('regress_priv_alice') AS digest \gset
SET ROLE regress_priv_bob;
SELECT count(*) AS bob_sees FROM durable.executions WHERE name LIKE 'alice-%' OR id = :'alice_id';
SELECT f, x = 'name' AS by_name, replace(priv_err(format(f, CASE x WHEN 'name' THEN 'alice-approve' ELSE :'alice_id' END)),
                                         :'alice_id', '<id>') AS outcome
  FROM unnest(ARRAY[
    'SELECT * FROM durable_status(%L)',
    'SELECT * FROM durable_operations(%L)',
    'SELECT * FROM durable_history(%L)',
    'SELECT durable_result(%L)',
    'SELECT durable.execution_id(%L)',
    'SELECT durable_stop(%L, ''bob was here'')',
    'SELECT durable_drive(%L)',
    'SELECT durable_await(%L, ''0'')',
    'SELECT durable_send_event(%L, ''go'', ''"from bob"'')']) f,
       unnest(ARRAY['name', 'id']) x
 ORDER BY f, x;
SELECT priv_err(format('SELECT durable_start(''priv_bob.wf_sleep'', ''{}'', name => %L)', :'alice_id'))
    AS start_named_like_her_id;
-- names are per owner: bob's start of her name is an execution of his
-- own, which is all he then sees by that name (rolled back: the checks
-- below count what bob sees)
BEGIN;
SELECT durable_start('priv_bob.wf_sleep', '{}', name => 'alice-approve') AS bob_approve \gset
SELECT :'bob_approve' <> :'alice_id' AS own_execution,
       durable.execution_id('alice-approve') = :'bob_approve' AS resolves_to_his;
ROLLBACK;
-- nor drive them in bulk (alice-approve has a message: it is ready; bob
-- drives his own bob-approve only), nor start alice's workflows
SELECT durable_drive_pending() AS bob_drove;
CALL durable_run('1 second');
SELECT priv_err('SELECT durable_start(''priv_alice.wf_sleep'', ''{}'')') AS start_alices_workflow;
RESET ROLE;
SELECT count(*) AS alice_ready FROM durable.inbox i JOIN durable.names n ON n.execution_id = i.execution_id
 WHERE n.name = 'alice-approve';
SELECT priv_digest('regress_priv_alice') = :'digest' AS unchanged;

-- carol (durable_admin) sees, drives and stops them; her drives run
-- alice's workflow as alice
SET ROLE regress_priv_alice;
SELECT durable_start('priv_alice.wf_whoami', '{"execution": "alice-whoami-admin"}',
                     name => 'alice-whoami-admin') IS NOT NULL AS started;
RESET ROLE;
SET ROLE regress_priv_carol;
SELECT name, status FROM durable_status('alice-pending');
SELECT status, current_operation FROM durable_status(:'alice_id');
SELECT count(*) > 0 AS carol_reads_history FROM durable_history('alice-pending');
SELECT name, kind, status FROM durable_operations('alice-pending');
-- carol lacks USAGE on the workflow's schema: the drive looks the
-- workflow up as its owner, alice (once a bug: it failed the execution
-- with "permission denied for schema priv_alice")
SELECT durable_drive('alice-pending');
SELECT durable_drive('alice-whoami-admin');
SELECT durable_stop('alice-sleep', 'stopped by carol');
SELECT status, error->>'reason' AS reason FROM durable_status('alice-sleep');
SELECT name, status FROM durable_operations('alice-sleep');
RESET ROLE;
SELECT name, status, error->>'message' AS error FROM durable.executions
 WHERE name IN ('alice-pending', 'alice-whoami-admin') ORDER BY name;

-- ----------------------------------------------------------------------
-- callback ids are capabilities: whoever holds one completes it, nothing
-- else does
-- ----------------------------------------------------------------------
SELECT cb AS approve_cb FROM priv_alice.outbox WHERE execution = 'alice-approve' \gset
SELECT cb AS fail_cb FROM priv_alice.outbox WHERE execution = 'alice-fail' \gset
SELECT encode(token_hash, 'hex') AS approve_hash FROM durable.callbacks
 WHERE execution_id = :'alice_id' \gset
SELECT priv_digest('regress_priv_alice') AS digest \gset
-- forged or wrong ids: not found (or malformed), and nothing changes;
-- carol, who may read durable.callbacks, cannot use a hash as an id
SET ROLE regress_priv_carol;
SELECT f, what, priv_err(format(f, x)) AS outcome
  FROM unnest(ARRAY['SELECT durable_callback_success(%L, ''"forged"'')',
                    'SELECT durable_callback_failure(%L, ''"forged"'')',
                    'SELECT durable_callback_heartbeat(%L)']) f,
       unnest(ARRAY['cb_' || md5('forged'),
                    'cb_' || substr(:'approve_hash', 1, 32),
                    :'approve_hash',
                    'cb_' || translate(substr(:'approve_cb', 4), '0123456789abcdef', '123456789abcdef0'),
                    upper(:'approve_cb'),
                    :'approve_cb' || '0',
                    ''],
              ARRAY['1 an unknown id', '2 the hash, cut to an id', '3 the hash', '4 every digit changed',
                    '5 upper case', '6 one more digit', '7 empty']) AS t(x, what)
 ORDER BY f, what;
RESET ROLE;
SELECT priv_digest('regress_priv_alice') = :'digest' AS unchanged;
-- bob, holding alice's ids: his workflow cannot wait on them (they
-- belong to another execution) ...
SET ROLE regress_priv_bob;
SELECT durable_start('priv_bob.wf_steal', jsonb_build_object('cb', :'approve_cb'),
                     name => 'bob-steal-callback') IS NOT NULL AS started;
SELECT durable_drive('bob-steal-callback');
SELECT status, error->>'sqlstate' AS sqlstate, error->>'message' AS error
  FROM durable_status('bob-steal-callback');
-- ... but he may send a heartbeat, a success and a failure
SELECT durable_callback_heartbeat(:'approve_cb');
SELECT durable_callback_success(:'approve_cb', '{"approved_by": "bob"}');
SELECT durable_callback_failure(:'fail_cb', '{"rejected_by": "bob"}');
-- a completed id cannot be used again, by anyone
SELECT f, priv_err(format(f, x)) AS outcome
  FROM unnest(ARRAY['SELECT durable_callback_success(%L, ''"again"'')',
                    'SELECT durable_callback_failure(%L, ''"again"'')',
                    'SELECT durable_callback_heartbeat(%L)']) f,
       unnest(ARRAY[:'approve_cb', :'fail_cb']) x
 ORDER BY f, x = :'fail_cb';
-- still, bob sees nothing of alice's executions
SELECT count(*) AS bob_sees FROM durable.executions WHERE name LIKE 'alice-%';
RESET ROLE;
SET ROLE regress_priv_alice;
SELECT durable_drive(e) FROM unnest(ARRAY['alice-approve', 'alice-fail']) e;
SELECT durable_send_event('alice-approve', 'go', '"go"');
SELECT durable_drive('alice-approve');
SELECT name, status, result, error->>'message' AS error FROM durable.executions
 WHERE name IN ('alice-approve', 'alice-fail') ORDER BY name;
RESET ROLE;

-- ----------------------------------------------------------------------
-- steps run as their owner, with the owner's rights and no more
-- ----------------------------------------------------------------------
CREATE TABLE priv_vault (s text);
INSERT INTO priv_vault VALUES ('superuser only');
SET ROLE regress_priv_alice;
SELECT durable_start('priv_alice.wf_whoami', '{"execution": "alice-whoami"}', name => 'alice-whoami') IS NOT NULL AS started;
SELECT durable_start('priv_alice.wf_sql', '{"sql": "SELECT count(*) FROM pg_authid"}',
                     name => 'alice-authid') IS NOT NULL AS started;
SELECT durable_start('priv_alice.wf_sql', '{"sql": "INSERT INTO priv_vault VALUES (''alice was here'')"}',
                     name => 'alice-vault-write') IS NOT NULL AS started;
SELECT durable_start('priv_alice.wf_sql', '{"sql": "SELECT s FROM priv_vault"}',
                     name => 'alice-vault-read') IS NOT NULL AS started;
SELECT durable_start('priv_alice.wf_sql', '{"sql": "SET ROLE regress_priv_bob"}',
                     name => 'alice-set-role') IS NOT NULL AS started;
SELECT durable_start('priv_alice.wf_sql', '{"sql": "SELECT set_config(''role'', ''regress_priv_carol'', false)"}',
                     name => 'alice-set-config-role') IS NOT NULL AS started;
SELECT durable_start('priv_alice.wf_sql', '{"sql": "SET SESSION AUTHORIZATION regress_priv_bob"}',
                     name => 'alice-session-auth') IS NOT NULL AS started;
SELECT durable_start('priv_alice.wf_sql', '{"sql": "RESET ROLE"}',
                     name => 'alice-reset-role') IS NOT NULL AS started;
SELECT durable_start('priv_alice.wf_sql', '{"sql": "INSERT INTO durable.executions (id) VALUES (gen_random_uuid())"}',
                     name => 'alice-durable-write') IS NOT NULL AS started;
SELECT durable_start('priv_alice.wf_sql', '{"sql": "DELETE FROM durable.history"}',
                     name => 'alice-history-delete') IS NOT NULL AS started;
SELECT durable_start('priv_alice.wf_body_sql', '{"sql": "SET ROLE regress_priv_bob"}',
                     name => 'alice-body-set-role') IS NOT NULL AS started;
SELECT durable_start('priv_alice.wf_body_sql', '{"sql": "SELECT set_config(''role'', ''regress_priv_carol'', false)"}',
                     name => 'alice-body-set-config') IS NOT NULL AS started;
SELECT durable_start('priv_alice.wf_body_sql', '{"sql": "SELECT * FROM priv_vault"}',
                     name => 'alice-body-vault') IS NOT NULL AS started;
RESET ROLE;
-- driven by a superuser, they run as alice
SELECT e AS execution, durable_drive(e)
  FROM unnest(ARRAY['alice-whoami', 'alice-vault-write', 'alice-vault-read', 'alice-set-role',
                    'alice-set-config-role', 'alice-session-auth', 'alice-reset-role',
                    'alice-durable-write', 'alice-history-delete', 'alice-authid',
                    'alice-body-set-role', 'alice-body-set-config', 'alice-body-vault']) e;
SELECT current_user = session_user AS role_unchanged, current_setting('is_superuser') AS superuser;
SELECT durable_result('alice-whoami');
-- session_user is the driving session's; the step's rights are alice's
SELECT execution, cur, sess = session_user AS sess_is_driver, superuser FROM priv_alice.notes
 ORDER BY execution;
SELECT name, status, error->>'sqlstate' AS sqlstate, error->>'message' AS error
  FROM durable.executions
 WHERE name IN ('alice-vault-write', 'alice-vault-read', 'alice-set-role', 'alice-set-config-role',
                'alice-session-auth', 'alice-reset-role', 'alice-durable-write',
                'alice-history-delete', 'alice-authid', 'alice-body-set-role',
                'alice-body-set-config', 'alice-body-vault')
 ORDER BY name;
SELECT * FROM priv_vault;
SELECT count(*) AS history_kept FROM durable.history
 WHERE execution_id = durable.execution_id('alice-approve');

-- ----------------------------------------------------------------------
-- secrets: bob cannot use, read, replace, delete or grant alice's
-- ----------------------------------------------------------------------
SELECT priv_digest('regress_priv_alice') AS digest \gset
SET ROLE regress_priv_bob;
SELECT name, owner FROM durable_secrets() ORDER BY name;
SELECT f, priv_err(f) AS outcome FROM unnest(ARRAY[
  'SELECT value FROM durable.secrets',
  'SELECT * FROM durable.secret_grants',
  'SELECT durable_secret_set(''alice-key'', ''bob-value'', ARRAY[''127.0.0.1''])',
  'SELECT durable_secret_delete(''alice-key'')',
  'SELECT durable_secret_grant(''alice-key'', ''regress_priv_bob'')',
  'SELECT durable_secret_revoke(''alice-key'', ''regress_priv_alice'')']) f;
RESET ROLE;
SELECT priv_digest('regress_priv_alice') = :'digest' AS unchanged;
-- a request of bob's that names it is refused before it is sent
SET ROLE regress_priv_bob;
CREATE FUNCTION priv_bob.wf_http(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_http('call', input, '{"max_attempts": 1}');
END $$;
SELECT durable_start('priv_bob.wf_http',
         '{"url": "http://127.0.0.1:1/x", "headers": {"X-Key": {"secret": "alice-key"}}}',
         name => 'bob-steal-secret') IS NOT NULL AS started;
SELECT durable_drive('bob-steal-secret');
SELECT status, error->>'sqlstate' AS sqlstate, error->>'message' AS error
  FROM durable_status('bob-steal-secret');
RESET ROLE;
-- carol (durable_admin) does not read secret values either
SET ROLE regress_priv_carol;
SELECT priv_err('SELECT value FROM durable.secrets') AS carol_reads_values;
RESET ROLE;
SELECT count(*) AS values_anywhere FROM (
  SELECT e::text AS t FROM durable.executions e UNION ALL
  SELECT o::text FROM durable.operations o UNION ALL
  SELECT h::text FROM durable.history h) x
 WHERE strpos(t, 'sk-alice-secret-value') > 0;

-- ----------------------------------------------------------------------
-- the extension's functions: SECURITY DEFINER ones pin search_path; who
-- may execute what
-- ----------------------------------------------------------------------
CREATE VIEW priv_functions AS
  SELECT p.oid, p.oid::regprocedure::text AS func, p.prosecdef, p.proconfig
    FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
   WHERE d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
     AND d.refclassid = 'pg_extension'::regclass
     AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'durable');
-- SECURITY DEFINER without a pinned search_path: none
SELECT func FROM priv_functions
 WHERE prosecdef AND NOT EXISTS (SELECT 1 FROM unnest(proconfig) c WHERE c LIKE 'search_path=%')
 ORDER BY 1;
-- the SECURITY DEFINER functions, and the pinned search_paths
SELECT func, prosecdef, proconfig FROM priv_functions
 WHERE prosecdef OR proconfig IS NOT NULL ORDER BY 1;
-- what PUBLIC may execute (and what only durable_admin may)
SELECT func, has_function_privilege('public', oid, 'EXECUTE') AS public,
       has_function_privilege('durable_admin', oid, 'EXECUTE') AS durable_admin
  FROM priv_functions ORDER BY public DESC, 1;
-- the admin-only ones, for bob
SET ROLE regress_priv_bob;
SELECT f, priv_err(f) AS outcome FROM unnest(ARRAY[
  'CALL durable_tick()', 'SELECT durable_cron_enable()', 'SELECT durable_cron_disable()']) f;
RESET ROLE;

-- ----------------------------------------------------------------------
-- clean up
-- ----------------------------------------------------------------------
SELECT count(durable_stop(name)) > 0 AS stopped FROM durable.executions
 WHERE owner::text LIKE 'regress_priv%'
   AND status NOT IN ('SUCCEEDED', 'FAILED', 'TIMED_OUT', 'STOPPED') AND parent_id IS NULL;
SELECT durable_secret_delete(n) FROM unnest(ARRAY['alice-key', 'bob-key']) n;
DROP VIEW priv_functions;
DROP TABLE priv_expect, priv_vault;
DROP SCHEMA priv_alice, priv_bob CASCADE;
DROP OWNED BY regress_priv_alice, regress_priv_bob, regress_priv_carol;
DROP ROLE regress_priv_alice, regress_priv_bob, regress_priv_carol;
