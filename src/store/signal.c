/*-------------------------------------------------------------------------
 *
 * observe.c
 *	  What the outside sees of executions: the counters behind the
 *	  durable.stats view, NOTIFY on each owner's channel
 *	  (durable_status_<owner oid>, durable_status_channel), and
 *	  durable_await.
 *
 * Counters are gathered per transaction and added to shared memory when it
 * commits, so a rolled-back start or step is never counted.  A commit that
 * finished executions also wakes the sessions waiting in durable_await.
 *
 * IDENTIFICATION
 *	  src/observe.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/condition_variable.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "store/store.h"
#include "util/durable_errcodes.h"

/* counts of the current transaction, added to shared memory at commit */
static int64 pending[DC_COUNT];
static bool any_pending = false;
static bool finished_pending = false;

/* longest wait of durable_await between two looks when nothing wakes it */
#define DURABLE_AWAIT_RECHECK_MS 1000

void
durable_count(DurableCounter c, int64 n)
{
	if (durable_shmem() == NULL)
		return;
	durable_register_xact_callback();
	if (c == DC_CLAIM_WAIT_MAX_US)
		pending[c] = Max(pending[c], n);
	else
		pending[c] += n;
	any_pending = true;
}

/*
 * durable_count_claim
 *		A worker claimed an execution that was due at due_at.
 */
void
durable_count_claim(TimestampTz due_at, TimestampTz now)
{
	int64		wait = Max(now - due_at, 0);

	durable_count(DC_CLAIMS, 1);
	durable_count(DC_CLAIM_WAIT_US, wait);
	durable_count(DC_CLAIM_WAIT_MAX_US, wait);
}

void
durable_observe_commit(void)
{
	DurableShared *sh = durable_shmem();
	int			i;

	durable_wfstats_commit();
	if (sh == NULL || !any_pending)
		return;
	for (i = 0; i < DC_COUNT; i++)
	{
		if (pending[i] == 0)
			continue;
		if (i == DC_CLAIM_WAIT_MAX_US)
		{
			uint64		old = pg_atomic_read_u64(&sh->counters[i]);

			while (old < (uint64) pending[i] &&
				   !pg_atomic_compare_exchange_u64(&sh->counters[i], &old,
												   (uint64) pending[i]))
				;
		}
		else
			pg_atomic_fetch_add_u64(&sh->counters[i], pending[i]);
	}
	if (finished_pending)
		ConditionVariableBroadcast(&sh->finished_cv);
	durable_observe_abort();
}

void
durable_observe_abort(void)
{
	durable_wfstats_abort();
	if (!any_pending)
		return;
	memset(pending, 0, sizeof(pending));
	any_pending = false;
	finished_pending = false;
}

static bool
is_terminal(const char *status)
{
	return strcmp(status, "SUCCEEDED") == 0 || strcmp(status, "FAILED") == 0 ||
		strcmp(status, "TIMED_OUT") == 0 || strcmp(status, "STOPPED") == 0;
}

/*
 * durable_status_changed
 *		Called in the transaction that gives execution ex a new status:
 *		counts terminal states, wakes durable_await at commit, and sends
 *		NOTIFY on the channel of the execution's owner (durable_status_<owner
 *		oid>) as durable.notify says.  Any role may LISTEN on any channel
 *		and NOTIFY any channel, so the payload holds only what is a hint to
 *		whoever listens: the execution id and the status, not its name nor
 *		its workflow.  Clients read the status with durable_status before
 *		acting on it.
 */
void
durable_status_changed(const DurableExecution *ex, const char *status)
{
	bool		terminal = is_terminal(status);
	StringInfoData buf;
	char		channel[NAMEDATALEN];

	if (terminal)
	{
		durable_count(strcmp(status, "SUCCEEDED") == 0 ? DC_SUCCEEDED :
					  strcmp(status, "FAILED") == 0 ? DC_FAILED :
					  strcmp(status, "TIMED_OUT") == 0 ? DC_TIMED_OUT : DC_STOPPED, 1);
		finished_pending = durable_shmem() != NULL;
		durable_wfstats_finished(ex, status);
		durable_quota_add(ex->owner, -1);
	}

	if (durable_notify == DURABLE_NOTIFY_NONE ||
		(durable_notify == DURABLE_NOTIFY_TERMINAL && !terminal))
		return;

	Assert(OidIsValid(ex->owner));
	snprintf(channel, sizeof(channel), "durable_status_%u", ex->owner);
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"id\": ");
	escape_json(&buf, durable_uuid_out(&ex->id));
	appendStringInfoString(&buf, ", \"status\": ");
	escape_json(&buf, status);
	appendStringInfoChar(&buf, '}');
	Async_Notify(channel, buf.data);
	pfree(buf.data);
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
