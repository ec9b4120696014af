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
