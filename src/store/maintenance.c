/*-------------------------------------------------------------------------
 *
 * maintenance.c
 *	  Statements over several tables at once: purge of finished
 *	  executions, history trim, redrive of rows and crash notes.
 *
 * Q_PURGE deletes an execution with its rows in every table that refers to
 * it: a new table of executions' rows must be named there (each store file
 * that defines statements of a table says so).
 *
 * Statements run through durable_store_run (spi.c): as the owner of schema
 * durable, with only pg_catalog on the search_path, as generic plans kept
 * per file.  Callers check the caller's rights before they get here.
 *
 * IDENTIFICATION
 *	  src/store/maintenance.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "store/store.h"
#include "store/store_int.h"

typedef enum MaintenanceQuery
{
	Q_NOTE_CRASH,
	Q_PURGE,
	Q_HISTORY_TRIM,
	Q_REDRIVE_OPS,
	Q_REDRIVE_DELETE_OP,
	Q_REDRIVE_REOPEN_OP,
	Q_REDRIVE_CALLBACKS,
	Q_REDRIVE_EXECUTION,
	Q_COUNT
} MaintenanceQuery;

static const StorageStatement statements[Q_COUNT] = {
	[Q_NOTE_CRASH] = {
		"UPDATE durable.executions e SET "
		"crash_count = CASE WHEN e.crash_marker = m.marker THEN e.crash_count + 1 ELSE 1 END, "
		"crash_marker = m.marker "
		"FROM (SELECT count(*) + coalesce(sum(o.attempt), 0) AS marker "
		"      FROM durable.executions x JOIN durable.operations o "
		"      ON o.execution_id = x.id AND o.run_no = x.run_no WHERE x.id = $1) m "
		"WHERE e.id = $1 AND e.status IN ('PENDING', 'RUNNING', 'SUSPENDED') "
		"RETURNING e.crash_count",
		1, {UUIDOID}
	},
	/*
	 * A batch of finished executions with every row they have anywhere;
	 * their names are freed for reuse.  Those past their retention (the
	 * tick: $4 is NULL, $5 the default retention in seconds, NULL to keep),
	 * or finished by $4 (durable_purge); of the statuses $3, and of roles
	 * whose privileges $7 has unless $6.  No index serves the search (one
	 * on finished_at would make every terminal update of executions
	 * non-HOT): it scans executions once per batch.
	 */
	[Q_PURGE] = {
		"WITH doomed AS ("
		"SELECT id, name FROM durable.executions "
		"WHERE status = ANY ($3) AND finished_at IS NOT NULL "
		"AND CASE WHEN $4 IS NULL "
		"THEN finished_at + COALESCE(retention, make_interval(secs => $5)) <= $1 "
		"ELSE finished_at <= $4 END "
		"AND ($6 OR pg_has_role($7, owner, 'USAGE')) "
		"LIMIT $2 FOR UPDATE SKIP LOCKED), "
		"o AS (DELETE FROM durable.operations t USING doomed WHERE t.execution_id = doomed.id), "
		"h AS (DELETE FROM durable.history t USING doomed WHERE t.execution_id = doomed.id), "
		"q AS (DELETE FROM durable.queue t USING doomed WHERE t.execution_id = doomed.id), "
		"i AS (DELETE FROM durable.inbox t USING doomed WHERE t.execution_id = doomed.id), "
		"c AS (DELETE FROM durable.callbacks t USING doomed WHERE t.execution_id = doomed.id), "
		"v AS (DELETE FROM durable.events t USING doomed WHERE t.execution_id = doomed.id), "
		"k AS (DELETE FROM durable.children t USING doomed WHERE t.parent_id = doomed.id), "
		"r AS (DELETE FROM durable.http_requests t USING doomed WHERE t.execution_id = doomed.id), "
		"n AS (DELETE FROM durable.names t USING doomed "
		"WHERE t.name = doomed.name AND t.execution_id = doomed.id) "
		"DELETE FROM durable.executions t USING doomed WHERE t.id = doomed.id",
		7, {TIMESTAMPTZOID, INT4OID, TEXTARRAYOID, TIMESTAMPTZOID, FLOAT8OID, BOOLOID, OIDOID}
	},
	/*
	 * When an execution has more than $2 history events, the oldest are
	 * replaced, so that $3 remain, by one history_summarized event that
	 * takes the place (event_id) of the first and counts them by event
	 * (earlier summaries included).
	 */
	[Q_HISTORY_TRIM] = {
		"WITH over AS (SELECT 1 FROM durable.history WHERE execution_id = $1 "
		"ORDER BY event_id DESC OFFSET $2 LIMIT 1), "
		"cut AS (SELECT event_id FROM durable.history "
		"WHERE execution_id = $1 AND EXISTS (SELECT 1 FROM over) "
		"ORDER BY event_id DESC OFFSET $3 LIMIT 1), "
		"doomed AS (DELETE FROM durable.history h USING cut "
		"WHERE h.execution_id = $1 AND h.event_id <= cut.event_id "
		"RETURNING h.event_id, h.run_no, h.at, h.event, h.details), "
		"counts AS (SELECT event AS k, count(*) AS n FROM doomed "
		"WHERE event <> 'history_summarized' GROUP BY event "
		"UNION ALL SELECT e.key, e.value::bigint FROM doomed, "
		"jsonb_each_text(doomed.details -> 'events') e "
		"WHERE doomed.event = 'history_summarized') "
		"INSERT INTO durable.history (execution_id, event_id, run_no, at, event, details, owner) "
		"OVERRIDING SYSTEM VALUE "
		"SELECT $1, min(event_id), min(run_no), min(at), 'history_summarized', "
		"jsonb_build_object('count', (SELECT sum(n) FROM counts), "
		"'events', (SELECT jsonb_object_agg(k, n) FROM "
		"(SELECT k, sum(n) AS n FROM counts GROUP BY k) s), "
		"'until', max(at)), $4 "
		"FROM doomed HAVING count(*) > 0",
		4, {UUIDOID, INT4OID, INT4OID, REGROLEOID}
	},
	/* what durable_redrive looks at: the operations of the current run */
	[Q_REDRIVE_OPS] = {
		"SELECT op_id, COALESCE(parent_op_id, 0), position, name, kind, status "
		"FROM durable.operations WHERE execution_id = $1 AND run_no = $2",
		2, {UUIDOID, INT4OID}
	},
	/* an operation to run again: it goes, with its callbacks and branches */
	[Q_REDRIVE_DELETE_OP] = {
		"WITH c AS (DELETE FROM durable.callbacks "
		"WHERE execution_id = $1 AND run_no = $2 AND op_id = $3), "
		"k AS (DELETE FROM durable.children "
		"WHERE parent_id = $1 AND run_no = $2 AND op_id = $3) "
		"DELETE FROM durable.operations "
		"WHERE execution_id = $1 AND run_no = $2 AND op_id = $3",
		3, {UUIDOID, INT4OID, INT4OID}
	},
	/* a durable_child context to enter again */
	[Q_REDRIVE_REOPEN_OP] = {
		"UPDATE durable.operations SET status = 'STARTED', result = NULL, "
		"error = NULL, finished_at = NULL "
		"WHERE execution_id = $1 AND run_no = $2 AND op_id = $3",
		3, {UUIDOID, INT4OID, INT4OID}
	},
	/* callbacks of durable_create_callback that the failure cancelled */
	[Q_REDRIVE_CALLBACKS] = {
		"UPDATE durable.callbacks c SET status = 'PENDING', completed_at = NULL, "
		"heartbeat_at = $3 "
		"FROM durable.operations o "
		"WHERE c.execution_id = $1 AND c.run_no = $2 AND c.status = 'CANCELLED' "
		"AND o.execution_id = $1 AND o.run_no = $2 AND o.op_id = c.op_id "
		"AND o.kind = 'create_callback'",
		3, {UUIDOID, INT4OID, TIMESTAMPTZOID}
	},
	/*
	 * The execution is PENDING again, with the definition of its workflow
	 * as it is now, a new deadline, and no crashes counted.
	 */
	[Q_REDRIVE_EXECUTION] = {
		"UPDATE durable.executions SET status = 'PENDING', result = NULL, "
		"error = NULL, wake_at = NULL, finished_at = NULL, updated_at = $2, "
		"workflow_hash = $3, redrive_count = redrive_count + 1, crash_count = 0, "
		"crash_marker = NULL, deadline = $2 + execution_timeout "
		"WHERE id = $1 RETURNING redrive_count",
		3, {UUIDOID, TIMESTAMPTZOID, TEXTOID}
	},
};

static SPIPlanPtr plans[Q_COUNT];

/*
 * durable_storage_note_crash
 *		Charges a server crash to an unfinished execution; returns how many
 *		crashes in a row it has caused without progress, 0 when it has
 *		finished or does not exist.
 */
int
durable_storage_note_crash(const pg_uuid_t *id)
{
	Datum		values[1];
	bool		isnull;

	values[0] = UUIDPGetDatum(id);
	if (run(Q_NOTE_CRASH, values, NULL, 0) != 1)
		return 0;
	return DatumGetInt32(get_col(1, &isnull));
}

/*
 * durable_storage_purge
 *		Deletes up to limit finished executions from every table: those
 *		whose retention has passed by now (finished_by DT_NOBEGIN), or those
 *		finished by finished_by; with a status in statuses, owned by a role
 *		whose privileges role has unless all.  Returns how many.
 */
uint64
durable_storage_purge(TimestampTz now, int limit, TimestampTz finished_by,
					  ArrayType *statuses, bool all, Oid role)
{
	Datum		values[7];
	char		nulls[7];

	memset(nulls, ' ', sizeof(nulls));
	values[0] = TimestampTzGetDatum(now);
	values[1] = Int32GetDatum(limit);
	values[2] = PointerGetDatum(statuses);
	values[3] = ts_datum(finished_by, &nulls[3]);
	values[4] = Float8GetDatum((float8) durable_retention);
	if (durable_retention < 0)
		nulls[4] = 'n';
	values[5] = BoolGetDatum(all);
	values[6] = ObjectIdGetDatum(role);
	return run(Q_PURGE, values, nulls, 0);
}

/*
 * durable_storage_history_trim
 *		When the execution has more than above history events, replaces the
 *		oldest by a summary so that keep remain; true when it did.
 */
bool
durable_storage_history_trim(const pg_uuid_t *id, Oid owner, int above, int keep)
{
	Datum		values[4];

	values[0] = UUIDPGetDatum(id);
	values[1] = Int32GetDatum(above);
	values[2] = Int32GetDatum(keep);
	values[3] = ObjectIdGetDatum(owner);
	return run(Q_HISTORY_TRIM, values, NULL, 0) > 0;
}

/*
 * durable_storage_redrive_ops
 *		The operations of a run, as DurableRedriveOps.
 */
List *
durable_storage_redrive_ops(const pg_uuid_t *id, int32 run_no)
{
	Datum		values[2];
	uint64		n,
				i;
	List	   *ops = NIL;

	values[0] = UUIDPGetDatum(id);
	values[1] = Int32GetDatum(run_no);
	n = run(Q_REDRIVE_OPS, values, NULL, 0);
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		DurableRedriveOp *op = palloc(sizeof(DurableRedriveOp));
		bool		isnull;

		op->op_id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		op->parent_op_id = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		op->position = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
		op->name = TextDatumGetCString(SPI_getbinval(tup, desc, 4, &isnull));
		op->kind = durable_kind_by_name(TextDatumGetCString(SPI_getbinval(tup, desc, 5, &isnull)));
		op->status = status_from_name(TextDatumGetCString(SPI_getbinval(tup, desc, 6, &isnull)));
		ops = lappend(ops, op);
	}
	return ops;
}

/*
 * durable_storage_redrive_op
 *		An operation to perform again: deleted with its callbacks and
 *		branches, or, for a durable_child context, STARTED again.
 */
void
durable_storage_redrive_op(const pg_uuid_t *id, int32 run_no, int32 op_id, bool reopen)
{
	Datum		values[3];

	values[0] = UUIDPGetDatum(id);
	values[1] = Int32GetDatum(run_no);
	values[2] = Int32GetDatum(op_id);
	run(reopen ? Q_REDRIVE_REOPEN_OP : Q_REDRIVE_DELETE_OP, values, NULL, 0);
}

/*
 * durable_storage_redrive_execution
 *		Makes a finished execution PENDING again (see Q_REDRIVE_EXECUTION)
 *		and its cancelled durable_create_callback callbacks PENDING; returns
 *		its redrive count.
 */
int32
durable_storage_redrive_execution(const pg_uuid_t *id, int32 run_no, const char *hash,
								  TimestampTz now)
{
	Datum		values[3];
	bool		isnull;

	values[0] = UUIDPGetDatum(id);
	values[1] = Int32GetDatum(run_no);
	values[2] = TimestampTzGetDatum(now);
	run(Q_REDRIVE_CALLBACKS, values, NULL, 0);

	values[1] = TimestampTzGetDatum(now);
	values[2] = CStringGetTextDatum(hash);
	if (run(Q_REDRIVE_EXECUTION, values, NULL, 0) != 1)
		elog(ERROR, "execution %s vanished while it was redriven", durable_uuid_out(id));
	return DatumGetInt32(get_col(1, &isnull));
}
