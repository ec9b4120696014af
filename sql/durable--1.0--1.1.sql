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
