/*-------------------------------------------------------------------------
 *
 * executions.c
 *	  Statements against durable.executions and durable.names: an
 *	  execution's row, its name, its status and its outcome.
 *
 * The row of an execution is written here when it starts, locked and read
 * when a worker drives it, and given its status as it runs and ends.  Names
 * are unique per owner.
 *
 * Statements run through durable_store_run (spi.c): as the owner of schema
 * durable, with only pg_catalog on the search_path, as generic plans kept
 * per file.  Callers check the caller's rights before they get here.
 *
 * IDENTIFICATION
 *	  src/store/executions.c
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

/* durable.executions, durable.names: Q_PURGE (maintenance.c) must name each */
typedef enum ExecutionsQuery
{
	Q_RESOLVE_NAME,
	Q_RESOLVE_ID,
	Q_NAME_CLAIM,
	Q_NAME_GET,
	Q_INSERT_EXECUTION,
	Q_SAME_INPUT,
	Q_LOCK_EXECUTION,
	Q_SET_STATUS,
	Q_NEW_RUN,
	Q_STATUS,
	Q_OWNER_BUSY,
	Q_EXEC_OUTCOME,
	Q_COUNT
} ExecutionsQuery;

static const StorageStatement statements[Q_COUNT] = {
	/* the executions of a name, the caller's ($2) first */
	[Q_RESOLVE_NAME] = {
		"SELECT execution_id, owner FROM durable.names WHERE name = $1 "
		"ORDER BY owner <> $2, execution_id",
		2, {TEXTOID, REGROLEOID}
	},
	[Q_RESOLVE_ID] = {
		"SELECT id, owner FROM durable.executions WHERE id = $1",
		1, {UUIDOID}
	},
	/*
	 * Names are unique per owner, (name, owner), from 1.2 on; the conflict
	 * has no target so that the statement works with the key of 1.1, on
	 * name alone, too.
	 */
	[Q_NAME_CLAIM] = {
		"INSERT INTO durable.names (name, execution_id, owner) VALUES ($1, $2, $3) "
		"ON CONFLICT DO NOTHING",
		3, {TEXTOID, UUIDOID, REGROLEOID}
	},
	[Q_NAME_GET] = {
		"SELECT execution_id FROM durable.names WHERE name = $1 AND owner = $3",
		3, {TEXTOID, UUIDOID, REGROLEOID}
	},
	[Q_INSERT_EXECUTION] = {
		"INSERT INTO durable.executions (id, name, workflow, workflow_hash, input, "
		"status, run_no, tags, owner, search_path, execution_timeout, deadline, "
		"retention, created_at, updated_at, parent_id, parent_run_no, parent_op_id, "
		"parent_index, depth) "
		"VALUES ($1, $2, $3, $4, $5, 'PENDING', 1, $6, $7, $8, $9, $11 + $9, $10, $11, $11, "
		"$12, $13, $14, $15, $16)",
		16, {UUIDOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID, JSONBOID, REGROLEOID,
			TEXTOID, INTERVALOID, INTERVALOID, TIMESTAMPTZOID, UUIDOID, INT4OID, INT4OID,
		INT4OID, INT4OID}
	},
	[Q_SAME_INPUT] = {
		"SELECT input IS NOT DISTINCT FROM $2 AND workflow = $3 "
		"FROM durable.executions WHERE id = $1",
		3, {UUIDOID, JSONBOID, TEXTOID}
	},
	[Q_LOCK_EXECUTION] = {
		"SELECT name, workflow, status, owner, search_path, run_no, input, deadline, "
		"parent_id, parent_run_no, parent_op_id, parent_index, depth, redrive_count "
		"FROM durable.executions WHERE id = $1 FOR NO KEY UPDATE",
		1, {UUIDOID}
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
	[Q_STATUS] = {
		"SELECT status, xmin FROM durable.executions WHERE id = $1",
		1, {UUIDOID}
	},
	/*
	 * A crash while the execution was driven: count it, unless the run
	 * progressed (more checkpoints or attempts) since the last crash, which
	 * starts the count again.
	 */
	/* what keeps a role from being dropped (DROP ROLE, launcher.c) */
	[Q_OWNER_BUSY] = {
		"SELECT (SELECT count(*) FROM durable.executions WHERE owner = $1 "
		"        AND status IN ('PENDING', 'RUNNING', 'SUSPENDED')), "
		"       (SELECT count(*) FROM durable.schedules WHERE owner = $1)",
		1, {REGROLEOID}
	},
	[Q_EXEC_OUTCOME] = {
		"SELECT status, result, error FROM durable.executions WHERE id = $1",
		1, {UUIDOID}
	},
};

static SPIPlanPtr plans[Q_COUNT];

/*
 * durable_storage_resolve
 *		An execution given by id (canonical uuid text) or name; false when
 *		there is none.  Names are per owner: a name is the current role's
 *		execution of that name when it has one, and otherwise the one
 *		execution of that name among the roles the current role controls
 *		(durable_caller_controls); several there are an error, and none
 *		there is false, so that other roles' names leak nothing.  An id is
 *		returned with its owner, whoever that is: callers check it.
 */
bool
durable_storage_resolve(const char *execution, pg_uuid_t *id, Oid *owner)
{
	Datum		values[2];
	pg_uuid_t	parsed;
	bool		isnull;
	Oid			caller = GetUserId();
	uint64		n;
	uint64		i;
	int			visible = 0;

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
	values[1] = ObjectIdGetDatum(caller);
	n = run(Q_RESOLVE_NAME, values, NULL, 0);
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Oid			o = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));

		if (o != caller && !durable_caller_controls(o))
			continue;
		if (visible++ == 0)
		{
			*id = *DatumGetUUIDP(SPI_getbinval(tup, desc, 1, &isnull));
			*owner = o;
			if (o == caller)
				return true;	/* the caller's own comes first */
		}
	}
	if (visible > 1)
		ereport(ERROR,
				(errcode(ERRCODE_AMBIGUOUS_PARAMETER),
				 errmsg("execution name \"%s\" is ambiguous", execution),
				 errdetail("Role \"%s\" has no execution of that name, and %d roles whose executions it may see have one each.",
						   GetUserNameFromId(caller, false), visible),
				 errhint("Names are per owner: pass the execution id instead (see durable.executions).")));
	return visible == 1;
}

/*
 * durable_storage_name_claim
 *		Reserves a name of owner for an execution; when owner already has
 *		an execution of that name, false and its id in *existing.  *theirs
 *		is set when the name is taken by another role, which can happen only
 *		before ALTER EXTENSION UPDATE to 1.2 (names were per database).
 */
bool
durable_storage_name_claim(const char *name, const pg_uuid_t *id, Oid owner,
						   pg_uuid_t *existing, bool *theirs)
{
	Datum		values[3];
	bool		isnull;

	*theirs = false;
	values[0] = CStringGetTextDatum(name);
	values[1] = UUIDPGetDatum(id);
	values[2] = ObjectIdGetDatum(owner);
	if (run(Q_NAME_CLAIM, values, NULL, 0) == 1)
		return true;
	if (run(Q_NAME_GET, values, NULL, 1) != 1)
	{
		*theirs = true;
		return false;
	}
	*existing = *DatumGetUUIDP(get_col(1, &isnull));
	return false;
}

static void
insert_execution(const pg_uuid_t *id, const char *name,
				 const char *workflow, const char *hash,
				 Jsonb *input, Oid owner, const char *search_path,
				 Jsonb *tags, Interval *timeout, Interval *retention,
				 TimestampTz now, const DurableParentRef *parent, int32 depth)
{
	Datum		values[16];
	char		nulls[16];

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
	if (parent != NULL)
	{
		values[11] = UUIDPGetDatum(&parent->id);
		values[12] = Int32GetDatum(parent->run_no);
		values[13] = Int32GetDatum(parent->op_id);
		values[14] = Int32GetDatum(parent->index);
		values[15] = Int32GetDatum(parent->depth);
	}
	else
	{
		nulls[11] = nulls[12] = nulls[13] = nulls[14] = 'n';
		values[15] = Int32GetDatum(depth);
	}
	run(Q_INSERT_EXECUTION, values, nulls, 0);
	durable_storage_queue_set(id, owner, now);
	/* one more unfinished execution of owner, at commit */
	durable_quota_add(owner, 1);
}

void
durable_storage_insert_execution(const pg_uuid_t *id, const char *name,
								 const char *workflow, const char *hash,
								 Jsonb *input, Oid owner, const char *search_path,
								 Jsonb *tags, Interval *timeout, Interval *retention,
								 TimestampTz now, const DurableParentRef *parent)
{
	insert_execution(id, name, workflow, hash, input, owner, search_path, tags,
					 timeout, retention, now, parent, 0);
}

/*
 * durable_storage_insert_execution_depth
 *		A top-level execution (no parent to report to) at a depth of its
 *		own: one started by a step of an execution of depth - 1.
 */
void
durable_storage_insert_execution_depth(const pg_uuid_t *id, const char *name,
									   const char *workflow, const char *hash,
									   Jsonb *input, Oid owner, const char *search_path,
									   Jsonb *tags, Interval *timeout, Interval *retention,
									   TimestampTz now, int32 depth)
{
	insert_execution(id, name, workflow, hash, input, owner, search_path, tags,
					 timeout, retention, now, NULL, depth);
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
	ex->status = durable_exec_status_from_name(TextDatumGetCString(get_col(3, &isnull)));
	ex->owner = DatumGetObjectId(get_col(4, &isnull));
	ex->search_path = TextDatumGetCString(get_col(5, &isnull));
	ex->run_no = DatumGetInt32(get_col(6, &isnull));
	v = get_col(7, &isnull);
	ex->input = isnull ? NULL : DatumGetJsonbPCopy(v);
	v = get_col(8, &isnull);
	ex->deadline = isnull ? DT_NOBEGIN : DatumGetTimestampTz(v);
	v = get_col(9, &isnull);
	ex->has_parent = !isnull;
	if (!isnull)
	{
		ex->parent_id = *DatumGetUUIDP(v);
		ex->parent_run_no = DatumGetInt32(get_col(10, &isnull));
		ex->parent_op_id = DatumGetInt32(get_col(11, &isnull));
		ex->parent_index = DatumGetInt32(get_col(12, &isnull));
	}
	ex->depth = DatumGetInt32(get_col(13, &isnull));
	ex->redrive_count = DatumGetInt32(get_col(14, &isnull));
	MemoryContextSwitchTo(old);
	return true;
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
 * durable_storage_owner_busy
 *		How many unfinished executions and how many schedules a role owns.
 */
void
durable_storage_owner_busy(Oid role, int64 *executions, int64 *schedules)
{
	Datum		values[1];
	bool		isnull;

	values[0] = ObjectIdGetDatum(role);
	if (run(Q_OWNER_BUSY, values, NULL, 1) != 1)
		elog(ERROR, "could not count the executions of role %u", role);
	*executions = DatumGetInt64(get_col(1, &isnull));
	*schedules = DatumGetInt64(get_col(2, &isnull));
	SPI_freetuptable(SPI_tuptable);
}

/*
 * durable_storage_outcome
 *		The status, result and error of an execution; false when there is
 *		none.  Allocated in the current memory context.
 */
bool
durable_storage_outcome(const pg_uuid_t *id, char **status, Jsonb **result, Jsonb **error)
{
	Datum		values[1];
	bool		isnull;
	Datum		v;

	values[0] = UUIDPGetDatum(id);
	if (run(Q_EXEC_OUTCOME, values, NULL, 1) != 1)
		return false;
	*status = TextDatumGetCString(get_col(1, &isnull));
	v = get_col(2, &isnull);
	*result = isnull ? NULL : DatumGetJsonbPCopy(v);
	v = get_col(3, &isnull);
	*error = isnull ? NULL : DatumGetJsonbPCopy(v);
	return true;
}
