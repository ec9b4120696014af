/*-------------------------------------------------------------------------
 *
 * replay.c
 *	  The replay loop.  durable_drive_advance() replays the workflow once,
 *	  in a subtransaction that is rolled back unless the workflow finished,
 *	  then performs the operation the replay yielded and writes its
 *	  checkpoint.  What performing means is the business of the
 *	  operation's kind: the replay left a function of its ops/ file in the
 *	  drive's pending operation, and this file never names a kind.
 *	  Callers decide where transactions end: durable_drive keeps one, CALL
 *	  durable_run and the workers commit after every advance.
 *
 * IDENTIFICATION
 *	  src/core/replay.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "core/core.h"
#include "util/durable_errcodes.h"

typedef enum ReplayResult
{
	RR_DONE,
	RR_YIELD,
	RR_ERROR
} ReplayResult;

/*
 * replay_timed_out
 *		Makes edata the error of a replay that outlived
 *		durable.replay_timeout.
 */
static void
replay_timed_out(ErrorData *edata)
{
	edata->sqlerrcode = ERRCODE_DURABLE_LIMIT_EXCEEDED;
	edata->message = psprintf("replay of the workflow ran longer than durable.replay_timeout (%d ms)",
							  durable_replay_timeout);
	edata->detail = pstrdup("A replay is the workflow body between two durable operations; it ran too long without reaching one.");
	edata->hint = pstrdup("Move long computations into steps; check the workflow for endless loops.");
}

/* the call of the workflow function in a replay */
typedef struct ReplayCall
{
	DurableDrive *d;
	Datum		result;
	bool		isnull;
	bool		timed_out;		/* durable.replay_timeout fired */
} ReplayCall;

static bool
replay_fn(void *arg)
{
	ReplayCall *c = arg;
	DurableDrive *d = c->d;
	DurableOwnerState st;
	LOCAL_FCINFO(fcinfo, 1);
	FmgrInfo	flinfo;

	durable_owner_enter(&st, d->ex.owner, d->ex.search_path, true);
	d->in_replay = true;
	durable_current = d;
	if (durable_replay_timeout > 0)
		durable_timeout_arm((int64) durable_replay_timeout * 1000);

	fmgr_info(d->fn_oid, &flinfo);
	InitFunctionCallInfoData(*fcinfo, &flinfo, 1, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = JsonbPGetDatum(d->ex.input);
	fcinfo->args[0].isnull = false;
	c->result = FunctionCallInvoke(fcinfo);
	c->isnull = fcinfo->isnull;

	if (durable_replay_timeout > 0)
		durable_timeout_finish();
	d->in_replay = false;
	durable_owner_exit(&st);
	/* a yield or fatal error the workflow swallowed: discard what followed */
	return !d->yielded && d->fatal == NULL;
}

static void
replay_error(void *arg)
{
	ReplayCall *c = arg;

	c->d->in_replay = false;
	if (durable_replay_timeout > 0)
		c->timed_out = durable_timeout_disarm();
}

/*
 * replay
 *		Calls the workflow function once, as its owner, read-only, inside a
 *		subtransaction that is rolled back unless the function returned
 *		without yielding.
 */
static ReplayResult
replay(DurableDrive *d, Datum *result, bool *isnull, ErrorData **error)
{
	ReplayCall	c;
	ErrorData  *edata;

	d->yielded = false;
	d->pending.kind = DPK_NONE;
	d->ctx.parent_op_id = 0;
	d->ctx.next_position = 0;
	d->ctx_depth = 0;
	d->raised_op = NULL;

	/*
	 * The same replay ran in the last drive, caught the cancel of its
	 * timeout and ran on until its worker exited: it timed out.
	 */
	if (durable_replay_timeout > 0 &&
		durable_verdict_take(&d->ex.id, DV_REPLAY_TIMEOUT, NULL))
	{
		edata = palloc0(sizeof(ErrorData));
		edata->elevel = ERROR;
		replay_timed_out(edata);
		edata->detail = psprintf("%s It caught the cancel and ran on; the worker driving it exited to end it.",
								 edata->detail);
		*error = edata;
		return RR_ERROR;
	}

	c.d = d;
	c.result = (Datum) 0;
	c.isnull = true;
	c.timed_out = false;
	edata = durable_subxact(replay_fn, replay_error, &c);
	*result = c.result;
	*isnull = c.isnull;

	if (d->fatal != NULL)
	{
		*error = NULL;
		return RR_ERROR;
	}
	if (d->yielded)
		return RR_YIELD;
	if (edata == NULL)
		return RR_DONE;
	if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED && !c.timed_out)
		ReThrowError(edata);	/* a real cancel ends the drive */
	if (c.timed_out)
		replay_timed_out(edata);
	else if (edata->sqlerrcode == ERRCODE_READ_ONLY_SQL_TRANSACTION)
	{
		edata->detail = psprintf("The body raised: %s", edata->message);
		edata->message = pstrdup("a workflow body cannot change the database");
		edata->sqlerrcode = ERRCODE_DURABLE_WRITE_IN_WORKFLOW;
		edata->hint = pstrdup("Replays of the workflow body are rolled back; put writes, nextval() and row locks in a durable_step.");
	}
	*error = edata;
	return RR_ERROR;
}

/*
 * durable_drive_performed
 *		After an operation that may wait: replay at once (wake_at is
 *		DT_NOBEGIN, or already past), or suspend until wake_at (DT_NOEND:
 *		until a message) unless a message that came meanwhile ends the wait.
 */
DurableAdvance
durable_drive_performed(DurableDrive *d, TimestampTz wake_at, const char *opname)
{
	if (wake_at == DT_NOBEGIN || wake_at <= durable_clock_now())
	{
		durable_checkpoint_flush(d);
		return DA_CONTINUE;
	}
	if (durable_inbox_drain(d))
		return DA_CONTINUE;
	return durable_lifecycle_suspend(d, wake_at, opname);
}

/*
 * durable_drive_settled
 *		After an attempt (or a timer) whose checkpoint says what follows:
 *		suspend until a retry or timer that is not due yet, else replay.
 */
DurableAdvance
durable_drive_settled(DurableDrive *d, DurableOp *op)
{
	if (op->status == DOS_PENDING && op->wake_at > durable_clock_now())
		return durable_lifecycle_suspend(d, op->wake_at, op->name);
	durable_checkpoint_flush(d);
	return DA_CONTINUE;
}

/*
 * activity_op_begin
 *		Shows in durable.activity (workers only) the operation about to be
 *		performed: kind, name, op_id when it has a checkpoint, and the
 *		attempt when its kind has attempts.
 */
static void
activity_op_begin(DurableDrive *d)
{
	DurablePending *p = &d->pending;
	DurableOp  *op = p->op;
	DurableOpKind kind = op != NULL ? op->kind : p->op_kind;
	int32		attempt = 0;

	if (p->kind == DPK_NONE)
		return;
	if (p->kind == DPK_CONTINUE_AS_NEW)
	{
		durable_activity_op("continue_as_new", p->name, 0, 0);
		return;
	}
	if (p->kind == DPK_PERFORM && kind->activity_attempt)
		attempt = op != NULL ? op->attempt + 1 : 1;
	durable_activity_op(kind->name, p->name, op != NULL ? op->op_id : 0, attempt);
}

/*
 * perform
 *		Performs what the replay yielded.
 */
static DurableAdvance
perform(DurableDrive *d)
{
	DurablePending *p = &d->pending;

	switch (p->kind)
	{
		case DPK_PERFORM:
			return p->perform(d);

		case DPK_SLEEP:
			/* a message that came meanwhile may end the wait */
			if (durable_inbox_drain(d))
				return DA_CONTINUE;
			return durable_lifecycle_suspend(d, p->wake_at, p->name);

		case DPK_CONTINUE_AS_NEW:
			durable_lifecycle_new_run(d, p->input);
			return DA_CONTINUE;

		case DPK_NONE:
			break;
	}
	elog(ERROR, "durable replay yielded without a pending operation");
	return DA_FINISHED;			/* keep compiler quiet */
}

/*
 * conclude
 *		What a replay leads to: a terminal status (true, *res set), or an
 *		operation to perform (false; the checkpoints the replay made are
 *		written).
 */
static bool
conclude(DurableDrive *d, ReplayResult rr, Datum result, bool isnull,
		 ErrorData *error, DurableAdvance *res)
{
	if (d->fatal != NULL)
		*res = durable_lifecycle_finish(d, DES_FAILED, NULL, d->fatal);
	else if (rr == RR_ERROR)
	{
		durable_checkpoint_flush(d);
		*res = durable_lifecycle_fail(d, error);
	}
	else if (rr == RR_DONE)
	{
		Jsonb	   *jb = isnull ? NULL : DatumGetJsonbP(result);

		if (jb != NULL && VARSIZE(jb) > (Size) durable_max_payload_size)
		{
			ErrorData  *big;

			big = durable_error_new(ERRCODE_DURABLE_LIMIT_EXCEEDED,
									psprintf("workflow result is too large (%zu bytes; durable.max_payload_size is %d)",
											 (Size) VARSIZE(jb), durable_max_payload_size),
									NULL, NULL);
			*res = durable_lifecycle_fail(d, big);
		}
		else
			*res = durable_lifecycle_finish(d, DES_SUCCEEDED, jb, NULL);
	}
	else
	{
		durable_checkpoint_flush(d);
		return false;
	}
	return true;
}

/*
 * durable_drive_advance
 *		Performs the next operation of the execution, and replays it once
 *		more to learn what follows: a terminal status is written in the same
 *		transaction, an operation is kept for the next call.  Runs in the
 *		caller's transaction; SPI must be connected.
 *
 *		Each transaction thus holds one operation and the replay after it
 *		(plus, in the first, the replay that found it): an execution of n
 *		operations takes n transactions and n + 1 replays.  The replay kept
 *		across a commit is read-only and its own checkpoints (durable_now
 *		and the like) were written before that commit, so a drive that
 *		stops between two calls loses nothing: the next drive replays again.
 */
DurableAdvance
durable_drive_advance(DurableDrive *d)
{
	MemoryContext oldcxt;
	DurableAdvance res;
	Datum		result;
	bool		isnull = true;
	ErrorData  *error = NULL;
	ReplayResult rr;
	TimestampTz now = durable_clock_now();
	bool		carried = d->carried;

	d->carried = false;
	if (durable_exec_status_finished(d->ex.status))
	{
		/* messages that came too late: nothing will read them */
		if (d->fresh)
			durable_storage_inbox_delete(&d->ex.id);
		d->fresh = false;
		return DA_FINISHED;
	}

	/* the operation found by the last call lives in replay_cxt */
	if (!carried)
		MemoryContextReset(d->replay_cxt);
	oldcxt = MemoryContextSwitchTo(d->replay_cxt);

	if (d->ex.status != DES_RUNNING)
		durable_lifecycle_resume(d, now);

	if (d->ex.deadline != DT_NOBEGIN && now >= d->ex.deadline)
	{
		res = durable_lifecycle_timed_out(d, NULL);
		MemoryContextSwitchTo(oldcxt);
		return res;
	}

	if (!OidIsValid(d->fn_oid))
	{
		ErrorData  *edata = NULL;

		PG_TRY();
		{
			d->fn_oid = durable_resolve_workflow_as(d->ex.workflow, d->ex.owner, NULL, NULL);
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(d->replay_cxt);
			edata = CopyErrorData();
			FlushErrorState();
			d->fn_oid = InvalidOid;
		}
		PG_END_TRY();
		if (edata != NULL)
		{
			res = durable_lifecycle_fail(d, edata);
			MemoryContextSwitchTo(oldcxt);
			return res;
		}
	}

	/*
	 * The messages that came while it slept (or before its first drive),
	 * before the replay decides whether its waits timed out.
	 */
	if (d->fresh)
		(void) durable_inbox_drain(d);
	d->fresh = false;

	if (!carried)
	{
		rr = replay(d, &result, &isnull, &error);
		if (conclude(d, rr, result, isnull, error, &res))
		{
			MemoryContextSwitchTo(oldcxt);
			return res;
		}
	}

	activity_op_begin(d);
	res = perform(d);
	durable_activity_op_end();
	if (res == DA_CONTINUE)
	{
		MemoryContext spare = d->spare_cxt;

		/* replay what follows into the other context, keeping what it yields */
		d->spare_cxt = d->replay_cxt;
		d->replay_cxt = spare;
		MemoryContextReset(d->replay_cxt);
		MemoryContextSwitchTo(d->replay_cxt);
		isnull = true;
		error = NULL;
		rr = replay(d, &result, &isnull, &error);
		if (!conclude(d, rr, result, isnull, error, &res))
		{
			d->carried = true;
			res = DA_CONTINUE;
		}
	}

	MemoryContextSwitchTo(oldcxt);
	return res;
}

/*
 * durable_drive_settle
 *		What follows an advance, before its commit: an intermediate commit
 *		(an operation was performed and the drive goes on) need not wait for
 *		the WAL flush unless durable.synchronous_commit is on; suspensions
 *		and terminal states always do.  A drive that continued as new or
 *		passed its deadline yields: its execution is still ready, and its
 *		queue row is made due now, so that the work ready before comes
 *		first.  Returns whether the drive yields.
 */
bool
durable_drive_settle(DurableDrive *d, DurableAdvance r, TimestampTz deadline)
{
	bool		yield = false;

	if (r == DA_CONTINUE)
	{
		if (!durable_synchronous_commit)
			(void) set_config_option("synchronous_commit", "off",
									 PGC_USERSET, PGC_S_SESSION,
									 GUC_ACTION_LOCAL, true, 0, false);
		if (d->yield || durable_clock_now() >= deadline)
		{
			yield = true;
			durable_storage_queue_set(&d->ex.id, d->ex.owner, durable_clock_now());
		}
	}
	d->yield = false;
	return yield;
}

/*
 * durable_drive_committing
 *		Advances an execution with a commit after every operation, until it
 *		suspends, finishes, continues as new or the deadline passes (see
 *		durable_drive_settle).  commit() ends the current transaction and
 *		starts the next.
 */
DurableAdvance
durable_drive_committing(DurableDrive *d, TimestampTz deadline, void (*commit) (void))
{
	for (;;)
	{
		DurableAdvance r = durable_drive_advance(d);
		bool		yield = durable_drive_settle(d, r, deadline);

		commit();
		if (r != DA_CONTINUE || yield)
			return r;
		/* lock the queue row again; stop if durable_stop finished it */
		if (!durable_drive_relock(d))
			return DA_FINISHED;
	}
}
