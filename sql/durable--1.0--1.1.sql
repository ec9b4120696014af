/* durable--1.0--1.1.sql: update of the durable extension from 1.0 to 1.1 */

\echo Use "ALTER EXTENSION durable UPDATE TO '1.1'" to load this file. \quit

/*
 * CREATE EXTENSION durable runs durable--1.0.sql and then this script, so a
 * fresh install and an updated one are the same.  The library of 1.1 works
 * with the objects of 1.0 until this script has run: nothing here is read
 * or written by the C code of a drive.
 */

/* ---------------------------------------------------------------------
 * Visibility: durations as intervals, next to the timestamps
 * --------------------------------------------------------------------- */

ALTER TABLE durable.executions
	ADD COLUMN duration interval GENERATED ALWAYS AS (finished_at - started_at) STORED;
COMMENT ON COLUMN durable.executions.duration IS 'finished_at - started_at: NULL until it finishes';
ALTER TABLE durable.operations
	ADD COLUMN duration interval GENERATED ALWAYS AS (finished_at - started_at) STORED;
COMMENT ON COLUMN durable.operations.duration IS 'finished_at - started_at: NULL until it finishes';

/* ---------------------------------------------------------------------
 * Privileges: row level security on the secrets too
 * --------------------------------------------------------------------- */

ALTER TABLE durable.secrets ENABLE ROW LEVEL SECURITY;
CREATE POLICY secrets_owner ON durable.secrets FOR SELECT USING (
	pg_catalog.pg_has_role(owner::oid, 'USAGE'));
ALTER TABLE durable.secret_grants ENABLE ROW LEVEL SECURITY;
CREATE POLICY secret_grants_owner ON durable.secret_grants FOR SELECT USING (
	EXISTS (SELECT 1 FROM durable.secrets s
			 WHERE s.name OPERATOR(pg_catalog.=) secret_grants.name
			   AND pg_catalog.pg_has_role(s.owner::oid, 'USAGE')));

/* ---------------------------------------------------------------------
 * Versioning, repair and retention
 * --------------------------------------------------------------------- */

CREATE FUNCTION @extschema@.durable_patched(patch_id text)
RETURNS boolean LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_patched';
COMMENT ON FUNCTION @extschema@.durable_patched(text) IS
	'inside a workflow: true when this code path is new for the execution, false when replaying a history from before the patch';

CREATE FUNCTION @extschema@.durable_redrive(execution text)
RETURNS text LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_redrive';
COMMENT ON FUNCTION @extschema@.durable_redrive(text) IS
	'resume a FAILED or TIMED_OUT execution from its checkpoints, running the operation that failed again';

CREATE FUNCTION @extschema@.durable_purge(older_than interval,
	statuses text[] DEFAULT ARRAY['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'STOPPED'])
RETURNS bigint LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'durable_purge';
COMMENT ON FUNCTION @extschema@.durable_purge(interval, text[]) IS
	'delete the executions (of roles you control) that finished more than older_than ago, whatever their retention';
