/*-------------------------------------------------------------------------
 *
 * task.c
 *	  durable_task: work handed to workers outside the database through a
 *	  task queue.  The operation creates the task's row (store/tasks.c)
 *	  and waits; workers claim it with plain SQL and complete it
 *	  (api/tasks.c), which puts a message in the execution's inbox.
 *
 * The row is the truth: the operation, woken by a message (a claim, a
 * completion, a failure) or by its deadline, reads the row and applies it.
 * Its deadline is the earliest of the task's timeout and the end of the
 * current lease; at the end of a lease that no completion or heartbeat
 * moved, the attempt has failed: the task waits for its next attempt
 * after the backoff of its options, or, at max_attempts, the operation
 * fails with WF020.  A timeout passed fails it with WF021.
 *
 * IDENTIFICATION
 *	  src/ops/task.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "ops/ops.h"
#include "util/durable_errcodes.h"

/* what the performer needs, in the replay's context */
typedef struct TaskArgs
{
	char	   *task_queue;
	Jsonb	   *payload;
	Jsonb	   *options;		/* as given, kept in the task's row */
	DurableTaskOptions opts;	/* opts.limiter: kept for the limiter */
} TaskArgs;

static DurableAdvance perform_task(DurableDrive *d);
static DurableAdvance perform_check_task(DurableDrive *d);
static bool waits_for_task(const DurableOp *op, const DurableSignal *s);
static void deliver_task(DurableDrive *d, DurableOp *op, const DurableSignal *s);
static bool apply_message(DurableDrive *d, DurableMessage *m);

const DurableOpKindInfo durable_kind_task = {
	.name = "task",
	.counts_bytes = true,
	.waits_for = waits_for_task,
	.deliver = deliver_task,
};
const DurableMessageKind durable_message_task = {
	.name = "task",
	.apply = apply_message,
};

PG_FUNCTION_INFO_V1(durable_task);

/*
 * durable_task(name text, task_queue text, payload jsonb, options jsonb)
 *		RETURNS jsonb
 *		The result a worker completed the task with.
 */
Datum
durable_task(PG_FUNCTION_ARGS)
{
	DurableDrive *d = durable_op_enter("durable_task");
	char	   *name = durable_text_arg(fcinfo, 0, "task name");
	char	   *task_queue = durable_text_arg(fcinfo, 1, "task queue");
	Jsonb	   *payload = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	Jsonb	   *options = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	DurableOpKey key;
	DurableOp  *op;
	TaskArgs   *a;
	MemoryContext old;

	durable_check_name("task name", name);
	durable_check_name("task queue", task_queue);
	op = durable_op_lookup(d, &durable_kind_task, name, &key);
	if (op != NULL && op->result != NULL)
	{
		DURABLE_RETURN_OUTCOME(d, op);
		durable_op_await(d, op, &key, perform_check_task);
	}
	if (op != NULL)
	{
		/* in the line of its limiter, no task yet: asks again when due */
		DURABLE_RETURN_OUTCOME(d, op);
		durable_op_sleep(d, op, &key);
	}
	else
		durable_op_check_limit(d);
	durable_check_payload("task payload", payload);
	old = durable_pending_begin(d, DPK_PERFORM, perform_task, &durable_kind_task, &key, op,
								name);
	a = palloc0(sizeof(TaskArgs));
	durable_parse_task_options(options, &a->opts);	/* bad options: an error here */
	a->task_queue = pstrdup(task_queue);
	if (payload != NULL)
		a->payload = (Jsonb *) datumCopy(PointerGetDatum(payload), false, -1);
	if (options != NULL)
		a->options = (Jsonb *) datumCopy(PointerGetDatum(options), false, -1);
	d->pending.args = a;
	MemoryContextSwitchTo(old);
	durable_yield(d);
	PG_RETURN_NULL();			/* not reached */
}

/* "<run_no>:<op_id>": what the inbox messages of a task name */
static char *
task_ref(int32 run_no, int32 op_id)
{
	return psprintf("%d:%d", run_no, op_id);
}

static char *
error_text(Jsonb *error)
{
	char	   *msg = durable_error_text(error);

	return msg ? msg : "no error was given";
}

/* WF020: the task's last failure, as the workflow sees it */
static ErrorData *
task_failed(const char *name, DurableTask *t)
{
	return durable_error_new(ERRCODE_DURABLE_TASK_FAILED,
					  psprintf("task \"%s\" failed: %s", name, error_text(t->error)),
					  psprintf("It failed at attempt %d of %d.%s%s", t->attempt, t->max_attempts,
							   t->error ? " The error given: " : "",
							   t->error ? JsonbToCString(NULL, &t->error->root,
														 VARSIZE(t->error)) : ""),
					  NULL);
}

static ErrorData *
task_timed_out(const char *name, DurableTask *t)
{
	return durable_error_new(ERRCODE_DURABLE_TASK_TIMEOUT,
					  psprintf("task \"%s\" timed out", name),
					  psprintf("It was not completed within its timeout, after %d attempts.",
							   t->attempt), NULL);
}

/*
 * lease_expired
 *		The error of an attempt whose lease ended without a completion.
 */
static Jsonb *
lease_expired(DurableTask *t)
{
	const char *keys[2] = {"message", "attempt"};
	Jsonb	   *values[2];

	values[0] = durable_jsonb_string(psprintf("the lease of attempt %d expired", t->attempt));
	values[1] = durable_jsonb_int(t->attempt);
	return durable_jsonb_build(2, keys, values);
}

/*
 * apply_task
 *		Applies what the task's row (locked) says to the operation waiting
 *		on it; returns when to wake if it still waits (DT_NOBEGIN: it does
 *		not).
 */
static TimestampTz
apply_task(DurableDrive *d, DurableOp *op, DurableTask *t, TimestampTz now)
{
	TimestampTz deadline;

	if (strcmp(t->status, "SUCCEEDED") == 0)
		durable_op_done(d, op, DOS_SUCCEEDED, t->result, NULL);
	else if (strcmp(t->status, "FAILED") == 0)
		durable_op_done(d, op, DOS_FAILED, NULL, task_failed(op->name, t));
	else if (strcmp(t->status, "TIMED_OUT") == 0)
		durable_op_done(d, op, DOS_TIMED_OUT, NULL, task_timed_out(op->name, t));
	else if (t->timeout_at != DT_NOBEGIN && t->timeout_at <= now)
	{
		durable_storage_task_finish(t, "TIMED_OUT", NULL, NULL, now);
		durable_op_done(d, op, DOS_TIMED_OUT, NULL, task_timed_out(op->name, t));
	}
	else if (strcmp(t->status, "CLAIMED") == 0 && t->lease_until <= now)
	{
		Jsonb	   *error = lease_expired(t);

		if (t->attempt >= t->max_attempts)
		{
			durable_storage_task_finish(t, "FAILED", NULL, error, now);
			t->error = error;
			durable_op_done(d, op, DOS_FAILED, NULL, task_failed(op->name, t));
		}
		else
		{
			DurableTaskOptions opts;

			durable_parse_task_options(t->options, &opts);
			durable_storage_task_requeue(t, error,
										 now + durable_retry_delay(&opts.retry, t->attempt));
			durable_task_wake_at_commit(t->task_queue);
			/* the history shows the attempt that was lost */
			durable_op_retry(d, op, t->timeout_at,
							 durable_error_new(ERRCODE_DURABLE_TASK_FAILED,
											   psprintf("task \"%s\": the lease of attempt %d expired",
														op->name, t->attempt),
											   NULL, NULL));
			return t->timeout_at == DT_NOBEGIN ? DT_NOEND : t->timeout_at;
		}
	}
	else
	{
		deadline = durable_earliest(t->timeout_at,
							strcmp(t->status, "CLAIMED") == 0 ? t->lease_until : DT_NOBEGIN);
		op->wake_at = deadline;
		if (op->stored)
			op->quiet = true;	/* a claim or a heartbeat moved the deadline */
		durable_op_mark_dirty(d, op);
		return deadline == DT_NOBEGIN ? DT_NOEND : deadline;
	}

	/* the task has finished: it gives back the limiter it held (perform_task) */
	if (t->options != NULL)
	{
		DurableTaskOptions opts;

		durable_parse_task_options(t->options, &opts);
		if (opts.limiter != NULL)
			durable_limiter_release(d, op);
	}
	return DT_NOBEGIN;
}

static Jsonb *
task_ref_jsonb(int32 run_no, int32 op_id, const char *task_queue)
{
	const char *keys[2] = {"task", "task_queue"};
	Jsonb	   *values[2];

	values[0] = durable_jsonb_string(task_ref(run_no, op_id));
	values[1] = durable_jsonb_string(task_queue);
	return durable_jsonb_build(2, keys, values);
}

/*
 * create_task
 *		Records the waiting operation and its task, claimable when this
 *		transaction commits.  op: the operation when it waited for its
 *		limiter, else NULL.
 */
static TimestampTz
create_task(DurableDrive *d, DurableOp *op)
{
	DurablePending *p = &d->pending;
	TaskArgs   *a = p->args;
	TimestampTz now = durable_clock_now();
	TimestampTz timeout_at = a->opts.timeout > 0 ? now + a->opts.timeout : DT_NOBEGIN;

	if (op == NULL)
		op = durable_op_create(d, &p->key, &durable_kind_task, p->name, DOS_PENDING);
	else
	{
		/* it waited for its limiter (attempt 0): the task begins now */
		op->started_at = now;
		op->quiet = false;
		durable_op_mark_dirty(d, op);
	}
	durable_storage_task_insert(&d->ex.id, d->ex.run_no, op->op_id, p->name, a->task_queue,
								a->payload, a->options, a->opts.retry.max_attempts,
								timeout_at, a->opts.heartbeat_timeout, d->ex.owner, now);
	durable_op_set_result(d, op, task_ref_jsonb(d->ex.run_no, op->op_id, a->task_queue));
	durable_task_wake_at_commit(a->task_queue);
	op->wake_at = timeout_at;
	return timeout_at == DT_NOBEGIN ? DT_NOEND : timeout_at;
}

/* the operation's task, its row locked */
static void
get_task(DurableDrive *d, DurableOp *op, DurableTask *t)
{
	if (!durable_storage_task_get(&d->ex.id, d->ex.run_no, op->op_id, t))
		elog(ERROR, "task of operation \"%s\" is missing", op->name);
}

/*
 * check_task
 *		The operation reached its deadline: its lease or its timeout may
 *		have passed, unless a heartbeat or a completion came.
 */
static TimestampTz
check_task(DurableDrive *d)
{
	DurableOp  *op = d->pending.op;
	DurableTask t;

	get_task(d, op, &t);
	return apply_task(d, op, &t, durable_clock_now());
}

/*
 * perform_task
 *		A new task.  A task whose options name a limiter holds it from when
 *		it is offered to the workers until it has finished (all its
 *		attempts): it is offered only once it holds it, and waits in the
 *		limiter's line meanwhile, with no task row.
 */
static DurableAdvance
perform_task(DurableDrive *d)
{
	TaskArgs   *a = d->pending.args;
	DurableOp  *op = d->pending.op;

	if (a->opts.limiter != NULL)
	{
		DurableAdvance next;

		if (!durable_limiter_acquire(d, &op, a->opts.limiter, false, &next))
			return next;
	}
	return durable_drive_performed(d, create_task(d, op), d->pending.name);
}

static DurableAdvance
perform_check_task(DurableDrive *d)
{
	return durable_drive_performed(d, check_task(d), d->pending.name);
}

/* a waiting task operation takes the messages of its task */
static bool
waits_for_task(const DurableOp *op, const DurableSignal *s)
{
	char	   *ref;

	if (strcmp(s->what, "task") != 0)
		return false;
	ref = durable_jsonb_get_text(op->result, "task");
	return ref != NULL && strcmp(ref, s->ref) == 0;
}

static void
deliver_task(DurableDrive *d, DurableOp *op, const DurableSignal *s)
{
	DurableTask t;

	get_task(d, op, &t);
	(void) apply_task(d, op, &t, durable_clock_now());
}

/*
 * apply_message
 *		A task was claimed, completed or failed (api/tasks.c): the
 *		operation waiting on it reads its row.
 */
static bool
apply_message(DurableDrive *d, DurableMessage *m)
{
	DurableSignal s;

	memset(&s, 0, sizeof(s));
	s.what = "task";
	s.ref = durable_jsonb_get_text(m->payload, "task");
	if (s.ref == NULL)
		return false;
	s.sent_at = DT_NOBEGIN;
	return durable_inbox_deliver(d, &s);
}
