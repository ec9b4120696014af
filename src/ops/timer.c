/*-------------------------------------------------------------------------
 *
 * timer.c
 *	  durable_wait and durable_wait_until: durable timers.  A timer already
 *	  due is checkpointed as done in the replay itself.
 *
 * IDENTIFICATION
 *	  src/ops/timer.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/timestamp.h"

#include "ops/ops.h"
#include "util/durable_errcodes.h"

const DurableOpKindInfo durable_kind_wait = {
	.name = "wait",
};

/*
 * perform_wait
 *		Starts the timer the replay met: the execution sleeps until it is
 *		due.
 */
static DurableAdvance
perform_wait(DurableDrive *d)
{
	DurablePending *p = &d->pending;
	DurableOp  *op = durable_op_create(d, &p->key, &durable_kind_wait, p->name, DOS_PENDING);

	op->wake_at = *(TimestampTz *) p->args;
	return durable_drive_settled(d, op);
}

/*
 * timer
 *		A timer met by a replay: done when it has fired, else the execution
 *		sleeps until it is due.
 */
static void
timer(DurableDrive *d, const char *name, TimestampTz wake_at)
{
	DurableOpKey key;
	DurableOp  *op;

	op = durable_op_lookup(d, &durable_kind_wait, name, &key);
	if (op == NULL)
	{
		TimestampTz *at;

		durable_op_check_limit(d);
		if (wake_at <= durable_clock_now())
		{
			/* already due: checkpoint it as done, no replay needed */
			op = durable_op_create(d, &key, &durable_kind_wait, name, DOS_SUCCEEDED);
			op->wake_at = wake_at;
			return;
		}
		(void) durable_pending_begin(d, DPK_PERFORM, perform_wait, &durable_kind_wait,
									 &key, NULL, name);
		at = palloc(sizeof(TimestampTz));
		*at = wake_at;
		d->pending.args = at;
		durable_yield(d);
	}

	switch (op->status)
	{
		case DOS_SUCCEEDED:
			return;
		case DOS_PENDING:
			durable_op_sleep(d, op, &key);
			/* due: the timer fired */
			durable_op_fired(d, op);
			return;
		default:
			d->raised_op = op;
			durable_raise_op_error(op->error);
	}
}

/* a wait may not be longer than durable.max_wait */
static void
check_wait_length(int64 us)
{
	if (us > (int64) durable_max_wait * USECS_PER_SEC)
		ereport(ERROR,
				(errcode(ERRCODE_DURABLE_LIMIT_EXCEEDED),
				 errmsg("wait is longer than durable.max_wait"),
				 errdetail("The limit is %d seconds.", durable_max_wait)));
}

PG_FUNCTION_INFO_V1(durable_wait);

/*
 * durable_wait(name text, duration interval) RETURNS void
 */
Datum
durable_wait(PG_FUNCTION_ARGS)
{
	DurableDrive *d = durable_op_enter("durable_wait");
	char	   *name = durable_text_arg(fcinfo, 0, "wait name");
	int64		us;

	durable_check_name("wait name", name);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("wait duration must not be null")));
	us = durable_interval_us(PG_GETARG_INTERVAL_P(1), "wait duration");
	check_wait_length(us);
	timer(d, name, durable_clock_now() + us);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(durable_wait_until);

/*
 * durable_wait_until(name text, at timestamptz) RETURNS void
 */
Datum
durable_wait_until(PG_FUNCTION_ARGS)
{
	DurableDrive *d = durable_op_enter("durable_wait_until");
	char	   *name = durable_text_arg(fcinfo, 0, "wait name");
	TimestampTz at;

	durable_check_name("wait name", name);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("wait time must not be null")));
	at = PG_GETARG_TIMESTAMPTZ(1);
	if (TIMESTAMP_NOT_FINITE(at))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("wait time must be finite")));
	check_wait_length(at - durable_clock_now());
	timer(d, name, at);
	PG_RETURN_VOID();
}
