/*-------------------------------------------------------------------------
 *
 * repair.c
 *	  What operators do to executions after the fact: durable_redrive
 *	  resumes a failed or timed-out one, durable_purge deletes finished
 *	  ones.
 *
 * A redrive resumes the current run from its checkpoints.  What made the
 * run fail is the last operation of the top level, if it did not succeed,
 * and, when that is a durable_child context, the last operation inside it,
 * and so on down: those operations run again from their first attempt
 * (a context is entered again; a step, wait, callback, HTTP request or
 * branch operation is deleted with its callbacks and branches, so the
 * replay performs it anew).  Operations that failed earlier and were
 * caught by the workflow stay as they are: later checkpoints depend on
 * their outcome.  A run that failed in its body (non-determinism, a write
 * in the body, an uncaught error after the last operation) has nothing to
 * run again: the replay, with the code as it is now, decides.
 *
 * IDENTIFICATION
 *	  src/api/repair.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "api/api.h"
#include "util/durable_errcodes.h"

/* executions purged per statement of durable_purge */
#define DURABLE_PURGE_CHUNK 1000

PG_FUNCTION_INFO_V1(durable_redrive);

/*
 * durable_redrive(execution text) RETURNS text
 *		Resumes a FAILED or TIMED_OUT execution from its checkpoints, with
 *		the workflow's code as it is now; returns its new status, PENDING.
 */
Datum
durable_redrive(PG_FUNCTION_ARGS)
{
	char	   *execution = durable_text_arg(fcinfo, 0, "execution");
	pg_uuid_t	id;
	DurableExecution ex;
	char	   *qualified;
	char	   *hash;
	TimestampTz now = durable_clock_now();

	durable_not_inside_workflow("durable_redrive");
	SPI_connect();
	(void) durable_resolve_controlled(execution, &id);
	if (!durable_storage_lock_execution(&id, &ex, CurrentMemoryContext, false))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("execution \"%s\" does not exist", execution)));
	if (ex.status != DES_FAILED && ex.status != DES_TIMED_OUT)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("execution \"%s\" cannot be redriven", execution),
				 errdetail("Its status is %s; only FAILED and TIMED_OUT executions can be redriven.",
						   durable_exec_status_name(ex.status)),
				 ex.status == DES_STOPPED ?
				 errhint("A stopped execution was stopped on purpose; start a new one.") : 0));
	if (ex.has_parent)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("execution \"%s\" is a child execution and cannot be redriven by itself",
						execution),
				 errdetail("Its parent execution %s has taken its outcome.",
						   durable_uuid_out(&ex.parent_id)),
				 errhint("Redrive the parent: the failed branch operation then starts its children again.")));

	/* the code as it is now: it must still exist, and its owner may run it */
	(void) durable_resolve_workflow_as(ex.workflow, ex.owner, &qualified, &hash);

	durable_lifecycle_redrive(&ex, hash, now);
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(durable_exec_status_name(DES_PENDING)));
}

/* now - older_than, as a function of durable_subxact_call */
typedef struct CutoffCall
{
	TimestampTz now;
	Interval   *older_than;
	TimestampTz cutoff;
} CutoffCall;

static void
cutoff_call(void *arg)
{
	CutoffCall *call = arg;

	call->cutoff = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
														   TimestampTzGetDatum(call->now),
														   IntervalPGetDatum(call->older_than)));
}

/*
 * purge_cutoff
 *		Sets *cutoff to now - older_than; false when that is before the
 *		earliest timestamp (no execution finished that long ago), which the
 *		subtraction reports as an error.  Computed in a subtransaction, so
 *		that such an error can be caught.
 */
static bool
purge_cutoff(TimestampTz now, Interval *older_than, TimestampTz *cutoff)
{
	CutoffCall	call;
	ErrorData  *edata;

	call.now = now;
	call.older_than = older_than;
	if (durable_subxact_call(cutoff_call, &call, &edata))
	{
		*cutoff = call.cutoff;
		return true;
	}
	if (edata->sqlerrcode != ERRCODE_DATETIME_VALUE_OUT_OF_RANGE)
		ReThrowError(edata);
	FreeErrorData(edata);
	return false;
}

PG_FUNCTION_INFO_V1(durable_purge);

/*
 * durable_purge(older_than interval, statuses text[]) RETURNS bigint
 *		Deletes the executions that finished more than older_than ago with
 *		one of statuses, whatever their retention, from every table; only
 *		those the caller controls.  Returns how many.
 */
Datum
durable_purge(PG_FUNCTION_ARGS)
{
	Interval   *older_than;
	Interval   *zero;
	ArrayType  *statuses;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;
	TimestampTz now = durable_clock_now();
	TimestampTz cutoff;
	uint64		total = 0;
	uint64		done;
	bool		all;

	durable_not_inside_workflow("durable_purge");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("older_than must not be null"),
				 errhint("Pass '0 seconds' to purge every finished execution.")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("statuses must not be null")));
	older_than = PG_GETARG_INTERVAL_P(0);
	statuses = PG_GETARG_ARRAYTYPE_P(1);

	zero = palloc0(sizeof(Interval));
	if (DatumGetBool(DirectFunctionCall2(interval_lt, IntervalPGetDatum(older_than),
										 IntervalPGetDatum(zero))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("older_than must be a positive interval or zero")));
	if (ARR_NDIM(statuses) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("statuses must be a one-dimensional array")));
	deconstruct_array(statuses, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("statuses must not be empty"),
				 errhint("Valid statuses are SUCCEEDED, FAILED, TIMED_OUT and STOPPED.")));
	for (i = 0; i < n; i++)
	{
		char	   *s;
		int			k;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("statuses must not contain nulls")));
		s = TextDatumGetCString(elems[i]);
		for (k = 0; k < DURABLE_EXEC_STATUSES; k++)
			if (strcmp(s, durable_exec_status_name((DurableExecStatus) k)) == 0)
				break;
		if (k == DURABLE_EXEC_STATUSES ||
			!durable_exec_status_finished((DurableExecStatus) k))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cannot purge executions with status \"%s\"", s),
					 errdetail("Only finished executions are purged."),
					 errhint("Valid statuses are SUCCEEDED, FAILED, TIMED_OUT and STOPPED; stop an unfinished execution first.")));
	}

	if (!purge_cutoff(now, older_than, &cutoff))
		PG_RETURN_INT64(0);		/* nothing finished that long ago */
	all = durable_caller_controls_all();
	SPI_connect();
	do
	{
		done = durable_storage_purge(now, DURABLE_PURGE_CHUNK, cutoff, statuses, all,
									 GetUserId());
		total += done;
	} while (done == DURABLE_PURGE_CHUNK);
	SPI_finish();
	PG_RETURN_INT64((int64) total);
}
