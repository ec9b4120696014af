/*-------------------------------------------------------------------------
 *
 * checkpoint.c
 *	  Checkpoints: what an operation did, kept in the drive's memory and
 *	  written after each replay.
 *
 * The replay side: an operation takes the next position in its context
 * and looks up its checkpoint (durable_op_lookup).  A checkpoint that
 * matches in kind and name gives its stored result or raises its stored
 * error; one that does not is a non-determinism error, kept as the run's
 * fatal error.  The first operation without a checkpoint is recorded as
 * the drive's pending operation (durable_pending_begin) and the replay
 * ends with the yield signal (SQLSTATE WF000), which the driver catches.
 *
 * The performer side: an operation is created (durable_op_create) and
 * finished (durable_op_done) through these functions only, which own the
 * switches to the drive's memory context: a checkpoint lives as long as
 * the drive, whatever context its caller runs in.  durable_checkpoint_flush
 * writes what changed, each change with its history event.
 *
 * IDENTIFICATION
 *	  src/core/checkpoint.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/timestamp.h"

#include "core/core.h"
#include "util/durable_errcodes.h"

/*
 * durable_raise_op_error
 *		Raises an error stored as {message, sqlstate, detail, hint}.
 */
void
durable_raise_op_error(Jsonb *error)
{
	char	   *message = durable_jsonb_get_text(error, "message");
	char	   *sqlstate = durable_jsonb_get_text(error, "sqlstate");
	char	   *detail = durable_jsonb_get_text(error, "detail");
	char	   *hint = durable_jsonb_get_text(error, "hint");
	int			code = ERRCODE_DURABLE_STEP_FAILED;

	if (sqlstate != NULL && strlen(sqlstate) == 5)
		code = MAKE_SQLSTATE(sqlstate[0], sqlstate[1], sqlstate[2],
							 sqlstate[3], sqlstate[4]);
	ereport(ERROR,
			(errcode(code),
			 errmsg_internal("%s", message ? message : "operation failed"),
			 detail ? errdetail_internal("%s", detail) : 0,
			 hint ? errhint("%s", hint) : 0));
}

/*
 * durable_yield
 *		Ends the replay.  The flag, not the error, is what the driver trusts:
 *		a workflow that catches the error still cannot go on.
 */
void
durable_yield(DurableDrive *d)
{
	d->yielded = true;
	ereport(ERROR,
			(errcode(ERRCODE_DURABLE_YIELD),
			 errmsg("durable workflow yield"),
			 errdetail("This signal ends a replay of a durable workflow; workflows must not catch it."),
			 errhidestmt(true),
			 errhidecontext(true)));
}

/*
 * durable_op_enter
 *		The drive of the current replay; an error outside workflows, inside
 *		a step, and after a yield or a fatal error of this replay.
 */
DurableDrive *
durable_op_enter(const char *fname)
{
	DurableDrive *d = durable_current;

	if (d != NULL && d->in_step)
		ereport(ERROR,
				(errcode(ERRCODE_DURABLE_NOT_IN_WORKFLOW),
				 errmsg("%s cannot be called inside a step", fname),
				 errhint("Durable operations belong in the workflow body, not in the SQL a step runs.")));
	if (d == NULL || !d->in_replay)
		ereport(ERROR,
				(errcode(ERRCODE_DURABLE_NOT_IN_WORKFLOW),
				 errmsg("%s can only be called inside a durable workflow", fname),
				 errhint("Start the workflow with durable_start(); a driver calls it.")));
	if (d->fatal != NULL)
		durable_raise_op_error(d->fatal);
	if (d->yielded)
		durable_yield(d);
	return d;
}

/*
 * durable_op_fatal
 *		An error that ends the run whatever the workflow does with it
 *		(non-determinism, limits): kept in the drive, raised again by every
 *		later primitive, and taken by the driver as the run's failure.
 */
void
durable_op_fatal(DurableDrive *d, int sqlerrcode, const char *message, const char *detail,
	  const char *hint)
{
	ErrorData	edata;
	MemoryContext old = MemoryContextSwitchTo(d->cxt);

	memset(&edata, 0, sizeof(edata));
	edata.sqlerrcode = sqlerrcode;
	edata.message = (char *) message;
	edata.detail = (char *) detail;
	edata.hint = (char *) hint;
	d->fatal = durable_error_to_jsonb(&edata, NULL);
	MemoryContextSwitchTo(old);
	durable_raise_op_error(d->fatal);
}

/*
 * durable_op_lookup
 *		Takes the next position of the current context and returns its
 *		checkpoint, checking that it is the same kind and name; NULL when
 *		there is none.
 */
DurableOp *
durable_op_lookup(DurableDrive *d, DurableOpKind kind, const char *name, DurableOpKey *key)
{
	DurableOp  *op;

	key->parent_op_id = d->ctx.parent_op_id;
	key->position = ++d->ctx.next_position;
	op = (DurableOp *) hash_search(d->ops, key, HASH_FIND, NULL);
	/* markers of patches whose durable_patched call is gone are passed over */
	while (op != NULL && op->kind->marker)
	{
		key->position = ++d->ctx.next_position;
		op = (DurableOp *) hash_search(d->ops, key, HASH_FIND, NULL);
	}
	if (op != NULL && (op->kind != kind || strcmp(op->name, name) != 0))
		durable_op_fatal(d, ERRCODE_DURABLE_NONDETERMINISM,
			  psprintf("non-deterministic workflow: operation %d%s was %s \"%s\" in the history, now %s \"%s\"",
					   key->position,
					   key->parent_op_id ? psprintf(" of child context %d", key->parent_op_id) : "",
					   durable_op_kind_name(op->kind), op->name,
					   durable_op_kind_name(kind), name),
			  "A replay must call the same durable operations in the same order as the history.",
			  "Keep the code an execution started with until it finishes; read time, random numbers and data through durable operations.");
	return op;
}

/*
 * durable_op_check_limit
 *		Before a new operation: the run may not pass durable.max_operations.
 */
void
durable_op_check_limit(DurableDrive *d)
{
	if (d->max_op_id >= durable_max_operations)
		durable_op_fatal(d, ERRCODE_DURABLE_LIMIT_EXCEEDED,
			  psprintf("execution has reached %d operations in this run", d->max_op_id),
			  "The limit is set by durable.max_operations.",
			  "Move long loops into durable_child or start the next run with durable_continue_as_new.");
}

/*
 * durable_op_create
 *		A checkpoint created by this drive, in memory; written at the next
 *		flush.
 */
DurableOp *
durable_op_create(DurableDrive *d, const DurableOpKey *key, DurableOpKind kind,
				  const char *name, DurableOpStatus status)
{
	DurableOp  *op;
	bool		found;
	MemoryContext old;

	old = MemoryContextSwitchTo(d->cxt);
	op = (DurableOp *) hash_search(d->ops, key, HASH_ENTER, &found);
	Assert(!found);
	op->op_id = ++d->max_op_id;
	op->kind = kind;
	op->name = pstrdup(name);
	op->status = status;
	op->attempt = 1;
	op->result = NULL;
	op->error = NULL;
	op->wake_at = DT_NOBEGIN;
	op->started_at = durable_clock_now();
	op->finished_at = status == DOS_SUCCEEDED ? op->started_at : DT_NOBEGIN;
	op->stored = false;
	op->quiet = false;
	op->dirty = true;
	d->dirty = lappend(d->dirty, op);
	MemoryContextSwitchTo(old);
	return op;
}

/* a checkpoint changed: written at the next flush */
void
durable_op_mark_dirty(DurableDrive *d, DurableOp *op)
{
	if (!op->dirty)
	{
		MemoryContext old = MemoryContextSwitchTo(d->cxt);

		op->dirty = true;
		d->dirty = lappend(d->dirty, op);
		MemoryContextSwitchTo(old);
	}
}

/* sets a checkpoint's result, copied into the drive's memory */
void
durable_op_set_result(DurableDrive *d, DurableOp *op, Jsonb *result)
{
	MemoryContext old = MemoryContextSwitchTo(d->cxt);

	op->result = result ? (Jsonb *) datumCopy(JsonbPGetDatum(result), false, -1) : NULL;
	MemoryContextSwitchTo(old);
}

/* a copy of a checkpoint's result, in the caller's memory */
Jsonb *
durable_op_result_copy(DurableOp *op)
{
	if (op->result == NULL)
		return NULL;
	return (Jsonb *) datumCopy(JsonbPGetDatum(op->result), false, -1);
}

/*
 * durable_pending_begin
 *		Starts recording the pending operation, in the replay's context.
 */
MemoryContext
durable_pending_begin(DurableDrive *d, DurablePendingKind kind,
					  DurableAdvance (*perform) (DurableDrive *d), DurableOpKind op_kind,
					  const DurableOpKey *key, DurableOp *op, const char *name)
{
	MemoryContext old = MemoryContextSwitchTo(d->replay_cxt);

	memset(&d->pending, 0, sizeof(d->pending));
	d->pending.kind = kind;
	d->pending.perform = perform;
	d->pending.op_kind = op_kind;
	d->pending.key = *key;
	d->pending.op = op;
	d->pending.name = pstrdup(name);
	return old;
}

/*
 * durable_op_sleep
 *		An operation waiting on a timer: done when due, else the execution
 *		sleeps until then.
 */
void
durable_op_sleep(DurableDrive *d, DurableOp *op, const DurableOpKey *key)
{
	if (op->wake_at <= durable_clock_now())
		return;
	(void) durable_pending_begin(d, DPK_SLEEP, NULL, op->kind, key, op, op->name);
	d->pending.wake_at = op->wake_at;
	durable_yield(d);
}

/*
 * durable_attempt_due
 *		A step or HTTP request met again by a replay: false when it has
 *		succeeded (its checkpoint is the result); its failure raised; a
 *		retry delay slept through; true when an attempt is due or under way.
 */
bool
durable_attempt_due(DurableDrive *d, DurableOp *op, const DurableOpKey *key)
{
	switch (op->status)
	{
		case DOS_SUCCEEDED:
			return false;
		case DOS_PENDING:
			durable_op_sleep(d, op, key);
			return true;
		case DOS_STARTED:
			return true;
		default:
			d->raised_op = op;
			durable_raise_op_error(op->error);
	}
	return true;					/* not reached */
}

/*
 * durable_op_done
 *		Ends a waiting operation: SUCCEEDED with a result, or with an error
 *		(status FAILED or TIMED_OUT).
 */
void
durable_op_done(DurableDrive *d, DurableOp *op, DurableOpStatus status, Jsonb *result,
		ErrorData *error)
{
	MemoryContext old = MemoryContextSwitchTo(d->cxt);

	op->status = status;
	op->result = result ? (Jsonb *) datumCopy(JsonbPGetDatum(result), false, -1) : NULL;
	op->error = error ? durable_error_to_jsonb(error, NULL) : NULL;
	op->wake_at = DT_NOBEGIN;
	op->finished_at = durable_clock_now();
	MemoryContextSwitchTo(old);
	if (status == DOS_SUCCEEDED && result != NULL)
		d->ckpt_bytes += VARSIZE(result);
	durable_op_mark_dirty(d, op);
}

/*
 * durable_op_next_attempt
 *		A retry is due and begins: STARTED again, one attempt more.
 */
void
durable_op_next_attempt(DurableDrive *d, DurableOp *op)
{
	durable_op_mark_dirty(d, op);
	op->status = DOS_STARTED;
	op->attempt++;
	op->error = NULL;
	op->wake_at = DT_NOBEGIN;
}

/*
 * durable_op_fired
 *		A timer's deadline passed: SUCCEEDED, the deadline kept.
 */
void
durable_op_fired(DurableDrive *d, DurableOp *op)
{
	op->status = DOS_SUCCEEDED;
	op->finished_at = durable_clock_now();
	durable_op_mark_dirty(d, op);
}

/*
 * durable_op_timed_out
 *		A wait's deadline passed: TIMED_OUT with error; its result (what it
 *		waited for) and deadline stay.
 */
void
durable_op_timed_out(DurableDrive *d, DurableOp *op, ErrorData *error)
{
	MemoryContext old = MemoryContextSwitchTo(d->cxt);

	op->status = DOS_TIMED_OUT;
	op->error = durable_error_to_jsonb(error, NULL);
	op->finished_at = durable_clock_now();
	MemoryContextSwitchTo(old);
	durable_op_mark_dirty(d, op);
}

/*
 * durable_op_retry
 *		An attempt failed and another is due at wake_at: the operation waits
 *		(PENDING) with the error of the attempt.
 */
void
durable_op_retry(DurableDrive *d, DurableOp *op, TimestampTz wake_at, ErrorData *error)
{
	MemoryContext old = MemoryContextSwitchTo(d->cxt);

	op->status = DOS_PENDING;
	op->error = durable_error_to_jsonb(error, NULL);
	op->wake_at = wake_at;
	MemoryContextSwitchTo(old);
	durable_op_mark_dirty(d, op);
}

/*
 * durable_ops_hash_new
 *		An empty table of checkpoints, keyed by context and position.
 */
HTAB *
durable_ops_hash_new(MemoryContext cxt)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(DurableOpKey);
	ctl.entrysize = sizeof(DurableOp);
	ctl.hcxt = cxt;
	return hash_create("durable checkpoints", 64, &ctl,
					   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/*
 * op_event
 *		The history event for a checkpoint as it is now written.
 */
static const char *
op_event(DurableOp *op)
{
	switch (op->status)
	{
		case DOS_SUCCEEDED:
			return op->kind->success_event ? op->kind->success_event : "operation_succeeded";
		case DOS_FAILED:
			return "operation_failed";
		case DOS_PENDING:
			return op->error != NULL ? "operation_retried" : "operation_started";
		case DOS_STARTED:
			return "operation_started";
		case DOS_CANCELLED:
			return "operation_cancelled";
		case DOS_TIMED_OUT:
			return "operation_timed_out";
	}
	return "operation";
}

static Jsonb *
op_event_details(DurableOp *op)
{
	const char *keys[3] = {"attempt", "wake_at", "error"};
	Jsonb	   *values[3] = {NULL, NULL, NULL};

	if (op->kind->result_details)
		return op->result;
	if (op->kind->history_attempt && (op->attempt > 1 || op->status == DOS_PENDING))
		values[0] = durable_jsonb_int(op->attempt);
	if (op->status == DOS_PENDING && op->wake_at != DT_NOBEGIN)
		values[1] = durable_jsonb_string(DatumGetCString(DirectFunctionCall1(timestamptz_out,
																			 TimestampTzGetDatum(op->wake_at))));
	values[2] = op->error;
	if (values[0] == NULL && values[1] == NULL && values[2] == NULL)
		return NULL;
	return durable_jsonb_build(3, keys, values);
}

/*
 * durable_history_bound
 *		Keeps the history of the execution under durable.max_history_events:
 *		past it, the oldest quarter becomes one history_summarized event.
 *		Counting costs an index scan of the execution's history, so it is
 *		done after a quarter of the limit was written in this drive, or, at
 *		the end of a drive (ending), only for executions big enough to be
 *		near the limit: checkpoints and runs are a cheap lower bound.
 */
void
durable_history_bound(DurableDrive *d, int written, bool ending)
{
	int			limit = durable_max_history_events;

	if (limit <= 0)
		return;
	d->history_unchecked += written;
	if (d->history_unchecked < Max(limit / 4, 1) &&
		(!ending || (int64) hash_get_num_entries(d->ops) + d->ex.run_no < limit / 8))
		return;
	d->history_unchecked = 0;
	(void) durable_storage_history_trim(&d->ex.id, d->ex.owner, limit,
										limit - limit / 4);
}

/*
 * durable_checkpoint_flush
 *		Writes the checkpoints created or changed since the last flush, each
 *		with its history event.
 */
void
durable_checkpoint_flush(DurableDrive *d)
{
	ListCell   *lc;
	int			events = 0;

	foreach(lc, d->dirty)
	{
		DurableOp  *op = lfirst(lc);

		durable_storage_write_op(d, op);
		if (!op->quiet)
		{
			durable_storage_history(&d->ex.id, d->ex.run_no, d->ex.owner,
									op_event(op), op, op_event_details(op));
			events++;
		}
		op->quiet = false;
	}
	list_free(d->dirty);
	d->dirty = NIL;
	if (events > 0)
		durable_history_bound(d, events, false);
}

/*
 * outcome
 *		The stored outcome of a finished operation: its result (true), or
 *		its error raised.  False when it is still waiting.
 */
/*
 * durable_op_outcome
 *		A waiting operation met again by a replay: true with its result when
 *		it has succeeded; its failure raised; false while it waits.
 */
bool
durable_op_outcome(DurableDrive *d, DurableOp *op, Jsonb **result)
{
	switch (op->status)
	{
		case DOS_SUCCEEDED:
			*result = durable_op_result_copy(op);
			return true;
		case DOS_PENDING:
		case DOS_STARTED:
			return false;
		default:
			d->raised_op = op;
			durable_raise_op_error(op->error);
	}
	return false;				/* keep compiler quiet */
}

/*
 * await_message
 *		An operation waits for a message: the execution sleeps until one
 *		comes or the operation's deadline.  At the deadline a callback wait
 *		is handed to the driver, which knows of heartbeats; other waits
 *		return to their caller, which times them out.
 */
/*
 * durable_op_await
 *		A waiting operation met again by a replay, not done: the execution
 *		sleeps until its deadline or a message.  At the deadline, the
 *		replay goes on (at_deadline NULL: the caller decides what the
 *		deadline means) or yields to at_deadline, which checks whether it
 *		has really passed.
 */
void
durable_op_await(DurableDrive *d, DurableOp *op, const DurableOpKey *key,
				 DurablePerform at_deadline)
{
	if (op->wake_at != DT_NOBEGIN && op->wake_at <= durable_clock_now())
	{
		if (at_deadline == NULL)
			return;
		(void) durable_pending_begin(d, DPK_PERFORM, at_deadline, op->kind, key, op,
									 op->name);
		durable_yield(d);
	}
	(void) durable_pending_begin(d, DPK_SLEEP, NULL, op->kind, key, op, op->name);
	d->pending.wake_at = op->wake_at == DT_NOBEGIN ? DT_NOEND : op->wake_at;
	durable_yield(d);
}
