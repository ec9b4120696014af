/*-------------------------------------------------------------------------
 *
 * storage.c
 *	  Every SQL statement against the durable tables, as cached plans.  No
 *	  other module names a table.
 *
 * Statements run as the owner of schema durable (the role that created
 * the extension), under a search_path of pg_catalog alone, so that callers
 * need no rights on the tables and cannot redirect names or operators.
 * The API functions check the caller before they get here.
 *
 * IDENTIFICATION
 *	  src/storage.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "durable.h"

typedef enum StorageQuery
{
	Q_RESOLVE_NAME,
	Q_RESOLVE_ID,
	Q_NAME_CLAIM,
	Q_NAME_GET,
	Q_INSERT_EXECUTION,
	Q_SAME_INPUT,
	Q_LOCK_QUEUE,
	Q_LOCK_EXECUTION,
	Q_LOAD_OPS,
	Q_INSERT_OP,
	Q_UPDATE_OP,
	Q_HISTORY,
	Q_SET_STATUS,
	Q_NEW_RUN,
	Q_QUEUE_SET,
	Q_QUEUE_DELETE,
	Q_CANCEL_OPS,
	Q_CLAIM_READY,
	Q_NEXT_DUE,
	Q_STATUS,
	Q_NOTE_CRASH,
	Q_PURGE,
	Q_SCHEDULE_GET,
	Q_SCHEDULE_INSERT,
	Q_SCHEDULE_DELETE,
	Q_COUNT
} StorageQuery;

typedef struct StorageStatement
{
	const char *sql;
	int			nargs;
	Oid			argtypes[16];
} StorageStatement;

static const StorageStatement statements[Q_COUNT] = {
	[Q_RESOLVE_NAME] = {
		"SELECT execution_id, owner FROM durable.names WHERE name = $1",
		1, {TEXTOID}
	},
	[Q_RESOLVE_ID] = {
		"SELECT id, owner FROM durable.executions WHERE id = $1",
		1, {UUIDOID}
	},
	[Q_NAME_CLAIM] = {
		"INSERT INTO durable.names (name, execution_id, owner) VALUES ($1, $2, $3) "
		"ON CONFLICT (name) DO NOTHING",
		3, {TEXTOID, UUIDOID, REGROLEOID}
	},
	[Q_NAME_GET] = {
		"SELECT execution_id FROM durable.names WHERE name = $1",
		1, {TEXTOID}
	},
	[Q_INSERT_EXECUTION] = {
		"INSERT INTO durable.executions (id, name, workflow, workflow_hash, input, "
		"status, run_no, tags, owner, search_path, execution_timeout, deadline, "
		"retention, created_at, updated_at) "
		"VALUES ($1, $2, $3, $4, $5, 'PENDING', 1, $6, $7, $8, $9, $11 + $9, $10, $11, $11)",
		11, {UUIDOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID, JSONBOID, REGROLEOID,
		TEXTOID, INTERVALOID, INTERVALOID, TIMESTAMPTZOID}
	},
	[Q_SAME_INPUT] = {
		"SELECT input IS NOT DISTINCT FROM $2 AND workflow = $3 "
		"FROM durable.executions WHERE id = $1",
		3, {UUIDOID, JSONBOID, TEXTOID}
	},
	[Q_LOCK_QUEUE] = {
		"SELECT 1 FROM durable.queue WHERE execution_id = $1 FOR UPDATE",
		1, {UUIDOID}
	},
	[Q_LOCK_EXECUTION] = {
		"SELECT name, workflow, status, owner, search_path, run_no, input, deadline "
		"FROM durable.executions WHERE id = $1 FOR NO KEY UPDATE",
		1, {UUIDOID}
	},
	[Q_LOAD_OPS] = {
		"SELECT op_id, parent_op_id, position, name, kind, status, attempt, result, "
		"error, wake_at, started_at, finished_at "
		"FROM durable.operations WHERE execution_id = $1 AND run_no = $2",
		2, {UUIDOID, INT4OID}
	},
	[Q_INSERT_OP] = {
		"INSERT INTO durable.operations (execution_id, run_no, op_id, parent_op_id, "
		"position, name, kind, status, attempt, result, error, owner, wake_at, "
		"started_at, finished_at) "
		"VALUES ($1, $2, $3, NULLIF($4, 0), $5, $6, $7, $8, $9, $10, $11, $12, "
		"$13, $14, $15)",
		15, {UUIDOID, INT4OID, INT4OID, INT4OID, INT4OID, TEXTOID, TEXTOID, TEXTOID,
			INT4OID, JSONBOID, JSONBOID, REGROLEOID, TIMESTAMPTZOID, TIMESTAMPTZOID,
		TIMESTAMPTZOID}
	},
	[Q_UPDATE_OP] = {
		"UPDATE durable.operations SET status = $4, attempt = $5, result = $6, "
		"error = $7, wake_at = $8, finished_at = $9 "
		"WHERE execution_id = $1 AND run_no = $2 AND op_id = $3",
		9, {UUIDOID, INT4OID, INT4OID, TEXTOID, INT4OID, JSONBOID, JSONBOID,
		TIMESTAMPTZOID, TIMESTAMPTZOID}
	},
	[Q_HISTORY] = {
		"INSERT INTO durable.history (execution_id, run_no, at, event, op_id, "
		"position, name, kind, details, owner) "
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
		10, {UUIDOID, INT4OID, TIMESTAMPTZOID, TEXTOID, INT4OID, INT4OID, TEXTOID,
		TEXTOID, JSONBOID, REGROLEOID}
	},
	[Q_SET_STATUS] = {
		"UPDATE durable.executions SET status = $2, result = $3, error = $4, "
		"wake_at = $5, updated_at = $6, "
		"started_at = CASE WHEN $2 = 'RUNNING' THEN COALESCE(started_at, $6) "
		"ELSE started_at END, "
		"finished_at = CASE WHEN $2 IN ('SUCCEEDED', 'FAILED', 'TIMED_OUT', 'STOPPED') "
		"THEN $6 END "
		"WHERE id = $1",
		6, {UUIDOID, TEXTOID, JSONBOID, JSONBOID, TIMESTAMPTZOID, TIMESTAMPTZOID}
	},
	[Q_NEW_RUN] = {
		"UPDATE durable.executions SET run_no = $2, input = $3, updated_at = $4 "
		"WHERE id = $1",
		4, {UUIDOID, INT4OID, JSONBOID, TIMESTAMPTZOID}
	},
	[Q_QUEUE_SET] = {
		"INSERT INTO durable.queue (execution_id, due_at, owner) VALUES ($1, $2, $3) "
		"ON CONFLICT (execution_id) DO UPDATE SET due_at = excluded.due_at",
		3, {UUIDOID, TIMESTAMPTZOID, REGROLEOID}
	},
	[Q_QUEUE_DELETE] = {
		"DELETE FROM durable.queue WHERE execution_id = $1",
		1, {UUIDOID}
	},
	[Q_CANCEL_OPS] = {
		"UPDATE durable.operations SET status = 'CANCELLED', finished_at = $3 "
		"WHERE execution_id = $1 AND run_no = $2 AND status IN ('STARTED', 'PENDING')",
		3, {UUIDOID, INT4OID, TIMESTAMPTZOID}
	},
	[Q_CLAIM_READY] = {
		"SELECT execution_id, due_at FROM durable.queue "
		"WHERE due_at <= $1 AND ($2 OR pg_has_role($3, owner, 'USAGE')) "
		"AND (due_at, execution_id) > ($4, $5) "
		"ORDER BY due_at, execution_id LIMIT 1 FOR UPDATE SKIP LOCKED",
		5, {TIMESTAMPTZOID, BOOLOID, OIDOID, TIMESTAMPTZOID, UUIDOID}
	},
	[Q_NEXT_DUE] = {
		"SELECT due_at FROM durable.queue WHERE due_at > $1 ORDER BY due_at LIMIT 1",
		1, {TIMESTAMPTZOID}
	},
	[Q_STATUS] = {
		"SELECT status, xmin FROM durable.executions WHERE id = $1",
		1, {UUIDOID}
	},
	/*
	 * A crash while the execution was driven: count it, unless the run
	 * progressed (more checkpoints or attempts) since the last crash, which
	 * starts the count again.
	 */
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
	 * A batch of finished executions past their retention, with every row
	 * they have anywhere; their names are freed for reuse.  No index serves
	 * the search (one on finished_at would make every terminal update of
	 * executions non-HOT): it scans executions once per batch.
	 */
	[Q_PURGE] = {
		"WITH doomed AS ("
		"SELECT id, name FROM durable.executions "
		"WHERE status IN ('SUCCEEDED', 'FAILED', 'TIMED_OUT', 'STOPPED') "
		"AND retention IS NOT NULL AND finished_at + retention <= $1 "
		"LIMIT $2 FOR UPDATE SKIP LOCKED), "
		"o AS (DELETE FROM durable.operations t USING doomed WHERE t.execution_id = doomed.id), "
		"h AS (DELETE FROM durable.history t USING doomed WHERE t.execution_id = doomed.id), "
		"q AS (DELETE FROM durable.queue t USING doomed WHERE t.execution_id = doomed.id), "
		"i AS (DELETE FROM durable.inbox t USING doomed WHERE t.execution_id = doomed.id), "
		"n AS (DELETE FROM durable.names t USING doomed "
		"WHERE t.name = doomed.name AND t.execution_id = doomed.id) "
		"DELETE FROM durable.executions t USING doomed WHERE t.id = doomed.id",
		2, {TIMESTAMPTZOID, INT4OID}
	},
	[Q_SCHEDULE_GET] = {
		"SELECT owner, jobid FROM durable.schedules WHERE name = $1",
		1, {TEXTOID}
	},
	[Q_SCHEDULE_INSERT] = {
		"INSERT INTO durable.schedules (name, owner, schedule, workflow, input, "
		"options, search_path, jobid, created_at) "
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (name) DO NOTHING",
		9, {TEXTOID, REGROLEOID, TEXTOID, TEXTOID, JSONBOID, JSONBOID, TEXTOID,
		INT8OID, TIMESTAMPTZOID}
	},
	[Q_SCHEDULE_DELETE] = {
		"DELETE FROM durable.schedules WHERE name = $1",
		1, {TEXTOID}
	},
};

static SPIPlanPtr plans[Q_COUNT];
static OverrideSearchPath *catalog_path = NULL;

/*
 * Plans: every statement here finds its rows through an index, and a
 * backend keeps its plans for as long as it lives.  A cost-based plan made
 * while a table is empty, or just analyzed small, is a seq scan, and it
 * stays one as the table grows until the next ANALYZE of that table
 * invalidates it: claims and checkpoint loads then read whole tables.  So
 * the statements are kept as generic plans (never custom ones, which would
 * be planned again and again) and are planned, whenever the plan cache
 * finds it must, with seq scans disabled.  The setting is made around every
 * execution, not only when a plan looks invalid beforehand: invalidations
 * (an ANALYZE committed meanwhile) are also taken in while the plan cache
 * locks the tables, and such a plan must not be made without it.
 *
 * run
 *		Executes one statement as the owner of schema durable with only
 *		pg_catalog on the search_path, planned as above.  Returns
 *		SPI_processed.
 */
static uint64
run(StorageQuery q, Datum *values, const char *nulls, long tcount)
{
	Oid			save_userid;
	int			save_sec;
	Oid			nspid;
	HeapTuple	tup;
	Oid			bookkeeper;
	int			rc;
	int			save_nestlevel;

	nspid = get_namespace_oid("durable", false);
	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nspid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for namespace %u", nspid);
	bookkeeper = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);

	if (catalog_path == NULL)
	{
		catalog_path = MemoryContextAllocZero(TopMemoryContext, sizeof(OverrideSearchPath));
		catalog_path->schemas = NIL;
		catalog_path->addCatalog = true;
		catalog_path->addTemp = false;
	}

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(bookkeeper, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	PushOverrideSearchPath(catalog_path);
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	PG_TRY();
	{
		if (plans[q] == NULL)
		{
			SPIPlanPtr	plan = SPI_prepare_cursor(statements[q].sql, statements[q].nargs,
												  (Oid *) statements[q].argtypes,
												  CURSOR_OPT_GENERIC_PLAN);

			if (plan == NULL)
				elog(ERROR, "SPI_prepare failed for \"%s\": %s", statements[q].sql,
					 SPI_result_code_string(SPI_result));
			if (SPI_keepplan(plan) != 0)
				elog(ERROR, "SPI_keepplan failed");
			plans[q] = plan;
		}
		rc = SPI_execute_plan(plans[q], values, nulls, false, tcount);
		if (rc < 0)
			elog(ERROR, "SPI_execute_plan failed for \"%s\": %s", statements[q].sql,
				 SPI_result_code_string(rc));
	}
	PG_CATCH();
	{
		AtEOXact_GUC(false, save_nestlevel);
		PopOverrideSearchPath();
		SetUserIdAndSecContext(save_userid, save_sec);
		PG_RE_THROW();
	}
	PG_END_TRY();
	AtEOXact_GUC(true, save_nestlevel);
	PopOverrideSearchPath();
	SetUserIdAndSecContext(save_userid, save_sec);
	return SPI_processed;
}

static Datum
get_col(int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, isnull);
}

static Datum
ts_datum(TimestampTz ts, char *null)
{
	*null = ts == DT_NOBEGIN ? 'n' : ' ';
	return TimestampTzGetDatum(ts);
}

static Datum
jsonb_datum(Jsonb *jb, char *null)
{
	*null = jb == NULL ? 'n' : ' ';
	return PointerGetDatum(jb);
}

/*
 * durable_storage_resolve
 *		An execution given by id (canonical uuid text) or name; false when
 *		there is none.
 */
bool
durable_storage_resolve(const char *execution, pg_uuid_t *id, Oid *owner)
{
	Datum		values[1];
	pg_uuid_t	parsed;
	bool		isnull;

	if (durable_parse_uuid(execution, &parsed))
	{
		values[0] = UUIDPGetDatum(&parsed);
		if (run(Q_RESOLVE_ID, values, NULL, 1) == 1)
		{
			*id = parsed;
			*owner = DatumGetObjectId(get_col(2, &isnull));
			return true;
		}
	}
	values[0] = CStringGetTextDatum(execution);
	if (run(Q_RESOLVE_NAME, values, NULL, 1) != 1)
		return false;
	*id = *DatumGetUUIDP(get_col(1, &isnull));
	*owner = DatumGetObjectId(get_col(2, &isnull));
	return true;
}

/*
 * durable_storage_name_claim
 *		Reserves a name for an execution; when it is taken, false and the id
 *		of the execution that holds it.
 */
bool
durable_storage_name_claim(const char *name, const pg_uuid_t *id, Oid owner,
						   pg_uuid_t *existing)
{
	Datum		values[3];
	bool		isnull;

	values[0] = CStringGetTextDatum(name);
	values[1] = UUIDPGetDatum(id);
	values[2] = ObjectIdGetDatum(owner);
	if (run(Q_NAME_CLAIM, values, NULL, 0) == 1)
		return true;
	if (run(Q_NAME_GET, values, NULL, 1) != 1)
		elog(ERROR, "execution name \"%s\" vanished while being claimed", name);
	*existing = *DatumGetUUIDP(get_col(1, &isnull));
	return false;
}

void
durable_storage_insert_execution(const pg_uuid_t *id, const char *name,
								 const char *workflow, const char *hash,
								 Jsonb *input, Oid owner, const char *search_path,
								 Jsonb *tags, Interval *timeout, Interval *retention,
								 TimestampTz now)
{
	Datum		values[11];
	char		nulls[11];

	memset(nulls, ' ', sizeof(nulls));
	values[0] = UUIDPGetDatum(id);
	values[1] = name ? CStringGetTextDatum(name) : (Datum) 0;
	nulls[1] = name ? ' ' : 'n';
	values[2] = CStringGetTextDatum(workflow);
	values[3] = CStringGetTextDatum(hash);
	values[4] = jsonb_datum(input, &nulls[4]);
	values[5] = jsonb_datum(tags, &nulls[5]);
	values[6] = ObjectIdGetDatum(owner);
	values[7] = CStringGetTextDatum(search_path);
	values[8] = PointerGetDatum(timeout);
	nulls[8] = timeout ? ' ' : 'n';
	values[9] = PointerGetDatum(retention);
	nulls[9] = retention ? ' ' : 'n';
	values[10] = TimestampTzGetDatum(now);
	run(Q_INSERT_EXECUTION, values, nulls, 0);
	durable_storage_queue_set(id, owner, now);
}

/*
 * durable_storage_same_input
 *		Whether an execution was started with this workflow and input.
 */
bool
durable_storage_same_input(const pg_uuid_t *id, Jsonb *input, const char *workflow)
{
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	bool		isnull;

	values[0] = UUIDPGetDatum(id);
	values[1] = jsonb_datum(input, &nulls[1]);
	values[2] = CStringGetTextDatum(workflow);
	if (run(Q_SAME_INPUT, values, nulls, 1) != 1)
		return false;
	return DatumGetBool(get_col(1, &isnull));
}

/*
 * durable_storage_lock_execution
 *		Locks an execution's queue row (if any, unless the caller holds it)
 *		and then its row for this transaction, and reads it into ex,
 *		allocated in cxt.  False when it does not exist.  Every path locks
 *		in this order (claims take the queue row first), so a stop racing a
 *		drive waits instead of deadlocking.
 */
bool
durable_storage_lock_execution(const pg_uuid_t *id, DurableExecution *ex,
							   MemoryContext cxt, bool queue_locked)
{
	Datum		values[1];
	bool		isnull;
	Datum		v;
	MemoryContext old;

	values[0] = UUIDPGetDatum(id);
	if (!queue_locked)
		(void) durable_storage_lock_queue(id);
	if (run(Q_LOCK_EXECUTION, values, NULL, 0) != 1)
		return false;

	old = MemoryContextSwitchTo(cxt);
	ex->id = *id;
	v = get_col(1, &isnull);
	ex->name = isnull ? NULL : TextDatumGetCString(v);
	ex->workflow = TextDatumGetCString(get_col(2, &isnull));
	ex->status = TextDatumGetCString(get_col(3, &isnull));
	ex->owner = DatumGetObjectId(get_col(4, &isnull));
	ex->search_path = TextDatumGetCString(get_col(5, &isnull));
	ex->run_no = DatumGetInt32(get_col(6, &isnull));
	v = get_col(7, &isnull);
	ex->input = isnull ? NULL : DatumGetJsonbPCopy(v);
	v = get_col(8, &isnull);
	ex->deadline = isnull ? DT_NOBEGIN : DatumGetTimestampTz(v);
	MemoryContextSwitchTo(old);
	return true;
}

/*
 * durable_storage_lock_queue
 *		Locks an execution's queue row; false when it has none (it finished,
 *		or waits on no timer).
 */
bool
durable_storage_lock_queue(const pg_uuid_t *id)
{
	Datum		values[1];

	values[0] = UUIDPGetDatum(id);
	return run(Q_LOCK_QUEUE, values, NULL, 0) == 1;
}

static DurableOpKind
kind_from_name(const char *s)
{
	static const DurableOpKind kinds[] = {DOK_STEP, DOK_WAIT, DOK_NOW, DOK_RANDOM,
	DOK_UUID, DOK_LOG, DOK_CHILD};
	int			i;

	for (i = 0; i < lengthof(kinds); i++)
		if (strcmp(s, durable_op_kind_name(kinds[i])) == 0)
			return kinds[i];
	elog(ERROR, "unknown operation kind \"%s\"", s);
	return DOK_STEP;			/* keep compiler quiet */
}

static DurableOpStatus
status_from_name(const char *s)
{
	int			i;

	for (i = DOS_STARTED; i <= DOS_TIMED_OUT; i++)
		if (strcmp(s, durable_op_status_name((DurableOpStatus) i)) == 0)
			return (DurableOpStatus) i;
	elog(ERROR, "unknown operation status \"%s\"", s);
	return DOS_FAILED;			/* keep compiler quiet */
}

/*
 * durable_storage_load_ops
 *		Loads the checkpoints of the current run into the drive's hash.
 */
void
durable_storage_load_ops(DurableDrive *d)
{
	Datum		values[2];
	uint64		n,
				i;
	MemoryContext old;

	values[0] = UUIDPGetDatum(&d->ex.id);
	values[1] = Int32GetDatum(d->ex.run_no);
	n = run(Q_LOAD_OPS, values, NULL, 0);

	old = MemoryContextSwitchTo(d->cxt);
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		DurableOpKey key;
		DurableOp  *op;
		bool		isnull;
		bool		found;
		Datum		v;

		v = SPI_getbinval(tup, desc, 2, &isnull);
		key.parent_op_id = isnull ? 0 : DatumGetInt32(v);
		key.position = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
		op = (DurableOp *) hash_search(d->ops, &key, HASH_ENTER, &found);
		op->op_id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		op->name = TextDatumGetCString(SPI_getbinval(tup, desc, 4, &isnull));
		op->kind = kind_from_name(TextDatumGetCString(SPI_getbinval(tup, desc, 5, &isnull)));
		op->status = status_from_name(TextDatumGetCString(SPI_getbinval(tup, desc, 6, &isnull)));
		op->attempt = DatumGetInt32(SPI_getbinval(tup, desc, 7, &isnull));
		v = SPI_getbinval(tup, desc, 8, &isnull);
		op->result = isnull ? NULL : DatumGetJsonbPCopy(v);
		v = SPI_getbinval(tup, desc, 9, &isnull);
		op->error = isnull ? NULL : DatumGetJsonbPCopy(v);
		v = SPI_getbinval(tup, desc, 10, &isnull);
		op->wake_at = isnull ? DT_NOBEGIN : DatumGetTimestampTz(v);
		op->started_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 11, &isnull));
		v = SPI_getbinval(tup, desc, 12, &isnull);
		op->finished_at = isnull ? DT_NOBEGIN : DatumGetTimestampTz(v);
		op->stored = true;
		op->dirty = false;
		if (op->op_id > d->max_op_id)
			d->max_op_id = op->op_id;
		if (op->result != NULL && (op->kind == DOK_STEP || op->kind == DOK_CHILD))
			d->ckpt_bytes += VARSIZE(op->result);
	}
	MemoryContextSwitchTo(old);
	SPI_freetuptable(SPI_tuptable);
}

/*
 * durable_storage_write_op
 *		Inserts or updates a checkpoint.
 */
void
durable_storage_write_op(DurableDrive *d, DurableOp *op)
{
	Datum		values[15];
	char		nulls[15];

	memset(nulls, ' ', sizeof(nulls));
	values[0] = UUIDPGetDatum(&d->ex.id);
	values[1] = Int32GetDatum(d->ex.run_no);
	values[2] = Int32GetDatum(op->op_id);
	if (!op->stored)
	{
		values[3] = Int32GetDatum(op->key.parent_op_id);
		values[4] = Int32GetDatum(op->key.position);
		values[5] = CStringGetTextDatum(op->name);
		values[6] = CStringGetTextDatum(durable_op_kind_name(op->kind));
		values[7] = CStringGetTextDatum(durable_op_status_name(op->status));
		values[8] = Int32GetDatum(op->attempt);
		values[9] = jsonb_datum(op->result, &nulls[9]);
		values[10] = jsonb_datum(op->error, &nulls[10]);
		values[11] = ObjectIdGetDatum(d->ex.owner);
		values[12] = ts_datum(op->wake_at, &nulls[12]);
		values[13] = TimestampTzGetDatum(op->started_at);
		values[14] = ts_datum(op->finished_at, &nulls[14]);
		run(Q_INSERT_OP, values, nulls, 0);
	}
	else
	{
		values[3] = CStringGetTextDatum(durable_op_status_name(op->status));
		values[4] = Int32GetDatum(op->attempt);
		values[5] = jsonb_datum(op->result, &nulls[5]);
		values[6] = jsonb_datum(op->error, &nulls[6]);
		values[7] = ts_datum(op->wake_at, &nulls[7]);
		values[8] = ts_datum(op->finished_at, &nulls[8]);
		run(Q_UPDATE_OP, values, nulls, 0);
	}
	op->stored = true;
	op->dirty = false;
}

/*
 * durable_storage_history
 *		Appends an event to an execution's history.
 */
void
durable_storage_history(const pg_uuid_t *id, int32 run_no, Oid owner,
						const char *event, const DurableOp *op, Jsonb *details)
{
	Datum		values[10];
	char		nulls[10];

	memset(nulls, ' ', sizeof(nulls));
	values[0] = UUIDPGetDatum(id);
	values[1] = Int32GetDatum(run_no);
	values[2] = TimestampTzGetDatum(durable_clock_now());
	values[3] = CStringGetTextDatum(event);
	if (op != NULL)
	{
		values[4] = Int32GetDatum(op->op_id);
		values[5] = Int32GetDatum(op->key.position);
		values[6] = CStringGetTextDatum(op->name);
		values[7] = CStringGetTextDatum(durable_op_kind_name(op->kind));
	}
	else
		nulls[4] = nulls[5] = nulls[6] = nulls[7] = 'n';
	values[8] = jsonb_datum(details, &nulls[8]);
	values[9] = ObjectIdGetDatum(owner);
	run(Q_HISTORY, values, nulls, 0);
}

void
durable_storage_set_status(const pg_uuid_t *id, const char *status, Jsonb *result,
						   Jsonb *error, TimestampTz wake_at, TimestampTz now)
{
	Datum		values[6];
	char		nulls[6];

	memset(nulls, ' ', sizeof(nulls));
	values[0] = UUIDPGetDatum(id);
	values[1] = CStringGetTextDatum(status);
	values[2] = jsonb_datum(result, &nulls[2]);
	values[3] = jsonb_datum(error, &nulls[3]);
	values[4] = ts_datum(wake_at, &nulls[4]);
	values[5] = TimestampTzGetDatum(now);
	run(Q_SET_STATUS, values, nulls, 0);
}

void
durable_storage_new_run(const pg_uuid_t *id, int32 run_no, Jsonb *input,
						TimestampTz now)
{
	Datum		values[4];

	values[0] = UUIDPGetDatum(id);
	values[1] = Int32GetDatum(run_no);
	values[2] = JsonbPGetDatum(input);
	values[3] = TimestampTzGetDatum(now);
	run(Q_NEW_RUN, values, NULL, 0);
}

void
durable_storage_queue_set(const pg_uuid_t *id, Oid owner, TimestampTz due_at)
{
	Datum		values[3];

	values[0] = UUIDPGetDatum(id);
	values[1] = TimestampTzGetDatum(due_at);
	values[2] = ObjectIdGetDatum(owner);
	run(Q_QUEUE_SET, values, NULL, 0);
}

void
durable_storage_queue_delete(const pg_uuid_t *id)
{
	Datum		values[1];

	values[0] = UUIDPGetDatum(id);
	run(Q_QUEUE_DELETE, values, NULL, 0);
}

/*
 * durable_storage_cancel_ops
 *		Marks the operations of a run that are still waiting CANCELLED.
 */
void
durable_storage_cancel_ops(const pg_uuid_t *id, int32 run_no, TimestampTz now)
{
	Datum		values[3];

	values[0] = UUIDPGetDatum(id);
	values[1] = Int32GetDatum(run_no);
	values[2] = TimestampTzGetDatum(now);
	run(Q_CANCEL_OPS, values, NULL, 0);
}

/*
 * durable_storage_claim_ready
 *		Locks the next ready execution the caller may drive (all of them if
 *		all), oldest due first, after the cursor, skipping those locked by
 *		other drivers; moves the cursor to it.  False when there is none.
 *		The cursor keeps a pass from walking again over the index entries of
 *		executions it has finished; a new pass (a reset cursor) finds those
 *		committed behind it.
 */
bool
durable_storage_claim_ready(TimestampTz now, Oid caller, bool all,
							DurableQueueCursor *cursor, pg_uuid_t *id)
{
	Datum		values[5];
	bool		isnull;

	values[0] = TimestampTzGetDatum(now);
	values[1] = BoolGetDatum(all);
	values[2] = ObjectIdGetDatum(caller);
	values[3] = TimestampTzGetDatum(cursor->due_at);
	values[4] = UUIDPGetDatum(&cursor->id);
	if (run(Q_CLAIM_READY, values, NULL, 1) != 1)
		return false;
	*id = *DatumGetUUIDP(get_col(1, &isnull));
	cursor->id = *id;
	cursor->due_at = DatumGetTimestampTz(get_col(2, &isnull));
	return true;
}

/*
 * durable_storage_next_due
 *		The earliest due time in the queue after a given time; false when
 *		there is none.
 */
bool
durable_storage_next_due(TimestampTz after, TimestampTz *due_at)
{
	Datum		values[1];
	bool		isnull;

	values[0] = TimestampTzGetDatum(after);
	if (run(Q_NEXT_DUE, values, NULL, 1) != 1)
		return false;
	*due_at = DatumGetTimestampTz(get_col(1, &isnull));
	return true;
}

/*
 * durable_storage_status
 *		The status of an execution as of a new snapshot, and whether the row
 *		was written by this very transaction.  False when there is none.
 */
bool
durable_storage_status(const pg_uuid_t *id, char **status, bool *mine)
{
	Datum		values[1];
	bool		isnull;

	values[0] = UUIDPGetDatum(id);
	if (run(Q_STATUS, values, NULL, 1) != 1)
		return false;
	*status = TextDatumGetCString(get_col(1, &isnull));
	*mine = TransactionIdIsCurrentTransactionId(DatumGetTransactionId(get_col(2, &isnull)));
	SPI_freetuptable(SPI_tuptable);
	return true;
}

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
 *		Deletes up to limit finished executions whose retention has passed
 *		by now, from every table; returns how many.
 */
uint64
durable_storage_purge(TimestampTz now, int limit)
{
	Datum		values[2];

	values[0] = TimestampTzGetDatum(now);
	values[1] = Int32GetDatum(limit);
	return run(Q_PURGE, values, NULL, 0);
}

/*
 * durable_storage_schedule_get
 *		The owner and pg_cron job of a schedule; false when there is none.
 */
bool
durable_storage_schedule_get(const char *name, Oid *owner, int64 *jobid)
{
	Datum		values[1];
	bool		isnull;

	values[0] = CStringGetTextDatum(name);
	if (run(Q_SCHEDULE_GET, values, NULL, 1) != 1)
		return false;
	*owner = DatumGetObjectId(get_col(1, &isnull));
	*jobid = DatumGetInt64(get_col(2, &isnull));
	return true;
}

/*
 * durable_storage_schedule_insert
 *		Stores a schedule; false when the name is taken.
 */
bool
durable_storage_schedule_insert(const char *name, Oid owner, const char *cron,
								const char *workflow, Jsonb *input, Jsonb *options,
								const char *search_path, int64 jobid,
								TimestampTz now)
{
	Datum		values[9];

	values[0] = CStringGetTextDatum(name);
	values[1] = ObjectIdGetDatum(owner);
	values[2] = CStringGetTextDatum(cron);
	values[3] = CStringGetTextDatum(workflow);
	values[4] = JsonbPGetDatum(input);
	values[5] = JsonbPGetDatum(options);
	values[6] = CStringGetTextDatum(search_path);
	values[7] = Int64GetDatum(jobid);
	values[8] = TimestampTzGetDatum(now);
	return run(Q_SCHEDULE_INSERT, values, NULL, 0) == 1;
}

void
durable_storage_schedule_delete(const char *name)
{
	Datum		values[1];

	values[0] = CStringGetTextDatum(name);
	run(Q_SCHEDULE_DELETE, values, NULL, 0);
}
