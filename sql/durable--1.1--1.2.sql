/* durable--1.1--1.2.sql: update of the durable extension from 1.1 to 1.2 */

\echo Use "ALTER EXTENSION durable UPDATE TO '1.2'" to load this file. \quit

/*
 * CREATE EXTENSION durable runs durable--1.0.sql, durable--1.0--1.1.sql
 * and then this script, so a fresh install and an updated one are the
 * same.  1.2 is about isolation between roles: quotas, fairness, names
 * per owner, notifications a role may see.  The library of 1.2 works with
 * the objects of 1.1 until this script has run.
 */

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
