/*-------------------------------------------------------------------------
 *
 * limiter.c
 *	  Limiters of operations, as the performers of operation kinds use
 *	  them: an attempt of an operation whose options name a limiter
 *	  begins only once it holds the limiter (a slot of max_concurrency and
 *	  a token of the rate), and gives it back when the attempt ends.  The
 *	  contract, for any performer (it names no kind):
 *
 *	  - durable_limiter_acquire, before an attempt begins: true when the
 *		pending operation holds the limiter and its attempt may begin now
 *		(*op is its checkpoint, created when the pending operation had
 *		none: PENDING, attempt 0).  False when it may not: *next is what
 *		the performer returns.  Either the operation waits in the
 *		limiter's line (its execution suspends and holds no worker; the
 *		wait is a "limiter_waiting" history event), or it has failed with
 *		WF023 (no such limiter, or one its owner may not use), or it has
 *		just taken the limiter and the take must commit before an attempt
 *		that runs in the drive's transaction (in_place) begins, else the
 *		limiter's row would stay locked while it runs: the replay then
 *		meets the operation again, due at once, and the performer is
 *		called again and finds it held.
 *	  - durable_limiter_release, when the attempt ended (its outcome
 *		checkpointed in the same transaction): the slot is given back and
 *		the first in line is woken at commit.
 *	  - durable_limiter_pause: a server answered Retry-After; nobody takes
 *		the limiter until then.
 *
 *	  An operation in line is woken by a "limiter" message in its inbox
 *	  (a release, a take that leaves room, a change of the limiter, its
 *	  drop), or by a timer when it is first in line and waits for a token
 *	  or for the end of a pause.  Lines are first come first served.  An
 *	  execution that ends gives back what it holds and leaves the lines
 *	  (core/lifecycle.c, through the store).
 *
 * IDENTIFICATION
 *	  src/ops/limiter.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "ops/ops.h"
#include "util/durable_errcodes.h"

/*
 * How long an operation in line sleeps at most before it looks again
 * without being woken: a safety net only, wake-ups come by message.
 */
#define LIMITER_RECHECK_US	(300 * USECS_PER_SEC)

static bool apply_message(DurableDrive *d, DurableMessage *m);

const DurableMessageKind durable_message_limiter = {
	.name = "limiter",
	.apply = apply_message,
};

/* a history event of the operation about its limiter */
static void
limiter_event(DurableDrive *d, DurableOp *op, const char *event, const char *limiter)
{
	const char *keys[1] = {"limiter"};
	Jsonb	   *values[1];

	values[0] = durable_jsonb_string(limiter);
	durable_storage_history(&d->ex.id, d->ex.run_no, d->ex.owner, event, op,
							durable_jsonb_build(1, keys, values));
}

bool
durable_limiter_acquire(DurableDrive *d, DurableOp **opp, const char *limiter, bool in_place,
						DurableAdvance *next)
{
	DurablePending *p = &d->pending;
	DurableOp  *op = *opp;
	TimestampTz now = durable_clock_now();
	TimestampTz wake_at;
	bool		queued;
	bool		waited;
	DurableLimiterTake t;

	if (op == NULL)
	{
		op = durable_op_create(d, &p->key, p->op_kind, p->name, DOS_PENDING);
		op->attempt = 0;
		*opp = op;
	}
	t = durable_storage_limiter_take(limiter, &d->ex.id, d->ex.run_no, op->op_id,
									 d->ex.owner, now, &wake_at, &queued, &waited);
	if (waited)
		limiter_event(d, op, "limiter_acquired", limiter);
	switch (t)
	{
		case LT_HELD:
			return true;
		case LT_TAKEN:
			if (!in_place)
				return true;
			/* commit the take first; the attempt comes in the next transaction */
			op->quiet = true;
			op->wake_at = now;
			durable_op_mark_dirty(d, op);
			*next = durable_drive_settled(d, op);
			return false;
		case LT_MISSING:
			durable_op_done(d, op, DOS_FAILED, NULL,
							durable_error_new(ERRCODE_DURABLE_LIMITER,
											  psprintf("limiter \"%s\" does not exist", limiter),
											  psprintf("Operation \"%s\" names it in its options; either there is no limiter of that name, or the execution's owner may not use it.",
													   op->name),
											  pstrdup("Create it with durable_limiter_set(), or list the execution's owner in its roles.")));
			*next = durable_drive_settled(d, op);
			return false;
		case LT_WAIT:
			break;
	}
	if (queued)
		limiter_event(d, op, "limiter_waiting", limiter);
	op->quiet = true;
	op->wake_at = wake_at == DT_NOEND ? now + LIMITER_RECHECK_US : wake_at;
	durable_op_mark_dirty(d, op);
	*next = durable_drive_performed(d, op->wake_at, op->name);
	return false;
}

void
durable_limiter_release(DurableDrive *d, DurableOp *op)
{
	durable_storage_limiter_release(&d->ex.id, d->ex.run_no, op->op_id, durable_clock_now());
}

void
durable_limiter_pause(const char *limiter, TimestampTz until)
{
	durable_storage_limiter_pause(limiter, until);
}

/*
 * apply_message
 *		A wake-up: {limiter, run_no, op_id}.  The operation, if it still
 *		waits in that line (or the limiter is gone), is due at once: the
 *		replay meets it and its performer asks for the limiter again.
 */
static bool
apply_message(DurableDrive *d, DurableMessage *m)
{
	char	   *limiter = durable_jsonb_get_text(m->payload, "limiter");
	char	   *run_no = durable_jsonb_get_text(m->payload, "run_no");
	char	   *op_id = durable_jsonb_get_text(m->payload, "op_id");
	HASH_SEQ_STATUS status;
	DurableOp  *op;

	if (limiter == NULL || run_no == NULL || op_id == NULL || atoi(run_no) != d->ex.run_no)
		return false;
	hash_seq_init(&status, d->ops);
	while ((op = hash_seq_search(&status)) != NULL)
	{
		if (op->op_id == atoi(op_id))
		{
			hash_seq_term(&status);
			break;
		}
	}
	if (op == NULL || op->status != DOS_PENDING ||
		!durable_storage_limiter_waiting(limiter, &d->ex.id, d->ex.run_no, op->op_id))
		return false;
	op->quiet = true;
	op->wake_at = durable_clock_now();
	durable_op_mark_dirty(d, op);
	return true;
}
