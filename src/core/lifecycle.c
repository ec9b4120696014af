/*-------------------------------------------------------------------------
 *
 * lifecycle.c
 *	  Every change of an execution's status, in one place:
 *
 *		start		(none) -> PENDING			durable_lifecycle_start
 *					(in a queue of executions: durable_lifecycle_start_queued)
 *		resume		PENDING, SUSPENDED -> RUNNING	durable_lifecycle_resume
 *		suspend		RUNNING -> SUSPENDED		durable_lifecycle_suspend
 *		new run		RUNNING -> RUNNING (run + 1)	durable_lifecycle_new_run
 *		finish		RUNNING -> SUCCEEDED, FAILED, TIMED_OUT
 *												durable_lifecycle_finish
 *		stop		unfinished -> STOPPED		durable_stop_execution
 *		redrive		FAILED, TIMED_OUT -> PENDING	durable_lifecycle_redrive
 *
 *	  An execution that ends (finish or stop) goes through end_execution,
 *	  one fixed order: what it waits on is cancelled (operations,
 *	  callbacks, HTTP requests, limiters held or waited for, and then its
 *	  messages), its kept events dropped, the status written and the queue row
 *	  removed (a queue of executions that had admitted it admits the
 *	  next), the history event written, the change announced (counters,
 *	  NOTIFY, durable_await, the failure log), its running children
 *	  stopped, and a child reports to its parent.  A drive error charged
 *	  to an execution (durable_drive_charge_error) ends it the same way
 *	  once there were too many in a row.
 *
 * IDENTIFICATION
 *	  src/core/lifecycle.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "core/core.h"
#include "util/durable_errcodes.h"


/*
 * has_open_ops
 *		Whether an operation of the run is still STARTED or PENDING, or
 *		made something that may outlive its success (a callback made by
 *		durable_create_callback and not awaited).
 */
static bool
has_open_ops(DurableDrive *d)
{
	HASH_SEQ_STATUS status;
	DurableOp  *op;

	hash_seq_init(&status, d->ops);
	while ((op = hash_seq_search(&status)) != NULL)
	{
		if (op->status == DOS_STARTED || op->status == DOS_PENDING ||
			op->kind->open_at_finish)
		{
			hash_seq_term(&status);
			return true;
		}
	}
	return false;
}

/*
 * report_to_parent
 *		A child execution ended: its report goes to the parent's inbox.
 */
static void
report_to_parent(const DurableExecution *ex, const char *status, Jsonb *result,
				 Jsonb *error)
{
	const char *keys[6] = {"run_no", "op_id", "idx", "status", "result", "error"};
	Jsonb	   *values[6];

	values[0] = durable_jsonb_int(ex->parent_run_no);
	values[1] = durable_jsonb_int(ex->parent_op_id);
	values[2] = durable_jsonb_int(ex->parent_index);
	values[3] = durable_jsonb_string(status);
	values[4] = result;
	values[5] = error;
	durable_storage_inbox_add(&ex->parent_id, "child", durable_jsonb_build(6, keys, values),
							  ex->owner, durable_clock_now());
	durable_wake_at_commit();
}

/*
 * end_execution
 *		Ends an unfinished execution with a terminal status, in the one
 *		order every end follows (see the file header).  cancel: what it
 *		waits on may still be open.  report: a child reports to its parent
 *		(not when its parent is stopping it).
 */
static void
end_execution(DurableExecution *ex, DurableExecStatus status, Jsonb *result,
			  Jsonb *error, const char *event, Jsonb *details, bool cancel,
			  bool report)
{
	const pg_uuid_t *id = &ex->id;
	const char *name = durable_exec_status_name(status);
	TimestampTz now = durable_clock_now();
	char	   *xq;

	if (cancel)
	{
		durable_storage_cancel_ops(id, ex->run_no, now);
		durable_storage_callbacks_cancel(id, now);
		durable_storage_http_cancel(id);
		/* limiters it holds or waits for go to the next in line */
		durable_storage_limiters_release_execution(id, now);
	}
	/*
	 * Messages and events nothing will read.  A run that ends with nothing
	 * open has no messages that matter: a message that comes later is
	 * dropped by the next drive, or by the purge, not at every end.
	 */
	if (cancel)
		durable_storage_inbox_delete(id);
	durable_storage_events_delete(id);
	durable_storage_set_status(id, name, result, error, DT_NOBEGIN, now);
	/* a queue of executions that had admitted it has a slot free */
	xq = durable_storage_queue_delete(id);
	if (xq != NULL)
		durable_xq_nudge(ex->owner, xq, now, true);
	durable_storage_history(id, ex->run_no, ex->owner, event, NULL, details);
	durable_status_changed(ex, status);
	durable_log_failure(ex, status, error);
	if (cancel)
		durable_lifecycle_stop_children(id, 0, 0, "stopped: its parent execution ended",
										NULL, NULL);
	if (ex->has_parent && report)
		report_to_parent(ex, name, result, error);
}

/*
 * durable_lifecycle_finish
 *		The run ended: SUCCEEDED with result, or FAILED or TIMED_OUT with
 *		error.  The checkpoints of the drive are written first.
 */
DurableAdvance
durable_lifecycle_finish(DurableDrive *d, DurableExecStatus status, Jsonb *result,
						 Jsonb *error)
{
	const char *keys[2] = {"status", "error"};
	Jsonb	   *values[2];

	Assert(status == DES_SUCCEEDED || status == DES_FAILED || status == DES_TIMED_OUT);
	durable_checkpoint_flush(d);
	values[0] = durable_jsonb_string(durable_exec_status_name(status));
	values[1] = error;
	end_execution(&d->ex, status, result, error,
				  status == DES_SUCCEEDED ? "succeeded" :
				  status == DES_FAILED ? "failed" : "timed_out",
				  durable_jsonb_build(2, keys, values),
				  d->ops_unknown || has_open_ops(d), true);
	durable_history_bound(d, 1, true);
	d->ex.status = status;
	return DA_FINISHED;
}

/*
 * durable_lifecycle_timed_out
 *		The execution ran past its execution_timeout (while the operation
 *		opname ran, if not NULL).
 */
DurableAdvance
durable_lifecycle_timed_out(DurableDrive *d, const char *opname)
{
	ErrorData  *e = durable_error_new(ERRCODE_DURABLE_LIMIT_EXCEEDED,
									  pstrdup("execution timed out"),
									  pstrdup("It ran past the execution_timeout given to durable_start."),
									  NULL);

	return durable_lifecycle_finish(d, DES_TIMED_OUT, NULL, durable_error_to_jsonb(e, opname));
}

/*
 * durable_lifecycle_fail
 *		The workflow raised edata: the run FAILED.  The error names the
 *		operation whose checkpointed failure the workflow raised again.
 */
DurableAdvance
durable_lifecycle_fail(DurableDrive *d, ErrorData *edata)
{
	const char *opname = NULL;

	if (d->raised_op != NULL && d->raised_op->error != NULL)
	{
		char	   *msg = durable_jsonb_get_text(d->raised_op->error, "message");

		if (msg != NULL && edata->message != NULL && strcmp(msg, edata->message) == 0)
			opname = d->raised_op->name;
	}
	return durable_lifecycle_finish(d, DES_FAILED, NULL, durable_error_to_jsonb(edata, opname));
}

/*
 * durable_drive_fail
 *		Ends the execution FAILED with an error of the engine's own (not
 *		the workflow's), such as a crash loop.
 */
void
durable_drive_fail(DurableDrive *d, int sqlerrcode, const char *message,
				   const char *detail, const char *hint)
{
	ErrorData  *e = durable_error_new(sqlerrcode, pstrdup(message),
									  detail ? pstrdup(detail) : NULL,
									  hint ? pstrdup(hint) : NULL);

	(void) durable_lifecycle_finish(d, DES_FAILED, NULL, durable_error_to_jsonb(e, NULL));
}

/*
 * durable_lifecycle_suspend
 *		The execution sleeps until wake_at (or its deadline, if earlier);
 *		DT_NOEND: until a message comes (the queue row stays, due never).
 */
DurableAdvance
durable_lifecycle_suspend(DurableDrive *d, TimestampTz wake_at, const char *opname)
{
	const char *keys[2] = {"wake_at", "operation"};
	Jsonb	   *values[2];

	durable_checkpoint_flush(d);
	if (d->ex.deadline != DT_NOBEGIN && d->ex.deadline < wake_at)
		wake_at = d->ex.deadline;
	durable_storage_set_status(&d->ex.id, durable_exec_status_name(DES_SUSPENDED), NULL, NULL,
							   wake_at == DT_NOEND ? DT_NOBEGIN : wake_at,
							   durable_clock_now());
	durable_storage_queue_set(&d->ex.id, d->ex.owner, wake_at);
	durable_status_changed(&d->ex, DES_SUSPENDED);
	values[0] = wake_at == DT_NOEND ? NULL :
		durable_jsonb_string(DatumGetCString(DirectFunctionCall1(timestamptz_out,
																 TimestampTzGetDatum(wake_at))));
	values[1] = durable_jsonb_string(opname);
	durable_storage_history(&d->ex.id, d->ex.run_no, d->ex.owner, "suspended",
							NULL, durable_jsonb_build(2, keys, values));
	durable_history_bound(d, 1, true);
	d->ex.status = DES_SUSPENDED;
	return DA_SUSPENDED;
}

/*
 * durable_lifecycle_resume
 *		A drive takes up a PENDING or SUSPENDED execution: RUNNING.
 */
void
durable_lifecycle_resume(DurableDrive *d, TimestampTz now)
{
	Assert(d->ex.status == DES_PENDING || d->ex.status == DES_SUSPENDED);
	durable_storage_history(&d->ex.id, d->ex.run_no, d->ex.owner,
							d->ex.status == DES_PENDING ? "started" : "resumed",
							NULL, NULL);
	durable_storage_set_status(&d->ex.id, durable_exec_status_name(DES_RUNNING), NULL, NULL,
							   DT_NOBEGIN, now);
	if (d->ex.status == DES_SUSPENDED)
		durable_count(DC_TIMERS_FIRED, 1);
	durable_status_changed(&d->ex, DES_RUNNING);
	d->ex.status = DES_RUNNING;
}

/*
 * durable_lifecycle_new_run
 *		durable_continue_as_new: the run ends and the next one begins with
 *		input, from no checkpoints, in the same drive.
 */
void
durable_lifecycle_new_run(DurableDrive *d, Jsonb *input)
{
	const char *keys[1] = {"next_run_no"};
	Jsonb	   *values[1];
	MemoryContext old;

	durable_checkpoint_flush(d);
	values[0] = durable_jsonb_int(d->ex.run_no + 1);
	durable_storage_history(&d->ex.id, d->ex.run_no, d->ex.owner,
							"continued_as_new", NULL,
							durable_jsonb_build(1, keys, values));
	durable_history_bound(d, 1, true);
	durable_storage_new_run(&d->ex.id, d->ex.run_no + 1, input, durable_clock_now());
	durable_count(DC_CONTINUED, 1);
	old = MemoryContextSwitchTo(d->cxt);
	d->ex.run_no++;
	d->ex.input = (Jsonb *) datumCopy(JsonbPGetDatum(input), false, -1);
	hash_destroy(d->ops);
	d->ops = durable_ops_hash_new(d->cxt);
	d->max_op_id = 0;
	d->ckpt_bytes = 0;
	MemoryContextSwitchTo(old);
	/* a new run: a committing drive lets the others have a turn */
	d->yield = true;
}

/*
 * durable_stop_execution
 *		Stops an unfinished execution: STOPPED with error, its waiting
 *		operations, callbacks and messages cancelled, its running children
 *		stopped too.  A worker driving it abandons the drive, rolling back
 *		what it was doing, and no driver starts another before this
 *		transaction ends; a drive in another session (CALL durable_run) is
 *		waited for.  A child stopped by itself reports to its parent; one
 *		stopped with its parent (cascade) does not, and lets go of its drive
 *		lock at once (its rows stay locked until commit), so that stopping
 *		thousands of children does not take thousands of locks.  False when
 *		the execution does not exist or has finished.
 */
bool
durable_stop_execution(const pg_uuid_t *id, Jsonb *error, bool cascade)
{
	DurableExecution ex;
	bool		stopped = false;

	durable_stopping_add(id);
	durable_drive_stop_wait(id);
	if (durable_storage_lock_execution(id, &ex, CurrentMemoryContext, false) &&
		!durable_exec_status_finished(ex.status))
	{
		end_execution(&ex, DES_STOPPED, NULL, error, "stopped", error, true, !cascade);
		stopped = true;
	}
	if (cascade)
		durable_drive_stop_release(id);
	return stopped;
}

/*
 * durable_lifecycle_stop_children
 *		Stops the running children of an operation of a parent (run_no and
 *		op_id 0: of all its operations) and cancels those not started yet.
 *		A child that had finished, its report not read yet, is recorded as
 *		it finished; late_succeeded and late_failed (when not NULL) count
 *		their items.
 */
void
durable_lifecycle_stop_children(const pg_uuid_t *parent, int32 run_no, int32 op_id,
								const char *why, int *late_succeeded, int *late_failed)
{
	List	   *rows = durable_storage_children_running(parent, run_no, op_id);
	ListCell   *lc;
	TimestampTz now = durable_clock_now();
	const char *keys[2] = {"message", "sqlstate"};
	Jsonb	   *values[2];
	Jsonb	   *error;

	values[0] = durable_jsonb_string(why);
	values[1] = durable_jsonb_string("57014");
	error = durable_jsonb_build(2, keys, values);
	foreach(lc, rows)
	{
		DurableChildRow *r = lfirst(lc);

		char	   *status;
		Jsonb	   *result;
		Jsonb	   *child_error;

		if (durable_stop_execution(&r->child_id, error, true) ||
			!durable_storage_outcome(&r->child_id, &status, &result, &child_error))
			(void) durable_storage_child_done(parent, r->run_no, r->op_id, r->idx,
											  durable_exec_status_name(DES_STOPPED), NULL,
											  error, now);
		else
		{
			/* it had finished, its report not read yet: record how */
			int			items = durable_storage_child_done(parent, r->run_no, r->op_id,
														   r->idx, status, result,
														   child_error, now);

			if (late_succeeded == NULL)
				continue;
			if (durable_exec_status_from_name(status) == DES_SUCCEEDED)
				*late_succeeded += items;
			else
				*late_failed += items;
		}
	}
	durable_storage_children_cancel(parent, run_no, op_id, now);
}

/*
 * durable_drive_charge_error
 *		An error escaped a drive of the execution (the drive's transaction,
 *		or subtransaction, is rolled back and the drive ended): counts it
 *		against the execution, which then waits 1 s, 2 s, 4 s ... (at most
 *		a minute) before any driver takes it again, so that others are
 *		driven meanwhile, and fails with WF018 once it has raised
 *		durable.max_drive_errors errors in a row without progress.  Runs in
 *		the caller's transaction; nothing when the execution has finished
 *		or another session drives it.
 */
void
durable_drive_charge_error(const pg_uuid_t *id, ErrorData *edata)
{
	DurableDrive *d = NULL;
	const char *sqlstate;
	int			errors;
	int			tries;

	/*
	 * A driver that claimed the execution between the abort and now lets
	 * go of it as soon as it sees that the error is being charged
	 * (durable_is_charging): wait a little for that, not for a whole
	 * drive of a session that holds it.
	 */
	for (tries = 0; tries < 100 && d == NULL; tries++)
	{
		if (tries > 0)
		{
			pg_usleep(10000L);
			CHECK_FOR_INTERRUPTS();
		}
		d = durable_drive_take(id, false, false, false);
	}
	if (d == NULL)
		return;
	sqlstate = unpack_sql_state(edata->sqlerrcode);
	PG_TRY();
	{
		if (durable_exec_status_finished(d->ex.status))
			errors = 0;
		else
			errors = durable_storage_note_drive_error(id);
		if (errors >= durable_max_drive_errors)
		{
			ereport(LOG,
					(errmsg("durable: execution %s failed: its drives raised %d errors in a row",
							durable_uuid_out(id), errors)));
			durable_drive_fail(d, ERRCODE_DURABLE_DRIVE_ERRORS,
							   psprintf("driving the execution failed %d time%s in a row",
										errors, errors == 1 ? "" : "s"),
							   psprintf("The last error was SQLSTATE %s: %s. The errors escaped the driver "
										"(they are not failures of the workflow), with no progress in between; "
										"durable.max_drive_errors is %d.",
										sqlstate, edata->message ? edata->message : "?",
										durable_max_drive_errors),
							   "Fix the cause (the server log has each error), then call durable_redrive.");
		}
		else if (errors > 0)
		{
			int64		delay = INT64CONST(1000000) << Min(errors - 1, 6);
			TimestampTz retry_at;
			const char *keys[4] = {"errors", "message", "retry_at", "sqlstate"};
			Jsonb	   *values[4];

			delay = Min(delay, INT64CONST(60000000));
			retry_at = durable_clock_now() + delay;
			durable_storage_queue_backoff(id, retry_at);
			values[0] = durable_jsonb_int(errors);
			values[1] = durable_jsonb_string(edata->message ? edata->message : "?");
			values[2] = durable_jsonb_string(DatumGetCString(DirectFunctionCall1(timestamptz_out,
																				 TimestampTzGetDatum(retry_at))));
			values[3] = durable_jsonb_string(sqlstate);
			durable_storage_history(id, d->ex.run_no, d->ex.owner, "drive_error", NULL,
									durable_jsonb_build(4, keys, values));
			ereport(LOG,
					(errmsg("durable: a drive of execution %s raised an error (%d time%s in a row); it waits until %s",
							durable_uuid_out(id), errors, errors == 1 ? "" : "s",
							DatumGetCString(DirectFunctionCall1(timestamptz_out,
																TimestampTzGetDatum(retry_at))))));
		}
	}
	PG_FINALLY();
	{
		durable_drive_end(d);
	}
	PG_END_TRY();
}

/*
 * last_in_context
 *		The operation at the highest position of a context, or NULL.
 */
static DurableRedriveOp *
last_in_context(List *ops, int32 parent_op_id)
{
	ListCell   *lc;
	DurableRedriveOp *last = NULL;

	foreach(lc, ops)
	{
		DurableRedriveOp *op = lfirst(lc);

		if (op->parent_op_id == parent_op_id &&
			(last == NULL || op->position > last->position))
			last = op;
	}
	return last;
}

/*
 * redrive_ops
 *		Makes the operations that ended the run run again (see the head of
 *		the file); returns their names as a jsonb array, or NULL.
 */
static Jsonb *
redrive_ops(const pg_uuid_t *id, int32 run_no)
{
	List	   *ops = durable_storage_redrive_ops(id, run_no);
	int32		context = 0;
	StringInfoData buf;
	bool		any = false;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (;;)
	{
		DurableRedriveOp *op = last_in_context(ops, context);

		if (op == NULL || op->status == DOS_SUCCEEDED)
			break;
		durable_storage_redrive_op(id, run_no, op->op_id, op->kind->reopen_on_redrive);
		if (any)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, op->name);
		any = true;
		if (!op->kind->reopen_on_redrive)
			break;
		context = op->op_id;
	}
	appendStringInfoChar(&buf, ']');
	return any ? durable_cstring_to_jsonb(buf.data) : NULL;
}

/*
 * durable_lifecycle_start
 *		A new execution: PENDING, queued now.  One started by a session or
 *		a step is announced (counted, NOTIFY) and a worker woken at commit;
 *		the branches of an operation (parent given) are the parent's work:
 *		its driver wakes a worker once for all it starts.
 */
void
durable_lifecycle_start(const DurableStart *s, TimestampTz now)
{
	if (s->parent != NULL)
		durable_storage_insert_execution(&s->id, s->name, s->workflow, s->hash, s->input,
										 s->owner, s->search_path, s->tags, s->timeout,
										 s->retention, now, s->parent);
	else
	{
		durable_storage_insert_execution_depth(&s->id, s->name, s->workflow, s->hash,
											   s->input, s->owner, s->search_path,
											   s->tags, s->timeout, s->retention, now,
											   s->depth);
		durable_wake_at_commit();
	}
	durable_count(DC_STARTED, 1);
	durable_wfstats_count(s->workflow, DC_STARTED, 1);
	if (s->parent == NULL)
	{
		DurableExecution ex;

		memset(&ex, 0, sizeof(ex));
		ex.id = s->id;
		ex.owner = s->owner;
		ex.name = (char *) s->name;
		ex.workflow = (char *) s->workflow;
		durable_status_changed(&ex, DES_PENDING);
	}
}

/*
 * durable_lifecycle_redrive
 *		A FAILED or TIMED_OUT execution (its row locked, not a child) runs
 *		again from where it failed, with the code as it is now (hash): the
 *		failed operation, and the durable_child contexts it sits in, are
 *		reopened, the run goes back to PENDING and is queued now.
 */
void
durable_lifecycle_redrive(DurableExecution *ex, const char *hash, TimestampTz now)
{
	const char *keys[4] = {"redrive_count", "from_status", "operations", "workflow_hash"};
	Jsonb	   *values[4];
	Jsonb	   *reset;
	int32		count;

	reset = redrive_ops(&ex->id, ex->run_no);
	durable_storage_inbox_delete(&ex->id);
	count = durable_storage_redrive_execution(&ex->id, ex->run_no, hash, now);
	durable_storage_queue_set(&ex->id, ex->owner, now);

	values[0] = durable_jsonb_int(count);
	values[1] = durable_jsonb_string(durable_exec_status_name(ex->status));
	values[2] = reset;
	values[3] = durable_jsonb_string(hash);
	durable_storage_history(&ex->id, ex->run_no, ex->owner, "redriven", NULL,
							durable_jsonb_build(4, keys, values));
	durable_status_changed(ex, DES_PENDING);
	durable_quota_add(ex->owner, 1);	/* unfinished again */
	durable_wake_at_commit();
}

/*
 * durable_lifecycle_start_queued
 *		A start by durable_start in a queue of executions of its owner: a
 *		new execution (true, as durable_lifecycle_start) that waits in the
 *		queue until a driver admits it; or, debounced, the execution of the
 *		workflow already waiting in the queue under the key takes the input
 *		and waits longer (false, *id is it).  The queue must exist.
 */
bool
durable_lifecycle_start_queued(const DurableStart *s, const DurableXqStart *q,
							   TimestampTz now, pg_uuid_t *id)
{
	bool		fairness;
	int64		vclock;
	TimestampTz not_before = now + q->debounce_us;

	Assert(s->parent == NULL);
	if (!durable_xq_available() || !durable_xq_lookup(s->owner, q->queue, &fairness, &vclock))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("queue \"%s\" does not exist", q->queue),
				 errhint("Make it with durable_queue_set; queues are per role, and durable_start looks among the caller's.")));
	if (q->debounce_us > 0 &&
		durable_xq_debounce(s->owner, q, s->workflow, s->input, not_before, id))
	{
		durable_storage_history(id, 1, s->owner, "debounced", NULL, NULL);
		return false;
	}
	durable_lifecycle_start(s, now);
	durable_xq_enqueue(&s->id, q, fairness, vclock, not_before);
	*id = s->id;
	return true;
}
