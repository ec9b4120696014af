/*-------------------------------------------------------------------------
 *
 * step.c
 *	  durable_step: SQL run as the workflow's owner in a subtransaction,
 *	  exactly once when it succeeds, retried after durable delays when it
 *	  fails, its outcome checkpointed with the step's own transaction.
 *	  A step whose options name a limiter runs each attempt holding it
 *	  (ops/limiter.c).
 *
 * IDENTIFICATION
 *	  src/ops/step.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/datum.h"

#include "ops/ops.h"
#include "util/durable_errcodes.h"

/* what perform_step needs, in the replay's context */
typedef struct StepArgs
{
	char	   *sql;
	Jsonb	   *args;			/* $1, or NULL */
	DurableRetryOptions retry;
} StepArgs;

static DurableAdvance perform_step(DurableDrive *d);

const DurableOpKindInfo durable_kind_step = {
	.name = "step",
	.counts_bytes = true,
	.history_attempt = true,
	.activity_attempt = true,
};

PG_FUNCTION_INFO_V1(durable_step);

/*
 * durable_step(name text, sql text, args jsonb, options jsonb) RETURNS jsonb
 */
Datum
durable_step(PG_FUNCTION_ARGS)
{
	DurableDrive *d = durable_op_enter("durable_step");
	char	   *name = durable_text_arg(fcinfo, 0, "step name");
	char	   *sql = durable_text_arg(fcinfo, 1, "step SQL");
	Jsonb	   *options = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	DurableOpKey key;
	DurableOp  *op;
	StepArgs   *a;
	MemoryContext old;

	durable_check_name("step name", name);
	op = durable_op_lookup(d, &durable_kind_step, name, &key);
	if (op != NULL)
	{
		if (!durable_attempt_due(d, op, &key))
		{
			if (op->result == NULL)
				PG_RETURN_NULL();
			PG_RETURN_JSONB_P(durable_op_result_copy(op));
		}
	}
	else
		durable_op_check_limit(d);	/* before the step runs, not after */

	/* the next attempt is due: the driver runs it */
	old = durable_pending_begin(d, DPK_PERFORM, perform_step, &durable_kind_step,
								&key, op, name);
	a = palloc0(sizeof(StepArgs));
	durable_parse_retry_options(options, &a->retry);
	a->sql = pstrdup(sql);
	if (!PG_ARGISNULL(2))
		a->args = (Jsonb *) datumCopy(PG_GETARG_DATUM(2), false, -1);
	d->pending.args = a;
	d->pending.attempt_timeout = a->retry.timeout;
	MemoryContextSwitchTo(old);
	durable_yield(d);
	PG_RETURN_NULL();			/* not reached */
}

/*
 * step_verdict
 *		Whether this attempt of the pending step has run before and ended
 *		only when its worker exited, because it ignored the cancel of its
 *		own timeout (its outcome, rolled back with the worker's transaction,
 *		was left in shared memory).  A verdict on another operation or
 *		attempt is stale and dropped.
 */
static bool
step_verdict(DurableDrive *d, int attempt, int64 timeout)
{
	DurableVerdict v;

	if (!durable_verdict_take(&d->ex.id, DV_STEP_TIMEOUT, &v))
		return false;
	return v.key.parent_op_id == d->pending.key.parent_op_id &&
		v.key.position == d->pending.key.position &&
		v.attempt == attempt && v.timeout == timeout && v.timeout > 0;
}

/*
 * failure
 *		The error the workflow sees for a step whose last attempt raised err.
 */
static ErrorData *
failure(const char *name, ErrorData *err, int attempt, int max_attempts)
{
	return durable_error_new(ERRCODE_DURABLE_STEP_FAILED,
							 psprintf("step \"%s\" failed: %s", name, err->message),
							 psprintf("Attempt %d of %d raised SQLSTATE %s%s%s%s",
									  attempt, max_attempts,
									  unpack_sql_state(err->sqlerrcode),
									  attempt < max_attempts &&
									  ERRCODE_TO_CATEGORY(err->sqlerrcode) == ERRCODE_SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION ?
									  ", a programming error, retried only when retry_on names it" : "",
									  err->detail ? ": " : ".",
									  err->detail ? err->detail : ""),
							 err->hint);
}

/*
 * perform_step
 *		Runs one attempt of the pending step and checkpoints its outcome: a
 *		result, a retry (a durable timer), or the failure the workflow sees.
 *		An attempt still running at the execution's deadline is cancelled
 *		and the execution is TIMED_OUT.
 */
static DurableAdvance
perform_step(DurableDrive *d)
{
	DurablePending *p = &d->pending;
	StepArgs   *a = p->args;
	DurableOp  *op = p->op;
	int			attempt;
	ErrorData  *err = NULL;
	Jsonb	   *result;
	TimestampTz started;
	int64		timeout = a->retry.timeout;
	bool		until_deadline = false;

	/* a limiter: the attempt begins once the step holds it */
	if (a->retry.limiter != NULL)
	{
		DurableAdvance next;

		if (!durable_limiter_acquire(d, &op, a->retry.limiter, true, &next))
			return next;
	}
	attempt = op != NULL ? op->attempt + 1 : 1;
	started = durable_clock_now();
	durable_count(DC_STEPS, 1);
	durable_wfstats_count(d->ex.workflow, DC_STEPS, 1);
	/* durable_drive_advance saw the deadline ahead: stop the attempt there */
	if (d->ex.deadline != DT_NOBEGIN &&
		(timeout == 0 || d->ex.deadline - started < timeout))
	{
		timeout = Max(d->ex.deadline - started, 1);
		until_deadline = true;
	}

	if (step_verdict(d, attempt, a->retry.timeout))
	{
		/* this attempt ran and outlived its timeout: its worker ended it */
		result = NULL;
		err = durable_step_timeout_error(a->retry.timeout);
		err->detail = pstrdup("The attempt caught the cancel of its timeout and ran on; the worker driving it exited to end it.");
	}
	else
	{
		d->in_step = true;
		PG_TRY();
		{
			result = durable_step_run(a->sql, a->args, d->ex.owner, d->ex.search_path,
									  timeout, &err);
		}
		PG_FINALLY();
		{
			d->in_step = false;
		}
		PG_END_TRY();
	}

	if (op == NULL)
	{
		op = durable_op_create(d, &p->key, &durable_kind_step, p->name, DOS_STARTED);
		op->started_at = started;
	}
	else if (op->attempt == 0)
		op->started_at = started;	/* it waited for its limiter until now */
	op->attempt = attempt;

	if (until_deadline && err != NULL && err->sqlerrcode == ERRCODE_DURABLE_STEP_TIMEOUT)
	{
		/* the execution's deadline cancelled the attempt, not its own timeout */
		durable_op_done(d, op, DOS_TIMED_OUT, NULL, NULL);
		return durable_lifecycle_timed_out(d, op->name);
	}

	/* a result over the limits is a failure that no retry can mend */
	if (err == NULL && result != NULL)
	{
		Size		size = VARSIZE(result);

		if (size > (Size) durable_max_payload_size ||
			d->ckpt_bytes + size > (int64) durable_max_execution_bytes * 1024)
			err = durable_error_new(ERRCODE_DURABLE_LIMIT_EXCEEDED,
									size > (Size) durable_max_payload_size ?
									psprintf("step result is too large (%zu bytes; durable.max_payload_size is %d)",
											 size, durable_max_payload_size) :
									psprintf("checkpoints of this run would exceed durable.max_execution_bytes (%d kB)",
											 durable_max_execution_bytes),
									NULL,
									pstrdup("Keep large data in tables and return keys from steps."));
	}

	if (err == NULL)
		durable_op_done(d, op, DOS_SUCCEEDED, result, NULL);
	else if (attempt < a->retry.max_attempts &&
			 err->sqlerrcode != ERRCODE_DURABLE_LIMIT_EXCEEDED &&
			 durable_retry_allows(&a->retry, err->sqlerrcode))
	{
		durable_op_retry(d, op, durable_clock_now() + durable_retry_delay(&a->retry, attempt),
						 err);
		durable_count(DC_RETRIES, 1);
		durable_wfstats_count(d->ex.workflow, DC_RETRIES, 1);
	}
	else
	{
		durable_op_done(d, op, DOS_FAILED, NULL,
						failure(p->name, err, attempt, a->retry.max_attempts));
		if (attempt >= a->retry.max_attempts && a->retry.max_attempts > 1)
			durable_log_exhausted(&d->ex, p->name, attempt,
								  durable_error_to_jsonb(err, NULL));
	}
	/* the attempt ended: its limiter is free for the next one in line */
	if (a->retry.limiter != NULL)
		durable_limiter_release(d, op);
	return durable_drive_settled(d, op);
}
