/* durable--1.1--1.2.sql: update of the durable extension from 1.1 to 1.2 */

\echo Use "ALTER EXTENSION durable UPDATE TO '1.2'" to load this file. \quit

/*
 * CREATE EXTENSION durable runs durable--1.0.sql, durable--1.0--1.1.sql
 * and then this script, so a fresh install and an updated one are the
 * same.  1.2 is about isolation between roles: quotas, fairness, names
 * per owner, notifications a role may see.  The library of 1.2 works with
 * the objects of 1.1 until this script has run.
 */

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
