/* durable--1.1--1.2.sql: update of the durable extension from 1.1 to 1.2 */

\echo Use "ALTER EXTENSION durable UPDATE TO '1.2'" to load this file. \quit

/*
 * CREATE EXTENSION durable runs durable--1.0.sql, durable--1.0--1.1.sql
 * and then this script, so a fresh install and an updated one are the
 * same.  1.2 is about isolation between roles: quotas, fairness, names
 * per owner, notifications a role may see.  The library of 1.2 works with
 * the objects of 1.1 until this script has run.
 */

/* --- issue 14: monitoring without power --- */

/*
 * Members of durable_monitor, and of pg_monitor, read every execution, its
 * operations, history, children, schedule, queue row and HTTP requests in
 * flight, and the statistics; they steer nothing: the functions that change
 * an execution check durable_admin or the owner's privileges, never what a
 * role can read.  They get neither durable.secrets nor durable.callbacks
 * (whose token hashes are no business of theirs), nor the request column of
 * durable.http_requests (headers given inline may carry credentials).
 */
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'durable_monitor') THEN
		CREATE ROLE durable_monitor NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m
					WHERE m.roleid = 'durable_monitor'::regrole
					  AND m.member = 'pg_monitor'::regrole) THEN
		GRANT durable_monitor TO pg_monitor;
	END IF;
END
$$;

DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['executions', 'operations', 'history', 'children', 'schedules',
							 'queue', 'http_requests']
	LOOP
		EXECUTE pg_catalog.format($p$CREATE POLICY %I ON durable.%I FOR SELECT USING (
			pg_catalog.pg_has_role('durable_monitor', 'USAGE'))$p$,
			t OPERATOR(pg_catalog.||) '_monitor', t);
	END LOOP;
END
$$;
GRANT SELECT ON durable.queue TO durable_monitor;
GRANT SELECT (request_id, execution_id, run_no, op_id, attempt, owner, options,
			  idempotency_key, at_most_once, created_at, taken_at)
	ON durable.http_requests TO durable_monitor;

/*
 * Statistics per workflow, from shared memory: counted when the transaction
 * commits, kept across a clean restart (pg_stat/durable.stat), reset by a
 * crash or by durable_stats_reset().  Durations are those of finished
 * executions, from start to end, in milliseconds; the percentiles are
 * interpolated in a histogram of quarter-octave buckets (within about 19%).
 */
CREATE FUNCTION durable.workflow_stats_rows(
	OUT workflow text, OUT started bigint, OUT succeeded bigint, OUT failed bigint,
	OUT timed_out bigint, OUT stopped bigint, OUT retries bigint, OUT steps bigint,
	OUT finished bigint, OUT mean_ms double precision, OUT p50_ms double precision,
	OUT p95_ms double precision, OUT p99_ms double precision, OUT max_ms double precision,
	OUT stats_reset timestamptz)
RETURNS SETOF record LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_workflow_stats';
REVOKE ALL ON FUNCTION durable.workflow_stats_rows() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION durable.workflow_stats_rows() TO durable_monitor, durable_admin;

CREATE VIEW durable.workflow_stats AS
	SELECT workflow, started, succeeded, failed, timed_out, stopped, retries, steps,
		   finished, mean_ms, p50_ms, p95_ms, p99_ms, max_ms, stats_reset
	  FROM durable.workflow_stats_rows();
COMMENT ON VIEW durable.workflow_stats IS
	'per workflow: executions started and ended, step attempts and retries, duration percentiles in ms (NULL workflow: those beyond durable.max_tracked_workflows)';
REVOKE ALL ON durable.workflow_stats FROM PUBLIC;
GRANT SELECT ON durable.workflow_stats TO durable_monitor, durable_admin;

CREATE FUNCTION @extschema@.durable_stats_reset()
RETURNS timestamptz LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_stats_reset';
COMMENT ON FUNCTION @extschema@.durable_stats_reset() IS
	'empties durable.workflow_stats and sets the counters of durable.stats to zero';
REVOKE ALL ON FUNCTION @extschema@.durable_stats_reset() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.durable_stats_reset() TO durable_admin;
/* --- F5: NOTIFY on a channel per owner --- */

/*
 * Status notifications go to durable_status_<owner oid>, with only the
 * execution id and status as payload; this returns a role's channel (the
 * current role's when NULL or omitted).
 */
CREATE FUNCTION @extschema@.durable_status_channel(role regrole DEFAULT NULL)
RETURNS text LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'durable_status_channel';
COMMENT ON FUNCTION @extschema@.durable_status_channel(regrole) IS
	'the NOTIFY channel of a role''s executions (durable.notify); payloads are hints anyone can forge';

/* --- F6: execution names per owner --- */

/*
 * A name is unique per owner: another role's names neither collide with
 * a role's own nor tell it they exist.  (name, owner) also serves the
 * look-ups by name alone.
 */
ALTER TABLE durable.names DROP CONSTRAINT names_pkey, ADD PRIMARY KEY (name, owner);
COMMENT ON COLUMN durable.executions.name IS
	'unique per owner (durable.names); the caller''s own execution of a name comes first';

/*
 * Schedule names are per owner too.  A fire looks up the schedule of its
 * name that belongs to the role pg_cron runs it as (the owner), and starts
 * '<schedule>@<minute>' in that role's names, where no other role can
 * claim it first.
 */
ALTER TABLE durable.schedules DROP CONSTRAINT schedules_pkey, ADD PRIMARY KEY (name, owner);

CREATE OR REPLACE FUNCTION durable.schedule_fire(schedule_name text)
RETURNS uuid LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s durable.schedules;
	execution_name text;
BEGIN
	SELECT * INTO s FROM durable.schedules
	 WHERE name OPERATOR(pg_catalog.=) schedule_name
	   AND owner OPERATOR(pg_catalog.=) CURRENT_USER::regrole;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'schedule "%" does not exist', schedule_name
			USING ERRCODE = 'undefined_object',
				  HINT = 'See durable.schedules; a pg_cron job that outlived its schedule can be removed with cron.unschedule.';
	END IF;
	execution_name := s.name OPERATOR(pg_catalog.||) '@' OPERATOR(pg_catalog.||)
		to_char(date_trunc('minute', statement_timestamp() AT TIME ZONE 'UTC'),
				'YYYY-MM-DD"T"HH24:MI"Z"');
	PERFORM set_config('search_path', s.search_path, true);
	RETURN @extschema@.durable_start(s.workflow, s.input, execution_name, s.options);
END
$$;
/* --- F1/F2: the scheduler (drive errors, fair claims between owners) --- */

/*
 * An error that escapes a drive (not a failure of the workflow, which the
 * driver records) is charged to the execution, like a crash: drive_errors
 * counts those in a row without progress (drive_error_marker is the
 * progress at the last one, as executions.crash_marker), and the execution
 * fails with WF018 at durable.max_drive_errors.  Meanwhile its queue row is
 * due at retry_at, which claims of its inbox messages respect too.  The
 * queue row lives as long as the execution is unfinished.
 */
ALTER TABLE durable.queue
	ADD COLUMN drive_errors integer NOT NULL DEFAULT 0,
	ADD COLUMN drive_error_marker bigint,
	ADD COLUMN retry_at timestamptz;

/*
 * Claims take turns between the owners that have ready work, oldest first
 * within an owner: a loose index scan finds the owners, and these indexes
 * serve it and the claim within an owner.
 */
CREATE INDEX queue_owner_due_idx ON durable.queue (owner, due_at, execution_id);
CREATE INDEX inbox_owner_idx ON durable.inbox (owner, message_id);

/* --- issue 14: secrets encrypted at rest --- */

/*
 * Secret values are sealed with AES-256-GCM under a key kept outside the
 * database (durable.secrets_key_file, by default pg_durable/secrets.key
 * in the data directory), so that dumps and copies of the table hold no
 * value in clear text.  The values stored before 1.2 are sealed here; the
 * function that does it is for this update only.
 */
CREATE FUNCTION durable.secret_seal(name text, value text)
RETURNS text LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'durable_secret_seal';
REVOKE ALL ON FUNCTION durable.secret_seal(text, text) FROM PUBLIC;
UPDATE durable.secrets SET value = durable.secret_seal(name, value)
 WHERE value NOT LIKE 'durable-aes256gcm:%';
DROP FUNCTION durable.secret_seal(text, text);
COMMENT ON COLUMN durable.secrets.value IS
	'the value sealed with AES-256-GCM under the key of durable.secrets_key_file';
