/* durable--1.0.sql: install script of the durable extension */

\echo Use "CREATE EXTENSION durable" to load this file. \quit

/*
 * Storage lives in schema "durable"; the public API (durable_*) lives in the
 * schema the extension is created in.  Every table is keyed by execution id
 * first, has no foreign keys and no reg* column but regrole, so that it can
 * be partitioned by time or distributed by execution id later.
 */
CREATE SCHEMA durable;
COMMENT ON SCHEMA durable IS 'storage of the durable extension';
GRANT USAGE ON SCHEMA durable TO PUBLIC;

/* Members of durable_admin see and control every execution. */
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'durable_admin') THEN
		CREATE ROLE durable_admin NOLOGIN;
	END IF;
END
$$;

/* ---------------------------------------------------------------------
 * BI-facing tables
 * --------------------------------------------------------------------- */

CREATE TABLE durable.executions (
	id				uuid NOT NULL,			/* UUIDv7, time ordered */
	name			text,					/* unique per database, see durable.names */
	workflow		text NOT NULL,			/* qualified function name */
	workflow_hash	text NOT NULL,			/* md5 of the definition at start */
	input			jsonb,
	status			text NOT NULL,
	run_no			integer NOT NULL DEFAULT 1,
	result			jsonb,
	error			jsonb,
	tags			jsonb NOT NULL DEFAULT '{}',
	owner			regrole NOT NULL,
	search_path		text NOT NULL,
	parent_id		uuid,					/* the execution that started it (durable_invoke, ...) */
	parent_run_no	integer,				/* ... its run, */
	parent_op_id	integer,				/* ... operation, */
	parent_index	integer,				/* ... and branch (durable.children.idx) */
	depth			integer NOT NULL DEFAULT 0,	/* 0 for a top-level execution */
	redrive_count	integer NOT NULL DEFAULT 0,
	crash_count		integer NOT NULL DEFAULT 0,	/* crashes in a row, see durable.max_crashes */
	crash_marker	bigint,					/* progress at the last crash */
	execution_timeout interval,
	deadline		timestamptz,
	retention		interval,
	wake_at			timestamptz,
	created_at		timestamptz NOT NULL,
	started_at		timestamptz,
	updated_at		timestamptz NOT NULL,
	finished_at		timestamptz,
	PRIMARY KEY (id)
) WITH (fillfactor = 80);
/*
 * No index on status or the timestamps that change with it: the status
 * updates of a drive stay HOT (room is left on each page for them).  The
 * queue, not this table, is what drivers search.
 *
 * No CHECK constraint on status either (PENDING, RUNNING, SUSPENDED,
 * SUCCEEDED, FAILED, TIMED_OUT, STOPPED here; STARTED, PENDING, SUCCEEDED,
 * FAILED, CANCELLED, TIMED_OUT in operations): only the extension's C code
 * writes these tables, and PostgreSQL rebuilds a table's check expressions
 * for every statement that writes it, about a sixth of a worker's CPU.
 */
CREATE INDEX executions_tags_idx ON durable.executions USING gin (tags jsonb_path_ops);
CREATE INDEX executions_workflow_idx ON durable.executions (workflow, created_at);
COMMENT ON TABLE durable.executions IS 'one row per execution of a workflow';

CREATE TABLE durable.operations (
	execution_id	uuid NOT NULL,
	run_no			integer NOT NULL,
	op_id			integer NOT NULL,		/* order of creation within the run */
	parent_op_id	integer,				/* op_id of the enclosing durable_child */
	position		integer NOT NULL,		/* position within its context */
	name			text NOT NULL,
	kind			text NOT NULL,
	status			text NOT NULL,
	attempt			integer NOT NULL DEFAULT 1,
	result			jsonb,
	error			jsonb,
	owner			regrole NOT NULL,
	wake_at			timestamptz,
	started_at		timestamptz NOT NULL,
	finished_at		timestamptz,
	PRIMARY KEY (execution_id, run_no, op_id)
);
COMMENT ON TABLE durable.operations IS 'the checkpoint of every durable operation';

CREATE TABLE durable.history (
	execution_id	uuid NOT NULL,
	event_id		bigint GENERATED ALWAYS AS IDENTITY,
	run_no			integer NOT NULL,
	at				timestamptz NOT NULL,
	event			text NOT NULL,
	op_id			integer,
	position		integer,
	name			text,
	kind			text,
	details			jsonb,
	owner			regrole NOT NULL,
	PRIMARY KEY (execution_id, event_id)
);
COMMENT ON TABLE durable.history IS 'ordered events of every execution';

/* ---------------------------------------------------------------------
 * Hot internal tables, small and apart from the BI tables
 * --------------------------------------------------------------------- */

/* Ready queue and timers: a row per execution that is ready or sleeping. */
CREATE TABLE durable.queue (
	execution_id	uuid NOT NULL,
	due_at			timestamptz NOT NULL,
	owner			regrole NOT NULL,
	PRIMARY KEY (execution_id)
);
CREATE INDEX queue_due_idx ON durable.queue (due_at, execution_id);

/*
 * Messages to an execution (callback completions, events, reports of
 * children): appended, never an update of another execution's row, so a
 * sender never waits for the worker that drives the execution.  Workers
 * claim executions from here as from the queue; the driver takes the
 * messages of its execution (deletes them) when it resumes it.
 */
CREATE TABLE durable.inbox (
	execution_id	uuid NOT NULL,
	message_id		bigint GENERATED ALWAYS AS IDENTITY,
	kind			text NOT NULL,			/* callback, event, child */
	payload			jsonb,
	owner			regrole NOT NULL,
	created_at		timestamptz NOT NULL,
	PRIMARY KEY (execution_id, message_id)
);
CREATE INDEX inbox_message_idx ON durable.inbox (message_id);

/*
 * Callbacks (durable_wait_for_callback, durable_create_callback).  The id
 * handed out is a capability: only its SHA-256 is stored, so reading this
 * table gives no one the power to complete a callback.
 */
CREATE TABLE durable.callbacks (
	token_hash		bytea NOT NULL,			/* sha256 of the callback id */
	execution_id	uuid NOT NULL,
	run_no			integer NOT NULL,
	op_id			integer NOT NULL,		/* the operation that created it */
	name			text NOT NULL,
	status			text NOT NULL,			/* PENDING, SUCCEEDED, FAILED, TIMED_OUT, CANCELLED */
	result			jsonb,
	error			jsonb,
	timeout_at		timestamptz,
	heartbeat_timeout interval,
	heartbeat_at	timestamptz,			/* creation or the last heartbeat */
	owner			regrole NOT NULL,
	created_at		timestamptz NOT NULL,
	completed_at	timestamptz,
	PRIMARY KEY (token_hash)
);
CREATE INDEX callbacks_execution_idx ON durable.callbacks (execution_id);
COMMENT ON TABLE durable.callbacks IS 'callbacks of executions, keyed by the hash of their id';

/* Events sent to an execution that no wait has taken yet, first in, first out. */
CREATE TABLE durable.events (
	execution_id	uuid NOT NULL,
	event_id		bigint NOT NULL,		/* message_id of the inbox message */
	name			text NOT NULL,
	payload			jsonb,
	owner			regrole NOT NULL,
	sent_at			timestamptz NOT NULL,
	PRIMARY KEY (execution_id, event_id)
);
COMMENT ON TABLE durable.events IS 'events sent to executions and not yet consumed by a wait';

/*
 * The branches of durable_invoke, durable_parallel and durable_map: one row
 * per child execution (or batch of items), written by the parent's driver
 * alone.  Children report to the parent through the inbox.
 */
CREATE TABLE durable.children (
	parent_id		uuid NOT NULL,
	run_no			integer NOT NULL,
	op_id			integer NOT NULL,
	idx				integer NOT NULL,		/* branch or batch number, from 0 */
	name			text,					/* branch name (durable_parallel) */
	workflow		text NOT NULL,			/* qualified function name */
	input			jsonb,
	items			integer NOT NULL DEFAULT 1,	/* items in the batch */
	child_id		uuid,					/* the execution, once started */
	status			text NOT NULL,			/* WAITING, RUNNING, SUCCEEDED, FAILED, TIMED_OUT, STOPPED, CANCELLED */
	result			jsonb,
	error			jsonb,
	owner			regrole NOT NULL,
	started_at		timestamptz,
	finished_at		timestamptz,
	PRIMARY KEY (parent_id, run_no, op_id, idx)
);
COMMENT ON TABLE durable.children IS 'branches of durable_invoke, durable_parallel and durable_map';

/* Execution names: uniqueness kept in its own small table. */
CREATE TABLE durable.names (
	name			text NOT NULL,
	execution_id	uuid NOT NULL,
	owner			regrole NOT NULL,
	PRIMARY KEY (name)
);

/*
 * Schedules (durable_schedule): the source of truth for what a pg_cron fire
 * starts.  jobid is the pg_cron job, run as owner, that fires it.
 */
CREATE TABLE durable.schedules (
	name			text NOT NULL,
	owner			regrole NOT NULL,
	schedule		text NOT NULL,			/* cron expression, UTC */
	workflow		text NOT NULL,			/* qualified function name */
	input			jsonb NOT NULL,
	options			jsonb NOT NULL,			/* options of durable_start */
	search_path		text NOT NULL,			/* of the scheduling session */
	jobid			bigint NOT NULL,
	created_at		timestamptz NOT NULL,
	PRIMARY KEY (name)
);
COMMENT ON TABLE durable.schedules IS 'workflows started on a cron schedule by pg_cron';

/*
 * HTTP requests handed to the HTTP worker (driven by the workers) and not
 * answered yet: the row is the request's lease.  request holds secret
 * references, never their values.  taken_at is set when the HTTP worker
 * takes the row; an at_most_once request found taken after a restart of
 * that worker fails instead of being sent again.
 */
CREATE TABLE durable.http_requests (
	request_id		bigserial NOT NULL,
	execution_id	uuid NOT NULL,
	run_no			integer NOT NULL,
	op_id			integer NOT NULL,
	attempt			integer NOT NULL,
	owner			regrole NOT NULL,
	request			jsonb NOT NULL,			/* {method, url, headers, body, timeout} */
	options			jsonb NOT NULL,			/* as given to durable_http */
	idempotency_key	text NOT NULL,
	at_most_once	boolean NOT NULL,
	created_at		timestamptz NOT NULL,
	taken_at		timestamptz,
	PRIMARY KEY (request_id)
);
CREATE INDEX http_requests_execution_idx ON durable.http_requests (execution_id, run_no, op_id);
CREATE INDEX http_requests_new_idx ON durable.http_requests (request_id) WHERE taken_at IS NULL;
COMMENT ON TABLE durable.http_requests IS 'HTTP requests in flight or waiting for the HTTP worker';

/*
 * Secrets for HTTP requests (durable_secret_set): readable by no role
 * through SQL but the superusers; used by reference, {"secret": "name"}.
 */
CREATE TABLE durable.secrets (
	name			text NOT NULL,
	value			text NOT NULL,
	allowed_hosts	text[] NOT NULL,
	owner			regrole NOT NULL,
	created_at		timestamptz NOT NULL,
	updated_at		timestamptz NOT NULL,
	PRIMARY KEY (name)
);
CREATE TABLE durable.secret_grants (
	name			text NOT NULL REFERENCES durable.secrets ON DELETE CASCADE,
	grantee			regrole NOT NULL,
	PRIMARY KEY (name, grantee)
);
REVOKE ALL ON durable.secrets, durable.secret_grants FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('durable.secrets', '');
SELECT pg_catalog.pg_extension_config_dump('durable.secret_grants', '');

/* ---------------------------------------------------------------------
 * Row level security: a role sees its own executions (and those of roles
 * it is a member of); members of durable_admin see all.  Writes happen
 * only through the extension's functions.
 * --------------------------------------------------------------------- */

DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['executions', 'operations', 'history', 'queue', 'inbox', 'names',
							 'schedules', 'callbacks', 'events', 'children', 'http_requests']
	LOOP
		EXECUTE format('ALTER TABLE durable.%I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE format($p$CREATE POLICY %I ON durable.%I FOR SELECT USING (
			pg_catalog.pg_has_role(owner::oid, 'USAGE')
			OR pg_catalog.pg_has_role('durable_admin', 'USAGE'))$p$,
			t || '_owner', t);
		EXECUTE format('REVOKE ALL ON durable.%I FROM PUBLIC', t);
		PERFORM pg_catalog.pg_extension_config_dump('durable.' || t, '');
	END LOOP;
END
$$;
GRANT SELECT ON durable.executions, durable.operations, durable.history,
	durable.schedules, durable.children TO PUBLIC;
/* callbacks and events: no column of theirs is a secret, but nobody needs them */
GRANT SELECT ON durable.callbacks, durable.events TO durable_admin;
SELECT pg_catalog.pg_extension_config_dump('durable.history_event_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('durable.inbox_message_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('durable.http_requests_request_id_seq', '');
GRANT SELECT ON durable.http_requests TO durable_admin;

/* ---------------------------------------------------------------------
 * Inside workflows
 * --------------------------------------------------------------------- */

CREATE FUNCTION @extschema@.durable_step(name text, sql text, args jsonb DEFAULT NULL,
										 options jsonb DEFAULT '{}')
RETURNS jsonb LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_step';
COMMENT ON FUNCTION @extschema@.durable_step(text, text, jsonb, jsonb) IS
	'run SQL as a checkpointed step of the workflow, with retries';

CREATE FUNCTION @extschema@.durable_http(name text, request jsonb, options jsonb DEFAULT '{}')
RETURNS jsonb LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_http';
COMMENT ON FUNCTION @extschema@.durable_http(text, jsonb, jsonb) IS
	'send an HTTP request as a checkpointed operation of the workflow, with retries';

CREATE FUNCTION @extschema@.durable_wait(name text, duration interval)
RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_wait';
COMMENT ON FUNCTION @extschema@.durable_wait(text, interval) IS
	'suspend the workflow for a duration (a durable timer)';

CREATE FUNCTION @extschema@.durable_wait_until(name text, at timestamptz)
RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_wait_until';
COMMENT ON FUNCTION @extschema@.durable_wait_until(text, timestamptz) IS
	'suspend the workflow until a point in time (a durable timer)';

CREATE FUNCTION @extschema@.durable_now()
RETURNS timestamptz LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_now';
COMMENT ON FUNCTION @extschema@.durable_now() IS
	'the durable clock, checkpointed so that replays see the same value';

CREATE FUNCTION @extschema@.durable_random()
RETURNS float8 LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_random';
COMMENT ON FUNCTION @extschema@.durable_random() IS
	'a random number in [0, 1), checkpointed so that replays see the same value';

CREATE FUNCTION @extschema@.durable_uuid()
RETURNS uuid LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_uuid';
COMMENT ON FUNCTION @extschema@.durable_uuid() IS
	'a new UUIDv7, checkpointed so that replays see the same value';

CREATE FUNCTION @extschema@.durable_log(level text, message text, details jsonb DEFAULT NULL)
RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_log';
COMMENT ON FUNCTION @extschema@.durable_log(text, text, jsonb) IS
	'write a line to the execution history once, not on every replay';

CREATE FUNCTION @extschema@.durable_continue_as_new(input jsonb)
RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_continue_as_new';
COMMENT ON FUNCTION @extschema@.durable_continue_as_new(jsonb) IS
	'end this run and start the next run of the execution with a new input';

CREATE FUNCTION @extschema@.durable_child(name text, workflow text, input jsonb DEFAULT '{}')
RETURNS jsonb LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_child';
COMMENT ON FUNCTION @extschema@.durable_child(text, text, jsonb) IS
	'run a workflow function in a child context of this execution';

CREATE FUNCTION @extschema@.durable_wait_for_callback(name text, submitter text,
													  args jsonb DEFAULT NULL,
													  timeout interval DEFAULT NULL,
													  heartbeat_timeout interval DEFAULT NULL)
RETURNS jsonb LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_wait_for_callback';
COMMENT ON FUNCTION @extschema@.durable_wait_for_callback(text, text, jsonb, interval, interval) IS
	'create a callback, hand its id to the submitter SQL in the same transaction, wait for its completion';

CREATE FUNCTION @extschema@.durable_create_callback(name text, timeout interval DEFAULT NULL,
													heartbeat_timeout interval DEFAULT NULL)
RETURNS text LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_create_callback';
COMMENT ON FUNCTION @extschema@.durable_create_callback(text, interval, interval) IS
	'create a callback and return its id (checkpointed); wait for it with durable_await_callback';

CREATE FUNCTION @extschema@.durable_await_callback(name text, callback_id text)
RETURNS jsonb LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_await_callback';
COMMENT ON FUNCTION @extschema@.durable_await_callback(text, text) IS
	'wait for the completion of a callback made by durable_create_callback';

CREATE FUNCTION @extschema@.durable_wait_for_event(name text, event_name text,
												   timeout interval DEFAULT NULL)
RETURNS jsonb LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_wait_for_event';
COMMENT ON FUNCTION @extschema@.durable_wait_for_event(text, text, interval) IS
	'wait for the next event of a name sent with durable_send_event; returns its payload';

CREATE FUNCTION @extschema@.durable_wait_for_condition(name text, check_sql text,
													   initial_state jsonb,
													   options jsonb DEFAULT '{}')
RETURNS jsonb LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_wait_for_condition';
COMMENT ON FUNCTION @extschema@.durable_wait_for_condition(text, text, jsonb, jsonb) IS
	'poll check_sql with durable delays until it returns {"done": true}; returns the final state';

CREATE FUNCTION @extschema@.durable_invoke(name text, workflow text, input jsonb DEFAULT '{}',
										   options jsonb DEFAULT '{}')
RETURNS jsonb LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_invoke';
COMMENT ON FUNCTION @extschema@.durable_invoke(text, text, jsonb, jsonb) IS
	'run a workflow as a child execution and wait for its result';

CREATE FUNCTION @extschema@.durable_parallel(name text, branches jsonb,
											 options jsonb DEFAULT '{}')
RETURNS jsonb LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_parallel';
COMMENT ON FUNCTION @extschema@.durable_parallel(text, jsonb, jsonb) IS
	'run branches (child workflows or steps) concurrently as child executions';

CREATE FUNCTION @extschema@.durable_map(name text, items jsonb, workflow text,
										options jsonb DEFAULT '{}')
RETURNS jsonb LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_map';
COMMENT ON FUNCTION @extschema@.durable_map(text, jsonb, text, jsonb) IS
	'run a workflow as a child execution per item (or batch of items); results in item order';

/*
 * The workflow of a step branch of durable_parallel ({name, sql, args,
 * options}): the step, run as a child execution of its own.
 */
CREATE FUNCTION durable.run_step(input jsonb)
RETURNS jsonb LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT @extschema@.durable_step(input->>'name', input->>'sql', input->'args',
									COALESCE(input->'options', '{}'))
$$;
COMMENT ON FUNCTION durable.run_step(jsonb) IS
	'the workflow of a step branch of durable_parallel';
GRANT EXECUTE ON FUNCTION durable.run_step(jsonb) TO PUBLIC;

/* ---------------------------------------------------------------------
 * Outside workflows
 * --------------------------------------------------------------------- */

CREATE FUNCTION @extschema@.durable_secret_set(name text, value text, allowed_hosts text[])
RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_secret_set';
COMMENT ON FUNCTION @extschema@.durable_secret_set(text, text, text[]) IS
	'create or replace a secret that HTTP requests of granted roles may send to the allowed hosts';

CREATE FUNCTION @extschema@.durable_secret_delete(name text)
RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_secret_delete';
COMMENT ON FUNCTION @extschema@.durable_secret_delete(text) IS 'delete a secret';

CREATE FUNCTION @extschema@.durable_secret_grant(name text, role name)
RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_secret_grant';
COMMENT ON FUNCTION @extschema@.durable_secret_grant(text, name) IS
	'let the executions of a role use a secret';

CREATE FUNCTION @extschema@.durable_secret_revoke(name text, role name)
RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_secret_revoke';
COMMENT ON FUNCTION @extschema@.durable_secret_revoke(text, name) IS
	'take back a grant of durable_secret_grant';

CREATE FUNCTION @extschema@.durable_secrets()
RETURNS TABLE (name text, owner name, allowed_hosts text[], grantees name[],
			   created_at timestamptz, updated_at timestamptz)
LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'durable_secrets';
COMMENT ON FUNCTION @extschema@.durable_secrets() IS
	'the secrets the caller owns or may use, without their values';

CREATE FUNCTION @extschema@.durable_callback_success(callback_id text, result jsonb DEFAULT NULL)
RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_callback_success';
COMMENT ON FUNCTION @extschema@.durable_callback_success(text, jsonb) IS
	'complete a callback with a result; its execution resumes';

CREATE FUNCTION @extschema@.durable_callback_failure(callback_id text, error jsonb DEFAULT NULL)
RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_callback_failure';
COMMENT ON FUNCTION @extschema@.durable_callback_failure(text, jsonb) IS
	'complete a callback with an error, raised in its workflow';

CREATE FUNCTION @extschema@.durable_callback_heartbeat(callback_id text)
RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_callback_heartbeat';
COMMENT ON FUNCTION @extschema@.durable_callback_heartbeat(text) IS
	'keep a callback alive: its heartbeat_timeout starts again';

CREATE FUNCTION @extschema@.durable_send_event(execution text, event_name text,
											   payload jsonb DEFAULT NULL)
RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_send_event';
COMMENT ON FUNCTION @extschema@.durable_send_event(text, text, jsonb) IS
	'send a named event to an execution; its waits take events of a name first in, first out';

CREATE FUNCTION @extschema@.durable_clock()
RETURNS timestamptz LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_clock';
COMMENT ON FUNCTION @extschema@.durable_clock() IS
	'clock_timestamp() plus durable.clock_offset: the time every durable timer reads';

CREATE FUNCTION @extschema@.durable_start(workflow text, input jsonb DEFAULT '{}',
										  name text DEFAULT NULL, options jsonb DEFAULT '{}')
RETURNS uuid LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_start';
COMMENT ON FUNCTION @extschema@.durable_start(text, jsonb, text, jsonb) IS
	'start an execution of a workflow; the name is an idempotency key';

CREATE FUNCTION @extschema@.durable_stop(execution text, reason text DEFAULT NULL)
RETURNS text LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_stop';
COMMENT ON FUNCTION @extschema@.durable_stop(text, text) IS
	'stop an execution; returns its resulting status';

CREATE FUNCTION @extschema@.durable_drive(execution text)
RETURNS text LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_drive';
COMMENT ON FUNCTION @extschema@.durable_drive(text) IS
	'drive one execution in this transaction until it suspends or finishes';

CREATE FUNCTION @extschema@.durable_drive_pending(max_duration interval DEFAULT '10 seconds')
RETURNS integer LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_drive_pending';
COMMENT ON FUNCTION @extschema@.durable_drive_pending(interval) IS
	'drive every ready execution the caller may drive, in this transaction';

CREATE PROCEDURE @extschema@.durable_run(max_duration interval DEFAULT '10 seconds')
LANGUAGE c AS 'MODULE_PATHNAME', 'durable_run';
COMMENT ON PROCEDURE @extschema@.durable_run(interval) IS
	'drive every ready execution the caller may drive, committing after each operation';

CREATE FUNCTION @extschema@.durable_await(execution text, timeout interval DEFAULT NULL)
RETURNS text LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_await';
COMMENT ON FUNCTION @extschema@.durable_await(text, interval) IS
	'wait until an execution finishes or the timeout passes; returns its status';

CREATE FUNCTION durable.stats_counters(
	OUT started bigint, OUT succeeded bigint, OUT failed bigint, OUT timed_out bigint,
	OUT stopped bigint, OUT continued bigint, OUT steps bigint, OUT retries bigint,
	OUT timers_fired bigint, OUT crashes bigint, OUT claims bigint,
	OUT claim_wait_us bigint, OUT claim_wait_max_us bigint,
	OUT workers integer, OUT since timestamptz)
RETURNS record LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_stats';

CREATE VIEW durable.stats AS
	SELECT started, succeeded, failed, timed_out, stopped, continued, steps, retries,
		   timers_fired, crashes, claims,
		   round(claim_wait_us::numeric / nullif(claims, 0) / 1000, 3) AS wake_to_run_avg_ms,
		   round(claim_wait_max_us::numeric / 1000, 3) AS wake_to_run_max_ms,
		   workers, since
	  FROM durable.stats_counters();
COMMENT ON VIEW durable.stats IS
	'counters kept in shared memory since the server started (NULL unless preloaded)';
GRANT SELECT ON durable.stats TO PUBLIC;

/* Resolves an execution id or name to the id of an execution the caller may see. */
CREATE FUNCTION durable.execution_id(execution text)
RETURNS uuid LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'durable_execution_id';
COMMENT ON FUNCTION durable.execution_id(text) IS
	'the id of an execution given by id or name; an error when the caller cannot see it';

CREATE FUNCTION @extschema@.durable_status(execution text)
RETURNS TABLE (id uuid, name text, workflow text, status text, run_no integer,
			   result jsonb, error jsonb, tags jsonb, created_at timestamptz,
			   started_at timestamptz, finished_at timestamptz,
			   current_operation text, wake_at timestamptz)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT e.id, e.name, e.workflow, e.status, e.run_no, e.result, e.error, e.tags,
		   e.created_at, e.started_at, e.finished_at,
		   (SELECT o.name FROM durable.operations o
			 WHERE o.execution_id = e.id AND o.run_no = e.run_no
			   AND o.status IN ('STARTED', 'PENDING')
			 ORDER BY o.op_id DESC LIMIT 1),
		   e.wake_at
	  FROM durable.executions e
	 WHERE e.id = durable.execution_id(execution)
$$;
COMMENT ON FUNCTION @extschema@.durable_status(text) IS 'the status of one execution';

CREATE FUNCTION @extschema@.durable_operations(execution text)
RETURNS TABLE (run_no integer, op_id integer, parent_op_id integer, "position" integer,
			   name text, kind text, status text, attempt integer, result jsonb,
			   error jsonb, started_at timestamptz, finished_at timestamptz,
			   duration interval, wake_at timestamptz)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT o.run_no, o.op_id, o.parent_op_id, o.position, o.name, o.kind, o.status,
		   o.attempt, o.result, o.error, o.started_at, o.finished_at,
		   o.finished_at - o.started_at, o.wake_at
	  FROM durable.operations o
	 WHERE o.execution_id = durable.execution_id(execution)
	 ORDER BY o.run_no, o.op_id
$$;
COMMENT ON FUNCTION @extschema@.durable_operations(text) IS
	'the operations (checkpoints) of an execution, every run';

CREATE FUNCTION @extschema@.durable_history(execution text)
RETURNS TABLE (event_id bigint, run_no integer, at timestamptz, event text,
			   op_id integer, "position" integer, name text, kind text, details jsonb)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT h.event_id, h.run_no, h.at, h.event, h.op_id, h.position, h.name, h.kind, h.details
	  FROM durable.history h
	 WHERE h.execution_id = durable.execution_id(execution)
	 ORDER BY h.event_id
$$;
COMMENT ON FUNCTION @extschema@.durable_history(text) IS
	'the ordered events of an execution, every run';

CREATE FUNCTION @extschema@.durable_result(execution text)
RETURNS jsonb LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	e durable.executions;
BEGIN
	SELECT * INTO e FROM durable.executions WHERE id = durable.execution_id(execution);
	IF e.status IS DISTINCT FROM 'SUCCEEDED' THEN
		RAISE EXCEPTION 'execution "%" has not succeeded', execution
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = format('Its status is %s.', e.status),
				  HINT = CASE WHEN e.status IN ('FAILED', 'TIMED_OUT', 'STOPPED')
							  THEN 'See the error column of durable_status().'
							  ELSE 'Wait until it finishes.' END;
	END IF;
	RETURN e.result;
END
$$;
COMMENT ON FUNCTION @extschema@.durable_result(text) IS
	'the result of a SUCCEEDED execution; an error otherwise';

/* Only the extension's functions write the tables; see the README. */
REVOKE ALL ON FUNCTION durable.execution_id(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION durable.execution_id(text) TO PUBLIC;

/* ---------------------------------------------------------------------
 * pg_cron: the tick and schedules
 * --------------------------------------------------------------------- */

CREATE PROCEDURE @extschema@.durable_tick()
LANGUAGE c AS 'MODULE_PATHNAME', 'durable_tick';
COMMENT ON PROCEDURE @extschema@.durable_tick() IS
	'the pg_cron job: purge past retention, then drive ready executions (or wake the workers)';

CREATE FUNCTION @extschema@.durable_cron_enable()
RETURNS bigint LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_cron_enable';
COMMENT ON FUNCTION @extschema@.durable_cron_enable() IS
	'schedule CALL durable_tick() every minute with pg_cron; returns the job id';

CREATE FUNCTION @extschema@.durable_cron_disable()
RETURNS boolean LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_cron_disable';
COMMENT ON FUNCTION @extschema@.durable_cron_disable() IS
	'remove the pg_cron job of the tick; false when there was none';

/* The tick acts on every role's executions: admins only. */
REVOKE ALL ON PROCEDURE @extschema@.durable_tick() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.durable_cron_enable() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.durable_cron_disable() FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE @extschema@.durable_tick() TO durable_admin;
GRANT EXECUTE ON FUNCTION @extschema@.durable_cron_enable() TO durable_admin;
GRANT EXECUTE ON FUNCTION @extschema@.durable_cron_disable() TO durable_admin;

CREATE FUNCTION @extschema@.durable_schedule(schedule_name text, cron text, workflow text,
											 input jsonb DEFAULT '{}', options jsonb DEFAULT '{}')
RETURNS bigint LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_schedule';
COMMENT ON FUNCTION @extschema@.durable_schedule(text, text, text, jsonb, jsonb) IS
	'start a workflow on a cron schedule (pg_cron), as this role; returns the pg_cron job id';

CREATE FUNCTION @extschema@.durable_unschedule(schedule_name text)
RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_unschedule';
COMMENT ON FUNCTION @extschema@.durable_unschedule(text) IS
	'remove a schedule and its pg_cron job';

/*
 * What a schedule's pg_cron job runs, as the schedule's owner: starts the
 * execution named '<schedule>@<fire minute, UTC>' with the search_path of
 * the session that scheduled it.  The name is an idempotency key, so a
 * fire that happens twice in a minute starts one execution.
 */
CREATE FUNCTION durable.schedule_fire(schedule_name text)
RETURNS uuid LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s durable.schedules;
	execution_name text;
BEGIN
	SELECT * INTO s FROM durable.schedules WHERE name OPERATOR(pg_catalog.=) schedule_name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'schedule "%" does not exist', schedule_name
			USING ERRCODE = 'undefined_object',
				  HINT = 'See durable.schedules; a pg_cron job that outlived its schedule can be removed with cron.unschedule.';
	END IF;
	IF s.owner OPERATOR(pg_catalog.<>) CURRENT_USER::regrole THEN
		RAISE EXCEPTION 'schedule "%" can only be fired by its owner, %', schedule_name, s.owner
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	execution_name := s.name OPERATOR(pg_catalog.||) '@' OPERATOR(pg_catalog.||)
		to_char(date_trunc('minute', statement_timestamp() AT TIME ZONE 'UTC'),
				'YYYY-MM-DD"T"HH24:MI"Z"');
	PERFORM set_config('search_path', s.search_path, true);
	RETURN @extschema@.durable_start(s.workflow, s.input, execution_name, s.options);
END
$$;
COMMENT ON FUNCTION durable.schedule_fire(text) IS
	'what the pg_cron job of a schedule runs: start its execution for this minute';
GRANT EXECUTE ON FUNCTION durable.schedule_fire(text) TO PUBLIC;

/* With pg_cron in this database, the tick is scheduled at once. */
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'pg_cron') THEN
		BEGIN
			PERFORM @extschema@.durable_cron_enable();
		EXCEPTION WHEN OTHERS THEN
			RAISE WARNING 'the pg_cron job of durable_tick() was not scheduled: %', SQLERRM
				USING HINT = 'Fix the cause and run SELECT durable_cron_enable();';
		END;
	END IF;
END
$$;
