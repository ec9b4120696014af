/*-------------------------------------------------------------------------
 *
 * observe.c
 *	  Reading what executions did and do: durable_results, durable_await,
 *	  the durable.stats counters (gathered by store/signal.c), the
 *	  notification channel, the worker activity rows (store/shmem.c), the
 *	  statistics per workflow and their reset (store/wfstats.c), whether
 *	  the library was preloaded, and durable_clock.  Nothing here changes
 *	  an execution.
 *
 * IDENTIFICATION
 *	  src/api/observe.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/condition_variable.h"
#include "storage/latch.h"
#include "storage/spin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "api/api.h"
#include "util/durable_errcodes.h"

/* longest wait of durable_await between two looks when nothing wakes it */
#define DURABLE_AWAIT_RECHECK_MS 1000

static bool
is_terminal(const char *status)
{
	return strcmp(status, "SUCCEEDED") == 0 || strcmp(status, "FAILED") == 0 ||
		strcmp(status, "TIMED_OUT") == 0 || strcmp(status, "STOPPED") == 0;
}

PG_FUNCTION_INFO_V1(durable_results);

/*
 * durable_results(execution text, operation text) RETURNS TABLE (run_no
 *		integer, op_id integer, operation text, idx integer, name text,
 *		status text, result jsonb, error jsonb)
 *
 *		The outcome of every branch (durable_parallel, durable_invoke) or
 *		item (durable_map, batches unfolded) of the execution's operations,
 *		or of those named operation, every run, from durable.children:
 *		result only for those that succeeded, as in the operation's array.
 *		The caller must control the execution, as for durable_operations.
 *		Inside a step (or a check or submitter) a NULL execution is the
 *		step's own.  In a workflow body it is refused: whether the rows
 *		exist depends on how far the execution has got, not on the replay,
 *		so a step reads them (its result is checkpointed).
 */
Datum
durable_results(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *execution = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *operation = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	pg_uuid_t	id;
	List	   *ops;
	ListCell   *lc;

	if (durable_current != NULL && durable_current->in_replay && !durable_current->in_step)
		ereport(ERROR,
				(errcode(ERRCODE_DURABLE_NOT_IN_WORKFLOW),
				 errmsg("durable_results cannot be called in a workflow body"),
				 errdetail("A replay must read the same rows every time, and these rows appear as the children finish."),
				 errhint("Read them in a durable_step, where durable_results(NULL, 'name') reads the step's own execution.")));
	if (execution == NULL && durable_current == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("execution must not be null outside a step"),
				 errhint("Give an execution id or name returned by durable_start; a NULL execution means the step's own only inside a durable_step.")));
	if (operation != NULL)
		durable_check_name("operation name", operation);

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	if (execution == NULL)
		id = durable_current->ex.id;
	else
		(void) durable_resolve_controlled(execution, &id);
	ops = durable_storage_result_ops(&id, operation);
	if (operation != NULL && ops == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("execution \"%s\" has no operation \"%s\" with branches",
						execution ? execution : durable_uuid_out(&id), operation),
				 errhint("durable_results reads the branches of durable_invoke, durable_parallel and durable_map; durable_operations lists the operations.")));
	foreach(lc, ops)
		durable_storage_result_rows(&id, lfirst(lc), rsinfo->setResult, rsinfo->setDesc);
	SPI_finish();
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(durable_status_channel);

/*
 * durable_status_channel(role regrole) RETURNS text
 *		The channel of NOTIFY durable_status_<oid> for a role's executions:
 *		a formula, not a secret (any role may LISTEN to it).
 */
Datum
durable_status_channel(PG_FUNCTION_ARGS)
{
	Oid			role = PG_ARGISNULL(0) ? GetUserId() : PG_GETARG_OID(0);

	PG_RETURN_TEXT_P(cstring_to_text(psprintf("durable_status_%u", role)));
}

PG_FUNCTION_INFO_V1(durable_await);

/*
 * durable_await(execution text, timeout interval) RETURNS text
 *		Waits until the execution has finished, or the timeout (NULL: none)
 *		has passed; returns its status then.  Sleeps on a condition variable
 *		that every commit finishing an execution broadcasts; without shared
 *		memory (not preloaded) it looks again every few milliseconds.  Not
 *		in a workflow or step: see below.
 */
Datum
durable_await(PG_FUNCTION_ARGS)
{
	char	   *execution = durable_text_arg(fcinfo, 0, "execution");
	DurableShared *sh = durable_shmem();
	pg_uuid_t	id;
	Oid			owner;
	TimestampTz deadline = DT_NOEND;
	char	   *status = NULL;
	bool		mine;
	text	   *result;
	MemoryContext callercxt = CurrentMemoryContext;
	MemoryContext loopcxt;

	/*
	 * A step that waits for another execution holds its worker all along,
	 * and two that wait for each other hold two forever.
	 */
	if (durable_current != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("durable_await cannot be called inside a durable workflow or step"),
				 errdetail("It would hold the worker that drives the execution until the other one finishes."),
				 errhint("Wait durably instead: durable_invoke or durable_child to run another workflow, "
						 "durable_wait_for_event or durable_wait_for_callback to wait for a signal.")));
	if (!PG_ARGISNULL(1))
	{
		int64		us = durable_interval_us(PG_GETARG_INTERVAL_P(1), "timeout");

		deadline = GetCurrentTimestamp() + us;
	}
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("durable_await cannot wait in a %s transaction",
						IsolationIsSerializable() ? "serializable" : "repeatable read"),
				 errdetail("Its snapshot would never show the execution finishing."),
				 errhint("Call it in a read committed transaction.")));

	SPI_connect();
	if (!durable_storage_resolve(execution, &id, &owner) ||
		!durable_caller_controls(owner))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("execution \"%s\" does not exist", execution),
				 errhint("Give an execution id or name returned by durable_start; executions of roles whose privileges you lack are not visible.")));

	loopcxt = AllocSetContextCreate(CurrentMemoryContext, "durable_await",
									ALLOCSET_SMALL_SIZES);
	if (sh != NULL)
		ConditionVariablePrepareToSleep(&sh->finished_cv);
	for (;;)
	{
		TimestampTz now;
		long		ms;

		CHECK_FOR_INTERRUPTS();
		MemoryContextReset(loopcxt);
		MemoryContextSwitchTo(loopcxt);
		if (!durable_storage_status(&id, &status, &mine))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("execution \"%s\" does not exist", execution),
					 errdetail("It was deleted while durable_await waited for it.")));
		if (is_terminal(status))
			break;
		if (mine)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("execution \"%s\" was started or changed by this transaction", execution),
					 errdetail("It cannot run before this transaction commits."),
					 errhint("Commit first, then call durable_await.")));
		now = GetCurrentTimestamp();
		if (now >= deadline)
			break;
		ms = (long) Min((deadline - now + 999) / 1000, (int64) DURABLE_AWAIT_RECHECK_MS);
		if (sh != NULL)
			(void) ConditionVariableTimedSleep(&sh->finished_cv, ms, PG_WAIT_EXTENSION);
		else
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 Min(ms, 10), PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}
	if (sh != NULL)
		ConditionVariableCancelSleep();

	MemoryContextSwitchTo(callercxt);
	result = cstring_to_text(status);
	SPI_finish();
	PG_RETURN_TEXT_P(result);
}

PG_FUNCTION_INFO_V1(durable_stats);

/*
 * durable_stats() RETURNS record
 *		The counters in shared memory, for the durable.stats view; NULLs
 *		when the library was not preloaded (there are no counters then).
 */
Datum
durable_stats(PG_FUNCTION_ARGS)
{
	DurableShared *sh = durable_shmem();
	TupleDesc	tupdesc;
	Datum		values[DC_COUNT + 2];
	bool		nulls[DC_COUNT + 2];
	int			i;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (tupdesc->natts != DC_COUNT + 2)
		elog(ERROR, "durable_stats: expected %d columns, found %d",
			 DC_COUNT + 2, tupdesc->natts);

	memset(nulls, sh == NULL, sizeof(nulls));
	if (sh != NULL)
	{
		for (i = 0; i < DC_COUNT; i++)
			values[i] = Int64GetDatum((int64) pg_atomic_read_u64(&sh->counters[i]));
		values[DC_COUNT] = Int32GetDatum(durable_signal_workers(0));
		values[DC_COUNT + 1] = TimestampTzGetDatum(sh->stats_since);
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * may_see_execution
 *		Whether the current role may see what an execution of owner does:
 *		its owner's members, durable_admin, durable_monitor and pg_monitor
 *		(as durable's tables let them read it).
 */
static bool
may_see_execution(Oid owner, Oid admin, Oid monitor)
{
	Oid			me = GetUserId();

	return superuser() ||
		(OidIsValid(owner) && has_privs_of_role(me, owner)) ||
		(OidIsValid(admin) && has_privs_of_role(me, admin)) ||
		(OidIsValid(monitor) && has_privs_of_role(me, monitor)) ||
		has_privs_of_role(me, ROLE_PG_MONITOR);
}

#define ACTIVITY_COLS 11

PG_FUNCTION_INFO_V1(durable_activity_rows);

/*
 * durable.activity_rows()
 *		The rows of durable.activity: one per live worker (pid, 'worker',
 *		its state: idle, driving (replaying, committing) or running an
 *		operation; the execution, the operation, its op_id and attempt; since
 *		when the operation or else the drive runs, since when the drive
 *		does), then one for the HTTP worker (requests in flight).  What
 *		concerns an execution is NULL for roles that may not see it.  No
 *		rows when the library was not preloaded.
 */
Datum
durable_activity_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			admin = get_role_oid("durable_admin", true);
	Oid			monitor = get_role_oid("durable_monitor", true);
	int			i;
	DurableShared *durable_shared = durable_shmem();

	InitMaterializedSRF(fcinfo, 0);
	if (durable_shared == NULL)
		return (Datum) 0;

	for (i = 0; i < durable_shared->nslots; i++)
	{
		DurableWorkerSlot *slot = &durable_shared->slots[i];
		DurableWorkerSlot copy;
		Datum		values[ACTIVITY_COLS];
		bool		nulls[ACTIVITY_COLS];

		SpinLockAcquire(&slot->mutex);
		copy.pid = slot->pid;
		copy.driving = slot->driving;
		copy.execution = slot->execution;
		copy.owner = slot->owner;
		copy.drive_since = slot->drive_since;
		copy.in_op = slot->in_op;
		memcpy(copy.op_kind, slot->op_kind, sizeof(copy.op_kind));
		memcpy(copy.op_name, slot->op_name, sizeof(copy.op_name));
		copy.op_id = slot->op_id;
		copy.op_attempt = slot->op_attempt;
		copy.op_since = slot->op_since;
		SpinLockRelease(&slot->mutex);
		if (copy.pid == 0)
			continue;

		memset(nulls, true, sizeof(nulls));
		values[0] = Int32GetDatum(copy.pid);
		nulls[0] = false;
		values[1] = CStringGetTextDatum("worker");
		nulls[1] = false;
		values[2] = CStringGetTextDatum(!copy.driving ? "idle" :
										copy.in_op ? "running" : "driving");
		nulls[2] = false;
		if (copy.driving)
		{
			values[8] = TimestampTzGetDatum(copy.in_op ? copy.op_since : copy.drive_since);
			nulls[8] = false;
			values[9] = TimestampTzGetDatum(copy.drive_since);
			nulls[9] = false;
			if (may_see_execution(copy.owner, admin, monitor))
			{
				pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));

				*id = copy.execution;
				values[3] = UUIDPGetDatum(id);
				nulls[3] = false;
				if (copy.in_op)
				{
					copy.op_name[sizeof(copy.op_name) - 1] = '\0';
					copy.op_kind[sizeof(copy.op_kind) - 1] = '\0';
					values[4] = CStringGetTextDatum(copy.op_name);
					nulls[4] = false;
					values[5] = CStringGetTextDatum(copy.op_kind);
					nulls[5] = false;
					values[6] = Int32GetDatum(copy.op_id);
					nulls[6] = copy.op_id == 0;
					values[7] = Int32GetDatum(copy.op_attempt);
					nulls[7] = copy.op_attempt == 0;
				}
			}
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}

	{
		Datum		values[ACTIVITY_COLS];
		bool		nulls[ACTIVITY_COLS];
		pid_t		pid;
		TimestampTz since;
		uint32		n = pg_atomic_read_u32(&durable_shared->http_in_flight);

		SpinLockAcquire(&durable_shared->mutex);
		pid = durable_shared->http_pid;
		since = durable_shared->http_since;
		SpinLockRelease(&durable_shared->mutex);
		if (pid != 0)
		{
			memset(nulls, true, sizeof(nulls));
			values[0] = Int32GetDatum(pid);
			nulls[0] = false;
			values[1] = CStringGetTextDatum("http");
			nulls[1] = false;
			values[2] = CStringGetTextDatum(n > 0 ? "running" : "idle");
			nulls[2] = false;
			values[8] = TimestampTzGetDatum(since);
			nulls[8] = false;
			values[10] = Int32GetDatum((int32) n);
			nulls[10] = false;
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(durable_library_preloaded);

/*
 * durable.library_preloaded() RETURNS boolean
 *		Whether the library was preloaded (its shared memory exists).
 */
Datum
durable_library_preloaded(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(durable_shmem() != NULL);
}

PG_FUNCTION_INFO_V1(durable_workflow_stats);

/*
 * durable.workflow_stats_rows() RETURNS SETOF record
 *		One row per workflow of the hash (store/wfstats.c), for
 *		durable.workflow_stats; none when the library was not preloaded.
 */
Datum
durable_workflow_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	durable_wfstats_rows(rsinfo->setResult, rsinfo->setDesc);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(durable_stats_reset);

/*
 * durable_stats_reset() RETURNS timestamptz
 *		Empties durable.workflow_stats and sets the counters of durable.stats
 *		to zero; returns the time of the reset.  Superusers and members of
 *		durable_admin only.
 */
Datum
durable_stats_reset(PG_FUNCTION_ARGS)
{
	TimestampTz now = GetCurrentTimestamp();

	if (!durable_caller_controls_all())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to reset the durable statistics"),
				 errhint("Run it as a superuser or a member of durable_admin.")));
	if (!durable_wfstats_reset(now))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("durable statistics are not kept"),
				 errdetail("The library durable is not in shared_preload_libraries.")));
	PG_RETURN_TIMESTAMPTZ(now);
}

PG_FUNCTION_INFO_V1(durable_clock);

/*
 * durable_clock() RETURNS timestamptz
 *		The time every durable timer reads: clock_timestamp() plus
 *		durable.clock_offset (durable_clock_now).
 */
Datum
durable_clock(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(durable_clock_now());
}
