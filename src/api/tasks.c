/*-------------------------------------------------------------------------
 *
 * tasks.c
 *	  What workers outside the database call, with plain SQL, to do the
 *	  tasks of durable_task: durable_task_claim, durable_task_heartbeat,
 *	  durable_task_complete, durable_task_fail; and who may claim them:
 *	  durable_task_queue_grant and durable_task_queue_revoke.
 *
 * A claim takes due tasks of a task queue that the caller may claim (of
 * roles it is a member of, or granted the queue by their owner) and hands
 * out a task id per task: a capability, good for that attempt only, whose
 * hash alone is stored.  With a wait, the claim sleeps on the condition
 * variable of its task queue (store/shmem.c), which the transaction that
 * adds tasks broadcasts when it commits; it runs in the caller's
 * transaction, so it needs a snapshot per statement (read committed).
 * A claim, a completion and a final failure each put a message in the
 * execution's inbox: the waiting operation (ops/task.c) reads the task.
 *
 * IDENTIFICATION
 *	  src/api/tasks.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/condition_variable.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "api/api.h"
#include "util/durable_errcodes.h"

#define TASK_MAX_CLAIM 1000		/* max_tasks of one claim */
#define TASK_RECHECK_MS 1000	/* a waiting claim looks again at least this often */

/* an interval argument in microseconds: not null, positive (or zero) */
static int64
interval_arg(FunctionCallInfo fcinfo, int n, const char *what, bool zero_ok)
{
	int64		us;

	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	us = durable_interval_us(PG_GETARG_INTERVAL_P(n), what);
	if (us < 0 || (us == 0 && !zero_ok))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be %s", what, zero_ok ? "zero or positive" : "positive")));
	if (us > (int64) durable_max_wait * USECS_PER_SEC)
		ereport(ERROR,
				(errcode(ERRCODE_DURABLE_LIMIT_EXCEEDED),
				 errmsg("%s is longer than durable.max_wait", what),
				 errdetail("durable.max_wait is %d seconds.", durable_max_wait)));
	return us;
}

/* tells the execution of a task to read it again */
static void
notify_execution(const pg_uuid_t *execution, int32 run_no, int32 op_id, Oid owner,
				 TimestampTz now)
{
	const char *keys[1] = {"task"};
	Jsonb	   *values[1];

	values[0] = durable_jsonb_string(psprintf("%d:%d", run_no, op_id));
	durable_storage_inbox_add(execution, "task", durable_jsonb_build(1, keys, values), owner,
							  now);
	durable_wake_at_commit();
}

PG_FUNCTION_INFO_V1(durable_task_claim);

/*
 * durable_task_claim(task_queue text, worker text, lease interval,
 *					  max_tasks int, wait interval)
 *		RETURNS TABLE (task_id text, name text, payload jsonb, attempt int,
 *					   execution_id uuid, lease_until timestamptz)
 */
Datum
durable_task_claim(PG_FUNCTION_ARGS)
{
	char	   *task_queue = durable_text_arg(fcinfo, 0, "task queue");
	char	   *worker = durable_text_arg(fcinfo, 1, "worker");
	int64		lease = interval_arg(fcinfo, 2, "lease", false);
	int64		wait = interval_arg(fcinfo, 4, "wait", true);
	int			max_tasks;
	bool		admin = durable_caller_controls_all();
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ConditionVariable *cv = NULL;
	MemoryContext callercxt = CurrentMemoryContext;
	MemoryContext loopcxt;
	TimestampTz deadline;
	List	   *claimed = NIL;
	ListCell   *lc;

	durable_not_inside_workflow("durable_task_claim");
	durable_check_name("task queue", task_queue);
	durable_check_name("worker", worker);
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("max_tasks must not be null")));
	max_tasks = PG_GETARG_INT32(3);
	if (max_tasks < 1 || max_tasks > TASK_MAX_CLAIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_tasks must be from 1 to %d", TASK_MAX_CLAIM)));
	if (wait > 0 && IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("durable_task_claim cannot wait in a %s transaction",
						IsolationIsSerializable() ? "serializable" : "repeatable read"),
				 errdetail("Its snapshot would never show a task coming."),
				 errhint("Call it in a read committed transaction, or with no wait.")));

	InitMaterializedSRF(fcinfo, 0);
	deadline = GetCurrentTimestamp() + wait;
	SPI_connect();
	loopcxt = AllocSetContextCreate(CurrentMemoryContext, "durable_task_claim",
									ALLOCSET_SMALL_SIZES);
	if (wait > 0)
		cv = durable_task_cv(task_queue);
	if (cv != NULL)
		ConditionVariablePrepareToSleep(cv);
	for (;;)
	{
		TimestampTz now;
		TimestampTz next;
		TimestampTz real_now;
		int64		sleep_us;
		long		ms;

		CHECK_FOR_INTERRUPTS();
		MemoryContextReset(loopcxt);
		MemoryContextSwitchTo(loopcxt);
		now = durable_clock_now();
		claimed = durable_storage_task_claim(task_queue, worker, GetUserId(), admin, lease,
											 max_tasks, now);
		if (claimed != NIL)
			break;
		real_now = GetCurrentTimestamp();
		if (wait == 0 || real_now >= deadline)
			break;
		sleep_us = deadline - real_now;
		next = durable_storage_task_next(task_queue, now);
		if (next != DT_NOBEGIN)
			sleep_us = Min(sleep_us, next - now);
		ms = (long) Min((sleep_us + 999) / 1000, (int64) TASK_RECHECK_MS);
		if (cv != NULL)
			(void) ConditionVariableTimedSleep(cv, Max(ms, 1), PG_WAIT_EXTENSION);
		else
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 Max(Min(ms, 10), 1), PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}
	if (cv != NULL)
		ConditionVariableCancelSleep();

	foreach(lc, claimed)
	{
		DurableClaimed *c = lfirst(lc);
		Datum		values[6];
		bool		nulls[6] = {false, false, false, false, false, false};

		notify_execution(&c->execution, c->run_no, c->op_id, c->owner, durable_clock_now());
		values[0] = CStringGetTextDatum(c->task_id);
		values[1] = CStringGetTextDatum(c->name);
		values[2] = c->payload ? JsonbPGetDatum(c->payload) : (Datum) 0;
		nulls[2] = c->payload == NULL;
		values[3] = Int32GetDatum(c->attempt);
		values[4] = UUIDPGetDatum(&c->execution);
		values[5] = TimestampTzGetDatum(c->lease_until);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	MemoryContextSwitchTo(callercxt);
	SPI_finish();
	return (Datum) 0;
}

/*
 * refuse
 *		Why a task id cannot complete, fail or keep its task: the error.
 *		t is the task it was handed out for, or NULL when there is none.
 */
static void
refuse(DurableTask *t, TimestampTz now)
{
	if (t == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("task does not exist"),
				 errhint("A task id comes from durable_task_claim; its execution may have been purged.")));
	if (t->attempt != t->lease_attempt || strcmp(t->status, "QUEUED") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the lease of this task has moved on"),
				 errdetail("This task id was handed out for attempt %d; the task is %s at attempt %d.",
						   t->lease_attempt, t->status, t->attempt),
				 errhint("Nothing was changed; another attempt owns the task.")));
	if (strcmp(t->status, "SUCCEEDED") == 0 || strcmp(t->status, "FAILED") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("task has already been completed"),
				 errdetail("It was completed with status %s.", t->status)));
	if (strcmp(t->status, "TIMED_OUT") == 0 ||
		(t->timeout_at != DT_NOBEGIN && t->timeout_at <= now))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("task has timed out"),
				 errdetail("It was not completed within its timeout.")));
	if (!t->live)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("task has been cancelled"),
				 errdetail("Its execution has finished or was stopped.")));
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("the lease of this task has expired"),
			 errdetail("It ended at %s; the task will be claimed again while attempts remain.",
					   timestamptz_to_str(t->lease_until))));
}

/*
 * held_task
 *		The task a task id holds the lease of, its row locked; an error when
 *		the id holds nothing now.
 */
static void
held_task(FunctionCallInfo fcinfo, DurableTask *t, TimestampTz now)
{
	char	   *token = durable_text_arg(fcinfo, 0, "task id");
	uint8		hash[DURABLE_TOKEN_HASH_LEN];

	durable_task_token_hash(token, hash);
	if (!durable_storage_task_by_lease(hash, t))
		refuse(NULL, now);
	if (t->attempt != t->lease_attempt || strcmp(t->status, "CLAIMED") != 0 || !t->live ||
		t->lease_until <= now || (t->timeout_at != DT_NOBEGIN && t->timeout_at <= now))
		refuse(t, now);
}

PG_FUNCTION_INFO_V1(durable_task_heartbeat);

/*
 * durable_task_heartbeat(task_id text, lease interval) RETURNS timestamptz
 *		Renews the lease: from now, for the lease given or that of the
 *		claim, no longer than the task's heartbeat_timeout.  Nothing is
 *		woken: the execution wakes at the old end, sees the new one, and
 *		sleeps until then.
 */
Datum
durable_task_heartbeat(PG_FUNCTION_ARGS)
{
	ErrorContextCallback hide;
	TimestampTz now = durable_clock_now();
	DurableTask t;
	int64		lease = 0;
	TimestampTz until;

	durable_hide_statement(&hide);
	if (!PG_ARGISNULL(1))
		lease = interval_arg(fcinfo, 1, "lease", false);
	SPI_connect();
	held_task(fcinfo, &t, now);
	if (lease == 0)
		lease = t.lease;
	if (t.heartbeat_timeout > 0)
		lease = Min(lease, t.heartbeat_timeout);
	until = now + lease;
	durable_storage_task_lease(&t, lease, until);
	SPI_finish();
	error_context_stack = hide.previous;
	PG_RETURN_TIMESTAMPTZ(until);
}

PG_FUNCTION_INFO_V1(durable_task_complete);

/*
 * durable_task_complete(task_id text, result jsonb) RETURNS void
 */
Datum
durable_task_complete(PG_FUNCTION_ARGS)
{
	ErrorContextCallback hide;
	TimestampTz now = durable_clock_now();
	Jsonb	   *result = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	DurableTask t;

	durable_hide_statement(&hide);
	durable_check_payload("task result", result);
	SPI_connect();
	held_task(fcinfo, &t, now);
	durable_storage_task_finish(&t, "SUCCEEDED", result, NULL, now);
	notify_execution(&t.execution, t.run_no, t.op_id, t.owner, now);
	SPI_finish();
	error_context_stack = hide.previous;
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(durable_task_fail);

/*
 * durable_task_fail(task_id text, error jsonb, retryable boolean) RETURNS void
 *		Ends the attempt with an error: the task is claimable again after
 *		the backoff of its options while attempts remain and the error is
 *		retryable; else its operation fails with WF020.
 */
Datum
durable_task_fail(PG_FUNCTION_ARGS)
{
	ErrorContextCallback hide;
	TimestampTz now = durable_clock_now();
	Jsonb	   *error = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	bool		retryable;
	DurableTask t;

	durable_hide_statement(&hide);
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("retryable must not be null")));
	retryable = PG_GETARG_BOOL(2);
	durable_check_payload("task error", error);
	SPI_connect();
	held_task(fcinfo, &t, now);
	if (retryable && t.attempt < t.max_attempts)
	{
		DurableTaskOptions opts;

		durable_parse_task_options(t.options, &opts);
		durable_storage_task_requeue(&t, error, now + durable_retry_delay(&opts.retry, t.attempt));
		durable_task_wake_at_commit(t.task_queue);
	}
	else
	{
		durable_storage_task_finish(&t, "FAILED", NULL, error, now);
		notify_execution(&t.execution, t.run_no, t.op_id, t.owner, now);
	}
	SPI_finish();
	error_context_stack = hide.previous;
	PG_RETURN_VOID();
}

/*
 * grant_args
 *		The task queue, the grantee and the owner of a grant or revoke; the
 *		caller must control the owner (be a member of it, or durable_admin).
 */
static void
grant_args(FunctionCallInfo fcinfo, const char *fname, char **task_queue, Oid *grantee,
		   Oid *owner)
{
	char	   *owner_name;

	*task_queue = durable_text_arg(fcinfo, 0, "task queue");
	durable_check_name("task queue", *task_queue);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("role must not be null")));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("owner must not be null")));
	*grantee = get_role_oid(NameStr(*PG_GETARG_NAME(1)), false);
	owner_name = NameStr(*PG_GETARG_NAME(2));
	*owner = get_role_oid(owner_name, false);
	if (!durable_caller_controls(*owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s task queue \"%s\" of role \"%s\"", fname,
						*task_queue, owner_name),
				 errdetail("Only members of the role whose tasks they are, and of durable_admin, may.")));
}

PG_FUNCTION_INFO_V1(durable_task_queue_grant);

/*
 * durable_task_queue_grant(task_queue text, role name, owner name) RETURNS void
 *		Lets the role (and its members) claim the owner's tasks of the task
 *		queue.  Granting again changes nothing.
 */
Datum
durable_task_queue_grant(PG_FUNCTION_ARGS)
{
	char	   *task_queue;
	Oid			grantee;
	Oid			owner;

	grant_args(fcinfo, "grant", &task_queue, &grantee, &owner);
	SPI_connect();
	(void) durable_storage_task_grant(task_queue, owner, grantee, durable_clock_now());
	SPI_finish();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(durable_task_queue_revoke);

/*
 * durable_task_queue_revoke(task_queue text, role name, owner name) RETURNS void
 *		Takes a grant back.  Leases the role holds run to their end.
 */
Datum
durable_task_queue_revoke(PG_FUNCTION_ARGS)
{
	char	   *task_queue;
	Oid			grantee;
	Oid			owner;
	bool		found;

	grant_args(fcinfo, "revoke", &task_queue, &grantee, &owner);
	SPI_connect();
	found = durable_storage_task_revoke(task_queue, owner, grantee);
	SPI_finish();
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role \"%s\" has no grant on task queue \"%s\" of role \"%s\"",
						NameStr(*PG_GETARG_NAME(1)), task_queue, NameStr(*PG_GETARG_NAME(2)))));
	PG_RETURN_VOID();
}
